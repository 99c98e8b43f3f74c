"""Devices: CPU devices (``FX_CPU_DEVICES=N`` makes N per process), as ``jax.devices()``.

Invariants: the device list follows ``config.fx_cpu_devices`` (read at each call,
so set it before the first pmap); device 0 of this process is the default. Under
``fx.distributed.initialize()`` every process has the same number of local
devices and sees all of them: process p owns ids ``p*L .. p*L+L-1``.
"""
from __future__ import annotations

from typing import Any

from fx.config import config


class Device:
    """One device fx can run on (``platform``, ``id``, owning ``process_index``)."""

    __slots__ = ("id", "platform", "device_kind", "process_index")

    def __init__(self, id: int, platform: str = "cpu", process_index: int = 0):
        self.id = id
        self.platform = platform
        self.device_kind = "cpu" if platform == "cpu" else platform
        self.process_index = process_index

    @property
    def host_id(self) -> int:
        return self.process_index

    @property
    def client(self):
        return None

    def __repr__(self):
        return f"CpuDevice(id={self.id})" if self.platform == "cpu" else \
            f"{self.platform.capitalize()}Device(id={self.id})"

    def __eq__(self, other):
        return isinstance(other, Device) and (self.id, self.platform) == (other.id, other.platform)

    def __hash__(self):
        return hash((self.id, self.platform))


_devices: list[Device] = []
_layout = {"built_for": None, "process_index": 0, "process_count": 1}


def _build() -> list[Device]:
    local = max(1, int(config.fx_cpu_devices))
    key = (local, _layout["process_index"], _layout["process_count"])
    if _layout["built_for"] != key:
        count = _layout["process_count"]
        _devices[:] = [Device(p * local + i, process_index=p)
                       for p in range(count) for i in range(local)]
        _layout["built_for"] = key
    return _devices


def _set_processes(process_index: int, process_count: int) -> None:
    """Called by ``fx.distributed.initialize``: this process's place among all."""
    _layout["process_index"] = process_index
    _layout["process_count"] = process_count
    _layout["built_for"] = None


def _gpu_devices() -> list:
    from lowering.gpu.device import gpu_devices
    return gpu_devices()


def _check_backend(backend):
    """True for a GPU backend (which must have devices), False for the CPU."""
    if backend in ("gpu", "cuda"):
        if not _gpu_devices():
            raise RuntimeError(f"Unknown backend: '{backend}' requested, but no platforms that "
                               "are instances of gpu are present (fx needs CuPy with a CUDA "
                               "driver and device: pip install -e '.[gpu]'). Platforms "
                               "present are: cpu")
        return True
    if backend not in (None, "cpu"):
        raise RuntimeError(f"Unknown backend {backend!r}; fx provides 'cpu' and 'gpu'")
    return False


def devices(backend: str | None = None) -> list[Device]:
    """All devices of every process (of ``backend``, default the CPU; ``"gpu"``: the
    CUDA devices CuPy sees).

    Example:
      >>> fx.devices()
      [CpuDevice(id=0)]
    """
    if _check_backend(backend):
        return _gpu_devices()
    return list(_build())


def local_devices(process_index: int | None = None, backend: str | None = None
                  ) -> list[Device]:
    """The devices of ``process_index`` (default: this process)."""
    if _check_backend(backend):
        return _gpu_devices()
    me = _layout["process_index"] if process_index is None else process_index
    return [d for d in _build() if d.process_index == me]


def device_count(backend: str | None = None) -> int:
    """How many devices all processes have together."""
    return len(devices(backend))


def local_device_count(backend: str | None = None) -> int:
    """How many devices this process has."""
    return len(local_devices(backend=backend))


def default_device() -> Device:
    return local_devices()[0]


def default_backend() -> str:
    return "cpu"


def process_index() -> int:
    """This process's index (0 unless ``fx.distributed.initialize()`` ran under mpiexec)."""
    return _layout["process_index"]


def process_count() -> int:
    """How many processes run this program together (1 without ``fx.distributed``)."""
    return _layout["process_count"]


def device_put(x: Any, device=None):
    """The leaves of ``x`` as fx arrays placed on ``device`` (a Device or a Sharding).

    Example:
      >>> fx.device_put(fx.numpy.ones(3), fx.devices()[0]).devices()
      {CpuDevice(id=0)}
    """
    import numpy as np

    from fx import dtypes, tree_util
    from fx.array import Array
    if device is not None and not isinstance(device, Device) and \
            not hasattr(device, "device_set"):
        raise TypeError(f"device_put: device must be an fx Device or a Sharding, got "
                        f"{type(device).__name__}: {device!r}")

    runtime = _gpu_runtime(device)

    def put(leaf):
        if runtime is not None:  # onto a GPU: the value becomes a device buffer
            host = put_host(leaf)
            return Array(runtime.asarray(host._value), host.weak_type, device=device)
        return put_host(leaf)

    def put_host(leaf):
        if type(leaf) is Array:
            value = leaf._value
            source = _gpu_runtime(leaf._device)
            if source is not None:  # from a GPU back to the host
                value = source.to_host(value)
            return Array(value, leaf.weak_type, device=device if runtime is None else None)
        if isinstance(leaf, (bool, int, float, complex)):
            return Array(np.asarray(leaf, dtypes.result_type(leaf)), not isinstance(leaf, bool),
                         device=device)
        value = np.asarray(leaf)
        return Array(value.astype(dtypes.canonicalize_dtype(value.dtype), copy=False), False,
                     device=device)

    return tree_util.tree_map(put, x)


def _gpu_runtime(device):
    """The runtime holding buffers of ``device`` when it is a GPU, else None."""
    if device is None or getattr(device, "platform", "cpu") != "gpu":
        return None
    from lowering.gpu.device import runtime_for
    return runtime_for(device)
