"""Helpers shared by the higher-order primitives of ``custom_derivatives``,
``remat`` and ``callbacks``: running a jaxpr eagerly on NumPy buffers, taking
one lane of a batched value, stacking lanes, and running a Python rule under a
fresh batch trace.

Invariants: every helper binds primitives (so it works under any trace) except
``eval_jaxpr_numpy``, which is only called from eager impls and returns NumPy
arrays of exactly the jaxpr's output types.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from fx import core
from fx.core import ShapedArray, Zero
from primitives import _rules as R


def eval_jaxpr_numpy(jaxpr: core.Jaxpr, consts: Sequence[Any], args: Sequence[Any]) -> list:
    """Evaluate ``jaxpr`` eagerly (each equation's impl) and return NumPy arrays."""
    with core.set_current_trace(core.eval_trace):
        outs = core.eval_jaxpr(jaxpr, consts, *args)
    return [to_numpy(o, v.aval) for o, v in zip(outs, jaxpr.outvars)]


def to_numpy(x, aval: ShapedArray | None = None) -> np.ndarray:
    value = getattr(x, "_value", x)
    if aval is not None:
        return np.asarray(value, dtype=aval.dtype)
    return np.asarray(value)


# ---------------------------------------------------------------------------
# lanes of a batched value (the unrolled batching rules of callbacks)


def index_lane(x, dim: int | None, i: int):
    """Lane ``i`` of ``x`` along its batch dimension ``dim`` (``x`` itself if unbatched)."""
    if dim is None:
        return x
    shape = R.shape_of(x)
    start = [0] * len(shape)
    limit = list(shape)
    start[dim], limit[dim] = i, i + 1
    piece = R.registry["slice"].bind(x, start_indices=tuple(start), limit_indices=tuple(limit),
                                     strides=None)
    return R.registry["squeeze"].bind(piece, dimensions=(dim,))


def stack_lanes(values: Sequence[Any]):
    """The values (all of one type) stacked along a new leading axis."""
    shape = R.shape_of(values[0])
    expanded = [R.broadcast_in_dim(v, (1,) + shape, tuple(range(1, len(shape) + 1)))
                for v in values]
    if len(expanded) == 1:
        return expanded[0]
    return R.registry["concatenate"].bind(*expanded, dimension=0)


def batched_aval(aval: ShapedArray, size: int) -> ShapedArray:
    return ShapedArray((size,) + aval.shape, aval.dtype, aval.weak_type)


def unbatched_aval(aval: ShapedArray) -> ShapedArray:
    return ShapedArray(aval.shape[1:], aval.dtype, aval.weak_type)


# ---------------------------------------------------------------------------
# running a Python rule under a fresh batch trace


class AxisInfo:
    """The mapped axis a batching rule is working on: name, size, spmd name, and the
    batch trace that called the rule (whose tracers the user's rules may close over)."""

    __slots__ = ("name", "size", "spmd_name", "trace")

    def __init__(self, name, size: int, spmd_name=None, trace=None):
        self.name, self.size, self.spmd_name, self.trace = name, size, spmd_name, trace

    @classmethod
    def from_axis_data(cls, axis_data, args, dims) -> AxisInfo:
        if axis_data is not None:
            return cls(axis_data.axis_name, axis_data.axis_size,
                       getattr(axis_data, "spmd_axis_name", None), axis_data)
        return cls(None, R.batch_size(args, dims))


def _alias_batch_trace_class():
    from fx.interpreters import batching

    class AliasBatchTrace(batching.BatchTrace):
        """A batch trace for the same mapped axis as ``alias``: values the user's rule
        closed over while ``alias`` was tracing count as batched here too."""

        __slots__ = ("alias",)

        def __init__(self, parent, axis: AxisInfo):
            super().__init__(parent, axis.name, axis.size, axis.spmd_name)
            self.alias = axis.trace

        def to_batch_info(self, x):
            if self.alias is not None and isinstance(x, batching.BatchTracer) \
                    and x._trace is self.alias:
                return x.val, x.batch_dim
            return super().to_batch_info(x)

    return AliasBatchTrace


_alias_class: list = []


def run_batched(fn: Callable[[list], list], axis: AxisInfo, values: Sequence[Any],
                batched: Sequence[bool]) -> list[tuple[Any, int | None]]:
    """Call ``fn`` on per-example views of ``values`` (batched at axis 0 where ``batched``).

    ``values`` may hold ``Zero`` (of the batched type when batched); ``fn`` returns a flat
    list that may hold ``Zero``. Returns ``(value, batch_dim)`` pairs in the caller's trace.
    """
    if not _alias_class:
        _alias_class.append(_alias_batch_trace_class())
    trace = _alias_class[0](core.current_trace(), axis)
    with core.new_trace(trace):
        ins = []
        for v, b in zip(values, batched):
            if type(v) is Zero:
                ins.append(Zero(unbatched_aval(v.aval)) if b else v)
            else:
                ins.append(trace.make(v, 0 if b else None))
        outs = fn(ins)
        infos = [(o, None) if type(o) is Zero else trace.to_batch_info(o) for o in outs]
    return infos


def move_to(value, dim: int | None, batched: bool, size: int):
    """``value`` (batch dim ``dim``) with its batch dim at 0 if ``batched``, else unbatched.

    An unbatched value asked to be batched is broadcast; a batched value asked to be
    unbatched raises (callers decide batchedness so that this cannot happen).
    """
    from fx.interpreters import batching
    if type(value) is Zero:
        aval = value.aval
        return Zero(batched_aval(aval, size)) if batched else value
    return batching.match_axis(value, dim, 0 if batched else None, size)


def sum_out_batch(value, dim: int | None):
    """Cotangent of an unbatched input: the batch dim (if any) summed away."""
    if type(value) is Zero or dim is None:
        return value
    return R.reduce_sum(value, (dim,))


def aval_matches(actual: ShapedArray, expected: ShapedArray) -> bool:
    return actual.shape == expected.shape and actual.dtype == expected.dtype
