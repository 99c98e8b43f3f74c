"""Continuous distributions transformed from uniform and normal draws: uniform,
normal, truncated_normal, exponential, laplace, logistic, cauchy, gumbel,
lognormal, pareto, weibull_min, triangular, rayleigh, wald, maxwell,
double_sided_maxwell, multivariate_normal and orthogonal.

Invariants: each public function checks its key, dtype and shape eagerly, then
calls a jitted sampler with shape and dtype static; the sampler consumes keys
and applies the same float operations in the same order as JAX 0.10, so draws
are bit-identical wherever fx's elementary functions round as XLA's do.
"""
from __future__ import annotations

import numpy as np

from fx import dtypes
from fx import numpy as fnp
from fx.lax import _lax as lax
from fx._random.common import (as_float, check_shape, const, first_axis, float_dtype,
                               key_index, normal_draw, shape_or_broadcast, single_key,
                               split_keys, static_jit, uniform_jit, xla_sum_last)
from fx._random.keys import canonical_shape

__all__ = ["uniform", "normal", "truncated_normal", "exponential", "laplace", "logistic",
           "cauchy", "gumbel", "lognormal", "pareto", "weibull_min", "triangular",
           "rayleigh", "wald", "maxwell", "double_sided_maxwell", "multivariate_normal",
           "orthogonal"]


def _tiny(dtype):
    return const(dtypes.finfo(dtype).tiny, dtype)


def _eps(dtype):
    return const(dtypes.finfo(dtype).eps, dtype)


def uniform(key, shape=(), dtype=None, minval=0.0, maxval=1.0, *, out_sharding=None):
    """Uniform random floats in ``[minval, maxval)``.

    Args:
      key: a PRNG key (typed or raw).
      shape: the shape of the result.
      dtype: a float dtype (default float32, float64 under x64).
      minval, maxval: bounds, broadcast to ``shape``.

    Returns:
      An array of ``shape`` and ``dtype``.

    Example:
      >>> fx.random.uniform(fx.random.key(0), (2,))  # doctest: +SKIP
    """
    key = single_key("uniform", key)
    dtype = float_dtype("uniform", dtype)
    shape = canonical_shape(shape)
    return uniform_jit(key, shape, dtype, minval, maxval)


def normal(key, shape=(), dtype=None, *, out_sharding=None):
    """Standard normal random values (complex dtypes: independent real and imaginary parts
    with total variance 1).

    Example:
      >>> fx.random.normal(fx.random.key(0), (3,))  # doctest: +SKIP
    """
    key = single_key("normal", key)
    dtype = float_dtype("normal", dtype, allow_complex=True)
    return normal_draw(key, canonical_shape(shape), dtype)


@static_jit(3, 4)
def _truncated_normal(key, lower, upper, shape, dtype):
    sqrt2 = const(np.sqrt(2), dtype)
    lower, upper = as_float(lower, dtype), as_float(upper, dtype)
    # x / sqrt(2), rounded as XLA rewrites a division by a constant: x * (1 / sqrt(2))
    inv_sqrt2 = const(1 / np.sqrt(2), dtype)
    a = lax.erf(lax.mul(lower, inv_sqrt2))
    b = lax.erf(lax.mul(upper, inv_sqrt2))
    u = uniform_jit(key, shape, dtype, a, b)
    out = lax.mul(sqrt2, lax.erf_inv(u))
    # clamp into the open interval: rounding may put a draw on a bound
    lo = lax.nextafter(lax.stop_gradient(lower), const(np.inf, dtype))
    hi = lax.nextafter(lax.stop_gradient(upper), const(-np.inf, dtype))
    return fnp.clip(out, lo, hi)


def truncated_normal(key, lower, upper, shape=None, dtype=None, *, out_sharding=None):
    """Standard normal values truncated to ``(lower, upper)``.

    Args:
      lower, upper: bounds (broadcast to ``shape``).
      shape: result shape (default: the broadcast shape of the bounds).

    Example:
      >>> fx.random.truncated_normal(fx.random.key(0), -1.0, 1.0, (3,))  # doctest: +SKIP
    """
    key = single_key("truncated_normal", key)
    dtype = float_dtype("truncated_normal", dtype)
    shape = shape_or_broadcast("truncated_normal", shape, lower, upper)
    return _truncated_normal(key, lower, upper, shape, dtype)


@static_jit(1, 2)
def _exponential(key, shape, dtype):
    u = uniform_jit(key, shape, dtype, 0.0, 1.0)
    return lax.neg(lax.log1p(lax.neg(u)))


def exponential(key, shape=(), dtype=None, *, out_sharding=None):
    """Exponential random values with rate 1.

    Example:
      >>> fx.random.exponential(fx.random.key(0), (3,))  # doctest: +SKIP
    """
    key = single_key("exponential", key)
    dtype = float_dtype("exponential", dtype)
    return _exponential(key, canonical_shape(shape), dtype)


@static_jit(1, 2)
def _laplace(key, shape, dtype):
    low = np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype))
    u = uniform_jit(key, shape, dtype, low, 1.0)
    return lax.mul(lax.sign(u), lax.log1p(lax.neg(lax.abs(u))))


def laplace(key, shape=(), dtype=None, *, out_sharding=None):
    """Laplace (double exponential) random values with scale 1.

    Example:
      >>> fx.random.laplace(fx.random.key(0), (3,))  # doctest: +SKIP
    """
    key = single_key("laplace", key)
    dtype = float_dtype("laplace", dtype)
    return _laplace(key, canonical_shape(shape), dtype)


@static_jit(1, 2)
def _logistic(key, shape, dtype):
    u = uniform_jit(key, shape, dtype, _tiny(dtype), 1.0)
    return lax.sub(lax.log(u), lax.log1p(lax.neg(u)))


def logistic(key, shape=(), dtype=None, *, out_sharding=None):
    """Standard logistic random values.

    Example:
      >>> fx.random.logistic(fx.random.key(0), (3,))  # doctest: +SKIP
    """
    key = single_key("logistic", key)
    dtype = float_dtype("logistic", dtype)
    return _logistic(key, canonical_shape(shape), dtype)


@static_jit(1, 2)
def _cauchy(key, shape, dtype):
    u = uniform_jit(key, shape, dtype, _eps(dtype), 1.0)
    return lax.tan(lax.mul(const(np.pi, dtype), lax.sub(u, const(0.5, dtype))))


def cauchy(key, shape=(), dtype=None, *, out_sharding=None):
    """Standard Cauchy random values.

    Example:
      >>> fx.random.cauchy(fx.random.key(0), (3,))  # doctest: +SKIP
    """
    key = single_key("cauchy", key)
    dtype = float_dtype("cauchy", dtype)
    return _cauchy(key, canonical_shape(shape), dtype)


@static_jit(1, 2, 3)
def _gumbel(key, shape, dtype, mode):
    if mode == "high":
        # refine the uniform draw near 1 with a second draw, so the tail is not cut off
        u = uniform_jit(key, (2,) + shape, dtype, 0.0, 1.0)
        u1, u2 = first_axis(u, 0), first_axis(u, 1)
        refined = lax.add(lax.add(u1, lax.mul(_eps(dtype), u2)), _tiny(dtype))
        x = fnp.where(lax.ge(u1, const(0.5, dtype)), u1, refined)
        return lax.neg(lax.log(lax.neg(lax.log1p(lax.neg(x)))))
    u = uniform_jit(key, shape, dtype, _tiny(dtype), 1.0)
    return lax.neg(lax.log(lax.neg(lax.log(u))))


def _gumbel_mode(mode) -> str:
    mode = "low" if mode is None else mode
    if mode not in ("high", "low"):
        raise ValueError(f"Must provide valid mode for gumbel got: {mode}")
    return mode


def gumbel(key, shape=(), dtype=None, mode=None, *, out_sharding=None):
    """Standard Gumbel random values.

    Args:
      mode: ``"low"`` (default; one draw each) or ``"high"`` (two draws each, accurate
        far into the upper tail).

    Example:
      >>> fx.random.gumbel(fx.random.key(0), (3,))  # doctest: +SKIP
    """
    key = single_key("gumbel", key)
    dtype = float_dtype("gumbel", dtype)
    return _gumbel(key, canonical_shape(shape), dtype, _gumbel_mode(mode))


gumbel_draw = _gumbel


@static_jit(2, 3)
def _lognormal(key, sigma, shape, dtype):
    return lax.exp(lax.mul(normal_draw(key, shape, dtype), sigma))


def lognormal(key, sigma=np.float32(1), shape=None, dtype=None, *, out_sharding=None):
    """Log-normal random values: ``exp(sigma * normal)``.

    Example:
      >>> fx.random.lognormal(fx.random.key(0), 0.5, (3,))  # doctest: +SKIP
    """
    key = single_key("lognormal", key)
    dtype = float_dtype("lognormal", dtype)
    shape = shape_or_broadcast("lognormal", shape, sigma)
    return _lognormal(key, as_float(sigma, dtype), shape, dtype)


@static_jit(2, 3)
def _pareto(key, b, shape, dtype):
    b = as_float(b, dtype)
    e = _exponential(key, shape, dtype)
    return lax.exp(lax.div(e, b))


def pareto(key, b, shape=None, dtype=None, *, out_sharding=None):
    """Pareto random values with shape parameter ``b`` (support ``[1, inf)``).

    Example:
      >>> fx.random.pareto(fx.random.key(0), 3.0, (2,))  # doctest: +SKIP
    """
    key = single_key("pareto", key)
    dtype = float_dtype("pareto", dtype)
    shape = shape_or_broadcast("pareto", shape, b)
    return _pareto(key, b, shape, dtype)


@static_jit(3, 4)
def _weibull_min(key, scale, concentration, shape, dtype):
    u = uniform_jit(key, shape, dtype, 0, 1)
    exp_draw = lax.neg(lax.log1p(lax.neg(u)))
    inv_k = as_float(fnp.true_divide(1.0, concentration), dtype)
    return lax.mul(lax.pow(exp_draw, inv_k), as_float(scale, dtype))


def weibull_min(key, scale, concentration, shape=(), dtype=None):
    """Weibull (minimum) random values with the given scale and concentration.

    Example:
      >>> fx.random.weibull_min(fx.random.key(0), 1.0, 1.5, (2,))  # doctest: +SKIP
    """
    key = single_key("weibull_min", key)
    dtype = float_dtype("weibull_min", dtype)
    return _weibull_min(key, scale, concentration, canonical_shape(shape), dtype)


@static_jit(4, 5)
def _triangular(key, left, mode, right, shape, dtype):
    left = fnp.broadcast_to(as_float(left, dtype), shape)
    right = fnp.broadcast_to(as_float(right, dtype), shape)
    mode = fnp.broadcast_to(as_float(mode, dtype), shape)
    fc = lax.div(lax.sub(mode, left), lax.sub(right, left))
    u = uniform_jit(key, shape, dtype, 0.0, 1.0)
    out1 = lax.add(left, lax.sqrt(lax.mul(lax.mul(u, lax.sub(right, left)),
                                          lax.sub(mode, left))))
    out2 = lax.sub(right, lax.sqrt(lax.mul(lax.mul(lax.sub(const(1.0, dtype), u),
                                                   lax.sub(right, left)),
                                           lax.sub(right, mode))))
    return lax.select(lax.lt(u, fc), out1, out2)


def triangular(key, left, mode, right, shape=None, dtype=None, *, out_sharding=None):
    """Triangular random values on ``[left, right]`` peaking at ``mode``.

    Example:
      >>> fx.random.triangular(fx.random.key(0), 0.0, 0.5, 1.0, (2,))  # doctest: +SKIP
    """
    key = single_key("triangular", key)
    dtype = float_dtype("triangular", dtype)
    shape = shape_or_broadcast("triangular", shape, left, mode, right)
    return _triangular(key, left, mode, right, shape, dtype)


@static_jit(2, 3)
def _rayleigh(key, scale, shape, dtype):
    u = uniform_jit(key, shape, dtype, 0.0, 1.0)
    scale = fnp.broadcast_to(as_float(scale, dtype), shape)
    return lax.mul(scale, lax.sqrt(lax.mul(lax.log(u), const(-2.0, dtype))))


def rayleigh(key, scale, shape=None, dtype=None, *, out_sharding=None):
    """Rayleigh random values with the given scale.

    Example:
      >>> fx.random.rayleigh(fx.random.key(0), 1.0, (2,))  # doctest: +SKIP
    """
    key = single_key("rayleigh", key)
    dtype = float_dtype("rayleigh", dtype)
    shape = shape_or_broadcast("rayleigh", shape, scale)
    return _rayleigh(key, scale, shape, dtype)


@static_jit(2, 3)
def _wald(key, mean, shape, dtype):
    keys = split_keys(key, 2)
    mean = fnp.broadcast_to(as_float(mean, dtype), shape)
    v = normal_draw(key_index(keys, 0), shape, dtype)
    z = uniform_jit(key_index(keys, 1), shape, dtype, 0.0, 1.0)
    y = lax.integer_pow(v, 2)
    y_sq = lax.integer_pow(y, 2)
    mean_sq = lax.integer_pow(mean, 2)
    sqrt_term = lax.sqrt(lax.add(lax.mul(lax.mul(const(4.0, dtype), mean), y),
                                 lax.mul(mean_sq, y_sq)))
    x = lax.sub(lax.add(mean, lax.div(lax.mul(mean_sq, y), const(2.0, dtype))),
                lax.mul(lax.div(mean, const(2.0, dtype)), sqrt_term))
    return lax.select(lax.le(z, lax.div(mean, lax.add(mean, x))), x, lax.div(mean_sq, x))


def wald(key, mean, shape=None, dtype=None, *, out_sharding=None):
    """Wald (inverse Gaussian) random values with the given mean and shape 1.

    Example:
      >>> fx.random.wald(fx.random.key(0), 1.0, (2,))  # doctest: +SKIP
    """
    key = single_key("wald", key)
    dtype = float_dtype("wald", dtype)
    shape = shape_or_broadcast("wald", shape, mean)
    return _wald(key, mean, shape, dtype)


@static_jit(1, 2)
def _maxwell(key, shape, dtype):
    x = normal_draw(key, shape + (3,), dtype)
    # the squares' sum as XLA's reduction computes it, fused multiply-adds included
    return lax.sqrt(xla_sum_last(x, square=True))


def maxwell(key, shape=(), dtype=None, *, out_sharding=None):
    """Maxwell random values: the length of a standard normal 3-vector.

    Example:
      >>> fx.random.maxwell(fx.random.key(0), (2,))  # doctest: +SKIP
    """
    key = single_key("maxwell", key)
    dtype = float_dtype("maxwell", dtype)
    return _maxwell(key, canonical_shape(shape), dtype)


@static_jit(3, 4)
def _double_sided_maxwell(key, loc, scale, shape, dtype):
    from fx._random.discrete import rademacher_draw
    keys = split_keys(key, 2)
    magnitude = _maxwell(key_index(keys, 0), shape, dtype)
    sign = rademacher_draw(key_index(keys, 1), shape, dtype)
    return lax.add(lax.mul(lax.mul(sign, magnitude), as_float(scale, dtype)),
                   as_float(loc, dtype))


def double_sided_maxwell(key, loc, scale, shape=(), dtype=None):
    """Double-sided Maxwell random values with the given location and scale.

    Example:
      >>> fx.random.double_sided_maxwell(fx.random.key(0), 0.0, 1.0, (2,))  # doctest: +SKIP
    """
    key = single_key("double_sided_maxwell", key)
    dtype = float_dtype("double_sided_maxwell", dtype)
    shape = check_shape("double_sided_maxwell", shape, np.shape(loc), np.shape(scale))
    return _double_sided_maxwell(key, loc, scale, shape, dtype)


def _linalg():
    linalg = getattr(fnp, "linalg", None)
    if linalg is None:
        raise NotImplementedError("this sampler needs fx.numpy.linalg, which is not "
                                  "available yet")
    return linalg


@static_jit(3, 4, 5)
def _multivariate_normal(key, mean, cov, shape, dtype, method):
    linalg = _linalg()
    if method == "svd":
        u, s, _ = linalg.svd(cov)
        factor = fnp.multiply(u, lax.sqrt(fnp.expand_dims(s, -2)))
    elif method == "eigh":
        w, v = linalg.eigh(cov)
        factor = fnp.multiply(v, lax.sqrt(fnp.expand_dims(w, -2)))
    else:
        factor = linalg.cholesky(cov)
    z = normal_draw(key, shape + mean.shape[-1:], dtype)
    return fnp.add(mean, fnp.einsum("...ij,...j->...i", factor, z))


def multivariate_normal(key, mean, cov, shape=None, dtype=None, method="cholesky", *,
                        out_sharding=None):
    """Multivariate normal random vectors.

    Args:
      mean: means, shape ``(..., n)``.
      cov: covariances, shape ``(..., n, n)``.
      shape: batch shape (default: the broadcast of the batch shapes of mean and cov).
      method: ``"cholesky"`` (default), ``"eigh"`` or ``"svd"``.

    Returns:
      An array of shape ``shape + (n,)``.

    Example:
      >>> fx.random.multivariate_normal(fx.random.key(0), fx.numpy.zeros(2),
      ...                               fx.numpy.eye(2), (3,))  # doctest: +SKIP
    """
    key = single_key("multivariate_normal", key)
    dtype = float_dtype("multivariate_normal", dtype)
    if method not in ("svd", "eigh", "cholesky"):
        raise ValueError("method must be one of {'svd', 'eigh', 'cholesky'}")
    mean = as_float(fnp.asarray(mean), dtype)
    cov = as_float(fnp.asarray(cov), dtype)
    if mean.ndim < 1:
        raise ValueError(f"multivariate_normal requires mean.ndim >= 1, got mean.ndim == "
                         f"{mean.ndim}")
    if cov.ndim < 2:
        raise ValueError(f"multivariate_normal requires cov.ndim >= 2, got cov.ndim == "
                         f"{cov.ndim}")
    n = mean.shape[-1]
    if cov.shape[-2:] != (n, n):
        raise ValueError(f"multivariate_normal requires cov.shape == (..., n, n) for n={n}, "
                         f"but got cov.shape == {cov.shape}.")
    if shape is None:
        shape = tuple(np.broadcast_shapes(mean.shape[:-1], cov.shape[:-2]))
    else:
        shape = check_shape("normal", shape, mean.shape[:-1], cov.shape[:-2])
    return _multivariate_normal(key, mean, cov, shape, dtype, method)


@static_jit(1, 2, 3, 4)
def _orthogonal(key, n, shape, dtype, m):
    linalg = _linalg()
    z = normal_draw(key, shape + (max(n, m), min(n, m)), dtype)
    q, r = linalg.qr(z)
    d = fnp.diagonal(r, 0, -2, -1)
    q = fnp.multiply(q, fnp.expand_dims(lax.sign(d), -2))
    if n < m:
        q = fnp.swapaxes(q, -2, -1)
    return q


def orthogonal(key, n, shape=(), dtype=None, m=None, *, out_sharding=None):
    """Random orthogonal (``m is None``) or semi-orthogonal ``n x m`` matrices, uniform in
    the Haar measure.

    Example:
      >>> fx.random.orthogonal(fx.random.key(0), 3)  # doctest: +SKIP
    """
    key = single_key("orthogonal", key)
    dtype = float_dtype("orthogonal", dtype)
    shape = canonical_shape(shape)
    n = int(n)
    m = n if m is None else int(m)
    return _orthogonal(key, n, shape, dtype, m)
