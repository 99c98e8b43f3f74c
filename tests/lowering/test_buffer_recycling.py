"""Buffers an executable recycles across calls (lowering/cpu/buffers.py): a large output
is reused only once nothing refers to it or to its memory (the array, a view, a NumPy
array from ``np.asarray``, a memoryview), scratch sets never serve two calls at once;
oracle: NumPy on the same inputs, and the values of earlier results, which must never
change."""
from __future__ import annotations

import threading

import numpy as np

import fx
import fx.numpy as jnp
from lowering import cpu
from lowering.cpu import buffers

N = (buffers.RECYCLE_BYTES // 4) * 2  # float32 elements: a recycled output


def _f(x, w):
    return jnp.tanh(x * w + 1.0) * 2.0


def _exe(n=N):
    x = np.ones(n, np.float32)
    return cpu.compile(fx.make_jaxpr(_f)(x, np.float32(0.5)))


def _inputs(seed, n=N):
    return np.random.default_rng(seed).standard_normal(n).astype(np.float32), \
        np.float32(0.1 * (seed + 1))


def _want(x, w):
    return np.tanh(x * w + np.float32(1.0)) * np.float32(2.0)


def test_a_dropped_output_is_reused():
    exe = _exe()
    (a,) = exe(list(_inputs(0)))
    address = a.ctypes.data
    del a
    x, w = _inputs(1)
    (b,) = exe([x, w])
    assert b.ctypes.data == address
    np.testing.assert_allclose(b, _want(x, w), rtol=1e-5, atol=1e-6)


def test_referenced_outputs_are_never_overwritten():
    exe = _exe()
    x0, w0 = _inputs(0)
    (a,) = exe([x0, w0])
    want_a = _want(x0, w0)
    (b,) = exe(list(_inputs(1)))
    view = b[5:]                      # a view keeps b's memory alive
    buf = memoryview(exe(list(_inputs(2)))[0])  # so does an exported buffer
    want_view, want_buf = np.array(view), np.array(buf)
    del b
    outs = [exe(list(_inputs(k)))[0] for k in range(3, 8)]
    np.testing.assert_allclose(a, want_a, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(view, want_view)
    np.testing.assert_array_equal(np.asarray(buf), want_buf)
    for k, o in enumerate(outs, 3):
        np.testing.assert_allclose(o, _want(*_inputs(k)), rtol=1e-5, atol=1e-6)
    addresses = {o.ctypes.data for o in outs} | {a.ctypes.data}
    assert len(addresses) == len(outs) + 1


def test_jit_outputs_held_by_the_user_keep_their_values():
    f = fx.jit(_f)
    results, wants = [], []
    for k in range(6):
        x, w = _inputs(k)
        y = f(x, w)
        if k % 2 == 0:
            results.append(y)                 # an fx.Array
        else:
            results.append(np.asarray(y))     # the NumPy array under it
        wants.append(_want(x, w))
        del y
    for got, want in zip(results, wants):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)


def test_training_loop_reuses_two_buffers():
    step = fx.jit(lambda w, g: w - 0.1 * jnp.tanh(g * w))
    w = jnp.asarray(np.linspace(-1, 1, N, dtype=np.float32))
    g = np.float32(0.5)
    want = np.asarray(w).copy()
    addresses = set()
    for _ in range(8):
        w = step(w, g)
        want = want - np.float32(0.1) * np.tanh(g * want)
        addresses.add(np.asarray(w).ctypes.data)
    np.testing.assert_allclose(np.asarray(w), want, rtol=1e-5)
    assert len(addresses) <= buffers.SPARES_PER_OUTPUT + 1


def test_concurrent_calls_use_separate_scratch():
    # a program with intermediates that live in scratch buffers (two large reductions)
    def g(x):
        h = jnp.exp(x @ x.T)
        return h.sum(0) + jnp.tanh(h).sum(1)
    x = np.random.default_rng(0).standard_normal((256, 64)).astype(np.float32) * 0.1
    f = fx.jit(g)
    f(x)
    inputs = [x * np.float32(1 + k / 10) for k in range(8)]
    wants = [np.exp(v @ v.T).sum(0) + np.tanh(np.exp(v @ v.T)).sum(1) for v in inputs]
    errors = []

    def work(k):
        try:
            for _ in range(20):
                np.testing.assert_allclose(np.asarray(f(inputs[k])), wants[k], rtol=1e-4)
        except AssertionError as err:  # pragma: no cover - the failure is reported below
            errors.append(err)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_small_outputs_are_not_pooled():
    exe = _exe(n=16)
    assert not exe._buffers.recycled and len(exe._buffers.small) == 1
