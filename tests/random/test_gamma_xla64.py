"""fx/_random/xla_math64.py (XLA's float64 log, log1p, exp, erf_inv, rsqrt, pow) and
fx/_random/gamma_xla64.py (the float64 random_gamma sampler): without JAX against
NumPy/SciPy (accuracy of the functions, moments and a KS test of the draws against
SciPy's gamma distribution) and through the primitive (eager, jit, vmap, gradient);
with JAX bit for bit: every function on millions of inputs, and gamma/loggamma draws
over hypothesis-drawn shapes, concentrations and keys, eager and under jit."""
from __future__ import annotations


import numpy as np
import pytest
import scipy.special as sp
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hs

import fx
from fx._testing import x64_with_jax as enable_x64
import fx.random as fr
from fx._random.gamma_xla64 import gamma_f16, gamma_f64
from fx._random.xla_math64 import (erf_inv_f64, exp_f64, fma64, log1p_f64, log_f64, pow_f64,
                                   rsqrt_f64)
from primitives.random import random_gamma_p, random_split_p

F64 = np.float64
EPS = np.finfo(F64).eps


@pytest.fixture
def x64():
    with enable_x64() as jax:
        yield jax


# ---------------------------------------------------------------------------
# the functions, without JAX

def test_functions_are_accurate():
    rng = np.random.default_rng(0)
    x = rng.lognormal(0, 10, 20000)
    np.testing.assert_allclose(log_f64(x), np.log(x), rtol=2 * EPS)
    t = rng.uniform(-700, 700, 20000)
    np.testing.assert_allclose(exp_f64(t), np.exp(t), rtol=4 * EPS)
    u = rng.uniform(-1, 1, 20000)
    # XLA's rational approximation serves |u| < sqrt(2) - 1, beyond Cephes' range below
    # 1 + u = sqrt(1/2): there it is within about 200 ulp
    outside = (u > -0.4143) & (u < -0.2929)
    np.testing.assert_allclose(log1p_f64(u[~outside]), np.log1p(u[~outside]), rtol=4 * EPS)
    np.testing.assert_allclose(log1p_f64(u[outside]), np.log1p(u[outside]), rtol=300 * EPS)
    np.testing.assert_allclose(erf_inv_f64(u), sp.erfinv(u), rtol=300 * EPS)
    np.testing.assert_allclose(rsqrt_f64(x), 1 / np.sqrt(x), rtol=2 * EPS)
    y = rng.uniform(-3, 3, 20000)
    np.testing.assert_allclose(pow_f64(x, y), np.power(x, y), rtol=2 * EPS)


def test_fma_rounds_once():
    a = F64(1 + 2.0 ** -30)
    # a * a = 1 + 2**-29 + 2**-60: plain arithmetic loses the 2**-60
    assert fma64(a, a, F64(-1)) == 2.0 ** -29 + 2.0 ** -60
    assert np.asarray(a * a - 1) == 2.0 ** -29


def test_special_values():
    inf, nan = np.inf, np.nan
    out = log_f64(np.array([0.0, -1.0, inf, nan, 1e-310]))
    assert out[0] == -inf and np.isnan(out[1]) and out[2] == inf and np.isnan(out[3])
    assert out[4] == -inf  # subnormal inputs read as zero, as XLA runs
    out = exp_f64(np.array([-inf, inf, nan, -800.0, 800.0, 0.0]))
    assert out[0] == 0 and out[1] == inf and np.isnan(out[2]) and out[3] == 0
    assert out[4] == inf and out[5] == 1
    out = erf_inv_f64(np.array([1.0, -1.0, 1.5, 0.0]))
    assert out[0] == inf and out[1] == -inf and np.isnan(out[2]) and out[3] == 0
    out = rsqrt_f64(np.array([0.0, inf, -1.0, 4.0]))
    assert out[0] == inf and out[1] == 0 and np.isnan(out[2]) and out[3] == 0.5


# ---------------------------------------------------------------------------
# the sampler, without JAX

def test_draws_follow_the_gamma_distribution():
    keys = np.array([3, 9], np.uint32)
    for alpha in (0.3, 1.0, 4.5):
        draws = gamma_f64(keys, np.full(4000, alpha), False)
        assert draws.dtype == F64
        assert st.kstest(draws, st.gamma(alpha).cdf).pvalue > 1e-3
        logs = gamma_f64(keys, np.full(4000, alpha), True)
        np.testing.assert_allclose(np.exp(logs), draws, rtol=1e-13, atol=1e-300)
        assert abs(draws.mean() - alpha) < 5 * np.sqrt(alpha / 4000)


def test_primitive_runs_it_eager_jit_vmap(x64):
    keys = np.array([[3, 4], [5, 6]], np.uint32)
    a = np.array([[0.4, 1.0, 7.5], [2.0, 0.05, 30.0]])
    want = gamma_f64(keys, a, False)
    np.testing.assert_array_equal(random_gamma_p.bind(keys, a, log_space=False), want)
    jitted = fx.jit(lambda k, x: random_gamma_p.bind(k, x, log_space=False))(keys, a)
    np.testing.assert_array_equal(jitted, want)
    batched = fx.vmap(lambda k, x: random_gamma_p.bind(k, x, log_space=False))(keys, a)
    np.testing.assert_array_equal(batched, want)
    per_row = random_split_p.impl(np.array([1, 2], np.uint32), shape=(2,))
    assert not np.array_equal(gamma_f64(per_row, a, True), gamma_f64(keys, a, True))
    assert gamma_f64(keys[0], np.zeros((0, 2)), True).shape == (0, 2)


def test_gradient_is_the_implicit_one(x64):
    key = fr.key(3)
    a = np.array([0.5, 2.0, 9.0])
    g = np.asarray(fx.grad(lambda x: fr.gamma(key, x).sum())(a))
    x = np.asarray(fr.gamma(key, a))
    assert x.dtype == F64
    np.testing.assert_allclose(g, np.asarray(fx.lax.random_gamma_grad(a, x)), rtol=1e-12)


# ---------------------------------------------------------------------------
# with JAX: bit for bit

@pytest.mark.jax
def test_functions_match_xla(x64):
    jax = pytest.importorskip("jax")
    jnp, lax = jax.numpy, jax.lax
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(0, 10, 100000), rng.lognormal(0, 20, 100000),
                        [0.0, np.inf, -1.0, np.nan, 1e-310]])
    y = rng.uniform(-3, 3, x.size)
    u = np.concatenate([rng.uniform(-1, 1, 200000), 1 - rng.uniform(0, 1e-7, 50000) ** 3,
                        [1.0, -1.0, 0.0]])
    t = np.concatenate([rng.uniform(-750, 750, 200000), [np.nan, np.inf, -np.inf, -0.0]])
    for got, fn, args in [(log_f64, jnp.log, (x,)), (rsqrt_f64, lax.rsqrt, (x,)),
                          (pow_f64, jnp.power, (x, y)), (log1p_f64, jnp.log1p, (u,)),
                          (erf_inv_f64, lax.erf_inv, (u,)), (exp_f64, jnp.exp, (t,))]:
        np.testing.assert_array_equal(got(*args), np.asarray(jax.jit(fn)(*args)),
                                      err_msg=fn.__name__)


SHAPES = [(3,), (2, 20)]  # (few: JAX compiles once per shape)
EDGES = np.array([0.0, np.nan, np.inf, 1e-300, 1e-6, 1e300, 1.0, 0.9999999, -1.0, 3e5])


@pytest.mark.jax
@settings(max_examples=8, deadline=None)
@given(shape=hs.sampled_from(SHAPES), seed=hs.integers(0, 2 ** 32 - 1),
       scale=hs.floats(-3, 3), edges=hs.booleans(), log_space=hs.booleans())
def test_gamma_matches_jax(shape, seed, scale, edges, log_space):
    jr = pytest.importorskip("jax.random")
    with enable_x64():
        _check_gamma(jr, shape, seed, scale, edges, log_space)


def _check_gamma(jr, shape, seed, scale, edges, log_space):
    a = np.random.default_rng(seed).lognormal(scale, 1.0, shape)
    if edges:
        a.ravel()[:3] = np.random.default_rng(seed).choice(EDGES, 3)
    name = "loggamma" if log_space else "gamma"
    want = np.asarray(getattr(jr, name)(jr.key(seed), a))
    got = getattr(fr, name)(fr.key(seed), a)
    assert got.dtype == F64
    np.testing.assert_array_equal(np.asarray(got), want)
    jitted = fx.jit(getattr(fr, name))(fr.key(seed), a)
    np.testing.assert_array_equal(np.asarray(jitted), want)


# ---------------------------------------------------------------------------
# float16 (fx/_random/gamma_xla64.py gamma_f16) and bfloat16 (the fx program)

def test_float16_draws_follow_the_gamma_distribution():
    keys = np.array([5, 1], np.uint32)
    for alpha in (0.5, 3.0):
        draws = gamma_f16(keys, np.full(3000, alpha, np.float16), False)
        assert draws.dtype == np.float16
        assert st.kstest(draws.astype(F64), st.gamma(alpha).cdf).pvalue > 1e-3
    got = np.asarray(fr.gamma(fr.key(2), np.float16([0.5, 2.0]), dtype=np.float16))
    np.testing.assert_array_equal(got, gamma_f16(np.asarray(fr.key_data(fr.key(2))),
                                                 np.float16([0.5, 2.0]), False))


@pytest.mark.jax
@settings(max_examples=8, deadline=None)
@given(shape=hs.just((2, 20)), seed=hs.integers(0, 2 ** 32 - 1),
       scale=hs.floats(-2, 2), log_space=hs.booleans(),
       dtype=hs.sampled_from(["float16", "bfloat16"]))
def test_narrow_gamma_matches_jax(shape, seed, scale, log_space, dtype):
    jax = pytest.importorskip("jax")
    jr = jax.random
    a = np.random.default_rng(seed).lognormal(scale, 1.0, shape).astype(np.float32)
    name = "loggamma" if log_space else "gamma"
    want = np.asarray(getattr(jr, name)(jr.key(seed), jax.numpy.asarray(a, dtype),
                                        dtype=dtype))
    for run in (getattr(fr, name), fx.jit(getattr(fr, name), static_argnums=(2, 3))):
        got = run(fr.key(seed), fx.numpy.asarray(a, dtype), None, dtype)
        assert str(got.dtype) == dtype
        np.testing.assert_array_equal(np.asarray(got).astype(F64), want.astype(F64))
