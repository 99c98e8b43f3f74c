"""Planning a program for the CPU: passes, fusion, buffer slots, native segments,
memory plan and LLVM code generation, filling in a ``compile.Executable``.

Invariants: this module runs only when a program is compiled for the first time on
this machine (a plan from the disk cache skips it: ``compile`` loads the plan and
the object code). An executable is a list of steps over a flat environment of
buffers (one slot per materialized value): native segments (one native call each,
running consecutive kernels and library calls) and fallback steps (the eager impl
of one equation the code generator does not handle). Values inside a fused loop
have no buffer; intermediates only native code reads share buffers by liveness.
"""
from __future__ import annotations

import importlib

import numpy as np
from llvmlite import ir

from fx.core import ClosedJaxpr, DropVar, Literal
from lowering import fusion, passes
from lowering.cpu import blas, codegen, control, lib_ir, library, loops, runtime
from lowering.cpu.irutil import I8, I64, PTR, VOID

# the module (``lowering.cpu.compile`` names the function in the package's namespace)
cc = importlib.import_module("lowering.cpu.compile")

__all__ = ["plan", "optimize", "fusion_plan"]


def plan(exe, closed: ClosedJaxpr) -> None:
    """Optimize and fuse ``closed``, plan its buffers and build its native code, setting
    ``exe``'s slots, steps, call plan, code and introspection attributes (``optimized``,
    ``groups``, ``fallbacks``, ``ir_text``, ``module_ref``)."""
    def log_pass(name, result):
        cc.debug(1, f"fx: after {name}:\n{result}")

    opt = optimize(closed, debug=log_pass if cc.debug_level() >= 1 else None)
    exe.optimized = opt
    unsupported: set[int] = set()
    for _ in range(4 * len(opt.jaxpr.eqns) + 4):
        groups, planner = fusion_plan(opt, frozenset(unsupported))
        try:
            _build(exe, opt, groups, unsupported, planner)
            break
        except loops.CodegenError as err:
            # equations the loop emitter cannot handle run their eager impl
            bad = err.eqns or getattr(err, "group_eqns", [])
            if not bad:
                raise
            cc.debug(1, f"fx: falling back: {err.args[0]}")
            unsupported.update(id(e) for e in bad)
    exe._program = _plan_calls(exe)


class _Segment:
    """Consecutive native groups: one LLVM function, one native call."""

    def __init__(self):
        self.groups = []
        self.allocs: list[int] = []  # slots allocated before the call
        self.used: set[int] = set()


class _Fallback:
    def __init__(self, eqn, in_slots, out_slots):
        self.eqn = eqn
        self.in_slots = in_slots
        self.out_slots = out_slots


class _Table:
    """The flat buffer table: one aval per slot, and the values of constant slots."""

    def __init__(self):
        self.avals: list = []
        self.init: list[tuple[int, np.ndarray]] = []

    def new(self, aval, value=None) -> int:
        s = len(self.avals)
        self.avals.append(aval)
        if value is not None:
            self.init.append((s, value))
        return s


class _Emitter:
    """Emits groups into a segment's entry function (recursively for control flow)."""

    def __init__(self, module, bounds_check, threads):
        self.module = module
        self.bounds_check = bounds_check
        self.threads = threads
        self.count = 0
        self.ptrs = self.base = self.status = None

    def groups(self, b, scope, groups):
        module = self.module
        ptrs = self.ptrs
        pointer_of = lambda v: ptrs[scope.slot_of[id(v)]]  # noqa: E731
        for g in groups:
            if g.kind == "library":
                eqn = g.eqns[0]
                if eqn.primitive.name == "dot_general":
                    blas.emit_call(module, b, g, pointer_of)
                elif eqn.primitive.name in control.CONTROL:
                    control.emit(module, b, scope.plans[id(g)], self)
                else:
                    library.emit_call(library.LibraryContext(
                        module, b, pointer_of, self.status, self.bounds_check), eqn)
                continue
            name = f"k{self.count}"
            self.count += 1
            try:
                spec = loops.emit_group(module, g, scope.slot_of, name, self.bounds_check,
                                        self.threads)
            except loops.CodegenError as err:
                err.group_eqns = g.eqns
                raise
            if spec.total == 0:
                continue
            if spec.task is not None:
                lib_ir.pool_run(module, b, module.globals[spec.task], self.base, spec.nchunks)
                continue
            b.call(module.globals[spec.name],
                   [ptrs[s] for s in spec.slots] + [self.status, ir.Constant(I64, 0),
                                                    ir.Constant(I64, spec.total)])


def _entry_function(emitter, name, seg, slot_count, scope):
    """``void seg(ptr args)``: read buffer pointers, run each kernel (in parallel when
    it pays), library call and control-flow construct."""
    module = emitter.module
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR]), name)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    (arg,) = fn.args
    layout = runtime.OBJECT_LAYOUT
    table = b.bitcast(b.alloca(PTR, size=slot_count + 1), PTR)
    base = b.gep(table, [ir.Constant(I64, 1)], source_etype=PTR)

    def read_pointer(slot):
        if layout is not None:
            item = b.gep(arg, [ir.Constant(I64, layout["tuple_items"] + 8 * slot)],
                         source_etype=I8)
            obj = b.load(item, typ=PTR)
            field = b.gep(obj, [ir.Constant(I64, layout["array_data"])], source_etype=I8)
            return b.load(field, typ=PTR)
        return b.load(b.gep(arg, [ir.Constant(I64, slot)], source_etype=PTR), typ=PTR)

    status_slot = slot_count  # the status array is the tuple's last item
    b.store(read_pointer(status_slot), table)
    ptrs = {}
    for slot in sorted(seg.used):
        p = read_pointer(slot)
        ptrs[slot] = p
        b.store(p, b.gep(base, [ir.Constant(I64, slot)], source_etype=PTR))
    emitter.ptrs, emitter.base = ptrs, base
    emitter.status = b.load(b.gep(base, [ir.Constant(I64, -1)], source_etype=PTR), typ=PTR)
    emitter.groups(b, scope, seg.groups)
    b.ret_void()
    return fn



def _reads_elementwise(group, slot, scope) -> bool:
    """Whether single-output loop ``group`` reads buffer ``slot`` only through
    elementwise equations over its own iteration space (element i only for output i)."""
    if group.kind != "loop" or len(group.outputs) != 1:
        return False
    if tuple(group.outputs[0].aval.shape) != tuple(group.shape):
        return False
    for e in group.eqns:
        for v in e.invars:
            if not isinstance(v, Literal) and scope.slot_of.get(id(v)) == slot:
                if e.primitive.name not in fusion.ELEMENTWISE or \
                        tuple(v.aval.shape) != tuple(group.shape):
                    return False
    return True


def object_const_text(c: np.ndarray) -> str:
    """A sub-program's constant in the object key: its type, and its value when it is
    small enough to be folded into the code (larger ones are buffers)."""
    head = f"{cc._dtype_name(c.dtype)}{list(c.shape)}"
    return f"{head}={c.tobytes().hex()}" if c.size <= passes.FOLD_LIMIT else head


def optimize(closed: ClosedJaxpr, debug=None) -> ClosedJaxpr:
    """The CPU pass pipeline: generic passes, then products prepared for BLAS."""
    opt = passes.optimize(closed, debug=debug)
    prepared = blas.prepare(opt)
    if prepared is not opt:
        opt = passes.dce(passes.cse(prepared))
    return opt


def fusion_plan(opt: ClosedJaxpr, unsupported=frozenset()):
    """``(groups, planner)``: the kernels of optimized program ``opt``, with control flow
    native where its bodies are, and the equations in ``unsupported`` (ids) eager."""
    planner = control.Planner(optimize, lambda e: id(e) not in unsupported
                              and codegen.supports(e))
    groups = fusion.fuse(opt.jaxpr, lambda e: id(e) not in unsupported
                         and planner.supported(e))
    return groups, planner



def _build(exe, opt, groups, unsupported, planner):
    """Slots, steps and native code for ``groups`` (raises CodegenError, with the group
    at fault, when a group cannot be emitted)."""
    jaxpr = opt.jaxpr
    exe.groups = groups
    if cc.debug_level() >= 2:
        cc.debug(2, "fx: fusion groups\n" + fusion.format_groups(groups))
    exe.fallbacks = [g.eqns[0] for g in groups if g.kind == "fallback"]
    if exe.fallbacks and cc.debug_level() >= 1:
        cc.debug(1, "fx: equations running their eager impl:\n" + "\n".join(
            f"    {e}" for e in exe.fallbacks))

    # slots: every materialized value; the arguments first, then constants
    table = _Table()
    scope = control.Scope(table)
    slot = scope.slot
    exe._in_slots = [slot(v) for v in jaxpr.invars]
    for v, c in zip(jaxpr.constvars, opt.consts):
        scope.const(v, cc.contiguous(cc.to_numpy(c), v.aval.dtype))
    for v in jaxpr.outvars:
        if isinstance(v, Literal):
            slot(v)
    for g in groups:
        for v in list(g.inputs) + list(g.outputs):
            slot(v)
        if g.kind == "library" and g.eqns[0].primitive.name in control.CONTROL:
            scope.plans[id(g)] = control.plan(g.eqns[0], planner, scope)
    exe._out_slots = [slot(v) for v in jaxpr.outvars]
    exe._slot_avals = avals = table.avals
    exe._init = init = table.init
    exe._in_sig = [(tuple(a.shape), np.dtype(a.dtype)) for a in jaxpr.in_avals]

    # steps: native segments between fallbacks
    threads = runtime.num_threads()
    steps: list = []
    seg = None
    defined = {s for s, _ in init} | set(exe._in_slots)
    for g in groups:
        if g.kind == "fallback":
            e = g.eqns[0]
            steps.append(_Fallback(e, [slot(v) if not isinstance(v, Literal) else v
                                       for v in e.invars],
                                   [None if isinstance(o, DropVar) else slot(o)
                                    for o in e.outvars]))
            defined.update(slot(o) for o in e.outvars if not isinstance(o, DropVar))
            seg = None
            continue
        if seg is None:
            seg = _Segment()
            steps.append(seg)
        seg.groups.append(g)
        written = [slot(v) for v in g.outputs]
        seg.used.update(slot(v) for v in g.inputs)
        plan = scope.plans.get(id(g))
        if plan is not None:
            seg.used |= plan.used
            written += sorted(plan.defined)
        for s in written:
            seg.used.add(s)
            if s not in defined:
                seg.allocs.append(s)
                defined.add(s)
    exe._steps = steps
    exe._nslots = len(avals)
    exe._scope = scope

    # native code: one module, one entry function per segment
    segments = [s for s in steps if isinstance(s, _Segment)]
    exe.ir_text = ""
    exe.module_ref = None
    exe._object = None
    if not segments:
        return
    marked = tuple(k for k, e in enumerate(jaxpr.eqns) if id(e) in unsupported)
    options = ("cpu", exe.bounds_check, threads, runtime.OBJECT_LAYOUT is not None, marked,
               blas.library_info() is not None and not blas._disabled())
    key = cc.canonical_text(jaxpr, options, object_const_text)

    def build():  # only on a miss of the disk cache too
        module = ir.Module(name="fx")
        module.triple = runtime.host_info()["triple"]
        module.data_layout = str(runtime.target_machine().target_data)
        emitter = _Emitter(module, exe.bounds_check, threads)
        names = []
        for si, s in enumerate(segments):
            name = f"fx_segment_{si}"
            _entry_function(emitter, name, s, exe._nslots, scope)
            names.append(name)
        return str(module), names
    cached = cc.native_code(key, build)
    exe._object = cached
    fns = cc.attach_code(exe, cached)
    for s, name in zip(segments, cached.names):
        s.fn = fns[name]


def _plan_memory(exe):
    """Which buffer each written slot uses.

    Program outputs get arrays of their own each call. Other intermediates that only
    native code reads share buffers (raw bytes, 64-byte aligned when large) when
    their live ranges, in group order, do not overlap: best fit among the free
    buffers, growing one when none fits. Intermediates a fallback reads get arrays
    of their own (an eager impl may return a view of its operand).
    Returns ``(own, sizes, shared)``: own = [(slot, shape, dtype)], sizes = bytes of
    each shared buffer, shared = [(slot, buffer index)].
    """
    scope = exe._scope
    avals = exe._slot_avals
    outputs = set(exe._out_slots)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    private = set(outputs)
    order: list[int] = []
    defining: dict[int, object] = {}  # slot -> the group that writes it
    pos = 0
    for step in exe._steps:
        pos += 1
        if isinstance(step, _Fallback):
            for sl in step.in_slots:
                if isinstance(sl, int):
                    last[sl] = pos
                    private.add(sl)
            continue
        allocs = set(step.allocs)
        for g in step.groups:
            pos += 1
            plan = scope.plans.get(id(g))
            reads = [scope.slot_of[id(v)] for v in g.inputs]
            writes = [scope.slot_of[id(v)] for v in g.outputs]
            if plan is not None:
                reads += sorted(plan.used)
                writes += sorted(plan.defined)
            for sl in writes:
                defining.setdefault(sl, g)
                if sl in allocs and sl not in first:
                    first[sl] = pos
                    order.append(sl)
            for sl in reads + writes:
                last[sl] = pos
    exe._donation = _plan_donation(exe, first, last, defining)
    own, shared, sizes = [], [], []
    free: list[int] = []            # buffer indices free for reuse
    busy: list[tuple[int, int]] = []  # (last use, buffer)
    for sl in order:
        aval = avals[sl]
        shape, dtype = tuple(aval.shape), np.dtype(aval.dtype)
        if sl in private:
            own.append((sl, shape, dtype))
            continue
        start = first[sl]
        for entry in [e for e in busy if e[0] < start]:
            busy.remove(entry)
            free.append(entry[1])
        need = max(1, int(np.prod(shape, dtype=np.int64)) * dtype.itemsize)
        fits = [i for i in free if sizes[i] >= need]
        if fits:
            buf = min(fits, key=lambda i: sizes[i])
        elif free:
            buf = max(free, key=lambda i: sizes[i])
            sizes[buf] = need
        else:
            buf = len(sizes)
            sizes.append(need)
        if buf in free:
            free.remove(buf)
        busy.append((last.get(sl, start), buf))
        shared.append((sl, buf))
    return own, sizes, shared

def _plan_donation(exe, first, last, defining) -> dict:
    """Output slot -> argument positions whose buffer may hold that output when the
    argument is donated: same shape and dtype, and the argument is no longer read
    once the output is written (read last by an earlier group, or by the output's
    own single-output elementwise loop at the same element only)."""
    out_count: dict[int, int] = {}
    for sl in exe._out_slots:
        out_count[sl] = out_count.get(sl, 0) + 1
    result = {}
    for o, n in out_count.items():
        if n != 1 or o not in first:
            continue
        aval = exe._slot_avals[o]
        cands = []
        for k, (sl, sig) in enumerate(zip(exe._in_slots, exe._in_sig)):
            if sig != (tuple(aval.shape), np.dtype(aval.dtype)) or sl in out_count:
                continue
            end = last.get(sl, 0)
            if end < first[o] or (end == first[o] and
                                  _reads_elementwise(defining[o], sl, exe._scope)):
                cands.append(k)
        if cands:
            result[o] = cands
    return result


def _plan_calls(exe):
    """Precomputed per-step data so that a call does little Python."""
    own, sizes, shared = _plan_memory(exe)
    exe._own, exe._buffer_sizes, exe._shared = own, sizes, shared
    plan = []
    for step in exe._steps:
        if isinstance(step, _Segment):
            plan.append(("native", step.fn))
        else:
            e = step.eqn
            impl = e.primitive.impl_rule or e.primitive.impl
            outs = [(s, tuple(o.aval.shape), np.dtype(o.aval.dtype)) if s is not None
                    else None for s, o in zip(step.out_slots, e.outvars)]
            plan.append(("fallback", impl, step.in_slots, outs, e.params,
                         e.primitive.multiple_results))
    return plan
