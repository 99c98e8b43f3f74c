"""Discrete draws: bernoulli, randint, rademacher, categorical, permutation, choice,
geometric and poisson.

Invariants: integer results are computed from the random bits with exact
integer arithmetic (randint, permutation, choice without ``p``), so they equal
JAX's draws bit for bit; the others consume keys in JAX's order and threshold
floats computed as JAX computes them.
"""
from __future__ import annotations

import math

import numpy as np

from fx import core, dtypes
from fx import numpy as fnp
from fx.core import Tracer
from fx.lax import _control_flow as cf
from fx.lax import _lax as lax
from fx.lax import _reductions_ext as lax_ext
from fx._random.common import (bernoulli_draw, broadcast_param, const, int_dtype, key_index,
                               shape_or_broadcast, single_key, split_keys, static_jit,
                               uniform_jit)
from fx._random.continuous import _gumbel_mode, gumbel_draw
from fx._random.keys import canonical_shape, random_bits
from primitives.random import UINT_DTYPES

__all__ = ["bernoulli", "randint", "rademacher", "categorical", "permutation", "choice",
           "geometric", "poisson"]


def _asarray(x):
    return x if isinstance(x, (Tracer, core._array_type[0])) else fnp.asarray(x)


def bernoulli(key, p=0.5, shape=None, mode="low", *, out_sharding=None):
    """Random booleans, True with probability ``p``.

    Args:
      p: probabilities (broadcast to ``shape``).
      shape: result shape (default ``p.shape``).
      mode: ``"low"`` (one uniform draw each) or ``"high"`` (two, exact for tiny ``p``).

    Example:
      >>> fx.random.bernoulli(fx.random.key(0), 0.3, (4,))  # doctest: +SKIP
    """
    key = single_key("bernoulli", key)
    if mode not in ("high", "low"):
        raise ValueError(f"got mode={mode!r}, expected 'high' or 'low'")
    p = _asarray(p)
    if not dtypes.is_float(p.dtype):
        p = lax.convert_element_type(p, dtypes.default_float_dtype())
    shape = shape_or_broadcast("bernoulli", shape, p)
    return bernoulli_draw(key, p, shape, mode)


# ---------------------------------------------------------------------------
# randint


def _convert_and_clip(value, dtype):
    """``value`` clipped to the range of ``dtype`` (in its own dtype), then converted."""
    vdtype = np.dtype(value.dtype)
    dtype = np.dtype(dtype)
    if vdtype.kind in "iu" and dtype.kind in "iu":
        vinfo, dinfo = np.iinfo(vdtype), np.iinfo(dtype)
        lo, hi = max(vinfo.min, dinfo.min), min(vinfo.max, dinfo.max)
        value = lax.min(const(hi, vdtype), lax.max(const(lo, vdtype), value))
    return lax.convert_element_type(value, dtype)


@static_jit(1, 4)
def _randint(key, shape, minval, maxval, dtype):
    minval, maxval = _asarray(minval), _asarray(maxval)
    if not dtypes.is_integer(minval.dtype):
        minval = lax.convert_element_type(minval, dtypes.default_int_dtype())
    if not dtypes.is_integer(maxval.dtype):
        maxval = lax.convert_element_type(maxval, dtypes.default_int_dtype())
    # maxval above dtype's max means "up to and including max" (e.g. 256 for uint8)
    dtype_max = fnp.asarray(np.iinfo(dtype).max, dtype)
    maxval_out_of_range = lax.gt(maxval, _convert_and_clip(dtype_max, maxval.dtype))
    minval = broadcast_param(_convert_and_clip(minval, dtype), shape)
    maxval = broadcast_param(_convert_and_clip(maxval, dtype), shape)
    if np.shape(maxval_out_of_range) and np.shape(maxval_out_of_range) != shape:
        maxval_out_of_range = broadcast_param(maxval_out_of_range, shape)
    nbits = np.iinfo(dtype).bits
    keys = split_keys(key, 2)
    higher = random_bits(key_index(keys, 0), nbits, shape)
    lower = random_bits(key_index(keys, 1), nbits, shape)
    unsigned = UINT_DTYPES[nbits]
    span = lax.convert_element_type(lax.sub(maxval, minval), unsigned)
    span = lax.select(lax.le(maxval, minval), lax.full_like(span, 1), span)
    span = lax.select(lax.bitwise_and(maxval_out_of_range, lax.gt(maxval, minval)),
                      lax.add(span, const(1, unsigned)), span)
    # (higher * 2**nbits + lower) mod span, without overflow: 2**nbits mod span as a
    # squared multiplier
    multiplier = lax.rem(const(2 ** (nbits // 2), unsigned), span)
    multiplier = lax.rem(lax.mul(multiplier, multiplier), span)
    offset = lax.add(lax.mul(lax.rem(higher, span), multiplier), lax.rem(lower, span))
    offset = lax.rem(offset, span)
    return lax.add(minval, lax.convert_element_type(offset, dtype))


def randint(key, shape, minval, maxval, dtype=None, *, out_sharding=None):
    """Random integers uniformly in ``[minval, maxval)``.

    Args:
      shape: result shape.
      minval, maxval: bounds (broadcast to ``shape``); clipped to ``dtype``'s range, and
        ``maxval`` beyond the range includes the dtype's maximum.
      dtype: an integer dtype (default int32, int64 under x64).

    Example:
      >>> fx.random.randint(fx.random.key(0), (3,), 0, 10)  # doctest: +SKIP
    """
    key = single_key("randint", key)
    d = dtypes.default_int_dtype() if dtype is None else np.dtype(dtype)
    if d.kind not in "iu":
        raise TypeError(f"randint only accepts integer dtypes, got {d.name}")
    dtype = dtypes.canonicalize_dtype(d)
    shape = canonical_shape(shape)
    minval, maxval = _asarray(minval), _asarray(maxval)
    if dtype.itemsize < 4:
        # narrow types draw in int32 within their range, then convert
        info = np.iinfo(dtype)
        wide = np.dtype(np.int32)
        minval = _clip_to(minval, info.min, info.max, wide)
        maxval = _clip_to(maxval, info.min, info.max + 1, wide)
        out = _randint(key, shape, minval, maxval, wide)
        return lax.convert_element_type(out, dtype)
    return _randint(key, shape, minval, maxval, dtype)


def _clip_to(x, lo, hi, dtype):
    if not dtypes.is_integer(x.dtype):
        x = lax.convert_element_type(x, dtypes.default_int_dtype())
    x = lax.convert_element_type(x, dtype) if np.dtype(x.dtype).itemsize < 4 else x
    return lax.min(const(hi, x.dtype), lax.max(const(lo, x.dtype), x))


# ---------------------------------------------------------------------------


@static_jit(1, 2)
def _rademacher(key, shape, dtype):
    b = bernoulli_draw(key, const(0.5, dtypes.default_float_dtype()), shape, "low")
    b = lax.convert_element_type(b, dtype)
    return lax.sub(lax.mul(const(2, dtype), b), const(1, dtype))


def rademacher_draw(key, shape, dtype):
    return _rademacher(key, shape, dtype)


def rademacher(key, shape=(), dtype=None, *, out_sharding=None):
    """Random signs: -1 or +1 with equal probability.

    Example:
      >>> fx.random.rademacher(fx.random.key(0), (4,))  # doctest: +SKIP
    """
    key = single_key("rademacher", key)
    d = dtypes.default_int_dtype() if dtype is None else np.dtype(dtype)
    return _rademacher(key, canonical_shape(shape), dtypes.canonicalize_dtype(d))


def _canonical_axis(name: str, axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: axis {axis} is out of bounds for an array of rank {ndim}")
    return axis % ndim


def categorical(key, logits, axis=-1, shape=None, replace=True, mode=None, *,
                out_sharding=None):
    """Samples from the categorical distribution given by unnormalized log-probabilities.

    Args:
      logits: log-probabilities (up to a constant) along ``axis``.
      shape: result shape; must end with the batch shape of ``logits`` (its shape
        without ``axis``). Default: that batch shape.
      replace: sample with (default) or without replacement.
      mode: the gumbel mode (``"low"`` or ``"high"``).

    Returns:
      Integer indices into ``axis``.

    Example:
      >>> fx.random.categorical(fx.random.key(0), fx.numpy.zeros(5), shape=(3,))  # doctest: +SKIP
    """
    key = single_key("categorical", key)
    mode = _gumbel_mode(mode)
    logits = _asarray(logits)
    if not dtypes.is_float(logits.dtype):
        logits = lax.convert_element_type(logits, dtypes.default_float_dtype())
    axis = _canonical_axis("categorical", axis, logits.ndim)
    batch_shape = tuple(d for i, d in enumerate(logits.shape) if i != axis)
    if shape is None:
        shape = batch_shape
    else:
        shape = canonical_shape(shape)
        if shape[len(shape) - len(batch_shape):] != batch_shape or \
                len(shape) < len(batch_shape):
            raise ValueError(
                f"categorical shape argument must be broadcast-compatible with the logits' "
                f"batch shape {batch_shape} (logits.shape with axis {axis} removed), got "
                f"shape {shape}")
    prefix = shape[:len(shape) - len(batch_shape)]
    dtype = np.dtype(logits.dtype)
    if replace:
        logits_shape = list(shape[len(shape) - len(batch_shape):])
        logits_shape.insert(axis, logits.shape[axis])
        noise = gumbel_draw(key, prefix + tuple(logits_shape), dtype, mode)
        expanded = lax.expand_dims(logits, tuple(range(len(prefix)))) if prefix else logits
        return fnp.argmax(fnp.add(noise, expanded), axis=axis + len(prefix))
    n_draws = math.prod(prefix)
    if n_draws > logits.shape[axis]:
        raise ValueError(f"Number of samples without replacement ({n_draws}) cannot exceed "
                         f"number of categories ({logits.shape[axis]}).")
    noise = gumbel_draw(key, tuple(logits.shape), dtype, mode)
    _, idx = _top_k(lax.add(logits, noise), n_draws, axis=axis)
    idx = fnp.moveaxis(idx, axis, 0)
    return lax.reshape(idx, prefix + batch_shape)


# ---------------------------------------------------------------------------
# permutations and choice


def _shuffle_rounds(size: int) -> int:
    # enough rounds of random sort keys that a key collision is unlikely (3 sigma-ish)
    return int(np.ceil(3 * np.log(max(1, size)) / np.log(np.iinfo(np.uint32).max)))


@static_jit(2)
def _shuffle(key, x, axis):
    for _ in range(_shuffle_rounds(x.size)):
        keys = split_keys(key, 2)
        key, subkey = key_index(keys, 0), key_index(keys, 1)
        sort_keys = random_bits(subkey, 32, tuple(x.shape))
        _, x = lax_ext.sort_key_val(sort_keys, x, axis)
    return x


def _concrete_int(name: str, x) -> int:
    try:
        return int(core.concrete_or_error(
            x, f"the integer argument of {name}",
            f"{name} needs a static integer here: pass a Python int, not a traced value."))
    except TypeError:
        raise


def permutation(key, x, axis=0, independent=False, *, out_sharding=None):
    """A random permutation of ``range(x)`` (int ``x``) or of ``x`` along ``axis``.

    Args:
      x: an int, or an array (at least 1-d).
      axis: the axis to permute.
      independent: permute each slice along ``axis`` independently.

    Example:
      >>> fx.random.permutation(fx.random.key(0), 5)  # doctest: +SKIP
    """
    key = single_key("permutation", key)
    if np.ndim(x) == 0 and not hasattr(x, "shape") or (hasattr(x, "shape") and x.shape == ()):
        if not dtypes.is_integer(np.asarray(x).dtype if not hasattr(x, "dtype") else x.dtype):
            raise TypeError(f"x must be an integer or at least 1-dimensional, got {x!r}")
        n = _concrete_int("permutation", x)
        return _shuffle(key, fnp.arange(n), 0)
    x = _asarray(x)
    axis = _canonical_axis("permutation", axis, x.ndim)
    if independent or x.ndim == 1:
        return _shuffle(key, x, axis)
    ind = _shuffle(key, fnp.arange(x.shape[axis]), 0)
    return fnp.take(x, ind, axis, unique_indices=True)


def choice(key, a, shape=(), replace=True, p=None, axis=0, mode=None):
    """Random samples from ``range(a)`` (int ``a``) or from ``a`` along ``axis``.

    Args:
      a: an int, or an array to sample slices of.
      shape: the shape of the sample.
      replace: sample with (default) or without replacement.
      p: probabilities of each entry (default uniform).
      axis: the axis of ``a`` to sample along.
      mode: the gumbel mode used when ``p`` is given and ``replace`` is False.

    Example:
      >>> fx.random.choice(fx.random.key(0), 5, (3,), replace=False)  # doctest: +SKIP
    """
    key = single_key("choice", key)
    shape = canonical_shape(shape)
    a_is_int = np.ndim(a) == 0
    if a_is_int:
        n_inputs = _concrete_int("choice", a)
        arr = None
    else:
        arr = _asarray(a)
        if arr.ndim < 1:
            raise ValueError("a must be an integer or at least one-dimensional")
        axis = _canonical_axis("choice", axis, arr.ndim)
        n_inputs = arr.shape[axis]
    n_draws = math.prod(shape)
    if n_draws == 0:
        return fnp.zeros(shape, dtype=dtypes.default_int_dtype() if a_is_int else arr.dtype)
    if n_inputs <= 0:
        raise ValueError("a must be greater than 0 unless no samples are taken")
    if not replace and n_draws > n_inputs:
        raise ValueError(f"Cannot take a larger sample (size {n_draws}) than population "
                         f"(size {n_inputs}) when 'replace=False'")
    if p is None:
        if replace:
            ind = randint(key, shape, 0, n_inputs)
            result = ind if a_is_int else fnp.take(arr, ind, axis)
        else:
            perm = permutation(key, n_inputs if a_is_int else arr, axis)
            result = lax_ext_slice(perm, axis if not a_is_int else 0, n_draws)
    else:
        p = _asarray(p)
        if p.shape != (n_inputs,):
            raise ValueError(f"p must be None or a 1D vector with the same size as a.shape"
                             f"[axis], got p.shape={p.shape} for {n_inputs} entries")
        if not dtypes.is_float(p.dtype):
            p = lax.convert_element_type(p, dtypes.default_float_dtype())
        if replace:
            p_cuml = fnp.cumsum(p)
            total = lax.squeeze(lax_ext_slice(p_cuml, 0, n_inputs, n_inputs - 1), (0,))
            u = uniform_jit(key, shape, p_cuml.dtype, 0.0, 1.0)
            r = lax.mul(total, lax.sub(const(1.0, p_cuml.dtype), u))
            ind = lax.convert_element_type(fnp.searchsorted(p_cuml, r),
                                           dtypes.default_int_dtype())
        else:
            g = lax.add(gumbel_draw(key, (n_inputs,), np.dtype(p.dtype), _gumbel_mode(mode)),
                        lax.log(p))
            ind = lax.convert_element_type(_top_k(g, n_draws)[1],
                                           dtypes.default_int_dtype())
        result = ind if a_is_int else fnp.take(arr, ind, axis)
    if a_is_int or arr.ndim == 1:
        return lax.reshape(result, shape)
    return lax.reshape(result, arr.shape[:axis] + shape + arr.shape[axis + 1:])


def _top_k(x, k, axis=-1):
    from fx import lax as fx_lax
    return fx_lax.top_k(x, k, axis=axis)


def lax_ext_slice(x, axis: int, stop: int, start: int = 0):
    from fx.lax import _slicing
    return _slicing.slice_in_dim(x, start, stop, axis=axis)


# ---------------------------------------------------------------------------
# geometric and poisson


@static_jit(2, 3)
def _geometric(key, p, shape, dtype):
    p = lax.convert_element_type(p, np.dtype(p.dtype))
    u = uniform_jit(key, shape, np.dtype(p.dtype), 0.0, 1.0)
    u = fnp.where(lax.eq(u, const(0.0, u.dtype)), 1, u)
    log_one_minus_p = fnp.broadcast_to(lax.log1p(lax.neg(p)), shape)
    draws = lax.add(lax.floor(lax.div(lax.log(u), log_one_minus_p)), const(1.0, u.dtype))
    return lax.convert_element_type(draws, dtype)


def geometric(key, p, shape=None, dtype=None, *, out_sharding=None):
    """Geometric random integers: the number of Bernoulli(p) trials up to the first success.

    Example:
      >>> fx.random.geometric(fx.random.key(0), 0.3, (4,))  # doctest: +SKIP
    """
    key = single_key("geometric", key)
    dtype = int_dtype("geometric", dtype)
    p = _asarray(p)
    if not dtypes.is_float(p.dtype):
        p = lax.convert_element_type(p, dtypes.default_float_dtype())
    shape = shape_or_broadcast("geometric", shape, p)
    return _geometric(key, p, shape, dtype)


def _poisson_knuth(key, lam, shape, dtype):
    max_iters = const(np.iinfo(dtype).max, dtype)
    # multiply uniforms until the product drops below exp(-lam)
    def body(carry):
        i, k, rng, log_prod = carry
        keys = split_keys(rng, 2)
        rng, subkey = key_index(keys, 0), key_index(keys, 1)
        k = lax.select(lax.gt(log_prod, lax.neg(lam)), lax.add(k, const(1, dtype)), k)
        u = uniform_jit(subkey, shape, np.dtype(np.float32), 0.0, 1.0)
        return lax.add(i, 1), k, rng, lax.add(log_prod, lax.log(u))

    def cond(carry):
        i, log_prod = carry[0], carry[3]
        return lax.bitwise_and(fnp.any(lax.gt(log_prod, lax.neg(lam))),
                               lax.lt(lax.convert_element_type(i, dtype), max_iters))

    k0 = lax.full(shape, 0, dtype)
    log_prod0 = lax.full(shape, 0, np.float32)
    k = cf.while_loop(cond, body, (0, k0, key, log_prod0))[1]
    return lax.sub(k, const(1, dtype))


_poisson_knuth_jit = static_jit(2, 3)(_poisson_knuth)


def _poisson_rejection(key, lam, shape, dtype):
    max_iters = const(np.iinfo(dtype).max, dtype)
    # transformed rejection (Hormann 1993, "PTRS")
    f = np.dtype(lam.dtype)
    log_lam = lax.log(lam)
    b = lax.add(const(0.931, f), lax.mul(const(2.53, f), lax.sqrt(lam)))
    a = lax.add(const(-0.059, f), lax.mul(const(0.02483, f), b))
    inv_alpha = lax.add(const(1.1239, f), lax.div(const(1.1328, f), lax.sub(b, const(3.4, f))))
    v_r = lax.sub(const(0.9277, f), lax.div(const(3.6224, f), lax.sub(b, const(2.0, f))))

    def body(carry):
        i, k_out, accepted, rng = carry
        keys = split_keys(rng, 3)
        rng, key0, key1 = key_index(keys, 0), key_index(keys, 1), key_index(keys, 2)
        u = lax.sub(uniform_jit(key0, shape, f, 0.0, 1.0), const(0.5, f))
        v = uniform_jit(key1, shape, f, 0.0, 1.0)
        u_shifted = lax.sub(const(0.5, f), lax.abs(u))
        k = lax.floor(lax.add(lax.add(lax.mul(lax.add(lax.div(lax.mul(const(2.0, f), a),
                                                              u_shifted), b), u), lam),
                              const(0.43, f)))
        s = lax.log(lax.div(lax.mul(v, inv_alpha),
                            lax.add(lax.div(a, lax.mul(u_shifted, u_shifted)), b)))
        t = lax.sub(lax.add(lax.neg(lam), lax.mul(k, log_lam)),
                    lax.lgamma(lax.add(k, const(1.0, f))))
        accept1 = lax.bitwise_and(lax.ge(u_shifted, const(0.07, f)), lax.le(v, v_r))
        reject = lax.bitwise_or(lax.lt(k, const(0.0, f)),
                                lax.bitwise_and(lax.lt(u_shifted, const(0.013, f)),
                                                lax.gt(v, u_shifted)))
        accept2 = lax.le(s, t)
        accept = lax.bitwise_or(accept1, lax.bitwise_and(lax.bitwise_not(reject), accept2))
        k_out = lax.select(accept, k, k_out)
        return lax.add(i, 1), k_out, lax.bitwise_or(accepted, accept), rng

    def cond(carry):
        i, _, accepted, _ = carry
        return lax.bitwise_and(fnp.any(lax.bitwise_not(accepted)),
                               lax.lt(lax.convert_element_type(i, dtype), max_iters))

    k0 = lax.full(shape, -1, f)
    accepted0 = lax.full(shape, False, np.bool_)
    k = cf.while_loop(cond, body, (0, k0, accepted0, key))[1]
    return lax.convert_element_type(k, dtype)


_poisson_rejection_jit = static_jit(2, 3)(_poisson_rejection)


@static_jit(2, 3)
def _poisson(key, lam, shape, dtype):
    # Knuth's product of uniforms for small rates, transformed rejection for large ones
    f = np.dtype(lam.dtype)
    use_knuth = lax.bitwise_or(lax.ne(lam, lam), lax.lt(lam, const(10.0, f)))
    lam_knuth = lax.select(use_knuth, lam, lax.full_like(lam, 0.0))
    lam_rejection = lax.select(use_knuth, lax.full_like(lam, 1e5), lam)
    result = lax.select(use_knuth,
                        _poisson_knuth_jit(key, lam_knuth, shape, dtype),
                        _poisson_rejection_jit(key, lam_rejection, shape, dtype))
    return lax.select(lax.eq(lam, const(0.0, f)), lax.full_like(result, 0), result)


def poisson(key, lam, shape=None, dtype=None, *, out_sharding=None):
    """Poisson random integers with rate ``lam``.

    Args:
      lam: rates (broadcast to ``shape``).
      shape: result shape (default ``lam.shape``).
      dtype: an integer dtype (default int32, int64 under x64).

    Example:
      >>> fx.random.poisson(fx.random.key(0), 3.0, (4,))  # doctest: +SKIP
    """
    key = single_key("poisson", key)
    dtype = int_dtype("poisson", dtype)
    lam = _asarray(lam)
    shape = shape_or_broadcast("poisson", shape, lam)
    lam = fnp.broadcast_to(lax.convert_element_type(lam, np.float32), shape)
    return _poisson(key, lam, shape, dtype)
