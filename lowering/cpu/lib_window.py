"""Windowed reductions (``reduce_window_sum``, ``reduce_window_max``,
``reduce_window_min``: pooling) as native loops: one pass over the output, each element
reducing its window of the padded, base-dilated operand in window order.

Invariants: the result is the eager impl's: window positions that fall in the
padding or between base-dilated elements contribute the identity (0, the lowest or
the highest value of the dtype: -inf/inf for floats), max/min propagate NaN
(``np.maximum``/``np.minimum``), integer sums wrap. Float sums add in window order
(the eager impl's NumPy sum may pair differently: equal to rounding). Windows of at
most ``UNROLL_MAX`` positions are unrolled with constant offsets, so a row of output
elements is a straight-line, vectorisable loop; larger windows loop. The validity
test of a position is emitted only for dimensions that can leave the operand (padding
``lo > 0`` or ``hi > 0``, base dilation); every load's index is in ``[0, size)`` by
construction (an invalid position reads coordinate 0 along each dimension where it
leaves the operand, and discards the value), and along the last dimension the
interior outputs, whose windows cannot leave the operand, test nothing. Large outputs
are split by rows across the worker pool (``fx_parallel_for``).
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir

from lowering.cpu import runtime
from lowering.cpu.irutil import I64, PTR, SUPPORTED_DTYPES, VOID, Emit, declare, reg_type
from lowering.cpu.lib_ir import HelperFunction, helper_name, numpy_max, numpy_min
from lowering.cpu.library import register

__all__ = ["UNROLL_MAX", "PARALLEL_MIN_WORK"]

#: windows with at most this many positions are unrolled
UNROLL_MAX = 64
#: output elements x window positions from which rows are split across threads
PARALLEL_MIN_WORK = 1 << 18
_CHUNKS_PER_THREAD = 4


def _identity(name: str, dtype):
    dtype = np.dtype(dtype)
    if name == "reduce_window_sum":
        return 0
    if dtype.kind == "b":
        return name == "reduce_window_min"
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return info.min if name == "reduce_window_max" else info.max
    return -np.inf if name == "reduce_window_max" else np.inf


def _supports(eqn) -> bool:
    x = eqn.invars[0].aval
    return (x.dtype in SUPPORTED_DTYPES and eqn.outvars[0].aval.dtype == x.dtype and x.ndim > 0
            and not (eqn.primitive.name == "reduce_window_sum" and x.dtype == np.bool_))


def _combine(e: Emit, name: str, dtype, acc, value):
    if name == "reduce_window_max":
        return numpy_max(e, dtype, acc, value)
    if name == "reduce_window_min":
        return numpy_min(e, dtype, acc, value)
    if np.dtype(dtype).kind == "f":
        return e.fadd(acc, value)
    return e.b.add(acc, value)


class _Window:
    """The static description of one reduce_window equation."""

    def __init__(self, eqn):
        p = eqn.params
        self.name = eqn.primitive.name
        self.dtype = np.dtype(eqn.invars[0].aval.dtype)
        self.in_shape = tuple(int(s) for s in eqn.invars[0].aval.shape)
        self.out_shape = tuple(int(s) for s in eqn.outvars[0].aval.shape)
        self.window = tuple(int(w) for w in p["window_dimensions"])
        self.strides = tuple(int(s) for s in p["window_strides"])
        self.padding = tuple((int(lo), int(hi)) for lo, hi in p["padding"])
        self.base = tuple(int(b) for b in p["base_dilation"])
        self.wdil = tuple(int(d) for d in p["window_dilation"])
        self.in_strides = []
        step = 1
        for s in reversed(self.in_shape):
            self.in_strides.append(step)
            step *= s
        self.in_strides.reverse()

    def key(self):
        return (self.name, self.dtype.str, self.in_shape, self.window, self.strides,
                self.padding, self.base, self.wdil)

    def checked(self, d: int) -> bool:
        """Whether a window position can fall outside the operand along dimension ``d``."""
        lo, hi = self.padding[d]
        return lo > 0 or hi > 0 or self.base[d] > 1

    def interior(self) -> tuple:
        """``[c_lo, c_hi)``: the outputs along the last dimension whose every window
        position lies inside the operand (no test needed there); empty when the last
        dimension is base-dilated."""
        d = len(self.out_shape) - 1
        last = self.out_shape[d]
        if not self.checked(d):
            return 0, last
        if self.base[d] > 1 or self.window[d] == 0:
            return 0, 0
        lo, s = self.padding[d][0], self.strides[d]
        reach = (self.window[d] - 1) * self.wdil[d]
        c_lo = min(last, max(0, -(-lo // s)))
        c_hi = min(last, max(0, (self.in_shape[d] - 1 - reach + lo) // s + 1))
        return c_lo, max(c_lo, c_hi)


def _operand_index(h: HelperFunction, w: _Window, outs, offsets, inside_last: bool):
    """(valid i1 or None, flat operand index) of window position ``offsets`` (ints or
    i64 values) of the output element ``outs`` (i64 values); ``inside_last``: the
    position is known to be inside the operand along the last dimension."""
    b = h.b
    valid = None
    flat = ir.Constant(I64, 0)
    last = len(outs) - 1
    for d, (o, k) in enumerate(zip(outs, offsets)):
        lo = w.padding[d][0]
        pos = h.linear([(o, w.strides[d])])
        shift = (k * w.wdil[d] - lo) if isinstance(k, int) else None
        if shift is None:
            pos = b.add(pos, h.linear([(k, w.wdil[d])]))
            pos = b.sub(pos, ir.Constant(I64, lo)) if lo else pos
        elif shift:
            pos = b.add(pos, ir.Constant(I64, shift))
        if w.checked(d) and not (inside_last and d == last):
            ok = b.icmp_signed(">=", pos, ir.Constant(I64, 0))
            safe = b.select(ok, pos, ir.Constant(I64, 0))
            if w.base[d] > 1:
                bd = ir.Constant(I64, w.base[d])
                ok = b.and_(ok, b.icmp_unsigned("==", b.urem(safe, bd), ir.Constant(I64, 0)))
                safe = b.udiv(safe, bd)
            ok = b.and_(ok, b.icmp_signed("<", safe, ir.Constant(I64, w.in_shape[d])))
            valid = ok if valid is None else b.and_(valid, ok)
            # clamped per dimension: a row's part stays invariant along the last one
            pos = b.select(ok, safe, ir.Constant(I64, 0))
        flat = b.add(flat, h.linear([(pos, w.in_strides[d])]))
    return valid, flat


def _emit_helper(module, w: _Window, fname: str, bounds_check: bool):
    """``void fname(ptr x, ptr out, ptr range, ptr status)``: output rows
    ``[range[0], range[1])`` (a row: all but the last output dimension)."""
    h = HelperFunction(module, fname, 3, bounds_check)
    src, dst, rng = h.args
    b, e = h.b, h.e
    ty = reg_type(w.dtype)
    ident = e.const(ty, _identity(w.name, w.dtype))
    nd = len(w.out_shape)
    total_in, total_out = math.prod(w.in_shape), math.prod(w.out_shape)
    last = w.out_shape[-1]
    lo_row = b.load(rng, typ=I64)
    hi_row = b.load(b.gep(rng, [ir.Constant(I64, 1)], source_etype=I64), typ=I64)
    positions = math.prod(w.window)
    c_lo, c_hi = w.interior()

    def element(outs, inside_last):
        if total_in == 0 or positions == 0:
            return ident
        if positions <= UNROLL_MAX:
            acc = ident
            for offsets in np.ndindex(*w.window):
                valid, flat = _operand_index(h, w, outs, [int(k) for k in offsets],
                                             inside_last)
                v = h.load(src, flat, total_in, w.dtype)
                if valid is not None:
                    v = b.select(valid, v, ident)
                acc = _combine(e, w.name, w.dtype, acc, v)
            return acc
        slot = h.variable(ty, ident)

        def at(offsets):
            valid, flat = _operand_index(h, w, outs, offsets, inside_last)
            v = h.load(src, flat, total_in, w.dtype)
            if valid is not None:
                v = b.select(valid, v, ident)
            b.store(_combine(e, w.name, w.dtype, b.load(slot, typ=ty), v), slot)
        b.store(ident, slot)
        h.nest(w.window, at)
        return b.load(slot, typ=ty)

    def row(r):
        outs, rest = [], r
        for d in reversed(range(nd - 1)):  # the row index as output coordinates
            size = ir.Constant(I64, w.out_shape[d])
            outs.append(b.urem(rest, size) if d else rest)
            rest = b.udiv(rest, size) if d else rest
        outs.reverse()
        base = h.linear([(r, last)])

        def cols(start, stop, inside_last):
            def col(c):
                h.store(dst, b.add(base, c), total_out, w.dtype,
                        element(outs + [c], inside_last))
            h.loop(start, stop, col)
        cols(0, c_lo, False)  # the borders test each position, the interior does not
        cols(c_lo, c_hi, True)
        cols(c_hi, last, False)
    h.loop(lo_row, hi_row, row)
    return h.finish()


def _emit(ctx, eqn) -> None:
    w = _Window(eqn)
    total_out = math.prod(w.out_shape)
    if total_out == 0:
        return
    rows = total_out // w.out_shape[-1]
    fname = helper_name("reduce_window", w.key() + (ctx.bounds_check,))
    fn = HelperFunction.existing(ctx.module, fname) or _emit_helper(
        ctx.module, w, fname, ctx.bounds_check)
    bld = ctx.builder
    x, out = ctx.pointer_of(eqn.invars[0]), ctx.pointer_of(eqn.outvars[0])
    threads = runtime.num_threads()
    work = total_out * max(1, math.prod(w.window))
    if threads > 1 and work >= PARALLEL_MIN_WORK and rows >= 2:
        step = -(-rows // min(rows, threads * _CHUNKS_PER_THREAD))
        chunks = -(-rows // step)
        task = _task(ctx.module, fn, fname + "_task", rows, step)
        entry = bld.function.entry_basic_block
        with bld.goto_block(entry):
            bld.position_at_start(entry)
            env = bld.alloca(PTR, size=3)
        for k, p in enumerate((x, out, ctx.status)):
            bld.store(p, bld.gep(env, [ir.Constant(I64, k)], source_etype=PTR))
        pfor = declare(ctx.module, runtime.PARALLEL_FOR, ir.FunctionType(VOID, [PTR, PTR, I64]))
        bld.call(pfor, [task, env, ir.Constant(I64, chunks)])
        return
    entry = bld.function.entry_basic_block
    with bld.goto_block(entry):
        bld.position_at_start(entry)
        span = bld.alloca(I64, size=2)
    bld.store(ir.Constant(I64, 0), span)
    bld.store(ir.Constant(I64, rows), bld.gep(span, [ir.Constant(I64, 1)], source_etype=I64))
    bld.call(fn, [x, out, span, ctx.status])


def _task(module, fn, name: str, rows: int, step: int):
    """``void name(ptr env, i64 chunk)``: rows ``[chunk*step, min(rows, (chunk+1)*step))``
    of helper ``fn``; ``env`` holds the operand, result and status pointers."""
    task = module.globals.get(name)
    if task is not None:
        return task
    task = ir.Function(module, ir.FunctionType(VOID, [PTR, I64]), name)
    task.linkage = "internal"
    b = ir.IRBuilder(task.append_basic_block("entry"))
    env, chunk = task.args
    x, out, status = (b.load(b.gep(env, [ir.Constant(I64, k)], source_etype=PTR), typ=PTR)
                      for k in range(3))
    span = b.alloca(I64, size=2)
    lo = b.mul(chunk, ir.Constant(I64, step))
    hi = b.add(lo, ir.Constant(I64, step))
    hi = b.select(b.icmp_signed(">", hi, ir.Constant(I64, rows)), ir.Constant(I64, rows), hi)
    b.store(lo, span)
    b.store(hi, b.gep(span, [ir.Constant(I64, 1)], source_etype=I64))
    b.call(fn, [x, out, span, status])
    b.ret_void()
    return task


for _name in ("reduce_window_sum", "reduce_window_max", "reduce_window_min"):
    register(_name, _supports, _emit)
