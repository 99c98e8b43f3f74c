"""``convolve``/``correlate`` spread NaN and infinity exactly where the direct sum's
products do (a zero-padded convolution also multiplies the padding by NaNs), and the
histogram family takes its ``bins`` as JAX does.

Oracles: NumPy's ``convolve``/``correlate`` (direct sums) and ``histogram2d``/
``histogramdd`` for values, JAX for which ``bins`` are accepted (skipped without JAX),
finite differences for derivatives.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx.test_util import check_grads

_SPECIAL = [np.nan, np.inf, -np.inf, 0.0]


def _with_specials(rng, n, dtype, count):
    x = rng.normal(size=n).astype(dtype)
    if dtype == np.complex64:
        x = x + 1j * rng.normal(size=n).astype(np.float32)
    # complex infinities multiply differently in every library (C99 Annex G): NaN only
    specials = [np.nan, 0.0] if dtype == np.complex64 else _SPECIAL
    for _ in range(count):
        x[rng.integers(n)] = specials[rng.integers(len(specials))]
    return x


def _check(got, want):
    got = np.asarray(got)
    assert got.dtype == want.dtype.type(0).astype(got.dtype).dtype
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, equal_nan=True)


def test_reported_case():
    a = np.array([0.277], np.float32)
    v = np.array([np.nan, 0.763], np.float32)
    for mode in ("full", "same", "valid"):
        want = np.convolve(a, v, mode)
        _check(fnp.convolve(a, v, mode), want)
        assert not np.isnan(want[-1])


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 6), m=st.integers(1, 6), seed=st.integers(0, 2**16),
       specials=st.integers(0, 3), mode=st.sampled_from(["full", "same", "valid"]),
       complex_=st.booleans())
def test_nan_and_inf_spread_as_the_direct_sum(n, m, seed, specials, mode, complex_):
    rng = np.random.default_rng(seed)
    dtype = np.complex64 if complex_ else np.float32
    a = _with_specials(rng, n, dtype, specials)
    v = _with_specials(rng, m, dtype, rng.integers(0, 3))
    for ours, theirs in ((fnp.convolve, np.convolve), (fnp.correlate, np.correlate)):
        with np.errstate(all="ignore"):
            want = theirs(a, v, mode)
        _check(ours(a, v, mode), want)
        _check(fx.jit(lambda a, v, f=ours: f(a, v, mode))(a, v), want)


def test_convolve_derivatives_and_vmap():
    rng = np.random.default_rng(1)
    a = rng.normal(size=5).astype(np.float32)
    v = rng.normal(size=3).astype(np.float32)
    for mode in ("full", "same", "valid"):
        check_grads(lambda a, v, mode=mode: fnp.convolve(a, v, mode), (a, v), order=2,
                    modes=("fwd", "rev"))
        check_grads(lambda a, v, mode=mode: fnp.correlate(v, a, mode), (a, v), order=1,
                    modes=("fwd", "rev"))
    batch = rng.normal(size=(4, 5)).astype(np.float32)
    got = fx.vmap(lambda a: fnp.convolve(a, v, "same"))(batch)
    np.testing.assert_allclose(got, np.stack([np.convolve(b, v, "same") for b in batch]),
                               rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------
# histogram bins


X = np.array([0.5, 1.5, 2.2, 2.9], np.float32)
Y = X[::-1].copy()


@pytest.mark.parametrize("bins", [[np.array([0.0, 2.0, 3.0]), 3],
                                  [np.array([0.0, 2.0, 3.0]), np.array([0.0, 1.0, 3.0])],
                                  [3, 2], 4, np.array([0.0, 1.0, 2.0, 3.0])])
def test_histogram2d_bins_mixing_edges_and_counts(bins):
    hist, xe, ye = fnp.histogram2d(X, Y, bins=bins)
    want, wxe, wye = np.histogram2d(X, Y, bins=bins)
    np.testing.assert_array_equal(hist, want)
    np.testing.assert_allclose(xe, wxe, rtol=1e-6)
    np.testing.assert_allclose(ye, wye, rtol=1e-6)
    assert hist.dtype == np.int32  # counts, as JAX's


def test_histogram2d_traced_edges():
    edges = np.array([0.0, 2.0, 3.0], np.float32)
    hist = fx.jit(lambda e: fnp.histogram2d(X, Y, bins=[e, 2])[0])(edges)
    np.testing.assert_array_equal(hist, np.histogram2d(X, Y, bins=[edges, 2])[0])


def test_histogramdd_mixed_bins():
    sample = np.stack([X, Y], 1)
    bins = [np.array([0.0, 2.0, 3.0]), 3]
    hist, edges = fnp.histogramdd(sample, bins=bins)
    want, wedges = np.histogramdd(sample, bins=bins)
    np.testing.assert_array_equal(hist, want)
    for e, w in zip(edges, wedges):
        np.testing.assert_allclose(e, w, rtol=1e-6)


@pytest.mark.parametrize("bins", [[0.0, 2.0, 3.0], (1, 2), [np.float32(0.0), 2, 3]])
def test_histogram_rejects_list_bins_as_jax(bins):
    with pytest.raises(TypeError, match="histogram requires ndarray or scalar"):
        fnp.histogram(X, bins=bins)
    with pytest.raises(TypeError, match="histogram_bin_edges requires ndarray or scalar"):
        fnp.histogram_bin_edges(X, bins=bins)
    hist, edges = fnp.histogram(X, bins=np.asarray(bins, np.float32))
    want, wedges = np.histogram(X, bins=np.asarray(bins, np.float32))
    np.testing.assert_array_equal(hist, want)
    np.testing.assert_allclose(edges, wedges)


def test_histogram_bins_accepted_as_jax(jax):
    jnp = jax.numpy
    for call in (lambda m: m.histogram(X, bins=[0.0, 2.0, 3.0]),
                 lambda m: m.histogram2d(X, Y, bins=[np.array([0.0, 2.0, 3.0]), 3]),
                 lambda m: m.histogram2d(X, Y, bins=[[0.0, 2.0, 3.0], 3]),
                 lambda m: m.histogram2d(X, Y, bins=np.array([0.0, 1.0, 2.0, 3.0]))):
        try:
            want = call(jnp)
        except Exception as e:  # noqa: BLE001  (JAX's error kind is the oracle)
            with pytest.raises(type(e)):
                call(fnp)
        else:
            got = call(fnp)
            for g, w in zip(got, want):
                np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-6)
