"""``fx.scipy.stats`` functions that are not distributions: ``sem``, ``mode`` and
``rankdata``.

Invariants: the output shapes depend only on the input shapes (never on values),
so every function works under jit and vmap; NaN inputs propagate (``nan_policy``
``"omit"`` is supported by ``sem`` only, as in JAX).
"""
from __future__ import annotations

import operator
from typing import NamedTuple

import numpy as np

import fx.numpy as fnp
from fx import dtypes
from fx.api import vmap
from fx.scipy.special import _check_arraylike, _promote_inexact

__all__ = ["ModeResult", "mode", "rankdata", "sem"]

_NAN_POLICIES = ("propagate", "omit", "raise")


def _check_nan_policy(nan_policy: str) -> None:
    if nan_policy not in _NAN_POLICIES:
        raise ValueError(f"Illegal nan_policy value {nan_policy!r}; expected one of "
                         f"{set(_NAN_POLICIES)}")


def _axis(axis, ndim: int) -> int:
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for an array of dimension {ndim}")
    return axis % ndim


class ModeResult(NamedTuple):
    """The result of ``mode``: the most common values and how often they occur."""
    mode: object
    count: object


def mode(a, axis: int | None = 0, nan_policy: str = "propagate", keepdims: bool = False):
    """The most common value along ``axis`` (the smallest one on ties) and its count.

    Args:
      a: input array.
      axis: the axis to reduce (None: the flattened array).
      nan_policy: only ``"propagate"`` is supported.
      keepdims: keep the reduced axis with size 1.

    Returns:
      ``ModeResult(mode, count)``.

    Example:
      >>> fx.scipy.stats.mode(fx.numpy.array([1, 2, 2, 3]))
      ModeResult(mode=Array(2, dtype=int32), count=Array(2, dtype=int32))
    """
    _check_arraylike("mode", a)
    _check_nan_policy(nan_policy)
    if nan_policy != "propagate":
        raise NotImplementedError(f"mode: nan_policy={nan_policy!r} is not implemented; use "
                                  "'propagate'")
    x = fnp.asarray(a)
    if x.ndim == 0:
        x = fnp.reshape(x, (1,))
    if axis is None:
        out_shape = (1,) * x.ndim if keepdims else ()
        x, axis = fnp.ravel(x), 0
    else:
        axis = _axis(axis, x.ndim)
        out_shape = tuple(1 if i == axis else s for i, s in enumerate(x.shape)) if keepdims \
            else tuple(s for i, s in enumerate(x.shape) if i != axis)
    x = fnp.moveaxis(x, axis, 0)
    n = x.shape[0]
    rows = fnp.reshape(x, (n, -1))
    if n == 0:
        nan = fnp.full(out_shape, np.nan, dtypes.default_float_dtype())
        return ModeResult(nan, fnp.zeros(out_shape, dtypes.default_float_dtype()))

    def one(column):
        values, counts = fnp.unique(column, return_counts=True, size=n)
        best = fnp.argmax(counts)
        return values[best], counts[best]

    values, counts = vmap(one, in_axes=1)(rows)
    return ModeResult(fnp.reshape(values, out_shape), fnp.reshape(counts, out_shape))


_RANK_METHODS = ("average", "min", "max", "dense", "ordinal")


def _rank_1d(a, method: str):
    n = a.shape[0]
    out_dtype = dtypes.default_float_dtype()
    order = fnp.argsort(a)
    ranks_of = fnp.argsort(order)  # the inverse permutation
    if method == "ordinal":
        return (ranks_of + 1).astype(out_dtype)
    sorted_a = a[order]
    new_group = fnp.concatenate([fnp.ones((1,), bool), sorted_a[1:] != sorted_a[:-1]])
    dense = fnp.cumsum(new_group)[ranks_of]
    if method == "dense":
        return dense.astype(out_dtype)
    # starts[j]: the sorted position where group j begins; starts[groups] = n
    starts = fnp.nonzero(new_group, size=n + 1, fill_value=n)[0].astype(out_dtype)
    if method == "max":
        return starts[dense]
    if method == "min":
        return starts[dense - 1] + 1
    return (starts[dense] + starts[dense - 1] + 1) / 2


def rankdata(a, method: str = "average", *, axis: int | None = None,
             nan_policy: str = "propagate"):
    """Ranks of the data, from 1, with ties handled by ``method``.

    Args:
      a: input array.
      method: ``"average"``, ``"min"``, ``"max"``, ``"dense"`` or ``"ordinal"``.
      axis: rank along this axis (None: the flattened array).
      nan_policy: only ``"propagate"`` (any NaN makes every rank NaN).

    Returns:
      Float ranks, shaped like ``a`` (flattened when ``axis`` is None).

    Example:
      >>> fx.scipy.stats.rankdata(fx.numpy.array([10, 20, 20, 5]))
      Array([2. , 3.5, 3.5, 1. ], dtype=float32)
    """
    _check_arraylike("rankdata", a)
    _check_nan_policy(nan_policy)
    if nan_policy != "propagate":
        raise NotImplementedError(f"rankdata: nan_policy={nan_policy!r} is not implemented; "
                                  "use 'propagate'")
    if method not in _RANK_METHODS:
        raise ValueError(f"unknown method '{method}'; expected one of {_RANK_METHODS}")
    x = fnp.asarray(a)
    if axis is None:
        flat = fnp.ravel(x)
        ranks = _rank_1d(flat, method)
        has_nan = fnp.any(flat != flat)
        return fnp.where(has_nan, np.nan, ranks).astype(ranks.dtype)
    axis = _axis(axis, x.ndim)
    moved = fnp.moveaxis(x, axis, -1)
    rows = fnp.reshape(moved, (-1, moved.shape[-1]))
    ranks = vmap(lambda r: _rank_1d(r, method))(rows)
    ranks = fnp.where(fnp.any(rows != rows, axis=-1, keepdims=True), np.nan, ranks)
    return fnp.moveaxis(fnp.reshape(ranks.astype(ranks.dtype), moved.shape), -1, axis)


def sem(a, axis: int | None = 0, ddof: int = 1, nan_policy: str = "propagate", *,
        keepdims: bool = False):
    """The standard error of the mean, ``std(a, ddof) / sqrt(n)`` along ``axis``.

    Args:
      a: input array.
      axis: the axis to reduce (None: all).
      ddof: delta degrees of freedom of the standard deviation.
      nan_policy: ``"propagate"`` or ``"omit"`` (ignore NaNs).
      keepdims: keep the reduced axis with size 1.

    Example:
      >>> fx.scipy.stats.sem(fx.numpy.array([1., 2., 3., 4.]))
      Array(0.6454972, dtype=float32)
    """
    _check_arraylike("sem", a)
    if nan_policy not in ("propagate", "omit"):
        raise ValueError(f"{nan_policy} is not supported; use 'propagate' or 'omit'")
    b = _promote_inexact("sem", a)
    if axis is not None:
        _axis(axis, b.ndim)
    if nan_policy == "propagate":
        size = b.size if axis is None else b.shape[axis]
        std = fnp.std(b, axis, ddof=ddof, keepdims=keepdims)
        return std / fnp.sqrt(np.asarray(size, b.dtype))
    valid = b == b
    count = fnp.sum(valid, axis=axis, keepdims=True, dtype=b.dtype)
    filled = fnp.where(valid, b, 0)
    mean = fnp.sum(filled, axis=axis, keepdims=True) / count
    sq = fnp.where(valid, (b - mean) ** 2, 0)
    var = fnp.sum(sq, axis=axis, keepdims=True) / (count - ddof)
    out = fnp.sqrt(var) / fnp.sqrt(count)
    if not keepdims:
        out = fnp.squeeze(out, axis=axis) if axis is not None else fnp.reshape(out, ())
    return out.astype(b.dtype)
