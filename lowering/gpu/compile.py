"""``compile(closed_jaxpr) -> GpuExecutable``: passes, the shared fusion plan, one
CUDA kernel per fused group (all of a program's kernels in one module, compiled
once by NVRTC), products through the runtime's matmul (cuBLAS), control flow as
host loops over launches (``lowering.gpu.control``), convolutions as implicit-GEMM
kernels (``lowering.gpu.conv``), and the eager impl on the host for what has no
kernel.

Invariants: a program is a list of steps over a flat environment of device
buffers (one slot per materialized value): kernel launches, products, control
flow and fallbacks; values inside a fused kernel have no buffer. Each sub-jaxpr
of a control-flow equation is a program of its own (its own slots, planned by
the same pipeline), and its kernels live in the executable's one module. A
kernel writes into a buffer already bound to its output slot (control flow binds
loop carries and scan slices that way), else into a fresh one. The runtime (the
``runtime`` argument: ``lowering.gpu.runtime.CupyRuntime`` on a GPU,
``lowering.gpu.emulate.HostRuntime`` on the host) owns buffers, module loading,
launches and graph capture, so planning and code generation run and are tested
without a GPU. Kernel modules are cached in memory by their source and the
runtime's target (the CuPy runtime also caches device code on disk, keyed by
source, target and versions).
"""
from __future__ import annotations

import importlib
import threading
from typing import Sequence

import numpy as np

from fx.config import config
from fx.core import ClosedJaxpr, DropVar, Literal
from lowering import fusion, passes
from lowering.gpu import codegen, control, conv, eager, kernels

_cpu = importlib.import_module("lowering.cpu.compile")  # (the package exports compile())

# FX_DEBUG logging and constants' values, shared with the CPU backend
_debug, _debug_level, _to_numpy = _cpu.debug, _cpu.debug_level, _cpu.to_numpy

__all__ = ["compile", "GpuExecutable", "Program", "module_source", "build_kernels",
           "dot_general", "allows_tf32", "clear_cache"]

_modules: dict = {}
_modules_lock = threading.Lock()


def clear_cache() -> None:
    """Forget loaded kernel modules (later compiles load them again)."""
    with _modules_lock:
        _modules.clear()


# ---------------------------------------------------------------------------
# code generation for a whole program


def module_source(specs) -> str:
    """The CUDA C module for ``specs`` (the prelude, then each kernel)."""
    return codegen.PRELUDE + "\n" + "\n".join(s.source for s in specs)


def build_kernels(groups, prefix: str = "fx_k") -> tuple[list, dict]:
    """KernelSpecs for the loop and reduce groups of ``groups`` (named ``<prefix><i>``).

    Returns:
      ``(specs, per_group)``: every spec, and ``id(group) -> (spec, vector spec or None)``.
      Raises ``kernels.CodegenError`` (with ``group_eqns`` set) for a group it cannot emit.
    """
    specs, per_group = [], {}
    for gi, g in enumerate(groups):
        if g.kind not in ("loop", "reduce"):
            continue
        try:
            spec = kernels.emit_group(g, f"{prefix}{gi}")
            vec = kernels.emit_group(g, f"{prefix}{gi}_v", vector=True) \
                if kernels.vector_ok(g) else None
        except kernels.CodegenError as err:
            err.group_eqns = g.eqns
            raise
        specs.append(spec)
        if vec is not None:
            specs.append(vec)
        per_group[id(g)] = (spec, vec)
    return specs, per_group


# ---------------------------------------------------------------------------
# products


def _dot_split(dimension_numbers, lhs_ndim, rhs_ndim):
    (lc, rc), (lb, rb) = dimension_numbers
    lc, rc, lb, rb = (tuple(int(a) for a in t) for t in (lc, rc, lb, rb))
    lf = tuple(d for d in range(lhs_ndim) if d not in lc and d not in lb)
    rf = tuple(d for d in range(rhs_ndim) if d not in rc and d not in rb)
    return lc, rc, lb, rb, lf, rf


_TF32_NAMES = ("tensorfloat32", "fastest", "bfloat16")
_EXACT_NAMES = ("highest", "high", "float32", "tensorfloat32_3x")


def allows_tf32(precision=None) -> bool:
    """Whether float32 products may use TF32 tensor cores: only when the user allows
    it, through the equation's ``precision`` (``"tensorfloat32"``, ``"fastest"``,
    ``"bfloat16"``) or, for a default precision, ``jax_default_matmul_precision``
    (``"tensorfloat32"``, ``"fastest"``, ``"bfloat16"``, ``"default"``).

    Example:
      >>> with fx.default_matmul_precision("tensorfloat32"): allows_tf32()
      True
    """
    names = [str(p).lower().split(".")[-1] for p in (
        precision if isinstance(precision, tuple) else (precision,)) if p is not None]
    if any(n in _EXACT_NAMES for n in names):
        return False
    if names and all(n in _TF32_NAMES for n in names):
        return True
    setting = config.jax_default_matmul_precision
    return setting is not None and str(setting).lower() in _TF32_NAMES + ("default",)


def dot_general(runtime, lhs, rhs, *, dimension_numbers, out_dtype, precision=None):
    """``dot_general`` as one batched matrix product of the runtime (cuBLAS on a GPU):
    operands are transposed to (batch, M, K) and (batch, K, N) when needed."""
    xp = runtime.xp
    lc, rc, lb, rb, lf, rf = _dot_split(dimension_numbers, lhs.ndim, rhs.ndim)
    size = lambda a, dims: int(np.prod([a.shape[d] for d in dims], dtype=np.int64))  # noqa
    batch = tuple(lhs.shape[d] for d in lb)
    B, M, K, N = size(lhs, lb), size(lhs, lf), size(lhs, lc), size(rhs, rf)
    a = xp.transpose(lhs, lb + lf + lc).reshape(B, M, K)
    b = xp.transpose(rhs, rb + rc + rf).reshape(B, K, N)
    out = runtime.matmul(a, b, allows_tf32(precision))
    shape = batch + tuple(lhs.shape[d] for d in lf) + tuple(rhs.shape[d] for d in rf)
    out = out.reshape(shape)
    return out if out.dtype == out_dtype else out.astype(out_dtype)


# ---------------------------------------------------------------------------
# programs


class _Launch:
    __slots__ = ("spec", "vec", "slots", "grid", "block", "vgrid", "fn", "vfn")


def launch_kernel(rt, launch: _Launch, env) -> None:
    """Launch one kernel step over ``env`` (its outputs must be bound)."""
    bufs = [env[s] for s in launch.slots]
    if launch.vfn is not None and all(rt.aligned(b) for b in bufs):
        rt.launch(launch.vfn, launch.vec.name, launch.vgrid, launch.block, bufs)
    else:
        rt.launch(launch.fn, launch.spec.name, launch.grid, launch.block, bufs)


class Program:
    """A planned (sub-)program: steps over its own slots.

    Attributes:
      in_slots, out_slots: the slots of the jaxpr's invars and outvars.
      kernel_outs: ``slot -> (shape, dtype)`` for every slot a kernel writes (a caller may
        bind a buffer there before ``run``).
      kernels_only: True when every step is a kernel launch (the program can be captured
        in a CUDA graph once its buffers are bound).
    """

    def __init__(self):
        self.nslots = 0
        self.in_slots: list[int] = []
        self.out_slots: list[int] = []
        self.init: list = []
        self.steps: list = []
        self.kernel_outs: dict[int, tuple] = {}

    @property
    def kernels_only(self) -> bool:
        return all(s[0] == "kernel" for s in self.steps)

    def new_env(self, inputs) -> list:
        """A fresh environment with constants and ``inputs`` bound."""
        env: list = [None] * self.nslots
        for s, v in self.init:
            env[s] = v
        for s, a in zip(self.in_slots, inputs, strict=True):
            env[s] = a
        return env

    def bind_outputs(self, rt, env, skip=()) -> None:
        """Allocate every unbound kernel output of ``env`` (before a graph capture)."""
        for s, (shape, dtype) in self.kernel_outs.items():
            if env[s] is None and s not in skip:
                env[s] = rt.empty(shape, dtype)

    def run(self, rt, env) -> None:
        """Run the steps over ``env`` (inputs bound; outputs bound or allocated)."""
        for step in self.steps:
            kind = step[0]
            if kind == "kernel":
                _, launch, outs = step
                for s, shape, dtype in outs:
                    if env[s] is None:
                        env[s] = rt.empty(shape, dtype)
                launch_kernel(rt, launch, env)
            elif kind == "dot":
                _, ins, out, params, aval = step
                env[out] = dot_general(rt, env[ins[0]], env[ins[1]],
                                       dimension_numbers=params["dimension_numbers"],
                                       out_dtype=np.dtype(aval.dtype),
                                       precision=params.get("precision"))
            elif kind == "control":
                step[1].run(rt, env)
            else:
                _, impl, ins, outs, params, multiple = step
                host = [rt.to_host(env[s]) if isinstance(s, int) else
                        np.asarray(s.val, s.aval.dtype) for s in ins]
                with eager.on_host():  # eager calls inside a host impl stay on the host
                    result = impl(*host, **params)
                results = result if multiple else [result]
                for spec, r in zip(outs, results, strict=False):
                    if spec is not None:
                        s, shape, dtype = spec
                        env[s] = rt.asarray(np.ascontiguousarray(np.asarray(r), dtype))


class Builder:
    """Plans the programs of one executable (the top level and every sub-jaxpr) and
    collects the kernels of all of them for one module.

    Args:
      runtime: the runtime the executable runs on.
      planner: a ``control.Planner`` (sub-jaxprs' optimization and fusion).
    """

    def __init__(self, runtime, planner):
        self.rt = runtime
        self.planner = planner
        self.specs: list = []
        self.launches: list[_Launch] = []
        self._bodies = 0

    def add_spec(self, spec) -> None:
        """Add a helper kernel (control flow's copies) to the module."""
        self.specs.append(spec)

    def kernel_step(self, spec, slots, outs) -> tuple:
        """A launch step of ``spec`` over ``slots``; ``outs``: (slot, shape, dtype)."""
        step = _Launch()
        step.spec, step.vec = spec, None
        step.slots = list(slots)
        step.grid, step.block = spec.launch(self.rt.max_blocks)
        step.vgrid, step.fn, step.vfn = None, None, None
        self.launches.append(step)
        return ("kernel", step, outs)

    def body(self, closed):
        """The program of sub-jaxpr ``closed`` (optimized and fused by the planner)."""
        opt, groups = self.planner.body(closed)
        self._bodies += 1
        return self.program(opt, groups, f"fx_b{self._bodies}_k")

    def program(self, opt, groups, prefix="fx_k") -> Program:
        """Plan ``opt`` (an optimized closed jaxpr) fused into ``groups``."""
        rt = self.rt
        jaxpr = opt.jaxpr
        groups = conv.plan_groups(groups, jaxpr.outvars, prefix)
        specs, per_group = build_kernels(groups, prefix)
        self.specs.extend(specs)
        prog = Program()
        slot_of: dict[int, int] = {}
        init: list = []

        def slot(v):
            if id(v) not in slot_of:
                slot_of[id(v)] = prog.nslots
                prog.nslots += 1
                if isinstance(v, Literal):
                    init.append((slot_of[id(v)], np.asarray(v.val, v.aval.dtype)))
            return slot_of[id(v)]

        prog.in_slots = [slot(v) for v in jaxpr.invars]
        for v, c in zip(jaxpr.constvars, opt.consts, strict=False):
            init.append((slot(v), np.ascontiguousarray(_to_numpy(c), v.aval.dtype)))
        for v in jaxpr.outvars:
            if isinstance(v, Literal):
                slot(v)
        for g in groups:
            for v in list(g.inputs) + list(g.outputs):
                slot(v)
        prog.out_slots = [slot(v) for v in jaxpr.outvars]
        for g in groups:
            if g.kind in ("loop", "reduce"):
                spec, vec = per_group[id(g)]
                step = _Launch()
                step.spec, step.vec = spec, vec
                step.slots = [slot_of[id(v)] for v in spec.buffers]
                step.grid, step.block = spec.launch(rt.max_blocks)
                step.vgrid = vec.launch(rt.max_blocks)[0] if vec is not None else None
                step.fn = step.vfn = None
                self.launches.append(step)
                outs = [(slot_of[id(v)], tuple(v.aval.shape), np.dtype(v.aval.dtype))
                        for v in g.outputs]
                prog.steps.append(("kernel", step, outs))
            elif g.kind == "conv":
                self.specs.append(g.spec)
                outs = [(slot(v), tuple(v.aval.shape), np.dtype(v.aval.dtype))
                        for v in g.outputs]
                prog.steps.append(self.kernel_step(g.spec, [slot(v) for v in g.spec.buffers],
                                                   outs))
            elif g.kind == "library" and g.eqns[0].primitive.name in control.CONTROL:
                prog.steps.append(("control", control.plan(g.eqns[0], self, slot)))
            elif g.kind == "library":
                e = g.eqns[0]
                prog.steps.append(("dot", [slot_of[id(v)] for v in e.invars],
                                   slot_of[id(e.outvars[0])], e.params, e.outvars[0].aval))
            else:
                e = g.eqns[0]
                impl = e.primitive.impl_rule or e.primitive.impl
                ins = [slot(v) if not isinstance(v, Literal) else v for v in e.invars]
                outs = [None if isinstance(o, DropVar) else
                        (slot(o), tuple(o.aval.shape), np.dtype(o.aval.dtype))
                        for o in e.outvars]
                prog.steps.append(("fallback", impl, ins, outs, e.params,
                                   e.primitive.multiple_results))
        for step in prog.steps:
            if step[0] == "kernel":
                for s, shape, dtype in step[2]:
                    prog.kernel_outs[s] = (shape, dtype)
        # constants and literals live on the device for the executable's lifetime
        prog.init = [(s, rt.asarray(a)) for s, a in init]
        return prog

    def link(self, loaded) -> None:
        """Resolve every launch's kernel functions in the loaded module."""
        for step in self.launches:
            step.fn = loaded[step.spec.name]
            step.vfn = loaded[step.vec.name] if step.vec is not None else None


# ---------------------------------------------------------------------------
# the executable


class GpuExecutable:
    """A compiled program: ``exe(list_of_arrays) -> list_of_device_arrays``.

    Attributes:
      groups: the top level's fusion groups; ``specs`` every generated kernel (sub-jaxprs'
      included); ``source`` the CUDA C module; ``fallbacks`` the top-level equations that
      run their eager impl on the host; ``program`` the planned top level.
    """

    def __init__(self, closed: ClosedJaxpr, runtime):
        self.runtime = runtime
        self.in_avals = list(closed.in_avals)
        self.out_avals = list(closed.out_avals)

        def log_pass(name, result):
            _debug(1, f"fx: after {name}:\n{result}")
        opt = passes.optimize(closed, debug=log_pass if _debug_level() >= 1 else None)
        self.optimized = opt
        unsupported: set[int] = set()
        for _ in range(10_000):
            def supported(e):
                return id(e) not in unsupported and (codegen.supports(e) or conv.supports(e))
            planner = control.Planner(passes.optimize, supported)
            groups = fusion.fuse(opt.jaxpr, planner.supported)
            builder = Builder(runtime, planner)
            try:
                program = builder.program(opt, groups)
                break
            except kernels.CodegenError as err:
                bad = err.eqns or getattr(err, "group_eqns", [])
                if not bad or all(id(e) in unsupported for e in bad):
                    raise
                _debug(1, f"fx: falling back: {err.args[0]}")
                unsupported.update(id(e) for e in bad)
        self.groups, self.specs, self.program = groups, builder.specs, program
        self.fallbacks = [g.eqns[0] for g in groups if g.kind == "fallback"]
        if _debug_level() >= 2:
            _debug(2, "fx: fusion groups\n" + fusion.format_groups(groups))
        if self.fallbacks and _debug_level() >= 1:
            _debug(1, "fx: equations running their eager impl on the host:\n" + "\n".join(
                f"    {e}" for e in self.fallbacks))
        self.source = module_source(self.specs) if self.specs else ""
        if self.specs and _debug_level() >= 3:
            _debug(3, f"fx: CUDA source\n{self.source}")
        builder.link(self._load(self.specs) if self.specs else {})

    def _load(self, specs) -> dict:
        key = (self.source, getattr(self.runtime, "target", self.runtime.platform),
               id(self.runtime) if self.runtime.platform == "host-emulation" else None)
        with _modules_lock:
            hit = _modules.get(key)
        if hit is None:
            hit = self.runtime.load(self.source, specs)
            with _modules_lock:
                _modules[key] = hit
        return hit

    # -- calling -----------------------------------------------------------------------
    def _check_args(self, args):
        rt = self.runtime
        if len(args) != len(self.in_avals):
            raise TypeError(f"compiled program takes {len(self.in_avals)} arguments, got "
                            f"{len(args)}")
        out = []
        for i, (a, aval) in enumerate(zip(args, self.in_avals, strict=False)):
            if not rt.is_device_array(a):
                a = rt.asarray(np.asarray(_to_numpy(a)))
            if tuple(a.shape) != tuple(aval.shape) or a.dtype != aval.dtype:
                if tuple(a.shape) == tuple(aval.shape):
                    a = a.astype(aval.dtype)
                else:
                    raise TypeError(f"argument {i} has shape {tuple(a.shape)} and dtype "
                                    f"{a.dtype}, but the program was compiled for "
                                    f"{aval.str_short()}")
            if not a.flags.c_contiguous:
                a = rt.xp.ascontiguousarray(a)
            out.append(a)
        return out

    def __call__(self, args: Sequence) -> list:
        """Run the program; arguments may be device arrays or host arrays (copied)."""
        prog = self.program
        env = prog.new_env(self._check_args(args))
        prog.run(self.runtime, env)
        return [env[s] for s in prog.out_slots]

    # -- introspection -------------------------------------------------------------------
    def as_text(self) -> str:
        """The optimized jaxpr, the fusion groups and the CUDA source."""
        return (f"optimized jaxpr:\n{self.optimized}\n\nfusion groups:\n"
                f"{fusion.format_groups(self.groups)}\n\nCUDA source:\n{self.source}")

    @property
    def kernel_count(self) -> int:
        """Number of top-level kernels (loop and reduce groups, convolutions)."""
        return sum(1 for s in self.program.steps if s[0] == "kernel")


def compile(closed: ClosedJaxpr, *, runtime=None) -> GpuExecutable:  # noqa: A001
    """Compile a closed jaxpr to CUDA kernels for a GPU.

    Args:
      closed: the program (e.g. ``fx.make_jaxpr(f)(*args)``).
      runtime: where it runs; default the default GPU's ``CupyRuntime``
        (``lowering.gpu.device.default_runtime()``); ``emulate.HostRuntime()`` runs the
        kernels on the host.
    Returns:
      a ``GpuExecutable``: call it with a list of arrays, get a list of device arrays.

    Example:
      >>> exe = compile(fx.make_jaxpr(lambda x: jnp.tanh(x) * 2)(np.ones(4, np.float32)))
      >>> exe([cupy.arange(4, dtype=cupy.float32)])
    """
    if not isinstance(closed, ClosedJaxpr):
        raise TypeError(f"compile expects a ClosedJaxpr (from fx.make_jaxpr), got "
                        f"{type(closed).__name__}")
    if runtime is None:
        from lowering.gpu import device
        runtime = device.default_runtime()
    return GpuExecutable(closed, runtime)
