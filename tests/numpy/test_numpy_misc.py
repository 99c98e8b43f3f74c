"""Tests of the rest of fx.numpy (creation, set operations, numerical helpers,
polynomials, selection and functional helpers, ufuncs, scalar types) and of the extra
``fx.lax`` functions in fx/lax/_lax_more.py. Oracles: NumPy/SciPy for values, JAX for
dtypes and for behaviour NumPy lacks (``size=`` padding), finite differences for
derivatives, a Python loop for vmap, eager for jit.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx.errors import ConcretizationTypeError
from fx.lax import _lax_more as lax_more
from fx.test_util import check_grads


def check(actual, expected, rtol=2e-5, atol=1e-5):
    """``actual`` (an array or a sequence of them) equals ``expected`` in shape and value."""
    if isinstance(expected, (list, tuple)):
        assert isinstance(actual, (list, tuple)) and len(actual) == len(expected)
        for a, e in zip(actual, expected):
            check(a, e, rtol, atol)
        return
    a, e = np.asarray(actual), np.asarray(expected)
    assert a.shape == e.shape, (a.shape, e.shape)
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)


def rand(shape, seed=0, dtype=np.float32):
    rng = np.random.RandomState(seed)
    if np.dtype(dtype).kind in "iu":
        return rng.randint(0, 8, size=shape).astype(dtype)
    return rng.normal(size=shape).astype(dtype)


# ---------------------------------------------------------------------------
# creation


def test_log_and_geometric_ranges():
    check(fnp.logspace(0, 3, 4), np.logspace(0, 3, 4))
    check(fnp.logspace(0, 3, 4, base=2, endpoint=False), np.logspace(0, 3, 4, base=2,
                                                                      endpoint=False))
    check(fnp.geomspace(1, 1000, 4), np.geomspace(1, 1000, 4))
    check(fnp.geomspace(-1, -1000, 5, endpoint=False), np.geomspace(-1, -1000, 5,
                                                                   endpoint=False))
    starts, stops = np.array([1.0, 2.0]), np.array([10.0, 20.0])
    check(fnp.geomspace(starts, stops, 3, axis=1), np.geomspace(starts, stops, 3, axis=1))
    out = fnp.geomspace(3.0, 300.0, 3)
    assert float(out[0]) == 3.0 and float(out[-1]) == 300.0
    assert fnp.logspace(0, 3, 4, dtype=fnp.int32).dtype == np.int32
    check_grads(lambda s: fnp.logspace(s, 2.0, 5), (np.float32(0.5),), order=1)


def test_grids_and_indices():
    a, b, c = np.arange(2), np.arange(3.0), np.arange(4)
    for sparse in (False, True):
        for indexing in ("xy", "ij"):
            check(fnp.meshgrid(a, b, c, sparse=sparse, indexing=indexing),
                  np.meshgrid(a, b, c, sparse=sparse, indexing=indexing))
    check(fnp.indices((2, 3)), np.indices((2, 3)))
    check(fnp.indices((2, 3), sparse=True), np.indices((2, 3), sparse=True))
    check(fnp.mgrid[0:2, 0:3:4j], np.mgrid[0:2, 0:3:4j])
    check(fnp.mgrid[0:5:2], np.mgrid[0:5:2])
    check(fnp.ogrid[0:2, 1:3], np.ogrid[0:2, 1:3])
    check(fnp.ix_(np.array([0, 1]), np.array([True, False, True])),
          np.ix_(np.array([0, 1]), np.array([True, False, True])))
    assert fnp.s_[1:2, ::3] == np.s_[1:2, ::3] and fnp.index_exp[1] == np.index_exp[1]


def test_concatenators():
    check(fnp.r_[1:3, [4, 5], 7], np.r_[1:3, [4, 5], 7])
    check(fnp.r_["0,2", [1, 2], [3, 4]], np.r_["0,2", [1, 2], [3, 4]])
    check(fnp.r_["0,2,0", [1, 2], [3, 4]], np.r_["0,2,0", [1, 2], [3, 4]])
    check(fnp.r_["r", [1, 2], [3, 4]], np.r_["r", [1, 2], [3, 4]])
    check(fnp.r_["-1", np.ones((2, 2)), np.zeros((2, 1))],
          np.r_["-1", np.ones((2, 2)), np.zeros((2, 1))])
    check(fnp.c_[np.array([1, 2]), np.array([3, 4])], np.c_[np.array([1, 2]), np.array([3, 4])])
    check(fnp.c_[np.ones((2, 2)), np.zeros((2, 1))], np.c_[np.ones((2, 2)), np.zeros((2, 1))])


def test_index_helpers():
    check(fnp.tril_indices(3, 1, 4), np.tril_indices(3, 1, 4))
    check(fnp.triu_indices(4, -1), np.triu_indices(4, -1))
    check(fnp.tril_indices_from(np.ones((3, 4))), np.tril_indices_from(np.ones((3, 4))))
    check(fnp.triu_indices_from(np.ones((3, 4)), 1), np.triu_indices_from(np.ones((3, 4)), 1))
    check(fnp.diag_indices(3, 3), np.diag_indices(3, 3))
    check(fnp.diag_indices_from(np.ones((2, 2))), np.diag_indices_from(np.ones((2, 2))))
    check(fnp.mask_indices(3, fnp.triu, 1), np.mask_indices(3, np.triu, 1))
    with pytest.raises(ValueError, match="2-d"):
        fnp.tril_indices_from(np.ones(3))


def test_functions_buffers_and_windows():
    check(fnp.fromfunction(lambda i, j: i * 10 + j, (2, 3)),
          np.fromfunction(lambda i, j: i * 10 + j, (2, 3)))
    check(fnp.frombuffer(b"\x01\x02", dtype=np.uint8), np.array([1, 2]))
    check(fnp.fromstring("1 2", sep=" "), np.array([1.0, 2.0]))
    with pytest.raises(NotImplementedError, match="np.fromfile"):
        fnp.fromfile("x")
    with pytest.raises(NotImplementedError, match="np.fromiter"):
        fnp.fromiter(range(3), int)
    check(fnp.vander(np.array([1, 2, 3])), np.vander(np.array([1, 2, 3])))
    check(fnp.vander(np.array([1.0, 2.0]), 4, increasing=True),
          np.vander(np.array([1.0, 2.0]), 4, increasing=True))
    for name in ["bartlett", "blackman", "hamming", "hanning"]:
        for m in [0, 1, 2, 5, 8]:
            check(getattr(fnp, name)(m), getattr(np, name)(m), atol=1e-6)
    for m in [0, 1, 4, 7]:
        check(fnp.kaiser(m, 3.5), np.kaiser(m, 3.5), atol=1e-6)
    check_grads(lambda b: fnp.kaiser(5, b), (np.float32(2.0),), order=1)
    copied = fnp.copy(fnp.arange(3))
    check(copied, np.arange(3))
    assert "copy" in str(fx.make_jaxpr(fnp.copy)(np.ones(2, np.float32)))
    assert fnp.atleast_3d(np.ones(3)).shape == (1, 3, 1)
    assert [a.shape for a in fnp.atleast_3d(np.ones((2, 3)), 1.0)] == [(2, 3, 1), (1, 1, 1)]


def test_load_and_save(tmp_path):
    x = fnp.arange(4.0)
    fnp.save(tmp_path / "x.npy", x)
    y = fnp.load(tmp_path / "x.npy")
    assert isinstance(y, fx.Array)
    check(y, np.arange(4.0, dtype=np.float32))


# ---------------------------------------------------------------------------
# set operations

SET_FUNCS = ["union1d", "intersect1d", "setdiff1d", "setxor1d"]


@pytest.mark.parametrize("name", SET_FUNCS)
@settings(max_examples=15)
@given(a=st.lists(st.integers(0, 8), max_size=7), b=st.lists(st.integers(0, 8), max_size=7))
def test_set_ops_match_numpy(name, a, b):
    a, b = np.array(a, np.int32), np.array(b, np.int32)
    expected = getattr(np, name)(a, b)
    out = getattr(fnp, name)(a, b)
    np.testing.assert_array_equal(np.asarray(out), expected)
    if name in ("intersect1d", "setxor1d") or len(np.unique(a)) == len(a):
        unique_a = np.unique(a)
        unique_b = np.unique(b)
        np.testing.assert_array_equal(
            np.asarray(getattr(fnp, name)(unique_a, unique_b, assume_unique=True)
                       if name != "union1d" else getattr(fnp, name)(unique_a, unique_b)),
            getattr(np, name)(unique_a, unique_b))


@pytest.mark.parametrize("name", SET_FUNCS)
def test_set_ops_size_matches_jax_under_jit(name):
    jax = pytest.importorskip("jax")
    rng = np.random.RandomState(0)
    cases = [(2, None), (9, -1)]
    functions = {case: fx.jit(lambda a, b, case=case: getattr(fnp, name)(
        a, b, size=case[0], fill_value=case[1])) for case in cases}
    for _ in range(4):  # fixed shapes, so each case compiles once
        a = rng.randint(0, 6, size=5).astype(np.int32)
        b = rng.randint(0, 6, size=4).astype(np.int32)
        for size, fill in cases:
                try:
                    expected = getattr(jax.numpy, name)(a, b, size=size, fill_value=fill)
                except (ValueError, IndexError, TypeError):
                    continue  # JAX fails on some empty results; NumPy is the oracle there
                out = functions[size, fill](a, b)
                np.testing.assert_array_equal(np.asarray(out), np.asarray(expected))
    with pytest.raises(ConcretizationTypeError, match="size="):
        fx.jit(getattr(fnp, name))(a, b)


def test_intersect1d_return_indices():
    a = np.array([3, 1, 2, 3, 5], np.int32)
    b = np.array([5, 1, 3, 3], np.int32)
    check(fnp.intersect1d(a, b, return_indices=True),
          np.intersect1d(a, b, return_indices=True))
    jax = pytest.importorskip("jax")
    check(fnp.intersect1d(a, b, return_indices=True, size=5),
          jax.numpy.intersect1d(a, b, return_indices=True, size=5))


@settings(max_examples=15)
@given(shape=st.lists(st.integers(1, 4), max_size=2).map(tuple), seed=st.integers(0, 99),
       method=st.sampled_from(["auto", "compare_all", "sort"]), invert=st.booleans())
def test_isin(shape, seed, method, invert):
    x = rand(shape, seed, np.int32)
    t = rand((5,), seed + 1, np.int32)
    np.testing.assert_array_equal(np.asarray(fnp.isin(x, t, invert=invert, method=method)),
                                  np.isin(x, t, invert=invert))
    f = np.array([np.nan, 1.0, 2.0], np.float32)
    np.testing.assert_array_equal(np.asarray(fnp.isin(f, f, method=method)), np.isin(f, f))


# ---------------------------------------------------------------------------
# numerical helpers


def test_differences():
    x = rand((4, 5), 1)
    check(fnp.diff(x), np.diff(x))
    check(fnp.diff(x, 2, axis=0), np.diff(x, 2, axis=0))
    check(fnp.diff(x, prepend=0, append=x[:, :1]), np.diff(x, prepend=0, append=x[:, :1]))
    check(fnp.diff(np.array([True, False, False])), np.diff(np.array([True, False, False])))
    check(fnp.ediff1d(x, to_end=[1, 2], to_begin=-1), np.ediff1d(x, to_end=[1, 2], to_begin=-1))
    coords = np.cumsum(np.random.RandomState(2).rand(5) + 0.1)
    check(fnp.gradient(x), np.gradient(x))
    check(fnp.gradient(x, 2.0, edge_order=2), np.gradient(x, 2.0, edge_order=2))
    check(fnp.gradient(x, coords, axis=1), np.gradient(x, coords, axis=1), rtol=1e-4)
    check(fnp.gradient(x, coords, edge_order=2, axis=-1),
          np.gradient(x, coords, edge_order=2, axis=-1), rtol=1e-4, atol=1e-4)
    check(fnp.gradient(x, 1.0, coords), np.gradient(x, 1.0, coords), rtol=1e-4)
    phase = np.cumsum(np.random.RandomState(3).normal(size=20) * 2).astype(np.float32)
    check(fnp.unwrap(phase), np.unwrap(phase), rtol=1e-4, atol=1e-4)
    check(fnp.unwrap(phase, period=5.0), np.unwrap(phase, period=5.0), rtol=1e-4, atol=1e-4)
    check(fnp.unwrap(phase, discont=4.0), np.unwrap(phase, discont=4.0), rtol=1e-4, atol=1e-4)
    check(fnp.trapezoid(x), np.trapezoid(x))
    check(fnp.trapezoid(x, coords), np.trapezoid(x, coords), rtol=1e-4)
    check(fnp.trapezoid(x, dx=0.5, axis=0), np.trapezoid(x, dx=0.5, axis=0))
    check_grads(lambda y: fnp.trapezoid(y, coords), (x,), order=1)
    check_grads(lambda y: fnp.gradient(y, 0.5), (x,), order=1)


def test_interp():
    rng = np.random.RandomState(4)
    xp = np.sort(rng.normal(size=6)).astype(np.float32)
    fp = rng.normal(size=6).astype(np.float32)
    x = (rng.normal(size=10) * 2).astype(np.float32)
    check(fnp.interp(x, xp, fp), np.interp(x, xp, fp))
    check(fnp.interp(x, xp, fp, left=-9, right=9), np.interp(x, xp, fp, left=-9, right=9))
    check(fnp.interp(x, xp, fp + 1j * fp), np.interp(x, xp, fp + 1j * fp))
    check(fnp.interp(x, xp, fp, period=1.5), np.interp(x, xp, fp, period=1.5))
    check_grads(lambda f: fnp.interp(x, xp, f), (fp,), order=1)
    out = fx.vmap(lambda v: fnp.interp(v, xp, fp))(x.reshape(2, 5))
    check(out, np.interp(x, xp, fp).reshape(2, 5))


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("n,m", [(5, 3), (3, 5), (4, 4), (1, 3), (6, 1)])
def test_convolve_correlate(mode, n, m):
    a = rand((n,), n)
    v = rand((m,), m + 10)
    check(fnp.convolve(a, v, mode), np.convolve(a, v, mode), rtol=1e-5, atol=1e-5)
    check(fnp.correlate(a, v, mode), np.correlate(a, v, mode), rtol=1e-5, atol=1e-5)
    vc = v + 1j * a[0]
    check(fnp.correlate(a, vc, mode), np.correlate(a, vc, mode), rtol=1e-5, atol=1e-5)


def test_convolve_grads_errors_and_dtypes():
    a, v = rand((5,), 0), rand((3,), 1)
    check_grads(lambda a, v: fnp.convolve(a, v), (a, v), order=2)
    assert fnp.convolve(np.arange(3), np.arange(2)).dtype == np.float32  # as JAX
    with pytest.raises(ValueError, match="1-d"):
        fnp.convolve(np.ones((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match="empty"):
        fnp.correlate(np.ones(2), np.ones(0))
    with pytest.raises(ValueError, match="mode"):
        fnp.convolve(a, v, mode="bogus")


def test_counting():
    b = np.array([0, 1, 1, 3, 5])
    check(fnp.bincount(b), np.bincount(b))
    check(fnp.bincount(b, weights=b * 0.5, minlength=8), np.bincount(b, weights=b * 0.5,
                                                                      minlength=8))
    check(fx.jit(lambda b: fnp.bincount(b, length=4))(b), np.bincount(b)[:4])
    with pytest.raises(ConcretizationTypeError, match="length="):
        fx.jit(fnp.bincount)(b)
    with pytest.raises(TypeError, match="integer"):
        fnp.bincount(np.ones(3))
    x = np.array([-2.0, -0.5, 0.0, 0.5, 1.0, 2.0], np.float32)
    bins = np.array([-1.0, 0.0, 1.0])
    check(fnp.digitize(x, bins), np.digitize(x, bins))
    check(fnp.digitize(x, bins, right=True), np.digitize(x, bins, right=True))
    check(fnp.digitize(x, bins[::-1]), np.digitize(x, bins[::-1]))
    check(fnp.digitize(x, bins[::-1], right=True), np.digitize(x, bins[::-1], right=True))


def test_histograms():
    rng = np.random.RandomState(5)
    x = (rng.normal(size=40) * 2).astype(np.float32)
    bins = np.array([-1.0, 0.0, 1.0, 3.0], np.float32)
    check(fnp.histogram(x, 4), np.histogram(x, 4))
    check(fnp.histogram(x, bins, weights=x), np.histogram(x, bins, weights=x))
    check(fnp.histogram(x, 3, range=(-1, 2), density=True),
          np.histogram(x, 3, range=(-1, 2), density=True))
    check(fnp.histogram(np.arange(5), 3), np.histogram(np.arange(5), 3))
    check(fnp.histogram_bin_edges(np.ones(3), 2), np.histogram_bin_edges(np.ones(3), 2))
    s = rng.normal(size=(30, 3)).astype(np.float32)
    check(fnp.histogramdd(s, bins=(2, 3, 4)), np.histogramdd(s, bins=(2, 3, 4)))
    rngs = [(-1, 1), None, (0, 2)]
    check(fnp.histogramdd(s, bins=3, density=True, range=rngs),
          np.histogramdd(s, bins=3, density=True, range=rngs))
    check(fnp.histogram2d(s[:, 0], s[:, 1], bins=[3, 2]),
          np.histogram2d(s[:, 0], s[:, 1], bins=[3, 2]))
    check(fnp.histogram2d(s[:, 0], s[:, 1], bins=4, weights=s[:, 2]),
          np.histogram2d(s[:, 0], s[:, 1], bins=4, weights=s[:, 2]))
    out = fx.jit(lambda x: fnp.histogram(x, 5, range=(-2.0, 2.0)))(x)
    check(out, np.histogram(x, 5, range=(-2.0, 2.0)))
    check_grads(lambda w: fnp.histogram(x, 4, weights=w)[0], (x,), order=1)


# ---------------------------------------------------------------------------
# polynomials


def test_polynomials():
    p = np.array([1.0, -2.0, 3.0, 0.5], np.float32)
    x = np.linspace(-2, 2, 7).astype(np.float32)
    check(fnp.polyval(p, x), np.polyval(p, x))
    check(fnp.polyval(np.arange(40.0), 0.5), np.polyval(np.arange(40.0), 0.5), rtol=1e-4)
    check(fnp.polyadd(p, [1.0, 2.0]), np.polyadd(p, [1.0, 2.0]))
    check(fnp.polysub([1.0, 2.0], p), np.polysub([1.0, 2.0], p))
    check(fnp.polymul(p, [1.0, 2.0]), np.polymul(p, [1.0, 2.0]))
    q, r = fnp.polydiv(p, np.array([1.0, 1.0]))
    eq, er = np.polydiv(p, np.array([1.0, 1.0]))
    check(q, eq)
    check(np.asarray(r)[-len(er):], er)
    check(fnp.polyder(p, 2), np.polyder(p, 2))
    check(fnp.polyint(p, 2, k=[1.0, 2.0]), np.polyint(p, 2, k=[1.0, 2.0]))
    check(fnp.poly(np.array([1.0, 2.0, -3.0])), np.poly(np.array([1.0, 2.0, -3.0])))
    check(fnp.trim_zeros(np.array([0, 1, 0, 2, 0])), np.trim_zeros(np.array([0, 1, 0, 2, 0])))
    check(fnp.trim_zeros(np.array([0, 1, 0, 2, 0]), "b"),
          np.trim_zeros(np.array([0, 1, 0, 2, 0]), "b"))
    check_grads(lambda p, x: fnp.polyval(p, x), (p, x), order=2)
    out = fx.vmap(fnp.polyval, (None, 0))(p, x)
    check(out, np.polyval(p, x))


def test_polynomials_needing_linalg():
    linalg = getattr(fnp, "linalg", None)
    if linalg is None or not hasattr(linalg, "eigvals") or not hasattr(linalg, "lstsq"):
        pytest.skip("fx.numpy.linalg (eigvals, lstsq) is not available yet")
    r = np.sort_complex(np.asarray(fnp.roots(np.array([1.0, -6.0, 11.0, -6.0, 0.0]))))
    np.testing.assert_allclose(r, np.sort_complex(np.roots([1.0, -6.0, 11.0, -6.0, 0.0])),
                               atol=1e-4)
    x = np.arange(6.0, dtype=np.float32)
    y = 2 * x ** 2 - x + 1
    check(fnp.polyfit(x, y, 2), np.polyfit(x, y, 2), rtol=1e-3, atol=1e-3)


# ---------------------------------------------------------------------------
# selection and functional helpers


def test_select_piecewise_choose():
    x = np.arange(-3, 4)
    check(fnp.select([x < -1, x > 1], [x, x * 10], -1),
          np.select([x < -1, x > 1], [x, x * 10], -1))
    with pytest.raises(TypeError, match="boolean"):
        fnp.select([x], [x])
    xf = x.astype(np.float32)
    funcs = [lambda v: v * 10, 7.0, lambda v: -v]
    conds = [xf < 0, xf > 2]
    check(fnp.piecewise(xf, conds, funcs), np.piecewise(xf, conds, funcs))
    check(fnp.piecewise(xf, conds, funcs[:2]), np.piecewise(xf, conds, funcs[:2]))
    check_grads(lambda v: fnp.piecewise(v, [v < 0], [lambda t: t * t, lambda t: 2 * t]),
                (xf + 0.5,), order=1)
    a = np.array([0, 1, 2, 1])
    choices = [np.arange(4), np.arange(4) * 10, np.arange(4) * 100]
    for mode in ("raise", "wrap", "clip"):
        check(fnp.choose(a, choices, mode=mode), np.choose(a, choices, mode=mode))
    check(fnp.choose(a + 2, choices, mode="wrap"), np.choose(a + 2, choices, mode="wrap"))
    with pytest.raises(ValueError, match="invalid entry"):
        fnp.choose(a + 2, choices)


def test_compress_extract_put_place_fill_diagonal():
    x = rand((3, 4), 2)
    cond = np.array([True, False, True])
    check(fnp.compress(cond, x, axis=0), np.compress(cond, x, axis=0))
    check(fnp.compress(cond[:2], x, axis=1), np.compress(cond[:2], x, axis=1))
    check(fnp.compress(cond, x), np.compress(cond, x))
    out = fx.jit(lambda c, x: fnp.compress(c, x, axis=0, size=3, fill_value=9))(cond, x)
    check(out, np.concatenate([x[cond], np.full((1, 4), 9)]))
    check(fnp.extract(x > 0, x), np.extract(x > 0, x))
    check(fx.jit(lambda x: fnp.extract(x > 0, x, size=20))(x)[: (x > 0).sum()],
          np.extract(x > 0, x))
    expected = x.copy()
    np.put(expected, [0, 5, 7], [1.0, 2.0])
    check(fnp.put(x, np.array([0, 5, 7]), np.array([1.0, 2.0]), inplace=False), expected)
    with pytest.raises(ValueError, match="inplace=False"):
        fnp.put(x, 0, 1.0)
    expected = x.copy()
    np.place(expected, expected > 0, [7.0, 8.0])
    check(fnp.place(x, x > 0, np.array([7.0, 8.0]), inplace=False), expected)
    for shape, wrap in [((3, 3), False), ((5, 2), True), ((5, 2), False), ((2, 2, 2), False)]:
        expected = np.zeros(shape)
        np.fill_diagonal(expected, [1.0, 2.0], wrap=wrap)
        check(fnp.fill_diagonal(np.zeros(shape), np.array([1.0, 2.0]), wrap=wrap,
                                inplace=False), expected)


def test_apply_and_vectorize():
    x = rand((2, 3, 4), 3)
    check(fnp.apply_along_axis(fnp.sum, 1, x), np.apply_along_axis(np.sum, 1, x))
    check(fnp.apply_along_axis(lambda v: v[::-1] * 2, -1, x),
          np.apply_along_axis(lambda v: v[::-1] * 2, -1, x))
    check(fnp.apply_along_axis(lambda v: fnp.outer(v, v), 0, x[:, :, 0]),
          np.apply_along_axis(lambda v: np.outer(v, v), 0, x[:, :, 0]))
    check(fnp.apply_over_axes(fnp.sum, x, [0, 2]), np.apply_over_axes(np.sum, x, [0, 2]))
    dot = fnp.vectorize(fnp.dot, signature="(n),(n)->()")
    check(dot(x, x[0, 0]), np.einsum("ijk,k->ij", x, x[0, 0]))
    calls = []

    def scalar_only(a, b):
        calls.append(np.shape(a))
        return a * 2 + b
    vf = fnp.vectorize(scalar_only)
    check(vf(x[0], 1.0), x[0] * 2 + 1)
    assert calls[-1] == ()
    two = fnp.vectorize(lambda a: (a.sum(), a * 2), signature="(n)->(),(n)")
    s, d = two(x)
    check(s, x.sum(-1))
    check(d, x * 2)
    excluded = fnp.vectorize(lambda a, k: a * k, excluded={1})
    check(excluded(x[0], 3.0), x[0] * 3)
    with pytest.raises(ValueError, match="signature"):
        fnp.vectorize(fnp.dot, signature="(n)(n)->()")


def test_ufuncs():
    x = np.arange(1, 6)
    check(fnp.add.reduce(x), np.add.reduce(x))
    check(fnp.multiply.accumulate(x), np.multiply.accumulate(x))
    check(fnp.maximum.outer(x[:3], x[:2]), np.maximum.outer(x[:3], x[:2]))
    check(fnp.add.at(np.zeros(3), np.array([0, 0, 2]), 1.0, inplace=False),
          np.bincount([0, 0, 2], minlength=3).astype(np.float32))
    assert fnp.add.identity == 0 and fnp.add.nin == 2
    mul = fnp.frompyfunc(lambda a, b: a * b, 2, 1, identity=1)
    check(mul.reduce(x), np.multiply.reduce(x))
    check(mul.reduce(np.ones((0,), np.int32)), np.int32(1))
    check(mul.accumulate(x), np.multiply.accumulate(x))
    check(mul.reduceat(x, [0, 2, 3]), np.multiply.reduceat(x, [0, 2, 3]))
    check(mul.at(x, np.array([0, 0]), 3, inplace=False), np.array([9, 2, 3, 4, 5]))
    check(mul.outer(x[:2], x[:3]), np.multiply.outer(x[:2], x[:3]))
    check(mul(np.ones((2, 1)), x), np.ones((2, 1)) * x)
    sub = fnp.ufunc(lambda a, b: a - b, 2, 1)
    m = rand((3, 4), 4)
    check(sub.reduce(m, axis=1), np.subtract.reduce(m, axis=1), rtol=1e-5)
    check(sub.accumulate(m, axis=0), np.subtract.accumulate(m, axis=0))
    assert "ufunc" in repr(mul)


def test_shapes_and_bits():
    arrs = [[np.ones((2, 2)), np.zeros((2, 1))], [np.full((1, 2), 3.0), np.full((1, 1), 4.0)]]
    check(fnp.block(arrs), np.block(arrs))
    check(fnp.block([np.ones(2), np.zeros(3)]), np.block([np.ones(2), np.zeros(3)]))
    x = rand((2, 3, 4), 1)
    check(fnp.unstack(x, axis=1), tuple(np.moveaxis(x, 1, 0)))
    for axis, start in [(2, 0), (0, 3), (1, -1), (-1, 1)]:
        check(fnp.rollaxis(x, axis, start), np.rollaxis(x, axis, start))
    check(fnp.resize(np.arange(3), (2, 4)), np.resize(np.arange(3), (2, 4)))
    bits = np.random.RandomState(0).rand(3, 11) > 0.5
    for axis in (None, 0, 1):
        for order in ("big", "little"):
            packed = np.packbits(bits, axis=axis, bitorder=order)
            check(fnp.packbits(bits, axis=axis, bitorder=order), packed)
            check(fnp.unpackbits(packed, axis=axis, bitorder=order),
                  np.unpackbits(packed, axis=axis, bitorder=order))
            check(fnp.unpackbits(packed, axis=axis, count=5, bitorder=order),
                  np.unpackbits(packed, axis=axis, count=5, bitorder=order))
    idx = (np.array([1, 2, 0]), np.array([0, 3, 2]))
    for order in ("C", "F"):
        check(fnp.ravel_multi_index(idx, (3, 4), order=order),
              np.ravel_multi_index(idx, (3, 4), order=order))
    check(fnp.ravel_multi_index((np.array([5]), np.array([-1])), (3, 4), mode="wrap"),
          np.ravel_multi_index((np.array([5]), np.array([-1])), (3, 4), mode="wrap"))
    with pytest.raises(ValueError, match="invalid entry"):
        fnp.ravel_multi_index((np.array([5]), np.array([0])), (3, 4))
    check(fnp.unravel_index(np.array([5, 7, 0]), (3, 4)),
          np.unravel_index(np.array([5, 7, 0]), (3, 4)))
    check(fnp.matvec(rand((2, 3, 4), 1), rand((4,), 2)),
          np.einsum("bij,j->bi", rand((2, 3, 4), 1), rand((4,), 2)))
    check(fnp.vecmat(rand((4,), 2), rand((4, 3), 1)), rand((4,), 2) @ rand((4, 3), 1))
    path, text = fnp.einsum_path("ij,jk,kl", np.ones((2, 3)), np.ones((3, 4)), np.ones((4, 5)))
    assert path[0] == "einsum_path" and "Complete contraction" in text
    assert "Array(" in fnp.array_repr(np.arange(2)) and fnp.array_str(np.arange(2)) == "[0 1]"
    with fnp.printoptions(precision=2):
        assert fnp.get_printoptions()["precision"] == 2


# ---------------------------------------------------------------------------
# scalar types


def test_scalar_types():
    x = fnp.float32(3)
    assert isinstance(x, fx.Array) and x.dtype == np.float32 and not x.weak_type
    assert fnp.int8(300 - 256).dtype == np.int8
    assert np.dtype(fnp.float32) == np.float32 and fnp.float32 == np.float32
    assert fnp.float32 == np.dtype("float32") and hash(fnp.float32) == hash(np.float32)
    assert np.zeros(2, fnp.int16).dtype == np.int16
    assert fnp.arange(3).astype(fnp.float16).dtype == np.float16
    assert fnp.issubdtype(fnp.float32, fnp.floating)
    assert isinstance(np.float32(1), fnp.float32) and not isinstance(1.0, fnp.float32)
    assert fnp.bool_(1).dtype == np.bool_ and fnp.bool is fnp.bool_
    out = fx.jit(lambda v: fnp.int32(v) + 1)(2.7)
    assert out.dtype == np.int32 and int(out) == 3
    assert fnp.float_ == np.float64 and fnp.int_ == np.int64 and fnp.single == np.float32
    assert fnp.bfloat16.dtype.name == "bfloat16"
    assert fnp.float8_e4m3fn is not None and fnp.int4 is not None


# ---------------------------------------------------------------------------
# dtypes vs JAX

DTYPE_CASES = {
    "logspace": lambda m: m.logspace(0, 2, 3),
    "geomspace": lambda m: m.geomspace(1, 8, 4),
    "meshgrid": lambda m: m.meshgrid(np.arange(2), np.arange(3.0))[0],
    "indices": lambda m: m.indices((2, 3)),
    "vander": lambda m: m.vander(np.arange(3)),
    "kaiser": lambda m: m.kaiser(4, 2.0),
    "hamming": lambda m: m.hamming(4),
    "union1d": lambda m: m.union1d(np.arange(3), np.arange(2.0), size=4),
    "isin": lambda m: m.isin(np.arange(3), np.arange(2)),
    "diff": lambda m: m.diff(np.arange(4, dtype=np.uint8)),
    "gradient": lambda m: m.gradient(np.arange(4)),
    "unwrap": lambda m: m.unwrap(np.arange(4)),
    "trapezoid": lambda m: m.trapezoid(np.arange(4)),
    "interp": lambda m: m.interp(np.arange(3), np.arange(3), np.arange(3)),
    "convolve": lambda m: m.convolve(np.arange(3), np.arange(2)),
    "bincount": lambda m: m.bincount(np.arange(3), length=4),
    "bincount_w": lambda m: m.bincount(np.arange(3), np.ones(3, np.float16), length=4),
    "digitize": lambda m: m.digitize(np.arange(3.0), np.arange(2.0)),
    "histogram": lambda m: m.histogram(np.arange(5), 3)[0],
    "histogram_edges": lambda m: m.histogram(np.arange(5), 3)[1],
    "polyval": lambda m: m.polyval(np.arange(3), np.arange(2)),
    "polyval_weak": lambda m: m.polyval(np.arange(3), 2.0),
    "polyadd": lambda m: m.polyadd(np.arange(3), np.arange(2.0)),
    "polymul": lambda m: m.polymul(np.arange(3), np.arange(2)),
    "polyder": lambda m: m.polyder(np.arange(3)),
    "polyint": lambda m: m.polyint(np.arange(3)),
    "poly": lambda m: m.poly(np.arange(3)),
    "select": lambda m: m.select([np.arange(3) > 1], [np.arange(3)], 0.5),
    "choose": lambda m: m.choose(np.array([0, 1]), [np.arange(2), np.arange(2.0)],
                                 mode="clip"),
    "packbits": lambda m: m.packbits(np.arange(8) > 3),
    "unravel_index": lambda m: m.unravel_index(np.arange(3), (2, 2))[0],
    "ravel_multi_index": lambda m: m.ravel_multi_index((np.arange(2), np.arange(2)), (2, 2),
                                                       mode="clip"),
    "average": lambda m: m.average(np.arange(3), weights=np.arange(3)),
    "resize": lambda m: m.resize(np.arange(3, dtype=np.int8), (2, 2)),
    "copy": lambda m: m.copy(np.arange(3)),
    "fromfunction": lambda m: m.fromfunction(lambda i: i * 2, (3,), dtype=np.int32),
}


@pytest.mark.parametrize("name", sorted(DTYPE_CASES))
def test_dtypes_match_jax(name):
    jax = pytest.importorskip("jax")
    expected = jax.eval_shape(lambda: DTYPE_CASES[name](jax.numpy))
    out = DTYPE_CASES[name](fnp)
    assert (out.shape, out.dtype, out.weak_type) == (expected.shape, expected.dtype,
                                                     expected.weak_type)


# ---------------------------------------------------------------------------
# fx.lax extras


def test_lax_bessel_and_betainc():
    x = np.array([0.0, 1e-3, 0.5, 1.0, 5.0, 19.9, 20.0, 20.1, 50.0, 700.0, -3.0])
    with fx.enable_x64(True):
        xs = fnp.asarray(x)
        np.testing.assert_allclose(np.asarray(lax_more.bessel_i0e(xs)), sp.i0e(x), rtol=1e-14)
        np.testing.assert_allclose(np.asarray(lax_more.bessel_i1e(xs)), sp.i1e(x), rtol=1e-14,
                                   atol=1e-300)
        a = np.array([0.5, 2.0, 10.0, 100.0])
        b = np.array([0.5, 3.0, 1.0, 50.0])
        z = np.array([0.3, 0.7, 0.99, 0.6])
        np.testing.assert_allclose(np.asarray(lax_more.betainc(fnp.asarray(a), fnp.asarray(b),
                                                               fnp.asarray(z))),
                                   sp.betainc(a, b, z), rtol=1e-12)
    x32 = x.astype(np.float32)
    np.testing.assert_allclose(np.asarray(lax_more.bessel_i0e(x32)), sp.i0e(x), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(lax_more.bessel_i1e(x32)), sp.i1e(x), rtol=1e-6,
                               atol=1e-30)
    assert lax_more.bessel_i0e(np.float16(1)).dtype == np.float16
    check_grads(lax_more.bessel_i0e, (np.array([-2.0, 0.5, 3.0, 25.0], np.float32),), order=2)
    check_grads(lax_more.bessel_i1e, (np.array([-2.0, 0.5, 3.0, 25.0], np.float32),), order=2)
    assert float(fx.grad(lax_more.bessel_i1e)(0.0)) == 0.5
    z = np.array([0.1, 0.4, 0.9], np.float32)
    check_grads(lambda z: lax_more.betainc(np.float32(2), np.float32(3), z), (z,), order=1)
    with pytest.raises(ValueError, match="a and b"):
        fx.grad(lax_more.betainc)(2.0, 3.0, 0.4)
    with pytest.raises(TypeError, match="floating"):
        lax_more.bessel_i0e(np.int32(1))
    assert np.isnan(np.asarray(lax_more.betainc(np.float32(-1), np.float32(1),
                                                np.float32(0.5))))


def test_lax_mulhi_and_shapes():
    rng = np.random.RandomState(0)
    for dtype in (np.uint32, np.int32, np.uint8, np.int16):
        info = np.iinfo(dtype)
        x = rng.randint(info.min, info.max, size=20, dtype=np.int64).astype(dtype)
        y = rng.randint(info.min, info.max, size=20, dtype=np.int64).astype(dtype)
        wide = x.astype(object) * y.astype(object)
        expected = np.array([int(v) >> (8 * np.dtype(dtype).itemsize) for v in wide])
        expected = expected.astype(np.int64).astype(dtype)
        np.testing.assert_array_equal(np.asarray(lax_more.mulhi(x, y)), expected)
    check(lax_more.tile(fnp.arange(3), (2,)), np.tile(np.arange(3), 2))
    check(lax_more.tile(np.ones((2, 3)), (2, 1)), np.ones((4, 3)))
    check(lax_more.split(np.arange(5), (2, 3)), [np.arange(2), np.arange(2, 5)])
    assert lax_more.collapse(np.ones((2, 3, 4)), 1).shape == (2, 12)
    assert lax_more.collapse(np.ones((2, 3, 4)), 0, 2).shape == (6, 4)
    check(lax_more.stack([np.ones(2), np.zeros(2)], 1), np.stack([np.ones(2), np.zeros(2)], 1))
    check(lax_more.unstack(np.eye(2)), (np.eye(2)[0], np.eye(2)[1]))
    check(lax_more.square(np.float32(3)), 9.0)
    check(lax_more.reciprocal(np.float32(4)), 0.25)
    assert lax_more.broadcast_shapes((2, 1), (3,)) == (2, 3)
    assert lax_more.empty((2,), np.float32).shape == (2,)
    check(lax_more.shape_as_value((2, 3)), np.array([2, 3]))
    values, idx = lax_more.approx_max_k(np.array([3.0, 1.0, 4.0, 1.0, 5.0]), 2)
    check((values, idx), (np.array([5.0, 4.0]), np.array([4, 2])))
    values, idx = lax_more.approx_min_k(np.array([3.0, 1.0, 4.0, 0.5]), 2)
    check((values, idx), (np.array([0.5, 1.0]), np.array([3, 1])))
    lhs = rand((5, 3), 1)
    rhs = rand((2, 3, 4), 2)
    out = lax_more.ragged_dot(lhs, rhs, np.array([2, 3], np.int32))
    check(out, np.concatenate([lhs[:2] @ rhs[0], lhs[2:] @ rhs[1]]), rtol=1e-5)
    assert lax_more.add_p is fx.lax.add_p if hasattr(fx.lax, "add_p") else True
    assert lax_more.platform_dependent(2, cpu=lambda v: v * 3) == 6


def test_lax_shape_tuples_and_patches():
    jax = pytest.importorskip("jax")
    jl = jax.lax
    assert lax_more.conv_shape_tuple((1, 2, 5, 5), (3, 2, 3, 3), (1, 1), ((1, 1), (1, 1))) == \
        jl.conv_shape_tuple((1, 2, 5, 5), (3, 2, 3, 3), (1, 1), ((1, 1), (1, 1)))
    dn = ("NHWC", "HWIO", "NHWC")
    assert lax_more.conv_general_shape_tuple((1, 7, 6, 2), (3, 3, 2, 4), (2, 1),
                                             ((1, 1), (0, 0)), dn) == \
        jl.conv_general_shape_tuple((1, 7, 6, 2), (3, 3, 2, 4), (2, 1), ((1, 1), (0, 0)), dn)
    for padding in ("SAME", "VALID"):
        assert lax_more.conv_transpose_shape_tuple((1, 5, 5, 2), (3, 3, 2, 4), (2, 2),
                                                   padding, dn) == \
            jl.conv_transpose_shape_tuple((1, 5, 5, 2), (3, 3, 2, 4), (2, 2), padding, dn)
    assert lax_more.reduce_window_shape_tuple((4, 5), (2, 2), (1, 2), ((0, 0), (1, 1))) == \
        jl.reduce_window_shape_tuple((4, 5), (2, 2), (1, 2), ((0, 0), (1, 1)))
    x = rand((2, 3, 5, 4), 3)
    ours = lax_more.conv_general_dilated_patches(x, (2, 3), (1, 1), "VALID")
    theirs = jl.conv_general_dilated_patches(x, (2, 3), (1, 1), "VALID")
    check(ours, np.asarray(theirs), rtol=1e-6)


def test_lax_extras_transform():
    x = np.array([[0.5, 1.5], [2.5, 30.0]], np.float32)
    out = fx.vmap(lax_more.bessel_i0e)(x)
    check(out, sp.i0e(x.astype(np.float64)), rtol=1e-6)
    check(fx.jit(lax_more.bessel_i1e)(x), sp.i1e(x.astype(np.float64)), rtol=1e-6)
    z = np.array([0.2, 0.5], np.float32)
    out = fx.vmap(lambda z: lax_more.betainc(np.float32(2), np.float32(2), z))(z)
    check(out, sp.betainc(2, 2, z.astype(np.float64)), rtol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(fx.jit(lax_more.mulhi)(np.uint32([7, 2 ** 31]), np.uint32([2 ** 31, 6])),
              np.array([3, 3], np.uint32))
