"""The normal distribution (``scipy.stats.norm``)."""
from __future__ import annotations

import math

from fx import lax
from fx.scipy import _special_numerics as _num
from fx.scipy.stats._common import const, documented, promote, standardize

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf"]


@documented("norm", "0.")
def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote("norm.logpdf", x, loc, scale)
    z = standardize(x, loc, scale)
    return -(z * z) / 2 - lax.log(scale) - const(x, 0.5 * math.log(2 * math.pi))


@documented("norm", "0.")
def pdf(x, loc=0, scale=1):
    return lax.exp(logpdf(x, loc, scale))


@documented("norm", "1.96", weak=False)
def cdf(x, loc=0, scale=1):
    x, loc, scale = promote("norm.cdf", x, loc, scale)
    return _num.ndtr(standardize(x, loc, scale))


@documented("norm", "-40.", weak=False)
def logcdf(x, loc=0, scale=1):
    x, loc, scale = promote("norm.logcdf", x, loc, scale)
    return _num.log_ndtr(standardize(x, loc, scale), 3)


@documented("norm", "1.96", weak=False)
def sf(x, loc=0, scale=1):
    x, loc, scale = promote("norm.sf", x, loc, scale)
    return _num.ndtr(-standardize(x, loc, scale))


@documented("norm", "40.", weak=False)
def logsf(x, loc=0, scale=1):
    x, loc, scale = promote("norm.logsf", x, loc, scale)
    return _num.log_ndtr(-standardize(x, loc, scale), 3)


@documented("norm", "0.975", weak=False)
def ppf(q, loc=0, scale=1):
    q, loc, scale = promote("norm.ppf", q, loc, scale)
    return _num.ndtri(q) * scale + loc


@documented("norm", "0.025", weak=False)
def isf(q, loc=0, scale=1):
    q, loc, scale = promote("norm.isf", q, loc, scale)
    return loc - _num.ndtri(q) * scale
