"""Abstract values: the type of an array (``ShapedArray``), how a value gets one
(``get_aval``) and the user-facing ``ShapeDtypeStruct``.

Invariants: avals are immutable and compare by shape, dtype and weak type; a Python
scalar's aval is weak (bool excepted) and an integer one must fit its dtype; NumPy values
get their canonical dtype (float64 -> float32 without x64). ``fx.core`` re-exports every
name here.
"""
from __future__ import annotations

import math

import numpy as np

from fx import dtypes


class ShapedArray:
    """The type of an array: shape, dtype and whether the dtype is weak."""

    __slots__ = ("shape", "dtype", "weak_type")
    array_abstraction_level = 1

    def __init__(self, shape, dtype, weak_type: bool = False):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = weak_type

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(math.prod(self.shape)))

    def __eq__(self, other):
        return (type(other) is ShapedArray and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def __hash__(self):
        return hash((self.shape, self.dtype, self.weak_type))

    def update(self, shape=None, dtype=None, weak_type=None) -> ShapedArray:
        return ShapedArray(self.shape if shape is None else shape,
                           self.dtype if dtype is None else dtype,
                           self.weak_type if weak_type is None else weak_type)

    def strip_weak_type(self) -> ShapedArray:
        return self if not self.weak_type else ShapedArray(self.shape, self.dtype)

    def to_tangent_aval(self) -> ShapedArray:
        if dtypes.is_inexact(self.dtype):
            return self  # avals are immutable: the tangent type of an inexact one is itself
        return ShapedArray(self.shape, dtypes.float0)

    def str_short(self) -> str:
        return f"{dtypes.short_name(self.dtype)}[{','.join(map(str, self.shape))}]"

    def __repr__(self):
        weak = ", weak_type=True" if self.weak_type else ""
        return f"ShapedArray({self.str_short()}{weak})"

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]


def get_aval(x) -> ShapedArray:
    """The abstract value of a tracer, Array, NumPy array or Python scalar."""
    aval = getattr(x, "aval", None)
    if aval is not None:
        return aval
    if isinstance(x, (np.ndarray, np.generic)):  # before the Python scalars: np.float64
        return ShapedArray(x.shape, dtypes.canonicalize_dtype(x.dtype))  # subclasses float
    if isinstance(x, (bool, int, float, complex)):
        dtype, weak = dtypes.result_type_and_weak(x)
        if isinstance(x, int) and not isinstance(x, bool):
            _check_int_range(x, dtype)
        return ShapedArray((), dtype, weak)
    if hasattr(x, "__jax_array__"):
        return get_aval(x.__jax_array__())
    raise TypeError(f"Value {x!r} of type {type(x).__name__} is not a valid fx type; "
                    "expected an fx.Array, a NumPy array or a Python scalar")


def _check_int_range(x: int, dtype) -> None:
    """A Python int must fit an integer ``dtype`` (other kinds take any int)."""
    if np.dtype(dtype).kind not in "iu":
        return
    info = np.iinfo(dtype)
    if not info.min <= x <= info.max:
        raise OverflowError(f"Python int {x} too large to convert to {np.dtype(dtype).name}")


class ShapeDtypeStruct:
    """A shape and dtype standing in for an array (``fx.eval_shape``)."""

    __slots__ = ("shape", "dtype", "weak_type", "sharding")

    def __init__(self, shape, dtype, *, weak_type: bool = False, sharding=None):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = weak_type
        self.sharding = sharding

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))

    @property
    def aval(self):
        return ShapedArray(self.shape, dtypes.canonicalize_dtype(self.dtype), self.weak_type)

    def __repr__(self):
        weak = ", weak_type=True" if self.weak_type else ""
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name}{weak})"

    def __eq__(self, other):
        return (isinstance(other, ShapeDtypeStruct) and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def __hash__(self):
        return hash((self.shape, self.dtype, self.weak_type))
