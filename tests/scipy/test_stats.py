"""Tests of fx.scipy.stats: every distribution function against scipy.stats in
float64 (and float32 at float32 accuracy), gradients of log densities against
finite differences, vmap against a Python loop, jit against eager, dtypes and
weak types against jax.scipy.stats, support boundaries, and sem/mode/rankdata.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as sst
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx.scipy import stats as fst
from fx.test_util import check_grads

R = np.random.RandomState(0)
X_REAL = np.concatenate([np.linspace(-6, 6, 13), R.uniform(-3, 3, 6)])
X_POS = np.concatenate([np.linspace(-0.5, 8, 12), R.uniform(0, 4, 6)])
X_UNIT = np.concatenate([np.linspace(-0.1, 1.1, 13), R.uniform(0, 1, 6)])
Q = np.concatenate([np.linspace(0.01, 0.99, 9), [1e-6, 1 - 1e-6]])
K = np.arange(-1, 12).astype(np.float64)

# name -> (x grid, parameter tuple, parameter tuple for loc/scale variants or None)
CONTINUOUS = {
    "norm": (X_REAL, (), (0.7, 2.5)),
    "cauchy": (X_REAL, (), (0.7, 2.5)),
    "logistic": (X_REAL, (), (0.7, 2.5)),
    "laplace": (X_REAL, (), (0.7, 2.5)),
    "gumbel_r": (X_REAL, (), (0.7, 2.5)),
    "gumbel_l": (X_REAL, (), (0.7, 2.5)),
    "expon": (X_POS, (), (0.3, 2.5)),
    "uniform": (X_UNIT, (), (-0.2, 1.5)),
    "t": (X_REAL, (3.5,), (0.7, 2.5)),
    "gamma": (X_POS, (2.3,), (0.2, 1.7)),
    "chi2": (X_POS, (3.0,), (0.2, 1.7)),
    "beta": (X_UNIT, (2.3, 1.7), (-0.1, 1.3)),
    "pareto": (np.linspace(0.5, 8, 13), (2.5,), (0.2, 1.3)),
    "truncnorm": (X_REAL, (-1.0, 2.5), (0.3, 1.5)),
    "vonmises": (np.linspace(-np.pi, np.pi, 13), (1.7,), None),
    "wrapcauchy": (np.linspace(0.01, 6.27, 13), (0.4,), None),
    "gennorm": (X_REAL, (1.6,), None),
}
DISCRETE = {
    "poisson": ((3.5,), 0.0),
    "bernoulli": ((0.3,), 0.0),
    "binom": ((8.0, 0.35), 1.0),
    "geom": ((0.3,), 0.0),
    "nbinom": ((4.0, 0.45), 1.0),
    "betabinom": ((9.0, 2.2, 1.4), 0.0),
}
TOL64 = {"truncnorm": 1e-9, "gamma": 1e-10, "chi2": 1e-10, "beta": 1e-10, "betabinom": 1e-10}


def _cases(table):
    out = []
    for name in sorted(table):
        for fn in getattr(fst, name).__all__:
            out.append((name, fn))
    return out


def _inputs(name, fn, x):
    return Q if fn in ("ppf", "isf") else x


@pytest.mark.parametrize("name,fn", _cases(CONTINUOUS))
def test_continuous_matches_scipy(name, fn):
    x, params, loc_scale = CONTINUOUS[name]
    xs = _inputs(name, fn, x)
    scipy_dist = getattr(sst, name)
    variants = [params] + ([params + loc_scale] if loc_scale else [])
    for args in variants:
        with fx.enable_x64():
            out = np.asarray(getattr(getattr(fst, name), fn)(fnp.asarray(xs), *args))
        with np.errstate(all="ignore"):
            expected = getattr(scipy_dist, fn)(xs, *args)
        assert out.dtype == np.float64
        np.testing.assert_allclose(out, expected, rtol=TOL64.get(name, 1e-11), atol=1e-13,
                                   equal_nan=True, err_msg=f"{name}.{fn}{args}")


@pytest.mark.parametrize("name,fn", _cases(DISCRETE))
def test_discrete_matches_scipy(name, fn):
    params, loc = DISCRETE[name]
    if fn == "entropy":
        mu = np.array([0.0, 0.3, 3.5, 25.0, 150.0])
        with fx.enable_x64():
            out = np.asarray(fst.poisson.entropy(fnp.asarray(mu)))
        np.testing.assert_allclose(out, sst.poisson.entropy(mu), rtol=1e-9)
        return
    xs = np.linspace(0.01, 0.99, 9) if fn == "ppf" else K
    takes_loc = fn not in ("ppf",) and not (name == "bernoulli" and fn == "cdf")
    variants = [params] + ([params + (loc,)] if takes_loc and loc else [])
    for args in variants:
        with fx.enable_x64():
            out = np.asarray(getattr(getattr(fst, name), fn)(fnp.asarray(xs), *args))
        expected = getattr(getattr(sst, name), fn)(xs, *args)
        np.testing.assert_allclose(out, expected, rtol=TOL64.get(name, 1e-11), atol=1e-300,
                                   equal_nan=True, err_msg=f"{name}.{fn}{args}")


@pytest.mark.parametrize("name,fn", [c for c in _cases(CONTINUOUS) if c[1] in
                                     ("logpdf", "cdf", "sf", "ppf")])
def test_float32(name, fn):
    x, params, _ = CONTINUOUS[name]
    xs = _inputs(name, fn, x).astype(np.float32)
    out = getattr(getattr(fst, name), fn)(xs, *params)
    assert out.dtype == np.float32
    with np.errstate(all="ignore"):
        expected = getattr(getattr(sst, name), fn)(xs.astype(np.float64), *params)
    np.testing.assert_allclose(np.asarray(out), expected, rtol=5e-5, atol=5e-6,
                               equal_nan=True)


# ---------------------------------------------------------------------------
# derivatives

GRADS = [
    ("norm", "logpdf", (0.3, 0.5, 1.7)), ("norm", "logcdf", (-3.0, 0.5, 1.7)),
    ("norm", "cdf", (0.3, 0.5, 1.7)), ("norm", "ppf", (0.2, 0.5, 1.7)),
    ("cauchy", "logpdf", (0.3, 0.5, 1.7)), ("logistic", "logpdf", (0.3, 0.5, 1.7)),
    ("laplace", "logpdf", (0.3, 0.5, 1.7)), ("expon", "logpdf", (2.3, 0.5, 1.7)),
    ("t", "logpdf", (0.3, 3.5, 0.5, 1.7)), ("gamma", "logpdf", (1.3, 2.5, 0.2, 1.1)),
    ("gamma", "cdf", (1.3, 2.5)), ("chi2", "logpdf", (1.3, 3.5)),
    ("beta", "logpdf", (0.3, 2.5, 1.5)), ("beta", "cdf", (0.3, 2.5, 1.5)),
    ("gumbel_r", "logpdf", (0.3, 0.5, 1.7)), ("truncnorm", "logpdf", (0.3, -1.0, 2.0)),
    ("truncnorm", "logcdf", (0.3, -1.0, 2.0)), ("vonmises", "logpdf", (0.3, 1.5)),
    ("poisson", "logpmf", (3.0, 2.5)), ("binom", "logpmf", (3.0, 7.0, 0.4)),
    ("nbinom", "logpmf", (3.0, 4.5, 0.4)),
    ("gennorm", "logpdf", (0.3, 1.5)), ("pareto", "logpdf", (2.3, 2.5)),
]


@pytest.mark.parametrize("name,fn,args", GRADS)
def test_grads(name, fn, args):
    f = getattr(getattr(fst, name), fn)
    with fx.enable_x64():
        if (name, fn) in (("gamma", "cdf"), ("beta", "cdf")):
            # betainc has no derivative in its shape parameters (as in JAX): x only
            check_grads(lambda x: f(x, *args[1:]), [fnp.asarray(args[0])], order=1)
            if name == "gamma":
                check_grads(lambda a: f(args[0], a), [fnp.asarray(args[1])], order=1,
                            atol=1e-5, rtol=1e-5)
            return
        if name in ("poisson", "binom", "nbinom"):
            # k is discrete (poisson is -inf off the integers): differentiate the parameters
            check_grads(lambda *p: f(args[0], *p), [fnp.asarray(a) for a in args[1:]],
                        order=2)
            return
        order = 1 if fn in ("logcdf", "ppf") or name == "truncnorm" else 2
        check_grads(f, [fnp.asarray(a) for a in args], order=order, modes=("fwd", "rev"))


# ---------------------------------------------------------------------------
# transformations


@pytest.mark.parametrize("name,fn", [("norm", "logpdf"), ("gamma", "cdf"), ("beta", "cdf"),
                                     ("truncnorm", "logcdf"), ("poisson", "logpmf"),
                                     ("t", "logpdf"), ("vonmises", "logpdf")])
def test_vmap_jit(name, fn, harness):
    rng = np.random.RandomState(2)
    f = getattr(getattr(fst, name), fn)
    if name == "norm":
        args = [rng.randn(3, 4), rng.randn(3, 4), rng.uniform(0.5, 2, (3, 4))]
    elif name == "gamma":
        args = [rng.uniform(0, 4, (3, 4)), rng.uniform(0.5, 3, (3, 4))]
    elif name == "beta":
        args = [rng.uniform(0, 1, (3, 4)), rng.uniform(0.5, 3, (3, 4)),
                rng.uniform(0.5, 3, (3, 4))]
    elif name == "truncnorm":
        args = [rng.uniform(-1, 2, (3, 4)), np.full((3, 4), -1.5), np.full((3, 4), 2.0)]
    elif name == "poisson":
        args = [np.floor(rng.uniform(0, 6, (3, 4))), rng.uniform(0.5, 4, (3, 4))]
    elif name == "t":
        args = [rng.randn(3, 4), rng.uniform(1, 5, (3, 4))]
    else:
        args = [rng.uniform(-3, 3, (3, 4)), rng.uniform(0.3, 3, (3, 4))]
    args = [a.astype(np.float32) for a in args]
    harness.check_vmap(f, args, [0] * len(args), rtol=1e-5, atol=1e-6)
    # only the first argument batched (along axis 1), the others per-example
    per_example = [args[0]] + [a[:, 0] for a in args[1:]]
    harness.check_vmap(f, per_example, [1] + [None] * (len(args) - 1), rtol=1e-5, atol=1e-6)
    harness.check_jit(f, args, rtol=1e-5, atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(shapes=st.sampled_from([((4,), (), ()), ((2, 3), (3,), (2, 1)), ((), (4,), ())]))
def test_parameter_broadcasting(shapes):
    rng = np.random.RandomState(len(shapes[0]))
    x, loc, scale = (rng.uniform(0.5, 2, s) for s in shapes)
    with fx.enable_x64():
        out = np.asarray(fst.norm.logpdf(fnp.asarray(x), fnp.asarray(loc), fnp.asarray(scale)))
    expected = sst.norm.logpdf(x, loc, scale)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def _scalar_args(name, fn):
    params = CONTINUOUS[name][1] if name in CONTINUOUS else DISCRETE[name][0]
    x = 0.3 if fn in ("ppf", "isf") else (1.0 if name in ("pareto",) + tuple(DISCRETE)
                                          else 0.5)
    return (x,) + tuple(params)


def test_dtypes_match_jax(jax):
    import jax.scipy.stats as jst
    # weak results for Python scalars, except where JAX's are strong (norm's CDF family,
    # uniform.cdf, truncnorm)
    cases = [(name, fn, _scalar_args(name, fn)) for name, fn in
             _cases(CONTINUOUS) + _cases(DISCRETE) if fn != "entropy"]
    cases += [("norm", "logpdf", (np.float32(0.5),)), ("uniform", "cdf", (2,)),
              ("poisson", "entropy", (3.5,)), ("poisson", "logpmf", (2, 3.))]
    mismatches = []
    for name, fn, args in cases:
        # jax.eval_shape gives JAX's result types without compiling
        expected = jax.eval_shape(getattr(getattr(jst, name), fn), *args)
        out = getattr(getattr(fst, name), fn)(*args)
        if (out.dtype, out.weak_type) != (expected.dtype, expected.weak_type):
            mismatches.append((name, fn, args, (out.dtype, out.weak_type),
                               (expected.dtype, expected.weak_type)))
    assert not mismatches, mismatches
    # and a few values from JAX itself
    x = np.array([0.3, 1.7], np.float32)
    for name, fn, args in [("truncnorm", "logsf", (x, -1., 2.))]:
        expected = getattr(getattr(jst, name), fn)(*args)
        out = getattr(getattr(fst, name), fn)(*args)
        np.testing.assert_allclose(np.asarray(out), np.asarray(expected), rtol=2e-5)


# ---------------------------------------------------------------------------
# multivariate distributions


def test_multivariate_normal():
    rng = np.random.RandomState(0)
    a = rng.randn(3, 3)
    cov = a @ a.T + np.eye(3)
    mean = rng.randn(3)
    x = rng.randn(5, 3)
    mvn = fst.multivariate_normal
    with fx.enable_x64():
        np.testing.assert_allclose(np.asarray(mvn.logpdf(fnp.asarray(x), mean, cov)),
                                   sst.multivariate_normal.logpdf(x, mean, cov), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(mvn.pdf(fnp.asarray(x), mean, cov)),
                                   sst.multivariate_normal.pdf(x, mean, cov), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(mvn.logpdf(fnp.asarray(x), mean, 2.0)),
                                   sst.multivariate_normal.logpdf(x, mean, 2.0), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(mvn.logpdf(fnp.asarray(x[:, 0]), 0.3, 2.0)),
                                   sst.norm.logpdf(x[:, 0], 0.3, np.sqrt(2.0)), rtol=1e-12)
        # batched covariances broadcast against batched points
        covs = np.stack([cov, 2 * cov])
        out = np.asarray(mvn.logpdf(fnp.asarray(x[:2]), mean, covs))
        np.testing.assert_allclose(out, [sst.multivariate_normal.logpdf(x[i], mean, covs[i])
                                         for i in range(2)], rtol=1e-12)
        check_grads(lambda m, c: mvn.logpdf(fnp.asarray(x), m, c @ c.T + fnp.eye(3)),
                    [fnp.asarray(mean), fnp.asarray(a)], order=1)
    with pytest.raises(ValueError, match="incompatible shapes"):
        mvn.logpdf(np.zeros(3), np.zeros(3), np.eye(2))
    with pytest.raises(NotImplementedError):
        mvn.logpdf(np.zeros(3), np.zeros(3), np.eye(3), allow_singular=True)


def test_dirichlet_multinomial():
    alpha = np.array([1.5, 2.0, 0.7])
    x = np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]).T
    with fx.enable_x64():
        np.testing.assert_allclose(np.asarray(fst.dirichlet.logpdf(fnp.asarray(x), alpha)),
                                   sst.dirichlet.logpdf(x, alpha), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(fst.dirichlet.pdf(fnp.asarray(x[:2]), alpha)),
                                   sst.dirichlet.pdf(x, alpha), rtol=1e-12)
        assert float(fst.dirichlet.logpdf(np.array([0.5, 0.6, -0.1]), alpha)) == -np.inf
        p = np.array([0.2, 0.3, 0.5])
        counts = np.array([[1, 2, 3], [0, 0, 6], [2, 2, 2]])
        np.testing.assert_allclose(np.asarray(fst.multinomial.logpmf(counts, 6, p)),
                                   sst.multinomial.logpmf(counts, 6, p), rtol=1e-12)
        assert float(fst.multinomial.logpmf(np.array([1, 1, 1]), 6, p)) == -np.inf
    with pytest.raises(ValueError, match="one-dimensional"):
        fst.dirichlet.logpdf(x, np.ones((3, 1)))
    with pytest.raises(ValueError, match="entries"):
        fst.dirichlet.logpdf(np.ones(5) / 5, alpha)
    with pytest.raises(ValueError, match="integer"):
        fst.multinomial.logpmf(np.array([1., 2.]), 3, np.array([0.5, 0.5]))


# ---------------------------------------------------------------------------
# sem, mode, rankdata


@pytest.mark.parametrize("method", ["average", "min", "max", "dense", "ordinal"])
def test_rankdata(method):
    r = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5.])
    np.testing.assert_allclose(np.asarray(fst.rankdata(r, method)), sst.rankdata(r, method))
    m = np.array([[1, 2, 2, 3], [3, 3, 1, 1]])
    np.testing.assert_allclose(np.asarray(fst.rankdata(m, method, axis=1)),
                               sst.rankdata(m, method, axis=1))
    assert np.all(np.isnan(np.asarray(fst.rankdata(np.array([1., np.nan]), method))))


def test_mode_sem():
    m = np.array([[1, 2, 2, 3], [3, 3, 1, 1], [5, 4, 4, 4]])
    out = fst.mode(m, axis=1)
    ref = sst.mode(m, axis=1)
    np.testing.assert_array_equal(np.asarray(out.mode), ref.mode)
    np.testing.assert_array_equal(np.asarray(out.count), ref.count)
    out0 = fst.mode(m, axis=0, keepdims=True)
    ref0 = sst.mode(m, axis=0, keepdims=True)
    np.testing.assert_array_equal(np.asarray(out0.mode), ref0.mode)
    x = np.array([[1., 2, 3, 4, 10], [2., 2, 5, 1, 0]])
    with fx.enable_x64():
        np.testing.assert_allclose(np.asarray(fst.sem(fnp.asarray(x), axis=1)),
                                   sst.sem(x, axis=1), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(fst.sem(fnp.asarray(x), axis=None, ddof=0)),
                                   sst.sem(x, axis=None, ddof=0), rtol=1e-12)
        xn = x.copy()
        xn[0, 2] = np.nan
        np.testing.assert_allclose(np.asarray(fst.sem(fnp.asarray(xn), axis=1,
                                                      nan_policy="omit")),
                                   sst.sem(xn, axis=1, nan_policy="omit"), rtol=1e-12)
    with pytest.raises(ValueError, match="method"):
        fst.rankdata(x, "mean")
    with pytest.raises(ValueError, match="nan_policy"):
        fst.mode(x, nan_policy="skip")


def test_support_and_parameter_edges():
    assert float(fst.uniform.logpdf(1.5)) == -np.inf
    assert float(fst.expon.logpdf(-0.1)) == -np.inf
    assert float(fst.poisson.logpmf(2.5, 1.0)) == -np.inf
    assert float(fst.beta.logpdf(1.2, 2., 3.)) == -np.inf
    assert np.isnan(float(fst.beta.logpdf(0.5, -2., 3.)))
    assert np.isnan(float(fst.vonmises.logpdf(0.5, -1.)))
    assert np.isnan(float(fst.truncnorm.logpdf(0.5, 2., 1.)))
    assert float(fst.norm.logcdf(-40.)) == pytest.approx(sst.norm.logcdf(-40.), rel=1e-6)
    assert float(fst.norm.logsf(40.)) == pytest.approx(sst.norm.logsf(40.), rel=1e-6)
    with pytest.raises(TypeError):
        fst.norm.logpdf("a")
