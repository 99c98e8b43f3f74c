"""Transcendental functions as branch-free IR: range reduction, a polynomial or
rational approximation with FMAs, and selects for special values, so the loop
vectorizer turns them into SIMD code (no libm calls in the vector loop).

Invariants: every function takes an ``Emit`` and a float (``float`` or
``double``) value and returns a value of the same type. float32 exp, log, log1p,
tan and pow round exactly as XLA's CPU backend does (lowering/cpu/xla_float32.py:
JAX's results and random draws, bit for bit; exp flushes subnormal results to zero
and is up to 5.3 ulp off just below its overflow threshold, as XLA's is). Accuracy
(measured against NumPy by tests/lowering/test_cpu_codegen.py): a few ulp over the
whole range for exp, exp2, expm1, log, log1p, logistic, tanh and erf (float32);
sin, cos and tan are a few ulp for |x| below about 1e5 (the reduction by pi/2
is Cody-Waite in double precision), NaN for infinities.

The coefficients are Taylor coefficients, or, for float32 tanh and erf, rational
approximations ``x P(x^2) / Q(x^2)`` fitted for these functions by weighted
least squares on relative error (Loeb's linearisation with Lawson reweighting)
in double precision.
"""
from __future__ import annotations

import math

from lowering.cpu.irutil import F32, F64, I32, I64, Emit

__all__ = ["exp", "exp2", "expm1", "log", "log1p", "tanh", "logistic", "sin", "cos", "tan",
           "erf", "erf_inv", "pow_f32", "TRANSCENDENTAL_DTYPES"]

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
    """e**x: float32 as XLA's CPU backend rounds it (``xla_float32.exp``: JAX's draws
    and results, subnormal results flushed to zero), float64 below."""
    if not _is64(x):
        return xla_float32.exp(e, x)
    return _exp(e, x)


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
    """2**x."""
    lo, hi = (-1076.0, 1025.0) if _is64(x) else (-151.0, 129.0)
    nan = e.isnan(x)
    xs = e.select(nan, e.like(x, 0.0), x)
    xc = e.fmin_clamp(xs, lo, hi)
    k = e.rint(xc)
    r = e.b.fmul(e.b.fsub(xc, k), e.like(x, math.log(2.0)))
    res = _scale(e, _exp_poly(e, r), k)
    return e.select(nan, x, res)


def expm1(e: Emit, x):
    """e**x - 1, accurate near 0."""
    small = e.fcmp("<", e.fabs(x), e.like(x, 0.7))
    coeffs = _FACT[1:19] if _is64(x) else _FACT[1:11]
    taylor = e.fmul(x, e.horner(x, coeffs))
    big = e.b.fsub(_exp(e, x), e.like(x, 1.0))
    return e.select(small, taylor, big)


def log(e: Emit, x):
    """Natural logarithm: float32 as XLA's CPU backend rounds it (``xla_float32.log``),
    float64 below."""
    if not _is64(x):
        return xla_float32.log(e, x)
    return _log(e, x)


def _log(e: Emit, x):
    """Natural logarithm: log(x) = k ln2 + log(m), m in [sqrt(1/2), sqrt(2))."""
    c = _consts(x)
    it = c["int_ty"]
    tiny = e.fcmp("<", x, e.like(x, c["min_normal"]))
    xn = e.select(tiny, e.b.fmul(x, e.like(x, 2.0 ** (c["mbits"] + 1))), x)
    adj = e.select(tiny, e.const(it, -(c["mbits"] + 1)), e.const(it, 0))
    bits = e.b.bitcast(xn, it)
    expo = e.b.and_(e.b.lshr(bits, e.const(it, c["mbits"])), e.const(it, c["emask"]))
    k = e.b.add(e.b.sub(expo, e.const(it, c["bias"])), adj)
    mant = e.b.bitcast(e.b.or_(e.b.and_(bits, e.const(it, c["mmask"])),
                               e.const(it, c["one_bits"])), x.type)
    big = e.fcmp(">", mant, e.like(x, math.sqrt(2.0)))
    mant = e.select(big, e.b.fmul(mant, e.like(x, 0.5)), mant)
    k = e.select(big, e.b.add(k, e.const(it, 1)), k)
    f = e.b.fsub(mant, e.like(x, 1.0))
    s = e.b.fdiv(f, e.b.fadd(f, e.like(x, 2.0)))
    z = e.b.fmul(s, s)
    nterms = 10 if _is64(x) else 4
    lg = [2.0 / (2 * j + 1) for j in range(1, nterms + 1)]
    big_r = e.b.fmul(z, e.horner(z, lg))
    hfsq = e.b.fmul(e.like(x, 0.5), e.b.fmul(f, f))
    log_m = e.b.fsub(f, e.b.fsub(hfsq, e.b.fmul(s, e.b.fadd(hfsq, big_r))))
    kf = e.b.sitofp(k, x.type)
    ln2_hi, ln2_lo = (0.6931471803691238, 1.9082149292705877e-10) if _is64(x) else \
        (0.693145751953125, 1.428606765330187e-06)
    res = e.fma(kf, e.like(x, ln2_hi), e.fma(kf, e.like(x, ln2_lo), log_m))
    res = e.select(e.fcmp("==", x, e.like(x, 0.0)), e.like(x, -math.inf), res)
    res = e.select(e.fcmp("<", x, e.like(x, 0.0)), e.like(x, math.nan), res)
    res = e.select(e.fcmp("==", x, e.like(x, math.inf)), x, res)
    return e.select(e.isnan(x), x, res)


def log1p(e: Emit, x):
    """log(1 + x): float32 as XLA's CPU backend rounds it (``xla_float32.log1p``),
    float64 accurate near 0 as log(u) * x / (u - 1) with u = 1 + x."""
    if not _is64(x):
        return xla_float32.log1p(e, x)
    u = e.b.fadd(x, e.like(x, 1.0))
    d = e.b.fsub(u, e.like(x, 1.0))
    res = e.b.fmul(_log(e, u), e.b.fdiv(x, d))
    res = e.select(e.fcmp("==", d, e.like(x, 0.0)), x, res)
    return e.select(e.fcmp("==", x, e.like(x, math.inf)), x, res)


_TANH_P = [0.9999999936248416, 0.13444523968535138, 0.0035716276627103492,
           2.189509604926458e-05, 1.5230914056998788e-08]
_TANH_Q = [1.0, 0.46777851325943665, 0.026164558931410044, 0.0003411338220596864,
           8.522672086030968e-07]


def tanh(e: Emit, x):
    """Hyperbolic tangent: a rational approximation (float32) or -em1/(2 + em1) with
    em1 = expm1(-2|x|) (float64)."""
    if _is64(x):
        ax = e.fabs(x)
        em = expm1(e, e.b.fmul(ax, e.like(x, -2.0)))
        t = e.b.fdiv(e.b.fneg(em), e.b.fadd(em, e.like(x, 2.0)))
        return e.copysign(t, x)
    # on [-8, 8] the float32 evaluation stays within [-1, 1] (checked exhaustively)
    xc = e.fmin_clamp(x, -8.0, 8.0)
    t2 = e.b.fmul(xc, xc)
    num = e.b.fmul(xc, e.horner(t2, _TANH_P))
    return e.b.fdiv(num, e.horner(t2, _TANH_Q))


def logistic(e: Emit, x):
    """1 / (1 + e**-x), computed from e**-|x| on both sides (no overflow, no cancellation)."""
    ex = _exp(e, e.b.fneg(e.fabs(x)))
    denom = e.b.fadd(ex, e.like(x, 1.0))
    pos = e.b.fdiv(e.like(x, 1.0), denom)
    neg = e.b.fdiv(ex, denom)
    return e.select(e.fcmp("<", x, e.like(x, 0.0)), neg, pos)


def erf(e: Emit, x):
    """Error function (float32) as XLA's CPU backend rounds it (``xla_float32.erf``:
    JAX's results and truncated_normal draws, bit for bit)."""
    return xla_float32.erf(e, x)


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
    r, q = _reduce_pio2(e, x)
    s, c = _sin_cos_poly(e, r)
    return _keep_zero(e, x, _quadrant(e, q, [s, c, e.b.fneg(s), e.b.fneg(c)]))


def cos(e: Emit, x):
    r, q = _reduce_pio2(e, x)
    s, c = _sin_cos_poly(e, r)
    return _quadrant(e, q, [c, e.b.fneg(s), e.b.fneg(c), s])


def tan(e: Emit, x):
    """Tangent: float32 as XLA computes it (the C library's ``tanf``, one call per
    element), float64 below."""
    if not _is64(x):
        return xla_float32.tan(e, x)
    r, q = _reduce_pio2(e, x)
    s, c = _sin_cos_poly(e, r)
    odd = e.b.icmp_unsigned("!=", e.b.and_(q, e.const(I64, 1)), e.const(I64, 0))
    return _keep_zero(e, x, e.select(odd, e.b.fdiv(e.b.fneg(c), s), e.b.fdiv(s, c)))


def pow_f32(e: Emit, x, y):
    """x**y for float32 as XLA computes it: the C library's ``powf``."""
    return xla_float32.pow(e, x, y)


TRANSCENDENTAL_DTYPES = {
    "exp": ("float32", "float64"), "exp2": ("float32", "float64"),
    "expm1": ("float32", "float64"), "log": ("float32", "float64"),
    "log1p": ("float32", "float64"), "tanh": ("float32", "float64"),
    "logistic": ("float32", "float64"), "sin": ("float32", "float64"),
    "cos": ("float32", "float64"), "tan": ("float32", "float64"), "erf": ("float32",),
    "erf_inv": ("float32",),
}

from lowering.cpu import xla_float32  # noqa: E402  (XLA's rounding: JAX's draws)
from lowering.cpu.xla_float32 import erf_inv  # noqa: E402,F401
