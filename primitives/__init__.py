"""Every primitive of fx, one block each, grouped by family.

Invariant: importing this package registers every primitive in
``primitives.registry`` (name -> Primitive); no backend is imported here.
"""
import warnings as _warnings

from primitives._rules import registry

# Eager impls follow XLA: inf/nan results are values, not warnings. NumPy attributes its
# floating-point warnings to the calling frame, so this filter covers fx's own calls only.
_warnings.filterwarnings("ignore", category=RuntimeWarning,
                         module=r"(primitives|fx|lowering)(\..*)?$")
# (the filter comes first: registration below may already compute)
from primitives import elementwise, convert, shape, reductions  # noqa: F401  (registration)
from primitives import slicing, indexing, cumulative, windowed, sort  # noqa: F401
from primitives import linalg, convolution  # noqa: F401
from primitives import control_flow, custom_derivatives  # noqa: F401
from primitives import random  # noqa: F401  (registration)
from primitives import collectives  # noqa: F401
from primitives import linalg_decomp, linalg_spectral, fft  # noqa: F401
from primitives import lax_extra, rng_bit_generator, linear_solve, special_more  # noqa: F401
from primitives import reduce_generic  # noqa: F401  (registration)
from primitives import linalg_more  # noqa: F401  (registration)
from primitives.collectives import *  # noqa: F401,F403
from primitives.elementwise import *  # noqa: F401,F403
from primitives.convert import *  # noqa: F401,F403
from primitives.shape import *  # noqa: F401,F403
from primitives.reductions import *  # noqa: F401,F403
from primitives.slicing import *  # noqa: F401,F403
from primitives.indexing import *  # noqa: F401,F403
from primitives.cumulative import *  # noqa: F401,F403
from primitives.windowed import *  # noqa: F401,F403
from primitives.sort import *  # noqa: F401,F403
from primitives.linalg import *  # noqa: F401,F403
from primitives.convolution import *  # noqa: F401,F403


def all_primitives():
    """Every registered primitive, sorted by name."""
    return [registry[k] for k in sorted(registry)]
