"""Collectives between GPUs: fx's collectives (psum, all_gather, ppermute, ...) as
NCCL calls through ``cupy.cuda.nccl``, as CUDA-aware MPI calls on device buffers,
and a fake NCCL library over host memory that tests the whole dispatch without a GPU.

Invariants: a device communicator serves the local replicas of one pmap: it gets
one contiguous device buffer per local device (in local order) and returns one
per device; every NCCL call of one collective for all local devices is issued
inside one ``groupStart``/``groupEnd`` on each device's own stream, so it is
ordered after that device's kernels and before its next ones. NCCL calls take
raw pointers, so the same code drives CuPy's library and ``FakeNccl`` (which
reads and writes host memory at those pointers when a group ends). Collectives
NCCL has no call for (``axis_index_groups``, max/min of complex numbers) gather
every replica's buffer with ``allGather`` and finish on the device with
``communicator.compute``.
"""
from __future__ import annotations

import contextlib
import ctypes
import itertools
import threading

import numpy as np

__all__ = ["library", "available", "contiguous", "FakeNccl", "NcclCommunicator",
           "CudaAwareMpiCommunicator", "stream_of", "on_device"]


def library():
    """``cupy.cuda.nccl`` when NCCL can be loaded, else None."""
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from cupy.cuda import nccl
    except Exception:  # noqa: BLE001 - no CuPy or no NCCL
        return None
    return nccl if getattr(nccl, "available", False) else None


def available() -> bool:
    """Whether NCCL can be used (CuPy with a loadable ``libnccl``)."""
    return library() is not None


# ---------------------------------------------------------------------------
# buffers, pointers and streams of a runtime (CupyRuntime or HostRuntime)


def pointer(a) -> int:
    """The device (or host) address of a contiguous buffer."""
    data = getattr(a, "data", None)
    ptr = getattr(data, "ptr", None)
    return int(ptr) if ptr is not None else int(a.ctypes.data)


def stream_of(runtime) -> int:
    """The CUDA stream handle of ``runtime`` (0 for the host emulation)."""
    stream = getattr(runtime, "stream", None)
    return int(stream.ptr) if stream is not None else 0


@contextlib.contextmanager
def on_device(runtime):
    """Make ``runtime``'s device and stream current (nothing on the host emulation)."""
    with contextlib.ExitStack() as stack:
        for attr in ("device", "stream"):
            ctx = getattr(runtime, attr, None)
            if ctx is not None:
                stack.enter_context(ctx)
        yield


def contiguous(xp, a, dtype=None):
    """``a`` (of ``xp``: NumPy or CuPy) C-contiguous, copied only when needed; unlike
    ``ascontiguousarray`` it keeps a 0-d array 0-d."""
    return xp.asarray(a, dtype=dtype, order="C")


def _flat_bytes(xp, a):
    """A contiguous byte view of ``a`` (for collectives that only move data)."""
    return contiguous(xp, a).reshape(-1).view(np.uint8)


# ---------------------------------------------------------------------------
# a fake NCCL library over host memory


def _bfloat16():
    from fx import dtypes
    return np.dtype(dtypes.bfloat16)


class FakeNccl:
    """A stand-in for ``cupy.cuda.nccl`` on host buffers (``HostRuntime``).

    It has the module's names and the communicator's calls, with NCCL's meaning:
    operations issued between ``groupStart()`` and ``groupEnd()`` run when the
    outermost group ends; collectives of one communicator clique match in issue
    order, ``send``/``recv`` in order per pair of ranks. Arguments are checked as
    NCCL would (equal counts, types, operations and roots), and a group that ends
    with unmatched operations raises instead of hanging. ``calls`` logs every call.

    Example:
      >>> lib = FakeNccl(); uid = lib.get_unique_id()
      >>> lib.groupStart(); comms = [lib.NcclCommunicator(2, uid, r) for r in (0, 1)]
      >>> lib.groupEnd()
    """

    available = True
    NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN, NCCL_AVG = 0, 1, 2, 3, 4
    (NCCL_INT8, NCCL_UINT8, NCCL_INT32, NCCL_UINT32, NCCL_INT64, NCCL_UINT64, NCCL_FLOAT16,
     NCCL_FLOAT32, NCCL_FLOAT64, NCCL_BFLOAT16) = range(10)

    def __init__(self):
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._worlds: dict = {}
        self._depth = 0
        self._deferred: list = []
        self.calls: list[tuple] = []
        self.groups = 0
        self._types = {self.NCCL_INT8: np.int8, self.NCCL_UINT8: np.uint8,
                       self.NCCL_INT32: np.int32, self.NCCL_UINT32: np.uint32,
                       self.NCCL_INT64: np.int64, self.NCCL_UINT64: np.uint64,
                       self.NCCL_FLOAT16: np.float16, self.NCCL_FLOAT32: np.float32,
                       self.NCCL_FLOAT64: np.float64, self.NCCL_BFLOAT16: _bfloat16()}

    def get_unique_id(self):
        return (next(self._ids),)

    def get_version(self) -> int:
        return 0

    def groupStart(self):  # noqa: N802 - NCCL's name
        with self._lock:
            self._depth += 1

    def groupEnd(self):  # noqa: N802
        with self._lock:
            if self._depth == 0:
                raise RuntimeError("fake NCCL: groupEnd without groupStart")
            self._depth -= 1
            if self._depth:
                return
            self.groups += 1
            deferred, self._deferred = self._deferred, []
            worlds = {id(w): w for w, _ in deferred}
            for world, op in deferred:
                world.post(op)
            for world in worlds.values():
                world.progress()
                if world.pending():
                    raise RuntimeError(f"fake NCCL: a group ended with unmatched operations "
                                       f"(a real NCCL would hang): {world.pending()}")

    def NcclCommunicator(self, ndev: int, uid, rank: int):  # noqa: N802 - CuPy's class name
        with self._lock:
            world = self._worlds.setdefault(uid, _FakeWorld(self, ndev))
            if world.size != ndev:
                raise RuntimeError(f"fake NCCL: ranks disagree on the size ({world.size} vs "
                                   f"{ndev})")
            if not 0 <= rank < ndev or rank in world.joined:
                raise RuntimeError(f"fake NCCL: bad or repeated rank {rank} of {ndev}")
            world.joined.add(rank)
            self.calls.append(("init", rank))
            return _FakeComm(self, world, rank)

    # -- used by the communicators ----------------------------------------------------------
    def _issue(self, world, op):
        with self._lock:
            self.calls.append((op[0], op[1]))
            if self._depth:
                self._deferred.append((world, op))
            else:
                world.post(op)
                world.progress()

    def _view(self, ptr: int, count: int, datatype: int) -> np.ndarray:
        dtype = np.dtype(self._types[datatype])
        if count == 0:
            return np.empty(0, dtype)
        raw = (ctypes.c_char * (count * dtype.itemsize)).from_address(ptr)
        return np.frombuffer(raw, dtype=dtype)


class _FakeWorld:
    """The ranks of one fake communicator clique and their pending operations."""

    def __init__(self, lib: FakeNccl, size: int):
        self.lib, self.size = lib, size
        self.joined: set[int] = set()
        self.collectives: dict[int, dict[int, tuple]] = {}
        self.seq = [0] * size
        self.sends: dict[tuple, list] = {}
        self.recvs: dict[tuple, list] = {}

    def post(self, op):
        name, rank = op[0], op[1]
        if name in ("send", "recv"):
            peer = op[5]
            key = (rank, peer) if name == "send" else (peer, rank)
            (self.sends if name == "send" else self.recvs).setdefault(key, []).append(op)
            return
        seq = self.seq[rank]
        self.seq[rank] += 1
        self.collectives.setdefault(seq, {})[rank] = op

    def pending(self) -> list:
        out = [f"{op[0]} on rank {r}" for ops in self.collectives.values()
               for r, op in ops.items()]
        out += [f"send {k[0]}->{k[1]}" for k, v in self.sends.items() for _ in v]
        out += [f"recv {k[0]}->{k[1]}" for k, v in self.recvs.items() for _ in v]
        return out

    def progress(self):
        for seq in sorted(self.collectives):
            ops = self.collectives[seq]
            if len(ops) < self.size:
                break
            del self.collectives[seq]
            self._collective([ops[r] for r in range(self.size)])
        for key in list(self.sends):
            sends, recvs = self.sends[key], self.recvs.get(key, [])
            while sends and recvs:
                s, r = sends.pop(0), recvs.pop(0)
                if s[3] != r[3] or s[4] != r[4]:
                    raise RuntimeError(f"fake NCCL: send {key} of {s[3]} x type {s[4]} meets "
                                       f"a recv of {r[3]} x type {r[4]}")
                view = self.lib._view
                view(r[2], r[3], r[4])[...] = view(s[2], s[3], s[4])
            if not sends:
                del self.sends[key]
            if key in self.recvs and not self.recvs[key]:
                del self.recvs[key]

    def _collective(self, ops):
        name = ops[0][0]
        first = ops[0][3:]
        for op in ops:
            if op[0] != name or op[3:] != first:
                raise RuntimeError(f"fake NCCL: ranks called different collectives: "
                                   f"{[(o[0], o[1]) + o[3:] for o in ops]}")
        view, lib = self.lib._view, self.lib
        n = self.size
        if name == "allReduce":
            count, datatype, op = first
            values = [view(o[2][0], count, datatype).copy() for o in ops]
            total = _fake_reduce(lib, values, op)
            for o in ops:
                view(o[2][1], count, datatype)[...] = total
        elif name == "allGather":
            count, datatype = first
            values = [view(o[2][0], count, datatype).copy() for o in ops]
            for o in ops:
                view(o[2][1], count * n, datatype)[...] = np.concatenate(values)
        elif name == "reduceScatter":
            count, datatype, op = first
            values = [view(o[2][0], count * n, datatype).copy() for o in ops]
            total = _fake_reduce(lib, values, op)
            for r, o in enumerate(ops):
                view(o[2][1], count, datatype)[...] = total[r * count:(r + 1) * count]
        elif name == "broadcast":
            count, datatype, root = first
            value = view(ops[root][2][0], count, datatype).copy()
            for o in ops:
                view(o[2][1], count, datatype)[...] = value
        else:
            raise RuntimeError(f"fake NCCL: unknown collective {name}")


def _fake_reduce(lib, values, op):
    if op == lib.NCCL_AVG:
        return (np.sum(np.stack(values), axis=0) / len(values)).astype(values[0].dtype)
    ufunc = {lib.NCCL_SUM: np.add, lib.NCCL_PROD: np.multiply, lib.NCCL_MAX: np.maximum,
             lib.NCCL_MIN: np.minimum}[op]
    out = values[0]
    for v in values[1:]:
        out = ufunc(out, v)
    return out


class _FakeComm:
    """One rank of a fake clique: CuPy's ``NcclCommunicator`` calls on raw pointers."""

    def __init__(self, lib: FakeNccl, world: _FakeWorld, rank: int):
        self.lib, self.world, self.rank = lib, world, rank

    def rank_id(self) -> int:
        return self.rank

    def size(self) -> int:
        return self.world.size

    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):  # noqa: N802
        self.lib._issue(self.world, ("allReduce", self.rank, (sendbuf, recvbuf), count,
                                     datatype, op))

    def allGather(self, sendbuf, recvbuf, count, datatype, stream):  # noqa: N802
        self.lib._issue(self.world, ("allGather", self.rank, (sendbuf, recvbuf), count,
                                     datatype))

    def reduceScatter(self, sendbuf, recvbuf, recvcount, datatype, op, stream):  # noqa: N802
        self.lib._issue(self.world, ("reduceScatter", self.rank, (sendbuf, recvbuf), recvcount,
                                     datatype, op))

    def broadcast(self, sendbuf, recvbuf, count, datatype, root, stream):
        self.lib._issue(self.world, ("broadcast", self.rank, (sendbuf, recvbuf), count,
                                     datatype, root))

    def send(self, sendbuf, count, datatype, peer, stream):
        self.lib._issue(self.world, ("send", self.rank, sendbuf, count, datatype, peer))

    def recv(self, recvbuf, count, datatype, peer, stream):
        self.lib._issue(self.world, ("recv", self.rank, recvbuf, count, datatype, peer))

    def destroy(self):
        return None


# ---------------------------------------------------------------------------
# fx's collectives through NCCL


class NcclCommunicator:
    """fx's collectives over NCCL for the local devices of one pmap.

    Args:
      lib: ``cupy.cuda.nccl`` or a ``FakeNccl``.
      runtimes: the runtime of each local device (``CupyRuntime``/``HostRuntime``).
      ranks: the global replica index of each local device.
      size: how many replicas there are in all (every process).
      uid: the clique's NCCL unique id (the same in every process).
    """

    kind = "nccl"

    def __init__(self, lib, runtimes, ranks, size: int, uid):
        self.lib, self.runtimes = lib, list(runtimes)
        self.ranks, self.size = list(ranks), size
        comms = []
        lib.groupStart()
        try:
            for rt, rank in zip(self.runtimes, self.ranks):
                with on_device(rt):
                    comms.append(lib.NcclCommunicator(size, uid, rank))
        finally:
            lib.groupEnd()
        self.comms = comms
        self._streams = [stream_of(rt) for rt in self.runtimes]
        self._reduce_types = self._type_table()

    def _type_table(self) -> dict:
        lib = self.lib
        table = {np.dtype(np.int8): lib.NCCL_INT8, np.dtype(np.uint8): lib.NCCL_UINT8,
                 np.dtype(np.int32): lib.NCCL_INT32, np.dtype(np.uint32): lib.NCCL_UINT32,
                 np.dtype(np.int64): lib.NCCL_INT64, np.dtype(np.uint64): lib.NCCL_UINT64,
                 np.dtype(np.float16): lib.NCCL_FLOAT16, np.dtype(np.float32): lib.NCCL_FLOAT32,
                 np.dtype(np.float64): lib.NCCL_FLOAT64}
        bf16 = getattr(lib, "NCCL_BFLOAT16", None)
        if bf16 is not None:
            table[_bfloat16()] = bf16
        return table

    def close(self) -> None:
        for c in self.comms:
            c.destroy()
        self.comms = []

    # -- plumbing ------------------------------------------------------------------------
    def _group(self, issue):
        """Run ``issue(i, comm, runtime, stream)`` for every local device in one group."""
        self.lib.groupStart()
        try:
            for i, (comm, rt, stream) in enumerate(zip(self.comms, self.runtimes,
                                                       self._streams)):
                with on_device(rt):
                    issue(i, comm, rt, stream)
        finally:
            self.lib.groupEnd()

    def _empty(self, shape, dtype):
        return [rt.empty(shape, dtype) for rt in self.runtimes]

    def _reducible(self, dtype, kind):
        """(NCCL type, dtype to reduce in) for a reduction of ``dtype``, or None."""
        dtype = np.dtype(dtype)
        if dtype in self._reduce_types:
            return self._reduce_types[dtype], dtype
        if dtype in (np.dtype(np.int16), np.dtype(np.uint16)):
            wide = np.dtype(np.int32 if dtype.kind == "i" else np.uint32)
            return self._reduce_types[wide], wide
        if dtype.kind == "c" and kind in ("psum", "reduce_scatter"):
            real = np.dtype(np.float32 if dtype.itemsize == 8 else np.float64)
            return self._reduce_types[real], real
        return None

    # -- the collectives -------------------------------------------------------------------
    def collective(self, kind: str, bufs: list, params: dict) -> list:
        """fx collective ``kind`` (as ``communicator.compute`` names it) of the local
        device buffers ``bufs``; returns one buffer per local device."""
        if params.get("groups") is not None or (
                kind in ("psum", "pmax", "pmin", "reduce_scatter")
                and self._reducible(bufs[0].dtype, kind) is None):
            return self._gathered(kind, bufs, params)
        return getattr(self, "_" + kind)(bufs, params)

    def _to_reduce(self, bufs, kind):
        code, work = self._reducible(bufs[0].dtype, kind)
        dtype = np.dtype(bufs[0].dtype)
        out = []
        for rt, b in zip(self.runtimes, bufs):
            with on_device(rt):
                a = contiguous(rt.xp, b)
                if dtype.kind == "c":
                    a = a.reshape(-1).view(work)
                elif work != dtype:
                    a = a.astype(work)
                out.append(a)
        return code, out

    def _from_reduce(self, outs, dtype, shape):
        dtype = np.dtype(dtype)
        result = []
        for rt, o in zip(self.runtimes, outs):
            with on_device(rt):
                if dtype.kind == "c":
                    o = o.view(dtype)
                elif o.dtype != dtype:
                    o = o.astype(dtype)
                result.append(o.reshape(shape))
        return result

    def _allreduce(self, bufs, op):
        code, work = self._to_reduce(bufs, "psum")
        outs = self._empty(work[0].shape, work[0].dtype)
        self._group(lambda i, comm, rt, s: comm.allReduce(
            pointer(work[i]), pointer(outs[i]), work[i].size, code, op, s))
        return self._from_reduce(outs, bufs[0].dtype, bufs[0].shape)

    def _psum(self, bufs, params):
        return self._allreduce(bufs, self.lib.NCCL_SUM)

    def _pmax(self, bufs, params):
        return self._allreduce(bufs, self.lib.NCCL_MAX)

    def _pmin(self, bufs, params):
        return self._allreduce(bufs, self.lib.NCCL_MIN)

    def _gather_rows(self, bufs):
        """Every replica's buffer on every local device: shape ``(size, *shape)``."""
        n, shape, dtype = self.size, tuple(bufs[0].shape), np.dtype(bufs[0].dtype)
        sends = [_flat_bytes(rt.xp, b) for rt, b in zip(self.runtimes, bufs)]
        outs = self._empty((n * sends[0].size,), np.uint8)
        self._group(lambda i, comm, rt, s: comm.allGather(
            pointer(sends[i]), pointer(outs[i]), sends[i].size, self.lib.NCCL_UINT8, s))
        return [o.view(dtype).reshape((n,) + shape) for o in outs]

    def _all_gather(self, bufs, params):
        dim, tiled = params["dim"], params["tiled"]
        out = []
        for rt, rows in zip(self.runtimes, self._gather_rows(bufs)):
            with on_device(rt):
                moved = rt.xp.moveaxis(rows, 0, dim)
                if tiled:
                    s = moved.shape
                    moved = moved.reshape(s[:dim] + (s[dim] * s[dim + 1],) + s[dim + 2:])
                out.append(contiguous(rt.xp, moved))
        return out

    def _reduce_scatter(self, bufs, params):
        dim, tiled, n = params["dim"], params["tiled"], self.size
        blocks = []
        for rt, b in zip(self.runtimes, bufs):
            with on_device(rt):
                if tiled:
                    s = b.shape
                    b = b.reshape(s[:dim] + (n, s[dim] // n) + s[dim + 1:])
                blocks.append(contiguous(rt.xp, rt.xp.moveaxis(b, dim, 0)))
        block_shape = blocks[0].shape[1:]
        code, work = self._to_reduce(blocks, "reduce_scatter")
        count = work[0].size // n
        outs = self._empty((count,), work[0].dtype)
        self._group(lambda i, comm, rt, s: comm.reduceScatter(
            pointer(work[i]), pointer(outs[i]), count, code, self.lib.NCCL_SUM, s))
        return self._from_reduce(outs, bufs[0].dtype, block_shape)

    def _exchange(self, sends_of, recv_shape, dtype, pairs):
        """Point to point: ``pairs`` of (source, destination) global ranks; the send
        buffer of a local source is ``sends_of(local index, destination)``; returns per
        local device {source: received buffer}."""
        local = {r: i for i, r in enumerate(self.ranks)}
        received: list[dict] = [{} for _ in self.runtimes]
        for src, dst in pairs:
            if dst in local:
                i = local[dst]
                received[i][src] = self.runtimes[i].empty(recv_shape, dtype)

        def issue(i, comm, rt, stream):
            me = self.ranks[i]
            for src, dst in pairs:
                if src == me and dst == me:
                    received[i][src][...] = sends_of(i, dst)
                elif src == me:
                    buf = _flat_bytes(rt.xp, sends_of(i, dst))
                    comm.send(pointer(buf), buf.size, self.lib.NCCL_UINT8, dst, stream)
                elif dst == me:
                    buf = received[i][src].reshape(-1).view(np.uint8)
                    comm.recv(pointer(buf), buf.size, self.lib.NCCL_UINT8, src, stream)
        self._group(issue)
        return received

    def _ppermute(self, bufs, params):
        shape, dtype = tuple(bufs[0].shape), np.dtype(bufs[0].dtype)
        flat = [contiguous(rt.xp, b) for rt, b in zip(self.runtimes, bufs)]
        received = self._exchange(lambda i, dst: flat[i], shape, dtype,
                                  [tuple(p) for p in params["perm"]])
        out = []
        for rt, got in zip(self.runtimes, received):
            if got:
                out.append(next(iter(got.values())))
            else:  # no source sends here: zeros, as in JAX
                with on_device(rt):
                    out.append(rt.xp.zeros(shape, dtype))
        return out

    def _all_to_all(self, bufs, params):
        split, concat, n = params["split"], params["concat"], self.size
        chunks = []
        for rt, b in zip(self.runtimes, bufs):
            with on_device(rt):
                s = b.shape
                b = b.reshape(s[:split] + (n, s[split] // n) + s[split + 1:])
                chunks.append(contiguous(rt.xp, rt.xp.moveaxis(b, split, 0)))
        chunk_shape, dtype = chunks[0].shape[1:], np.dtype(bufs[0].dtype)
        pairs = [(src, dst) for src in range(n) for dst in range(n)]
        received = self._exchange(lambda i, dst: chunks[i][dst], chunk_shape, dtype, pairs)
        out = []
        for rt, got in zip(self.runtimes, received):
            with on_device(rt):
                rows = rt.xp.stack([got[j] for j in range(n)])
                moved = rt.xp.moveaxis(rows, 0, concat)
                s = moved.shape
                out.append(contiguous(rt.xp,
                    moved.reshape(s[:concat] + (s[concat] * s[concat + 1],) + s[concat + 2:])))
        return out

    def _pbroadcast(self, bufs, params):
        sends = [_flat_bytes(rt.xp, b) for rt, b in zip(self.runtimes, bufs)]
        outs = self._empty(sends[0].shape, np.uint8)
        root = params["source"]
        self._group(lambda i, comm, rt, s: comm.broadcast(
            pointer(sends[i]), pointer(outs[i]), sends[i].size, self.lib.NCCL_UINT8, root, s))
        return [o.view(bufs[0].dtype).reshape(bufs[0].shape) for o in outs]

    def _gathered(self, kind, bufs, params):
        """Any collective: gather every replica's buffer, then compute on each device."""
        from fx.interpreters.communicator import compute
        out = []
        for i, (rt, rows) in enumerate(zip(self.runtimes, self._gather_rows(bufs))):
            with on_device(rt):
                values = [rows[j] for j in range(self.size)]
                result = compute(kind, values, params)[self.ranks[i]]
                out.append(contiguous(rt.xp, result, bufs[0].dtype))
        return out


# ---------------------------------------------------------------------------
# fx's collectives through CUDA-aware MPI (one device per process)


_MPI_REDUCIBLE = frozenset("f4 f8 i1 i2 i4 i8 u1 u2 u4 u8".split())


class CudaAwareMpiCommunicator:
    """fx's collectives through an MPI that reads and writes device memory: one local
    device per process, whose buffers go to mpi4py as they are (CuPy arrays expose
    ``__cuda_array_interface__``). The device's stream is synchronized first, since MPI
    does not order itself after CUDA streams.

    Args:
      process: ``fx.distributed``'s ``ProcessComm``.
      runtime: the local device's runtime; ``rank``/``size``: this replica and all.
    """

    kind = "mpi-cuda"

    def __init__(self, process, runtime, rank: int, size: int):
        self.process, self.runtime = process, runtime
        self.ranks, self.size = [rank], size
        self.MPI = process.MPI

    def close(self) -> None:
        return None

    def _agree(self, kind, buf, params):
        """Check that every process calls the same collective (fx.distributed's signature
        exchange, with its timeout)."""
        signature = f"{kind}{sorted(params.items())} {np.dtype(buf.dtype).name}{list(buf.shape)}"
        p = self.process
        p._check(*p._begin(signature), signature)

    def collective(self, kind: str, bufs: list, params: dict) -> list:
        (buf,) = bufs
        rt, comm, MPI = self.runtime, self.process.comm, self.MPI
        xp = rt.xp
        grouped = params.get("groups") is not None
        with self.process.lock:
            self._agree(kind, buf, params)
            with on_device(rt):
                x = contiguous(xp, buf)
                rt.synchronize()
                if kind in ("psum", "pmax", "pmin") and not grouped and \
                        x.dtype.str[1:] in _MPI_REDUCIBLE:
                    out = xp.empty_like(x)
                    rt.synchronize()
                    op = {"psum": MPI.SUM, "pmax": MPI.MAX, "pmin": MPI.MIN}[kind]
                    comm.Allreduce(x, out, op)
                    return [out]
                if kind == "ppermute":
                    return [self._ppermute(x, params["perm"])]
                rows = xp.empty((self.size,) + x.shape, x.dtype)
                rt.synchronize()
                comm.Allgather(x.reshape(-1).view(np.uint8), rows.reshape(-1).view(np.uint8))
                from fx.interpreters.communicator import compute
                result = compute(kind, [rows[j] for j in range(self.size)], params)
                return [contiguous(xp, result[self.ranks[0]], x.dtype)]

    def _ppermute(self, x, perm):
        rt, comm, me = self.runtime, self.process.comm, self.ranks[0]
        xp = rt.xp
        dst = next((d for s, d in perm if s == me), None)
        src = next((s for s, d in perm if d == me), None)
        out = xp.zeros_like(x)
        rt.synchronize()
        requests = []
        if src is not None and src != me:
            requests.append(comm.Irecv(out.reshape(-1).view(np.uint8), source=src, tag=23))
        if dst is not None and dst != me:
            requests.append(comm.Isend(x.reshape(-1).view(np.uint8), dest=dst, tag=23))
        self.MPI.Request.Waitall(requests)
        if src == me:
            out[...] = x
        return out
