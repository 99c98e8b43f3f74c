"""``compile(closed_jaxpr) -> GpuExecutable``: passes, the shared fusion plan, one
CUDA kernel per fused group (all of a program's kernels in one module, compiled
once by NVRTC), products through the runtime's matmul (cuBLAS), and the eager
impl on the host for what has no kernel.

Invariants: an executable is a list of steps over a flat environment of device
buffers (one slot per materialized value): kernel launches, products and
fallbacks; values inside a fused kernel have no buffer. The runtime (the
``runtime`` argument: ``lowering.gpu.runtime.CupyRuntime`` on a GPU,
``lowering.gpu.emulate.HostRuntime`` on the host) owns buffers, module loading and
launches, so planning and code generation run and are tested without a GPU.
Kernel modules are cached in memory by their source and the runtime's target
(the CuPy runtime also caches device code on disk, keyed by source, target and
versions).
"""
from __future__ import annotations

import threading
from typing import Sequence

import numpy as np

from fx.config import config
from fx.core import ClosedJaxpr, DropVar, Literal
from lowering import fusion, passes
from lowering.cpu.compile import _debug, _debug_level, _to_numpy  # (shared with the CPU)
from lowering.gpu import codegen, kernels

__all__ = ["compile", "GpuExecutable", "module_source", "build_kernels", "dot_general",
           "clear_cache"]

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


def build_kernels(groups) -> tuple[list, dict]:
    """KernelSpecs for the loop and reduce groups of ``groups``.

    Returns:
      ``(specs, per_group)``: every spec, and ``id(group) -> (spec, vector spec or None)``.
      Raises ``kernels.CodegenError`` (with ``group_eqns`` set) for a group it cannot emit.
    """
    specs, per_group = [], {}
    for gi, g in enumerate(groups):
        if g.kind not in ("loop", "reduce"):
            continue
        try:
            spec = kernels.emit_group(g, f"fx_k{gi}")
            vec = kernels.emit_group(g, f"fx_k{gi}_v", vector=True) \
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


def allows_tf32(precision=None) -> bool:
    """Whether float32 products may use TF32 tensor cores: only when the user allows
    it, through ``jax_default_matmul_precision`` (or the equation's precision)."""
    names = [str(p).lower().split(".")[-1] for p in (
        precision if isinstance(precision, tuple) else (precision,)) if p is not None]
    if any(n in ("highest", "high", "float32", "tensorfloat32_3x") for n in names):
        return False
    setting = config.jax_default_matmul_precision
    return setting is not None and str(setting).lower() in (
        "tensorfloat32", "fastest", "bfloat16", "default")


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
# the executable


class _Launch:
    __slots__ = ("spec", "vec", "slots", "grid", "block", "vgrid", "fn", "vfn")


class GpuExecutable:
    """A compiled program: ``exe(list_of_arrays) -> list_of_device_arrays``.

    Attributes:
      groups: the fusion groups; ``specs`` the generated kernels; ``source`` the CUDA C
      module; ``fallbacks`` the equations that run their eager impl on the host.
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
        for _ in range(len(opt.jaxpr.eqns) + 1):
            groups = fusion.fuse(opt.jaxpr, lambda e: id(e) not in unsupported
                                 and codegen.supports(e))
            try:
                specs, per_group = build_kernels(groups)
                break
            except kernels.CodegenError as err:
                bad = err.eqns or getattr(err, "group_eqns", [])
                if not bad:
                    raise
                _debug(1, f"fx: falling back: {err.args[0]}")
                unsupported.update(id(e) for e in bad)
        self.groups, self.specs = groups, specs
        self.fallbacks = [g.eqns[0] for g in groups if g.kind == "fallback"]
        if _debug_level() >= 2:
            _debug(2, "fx: fusion groups\n" + fusion.format_groups(groups))
        if self.fallbacks and _debug_level() >= 1:
            _debug(1, "fx: equations running their eager impl on the host:\n" + "\n".join(
                f"    {e}" for e in self.fallbacks))
        self.source = module_source(specs) if specs else ""
        if specs and _debug_level() >= 3:
            _debug(3, f"fx: CUDA source\n{self.source}")
        loaded = self._load(specs) if specs else {}
        self._plan(opt, groups, per_group, loaded)

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

    def _plan(self, opt, groups, per_group, loaded) -> None:
        jaxpr = opt.jaxpr
        rt = self.runtime
        slot_of: dict[int, int] = {}
        avals: list = []
        init: list = []

        def slot(v):
            if id(v) not in slot_of:
                slot_of[id(v)] = len(avals)
                avals.append(v.aval)
                if isinstance(v, Literal):
                    init.append((slot_of[id(v)], np.asarray(v.val, v.aval.dtype)))
            return slot_of[id(v)]

        self._in_slots = [slot(v) for v in jaxpr.invars]
        for v, c in zip(jaxpr.constvars, opt.consts, strict=False):
            init.append((slot(v), np.ascontiguousarray(_to_numpy(c), v.aval.dtype)))
        for v in jaxpr.outvars:
            if isinstance(v, Literal):
                slot(v)
        for g in groups:
            for v in list(g.inputs) + list(g.outputs):
                slot(v)
        self._out_slots = [slot(v) for v in jaxpr.outvars]
        # constants and literals live on the device for the executable's lifetime
        self._init = [(s, rt.asarray(a)) for s, a in init]
        self._nslots = len(avals)
        steps = []
        for g in groups:
            if g.kind in ("loop", "reduce"):
                spec, vec = per_group[id(g)]
                step = _Launch()
                step.spec, step.vec = spec, vec
                step.slots = [slot_of[id(v)] for v in spec.buffers]
                step.grid, step.block = spec.launch(rt.max_blocks)
                step.vgrid = vec.launch(rt.max_blocks)[0] if vec is not None else None
                step.fn = loaded[spec.name]
                step.vfn = loaded[vec.name] if vec is not None else None
                outs = [(slot_of[id(v)], tuple(v.aval.shape), np.dtype(v.aval.dtype))
                        for v in g.outputs]
                steps.append(("kernel", step, outs))
            elif g.kind == "library":
                e = g.eqns[0]
                steps.append(("dot", [slot_of[id(v)] for v in e.invars],
                              slot_of[id(e.outvars[0])], e.params, e.outvars[0].aval))
            else:
                e = g.eqns[0]
                impl = e.primitive.impl_rule or e.primitive.impl
                ins = [slot(v) if not isinstance(v, Literal) else v for v in e.invars]
                outs = [None if isinstance(o, DropVar) else
                        (slot(o), tuple(o.aval.shape), np.dtype(o.aval.dtype))
                        for o in e.outvars]
                steps.append(("fallback", impl, ins, outs, e.params,
                              e.primitive.multiple_results))
        self._steps = steps

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
        rt = self.runtime
        env: list = [None] * self._nslots
        for s, v in self._init:
            env[s] = v
        for s, a in zip(self._in_slots, self._check_args(args), strict=False):
            env[s] = a
        for step in self._steps:
            kind = step[0]
            if kind == "kernel":
                _, launch, outs = step
                for s, shape, dtype in outs:
                    if env[s] is None:
                        env[s] = rt.empty(shape, dtype)
                bufs = [env[s] for s in launch.slots]
                if launch.vfn is not None and all(rt.aligned(b) for b in bufs):
                    rt.launch(launch.vfn, launch.vec.name, launch.vgrid, launch.block, bufs)
                else:
                    rt.launch(launch.fn, launch.spec.name, launch.grid, launch.block, bufs)
            elif kind == "dot":
                _, ins, out, params, aval = step
                env[out] = dot_general(rt, env[ins[0]], env[ins[1]],
                                       dimension_numbers=params["dimension_numbers"],
                                       out_dtype=np.dtype(aval.dtype),
                                       precision=params.get("precision"))
            else:
                _, impl, ins, outs, params, multiple = step
                host = [rt.to_host(env[s]) if isinstance(s, int) else
                        np.asarray(s.val, s.aval.dtype) for s in ins]
                result = impl(*host, **params)
                results = result if multiple else [result]
                for spec, r in zip(outs, results, strict=False):
                    if spec is not None:
                        s, shape, dtype = spec
                        env[s] = rt.asarray(np.ascontiguousarray(np.asarray(r), dtype))
        return [env[s] for s in self._out_slots]

    # -- introspection -------------------------------------------------------------------
    def as_text(self) -> str:
        """The optimized jaxpr, the fusion groups and the CUDA source."""
        return (f"optimized jaxpr:\n{self.optimized}\n\nfusion groups:\n"
                f"{fusion.format_groups(self.groups)}\n\nCUDA source:\n{self.source}")

    @property
    def kernel_count(self) -> int:
        """Number of kernels (loop and reduce groups)."""
        return sum(1 for g in self.groups if g.kind in ("loop", "reduce"))


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
