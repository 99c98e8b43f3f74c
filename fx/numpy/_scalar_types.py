"""The scalar types of ``fx.numpy`` (``fnp.float32``, ``fnp.int8``, ...) as JAX has them.

Invariants: each scalar type is a class whose ``dtype`` attribute is the NumPy dtype, so
it is accepted wherever a dtype is (``np.dtype(fnp.float32)``, ``x.astype(fnp.int8)``),
compares and hashes equal to the NumPy scalar type, and, called on a value, converts it
to an fx array of that dtype, which also works on tracers (``fnp.float32(x)`` under
``jit``). Types NumPy lacks (bfloat16, float8, int4, ...) come from ``ml_dtypes``.
"""
from __future__ import annotations

import warnings

import numpy as np

from fx import dtypes

try:
    import ml_dtypes as _ml
except ImportError:  # pragma: no cover - ml_dtypes is a dependency
    _ml = None

__all__ = ["bool_", "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
           "uint64", "float16", "float32", "float64", "complex64", "complex128", "bfloat16",
           "int_", "uint", "float_", "complex_", "double", "single", "csingle", "cdouble",
           "int1", "int2", "int4", "uint1", "uint2", "uint4", "float4_e2m1fn",
           "float6_e2m3fn", "float6_e3m2fn", "float8_e3m4", "float8_e4m3",
           "float8_e4m3b11fnuz", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2",
           "float8_e5m2fnuz", "float8_e8m0fnu", "generic", "number", "integer",
           "signedinteger", "unsignedinteger", "inexact", "floating", "complexfloating",
           "character", "flexible", "object_", "ComplexWarning", "dtype"]


class _ScalarMeta(type):
    """The metaclass of fx's scalar types: a dtype-like class that converts when called."""

    def __hash__(cls) -> int:
        return hash(cls.dtype.type)

    def __eq__(cls, other) -> bool:
        return cls is other or cls.dtype.type == other

    def __ne__(cls, other) -> bool:
        return not cls.__eq__(other)

    def __call__(cls, x=0):
        """Convert ``x`` to an fx array of this dtype (``fnp.float32(2)`` is a 0-d array)."""
        from fx.numpy._core import asarray
        if isinstance(x, str):
            x = np.asarray(x, dtype=cls.dtype)
        return asarray(x, dtype=cls.dtype)

    def __instancecheck__(cls, instance) -> bool:
        return isinstance(instance, cls.dtype.type)

    def __repr__(cls) -> str:
        return f"<class 'fx.numpy.{cls.__name__}'>"


def _scalar_type(np_type, name: str | None = None):
    meta = _ScalarMeta(name or np.dtype(np_type).name, (object,),
                       {"dtype": np.dtype(np_type), "__module__": "fx.numpy"})
    meta.__doc__ = f"The ``{meta.__name__}`` scalar type: a dtype, and a converter when " \
                   f"called (``fnp.{meta.__name__}(x)``)."
    return meta


bool_ = _scalar_type(np.bool_, "bool")
bool = bool_  # noqa: A001  (JAX exports both names)
int8, int16, int32, int64 = (_scalar_type(t) for t in (np.int8, np.int16, np.int32, np.int64))
uint8, uint16, uint32, uint64 = (_scalar_type(t) for t in (np.uint8, np.uint16, np.uint32,
                                                           np.uint64))
float16, float32, float64 = (_scalar_type(t) for t in (np.float16, np.float32, np.float64))
complex64, complex128 = _scalar_type(np.complex64), _scalar_type(np.complex128)
bfloat16 = _scalar_type(dtypes.bfloat16) if dtypes.bfloat16 is not None else None

int_, uint, float_, complex_ = int64, uint64, float64, complex128
double, single, csingle, cdouble = float64, float32, complex64, complex128


def _ml_type(name):
    if _ml is None or not hasattr(_ml, name):  # pragma: no cover - depends on ml_dtypes
        return None
    return _scalar_type(getattr(_ml, name), name)


int1, int2, int4 = _ml_type("int1"), _ml_type("int2"), _ml_type("int4")
uint1, uint2, uint4 = _ml_type("uint1"), _ml_type("uint2"), _ml_type("uint4")
float4_e2m1fn = _ml_type("float4_e2m1fn")
float6_e2m3fn, float6_e3m2fn = _ml_type("float6_e2m3fn"), _ml_type("float6_e3m2fn")
float8_e3m4, float8_e4m3 = _ml_type("float8_e3m4"), _ml_type("float8_e4m3")
float8_e4m3b11fnuz = _ml_type("float8_e4m3b11fnuz")
float8_e4m3fn, float8_e4m3fnuz = _ml_type("float8_e4m3fn"), _ml_type("float8_e4m3fnuz")
float8_e5m2, float8_e5m2fnuz = _ml_type("float8_e5m2"), _ml_type("float8_e5m2fnuz")
float8_e8m0fnu = _ml_type("float8_e8m0fnu")

# the abstract scalar classes are NumPy's own, as in JAX
generic, number, integer = np.generic, np.number, np.integer
signedinteger, unsignedinteger = np.signedinteger, np.unsignedinteger
inexact, floating, complexfloating = np.inexact, np.floating, np.complexfloating
character, flexible, object_ = np.character, np.flexible, np.object_
dtype = np.dtype

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    ComplexWarning = np.exceptions.ComplexWarning
