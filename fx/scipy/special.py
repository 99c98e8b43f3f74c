"""``fx.scipy.special``: JAX's ``jax.scipy.special`` (SciPy's special functions).

Invariants: arguments are promoted together to an inexact dtype (JAX's
``promote_args_inexact``: integers become the default float, Python scalars stay
weak) and broadcast; every function is built from ``fx.lax`` operations, so it
works under grad, vmap and jit. Functions with kinks or removable singularities
(xlogy, logit, ...) carry custom derivatives that match JAX's.
"""
from __future__ import annotations

import math
import operator
from fractions import Fraction

import numpy as np

import fx.numpy as fnp
from fx import core, dtypes, lax
from fx.custom_derivatives import custom_jvp
from fx.nn.functions import log_softmax as _nn_log_softmax
from fx.nn.functions import logsumexp  # noqa: F401  (the same function as fx.nn.logsumexp)
from fx.nn.functions import softmax as _nn_softmax
from fx.scipy import _special_numerics as _num
from fx.scipy import _special_util as _util
from fx.scipy._special_expint import dawsn, exp1, expi, expn, fresnel, sici  # noqa: F401
from fx.scipy._special_hyper import hyp1f1, hyp2f1, owens_t  # noqa: F401
from fx.scipy._special_waves import bessel_jn, sph_harm_y, wofz  # noqa: F401

__all__ = [
    "bernoulli", "bessel_jn", "beta", "betainc", "betaln", "boxcox", "boxcox1p", "comb",
    "dawsn", "digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp1", "expi", "expit",
    "expn", "factorial", "fresnel", "gamma", "gammainc", "gammaincc", "gammaln", "gammasgn",
    "hyp1f1", "hyp2f1", "i0", "i0e", "i1", "i1e", "kl_div", "log_ndtr", "log_softmax",
    "loggamma", "logit", "logsumexp", "multigammaln", "ndtr", "ndtri", "owens_t", "poch",
    "polygamma", "rel_entr", "sici", "softmax", "spence", "sph_harm_y", "wofz", "xlog1py",
    "xlogy", "zeta",
]

_SCALARS = _util.SCALARS
_check_arraylike = _util.check_arraylike
_promote_inexact = _util.promote_inexact
_require_float32_or_64 = _util.require_float32_or_64
_is_weak = _util.is_weak
_weak_like_inputs = _util.weak_like_inputs


def _full(x, value):
    return lax.full_like(x, value)


# ---------------------------------------------------------------------------
# error function and the normal distribution


def erf(x):
    """The error function, ``2/sqrt(pi) * integral_0^x exp(-t^2) dt``.

    Example:
      >>> fx.scipy.special.erf(0.5)
      Array(0.5204999, dtype=float32, weak_type=True)
    """
    return lax.erf(_promote_inexact("erf", x))


def erfc(x):
    """The complementary error function, ``1 - erf(x)``.

    Example:
      >>> fx.scipy.special.erfc(0.5)
      Array(0.47950011, dtype=float32, weak_type=True)
    """
    return lax.erfc(_promote_inexact("erfc", x))


def erfinv(x):
    """The inverse of ``erf`` on (-1, 1).

    Example:
      >>> fx.scipy.special.erfinv(0.5)
      Array(0.47693628, dtype=float32, weak_type=True)
    """
    return lax.erf_inv(_promote_inexact("erfinv", x))


def erfcx(x):
    """The scaled complementary error function, ``exp(x**2) * erfc(x)`` (accurate for
    large x, where the product would underflow).

    Example:
      >>> fx.scipy.special.erfcx(10.)
      Array(0.05614099, dtype=float32)
    """
    return _num.erfcx(_promote_inexact("erfcx", x))


def ndtr(x):
    """The standard normal CDF, ``(1 + erf(x / sqrt(2))) / 2`` (float32/float64 only).

    Example:
      >>> fx.scipy.special.ndtr(0.)
      Array(0.5, dtype=float32)
    """
    return _num.ndtr(_require_float32_or_64("ndtr", x))


def ndtri(p):
    """The inverse of ``ndtr``: the z with ``ndtr(z) = p`` (float32/float64 only).

    Returns -inf at 0, inf at 1 and NaN outside [0, 1].

    Example:
      >>> fx.scipy.special.ndtri(0.975)
      Array(1.9599644, dtype=float32)
    """
    return _num.ndtri(_require_float32_or_64("ndtri", p))


def log_ndtr(x, series_order: int = 3):
    """``log(ndtr(x))``, accurate far into both tails (float32/float64 only).

    Args:
      x: input array.
      series_order: terms of the asymptotic series used for very negative x (0-30).

    Example:
      >>> fx.scipy.special.log_ndtr(-20.)
      Array(-203.91716, dtype=float32)
    """
    if not isinstance(series_order, int) or isinstance(series_order, bool):
        raise TypeError(f"series_order must be a Python integer, got {series_order!r}.")
    if series_order < 0:
        raise ValueError(f"series_order must be non-negative, got {series_order}.")
    if series_order > 30:
        raise ValueError(f"series_order must be <= 30, got {series_order}.")
    return _num.log_ndtr(_require_float32_or_64("log_ndtr", x), series_order)


# ---------------------------------------------------------------------------
# logistic


def expit(x):
    """The logistic sigmoid, ``1 / (1 + exp(-x))``.

    Example:
      >>> fx.scipy.special.expit(0.)
      Array(0.5, dtype=float32, weak_type=True)
    """
    return lax.logistic(_promote_inexact("expit", x, allow_complex=True))


@custom_jvp
def _logit(x):
    return lax.log(lax.div(x, lax.sub(_full(x, 1), x)))


_logit.defjvps(lambda t, ans, x: lax.div(t, lax.mul(x, lax.sub(_full(x, 1), x))))


@_weak_like_inputs
def logit(x):
    """The inverse of ``expit``, ``log(x / (1 - x))``.

    Example:
      >>> fx.scipy.special.logit(0.5)
      Array(0., dtype=float32, weak_type=True)
    """
    return _logit(_promote_inexact("logit", x))


# ---------------------------------------------------------------------------
# gamma family


def gammaln(x):
    """``log|Gamma(x)|``.

    Example:
      >>> fx.scipy.special.gammaln(5.)
      Array(3.1780539, dtype=float32, weak_type=True)
    """
    return lax.lgamma(_promote_inexact("gammaln", x))


def loggamma(x):
    """The principal branch of ``log(Gamma(x))`` for real x: ``gammaln`` for x > 0, NaN
    for x <= 0 (complex inputs are not supported).

    Example:
      >>> fx.scipy.special.loggamma(5.)
      Array(3.1780539, dtype=float32, weak_type=True)
    """
    x = _promote_inexact("loggamma", x)
    return fnp.where(x > 0, lax.lgamma(x), np.nan)


def gammasgn(x):
    """The sign of ``Gamma(x)``: 1 or -1; NaN at the poles (0 gives +-1 by the sign of
    the zero), at -inf and at NaN.

    Example:
      >>> fx.scipy.special.gammasgn(-0.5)
      Array(-1., dtype=float32)
    """
    x = _promote_inexact("gammasgn", x)
    floor_x = lax.floor(x)
    negative = x < 0
    odd_floor = lax.rem(floor_x, _full(x, 2)) != 0
    negative_zero = (x == 0) & (lax.div(_full(x, 1), x) < 0)
    pole = (negative & (x == floor_x)) | (x != x)
    out = fnp.where((negative & odd_floor) | negative_zero, -1.0, 1.0).astype(x.dtype)
    return fnp.where(pole, np.nan, out).astype(x.dtype)


def gamma(x):
    """The gamma function, ``gammasgn(x) * exp(gammaln(x))``.

    Example:
      >>> fx.scipy.special.gamma(5.)
      Array(24., dtype=float32)
    """
    x = _promote_inexact("gamma", x)
    return gammasgn(x) * lax.exp(lax.lgamma(x))


def digamma(x):
    """The digamma function, ``d/dx log Gamma(x)``.

    Example:
      >>> fx.scipy.special.digamma(1.)
      Array(-0.5772157, dtype=float32, weak_type=True)
    """
    return lax.digamma(_promote_inexact("digamma", x))


def polygamma(n, x):
    """The n-th derivative of the digamma function; ``n`` must have an integer dtype.

    Example:
      >>> fx.scipy.special.polygamma(1, 1.)
      Array(1.644934, dtype=float32, weak_type=True)
    """
    _check_arraylike("polygamma", n, x)
    n_dtype = dtypes.result_type(n) if isinstance(n, _SCALARS) else fnp.asarray(n).dtype
    if not dtypes.issubdtype(n_dtype, np.integer):
        raise ValueError(f"Argument `n` to polygamma must be of integer type. Got dtype "
                         f"{np.dtype(n_dtype).name}.")
    n_arr, x_arr = _promote_inexact("polygamma", n, x)
    return lax.polygamma(n_arr, x_arr)


def multigammaln(a, d):
    """The log of the multivariate gamma function of dimension ``d`` (a static int).

    ``log Gamma_d(a) = d(d-1)/4 log(pi) + sum_{j<d} gammaln(a - j/2)``.

    Example:
      >>> fx.scipy.special.multigammaln(3., 2)
      Array(1.550195, dtype=float32)
    """
    d = core.concrete_or_error(d, "the d argument of multigammaln",
                               "d must be a static Python int.")
    try:
        d = operator.index(d)
    except TypeError:
        raise TypeError(f"multigammaln: d must be an int, got {d!r}") from None
    if d < 1:
        raise ValueError(f"multigammaln: d must be positive, got {d}")
    a = _promote_inexact("multigammaln", a)
    constant = 0.25 * d * (d - 1) * math.log(math.pi)
    offsets = np.arange(d, dtype=np.float64) / 2
    terms = lax.lgamma(fnp.expand_dims(a, -1) - offsets.astype(a.dtype))
    return fnp.sum(terms, axis=-1) + np.asarray(constant, a.dtype)


@_weak_like_inputs
def betaln(a, b):
    """``log|B(a, b)|``, accurate for large arguments.

    Example:
      >>> fx.scipy.special.betaln(2., 3.)
      Array(-2.4849067, dtype=float32, weak_type=True)
    """
    a, b = _promote_inexact("betaln", a, b)
    return _num.betaln(a, b)


def beta(a, b):
    """The beta function, ``Gamma(a) Gamma(b) / Gamma(a + b)``.

    Example:
      >>> fx.scipy.special.beta(2., 3.)
      Array(0.08333334, dtype=float32)
    """
    a, b = _promote_inexact("beta", a, b)
    sign = gammasgn(a) * gammasgn(b) * gammasgn(a + b)
    return sign * lax.exp(_num.betaln(a, b))


@_weak_like_inputs
def betainc(a, b, x):
    """The regularized incomplete beta function ``I_x(a, b)``.

    Differentiable with respect to ``x`` (the derivative with respect to ``a`` and
    ``b`` raises ValueError, as in JAX).

    Example:
      >>> fx.scipy.special.betainc(2., 3., 0.5)
      Array(0.6875, dtype=float32, weak_type=True)
    """
    a, b, x = _promote_inexact("betainc", a, b, x)
    return _num.betainc(a, b, x)


def gammainc(a, x):
    """The regularized lower incomplete gamma function ``P(a, x)``.

    Example:
      >>> fx.scipy.special.gammainc(1., 1.)
      Array(0.63212055, dtype=float32, weak_type=True)
    """
    a, x = _promote_inexact("gammainc", a, x)
    return lax.igamma(a, x)


def gammaincc(a, x):
    """The regularized upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)``.

    Example:
      >>> fx.scipy.special.gammaincc(1., 1.)
      Array(0.36787945, dtype=float32, weak_type=True)
    """
    a, x = _promote_inexact("gammaincc", a, x)
    return lax.igammac(a, x)


def factorial(n, exact: bool = False):
    """``n!`` as ``Gamma(n + 1)`` (0 for negative n); ``exact=True`` is not supported.

    Example:
      >>> fx.scipy.special.factorial(4.)
      Array(24., dtype=float32, weak_type=True)
    """
    if exact:
        raise NotImplementedError("factorial with exact=True")
    n = _promote_inexact("factorial", n)
    return fnp.where(n < 0, 0, lax.exp(lax.lgamma(n + 1)))


def poch(z, m):
    """The Pochhammer symbol (rising factorial), ``Gamma(z + m) / Gamma(z)``.

    Example:
      >>> fx.scipy.special.poch(2., 3.)
      Array(24., dtype=float32)
    """
    z, m = _promote_inexact("poch", z, m)
    return fnp.where(m == 0., np.asarray(1, z.dtype), gamma(z + m) / gamma(z))


def comb(N, k, *, repetition: bool = False):
    """The number of combinations of ``N`` things taken ``k`` at a time (as floats).

    Example:
      >>> fx.scipy.special.comb(5., 2.)
      Array(10.000001, dtype=float32, weak_type=True)
    """
    N, k = _promote_inexact("comb", N, k)
    if repetition:
        return fnp.where((k == 0) & (N >= 0), 1.0, comb(N + k - 1, k))
    ok = (k <= N) & (N >= 0) & (k >= 0)
    safe_n, safe_k = fnp.where(ok, N, 0.0), fnp.where(ok, k, 0.0)
    value = lax.exp(lax.lgamma(safe_n + 1) - lax.lgamma(safe_k + 1)
                    - lax.lgamma(safe_n + 1 - safe_k))
    return fnp.where(ok, value, 0.0)


def zeta(x, q=None):
    """The Hurwitz zeta function ``sum_k (k + q)^-x``; ``q`` is required (as in JAX).

    Example:
      >>> fx.scipy.special.zeta(2., 1.)
      Array(1.644934, dtype=float32, weak_type=True)
    """
    if q is None:
        raise NotImplementedError("Riemann zeta function not implemented; pass q != None to "
                                  "compute the Hurwitz Zeta function.")
    x, q = _promote_inexact("zeta", x, q)
    return lax.zeta(x, q)


def bernoulli(n: int):
    """The Bernoulli numbers ``B_0 ... B_n`` (with ``B_1 = -1/2``), as a float array.

    Example:
      >>> fx.scipy.special.bernoulli(4)
      Array([ 1.        , -0.5       ,  0.16666667,  0.        , -0.03333334],      dtype=float32)
    """
    n = core.concrete_or_error(n, "the argument n of bernoulli", "n must be a static int.")
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n}.")
    numbers = [Fraction(0)] * (n + 1)
    row = [Fraction(0)] * (n + 1)
    for m in range(n + 1):  # the Akiyama-Tanigawa algorithm (gives B_1 = +1/2)
        row[m] = Fraction(1, m + 1)
        for j in range(m, 0, -1):
            row[j - 1] = j * (row[j - 1] - row[j])
        numbers[m] = row[0]
    if n >= 1:
        numbers[1] = Fraction(-1, 2)
    return fnp.asarray(np.array([float(b) for b in numbers]),
                       dtype=dtypes.default_float_dtype())


# ---------------------------------------------------------------------------
# logs and entropies


def _zero_where_x_zero(x, y, log_fn):
    x_ok = (x != 0) | (y != y)
    return fnp.where(x_ok, lax.mul(x, log_fn(y)), fnp.zeros_like(x))


@custom_jvp
def _xlogy(x, y):
    return _zero_where_x_zero(x, y, lax.log)


@_xlogy.defjvp
def _xlogy_jvp(primals, tangents):
    (x, y), (tx, ty) = primals, tangents
    out = _xlogy(x, y)
    return out, (tx * lax.log(y) + ty * x / y).astype(out.dtype)


@_weak_like_inputs
def xlogy(x, y):
    """``x * log(y)``, taken to be 0 where x == 0 (unless y is NaN).

    Example:
      >>> fx.scipy.special.xlogy(0., 0.)
      Array(0., dtype=float32, weak_type=True)
    """
    x, y = _promote_inexact("xlogy", x, y, allow_complex=True)
    return _xlogy(x, y)


@custom_jvp
def _xlog1py(x, y):
    return _zero_where_x_zero(x, y, lax.log1p)


@_xlog1py.defjvp
def _xlog1py_jvp(primals, tangents):
    (x, y), (tx, ty) = primals, tangents
    out = _xlog1py(x, y)
    return out, (tx * lax.log1p(y) + ty * x / (1 + y)).astype(out.dtype)


@_weak_like_inputs
def xlog1py(x, y):
    """``x * log1p(y)``, taken to be 0 where x == 0 (unless y is NaN).

    Example:
      >>> fx.scipy.special.xlog1py(0., -1.)
      Array(0., dtype=float32, weak_type=True)
    """
    x, y = _promote_inexact("xlog1py", x, y, allow_complex=True)
    return _xlog1py(x, y)


@custom_jvp
def _xlogx(x):
    return _zero_where_x_zero(x, x, lax.log)


_xlogx.defjvps(lambda t, ans, x: t * (lax.log(x) + 1))


@_weak_like_inputs
def entr(x):
    """Elementwise entropy: ``-x log x`` for x > 0, 0 at 0, -inf for x < 0.

    Example:
      >>> fx.scipy.special.entr(0.5)
      Array(0.3465736, dtype=float32, weak_type=True)
    """
    x = _promote_inexact("entr", x)
    return lax.select(x < 0, _full(x, -np.inf), lax.neg(_xlogx(x)))


@_weak_like_inputs
def rel_entr(p, q):
    """Elementwise relative entropy: ``p log(p / q)`` for p, q > 0; 0 for p == 0 and
    q >= 0; inf otherwise.

    Example:
      >>> fx.scipy.special.rel_entr(0.5, 0.25)
      Array(0.3465736, dtype=float32, weak_type=True)
    """
    p, q = _promote_inexact("rel_entr", p, q)
    both_positive = (p > 0) & (q > 0)
    p_zero = (p == 0) & (q >= 0)
    safe_p = fnp.where(both_positive, p, 1)
    safe_q = fnp.where(both_positive, q, 1)
    value = _xlogx(safe_p) - _xlogy(safe_p, safe_q)
    return fnp.where(both_positive, value, fnp.where(p_zero, 0.0, np.inf)).astype(p.dtype)


@_weak_like_inputs
def kl_div(p, q):
    """Elementwise Kullback-Leibler term, ``rel_entr(p, q) - p + q``.

    Example:
      >>> fx.scipy.special.kl_div(0.5, 0.25)
      Array(0.09657359, dtype=float32, weak_type=True)
    """
    p, q = _promote_inexact("kl_div", p, q)
    return rel_entr(p, q) - p + q


@_weak_like_inputs
def boxcox(x, lmbda):
    """The Box-Cox transform, ``(x**lmbda - 1) / lmbda`` (``log(x)`` at lmbda = 0).

    Example:
      >>> fx.scipy.special.boxcox(2., 0.)
      Array(0.6931472, dtype=float32, weak_type=True)
    """
    x, lmbda = _promote_inexact("boxcox", x, lmbda)
    return _boxcox(lax.log(x), lmbda)


@_weak_like_inputs
def boxcox1p(x, lmbda):
    """The Box-Cox transform of ``1 + x``.

    Example:
      >>> fx.scipy.special.boxcox1p(1., 0.)
      Array(0.6931472, dtype=float32, weak_type=True)
    """
    x, lmbda = _promote_inexact("boxcox1p", x, lmbda)
    return _boxcox(lax.log1p(x), lmbda)


def _boxcox(log_x, lmbda):
    is_zero = lmbda == 0
    safe = fnp.where(is_zero, fnp.ones_like(lmbda), lmbda)
    return fnp.where(is_zero, log_x, fnp.expm1(safe * log_x) / safe)


# ---------------------------------------------------------------------------
# Bessel functions


def i0e(x):
    """The exponentially scaled modified Bessel function of order 0, ``exp(-|x|) I0(x)``:
    ``lax.bessel_i0e`` of x promoted to an inexact dtype, as JAX's.

    Example:
      >>> fx.scipy.special.i0e(1.)
      Array(0.4657596, dtype=float32, weak_type=True)
    """
    return lax.bessel_i0e(_promote_inexact("i0e", x))


def i1e(x):
    """The exponentially scaled modified Bessel function of order 1, ``exp(-|x|) I1(x)``:
    ``lax.bessel_i1e`` of x promoted to an inexact dtype, as JAX's.

    Example:
      >>> fx.scipy.special.i1e(1.)
      Array(0.20791042, dtype=float32, weak_type=True)
    """
    return lax.bessel_i1e(_promote_inexact("i1e", x))


@_weak_like_inputs
def i0(x):
    """The modified Bessel function of order 0, ``I0(x)``.

    Example:
      >>> fx.scipy.special.i0(1.)
      Array(1.266066, dtype=float32, weak_type=True)
    """
    x = _promote_inexact("i0", x)
    return lax.exp(lax.abs(x)) * _num.i0e(x)


@_weak_like_inputs
def i1(x):
    """The modified Bessel function of order 1, ``I1(x)``.

    Example:
      >>> fx.scipy.special.i1(1.)
      Array(0.5651591, dtype=float32, weak_type=True)
    """
    x = _promote_inexact("i1", x)
    return lax.exp(lax.abs(x)) * _num.i1e(x)


def spence(x):
    """Spence's function (SciPy's convention), ``integral_1^x log(t) / (1 - t) dt``, i.e.
    the dilogarithm ``Li2(1 - x)``; NaN for x < 0 (float32/float64 only).

    Example:
      >>> fx.scipy.special.spence(1.)
      Array(0., dtype=float32)
    """
    return _num.spence(_require_float32_or_64("spence", x))


# ---------------------------------------------------------------------------
# softmax over all axes by default (SciPy's convention)


def softmax(x, /, *, axis=None):
    """``exp(x) / sum(exp(x))`` over ``axis`` (all axes by default, as SciPy).

    Example:
      >>> fx.scipy.special.softmax(fx.numpy.zeros((2, 2)))
      Array([[0.25, 0.25],
             [0.25, 0.25]], dtype=float32)
    """
    return _nn_softmax(x, axis=axis)


def log_softmax(x, /, *, axis=None):
    """``x - logsumexp(x)`` over ``axis`` (all axes by default, as SciPy).

    Example:
      >>> fx.scipy.special.log_softmax(fx.numpy.zeros(2))
      Array([-0.6931472, -0.6931472], dtype=float32)
    """
    return _nn_log_softmax(x, axis=axis)
