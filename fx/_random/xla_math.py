"""float32 ``exp``, ``log``, ``log1p``, ``erf_inv`` and ``erf`` evaluated operation for
operation as XLA's CPU backend evaluates them (the backend JAX runs on), in NumPy; and
``rsqrt`` (the processor's estimate, refined) and ``pow`` (the C library's ``powf``) as
XLA computes them, by native code.

Why: JAX's samplers push uniform draws through these functions (``normal`` is
``sqrt(2) * erf_inv(u)``, ``exponential`` is ``-log1p(-u)``), so a draw is
bit-identical to JAX's only where the function rounds exactly as XLA's does.
Accuracy is XLA's, not better: erf_inv is within about 60 float32 ulp of the true
value near +-1 (a few ulp elsewhere); exp, log and log1p are within 3 ulp.

How XLA evaluates them (established by comparison with
``jax.jit(lax.exp/log/log1p/erf_inv)`` on tens of millions of float32 inputs; see
tests/random/test_xla_math.py):
- every ``a * b + c`` of the expansion is contracted into one fused multiply-add
  (rounded once); ``fma32`` emulates that exactly;
- ``exp``: the Cephes single-precision scheme. ``x`` is clamped to
  ``[-87.8, 88.8]``, ``n = floor(x log2(e) + 0.5)`` clamped to ``[-127, 127]``,
  ``r = x - n ln2`` in two fused steps (0.693359375 and -2.12194440e-4), a
  degree-5 Horner polynomial ``P`` with ``e**r = 1 + r + r**2 P(r)``, times ``2**n``
  built from the exponent bits (``2**-127`` becomes 0). Results below the smallest
  normal float32 are flushed to zero (XLA runs with denormals flushed);
- ``log``: the Cephes single-precision scheme. ``x = m 2**e`` with ``m`` in
  ``[sqrt(1/2), sqrt(2))``, ``f = m - 1``, a degree-8 polynomial in ``f``
  evaluated in three interleaved Horner chains joined with ``f**3``, and
  ``e * ln2`` added in two parts (0.693359375 and -2.12194440e-4);
- ``log1p``: ``log(1 + x)`` for ``|x| >= sqrt(2) - 1``, else
  ``x - x**2/2 + x**3 P(x)/Q(x)`` (Cephes' rational approximation, evaluated in
  float32);
- ``erf_inv``: Giles' single-precision approximation, ``w = -log1p(-x*x)``, a
  degree-8 polynomial in ``w - 2.5`` (``w < 5``) or ``sqrt(w) - 3``, times ``x``;
- ``erf``: ``x P(x**2) / Q(x**2)`` with P of degree 4 and Q of degree 6 (Eigen's
  rational approximation), clamped to +-1 beyond ``|x| = 3.8325069``; subnormal inputs
  and results are flushed to zero;
- ``rsqrt`` (``1 / sqrt`` after XLA's simplifier): on x86 with AVX the ``rsqrtss``
  estimate and one Newton step with fused multiply-adds (the estimate's bits are the
  processor's, so only native code computes it);
- ``pow``: the C library's ``powf``.

Invariants: inputs and outputs are float32 NumPy arrays. Subnormal *inputs* of ``log``
and ``log1p`` are read as zeros of their sign, as XLA reads them (it runs with
denormals-are-zero; JAX's eager and jitted results agree): ``log`` gives ``-inf``,
``log1p`` a signed zero; no sampler feeds them in. Subnormal *results* of ``exp`` are
flushed to zero as XLA does, so draws stay identical (they are off by less than
``2**-126`` absolutely). Special values follow C's ``exp``/``log``/``log1p``/``erfinv``.
Large arrays run the same operations as native code (``lowering.cpu.xla_float32``,
bit-identical) unless ``native=False``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["fma32", "exp_f32", "log_f32", "log1p_f32", "erf_inv_f32", "erf_f32", "rsqrt_f32",
           "pow_f32", "clog_f32", "ynn_log_f32", "ynn_exp_f32"]

_F32 = np.float32
_TINY = _F32(np.finfo(np.float32).tiny)
_NATIVE_MIN_SIZE = 256


def _native(name: str, x: np.ndarray):
    """The native kernel's result for float32 ``x``, or None when NumPy should do it
    (a small array, or llvmlite missing)."""
    if x.size < _NATIVE_MIN_SIZE:
        return None
    try:
        from lowering.cpu.xla_float32 import apply_array
    except ImportError:  # pragma: no cover - llvmlite missing
        return None
    return apply_array(name, x).reshape(x.shape)


def _f32(bits: int) -> np.float32:
    return np.array([bits], np.uint32).view(np.float32)[0]


def fma32(a, b, c) -> np.ndarray:
    """``a * b + c`` for float32 operands, rounded once (as a hardware FMA does).

    The product is exact in float64 (24 + 24 < 53 significant bits); the sum is
    rounded to float64 *to odd* (nearest, then nudged one float64 ulp towards the
    exact sum when inexact and even), which makes the final rounding to float32
    correct: round-to-odd at 53 bits never causes double rounding at 24 bits.
    """
    a = np.asarray(a, np.float32).astype(np.float64)
    b = np.asarray(b, np.float32).astype(np.float64)
    c = np.asarray(c, np.float32).astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        p = a * b
        s = p + c
        # the rounding error of s, exactly (Knuth's two-sum)
        s_minus_p = s - p
        err = (p - (s - s_minus_p)) + (c - s_minus_p)
    s = np.atleast_1d(s)
    err = np.atleast_1d(err)
    bits = s.view(np.int64)
    nudge = (err != 0) & np.isfinite(s) & ((bits & 1) == 0)
    step = np.where(np.signbit(err) == np.signbit(s), 1, -1)
    bits = np.where(nudge, bits + step, bits)
    out = bits.view(np.float64).astype(np.float32)
    return out.reshape(np.shape(p))


# Cephes' expf: 1/ln2, ln2 in two parts, and P with e**r = 1 + r + r**2 P(r), highest
# degree first
_LOG2E = _f32(0x3FB8AA3B)
_EXP_C1, _EXP_C2 = _f32(0x3F318000), _f32(0xB95E8083)   # 0.693359375, -2.12194440e-4
_EXP_P = [_f32(b) for b in (0x39506967, 0x3AB743CE, 0x3C088908, 0x3D2AA9C1, 0x3E2AAAAA,
                            0x3F000000)]
_EXP_LO, _EXP_HI = _F32(-87.8), _F32(88.8)


def exp_f32(x, native: bool = True) -> np.ndarray:
    """``e**x`` of float32 ``x``, rounded as XLA's CPU backend rounds it (results
    below ``2**-126`` flushed to zero)."""
    x = np.asarray(x, np.float32)
    if native and (out := _native("exp", x)) is not None:
        return out
    with np.errstate(invalid="ignore", over="ignore"):
        xc = np.minimum(np.maximum(x, _EXP_LO), _EXP_HI)   # (NaN stays NaN)
        n = np.clip(np.floor(fma32(xc, _LOG2E, _F32(0.5))), _F32(-127), _F32(127))
        r = fma32(-_EXP_C2, n, fma32(-_EXP_C1, n, xc))
        z = fma32(r, _EXP_P[0], _EXP_P[1])
        for c in _EXP_P[2:]:
            z = fma32(z, r, c)
        z = fma32(z, r * r, r) + _F32(1)
        k = np.where(np.isnan(n), 0, n).astype(np.int32)
        out = z * ((k + 127) << 23).astype(np.int32).view(np.float32)
    return np.where(out < _TINY, _F32(0), out).astype(np.float32)


# Cephes' logf polynomial, highest degree first
_LOG_P = [_F32(v) for v in (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1,
                             -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
                             2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1)]
_LN2_HI, _LN2_LO = _F32(0.693359375), _F32(-2.12194440e-4)
_SQRT_HALF = _F32(0.707106781186547524)


def log_f32(x, native: bool = True) -> np.ndarray:
    """Natural logarithm of float32 ``x``, rounded as XLA's CPU backend rounds it
    (subnormal ``x`` is read as zero, as XLA runs with denormals-are-zero: ``-inf``)."""
    x = np.asarray(x, np.float32)
    if native and (out := _native("log", x)) is not None:
        return out
    x = np.where(np.abs(x) < _TINY, _F32(0), x)  # (subnormals: read as zero)
    normal = np.isfinite(x) & (x >= _TINY)
    xn = np.where(normal, x, _F32(1))
    bits = xn.view(np.uint32)
    # x = m * 2**e with m in [0.5, 1), then shifted to [sqrt(1/2), sqrt(2)) - 1
    e = (bits >> 23).astype(np.int32) - 126
    m = ((bits & np.uint32(0x807FFFFF)) | np.uint32(0x3F000000)).view(np.float32)
    below = m < _SQRT_HALF
    f = (m - _F32(1)) + np.where(below, m, _F32(0))
    ef = (e - below).astype(np.float32)
    f2 = f * f
    f3 = f2 * f
    p = _LOG_P
    y0 = fma32(fma32(f, p[0], p[1]), f, p[2])
    y1 = fma32(fma32(f, p[3], p[4]), f, p[5])
    y2 = fma32(fma32(f, p[6], p[7]), f, p[8])
    y = fma32(fma32(y0, f3, y1), f3, y2)
    y = fma32(y, f3, _LN2_LO * ef)
    r = ((f - f2 * _F32(0.5)) + y) + _LN2_HI * ef
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(normal, r, np.log(x)).astype(np.float32)


# Cephes' log1p rational approximation, highest degree first (Q is monic)
_LOG1P_P = [_F32(v) for v in (4.5270000862445199635215e-5, 4.9854102823193375972212e-1,
                               6.5787325942061044846969e0, 2.9911919328553073277375e1,
                               6.0949667980987787057556e1, 5.7112963590585538103336e1,
                               2.0039553499201281259648e1)]
_LOG1P_Q = [_F32(v) for v in (1.0, 1.5062909083469192043167e1, 8.3047565967967209469434e1,
                               2.2176239823732856465394e2, 3.0909872225312059774938e2,
                               2.1642788614495947685003e2, 6.0118660497603843919306e1)]
_LOG1P_SMALL = _F32(0.41421356237309504880)  # sqrt(2) - 1


def _horner(coeffs, x):
    acc = np.zeros_like(x)
    for c in coeffs:
        acc = fma32(acc, x, c)
    return acc


def _on_subsets(x, mask, fn_true, fn_false):
    """``where(mask, fn_true(x), fn_false(x))``, evaluating each function only where used."""
    out = np.empty(x.shape, np.float32)
    if mask.all():
        out[...] = fn_true(x)
    elif not mask.any():
        out[...] = fn_false(x)
    else:
        out[mask] = fn_true(x[mask])
        out[~mask] = fn_false(x[~mask])
    return out


def _log1p_near_zero(x):
    x2 = x * x
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = _horner(_LOG1P_P, x) / _horner(_LOG1P_Q, x)
    near = x + fma32(_F32(-0.5), x2, (x * x2) * ratio)
    # subnormals are read as zeros (XLA's denormals-are-zero): log1p(+-0) = +-0
    return np.where(np.abs(x) < _TINY, x * _F32(0), near)


def log1p_f32(x, native: bool = True) -> np.ndarray:
    """``log(1 + x)`` of float32 ``x``, rounded as XLA's CPU backend rounds it (subnormal
    ``x`` is read as a zero of its sign, as XLA runs with denormals-are-zero)."""
    x = np.asarray(x, np.float32)
    if native and (out := _native("log1p", x)) is not None:
        return out
    small = np.abs(x) < _LOG1P_SMALL
    return _on_subsets(x, small, _log1p_near_zero,
                       lambda v: log_f32(v + _F32(1), native=False))


# erf: a rational approximation, odd numerator over even denominator in x**2 (the one
# Eigen uses), highest degree first; |x| beyond the clamp (erf_inv(1 - 2**-25)) gives +-1
_ERF_P = [_F32(v) for v in (0.00022905065861350646, 0.0034082910107109506,
                             0.050955695062380861, 0.18520832239976145, 1.128379143519084)]
_ERF_Q = [_F32(v) for v in (-1.1791602954361697e-7, 0.000023547966471313185,
                             0.0010179625278914885, 0.014070470171167667,
                             0.11098505178285362, 0.49746925110067538, 1.0)]
_ERF_CLAMP = _F32(3.832506856900711)


def erf_f32(x, native: bool = True) -> np.ndarray:
    """The error function of float32 ``x``, rounded as XLA's CPU backend rounds it:
    ``x P(x**2) / Q(x**2)`` (both Horner chains fused multiply-adds, one division),
    ``+-1`` for ``|x| >= 3.8325069``, and a signed zero for ``|x| < 2**-126`` (XLA
    flushes subnormals). Within 6 ulp of the true value (XLA's accuracy)."""
    x = np.asarray(x, np.float32)
    if native and (out := _native("erf", x)) is not None:
        return out
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        x2 = x * x
        p = _erf_inv_poly(_ERF_P, x2) * x
        q = _erf_inv_poly(_ERF_Q, x2)
        out = p / q
        out = np.where(np.abs(x) >= _ERF_CLAMP, np.copysign(_F32(1), x), out)
        out = np.where(np.abs(x) < _TINY, x * _F32(0), out)
    return out.astype(np.float32)


# Giles' single-precision erfinv coefficients (w < 5 and w >= 5), highest degree first
_ERFINV_LOW = [_F32(v) for v in (2.81022636e-08, 3.43273939e-07, -3.5233877e-06,
                                  -4.39150654e-06, 0.00021858087, -0.00125372503,
                                  -0.00417768164, 0.246640727, 1.50140941)]
_ERFINV_HIGH = [_F32(v) for v in (-0.000200214257, 0.000100950558, 0.00134934322,
                                   -0.00367342844, 0.00573950773, -0.0076224613,
                                   0.00943887047, 1.00167406, 2.83297682)]


def _erf_inv_poly(coeffs, t):
    acc = np.full(t.shape, coeffs[0], np.float32)
    for c in coeffs[1:]:
        acc = fma32(acc, t, c)
    return acc


def erf_inv_f32(x, native: bool = True) -> np.ndarray:
    """The inverse error function of float32 ``x``, rounded as XLA's CPU backend rounds
    it (``erf_inv(+-1) = +-inf``, NaN outside ``[-1, 1]``)."""
    x = np.asarray(x, np.float32)
    if native and (out := _native("erf_inv", x)) is not None:
        return out
    with np.errstate(over="ignore"):
        w = -log1p_f32(x * -x, native=False)
    with np.errstate(invalid="ignore"):
        poly = _on_subsets(w, w < _F32(5),
                           lambda v: _erf_inv_poly(_ERFINV_LOW, v - _F32(2.5)),
                           lambda v: _erf_inv_poly(_ERFINV_HIGH, np.sqrt(v) - _F32(3)))
        out = poly * x
        out = np.where(np.abs(x) == _F32(1), x * _F32(np.inf), out)
        out = np.where(np.abs(x) > _F32(1), _F32(np.nan), out)
    return out.astype(np.float32)


def _native_any_size(name: str, *xs):
    """The native kernel's result at any size, or None where llvmlite is missing."""
    try:
        from lowering.cpu.xla_float32 import apply_array
    except ImportError:  # pragma: no cover - llvmlite missing
        return None
    return apply_array(name, *xs).reshape(xs[0].shape)


def rsqrt_f32(x) -> np.ndarray:
    """``1 / sqrt(x)`` of float32 ``x`` as XLA's CPU backend computes it (JAX's gamma
    sampler uses it): on x86 with AVX the processor's ``rsqrtss`` estimate refined by
    one fused Newton-Raphson step (see ``lowering.cpu.xla_float32.rsqrt``), always by
    native code, since the estimate's exact bits are the processor's own. Without
    llvmlite: ``1 / sqrt(x)`` (within 2 ulp of XLA's, not bit-identical)."""
    x = np.asarray(x, np.float32)
    out = _native_any_size("rsqrt", x)
    if out is None:  # pragma: no cover - llvmlite missing
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (_F32(1) / np.sqrt(x)).astype(np.float32)
    return out


def pow_f32(x, y) -> np.ndarray:
    """float32 ``x ** y`` as XLA's CPU backend computes it: the C library's ``powf``
    (native code; NumPy's ``power`` without llvmlite)."""
    x, y = np.broadcast_arrays(np.asarray(x, np.float32), np.asarray(y, np.float32))
    out = _native_any_size("pow", x, y)
    if out is None:  # pragma: no cover - llvmlite missing
        with np.errstate(all="ignore"):
            out = np.power(x, y).astype(np.float32)
    return out


# ---------------------------------------------------------------------------
# The C library's logf, and YNNPACK's float32 log and exp.
#
# XLA's CPU backend does not always use the expansions above:
# - In a kernel of fewer than 16 elements the loop is unrolled and vectorised; lanes
#   that end up in a vector of 3, 5, 6 or 7 elements (the last ``n % 8`` of them) are
#   not rewritten to XLA's polynomial and call the C library's ``logf`` one at a time
#   (seen in a lone ``log`` kernel, e.g. dirichlet's ``log(v**3)``; kernels that fuse
#   more work keep the polynomial).
# - Fusions of 4096 elements or more that reduce (softmax-like: log, add, max, sub,
#   exp) run through YNNPACK, whose log and exp are its own. Their evaluation below was
#   read from jaxlib 0.10.2's ``ynn::log_fp32_x86_avx512f_avx512bw`` and
#   ``ynn::exp_fp32_x86_avx512f_avx512bw`` (constants and instruction order, every
#   ``a * b + c`` a fused multiply-add) and matches them bit for bit.


def _hex32(text: str) -> np.float32:
    return _F32(float.fromhex(text))


_LIBM_LOGF = None


def _c_logf():
    """The C library's ``logf`` through ctypes (None where there is no C library)."""
    global _LIBM_LOGF
    if _LIBM_LOGF is None:
        import ctypes
        import ctypes.util
        try:
            libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
            fn = libm.logf
        except (OSError, AttributeError):  # pragma: no cover - no C math library
            _LIBM_LOGF = False
            return None
        fn.restype, fn.argtypes = ctypes.c_float, [ctypes.c_float]
        _LIBM_LOGF = fn
    return _LIBM_LOGF or None


def clog_f32(x) -> np.ndarray:
    """float32 ``log`` by the C library's ``logf``, one element at a time (for the few
    lanes XLA leaves to it; XLA's ``log_f32`` where there is no C library)."""
    x = np.asarray(x, np.float32)
    fn = _c_logf()
    if fn is None:  # pragma: no cover - no C math library
        return log_f32(x)
    return np.array([fn(float(v)) for v in x.ravel()], np.float32).reshape(x.shape)


# YNNPACK's log: x = m 2**e with m in [1, 2) (halved above sqrt(2)), r = m - 1, and
# log(x) = r + r**2 (a0 + a1 r + a2 r**2) / (1 + b1 r + b2 r**2) + e ln2
_YLOG_A = (_hex32("-0x1.ffffe8p-2"), _hex32("-0x1.533ac6p-2"), _hex32("-0x1.56b5b0p-8"))
_YLOG_B = (_hex32("0x1.544792p+0"), _hex32("0x1.96192ep-2"))
_YLOG_SQRT2, _YLN2 = _hex32("0x1.6a09e6p+0"), _hex32("0x1.62e430p-1")


def ynn_log_f32(x) -> np.ndarray:
    """Natural logarithm of float32 ``x`` as YNNPACK computes it inside XLA's fusions
    (subnormal ``x`` treated as 0, as under the processor's denormals-are-zero mode)."""
    x = np.asarray(x, np.float32)
    x = np.where(np.abs(x) < _TINY, _F32(0), x)
    bits = x.view(np.uint32)
    m = ((bits & np.uint32(0x007FFFFF)) | np.uint32(0x3F800000)).view(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        _, exponent = np.frexp(x)
        e = np.where(x == 0, -np.inf, exponent - 1).astype(np.float32)
        e = np.where(np.isinf(x) | np.isnan(x), np.abs(x), e)
        e = np.where(x < 0, np.nan, e).astype(np.float32)
        big = m > _YLOG_SQRT2
        e = np.where(big, e + _F32(1), e)
        r = np.where(big, m * _F32(0.5), m) + _F32(-1)
        r2 = r * r
        num = fma32(_YLOG_A[1], r, fma32(_YLOG_A[2], r2, _YLOG_A[0]))
        den = fma32(_YLOG_B[0], r, fma32(_YLOG_B[1], r2, _F32(1)))
        return fma32(_YLN2, e, fma32(num / den, r2, r)).astype(np.float32)


# YNNPACK's exp: n = round(x log2(e)) (the product rounded), r = x - n ln2 in two fused
# steps, e**r - 1 = r + r**2 (B(r**2) + r A(r**2)), times 2**n (0 for n = -127)
_YEXP_LO, _YEXP_HI = _hex32("-0x1.601e68p+6"), _hex32("0x1.62e430p+6")
_YEXP_LOG2E = _hex32("0x1.715476p+0")
_YEXP_LN2 = (_hex32("-0x1.62e400p-1"), _hex32("-0x1.7f7d1cp-20"))
_YEXP_A = (_hex32("0x1.dd99d2p-13"), _hex32("0x1.10c53cp-7"), _hex32("0x1.5555a4p-3"))
_YEXP_B = (_hex32("-0x1.a24fc0p-15"), _hex32("0x1.727958p-10"), _hex32("0x1.555328p-5"),
           _hex32("0x1.fffffcp-2"))
_ROUND_MAGIC = _F32(12582912.0)   # 1.5 * 2**23
_EXP2_MAGIC = _F32(8388735.0)     # 2**23 + 127


def ynn_exp_f32(x) -> np.ndarray:
    """``e**x`` of float32 ``x`` as YNNPACK computes it inside XLA's fusions (results
    below ``2**-126`` flushed to zero, as XLA runs)."""
    x = np.asarray(x, np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        xc = np.minimum(np.maximum(x, _YEXP_LO), _YEXP_HI)
        n = ((xc * _YEXP_LOG2E) + _ROUND_MAGIC) - _ROUND_MAGIC
        scale_bits = (n + _EXP2_MAGIC).view(np.uint32).astype(np.uint64) << np.uint64(23)
        scale = (scale_bits & np.uint64(0xFFFFFFFF)).astype(np.uint32).view(np.float32)
        r = fma32(n, _YEXP_LN2[1], fma32(n, _YEXP_LN2[0], xc))
        r2 = r * r
        a = fma32(fma32(_YEXP_A[0], r2, _YEXP_A[1]), r2, _YEXP_A[2])
        b = _YEXP_B[0]
        for c in _YEXP_B[1:]:
            b = fma32(b, r2, c)
        p = fma32(fma32(a, r, b), r2, r)
        out = np.where(np.isinf(scale), scale, fma32(p, scale, scale))
        out = np.where(np.isnan(x), x, out)
    return np.where(np.abs(out) < _TINY, _F32(0), out).astype(np.float32)
