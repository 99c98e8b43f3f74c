"""Buffer planning of the CPU compiler: intermediates whose live ranges do not overlap
share buffers, outputs get arrays of their own, and results stay those of the reference
interpreter (``eval_jaxpr``) whatever the sharing."""
from __future__ import annotations

import numpy as np
import pytest

import fx
import fx.numpy as jnp
from fx import lax
from fx.core import eval_jaxpr
from lowering.cpu.compile import compile as compile_native


def _run(f, *args):
    closed = fx.make_jaxpr(f)(*args)
    exe = compile_native(closed)
    got = exe([np.asarray(a) for a in args])
    want = eval_jaxpr(closed.jaxpr, closed.consts, *args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, np.asarray(w), rtol=2e-5, atol=1e-5)
    return exe, got


def test_chain_of_products_reuses_buffers():
    rng = np.random.default_rng(0)
    ws = [(rng.standard_normal((32, 32)) / 6).astype(np.float32) for _ in range(6)]
    x = rng.standard_normal((8, 32)).astype(np.float32)

    def f(x, *ws):
        for w in ws:
            x = jnp.tanh(x @ w)
        return x
    exe, _ = _run(f, x, *ws)
    shared_slots = len(exe._shared)
    assert shared_slots >= 10  # ten intermediates between six products
    assert len(exe._buffer_sizes) <= 3, exe._buffer_sizes


def test_outputs_never_share_and_are_fresh_each_call():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    w = np.ones((4, 4), np.float32)
    f = lambda x, w: (jnp.sin(x @ w) @ w, (x @ w) * 2)  # noqa: E731
    exe, first = _run(f, x, w)
    out_slots = set(exe._out_slots)
    assert not out_slots & {s for s, _ in exe._shared}
    second = exe([x, w])
    assert all(not np.shares_memory(a, b) for a in first for b in second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_values_read_by_a_fallback_get_their_own_array():
    x = np.linspace(-1, 1, 24, dtype=np.float32).reshape(6, 4)
    w = np.eye(4, dtype=np.float32)

    def f(x, w):
        h = jnp.exp(x @ w)
        pooled = lax.reduce_window(h, 1.0, lax.mul, (2, 1), (1, 1), "VALID")  # eager impl
        return jnp.tanh(pooled @ w) + (h @ w).sum()
    exe, _ = _run(f, x, w)
    assert exe.fallbacks
    fallback_reads = {s for st in exe._steps if not hasattr(st, "groups")
                      for s in st.in_slots if isinstance(s, int)}
    assert not fallback_reads & {s for s, _ in exe._shared}


def test_loops_with_shared_intermediates_match_reference():
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((16, 16)) / 4).astype(np.float32)
    xs = rng.standard_normal((5, 4, 16)).astype(np.float32)

    def f(xs, w):
        a = jnp.tanh(xs[0] @ w) @ w
        _, ys = lax.scan(lambda h, x: (jnp.tanh(h @ w + x), h @ w), a, xs)
        return jnp.sin(ys @ w) @ w
    _run(f, xs, w)


def test_donated_arguments_receive_outputs_in_place_and_are_deleted():
    step = lambda p, g: (p - 0.1 * g, (g * g).sum())  # noqa: E731
    f = fx.jit(step, donate_argnums=0)
    rng = np.random.default_rng(2)
    p_np = rng.standard_normal(64).astype(np.float32)
    g_np = rng.standard_normal(64).astype(np.float32)
    p = jnp.asarray(p_np)
    g = jnp.asarray(g_np)
    want = p_np.copy()
    buffers = []
    for _ in range(4):
        old = p
        p, _ = f(p, g)
        want = want - np.float32(0.1) * g_np
        assert old.is_deleted()
        buffers.append(p._value)
        np.testing.assert_allclose(p, want, rtol=1e-5, atol=1e-6)  # FMA-contracted
    # from the second step on, each output lands in the donated buffer of the step before
    assert np.shares_memory(buffers[1], buffers[2]) and np.shares_memory(buffers[2], buffers[3])
    np.testing.assert_allclose(p_np, rng.__class__(np.random.PCG64(2)).standard_normal(64)
                               .astype(np.float32))  # the caller's NumPy array is untouched
    with pytest.raises(RuntimeError, match="deleted"):
        f(old, g)


def test_donation_never_aliases_a_value_still_needed():
    x = jnp.arange(16.0, dtype=jnp.float32).reshape(4, 4)
    f = fx.jit(lambda x: (x.T * 2, x[::-1] + 1), donate_argnums=0)
    a, b = f(x)
    a2, b2 = f(a)  # a is owned now: its buffer may be reused only where it is safe
    base = np.arange(16.0, dtype=np.float32).reshape(4, 4)
    np.testing.assert_array_equal(a2, (base.T * 2).T * 2)
    np.testing.assert_array_equal(b2, (base.T * 2)[::-1] + 1)
