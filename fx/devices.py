"""Devices: CPU devices (``FX_CPU_DEVICES=N`` makes N), as ``jax.devices()``.

Invariant: the device list is fixed at first use; device 0 is the default.
"""
from __future__ import annotations

from fx.config import config


class Device:
    """One device fx can run on (``platform``, ``id``)."""

    __slots__ = ("id", "platform", "device_kind", "process_index")

    def __init__(self, id: int, platform: str = "cpu"):
        self.id = id
        self.platform = platform
        self.device_kind = "cpu" if platform == "cpu" else platform
        self.process_index = 0

    def __repr__(self):
        return f"CpuDevice(id={self.id})" if self.platform == "cpu" else \
            f"{self.platform.capitalize()}Device(id={self.id})"

    def __eq__(self, other):
        return isinstance(other, Device) and (self.id, self.platform) == (other.id, other.platform)

    def __hash__(self):
        return hash((self.id, self.platform))


_devices: list[Device] = []


def devices(backend: str | None = None) -> list[Device]:
    """All devices (of ``backend``, default the CPU)."""
    if backend not in (None, "cpu"):
        raise RuntimeError(f"Unknown backend {backend!r}; fx provides 'cpu' here")
    if not _devices:
        _devices.extend(Device(i) for i in range(max(1, int(config.fx_cpu_devices))))
    return list(_devices)


def local_devices(process_index: int | None = None, backend: str | None = None) -> list[Device]:
    return devices(backend)


def device_count(backend: str | None = None) -> int:
    return len(devices(backend))


def local_device_count(backend: str | None = None) -> int:
    return len(devices(backend))


def default_device() -> Device:
    return devices()[0]


def default_backend() -> str:
    return "cpu"


def process_index() -> int:
    return 0


def process_count() -> int:
    return 1
