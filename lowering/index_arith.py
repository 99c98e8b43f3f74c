"""Index arithmetic of the index-only primitives, written once over an abstract
arithmetic so that any backend can use it: the value of ``broadcast_in_dim``,
``reshape``, ``transpose``, ``iota``, ``slice``, ``rev``, ``pad``,
``concatenate`` and ``dynamic_slice`` at an output index, in terms of operand
values at operand indices.

Used by both backends: the CPU loop emitter (``lowering/cpu/loop_index.py``, LLVM values)
and the GPU kernel emitter (``lowering/gpu/kernels.py``, C expressions).

Invariants: index components are Python ints (folded at generation time) or
backend values; ``ar`` supplies the operations on them (see ``IndexArithmetic``)
and ``value(atom, index)`` the operand values. Gathered operands (pad,
concatenate, dynamic_slice) read clamped indices, so no read leaves its buffer;
the selected value is what XLA defines.
"""
from __future__ import annotations

from typing import Callable, Protocol

from lowering.fusion import squeezed

__all__ = ["IndexArithmetic", "index_value", "linearize", "delinearize"]


class IndexArithmetic(Protocol):
    """The operations ``index_value`` needs on index components (ints or backend values)."""

    def add(self, a, b): ...
    def mul(self, a, c: int): ...
    def divc(self, a, c: int): ...          # a // c for a >= 0
    def modc(self, a, c: int): ...          # a % c for a >= 0
    def sdivc(self, a, c: int): ...         # floor(a / c), any sign
    def smodc_zero(self, a, c: int): ...    # condition: a % c == 0 (any sign)
    def clamp(self, a, lo: int, hi: int): ...
    def cmp(self, op: str, a, c: int): ...  # condition a <op> c, op in < <= >= >
    def all(self, conds): ...               # condition: every one of conds
    def select(self, cond, if_true, if_false, dtype): ...  # a value
    def to_index(self, value, dtype): ...   # an index from an integer value
    def from_index(self, index, dtype): ... # a value of dtype from an index
    def literal(self, value, dtype): ...    # a constant value


def linearize(ar, idx, shape):
    """The row-major linear index of ``idx`` in ``shape``."""
    lin = 0
    for i, s in zip(idx, shape, strict=False):
        lin = ar.add(ar.mul(lin, int(s)), i)
    return lin


def delinearize(ar, lin, shape) -> tuple:
    """The index in ``shape`` of row-major linear index ``lin`` (unit dimensions give 0)."""
    out = [0] * len(shape)
    nonunit = [d for d, s in enumerate(shape) if s != 1]
    rest = lin
    for pos, d in enumerate(reversed(nonunit)):
        if pos == len(nonunit) - 1:
            out[d] = rest
        else:
            out[d] = ar.modc(rest, int(shape[d]))
            rest = ar.divc(rest, int(shape[d]))
    return tuple(out)


def index_value(eqn, idx: tuple, ar: IndexArithmetic, value: Callable):
    """The value of index-only equation ``eqn``'s output at ``idx``.

    Args:
      eqn: an equation of an index primitive (``INDEX_NAMES``).
      idx: the output index, one component per dimension.
      ar: the index arithmetic of the backend.
      value: ``value(atom, index)`` gives an operand's value at an index.
    Returns:
      the backend value; raises KeyError for a primitive this module does not know.
    """
    name = eqn.primitive.name
    p = eqn.params
    out_aval = eqn.outvars[0].aval
    x = eqn.invars[0] if eqn.invars else None
    if name == "broadcast_in_dim":
        dims = p["broadcast_dimensions"]
        return value(x, tuple(0 if x.aval.shape[i] == 1 else idx[d]
                              for i, d in enumerate(dims)))
    if name in ("reshape", "squeeze", "expand_dims"):
        xs, os_ = x.aval.shape, out_aval.shape
        if squeezed(xs) == squeezed(os_):
            moving = iter([i for i, s in zip(idx, os_, strict=False) if s != 1])
            return value(x, tuple(0 if s == 1 else next(moving) for s in xs))
        return value(x, delinearize(ar, linearize(ar, idx, os_), xs))
    if name == "transpose":
        x_idx = [0] * len(p["permutation"])
        for d, src in enumerate(p["permutation"]):
            x_idx[src] = idx[d]
        return value(x, tuple(x_idx))
    if name == "iota":
        return ar.from_index(idx[p["dimension"]], out_aval.dtype)
    if name == "slice":
        strides = p.get("strides") or (1,) * len(idx)
        return value(x, tuple(ar.add(ar.mul(i, int(st)), int(s))
                              for i, st, s in zip(idx, strides, p["start_indices"], strict=False)))
    if name == "rev":
        dims = set(p["dimensions"])
        return value(x, tuple(ar.add(int(x.aval.shape[d]) - 1, ar.mul(i, -1)) if d in dims
                              else i for d, i in enumerate(idx)))
    if name == "pad":
        return _pad(eqn, idx, ar, value)
    if name == "concatenate":
        return _concatenate(eqn, idx, ar, value)
    if name == "dynamic_slice":
        x, *starts = eqn.invars
        x_idx = []
        for i, s, size, n in zip(idx, starts, p["slice_sizes"], x.aval.shape, strict=False):
            start = ar.to_index(value(s, ()), s.aval.dtype)
            x_idx.append(ar.add(ar.clamp(start, 0, int(n) - int(size)), i))
        return value(x, tuple(x_idx))
    raise KeyError(name)


def _pad(eqn, idx, ar, value):
    x, padv = eqn.invars
    dtype = eqn.outvars[0].aval.dtype
    pad_val = value(padv, ())
    if x.aval.size == 0:
        return pad_val
    conds, x_idx = [], []
    config = eqn.params["padding_config"]
    for i, (lo, _hi, interior), n in zip(idx, config, x.aval.shape, strict=False):
        step = int(interior) + 1
        j = ar.add(i, -int(lo))
        if isinstance(j, int):
            if not (j >= 0 and j % step == 0 and j // step < n):
                return pad_val
            x_idx.append(j // step)
            continue
        conds.append(ar.cmp(">=", j, 0))
        pos = j
        if step > 1:
            conds.append(ar.smodc_zero(j, step))
            pos = ar.sdivc(j, step)
        conds.append(ar.cmp("<", pos, int(n)))
        x_idx.append(ar.clamp(pos, 0, int(n) - 1))
    val = value(x, tuple(x_idx))
    return val if not conds else ar.select(ar.all(conds), val, pad_val, dtype)


def _concatenate(eqn, idx, ar, value):
    d = eqn.params["dimension"]
    dtype = eqn.outvars[0].aval.dtype
    pieces, offset = [], 0
    for x in eqn.invars:
        n = int(x.aval.shape[d])
        if n:
            pieces.append((offset, n, x))
        offset += n
    if not pieces:  # an empty result: nothing reads it
        return ar.literal(0, dtype)
    i = idx[d]
    if isinstance(i, int):
        for off, n, x in pieces:
            if off <= i < off + n:
                return value(x, idx[:d] + (i - off,) + idx[d + 1:])
    result = None
    for off, n, x in pieces:
        local = ar.clamp(ar.add(i, -off), 0, n - 1)
        val = value(x, idx[:d] + (local,) + idx[d + 1:])
        result = val if result is None else ar.select(ar.cmp(">=", i, off), val, result, dtype)
    return result
