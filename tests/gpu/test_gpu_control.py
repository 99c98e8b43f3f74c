"""Control flow in GPU-compiled programs (``lowering.gpu.control``), checked without a
GPU: ``while``, ``scan``/``fori_loop`` and ``cond``/``switch`` run as host loops over
the generated kernels (compiled for the host by ``lowering.gpu.emulate``), static
scans as two captured graphs replayed per iteration (the emulation records and
replays launches), compared with the reference interpreter; the CUDA source of each
program also goes through NVRTC. The ``gpu`` tests run the same programs on a device.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as jnp
from fx import lax
from fx.interpreters.jit import Executable as Reference
from lowering.gpu import nvrtc
from lowering.gpu import compile as gpu_compile

RNG = np.random.default_rng(3)


def nvrtc_check(exe) -> None:
    if not exe.specs or not nvrtc.available() or not nvrtc.include_dirs():
        return  # the kernel tests skip visibly; here the emulated run is the point
    binary = nvrtc.compile_cubin(exe.source, "sm_90")
    for s in exe.specs:
        assert s.name.encode() in binary


def check(rt, f, *args, tol=2e-5, source=True):
    """Compile ``f`` for ``rt``, run it, compare with the reference interpreter."""
    args = [np.asarray(a) for a in args]
    closed = fx.make_jaxpr(f)(*args)
    exe = gpu_compile.compile(closed, runtime=rt)
    if source:
        nvrtc_check(exe)
    got = [rt.to_host(o) for o in exe([rt.asarray(a) for a in args])]
    want = Reference(closed)([a.copy() for a in args])
    assert len(got) == len(want)
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)
    return exe


def control_steps(exe):
    return [s[1] for s in exe.program.steps if s[0] == "control"]


def normal(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------------------
# scan and fori_loop


def fori(n):
    return lambda x: lax.fori_loop(0, n, lambda i, c: jnp.tanh(c * 1.1 + i * 0.01), x)


def test_fori_loop_static_bounds_is_a_graph_replay(host, monkeypatch):
    """Constant bounds: a scan; its body (kernels only) is captured twice (even and odd
    iterations) and replayed once per iteration, so the host issues the same launches
    whatever the trip count."""
    x = normal(37)
    issued = []
    for n in (5, 40):
        c0, r0, l0 = host.captures, host.graph_replays, len(host.launches)
        exe = check(host, fori(n), x)
        (step,) = control_steps(exe)
        assert step.graph is not None
        assert host.captures - c0 == 2 and host.graph_replays - r0 == n
        issued.append(len(host.launches) - l0)
    assert issued[0] == issued[1]
    monkeypatch.setenv("FX_GPU_GRAPHS", "0")
    l0, r0 = len(host.launches), host.graph_replays
    check(host, fori(40), x)
    assert host.graph_replays == r0 and len(host.launches) - l0 >= 40


def test_fori_loop_dynamic_bounds_is_a_while(host):
    x = normal(9)
    reads = host.scalar_reads
    check(host, lambda n, x: lax.fori_loop(0, n, lambda i, c: c * 0.5 + jnp.sin(c), x),
          np.int32(6), x)
    assert host.scalar_reads - reads == 7  # one predicate per iteration, and the last


def make_scan(reverse, kind):
    """Scans covering each way a body output reaches its place: kernel outputs (written
    in place), carries passed through or swapped, a literal carry, a carry that is also
    a ys output, a ys output that is a body input."""
    def f(h, xs, w):
        def body(c, x):
            a, b, k = c
            if kind == "swap":
                return (b, a + x, k), (a * 2, x)
            if kind == "literal":
                return (a * w + x, jnp.float32(1.5) * jnp.ones_like(b), k + 1), a + b
            if kind == "carry_is_y":
                new = jnp.cos(a) + x
                return (new, b - new * 0.25, k * 2), new
            return (jnp.tanh(a + x), b * 0.5 + jnp.sin(x) * w, k - 1), (a * x, jnp.exp(-b))
        return lax.scan(body, (h, h * 2, jnp.int32(3)), xs, reverse=reverse)
    return f


@pytest.mark.parametrize("graphs", ["1", "0"])
@settings(max_examples=12, deadline=None)
@given(length=st.integers(0, 6), reverse=st.booleans(),
       kind=st.sampled_from(["plain", "swap", "literal", "carry_is_y"]),
       width=st.sampled_from([1, 3, 8, 33]))
def test_scan_carries_and_slices(host, graphs, length, reverse, kind, width):
    import os
    os.environ["FX_GPU_GRAPHS"] = graphs
    try:
        xs = normal(length, width)
        check(host, make_scan(reverse, kind), normal(width), xs, np.float32(0.7),
              source=False)
    finally:
        os.environ.pop("FX_GPU_GRAPHS", None)


def test_scan_plain_iterations_copy_nothing_a_kernel_writes(host, monkeypatch):
    """Without graphs, carries and ys written by kernels go straight to their buffers."""
    monkeypatch.setenv("FX_GPU_GRAPHS", "0")
    copies = []
    monkeypatch.setattr(host, "copy", lambda dst, src: (copies.append(1),
                                                        np.copyto(dst, src)))

    def f(h, xs):
        return lax.scan(lambda c, x: (jnp.tanh(c + x), c * x), h, xs)
    check(host, f, normal(16), normal(7, 16))
    assert copies == []


def test_scan_with_products_runs_plain_launches(host):
    """A body with a cuBLAS product is not captured (plain launches per iteration)."""
    w = normal(8, 8) * 0.3

    def rnn(h, xs, w):
        return lax.scan(lambda h, x: (jnp.tanh(h @ w + x), (h * 2).sum(-1)), h, xs)
    r0 = host.graph_replays
    exe = check(host, rnn, normal(4, 8), normal(5, 4, 8), w, tol=1e-5)
    (step,) = control_steps(exe)
    assert step.graph is None and host.graph_replays == r0


def test_scan_gradient(host):
    """The transposed (reverse) scan of a gradient, compiled for the GPU."""
    def loss(w, xs):
        def body(h, x):
            h = jnp.tanh(h * w + x)
            return h, h
        h, ys = lax.scan(body, jnp.zeros_like(w), xs)
        return jnp.sum(ys ** 2) + jnp.sum(h)
    check(host, fx.grad(loss), normal(6), normal(5, 6), tol=1e-5)


def test_failed_capture_falls_back_to_plain_launches(host, monkeypatch):
    def broken():
        raise RuntimeError("capture is not supported here")
    monkeypatch.setattr(host, "begin_capture", broken)
    r0 = host.graph_replays
    check(host, fori(6), normal(11))
    assert host.graph_replays == r0


def test_body_with_a_fallback_stays_native(host):
    """An equation without a kernel runs on the host inside the loop; the rest of the
    body and the carries stay on the device."""
    def f(x):
        return lax.fori_loop(0, 3, lambda i, c: jnp.cumsum(c * 0.5), x)
    exe = check(host, f, normal(10))
    assert not exe.fallbacks and control_steps(exe)


# ---------------------------------------------------------------------------
# while and cond


def test_while_reads_only_the_predicate(host, monkeypatch):
    """The carry never comes back to the host: one scalar read per test of the
    predicate (which is computed on the device)."""
    monkeypatch.setattr(host, "to_host", lambda a: pytest.fail("a carry came back"))
    reads = host.scalar_reads

    def f(x):
        return lax.while_loop(lambda c: c[1] < 9, lambda c: (c[0] * 0.9 + 0.1, c[1] + 1),
                              (x, jnp.int32(0)))
    x = normal(50)
    closed = fx.make_jaxpr(f)(x)
    exe = gpu_compile.compile(closed, runtime=host)
    got = exe([host.asarray(x)])
    assert host.scalar_reads - reads == 10
    monkeypatch.undo()
    want = Reference(closed)([x])
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-5)


def test_while_with_data_dependent_trip_count(host):
    def f(x):
        return lax.while_loop(lambda c: jnp.max(jnp.abs(c)) > 0.01, lambda c: c * 0.5, x)
    check(host, f, normal(3, 17) * 4)


@pytest.mark.parametrize("index", [-3, 0, 1, 2, 7])
def test_switch_clamps_the_index(host, index):
    branches = [lambda x, y: (x * 2, y), lambda x, y: (jnp.sin(x), y + 1),
                lambda x, y: (-x, y * 3)]
    check(host, lambda i, x, y: lax.switch(i, branches, x, y), np.int32(index), normal(13),
          np.int32(4))


@pytest.mark.parametrize("pred", [True, False])
def test_cond_on_a_device_predicate(host, pred):
    def f(x):
        return lax.cond(jnp.sum(x) > 0 if pred else jnp.sum(x) > 1e9,
                        lambda x: jnp.exp(x), lambda x: x - 1, x)
    check(host, f, np.abs(normal(21)))


def test_nested_control_flow(host):
    """cond inside a scan inside a while."""
    def f(x, xs):
        def inner(c, xi):
            c = lax.cond(xi[0] > 0, lambda c: c + xi, lambda c: c * 0.5, c)
            return c, c.sum()
        def body(carry):
            v, n = carry
            v, _ = lax.scan(inner, v, xs)
            return v, n + 1
        return lax.while_loop(lambda c: c[1] < 3, body, (x, 0))
    exe = check(host, f, normal(5), normal(4, 5))
    (step,) = control_steps(exe)
    assert step.__class__.__name__ == "WhileStep"


# ---------------------------------------------------------------------------
# on a GPU

@pytest.mark.gpu
@pytest.mark.parametrize("graphs", ["1", "0"])
def test_control_flow_on_gpu(gpu, graphs, monkeypatch):
    monkeypatch.setenv("FX_GPU_GRAPHS", graphs)
    check(gpu, fori(50), normal(4099))
    for kind in ("plain", "swap", "literal", "carry_is_y"):
        for reverse in (False, True):
            check(gpu, make_scan(reverse, kind), normal(300), normal(7, 300),
                  np.float32(0.7))
    w = normal(64, 64) * 0.1
    check(gpu, lambda h, xs, w: lax.scan(lambda h, x: (jnp.tanh(h @ w + x), h), h, xs),
          normal(32, 64), normal(6, 32, 64), w, tol=1e-4)
    check(gpu, lambda x: lax.while_loop(lambda c: jnp.max(jnp.abs(c)) > 0.01,
                                        lambda c: c * 0.5, x), normal(3, 1000) * 4)
    branches = [lambda x: x * 2, lambda x: jnp.sin(x), lambda x: -x]
    for i in (-1, 1, 5):
        check(gpu, lambda i, x: lax.switch(i, branches, x), np.int32(i), normal(999))
