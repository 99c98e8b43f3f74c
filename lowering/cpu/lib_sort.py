"""Native ``sort`` (several operands, ``num_keys`` keys) and ``top_k``: a stable sort of
each row of the sorted dimension computing a permutation, then every operand
gathered through it.

Invariants: each key is mapped to an unsigned integer of its width whose order is
JAX's (and the eager impl's): -inf < ... < -0.0 == 0.0 < ... < inf < NaN, every
NaN equal; signed integers have their sign bit flipped; bools are 0/1. ``top_k``
sorts the complement (descending, NaN first). Rows longer than
``INSERTION_MAX`` are sorted by LSD radix sort (stable: keys from the least
significant one, bytes from the lowest; a byte on which the whole row agrees is
skipped) in heap scratch; shorter rows by insertion sort of a stack permutation.
``top_k`` with a small ``k`` keeps the best ``k`` in one pass over the row.
Every index the permutation holds is in ``[0, n)`` by construction.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir

from fx.core import DropVar
from lowering.cpu.irutil import I1, I32, I64, PTR, SUPPORTED_DTYPES, mem_type
from lowering.cpu.lib_ir import HelperFunction, call_helper, helper_name
from lowering.cpu.library import register

__all__ = ["INSERTION_MAX", "SELECT_MAX"]

#: rows up to this length are insertion-sorted
INSERTION_MAX = 24
#: top_k with k up to this selects in one pass instead of sorting the row
SELECT_MAX = 32
_RADIX = 256


def _key_type(dtype) -> ir.IntType:
    return ir.IntType(8 * np.dtype(dtype).itemsize)


def _ordered_key(h: HelperFunction, dtype, value, descending: bool):
    """``value`` (register form) as an unsigned integer in sort order."""
    dtype = np.dtype(dtype)
    b = h.b
    ty = _key_type(dtype)
    sign = ir.Constant(ty, 1 << (ty.width - 1))
    if dtype == np.bool_:
        key = b.zext(value, ty)
    elif dtype.kind == "f":
        bits = b.bitcast(value, ty)
        negative = b.icmp_signed("<", bits, ir.Constant(ty, 0))
        key = b.select(negative, b.not_(bits), b.or_(bits, sign))
        key = b.select(b.fcmp_ordered("==", value, ir.Constant(value.type, 0.0)), sign, key)
        key = b.select(h.e.isnan(value), ir.Constant(ty, -1), key)
    elif dtype.kind == "i":
        key = b.xor(value, sign)
    else:
        key = value
    return b.not_(key) if descending else key


class _RowSorter:
    """Emits the per-row permutation sort of ``keys`` (pointer, dtype) into a helper."""

    def __init__(self, h: HelperFunction, keys, outer, n, inner, descending):
        self.h, self.keys = h, keys
        self.outer, self.n, self.inner = outer, n, inner
        self.total = outer * n * inner
        self.descending = descending
        self.idx_ty = I32 if n < 2 ** 31 else I64
        self.idx_bytes = self.idx_ty.width // 8
        self.perm_count = n
        width = max(np.dtype(d).itemsize for _, d in keys)
        if n > INSERTION_MAX:
            self.perm = [h.scratch(n * self.idx_bytes), h.scratch(n * self.idx_bytes)]
            self.kbuf = [h.scratch(n * width), h.scratch(n * width)]
            self.counts = h.scratch(_RADIX * width * self.idx_bytes)
            self.count_n = _RADIX * width
            self.vars = {name: h.variable(PTR) for name in ("psrc", "pdst", "ksrc", "kdst")}
        else:
            with h.b.goto_block(h.entry):
                self.perm = [h.b.alloca(self.idx_ty, size=ir.Constant(I64, max(n, 1)))]

    # -- helpers ----------------------------------------------------------------------
    def key_at(self, k, base, position):
        """The ordered key ``k`` of the row element at ``position`` (i64)."""
        h = self.h
        ptr, dtype = self.keys[k]
        at = h.b.add(base, h.linear([(position, self.inner)]))
        return _ordered_key(h, dtype, h.load(ptr, at, self.total, dtype), self.descending)

    def perm_at(self, ptr, i):
        h = self.h
        v = h.load_raw(ptr, i, self.perm_count, self.idx_ty)
        return v if self.idx_ty == I64 else h.b.zext(v, I64)

    def set_perm(self, ptr, i, value):
        h = self.h
        if self.idx_ty != I64:
            value = h.b.trunc(value, self.idx_ty)
        h.store_raw(ptr, i, self.perm_count, self.idx_ty, value)

    # -- the sort -----------------------------------------------------------------------
    def sort_row(self, base):
        """Sort the row at ``base``; returns the pointer holding its permutation."""
        h = self.h
        if self.n <= INSERTION_MAX:
            perm = self.perm[0]
            h.loop(0, self.n, lambda i: self.set_perm(perm, i, i))
            self._insertion(base, perm)
            return perm
        v = self.vars
        for name, ptr in (("psrc", self.perm[0]), ("pdst", self.perm[1]),
                          ("ksrc", self.kbuf[0]), ("kdst", self.kbuf[1])):
            h.b.store(ptr, v[name])
        h.loop(0, self.n, lambda i: self.set_perm(self.perm[0], i, i))
        for k in reversed(range(len(self.keys))):
            self._radix_key(base, k, identity=k == len(self.keys) - 1)
        return h.b.load(v["psrc"], typ=PTR)

    def _less(self, base, pa, pb):
        """Whether the element at ``pa`` sorts strictly before the one at ``pb``."""
        b = self.h.b
        result = None
        for k in reversed(range(len(self.keys))):
            ka, kb = self.key_at(k, base, pa), self.key_at(k, base, pb)
            lt = b.icmp_unsigned("<", ka, kb)
            result = lt if result is None else b.or_(lt, b.and_(
                b.icmp_unsigned("==", ka, kb), result))
        return result

    def _insertion(self, base, perm):
        h = self.h
        b = h.b
        slot = h.variable(I64)

        def outer_step(i):
            cur = self.perm_at(perm, i)
            b.store(i, slot)
            header = h.fn.append_basic_block("ins.header")
            test = h.fn.append_basic_block("ins.test")
            shift = h.fn.append_basic_block("ins.shift")
            done = h.fn.append_basic_block("ins.done")
            b.branch(header)
            b.position_at_end(header)
            j = b.load(slot, typ=I64)
            b.cbranch(b.icmp_signed(">", j, ir.Constant(I64, 0)), test, done)
            b.position_at_end(test)
            prev = self.perm_at(perm, b.sub(j, ir.Constant(I64, 1)))
            b.cbranch(self._less(base, cur, prev), shift, done)
            b.position_at_end(shift)
            self.set_perm(perm, j, prev)
            b.store(b.sub(j, ir.Constant(I64, 1)), slot)
            b.branch(header)
            b.position_at_end(done)
            self.set_perm(perm, b.load(slot, typ=I64), cur)

        h.loop(1, self.n, outer_step)

    def _radix_key(self, base, k, identity):
        """One stable LSD radix sort of the current permutation by key ``k``."""
        h = self.h
        b = h.b
        v = self.vars
        n = self.n
        _, dtype = self.keys[k]
        kty = _key_type(dtype)
        width = kty.width // 8
        ksrc, psrc = b.load(v["ksrc"], typ=PTR), b.load(v["psrc"], typ=PTR)

        def gather(i):
            position = i if identity else self.perm_at(psrc, i)
            h.store_raw(ksrc, i, n, kty, self.key_at(k, base, position))
        h.loop(0, n, gather)

        h.memset(self.counts, _RADIX * width * self.idx_bytes)
        one = ir.Constant(self.idx_ty, 1)

        def digit(key, byte):
            shifted = b.lshr(key, ir.Constant(kty, 8 * byte)) if byte else key
            return b.zext(b.and_(shifted, ir.Constant(kty, 255)), I64) if kty.width > 8 \
                else b.zext(shifted, I64)

        def count(i):
            key = h.load_raw(ksrc, i, n, kty)
            for byte in range(width):
                at = b.add(digit(key, byte), ir.Constant(I64, _RADIX * byte))
                c = h.load_raw(self.counts, at, self.count_n, self.idx_ty)
                h.store_raw(self.counts, at, self.count_n, self.idx_ty, b.add(c, one))
        h.loop(0, n, count)

        for byte in range(width):
            offset = ir.Constant(I64, _RADIX * byte)
            src_k = b.load(v["ksrc"], typ=PTR)
            first = b.add(digit(h.load_raw(src_k, 0, n, kty), byte), offset)
            c0 = h.load_raw(self.counts, first, self.count_n, self.idx_ty)
            with b.if_then(b.icmp_unsigned("!=", c0, ir.Constant(self.idx_ty, n))):
                self._radix_pass(byte, kty, digit)

    def _radix_pass(self, byte, kty, digit):
        h = self.h
        b = h.b
        v = self.vars
        n = self.n
        offset = ir.Constant(I64, _RADIX * byte)
        running = h.variable(self.idx_ty, ir.Constant(self.idx_ty, 0))

        def prefix(d):
            at = b.add(d, offset)
            c = h.load_raw(self.counts, at, self.count_n, self.idx_ty)
            start = b.load(running, typ=self.idx_ty)
            h.store_raw(self.counts, at, self.count_n, self.idx_ty, start)
            b.store(b.add(start, c), running)
        h.loop(0, _RADIX, prefix)

        ksrc, kdst = b.load(v["ksrc"], typ=PTR), b.load(v["kdst"], typ=PTR)
        psrc, pdst = b.load(v["psrc"], typ=PTR), b.load(v["pdst"], typ=PTR)

        def scatter(i):
            key = h.load_raw(ksrc, i, n, kty)
            at = b.add(digit(key, byte), offset)
            pos = h.load_raw(self.counts, at, self.count_n, self.idx_ty)
            h.store_raw(self.counts, at, self.count_n, self.idx_ty,
                        b.add(pos, ir.Constant(self.idx_ty, 1)))
            pos = b.zext(pos, I64) if self.idx_ty != I64 else pos
            h.store_raw(kdst, pos, n, kty, key)
            h.store_raw(pdst, pos, n, self.idx_ty, h.load_raw(psrc, i, n, self.idx_ty))
        h.loop(0, n, scatter)
        b.store(kdst, v["ksrc"])
        b.store(ksrc, v["kdst"])
        b.store(pdst, v["psrc"])
        b.store(psrc, v["pdst"])


class _TopSelector(_RowSorter):
    """The ``k`` first elements of a row in descending order (NaN first, ties by lower
    index) without sorting it: one pass keeping the best ``k`` (ordered keys and
    positions) sorted on the stack; an element enters only when strictly better than
    the current ``k``-th, after the equal ones already kept."""

    def __init__(self, h: HelperFunction, key, outer, n, inner, k):
        self.h, self.keys = h, [key]
        self.outer, self.n, self.inner = outer, n, inner
        self.total = outer * n * inner
        self.descending = True
        self.k = k
        self.idx_ty = I32 if n < 2 ** 31 else I64
        self.perm_count = k
        self.kty = _key_type(key[1])
        with h.b.goto_block(h.entry):
            self.best = h.b.alloca(self.kty, size=ir.Constant(I64, k))
            self.perm = [h.b.alloca(self.idx_ty, size=ir.Constant(I64, k))]
        self.count = h.variable(I64)
        self.slot = h.variable(I64)

    def sort_row(self, base):
        h, b, k, kty = self.h, self.h.b, self.k, self.kty
        perm = self.perm[0]
        b.store(ir.Constant(I64, 0), self.count)

        def step(i):
            key = self.key_at(0, base, i)
            count = b.load(self.count, typ=I64)
            full = b.icmp_signed("==", count, ir.Constant(I64, k))
            last = h.load_raw(self.best, b.select(full, ir.Constant(I64, k - 1),
                                                  ir.Constant(I64, 0)), k, kty)
            worse = b.select(full, b.icmp_unsigned(">=", key, last), ir.Constant(I1, 0))
            with b.if_then(b.not_(worse)):
                b.store(b.select(full, ir.Constant(I64, k - 1), count), self.slot)
                header = h.fn.append_basic_block("top.header")
                test = h.fn.append_basic_block("top.test")
                shift = h.fn.append_basic_block("top.shift")
                done = h.fn.append_basic_block("top.done")
                b.branch(header)
                b.position_at_end(header)
                j = b.load(self.slot, typ=I64)
                b.cbranch(b.icmp_signed(">", j, ir.Constant(I64, 0)), test, done)
                b.position_at_end(test)
                before = b.sub(j, ir.Constant(I64, 1))
                prev = h.load_raw(self.best, before, k, kty)
                b.cbranch(b.icmp_unsigned(">", prev, key), shift, done)
                b.position_at_end(shift)
                h.store_raw(self.best, j, k, kty, prev)
                self.set_perm(perm, j, self.perm_at(perm, before))
                b.store(before, self.slot)
                b.branch(header)
                b.position_at_end(done)
                j = b.load(self.slot, typ=I64)
                h.store_raw(self.best, j, k, kty, key)
                self.set_perm(perm, j, i)
                b.store(b.select(full, count, b.add(count, ir.Constant(I64, 1))), self.count)
        h.loop(0, self.n, step)
        return perm


def _copy_through(h: HelperFunction, sorter, perm, src, dst, dtype, in_base, out_base,
                  count, out_total):
    """``dst[out_base + i*inner] = src[in_base + perm[i]*inner]`` for ``i < count``."""
    ty = mem_type(dtype)
    inner = sorter.inner

    def body(i):
        at = h.b.add(in_base, h.linear([(sorter.perm_at(perm, i), inner)]))
        value = h.load_raw(src, at, sorter.total, ty)
        h.store_raw(dst, h.b.add(out_base, h.linear([(i, inner)])), out_total, ty, value)
    h.loop(0, count, body)


def _rows(h, sorter, body):
    """``body(o, j, base)`` for every row (outer index ``o``, inner index ``j``)."""
    n, inner = sorter.n, sorter.inner
    h.nest((sorter.outer, inner),
           lambda ivs: body(ivs[0], ivs[1], h.linear([(ivs[0], n * inner), (ivs[1], 1)])))


# ---------------------------------------------------------------------------
# sort


def _sort_supports(eqn) -> bool:
    return all(v.aval.dtype in SUPPORTED_DTYPES for v in eqn.invars)


def _sort_emit(ctx, eqn) -> None:
    shape = tuple(eqn.invars[0].aval.shape)
    dim, num_keys = int(eqn.params["dimension"]), int(eqn.params["num_keys"])
    outer, n, inner = math.prod(shape[:dim]), shape[dim], math.prod(shape[dim + 1:])
    if outer * n * inner == 0:
        return
    dtypes = [np.dtype(v.aval.dtype) for v in eqn.invars]
    live = [not isinstance(o, DropVar) for o in eqn.outvars]
    key = (tuple(d.str for d in dtypes), num_keys, outer, n, inner, tuple(live),
           ctx.bounds_check)
    fname = helper_name("sort", key)
    fn = HelperFunction.existing(ctx.module, fname)
    if fn is None:
        m = len(dtypes)
        h = HelperFunction(ctx.module, fname, 2 * m, ctx.bounds_check)
        ins, outs = h.args[:m], h.args[m:]
        keys = list(zip(ins[:num_keys], dtypes[:num_keys], strict=True))
        sorter = _RowSorter(h, keys, outer, n, inner, descending=False)

        def row(o, j, base):
            perm = sorter.sort_row(base)
            for src, dst, dtype, alive in zip(ins, outs, dtypes, live, strict=True):
                if alive:
                    _copy_through(h, sorter, perm, src, dst, dtype, base, base, n,
                                  sorter.total)
        _rows(h, sorter, row)
        fn = h.finish()
    call_helper(ctx, fn, eqn)


# ---------------------------------------------------------------------------
# top_k


def _top_k_supports(eqn) -> bool:
    return eqn.invars[0].aval.dtype in SUPPORTED_DTYPES


def _top_k_emit(ctx, eqn) -> None:
    (x,) = eqn.invars
    shape = tuple(x.aval.shape)
    axis, k = int(eqn.params["axis"]), int(eqn.params["k"])
    outer, n, inner = math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])
    if outer * k * inner == 0:
        return
    dtype = np.dtype(x.aval.dtype)
    live = [not isinstance(o, DropVar) for o in eqn.outvars]
    key = (dtype.str, k, outer, n, inner, tuple(live), ctx.bounds_check)
    fname = helper_name("top_k", key)
    fn = HelperFunction.existing(ctx.module, fname)
    if fn is None:
        h = HelperFunction(ctx.module, fname, 3, ctx.bounds_check)
        src, values, indices = h.args
        if k <= SELECT_MAX and n > INSERTION_MAX:
            sorter = _TopSelector(h, (src, dtype), outer, n, inner, k)
        else:
            sorter = _RowSorter(h, [(src, dtype)], outer, n, inner, descending=True)
        out_total = outer * k * inner

        def row(o, j, base):
            perm = sorter.sort_row(base)
            out_base = h.linear([(o, k * inner), (j, 1)])
            if live[0]:
                _copy_through(h, sorter, perm, src, values, dtype, base, out_base, k,
                              out_total)
            if live[1]:
                def index(i):
                    at = h.b.add(out_base, h.linear([(i, inner)]))
                    h.store_raw(indices, at, out_total, I32,
                                h.b.trunc(sorter.perm_at(perm, i), I32))
                h.loop(0, k, index)
        _rows(h, sorter, row)
        fn = h.finish()
    call_helper(ctx, fn, eqn)


register("sort", _sort_supports, _sort_emit)
register("top_k", _top_k_supports, _top_k_emit)
