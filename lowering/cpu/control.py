"""Native control flow for the CPU backend: ``while``, ``scan`` and ``cond`` become
loops and branches inside the segment's entry function.

Invariants: a control-flow equation runs natively only when every sub-jaxpr
(cond and body, scan body, each branch), optimized and fused with the same
backend, has no fallback group (nested control flow included); otherwise the
whole equation runs its eager impl. Each sub-jaxpr of each equation instance
gets its own *scope* (variable -> buffer slot), so a body shared by two
equations never shares buffers. Buffers stay put across iterations: the loop
carry lives in the equation's output buffers (the body's carry inputs are bound
to them), each iteration's new carry is copied back with ``memcpy`` (through a
temporary where one carry output is another carry input), scan slices are
copied in and out of per-slice buffers, and the generated kernels read fixed
pointers. All sizes are static, and the scan index stays in ``[0, length)``, so
no copy can leave its buffer.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from llvmlite import ir

from fx.core import DropVar, Literal
from lowering import fusion
from lowering.cpu.irutil import I64, PTR, mem_type, memcpy

__all__ = ["CONTROL", "Planner", "Scope", "ControlPlan", "plan", "emit"]

CONTROL = frozenset({"while", "scan", "cond"})
_I8 = ir.IntType(8)


def _nbytes(aval) -> int:
    return int(np.prod(aval.shape, dtype=np.int64)) * np.dtype(aval.dtype).itemsize


def _sub_jaxprs(eqn) -> list:
    p = eqn.params
    name = eqn.primitive.name
    if name == "while":
        return [p["cond_jaxpr"], p["body_jaxpr"]]
    if name == "scan":
        return [p["jaxpr"]]
    return list(p["branches"])


class Planner:
    """Optimizes and fuses sub-jaxprs and says whether a control-flow equation can run
    natively (the GPU backend's planner is this one with ``allow_fallbacks``: its host
    loops run fallback equations of a body on the host).

    Args:
      optimize: ``optimize(closed) -> closed`` (the backend's pass pipeline).
      supported: the backend's predicate for every other equation.
    """

    allow_fallbacks = False  # whether a body with eager-fallback equations runs natively

    def __init__(self, optimize: Callable, supported: Callable):
        self._optimize = optimize
        self._supported = supported
        self._bodies: dict[int, tuple] = {}
        self._native: dict[int, bool] = {}

    def supported(self, eqn) -> bool:
        """The predicate fusion uses: control flow when its bodies are native."""
        if eqn.primitive.name in CONTROL:
            return self.native(eqn)
        return self._supported(eqn)

    def body(self, closed):
        """``(optimized closed jaxpr, fusion groups)`` of a sub-jaxpr (cached)."""
        entry = self._bodies.get(id(closed))
        if entry is None:
            opt = self._optimize(closed)
            entry = (opt, fusion.fuse(opt.jaxpr, self.supported), closed)
            self._bodies[id(closed)] = entry
        return entry[0], entry[1]

    def native(self, eqn) -> bool:
        """Whether ``eqn`` (a while, scan or cond) runs natively."""
        known = self._native.get(id(eqn))
        if known is None:
            self._native[id(eqn)] = False  # a body cannot contain its own equation
            known = self._check(eqn)
            self._native[id(eqn)] = known
        return known

    def _check(self, eqn) -> bool:
        name = eqn.primitive.name
        if name == "cond":
            index = eqn.invars[0].aval
            if index.shape != () or np.dtype(index.dtype).kind not in "biu":
                return False
        avals = [v.aval for v in eqn.invars] + [v.aval for v in eqn.outvars]
        if any(not hasattr(a, "dtype") or np.dtype(a.dtype).kind == "O" for a in avals):
            return False
        if name == "while":
            pred = eqn.params["cond_jaxpr"].out_avals[0]
            if pred.shape != () or np.dtype(pred.dtype) != np.bool_:
                return False  # a batched predicate: the eager impl handles it
        for sub in _sub_jaxprs(eqn):
            _, groups = self.body(sub)  # (fuses nested control flow, and checks it, now)
            if not self.allow_fallbacks and any(g.kind == "fallback" for g in groups):
                return False
        return True


class Scope:
    """The buffer slots of one (sub-)program: ``slot_of`` maps ``id(var)`` to a slot of
    the executable's flat buffer table; ``plans`` maps ``id(group)`` to the
    ``ControlPlan`` of a control-flow group in this scope."""

    def __init__(self, table):
        self.table = table
        self.slot_of: dict[int, int] = {}
        self.plans: dict[int, ControlPlan] = {}
        self._literal_slots: dict[tuple, int] = {}

    def slot(self, v) -> int:
        """The slot of ``v`` (a new one, initialized for literals, on first sight).

        Equal literals share one read-only slot whether or not they are one ``Literal``
        object: the layout must follow from the program's canonical text alone (the
        native-code cache key, which writes literals by value), or two programs with the
        same text and differently shared literals would share code built for the other's
        slots."""
        s = self.slot_of.get(id(v))
        if s is None:
            if isinstance(v, Literal):
                value = np.asarray(v.val, v.aval.dtype)
                key = (value.dtype.str, value.shape, value.tobytes())
                s = self._literal_slots.get(key)
                if s is None:
                    s = self._literal_slots[key] = self.table.new(v.aval, value)
            else:
                s = self.table.new(v.aval, None)
            self.slot_of[id(v)] = s
        return s

    def bind(self, v, s: int) -> None:
        self.slot_of[id(v)] = s

    def const(self, v, value) -> int:
        s = self.table.new(v.aval, value)
        self.slot_of[id(v)] = s
        return s


class _Body:
    """A sub-jaxpr planned into a scope."""

    def __init__(self, opt, groups, scope):
        self.opt = opt
        self.groups = groups
        self.scope = scope
        self.written: set[int] = set()  # slots written by this body's own groups

    def out_slots(self) -> list[int]:
        return [self.scope.slot(v) for v in self.opt.jaxpr.outvars]


class ControlPlan:
    """Slots and copies of one control-flow equation.

    Attributes:
      kind: ``"while"``, ``"scan"`` or ``"cond"``.
      bodies: the planned sub-jaxprs (while: cond then body; scan: body; cond: branches).
      used: every slot the generated code touches; defined: the slots it writes (the
        executable allocates them).
    """

    def __init__(self, kind, eqn):
        self.kind = kind
        self.eqn = eqn
        self.bodies: list[_Body] = []
        self.used: set[int] = set()
        self.defined: set[int] = set()
        self.init_copies: list[tuple[int, int, int]] = []   # (src, dst, nbytes)
        self.carry_copies: list[tuple[int, int, int]] = []  # phase 2 of the carry update
        self.temp_copies: list[tuple[int, int, int]] = []   # phase 1 (through temps)
        self.x_slices: list[tuple[int, int, int]] = []      # (xs slot, x slot, slice bytes)
        self.y_copies: list[tuple[int, int, int]] = []      # (y slot, ys slot, slice bytes)
        self.ys_direct: list[tuple[int, int, int]] = []     # (y slot, ys slot, slice bytes)
        # (carry slot, body output slot, alternate buffer slot or None, nbytes): carries
        # handed over by pointer (None: the output is written into a ys slice)
        self.pointer_carries: list[tuple] = []
        self.carried_y: dict[int, int] = {}
        self.out_copies: list[list[tuple[int, int, int]]] = []  # cond: per branch
        self.pred_slot = self.index_slot = None
        self.index_dtype = None


def _plan_body(planner, table, closed, bind: list[tuple]) -> _Body:
    """Plan ``closed`` in a new scope whose invars are bound to the given slots."""
    opt, groups = planner.body(closed)
    scope = Scope(table)
    for v, s in zip(opt.jaxpr.invars, bind):
        scope.bind(v, s)
    for v, c in zip(opt.jaxpr.constvars, opt.consts):
        scope.const(v, np.require(np.asarray(getattr(c, "_value", c), v.aval.dtype),
                                  requirements="C"))
    body = _Body(opt, groups, scope)
    return body


def _register(plan_: ControlPlan, planner, body: _Body) -> None:
    """Give every value of ``body`` a slot and record what it uses and writes."""
    scope = body.scope
    for g in body.groups:
        for v in g.inputs:
            plan_.used.add(scope.slot(v))
        for v in g.outputs:
            s = scope.slot(v)
            plan_.used.add(s)
            plan_.defined.add(s)
            body.written.add(s)
        if g.kind == "library" and g.eqns[0].primitive.name in CONTROL:
            sub = plan(g.eqns[0], planner, scope)
            scope.plans[id(g)] = sub
            plan_.used |= sub.used
            plan_.defined |= sub.defined
    for s in body.out_slots():
        plan_.used.add(s)
    plan_.used.update(body.scope.slot_of.values())


def _carry_update(p: ControlPlan, table, body: _Body, carry: list[int], avals,
                  y_slots=(), y_avals=()):
    """How each iteration sets ``carry[j]`` to the body's j-th output, all at once.

    A carry output written by a body group is handed over by pointer: written straight
    into its scan output slice when it is also a ``ys`` output (the next iteration reads
    it there), else into the other of two buffers that alternate with the carry's own.
    Every other carry is copied, through a temporary where its source is a carry input.
    For scans, ``ys`` outputs written by a body group are written in place; the rest
    are copied into their slice.
    """
    outs = body.out_slots()
    nk = len(carry)
    carry_set = set(carry)
    owned: set[int] = set()  # body slots whose pointer the loop sets
    for src, dst, aval in zip(outs[nk:], y_slots, y_avals):
        if src in body.written and src not in owned:
            owned.add(src)
            p.ys_direct.append((src, dst, _nbytes(aval)))
        else:
            p.y_copies.append((src, dst, _nbytes(aval)))
    direct = {src: dst for src, dst, _ in p.ys_direct}
    for src, dst, aval in zip(outs[:nk], carry, avals):
        if src == dst:
            continue
        n = _nbytes(aval)
        if src in direct and src not in p.carried_y:
            p.carried_y[src] = dst
            p.pointer_carries.append((dst, src, None, n))
            continue
        if src in body.written and src not in owned:
            owned.add(src)
            other = table.new(aval, None)
            p.used.add(other)
            p.defined.add(other)
            p.pointer_carries.append((dst, src, other, n))
            continue
        if src in carry_set:  # another carry input: read it before it is overwritten
            tmp = table.new(aval, None)
            p.used.add(tmp)
            p.defined.add(tmp)
            p.temp_copies.append((src, tmp, n))
            src = tmp
        p.carry_copies.append((src, dst, n))


def plan(eqn, planner: Planner, scope: Scope) -> ControlPlan:
    """Plan the slots of control-flow equation ``eqn`` (whose operands and results have
    slots in ``scope``)."""
    table = scope.table
    name = eqn.primitive.name
    p = ControlPlan(name, eqn)
    out_slots = [table.new(o.aval, None) if isinstance(o, DropVar) else scope.slot(o)
                 for o in eqn.outvars]
    p.defined.update(out_slots)
    p.used.update(out_slots)
    ins = [scope.slot(v) for v in eqn.invars]
    p.used.update(ins)
    if name == "while":
        cn, bn = eqn.params["cond_nconsts"], eqn.params["body_nconsts"]
        cconsts, bconsts, init = ins[:cn], ins[cn:cn + bn], ins[cn + bn:]
        cond = _plan_body(planner, table, eqn.params["cond_jaxpr"], cconsts + out_slots)
        body = _plan_body(planner, table, eqn.params["body_jaxpr"], bconsts + out_slots)
        p.bodies = [cond, body]
        for b in p.bodies:
            _register(p, planner, b)
        p.pred_slot = cond.out_slots()[0]
        avals = [o.aval for o in eqn.outvars]
        p.init_copies = [(s, d, _nbytes(a)) for s, d, a in zip(init, out_slots, avals)]
        _carry_update(p, table, body, out_slots, avals)
    elif name == "scan":
        nc, nk = eqn.params["num_consts"], eqn.params["num_carry"]
        consts, init, xs = ins[:nc], ins[nc:nc + nk], ins[nc + nk:]
        closed = eqn.params["jaxpr"]
        x_avals = closed.in_avals[nc + nk:]
        x_slots = [table.new(a, None) for a in x_avals]
        p.used.update(x_slots)
        p.defined.update(x_slots)
        carry = out_slots[:nk]
        body = _plan_body(planner, table, closed, consts + carry + x_slots)
        p.bodies = [body]
        _register(p, planner, body)
        carry_avals = [o.aval for o in eqn.outvars[:nk]]
        p.init_copies = [(s, d, _nbytes(a)) for s, d, a in zip(init, carry, carry_avals)]
        p.x_slices = [(s, d, _nbytes(a)) for s, d, a in zip(xs, x_slots, x_avals)]
        _carry_update(p, table, body, carry, carry_avals, out_slots[nk:],
                      closed.out_avals[nk:])
    else:  # cond
        p.index_slot = ins[0]
        p.index_dtype = np.dtype(eqn.invars[0].aval.dtype)
        for branch in eqn.params["branches"]:
            b = _plan_body(planner, table, branch, ins[1:])
            p.bodies.append(b)
            _register(p, planner, b)
            p.out_copies.append([(s, d, _nbytes(o.aval)) for s, d, o in
                                 zip(b.out_slots(), out_slots, eqn.outvars) if s != d])
    return p


# ---------------------------------------------------------------------------
# code generation


def _copy(module, b, pairs, overlapping=False):
    """Copy ``(dst pointer, src pointer, nbytes)`` triples."""
    for d, s, n in pairs:
        memcpy(module, b, d, s, n, overlapping)


def _at(b, ptr, index, n):
    return b.gep(ptr, [b.mul(index, ir.Constant(I64, n))], source_etype=_I8)


def _publish(b, em, cur: dict, slots) -> None:
    """Store the current pointers of ``slots`` in the segment's pointer table, where
    parallel tasks read them."""
    for s in slots:
        b.store(cur[s], b.gep(em.base, [ir.Constant(I64, s)], source_etype=PTR))


class _Loop:
    """A loop header with pointer phis: ``cur`` maps slots to their pointer in the
    current iteration."""

    def __init__(self, b, em, p: ControlPlan, tag):
        fn = b.function
        self.pre = b.block
        self.header = fn.append_basic_block(f"{tag}.head")
        self.body = fn.append_basic_block(f"{tag}.body")
        self.done = fn.append_basic_block(f"{tag}.done")
        b.branch(self.header)
        b.position_at_end(self.header)
        ptrs = em.ptrs
        self.cur = dict(ptrs)
        self.phis = []  # (phi, next-value function)
        for carry, out, other, _ in p.pointer_carries:
            cin = b.phi(PTR)
            cin.add_incoming(ptrs[carry], self.pre)
            self.cur[carry] = cin
            if other is not None:
                nxt = b.phi(PTR)
                nxt.add_incoming(ptrs[other], self.pre)
                self.cur[out] = nxt
                self.phis.append((cin, out))
                self.phis.append((nxt, carry))
            else:
                self.phis.append((cin, out))
        self.overridden = [c for c, _, _, _ in p.pointer_carries]

    def close(self, b, cur):
        """Wire the phis with this iteration's pointers and branch back."""
        for phi, slot in self.phis:
            phi.add_incoming(cur[slot], b.block)
        b.branch(self.header)


def emit(module, b: ir.IRBuilder, p: ControlPlan, em) -> None:
    """Emit control-flow plan ``p`` at ``b``'s position.

    Args:
      module: the module.
      b: the builder (left positioned after the construct).
      p: the plan.
      em: the emitter: ``em.ptrs`` (slot -> data pointer), ``em.base`` (the pointer
        table parallel tasks read) and ``em.groups(builder, scope, groups)``.
    """
    fn = b.function
    ptrs = em.ptrs
    tag = f"{p.kind}{len(fn.blocks)}"
    _copy(module, b, [(ptrs[d], ptrs[s], n) for s, d, n in p.init_copies])
    if p.kind == "cond":
        _emit_cond(module, b, p, em, tag)
        return
    loop = _Loop(b, em, p, tag)
    cur = loop.cur
    em.ptrs = cur
    try:
        if p.kind == "while":
            cond, body = p.bodies
            _publish(b, em, cur, loop.overridden)
            em.groups(b, cond.scope, cond.groups)
            pred = b.load(cur[p.pred_slot], typ=_I8)
            b.cbranch(b.icmp_unsigned("!=", pred, ir.Constant(_I8, 0)), loop.body, loop.done)
            b.position_at_end(loop.body)
            index = None
        else:
            (body,) = p.bodies
            length = int(p.eqn.params["length"])
            i = b.phi(I64)
            i.add_incoming(ir.Constant(I64, 0), loop.pre)
            b.cbranch(b.icmp_signed("<", i, ir.Constant(I64, length)), loop.body, loop.done)
            b.position_at_end(loop.body)
            index = b.sub(ir.Constant(I64, length - 1), i) if p.eqn.params["reverse"] else i
            for xs, x, n in p.x_slices:
                cur[x] = _at(b, ptrs[xs], index, n)
            for y, ys, n in p.ys_direct:
                cur[y] = _at(b, ptrs[ys], index, n)
        _publish(b, em, cur, [s for s in cur if cur[s] is not ptrs.get(s)])
        em.groups(b, body.scope, body.groups)
        if index is not None:
            _copy(module, b, [(_at(b, ptrs[ys], index, n), cur[y], n)
                              for y, ys, n in p.y_copies])
        _copy(module, b, [(cur[t], cur[s], n) for s, t, n in p.temp_copies])
        _copy(module, b, [(cur[d], cur[s], n) for s, d, n in p.carry_copies])
        if index is not None:
            i.add_incoming(b.add(i, ir.Constant(I64, 1)), b.block)
        loop.close(b, cur)
    finally:
        em.ptrs = ptrs
    b.position_at_end(loop.done)
    # carries handed over by pointer end where the last iteration left them
    _copy(module, b, [(ptrs[c], loop.cur[c], n) for c, _, _, n in p.pointer_carries],
          overlapping=True)
    _publish(b, em, ptrs, [s for s in loop.cur if loop.cur[s] is not ptrs.get(s)])


def _emit_cond(module, b, p: ControlPlan, em, tag) -> None:
    fn = b.function
    ptrs = em.ptrs
    n = len(p.bodies)
    done = fn.append_basic_block(f"{tag}.done")
    raw = b.load(ptrs[p.index_slot], typ=mem_type(p.index_dtype))
    if p.index_dtype.kind == "b":
        index = b.zext(b.icmp_unsigned("!=", raw, ir.Constant(raw.type, 0)), I64)
    elif p.index_dtype.kind == "u":
        index = b.zext(raw, I64) if raw.type.width < 64 else raw
    else:
        index = b.sext(raw, I64) if raw.type.width < 64 else raw
    blocks = [fn.append_basic_block(f"{tag}.branch{k}") for k in range(n)]
    # out-of-range indices clamp (as lax.switch): below 0 -> 0, above -> n-1 (the default)
    if n > 1:
        low = b.icmp_signed("<", index, ir.Constant(I64, 0))
        index = b.select(low, ir.Constant(I64, 0), index)
    sw = b.switch(index, blocks[-1])
    for k in range(n - 1):
        sw.add_case(ir.Constant(I64, k), blocks[k])
    for k, (body, copies) in enumerate(zip(p.bodies, p.out_copies)):
        b.position_at_end(blocks[k])
        em.groups(b, body.scope, body.groups)
        _copy(module, b, [(ptrs[d], ptrs[s], nb) for s, d, nb in copies])
        b.branch(done)
    b.position_at_end(done)
