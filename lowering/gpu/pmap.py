"""A pmap replica's program on GPUs: the per-replica jaxpr split at its collectives
into segments, each compiled by ``lowering.gpu.compile`` for every device, with the
collectives run by a device communicator (NCCL) between them.

Invariants: one host thread drives every local device: a step launches one
segment on each device (asynchronously, on the device's stream), or issues one
collective for all devices (one NCCL group), so the k-th collective of every
replica is the same call. Only collectives over the pmap's own axis at the top
level of the program (after inlining calls) are steps; ``split`` returns None for
a program with collectives anywhere else (inside control flow, nested pmaps,
``ragged_all_to_all``), which pmap then runs one thread per device with the
collectives staged through the host. Values are device buffers of each device's
runtime (``CupyRuntime``, or ``HostRuntime`` for the emulation).
"""
from __future__ import annotations

import threading
import weakref

import numpy as np

from fx.core import ClosedJaxpr, DropVar, Jaxpr, Literal
from lowering import passes
from primitives import collectives as C

__all__ = ["split", "SpmdProgram", "program_for", "STEP_KINDS"]

#: collective primitives that become communicator steps -> (kind, axis param)
STEP_KINDS = {"psum": ("psum", "axes"), "pmax": ("pmax", "axes"), "pmin": ("pmin", "axes"),
              "all_gather": ("all_gather", "axis_name"),
              "reduce_scatter": ("reduce_scatter", "axis_name"),
              "all_to_all": ("all_to_all", "axis_name"), "ppermute": ("ppermute", "axis_name"),
              "psend": ("ppermute", "axis_name"), "pbroadcast": ("pbroadcast", "axis_name"),
              "axis_index": ("axis_index", "axis_name")}


def _params(eqn) -> dict:
    """The communicator's params for a collective equation (``communicator.compute``'s)."""
    p, name = eqn.params, eqn.primitive.name
    groups = p.get("axis_index_groups")
    if name in ("psum", "pmax", "pmin"):
        return {"groups": groups}
    if name == "all_gather":
        return {"dim": p["all_gather_dimension"], "tiled": p["tiled"], "groups": groups}
    if name == "reduce_scatter":
        return {"dim": p["scatter_dimension"], "tiled": p["tiled"], "groups": groups}
    if name == "all_to_all":
        return {"split": p["split_axis"], "concat": p["concat_axis"], "groups": groups}
    if name in ("ppermute", "psend"):
        return {"perm": tuple(tuple(x) for x in p["perm"])}
    if name == "pbroadcast":
        return {"source": p["source"]}
    return {}


def _communicating(name: str) -> bool:
    """Whether primitive ``name`` exchanges values between replicas (or is a nested pmap);
    ``precv`` only checks what its ``psend`` received."""
    return name == "xla_pmap" or (name in C._COLLECTIVE_NAMES and name != "precv")


def _communicates(jaxprs) -> bool:
    """Whether any of ``jaxprs`` (recursively) has a collective or a nested pmap."""
    stack = [j.jaxpr if isinstance(j, ClosedJaxpr) else j for j in jaxprs]
    while stack:
        jaxpr = stack.pop()
        for eqn in jaxpr.eqns:
            if _communicating(eqn.primitive.name):
                return True
            stack.extend(s.jaxpr if isinstance(s, ClosedJaxpr) else s
                         for s in eqn.primitive.subjaxprs(eqn.params))
    return False


class _Segment:
    __slots__ = ("jaxpr", "invars", "outvars")

    def __init__(self, eqns, later_uses):
        defined, invars, seen = set(), [], set()
        for e in eqns:
            for v in e.invars:
                if not isinstance(v, Literal) and id(v) not in defined and id(v) not in seen:
                    seen.add(id(v))
                    invars.append(v)
            defined.update(id(o) for o in e.outvars if not isinstance(o, DropVar))
        outvars, taken = [], set()
        for e in eqns:
            for o in e.outvars:
                if id(o) in later_uses and id(o) not in taken and not isinstance(o, DropVar):
                    taken.add(id(o))
                    outvars.append(o)
        self.invars, self.outvars = invars, outvars
        self.jaxpr = ClosedJaxpr(Jaxpr([], invars, outvars, eqns), [])


def split(closed: ClosedJaxpr, axis_name):
    """The steps of ``closed``: ``("segment", _Segment)``, ``("collective", kind, params,
    invar, outvar)``; None when a collective is out of reach of steps (see the module
    docstring)."""
    closed = passes.inline_calls(closed)
    eqns = closed.jaxpr.eqns
    groups: list = []  # [("eqns", [eqn, ...]) | ("collective", eqn)]
    for e in eqns:
        name = e.primitive.name
        if name in STEP_KINDS:
            names = C.axis_names_tuple(e.params[STEP_KINDS[name][1]])
            if names != (axis_name,):
                return None
            groups.append(("collective", e))
            continue
        if _communicating(name) or _communicates(e.primitive.subjaxprs(e.params)):
            return None
        if groups and groups[-1][0] == "eqns":
            groups[-1][1].append(e)
        else:
            groups.append(("eqns", [e]))
    # the variables each group's outputs must survive for: uses after the group
    uses_after: list[set] = [set() for _ in groups]
    live = {id(v) for v in closed.jaxpr.outvars if not isinstance(v, Literal)}
    for k in range(len(groups) - 1, -1, -1):
        uses_after[k] = set(live)
        kind, body = groups[k]
        for e in (body if kind == "eqns" else [body]):
            live.update(id(v) for v in e.invars if not isinstance(v, Literal))
    steps = []
    for (kind, body), later in zip(groups, uses_after):
        if kind == "eqns":
            seg = _Segment(body, later)
            if seg.outvars:
                steps.append(("segment", seg))
        else:
            e = body
            out = e.outvars[0]
            if isinstance(out, DropVar) or id(out) not in later:
                continue
            op_kind = STEP_KINDS[e.primitive.name][0]
            steps.append(("collective", op_kind, _params(e), e.invars[0] if e.invars else None,
                          out))
    return closed, steps


class SpmdProgram:
    """A per-replica program compiled for a set of devices.

    Args:
      closed: the per-replica jaxpr (its collectives over ``axis_name``).
      runtimes: the runtime of each local device.
      compile_segment: ``(ClosedJaxpr, runtime) -> executable`` (``lowering.gpu.compile``).

    Call it with each device's inputs, the communicator and each device's replica index;
    it returns each device's outputs (device buffers).
    """

    def __init__(self, closed: ClosedJaxpr, axis_name, runtimes, compile_segment, steps=None):
        if steps is None:
            found = split(closed, axis_name)
            if found is None:
                raise ValueError("this program has collectives inside control flow or "
                                 "nested pmaps; run it one thread per device instead")
            closed, steps = found
        self.closed, self.runtimes = closed, list(runtimes)
        self.steps = []
        for step in steps:
            if step[0] == "segment":
                seg = step[1]
                exes = [compile_segment(seg.jaxpr, rt) for rt in self.runtimes]
                self.steps.append(("segment", seg.invars, seg.outvars, exes))
            else:
                self.steps.append(step)
        jaxpr = closed.jaxpr
        self._consts = [[rt.asarray(np.asarray(_host(c), v.aval.dtype, order="C"))
                         for rt in self.runtimes]
                        for v, c in zip(jaxpr.constvars, closed.consts)]

    @property
    def segment_count(self) -> int:
        return sum(1 for s in self.steps if s[0] == "segment")

    def __call__(self, inputs: list[list], communicator, indices: list[int]) -> list[list]:
        jaxpr = self.closed.jaxpr
        rts = self.runtimes
        envs: list[dict] = [{} for _ in rts]
        for d, env in enumerate(envs):
            for v, x in zip(jaxpr.invars, inputs[d]):
                env[id(v)] = x
            for v, per_device in zip(jaxpr.constvars, self._consts):
                env[id(v)] = per_device[d]

        def read(d, v):
            if isinstance(v, Literal):
                return rts[d].asarray(np.asarray(v.val, v.aval.dtype))
            return envs[d][id(v)]

        for step in self.steps:
            if step[0] == "segment":
                _, invars, outvars, exes = step
                for d, exe in enumerate(exes):
                    outs = exe([read(d, v) for v in invars])
                    for v, o in zip(outvars, outs):
                        envs[d][id(v)] = o
                continue
            _, kind, params, invar, outvar = step
            if kind == "axis_index":
                for d, rt in enumerate(rts):
                    envs[d][id(outvar)] = rt.asarray(np.asarray(indices[d], np.int32))
                continue
            dtype = np.dtype(outvar.aval.dtype)
            bufs = [read(d, invar) for d in range(len(rts))]
            outs = communicator.collective(kind, bufs, params)
            for d, o in enumerate(outs):
                envs[d][id(outvar)] = o if o.dtype == dtype else o.astype(dtype)
        return [[read(d, v) for v in jaxpr.outvars] for d in range(len(rts))]


def _host(value):
    inner = getattr(value, "_value", None)
    return np.asarray(inner if inner is not None else value)


_programs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_programs_lock = threading.Lock()


def program_for(closed: ClosedJaxpr, axis_name, devices, runtimes, compile_segment):
    """The ``SpmdProgram`` of ``closed`` on ``devices``, compiled once and cached (None
    when the program must run one thread per device)."""
    key = (tuple((d.platform, d.id) for d in devices), tuple(id(r) for r in runtimes),
           axis_name)
    with _programs_lock:
        per_closed = _programs.setdefault(closed, {})
        if key in per_closed:
            return per_closed[key]
    found = split(closed, axis_name)
    program = None if found is None else SpmdProgram(found[0], axis_name, runtimes,
                                                     compile_segment, steps=found[1])
    with _programs_lock:
        per_closed[key] = program
    return program


# ---------------------------------------------------------------------------
# running a pmap on GPUs: shards in, the program or one thread per device, shards out

_resident: dict[int, tuple] = {}
_resident_lock = threading.Lock()


def _devices_key(devices) -> tuple:
    return tuple((d.platform, d.id) for d in devices)


def remember(array, devices, axis, buffers) -> None:
    """Record that ``array`` (a pmap output) has ``buffers`` on ``devices`` (split along
    ``axis``, or replicated when None), so a later pmap over the same devices takes them
    without copying."""
    key = id(array)

    def forget(_ref, key=key):
        with _resident_lock:
            _resident.pop(key, None)

    with _resident_lock:
        _resident[key] = (weakref.ref(array, forget), _devices_key(devices), axis,
                          list(buffers))


def resident(leaf, devices, axis):
    """The device buffers of ``leaf`` on ``devices`` split along ``axis``, if recorded."""
    with _resident_lock:
        entry = _resident.get(id(leaf))
    if entry is None or entry[0]() is not leaf or entry[1] != _devices_key(devices):
        return None
    return entry[3] if entry[2] == axis else None


def resident_buffers(leaf, devices):
    """(axis, buffers) of ``leaf`` on ``devices`` whatever the axis, or None."""
    with _resident_lock:
        entry = _resident.get(id(leaf))
    if entry is None or entry[0]() is not leaf or entry[1] != _devices_key(devices):
        return None
    return entry[2], entry[3]


def _place(rt, leaf, value, axis, r, dtype, host_cache, k):
    """Replica ``r``'s piece of an input, on ``rt``'s device."""
    from lowering.gpu.nccl import contiguous, on_device
    index = (slice(None),) * axis + (r,) if axis is not None else ()
    if not isinstance(value, np.ndarray) and rt.is_device_array(value):  # on this device
        with on_device(rt):
            piece = value[index] if index else value
            return contiguous(rt.xp, piece, dtype)
    if k not in host_cache:  # elsewhere (host, or another GPU): through the host, once
        if isinstance(value, np.ndarray):
            host_cache[k] = value
        elif hasattr(leaf, "_host_value"):  # an fx Array on another device
            host_cache[k] = np.asarray(leaf)
        elif hasattr(value, "get") and not isinstance(value, np.generic):  # CuPy
            host_cache[k] = value.get()
        else:
            host_cache[k] = np.asarray(value)
    host = host_cache[k]
    return rt.asarray(np.asarray(host[index] if index else host, dtype, order="C"))


def run(closed: ClosedJaxpr, leaves, values, *, axis_name, in_axes, devices, runtimes,
        ranks, communicator, launch, compile_segment, compile_program) -> list:
    """Run the replicas of ``closed`` on the local ``devices``; returns, per output, the
    buffer of each local device.

    Args:
      leaves, values: the flat arguments (fx Arrays or host values) and their values.
      runtimes, ranks: each local device's runtime and global replica index.
      communicator: the device communicator (NCCL) for the program's collectives.
      launch: ``(executables, inputs) -> outputs``: one thread per device, with replica
        contexts (pmap's own), for programs ``split`` cannot cut into steps.
      compile_segment, compile_program: ``(ClosedJaxpr, runtime) -> executable``.
    """
    avals = closed.in_avals
    host_cache: dict = {}
    inputs = [[None] * len(values) for _ in runtimes]
    for k, (leaf, value, axis, aval) in enumerate(zip(leaves, values, in_axes, avals)):
        dtype = np.dtype(aval.dtype)
        bufs = resident(leaf, devices, axis)
        for d, rt in enumerate(runtimes):
            if bufs is not None and bufs[d].dtype == dtype:
                inputs[d][k] = bufs[d]
            else:
                inputs[d][k] = _place(rt, leaf, value, axis, d, dtype, host_cache, k)
    program = program_for(closed, axis_name, devices, runtimes, compile_segment)
    if program is not None:
        per_device = program(inputs, communicator, ranks)
    else:
        exes = [compile_program(closed, rt) for rt in runtimes]
        per_device = launch(exes, inputs)
    return [[per_device[d][k] for d in range(len(runtimes))]
            for k in range(len(closed.out_avals))]


def gather(runtimes, buffers, axis):
    """The host value of a pmap output: the devices' buffers stacked along ``axis`` (the
    first device's buffer when ``axis`` is None)."""
    if axis is None:
        return np.asarray(runtimes[0].to_host(buffers[0]))
    return np.stack([np.asarray(rt.to_host(b)) for rt, b in zip(runtimes, buffers)], axis)
