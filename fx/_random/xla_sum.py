"""Float sums added in the order XLA's CPU backend adds ``jnp.sum``'s ``reduce`` (JAX
0.10.2, x86 with AVX-512), so fx's eager ``reduce_sum`` gives JAX's bits where the order
is known: the default (``order=None``) eager impl of float32/float64 sums (and 16-bit
floats, which accumulate in float32) goes through ``xla_order_sum``.

Established by comparison with ``jax.jit(lambda x: x.sum(axes))`` (eager ``jnp.sum``
compiles the same program and gives the same bits):
- fewer than 4096 input elements, any axes: XLA's own loop emitter
  (``primitives.reduce_order.xla_cpu_sum``: in order up to 32, zero-padded windows of 32
  beyond);
- 4096 elements or more, reduced axes trailing (rows, full reductions, the last ``k``
  axes): YNNPACK's kernel (``ynn_sum._kernel``) on pieces of at most 128 KiB of the reduced
  block, cut along its first axis into slabs of whole sub-blocks (``32768 // prod(rest)``
  float32 rows of a 2-D block: 65 rows of 500 for a (400, 500) sum; a leading axis of
  size 1 is looked through); the pieces' totals folded in halves. Exact for single rows
  of up to 32 float32 or 16 float64 pieces (4 MiB, 2 MiB), for rows of at most one piece,
  and for full reductions of 2-D and 3-D arrays (confirmed on random data); arrays of
  several rows of several pieces each are partitioned otherwise by XLA (about half their
  totals differ by an ulp; ``None``), as are blocks whose sub-blocks exceed a piece;
- 4096 elements or more with a kept axis after a reduced one (column sums): not
  reproduced (``None``: the caller's own order). Observed: rows added in chains of four,
  four chains per group, groups of 16 chained (``[4, 4, 16]``), exact for some shapes
  ((64, 64), (128, 40), (512, 10)) but not for wide or narrow arrays ((400, 500), (1000, 8)).

Invariants: float32 or float64 NumPy arrays in, the same dtype out; ``None`` where the
order is unknown (complex, integers, column sums of 4096 elements or more).
"""
from __future__ import annotations

import math

import numpy as np

from fx._random.ynn_sum import _PIECE_BYTES, _fold_halves, _kernel, ynn_sum_last
from primitives.reduce_order import xla_cpu_sum

__all__ = ["YNN_MIN_SIZE", "xla_order_sum", "ynn_sum_trailing"]

#: reductions of this many input elements or more run through YNNPACK
YNN_MIN_SIZE = 4096
#: the most pieces whose fold in halves was confirmed on random data, by itemsize (float32
#: beyond about 40 pieces and float64 beyond 17 sometimes round otherwise)
_MAX_PIECES = {4: 32, 8: 16}


def _pieces(block_shape: tuple, per: int) -> list | None:
    """Index tuples (into a reduced block of ``block_shape``) of YNNPACK's pieces, in
    order: the whole block if it fits, else slabs of whole sub-blocks along the first
    axis; a leading axis of size 1 is looked through; ``None`` where the order is not
    known (sub-blocks of several pieces each)."""
    size = math.prod(block_shape)
    if size <= per:
        return [()]
    if len(block_shape) == 1:
        return [(slice(s, s + per),) for s in range(0, size, per)]
    sub = math.prod(block_shape[1:])
    group = per // sub
    if group:
        return [(slice(s, s + group),) for s in range(0, block_shape[0], group)]
    inner = _pieces(block_shape[1:], per) if block_shape[0] == 1 else None
    if inner is not None:
        return [(0,) + rest for rest in inner]
    return None   # several sub-blocks of several pieces each: XLA's partition is not known


def ynn_sum_trailing(x: np.ndarray, k: int) -> np.ndarray:
    """The sum over the last ``k`` axes of float32 or float64 ``x`` as XLA's CPU backend
    has YNNPACK add it (see the module docstring).

    Args:
      x: float32 or float64 array.
      k: how many trailing axes to reduce (0 < k <= x.ndim).

    Returns:
      ``x.shape[:-k]``-shaped sums of ``x``'s dtype, or ``None`` where XLA's partition
      is not known: several sums of several pieces each, more pieces than confirmed
      (32 float32, 16 float64), or a reduced block whose sub-blocks (below a leading
      axis longer than 1) exceed a piece.

    Example: ``ynn_sum_trailing(np.ones((3, 400, 500), np.float32), 2)`` is ``[2e5] * 3``.
    """
    x = np.asarray(x)
    dtype = x.dtype.type
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"ynn_sum_trailing expects float32 or float64, got {x.dtype}")
    if not 0 < k <= x.ndim:
        raise ValueError(f"ynn_sum_trailing: k={k} must be in 1..{x.ndim} for shape {x.shape}")
    lead, block = x.shape[:x.ndim - k], x.shape[x.ndim - k:]
    if math.prod(block) == 0:
        return np.zeros(lead, dtype)
    per = _PIECE_BYTES // x.dtype.itemsize
    pieces = _pieces(block, per)
    if pieces is None or len(pieces) > _MAX_PIECES[x.dtype.itemsize] \
            or (len(pieces) > 1 and math.prod(lead) > 1):
        return None
    if len(pieces) > 1 and len(pieces[-1]) == 1 and math.prod(block[1:]) == 1:
        return ynn_sum_last(x.reshape(lead + (-1,)))   # pieces of one long row, batched
    if len(pieces) > 1 and len(pieces[0]) == 1:
        # slabs along the block's first axis: the equal ones as one batch, then the last
        group = pieces[0][0].stop
        whole = block[0] // group
        head = x.reshape(lead + (block[0], -1))
        totals = _kernel(head[..., :whole * group, :].reshape(lead + (whole, -1)), dtype)
        totals = [totals[..., j] for j in range(whole)]
        if block[0] % group:
            totals.append(_kernel(head[..., whole * group:, :].reshape(lead + (-1,)), dtype))
        return _fold_halves(totals)
    pad = (slice(None),) * len(lead)
    totals = [_kernel(x[pad + index].reshape(lead + (-1,)), dtype)
              for index in pieces]
    return _fold_halves(totals)


def xla_order_sum(x: np.ndarray, axes) -> np.ndarray | None:
    """``x`` summed over ``axes`` in XLA's CPU order, or ``None`` where it is not known.

    Args:
      x: a NumPy array; only float32 and float64 are handled (16-bit floats: convert to
        float32 first, as XLA accumulates them).
      axes: distinct non-negative reduced axes.

    Returns:
      The sum (``x``'s dtype, reduced axes dropped), or ``None`` for other dtypes, for
      column sums of 4096 elements or more and for the partitions ``ynn_sum_trailing``
      does not know.

    Example: ``xla_order_sum(np.float32([1e8, 1, -1e8]), (0,))`` is ``0.0``.
    """
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        return None
    axes = tuple(sorted(int(a) for a in axes))
    if not axes:
        return None
    if x.size < YNN_MIN_SIZE:
        return xla_cpu_sum(x, axes)
    k = len(axes)
    if axes != tuple(range(x.ndim - k, x.ndim)):
        return None
    return ynn_sum_trailing(x, k)
