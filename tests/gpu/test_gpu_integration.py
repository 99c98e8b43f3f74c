"""fx's user-facing GPU path (fx.devices("gpu"), device_put onto a GPU, jit running
CUDA kernels, results back on the host), exercised without a GPU by standing the
host emulation runtime (``lowering.gpu.emulate.HostRuntime``: the generated kernels
compiled with g++ and run on the CPU) in for a device's CuPy runtime; checked
against the same program on the CPU."""
from __future__ import annotations

import importlib
import shutil

import numpy as np
import pytest

import fx
import fx.numpy as jnp
from lowering.gpu import device as gpu_device
from lowering.gpu.device import GpuDevice

fx_devices = importlib.import_module("fx.devices")  # (fx.devices is also a function)
pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ to emulate")


@pytest.fixture
def fake_gpu(monkeypatch):
    from lowering.gpu.emulate import HostRuntime
    dev = GpuDevice(0, "emulated", "9.0")
    runtime = HostRuntime()
    monkeypatch.setattr(gpu_device, "gpu_devices", lambda: [dev])
    monkeypatch.setattr(gpu_device, "runtime_for", lambda d: runtime)
    fx_devices._invalidate_default()
    yield dev, runtime
    monkeypatch.undo()
    fx_devices._invalidate_default()


def test_no_gpu_backend_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(gpu_device, "gpu_devices", lambda: [])
    with pytest.raises(RuntimeError, match="no platforms that are instances of gpu"):
        fx.devices("gpu")
    assert fx.devices()[0].platform == "cpu"


def test_device_put_jit_and_back(fake_gpu):
    dev, runtime = fake_gpu
    assert fx.devices("gpu") == [dev]
    x_np = np.linspace(-3, 3, 24, dtype=np.float32).reshape(4, 6)
    w_np = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
    x = fx.device_put(x_np, dev)
    assert x.devices() == {dev}

    def f(x, w):
        h = jnp.tanh(x @ w + 1.0)
        return jax_softmax(h), h.sum()
    launches = len(runtime.launches)
    got = fx.jit(f)(x, w_np)           # w is copied to the device
    want = fx.jit(f)(x_np, w_np)       # the same program on the CPU
    assert len(runtime.launches) > launches  # CUDA kernels ran (emulated)
    for g, w in zip(got, want):
        assert g.devices() == {dev}
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-5, atol=1e-6)
    back = fx.device_put(got[0], fx.devices()[0])
    assert back.devices() == {fx.devices()[0]}
    np.testing.assert_allclose(np.asarray(back), np.asarray(want[0]), rtol=2e-5, atol=1e-6)
    assert repr(got[1]).startswith("Array(")


def jax_softmax(h):
    e = jnp.exp(h - h.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
