"""GPU devices, the device-code cache, and runs on a real GPU.

Tests marked ``gpu`` need CuPy with a CUDA driver and device and skip cleanly
without them; the others (discovery without a GPU, the cubin cache through NVRTC)
run anywhere their tools are installed.
"""
from __future__ import annotations

import contextlib

import numpy as np
import pytest

import fx
import fx.numpy as jnp
from fx import lax
from fx.devices import Device
from fx.interpreters.jit import Executable as Reference
from lowering.gpu import codegen, device, nvrtc
from lowering.gpu import compile as gpu_compile

RNG = np.random.default_rng(1)


def test_discovery_never_raises(monkeypatch):
    found = device.gpu_devices()
    assert isinstance(found, list)
    monkeypatch.setattr(fx.config, "jax_platforms", "cpu", raising=False)
    assert device.gpu_devices() == []


def test_gpu_device_is_an_fx_device():
    d = device.GpuDevice(1, "NVIDIA H100", "9.0")
    assert isinstance(d, Device)
    assert d.platform == "gpu" and repr(d) == "CudaDevice(id=1)"
    assert d == device.GpuDevice(1) and d != Device(1)
    assert len({d, device.GpuDevice(1)}) == 1


def test_memory_fraction_is_checked(monkeypatch):
    from lowering.gpu import runtime
    monkeypatch.setenv("FX_GPU_MEMORY_FRACTION", "0.25")
    assert runtime.memory_fraction() == 0.25
    monkeypatch.setenv("FX_GPU_MEMORY_FRACTION", "2")
    with pytest.raises(ValueError, match="FX_GPU_MEMORY_FRACTION"):
        runtime.memory_fraction()


def test_cubin_disk_cache(tmp_path, monkeypatch):
    if not nvrtc.available():
        pytest.skip("NVRTC (CuPy + nvidia-cuda-nvrtc) is not installed")
    from lowering.cpu import diskcache
    from lowering.gpu import runtime
    monkeypatch.setenv("FX_CACHE_DIR", str(tmp_path / "cache"))
    source = codegen.PRELUDE + 'extern "C" __global__ void fx_k0(float* b0) { b0[0] = 1; }\n'
    if not nvrtc.include_dirs():
        pytest.skip("the CUDA headers (cuda_fp16.h) were not found")
    stores = diskcache.stats["stores"]
    first = runtime.cubin_for(source, "sm_90", ["fx_k0"])
    assert diskcache.stats["stores"] == stores + 1
    second = runtime.cubin_for(source, "sm_90", ["fx_k0"])
    assert first == second and diskcache.stats["stores"] == stores + 1
    assert b"fx_k0" in first


def test_nvrtc_reports_errors():
    if not nvrtc.available():
        pytest.skip("NVRTC is not installed")
    with pytest.raises(nvrtc.CudaCompileError, match="undefined"):
        nvrtc.compile_cubin('extern "C" __global__ void k() { undefined_thing(); }')


# ---------------------------------------------------------------------------
# on a GPU

def _compare(rt, f, *args, rtol=2e-5):
    closed = fx.make_jaxpr(f)(*args)
    exe = gpu_compile.compile(closed, runtime=rt)
    got = [rt.to_host(o) for o in exe([rt.asarray(a) for a in args])]
    want = Reference(closed)([np.asarray(a) for a in args])
    for g, w in zip(got, want, strict=False):
        if codegen.is_float(np.asarray(w).dtype):
            np.testing.assert_allclose(np.asarray(g, np.float64), np.asarray(w, np.float64),
                                       rtol=rtol, atol=rtol, equal_nan=True)
        else:
            np.testing.assert_array_equal(g, w)
    return exe


@pytest.mark.gpu
def test_programs_on_gpu(gpu):
    """The emulated program table, on the device."""
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).with_name("test_gpu_kernels.py")
    spec = importlib.util.spec_from_file_location("_gpu_kernel_programs", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for _name, (f, make) in sorted(mod.PROGRAMS.items()):
        flat, tree = fx.tree_util.tree_flatten(make())
        _compare(gpu, lambda *xs, f=f, tree=tree: f(*fx.tree_util.tree_unflatten(tree, list(xs))),
                 *flat, rtol=1e-4)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int32", "uint8"])
def test_elementwise_on_gpu(gpu, dtype):
    dtype = np.dtype(dtype)
    with fx.enable_x64() if dtype.itemsize == 8 else contextlib.nullcontext():
        if dtype.kind == "f":
            x = (RNG.standard_normal(4099) * 2).astype(dtype)
            _compare(gpu, lambda x: [jnp.exp(x), jnp.tanh(x), jnp.sin(x), lax.erf(x),
                                     jnp.maximum(x, 0.5), jnp.sqrt(jnp.abs(x))], x,
                     rtol=2e-3 if dtype == np.float16 else 2e-5)
        else:
            x = RNG.integers(0, 100, 4099).astype(dtype)
            y = RNG.integers(0, 7, 4099).astype(dtype)
            _compare(gpu, lambda x, y: [x // y, x % y, x << y, x * y, x ^ y], x, y)


@pytest.mark.gpu
def test_large_softmax_layernorm_matmul_on_gpu(gpu):
    x = RNG.standard_normal((512, 4096)).astype(np.float32)
    _compare(gpu, lambda x: fx.nn.softmax(x, -1), x, rtol=1e-5)
    w = RNG.standard_normal((4096, 256)).astype(np.float32)
    _compare(gpu, lambda x, w: jnp.tanh(x @ w), x, w, rtol=1e-3)


@pytest.mark.gpu
def test_fallback_on_gpu(gpu):
    x = RNG.standard_normal((6, 10)).astype(np.float32)
    exe = _compare(gpu, lambda x: jnp.cumsum(jnp.exp(x), axis=1) * 2, x)
    assert [e.primitive.name for e in exe.fallbacks] == ["cumsum"]
