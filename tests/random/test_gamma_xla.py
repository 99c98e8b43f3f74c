"""fx/_random/gamma_xla.py, the float32 random_gamma sampler (XLA's roundings): without
JAX against the fx-program sampler it replaces (same keys consumed, same algorithm with
plainer roundings: equal to a few float32 ulps wherever the rejection loops take the
same path, which is almost everywhere), key-shape handling, and through the primitive
(eager, jit, vmap, gradient). Bit-identity with JAX: tests/random/test_distributions.py.

dirichlet_f32 (the impl of the lowering-internal ``random_dirichlet`` equation behind
float32 dirichlet): without JAX against the composite softmax of log-gamma draws (a few
ulps) and through the equation (eager, jit, errors); with JAX bit for bit across XLA's
three regimes (below 16 elements, up to 4096, from 4096: YNNPACK), long rows, and vmap
against JAX's vmap;
xla_math's YNNPACK log/exp against XLA fusions that run through YNNPACK."""
from __future__ import annotations

import numpy as np
import pytest

import fx
import fx.random as fr
from fx._random import gamma as gamma_module
from fx._random.gamma_xla import dirichlet_f32, gamma_f32
from fx._random.xla_math import clog_f32, ynn_exp_f32, ynn_log_f32
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


# ---------------------------------------------------------------------------
# dirichlet_f32 and the random_dirichlet equation

DIR_ALPHA = np.array([0.05, 0.4, 1.0, 2.5, 9.0], F32)


def _composite(key, alpha, shape):
    """softmax(loggamma) in float64 from fx's own log-gamma draws."""
    log_g = np.asarray(fr.loggamma(key, np.broadcast_to(alpha, shape + alpha.shape)),
                       np.float64)
    e = np.exp(log_g - log_g.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("shape,k", [((3,), 5), ((2,), 5), ((900,), 5), ((4, 3), 40)])
def test_dirichlet_is_the_softmax_of_log_gamma_draws(shape, k):
    key = fr.key(4)
    alpha = np.resize(DIR_ALPHA, k)
    got = np.asarray(fr.dirichlet(key, alpha, shape))
    assert got.shape == shape + (k,) and got.dtype == np.float32
    np.testing.assert_allclose(got, _composite(key, alpha, shape), rtol=2e-6, atol=1e-7)


def test_dirichlet_equation_eager_jit_and_errors():
    from lowering.dirichlet_rewrite import random_dirichlet_p as prim
    keys = np.array([[3, 4], [5, 6]], np.uint32)
    a = np.broadcast_to(DIR_ALPHA, (2, 3, 5)).copy()
    want = dirichlet_f32(keys, a)
    np.testing.assert_array_equal(prim.bind(keys, a), want)
    np.testing.assert_array_equal(fx.jit(prim.bind)(keys, a), want)
    np.testing.assert_allclose(want.sum(-1), 1, rtol=1e-6)
    assert dirichlet_f32(keys[0], np.zeros((0, 3), F32)).shape == (0, 3)
    with pytest.raises(TypeError, match="float32 or float64"):
        prim.bind(keys, a.astype(np.int32))
    with pytest.raises(TypeError, match="prefix"):
        prim.bind(keys, a[0])
    # 16-bit floats have a kernel of their own (tests/random/test_half_parity.py)
    assert fr.dirichlet(fr.key(0), DIR_ALPHA, (2,), dtype="bfloat16").dtype.name == "bfloat16"


def test_dirichlet_gradient_is_the_composite_one():
    key = fr.key(2)
    alpha = np.array([0.7, 2.0, 4.0], F32)

    def composite(al):
        log_g = fr.loggamma(key, al)
        return gamma_module._softmax(log_g, -1)

    jac = np.asarray(fx.jacfwd(lambda al: fr.dirichlet(key, al))(alpha))
    np.testing.assert_allclose(jac, np.asarray(fx.jacfwd(composite)(alpha)), rtol=1e-5,
                               atol=1e-7)
    np.testing.assert_allclose(jac.sum(0), 0, atol=1e-6)


def test_c_logf_is_a_logarithm():
    x = np.array([1e-30, 0.1, 1.0, 1.7207009, 3e5], F32)
    np.testing.assert_allclose(clog_f32(x), np.log(x.astype(np.float64)), rtol=1.5e-7)
    assert clog_f32(np.zeros(0, F32)).shape == (0,)


def test_ynn_log_and_exp_are_accurate():
    x = np.random.default_rng(0).uniform(1e-3, 1e3, 5000).astype(F32)
    np.testing.assert_allclose(ynn_log_f32(x), np.log(x.astype(np.float64)), rtol=3e-7,
                               atol=1e-7)
    t = np.random.default_rng(1).uniform(-80, 80, 5000).astype(F32)
    np.testing.assert_allclose(ynn_exp_f32(t), np.exp(t.astype(np.float64)), rtol=3e-7)
    special = np.array([0.0, -1.0, np.inf, np.nan], F32)
    out = ynn_log_f32(special)
    assert out[0] == -np.inf and np.isnan(out[1]) and out[2] == np.inf and np.isnan(out[3])
    out = ynn_exp_f32(np.array([-np.inf, np.inf, np.nan, -100.0], F32))
    assert out[0] == 0 and out[1] == np.inf and np.isnan(out[2]) and out[3] == 0


# with JAX: bit for bit

@pytest.mark.jax
def test_ynn_log_and_exp_match_xla_fusions_through_ynnpack():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    x = np.random.default_rng(0).uniform(0.01, 40, (2000, 4)).astype(F32)
    top = x.max(-1, keepdims=True)
    got = np.asarray(jax.jit(lambda v: jnp.log(v) - v.max(-1, keepdims=True))(x))
    np.testing.assert_array_equal(got, ynn_log_f32(x) - top)
    t = (np.log(x) * 3).astype(F32)
    got = np.asarray(jax.jit(lambda v: jnp.exp(v - v.max(-1, keepdims=True)))(t))
    np.testing.assert_array_equal(got, ynn_exp_f32(t - t.max(-1, keepdims=True)))


# (batch, k): every size below 16 with a C-library tail (n % 8 in 3, 5, 6, 7), one
# without, XLA's middle sizes, rows over 32 (XLA's windows), YNNPACK from 4096 elements
# (also rows over 64, its runs of 4 vectors), exactly 4096
DIR_SHAPES = [((1,), 3), ((5,), 1), ((3,), 2), ((7,), 1), ((11,), 1), ((13,), 1), ((7,), 2),
              ((5,), 3), ((3,), 4), ((50,), 5), ((10,), 40), ((1366,), 3), ((50,), 90),
              ((1024,), 4)]


@pytest.mark.jax
@pytest.mark.parametrize("shape,k", DIR_SHAPES)
def test_dirichlet_matches_jax(shape, k):
    jax = pytest.importorskip("jax")
    alpha = np.resize(DIR_ALPHA, k)[::-1].copy()
    for seed in (0, 1, 2):
        want = np.asarray(jax.random.dirichlet(jax.random.key(seed), alpha, shape))
        got = np.asarray(fr.dirichlet(fr.key(seed), alpha, shape))
        np.testing.assert_array_equal(got, want, err_msg=f"{shape}, {k}, seed {seed}")
        jitted = fx.jit(lambda key, al: fr.dirichlet(key, al, shape))(fr.key(seed), alpha)
        np.testing.assert_array_equal(np.asarray(jitted), want)


@pytest.mark.jax
def test_dirichlet_vmap_matches_jax_vmap():
    """A batch of keys is one program over all their elements, as in JAX: 3 keys of 15
    elements are drawn as 45 (no C-library lanes), so they differ from a loop's."""
    jax = pytest.importorskip("jax")
    alpha = np.array([0.3, 4.0, 1.0], F32)
    keys = jax.random.split(jax.random.key(11), 3)
    want = np.asarray(jax.vmap(lambda k: jax.random.dirichlet(k, alpha, (5,)))(keys))
    fkeys = fr.split(fr.key(11), 3)
    got = np.asarray(fx.vmap(lambda k: fr.dirichlet(k, alpha, (5,)))(fkeys))
    np.testing.assert_array_equal(got, want)
