"""Gather and scatter: XLA's general indexed reads and writes, with JAX's
dimension numbers (including operand batching dimensions) and modes.

Invariants: the index vector is always the last dimension of the indices;
``mode`` is a ``GatherScatterMode``. Eager impls follow XLA: gather clamps
start indices so the window fits (``CLIP`` and ``PROMISE_IN_BOUNDS``) or fills
windows that do not fit (``FILL_OR_DROP``); scatter clamps (``CLIP``) or skips
updates whose window does not fit (the other two modes). gather and
scatter-add transpose into each other; scatter, scatter-mul, scatter-min and
scatter-max have jvps written with selects and scatter-adds so that reverse
mode needs only those transposes.
"""
from __future__ import annotations

import enum
import math
from typing import NamedTuple

import numpy as np

from fx import core
from fx.core import Jaxpr, JaxprEqn, ShapedArray, Var, Zero, is_undefined_primal
from primitives import _rules as R
from primitives._rules import ANY, INT, NUMERIC, check_dtype, new_primitive

__all__ = ["GatherDimensionNumbers", "ScatterDimensionNumbers", "GatherScatterMode",
           "gather_p", "scatter_p", "scatter_add_p", "scatter_sub_p", "scatter_mul_p",
           "scatter_min_p", "scatter_max_p", "scatter_update_jaxpr"]


class GatherScatterMode(enum.Enum):
    """How gather and scatter treat indices whose window does not fit in the operand.

    ``CLIP``: clamp the start so the window fits. ``FILL_OR_DROP``: gather returns
    ``fill_value`` for such windows, scatter skips their updates.
    ``PROMISE_IN_BOUNDS``: the caller promises every window fits (eagerly, gather
    clamps and scatter skips, as XLA does).
    """

    CLIP = 1
    FILL_OR_DROP = 2
    PROMISE_IN_BOUNDS = 3

    @staticmethod
    def from_any(s) -> GatherScatterMode:
        """Parse ``s``: a mode, None (``FILL_OR_DROP``), or 'clip', 'fill', 'drop',
        'promise_in_bounds'."""
        if isinstance(s, GatherScatterMode):
            return s
        if s == "clip":
            return GatherScatterMode.CLIP
        if s is None or s == "fill" or s == "drop":
            return GatherScatterMode.FILL_OR_DROP
        if s == "promise_in_bounds":
            return GatherScatterMode.PROMISE_IN_BOUNDS
        raise ValueError(f'Unknown gather mode "{s}"; expected one of "clip", "fill", '
                         '"drop", "promise_in_bounds" or a GatherScatterMode')


class GatherDimensionNumbers(NamedTuple):
    """How a gather maps indices and slices of the operand to its output.

    offset_dims: output dimensions that hold the (uncollapsed) window dimensions.
    collapsed_slice_dims: operand dimensions with slice size 1 dropped from the output.
    start_index_map: the operand dimension each entry of an index vector starts.
    operand_batching_dims / start_indices_batching_dims: paired dimensions of the
      operand and the indices that are batch dimensions of both.
    """

    offset_dims: tuple = ()
    collapsed_slice_dims: tuple = ()
    start_index_map: tuple = ()
    operand_batching_dims: tuple = ()
    start_indices_batching_dims: tuple = ()


class ScatterDimensionNumbers(NamedTuple):
    """How a scatter maps indices and update windows into the operand.

    update_window_dims: dimensions of the updates that are window dimensions.
    inserted_window_dims: operand dimensions with window size 1 absent from updates.
    scatter_dims_to_operand_dims: the operand dimension each index-vector entry starts.
    operand_batching_dims / scatter_indices_batching_dims: paired batch dimensions.
    """

    update_window_dims: tuple = ()
    inserted_window_dims: tuple = ()
    scatter_dims_to_operand_dims: tuple = ()
    operand_batching_dims: tuple = ()
    scatter_indices_batching_dims: tuple = ()


_CLIP = GatherScatterMode.CLIP
_FILL = GatherScatterMode.FILL_OR_DROP


def default_fill_value(dtype: np.dtype):
    """JAX's fill for out-of-bounds gathers: NaN, the most negative int, the largest
    unsigned int, or True."""
    dtype = np.dtype(dtype)
    kind = R.kind_of(dtype)
    if kind in "fc":
        return float("nan")
    if kind == "i":
        return int(np.iinfo(dtype).min)
    if kind == "u":
        return int(np.iinfo(dtype).max)
    return True


# ---------------------------------------------------------------------------
# checking dimension numbers


def _check_dim_list(name, what, dims, bound, bound_what, need_sorted=False):
    if len(set(dims)) != len(dims):
        raise TypeError(f"{name}: {what} {dims} must not repeat a dimension")
    for d in dims:
        if not 0 <= d < bound:
            raise TypeError(f"{name}: {what} {dims} must be in [0, {bound}) ({bound_what})")
    if need_sorted and list(dims) != sorted(dims):
        raise TypeError(f"{name}: {what} {dims} must be sorted")


def _check_indices(name, indices, index_vector_len, what):
    check_dtype(name, indices, INT, what="indices")
    if indices.ndim < 1:
        raise TypeError(f"{name}: indices must have rank >= 1 (their last dimension holds "
                        f"the index vectors), got shape {indices.shape}")
    if indices.shape[-1] != index_vector_len:
        raise TypeError(f"{name}: {what} has {index_vector_len} entries but the index "
                        f"vectors (last dimension of indices shape {indices.shape}) have "
                        f"{indices.shape[-1]}")


def _check_batching(name, operand, indices, operand_dims, indices_dims, names):
    op_name, idx_name = names
    _check_dim_list(name, op_name, operand_dims, operand.ndim, f"operand shape {operand.shape}",
                    need_sorted=True)
    _check_dim_list(name, idx_name, indices_dims, indices.ndim - 1,
                    f"the batch dimensions of indices shape {indices.shape}")
    if len(operand_dims) != len(indices_dims):
        raise TypeError(f"{name}: {op_name} {operand_dims} and {idx_name} {indices_dims} "
                        "must have the same length")
    for a, b in zip(operand_dims, indices_dims, strict=True):
        if operand.shape[a] != indices.shape[b]:
            raise TypeError(f"{name}: operand batching dimension {a} (size "
                            f"{operand.shape[a]}) and indices batching dimension {b} (size "
                            f"{indices.shape[b]}) must have equal sizes")


# ---------------------------------------------------------------------------
# shared eager machinery: where each window starts


def _window_starts(operand_shape, indices, index_map, operand_batching_dims,
                   indices_batching_dims, window, drop):
    """Per operand dimension with a data-dependent start, an int64 array (n,) of starts.

    Starts are clamped into [0, size - window]; with ``drop`` also returns a mask (n,)
    of the windows that fit without clamping (else None).
    """
    batch_shape = indices.shape[:-1]
    n = math.prod(batch_shape)
    flat = indices.reshape(n, indices.shape[-1]).astype(np.int64)
    starts, ok = {}, None
    for k, d in enumerate(index_map):
        hi = operand_shape[d] - window[d]
        s = flat[:, k]
        if drop:
            fits = (s >= 0) & (s <= hi)
            ok = fits if ok is None else ok & fits
        starts[d] = np.clip(s, 0, max(hi, 0))
    if operand_batching_dims:
        if n:
            coords = np.unravel_index(np.arange(n), batch_shape)
        else:
            coords = [np.zeros(0, np.int64)] * len(batch_shape)
        for d, j in zip(operand_batching_dims, indices_batching_dims, strict=True):
            starts[d] = np.asarray(coords[j], np.int64)
    return starts, ok


def _window_view(array, starts, window, window_dims, n):
    """A view of ``array`` and index arrays that address every window element.

    ``window`` holds the window size of every dimension; ``window_dims`` those that are
    not collapsed. Returns (view, grids, order): ``view[grids]`` has shape (n, *sizes)
    with the window dims in ``order`` (data-indexed ones first, then the others).
    """
    rank = array.ndim
    indexed = sorted(starts)
    free = [d for d in range(rank) if d not in starts]
    view = np.transpose(array, indexed + free)
    # free dims start at 0: window dims are cut to their size, collapsed ones squeezed away
    # (squeeze keeps a writable view, which scatter relies on)
    view = view[(slice(None),) * len(indexed) + tuple(slice(0, window[d]) for d in free)]
    collapsed = tuple(len(indexed) + i for i, d in enumerate(free) if d not in window_dims)
    if collapsed:
        view = np.squeeze(view, axis=collapsed)
    free = [d for d in free if d in window_dims]
    indexed_window = [d for d in indexed if d in window_dims]
    if not indexed:
        return view[None], (np.zeros(n, np.intp),), free
    grids = []
    ndim_grid = 1 + len(indexed_window)
    for d in indexed:
        g = starts[d].reshape((n,) + (1,) * len(indexed_window))
        if d in indexed_window:
            ramp_shape = [1] * ndim_grid
            ramp_shape[1 + indexed_window.index(d)] = window[d]
            g = g + np.arange(window[d]).reshape(ramp_shape)
        grids.append(g)
    return view, tuple(grids), indexed_window + free


# ---------------------------------------------------------------------------
# gather

gather_p = new_primitive("gather")
gather_p.weak_type_rule = R.operand_is_weak


@gather_p.def_abstract_eval
def _gather_abstract_eval(operand, indices, *, dimension_numbers, slice_sizes,
                          indices_are_sorted=False, unique_indices=False, mode=None,
                          fill_value=None):
    name = "gather"
    dn = dimension_numbers
    if not isinstance(dn, GatherDimensionNumbers):
        raise TypeError(f"gather: dimension_numbers must be a GatherDimensionNumbers, got "
                        f"{type(dn).__name__}")
    rank = operand.ndim
    _check_indices(name, indices, len(dn.start_index_map), f"start_index_map {dn.start_index_map}")
    _check_dim_list(name, "collapsed_slice_dims", dn.collapsed_slice_dims, rank,
                    f"operand shape {operand.shape}", need_sorted=True)
    _check_dim_list(name, "start_index_map", dn.start_index_map, rank,
                    f"operand shape {operand.shape}")
    _check_batching(name, operand, indices, dn.operand_batching_dims,
                    dn.start_indices_batching_dims,
                    ("operand_batching_dims", "start_indices_batching_dims"))
    if set(dn.collapsed_slice_dims) & set(dn.operand_batching_dims):
        raise TypeError(f"gather: collapsed_slice_dims {dn.collapsed_slice_dims} and "
                        f"operand_batching_dims {dn.operand_batching_dims} must be disjoint")
    if set(dn.start_index_map) & set(dn.operand_batching_dims):
        raise TypeError(f"gather: start_index_map {dn.start_index_map} and "
                        f"operand_batching_dims {dn.operand_batching_dims} must be disjoint")
    if len(slice_sizes) != rank:
        raise TypeError(f"gather: slice_sizes {slice_sizes} must have one entry per operand "
                        f"dimension (operand shape {operand.shape})")
    for s, size in zip(slice_sizes, operand.shape, strict=True):
        if not 0 <= s <= size:
            raise TypeError(f"gather: slice_sizes {slice_sizes} must satisfy 0 <= size <= "
                            f"operand size in every dimension (operand shape {operand.shape})")
    for d in dn.collapsed_slice_dims + dn.operand_batching_dims:
        if slice_sizes[d] != 1:
            raise TypeError(f"gather: slice_sizes[{d}] = {slice_sizes[d]}, but collapsed and "
                            "batching dimensions must have slice size 1")
    dropped = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    window_sizes = [s for d, s in enumerate(slice_sizes) if d not in dropped]
    batch = list(indices.shape[:-1])
    out_rank = len(window_sizes) + len(batch)
    if len(dn.offset_dims) != len(window_sizes):
        raise TypeError(f"gather: offset_dims {dn.offset_dims} must have one entry per window "
                        f"dimension (operand rank {rank} minus collapsed and batching "
                        f"dimensions = {len(window_sizes)})")
    _check_dim_list(name, "offset_dims", dn.offset_dims, out_rank,
                    f"output rank {out_rank}", need_sorted=True)
    shape, windows, batches = [], iter(window_sizes), iter(batch)
    for p in range(out_rank):
        shape.append(next(windows) if p in dn.offset_dims else next(batches))
    return ShapedArray(shape, operand.dtype, operand.weak_type)


def _output_permutation(offset_dims, n_batch, n_window):
    """Axis order taking (batch..., window...) to the output layout."""
    perm, batch = [], 0
    for p in range(n_batch + n_window):
        if p in offset_dims:
            perm.append(n_batch + offset_dims.index(p))
        else:
            perm.append(batch)
            batch += 1
    return perm


@gather_p.def_impl
def _gather_impl(operand, indices, *, dimension_numbers, slice_sizes, indices_are_sorted=False,
                 unique_indices=False, mode=None, fill_value=None):
    dn = dimension_numbers
    mode = GatherScatterMode.from_any(mode)
    dropped = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    window_dims = [d for d in range(operand.ndim) if d not in dropped]
    batch_shape = indices.shape[:-1]
    n = math.prod(batch_shape)
    starts, ok = _window_starts(operand.shape, indices, dn.start_index_map,
                                dn.operand_batching_dims, dn.start_indices_batching_dims,
                                slice_sizes, drop=mode is _FILL)
    view, grids, order = _window_view(operand, starts, slice_sizes, set(window_dims), n)
    result = view[grids]
    result = np.transpose(result, [0] + [1 + order.index(d) for d in window_dims])
    if ok is not None and not ok.all():
        fill = default_fill_value(operand.dtype) if fill_value is None else fill_value
        result = np.array(result)
        result[~ok] = np.asarray(fill).astype(operand.dtype)
    result = result.reshape(batch_shape + tuple(slice_sizes[d] for d in window_dims))
    perm = _output_permutation(dn.offset_dims, len(batch_shape), len(window_dims))
    return np.transpose(result, perm)


def _gather_params(dimension_numbers, slice_sizes, mode, fill_value=None,
                   indices_are_sorted=False, unique_indices=False):
    return dict(dimension_numbers=dimension_numbers, slice_sizes=tuple(slice_sizes),
                indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                mode=mode, fill_value=fill_value)


@gather_p.def_jvp
def _gather_jvp(primals, tangents, **params):
    operand, indices = primals
    out = gather_p.bind(operand, indices, **params)
    t = tangents[0]
    if type(t) is Zero:
        return out, Zero(R.aval_of(out).to_tangent_aval())
    tangent_params = dict(params)
    if params["mode"] is _FILL:
        tangent_params["fill_value"] = 0
    return out, gather_p.bind(t, indices, **tangent_params)


def _scatter_dnums_for_gather(dn: GatherDimensionNumbers) -> ScatterDimensionNumbers:
    return ScatterDimensionNumbers(
        update_window_dims=dn.offset_dims, inserted_window_dims=dn.collapsed_slice_dims,
        scatter_dims_to_operand_dims=dn.start_index_map,
        operand_batching_dims=dn.operand_batching_dims,
        scatter_indices_batching_dims=dn.start_indices_batching_dims)


def _gather_dnums_for_scatter(dn: ScatterDimensionNumbers) -> GatherDimensionNumbers:
    return GatherDimensionNumbers(
        offset_dims=dn.update_window_dims, collapsed_slice_dims=dn.inserted_window_dims,
        start_index_map=dn.scatter_dims_to_operand_dims,
        operand_batching_dims=dn.operand_batching_dims,
        start_indices_batching_dims=dn.scatter_indices_batching_dims)


def _scatter_slice_sizes(operand_shape, updates_shape, dn: ScatterDimensionNumbers):
    sizes, windows = [], iter(dn.update_window_dims)
    for d in range(len(operand_shape)):
        if d in dn.inserted_window_dims or d in dn.operand_batching_dims:
            sizes.append(1)
        else:
            sizes.append(updates_shape[next(windows)])
    return tuple(sizes)


@gather_p.def_transpose
def _gather_transpose(ct, operand, indices, *, dimension_numbers, slice_sizes,
                      indices_are_sorted=False, unique_indices=False, mode=None,
                      fill_value=None):
    if is_undefined_primal(indices):
        raise ValueError("gather is not linear in its indices")
    aval = operand.aval
    if type(ct) is Zero:
        return [Zero(aval.to_tangent_aval()), None]
    zeros = R.full(aval.shape, 0, R.dtype_of(ct))
    out = scatter_add_p.bind(
        zeros, indices, ct, dimension_numbers=_scatter_dnums_for_gather(dimension_numbers),
        indices_are_sorted=indices_are_sorted, unique_indices=unique_indices, mode=mode,
        update_jaxpr=scatter_update_jaxpr("add", R.dtype_of(ct)), update_consts=())
    return [out, None]


def _shift(dims, by=1):
    return tuple(d + by for d in dims)


def _np_shift(dims):
    """``dims`` shifted past a leading batch dim as JAX shifts them (with NumPy, so
    printed dimension numbers show np.int64 entries)."""
    return tuple(np.asarray(dims, np.int64) + 1)


def _to_front(x, d, size):
    """``x`` batched at 0: moved there, or broadcast (np.int64 dims, as JAX's rules)."""
    if d is not None:
        return R.moveaxis(x, d, 0)
    shape = R.shape_of(x)
    return R.broadcast_in_dim(x, (size,) + shape, _np_shift(range(len(shape))))


@gather_p.def_batch
def _gather_batch(args, dims, *, dimension_numbers, slice_sizes, **params):
    operand, indices = args
    od, idim = dims
    dn = dimension_numbers
    if idim is None:  # the batch dim is a window dim of a full-size slice
        operand = R.moveaxis(operand, od, 0)
        new = GatherDimensionNumbers(
            offset_dims=(0,) + _np_shift(dn.offset_dims),
            collapsed_slice_dims=_np_shift(dn.collapsed_slice_dims),
            start_index_map=_np_shift(dn.start_index_map),
            operand_batching_dims=_np_shift(dn.operand_batching_dims),
            start_indices_batching_dims=dn.start_indices_batching_dims)
        sizes = (R.shape_of(operand)[0],) + tuple(slice_sizes)
    elif od is None:  # a batch dim of the indices: the output's first batch dim
        indices = R.moveaxis(indices, idim, 0)
        new = GatherDimensionNumbers(
            offset_dims=_shift(dn.offset_dims), collapsed_slice_dims=dn.collapsed_slice_dims,
            start_index_map=dn.start_index_map, operand_batching_dims=dn.operand_batching_dims,
            start_indices_batching_dims=_shift(dn.start_indices_batching_dims))
        sizes = tuple(slice_sizes)
        # the batch dim's indices need not be sorted or unique (as JAX's rule)
        params = dict(params, indices_are_sorted=False, unique_indices=False)
    else:
        operand = R.moveaxis(operand, od, 0)
        indices = R.moveaxis(indices, idim, 0)
        new = GatherDimensionNumbers(
            offset_dims=_np_shift(dn.offset_dims),
            collapsed_slice_dims=_np_shift(dn.collapsed_slice_dims),
            start_index_map=_np_shift(dn.start_index_map),
            operand_batching_dims=(0,) + _np_shift(dn.operand_batching_dims),
            start_indices_batching_dims=(0,) + _np_shift(dn.start_indices_batching_dims))
        sizes = (1,) + tuple(slice_sizes)
    return gather_p.bind(operand, indices, dimension_numbers=new, slice_sizes=sizes,
                         **params), 0


# ---------------------------------------------------------------------------
# scatter: one factory for scatter, scatter-add, -sub, -mul, -min, -max

_UPDATE_PRIMITIVE = {"add": "add", "sub": "sub", "mul": "mul", "min": "min", "max": "max"}
_update_jaxprs: dict = {}


def scatter_update_jaxpr(kind: str, dtype) -> Jaxpr:
    """The two-scalar combiner jaxpr (``{ lambda ; a b. let c = add a b in (c,) }``) that
    JAX records as ``update_jaxpr`` on scatter-add and friends; cached per dtype."""
    dtype = np.dtype(dtype)
    key = (kind, dtype)
    jaxpr = _update_jaxprs.get(key)
    if jaxpr is None:
        aval = ShapedArray((), dtype)
        a, b, c = Var(aval), Var(aval), Var(aval)
        eqn = JaxprEqn([a, b], [c], R.registry[_UPDATE_PRIMITIVE[kind]], {}, None)
        jaxpr = _update_jaxprs[key] = Jaxpr([], [a, b], [c], [eqn])
    return jaxpr


def _scatter_abstract_eval_for(name):
    def abstract_eval(operand, indices, updates, *, dimension_numbers, indices_are_sorted=False,
                      unique_indices=False, mode=None, update_jaxpr=None, update_consts=()):
        dn = dimension_numbers
        if not isinstance(dn, ScatterDimensionNumbers):
            raise TypeError(f"{name}: dimension_numbers must be a ScatterDimensionNumbers, "
                            f"got {type(dn).__name__}")
        if updates.dtype != operand.dtype:
            raise TypeError(f"{name}: updates dtype {updates.dtype.name} must match the "
                            f"operand dtype {operand.dtype.name}")
        rank = operand.ndim
        sdod = dn.scatter_dims_to_operand_dims
        _check_indices(name, indices, len(sdod), f"scatter_dims_to_operand_dims {sdod}")
        _check_dim_list(name, "update_window_dims", dn.update_window_dims, updates.ndim,
                        f"updates shape {updates.shape}", need_sorted=True)
        _check_dim_list(name, "inserted_window_dims", dn.inserted_window_dims, rank,
                        f"operand shape {operand.shape}", need_sorted=True)
        _check_dim_list(name, "scatter_dims_to_operand_dims", sdod, rank,
                        f"operand shape {operand.shape}")
        _check_batching(name, operand, indices, dn.operand_batching_dims,
                        dn.scatter_indices_batching_dims,
                        ("operand_batching_dims", "scatter_indices_batching_dims"))
        inserted = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
        if len(inserted) != len(dn.inserted_window_dims) + len(dn.operand_batching_dims):
            raise TypeError(f"{name}: inserted_window_dims {dn.inserted_window_dims} and "
                            f"operand_batching_dims {dn.operand_batching_dims} must be "
                            "disjoint")
        if set(sdod) & set(dn.operand_batching_dims):
            raise TypeError(f"{name}: scatter_dims_to_operand_dims {sdod} and "
                            f"operand_batching_dims {dn.operand_batching_dims} must be "
                            "disjoint")
        if len(dn.update_window_dims) + len(inserted) != rank:
            raise TypeError(f"{name}: update_window_dims {dn.update_window_dims} must have one "
                            f"entry per operand dimension that is neither inserted nor a "
                            f"batching dimension (operand shape {operand.shape})")
        scatter_dims = [d for d in range(updates.ndim) if d not in dn.update_window_dims]
        if [updates.shape[d] for d in scatter_dims] != list(indices.shape[:-1]):
            raise TypeError(f"{name}: the scatter dimensions of updates shape {updates.shape} "
                            f"must match the batch dimensions of indices shape "
                            f"{indices.shape}")
        window_dims = [d for d in range(rank) if d not in inserted]
        for d, u in zip(window_dims, dn.update_window_dims, strict=True):
            if updates.shape[u] > operand.shape[d]:
                raise TypeError(f"{name}: update window dimension {u} (size "
                                f"{updates.shape[u]}) is larger than operand dimension {d} "
                                f"(size {operand.shape[d]})")
        return ShapedArray(operand.shape, operand.dtype, operand.weak_type)
    return abstract_eval


def _apply_update_jaxpr(jaxpr, consts, old, new):
    """Run a scalar combiner jaxpr on 1-D arrays (elementwise), falling back to a loop."""
    def run(a, b):
        with core.set_current_trace(core.eval_trace):
            out = core.eval_jaxpr(jaxpr, consts, core.wrap_eager(a), core.wrap_eager(b))[0]
        return np.asarray(out)
    try:
        out = run(old, new)
        if out.shape == old.shape:
            return out.astype(old.dtype)
    except (TypeError, ValueError):
        pass
    return np.array([run(a, b) for a, b in zip(old, new, strict=True)], dtype=old.dtype)


def _scatter_impl_for(kind):
    def impl(operand, indices, updates, *, dimension_numbers, indices_are_sorted=False,
             unique_indices=False, mode=None, update_jaxpr=None, update_consts=()):
        dn = dimension_numbers
        mode = GatherScatterMode.from_any(mode)
        inserted = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
        window_dims = [d for d in range(operand.ndim) if d not in inserted]
        sizes = [1] * operand.ndim
        for d, u in zip(window_dims, dn.update_window_dims, strict=True):
            sizes[d] = updates.shape[u]
        window = set(window_dims)
        batch_shape = indices.shape[:-1]
        n = math.prod(batch_shape)
        starts, ok = _window_starts(operand.shape, indices, dn.scatter_dims_to_operand_dims,
                                    dn.operand_batching_dims, dn.scatter_indices_batching_dims,
                                    sizes, drop=mode is not _CLIP)
        scatter_dims = [d for d in range(updates.ndim) if d not in dn.update_window_dims]
        upd = np.transpose(updates, scatter_dims + list(dn.update_window_dims))
        upd = upd.reshape((n,) + tuple(sizes[d] for d in window_dims))
        if ok is not None and not ok.all():
            upd = upd[ok]
            starts = {d: s[ok] for d, s in starts.items()}
            n = upd.shape[0]
        out = np.array(operand, copy=True)
        if kind == "apply":
            positions = np.arange(out.size).reshape(out.shape)
            pview, grids, order = _window_view(positions, starts, sizes, window, n)
            upd = np.transpose(upd, [0] + [1 + window_dims.index(d) for d in order])
            targets = np.broadcast_to(pview[grids], upd.shape).reshape(-1)
            _apply_in_rounds(out.reshape(-1), targets, upd.reshape(-1), update_jaxpr,
                             update_consts)
            return out
        view, grids, order = _window_view(out, starts, sizes, window, n)
        upd = np.transpose(upd, [0] + [1 + window_dims.index(d) for d in order])
        if kind == "set":
            view[grids] = upd
        else:
            _UFUNCS[kind].at(view, grids, upd)
        return out
    return impl


def _apply_in_rounds(flat_out, targets, values, jaxpr, consts):
    """``flat_out[t] = f(flat_out[t], v)`` for each (t, v), duplicates one after another."""
    if targets.size == 0:
        return
    order = np.argsort(targets, kind="stable")
    sorted_targets = targets[order]
    first = np.ones(targets.size, bool)
    first[1:] = sorted_targets[1:] != sorted_targets[:-1]
    group_start = np.maximum.accumulate(np.where(first, np.arange(targets.size), 0))
    rank = np.empty(targets.size, np.int64)
    rank[order] = np.arange(targets.size) - group_start
    for r in range(int(rank.max()) + 1):
        sel = rank == r
        t = targets[sel]
        flat_out[t] = _apply_update_jaxpr(jaxpr, consts, flat_out[t], values[sel])


_UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "min": np.minimum,
           "max": np.maximum}


def _scatter_primitive(name, kind, kinds):
    p = new_primitive(name)
    p.weak_type_rule = R.operand_is_weak
    check = _scatter_abstract_eval_for(name)

    def abstract_eval(operand, indices, updates, **params):
        check_dtype(name, operand, kinds)
        return check(operand, indices, updates, **params)

    p.def_abstract_eval(abstract_eval)
    set_impl = _scatter_impl_for(kind)
    apply_impl = _scatter_impl_for("apply")

    def impl(operand, indices, updates, **params):
        if kind == "set" and params.get("update_jaxpr") is not None:
            return apply_impl(operand, indices, updates, **params)
        return set_impl(operand, indices, updates, **params)

    p.def_impl(impl)
    p.def_batch(_scatter_batch_for(p))
    return p


# ---------------------------------------------------------------------------
# scatter batching (one rule for the family)


def _scatter_batch_for(p):
    def batch(args, dims, *, dimension_numbers, **params):
        operand, indices, updates = args
        od, idim, ud = dims
        dn = dimension_numbers
        size = R.batch_size(args, dims)
        operand = _to_front(operand, od, size)
        if idim is None:  # the batch dim is a window dim of every update
            updates = _to_front(updates, ud, size)
            new = ScatterDimensionNumbers(
                update_window_dims=(0,) + _np_shift(dn.update_window_dims),
                inserted_window_dims=_np_shift(dn.inserted_window_dims),
                scatter_dims_to_operand_dims=_np_shift(dn.scatter_dims_to_operand_dims),
                operand_batching_dims=_np_shift(dn.operand_batching_dims),
                scatter_indices_batching_dims=dn.scatter_indices_batching_dims)
        else:  # a batching dim of the operand paired with one of the indices
            indices = R.moveaxis(indices, idim, 0)
            updates = _to_front(updates, ud, size)
            new = ScatterDimensionNumbers(
                update_window_dims=_np_shift(dn.update_window_dims),
                inserted_window_dims=_np_shift(dn.inserted_window_dims),
                scatter_dims_to_operand_dims=_np_shift(dn.scatter_dims_to_operand_dims),
                operand_batching_dims=(0,) + _np_shift(dn.operand_batching_dims),
                scatter_indices_batching_dims=(0,) + _np_shift(
                    dn.scatter_indices_batching_dims))
        return p.bind(operand, indices, updates, dimension_numbers=new, **params), 0
    return batch


scatter_p = _scatter_primitive("scatter", "set", ANY)
scatter_add_p = _scatter_primitive("scatter-add", "add", NUMERIC + "b")
scatter_sub_p = _scatter_primitive("scatter-sub", "sub", NUMERIC)
scatter_mul_p = _scatter_primitive("scatter-mul", "mul", NUMERIC + "b")
scatter_min_p = _scatter_primitive("scatter-min", "min", ANY)
scatter_max_p = _scatter_primitive("scatter-max", "max", ANY)


# the scatters' derivative rules live in scatter_rules, which registers them on the
# primitives above
from primitives import scatter_rules  # noqa: E402,F401
