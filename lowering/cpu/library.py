"""Library calls of the CPU backend: equations that are neither elementwise, index-only
nor reductions but still run natively (sort, cumulative ops, gather/scatter, LAPACK, ...).

Invariants: each such primitive registers a ``supports(eqn) -> bool`` and an
``emit(ctx, eqn)`` here; fusion treats every supported equation of this kind as a
boundary (its operands and results live in buffers), and the segment's entry
function calls ``emit`` at the equation's place. ``ctx`` is a ``LibraryContext``.
A result buffer never shares memory with an operand buffer of the same call
(the emitted helpers declare their pointers ``noalias``; sort, gather and
scatter read operands after writing results).
"""
from __future__ import annotations

from typing import Callable

__all__ = ["LibraryContext", "register", "supports", "emit_call"]

_RULES: dict[str, tuple[Callable, Callable]] = {}


class LibraryContext:
    """What an emitter needs at the call site.

    Attributes:
      module: the LLVM module being built (declare helper functions here).
      builder: an ``ir.IRBuilder`` positioned in the segment's entry function.
      pointer_of: ``pointer_of(var)`` gives the data pointer (``ptr``) of a buffer
        (operands, including literals, and results).
      status: pointer to the ``i8`` status flag; set it to 1 on an out-of-bounds access
        caught under ``bounds_check``.
      bounds_check: whether loads and stores must be checked (``FX_BOUNDS_CHECK=1``).
    """

    __slots__ = ("module", "builder", "pointer_of", "status", "bounds_check")

    def __init__(self, module, builder, pointer_of, status, bounds_check):
        self.module = module
        self.builder = builder
        self.pointer_of = pointer_of
        self.status = status
        self.bounds_check = bounds_check


def register(name: str, supports_fn: Callable, emit_fn: Callable) -> None:
    """Make primitive ``name`` a native library call on the CPU."""
    _RULES[name] = (supports_fn, emit_fn)


def supports(eqn) -> bool:
    """Whether ``eqn`` runs as a native library call."""
    rule = _RULES.get(eqn.primitive.name)
    return rule is not None and bool(rule[0](eqn))


def emit_call(ctx: LibraryContext, eqn) -> None:
    """Emit ``eqn``'s library call at ``ctx.builder``'s position."""
    _RULES[eqn.primitive.name][1](ctx, eqn)


# the library calls register themselves on import
from lowering.cpu import lib_cumulative, lib_gather, lib_lapack, lib_random, lib_sort  # noqa: E402,F401,E501
from lowering.cpu import lib_fft, lib_lapack_spectral, lib_window  # noqa: E402,F401
