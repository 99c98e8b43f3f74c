"""NumPy indexing for fx arrays and tracers (``x[idx]``) and JAX's functional
updates (``x.at[idx].set(y)`` and friends).

Invariants: an index is parsed once into one entry per operand dimension
(``None`` and scalar booleans first insert size-1 axes, so NumPy's rule for
where advanced-index dimensions go needs no special cases); static ints and
slices lower to ``slice``/``rev``/``squeeze``, traced scalars to
``dynamic_slice``, integer arrays to one ``gather`` (reads) or ``scatter``
(updates). Out-of-bounds reads are clamped unless a ``mode`` says otherwise,
out-of-bounds updates are dropped, exactly as in JAX. Eager basic indexing
bypasses tracing entirely (the NumPy fast paths of ``_indexing_eager``).
"""
from __future__ import annotations

import builtins
from typing import Any, Callable, NamedTuple

import numpy as np

import primitives as P
from fx import core, dtypes, lax
from fx.array import Array
from fx.core import Tracer, get_aval
from fx.errors import NonConcreteBooleanIndexError
from fx.numpy import _core as C
from primitives.indexing import (GatherDimensionNumbers, GatherScatterMode,
                                 ScatterDimensionNumbers, scatter_update_jaxpr)

__all__: list[str] = []

_eval_trace = core.eval_trace
_current = core._current_trace
_INT_TYPES = (int, np.integer)
_PROMISE = GatherScatterMode.PROMISE_IN_BOUNDS
_CLIP = GatherScatterMode.CLIP
_FILL = GatherScatterMode.FILL_OR_DROP


# ---------------------------------------------------------------------------
# parsing an index into one entry per dimension


class _Adv(NamedTuple):
    """An integer index (0-d or more) on one dimension: a NumPy array or a tracer."""

    value: Any
    static: bool


class _Parsed(NamedTuple):
    new_axes: tuple   # positions (in the expanded operand) of inserted size-1 axes
    entries: list     # per expanded dimension: slice or _Adv
    has_arrays: bool  # any integer-array (ndim >= 1) entry
    adjacent: bool    # advanced indices are consecutive items (NumPy's placement rule)


def _is_int_dtype(dtype) -> bool:
    return dtypes.is_integer(np.dtype(dtype))


def _classify(item):
    """One index item as ('none'|'ellipsis'|'slice'|'int'|'bool'|'array', value)."""
    if item is None:
        return "none", None
    if item is Ellipsis:
        return "ellipsis", None
    if isinstance(item, slice):
        return "slice", item
    if isinstance(item, (bool, np.bool_)):
        return "bool", bool(item)
    if isinstance(item, _INT_TYPES):
        return "int", int(item)
    if isinstance(item, (list, tuple)):
        if any(isinstance(v, (Tracer, Array)) for v in C._flatten_nested(item)):
            item = C.asarray(item)
        else:
            value = np.asarray(item)
            if value.size == 0 and value.dtype.kind == "f":
                value = value.astype(np.intp)
            item = value
    if isinstance(item, (np.ndarray, np.generic, Array)) or (
            isinstance(item, Tracer) and item.to_concrete_value() is not None):
        value = np.asarray(item.to_concrete_value() if isinstance(item, Tracer) else item)
        if value.dtype == np.bool_:
            return ("bool", bool(value)) if value.ndim == 0 else ("mask", value)
        if not _is_int_dtype(value.dtype):
            raise TypeError(f"Indexer must have integer or boolean type, got indexer with "
                            f"type {value.dtype.name}")
        return ("int", int(value)) if value.ndim == 0 else ("array", value)
    if isinstance(item, Tracer):
        aval = item.aval
        if aval.dtype == np.bool_:
            raise NonConcreteBooleanIndexError(item)
        if not _is_int_dtype(aval.dtype):
            raise TypeError(f"Indexer must have integer or boolean type, got indexer with "
                            f"type {aval.dtype.name}")
        return "traced", item
    if hasattr(item, "__jax_array__"):
        return _classify(item.__jax_array__())
    try:
        dtype = np.asarray(item).dtype.name
    except Exception:  # noqa: BLE001 - only used for the message
        dtype = type(item).__name__
    raise TypeError(f"Indexer must have integer or boolean type, got indexer with type "
                    f"{dtype} ({item!r}); use ints, slices, None, Ellipsis, or integer / "
                    "boolean arrays")


def _parse(shape: tuple, idx) -> _Parsed:
    if isinstance(idx, list):
        raise TypeError("Using a non-tuple sequence for multidimensional indexing is not "
                        "allowed; use `arr[array(seq)]` instead of `arr[seq]`.")
    if not isinstance(idx, tuple):
        idx = (idx,)
    items = [_classify(i) for i in idx]
    consumed = 0
    for kind, value in items:
        if kind in ("slice", "int", "array", "traced"):
            consumed += 1
        elif kind == "mask":
            consumed += value.ndim
    ellipses = builtins.sum(1 for k, _ in items if k == "ellipsis")
    if ellipses > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if consumed > len(shape):
        raise IndexError(f"Too many indices: array is {len(shape)}-dimensional, but "
                         f"{consumed} were indexed")
    new_axes, entries = [], []
    dim = 0
    has_arrays = False
    for kind, value in items:
        if kind == "ellipsis":
            for _ in range(len(shape) - consumed):
                entries.append(slice(None))
                dim += 1
            continue
        if kind == "none":
            new_axes.append(len(entries))
            entries.append(slice(None))
        elif kind == "bool":
            new_axes.append(len(entries))
            entries.append(_Adv(np.zeros(1 if value else 0, np.intp), True))
            has_arrays = True
        elif kind == "slice":
            entries.append(value)
            dim += 1
        elif kind == "int":
            entries.append(_Adv(value, True))
            dim += 1
        elif kind == "array":
            entries.append(_Adv(value, True))
            has_arrays = True
            dim += 1
        elif kind == "traced":
            entries.append(_Adv(value, False))
            has_arrays = has_arrays or value.aval.ndim > 0
            dim += 1
        else:  # mask
            expected = shape[dim:dim + value.ndim]
            # as JAX: a mask axis of length 0 matches any axis (and selects nothing)
            if builtins.any(m not in (0, s) for m, s in zip(value.shape, expected)):
                raise IndexError(f"boolean index did not match shape of indexed array in "
                                 f"index {len(entries) - len(new_axes)}: got {value.shape}, "
                                 f"expected {list(expected)}")
            for coords in np.nonzero(value):
                entries.append(_Adv(coords, True))
            has_arrays = True
            dim += value.ndim
    while dim < len(shape):
        entries.append(slice(None))
        dim += 1
    advanced = [p for p, (kind, _) in enumerate(items)
                if kind in ("int", "array", "traced", "mask", "bool")]
    adjacent = advanced == list(range(advanced[0], advanced[-1] + 1)) if advanced else True
    return _Parsed(tuple(new_axes), entries, has_arrays, adjacent)


def _expanded_shape(shape, new_axes):
    out = list(shape)
    for a in new_axes:
        out.insert(a, 1)
    return tuple(out)


def _index_dtype(shape) -> np.dtype:
    return np.dtype(np.int32) if builtins.max(shape, default=0) < 2**31 else \
        np.dtype(np.int64)


def _normalized(entry: _Adv, size: int, dtype):
    """The entry's integer index with negative values wrapped once, in ``dtype``."""
    v = entry.value
    if entry.static:
        v = np.asarray(v)
        v = np.where(v < 0, v + size, v) if v.dtype.kind == "i" else v
        info = np.iinfo(dtype)
        return np.clip(v, info.min, info.max).astype(dtype)
    aval = v.aval
    signed = dtypes.is_signed(aval.dtype)
    if aval.dtype != dtype:
        v = lax._convert_element_type(v, dtype)
    if signed:
        v = lax.select_n(lax.lt(v, np.array(0, dtype)[()]), v,
                         lax.add(v, np.array(size, dtype)[()]))
    return v


# ---------------------------------------------------------------------------
# reads


def getitem(x, idx, *, mode=None, fill_value=None, indices_are_sorted: bool = False,
            unique_indices: bool = False):
    """``x[idx]`` with NumPy semantics (out-of-bounds integer indices are clamped).

    Args:
      x: an fx array or tracer.
      idx: ints, slices, None, Ellipsis, integer or boolean arrays, or a tuple of them.
      mode: how out-of-bounds integer indices behave: None / 'promise_in_bounds' /
        'clip' clamp, 'fill' / 'drop' return ``fill_value``.
      fill_value: the value read out of bounds in 'fill' mode (default NaN, the minimum
        signed int, the maximum unsigned int, or True).

    Returns:
      The indexed array.

    Example:
      >>> x = fx.numpy.arange(6).reshape(2, 3)
      >>> x[:, ::-1][1]
      Array([5, 4, 3], dtype=int32)
    """
    # (the NumPy fast paths serve host arrays; placed ones go through the primitives)
    if type(x) is Array and x._device is None and mode is None and _current.get() is _eval_trace:
        out = _eager_basic(x, idx)
        if out is not None:
            return out
    if not isinstance(x, (Array, Tracer)):
        x = C.asarray(x)
    mode = _PROMISE if mode is None else GatherScatterMode.from_any(mode)
    shape = get_aval(x).shape
    parsed = _parse(shape, idx)
    if parsed.new_axes:
        x = lax.expand_dims(x, parsed.new_axes)
        shape = _expanded_shape(shape, parsed.new_axes)
    if type(x) is Array and x._device is None and _current.get() is _eval_trace:
        out = _eager_static_read(x, parsed, mode, fill_value)
        if out is not None:
            return out
    entries = parsed.entries
    x, entries = _static_slices(x, shape, entries)
    shape = get_aval(x).shape
    if not parsed.has_arrays and mode is not _FILL:
        return _basic_ints(x, shape, entries)
    return _gather(x, shape, entries, mode, fill_value, indices_are_sorted, unique_indices,
                   static_unique=not parsed.has_arrays, adjacent=parsed.adjacent)


def _check_slice(s: slice):
    for v in (s.start, s.stop, s.step):
        if v is not None and not isinstance(v, _INT_TYPES):
            concrete = v.to_concrete_value() if isinstance(v, Tracer) else v
            if isinstance(concrete, (np.ndarray, np.generic, Array)) and \
                    np.ndim(concrete) == 0 and _is_int_dtype(np.asarray(concrete).dtype):
                continue
            raise IndexError(f"Slice entries must be static integers. Got {s}. To index a "
                             "statically sized array at a dynamic position, use "
                             "fx.lax.dynamic_slice or fx.lax.dynamic_update_slice.")


def _slice_bounds(s: slice, size: int) -> tuple[int, int, int]:
    """(start, length, step) of ``s`` on a dimension of ``size`` (NumPy's rules)."""
    _check_slice(s)
    start, stop, step = (None if v is None else int(np.asarray(
        v.to_concrete_value() if isinstance(v, Tracer) else v)) for v in (s.start, s.stop, s.step))
    if step == 0:
        raise ValueError("slice step cannot be zero")
    start, stop, step = slice(start, stop, step).indices(size)
    return start, len(range(start, stop, step)), step


def _static_slices(x, shape, entries):
    """Apply every slice entry with one ``slice`` and one ``rev``; they become ``:``."""
    starts, limits, strides, reversed_dims = [], [], [], []
    new_entries = []
    for d, (e, size) in enumerate(zip(entries, shape, strict=True)):
        if isinstance(e, slice):
            start, length, step = _slice_bounds(e, size)
            if length == 0:
                starts.append(0), limits.append(0), strides.append(1)
            elif step > 0:
                starts.append(start), limits.append(start + (length - 1) * step + 1)
                strides.append(step)
            else:
                low = start + (length - 1) * step
                starts.append(low), limits.append(start + 1), strides.append(-step)
                if length > 1:
                    reversed_dims.append(d)
            new_entries.append(slice(None))
        else:
            starts.append(0), limits.append(size), strides.append(1)
            new_entries.append(e)
    unit = builtins.all(s == 1 for s in strides)
    if tuple(starts) != (0,) * len(shape) or tuple(limits) != tuple(shape) or not unit:
        strides_param = None if unit else tuple(strides)
        x = P.slice_p.bind(x, start_indices=tuple(starts), limit_indices=tuple(limits),
                           strides=strides_param)
    if reversed_dims:
        x = P.rev_p.bind(x, dimensions=tuple(reversed_dims))
    return x, new_entries


def _basic_ints(x, shape, entries):
    """Static and traced scalar indices (no arrays): slice or dynamic_slice, then squeeze."""
    starts, limits, dynamic, squeeze = [], [], {}, []
    for d, (e, size) in enumerate(zip(entries, shape, strict=True)):
        if isinstance(e, slice):
            starts.append(0), limits.append(size)
            continue
        squeeze.append(d)
        if e.static:
            if size == 0:
                raise IndexError(f"index is out of bounds for axis {d} with size 0")
            i = e.value + size if e.value < 0 else e.value
            i = builtins.min(builtins.max(i, 0), size - 1)
            starts.append(i), limits.append(i + 1)
        else:
            dynamic[d] = e.value
            starts.append(0), limits.append(size)
    if not squeeze:
        return x
    if tuple(starts) != (0,) * len(shape) or tuple(limits) != tuple(shape):
        x = P.slice_p.bind(x, start_indices=tuple(starts), limit_indices=tuple(limits),
                           strides=None)
    if dynamic:
        cur = get_aval(x).shape
        index = [dynamic.get(d, 0) for d in range(len(cur))]
        sizes = [1 if d in dynamic else s for d, s in enumerate(cur)]
        allow = [d in dynamic for d in range(len(cur))]
        x = lax.dynamic_slice(x, index, sizes, allow_negative_indices=allow)
    return P.squeeze_p.bind(x, dimensions=tuple(squeeze))


# ---------------------------------------------------------------------------
# integer-array indices: one gather (reads) or scatter (updates)


class _Indexer(NamedTuple):
    dnums: GatherDimensionNumbers
    slice_sizes: tuple
    indices: Any      # NumPy array (static) or tracer, shape batch + (k,)
    out_shape: tuple  # the shape ``x[idx]`` has
    static_unique: bool


def _index_to_gather(shape, entries, static_unique: bool, adjacent: bool) -> _Indexer:
    """Dimension numbers and indices of the gather that computes ``x[entries]``."""
    dtype = _index_dtype(shape)
    adv_dims = [d for d, e in enumerate(entries) if isinstance(e, _Adv)]
    adv_shape = C.broadcast_shapes(*[np.shape(e.value) if e.static else e.value.aval.shape
                                     for e in entries if isinstance(e, _Adv)]) \
        if adv_dims else ()
    # Output layout, in NumPy's order: ("A", j) for the broadcast advanced dims,
    # ("S", d) for a slice on operand dimension d.
    layout: list = []
    block = [("A", j) for j in range(len(adv_shape))]
    if adv_dims and not adjacent:
        layout += block
    bounds = {}
    for d, e in enumerate(entries):
        if isinstance(e, slice):
            bounds[d] = _slice_bounds(e, shape[d])
            layout.append(("S", d))
        elif adjacent and d == adv_dims[0]:
            layout += block

    def is_window(item):
        return item[0] == "S" and (bounds[item[1]][2] == 1 or bounds[item[1]][1] <= 1)

    out_shape = tuple(adv_shape[i] if kind == "A" else bounds[i][1] for kind, i in layout)
    offset_dims = tuple(p for p, item in enumerate(layout) if is_window(item))
    batch_items = [item for item in layout if not is_window(item)]
    batch_shape = tuple(adv_shape[i] if kind == "A" else bounds[i][1]
                        for kind, i in batch_items)
    a_first = next((p for p, item in enumerate(batch_items) if item[0] == "A"), 0)
    a_axes = tuple(range(a_first, a_first + len(adv_shape)))

    components, start_index_map, collapsed, slice_sizes = [], [], [], []
    for d, e in enumerate(entries):
        if isinstance(e, _Adv):
            value = _normalized(e, shape[d], dtype)
            components.append(_place(value, adv_shape, batch_shape, a_axes))
            start_index_map.append(d), collapsed.append(d), slice_sizes.append(1)
            continue
        start, length, step = bounds[d]
        if is_window(("S", d)):
            slice_sizes.append(length)
            if start != 0 or length != shape[d]:
                start_index_map.append(d)
                components.append(np.full(batch_shape, start if length else 0, dtype))
        else:
            ramp = (start + step * np.arange(length)).astype(dtype)
            axis = batch_items.index(("S", d))
            ramp = ramp.reshape([length if i == axis else 1 for i in range(len(batch_shape))])
            components.append(np.broadcast_to(ramp, batch_shape))
            start_index_map.append(d), collapsed.append(d), slice_sizes.append(1)
    indices = _stack_components(components, batch_shape, dtype)
    dnums = GatherDimensionNumbers(offset_dims=offset_dims,
                                   collapsed_slice_dims=tuple(sorted(collapsed)),
                                   start_index_map=tuple(start_index_map))
    return _Indexer(dnums, tuple(slice_sizes), indices, out_shape, static_unique)


def _place(value, adv_shape, batch_shape, a_axes):
    """An advanced index broadcast to ``adv_shape`` and laid out along ``a_axes``."""
    if isinstance(value, np.ndarray):
        value = np.broadcast_to(value, adv_shape)
        expanded = value.reshape([batch_shape[i] if i in a_axes else 1
                                  for i in range(len(batch_shape))])
        return np.broadcast_to(expanded, batch_shape)
    vshape = get_aval(value).shape
    if vshape != adv_shape:
        value = C._broadcast_to(value, adv_shape)
    return lax.broadcast_in_dim(value, batch_shape, a_axes)


def _stack_components(components, batch_shape, dtype):
    k = len(components)
    if builtins.all(isinstance(c, np.ndarray) for c in components):
        if not components:
            return np.zeros(batch_shape + (0,), dtype)
        return np.ascontiguousarray(np.stack(components, axis=-1).astype(dtype))
    cols = []
    nb = len(batch_shape)
    for c in components:
        if isinstance(c, np.ndarray):
            c = np.ascontiguousarray(c).reshape(batch_shape + (1,))
        else:
            c = lax.broadcast_in_dim(c, batch_shape + (1,), tuple(range(nb)))
        cols.append(c)
    return cols[0] if k == 1 else lax.concatenate(cols, nb)


def _gather(x, shape, entries, mode, fill_value, indices_are_sorted, unique_indices,
            static_unique, adjacent):
    empty = [d for d, e in enumerate(entries) if isinstance(e, _Adv) and shape[d] == 0]
    indexer = _index_to_gather(shape, entries, static_unique, adjacent)
    if empty:
        if builtins.all(s for s in indexer.out_shape) or not any(
                np.size(e.value) == 0 for e in entries if isinstance(e, _Adv) and e.static):
            raise IndexError(f"index is out of bounds for axis {empty[0]} with size 0")
        return C.zeros(indexer.out_shape, get_aval(x).dtype)
    sorted_, unique = (True, True) if static_unique else (indices_are_sorted, unique_indices)
    return lax.gather(x, indexer.indices, indexer.dnums, indexer.slice_sizes,
                      indices_are_sorted=sorted_, unique_indices=unique, mode=mode,
                      fill_value=fill_value)


# ---------------------------------------------------------------------------
# updates: x.at[idx].set(y) and friends


def _scatter_update(x, idx, y, primitive, kind, mode=None, indices_are_sorted=False,
                    unique_indices=False, update_jaxpr=None, normalize_y=True):
    if not isinstance(x, (Array, Tracer)):
        x = C.asarray(x)
    aval = get_aval(x)
    mode = GatherScatterMode.from_any(mode)
    parsed = _parse(aval.shape, idx)
    if (type(x) is Array and x._device is None and update_jaxpr is None
            and _current.get() is _eval_trace):
        out = _eager_update(x, parsed, y, kind, mode)
        if out is not None:
            return out
    if normalize_y:
        y = C.asarray(y)
        if get_aval(y).dtype != aval.dtype:
            y = lax._convert_element_type(y, aval.dtype, False)
    shape = _expanded_shape(aval.shape, parsed.new_axes)
    target = lax.reshape(x, shape) if parsed.new_axes else x
    empty = [d for d, e in enumerate(parsed.entries) if isinstance(e, _Adv) and shape[d] == 0]
    indexer = _index_to_gather(shape, parsed.entries, not parsed.has_arrays, parsed.adjacent)
    y_shape = get_aval(y).shape
    if len(y_shape) > len(indexer.out_shape) or C.broadcast_shapes(
            y_shape, indexer.out_shape) != indexer.out_shape:
        raise ValueError(f"Cannot broadcast update of shape {y_shape} to the indexed shape "
                         f"{indexer.out_shape} (x.shape={aval.shape}, index={idx!r})")
    if empty:
        return x
    y = C._broadcast_to(y, indexer.out_shape)
    dn = indexer.dnums
    dnums = ScatterDimensionNumbers(update_window_dims=dn.offset_dims,
                                    inserted_window_dims=dn.collapsed_slice_dims,
                                    scatter_dims_to_operand_dims=dn.start_index_map)
    if indexer.static_unique:
        indices_are_sorted = unique_indices = True
    if kind is not None:
        update_jaxpr = scatter_update_jaxpr(kind, aval.dtype)
    out = primitive.bind(target, indexer.indices, y, dimension_numbers=dnums,
                         indices_are_sorted=bool(indices_are_sorted),
                         unique_indices=bool(unique_indices), mode=mode,
                         update_jaxpr=update_jaxpr, update_consts=())
    return lax.reshape(out, aval.shape) if parsed.new_axes else out


class _IndexUpdateHelper:
    """``x.at``: indexable, giving an ``_IndexUpdateRef`` for functional updates.

    Example:
      >>> fx.numpy.zeros(3).at[1].set(5.)
      Array([0., 5., 0.], dtype=float32)
    """

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, index) -> _IndexUpdateRef:
        return _IndexUpdateRef(self.array, index)

    def __repr__(self):
        return f"_IndexUpdateHelper({self.array!r})"


class _IndexUpdateRef:
    """``x.at[idx]``: functional versions of ``x[idx] = y``, ``x[idx] += y``, ...

    Every method returns a new array. ``mode`` says what happens to out-of-bounds
    indices: updates default to 'drop' (they are skipped); ``get`` defaults to
    clamping ('promise_in_bounds'); 'clip' clamps; 'fill' returns ``fill_value``.
    """

    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array = array
        self.index = index

    def __repr__(self):
        return f"_IndexUpdateRef({self.array!r}, {self.index!r})"

    def get(self, *, indices_are_sorted=False, unique_indices=False, mode=None,
            fill_value=None, out_sharding=None):
        """``x[idx]``, with ``mode`` and ``fill_value`` for out-of-bounds indices."""
        return getitem(self.array, self.index, mode=mode, fill_value=fill_value,
                       indices_are_sorted=indices_are_sorted, unique_indices=unique_indices)

    def _update(self, values, primitive, kind, indices_are_sorted, unique_indices, mode):
        return _scatter_update(self.array, self.index, values, primitive, kind, mode,
                               indices_are_sorted, unique_indices)

    def set(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] = values`` (with repeated indices, one of the values wins)."""
        return self._update(values, P.scatter_p, None, indices_are_sorted, unique_indices,
                            mode)

    def add(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] += values`` (repeated indices accumulate)."""
        return self._update(values, P.scatter_add_p, "add", indices_are_sorted,
                            unique_indices, mode)

    def subtract(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] -= values`` (repeated indices accumulate)."""
        return self._update(values, P.scatter_sub_p, "sub", indices_are_sorted,
                            unique_indices, mode)

    def multiply(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] *= values`` (repeated indices accumulate)."""
        return self._update(values, P.scatter_mul_p, "mul", indices_are_sorted,
                            unique_indices, mode)

    mul = multiply

    def divide(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] /= values`` (true division: integer arrays become floating)."""
        ones = C.ones_like(self.array)
        divisor = _scatter_update(ones, self.index, values, P.scatter_mul_p, "mul", mode,
                                  indices_are_sorted, unique_indices)
        return C.true_divide(self.array, divisor)

    def power(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] **= values``."""
        ones = C.ones_like(self.array)
        exponent = _scatter_update(ones, self.index, values, P.scatter_mul_p, "mul", mode,
                                   indices_are_sorted, unique_indices)
        return C.power(self.array, exponent)

    def min(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] = minimum(x[idx], values)``."""
        return self._update(values, P.scatter_min_p, "min", indices_are_sorted,
                            unique_indices, mode)

    def max(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] = maximum(x[idx], values)``."""
        return self._update(values, P.scatter_max_p, "max", indices_are_sorted,
                            unique_indices, mode)

    def apply(self, func: Callable, *, indices_are_sorted=False, unique_indices=False,
              mode=None):
        """``x[idx] = func(x[idx])`` for a scalar function ``func`` (applied once per
        occurrence of a repeated index)."""
        from fx.interpreters import partial_eval as pe
        x = self.array if isinstance(self.array, (Array, Tracer)) else C.asarray(self.array)
        dtype = get_aval(x).dtype
        scalar = core.ShapedArray((), dtype)
        jaxpr, consts, out_avals = pe.trace_to_jaxpr(
            lambda v, _: [lax._convert_element_type(C.asarray(func(v)), dtype)],
            [scalar, scalar])
        if consts:
            raise TypeError("x.at[idx].apply(func): func must not close over arrays; use "
                            "x.at[idx].set(func(x[idx])) instead")
        zero = np.array(0, dtype)[()]
        return _scatter_update(x, self.index, zero, P.scatter_p, None, mode,
                               indices_are_sorted, unique_indices, update_jaxpr=jaxpr,
                               normalize_y=False)


# the NumPy fast paths live in _indexing_eager (imported last: it builds on the helpers
# above)
from fx.numpy._indexing_eager import (  # noqa: E402
    _eager_basic, _eager_static_read, _eager_update)
