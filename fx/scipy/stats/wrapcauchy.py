"""The wrapped Cauchy distribution on [0, 2 pi] (``scipy.stats.wrapcauchy``)."""
from __future__ import annotations

import math

import numpy as np

import fx.numpy as fnp
from fx import lax
from fx.scipy.stats._common import const, documented, promote, where

__all__ = ["logpdf", "pdf"]


@documented("wrapcauchy", "1., 0.5")
def logpdf(x, c):
    x, c = promote("wrapcauchy.logpdf", x, c)
    value = (lax.log1p(-c * c) - const(x, math.log(2 * math.pi))
             - lax.log(1 + c * c - 2 * c * fnp.cos(x)))
    value = where((x >= 0) & (x <= const(x, 2 * math.pi)), value, -np.inf)
    return where((c > 0) & (c < 1), value, np.nan)


@documented("wrapcauchy", "1., 0.5")
def pdf(x, c):
    return lax.exp(logpdf(x, c))
