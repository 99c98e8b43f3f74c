"""``compile(closed_jaxpr) -> Executable``: passes, fusion, LLVM code generation and
the call path that runs the result on NumPy buffers.

Invariants: an executable is a list of steps over a flat environment of
buffers (one slot per materialized value): native segments (one native call
each, running consecutive kernels and library calls) and fallback steps (the
eager impl of one equation the code generator does not handle). Outputs and
intermediates are allocated once per call, 64-byte aligned when large; values
inside a fused loop have no buffer. Compiled modules are cached in memory by
a canonical text of the optimized program, its avals and the build options,
so the same program compiles once per process.
"""
from __future__ import annotations

import ctypes
import os
import sys
import threading
from typing import Sequence

import numpy as np
from llvmlite import ir

from fx import core
from fx.config import config
from fx.core import ClosedJaxpr, DropVar, Literal
from lowering import fusion, passes
from lowering.cpu import blas, codegen, control, library, loops, runtime
from lowering.cpu.irutil import I8, I64, PTR, VOID, declare

__all__ = ["compile", "Executable", "clear_cache", "optimize", "fusion_plan"]

_cache: dict = {}
_cache_lock = threading.Lock()
_STATUS_OK = np.zeros(1, np.int8)
_BYTE = np.dtype(np.uint8)


def _empty(shape, dtype):
    """An uninitialized array, 64-byte aligned when it is 1 KiB or more."""
    if dtype.itemsize * int(np.prod(shape, dtype=np.int64)) < 1024:
        return np.empty(shape, dtype)
    return runtime.aligned_empty(shape, dtype)


def _debug_level() -> int:
    try:
        return int(os.environ.get("FX_DEBUG", "0") or 0)
    except ValueError:
        return 0


def _debug(level: int, text: str) -> None:
    if _debug_level() >= level:
        print(text, file=sys.stderr)


def clear_cache() -> None:
    """Forget compiled modules (they stay loaded; later compiles build new ones)."""
    with _cache_lock:
        _cache.clear()


def _to_numpy(value) -> np.ndarray:
    inner = getattr(value, "_value", None)
    return np.asarray(inner if inner is not None else value)


def _contiguous(a: np.ndarray, dtype=None) -> np.ndarray:
    """``a`` as a C-contiguous array of ``dtype``, keeping its rank (even 0)."""
    return np.require(a, dtype=dtype, requirements="C")


# ---------------------------------------------------------------------------
# canonical program text (the cache key)


def _canonical_text(jaxpr, options) -> str:
    """The cache key: the program with variables numbered in order of appearance,
    literal values in hex, and sub-jaxprs written out the same way."""
    names: dict[int, str] = {}
    lines = [repr(options)]

    def name(v):
        if isinstance(v, Literal):
            val = np.asarray(v.val, v.aval.dtype)
            return f"{val.tobytes().hex()}:{v.aval.dtype.str}"
        if id(v) not in names:
            names[id(v)] = f"v{len(names)}:{v.aval.dtype.str}{list(v.aval.shape)}"
        return names[id(v)]

    def param(value):
        if isinstance(value, ClosedJaxpr):
            # small constants may be folded into the code: their values are part of it
            consts = ",".join(
                f"{c.dtype.str}{list(c.shape)}" + (f"={c.tobytes().hex()}"
                                                   if c.size <= passes.FOLD_LIMIT else "")
                for c in (np.asarray(_to_numpy(c)) for c in value.consts))
            return f"{{closed[{consts}] {body(value.jaxpr)}}}"
        if isinstance(value, core.Jaxpr):
            return f"{{{body(value)}}}"
        if isinstance(value, tuple):
            return "(" + ",".join(param(x) for x in value) + ")"
        return repr(value)

    def body(j):
        out = [" ".join(name(v) for v in j.constvars), " ".join(name(v) for v in j.invars)]
        for e in j.eqns:
            params = sorted((k, param(v)) for k, v in e.params.items())
            ins = " ".join(name(v) for v in e.invars)
            outs = " ".join(name(v) for v in e.outvars)
            out.append(f"{outs} = {e.primitive.name}{params} {ins}")
        out.append(" ".join(name(v) for v in j.outvars))
        return "\n".join(out)

    lines.append(body(jaxpr))
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# building


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
                task = module.globals[spec.task]
                pfor = declare(module, runtime.PARALLEL_FOR,
                               ir.FunctionType(VOID, [PTR, PTR, I64]))
                b.call(pfor, [task, self.base, ir.Constant(I64, spec.nchunks)])
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


def _fast_caller(sig, fn, consts, allocs, outs):
    """The call path of a program that is one native call: check the arguments, allocate
    the outputs, call; None when an argument needs converting (the general path does)."""
    ndarray = np.ndarray
    n = len(sig)
    status = _STATUS_OK

    def trusted(args):
        """``call`` for arguments known to have the compiled shapes and dtypes (jit's
        cache key says so): only their type and layout are checked."""
        for a in args:
            if type(a) is not ndarray or not a.flags.c_contiguous:
                return None
        env = (*args, *consts, *[empty(shape, dtype) for empty, shape, dtype in allocs],
               status)
        fn(env)
        if status[0]:
            _raise_status(status)
        return [env[i] for i in outs]

    def call(args):
        if len(args) != n:
            return None
        for a, (shape, dtype) in zip(args, sig):
            if type(a) is not ndarray or a.shape != shape or a.dtype != dtype:
                return None
        return trusted(args)
    call.trusted = trusted
    return call


def _raise_status(status) -> None:
    """Report what generated code flagged (and clear the flag)."""
    code = int(status[0])
    status[0] = 0
    if code == 2:
        raise MemoryError("fx: a compiled kernel could not allocate its scratch memory")
    raise RuntimeError("fx: a compiled kernel accessed memory out of bounds "
                       "(FX_BOUNDS_CHECK caught it); please report this bug")


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


class Executable:
    """A compiled program: ``exe(list_of_arrays) -> list_of_arrays``.

    Attributes:
      out_avals: the avals of the outputs (those of the jaxpr given to ``compile``).
      fallbacks: the equations that run their eager impl.
    """

    def __init__(self, closed: ClosedJaxpr, *, bounds_check: bool | None = None):
        if bounds_check is None:
            bounds_check = os.environ.get("FX_BOUNDS_CHECK", "") not in ("", "0")
        self.bounds_check = bounds_check
        self.out_avals = list(closed.out_avals)
        self.in_avals = list(closed.in_avals)
        self._closed = closed
        # under jax_debug_nans/infs every equation's result is checked, so the program runs
        # equation by equation (config is part of jit's cache key: a change recompiles)
        self._checked = bool(config.jax_debug_nans or config.jax_debug_infs)
        def log_pass(name, result):
            _debug(1, f"fx: after {name}:\n{result}")

        opt = optimize(closed, debug=log_pass if _debug_level() >= 1 else None)
        self.optimized = opt
        unsupported: set[int] = set()
        for _ in range(4 * len(opt.jaxpr.eqns) + 4):
            groups, planner = fusion_plan(opt, frozenset(unsupported))
            try:
                self._build(opt, groups, unsupported, planner)
                break
            except loops.CodegenError as err:
                # equations the loop emitter cannot handle run their eager impl
                bad = err.eqns or getattr(err, "group_eqns", [])
                if not bad:
                    raise
                _debug(1, f"fx: falling back: {err.args[0]}")
                unsupported.update(id(e) for e in bad)
        self._program = self._plan_calls()
        fast = None if self._checked else self._plan_fast()
        self._fast_call = _fast_caller(self._in_sig, *fast) if fast is not None else None

    def _build(self, opt, groups, unsupported, planner):
        """Slots, steps and native code for ``groups`` (raises CodegenError, with the group
        at fault, when a group cannot be emitted)."""
        jaxpr = opt.jaxpr
        self.groups = groups
        if _debug_level() >= 2:
            _debug(2, "fx: fusion groups\n" + fusion.format_groups(groups))
        self.fallbacks = [g.eqns[0] for g in groups if g.kind == "fallback"]
        if self.fallbacks and _debug_level() >= 1:
            _debug(1, "fx: equations running their eager impl:\n" + "\n".join(
                f"    {e}" for e in self.fallbacks))

        # slots: every materialized value; the arguments first, then constants
        table = _Table()
        scope = control.Scope(table)
        slot = scope.slot
        self._in_slots = [slot(v) for v in jaxpr.invars]
        for v, c in zip(jaxpr.constvars, opt.consts):
            scope.const(v, _contiguous(_to_numpy(c), v.aval.dtype))
        for v in jaxpr.outvars:
            if isinstance(v, Literal):
                slot(v)
        for g in groups:
            for v in list(g.inputs) + list(g.outputs):
                slot(v)
            if g.kind == "library" and g.eqns[0].primitive.name in control.CONTROL:
                scope.plans[id(g)] = control.plan(g.eqns[0], planner, scope)
        self._out_slots = [slot(v) for v in jaxpr.outvars]
        self._slot_avals = avals = table.avals
        self._init = init = table.init
        self._in_sig = [(tuple(a.shape), np.dtype(a.dtype)) for a in jaxpr.in_avals]

        # steps: native segments between fallbacks
        threads = runtime.num_threads()
        steps: list = []
        seg = None
        defined = {s for s, _ in init} | set(self._in_slots)
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
        self._steps = steps
        self._nslots = len(avals)
        self._scope = scope

        # native code: one module, one entry function per segment
        segments = [s for s in steps if isinstance(s, _Segment)]
        self.ir_text = ""
        self.module_ref = None
        if not segments:
            return
        marked = tuple(k for k, e in enumerate(jaxpr.eqns) if id(e) in unsupported)
        options = ("cpu", self.bounds_check, threads, runtime.OBJECT_LAYOUT is not None, marked,
                   blas.library_info() is not None and not blas._disabled())
        key = _canonical_text(jaxpr, options)
        with _cache_lock:
            cached = _cache.get(key)
        if cached is None:
            def build():  # only on a miss of the disk cache too
                module = ir.Module(name="fx")
                module.triple = runtime.host_info()["triple"]
                module.data_layout = str(runtime.target_machine().target_data)
                emitter = _Emitter(module, self.bounds_check, threads)
                names = []
                for si, s in enumerate(segments):
                    name = f"fx_segment_{si}"
                    _entry_function(emitter, name, s, self._nslots, scope)
                    names.append(name)
                return str(module), names
            from lowering.cpu import diskcache
            cached = diskcache.compile_cached(key, build)
            with _cache_lock:
                _cache[key] = cached
        addresses, names, text, module_ref = cached
        if "_task" in text and threads > 1:
            runtime.ensure_pool()
        self.ir_text = text
        self.module_ref = module_ref
        if _debug_level() >= 3:
            _debug(3, f"fx: LLVM IR\n{text}")
        if _debug_level() >= 4:
            _debug(4, f"fx: assembly\n{runtime.assembly(module_ref)}")
        proto = ctypes.CFUNCTYPE(None, ctypes.py_object if runtime.OBJECT_LAYOUT
                                 else ctypes.c_void_p)
        for s, name in zip(segments, names):
            s.fn = proto(addresses[name])

    # -- calling ---------------------------------------------------------------------
    def _plan_memory(self):
        """Which buffer each written slot uses.

        Program outputs get arrays of their own each call. Other intermediates that only
        native code reads share buffers (raw bytes, 64-byte aligned when large) when
        their live ranges, in group order, do not overlap: best fit among the free
        buffers, growing one when none fits. Intermediates a fallback reads get arrays
        of their own (an eager impl may return a view of its operand).
        Returns ``(own, sizes, shared)``: own = [(slot, shape, dtype)], sizes = bytes of
        each shared buffer, shared = [(slot, buffer index)].
        """
        scope = self._scope
        avals = self._slot_avals
        outputs = set(self._out_slots)
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        private = set(outputs)
        order: list[int] = []
        defining: dict[int, object] = {}  # slot -> the group that writes it
        pos = 0
        for step in self._steps:
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
        self._donation = self._plan_donation(first, last, defining)
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

    def _plan_donation(self, first, last, defining) -> dict:
        """Output slot -> argument positions whose buffer may hold that output when the
        argument is donated: same shape and dtype, and the argument is no longer read
        once the output is written (read last by an earlier group, or by the output's
        own single-output elementwise loop at the same element only)."""
        out_count: dict[int, int] = {}
        for sl in self._out_slots:
            out_count[sl] = out_count.get(sl, 0) + 1
        result = {}
        for o, n in out_count.items():
            if n != 1 or o not in first:
                continue
            aval = self._slot_avals[o]
            cands = []
            for k, (sl, sig) in enumerate(zip(self._in_slots, self._in_sig)):
                if sig != (tuple(aval.shape), np.dtype(aval.dtype)) or sl in out_count:
                    continue
                end = last.get(sl, 0)
                if end < first[o] or (end == first[o] and
                                      _reads_elementwise(defining[o], sl, self._scope)):
                    cands.append(k)
            if cands:
                result[o] = cands
        return result

    @property
    def fresh_outputs(self) -> tuple:
        """Per output: whether each call returns a new buffer of its own."""
        own = {s for s, _, _ in self._own}
        counts = {}
        for sl in self._out_slots:
            counts[sl] = counts.get(sl, 0) + 1
        return tuple(sl in own and counts[sl] == 1 for sl in self._out_slots)

    def run_donating(self, args, donated):
        """Run with the arrays at positions ``donated`` available for outputs.
        Returns ``(outputs, fresh)``: fresh says which outputs are buffers of their own
        (a donated buffer counts: its array is deleted by the caller)."""
        args = self._check_args(args)
        into = {}
        taken = set()
        for o, cands in self._donation.items():
            for k in cands:
                if k in donated and k not in taken and args[k].flags.writeable:
                    into[o] = args[k]
                    taken.add(k)
                    break
        if self._checked:
            return self._run_checked(args), self.fresh_outputs
        return self._run(args, into), self.fresh_outputs

    def _plan_calls(self):
        """Precomputed per-step data so that a call does little Python."""
        own, sizes, shared = self._plan_memory()
        self._own, self._buffer_sizes, self._shared = own, sizes, shared
        plan = []
        for step in self._steps:
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

    def _allocate(self, env, into=None) -> None:
        """Put this call's output arrays (or the donated arrays in ``into``) and shared
        buffers in ``env``."""
        for s, shape, dtype in self._own:
            env[s] = into[s] if into and s in into else _empty(shape, dtype)
        if self._shared:
            bufs = [_empty((n,), _BYTE) for n in self._buffer_sizes]
            for s, i in self._shared:
                env[s] = bufs[i]

    def _plan_fast(self):
        """The one-native-call path: slots are arguments, then constants and literals, then
        the buffers the call allocates, in that order."""
        if len(self._program) != 1 or self._program[0][0] != "native" or self.bounds_check \
                or runtime.OBJECT_LAYOUT is None:
            return None
        fn = self._program[0][1]
        n_in = len(self._in_slots)
        fixed = sorted(self._init)
        if [s for s, _ in fixed] != list(range(n_in, n_in + len(fixed))):
            return None
        start = n_in + len(fixed)
        written = sorted([(s, (shape, dtype), None) for s, shape, dtype in self._own] +
                         [(s, ((n,), _BYTE), i) for s, i in self._shared
                          for n in [self._buffer_sizes[i]]], key=lambda t: t[0])
        if [s for s, _, _ in written] != list(range(start, self._nslots)):
            return None
        if len({i for _, _, i in written if i is not None}) != len(self._shared):
            return None  # shared buffers: the general path
        allocators = [(np.empty if dtype.itemsize * int(np.prod(shape)) < 1024
                       else runtime.aligned_empty, shape, dtype)
                      for _, (shape, dtype), _ in written]
        return (fn, tuple(v for _, v in fixed), allocators, list(self._out_slots))

    def _check_args(self, args):
        if len(args) != len(self._in_sig):
            raise TypeError(f"compiled program takes {len(self._in_sig)} arguments, got "
                            f"{len(args)}")
        out = []
        for i, (a, (shape, dtype)) in enumerate(zip(args, self._in_sig)):
            if type(a) is not np.ndarray:
                a = np.asarray(a)
            if a.shape != shape or a.dtype != dtype:
                if a.shape == shape and a.dtype.kind == dtype.kind and \
                        a.dtype.newbyteorder("=") == dtype:
                    a = a.astype(dtype)
                else:
                    raise TypeError(
                        f"argument {i} has shape {a.shape} and dtype {a.dtype}, but the "
                        f"program was compiled for shape {shape} and dtype {dtype}")
            if not a.flags.c_contiguous:
                a = _contiguous(a)
            out.append(a)
        return out

    def __call__(self, args: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Run the program on NumPy arrays (shapes and dtypes as compiled)."""
        fast = self._fast_call
        if fast is not None:
            out = fast(args)
            if out is not None:
                return out
        if self._checked:
            return self._run_checked(self._check_args(args))
        return self._run(self._check_args(args))

    def _run_checked(self, args):
        """Equation by equation with each result checked for NaN/inf (jax_debug_nans)."""
        jaxpr = self._closed.jaxpr
        env = {}
        read = lambda v: np.asarray(v.val, v.aval.dtype) if isinstance(v, Literal) \
            else env[id(v)]  # noqa: E731
        for v, c in zip(jaxpr.constvars, self._closed.consts):
            env[id(v)] = _to_numpy(c)
        for v, a in zip(jaxpr.invars, args):
            env[id(v)] = a
        for eqn in jaxpr.eqns:
            out = eqn.primitive.impl(*[read(v) for v in eqn.invars], **eqn.params)
            if not eqn.primitive.multiple_results:
                core.check_nans(eqn.primitive, out, eqn.source_info)
                out = [out]
            for v, o in zip(eqn.outvars, out):
                env[id(v)] = np.asarray(o)
        return [read(v) for v in jaxpr.outvars]

    def _run(self, args, into=None):
        env: list = [None] * (self._nslots + 1)
        for s, v in self._init:
            env[s] = v
        env[:len(args)] = args
        status = np.zeros(1, np.int8) if self.bounds_check else _STATUS_OK
        env[-1] = status
        layout = runtime.OBJECT_LAYOUT
        self._allocate(env, into)
        for step in self._program:
            if step[0] == "native":
                fn = step[1]
                if layout is not None:
                    fn(tuple(env))
                else:
                    ptrs = (ctypes.c_void_p * len(env))(*[
                        None if a is None else a.ctypes.data for a in env])
                    fn(ctypes.addressof(ptrs))
                if status[0]:
                    _raise_status(status)
            else:
                _, impl, in_slots, outs, params, multiple = step
                vals = [env[s] if isinstance(s, int) else np.asarray(s.val, s.aval.dtype)
                        for s in in_slots]
                result = impl(*vals, **params)
                results = result if multiple else [result]
                for spec, r in zip(outs, results):
                    if spec is None:
                        continue
                    s, shape, dtype = spec
                    r = np.asarray(r)
                    if r.dtype != dtype:
                        r = r.astype(dtype)
                    env[s] = _contiguous(r)
        return [env[s] for s in self._out_slots]

    # -- introspection -----------------------------------------------------------------
    def as_text(self) -> str:
        """The optimized jaxpr, the fusion groups and the LLVM IR."""
        return (f"optimized jaxpr:\n{self.optimized}\n\nfusion groups:\n"
                f"{fusion.format_groups(self.groups)}\n\nLLVM IR:\n{self.ir_text}")

    @property
    def kernel_count(self) -> int:
        """Number of loop kernels (loop and reduce groups)."""
        return sum(1 for g in self.groups if g.kind in ("loop", "reduce"))


def compile(closed: ClosedJaxpr, *, bounds_check: bool | None = None) -> Executable:  # noqa: A001
    """Compile a closed jaxpr to native CPU code.

    Args:
      closed: the program (e.g. ``fx.make_jaxpr(f)(*args)``).
      bounds_check: compile a bounds check into every load and store (default: the
        ``FX_BOUNDS_CHECK`` environment variable).
    Returns:
      an ``Executable``: call it with a list of NumPy arrays, get a list back.

    Example:
      >>> exe = compile(fx.make_jaxpr(lambda x: jnp.tanh(x) * 2)(np.ones(4, np.float32)))
      >>> exe([np.arange(4, dtype=np.float32)])
    """
    if not isinstance(closed, ClosedJaxpr):
        raise TypeError(f"compile expects a ClosedJaxpr (from fx.make_jaxpr), got "
                        f"{type(closed).__name__}")
    return Executable(closed, bounds_check=bounds_check)
