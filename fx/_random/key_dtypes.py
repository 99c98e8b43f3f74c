"""Extended dtypes: the scalar classes ``extended`` and ``prng_key`` of
``fx.dtypes``, the ``ExtendedDType`` base of dtype objects that NumPy does not
know (``key<fry>``), ``issubdtype`` over them, and ``scalar_type_of``.

Invariants: this module imports only NumPy, so ``fx.dtypes`` can import it.
An extended dtype object has ``type`` (its scalar class, a subclass of
``extended``), ``name`` and ``itemsize``; ``np.dtype`` refuses it, as it refuses
JAX's.
"""
from __future__ import annotations

import abc
from typing import Any

import numpy as np

__all__ = ["extended", "prng_key", "ExtendedDType", "is_extended", "extended_issubdtype",
           "scalar_type_of"]


class extended(np.generic):
    """Scalar class of the extended dtypes (dtypes NumPy does not have, such as keys).

    ``fx.numpy.issubdtype(x.dtype, fx.dtypes.extended)`` tells whether an array has
    one.
    """


class prng_key(extended):
    """Scalar class of the PRNG key dtypes: ``issubdtype(k.dtype, prng_key)`` is True for
    the typed key arrays made by ``fx.random.key``."""


extended.__module__ = prng_key.__module__ = "fx.dtypes"  # as they are exported


class ExtendedDType(abc.ABC):
    """Base of extended dtype objects; subclasses set ``type``, ``name``, ``itemsize``."""

    type: type
    name: str
    itemsize: int

    @property
    def _rules(self):  # JAX's extended dtypes carry a rule table; fx needs none
        return None


def is_extended(dtype) -> bool:
    """Whether ``dtype`` is an extended dtype object or an extended scalar class."""
    return isinstance(dtype, ExtendedDType) or (
        isinstance(dtype, type) and issubclass(dtype, extended))


def extended_issubdtype(a, b) -> bool | None:
    """``issubdtype(a, b)`` when ``a`` or ``b`` is extended; None when neither is (the
    caller then answers as for NumPy dtypes).

    An extended dtype object is a subdtype of itself (or an equal one), of its scalar
    class and of that class's bases (``prng_key``, ``extended``, ``np.generic``); no
    NumPy dtype is a subdtype of an extended one.

    Example:
      >>> extended_issubdtype(fx.random.key(0).dtype, prng_key)
      True
    """
    if not (is_extended(a) or is_extended(b)):
        return None
    if isinstance(a, ExtendedDType):
        if isinstance(b, ExtendedDType):
            return a == b
        return isinstance(b, type) and issubclass(a.type, b)
    if isinstance(a, type) and issubclass(a, extended):
        if isinstance(b, ExtendedDType):
            return False
        return isinstance(b, type) and issubclass(a, b)
    return False  # a is a NumPy dtype, b is extended


_PY_SCALAR_OF_KIND = {"b": bool, "i": int, "u": int, "f": float, "c": complex}


def scalar_type_of(x: Any) -> type:
    """The Python scalar type (``bool``, ``int``, ``float`` or ``complex``) matching the
    dtype of ``x``.

    Raises:
      TypeError: for values whose dtype is not numeric (strings, key arrays).

    Example:
      >>> scalar_type_of(fx.numpy.zeros(3))
      <class 'float'>
    """
    for py_type in (bool, int, float, complex):  # (bool before int: it subclasses int)
        if isinstance(x, py_type):
            return py_type
    dtype = getattr(x, "dtype", None)
    if isinstance(dtype, ExtendedDType):
        raise TypeError(f"Cannot interpret '{dtype}' as a data type")
    if dtype is None:
        dtype = np.asarray(x).dtype
    dtype = np.dtype(dtype)
    name = getattr(dtype, "name", "")
    if name == "bfloat16" or name.startswith("float8") or name.startswith("float4"):
        return float
    if name.startswith("int4") or name.startswith("uint4") or name.startswith("int2"):
        return int
    kind = _PY_SCALAR_OF_KIND.get(dtype.kind)
    if kind is None:
        raise TypeError(f"Value {x!r} with dtype {dtype} is not a valid fx array type. "
                        "Only arrays of numeric types are supported.")
    return kind
