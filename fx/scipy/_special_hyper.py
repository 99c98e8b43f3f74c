"""Hypergeometric functions and Owen's T for ``fx.scipy.special``: ``hyp1f1``,
``hyp2f1``, ``owens_t``.

Invariants: the hypergeometric series run in one ``lax.while_loop`` per call that stops
when every element has converged (or at a fixed cap), accumulating the parameter
derivatives alongside the value, so each function is a ``custom_jvp`` with exact
derivatives in every argument; Kummer's and Pfaff's transformations keep the series
argument non-negative. Owen's T is a fixed Gauss-Legendre quadrature. Narrow floats
compute in float32; results are strongly typed, as in JAX.
"""
from __future__ import annotations

import math

import numpy as np

import fx.numpy as fnp
from fx import lax
from fx.custom_derivatives import custom_jvp
from fx.scipy import _special_numerics as _num
from fx.scipy import _special_util as _util

__all__ = ["hyp1f1", "hyp2f1", "owens_t"]


def _c(x, value):
    return np.asarray(value, dtype=x.dtype)


def _full(x, value):
    return lax.full_like(x, value)


def _f64(x) -> bool:
    return np.dtype(x.dtype) == np.float64


def _prepare(name: str, *args):
    arrays = _util.promote_inexact(name, *args)
    out_dtype = arrays[0].dtype
    work = _util.compute_dtype(out_dtype)
    return [lax._convert_element_type(a, work, False) for a in arrays], out_dtype


def _finish(out, dtype):
    return lax._convert_element_type(out, dtype, False)


def _is_nonpositive_integer(v):
    return (v <= 0) & (v == lax.floor(v))


def _series(uppers, lowers, z, max_terms: int):
    """sum_k prod (u)_k / prod (l)_k z^k / k! and its derivatives with respect to each
    upper and lower parameter: (value, [d/du...], [d/dl...])."""
    eps = _c(z, np.finfo(z.dtype).eps / 4)
    zero, one = _full(z, 0.0), _full(z, 1.0)
    n_up, n_low = len(uppers), len(lowers)

    def cond(state):
        k, done = state[0], state[1]
        return (k < max_terms) & ~fnp.all(done)

    def body(state):
        k, done, term, total, harmonics, grads = state
        kf = lax.convert_element_type(k, z.dtype)
        # the derivative of log (p)_k with respect to p is sum_{j<k} 1/(p + j)
        grads = [g + term * h for g, h in zip(grads, harmonics, strict=True)]
        shifted_up = [u + kf for u in uppers]
        shifted_low = [v + kf for v in lowers]
        safe = [lax.select(s == 0, one, s) for s in shifted_up + shifted_low]
        harmonics = ([h + 1 / s for h, s in zip(harmonics[:n_up], safe[:n_up], strict=True)]
                     + [h - 1 / s for h, s in zip(harmonics[n_up:], safe[n_up:],
                                                   strict=True)])
        ratio = z / (kf + 1)
        for s in shifted_up:
            ratio = ratio * s
        for s in shifted_low:
            ratio = ratio / s
        new_term = term * ratio
        new_total = total + new_term
        small = lax.abs(new_term) <= eps * lax.abs(new_total)
        # stop once terms are tiny and shrinking (past the hump of the series)
        shrinking = lax.abs(ratio) < 1
        finished = done | ((small | (new_term == 0)) & shrinking) | (new_total != new_total)
        total = lax.select(done, total, new_total)
        term = lax.select(done, term, new_term)
        return k + 1, finished, term, total, harmonics, grads

    init = (np.int32(0), lax.full_like(z, False, dtype=np.bool_), one, one,
            [zero] * (n_up + n_low), [zero] * (n_up + n_low))
    _, _, _, total, _, grads = lax.while_loop(cond, body, init)
    return total, grads[:n_up], grads[n_up:]


# ---------------------------------------------------------------------------
# 1F1


def _max_terms(x) -> int:
    return 4000 if _f64(x) else 2000


def _hyp1f1_all(a, b, x):
    """(M, dM/da, dM/db) with Kummer's transformation for x < 0."""
    negative = x < 0
    a_s = lax.select(negative, b - a, a)
    value, (d_first,), (d_b,) = _series([a_s], [b], lax.abs(x), _max_terms(x))
    scale = lax.select(negative, lax.exp(x), _full(x, 1.0))
    da = lax.select(negative, -d_first, d_first) * scale
    db = lax.select(negative, d_first + d_b, d_b) * scale
    out = value * scale
    both_zero = (a == 0) & (b == 0)
    out = lax.select(both_zero, _full(x, 1.0), out)
    pole = _is_nonpositive_integer(b) & ~both_zero & ~(_is_nonpositive_integer(a) & (a > b))
    out = lax.select(pole, _full(x, np.inf), out)
    return out, da, db


def _hyp1f1_value(a, b, x):
    return _hyp1f1_all(a, b, x)[0]


def _hyp1f1_jvp(primals, tangents):
    a, b, x = primals
    ta, tb, tx = tangents
    out, da, db = _hyp1f1_all(a, b, x)
    safe_b = lax.select(b == 0, _full(b, 1.0), b)
    dx = a / safe_b * _hyp1f1(a + 1, b + 1, x)
    return out, ta * da + tb * db + tx * dx


_hyp1f1 = custom_jvp(_hyp1f1_value)
_hyp1f1.defjvp(_hyp1f1_jvp)


def hyp1f1(a, b, x):
    """Kummer's confluent hypergeometric function
    ``1F1(a; b; x) = sum_k (a)_k / (b)_k x^k / k!``.

    Real arguments; x < 0 uses Kummer's transformation ``e^x 1F1(b-a; b; -x)``.
    ``1F1(0; 0; x) = 1`` (JAX's convention). Large |x| with float32 may overflow, as in
    JAX. Differentiable in all three arguments.

    Args:
      a, b, x: real arrays (broadcast together).

    Returns:
      The function values in the promoted inexact dtype.

    Example:
      >>> fx.scipy.special.hyp1f1(1., 2., 1.)
      Array(1.7182816, dtype=float32)
    """
    (a, b, x), dtype = _prepare("hyp1f1", a, b, x)
    return _finish(_hyp1f1(a, b, x), dtype)


# ---------------------------------------------------------------------------
# 2F1


def _hyp2f1_all(a, b, c, x):
    """(F, dF/da, dF/db, dF/dc) for x <= 1: the series for 0 <= x < 1 (and for
    terminating series at any x), Pfaff's transformation
    (1-x)^-a 2F1(a, c-b; c; x/(x-1)) for x < 0, Gauss's theorem at x = 1."""
    polynomial = _is_nonpositive_integer(a) | _is_nonpositive_integer(b)
    pfaff = (x < 0) & ~polynomial
    x_ok = lax.select((x < 1) | polynomial, x, _full(x, 0.0))
    one_minus = 1 - lax.select(pfaff, x_ok, _full(x, 0.0))
    z = lax.select(pfaff, x_ok / (x_ok - 1), x_ok)
    b_s = lax.select(pfaff, c - b, b)
    value, (d_a, d_b), (d_c,) = _series([a, b_s], [c], z, _max_terms(x))
    scale = lax.exp(-a * lax.log(one_minus))
    out = value * scale
    da = (d_a - lax.log(one_minus) * value) * scale
    db = lax.select(pfaff, -d_b, d_b) * scale
    dc = lax.select(pfaff, d_b + d_c, d_c) * scale
    # x = 1: Gamma(c) Gamma(c-a-b) / (Gamma(c-a) Gamma(c-b)), for c > a + b
    s = c - a - b
    s_ok = lax.select(s > 0, s, _full(s, 1.0))
    log_gauss = (lax.lgamma(c) + lax.lgamma(s_ok) - lax.lgamma(c - a) - lax.lgamma(c - b))
    sign = (_sign_gamma(c) * _sign_gamma(s_ok) * _sign_gamma(c - a) * _sign_gamma(c - b))
    gauss = sign * lax.exp(log_gauss)
    psi_s = lax.digamma(s_ok)
    at_one = (x == 1) & ~polynomial
    gauss_ok = at_one & (s > 0)
    out = lax.select(gauss_ok, gauss, out)
    da = lax.select(gauss_ok, gauss * (lax.digamma(c - a) - psi_s), da)
    db = lax.select(gauss_ok, gauss * (lax.digamma(c - b) - psi_s), db)
    dc = lax.select(gauss_ok, gauss * (lax.digamma(c) + psi_s - lax.digamma(c - a)
                                       - lax.digamma(c - b)), dc)
    diverges = ((x > 1) | (at_one & (s <= 0))) & ~polynomial
    diverges = diverges | (_is_nonpositive_integer(c) & ~polynomial)
    out = lax.select(diverges, _full(x, np.inf), out)
    return out, da, db, dc


def _sign_gamma(v):
    negative_odd = (v < 0) & (lax.rem(lax.floor(v), _full(v, 2.0)) != 0)
    return lax.select(negative_odd, _full(v, -1.0), _full(v, 1.0))


def _hyp2f1_value(a, b, c, x):
    return _hyp2f1_all(a, b, c, x)[0]


def _hyp2f1_jvp(primals, tangents):
    a, b, c, x = primals
    ta, tb, tc, tx = tangents
    out, da, db, dc = _hyp2f1_all(a, b, c, x)
    safe_c = lax.select(c == 0, _full(c, 1.0), c)
    dx = a * b / safe_c * _hyp2f1(a + 1, b + 1, c + 1, x)
    return out, ta * da + tb * db + tc * dc + tx * dx


_hyp2f1 = custom_jvp(_hyp2f1_value)
_hyp2f1.defjvp(_hyp2f1_jvp)


def hyp2f1(a, b, c, x):
    """The Gauss hypergeometric function
    ``2F1(a, b; c; x) = sum_k (a)_k (b)_k / (c)_k x^k / k!``.

    Real arguments with x <= 1 (x < 0 through Pfaff's transformation, x = 1 by Gauss's
    theorem; inf where the series diverges, as SciPy); terminating series (a or b a
    non-positive integer) for any x. Convergence slows as x/(x-1) or x approaches 1.
    Differentiable in all four arguments.

    Args:
      a, b, c, x: real arrays (broadcast together).

    Returns:
      The function values in the promoted inexact dtype.

    Example:
      >>> fx.scipy.special.hyp2f1(1., 1., 2., 0.5)
      Array(1.3862946, dtype=float32)
    """
    (a, b, c, x), dtype = _prepare("hyp2f1", a, b, c, x)
    return _finish(_hyp2f1(a, b, c, x), dtype)


# ---------------------------------------------------------------------------
# Owen's T


_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(48)


def _owens_t_unit(h, a):
    """T(h, a) for h >= 0 and 0 <= a <= 1 by Gauss-Legendre quadrature of
    e^(-h^2/2)/(2 pi) integral_0^a e^(-h^2 t^2/2)/(1 + t^2) dt, in t for h <= 1 and in
    u = h t (cut where e^(-u^2/2) vanishes) for h > 1."""
    nodes = (_GL_NODES + 1) / 2
    weights = _GL_WEIGHTS / 2
    nodes_c = nodes.astype(h.dtype)
    weights_c = weights.astype(h.dtype)
    big_h = h > 1
    h_safe = lax.select(big_h, h, _full(h, 1.0))
    u_max = lax.min(a * h_safe, _c(h, 12.0 if _f64(h) else 7.0))
    length = lax.select(big_h, u_max / h_safe, a)  # the t-interval actually integrated
    t = fnp.expand_dims(length, -1) * nodes_c
    hh = fnp.expand_dims(h * h, -1)
    integrand = lax.exp(-hh * t * t / 2) / (1 + t * t)
    integral = fnp.sum(integrand * weights_c, axis=-1) * length
    return lax.exp(-h * h / 2) * integral * _c(h, 1 / (2 * math.pi))


def _owens_t_value(h, a):
    ah = lax.abs(h)
    aa = lax.abs(a)
    wide = aa > 1
    finite_a = aa != np.inf
    inv = lax.select(wide & finite_a, 1 / lax.select(wide, aa, _full(a, 1.0)), _full(a, 0.0))
    direct = _owens_t_unit(ah, lax.select(wide, _full(a, 0.0), aa))
    # a > 1: T(h, a) = (Phi(h) Q(ah) + Phi(ah) Q(h)) / 2 - T(ah, 1/a), Q = 1 - Phi
    aah = lax.select(finite_a, aa * ah, lax.select(ah == 0, _full(h, 0.0), _full(h, np.inf)))
    phi_h, q_h = _num.ndtr(ah), _num.ndtr(-ah)
    phi_ah, q_ah = _num.ndtr(aah), _num.ndtr(-aah)
    reflected = (phi_h * q_ah + phi_ah * q_h) / 2 - _owens_t_unit(
        lax.select(aah == np.inf, _full(h, 0.0), aah), inv)
    out = lax.select(wide, reflected, direct)
    out = lax.select(ah == np.inf, _full(h, 0.0), out)
    out = lax.select((ah == 0) & ~finite_a, _full(h, 0.25), out)
    out = lax.select(a < 0, -out, out)
    return lax.select((h != h) | (a != a), _full(h, np.nan), out)


def _owens_t_jvp(primals, tangents):
    h, a = primals
    th, ta = tangents
    out = _owens_t(h, a)
    # dT/dh = -phi(h) erf(a h / sqrt 2) / 2, dT/da = e^(-h^2 (1 + a^2)/2) / (2 pi (1 + a^2))
    density = lax.exp(-h * h / 2) * _c(h, 1 / math.sqrt(2 * math.pi))
    dh = -density * lax.erf(a * h * _c(h, math.sqrt(0.5))) / 2
    one_a2 = 1 + a * a
    da = lax.exp(-h * h * one_a2 / 2) / (one_a2 * _c(h, 2 * math.pi))
    return out, th * dh + ta * da


_owens_t = custom_jvp(_owens_t_value)
_owens_t.defjvp(_owens_t_jvp)


def owens_t(h, a):
    """Owen's T function,
    ``T(h, a) = 1/(2 pi) integral_0^a exp(-h^2 (1 + x^2)/2) / (1 + x^2) dx``.

    Args:
      h, a: real arrays (broadcast together).

    Returns:
      ``T(h, a)`` in the promoted inexact dtype.

    Example:
      >>> fx.scipy.special.owens_t(1., 0.5)
      Array(0.04306469, dtype=float32)
    """
    (h, a), dtype = _prepare("owens_t", h, a)
    return _finish(_owens_t(h, a), dtype)
