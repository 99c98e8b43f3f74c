"""``fx.tree``: the short names for pytree operations, as ``jax.tree`` has them.

Every function here is the same object as its ``fx.tree_util.tree_*`` counterpart (so
``fx.tree.map is fx.tree_util.tree_map``), except ``static``, a dataclass-field helper.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .tree_util import (
    tree_all as all,
    tree_broadcast as broadcast,
    tree_flatten as flatten,
    tree_flatten_with_path as flatten_with_path,
    tree_leaves as leaves,
    tree_leaves_with_path as leaves_with_path,
    tree_map as map,
    tree_map_with_path as map_with_path,
    tree_reduce as reduce,
    tree_reduce_associative as reduce_associative,
    tree_structure as structure,
    tree_transpose as transpose,
    tree_unflatten as unflatten,
)

__all__ = [
    "all", "broadcast", "flatten", "flatten_with_path", "leaves", "leaves_with_path", "map",
    "map_with_path", "reduce", "reduce_associative", "static", "structure", "transpose",
    "unflatten",
]


def static(**kwargs: Any) -> Any:
    """A ``dataclasses.field`` marked static, for ``fx.tree_util.register_dataclass``.

    Args:
      **kwargs: as for ``dataclasses.field``; ``metadata`` is extended with ``static=True``.

    Returns:
      The field; with the dataclass-inferred ``register_dataclass`` it becomes a meta field
      (part of the treedef, not a leaf).

    Example:
      >>> @fx.tree_util.register_dataclass
      ... @dataclasses.dataclass
      ... class Op:
      ...     x: Any
      ...     kind: str = fx.tree.static(default="add")
    """
    metadata = dict(kwargs.pop("metadata", None) or {})
    metadata["static"] = True
    return dataclasses.field(metadata=metadata, **kwargs)
