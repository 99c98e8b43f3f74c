"""Numerical kernels behind ``fx.scipy.special`` that have no primitive of their own:
the normal CDF family (ndtr, log_ndtr, ndtri), betaln, the regularized incomplete
beta function, the dilogarithm (spence) and erfcx (``i0e``/``i1e`` here are the
``bessel_i0e``/``bessel_i1e`` primitives, for this module's callers).

Invariants: every kernel is built from ``fx.lax`` operations (series and continued
fractions run in ``fori_loop``/``while_loop``), so it works under jit and vmap;
each is a ``custom_jvp`` with its analytic derivative, so differentiating never
goes through a loop or an unselected branch. Inputs arrive promoted to one
floating dtype and broadcast to one shape.
"""
from __future__ import annotations

import math

import numpy as np

import fx.numpy as fnp
from fx import lax
from fx.custom_derivatives import SymbolicZero, custom_jvp

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _const(x, value):
    """``value`` as a rank-0 array of ``x``'s dtype."""
    return np.asarray(value, dtype=x.dtype)


def _full(x, value):
    return lax.full_like(x, value)


def _where(cond, a, b):
    return lax.select(cond, a, b)


def _is_f64(x) -> bool:
    return np.dtype(x.dtype) == np.float64


# ---------------------------------------------------------------------------
# the normal distribution: ndtr, log_ndtr, ndtri


def ndtr(x):
    """Standard normal CDF via erf near 0 and erfc in the tails (no cancellation)."""
    w = x * _const(x, math.sqrt(0.5))
    z = lax.abs(w)
    one, two = _full(x, 1), _full(x, 2)
    y = _where(z < _const(x, math.sqrt(0.5)), one + lax.erf(w),
               _where(w > 0, two - lax.erfc(z), lax.erfc(z)))
    return y * _const(x, 0.5)


def _log_ndtr_value(x, series_order: int):
    lower = -20.0 if _is_f64(x) else -10.0
    # x > 0: log1p(-ndtr(-x)) (log(ndtr(x)) would lose the tail to rounding near 1);
    # lower <= x <= 0: log(ndtr(x))
    positive = x > 0
    ndtr_arg = _where(positive, -x, lax.max(x, _full(x, lower)))
    ndtr_value = ndtr(ndtr_arg)
    middle = _where(positive, lax.log1p(-ndtr_value), lax.log(ndtr_value))
    # below: the asymptotic series log(pdf(x) / -x * (1 + sum_n (-1)^n (2n-1)!! / x^2n))
    safe = lax.min(x, _full(x, lower))
    x2 = safe * safe
    series = _full(x, 1.0)
    coefficient = 1.0
    power = _full(x, 1.0)
    for n in range(1, series_order + 1):
        coefficient *= -(2 * n - 1)
        power = power * x2
        series = series + _const(x, coefficient) / power
    below = -x2 / 2 - lax.log(-safe) - _const(x, _LOG_SQRT_2PI) + lax.log(series)
    return _where(x < _const(x, lower), below, middle)


def _log_ndtr_jvp(series_order, primals, tangents):
    (x,), (t,) = primals, tangents
    out = log_ndtr(x, series_order)
    # d/dx log Phi(x) = phi(x) / Phi(x)
    slope = lax.exp(-x * x / 2 - _const(x, _LOG_SQRT_2PI) - out)
    return out, t * slope


log_ndtr = custom_jvp(_log_ndtr_value, nondiff_argnums=(1,))
log_ndtr.defjvp(_log_ndtr_jvp)


def _ndtri_value(p):
    """Solve Phi(z) = p: a starting point from erf_inv (centre) or the tail asymptote,
    refined by Newton steps on log Phi(z) = log q, with q = min(p, 1 - p)."""
    upper_half = p > _const(p, 0.5)
    q = _where(upper_half, _full(p, 1) - p, p)  # exact for p >= 0.5 (Sterbenz)
    valid = (q > 0) & (q <= _const(p, 0.5))
    q_safe = _where(valid, q, _full(p, 0.25))
    log_q = lax.log(q_safe)
    centre = _const(p, math.sqrt(2)) * lax.erf_inv(q_safe * 2 - 1)
    t = lax.sqrt(_const(p, -2) * log_q)
    tail = -lax.sqrt(lax.max(t * t - lax.log(t * t) - _const(p, math.log(2 * math.pi)),
                             _full(p, 0.0)))
    z = _where(q_safe < _const(p, 0.02), tail, centre)
    for _ in range(3 if _is_f64(p) else 2):
        log_phi = _log_ndtr_value(z, 3)
        # Newton on g(z) = log Phi(z) - log q, g'(z) = phi(z) / Phi(z)
        step = (log_phi - log_q) * lax.exp(log_phi + z * z / 2 + _const(p, _LOG_SQRT_2PI))
        z = z - step
    z = _where(upper_half, -z, z)
    z = _where(p == 0, _full(p, -np.inf), z)
    z = _where(p == 1, _full(p, np.inf), z)
    return _where((p < 0) | (p > 1) | (p != p), _full(p, np.nan), z)


ndtri = custom_jvp(_ndtri_value)
ndtri.defjvps(lambda t, z, p: t * lax.exp(z * z / 2 + _const(p, _LOG_SQRT_2PI)))


# ---------------------------------------------------------------------------
# betaln


def _stirling_correction(x):
    """lgamma(x) - [(x - 1/2) log x - x + log(2 pi)/2] for x >= 8 (the Stirling series)."""
    r = 1 / x
    r2 = r * r
    terms = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360)
    acc = _full(x, terms[-1])
    for c in terms[-2::-1]:
        acc = acc * r2 + _const(x, c)
    return acc * r


def betaln(a, b):
    """log|B(a, b)|, with the large-argument cancellation of lgamma handled by Stirling's
    series (p = min(a, b), q = max(a, b))."""
    p, q = lax.min(a, b), lax.max(a, b)
    big = _const(a, 8.0)
    direct = lax.lgamma(p) + lax.lgamma(q) - lax.lgamma(p + q)
    # q large, p small: lgamma(q) - lgamma(p + q) by Stirling
    q_s = lax.max(q, big)
    s_mixed = p + q_s
    mixed = (lax.lgamma(p) + _stirling_correction(q_s) - _stirling_correction(s_mixed)
             - (q_s - _const(a, 0.5)) * lax.log1p(p / q_s) - p * lax.log(s_mixed) + p)
    # both large
    p_s = lax.max(p, big)
    s = p_s + q_s
    both = (_const(a, _LOG_SQRT_2PI) - _const(a, 0.5) * lax.log(q_s)
            + (p_s - _const(a, 0.5)) * lax.log(p_s / s) + q_s * lax.log1p(-p_s / s)
            + _stirling_correction(p_s) + _stirling_correction(q_s)
            - _stirling_correction(s))
    return _where(q < big, direct, _where(p < big, mixed, both))


# ---------------------------------------------------------------------------
# regularized incomplete beta function


def _betainc_cf(a, b, x):
    """The continued fraction of I_x(a, b) (modified Lentz), for x < (a + 1)/(a + b + 2)."""
    tiny = _const(x, np.finfo(x.dtype).tiny * 16)
    eps = _const(x, np.finfo(x.dtype).eps)
    max_iter = 300 if _is_f64(x) else 150
    one = _full(x, 1)

    def clamp(v):
        return _where(lax.abs(v) < tiny, _full(x, tiny), v)

    c0 = one
    d0 = 1 / clamp(one - (a + b) * x / (a + 1))

    def cond(state):
        m, _, _, _, done = state
        return (m <= max_iter) & ~fnp.all(done)

    def body(state):
        m, f, c, d, done = state
        mf = lax.convert_element_type(m, x.dtype)
        two_m = mf * 2
        even = mf * (b - mf) * x / ((a + two_m - 1) * (a + two_m))
        d = 1 / clamp(one + even * d)
        c = clamp(one + even / c)
        f_new = f * c * d
        odd = -(a + mf) * (a + b + mf) * x / ((a + two_m) * (a + two_m + 1))
        d = 1 / clamp(one + odd * d)
        c = clamp(one + odd / c)
        delta = c * d
        f_new = f_new * delta
        f = _where(done, f, f_new)
        done = done | (lax.abs(delta - 1) < eps)
        return m + 1, f, c, d, done

    init = (np.int32(1), d0, c0, d0, lax.full_like(x, False, dtype=np.bool_))
    _, f, _, _, _ = lax.while_loop(cond, body, init)
    return f


def _betainc_value(a, b, x):
    swap = x > (a + 1) / (a + b + 2)
    aa, bb = _where(swap, b, a), _where(swap, a, b)
    xx = _where(swap, _full(x, 1) - x, x)
    interior = (x > 0) & (x < 1) & (a > 0) & (b > 0)
    safe_x = _where(interior, xx, _full(x, 0.5))
    safe_a, safe_b = _where(interior, aa, _full(a, 1)), _where(interior, bb, _full(b, 1))
    log_front = (safe_a * lax.log(safe_x) + safe_b * lax.log1p(-safe_x)
                 - betaln(safe_a, safe_b) - lax.log(safe_a))
    value = lax.exp(log_front) * _betainc_cf(safe_a, safe_b, safe_x)
    value = _where(swap, _full(x, 1) - value, value)
    ends = _where(x <= 0, _full(x, 0), _full(x, 1))
    out = _where(interior, value, ends)
    bad = (x < 0) | (x > 1) | (a < 0) | (b < 0) | ((a == 0) & (b == 0)) | (x != x) | \
        (a != a) | (b != b)
    # a = 0 (b > 0): a point mass at 0; b = 0 (a > 0): a point mass at 1
    out = _where((a == 0) & (b > 0) & (x >= 0) & (x <= 1), _full(x, 1), out)
    out = _where((b == 0) & (a > 0) & (x >= 0) & (x < 1), _full(x, 0), out)
    return _where(bad, _full(x, np.nan), out)


betainc = custom_jvp(_betainc_value)


def _betainc_jvp(primals, tangents):
    a, b, x = primals
    ta, tb, tx = tangents
    if not isinstance(ta, SymbolicZero) or not isinstance(tb, SymbolicZero):
        raise ValueError("Betainc gradient with respect to a and b not supported.")
    out = betainc(a, b, x)
    if isinstance(tx, SymbolicZero):
        return out, lax.full_like(out, 0)
    density = lax.exp((a - 1) * lax.log(x) + (b - 1) * lax.log1p(-x) - betaln(a, b))
    return out, tx * density


betainc.defjvp(_betainc_jvp, symbolic_zeros=True)


# ---------------------------------------------------------------------------
# exponentially scaled modified Bessel functions of order 0 and 1


def i0e(x):
    """``exp(-|x|) I0(x)``: the ``bessel_i0e`` primitive (``lax.bessel_i0e``, compiled
    natively by lowering/cpu/special_math.py), for this module's callers."""
    return lax.bessel_i0e(x)


def i1e(x):
    """``exp(-|x|) I1(x)``: the ``bessel_i1e`` primitive (``lax.bessel_i1e``)."""
    return lax.bessel_i1e(x)


# ---------------------------------------------------------------------------
# spence (the dilogarithm, SciPy's convention: spence(x) = Li2(1 - x))


def _li2_series(w):
    """Li2(w) = sum_k w^k / k^2 for |w| <= 1/2."""
    def body(k, state):
        power, total = state
        kf = lax.convert_element_type(k, w.dtype)
        power = power * w
        return power, total + power / (kf * kf)

    _, total = lax.fori_loop(1, 60, body, (_full(w, 1.0), _full(w, 0.0)))
    return total


def _spence_small(y):
    """spence(y) for 0 <= y <= 3/2: the series in 1 - y, or the reflection formula
    spence(y) = pi^2/6 - log(y) log(1 - y) - Li2(y) for y < 1/2."""
    near_one = y >= _const(y, 0.5)
    w = _where(near_one, _full(y, 1) - y, y)
    series = _li2_series(w)
    safe_y = _where((y > 0) & ~near_one, y, _full(y, 0.25))
    reflected = _const(y, math.pi ** 2 / 6) - lax.log(safe_y) * lax.log1p(-safe_y) - series
    reflected = _where(y == 0, _full(y, math.pi ** 2 / 6), reflected)
    return _where(near_one, series, reflected)


def _spence_value(x):
    large = x > _const(x, 1.5)
    safe_x = _where(large, x, _full(x, 2.0))
    inverted = -_spence_small(1 / safe_x) - lax.log(safe_x) ** 2 / 2
    small = _spence_small(_where(large | (x < 0), _full(x, 1.0), x))
    out = _where(large, inverted, small)
    return _where((x < 0) | (x != x), _full(x, np.nan), out)


def _spence_slope(x):
    # d/dx spence(x) = log(x) / (1 - x), -1 at x = 1
    at_one = x == 1
    safe_x = _where(at_one, _full(x, 2.0), x)
    return _where(at_one, _full(x, -1.0), lax.log(safe_x) / (1 - safe_x))


spence = custom_jvp(_spence_value)
spence.defjvps(lambda t, y, x: t * _spence_slope(x))


# ---------------------------------------------------------------------------
# erfcx = exp(x^2) erfc(x)


def _erfcx_value(x):
    cut = _const(x, 2.0)
    big_x = lax.max(x, cut)

    def body(i, t):
        n = lax.convert_element_type(60 - i, x.dtype)
        return big_x + n / 2 / t

    # the continued fraction 1 / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...)))), from the back
    cf = lax.fori_loop(0, 60, body, big_x)
    big = 1 / (cf * _const(x, math.sqrt(math.pi)))
    small_x = lax.min(x, cut)
    small = lax.exp(small_x * small_x) * lax.erfc(small_x)
    return _where(x >= cut, big, small)


def _erfcx_slope(y, x):
    return 2 * x * y - _const(x, 2 / math.sqrt(math.pi))


erfcx = custom_jvp(_erfcx_value)
erfcx.defjvps(lambda t, y, x: t * _erfcx_slope(y, x))
