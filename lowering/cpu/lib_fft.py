"""Native ``fft`` (FFT, IFFT, RFFT, IRFFT over the trailing 1 to 3 axes) as a library
call: one-dimensional passes over each transformed axis, every line (or block of
adjacent columns of a strided axis, as the kernel's lanes) gathered into scratch,
transformed by the kernels of ``lib_fft_kernels`` and scattered back.

Invariants: the arithmetic is in the operand's precision (float for complex64,
double for complex128; twiddles and chirps computed in double and rounded). The
inverse transform is the forward kernel between two conjugations, scaled by ``1/n``
per axis (JAX's normalisation). RFFT transforms the last axis, then the other axes;
IRFFT transforms the other axes first (into heap scratch, never into its operand),
then the last axis. A real last-axis transform of even ``n`` runs as a complex one
of ``n / 2`` points (even samples as real parts, odd as imaginary) with a twiddled
post-pass (RFFT) or pre-pass (IRFFT); of odd ``n`` as a complex one of ``n`` points
with zero imaginary parts (RFFT, keeping bins ``0 .. n // 2``) or of the conjugate
Hermitian extension of the half spectrum (IRFFT, keeping the real part). Either way
IRFFT ignores the imaginary parts of the zero and Nyquist bins, as pocketfft does.
A pass whose lines carry enough work is split by line blocks across the worker pool
(``fx_parallel_for``), each chunk with its own scratch; the constant tables
(twiddles, chirps, the Bluestein filter) are a module global that the first call
fills and later calls share.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir

from lowering.cpu import runtime
from lowering.cpu.irutil import F32, F64, I8, I32, I64, PTR, VOID, declare
from lowering.cpu.lib_fft_kernels import Cx, Plan, init_table, kernel, load_c, root, store_c
from lowering.cpu.lib_ir import (HelperFunction, call_helper, call_span, chunk_task, helper_name,
                                  run_chunks)
from lowering.cpu.library import register

__all__ = ["PARALLEL_MIN_WORK"]

#: a pass is split across threads from this many points times log2 of the length
PARALLEL_MIN_WORK = 1 << 17
_CHUNKS_PER_THREAD = 4
_FFT, _IFFT, _RFFT, _IRFFT = range(4)
_COMPLEX = {np.dtype(np.complex64): F32, np.dtype(np.complex128): F64}
_REAL = {np.dtype(np.float32): F32, np.dtype(np.float64): F64}


def _supports(eqn) -> bool:
    x, out = eqn.invars[0].aval, eqn.outvars[0].aval
    fft_type = int(eqn.params["fft_type"])
    if fft_type == _RFFT:
        return x.dtype in _REAL and out.dtype in _COMPLEX
    return x.dtype in _COMPLEX and fft_type in (_FFT, _IFFT, _IRFFT)


class _Pass:
    """One-dimensional transforms of every line along ``axis`` of a buffer of ``shape``
    (``kind``: "c2c", "r2c" or "c2r"), reading ``src`` (shape ``in_shape``) and writing
    ``dst`` (``out_shape``); ``in_place`` when the two are one buffer."""

    def __init__(self, kind, inverse, in_shape, out_shape, axis, n, in_place):
        self.kind, self.inverse, self.axis, self.n = kind, inverse, axis, n
        self.in_shape, self.out_shape, self.in_place = in_shape, out_shape, in_place
        self.inner = math.prod(in_shape[axis + 1:])
        self.lines = math.prod(in_shape) // in_shape[axis]
        self.n_in, self.n_out = in_shape[axis], out_shape[axis]
        # an even real transform runs as a complex one of half its length
        self.half = kind in ("r2c", "c2r") and n % 2 == 0

    def key(self):
        return (self.kind, self.inverse, self.in_shape, self.out_shape, self.axis, self.n,
                self.in_place)


def _passes(fft_type, shape, lengths):
    """The passes of a transform of an operand of ``shape``: (pass, source, destination)
    with buffers named "x" (operand), "out" (result), "tmp" (scratch of ``shape``)."""
    nd, k = len(shape), len(lengths)
    out_shape = shape[:nd - k] + lengths[:-1] + (lengths[-1] // 2 + 1,) \
        if fft_type == _RFFT else shape[:nd - k] + lengths
    inverse = fft_type in (_IFFT, _IRFFT)
    if fft_type == _IRFFT:
        steps, src = [], "x"
        for axis in range(nd - 2, nd - k - 1, -1):
            steps.append((_Pass("c2c", True, shape, shape, axis, shape[axis], src == "tmp"),
                          src, "tmp"))
            src = "tmp"
        steps.append((_Pass("c2r", True, shape, out_shape, nd - 1, lengths[-1], False),
                      src, "out"))
        return steps, out_shape
    first = "r2c" if fft_type == _RFFT else "c2c"
    steps = [(_Pass(first, inverse, shape, out_shape, nd - 1, lengths[-1], False), "x", "out")]
    for axis in range(nd - 2, nd - k - 1, -1):
        steps.append((_Pass("c2c", inverse, out_shape, out_shape, axis, out_shape[axis], True),
                      "out", "out"))
    return steps, out_shape


class _HalfPlan:
    """The tables of an even real transform of ``n`` points run as a complex one of
    ``n / 2``: the half-length plan's, then ``exp(-2 pi i k / n)`` for ``k <= n / 2``."""

    def __init__(self, n: int):
        self.n, self.inner = n, Plan(n // 2)
        self.twiddles_at = self.inner.table
        self.table = self.twiddles_at + n // 2 + 1

    def init(self, h: HelperFunction, table, ty, kernels) -> None:
        if self.inner.table:
            init_table(h, self.inner, table, ty, kernels)

        def twiddle(k):
            value = root(h, self.n, k)
            if ty == F32:
                value = tuple(h.b.fptrunc(v, ty) for v in value)
            store_c(h, table, h.b.add(k, ir.Constant(I64, self.twiddles_at)), self.table, ty,
                    value)
        h.loop(0, self.n // 2 + 1, twiddle)


def _plan(p: _Pass):
    """(key, plan) of the tables pass ``p`` uses."""
    return (("half", p.n), _HalfPlan(p.n)) if p.half else (p.n, Plan(p.n))


def _block(p: _Pass, ty) -> int:
    """Lines transformed together by one kernel call (its lanes): adjacent columns of a
    strided axis, so that each row of the gather reads a run of contiguous elements
    (lines of the last axis are contiguous: one at a time)."""
    width = 16 if ty == F32 else 8
    while p.inner % width:
        width //= 2
    return width


def _pass_fn(module, p: _Pass, ty, plan: Plan, kernels, bounds_check):
    """``void pass(ptr src, [ptr dst,] ptr table, ptr span, ptr status)``: the line blocks
    ``[span[0], span[1])`` of pass ``p`` (``_block(p, ty)`` adjacent lines each)."""
    name = helper_name("fft_pass", p.key() + (str(ty), bounds_check))
    fn = HelperFunction.existing(module, name)
    if fn is not None:
        return fn
    h = HelperFunction(module, name, 3 if p.in_place else 4, bounds_check)
    src, dst = (h.args[0], h.args[0]) if p.in_place else (h.args[0], h.args[1])
    table, span = h.args[-2], h.args[-1]
    b, cx = h.b, Cx(h.e)
    if p.half:
        return _half_pass_fn(h, p, ty, plan, kernels)
    work, width = plan.work, _block(p, ty)
    kernel_fn = kernel(module, plan, ty, bounds_check, kernels, width)
    size = 2 * (4 if ty == F32 else 8)
    xs, ys = h.scratch(width * work * size), h.scratch(width * work * size)
    results = ys if plan.result_in_y else xs
    total = width * work
    n, inner = p.n, p.inner
    in_total, out_total = math.prod(p.in_shape), math.prod(p.out_shape)
    inv_n = ir.Constant(ty, 1.0 / n)
    lo = h.load_raw(span, 0, 2, I64)
    hi = h.load_raw(span, 1, 2, I64)

    def bases(block):
        if inner == 1:
            return (h.linear([(block, width * p.n_in)]), h.linear([(block, width * p.n_out)]))
        blocks = inner // width
        outer = b.udiv(block, ir.Constant(I64, blocks))
        i = b.mul(b.urem(block, ir.Constant(I64, blocks)), ir.Constant(I64, width))
        return (h.linear([(outer, p.n_in * inner), (i, 1)]),
                h.linear([(outer, p.n_out * inner), (i, 1)]))

    def at(base, t, c, row):  # element t of lane c; ``row``: the buffer's line length
        if inner == 1:
            return b.add(base, h.linear([(c, row), (t, 1)]))
        return b.add(base, h.linear([(t, inner), (c, 1)]))

    def slot(c, t):  # the kernel's layout: element t of lane c
        return h.linear([(t, width), (c, 1)])

    def each(count, body):  # body(t, c) over rows t and the block's lines c
        h.loop(0, count, lambda t: h.loop(0, width, lambda c: body(t, c)))

    def block(index):
        src_base, dst_base = bases(b.add(index, lo))
        if p.kind == "c2c":
            def gather(t, c):
                v = load_c(h, src, at(src_base, t, c, p.n_in), in_total, ty)
                store_c(h, xs, slot(c, t), total, ty, cx.conj(v) if p.inverse else v)
        elif p.kind == "r2c":
            def gather(t, c):
                v = h.load_raw(src, at(src_base, t, c, p.n_in), in_total, ty)
                store_c(h, xs, slot(c, t), total, ty, (v, ir.Constant(ty, 0.0)))
        else:  # c2r: the conjugated Hermitian extension of the half spectrum
            half = p.n_in

            def gather(t, c):
                low = b.icmp_signed("<", t, ir.Constant(I64, half))
                mirror = b.select(low, t, b.sub(ir.Constant(I64, n), t))
                v = load_c(h, src, at(src_base, mirror, c, p.n_in), in_total, ty)
                store_c(h, xs, slot(c, t), total, ty, (v[0], b.select(low, b.fneg(v[1]), v[1])))
        each(n, gather)

        b.call(kernel_fn, [xs, ys, table, h.status])
        if p.kind == "c2r":
            def scatter(t, c):
                v = h.load_raw(results, b.shl(slot(c, t), ir.Constant(I64, 1)), 2 * total, ty)
                h.store_raw(dst, at(dst_base, t, c, p.n_out), out_total, ty, h.e.fmul(v, inv_n))
        else:
            def scatter(t, c):
                v = load_c(h, results, slot(c, t), total, ty)
                if p.inverse:
                    v = cx.scale(cx.conj(v), inv_n)
                store_c(h, dst, at(dst_base, t, c, p.n_out), out_total, ty, v)
        each(p.n_out, scatter)

    h.loop(0, b.sub(hi, lo), block)
    return h.finish()


def _half_pass_fn(h: HelperFunction, p: _Pass, ty, plan: _HalfPlan, kernels):
    """The lines of an even real pass (``r2c``/``c2r`` of ``n`` points) as complex
    transforms of ``n / 2``: the even samples real, the odd imaginary (see the module
    docstring); lines along the last axis, one at a time."""
    src, dst = h.args[0], h.args[1]
    table, span = h.args[-2], h.args[-1]
    b, cx = h.b, Cx(h.e)
    inner = plan.inner
    half, work = p.n // 2, inner.work
    kernel_fn = kernel(h.module, inner, ty, h.bounds_check, kernels, 1)
    size = 2 * (4 if ty == F32 else 8)
    xs, ys = h.scratch(work * size), h.scratch(work * size)
    result = ys if inner.result_in_y else xs
    in_total, out_total = math.prod(p.in_shape), math.prod(p.out_shape)
    lo = h.load_raw(span, 0, 2, I64)
    hi = h.load_raw(span, 1, 2, I64)
    zero, one_half = ir.Constant(ty, 0.0), ir.Constant(ty, 0.5)

    def twiddle(k):
        return load_c(h, table, b.add(k, ir.Constant(I64, plan.twiddles_at)), plan.table, ty)

    def line(index):
        row = b.add(index, lo)
        src_base = h.linear([(row, p.n_in)])
        dst_base = h.linear([(row, p.n_out)])
        if p.kind == "r2c":
            def gather(t):
                at = b.add(src_base, b.shl(t, ir.Constant(I64, 1)))
                store_c(h, xs, t, work, ty, (h.load_raw(src, at, in_total, ty), h.load_raw(
                    src, b.add(at, ir.Constant(I64, 1)), in_total, ty)))
            h.loop(0, half, gather)
            b.call(kernel_fn, [xs, ys, table, h.status])

            def post(k, a, other):
                even = cx.scale(cx.add(a, other), one_half)
                odd = cx.scale(cx.times_minus_i(cx.sub(a, other)), one_half)
                store_c(h, dst, b.add(dst_base, k), out_total, ty,
                        cx.add(even, cx.mul(twiddle(k), odd)))

            def scatter(k):  # bins 1 .. n/2 - 1: affine indices, so the loop vectorises
                post(k, load_c(h, result, k, work, ty), cx.conj(load_c(
                    h, result, b.sub(ir.Constant(I64, half), k), work, ty)))
            h.loop(1, half, scatter)
            dc = load_c(h, result, 0, work, ty)
            for k in (0, half):
                post(ir.Constant(I64, k), dc, cx.conj(dc))
            return

        def gather(k):  # conj(E + iO) of the half spectrum, Im X[0], Im X[n/2] ignored
            first = b.icmp_signed("==", k, ir.Constant(I64, 0))
            a = load_c(h, src, b.add(src_base, k), in_total, ty)
            a = (a[0], b.select(first, zero, a[1]))
            m = load_c(h, src, b.add(src_base, b.sub(ir.Constant(I64, half), k)), in_total, ty)
            other = (m[0], b.select(first, zero, b.fneg(m[1])))
            even = cx.scale(cx.add(a, other), one_half)
            odd = cx.mul(cx.scale(cx.sub(a, other), one_half), cx.conj(twiddle(k)))
            value = cx.add(even, (b.fneg(odd[1]), odd[0]))
            store_c(h, xs, k, work, ty, cx.conj(value))
        h.loop(0, half, gather)
        b.call(kernel_fn, [xs, ys, table, h.status])
        inv = ir.Constant(ty, 1.0 / half)

        def scatter(t):
            v = load_c(h, result, t, work, ty)
            at = b.add(dst_base, b.shl(t, ir.Constant(I64, 1)))
            h.store_raw(dst, at, out_total, ty, h.e.fmul(v[0], inv))
            h.store_raw(dst, b.add(at, ir.Constant(I64, 1)), out_total, ty,
                        h.e.fmul(b.fneg(v[1]), inv))
        h.loop(0, half, scatter)

    h.loop(0, b.sub(hi, lo), line)
    return h.finish()


def _run_pass(h: HelperFunction, p: _Pass, pass_fn, fname, ptrs, threads, ty) -> None:
    """Call ``pass_fn`` over all line blocks of ``p``: on this thread, or split in
    chunks across the worker pool."""
    b = h.b
    work = p.lines * p.n * max(1.0, math.log2(max(p.n, 2)))
    blocks = p.lines // _block(p, ty)
    if threads > 1 and blocks >= 2 and work >= PARALLEL_MIN_WORK:
        step = -(-blocks // min(blocks, threads * _CHUNKS_PER_THREAD))
        chunks = -(-blocks // step)
        task = chunk_task(h.module, f"{fname}_task", len(ptrs) + 1, blocks, step,
                          lambda tb, pointers, lo, hi: call_span(tb, pass_fn, pointers, lo, hi))
        run_chunks(h.module, b, task, ptrs + [h.status], chunks)
        return
    with b.goto_block(h.entry):
        span = b.alloca(I64, size=2)
    b.store(ir.Constant(I64, 0), span)
    b.store(ir.Constant(I64, blocks), b.gep(span, [ir.Constant(I64, 1)], source_etype=I64))
    b.call(pass_fn, ptrs + [span, h.status])


def _tables(h: HelperFunction, plans: dict, ty, kernels: dict):
    """(pointer, {length: offset in complex values}) of the constant tables of ``plans``:
    a module global filled by the first call (its "ready" flag set, with release order,
    once the tables are complete; two first calls racing write the same values)."""
    module, b = h.module, h.b
    offsets, total = {}, 0
    for n, plan in plans.items():
        offsets[n] = total
        total += plan.table
    name = helper_name("fft_tables", (tuple((n, p.table) for n, p in plans.items()), str(ty),
                                      h.bounds_check))
    data = module.globals.get(f"{name}_data")
    if data is None:
        aty = ir.ArrayType(ty, max(2 * total, 1))
        data = ir.GlobalVariable(module, aty, f"{name}_data")
        data.linkage = "internal"
        data.initializer = ir.Constant(aty, None)
        data.align = 64
        ready = ir.GlobalVariable(module, I32, f"{name}_ready")
        ready.linkage = "internal"
        ready.initializer = ir.Constant(I32, 0)
        init = HelperFunction(module, f"{name}_init", 1, h.bounds_check)
        for n, plan in plans.items():
            if plan.table:
                at = init.b.gep(init.args[0], [ir.Constant(I64, 2 * offsets[n])],
                                source_etype=ty)
                if isinstance(plan, _HalfPlan):
                    plan.init(init, at, ty, kernels)
                else:
                    init_table(init, plan, at, ty, kernels)
        init.finish()
    ready, init = module.globals[f"{name}_ready"], module.globals[f"{name}_init"]
    flag = b.load_atomic(ready, "acquire", 4, typ=I32)
    with b.if_then(b.icmp_unsigned("==", flag, ir.Constant(I32, 0)), likely=False):
        b.call(init, [data, h.status])
        fine = b.icmp_unsigned("==", b.load(h.status, typ=I8), ir.Constant(I8, 0))
        with b.if_then(fine):
            b.store_atomic(ir.Constant(I32, 1), ready, "release", 4)
    return data, offsets


def _helper(module, fname, fft_type, shape, lengths, ty, bounds_check, threads):
    h = HelperFunction(module, fname, 2, bounds_check)
    steps, _ = _passes(fft_type, shape, lengths)
    plans = {}
    for p, _, _ in steps:
        key, plan = _plan(p)
        plans.setdefault(key, plan)
    kernels: dict = {}
    table, offsets = _tables(h, plans, ty, kernels)
    tables = {n: h.b.gep(table, [ir.Constant(I64, 2 * offsets[n])], source_etype=ty)
              for n in plans}
    buffers = {"x": h.args[0], "out": h.args[1]}
    if any("tmp" in (s, d) for _, s, d in steps):
        buffers["tmp"] = h.scratch(2 * math.prod(shape) * (4 if ty == F32 else 8))
    for k, (p, s, d) in enumerate(steps):
        name = f"{fname}_{k}"
        key = _plan(p)[0]
        pass_fn = _pass_fn(module, p, ty, plans[key], kernels, bounds_check)
        ptrs = [buffers[s]] if p.in_place else [buffers[s], buffers[d]]
        _run_pass(h, p, pass_fn, name, ptrs + [tables[key]], threads, ty)
    return h.finish()


def _emit(ctx, eqn) -> None:
    x, out = eqn.invars[0].aval, eqn.outvars[0].aval
    fft_type = int(eqn.params["fft_type"])
    lengths = tuple(int(n) for n in eqn.params["fft_lengths"])
    if math.prod(out.shape) == 0:
        return
    if math.prod(x.shape) == 0 or 0 in lengths:  # RFFT of zero points: all zeros
        ctx.builder.call(declare(ctx.module, "llvm.memset.p0.i64", ir.FunctionType(
            VOID, [PTR, ir.IntType(8), I64, ir.IntType(1)])),
            [ctx.pointer_of(eqn.outvars[0]), ir.Constant(ir.IntType(8), 0),
             ir.Constant(I64, math.prod(out.shape) * out.dtype.itemsize),
             ir.Constant(ir.IntType(1), 0)])
        return
    ty = _COMPLEX[np.dtype(out.dtype if fft_type == _RFFT else x.dtype)]
    threads = runtime.num_threads()
    key = (fft_type, tuple(x.shape), lengths, str(ty), ctx.bounds_check, threads)
    fname = helper_name("fft", key)
    fn = HelperFunction.existing(ctx.module, fname) or _helper(
        ctx.module, fname, fft_type, tuple(x.shape), lengths, ty, ctx.bounds_check, threads)
    call_helper(ctx, fn, eqn)


register("fft", _supports, _emit)
