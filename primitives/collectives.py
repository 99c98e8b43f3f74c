"""Collectives over named axes: psum, pmax, pmin, reduce_scatter (``psum_scatter``),
all_gather, all_to_all, ppermute, axis_index.

Invariants: a named axis is bound either by a ``vmap(..., axis_name=)`` (a
``BatchTrace`` on the trace stack: the batching rules implement the collective
over the batch dimension) or by a ``pmap`` replica (the eager impls find the
replica's frames in ``replica_context`` and exchange values through the frame's
communicator). Abstract evaluation never looks names up: shapes that depend on
the axis size carry it as a param (``axis_size``). Every collective is linear
except pmax, pmin and axis_index; transposes follow JAX's pmap semantics
(psum -> psum, all_gather <-> reduce_scatter, ppermute -> inverse permutation,
all_to_all -> all_to_all with the axes swapped).
"""
from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Sequence

import numpy as np

from fx import core, dtypes
from fx.core import ShapedArray, Zero
from primitives import _rules as R
from primitives._rules import NUMERIC, check_dtype, new_primitive

__all__ = ["psum_p", "pmax_p", "pmin_p", "reduce_scatter_p", "all_gather_p", "all_to_all_p",
           "ppermute_p", "axis_index_p"]

# ---------------------------------------------------------------------------
# Axis environment: names bound while tracing (pmap) and replica frames while running.

_axis_env: contextvars.ContextVar[tuple] = contextvars.ContextVar("fx_axis_env", default=())
replica_context: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "fx_replica_context", default=None)


@contextlib.contextmanager
def extend_axis_env(name, size: int):
    """Bind axis ``name`` of ``size`` while tracing (as pmap does for its body)."""
    token = _axis_env.set(_axis_env.get() + ((name, int(size)),))
    try:
        yield
    finally:
        _axis_env.reset(token)


def axis_env_key() -> tuple:
    """The named axes bound by enclosing pmaps (hashable: caches of traced code key on it)."""
    ctx = replica_context.get()
    frames = tuple((f.name, f.size) for f in ctx.frames) if ctx is not None else ()
    return frames + _axis_env.get()


def _batch_trace_sizes():
    from fx.interpreters.batching import BatchTrace
    trace = core.current_trace()
    while trace is not None:
        if isinstance(trace, BatchTrace) and trace.axis_name is not None:
            yield trace.axis_name, trace.axis_size
        trace = trace.parent


def axis_size(name) -> int:
    """The size of the named axis ``name`` (a name or a tuple of names: the product).

    Raises:
      NameError: ``unbound axis name: name`` when no vmap or pmap binds it.
    """
    if isinstance(name, (tuple, list)):
        size = 1
        for n in name:
            size *= axis_size(n)
        return size
    for bound, size in _batch_trace_sizes():
        if bound == name:
            return size
    for bound, size in reversed(_axis_env.get()):
        if bound == name:
            return size
    ctx = replica_context.get()
    if ctx is not None:
        for frame in reversed(ctx.frames):
            if frame.name == name:
                return frame.size
    raise NameError(f"unbound axis name: {name}")


def axis_names_tuple(axis_name) -> tuple:
    """``axis_name`` as a tuple of names (a single name becomes a 1-tuple)."""
    names = tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)
    for n in names:
        if isinstance(n, (int, np.integer)) and not isinstance(n, bool):
            raise TypeError(f"positional axes ({n}) are not supported in collectives; pass "
                            "axis names bound by pmap or vmap(axis_name=...)")
        try:
            hash(n)
        except TypeError:
            raise TypeError(f"axis names must be hashable, got {n!r}") from None
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate axis names in {axis_name!r}")
    return names


def uses_axis_name(closed_jaxprs: Sequence[Any], name) -> bool:
    """Whether any of the jaxprs (or their sub-jaxprs) has a collective over ``name``."""
    if name is None:
        return False
    stack = [j.jaxpr if isinstance(j, core.ClosedJaxpr) else j for j in closed_jaxprs]
    while stack:
        jaxpr = stack.pop()
        for eqn in jaxpr.eqns:
            names = _COLLECTIVE_NAMES.get(eqn.primitive.name)
            if names is not None and name in axis_names_tuple(eqn.params[names]):
                return True
            if eqn.primitive.name == "xla_pmap" and eqn.params.get("axis_name") == name:
                continue  # the inner pmap rebinds the name
            stack.extend(s.jaxpr if isinstance(s, core.ClosedJaxpr) else s
                         for s in eqn.primitive.subjaxprs(eqn.params))
    return False


def axis_of(axis_data, args, dims) -> tuple[Any, int]:
    """(name, size) of the axis a batching rule maps over (name None when unnamed)."""
    if axis_data is not None:
        return axis_data.axis_name, axis_data.axis_size
    return None, R.batch_size(args, dims)


def skip_unbatched(primitive, args, dims, axis_data, params) -> bool:
    """True when a higher-order primitive with no batched operand needs no batching:
    its bodies use no collective over the batch trace's axis name."""
    if any(d is not None for d in dims):
        return False
    name = getattr(axis_data, "axis_name", None)
    return not uses_axis_name(primitive.subjaxprs(params), name)


# ---------------------------------------------------------------------------
# Running a collective inside a pmap replica


def _run(kind: str, x, names: tuple, params: dict):
    ctx = replica_context.get()
    depths = []
    for name in names:
        depth = None
        if ctx is not None:
            for k in range(len(ctx.frames) - 1, -1, -1):
                if ctx.frames[k].name == name:
                    depth = k
                    break
        if depth is None:
            raise NameError(f"unbound axis name: {name}")
        depths.append(depth)
    outer = min(depths)
    return ctx.frames[outer].group.collective(ctx, outer, kind, np.asarray(x), names, params)


def replica_index(names: tuple):
    """This replica's row-major index over the named axes ``names`` (traced: binds
    ``axis_index``)."""
    index = None
    for name in names:
        i = axis_index_p.bind(axis_name=name)
        index = i if index is None else R.add(R.mul(index, R.as_scalar(
            axis_size(name), dtypes.int32)), i)
    return index


def _replica_index_value(names: tuple) -> int:
    """This replica's row-major index over ``names``, from its replica context (impls)."""
    index = 0
    for name in names:
        index = index * axis_size(name) + int(_axis_index_impl(axis_name=name))
    return index


def _lane_aval(x, d) -> ShapedArray:
    """The per-lane type of ``x`` batched at ``d``."""
    aval = R.aval_of(x)
    if d is None:
        return aval
    return ShapedArray(aval.shape[:d] + aval.shape[d + 1:], aval.dtype, aval.weak_type)


def _vmapped(axis_data, names) -> bool:
    name = getattr(axis_data, "axis_name", None)
    return name is not None and name in names


def _check_group_size(prim_name, axis_index_groups, axis_size):
    if axis_index_groups is not None and len(axis_index_groups[0]) != axis_size:
        raise ValueError(f"{prim_name}: axis_size {axis_size} must be the size of each group "
                         f"of axis_index_groups {axis_index_groups}")


def _no_vmapped_groups(prim_name, axis_index_groups):
    if axis_index_groups is not None:
        raise NotImplementedError(f"{prim_name} with axis_index_groups over a vmapped axis is "
                                  f"not supported (nor by JAX); use pmap or shard_map")


def _only_vmapped(prim_name, axis_data, names):
    if len(names) != 1:
        raise NotImplementedError(
            f"{prim_name} over several axes {names} where {axis_data.axis_name!r} is a vmapped "
            "axis is not supported; apply it to one axis at a time")


# ---------------------------------------------------------------------------
# psum, pmax, pmin


def _allreduce(name, kinds, local_reduce):
    p = new_primitive(name)

    @p.def_abstract_eval
    def abstract_eval(x, *, axes, axis_index_groups):
        check_dtype(name, x, kinds)
        check_groups(name, axis_index_groups)
        return ShapedArray(x.shape, x.dtype, x.weak_type)

    @p.def_impl
    def impl(x, *, axes, axis_index_groups):
        x = np.asarray(x)
        return _run(name, x, axes, {"groups": axis_index_groups}).astype(x.dtype, copy=False)

    @p.def_batch
    def batch(args, dims, *, axis_data=None, axes, axis_index_groups):
        (x,), (d,) = args, dims
        if not _vmapped(axis_data, axes):
            return p.bind(x, axes=axes, axis_index_groups=axis_index_groups), d
        if axis_index_groups is not None:
            _only_vmapped(name, axis_data, axes)
            return _grouped_reduce(local_reduce, x, d, axis_data.axis_size,
                                   axis_index_groups), 0
        out = local_reduce(x, d, axis_data.axis_size)
        rest = tuple(a for a in axes if a != axis_data.axis_name)
        if rest:
            out = p.bind(out, axes=rest, axis_index_groups=axis_index_groups)
        return out, None

    p.axis_dependent = True
    return p


def check_groups(name, axis_index_groups, axis_size=None, equal=False):
    """Check ``axis_index_groups`` (None, or a tuple of tuples of ints): when ``axis_size`` is
    known the groups must cover ``range(axis_size)`` exactly once; ``equal`` groups (for the
    collectives whose result shape depends on the group size) must have one size."""
    if axis_index_groups is None:
        return
    if (not isinstance(axis_index_groups, tuple) or not axis_index_groups or not all(
            isinstance(g, tuple) and g and all(isinstance(i, int) for i in g)
            for g in axis_index_groups)):
        raise TypeError(f"{name}: axis_index_groups must be a non-empty tuple of non-empty "
                        f"tuples of ints, got {axis_index_groups!r}")
    flat = sorted(i for g in axis_index_groups for i in g)
    n = len(flat) if axis_size is None else axis_size
    if flat != list(range(n)):
        raise ValueError(f"{name}: axis_index_groups {axis_index_groups} must cover every index "
                         f"of the axis (size {n}) exactly once")
    if equal and len({len(g) for g in axis_index_groups}) > 1:
        raise ValueError(f"{name}: the groups of axis_index_groups {axis_index_groups} must "
                         f"all have the same size")


def group_size(axis_index_groups, axis_size: int) -> int:
    """How many replicas take part in each group (the whole axis without groups)."""
    return axis_size if axis_index_groups is None else len(axis_index_groups[0])


def _lanes(xb, sources):
    """Rows of ``xb`` (batch dim first) picked by ``sources``: row ``sources[i]`` becomes row
    ``i``; a None source gives a row of zeros."""
    shape = R.shape_of(xb)
    slicer, rows = R.registry["slice"], []
    for src in sources:
        if src is None:
            rows.append(R.zeros(ShapedArray((1,) + shape[1:], R.dtype_of(xb))))
        else:
            rows.append(slicer.bind(xb, start_indices=(src,) + (0,) * (len(shape) - 1),
                                    limit_indices=(src + 1,) + shape[1:], strides=None))
    return rows[0] if len(rows) == 1 else R.registry["concatenate"].bind(*rows, dimension=0)


def _group_of(axis_index_groups) -> dict:
    return {i: k for k, g in enumerate(axis_index_groups) for i in g}


def _grouped_reduce(local_reduce, x, d, n, axis_index_groups):
    """A vmapped lane-reduction within each group; every lane gets its group's result."""
    xb = R.bdim_to_front(x, d, n)
    totals = [local_reduce(_lanes(xb, g), 0, len(g)) for g in axis_index_groups]
    shape = R.shape_of(totals[0])
    stacked = R.registry["concatenate"].bind(
        *[R.reshape(t, (1,) + shape) for t in totals], dimension=0) if len(totals) > 1 \
        else R.reshape(totals[0], (1,) + shape)
    group_of = _group_of(axis_index_groups)
    return _lanes(stacked, [group_of[i] for i in range(n)])


def _sum_lanes(x, d, size):
    return R.mul(x, size) if d is None else R.reduce_sum(x, (d,))


def _max_lanes(x, d, size):
    return x if d is None else R.registry["reduce_max"].bind(x, axes=(d,), out_sharding=None)


def _min_lanes(x, d, size):
    return x if d is None else R.registry["reduce_min"].bind(x, axes=(d,), out_sharding=None)


psum_p = _allreduce("psum", NUMERIC, _sum_lanes)
pmax_p = _allreduce("pmax", NUMERIC, _max_lanes)
pmin_p = _allreduce("pmin", NUMERIC, _min_lanes)


@psum_p.def_jvp
def _psum_jvp(primals, tangents, *, axes, axis_index_groups):
    (x,), (t,) = primals, tangents
    y = psum_p.bind(x, axes=axes, axis_index_groups=axis_index_groups)
    if type(t) is Zero:
        return y, t
    return y, psum_p.bind(t, axes=axes, axis_index_groups=axis_index_groups)


@psum_p.def_transpose
def _psum_transpose(ct, x, *, axes, axis_index_groups):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    return [psum_p.bind(ct, axes=axes, axis_index_groups=axis_index_groups)]


def _chooser_jvp(p):
    def jvp(primals, tangents, *, axes, axis_index_groups):
        """The tangent where the extremum is attained, averaged over ties."""
        (x,), (t,) = primals, tangents
        y = p.bind(x, axes=axes, axis_index_groups=axis_index_groups)
        if type(t) is Zero:
            return y, t
        at = R.convert(R.registry["eq"].bind(x, y), R.dtype_of(t))
        count = psum_p.bind(at, axes=axes, axis_index_groups=axis_index_groups)
        total = psum_p.bind(R.mul(t, at), axes=axes, axis_index_groups=axis_index_groups)
        return y, R.div(total, count)
    return jvp


pmax_p.def_jvp(_chooser_jvp(pmax_p))
pmin_p.def_jvp(_chooser_jvp(pmin_p))

# ---------------------------------------------------------------------------
# all_gather and reduce_scatter (psum_scatter): each other's transpose

all_gather_p = new_primitive("all_gather")


@all_gather_p.def_abstract_eval
def _all_gather_abstract_eval(x, *, all_gather_dimension, axis_name, axis_index_groups,
                              axis_size, tiled):
    check_groups("all_gather", axis_index_groups, equal=True)
    _check_group_size("all_gather", axis_index_groups, axis_size)
    g = all_gather_dimension
    if not 0 <= g <= x.ndim - (1 if tiled else 0):
        raise ValueError(f"all_gather: all_gather_dimension {g} is out of bounds for an "
                         f"operand of shape {x.shape}")
    if tiled:
        shape = x.shape[:g] + (x.shape[g] * axis_size,) + x.shape[g + 1:]
    else:
        shape = x.shape[:g] + (axis_size,) + x.shape[g:]
    return ShapedArray(shape, x.dtype, x.weak_type)


@all_gather_p.def_impl
def _all_gather_impl(x, *, all_gather_dimension, axis_name, axis_index_groups, axis_size,
                     tiled):
    return _run("all_gather", x, axis_name, {"dim": all_gather_dimension, "tiled": tiled,
                                             "groups": axis_index_groups})


@all_gather_p.def_jvp
def _all_gather_jvp(primals, tangents, **params):
    (x,), (t,) = primals, tangents
    y = all_gather_p.bind(x, **params)
    return y, (Zero(R.aval_of(y).to_tangent_aval()) if type(t) is Zero
               else all_gather_p.bind(t, **params))


@all_gather_p.def_transpose
def _all_gather_transpose(ct, x, *, all_gather_dimension, axis_name, axis_index_groups,
                          axis_size, tiled):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    return [reduce_scatter_p.bind(ct, scatter_dimension=all_gather_dimension,
                                  axis_name=axis_name, axis_index_groups=axis_index_groups,
                                  axis_size=axis_size, tiled=tiled)]


@all_gather_p.def_batch
def _all_gather_batch(args, dims, *, axis_data=None, all_gather_dimension, axis_name,
                      axis_index_groups, axis_size, tiled):
    (x,), (d,) = args, dims
    g = all_gather_dimension
    if not _vmapped(axis_data, axis_name):
        if d is None:
            return all_gather_p.bind(x, all_gather_dimension=g, axis_name=axis_name,
                                     axis_index_groups=axis_index_groups,
                                     axis_size=axis_size, tiled=tiled), None
        x = R.moveaxis(x, d, 0)
        return all_gather_p.bind(x, all_gather_dimension=g + 1, axis_name=axis_name,
                                 axis_index_groups=axis_index_groups, axis_size=axis_size,
                                 tiled=tiled), 0
    _only_vmapped("all_gather", axis_data, axis_name)
    n = axis_data.axis_size
    xb = R.bdim_to_front(x, d, n)
    if axis_index_groups is None:
        stacked, out_dim = R.moveaxis(xb, 0, g), None  # every lane sees all lanes
    else:  # lane i sees the lanes of its group: (lane, member, *x) with member moved to g
        check_groups("all_gather", axis_index_groups, n, equal=True)
        group = {i: grp for grp in axis_index_groups for i in grp}
        size = len(axis_index_groups[0])
        rows = _lanes(xb, [j for i in range(n) for j in group[i]])
        shape = R.shape_of(rows)
        stacked = R.moveaxis(R.reshape(rows, (n, size) + shape[1:]), 1, g + 1)
        out_dim, g = 0, g + 1  # the lane dim stays first
    if tiled:
        shape = R.shape_of(stacked)
        stacked = R.reshape(stacked, shape[:g] + (shape[g] * shape[g + 1],) + shape[g + 2:])
    return stacked, out_dim


all_gather_p.axis_dependent = True

reduce_scatter_p = new_primitive("reduce_scatter")


@reduce_scatter_p.def_abstract_eval
def _reduce_scatter_abstract_eval(x, *, scatter_dimension, axis_name, axis_index_groups,
                                  axis_size, tiled):
    check_dtype("psum_scatter", x, NUMERIC)
    check_groups("psum_scatter", axis_index_groups, equal=True)
    _check_group_size("psum_scatter", axis_index_groups, axis_size)
    s = scatter_dimension
    if not 0 <= s < x.ndim:
        raise ValueError(f"psum_scatter: scatter_dimension {s} is out of bounds for an "
                         f"operand of shape {x.shape}")
    if tiled:
        if x.shape[s] % axis_size:
            raise ValueError(f"psum_scatter: dimension {s} of size {x.shape[s]} is not "
                             f"divisible by the axis size {axis_size}")
        shape = x.shape[:s] + (x.shape[s] // axis_size,) + x.shape[s + 1:]
    else:
        if x.shape[s] != axis_size:
            raise ValueError(f"psum_scatter: dimension {s} of the operand (shape {x.shape}) "
                             f"must equal the axis size {axis_size} (or use tiled=True)")
        shape = x.shape[:s] + x.shape[s + 1:]
    return ShapedArray(shape, x.dtype, x.weak_type)


@reduce_scatter_p.def_impl
def _reduce_scatter_impl(x, *, scatter_dimension, axis_name, axis_index_groups, axis_size,
                         tiled):
    x = np.asarray(x)
    out = _run("reduce_scatter", x, axis_name, {"dim": scatter_dimension, "tiled": tiled,
                                                "groups": axis_index_groups})
    return out.astype(x.dtype, copy=False)


@reduce_scatter_p.def_jvp
def _reduce_scatter_jvp(primals, tangents, **params):
    (x,), (t,) = primals, tangents
    y = reduce_scatter_p.bind(x, **params)
    return y, (Zero(R.aval_of(y).to_tangent_aval()) if type(t) is Zero
               else reduce_scatter_p.bind(t, **params))


@reduce_scatter_p.def_transpose
def _reduce_scatter_transpose(ct, x, *, scatter_dimension, axis_name, axis_index_groups,
                              axis_size, tiled):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    return [all_gather_p.bind(ct, all_gather_dimension=scatter_dimension, axis_name=axis_name,
                              axis_index_groups=axis_index_groups, axis_size=axis_size,
                              tiled=tiled)]


@reduce_scatter_p.def_batch
def _reduce_scatter_batch(args, dims, *, axis_data=None, scatter_dimension, axis_name,
                          axis_index_groups, axis_size, tiled):
    (x,), (d,) = args, dims
    s = scatter_dimension
    params = dict(axis_name=axis_name, axis_index_groups=axis_index_groups,
                  axis_size=axis_size, tiled=tiled)
    if not _vmapped(axis_data, axis_name):
        if d is None:
            return reduce_scatter_p.bind(x, scatter_dimension=s, **params), None
        return reduce_scatter_p.bind(R.moveaxis(x, d, 0), scatter_dimension=s + 1,
                                     **params), 0
    _only_vmapped("psum_scatter", axis_data, axis_name)
    _no_vmapped_groups("psum_scatter", axis_index_groups)
    n = axis_data.axis_size
    reduce_scatter_p.abstract_eval(_lane_aval(x, d), scatter_dimension=s, **dict(
        params, axis_size=n))
    total = _sum_lanes(x, d, n)  # per-lane shape; lane r takes block r of dimension s
    if tiled:
        shape = R.shape_of(total)
        total = R.reshape(total, shape[:s] + (n, shape[s] // n) + shape[s + 1:])
    return total, s


reduce_scatter_p.axis_dependent = True

# ---------------------------------------------------------------------------
# all_to_all

all_to_all_p = new_primitive("all_to_all", hidden_params=("axis_size",))


@all_to_all_p.def_abstract_eval
def _all_to_all_abstract_eval(x, *, axis_name, split_axis, concat_axis, axis_index_groups,
                              tiled, axis_size):
    check_groups("all_to_all", axis_index_groups, equal=True)
    _check_group_size("all_to_all", axis_index_groups, axis_size)
    for what, a in (("split_axis", split_axis), ("concat_axis", concat_axis)):
        if not 0 <= a < x.ndim:
            raise ValueError(f"all_to_all: {what} {a} is out of bounds for an operand of "
                             f"shape {x.shape}")
    if x.shape[split_axis] % axis_size:
        raise ValueError(f"all_to_all: the split axis {split_axis} (size "
                         f"{x.shape[split_axis]}) must be divisible by the axis size "
                         f"{axis_size}")
    shape = list(x.shape)
    shape[split_axis] //= axis_size
    shape[concat_axis] *= axis_size
    return ShapedArray(tuple(shape), x.dtype, x.weak_type)


@all_to_all_p.def_impl
def _all_to_all_impl(x, *, axis_name, split_axis, concat_axis, axis_index_groups, tiled,
                     axis_size):
    return _run("all_to_all", x, axis_names_tuple(axis_name),
                {"split": split_axis, "concat": concat_axis, "groups": axis_index_groups})


@all_to_all_p.def_jvp
def _all_to_all_jvp(primals, tangents, **params):
    (x,), (t,) = primals, tangents
    y = all_to_all_p.bind(x, **params)
    return y, (Zero(R.aval_of(y).to_tangent_aval()) if type(t) is Zero
               else all_to_all_p.bind(t, **params))


@all_to_all_p.def_transpose
def _all_to_all_transpose(ct, x, *, axis_name, split_axis, concat_axis, axis_index_groups,
                          tiled, axis_size):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    return [all_to_all_p.bind(ct, axis_name=axis_name, split_axis=concat_axis,
                              concat_axis=split_axis, axis_index_groups=axis_index_groups,
                              tiled=tiled, axis_size=axis_size)]


@all_to_all_p.def_batch
def _all_to_all_batch(args, dims, *, axis_data=None, axis_name, split_axis, concat_axis,
                      axis_index_groups, tiled, axis_size):
    (x,), (d,) = args, dims
    names = axis_names_tuple(axis_name)
    if not _vmapped(axis_data, names):
        shift = 0 if d is None else 1
        if d is not None:
            x = R.moveaxis(x, d, 0)
        return all_to_all_p.bind(x, axis_name=axis_name, split_axis=split_axis + shift,
                                 concat_axis=concat_axis + shift,
                                 axis_index_groups=axis_index_groups, tiled=tiled,
                                 axis_size=axis_size), (None if d is None else 0)
    _only_vmapped("all_to_all", axis_data, names)
    _no_vmapped_groups("all_to_all", axis_index_groups)
    n = axis_data.axis_size
    all_to_all_p.abstract_eval(_lane_aval(x, d), axis_name=axis_name, split_axis=split_axis,
                               concat_axis=concat_axis, axis_index_groups=axis_index_groups,
                               tiled=tiled, axis_size=n)
    xb = R.bdim_to_front(x, d, n)  # (source lane j, *per-lane shape)
    lane_shape = R.shape_of(xb)[1:]
    s, c = split_axis, concat_axis
    chunk = lane_shape[s] // n
    # axes: 0 = source j, then the lane dims with dim s split into (destination i, chunk)
    split = R.reshape(xb, (n,) + lane_shape[:s] + (n, chunk) + lane_shape[s + 1:])
    chunk_axes = list(range(1, s + 1)) + [s + 2] + list(range(s + 3, len(lane_shape) + 2))
    perm = [s + 1] + chunk_axes[:c] + [0] + chunk_axes[c:]
    moved = R.transpose(split, perm)  # (i, chunk dims before c, j, chunk dims from c)
    shape = R.shape_of(moved)
    out = R.reshape(moved, shape[:c + 1] + (n * shape[c + 2],) + shape[c + 3:])
    return out, 0


all_to_all_p.axis_dependent = True

# ---------------------------------------------------------------------------
# ppermute

ppermute_p = new_primitive("ppermute")


def _check_perm(perm, size=None):
    srcs = [s for s, _ in perm]
    dsts = [d for _, d in perm]
    if len(set(srcs)) != len(srcs) or len(set(dsts)) != len(dsts):
        raise ValueError(f"ppermute: perm {perm} must have distinct sources and distinct "
                         "destinations")
    if size is not None:
        for s, d in perm:
            if not (0 <= s < size and 0 <= d < size):
                raise ValueError(f"ppermute: perm {perm} has an index outside the axis "
                                 f"of size {size}")


def permute_like(primitive, kind):
    """Give ``primitive`` ppermute's rules (abstract eval, impl through ``kind``, linear
    jvp, transpose by the inverse permutation, batching over a vmapped axis)."""
    @primitive.def_abstract_eval
    def abstract_eval(x, *, axis_name, perm):
        _check_perm(perm)
        return ShapedArray(x.shape, x.dtype, x.weak_type)

    @primitive.def_impl
    def impl(x, *, axis_name, perm):
        return _run(kind, np.asarray(x), axis_name, {"perm": perm})

    @primitive.def_jvp
    def jvp(primals, tangents, *, axis_name, perm):
        (x,), (t,) = primals, tangents
        y = primitive.bind(x, axis_name=axis_name, perm=perm)
        return y, (t if type(t) is Zero else primitive.bind(t, axis_name=axis_name, perm=perm))

    @primitive.def_transpose
    def transpose(ct, x, *, axis_name, perm):
        if type(ct) is Zero:
            return [Zero(x.aval)]
        inverse = tuple((d, s) for s, d in perm)
        return [primitive.bind(ct, axis_name=axis_name, perm=inverse)]

    @primitive.def_batch
    def batch(args, dims, *, axis_data=None, axis_name, perm):
        (x,), (d,) = args, dims
        if not _vmapped(axis_data, axis_name):
            return primitive.bind(x, axis_name=axis_name, perm=perm), d
        _only_vmapped(primitive.name, axis_data, axis_name)
        n = axis_data.axis_size
        _check_perm(perm, n)
        source_of = {dst: src for src, dst in perm}
        return _lanes(R.bdim_to_front(x, d, n), [source_of.get(i) for i in range(n)]), 0

    primitive.axis_dependent = True
    return primitive


permute_like(ppermute_p, "ppermute")

# ---------------------------------------------------------------------------
# axis_index

axis_index_p = new_primitive("axis_index")


@axis_index_p.def_abstract_eval
def _axis_index_abstract_eval(*, axis_name):
    return ShapedArray((), dtypes.int32)


@axis_index_p.def_impl
def _axis_index_impl(*, axis_name):
    ctx = replica_context.get()
    if ctx is not None:
        for k in range(len(ctx.frames) - 1, -1, -1):
            if ctx.frames[k].name == axis_name:
                return np.asarray(ctx.indices[k], dtypes.int32)
    raise NameError(f"unbound axis name: {axis_name}")


@axis_index_p.def_jvp
def _axis_index_jvp(primals, tangents, *, axis_name):
    out = axis_index_p.bind(axis_name=axis_name)
    return out, Zero(ShapedArray((), dtypes.float0))


@axis_index_p.def_batch
def _axis_index_batch(args, dims, *, axis_data=None, axis_name):
    if getattr(axis_data, "axis_name", None) != axis_name:
        return axis_index_p.bind(axis_name=axis_name), None
    return R.registry["iota"].bind(dtype=np.dtype(dtypes.int32), shape=(axis_data.axis_size,),
                                   dimension=0, sharding=None), 0


axis_index_p.axis_dependent = True

# which param names the axes of each collective (for uses_axis_name)
_COLLECTIVE_NAMES = {"psum": "axes", "pmax": "axes", "pmin": "axes", "all_gather": "axis_name",
                     "reduce_scatter": "axis_name", "all_to_all": "axis_name",
                     "ppermute": "axis_name", "axis_index": "axis_name"}

from primitives import collectives_extra  # noqa: E402,F401  (registers pbroadcast, psend, ...)
