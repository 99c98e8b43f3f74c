"""fx/_random/gamma_xla.py, the float32 random_gamma sampler (XLA's roundings): without
JAX against the fx-program sampler it replaces (same keys consumed, same algorithm with
plainer roundings: equal to a few float32 ulps wherever the rejection loops take the
same path, which is almost everywhere), key-shape handling, and through the primitive
(eager, jit, vmap, gradient). Bit-identity with JAX: tests/random/test_distributions.py."""
from __future__ import annotations

import numpy as np
import pytest

import fx
import fx.random as fr
from fx._random import gamma as gamma_module
from fx._random.gamma_xla import gamma_f32
from fx.array import Array
from fx import core
from primitives.random import random_gamma_p, random_split_p

F32 = np.float32


def _program_sampler(keys, a, log_space):
    """The fx-program sampler (used for other dtypes), on float32."""
    with core.set_current_trace(core.eval_trace):
        out = gamma_module._gamma_sampler_jit(Array(np.asarray(keys, np.uint32)), Array(a),
                                              log_space)
    return np.asarray(out._value)


@pytest.mark.parametrize("log_space", [False, True])
def test_agrees_with_the_program_sampler(log_space):
    keys = random_split_p.impl(np.array([0, 7], np.uint32), shape=(3,))
    a = np.abs(np.random.default_rng(1).lognormal(0, 1.5, (3, 400))).astype(F32)
    got = gamma_f32(keys, a, log_space)
    want = _program_sampler(keys, a, log_space)
    assert got.shape == a.shape and got.dtype == np.float32
    close = np.isclose(got, want, rtol=1e-5, atol=1e-6)
    assert close.mean() > 0.99, close.mean()


def test_key_shapes_and_empty():
    a = np.full((2, 3), 2.5, F32)
    one_key = gamma_f32(np.array([1, 2], np.uint32), a, False)
    per_row = gamma_f32(random_split_p.impl(np.array([1, 2], np.uint32), shape=(2,)), a,
                        False)
    assert one_key.shape == per_row.shape == (2, 3)
    assert not np.array_equal(one_key, per_row)
    assert gamma_f32(np.array([1, 2], np.uint32), np.zeros((0, 4), F32), True).shape == (0, 4)


def test_primitive_uses_it_eager_and_jitted():
    keys = np.array([[3, 4], [5, 6]], np.uint32)
    a = np.array([[0.4, 1.0, 7.5], [2.0, 0.05, 30.0]], F32)
    want = gamma_f32(keys, a, False)
    np.testing.assert_array_equal(random_gamma_p.bind(keys, a, log_space=False), want)
    jitted = fx.jit(lambda k, x: random_gamma_p.bind(k, x, log_space=False))(keys, a)
    np.testing.assert_array_equal(jitted, want)
    batched = fx.vmap(lambda k, x: random_gamma_p.bind(k, x, log_space=False))(keys, a)
    np.testing.assert_array_equal(batched, want)


def test_gradient_is_the_implicit_one():
    """The sampler changed, the jvp did not: d sample / d a = random_gamma_grad(a, x)."""
    key = fr.key(3)
    a = np.array([0.5, 2.0, 9.0], F32)
    g = np.asarray(fx.grad(lambda x: fr.gamma(key, x).sum())(a))
    x = np.asarray(fr.gamma(key, a))
    want = np.asarray(fx.lax.random_gamma_grad(a, x))
    np.testing.assert_allclose(g, want, rtol=1e-6)  # (checked against SciPy in
    # tests/random/test_random_grads.py: the derivative with the CDF held fixed)
