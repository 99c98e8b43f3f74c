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


def _check_backend(backend):
    if backend not in (None, "cpu"):
        raise RuntimeError(f"Unknown backend {backend!r}; fx provides 'cpu' here")


def devices(backend: str | None = None) -> list[Device]:
    """All devices of every process (of ``backend``, default the CPU).

    Example:
      >>> fx.devices()
      [CpuDevice(id=0)]
    """
    _check_backend(backend)
    return list(_build())


def local_devices(process_index: int | None = None, backend: str | None = None
                  ) -> list[Device]:
    """The devices of ``process_index`` (default: this process)."""
    _check_backend(backend)
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

    def put(leaf):
        if type(leaf) is Array:
            return Array(leaf._value, leaf.weak_type, device=device)
        if isinstance(leaf, (bool, int, float, complex)):
            return Array(np.asarray(leaf, dtypes.result_type(leaf)), not isinstance(leaf, bool),
                         device=device)
        value = np.asarray(leaf)
        return Array(value.astype(dtypes.canonicalize_dtype(value.dtype), copy=False), False,
                     device=device)

    return tree_util.tree_map(put, x)
