"""float32 ``exp``, ``log``, ``log1p``, ``erf_inv``, ``erf`` and ``rsqrt`` as branch-free IR (and
``tan``, ``pow`` as calls to the C library's ``tanf``/``powf``, which XLA calls) that rounds
exactly as XLA's CPU backend does, so compiled ``random`` draws are bit-identical to
JAX's (and to fx's eager impls, ``fx._random.xla_math``, which is the specification
followed here operation for operation). The same IR, as one native loop per function
(compiled once per process, disk-cached), is what the eager impls run on large arrays.

Invariants: every ``a * b + c`` of XLA's expansion is one ``llvm.fma`` (rounded once);
every other multiply, add and divide is a plain IEEE operation *without* fast-math
flags (no contraction, no reassociation), so LLVM cannot change a rounding. Both
polynomial branches are computed and one is selected, which keeps the loop
vectorizable and changes no value.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import math

import numpy as np
from llvmlite.ir.instructions import CallInstrAttributes

from fx._random import xla_math as spec
from lowering.cpu import array_kernels
from lowering.cpu.irutil import I32, Emit

__all__ = ["exp", "log", "log1p", "erf_inv", "erf", "rsqrt", "tan", "pow", "apply_array",
           "erf_inv_array"]


def _c(e: Emit, x, v):
    return e.like(x, float(v))


def _fma(e: Emit, a, b, c):
    return e.call("llvm.fma", a, b, c)


def exp(e: Emit, x):
    """XLA's float32 ``e**x`` (Cephes' scheme; results below 2**-126 flushed to zero)."""
    b = e.b
    xc = e.fmin_clamp(x, float(spec._EXP_LO), float(spec._EXP_HI))
    n = e.call("llvm.floor", _fma(e, xc, _c(e, x, float(spec._LOG2E)), _c(e, x, 0.5)))
    n = e.fmin_clamp(n, -127.0, 127.0)
    r = _fma(e, _c(e, x, -float(spec._EXP_C1)), n, xc)
    r = _fma(e, _c(e, x, -float(spec._EXP_C2)), n, r)
    p = [float(c) for c in spec._EXP_P]
    z = _fma(e, r, _c(e, x, p[0]), _c(e, x, p[1]))
    for c in p[2:]:
        z = _fma(e, z, r, _c(e, x, c))
    z = b.fadd(_fma(e, z, b.fmul(r, r), r), _c(e, x, 1.0))
    # 2**n from the exponent bits (n = -127 gives 0); NaN lanes are replaced below
    k = b.fptosi(n, I32)
    pow2 = b.bitcast(b.shl(b.add(k, e.const(I32, 127)), e.const(I32, 23)), x.type)
    out = b.fmul(z, pow2)
    out = b.select(e.fcmp("<", out, _c(e, x, float(spec._TINY))), _c(e, x, 0.0), out)
    return b.select(e.isnan(x), x, out)


def log(e: Emit, x):
    """XLA's float32 natural logarithm (Cephes' scheme); subnormal ``x`` read as zero
    (XLA's denormals-are-zero: ``-inf``), special values as C's ``log``."""
    b = e.b
    tiny = float(spec._TINY)
    v = b.select(e.fcmp("<", e.fabs(x), _c(e, x, tiny)), _c(e, x, 0.0), x)
    normal = b.and_(e.fcmp(">=", v, _c(e, v, tiny)), e.fcmp("<", v, _c(e, v, math.inf)))
    xn = b.select(normal, v, _c(e, v, 1.0))
    bits = b.bitcast(xn, I32)
    ex = b.sub(b.lshr(bits, e.const(I32, 23)), e.const(I32, 126))
    m = b.bitcast(b.or_(b.and_(bits, e.const(I32, 0x807FFFFF)), e.const(I32, 0x3F000000)),
                  v.type)
    below = e.fcmp("<", m, _c(e, m, float(spec._SQRT_HALF)))
    f = b.fadd(b.fsub(m, _c(e, m, 1.0)), b.select(below, m, _c(e, m, 0.0)))
    ef = b.sitofp(b.sub(ex, b.zext(below, I32)), v.type)
    f2 = b.fmul(f, f)
    f3 = b.fmul(f2, f)
    p = [float(c) for c in spec._LOG_P]
    y0 = _fma(e, _fma(e, f, _c(e, f, p[0]), _c(e, f, p[1])), f, _c(e, f, p[2]))
    y1 = _fma(e, _fma(e, f, _c(e, f, p[3]), _c(e, f, p[4])), f, _c(e, f, p[5]))
    y2 = _fma(e, _fma(e, f, _c(e, f, p[6]), _c(e, f, p[7])), f, _c(e, f, p[8]))
    y = _fma(e, _fma(e, y0, f3, y1), f3, y2)
    y = _fma(e, y, f3, b.fmul(_c(e, f, float(spec._LN2_LO)), ef))
    r = b.fadd(b.fadd(b.fsub(f, b.fmul(f2, _c(e, f, 0.5))), y),
               b.fmul(_c(e, f, float(spec._LN2_HI)), ef))
    # outside the normal range: log(0) = -inf, log(inf) = inf, NaN and negatives NaN
    special = b.select(e.fcmp("==", v, _c(e, v, 0.0)), _c(e, v, -math.inf),
                       b.select(e.fcmp("==", v, _c(e, v, math.inf)), v,
                                _c(e, v, math.nan)))
    return b.select(normal, r, special)


def log1p(e: Emit, x, shared_half: bool = False):
    """XLA's float32 ``log(1 + x)``: Cephes' rational approximation near 0. ``shared_half``:
    the product ``x**2 * -0.5`` rounded on its own and ``x**3 * P/Q`` fused with the add
    instead, as XLA's backend compiles two log1p of ``+-x`` that share it (atanh)."""
    b = e.b
    x2 = b.fmul(x, x)

    def horner(coeffs):
        acc = _c(e, x, 0.0)
        for c in coeffs:
            acc = _fma(e, acc, x, _c(e, x, float(c)))
        return acc
    ratio = b.fdiv(horner(spec._LOG1P_P), horner(spec._LOG1P_Q))
    if shared_half:
        near = b.fadd(x, _fma(e, b.fmul(x, x2), ratio, b.fmul(x2, _c(e, x, -0.5))))
    else:
        near = b.fadd(x, _fma(e, _c(e, x, -0.5), x2, b.fmul(b.fmul(x, x2), ratio)))
    ax = e.fabs(x)
    # subnormals are read as zeros (XLA's denormals-are-zero): log1p(+-0) = +-0
    near = b.select(e.fcmp("<", ax, _c(e, x, float(spec._TINY))), b.fmul(x, _c(e, x, 0.0)),
                    near)
    far = log(e, b.fadd(x, _c(e, x, 1.0)))
    return b.select(e.fcmp("<", ax, _c(e, x, float(spec._LOG1P_SMALL))), near, far)


def erf_inv(e: Emit, x):
    """XLA's float32 inverse error function (Giles' approximation)."""
    b = e.b
    w = b.fneg(log1p(e, b.fmul(x, b.fneg(x))))

    def poly(coeffs, t):
        acc = _c(e, t, float(coeffs[0]))
        for c in coeffs[1:]:
            acc = _fma(e, acc, t, _c(e, t, float(c)))
        return acc
    low = poly(spec._ERFINV_LOW, b.fsub(w, _c(e, w, 2.5)))
    high = poly(spec._ERFINV_HIGH, b.fsub(e.call("llvm.sqrt", w), _c(e, w, 3.0)))
    out = b.fmul(b.select(e.fcmp("<", w, _c(e, w, 5.0)), low, high), x)
    ax = e.fabs(x)
    out = b.select(e.fcmp("==", ax, _c(e, x, 1.0)), b.fmul(x, _c(e, x, math.inf)), out)
    return b.select(b.fcmp_unordered(">", ax, _c(e, x, 1.0)), _c(e, x, math.nan), out)


def erf(e: Emit, x):
    """XLA's float32 error function: ``x P(x**2) / Q(x**2)`` (fused Horner chains),
    +-1 beyond ``|x| = 3.8325069``, a signed zero for ``|x| < 2**-126``."""
    b = e.b
    x2 = b.fmul(x, x)

    def poly(coeffs):
        acc = _c(e, x, float(coeffs[0]))
        for c in coeffs[1:]:
            acc = _fma(e, x2, acc, _c(e, x, float(c)))
        return acc
    out = b.fdiv(b.fmul(poly(spec._ERF_P), x), poly(spec._ERF_Q))
    ax = e.fabs(x)
    out = b.select(e.fcmp(">=", ax, _c(e, x, float(spec._ERF_CLAMP))),
                   e.copysign(_c(e, x, 1.0), x), out)
    return b.select(e.fcmp("<", ax, _c(e, x, float(spec._TINY))),
                    b.fmul(x, _c(e, x, 0.0)), out)


def _has_avx() -> bool:
    from lowering.cpu import runtime
    info = runtime.host_info()
    return info["triple"].startswith(("x86_64", "i386", "i686")) and \
        "+avx" in info["features"].split(",")


def rsqrt(e: Emit, x):
    """XLA's float32 ``1 / sqrt(x)`` on x86 with AVX: the processor's ``rsqrtss``
    estimate (about 12 bits; its exact values are the processor's own), refined by one
    Newton-Raphson step ``y + (-y/2) * ((x*y)*y - 1)`` whose two multiply-adds are
    fused; ``x`` below 2**-126 (zero, subnormals, negatives) or infinite keeps the bare
    estimate (+-inf, NaN, 0). Elsewhere ``1 / sqrt(x)``, as XLA does without AVX.

    The estimate is a target intrinsic the loop vectorizer cannot widen by itself, so
    the step is one internal scalar function whose call names 4-, 8- and 16-lane
    variants (LLVM's ``vector-function-abi-variant``; the ``rsqrtps`` estimates are the
    ``rsqrtss`` ones lane by lane): loops over it still run in SIMD."""
    if not _has_avx():
        return e.b.fdiv(_c(e, x, 1.0), e.call("llvm.sqrt", x))
    call = e.b.call(_rsqrt_functions(e.module), [x])
    call.attributes = _VariantCallAttributes([_RSQRT_VARIANTS])
    return call


_RSQRT_NAME = "__fx_rsqrt_step_f32"  # (not a loop symbol: those are fx_xla_*)
_RSQRT_LANES = (4, 8, 16)
_RSQRT_VARIANTS = '"vector-function-abi-variant"="' + ",".join(
    f"_ZGV_LLVM_N{n}v_{_RSQRT_NAME}({_RSQRT_NAME}_v{n})" for n in _RSQRT_LANES) + '"'


class _VariantCallAttributes(CallInstrAttributes):
    """llvmlite's call-instruction attributes plus the one string attribute above (a
    subclass of fx's own: llvmlite's class is left as it is)."""
    _known = CallInstrAttributes._known | {_RSQRT_VARIANTS}


def _rsqrt_functions(module):
    """The scalar rsqrt step and its vector variants in ``module`` (created once); the
    scalar one is returned. The variants are kept alive for the vectorizer through
    ``llvm.used``."""
    from llvmlite import ir

    from lowering.cpu.irutil import declare
    scalar = module.globals.get(_RSQRT_NAME)
    if scalar is not None:
        return scalar
    f32 = ir.FloatType()

    def define(name, ty, estimate):
        fn = ir.Function(module, ir.FunctionType(ty, [ty]), name)
        fn.linkage = "internal"
        fn.attributes.add("noinline")  # (the vectorizer looks for the call)
        fn.attributes.add("nounwind")
        fn.attributes.add("readnone")
        b = ir.IRBuilder(fn.append_basic_block())
        x = fn.args[0]
        n = ty.count if isinstance(ty, ir.VectorType) else None

        def c(v):
            return ir.Constant(ty, [v] * n if n else v)
        fma = declare(module, f"llvm.fma.{'v%df32' % n if n else 'f32'}",
                      ir.FunctionType(ty, [ty, ty, ty]))
        guess = estimate(b, x)
        h = b.call(fma, [b.fmul(x, guess), guess, c(-1.0)])
        refined = b.call(fma, [b.fmul(guess, c(-0.5)), h, guess])
        raw = b.or_(b.fcmp_ordered("<", x, c(float(spec._TINY))),
                    b.fcmp_ordered("==", x, c(math.inf)))
        b.ret(b.select(raw, guess, refined))
        return fn

    v4, v8 = ir.VectorType(f32, 4), ir.VectorType(f32, 8)
    ss = declare(module, "llvm.x86.sse.rsqrt.ss", ir.FunctionType(v4, [v4]))
    ps4 = declare(module, "llvm.x86.sse.rsqrt.ps", ir.FunctionType(v4, [v4]))
    ps8 = declare(module, "llvm.x86.avx.rsqrt.ps.256", ir.FunctionType(v8, [v8]))

    def scalar_estimate(b, x):
        lanes = b.insert_element(ir.Constant(v4, None), x, ir.Constant(I32, 0))
        return b.extract_element(b.call(ss, [lanes]), ir.Constant(I32, 0))

    def halves_estimate(b, x):  # 16 lanes: two 8-lane estimates
        def lanes(k):
            return ir.Constant(ir.VectorType(I32, len(k)), list(k))
        lo = b.shuffle_vector(x, x, lanes(range(8)))
        hi = b.shuffle_vector(x, x, lanes(range(8, 16)))
        lo, hi = b.call(ps8, [lo]), b.call(ps8, [hi])
        return b.shuffle_vector(lo, hi, lanes(range(16)))

    scalar = define(_RSQRT_NAME, f32, scalar_estimate)
    variants = [define(f"{_RSQRT_NAME}_v4", v4, lambda b, x: b.call(ps4, [x])),
                define(f"{_RSQRT_NAME}_v8", v8, lambda b, x: b.call(ps8, [x])),
                define(f"{_RSQRT_NAME}_v16", ir.VectorType(f32, 16), halves_estimate)]
    ptr = ir.PointerType(ir.IntType(8))
    used = ir.GlobalVariable(module, ir.ArrayType(ptr, len(variants)), "llvm.used")
    used.linkage = "appending"
    used.section = "llvm.metadata"
    used.initializer = ir.Constant(ir.ArrayType(ptr, len(variants)),
                                   [v.bitcast(ptr) for v in variants])
    return scalar


# ---------------------------------------------------------------------------
# tan and pow: XLA calls the C library's tanf/powf one element at a time (glibc's on
# Linux), so fx calls the same functions, under names of its own (LLVM does not
# rewrite calls it does not recognise as library functions)

_LIBM = {"tan": ("tanf", 1), "pow": ("powf", 2), "atan2": ("atan2f", 2)}


def libm_symbol(name: str) -> str:
    """The symbol under which native code calls the C library's float32 ``name``
    (``"tan"``, ``"pow"``, ``"atan2"``: ``tanf``...), registered on first use."""
    from lowering.cpu import runtime
    cname, nargs = _LIBM[name]
    symbol = f"fx_libm_{cname}"
    if symbol not in _registered:
        libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        runtime.register_symbol(symbol, ctypes.cast(getattr(libm, cname), ctypes.c_void_p).value)
        _registered.add(symbol)
    return symbol


_registered: set = set()


def _register_providers():
    from lowering.cpu import runtime
    for name, (cname, _) in _LIBM.items():  # for object code loaded from the disk cache
        runtime.register_symbol_provider(f"fx_libm_{cname}",
                                         lambda name=name: libm_symbol(name))


_register_providers()


def _libm_call(e: Emit, name: str, *args):
    from llvmlite import ir

    from lowering.cpu.irutil import F32, declare
    symbol = libm_symbol(name)
    fn = declare(e.module, symbol, ir.FunctionType(F32, [F32] * len(args)))
    return e.b.call(fn, list(args))


def tan(e: Emit, x):
    """float32 tangent as XLA computes it: the C library's ``tanf``."""
    return _libm_call(e, "tan", x)


def pow(e: Emit, x, y):  # noqa: A001  (the primitive's name)
    """float32 ``x**y`` as XLA computes it: the C library's ``powf``."""
    return _libm_call(e, "pow", x, y)


# ---------------------------------------------------------------------------
# native loops for eager use (any length; compiled once per process, disk-cached)

_FUNCTIONS = {"exp": exp, "log": log, "log1p": log1p, "erf_inv": erf_inv, "erf": erf,
              "rsqrt": rsqrt, "tan": tan, "pow": pow}
_ARITY = {"pow": 2}


def _symbol(name: str) -> str:
    return f"fx_xla_{name}_f32"


_KERNELS = array_kernels.ArrayKernels("fx_xla_float32", _FUNCTIONS,
                                      lambda n: _ARITY.get(n, 1), np.float32, _symbol)


def apply_array(name: str, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """XLA's float32 ``name`` (``"exp"``, ``"log"``, ``"log1p"``, ``"erf_inv"``, ``"erf"``,
    ``"rsqrt"``, ``"tan"``, or ``"pow"`` of ``x`` and ``y``, same shape) of float32 arrays,
    by native code: bit-identical to the NumPy specification in ``fx._random.xla_math``
    (rsqrt: the processor's estimate, refined; tan and pow: the C library's), and flat
    (reshape the result).

    Example: ``apply_array("log1p", np.float32([0.5]))`` is ``[0.4054651]``.
    """
    return _KERNELS.apply(name, x, y)


def erf_inv_array(x: np.ndarray) -> np.ndarray:
    """XLA's float32 erf_inv of a float32 array, by native code (bit-identical to
    ``fx._random.xla_math.erf_inv_f32``)."""
    return apply_array("erf_inv", x)
