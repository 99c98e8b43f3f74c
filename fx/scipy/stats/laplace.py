"""The Laplace (double exponential) distribution (``scipy.stats.laplace``)."""
from __future__ import annotations

import math

from fx import lax
from fx.scipy.stats._common import const, documented, promote, standardize, where

__all__ = ["logpdf", "pdf", "cdf"]


@documented("laplace", "0.")
def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote("laplace.logpdf", x, loc, scale)
    return -lax.abs(standardize(x, loc, scale)) - lax.log(scale) - const(x, math.log(2))


@documented("laplace", "0.")
def pdf(x, loc=0, scale=1):
    return lax.exp(logpdf(x, loc, scale))


@documented("laplace", "0.")
def cdf(x, loc=0, scale=1):
    x, loc, scale = promote("laplace.cdf", x, loc, scale)
    z = standardize(x, loc, scale)
    half = const(x, 0.5)
    return where(z <= 0, half * lax.exp(z), 1 - half * lax.exp(-z))
