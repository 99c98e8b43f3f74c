"""The one-dimensional complex FFT kernels of the native ``fft`` call (``lib_fft``): a
forward transform of one contiguous line of length ``n``, emitted as an internal
helper per length and precision.

Invariants: a kernel is ``void k(ptr x, ptr y, ptr table, ptr status)`` transforming
``lanes`` lines at once: element ``t`` of line ``c`` is complex value ``t * lanes + c``
(interleaved real, imaginary scalars of the working precision: float for complex64,
double for complex128), so that the innermost loops run over the lines, contiguous
(a block of adjacent columns of a strided axis needs no transposition). The input is
at ``x``; ``x`` and ``y`` hold ``plan.work * lanes`` complex values each, and the
transform ends in ``y`` when ``plan.result_in_y`` else in ``x``. Lengths
``2^a 3^b 5^c`` run a Stockham autosort FFT of radix-4/2/3/5 stages (ping-pong
between ``x`` and ``y``, no bit reversal); every other length runs Bluestein's
chirp-z transform through a mixed-radix FFT of the least ``work = 2^a 3^b 5^c >=
2n - 1`` points. ``table`` holds ``plan.table`` complex constants (stage twiddles,
the chirp and the chirp filter's spectrum) that ``init_table`` computes once per
call in double precision from two small compile-time tables of roots of unity
(``w^t = coarse[t // B] * fine[t % B]``) and rounds to the working precision. The
inverse transform is the caller's (conjugate in, conjugate out).
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir

from lowering.cpu.irutil import F32, F64, I64
from lowering.cpu.lib_ir import HelperFunction, helper_name

__all__ = ["Plan", "Cx", "kernel", "init_table", "load_c", "store_c", "root"]


def _radices(n: int):
    """Stage radices of ``n = 2^a 3^b 5^c`` (radix 4 first), or None for other ``n``."""
    counts = {}
    rest = n
    for p in (2, 3, 5):
        counts[p] = 0
        while rest % p == 0:
            rest //= p
            counts[p] += 1
    if rest != 1:
        return None
    out = [4] * (counts[2] // 2) + [2] * (counts[2] % 2) + [3] * counts[3] + [5] * counts[5]
    return out


def _smooth_at_least(n: int) -> int:
    """The least ``2^a 3^b 5^c >= n``."""
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


class Plan:
    """How a length-``n`` transform runs.

    Attributes:
      n: the length; stages: ``(radix, L, m, offset)`` per Stockham stage (``L`` the
        length already combined, ``m = n / (L * radix)``, ``offset`` of its twiddles in
        the table); bluestein: the mixed-radix ``Plan`` a Bluestein transform uses
        (None for mixed radix); work: complex values each of ``x``, ``y`` holds;
        table: complex constants of the table; result_in_y: where the result lands.
    """

    def __init__(self, n: int):
        self.n = n
        radices = _radices(n)
        self.stages = []
        self.bluestein = None
        if radices is None:
            self.bluestein = Plan(_smooth_at_least(2 * n - 1))
            inner = self.bluestein
            self.chirp_at = inner.table            # n chirp values exp(-i pi k^2 / n)
            self.filter_at = inner.table + n       # FFT of the conjugate chirp, / work
            self.table = self.filter_at + inner.n
            self.work = inner.n
            self.result_in_y = False
            return
        length, offset = 1, 0
        for r in radices:
            m = n // (length * r)
            self.stages.append((r, length, m, offset))
            offset += (r - 1) * length
            length *= r
        self.table = offset
        self.work = n
        self.result_in_y = len(self.stages) % 2 == 1


# ---------------------------------------------------------------------------
# complex arithmetic on (real, imaginary) pairs of IR values


class Cx:
    """Complex arithmetic on ``(re, im)`` pairs through ``Emit`` ``e``."""

    def __init__(self, e):
        self.e = e

    def add(self, a, b):
        return (self.e.fadd(a[0], b[0]), self.e.fadd(a[1], b[1]))

    def sub(self, a, b):
        return (self.e.fsub(a[0], b[0]), self.e.fsub(a[1], b[1]))

    def mul(self, a, b):
        e = self.e
        return (e.fsub(e.fmul(a[0], b[0]), e.fmul(a[1], b[1])),
                e.fadd(e.fmul(a[0], b[1]), e.fmul(a[1], b[0])))

    def scale(self, a, s):
        return (self.e.fmul(a[0], s), self.e.fmul(a[1], s))

    def conj(self, a):
        return (a[0], self.e.b.fneg(a[1]))

    def times_minus_i(self, a):
        return (a[1], self.e.b.fneg(a[0]))


def load_c(h: HelperFunction, ptr, index, count: int, ty):
    """Complex element ``index`` (i64) of an interleaved buffer of ``count`` values."""
    at = h.b.shl(h.i64(index), ir.Constant(I64, 1))
    return (h.load_raw(ptr, at, 2 * count, ty),
            h.load_raw(ptr, h.b.or_(at, ir.Constant(I64, 1)), 2 * count, ty))


def store_c(h: HelperFunction, ptr, index, count: int, ty, value) -> None:
    at = h.b.shl(h.i64(index), ir.Constant(I64, 1))
    h.store_raw(ptr, at, 2 * count, ty, value[0])
    h.store_raw(ptr, h.b.or_(at, ir.Constant(I64, 1)), 2 * count, ty, value[1])


# ---------------------------------------------------------------------------
# butterflies (forward: w = exp(-2 pi i / r))


def _butterfly(cx: Cx, a: list, ty) -> list:
    r = len(a)
    if r == 2:
        return [cx.add(a[0], a[1]), cx.sub(a[0], a[1])]
    if r == 4:
        t0, t1 = cx.add(a[0], a[2]), cx.sub(a[0], a[2])
        t2, t3 = cx.add(a[1], a[3]), cx.times_minus_i(cx.sub(a[1], a[3]))
        return [cx.add(t0, t2), cx.add(t1, t3), cx.sub(t0, t2), cx.sub(t1, t3)]
    if r == 3:
        t = cx.add(a[1], a[2])
        s = cx.sub(a[0], cx.scale(t, ir.Constant(ty, 0.5)))
        d = cx.times_minus_i(cx.scale(cx.sub(a[1], a[2]), ir.Constant(ty, math.sqrt(3) / 2)))
        return [cx.add(a[0], t), cx.add(s, d), cx.sub(s, d)]
    if r == 5:
        c1, c2 = (ir.Constant(ty, math.cos(2 * math.pi * k / 5)) for k in (1, 2))
        s1, s2 = (ir.Constant(ty, math.sin(2 * math.pi * k / 5)) for k in (1, 2))
        t1, t2 = cx.add(a[1], a[4]), cx.add(a[2], a[3])
        t3, t4 = cx.sub(a[1], a[4]), cx.sub(a[2], a[3])
        b1 = cx.add(a[0], cx.add(cx.scale(t1, c1), cx.scale(t2, c2)))
        b2 = cx.add(a[0], cx.add(cx.scale(t1, c2), cx.scale(t2, c1)))
        d1 = cx.times_minus_i(cx.add(cx.scale(t3, s1), cx.scale(t4, s2)))
        d2 = cx.times_minus_i(cx.sub(cx.scale(t3, s2), cx.scale(t4, s1)))
        return [cx.add(a[0], cx.add(t1, t2)), cx.add(b1, d1), cx.add(b2, d2),
                cx.sub(b2, d2), cx.sub(b1, d1)]
    raise ValueError(f"fft: no butterfly of radix {r}")  # pragma: no cover


# ---------------------------------------------------------------------------
# roots of unity


def _roots_global(module: ir.Module, big_n: int):
    """The constant ``[coarse..., fine...]`` table (interleaved doubles) of the roots
    ``exp(-2 pi i t / big_n)``: ``coarse[j] = w^(j*B)``, ``fine[j] = w^j``; (global,
    B, number of complex entries)."""
    step = max(1, math.isqrt(big_n - 1) + 1) if big_n > 1 else 1
    coarse_count = -(-big_n // step)
    name = f"fx_fft_roots_{big_n}"
    t = np.concatenate([np.arange(coarse_count) * step, np.arange(step)])
    count = len(t)
    existing = module.globals.get(name)
    if existing is not None:
        return existing, step, count
    angle = -2.0 * np.pi * (t.astype(np.float64) / big_n)
    values = np.empty(2 * count)
    values[0::2], values[1::2] = np.cos(angle), np.sin(angle)
    aty = ir.ArrayType(F64, 2 * count)
    g = ir.GlobalVariable(module, aty, name)
    g.linkage = "internal"
    g.global_constant = True
    g.initializer = ir.Constant(aty, [ir.Constant(F64, float(v)) for v in values])
    return g, step, count


def root(h: HelperFunction, big_n: int, t):
    """``exp(-2 pi i t / big_n)`` in double for an i64 ``t`` in ``[0, big_n)``."""
    g, step, count = _roots_global(h.module, big_n)
    b = h.b
    hi = b.udiv(t, ir.Constant(I64, step))
    lo = b.add(b.urem(t, ir.Constant(I64, step)), ir.Constant(I64, count - step))
    coarse, fine = load_c(h, g, hi, count, F64), load_c(h, g, lo, count, F64)
    return Cx(h.e).mul(coarse, fine)


def _round(h: HelperFunction, value, ty):
    return value if ty == F64 else tuple(h.b.fptrunc(v, ty) for v in value)


def init_table(h: HelperFunction, plan: Plan, table, ty, kernels: dict) -> None:
    """Fill ``plan``'s table at ``table`` (inside helper ``h``); ``kernels`` maps a length
    to its kernel function (Bluestein's filter is transformed with its inner kernel)."""
    b = h.b
    count = plan.table
    if plan.bluestein is not None:
        inner = plan.bluestein
        init_table(h, inner, table, ty, kernels)
        n, work = plan.n, inner.n

        def chirp(k):
            t = b.urem(b.mul(k, k), ir.Constant(I64, 2 * n))
            value = _round(h, root(h, 2 * n, t), ty)
            store_c(h, table, b.add(k, ir.Constant(I64, plan.chirp_at)), count, ty, value)
        h.loop(0, n, chirp)
        inner_fn = kernel(h.module, inner, ty, h.bounds_check, kernels, 1)
        x, y = h.scratch(16 * work), h.scratch(16 * work)
        h.memset(x, 2 * work * (4 if ty == F32 else 8))

        def filt(k):
            c = load_c(h, table, b.add(k, ir.Constant(I64, plan.chirp_at)), count, ty)
            c = Cx(h.e).conj(c)
            store_c(h, x, k, work, ty, c)
            with b.if_then(b.icmp_signed(">", k, ir.Constant(I64, 0))):
                store_c(h, x, b.sub(ir.Constant(I64, work), k), work, ty, c)
        h.loop(0, n, filt)
        b.call(inner_fn, [x, y, table, h.status])
        result = y if inner.result_in_y else x
        scale = ir.Constant(ty, 1.0 / work)

        def store(k):
            value = Cx(h.e).scale(load_c(h, result, k, work, ty), scale)
            store_c(h, table, b.add(k, ir.Constant(I64, plan.filter_at)), count, ty, value)
        h.loop(0, work, store)
        return
    for r, length, m, offset in plan.stages:
        if length == 1:
            continue
        for a in range(1, r):
            def twiddle(k, a=a, r=r, length=length, m=m, offset=offset):
                t = b.mul(k, ir.Constant(I64, a * m))
                value = _round(h, root(h, plan.n, t), ty)
                store_c(h, table, b.add(k, ir.Constant(I64, offset + (a - 1) * length)),
                        count, ty, value)
            h.loop(0, length, twiddle)


# ---------------------------------------------------------------------------
# kernels


def kernel(module: ir.Module, plan: Plan, ty, bounds_check: bool, kernels: dict,
           lanes: int = 1):
    """The kernel function of ``plan`` over ``lanes`` lines (emitted once per module);
    ``kernels`` ((length, lanes) -> function) receives it and the kernels it calls."""
    if (plan.n, lanes) in kernels:
        return kernels[plan.n, lanes]
    if plan.bluestein is not None:
        kernel(module, plan.bluestein, ty, bounds_check, kernels, lanes)
    name = helper_name("fft_kernel", (plan.n, lanes, str(ty), bounds_check))
    fn = HelperFunction.existing(module, name)
    if fn is None:
        h = HelperFunction(module, name, 3, bounds_check)
        if plan.bluestein is None:
            _mixed_radix(h, plan, ty, lanes)
        else:
            _bluestein(h, plan, ty, kernels, lanes)
        fn = h.finish()
    kernels[plan.n, lanes] = fn
    return fn


def _mixed_radix(h: HelperFunction, plan: Plan, ty, lanes: int) -> None:
    x, y, table = h.args
    cx = Cx(h.e)
    b = h.b
    count = plan.work * lanes
    for s, (r, length, m, offset) in enumerate(plan.stages):
        src, dst = (x, y) if s % 2 == 0 else (y, x)

        def point(j, k, r=r, length=length, m=m, offset=offset, src=src, dst=dst):
            twiddles = [None] + [
                load_c(h, table, b.add(k, ir.Constant(I64, offset + (a - 1) * length)),
                       plan.table, ty) if length > 1 else None for a in range(1, r)]
            first = h.linear([(j, length * lanes), (k, lanes)])
            base = h.linear([(j, length * r * lanes), (k, lanes)])

            def lane(c):
                values = []
                for a in range(r):
                    at = b.add(first, h.linear([(c, 1), (ir.Constant(I64, a * m * length *
                                                                      lanes), 1)]))
                    v = load_c(h, src, at, count, ty)
                    values.append(cx.mul(v, twiddles[a]) if twiddles[a] is not None else v)
                out = _butterfly(cx, values, ty)
                for q in range(r):
                    store_c(h, dst, b.add(base, h.linear([(c, 1), (ir.Constant(
                        I64, q * length * lanes), 1)])), count, ty, out[q])
            h.loop(0, lanes, lane)

        zero = ir.Constant(I64, 0)
        if length == 1:
            h.loop(0, m, lambda j, point=point, zero=zero: point(j, zero))
        elif m == 1:
            h.loop(0, length, lambda k, point=point, zero=zero: point(zero, k))
        else:
            h.loop(0, m, lambda j, point=point, length=length:
                   h.loop(0, length, lambda k: point(j, k)))


def _bluestein(h: HelperFunction, plan: Plan, ty, kernels: dict, lanes: int) -> None:
    x, y, table = h.args
    cx = Cx(h.e)
    b = h.b
    inner = plan.bluestein
    n, work, count = plan.n, plan.work * lanes, plan.table
    inner_fn = kernels[inner.n, lanes]

    def each(size, body):  # body(k, index of element k of the lane)
        def row(k):
            base = h.linear([(k, lanes)])
            h.loop(0, lanes, lambda c: body(k, b.add(base, c)))
        h.loop(0, size, row)

    def chirp(k):
        return load_c(h, table, b.add(k, ir.Constant(I64, plan.chirp_at)), count, ty)

    def modulate(k, at):
        store_c(h, y, at, work, ty, cx.mul(load_c(h, x, at, work, ty), chirp(k)))
    each(n, modulate)
    size = 4 if ty == F32 else 8
    h.memset(b.gep(y, [ir.Constant(I64, 2 * n * lanes)], source_etype=ty),
             2 * (plan.work - n) * lanes * size)
    b.call(inner_fn, [y, x, table, h.status])
    first, other = (x, y) if inner.result_in_y else (y, x)

    def filt(k, at):
        f = load_c(h, table, b.add(k, ir.Constant(I64, plan.filter_at)), count, ty)
        store_c(h, first, at, work, ty, cx.conj(cx.mul(load_c(h, first, at, work, ty), f)))
    each(plan.work, filt)
    b.call(inner_fn, [first, other, table, h.status])
    second = other if inner.result_in_y else first

    def demodulate(k, at):
        store_c(h, x, at, work, ty, cx.mul(chirp(k), cx.conj(load_c(h, second, at, work, ty))))
    each(n, demodulate)
