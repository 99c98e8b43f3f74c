"""Devices: CPU devices (``FX_CPU_DEVICES=N`` makes N per process) and CUDA GPUs (through
CuPy, ``lowering.gpu.device``), as ``jax.devices()``; the default device; ``device_put``.

Invariants: the device list follows ``config.fx_cpu_devices`` (read at each call,
so set it before the first pmap); device 0 of this process is the host device. Under
``fx.distributed.initialize()`` every process has the same number of local
devices and sees all of them: process p owns ids ``p*L .. p*L+L-1``.

The default device is, as in JAX, the first GPU when one is present, else the host
CPU device. ``FX_PLATFORMS`` (``config.jax_platforms``: platforms in priority order,
e.g. ``cpu`` forces the CPU, ``gpu,cpu``) and ``config.jax_default_device`` (a Device
or ``"cpu"``/``"gpu"``) override it. ``JAX_PLATFORMS`` is deliberately not read: a
program that uses JAX beside fx (fx's tests use it as an oracle) sets it for JAX.
The default is resolved on the first eager call or device query and again whenever
those options change (``config.update``), and it sets ``fx.core._eager_route`` so that
eager calls on the host pay nothing when the host is the default.

GPU memory comes from CuPy's memory pool, allocated as arrays need it (nothing is
preallocated); ``FX_GPU_MEMORY_FRACTION=0.5`` caps the pool at that fraction of each
device's memory (read when a device's runtime starts).
"""
from __future__ import annotations

import os
from typing import Any

from fx import core
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


_gpu: list = []  # lowering.gpu.device, imported on first use


def _gpu_module():
    if not _gpu:
        from lowering.gpu import device as gpu_device
        _gpu.append(gpu_device)
    return _gpu[0]


def _gpu_devices() -> list:
    return _gpu_module().gpu_devices()


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


def _default_is_gpu(backend) -> bool:
    return backend is None and default_device().platform == "gpu"


def devices(backend: str | None = None) -> list[Device]:
    """All devices of every process of ``backend`` (default: the default device's
    platform, the GPU when one is present; ``"cpu"``; ``"gpu"``: the CUDA devices CuPy
    sees).

    Example:
      >>> fx.devices()  # on a machine without a GPU
      [CpuDevice(id=0)]
    """
    if _check_backend(backend) or _default_is_gpu(backend):
        return _gpu_devices()
    return list(_build())


def local_devices(process_index: int | None = None, backend: str | None = None
                  ) -> list[Device]:
    """The devices of ``process_index`` (default: this process) of ``backend`` (as
    ``devices``)."""
    if _check_backend(backend) or _default_is_gpu(backend):
        return _gpu_devices()
    me = _layout["process_index"] if process_index is None else process_index
    return [d for d in _build() if d.process_index == me]


def device_count(backend: str | None = None) -> int:
    """How many devices all processes have together."""
    return len(devices(backend))


def local_device_count(backend: str | None = None) -> int:
    """How many devices this process has."""
    return len(local_devices(backend=backend))


def host_device() -> Device:
    """This process's first CPU device: where arrays without a placement live."""
    me = _layout["process_index"]
    for d in _build():
        if d.process_index == me:
            return d
    raise RuntimeError("fx: no CPU device for this process")  # pragma: no cover


# -- the default device ---------------------------------------------------------------
# _resolved: [device or None, the gpu_devices function it was resolved with]. A test
# that stands another gpu_devices in (tests/gpu's fake_gpu) is noticed on the next query.

_resolved: list = [None, None]
_MISSING = object()


def _platform_order() -> list[str] | None:
    value = config.jax_platforms
    value = value if value is not None else os.environ.get("FX_PLATFORMS")
    if not value:
        return None
    return [p.strip().lower() for p in str(value).split(",") if p.strip()]


def _resolve() -> Device:
    gpu_module = _gpu_module()
    want = config.jax_default_device
    if isinstance(want, Device) or hasattr(want, "platform"):
        found = want
    else:
        order = [str(want).lower()] if want is not None else _platform_order()
        if order is None:
            gpus = gpu_module.gpu_devices()
            found = gpus[0] if gpus else host_device()
        else:
            found = None
            for platform in order:
                if platform == "cpu":
                    found = host_device()
                elif platform in ("gpu", "cuda"):
                    gpus = gpu_module.gpu_devices()
                    found = gpus[0] if gpus else None
                if found is not None:
                    break
            if found is None:
                raise RuntimeError(f"fx: none of the platforms {order} (FX_PLATFORMS, "
                                   f"jax_platforms or jax_default_device) is available; "
                                   f"this machine has: cpu")
    _resolved[0], _resolved[1] = found, gpu_module.gpu_devices
    if found == host_device():
        core._eager_route = None  # the host is the default: eager calls take the fast path
    else:
        from lowering.gpu import eager
        core._eager_route = eager.apply
    return found


def _invalidate_default() -> None:
    """Forget the resolved default device (an option it depends on changed); the next
    eager call or query resolves it again."""
    _resolved[0] = None
    from fx import array
    core._eager_route = array._eager_first_call


class _DefaultDeviceContext:
    __slots__ = ("_device", "_saved")

    def __init__(self, device):
        self._device = device

    def __enter__(self):
        self._saved = config.jax_default_device
        config.update("jax_default_device", self._device)
        return self._device

    def __exit__(self, *exc):
        config.update("jax_default_device", self._saved)
        return False


def default_device(device=_MISSING):
    """The default device (no argument), or a context manager making ``device`` the
    default inside its block (JAX's ``jax.default_device(device)``).

    Args:
      device: a Device, ``"cpu"``/``"gpu"``, or None (back to the platform default).
    Returns:
      the default Device; with ``device``, a context manager.

    Example:
      >>> fx.default_device()          # the first GPU when one is present
      CpuDevice(id=0)
      >>> with fx.default_device(fx.devices("cpu")[0]):
      ...     x = fx.numpy.zeros(3)    # lands on the CPU
    """
    if device is not _MISSING:
        return _DefaultDeviceContext(device)
    found = _resolved[0]
    if found is None or _resolved[1] is not _gpu_module().gpu_devices:
        found = _resolve()
    return found


def default_backend() -> str:
    """The default device's platform: ``"gpu"`` when a GPU is the default, else ``"cpu"``."""
    return default_device().platform


def process_index() -> int:
    """This process's index (0 unless ``fx.distributed.initialize()`` ran under mpiexec)."""
    return _layout["process_index"]


def process_count() -> int:
    """How many processes run this program together (1 without ``fx.distributed``)."""
    return _layout["process_count"]


def device_put(x: Any, device=None):
    """The leaves of ``x`` as fx arrays placed on ``device`` (a Device or a Sharding),
    committed to it; without ``device``, host values go to the default device,
    uncommitted (arrays already on a device stay there), as in JAX.

    Example:
      >>> fx.device_put(fx.numpy.ones(3), fx.devices("cpu")[0]).devices()
      {CpuDevice(id=0)}
    """
    import numpy as np

    from fx import dtypes, tree_util
    from fx.array import Array
    if device is not None and not isinstance(device, Device) and \
            not hasattr(device, "device_set"):
        raise TypeError(f"device_put: device must be an fx Device or a Sharding, got "
                        f"{type(device).__name__}: {device!r}")
    committed = device is not None
    if device is None:
        default = default_device()
        device = None if default == host_device() else default
    elif not isinstance(device, Device) and len(device.device_set) == 1:
        only = next(iter(device.device_set))
        if getattr(only, "platform", "cpu") == "gpu":  # a one-GPU sharding: that GPU
            device = only
    runtime = _gpu_runtime(device)

    def put(leaf):
        if not committed and type(leaf) is Array and leaf._device is not None:
            return leaf  # already placed: stays (as jax.device_put(x) without a device)
        if runtime is not None:  # onto a GPU: the value becomes a device buffer
            if type(leaf) is Array and leaf._device == device:
                out = Array(leaf._value, leaf.weak_type, device=device)
            else:
                host = put_host(leaf)
                out = Array(runtime.asarray(host._value), host.weak_type, device=device)
            if not committed:
                out._committed = False
            return out
        return put_host(leaf)

    def put_host(leaf):
        if type(leaf) is Array:
            value = leaf._value
            source = _gpu_runtime(leaf._device)
            if source is not None:  # from a GPU back to the host
                value = source.to_host(value)
            elif value is None:
                from fx.array import _deleted_error
                raise _deleted_error()
            return Array(value, leaf.weak_type, device=device if runtime is None else None)
        if dtypes.is_python_scalar(leaf):
            return Array(np.asarray(leaf, dtypes.result_type(leaf)), not isinstance(leaf, bool),
                         device=device)
        value = np.asarray(leaf)
        return Array(value.astype(dtypes.canonicalize_dtype(value.dtype), copy=False), False,
                     device=device)

    return tree_util.tree_map(put, x)


def _place_default(array):
    """``array`` (a host fx Array just created by ``fx.numpy``) on the default device,
    uncommitted, when that is not the host; ``array`` itself otherwise (no cost then)."""
    if core._eager_route is None or array._device is not None:
        return array
    default = default_device()
    if default == host_device():
        return array
    return device_put(array, None)


def _gpu_runtime(device):
    """The runtime holding buffers of ``device`` when it is a GPU, else None."""
    if device is None or getattr(device, "platform", "cpu") != "gpu":
        return None
    return _gpu_module().runtime_for(device)
