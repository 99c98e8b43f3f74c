"""A strong-Wolfe line search (Nocedal & Wright, Numerical Optimization, algorithms
3.5 and 3.6): bracket a step that satisfies the Wolfe conditions, then zoom in on
it with safeguarded cubic interpolation.

Invariants: both phases are ``fx.lax.while_loop``s over fixed-shape states, so the
search is traceable (jit, vmap); every trial point costs one ``value_and_grad``
evaluation. On failure the best point found that satisfies sufficient decrease
is returned (step 0 if there is none), with ``failed`` set.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

import fx.numpy as fnp
from fx import lax
from fx.api import value_and_grad


class LineSearchResults(NamedTuple):
    """The outcome of ``line_search``.

    Fields: ``failed`` (bool), ``nit`` (iterations), ``nfev``/``ngev`` (function and
    gradient evaluations), ``k`` (unused, 0), ``a_k`` (the step), ``f_k`` and ``g_k``
    (value and gradient at ``x + a_k p``), ``status`` (0: converged, 1: the bracketing
    phase ran out of iterations, 2: the zoom phase did, 3: no descent direction).
    """
    failed: object
    nit: object
    nfev: object
    ngev: object
    k: object
    a_k: object
    f_k: object
    g_k: object
    status: object


def _cubic_minimizer(a, fa, da, b, fb, db):
    """The minimizer of the cubic through (a, fa, da) and (b, fb, db), NaN if none."""
    d1 = da + db - 3 * (fa - fb) / (a - b)
    disc = d1 * d1 - da * db
    d2 = fnp.sign(b - a) * fnp.sqrt(fnp.maximum(disc, 0))
    step = b - (b - a) * (db + d2 - d1) / (db - da + 2 * d2)
    return fnp.where(disc >= 0, step, np.nan)


def line_search(f: Callable, xk, pk, old_fval=None, old_old_fval=None, gfk=None, c1=1e-4,
                c2=0.9, maxiter: int = 20) -> LineSearchResults:
    """Find a step ``a`` along ``pk`` from ``xk`` satisfying the strong Wolfe conditions.

    Args:
      f: the objective, ``f(x) -> scalar``.
      xk: the current point (1-D).
      pk: a descent direction.
      old_fval, gfk: ``f(xk)`` and its gradient, if already known.
      old_old_fval: the previous iterate's value, used to choose the first step.
      c1, c2: the sufficient-decrease and curvature constants.
      maxiter: the iteration limit of each phase.

    Returns:
      ``LineSearchResults``.

    Example:
      >>> f = lambda x: fx.numpy.sum((x - 1.) ** 2)
      >>> line_search(f, fx.numpy.zeros(2), fx.numpy.ones(2)).a_k
      Array(1., dtype=float32)
    """
    xk, pk = fnp.asarray(xk), fnp.asarray(pk)
    dtype = fnp.result_type(xk, pk)
    xk, pk = xk.astype(dtype), pk.astype(dtype)

    def phi_and_derivative(t):
        value, grad = value_and_grad(f)(xk + t * pk)
        return value, fnp.real(fnp.vdot(grad, pk)), grad

    if old_fval is None or gfk is None:
        phi0, dphi0, g0 = phi_and_derivative(fnp.zeros((), dtype))
    else:
        phi0, g0 = fnp.asarray(old_fval), fnp.asarray(gfk)
        dphi0 = fnp.real(fnp.vdot(g0, pk))
    zero = fnp.zeros((), phi0.dtype)
    one = fnp.ones((), phi0.dtype)
    if old_old_fval is not None:
        guess = 1.01 * 2 * (phi0 - old_old_fval) / dphi0
        start = fnp.where((guess > 0) & fnp.isfinite(guess), fnp.minimum(one, guess), one)
    else:
        start = one
    descent = dphi0 < 0

    def armijo(a, phi_a):
        return phi_a <= phi0 + c1 * a * dphi0

    def curvature(dphi_a):
        return fnp.abs(dphi_a) <= -c2 * dphi0

    # ---- phase 1: find a bracket, or a point that already satisfies the conditions
    # state: i, a_prev, phi_prev, dphi_prev, g_prev, a_cur, done, found, lo/hi bracket,
    #        best (a, phi, g)
    def bracket_cond(s):
        return (s["i"] < maxiter) & ~s["done"]

    def bracket_body(s):
        a = s["a_cur"]
        phi_a, dphi_a, g_a = phi_and_derivative(a)
        too_high = ~armijo(a, phi_a) | ((s["i"] > 0) & (phi_a >= s["phi_prev"]))
        wolfe = ~too_high & curvature(dphi_a)
        rising = ~too_high & ~wolfe & (dphi_a >= 0)
        stop = too_high | wolfe | rising | ~fnp.isfinite(phi_a)
        new = dict(s)
        # bracket (lo, hi): lo has the lower value and satisfies Armijo
        new["lo"] = fnp.where(too_high, s["a_prev"], a)
        new["phi_lo"] = fnp.where(too_high, s["phi_prev"], phi_a)
        new["dphi_lo"] = fnp.where(too_high, s["dphi_prev"], dphi_a)
        new["g_lo"] = fnp.where(too_high, s["g_prev"], g_a)
        new["hi"] = fnp.where(too_high, a, s["a_prev"])
        new["phi_hi"] = fnp.where(too_high, phi_a, s["phi_prev"])
        new["dphi_hi"] = fnp.where(too_high, dphi_a, s["dphi_prev"])
        new["found"] = wolfe
        new["done"] = stop
        new["a_prev"], new["phi_prev"], new["dphi_prev"], new["g_prev"] = a, phi_a, dphi_a, g_a
        new["a_cur"] = fnp.where(stop, a, 2 * a)
        new["i"] = s["i"] + 1
        return new

    init = dict(i=np.int32(0), a_prev=zero, phi_prev=phi0, dphi_prev=dphi0, g_prev=g0,
                a_cur=start, done=~descent, found=fnp.zeros((), bool), lo=zero, phi_lo=phi0,
                dphi_lo=dphi0, g_lo=g0, hi=zero, phi_hi=phi0, dphi_hi=dphi0)
    s = lax.while_loop(bracket_cond, bracket_body, init)
    bracket_evals = s["i"]
    bracket_failed = ~s["done"]

    # ---- phase 2: zoom in on [lo, hi] until a point satisfies both conditions
    def zoom_cond(z):
        return (z["j"] < maxiter) & ~z["found"] & (z["lo"] != z["hi"])

    def zoom_body(z):
        lo, hi = z["lo"], z["hi"]
        width = hi - lo
        trial = _cubic_minimizer(lo, z["phi_lo"], z["dphi_lo"], hi, z["phi_hi"], z["dphi_hi"])
        left, right = fnp.minimum(lo, hi), fnp.maximum(lo, hi)
        margin = 0.1 * fnp.abs(width)
        ok = fnp.isfinite(trial) & (trial > left + margin) & (trial < right - margin)
        a = fnp.where(ok, trial, lo + width / 2)
        phi_a, dphi_a, g_a = phi_and_derivative(a)
        too_high = ~armijo(a, phi_a) | (phi_a >= z["phi_lo"])
        wolfe = ~too_high & curvature(dphi_a)
        flip = ~too_high & ~wolfe & (dphi_a * (hi - lo) >= 0)
        new = dict(z)
        # too high: a becomes hi; otherwise a becomes lo (and the old lo becomes hi on flip)
        new["hi"] = fnp.where(too_high, a, fnp.where(flip, lo, hi))
        new["phi_hi"] = fnp.where(too_high, phi_a, fnp.where(flip, z["phi_lo"], z["phi_hi"]))
        new["dphi_hi"] = fnp.where(too_high, dphi_a,
                                   fnp.where(flip, z["dphi_lo"], z["dphi_hi"]))
        new["lo"] = fnp.where(too_high, lo, a)
        new["phi_lo"] = fnp.where(too_high, z["phi_lo"], phi_a)
        new["dphi_lo"] = fnp.where(too_high, z["dphi_lo"], dphi_a)
        new["g_lo"] = fnp.where(too_high, z["g_lo"], g_a)
        new["found"] = wolfe
        new["j"] = z["j"] + 1
        return new

    need_zoom = s["done"] & ~s["found"] & descent
    zoom_init = dict(j=fnp.where(need_zoom, np.int32(0), np.int32(maxiter)), lo=s["lo"],
                     phi_lo=s["phi_lo"], dphi_lo=s["dphi_lo"], g_lo=s["g_lo"], hi=s["hi"],
                     phi_hi=s["phi_hi"], dphi_hi=s["dphi_hi"], found=s["found"])
    z = lax.while_loop(zoom_cond, zoom_body, zoom_init)
    zoom_evals = fnp.where(need_zoom, z["j"], np.int32(0))
    found = z["found"]
    status = fnp.where(found, 0, fnp.where(~descent, 3, fnp.where(bracket_failed, 1, 2)))
    evals = bracket_evals + zoom_evals
    return LineSearchResults(failed=~found, nit=evals, nfev=evals, ngev=evals,
                             k=np.int32(0), a_k=z["lo"], f_k=z["phi_lo"], g_k=z["g_lo"],
                             status=status.astype(np.int32))
