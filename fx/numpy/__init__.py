"""``fx.numpy``: JAX's ``jax.numpy``, built on fx's primitives.

It is also the namespace of the Python array API standard (2023.12) for fx arrays:
``x.__array_namespace__()`` returns this module.
"""
import numpy as _np

from fx import dtypes as _dtypes
from fx.array import Array as ndarray  # noqa: F401
from fx.numpy._scalar_types import *  # noqa: F401,F403
from fx.numpy._core import *  # noqa: F401,F403
from fx.numpy._core import abs, all, any, max, min, round, sum  # noqa: F401
from fx.numpy._array_api import *  # noqa: F401,F403
from fx.numpy._array_api import __array_api_version__, __array_namespace_info__  # noqa: F401
from fx.numpy._math import *  # noqa: F401,F403
from fx.numpy._math import divmod, pow  # noqa: F401
from fx.numpy._reductions import *  # noqa: F401,F403
from fx.numpy._creation import *  # noqa: F401,F403
from fx.numpy._setops import *  # noqa: F401,F403
from fx.numpy._numeric import *  # noqa: F401,F403
from fx.numpy._polynomial import *  # noqa: F401,F403
from fx.numpy._misc import *  # noqa: F401,F403
from fx.numpy._functional import *  # noqa: F401,F403
# the modules below are other engineers'; imported last, their names win on any overlap
from fx.numpy._joining import *  # noqa: F401,F403
from fx.numpy._indexing import *  # noqa: F401,F403
from fx.numpy._sorting import *  # noqa: F401,F403
from fx.numpy._linalg_ops import *  # noqa: F401,F403
from fx.numpy import _operators  # noqa: F401  (installs the operators)
from fx.numpy import _ufuncs  # noqa: F401  (ufunc methods on add, multiply, ...)

from fx.numpy import linalg, fft  # noqa: F401,E402
from fx.dlpack import from_dlpack  # noqa: F401,E402

inf, nan, pi, e, euler_gamma = _np.inf, _np.nan, _np.pi, _np.e, _np.euler_gamma
newaxis = None
promote_types = _dtypes.promote_types
result_type = _dtypes.result_type
iinfo, finfo, can_cast, issubdtype = _dtypes.iinfo, _dtypes.finfo, _dtypes.can_cast, \
    _dtypes.issubdtype
