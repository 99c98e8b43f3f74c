"""``where``, ``clip`` and ``round`` of ``fx.numpy``, with JAX's ``jit`` boundaries:
traced, ``jnp.where`` is a ``jit[name=_where]`` equation, ``clip`` a ``jit[name=clip]``,
``round`` a ``jit[name=round]`` (``around`` one more around it); eager calls run the
bodies op by op (``fx/numpy/_jitted.py``).

Invariants: the bodies follow JAX's order of operations, so their printed jaxprs are
JAX's; ``fx.numpy._core`` re-exports these names (its other functions call ``where``).
"""
from __future__ import annotations

import builtins
import operator

import numpy as np

from fx import core, dtypes, lax
from fx.array import Array
from fx.core import Tracer, get_aval
from fx.numpy._core import (_check_array_args, _current, _eval_trace, _promote, _to_bool,
                            _weak_scalar, asarray, broadcast_shapes, maximum, minimum)
from fx.numpy._jitted import library_jit

__all__ = ["where", "clip", "round", "around"]


def where(condition, x=None, y=None, /, *, size=None, fill_value=None):
    """``x`` where ``condition`` else ``y``, broadcasting all three (JAX's ``jnp.where``:
    traced, a ``jit[name=_where]`` equation).

    Args:
      condition: boolean (or nonzero-tested) array or scalar.
      x, y: the values to choose from (promoted together); both or neither. With
        neither, ``nonzero(condition, size=, fill_value=)``.

    Returns:
      The broadcast selection, of ``x`` and ``y``'s promoted dtype.

    Example:
      >>> fnp.where(fnp.array([True, False]), 1.0, 0.0)
      Array([1., 0.], dtype=float32)
    """
    if x is None and y is None:
        from fx.numpy import nonzero
        return nonzero(condition, size=size, fill_value=fill_value)
    if x is None or y is None:
        raise ValueError("Either both or neither of the x and y arguments should be provided "
                         "to fx.numpy.where")
    if isinstance(condition, (list, tuple)):
        condition = asarray(condition)
    _check_array_args((condition, x, y))
    return _where(condition, x, y)


def _broadcast_like_jax(x, shape):
    """``x`` broadcast to ``shape`` by one ``broadcast_in_dim`` (trailing dims aligned,
    size-1 dims stretched in place), as JAX's ``broadcast_to``."""
    xs = get_aval(x).shape
    if xs == shape:
        return x
    lead = len(shape) - len(xs)
    return lax.broadcast_in_dim(x, shape, tuple(range(lead, len(shape))))


@library_jit
def _where(condition, x, y):
    x, y = _promote(x, y)
    condition = _to_bool(condition if isinstance(condition, (Array, Tracer)) else
                         asarray(condition))
    shape = broadcast_shapes(get_aval(condition).shape, get_aval(x).shape,
                             get_aval(y).shape)
    if get_aval(condition).ndim:
        condition = _broadcast_like_jax(condition, shape)
    x, y = _broadcast_like_jax(x, shape), _broadcast_like_jax(y, shape)
    out = lax.select_n(condition, y, x)
    weak = get_aval(x).weak_type and get_aval(y).weak_type
    if weak != get_aval(out).weak_type:  # eager select_n takes the selector's weakness too
        out = lax._convert_element_type(out, get_aval(out).dtype, weak)
    return out


@library_jit
def clip(arr=None, /, min=None, max=None):
    """Clip ``arr`` to ``[min, max]`` (either bound may be None), as JAX's ``jnp.clip``
    (traced, a ``jit[name=clip]`` equation).

    Args:
      arr: the array.
      min, max: lower and upper bounds (arrays or scalars, broadcast against ``arr``).

    Returns:
      ``minimum(max, maximum(min, arr))`` with JAX's promotion.

    Raises:
      ValueError: for complex ``arr``, ``min`` or ``max`` (complex values have no order).

    Example:
      >>> fnp.clip(fnp.array([-1.0, 0.5, 2.0]), 0.0, 1.0)
      Array([0. , 0.5, 1. ], dtype=float32)
    """
    if type(arr) is Array and _current.get() is _eval_trace and arr._value.dtype.kind in "fiu" \
            and type(min) in (float, int, type(None)) and type(max) in (float, int, type(None)):
        # eager with Python bounds: argument order that takes the binary ops' fast path
        out = arr if min is None else maximum(arr, min)
        return out if max is None else minimum(out, max)
    _check_array_args(tuple(v for v in (arr, min, max) if v is not None))
    if builtins.any(v is not None and dtypes.is_complex(dtypes.result_type(v))
                    for v in (arr, min, max)):
        raise ValueError(
            "Clip received a complex value either through the input or the min/max keywords. "
            "Complex values have no ordering and cannot be clipped. Please convert to a real "
            "value or array by taking the real or imaginary components via "
            "fx.numpy.real/imag respectively.")
    if min is not None:
        arr = maximum(min, arr)
    if max is not None:
        arr = minimum(max, arr)
    return asarray(arr)


def round(a, decimals: int = 0, out=None):
    """Round to ``decimals`` places, halves to even (as NumPy; JAX's ``jnp.round``:
    traced, a ``jit[name=round]`` equation with ``decimals`` static).

    Args:
      a: the array; integers are returned unchanged (``decimals >= 0``), complex values
        round their real and imaginary parts.
      decimals: static number of decimal places (may be negative for floats).

    Returns:
      The rounded array, of ``a``'s dtype and weak type.

    Example:
      >>> fnp.round(fnp.array([1.25, 2.5]), 1)
      Array([1.2, 2.5], dtype=float32)
    """
    if out is not None:
        raise NotImplementedError("The 'out' argument to fx.numpy.round is not supported.")
    _check_array_args((a,))
    decimals = core.concrete_or_error(decimals, "a traced decimals",
                                      "fx.numpy.round: decimals must be a static int")
    return _round(a, decimals=_operator_index(decimals, "fx.numpy.round decimals"))


def _operator_index(value, what):
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {value!r}") from None


@library_jit(static_argnames=("decimals",), name="round")
def _round(a, decimals=0):
    (a,) = _promote(a)
    dtype = get_aval(a).dtype
    if not dtypes.is_inexact(dtype):
        if decimals < 0:
            raise NotImplementedError("integer np.round not implemented for decimals < 0")
        return a

    def round_real(x):
        if decimals == 0:
            return lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN)
        narrow = get_aval(x).dtype.itemsize < 4  # float16/bfloat16 round in float32
        if narrow:
            x = lax.convert_element_type(x, np.float32)
        factor = _weak_scalar(10.0 ** decimals, get_aval(x).dtype)
        out = lax.div(lax.round(lax.mul(x, factor), lax.RoundingMethod.TO_NEAREST_EVEN),
                      factor)
        return lax.convert_element_type(out, dtype) if narrow else out

    if dtypes.is_complex(dtype):
        return lax.complex(round_real(lax.real(a)), round_real(lax.imag(a)))
    return round_real(a)


@library_jit(static_argnames=("decimals",))
def around(a, decimals: int = 0, out=None):
    """``round(a, decimals)`` (JAX's alias, itself a ``jit[name=around]`` around it)."""
    return round(a, decimals, out)
