"""``fx.memory``: memory spaces (``jax.memory``).

Invariant: fx keeps every buffer in one memory per device, so a memory space is recorded
(on a ``Ref``, say) but moves nothing.
"""
from __future__ import annotations

import enum

__all__ = ["Space"]


class Space(enum.Enum):
    """Where a buffer lives: device memory, pinned host memory, or anywhere."""

    Device = 1
    Host = 2
    Any = 3

    def __repr__(self):
        return f"MemorySpace.{self.name}"

    __str__ = __repr__
