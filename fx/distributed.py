"""``fx.distributed``: many processes running one program, as ``jax.distributed``.

Run ``mpiexec -n P python prog.py`` and call ``fx.distributed.initialize()``
first: every process then sees all ``P * L`` devices (``L`` local CPU devices
each, ``FX_CPU_DEVICES``), feeds its local ones to ``pmap``, and collectives
over a pmap axis that spans processes cross them through MPI (mpi4py).

Invariants: one duplicate of ``MPI.COMM_WORLD`` carries fx's collectives; only
one thread at a time calls MPI (``ProcessComm.lock``). Reductions go through
Allreduce, psum_scatter through Reduce_scatter, all_gather through Allgather,
all_to_all through Alltoall, ppermute/pshuffle through point-to-point messages
(one per pair of processes that exchange data); grouped collectives
(``axis_index_groups``) and collectives over several named axes gather every
process's values and compute locally. Every collective first
exchanges a description of itself with a nonblocking Iallgather polled against
``FX_COLLECTIVE_TIMEOUT``: a rank that never arrives makes the others fail with
``CollectiveTimeoutError``, ranks that called different collectives fail with
``CollectiveMismatchError``. Only when every rank has arrived at the same
collective does the (blocking) data exchange run. After a failure the
communicator is broken; at exit the job is aborted rather than left hanging in
``MPI_Finalize``.
"""
from __future__ import annotations

import atexit
import importlib
import threading
import time

import numpy as np

from fx.interpreters.communicator import (CollectiveError, CollectiveMismatchError,
                                          CollectiveTimeoutError, collective_timeout)

__all__ = ["initialize", "shutdown", "is_initialized"]

_state: dict = {"comm": None}
_SIGNATURE_BYTES = 256


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(
            "fx.distributed needs mpi4py and an MPI library: `pip install mpi4py mpich` "
            "(or fx[mpi]), then run the program with `mpiexec -n P python prog.py`") from e
    return MPI


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, local_device_ids=None, *,
               cluster_detection_method=None, initialization_timeout: int = 300,
               coordinator_bind_address=None) -> None:
    """Join the processes started by ``mpiexec`` into one fx program.

    Call it once, before any other fx call that uses devices. Afterwards
    ``fx.process_index()``/``fx.process_count()`` give this process's place, and
    ``fx.devices()`` lists the devices of every process.

    Args:
      coordinator_address: ignored (MPI finds the other processes).
      num_processes, process_id: if given, checked against MPI's size and rank.
      local_device_ids: accepted for compatibility; the local device count comes
        from ``FX_CPU_DEVICES`` and must be the same in every process.

    Example:
      >>> # mpiexec -n 2 python prog.py
      >>> fx.distributed.initialize()
      >>> fx.process_count()
      2
    """
    if _state["comm"] is not None:
        raise RuntimeError("fx.distributed.initialize should only be called once")
    MPI = _mpi()
    world = MPI.COMM_WORLD
    if num_processes is not None and num_processes != world.Get_size():
        raise ValueError(f"initialize(num_processes={num_processes}) but MPI has "
                         f"{world.Get_size()} processes")
    if process_id is not None and process_id != world.Get_rank():
        raise ValueError(f"initialize(process_id={process_id}) but this MPI rank is "
                         f"{world.Get_rank()}")
    D = importlib.import_module("fx.devices")
    from fx.config import config
    local = max(1, int(config.fx_cpu_devices))
    counts = world.allgather(local)
    if len(set(counts)) != 1:
        raise ValueError(f"every process needs the same number of local devices "
                         f"(FX_CPU_DEVICES); the processes have {counts}")
    comm = ProcessComm(world.Dup(), MPI)
    _state["comm"] = comm
    D._set_processes(comm.rank, comm.size)
    atexit.register(_at_exit)


def is_initialized() -> bool:
    """Whether ``initialize()`` has run (and ``shutdown()`` has not)."""
    return _state["comm"] is not None


def shutdown() -> None:
    """Leave the distributed program: back to one process with its local devices."""
    comm = _state["comm"]
    if comm is None:
        return
    _state["comm"] = None
    D = importlib.import_module("fx.devices")
    D._set_processes(0, 1)
    if comm.broken is None:
        comm.comm.Free()


def _at_exit():
    comm = _state["comm"]
    if comm is not None and comm.broken is not None:
        comm.comm.Abort(1)  # peers may be stuck in a collective: never hang in Finalize


def process_comm() -> ProcessComm:
    """The communicator between processes (after ``initialize``)."""
    comm = _state["comm"]
    if comm is None:
        raise RuntimeError("this pmap spans processes but fx.distributed.initialize() has not "
                           "been called")
    return comm


_P2P_TAG = 17
_MPI_DTYPES = frozenset("f4 f8 c8 c16 i1 i2 i4 i8 u1 u2 u4 u8".split())


class ProcessComm:
    """fx's MPI communicator: nonblocking collectives on contiguous NumPy buffers, each
    preceded by an exchange of signatures, polled until done or timed out."""

    def __init__(self, comm, MPI):
        self.comm = comm
        self.MPI = MPI
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.lock = threading.Lock()
        self.broken: str | None = None
        self.count = 0
        self._buffers: list = [None, None]

    # -- plumbing ---------------------------------------------------------------------
    def _fail(self, error: CollectiveError):
        self.broken = str(error)
        raise error

    def _wait(self, request, what: str, deadline: float, timeout: float) -> None:
        spins = 0
        test = request.Test if not isinstance(request, list) else \
            (lambda: self.MPI.Request.Testall(request))
        while not test():
            spins += 1
            if spins < 20000:
                continue  # busy-poll first, as MPI's blocking calls do
            if spins & 255 == 0 and time.monotonic() > deadline:
                self._fail(CollectiveTimeoutError(
                    f"{what} timed out after {timeout:g} s (FX_COLLECTIVE_TIMEOUT) in "
                    f"process {self.rank} of {self.size}: another process died, is stuck, "
                    f"or called a different collective"))
            time.sleep(0.0001)  # a peer is late: stop burning a core it may need

    def _begin(self, signature: str):
        """Post the signature exchange; returns (request, buffers, deadline, timeout)."""
        if self.broken is not None:
            raise CollectiveError(f"the communicator between processes is broken by an "
                                  f"earlier failure: {self.broken}")
        self.count += 1
        text = f"#{self.count} {signature}".encode()[:_SIGNATURE_BYTES]
        mine = np.zeros(_SIGNATURE_BYTES, np.uint8)
        mine[:len(text)] = np.frombuffer(text, np.uint8)
        every = np.empty((self.size, _SIGNATURE_BYTES), np.uint8)
        request = self.comm.Iallgather(mine, every)
        timeout = collective_timeout()
        return request, (mine, every), time.monotonic() + timeout, timeout

    def _check(self, request, buffers, deadline, timeout, signature: str):
        self._wait(request, signature, deadline, timeout)
        mine, every = buffers
        texts = [bytes(row).rstrip(b"\0").decode(errors="replace") for row in every]
        if len(set(texts)) > 1:
            detail = "; ".join(f"process {r} called {t}" for r, t in enumerate(texts))
            self._fail(CollectiveMismatchError(
                f"processes called different collectives: {detail}"))

    def _staging(self, which: int, like: np.ndarray, count: int = 1) -> np.ndarray:
        """A reused buffer of ``count`` copies of ``like``'s bytes. MPI is several times
        slower on freshly mapped pages than on resident ones, so fx stages through these."""
        nbytes = like.nbytes * count
        buf = self._buffers[which]
        if buf is None or buf.size < nbytes:
            buf = self._buffers[which] = np.empty(max(nbytes, 64), np.uint8)
        return buf[:nbytes].view(like.dtype).reshape((count,) + like.shape if count > 1
                                                     else like.shape)

    # -- collectives --------------------------------------------------------------------
    def allreduce(self, value: np.ndarray, op: str, signature: str) -> np.ndarray:
        """The elementwise ``op`` ("sum", "max", "min") of ``value`` over every process."""
        dtype = value.dtype
        work = value if dtype.str[1:] in _MPI_DTYPES else value.astype(np.float64)
        mpi_op = {"sum": self.MPI.SUM, "max": self.MPI.MAX, "min": self.MPI.MIN}[op]
        with self.lock:
            self._check(*self._begin(signature), signature)
            send, recv = self._staging(0, work), self._staging(1, work)
            np.copyto(send, work)
            self.comm.Allreduce(send, recv, mpi_op)
            return recv.astype(dtype)  # a copy: the staging buffer is reused

    def allgather(self, value: np.ndarray, signature: str) -> np.ndarray:
        """``value`` of every process, stacked: shape ``(size, *value.shape)``."""
        with self.lock:
            self._check(*self._begin(signature), signature)
            send, recv = self._staging(0, value), self._staging(1, value, self.size)
            np.copyto(send, value)
            self.comm.Allgather(send.reshape(-1).view(np.uint8),
                                recv.reshape(-1).view(np.uint8))
            return recv.reshape((self.size,) + value.shape).copy()

    def reduce_scatter(self, value: np.ndarray, signature: str) -> np.ndarray:
        """The sum over every process of ``value`` (leading axis of size ``size``); this
        process gets block ``rank`` of it."""
        dtype = value.dtype
        work = value if dtype.str[1:] in _MPI_DTYPES else value.astype(np.float64)
        with self.lock:
            self._check(*self._begin(signature), signature)
            send, recv = self._staging(0, work), self._staging(1, work[0])
            np.copyto(send, work)
            self.comm.Reduce_scatter_block(send, recv, self.MPI.SUM)
            return recv.astype(dtype)

    def exchange(self, sends: dict, recvs: dict, like: np.ndarray, signature: str) -> dict:
        """Point to point: ``sends[q]`` (arrays shaped as ``like``) go to process q in one
        message; ``recvs[q]`` arrays arrive from process q. Nonblocking sends and receives
        on contiguous staging buffers, polled against ``FX_COLLECTIVE_TIMEOUT``."""
        with self.lock:
            self._check(*self._begin(signature), signature)
            n_out = sum(len(v) for v in sends.values())
            n_in = sum(recvs.values())
            out_buf = self._staging(0, like, max(n_out, 1)).reshape((-1,) + like.shape)
            in_buf = self._staging(1, like, max(n_in, 1)).reshape((-1,) + like.shape)
            requests, received, at = [], {}, 0
            for q in sorted(recvs):
                part = in_buf[at:at + recvs[q]]
                requests.append(self.comm.Irecv(part.reshape(-1).view(np.uint8), source=q,
                                                tag=_P2P_TAG))
                received[q] = part
                at += recvs[q]
            at = 0
            for q in sorted(sends):
                part = out_buf[at:at + len(sends[q])]
                for i, v in enumerate(sends[q]):
                    part[i] = v
                requests.append(self.comm.Isend(part.reshape(-1).view(np.uint8), dest=q,
                                                tag=_P2P_TAG))
                at += len(sends[q])
            timeout = collective_timeout()
            self._wait(requests, signature, time.monotonic() + timeout, timeout)
            return {q: list(part.copy()) for q, part in received.items()}

    def alltoall(self, value: np.ndarray, signature: str) -> np.ndarray:
        """Block ``q`` of ``value`` (its leading axis has size ``size``) goes to process q;
        returns the blocks received, stacked by source process."""
        with self.lock:
            self._check(*self._begin(signature), signature)
            send, recv = self._staging(0, value), self._staging(1, value)
            np.copyto(send, value)
            self.comm.Alltoall(send.reshape(self.size, -1).view(np.uint8),
                               recv.reshape(self.size, -1).view(np.uint8))
            return recv.copy()


# ---------------------------------------------------------------------------
# a collective whose outermost axis spans processes


def _local_layout(entries):
    local = sorted(entries)
    firsts = sorted({c[0] for c in local})
    return local, firsts[0], len(firsts)


def combine_across_processes(process: ProcessComm, entries: dict, positions, sizes, n: int,
                             kind: str, params: dict, compute) -> dict:
    """Results (coords -> array) for the local entries of a collective over axes whose
    outermost one (position 0 of the coords) spans processes."""
    from fx.interpreters.communicator import _describe, _groups, scatter_blocks
    local, offset, per_process = _local_layout(entries)
    signature = _describe(entries[local[0]][1])
    grouped = params.get("groups") is not None
    if kind == "ppermute" and positions == [0]:
        return _ppermute(process, entries, per_process, n, params, signature)
    if kind == "reduce_scatter" and positions == [0] and not grouped:
        return _reduce_scatter(process, entries, per_process, n, params, signature)
    if kind in ("psum", "pmax", "pmin", "reduce_scatter") and not grouped:
        groups = _groups(entries, positions, sizes)
        keys = sorted(groups)
        op = {"psum": np.add, "reduce_scatter": np.add, "pmax": np.maximum,
              "pmin": np.minimum}[kind]
        partials = []
        for key in keys:
            values = [entries[c][0] for c in groups[key].values()]
            acc = values[0]
            for v in values[1:]:
                acc = op(acc, v)
            partials.append(np.asarray(acc))
        mpi_op = "sum" if kind in ("psum", "reduce_scatter") else kind[1:]
        totals = process.allreduce(np.stack(partials), mpi_op, signature)
        results = {}
        for key, total in zip(keys, totals):
            members = groups[key]
            blocks = scatter_blocks(total, n, params) if kind == "reduce_scatter" else None
            for r, coords in members.items():
                results[coords] = total if blocks is None else blocks[r]
        return results
    if kind == "all_to_all" and len(positions) == 1 and len(local[0]) == 1 and not grouped:
        return _all_to_all(process, entries, local, offset, per_process, n, params, signature)
    # everything else: gather every process's entries, then compute as the threads do
    stacked = process.allgather(np.stack([entries[c][0] for c in local]), signature)
    everything = {}
    for q in range(process.size):
        for e, coords in enumerate(local):
            moved = (coords[0] - offset + q * per_process,) + coords[1:]
            everything[moved] = (stacked[q, e], None)
    results = {}
    for members in _groups(everything, positions, sizes).values():
        values = [everything[members[r]][0] for r in range(n)]
        outs = compute(kind, values, params)
        for r, coords in members.items():
            if coords in entries:
                results[coords] = outs[r]
    return results


def _all_to_all(process, entries, local, offset, per_process, n, params, signature):
    """all_to_all over one axis spanning processes: one MPI Alltoall of every local chunk."""
    split, concat = params["split"], params["concat"]
    P, L = process.size, per_process
    # send[q, s, d] = chunk for global replica q*L+d from local source s
    chunks = [np.split(entries[c][0], n, axis=split) for c in local]
    send = np.stack([np.stack([np.stack([chunks[s][q * L + d] for d in range(L)])
                               for s in range(L)]) for q in range(P)])
    recv = process.alltoall(send, signature)  # recv[p, s, d]: from process p's source s
    results = {}
    for d, coords in enumerate(local):
        pieces = [recv[p, s, d] for p in range(P) for s in range(L)]
        results[coords] = np.concatenate(pieces, axis=concat)
    return results


def _ppermute(process, entries, per_process, n, params, signature):
    """ppermute over the axis spanning processes (inner frames, if any, permute
    independently): local pairs are copies, the others one message per peer process."""
    from fx.interpreters.communicator import _groups
    groups = _groups(entries, [0], [n])
    me, L = process.rank, per_process
    results, sends, recvs, arrivals = {}, {}, {}, {}
    for key in sorted(groups):
        members = groups[key]
        for src, dst in params["perm"]:
            src_p, dst_p = src // L, dst // L
            if src_p == me and dst_p == me:
                results[members[dst]] = entries[members[src]][0]
            elif src_p == me:
                sends.setdefault(dst_p, []).append(entries[members[src]][0])
            elif dst_p == me:
                recvs[src_p] = recvs.get(src_p, 0) + 1
                arrivals.setdefault(src_p, []).append(members[dst])
    like = np.asarray(next(iter(entries.values()))[0])
    received = process.exchange(sends, recvs, like, signature)  # every process takes part
    for q, coords_list in arrivals.items():
        for coords, value in zip(coords_list, received[q]):
            results[coords] = value
    for coords in entries:
        if coords not in results:  # no source sends here: zeros, as in JAX
            results[coords] = np.zeros_like(like)
    return results


def _reduce_scatter(process, entries, per_process, n, params, signature):
    """psum_scatter over the axis spanning processes: local partial sums, then one MPI
    Reduce_scatter of the blocks, ordered by destination replica."""
    from fx.interpreters.communicator import _groups, scatter_blocks
    groups = _groups(entries, [0], [n])
    keys = sorted(groups)
    blocks = []
    for key in keys:
        values = [entries[c][0] for c in groups[key].values()]
        partial = values[0]
        for v in values[1:]:
            partial = np.add(partial, v)
        blocks.append(np.stack(scatter_blocks(np.asarray(partial), n, params)))
    # send[q, l, g]: block of replica q*L + l in group g
    stacked = np.stack(blocks, axis=1)  # (n, G, *block)
    send = stacked.reshape((process.size, per_process) + stacked.shape[1:])
    mine = process.reduce_scatter(send, signature)  # (L, G, *block)
    offset = process.rank * per_process
    results = {}
    for g, key in enumerate(keys):
        for r, coords in groups[key].items():
            results[coords] = mine[r - offset, g]
    return results
