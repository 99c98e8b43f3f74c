"""binomial and multinomial (JAX equality is in test_distributions.py): the sampled
frequencies against SciPy's pmf for both algorithms (inversion for n p <= 10, BTRS
above) and p on both sides of 1/2, special parameters, multinomial totals and
marginals, vmap against a loop, jit against eager, and argument errors."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st

import fx
import fx.random as fr
from fx._random.binomial import binomial, multinomial

N = 20000


def _frequencies_match(sample, n, p):
    sample = np.asarray(sample).astype(np.int64).ravel()
    assert np.all((sample >= 0) & (sample <= n))
    pmf = st.binom(n, p).pmf(np.arange(n + 1))
    keep = pmf * sample.size >= 5  # pool the sparse tails into their neighbours
    lo, hi = np.argmax(keep), len(keep) - np.argmax(keep[::-1]) - 1
    counts = np.bincount(np.clip(sample, lo, hi) - lo, minlength=hi - lo + 1)
    probs = pmf[lo:hi + 1].copy()
    probs[0] += pmf[:lo].sum()
    probs[-1] += pmf[hi + 1:].sum()
    assert st.chisquare(counts, probs * sample.size).pvalue > 1e-4


@pytest.mark.parametrize("n,p", [(10, 0.3), (20, 0.2), (8, 0.85), (200, 0.4), (1000, 0.03),
                                 (150, 0.9)])
def test_binomial_frequencies(n, p):
    draws = binomial(fr.key(5), n, p, (N,))
    assert draws.dtype == np.float32 and draws.shape == (N,)
    assert np.all(np.asarray(draws) == np.floor(np.asarray(draws)))
    _frequencies_match(draws, n, p)


def test_binomial_special_parameters():
    n = np.array([0.0, 7.9, np.inf, -1.0, np.nan, 5.0, 5.0, 5.0, 5.0], np.float32)
    p = np.array([0.4, 1.0, 0.5, 0.5, 0.5, np.nan, -0.1, 0.0, 1.0], np.float32)
    out = np.asarray(binomial(fr.key(1), n, p))
    np.testing.assert_array_equal(out[[0, 1, 2, 7, 8]], [0.0, 7.0, np.inf, 0.0, 5.0])
    assert np.all(np.isnan(out[[3, 4, 5, 6]]))
    with fx.enable_x64():
        assert binomial(fr.key(1), 5, 0.5).dtype == np.float64
    assert binomial(fr.key(1), 5, 0.5, dtype=np.float16).dtype == np.float16
    assert binomial(fr.PRNGKey(1), np.ones((2, 1)), np.full(3, 0.5)).shape == (2, 3)


def test_multinomial_totals_and_marginals():
    p = np.array([0.1, 0.2, 0.3, 0.4], np.float32)
    counts = np.asarray(multinomial(fr.key(2), 30.0, p, shape=(N // 4, 4)))
    assert counts.shape == (N // 4, 4) and counts.dtype == np.float32
    np.testing.assert_array_equal(counts.sum(-1), 30.0)
    for i in (0, 3):  # each count is Binomial(n, p_i)
        _frequencies_match(counts[:, i], 30, p[i])
    batched = np.asarray(multinomial(fr.key(3), np.array([1.0, 50.0]), p, shape=(2, 4)))
    np.testing.assert_array_equal(batched.sum(-1), [1.0, 50.0])
    unnormalised = np.asarray(multinomial(fr.key(4), 12, np.array([1.0, 0.0, 3.0])))
    assert unnormalised.sum() == 12 and unnormalised[1] == 0
    assert multinomial(fr.key(4), 5, p, dtype=np.int16).dtype == np.int16
    with fx.enable_x64():
        assert multinomial(fr.key(4), 5, p).dtype == np.float64


def test_vmap_and_jit():
    keys = fr.split(fr.key(8), 4)
    n = np.array([3.0, 30.0, 300.0, 3000.0], np.float32)
    looped = np.stack([binomial(k, m, 0.35, (3,)) for k, m in zip(keys, n)])
    np.testing.assert_array_equal(fx.vmap(lambda k, m: binomial(k, m, 0.35, (3,)))(keys, n),
                                  looped)
    np.testing.assert_array_equal(fx.jit(lambda k: binomial(k, n, 0.35))(keys[0]),
                                  binomial(keys[0], n, 0.35))
    p = np.array([0.5, 0.25, 0.25], np.float32)
    looped = np.stack([multinomial(k, 10, p) for k in keys])
    np.testing.assert_array_equal(fx.vmap(lambda k: multinomial(k, 10, p))(keys), looped)
    np.testing.assert_array_equal(fx.jit(lambda k: multinomial(k, 10, p, unroll=3))(keys[1]),
                                  looped[1])


def test_bad_arguments():
    key = fr.key(0)
    with pytest.raises(ValueError, match="float dtype"):
        binomial(key, 5, 0.5, dtype=np.int32)
    with pytest.raises(TypeError, match="ndarray or scalar"):
        binomial(key, [5, 6], 0.5)
    with pytest.raises(ValueError, match="broadcast-compatible"):
        binomial(key, np.ones(3), 0.5, shape=(2,))
    with pytest.raises(ValueError, match="single key"):
        binomial(fr.split(key), 5, 0.5)
    with pytest.raises(ValueError, match="at least one dimension"):
        multinomial(key, 5, 0.5)
    with pytest.raises(TypeError, match="numeric dtype"):
        multinomial(key, 5, np.ones(3) / 3, dtype="U3")
    with pytest.raises(TypeError, match="ndarray or scalar"):
        multinomial(key, 5, [0.5, 0.5])
