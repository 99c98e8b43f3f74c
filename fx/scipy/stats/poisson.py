"""The Poisson distribution (``scipy.stats.poisson``)."""
from __future__ import annotations

import math

import numpy as np

import fx.numpy as fnp
from fx import lax
from fx.interpreters.jit import jit
from fx.scipy.special import _xlogy, entr
from fx.scipy.stats._common import const, documented, promote, where

__all__ = ["logpmf", "pmf", "cdf", "entropy"]


@documented("poisson", "2, 3.")
def logpmf(k, mu, loc=0):
    k, mu, loc = promote("poisson.logpmf", k, mu, loc)
    y = k - loc
    value = _xlogy(y, mu) - lax.lgamma(y + 1) - mu
    return where((y < 0) | (lax.round(k) != k), -np.inf, value)


@documented("poisson", "2, 3.")
def pmf(k, mu, loc=0):
    return lax.exp(logpmf(k, mu, loc))


@documented("poisson", "2, 3.")
def cdf(k, mu, loc=0):
    k, mu, loc = promote("poisson.cdf", k, mu, loc)
    y = k - loc
    safe = where(y < 0, 0.0, y)
    return where(y < 0, 0.0, lax.igammac(lax.floor(safe) + 1, mu))


def _entropy_by_sum(mu, terms: int):
    """-sum_k pmf(k) log pmf(k) over k < terms (enough for the means it is used for)."""
    k = fnp.arange(terms, dtype=mu.dtype).reshape((terms,) + (1,) * mu.ndim)
    probs = pmf(k, mu[None])
    return fnp.sum(entr(probs), axis=0)


@jit
def entropy(mu, loc=0):
    """The entropy of the Poisson distribution with mean ``mu`` (in nats).

    Args:
      mu: the mean (>= 0).
      loc: location shift (does not change the entropy).

    Returns:
      The entropy, broadcast over ``mu`` and ``loc``.

    Example:
      >>> fx.scipy.stats.poisson.entropy(3.)
      Array(1.9314702, dtype=float32)
    """
    mu, loc = promote("poisson.entropy", mu, loc)
    safe_small = fnp.clip(mu, 0, 10)
    safe_medium = fnp.clip(mu, 10, 100)
    small = _entropy_by_sum(safe_small, 45)
    medium = _entropy_by_sum(safe_medium, 240)
    large_mu = lax.max(mu, lax.full_like(mu, 100))
    # the normal approximation with its first corrections
    large = (const(mu, 0.5) * lax.log(const(mu, 2 * math.pi * math.e) * large_mu)
             - 1 / (12 * large_mu) - 1 / (24 * large_mu * large_mu)
             - 19 / (360 * large_mu ** 3))
    out = where(mu < 10, small, where(mu < 100, medium, large))
    out = where(mu == 0, 0.0, out)
    return where((mu < 0) | (mu != mu), np.nan, out)
