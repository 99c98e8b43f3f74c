"""Student's t distribution with ``df`` degrees of freedom (``scipy.stats.t``)."""
from __future__ import annotations

import math

from fx import lax
from fx.scipy.stats._common import const, documented, promote, standardize

__all__ = ["logpdf", "pdf"]


@documented("t", "0., 3.")
def logpdf(x, df, loc=0, scale=1):
    x, df, loc, scale = promote("t.logpdf", x, df, loc, scale)
    z = standardize(x, loc, scale)
    half_df = df / 2
    half_df_plus = half_df + const(x, 0.5)
    normalizer = (lax.lgamma(half_df) - lax.lgamma(half_df_plus)
                  + (lax.log(df) + const(x, math.log(math.pi))) / 2 + lax.log(scale))
    return -(normalizer + half_df_plus * lax.log1p(z * z / df))


@documented("t", "0., 3.")
def pdf(x, df, loc=0, scale=1):
    return lax.exp(logpdf(x, df, loc, scale))
