"""CUDA C scalar code generation: C types for NumPy dtypes, the kernel prelude
(helper device functions), and one rule per elementwise primitive turning operand
expressions into the result expression (``kernels.py`` calls them per element).

Invariants: a rule is ``rule(args, in_avals, out_aval, params) -> str`` where
``args`` are C expressions in *register form*: ``bool`` for bool, ``float`` for
float16 and bfloat16 (which live in memory as ``__half``/``__nv_bfloat16`` and
are rounded back to their precision after every operation, so results match
the eager impls that round per operation), the natural C type otherwise.
Semantics follow the eager impls (XLA's): integer arithmetic wraps (done in
unsigned types, never C's undefined signed overflow), integer division by zero
gives -1, ``x % 0`` gives x, out-of-range shifts saturate, float-to-int
conversion saturates with NaN -> 0, max/min propagate NaN. ``supports(eqn)``
says whether an equation is generated; everything else falls back to its
eager impl.
"""
from __future__ import annotations

import math

import numpy as np

import primitives
from fx import dtypes as fx_dtypes
from lowering.gpu import special_math
from lowering.kernel_common import is_float  # noqa: F401  (re-exported)

__all__ = ["RULES", "supports", "mem_type", "reg_type", "literal", "load_expr", "store_expr",
           "convert", "round_to", "PRELUDE", "SUPPORTED_DTYPES", "INDEX_NAMES",
           "REDUCTION_NAMES", "is_float"]

P = primitives.registry
BF16 = fx_dtypes.bfloat16

SUPPORTED_DTYPES = frozenset(np.dtype(d) for d in (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
    np.uint64, np.float16, np.float32, np.float64)) | (
    frozenset({BF16}) if BF16 is not None else frozenset())

_MEM = {"bool": "unsigned char", "int8": "signed char", "int16": "short", "int32": "int",
        "int64": "long long", "uint8": "unsigned char", "uint16": "unsigned short",
        "uint32": "unsigned int", "uint64": "unsigned long long", "float16": "__half",
        "bfloat16": "__nv_bfloat16", "float32": "float", "float64": "double"}
_UNSIGNED = {"int8": "unsigned char", "int16": "unsigned short", "int32": "unsigned int",
             "int64": "unsigned long long"}


def is_half(dtype) -> bool:
    """A 16-bit float (computed in ``float`` registers, rounded after each operation)."""
    dtype = np.dtype(dtype)
    return dtype == np.float16 or dtype == BF16


def mem_type(dtype) -> str:
    """The C type of one element of ``dtype`` in memory."""
    try:
        return _MEM[np.dtype(dtype).name]
    except KeyError:
        raise TypeError(f"no CUDA type for dtype {np.dtype(dtype)}") from None


def reg_type(dtype) -> str:
    """The C type holding one element of ``dtype`` in a register."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return "bool"
    if is_half(dtype):
        return "float"
    return mem_type(dtype)


def _bits(dtype) -> int:
    return np.dtype(dtype).itemsize * 8


def _float_literal(value: float, ctype: str) -> str:
    if math.isnan(value):
        return f"(({ctype})NAN)"
    if math.isinf(value):
        return f"(({ctype})(-INFINITY))" if value < 0 else f"(({ctype})INFINITY)"
    text = repr(float(value))
    if "e" not in text and "." not in text:
        text += ".0"
    return f"{text}f" if ctype == "float" else f"(({ctype}){text})"


def literal(value, dtype) -> str:
    """A C expression (register form) for the scalar ``value`` of ``dtype``."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return "true" if bool(value) else "false"
    if is_float(dtype):
        return _float_literal(float(np.asarray(value, dtype).astype(np.float64)),
                              reg_type(dtype))
    v = int(value)
    ctype = reg_type(dtype)
    if dtype == np.int64 and v == -(1 << 63):
        return "((long long)(-9223372036854775807LL - 1))"
    if dtype.kind == "u":
        return f"(({ctype}){v}ULL)"
    return f"(({ctype}){v}LL)"


# register <-> memory forms of the types whose memory form differs (others: the same):
# (load, store, round a float register to the type's precision)
_FORMS = {
    np.dtype(np.bool_): ("({} != 0)", "(unsigned char)({})", "{}"),
    np.dtype(np.float16): ("__half2float({})", "__float2half_rn({})", "fx_round_h({})"),
    np.dtype(BF16): ("__bfloat162float({})", "__float2bfloat16_rn({})", "fx_round_bf({})"),
}


def _form(dtype, which: int, expr: str) -> str:
    forms = _FORMS.get(np.dtype(dtype))
    return expr if forms is None else forms[which].format(expr)


def load_expr(dtype, ref: str) -> str:
    """Register form of the memory element ``ref`` (an lvalue or value of mem type)."""
    return _form(dtype, 0, ref)


def store_expr(dtype, value: str) -> str:
    """Memory form of the register value ``value``."""
    return _form(dtype, 1, value)


def round_to(dtype, expr: str) -> str:
    """``expr`` (a float register value) rounded to ``dtype``'s precision if it is 16-bit."""
    return _form(dtype, 2, expr)


# ---------------------------------------------------------------------------
# the prelude: helpers every kernel module starts with

PRELUDE = r"""
#ifndef FX_HOST_EMULATION
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#endif
#define FX_D __device__ __forceinline__
#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif
#ifndef NAN
#define NAN __int_as_float(0x7fffffff)
#endif
template <class T, int N> struct alignas(sizeof(T) * N) fx_vec { T v[N]; };
FX_D float fx_round_h(float x) { return __half2float(__float2half_rn(x)); }
FX_D float fx_round_bf(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }
FX_D float fx_round_h(double x) { return __half2float(__double2half(x)); }
FX_D float fx_round_bf(double x) { return __bfloat162float(__double2bfloat16(x)); }
template <class T> FX_D T fx_fmax(T a, T b) { return (a > b || a != a) ? a : b; }
template <class T> FX_D T fx_fmin(T a, T b) { return (a < b || a != a) ? a : b; }
template <class T> FX_D T fx_imax(T a, T b) { return a > b ? a : b; }
template <class T> FX_D T fx_imin(T a, T b) { return a < b ? a : b; }
template <class T> FX_D T fx_fsign(T x) { return x > (T)0 ? (T)1 : (x < (T)0 ? (T)-1 : x); }
template <class T, class U> FX_D T fx_sdiv(T x, T y) {
  if (y == 0) return (T)-1;
  if (y == (T)-1) return (T)(U)(0 - (U)x);
  return x / y;
}
template <class T> FX_D T fx_udiv(T x, T y) { return y == 0 ? (T)~(T)0 : (T)(x / y); }
template <class T> FX_D T fx_srem(T x, T y) {
  if (y == 0) return x;
  if (y == (T)-1) return 0;
  return x % y;
}
template <class T> FX_D T fx_urem(T x, T y) { return y == 0 ? x : (T)(x % y); }
template <class T, class U> FX_D T fx_shl(T x, T y, int bits) {
  return ((U)y < (U)bits) ? (T)((U)x << (U)y) : (T)0;
}
template <class T, class U> FX_D T fx_shr_logical(T x, T y, int bits) {
  return ((U)y < (U)bits) ? (T)((U)x >> (U)y) : (T)0;
}
template <class T, class U> FX_D T fx_shr_arith(T x, T y, int bits) {
  return (T)(x >> (((U)y < (U)bits) ? (int)y : bits - 1));
}
template <class T, class F> FX_D T fx_f2i(F x, T lo, T hi) {
  if (x != x) return (T)0;
  if (x >= (F)hi) return hi;
  if (x <= (F)lo) return lo;
  return (T)x;
}
template <class To, class From> FX_D To fx_bitcast(From x) {
  To out; memcpy(&out, &x, sizeof(To)); return out;
}
template <class T> FX_D T fx_logistic(T x) {
  T e = exp(-fabs(x));
  T d = e + (T)1;
  return x < (T)0 ? e / d : (T)1 / d;
}
FX_D float fx_logistic(float x) {
  float e = expf(-fabsf(x)); float d = e + 1.0f;
  return x < 0.0f ? e / d : 1.0f / d;
}
template <class T> FX_D int fx_popc(T x) {
  return sizeof(T) == 8 ? __popcll((unsigned long long)x)
                        : __popc((unsigned int)x & (unsigned int)(sizeof(T) == 4 ? 0xffffffffu
                                 : sizeof(T) == 2 ? 0xffffu : 0xffu));
}
template <class T> FX_D int fx_clz(T x) {
  if (sizeof(T) == 8) return __clzll((long long)x);
  unsigned int v = (unsigned int)x & (unsigned int)(sizeof(T) == 4 ? 0xffffffffu
                                      : sizeof(T) == 2 ? 0xffffu : 0xffu);
  return __clz((int)v) - (32 - 8 * (int)sizeof(T));
}
template <class T> FX_D T fx_digamma(T x) {
  T result = 0;
  if (x <= (T)0 && floor(x) == x) return (T)NAN;
  if (x < (T)0) {  /* reflection: psi(1-x) - psi(x) = pi cot(pi x) */
    T pi = (T)3.14159265358979323846;
    return fx_digamma((T)1 - x) - pi / tan(pi * x);
  }
  while (x < (T)6) { result -= (T)1 / x; x += (T)1; }
  T f = (T)1 / (x * x);
  T series = f * ((T)(-1.0 / 12) + f * ((T)(1.0 / 120) + f * ((T)(-1.0 / 252) +
             f * ((T)(1.0 / 240) + f * (T)(-1.0 / 132)))));
  return result + log(x) - (T)0.5 / x + series;
}
/* shuffles: every register type travels as a 32- or 64-bit word */
template <class T> FX_D T fx_shfl_xor(T v, int lane_mask) {
  if (sizeof(T) == 8) {
    long long w = fx_bitcast<long long>(v);
    return fx_bitcast<T>(__shfl_xor_sync(0xffffffffu, w, lane_mask));
  }
  if (sizeof(T) == 4) {
    int w = fx_bitcast<int>(v);
    return fx_bitcast<T>(__shfl_xor_sync(0xffffffffu, w, lane_mask));
  }
  int w = (int)v;
  return (T)__shfl_xor_sync(0xffffffffu, w, lane_mask);
}
/* an all-lanes butterfly reduction over the 32 lanes of a warp */
template <class T, class Op> FX_D T fx_warp_reduce(T v, Op op) {
  for (int m = 16; m > 0; m >>= 1) v = op(v, fx_shfl_xor(v, m));
  return v;
}
/* the whole block's reduction, returned to every thread (blockDim.x % 32 == 0) */
template <class T, class Op> __device__ T fx_block_reduce(T v, Op op, T identity, T* smem) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = fx_warp_reduce(v, op);
  __syncthreads();
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  v = lane < nwarps ? smem[lane] : identity;
  v = fx_warp_reduce(v, op);
  return v;
}
/* argmax/argmin: (value, index) pairs; better(a, b) says a replaces b */
template <class T, class Better> FX_D void fx_arg_combine(T& v, long long& i, T ov,
                                                         long long oi, Better better) {
  if (better(ov, v) || (!better(v, ov) && oi < i)) {
    v = ov; i = oi;
  }
}
template <class T, class Better> FX_D void fx_warp_arg(T& v, long long& i, Better better) {
  for (int m = 16; m > 0; m >>= 1) {
    T ov = fx_shfl_xor(v, m);
    long long oi = fx_shfl_xor(i, m);
    fx_arg_combine(v, i, ov, oi, better);
  }
}
template <class T, class Better> __device__ void fx_block_arg(T& v, long long& i,
    Better better, T identity, T* smem, long long* ismem) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  fx_warp_arg(v, i, better);
  __syncthreads();
  if (lane == 0) { smem[warp] = v; ismem[warp] = i; }
  __syncthreads();
  if (lane < nwarps) { v = smem[lane]; i = ismem[lane]; }
  else { v = identity; i = 0x7fffffffffffffffLL; }
  fx_warp_arg(v, i, better);
}
""" + special_math.SOURCE  # bessel_i0e/i1e

# ---------------------------------------------------------------------------
# rules

RULES: dict = {}
_DTYPE_OK: dict = {}  # primitive -> allowed operand dtype kinds ("f", "iu", "b") or names


def rule(name, dtypes=None):
    """Register the decorated function as the scalar rule of primitive ``name``."""
    def deco(fn):
        prim = P[name]
        RULES[prim] = fn
        if dtypes is not None:
            _DTYPE_OK[prim] = dtypes
        return fn
    return deco


def _kind(dtype) -> str:
    dtype = np.dtype(dtype)
    return "f" if is_float(dtype) else dtype.kind


def _dtype_allowed(spec, dtype) -> bool:
    if isinstance(spec, tuple):
        return np.dtype(dtype).name in spec
    return _kind(dtype) in spec


def _wrap_int(dtype, op: str, x: str, y: str) -> str:
    """Wrapping integer arithmetic: computed in the unsigned type of the same width."""
    dtype = np.dtype(dtype)
    ctype = reg_type(dtype)
    if dtype.kind == "u":
        return f"(({ctype})(({ctype})({x}) {op} ({ctype})({y})))"
    unsigned = _UNSIGNED[dtype.name]
    return f"(({ctype})({unsigned})(({unsigned})({x}) {op} ({unsigned})({y})))"


def _arith(op):
    def fn(args, in_avals, out_aval, params):
        x, y = args
        dtype = in_avals[0].dtype
        if is_float(dtype):
            return round_to(dtype, f"({x} {op} {y})")
        return _wrap_int(dtype, op, x, y)
    return fn


for _name, _op in (("add", "+"), ("sub", "-"), ("mul", "*")):
    rule(_name, "fiu")(_arith(_op))
rule("add_any", "fiu")(_arith("+"))
rule("square", "fiu")(lambda args, in_avals, out_aval, params: _arith("*")(
    (args[0], args[0]), in_avals * 2, out_aval, params))


@rule("div", "fiu")
def _div(args, in_avals, out_aval, params):
    x, y = args
    dtype = in_avals[0].dtype
    if is_float(dtype):
        return round_to(dtype, f"({x} / {y})")
    ctype = reg_type(dtype)
    if dtype.kind == "u":
        return f"fx_udiv<{ctype}>({x}, {y})"
    return f"fx_sdiv<{ctype}, {_UNSIGNED[dtype.name]}>({x}, {y})"


@rule("rem", "fiu")
def _rem(args, in_avals, out_aval, params):
    x, y = args
    dtype = in_avals[0].dtype
    if is_float(dtype):
        fn = "fmodf" if reg_type(dtype) == "float" else "fmod"
        return round_to(dtype, f"{fn}({x}, {y})")
    ctype = reg_type(dtype)
    return f"fx_{'u' if dtype.kind == 'u' else 's'}rem<{ctype}>({x}, {y})"


@rule("neg", "fiu")
def _neg(args, in_avals, out_aval, params):
    (x,) = args
    dtype = in_avals[0].dtype
    if is_float(dtype):
        return f"(-{x})"
    return _wrap_int(dtype, "-", "0", x)


def _minmax(kind):
    def fn(args, in_avals, out_aval, params):
        x, y = args
        dtype = in_avals[0].dtype
        if dtype == np.bool_:
            return f"({x} {'||' if kind == 'max' else '&&'} {y})"
        ctype = reg_type(dtype)
        prefix = "fx_f" if is_float(dtype) else "fx_i"
        return f"{prefix}{kind}<{ctype}>({x}, {y})"
    return fn


rule("max")(_minmax("max"))
rule("min")(_minmax("min"))


@rule("abs", "fiu")
def _abs(args, in_avals, out_aval, params):
    (x,) = args
    dtype = in_avals[0].dtype
    if is_float(dtype):
        return f"fabs({x})" if reg_type(dtype) == "double" else f"fabsf({x})"
    if dtype.kind == "u":
        return x
    return f"(({x}) < 0 ? {_wrap_int(dtype, '-', '0', x)} : ({x}))"


@rule("sign", "fiu")
def _sign(args, in_avals, out_aval, params):
    (x,) = args
    dtype = in_avals[0].dtype
    ctype = reg_type(dtype)
    if is_float(dtype):
        return f"fx_fsign<{ctype}>({x})"
    if dtype.kind == "u":
        return f"(({ctype})(({x}) != 0))"
    return f"(({ctype})((({x}) > 0) - (({x}) < 0)))"


# unary float functions: (float32 name, float64 name); 16-bit floats use the float32 one
_UNARY_MATH = {
    "floor": ("floorf", "floor"), "ceil": ("ceilf", "ceil"), "sqrt": ("sqrtf", "sqrt"),
    "rsqrt": ("rsqrtf", "rsqrt"), "cbrt": ("cbrtf", "cbrt"), "exp": ("expf", "exp"),
    "exp2": ("exp2f", "exp2"), "expm1": ("expm1f", "expm1"), "log": ("logf", "log"),
    "log1p": ("log1pf", "log1p"), "tanh": ("tanhf", "tanh"), "sin": ("sinf", "sin"),
    "cos": ("cosf", "cos"), "tan": ("tanf", "tan"), "asin": ("asinf", "asin"),
    "acos": ("acosf", "acos"), "atan": ("atanf", "atan"), "sinh": ("sinhf", "sinh"),
    "cosh": ("coshf", "cosh"), "asinh": ("asinhf", "asinh"), "acosh": ("acoshf", "acosh"),
    "atanh": ("atanhf", "atanh"), "erf": ("erff", "erf"), "erfc": ("erfcf", "erfc"),
    "erf_inv": ("erfinvf", "erfinv"), "lgamma": ("lgammaf", "lgamma"),
    "logistic": ("fx_logistic", "fx_logistic<double>"),
    "digamma": ("fx_digamma<float>", "fx_digamma<double>"),
    **special_math.FUNCTIONS,  # bessel_i0e, bessel_i1e (lowering/gpu/special_math.py)
}


def _unary_math(name, f32, f64):
    def fn(args, in_avals, out_aval, params):
        dtype = in_avals[0].dtype
        call = f64 if reg_type(dtype) == "double" else f32
        return round_to(dtype, f"{call}({args[0]})")
    rule(name, "f")(fn)


for _name, (_f32, _f64) in _UNARY_MATH.items():
    _unary_math(_name, _f32, _f64)


@rule("round", "f")
def _round(args, in_avals, out_aval, params):
    method = params.get("rounding_method", 0)
    even = method in (1, "TO_NEAREST_EVEN") or str(method).endswith("EVEN")
    dbl = reg_type(in_avals[0].dtype) == "double"
    fn = ("rint" if even else "round") + ("" if dbl else "f")
    return f"{fn}({args[0]})"


@rule("is_finite", "f")
def _is_finite(args, in_avals, out_aval, params):
    return f"(bool)isfinite({args[0]})"


def _binary_math(name, f32, f64):
    def fn(args, in_avals, out_aval, params):
        dtype = in_avals[0].dtype
        x, y = args
        call = f64 if reg_type(dtype) == "double" else f32
        if in_avals[1].dtype.kind in "iu":  # pow with an integer exponent
            y = f"(({reg_type(dtype)})({y}))"
        return round_to(dtype, f"{call}({x}, {y})")
    rule(name, "f")(fn)


_binary_math("pow", "powf", "pow")
_binary_math("atan2", "atan2f", "atan2")


@rule("nextafter", ("float32", "float64"))
def _nextafter(args, in_avals, out_aval, params):
    dbl = reg_type(in_avals[0].dtype) == "double"
    return f"{'nextafter' if dbl else 'nextafterf'}({args[0]}, {args[1]})"


@rule("integer_pow", "fiu")
def _integer_pow(args, in_avals, out_aval, params):
    (x,) = args
    y = int(params["y"])
    dtype = in_avals[0].dtype
    flt = is_float(dtype)
    one = literal(1, dtype)
    if y == 0:
        return one

    def mul(a, b):
        return round_to(dtype, f"({a} * {b})") if flt else _wrap_int(dtype, "*", a, b)
    acc, base, n = None, x, abs(y)
    while n:  # square-and-multiply as one expression (x appears once per use)
        if n & 1:
            acc = base if acc is None else mul(acc, base)
        n >>= 1
        if n:
            base = mul(base, base)
    if y < 0:
        return round_to(dtype, f"({one} / {acc})") if flt else acc
    return acc


# comparisons and logic
for _name, _op in {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">",
                   "ge": ">="}.items():
    rule(_name, "fiub")(lambda args, ia, oa, params, _op=_op: f"({args[0]} {_op} {args[1]})")


def _bitwise(op):
    def fn(args, in_avals, out_aval, params):
        x, y = args
        ctype = reg_type(in_avals[0].dtype)
        return f"(({ctype})({x} {op} {y}))"
    return fn


rule("and", "iub")(_bitwise("&"))
rule("or", "iub")(_bitwise("|"))
rule("xor", "iub")(_bitwise("^"))


@rule("not", "iub")
def _not(args, in_avals, out_aval, params):
    dtype = in_avals[0].dtype
    if dtype == np.bool_:
        return f"(!{args[0]})"
    return f"(({reg_type(dtype)})~{args[0]})"


def _shift(helper):
    def fn(args, in_avals, out_aval, params):
        dtype = in_avals[0].dtype
        ctype = reg_type(dtype)
        unsigned = ctype if dtype.kind == "u" else _UNSIGNED[dtype.name]
        return f"{helper}<{ctype}, {unsigned}>({args[0]}, {args[1]}, {_bits(dtype)})"
    return fn


rule("shift_left", "iu")(_shift("fx_shl"))
rule("shift_right_logical", "iu")(_shift("fx_shr_logical"))


@rule("shift_right_arithmetic", "iu")
def _shift_right_arithmetic(args, in_avals, out_aval, params):
    dtype = in_avals[0].dtype
    if dtype.kind == "u":  # as the CPU backend: unsigned shifts are logical
        return _shift("fx_shr_logical")(args, in_avals, out_aval, params)
    return _shift("fx_shr_arith")(args, in_avals, out_aval, params)


@rule("population_count", "iu")
def _popcount(args, in_avals, out_aval, params):
    return f"(({reg_type(out_aval.dtype)})fx_popc({args[0]}))"


@rule("clz", "iu")
def _clz(args, in_avals, out_aval, params):
    return f"(({reg_type(out_aval.dtype)})fx_clz({args[0]}))"


@rule("select_n")
def _select_n(args, in_avals, out_aval, params):
    which, *cases = args
    if len(cases) == 1:
        return cases[0]
    if in_avals[0].dtype == np.bool_:
        return f"({which} ? {cases[1]} : {cases[0]})"
    out = cases[0]
    for i in range(1, len(cases)):
        out = f"({which} >= {i} ? {cases[i]} : {out})"
    return out


@rule("clamp", "fiu")
def _clamp(args, in_avals, out_aval, params):
    lo, x, hi = args
    dtype = in_avals[1].dtype
    ctype = reg_type(dtype)
    prefix = "fx_f" if is_float(dtype) else "fx_i"
    return f"{prefix}min<{ctype}>({prefix}max<{ctype}>({x}, {lo}), {hi})"


def convert(x: str, src, dst) -> str:
    """``x`` (register form of ``src``) converted as ``convert_element_type`` does."""
    src, dst = np.dtype(src), np.dtype(dst)
    if src == dst:
        return x
    dtype_c = reg_type(dst)
    if dst == np.bool_:
        return f"(({x}) != 0)"
    if src == np.bool_:
        return f"(({dtype_c})(({x}) ? 1 : 0))"
    if is_float(src) and is_float(dst):
        if is_half(dst):
            return round_to(dst, x)  # from double: one rounding (__double2half)
        return f"(({dtype_c})({x}))"
    if is_float(src):
        info = np.iinfo(dst)
        return f"fx_f2i<{dtype_c}>({x}, {literal(info.min, dst)}, {literal(info.max, dst)})"
    if is_float(dst):
        if is_half(dst):
            return round_to(dst, f"((double)({x}))") if src.itemsize == 8 else \
                round_to(dst, f"((float)({x}))")
        return f"(({dtype_c})({x}))"
    return f"(({dtype_c})({x}))"


@rule("convert_element_type")
def _convert(args, in_avals, out_aval, params):
    return convert(args[0], in_avals[0].dtype, out_aval.dtype)


@rule("bitcast_convert_type", "fiu")
def _bitcast(args, in_avals, out_aval, params):
    src, dst = np.dtype(in_avals[0].dtype), np.dtype(out_aval.dtype)
    mem = store_expr(src, args[0])
    return load_expr(dst, f"fx_bitcast<{mem_type(dst)}, {mem_type(src)}>({mem})")


def _identity(args, in_avals, out_aval, params):
    return args[0]


rule("copy")(_identity)
rule("stop_gradient")(_identity)

# ---------------------------------------------------------------------------
# what the GPU backend generates

INDEX_NAMES = frozenset({"broadcast_in_dim", "reshape", "transpose", "iota", "slice", "pad",
                         "concatenate", "rev", "dynamic_slice", "squeeze", "expand_dims"})
REDUCTION_NAMES = frozenset({"reduce_sum", "reduce_max", "reduce_min", "reduce_prod",
                             "reduce_and", "reduce_or", "reduce_xor", "argmax", "argmin"})
LIBRARY_NAMES = frozenset({"dot_general"})


def _library_supports(eqn) -> bool:
    lhs, rhs = eqn.invars
    out = eqn.outvars[0].aval
    floats = {np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)}
    if BF16 is not None:
        floats.add(BF16)
    return lhs.aval.dtype == rhs.aval.dtype and lhs.aval.dtype in floats and out.dtype in floats


def supports(eqn) -> bool:
    """Whether the GPU backend generates a kernel (or a library call) for ``eqn``."""
    prim = eqn.primitive
    avals = [v.aval for v in eqn.invars] + [v.aval for v in eqn.outvars]
    if any(np.dtype(a.dtype) not in SUPPORTED_DTYPES for a in avals):
        return False
    name = prim.name
    if prim in RULES:
        spec = _DTYPE_OK.get(prim)
        if spec is None:
            return True
        operand = eqn.invars[1] if name == "clamp" else eqn.invars[0]
        return _dtype_allowed(spec, operand.aval.dtype)
    if name in INDEX_NAMES:
        return not (name == "reshape" and eqn.params.get("dimensions") is not None)
    if name in REDUCTION_NAMES:
        kind = _kind(eqn.invars[0].aval.dtype)
        if name in ("reduce_and", "reduce_or", "reduce_xor"):
            return kind in "iub"
        if name in ("reduce_sum", "reduce_prod"):
            return kind in "iuf"
        return True
    if name in LIBRARY_NAMES:
        return _library_supports(eqn)
    return False
