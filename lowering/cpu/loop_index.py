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
from lowering.fusion import squeezed
from lowering.kernel_common import CodegenError
from lowering.cpu.irutil import I64, reg_type

__all__ = ["IndexOps"]


class IndexOps:
    """Index arithmetic on top of the kernel's ``value``, ``add``, ``mul``, ``clamp``,
    ``iconst``, ``linearize``/``delinearize``, ``b`` (builder) and ``e`` (Emit)."""

    def index_value(self, eqn, idx):
        name = eqn.primitive.name
        p = eqn.params
        out_aval = eqn.outvars[0].aval
        x = eqn.invars[0] if eqn.invars else None
        if name == "broadcast_in_dim":
            dims = p["broadcast_dimensions"]
            return self.value(x, tuple(0 if x.aval.shape[i] == 1 else idx[d]
                                       for i, d in enumerate(dims)))
        if name in ("reshape", "squeeze", "expand_dims"):
            xs, os_ = x.aval.shape, out_aval.shape
            if squeezed(xs) == squeezed(os_):
                moving = iter([i for i, s in zip(idx, os_) if s != 1])
                return self.value(x, tuple(0 if s == 1 else next(moving) for s in xs))
            return self.value(x, self.delinearize(self.linearize(idx, os_), xs))
        if name == "transpose":
            perm = p["permutation"]
            x_idx = [0] * len(perm)
            for d, src in enumerate(perm):
                x_idx[src] = idx[d]
            return self.value(x, tuple(x_idx))
        if name == "iota":
            i = self.iconst(idx[p["dimension"]])
            return codegen.convert(self.e, i, np.dtype(np.int64), out_aval.dtype)
        if name == "slice":
            strides = p.get("strides") or (1,) * len(idx)
            return self.value(x, tuple(self.add(self.mul(i, st), s) for i, st, s in
                                       zip(idx, strides, p["start_indices"])))
        if name == "rev":
            dims = set(p["dimensions"])
            return self.value(x, tuple(
                self.add(x.aval.shape[d] - 1, self.mul(i, -1)) if d in dims else i
                for d, i in enumerate(idx)))
        if name == "pad":
            return self.pad(eqn, idx)
        if name == "concatenate":
            return self.concatenate(eqn, idx)
        if name == "dynamic_slice":
            return self.dynamic_slice(eqn, idx)
        if name == "dynamic_update_slice":
            return self.dynamic_update_slice(eqn, idx)
        if name == "gather":
            return self.gather(eqn, idx)
        raise CodegenError(f"no loop code for primitive {name}")

    def pad(self, eqn, idx):
        x, padv = eqn.invars
        pad_val = self.value(padv, ())
        if x.aval.size == 0:
            return pad_val
        valid = None
        x_idx = []
        for i, (lo, _hi, interior), n in zip(idx, eqn.params["padding_config"], x.aval.shape):
            step = interior + 1
            j = self.add(i, -lo)
            if isinstance(j, int):
                ok = j >= 0 and j % step == 0 and j // step < n
                if not ok:
                    return pad_val
                x_idx.append(j // step)
                continue
            conds = [self.b.icmp_signed(">=", j, ir.Constant(I64, 0))]
            pos = j
            if step > 1:
                conds.append(self.b.icmp_signed("==", self.b.srem(j, ir.Constant(I64, step)),
                                                ir.Constant(I64, 0)))
                pos = self.b.sdiv(j, ir.Constant(I64, step))
            conds.append(self.b.icmp_signed("<", pos, ir.Constant(I64, n)))
            for c in conds:
                valid = c if valid is None else self.b.and_(valid, c)
            x_idx.append(self.clamp(pos, 0, n - 1))
        val = self.value(x, tuple(x_idx))
        return val if valid is None else self.b.select(valid, val, pad_val)

    def concatenate(self, eqn, idx):
        d = eqn.params["dimension"]
        pieces, offset = [], 0
        for x in eqn.invars:
            n = x.aval.shape[d]
            if n:
                pieces.append((offset, n, x))
            offset += n
        i = idx[d]
        if not pieces:  # an empty result: the loops around never run
            return self.e.const(reg_type(eqn.outvars[0].aval.dtype), 0)
        if isinstance(i, int):
            for off, n, x in pieces:
                if off <= i < off + n:
                    return self.value(x, idx[:d] + (i - off,) + idx[d + 1:])
        result = None
        for off, n, x in pieces:
            local = self.clamp(self.add(i, -off), 0, n - 1)
            val = self.value(x, idx[:d] + (local,) + idx[d + 1:])
            if result is None:
                result = val
            else:
                result = self.b.select(self.b.icmp_signed(">=", i, ir.Constant(I64, off)),
                                       val, result)
        return result

    def dynamic_slice(self, eqn, idx):
        x, *starts = eqn.invars
        sizes = eqn.params["slice_sizes"]
        x_idx = []
        for i, s, size, n in zip(idx, starts, sizes, x.aval.shape):
            start = self.value(s, ())
            start = codegen.convert(self.e, start, s.aval.dtype, np.dtype(np.int64))
            start = self.clamp(start, 0, n - size)
            x_idx.append(self.add(start, i))
        return self.value(x, tuple(x_idx))

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
