"""The von Mises distribution (``scipy.stats.vonmises``)."""
from __future__ import annotations

import math

import numpy as np

import fx.numpy as fnp
from fx import lax
from fx.scipy import _special_numerics as _num
from fx.scipy.stats._common import const, documented, promote, where

__all__ = ["logpdf", "pdf"]


@documented("vonmises", "0., 1.")
def logpdf(x, kappa):
    x, kappa = promote("vonmises.logpdf", x, kappa)
    safe = where(kappa > 0, kappa, 1.0)
    value = safe * (fnp.cos(x) - 1) - const(x, math.log(2 * math.pi)) - lax.log(_num.i0e(safe))
    return where(kappa > 0, value, np.nan)


@documented("vonmises", "0., 1.")
def pdf(x, kappa):
    return lax.exp(logpdf(x, kappa))
