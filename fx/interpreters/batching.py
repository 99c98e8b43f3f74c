"""Automatic batching (vmap): BatchTrace carries each value with the axis that
is being mapped over (or None when it is not batched).

Invariants: a value that is not a ``BatchTracer`` of the current trace is
unbatched; a rule receives the values and their batch dims and returns the
outputs with theirs; everything runs in the parent trace.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from fx import core
from fx.core import ShapedArray, Tracer, get_aval
from primitives import _rules as R

not_mapped = None


class BatchTracer(Tracer):
    __slots__ = ("val", "batch_dim")

    def __init__(self, trace, val, batch_dim: int):
        self._trace = trace
        self.val = val
        self.batch_dim = batch_dim

    @property
    def aval(self):
        aval = get_aval(self.val)
        d = self.batch_dim
        return ShapedArray(aval.shape[:d] + aval.shape[d + 1:], aval.dtype, aval.weak_type)


class BatchTrace(core.Trace):
    __slots__ = ("axis_name", "axis_size", "spmd_axis_name")

    def __init__(self, parent, axis_name, axis_size, spmd_axis_name=None):
        super().__init__(parent)
        self.axis_name = axis_name
        self.axis_size = axis_size
        self.spmd_axis_name = spmd_axis_name

    def to_batch_info(self, x):
        if isinstance(x, BatchTracer) and x._trace is self:
            return x.val, x.batch_dim
        if isinstance(x, Tracer) and not x._trace.alive:
            core.raise_leaked(x)
        return x, not_mapped

    def process_primitive(self, primitive, args, params):
        vals, dims = [], []
        for a in args:
            v, d = self.to_batch_info(a)
            vals.append(v)
            dims.append(d)
        axis_dependent = getattr(primitive, "axis_dependent", False)
        parent = self.parent
        if not axis_dependent and all(d is not_mapped for d in dims):
            token = core._current_trace.set(parent)
            try:
                return parent.process_primitive(primitive, tuple(vals), params)
            finally:
                core._current_trace.reset(token)
        rule = primitive.batch
        if rule is None:
            raise NotImplementedError(f"Batching rule for '{primitive.name}' not implemented")
        token = core._current_trace.set(parent)
        try:
            if axis_dependent:
                out, out_dims = rule(vals, dims, axis_data=self, **params)
            else:
                out, out_dims = rule(vals, dims, **params)
        finally:
            core._current_trace.reset(token)
        if primitive.multiple_results:
            return [self.make(o, d) for o, d in zip(out, out_dims)]
        return self.make(out, out_dims)

    def make(self, val, dim):
        if dim is not_mapped:
            return val
        return BatchTracer(self, val, dim)


def batch_flat(fun: Callable, args: Sequence[Any], in_dims: Sequence[int | None],
               axis_size: int, out_dims: Sequence[int | None] | Callable,
               axis_name=None, spmd_axis_name=None) -> list:
    """Run ``fun`` mapped over ``in_dims`` of ``args``; outputs get ``out_dims``."""
    trace = BatchTrace(core.current_trace(), axis_name, axis_size, spmd_axis_name)
    with core.new_trace(trace):
        ins = [trace.make(a, d) for a, d in zip(args, in_dims)]
        outs = fun(*ins)
        if callable(out_dims):
            out_dims = out_dims(len(outs))
        results = []
        for o, od in zip(outs, out_dims):
            val, d = trace.to_batch_info(o)
            with core.set_current_trace(trace.parent):
                results.append(match_axis(val, d, od, axis_size))
    return results


def match_axis(val, src, dst, size: int):
    """Move the batch dim ``src`` of ``val`` to ``dst`` (broadcasting if unbatched)."""
    if dst is None:
        if src is not None:
            raise ValueError(
                "vmap has mapped output but out_axes is None: an output that is batched "
                "cannot be returned unbatched (out_axes=None requires the output not to "
                "depend on the mapped inputs)")
        return val
    ndim = len(R.shape_of(val)) + (1 if src is None else 0)
    if not -ndim <= dst < ndim:
        raise ValueError(f"vmap out_axes {dst} is out of bounds for an output of rank {ndim}")
    dst %= ndim
    if src is None:
        shape = R.shape_of(val)
        out_shape = shape[:dst] + (size,) + shape[dst:]
        dims = tuple(i if i < dst else i + 1 for i in range(len(shape)))
        return R.broadcast_in_dim(val, out_shape, dims)
    return R.moveaxis(val, src, dst)


def batch_jaxpr_axes(closed: core.ClosedJaxpr, axis_size: int, in_dims: Sequence[int | None],
                     axis_name=None) -> tuple[core.ClosedJaxpr, list[int | None]]:
    """A jaxpr taking inputs batched at ``in_dims`` to outputs batched where the batching
    rules leave them (the returned dims; None for unbatched outputs), as JAX batches the
    body of a ``jit``: no batch dim is moved on the way in or out."""
    from fx.interpreters import partial_eval as pe
    in_avals = [a if d is None else
                ShapedArray(a.shape[:d] + (axis_size,) + a.shape[d:], a.dtype, a.weak_type)
                for a, d in zip(closed.in_avals, in_dims)]
    out_dims: list[int | None] = []

    def fun(*args):
        trace = BatchTrace(core.current_trace(), axis_name, axis_size)
        with core.new_trace(trace):
            ins = [trace.make(a, d) for a, d in zip(args, in_dims)]
            outs = core.eval_jaxpr(closed.jaxpr, closed.consts, *ins)
            infos = [trace.to_batch_info(o) for o in outs]
        out_dims[:] = [d for _, d in infos]
        return [v for v, _ in infos]

    jaxpr, consts, _ = pe.trace_to_jaxpr(fun, in_avals)
    return core.ClosedJaxpr(jaxpr, consts), out_dims


def batch_jaxpr(closed: core.ClosedJaxpr, axis_size: int, in_batched: Sequence[bool],
                instantiate: bool | Sequence[bool], axis_name=None
                ) -> tuple[core.ClosedJaxpr, list[bool]]:
    """A jaxpr taking inputs batched at axis 0 (where ``in_batched``) to outputs batched
    at axis 0 (where the returned flags say)."""
    from fx.interpreters import partial_eval as pe
    n_out = len(closed.jaxpr.outvars)
    if isinstance(instantiate, bool):
        instantiate = [instantiate] * n_out
    in_avals = [ShapedArray((axis_size,) + a.shape, a.dtype, a.weak_type) if b else a
                for a, b in zip(closed.in_avals, in_batched)]
    out_batched: list[bool] = []

    def fun(*args):
        trace = BatchTrace(core.current_trace(), axis_name, axis_size)
        with core.new_trace(trace):
            ins = [trace.make(a, 0 if b else None) for a, b in zip(args, in_batched)]
            outs = core.eval_jaxpr(closed.jaxpr, closed.consts, *ins)
            infos = [trace.to_batch_info(o) for o in outs]
        out_batched[:] = [d is not None or inst for (_, d), inst in zip(infos, instantiate)]
        return [match_axis(v, d, 0, axis_size) if b else v
                for (v, d), b in zip(infos, out_batched)]

    jaxpr, consts, _ = pe.trace_to_jaxpr(fun, in_avals)
    return core.ClosedJaxpr(jaxpr, consts), out_batched
