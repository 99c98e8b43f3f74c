"""``fx.lax``: thin wrappers that bind primitives, with JAX's lax signatures.

Invariants: lax functions do not promote dtypes (operands must agree, as in
JAX); a Python scalar operand takes the dtype of the array operands (a weak
type). Shapes must be equal or rank-0.
"""
from __future__ import annotations

import enum
from typing import Sequence

import numpy as np

import primitives as P
from fx import core, dtypes
from fx.core import Tracer, get_aval



def _scalar(value, dtype):
    """A Python scalar operand as a weakly typed 0-d array of ``dtype`` (JAX's lax keeps
    Python scalars weak, so ``lax.add(1, 2)`` is a weak int32)."""
    if isinstance(value, int) and not isinstance(value, bool) and dtypes.is_integer(dtype):
        core._check_int_range(value, dtype)
    return core.record_python_scalar(
        core._array_type[0](np.asarray(value, dtype=dtype), not isinstance(value, bool)), value)


def canonical_operand(x):
    """``x`` as an operand of its canonical type: NumPy arrays and scalars of a 64-bit type
    become their 32-bit counterparts (unless x64 is on) and Python scalars become weakly
    typed 0-d arrays, as JAX converts every lax operand. Other values pass unchanged."""
    t = type(x)
    if t is np.ndarray or isinstance(x, np.generic):
        dtype = dtypes.canonicalize_dtype(x.dtype)
        return x if dtype == x.dtype else np.asarray(x, dtype)
    if t is bool or t is int or t is float or t is complex:
        return _scalar(x, dtypes.result_type(x))
    return x


def _bind(primitive, *args, **params):
    """Bind ``primitive``; eagerly, first check the operands with its type rule (as JAX
    does), so mistakes raise fx's clear errors rather than NumPy's."""
    args = [canonical_operand(a) for a in args]
    if core._current_trace.get() is core.eval_trace:
        primitive.abstract_eval(*[get_aval(a) for a in args], **params)
    return primitive.bind(*args, **params)


def _lax_args(*args):
    """Give Python scalars the dtype of the array operands (weak typing)."""
    if not any(dtypes.is_python_scalar(a) for a in args):
        return args
    ref = next((a for a in args if not dtypes.is_python_scalar(a)), None)
    if ref is None:
        dtype = dtypes.result_type(*args)
    else:
        dtype = get_aval(ref).dtype
    return [(_scalar(a, dtype) if _fits_kind(a, dtype) else _scalar(a, dtypes.result_type(a)))
            if dtypes.is_python_scalar(a) else a for a in args]


_KIND_RANK = {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}


def _fits_kind(value, dtype) -> bool:
    """Whether a Python scalar takes an operand's ``dtype`` in a lax op, as in JAX: a
    complex scalar never becomes real, a float never an integer, a bool only a bool (the
    scalar keeps its own dtype then, and the op's same-dtype check raises)."""
    own = dtypes.result_type(value).kind
    if own == "b":
        return dtype.kind == "b"
    return _KIND_RANK[own] <= _KIND_RANK.get(dtype.kind, 3)


def _check_arrays(name, args):
    for a in args:
        if not isinstance(a, (Tracer, np.ndarray, np.generic, core._array_type[0])) \
                and not dtypes.is_python_scalar(a):
            if hasattr(a, "__jax_array__"):
                continue
            raise TypeError(f"lax.{name} requires arrays or scalars, got {type(a).__name__}: "
                            f"{a!r}")


def _unary(prim):
    def fn(x):
        return _bind(prim, *_lax_args(x))
    fn.__name__ = prim.name
    fn.__doc__ = f"Elementwise ``{prim.name}`` (the ``{prim.name}`` primitive)."
    return fn


def _binary(prim):
    def fn(x, y):
        _check_arrays(prim.name, (x, y))
        return _bind(prim, *_lax_args(x, y))
    fn.__name__ = prim.name
    fn.__doc__ = f"Elementwise ``{prim.name}`` (the ``{prim.name}`` primitive)."
    return fn


neg, sign, floor, ceil, is_finite = map(_unary, (P.neg_p, P.sign_p, P.floor_p, P.ceil_p,
                                                 P.is_finite_p))
exp, exp2, log, log1p, expm1, tanh, logistic = map(_unary, (
    P.exp_p, P.exp2_p, P.log_p, P.log1p_p, P.expm1_p, P.tanh_p, P.logistic_p))
sin, cos, tan, asin, acos, atan = map(_unary, (P.sin_p, P.cos_p, P.tan_p, P.asin_p, P.acos_p,
                                               P.atan_p))
sinh, cosh, asinh, acosh, atanh = map(_unary, (P.sinh_p, P.cosh_p, P.asinh_p, P.acosh_p,
                                               P.atanh_p))
sqrt, rsqrt, cbrt, abs, erf, erfc, erf_inv = map(_unary, (
    P.sqrt_p, P.rsqrt_p, P.cbrt_p, P.abs_p, P.erf_p, P.erfc_p, P.erf_inv_p))
lgamma, digamma, real, imag = map(_unary, (P.lgamma_p, P.digamma_p, P.real_p, P.imag_p))
bitwise_not = _unary(P.not_p)
population_count, clz = _unary(P.population_count_p), _unary(P.clz_p)
add, sub, mul, div, rem, pow, max, min = map(_binary, (
    P.add_p, P.sub_p, P.mul_p, P.div_p, P.rem_p, P.pow_p, P.max_p, P.min_p))
atan2, nextafter = _binary(P.atan2_p), _binary(P.nextafter_p)
bitwise_and, bitwise_or, bitwise_xor = map(_binary, (P.and_p, P.or_p, P.xor_p))
shift_left, shift_right_arithmetic, shift_right_logical = map(_binary, (
    P.shift_left_p, P.shift_right_arithmetic_p, P.shift_right_logical_p))
eq, ne, lt, le, gt, ge = map(_binary, (P.eq_p, P.ne_p, P.lt_p, P.le_p, P.gt_p, P.ge_p))
polygamma, igamma, igammac, zeta = map(_binary, (P.polygamma_p, P.igamma_p, P.igammac_p,
                                                 P.zeta_p))
complex = _binary(P.complex_p)
igamma_grad_a = _binary(P.igamma_grad_a_p)


def conj(x):
    """Complex conjugate (real inputs become complex)."""
    return _bind(P.conj_p, x, input_dtype=get_aval(x).dtype)


def integer_pow(x, y: int):
    """``x ** y`` for a static Python int ``y``."""
    if not isinstance(y, (int, np.integer)):
        raise TypeError(f"integer_pow requires a static Python int exponent, got {y!r}")
    return _bind(P.integer_pow_p, x, y=int(y))


class RoundingMethod(enum.IntEnum):
    AWAY_FROM_ZERO = 0
    TO_NEAREST_EVEN = 1


def round(x, rounding_method=RoundingMethod.AWAY_FROM_ZERO):
    """Round to the nearest integer (ties away from zero by default, as JAX)."""
    return _bind(P.round_p, x, rounding_method=int(rounding_method))


def reduce_precision(operand, exponent_bits: int, mantissa_bits: int):
    """Round ``operand`` as if it had the given exponent and mantissa widths."""
    return _bind(P.reduce_precision_p, operand, exponent_bits=int(exponent_bits),
                                     mantissa_bits=int(mantissa_bits))


def select_n(which, *cases):
    """``cases[which]`` elementwise; ``which`` is bool (two cases) or int32."""
    if not cases:
        raise ValueError("select_n needs at least one case")
    cases = _lax_args(*cases)
    return _bind(P.select_n_p, which, *cases)


def select(pred, on_true, on_false):
    """``on_true`` where ``pred`` else ``on_false`` (note the order)."""
    return select_n(pred, on_false, on_true)


def clamp(min, x, max):
    """``x`` clipped to [min, max]."""
    min, x, max = _lax_args(min, x, max)
    return _bind(P.clamp_p, min, x, max)


def convert_element_type(operand, new_dtype):
    """``operand`` converted to ``new_dtype`` (canonicalized)."""
    new_dtype = dtypes.canonicalize_dtype(new_dtype)
    if dtypes.is_python_scalar(operand):  # a strong constant, so no conversion is staged
        operand = np.asarray(operand, dtypes.result_type(operand))[()]
    aval = get_aval(operand)
    if aval.dtype == new_dtype and not aval.weak_type:
        return operand
    folded = _fold_scalar_conversion(operand, new_dtype, False)
    if folded is not None:
        return folded
    return _bind(P.convert_element_type_p, operand, new_dtype=new_dtype, weak_type=False,
                                         sharding=None)


def _fold_scalar_conversion(operand, new_dtype, weak_type):
    """The conversion of a concrete 0-d constant (NumPy scalar or host ``Array``), done
    now with the primitive's impl, so a trace records a literal rather than a
    ``convert_element_type`` of one (JAX folds these constants too); None otherwise."""
    array_type = core._array_type[0]
    t = type(operand)
    if t is array_type:
        value = operand._value
        if type(value) is not np.ndarray or value.ndim:
            return None
        if not operand._traced and core._current_trace.get().staging:
            return None  # captured from outside the staged trace: JAX converts it in the program
    elif t is np.ndarray or isinstance(operand, np.generic):
        value = np.asarray(operand)
        if value.ndim:
            return None
        value = np.asarray(value, dtypes.canonicalize_dtype(value.dtype))
    else:
        return None
    if dtypes.is_complex(value.dtype) and not dtypes.is_complex(new_dtype):
        return None  # keep the impl's (and its warnings') path for complex to real
    out = P.convert_element_type_p.impl(value, new_dtype=new_dtype, weak_type=weak_type,
                                        sharding=None)
    return array_type(np.asarray(out), weak_type)


def _convert_element_type(operand, new_dtype, weak_type: bool = False):
    new_dtype = dtypes.canonicalize_dtype(new_dtype)
    if dtypes.is_python_scalar(operand):
        if isinstance(operand, int) and not isinstance(operand, bool) and \
                dtypes.is_integer(new_dtype):
            core._check_int_range(operand, new_dtype)
        # constants convert now (as JAX folds them), so jaxprs show a literal
        return core._array_type[0](np.asarray(operand, new_dtype), weak_type)
    aval = get_aval(operand)
    if aval.dtype == new_dtype and aval.weak_type == weak_type:
        return operand
    folded = _fold_scalar_conversion(operand, new_dtype, weak_type)
    if folded is not None:
        return folded
    return _bind(P.convert_element_type_p, operand, new_dtype=new_dtype, weak_type=weak_type,
                                         sharding=None)


def bitcast_convert_type(operand, new_dtype):
    """Reinterpret the bits of ``operand`` as ``new_dtype``."""
    return _bind(P.bitcast_convert_type_p, operand, new_dtype=np.dtype(new_dtype))


def stop_gradient(x):
    """``x``, with a zero derivative (applies to every leaf of a pytree)."""
    from fx import tree_util

    def stop(leaf):
        aval = get_aval(leaf)
        if not dtypes.is_inexact(aval.dtype):
            return leaf
        return _bind(P.stop_gradient_p, leaf)

    return tree_util.tree_map(stop, x)


# ---------------------------------------------------------------------------
# shapes


def _shape_tuple(shape, what="shape") -> tuple:
    try:
        return tuple(int(core.concrete_or_error(
            d, f"a traced value used as a {what} dimension",
            "Shapes must be static: pass them as Python ints or mark them static with "
            "`static_argnums`.")) for d in shape)
    except TypeError:
        raise


def broadcast_in_dim(operand, shape, broadcast_dimensions, out_sharding=None):
    """Broadcast ``operand`` to ``shape``, operand dim i going to broadcast_dimensions[i]."""
    shape = _shape_tuple(shape)
    dims = tuple(int(d) for d in broadcast_dimensions)
    if dtypes.is_python_scalar(operand):
        operand = _scalar(operand, dtypes.result_type(operand))
    if get_aval(operand).shape == shape and dims == tuple(range(len(shape))):
        return operand
    return _bind(P.broadcast_in_dim_p, operand, shape=shape, broadcast_dimensions=dims,
                                     sharding=None)


def broadcast(operand, sizes):
    """Add leading dimensions ``sizes`` to ``operand``."""
    sizes = _shape_tuple(sizes)
    nd = np.ndim(operand) if not hasattr(operand, "aval") else operand.aval.ndim
    shape = sizes + tuple(get_aval(operand).shape)
    return broadcast_in_dim(operand, shape, tuple(range(len(sizes), len(sizes) + nd)))


def broadcast_to_rank(x, rank: int):
    shape = get_aval(x).shape
    return broadcast(x, (1,) * (rank - len(shape))) if rank > len(shape) else x


def reshape(operand, new_sizes, dimensions=None, out_sharding=None):
    """Reshape (optionally transposing by ``dimensions`` first)."""
    new_sizes = _shape_tuple(new_sizes)
    aval = get_aval(operand)
    if aval.shape == new_sizes and dimensions is None:
        return operand
    dims = None if dimensions is None or tuple(dimensions) == tuple(range(aval.ndim)) \
        else tuple(int(d) for d in dimensions)
    return _bind(P.reshape_p, operand, new_sizes=new_sizes, dimensions=dims, sharding=None)


def transpose(operand, permutation):
    """Permute the dimensions of ``operand``."""
    permutation = tuple(int(p) for p in permutation)
    if permutation == tuple(range(len(permutation))) and len(permutation) == get_aval(
            operand).ndim:
        return operand
    return _bind(P.transpose_p, operand, permutation=permutation)


def squeeze(array, dimensions):
    """Remove the size-1 ``dimensions``."""
    ndim = get_aval(array).ndim
    dims = tuple(sorted({int(d) % ndim if ndim else int(d) for d in dimensions}))
    if not dims:
        return array
    return _bind(P.squeeze_p, array, dimensions=dims)


def expand_dims(array, dimensions):
    """Insert size-1 dimensions at ``dimensions`` (a ``broadcast_in_dim``, as JAX binds it).

    Args:
      array: the operand.
      dimensions: positions of the new axes in the result (negative counts from the end).

    Returns:
      ``array`` with ``len(dimensions)`` more axes of size 1.

    Example:
      >>> fx.lax.expand_dims(fx.numpy.ones((3, 4)), (0, -1)).shape
      (1, 3, 4, 1)
    """
    if dtypes.is_python_scalar(array):
        array = _scalar(array, dtypes.result_type(array))
    shape = get_aval(array).shape
    dims = tuple(int(d) for d in dimensions)
    ndim_out = len(shape) + len(dims)
    for d in dims:
        if not -ndim_out <= d < ndim_out:
            raise ValueError(f"axis {d} is out of bounds for array of dimension {ndim_out}")
    new_axes = sorted(d % ndim_out for d in dims)
    if len(set(new_axes)) != len(new_axes):
        raise ValueError(f"repeated axis in lax.expand_dims: {tuple(dimensions)}")
    if not dims:
        return array
    kept = [i for i in range(ndim_out) if i not in new_axes]
    out_shape = [1] * ndim_out
    for i, size in zip(kept, shape):
        out_shape[i] = size
    return broadcast_in_dim(array, tuple(out_shape), tuple(kept))


def iota(dtype, size: int):
    """``[0, 1, ..., size-1]`` of ``dtype``."""
    return _bind(P.iota_p, dtype=dtypes.canonicalize_dtype(dtype), shape=(int(size),),
                         dimension=0, sharding=None)


def broadcasted_iota(dtype, shape, dimension: int, out_sharding=None):
    """An iota along ``dimension`` of an array of ``shape``."""
    shape = _shape_tuple(shape)
    return _bind(P.iota_p, dtype=dtypes.canonicalize_dtype(dtype), shape=shape,
                         dimension=int(dimension), sharding=None)


def full(shape, fill_value, dtype=None, *, sharding=None):
    """An array of ``shape`` filled with ``fill_value``.

    Args:
      shape: the result's shape.
      fill_value: a scalar (Python, NumPy or 0-d array).
      dtype: the result's dtype; None takes ``fill_value``'s (weak for a Python scalar).
      sharding: accepted for JAX compatibility; ignored.

    Returns:
      The filled array.

    Example:
      >>> fx.lax.full((2,), 1.5)
      Array([1.5, 1.5], dtype=float32, weak_type=True)
    """
    shape = _shape_tuple(shape)
    if dtype is None:
        dtype, weak = dtypes.result_type_and_weak(fill_value)
    else:
        dtype, weak = dtypes.canonicalize_dtype(dtype), False
    return _fill(shape, _convert_element_type(fill_value, dtype, weak), "full")


def _fill(shape, value, name):
    """The 0-d ``value`` (already of the result's type) broadcast to ``shape``, as an
    ``fx.Array`` (or tracer) even when ``shape`` is ()."""
    aval = get_aval(value)
    if aval.shape:
        raise TypeError(f"{name} must be called with a scalar fill_value, got shape "
                        f"{aval.shape}")
    if type(value) is np.ndarray or isinstance(value, np.generic):
        value = core._array_type[0](np.asarray(value), aval.weak_type)
    return broadcast_in_dim(value, shape, ())


def full_like(x, fill_value, dtype=None, shape=None, sharding=None):
    """An array like ``x`` (or of ``shape``) filled with ``fill_value``; as JAX's, weakly
    typed when ``dtype`` is None and ``x`` is weakly typed.

    Args:
      x: the array (or scalar) whose shape and dtype the result takes.
      fill_value: a scalar (Python, NumPy or 0-d array).
      dtype: overrides x's dtype (the result is then strongly typed).
      shape: overrides x's shape.
      sharding: accepted for JAX compatibility; ignored.

    Returns:
      The filled array.

    Example:
      >>> fx.lax.full_like(fx.numpy.ones(2, "int32"), 7)
      Array([7, 7], dtype=int32)
    """
    aval = get_aval(x)
    weak = dtype is None and aval.weak_type
    dtype = aval.dtype if dtype is None else dtypes.canonicalize_dtype(dtype)
    shape = aval.shape if shape is None else _shape_tuple(shape)
    return _fill(shape, _convert_element_type(fill_value, dtype, weak), "full_like")


def zeros_like_array(x):
    return full_like(x, 0)


# ---------------------------------------------------------------------------
# reductions


def _axes(axes, ndim, operand=None):
    axes = tuple(int(a) for a in axes)
    if any(not -ndim <= a < ndim for a in axes):
        what = get_aval(operand).str_short() if operand is not None else f"rank {ndim}"
        raise ValueError(f"reduction axes {axes} contains out-of-bounds indices for {what}.")
    return tuple(sorted(a % ndim for a in axes))


def _reducer(primitive, doc):
    def reduce(operand, axes: Sequence[int]):
        return _bind(primitive, operand, axes=_axes(axes, get_aval(operand).ndim, operand),
                     out_sharding=None)
    reduce.__name__ = primitive.name
    reduce.__doc__ = doc
    return reduce


reduce_sum = _reducer(P.reduce_sum_p, "Sum over ``axes``.")
reduce_prod = _reducer(P.reduce_prod_p, "Product over ``axes``.")
reduce_max = _reducer(P.reduce_max_p, "Maximum over ``axes``.")
reduce_min = _reducer(P.reduce_min_p, "Minimum over ``axes``.")
reduce_and = _reducer(P.reduce_and_p, "Bitwise/logical and over ``axes``.")
reduce_or = _reducer(P.reduce_or_p, "Bitwise/logical or over ``axes``.")
reduce_xor = _reducer(P.reduce_xor_p, "Bitwise/logical xor over ``axes``.")


def argmax(operand, axis: int, index_dtype):
    """Index of the maximum along ``axis`` (first one on ties; NaN wins)."""
    ndim = get_aval(operand).ndim
    return _bind(P.argmax_p, operand, axes=(int(axis) % ndim,),
                           index_dtype=dtypes.canonicalize_dtype(index_dtype))


def argmin(operand, axis: int, index_dtype):
    """Index of the minimum along ``axis`` (first one on ties; NaN wins)."""
    ndim = get_aval(operand).ndim
    return _bind(P.argmin_p, operand, axes=(int(axis) % ndim,),
                           index_dtype=dtypes.canonicalize_dtype(index_dtype))
