"""The default device (the GPU when one is present, as JAX; ``FX_PLATFORMS``,
``jax_platforms`` and ``jax_default_device`` override it), where fx.numpy's new arrays
land, ``device_put`` placement, and the GPU memory pool cap. An emulated GPU
(``lowering.gpu.emulate.HostRuntime``) stands in for CuPy's devices; tests marked
``gpu`` use the real one."""
from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import fx
import fx.numpy as jnp
from lowering.gpu import device as gpu_device
from lowering.gpu.device import GpuDevice

devices_module = importlib.import_module("fx.devices")


@pytest.fixture
def fake_gpus(monkeypatch):
    """Installs emulated GPUs; returns ``install(count=1) -> [GpuDevice]``. The default
    device is resolved again on install and after the test."""
    if shutil.which("g++") is None:
        pytest.skip("needs g++ to emulate the GPU")
    from lowering.gpu.emulate import HostRuntime
    runtime = HostRuntime()

    def install(count=1):
        devs = [GpuDevice(i, "emulated", "9.0") for i in range(count)]
        monkeypatch.setattr(gpu_device, "gpu_devices", lambda: list(devs))
        monkeypatch.setattr(gpu_device, "runtime_for", lambda d: runtime)
        devices_module._invalidate_default()
        return devs
    yield install
    monkeypatch.undo()
    devices_module._invalidate_default()


def test_without_a_gpu_the_host_is_the_default(monkeypatch):
    monkeypatch.setattr(gpu_device, "gpu_devices", lambda: [])
    devices_module._invalidate_default()
    try:
        cpu = devices_module.host_device()
        assert fx.default_device() == cpu and fx.devices() == [cpu]
        assert fx.default_backend() == "cpu" and fx.local_devices() == [cpu]
        x = jnp.zeros(3) + 1
        assert fx.core._eager_route is None  # eager host calls take the fast path
        assert x._device is None and x.devices() == {cpu} and not x.committed
        assert fx.device_put(np.ones(2))._device is None
    finally:
        monkeypatch.undo()
        devices_module._invalidate_default()


def test_gpu_is_the_default_when_present(fake_gpus):
    (dev,) = fake_gpus()
    cpu = devices_module.host_device()
    assert fx.default_device() == dev and fx.default_backend() == "gpu"
    assert fx.devices() == [dev] and fx.local_devices() == [dev] and fx.device_count() == 1
    assert fx.devices("cpu") == [cpu] and fx.devices("gpu") == [dev]
    for x in (jnp.zeros(3), jnp.ones((2, 2), jnp.int32), jnp.full(4, 2.5), jnp.arange(5),
              jnp.eye(3), fx.device_put(np.ones(3)), fx.device_put(1.5)):
        assert x.devices() == {dev}, x
        assert not x.committed
    np.testing.assert_array_equal(np.asarray(jnp.arange(5)), np.arange(5))
    y = fx.device_put(np.ones(3), dev)
    assert y.committed and y.device == dev
    assert fx.device_put(y) is y                     # already placed: stays
    assert fx.device_put(y, cpu).devices() == {cpu}  # and back
    out = fx.jit(lambda a: a * 2)(fx.device_put(np.ones(3, np.float32)))
    assert out.devices() == {dev}


@pytest.mark.parametrize("how", ["env", "config"])
def test_platforms_force_the_cpu(fake_gpus, monkeypatch, how):
    (dev,) = fake_gpus()
    assert fx.default_device() == dev
    if how == "env":
        monkeypatch.setenv("FX_PLATFORMS", "cpu")
        devices_module._invalidate_default()
    else:
        monkeypatch.setattr(fx.config, "jax_platforms", "cpu")
    cpu = devices_module.host_device()
    assert fx.default_device() == cpu and fx.devices() == [cpu]
    assert jnp.zeros(2)._device is None and fx.core._eager_route is None


@pytest.mark.parametrize("order,platform", [("gpu,cpu", "gpu"), ("cuda", "gpu"),
                                            ("cpu,gpu", "cpu"), ("CPU", "cpu")])
def test_platform_priority(fake_gpus, order, platform):
    fake_gpus()
    with fx.config._override("jax_platforms", order):
        assert fx.default_device().platform == platform


def test_unavailable_platform_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(gpu_device, "gpu_devices", lambda: [])
    try:
        with fx.config._override("jax_platforms", "gpu"):
            with pytest.raises(RuntimeError, match=r"none of the platforms \['gpu'\]"):
                fx.default_device()
    finally:
        monkeypatch.undo()
        devices_module._invalidate_default()


def test_jax_default_device(fake_gpus):
    (dev,) = fake_gpus()
    cpu = devices_module.host_device()
    for value, want in ((cpu, cpu), ("cpu", cpu), ("gpu", dev), (None, dev)):
        fx.config.update("jax_default_device", value)
        assert fx.default_device() == want
        assert jnp.zeros(2).devices() == {want}
    with fx.default_device(cpu):
        assert jnp.ones(2)._device is None
        inner = fx.device_put(np.ones(2, np.float32))
    assert fx.default_device() == dev and jnp.ones(2).devices() == {dev}
    assert (inner + jnp.ones(2)).devices() == {dev}  # uncommitted: follows the default
    with pytest.raises(ValueError, match="jax_default_device must be passed either a Device"):
        fx.config.update("jax_default_device", 3)
    with pytest.raises(ValueError, match="jax_platforms must be"):
        fx.config.update("jax_platforms", ["cpu"])


def test_jax_default_device_matches_jax(jax):
    cpu = jax.devices("cpu")[0]
    with jax.default_device(cpu):
        want = jax.numpy.zeros(2).devices()
    with fx.default_device(fx.devices("cpu")[0]):
        got = jnp.zeros(2).devices()
    assert [d.platform for d in got] == [d.platform for d in want]
    with pytest.raises(ValueError, match="must be passed either a Device"):
        jax.config.update("jax_default_device", 3)


def test_a_replaced_gpu_list_is_noticed(monkeypatch):
    """A test that stands other GPUs in without resolving the default again (as
    tests/gpu/test_gpu_integration.py's fixture) gets them on the next device query."""
    devices_module._invalidate_default()
    fx.default_device()
    dev = GpuDevice(0, "emulated", "9.0")
    monkeypatch.setattr(gpu_device, "gpu_devices", lambda: [dev])
    try:
        assert fx.default_device() == dev
    finally:
        monkeypatch.undo()
        devices_module._invalidate_default()


@pytest.mark.gpu
def test_memory_fraction_caps_the_pool_without_preallocating():
    if not gpu_device.gpu_available():
        pytest.skip("needs an NVIDIA GPU with CuPy and a CUDA driver")
    code = ("import cupy, fx, fx.numpy as jnp\n"
            "x = jnp.ones(1000)\n"
            "pool = cupy.get_default_memory_pool()\n"
            "free, total = cupy.cuda.runtime.memGetInfo()\n"
            "print(pool.get_limit() / total, pool.total_bytes())\n")
    env = dict(os.environ, FX_GPU_MEMORY_FRACTION="0.25")
    env.pop("FX_PLATFORMS", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert abs(float(out[0]) - 0.25) < 0.01
    assert int(out[1]) < 64 << 20  # the pool holds what arrays use, nothing preallocated


@pytest.mark.gpu
def test_real_gpu_is_the_default():
    if not gpu_device.gpu_available():
        pytest.skip("needs an NVIDIA GPU with CuPy and a CUDA driver")
    devices_module._invalidate_default()
    if devices_module._platform_order() not in (None, ["gpu"], ["cuda"]):
        pytest.skip("FX_PLATFORMS is set")
    dev = fx.devices("gpu")[0]
    assert fx.default_device() == dev
    x = jnp.arange(10.0) * 2
    assert x.devices() == {dev} and x.__dlpack_device__() == (2, dev.id)
    np.testing.assert_array_equal(fx.device_get(x.block_until_ready()), np.arange(10.0) * 2)
