"""Tests of fx.numpy's reductions: the basic ones' ``where=``/``initial=``/``keepdims``
(fx/numpy/_core.py) and the NaN family, order statistics, ``ptp``, ``average``,
``cov`` and ``corrcoef`` (fx/numpy/_reductions.py). Oracles: NumPy for values and
shapes over hypothesis-drawn shapes, axes and dtypes; JAX for result dtypes and weak
types; finite differences for derivatives; a Python loop for vmap; eager for jit.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx.test_util import check_grads


def rand(shape, seed=0, dtype=np.float32, nan_fraction=0.0):
    rng = np.random.RandomState(seed)
    if np.dtype(dtype).kind in "iu":
        return rng.randint(0 if np.dtype(dtype).kind == "u" else -5, 6, size=shape).astype(dtype)
    x = rng.normal(size=shape).astype(dtype)
    if nan_fraction:
        x[rng.rand(*shape) < nan_fraction] = np.nan
    return x


@st.composite
def array_and_axis(draw, min_side=1):
    shape = tuple(draw(st.lists(st.integers(min_side, 4), min_size=1, max_size=3)))
    nd = len(shape)
    axis = draw(st.one_of(st.none(), st.integers(-nd, nd - 1),
                          st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd,
                                   unique=True).map(tuple)))
    return shape, axis, draw(st.booleans()), draw(st.integers(0, 10_000))


def numpy_quietly(fn, *args, **kwargs):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# ---------------------------------------------------------------------------
# the basic reductions' options


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "mean", "var", "std", "all",
                                  "any"])
@settings(max_examples=10)
@given(case=array_and_axis())
def test_basic_reductions_where_and_keepdims(name, case):
    shape, axis, keepdims, seed = case
    x = rand(shape, seed)
    mask = np.random.RandomState(seed + 1).rand(*shape) < 0.7
    mask.flat[0] = True
    kwargs = {"where": mask}
    if name in ("max", "min"):
        kwargs["initial"] = -10.0 if name == "max" else 10.0
    out = getattr(fnp, name)(x, axis=axis, keepdims=keepdims, **kwargs)
    expected = numpy_quietly(getattr(np, name), x, axis=axis, keepdims=keepdims, **kwargs)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(np.asarray(out), expected, rtol=2e-5, atol=2e-6)


def test_initial_and_empty_reductions():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(np.asarray(fnp.sum(x, axis=1, initial=10.0)),
                               np.sum(x, axis=1, initial=10.0))
    np.testing.assert_allclose(np.asarray(fnp.prod(x + 1, initial=2.0)),
                               np.prod(x + 1, initial=2.0))
    np.testing.assert_allclose(np.asarray(fnp.max(np.zeros((0, 3)), axis=0, initial=-1.0)),
                               np.max(np.zeros((0, 3)), axis=0, initial=-1.0))
    with pytest.raises(ValueError, match="zero-size"):
        fnp.max(np.zeros((0, 3)), axis=0)
    assert fnp.sum(np.ones(3, np.int8)).dtype == np.int32
    assert fnp.sum(np.ones(3, np.uint8)).dtype == np.uint32


# ---------------------------------------------------------------------------
# NaN family

NAN_FUNCS = ["nansum", "nanprod", "nanmax", "nanmin", "nanmean", "nanvar", "nanstd",
             "nanmedian"]


@pytest.mark.parametrize("name", NAN_FUNCS)
@settings(max_examples=10)
@given(case=array_and_axis())
def test_nan_reductions_match_numpy(name, case):
    shape, axis, keepdims, seed = case
    x = rand(shape, seed, nan_fraction=0.3)
    out = getattr(fnp, name)(x, axis=axis, keepdims=keepdims)
    expected = numpy_quietly(getattr(np, name), x, axis=axis, keepdims=keepdims)
    assert out.shape == np.shape(expected) and out.dtype == np.float32
    np.testing.assert_allclose(np.asarray(out), expected, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name", ["nanargmax", "nanargmin"])
def test_nanarg(name):
    x = rand((4, 5), 3, nan_fraction=0.3)
    x[1] = np.nan
    out = getattr(fnp, name)(x, axis=1)
    expected = numpy_quietly(getattr(np, name), np.where(np.isnan(x).all(1, keepdims=True),
                                                         0.0, x), axis=1)
    expected[1] = -1  # JAX's answer for an all-NaN row (NumPy raises)
    np.testing.assert_array_equal(np.asarray(out), expected)
    assert int(getattr(fnp, name)(np.array([np.nan, 1.0, 5.0, np.nan]))) == \
        getattr(np, name)(np.array([np.nan, 1.0, 5.0, np.nan]))


def test_nan_reductions_options():
    x = rand((3, 4), 5, nan_fraction=0.3)
    mask = rand((3, 4), 6) > -0.5
    np.testing.assert_allclose(np.asarray(fnp.nansum(x, axis=0, where=mask)),
                               np.nansum(x, axis=0, where=mask), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(fnp.nanmean(x, axis=1, where=mask)),
                               numpy_quietly(np.nanmean, x, axis=1, where=mask), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(fnp.nanvar(x, axis=1, ddof=1)),
                               numpy_quietly(np.nanvar, x, axis=1, ddof=1), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(fnp.nanmax(x, initial=5.0)),
                               np.nanmax(x, initial=5.0))
    i = np.arange(6, dtype=np.int32)
    assert fnp.nansum(i).dtype == np.int32 and int(fnp.nansum(i)) == 15
    assert fnp.nanmean(i).dtype == np.float32


# ---------------------------------------------------------------------------
# order statistics

METHODS = ["linear", "lower", "higher", "midpoint", "nearest", "inverted_cdf"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("nan", [False, True])
@settings(max_examples=8)
@given(case=array_and_axis(), q_vector=st.booleans())
def test_quantiles_match_numpy(method, nan, case, q_vector):
    shape, axis, keepdims, seed = case
    x = rand(shape, seed, nan_fraction=0.25 if nan else 0.0)
    q = np.array([0.0, 0.3, 0.5, 0.77, 1.0], np.float32) if q_vector else np.float32(0.4)
    fn, ref = (fnp.nanquantile, np.nanquantile) if nan else (fnp.quantile, np.quantile)
    out = fn(x, q, axis=axis, method=method, keepdims=keepdims)
    expected = numpy_quietly(ref, x, q, axis=axis, method=method, keepdims=keepdims)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(np.asarray(out), expected, rtol=2e-5, atol=2e-6)


def test_median_percentile_and_nan_propagation():
    x = rand((5, 6), 1)
    for axis in (None, 0, 1, (0, 1)):
        np.testing.assert_allclose(np.asarray(fnp.median(x, axis=axis)),
                                   np.median(x, axis=axis), rtol=1e-6)
        np.testing.assert_allclose(np.asarray(fnp.percentile(x, [10, 90], axis=axis)),
                                   np.percentile(x, [10, 90], axis=axis), rtol=1e-5)
        np.testing.assert_allclose(np.asarray(fnp.nanpercentile(x, 25, axis=axis)),
                                   np.nanpercentile(x, 25, axis=axis), rtol=1e-5)
    x[2, 3] = np.nan
    assert np.isnan(np.asarray(fnp.median(x))) and np.isnan(np.asarray(fnp.median(x, 0)[3]))
    np.testing.assert_allclose(np.asarray(fnp.nanmedian(x, axis=0)), np.nanmedian(x, axis=0))
    assert fnp.median(np.arange(4)).dtype == np.float32
    with pytest.raises(ValueError, match="method"):
        fnp.quantile(x, 0.5, method="weibull")
    with pytest.raises(ValueError, match="rank"):
        fnp.quantile(x, np.ones((2, 2)) / 2)


def test_quantile_traced_q_grad_vmap():
    x = rand((7,), 2)
    f = fx.jit(lambda x, q: fnp.quantile(x, q))
    for q in (0.0, 0.25, 0.61, 1.0):
        np.testing.assert_allclose(float(f(x, q)), np.quantile(x, q), rtol=1e-6)
    check_grads(lambda x: fnp.quantile(x, 0.3), (x,), order=1)
    check_grads(lambda x: fnp.nanmedian(x), (x,), order=1)
    check_grads(lambda q: fnp.quantile(x, q), (np.float32(0.37),), order=1, eps=1e-3)
    xs = rand((3, 8), 4, nan_fraction=0.2)
    out = fx.vmap(lambda r: fnp.nanquantile(r, 0.5))(xs)
    expected = [np.nanquantile(r, 0.5) for r in xs]
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-6)


# ---------------------------------------------------------------------------
# ptp, average, cov, corrcoef


@settings(max_examples=10)
@given(case=array_and_axis())
def test_ptp_and_average(case):
    shape, axis, keepdims, seed = case
    x = rand(shape, seed)
    np.testing.assert_allclose(np.asarray(fnp.ptp(x, axis=axis, keepdims=keepdims)),
                               np.ptp(x, axis=axis, keepdims=keepdims), rtol=1e-6)
    w = np.abs(rand(shape, seed + 1)) + 0.1
    out, total = fnp.average(x, axis=axis, weights=w, returned=True, keepdims=keepdims)
    e_out, e_total = np.average(x, axis=axis, weights=w, returned=True, keepdims=keepdims)
    np.testing.assert_allclose(np.asarray(out), e_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(total), e_total, rtol=1e-5)


def test_average_1d_weights_and_errors():
    x = rand((3, 4), 7)
    w = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    np.testing.assert_allclose(np.asarray(fnp.average(x, axis=1, weights=w)),
                               np.average(x, axis=1, weights=w), rtol=1e-6)
    avg, cnt = fnp.average(x, axis=0, returned=True)
    np.testing.assert_allclose(np.asarray(cnt), [3.0] * 4)
    with pytest.raises(ValueError, match="weights"):
        fnp.average(x, weights=w)
    with pytest.raises(TypeError, match="bool"):
        fnp.ptp(np.array([True, False]))
    check_grads(lambda w: fnp.average(x, axis=1, weights=w), (w,), order=2)


def test_cov_corrcoef():
    rng = np.random.RandomState(0)
    x = rng.normal(size=(3, 7)).astype(np.float32)
    f = rng.randint(1, 4, size=7)
    a = rng.rand(7).astype(np.float32)
    for kwargs in [{}, {"bias": True}, {"ddof": 2}, {"fweights": f}, {"aweights": a},
                   {"fweights": f, "aweights": a}, {"rowvar": False}]:
        xx = x.T if kwargs.get("rowvar") is False else x
        np.testing.assert_allclose(np.asarray(fnp.cov(xx, **kwargs)), np.cov(xx, **kwargs),
                                   rtol=1e-4, atol=1e-5, err_msg=str(kwargs))
    np.testing.assert_allclose(np.asarray(fnp.cov(x[0], x[1])), np.cov(x[0], x[1]), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(fnp.cov(x[0])), np.cov(x[0]), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(fnp.corrcoef(x)), np.corrcoef(x), rtol=1e-4,
                               atol=1e-6)
    check_grads(lambda x: fnp.cov(x), (x,), order=1)


# ---------------------------------------------------------------------------
# dtypes vs JAX; vmap and jit


@pytest.mark.parametrize("name", NAN_FUNCS + ["nanargmax", "median", "ptp", "average"])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.float16, np.uint8])
def test_dtypes_match_jax(name, dtype):
    jax = pytest.importorskip("jax")
    x = rand((3, 4), 0, dtype)
    expected = jax.eval_shape(lambda x: getattr(jax.numpy, name)(x, axis=0), x)
    out = getattr(fnp, name)(x, axis=0)
    assert (out.dtype, out.shape, out.weak_type) == (expected.dtype, expected.shape,
                                                     expected.weak_type), name


@pytest.mark.parametrize("name", ["quantile", "percentile", "nanquantile"])
def test_quantile_dtypes_match_jax(name):
    jax = pytest.importorskip("jax")
    for x in (rand((5,), 0, np.int32), rand((5,), 0, np.float16), rand((5,), 0)):
        expected = jax.eval_shape(lambda x: getattr(jax.numpy, name)(x, 0.5), x)
        out = getattr(fnp, name)(x, 0.5)
        assert (out.dtype, out.weak_type) == (expected.dtype, expected.weak_type)


@pytest.mark.parametrize("name", ["nansum", "nanmean", "nanvar", "nanmax", "nanargmin",
                                  "median", "ptp"])
def test_vmap_matches_loop_and_jit_matches_eager(name):
    fn = getattr(fnp, name)
    xs = rand((3, 4, 5), 9, nan_fraction=0.2 if name.startswith("nan") else 0.0)
    out = fx.vmap(lambda x: fn(x, axis=1))(xs)
    looped = np.stack([np.asarray(fn(x, axis=1)) for x in xs])
    np.testing.assert_allclose(np.asarray(out), looped, rtol=1e-6)
    axis = 2 if name.startswith("nanarg") else (0, 2)
    np.testing.assert_allclose(np.asarray(fx.jit(lambda x: fn(x, axis=axis))(xs)),
                               np.asarray(fn(xs, axis=axis)), rtol=1e-6)


@pytest.mark.parametrize("name", ["nansum", "nanmean", "nanvar", "nanstd", "nanmax"])
def test_nan_reduction_grads(name):
    x = rand((3, 4), 12)
    x[0, 1] = np.nan
    fn = getattr(fnp, name)
    # derivatives with respect to the finite entries only
    finite = np.where(np.isnan(x), 0.0, 1.0).astype(np.float32)

    def f(y):
        return fn(fnp.where(finite > 0, y, np.nan), axis=1)
    check_grads(f, (np.nan_to_num(x),), order=1)
