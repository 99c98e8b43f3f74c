"""Native ``gather`` and the scatter family (``scatter``, ``scatter-add``, ``-sub``,
``-mul``, ``-min``, ``-max``) with JAX's general dimension numbers and modes.

Most gathers never reach this library call: fusion (``lowering.fusion.fusible_gather``)
makes a gather an index operation of its consumer's loop (``loop_index.IndexOps.gather``),
which handles every combination of dimension numbers and modes. The call below serves
the gathers fusion leaves as boundaries (those ``fusible_gather`` refuses: params that
are not a gather's usual ones, such as a non-scalar ``fill_value``) and the scatters,
which write data-dependent positions and so are never fused.

Invariants: one loop over the batch positions of the indices (row-major, the
eager impl's order); each reads its index vector (widened to i64 as
``astype(int64)`` does), forms the window start per operand dimension and then
copies (gather) or combines (scatter) the window element by element. Starts are
always clamped into ``[0, size - window]``, so no access leaves the operand
whatever the indices; ``FILL_OR_DROP`` (and, for scatter, ``PROMISE_IN_BOUNDS``)
first test the unclamped start and fill the window with ``fill_value`` (gather)
or skip its updates (scatter), as the eager impl does. Scatter copies the
operand into the result, then applies updates in order, so with repeated
indices the last ``scatter`` wins and combiners apply one after another.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir

from lowering.cpu.irutil import I1, I64, SUPPORTED_DTYPES, Emit, is_float, reg_type
from lowering.cpu.lib_ir import (HelperFunction, c_strides, call_helper, helper_name,
                                 numpy_max, numpy_min, to_i64)
from lowering.cpu.library import register
from primitives.indexing import GatherScatterMode, default_fill_value

__all__ = ["SCATTER_KINDS", "gather_mode", "fill_constant"]

#: scatter primitive -> how an update combines with the old value
SCATTER_KINDS = {"scatter": "set", "scatter-add": "add", "scatter-sub": "sub",
                 "scatter-mul": "mul", "scatter-min": "min", "scatter-max": "max"}


def gather_mode(params):
    """The ``GatherScatterMode`` of a gather's or scatter's params (None if unknown)."""
    try:
        return GatherScatterMode.from_any(params.get("mode"))
    except ValueError:
        return None


def _delinearize(h: HelperFunction, lin, shape):
    """Per-dimension i64 indices of row-major position ``lin`` in ``shape``."""
    out, rest = [None] * len(shape), lin
    for d in reversed(range(len(shape))):
        size = int(shape[d])
        if d == 0:
            out[d] = rest
        elif size == 1:
            out[d] = ir.Constant(I64, 0)
        else:
            out[d] = h.b.urem(rest, ir.Constant(I64, size))
            rest = h.b.udiv(rest, ir.Constant(I64, size))
    return out


def _window_start(h: HelperFunction, indices_ptr, indices_aval, position, index_map,
                  operand_shape, window, batching, batch_index, op_strides, check):
    """(linear offset of the window start in the operand, whether every start fits).

    ``position`` is the batch position; ``index_map[k]`` the operand dimension that
    entry ``k`` of the index vector starts; ``batching`` pairs of (operand dim, batch
    dim of the indices); ``check`` whether to compute the fit test.
    """
    b = h.b
    vec_len = len(index_map)
    count = math.prod(indices_aval.shape)
    itype = np.dtype(indices_aval.dtype)
    terms, ok = [], ir.Constant(I1, 1)
    for k, d in enumerate(index_map):
        at = h.linear([(position, vec_len), (k, 1)])
        start = to_i64(b, h.load(indices_ptr, at, count, itype), itype)
        hi = int(operand_shape[d]) - int(window[d])
        lo_c, hi_c = ir.Constant(I64, 0), ir.Constant(I64, max(hi, 0))
        if check:
            fits = b.and_(b.icmp_signed(">=", start, lo_c), b.icmp_signed("<=", start, hi_c))
            ok = b.and_(ok, fits)
        start = b.select(b.icmp_signed("<", start, lo_c), lo_c, start)
        start = b.select(b.icmp_signed(">", start, hi_c), hi_c, start)
        terms.append((start, op_strides[d]))
    for d, j in batching:
        terms.append((batch_index[j], op_strides[d]))
    return h.linear(terms), ok


# ---------------------------------------------------------------------------
# gather


def _gather_supports(eqn) -> bool:
    operand, indices = (v.aval for v in eqn.invars)
    if operand.dtype not in SUPPORTED_DTYPES or indices.dtype not in SUPPORTED_DTYPES:
        return False
    if gather_mode(eqn.params) is None:
        return False
    fill = eqn.params.get("fill_value")
    if fill is not None:
        try:
            np.asarray(fill).astype(operand.dtype)
        except (TypeError, ValueError):
            return False
    return True


def fill_constant(dtype, fill):
    """``fill`` (None: JAX's default for ``dtype``) as a register constant of ``dtype``,
    converted as ``np.asarray(fill).astype(dtype)`` converts it."""
    dtype = np.dtype(dtype)
    value = np.asarray(default_fill_value(dtype) if fill is None else fill)
    with np.errstate(all="ignore"):
        value = value.astype(dtype)
    ty = reg_type(dtype)
    if dtype.kind == "c":
        return Emit.const(ty, complex(value))
    if is_float(dtype):
        return Emit.const(ty, float(value))
    return Emit.const(ty, int(value))


def _gather_emit(ctx, eqn) -> None:
    operand, indices = (v.aval for v in eqn.invars)
    out = eqn.outvars[0].aval
    p = eqn.params
    dn = p["dimension_numbers"]
    slice_sizes = tuple(int(s) for s in p["slice_sizes"])
    mode = gather_mode(p)
    fill = p.get("fill_value")
    out_total = math.prod(out.shape)
    if out_total == 0:
        return
    key = (operand.dtype.str, tuple(operand.shape), indices.dtype.str, tuple(indices.shape),
           tuple(dn), slice_sizes, mode.name, repr(fill), ctx.bounds_check)
    fname = helper_name("gather", key)
    fn = HelperFunction.existing(ctx.module, fname)
    if fn is None:
        fn = _build_gather(ctx, fname, operand, indices, out, dn, slice_sizes, mode, fill)
    call_helper(ctx, fn, eqn)


def _build_gather(ctx, fname, operand, indices, out, dn, slice_sizes, mode, fill):
    h = HelperFunction(ctx.module, fname, 3, ctx.bounds_check)
    op_ptr, idx_ptr, out_ptr = h.args
    dtype = np.dtype(operand.dtype)
    rank = len(operand.shape)
    dropped = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    window_dims = [d for d in range(rank) if d not in dropped]
    batch_shape = tuple(indices.shape[:-1])
    op_strides, out_strides = c_strides(operand.shape), c_strides(out.shape)
    batch_out_dims = [q for q in range(len(out.shape)) if q not in dn.offset_dims]
    op_total, out_total = math.prod(operand.shape), math.prod(out.shape)
    check = mode is GatherScatterMode.FILL_OR_DROP
    fill_value = fill_constant(dtype, fill) if check else None
    batching = list(zip(dn.operand_batching_dims, dn.start_indices_batching_dims, strict=True))

    def per_batch(position):
        batch_index = _delinearize(h, position, batch_shape)
        base, ok = _window_start(h, idx_ptr, indices, position, dn.start_index_map,
                                 operand.shape, slice_sizes, batching, batch_index,
                                 op_strides, check)
        out_base = h.linear([(batch_index[j], out_strides[q])
                             for j, q in enumerate(batch_out_dims)])

        def element(ws):
            src = h.b.add(base, h.linear([(w, op_strides[d])
                                          for w, d in zip(ws, window_dims, strict=True)]))
            dst = h.b.add(out_base, h.linear([(w, out_strides[q])
                                              for w, q in zip(ws, dn.offset_dims, strict=True)]))
            value = h.load(op_ptr, src, op_total, dtype)
            if check:
                value = h.b.select(ok, value, fill_value)
            h.store(out_ptr, dst, out_total, dtype, value)
        h.nest([slice_sizes[d] for d in window_dims], element)

    h.loop(0, math.prod(batch_shape), per_batch)
    return h.finish()


# ---------------------------------------------------------------------------
# scatter


def _scatter_supports(eqn) -> bool:
    avals = [v.aval for v in eqn.invars]
    if any(a.dtype not in SUPPORTED_DTYPES for a in avals):
        return False
    if gather_mode(eqn.params) is None:
        return False
    kind = SCATTER_KINDS[eqn.primitive.name]
    if kind == "set" and eqn.params.get("update_jaxpr") is not None:
        return False  # the eager impl applies an arbitrary combiner jaxpr
    dtype = avals[0].dtype
    if kind in ("add", "mul"):
        return dtype.kind in "iufb"
    if kind == "sub":
        return dtype.kind in "iuf"
    return True


def _combine(kind, e: Emit, dtype, old, new):
    dtype = np.dtype(dtype)
    flt, boolean = dtype.kind == "f", dtype == np.bool_
    b = e.b
    if kind == "set":
        return new
    if kind == "add":
        return b.or_(old, new) if boolean else (b.fadd(old, new) if flt else b.add(old, new))
    if kind == "sub":
        return b.fsub(old, new) if flt else b.sub(old, new)
    if kind == "mul":
        return b.and_(old, new) if boolean else (b.fmul(old, new) if flt else b.mul(old, new))
    if kind == "min":
        return numpy_min(e, dtype, old, new)
    return numpy_max(e, dtype, old, new)


def _scatter_emit(ctx, eqn) -> None:
    operand, indices, updates = (v.aval for v in eqn.invars)
    p = eqn.params
    dn = p["dimension_numbers"]
    mode = gather_mode(p)
    kind = SCATTER_KINDS[eqn.primitive.name]
    if math.prod(operand.shape) == 0:
        return
    key = (kind, operand.dtype.str, tuple(operand.shape), indices.dtype.str,
           tuple(indices.shape), tuple(updates.shape), tuple(dn), mode.name, ctx.bounds_check)
    fname = helper_name("scatter", key)
    fn = HelperFunction.existing(ctx.module, fname)
    if fn is None:
        fn = _build_scatter(ctx, fname, kind, operand, indices, updates, dn, mode)
    call_helper(ctx, fn, eqn)


def _build_scatter(ctx, fname, kind, operand, indices, updates, dn, mode):
    h = HelperFunction(ctx.module, fname, 4, ctx.bounds_check)
    op_ptr, idx_ptr, upd_ptr, out_ptr = h.args
    dtype = np.dtype(operand.dtype)
    rank = len(operand.shape)
    inserted = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    window_dims = [d for d in range(rank) if d not in inserted]
    sizes = [1] * rank
    for d, u in zip(window_dims, dn.update_window_dims, strict=True):
        sizes[d] = int(updates.shape[u])
    batch_shape = tuple(indices.shape[:-1])
    scatter_dims = [d for d in range(len(updates.shape)) if d not in dn.update_window_dims]
    op_strides, upd_strides = c_strides(operand.shape), c_strides(updates.shape)
    op_total, upd_total = math.prod(operand.shape), math.prod(updates.shape)
    check = mode is not GatherScatterMode.CLIP
    batching = list(zip(dn.operand_batching_dims, dn.scatter_indices_batching_dims, strict=True))

    h.memmove(out_ptr, op_ptr, op_total * dtype.itemsize)
    if upd_total == 0:
        return h.finish()

    def per_batch(position):
        batch_index = _delinearize(h, position, batch_shape)
        base, ok = _window_start(h, idx_ptr, indices, position,
                                 dn.scatter_dims_to_operand_dims, operand.shape, sizes,
                                 batching, batch_index, op_strides, check)
        upd_base = h.linear([(batch_index[j], upd_strides[u])
                             for j, u in enumerate(scatter_dims)])

        def element(ws):
            dst = h.b.add(base, h.linear([(w, op_strides[d])
                                          for w, d in zip(ws, window_dims, strict=True)]))
            src = h.b.add(upd_base, h.linear([
                (w, upd_strides[u]) for w, u in zip(ws, dn.update_window_dims, strict=True)]))
            new = h.load(upd_ptr, src, upd_total, dtype)
            old = None if kind == "set" else h.load(out_ptr, dst, op_total, dtype)
            h.store(out_ptr, dst, op_total, dtype, _combine(kind, h.e, dtype, old, new))

        def window():
            h.nest([sizes[d] for d in window_dims], element)
        if check:
            with h.b.if_then(ok):
                window()
        else:
            window()

    h.loop(0, math.prod(batch_shape), per_batch)
    return h.finish()


register("gather", _gather_supports, _gather_emit)
for _name in SCATTER_KINDS:
    register(_name, _scatter_supports, _scatter_emit)
