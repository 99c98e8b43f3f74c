"""``fx.Array``: an immutable view of a device buffer (a NumPy array on the CPU).

Invariants: ``_value`` is an ``np.ndarray`` of a canonical dtype (a CuPy array
when ``_device`` is a GPU) and is never written after construction; ``weak_type``
marks values that came from Python scalars. ``_device`` None means the host CPU
device, uncommitted; otherwise the array lives on ``_device`` and is committed to
it unless ``_committed`` was set False (JAX's rule: uncommitted values follow the
committed operands of a call, see ``lowering.gpu.eager``). Operators and methods are
installed by ``fx.numpy`` (as JAX does), so this module needs no numerics of its own.
"""
from __future__ import annotations

import numpy as np

from fx import core, dtypes
from fx.core import ShapedArray


_trace_now = core._current_trace.get


class Array:
    """An immutable n-dimensional array. Create one with ``fx.numpy.asarray``."""

    # _owned: the buffer was allocated by fx for this array (a compiled output), so a call
    # that donates the array may write its result into it. _committed is only ever set
    # (to False) for a placed array that is not committed; unset means committed.
    # _traced: made while a jaxpr was being staged (make_jaxpr, jit): a constant of the
    # staged program, which a jaxpr shows as a literal when 0-d; an array made eagerly
    # (also under eager grad/vmap) and closed over is a captured value, a constvar
    # (JAX's rule).
    __slots__ = ("_value", "weak_type", "_aval", "_device", "_owned", "_committed",
                 "_traced", "__weakref__")
    __array_priority__ = 100

    def __init__(self, value, weak_type: bool = False, device=None):
        self._value = value
        self.weak_type = weak_type
        self._aval = None
        self._device = device
        self._owned = False
        self._traced = _trace_now().staging

    # -- type ---------------------------------------------------------------
    @property
    def aval(self) -> ShapedArray:
        aval = self._aval
        if aval is None:
            v = self._value
            if v is None:
                raise RuntimeError("Array has been deleted (it was donated to a jitted call "
                                   "with donate_argnums, or .delete() was called)")
            aval = self._aval = ShapedArray(v.shape, v.dtype, self.weak_type)
        return aval

    shape = property(lambda self: self._value.shape)
    dtype = property(lambda self: self._value.dtype)
    ndim = property(lambda self: self._value.ndim)
    size = property(lambda self: self._value.size)
    nbytes = property(lambda self: self._value.nbytes)
    itemsize = property(lambda self: self._value.itemsize)

    # -- host conversion -------------------------------------------------------
    def _host_value(self):
        """The value as a NumPy array (copied back from a GPU where it lives there)."""
        d = self._device
        if d is not None and getattr(d, "platform", "cpu") == "gpu":
            v = self._value
            if v is None:
                raise _deleted_error()
            from lowering.gpu import device as gpu_device
            return gpu_device.runtime_for(d).to_host(v)
        return self._value

    @property
    def committed(self) -> bool:
        """Whether the array is committed to its device (``fx.device_put`` with a device,
        or computed from committed operands), as JAX's ``Array.committed``."""
        return self._device is not None and getattr(self, "_committed", True)

    def __array__(self, dtype=None, copy=None):
        v = self._host_value()
        if dtype is not None and np.dtype(dtype) != v.dtype:
            return v.astype(dtype)
        if copy:
            return v.copy()
        return v

    def item(self, *args):
        return self._host_value().item(*args)

    def tolist(self):
        return self._host_value().tolist()

    def __bool__(self):
        return bool(self._value if self._device is None else self._host_value())

    def __int__(self):
        return int(self._value if self._device is None else self._host_value())

    def __float__(self):
        return float(self._value if self._device is None else self._host_value())

    def __complex__(self):
        return complex(self._value if self._device is None else self._host_value())

    def __index__(self):
        if not dtypes.is_integer(self.dtype) and not dtypes.is_bool(self.dtype):
            raise TypeError(f"only integer scalar arrays can be converted to a scalar index, "
                            f"got dtype {self.dtype.name}")
        return (self._value if self._device is None else self._host_value()).__index__()

    def __len__(self):
        if not self._value.ndim:
            raise TypeError("len() of unsized object")
        return self._value.shape[0]

    def __iter__(self):
        if not self._value.ndim:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self._value.shape[0]))

    def __hash__(self):
        raise TypeError("unhashable type: 'fx.Array'. Use a tuple or x.item() for a key.")

    def __setitem__(self, idx, value):
        raise TypeError(
            "'fx.Array' object does not support item assignment: fx arrays are immutable. "
            "Use `x = x.at[idx].set(value)` instead (or .add, .mul, .min, .max).")

    def __reduce__(self):  # a pickled array comes back on the host
        return (_reconstruct, (self._host_value(), self.weak_type))

    def __format__(self, spec):
        if self._value.ndim == 0:
            return format(self._host_value()[()], spec)
        return format(str(self), spec)

    # -- DLPack ----------------------------------------------------------------
    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """Export the buffer through DLPack, zero-copy (for DLPack >= 1.0 consumers on
        the CPU; a GPU buffer is CuPy's, made ready on the consumer's ``stream``)."""
        from fx import dlpack
        if self._device is not None and getattr(self._device, "platform", "cpu") == "gpu":
            return dlpack._export_gpu(self, stream, max_version, dl_device, copy)
        return dlpack._export(self._value, stream, max_version, dl_device, copy)

    def __dlpack_device__(self) -> tuple:
        """``(device type, device id)``: kDLCPU = 1 for host arrays, kDLCUDA = 2 and the
        CUDA ordinal for arrays on a GPU."""
        d = self._device
        if d is not None and getattr(d, "platform", "cpu") == "gpu":
            return (2, d.id)
        return (1, 0)

    # -- device ----------------------------------------------------------------
    def block_until_ready(self) -> Array:
        """Wait until the array's value is computed (on a GPU: its device's stream has run
        every launch queued so far); returns the array."""
        d = self._device
        if d is not None and getattr(d, "platform", "cpu") == "gpu":
            if self._value is None:
                raise _deleted_error()
            from lowering.gpu import device as gpu_device
            gpu_device.runtime_for(d).synchronize()
        return self

    def copy_to_host_async(self) -> None:
        return None

    is_fully_addressable = property(lambda self: True)

    def devices(self) -> set:
        """The set of devices holding this array."""
        device_set = getattr(self._device, "device_set", None)
        if device_set is not None:
            return set(device_set)
        return {self._device or _devices_module().host_device()}

    @property
    def device(self):
        """The device holding the array (the host CPU device unless it was placed)."""
        return self._device or _devices_module().host_device()

    @property
    def sharding(self):
        from fx.sharding import SingleDeviceSharding
        if getattr(self._device, "device_set", None) is not None:
            return self._device
        return SingleDeviceSharding(self.device)

    def delete(self) -> None:
        self._value = None

    def tobytes(self, order: str = "C") -> bytes:
        """The raw bytes of the array's elements (NumPy's ``tobytes``)."""
        return self._host_value().tobytes(order)

    def on_device_size_in_bytes(self) -> int:
        """The bytes the array's buffer occupies."""
        return self.nbytes

    def unsafe_buffer_pointer(self) -> int:
        """The address of the array's buffer (host arrays)."""
        d = self._device
        if d is not None and getattr(d, "platform", "cpu") == "gpu":
            return int(self._value.data.ptr)
        return self._value.ctypes.data

    def is_ready(self) -> bool:
        """Whether the value is computed (fx's host arrays always are)."""
        return True

    def clone(self) -> Array:
        """A copy of the array."""
        return self.copy()

    @property
    def is_fully_replicated(self) -> bool:
        """Whether every device holding the array holds all of it."""
        replicated = self.sharding.is_fully_replicated
        return bool(replicated() if callable(replicated) else replicated)

    @property
    def addressable_shards(self) -> list:
        """The ``Shard`` of the array on each device holding it (as ``jax.Array``)."""
        from fx.sharding import shards_of
        return shards_of(self)

    global_shards = addressable_shards

    def addressable_data(self, index: int) -> Array:
        """The data of the ``index``-th addressable shard."""
        return self.addressable_shards[index].data

    def is_deleted(self) -> bool:
        return self._value is None

    # -- printing --------------------------------------------------------------
    def __repr__(self):
        v = self._host_value()
        dtype_str = f"dtype={v.dtype.name}" + (", weak_type=True" if self.weak_type else "")
        prefix = "Array("
        line_width = np.get_printoptions()["linewidth"]
        if v.size == 0:
            body = f"[], shape={v.shape}"
        else:
            body = np.array2string(v, prefix=prefix, suffix=",", separator=", ",
                                   max_line_width=line_width)
        # JAX's layout: the dtype follows the last line unless that would overflow the
        # line width, in which case it is set off by the prefix's width of spaces
        last_line_len = len(body) - body.rfind("\n") + 1
        sep = " " * len(prefix) if last_line_len + len(dtype_str) + 2 > line_width else " "
        return f"{prefix}{body},{sep}{dtype_str})"

    def __str__(self):
        return str(self._host_value())


# ---------------------------------------------------------------------------
# Methods JAX's Array has beyond NumPy's operator set (shared with tracers where JAX's
# tracers have them too). Numerics come from fx.numpy / fx.lax, imported on first use.


def _view(self, dtype=None, type=None):
    """The array's bits viewed as ``dtype`` (JAX's ``Array.view``): the same shape when the
    bit widths agree, else the last axis scaled by the width ratio.

    Args:
      dtype: the new dtype (canonicalized); None returns the array itself.
      type: not supported (NumPy's subclass argument).

    Returns:
      An array of ``dtype`` (a copy or not, unspecified).

    Example:
      >>> fx.numpy.zeros((2, 3), fx.numpy.int16).view(fx.numpy.int8).shape
      (2, 6)
    """
    from fx import lax, numpy as fnp
    if type is not None:
        raise NotImplementedError("`type` argument of array.view() is not supported.")
    if dtype is None:
        return self
    dtype = dtypes.canonicalize_dtype(dtype)
    bits_in, bits_out = dtypes.itemsize_bits(self.dtype), dtypes.itemsize_bits(dtype)
    if self.ndim == 0:
        if bits_in != bits_out:
            raise ValueError("view() of a 0d array is only supported if the itemsize is "
                             "unchanged.")
        return _view(fnp.expand_dims(self, 0), dtype).squeeze()
    if (self.shape[-1] * bits_in) % bits_out:
        raise ValueError("When changing to a larger dtype, its size must be a divisor of "
                         "the total size in bytes of the last axis of the array.")
    if self.dtype == dtype:
        return self
    # bitcast_convert_type takes neither booleans nor complex numbers: go through their
    # byte or (real, imag) representation
    if self.dtype == dtypes.bool_:
        return _view(self.astype(np.uint8), dtype)
    if dtypes.is_complex(self.dtype):
        parts = fnp.stack([self.real, self.imag], axis=-1)
        return _view(parts.reshape(*self.shape[:-1], 2 * self.shape[-1]), dtype)
    if dtype == dtypes.bool_:
        return _view(self, np.uint8).astype(bool)
    if dtypes.is_complex(dtype):
        parts = _view(self, dtypes.finfo(dtype).dtype).astype(dtype)
        return parts[..., 0::2] + 1j * parts[..., 1::2]
    if bits_in < bits_out:
        factor = bits_out // bits_in
        grouped = self.reshape(*self.shape[:-1], self.shape[-1] // factor, factor)
        return lax.bitcast_convert_type(grouped, dtype)
    out = lax.bitcast_convert_type(self, dtype)
    if bits_in > bits_out:
        out = out.reshape(*out.shape[:-2], out.shape[-2] * out.shape[-1])
    return out


def _round_operator(self, ndigits=None):
    """``round(x)``: rounded half to even, an integer array when ``ndigits`` is None (as
    ``round`` of a Python float); ``round(x, n)`` keeps the dtype."""
    from fx import numpy as fnp
    out = fnp.round(self, decimals=ndigits or 0)
    return out.astype(int) if ndigits is None else out


def _contains(self, other):
    """``other in x``: whether any element of the 1-d array equals the scalar ``other``."""
    from fx import numpy as fnp
    if other is None or isinstance(other, str):
        raise TypeError(f"Array.__contains__: unsupported operand type {type(other)}.")
    query = fnp.asarray(other)
    if self.ndim != 1:
        raise ValueError("Array.__contains__: search array must be one-dimensional, got "
                         f"arr.shape={self.shape}.")
    if query.ndim != 0:
        raise ValueError(f"Array.__contains__: query value must be a scalar, got "
                         f"query.shape={query.shape}")
    return fnp.any(self == query)


def _copy(self):
    return self.copy()


def _deepcopy(self, memo):
    return self.copy()


def _hex(self):
    return hex(self.__index__())


def _oct(self):
    return oct(self.__index__())


def _flat(self):
    raise NotImplementedError("fx arrays do not implement the arr.flat property: consider "
                              "arr.flatten() instead.")


def _byteswap(self, inplace: bool = False):
    """The array with the bytes of each element reversed (``inplace`` must be False)."""
    from fx import lax
    if inplace:
        raise ValueError("fx arrays are immutable: byteswap(inplace=True) is not supported")
    if self.dtype.itemsize == 1 or self.dtype == dtypes.bool_:
        return self
    if dtypes.is_complex(self.dtype):  # each component on its own, as NumPy does
        return _byteswap(self.real) + 1j * _byteswap(self.imag)
    as_bytes = lax.bitcast_convert_type(self, np.uint8)
    return lax.bitcast_convert_type(lax.rev(as_bytes, (as_bytes.ndim - 1,)), self.dtype)


def _to_device(self, device, *, stream=None):
    """The array placed on ``device`` (``fx.device_put``)."""
    if stream is not None:
        raise NotImplementedError("to_device: the stream argument is not supported")
    return _devices_module().device_put(self, device)


for _cls in (Array, core.Tracer):
    _cls.view = _view
    _cls.__round__ = _round_operator
    _cls.__contains__ = _contains
    _cls.__copy__ = _copy
    _cls.__deepcopy__ = _deepcopy
    _cls.__hex__ = _hex
    _cls.__oct__ = _oct
    _cls.flat = property(_flat)
    _cls.byteswap = _byteswap
    _cls.to_device = _to_device
del _cls


def _deleted_error() -> RuntimeError:
    return RuntimeError("Array has been deleted (it was donated to a jitted call with "
                        "donate_argnums, or .delete() was called)")


def _devices_module():
    import importlib
    return importlib.import_module("fx.devices")


def _reconstruct(value, weak_type):
    return Array(value, weak_type)


def _wrap(value, weak_type: bool = False) -> Array:
    if type(value) is not np.ndarray:
        value = np.asarray(value)
    return Array(value, weak_type)


def _eager_apply(primitive, args, params):
    """A primitive applied eagerly to an operand placed on a device (see
    ``lowering.gpu.eager``; imported on first use)."""
    from lowering.gpu import eager
    core._eager_apply = eager.apply
    return eager.apply(primitive, args, params)


def _eager_first_call(primitive, args, params):
    """The first eager call: resolve the default device (which sets ``core._eager_route``
    to None when it is the host CPU), then run the call."""
    _devices_module().default_device()
    if core._eager_route is None:
        return core.eval_trace.process_primitive(primitive, args, params)
    return core._eager_apply(primitive, args, params)


core._array_type[0] = Array
core._wrap_array[0] = _wrap
core._eager_apply = _eager_apply
core._eager_route = _eager_first_call
