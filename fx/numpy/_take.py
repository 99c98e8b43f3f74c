"""``take``, ``take_along_axis`` and ``put_along_axis``: indexing along one axis,
plus the small axis helpers the joining functions share.

Invariants: indices are normalised (negative values wrapped once) the way JAX
does for each mode, then lowered to ``getitem`` / one ``gather`` or ``scatter``
with operand batching dimensions, so everything differentiates, batches and
jits.
"""
from __future__ import annotations

import builtins
import operator

import numpy as np

from fx import core, dtypes, lax
from fx.array import Array
from fx.core import Tracer, get_aval
from fx.numpy import _core as C
from fx.numpy._indexing import getitem
from fx.numpy._jitted import library_jit
from primitives.indexing import (GatherDimensionNumbers, GatherScatterMode,
                                 ScatterDimensionNumbers)

__all__ = ["take", "take_along_axis", "put_along_axis"]


def _arr(a):
    return a if isinstance(a, (Array, Tracer)) else C.asarray(a)


def _axis(axis, ndim, what="axis") -> int:
    axis = operator.index(core.concrete_or_error(axis, f"a traced {what}", "Axes must be "
                                                 "static Python ints."))
    if not -ndim <= axis < ndim:
        raise ValueError(f"{what} {axis} is out of bounds for array of dimension {ndim}")
    return axis % ndim


def _static(value, what):
    return core.concrete_or_error(value, f"a traced {what}",
                                  f"{what} must be static: pass Python ints or NumPy arrays, "
                                  "or mark the argument static in `jit`.")


def _along(axis, ndim, index):
    """An index tuple applying ``index`` along ``axis`` only."""
    return (slice(None),) * axis + (index,) + (slice(None),) * (ndim - axis - 1)


# ---------------------------------------------------------------------------
# take, take_along_axis, put_along_axis


def take(a, indices, axis: int | None = None, out=None, mode: str | None = None,
         unique_indices: bool = False, indices_are_sorted: bool = False, fill_value=None):
    """Elements of ``a`` at ``indices`` along ``axis`` (the flattened array when None), as
    JAX's ``jnp.take`` (traced, a ``jit[name=_take]`` equation around one ``gather``).

    Args:
      a: the array.
      indices: integer array (or scalar) of positions along ``axis``.
      axis: static axis, or None for the flattened ``a``.
      mode: 'fill' (the default: negative indices count from the end once, and indices
        still out of bounds give ``fill_value``, NaN for inexact dtypes), 'clip'
        (clamp into range, as NumPy) or 'wrap' (modulo the axis size).
      unique_indices, indices_are_sorted: promises passed to the gather.
      fill_value: static value for out-of-bounds indices in 'fill' mode.

    Returns:
      ``a.shape[:axis] + indices.shape + a.shape[axis + 1:]``.

    Example:
      >>> fx.numpy.take(fx.numpy.arange(5.), fx.numpy.array([4, 7]))
      Array([ 4., nan], dtype=float32)
    """
    if out is not None:
        raise NotImplementedError("The 'out' argument to fx.numpy.take is not supported.")
    C._check_array_args((a, indices))
    if axis is not None:
        axis = operator.index(core.concrete_or_error(axis, "a traced axis",
                                                     "Axes must be static Python ints."))
    if mode == "raise":
        raise NotImplementedError("The 'raise' mode to fx.numpy.take is not supported.")
    if mode not in (None, "fill", "clip", "wrap"):
        raise ValueError(f"Invalid mode '{mode}' for fx.numpy.take; expected 'fill', 'clip' "
                         "or 'wrap'")
    return _take(a, indices, axis=axis, mode=mode, unique_indices=unique_indices,
                 indices_are_sorted=indices_are_sorted, fill_value=fill_value)


@library_jit(static_argnames=("axis", "mode", "unique_indices", "indices_are_sorted",
                              "fill_value"))
def _take(a, indices, axis=None, mode=None, unique_indices=False, indices_are_sorted=False,
          fill_value=None):
    a, indices = _arr(a), _arr(indices)
    if axis is None:
        a = C.ravel(a)
        axis = 0
    shape = get_aval(a).shape
    axis = _axis(axis, len(shape))
    if not dtypes.is_integer(get_aval(indices).dtype):
        raise TypeError(f"take: indices must be integers, got dtype "
                        f"{get_aval(indices).dtype.name}")
    n = shape[axis]
    ishape = get_aval(indices).shape
    if n == 0:
        if int(np.prod(ishape)) != 0:
            raise IndexError("Cannot do a non-empty fx.numpy.take() from an empty axis.")
        return a
    if int(np.prod(ishape)) == 0:
        return lax.full(shape[:axis] + ishape + shape[axis + 1:], 0, get_aval(a).dtype)
    if core._current_trace.get() is core.eval_trace:  # eager: indexing's NumPy fast path
        return _take_eager(a, indices, axis, n, mode, fill_value, unique_indices,
                           indices_are_sorted)
    if mode == "wrap":
        indices = C.remainder(indices, np.array(n, get_aval(indices).dtype)[()])
        gather_mode = GatherScatterMode.PROMISE_IN_BOUNDS
    elif mode == "clip":  # as NumPy: clamp without wrapping negative indices first
        gather_mode = GatherScatterMode.CLIP
    else:
        if get_aval(indices).dtype.kind != "u":
            indices = C.where(C.less(indices, 0), C.add(indices, n), indices)
        gather_mode = GatherScatterMode.FILL_OR_DROP
    index_ndim = len(ishape)
    dnums = GatherDimensionNumbers(
        offset_dims=tuple(range(axis)) + tuple(range(axis + index_ndim,
                                                     len(shape) + index_ndim - 1)),
        collapsed_slice_dims=(axis,), start_index_map=(axis,), operand_batching_dims=(),
        start_indices_batching_dims=())
    slice_sizes = shape[:axis] + (1,) + shape[axis + 1:]
    return lax.gather(a, lax.expand_dims(indices, (index_ndim,)), dnums, slice_sizes,
                      mode=gather_mode, fill_value=fill_value,
                      indices_are_sorted=indices_are_sorted, unique_indices=unique_indices)


def _take_eager(a, indices, axis, n, mode, fill_value, unique_indices, indices_are_sorted):
    """``take`` on concrete arrays through ``getitem`` (same values as the gather)."""
    idtype = get_aval(indices).dtype
    if mode == "wrap":
        indices = C.remainder(indices, np.array(n, idtype)[()])
        mode = "promise_in_bounds"
    elif mode == "clip":  # clamp without wrapping negative indices first
        indices = C.clip(indices, np.array(0, idtype)[()], np.array(n - 1, idtype)[()])
        mode = "promise_in_bounds"
    else:
        mode = "fill"
    return getitem(a, _along(axis, get_aval(a).ndim, indices), mode=mode,
                   fill_value=fill_value, indices_are_sorted=indices_are_sorted,
                   unique_indices=unique_indices)


def _along_axis_setup(name, arr, indices, axis, wrap_negative=True):
    arr, indices = _arr(arr), _arr(indices)
    if axis is None:
        arr = C.ravel(arr)
        if get_aval(indices).ndim != 1:
            raise ValueError(f"{name}: indices must be 1-D when axis is None, got shape "
                             f"{get_aval(indices).shape}")
        axis = 0
    ashape, ishape = get_aval(arr).shape, get_aval(indices).shape
    if len(ashape) != len(ishape):
        raise ValueError(f"{name}: indices and arr must have the same number of dimensions; "
                         f"got shapes {ishape} and {ashape}")
    if not dtypes.is_integer(get_aval(indices).dtype):
        raise TypeError(f"{name}: indices must be integers, got dtype "
                        f"{get_aval(indices).dtype.name}")
    axis = _axis(axis, len(ashape))
    batch = []
    for d, (s, t) in enumerate(zip(ashape, ishape, strict=True)):
        if d == axis:
            batch.append(None)
        elif s == t or s == 1 or t == 1:
            batch.append(builtins.max(s, t) if builtins.min(s, t) else 0)
        else:
            raise ValueError(f"{name}: shapes {ashape} (arr) and {ishape} (indices) do not "
                             f"broadcast outside axis {axis}")
    arr = C._broadcast_to(arr, tuple(ashape[d] if b is None else b for d, b in enumerate(batch)))
    indices = C._broadcast_to(indices, tuple(ishape[d] if b is None else b
                                             for d, b in enumerate(batch)))
    n = ashape[axis]
    dtype = np.dtype(np.int32) if n < 2**31 else np.dtype(np.int64)
    if get_aval(indices).dtype != dtype:
        indices = lax._convert_element_type(indices, dtype)
    if wrap_negative and dtypes.is_signed(dtype):
        indices = lax.select(lax.lt(indices, np.array(0, dtype)[()]),
                             lax.add(indices, np.array(n, dtype)[()]), indices)
    shape = get_aval(indices).shape
    indices = lax.reshape(indices, shape + (1,))
    others = tuple(d for d in range(len(shape)) if d != axis)
    return arr, indices, axis, others, shape


@library_jit(static_argnames=("axis", "mode", "fill_value", "wrap_negative_indices"))
def take_along_axis(arr, indices, axis: int | None = -1, mode=None, fill_value=None, *,
                    wrap_negative_indices: bool | None = None):
    """``arr`` indexed along ``axis`` by ``indices`` (same rank; other axes broadcast).

    Out-of-bounds indices give ``fill_value`` (NaN for inexact dtypes) unless
    ``mode='clip'``.

    Example:
      >>> x = fx.numpy.array([[3., 1., 2.]])
      >>> fx.numpy.take_along_axis(x, fx.numpy.array([[1, 2, 0]]), axis=1)
      Array([[1., 2., 3.]], dtype=float32)
    """
    if wrap_negative_indices is None:
        wrap_negative_indices = mode not in ("promise_in_bounds",
                                             GatherScatterMode.PROMISE_IN_BOUNDS)
    arr, indices, axis, others, shape = _along_axis_setup("take_along_axis", arr, indices,
                                                          axis, wrap_negative_indices)
    aval = get_aval(arr)
    if 0 in aval.shape or 0 in shape:
        # nothing to gather from (or into): zeros of the result's shape, as JAX gives
        return lax.full(shape, 0, aval.dtype)
    dn = GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(axis,),
                                start_index_map=(axis,), operand_batching_dims=others,
                                start_indices_batching_dims=others)
    mode = "fill" if mode is None else mode
    return lax.gather(arr, indices, dn, (1,) * get_aval(arr).ndim, mode=mode,
                      fill_value=fill_value)


def put_along_axis(arr, indices, values, axis: int | None, inplace: bool = True, *,
                   mode: str | None = None):
    """``arr`` with ``values`` written along ``axis`` at ``indices`` (``inplace`` must be
    False: fx arrays are immutable). Out-of-bounds indices are dropped by default.

    Example:
      >>> fx.numpy.put_along_axis(fx.numpy.zeros(3), fx.numpy.array([2]), 5., 0,
      ...                         inplace=False)
      Array([0., 0., 5.], dtype=float32)
    """
    if inplace:
        raise ValueError("fx.numpy.put_along_axis cannot modify arrays in-place, because fx "
                         "arrays are immutable. Pass inplace=False to instead return an "
                         "updated array.")
    arr = _arr(arr)
    original_shape = get_aval(arr).shape
    if axis is None:
        arr, axis = C.ravel(arr), 0
    before = get_aval(arr).shape
    arr, indices, axis, others, shape = _along_axis_setup("put_along_axis", arr, indices,
                                                          axis)
    if get_aval(arr).shape != before:
        raise ValueError(f"put_along_axis: indices of shape {shape} would broadcast arr of "
                         f"shape {before}")
    dtype = get_aval(arr).dtype
    values = C.asarray(values)
    if get_aval(values).dtype != dtype:
        values = lax._convert_element_type(values, dtype)
    values = C.broadcast_to(values, shape)
    dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(axis,),
                                 scatter_dims_to_operand_dims=(axis,),
                                 operand_batching_dims=others,
                                 scatter_indices_batching_dims=others)
    out = lax.scatter(arr, indices, values, dn, mode=mode)
    return lax.reshape(out, original_shape)
