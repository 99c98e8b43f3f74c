"""pmap over GPUs: one replica per device, segments compiled by the GPU jit path,
collectives through NCCL (``lowering.gpu.nccl``), across processes through MPI.

Without a GPU the whole dispatch runs on emulated GPUs: each device a
``HostRuntime`` (the generated CUDA kernels compiled with g++), collectives through
``FakeNccl`` (NCCL's calls over host memory). Oracles: NumPy, the same program
under the CPU pmap, finite differences for gradients, a Python loop for vmap.
Tests marked ``gpu`` run on real CUDA devices and skip without one.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx.interpreters import communicator as comm_mod
from fx.interpreters.pmap import device_put_sharded, pmap
from fx.lax import _parallel as plax
from fx.test_util import cpu_devices
from lowering.gpu import device as gpu_device
from lowering.gpu import nccl
from lowering.gpu import pmap as gpu_pmap
from lowering.gpu.device import GpuDevice

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ to emulate")


@contextlib.contextmanager
def host_default():
    """Keep the host the default device (fake GPUs would otherwise become it)."""
    if not hasattr(fx.config, "jax_default_device"):
        yield
        return
    saved = fx.config.jax_default_device
    fx.config.update("jax_default_device", "cpu")
    try:
        yield
    finally:
        fx.config.update("jax_default_device", saved)


class FakeGpus:
    def __init__(self, monkeypatch, n):
        from lowering.gpu.emulate import HostRuntime
        self.devices = [GpuDevice(i, "emulated", "9.0") for i in range(n)]
        self.runtimes = {i: HostRuntime() for i in range(n)}
        self.lib = nccl.FakeNccl()
        monkeypatch.setattr(gpu_device, "gpu_devices", lambda: list(self.devices))
        monkeypatch.setattr(gpu_device, "runtime_for",
                            lambda d: self.runtimes[d if isinstance(d, int) else d.id])
        monkeypatch.setattr(nccl, "library", lambda: self.lib)

    def ops(self, name):
        return sum(1 for c in self.lib.calls if c[0] == name)


@pytest.fixture
def gpus(monkeypatch):
    """``gpus(n)``: n emulated GPUs with a fake NCCL (the host stays the default)."""
    comm_mod.clear_device_communicators()
    with host_default():
        yield lambda n: FakeGpus(monkeypatch, n)
    comm_mod.clear_device_communicators()


def _x(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def _on_cpu(f, *args, n, **kw):
    with cpu_devices(n):
        return np.asarray(pmap(f, axis_name="i", **kw)(*args))


# ---------------------------------------------------------------------------
# the communicator alone: every fx collective through (fake) NCCL calls vs compute


def _nccl_comm(n, lib=None):
    from lowering.gpu.emulate import HostRuntime
    lib = lib or nccl.FakeNccl()
    return nccl.NcclCommunicator(lib, [HostRuntime() for _ in range(n)], list(range(n)), n,
                                 lib.get_unique_id()), lib


_KINDS = [("psum", {"groups": None}), ("pmax", {"groups": None}),
          ("pmin", {"groups": None}),
          ("all_gather", {"dim": 0, "tiled": False, "groups": None}),
          ("all_gather", {"dim": 1, "tiled": True, "groups": None}),
          ("reduce_scatter", {"dim": 0, "tiled": True, "groups": None}),
          ("all_to_all", {"split": 0, "concat": 1, "groups": None}),
          ("all_to_all", {"split": 1, "concat": 0, "groups": None}),
          ("pbroadcast", {"source": 1}), ("psum", {"groups": ((0, 2), (1, 3))}),
          ("all_gather", {"dim": 0, "tiled": False, "groups": ((0, 1), (2, 3))})]


@settings(max_examples=25, deadline=None)
@given(case=st.sampled_from(_KINDS), dtype=st.sampled_from(
    ["float32", "float64", "int32", "int16", "uint8", "float16", "complex64"]),
    rows=st.integers(1, 3), seed=st.integers(0, 100))
def test_nccl_communicator_matches_compute(case, dtype, rows, seed):
    kind, params = case
    if kind in ("pmax", "pmin") and dtype == "complex64":
        dtype = "float32"
    n = 4
    rng = np.random.default_rng(seed)
    shape = (n * rows, n * 2)
    values = [(rng.normal(size=shape) * 10).astype(dtype) for _ in range(n)]
    comm, lib = _nccl_comm(n)
    got = comm.collective(kind, [v.copy() for v in values], params)
    want = comm_mod.compute(kind, [v.copy() for v in values], params)
    for g, w in zip(got, want):
        assert g.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(g, np.asarray(w))
    assert lib.groups >= 2  # the clique's creation, then the collective's group


@pytest.mark.parametrize("perm", [((0, 1), (1, 2), (2, 0)), ((0, 2),), ((1, 1), (2, 0))])
def test_nccl_ppermute_is_send_recv(perm):
    comm, lib = _nccl_comm(3)
    values = [np.full((2, 3), r + 1, np.float32) for r in range(3)]
    got = comm.collective("ppermute", values, {"perm": perm})
    want = comm_mod.compute("ppermute", values, {"perm": perm})
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    remote = sum(1 for s, d in perm if s != d)
    assert sum(1 for c in lib.calls if c[0] == "send") == remote
    assert sum(1 for c in lib.calls if c[0] == "recv") == remote


@pytest.mark.parametrize("kind,params", [("psum", {"groups": None}),
                                         ("ppermute", {"perm": ((0, 1), (1, 0))}),
                                         ("pbroadcast", {"source": 1}),
                                         ("pmax", {"groups": ((0, 1),)})])
def test_nccl_scalars_stay_scalars(kind, params):
    comm, _ = _nccl_comm(2)
    values = [np.asarray(r + 1.5, np.float32) for r in range(2)]
    got = comm.collective(kind, values, params)
    want = comm_mod.compute(kind, values, params)
    for g, w in zip(got, want):
        assert g.shape == ()
        np.testing.assert_array_equal(g, w)


def test_fake_nccl_checks_what_nccl_would_hang_on():
    lib = nccl.FakeNccl()
    uid = lib.get_unique_id()
    lib.groupStart()
    comms = [lib.NcclCommunicator(2, uid, r) for r in range(2)]
    lib.groupEnd()
    a, b = np.ones(4, np.float32), np.empty(4, np.float32)
    lib.groupStart()
    comms[0].allReduce(a.ctypes.data, b.ctypes.data, 4, lib.NCCL_FLOAT32, lib.NCCL_SUM, 0)
    with pytest.raises(RuntimeError, match="unmatched operations"):
        lib.groupEnd()
    lib2 = nccl.FakeNccl()
    uid = lib2.get_unique_id()
    lib2.groupStart()
    comms = [lib2.NcclCommunicator(2, uid, r) for r in range(2)]
    lib2.groupEnd()
    lib2.groupStart()
    comms[0].allReduce(a.ctypes.data, b.ctypes.data, 4, lib2.NCCL_FLOAT32, lib2.NCCL_SUM, 0)
    comms[1].allReduce(a.ctypes.data, b.ctypes.data, 3, lib2.NCCL_FLOAT32, lib2.NCCL_SUM, 0)
    with pytest.raises(RuntimeError, match="different collectives"):
        lib2.groupEnd()


def _per_replica_jaxpr(f):
    from primitives import collectives as C
    with C.extend_axis_env("i", 2):
        return fx.make_jaxpr(f)(np.ones(3, np.float32))


def test_split_cuts_at_collectives():
    def f(x):
        y = fnp.sin(x) * 2
        s = plax.psum(y, "i")
        return fnp.cos(s) + y, plax.axis_index("i")
    closed = _per_replica_jaxpr(f)
    _, steps = gpu_pmap.split(closed, "i")
    assert [s[0] if s[0] == "segment" else s[1] for s in steps] == \
        ["segment", "psum", "segment", "axis_index"]

    def g(x):  # a collective inside control flow: not cut, one thread per device
        return fx.lax.fori_loop(0, 2, lambda i, v: plax.psum(v, "i"), x)
    closed = _per_replica_jaxpr(g)
    assert gpu_pmap.split(closed, "i") is None


# ---------------------------------------------------------------------------
# pmap on emulated GPUs


def _collective_programs():
    return {
        "psum": (lambda v: v * plax.psum(v, "i"), lambda x, n: x * x.sum(0)),
        "pmean": (lambda v: plax.pmean(v, "i") - v, lambda x, n: x.mean(0) - x),
        "pmax": (lambda v: plax.pmax(v, "i") + plax.pmin(v, "i"),
                 lambda x, n: np.broadcast_to(x.max(0) + x.min(0), x.shape)),
        "all_gather": (lambda v: plax.all_gather(v, "i").sum(axis=1),
                       lambda x, n: np.broadcast_to(x.sum(1), (n, n))),
        "ppermute": (lambda v: plax.ppermute(v, "i", [(j, (j + 1) % NDEV) for j in
                                                      range(NDEV)]),
                     lambda x, n: np.roll(x, 1, axis=0)),
        "all_to_all": (lambda v: plax.all_to_all(v.reshape(NDEV, -1), "i", 0, 0),
                       lambda x, n: x.reshape(n, n, -1).transpose(1, 0, 2)),
        "psum_scatter": (lambda v: plax.psum_scatter(v, "i", tiled=True),
                         lambda x, n: x.sum(0).reshape(n, -1)),
        "axis_index": (lambda v: v + plax.axis_index("i"),
                       lambda x, n: x + np.arange(n, dtype=np.float32)[:, None]),
    }


NDEV = 4


@needs_gxx
@pytest.mark.parametrize("name", sorted(_collective_programs()))
def test_collectives_match_cpu_pmap_and_numpy(gpus, name):
    fake = gpus(NDEV)
    f, oracle = _collective_programs()[name]
    x = _x(NDEV, NDEV * 2, seed=1)
    out = pmap(f, axis_name="i", devices=fake.devices)(x)
    assert out._device.device_set == set(fake.devices)
    np.testing.assert_allclose(np.asarray(out), oracle(x, NDEV), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(out), _on_cpu(f, x, n=NDEV), rtol=1e-5, atol=1e-6)
    nccl_ops = {"psum": "allReduce", "pmean": "allReduce", "pmax": "allReduce",
                "all_gather": "allGather", "ppermute": "send", "all_to_all": "send",
                "psum_scatter": "reduceScatter"}
    if name in nccl_ops:
        assert fake.ops(nccl_ops[name]) >= NDEV


@needs_gxx
def test_one_gpu_and_outputs_stay_on_the_devices(gpus, monkeypatch):
    fake = gpus(2)
    x = _x(1, 5)
    one = pmap(lambda v: plax.psum(fnp.exp(v), "i"), axis_name="i", devices=fake.devices[:1])
    np.testing.assert_allclose(np.asarray(one(x)), np.exp(x), rtol=1e-6)
    f = pmap(lambda v: v * 2 + plax.psum(v, "i"), axis_name="i", devices=fake.devices)
    y = f(_x(2, 5))
    assert gpu_pmap.resident(y, fake.devices, 0) is not None
    placed = []
    real_place = gpu_pmap._place
    monkeypatch.setattr(gpu_pmap, "_place", lambda *a: placed.append(1) or real_place(*a))
    z = f(y)  # the shards are already on the devices: nothing is copied in
    assert placed == []
    yy = np.asarray(y)
    np.testing.assert_allclose(np.asarray(z), yy * 2 + yy.sum(0), rtol=1e-6)
    s = device_put_sharded([np.ones(5, np.float32), np.zeros(5, np.float32)], fake.devices)
    np.testing.assert_allclose(np.asarray(f(s)), [[3.0] * 5, [1.0] * 5])
    assert placed == []


@needs_gxx
def test_grad_of_a_pmapped_loss(gpus):
    fake = gpus(2)
    x, y = _x(2, 4, 3, seed=2), _x(2, 4, seed=3)
    w0 = _x(3, seed=4)

    def loss(w, x, y):
        return fnp.mean((fnp.tanh(x @ w) - y) ** 2)

    def total(w, devices):
        per = pmap(loss, axis_name="i", in_axes=(None, 0, 0), devices=devices)(w, x, y)
        return per.sum()

    g = fx.grad(total)(w0, fake.devices)
    with cpu_devices(2):
        g_cpu = fx.grad(total)(w0, None)
    np.testing.assert_allclose(np.asarray(g), np.asarray(g_cpu), rtol=1e-5, atol=1e-6)
    eps = 1e-3
    fd = [(float(total(w0 + eps * e, fake.devices)) - float(total(w0 - eps * e, fake.devices)))
          / (2 * eps) for e in np.eye(3, dtype=np.float32)]
    np.testing.assert_allclose(np.asarray(g), fd, rtol=2e-2, atol=1e-3)

    def step(w, x, y):  # data-parallel SGD step: grad inside, pmean across devices
        return w - 0.1 * plax.pmean(fx.grad(loss)(w, x, y), "i")
    new = pmap(step, axis_name="i", in_axes=(None, 0, 0), out_axes=None,
               devices=fake.devices)(w0, x, y)
    want = w0 - 0.1 * np.mean([np.asarray(fx.grad(loss)(w0, x[r], y[r])) for r in range(2)], 0)
    np.testing.assert_allclose(np.asarray(new), want, rtol=1e-5, atol=1e-6)


@needs_gxx
def test_nested_vmap(gpus):
    fake = gpus(2)
    x = _x(2, 3, 4, seed=5)

    def f(v):  # v: (4,) per (device, lane); sums over both the pmap and vmap axes
        return v - plax.psum(v, ("i", "j")) / 6 + plax.psum(v, "j")
    out = pmap(fx.vmap(f, axis_name="j"), axis_name="i", devices=fake.devices)(x)
    want = x - x.sum((0, 1)) / 6 + x.sum(1, keepdims=True)
    np.testing.assert_allclose(np.asarray(out), want, rtol=1e-5, atol=1e-5)
    g = pmap(lambda v: v * plax.psum(v, "i"), axis_name="i", devices=fake.devices)
    batched = fx.vmap(g, in_axes=1)(x)  # vmap over a pmap: a loop over lanes
    loop = np.stack([np.asarray(g(x[:, k])) for k in range(3)])
    np.testing.assert_allclose(np.asarray(batched), loop, rtol=1e-6)


@needs_gxx
def test_collectives_in_control_flow_run_one_thread_per_device(gpus):
    fake = gpus(2)
    x = _x(2, 3, seed=6)

    def f(v):
        return fx.lax.fori_loop(0, 3, lambda i, a: plax.psum(a, "i") * 0.5, v)
    out = pmap(f, axis_name="i", devices=fake.devices)(x)
    want = x
    for _ in range(3):
        want = np.broadcast_to(want.sum(0) * 0.5, x.shape)
    np.testing.assert_allclose(np.asarray(out), want, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(out), _on_cpu(f, x, n=2), rtol=1e-6)


@needs_gxx
def test_host_staged_collectives(gpus, monkeypatch):
    fake = gpus(3)
    monkeypatch.setenv("FX_GPU_COLLECTIVES", "host")
    x = _x(3, 6, seed=7)
    f = pmap(lambda v: plax.all_gather(v, "i", tiled=True) + plax.psum(v, "i").sum(),
             axis_name="i", devices=fake.devices)
    out = f(x)
    np.testing.assert_allclose(np.asarray(out), np.broadcast_to(x.reshape(-1) + x.sum(),
                                                                (3, 18)), rtol=1e-5)
    assert fake.ops("allReduce") == 0 and fake.ops("allGather") == 0


@needs_gxx
def test_default_devices_when_the_gpu_is_the_default(gpus, monkeypatch):
    fake = gpus(2)
    D = __import__("importlib").import_module("fx.devices")
    monkeypatch.setattr(D, "default_backend", lambda: "gpu")
    out = pmap(lambda v: plax.psum(v, "i"), axis_name="i")(np.ones((2, 3), np.float32))
    assert out._device.device_set == set(fake.devices)
    np.testing.assert_allclose(np.asarray(out), 2.0)
    out = pmap(lambda v: v + 1, backend="gpu")(np.ones((1, 3), np.float32))
    assert out._device.device_set == {fake.devices[0]}
    with pytest.raises(ValueError, match="only 2 GPUs"):
        pmap(lambda v: v)(np.ones((3, 1), np.float32))


# ---------------------------------------------------------------------------
# processes: MPI between emulated GPUs (host staged, and CUDA-aware on host buffers)

_MPI_PROGRAM = textwrap.dedent('''
    import sys
    import numpy as np
    import fx, fx.distributed
    from fx.lax import _parallel as plax
    from fx.interpreters.pmap import pmap
    from lowering.gpu import device as gpu_device
    from lowering.gpu.device import GpuDevice
    out, local, real = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "real"
    fx.distributed.initialize()
    rank = fx.process_index()
    if real:
        gpus = fx.devices("gpu")
        devs = [gpus[(rank * local + k) % len(gpus)] for k in range(local)]
    else:
        from lowering.gpu.emulate import HostRuntime
        devs = [GpuDevice(k, "emulated", "9.0") for k in range(local)]
        rts = {k: HostRuntime() for k in range(local)}
        gpu_device.gpu_devices = lambda: devs
        gpu_device.runtime_for = lambda d: rts[d if isinstance(d, int) else d.id]
        fx.config.update("jax_default_device", "cpu")
    n = 2 * local
    x = np.arange(n * n * 2, dtype=np.float32).reshape(n, n * 2)[rank * local:][:local]
    f = pmap(lambda v: (plax.psum(v, "i"), plax.all_gather(v, "i"),
                        plax.ppermute(v, "i", [(j, (j + 1) % n) for j in range(n)]),
                        plax.all_to_all(v.reshape(n, -1), "i", 0, 0), plax.axis_index("i")),
             axis_name="i", devices=devs)
    outs = f(x)
    np.savez(f"{out}.rank{rank}.npz", *[np.asarray(o) for o in outs])
''')


def _mpi_run(tmp_path, local, real, env_extra):
    pytest.importorskip("mpi4py", reason="mpi4py is not installed")
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    mpiexec = beside if os.path.exists(beside) else shutil.which("mpiexec")
    if mpiexec is None:
        pytest.skip("mpiexec is not installed")
    program = tmp_path / "program.py"
    program.write_text(_MPI_PROGRAM)
    env = dict(os.environ, FX_COLLECTIVE_TIMEOUT="30", **env_extra,
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("FX_CHECKS", None)
    proc = subprocess.run([mpiexec, "-n", "2", sys.executable, str(program),
                           str(tmp_path / "out"), str(local), "real" if real else "fake"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    n = 2 * local
    x = np.arange(n * n * 2, dtype=np.float32).reshape(n, n * 2)
    want = [np.broadcast_to(x.sum(0), x.shape), np.broadcast_to(x, (n,) + x.shape),
            np.roll(x, 1, axis=0), x.reshape(n, n, -1).transpose(1, 0, 2),
            np.arange(n)]
    parts = [np.load(tmp_path / f"out.rank{p}.npz") for p in range(2)]
    for k, w in enumerate(want):
        got = np.concatenate([p[f"arr_{k}"] for p in parts])
        np.testing.assert_allclose(got, w, rtol=1e-6, err_msg=f"output {k}")


@needs_gxx
@pytest.mark.mpi
@pytest.mark.parametrize("local,transport", [(1, "host"), (2, "host"), (1, "mpi")])
def test_processes_with_emulated_gpus(tmp_path, local, transport):
    extra = {"FX_GPU_COLLECTIVES": transport}
    if transport == "mpi":
        extra["FX_MPI_CUDA_AWARE"] = "1"  # host buffers stand in for device buffers
    _mpi_run(tmp_path, local, False, extra)


# ---------------------------------------------------------------------------
# real GPUs (skipped without one)

requires_gpu = pytest.mark.skipif(not gpu_device.gpu_available(), reason="needs a CUDA GPU")


@pytest.mark.gpu
@requires_gpu
@pytest.mark.parametrize("count", [1, "all"])
def test_real_gpus_collectives(count):
    devs = gpu_device.gpu_devices()
    devs = devs[:1] if count == 1 else devs
    n = len(devs)
    x = _x(n, n * 4, seed=8)
    for name, (f, oracle) in _collective_programs().items():
        if name in ("ppermute", "all_to_all") and n != NDEV:
            f = {"ppermute": lambda v: plax.ppermute(v, "i", [(j, (j + 1) % n)
                                                               for j in range(n)]),
                 "all_to_all": lambda v: plax.all_to_all(v.reshape(n, -1), "i", 0, 0)}[name]
        out = pmap(f, axis_name="i", devices=devs)(x)
        np.testing.assert_allclose(np.asarray(out), oracle(x, n), rtol=1e-5, atol=1e-5,
                                   err_msg=name)


@pytest.mark.gpu
@requires_gpu
def test_real_gpus_data_parallel_step():
    devs = gpu_device.gpu_devices()
    n = len(devs)
    x, y, w0 = _x(n, 8, 3, seed=9), _x(n, 8, seed=10), _x(3, seed=11)

    def loss(w, x, y):
        return fnp.mean((fnp.tanh(x @ w) - y) ** 2)

    def step(w, x, y):
        return w - 0.1 * plax.pmean(fx.grad(loss)(w, x, y), "i")
    new = pmap(step, axis_name="i", in_axes=(None, 0, 0), out_axes=None, devices=devs)(w0, x, y)
    with host_default():
        want = w0 - 0.1 * np.mean([np.asarray(fx.grad(loss)(w0, x[r], y[r]))
                                   for r in range(n)], 0)
    np.testing.assert_allclose(np.asarray(new), want, rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.mpi
@requires_gpu
@pytest.mark.parametrize("transport", ["auto", "host"])
def test_real_gpus_across_processes(tmp_path, transport):
    if transport == "auto" and (len(gpu_device.gpu_devices()) < 2 or not nccl.available()):
        pytest.skip("NCCL across processes needs NCCL and two GPUs (one per process)")
    _mpi_run(tmp_path, 1, True, {"FX_GPU_COLLECTIVES": transport})
