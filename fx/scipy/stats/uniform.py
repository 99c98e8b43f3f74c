"""The uniform distribution on ``[loc, loc + scale]`` (``scipy.stats.uniform``)."""
from __future__ import annotations

import numpy as np

import fx.numpy as fnp
from fx import lax
from fx.scipy.stats._common import documented, promote, where

__all__ = ["logpdf", "pdf", "cdf", "ppf"]


@documented("uniform", "0.5")
def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote("uniform.logpdf", x, loc, scale)
    outside = (x < loc) | (x > loc + scale)
    return where(outside, -np.inf, -lax.log(scale))


@documented("uniform", "0.5")
def pdf(x, loc=0, scale=1):
    return lax.exp(logpdf(x, loc, scale))


@documented("uniform", "0.5", weak=False)
def cdf(x, loc=0, scale=1):
    x, loc, scale = promote("uniform.cdf", x, loc, scale)
    inside = fnp.clip((x - loc) / scale, 0, 1)
    return where(x != x, np.nan, inside)


@documented("uniform", "0.5")
def ppf(q, loc=0, scale=1):
    q, loc, scale = promote("uniform.ppf", q, loc, scale)
    return where((q != q) | (q < 0) | (q > 1), np.nan, loc + scale * q)
