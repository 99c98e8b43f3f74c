"""GPU devices through CuPy: discovery, device objects compatible with
``fx.devices.Device``, and each device's runtime.

Invariants: importing this module and calling ``gpu_devices()`` never raise: no
CuPy, no driver, no GPU or ``FX_PLATFORMS`` without ``gpu``/``cuda`` all give
``[]``. Devices are discovered once per process; a device's ``CupyRuntime`` (its
stream and memory pool settings) is created on first use and kept.
"""
from __future__ import annotations

import os
import threading

from fx.devices import Device

__all__ = ["GpuDevice", "gpu_devices", "gpu_available", "platforms_allowed", "runtime_for",
           "default_runtime"]

_lock = threading.Lock()
_found: list = []
_runtimes: dict = {}


class GpuDevice(Device):
    """One CUDA device (``platform`` ``"gpu"``), as JAX's ``CudaDevice``.

    Attributes:
      id: the CUDA ordinal (fx numbers GPUs from 0 on each process).
      device_kind: the device's name, e.g. ``"NVIDIA H100 80GB HBM3"``.
      compute_capability: ``"9.0"`` and the like.
    """

    __slots__ = ("compute_capability",)

    def __init__(self, id: int, device_kind: str = "gpu", compute_capability: str = "",
                 process_index: int = 0):
        super().__init__(id, "gpu", process_index)
        self.device_kind = device_kind
        self.compute_capability = compute_capability

    def __repr__(self):
        return f"CudaDevice(id={self.id})"


def platforms_allowed() -> set[str] | None:
    """The platforms ``FX_PLATFORMS`` (``jax_platforms``) allows, or None for all."""
    try:
        from fx.config import config
        value = config.jax_platforms
    except Exception:  # noqa: BLE001
        value = None
    value = value if value is not None else os.environ.get("FX_PLATFORMS")
    if not value:
        return None
    return {p.strip().lower() for p in str(value).split(",") if p.strip()}


def _driver_present() -> bool:
    """Whether the CUDA driver library loads (checked before importing CuPy, so machines
    without a driver do not pay CuPy's import time on the first eager call)."""
    import ctypes
    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll"):
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False


def _discover() -> list[GpuDevice]:
    if not _driver_present():
        return []
    try:
        import cupy
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001 - no CuPy, no driver or no device: no GPUs
        return []
    out = []
    for i in range(count):
        try:
            props = cupy.cuda.runtime.getDeviceProperties(i)
            name = props["name"]
            name = name.decode() if isinstance(name, bytes) else str(name)
            out.append(GpuDevice(i, name, f"{props['major']}.{props['minor']}"))
        except Exception:  # noqa: BLE001
            continue
    return out


def gpu_devices() -> list[GpuDevice]:
    """The CUDA devices of this process ([] without CuPy, driver or GPU, or when
    ``FX_PLATFORMS`` excludes ``gpu``).

    Example:
      >>> gpu_devices()
      [CudaDevice(id=0)]
    """
    allowed = platforms_allowed()
    if allowed is not None and not ({"gpu", "cuda"} & allowed):
        return []
    with _lock:
        if not _found:
            _found.append(_discover())
        return list(_found[0])


def gpu_available() -> bool:
    """Whether at least one GPU can be used."""
    return bool(gpu_devices())


def runtime_for(device):
    """The ``CupyRuntime`` of ``device`` (a GpuDevice or an ordinal), created once."""
    ordinal = device if isinstance(device, int) else device.id
    with _lock:
        rt = _runtimes.get(ordinal)
        if rt is None:
            from lowering.gpu.runtime import CupyRuntime
            rt = _runtimes[ordinal] = CupyRuntime(ordinal)
        return rt


def default_runtime():
    """The runtime of GPU 0; RuntimeError when there is no usable GPU."""
    devices = gpu_devices()
    if not devices:
        raise RuntimeError("fx: no usable GPU (CuPy with a CUDA driver and device is needed; "
                           "FX_PLATFORMS may exclude 'gpu')")
    return runtime_for(devices[0])
