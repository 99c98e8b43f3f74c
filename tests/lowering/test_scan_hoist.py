"""The scan pass that hoists carry-free products out of the body
(lowering/scan_hoist.py): what moves, what does not, and that the rewritten program
computes what the original does (oracle: the reference interpreter on the original
jaxpr, and NumPy loops), under jit, grad and vmap."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as jnp
from fx import lax
from fx.core import eval_jaxpr
from lowering import scan_hoist
from lowering.passes import optimize

RNG = np.random.default_rng(0)


def _rnn(xs, h0, wx, wh, b, reverse=False):
    def step(h, x):
        h = jnp.tanh(x @ wx + h @ wh + b)
        return h, h
    return lax.scan(step, h0, xs, reverse=reverse)


def _args(T=6, B=3, H=4):
    return [RNG.standard_normal(s).astype(np.float32) * 0.5
            for s in [(T, B, H), (B, H), (H, H), (H, H), (H,)]]


def _body_dots(closed):
    (scan,) = [e for e in closed.jaxpr.eqns if e.primitive.name == "scan"]
    return sum(e.primitive.name == "dot_general" for e in scan.params["jaxpr"].jaxpr.eqns)


def _outer_dots(closed):
    return sum(e.primitive.name == "dot_general" for e in closed.jaxpr.eqns)


def _numpy_rnn(xs, h0, wx, wh, b, reverse=False):
    h, out = h0, [None] * len(xs)
    for t in (reversed(range(len(xs))) if reverse else range(len(xs))):
        h = np.tanh(xs[t] @ wx + h @ wh + b)
        out[t] = h
    return h, np.stack(out)


@pytest.mark.parametrize("reverse", [False, True])
def test_input_projection_moves_out_of_the_loop(reverse):
    args = _args()
    closed = fx.make_jaxpr(lambda *a: _rnn(*a, reverse=reverse))(*args)
    hoisted = scan_hoist.hoist_scan_products(closed)
    assert _body_dots(closed) == 2 and _body_dots(hoisted) == 1
    assert _outer_dots(hoisted) == 1
    got = eval_jaxpr(hoisted.jaxpr, hoisted.consts, *args)
    want = eval_jaxpr(closed.jaxpr, closed.consts, *args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-6)
    for g, w in zip(fx.jit(lambda *a: _rnn(*a, reverse=reverse))(*args),
                    _numpy_rnn(*args, reverse=reverse)):
        np.testing.assert_allclose(np.asarray(g), w, rtol=1e-5, atol=1e-6)


def test_nothing_moves_without_a_product_or_with_carry_dependence():
    xs = RNG.standard_normal((5, 4)).astype(np.float32)
    elementwise = fx.make_jaxpr(lambda xs: lax.scan(lambda c, x: (c + jnp.sin(x), c),
                                                    jnp.zeros(4), xs))(xs)
    assert scan_hoist.hoist_scan_products(elementwise) is elementwise
    w = RNG.standard_normal((4, 4)).astype(np.float32)
    carried = fx.make_jaxpr(lambda xs: lax.scan(lambda c, x: ((c * x) @ w, c),
                                                jnp.ones(4), xs))(xs)
    assert scan_hoist.hoist_scan_products(carried) is carried


def test_too_large_intermediates_stay(monkeypatch):
    args = _args()
    closed = fx.make_jaxpr(_rnn)(*args)
    monkeypatch.setattr(scan_hoist, "MAX_HOISTED_BYTES", 16)
    assert scan_hoist.hoist_scan_products(closed) is closed


@settings(max_examples=15, deadline=None)
@given(T=st.integers(2, 7), B=st.integers(1, 3), H=st.integers(1, 5), reverse=st.booleans(),
       n_xs=st.integers(1, 2))
def test_hoisted_programs_match_the_original(T, B, H, reverse, n_xs):
    xs = [RNG.standard_normal((T, B, H)).astype(np.float32) for _ in range(n_xs)]
    w = RNG.standard_normal((H, H)).astype(np.float32)
    u = RNG.standard_normal((H, H)).astype(np.float32)

    def f(h0, *xs):
        def step(h, x):
            proj = sum(xi @ w for xi in x) * 0.5
            h = jnp.tanh(proj + h @ u)
            return h, (h, proj)             # a moved value is also returned per step
        return lax.scan(step, h0, tuple(xs), reverse=reverse)
    h0 = np.zeros((B, H), np.float32)
    closed = fx.make_jaxpr(f)(h0, *xs)
    opt = optimize(closed)
    want = eval_jaxpr(closed.jaxpr, closed.consts, h0, *xs)
    got = eval_jaxpr(opt.jaxpr, opt.consts, h0, *xs)
    for g, wv in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(wv), rtol=1e-4, atol=1e-5)
    for g, wv in zip(fx.tree_util.tree_leaves(fx.jit(f)(h0, *xs)), want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(wv), rtol=1e-4, atol=1e-5)


def test_grad_and_vmap_of_a_hoisted_scan():
    args = _args(T=5, B=2, H=3)

    def loss(wx, xs, h0, wh, b):
        return (_rnn(xs, h0, wx, wh, b)[1] ** 2).sum()
    wx = args[2]
    g_jit = fx.jit(fx.grad(loss))(wx, args[0], args[1], args[3], args[4])
    g_eager = fx.grad(loss)(wx, args[0], args[1], args[3], args[4])
    np.testing.assert_allclose(np.asarray(g_jit), np.asarray(g_eager), rtol=1e-4, atol=1e-5)
    eps = 1e-3
    d = np.zeros_like(wx)
    d[0, 1] = eps
    fd = (loss(wx + d, *args[:2], *args[3:]) - loss(wx - d, *args[:2], *args[3:])) / (2 * eps)
    np.testing.assert_allclose(np.asarray(g_jit)[0, 1], fd, rtol=2e-2)
    batch = np.stack([args[0], args[0] * 0.5])
    got = fx.jit(fx.vmap(lambda xs: _rnn(xs, *args[1:])[1]))(batch)
    for k in range(2):
        np.testing.assert_allclose(np.asarray(got[k]), _numpy_rnn(batch[k], *args[1:])[1],
                                   rtol=1e-5, atol=1e-6)
