"""Equations that used to fall back to their eager impl and now compile: calls with
custom derivative rules, remat and annotations are inlined (the compiled program is the
primal), dynamic_update_slice fuses as an index operation, nextafter has a scalar rule.
Each checked against the reference interpreter, with bounds checks compiled in."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

import fx
import fx.numpy as jnp
from fx._testing import assert_same, close, compile_and_compare
from fx import lax


def _check(f, *args, exact=False):
    return compile_and_compare(f, *args, bounds_check=True,
                               compare=assert_same if exact else close(2e-6, 1e-6))[1]


def test_custom_derivative_calls_remat_and_names_are_inlined():
    x = np.linspace(-3, 3, 12, dtype=np.float32)
    _check(lambda x: fx.nn.relu(x) + fx.nn.softplus(x) + fx.nn.logsumexp(x), x)
    _check(fx.grad(lambda x: (fx.nn.relu(x) * fx.nn.gelu(x)).sum()), x)
    _check(fx.grad(lambda x: fx.checkpoint(lambda y: jnp.sin(y) * 2)(x).sum()), x)

    @fx.custom_vjp
    def clip_grad(v):
        return v * 1.0

    clip_grad.defvjp(lambda v: (v, None), lambda _, g: (jnp.clip(g, -1, 1),))
    _check(lambda x: clip_grad(x) ** 2, x)
    _check(fx.grad(lambda x: (clip_grad(x) ** 2).sum()), x)
    exe = _check(lambda x: lax.optimization_barrier(x * 2) + 1, x)
    assert len(exe.groups) == 1


@given(rows=st.integers(1, 6), cols=st.integers(1, 7), urows=st.integers(0, 6),
       ucols=st.integers(0, 7), i=st.integers(-8, 8), j=st.integers(-8, 8))
def test_dynamic_update_slice_fuses(rows, cols, urows, ucols, i, j):
    urows, ucols = min(urows, rows), min(ucols, cols)
    x = np.arange(rows * cols, dtype=np.float32).reshape(rows, cols)
    u = -np.arange(1, urows * ucols + 1, dtype=np.float32).reshape(urows, ucols)
    exe = _check(lambda x, u, i, j: lax.dynamic_update_slice(x * 2, jnp.sin(u), (i, j)) + 1,
                 x, u, np.int32(i), np.int32(j))
    assert [g.kind for g in exe.groups] == ["loop"]


def test_dynamic_update_slice_in_a_loop_and_under_reductions():
    x = np.arange(24, dtype=np.float32).reshape(4, 6)
    _check(lambda x: lax.fori_loop(0, 4, lambda k, b: b.at[k].set(jnp.cos(b[k]) * k), x), x)
    _check(lambda x: lax.dynamic_update_slice(x, x[:2, :3] * 3, (1, 2)).sum(axis=1), x)


@pytest.mark.parametrize("dtype", [np.float32])
def test_nextafter_matches_numpy_bit_for_bit(dtype):
    tiny = np.finfo(dtype).smallest_subnormal
    x = np.array([0, -0.0, 1, -1, 1, np.inf, -np.inf, np.nan, 3, tiny, -2,
                  np.finfo(dtype).max, -tiny], dtype)
    y = np.array([1, -1, 2, -2, 0, 0, 0, 1, np.nan, 0, -2, np.inf, 1], dtype)
    _check(lax.nextafter, x, y, exact=True)
    got = np.asarray(fx.jit(lax.nextafter)(x, y))
    want = np.nextafter(x, y)
    np.testing.assert_array_equal(got, want)
    assert (np.signbit(got) == np.signbit(want)).all()
