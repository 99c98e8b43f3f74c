"""``lgamma``, ``digamma``, ``bessel_i0e`` and ``bessel_i1e`` as branch-free IR (every
region computed, the right one selected), so the loop vectorizer turns them into SIMD
code like mathfns' functions.

Invariants: float64 operands get XLA's own expansions (lowering/cpu/xla_float64.py:
Lanczos' approximation, bit for bit as JAX's under x64); what follows is float32's (and
16-bit floats'). The arithmetic is in double precision (float32 operands are widened and
the result rounded once, so float32 is within an ulp of SciPy's); results follow the
eager impls: ``lgamma`` is ``gammaln`` with ``lgamma(-inf) = inf`` and ``+inf`` at
zero and the negative integers; ``digamma`` is ``psi`` with NaN at zero, the negative
integers and ``-inf``. Positive operands are reduced to an interval where a series
converges fast, the series centred where the function vanishes or turns (``lgamma``:
at 1, ``ln Gamma(1 + z) = -gamma z + sum_k (-1)^k zeta(k) z^k / k``, at 2, the same with
``zeta(k) - 1``, and at its minimum ``x0``; ``digamma``: the Taylor series at its
positive root, the same ``x0 = 1.4616...``), so relative accuracy holds next to the
zeros; large operands use Stirling's series. Negative operands go through the
reflection formula, whose two terms cancel next to the negative zeros (absolute
accuracy there, as SciPy's own).

``bessel_i0e``/``bessel_i1e`` (``exp(-|x|) I_n(x)``, float32 and float64, in double
precision) sum the series of fx.scipy's former graph version: for ``|x| <= 20`` the
power series in ``q = (x/2)^2`` (60 terms, one Horner polynomial with the exact
coefficients ``1 / (k! (k + n)!)``; ``q`` is carried as hi + lo and the sum corrected by
its slope) times ``exp(-|x|)``, beyond it Hankel's asymptotic series in ``1/|x|`` (40
terms; its smallest term at 20 is below 1e-18). float64 is within 4 ulp of the exact
values, float32 correctly rounded. ``i1e`` is odd (negated for x < 0, so
``i1e(-0.0) = +0.0`` as SciPy's); both are 0 at infinity and NaN stays NaN.
"""
from __future__ import annotations

import math
from fractions import Fraction

from llvmlite import ir

from lowering.cpu import mathfns, xla_float64
from lowering.cpu.irutil import F32, F64, Emit

__all__ = ["lgamma", "digamma", "bessel_i0e", "bessel_i1e", "SPECIAL_DTYPES"]

#: operand dtypes the code generator computes these for
SPECIAL_DTYPES = ("float32", "float64")

# Bernoulli numbers B_2 ... B_20
_BERNOULLI = [Fraction(1, 6), Fraction(-1, 30), Fraction(1, 42), Fraction(-1, 30),
              Fraction(5, 66), Fraction(-691, 2730), Fraction(7, 6), Fraction(-3617, 510),
              Fraction(43867, 798), Fraction(-174611, 330)]
_STIRLING_MIN = 8.0     # lgamma: Stirling's series from here
_ASYMPTOTIC_MIN = 10.0  # digamma: asymptotic series from here
_LGAMMA_TERMS = 40      # of the series at 1 (|z| <= 1/4) and at 2 (|z| <= 3/4)
_LGAMMA_MIN = -0.12148629053584960810  # ln Gamma at its minimum, the root of digamma
_DIGAMMA_TERMS = 42     # of the Taylor series at x0, for x in [1, 2]
_DIGAMMA_ROOT = (1.4616321449683622, 9.549995429965697e-17)  # x0 as hi + lo
_cache: dict = {}


def _lgamma_series() -> dict:
    """Power-series coefficients (constant term first) of ``ln Gamma`` at 1, at 2 and at
    its minimum ``x0`` (the root of digamma), padded to one length."""
    if "lgamma" not in _cache:
        from scipy.special import zeta, zetac
        euler = 0.57721566490153286061
        at1 = [0.0, -euler] + [(-1) ** k * float(zeta(k)) / k
                               for k in range(2, _LGAMMA_TERMS + 1)]
        at2 = [0.0, 1.0 - euler] + [(-1) ** k * float(zetac(k)) / k
                                    for k in range(2, _LGAMMA_TERMS + 1)]
        # d/dx ln Gamma = digamma: the minimum's series integrates digamma's
        psi = _digamma_series()
        atmin = [_LGAMMA_MIN, 0.0] + [psi[k - 1] / k for k in range(2, len(psi) + 1)]
        n = max(len(at1), len(at2), len(atmin))
        _cache["lgamma"] = {name: c + [0.0] * (n - len(c)) for name, c in
                            (("1", at1), ("2", at2), ("min", atmin))}
    return _cache["lgamma"]


def _digamma_series() -> list:
    """Taylor coefficients of ``digamma`` at its positive root (constant term 0)."""
    if "digamma" not in _cache:
        from scipy.special import polygamma
        x0 = _DIGAMMA_ROOT[0] + _DIGAMMA_ROOT[1]
        _cache["digamma"] = [0.0] + [float(polygamma(k, x0)) / math.factorial(k)
                                     for k in range(1, _DIGAMMA_TERMS + 1)]
    return _cache["digamma"]


def _widen(e: Emit, x):
    return (e.b.fpext(x, F64), True) if x.type == F32 else (x, False)


def _narrow(e: Emit, y, was32: bool):
    return e.b.fptrunc(y, F32) if was32 else y


def _const(value):
    return ir.Constant(F64, float(value))


def _sin_pi_parts(e: Emit, x):
    """(t, sin(pi t), cos(pi t)) with ``t = x - rint(x)`` in [-1/2, 1/2] (exact), so
    ``|sin(pi x)| = |sin(pi t)|`` and ``cot(pi x) = cos(pi t) / sin(pi t)``."""
    t = e.fsub(x, e.rint(x))
    s = mathfns.sin(e, e.fmul(t, _const(math.pi)))
    # cos(pi t) = sin(pi (1/2 - |t|)): exactly 0 at the half-integers
    c = mathfns.sin(e, e.fmul(e.fsub(_const(0.5), e.fabs(t)), _const(math.pi)))
    return t, s, c


def _lgamma_positive(e: Emit, y):
    """ln Gamma(y) for y >= 0 (and +inf), in double precision."""
    b = e.b
    lt = lambda v: e.fcmp("<", y, _const(v))  # noqa: E731
    r1, r2, r3, r4, r5, r6 = (lt(v) for v in (0.5, 0.75, 1.25, 1.75, 2.75, _STIRLING_MIN))
    one = _const(1.0)
    # [2.75, 8): shift down by m steps to [1.75, 2.75), P = (y-1)...(y-m)
    prod, shifted = one, y
    for i in range(1, int(_STIRLING_MIN - 1.75) + 1):
        step = e.fcmp(">=", e.fsub(y, _const(i)), _const(1.75))
        prod = e.fmul(prod, e.select(step, e.fsub(y, _const(i)), one))
        shifted = e.select(step, e.fsub(y, _const(i)), shifted)
    # the series variable and which series: at 2 below 3/4 (y, or y - 1 with log(y)
    # apart) and from 7/4; at 1 on [3/4, 5/4); at the minimum on [5/4, 7/4)
    at1, atmin = b.and_(b.not_(r2), r3), b.and_(b.not_(r3), r4)
    z = e.select(r1, y, e.select(r3, e.fsub(y, one), e.select(
        r4, e.fsub(e.fsub(y, _const(_DIGAMMA_ROOT[0])), _const(_DIGAMMA_ROOT[1])),
        e.fsub(shifted, _const(2.0)))))
    z = e.select(r6, z, _const(0.0))
    series = _lgamma_series()
    acc = None
    for c1, c2, cm in reversed(list(zip(series["1"], series["2"], series["min"],
                                        strict=True))):
        c = e.select(at1, _const(c1), e.select(atmin, _const(cm), _const(c2)))
        acc = c if acc is None else e.fma(acc, z, c)
    # one log serves four regions: y(1+y) below 1/2, y on [1/2, 3/4), P on [2.75, 8),
    # y from 8 (Stirling)
    arg = e.select(r1, e.fma(y, y, y), e.select(r2, y, e.select(r5, one, e.select(
        r6, prod, y))))
    lg = mathfns.log(e, arg)
    w = e.fdiv(one, y)
    stirling = e.fmul(w, e.horner(e.fmul(w, w), [
        float(bk / (2 * k * (2 * k - 1))) for k, bk in enumerate(_BERNOULLI, start=1)]))
    half_log_2pi = 0.91893853320467274178
    stirling = e.fadd(e.fma(e.fsub(y, _const(0.5)), lg, e.fsub(_const(half_log_2pi), y)),
                      stirling)
    out = e.select(r2, e.fsub(acc, lg), e.select(r5, acc, e.select(
        r6, e.fadd(acc, lg), stirling)))
    return e.select(e.fcmp("==", y, _const(math.inf)), y, out)


def lgamma(e: Emit, x):
    """``ln |Gamma(x)|`` for a float32 value (see the module docstring); float64 as XLA's
    CPU backend rounds it (``xla_float64.lgamma``)."""
    if x.type == F64:
        return xla_float64.lgamma(e, x)
    x, was32 = _widen(e, x)
    b = e.b
    negative = e.fcmp("<", x, _const(0.0))
    y = e.select(negative, e.fsub(_const(1.0), x), x)
    pos = _lgamma_positive(e, y)
    t, s, _ = _sin_pi_parts(e, x)
    # Gamma(x) Gamma(1 - x) = pi / sin(pi x)
    reflected = e.fsub(e.fsub(_const(math.log(math.pi)), mathfns.log(e, e.fabs(s))), pos)
    pole = b.and_(negative, e.fcmp("==", t, _const(0.0)))
    out = e.select(negative, reflected, pos)
    out = e.select(b.or_(pole, e.fcmp("==", x, _const(-math.inf))), _const(math.inf), out)
    out = e.select(e.isnan(x), x, out)
    return _narrow(e, out, was32)


def _digamma_positive(e: Emit, y):
    """digamma(y) for y > 0 (and +inf), in double precision."""
    lt = lambda v: e.fcmp("<", y, _const(v))  # noqa: E731
    below1, below2, small = lt(1.0), lt(2.0), lt(_ASYMPTOTIC_MIN)
    # [2, 10): digamma(y) = digamma(y - m) + sum_{i<=m} 1 / (y - i), y - m in [1, 2)
    shifted, total = y, _const(0.0)
    for i in range(1, int(_ASYMPTOTIC_MIN - 1) + 1):
        step = e.fcmp(">=", e.fsub(y, _const(i)), _const(1.0))
        total = e.fadd(total, e.select(step, e.fdiv(_const(1.0), e.fsub(y, _const(i))),
                                       _const(0.0)))
        shifted = e.select(step, e.fsub(y, _const(i)), shifted)
    # (0, 1): digamma(y) = digamma(y + 1) - 1 / y
    u = e.select(below1, e.fadd(y, _const(1.0)), e.select(below2, y, shifted))
    u = e.select(small, u, _const(_DIGAMMA_ROOT[0]))
    d = e.fsub(e.fsub(u, _const(_DIGAMMA_ROOT[0])), _const(_DIGAMMA_ROOT[1]))
    taylor = e.fmul(d, e.horner(d, _digamma_series()[1:]))
    near = e.select(below1, e.fsub(taylor, e.fdiv(_const(1.0), y)),
                    e.select(below2, taylor, e.fadd(taylor, total)))
    # from 10: log(y) - 1/(2y) - sum_k B_2k / (2k y^2k)
    w = e.fdiv(_const(1.0), y)
    w2 = e.fmul(w, w)
    tail = e.fmul(w2, e.horner(w2, [float(bk / (2 * k)) for k, bk in
                                    enumerate(_BERNOULLI, start=1)]))
    far = e.fsub(e.fsub(mathfns.log(e, e.select(small, _const(1.0), y)),
                        e.fmul(_const(0.5), w)), tail)
    return e.select(small, near, far)


def digamma(e: Emit, x):
    """``Gamma'(x) / Gamma(x)`` for a float32 value (see the module docstring); float64 as
    XLA's CPU backend rounds it (``xla_float64.digamma``)."""
    if x.type == F64:
        return xla_float64.digamma(e, x)
    x, was32 = _widen(e, x)
    b = e.b
    negative = e.fcmp("<", x, _const(0.0))
    y = e.select(negative, e.fsub(_const(1.0), x), x)
    y = e.select(e.fcmp("==", x, _const(0.0)), _const(1.0), y)
    pos = _digamma_positive(e, y)
    t, s, c = _sin_pi_parts(e, x)
    # digamma(1 - x) - digamma(x) = pi cot(pi x)
    reflected = e.fsub(pos, e.fdiv(e.fmul(_const(math.pi), c), s))
    out = e.select(negative, reflected, pos)
    nan = _const(math.nan)
    pole = b.or_(e.fcmp("==", x, _const(0.0)), b.and_(negative, e.fcmp("==", t, _const(0.0))))
    out = e.select(b.or_(pole, e.fcmp("==", x, _const(-math.inf))), nan, out)
    out = e.select(e.isnan(x), x, out)
    return _narrow(e, out, was32)


_BESSEL_CUT = 20.0    # power series up to here, asymptotic series beyond
_BESSEL_SERIES_TERMS = 60
_BESSEL_ASYMPTOTIC_TERMS = 40


def _bessel_coefficients(order: int) -> tuple:
    """(power-series coefficients in ``q = x^2 / 4``, asymptotic ones in ``1/x``) of
    ``I_order``: ``sum_k q^k / (k! (k + n)!)`` (times ``(x/2)^n``) and
    ``e^x / sqrt(2 pi x) sum_k a_k / x^k``, ``a_k = prod_j ((2j-1)^2 - 4n^2) / (8j)``."""
    key = ("bessel", order)
    if key not in _cache:
        series = [float(Fraction(1, math.factorial(k) * math.factorial(k + order)))
                  for k in range(_BESSEL_SERIES_TERMS)]
        asymptotic, a = [1.0], Fraction(1)
        for j in range(1, _BESSEL_ASYMPTOTIC_TERMS):
            a *= Fraction((2 * j - 1) ** 2 - 4 * order * order, 8 * j)
            asymptotic.append(float(a))
        _cache[key] = (series, asymptotic)
    return _cache[key]


def _bessel_ie(e: Emit, x, order: int):
    """``exp(-|x|) I_order(x)`` (see the module docstring)."""
    x, was32 = _widen(e, x)
    series, asymptotic = _bessel_coefficients(order)
    z = e.fabs(x)
    small = e.fcmp("<=", z, _const(_BESSEL_CUT))  # false for NaN (replaced at the end)
    cut = _const(_BESSEL_CUT)
    zs = e.select(small, z, cut)
    # q = zs^2 / 4 as hi + lo (exact); the series at hi plus its slope times lo, as the
    # series' relative sensitivity to q grows to |x|/2
    sq = e.fmul(zs, zs)
    q, q_lo = e.fmul(sq, _const(0.25)), e.fmul(e.fma(zs, zs, e.b.fneg(sq)), _const(0.25))
    value, slope = _const(series[-1]), _const(0.0)
    for c in reversed(series[:-1]):
        slope = e.fma(slope, q, value)
        value = e.fma(value, q, _const(c))
    near = e.fmul(e.fma(slope, q_lo, value), mathfns.exp(e, e.b.fneg(zs)))
    if order == 1:
        near = e.fmul(near, e.fmul(zs, _const(0.5)))
    zb = e.select(small, cut, z)  # +inf: 1/zb = 0 and the result 0
    # sqrt(2 pi zb) as 4 sqrt(zb pi / 8): the same bits (scaling by 16 is exact), but no
    # overflow to infinity (and a result of 0) for zb near the largest double
    root = e.fmul(e.call("llvm.sqrt", e.fmul(zb, _const(math.pi / 8))), _const(4.0))
    far = e.fdiv(e.horner(e.fdiv(_const(1.0), zb), asymptotic), root)
    out = e.select(small, near, far)
    if order == 1:  # odd: negated below zero (SciPy's i1e(-0.0) is +0.0)
        out = e.select(e.fcmp("<", x, _const(0.0)), e.b.fneg(out), out)
    out = e.select(e.isnan(x), x, out)
    return _narrow(e, out, was32)


def bessel_i0e(e: Emit, x):
    """``exp(-|x|) I0(x)`` for a float32 or float64 value (see the module docstring)."""
    return _bessel_ie(e, x, 0)


def bessel_i1e(e: Emit, x):
    """``exp(-|x|) I1(x)`` for a float32 or float64 value (see the module docstring)."""
    return _bessel_ie(e, x, 1)
