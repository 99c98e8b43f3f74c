"""Sums added in the order XLA's CPU backend adds them (``reduce_sum[order="xla_cpu"]``).

Why: ``jnp.linalg.slogdet``/``det`` sum ``log|u_ii|`` with a ``reduce_sum``; the bits of
the result depend on the order of the additions, so fx reproduces JAX's values only
where it adds in XLA's order. ``reduce_sum`` carries a hidden ``order`` param for this
(``None``: the backend's own order, NumPy's pairwise sums eagerly and reassociated
vector sums in compiled code, the fast default for every other reduction).

XLA's CPU order for a float ``reduce`` of fewer than 4096 input elements (established by
comparison with ``jax.jit(jnp.linalg.slogdet)`` and ``jnp.sum``, jaxlib 0.10.2; see
tests/linalg/test_det_parity.py):
- every reduced dimension of at most 32 elements: one accumulator per output element,
  starting at the init value 0, adding the elements in row-major order of the reduced
  dimensions;
- otherwise XLA's tree-reduction rewrite: each reduced dimension is split into windows of
  ``w = min(size, 32)`` (zero-padded to a multiple of ``w``, half the padding in front,
  the odd element behind), each window summed as above, and the window sums reduced the
  same way again (so a dimension of 2000 becomes 63 windows, then 2, then 1).
Fusions of 4096 elements or more run through YNNPACK, with its own order (and its own
``log``); they are not reproduced here (see ``fx._random.gamma_xla._row_sums``).

Integers and booleans add exactly in any order (NumPy's sum); 16-bit floats accumulate in
float32 (the caller converts), complex numbers component by component (as XLA does).
"""
from __future__ import annotations

import numpy as np

__all__ = ["ORDERS", "xla_cpu_sum"]

#: the values the hidden ``order`` param of ``reduce_sum`` may take
ORDERS = (None, "xla_cpu")
_WINDOW = 32


def _in_order(x: np.ndarray, k: int) -> np.ndarray:
    """Sum over the last ``k`` axes of ``x``: one accumulator from 0, row-major order."""
    lead = x.shape[:x.ndim - k]
    flat = x.reshape(lead + (-1,))
    if flat.shape[-1] == 0:
        return np.zeros(lead, x.dtype)
    # add.accumulate adds in order (x0 + x1) + x2 ...; starting from x0 rather than 0 + x0
    # differs only in the sign of an all -0 sum, which the final + 0 restores
    acc = np.add.accumulate(flat, axis=-1, dtype=x.dtype)[..., -1] + x.dtype.type(0)
    return np.asarray(acc, x.dtype)


def _windowed(x: np.ndarray, k: int) -> np.ndarray:
    """One tree-reduction step over the last ``k`` axes: windows of up to 32 elements
    (``kSame`` zero padding) summed in order; the window sums keep the axes' places."""
    lead = x.shape[:x.ndim - k]
    sizes = x.shape[x.ndim - k:]
    widths = [min(s, _WINDOW) for s in sizes]
    counts = [-(-s // w) if s else 0 for s, w in zip(sizes, widths)]
    pads = [(c * w - s) for s, w, c in zip(sizes, widths, counts)]
    x = np.pad(x, [(0, 0)] * len(lead) + [(p // 2, p - p // 2) for p in pads])
    # [lead, c0, w0, c1, w1, ...] -> [lead, c0, c1, ..., w0, w1, ...]
    split = x.reshape(lead + tuple(v for c, w in zip(counts, widths) for v in (c, w)))
    n = len(lead)
    perm = list(range(n)) + [n + 2 * i for i in range(k)] + [n + 2 * i + 1 for i in range(k)]
    return _in_order(split.transpose(perm), k)


def xla_cpu_sum(x: np.ndarray, axes) -> np.ndarray:
    """``x`` summed over ``axes`` in XLA's CPU order (see the module docstring).

    Args:
      x: a NumPy array (float, complex, integer or bool).
      axes: the reduced axes (distinct, non-negative).

    Returns:
      The sum, of ``x``'s dtype, with the reduced axes dropped.

    Example:
      >>> xla_cpu_sum(np.float32([1e8, 1, -1e8]), (0,))   # 0.0: (0 + 1e8) + 1 - 1e8
    """
    x = np.asarray(x)
    axes = tuple(axes)
    if x.dtype.kind not in "fc":
        return np.asarray(np.sum(x, axis=axes)).astype(x.dtype)
    kept = [i for i in range(x.ndim) if i not in axes]
    x = x.transpose(kept + list(axes))
    k = len(axes)
    if x.size == 0 or k == 0:
        return np.asarray(np.sum(x, axis=tuple(range(x.ndim - k, x.ndim))), x.dtype)
    with np.errstate(all="ignore"):
        while any(s > _WINDOW for s in x.shape[x.ndim - k:]):
            x = _windowed(x, k)
        return _in_order(x, k)
