"""LAPACK library calls (qr, eigh, svd: one 256x256 float32 matrix and a batch of
64 16x16) and pooling (reduce_window max/sum over NCHW 32x64x32x32 float32) under fx.jit
against NumPy and jax.jit, side by side in one run.

Run by hand: ``python tests/benchmarks/bench_cpu_linalg.py [--repeats 5] [--only qr_256]``.
Prints the median time per call of each library, the ratios fx.jit / NumPy and
fx.jit / jax.jit (below 1 is faster), and whether fx's results equal the reference:
for the decompositions JAX's, bit for bit (fx calls the LAPACK routines jaxlib calls,
SciPy's, in the operand's precision; "-" without JAX), for the pools NumPy's (bit for
bit for max, to rounding for the sums).
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from bench_cpu import compare_libraries  # noqa: E402

POOL_SHAPE = (32, 64, 32, 32)


def _inputs(name):
    r = np.random.default_rng(0)
    f32 = np.float32
    shape = (256, 256) if name.endswith("_256") else (64, 16, 16)
    if name.endswith(("_256", "_b64x16")):
        x = r.standard_normal(shape, dtype=f32)
        # eigh: symmetric (NumPy reads one triangle, jnp.linalg.eigh symmetrizes)
        return ((x + np.swapaxes(x, -1, -2)) / 2 if name.startswith("eigh") else x,)
    if name in ("maxpool_2x2", "sumpool_3x3"):
        return (r.standard_normal(POOL_SHAPE, dtype=f32),)
    raise ValueError(f"unknown workload {name!r}")


def _np_maxpool(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def _np_sumpool(x):  # 3x3 windows, stride 1, SAME padding with zeros
    p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    h, w = x.shape[-2:]
    return sum(p[..., i:i + h, j:j + w] for i in range(3) for j in range(3))


def _source(name, jnp, lax):
    """(fx/jax function, NumPy function) of a workload."""
    kind = name.split("_")[0]
    if kind == "qr":
        return jnp.linalg.qr, np.linalg.qr
    if kind == "eigh":
        return jnp.linalg.eigh, np.linalg.eigh
    if kind == "svd":
        return jnp.linalg.svd, np.linalg.svd
    if kind == "maxpool":
        return (lambda x: lax.reduce_window(x, -np.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2),
                                            "VALID")), _np_maxpool
    if kind == "sumpool":
        return (lambda x: lax.reduce_window(x, 0.0, lax.add, (1, 1, 3, 3), (1, 1, 1, 1),
                                            "SAME")), _np_sumpool
    raise ValueError(f"unknown workload {name!r}")


def _check(name, data, got, want, jax_out):
    """Pools: equal to NumPy's (to rounding for the sums); decompositions: equal to JAX's
    bit for bit ("-" without JAX)."""
    if "pool" not in name:
        if jax_out is None:
            return "-"
        want = jax_out
    got = [np.asarray(g) for g in (got if isinstance(got, (tuple, list)) else (got,))]
    want = [np.asarray(w) for w in (want if isinstance(want, (tuple, list)) else (want,))]
    if name.startswith("sumpool"):
        return all(np.allclose(g, w, rtol=1e-5, atol=1e-5) for g, w in zip(got, want))
    return all(np.array_equal(g, w) for g, w in zip(got, want))


WORKLOADS = ("qr_256", "eigh_256", "svd_256", "qr_b64x16", "eigh_b64x16", "svd_b64x16",
             "maxpool_2x2", "sumpool_3x3")


def main():
    compare_libraries(__doc__, WORKLOADS, _inputs, _source, _check, "equal", 13)


if __name__ == "__main__":
    main()
