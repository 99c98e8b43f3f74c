"""dirichlet's XLA arithmetic: fx/_random/ynn_sum.py (YNNPACK's order of summation),
xla_math64's YNNPACK float64 log/exp, gamma_xla64.dirichlet_f64, and the draws of
``fx.random.dirichlet`` bit for bit against JAX's (float32 and float64, eager and jitted,
across XLA's regimes: below 16 elements, up to 4096, from 4096 YNNPACK with rows of up to
5000). Without JAX: sums against exact ones (math.fsum) and the float64 functions against
NumPy's."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
from fx._testing import x64_with_jax as enable_x64
import fx.random as fr
from fx._random.gamma_xla64 import dirichlet_f64
from fx._random.xla_math64 import ynn_exp_f64, ynn_log_f64
from fx._random.ynn_sum import ynn_sum_last

F32, F64 = np.float32, np.float64


# ---------------------------------------------------------------------------
# without JAX

@settings(max_examples=25, deadline=None)
@given(st.sampled_from([F32, F64]), st.integers(1, 4), st.integers(1, 3000), st.integers(0, 99))
def test_ynn_sum_is_a_sum(dtype, rows, k, seed):
    x = np.random.default_rng(seed).lognormal(0, 2, (rows, k)).astype(dtype)
    got = ynn_sum_last(x)
    assert got.dtype == dtype and got.shape == (rows,)
    exact = np.array([math.fsum(r) for r in x.astype(F64)])
    # a compensated blocked sum: within a few ulps of the exact total
    np.testing.assert_allclose(got, exact, rtol=8 * np.finfo(dtype).eps * max(1, k / 256))


def test_ynn_sum_order_on_exact_cases():
    # 16 lanes: lane 0 gets x0 and x16; halves fold lane j with j + 8: 1 + 2**24 + 1 in
    # float32 keeps both ones only where they meet before the big value
    x = np.zeros((1, 32), F32)
    x[0, 0], x[0, 16], x[0, 8] = 1, 1, 2.0 ** 24
    assert ynn_sum_last(x)[0] == 2.0 ** 24 + 2  # (x0 + x16) first, then + x8
    y = np.zeros((1, 32), F32)
    y[0, 0], y[0, 8], y[0, 1] = 1, 2.0 ** 24, 1
    assert ynn_sum_last(y)[0] == 2.0 ** 24  # 1 + 2**24 rounds to even, then the other 1
    # 2**25 then ones: lane 0's first chain ((0 + 2**25) + 1) + 1) + 1 loses its three
    # ones (the float32 spacing there is 4); every later chain of four ones adds 4 exactly
    z = np.full((1, 4096), 1.0, F32)
    z[0, 0] = 2.0 ** 25
    assert ynn_sum_last(z)[0] == F32(2.0 ** 25 + 4092)
    with pytest.raises(TypeError, match="float32 or float64"):
        ynn_sum_last(np.ones((2, 3), np.float16))


def test_ynn_float64_log_and_exp_are_accurate():
    rng = np.random.default_rng(0)
    x = rng.lognormal(0, 20, 20000)
    np.testing.assert_allclose(ynn_log_f64(x), np.log(x), rtol=4e-16, atol=1e-300)
    t = rng.uniform(-700, 700, 20000)
    np.testing.assert_allclose(ynn_exp_f64(t), np.exp(t), rtol=4e-16)
    special = ynn_log_f64(np.array([0.0, -1.0, np.inf, np.nan, 1e-310]))
    assert special[0] == -np.inf and np.isnan(special[1]) and special[2] == np.inf
    assert np.isnan(special[3]) and special[4] == -np.inf  # (subnormals read as zero)
    out = ynn_exp_f64(np.array([-np.inf, np.inf, np.nan, -800.0, 0.0]))
    assert out[0] == 0 and out[1] == np.inf and np.isnan(out[2]) and out[3] == 0
    assert out[4] == 1


@pytest.mark.parametrize("shape", [(3, 5), (1000, 5), (2, 3000)])
def test_dirichlet_f64_is_the_softmax_of_the_log_gamma_draws(shape):
    from fx._random.gamma_xla64 import gamma_f64
    keys = np.array([7, 9], np.uint32)
    a = np.random.default_rng(1).uniform(0.05, 5, shape)
    got = dirichlet_f64(keys, a)
    log_g = gamma_f64(keys, a, True)
    e = np.exp(log_g - log_g.max(-1, keepdims=True))
    np.testing.assert_allclose(got, e / e.sum(-1, keepdims=True), rtol=1e-13, atol=1e-300)
    assert dirichlet_f64(keys, np.zeros((0, 3))).shape == (0, 3)


# ---------------------------------------------------------------------------
# with JAX: bit for bit

@pytest.mark.jax
@settings(max_examples=20, deadline=None)
@given(st.sampled_from([F32, F64]),
       st.lists(st.integers(1, 3000), min_size=1, max_size=3),
       st.integers(0, 99))
def test_ynn_sum_matches_xla_through_ynnpack(dtype, ks, seed):
    jax = pytest.importorskip("jax")
    with enable_x64():
        f = jax.jit(lambda v: v.sum(-1))
        for k in ks:
            rows = -(-4096 // k)  # (4096 elements or more: YNNPACK)
            x = np.random.default_rng(seed).lognormal(0, 2, (rows, k)).astype(dtype)
            x[np.random.default_rng(seed + 1).random(x.shape) < 0.3] *= -1
            np.testing.assert_array_equal(ynn_sum_last(x), np.asarray(f(x)), err_msg=str(k))


@pytest.mark.jax
def test_ynn_float64_log_and_exp_match_xla_fusions_through_ynnpack():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    with enable_x64():
        x = np.random.default_rng(0).uniform(0.01, 40, (2000, 4))
        top = x.max(-1, keepdims=True)
        got = np.asarray(jax.jit(lambda v: jnp.log(v) - v.max(-1, keepdims=True))(x))
        np.testing.assert_array_equal(got, ynn_log_f64(x) - top)
        t = np.log(x) * 3
        got = np.asarray(jax.jit(lambda v: jnp.exp(v - v.max(-1, keepdims=True)))(t))
        np.testing.assert_array_equal(got, ynn_exp_f64(t - t.max(-1, keepdims=True)))


# (batch, k) per regime: n < 16 (C-library log lanes at float32), 16 <= n < 4096 (XLA's
# kernels; rows over 32 in windows), n >= 4096 (YNNPACK; rows of 256+ in blocks, 1024+
# with Kahan steps, up to 5000); shapes are few, since JAX compiles once per shape
DRAW_SHAPES = [((3,), 4), ((5,), 3), ((50,), 5), ((10,), 300), ((1, 4000), 1), ((1000,), 5),
               ((9,), 600), ((4,), 1100), ((2,), 3000), ((1,), 5000)]


def _alpha(seed, k, dtype):
    return np.random.default_rng(seed).uniform(0.05, 5.0, k).astype(dtype)


@pytest.mark.jax
@settings(max_examples=14, deadline=None)
@given(st.sampled_from(DRAW_SHAPES), st.integers(0, 2 ** 31 - 1))
def test_float32_draws_match_jax(shape_k, seed):
    jax = pytest.importorskip("jax")
    shape, k = shape_k
    alpha = _alpha(seed, k, F32)
    want = np.asarray(jax.random.dirichlet(jax.random.key(seed), alpha, shape))
    got = fr.dirichlet(fr.key(seed), alpha, shape)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(got), want, err_msg=f"{shape}, {k}")
    jitted = fx.jit(lambda key, al: fr.dirichlet(key, al, shape))(fr.key(seed), alpha)
    np.testing.assert_array_equal(np.asarray(jitted), want)


@pytest.mark.jax
@settings(max_examples=12, deadline=None)
@given(st.sampled_from(DRAW_SHAPES), st.integers(0, 2 ** 31 - 1))
def test_float64_draws_match_jax(shape_k, seed):
    pytest.importorskip("jax")
    shape, k = shape_k
    with enable_x64() as jax:
        alpha = _alpha(seed, k, F64)
        want = np.asarray(jax.random.dirichlet(jax.random.key(seed), alpha, shape))
        got = fr.dirichlet(fr.key(seed), alpha, shape)
        assert got.dtype == np.float64
        np.testing.assert_array_equal(np.asarray(got), want, err_msg=f"{shape}, {k}")
        jitted = fx.jit(lambda key, al: fr.dirichlet(key, al, shape))(fr.key(seed), alpha)
        np.testing.assert_array_equal(np.asarray(jitted), want)
        keys = np.asarray(jax.random.key_data(jax.random.key(seed)))
        np.testing.assert_array_equal(
            dirichlet_f64(keys, np.broadcast_to(alpha, shape + (k,)).copy()), want)


@pytest.mark.jax
@pytest.mark.parametrize("dtype", [F32, F64])
def test_vmap_matches_jax_vmap(dtype):
    """A batch of keys is one program over all their elements, as in JAX."""
    pytest.importorskip("jax")
    with enable_x64() as jax:
        alpha = np.array([0.3, 4.0, 1.0], dtype)
        keys = jax.random.split(jax.random.key(11), 3)
        for shape in ((5,), (1400,)):
            want = np.asarray(jax.vmap(
                lambda k, shape=shape: jax.random.dirichlet(k, alpha, shape))(keys))
            got = fx.vmap(lambda k, shape=shape: fr.dirichlet(k, alpha, shape))(
                fr.split(fr.key(11), 3))
            np.testing.assert_array_equal(np.asarray(got), want)
