"""Communicators for pmap replicas: a rendezvous between replica threads of one
process, extended across processes through MPI (``fx.distributed``).

Invariants: every replica of a pmap runs the same program, so the k-th collective
a replica calls matches the k-th of its peers: a replica's ``clock`` counts its
collectives and nested pmap launches, and ``path`` records the clocks of its
ancestors when they launched the pmaps it runs in. A collective over named axes
meets at the rendezvous of the outermost frame among those axes, keyed by the
clocks below that frame; the last replica to arrive computes every result once
(with MPI when that frame spans processes) and the others wait, at most
``FX_COLLECTIVE_TIMEOUT`` seconds, then fail with a clear error instead of hanging.
"""
from __future__ import annotations

import functools
import os
import threading
import time
from typing import Any

import numpy as np


class CollectiveError(RuntimeError):
    """A collective could not complete: a peer failed, timed out, or called another one."""


class CollectiveTimeoutError(CollectiveError):
    pass


class CollectiveMismatchError(CollectiveError):
    pass


def collective_timeout() -> float:
    """Seconds a replica waits for its peers in one collective (``FX_COLLECTIVE_TIMEOUT``)."""
    raw = os.environ.get("FX_COLLECTIVE_TIMEOUT")
    if not raw:
        return 300.0
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"FX_COLLECTIVE_TIMEOUT must be a number of seconds, got {raw!r}") \
            from None


class Frame:
    """One pmap level: axis ``name`` of global ``size``; ``local_size`` replicas of it run in
    this process; ``group`` is the rendezvous they share."""

    __slots__ = ("name", "size", "local_size", "group")

    def __init__(self, name, size: int, local_size: int, group: Rendezvous):
        self.name, self.size, self.local_size, self.group = name, size, local_size, group


class ReplicaContext:
    """What one replica thread knows: its frames (outermost first), its index along each
    (global), the launch clocks of its ancestors, and its own clock."""

    __slots__ = ("frames", "indices", "path", "clock")

    def __init__(self, frames: tuple, indices: tuple, path: tuple):
        self.frames, self.indices, self.path = frames, indices, path
        self.clock = 0


class _Slot:
    __slots__ = ("entries", "results", "done", "taken", "error")

    def __init__(self):
        self.entries: dict[tuple, tuple] = {}
        self.results: dict[tuple, Any] | None = None
        self.done = False
        self.taken = 0
        self.error: BaseException | None = None


class Rendezvous:
    """Where the replicas of one pmap execution (and the replicas of pmaps nested in it)
    meet for collectives over its axis. ``process`` is the MPI communicator when the axis
    spans processes (``offset`` is this process's first index along it)."""

    def __init__(self, process=None, offset: int = 0, name=None):
        self.cond = threading.Condition()
        self.slots: dict[tuple, _Slot] = {}
        self.error: BaseException | None = None
        self.process = process
        self.offset = offset
        self.name = name

    def abort(self, error: BaseException) -> None:
        """Wake every waiting replica with ``error`` (a peer failed)."""
        with self.cond:
            if self.error is None:
                self.error = error
            self.cond.notify_all()

    def _failed(self) -> CollectiveError:
        err = self.error
        if isinstance(err, CollectiveError):
            return type(err)(str(err))
        return CollectiveError(f"a collective over axis {self.name!r} was abandoned because "
                               f"another replica failed: {type(err).__name__}: {err}")

    def collective(self, ctx: ReplicaContext, k: int, kind: str, x: np.ndarray, names: tuple,
                   params: dict):
        frames = ctx.frames
        ctx.clock += 1
        key = ctx.path[k + 1:] + (ctx.clock,)
        expected = 1
        for f in frames[k:]:
            expected *= f.local_size
        coords = tuple(ctx.indices[k:])
        signature = (kind, names, x.shape, x.dtype.str, tuple(sorted(params.items())))
        timeout = collective_timeout()
        deadline = time.monotonic() + timeout
        with self.cond:
            if self.error is not None:
                raise self._failed()
            slot = self.slots.get(key)
            if slot is None:
                slot = self.slots[key] = _Slot()
            slot.entries[coords] = (x, signature)
            leader = len(slot.entries) == expected
            extended = False
            while not leader and not slot.done and self.error is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 and len(slot.entries) == expected and not extended:
                    # every local replica is here: the leader is waiting for other
                    # processes and reports their timeout itself; this is a backstop
                    deadline, extended = deadline + timeout, True
                    continue
                if remaining <= 0:
                    err = CollectiveTimeoutError(
                        f"{kind} over axes {names} timed out after {timeout:g} s "
                        f"(FX_COLLECTIVE_TIMEOUT): {len(slot.entries)} of {expected} replicas "
                        f"arrived. A replica failed, or replicas called different "
                        f"collectives (e.g. under control flow that depends on the replica).")
                    self.error = err
                    self.cond.notify_all()
                    raise err
                self.cond.wait(remaining)
            if not leader and not slot.done:
                raise self._failed()
        if leader:
            try:
                results = _combine(self, frames, k, slot.entries, names, kind, params)
            except BaseException as e:
                self.abort(e)
                raise
            with self.cond:
                slot.results = results
                slot.done = True
                self.cond.notify_all()
        with self.cond:
            out = slot.results[coords]
            slot.taken += 1
            if slot.taken == expected:
                del self.slots[key]
        return out


# ---------------------------------------------------------------------------
# computing the results


def _describe(signature) -> str:
    kind, names, shape, dtype, params = signature
    extra = "".join(f" {k}={v}" for k, v in params)
    return f"{kind}[axes={names}{extra}] {np.dtype(dtype).name}{list(shape)}"


def _check_signatures(entries: dict) -> None:
    sigs = {}
    for coords, (_, sig) in entries.items():
        sigs.setdefault(sig, coords)
    if len(sigs) > 1:
        detail = "; ".join(f"replica {c} called {_describe(s)}" for s, c in sigs.items())
        raise CollectiveMismatchError(f"replicas called different collectives at the same "
                                      f"point: {detail}")


def _layout(frames, k: int, names: tuple):
    """Positions (within frames[k:]) of the reduced axes and their global sizes."""
    positions = []
    for name in names:
        pos = max(j for j in range(k, len(frames)) if frames[j].name == name) - k
        positions.append(pos)
    sizes = [frames[k + p].size for p in positions]
    return positions, sizes


def _rank(coords, positions, sizes) -> int:
    r = 0
    for p, s in zip(positions, sizes):
        r = r * s + coords[p]
    return r


def _groups(entries: dict, positions, sizes) -> dict:
    """{other coords: {rank: coords}} for the entries (coords -> value)."""
    groups: dict[tuple, dict[int, tuple]] = {}
    pos = set(positions)
    for coords in entries:
        other = tuple(c for i, c in enumerate(coords) if i not in pos)
        groups.setdefault(other, {})[_rank(coords, positions, sizes)] = coords
    return groups


def _combine(group: Rendezvous, frames, k, entries, names, kind, params) -> dict:
    _check_signatures(entries)
    positions, sizes = _layout(frames, k, names)
    n = 1
    for s in sizes:
        n *= s
    if group.process is not None:
        from fx.distributed import combine_across_processes
        return combine_across_processes(group.process, entries, positions, sizes, n, kind,
                                        params, compute)
    results = {}
    for members in _groups(entries, positions, sizes).values():
        values = [entries[members[r]][0] for r in range(n)]
        outs = compute(kind, values, params)
        for r, coords in members.items():
            results[coords] = outs[r]
    return results


def _reduce(kind, values):
    op = {"psum": np.add, "reduce_scatter": np.add, "pmax": np.maximum,
          "pmin": np.minimum}[kind]
    if len(values) == 1:
        return values[0]
    return functools.reduce(op, values)


def compute(kind: str, values: list, params: dict) -> list:
    """The outputs of every rank (in rank order) of collective ``kind`` given the inputs of
    every rank: the one definition the thread and process communicators share."""
    groups = params.get("groups")
    if groups is not None:  # each group of ranks is a collective of its own
        inner = {k: v for k, v in params.items() if k != "groups"}
        outs: list = [None] * len(values)
        for group in groups:
            for rank, out in zip(group, compute(kind, [values[r] for r in group], inner)):
                outs[rank] = out
        return outs
    n = len(values)
    if kind in ("psum", "pmax", "pmin"):
        return [_reduce(kind, values)] * n
    if kind == "reduce_scatter":
        return scatter_blocks(_reduce(kind, values), n, params)
    if kind == "all_gather":
        dim = params["dim"]
        out = np.concatenate(values, axis=dim) if params["tiled"] else np.stack(values, dim)
        return [out] * n
    if kind == "all_to_all":
        chunks = [np.split(v, n, axis=params["split"]) for v in values]
        return [np.concatenate([chunks[j][i] for j in range(n)], axis=params["concat"])
                for i in range(n)]
    if kind == "pbroadcast":
        return [values[params["source"]]] * n
    if kind == "ppermute":
        outs: list = [None] * n
        for src, dst in params["perm"]:
            outs[dst] = values[src]
        return [np.zeros_like(values[0]) if o is None else o for o in outs]
    raise NotImplementedError(f"unknown collective {kind}")


def scatter_blocks(total: np.ndarray, n: int, params: dict) -> list:
    dim = params["dim"]
    if params["tiled"]:
        return np.split(total, n, axis=dim)
    return [np.take(total, r, axis=dim) for r in range(n)]


# ---------------------------------------------------------------------------
# communicators between devices (GPUs): one per pmap's set of local devices


class DeviceCommunicator:
    """The collectives of one pmap's local devices, on their own buffers.

    ``collective(kind, bufs, params)`` takes one buffer per local device (in local
    order, on that device) for collective ``kind`` with ``compute``'s params, and
    returns one per device. ``ranks`` are the local devices' global replica indices,
    ``size`` the number of replicas in all. Implementations: ``HostStagedCommunicator``
    (here), ``lowering.gpu.nccl.NcclCommunicator`` and ``CudaAwareMpiCommunicator``;
    ``device_communicator`` picks one.
    """

    kind = "abstract"
    ranks: list
    size: int

    def collective(self, kind: str, bufs: list, params: dict) -> list:
        raise NotImplementedError

    def close(self) -> None:
        return None


class HostStagedCommunicator(DeviceCommunicator):
    """Collectives staged through the host: each device's buffer is copied to the
    host, combined there (``compute`` in one process, ``fx.distributed``'s MPI
    collectives across processes) and copied back to each device.

    Args:
      runtimes: each local device's runtime (``to_host``/``asarray``).
      ranks, size: the local replicas' global indices and the number of replicas.
      process: the MPI communicator when the replicas span processes, else None.
    """

    kind = "host"

    def __init__(self, runtimes, ranks, size: int, process=None):
        self.runtimes, self.ranks, self.size = list(runtimes), list(ranks), size
        self.process = process

    def collective(self, kind: str, bufs: list, params: dict) -> list:
        host = [np.asarray(rt.to_host(b), order="C") for rt, b in zip(self.runtimes, bufs)]
        if self.process is None:
            outs = compute(kind, host, params)
            results = [outs[r] for r in self.ranks]
        else:
            from fx.distributed import combine_across_processes
            sig = (kind, ("pmap",), host[0].shape, host[0].dtype.str,
                   tuple(sorted(params.items())))
            entries = {(r,): (h, sig) for r, h in zip(self.ranks, host)}
            by_coords = combine_across_processes(self.process, entries, [0], [self.size],
                                                 self.size, kind, params, compute)
            results = [by_coords[(r,)] for r in self.ranks]
        return [rt.asarray(np.asarray(v, dtype=h.dtype, order="C"))
                for rt, v, h in zip(self.runtimes, results, host)]


_device_comms: dict = {}
_device_comms_lock = threading.Lock()


def gpu_collectives_setting() -> str:
    """``FX_GPU_COLLECTIVES``: ``auto`` (default), ``nccl``, ``mpi`` (CUDA-aware MPI) or
    ``host`` (staged through host memory)."""
    value = os.environ.get("FX_GPU_COLLECTIVES", "auto").strip().lower() or "auto"
    if value not in ("auto", "nccl", "mpi", "host"):
        raise ValueError(f"FX_GPU_COLLECTIVES must be auto, nccl, mpi or host, got {value!r}")
    return value


def cuda_aware_mpi(MPI) -> bool:
    """Whether the MPI library reads device memory: ``MPI.Query_cuda_support()`` where
    mpi4py has it (MPICH >= 4, Open MPI >= 5), else ``FX_MPI_CUDA_AWARE=1``."""
    forced = os.environ.get("FX_MPI_CUDA_AWARE", "").strip()
    if forced:
        return forced not in ("0", "false", "no")
    query = getattr(MPI, "Query_cuda_support", None)
    try:
        return bool(query()) if query is not None else False
    except Exception:  # noqa: BLE001 - an MPI that cannot answer cannot be trusted with it
        return False


def device_communicator(runtimes, devices, ranks, size: int, process=None,
                        nccl_library=None) -> DeviceCommunicator:
    """The communicator for a pmap over ``devices`` (GPUs; ``runtimes`` theirs), cached.

    The choice (``FX_GPU_COLLECTIVES=auto``): NCCL when it can be loaded (across
    processes too: rank 0's unique id is broadcast through MPI); else, across
    processes, CUDA-aware MPI on the device buffers when the MPI reports it and each
    process drives one GPU; else collectives staged through host memory (one copy to
    the host, the combination there or through MPI, one copy back).

    Args:
      nccl_library: the NCCL module to use (default ``cupy.cuda.nccl`` when loadable;
        tests pass ``lowering.gpu.nccl.FakeNccl()``).
    """
    from lowering.gpu import nccl
    setting = gpu_collectives_setting()
    lib = nccl_library if nccl_library is not None else (
        nccl.library() if setting in ("auto", "nccl") else None)
    if setting == "nccl" and lib is None:
        raise RuntimeError("FX_GPU_COLLECTIVES=nccl but NCCL cannot be loaded "
                           "(pip install nvidia-nccl-cu13)")
    if setting == "host":
        lib = None
    key = (tuple((d.platform, d.id) for d in devices), tuple(ranks), size, setting,
           id(lib), id(process))
    with _device_comms_lock:
        hit = _device_comms.get(key)
        if hit is not None and hit[0] is lib:
            return hit[1]
    if lib is not None:
        uid = lib.get_unique_id() if process is None or process.rank == 0 else None
        if process is not None:
            uid = process.comm.bcast(uid, root=0)
        comm = nccl.NcclCommunicator(lib, runtimes, ranks, size, uid)
    elif process is not None and len(runtimes) == 1 and setting in ("auto", "mpi") and (
            setting == "mpi" or cuda_aware_mpi(process.MPI)):
        comm = nccl.CudaAwareMpiCommunicator(process, runtimes[0], ranks[0], size)
    elif setting == "mpi":
        raise RuntimeError("FX_GPU_COLLECTIVES=mpi needs fx.distributed (mpiexec) with one "
                           "GPU per process")
    else:
        comm = HostStagedCommunicator(runtimes, ranks, size, process)
    with _device_comms_lock:
        _device_comms[key] = (lib, comm)
    return comm


def clear_device_communicators() -> None:
    """Close and forget the cached device communicators (NCCL cliques)."""
    with _device_comms_lock:
        items = list(_device_comms.values())
        _device_comms.clear()
    for _, comm in items:
        comm.close()
