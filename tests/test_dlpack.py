"""DLPack interchange: ``fx.dlpack.from_dlpack`` (zero-copy import of CPU buffers, with
exactly one copy when a dtype must be narrowed or strides compacted),
``fx.Array.__dlpack__``/``__dlpack_device__`` (so ``np.from_dlpack(x)`` and other
consumers share fx's buffer), round trips over every supported dtype, and JAX as a
producer and consumer where installed.
"""
from __future__ import annotations

import numpy as np
import pytest

import fx
import fx.dlpack
import fx.numpy as fnp

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.uint8, np.uint16, np.uint32, np.float16,
          np.float32, np.complex64]


@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_to_fx_is_zero_copy(dtype):
    x = (np.arange(6) % 3).astype(dtype).reshape(2, 3)
    y = fx.dlpack.from_dlpack(x)
    assert isinstance(y, fx.Array) and y.dtype == dtype and y.shape == (2, 3)
    assert np.shares_memory(np.asarray(y), x)
    np.testing.assert_array_equal(np.asarray(y), x)
    assert fnp.from_dlpack is fx.dlpack.from_dlpack


@pytest.mark.parametrize("dtype", DTYPES)
def test_fx_to_numpy_is_zero_copy(dtype):
    x = fnp.asarray((np.arange(6) % 3).astype(dtype))
    assert x.__dlpack_device__() == (1, 0)
    y = np.from_dlpack(x)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, np.asarray(x))
    assert np.shares_memory(y, np.asarray(x))
    z = fx.dlpack.from_dlpack(x)  # fx -> fx
    np.testing.assert_array_equal(np.asarray(z), np.asarray(x))


def test_copies_only_when_needed():
    x64 = np.arange(4, dtype=np.int64)
    y = fx.dlpack.from_dlpack(x64)  # narrowed to int32 without x64
    assert y.dtype == np.int32 and not np.shares_memory(np.asarray(y), x64)
    with pytest.raises(BufferError, match="copy"):
        fx.dlpack.from_dlpack(x64, copy=False)
    strided = np.arange(10, dtype=np.float32)[::2]
    y = fx.dlpack.from_dlpack(strided)
    np.testing.assert_array_equal(np.asarray(y), strided)
    assert np.asarray(y).flags.c_contiguous
    x = np.arange(3, dtype=np.float32)
    y = fx.dlpack.from_dlpack(x, copy=True)
    assert not np.shares_memory(np.asarray(y), x)
    with fx.enable_x64(True):
        y = fx.dlpack.from_dlpack(x64)
        assert y.dtype == np.int64 and np.shares_memory(np.asarray(y), x64)


def test_imported_buffers_are_read_only_views():
    x = np.arange(3, dtype=np.float32)
    y = fx.dlpack.from_dlpack(x)
    assert not np.asarray(y).flags.writeable
    assert x.flags.writeable  # the producer's own array is untouched


def test_legacy_consumers_and_capsules():
    x = fnp.arange(4.0)
    capsule = x.__dlpack__()  # an old-style request (no max_version)
    y = fx.dlpack.from_dlpack(capsule)
    np.testing.assert_array_equal(np.asarray(y), np.arange(4.0))
    capsule = x.__dlpack__(max_version=(1, 0))
    assert type(capsule).__name__ == "PyCapsule"
    with pytest.raises(BufferError, match="CPU"):
        x.__dlpack__(dl_device=(2, 0))
    with pytest.raises(TypeError, match="DLPack"):
        fx.dlpack.from_dlpack([1, 2, 3])


def test_supported_dtypes_and_results_in_computation():
    assert fx.dlpack.is_supported_dtype(fnp.float32)
    assert fx.dlpack.is_supported_dtype(np.dtype("bfloat16"))
    assert not fx.dlpack.is_supported_dtype(np.dtype("U3"))
    assert not fx.dlpack.is_supported_dtype("not a dtype")
    y = fx.dlpack.from_dlpack(np.arange(3, dtype=np.float32))
    np.testing.assert_allclose(np.asarray(fx.jit(lambda v: v * 2)(y)), [0.0, 2.0, 4.0])
    np.testing.assert_allclose(np.asarray(fx.grad(lambda v: (v * v).sum())(y)), [0, 2, 4])
    out = fx.jit(lambda v: v + 1)(fnp.ones(3))
    np.testing.assert_array_equal(np.from_dlpack(out), [2.0, 2.0, 2.0])


def test_jax_interop():
    jax = pytest.importorskip("jax")
    a = jax.numpy.arange(4, dtype=jax.numpy.float32)
    y = fx.dlpack.from_dlpack(a)
    np.testing.assert_array_equal(np.asarray(y), np.arange(4, dtype=np.float32))
    b = jax.dlpack.from_dlpack(fnp.arange(3.0))
    np.testing.assert_array_equal(np.asarray(b), np.arange(3.0, dtype=np.float32))


# ---------------------------------------------------------------------------
# GPU buffers (kDLCUDA). Without a GPU the dispatch is checked with stand-ins: a
# runtime whose device and stream are context managers that record being current,
# and buffers whose __dlpack__ records its arguments. Marked tests use CuPy (and
# torch, where installed) on a real device.

from types import SimpleNamespace  # noqa: E402

from lowering.gpu import device as gpu_device  # noqa: E402
from lowering.gpu.device import GpuDevice  # noqa: E402


class _Current:
    def __init__(self, log, name):
        self.log, self.name = log, name

    def __enter__(self):
        self.log.append(self.name)

    def __exit__(self, *exc):
        self.log.remove(self.name)


class _FakeCudaRuntime:
    """A CuPy runtime stand-in: NumPy buffers, recorded device/stream contexts."""

    def __init__(self):
        self.current: list = []
        self.device, self.stream = _Current(self.current, "device"), _Current(self.current,
                                                                            "stream")
        self.imports: list = []
        self.cupy = SimpleNamespace(from_dlpack=self._from_dlpack,
                                    ascontiguousarray=np.ascontiguousarray)

    def _from_dlpack(self, producer):
        self.imports.append(list(self.current))
        return producer.buffer

    def to_host(self, a):
        return np.asarray(a)

    def asarray(self, a):
        return np.array(a)

    def is_device_array(self, a):
        return type(a) is np.ndarray


class _CudaBuffer:
    """A buffer on CUDA device ``ordinal``: a producer, or an fx array's value."""

    def __init__(self, buffer, ordinal=0, runtime=None):
        self.buffer, self.ordinal, self.runtime, self.calls = buffer, ordinal, runtime, []
        self.shape, self.dtype, self.ndim = buffer.shape, buffer.dtype, buffer.ndim

    def __dlpack_device__(self):
        return (2, self.ordinal)

    def __dlpack__(self, stream=None, **kwargs):
        current = list(self.runtime.current) if self.runtime else []
        self.calls.append((stream, kwargs, current))
        return self.buffer.__dlpack__()

    def __array__(self, dtype=None, copy=None):
        return self.buffer


@pytest.fixture
def fake_cuda(monkeypatch):
    runtime = _FakeCudaRuntime()
    dev = GpuDevice(0, "stand-in", "9.0")
    monkeypatch.setattr(gpu_device, "gpu_devices", lambda: [dev])
    monkeypatch.setattr(gpu_device, "runtime_for", lambda d: runtime)
    return dev, runtime


def test_gpu_array_export_dispatch(fake_cuda):
    dev, runtime = fake_cuda
    value = _CudaBuffer(np.arange(4, dtype=np.float32), runtime=runtime)
    x = fx.Array(value, False, device=dev)
    assert x.__dlpack_device__() == (2, 0)
    x.__dlpack__(stream=7, max_version=(1, 0))
    # CuPy's own export, with fx's device and stream current (CuPy orders the current
    # stream before the consumer's stream 7)
    assert value.calls == [(7, {"max_version": (1, 0)}, ["device", "stream"])]
    x.__dlpack__()
    assert value.calls[-1][0] is None  # None: the legacy default stream, per the spec
    with pytest.raises(BufferError, match="stream 0 is not allowed"):
        x.__dlpack__(stream=0)
    with pytest.raises(BufferError, match="cannot export it to device"):
        x.__dlpack__(dl_device=(2, 1))
    with pytest.raises(BufferError, match="copy=False"):
        x.__dlpack__(dl_device=(1, 0), copy=False)
    host = fx.dlpack.from_dlpack(x.__dlpack__(dl_device=(1, 0)))  # a host copy
    np.testing.assert_array_equal(np.asarray(host), np.arange(4))


def test_cuda_producer_import_dispatch(fake_cuda):
    dev, runtime = fake_cuda
    buf = np.arange(6, dtype=np.float32).reshape(2, 3)
    y = fx.dlpack.from_dlpack(_CudaBuffer(buf))
    assert y.devices() == {dev} and y.committed and y._value is buf  # zero-copy
    assert runtime.imports == [["device", "stream"]]  # the producer sees fx's stream
    wide = fx.dlpack.from_dlpack(_CudaBuffer(np.arange(3, dtype=np.float64)))
    assert wide.dtype == np.float32 and wide.devices() == {dev}  # one copy, narrowed
    with pytest.raises(BufferError, match="copy=False"):
        fx.dlpack.from_dlpack(_CudaBuffer(np.arange(3, dtype=np.float64)), copy=False)
    assert fx.dlpack.from_dlpack(_CudaBuffer(buf), copy=True)._value is not buf
    cpu = fx.devices("cpu")[0]
    host = fx.dlpack.from_dlpack(_CudaBuffer(buf), device=cpu)
    assert host._device is None
    np.testing.assert_array_equal(np.asarray(host), buf)
    with pytest.raises(BufferError, match="copy=False"):
        fx.dlpack.from_dlpack(_CudaBuffer(buf), device=cpu, copy=False)
    with pytest.raises(BufferError, match="CUDA device 3"):
        fx.dlpack.from_dlpack(_CudaBuffer(buf, ordinal=3), device=dev)
    on_gpu = fx.dlpack.from_dlpack(buf, device=dev)  # a host buffer onto the GPU
    assert on_gpu.devices() == {dev} and on_gpu.committed


def test_cuda_producer_without_a_usable_gpu_copies_to_the_host(monkeypatch):
    monkeypatch.setattr(gpu_device, "gpu_devices", lambda: [])
    buf = np.arange(3, dtype=np.float32)
    producer = _CudaBuffer(buf)
    producer.get = lambda: buf.copy()
    y = fx.dlpack.from_dlpack(producer)
    assert y._device is None
    np.testing.assert_array_equal(np.asarray(y), buf)


def _real_gpu():
    if not gpu_device.gpu_available():
        pytest.skip("needs an NVIDIA GPU with CuPy and a CUDA driver")
    import cupy
    return cupy, fx.devices("gpu")[0]


@pytest.mark.gpu
def test_cupy_round_trip_is_zero_copy():
    cupy, dev = _real_gpu()
    c = cupy.arange(12, dtype=cupy.float32).reshape(3, 4)
    x = fx.dlpack.from_dlpack(c)
    assert x.devices() == {dev} and x.__dlpack_device__() == (2, dev.id)
    assert x._value.data.ptr == c.data.ptr
    y = fx.numpy.sin(x) * 2
    back = cupy.from_dlpack(y)
    assert back.data.ptr == y._value.data.ptr
    np.testing.assert_allclose(cupy.asnumpy(back), np.sin(np.arange(12.0)).reshape(3, 4) * 2,
                               rtol=1e-6)


@pytest.mark.gpu
def test_torch_cuda_round_trip():
    _real_gpu()
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    t = torch.arange(8, dtype=torch.float32, device="cuda")
    x = fx.dlpack.from_dlpack(t)
    assert x._value.data.ptr == t.data_ptr()
    back = torch.from_dlpack(x * 3)
    assert back.device.type == "cuda"
    np.testing.assert_array_equal(back.cpu().numpy(), np.arange(8) * 3)
