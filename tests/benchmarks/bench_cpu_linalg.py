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

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from bench_cpu import timeit  # noqa: E402

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


def _ready(out):
    for o in out if isinstance(out, (tuple, list)) else (out,):
        o.block_until_ready()
    return out


def _equal(name, got, want) -> bool:
    got = [np.asarray(g) for g in (got if isinstance(got, (tuple, list)) else (got,))]
    want = [np.asarray(w) for w in (want if isinstance(want, (tuple, list)) else (want,))]
    if name.startswith("sumpool"):
        return all(np.allclose(g, w, rtol=1e-5, atol=1e-5) for g, w in zip(got, want))
    return all(np.array_equal(g, w) for g, w in zip(got, want))


WORKLOADS = ("qr_256", "eigh_256", "svd_256", "qr_b64x16", "eigh_b64x16", "svd_b64x16",
             "maxpool_2x2", "sumpool_3x3")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--target", type=float, default=0.2, help="seconds per timed loop")
    parser.add_argument("--only", default=",".join(WORKLOADS))
    args = parser.parse_args()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import fx
    import fx.numpy as fnp
    from fx import lax as flax
    try:
        import jax
        import jax.numpy as jjnp
    except ImportError:
        jax = None
    print(f"{'workload':<13} {'numpy':>10} {'jax.jit':>10} {'fx.jit':>10} {'fx/np':>7} "
          f"{'fx/jax':>7} {'equal':>6}")
    for name in args.only.split(","):
        data = _inputs(name)
        f_fx, f_np = _source(name, fnp, flax)
        t_np = timeit(f_np, data, args.repeats, args.target)
        t_jax = None
        if jax is not None:
            f_jax, _ = _source(name, jjnp, jax.lax)
            jf = jax.jit(f_jax)
            jargs = tuple(jax.device_put(a) for a in data)
            t_jax = timeit(lambda *a, jf=jf: _ready(jf(*a)), jargs, args.repeats, args.target)
        ff = fx.jit(f_fx)
        fargs = tuple(fnp.asarray(a) for a in data)
        t_fx = timeit(lambda *a, ff=ff: _ready(ff(*a)), fargs, args.repeats, args.target)
        if "pool" in name:
            equal = _equal(name, ff(*fargs), f_np(*data))
        else:
            equal = _equal(name, ff(*fargs), jf(*jargs)) if jax is not None else "-"
        jx = f"{t_jax * 1e3:>8.3f}ms" if t_jax else f"{'-':>10}"
        ratio_jax = f"{t_fx / t_jax:.2f}x" if t_jax else "-"
        print(f"{name:<13} {t_np * 1e3:>8.3f}ms {jx} {t_fx * 1e3:>8.3f}ms "
              f"{t_fx / t_np:>6.2f}x {ratio_jax:>7} {str(equal):>6}", flush=True)


if __name__ == "__main__":
    main()
