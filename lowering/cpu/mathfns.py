"""Transcendental functions as branch-free IR: range reduction, a polynomial or
rational approximation with FMAs, and selects for special values, so the loop
vectorizer turns them into SIMD code (no libm calls in the vector loop).

Invariants: every function takes an ``Emit`` and a float (``float`` or
``double``) value and returns a value of the same type. float32 exp, log, log1p,
tan and pow round exactly as XLA's CPU backend does (lowering/cpu/xla_float32.py:
JAX's results and random draws, bit for bit; exp flushes subnormal results to zero
and is up to 5.3 ulp off just below its overflow threshold, as XLA's is). float64
exp, exp2, expm1, log, log1p, tanh, logistic, sin, cos, tan, erf, erfc, erf_inv, sqrt,
rsqrt, cbrt, pow, atan2, sinh, cosh, asin, acos, asinh, acosh and atanh are XLA's, bit
for bit (lowering/cpu/xla_float64.py: its own expansions, or the C library where XLA
calls it), and so are float32 sqrt (subnormals read as zero), rsqrt and float32 (float16,
bfloat16) sinh, cosh, asin, acos, asinh, acosh, atanh and erfc
(lowering/cpu/xla_float32_expansions.py: XLA's expansions). Accuracy of the others (measured
against NumPy by tests/lowering/test_cpu_codegen.py): a few ulp over the whole range
for exp2, expm1, logistic and tanh (float32); sin, cos are a few ulp for |x| below
about 1e5 (float32; the reduction by pi/2 is Cody-Waite in double precision), NaN
for infinities.

The coefficients are Taylor coefficients, or, for float32 tanh and erf, rational
approximations ``x P(x^2) / Q(x^2)`` fitted for these functions by weighted
least squares on relative error (Loeb's linearisation with Lawson reweighting)
in double precision.
"""
from __future__ import annotations

import math

from lowering.cpu.irutil import F32, F64, I32, I64, Emit

__all__ = ["exp", "exp2", "expm1", "log", "log1p", "tanh", "logistic", "sin", "cos", "tan",
           "erf", "erf_inv", "pow", "atan2", "sqrt", "rsqrt", "cbrt", "sinh", "cosh", "asin",
           "acos", "asinh", "acosh", "atanh", "erfc", "bessel_i0e", "bessel_i1e",
           "TRANSCENDENTAL_DTYPES", "ROUNDS_EACH_STEP"]

_FACT = [1.0 / math.factorial(n) for n in range(24)]


def _is64(x) -> bool:
    return x.type == F64


def _consts(x):
    if _is64(x):
        return dict(int_ty=I64, mbits=52, bias=1023, emask=0x7FF, mmask=(1 << 52) - 1,
                    one_bits=0x3FF0000000000000, min_normal=2.0 ** -1022, inf=math.inf)
    return dict(int_ty=I32, mbits=23, bias=127, emask=0xFF, mmask=(1 << 23) - 1,
                one_bits=0x3F800000, min_normal=2.0 ** -126, inf=math.inf)


def _pow2(e: Emit, k_int, x):
    """2**k as a float of x's type, for k in the normal exponent range."""
    c = _consts(x)
    biased = e.b.add(k_int, e.const(c["int_ty"], c["bias"]))
    bits = e.b.shl(biased, e.const(c["int_ty"], c["mbits"]))
    return e.b.bitcast(bits, x.type)


def _has_scalef() -> bool:
    global _SCALEF
    if _SCALEF is None:
        from lowering.cpu import runtime
        _SCALEF = "+avx512f" in runtime.host_info()["features"].split(",")
    return _SCALEF


_SCALEF = None


def _scale(e: Emit, p, k_float):
    """p * 2**k with k possibly outside the normal range (correctly rounded once)."""
    c = _consts(p)
    if _has_scalef():  # llvm.ldexp becomes one vscalef instruction
        k32 = e.b.fptosi(k_float, I32)
        fn = e.intrinsic("llvm.ldexp", p.type, [p.type, I32],
                         suffix=f"{'f64' if _is64(p) else 'f32'}.i32")
        return e.b.call(fn, [p, k32])
    k = e.b.fptosi(k_float, c["int_ty"])
    k1 = e.b.ashr(k, e.const(c["int_ty"], 1))
    k2 = e.b.sub(k, k1)
    return e.fmul(e.fmul(p, _pow2(e, k1, p)), _pow2(e, k2, p))


def _exp_poly(e: Emit, r):
    return e.horner(r, _FACT[:14] if _is64(r) else _FACT[:8])


def exp(e: Emit, x):
    """e**x as XLA's CPU backend rounds it (``xla_float32.exp``/``xla_float64.exp``:
    JAX's draws and results, subnormal results flushed to zero)."""
    return (xla_float64 if _is64(x) else xla_float32).exp(e, x)


def _exp(e: Emit, x):
    """e**x with gradual underflow (float32 and float64)."""
    if _is64(x):
        lo, hi, ln2_hi, ln2_lo = -746.0, 710.0, 0.6931471803691238, 1.9082149292705877e-10
    else:
        lo, hi, ln2_hi, ln2_lo = -104.0, 89.0, 0.693145751953125, 1.428606765330187e-06
    # NaN passes the clamp; the conversions below are then meaningless (poison) in
    # lanes that the final select replaces by x
    xc = e.fmin_clamp(x, lo, hi)
    k = e.rint(e.b.fmul(xc, e.like(x, 1.4426950408889634)))
    negk = e.b.fneg(k)
    r = e.fma(negk, e.like(x, ln2_hi), xc)
    r = e.fma(negk, e.like(x, ln2_lo), r)
    res = _scale(e, _exp_poly(e, r), k)
    return e.select(e.isnan(x), x, res)


def exp2(e: Emit, x):
    """2**x (float64 as XLA's CPU backend rounds it, ``xla_float64.exp2``)."""
    if _is64(x):
        return xla_float64.exp2(e, x)
    lo, hi = (-1076.0, 1025.0) if _is64(x) else (-151.0, 129.0)
    nan = e.isnan(x)
    xs = e.select(nan, e.like(x, 0.0), x)
    xc = e.fmin_clamp(xs, lo, hi)
    k = e.rint(xc)
    r = e.b.fmul(e.b.fsub(xc, k), e.like(x, math.log(2.0)))
    res = _scale(e, _exp_poly(e, r), k)
    return e.select(nan, x, res)


def expm1(e: Emit, x):
    """e**x - 1, accurate near 0 (float64: XLA's, ``xla_float64.expm1``)."""
    if _is64(x):
        return xla_float64.expm1(e, x)
    small = e.fcmp("<", e.fabs(x), e.like(x, 0.7))
    coeffs = _FACT[1:19] if _is64(x) else _FACT[1:11]
    taylor = e.fmul(x, e.horner(x, coeffs))
    big = e.b.fsub(_exp(e, x), e.like(x, 1.0))
    return e.select(small, taylor, big)


def log(e: Emit, x):
    """Natural logarithm as XLA's CPU backend computes it (``xla_float32.log``; float64:
    the C library's ``log``, ``xla_float64.log``)."""
    return (xla_float64 if _is64(x) else xla_float32).log(e, x)


def log1p(e: Emit, x):
    """log(1 + x) as XLA's CPU backend rounds it (``xla_float32.log1p``,
    ``xla_float64.log1p``)."""
    return (xla_float64 if _is64(x) else xla_float32).log1p(e, x)


_TANH_P = [0.9999999936248416, 0.13444523968535138, 0.0035716276627103492,
           2.189509604926458e-05, 1.5230914056998788e-08]
_TANH_Q = [1.0, 0.46777851325943665, 0.026164558931410044, 0.0003411338220596864,
           8.522672086030968e-07]


def tanh(e: Emit, x):
    """Hyperbolic tangent: a rational approximation (float32); float64 as XLA's CPU
    backend rounds it (``xla_float64.tanh``)."""
    if _is64(x):
        return xla_float64.tanh(e, x)
    # on [-8, 8] the float32 evaluation stays within [-1, 1] (checked exhaustively)
    xc = e.fmin_clamp(x, -8.0, 8.0)
    t2 = e.b.fmul(xc, xc)
    num = e.b.fmul(xc, e.horner(t2, _TANH_P))
    return e.b.fdiv(num, e.horner(t2, _TANH_Q))


def logistic(e: Emit, x):
    """1 / (1 + e**-x), computed from e**-|x| on both sides (no overflow, no
    cancellation); float64 as XLA's CPU backend rounds it (``xla_float64.logistic``)."""
    if _is64(x):
        return xla_float64.logistic(e, x)
    ex = _exp(e, e.b.fneg(e.fabs(x)))
    denom = e.b.fadd(ex, e.like(x, 1.0))
    pos = e.b.fdiv(e.like(x, 1.0), denom)
    neg = e.b.fdiv(ex, denom)
    return e.select(e.fcmp("<", x, e.like(x, 0.0)), neg, pos)


def erf(e: Emit, x):
    """Error function as XLA's CPU backend computes it (``xla_float32.erf``: JAX's
    results and truncated_normal draws, bit for bit; float64: the C library's ``erf``)."""
    return (xla_float64 if _is64(x) else xla_float32).erf(e, x)


# pi/2 as three doubles (the sum is pi/2 to about 160 bits)
_PIO2 = (1.5707963267948966, 6.123233995736766e-17, -1.4973849048591698e-33)


def _reduce_pio2(e: Emit, x):
    """(r, quadrant): x = r + k pi/2 with |r| <= pi/4, r in double precision."""
    xd = x if _is64(x) else e.b.fpext(x, F64)
    k = e.rint(e.b.fmul(xd, e.like(xd, 2.0 / math.pi)))
    negk = e.b.fneg(k)
    r = e.fma(negk, e.like(xd, _PIO2[0]), xd)
    r = e.fma(negk, e.like(xd, _PIO2[1]), r)
    r = e.fma(negk, e.like(xd, _PIO2[2]), r)
    q = e.b.and_(e.to_int_sat(k, I64), e.const(I64, 3))
    if not _is64(x):
        r = e.b.fptrunc(r, F32)
    return r, q


def _sin_cos_poly(e: Emit, r):
    z = e.b.fmul(r, r)
    if _is64(r):
        sin_c = [(-1) ** j * _FACT[2 * j + 1] for j in range(1, 9)]
        cos_c = [(-1) ** j * _FACT[2 * j] for j in range(2, 10)]
    else:
        sin_c = [(-1) ** j * _FACT[2 * j + 1] for j in range(1, 5)]
        cos_c = [(-1) ** j * _FACT[2 * j] for j in range(2, 6)]
    s = e.fma(e.b.fmul(r, z), e.horner(z, sin_c), r)
    c = e.fma(e.b.fmul(z, z), e.horner(z, cos_c),
              e.b.fsub(e.like(r, 1.0), e.b.fmul(z, e.like(r, 0.5))))
    return s, c


def _quadrant(e: Emit, q, values):
    out = values[0]
    for i in (1, 2, 3):
        out = e.select(e.b.icmp_unsigned("==", q, e.const(I64, i)), values[i], out)
    return out


def _keep_zero(e: Emit, x, res):
    """res, but x itself where x is +-0 (odd functions keep the sign of zero)."""
    return e.select(e.fcmp("==", x, e.like(x, 0.0)), x, res)


def sin(e: Emit, x):
    """Sine (float64: the C library's, as XLA calls it)."""
    if _is64(x):
        return xla_float64.sin(e, x)
    r, q = _reduce_pio2(e, x)
    s, c = _sin_cos_poly(e, r)
    return _keep_zero(e, x, _quadrant(e, q, [s, c, e.b.fneg(s), e.b.fneg(c)]))


def cos(e: Emit, x):
    """Cosine (float64: the C library's, as XLA calls it)."""
    if _is64(x):
        return xla_float64.cos(e, x)
    r, q = _reduce_pio2(e, x)
    s, c = _sin_cos_poly(e, r)
    return _quadrant(e, q, [c, e.b.fneg(s), e.b.fneg(c), s])


def tan(e: Emit, x):
    """Tangent as XLA computes it: the C library's ``tanf``/``tan``."""
    return (xla_float64 if _is64(x) else xla_float32).tan(e, x)


def pow(e: Emit, x, y):  # noqa: A001  (the primitive's name)
    """x**y as XLA computes it: the C library's ``powf``/``pow`` (float64 in XLA's
    floating-point mode, ``xla_float64.pow``)."""
    return (xla_float64 if _is64(x) else xla_float32).pow(e, x, y)


def atan2(e: Emit, y, x):
    """float64 ``atan2(y, x)`` as XLA computes it: the C library's (``xla_float64``)."""
    return xla_float64.atan2(e, y, x)


def sqrt(e: Emit, x):
    """Square root with subnormal inputs read as zero, as XLA computes it."""
    if _is64(x):
        return xla_float64.sqrt(e, x)
    subnormal = e.fcmp("<", e.fabs(x), e.like(x, 2.0 ** -126))
    return e.call("llvm.sqrt", e.select(subnormal, e.copysign(e.like(x, 0.0), x), x))


def rsqrt(e: Emit, x):
    """1 / sqrt(x) as XLA computes it (``xla_float64.rsqrt``; float32: the processor's
    estimate refined once, ``xla_float32.rsqrt``)."""
    return (xla_float64 if _is64(x) else xla_float32).rsqrt(e, x)


def cbrt(e: Emit, x):
    """float64 cube root: the C library's ``cbrt``, as XLA calls it."""
    return xla_float64.cbrt(e, x)


TRANSCENDENTAL_DTYPES = {
    "exp": ("float32", "float64"), "exp2": ("float32", "float64"),
    "expm1": ("float32", "float64"), "log": ("float32", "float64"),
    "log1p": ("float32", "float64"), "tanh": ("float32", "float64"),
    "logistic": ("float32", "float64"), "sin": ("float32", "float64"),
    "cos": ("float32", "float64"), "tan": ("float32", "float64"),
    "erf": ("float32", "float64"), "erf_inv": ("float32", "float64"),
    # (these three replace lowering/cpu/codegen.py's own rules, registered before them)
    "sqrt": ("float32", "float64"), "rsqrt": ("float32", "float64"), "cbrt": ("float64",),
    # XLA's expansions (xla_float64, xla_float32_expansions)
    "sinh": ("float32", "float64"), "cosh": ("float32", "float64"),
    "asin": ("float32", "float64"), "acos": ("float32", "float64"),
    "asinh": ("float32", "float64"), "acosh": ("float32", "float64"),
    "atanh": ("float32", "float64"), "erfc": ("float32", "float64"),
    # lowering/cpu/special_math.py's series
    "bessel_i0e": ("float32", "float64"), "bessel_i1e": ("float32", "float64"),
}

from lowering.cpu import (  # noqa: E402  (XLA's rounding)
    xla_float32,
    xla_float32_expansions,
    xla_float64,
)


def erf_inv(e: Emit, x):
    """Inverse error function as XLA's CPU backend rounds it (``xla_float32``/
    ``xla_float64.erf_inv``)."""
    return (xla_float64 if _is64(x) else xla_float32).erf_inv(e, x)


def _xla_expansion(name: str):
    def fn(e: Emit, x, rounding=None):
        if _is64(x):
            return getattr(xla_float64, name)(e, x)
        if name in xla_float32_expansions.STEPWISE:
            return getattr(xla_float32_expansions, name)(e, x, rounding)
        return getattr(xla_float32_expansions, name)(e, x)
    fn.__name__ = name
    fn.__doc__ = (f"``{name}`` as XLA's CPU backend rounds it (``xla_float64.{name}``, "
                  f"``xla_float32_expansions.{name}``; ``rounding``: the float16 or bfloat16 "
                  "type whose steps XLA rounds, for the functions of ``ROUNDS_EACH_STEP``).")
    return fn


sinh, cosh, asin, acos, asinh, acosh, atanh, erfc = (
    _xla_expansion(n) for n in ("sinh", "cosh", "asin", "acos", "asinh", "acosh", "atanh",
                                "erfc"))
# float16/bfloat16: XLA rounds each step of these expansions to the type (their rule is
# called with the result's dtype as ``rounding``)
ROUNDS_EACH_STEP = frozenset(xla_float32_expansions.STEPWISE)


def bessel_i0e(e: Emit, x):
    """``exp(-|x|) I0(x)``: ``special_math.bessel_i0e`` (float32 and float64)."""
    from lowering.cpu import special_math  # (it imports this module)
    return special_math.bessel_i0e(e, x)


def bessel_i1e(e: Emit, x):
    """``exp(-|x|) I1(x)``: ``special_math.bessel_i1e`` (float32 and float64)."""
    from lowering.cpu import special_math  # (it imports this module)
    return special_math.bessel_i1e(e, x)
