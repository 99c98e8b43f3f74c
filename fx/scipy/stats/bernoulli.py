"""The Bernoulli distribution (``scipy.stats.bernoulli``)."""
from __future__ import annotations

import numpy as np

from fx import lax
from fx.scipy.special import _xlog1py, _xlogy
from fx.scipy.stats._common import documented, promote, where

__all__ = ["logpmf", "pmf", "cdf", "ppf"]


@documented("bernoulli", "1, 0.3")
def logpmf(k, p, loc=0):
    k, p, loc = promote("bernoulli.logpmf", k, p, loc)
    y = k - loc
    value = _xlogy(y, p) + _xlog1py(1 - y, -p)
    return where((y < 0) | (y > 1), -np.inf, value)


@documented("bernoulli", "1, 0.3")
def pmf(k, p, loc=0):
    return lax.exp(logpmf(k, p, loc))


@documented("bernoulli", "0, 0.3")
def cdf(k, p):
    k, p = promote("bernoulli.cdf", k, p)
    value = where(k < 0, 0.0, where(k < 1, 1 - p, 1.0))
    return where((k != k) | (p != p) | (p < 0) | (p > 1), np.nan, value)


@documented("bernoulli", "0.5, 0.3")
def ppf(q, p):
    q, p = promote("bernoulli.ppf", q, p)
    value = where(q <= 1 - p, 0.0, 1.0)
    bad = (q != q) | (p != p) | (p < 0) | (p > 1) | (q < 0) | (q > 1)
    return where(bad, np.nan, value)
