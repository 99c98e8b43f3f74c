"""The Dirichlet distribution (``scipy.stats.dirichlet``); the components of ``x`` run
along its first axis."""
from __future__ import annotations

import numpy as np

import fx.numpy as fnp
from fx import lax
from fx.scipy.special import xlogy
from fx.scipy.stats._common import documented, promote_keep_shapes, where

__all__ = ["logpdf", "pdf"]


@documented("dirichlet", "fx.numpy.array([0.2, 0.8]), fx.numpy.array([1., 2.])",
            ("x", "alpha"))
def logpdf(x, alpha):
    x, alpha = promote_keep_shapes("dirichlet.logpdf", x, alpha)
    if alpha.ndim != 1:
        raise ValueError(f"`alpha` must be one-dimensional; got alpha.shape={alpha.shape}")
    k = alpha.shape[0]
    if x.ndim < 1 or x.shape[0] not in (k, k - 1):
        raise ValueError(f"`x` must have either the same number of entries as `alpha` or one "
                         f"entry fewer; got x.shape={x.shape}, alpha.shape={alpha.shape}")
    if x.shape[0] == k - 1:
        x = fnp.concatenate([x, 1 - fnp.sum(x, axis=0, keepdims=True)], axis=0)
    alpha_b = fnp.reshape(alpha, (k,) + (1,) * (x.ndim - 1))
    normalizer = fnp.sum(lax.lgamma(alpha)) - lax.lgamma(fnp.sum(alpha))
    value = fnp.sum(xlogy(alpha_b - 1, x), axis=0) - normalizer
    on_simplex = fnp.all(x > 0, axis=0) & (fnp.abs(fnp.sum(x, axis=0) - 1) < 1e-6)
    return where(on_simplex, value, -np.inf)


@documented("dirichlet", "fx.numpy.array([0.2, 0.8]), fx.numpy.array([1., 2.])",
            ("x", "alpha"))
def pdf(x, alpha):
    return lax.exp(logpdf(x, alpha))
