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

``dirichlet_f32`` is JAX's dirichlet (a softmax of log-space draws) for float32, whole:
XLA recomputes each log-gamma draw inside the softmax fusions, with roundings that need
``d`` and ``v**3`` apart (see its docstring), so it is the impl of the lowering-internal
``random_dirichlet`` equation that ``lowering.dirichlet_rewrite`` puts in place of JAX's
softmax of ``random_gamma`` draws, rather than ``random_gamma``'s.

Invariants: float32 in, float32 out; keys are raw ``uint32 [..., 2]`` whose shape is a
prefix of ``a``'s (as the primitive requires); only NumPy, the native kernels of
``lowering.cpu.xla_float32`` and the C library's ``logf`` run, so eager and compiled
calls (the compiler runs the primitives' impls) give the same bits.
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np

from fx._random.xla_math import (clog_f32, erf_inv_f32, exp_f32, fma32, log1p_f32, log_f32,
                                 pow_f32, rsqrt_f32, ynn_exp_f32, ynn_log_f32)
from fx._random.ynn_sum import ynn_sum_last
from primitives.random import threefry_2x32

__all__ = ["gamma_f32", "dirichlet_f32", "Arithmetic", "FLOAT32", "gamma_in", "draw_parts",
           "log_boost", "split_keys", "key_words"]

_F32 = np.float32
_U32 = np.uint32
_TINY = _F32(np.finfo(np.float32).tiny)


class Arithmetic(NamedTuple):
    """A float format's arithmetic as XLA's CPU backend runs JAX's gamma sampler in it:
    the dtype, its constants, its fused multiply-add and its ``log``, ``log1p``,
    ``rsqrt`` and ``pow``, and its uniform ``[0, 1)`` and standard normal draws (one
    per raw key ``[n, 2]``)."""
    dtype: type
    fma: Callable
    log: Callable
    log1p: Callable
    rsqrt: Callable
    pow: Callable
    unit_uniform: Callable
    normal: Callable

    def const(self, value):
        return self.dtype(value)


def split_keys(keys: np.ndarray, num: int) -> np.ndarray:
    """``random_split`` of raw keys ``[n, 2]`` into ``[n, num, 2]``."""
    n = keys.shape[0]
    counters = np.broadcast_to(np.arange(num, dtype=_U32), (n, num))
    b0, b1 = threefry_2x32(keys[:, :1], keys[:, 1:], np.zeros((n, num), _U32), counters)
    return np.stack([b0, b1], axis=-1)


def key_words(keys: np.ndarray):
    """The two threefry output words of each raw key ``[n, 2]`` at counter 0 (what a
    one-element ``random_bits`` draws from)."""
    zero = np.zeros(keys.shape[0], _U32)
    return threefry_2x32(keys[:, 0], keys[:, 1], zero, zero)


def _unit_uniform_f32(keys: np.ndarray) -> np.ndarray:
    """One uniform float32 in [0, 1) per key (``uniform(key, ())``)."""
    b0, b1 = key_words(keys)
    mantissa = ((b0 ^ b1) >> _U32(9)) | _U32(0x3F800000)
    return np.maximum(_F32(0), mantissa.view(_F32) - _F32(1))


def _normal_f32(keys: np.ndarray) -> np.ndarray:
    """One standard normal float32 per key (``normal(key, ())``): sqrt(2) erf_inv(u)
    with u uniform in [-1 + 2**-24, 1) (its product ``f * 2`` is exact)."""
    low = np.nextafter(_F32(-1.0), _F32(0.0))
    u = np.maximum(low, _unit_uniform_f32(keys) * _F32(2) + low)
    return _F32(math.sqrt(2.0)) * erf_inv_f32(u)


FLOAT32 = Arithmetic(_F32, fma32, log_f32, log1p_f32, rsqrt_f32, pow_f32, _unit_uniform_f32,
                     _normal_f32)


def _accept(m: Arithmetic, x_sq, v_cubed, u, d):
    """Marsaglia-Tsang's acceptance test (True: keep proposing)."""
    one = m.const(1)
    squeeze = u >= m.fma(-(x_sq * x_sq), m.const(0.0331), one)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (one - v_cubed) + m.log(v_cubed)
        exact = m.log(u) >= x_sq * m.const(0.5) + d * t
    return squeeze & exact


def _proposals(m: Arithmetic, keys, d, c):
    """Marsaglia-Tsang's loop for every element: the boost keys and accepted ``v**3``."""
    n = d.shape[0]
    pair = split_keys(keys, 2)
    loop_key = pair[:, 0].copy()
    x_sq = np.zeros(n, m.dtype)
    v_cubed = np.ones(n, m.dtype)
    u = np.full(n, m.const(2))
    pending = _accept(m, x_sq, v_cubed, u, d)
    while pending.any():
        idx = np.flatnonzero(pending)
        three = split_keys(loop_key[idx], 3)
        loop_key[idx] = three[:, 0]
        x, v = _positive_v(m, three[:, 1], c[idx])
        x_sq[idx] = x * x
        v_cubed[idx] = (v * v) * v
        u[idx] = m.unit_uniform(three[:, 2])
        pending[idx] = _accept(m, x_sq[idx], v_cubed[idx], u[idx], d[idx])
    return pair[:, 1], v_cubed


def _positive_v(m: Arithmetic, keys, c):
    """Normal draws ``x`` (a fresh split per retry) until ``v = 1 + x c > 0``."""
    keys = keys.copy()
    x = np.zeros(keys.shape[0], m.dtype)
    v = np.full(keys.shape[0], m.const(-1))
    retry = v <= 0
    while retry.any():
        idx = np.flatnonzero(retry)
        pair = split_keys(keys[idx], 2)
        keys[idx] = pair[:, 0]
        x[idx] = m.normal(pair[:, 1])
        v[idx] = m.fma(x[idx], c[idx], m.const(1))
        retry[idx] = v[idx] <= 0
    return x, v


def draw_parts(m: Arithmetic, keys: np.ndarray, a: np.ndarray):
    """The pieces of ``random_gamma``'s draws for ``a`` (non-empty, of ``m.dtype``):
    ``(alpha, d, v**3, u, boost)``: flat ``a``, Marsaglia-Tsang's ``d`` and accepted
    ``v**3``, the boost uniform and the mask of ``alpha >= 1`` (no boost)."""
    key_shape = keys.shape[:-1]
    per_key = math.prod(a.shape[len(key_shape):])
    element_keys = split_keys(keys.reshape(-1, 2), per_key).reshape(-1, 2)
    alpha = a.reshape(-1)
    one = m.const(1)
    third = m.const(1.0 / 3.0)
    boost = alpha >= one
    with np.errstate(invalid="ignore", over="ignore"):
        d = np.where(boost, alpha, alpha + one) + (-third)
        c = third * m.rsqrt(d)
    boost_key, v_cubed = _proposals(m, element_keys, d, c)
    return alpha, d, v_cubed, m.unit_uniform(boost_key), boost


def log_boost(m: Arithmetic, alpha, u, boost):
    """``log1p(-u) / alpha`` where ``alpha < 1`` (and ``log1p(-u) != 0``), else 0."""
    log_u = m.log1p(-u)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(boost | (log_u == 0), m.const(0), log_u * (m.const(1) / alpha))


def gamma_in(m: Arithmetic, keys: np.ndarray, a: np.ndarray, log_space: bool) -> np.ndarray:
    """``random_gamma`` computed in the arithmetic ``m`` (see ``gamma_f32``)."""
    a = np.asarray(a, m.dtype)
    keys = np.asarray(keys, _U32)
    if a.size == 0:
        return np.zeros(a.shape, m.dtype)
    alpha, d, v_cubed, u, boost = draw_parts(m, keys, a)
    one = m.const(1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if log_space:
            out = (m.log(d) + m.log(v_cubed)) + log_boost(m, alpha, u, boost)
        else:
            out = (d * v_cubed) * np.where(boost, one, m.pow(one - u, one / alpha))
    return out.astype(m.dtype).reshape(a.shape)


def gamma_f32(keys: np.ndarray, a: np.ndarray, log_space: bool) -> np.ndarray:
    """``random_gamma`` of float32 shape parameters ``a`` under raw keys ``keys``
    (``keys.shape[:-1]`` a prefix of ``a.shape``): Gamma(a, 1) draws, or their logs
    when ``log_space``, bit for bit as JAX draws them on XLA's CPU backend.

    Example: ``gamma_f32(np.zeros((2,), np.uint32), np.float32([2.5]), False)``.
    """
    return gamma_in(FLOAT32, keys, a, log_space)


# XLA's fusions for dirichlet's softmax of log-gamma draws (see dirichlet_f32)
_YNN_MIN_SIZE = 4096
_WINDOW = 32


def _flush(x: np.ndarray) -> np.ndarray:
    """Results below the smallest normal float32 flushed to zero, as XLA runs."""
    return np.where(np.abs(x) < _TINY, _F32(0), x).astype(_F32)


def _row_sums(e: np.ndarray, ynn: bool) -> np.ndarray:
    """Sums over the last axis added as XLA or YNNPACK add them.

    XLA: rows of up to 32 in order; longer rows are padded with zeros to a multiple of
    32 (half the padding in front, the odd one behind), summed in windows of 32 in
    order, and the window sums reduced the same way. YNNPACK: its reduction kernel's
    order (``ynn_sum.ynn_sum_last``: 16 lanes, blocks of 256 and 64 elements, a Kahan
    step every 1024).
    """
    k = e.shape[-1]
    if ynn:
        return ynn_sum_last(e)
    if k <= _WINDOW:
        total = e[..., 0]
        for i in range(1, k):
            total = total + e[..., i]
        return total
    windows = -(-k // _WINDOW)
    front = (windows * _WINDOW - k) // 2
    padded = np.zeros(e.shape[:-1] + (windows * _WINDOW,), e.dtype)
    padded[..., front:front + k] = e
    return _row_sums(_row_sums(padded.reshape(e.shape[:-1] + (windows, _WINDOW)), False),
                     False)


def dirichlet_f32(keys: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``softmax(random_gamma(keys, a, log_space=True), -1)`` (JAX's dirichlet) for
    float32 ``a``, rounded as XLA's CPU backend rounds JAX's program.

    XLA computes ``log(v**3)`` in a kernel of its own and recomputes the rest of each
    log-gamma draw inside the softmax fusions, so the rounding depends on the size
    ``n`` of ``a``:
    - ``n < 16``: lanes ``8 * (n // 8)`` on of that ``log`` kernel call the C library's
      ``logf`` when ``n % 8`` is 3, 5, 6 or 7 (``xla_math.clog_f32``);
    - ``16 <= n < 4096``: XLA's own ``log`` and ``exp``, rows summed in order;
    - ``n >= 4096``: YNNPACK runs the fusion: its ``log`` (of ``d`` and ``v**3``) and
      ``exp`` (``xla_math.ynn_log_f32``/``ynn_exp_f32``), rows summed in YNNPACK's order
      (``ynn_sum.ynn_sum_last``).
    Then ``e * (1 / sum(e))`` with results below ``2**-126`` flushed to zero.

    Example: ``dirichlet_f32(np.zeros((2,), np.uint32), np.float32([[1, 2, .5]]))``.
    """
    a = np.asarray(a, _F32)
    keys = np.asarray(keys, _U32)
    if a.size == 0:
        return np.zeros(a.shape, _F32)
    n = a.size
    alpha, d, v_cubed, u, boost = draw_parts(FLOAT32, keys, a)
    boosts = log_boost(FLOAT32, alpha, u, boost)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if n >= _YNN_MIN_SIZE:
            log_d, log_v = ynn_log_f32(d), ynn_log_f32(v_cubed)
        else:
            log_d, log_v = log_f32(d), log_f32(v_cubed)
            if n < 16 and n % 8 in (3, 5, 6, 7):
                tail = 8 * (n // 8)
                log_v[tail:] = clog_f32(v_cubed[tail:])
        log_g = ((log_d + log_v) + boosts).reshape(a.shape)
        top = np.max(log_g, axis=-1, keepdims=True)
        if n >= _YNN_MIN_SIZE:
            e = ynn_exp_f32(log_g - top)
            total = _row_sums(e, True)
        else:
            e = exp_f32(log_g - top)
            total = _row_sums(e, False)
        return _flush(e * (_F32(1) / total)[..., None])
