"""The negative binomial distribution (``scipy.stats.nbinom``)."""
from __future__ import annotations

import numpy as np

from fx import lax
from fx.scipy.special import _xlog1py, _xlogy
from fx.scipy.stats._common import documented, promote, where

__all__ = ["logpmf", "pmf"]


@documented("nbinom", "2, 5., 0.3")
def logpmf(k, n, p, loc=0):
    k, n, p, loc = promote("nbinom.logpmf", k, n, p, loc)
    y = k - loc
    safe = where(y < 0, 0.0, y)
    log_comb = lax.lgamma(safe + n) - lax.lgamma(n) - lax.lgamma(safe + 1)
    value = log_comb + _xlogy(n, p) + _xlog1py(safe, -p)
    return where(y < 0, -np.inf, value)


@documented("nbinom", "2, 5., 0.3")
def pmf(k, n, p, loc=0):
    return lax.exp(logpmf(k, n, p, loc))
