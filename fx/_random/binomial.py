"""Binomial and multinomial draws.

Invariants: ``binomial`` follows JAX 0.10 (itself TensorFlow's kernel): where
``n * min(p, 1 - p) <= 10`` it counts geometric waiting times (inversion),
elsewhere it runs Hormann's transformed rejection (BTRS) with a Stirling tail
table; both loops consume the same key the way JAX's do, so draws equal JAX's
wherever the float operations round alike. ``multinomial`` draws one binomial
per category on the remaining count, scanning over the categories with one
subkey each; the remaining probability mass is summed left to right, as XLA's
CPU backend evaluates JAX's reverse ``cumsum``.
"""
from __future__ import annotations

import numpy as np

from fx import dtypes
from fx import numpy as fnp
from fx.core import Tracer
from fx.numpy._core import _promote_inexact
from fx.lax import _control_flow as cf
from fx.lax import _lax as lax
from fx._random.common import (check_shape, float_dtype, key_index, param_shape,
                               single_key, split_keys, static_jit, uniform_jit)
from fx._random.keys import canonical_shape

__all__ = ["binomial", "multinomial"]

# log(k!) - [(k + 1/2) log(k + 1) - (k + 1) + log(2 pi)/2] for k = 0..9
_STIRLING_TAIL = (0.0810614667953272, 0.0413406959554092, 0.0276779256849983,
                  0.02079067210376509, 0.0166446911898211, 0.0138761288230707,
                  0.0118967099458917, 0.0104112652619720, 0.00925546218271273,
                  0.00833056343336287)


def _stirling_tail(k):
    """The Stirling-series remainder of log(k!): a table for k <= 9, else its series."""
    table = fnp.asarray(np.asarray(_STIRLING_TAIL, k.dtype))
    small = k <= 9
    kc = fnp.clip(k, 0.0, 9.0)
    sq = (kc + 1) * (kc + 1)
    series = (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / sq) / sq) / (kc + 1)
    idx = lax.convert_element_type(fnp.floor(kc), np.int32)
    return lax.select(small, fnp.take(table, idx), series)


def _inversion(key, count, prob, shape, dtype, max_iters):
    """Count geometric waiting times until their sum passes ``count`` (small n p)."""
    log_q = fnp.log1p(-prob)

    def body(carry):
        i, n_geom, total, rng = carry
        keys = split_keys(rng, 2)
        sub, rng = key_index(keys, 0), key_index(keys, 1)
        n_geom = lax.select(total <= count, n_geom + 1, n_geom)
        u = uniform_jit(sub, shape, np.dtype(prob.dtype), 0.0, 1.0)
        total = total + fnp.ceil(fnp.log(u) / log_q)
        return i + 1, n_geom, total, rng

    def cond(carry):
        i, _, total, _ = carry
        return fnp.any(total <= count) & (i < max_iters)

    zeros = fnp.zeros(shape, prob.dtype)
    k = cf.while_loop(cond, body, (0, zeros, zeros, key))[1]
    return (k - 1).astype(dtype)


def _btrs(key, count, prob, shape, dtype, max_iters):
    """Hormann's transformed rejection with squeeze (BTRS) for large n p."""
    stddev = fnp.sqrt(count * prob * (1 - prob))
    b = 1.15 + 2.53 * stddev
    a = -0.0873 + 0.0248 * b + 0.01 * prob
    c = count * prob + 0.5
    v_r = 0.92 - 4.2 / b
    r = prob / (1 - prob)
    alpha = (2.83 + 5.1 / b) * stddev
    m = fnp.floor((count + 1) * prob)
    f = np.dtype(prob.dtype)

    def body(carry):
        i, k_out, accepted, rng = carry
        keys = split_keys(rng, 3)
        rng, key_u, key_v = key_index(keys, 0), key_index(keys, 1), key_index(keys, 2)
        u = uniform_jit(key_u, shape, f, 0.0, 1.0) - 0.5
        v = uniform_jit(key_v, shape, f, 0.0, 1.0)
        us = 0.5 - fnp.abs(u)
        quick = (us >= 0.07) & (v <= v_r)
        k = fnp.floor((2 * a / us + b) * u + c)
        out_of_range = (k < 0) | (k > count)
        log_v = fnp.log(v * alpha / (a / (us * us) + b))
        bound = ((m + 0.5) * fnp.log((m + 1) / (r * (count - m + 1)))
                 + (count + 1) * fnp.log((count - m + 1) / (count - k + 1))
                 + (k + 0.5) * fnp.log(r * (count - k + 1) / (k + 1))
                 + _stirling_tail(m) + _stirling_tail(count - m)
                 - _stirling_tail(k) - _stirling_tail(count - k))
        accept = quick | (~out_of_range & (log_v <= bound))
        return i + 1, lax.select(accept, k, k_out), accepted | accept, rng

    def cond(carry):
        i, _, accepted, _ = carry
        return fnp.any(~accepted) & (i < max_iters)

    init = (0, fnp.full(shape, -1, prob.dtype), fnp.full(shape, False, np.bool_), key)
    return cf.while_loop(cond, body, init)[1].astype(dtype)


@static_jit(3, 4)
def _binomial(key, count, prob, shape, dtype):
    (prob,) = _promote_inexact(prob)
    count = fnp.broadcast_to(lax.convert_element_type(count, prob.dtype), shape)
    prob = fnp.broadcast_to(prob, shape)
    below_half = prob < 0.5
    q = lax.select(below_half, prob, 1.0 - prob)
    bad_count = fnp.isnan(count) | (count < 0.0)
    inf_count = fnp.isinf(count)
    nan_q = fnp.isnan(q)
    negative_q = q < 0.0
    q = lax.select(nan_q | negative_q, fnp.full_like(q, 0.01), q)
    use_inversion = bad_count | (count * q <= 10.0)
    count = fnp.floor(count)  # float counts are truncated, as NumPy's binomial does
    count_inv = lax.select(use_inversion, count, fnp.full_like(count, 0.0))
    count_btrs = lax.select(use_inversion, fnp.full_like(count, 1e4), count)
    q_btrs = lax.select(use_inversion, fnp.full_like(q, 0.5), q)
    max_iters = dtype.type(dtypes.finfo(dtype).max)
    draws = lax.select(use_inversion,
                       _inversion(key, count_inv, q, shape, dtype, max_iters),
                       _btrs(key, count_btrs, q_btrs, shape, dtype, max_iters))
    invalid = negative_q | nan_q | bad_count
    draws = lax.select(invalid, fnp.full_like(draws, np.nan, dtype), draws)
    draws = lax.select(inf_count & ~invalid, fnp.full_like(draws, np.inf, dtype), draws)
    # p >= 1/2 was drawn as n - Binomial(n, 1 - p)
    keep = below_half | bad_count | nan_q | inf_count
    return lax.select(keep, draws, count.astype(dtype) - draws)


def _check_array_like(name, *args):
    for i, a in enumerate(args):
        if isinstance(a, (str, bytes, list, tuple, dict, set)) or not (
                isinstance(a, (int, float, np.ndarray, np.generic, Tracer)) or
                hasattr(a, "aval")):
            raise TypeError(f"{name} requires ndarray or scalar arguments, got "
                            f"{type(a)} at position {i}.")


def binomial(key, n, p, shape=None, dtype=None):
    """Binomial random values (as floats): successes in ``n`` trials of probability ``p``.

    Args:
      key: a PRNG key (typed or raw).
      n: numbers of trials (floats are floored; negative or NaN gives NaN, inf gives inf).
      p: success probabilities (NaN or negative gives NaN).
      shape: result shape (default: the broadcast shape of ``n`` and ``p``); ``n`` and
        ``p`` must broadcast to it.
      dtype: a float dtype (default float32, float64 under x64).

    Returns:
      An array of ``shape`` and ``dtype`` holding whole numbers.

    Example:
      >>> fx.random.binomial(fx.random.key(0), 10, 0.3, (4,))  # doctest: +SKIP
    """
    key = single_key("binomial", key)
    _check_array_like("binomial", n, p)
    dtype = float_dtype("binomial", dtype)
    if shape is None:
        shape = fnp.broadcast_shapes(param_shape(n), param_shape(p))
    else:
        shape = check_shape("binomial", shape, param_shape(n), param_shape(p))
    return _binomial(key, n, p, shape, dtype)


def _suffix_sums(x):
    """``out[i] = x[i] + x[i + 1] + ... + x[-1]`` along axis 0, summed left to right."""
    size = x.shape[0]
    padded = fnp.concatenate([x, fnp.zeros((size - 1,) + x.shape[1:], x.dtype)], axis=0)
    total = fnp.zeros(x.shape, x.dtype)
    for j in range(size):
        total = total + padded[j:j + size]
    return total


def _counts_dtype(dtype) -> np.dtype:
    if dtype is None:
        return dtypes.default_float_dtype()
    try:
        d = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype argument to `multinomial` is not a valid dtype: "
                        f"{dtype!r}") from None
    if not (d == np.bool_ or d.kind in "iufc" or dtypes.issubdtype(d, np.floating)):
        raise TypeError(f"dtype argument to `multinomial` must be a numeric dtype, got {d}")
    return dtypes.canonicalize_dtype(d)


def multinomial(key, n, p, *, shape=None, dtype=None, unroll=1):
    """Multinomial random counts: ``n`` trials spread over the outcomes of ``p``.

    Args:
      key: a PRNG key (typed or raw).
      n: numbers of trials, broadcast to the batch shape ``shape[:-1]``.
      p: outcome probabilities along the last axis.
      shape: result shape including the outcome axis (default ``p.shape``); ``p`` must
        broadcast to it.
      dtype: the dtype of the counts (default float32, float64 under x64).
      unroll: the ``unroll`` of the scan over outcomes.

    Returns:
      Counts of shape ``shape`` whose last axis sums to ``n``.

    Example:
      >>> fx.random.multinomial(fx.random.key(0), 10, fx.numpy.array([0.2, 0.3, 0.5]))
      ...  # doctest: +SKIP
    """
    key = single_key("multinomial", key)
    _check_array_like("multinomial", n, p)
    dtype = _counts_dtype(dtype)
    p_shape = param_shape(p)
    if len(p_shape) < 1:
        raise ValueError(f"multinomial requires p with at least one dimension (the "
                         f"outcomes), got p.shape={p_shape}")
    shape = p_shape if shape is None else canonical_shape(shape)
    if not shape:
        raise ValueError("multinomial shape must include the outcome axis, got shape=()")
    return _multinomial(key, n, p, shape, dtype, unroll)


@static_jit(3, 4, 5)
def _multinomial(key, n, p, shape, dtype, unroll):
    n, p = _promote_inexact(n, p)
    n = fnp.broadcast_to(n, shape[:-1])
    p = fnp.moveaxis(fnp.broadcast_to(p, shape), -1, 0)
    remaining = _suffix_sums(p)
    ratios = p / fnp.where(remaining == 0, 1, remaining)
    keys = split_keys(key, ratios.shape[0])

    def step(left, ratio_and_key):
        ratio, k = ratio_and_key
        count = binomial(k, left, fnp.clip(ratio, 0, 1), dtype=left.dtype)
        return left - count, count

    _, counts = cf.scan(step, n, (ratios, keys), unroll=unroll)
    return fnp.moveaxis(counts, 0, -1).astype(dtype)
