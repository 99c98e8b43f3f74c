"""``fx.lax`` slicing, gather and scatter: slice, dynamic_slice, pad, concatenate,
rev, gather, scatter and their ``*_in_dim`` conveniences, with JAX's signatures.

Invariants: static arguments (sizes, strides, padding, dimensions) are
normalised to tuples of Python ints before binding, so params print and hash
like JAX's; dynamic start indices are converted to one integer dtype (int32
unless an int64 index is given) and, where JAX allows negative indices,
wrapped once with a select (or in Python when the index is static).
"""
from __future__ import annotations

import builtins
from typing import Callable, Sequence

import numpy as np

import primitives as P
from fx import core, dtypes
from fx.array import Array
from fx.core import Tracer, get_aval
from fx.lax import _lax
from primitives.indexing import (GatherDimensionNumbers, GatherScatterMode,  # noqa: F401
                                 ScatterDimensionNumbers, default_fill_value,
                                 scatter_update_jaxpr)

__all__ = ["slice", "slice_in_dim", "index_in_dim", "dynamic_slice", "dynamic_slice_in_dim",
           "dynamic_index_in_dim", "dynamic_update_slice", "dynamic_update_slice_in_dim",
           "dynamic_update_index_in_dim", "pad", "concatenate", "rev", "gather", "scatter",
           "scatter_add", "scatter_sub", "scatter_mul", "scatter_min", "scatter_max",
           "scatter_apply", "GatherDimensionNumbers", "ScatterDimensionNumbers",
           "GatherScatterMode", "index_take"]

_PY_SCALARS = (bool, int, float, complex)


def _operand(x, name="operand"):
    """``x`` as something primitives accept (Python scalars become weak 0-d Arrays)."""
    if isinstance(x, (Array, Tracer)):
        return x
    if isinstance(x, np.ndarray):
        return _lax.canonical_operand(x)
    if isinstance(x, _PY_SCALARS):
        dtype, weak = dtypes.result_type_and_weak(x)
        return Array(np.asarray(x, dtype), weak)
    if isinstance(x, np.generic):
        return Array(np.asarray(x, dtypes.canonicalize_dtype(x.dtype)))
    if hasattr(x, "__jax_array__"):
        return x.__jax_array__()
    raise TypeError(f"lax: {name} must be an array or a scalar, got {type(x).__name__}: {x!r}")


def _bind(primitive, *args, **params):
    """Bind, checking shapes and params first when eager (traces check them anyway)."""
    args = [_lax.canonical_operand(a) for a in args]
    if core._current_trace.get() is core.eval_trace:
        primitive.abstract_eval(*[get_aval(a) for a in args], **params)
    return primitive.bind(*args, **params)


def _static_ints(values, what: str) -> tuple:
    out = []
    for v in values:
        v = core.concrete_or_error(
            v, f"a traced value used as {what}",
            f"{what} must be static: pass Python ints, or mark them static in `jit`.")
        if isinstance(v, (float, np.floating)) or (hasattr(v, "dtype") and
                                                   not dtypes.is_integer(v.dtype)):
            raise TypeError(f"{what} must be integers, got {values!r}")
        out.append(int(v))
    return tuple(out)


def _same_dtype_scalar(value, dtype):
    """``value`` (Python scalar or array) given ``dtype`` when it is a Python scalar."""
    if isinstance(value, _PY_SCALARS):
        if isinstance(value, int) and not isinstance(value, bool) and dtypes.is_integer(dtype):
            core._check_int_range(value, dtype)
        return np.array(value, dtype=dtype)[()]
    return _operand(value, "value")


# ---------------------------------------------------------------------------
# static slicing


def slice(operand, start_indices: Sequence[int], limit_indices: Sequence[int],
          strides: Sequence[int] | None = None):
    """``operand[start:limit:stride]`` in every dimension, with static bounds.

    Args:
      operand: array to slice.
      start_indices, limit_indices: one non-negative int per dimension.
      strides: optional positive int per dimension.

    Returns:
      The slice (shape ``ceil((limit - start) / stride)`` per dimension).

    Example:
      >>> fx.lax.slice(fx.numpy.arange(10), (1,), (8,), (3,))
      Array([1, 4, 7], dtype=int32)
    """
    operand = _operand(operand)
    shape = get_aval(operand).shape
    start = _static_ints(start_indices, "slice start_indices")
    limit = _static_ints(limit_indices, "slice limit_indices")
    strides = None if strides is None else _static_ints(strides, "slice strides")
    if start == (0,) * len(shape) and limit == shape and (
            strides is None or builtins.all(s == 1 for s in strides)):
        return operand
    return _bind(P.slice_p, operand, start_indices=start, limit_indices=limit, strides=strides)


def slice_in_dim(operand, start_index: int | None, limit_index: int | None, stride: int = 1,
                 axis: int = 0):
    """``slice`` along one ``axis``; None bounds mean the ends, negative ones count back.

    Example:
      >>> fx.lax.slice_in_dim(fx.numpy.arange(6).reshape(2, 3), 1, None, axis=1)
      Array([[1, 2],
             [4, 5]], dtype=int32)
    """
    operand = _operand(operand)
    shape = get_aval(operand).shape
    axis = _axis(axis, len(shape))
    size = shape[axis]
    start = 0 if start_index is None else int(start_index)
    limit = size if limit_index is None else int(limit_index)
    start = start + size if start < 0 else start
    limit = limit + size if limit < 0 else limit
    starts = [0] * len(shape)
    limits = list(shape)
    strides = [1] * len(shape)
    starts[axis], limits[axis], strides[axis] = start, limit, int(stride)
    return _bind(P.slice_p, operand, start_indices=tuple(starts), limit_indices=tuple(limits),
                          strides=tuple(strides))


def index_in_dim(operand, index: int, axis: int = 0, keepdims: bool = True):
    """Element ``index`` (a static int, negative counts back) along ``axis``.

    Example:
      >>> fx.lax.index_in_dim(fx.numpy.arange(6).reshape(2, 3), -1, axis=1, keepdims=False)
      Array([2, 5], dtype=int32)
    """
    operand = _operand(operand)
    shape = get_aval(operand).shape
    axis = _axis(axis, len(shape))
    size = shape[axis]
    index = int(index)
    wrapped = index + size if index < 0 else index
    if not 0 <= wrapped < size:
        raise IndexError(f"index {index} is out of bounds for axis {axis} with size {size}")
    out = slice_in_dim(operand, wrapped, wrapped + 1, 1, axis)
    if keepdims:
        return out
    return P.squeeze_p.bind(out, dimensions=(axis,))


def _axis(axis, ndim):
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for an array of rank {ndim}")
    return axis % ndim


# ---------------------------------------------------------------------------
# dynamic slicing


def _index_list(start_indices, what):
    if isinstance(start_indices, (Array, Tracer, np.ndarray)):
        aval = get_aval(start_indices)
        if aval.ndim != 1:
            raise TypeError(f"{what}: start_indices must be a sequence or a 1-D array, got "
                            f"shape {aval.shape}")
        return [P.squeeze_p.bind(P.slice_p.bind(start_indices, start_indices=(i,),
                                                limit_indices=(i + 1,), strides=None),
                                 dimensions=(0,)) for i in range(aval.shape[0])]
    return list(start_indices)


def _dynamic_indices(operand_shape, start_indices, allow_negative_indices, what):
    """Start indices as scalars of one integer dtype, negative ones wrapped once."""
    indices = _index_list(start_indices, what)
    if len(indices) != len(operand_shape):
        raise TypeError(f"{what}: got {len(indices)} start indices for an operand of shape "
                        f"{operand_shape}; pass one per dimension")
    allow = allow_negative_indices
    allow = [bool(allow)] * len(indices) if isinstance(allow, (bool, np.bool_)) else \
        [bool(a) for a in allow]
    index_dtype = np.dtype(np.int32)
    for i in indices:
        if not isinstance(i, (int, np.integer)):
            aval = get_aval(i)
            if aval.shape != ():
                raise TypeError(f"{what}: each start index must be a scalar, got shape "
                                f"{aval.shape}")
            if not dtypes.is_integer(aval.dtype):
                raise TypeError(f"{what}: start indices must be integers, got dtype "
                                f"{aval.dtype.name}")
            if aval.dtype == np.int64:
                index_dtype = np.dtype(np.int64)
        elif isinstance(i, bool):
            raise TypeError(f"{what}: start indices must be integers, got a bool")
    out = []
    for i, size, neg in zip(indices, operand_shape, allow, strict=True):
        if isinstance(i, (int, np.integer)):
            i = int(i)
            if neg and i < 0:
                i += size
            info = np.iinfo(index_dtype)  # the impl clamps anyway
            out.append(np.array(min(max(i, info.min), info.max), index_dtype)[()])
            continue
        if type(i) is Array or isinstance(i, np.ndarray):  # concrete: wrap in Python
            value = int(np.asarray(i))
            out.append(np.array(value + size if neg and value < 0 else value,
                                index_dtype)[()])
            continue
        aval = get_aval(i)
        if aval.dtype != index_dtype:
            i = P.convert_element_type_p.bind(i, new_dtype=index_dtype, weak_type=False,
                                              sharding=None)
        elif neg and aval.weak_type and dtypes.is_signed(aval.dtype):
            # JAX's order: the sign test, then the (strong) wrapped index, then the choice
            zero = np.array(0, index_dtype)[()]
            negative = P.lt_p.bind(i, zero)
            strong = P.convert_element_type_p.bind(i, new_dtype=index_dtype, weak_type=False,
                                                   sharding=None)
            wrapped = P.add_p.bind(strong, np.array(size, index_dtype)[()])
            out.append(P.select_n_p.bind(negative, i, wrapped))
            continue
        if neg and dtypes.is_signed(aval.dtype):
            zero = np.array(0, index_dtype)[()]
            negative = P.lt_p.bind(i, zero)
            wrapped = P.add_p.bind(i, np.array(size, index_dtype)[()])
            i = P.select_n_p.bind(negative, i, wrapped)
        out.append(i)
    return out


def dynamic_slice(operand, start_indices, slice_sizes, *,
                  allow_negative_indices: bool | Sequence[bool] = True):
    """A ``slice_sizes`` window of ``operand`` starting at (possibly traced) indices.

    As in XLA, starts are clamped so the window fits inside ``operand``. Negative
    indices count from the end when ``allow_negative_indices``.

    Example:
      >>> fx.lax.dynamic_slice(fx.numpy.arange(5), (3,), (3,))  # start clamped to 2
      Array([2, 3, 4], dtype=int32)
    """
    operand = _operand(operand)
    shape = get_aval(operand).shape
    sizes = _static_ints(slice_sizes, "dynamic_slice slice_sizes")
    indices = _dynamic_indices(shape, start_indices, allow_negative_indices, "dynamic_slice")
    return _bind(P.dynamic_slice_p, operand, *indices, slice_sizes=sizes)


def dynamic_slice_in_dim(operand, start_index, slice_size: int, axis: int = 0, *,
                         allow_negative_indices: bool = True):
    """``dynamic_slice`` along one ``axis`` (the other dimensions are kept whole).

    Example:
      >>> fx.lax.dynamic_slice_in_dim(fx.numpy.arange(6).reshape(2, 3), 1, 2, axis=1)
      Array([[1, 2],
             [4, 5]], dtype=int32)
    """
    operand = _operand(operand)
    shape = get_aval(operand).shape
    axis = _axis(axis, len(shape))
    starts = [0] * len(shape)
    starts[axis] = start_index
    sizes = list(shape)
    sizes[axis] = int(slice_size)
    allow = [False] * len(shape)
    allow[axis] = allow_negative_indices
    return dynamic_slice(operand, starts, sizes, allow_negative_indices=allow)


def dynamic_index_in_dim(operand, index, axis: int = 0, keepdims: bool = True, *,
                         allow_negative_indices: bool = True):
    """Element ``index`` (possibly traced; clamped into range) along ``axis``.

    Example:
      >>> fx.lax.dynamic_index_in_dim(fx.numpy.arange(4), -1, keepdims=False)
      Array(3, dtype=int32)
    """
    out = dynamic_slice_in_dim(operand, index, 1, axis,
                               allow_negative_indices=allow_negative_indices)
    if keepdims:
        return out
    return P.squeeze_p.bind(out, dimensions=(_axis(axis, get_aval(out).ndim),))


def dynamic_update_slice(operand, update, start_indices, *,
                         allow_negative_indices: bool | Sequence[bool] = True):
    """``operand`` with ``update`` written at (possibly traced) ``start_indices``.

    Starts are clamped so that ``update`` fits, as in XLA.

    Example:
      >>> fx.lax.dynamic_update_slice(fx.numpy.zeros(4), fx.numpy.ones(2), (1,))
      Array([0., 1., 1., 0.], dtype=float32)
    """
    operand = _operand(operand)
    aval = get_aval(operand)
    update = _same_dtype_scalar(update, aval.dtype)
    indices = _dynamic_indices(aval.shape, start_indices, allow_negative_indices,
                               "dynamic_update_slice")
    return _bind(P.dynamic_update_slice_p, operand, update, *indices)


def dynamic_update_slice_in_dim(operand, update, start_index, axis: int, *,
                                allow_negative_indices: bool = True):
    """``dynamic_update_slice`` with a start only along ``axis`` (zero elsewhere).

    Example:
      >>> fx.lax.dynamic_update_slice_in_dim(fx.numpy.zeros(4), fx.numpy.ones(2), 3, 0)
      Array([0., 0., 1., 1.], dtype=float32)
    """
    operand = _operand(operand)
    ndim = get_aval(operand).ndim
    axis = _axis(axis, ndim)
    starts = [0] * ndim
    starts[axis] = start_index
    allow = [False] * ndim
    allow[axis] = allow_negative_indices
    return dynamic_update_slice(operand, update, starts, allow_negative_indices=allow)


def dynamic_update_index_in_dim(operand, update, index, axis: int, *,
                                allow_negative_indices: bool = True):
    """Write ``update`` (with or without the ``axis`` dimension) at ``index`` along ``axis``.

    Example:
      >>> fx.lax.dynamic_update_index_in_dim(fx.numpy.zeros((2, 2)), fx.numpy.ones(2), 1, 0)
      Array([[0., 0.],
             [1., 1.]], dtype=float32)
    """
    operand = _operand(operand)
    aval = get_aval(operand)
    axis = _axis(axis, aval.ndim)
    update = _same_dtype_scalar(update, aval.dtype)
    if get_aval(update).ndim == aval.ndim - 1:
        update = P.expand_dims_p.bind(update, dimensions=(axis,))
    return dynamic_update_slice_in_dim(operand, update, index, axis,
                                       allow_negative_indices=allow_negative_indices)


# ---------------------------------------------------------------------------
# pad, concatenate, rev


def pad(operand, padding_value, padding_config: Sequence[tuple[int, int, int]]):
    """Pad ``operand`` with ``padding_value``: (low, high, interior) per dimension.

    Negative low/high padding removes elements.

    Example:
      >>> fx.lax.pad(fx.numpy.arange(3.), 0., [(1, 2, 1)])
      Array([0., 0., 0., 1., 0., 2., 0., 0.], dtype=float32)
    """
    operand = _operand(operand)
    aval = get_aval(operand)
    padding_value = _same_dtype_scalar(padding_value, aval.dtype)
    config = tuple(_static_ints(triple, "pad padding_config") for triple in padding_config)
    if builtins.any(len(t) != 3 for t in config):
        raise TypeError(f"pad: padding_config must hold (low, high, interior) triples, got "
                        f"{padding_config!r}")
    return _bind(P.pad_p, operand, padding_value, padding_config=config)


def concatenate(operands: Sequence, dimension: int):
    """Join ``operands`` (same dtype; equal shapes off ``dimension``) along ``dimension``.

    Example:
      >>> fx.lax.concatenate([fx.numpy.zeros(2), fx.numpy.ones(1)], 0)
      Array([0., 0., 1.], dtype=float32)
    """
    if isinstance(operands, (Array, Tracer, np.ndarray)):
        operands = [operands[i] for i in range(len(operands))]
    operands = [_operand(x) for x in operands]
    if not operands:
        raise TypeError("concatenate requires a non-empty sequence of arrays")
    if len(operands) == 1:
        return operands[0]
    return _bind(P.concatenate_p, *operands, dimension=int(dimension))


def rev(operand, dimensions: Sequence[int]):
    """``operand`` reversed along ``dimensions``.

    Example:
      >>> fx.lax.rev(fx.numpy.arange(3), (0,))
      Array([2, 1, 0], dtype=int32)
    """
    operand = _operand(operand)
    dims = _static_ints(dimensions, "rev dimensions")
    if not dims:
        return operand
    return _bind(P.rev_p, operand, dimensions=dims)


# ---------------------------------------------------------------------------
# gather, scatter


def _indices(start_indices, what):
    idx = _operand(start_indices, what)
    aval = get_aval(idx)
    if not dtypes.is_integer(aval.dtype):
        raise TypeError(f"{what} must have an integer dtype, got {aval.dtype.name}")
    return idx


def _fill_value(fill_value, dtype):
    if fill_value is None:
        return default_fill_value(dtype)
    fill_value = core.concrete_or_error(fill_value, "a traced gather fill_value",
                                        "fill_value must be a static scalar.")
    value = np.asarray(fill_value)
    if value.shape != ():
        raise TypeError(f"gather fill_value must be a scalar, got shape {value.shape}")
    return value.item()


def gather(operand, start_indices, dimension_numbers: GatherDimensionNumbers,
           slice_sizes: Sequence[int], *, unique_indices: bool = False,
           indices_are_sorted: bool = False, mode: str | GatherScatterMode | None = None,
           fill_value=None):
    """XLA's gather: slices of ``operand`` of size ``slice_sizes`` at ``start_indices``.

    Args:
      operand: the array to read from.
      start_indices: integer array whose last dimension holds index vectors.
      dimension_numbers: a ``GatherDimensionNumbers``.
      slice_sizes: the window size in every operand dimension.
      unique_indices, indices_are_sorted: promises that may speed things up.
      mode: 'clip', 'fill' / 'drop', 'promise_in_bounds' or a ``GatherScatterMode``;
        None means ``PROMISE_IN_BOUNDS`` (out-of-bounds starts are clamped).
      fill_value: the value of windows out of bounds in 'fill' mode (default NaN for
        inexact types, the minimum for signed ints, the maximum for unsigned, True).

    Returns:
      The gathered array.

    Example:
      >>> dn = fx.lax.GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(0,),
      ...                                    start_index_map=(0,))
      >>> fx.lax.gather(fx.numpy.arange(5.), fx.numpy.array([[3], [1]]), dn, (1,))
      Array([3., 1.], dtype=float32)
    """
    operand = _operand(operand)
    start_indices = _indices(start_indices, "gather start_indices")
    if not isinstance(dimension_numbers, GatherDimensionNumbers):
        raise TypeError(f"gather: dimension_numbers must be a GatherDimensionNumbers, got "
                        f"{type(dimension_numbers).__name__}")
    dimension_numbers = GatherDimensionNumbers(*(tuple(int(d) for d in f)
                                                 for f in dimension_numbers))
    mode = GatherScatterMode.PROMISE_IN_BOUNDS if mode is None else \
        GatherScatterMode.from_any(mode)
    if mode is GatherScatterMode.FILL_OR_DROP:
        fill_value = _fill_value(fill_value, get_aval(operand).dtype)
    else:
        fill_value = None
    return _bind(P.gather_p, operand, start_indices, dimension_numbers=dimension_numbers,
                           slice_sizes=_static_ints(slice_sizes, "gather slice_sizes"),
                           indices_are_sorted=bool(indices_are_sorted),
                           unique_indices=bool(unique_indices), mode=mode,
                           fill_value=fill_value)


def _scatter(primitive, kind, operand, scatter_indices, updates, dimension_numbers,
             indices_are_sorted, unique_indices, mode, update_jaxpr=None, update_consts=()):
    operand = _operand(operand)
    dtype = get_aval(operand).dtype
    scatter_indices = _indices(scatter_indices, f"{primitive.name} scatter_indices")
    updates = _same_dtype_scalar(updates, dtype)
    if not isinstance(dimension_numbers, ScatterDimensionNumbers):
        raise TypeError(f"{primitive.name}: dimension_numbers must be a "
                        f"ScatterDimensionNumbers, got {type(dimension_numbers).__name__}")
    dimension_numbers = ScatterDimensionNumbers(*(tuple(int(d) for d in f)
                                                  for f in dimension_numbers))
    if kind is not None:
        update_jaxpr = scatter_update_jaxpr(kind, dtype)
    return _bind(primitive, operand, scatter_indices, updates,
                          dimension_numbers=dimension_numbers,
                          indices_are_sorted=bool(indices_are_sorted),
                          unique_indices=bool(unique_indices),
                          mode=GatherScatterMode.from_any(mode), update_jaxpr=update_jaxpr,
                          update_consts=tuple(update_consts))


def _scatter_fn(primitive, kind, what):
    def fn(operand, scatter_indices, updates, dimension_numbers: ScatterDimensionNumbers, *,
           indices_are_sorted: bool = False, unique_indices: bool = False,
           mode: str | GatherScatterMode | None = None):
        return _scatter(primitive, kind, operand, scatter_indices, updates, dimension_numbers,
                        indices_are_sorted, unique_indices, mode)
    fn.__name__ = fn.__qualname__ = primitive.name.replace("-", "_")
    fn.__doc__ = f"""XLA's scatter {what}: ``updates`` combined into ``operand`` at the
    ``scatter_indices``.

    Args:
      operand: the array written into (the result has its shape and dtype).
      scatter_indices: integer array whose last dimension holds index vectors.
      updates: the values; its scatter dimensions match the batch dimensions of
        ``scatter_indices`` and its window dimensions are ``update_window_dims``.
      dimension_numbers: a ``ScatterDimensionNumbers``.
      indices_are_sorted, unique_indices: promises that may speed things up.
      mode: 'clip', 'fill' / 'drop' (the default: out-of-bounds updates are skipped),
        'promise_in_bounds' or a ``GatherScatterMode``.

    Returns:
      The updated copy of ``operand``.

    Example:
      >>> dn = fx.lax.ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
      ...                                     scatter_dims_to_operand_dims=(0,))
      >>> fx.lax.{fn.__name__}(fx.numpy.ones(3), fx.numpy.array([[0], [2]]),
      ...                  fx.numpy.array([2., 3.]), dn).shape
      (3,)
    """
    return fn


scatter = _scatter_fn(P.scatter_p, None, "(replacing values)")
scatter_add = _scatter_fn(P.scatter_add_p, "add", "add")
scatter_sub = _scatter_fn(P.scatter_sub_p, "sub", "subtract")
scatter_mul = _scatter_fn(P.scatter_mul_p, "mul", "multiply")
scatter_min = _scatter_fn(P.scatter_min_p, "min", "minimum")
scatter_max = _scatter_fn(P.scatter_max_p, "max", "maximum")


def scatter_apply(operand, scatter_indices, func: Callable, dimension_numbers:
                  ScatterDimensionNumbers, *, update_shape: Sequence[int] = (),
                  indices_are_sorted: bool = False, unique_indices: bool = False,
                  mode: str | GatherScatterMode | None = None):
    """Apply the scalar function ``func`` at the positions a scatter would write.

    Positions named more than once get ``func`` applied once per occurrence.

    Example:
      >>> dn = fx.lax.ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
      ...                                     scatter_dims_to_operand_dims=(0,))
      >>> fx.lax.scatter_apply(fx.numpy.ones(3), fx.numpy.array([[1]]), lambda v: v * 5,
      ...                      dn, update_shape=(1,))
      Array([1., 5., 1.], dtype=float32)
    """
    from fx.interpreters import partial_eval as pe
    operand = _operand(operand)
    aval = get_aval(operand)
    scalar = core.ShapedArray((), aval.dtype)
    jaxpr, consts, out_avals = pe.trace_to_jaxpr(lambda x, _: [func(x)], [scalar, scalar])
    if consts:
        raise TypeError("scatter_apply: func must not close over arrays; compute "
                        "x.at[idx].set(func(x[idx])) instead")
    if len(out_avals) != 1 or out_avals[0].shape != () or out_avals[0].dtype != aval.dtype:
        raise TypeError(f"scatter_apply: func must map a {aval.str_short()} scalar to a "
                        f"scalar of the same dtype, got {out_avals}")
    updates = P.broadcast_in_dim_p.bind(np.array(0, aval.dtype)[()],
                                        shape=_static_ints(update_shape, "update_shape"),
                                        broadcast_dimensions=(), sharding=None)
    return _scatter(P.scatter_p, None, operand, scatter_indices, updates, dimension_numbers,
                    indices_are_sorted, unique_indices, mode, update_jaxpr=jaxpr)


def index_take(src, idxs, axes: Sequence[int]):
    """``src`` indexed by the 1-D integer arrays ``idxs`` along ``axes`` (one each).

    Example:
      >>> fx.lax.index_take(fx.numpy.arange(6).reshape(2, 3), (fx.numpy.array([1, 0]),), (0,))
      Array([[3, 4, 5],
             [0, 1, 2]], dtype=int32)
    """
    src = _operand(src)
    axes = _static_ints(axes, "index_take axes")
    idxs = [_indices(i, "index_take idxs") for i in idxs]
    if len(idxs) != len(axes):
        raise TypeError(f"index_take: got {len(idxs)} index arrays for axes {axes}")
    n = get_aval(idxs[0]).shape[0] if idxs else 1
    dtype = np.dtype(np.int64) if builtins.any(get_aval(i).dtype == np.int64 for i in idxs) \
        else np.dtype(np.int32)
    cols = [P.broadcast_in_dim_p.bind(
        P.convert_element_type_p.bind(i, new_dtype=dtype, weak_type=False, sharding=None)
        if get_aval(i).dtype != dtype else i, shape=(n, 1), broadcast_dimensions=(0,),
        sharding=None) for i in idxs]
    indices = cols[0] if len(cols) == 1 else P.concatenate_p.bind(*cols, dimension=1)
    shape = get_aval(src).shape
    offset = tuple(range(1, len(shape) - len(axes) + 1))
    dn = GatherDimensionNumbers(offset_dims=offset, collapsed_slice_dims=tuple(sorted(axes)),
                                start_index_map=axes)
    sizes = tuple(1 if d in axes else s for d, s in enumerate(shape))
    return gather(src, indices, dn, sizes, mode=GatherScatterMode.PROMISE_IN_BOUNDS)
