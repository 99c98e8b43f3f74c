"""Slicing primitives: slice, dynamic_slice, dynamic_update_slice, pad,
concatenate, rev.

Invariants: every primitive here is linear in its array operands (start
indices are integer scalars and never differentiated), so each has a
transpose: slice <-> pad, dynamic_slice <-> dynamic_update_slice into zeros,
concatenate -> slices, rev -> rev. Eager impls follow XLA: dynamic start
indices are clamped so the slice fits inside the operand. Batching keeps
static slicing static; batched start indices become a gather or scatter with
``CLIP`` mode, which clamps exactly as dynamic_slice does.
"""
from __future__ import annotations

import numpy as np

from fx.core import ShapedArray, Zero, is_undefined_primal
from primitives import _rules as R
from primitives._rules import INT, check_dtype, new_primitive
from primitives.indexing import (GatherDimensionNumbers, GatherScatterMode,
                                 ScatterDimensionNumbers, gather_p, scatter_p)

__all__ = ["slice_p", "dynamic_slice_p", "dynamic_update_slice_p", "pad_p", "concatenate_p",
           "rev_p"]


def _zero_like(aval: ShapedArray) -> Zero:
    return Zero(aval.to_tangent_aval())


def _check_start_indices(name, operand, indices):
    if len(indices) != operand.ndim:
        raise TypeError(f"{name}: got {len(indices)} start indices for an operand of rank "
                        f"{operand.ndim} (shape {operand.shape}); pass one per dimension")
    for k, i in enumerate(indices):
        if i.shape != ():
            raise TypeError(f"{name}: start index {k} must be a scalar, got shape {i.shape}")
        check_dtype(name, i, INT, what=f"start index {k}")


# ---------------------------------------------------------------------------
# slice

slice_p = new_primitive("slice")
slice_p.weak_type_rule = R.operand_is_weak


@slice_p.def_abstract_eval
def _slice_abstract_eval(x, *, start_indices, limit_indices, strides=None):
    n = x.ndim
    if len(start_indices) != n or len(limit_indices) != n:
        raise TypeError(f"slice: start_indices {start_indices} and limit_indices "
                        f"{limit_indices} must have one entry per dimension of the operand "
                        f"(shape {x.shape})")
    if strides is not None and len(strides) != n:
        raise TypeError(f"slice: strides {strides} must have one entry per dimension of the "
                        f"operand (shape {x.shape})")
    strides = strides or (1,) * n
    shape = []
    for d, (s, l, st) in enumerate(zip(start_indices, limit_indices, strides, strict=True)):
        if not 0 <= s <= l <= x.shape[d]:
            raise TypeError(f"slice: need 0 <= start <= limit <= size in every dimension; "
                            f"dimension {d} has start {s}, limit {l}, size {x.shape[d]} "
                            f"(start_indices={start_indices}, limit_indices={limit_indices})")
        if st < 1:
            raise TypeError(f"slice: strides must be positive, got {strides}")
        shape.append((l - s + st - 1) // st)
    return ShapedArray(shape, x.dtype, x.weak_type)


@slice_p.def_impl
def _slice_impl(x, *, start_indices, limit_indices, strides=None):
    strides = strides or (1,) * x.ndim
    return x[tuple(map(slice, start_indices, limit_indices, strides))]


@slice_p.def_jvp
def _slice_jvp(primals, tangents, **params):
    t = tangents[0]
    out = slice_p.bind(primals[0], **params)
    return out, (_zero_like(R.aval_of(out)) if type(t) is Zero else slice_p.bind(t, **params))


@slice_p.def_transpose
def _slice_transpose(ct, x, *, start_indices, limit_indices, strides=None):
    shape = x.aval.shape
    if type(ct) is Zero:
        return [Zero(x.aval.to_tangent_aval())]
    strides = strides or (1,) * len(shape)
    out_shape = R.shape_of(ct)
    config = []
    for s, size, st, n in zip(start_indices, shape, strides, out_shape, strict=True):
        if n == 0:
            config.append((s, size - s, 0))
        else:
            last = s + (n - 1) * st
            config.append((s, size - last - 1, st - 1))
    zero = R.as_scalar(0, R.dtype_of(ct))
    return [pad_p.bind(ct, zero, padding_config=tuple(config))]


@slice_p.def_batch
def _slice_batch(args, dims, *, start_indices, limit_indices, strides=None):
    (x,), (d,) = args, dims
    size = R.shape_of(x)[d]
    starts = start_indices[:d] + (0,) + start_indices[d:]
    limits = limit_indices[:d] + (size,) + limit_indices[d:]
    strides = None if strides is None else strides[:d] + (1,) + strides[d:]
    return slice_p.bind(x, start_indices=starts, limit_indices=limits, strides=strides), d


# ---------------------------------------------------------------------------
# dynamic_slice

dynamic_slice_p = new_primitive("dynamic_slice")
dynamic_slice_p.weak_type_rule = R.operand_is_weak


@dynamic_slice_p.def_abstract_eval
def _dynamic_slice_abstract_eval(x, *indices, slice_sizes):
    _check_start_indices("dynamic_slice", x, indices)
    if len(slice_sizes) != x.ndim:
        raise TypeError(f"dynamic_slice: slice_sizes {slice_sizes} must have one entry per "
                        f"dimension of the operand (shape {x.shape})")
    for d, (size, dim) in enumerate(zip(slice_sizes, x.shape, strict=True)):
        if not 0 <= size <= dim:
            raise TypeError(f"dynamic_slice: slice size {size} in dimension {d} must be in "
                            f"[0, {dim}] for an operand of shape {x.shape}")
    return ShapedArray(slice_sizes, x.dtype, x.weak_type)


def _clamped_starts(shape, window, indices):
    return [min(max(int(i), 0), dim - w) for i, dim, w in zip(indices, shape, window, strict=True)]


@dynamic_slice_p.def_impl
def _dynamic_slice_impl(x, *indices, slice_sizes):
    starts = _clamped_starts(x.shape, slice_sizes, indices)
    return x[tuple(slice(s, s + w) for s, w in zip(starts, slice_sizes, strict=True))]


@dynamic_slice_p.def_jvp
def _dynamic_slice_jvp(primals, tangents, *, slice_sizes):
    x, *indices = primals
    out = dynamic_slice_p.bind(x, *indices, slice_sizes=slice_sizes)
    t = tangents[0]
    if type(t) is Zero:
        return out, _zero_like(R.aval_of(out))
    return out, dynamic_slice_p.bind(t, *indices, slice_sizes=slice_sizes)


@dynamic_slice_p.def_transpose
def _dynamic_slice_transpose(ct, x, *indices, slice_sizes):
    if any(is_undefined_primal(i) for i in indices):
        raise ValueError("dynamic_slice is not linear in its start indices")
    if type(ct) is Zero:
        return [Zero(x.aval.to_tangent_aval())] + [None] * len(indices)
    zeros = R.full(x.aval.shape, 0, R.dtype_of(ct))
    return [dynamic_update_slice_p.bind(zeros, ct, *indices)] + [None] * len(indices)


def _index_vector(indices, dims, size):
    """Scalar start indices (each batched at 0 or unbatched) as one index vector (none
    batched: shape (n,); some: (size, n), batched at 0), built as JAX's rules build it.
    Returns the vector and its batch dim."""
    dtype = np.dtype(np.int64) if any(R.dtype_of(i) == np.int64 for i in indices) \
        else np.dtype(np.int32)
    indices = [R.convert(i, dtype, R.aval_of(i).weak_type) for i in indices]
    batched = any(d is not None for d in dims)
    if batched:
        columns = [R.broadcast_in_dim(i, (size, 1), () if d is None else (0,))
                   for i, d in zip(indices, dims, strict=True)]
    else:
        columns = [R.broadcast_in_dim(i, (1,), ()) for i in indices]
    index = columns[0] if len(columns) == 1 else \
        concatenate_p.bind(*columns, dimension=1 if batched else 0)
    return index, (0 if batched else None)


@dynamic_slice_p.def_batch
def _dynamic_slice_batch(args, dims, *, slice_sizes):
    # as JAX's: the gather that slices the same window, batched by gather's rule
    x, *indices = args
    xd, *idims = dims
    index, index_dim = _index_vector(indices, idims, R.batch_size(args, dims))
    n = len(slice_sizes)
    dnums = GatherDimensionNumbers(offset_dims=tuple(range(n)), collapsed_slice_dims=(),
                                   start_index_map=tuple(range(n)))
    return gather_p.batch([x, index], [xd, index_dim], dimension_numbers=dnums,
                          slice_sizes=tuple(slice_sizes), indices_are_sorted=True,
                          unique_indices=True, mode=GatherScatterMode.CLIP, fill_value=None)


# ---------------------------------------------------------------------------
# dynamic_update_slice

dynamic_update_slice_p = new_primitive("dynamic_update_slice")


@dynamic_update_slice_p.def_abstract_eval
def _dynamic_update_slice_abstract_eval(x, update, *indices):
    _check_start_indices("dynamic_update_slice", x, indices)
    if update.dtype != x.dtype:
        raise TypeError(f"dynamic_update_slice: update dtype {update.dtype.name} must match "
                        f"the operand dtype {x.dtype.name}")
    if update.ndim != x.ndim or any(u > s for u, s in zip(update.shape, x.shape, strict=True)):
        raise TypeError(f"dynamic_update_slice: update shape {update.shape} must have the "
                        f"operand's rank and fit inside the operand shape {x.shape}")
    weak = x.weak_type and update.weak_type and all(i.weak_type for i in indices)
    return ShapedArray(x.shape, x.dtype, weak)


@dynamic_update_slice_p.def_impl
def _dynamic_update_slice_impl(x, update, *indices):
    starts = _clamped_starts(x.shape, update.shape, indices)
    out = np.array(x, copy=True)
    out[tuple(slice(s, s + w) for s, w in zip(starts, update.shape, strict=True))] = update
    return out


@dynamic_update_slice_p.def_jvp
def _dynamic_update_slice_jvp(primals, tangents):
    x, update, *indices = primals
    tx, tu = tangents[:2]
    out = dynamic_update_slice_p.bind(x, update, *indices)
    if type(tx) is Zero and type(tu) is Zero:
        return out, _zero_like(R.aval_of(out))
    return out, dynamic_update_slice_p.bind(R.instantiate(tx), R.instantiate(tu), *indices)


@dynamic_update_slice_p.def_transpose
def _dynamic_update_slice_transpose(ct, x, update, *indices):
    if any(is_undefined_primal(i) for i in indices):
        raise ValueError("dynamic_update_slice is not linear in its start indices")
    update_aval = update.aval if is_undefined_primal(update) else R.aval_of(update)
    x_aval = x.aval if is_undefined_primal(x) else R.aval_of(x)
    ct_x = ct_update = None
    if type(ct) is Zero:
        ct_x = Zero(x_aval.to_tangent_aval()) if is_undefined_primal(x) else None
        ct_update = Zero(update_aval.to_tangent_aval()) if is_undefined_primal(update) \
            else None
        return [ct_x, ct_update] + [None] * len(indices)
    if is_undefined_primal(x):
        zeros = R.full(update_aval.shape, 0, R.dtype_of(ct))
        ct_x = dynamic_update_slice_p.bind(ct, zeros, *indices)
    if is_undefined_primal(update):
        ct_update = dynamic_slice_p.bind(ct, *indices, slice_sizes=update_aval.shape)
    return [ct_x, ct_update] + [None] * len(indices)


@dynamic_update_slice_p.def_batch
def _dynamic_update_slice_batch(args, dims):
    # as JAX's: the scatter that writes the same window, batched by scatter's rule
    x, update, *indices = args
    xd, ud, *idims = dims
    index, index_dim = _index_vector(indices, idims, R.batch_size(args, dims))
    n = len(indices)
    dnums = ScatterDimensionNumbers(update_window_dims=tuple(range(n)), inserted_window_dims=(),
                                    scatter_dims_to_operand_dims=tuple(range(n)))
    return scatter_p.batch([x, index, update], [xd, index_dim, ud], dimension_numbers=dnums,
                           indices_are_sorted=True, unique_indices=True,
                           mode=GatherScatterMode.CLIP, update_jaxpr=None, update_consts=())


# ---------------------------------------------------------------------------
# pad

pad_p = new_primitive("pad")


@pad_p.def_abstract_eval
def _pad_abstract_eval(x, padding_value, *, padding_config):
    if padding_value.shape != ():
        raise TypeError(f"pad: padding_value must be a scalar, got shape "
                        f"{padding_value.shape}")
    if padding_value.dtype != x.dtype:
        raise TypeError(f"pad: operand and padding_value must be same dtype: got "
                        f"{x.dtype.name} and {padding_value.dtype.name}")
    if len(padding_config) != x.ndim:
        raise TypeError(f"pad: padding_config {padding_config} must have one (low, high, "
                        f"interior) triple per dimension of the operand (shape {x.shape})")
    shape = []
    for d, (lo, hi, interior) in zip(x.shape, padding_config, strict=True):
        if interior < 0:
            raise TypeError(f"pad: interior padding must be non-negative, got "
                            f"padding_config {padding_config}")
        size = lo + hi + d + max(d - 1, 0) * interior
        if size < 0:
            raise TypeError(f"pad: padding_config {padding_config} gives a negative dimension "
                            f"size for operand shape {x.shape}")
        shape.append(size)
    return ShapedArray(shape, x.dtype, x.weak_type and padding_value.weak_type)


@pad_p.def_impl
def _pad_impl(x, padding_value, *, padding_config):
    grown, inner, crop = [], [], []
    for d, (lo, hi, interior) in zip(x.shape, padding_config, strict=True):
        dilated = d + max(d - 1, 0) * interior
        lo_pos, hi_pos = max(lo, 0), max(hi, 0)
        total = lo_pos + dilated + hi_pos
        grown.append(total)
        inner.append(slice(lo_pos, lo_pos + dilated, interior + 1))
        crop.append(slice(max(-lo, 0), total - max(-hi, 0)))
    out = np.full(grown, padding_value, dtype=x.dtype)
    out[tuple(inner)] = x
    return out[tuple(crop)]


@pad_p.def_jvp
def _pad_jvp(primals, tangents, *, padding_config):
    out = pad_p.bind(*primals, padding_config=padding_config)
    tx, tv = tangents
    if type(tx) is Zero and type(tv) is Zero:
        return out, _zero_like(R.aval_of(out))
    return out, pad_p.bind(R.instantiate(tx), R.instantiate(tv), padding_config=padding_config)


def _unpad(ct, padding_config):
    """The operand part of a pad's cotangent: undo low/high padding, then skip interior."""
    dtype = R.dtype_of(ct)
    unpadded = pad_p.bind(ct, R.as_scalar(0, dtype),
                          padding_config=tuple((-lo, -hi, 0) for lo, hi, _ in padding_config))
    shape = R.shape_of(unpadded)
    strides = tuple(interior + 1 for _, _, interior in padding_config)
    if all(s == 1 for s in strides):
        return unpadded
    return slice_p.bind(unpadded, start_indices=(0,) * len(shape), limit_indices=shape,
                        strides=strides)


@pad_p.def_transpose
def _pad_transpose(ct, x, padding_value, *, padding_config):
    x_undefined = is_undefined_primal(x)
    v_undefined = is_undefined_primal(padding_value)
    if type(ct) is Zero:
        return [Zero(x.aval.to_tangent_aval()) if x_undefined else None,
                Zero(padding_value.aval.to_tangent_aval()) if v_undefined else None]
    ct_x = _unpad(ct, padding_config)
    ct_v = None
    if v_undefined:
        all_axes = tuple(range(len(R.shape_of(ct))))
        ct_v = R.sub(R.reduce_sum(ct, all_axes), R.reduce_sum(ct_x, all_axes))
    return [ct_x if x_undefined else None, ct_v]


@pad_p.def_batch
def _pad_batch(args, dims, *, padding_config):
    x, value = args
    xd, vd = dims
    if xd is None:  # only the padding value is batched: batch the operand at the front
        x, xd = R.bdim_to_front(x, None, R.batch_size(args, dims)), 0
    config = tuple(padding_config[:xd]) + ((0, 0, 0),) + tuple(padding_config[xd:])
    if vd is None:
        return pad_p.bind(x, value, padding_config=config), xd
    # a batched padding value: pad with zeros and select the values where a padded mask
    # (the operand's shape, batch dim in place) is False
    padded = pad_p.bind(x, R.as_scalar(0, R.dtype_of(x)), padding_config=config)
    mask = pad_p.bind(R.full(R.shape_of(x), True, np.bool_), np.bool_(False),
                      padding_config=config)
    out_shape = R.shape_of(padded)
    values = R.broadcast_in_dim(value, out_shape, (xd,))
    return R.select_n(mask, values, padded), xd


# ---------------------------------------------------------------------------
# concatenate

concatenate_p = new_primitive("concatenate")


@concatenate_p.def_abstract_eval
def _concatenate_abstract_eval(*xs, dimension):
    if not xs:
        raise TypeError("concatenate requires a non-empty sequence of arrays")
    first = xs[0]
    if not 0 <= dimension < max(first.ndim, 1) or first.ndim == 0:
        raise TypeError(f"concatenate: dimension {dimension} is out of range for operands "
                        f"of rank {first.ndim}")
    for x in xs[1:]:
        if x.dtype != first.dtype:
            raise TypeError(f"concatenate: operands must have the same dtype, got "
                            f"{', '.join(a.dtype.name for a in xs)}")
        if x.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(
                zip(x.shape, first.shape, strict=True)) if i != dimension):
            raise TypeError(f"concatenate: operand shapes must be equal except in dimension "
                            f"{dimension}, got {', '.join(str(a.shape) for a in xs)}")
    shape = list(first.shape)
    shape[dimension] = sum(x.shape[dimension] for x in xs)
    return ShapedArray(shape, first.dtype, all(x.weak_type for x in xs))


@concatenate_p.def_impl
def _concatenate_impl(*xs, dimension):
    return np.concatenate(xs, axis=dimension)


@concatenate_p.def_jvp
def _concatenate_jvp(primals, tangents, *, dimension):
    out = concatenate_p.bind(*primals, dimension=dimension)
    if all(type(t) is Zero for t in tangents):
        return out, _zero_like(R.aval_of(out))
    ts = [R.instantiate(t) for t in tangents]
    return out, concatenate_p.bind(*ts, dimension=dimension)


@concatenate_p.def_transpose
def _concatenate_transpose(ct, *xs, dimension):
    avals = [x.aval if is_undefined_primal(x) else R.aval_of(x) for x in xs]
    if type(ct) is Zero:
        return [Zero(a.to_tangent_aval()) if is_undefined_primal(x) else None
                for x, a in zip(xs, avals, strict=True)]
    shape = R.shape_of(ct)
    out, offset = [], 0
    for x, aval in zip(xs, avals, strict=True):
        n = aval.shape[dimension]
        if is_undefined_primal(x):
            starts = tuple(offset if i == dimension else 0 for i in range(len(shape)))
            limits = tuple(offset + n if i == dimension else s for i, s in enumerate(shape))
            out.append(slice_p.bind(ct, start_indices=starts, limit_indices=limits,
                                    strides=None))
        else:
            out.append(None)
        offset += n
    return out


@concatenate_p.def_batch
def _concatenate_batch(args, dims, *, dimension):
    size = R.batch_size(args, dims)
    xs = [R.bdim_to_front(x, d, size) for x, d in zip(args, dims, strict=True)]
    return concatenate_p.bind(*xs, dimension=dimension + 1), 0


# ---------------------------------------------------------------------------
# rev

rev_p = new_primitive("rev")
rev_p.weak_type_rule = R.operand_is_weak


@rev_p.def_abstract_eval
def _rev_abstract_eval(x, *, dimensions):
    if len(set(dimensions)) != len(dimensions) or any(
            not 0 <= d < x.ndim for d in dimensions):
        raise TypeError(f"rev: dimensions {dimensions} must be distinct dimensions of the "
                        f"operand (shape {x.shape})")
    return ShapedArray(x.shape, x.dtype, x.weak_type)


@rev_p.def_impl
def _rev_impl(x, *, dimensions):
    return np.flip(x, tuple(dimensions)) if dimensions else x


@rev_p.def_jvp
def _rev_jvp(primals, tangents, *, dimensions):
    out = rev_p.bind(primals[0], dimensions=dimensions)
    t = tangents[0]
    return out, (_zero_like(R.aval_of(out)) if type(t) is Zero
                 else rev_p.bind(t, dimensions=dimensions))


@rev_p.def_transpose
def _rev_transpose(ct, x, *, dimensions):
    if type(ct) is Zero:
        return [Zero(x.aval.to_tangent_aval())]
    return [rev_p.bind(ct, dimensions=dimensions)]


@rev_p.def_batch
def _rev_batch(args, dims, *, dimensions):
    (x,), (d,) = args, dims
    return rev_p.bind(x, dimensions=tuple(k + 1 if k >= d else k for k in dimensions)), d

