"""Control flow on the GPU: ``while``, ``scan`` (and so ``fori_loop``) and
``cond``/``switch`` inside a compiled program run as host loops over kernel
launches, with every loop carry kept on the device.

Invariants: each sub-jaxpr (cond and body, scan body, each branch) is a
``compile.Program`` planned by the same pipeline in its own slots (its kernels
live in the executable's module); a sub-program runs in a fresh environment
whose inputs are the caller's device buffers. Only scalars come back to the
host: a ``while`` reads its predicate with one small device-to-host copy per
iteration (the predicate is computed on the device), a ``cond`` its branch index
once. Loop carries written by a kernel are written straight into a spare buffer
(two alternate per carry, never one a live carry still holds), scan slices are
offset views of the ``xs``/``ys`` buffers (a ``ys`` output written by a kernel is
written in place), so a plain iteration copies nothing a kernel could write.
A scan whose body is kernels only runs, where the runtime can capture, as two
CUDA graphs (even and odd iterations, carries alternating between two buffer
sets) replayed once per iteration: the slice index lives on the device (a
one-thread kernel advances it) and small copy kernels move slices in and out
of fixed buffers, since a graph's pointers are fixed. ``FX_GPU_GRAPHS=0`` turns
graphs off; a failed capture falls back to plain launches.
"""
from __future__ import annotations

import os

import numpy as np

from fx.core import DropVar, ShapedArray
from lowering.cpu import control as cpu_control
from lowering.gpu import kernels

__all__ = ["CONTROL", "Planner", "plan", "WhileStep", "ScanStep", "CondStep", "copy_spec",
           "graphs_enabled"]

CONTROL = cpu_control.CONTROL


def graphs_enabled() -> bool:
    """Whether static-trip-count loops may be captured in CUDA graphs
    (``FX_GPU_GRAPHS``, default on)."""
    return os.environ.get("FX_GPU_GRAPHS", "1").strip() not in ("0", "false", "no", "off")


class Planner(cpu_control.Planner):
    """Optimizes and fuses sub-jaxprs for the GPU, and says which control-flow
    equations run as host loops over launches: the CPU backend's planner, except that
    bodies with fallbacks are included (those equations run on the host inside the
    loop, the rest stays on the device).

    Args:
      optimize: ``optimize(closed) -> closed`` (the pass pipeline).
      supported: the backend's predicate for every other equation.
    """

    allow_fallbacks = True


# ---------------------------------------------------------------------------
# helper kernels: copies between fixed buffers and scan slices, the slice counter


class _Param:
    """A kernel parameter that is no jaxpr variable (the emulation reads ``aval``)."""

    __slots__ = ("aval",)

    def __init__(self, dtype):
        self.aval = ShapedArray((), np.dtype(dtype))


def copy_spec(name: str, nbytes: int, mode: str, length: int = 0,
              reverse: bool = False) -> kernels.KernelSpec:
    """A copy kernel of ``nbytes`` bytes (in 4-byte words when it divides).

    ``mode``: ``"copy"`` (``b0 <- b1``), ``"in"`` (``b0 <- b1[row]``) or ``"out"``
    (``b0[row] <- b1``), where ``row`` is the scan's slice for the iteration counter
    ``b2[0]`` (``length - 1 - counter`` when ``reverse``); ``"step"`` advances the
    counter ``b0[0]``.
    """
    if mode == "step":
        src = (f'extern "C" __global__ void __launch_bounds__({kernels.BLOCK}) {name}('
               "long long* __restrict__ b0) {\n"
               "  if (blockIdx.x == 0 && threadIdx.x == 0) b0[0] += 1;\n}\n")
        return kernels.KernelSpec(name, src, [_Param(np.int64)], 1, kernels.BLOCK, False,
                                  "loop")
    word, dtype, n = ("unsigned int", np.uint32, nbytes // 4) if nbytes % 4 == 0 else \
        ("unsigned char", np.uint8, nbytes)
    params = [f"{word}* __restrict__ b0", f"const {word}* __restrict__ b1"]
    bufs = [_Param(dtype), _Param(dtype)]
    lines = []
    dst, src = "b0[i]", "b1[i]"
    if mode in ("in", "out"):
        params.append("const long long* __restrict__ b2")
        bufs.append(_Param(np.int64))
        row = f"({length - 1}LL - b2[0])" if reverse else "b2[0]"
        lines.append(f"  const long long off = {row} * {n}LL;")
        if mode == "in":
            src = "b1[off + i]"
        else:
            dst = "b0[off + i]"
    lines.append(f"  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; "
                 f"i < {n}LL; i += (long long)gridDim.x * blockDim.x) {dst} = {src};")
    text = (f'extern "C" __global__ void __launch_bounds__({kernels.BLOCK}) {name}('
            f'{", ".join(params)}) {{\n' + "\n".join(lines) + "\n}\n")
    return kernels.KernelSpec(name, text, bufs, max(1, n), kernels.BLOCK, False, "loop")


def _helper(builder, mode, nbytes, length=0, reverse=False):
    """The launch of a (shared) helper kernel of the executable's module."""
    cache = builder.__dict__.setdefault("_control_helpers", {})
    key = (mode, nbytes, length, reverse)
    hit = cache.get(key)
    if hit is None:
        spec = copy_spec(f"fx_c{len(cache)}", nbytes, mode, length, reverse)
        builder.add_spec(spec)
        hit = cache[key] = builder.kernel_step(spec, [], [])[1]
    return hit


def _go(rt, launch, bufs) -> None:
    rt.launch(launch.fn, launch.spec.name, launch.grid, launch.block, bufs)


# ---------------------------------------------------------------------------
# steps


def _nbytes(shape, dtype) -> int:
    return int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize


def _spare(rt, pool: list, live, shape, dtype):
    """A buffer of ``pool`` that no live carry holds (allocated when none is free)."""
    for b in pool:
        if not any(b is c for c in live):
            return b
    b = rt.empty(shape, dtype)
    pool.append(b)
    return b


def _direct(body, out_slots, claimed=()) -> list[bool]:
    """Which of ``out_slots`` a kernel of ``body`` can write straight into a buffer the
    loop binds (a kernel output, not a body input, the first output naming it)."""
    taken = set(claimed)
    out = []
    for s in out_slots:
        ok = s in body.kernel_outs and s not in body.in_slots and s not in taken
        if ok:
            taken.add(s)
        out.append(ok)
    return out


class WhileStep:
    """``while``: the cond program's predicate comes back (one scalar) per iteration."""

    def __init__(self, eqn, builder, slot):
        p = eqn.params
        cn, bn = p["cond_nconsts"], p["body_nconsts"]
        ins = [slot(v) for v in eqn.invars]
        self.cconsts, self.bconsts, self.init = ins[:cn], ins[cn:cn + bn], ins[cn + bn:]
        self.outs = [None if isinstance(o, DropVar) else slot(o) for o in eqn.outvars]
        self.avals = [(tuple(o.aval.shape), np.dtype(o.aval.dtype)) for o in eqn.outvars]
        self.cond = builder.body(p["cond_jaxpr"])
        self.body = builder.body(p["body_jaxpr"])
        self.direct = _direct(self.body, self.body.out_slots)

    def run(self, rt, env) -> None:
        cond, body = self.cond, self.body
        cconsts = [env[s] for s in self.cconsts]
        bconsts = [env[s] for s in self.bconsts]
        carries = [env[s] for s in self.init]
        pools: list[list] = [[] for _ in carries]
        pred_slot = cond.out_slots[0]
        while True:
            ce = cond.new_env(cconsts + carries)
            cond.run(rt, ce)
            if not rt.read_scalar(ce[pred_slot]):
                break
            be = body.new_env(bconsts + carries)
            for j, s in enumerate(body.out_slots):
                if self.direct[j]:
                    be[s] = _spare(rt, pools[j], carries, *self.avals[j])
            body.run(rt, be)
            carries = [be[s] for s in body.out_slots]
        for s, c in zip(self.outs, carries):
            if s is not None:
                env[s] = c


class ScanStep:
    """``scan``: a host loop over the body's launches (offset views of the slices), or
    two captured CUDA graphs replayed per iteration."""

    def __init__(self, eqn, builder, slot):
        p = eqn.params
        nc, nk = p["num_consts"], p["num_carry"]
        ins = [slot(v) for v in eqn.invars]
        self.consts, self.init, self.xs = ins[:nc], ins[nc:nc + nk], ins[nc + nk:]
        self.outs = [None if isinstance(o, DropVar) else slot(o) for o in eqn.outvars]
        self.nk = nk
        self.length, self.reverse = int(p["length"]), bool(p["reverse"])
        avals = [(tuple(o.aval.shape), np.dtype(o.aval.dtype)) for o in eqn.outvars]
        self.carry_avals = avals[:nk]
        self.y_avals = [(s[1:], d) for s, d in avals[nk:]]
        x_avals = p["jaxpr"].in_avals[nc + nk:]
        self.body = body = builder.body(p["jaxpr"])
        c_slots, y_slots = body.out_slots[:nk], body.out_slots[nk:]
        self.y_direct = _direct(body, y_slots)
        claimed = [s for s, d in zip(y_slots, self.y_direct) if d]
        self.c_direct = _direct(body, c_slots, claimed)
        self.c_in_ys = [s in claimed for s in c_slots]  # carries that end as ys slices
        self.graph = None
        if body.kernels_only and getattr(builder.rt, "supports_graphs", False) \
                and self.length >= 2:
            self.graph = self._plan_graph(builder, x_avals)

    def _plan_graph(self, builder, x_avals) -> dict:
        body, nk, L, rev = self.body, self.nk, self.length, self.reverse
        c_slots, y_slots = body.out_slots[:nk], body.out_slots[nk:]
        direct = _direct(body, c_slots)
        return {
            "direct": direct,
            "x_in": [_helper(builder, "in", _nbytes(a.shape, a.dtype), L, rev)
                     for a in x_avals],
            "x_avals": [(tuple(a.shape), np.dtype(a.dtype)) for a in x_avals],
            "c_copy": [None if d else _helper(builder, "copy", _nbytes(*a))
                       for d, a in zip(direct, self.carry_avals)],
            "y_out": [_helper(builder, "out", _nbytes(*a), L, rev) for a in self.y_avals],
            "step": _helper(builder, "step", 8),
            "slots": (c_slots, y_slots),
        }

    def run(self, rt, env) -> None:
        consts = [env[s] for s in self.consts]
        init = [env[s] for s in self.init]
        xs = [env[s] for s in self.xs]
        ys = [rt.empty((self.length,) + shape, dtype) for shape, dtype in self.y_avals]
        carries = None
        if self.graph is not None and graphs_enabled():
            carries = self._run_graphs(rt, consts, init, xs, ys)
        if carries is None:
            carries = self._run_plain(rt, consts, init, xs, ys)
        for s, v in zip(self.outs, carries + ys):
            if s is not None:
                env[s] = v

    def _run_plain(self, rt, consts, carries, xs, ys) -> list:
        body, nk = self.body, self.nk
        c_slots, y_slots = body.out_slots[:nk], body.out_slots[nk:]
        pools: list[list] = [[] for _ in carries]
        for t in range(self.length):
            i = self.length - 1 - t if self.reverse else t
            be = body.new_env(consts + carries + [x[i, ...] for x in xs])
            for k, s in enumerate(y_slots):
                if self.y_direct[k]:
                    be[s] = ys[k][i, ...]
            for j, s in enumerate(c_slots):
                if self.c_direct[j]:
                    be[s] = _spare(rt, pools[j], carries, *self.carry_avals[j])
            body.run(rt, be)
            for k, s in enumerate(y_slots):
                if not self.y_direct[k]:
                    rt.copy(ys[k][i, ...], be[s])
            carries = [be[s] for s in c_slots]
        if self.length:  # a carry that is a ys slice: the output gets its own buffer
            for j, in_ys in enumerate(self.c_in_ys):
                if in_ys:
                    fresh = rt.empty(*self.carry_avals[j])
                    rt.copy(fresh, carries[j])
                    carries[j] = fresh
        return carries

    def _run_graphs(self, rt, consts, init, xs, ys) -> list | None:
        g, body, L = self.graph, self.body, self.length
        c_slots, y_slots = g["slots"]
        A = [rt.empty(*a) for a in self.carry_avals]
        B = [rt.empty(*a) for a in self.carry_avals]
        X = [rt.empty(*a) for a in g["x_avals"]]
        counter = rt.asarray(np.zeros((), np.int64))
        for dst, src in zip(A, init):
            rt.copy(dst, src)
        shared: dict[int, object] = {}
        envs = []
        for cin, cout in ((A, B), (B, A)):
            e = body.new_env(consts + cin + X)
            for j, s in enumerate(c_slots):
                if g["direct"][j]:
                    e[s] = cout[j]
            for s, (shape, dtype) in body.kernel_outs.items():
                if e[s] is None:
                    e[s] = shared.setdefault(s, rt.empty(shape, dtype))
            envs.append((e, cout))
        graphs = []
        try:
            for e, cout in envs:
                rt.begin_capture()
                try:
                    for launch, x, buf in zip(g["x_in"], xs, X):
                        _go(rt, launch, [buf, x, counter])
                    body.run(rt, e)
                    for j, s in enumerate(c_slots):
                        if g["c_copy"][j] is not None:
                            _go(rt, g["c_copy"][j], [cout[j], e[s]])
                    for launch, y, s in zip(g["y_out"], ys, y_slots):
                        _go(rt, launch, [y, e[s], counter])
                    _go(rt, g["step"], [counter])
                finally:
                    graphs.append(rt.end_capture())
        except Exception:  # noqa: BLE001 - capture is not possible here: plain launches
            return None
        for t in range(L):
            rt.graph_launch(graphs[t % 2])
        rt.keep_alive(graphs)
        return list(A if L % 2 == 0 else B)


class CondStep:
    """``cond``/``switch``: the index comes back (one scalar), then one branch runs."""

    def __init__(self, eqn, builder, slot):
        self.index = slot(eqn.invars[0])
        self.ops = [slot(v) for v in eqn.invars[1:]]
        self.outs = [None if isinstance(o, DropVar) else slot(o) for o in eqn.outvars]
        self.branches = [builder.body(b) for b in eqn.params["branches"]]

    def run(self, rt, env) -> None:
        n = len(self.branches)
        k = int(rt.read_scalar(env[self.index]))
        k = min(max(k, 0), n - 1)  # out-of-range indices clamp, as lax.switch
        prog = self.branches[k]
        e = prog.new_env([env[s] for s in self.ops])
        prog.run(rt, e)
        for s, o in zip(self.outs, prog.out_slots):
            if s is not None:
                env[s] = e[o]


def plan(eqn, builder, slot):
    """The step of control-flow equation ``eqn``; ``slot(var)`` gives the caller's slots
    and ``builder`` (``compile.Builder``) plans the sub-jaxprs."""
    name = eqn.primitive.name
    if name == "while":
        return WhileStep(eqn, builder, slot)
    if name == "scan":
        return ScanStep(eqn, builder, slot)
    return CondStep(eqn, builder, slot)
