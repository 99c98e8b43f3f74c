"""The logistic distribution (``scipy.stats.logistic``)."""
from __future__ import annotations

from fx import lax
from fx.nn.functions import softplus
from fx.scipy.special import _logit
from fx.scipy.stats._common import documented, promote, standardize

__all__ = ["logpdf", "pdf", "cdf", "sf", "ppf", "isf"]


@documented("logistic", "0.")
def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote("logistic.logpdf", x, loc, scale)
    z = standardize(x, loc, scale)
    # log(e^-z / (1 + e^-z)^2) = -|z| - 2 log1p(e^-|z|) (symmetric in z)
    abs_z = lax.abs(z)
    return -abs_z - 2 * softplus(-abs_z) - lax.log(scale)


@documented("logistic", "0.")
def pdf(x, loc=0, scale=1):
    return lax.exp(logpdf(x, loc, scale))


@documented("logistic", "0.")
def cdf(x, loc=0, scale=1):
    x, loc, scale = promote("logistic.cdf", x, loc, scale)
    return lax.logistic(standardize(x, loc, scale))


@documented("logistic", "0.")
def sf(x, loc=0, scale=1):
    x, loc, scale = promote("logistic.sf", x, loc, scale)
    return lax.logistic(-standardize(x, loc, scale))


@documented("logistic", "0.5")
def ppf(x, loc=0, scale=1):
    q, loc, scale = promote("logistic.ppf", x, loc, scale)
    return _logit(q) * scale + loc


@documented("logistic", "0.5")
def isf(x, loc=0, scale=1):
    q, loc, scale = promote("logistic.isf", x, loc, scale)
    return loc - _logit(q) * scale
