"""Sorting: ``sort`` (several operands, ordered by the first ``num_keys``) and
``top_k`` (the k largest along ``axis``, with their int32 indices).

Invariants: sorting is stable in the eager impl whatever ``is_stable`` says,
so two sorts by the same keys apply the same permutation. Floating keys order
as JAX's: -inf < ... < -0.0 == 0.0 < ... < inf < NaN (every NaN equal, last);
complex keys compare (real, imag). ``sort`` is linear in its non-key operands
when the keys are fixed: differentiation sorts the tangents along with the
keys, and the transpose un-sorts cotangents by sorting them by the
permutation. ``top_k`` breaks ties by the lower index and ranks NaN first.
"""
from __future__ import annotations

import numpy as np

from fx import core, dtypes
from fx.core import ShapedArray, Zero
from primitives import _rules as R
from primitives._rules import ANY, BOOL, FLOAT, INT, check_dtype, new_primitive
from primitives.windowed import validated

# ---------------------------------------------------------------------------
# NumPy helpers


def _key_columns(key: np.ndarray) -> list:
    """Arrays whose lexicographic order (most significant first) is ``key``'s order."""
    if key.dtype == dtypes.bfloat16 or key.dtype == dtypes.float16:
        key = key.astype(np.float32)
    if key.dtype.kind == "c":
        return [key.real, key.imag]
    return [key]


def sort_permutation(keys, axis: int) -> np.ndarray:
    """The stable permutation along ``axis`` that sorts by ``keys`` (first most significant)."""
    columns = [c for k in keys for c in _key_columns(np.moveaxis(k, axis, -1))]
    if columns[0].ndim == 0:
        return np.zeros((), np.intp)
    perm = np.lexsort(columns[::-1], axis=-1) if len(columns) > 1 else np.argsort(
        columns[0], axis=-1, kind="stable")
    return np.moveaxis(perm, -1, axis)


def _descending_columns(x: np.ndarray) -> list:
    """Columns whose ascending order is ``x`` descending with NaN first."""
    if x.dtype == dtypes.bfloat16 or x.dtype == dtypes.float16:
        x = x.astype(np.float32)
    if x.dtype.kind == "f":
        nan = np.isnan(x)
        return [~nan, np.where(nan, 0, -x)]
    if x.dtype.kind == "b":
        return [~x]
    return [np.invert(x)]  # ~x = -x - 1 reverses the order of signed and unsigned ints


# ---------------------------------------------------------------------------
# sort

sort_p = new_primitive("sort", multiple_results=True)


@sort_p.def_abstract_eval
def _sort_abstract_eval(*operands, dimension, is_stable, num_keys):
    if not operands:
        raise TypeError("sort needs at least one operand")
    shape = operands[0].shape
    for o in operands:
        if o.shape != shape:
            raise TypeError(f"sort: operands must have equal shapes, got "
                            f"{[a.shape for a in operands]}")
    if not 1 <= num_keys <= len(operands):
        raise ValueError(f"sort: num_keys={num_keys} must be between 1 and the number of "
                         f"operands ({len(operands)})")
    if not 0 <= dimension < len(shape):
        raise ValueError(f"sort: dimension {dimension} is out of bounds for operands of "
                         f"shape {shape}")
    for k in operands[:num_keys]:
        check_dtype("sort", k, ANY, "keys")
    return [ShapedArray(o.shape, o.dtype, o.weak_type) for o in operands]


def _sort_impl(*operands, dimension, is_stable, num_keys):
    perm = sort_permutation(operands[:num_keys], dimension)
    return [np.take_along_axis(o, perm, axis=dimension) for o in operands]


sort_p.def_impl(validated(sort_p, _sort_impl))


@sort_p.def_jvp
def _sort_jvp(primals, tangents, *, dimension, is_stable, num_keys):
    params = dict(dimension=dimension, is_stable=is_stable, num_keys=num_keys)
    outs = sort_p.bind(*primals, **params)
    moving = [t for t in tangents if type(t) is not Zero]
    if not moving:
        return outs, [Zero(R.aval_of(o).to_tangent_aval()) for o in outs]
    sorted_tangents = iter(sort_p.bind(*primals[:num_keys], *moving, **params)[num_keys:])
    out_tangents = [Zero(R.aval_of(o).to_tangent_aval()) if type(t) is Zero
                    else next(sorted_tangents) for o, t in zip(outs, tangents)]
    return outs, out_tangents


def inverse_permutation(perm, dimension: int):
    """The permutation that undoes ``perm`` along ``dimension`` (a sort by ``perm``)."""
    shape = R.shape_of(perm)
    ramp = R.registry["iota"].bind(dtype=R.dtype_of(perm), shape=shape, dimension=dimension,
                                   sharding=None)
    return sort_p.bind(perm, ramp, dimension=dimension, is_stable=True, num_keys=1)[1]


@sort_p.def_transpose
def _sort_transpose(cts, *operands, dimension, is_stable, num_keys):
    keys = operands[:num_keys]
    if any(core.is_undefined_primal(k) for k in keys):
        raise ValueError("sort is linear only in its non-key operands, not in its keys")
    results = [None] * num_keys
    live = [i for i, (o, ct) in enumerate(zip(operands, cts))
            if i >= num_keys and core.is_undefined_primal(o) and type(ct) is not Zero]
    if live:
        shape = R.shape_of(keys[0])
        ramp = R.registry["iota"].bind(dtype=dtypes.int32, shape=shape, dimension=dimension,
                                       sharding=None)
        params = dict(dimension=dimension, is_stable=True)
        perm = sort_p.bind(*keys, ramp, num_keys=num_keys, **params)[-1]
        unsorted = sort_p.bind(perm, *[cts[i] for i in live], num_keys=1, **params)[1:]
        back = dict(zip(live, unsorted))
    else:
        back = {}
    for i in range(num_keys, len(operands)):
        o = operands[i]
        if not core.is_undefined_primal(o):
            results.append(None)
        else:
            results.append(back.get(i, Zero(o.aval)))
    return results


@sort_p.def_batch
def _sort_batch(args, dims, *, dimension, is_stable, num_keys):
    moved, bdim = R.batch_dims_in_place(args, dims)
    outs = sort_p.bind(*moved, dimension=dimension + (dimension >= bdim),
                       is_stable=is_stable, num_keys=num_keys)
    return outs, [bdim] * len(outs)


# ---------------------------------------------------------------------------
# top_k

top_k_p = new_primitive("top_k", multiple_results=True)


@top_k_p.def_abstract_eval
def _top_k_abstract_eval(x, *, k, axis):
    check_dtype("top_k", x, FLOAT + INT + BOOL)
    if x.ndim == 0:
        raise TypeError("top_k needs an operand of rank >= 1, got a scalar")
    if not 0 <= axis < x.ndim:
        raise ValueError(f"top_k: axis {axis} is out of bounds for an operand of shape "
                         f"{x.shape}")
    if not 0 <= k <= x.shape[axis]:
        raise ValueError(f"top_k: k={k} must be between 0 and the size {x.shape[axis]} of "
                         f"axis {axis} (operand shape {x.shape})")
    shape = x.shape[:axis] + (k,) + x.shape[axis + 1:]
    return [ShapedArray(shape, x.dtype, x.weak_type), ShapedArray(shape, dtypes.int32)]


def _top_k_impl(x, *, k, axis):
    moved = np.moveaxis(x, axis, -1)
    columns = _descending_columns(moved)
    perm = np.lexsort(columns[::-1], axis=-1) if len(columns) > 1 else np.argsort(
        columns[0], axis=-1, kind="stable")
    perm = perm[..., :k]
    values = np.take_along_axis(moved, perm, axis=-1)
    return [np.moveaxis(values, -1, axis), np.moveaxis(perm.astype(np.int32), -1, axis)]


top_k_p.def_impl(validated(top_k_p, _top_k_impl))


@top_k_p.def_jvp
def _top_k_jvp(primals, tangents, *, k, axis):
    """The tangents at the chosen indices: ``t`` sorted into descending order of ``x``
    (by the rank of each element, an inverse permutation), then its first ``k``."""
    (x,), (t,) = primals, tangents
    values, indices = top_k_p.bind(x, k=k, axis=axis)
    n = R.shape_of(x)[axis]
    if k == 0:
        return [values, indices], [Zero(R.aval_of(v).to_tangent_aval())
                                   for v in (values, indices)]
    order = indices if k == n else top_k_p.bind(x, k=n, axis=axis)[1]
    rank = inverse_permutation(order, axis)
    in_order = sort_p.bind(rank, t, dimension=axis, is_stable=True, num_keys=1)[1]
    tangent = in_order if k == n else _first(in_order, axis, k)
    return [values, indices], [tangent, Zero(R.aval_of(indices).to_tangent_aval())]


def _first(x, axis, k):
    shape = R.shape_of(x)
    limit = tuple(k if i == axis else s for i, s in enumerate(shape))
    return R.registry["slice"].bind(x, start_indices=(0,) * len(shape), limit_indices=limit,
                                    strides=None)


@top_k_p.def_batch
def _top_k_batch(args, dims, *, k, axis):
    (x,), (d,) = args, dims
    return top_k_p.bind(x, k=k, axis=axis + (axis >= d)), [d, d]


__all__ = ["sort_p", "top_k_p", "sort_permutation", "inverse_permutation"]
