"""``lax.optimization_barrier``: the identity on a pytree of arrays, which the
compiler may not move computations across (used with ``fx.checkpoint``)."""
from __future__ import annotations

from fx import tree_util
from primitives.remat import optimization_barrier_p

__all__ = ["optimization_barrier"]


def optimization_barrier(operand):
    """Return ``operand`` (a pytree of arrays) unchanged, as one opaque operation.

    Example:
      >>> a, b = fx.lax.optimization_barrier((x, y))
    """
    leaves, tree = tree_util.tree_flatten(operand)
    if not leaves:
        return operand
    return tree_util.tree_unflatten(tree, optimization_barrier_p.bind(*leaves))
