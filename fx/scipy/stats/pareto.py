"""The Pareto distribution with shape ``b`` (``scipy.stats.pareto``)."""
from __future__ import annotations

import numpy as np

from fx import lax
from fx.scipy.stats._common import documented, promote, standardize, where

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf"]


def _z(x, loc, scale):
    below = x < loc + scale
    return below, where(below, 1.0, standardize(x, loc, scale))


@documented("pareto", "2., 3.")
def logpdf(x, b, loc=0, scale=1):
    x, b, loc, scale = promote("pareto.logpdf", x, b, loc, scale)
    below, z = _z(x, loc, scale)
    value = lax.log(b) - lax.log(scale) - (b + 1) * lax.log(z)
    return where(below, -np.inf, value)


@documented("pareto", "2., 3.")
def pdf(x, b, loc=0, scale=1):
    return lax.exp(logpdf(x, b, loc, scale))


@documented("pareto", "2., 3.")
def logsf(x, b, loc=0, scale=1):
    x, b, loc, scale = promote("pareto.logsf", x, b, loc, scale)
    below, z = _z(x, loc, scale)
    return where(below, 0.0, -b * lax.log(z))


@documented("pareto", "2., 3.")
def sf(x, b, loc=0, scale=1):
    return lax.exp(logsf(x, b, loc, scale))


@documented("pareto", "2., 3.")
def cdf(x, b, loc=0, scale=1):
    x, b, loc, scale = promote("pareto.cdf", x, b, loc, scale)
    below, z = _z(x, loc, scale)
    return where(below, 0.0, -lax.expm1(-b * lax.log(z)))


@documented("pareto", "2., 3.")
def logcdf(x, b, loc=0, scale=1):
    x, b, loc, scale = promote("pareto.logcdf", x, b, loc, scale)
    below, z = _z(x, loc, scale)
    return where(below, -np.inf, lax.log1p(-lax.exp(-b * lax.log(z))))


@documented("pareto", "0.5, 3.")
def ppf(q, b, loc=0, scale=1):
    q, b, loc, scale = promote("pareto.ppf", q, b, loc, scale)
    value = loc + scale * lax.exp(-lax.log1p(-q) / b)
    return where((q != q) | (q < 0) | (q > 1), np.nan, value)
