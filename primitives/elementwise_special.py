"""Special-function elementwise primitives: ``erf``, ``erfc``, ``erf_inv``, ``lgamma``,
``digamma``, ``polygamma``, ``igamma``/``igammac`` (and ``igamma_grad_a``) and ``zeta``,
one table row each from ``primitives.elementwise``'s factories (which re-exports them,
so ``from primitives.elementwise import lgamma_p`` keeps working).

Invariants: float operands only. Eager impls are XLA's where JAX's results are known
bit for bit (float64 erf, erfc, erf_inv, lgamma, digamma: ``fx._random.xla_math64``;
float32 erf, erf_inv: ``fx._random.xla_math``), SciPy's otherwise, cast back to the
operand's dtype. Jvps are written with primitives, so higher derivatives work.
"""
from __future__ import annotations

import math

import numpy as np

from primitives import _rules as R
from primitives._rules import FLOAT
from primitives.elementwise import (_const, _sq, _undefined_derivative, _xla_float32,
                                    _xla_math, binary, exp_p, log_p, unary)

__all__ = ["erf_p", "erfc_p", "erf_inv_p", "lgamma_p", "digamma_p", "polygamma_p",
           "igamma_grad_a_p", "igamma_p", "igammac_p", "zeta_p"]

_sp = R.LazyModule("scipy.special")


def _same_dtype_as_input(fn):
    """SciPy's special functions compute float16/bfloat16 in a wider type; cast back."""
    def impl(x):
        return np.asarray(fn(x)).astype(x.dtype, copy=False)
    impl.__name__ = getattr(fn, "__name__", "impl")
    return impl


# the constant first, as JAX's rules write them: c * (t * exp(-x**2))
erf_p = unary("erf", _xla_float32("erf", lambda x: _sp.erf(x)), lambda x, t, y: R.mul(
    _const(x, 2 / math.sqrt(math.pi)), R.mul(t, exp_p.bind(R.neg(_sq(x))))), kinds=FLOAT)
erfc_p = unary("erfc", _xla_math("erfc", _same_dtype_as_input(lambda x: _sp.erfc(x)), False),
               lambda x, t, y: R.mul(_const(x, -2 / math.sqrt(math.pi)),
                                     R.mul(t, exp_p.bind(R.neg(_sq(x))))), kinds=FLOAT)


def _erf_inv(x):
    # float32 and narrower: XLA's float32 evaluation, bit for bit (JAX's normal draws
    # are sqrt(2) * erf_inv(u)); float64: XLA's too (fx/_random/xla_math64.py)
    if x.dtype == np.float64:
        from fx._random.xla_math64 import apply_f64
        return apply_f64("erf_inv", x)
    if x.dtype.itemsize <= 4:
        from fx._random.xla_math import erf_inv_f32
        return erf_inv_f32(x.astype(np.float32)).astype(x.dtype, copy=False)
    return np.where(x == 0, x, _sp.erfinv(x))


erf_inv_p = unary("erf_inv", _erf_inv, lambda x, t, y: R.mul(
    _const(x, math.sqrt(math.pi) / 2), R.mul(t, exp_p.bind(_sq(y)))), kinds=FLOAT)
lgamma_p = unary("lgamma", _xla_math("lgamma", _same_dtype_as_input(
    lambda x: np.where(x == -np.inf, np.inf, _sp.gammaln(x))), False),
                 lambda x, t, y: R.mul(t, digamma_p.bind(x)),
                 kinds=FLOAT)


def _polygamma_impl(m, x):
    return _sp.polygamma(m, x).astype(x.dtype)


digamma_p = unary("digamma", _xla_math("digamma", _same_dtype_as_input(
    lambda x: np.where(x == 0, np.nan, _sp.psi(x))), False), lambda x, t, y: R.mul(
    t, polygamma_p.bind(_const(x, 1), x)), kinds=FLOAT)
polygamma_p = binary("polygamma", _polygamma_impl, (_undefined_derivative(
    "polygamma", "polygamma gradient with respect to m is not supported", ValueError),
    lambda t, m, x, z: R.mul(
    t, polygamma_p.bind(R.add(m, 1), x))), kinds=FLOAT)


def _igamma_grad_a_impl(a, x):
    """d/da of the regularized lower incomplete gamma P(a, x), in float64.

    SciPy has no closed form, so this Richardson-extrapolates central differences of
    ``gammainc`` in ``a`` (error O(h^4) plus rounding ~1e-13): accurate far beyond
    float32 and to ~1e-10 relative in float64."""
    a64, x64 = np.asarray(a, np.float64), np.asarray(x, np.float64)
    h = np.minimum(1e-3 * np.maximum(1.0, np.abs(a64)), np.abs(a64) / 4)
    h = np.where(h > 0, h, 1e-3)

    def central(step):
        return (_sp.gammainc(a64 + step, x64) - _sp.gammainc(a64 - step, x64)) / (2 * step)

    out = (4 * central(h / 2) - central(h)) / 3
    out = np.where((a64 <= 0) | (x64 < 0) | np.isnan(a64) | np.isnan(x64), np.nan, out)
    return np.where(x64 == 0, 0.0, out).astype(np.result_type(a, x))


def _igamma_grad_a_jvp_x(t, a, x, z):
    """d/dx dP/da = d/da [x^(a-1) e^(-x) / Gamma(a)] = density * (log x - digamma(a))."""
    return R.mul(t, R.mul(_igamma_density(a, x), R.sub(log_p.bind(x), digamma_p.bind(a))))


# (like JAX, no derivative in a: d^2 P / da^2 has no closed form)
igamma_grad_a_p = binary("igamma_grad_a", _igamma_grad_a_impl,
                         (_undefined_derivative("igamma_grad_a"), _igamma_grad_a_jvp_x),
                         kinds=FLOAT)


def _igamma_density(a, x):
    """d/dx P(a, x) = x^(a-1) e^(-x) / Gamma(a)."""
    return exp_p.bind(R.sub(R.sub(R.mul(R.sub(a, 1), log_p.bind(x)), x), lgamma_p.bind(a)))


igamma_p = binary("igamma", lambda a, x: _sp.gammainc(a, x).astype(a.dtype), (
    lambda t, a, x, z: R.mul(t, igamma_grad_a_p.bind(a, x)),
    lambda t, a, x, z: R.mul(t, _igamma_density(a, x))), kinds=FLOAT)
igammac_p = binary("igammac", lambda a, x: _sp.gammaincc(a, x).astype(a.dtype), (
    lambda t, a, x, z: R.neg(R.mul(t, igamma_grad_a_p.bind(a, x))),
    lambda t, a, x, z: R.neg(R.mul(t, _igamma_density(a, x)))), kinds=FLOAT)
zeta_p = binary("zeta", lambda x, q: _sp.zeta(x, q).astype(x.dtype), (
    _undefined_derivative("zeta"),
    lambda t, x, q, z: R.neg(R.mul(t, R.mul(x, zeta_p.bind(R.add(x, 1), q))))), kinds=FLOAT)
