"""Native control flow in the CPU compiler: while, scan (fori_loop) and cond/switch run
as loops and branches inside the module, checked against the reference interpreter
(``eval_jaxpr`` on the eager impls), with and without compiled bounds checks.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

import fx
import fx.numpy as jnp
from fx._testing import close, compile_and_compare
from fx import lax


def _check(f, *args, native=True, bounds_check=False, rtol=2e-6):
    return compile_and_compare(f, *args, bounds_check=bounds_check, native=native,
                               compare=close(rtol, 1e-6))[1]


@pytest.mark.parametrize("bounds_check", [False, True])
def test_fori_loop_and_while(bounds_check):
    x = np.arange(5, dtype=np.float32)
    _check(lambda x: lax.fori_loop(0, 10, lambda i, c: c * 1.5 + i, x), x,
           bounds_check=bounds_check)
    _check(lambda x: lax.while_loop(lambda c: c[0] < 100, lambda c: (c[0] * 2 + 1, c[1] + c[0]),
                                    (x[0], x)), x, bounds_check=bounds_check)
    # a loop that never runs
    _check(lambda x: lax.while_loop(lambda c: c[0] > 1e9, lambda c: (c[0] + 1, c[1] * 2),
                                    (x[0], x)), x, bounds_check=bounds_check)


def test_carries_swapped_and_passed_through():
    x = np.arange(4, dtype=np.float32)
    _check(lambda x: lax.fori_loop(0, 5, lambda i, c: (c[1], c[0] + 1), (x, x * 2)), x)
    _check(lambda x: lax.fori_loop(0, 3, lambda i, c: (c[0], c[1], c[0] * c[1]),
                                   (x, x + 1, x)), x)
    _check(lambda x: lax.fori_loop(0, 4, lambda i, c: (c[2], c[0], c[1]),
                                   (x, x + 1, x + 2)), x)


def test_integer_and_bool_carries():
    def f(n):
        def body(c):
            k, acc, flag = c
            return k + 1, acc * 3 % 1000003, jnp.logical_not(flag)
        return lax.while_loop(lambda c: c[0] < n, body, (np.int32(0), np.int32(1), True))
    _check(f, np.int32(17))
    _check(f, np.int32(-1))


@given(length=st.integers(0, 9), batch=st.integers(1, 4), hidden=st.integers(1, 7),
       reverse=st.booleans())
def test_scan_rnn_matches_interpreter(length, batch, hidden, reverse):
    rng = np.random.default_rng(length * 100 + batch * 10 + hidden)
    xs = rng.standard_normal((length, batch, hidden)).astype(np.float32)
    h0 = rng.standard_normal((batch, hidden)).astype(np.float32)
    w = (rng.standard_normal((hidden, hidden)) / np.sqrt(hidden)).astype(np.float32)

    def rnn(xs, h0, w):
        def step(h, x):
            h = jnp.tanh(x @ w + h @ w + 0.1)
            return h, (h.sum(axis=1), x * 2)
        return lax.scan(step, h0, xs, reverse=reverse)
    _check(rnn, xs, h0, w, rtol=1e-5)


def test_scan_without_xs_and_with_consts():
    w = np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)
    _check(lambda w: lax.scan(lambda c, _: (c * 0.5 + w, c.sum()), jnp.zeros_like(w), None,
                              length=6), w)


@pytest.mark.parametrize("index", [-3, 0, 1, 2, 7])
def test_switch_clamps_index(index):
    x = np.arange(6, dtype=np.float32)
    branches = [lambda x: x + 1, lambda x: jnp.sin(x), lambda x: x * 3]
    _check(lambda i, x: lax.switch(i, branches, x), np.int32(index), x)


@pytest.mark.parametrize("pred", [True, False])
def test_cond_with_pass_through_and_literal_outputs(pred):
    x = np.arange(3, dtype=np.float32)
    _check(lambda p, x: lax.cond(p, lambda x: (x, 1.0), lambda x: (x * 2, 2.0), x),
           np.bool_(pred), x)


def test_nested_loops_and_cond_in_loop():
    x = np.arange(4, dtype=np.float32)
    _check(lambda x: lax.fori_loop(0, 3, lambda i, c: lax.fori_loop(
        0, 4, lambda j, d: d * 1.1 + i, c), x), x)
    _check(lambda x: lax.fori_loop(0, 6, lambda i, c: lax.cond(
        i % 2 == 0, lambda c: c + 1.0, lambda c: c * 2.0, c), x), x)


def test_shared_body_used_twice():
    x = np.arange(4, dtype=np.float32)

    def body(i, c):
        return c * 2 + 1

    def f(x):
        a = lax.fori_loop(0, 3, body, x)
        b = lax.fori_loop(0, 3, body, x + 10)
        return a, b
    _check(f, x)


def test_body_with_fallback_runs_eager_and_is_correct():
    x = np.arange(4, dtype=np.float32)
    # (a reduce_window with a generic computation, a product, has no native code)
    body = lambda i, c: lax.reduce_window(c, 1.0, lax.mul, (2,), (1,), "SAME") * 0.5
    exe = _check(lambda x: lax.fori_loop(0, 3, body, x), x, native=False)
    assert [e.primitive.name for e in exe.fallbacks] == ["scan"]


def test_grad_of_scan_compiles_natively():
    xs = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)

    def loss(w, xs):
        def step(h, x):
            h = jnp.tanh(h * w + x)
            return h, h
        _, hs = lax.scan(step, jnp.zeros(3, jnp.float32), xs)
        return (hs ** 2).sum()
    w = np.float32(0.7)
    _check(fx.grad(loss), w, xs, rtol=1e-5)
    eps = 1e-3
    fd = (loss(w + eps, xs) - loss(w - eps, xs)) / (2 * eps)
    np.testing.assert_allclose(fx.jit(fx.grad(loss))(w, xs), fd, rtol=2e-2)


def test_jit_runs_native_loop_and_vmap_of_loop():
    f = fx.jit(lambda x: lax.fori_loop(0, 20, lambda i, c: c * 0.9 + jnp.cos(c), x))
    xs = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    want = np.stack([np.asarray(f(x)) for x in xs])
    np.testing.assert_allclose(fx.vmap(f)(xs), want, rtol=1e-6)


def test_body_constants_are_part_of_the_cache_key():
    # two programs differing only in a small constant closed over by a loop body: the
    # constant may be folded into the code, so they must not share compiled code
    for c in (2.0, 3.0):
        w = np.full(4, c, np.float32)
        got = fx.jit(lambda x, w=w: lax.fori_loop(0, 3, lambda i, h: h * w + 1.0, x))(
            np.ones(4, np.float32))
        want = np.ones(4, np.float32)
        for _ in range(3):
            want = want * w + 1
        np.testing.assert_array_equal(got, want)
