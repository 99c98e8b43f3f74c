"""Native library calls of the CPU compiler (sort, argsort, top_k, cumulative ops,
gather, scatter-add), fused gathers (an embedding lookup with its epilogue, a column
permutation) and fused pooling (max-pool of relu(x + b), 3x3 average pool) under
fx.jit against NumPy and jax.jit, side by side in one run.

Run by hand: ``python tests/benchmarks/bench_cpu_library.py [--repeats 5] [--only sort_1m]``.
Prints the median time per call of each library, the ratios fx.jit / NumPy and
fx.jit / jax.jit (below 1 is faster), and whether fx's result equals NumPy's.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from bench_cpu import compare_libraries  # noqa: E402

N_1M = 1 << 20
ROWS, COLS = 4096, 1024
TABLE, DIM, LOOKUPS = 100_000, 64, 50_000
EMBED_ROWS, EMBED_DIM, EMBED_IDS = 50_000, 256, 8192
POOL_SHAPE = (32, 64, 32, 32)  # NCHW


def _inputs(name):
    r = np.random.default_rng(0)
    f32 = np.float32
    if name in ("sort_1m", "argsort_1m"):
        return (r.standard_normal(N_1M, dtype=f32),)
    if name in ("sort_rows", "top_k_rows", "cumsum_rows", "cumsum_cols", "cummax_rows"):
        return (r.standard_normal((ROWS, COLS), dtype=f32),)
    if name == "gather_rows":
        return (r.standard_normal((TABLE, DIM), dtype=f32),
                r.integers(0, TABLE, LOOKUPS).astype(np.int32))
    if name == "embedding_relu":
        return (r.standard_normal((EMBED_ROWS, EMBED_DIM), dtype=f32),
                r.integers(0, EMBED_ROWS, EMBED_IDS).astype(np.int32))
    if name == "permute_cols":
        return (r.standard_normal((ROWS, COLS), dtype=f32),
                r.permutation(COLS).astype(np.int32))
    if name == "scatter_add_rows":
        return (r.standard_normal((LOOKUPS, DIM), dtype=f32),
                r.integers(0, TABLE // 10, LOOKUPS).astype(np.int32))
    if name in ("maxpool_relu", "avgpool_3x3"):
        return (r.standard_normal(POOL_SHAPE, dtype=f32),
                r.standard_normal((POOL_SHAPE[1], 1, 1), dtype=f32))
    raise ValueError(f"unknown workload {name!r}")


def _source(name, jnp, lax, numpy):
    """(fx/jax function, NumPy function) of a workload."""
    if name == "sort_1m":
        return jnp.sort, np.sort
    if name == "argsort_1m":
        return jnp.argsort, lambda x: np.argsort(x, kind="stable")
    if name == "sort_rows":
        return (lambda x: jnp.sort(x, axis=-1)), (lambda x: np.sort(x, axis=-1))
    if name == "top_k_rows":
        def np_top_k(x):
            idx = np.argsort(-x, axis=-1, kind="stable")[:, :8]
            return np.take_along_axis(x, idx, -1)
        return (lambda x: lax.top_k(x, 8)[0]), np_top_k
    if name == "cumsum_rows":
        return (lambda x: jnp.cumsum(x, axis=1)), (lambda x: np.cumsum(x, axis=1))
    if name == "cumsum_cols":
        return (lambda x: jnp.cumsum(x, axis=0)), (lambda x: np.cumsum(x, axis=0))
    if name == "cummax_rows":
        return (lambda x: lax.cummax(x, axis=1)), (lambda x: np.maximum.accumulate(x, axis=1))
    if name == "gather_rows":
        return (lambda t, i: t[i]), (lambda t, i: t[i])
    if name == "embedding_relu":  # a gather fused with its epilogue: one loop
        return (lambda t, i: jnp.maximum(jnp.take(t, i, axis=0), 0)), \
            (lambda t, i: np.maximum(np.take(t, i, axis=0), 0))
    if name == "permute_cols":
        return (lambda x, p: x[:, p]), (lambda x, p: x[:, p])
    if name == "scatter_add_rows":
        def np_scatter(u, i):
            out = np.zeros((TABLE // 10, DIM), np.float32)
            np.add.at(out, i, u)
            return out
        return (lambda u, i: jnp.zeros((TABLE // 10, DIM), np.float32).at[i].add(u)), \
            np_scatter
    if name == "maxpool_relu":  # 2x2 stride 2 max-pool of relu(x + b): one fused loop
        def fx_pool(x, b):
            y = jnp.maximum(x + b, 0)
            return lax.reduce_window(y, -np.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

        def np_pool(x, b):
            y = np.maximum(x + b, 0)
            n, c, h, w = y.shape
            return y.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
        return fx_pool, np_pool
    if name == "avgpool_3x3":  # 3x3 stride 1 SAME average pool (sum-pool / 9, one loop)
        def fx_avg(x, b):
            s = lax.reduce_window(x, 0.0, lax.add, (1, 1, 3, 3), (1, 1, 1, 1), "SAME")
            return s / 9.0

        def np_avg(x, b):
            p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
            h, w = x.shape[2:]
            out = np.zeros_like(x)
            for i in range(3):
                for j in range(3):
                    out += p[:, :, i:i + h, j:j + w]
            return out / np.float32(9.0)
        return fx_avg, np_avg
    raise ValueError(name)


WORKLOADS = ("sort_1m", "argsort_1m", "sort_rows", "top_k_rows", "cumsum_rows", "cumsum_cols",
             "cummax_rows", "gather_rows", "embedding_relu", "permute_cols",
             "scatter_add_rows", "maxpool_relu", "avgpool_3x3")


def _check(name, data, got, want, jax_out):
    """Whether fx's result equals NumPy's (to rounding for sums)."""
    got, want = np.asarray(got), np.asarray(want)
    if name.startswith(("cumsum", "scatter", "avgpool")):
        return np.allclose(got, want, rtol=1e-4, atol=1e-3)
    return np.array_equal(got, want)


def main():
    compare_libraries(__doc__, WORKLOADS, _inputs,
                      lambda name, jnp, lax: _source(name, jnp, lax, np), _check, "equal", 17)


if __name__ == "__main__":
    main()
