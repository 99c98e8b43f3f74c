"""The float32 ``random_gamma`` sampler in NumPy, rounding every operation as JAX's
program does once XLA's CPU backend has compiled it, so gamma draws (and loggamma,
beta, dirichlet, chisquare, t, f, generalized_normal and ball, built on them) are
bit-identical to JAX's.

The algorithm is Marsaglia and Tsang's ("A simple method for generating gamma
variables", 2000), with JAX's consumption of keys: each element's key is split into
(loop key, boost key); each proposal splits the loop key into (next loop key, normal
key, uniform key) and draws normals from the normal key (split again per retry) until
``v = 1 + x c > 0``. ``alpha < 1`` is boosted to ``alpha + 1`` and scaled by
``U ** (1 / alpha)`` (in log space: plus ``log1p(-U) / alpha``).

What XLA makes of JAX's operations (read from the optimized HLO of
``jax.jit(jax.random.gamma)`` and confirmed draw for draw):
- ``c = (1/3) / sqrt(d)`` becomes ``(1/3) * rsqrt(d)``, and XLA's float32 rsqrt is the
  processor's estimate refined by one Newton step (``xla_math.rsqrt_f32``);
- ``v = 1 + x * c`` is one fused multiply-add; so is the squeeze bound
  ``1 - 0.0331 * (X * X)``; the other comparison's ``X * 0.5 + d * t`` has an exact
  product (a halving), so fusing it changes nothing;
- ``log`` is XLA's (``xla_math.log_f32``), ``pow`` the C library's ``powf``,
  ``log1p`` XLA's; ``-(-log1p(-u))`` is simplified to ``log1p(-u)``.

Invariants: float32 in, float32 out; keys are raw ``uint32 [..., 2]`` whose shape is a
prefix of ``a``'s (as the primitive requires); only NumPy and the native kernels of
``lowering.cpu.xla_float32`` run, so eager and compiled calls (the compiler runs this
primitive's impl) give the same bits.
"""
from __future__ import annotations

import math

import numpy as np

from fx._random.xla_math import (erf_inv_f32, fma32, log1p_f32, log_f32, pow_f32,
                                 rsqrt_f32)
from primitives.random import threefry_2x32

__all__ = ["gamma_f32"]

_F32 = np.float32
_U32 = np.uint32
_THIRD = _F32(1.0 / 3.0)
_SQRT2 = _F32(math.sqrt(2.0))
_NORMAL_LOW = np.nextafter(_F32(-1.0), _F32(0.0))


def _split(keys: np.ndarray, num: int) -> np.ndarray:
    """``random_split`` of raw keys ``[n, 2]`` into ``[n, num, 2]``."""
    n = keys.shape[0]
    counters = np.broadcast_to(np.arange(num, dtype=_U32), (n, num))
    b0, b1 = threefry_2x32(keys[:, :1], keys[:, 1:], np.zeros((n, num), _U32), counters)
    return np.stack([b0, b1], axis=-1)


def _unit_uniform(keys: np.ndarray) -> np.ndarray:
    """One uniform float32 in [0, 1) per key (``uniform(key, ())``)."""
    zero = np.zeros(keys.shape[0], _U32)
    b0, b1 = threefry_2x32(keys[:, 0], keys[:, 1], zero, zero)
    mantissa = ((b0 ^ b1) >> _U32(9)) | _U32(0x3F800000)
    return np.maximum(_F32(0), mantissa.view(_F32) - _F32(1))


def _normal(keys: np.ndarray) -> np.ndarray:
    """One standard normal float32 per key (``normal(key, ())``): sqrt(2) erf_inv(u)
    with u uniform in [-1 + 2**-24, 1) (its product ``f * 2`` is exact)."""
    u = np.maximum(_NORMAL_LOW, _unit_uniform(keys) * _F32(2) + _NORMAL_LOW)
    return _SQRT2 * erf_inv_f32(u)


def _accept(x_sq, v_cubed, u, d):
    """Marsaglia-Tsang's acceptance test (True: keep proposing)."""
    squeeze = u >= fma32(-(x_sq * x_sq), _F32(0.0331), _F32(1))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (_F32(1) - v_cubed) + log_f32(v_cubed)
        exact = log_f32(u) >= x_sq * _F32(0.5) + d * t
    return squeeze & exact


def _proposals(keys, d, c):
    """Marsaglia-Tsang's loop for every element: returns the accepted ``v**3``."""
    n = d.shape[0]
    pair = _split(keys, 2)
    loop_key = pair[:, 0].copy()
    x_sq = np.zeros(n, _F32)
    v_cubed = np.ones(n, _F32)
    u = np.full(n, _F32(2))
    pending = _accept(x_sq, v_cubed, u, d)
    while pending.any():
        idx = np.flatnonzero(pending)
        three = _split(loop_key[idx], 3)
        loop_key[idx] = three[:, 0]
        x, v = _positive_v(three[:, 1], c[idx])
        x_sq[idx] = x * x
        v_cubed[idx] = (v * v) * v
        u[idx] = _unit_uniform(three[:, 2])
        pending[idx] = _accept(x_sq[idx], v_cubed[idx], u[idx], d[idx])
    return pair[:, 1], v_cubed


def _positive_v(keys, c):
    """Normal draws ``x`` (a fresh split per retry) until ``v = 1 + x c > 0``."""
    keys = keys.copy()
    x = np.zeros(keys.shape[0], _F32)
    v = np.full(keys.shape[0], _F32(-1))
    retry = v <= 0
    while retry.any():
        idx = np.flatnonzero(retry)
        pair = _split(keys[idx], 2)
        keys[idx] = pair[:, 0]
        x[idx] = _normal(pair[:, 1])
        v[idx] = fma32(x[idx], c[idx], _F32(1))
        retry[idx] = v[idx] <= 0
    return x, v


def gamma_f32(keys: np.ndarray, a: np.ndarray, log_space: bool) -> np.ndarray:
    """``random_gamma`` of float32 shape parameters ``a`` under raw keys ``keys``
    (``keys.shape[:-1]`` a prefix of ``a.shape``): Gamma(a, 1) draws, or their logs
    when ``log_space``, bit for bit as JAX draws them on XLA's CPU backend.

    Example: ``gamma_f32(np.zeros((2,), np.uint32), np.float32([2.5]), False)``.
    """
    a = np.asarray(a, _F32)
    keys = np.asarray(keys, _U32)
    key_shape = keys.shape[:-1]
    per_key = math.prod(a.shape[len(key_shape):])
    flat = keys.reshape(-1, 2)
    element_keys = _split(flat, per_key).reshape(-1, 2)
    alpha = a.reshape(-1)
    if alpha.size == 0:
        return np.zeros(a.shape, _F32)
    boost = alpha >= _F32(1)
    with np.errstate(invalid="ignore"):
        d = np.where(boost, alpha, alpha + _F32(1)) + _F32(-_THIRD)
        c = _THIRD * rsqrt_f32(d)
    boost_key, v_cubed = _proposals(element_keys, d, c)
    u = _unit_uniform(boost_key)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inverse = _F32(1) / alpha
        if log_space:
            log_u = log1p_f32(-u)
            log_boost = np.where(boost | (log_u == 0), _F32(0), log_u * inverse)
            out = (log_f32(d) + log_f32(v_cubed)) + log_boost
        else:
            out = (d * v_cubed) * np.where(boost, _F32(1), pow_f32(_F32(1) - u, inverse))
    return out.astype(_F32).reshape(a.shape)
