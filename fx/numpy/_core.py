"""The heart of ``fx.numpy``: conversion, dtype promotion, broadcasting, and the
elementwise and reduction functions, built on ``fx.lax`` (never on NumPy).

Invariants: every function accepts Arrays, tracers, NumPy arrays and Python
scalars; promotion follows JAX's lattice with weak types; NumPy-style
broadcasting is JAX 0.10's: elementwise functions only rank-promote here
(``broadcast_in_dim`` adding leading size-1 dims) and leave rank-0 operands
and size-1 dims to the primitives; ``where`` and friends broadcast fully.
"""
from __future__ import annotations

import builtins
import importlib
from typing import Any

import numpy as np

import primitives as P
from fx import core, dtypes, lax
from fx.config import config
from fx.array import Array
from fx.core import Tracer, get_aval
from fx.numpy._jitted import library_jit

__all__ = ["asarray", "array", "broadcast_shapes", "add", "multiply", "subtract", "maximum",
           "minimum", "arctan2", "nextafter", "equal", "not_equal", "less", "less_equal",
           "greater", "greater_equal", "bitwise_and", "bitwise_or", "bitwise_xor", "left_shift",
           "right_shift", "true_divide", "divide", "floor_divide", "remainder", "mod", "fmod",
           "power", "negative", "positive", "absolute", "abs", "sign", "exp", "exp2", "log",
           "log1p", "expm1", "sqrt", "cbrt", "sin", "cos", "tan", "arcsin", "arccos", "arctan",
           "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "log2", "log10", "square",
           "reciprocal", "floor", "ceil", "trunc", "round", "around", "rint", "isfinite", "isnan",
           "isinf", "logical_not", "logical_and", "logical_or", "logical_xor", "invert",
           "bitwise_not", "bitwise_invert", "real", "imag", "conjugate", "conj", "where", "clip",
           "sum", "prod", "max", "min", "amax", "amin", "all", "any", "mean", "var", "std",
           "argmax", "argmin", "zeros", "ones", "empty", "full", "zeros_like", "ones_like",
           "empty_like", "full_like", "arange", "linspace", "eye", "identity", "shape", "ndim",
           "size", "reshape", "ravel", "transpose", "permute_dims", "swapaxes", "moveaxis",
           "expand_dims", "squeeze", "broadcast_to", "broadcast_arrays", "atleast_1d",
           "atleast_2d", "stack"]

_PY_SCALARS = (bool, int, float, complex)
_eval_trace = core.eval_trace
_current = core._current_trace


# ---------------------------------------------------------------------------
# conversion


def _is_array_like(x) -> bool:
    return isinstance(x, (Array, Tracer, np.ndarray, np.generic) + _PY_SCALARS)


def asarray(a, dtype=None, order=None, *, copy=None, device=None) -> Any:
    """Convert ``a`` (array, scalar, nested list) to an fx array (JAX's ``asarray``), on
    ``device`` (a device or sharding) when given, else on the default device."""
    out = _asarray(a, dtype)
    if device is not None:
        if isinstance(out, Tracer):
            return out
        return importlib.import_module("fx.devices").device_put(out, device)
    if core._eager_route is not None and type(out) is Array:  # the default is not the host
        return importlib.import_module("fx.devices")._place_default(out)
    return out


def _asarray(a, dtype):
    if dtype is not None:
        dtype = dtypes.canonicalize_dtype(dtype)
    if type(a) is Array:
        if dtype is None or a._value.dtype == dtype:
            return a
        return lax.convert_element_type(a, dtype)
    if isinstance(a, Tracer):
        return a if dtype is None else lax.convert_element_type(a, dtype)
    if isinstance(a, _PY_SCALARS):
        d, weak = dtypes.result_type_and_weak(a)
        if isinstance(a, int) and not isinstance(a, bool) and dtypes.is_integer(
                d if dtype is None else dtype):
            core._check_int_range(a, d if dtype is None else dtype)
        if dtype is not None:
            return Array(np.asarray(a, dtype=dtype))
        return Array(np.asarray(a, dtype=d), weak)
    if hasattr(a, "__jax_array__"):
        return _asarray(a.__jax_array__(), dtype)
    if isinstance(a, (list, tuple)):
        if builtins.any(isinstance(x, Tracer) for x in _flatten_nested(a)):
            # as JAX: every leaf becomes a strong array of the common dtype, then stack
            _check_array_args(list(_flatten_nested(a)))
            if dtype is None:
                dtype = dtypes.result_type(*_flatten_nested(a))
            return _stack_nested(a, dtype)
        if builtins.any(type(x) is Array for x in _flatten_nested(a)):
            a = _to_numpy_nested(a)
    if isinstance(a, (np.ndarray, np.generic, list, tuple)) or hasattr(a, "__array__"):
        value = np.asarray(a)
        if value.dtype == object:
            raise TypeError(f"fx.numpy.asarray: cannot convert {type(a).__name__} with "
                            f"object entries to an array")
        if dtype is None:
            weak = False
            if isinstance(a, (list, tuple)) and value.size and value.dtype.kind in "biufc" \
                    and builtins.all(isinstance(x, _PY_SCALARS) for x in _flatten_nested(a)):
                dtype = dtypes.result_type(*_flatten_nested(a))
            else:
                dtype = dtypes.canonicalize_dtype(value.dtype)
            return Array(np.asarray(value.astype(dtype, copy=False), order="C"), weak)
        return Array(np.asarray(value.astype(dtype, copy=False), order="C"))
    raise TypeError(f"fx.numpy.asarray: cannot convert a value of type {type(a).__name__} "
                    f"to an array")


def array(object, dtype=None, copy: bool = True, order="K", ndmin: int = 0, *, device=None):
    """Like ``asarray`` (values are immutable, so no copy is ever observable)."""
    out = asarray(object, dtype, device=device)
    if ndmin > out.ndim:
        out = lax.broadcast_to_rank(out, ndmin)
    return out


def _flatten_nested(x):
    if isinstance(x, (list, tuple)):
        for item in x:
            yield from _flatten_nested(item)
    else:
        yield x


def _to_numpy_nested(x):
    if isinstance(x, (list, tuple)):
        return [_to_numpy_nested(v) for v in x]
    return np.asarray(x)


def _stack_nested(x, dtype):
    """A nested list holding tracers as one array: each leaf converted to ``dtype``, given
    a leading axis and concatenated, level by level (JAX's order of operations)."""
    if isinstance(x, (list, tuple)):
        parts = [lax.expand_dims(_stack_nested(v, dtype), (0,)) for v in x]
        shapes = [get_aval(p).shape[1:] for p in parts]
        if builtins.any(s != shapes[0] for s in shapes):
            raise ValueError(f"fx.numpy.array: the nested sequence is ragged (its entries "
                             f"have shapes {shapes}); every entry must have the same shape")
        from fx.numpy import concatenate
        return concatenate(parts, axis=0)
    return asarray(x, dtype)


def _weak_scalar(value, dtype) -> Array:
    """A Python scalar as a weakly typed 0-d Array of ``dtype`` (a literal when traced).

    As JAX, a Python int must fit the default integer type and then wraps into a narrower
    one (``uint8 + 300`` adds 44; ``clip(uint8, -1, 3)`` clips with 255)."""
    if isinstance(value, int) and not isinstance(value, bool) and dtypes.is_integer(dtype):
        core._check_int_range(value, dtypes.default_int_dtype())
        return Array(np.asarray(value, dtype=np.int64).astype(dtype), True)
    return Array(np.asarray(value, dtype=dtype), True)


def _check_array_args(args):
    for i, a in enumerate(args):
        if not _is_array_like(a) and not hasattr(a, "__jax_array__"):
            raise TypeError(f"fx.numpy functions require arrays or scalars as arguments, got "
                            f"{type(a)} at position {i}; wrap lists with fx.numpy.asarray")


def _strict_check(args) -> None:
    """``jax_numpy_dtype_promotion="strict"``: no implicit promotion between strong dtypes."""
    if config.jax_numpy_dtype_promotion == "strict":
        from fx._api_extras import check_dtype_promotion
        avals = [get_aval(a) for a in args]
        check_dtype_promotion([(a.dtype, a.weak_type) for a in avals])


def _promote(*args):
    """Convert ``args`` to their common dtype (JAX's lattice, weak types)."""
    _check_array_args(args)
    _strict_check(args)
    dtype, weak = dtypes.result_type_and_weak(*args)
    return _convert_all(args, dtype, weak)


def _convert_all(args, dtype, weak):
    out = []
    for a in args:
        if isinstance(a, _PY_SCALARS):
            scalar = _weak_scalar(a, dtype)  # range-checked (ints wrap as JAX's do)
            out.append(scalar if weak else Array(scalar._value, False))
        elif isinstance(a, (np.ndarray, np.generic)):
            out.append(Array(np.asarray(a, dtype=dtype), weak))
        else:
            if not isinstance(a, (Array, Tracer)):
                if hasattr(a, "__jax_array__"):
                    a = a.__jax_array__()
                else:
                    raise TypeError(f"expected an array or scalar, got {type(a).__name__}: "
                                    f"{a!r}")
            aval = a.aval
            if aval.dtype != dtype or aval.weak_type != weak:
                a = lax._convert_element_type(a, dtype, weak)
            out.append(a)
    return out


def _promote_inexact(*args):
    _check_array_args(args)
    _strict_check(args)
    dtype, weak = dtypes.result_type_and_weak(*args)
    if not dtypes.is_inexact(dtype):
        dtype = dtypes.default_float_dtype()
    return _convert_all(args, dtype, weak)


def broadcast_shapes(*shapes) -> tuple:
    """The NumPy broadcast of ``shapes`` (ValueError naming them when incompatible)."""
    ndim = builtins.max((len(s) for s in shapes), default=0)
    out = []
    for i in range(ndim):
        size = 1
        for s in shapes:
            j = i - (ndim - len(s))
            if j < 0:
                continue
            d = s[j]
            if d != 1:
                if size != 1 and size != d:
                    raise ValueError(f"Incompatible shapes for broadcasting: "
                                     f"{tuple(tuple(s) for s in shapes)}")
                size = d
        out.append(size)
    return tuple(out)


def _broadcast_to(x, shape):
    aval = get_aval(x)
    if aval.shape == shape:
        return x
    from primitives._rules import broadcast_to as _bt
    return _bt(x, shape)


def _broadcast_all(args):
    shapes = [get_aval(a).shape for a in args]
    first = shapes[0]
    if builtins.all(s == first or not s for s in shapes):
        return args
    if config.jax_numpy_rank_promotion != "allow":
        from fx._api_extras import check_rank_promotion
        check_rank_promotion("broadcast", shapes)
    shape = broadcast_shapes(*shapes)
    return [a if not s else _broadcast_to(a, shape) for a, s in zip(args, shapes)]


def _promote_shapes(args):
    """NumPy broadcasting as JAX 0.10's ``jax.numpy`` does it for elementwise primitives:
    equal ranks (or one non-scalar rank) pass through, the primitives broadcasting rank-0
    operands and size-1 dims themselves; otherwise each operand gets leading size-1 dims
    (a ``broadcast_in_dim``) up to the result's rank. ValueError for incompatible shapes
    of different ranks (the primitive raises TypeError for equal ranks, as JAX's)."""
    shapes = [get_aval(a).shape for a in args]
    first = shapes[0]
    if builtins.all(s == first or not s for s in shapes):
        return args
    ranks = {len(s) for s in shapes if s}
    if len(ranks) < 2:
        return args
    if config.jax_numpy_rank_promotion != "allow":
        from fx._api_extras import check_rank_promotion
        check_rank_promotion("broadcast", shapes)
    rank = len(broadcast_shapes(*shapes))
    return [a if len(s) == rank else lax.broadcast_in_dim(
        a, (1,) * (rank - len(s)) + tuple(s), tuple(range(rank - len(s), rank)))
        for a, s in zip(args, shapes)]


# ---------------------------------------------------------------------------
# elementwise functions


def _eager_fast(x, y):
    """Arguments for an eager binary op that needs no promotion or broadcasting, or None."""
    if _current.get() is not _eval_trace:
        return None
    tx, ty = type(x), type(y)
    if tx is Array:
        dx = x._value.dtype
        if ty is Array:
            if y._value.dtype == dx and x._value.shape == y._value.shape:
                return x, y
        elif ty is float:
            if dx.kind in "fc" and dx.itemsize >= 4:
                return x, y
        elif ty is int:
            if dx.kind in "fc" or (dx == np.int32 and -2**31 <= y < 2**31):
                return x, y
    return None


def _binary_fn(prim, name, promote=_promote, doc=None):
    bind = prim.bind

    fast = promote is _promote  # other promotions (to inexact) change integer inputs

    def fn(x, y, /):
        args = _eager_fast(x, y) if fast else None
        if args is not None:
            return bind(*args)
        x, y = promote(x, y)
        x, y = _promote_shapes((x, y))
        return bind(x, y)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc or f"Elementwise ``{name}`` with NumPy broadcasting and JAX promotion."
    return fn


def _unary_fn(prim, name, promote=None, doc=None):
    bind = prim.bind

    def fn(x, /):
        if type(x) is not Array or promote is not None:
            (x,) = (promote or _promote)(x)
        return bind(x)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc or f"Elementwise ``{name}``."
    return fn


def add(x, y, /):
    """Elementwise ``x + y`` with NumPy broadcasting and JAX promotion (``or`` for bool)."""
    args = _eager_fast(x, y)
    if args is not None and args[0]._value.dtype != np.bool_:
        return P.add_p.bind(*args)
    x, y = _promote(x, y)
    x, y = _promote_shapes((x, y))
    if get_aval(x).dtype == dtypes.bool_:
        return P.or_p.bind(x, y)
    return P.add_p.bind(x, y)


def multiply(x, y, /):
    """Elementwise ``x * y`` with NumPy broadcasting and JAX promotion (``and`` for bool)."""
    args = _eager_fast(x, y)
    if args is not None and args[0]._value.dtype != np.bool_:
        return P.mul_p.bind(*args)
    x, y = _promote(x, y)
    x, y = _promote_shapes((x, y))
    if get_aval(x).dtype == dtypes.bool_:
        return P.and_p.bind(x, y)
    return P.mul_p.bind(x, y)
subtract = _binary_fn(P.sub_p, "subtract")
maximum = _binary_fn(P.max_p, "maximum")
minimum = _binary_fn(P.min_p, "minimum")
arctan2 = _binary_fn(P.atan2_p, "arctan2", _promote_inexact)
nextafter = _binary_fn(P.nextafter_p, "nextafter", _promote_inexact)
equal = _binary_fn(P.eq_p, "equal")
not_equal = _binary_fn(P.ne_p, "not_equal")
less = _binary_fn(P.lt_p, "less")
less_equal = _binary_fn(P.le_p, "less_equal")
greater = _binary_fn(P.gt_p, "greater")
greater_equal = _binary_fn(P.ge_p, "greater_equal")
bitwise_and = _binary_fn(P.and_p, "bitwise_and")
bitwise_or = _binary_fn(P.or_p, "bitwise_or")
bitwise_xor = _binary_fn(P.xor_p, "bitwise_xor")
_left_shift = _binary_fn(P.shift_left_p, "left_shift")
_right_shift = _binary_fn(P.shift_right_arithmetic_p, "right_shift")


def _shift(fn, x, y):
    x, y = _promote(x, y)
    if get_aval(x).dtype == dtypes.bool_:  # as JAX: booleans shift as default integers
        x, y = (lax.convert_element_type(v, dtypes.default_int_dtype()) for v in (x, y))
    elif get_aval(x).dtype.kind == "u":
        x, y = _promote_shapes((x, y))
        return lax.shift_right_logical(x, y) if fn is _right_shift else fn(x, y)
    return fn(x, y)


def left_shift(x, y, /):
    """``x << y`` elementwise (shifts of the bit width or more give 0)."""
    return _shift(_left_shift, x, y)


def right_shift(x, y, /):
    """``x >> y`` elementwise: arithmetic for signed, logical for unsigned integers."""
    return _shift(_right_shift, x, y)


def true_divide(x, y, /):
    """``x / y`` in floating point (integers are promoted to float)."""
    args = _eager_fast(x, y)
    if args is not None and args[0]._value.dtype.kind in "fc":
        return P.div_p.bind(*args)
    x, y = _promote_inexact(x, y)
    x, y = _promote_shapes((x, y))
    return P.div_p.bind(x, y)


divide = true_divide


def floor_divide(x, y, /):
    """``x // y``: rounds toward negative infinity, as NumPy."""
    x, y = _promote(x, y)
    x, y = _promote_shapes((x, y))
    dtype = get_aval(x).dtype
    if dtype == dtypes.bool_:  # as JAX: booleans divide as default integers
        x, y = (lax.convert_element_type(v, dtypes.default_int_dtype()) for v in (x, y))
        dtype = get_aval(x).dtype
    if dtypes.is_integer(dtype):
        q = lax.div(x, y)
        if dtypes.is_signed(dtype):
            r = lax.rem(x, y)
            fix = logical_and(not_equal(r, 0), not_equal(lax.lt(r, _zero(r)),
                                                        lax.lt(y, _zero(y))))
            q = where(fix, lax.sub(q, _one(q)), q)
        return _restore_weak(q, x, y)
    if dtypes.is_complex(dtype):
        raise TypeError("floor_divide does not support complex inputs")
    return lax.floor(lax.div(x, y))


def _restore_weak(out, *inputs):
    """``out`` weakly typed iff every (promoted) input is: integer helpers built from
    strong constants would otherwise drop the weakness of Python scalars."""
    weak = builtins.all(get_aval(a).weak_type for a in inputs)
    if get_aval(out).weak_type == weak:
        return out
    return lax._convert_element_type(out, get_aval(out).dtype, weak)


def _zero(x):
    return lax.full_like(x, 0) if get_aval(x).shape else np.array(0, get_aval(x).dtype)[()]


def _one(x):
    return lax.full_like(x, 1) if get_aval(x).shape else np.array(1, get_aval(x).dtype)[()]


@library_jit
def remainder(x, y, /):
    """``x % y`` with the sign of ``y`` (NumPy's ``mod``), as JAX's ``jit``-wrapped
    ``remainder``: integer ``x % 0`` is ``x % 1`` (0), the C remainder moved into ``y``'s
    sign by a select; a zero float remainder takes ``y``'s sign (NumPy's and the array
    API's ``-0.0``, which JAX lacks).

    Args:
      x, y: arrays or scalars (booleans divide as the default integer).

    Returns:
      The remainder, of the promoted dtype and the broadcast shape.

    Example:
      >>> fx.numpy.remainder(fx.numpy.array([5, -5]), 3)
      Array([2, 1], dtype=int32)
    """
    x, y = _promote(x, y)
    x, y = _promote_shapes((x, y))
    if get_aval(x).dtype == dtypes.bool_:  # as JAX: booleans divide as default integers
        x, y = (lax.convert_element_type(v, dtypes.default_int_dtype()) for v in (x, y))
    dtype = get_aval(x).dtype
    zero = np.array(0, dtype)[()]
    if not dtypes.is_inexact(dtype):  # as JAX: x % 0 is x % 1
        y = where(lax.eq(y, zero), lax.full_like(y, 1), y)
    r = lax.rem(x, y)
    nonzero = lax.ne(r, zero)
    fix = lax.bitwise_and(lax.ne(lax.lt(r, zero), lax.lt(y, zero)), nonzero)
    r = lax.select(fix, lax.add(r, y), r)
    if dtypes.is_float(dtype):
        # a zero remainder takes the divisor's sign (NumPy; the array API's special cases)
        r = where(lax.eq(r, zero), lax.mul(lax.abs(r), lax.sign(y)), r)
    return r


mod = remainder


def fmod(x, y, /):
    """C ``fmod``: remainder with the sign of ``x``."""
    x, y = _promote(x, y)
    x, y = _promote_shapes((x, y))
    return lax.rem(x, y)


def power(x, y, /):
    """``x ** y``; integer exponents that are Python ints use repeated multiplication."""
    if isinstance(y, int) and not isinstance(y, bool) and not isinstance(x, _PY_SCALARS):
        (x,) = _promote(x)
        if get_aval(x).dtype == dtypes.bool_:
            x = lax.convert_element_type(x, dtypes.default_int_dtype())
        if dtypes.is_integer(get_aval(x).dtype) and y < 0:
            raise ValueError("Integers to negative integer powers are not allowed.")
        return lax.integer_pow(x, y)
    x, y = _promote(x, y)
    x, y = _promote_shapes((x, y))
    dtype = get_aval(x).dtype
    if dtype == dtypes.bool_:  # as JAX: booleans are raised as default integers
        x, y = (lax.convert_element_type(v, dtypes.default_int_dtype()) for v in (x, y))
        dtype = get_aval(x).dtype
    if dtypes.is_integer(dtype):
        return _restore_weak(_integer_power(x, y), x, y)
    return lax.pow(x, y)


def _integer_power(x, y):
    """x ** y for integer arrays by binary exponentiation over the exponent's bits."""
    bits = get_aval(y).dtype.itemsize * 8
    acc = lax.full_like(x, 1)
    base = x
    exponent = y
    for _ in range(bits):
        bit = lax.ne(lax.bitwise_and(exponent, _one(exponent)), _zero(exponent))
        acc = where(bit, lax.mul(acc, base), acc)
        base = lax.mul(base, base)
        exponent = lax.shift_right_logical(exponent, _one(exponent))
    return acc



def negative(x, /):
    (x,) = _promote(x)
    return lax.neg(x)


def positive(x, /):
    (x,) = _promote(x)
    return x


def absolute(x, /):
    (x,) = _promote(x)
    if get_aval(x).dtype.kind in "bu":
        return x
    return lax.abs(x)


abs = absolute


def sign(x, /):
    (x,) = _promote(x)
    return lax.sign(x)


def _inexact_unary(prim, name):
    bind = prim.bind

    def fn(x, /):
        if type(x) is not Array or x._value.dtype.kind not in "fc":
            (x,) = _promote_inexact(x)
        return bind(x)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise ``{name}`` (integers are promoted to float)."
    return fn


exp = _inexact_unary(P.exp_p, "exp")
exp2 = _inexact_unary(P.exp2_p, "exp2")
log = _inexact_unary(P.log_p, "log")
log1p = _inexact_unary(P.log1p_p, "log1p")
expm1 = _inexact_unary(P.expm1_p, "expm1")
sqrt = _inexact_unary(P.sqrt_p, "sqrt")
cbrt = _inexact_unary(P.cbrt_p, "cbrt")
sin = _inexact_unary(P.sin_p, "sin")
cos = _inexact_unary(P.cos_p, "cos")
tan = _inexact_unary(P.tan_p, "tan")
arcsin = _inexact_unary(P.asin_p, "arcsin")
arccos = _inexact_unary(P.acos_p, "arccos")
arctan = _inexact_unary(P.atan_p, "arctan")
sinh = _inexact_unary(P.sinh_p, "sinh")
cosh = _inexact_unary(P.cosh_p, "cosh")
tanh = _inexact_unary(P.tanh_p, "tanh")
arcsinh = _inexact_unary(P.asinh_p, "arcsinh")
arccosh = _inexact_unary(P.acosh_p, "arccosh")
arctanh = _inexact_unary(P.atanh_p, "arctanh")


def log2(x, /):
    (x,) = _promote_inexact(x)
    return lax.div(lax.log(x), np.log(2).astype(get_aval(x).dtype))


def log10(x, /):
    (x,) = _promote_inexact(x)
    return lax.div(lax.log(x), np.log(10).astype(get_aval(x).dtype))


def square(x, /):
    """``x * x`` elementwise (booleans square as the default integer, as JAX): the
    ``square`` primitive, as JAX 0.10 binds it."""
    (x,) = _promote(x)
    if get_aval(x).dtype == dtypes.bool_:
        x = lax.convert_element_type(x, dtypes.default_int_dtype())
    return lax.square(x)


def reciprocal(x, /):
    (x,) = _promote_inexact(x)
    return lax.integer_pow(x, -1)


def floor(x, /):
    (x,) = _promote(x)
    return x if not dtypes.is_inexact(get_aval(x).dtype) else lax.floor(x)


def ceil(x, /):
    (x,) = _promote(x)
    return x if not dtypes.is_inexact(get_aval(x).dtype) else lax.ceil(x)


def trunc(x, /):
    (x,) = _promote(x)
    if not dtypes.is_inexact(get_aval(x).dtype):
        return x
    return where(lax.lt(x, _zero(x)), lax.ceil(x), lax.floor(x))


def rint(x, /):
    """Round to the nearest integer, halves to even; integers and booleans become the
    default float type first, as JAX."""
    (x,) = _promote(x)
    if not dtypes.is_inexact(get_aval(x).dtype):  # a strong conversion, as JAX
        x = lax.convert_element_type(x, dtypes.default_float_dtype())
    if dtypes.is_complex(get_aval(x).dtype):
        return lax.complex(rint(lax.real(x)), rint(lax.imag(x)))
    return lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN)


def isfinite(x, /):
    (x,) = _promote(x)
    dtype = get_aval(x).dtype
    if not dtypes.is_inexact(dtype):
        return lax.full_like(x, True, dtypes.bool_)
    if dtypes.is_complex(dtype):
        return _restore_weak(
            logical_and(lax.is_finite(lax.real(x)), lax.is_finite(lax.imag(x))), x)
    return lax.is_finite(x)


def isnan(x, /):
    (x,) = _promote(x)
    if not dtypes.is_inexact(get_aval(x).dtype):
        return _restore_weak(lax.full_like(x, False, dtypes.bool_), x)
    return lax.ne(x, x)


def isinf(x, /):
    (x,) = _promote(x)
    dtype = get_aval(x).dtype
    if not dtypes.is_inexact(dtype):
        return lax.full_like(x, False, dtypes.bool_)
    if dtypes.is_complex(dtype):
        return _restore_weak(logical_or(isinf(lax.real(x)), isinf(lax.imag(x))), x)
    return lax.eq(lax.abs(x), np.array(np.inf, dtype)[()])


def logical_not(x, /):
    (x,) = _promote(x)
    return lax.bitwise_not(_to_bool(x))


def _to_bool(x):
    """``x != 0`` (weak when ``x`` is, as JAX's comparison with a literal zero)."""
    if get_aval(x).dtype == dtypes.bool_:
        return x
    return lax.ne(x, 0)


def _logical(prim, name):
    def fn(x, y, /):
        x, y = _promote(x, y)
        x, y = _promote_shapes((x, y))
        out = prim.bind(_to_bool(x), _to_bool(y))
        return _restore_weak(out, x, y)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise ``{name}`` of the truth values."
    return fn


logical_and = _logical(P.and_p, "logical_and")
logical_or = _logical(P.or_p, "logical_or")
logical_xor = _logical(P.xor_p, "logical_xor")


def invert(x, /):
    (x,) = _promote(x)
    return lax.bitwise_not(x)


bitwise_not = bitwise_invert = invert


def real(val, /):
    (val,) = _promote(val)
    return lax.real(val) if dtypes.is_complex(get_aval(val).dtype) else val


def imag(val, /):
    (val,) = _promote(val)
    if dtypes.is_complex(get_aval(val).dtype):
        return lax.imag(val)
    return lax.full_like(val, 0)


def conjugate(x, /):
    (x,) = _promote(x)
    return lax.conj(x) if dtypes.is_complex(get_aval(x).dtype) else x


conj = conjugate


from fx.numpy._reduce_ops import (  # noqa: E402,F401
    _argreduce, _keepdims, _reduce, _reduction_axes, all, amax, amin, any, argmax, argmin, max,
    mean, min, prod, std, sum, var)
from fx.numpy._shape_base import (  # noqa: E402,F401
    zeros, ones, empty, full, zeros_like, ones_like, empty_like, full_like, arange, linspace, eye,
    identity, shape, ndim, size, reshape, ravel, transpose, permute_dims, swapaxes, moveaxis,
    expand_dims, squeeze, broadcast_to, broadcast_arrays, atleast_1d, atleast_2d, stack, _shape,
    _normalize_axes)
from fx.numpy._where_clip_round import around, clip, round, where  # noqa: E402,F401
