"""The binomial distribution (``scipy.stats.binom``)."""
from __future__ import annotations

import numpy as np

from fx import lax
from fx.scipy.special import _xlog1py, _xlogy
from fx.scipy.stats._common import documented, promote, where

__all__ = ["logpmf", "pmf"]


@documented("binom", "2, 5, 0.3")
def logpmf(k, n, p, loc=0):
    k, n, p, loc = promote("binom.logpmf", k, n, p, loc)
    y = k - loc
    inside = (y >= 0) & (y <= n)
    y_safe, n_safe = where(inside, y, 0.0), where(inside, n, 0.0)
    log_comb = lax.lgamma(n_safe + 1) - lax.lgamma(y_safe + 1) - lax.lgamma(n_safe - y_safe + 1)
    value = log_comb + _xlogy(y_safe, p) + _xlog1py(n_safe - y_safe, -p)
    return where(inside, value, -np.inf)


@documented("binom", "2, 5, 0.3")
def pmf(k, n, p, loc=0):
    return lax.exp(logpmf(k, n, p, loc))
