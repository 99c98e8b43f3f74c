"""The CUDA runtime of ``GpuExecutable``: CuPy buffers from CuPy's memory pool, one
stream per device, kernel modules compiled by NVRTC and cached on disk, products
through cuBLAS (``cupy.matmul``; float32 products with TF32 tensor cores, when the user
allows it, through cuBLAS's ``CUBLAS_COMPUTE_32F_FAST_TF32`` compute type), and
CUDA graph capture and replay on the runtime's stream (``lowering.gpu.control``).

Invariants: everything a runtime does for one device runs on that device's
stream, so launches are asynchronous and ordered; ``to_host`` (fallbacks,
``device_get``) synchronizes. Device code is cached on disk in the CPU backend's
cache directory (``FX_CACHE_DIR``; same checks, same atomic writes), keyed by
the SHA-256 of the CUDA source, the target architecture, the NVRTC, CuPy and fx
versions and the ``lowering`` sources. ``FX_GPU_MEMORY_FRACTION`` caps the pool
(a fraction of the device's memory); nothing is preallocated.
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import os

import numpy as np

from lowering.gpu import codegen, nvrtc

__all__ = ["CupyRuntime", "memory_fraction", "cubin_for"]


def memory_fraction() -> float | None:
    """``FX_GPU_MEMORY_FRACTION`` as a float in (0, 1], or None when unset."""
    raw = os.environ.get("FX_GPU_MEMORY_FRACTION", "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"FX_GPU_MEMORY_FRACTION must be a number in (0, 1], got {raw!r}") \
            from None
    if not 0.0 < value <= 1.0:
        raise ValueError(f"FX_GPU_MEMORY_FRACTION must be in (0, 1], got {value}")
    return value


def _fingerprint(arch: str) -> str:
    import fx
    from lowering.cpu import diskcache
    try:
        import cupy
        cupy_version = cupy.__version__
    except ImportError:
        cupy_version = None
    return json.dumps({"format": "fx-cuda-cubin-1", "arch": arch, "nvrtc": nvrtc.version(),
                       "cupy": cupy_version, "fx": getattr(fx, "__version__", "?"),
                       "source": diskcache._source_digest()}, sort_keys=True)


def cubin_for(source: str, arch: str, names) -> bytes:
    """Device code for ``source``: from the disk cache, or compiled by NVRTC and stored."""
    from lowering.cpu import diskcache
    cache = diskcache.cache_directory()
    digest = None
    if cache is not None:
        h = hashlib.sha256(_fingerprint(arch).encode())
        h.update(b"\0" + source.encode())
        digest = h.hexdigest()
        entry = cache.get(digest)
        if entry is not None:
            return entry.object
    cubin = nvrtc.compile_cubin(source, arch)
    if cache is not None:
        cache.put(digest, diskcache.CacheEntry(cubin, list(names), [], source))
    return cubin


class CupyRuntime:
    """Buffers, kernels and products of one CUDA device, on one stream.

    Args:
      device_id: the CUDA device ordinal.
    """

    platform = "gpu"

    def __init__(self, device_id: int = 0):
        import cupy
        self.cupy = cupy
        self.supports_graphs = hasattr(cupy.cuda.Stream, "begin_capture")
        self._pinned = None
        self._graphs: list = []  # (graphs, event) until their replays are done
        self.xp = cupy
        self.device_id = device_id
        self.device = cupy.cuda.Device(device_id)
        with self.device:
            props = cupy.cuda.runtime.getDeviceProperties(device_id)
            major, minor = props["major"], props["minor"]
            self.stream = cupy.cuda.Stream(non_blocking=True)
            fraction = memory_fraction()
            if fraction is not None:
                cupy.get_default_memory_pool().set_limit(fraction=fraction)
        self.target = f"sm_{major}{minor}"
        self.sm_count = int(props["multiProcessorCount"])
        self.max_blocks = self.sm_count * 32
        name = props["name"]
        self.name = name.decode() if isinstance(name, bytes) else str(name)

    # -- buffers -------------------------------------------------------------------
    def empty(self, shape, dtype):
        with self.device, self.stream:
            return self.cupy.empty(shape, dtype)

    def asarray(self, a):
        with self.device, self.stream:
            return self.cupy.asarray(a)

    def to_host(self, a):
        if isinstance(a, np.ndarray):
            return a
        with self.device:
            return self.cupy.asnumpy(a, stream=self.stream, blocking=True)

    def is_device_array(self, a) -> bool:
        return isinstance(a, self.cupy.ndarray) and a.device.id == self.device_id

    @staticmethod
    def aligned(a) -> bool:
        return a.data.ptr % 16 == 0

    def synchronize(self) -> None:
        self.stream.synchronize()

    def copy(self, dst, src) -> None:
        """Copy ``src`` into ``dst`` (same shape and dtype) on the stream."""
        with self.device:
            if dst.flags.c_contiguous and src.flags.c_contiguous and dst.dtype == src.dtype:
                if dst.nbytes:
                    dst.data.copy_from_device_async(src.data, dst.nbytes, self.stream)
                return
            with self.stream:
                self.cupy.copyto(dst, src)

    def read_scalar(self, a):
        """The value of the one-element device array ``a`` (one small copy to pinned
        host memory; waits for the stream)."""
        import cupyx
        with self.device:
            if self._pinned is None:
                self._pinned = cupyx.empty_pinned((16,), np.uint8)
            out = self._pinned[:a.dtype.itemsize].view(a.dtype)
            a.data.copy_to_host_async(ctypes.c_void_p(out.ctypes.data), a.dtype.itemsize,
                                      self.stream)
            self.stream.synchronize()
            return out[0]

    # -- graphs ------------------------------------------------------------------------
    def begin_capture(self) -> None:
        """Start capturing this stream's launches into a CUDA graph."""
        with self.device:
            self.stream.begin_capture()

    def end_capture(self):
        """Stop capturing; returns the instantiated ``cupy.cuda.Graph``."""
        with self.device:
            return self.stream.end_capture()

    def graph_launch(self, graph) -> None:
        with self.device:
            graph.launch(self.stream)

    def keep_alive(self, graphs) -> None:
        """Hold ``graphs`` until the replays queued so far are done."""
        with self.device:
            self._graphs = [(g, e) for g, e in self._graphs if not e.done]
            event = self.cupy.cuda.Event(disable_timing=True)
            event.record(self.stream)
            self._graphs.append((graphs, event))

    # -- kernels ---------------------------------------------------------------------
    def load(self, source: str, specs) -> dict:
        names = [s.name for s in specs]
        cubin = cubin_for(source, self.target, names)
        with self.device:
            module = self.cupy.cuda.function.Module()
            module.load(cubin)
            return {n: module.get_function(n) for n in names} | {"__module__": module}

    def launch(self, kernel, name: str, grid: int, block: int, args) -> None:
        with self.device:
            kernel((grid, 1, 1), (block, 1, 1), tuple(args), stream=self.stream)

    # -- products --------------------------------------------------------------------
    def matmul(self, a, b, tf32: bool = False):
        """(B, M, K) @ (B, K, N) through cuBLAS; TF32 only when ``tf32``."""
        cupy = self.cupy
        with self.device, self.stream:
            if a.dtype == np.float32 and tf32:
                return self._matmul_tf32(a, b)
            if codegen.BF16 is not None and a.dtype == codegen.BF16:
                try:
                    return cupy.matmul(a, b)
                except Exception:  # noqa: BLE001 - CuPy without bfloat16 GEMM: in float32
                    return cupy.matmul(a.astype(np.float32),
                                       b.astype(np.float32)).astype(a.dtype)
            return cupy.matmul(a, b)

    def _matmul_tf32(self, a, b):
        """float32 (B, M, K) @ (B, K, N) with cuBLAS's TF32 compute type (one strided
        batched GEMM; row-major C = A B is column-major C^T = B^T A^T)."""
        cupy = self.cupy
        from cupy_backends.cuda.libs import cublas
        a, b = cupy.ascontiguousarray(a), cupy.ascontiguousarray(b)
        nb, m, k = a.shape
        n = b.shape[2]
        out = cupy.empty((nb, m, n), np.float32)
        if out.size == 0:
            return out
        if k == 0:
            out.fill(0)
            return out
        handle = cupy.cuda.device.get_cublas_handle()
        previous = cublas.getStream(handle)
        one, zero = np.ones(1, np.float32), np.zeros(1, np.float32)
        r32 = cupy.cuda.runtime.CUDA_R_32F
        cublas.setStream(handle, self.stream.ptr)
        try:
            cublas.gemmStridedBatchedEx(
                handle, cublas.CUBLAS_OP_N, cublas.CUBLAS_OP_N, n, m, k,
                one.ctypes.data, b.data.ptr, r32, n, k * n, a.data.ptr, r32, k, m * k,
                zero.ctypes.data, out.data.ptr, r32, n, m * n, nb,
                cublas.CUBLAS_COMPUTE_32F_FAST_TF32, cublas.CUBLAS_GEMM_DEFAULT_TENSOR_OP)
        finally:
            cublas.setStream(handle, previous)
        return out
