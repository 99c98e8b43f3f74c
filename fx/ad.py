"""``fx.ad``: the markers of JAX's reference-aware ``vjp`` (``jax.ad``).

Invariants: each marker is an immutable, field-less value (equal to every other of its
class, hashable); ``GradRef`` is a pytree node with no leaves, the others are leaves.
They say, per argument of a backward pass, how its cotangent is wanted: as a value
(``GradValue``), accumulated into a ``Ref`` (``GradRef``), or not at all (``DontWant``);
``DidntWant`` stands in the result for a cotangent that was not asked for.
"""
from __future__ import annotations

import dataclasses

from fx import tree_util

__all__ = ["DidntWant", "DontWant", "GradRef", "GradValue"]


@dataclasses.dataclass(frozen=True, slots=True)
class GradRef:
    """The cotangent of this argument is accumulated into a ``Ref``."""


@dataclasses.dataclass(frozen=True, slots=True)
class GradValue:
    """The cotangent of this argument is returned as a value (the default)."""


@dataclasses.dataclass(frozen=True, slots=True)
class DontWant:
    """No cotangent is wanted for this argument."""


@dataclasses.dataclass(frozen=True, slots=True)
class DidntWant:
    """Stands for a cotangent that was not asked for (``DontWant``)."""


tree_util.register_pytree_node(GradRef, lambda _: ((), None), lambda _aux, _children: GradRef())
