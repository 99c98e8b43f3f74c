"""``fx.numpy``: JAX's ``jax.numpy``, built on fx's primitives."""
import numpy as _np

from fx import dtypes as _dtypes
from fx.array import Array as ndarray  # noqa: F401
from fx.numpy._core import *  # noqa: F401,F403
from fx.numpy._core import abs, all, any, max, min, round, sum  # noqa: F401
from fx.numpy._joining import *  # noqa: F401,F403
from fx.numpy._indexing import *  # noqa: F401,F403
from fx.numpy._sorting import *  # noqa: F401,F403
from fx.numpy._linalg_ops import *  # noqa: F401,F403
from fx.numpy import _operators  # noqa: F401  (installs the operators)

bool_ = _np.bool_
int8, int16, int32, int64 = _np.int8, _np.int16, _np.int32, _np.int64
uint8, uint16, uint32, uint64 = _np.uint8, _np.uint16, _np.uint32, _np.uint64
float16, float32, float64 = _np.float16, _np.float32, _np.float64
complex64, complex128 = _np.complex64, _np.complex128
bfloat16 = _dtypes.bfloat16.type if _dtypes.bfloat16 is not None else None
inf, nan, pi, e, euler_gamma = _np.inf, _np.nan, _np.pi, _np.e, _np.euler_gamma
newaxis = None
dtype = _np.dtype
promote_types = _dtypes.promote_types
result_type = _dtypes.result_type
iinfo, finfo, can_cast, issubdtype = _dtypes.iinfo, _dtypes.finfo, _dtypes.can_cast, \
    _dtypes.issubdtype
integer, floating, complexfloating, inexact, number = (
    _np.integer, _np.floating, _np.complexfloating, _np.inexact, _np.number)
signedinteger, unsignedinteger, generic = _np.signedinteger, _np.unsignedinteger, _np.generic
