"""float64 ``log``, ``log1p``, ``erf_inv``, ``rsqrt`` and ``pow`` as XLA's CPU backend
evaluates them (the backend JAX runs on with ``jax_enable_x64``), and ``fma64``, a
float64 multiply-add rounded once.

How XLA evaluates them (read from the LLVM IR and object code XLA emits for
``jax.jit(jax.random.gamma)`` at float64, confirmed draw for draw against JAX):
- ``log`` and ``pow`` call the C library's ``log`` and ``pow`` (one element at a time);
- subnormal inputs read as zeros (XLA runs with denormals-are-zero);
- ``log1p``: ``log(1 + x)`` for ``|x| >= sqrt(2) - 1``, else (within about 200 ulp for
  ``x`` in ``[1 - sqrt(2), sqrt(1/2) - 1]``, outside the range Cephes designed it for)
  ``x + (-x**2/2 + x**3 P(x)/Q(x))`` (Cephes' double-precision rational approximation,
  both polynomials Horner chains of fused multiply-adds);
- ``erf_inv``: Giles' double-precision approximation: ``w = -log1p(-x*x)``, a Horner
  chain of fused multiply-adds in ``w - 3.125`` (``w < 6.25``), ``sqrt(w) - 3.25``
  (``w < 16``) or ``sqrt(w) - 5``, times ``x``; ``+-inf`` at ``x = +-1``;
- ``rsqrt`` (``1 / sqrt`` after XLA's simplifier), with AVX-512: the ``vrsqrt14pd``
  estimate refined by two Newton-Raphson steps ``y + (-y/2) * ((x*y)*y - 1)`` (the
  ``- 1`` and ``+ y`` fused); the bare estimate for zeros, subnormals, infinities and
  negative numbers.

Invariants: inputs and outputs are float64 NumPy arrays. ``fma64``, ``rsqrt`` and the
C library calls run as native code (one small LLVM module, compiled once per process and
disk-cached); without llvmlite they fall back to plain NumPy arithmetic (``a * b + c``
rounded twice, ``1 / sqrt(x)``, NumPy's ``log``/``power``), within an ulp or two of
XLA's, not bit-identical.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import threading

import numpy as np

__all__ = ["fma64", "log_f64", "log1p_f64", "erf_inv_f64", "rsqrt_f64", "pow_f64", "exp_f64",
           "tanh_f64", "expm1_f64", "logistic_f64", "sqrt_f64", "libm_f64", "LIBM_DAZ", "apply_f64"]

_F64 = np.float64
_TINY = _F64(np.finfo(np.float64).tiny)


def _hex(text: str) -> np.float64:
    return _F64(float.fromhex(text))


def _bits(pattern: int) -> np.float64:
    return np.array([pattern], np.uint64).view(_F64)[0]


# ---------------------------------------------------------------------------
# native kernels: fma, rsqrt and the C library's log and pow, as loops over arrays

_kernels: dict = {}
_lock = threading.Lock()
_ARITY = {"fma": 3, "rsqrt": 1, "log": 1, "pow": 2}
_LIBM = {"log": "log", "pow": "pow"}
# every C library function XLA's float64 code calls (lowering/cpu/xla_float64.py calls
# them through LLVM's intrinsics or these names): its arity, and how XLA's results
# relate to the function's: "plain" (its own on every input: sin, tan and atan return
# a subnormal x as it is), "daz" (on inputs with subnormals read as zero, subnormal
# results flushed) or "mxcsr" (a subnormal operand makes the library run with the
# processor's DAZ/FTZ mode, which only native code can set; otherwise "daz")
LIBM_DAZ = {"log": (1, "daz"), "pow": (2, "mxcsr"), "sin": (1, "plain"),
            "cos": (1, "plain"), "tan": (1, "plain"), "atan": (1, "plain"),
            "erf": (1, "daz"), "cbrt": (1, "daz"), "atan2": (2, "mxcsr")}


def _libm_symbol(cname: str) -> str:
    from lowering.cpu import runtime
    symbol = f"fx_libm64_{cname}"
    libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    runtime.register_symbol(symbol, ctypes.cast(getattr(libm, cname), ctypes.c_void_p).value)
    return symbol


def _has_avx512() -> bool:
    from lowering.cpu import runtime
    info = runtime.host_info()
    features = info["features"].split(",")
    return info["triple"].startswith("x86_64") and "+avx512f" in features and \
        "+avx512vl" in features


def _emit_rsqrt(b, module, x):
    """XLA's float64 ``1 / sqrt(x)`` (see the module docstring)."""
    from llvmlite import ir

    from lowering.cpu.irutil import I32, declare
    one = ir.Constant(x.type, 1.0)
    if not _has_avx512():
        sqrt = declare(module, "llvm.sqrt.f64", ir.FunctionType(x.type, [x.type]))
        return b.fdiv(one, b.call(sqrt, [x]))
    vec = ir.VectorType(x.type, 2)
    estimate = declare(module, "llvm.x86.avx512.rsqrt14.pd.128",
                       ir.FunctionType(vec, [vec, vec, ir.IntType(8)]))
    fma = declare(module, "llvm.fma.f64", ir.FunctionType(x.type, [x.type] * 3))
    lanes = b.insert_element(ir.Constant(vec, None), x, ir.Constant(I32, 0))
    raw = b.call(estimate, [lanes, ir.Constant(vec, [0.0, 0.0]), ir.Constant(ir.IntType(8), 255)])
    guess = b.extract_element(raw, ir.Constant(I32, 0))
    y = guess
    for _ in range(2):
        half = b.fmul(y, ir.Constant(x.type, -0.5))
        err = b.call(fma, [b.fmul(x, y), y, ir.Constant(x.type, -1.0)])
        y = b.call(fma, [half, err, y])
    tiny = ir.Constant(x.type, float(np.finfo(np.float64).tiny))
    newton = b.and_(b.fcmp_unordered(">=", x, tiny),
                    b.fcmp_unordered("!=", x, ir.Constant(x.type, float("inf"))))
    return b.select(newton, y, guess)


def _emit_loop(module, name: str):
    """``void f(ptr src..., ptr dst, i64 n)``: ``dst[i] = name(src[i]...)``."""
    from llvmlite import ir

    from lowering.cpu.irutil import I64, PTR, VOID, declare, for_range
    f64 = ir.DoubleType()
    arity = _ARITY[name]
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR] * (arity + 1) + [I64]),
                     f"fx_xla64_{name}")
    *srcs, dst, n = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))

    def element(i):
        xs = [b.load(b.gep(s, [i], inbounds=True, source_etype=f64), typ=f64, align=8)
              for s in srcs]
        if name == "fma":
            y = b.call(declare(module, "llvm.fma.f64", ir.FunctionType(f64, [f64] * 3)), xs)
        elif name == "rsqrt":
            y = _emit_rsqrt(b, module, xs[0])
        else:
            symbol = _libm_symbol(_LIBM[name])
            y = b.call(declare(module, symbol, ir.FunctionType(f64, [f64] * arity)), xs)
        b.store(y, b.gep(dst, [i], inbounds=True, source_etype=f64), align=8)
    for_range(b, n, element)
    b.ret_void()


def _build_kernels() -> dict:
    from llvmlite import ir

    from lowering.cpu import diskcache, runtime
    module = ir.Module(name="fx_xla_float64")
    module.triple = runtime.host_info()["triple"]
    module.data_layout = str(runtime.target_machine().target_data)
    for name in _ARITY:
        _emit_loop(module, name)
    text = str(module)
    symbols = [f"fx_xla64_{n}" for n in _ARITY]
    addresses = diskcache.compile_cached(text, lambda: (text, symbols))[0]
    return {n: ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * (_ARITY[n] + 1), ctypes.c_int64)(
        addresses[f"fx_xla64_{n}"]) for n in _ARITY}


def _register_providers():
    try:
        from lowering.cpu import runtime
    except ImportError:  # pragma: no cover - llvmlite missing
        return
    for cname in LIBM_DAZ:  # for object code loaded from the disk cache
        runtime.register_symbol_provider(f"fx_libm64_{cname}",
                                         lambda cname=cname: _libm_symbol(cname))


_register_providers()


def _native(name: str, *xs):
    """``name`` of float64 arrays (broadcast together) by native code, or None without
    llvmlite."""
    if not _kernels:
        with _lock:
            if not _kernels:
                try:
                    _kernels.update(_build_kernels())
                except ImportError:  # pragma: no cover - llvmlite missing
                    _kernels["missing"] = None
    if "missing" in _kernels:  # pragma: no cover - llvmlite missing
        return None
    arrays = [np.ascontiguousarray(a, _F64) for a in np.broadcast_arrays(*xs)]
    out = np.empty(arrays[0].shape, _F64)
    _kernels[name](*[a.ctypes.data for a in arrays], out.ctypes.data, out.size)
    return out


def _daz(x) -> np.ndarray:
    """Subnormal float64 inputs read as signed zeros, as XLA runs (denormals-are-zero)."""
    x = np.asarray(x, _F64)
    return np.where(np.abs(x) < _TINY, np.copysign(_F64(0), x), x)


def _ftz(x) -> np.ndarray:
    """Subnormal float64 results flushed to signed zeros, as XLA runs (flush-to-zero)."""
    return np.where(np.abs(x) < _TINY, np.copysign(_F64(0), x), x)


def fma64(a, b, c) -> np.ndarray:
    """``a * b + c`` of float64 operands rounded once (as a hardware FMA rounds it)."""
    out = _native("fma", a, b, c)
    if out is None:  # pragma: no cover - llvmlite missing
        with np.errstate(all="ignore"):
            out = np.asarray(a, _F64) * np.asarray(b, _F64) + np.asarray(c, _F64)
    return out


def log_f64(x) -> np.ndarray:
    """Natural logarithm of float64 ``x`` as XLA computes it: the C library's ``log``."""
    x = _daz(x)
    out = _native("log", x)
    if out is None:  # pragma: no cover - llvmlite missing
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.log(np.asarray(x, _F64))
    return out


def pow_f64(x, y) -> np.ndarray:
    """float64 ``x ** y`` as XLA computes it: the C library's ``pow``."""
    out = _native("pow", x, y)
    if out is None:  # pragma: no cover - llvmlite missing
        with np.errstate(all="ignore"):
            out = np.power(np.asarray(x, _F64), np.asarray(y, _F64))
    return out


def rsqrt_f64(x) -> np.ndarray:
    """float64 ``1 / sqrt(x)`` as XLA's CPU backend computes it (with AVX-512 the
    processor's estimate refined twice, so only native code has its exact bits)."""
    x = _daz(x)
    out = _native("rsqrt", x)
    if out is None:  # pragma: no cover - llvmlite missing
        with np.errstate(divide="ignore", invalid="ignore"):
            out = 1.0 / np.sqrt(np.asarray(x, _F64))
    return out


# ---------------------------------------------------------------------------
# log1p and erf_inv: XLA's expansions, in NumPy over fma64

# Cephes' log1p rational approximation (double precision), highest degree first (Q monic);
# the bit patterns XLA's IR holds
_LOG1P_P = [_bits(b) for b in (0x3F07BC0962B395CA, 0x3FDFE818A0FE1A83, 0x401A509F46F4FA53,
                               0x403DE9738B8CB9C9, 0x404E798EB86C3351, 0x404C8E7597479A10,
                               0x40340A202D99830A)]
_LOG1P_Q = [_bits(b) for b in (0x3FF0000000000000, 0x402E20359E903E37, 0x4054C30B52213498,
                               0x406BB86590FCFB56, 0x407351945DC908A5, 0x406B0DB13E48E066,
                               0x404E0F304466448E)]
_LOG1P_SMALL = _bits(0x3FDA827999FCEF32)   # sqrt(2) - 1


def _horner(coeffs, x):
    """``((c0 x + c1) x + c2) ...`` with every step one fused multiply-add, from 0."""
    acc = np.zeros_like(x)
    for c in coeffs:
        acc = fma64(acc, x, c)
    return acc


def log1p_f64(x) -> np.ndarray:
    """``log(1 + x)`` of float64 ``x`` as XLA's CPU backend computes it."""
    x = _daz(x)
    with np.errstate(all="ignore"):
        x2 = x * x
        ratio = _horner(_LOG1P_P, x) / _horner(_LOG1P_Q, x)
        near = x + fma64(x2, _F64(-0.5), (x * x2) * ratio)
        far = log_f64(x + _F64(1))
    return np.where(np.abs(x) < _LOG1P_SMALL, near, far)


# Giles' double-precision erf_inv, as XLA's HLO holds it: for w < 6.25 a polynomial in
# w - 3.125, for w < 16 in sqrt(w) - 3.25, beyond in sqrt(w) - 5 (highest degree first)
_ERFINV_CENTRAL = [_hex(h) for h in (
    "-0x1.135d2e746e627p-68", "-0x1.8ddf93324d327p-63", "0x1.7b83eef0b7c9fp-60",
    "0x1.9ba72cd589b91p-57", "-0x1.33689090a6b96p-53", "0x1.82e11898132e0p-56",
    "0x1.de4acfd9e26bap-48", "-0x1.6d33eed66c487p-45", "-0x1.6f2167040d8e2p-44",
    "0x1.72a22c2d77e20p-39", "-0x1.c8859c4e5c0afp-37", "-0x1.dc583d118a561p-35",
    "0x1.20f47ccf46b3cp-30", "-0x1.1a9e38dc84d60p-28", "-0x1.f36cd6d3d46a9p-26",
    "0x1.c6b4f5d03b787p-22", "-0x1.6e8a5434ae8a2p-20", "-0x1.d1d1f7b8736f6p-17",
    "0x1.879c2a212f024p-13", "-0x1.845769484fca8p-11", "-0x1.8b6c33114f909p-8",
    "0x1.ebd80d9b13e28p-3", "0x1.a755e7c99ae86p+0")]
_ERFINV_TAIL = [_hex(h) for h in (
    "0x1.3040f87dbd932p-29", "0x1.85cbe52878635p-24", "-0x1.2777453dd3955p-22",
    "0x1.395abcd554c6cp-26", "0x1.936388a3790adp-20", "-0x1.0d5db812b5083p-18",
    "0x1.8860cd5d652f6p-19", "0x1.a29a0cacdfb23p-17", "-0x1.8cef1f80281f2p-15",
    "0x1.1e684d0b9188ap-14", "0x1.932cd54c8a222p-16", "-0x1.7448a89ef8aa3p-12",
    "0x1.f3cc55ad40c25p-11", "-0x1.ba924132f38b1p-10", "0x1.468eeca533cf8p-9",
    "-0x1.ebadabb891bbdp-9", "0x1.5ffcfe5b76afcp-8", "0x1.0158a6d641d39p+0",
    "0x1.8abcc380d5a48p+1")]
_ERFINV_FAR = [_hex(h) for h in (
    "-0x1.dcec3a7785389p-36", "-0x1.18feec0e38727p-32", "0x1.9e6bf2dda45e3p-30",
    "-0x1.0468fb24e2f5fp-28", "0x1.05ac6a8fba182p-27", "-0x1.0102e495fb9c0p-26",
    "0x1.f4c20e1334af8p-26", "-0x1.22d220fdf9c3ep-24", "0x1.ebc8bb824cb54p-23",
    "-0x1.0a8d40ea372ccp-20", "0x1.2fbd29d093d2bp-18", "-0x1.4a3497e1e0facp-16",
    "0x1.3ebf4eb00938fp-14", "-0x1.c2f36a8fc5d53p-13", "-0x1.22ea5df04047cp-13",
    "0x1.02a30d1fba0dcp+0", "0x1.3664ddd1ad7fbp+2")]


def _first_horner(coeffs, t):
    acc = np.full(t.shape, coeffs[0], _F64)
    for c in coeffs[1:]:
        acc = fma64(acc, t, c)
    return acc


def erf_inv_f64(x) -> np.ndarray:
    """The inverse error function of float64 ``x`` as XLA's CPU backend computes it
    (``+-inf`` at ``+-1``, NaN outside ``[-1, 1]``)."""
    x = _daz(x)
    with np.errstate(all="ignore"):
        w = -log1p_f64(x * -x)
        root = np.sqrt(w)
        central = w < _F64(6.25)
        tail = w < _F64(16)
        poly = np.where(central, _first_horner(_ERFINV_CENTRAL, w + _F64(-3.125)),
                        np.where(tail, _first_horner(_ERFINV_TAIL, root - _F64(3.25)),
                                 _first_horner(_ERFINV_FAR, root - _F64(5))))
        out = _ftz(poly * x)
    return np.where(np.abs(x) == _F64(1), np.copysign(_F64(np.inf), x), out)


# XLA's own exp: n = floor(x log2(e) + 1/2), g = x - n ln2 (ln2 in two parts, both steps
# fused), e**g = 1 + 2 g P(g**2) / (Q(g**2) - g P(g**2)) (Cephes' Pade form), times 2**n
# applied as (2**b)**3 2**(n - 3b) with b = n >> 2 (so no factor overflows)
_EXP_LO, _EXP_HI = _bits(0xC086232BDD7ABCD2), _bits(0x40862E42FEFA39EF)
_EXP_LOG2E = _bits(0x3FF71547652B82FE)
_EXP_LN2 = (_bits(0x3FE62E4000000000), _bits(0x3EB7F7D1CF79ABCA))
_EXP_P = (_bits(0x3F2089CDD5E44BE8), _bits(0x3F9F06D10CCA2C7E), _F64(1))
_EXP_Q = (_bits(0x3EC92EB6BC365FA0), _bits(0x3F64AE39B508B6C0), _bits(0x3FCD17099887E074),
          _F64(2))
_ONE_BITS = 0x3FF0000000000000


def _exp_scaled(xc):
    """XLA's exp of clamped ``xc`` before its last scaling: ``(t, rest)`` with
    ``e**xc = t * rest`` (``rest = 2**(n - 3b)``)."""
    n = np.floor(fma64(xc, _EXP_LOG2E, _F64(0.5)))
    g = fma64(-n, _EXP_LN2[1], fma64(-n, _EXP_LN2[0], xc))
    g2 = g * g
    pg = fma64(fma64(g2, _EXP_P[0], _EXP_P[1]), g2, _EXP_P[2]) * g
    q = fma64(fma64(fma64(g2, _EXP_Q[0], _EXP_Q[1]), g2, _EXP_Q[2]), g2, _EXP_Q[3])
    e = fma64(pg / (q - pg), _F64(2), _F64(1))
    k = np.clip(np.where(np.isnan(n), 0, n), -2099, 2099).astype(np.int64)
    b = k >> 2
    scale = ((b << 52) + _ONE_BITS).view(_F64)
    rest = ((((k - 3 * b) & 0xFFF) << 52) + _ONE_BITS).view(_F64)
    return ((e * scale) * scale) * scale, rest


def exp_f64(x) -> np.ndarray:
    """``e**x`` of float64 ``x`` as XLA's CPU backend computes it (its own expansion; 0
    below about -708.4, ``inf`` above about 709.8, subnormal results flushed to zero)."""
    x = _daz(x)
    with np.errstate(all="ignore"):
        xc = np.minimum(np.maximum(x, _EXP_LO), _EXP_HI)   # (NaN stays NaN)
        t, rest = _exp_scaled(xc)
        out = t * rest
        out = np.where(x < _EXP_LO, _F64(0), np.where(x > _EXP_HI, _F64(np.inf), out))
    return np.where(np.abs(out) < _TINY, _F64(0), out)


# XLA's float64 tanh: x P(x**2) / Q(x**2) (Horner chains of fused multiply-adds) on x
# clamped to +-17.71, +-1 from |x| = 20 (highest degree first)
_TANH_CLAMP = _bits(0x4031B6D58F246197)
_TANH_P = [_bits(b) for b in (0x3B3F9F82E5D782DF, 0x3C2C3C836C04B4C8, 0x3CEC3379F905E662,
                              0x3D929AFF6C8EDD96, 0x3E2525A389DCE7C2, 0x3EA708819BE51CD9,
                              0x3F18996F4026A7FA, 0x3F787F80B957ED00, 0x3FC36FBA9B450E5A)]
_TANH_Q = [_bits(b) for b in (0x3BBE8630CF903250, 0x3C90AABCA9A5FEA0, 0x3D4232981AA2BBA8,
                              0x3DDEE2F015EA8065, 0x3E681F1947C52304, 0x3EE26C82AB46D140,
                              0x3F4B2E7C4D488C04, 0x3FA1998830265B50, 0x3FDF0D32A2F7DC79)]


def _tanh(x):
    """XLA's tanh of float64 ``x`` (denormals already read as zero)."""
    xc = np.where(x < -_TANH_CLAMP, -_TANH_CLAMP, np.where(x > _TANH_CLAMP, _TANH_CLAMP, x))
    x2 = xc * xc
    num = xc * _first_horner(_TANH_P + [_F64(1)], x2)
    out = num / _first_horner(_TANH_Q + [_F64(1)], x2)
    return np.where(np.abs(x) >= _F64(20), np.copysign(_F64(1), x), out)


def tanh_f64(x, native: bool = True) -> np.ndarray:
    """The hyperbolic tangent of float64 ``x`` as XLA's CPU backend computes it."""
    x = np.asarray(x, _F64)
    if native and (out := _native_loop("tanh", x)) is not None:
        return out
    with np.errstate(all="ignore"):
        return _tanh(_daz(x))


def expm1_f64(x, native: bool = True) -> np.ndarray:
    """``e**x - 1`` of float64 ``x`` as XLA's CPU backend computes it: ``exp(x) - 1`` for
    ``|x| > 0.5``, else ``tanh(x/2) (exp(x) + 1)``; ``x`` itself where ``x/2`` is zero."""
    x = np.asarray(x, _F64)
    if native and (out := _native_loop("expm1", x)) is not None:
        return out
    xd = _daz(x)
    with np.errstate(all="ignore"):
        e = exp_f64(xd)
        h = _ftz(xd * _F64(0.5))
        out = np.where(np.abs(xd) > _F64(0.5), e + _F64(-1), _tanh(h) * (e + _F64(1)))
    return np.where(h == 0, x, out)


def logistic_f64(x, native: bool = True) -> np.ndarray:
    """``1 / (1 + e**-x)`` of float64 ``x`` as XLA's CPU backend computes it (its exp
    expansion, the last scaling and the ``+ 1`` one fused multiply-add)."""
    x = np.asarray(x, _F64)
    if native and (out := _native_loop("logistic", x)) is not None:
        return out
    xd = _daz(x)
    with np.errstate(all="ignore"):
        t, rest = _exp_scaled(np.minimum(np.maximum(-xd, _EXP_LO), _EXP_HI))
        out = _F64(1) / fma64(t, rest, _F64(1))
        out = np.where(xd > -_EXP_LO, _F64(1), np.where(xd < -_EXP_HI, _F64(0), out))
    return _ftz(out)


def sqrt_f64(x) -> np.ndarray:
    """float64 square root as XLA's CPU backend computes it (subnormals read as zero)."""
    with np.errstate(invalid="ignore"):
        return np.sqrt(_daz(x))


def libm_f64(name: str, *xs) -> np.ndarray:
    """The C library's float64 ``name`` (a key of ``LIBM_DAZ``: ``sin``, ``cos``, ``tan``,
    ``atan``, ``erf``, ``cbrt``, ``atan2``, ``log``, ``pow``) of float64 arrays
    (broadcast together), as XLA's CPU backend calls it: with denormals-are-zero
    inputs and flushed results where ``LIBM_DAZ`` says so (``pow`` of a subnormal runs
    the library in that mode). Native code; NumPy's function without llvmlite.

    Example: ``libm_f64("erf", np.float64([1e-310]))`` is ``[0.0]``.
    """
    if name not in LIBM_DAZ:
        raise ValueError(f"libm_f64: name must be one of {sorted(LIBM_DAZ)}, got {name!r}")
    arrays = np.broadcast_arrays(*[np.asarray(a, _F64) for a in xs])
    out = _native_loop(name, *arrays, min_size=0)
    if out is None:  # pragma: no cover - llvmlite missing
        fn = {"atan": np.arctan, "atan2": np.arctan2, "pow": np.power, "log": np.log,
              "sin": np.sin, "cos": np.cos, "tan": np.tan, "cbrt": np.cbrt}.get(name)
        if fn is None:
            import scipy.special as sp
            fn = sp.erf
        if LIBM_DAZ[name][1] != "plain":
            arrays = [_daz(a) for a in arrays]
        with np.errstate(all="ignore"):
            out = np.asarray(fn(*arrays), _F64)
        if LIBM_DAZ[name][1] != "plain":
            out = np.where(np.abs(out) < _TINY, np.copysign(_F64(0), out), out)
    return out


_NATIVE_MIN_SIZE = 256


def _native_loop(name: str, *xs, min_size: int = _NATIVE_MIN_SIZE):
    """``name`` of float64 arrays by lowering.cpu.xla_float64's native loop (the same
    operations, bit for bit), or None for small arrays or without llvmlite."""
    if xs[0].size < min_size:
        return None
    try:
        from lowering.cpu.xla_float64 import apply_array
    except ImportError:  # pragma: no cover - llvmlite missing
        return None
    return apply_array(name, *xs).reshape(xs[0].shape)


def apply_f64(name: str, *xs) -> np.ndarray:
    """XLA's float64 ``name`` of float64 arrays (broadcast together), for the eager impls:
    native code at every size (lowering.cpu.xla_float64, bit-identical to JAX's jit under
    x64); the specification above without llvmlite. ``name``: ``exp``, ``log``,
    ``log1p``, ``expm1``, ``tanh``, ``logistic``, ``erf_inv``, ``rsqrt``, ``sqrt``, a key
    of ``LIBM_DAZ``, or one of XLA's expansions built from them (``exp2``, ``sinh``,
    ``cosh``, ``asin``, ``acos``, ``asinh``, ``acosh``, ``atanh``, ``erfc``, ``lgamma``,
    ``digamma``: native code only; NumPy's or SciPy's function without llvmlite).

    Example: ``apply_f64("exp", np.float64([1.0]))`` is ``[2.718281828459045]``.
    """
    arrays = np.broadcast_arrays(*[np.asarray(a, _F64) for a in xs])
    out = _native_loop(name, *arrays, min_size=0)
    if out is not None:
        return out
    spec = {"exp": exp_f64, "log": log_f64, "log1p": log1p_f64, "expm1": expm1_f64,
            "tanh": tanh_f64, "logistic": logistic_f64, "erf_inv": erf_inv_f64,
            "rsqrt": rsqrt_f64, "sqrt": sqrt_f64}.get(name)  # pragma: no cover
    if spec is None and name in _COMPOSITE:  # pragma: no cover - llvmlite missing
        import scipy.special as sp
        fn = _COMPOSITE[name] or getattr(sp, {"lgamma": "gammaln", "digamma": "psi"}.get(
            name, name))
        with np.errstate(all="ignore"):
            return np.asarray(fn(*arrays), _F64)
    return spec(*arrays) if spec is not None else libm_f64(name, *arrays)  # pragma: no cover


# XLA's expansions built from the functions above (lowering/cpu/xla_float64.py, native
# code only): without llvmlite, NumPy's or SciPy's function (within a few ulp, not XLA's
# bits)
_COMPOSITE = {"exp2": np.exp2, "sinh": np.sinh, "cosh": np.cosh, "asin": np.arcsin,
              "acos": np.arccos, "asinh": np.arcsinh, "acosh": np.arccosh,
              "atanh": np.arctanh, "erfc": None, "lgamma": None, "digamma": None}


# ---------------------------------------------------------------------------
# YNNPACK's float64 log and exp (XLA hands fusions of 4096 elements or more that reduce,
# such as dirichlet's softmax, to YNNPACK). Read from jaxlib 0.10.2's
# ``ynn::log_fp64_x86_avx512f_avx512bw`` and ``ynn::exp_fp64_x86_avx512f_avx512bw``
# (constants and instruction order; every ``a * b + c`` one fused multiply-add).

# log: x = m 2**e with m in [1, 2) (halved above sqrt(2)), r = m - 1, and
# log(x) = r + r**2 N(r) / D(r) + e ln2, N and D each split into even and odd halves
_YLOG_N_EVEN = (_bits(0xBFB1213839634A69), _bits(0xBFF1C6839D645941), _bits(0xBFDFFFFFFFFFFFEE))
_YLOG_N_ODD = (_bits(0xBF6837475A1E9888), _bits(0xBFDB74B455A137A7), _bits(0xBFF3E34AD8C76067))
_YLOG_D_EVEN = (_bits(0x3F68A6B6134937F9), _bits(0x3FE46188D0CD4D4B), _bits(0x400E96EE66CCD02C),
                _F64(1))
_YLOG_D_ODD = (_bits(0x3FB4552D561D9DA1), _bits(0x4001D8AF20C03734), _bits(0x400938A02E1CB600))
_YLOG_SQRT2, _YLN2 = _bits(0x3FF6A09E667F3BCD), _bits(0x3FE62E42FEFA39EF)


def _chain64(coeffs, x):
    acc = np.full(np.shape(x), coeffs[0], _F64)
    for c in coeffs[1:]:
        acc = fma64(acc, x, c)
    return acc


def ynn_log_f64(x) -> np.ndarray:
    """Natural logarithm of float64 ``x`` as YNNPACK computes it inside XLA's fusions
    (subnormal ``x`` read as zero)."""
    x = _daz(x)
    bits = x.view(np.uint64)
    m = ((bits & np.uint64(0x000FFFFFFFFFFFFF)) | np.uint64(0x3FF0000000000000)).view(_F64)
    with np.errstate(all="ignore"):
        _, exponent = np.frexp(x)
        e = np.where(x == 0, -np.inf, exponent - 1).astype(_F64)
        e = np.where(np.isinf(x) | np.isnan(x), np.abs(x), e)
        e = np.where(x < 0, np.nan, e)
        big = m > _YLOG_SQRT2
        e = np.where(big, e + _F64(1), e)
        r = np.where(big, m * _F64(0.5), m) + _F64(-1)
        r2 = r * r
        num = fma64(r, _chain64(_YLOG_N_ODD, r2), _chain64(_YLOG_N_EVEN, r2))
        den = fma64(r, _chain64(_YLOG_D_ODD, r2), _chain64(_YLOG_D_EVEN, r2))
        return fma64(e, _YLN2, fma64(r2, num / den, r))


# exp: n = round(x log2(e)) (the product rounded), r = x - n ln2 in two fused steps,
# e**r - 1 = r + r**2 (Q(r**2) + r P(r**2)), times 2**n built from n's bits
_YEXP_LO, _YEXP_HI = _bits(0xC08628B76E3A7B61), _bits(0x40862E42FEFA39EF)
_YEXP_LOG2E = _bits(0x3FF71547652B82FE)
_YEXP_ROUND = _bits(0x4338000000000000)          # 1.5 * 2**52
_YEXP_BIAS = _bits(0x43300000000003FF)           # 2**52 + 1023
_YEXP_LN2 = (_bits(0xBFE62E42FEE00000), _bits(0xBDEA39EF35793C76))
_YEXP_P = (_bits(0x3E5B11E3E4B25337), _bits(0x3EC71DC4D049219E), _bits(0x3F2A01A02D49A775),
           _bits(0x3F811111110BE1E1), _bits(0x3FC555555555572A))
_YEXP_Q = (_bits(0x3E2235B01D3C214D), _bits(0x3E927E0F467E8431), _bits(0x3EFA01A04566020A),
           _bits(0x3F56C16C16B2CAB6), _bits(0x3FA5555555555D7A), _bits(0x3FDFFFFFFFFFFFF8))


def ynn_exp_f64(x) -> np.ndarray:
    """``e**x`` of float64 ``x`` as YNNPACK computes it inside XLA's fusions (results
    below the smallest normal float64 flushed to zero, as XLA runs)."""
    x = _daz(x)
    with np.errstate(all="ignore"):
        xc = np.minimum(np.maximum(x, _YEXP_LO), _YEXP_HI)
        n = ((xc * _YEXP_LOG2E) + _YEXP_ROUND) - _YEXP_ROUND
        scale = ((n + _YEXP_BIAS).view(np.uint64) << np.uint64(52)).view(_F64)
        scale = np.where(np.isnan(x), x, scale)
        r = fma64(n, _YEXP_LN2[1], fma64(n, _YEXP_LN2[0], xc))
        r2 = r * r
        poly = fma64(r, _chain64(_YEXP_P, r2), _chain64(_YEXP_Q, r2))
        poly = fma64(r2, poly, r)
        out = np.where(np.isinf(scale), scale, fma64(poly, scale, scale))
    return np.where(np.abs(out) < _TINY, _F64(0), out)
