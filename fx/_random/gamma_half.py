"""JAX's dirichlet for float16 and bfloat16 shape parameters in NumPy, rounded as XLA's CPU
backend rounds JAX's program, so the draws are bit-identical to JAX's.

JAX's dirichlet is a softmax of log-space gamma draws whose sum runs in float32 (``jnp.sum``
of a 16-bit float converts to float32 and back). How XLA evaluates it (read from the
optimized HLO of ``jax.jit(jax.random.dirichlet)`` at both dtypes, confirmed draw for draw;
see tests/random/test_half_parity.py):

- float16 keeps its operations in float16 in the HLO; the CPU code computes each one in
  float32 and rounds it back (``exp`` is XLA's float32 ``exp``). So ``e = exp(x - max)``
  rounded to float16, the float32 row total of ``e`` rounded to float16, ``r = 1 / total``
  rounded to float16 (the division by a broadcast becomes a multiplication by the
  reciprocal), and ``e * r`` rounded to float16;
- bfloat16 operations are rewritten to float32 ones with a rounding after each, then XLA's
  simplifier (allowed excess precision) drops the rounding pairs that JAX's own
  ``convert_element_type`` ops create: the row total adds the float32 ``exp`` values
  *unrounded*, ``r = 1 / total`` (the total rounded to bfloat16) stays in float32, and the
  result is ``round(round(e) * r)`` with float32 results below ``2**-126`` flushed to zero.

Row totals add in XLA's order (``primitives.reduce_order.xla_cpu_sum``) below 4096 elements
and in YNNPACK's (``fx._random.ynn_sum.ynn_sum_last``) from 4096 on, where XLA hands the
reduction to YNNPACK. The log-gamma draws are ``random_gamma``'s own (bit-identical to JAX's
at both dtypes).

Invariants: float16 or bfloat16 in, the same dtype out; keys are raw ``uint32 [..., 2]``
whose shape is a prefix of ``a``'s; only NumPy and the native float32 kernels run, so eager
and compiled calls give the same bits.
"""
from __future__ import annotations

import numpy as np

from fx._random.xla_math import exp_f32
from fx._random.ynn_sum import ynn_sum_last
from primitives.reduce_order import xla_cpu_sum

__all__ = ["dirichlet_half", "HALF_DTYPES"]

_F32 = np.float32
_TINY = _F32(np.finfo(np.float32).tiny)
_YNN_MIN_SIZE = 4096


def _half_dtypes() -> tuple:
    from fx import dtypes
    found = [np.dtype(np.float16)]
    if dtypes.bfloat16 is not None:
        found.append(np.dtype(dtypes.bfloat16))
    return tuple(found)


#: the 16-bit float dtypes ``dirichlet_half`` takes
HALF_DTYPES = _half_dtypes()


def _row_totals(x: np.ndarray) -> np.ndarray:
    """float32 sums over the last axis of float32 ``x`` in XLA's (or YNNPACK's) order."""
    if x.size >= _YNN_MIN_SIZE:
        return ynn_sum_last(x)
    return xla_cpu_sum(x, (x.ndim - 1,))


def _log_gamma(keys: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``random_gamma(keys, a, log_space=True)`` (its eager sampler)."""
    from fx._random.gamma import _gamma_sampler
    return np.asarray(_gamma_sampler(keys, a, log_space=True))


def dirichlet_half(keys: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``softmax(random_gamma(keys, a, log_space=True), -1)`` (JAX's dirichlet) for float16
    or bfloat16 ``a``, rounded as XLA's CPU backend rounds JAX's program (see the module
    docstring).

    Args:
      keys: raw key data, ``uint32`` of shape ``K + (2,)`` with ``K`` a prefix of
        ``a.shape``.
      a: concentrations, float16 or bfloat16, the last axis the simplex's.

    Returns:
      Draws of ``a``'s shape and dtype whose rows sum to about 1.

    Example:
      >>> dirichlet_half(np.zeros((2,), np.uint32), np.float16([[1, 2, .5]]))  # doctest: +SKIP
    """
    a = np.asarray(a)
    if a.dtype not in HALF_DTYPES:
        raise TypeError(f"dirichlet_half requires float16 or bfloat16 concentrations, got "
                        f"{a.dtype.name}")
    keys = np.asarray(keys, np.uint32)
    half = a.dtype
    if a.size == 0:
        return np.zeros(a.shape, half)
    log_g = _log_gamma(keys, a).astype(half)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        top = np.maximum(np.max(log_g, axis=-1, keepdims=True), half.type(-np.inf))
        shifted = (log_g.astype(_F32) - top.astype(_F32)).astype(half)
        e32 = exp_f32(shifted.astype(_F32))
        if half == np.float16:
            e = e32.astype(half).astype(_F32)
            total = _row_totals(e).astype(half).astype(_F32)
            recip = (_F32(1) / total).astype(half).astype(_F32)
            return (e * recip[..., None]).astype(half)
        total = _row_totals(e32).astype(half).astype(_F32)
        recip = _F32(1) / total
        out = e32.astype(half).astype(_F32) * recip[..., None]
        out = np.where(np.abs(out) < _TINY, _F32(0), out)
        return out.astype(half)
