"""The CUDA runtime of ``GpuExecutable``: CuPy buffers from CuPy's memory pool, one
stream per device, kernel modules compiled by NVRTC and cached on disk, products
through cuBLAS (``cupy.matmul``).

Invariants: everything a runtime does for one device runs on that device's
stream, so launches are asynchronous and ordered; ``to_host`` (fallbacks,
``device_get``) synchronizes. Device code is cached on disk in the CPU backend's
cache directory (``FX_CACHE_DIR``; same checks, same atomic writes), keyed by
the SHA-256 of the CUDA source, the target architecture, the NVRTC, CuPy and fx
versions and the ``lowering`` sources. ``FX_GPU_MEMORY_FRACTION`` caps the pool
(a fraction of the device's memory); nothing is preallocated.
"""
from __future__ import annotations

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
        from cupy._core import _routines_linalg as linalg
        with self.device, self.stream:
            if a.dtype == np.float32 and tf32:
                previous = linalg.get_compute_type(np.dtype(np.float32))
                linalg.set_compute_type(np.dtype(np.float32), linalg.COMPUTE_TYPE_TF32)
                try:
                    return cupy.matmul(a, b)
                finally:
                    linalg.set_compute_type(np.dtype(np.float32), previous)
            if codegen.BF16 is not None and a.dtype == codegen.BF16:
                try:
                    return cupy.matmul(a, b)
                except Exception:  # noqa: BLE001 - CuPy without bfloat16 GEMM: in float32
                    return cupy.matmul(a.astype(np.float32),
                                       b.astype(np.float32)).astype(a.dtype)
            return cupy.matmul(a, b)
