"""Every primitive of fx, one block each, grouped by family.

Invariant: importing this package registers every primitive in
``primitives.registry`` (name -> Primitive); no backend is imported here.
"""
from primitives._rules import registry
from primitives import elementwise, shape, reductions  # noqa: F401  (registration)
from primitives.elementwise import *  # noqa: F401,F403
from primitives.shape import *  # noqa: F401,F403
from primitives.reductions import *  # noqa: F401,F403


def all_primitives():
    """Every registered primitive, sorted by name."""
    return [registry[k] for k in sorted(registry)]
