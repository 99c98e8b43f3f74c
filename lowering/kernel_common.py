"""What the CPU loop emitter (``lowering/cpu/loops.py``) and the GPU kernel emitter
(``lowering/gpu/kernels.py``) share about a fusion group, independent of the code
they write: the error that sends equations back to eager, the identities of
reductions, the order in which a rows group's reductions are computed, and how an
output index and a reduced index make an operand index.

Invariants: pure functions of the fusion plan (``lowering/fusion.py``); nothing here
emits code.
"""
from __future__ import annotations

import math

import numpy as np

from fx import dtypes as fx_dtypes
from fx.core import Literal

__all__ = ["CodegenError", "is_float", "reduction_identity", "reduction_phases", "merge_index"]


class CodegenError(Exception):
    """An emitter cannot handle an equation: ``CodegenError(message, eqns)`` names the
    equations at fault (the caller runs them through their eager impl instead)."""

    def __init__(self, message, eqns=()):
        super().__init__(message, list(eqns))
        self.eqns = list(eqns)


def is_float(dtype) -> bool:
    """Float16, bfloat16, float32 or float64 (the floating types kernels compute in)."""
    dtype = np.dtype(dtype)
    return dtype.kind == "f" or dtype == fx_dtypes.bfloat16


def reduction_identity(name: str, dtype):
    """The identity of reduction ``name`` (``reduce_*``, ``argmax``/``argmin``: the
    starting best value) over ``dtype``, as a Python value."""
    dtype = np.dtype(dtype)
    if name in ("reduce_sum", "reduce_or", "reduce_xor"):
        return False if dtype == np.bool_ else 0
    if name == "reduce_prod":
        return 1
    if name == "reduce_and":
        return True if dtype == np.bool_ else -1
    big = name in ("reduce_min", "argmin")
    if dtype == np.bool_:
        return big
    if is_float(dtype):
        return math.inf if big else -math.inf
    info = np.iinfo(dtype)
    return int(info.max if big else info.min)


def reduction_phases(group) -> list[list]:
    """The reductions of a rows group grouped into phases, in order: a reduction that
    reads another one's result (through the group's equations) comes in a later phase."""
    reds = {id(e.outvars[0]): e for e in group.reductions}
    producer = {id(o): e for e in group.eqns for o in e.outvars}
    level: dict[int, int] = {}

    def reads(var, seen) -> int:  # the deepest phase that ``var`` depends on
        e = producer.get(id(var))
        if e is None or id(var) in seen:
            return 0
        seen.add(id(var))
        if id(var) in reds:
            return depth(e)
        return max([reads(v, seen) for v in e.invars if not isinstance(v, Literal)] or [0])

    def depth(e) -> int:
        if id(e) not in level:
            level[id(e)] = 1 + max([reads(v, set()) for v in e.invars
                                    if not isinstance(v, Literal)] or [0])
        return level[id(e)]

    phases: dict[int, list] = {}
    for e in group.reductions:
        phases.setdefault(depth(e), []).append(e)
    return [phases[d] for d in sorted(phases)]


def merge_index(shape, axes, outer, inner) -> tuple:
    """The index into ``shape`` whose reduced ``axes`` take ``inner``'s components and
    whose other dimensions take ``outer``'s, each in order."""
    it_o, it_i = iter(outer), iter(inner)
    return tuple(next(it_i) if d in axes else next(it_o) for d in range(len(shape)))
