"""The multivariate normal distribution (``scipy.stats.multivariate_normal``)."""
from __future__ import annotations

import math

import fx.numpy as fnp
from fx import lax
from fx.scipy.stats._common import documented, promote_keep_shapes

__all__ = ["logpdf", "pdf"]


def _linalg():
    """(cholesky, solve_lower) from fx's linear algebra (imported when first needed)."""
    from fx.lax import linalg as lax_linalg
    return lax_linalg.cholesky, lax_linalg.triangular_solve


@documented("multivariate_normal", "fx.numpy.zeros(2), fx.numpy.zeros(2), fx.numpy.eye(2)",
            ("x", "mean", "cov"))
def logpdf(x, mean, cov, allow_singular=None):
    if allow_singular is not None:
        raise NotImplementedError("allow_singular argument of multivariate_normal.logpdf")
    x, mean, cov = promote_keep_shapes("multivariate_normal.logpdf", x, mean, cov)
    log_2pi = math.log(2 * math.pi)
    if not mean.shape:
        return -(x - mean) ** 2 / cov / 2 - (log_2pi + fnp.log(cov)) / 2
    n = mean.shape[-1]
    y = x - mean
    if not cov.shape:
        return -fnp.einsum("...i,...i->...", y, y) / cov / 2 - n * (log_2pi + fnp.log(cov)) / 2
    if cov.ndim < 2 or cov.shape[-2:] != (n, n):
        raise ValueError(f"multivariate_normal.logpdf got incompatible shapes: mean "
                         f"{mean.shape} needs a covariance of trailing shape ({n}, {n}), got "
                         f"{cov.shape}")
    cholesky, triangular_solve = _linalg()
    chol = cholesky(cov)
    batch = fnp.broadcast_shapes(y.shape[:-1], cov.shape[:-2])
    chol_b = fnp.broadcast_to(chol, batch + (n, n))
    y_b = fnp.broadcast_to(y, batch + (n,))
    # solve L z = y for z: z^T z is the Mahalanobis term
    z = triangular_solve(chol_b, y_b[..., None], left_side=True, lower=True)[..., 0]
    log_det = fnp.sum(fnp.log(fnp.diagonal(chol_b, axis1=-2, axis2=-1)), axis=-1)
    return -fnp.einsum("...i,...i->...", z, z) / 2 - n * log_2pi / 2 - log_det


@documented("multivariate_normal", "fx.numpy.zeros(2), fx.numpy.zeros(2), fx.numpy.eye(2)",
            ("x", "mean", "cov"))
def pdf(x, mean, cov):
    return lax.exp(logpdf(x, mean, cov))

