"""``gaussian_kde``: a Gaussian kernel density estimator (JAX's
``jax.scipy.stats.gaussian_kde``, after ``scipy.stats.gaussian_kde``).

Invariants: the estimator is a pytree whose leaves are ``neff``, ``dataset`` (shape
``(d, n)``), ``weights`` (summing to 1), ``covariance`` and ``inv_cov`` (the kernel's,
i.e. the data covariance times the bandwidth factor squared), so it passes through
jit, vmap and grad; every method is built from ``fx.numpy``/``fx.scipy`` operations.
"""
from __future__ import annotations

import math

import numpy as np

import fx.numpy as fnp
from fx import dtypes, random
from fx.nn.functions import logsumexp
from fx.scipy import linalg
from fx.scipy import special
from fx.scipy._special_util import check_arraylike
from fx.tree_util import register_pytree_node_class

__all__ = ["gaussian_kde"]


def _inexact(*arrays):
    dtype = dtypes.result_type(*arrays)
    if not dtypes.is_inexact(dtype):
        dtype = dtypes.default_float_dtype()
    return [fnp.asarray(a, dtype=dtype) for a in arrays]


@register_pytree_node_class
class gaussian_kde:  # noqa: N801 (JAX's name)
    """Gaussian kernel density estimator.

    Args:
      dataset: real data: shape ``(n,)`` for one dimension, ``(d, n)`` for d.
      bw_method: ``"scott"`` (default), ``"silverman"``, a scalar bandwidth factor, or a
        callable taking the estimator and returning the factor.
      weights: optional weights of shape ``(n,)`` (normalised to sum to 1).

    Example:
      >>> kde = fx.scipy.stats.gaussian_kde(fx.numpy.array([0., 1., 3.]))
      >>> kde.evaluate(fx.numpy.array([1.])).shape
      (1,)
    """

    neff: object
    dataset: object
    weights: object
    covariance: object
    inv_cov: object

    def __init__(self, dataset, bw_method=None, weights=None):
        check_arraylike("gaussian_kde", dataset)
        dataset = fnp.atleast_2d(fnp.asarray(dataset))
        if dtypes.is_complex(dataset.dtype):
            raise NotImplementedError("gaussian_kde does not support complex data")
        if not dataset.size > 1:
            raise ValueError("`dataset` input should have multiple elements.")
        d, n = dataset.shape
        if weights is not None:
            check_arraylike("gaussian_kde", weights)
            dataset, weights = _inexact(dataset, weights)
            weights = fnp.atleast_1d(weights)
            if weights.ndim != 1:
                raise ValueError("`weights` input should be one-dimensional.")
            if weights.shape[0] != n:
                raise ValueError(f"`weights` input should be of length n={n}, got "
                                 f"{weights.shape[0]}.")
            weights = weights / fnp.sum(weights)
        else:
            (dataset,) = _inexact(dataset)
            weights = fnp.full((n,), 1.0 / n, dtype=dataset.dtype)
        self._setattr("dataset", dataset)
        self._setattr("weights", weights)
        neff = self._setattr("neff", 1 / fnp.sum(weights ** 2))

        method = "scott" if bw_method is None else bw_method
        if isinstance(method, str) and method == "scott":
            factor = fnp.power(neff, -1.0 / (d + 4))
        elif isinstance(method, str) and method == "silverman":
            factor = fnp.power(neff * (d + 2) / 4.0, -1.0 / (d + 4))
        elif fnp.isscalar(method) and not isinstance(method, str):
            factor = method
        elif callable(method):
            factor = method(self)
        else:
            raise ValueError("`bw_method` should be 'scott', 'silverman', a scalar, or a "
                             f"callable; got {bw_method!r}.")
        data_covariance = fnp.atleast_2d(fnp.cov(dataset, rowvar=True, bias=False,
                                                 aweights=weights))
        data_inv_cov = fnp.linalg.inv(data_covariance)
        self._setattr("covariance", data_covariance * factor ** 2)
        self._setattr("inv_cov", data_inv_cov / factor ** 2)

    def _setattr(self, name, value):
        object.__setattr__(self, name, value)
        return value

    def tree_flatten(self):
        return (self.neff, self.dataset, self.weights, self.covariance, self.inv_cov), None

    @classmethod
    def tree_unflatten(cls, aux_data, children):
        del aux_data
        kde = cls.__new__(cls)
        for name, value in zip(("neff", "dataset", "weights", "covariance", "inv_cov"),
                               children, strict=True):
            kde._setattr(name, value)
        return kde

    @property
    def d(self) -> int:
        """The number of dimensions."""
        return self.dataset.shape[0]

    @property
    def n(self) -> int:
        """The number of data points."""
        return self.dataset.shape[1]

    def _reshape_points(self, points):
        check_arraylike("gaussian_kde", points)
        points = fnp.atleast_2d(fnp.asarray(points))
        if dtypes.is_complex(points.dtype):
            raise NotImplementedError("gaussian_kde does not support complex coordinates")
        d, m = points.shape
        if d != self.d:
            if d == 1 and m == self.d:
                points = fnp.reshape(points, (self.d, 1))
            else:
                raise ValueError(f"points have dimension {d}, dataset has dimension "
                                 f"{self.d}")
        return points

    def _log_kernels(self, points):
        """log(weight_i) + log N(x_j; data_i, covariance): shape (n, m)."""
        points = self._reshape_points(points)
        data, weights, points, precision = _inexact(self.dataset, self.weights, points,
                                                    self.inv_cov)
        whitening = fnp.linalg.cholesky(precision)
        white_data = whitening.T @ data  # (d, n)
        white_points = whitening.T @ points  # (d, m)
        log_norm = (fnp.sum(fnp.log(fnp.diagonal(whitening)))
                    - 0.5 * self.d * math.log(2 * math.pi))
        difference = white_data[:, :, None] - white_points[:, None, :]
        squared = fnp.sum(difference * difference, axis=0)
        return fnp.log(weights)[:, None] + log_norm - 0.5 * squared

    def evaluate(self, points):
        """The estimated density at ``points`` (shape ``(d, m)``, or ``(m,)`` when d = 1):
        an array of shape ``(m,)``."""
        return fnp.exp(self.logpdf(points))

    def __call__(self, points):
        return self.evaluate(points)

    def pdf(self, x):
        """The estimated density at ``x`` (the same as ``evaluate``)."""
        return self.evaluate(x)

    def logpdf(self, x):
        """The log of the estimated density at ``x``: shape ``(m,)``."""
        return logsumexp(self._log_kernels(x), axis=0)

    def integrate_gaussian(self, mean, cov):
        """The integral of the density times the Gaussian ``N(mean, cov)``."""
        mean = fnp.atleast_1d(fnp.squeeze(fnp.asarray(mean)))
        cov = fnp.atleast_2d(fnp.asarray(cov))
        if mean.shape != (self.d,):
            raise ValueError(f"mean does not have dimension {self.d}: shape {mean.shape}")
        if cov.shape != (self.d, self.d):
            raise ValueError(f"covariance does not have dimension {self.d}: shape "
                             f"{cov.shape}")
        return _gaussian_convolution(self.covariance + cov, self.dataset, self.weights,
                                     mean)

    def integrate_box_1d(self, low, high):
        """The probability mass between the scalars ``low`` and ``high`` (d = 1 only)."""
        if self.d != 1:
            raise ValueError("integrate_box_1d() only handles 1D pdfs")
        if np.ndim(low) != 0 or np.ndim(high) != 0:
            raise ValueError("the limits of integration in integrate_box_1d must be scalars")
        sigma = fnp.squeeze(fnp.sqrt(self.covariance))
        low = fnp.squeeze((low - self.dataset) / sigma)
        high = fnp.squeeze((high - self.dataset) / sigma)
        return fnp.sum(self.weights * (special.ndtr(high) - special.ndtr(low)))

    def integrate_kde(self, other):
        """The integral of the product of this density and ``other``'s."""
        if other.d != self.d:
            raise ValueError("KDEs are not the same dimensionality")
        small, large = (self, other) if self.n < other.n else (other, self)
        total = self.covariance + other.covariance
        values = [_gaussian_convolution(total, large.dataset, large.weights,
                                        small.dataset[:, i]) for i in range(small.n)]
        return fnp.sum(fnp.stack(values) * small.weights)

    def resample(self, key, shape=()):
        """Draw ``shape`` samples: an array of shape ``(d,) + shape``."""
        index_key, noise_key = random.split(key)
        index = random.choice(index_key, self.n, shape=shape, p=self.weights)
        noise = random.multivariate_normal(noise_key,
                                           fnp.zeros(self.d, self.covariance.dtype),
                                           self.covariance, shape=shape,
                                           dtype=self.dataset.dtype)
        return self.dataset[:, index] + fnp.moveaxis(noise, -1, 0)

    def integrate_box(self, low_bounds, high_bounds, maxpts=None):
        """Not implemented (as in JAX): use ``integrate_box_1d``."""
        del low_bounds, high_bounds, maxpts
        raise NotImplementedError("only 1D box integrations are supported; use "
                                  "`integrate_box_1d`")

    def set_bandwidth(self, bw_method=None):
        """Not implemented (as in JAX): the bandwidth is fixed at construction."""
        del bw_method
        raise NotImplementedError("dynamically changing the bandwidth method is not "
                                  "supported")


def _gaussian_convolution(covariance, data, weights, mean):
    """sum_i weights_i N(mean; data_i, covariance)."""
    factor = linalg.cho_factor(covariance)
    d = covariance.shape[0]
    norm = 1.0 / (math.sqrt(2 * math.pi) ** d * fnp.prod(fnp.diagonal(factor[0])))
    difference = data - mean[:, None]
    solved = linalg.cho_solve(factor, difference)
    exponent = 0.5 * fnp.sum(difference * solved, axis=0)
    return norm * fnp.sum(fnp.exp(-exponent) * weights)
