"""``det`` and ``slogdet`` of ``fx.numpy.linalg``, computed as JAX 0.10 computes them, so
that on the CPU their values are JAX's bit for bit.

The structure is JAX's (``print(fx.make_jaxpr(det)(a))`` reads like JAX's):
- ``det`` is jitted; ``2x2`` and ``3x3`` matrices use the closed forms (differentiated
  through their products), every other size ``_det``, a ``custom_jvp`` over ``slogdet``:
  ``sign * exp(logabsdet)``. Its derivative comes from ``_cofactor_solve`` (the adjugate
  times the tangent, finite at singular matrices of rank ``n - 1``).
- ``slogdet`` is jitted; ``1x1`` and ``2x2`` matrices use the closed forms (``sign`` and
  ``log|det|``, custom derivative ``trace(adj(a) da) / det``), larger ones ``_slogdet_lu``:
  the LU factorization's diagonal gives the sign (pivot parity and negative pivots; the
  product of the pivots' phases for complex) and ``logabsdet = sum(log|u_ii|)``, with
  ``(0, -inf)`` for singular matrices. Its derivative is ``trace(solve(a, da))``.

Bits: LU is LAPACK's ``getrf`` as jaxlib calls it, ``log``/``exp`` are XLA's float32
expansions, products contract into fused multiply-adds as XLA's do (jitted), and the sum of
``log|u_ii|`` is a ``reduce_sum`` with the hidden ``order="xla_cpu"``: added in XLA's CPU
order (primitives/reduce_order.py), by the eager impl inside compiled programs too.
Where JAX's XLA takes another road the values agree to a few ulp only: batches of 4096
diagonal elements or more (XLA hands the sum, with its own ``log``, to YNNPACK), float64
(XLA's float64 ``exp`` is not fx's), and complex pivots' phases (XLA's complex division).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

import fx.numpy as fnp
from fx.core import get_aval
from fx.custom_derivatives import custom_jvp
from fx.interpreters.jit import jit
from fx.lax import linalg as lax_linalg
from fx.numpy._linalg_norms import _diag, _inexact, _square, _trace
from primitives.reductions import reduce_sum_p

__all__ = ["SlogdetResult", "det", "slogdet"]


class SlogdetResult(NamedTuple):
    sign: object
    logabsdet: object


def _entry(a, i: int, j: int):
    return a[..., i, j]


def _is_complex(a) -> bool:
    return get_aval(a).dtype.kind == "c"


def _ordered_sum(x):
    """Sum over the last axis, added in XLA's CPU order (``reduce_sum[order=xla_cpu]``)."""
    return reduce_sum_p.bind(x, axes=(get_aval(x).ndim - 1,), out_sharding=None,
                             order="xla_cpu")


# ---------------------------------------------------------------------------
# slogdet


def _slogdet_closed(a):
    """``(sign(d), log|d|)`` of the closed-form determinant ``d`` of 1x1 or 2x2 ``a``."""
    if get_aval(a).shape[-1] == 1:
        d = _entry(a, 0, 0)
    else:
        d = _entry(a, 0, 0) * _entry(a, 1, 1) - _entry(a, 0, 1) * _entry(a, 1, 0)
    return fnp.sign(d), fnp.real(fnp.log(fnp.abs(d)))


@custom_jvp
def _slogdet_small(a):
    return _slogdet_closed(a)


@_slogdet_small.defjvp
def _slogdet_small_jvp(primals, tangents):
    (x,), (g,) = primals, tangents
    sign, logabsdet = _slogdet_small(x)
    if get_aval(x).shape[-1] == 1:
        dlog = _entry(g, 0, 0) / _entry(x, 0, 0)
    else:
        d = _entry(x, 0, 0) * _entry(x, 1, 1) - _entry(x, 0, 1) * _entry(x, 1, 0)
        dlog = (_entry(g, 0, 0) * _entry(x, 1, 1) - _entry(g, 0, 1) * _entry(x, 1, 0)
                - _entry(g, 1, 0) * _entry(x, 0, 1) + _entry(g, 1, 1) * _entry(x, 0, 0)) / d
    return (sign, logabsdet), _sign_and_log_tangents(x, sign, dlog)


def _sign_and_log_tangents(x, sign, dlog):
    """Tangents of ``(sign, logabsdet)`` from ``dlog = trace(a^-1 da)``: the sign of a
    real determinant is piecewise constant; a complex one turns by ``i imag(dlog)``."""
    if _is_complex(x):
        return (dlog - fnp.real(dlog).astype(dlog.dtype)) * sign, fnp.real(dlog)
    return fnp.zeros_like(sign), dlog


@custom_jvp
def _slogdet_lu(a):
    dtype = get_aval(a).dtype
    lu, pivots, _ = lax_linalg.lu(a)
    diag = _diag(lu)
    is_zero = fnp.any(diag == fnp.array(0, dtype), axis=-1)
    n = get_aval(a).shape[-1]
    parity = fnp.count_nonzero(pivots != fnp.arange(n, dtype=pivots.dtype), axis=-1)
    if dtype.kind == "c":
        sign = fnp.prod(diag / fnp.abs(diag).astype(dtype), axis=-1)
    else:
        sign = fnp.array(1, dtype)
        parity = parity + fnp.count_nonzero(diag < 0, axis=-1)
    sign = fnp.where(is_zero, fnp.array(0, dtype),
                     sign * fnp.array(-2 * (parity % 2) + 1, dtype))
    logabsdet = fnp.where(is_zero, fnp.array(-np.inf, dtype),
                          _ordered_sum(fnp.log(fnp.abs(diag)).astype(dtype)))
    return sign, fnp.real(logabsdet)


@_slogdet_lu.defjvp
def _slogdet_jvp(primals, tangents):
    from fx.numpy.linalg import solve
    (x,), (g,) = primals, tangents
    sign, logabsdet = slogdet(x)
    dlog = _trace(solve(x, g))
    return (sign, logabsdet), _sign_and_log_tangents(x, sign, dlog)


@jit(static_argnames=("method",))
def slogdet(a, *, method: str | None = None) -> SlogdetResult:
    """Sign and natural log of the absolute value of the determinant (JAX's values).

    Args:
      a: ``[..., n, n]``, promoted to an inexact dtype.
      method: ``None``/``"lu"`` (LU factorization; ``"qr"`` is accepted and computed the
        same way).

    Returns:
      ``SlogdetResult(sign, logabsdet)`` of shape ``a.shape[:-2]``; ``(0, -inf)`` for
      singular matrices; ``sign`` has ``|sign| == 1`` (a phase for complex ``a``).

    Example:
      >>> slogdet(fx.numpy.array([[1., 2.], [3., 4.]]))   # (-1., log(2.))
    """
    if method not in (None, "lu", "qr"):
        raise ValueError(f"linalg.slogdet: unknown method {method!r}; expected 'lu' or 'qr'")
    a = _inexact("linalg.slogdet", a)
    _square("linalg.slogdet", a)
    if get_aval(a).shape[-1] in (1, 2):
        return SlogdetResult(*_slogdet_small(a))
    return SlogdetResult(*_slogdet_lu(a))


# ---------------------------------------------------------------------------
# det


def _det_2x2(a):
    return _entry(a, 0, 0) * _entry(a, 1, 1) - _entry(a, 0, 1) * _entry(a, 1, 0)


def _det_3x3(a):
    e = _entry
    return (e(a, 0, 0) * e(a, 1, 1) * e(a, 2, 2) + e(a, 0, 1) * e(a, 1, 2) * e(a, 2, 0)
            + e(a, 0, 2) * e(a, 1, 0) * e(a, 2, 1) - e(a, 0, 2) * e(a, 1, 1) * e(a, 2, 0)
            - e(a, 0, 0) * e(a, 1, 2) * e(a, 2, 1) - e(a, 0, 1) * e(a, 1, 0) * e(a, 2, 2))


@custom_jvp
def _det(a):
    sign, logabsdet = slogdet(a)
    return sign * fnp.exp(logabsdet).astype(sign.dtype)


def _cofactor_solve(a, b):
    """``(det(a), adj(a) @ b)`` for square ``a`` and ``b`` of ``a``'s shape, finite where
    ``a`` is singular: from ``a = P L U``, ``adj(a) b = det(a) U^-1 L^-1 P^T b``; the
    last row needs ``det(a) / u_nn``, the signed product of the other pivots, which
    replaces ``1 / u_nn`` in ``U``'s corner, so rank ``n - 1`` matrices need no division
    by their zero pivot; matrices of lower rank (whose adjugate is 0) give zeros.
    """
    shape = get_aval(a).shape
    if shape[-1] == 1:
        return _entry(a, 0, 0), b
    dtype = get_aval(a).dtype
    lu, pivots, perm = lax_linalg.lu(a)
    n = shape[-1]
    parity = fnp.count_nonzero(pivots != fnp.arange(n, dtype=pivots.dtype), axis=-1)
    sign = fnp.asarray(-2 * (parity % 2) + 1, dtype=dtype)
    partial = fnp.cumprod(_diag(lu), axis=-1) * sign[..., None]
    lu = lu.at[..., -1, -1].set(1.0 / partial[..., -2])
    # rank below n - 1: U^-1 (with the corner replaced) overflows or is NaN somewhere
    probe = lax_linalg.triangular_solve(lu, fnp.ones(shape[:-1] + (1,), dtype),
                                        left_side=True, lower=False)
    low_rank = fnp.any(fnp.isnan(probe) | fnp.isinf(probe), axis=(-2, -1))
    low_rank = low_rank[..., None, None]
    x = fnp.where(low_rank, fnp.zeros_like(b), b)
    x = fnp.take_along_axis(x, perm[..., :, None], axis=-2)
    x = lax_linalg.triangular_solve(lu, x, left_side=True, lower=True, unit_diagonal=True)
    x = fnp.concatenate((x[..., :-1, :] * partial[..., -1, None, None], x[..., -1:, :]),
                        axis=-2)
    x = lax_linalg.triangular_solve(lu, x, left_side=True, lower=False)
    return partial[..., -1], fnp.where(low_rank, fnp.zeros_like(x), x)


@_det.defjvp
def _det_jvp(primals, tangents):
    (x,), (g,) = primals, tangents
    y, z = _cofactor_solve(x, g)
    return y, _trace(z)


@jit
def det(a):
    """The determinant of square matrices ``[..., n, n]`` (JAX's values).

    2x2 and 3x3 matrices use the closed forms; other sizes ``sign * exp(logabsdet)`` of
    ``slogdet``. The derivative is ``trace(adj(a) da)``, finite at singular ``a``.

    Args:
      a: ``[..., n, n]``, promoted to an inexact dtype.

    Returns:
      The determinants, of shape ``a.shape[:-2]``.

    Example:
      >>> det(fx.numpy.array([[1., 2.], [3., 4.]]))   # -2.
    """
    a = _inexact("linalg.det", a)
    _square("linalg.det", a)
    n = get_aval(a).shape[-1]
    if n == 2:
        return _det_2x2(a)
    if n == 3:
        return _det_3x3(a)
    return _det(a)
