"""The chi-squared distribution with ``df`` degrees of freedom (``scipy.stats.chi2``)."""
from __future__ import annotations

import math

import numpy as np

from fx import lax
from fx.scipy.special import _xlogy
from fx.scipy.stats._common import const, documented, promote, standardize, where

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]


@documented("chi2", "1., 3.")
def logpdf(x, df, loc=0, scale=1):
    x, df, loc, scale = promote("chi2.logpdf", x, df, loc, scale)
    ok = x >= loc
    y = where(ok, standardize(x, loc, scale), 1.0)
    half_df = df / 2
    value = (_xlogy(half_df - 1, y) - y / 2 - lax.lgamma(half_df)
             - half_df * const(x, math.log(2)) - lax.log(scale))
    return where(ok, value, -np.inf)


@documented("chi2", "1., 3.")
def pdf(x, df, loc=0, scale=1):
    return lax.exp(logpdf(x, df, loc, scale))


def _half_y(x, loc, scale):
    return lax.max(standardize(x, loc, scale) / 2, lax.full_like(x, 0))


@documented("chi2", "1., 3.")
def cdf(x, df, loc=0, scale=1):
    x, df, loc, scale = promote("chi2.cdf", x, df, loc, scale)
    return lax.igamma(df / 2, _half_y(x, loc, scale))


@documented("chi2", "1., 3.")
def logcdf(x, df, loc=0, scale=1):
    return lax.log(cdf(x, df, loc, scale))


@documented("chi2", "1., 3.")
def sf(x, df, loc=0, scale=1):
    x, df, loc, scale = promote("chi2.sf", x, df, loc, scale)
    return lax.igammac(df / 2, _half_y(x, loc, scale))


@documented("chi2", "1., 3.")
def logsf(x, df, loc=0, scale=1):
    return lax.log(sf(x, df, loc, scale))
