"""The generalized normal distribution with shape ``beta`` (``scipy.stats.gennorm``)."""
from __future__ import annotations

from fx import lax
from fx.scipy.stats._common import documented, promote

__all__ = ["logpdf", "pdf", "cdf"]


@documented("gennorm", "0.5, 2.")
def logpdf(x, beta):
    x, beta = promote("gennorm.logpdf", x, beta)
    return lax.log(beta / 2) - lax.lgamma(1 / beta) - lax.abs(x) ** beta


@documented("gennorm", "0.5, 2.")
def pdf(x, beta):
    return lax.exp(logpdf(x, beta))


@documented("gennorm", "0.5, 2.")
def cdf(x, beta):
    x, beta = promote("gennorm.cdf", x, beta)
    return (1 + lax.sign(x) * lax.igamma(1 / beta, lax.abs(x) ** beta)) / 2
