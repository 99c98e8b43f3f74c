"""The beta-binomial distribution (``scipy.stats.betabinom``)."""
from __future__ import annotations

import numpy as np

from fx import lax
from fx.scipy import _special_numerics as _num
from fx.scipy.stats._common import documented, promote, where

__all__ = ["logpmf", "pmf"]


@documented("betabinom", "2, 5., 2., 3.")
def logpmf(k, n, a, b, loc=0):
    k, n, a, b, loc = promote("betabinom.logpmf", k, n, a, b, loc)
    y = lax.floor(k) - loc
    inside = (y >= 0) & (y <= n)
    y_safe, n_safe = where(inside, y, 0.0), where(inside, n, 0.0)
    log_comb = -lax.log1p(n_safe) - _num.betaln(n_safe - y_safe + 1, y_safe + 1)
    value = log_comb + _num.betaln(y_safe + a, n_safe - y_safe + b) - _num.betaln(a, b)
    value = where(inside, value, -np.inf)
    return where((n < 0) | (a <= 0) | (b <= 0), np.nan, value)


@documented("betabinom", "2, 5., 2., 3.")
def pmf(k, n, a, b, loc=0):
    return lax.exp(logpmf(k, n, a, b, loc))
