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
