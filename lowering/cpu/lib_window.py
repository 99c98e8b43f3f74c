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

The window description (``WindowSpec``), the position-to-operand-coordinate map
(``window_coordinates``), identities and the combining step are shared with the fused
form (``lowering.cpu.loops``: a window group whose operand's producers are computed at
the coordinates read and whose elementwise consumers follow as an epilogue); what
``fusible`` rejects (windows of more than ``UNROLL_MAX`` positions) stays a library
call of this module.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir

from lowering.cpu import runtime
from lowering.cpu.irutil import I1, I64, SUPPORTED_DTYPES, Emit, reg_type
from lowering.cpu.lib_ir import (HelperFunction, call_span, chunk_task, helper_name, numpy_max,
                                  numpy_min, run_chunks)
from lowering.cpu.library import register

__all__ = ["UNROLL_MAX", "PARALLEL_MIN_WORK", "WindowSpec", "window_coordinates", "identity",
           "combine", "fusible", "WINDOW_PRIMITIVES"]

#: windows with at most this many positions are unrolled
UNROLL_MAX = 64
#: output elements x window positions from which rows are split across threads
PARALLEL_MIN_WORK = 1 << 18
_CHUNKS_PER_THREAD = 4
WINDOW_PRIMITIVES = frozenset({"reduce_window_sum", "reduce_window_max", "reduce_window_min"})


def identity(name: str, dtype):
    """The value a window position outside the operand contributes."""
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


def fusible(eqn) -> bool:
    """Whether windowed reduction ``eqn`` becomes a fusion group of its own (its operand's
    producers and its elementwise consumers fused with it, see ``lowering.fusion``) rather
    than this module's library loop: the dtypes the library handles and windows of at
    most ``UNROLL_MAX`` positions (unrolled in the group's loop); larger windows, which
    loop over their positions, stay library calls."""
    if eqn.primitive.name not in WINDOW_PRIMITIVES or not _supports(eqn):
        return False
    return math.prod(int(w) for w in eqn.params["window_dimensions"]) <= UNROLL_MAX


def combine(e: Emit, name: str, dtype, acc, value):
    """``acc`` combined with ``value`` as the eager impl does (window order)."""
    if name == "reduce_window_max":
        return numpy_max(e, dtype, acc, value)
    if name == "reduce_window_min":
        return numpy_min(e, dtype, acc, value)
    if np.dtype(dtype).kind == "f":
        return e.fadd(acc, value)
    return e.b.add(acc, value)


class WindowSpec:
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


def _fold_add(b, x, y):
    if isinstance(x, int) and isinstance(y, int):
        return x + y
    if isinstance(y, int) and y == 0:
        return x
    if isinstance(x, int) and x == 0:
        return y
    return b.add(HelperFunction.i64(x), HelperFunction.i64(y), flags=("nsw",))


def _fold_mul(b, x, c: int):
    if isinstance(x, int):
        return x * c
    return x if c == 1 else b.mul(x, ir.Constant(I64, c), flags=("nsw",))


def window_coordinates(b: ir.IRBuilder, w: "WindowSpec", outs, offsets,
                       inside_last: bool = False):
    """The operand coordinates read by window position ``offsets`` of output element
    ``outs``: ``(valid, coords)``.

    Args:
      b: the builder.
      w: the window.
      outs: the output coordinates (i64 values or ints).
      offsets: the window position (ints, unrolled, or i64 values).
      inside_last: the position is known to lie inside the operand along the last
        dimension (no test there).
    Returns:
      ``valid``: an ``i1`` (None when the position cannot leave the operand), and
      ``coords``: one i64 value or int per operand dimension, each in ``[0, size)``
      whatever ``valid`` says (an invalid position reads coordinate 0 along each
      dimension where it leaves the operand; the caller discards that value).

    Example:
      >>> valid, coords = window_coordinates(builder, WindowSpec(eqn), (i, j), (0, 1))
    """
    valid = None
    coords = []
    last = len(outs) - 1
    zero = ir.Constant(I64, 0)
    for d, (o, k) in enumerate(zip(outs, offsets)):
        lo = w.padding[d][0]
        pos = _fold_mul(b, o, w.strides[d])
        pos = _fold_add(b, pos, _fold_mul(b, k, w.wdil[d]) if not isinstance(k, int)
                        else k * w.wdil[d])
        pos = _fold_add(b, pos, -lo)
        if w.checked(d) and not (inside_last and d == last):
            if isinstance(pos, int):  # known statically
                ok = pos >= 0 and pos % w.base[d] == 0 and pos // w.base[d] < w.in_shape[d]
                if not ok:
                    valid = ir.Constant(I1, 0)
                coords.append(pos // w.base[d] if ok else 0)
                continue
            ok = b.icmp_signed(">=", pos, zero)
            safe = b.select(ok, pos, zero)
            if w.base[d] > 1:
                bd = ir.Constant(I64, w.base[d])
                ok = b.and_(ok, b.icmp_unsigned("==", b.urem(safe, bd), zero))
                safe = b.udiv(safe, bd)
            ok = b.and_(ok, b.icmp_signed("<", safe, ir.Constant(I64, w.in_shape[d])))
            valid = ok if valid is None else b.and_(valid, ok)
            # clamped per dimension: a row's part stays invariant along the last one
            pos = b.select(ok, safe, zero)
        coords.append(pos)
    return valid, coords


def _operand_index(h: HelperFunction, w: "WindowSpec", outs, offsets, inside_last: bool):
    """(valid i1 or None, flat operand index) of window position ``offsets`` (ints or
    i64 values) of the output element ``outs`` (i64 values)."""
    valid, coords = window_coordinates(h.b, w, outs, offsets, inside_last)
    return valid, h.linear(list(zip(coords, w.in_strides)))


def _emit_helper(module, w: WindowSpec, fname: str, bounds_check: bool):
    """``void fname(ptr x, ptr out, ptr range, ptr status)``: output rows
    ``[range[0], range[1])`` (a row: all but the last output dimension)."""
    h = HelperFunction(module, fname, 3, bounds_check)
    src, dst, rng = h.args
    b, e = h.b, h.e
    ty = reg_type(w.dtype)
    ident = e.const(ty, identity(w.name, w.dtype))
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
                acc = combine(e, w.name, w.dtype, acc, v)
            return acc
        slot = h.variable(ty, ident)

        def at(offsets):
            valid, flat = _operand_index(h, w, outs, offsets, inside_last)
            v = h.load(src, flat, total_in, w.dtype)
            if valid is not None:
                v = b.select(valid, v, ident)
            b.store(combine(e, w.name, w.dtype, b.load(slot, typ=ty), v), slot)
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
    w = WindowSpec(eqn)
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
        task = chunk_task(ctx.module, fname + "_task", 3, rows, step,
                          lambda b, ptrs, lo, hi: call_span(b, fn, ptrs, lo, hi))
        run_chunks(ctx.module, bld, task, [x, out, ctx.status], chunks)
        return
    entry = bld.function.entry_basic_block
    with bld.goto_block(entry):
        bld.position_at_start(entry)
        span = bld.alloca(I64, size=2)
    bld.store(ir.Constant(I64, 0), span)
    bld.store(ir.Constant(I64, rows), bld.gep(span, [ir.Constant(I64, 1)], source_etype=I64))
    bld.call(fn, [x, out, span, ctx.status])


for _name in sorted(WINDOW_PRIMITIVES):
    register(_name, _supports, _emit)
