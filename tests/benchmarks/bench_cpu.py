"""fx.jit (compiled by lowering.cpu) against jax.jit and NumPy, side by side in one run.

Run by hand: ``python tests/benchmarks/bench_cpu.py [--repeats 7] [--only gelu_chain]``.
Prints the median time per call of each library and the ratio fx.jit / jax.jit
(below 1 is faster than JAX). Workloads and inputs are those of the shared
bench (``../shared/bench/workloads.py``): tanh-GELU on 4M float32, row softmax
and layer norm on 4096x1024.
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

# glibc malloc pinned as in the shared bench, so that large outputs are recycled rather
# than page-faulted afresh on some calls and not others (pass --default-malloc to skip)
MALLOC_ENV = {"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
              "MALLOC_TRIM_THRESHOLD_": str(4 << 30)}
if __name__ == "__main__" and "--default-malloc" not in sys.argv and \
        os.environ.get("BENCH_MALLOC_PINNED") != "1":
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:],
              dict(os.environ, **MALLOC_ENV, BENCH_MALLOC_PINNED="1"))

GELU_N = 1 << 22
ROWS, COLS = 4096, 1024
SQRT_2_OVER_PI = 0.7978845608028654
LN_EPS = 1e-5


def inputs(name):
    r = np.random.default_rng({"gelu_chain": 0, "softmax_rows": 1, "layernorm": 2}[name])
    f32 = np.float32
    if name == "gelu_chain":
        return (r.standard_normal(GELU_N, dtype=f32), np.asarray(1.5, f32), np.asarray(0.25, f32))
    if name == "softmax_rows":
        return (3 * r.standard_normal((ROWS, COLS), dtype=f32),)
    return (2 + 3 * r.standard_normal((ROWS, COLS), dtype=f32),
            1 + 0.1 * r.standard_normal(COLS, dtype=f32), 0.1 * r.standard_normal(COLS, dtype=f32))


def source(name, jnp):
    """The workload written once against a jax.numpy-like module."""
    if name == "gelu_chain":
        def f(x, scale, bias):
            return 0.5 * x * (1.0 + jnp.tanh(SQRT_2_OVER_PI * (x + 0.044715 * (x * x * x)))) \
                * scale + bias
    elif name == "softmax_rows":
        def f(x):
            e = jnp.exp(x - jnp.max(x, axis=-1, keepdims=True))
            return e / jnp.sum(e, axis=-1, keepdims=True)
    else:
        def f(x, gamma, beta):
            mu = jnp.mean(x, axis=-1, keepdims=True)
            xc = x - mu
            var = jnp.mean(xc * xc, axis=-1, keepdims=True)
            return xc / jnp.sqrt(var + LN_EPS) * gamma + beta
    return f


def timeit(fn, args, repeats, target):
    fn(*args)
    fn(*args)
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn(*args)
        dt = time.perf_counter() - t0
        if dt > target / 4 or n > 1 << 20:
            break
        n *= 2
    inner = max(1, int(n * target / max(dt, 1e-9)))
    times = []
    gc.disable()
    try:
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(inner):
                fn(*args)
            times.append((time.perf_counter() - t0) / inner)
    finally:
        gc.enable()
    return float(np.median(times))


def _ready(lib, out):
    """Wait for ``out``: one array's own method (cheapest), else ``lib``'s pytree walk."""
    if hasattr(out, "block_until_ready"):
        return out.block_until_ready()
    return lib.block_until_ready(out)


def compare_libraries(doc: str, workloads, inputs, source, check, check_label: str,
                      width: int = 14) -> None:
    """The command line and table of the library benchmarks (bench_cpu_library,
    bench_cpu_linalg, bench_cpu_fft): for each workload the median time per call of
    NumPy, jax.jit (when installed) and fx.jit, the ratios fx/NumPy and fx/JAX, and a
    last column from ``check``.

    Args:
      doc: the benchmark's module docstring (its first line describes ``--help``).
      workloads: names (the default of ``--only``).
      inputs: ``inputs(name)`` -> tuple of NumPy arrays.
      source: ``source(name, jnp, lax)`` -> (function over ``jnp``/``lax`` for fx and
        JAX, the NumPy function).
      check: ``check(name, data, fx_out, numpy_out, jax_out or None)`` -> printed value.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--target", type=float, default=0.2, help="seconds per timed loop")
    parser.add_argument("--only", default=",".join(workloads))
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
    print(f"{'workload':<{width}} {'numpy':>10} {'jax.jit':>10} {'fx.jit':>10} {'fx/np':>7} "
          f"{'fx/jax':>7} {check_label:>9}")
    for name in args.only.split(","):
        data = inputs(name)
        f_fx, f_np = source(name, fnp, flax)
        t_np = timeit(f_np, data, args.repeats, args.target)
        t_jax = jax_out = None
        if jax is not None:
            jf = jax.jit(source(name, jjnp, jax.lax)[0])
            jargs = tuple(jax.device_put(a) for a in data)
            t_jax = timeit(lambda *a, jf=jf: _ready(jax, jf(*a)), jargs, args.repeats,
                           args.target)
            jax_out = jf(*jargs)
        ff = fx.jit(f_fx)
        fargs = tuple(fnp.asarray(a) for a in data)
        t_fx = timeit(lambda *a, ff=ff: _ready(fx, ff(*a)), fargs, args.repeats, args.target)
        result = check(name, data, ff(*fargs), f_np(*data), jax_out)
        jx = f"{t_jax * 1e3:>8.3f}ms" if t_jax else f"{'-':>10}"
        ratio_jax = f"{t_fx / t_jax:.2f}x" if t_jax else "-"
        print(f"{name:<{width}} {t_np * 1e3:>8.3f}ms {jx} {t_fx * 1e3:>8.3f}ms "
              f"{t_fx / t_np:>6.2f}x {ratio_jax:>7} {str(result):>9}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--target", type=float, default=0.2, help="seconds per timed loop")
    parser.add_argument("--only", default="gelu_chain,softmax_rows,layernorm")
    parser.add_argument("--default-malloc", action="store_true",
                        help="do not pin glibc malloc (large outputs may then page-fault)")
    args = parser.parse_args()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import fx
    import fx.numpy as fnp
    try:
        import jax
        import jax.numpy as jjnp
    except ImportError:
        jax = None
    rows = []
    for name in args.only.split(","):
        data = inputs(name)
        ref_fn = source(name, np)
        ref = np.asarray(ref_fn(*data), np.float64)
        cells = {}
        cells["numpy"] = timeit(ref_fn, data, args.repeats, args.target)
        if jax is not None:
            jf = jax.jit(source(name, jjnp))
            jargs = tuple(jax.device_put(a) for a in data)
            cells["jax.jit"] = timeit(lambda *a, jf=jf: jf(*a).block_until_ready(), jargs,
                                      args.repeats, args.target)
        ff = fx.jit(source(name, fnp))
        fargs = tuple(fnp.asarray(a) for a in data)
        t0 = time.perf_counter()
        out = np.asarray(ff(*fargs), np.float64)
        first = time.perf_counter() - t0
        err = np.max(np.abs(out - ref)) / max(np.max(np.abs(ref)), 1e-30)
        cells["fx.jit"] = timeit(lambda *a, ff=ff: ff(*a).block_until_ready(), fargs, args.repeats,
                                 args.target)
        rows.append((name, cells, first, err))
    print(f"{'workload':<14} {'numpy':>10} {'jax.jit':>10} {'fx.jit':>10} {'fx/jax':>7} "
          f"{'fx first call':>14} {'max err':>9}")
    for name, cells, first, err in rows:
        jx = cells.get("jax.jit")
        ratio = f"{cells['fx.jit'] / jx:.2f}x" if jx else "-"
        print(f"{name:<14} {cells['numpy'] * 1e3:>8.3f}ms "
              f"{(jx or float('nan')) * 1e3:>8.3f}ms {cells['fx.jit'] * 1e3:>8.3f}ms {ratio:>7} "
              f"{first * 1e3:>12.1f}ms {err:>9.1e}")


if __name__ == "__main__":
    main()
