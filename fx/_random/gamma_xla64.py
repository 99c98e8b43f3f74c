"""The float64 and float16 ``random_gamma`` samplers in NumPy, rounding every operation as
JAX's program does once XLA's CPU backend has compiled it (float64: with
``jax_enable_x64``), so their gamma and loggamma draws are bit-identical to JAX's.

The algorithm and the consumption of keys are float32's (``gamma_xla``, whose pipeline
this module runs with float64 arithmetic). What XLA does differently at float64 (read
from the LLVM IR and object code of ``jax.jit(jax.random.gamma)`` at float64, confirmed
draw for draw): ``log`` and ``pow`` are the C library's, ``rsqrt`` is refined twice,
``log1p`` and ``erf_inv`` are XLA's double-precision expansions
(``fx._random.xla_math64``); uniform draws take 64 random bits (the two threefry words,
the first one high), of which the top 52 fill the mantissa.

float16: every operation is rounded to float16 (XLA's CPU code promotes each half-precision
operation to float32 and rounds it back, so no multiply-add is fused), ``log``, ``log1p``,
``rsqrt`` and ``pow`` are XLA's float32 ones on the promoted operands, rounded to float16,
and so is ``erf_inv`` (JAX computes it in float32 for float16); uniform draws take the low
16 bits of the threefry words' xor, of which the top 10 fill the mantissa.

Invariants: float64 (float16) in, the same dtype out; keys are raw ``uint32 [..., 2]``
whose shape is a prefix of ``a``'s; only NumPy, the native kernels of ``xla_math64`` and
``lowering.cpu.xla_float32`` run, so eager and compiled calls give the same bits.
"""
from __future__ import annotations

import math

import numpy as np

from fx._random.gamma_xla import (Arithmetic, _row_sums, draw_parts, gamma_in, key_words,
                                  log_boost)
from fx._random.xla_math import erf_inv_f32, log1p_f32, log_f32, pow_f32, rsqrt_f32
from fx._random.xla_math64 import (erf_inv_f64, exp_f64, fma64, log1p_f64, log_f64, pow_f64,
                                   rsqrt_f64, ynn_exp_f64, ynn_log_f64)
from fx._random.ynn_sum import ynn_sum_last

__all__ = ["FLOAT64", "FLOAT16", "gamma_f64", "gamma_f16", "dirichlet_f64"]

_F64 = np.float64
_U64 = np.uint64


def _unit_uniform_f64(keys: np.ndarray) -> np.ndarray:
    """One uniform float64 in [0, 1) per raw key (``uniform(key, (), float64)``)."""
    b0, b1 = key_words(keys)
    bits = (b0.astype(_U64) << _U64(32)) | b1.astype(_U64)
    mantissa = (bits >> _U64(12)) | _U64(0x3FF0000000000000)
    return np.maximum(_F64(0), mantissa.view(_F64) - _F64(1))


_NORMAL_LOW = np.nextafter(_F64(-1.0), _F64(0.0))


def _normal_f64(keys: np.ndarray) -> np.ndarray:
    """One standard normal float64 per raw key: ``sqrt(2) erf_inv(u)``, ``u`` uniform in
    ``[-1 + 2**-53, 1)`` (``2 u0 - 1 + 2**-53``: the product is exact)."""
    u = np.maximum(_NORMAL_LOW, _unit_uniform_f64(keys) * _F64(2) + _NORMAL_LOW)
    return erf_inv_f64(u) * _F64(math.sqrt(2.0))


FLOAT64 = Arithmetic(_F64, fma64, log_f64, log1p_f64, rsqrt_f64, pow_f64, _unit_uniform_f64,
                     _normal_f64)


def gamma_f64(keys: np.ndarray, a: np.ndarray, log_space: bool) -> np.ndarray:
    """``random_gamma`` of float64 shape parameters ``a`` under raw keys ``keys``
    (``keys.shape[:-1]`` a prefix of ``a.shape``): Gamma(a, 1) draws, or their logs
    when ``log_space``, bit for bit as JAX draws them with ``jax_enable_x64`` on XLA's
    CPU backend.

    Example: ``gamma_f64(np.zeros((2,), np.uint32), np.float64([2.5]), False)``.
    """
    return gamma_in(FLOAT64, keys, a, log_space)


_YNN_MIN_SIZE = 4096
_TINY64 = _F64(np.finfo(np.float64).tiny)


def dirichlet_f64(keys: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``softmax(random_gamma(keys, a, log_space=True), -1)`` (JAX's dirichlet) for
    float64 ``a``, rounded as XLA's CPU backend rounds JAX's program with
    ``jax_enable_x64`` (keys as for ``gamma_f64``).

    By the size ``n`` of ``a`` (read from the optimized HLO and YNNPACK's kernels):
    - ``n < 4096``: the log-gamma draws as ``gamma_f64`` gives them (``log`` is the C
      library's in every fusion), XLA's own ``exp`` (``xla_math64.exp_f64``), rows
      summed in XLA's order;
    - ``n >= 4096``: YNNPACK runs the fusion: its ``log`` of ``d`` and ``v**3`` and its
      ``exp`` (``xla_math64.ynn_log_f64``/``ynn_exp_f64``), rows summed in its
      order (``ynn_sum.ynn_sum_last``).
    Then ``e * (1 / sum(e))`` with results below the smallest normal flushed to zero.

    Example: ``dirichlet_f64(np.zeros((2,), np.uint32), np.float64([[1, 2, .5]]))``.
    """
    a = np.asarray(a, _F64)
    keys = np.asarray(keys, np.uint32)
    if a.size == 0:
        return np.zeros(a.shape, _F64)
    big = a.size >= _YNN_MIN_SIZE
    alpha, d, v_cubed, u, boost = draw_parts(FLOAT64, keys, a)
    boosts = log_boost(FLOAT64, alpha, u, boost)
    log = ynn_log_f64 if big else log_f64
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_g = ((log(d) + log(v_cubed)) + boosts).reshape(a.shape)
        shifted = log_g - np.max(log_g, axis=-1, keepdims=True)
        e = ynn_exp_f64(shifted) if big else exp_f64(shifted)
        total = ynn_sum_last(e) if big else _row_sums(e, False)
        out = e * (_F64(1) / total)[..., None]
    return np.where(np.abs(out) < _TINY64, _F64(0), out)


_F16, _F32 = np.float16, np.float32


def _promoted(fn):
    """``fn`` (a float32 function of XLA's) on float16 operands, rounded to float16."""
    def on_half(*xs):
        with np.errstate(all="ignore"):
            return np.asarray(fn(*[np.asarray(x, _F16).astype(_F32) for x in xs]), _F32) \
                .astype(_F16)
    return on_half


def _fma_f16(a, b, c):
    """``a * b + c`` rounded to float16 twice (XLA does not fuse half-precision ones)."""
    with np.errstate(all="ignore"):
        return (np.asarray(a, _F16) * np.asarray(b, _F16) + np.asarray(c, _F16)).astype(_F16)


def _unit_uniform_f16(keys: np.ndarray) -> np.ndarray:
    """One uniform float16 in [0, 1) per raw key (``uniform(key, (), float16)``)."""
    b0, b1 = key_words(keys)
    bits = ((b0 ^ b1) & np.uint32(0xFFFF)).astype(np.uint16)
    mantissa = (bits >> np.uint16(6)) | np.uint16(0x3C00)
    return np.maximum(_F16(0), mantissa.view(_F16) - _F16(1))


_NORMAL_LOW_F16 = np.nextafter(_F16(-1.0), _F16(0.0))
_erf_inv_f16 = _promoted(erf_inv_f32)


def _normal_f16(keys: np.ndarray) -> np.ndarray:
    """One standard normal float16 per raw key: ``sqrt(2) erf_inv(u)`` in float16, the
    inverse error function XLA's float32 one."""
    u = np.maximum(_NORMAL_LOW_F16, _unit_uniform_f16(keys) * _F16(2) + _NORMAL_LOW_F16)
    return _F16(math.sqrt(2.0)) * _erf_inv_f16(u)


FLOAT16 = Arithmetic(_F16, _fma_f16, _promoted(log_f32), _promoted(log1p_f32),
                     _promoted(rsqrt_f32), _promoted(pow_f32), _unit_uniform_f16, _normal_f16)


def gamma_f16(keys: np.ndarray, a: np.ndarray, log_space: bool) -> np.ndarray:
    """``random_gamma`` of float16 shape parameters (see ``gamma_f64``), bit for bit as
    JAX draws them on XLA's CPU backend.

    Example: ``gamma_f16(np.zeros((2,), np.uint32), np.float16([2.5]), True)``.
    """
    return gamma_in(FLOAT16, keys, a, log_space)
