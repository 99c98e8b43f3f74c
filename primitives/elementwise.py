"""Elementwise primitives: one table row each, built by the ``unary`` and
``binary`` factories, plus complex, pow and add_any.

Invariants: n-ary elementwise primitives take operands of one dtype whose
shapes are rank-0 or of one rank with each dim equal or 1, as JAX 0.10's
(a rank-0 operand or a size-1 dim broadcasts: ``mul b 2.0:f32[]``,
``sub a:f32[3,4] b:f32[3,1]``); select_n and clamp keep JAX's stricter rule.
Eager impls follow XLA's semantics (integer division truncates, shifts past the
bit width saturate), not NumPy's where they differ. select_n and clamp live in
``primitives/selection.py``, the special functions (erf ... zeta) in
``primitives/elementwise_special.py``; both are re-exported here.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

from fx import dtypes
from fx.core import ShapedArray, Zero
from primitives import _rules as R
from primitives._rules import (ANY, BOOL, COMPLEX, FLOAT, INEXACT, INT, NUMERIC, SINT,
                               check_dtype, new_primitive)

_sp = R.LazyModule("scipy.special")

# ---------------------------------------------------------------------------
# factories


def _same_shape(name, avals):
    """The result shape of an n-ary elementwise primitive, as JAX 0.10's rule: rank-0
    operands broadcast; the others have one rank, each dim equal or 1 (a size-1 dim
    broadcasts). TypeError otherwise."""
    shapes = [a.shape for a in avals if a.shape]
    if not shapes:
        return ()
    first = shapes[0]
    if all(s == first for s in shapes[1:]):
        return first
    ranks = {len(s) for s in shapes}
    if len(ranks) > 1:
        raise TypeError(f"{name}: arrays must have the same number of dimensions, got "
                        f"{{{', '.join(str(r) for r in sorted(ranks))}}}")
    out = []
    for sizes in zip(*shapes):
        big = {d for d in sizes if d != 1}
        if len(big) > 1:
            raise TypeError(f"{name} got incompatible shapes for broadcasting: "
                            f"{', '.join(str(a.shape) for a in avals)}")
        out.append(big.pop() if big else 1)
    return tuple(out)


#: names of the primitives whose operands broadcast implicitly (rank-0 or size-1 dims, see
#: ``_same_shape``): the lowering makes those broadcasts explicit before fusion
IMPLICIT_BROADCASTING = set()


def _same_dtype(name, avals):
    dtype = avals[0].dtype
    for a in avals[1:]:
        if a.dtype != dtype:
            raise TypeError(f"{name} requires arguments to have the same dtypes, got "
                            f"{', '.join(a.dtype.name for a in avals)}. Convert with "
                            "lax.convert_element_type or use fx.numpy, which promotes.")
    return dtype


def _with_errstate(impl):
    """The impl as is: floating-point warnings from fx's modules are silenced once, in
    ``primitives/__init__.py``, rather than with a costly ``np.errstate`` per call."""
    return impl


def unary(name, impl, jvp=None, kinds=INEXACT, out_dtype=None, transpose=None):
    """A unary elementwise primitive. ``jvp(x, t, y)`` gives the output tangent;
    ``jvp=None`` means the output does not depend smoothly on x (zero tangent)."""
    p = new_primitive(name)

    def abstract_eval(x, **params):
        check_dtype(name, x, kinds)
        dtype = out_dtype(x.dtype) if out_dtype else x.dtype
        return ShapedArray(x.shape, dtype, x.weak_type)

    p.def_abstract_eval(abstract_eval)
    p.def_impl(_with_errstate(impl))

    def jvp_rule(primals, tangents, **params):
        (x,), (t,) = primals, tangents
        y = p.bind(x, **params)
        if jvp is None:
            return y, Zero(R.aval_of(y).to_tangent_aval())
        return y, jvp(x, t, y, **params)

    p.def_jvp(jvp_rule)
    if transpose is not None:
        p.def_transpose(transpose)
    p.def_batch(R.vectorized_batcher(p))
    return p


def binary(name, impl, jvps=None, kinds=NUMERIC, out_dtype=None, transpose=None):
    """A binary elementwise primitive. ``jvps`` holds one ``(t, x, y, out)`` function
    per operand (None for an operand with no derivative); ``jvps=None`` means the
    output has a zero tangent."""
    p = new_primitive(name)
    IMPLICIT_BROADCASTING.add(name)

    def abstract_eval(x, y, **params):
        check_dtype(name, x, kinds)
        _same_dtype(name, (x, y))
        shape = _same_shape(name, (x, y))
        dtype = out_dtype if out_dtype is not None else x.dtype
        return ShapedArray(shape, dtype, x.weak_type and y.weak_type)

    p.def_abstract_eval(abstract_eval)
    p.def_impl(_with_errstate(impl))
    p.def_jvp(_nary_jvp(p, jvps))
    if transpose is not None:
        p.def_transpose(transpose)
    p.def_batch(R.broadcasting_batcher(p, size1=True))
    return p


def _nary_jvp(p, jvps):
    def jvp_rule(primals, tangents, **params):
        out = p.bind(*primals, **params)
        out_aval = R.aval_of(out)
        if jvps is None:
            return out, Zero(out_aval.to_tangent_aval())
        total = Zero(out_aval.to_tangent_aval())
        for rule, t in zip(jvps, tangents):
            if rule is None or type(t) is Zero:
                continue
            contribution = rule(t, *primals, out)
            if R.shape_of(contribution) != out_aval.shape:  # a rank-0 or size-1 operand's
                contribution = R.broadcast_to(contribution, out_aval.shape)
            total = R.add_tangents(total, contribution)
        return out, total
    return jvp_rule


# ---------------------------------------------------------------------------
# eager implementations that differ from NumPy's


def _round(x, rounding_method=0):
    if rounding_method in (1, "TO_NEAREST_EVEN") or str(rounding_method).endswith("EVEN"):
        return np.round(x)
    t = np.trunc(x)
    return np.where(np.abs(x - t) >= 0.5, t + np.sign(x), t).astype(x.dtype)


def _sign(x):
    if x.dtype.kind == "c":  # XLA's formula (lowering/cpu/complex_xla.py), natively
        from lowering.cpu import complex_eager
        return complex_eager.apply("sign", x)
    if x.dtype.kind == "f":
        return np.where(x == 0, x, np.sign(x))  # keeps the sign of zero, as XLA
    return np.sign(x)


#: the real dtypes whose division by a broadcast divisor XLA rewrites to a multiplication
_RECIPROCAL_DIVISION = frozenset(np.dtype(t) for t in (np.float16, np.float32, np.float64))


def _mul(x, y):
    """``x * y``; complex by XLA's formula (lowering/cpu/complex_xla.py), natively."""
    if x.dtype.kind == "c":
        from lowering.cpu import complex_eager
        return complex_eager.apply("mul", x, _as_array(y, x.dtype))
    return np.multiply(x, y)


def _as_array(v, dtype):
    """An operand as an array of ``dtype`` (the fast eager paths pass Python scalars)."""
    return v if type(v) is np.ndarray else np.asarray(v, dtype)


def _int_div(x, y):
    """Division as XLA computes it: complex by XLA's formula (Smith's, natively); real
    floats by a broadcast divisor (rank-0, or size-1 dims against larger ones) as
    ``x * (1 / y)`` (XLA's simplifier rewrites JAX's eager division so: see
    lowering/div_rewrite.py); integers truncating toward zero, ``-1`` for division by zero.
    """
    kind = x.dtype.kind
    if kind == "c":
        from lowering.cpu import complex_eager
        return complex_eager.apply("div", x, _as_array(y, x.dtype))
    if kind == "f":
        y = _as_array(y, x.dtype)
        if x.dtype in _RECIPROCAL_DIVISION and y.shape != x.shape \
                and y.size < np.prod(np.broadcast_shapes(x.shape, y.shape)):
            return np.multiply(x, np.true_divide(x.dtype.type(1), y).astype(x.dtype))
        return np.true_divide(x, y).astype(x.dtype)
    if kind not in "iu":
        return np.true_divide(x, y).astype(x.dtype)
    safe = np.where(y == 0, 1, y).astype(x.dtype)
    q = np.floor_divide(x, safe)  # floors; no abs(), so INT_MIN does not overflow
    if x.dtype.kind == "i":
        inexact = np.remainder(x, safe) != 0
        q = np.where(inexact & ((x < 0) != (safe < 0)), q + 1, q)
    return np.where(y == 0, np.array(-1).astype(x.dtype), q).astype(x.dtype)


def _rem(x, y):
    if x.dtype.kind in "iu":
        safe = np.where(y == 0, 1, y)
        return np.where(y == 0, x, np.fmod(x, safe)).astype(x.dtype)
    return np.fmod(x, y)


def _pow(x, y):
    if x.dtype == np.float64 and y.dtype == np.float64:  # XLA's: the C library's pow
        from fx._random.xla_math64 import apply_f64
        return apply_f64("pow", x, y)
    return np.power(x, y.astype(x.dtype) if y.dtype != x.dtype else y).astype(x.dtype)


def _shift_left(x, y):
    bits = x.dtype.itemsize * 8
    ok = (y >= 0) & (y < bits)
    return np.where(ok, np.left_shift(x, np.where(ok, y, 0)), 0).astype(x.dtype)


def _shift_right_arithmetic(x, y):
    bits = x.dtype.itemsize * 8
    ok = (y >= 0) & (y < bits)
    shifted = np.right_shift(x, np.where(ok, y, bits - 1))
    if x.dtype.kind == "u":
        shifted = np.where(ok, shifted, 0)
    return shifted.astype(x.dtype)


def _shift_right_logical(x, y):
    bits = x.dtype.itemsize * 8
    unsigned = np.dtype(f"u{x.dtype.itemsize}")
    ok = (y >= 0) & (y < bits)
    out = np.right_shift(x.view(unsigned) if x.ndim else x.astype(unsigned),
                         np.where(ok, y, 0).astype(unsigned))
    return np.where(ok, out, 0).astype(unsigned).astype(x.dtype)


def _integer_pow(x, *, y):
    if y == 0:
        return np.ones_like(x)
    if x.dtype.kind in "iu":
        if y < 0:
            raise ValueError(f"integer_pow of an integer array needs y >= 0, got {y}")
        return np.power(x, y).astype(x.dtype)
    out = np.power(x, abs(y)).astype(x.dtype)
    return (1 / out).astype(x.dtype) if y < 0 else out


def _balanced_eq(x, z, y):
    """1 where x alone attains the extremum z, 0.5 where x and y tie, 0 elsewhere: as
    JAX writes it, ``select_n(x == z, 0, 1) / select_n(y == z, 1, 2)``."""
    x_eq = eq_p.bind(x, z)
    one, zero = _full_like(z, 1), _full_like(z, 0)  # (JAX's order; weak when z is)
    x_is = R.select_n(x_eq, zero, one)
    y_eq = eq_p.bind(y, z)
    two, one = _full_like(z, 2), _full_like(z, 1)
    return R.div(x_is, R.select_n(y_eq, one, two))


def _sq(x):
    """x * x as JAX's rules write it: the ``square`` primitive (primitives/lax_extra.py,
    registered after this module, so looked up at call time)."""
    return R.registry["square"].bind(x)


_PYTHON_TYPE_OF_KIND = {"f": float, "c": complex, "i": int, "u": int, "b": bool}


def _const(x, value):
    """The constant ``value`` for a rule on ``x``, typed as JAX's rules type it: for a
    weakly typed rank-0 ``x`` whose dtype is its Python type's default, a weak Python
    scalar (its literal prints the Python value, ``0.3333333333333333:f32[]``, and keeps
    the result weak); otherwise a strong scalar of x's dtype (``0.3333333432674408:f32[]``)
    that makes the result strong, as JAX's tangents are."""
    aval = R.aval_of(x)
    if aval.weak_type and not aval.shape:
        value = _PYTHON_TYPE_OF_KIND[R.kind_of(aval.dtype)](value)
        if dtypes.scalar_type_dtype(value) == aval.dtype:
            return R.weak_scalar(value, aval.dtype)
    # an Array, not a NumPy scalar: np.float64 is a float, which R's helpers would weaken
    return R.core._array_type[0](np.array(value, dtype=aval.dtype), False)


def _full_like(x, value):
    """``value`` in the shape and dtype of ``x``, weakly typed when ``x`` is (JAX's
    ``full_like``), so a weak cotangent's zeros keep it weak."""
    aval = R.aval_of(x)
    if not aval.weak_type:
        return R.full(aval.shape, value, aval.dtype)
    return R.broadcast_in_dim(R.weak_scalar(value, aval.dtype), aval.shape, ())


# ---------------------------------------------------------------------------
# linear transposes


def _neg_transpose(ct, x):
    return [Zero(x.aval) if type(ct) is Zero else R.neg(ct)]


def _real_transpose(ct, x):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    return [complex_p.bind(ct, R.full(R.shape_of(ct), 0, R.dtype_of(ct)))]


def _imag_transpose(ct, x):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    return [complex_p.bind(R.full(R.shape_of(ct), 0, R.dtype_of(ct)), R.neg(ct))]


def _conj_transpose(ct, x, **params):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    if x.aval.dtype.kind == "c":
        return [conj_p.bind(ct, input_dtype=R.dtype_of(ct))]
    return [real_p.bind(ct)]


# ---------------------------------------------------------------------------
# unary table

neg_p = unary("neg", np.negative, lambda x, t, y: R.neg(t), kinds=NUMERIC,
              transpose=_neg_transpose)
sign_p = unary("sign", _sign, kinds=NUMERIC)
floor_p = unary("floor", np.floor, kinds=FLOAT)
ceil_p = unary("ceil", np.ceil, kinds=FLOAT)
round_p = unary("round", _round, kinds=FLOAT)
is_finite_p = unary("is_finite", np.isfinite, kinds=FLOAT, out_dtype=lambda d: dtypes.bool_)


#: functions whose float32/float16/bfloat16 eager impl is the native XLA expansion
_NATIVE_F32 = frozenset({"sinh", "cosh", "asin", "acos", "asinh", "acosh", "atanh", "erfc"})
_NATIVE_F32_DTYPES = (np.dtype(np.float32), np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))


def _xla_math(name, fallback, f32=True):
    """The eager impl of ``name`` as XLA's CPU backend computes it (JAX's results and
    draws, bit for bit): float64 by fx/_random/xla_math64.py (native code); with ``f32``,
    float32, float16 and bfloat16 as XLA rounds float32 (fx/_random/xla_math.py); other
    dtypes (and complex) by ``fallback`` (NumPy)."""
    def impl(*xs):
        x = xs[0]
        if x.dtype == np.float64:
            from fx._random.xla_math64 import apply_f64
            return apply_f64(name, *xs)
        if name in _NATIVE_F32 and x.dtype in _NATIVE_F32_DTYPES:
            # the compiled kernels' XLA expansions (they round float16/bfloat16 as XLA)
            from lowering.cpu.xla_float32_expansions import apply_array
            return apply_array(name, x).reshape(x.shape)
        if f32 and x.dtype.itemsize <= 4 and x.dtype.kind != "c":
            from fx._random import xla_math
            out = getattr(xla_math, f"{name}_f32")(x.astype(np.float32, copy=False))
            return out.astype(x.dtype, copy=False)
        return fallback(*xs)
    impl.__name__ = f"_{name}_impl"
    return impl


_xla_float32 = _xla_math


exp_p = unary("exp", _xla_float32("exp", np.exp), lambda x, t, y: R.mul(t, y))
exp2_p = unary("exp2", _xla_math("exp2", np.exp2, False),  # log(2) bound, as JAX prints it
                lambda x, t, y: R.mul(log_p.bind(_const(x, 2)), R.mul(t, y)))
log_p = unary("log", _xla_float32("log", np.log), lambda x, t, y: R.div(t, x))
log1p_p = unary("log1p", _xla_float32("log1p", np.log1p), lambda x, t, y: R.div(t, R.add(x, 1)))
expm1_p = unary("expm1", _xla_math("expm1", np.expm1, False),
                lambda x, t, y: R.mul(t, R.add(y, 1)))
# (t + t*y) * (1 - y): JAX's factorisation of t * (1 - y**2), so grads print alike
tanh_p = unary("tanh", _xla_math("tanh", np.tanh, False),
               lambda x, t, y: R.mul(R.add(t, R.mul(t, y)), R.sub(1, y)))
def _logistic(x):
    if x.dtype.kind == "c":
        return 1 / (1 + np.exp(-x))
    return np.asarray(_sp.expit(x)).astype(x.dtype, copy=False)  # expit widens float16


logistic_p = unary("logistic", _xla_math("logistic", _logistic, False),
                   lambda x, t, y: R.mul(t, R.mul(y, R.sub(1, y))))
sin_p = unary("sin", _xla_math("sin", np.sin, False), lambda x, t, y: R.mul(t, cos_p.bind(x)))
cos_p = unary("cos", _xla_math("cos", np.cos, False),
              lambda x, t, y: R.neg(R.mul(t, sin_p.bind(x))))
tan_p = unary("tan", _xla_math("tan", np.tan, False),
              lambda x, t, y: R.mul(t, R.add(_const(x, 1), _sq(y))))
asin_p = unary("asin", _xla_math("asin", np.arcsin, False),
               lambda x, t, y: R.mul(t, rsqrt_p.bind(R.sub(_const(x, 1), _sq(x)))))
acos_p = unary("acos", _xla_math("acos", np.arccos, False),
               lambda x, t, y: R.mul(t, R.neg(rsqrt_p.bind(R.sub(_const(x, 1), _sq(x))))))
atan_p = unary("atan", _xla_math("atan", np.arctan, False),
               lambda x, t, y: R.div(t, R.add(_const(x, 1), _sq(x))))
sinh_p = unary("sinh", _xla_math("sinh", np.sinh, False),
               lambda x, t, y: R.mul(t, cosh_p.bind(x)))
cosh_p = unary("cosh", _xla_math("cosh", np.cosh, False),
               lambda x, t, y: R.mul(t, sinh_p.bind(x)))
asinh_p = unary("asinh", _xla_math("asinh", np.arcsinh, False),
                lambda x, t, y: R.mul(t, rsqrt_p.bind(R.add(_sq(x), 1))))
acosh_p = unary("acosh", _xla_math("acosh", np.arccosh, False),
                lambda x, t, y: R.mul(t, rsqrt_p.bind(R.sub(_sq(x), 1))))
# 1/(1 + x) * (t / (1 - x)), JAX's form of t / (1 - x**2)
atanh_p = unary("atanh", _xla_math("atanh", np.arctanh, False), lambda x, t, y: R.mul(
    integer_pow_p.bind(R.add(1, x), y=-1), R.div(t, R.sub(1, x))))


def _sqrt_narrow(x):
    """Square root; float32 and narrower (bfloat16 too) as XLA computes it: in float32,
    subnormal operands read as zeros of their sign (denormals-are-zero)."""
    if x.dtype.kind == "c" or x.dtype.itemsize > 4:
        return np.sqrt(x)
    xf = x.astype(np.float32, copy=False)
    subnormal = np.abs(xf) < np.finfo(np.float32).tiny
    xf = np.where(subnormal, xf * np.float32(0), xf) if subnormal.any() else xf
    return np.sqrt(xf).astype(x.dtype, copy=False)


# float64 and float32 (16-bit floats through float32) as XLA rounds them; rsqrt in float32
# is the processor's estimate refined once (fx/_random/xla_math.py)
sqrt_p = unary("sqrt", _xla_math("sqrt", _sqrt_narrow, False),
               lambda x, t, y: R.mul(t, R.div(_const(x, 0.5), y)))  # JAX's t * (0.5 / y)
rsqrt_p = unary("rsqrt", _xla_math("rsqrt", lambda x: 1 / np.sqrt(x)),
                lambda x, t, y: R.mul(t, R.mul(_const(x, -0.5), R.div(y, x))))
cbrt_p = unary("cbrt", _xla_math("cbrt", np.cbrt, False), lambda x, t, y: R.mul(
    t, R.mul(_const(x, 1 / 3), integer_pow_p.bind(y, y=-2))), kinds=FLOAT)


def _abs_jvp(x, t, y):
    if R.dtype_of(x).kind == "c":
        # d|x| = Re(t conj(x) / |x|), taken as 0 at x = 0 (JAX's form)
        conj_x = conj_p.bind(x, input_dtype=R.dtype_of(x))
        safe = _replace_zero(R.convert(y, R.dtype_of(x)))
        return real_p.bind(R.mul(t, R.div(conj_x, safe)))
    # as JAX: t where x >= 0 else -t, so the derivative at 0 (and -0) is 1, not sign(0)
    return R.select_n(ge_p.bind(x, R.as_scalar(0, R.dtype_of(x))), R.neg(t), t)


abs_p = unary("abs", np.abs, _abs_jvp, kinds=INEXACT + SINT, out_dtype=R.real_dtype)
not_p = unary("not", np.invert, kinds=INT + BOOL)
real_p = unary("real", np.real, lambda x, t, y: real_p.bind(t), kinds=COMPLEX,
               out_dtype=R.real_dtype, transpose=_real_transpose)
imag_p = unary("imag", np.imag, lambda x, t, y: imag_p.bind(t), kinds=COMPLEX,
               out_dtype=R.real_dtype, transpose=_imag_transpose)
conj_p = unary("conj", lambda x, input_dtype=None: np.conj(x).astype(R.complex_dtype(x.dtype)),
               lambda x, t, y, **kw: conj_p.bind(t, **kw), kinds=INEXACT,
               out_dtype=R.complex_dtype, transpose=_conj_transpose)
population_count_p = unary("population_count", lambda x: np.bitwise_count(
    x.view(np.dtype(f"u{x.dtype.itemsize}"))).astype(x.dtype),
                           kinds=INT)


def _clz_impl(x):
    bits = x.dtype.itemsize * 8
    unsigned = x.astype(np.dtype(f"u{x.dtype.itemsize}"))
    count = np.full(x.shape, bits, dtype=x.dtype)
    for shift in range(bits):
        set_here = (unsigned >> np.array(bits - 1 - shift, unsigned.dtype)) & 1 == 1
        count = np.where(set_here & (count == bits), shift, count)
    return count.astype(x.dtype)


clz_p = unary("clz", _clz_impl, kinds=INT)


integer_pow_p = unary("integer_pow", _integer_pow, kinds=INEXACT + INT)


def _integer_pow_jvp_rule(primals, tangents, *, y):
    (x,), (t,) = primals, tangents
    out = integer_pow_p.bind(x, y=y)
    if y == 0:
        return out, Zero(R.aval_of(out).to_tangent_aval())
    if y == 1:
        slope = None
    elif y == 2:
        slope = R.mul(_const(x, 2), x)  # the constant first, as JAX prints it
    else:
        slope = R.mul(_const(x, y), integer_pow_p.bind(x, y=y - 1))
    return out, (t if slope is None else R.mul(t, slope))


integer_pow_p.def_jvp(_integer_pow_jvp_rule)


def _reduce_precision_impl(x, *, exponent_bits, mantissa_bits):
    if x.dtype == np.float32:
        bits, ui, total_mant = 32, np.uint32, 23
    elif x.dtype == np.float64:
        bits, ui, total_mant = 64, np.uint64, 52
    else:
        return _reduce_precision_impl(x.astype(np.float32), exponent_bits=exponent_bits,
                                      mantissa_bits=mantissa_bits).astype(x.dtype)
    total_exp = bits - 1 - total_mant
    u = np.array(x, copy=True).view(ui)
    if mantissa_bits < total_mant:
        drop = total_mant - mantissa_bits
        one = ui(1)
        last = (u >> ui(drop)) & one
        bias = (one << ui(drop - 1)) - one + last
        rounded = (u + bias) & ~((one << ui(drop)) - one)
        u = np.where(np.isnan(x), u, rounded).astype(ui)
    out = u.view(x.dtype).copy()
    if exponent_bits < total_exp:
        max_exp = 2 ** (exponent_bits - 1) - 1
        largest = (2.0 - 2.0 ** -mantissa_bits) * 2.0 ** max_exp
        smallest = 2.0 ** (1 - max_exp)
        out = np.where(np.abs(out) > largest, np.copysign(np.inf, out), out)
        out = np.where(np.abs(out) < smallest, np.copysign(0.0, out), out)
        out = np.where(np.isnan(x), x, out)
    return out.astype(x.dtype)


def _reduce_precision_transpose(ct, x, **params):
    # linear (as in JAX): its jvp applies it to the tangent, so reverse mode transposes it
    return [Zero(x.aval) if type(ct) is Zero else reduce_precision_p.bind(ct, **params)]


reduce_precision_p = unary(
    "reduce_precision", _reduce_precision_impl,
    lambda x, t, y, **params: reduce_precision_p.bind(t, **params), kinds=FLOAT,
    transpose=_reduce_precision_transpose)


def _copy_transpose(ct, x):
    return [ct]


copy_p = unary("copy", np.copy, lambda x, t, y: copy_p.bind(t) if type(t) is not Zero else t,
               kinds=ANY, transpose=_copy_transpose)
stop_gradient_p = unary("stop_gradient", np.asarray, kinds=ANY)

# ---------------------------------------------------------------------------
# binary table


def _add_transpose(ct, x, y):
    return [R.unbroadcast(ct, x.aval) if R.core.is_undefined_primal(x) else None,
            R.unbroadcast(ct, y.aval) if R.core.is_undefined_primal(y) else None]


def _sub_transpose(ct, x, y):
    ct_x = R.unbroadcast(ct, x.aval) if R.core.is_undefined_primal(x) else None
    if not R.core.is_undefined_primal(y):
        return [ct_x, None]
    return [ct_x, R.unbroadcast(Zero(y.aval) if type(ct) is Zero else R.neg(ct), y.aval)]


def _mul_transpose(ct, x, y):
    x_lin, y_lin = R.core.is_undefined_primal(x), R.core.is_undefined_primal(y)
    if x_lin and y_lin:
        raise ValueError("mul is linear in only one operand; both were undefined")
    if type(ct) is Zero:
        return [Zero(x.aval) if x_lin else None, Zero(y.aval) if y_lin else None]
    if x_lin:
        return [R.unbroadcast(R.mul(ct, y), x.aval), None]
    return [None, R.unbroadcast(R.mul(x, ct), y.aval)]


def _div_transpose(ct, x, y):
    if R.core.is_undefined_primal(y):
        raise ValueError("div is linear only in its numerator")
    if type(ct) is Zero:
        return [Zero(x.aval), None]
    return [R.unbroadcast(R.div(ct, y), x.aval), None]


add_p = binary("add", np.add, transpose=_add_transpose)
sub_p = binary("sub", np.subtract, transpose=_sub_transpose)


def _additive_jvp(p, negate_y):
    """add/sub's jvp as JAX's: the primitive itself on two tangents (so a size-1 or
    rank-0 operand's tangent broadcasts, and transposes, inside it); one tangent alone
    is broadcast to the output shape (negated for sub's y)."""
    def jvp_rule(primals, tangents):
        out = p.bind(*primals)
        tx, ty = tangents
        shape = R.shape_of(out)
        if type(tx) is Zero and type(ty) is Zero:
            return out, Zero(R.aval_of(out).to_tangent_aval())
        if type(ty) is Zero:
            return out, R.broadcast_to(tx, shape)
        if type(tx) is Zero:
            return out, R.broadcast_to(R.neg(ty) if negate_y else ty, shape)
        return out, p.bind(tx, ty)
    return jvp_rule


add_p.def_jvp(_additive_jvp(add_p, False))
sub_p.def_jvp(_additive_jvp(sub_p, True))
mul_p = binary("mul", _mul, (lambda t, x, y, z: R.mul(t, y),
                                    lambda t, x, y, z: R.mul(x, t)),
               transpose=_mul_transpose)
div_p = binary("div", _int_div, (lambda t, x, y, z: R.div(t, y),  # y: -t * x * y**-2, JAX's
                                 lambda t, x, y, z: R.mul(R.mul(R.neg(t), x),
                                                          integer_pow_p.bind(y, y=-2))),
               transpose=_div_transpose)
def _rem_jvp_y(t, x, y, z):
    """-t * trunc(x / y), as JAX writes it: -t * (sign(x / y) * floor(|x / y|))."""
    neg_t = R.neg(t)
    truncated = R.mul(sign_p.bind(R.div(x, y)), floor_p.bind(abs_p.bind(R.div(x, y))))
    return R.mul(neg_t, truncated)


rem_p = binary("rem", _rem, (lambda t, x, y, z: t, _rem_jvp_y), kinds=FLOAT + INT)
max_p = binary("max", np.maximum, (lambda t, x, y, z: R.mul(t, _balanced_eq(x, z, y)),
                                   lambda t, x, y, z: R.mul(t, _balanced_eq(y, z, x))),
               kinds=ANY)
min_p = binary("min", np.minimum, (lambda t, x, y, z: R.mul(t, _balanced_eq(x, z, y)),
                                   lambda t, x, y, z: R.mul(t, _balanced_eq(y, z, x))),
               kinds=ANY)
atan2_p = binary("atan2", _xla_math("atan2", np.arctan2, False), (
    lambda t, x, y, z: R.mul(t, R.div(y, R.add(_sq(x), _sq(y)))),
    lambda t, x, y, z: R.mul(t, R.div(R.neg(x), R.add(_sq(x), _sq(y))))), kinds=FLOAT)
def _undefined_derivative(name, message=None, error=NotImplementedError):
    """A jvp component that raises: JAX defines no derivative for this operand."""
    def rule(t, *args):
        raise error(message or f"Differentiation rule for '{name}' not implemented")
    return rule


nextafter_p = binary("nextafter", np.nextafter, (_undefined_derivative("nextafter"),) * 2,
                     kinds=FLOAT)
and_p = binary("and", np.bitwise_and, None, kinds=INT + BOOL)
or_p = binary("or", np.bitwise_or, None, kinds=INT + BOOL)
xor_p = binary("xor", np.bitwise_xor, None, kinds=INT + BOOL)
shift_left_p = binary("shift_left", _shift_left, None, kinds=INT)
shift_right_arithmetic_p = binary("shift_right_arithmetic", _shift_right_arithmetic, None,
                                  kinds=INT)
shift_right_logical_p = binary("shift_right_logical", _shift_right_logical, None, kinds=INT)
eq_p = binary("eq", np.equal, None, kinds=ANY, out_dtype=dtypes.bool_)
ne_p = binary("ne", np.not_equal, None, kinds=ANY, out_dtype=dtypes.bool_)
lt_p = binary("lt", np.less, None, kinds=FLOAT + INT + BOOL, out_dtype=dtypes.bool_)
le_p = binary("le", np.less_equal, None, kinds=FLOAT + INT + BOOL, out_dtype=dtypes.bool_)
gt_p = binary("gt", np.greater, None, kinds=FLOAT + INT + BOOL, out_dtype=dtypes.bool_)
ge_p = binary("ge", np.greater_equal, None, kinds=FLOAT + INT + BOOL, out_dtype=dtypes.bool_)
def _complex_jvp_re(t, x, y, z):
    return complex_p.bind(t, R.full(R.shape_of(t), 0, R.dtype_of(t)))


def _complex_jvp_im(t, x, y, z):
    return complex_p.bind(R.full(R.shape_of(t), 0, R.dtype_of(t)), t)


def _complex_transpose(ct, x, y):
    if type(ct) is Zero:
        return [Zero(x.aval) if R.core.is_undefined_primal(x) else None,
                Zero(y.aval) if R.core.is_undefined_primal(y) else None]
    re, im = real_p.bind(ct), R.neg(imag_p.bind(ct))
    return [R.unbroadcast(re, x.aval) if R.core.is_undefined_primal(x) else None,
            R.unbroadcast(im, y.aval) if R.core.is_undefined_primal(y) else None]


complex_p = new_primitive("complex")
IMPLICIT_BROADCASTING.add("complex")


@complex_p.def_abstract_eval
def _complex_abstract_eval(x, y):
    check_dtype("complex", x, FLOAT)
    _same_dtype("complex", (x, y))
    return ShapedArray(_same_shape("complex", (x, y)), R.complex_dtype(x.dtype),
                       x.weak_type and y.weak_type)


def _complex_impl(x, y):
    x, y = np.asarray(x), np.asarray(y)
    out = np.empty(np.broadcast_shapes(x.shape, y.shape), R.complex_dtype(x.dtype))
    out.real, out.imag = x, y  # (x + 1j*y would turn an infinite y's real part into NaN)
    return out


complex_p.def_impl(_complex_impl)
complex_p.def_jvp(_nary_jvp(complex_p, (_complex_jvp_re, _complex_jvp_im)))
complex_p.def_transpose(_complex_transpose)
complex_p.def_batch(R.broadcasting_batcher(complex_p, size1=True))


def _strong(x, dtype):
    """``x`` as a strongly typed ``dtype`` value, as JAX's ``convert_element_type``: a
    traced value gets a ``convert_element_type`` (when its type changes), a known one is
    converted here (its literal prints converted)."""
    if isinstance(x, R.core.Tracer):
        return R.convert(x, dtype, weak_type=False)
    aval = R.aval_of(x)
    if aval.dtype == dtype and not aval.weak_type:
        return x
    return R.core._array_type[0](np.asarray(x).astype(dtype), False)


def _replace_zero(x):
    """``x`` with its zeros replaced by ones (where a formula's other factor is 0)."""
    return R.select_n(eq_p.bind(x, _const(x, 0)), x, _full_like(x, 1))


def _pow_jvp_x(t, x, y, z):
    """t * y * x^(y-1), with x and y made strong in the result dtype as JAX's rule does
    (so the tangent of ``x ** 3.0`` is strong); for an integer y, 0 where y == 0."""
    y_is_int = R.dtype_of(y).kind in "iu"
    dtype = R.dtype_of(x)
    x, y = _strong(x, dtype), _strong(y, dtype)
    if not y_is_int:
        return R.mul(t, R.mul(y, pow_p.bind(x, R.sub(y, _full_like(y, 1)))))
    shape = _same_shape("pow", (R.aval_of(x), R.aval_of(y)))
    x, y = R.broadcast_to(x, shape), R.broadcast_to(y, shape)
    slope = R.mul(_replace_zero(y), pow_p.bind(x, R.sub(y, _full_like(y, 1))))
    return R.mul(t, R.select_n(eq_p.bind(y, _const(y, 0)), slope, _full_like(y, 0)))


def _pow_jvp_y(t, x, y, z):
    # log(x) * z, with x == 0 read as 1 (the limit of x^y log x for y > 0), made strong
    return _strong(R.mul(t, R.mul(log_p.bind(_replace_zero(x)), z)), R.dtype_of(y))


pow_p = new_primitive("pow")
IMPLICIT_BROADCASTING.add("pow")


@pow_p.def_abstract_eval
def _pow_abstract_eval(x, y):
    check_dtype("pow", x, INEXACT)
    if y.dtype != x.dtype:
        check_dtype("pow", y, INT, "exponent (which must match the base's dtype or be int)")
    return ShapedArray(_same_shape("pow", (x, y)), x.dtype, x.weak_type and y.weak_type)


pow_p.def_impl(_with_errstate(_pow))
pow_p.def_jvp(_nary_jvp(pow_p, (_pow_jvp_x, _pow_jvp_y)))
pow_p.def_batch(R.broadcasting_batcher(pow_p, size1=True))


def _add_any_transpose(ct, x, y):
    return [ct, ct]


add_any_p = binary("add_any", np.add, (lambda t, x, y, z: t, lambda t, x, y, z: t),
                   kinds=NUMERIC, transpose=_add_any_transpose)

# select_n and clamp: their own module (needs the factories and comparisons above)
from primitives.selection import clamp_p, select_n_p  # noqa: E402,F401


# the special functions (erf ... zeta): their own module, re-exported here
from primitives.elementwise_special import (  # noqa: E402,F401  (needs the factories above)
    digamma_p, erf_inv_p, erf_p, erfc_p, igamma_grad_a_p, igamma_p, igammac_p, lgamma_p,
    polygamma_p, zeta_p)
