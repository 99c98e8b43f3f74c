"""The normal distribution truncated to ``[a, b]`` in standard units
(``scipy.stats.truncnorm``)."""
from __future__ import annotations

import numpy as np

import fx.numpy as fnp
from fx import lax
from fx.scipy import _special_numerics as _num
from fx.scipy.stats import norm
from fx.scipy.stats._common import documented, log_diff, promote, standardize, where

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]


def _log_mass(lo, hi):
    """log(Phi(hi) - Phi(lo)) for lo <= hi, accurate in both tails."""
    left = hi <= 0
    right = lo > 0
    # in a tail, work where Phi is small: reflect the right tail to the left one
    tail_hi = where(right, -lo, hi)
    tail_lo = where(right, -hi, lo)
    tail = log_diff(_num.log_ndtr(tail_hi, 3), _num.log_ndtr(tail_lo, 3))
    central = lax.log1p(-_num.ndtr(lo) - _num.ndtr(-hi))
    return where(left | right, tail, central)


@documented("truncnorm", "0., -1., 2.", weak=False)
def logpdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote("truncnorm.logpdf", x, a, b, loc, scale)
    value = norm.logpdf(x, loc, scale) - _log_mass(a, b)
    z = standardize(x, loc, scale)
    value = where((z < a) | (z > b), -np.inf, value)
    return where(a >= b, np.nan, value)


@documented("truncnorm", "0., -1., 2.", weak=False)
def pdf(x, a, b, loc=0, scale=1):
    return lax.exp(logpdf(x, a, b, loc, scale))


@documented("truncnorm", "0., -1., 2.", weak=False)
def logcdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote("truncnorm.logcdf", x, a, b, loc, scale)
    z = fnp.clip(standardize(x, loc, scale), a, b)
    total = _log_mass(a, b)
    below = _log_mass(a, z) - total
    above = _log_mass(z, b) - total
    # near 1, log1p(-sf) is the accurate form
    value = where(below > -0.1, lax.log1p(-lax.exp(above)), below)
    value = where(z >= b, 0.0, where(z <= a, -np.inf, value))
    return where(a >= b, np.nan, value)


@documented("truncnorm", "0., -1., 2.", weak=False)
def cdf(x, a, b, loc=0, scale=1):
    return lax.exp(logcdf(x, a, b, loc, scale))


@documented("truncnorm", "0., -1., 2.", weak=False)
def logsf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote("truncnorm.logsf", x, a, b, loc, scale)
    return logcdf(-x, -b, -a, -loc, scale)


@documented("truncnorm", "0., -1., 2.", weak=False)
def sf(x, a, b, loc=0, scale=1):
    return lax.exp(logsf(x, a, b, loc, scale))
