"""The multinomial distribution (``scipy.stats.multinomial``)."""
from __future__ import annotations

import numpy as np

import fx.numpy as fnp
from fx import dtypes, lax
from fx.scipy.special import _check_arraylike, xlogy
from fx.scipy.stats._common import documented, promote, where

__all__ = ["logpmf", "pmf"]


@documented("multinomial", "fx.numpy.array([1, 2]), 3, fx.numpy.array([0.4, 0.6])",
            ("x", "n", "p"))
def logpmf(x, n, p):
    _check_arraylike("multinomial.logpmf", x, n, p)
    (p,) = promote("multinomial.logpmf", p)
    x, n = fnp.asarray(x), fnp.asarray(n)
    if not dtypes.issubdtype(x.dtype, np.integer) or not dtypes.issubdtype(n.dtype, np.integer):
        raise ValueError(f"x and n must be of integer type; got x.dtype={x.dtype}, "
                         f"n.dtype={n.dtype}")
    x, n = x.astype(p.dtype), n.astype(p.dtype)
    value = lax.lgamma(n + 1) + fnp.sum(xlogy(x, p) - lax.lgamma(x + 1), axis=-1)
    return where(fnp.sum(x, axis=-1) == n, value, -np.inf)


@documented("multinomial", "fx.numpy.array([1, 2]), 3, fx.numpy.array([0.4, 0.6])",
            ("x", "n", "p"))
def pmf(x, n, p):
    return lax.exp(logpmf(x, n, p))
