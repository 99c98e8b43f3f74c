"""Every sampler of fx.random: against JAX draw for draw, on several seeds; rtol None
means bit-identical. Identical: everything computed with exact integer/float-bit
arithmetic, correctly rounded float operations (+ - * / sqrt, with XLA's fused
multiply-adds), float32 exp, log, log1p, erf_inv, erf, rsqrt (fx evaluates XLA's
approximations, eager and compiled; see fx/_random/xla_math.py), tan and pow (the C
library's tanf/powf, as XLA calls), XLA's rewrites (x / c as x * (1/c), a / b**c as
a * b**-c, (a/b) / (c/d) as (a d) / (b c)) and XLA's order of row sums
(fx/_random/common.py xla_sum_last): uniform, normal (all float dtypes, complex),
exponential, laplace, logistic, gumbel, lognormal, pareto, weibull_min, rayleigh, wald,
cauchy, maxwell, double_sided_maxwell, the float32 gamma family (gamma and loggamma
for every alpha, beta, chisquare, t, f, generalized_normal, ball; fx/_random/
gamma_xla.py), truncated_normal, multivariate_normal (cholesky, eigh, svd),
orthogonal (fx's linear algebra calls the LAPACK routines jaxlib calls, SciPy's, in
the operand's precision with jaxlib's workspace sizes), binomial, multinomial and
the discrete samplers, and dirichlet (fx/_random/gamma_xla.py dirichlet_f32: XLA
recomputes the log-gamma draws inside its softmax fusions, so the sampler reproduces
them whole: below 16 elements the lanes XLA leaves to the C library's logf, from 4096
elements YNNPACK's log, exp and row sums, which XLA runs such fusions through).
Also against the theoretical distribution (SciPy KS / frequency tests) without JAX;
under jit (equal to eager, bit for bit where JAX's draws are matched) and vmap over keys
(equal to a loop; dirichlet's batched draws are JAX's batched ones, which differ from a
loop's where batching moves the size across those 16- and 4096-element thresholds:
tests/random/test_gamma_xla.py)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st

import fx
import fx.numpy as fnp
import fx.random as fr

P5 = np.array([0.1, 0.2, 0.3, 0.25, 0.15], np.float32)
ALPHAS = np.array([0.3, 1.0, 2.5, 10.0], np.float32)
BF16 = "bfloat16"
# dirichlet concentrations for rows longer than XLA's 32-element and YNNPACK's 64-element
# runs
DIR_ALPHAS = np.random.default_rng(5).uniform(0.1, 4.0, 90).astype(np.float32)
# n, p pairs covering inversion, BTRS, p > 1/2, zero/inf/negative/NaN trials and bad p
BIN_N = np.array([0.0, 3.0, 20.0, 1000.0, 7.5, np.inf, -1.0, np.nan, 10.0, 10.0],
                 np.float32)
BIN_P = np.array([0.3, 0.9, 0.5, 0.01, 0.6, 0.5, 0.5, 0.5, np.nan, -0.2], np.float32)
# gamma's shape parameter at its edges: 0, NaN, inf, tiny, huge, around 1, negative
GAMMA_EDGES = np.array([0.0, np.nan, np.inf, 1e-30, 1e-6, 1e30, 1.0, 0.999999, 1.0000001,
                        -1.0, 3e5], np.float32)


if not hasattr(fr, "binomial"):  # until fx/random.py exports them
    from fx._random import binomial as _binomial_module
    fr.binomial, fr.multinomial = _binomial_module.binomial, _binomial_module.multinomial

# name -> (draw(random_module, key), tolerance): rtol None means bit-identical to JAX
CASES = {
    "uniform": (lambda m, k: m.uniform(k, (7,)), None),
    "uniform_f16": (lambda m, k: m.uniform(k, (7,), np.float16), None),
    "uniform_bf16": (lambda m, k: m.uniform(k, (3, 2), BF16), None),
    "uniform_bounds": (lambda m, k: m.uniform(k, (3, 4), minval=-2.0,
                                              maxval=np.arange(1.0, 5.0, dtype=np.float32)),
                       None),
    "normal": (lambda m, k: m.normal(k, (7,)), None),
    "normal_c64": (lambda m, k: m.normal(k, (3,), np.complex64), None),
    "normal_f16": (lambda m, k: m.normal(k, (7,), np.float16), None),
    "normal_bf16": (lambda m, k: m.normal(k, (7,), BF16), None),
    "normal_many": (lambda m, k: m.normal(k, (3000,)), None),
    "truncated_normal": (lambda m, k: m.truncated_normal(k, -1.0, 2.0, (7,)), None),
    "bernoulli": (lambda m, k: m.bernoulli(k, 0.3, (9,)), None),
    "bernoulli_p": (lambda m, k: m.bernoulli(k, P5), None),
    "bernoulli_high": (lambda m, k: m.bernoulli(k, 0.3, (9,), mode="high"), None),
    "randint": (lambda m, k: m.randint(k, (7,), -5, 100), None),
    "randint_u8_full": (lambda m, k: m.randint(k, (7,), 0, 256, np.uint8), None),
    "randint_i8_clip": (lambda m, k: m.randint(k, (7,), -300, 300, np.int8), None),
    "randint_float_bounds": (lambda m, k: m.randint(k, (7,), 0.5, 10.7), None),
    "randint_u32": (lambda m, k: m.randint(k, (7,), 0, 2 ** 31 - 1, np.uint32), None),
    "randint_array_bounds": (lambda m, k: m.randint(k, (2, 3), np.array([0, 5, -3]), 9),
                             None),
    "rademacher": (lambda m, k: m.rademacher(k, (9,)), None),
    "permutation_int": (lambda m, k: m.permutation(k, 10), None),
    "permutation_axis": (lambda m, k: m.permutation(k, np.arange(15.0).reshape(3, 5), axis=1),
                         None),
    "permutation_independent": (lambda m, k: m.permutation(
        k, np.arange(15.0).reshape(3, 5), axis=1, independent=True), None),
    "categorical": (lambda m, k: m.categorical(k, np.log(P5), shape=(9,)), None),
    "categorical_axis0": (lambda m, k: m.categorical(k, np.zeros((3, 5), np.float32), axis=0,
                                                     shape=(2, 5)), None),
    "categorical_no_replace": (lambda m, k: m.categorical(
        k, np.zeros((3, 5), np.float32), shape=(2, 3), replace=False), None),
    "choice": (lambda m, k: m.choice(k, 5, (3,)), None),
    "choice_no_replace": (lambda m, k: m.choice(k, 5, (3,), replace=False), None),
    "choice_p": (lambda m, k: m.choice(k, 5, (6,), p=P5), None),
    "choice_p_no_replace": (lambda m, k: m.choice(k, 5, (3,), replace=False, p=P5), None),
    "choice_array_axis": (lambda m, k: m.choice(k, np.arange(20.0).reshape(4, 5), (3,),
                                                axis=1), None),
    "poisson": (lambda m, k: m.poisson(k, 3.0, (9,)), None),
    "poisson_rates": (lambda m, k: m.poisson(k, np.array([0.0, 5.0, 15.0, 100.0], np.float32)),
                      None),
    "geometric": (lambda m, k: m.geometric(k, 0.3, (7,)), None),
    "triangular": (lambda m, k: m.triangular(k, 0.0, 1.0, 3.0, (7,)), None),
    "binomial": (lambda m, k: m.binomial(k, 10, 0.3, (9,)), None),
    "binomial_btrs": (lambda m, k: m.binomial(k, 200.0, 0.4, (9,)), None),
    "binomial_params": (lambda m, k: m.binomial(k, BIN_N, BIN_P), None),
    "binomial_f16": (lambda m, k: m.binomial(k, 30, 0.7, (5,), np.float16), None),
    "multinomial": (lambda m, k: m.multinomial(k, 20.0, P5), None),
    "multinomial_batch": (lambda m, k: m.multinomial(k, np.array([5.0, 50.0, 500.0]), P5,
                                                     shape=(3, 5)), None),
    "exponential": (lambda m, k: m.exponential(k, (7,)), None),
    "laplace": (lambda m, k: m.laplace(k, (7,)), None),
    "logistic": (lambda m, k: m.logistic(k, (7,)), None),
    "cauchy": (lambda m, k: m.cauchy(k, (7,)), None),
    "gumbel": (lambda m, k: m.gumbel(k, (7,)), None),
    "gumbel_high": (lambda m, k: m.gumbel(k, (7,), mode="high"), None),
    "lognormal": (lambda m, k: m.lognormal(k, 0.5, (5,)), None),
    "pareto": (lambda m, k: m.pareto(k, 2.0, (5,)), None),
    "weibull_min": (lambda m, k: m.weibull_min(k, 2.0, 3.0, (5,)), None),
    "rayleigh": (lambda m, k: m.rayleigh(k, 2.0, (5,)), None),
    "wald": (lambda m, k: m.wald(k, 2.0, (5,)), None),
    "maxwell": (lambda m, k: m.maxwell(k, (5,)), None),
    "maxwell_many": (lambda m, k: m.maxwell(k, (1500,)), None),  # XLA's 16-lane row sums
    "double_sided_maxwell": (lambda m, k: m.double_sided_maxwell(k, 1.0, 2.0, (5,)), None),
    "gamma": (lambda m, k: m.gamma(k, ALPHAS), None),
    "gamma_many": (lambda m, k: m.gamma(k, 0.7, (400,)), None),
    "gamma_edges": (lambda m, k: m.gamma(k, GAMMA_EDGES), None),
    "gamma_shape": (lambda m, k: m.gamma(k, np.array([0.3, 4.0], np.float32), (3, 2)), None),
    "loggamma": (lambda m, k: m.loggamma(k, ALPHAS), None),
    "loggamma_edges": (lambda m, k: m.loggamma(k, GAMMA_EDGES), None),
    "beta": (lambda m, k: m.beta(k, 2.0, 3.0, (5,)), None),
    "beta_small": (lambda m, k: m.beta(k, 0.3, 5.0, (9,)), None),
    "dirichlet": (lambda m, k: m.dirichlet(k, np.array([1.0, 2.0, 0.5], np.float32), (2,)),
                  None),
    "dirichlet_rows": (lambda m, k: m.dirichlet(k, DIR_ALPHAS, (4,)), None),  # windows of 32
    "dirichlet_many": (lambda m, k: m.dirichlet(k, np.array([0.05, 1.0, 2.5], np.float32),
                                                (1500,)), None),  # YNNPACK's log/exp/sums
    "dirichlet_many_rows": (lambda m, k: m.dirichlet(k, DIR_ALPHAS, (60,)), None),
    "chisquare": (lambda m, k: m.chisquare(k, 3.0, (5,)), None),
    "t": (lambda m, k: m.t(k, 3.0, (5,)), None),
    "f": (lambda m, k: m.f(k, 3.0, 4.0, (5,)), None),
    "f_arrays": (lambda m, k: m.f(k, np.array([2.0, 5.0], np.float32),
                                  np.array([3.0, 0.5], np.float32)), None),
    "generalized_normal": (lambda m, k: m.generalized_normal(k, 1.5, (5,)), None),
    "ball": (lambda m, k: m.ball(k, 3, 2, (2,)), None),
    "ball_p": (lambda m, k: m.ball(k, 3, 1.5, (2,)), None),
    "ball_many": (lambda m, k: m.ball(k, 3, 2, (1500,)), None),  # XLA's 16-lane row sums
}

COV = np.array([[2.0, 0.6], [0.6, 1.0]], np.float32)
_F = np.random.default_rng(3).standard_normal((6, 6)).astype(np.float32)
COV6 = (_F @ _F.T + np.eye(6, dtype=np.float32)).astype(np.float32)
if hasattr(fnp, "linalg"):  # the samplers that need linear algebra
    for _method, _rtol in (("cholesky", None), ("eigh", None), ("svd", None)):
        CASES[f"multivariate_normal_{_method}"] = (
            lambda m, k, _method=_method: m.multivariate_normal(
                k, np.array([1.0, -1.0], np.float32), COV, (3,), method=_method), _rtol)
    CASES["orthogonal"] = (lambda m, k: m.orthogonal(k, 3, (2,)), None)
    CASES["orthogonal_wide"] = (lambda m, k: m.orthogonal(k, 3, m=5), None)
    CASES["orthogonal_big"] = (lambda m, k: m.orthogonal(k, 40, (2,)), None)
    CASES["multivariate_normal_svd_big"] = (
        lambda m, k: m.multivariate_normal(k, np.zeros(6, np.float32), COV6, (4,),
                                           method="svd"), None)


@pytest.mark.jax
@pytest.mark.parametrize("name", sorted(CASES))
def test_draws_match_jax(name):
    import jax.random as jr
    draw, rtol = CASES[name]
    for seed in (1, 42, 2024):
        want = np.asarray(draw(jr, jr.key(seed)))
        got = draw(fr, fr.key(seed))
        assert got.dtype == want.dtype, (got.dtype, want.dtype)
        assert got.shape == want.shape
        got = np.asarray(got)
        if rtol is None:  # (NaNs compare equal)
            np.testing.assert_array_equal(got, want, err_msg=f"{name}, seed {seed}")
        else:
            np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-6,
                                       err_msg=f"{name}, seed {seed}")


@pytest.mark.jax
@pytest.mark.parametrize("name,rtol", [("normal", 1e-12), ("randint", None),
                                       ("gamma", 1e-12), ("binomial_btrs", None)])
def test_draws_match_jax_under_x64(name, rtol):
    # float64 erf_inv/log are SciPy's/NumPy's, not XLA's: equal to about 1e-15
    import jax
    import jax.random as jr
    draw = CASES[name][0]
    jax.config.update("jax_enable_x64", True)
    try:
        with fx.enable_x64():
            for seed in (0, 5):
                want = np.asarray(draw(jr, jr.key(seed)))
                got = draw(fr, fr.key(seed))
                assert got.dtype == want.dtype
                if rtol is None:
                    np.testing.assert_array_equal(got, want)
                else:
                    np.testing.assert_allclose(got, want, rtol=1e-12)
    finally:
        jax.config.update("jax_enable_x64", False)


@pytest.mark.parametrize("name", sorted(CASES))
def test_jit_equals_eager_and_vmap_equals_loop(name):
    draw, rtol = CASES[name]
    key = fr.key(7)
    jitted, eager = np.asarray(fx.jit(lambda k: draw(fr, k))(key)), np.asarray(draw(fr, key))
    if jitted.dtype.kind == "f" and rtol is not None:  # a few ulp from eager
        np.testing.assert_allclose(jitted, eager, rtol=2e-6, atol=1e-6)
    else:
        np.testing.assert_array_equal(jitted, eager)
    keys = fr.split(key, 3)
    batched = fx.vmap(lambda k: draw(fr, k))(keys)
    np.testing.assert_array_equal(batched, np.stack([draw(fr, k) for k in keys]))
    raw = fx.vmap(lambda k: draw(fr, k))(fr.key_data(keys))
    np.testing.assert_array_equal(raw, batched)


# ---------------------------------------------------------------------------
# the distributions themselves (no JAX needed): one large sample each

N = 20000


def _ks(sample, cdf, *args):
    p = st.kstest(np.asarray(sample, np.float64).ravel(), cdf, args=args).pvalue
    assert p > 1e-4, f"KS test rejects the sample (p={p:.2e})"


CONTINUOUS = {
    "uniform": (lambda k: fr.uniform(k, (N,), minval=-1.0, maxval=3.0),
                st.uniform(-1, 4).cdf),
    "normal": (lambda k: fr.normal(k, (N,)), st.norm.cdf),
    "truncated_normal": (lambda k: fr.truncated_normal(k, -0.5, 1.5, (N,)),
                         st.truncnorm(-0.5, 1.5).cdf),
    "exponential": (lambda k: fr.exponential(k, (N,)), st.expon.cdf),
    "laplace": (lambda k: fr.laplace(k, (N,)), st.laplace.cdf),
    "logistic": (lambda k: fr.logistic(k, (N,)), st.logistic.cdf),
    "cauchy": (lambda k: fr.cauchy(k, (N,)), st.cauchy.cdf),
    "gumbel": (lambda k: fr.gumbel(k, (N,)), st.gumbel_r.cdf),
    "gumbel_high": (lambda k: fr.gumbel(k, (N,), mode="high"), st.gumbel_r.cdf),
    "lognormal": (lambda k: fr.lognormal(k, 0.5, (N,)), st.lognorm(0.5).cdf),
    "pareto": (lambda k: fr.pareto(k, 3.0, (N,)), st.pareto(3.0).cdf),
    "weibull_min": (lambda k: fr.weibull_min(k, 2.0, 1.5, (N,)),
                    st.weibull_min(1.5, scale=2.0).cdf),
    "triangular": (lambda k: fr.triangular(k, 0.0, 1.0, 3.0, (N,)),
                   st.triang(1 / 3, loc=0, scale=3).cdf),
    "rayleigh": (lambda k: fr.rayleigh(k, 2.0, (N,)), st.rayleigh(scale=2.0).cdf),
    "wald": (lambda k: fr.wald(k, 1.5, (N,)), st.invgauss(1.5).cdf),
    "maxwell": (lambda k: fr.maxwell(k, (N,)), st.maxwell.cdf),
    "double_sided_maxwell": (lambda k: (fr.double_sided_maxwell(k, 1.0, 2.0, (N,)) - 1) / 2,
                             st.dweibull(2.0).cdf, "folded"),
    "gamma_small": (lambda k: fr.gamma(k, 0.3, (N,)), st.gamma(0.3).cdf),
    "gamma": (lambda k: fr.gamma(k, 2.5, (N,)), st.gamma(2.5).cdf),
    "loggamma": (lambda k: fnp.exp(fr.loggamma(k, 0.7, (N,))), st.gamma(0.7).cdf),
    "beta": (lambda k: fr.beta(k, 0.5, 3.0, (N,)), st.beta(0.5, 3.0).cdf),
    "dirichlet_marginal": (lambda k: fr.dirichlet(k, np.array([1.0, 2.0, 0.5]), (N,))[:, 0],
                           st.beta(1.0, 2.5).cdf),
    "chisquare": (lambda k: fr.chisquare(k, 3.0, (N,)), st.chi2(3.0).cdf),
    "t": (lambda k: fr.t(k, 3.0, (N,)), st.t(3.0).cdf),
    "f": (lambda k: fr.f(k, 3.0, 6.0, (N,)), st.f(3.0, 6.0).cdf),
    "generalized_normal": (lambda k: fr.generalized_normal(k, 1.5, (N,)),
                           st.gennorm(1.5).cdf),
}


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_continuous_distribution(name):
    spec = CONTINUOUS[name]
    sample = np.asarray(spec[0](fr.key(11)))
    assert np.all(np.isfinite(sample))
    if len(spec) == 3:  # double-sided Maxwell: |x| is Maxwell, the sign is fair
        assert abs(np.mean(sample > 0) - 0.5) < 5 * 0.5 / np.sqrt(N)
        _ks(np.abs(sample), st.maxwell.cdf)
    else:
        _ks(sample, spec[1])


def _frequencies_match(sample, probs, n_values):
    counts = np.bincount(np.asarray(sample).ravel(), minlength=n_values)
    probs = np.asarray(probs, np.float64)
    expected = probs / probs.sum() * counts.sum()
    assert st.chisquare(counts, expected).pvalue > 1e-4, (counts, expected)


def test_discrete_distributions():
    key = fr.key(3)
    _frequencies_match(fr.randint(key, (N,), 2, 7) - 2, np.full(5, 0.2), 5)
    _frequencies_match(fr.categorical(key, np.log(P5), shape=(N,)), P5 / P5.sum(), 5)
    _frequencies_match(fr.choice(key, 5, (N,), p=P5), P5 / P5.sum(), 5)
    b = np.asarray(fr.bernoulli(key, 0.3, (N,)))
    assert b.dtype == np.bool_ and abs(b.mean() - 0.3) < 5 * np.sqrt(0.21 / N)
    r = np.asarray(fr.rademacher(key, (N,)))
    assert set(np.unique(r)) == {-1, 1} and abs(r.mean()) < 5 / np.sqrt(N)
    g = np.asarray(fr.geometric(key, 0.3, (N,)))
    support = np.arange(1, 30)
    probs = st.geom(0.3).pmf(support)
    probs[-1] += st.geom(0.3).sf(support[-1])
    _frequencies_match(np.minimum(g, 29) - 1, probs, 29)
    for lam in (3.0, 40.0):  # Knuth's product method, then transformed rejection
        p = np.asarray(fr.poisson(key, lam, (N,)))
        hi = int(lam + 6 * np.sqrt(lam))
        support = np.arange(hi + 1)
        probs = st.poisson(lam).pmf(support)
        probs[-1] += st.poisson(lam).sf(hi)
        lo = max(0, int(lam - 6 * np.sqrt(lam)))
        probs[lo] += st.poisson(lam).cdf(lo - 1) if lo > 0 else 0.0
        _frequencies_match(np.clip(p, lo, hi), probs, hi + 1)


def test_permutations_and_choice_without_replacement():
    key = fr.key(9)
    perm = np.asarray(fr.permutation(key, 50))
    assert sorted(perm) == list(range(50)) and not np.array_equal(perm, np.arange(50))
    x = np.arange(12.0).reshape(3, 4)
    rows = np.asarray(fr.permutation(key, x, axis=1))
    assert sorted(map(tuple, rows.T)) == sorted(map(tuple, x.T))
    indep = np.asarray(fr.permutation(key, x, axis=1, independent=True))
    assert all(sorted(indep[i]) == sorted(x[i]) for i in range(3))
    picks = np.asarray(fr.choice(key, 10, (6,), replace=False))
    assert len(set(picks)) == 6 and picks.max() < 10
    picks = np.asarray(fr.choice(key, 10, (6,), replace=False, p=np.arange(1.0, 11.0) / 55))
    assert len(set(picks)) == 6
    # first draws without replacement land proportionally to p
    firsts = fx.vmap(lambda k: fr.choice(k, 5, (2,), replace=False, p=P5)[0])(
        fr.split(key, 4000))
    _frequencies_match(firsts, P5 / P5.sum(), 5)


def test_ball_and_dirichlet_support():
    key = fr.key(4)
    pts = np.asarray(fr.ball(key, 3, 2, (N // 4,)))
    radius = np.linalg.norm(pts, axis=-1)
    assert np.all(radius <= 1)
    _ks(radius ** 3, st.uniform.cdf)  # uniform in the ball: r^d is uniform
    pts1 = np.asarray(fr.ball(key, 2, 1, (N // 4,)))
    assert np.all(np.abs(pts1).sum(-1) <= 1 + 1e-6)
    d = np.asarray(fr.dirichlet(key, np.array([0.5, 1.0, 2.0]), (1000,)))
    np.testing.assert_allclose(d.sum(-1), 1, rtol=1e-5)
    assert np.all(d >= 0)


def test_linear_algebra_samplers():
    if not hasattr(fnp, "linalg"):
        pytest.skip("fx.numpy.linalg is not available")
    key = fr.key(2)
    q = np.asarray(fr.orthogonal(key, 4, (3,)))
    np.testing.assert_allclose(np.swapaxes(q, -1, -2) @ q, np.broadcast_to(np.eye(4), q.shape),
                               atol=1e-5)
    q = np.asarray(fr.orthogonal(key, 3, m=5))
    np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-5)
    cov = np.array([[2.0, 0.6], [0.6, 1.0]])
    for method in ("cholesky", "eigh", "svd"):
        x = np.asarray(fr.multivariate_normal(key, np.array([1.0, -1.0]), cov, (N,),
                                              method=method))
        np.testing.assert_allclose(x.mean(0), [1, -1], atol=0.05)
        np.testing.assert_allclose(np.cov(x.T), cov, atol=0.08)


def test_dtypes_shapes_and_defaults():
    key = fr.key(0)
    assert fr.uniform(key).shape == () and fr.uniform(key).dtype == np.float32
    assert fr.uniform(key, 3).shape == (3,)
    assert fr.normal(key, (2, 3), np.float16).dtype == np.float16
    assert fr.randint(key, (2,), 0, 5, np.int16).dtype == np.int16
    assert fr.poisson(key, np.ones((2, 3))).shape == (2, 3)
    assert fr.gamma(key, np.ones(4)).shape == (4,)
    assert fr.bernoulli(key).shape == () and fr.bernoulli(key).dtype == np.bool_
    assert fr.categorical(key, np.zeros((2, 5))).shape == (2,)
    assert fr.choice(key, np.arange(6.0).reshape(2, 3), (4,), axis=1).shape == (2, 4)
    assert fr.choice(key, 3, (0,)).shape == (0,)
    with fx.enable_x64():
        assert fr.uniform(key).dtype == np.float64
        assert fr.randint(key, (), 0, 3).dtype == np.int64


def test_bad_arguments():
    key = fr.key(0)
    with pytest.raises(ValueError, match="float dtype"):
        fr.uniform(key, (2,), np.int32)
    with pytest.raises(ValueError, match="float or complex"):
        fr.normal(key, (2,), np.int32)
    with pytest.raises(TypeError, match="integer dtypes"):
        fr.randint(key, (2,), 0, 10, np.float32)
    with pytest.raises(ValueError, match="mode"):
        fr.bernoulli(key, 0.5, (2,), mode="middle")
    with pytest.raises(ValueError, match="mode"):
        fr.gumbel(key, (2,), mode="middle")
    with pytest.raises(ValueError, match="broadcast-compatible"):
        fr.normal  # noqa: B018
        fr.poisson(key, np.ones(3), (2,))
    with pytest.raises(ValueError, match="larger sample"):
        fr.choice(key, 3, (5,), replace=False)
    with pytest.raises(ValueError, match="p must be None"):
        fr.choice(key, 3, (2,), p=np.ones(4) / 4)
    with pytest.raises(ValueError, match="cannot exceed"):
        fr.categorical(key, np.zeros(3), shape=(5,), replace=False)
    with pytest.raises(ValueError, match="method"):
        fr.multivariate_normal(key, np.zeros(2), np.eye(2), method="qr")
    with pytest.raises(ValueError, match="single key"):
        fr.gamma(fr.split(key), 1.0)
