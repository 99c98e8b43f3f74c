"""Dtypes and JAX's type promotion lattice with weak types.

Invariants: every dtype fx hands out is canonical (64-bit types become 32-bit
unless ``jax_enable_x64`` is on); a *weak* type is the type of a Python scalar,
which defers to the other operand's dtype. ``promote_types`` and
``result_type`` are the least upper bound in JAX's lattice, computed once into
a table.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np

from fx.config import config
from fx._random.key_dtypes import (ExtendedDType, extended, extended_issubdtype,  # noqa: F401
                                   prng_key, scalar_type_of)

try:  # bfloat16 comes from ml_dtypes, the field's standard home for it.
    import ml_dtypes as _ml_dtypes

    bfloat16 = np.dtype(_ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - ml_dtypes is a dependency
    _ml_dtypes = None
    bfloat16 = None

float0 = np.dtype([("float0", np.void, 0)])
"""The dtype of tangents of integer and boolean values (no data)."""

bool_ = np.dtype(np.bool_)
int8, int16, int32, int64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
uint8, uint16, uint32, uint64 = (np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))
float16, float32, float64 = (np.dtype(t) for t in (np.float16, np.float32, np.float64))
complex64, complex128 = np.dtype(np.complex64), np.dtype(np.complex128)

_SHORT = {
    bool_: "bool", int8: "i8", int16: "i16", int32: "i32", int64: "i64",
    uint8: "u8", uint16: "u16", uint32: "u32", uint64: "u64",
    float16: "f16", float32: "f32", float64: "f64",
    complex64: "c64", complex128: "c128", float0: "float0",
}
if bfloat16 is not None:
    _SHORT[bfloat16] = "bf16"


def short_name(dtype: np.dtype) -> str:
    """The dtype as jaxprs print it: ``f32``, ``i32``, ``bool``."""
    return _SHORT.get(dtype) or dtype.name


_CANONICAL_32 = {int64: int32, uint64: uint32, float64: float32, complex128: complex64}


_SUPPORTED_KINDS = frozenset("biufc")
# the narrow types ml_dtypes defines (float8 variants, int4, ...), as JAX accepts them
_ML_DTYPES = frozenset(
    np.dtype(getattr(_ml_dtypes, name)) for name in (
        "float8_e4m3fn", "float8_e4m3fnuz", "float8_e4m3b11fnuz", "float8_e5m2",
        "float8_e5m2fnuz", "float8_e3m4", "float8_e4m3", "float8_e8m0fnu", "float4_e2m1fn",
        "int4", "uint4", "int2", "uint2")
    if _ml_dtypes is not None and hasattr(_ml_dtypes, name))


def canonicalize_dtype(dtype: Any) -> np.dtype:
    """``dtype`` as fx stores it: 64-bit types narrowed unless x64 is enabled."""
    try:
        dtype = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"{dtype!r} is not a valid dtype: {e}") from None
    if dtype.kind not in _SUPPORTED_KINDS and dtype != bfloat16 and dtype != float0 \
            and dtype not in _ML_DTYPES:
        raise TypeError(f"dtype {dtype.name!r} is not supported by fx; use a boolean, "
                        "integer, floating or complex dtype")
    if config.jax_enable_x64:
        return dtype
    return _CANONICAL_32.get(dtype, dtype)


def default_int_dtype() -> np.dtype:
    return int64 if config.jax_enable_x64 else int32


def default_uint_dtype() -> np.dtype:
    return uint64 if config.jax_enable_x64 else uint32


def default_float_dtype() -> np.dtype:
    return float64 if config.jax_enable_x64 else float32


def default_complex_dtype() -> np.dtype:
    return complex128 if config.jax_enable_x64 else complex64


def is_float(dtype) -> bool:
    return np.dtype(dtype).kind == "f" or np.dtype(dtype) == bfloat16


def is_complex(dtype) -> bool:
    return np.dtype(dtype).kind == "c"


def is_inexact(dtype) -> bool:
    dtype = np.dtype(dtype)
    return dtype.kind in "fc" or dtype == bfloat16


def is_integer(dtype) -> bool:
    return np.dtype(dtype).kind in "iu"


def is_signed(dtype) -> bool:
    return np.dtype(dtype).kind == "i"


def is_bool(dtype) -> bool:
    return np.dtype(dtype) == bool_


def issubdtype(a, b) -> bool:
    """``np.issubdtype`` that also knows bfloat16 is a floating type and key dtypes are
    ``prng_key``/``extended``."""
    if a is None:
        return False
    r = extended_issubdtype(a, b)
    if r is not None:
        return r
    a = np.dtype(a) if not isinstance(a, type) or not issubclass(a, np.generic) else a
    if bfloat16 is not None and np.dtype(a) == bfloat16:
        return b in (np.floating, np.inexact, np.number, np.generic) or np.dtype(b) == bfloat16
    return np.issubdtype(a, b)


# ---------------------------------------------------------------------------
# The promotion lattice. Nodes are dtypes or the weak kinds "i*", "f*", "c*".
_WEAK_INT, _WEAK_FLOAT, _WEAK_COMPLEX = "i*", "f*", "c*"
_EDGES: dict[Any, list[Any]] = {
    bool_: [_WEAK_INT],
    _WEAK_INT: [uint8, int8],
    uint8: [int16, uint16], uint16: [int32, uint32], uint32: [int64, uint64],
    uint64: [_WEAK_FLOAT],
    int8: [int16], int16: [int32], int32: [int64], int64: [_WEAK_FLOAT],
    _WEAK_FLOAT: [_WEAK_COMPLEX, float16] + ([bfloat16] if bfloat16 is not None else []),
    float16: [float32], float32: [float64, complex64], float64: [complex128],
    _WEAK_COMPLEX: [complex64], complex64: [complex128], complex128: [],
}
if bfloat16 is not None:
    _EDGES[bfloat16] = [float32]


def _upper_bounds(node) -> frozenset:
    seen, stack = {node}, [node]
    while stack:
        for nxt in _EDGES[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return frozenset(seen)


_BOUNDS_X64 = {node: _upper_bounds(node) for node in _EDGES}
# Without x64, no promotion may form a 64-bit type from narrower inputs; the one place the
# lattice does (uint32 with int32 -> int64) goes to int32 instead, as in JAX.
_EDGES[uint32] = [int32, uint64]
_BOUNDS_X32 = {node: _upper_bounds(node) for node in _EDGES}
_EDGES[uint32] = [int64, uint64]


def _lub(a, b):
    return _lub_in(a, b, config.jax_enable_x64)


@functools.lru_cache(maxsize=None)
def _lub_in(a, b, x64: bool):
    bounds = _BOUNDS_X64 if x64 else _BOUNDS_X32
    common = bounds[a] & bounds[b]
    # the least element is the one every other common bound lies above
    for node in common:
        if common <= bounds[node]:
            return node
    raise TypeError(f"no common type for {a} and {b}")


def _node(dtype: np.dtype, weak: bool):
    if not weak:
        return dtype
    kind = dtype.kind
    if kind == "b":
        return bool_
    if kind in "iu":
        return _WEAK_INT
    if kind == "c":
        return _WEAK_COMPLEX
    return _WEAK_FLOAT


def _from_node(node) -> tuple[np.dtype, bool]:
    if node == _WEAK_INT:
        return default_int_dtype(), True
    if node == _WEAK_FLOAT:
        return default_float_dtype(), True
    if node == _WEAK_COMPLEX:
        return default_complex_dtype(), True
    return canonicalize_dtype(node), False


def promote_types(a, b) -> np.dtype:
    """The dtype both ``a`` and ``b`` convert to, by JAX's lattice (strong types).

    As in JAX, the result is not canonicalized: int32 and int64 give int64 even when
    64-bit types are disabled (``result_type`` canonicalizes).
    """
    node = _lub(np.dtype(a), np.dtype(b))
    # a weak kind reached from strong inputs means the widest type of that kind
    return {_WEAK_INT: int64, _WEAK_FLOAT: float64, _WEAK_COMPLEX: complex128}.get(node, node)


def is_python_scalar(x) -> bool:
    """Whether ``x`` is a Python scalar (bool, int, float or complex, subclasses included)
    and not a NumPy scalar: ``np.float64`` and ``np.complex128`` subclass ``float`` and
    ``complex`` but carry a dtype (strong), as in JAX."""
    return isinstance(x, (bool, int, float, complex)) and not isinstance(x, np.generic)


def is_weak_scalar(x) -> bool:
    """Whether ``x`` is a weakly typed Python scalar: an int, float or complex (not a bool,
    not a NumPy scalar)."""
    return (isinstance(x, (int, float, complex)) and not isinstance(x, (bool, np.generic)))


def _dtype_and_weak(x) -> tuple[np.dtype, bool]:
    if x is None:
        raise TypeError("result_type got None; expected an array, dtype or Python scalar")
    if isinstance(x, np.generic):  # np.float64 is a float subclass, but strongly typed
        return canonicalize_dtype(x.dtype), False
    if isinstance(x, bool):
        return bool_, False
    if isinstance(x, int):
        return default_int_dtype(), True
    if isinstance(x, float):
        return default_float_dtype(), True
    if isinstance(x, complex):
        return default_complex_dtype(), True
    aval = getattr(x, "aval", None)
    if aval is not None:
        return aval.dtype, aval.weak_type
    dtype = getattr(x, "dtype", None)
    if dtype is not None and not isinstance(x, type):
        return canonicalize_dtype(dtype), bool(getattr(x, "weak_type", False))
    if isinstance(x, type) and x in (int, float, complex, bool):
        return _dtype_and_weak(x(0))
    return canonicalize_dtype(x), False


def result_type_and_weak(*args) -> tuple[np.dtype, bool]:
    """The promoted dtype of ``args`` and whether the result is weakly typed."""
    if not args:
        raise ValueError("at least one array or dtype is required")
    node = None
    for arg in args:
        dtype, weak = _dtype_and_weak(arg)
        n = _node(dtype, weak)
        node = n if node is None else _lub(node, n)
    return _from_node(node)


def result_type(*args, return_weak_type_flag: bool = False):
    """JAX's ``result_type``: the dtype ``args`` promote to."""
    dtype, weak = result_type_and_weak(*args)
    return (dtype, weak) if return_weak_type_flag else dtype


def dtype(x, *, canonicalize: bool = False) -> np.dtype:
    """The dtype of an array, scalar or dtype-like ``x``."""
    d = _dtype_and_weak(x)[0]
    return canonicalize_dtype(d) if canonicalize else d


def scalar_type_dtype(x) -> np.dtype:
    """The canonical dtype for a Python scalar value."""
    return _dtype_and_weak(x)[0]


def iinfo(int_type):
    return np.iinfo(np.dtype(int_type))


def finfo(float_type):
    d = np.dtype(float_type)
    if _ml_dtypes is not None and d == bfloat16:
        return _ml_dtypes.finfo(d)
    return np.finfo(d)


def can_cast(from_, to, casting: str = "safe") -> bool:
    return np.can_cast(np.dtype(from_), np.dtype(to), casting=casting)


class TypePromotionError(ValueError):
    """Raised when two dtypes have no promotion under the current promotion mode."""


def itemsize_bits(dtype) -> int:
    """The number of bits one element of ``dtype`` occupies."""
    dtype = np.dtype(dtype)
    if dtype == float0:
        return 0
    return dtype.itemsize * 8
