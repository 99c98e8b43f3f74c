"""The Cauchy distribution (``scipy.stats.cauchy``)."""
from __future__ import annotations

import math

from fx import lax
from fx.scipy.stats._common import const, documented, promote, standardize

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf"]


@documented("cauchy", "0.")
def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote("cauchy.logpdf", x, loc, scale)
    z = standardize(x, loc, scale)
    return -(const(x, math.log(math.pi)) + lax.log(scale) + lax.log1p(z * z))


@documented("cauchy", "0.")
def pdf(x, loc=0, scale=1):
    return lax.exp(logpdf(x, loc, scale))


def _cdf_standard(z):
    # 1/2 + atan(z)/pi, or atan(-1/z)/pi in the left tail (no cancellation there)
    left = z < -1
    safe = lax.select(left, z, lax.full_like(z, -2))
    tail = lax.atan(-1 / safe) / const(z, math.pi)
    return lax.select(left, tail, const(z, 0.5) + lax.atan(z) / const(z, math.pi))


@documented("cauchy", "1.")
def cdf(x, loc=0, scale=1):
    x, loc, scale = promote("cauchy.cdf", x, loc, scale)
    return _cdf_standard(standardize(x, loc, scale))


@documented("cauchy", "1.")
def logcdf(x, loc=0, scale=1):
    return lax.log(cdf(x, loc, scale))


@documented("cauchy", "1.")
def sf(x, loc=0, scale=1):
    x, loc, scale = promote("cauchy.sf", x, loc, scale)
    return _cdf_standard(-standardize(x, loc, scale))


@documented("cauchy", "1.")
def logsf(x, loc=0, scale=1):
    return lax.log(sf(x, loc, scale))


def _ppf_standard(q):
    # tan(pi (q - 1/2)) = -1 / tan(pi q): evaluate it on the side where the argument of
    # tan is small, so the tails keep their precision
    lower = q <= 0.5
    t = lax.tan(const(q, math.pi) * lax.select(lower, q, 1 - q))
    return lax.select(lower, -1 / t, 1 / t)


@documented("cauchy", "0.75")
def ppf(q, loc=0, scale=1):
    q, loc, scale = promote("cauchy.ppf", q, loc, scale)
    return _ppf_standard(q) * scale + loc


@documented("cauchy", "0.25")
def isf(q, loc=0, scale=1):
    q, loc, scale = promote("cauchy.isf", q, loc, scale)
    return loc - _ppf_standard(q) * scale
