"""float16 and bfloat16 dirichlet, ball and f: fx/_random/gamma_half.py (dirichlet's kernel),
the dirichlet rewrite at 16-bit floats, gamma.py's ``_ball_half`` and ``_bf16_ratio``.

Without JAX: the kernel against the softmax of the same log-gamma draws in float64 (within
a few 16-bit ulps), its errors and empty input, the rewrite's matching, and the jaxpr's
float32 sum (as JAX's ``jnp.sum``). With JAX: draws bit for bit against JAX 0.10.2's for
many keys, shapes and parameters, eager and jitted, across XLA's regimes (rows of up to 32,
longer windowed rows, 4096 elements and more through YNNPACK; ball with ``d == 1``)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import fx
import fx.numpy as fnp
import fx.random as fr
from fx import dtypes
from fx._random.gamma import _gamma_sampler
from fx._random.gamma_half import dirichlet_half
from lowering.dirichlet_rewrite import random_dirichlet_p
from lowering.passes import optimize

F32, F64 = np.float32, np.float64
HALF = ["float16", "bfloat16"]


def _key_data(seed):
    return np.asarray(fr.key_data(fr.key(seed)))


def _names(closed):
    return [e.primitive.name for e in closed.jaxpr.eqns]


def _same(got, want):
    got = np.asarray(got).astype(F64)
    want = np.asarray(want).astype(F64)
    assert got.shape == want.shape
    equal = (got == want) | (np.isnan(got) & np.isnan(want))
    assert equal.all(), f"{(~equal).sum()} of {equal.size} differ: {got[~equal][:5]} vs " \
                        f"{want[~equal][:5]}"


# ---------------------------------------------------------------------------
# without JAX

@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("shape", [(3,), (4, 7), (2, 40), (2, 2100)])
def test_kernel_is_the_softmax_of_the_log_gamma_draws(dtype, shape):
    a = np.random.default_rng(len(shape)).lognormal(0, 1, shape).astype(F32).astype(dtype)
    keys = _key_data(5)
    got = dirichlet_half(keys, a)
    assert got.dtype == np.dtype(dtype) and got.shape == a.shape
    log_g = np.asarray(_gamma_sampler(keys, a, log_space=True)).astype(F64)
    e = np.exp(log_g - log_g.max(-1, keepdims=True))
    want = e / e.sum(-1, keepdims=True)
    eps = float(dtypes.finfo(np.dtype(dtype)).eps)
    np.testing.assert_allclose(got.astype(F64), want, rtol=4 * eps, atol=1e-30 + 2e-3 * eps)
    np.testing.assert_allclose(got.astype(F64).sum(-1), 1, rtol=shape[-1] * eps)


def test_kernel_errors_and_empty():
    with pytest.raises(TypeError, match="float16 or bfloat16"):
        dirichlet_half(_key_data(0), np.ones((2, 3), F32))
    out = dirichlet_half(_key_data(0), np.zeros((0, 3), np.float16))
    assert out.shape == (0, 3) and out.dtype == np.float16


@pytest.mark.parametrize("dtype", HALF)
def test_half_dirichlet_sums_in_float32_and_is_rewritten(dtype):
    closed = fx.make_jaxpr(lambda k: fr.dirichlet(k, np.ones(4), (3,), dtype=dtype))(
        fr.key(0))
    inner = [e for e in closed.jaxpr.eqns if e.primitive.name == "jit"][0]
    sub = inner.params["jaxpr"].jaxpr
    sums = [e for e in sub.eqns if e.primitive.name == "reduce_sum"]
    assert len(sums) == 1 and sums[0].invars[0].aval.dtype == F32  # as JAX's jnp.sum
    opt = optimize(closed)
    assert "random_dirichlet" in _names(opt) and "random_gamma" not in _names(opt)
    # the gradient reads the draws: the composite runs
    grad = fx.make_jaxpr(fx.grad(lambda a: fr.dirichlet(fr.key(0), a, dtype=dtype)[0]
                                 .astype(F32)))(fnp.ones(3, dtype))
    assert "random_dirichlet" not in _names(optimize(grad))


@pytest.mark.parametrize("dtype", HALF)
def test_rewritten_equation_runs_the_kernel(dtype):
    a = np.random.default_rng(3).lognormal(0, 1, (5, 6)).astype(F32).astype(dtype)
    got = fr.dirichlet(fr.key(3), fnp.asarray(a), dtype=dtype)
    np.testing.assert_array_equal(np.asarray(got), dirichlet_half(_key_data(3), a))
    out = random_dirichlet_p.bind(fnp.asarray(_key_data(3)), fnp.asarray(a))
    np.testing.assert_array_equal(np.asarray(out), np.asarray(got))


@pytest.mark.parametrize("dtype", HALF)
def test_ball_and_f_stay_in_range(dtype):
    for d, p in [(1, 2), (3, 1.5), (40, 2)]:
        x = np.asarray(fr.ball(fr.key(d), d, p, (300,), dtype=dtype)).astype(F64)
        assert str(fr.ball(fr.key(d), d, p, (2,), dtype=dtype).dtype) == dtype
        assert np.all(np.sum(np.abs(x) ** p, -1) <= 1 + 1e-2)
    draws = np.asarray(fr.f(fr.key(1), 4.0, 6.0, (2000,), dtype=dtype)).astype(F64)
    assert draws.min() > 0 and abs(np.median(draws) - 0.915) < 0.1  # F(4, 6)'s median


# ---------------------------------------------------------------------------
# with JAX: bit for bit
#
# JAX compiles one XLA program (seconds each) per static configuration of a draw (its
# dtype, shape, alpha's length or ball's d), not per key or traced parameter, so the tests
# share a few configurations: the hypothesis tests draw keys and parameters for fixed
# configurations that the jit and regime tests reuse.

# dirichlet's (len(alpha), batch shape): short rows (up to 32) and windowed longer rows
DIRICHLET_SMALL = [(3, (4,)), (100, (20,))]
# ball's (d, shape): d == 1 (its own path) and a short row
BALL_SMALL = [(1, (3, 4)), (5, (3, 4))]

def _jax_and_fx(jax, name, seed, *args, dtype, jit=False):
    """fx's draws (eagerly, or under a jit that traces the array arguments) and JAX's."""
    jr = jax.random
    jargs = [jax.numpy.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
    fargs = [fnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
    want = getattr(jr, name)(jr.key(seed), *jargs, dtype=dtype)
    draw = _JITTED[name] if jit else getattr(fr, name)
    got = draw(fr.key(seed), *fargs, dtype=dtype)
    assert str(got.dtype) == dtype
    return np.asarray(got), np.asarray(want)


_JITTED = {"dirichlet": fx.jit(fr.dirichlet, static_argnames=("shape", "dtype")),
           "ball": fx.jit(fr.ball, static_argnames=("d", "shape", "dtype"))}


@pytest.mark.jax
@settings(max_examples=8, deadline=None)
@given(seed=hs.integers(0, 2 ** 32 - 1), config=hs.sampled_from(DIRICHLET_SMALL),
       scale=hs.floats(-3, 2), dtype=hs.sampled_from(HALF))
def test_dirichlet_matches_jax(jax, seed, config, scale, dtype):
    k, batch = config
    a = np.random.default_rng(seed).lognormal(scale, 1.0, (k,)).astype(F32).astype(dtype)
    got, want = _jax_and_fx(jax, "dirichlet", seed, a, batch, dtype=dtype)
    _same(got, want)


@pytest.mark.jax
@pytest.mark.parametrize("dtype", HALF)
def test_dirichlet_matches_jax_under_jit(jax, dtype):
    k, batch = DIRICHLET_SMALL[0]
    for seed in range(4):
        a = np.random.default_rng(seed).lognormal(0, 1, (k,)).astype(F32).astype(dtype)
        got, want = _jax_and_fx(jax, "dirichlet", seed, a, batch, dtype=dtype, jit=True)
        _same(got, want)


@pytest.mark.jax
@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("k, batch", [(1, ()), DIRICHLET_SMALL[1], (10, (500,)), (2048, (2,))])
def test_dirichlet_matches_jax_in_every_regime(jax, dtype, k, batch):
    """One element, windowed rows, and 4096 elements or more (YNNPACK's sum) in short and
    long rows."""
    a = np.random.default_rng(k).lognormal(-1, 1.5, (k,)).astype(F32).astype(dtype)
    got, want = _jax_and_fx(jax, "dirichlet", k, a, batch, dtype=dtype)
    _same(got, want)


@pytest.mark.jax
@settings(max_examples=8, deadline=None)
@given(seed=hs.integers(0, 2 ** 32 - 1), config=hs.sampled_from(BALL_SMALL),
       p=hs.sampled_from([2, 1, 3, 0.7, 1.5, 2.5]), dtype=hs.sampled_from(HALF))
def test_ball_matches_jax(jax, seed, config, p, dtype):
    d, shape = config
    got, want = _jax_and_fx(jax, "ball", seed, d, p, shape, dtype=dtype)
    _same(got, want)


@pytest.mark.jax
@pytest.mark.parametrize("dtype", HALF)
def test_ball_matches_jax_under_jit(jax, dtype):
    d, shape = BALL_SMALL[1]
    for seed, p in enumerate([2, 1.5, 3.0]):
        got, want = _jax_and_fx(jax, "ball", seed, d, p, shape, dtype=dtype, jit=True)
        _same(got, want)


@pytest.mark.jax
@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("d, shape", [(3, (2000,)), (64, (70,)), (100, (3,))])
def test_ball_matches_jax_when_large(jax, dtype, d, shape):
    got, want = _jax_and_fx(jax, "ball", 7, d, 2, shape, dtype=dtype)
    _same(got, want)


@pytest.mark.jax
@settings(max_examples=10, deadline=None)
@given(seed=hs.integers(0, 2 ** 32 - 1), df=hs.tuples(hs.floats(0.1, 30), hs.floats(0.1, 30)),
       shape=hs.just((3, 4)))
def test_bfloat16_f_matches_jax(jax, seed, df, shape):
    got, want = _jax_and_fx(jax, "f", seed, df[0], df[1], shape, dtype="bfloat16")
    _same(got, want)


@pytest.mark.jax
@pytest.mark.parametrize("df_shape", [(4, 5), (4, 1)])
def test_bfloat16_f_with_array_degrees_of_freedom(jax, df_shape):
    rng = np.random.default_rng(len(df_shape))
    bf16 = dtypes.bfloat16
    dfnum = rng.lognormal(0, 1, df_shape).astype(F32).astype(bf16)
    dfden = rng.lognormal(1, 1, df_shape).astype(F32).astype(bf16)
    got, want = _jax_and_fx(jax, "f", 3, dfnum, dfden, (4, 5), dtype="bfloat16")
    _same(got, want)


@pytest.mark.jax
@pytest.mark.parametrize("dtype", HALF)
def test_vmap_and_constants_under_jit_match_jax(jax, dtype):
    jr = jax.random
    a = np.random.default_rng(0).lognormal(0, 1, (6,)).astype(F32).astype(dtype)
    keys, fkeys = jr.split(jr.key(1), 4), fr.split(fr.key(1), 4)

    def jax_draws(keys, key):  # JAX's side as one program (one XLA compilation)
        out = [jax.vmap(lambda k: jr.dirichlet(k, jax.numpy.asarray(a), (3,), dtype=dtype))(
                   keys),
               jax.vmap(lambda k: jr.ball(k, 4, 2, (3,), dtype=dtype))(keys),
               jr.dirichlet(key, a, (50,), dtype=dtype)]
        return out + ([jr.f(key, 1.7, 2.3, (50,), dtype=dtype)] if dtype == "bfloat16" else [])

    want = jax.jit(jax_draws)(keys, jr.key(5))
    _same(fx.vmap(lambda k: fr.dirichlet(k, fnp.asarray(a), (3,), dtype=dtype))(fkeys), want[0])
    _same(fx.vmap(lambda k: fr.ball(k, 4, 2, (3,), dtype=dtype))(fkeys), want[1])
    _same(fx.jit(lambda k: fr.dirichlet(k, a, (50,), dtype=dtype))(fr.key(5)), want[2])
    if dtype == "bfloat16":
        _same(fx.jit(lambda k: fr.f(k, 1.7, 2.3, (50,), dtype=dtype))(fr.key(5)), want[3])


# ---------------------------------------------------------------------------
# fx/_random/ynn_sum.py: rows of several 128 KiB pieces (their totals folded in halves)

def test_ynn_pieces_fold_in_halves():
    """Exactly representable probes: 2**24 absorbs a lone 1 (ties to even), not a 2."""
    from fx._random.ynn_sum import ynn_sum_last
    piece = 32768
    big = 2.0 ** 24

    def total(n, where_big):
        x = np.zeros((1, n * piece), F32)
        x[0, ::piece] = 1
        x[0, where_big * piece] = big
        return float(ynn_sum_last(x)[0]) - big

    # three pieces: (p0 + p2) + p1
    assert [total(3, i) for i in range(3)] == [0.0, 2.0, 0.0]
    # five: ((p0 + p4) + p2) + (p1 + p3)
    assert [total(5, i) for i in range(5)] == [2.0, 4.0, 4.0, 4.0, 2.0]


@pytest.mark.jax
@pytest.mark.parametrize("dtype, pieces", [(F32, 3), (F32, 6), (F64, 5)])
def test_ynn_long_rows_match_jax(dtype, pieces):
    from fx._random.ynn_sum import ynn_sum_last
    from fx._testing import x64_with_jax
    with x64_with_jax() as jax:
        if jax is None:
            pytest.skip("JAX (the test oracle) is not installed")
        piece = 128 * 1024 // np.dtype(dtype).itemsize
        summed = jax.jit(lambda x: x.sum(-1))
        for seed in range(3):
            x = np.random.default_rng(seed).lognormal(0, 2, (1, pieces * piece - 77 * seed))
            x = x.astype(dtype)
            np.testing.assert_array_equal(ynn_sum_last(x), np.asarray(summed(x)))
