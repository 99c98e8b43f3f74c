"""The left-skewed Gumbel distribution (``scipy.stats.gumbel_l``)."""
from __future__ import annotations

import numpy as np

from fx import lax
from fx.nn.functions import log1mexp
from fx.scipy.stats._common import documented, promote, standardize, where

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf"]


@documented("gumbel_l", "0.")
def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote("gumbel_l.logpdf", x, loc, scale)
    z = standardize(x, loc, scale)
    return where(scale > 0, z - lax.exp(z) - lax.log(scale), np.nan)


@documented("gumbel_l", "0.")
def pdf(x, loc=0, scale=1):
    return lax.exp(logpdf(x, loc, scale))


@documented("gumbel_l", "0.")
def logcdf(x, loc=0, scale=1):
    x, loc, scale = promote("gumbel_l.logcdf", x, loc, scale)
    return where(scale > 0, log1mexp(lax.exp(standardize(x, loc, scale))), np.nan)


@documented("gumbel_l", "0.")
def cdf(x, loc=0, scale=1):
    x, loc, scale = promote("gumbel_l.cdf", x, loc, scale)
    return where(scale > 0, -lax.expm1(-lax.exp(standardize(x, loc, scale))), np.nan)


@documented("gumbel_l", "0.")
def logsf(x, loc=0, scale=1):
    x, loc, scale = promote("gumbel_l.logsf", x, loc, scale)
    return where(scale > 0, -lax.exp(standardize(x, loc, scale)), np.nan)


@documented("gumbel_l", "0.")
def sf(x, loc=0, scale=1):
    return lax.exp(logsf(x, loc, scale))


@documented("gumbel_l", "0.5")
def ppf(p, loc=0, scale=1):
    q, loc, scale = promote("gumbel_l.ppf", p, loc, scale)
    ok = (q > 0) & (q < 1) & (scale > 0)
    safe = where(ok, q, 0.5)
    return where(ok, loc + scale * lax.log(-lax.log1p(-safe)), np.nan)
