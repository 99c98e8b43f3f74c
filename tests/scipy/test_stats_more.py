"""Tests of the fx.scipy.stats audit against jax.scipy.stats 0.10.2: every
distribution function JAX has exists with JAX's parameter names and defaults, and
gaussian_kde (values and integrals against scipy.stats.gaussian_kde, pytree behaviour
under jit/vmap/grad, resampling, errors).
"""
from __future__ import annotations

import inspect
import types

import numpy as np
import pytest
import scipy.stats as ss

import fx
import fx.numpy as fnp
from fx.scipy import stats
from fx.scipy.stats import gaussian_kde

RNG = np.random.RandomState(0)


def test_same_functions_and_parameters_as_jax():
    jstats = pytest.importorskip("jax.scipy.stats")
    for name in dir(jstats):
        module = getattr(jstats, name)
        if not isinstance(module, types.ModuleType):
            continue
        ours = getattr(stats, name)
        for fn_name in dir(module):
            fn = getattr(module, fn_name)
            if fn_name.startswith("_") or not callable(fn) or not getattr(
                    fn, "__module__", "").startswith("jax"):
                continue
            mine = getattr(ours, fn_name)
            expected = [(p.name, p.kind, p.default)
                        for p in inspect.signature(fn).parameters.values()]
            got = [(p.name, p.kind, p.default)
                   for p in inspect.signature(mine).parameters.values()]
            assert got == expected, f"{name}.{fn_name}"
    for name in ("gaussian_kde", "mode", "rankdata", "sem"):
        assert hasattr(stats, name)


def test_renamed_parameters_still_compute():
    np.testing.assert_allclose(float(stats.gumbel_r.ppf(p=0.3)), ss.gumbel_r.ppf(0.3),
                               rtol=1e-6)
    np.testing.assert_allclose(float(stats.gumbel_l.ppf(p=0.3, loc=1.)),
                               ss.gumbel_l.ppf(0.3, loc=1.), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(stats.logistic.ppf(x=0.3)), ss.logistic.ppf(0.3),
                               rtol=1e-6)
    np.testing.assert_allclose(float(stats.logistic.isf(x=0.3, scale=2.)),
                               ss.logistic.isf(0.3, scale=2.), rtol=1e-6)


@pytest.mark.parametrize("bw_method", [None, "scott", "silverman", 0.3,
                                       lambda kde: 0.5 * kde.neff ** -0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_kde_values(bw_method, weighted):
    data = RNG.randn(3, 25)
    weights = RNG.uniform(0.2, 2.0, 25) if weighted else None
    points = RNG.randn(3, 6)
    reference_bw = bw_method
    if callable(bw_method):
        reference_bw = lambda kde: 0.5 * kde.neff ** -0.2  # noqa: E731
    ref = ss.gaussian_kde(data, bw_method=reference_bw, weights=weights)
    with fx.enable_x64():
        kde = gaussian_kde(fnp.asarray(data), bw_method=bw_method,
                           weights=None if weights is None else fnp.asarray(weights))
        assert (kde.d, kde.n) == (3, 25)
        np.testing.assert_allclose(np.asarray(kde.covariance), ref.covariance, rtol=1e-12)
        np.testing.assert_allclose(float(kde.neff), ref.neff, rtol=1e-12)
        np.testing.assert_allclose(np.asarray(kde.evaluate(fnp.asarray(points))),
                                   ref.evaluate(points), rtol=1e-11)
        np.testing.assert_allclose(np.asarray(kde(fnp.asarray(points))), ref(points),
                                   rtol=1e-11)
        np.testing.assert_allclose(np.asarray(kde.pdf(fnp.asarray(points))), ref.pdf(points),
                                   rtol=1e-11)
        np.testing.assert_allclose(np.asarray(kde.logpdf(fnp.asarray(points))),
                                   ref.logpdf(points), rtol=1e-11)
        mean, cov = RNG.randn(3), np.eye(3) * 0.7
        np.testing.assert_allclose(float(kde.integrate_gaussian(mean, cov)),
                                   ref.integrate_gaussian(mean, cov), rtol=1e-11)
        other = RNG.randn(3, 9)
        np.testing.assert_allclose(float(kde.integrate_kde(gaussian_kde(other))),
                                   ref.integrate_kde(ss.gaussian_kde(other)), rtol=1e-11)


def test_kde_one_dimensional():
    data = RNG.randn(40)
    ref = ss.gaussian_kde(data)
    with fx.enable_x64():
        kde = gaussian_kde(fnp.asarray(data))
        np.testing.assert_allclose(float(kde.integrate_box_1d(-0.5, 1.2)),
                                   ref.integrate_box_1d(-0.5, 1.2), rtol=1e-12)
        x = np.linspace(-3, 3, 7)
        np.testing.assert_allclose(np.asarray(kde.evaluate(x)), ref.evaluate(x), rtol=1e-11)
        # far in the tails logpdf stays finite where the density underflows
        np.testing.assert_allclose(np.asarray(kde.logpdf(np.array([60.0]))),
                                   ref.logpdf(np.array([60.0])), rtol=1e-9)
    kde32 = gaussian_kde(data.astype(np.float32))
    assert kde32.evaluate(np.float32(0.1)).dtype == np.float32
    np.testing.assert_allclose(np.asarray(kde32.evaluate(np.float32(0.1))),
                               ref.evaluate(0.1), rtol=1e-5)


def test_kde_pytree_jit_vmap_grad():
    data = RNG.randn(30)
    kde = gaussian_kde(data)
    leaves, tree = fx.tree_util.tree_flatten(kde)
    assert len(leaves) == 5
    rebuilt = fx.tree_util.tree_unflatten(tree, leaves)
    points = np.linspace(-2, 2, 5).astype(np.float32)
    np.testing.assert_allclose(np.asarray(fx.jit(lambda k, p: k.logpdf(p))(kde, points)),
                               np.asarray(rebuilt.logpdf(points)), rtol=1e-5)
    batched = fx.vmap(lambda p: kde.evaluate(p[None])[0])(points)
    np.testing.assert_allclose(np.asarray(batched), np.asarray(kde.evaluate(points)),
                               rtol=1e-6)
    with fx.enable_x64():
        x = fnp.asarray(data[:10])

        def f(d):
            return gaussian_kde(d, bw_method=0.4).logpdf(np.array([0.3, -0.2])).sum()

        step = 1e-6
        numeric = np.array([(float(f(x + step * e)) - float(f(x - step * e))) / (2 * step)
                            for e in np.eye(10)])
        np.testing.assert_allclose(np.asarray(fx.grad(f)(x)), numeric, rtol=1e-6, atol=1e-9)


def test_kde_resample():
    data = RNG.randn(2, 200) * np.array([[1.0], [3.0]]) + np.array([[2.0], [-1.0]])
    kde = gaussian_kde(data.astype(np.float32))
    sample = kde.resample(fx.random.key(0), (4000,))
    assert sample.shape == (2, 4000) and sample.dtype == np.float32
    sample = np.asarray(sample)
    np.testing.assert_allclose(sample.mean(axis=1), data.mean(axis=1), atol=0.2)
    np.testing.assert_allclose(sample.std(axis=1), np.sqrt(data.var(axis=1)
                                                           + np.diag(kde.covariance)),
                               rtol=0.1)
    assert kde.resample(fx.random.key(1)).shape == (2,)
    assert kde.resample(fx.random.key(1), (3, 5)).shape == (2, 3, 5)


def test_kde_errors():
    with pytest.raises(ValueError, match="multiple elements"):
        gaussian_kde(np.array([1.0]))
    with pytest.raises(ValueError, match="length n"):
        gaussian_kde(np.arange(5.0), weights=np.ones(4))
    with pytest.raises(ValueError, match="bw_method"):
        gaussian_kde(np.arange(5.0), bw_method="wide")
    kde = gaussian_kde(RNG.randn(2, 10))
    with pytest.raises(ValueError, match="dimension"):
        kde.evaluate(np.ones((3, 4)))
    with pytest.raises(ValueError, match="1D"):
        kde.integrate_box_1d(0.0, 1.0)
    with pytest.raises(NotImplementedError):
        kde.integrate_box(np.zeros(2), np.ones(2))
    with pytest.raises(NotImplementedError):
        kde.set_bandwidth("scott")
    with pytest.raises(TypeError):
        gaussian_kde([1.0, 2.0, 3.0])
