"""Eager primitives on a GPU (``lowering.gpu.eager``): every primitive family run eagerly
on GPU operands against the same call on the CPU, the one-equation program cache, and
JAX's committed/uncommitted placement rules.

The ``gpu`` fixture is parametrized: ``emulated`` stands the host emulation runtime
(the generated CUDA kernels compiled with g++ and run on the CPU) in for a device's
CuPy runtime and makes that GPU the default device; ``cuda`` uses the real device
(marked ``gpu``; skips without CuPy and a CUDA device).

Tolerances, GPU vs the CPU impl, per primitive class: shape, indexing, integer,
comparison, selection and conversion ops, and host fallbacks (the same host impl):
exact. Arithmetic (+, -, *, /, min, max, abs, neg) in float32: exact on the
emulation (same IEEE operations), 1 ulp on CUDA (division may differ). Transcendental
float32 functions: rtol 2e-6 emulated (host libm vs NumPy), 4e-6 on CUDA (CUDA's libm
is accurate to 2 ulp or better). Loops (cond, fori_loop, scan: repeated arithmetic,
and the CPU reference may contract multiply-adds): rtol 1e-6, atol 1e-6. Reductions,
products and the normalizations (summation order differs): rtol 1e-5, atol 1e-5.
"""
from __future__ import annotations

import importlib
import shutil

import numpy as np
import pytest

import fx
import fx.numpy as jnp
from fx import lax
from lowering.gpu import device as gpu_device
from lowering.gpu import eager
from lowering.gpu.device import GpuDevice

devices_module = importlib.import_module("fx.devices")
RNG = np.random.default_rng(7)
HAS_GXX = shutil.which("g++") is not None


def _use_fake_gpus(monkeypatch, runtime, count=1):
    """Stand ``count`` emulated GPUs (sharing ``runtime``) in for CuPy's devices and
    resolve the default device again (it becomes the first of them)."""
    devs = [GpuDevice(i, "emulated", "9.0") for i in range(count)]
    monkeypatch.setattr(gpu_device, "gpu_devices", lambda: list(devs))
    monkeypatch.setattr(gpu_device, "runtime_for", lambda d: runtime)
    devices_module._invalidate_default()
    return devs


@pytest.fixture
def fake_gpu_default(monkeypatch):
    """An emulated GPU as the default device: ``(device, runtime)``."""
    if not HAS_GXX:
        pytest.skip("needs g++ to emulate the GPU")
    from lowering.gpu.emulate import HostRuntime
    runtime = HostRuntime()
    (dev,) = _use_fake_gpus(monkeypatch, runtime)
    assert fx.default_device() == dev
    yield dev, runtime
    monkeypatch.undo()
    devices_module._invalidate_default()


@pytest.fixture(params=["emulated", pytest.param("cuda", marks=pytest.mark.gpu)])
def gpu(request):
    """The default GPU and whether it is emulated: ``(device, emulated)``."""
    if request.param == "emulated":
        dev, _ = request.getfixturevalue("fake_gpu_default")
        return dev, True
    if not gpu_device.gpu_available():
        pytest.skip("needs an NVIDIA GPU with CuPy and a CUDA driver")
    devices_module._invalidate_default()
    dev = fx.default_device()
    if dev.platform != "gpu":
        pytest.skip("the GPU is not the default device (FX_PLATFORMS?)")
    return dev, False


def _host():
    return fx.default_device(devices_module.host_device())


# ---------------------------------------------------------------------------
# every primitive family, GPU vs CPU

def _f32(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def _equation_by_equation(f):
    """``f`` with each equation of its jaxpr bound eagerly, one after another."""
    def run(*args):
        closed = fx.make_jaxpr(f)(*args)
        return fx.core.eval_jaxpr(closed.jaxpr, closed.consts, *args)
    return run


EXACT = "exact"
ARITH = "arith"
TRANSC = "transcendental"
REDUCE = "reduction"
LOOP = "loop"

FAMILIES = {
    # elementwise arithmetic and its weak-typed scalar operands
    "add_sub_mul": (lambda x, y: [x + y, x - y, x * y, x * 2, -x, abs(y)],
                    lambda: (_f32(5, 7), _f32(5, 7)), ARITH),
    "div_min_max": (lambda x, y: [x / (abs(y) + 1), jnp.maximum(x, y), jnp.minimum(x, 0.5)],
                    lambda: (_f32(33), _f32(33)), ARITH),
    "transcendental": (lambda x: [jnp.exp(x), jnp.log1p(abs(x)), jnp.sin(x), jnp.tanh(x),
                                  lax.erf(x), jnp.sqrt(abs(x)), lax.rsqrt(abs(x) + 1),
                                  jnp.arctan2(x, x + 1), x ** 3],
                       lambda: (_f32(4, 9, scale=2),), TRANSC),
    "integer": (lambda i, j: [lax.div(i, j), lax.rem(i, j), lax.shift_left(i, j), i & j,
                             i * j, -i],
                lambda: (RNG.integers(-50, 50, 40).astype(np.int32),
                         RNG.integers(1, 9, 40).astype(np.int32)), EXACT),
    "compare_select": (lambda x, y: [x < y, x == y, jnp.where(x > 0, x, y),
                                     jnp.logical_and(x > 0, y > 0), jnp.isnan(x / x)],
                       lambda: (_f32(6, 5), _f32(6, 5)), EXACT),
    "convert": (lambda x: [x.astype(jnp.int32), x.astype(jnp.bool_), x.astype(jnp.float16),
                           lax.bitcast_convert_type(x, jnp.int32)],
                lambda: (_f32(17, scale=40),), EXACT),
    # index-only ops
    "shape": (lambda x: [x.reshape(6, 10), x.T, jnp.broadcast_to(x[:1], (5, 4, 3)),
                         jnp.concatenate([x, x], 1),
                         lax.slice(x, (1, 0, 0), (4, 4, 3), (1, 2, 1)),
                         jnp.pad(x, ((1, 2), (0, 1), (0, 0))), lax.rev(x, (0,)),
                         lax.dynamic_slice(x, (1, 2, 0), (2, 2, 3)),
                         jnp.expand_dims(x, 0), lax.iota(jnp.int32, 7)],
              lambda: (_f32(5, 4, 3),), EXACT),
    # (fx.numpy's indexing has eager NumPy fast paths: the equations of its jaxpr are
    # applied one by one instead, so the gather and scatter primitives run eagerly)
    "gather_scatter": (_equation_by_equation(
        lambda x, i: [x[i], x[i, 1], x.at[i].set(0.0), x.at[i].add(1.0),
                      jnp.take(x, i, axis=1), x[1:4, ::2], x[::-1]]),
        lambda: (_f32(6, 6), np.array([0, 5, 2, 2], np.int32)), EXACT),
    # reductions and products
    "reductions": (lambda x: [x.sum(), x.sum(0), x.max(1), jnp.argmax(x, 1), x.prod(1),
                              (x > 0).any(0)],
                   lambda: (_f32(37, 29),), REDUCE),
    "softmax": (lambda x: [fx.nn.softmax(x, -1)], lambda: (_f32(9, 130),), REDUCE),
    "products": (lambda a, b: [a @ b, jnp.einsum("ij,kj->ik", a, b.T),
                               jnp.dot(a[0], b[:, 0])],
                 lambda: (_f32(12, 20), _f32(20, 7)), REDUCE),
    # equations without a kernel: the host impl inside the one-equation program
    "host_fallbacks": (lambda x: [jnp.cumsum(x, 1), jnp.sort(x, 1),
                                  jnp.linalg.inv(x[:4, :4] + 4 * jnp.eye(4)),
                                  jnp.fft.fft(x).real],
                       lambda: (_f32(5, 6),), REDUCE),
    "control_flow": (lambda x: [lax.cond(x.sum() > 0, lambda v: v * 2, lambda v: -v, x),
                                lax.fori_loop(0, 3, lambda i, v: v * 1.5 + i, x),
                                lax.scan(lambda c, v: (c + v, c * v), x[0], x)[0]],
                     lambda: (_f32(4, 3),), LOOP),
    # random bits and what is exact arithmetic on them (uniform's mantissa trick, randint)
    "random": (lambda k: [fx.random.uniform(k, (3, 5)), fx.random.randint(k, (9,), 0, 10),
                          fx.random.bits(k, (7,))],
               lambda: (fx.random.key_data(fx.random.PRNGKey(3)),), EXACT),
    # normal goes through erf_inv: the GPU kernel's float32 polynomial is not XLA-CPU's
    # evaluation order (fx's CPU draws are bit-identical to JAX's CPU draws)
    "random_normal": (lambda k: [fx.random.normal(k, (64,))],
                      lambda: (fx.random.key_data(fx.random.PRNGKey(3)),), TRANSC),
}
_RANDOM = ("random", "random_normal")


def _tolerance(kind, emulated):
    if kind == EXACT:
        return dict(rtol=0, atol=0)
    if kind == ARITH:
        return dict(rtol=0, atol=0) if emulated else dict(rtol=1.2e-7, atol=0)
    if kind == LOOP:
        return dict(rtol=1e-6, atol=1e-6)
    if kind == TRANSC:
        return dict(rtol=2e-6, atol=1e-7) if emulated else dict(rtol=4e-6, atol=1e-7)
    return dict(rtol=1e-5, atol=1e-5)


def _run(f, args):
    if f in (FAMILIES[name][0] for name in _RANDOM):
        args = [fx.random.wrap_key_data(args[0])]
    return f(*args)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_on_gpu_matches_cpu(gpu, family):
    dev, emulated = gpu
    f, make, kind = FAMILIES[family]
    host_args = make()
    with _host():
        want = _run(f, [jnp.asarray(a) for a in host_args])
    eager.clear_cache()
    compiles = eager.stats["compiles"]
    got = _run(f, [fx.device_put(a) for a in host_args])  # uncommitted, on the default GPU
    if family not in _RANDOM:  # (fx.random's functions are jitted: jit runs them on the GPU)
        assert eager.stats["compiles"] > compiles  # dispatched through the GPU compiler
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g.devices() == {dev}, (family, k)
        # (jit's GPU call commits its outputs; JAX leaves them uncommitted: fx.random)
        assert not g.committed or family in _RANDOM
        assert (g.dtype, g.shape, g.weak_type) == (w.dtype, w.shape, w.weak_type), (family, k)
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), equal_nan=True,
                                   err_msg=f"{family} output {k}", **_tolerance(kind, emulated))


def test_numpy_indexing_fast_paths_stay_on_the_gpu(fake_gpu_default):
    dev, _ = fake_gpu_default
    x = fx.device_put(_f32(6, 5))
    for y in (x[1:4], x[2], x[np.array([0, 3])], x.at[1].set(0.0)):
        assert y.devices() == {dev}


def test_float16_and_int8_on_gpu(gpu):
    dev, _ = gpu
    x = RNG.standard_normal(50).astype(np.float16)
    i = RNG.integers(-100, 100, 50).astype(np.int8)
    with _host():
        want = [jnp.exp(jnp.asarray(x)), jnp.asarray(x) * 3, jnp.asarray(i) + 7,
                jnp.asarray(i) // 3]
    xs, is_ = fx.device_put(x), fx.device_put(i)
    got = [jnp.exp(xs), xs * 3, is_ + 7, is_ // 3]
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.devices() == {dev}
        np.testing.assert_allclose(np.asarray(g, np.float64), np.asarray(w, np.float64),
                                   rtol=1e-3)


def test_grad_and_vmap_of_gpu_values(gpu):
    dev, _ = gpu
    x = _f32(4, 3)

    def loss(w):
        return jnp.sum(jnp.tanh(w @ w.T) ** 2)
    with _host():
        want_g = fx.grad(loss)(jnp.asarray(x))
        want_v = fx.vmap(lambda r: jnp.exp(r) / r.sum())(jnp.asarray(x))
    g = fx.grad(loss)(fx.device_put(x))
    v = fx.vmap(lambda r: jnp.exp(r) / r.sum())(fx.device_put(x))
    assert g.devices() == {dev} and v.devices() == {dev}
    np.testing.assert_allclose(np.asarray(g), np.asarray(want_g), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(v), np.asarray(want_v), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------
# the program cache


def test_one_program_per_primitive_params_and_types(fake_gpu_default):
    dev, runtime = fake_gpu_default
    eager.clear_cache()
    x = fx.device_put(_f32(8))
    c0 = eager.stats["compiles"]
    lax.exp(x)
    lax.exp(x)
    assert eager.stats["compiles"] == c0 + 1
    lax.exp(fx.device_put(_f32(8)))          # same types: cached
    assert eager.stats["compiles"] == c0 + 1
    lax.exp(fx.device_put(_f32(9)))          # another shape
    lax.reduce_sum(x, axes=(0,))             # another primitive
    assert eager.stats["compiles"] == c0 + 3
    lax.reduce_max(x, axes=(0,))
    x2 = fx.device_put(_f32(2, 4))
    lax.reduce_sum(x2, axes=(0,))
    lax.reduce_sum(x2, axes=(1,))           # other params
    assert eager.stats["compiles"] == c0 + 6
    launches = len(runtime.launches)
    y = lax.exp(x)
    assert len(runtime.launches) == launches + 1  # a cached call is one kernel launch
    np.testing.assert_allclose(np.asarray(y), np.exp(np.asarray(x)), rtol=2e-6)


def test_weak_types_follow_the_cpu_rules(fake_gpu_default):
    dev, _ = fake_gpu_default
    weak = fx.device_put(2.0)
    assert weak.weak_type and weak.devices() == {dev}
    assert (weak * 3).weak_type
    strong = fx.device_put(np.float32(2))
    assert not (strong * 3).weak_type
    assert (weak * strong).dtype == np.float32


# ---------------------------------------------------------------------------
# placement: committed and uncommitted operands


def test_committed_gpu_operand_pulls_host_values(fake_gpu_default):
    dev, _ = fake_gpu_default
    x = fx.device_put(_f32(5), dev)
    assert x.committed
    host = np.arange(5, dtype=np.float32)
    with _host():
        y = jnp.asarray(host) + 1           # a host array, uncommitted
    assert y.devices() == {devices_module.host_device()} and not y.committed
    out = x + y
    assert out.devices() == {dev} and out.committed
    np.testing.assert_allclose(np.asarray(out), np.asarray(x) + (host + np.float32(1)))
    assert (x * host).committed             # NumPy operands follow too


def test_uncommitted_gpu_value_follows_a_committed_cpu_operand(fake_gpu_default):
    dev, _ = fake_gpu_default
    cpu = devices_module.host_device()
    g = fx.device_put(_f32(4))              # uncommitted, on the default GPU
    c = fx.device_put(_f32(4), cpu)         # committed to the CPU
    out = g + c
    assert out.devices() == {cpu} and out.committed
    np.testing.assert_allclose(np.asarray(out), np.asarray(g) + np.asarray(c))


def test_two_committed_devices_raise(fake_gpu_default):
    dev, _ = fake_gpu_default
    a = fx.device_put(_f32(3), dev)
    b = fx.device_put(_f32(3), devices_module.host_device())
    with pytest.raises(ValueError, match=r"Received incompatible devices.*args\[0\] of add "
                       r"with shape float32\[3\] and with device ids \[0\] on platform GPU"
                       r".*args\[1\].*on platform CPU"):
        lax.add(a, b)


def test_two_committed_gpus_raise_and_uncommitted_ones_move(monkeypatch):
    if not HAS_GXX:
        pytest.skip("needs g++ to emulate the GPU")
    from lowering.gpu.emulate import HostRuntime
    d0, d1 = _use_fake_gpus(monkeypatch, HostRuntime(), count=2)
    try:
        a = fx.device_put(_f32(3), d0)
        b = fx.device_put(_f32(3), d1)
        with pytest.raises(ValueError, match="incompatible devices"):
            a * b
        u = fx.device_put(_f32(3))          # uncommitted on the default GPU (d0)
        assert u.devices() == {d0}
        out = b * u
        assert out.devices() == {d1} and out.committed
        np.testing.assert_allclose(np.asarray(out), np.asarray(b) * np.asarray(u))
    finally:
        monkeypatch.undo()
        devices_module._invalidate_default()


def test_committed_cpu_devices_as_jax():
    """Without a GPU: results keep their committed CPU device; two raise (as JAX)."""
    from fx.test_util import cpu_devices
    with cpu_devices(2):
        d0, d1 = fx.devices("cpu")
        a = fx.device_put(np.ones(3, np.float32), d1)
        out = a * 2
        assert out.devices() == {d1} and out.committed
        assert (a + jnp.ones(3)).devices() == {d1}
        with pytest.raises(ValueError, match="incompatible devices"):
            a + fx.device_put(np.ones(3, np.float32), d0)
        np.testing.assert_array_equal(np.asarray(out), 2 * np.ones(3))


def test_default_host_pays_nothing():
    """With the host as the default device, eager calls on host operands never reach the
    placement code."""
    x = jnp.ones(3)
    x + 1
    if fx.default_device().platform == "cpu":
        assert fx.core._eager_route is None
        assert (x + 1)._device is None


def test_host_region_keeps_nested_calls_on_the_host(fake_gpu_default):
    with eager.on_host():
        assert eager.in_host_region()
        y = lax.exp(np.ones(3, np.float32))
    assert y._device is None
    assert lax.exp(np.ones(3, np.float32)).devices() == {fake_gpu_default[0]}


def test_errors_and_debug_nans_on_gpu(fake_gpu_default):
    x = fx.device_put(_f32(3))
    with pytest.raises(TypeError, match="same dtypes"):
        lax.add(x, fx.device_put(np.ones(3, np.int32)))
    with fx.debug_nans(True):
        with pytest.raises(FloatingPointError, match="invalid value"):
            lax.log(fx.device_put(np.float32(-1)))
    x.delete()
    with pytest.raises(RuntimeError, match="deleted"):
        lax.exp(x)


def test_block_until_ready_and_device_get_on_gpu_pytrees(fake_gpu_default):
    dev, runtime = fake_gpu_default
    calls = []
    runtime.synchronize = lambda: calls.append(1)
    tree = {"a": fx.device_put(_f32(3)), "b": [jnp.zeros(2), 1.0]}
    assert fx.block_until_ready(tree) is tree and len(calls) == 2
    got = fx.device_get(tree)
    assert type(got["a"]) is np.ndarray and type(got["b"][0]) is np.ndarray
    np.testing.assert_array_equal(got["b"][0], np.zeros(2))
