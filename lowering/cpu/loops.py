"""Loop emission: one LLVM function per fusion group, a nest of loops whose
innermost loop walks memory contiguously, computing each fused value at an
index by index arithmetic (broadcast, reshape, transpose, slice, pad, ...).

Invariants: a group function is ``void g(ptr noalias b0, ..., ptr status, i64 lo,
i64 hi)``; it computes outer iterations ``[lo, hi)`` (chunks of which may run on
different threads), reads its input buffers and writes its output buffers, and
nothing else. Values are computed at an index and memoized per loop scope, so
each is computed once per element; values that do not depend on an inner loop
are hoisted by LLVM. A load or store never leaves its buffer: indices come from
the static shapes, gathered operands (pad, concatenate, dynamic_slice, gather) are
clamped, and with ``bounds_check`` every access is checked and a violation is
reported through ``status`` instead of touching memory out of range.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir

from fx.core import Literal
from lowering.cpu import codegen
from lowering.cpu.complex_rules import COMPLEX_RULES, load as complex_load, mul as complex_mul
from lowering.cpu.complex_rules import store as complex_store
from lowering.cpu.loop_index import IndexOps
from lowering.kernel_common import (CodegenError, merge_index, reduction_identity,
                                     reduction_phases)
from lowering.cpu.irutil import (I8, I64, LOW_FLOATS, PTR, VOID, Emit, is_float, load_low,
                                 mem_type, reg_type, round_low, store_low)

__all__ = ["CodegenError", "KernelSpec", "emit_group", "PARALLEL_MIN_ELEMENTS"]

#: groups touching fewer elements than this run on the calling thread only
PARALLEL_MIN_ELEMENTS = 1 << 16
_CHUNKS_PER_THREAD = 4


class KernelSpec:
    """What the segment needs to call a group's function."""

    def __init__(self, name, task, slots, total, nchunks, step):
        self.name, self.task, self.slots = name, task, slots
        self.total, self.nchunks, self.step = total, nchunks, step


# ---------------------------------------------------------------------------
# the kernel emitter


class _Attributes(ir.values.FunctionAttributes):
    """llvmlite's function attributes plus LLVM string attributes (``"key"="value"``)."""

    def __init__(self, names=(), strings=()):
        super().__init__(names)
        self.strings = tuple(strings)

    def _to_list(self, ret_type):
        return super()._to_list(ret_type) + [f'"{k}"="{v}"' for k, v in self.strings]


_GATHER_FEATURES: list = []


def _scalar_gather_features():
    """The host's target features plus ``prefer-no-gather`` (x86 only, else None): loops
    reading a fused gather's operand at data-dependent positions load element by element
    instead of with vector gather instructions, which measured 1.6-3x slower on this
    machine's AMD Zen 4 (x[:, perm] on 4096x1024) and are slow on Intel CPUs with the
    Downfall mitigation."""
    if not _GATHER_FEATURES:
        from lowering.cpu import runtime
        info = runtime.host_info()
        x86 = info["triple"].startswith(("x86_64", "i686", "i386"))
        _GATHER_FEATURES.append(info["features"] + ",+prefer-no-gather" if x86 else None)
    return _GATHER_FEATURES[0]


class _Kernel(IndexOps):
    def __init__(self, module, group, slot_of, name, bounds_check):
        self.module = module
        self.group = group
        self.bounds_check = bounds_check
        self.buffers = []  # (var, local index)
        seen = set()
        for v in list(group.inputs) + list(group.outputs):
            if id(v) not in seen:
                seen.add(id(v))
                self.buffers.append(v)
        self.slots = [slot_of[id(v)] for v in self.buffers]
        self.is_output = {id(v) for v in group.outputs}
        args = [PTR] * len(self.buffers) + [PTR, I64, I64]
        self.fn = ir.Function(module, ir.FunctionType(VOID, args), name)
        self.fn.linkage = "internal"
        for arg in self.fn.args[:len(self.buffers)]:
            arg.add_attribute("noalias")
        self.fn.attributes.add("nounwind")
        self.fn.attributes.add("noinline")  # optimized once, called by the segment or tasks
        if any(e.primitive.name == "gather" for e in group.eqns):
            features = _scalar_gather_features()
            if features is not None:
                self.fn.attributes = _Attributes(self.fn.attributes,
                                                 (("target-features", features),))
        self.entry = self.fn.append_basic_block("entry")
        self.body = self.fn.append_basic_block("body")
        self.b = ir.IRBuilder(self.body)
        self.e = Emit(self.b, module)
        self.ptr = {id(v): self.fn.args[i] for i, v in enumerate(self.buffers)}
        self.status = self.fn.args[len(self.buffers)]
        self.lo, self.hi = self.fn.args[-2], self.fn.args[-1]
        self.producer = {}
        for eqn in group.eqns:
            for o in eqn.outvars:
                self.producer[id(o)] = eqn
        self.inputs = {id(v) for v in group.inputs}
        self.scopes = [{}]
        self.flat_shape = None  # set for flat elementwise loops

    # -- scopes and index helpers ---------------------------------------------
    def alloca(self, ty):
        with self.b.goto_block(self.entry):
            return self.b.bitcast(self.b.alloca(ty), PTR)

    def finish(self):
        with self.b.goto_block(self.entry):
            self.b.branch(self.body)
        self.b.ret_void()

    def iconst(self, v):
        return v if not isinstance(v, int) else ir.Constant(I64, v)

    def add(self, a, b):
        if isinstance(a, int) and isinstance(b, int):
            return a + b
        if isinstance(a, int) and a == 0:
            return b
        if isinstance(b, int) and b == 0:
            return a
        return self.b.add(self.iconst(a), self.iconst(b), flags=("nsw",))

    def mul(self, a, c: int):
        if isinstance(a, int):
            return a * c
        if c == 1:
            return a
        if c == 0:
            return 0
        return self.b.mul(a, ir.Constant(I64, c), flags=("nsw", "nuw") if c > 0 else ("nsw",))

    def divc(self, a, c: int):
        if isinstance(a, int):
            return a // c
        return a if c == 1 else self.b.udiv(a, ir.Constant(I64, c))

    def modc(self, a, c: int):
        if isinstance(a, int):
            return a % c
        return ir.Constant(I64, 0) if c == 1 else self.b.urem(a, ir.Constant(I64, c))

    def clamp(self, a, lo: int, hi: int):
        if isinstance(a, int):
            return min(max(a, lo), hi)
        a = self.b.select(self.b.icmp_signed("<", a, ir.Constant(I64, lo)),
                          ir.Constant(I64, lo), a)
        return self.b.select(self.b.icmp_signed(">", a, ir.Constant(I64, hi)),
                             ir.Constant(I64, hi), a)

    @staticmethod
    def key(idx):
        return tuple(("c", c) if isinstance(c, int) else id(c) for c in idx)

    def shape_of(self, var):
        if self.flat_shape is not None and var.aval.shape == self.group.shape:
            return self.flat_shape
        return var.aval.shape

    # -- loops ------------------------------------------------------------------
    def loop(self, start, stop, body):
        """Emit ``for iv in range(start, stop): body(iv)``; memo scope per iteration."""
        b = self.b
        if isinstance(start, int) and isinstance(stop, int) and stop - start == 1:
            self.scopes.append({})
            body(start)
            self.scopes.pop()
            return
        pre = b.block
        header = self.fn.append_basic_block("loop")
        inner = self.fn.append_basic_block("loop.body")
        exit_ = self.fn.append_basic_block("loop.exit")
        b.branch(header)
        b.position_at_end(header)
        iv = b.phi(I64)
        iv.add_incoming(self.iconst(start), pre)
        b.cbranch(b.icmp_signed("<", iv, self.iconst(stop)), inner, exit_)
        b.position_at_end(inner)
        self.scopes.append({})
        body(iv)
        self.scopes.pop()
        nxt = b.add(iv, ir.Constant(I64, 1), flags=("nsw", "nuw"))
        iv.add_incoming(nxt, b.block)
        b.branch(header)
        b.position_at_end(exit_)

    def nest(self, shape, body, prefix=()):
        """Loops over every index of ``shape`` (last dimension innermost)."""
        if len(prefix) == len(shape):
            body(tuple(prefix))
            return
        d = len(prefix)
        if shape[d] == 1:
            self.nest(shape, body, prefix + (0,))
            return
        self.loop(0, shape[d], lambda iv: self.nest(shape, body, prefix + (iv,)))

    # -- memory -------------------------------------------------------------------
    def address(self, var, idx):
        shape = self.shape_of(var)
        lin = self.linearize(idx, shape)
        size = math.prod(shape)
        lin = self.iconst(lin)
        if self.bounds_check:
            ok = self.b.icmp_unsigned("<", lin, ir.Constant(I64, size))
            with self.b.if_then(self.b.not_(ok)):
                self.b.store(ir.Constant(I8, 1), self.status)
            lin = self.b.select(ok, lin, ir.Constant(I64, 0))
        return self.b.gep(self.ptr[id(var)], [lin], inbounds=True,
                          source_etype=mem_type(var.aval.dtype))

    def load(self, var, idx):
        dtype = var.aval.dtype
        if dtype.kind == "c":  # part by part: the loop vectorizer takes no <2 x T> values
            return complex_load(self.b, self.address(var, idx), dtype)
        val = self.b.load(self.address(var, idx), typ=mem_type(dtype), align=dtype.alignment)
        if dtype == np.bool_:
            return self.b.icmp_unsigned("!=", val, ir.Constant(I8, 0))
        if dtype in LOW_FLOATS:
            return load_low(self.b, val, dtype)
        return val

    def store(self, var, idx, value):
        dtype = var.aval.dtype
        if dtype == np.bool_:
            value = self.b.zext(value, I8)
        elif dtype in LOW_FLOATS:
            value = store_low(self.b, value, dtype)
        elif dtype.kind == "c":  # part by part (see load)
            return complex_store(self.b, value, self.address(var, idx), dtype)
        self.b.store(value, self.address(var, idx), align=dtype.alignment)

    # -- values -------------------------------------------------------------------
    def value(self, atom, idx):
        if isinstance(atom, Literal):
            val = np.asarray(atom.val, atom.aval.dtype)
            ty = reg_type(atom.aval.dtype)
            return self.e.const(ty, val.item() if val.dtype != np.bool_ else bool(val))
        key = (id(atom), self.key(idx))
        for scope in reversed(self.scopes):
            hit = scope.get(key)
            if hit is not None:
                return hit
        if id(atom) in self.inputs:
            val = self.load(atom, idx)
        else:
            eqn = self.producer.get(id(atom))
            if eqn is None:
                raise CodegenError(f"value {atom} is not available in this group")
            if eqn.primitive in codegen.REDUCTION_PRIMITIVES:
                raise CodegenError(f"reduction result {atom} read at another row", [eqn])
            try:
                val = self.compute(eqn, idx)
            except CodegenError as err:
                if err.eqns:
                    raise
                raise CodegenError(err.args[0], [eqn]) from err
        self.scopes[-1][key] = val
        return val

    def compute(self, eqn, idx):
        prim = eqn.primitive
        name = prim.name
        out_aval = eqn.outvars[0].aval
        p = eqn.params
        rule = codegen.RULES.get(prim)
        if (rule is not None or name in COMPLEX_RULES) and prim is not codegen.P["select_n"] \
                and any(v.aval.dtype.kind == "c" for v in list(eqn.invars) + list(eqn.outvars)):
            rule = COMPLEX_RULES.get(name)
            if rule is None:
                raise CodegenError(f"no complex rule for {name}", [eqn])
        if rule is not None:
            out_shape = self.shape_of(eqn.outvars[0])
            args = []
            for v in eqn.invars:
                shape = self.shape_of(v) if not isinstance(v, Literal) else ()
                if shape == ():
                    args.append(self.value(v, ()))
                elif shape == out_shape:
                    args.append(self.value(v, idx))
                else:
                    raise CodegenError(f"{name}: operand shape {shape} vs {out_shape}")
            val = rule(self.e, args, [v.aval for v in eqn.invars], out_aval, p)
            if out_aval.dtype in LOW_FLOATS:  # each operation rounds, as NumPy's float16
                val = round_low(self.b, val, out_aval.dtype)
            return val
        return self.index_value(eqn, idx)


# ---------------------------------------------------------------------------
# reductions


_REASSOC = ("reassoc", "contract", "nsz")


def _combine(k: _Kernel, name, dtype, acc, val):
    e, b = k.e, k.b
    dtype = np.dtype(dtype)
    if dtype.kind == "c":  # (re, im) vectors: COMPLEX_REDUCTIONS
        return b.fadd(acc, val, flags=_REASSOC) if name == "reduce_sum" else \
            complex_mul(e, acc, val)
    flt = is_float(dtype)
    if name == "reduce_sum":
        return b.fadd(acc, val, flags=_REASSOC) if flt else b.add(acc, val)
    if name == "reduce_prod":
        return b.fmul(acc, val, flags=_REASSOC) if flt else b.mul(acc, val)
    if name == "reduce_and":
        return b.and_(acc, val)
    if name == "reduce_or":
        return b.or_(acc, val)
    if name == "reduce_xor":
        return b.xor(acc, val)
    is_max = name == "reduce_max"
    if dtype == np.bool_:
        return b.or_(acc, val) if is_max else b.and_(acc, val)
    if flt:
        return e.call("llvm.maximum" if is_max else "llvm.minimum", acc, val)
    if dtype.kind == "i":
        return e.call("llvm.smax" if is_max else "llvm.smin", acc, val)
    return e.call("llvm.umax" if is_max else "llvm.umin", acc, val)


def _argbetter(k: _Kernel, name, dtype, best, val):
    """Whether ``val`` replaces ``best`` in argmax/argmin (NaN wins, first one kept)."""
    b, e = k.b, k.e
    if is_float(dtype):
        cmp = e.fcmp(">" if name == "argmax" else "<", val, best)
        val_nan = e.isnan(val)
        best_nan = e.isnan(best)
        return b.or_(b.and_(cmp, b.not_(best_nan)), b.and_(val_nan, b.not_(best_nan)))
    if dtype == np.bool_:
        return b.and_(val, b.not_(best)) if name == "argmax" else b.and_(best, b.not_(val))
    op = ">" if name == "argmax" else "<"
    return b.icmp_signed(op, val, best) if np.dtype(dtype).kind == "i" else \
        b.icmp_unsigned(op, val, best)


class _Accumulator:
    def __init__(self, k: _Kernel, eqn):
        self.eqn = eqn
        self.name = eqn.primitive.name
        x = eqn.invars[0]
        self.dtype = x.aval.dtype
        ty = self.ty = reg_type(self.dtype)
        self.slot = k.alloca(ty)
        self.index_slot = k.alloca(I64) if self.name in ("argmax", "argmin") else None
        self.k = k

    def init(self):
        k = self.k
        if self.index_slot is not None:
            first = -math.inf if self.name == "argmax" else math.inf
            if not is_float(self.dtype):
                first = reduction_identity("reduce_max" if self.name == "argmax" else "reduce_min",
                                  self.dtype)
            k.b.store(k.e.const(reg_type(self.dtype), first), self.slot)
            k.b.store(ir.Constant(I64, 0), self.index_slot)
            return
        ident = reduction_identity(self.name, self.dtype)
        k.b.store(k.e.const(reg_type(self.dtype), ident), self.slot)

    def update(self, val, position):
        k = self.k
        acc = k.b.load(self.slot, typ=self.ty)
        if self.index_slot is None:
            k.b.store(_combine(k, self.name, self.dtype, acc, val), self.slot)
            return
        better = _argbetter(k, self.name, self.dtype, acc, val)
        k.b.store(k.b.select(better, val, acc), self.slot)
        idx = k.b.load(self.index_slot, typ=I64)
        k.b.store(k.b.select(better, k.iconst(position), idx), self.index_slot)

    def result(self):
        k = self.k
        if self.index_slot is None:
            acc = k.b.load(self.slot, typ=self.ty)
            if self.dtype in LOW_FLOATS:  # accumulated in float32, rounded once
                acc = round_low(k.b, acc, self.dtype)
            return acc
        idx = k.b.load(self.index_slot, typ=I64)
        return codegen.convert(k.e, idx, np.dtype(np.int64), self.eqn.outvars[0].aval.dtype)


# ---------------------------------------------------------------------------
# the three kinds of loop nests


def _flat_ok(group) -> bool:
    shape = group.shape
    for e in group.eqns:
        if e.primitive not in codegen.RULES:
            return False
        for v in list(e.invars) + list(e.outvars):
            if v.aval.shape not in ((), shape):
                return False
    return True


def _emit_loop(k: _Kernel):
    g = k.group
    shape = g.shape
    if _flat_ok(g) and len(shape) > 1:
        k.flat_shape = (math.prod(shape),)
        shape = k.flat_shape

    def store_all(idx):
        for out in g.outputs:
            k.store(out, idx, k.value(out, idx))

    if len(shape) == 0:
        store_all(())
        return 1
    if len(shape) == 1:
        k.loop(k.lo, k.hi, lambda i: store_all((i,)))
        return shape[0]
    outer_shape, inner = shape[:-1], shape[-1]

    def row(o_lin):
        o = k.delinearize(o_lin, outer_shape)
        k.nest((inner,), lambda j: store_all(o + j))

    k.loop(k.lo, k.hi, row)
    return math.prod(outer_shape)


def _emit_rows(k: _Kernel):
    g = k.group
    shape, axes = g.shape, g.axes
    outer_shape = tuple(s for d, s in enumerate(shape) if d not in axes)
    inner_shape = tuple(shape[d] for d in axes)
    phases = reduction_phases(g)
    accs = {id(e): _Accumulator(k, e) for e in g.reductions}
    inner_size = math.prod(inner_shape)
    o_nonunit = [d for d, s in enumerate(outer_shape) if s != 1]

    full = [r for r in g.outputs if r.aval.shape == shape and shape != outer_shape]
    reuse = _reusable(g, phases[-1], full) if full and inner_size else []

    def row(o_lin):
        o = k.delinearize(o_lin, outer_shape)
        for phase in phases:
            for e in phase:
                accs[id(e)].init()

            def body(i, phase=phase):
                x_idx = merge_index(shape, axes, o, i)
                for e in phase:
                    pos = k.linearize(i, inner_shape) if e.primitive.name in (
                        "argmax", "argmin") else 0
                    accs[id(e)].update(k.value(e.invars[0], x_idx), pos)
                if phase is phases[-1]:
                    for r, v in reuse:  # keep v in the output row for the epilogue
                        k.store(r, x_idx, k.value(v, x_idx))

            if inner_size:
                k.nest(inner_shape, body)
            for e in phase:
                k.scopes[-1][(id(e.outvars[0]), k.key(o))] = accs[id(e)].result()
        for r in g.outputs:
            if any(r is f for f in full):
                continue
            moving = iter([o[d] for d in o_nonunit])
            r_idx = tuple(0 if s == 1 else next(moving) for s in r.aval.shape)
            k.store(r, r_idx, k.value(r, r_idx))
        if full and inner_size:
            def epilogue(i):
                x_idx = merge_index(shape, axes, o, i)
                for r, v in reuse:
                    k.scopes[-1][(id(v), k.key(x_idx))] = k.load(r, x_idx)
                for r in full:
                    k.store(r, x_idx, k.value(r, x_idx))
            k.nest(inner_shape, epilogue)

    k.loop(k.lo, k.hi, row)
    return math.prod(outer_shape)


def _reusable(group, last_phase, full_roots):
    """(root, value) pairs: an expensive full-shape value computed by the last reduction
    phase and read again by the epilogue is stored in the root's row during the phase and
    loaded back by the epilogue, instead of being computed twice."""
    producer = {id(o): e for e in group.eqns for o in e.outvars}
    reds = {id(e.outvars[0]) for e in group.reductions}
    shape = group.shape
    cost_memo: dict = {}

    def cost(v):
        e = producer.get(id(v))
        if e is None or id(v) in reds:
            return 0
        if id(v) not in cost_memo:
            cost_memo[id(v)] = 0
            own = 1 if e.primitive.name in _EXPENSIVE else 0
            cost_memo[id(v)] = own + sum(cost(w) for w in e.invars if not isinstance(w, Literal))
        return cost_memo[id(v)]

    def ancestors(roots):
        seen, stack = {}, list(roots)
        while stack:
            v = stack.pop()
            e = producer.get(id(v))
            if e is None or id(v) in seen or id(v) in reds:
                continue
            seen[id(v)] = v
            stack.extend(w for w in e.invars if not isinstance(w, Literal))
        return seen

    phase_side = ancestors([e.invars[0] for e in last_phase])
    out, taken = [], set()
    for r in full_roots:
        both = [v for key, v in ancestors([r]).items() if key in phase_side
                and v.aval.shape == shape and v.aval.dtype == r.aval.dtype and key not in taken]
        both = [v for v in both if cost(v) > 0]
        if both:
            best = max(both, key=cost)
            taken.add(id(best))
            out.append((r, best))
    return out


_EXPENSIVE = frozenset({"exp", "exp2", "log", "log1p", "expm1", "tanh", "logistic", "sin", "cos",
                        "tan", "erf", "pow", "div", "sqrt", "rsqrt"})


def _emit_accumulate(k: _Kernel):
    g = k.group
    (e,) = g.reductions
    (out,) = g.outputs
    shape, axes = g.shape, g.axes
    name, dtype = e.primitive.name, e.invars[0].aval.dtype
    ident = k.e.const(reg_type(dtype), reduction_identity(name, dtype))
    out_shape = out.aval.shape
    k.nest(out_shape, lambda idx: k.store(out, idx, ident))

    def body(x_idx):
        o_idx = tuple(i for d, i in enumerate(x_idx) if d not in axes)
        acc = k.load(out, o_idx)
        k.store(out, o_idx, _combine(k, name, dtype, acc, k.value(e.invars[0], x_idx)))

    if math.prod(shape):
        k.nest(shape, body)
    return 1


def _emit_window(k: _Kernel):
    """A window group: output rows outside, the last output dimension inside (its
    border outputs, whose windows may leave the operand, apart from the interior ones,
    which test nothing); each output element reduces its unrolled window, reading the
    operand (a buffer, or its fused producers computed there) at the coordinates
    ``lib_window.window_coordinates`` gives, then the epilogue stores every output."""
    from lowering.cpu import lib_window
    g = k.group
    (e,) = g.reductions
    w = lib_window.WindowSpec(e)
    name, dtype, x, y = w.name, w.dtype, e.invars[0], e.outvars[0]
    ident = k.e.const(reg_type(dtype), lib_window.identity(name, dtype))
    positions = [tuple(int(o) for o in p) for p in np.ndindex(*w.window)] \
        if math.prod(w.in_shape) else []
    shape = g.shape
    outer_shape, last = shape[:-1], shape[-1]
    c_lo, c_hi = w.interior()

    def element(idx, inside_last):
        acc = ident
        for offsets in positions:
            valid, coords = lib_window.window_coordinates(k.b, w, idx, offsets, inside_last)
            v = k.value(x, tuple(coords))
            acc = lib_window.combine(k.e, name, dtype, acc,
                                     v if valid is None else k.b.select(valid, v, ident))
        k.scopes[-1][(id(y), k.key(idx))] = acc
        for out in g.outputs:
            k.store(out, idx, k.value(out, idx))

    def row(o_lin):
        o = k.delinearize(o_lin, outer_shape)
        for start, stop, inside in ((0, c_lo, False), (c_lo, c_hi, True), (c_hi, last, False)):
            if stop > start:
                k.loop(start, stop, lambda c, inside=inside: element(o + (c,), inside))

    k.loop(k.lo, k.hi, row)
    return math.prod(outer_shape)


# ---------------------------------------------------------------------------
# entry point


def emit_group(module: ir.Module, group, slot_of: dict, name: str, bounds_check: bool,
               threads: int) -> KernelSpec:
    """Emit the function (and, when it pays, a parallel task wrapper) for ``group``.

    Args:
      module: the module being built.
      group: a ``loop`` or ``reduce`` (rows, accumulate or window) group from
        ``lowering.fusion``.
      slot_of: ``id(var) -> index`` of the buffer in the segment's buffer array.
      name: the function's name.
      bounds_check: compile a check into every load and store.
      threads: threads available for large loops.
    Returns:
      a KernelSpec.
    """
    k = _Kernel(module, group, slot_of, name, bounds_check)
    if group.kind == "loop":
        total = _emit_loop(k)
        work = math.prod(group.shape)
        align = 64 if k.flat_shape is not None or len(group.shape) == 1 else 1
    elif group.strategy == "rows":
        total = _emit_rows(k)
        work = math.prod(group.shape) * max(1, len(group.reductions))
        align = 1
    elif group.strategy == "window":
        total = _emit_window(k)
        work = math.prod(group.shape) * max(1, math.prod(group.reductions[0].params[
            "window_dimensions"]))
        align = 1
    else:
        total = _emit_accumulate(k)
        work, align = 0, 1
    k.finish()
    nchunks, step = 1, total
    task = None
    if threads > 1 and work >= PARALLEL_MIN_ELEMENTS and total >= 2:
        wanted = min(total, threads * _CHUNKS_PER_THREAD)
        step = -(-total // wanted)
        step = -(-step // align) * align
        nchunks = -(-total // step)
        if nchunks > 1:
            task = _emit_task(module, k, name + "_task", total, step)
    return KernelSpec(name, task, k.slots, total, nchunks, step)


def _emit_task(module, k: _Kernel, name, total, step):
    """``void task(ptr ctx, i64 chunk)``: ctx holds the segment's buffer pointers and the
    status pointer last."""
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, I64]), name)
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    ctx, chunk = fn.args
    ptrs = []
    for slot in k.slots:
        p = b.gep(ctx, [ir.Constant(I64, slot)], source_etype=PTR)
        ptrs.append(b.load(p, typ=PTR))
    # ctx points one past the status pointer
    status = b.load(b.gep(ctx, [ir.Constant(I64, -1)], source_etype=PTR), typ=PTR)
    lo = b.mul(chunk, ir.Constant(I64, step))
    hi = b.add(lo, ir.Constant(I64, step))
    over = b.icmp_signed(">", hi, ir.Constant(I64, total))
    hi = b.select(over, ir.Constant(I64, total), hi)
    b.call(k.fn, ptrs + [status, lo, hi])
    b.ret_void()
    return name

