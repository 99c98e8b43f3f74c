"""The gamma distribution with shape ``a`` (``scipy.stats.gamma``)."""
from __future__ import annotations

import numpy as np

from fx import lax
from fx.scipy.special import _xlogy
from fx.scipy.stats._common import documented, promote, standardize, where

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]


@documented("gamma", "1., 2.")
def logpdf(x, a, loc=0, scale=1):
    x, a, loc, scale = promote("gamma.logpdf", x, a, loc, scale)
    ok = x >= loc
    y = where(ok, standardize(x, loc, scale), 1.0)
    value = _xlogy(a - 1, y) - y - lax.lgamma(a) - lax.log(scale)
    return where(ok, value, -np.inf)


@documented("gamma", "1., 2.")
def pdf(x, a, loc=0, scale=1):
    return lax.exp(logpdf(x, a, loc, scale))


def _clipped(x, loc, scale):
    return lax.max(standardize(x, loc, scale), lax.full_like(x, 0))


@documented("gamma", "1., 2.")
def cdf(x, a, loc=0, scale=1):
    x, a, loc, scale = promote("gamma.cdf", x, a, loc, scale)
    return lax.igamma(a, _clipped(x, loc, scale))


@documented("gamma", "1., 2.")
def logcdf(x, a, loc=0, scale=1):
    return lax.log(cdf(x, a, loc, scale))


@documented("gamma", "1., 2.")
def sf(x, a, loc=0, scale=1):
    x, a, loc, scale = promote("gamma.sf", x, a, loc, scale)
    return lax.igammac(a, _clipped(x, loc, scale))


@documented("gamma", "1., 2.")
def logsf(x, a, loc=0, scale=1):
    return lax.log(sf(x, a, loc, scale))
