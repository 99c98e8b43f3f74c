"""DLPack interchange for fx arrays: ``fx.dlpack.from_dlpack`` imports any object
that implements the DLPack protocol (NumPy, PyTorch, CuPy-on-host, JAX, ...), and
``fx.Array.__dlpack__``/``__dlpack_device__`` export fx arrays (so
``np.from_dlpack(x)`` works).

Invariants: a CPU buffer crosses without a copy whenever its dtype is already
canonical and it is C-contiguous; otherwise (64-bit data with x64 disabled, strided
views) exactly one copy is made. Imported buffers are viewed read-only, since fx
arrays are immutable; the producer must not write to them afterwards (as in JAX).
"""
from __future__ import annotations

import numpy as np

from fx import dtypes

__all__ = ["from_dlpack", "is_supported_dtype", "SUPPORTED_DTYPES"]

_CPU, _CUDA_HOST = 1, 3  # DLPack device types: kDLCPU, kDLCUDAHost (pinned host memory)

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
      device: the target device (fx keeps arrays on the host CPU device).
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
    device_type = external_array.__dlpack_device__()[0] \
        if hasattr(external_array, "__dlpack_device__") else _CPU
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
