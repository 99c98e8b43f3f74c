"""Sums over the last axis added in the order YNNPACK's reduction kernels add them (XLA's
CPU backend hands reductions of 4096 elements or more to YNNPACK, JAX's dirichlet's
softmax among them), so row totals round as JAX's do.

Read from jaxlib 0.10.2's ``ynn::sum_k1_fp32_avx512`` and ``ynn::sum_k1_fp64_avx512``
(the kernels XLA picks on x86 with AVX-512; other processors get other kernels, not
modelled) and confirmed bit for bit against ``jax.jit(lambda x: x.sum(-1))``. Rows
longer than 128 KiB (32768 float32, 16384 float64 elements) are cut into pieces of 128 KiB, each
summed by the kernel, and the pieces' totals are folded in halves as lanes are (zero-padded
to a power of two: ``(p0 + p2) + p1`` for three, ``((p0 + p4) + p2) + (p1 + p3)`` for
five), found by probing ``jnp.sum`` with exactly representable values and confirmed on
random single rows of 2 to 9 pieces. Arrays of several long rows (4 rows of 2 pieces, say)
are partitioned otherwise by XLA and are not reproduced (about half their totals differ by
an ulp). Within a piece, a row is read
in vectors of ``L`` lanes (16 float32, 8 float64; the last one zero-padded) and added
lane-wise:

- blocks of ``16 L`` elements: four chains of four vectors, each chain ``((0 + v0) +
  v1) + v2) + v3``, joined as ``((c0 + c1) + c2) + c3`` and added to an accumulator;
- then blocks of ``4 L`` elements: one chain each; float32 adds each to the
  accumulator, float64 adds pairs of them (aligned at ``8 L`` elements in the row)
  first;
- every 1024 elements the accumulator is added to a running total by Kahan's
  compensated step (``y = acc - c; t = s + y; c = (t - s) - y``, ``c`` reset where it
  is not finite) and restarts from zero;
- the last ``< 4 L`` elements: one chain of up to four (masked) vectors, added to the
  accumulator; finally ``s + (acc - c)``, and the lanes folded in halves (lane ``j``
  plus lane ``j + L/2``, then ``j + L/4``, ...).

Invariants: float32 or float64 NumPy arrays in, the same dtype out (shape without the
last axis); adding zeros is kept where the kernel adds them (it turns ``-0`` into ``+0``).
"""
from __future__ import annotations

import numpy as np

__all__ = ["ynn_sum_last"]

_FLUSH = 1024
_PIECE_BYTES = 128 * 1024


def _chain(vectors, zero):
    acc = zero + vectors[0]
    for v in vectors[1:]:
        acc = acc + v
    return acc


def ynn_sum_last(x: np.ndarray) -> np.ndarray:
    """The sum over the last axis of float32 or float64 ``x`` as YNNPACK's AVX-512
    reduction kernel adds it (see the module docstring).

    Example: ``ynn_sum_last(np.ones((2, 100), np.float32))`` is ``[100., 100.]``.
    """
    x = np.asarray(x)
    dtype = x.dtype.type
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"ynn_sum_last expects float32 or float64, got {x.dtype}")
    piece = _PIECE_BYTES // x.dtype.itemsize
    k = x.shape[-1]
    full = k // piece
    # whole pieces run as one batch (an extra axis), the last partial one on its own
    totals = []
    if full:
        whole = _kernel(x[..., :full * piece].reshape(x.shape[:-1] + (full, piece)), dtype)
        totals = [whole[..., j] for j in range(full)]
    if k % piece or not full:
        totals.append(_kernel(x[..., full * piece:], dtype))
    return _fold_halves(totals)


def _fold_halves(totals: list) -> np.ndarray:
    """Pieces' totals folded in halves (zero-padded to a power of two), as lanes are."""
    count = 1 << (len(totals) - 1).bit_length()
    totals = totals + [np.zeros_like(totals[0])] * (count - len(totals))
    with np.errstate(invalid="ignore", over="ignore"):
        while len(totals) > 1:
            half = len(totals) // 2
            totals = [totals[j] + totals[j + half] for j in range(half)]
    return totals[0]


def _chain_axis(v: np.ndarray, zero) -> np.ndarray:
    """``((0 + v[..., 0, :]) + v[..., 1, :]) + ...`` along the second-to-last axis."""
    acc = zero + v[..., 0, :]
    for i in range(1, v.shape[-2]):
        acc += v[..., i, :]
    return acc


def _kernel(x: np.ndarray, dtype) -> np.ndarray:
    """One call of the reduction kernel on rows of at most 128 KiB."""
    lanes = 16 if dtype is np.float32 else 8
    zero = dtype(0)
    k = x.shape[-1]
    lead = x.shape[:-1]
    zeros = np.zeros(lead + (lanes,), dtype)
    acc, total, comp = zeros, zeros, zeros
    big = 16 * lanes
    per_flush = _FLUSH // big      # blocks of 16 L between two Kahan steps
    n_big = k // big
    with np.errstate(invalid="ignore", over="ignore"):
        if n_big:
            # the 16 L blocks, all at once: [lead, block, chain, vector, lane]
            blocks = x[..., :n_big * big].reshape(lead + (n_big, 4, 4, lanes))
            chains = _chain_axis(blocks, zero)
            block = _chain_axis(chains, np.zeros((), dtype))
            flushed = n_big // per_flush
            if flushed:
                groups = block[..., :flushed * per_flush, :].reshape(
                    lead + (flushed, per_flush, lanes))
                sums = _chain_axis(groups, zero)
                for g in range(flushed):   # the Kahan steps, in order
                    y = sums[..., g, :] - comp
                    t = total + y
                    comp = (t - total) - y
                    comp = np.where(np.isfinite(comp), comp, zero).astype(dtype)
                    total = t
            for j in range(flushed * per_flush, n_big):
                acc = acc + block[..., j, :]
        pos = n_big * big
        count = -(-(k - pos) // lanes)
        padded = np.zeros(lead + (count * lanes,), dtype)
        padded[..., :k - pos] = x[..., pos:]
        vec = [padded[..., lanes * i:lanes * (i + 1)] for i in range(count)]
        # then blocks of 4 L (no Kahan step falls among them: 16 L blocks end on
        # multiples of 16 L and at most three 4 L blocks follow)
        pair = zeros
        i = 0
        while count - i >= 4 and k - pos >= 4 * lanes:
            block = _chain(vec[i:i + 4], zero)
            if lanes == 16:
                acc = acc + block
            elif (pos // (4 * lanes)) % 2 == 0:
                pair = zeros + block
            else:
                acc = acc + (pair + block)
                pair = zeros
            pos += 4 * lanes
            i += 4
        rest = vec[i:]
        if rest:
            rest = rest + [zeros] * (4 - len(rest))
            tail = (((rest[0] + zero) + rest[1]) + rest[2]) + rest[3]
            acc = acc + (tail if lanes == 16 else pair + tail)
        else:
            acc = acc + (zeros if lanes == 16 else pair)
        out = (total + (acc - comp)) + zero
        width = lanes
        while width > 1:
            width //= 2
            out = out[..., :width] + out[..., width:2 * width]
    return out[..., 0].astype(dtype)
