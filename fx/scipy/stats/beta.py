"""The beta distribution on ``[loc, loc + scale]`` (``scipy.stats.beta``)."""
from __future__ import annotations

import numpy as np

import fx.numpy as fnp
from fx import lax
from fx.scipy import _special_numerics as _num
from fx.scipy.special import _xlog1py, _xlogy
from fx.scipy.stats._common import documented, promote, standardize, where

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]


@documented("beta", "0.5, 2., 3.")
def logpdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote("beta.logpdf", x, a, b, loc, scale)
    y = standardize(x, loc, scale)
    value = _xlogy(a - 1, y) + _xlog1py(b - 1, -y) - _num.betaln(a, b) - lax.log(scale)
    value = where((y < 0) | (y > 1), -np.inf, value)
    return where((a <= 0) | (b <= 0) | (scale <= 0), np.nan, value)


@documented("beta", "0.5, 2., 3.")
def pdf(x, a, b, loc=0, scale=1):
    return lax.exp(logpdf(x, a, b, loc, scale))


def _unit(x, loc, scale):
    return fnp.clip(standardize(x, loc, scale), 0, 1)


@documented("beta", "0.5, 2., 3.")
def cdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote("beta.cdf", x, a, b, loc, scale)
    return _num.betainc(a, b, _unit(x, loc, scale))


@documented("beta", "0.5, 2., 3.")
def logcdf(x, a, b, loc=0, scale=1):
    return lax.log(cdf(x, a, b, loc, scale))


@documented("beta", "0.5, 2., 3.")
def sf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote("beta.sf", x, a, b, loc, scale)
    return _num.betainc(b, a, 1 - _unit(x, loc, scale))


@documented("beta", "0.5, 2., 3.")
def logsf(x, a, b, loc=0, scale=1):
    return lax.log(sf(x, a, b, loc, scale))
