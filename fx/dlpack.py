"""DLPack interchange for fx arrays: ``fx.dlpack.from_dlpack`` imports any object
that implements the DLPack protocol (NumPy, PyTorch, CuPy, JAX, ...), and
``fx.Array.__dlpack__``/``__dlpack_device__`` export fx arrays (so
``np.from_dlpack(x)``, ``cupy.from_dlpack(x)`` and ``torch.from_dlpack(x)`` work).

Invariants: a buffer crosses without a copy whenever its dtype is already canonical
and it is C-contiguous; otherwise (64-bit data with x64 disabled, strided views)
exactly one copy is made, on the buffer's device. CPU buffers are imported read-only,
since fx arrays are immutable; the producer must not write to any imported buffer
afterwards (as in JAX). GPU buffers (kDLCUDA) are CuPy's; streams follow the DLPack
spec: an importer passes its device stream so the producer orders its work before
it, and an export makes fx's stream's work visible on the consumer's ``stream``
(None: the legacy default stream, -1: no synchronization, 0 is not allowed).
"""
from __future__ import annotations

import contextlib

import numpy as np

from fx import dtypes

__all__ = ["from_dlpack", "is_supported_dtype", "SUPPORTED_DTYPES"]

# DLPack device types: kDLCPU, kDLCUDA, kDLCUDAHost (pinned host memory)
_CPU, _CUDA, _CUDA_HOST = 1, 2, 3

SUPPORTED_DTYPES = tuple(np.dtype(t) for t in (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
    np.uint64, np.float16, np.float32, np.float64, np.complex64, np.complex128)) + (
    (dtypes.bfloat16,) if dtypes.bfloat16 is not None else ())


def is_supported_dtype(dtype) -> bool:
    """Whether arrays of ``dtype`` can cross the DLPack boundary.

    Example:
      >>> fx.dlpack.is_supported_dtype(fx.numpy.float32)
      True
    """
    try:
        return np.dtype(dtype) in SUPPORTED_DTYPES
    except TypeError:
        return False


class _Capsule:
    """Adapts a bare DLPack capsule (the legacy interface) to the protocol."""

    def __init__(self, capsule):
        self._capsule = capsule

    def __dlpack__(self, **kwargs):
        return self._capsule

    def __dlpack_device__(self):
        return (_CPU, 0)


def from_dlpack(external_array, device=None, copy: bool | None = None):
    """An fx array sharing the memory of ``external_array`` (any DLPack producer).

    Args:
      external_array: an object with ``__dlpack__``/``__dlpack_device__`` (or a legacy
        DLPack capsule).
      device: the target device: None keeps the buffer where it is (a CUDA buffer
        becomes an array on that GPU, without a copy); a CPU device brings a GPU buffer
        to the host; a GPU device takes a host buffer there.
      copy: ``True`` always copies, ``False`` never copies (raising ``BufferError`` when
        a copy is needed, e.g. to narrow 64-bit data), ``None`` copies only if needed.

    Returns:
      An ``fx.Array``.

    Example:
      >>> x = np.arange(3.0, dtype=np.float32)
      >>> y = fx.dlpack.from_dlpack(x)
      >>> np.shares_memory(np.asarray(y), x)
      True
    """
    from fx.array import Array
    if type(external_array).__name__ == "PyCapsule":
        external_array = _Capsule(external_array)
    if not hasattr(external_array, "__dlpack__"):
        raise TypeError(f"fx.dlpack.from_dlpack: expected an object implementing the DLPack "
                        f"protocol (__dlpack__), got {type(external_array).__name__}")
    device_type, device_id = tuple(external_array.__dlpack_device__())[:2] \
        if hasattr(external_array, "__dlpack_device__") else (_CPU, 0)
    wants_gpu = getattr(device, "platform", None) == "gpu"
    if device_type == _CUDA and (wants_gpu or _usable_gpu(device_id)):
        if device is None or wants_gpu:  # stays on its GPU, zero-copy
            return _import_gpu(external_array, device_id, device, copy)
        if copy is False:
            raise BufferError("fx.dlpack.from_dlpack: the buffer lives on a GPU; bringing "
                              "it to the CPU device needs a copy, but copy=False")
        return Array(np.asarray(_import_gpu(external_array, device_id, None, None)))
    if wants_gpu:  # a host buffer onto a GPU
        from fx.devices import device_put
        return device_put(from_dlpack(external_array, None, copy), device)
    if device_type not in (_CPU, _CUDA_HOST):
        if copy is False:
            raise BufferError(f"fx.dlpack.from_dlpack: the buffer lives on DLPack device type "
                              f"{device_type}, not the CPU; a copy to the host is needed")
        host = external_array.get() if hasattr(external_array, "get") else \
            external_array.__array__() if hasattr(external_array, "__array__") else None
        if host is None:
            raise BufferError(f"fx.dlpack.from_dlpack: cannot bring a buffer on DLPack "
                              f"device type {device_type} to the host")
        value = np.asarray(host)
    else:
        kwargs = {} if copy is None else {"copy": bool(copy)}
        try:
            value = np.from_dlpack(external_array, **kwargs)
        except TypeError:  # a producer without the copy= keyword
            value = np.from_dlpack(external_array)
            if copy:
                value = value.copy()
    if not is_supported_dtype(value.dtype):
        raise TypeError(f"fx.dlpack.from_dlpack: unsupported dtype {value.dtype}")
    target = dtypes.canonicalize_dtype(value.dtype)
    needs_copy = target != value.dtype or not value.flags.c_contiguous
    if needs_copy:
        if copy is False:
            raise BufferError(f"fx.dlpack.from_dlpack: importing {value.dtype} data with shape "
                              f"{value.shape} needs a copy (to {target.name}, C-contiguous), "
                              f"but copy=False")
        value = np.ascontiguousarray(value.astype(target, copy=False))
    elif value.flags.writeable:
        value = value.view()
        value.flags.writeable = False
    return Array(value)


def _usable_gpu(device_id) -> bool:
    """Whether fx can use CUDA device ``device_id``."""
    from lowering.gpu import device as gpu_device
    return any(d.id == device_id for d in gpu_device.gpu_devices())


def _on_stream(runtime):
    """A context with the runtime's device and stream current (for CuPy's DLPack calls,
    which synchronize against the current stream); nothing for a runtime without them."""
    stack = contextlib.ExitStack()
    for name in ("device", "stream"):
        ctx = getattr(runtime, name, None)
        if ctx is not None:
            stack.enter_context(ctx)
    return stack


def _import_gpu(external_array, device_id: int, device, copy):
    """A CUDA buffer as an fx Array on its GPU (zero-copy through ``cupy.from_dlpack``;
    the producer is given fx's stream to order its work before fx's)."""
    from fx.array import Array
    from lowering.gpu import device as gpu_device
    found = [d for d in gpu_device.gpu_devices() if d.id == device_id]
    if not found:
        raise BufferError(f"fx.dlpack.from_dlpack: the buffer lives on CUDA device "
                          f"{device_id}, which fx cannot use (CuPy with a CUDA driver is "
                          f"needed; FX_PLATFORMS may exclude 'gpu')")
    if device is not None and device != found[0]:
        raise BufferError(f"fx.dlpack.from_dlpack: the buffer lives on {found[0]}, not on "
                          f"the requested {device}; import it, then fx.device_put it there")
    runtime = gpu_device.runtime_for(found[0])
    with _on_stream(runtime):
        value = runtime.cupy.from_dlpack(external_array)
        if not is_supported_dtype(value.dtype):
            raise TypeError(f"fx.dlpack.from_dlpack: unsupported dtype {value.dtype}")
        target = dtypes.canonicalize_dtype(value.dtype)
        needs_copy = target != value.dtype or not value.flags.c_contiguous
        if needs_copy and copy is False:
            raise BufferError(f"fx.dlpack.from_dlpack: importing {value.dtype} data with "
                              f"shape {value.shape} needs a copy (to {target.name}, "
                              f"C-contiguous), but copy=False")
        if needs_copy:
            value = runtime.cupy.ascontiguousarray(value.astype(target, copy=False))
        elif copy:
            value = value.copy()
    return Array(value, False, device=found[0])


def _export_gpu(array, stream=None, max_version=None, dl_device=None, copy=None):
    """``array.__dlpack__`` for an fx array on a GPU: CuPy's own export of the buffer
    (zero-copy), with fx's stream current so it is ordered before ``stream``."""
    device = array._device
    if stream == 0:
        raise BufferError("DLPack: stream 0 is not allowed for CUDA buffers (ambiguous); "
                          "pass 1 (legacy default stream), 2 (per-thread default stream), "
                          "a stream handle, or -1 (no synchronization)")
    if dl_device is not None:
        dl_device = tuple(dl_device)
        if dl_device[0] == _CPU:  # the consumer wants host memory: one copy to the host
            if copy is False:
                raise BufferError(f"the array lives on {device}; exporting it to the CPU "
                                  f"needs a copy, but copy=False")
            return _export(array._host_value(), None, max_version, None, None)
        if dl_device != (_CUDA, device.id):
            raise BufferError(f"the array lives on {device} (DLPack device {(_CUDA, device.id)}"
                              f"); cannot export it to device {dl_device}")
    from lowering.gpu import device as gpu_device
    runtime = gpu_device.runtime_for(device)
    value = array._value
    if value is None:
        from fx.array import _deleted_error
        raise _deleted_error()
    kwargs = {k: v for k, v in (("max_version", max_version), ("dl_device", dl_device),
                                ("copy", copy)) if v is not None}
    with _on_stream(runtime):
        try:
            return value.__dlpack__(stream=stream, **kwargs)
        except TypeError:  # a CuPy without the DLPack 1.0 keywords
            if kwargs.get("copy"):
                value = value.copy()
            return value.__dlpack__(stream=stream)


def _export(value: np.ndarray, stream=None, max_version=None, dl_device=None, copy=None):
    """``value.__dlpack__`` for an fx buffer; read-only buffers need DLPack >= 1.0 to be
    shared, so an older consumer gets a copy (unless ``copy=False``)."""
    if stream is not None and stream != -1:
        raise BufferError(f"fx arrays live on the CPU; stream must be None, got {stream!r}")
    if dl_device is not None and tuple(dl_device)[0] != _CPU:
        raise BufferError(f"fx arrays live on the CPU (DLPack device type {_CPU}); cannot "
                          f"export to device {tuple(dl_device)}")
    kwargs = {}
    if max_version is not None:
        kwargs["max_version"] = max_version
    if copy is not None:
        kwargs["copy"] = copy
    try:
        return value.__dlpack__(**kwargs)
    except BufferError:
        if copy is False or value.flags.writeable:
            raise
        kwargs.pop("copy", None)
        return value.copy().__dlpack__(**kwargs)
