"""The index-only operations of loop kernels (a mixin of ``loops._Kernel``): the value
of an index operation's output at index ``idx`` is its operand's value at an index
computed from ``idx`` (broadcast, reshape, transpose, iota, slice, rev, pad,
concatenate, dynamic_slice, dynamic_update_slice, gather).

Invariants: every operand index is in bounds for any index value the data supplies
(dynamic starts, gather's included, are clamped as XLA clamps them; pad,
concatenate and gather's ``FILL_OR_DROP`` read clamped positions and select).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir

from lowering.cpu import codegen
from lowering import index_arith
from lowering.kernel_common import CodegenError
from lowering.cpu.irutil import I64, reg_type

__all__ = ["IndexOps"]


class IndexOps:
    """The index operations of a loop kernel: ``index_arith``'s (shared with the GPU
    emitter) on LLVM values, plus ``dynamic_update_slice`` and ``gather``; on top of the
    kernel's ``value``, ``add``, ``mul``, ``divc``, ``modc``, ``clamp``, ``iconst``,
    ``b`` (builder) and ``e`` (Emit)."""

    def index_value(self, eqn, idx):
        name = eqn.primitive.name
        if name == "dynamic_update_slice":
            return self.dynamic_update_slice(eqn, idx)
        if name == "gather":
            return self.gather(eqn, idx)
        try:
            return index_arith.index_value(eqn, idx, self, self.value)
        except KeyError:
            raise CodegenError(f"no loop code for primitive {name}") from None

    # -- the rest of index_arith.IndexArithmetic (add, mul, divc, modc and clamp are
    # the kernel's own) -------------------------------------------------------------
    def sdivc(self, a, c: int):
        if isinstance(a, int):
            return a // c
        cc = ir.Constant(I64, c)
        q, r = self.b.sdiv(a, cc), self.b.srem(a, cc)
        neg = self.b.icmp_signed("<", r, ir.Constant(I64, 0))
        return self.b.sub(q, self.b.zext(neg, I64))    # floor for c > 0

    def smodc_zero(self, a, c: int):
        return self.b.icmp_signed("==", self.b.srem(self.iconst(a), ir.Constant(I64, c)),
                                  ir.Constant(I64, 0))

    def cmp(self, op: str, a, c: int):
        return self.b.icmp_signed(op, self.iconst(a), ir.Constant(I64, c))

    def all(self, conds):
        out = None
        for c in conds:
            out = c if out is None else self.b.and_(out, c)
        return out

    def select(self, cond, if_true, if_false, dtype):
        return self.b.select(cond, if_true, if_false)

    def to_index(self, value, dtype):
        return codegen.convert(self.e, value, np.dtype(dtype), np.dtype(np.int64))

    def from_index(self, index, dtype):
        return codegen.convert(self.e, self.iconst(index), np.dtype(np.int64), dtype)

    def literal(self, value, dtype):
        return self.e.const(reg_type(dtype), value)

    def linearize(self, idx, shape):
        return index_arith.linearize(self, idx, shape)

    def delinearize(self, lin, shape):
        return index_arith.delinearize(self, lin, shape)

    def dynamic_update_slice(self, eqn, idx):
        """The operand with the update written at clamped starts: per element, the
        update's value inside the window, the operand's outside (both reads in bounds)."""
        x, upd, *starts = eqn.invars
        inside = None
        u_idx = []
        for i, s, size, n in zip(idx, starts, upd.aval.shape, x.aval.shape):
            start = self.value(s, ())
            start = codegen.convert(self.e, start, s.aval.dtype, np.dtype(np.int64))
            start = self.clamp(start, 0, n - size)
            j = self.b.sub(self.iconst(i), start)
            ok = self.b.and_(self.b.icmp_signed(">=", j, ir.Constant(I64, 0)),
                             self.b.icmp_signed("<", j, ir.Constant(I64, size)))
            inside = ok if inside is None else self.b.and_(inside, ok)
            u_idx.append(self.clamp(j, 0, max(size - 1, 0)))
        old = self.value(x, idx)
        if upd.aval.size == 0:
            return old
        new = self.value(upd, tuple(u_idx))
        return old if inside is None else self.b.select(inside, new, old)

    def gather(self, eqn, idx):
        """The operand element an output index of ``gather`` reads, as the eager impl
        reads it: the output's batch dimensions give the position in the indices, whose
        index vector (widened to i64 as ``astype(int64)`` does) gives the window start
        of each dimension in ``start_index_map``, clamped into ``[0, size - window]``;
        the output's offset dimensions give the position inside the window; operand
        batching dimensions take the matching batch coordinate. ``FILL_OR_DROP`` selects
        ``fill_value`` where some start had to be clamped (the read stays in bounds)."""
        from lowering.cpu.lib_gather import fill_constant, gather_mode
        from primitives.indexing import GatherScatterMode
        operand, indices = eqn.invars
        p = eqn.params
        dn = p["dimension_numbers"]
        sizes = p["slice_sizes"]
        op_shape = operand.aval.shape
        dropped = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
        window_dims = [d for d in range(len(op_shape)) if d not in dropped]
        op_idx = [0] * len(op_shape)
        for d, q in zip(window_dims, dn.offset_dims):
            op_idx[d] = idx[q]
        offsets = set(dn.offset_dims)
        batch = tuple(i for q, i in enumerate(idx) if q not in offsets)
        for d, j in zip(dn.operand_batching_dims, dn.start_indices_batching_dims):
            op_idx[d] = batch[j]
        fill = gather_mode(p) is GatherScatterMode.FILL_OR_DROP
        itype = indices.aval.dtype
        fits = None
        for k, d in enumerate(dn.start_index_map):
            start = self.value(indices, batch + (k,))
            start = codegen.convert(self.e, start, itype, np.dtype(np.int64))
            hi = op_shape[d] - sizes[d]
            if fill:
                ok = self.b.and_(self.b.icmp_signed(">=", start, ir.Constant(I64, 0)),
                                 self.b.icmp_signed("<=", start, ir.Constant(I64, hi)))
                fits = ok if fits is None else self.b.and_(fits, ok)
            op_idx[d] = self.add(self.clamp(start, 0, max(hi, 0)), op_idx[d])
        val = self.value(operand, tuple(op_idx))
        if fits is None:
            return val
        dtype = eqn.outvars[0].aval.dtype
        return self.b.select(fits, val, fill_constant(dtype, p.get("fill_value")))
