"""The rest of ``jax.lax``'s public names that are wrappers or compositions: the
``*_p`` primitive objects, ``square``/``reciprocal``/``mulhi``, shape helpers
(``tile``, ``split``, ``stack``, ``collapse``, the ``*_shape_tuple`` functions), the
Bessel functions ``bessel_i0e``/``bessel_i1e``, ``betainc``, ``approx_max_k``,
``ragged_dot``, ``conv_general_dilated_patches`` and lax's enums.

Invariants: like the rest of ``fx.lax`` these do not promote dtypes; everything is
built from existing primitives (the Bessel functions bind their own, as JAX's do;
``betainc`` is a fixed-length series with a ``custom_jvp`` for the exact derivative),
so it works under every transformation.
"""
from __future__ import annotations

import dataclasses
import enum
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from fx import core, dtypes
from fx.core import get_aval
from fx.custom_derivatives import custom_jvp
from fx.lax import _lax
from fx.lax import _slicing
from primitives import registry as _registry
from primitives.rng_bit_generator import RandomAlgorithm

__all__ = [
    "square", "reciprocal", "mulhi", "tile", "split", "stack", "unstack", "collapse",
    "broadcast_shapes", "broadcast_like", "empty", "dtype", "shape_as_value", "stage",
    "bessel_i0e", "bessel_i1e", "betainc",
    "conv_shape_tuple", "conv_general_shape_tuple", "conv_transpose_shape_tuple",
    "reduce_window_shape_tuple", "conv_general_dilated_patches", "approx_max_k",
    "approx_min_k", "ragged_dot", "composite", "platform_dependent",
    "with_sharding_constraint", "AccuracyMode", "Tolerance", "DotAlgorithm",
    "DotAlgorithmPreset", "RandomAlgorithm", "RaggedDotDimensionNumbers",
    "DotDimensionNumbers", "ConvGeneralDilatedDimensionNumbers", "PrecisionLike",
]

# ---------------------------------------------------------------------------
# the primitives under JAX's names (``lax.add_p`` is the primitive ``add``)

_PRIMITIVE_NAMES = {
    "abs", "acos", "acosh", "add", "and", "argmax", "argmin", "asin", "asinh", "atan",
    "atan2", "atanh", "bitcast_convert_type", "broadcast_in_dim", "cbrt", "ceil", "clamp",
    "clz", "complex", "concatenate", "cond", "conj", "conv_general_dilated",
    "convert_element_type", "copy", "cos", "cosh", "cumlogsumexp", "cummax", "cummin",
    "cumprod", "cumsum", "digamma", "div", "dot_general", "dynamic_slice",
    "dynamic_update_slice", "eq", "erf", "erf_inv", "erfc", "exp", "exp2", "expm1", "floor",
    "gather", "ge", "gt", "igamma", "igamma_grad_a", "igammac", "imag", "integer_pow", "iota",
    "is_finite", "le", "lgamma", "log", "log1p", "logistic", "lt", "max", "min", "mul", "ne",
    "neg", "nextafter", "not", "optimization_barrier", "or", "pad", "polygamma",
    "population_count", "pow", "real", "reduce_and", "reduce_max", "reduce_min",
    "reduce_or", "reduce_precision", "reduce_prod", "reduce_sum", "reduce_window",
    "reduce_window_max", "reduce_window_min", "reduce_window_sum", "reduce_xor", "rem",
    "reshape", "rev", "round", "rsqrt", "scan", "scatter", "select_and_gather_add",
    "select_and_scatter_add", "select_n", "shift_left", "shift_right_arithmetic",
    "shift_right_logical", "sign", "sin", "sinh", "slice", "sort", "sqrt", "squeeze",
    "stop_gradient", "sub", "tan", "tanh", "top_k", "transpose", "while", "xor", "zeta",
}
for _name in sorted(_PRIMITIVE_NAMES):
    if _name in _registry:
        globals()[f"{_name}_p"] = _registry[_name]
        __all__.append(f"{_name}_p")
for _op in ("add", "mul", "min", "max", "sub"):
    if f"scatter-{_op}" in _registry:
        globals()[f"scatter_{_op}_p"] = _registry[f"scatter-{_op}"]
        __all__.append(f"scatter_{_op}_p")
del _name, _op

# ---------------------------------------------------------------------------
# enums, named tuples and type aliases


class AccuracyMode(enum.Enum):
    """Accuracy requested of transcendental functions (recorded; the CPU ignores it)."""
    HIGHEST = 1
    DEFAULT = 2


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """An accuracy tolerance for transcendental functions (recorded only)."""
    atol: float = 0.0
    rtol: float = 0.0
    ulps: int = 0


class DotAlgorithm(NamedTuple):
    """An explicit algorithm for a dot product (precision types and accumulation)."""
    lhs_precision_type: Any
    rhs_precision_type: Any
    accumulation_type: Any
    lhs_component_count: int = 1
    rhs_component_count: int = 1
    num_primitive_operations: int = 1
    allow_imprecise_accumulation: bool = False


class DotAlgorithmPreset(enum.Enum):
    """Named dot algorithms (``precision=`` accepts them; the CPU computes in the
    accumulation type)."""
    DEFAULT = enum.auto()
    ANY_F8_ANY_F8_F32 = enum.auto()
    ANY_F8_ANY_F8_F32_FAST_ACCUM = enum.auto()
    ANY_F8_ANY_F8_ANY = enum.auto()
    ANY_F8_ANY_F8_ANY_FAST_ACCUM = enum.auto()
    F16_F16_F16 = enum.auto()
    F16_F16_F32 = enum.auto()
    BF16_BF16_BF16 = enum.auto()
    BF16_BF16_F32 = enum.auto()
    BF16_BF16_F32_X3 = enum.auto()
    BF16_BF16_F32_X6 = enum.auto()
    BF16_BF16_F32_X9 = enum.auto()
    TF32_TF32_F32 = enum.auto()
    TF32_TF32_F32_X3 = enum.auto()
    F32_F32_F32 = enum.auto()
    F64_F64_F64 = enum.auto()

    def __repr__(self):
        return self.name

    __str__ = __repr__


class RaggedDotDimensionNumbers(NamedTuple):
    """Dimension numbers of a ragged dot: the dot's, and which lhs/rhs dims are ragged
    and which rhs dims index groups."""
    dot_dimension_numbers: Any
    lhs_ragged_dimensions: Sequence[int]
    rhs_group_dimensions: Sequence[int]


DotDimensionNumbers = tuple[tuple[Sequence[int], Sequence[int]],
                            tuple[Sequence[int], Sequence[int]]]
ConvGeneralDilatedDimensionNumbers = Any
PrecisionLike = Any

# ---------------------------------------------------------------------------
# small elementwise compositions


def square(x):
    """``x * x`` elementwise (no promotion): the ``square`` primitive, as JAX 0.10 binds.

    Example:
      >>> lax.square(fnp.float32(3))
      Array(9., dtype=float32)
    """
    return _lax._bind(_registry["square"], x)


def reciprocal(x):
    """``1 / x`` elementwise (no promotion)."""
    return _lax.integer_pow(x, -1)


def mulhi(x, y, /):
    """The high half of the double-width product of integers ``x`` and ``y``.

    Example:
      >>> lax.mulhi(fnp.uint32(2**31), fnp.uint32(6))
      Array(3, dtype=uint32)
    """
    x, y = _lax._lax_args(x, y)
    dtype = get_aval(x).dtype
    if not dtypes.is_integer(dtype) or get_aval(y).dtype != dtype:
        raise TypeError(f"mulhi requires two integer operands of one dtype, got "
                        f"{get_aval(x).dtype.name} and {get_aval(y).dtype.name}")
    bits = dtype.itemsize * 8
    udt = np.dtype(f"uint{bits}")
    ux = _lax.bitcast_convert_type(x, udt) if dtype.kind == "i" else x
    uy = _lax.bitcast_convert_type(y, udt) if dtype.kind == "i" else y
    half = np.array(bits // 2, udt)[()]
    mask = np.array((1 << (bits // 2)) - 1, udt)[()]
    x_lo, x_hi = _lax.bitwise_and(ux, mask), _lax.shift_right_logical(ux, half)
    y_lo, y_hi = _lax.bitwise_and(uy, mask), _lax.shift_right_logical(uy, half)
    lo_lo = _lax.mul(x_lo, y_lo)
    hi_lo = _lax.mul(x_hi, y_lo)
    lo_hi = _lax.mul(x_lo, y_hi)
    hi_hi = _lax.mul(x_hi, y_hi)
    cross = _lax.add(_lax.add(_lax.shift_right_logical(lo_lo, half),
                              _lax.bitwise_and(hi_lo, mask)),
                     _lax.bitwise_and(lo_hi, mask))
    high = _lax.add(_lax.add(_lax.add(hi_hi, _lax.shift_right_logical(hi_lo, half)),
                             _lax.shift_right_logical(lo_hi, half)),
                    _lax.shift_right_logical(cross, half))
    if dtype.kind == "u":
        return high
    # signed: subtract y where x < 0 and x where y < 0 (mod 2**bits)
    zero = np.array(0, dtype)[()]
    corr = _lax.add(_lax.select(_lax.lt(x, zero), uy, _lax.full_like(uy, 0)),
                    _lax.select(_lax.lt(y, zero), ux, _lax.full_like(ux, 0)))
    return _lax.bitcast_convert_type(_lax.sub(high, corr), dtype)


# ---------------------------------------------------------------------------
# shapes


def _operand(x):
    """``x`` as an fx value: host arrays and scalars are converted (canonical dtype)."""
    if isinstance(x, (core.Tracer, core._array_type[0])):
        return x
    from fx.numpy._core import asarray
    return asarray(x)


def broadcast_shapes(*shapes) -> tuple:
    """The NumPy broadcast of the ``shapes`` (ValueError when incompatible)."""
    from fx.numpy._core import broadcast_shapes as _bs
    return _bs(*[tuple(int(d) for d in s) for s in shapes])


def broadcast_like(arr, like_arr):
    """``arr`` broadcast to the shape of ``like_arr``."""
    from fx.numpy._core import broadcast_to
    return broadcast_to(arr, get_aval(like_arr).shape)


def empty(shape, dtype, *, out_sharding=None):
    """An array of ``shape`` and ``dtype`` (zeros: fx never hands out uninitialised
    memory)."""
    return _lax.full(shape, 0, dtype)


def dtype(x, *, canonicalize: bool = False):
    """The dtype of ``x`` (an array, scalar or dtype-like)."""
    return dtypes.dtype(x, canonicalize=canonicalize)


def shape_as_value(shape):
    """``shape`` as a 1-d array of the default int dtype."""
    return core._array_type[0](np.asarray(tuple(int(d) for d in shape),
                                          dtypes.default_int_dtype()))


def stage(x, /):
    """``x`` lifted into the current trace (an fx array outside any trace)."""
    from fx.numpy._core import asarray
    return asarray(x)


def collapse(operand, start_dimension: int, stop_dimension: int | None = None):
    """Merge dimensions ``[start_dimension, stop_dimension)`` of ``operand`` into one.

    Example:
      >>> lax.collapse(fnp.ones((2, 3, 4)), 1).shape
      (2, 12)
    """
    operand = _operand(operand)
    shape = get_aval(operand).shape
    nd = len(shape)
    start = start_dimension % nd if nd else 0
    stop = nd if stop_dimension is None else (stop_dimension if stop_dimension >= 0
                                               else stop_dimension + nd)
    if not 0 <= start <= stop <= nd:
        raise ValueError(f"collapse: invalid dimensions [{start_dimension}, "
                         f"{stop_dimension}) for an operand of shape {shape}")
    size = int(np.prod(shape[start:stop], dtype=np.int64))
    return _lax.reshape(operand, shape[:start] + (size,) + shape[stop:])


def tile(operand, reps: Sequence[int]):
    """``operand`` repeated ``reps[i]`` times along each dimension i (one rep per dim).

    Example:
      >>> lax.tile(fnp.arange(2), (2,))
      Array([0, 1, 0, 1], dtype=int32)
    """
    reps = tuple(int(r) for r in reps)
    operand = _operand(operand)
    shape = get_aval(operand).shape
    if len(reps) != len(shape):
        raise ValueError(f"tile: reps {reps} must have one entry per dimension of the "
                         f"operand of shape {shape}")
    expanded = tuple(d for pair in zip(reps, shape) for d in pair)
    dims = tuple(range(1, 2 * len(shape), 2))
    out = _lax.broadcast_in_dim(operand, expanded, dims)
    return _lax.reshape(out, tuple(r * d for r, d in zip(reps, shape)))


def split(operand, sizes: Sequence[int], axis: int = 0):
    """Split ``operand`` along ``axis`` into pieces of the given ``sizes``.

    Example:
      >>> [p.shape for p in lax.split(fnp.ones(5), (2, 3))]
      [(2,), (3,)]
    """
    operand = _operand(operand)
    shape = get_aval(operand).shape
    axis = int(axis) % len(shape)
    sizes = tuple(int(s) for s in sizes)
    if any(s < 0 for s in sizes) or sum(sizes) != shape[axis]:
        raise ValueError(f"split: sizes {sizes} must be non-negative and sum to the size "
                         f"{shape[axis]} of axis {axis}")
    out, start = [], 0
    for s in sizes:
        out.append(_slicing.slice_in_dim(operand, start, start + s, axis=axis))
        start += s
    return out


def stack(operands: Sequence, axis: int = 0):
    """Stack same-shaped, same-dtype ``operands`` along a new ``axis``."""
    operands = [_operand(o) for o in operands]
    if not operands:
        raise ValueError("lax.stack needs at least one operand")
    nd = get_aval(operands[0]).ndim + 1
    axis = int(axis) % nd
    return _slicing.concatenate([_lax.expand_dims(o, (axis,)) for o in operands], axis)


def unstack(x, axis: int = 0):
    """The slices of ``x`` along ``axis``, as a tuple."""
    x = _operand(x)
    shape = get_aval(x).shape
    axis = int(axis) % len(shape)
    return tuple(_slicing.index_in_dim(x, i, axis, keepdims=False)
                 for i in range(shape[axis]))


def _dilate(size: int, factor: int) -> int:
    return 0 if size == 0 else (size - 1) * factor + 1


def conv_shape_tuple(lhs_shape, rhs_shape, strides, pads, batch_group_count: int = 1):
    """The output shape of an NCHW/OIHW convolution with explicit ``pads``."""
    if isinstance(pads, str):
        from fx.lax._reductions_ext import padtype_to_pads
        pads = padtype_to_pads(lhs_shape[2:], rhs_shape[2:], strides, pads)
    if len(pads) != len(lhs_shape) - 2:
        raise TypeError(f"conv_shape_tuple: expected {len(lhs_shape) - 2} padding pairs, "
                        f"got {len(pads)}")
    spatial = []
    for n, k, s, (lo, hi) in zip(lhs_shape[2:], rhs_shape[2:], strides, pads):
        padded = n + lo + hi
        spatial.append(max(0, (padded - k) // s + 1) if padded >= k else 0)
    return (lhs_shape[0] // batch_group_count, rhs_shape[0]) + tuple(spatial)


def conv_general_shape_tuple(lhs_shape, rhs_shape, window_strides, padding,
                             dimension_numbers):
    """The output shape of ``conv_general_dilated`` with these dimension numbers."""
    from fx.lax import conv_dimension_numbers
    dn = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    lhs_perm, rhs_perm, out_perm = dn
    lhs_t = tuple(lhs_shape[i] for i in lhs_perm)
    rhs_t = tuple(rhs_shape[i] for i in rhs_perm)
    out_t = conv_shape_tuple(lhs_t, rhs_t, window_strides, padding)
    out = [0] * len(out_t)
    for pos, i in enumerate(out_perm):
        out[i] = out_t[pos]
    return tuple(out)


def conv_transpose_shape_tuple(lhs_shape, rhs_shape, window_strides, padding,
                               dimension_numbers):
    """The output shape of ``conv_transpose`` with these dimension numbers."""
    from fx.lax import conv_dimension_numbers
    from fx.lax._linalg import _conv_transpose_padding
    dn = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    lhs_perm, rhs_perm, out_perm = dn
    lhs_t = tuple(lhs_shape[i] for i in lhs_perm)
    rhs_t = tuple(rhs_shape[i] for i in rhs_perm)
    pads = [padding] * len(window_strides) if isinstance(padding, str) else \
        [tuple(p) for p in padding]
    padding = [_conv_transpose_padding(k, s, p)
               for k, s, p in zip(rhs_t[2:], window_strides, pads)]
    spatial = tuple(max(0, _dilate(n, s) + lo + hi - k + 1)
                    for n, k, s, (lo, hi) in zip(lhs_t[2:], rhs_t[2:], window_strides,
                                                 padding))
    out_t = (lhs_t[0], rhs_t[0]) + spatial
    out = [0] * len(out_t)
    for pos, i in enumerate(out_perm):
        out[i] = out_t[pos]
    return tuple(out)


def reduce_window_shape_tuple(operand_shape, window_dimensions, window_strides, padding,
                              base_dilation=None, window_dilation=None):
    """The output shape of ``reduce_window`` with these window parameters."""
    nd = len(operand_shape)
    base_dilation = base_dilation or (1,) * nd
    window_dilation = window_dilation or (1,) * nd
    out = []
    for n, w, s, (lo, hi), bd, wd in zip(operand_shape, window_dimensions, window_strides,
                                         padding, base_dilation, window_dilation):
        size = _dilate(n, bd) + lo + hi
        win = _dilate(w, wd)
        out.append(0 if size < win else (size - win) // s + 1)
    return tuple(out)


# ---------------------------------------------------------------------------
# special functions


def _check_float(name, *args):
    for a in args:
        d = get_aval(a).dtype
        if not dtypes.is_float(d):
            raise TypeError(f"{name} does not accept dtype {d.name}. Accepted dtypes are "
                            f"subtypes of floating.")


def _bind_float(name, x):
    """``lax.<name>(x)``: a Python scalar as a weak array, then a float check, then bind."""
    x = _lax._lax_args(x)[0] if isinstance(x, (int, float)) else x
    _check_float(name, x)
    return _registry[name].bind(x)


def bessel_i0e(x):
    """The exponentially scaled modified Bessel function of order 0,
    ``exp(-|x|) I0(x)``: the ``bessel_i0e`` primitive, as JAX's ``lax.bessel_i0e``
    (derivative ``t * (i1e(x) - sign(x) * i0e(x))``).

    Args:
      x: a floating-point array or Python scalar.

    Returns:
      ``i0e(x)`` of ``x``'s dtype and weak type.

    Example:
      >>> lax.bessel_i0e(fnp.float32(1.0))
      Array(0.46575963, dtype=float32)
    """
    return _bind_float("bessel_i0e", x)


def bessel_i1e(x):
    """The exponentially scaled modified Bessel function of order 1,
    ``exp(-|x|) I1(x)``: the ``bessel_i1e`` primitive, as JAX's ``lax.bessel_i1e``
    (derivative ``i0e(x) - i1e(x) * (sign(x) + 1/x)``, 1/2 where ``|x| <= eps``).

    Args:
      x: a floating-point array or Python scalar.

    Returns:
      ``i1e(x)`` of ``x``'s dtype and weak type.

    Example:
      >>> lax.bessel_i1e(fnp.float32(1.0))
      Array(0.20791042, dtype=float32)
    """
    return _bind_float("bessel_i1e", x)


_BETAINC_ITERATIONS = 200


def _betainc_cf(a, b, x):
    """The continued fraction of the regularized incomplete beta (modified Lentz), a
    fixed number of steps so it differentiates and jits."""
    dtype = get_aval(x).dtype
    c = lambda v: np.array(v, dtype)[()]  # noqa: E731
    tiny = c(np.finfo(dtype).tiny * 1e3 if dtype.itemsize >= 4 else 1e-30)
    from fx.lax._control_flow import fori_loop

    def clamp_tiny(v):
        return _lax.select(_lax.lt(_lax.abs(v), tiny), _lax.full_like(v, tiny), v)

    qab, qap, qam = _lax.add(a, b), _lax.add(a, c(1)), _lax.sub(a, c(1))
    cc = _lax.full_like(x, 1)
    d = clamp_tiny(_lax.sub(c(1), _lax.div(_lax.mul(qab, x), qap)))
    d = _lax.div(c(1), d)
    h = d

    def body(m, state):
        cc, d, h = state
        m = _lax.convert_element_type(m, dtype)
        m2 = _lax.mul(c(2), m)
        aa = _lax.div(_lax.mul(_lax.mul(m, _lax.sub(b, m)), x),
                      _lax.mul(_lax.add(qam, m2), _lax.add(a, m2)))
        d = _lax.div(c(1), clamp_tiny(_lax.add(c(1), _lax.mul(aa, d))))
        cc = clamp_tiny(_lax.add(c(1), _lax.div(aa, cc)))
        h = _lax.mul(h, _lax.mul(d, cc))
        aa = _lax.neg(_lax.div(_lax.mul(_lax.mul(_lax.add(a, m), _lax.add(qab, m)), x),
                               _lax.mul(_lax.add(a, m2), _lax.add(qap, m2))))
        d = _lax.div(c(1), clamp_tiny(_lax.add(c(1), _lax.mul(aa, d))))
        cc = clamp_tiny(_lax.add(c(1), _lax.div(aa, cc)))
        h = _lax.mul(h, _lax.mul(d, cc))
        return cc, d, h

    _, _, h = fori_loop(1, _BETAINC_ITERATIONS, body, (cc, d, h))
    return h


def _log_beta(a, b):
    return _lax.sub(_lax.add(_lax.lgamma(a), _lax.lgamma(b)), _lax.lgamma(_lax.add(a, b)))


def _betainc_value(a, b, x):
    dtype = get_aval(x).dtype
    c = lambda v: np.array(v, dtype)[()]  # noqa: E731
    flip = _lax.gt(x, _lax.div(_lax.add(a, c(1)), _lax.add(_lax.add(a, b), c(2))))
    aa, bb = _lax.select(flip, b, a), _lax.select(flip, a, b)
    xx = _lax.select(flip, _lax.sub(c(1), x), x)
    inner = _lax.select(_lax.gt(xx, c(0)), xx, _lax.full_like(xx, 0.5))
    inner1 = _lax.select(_lax.lt(xx, c(1)), xx, _lax.full_like(xx, 0.5))
    log_front = _lax.sub(_lax.add(_lax.mul(aa, _lax.log(inner)),
                                  _lax.mul(bb, _lax.log1p(_lax.neg(inner1)))),
                         _log_beta(aa, bb))
    part = _lax.div(_lax.mul(_lax.exp(log_front), _betainc_cf(aa, bb, xx)), aa)
    out = _lax.select(flip, _lax.sub(c(1), part), part)
    out = _lax.select(_lax.le(x, c(0)), _lax.full_like(x, 0), out)
    out = _lax.select(_lax.ge(x, c(1)), _lax.full_like(x, 1), out)
    bad = _lax.bitwise_or(_lax.bitwise_or(_lax.le(a, c(0)), _lax.le(b, c(0))),
                          _lax.bitwise_or(_lax.lt(x, c(0)), _lax.gt(x, c(1))))
    nan = _lax.full_like(x, np.nan)
    return _lax.select(bad, nan, out)


@custom_jvp
def _betainc(a, b, x):
    return _betainc_value(a, b, x)


def _betainc_jvp(primals, tangents):
    from fx.custom_derivatives import SymbolicZero
    a, b, x = primals
    ta, tb, tx = tangents
    if not isinstance(ta, SymbolicZero) or not isinstance(tb, SymbolicZero):
        raise ValueError("Betainc gradient with respect to a and b not supported.")
    out = _betainc(a, b, x)
    if isinstance(tx, SymbolicZero):
        return out, SymbolicZero(get_aval(out))
    dtype = get_aval(x).dtype
    c = lambda v: np.array(v, dtype)[()]  # noqa: E731
    log_density = _lax.sub(_lax.add(_lax.mul(_lax.sub(a, c(1)), _lax.log(x)),
                                    _lax.mul(_lax.sub(b, c(1)), _lax.log1p(_lax.neg(x)))),
                           _log_beta(a, b))
    return out, _lax.mul(tx, _lax.exp(log_density))


_betainc.defjvp(_betainc_jvp, symbolic_zeros=True)


def betainc(a, b, x):
    """The regularized incomplete beta function ``I_x(a, b)`` (differentiable in ``x``;
    JAX, too, rejects derivatives in ``a`` and ``b``).

    Args:
      a, b: positive float arrays.
      x: a float array in [0, 1] (same dtype; shapes equal or rank-0).

    Returns:
      ``I_x(a, b)``; NaN for arguments outside the domain.

    Example:
      >>> lax.betainc(fnp.float32(2), fnp.float32(3), fnp.float32(0.4))
      Array(0.5248, dtype=float32)
    """
    a, b, x = _lax._lax_args(a, b, x)
    _check_float("betainc", a, b, x)
    if len({get_aval(v).dtype for v in (a, b, x)}) != 1:
        raise TypeError("betainc requires arguments to have the same dtypes, got "
                        + ", ".join(get_aval(v).dtype.name for v in (a, b, x)))
    shapes = [get_aval(v).shape for v in (a, b, x)]
    shape = max(shapes, key=len)
    if any(s and s != shape for s in shapes):
        raise TypeError(f"betainc got incompatible shapes {shapes}; operands must have "
                        "equal shapes or be rank-0")
    a, b, x = (v if get_aval(v).shape == shape else _lax.broadcast_in_dim(v, shape, ())
               for v in (a, b, x))
    return _betainc(a, b, x)


# ---------------------------------------------------------------------------
# products, top-k and patches


def approx_max_k(operand, k: int, reduction_dimension: int = -1,
                 recall_target: float = 0.95, reduction_input_size_override: int = -1,
                 aggregate_to_topk: bool = True):
    """The ``k`` largest values along ``reduction_dimension`` and their indices (fx
    computes them exactly, which meets any recall target)."""
    from fx.lax._reductions_ext import top_k
    operand = _operand(operand)
    nd = get_aval(operand).ndim
    dim = int(reduction_dimension) % nd
    return top_k(operand, int(k), axis=dim)


def approx_min_k(operand, k: int, reduction_dimension: int = -1,
                 recall_target: float = 0.95, reduction_input_size_override: int = -1,
                 aggregate_to_topk: bool = True):
    """The ``k`` smallest values along ``reduction_dimension`` and their indices
    (exact)."""
    values, idx = approx_max_k(_lax.neg(_operand(operand)), k, reduction_dimension)
    return _lax.neg(values), idx


def ragged_dot(lhs, rhs, group_sizes, precision=None, preferred_element_type=None,
               group_offset=None, out_sharding=None):
    """A grouped matmul: rows of ``lhs`` [m, k] are split into consecutive groups of
    ``group_sizes`` [g]; group i is multiplied by ``rhs[i]`` [k, n]; the result is
    [m, n] (rows beyond the groups are zero).

    Example:
      >>> lax.ragged_dot(fnp.ones((3, 2)), fnp.ones((2, 2, 4)), fnp.array([1, 2])).shape
      (3, 4)
    """
    if group_offset is not None:
        raise NotImplementedError("ragged_dot: group_offset is not supported")
    from fx.lax._linalg import dot_general
    (m, k), (g, k2, n) = get_aval(lhs).shape, get_aval(rhs).shape
    if k != k2 or get_aval(group_sizes).shape != (g,):
        raise TypeError(f"ragged_dot: expected lhs [m, k], rhs [g, k, n] and group_sizes "
                        f"[g], got {get_aval(lhs).shape}, {get_aval(rhs).shape} and "
                        f"{get_aval(group_sizes).shape}")
    prods = dot_general(lhs, rhs, (((1,), (1,)), ((), ())), precision=precision,
                        preferred_element_type=preferred_element_type)  # [m, g, n]
    from fx.lax._reductions_ext import cumsum
    sizes = _lax.convert_element_type(group_sizes, np.int32)
    ends = cumsum(sizes, axis=0)
    starts = _lax.sub(ends, sizes)
    rows = _lax.broadcasted_iota(np.int32, (m, g), 0)
    in_group = _lax.bitwise_and(_lax.ge(rows, _lax.broadcast_in_dim(starts, (m, g), (1,))),
                                _lax.lt(rows, _lax.broadcast_in_dim(ends, (m, g), (1,))))
    mask = _lax.broadcast_in_dim(in_group, (m, g, n), (0, 1))
    prods = _lax.select(mask, prods, _lax.full_like(prods, 0))
    return _lax.reduce_sum(prods, (1,))


def conv_general_dilated_patches(lhs, filter_shape: Sequence[int],
                                 window_strides: Sequence[int], padding,
                                 lhs_dilation=None, rhs_dilation=None,
                                 dimension_numbers=None, precision=None,
                                 preferred_element_type=None):
    """The patches a convolution with a filter of ``filter_shape`` would see: output
    channel ``c * prod(filter_shape) + j`` holds input channel c at filter offset j.

    Example:
      >>> lax.conv_general_dilated_patches(fnp.ones((1, 2, 4, 4)), (2, 2), (1, 1),
      ...                                  "VALID").shape
      (1, 8, 3, 3)
    """
    from fx.lax import conv_dimension_numbers, conv_general_dilated
    lhs_shape = get_aval(lhs).shape
    nd = len(lhs_shape)
    dn = conv_dimension_numbers(lhs_shape, (1, 1) + tuple(filter_shape), dimension_numbers)
    channels = lhs_shape[dn.lhs_spec[1]]
    window = int(np.prod(filter_shape, dtype=np.int64))
    eye = np.eye(window, dtype=get_aval(lhs).dtype).reshape((window, 1) + tuple(filter_shape))
    rhs = np.tile(eye, (channels, 1) + (1,) * (nd - 2))  # [C*window, 1, *filter] (OIHW)
    rhs_spec = dn.rhs_spec
    rhs = np.transpose(rhs, np.argsort(rhs_spec))
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation,
                                rhs_dilation, dn, feature_group_count=channels,
                                precision=precision,
                                preferred_element_type=preferred_element_type)


# ---------------------------------------------------------------------------
# staging helpers that are identities on one CPU process


def composite(decomposition: Callable, name: str, version: int = 0):
    """Mark ``decomposition`` as a named composite op; fx runs the decomposition."""
    def wrapped(*args, **kwargs):
        return decomposition(*args, **kwargs)
    wrapped.__name__ = getattr(decomposition, "__name__", name)
    wrapped.__doc__ = decomposition.__doc__
    return wrapped


def platform_dependent(*args, default: Callable | None = None, **per_platform: Callable):
    """Call the branch for the default platform, else ``default``: ``cpu`` on the host;
    on an NVIDIA GPU the ``cuda`` branch (JAX's name), then ``gpu``."""
    from fx.devices import default_backend
    backend = default_backend()
    names = ("cuda", "gpu") if backend == "gpu" else (backend,)
    branch = next((per_platform[n] for n in names if n in per_platform), default)
    if branch is None:
        raise ValueError(f"platform_dependent: no branch for platform "
                         f"{names[0]!r} and no default")
    return branch(*args)


def with_sharding_constraint(x, shardings):
    """``x`` unchanged (fx places every array on one device per process)."""
    return x
