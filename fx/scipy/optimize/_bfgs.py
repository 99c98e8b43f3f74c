"""BFGS (Nocedal & Wright, algorithm 6.1) with a strong-Wolfe line search.

Invariants: the iteration is one ``fx.lax.while_loop`` over a fixed-shape state
(point, value, gradient, inverse-Hessian approximation, counters), so
``minimize_bfgs`` runs under jit and vmap; the inverse-Hessian update is skipped
when the curvature ``y^T s`` is not positive and finite.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

import fx.numpy as fnp
from fx import lax
from fx.api import value_and_grad
from fx.scipy.optimize._line_search import line_search


class _BFGSResults(NamedTuple):
    converged: object
    failed: object
    k: object
    nfev: object
    ngev: object
    nhev: object
    x_k: object
    f_k: object
    g_k: object
    H_k: object
    old_old_fval: object
    status: object
    line_search_status: object


def _norm(g, order):
    if order == np.inf:
        return fnp.max(fnp.abs(g))
    if order == -np.inf:
        return fnp.min(fnp.abs(g))
    if order == 2:
        return fnp.sqrt(fnp.sum(g * g))
    return fnp.sum(fnp.abs(g) ** order) ** (1.0 / order)


def minimize_bfgs(fun: Callable, x0, maxiter: int | None = None, norm=np.inf,
                  gtol: float = 1e-5, line_search_maxiter: int = 10) -> _BFGSResults:
    """Minimize ``fun`` from ``x0`` by BFGS.

    Args:
      fun: a scalar function of a 1-D array.
      x0: the starting point (1-D).
      maxiter: the iteration limit (default ``200 * x0.size``).
      norm: the order of the gradient norm tested against ``gtol``.
      gtol: stop when the gradient norm falls below this.
      line_search_maxiter: the iteration limit of each line-search phase.

    Returns:
      The final state: ``x_k``, ``f_k``, ``g_k``, ``H_k`` (the inverse-Hessian
      approximation), counters and ``status`` (0: converged, 1: maxiter reached,
      2 + the line search's status: the line search failed).
    """
    x0 = fnp.asarray(x0)
    if x0.ndim != 1:
        raise ValueError(f"minimize: x0 must be one-dimensional, got shape {x0.shape}")
    if maxiter is None:
        maxiter = int(np.size(x0)) * 200
    d = x0.shape[0]
    f0, g0 = value_and_grad(fun)(x0)
    state = _BFGSResults(
        converged=_norm(g0, norm) < gtol, failed=fnp.zeros((), bool), k=np.int32(0),
        nfev=np.int32(1), ngev=np.int32(1), nhev=np.int32(0), x_k=x0, f_k=f0, g_k=g0,
        H_k=fnp.eye(d, dtype=x0.dtype), old_old_fval=f0 + fnp.sqrt(fnp.sum(g0 * g0)) / 2,
        status=np.int32(0), line_search_status=np.int32(0))

    def cond(s):
        return ~s.converged & ~s.failed & (s.k < maxiter)

    def body(s):
        p = -(s.H_k @ s.g_k)
        ls = line_search(fun, s.x_k, p, old_fval=s.f_k, old_old_fval=s.old_old_fval,
                         gfk=s.g_k, maxiter=line_search_maxiter)
        step = ls.a_k * p
        x_new = s.x_k + step
        y = ls.g_k - s.g_k
        curvature = fnp.vdot(y, step)
        rho = 1 / curvature
        eye = fnp.eye(d, dtype=rho.dtype)
        w = eye - rho * fnp.outer(step, y)
        h_new = w @ s.H_k @ w.T + rho * fnp.outer(step, step)
        h_new = fnp.where(fnp.isfinite(rho) & (curvature > 0), h_new, s.H_k)
        return s._replace(
            converged=_norm(ls.g_k, norm) < gtol, failed=ls.failed, k=s.k + 1,
            nfev=s.nfev + ls.nfev, ngev=s.ngev + ls.ngev, x_k=x_new, f_k=ls.f_k, g_k=ls.g_k,
            H_k=h_new, old_old_fval=s.f_k, line_search_status=ls.status)

    state = lax.while_loop(cond, body, state)
    status = fnp.where(state.converged, 0, fnp.where(
        state.k == maxiter, 1, fnp.where(state.failed, 2 + state.line_search_status, -1)))
    return state._replace(status=status.astype(np.int32))
