"""The geometric distribution on 1, 2, ... (``scipy.stats.geom``)."""
from __future__ import annotations

import numpy as np

from fx import lax
from fx.scipy.special import _xlog1py
from fx.scipy.stats._common import documented, promote, where

__all__ = ["logpmf", "pmf"]


@documented("geom", "2, 0.3")
def logpmf(k, p, loc=0):
    k, p, loc = promote("geom.logpmf", k, p, loc)
    y = k - loc
    return where(y <= 0, -np.inf, _xlog1py(y - 1, -p) + lax.log(p))


@documented("geom", "2, 0.3")
def pmf(k, p, loc=0):
    return lax.exp(logpmf(k, p, loc))
