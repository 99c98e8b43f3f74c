"""The gamma family: gamma, loggamma, beta, dirichlet, chisquare, t, f,
generalized_normal and ball, and the sampler behind the ``random_gamma``
primitive.

Invariants: ``random_gamma`` splits each key into one subkey per element of its
shape parameter and runs Marsaglia and Tsang's rejection loop once per element
(vectorised with ``vmap``), consuming keys exactly as JAX does. Samples are
differentiable in ``a`` through the primitive's jvp rule, which uses the
implicit derivative ``random_gamma_grad`` (the CDF held fixed). dirichlet is JAX's
program (``jit[_dirichlet]``: ``jit[_gamma]`` in log space, then a softmax), so it
prints, differentiates and batches as JAX's does; compiled (eagerly too, since the
samplers are jitted), ``lowering.dirichlet_rewrite`` computes the softmax of log-gamma
draws as XLA does at float16, bfloat16, float32 and float64 (bit-identical to JAX); the
reference interpreter (``FX_COMPILER=0``, ``disable_jit``) evaluates the composite with
NumPy's ``exp`` and sums, a few ulps from JAX's. ball and f at 16-bit floats follow XLA's
roundings there (``_ball_half``, ``_bf16_ratio``).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from fx import core, dtypes
from fx import numpy as fnp
from fx.api import vmap
from fx.array import Array
from fx.interpreters.jit import jit
from fx.lax import _control_flow as cf
from fx.lax import _lax as lax
from fx._random.common import (as_float, const, float_dtype, key_index, normal_draw,
                               shape_or_broadcast, single_key, split_keys, static_jit,
                               uniform_jit, xla_sum_last)
from fx._random.continuous import _exponential
from fx._random.gamma_xla import gamma_f32
from fx._random.gamma_xla64 import gamma_f16, gamma_f64
from fx._random.keys import PRNGKeyArray, canonical_shape
from fx._random.lax_ext import random_gamma_grad  # noqa: F401  (re-exported)
from primitives import reductions as P
from primitives.random import random_gamma_p, random_split_p

__all__ = ["gamma", "loggamma", "beta", "dirichlet", "chisquare", "t", "f",
           "generalized_normal", "ball", "random_gamma_grad"]


# ---------------------------------------------------------------------------
# the sampler: one element


def _gamma_one(key_data, alpha, log_space: bool):
    """One Gamma(alpha, 1) draw (its log when ``log_space``) from one raw key."""
    dtype = np.dtype(alpha.dtype)
    zero, one = const(0.0, dtype), const(1.0, dtype)
    third = const(1.0 / 3.0, dtype)
    key = PRNGKeyArray(key_data)
    # alpha < 1: draw Gamma(alpha + 1) and scale by U ** (1 / alpha)
    boost_mask = lax.ge(alpha, one)
    alpha_orig = alpha
    alpha = lax.select(boost_mask, alpha, lax.add(alpha, one))
    d = lax.sub(alpha, third)
    c = lax.div(third, lax.sqrt(d))

    def accept_pending(state):
        _, x_sq, v, u = state
        squeeze = lax.ge(u, lax.sub(one, lax.mul(const(0.0331, dtype), lax.mul(x_sq, x_sq))))
        exact = lax.ge(lax.log(u), lax.add(lax.mul(x_sq, const(0.5, dtype)),
                                           lax.mul(d, lax.add(lax.sub(one, v), lax.log(v)))))
        return lax.bitwise_and(squeeze, exact)

    def propose(state):
        keys = split_keys(state[0], 3)
        rng, x_key, u_key = key_index(keys, 0), key_index(keys, 1), key_index(keys, 2)

        def next_normal(kxv):
            sub = split_keys(kxv[0], 2)
            x = normal_draw(key_index(sub, 1), (), dtype)
            return key_index(sub, 0), x, lax.add(one, lax.mul(x, c))

        _, x, v = cf.while_loop(lambda kxv: lax.le(kxv[2], zero), next_normal,
                                (x_key, zero, const(-1.0, dtype)))
        u = uniform_jit(u_key, (), dtype, 0.0, 1.0)
        return rng, lax.mul(x, x), lax.mul(lax.mul(v, v), v), u

    keys = split_keys(key, 2)
    key, subkey = key_index(keys, 0), key_index(keys, 1)
    _, _, v, _ = cf.while_loop(accept_pending, propose, (key, zero, one, const(2.0, dtype)))
    if log_space:
        log_u = lax.neg(_exponential(subkey, (), dtype))
        log_boost = lax.select(lax.bitwise_or(boost_mask, lax.eq(log_u, zero)), zero,
                               lax.mul(log_u, lax.div(one, alpha_orig)))
        return lax.add(lax.add(lax.log(d), lax.log(v)), log_boost)
    u = lax.sub(one, uniform_jit(subkey, (), dtype, 0.0, 1.0))
    boost = lax.select(boost_mask, one, lax.pow(u, lax.div(one, alpha_orig)))
    return lax.mul(lax.mul(d, v), boost)


@functools.partial(jit, static_argnums=2)
def _gamma_sampler_jit(keys, a, log_space):
    key_shape, a_shape = keys.shape[:-1], a.shape
    per_key = math.prod(a_shape[len(key_shape):])
    flat_keys = lax.reshape(keys, (math.prod(key_shape), 2))
    sub = random_split_p.bind(flat_keys, shape=(per_key,))
    sub = lax.reshape(sub, (math.prod(a_shape), 2))
    alphas = lax.reshape(a, (math.prod(a_shape),))
    draws = vmap(functools.partial(_gamma_one, log_space=log_space))(sub, alphas)
    return lax.reshape(draws, a_shape)


def _gamma_sampler(keys, a, *, log_space):
    """Eager sampler for ``random_gamma`` on NumPy key data and shape parameters:
    float32, float64 and float16 by ``gamma_xla.gamma_f32`` and ``gamma_xla64.gamma_f64``
    / ``gamma_f16`` (XLA's roundings, JAX's draws bit for bit), bfloat16 by the fx
    program ``_gamma_one`` (XLA rounds each bfloat16 operation as NumPy does)."""
    a = np.asarray(a)
    if a.size == 0:
        return np.zeros(a.shape, a.dtype)
    if a.dtype == np.float32:
        return gamma_f32(keys, a, log_space)
    if a.dtype == np.float64:
        return gamma_f64(keys, a, log_space)
    if a.dtype == np.float16:
        return gamma_f16(keys, a, log_space)
    with core.set_current_trace(core.eval_trace):
        out = _gamma_sampler_jit(Array(np.asarray(keys, np.uint32)), Array(a), log_space)
    return np.asarray(out._value)


random_gamma_p.sampler = _gamma_sampler


# ---------------------------------------------------------------------------
# gamma and log-gamma


@static_jit(2, 3, 4)
def _gamma(key, a, shape, dtype, log_space):
    a = fnp.broadcast_to(as_float(a, dtype), shape)
    return random_gamma_p.bind(key._base_array, a, log_space=log_space)


def _gamma_args(name, key, a, shape, dtype):
    key = single_key(name, key)
    dtype = float_dtype(name, dtype)
    shape = shape_or_broadcast(name, shape, a)
    return key, shape, dtype


def gamma(key, a, shape=None, dtype=None, *, out_sharding=None):
    """Gamma random values with shape ``a`` and scale 1, differentiable in ``a``.

    Args:
      a: shape parameters (> 0), broadcast to ``shape``.
      shape: result shape (default ``a.shape``).

    Example:
      >>> fx.random.gamma(fx.random.key(0), 2.0, (3,))  # doctest: +SKIP
    """
    key, shape, dtype = _gamma_args("gamma", key, a, shape, dtype)
    return _gamma(key, a, shape, dtype, False)


def loggamma(key, a, shape=None, dtype=None, *, out_sharding=None):
    """The logarithm of gamma random values, accurate for tiny ``a`` (no underflow).

    Example:
      >>> fx.random.loggamma(fx.random.key(0), 0.01, (3,))  # doctest: +SKIP
    """
    key, shape, dtype = _gamma_args("loggamma", key, a, shape, dtype)
    return _gamma(key, a, shape, dtype, True)


@static_jit(3, 4)
def _beta(key, a, b, shape, dtype):
    a, b = as_float(a, dtype), as_float(b, dtype)
    keys = split_keys(key, 2)
    log_a = _gamma(key_index(keys, 0), fnp.broadcast_to(a, shape), shape, dtype, True)
    log_b = _gamma(key_index(keys, 1), fnp.broadcast_to(b, shape), shape, dtype, True)
    # normalise in log space so tiny a, b do not underflow to 0 / 0
    log_max = lax.max(log_a, log_b)
    ga = lax.exp(lax.sub(log_a, log_max))
    gb = lax.exp(lax.sub(log_b, log_max))
    return lax.div(ga, lax.add(ga, gb))


def beta(key, a, b, shape=None, dtype=None, *, out_sharding=None):
    """Beta random values with parameters ``a`` and ``b``.

    Example:
      >>> fx.random.beta(fx.random.key(0), 2.0, 3.0, (3,))  # doctest: +SKIP
    """
    key = single_key("beta", key)
    dtype = float_dtype("beta", dtype)
    shape = shape_or_broadcast("beta", shape, a, b)
    return _beta(key, a, b, shape, dtype)


def _softmax(x, axis: int):
    """JAX's dirichlet softmax, equation for equation: ``e / e.sum(axis, keepdims=True)``
    with ``e = exp(x - stop_gradient(x.max(axis, keepdims=True)))``. (JAX 0.10 lets
    ``sub``/``div`` broadcast the kept size-1 axis; fx's binary primitives need equal
    shapes, so one ``broadcast_in_dim`` to the full shape precedes each.)

    float16 and bfloat16 sum in float32 (``convert_element_type`` there and back), as
    ``jnp.sum`` does in JAX's softmax.

    ``lowering.dirichlet_rewrite`` recognises this chain after ``random_gamma`` and
    computes it as XLA does (``gamma_xla.dirichlet_f32``, ``gamma_xla64.dirichlet_f64``,
    ``gamma_half.dirichlet_half``)."""
    dtype = x.dtype
    shape = tuple(x.shape)
    axis = axis % len(shape)
    kept = shape[:axis] + (1,) + shape[axis + 1:]
    others = tuple(d for d in range(len(shape)) if d != axis)
    every = tuple(range(len(shape)))
    top = P.reduce_max_p.bind(x, axes=(axis,))
    top = lax.max(const(-np.inf, dtype), top)
    top = lax.stop_gradient(lax.broadcast_in_dim(top, kept, others))
    unnormalized = lax.exp(lax.sub(x, lax.broadcast_in_dim(top, shape, every)))
    half = dtype.itemsize == 2
    # 16-bit floats sum in float32, as jnp.sum does: convert, reduce_sum, convert back
    summed = lax.convert_element_type(unnormalized, np.float32) if half else unnormalized
    total = P.reduce_sum_p.bind(summed, axes=(axis,), out_sharding=None)
    total = lax.broadcast_in_dim(total, kept, others)
    if half:
        total = lax.convert_element_type(total, dtype)
    return lax.div(unnormalized, lax.broadcast_in_dim(total, shape, every))


@static_jit(2, 3)
def _dirichlet(key, alpha, shape, dtype):
    alpha = as_float(alpha, dtype)
    log_gamma = _gamma(key, alpha, shape + alpha.shape[-1:], dtype, True)
    return _softmax(log_gamma, -1)


def dirichlet(key, alpha, shape=None, dtype=None, *, out_sharding=None):
    """Dirichlet random vectors with concentrations ``alpha`` (last axis).

    Args:
      alpha: concentrations, shape ``(..., k)``.
      shape: batch shape (default ``alpha.shape[:-1]``).

    Returns:
      An array of shape ``shape + (k,)`` whose rows sum to 1.

    Example:
      >>> fx.random.dirichlet(fx.random.key(0), fx.numpy.ones(3))  # doctest: +SKIP
    """
    key = single_key("dirichlet", key)
    dtype = float_dtype("dirichlet", dtype)
    alpha_shape = np.shape(alpha) if not hasattr(alpha, "shape") else tuple(alpha.shape)
    if len(alpha_shape) < 1:
        raise ValueError(f"dirichlet requires alpha.ndim >= 1, got alpha.ndim == "
                         f"{len(alpha_shape)}")
    if shape is None:
        shape = alpha_shape[:-1]
    else:
        shape = canonical_shape(shape)
        try:
            ok = np.broadcast_shapes(shape, alpha_shape[:-1]) == shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"dirichlet parameter shapes must be broadcast-compatible with "
                             f"shape argument, got alpha batch shape {alpha_shape[:-1]} for "
                             f"shape {shape}")
    return _dirichlet(key, alpha, shape, dtype)


def _half_chisquare(key, df, shape, dtype):
    """Gamma(df / 2) draws, as ``exp`` of log-space draws (chisquare's, halved)."""
    half = lax.div(as_float(df, dtype), const(2.0, dtype))
    return lax.exp(_gamma(key, fnp.broadcast_to(half, shape), shape, dtype, True))


@static_jit(2, 3)
def _chisquare(key, df, shape, dtype):
    return lax.mul(_half_chisquare(key, df, shape, dtype), const(2.0, dtype))


def chisquare(key, df, shape=None, dtype=None, *, out_sharding=None):
    """Chi-square random values with ``df`` degrees of freedom.

    Example:
      >>> fx.random.chisquare(fx.random.key(0), 3.0, (3,))  # doctest: +SKIP
    """
    key = single_key("chisquare", key)
    dtype = float_dtype("chisquare", dtype)
    shape = shape_or_broadcast("chisquare", shape, df)
    return _chisquare(key, df, shape, dtype)


def _bf16_ratio(chi2, df, shape):
    """bfloat16 ``chi2 / df`` as XLA computes it in JAX's ``f``: a division by a broadcast
    ``df`` becomes a multiplication by its float32 reciprocal (not rounded to bfloat16),
    the product rounded once; a ``df`` of the full shape divides."""
    if tuple(df.shape) == tuple(shape):
        return lax.div(chi2, df)
    f32 = np.dtype(np.float32)
    reciprocal = lax.div(const(1.0, f32), lax.convert_element_type(df, f32))
    product = lax.mul(lax.convert_element_type(chi2, f32),
                      fnp.broadcast_to(reciprocal, shape))
    return lax.convert_element_type(product, chi2.dtype)


@static_jit(3, 4)
def _f(key, dfnum, dfden, shape, dtype):
    dfden, dfnum = as_float(dfden, dtype), as_float(dfnum, dtype)
    keys = split_keys(key, 2)
    # (2 g_num / dfnum) / (2 g_den / dfden), rounded as XLA rewrites it (_f_ratio)
    g_num = _half_chisquare(key_index(keys, 1), dfnum, shape, dtype)
    g_den = _half_chisquare(key_index(keys, 0), dfden, shape, dtype)
    two = const(2.0, dtype)
    if dtype == dtypes.bfloat16:
        return lax.div(_bf16_ratio(lax.mul(g_num, two), dfnum, shape),
                       _bf16_ratio(lax.mul(g_den, two), dfden, shape))
    return _f_ratio(lax.mul(g_num, two), dfnum, lax.mul(g_den, two), dfden, shape)


def _f_ratio(chi2_num, dfnum, chi2_den, dfden, shape):
    """JAX's ``(chi2_num / dfnum) / (chi2_den / dfden)`` rounded as XLA's CPU compiler
    computes it (float16, float32, float64; read off jax.jit's results). A ``df`` that
    broadcasts a non-scalar (a size-1 dim, say) is divided by first, as a multiplication
    by its reciprocal (``lowering.div_rewrite``'s rule); then XLA merges the divisions
    left: ``(A / B) / (C / D) -> (A * D) / (B * C)``, ``A / (C / D) -> (A * D) / C``,
    ``(A / B) / C -> A / (B * C)``. A scalar or full-shape ``df`` takes part in the merge.
    """
    def partial(df):
        return df.shape != () and tuple(df.shape) != tuple(shape)

    def times_reciprocal(chi2, df):
        reciprocal = lax.div(const(1.0, df.dtype), df)
        return lax.mul(chi2, fnp.broadcast_to(reciprocal, shape))

    if partial(dfnum) and partial(dfden):
        return lax.div(times_reciprocal(chi2_num, dfnum), times_reciprocal(chi2_den, dfden))
    if partial(dfnum):
        return lax.div(lax.mul(times_reciprocal(chi2_num, dfnum), dfden), chi2_den)
    if partial(dfden):
        return lax.div(chi2_num, lax.mul(dfnum, times_reciprocal(chi2_den, dfden)))
    return lax.div(lax.mul(chi2_num, dfden), lax.mul(chi2_den, dfnum))


def f(key, dfnum, dfden, shape=None, dtype=None, *, out_sharding=None):
    """F-distributed random values with ``dfnum`` and ``dfden`` degrees of freedom.

    Example:
      >>> fx.random.f(fx.random.key(0), 3.0, 4.0, (3,))  # doctest: +SKIP
    """
    key = single_key("f", key)
    dtype = float_dtype("f", dtype)
    shape = shape_or_broadcast("f", shape, dfnum, dfden)
    return _f(key, dfnum, dfden, shape, dtype)


@static_jit(2, 3)
def _t(key, df, shape, dtype):
    df = as_float(df, dtype)
    keys = split_keys(key, 2)
    n = normal_draw(key_index(keys, 0), shape, dtype)
    half_df = lax.div(df, const(2.0, dtype))
    g = _gamma(key_index(keys, 1), fnp.broadcast_to(half_df, shape), shape, dtype, False)
    return lax.mul(n, lax.sqrt(lax.div(half_df, g)))


def t(key, df, shape=None, dtype=None, *, out_sharding=None):
    """Student's t random values with ``df`` degrees of freedom.

    Example:
      >>> fx.random.t(fx.random.key(0), 3.0, (3,))  # doctest: +SKIP
    """
    key = single_key("t", key)
    dtype = float_dtype("t", dtype)
    shape = shape_or_broadcast("t", shape, df)
    return _t(key, df, shape, dtype)


def _inverse(p):
    """``1 / p`` as a weakly typed float (as ``1 / p`` reads in JAX)."""
    p = p if dtypes.is_inexact(p.dtype) else lax._convert_element_type(
        p, dtypes.default_float_dtype(), weak_type=p.weak_type)
    return lax.div(const(1.0, p.dtype), p) if not p.weak_type else fnp.true_divide(1.0, p)


@static_jit(2, 3)
def _generalized_normal(key, p, shape, dtype):
    from fx._random.discrete import rademacher_draw
    keys = split_keys(key, 2)
    g = _gamma(key_index(keys, 0), fnp.broadcast_to(as_float(_inverse(p), dtype), shape),
               shape, dtype, False)
    r = rademacher_draw(key_index(keys, 1), shape, dtype)
    return lax.mul(r, lax.pow(g, as_float(_inverse(p), dtype)))


def generalized_normal(key, p, shape=(), dtype=None, *, out_sharding=None):
    """Generalized normal random values: density proportional to ``exp(-|x|**p)``.

    Example:
      >>> fx.random.generalized_normal(fx.random.key(0), 1.5, (3,))  # doctest: +SKIP
    """
    key = single_key("generalized_normal", key)
    dtype = float_dtype("generalized_normal", dtype)
    return _generalized_normal(key, p, canonical_shape(shape), dtype)


def _ball_half(g, e, p, dtype):
    """``g / ((|g|**p).sum(-1) + e) ** (1/p)`` for float16/bfloat16 ``g``, rounded as XLA's
    CPU backend rounds JAX's program (read from its optimized HLO):

    - the sum runs in float32 (``jnp.sum`` of a 16-bit float), in XLA's order (YNNPACK's
      from 4096 elements: exact for rows of up to 64 there); bfloat16's powers enter it
      unrounded (XLA drops the rounding pair bfloat16 -> float32);
    - ``d > 1``: the division by the broadcast scale becomes a multiplication: float16 by
      ``s ** -(1/p)``, bfloat16 by the float32 reciprocal ``1 / s ** (1/p)`` (the product
      rounded once);
    - ``d == 1``: no sum (XLA drops the size-1 reduction: the power rounded to ``dtype``)
      and a plain division.
    """
    f32 = np.dtype(np.float32)
    d = g.shape[-1]
    exponent = lax.convert_element_type(p, dtype)  # (an integer p too, as XLA converts it)
    inv_p = as_float(_inverse(p), dtype)
    if d == 1:
        powered = lax.pow(lax.abs(lax.squeeze(g, (len(g.shape) - 1,))), exponent)
        scale = lax.pow(lax.add(powered, e), inv_p)
        return lax.div(g, fnp.expand_dims(scale, -1))
    if dtype == np.float16:
        powered = lax.convert_element_type(lax.pow(lax.abs(g), exponent), f32)
    else:
        powered = lax.pow(lax.convert_element_type(lax.abs(g), f32),
                          lax.convert_element_type(exponent, f32))
    if math.prod(powered.shape) < 4096 and d > 32:  # XLA's windowed order (reduce_order.py)
        summed = P.reduce_sum_p.bind(powered, axes=(len(powered.shape) - 1,),
                                     out_sharding=None, order="xla_cpu")
    else:
        summed = xla_sum_last(powered)
    total = lax.add(lax.convert_element_type(summed, dtype), e)
    if dtype == np.float16:
        return lax.mul(g, fnp.expand_dims(lax.pow(total, lax.neg(inv_p)), -1))
    scale = lax.convert_element_type(lax.pow(total, inv_p), f32)
    reciprocal = lax.div(const(1.0, f32), scale)
    product = lax.mul(lax.convert_element_type(g, f32), fnp.expand_dims(reciprocal, -1))
    return lax.convert_element_type(product, dtype)


@static_jit(1, 3, 4)
def _ball(key, d, p, shape, dtype):
    keys = split_keys(key, 2)
    g = _generalized_normal(key_index(keys, 0), p, shape + (d,), dtype)
    e = _exponential(key_index(keys, 1), shape, dtype)
    if np.dtype(dtype).itemsize == 2:
        return _ball_half(g, e, p, dtype)
    powered = lax.pow(lax.abs(g), p if not dtypes.is_inexact(p.dtype) else as_float(p, dtype))
    # g / r ** (1/p), rounded as XLA rewrites it: g * r ** -(1/p)
    scale = lax.pow(lax.add(xla_sum_last(powered), e),
                    lax.neg(as_float(_inverse(p), dtype)))
    return fnp.multiply(g, fnp.expand_dims(scale, -1))


def ball(key, d, p=2, shape=(), dtype=None, *, out_sharding=None):
    """Points uniform in the unit ``p``-norm ball of dimension ``d``.

    Returns:
      An array of shape ``shape + (d,)``.

    Example:
      >>> fx.random.ball(fx.random.key(0), 3, shape=(2,))  # doctest: +SKIP
    """
    key = single_key("ball", key)
    dtype = float_dtype("ball", dtype)
    d = int(core.concrete_or_error(d, "the dimension d of ball", "pass a Python int"))
    if d < 1:
        raise ValueError(f"ball requires d >= 1, got d={d}")
    return _ball(key, d, p, canonical_shape(shape), dtype)
