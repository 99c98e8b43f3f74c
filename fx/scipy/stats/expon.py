"""The exponential distribution (``scipy.stats.expon``)."""
from __future__ import annotations

import numpy as np

from fx import lax
from fx.scipy.stats._common import documented, promote, standardize, where

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf"]


@documented("expon", "1.")
def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote("expon.logpdf", x, loc, scale)
    return where(x < loc, -np.inf, -standardize(x, loc, scale) - lax.log(scale))


@documented("expon", "1.")
def pdf(x, loc=0, scale=1):
    return lax.exp(logpdf(x, loc, scale))


@documented("expon", "1.")
def cdf(x, loc=0, scale=1):
    x, loc, scale = promote("expon.cdf", x, loc, scale)
    return where(x < loc, 0.0, -lax.expm1(-standardize(x, loc, scale)))


@documented("expon", "1.")
def logcdf(x, loc=0, scale=1):
    return lax.log1p(-sf(x, loc, scale))


@documented("expon", "1.")
def logsf(x, loc=0, scale=1):
    x, loc, scale = promote("expon.logsf", x, loc, scale)
    return where(x < loc, 0.0, -standardize(x, loc, scale))


@documented("expon", "1.")
def sf(x, loc=0, scale=1):
    return lax.exp(logsf(x, loc, scale))


@documented("expon", "0.5")
def ppf(q, loc=0, scale=1):
    q, loc, scale = promote("expon.ppf", q, loc, scale)
    return where((q != q) | (q < 0) | (q > 1), np.nan, loc - scale * lax.log1p(-q))
