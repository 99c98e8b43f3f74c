"""Dispatch overhead: one eager op on 8 elements, and one cached jit call.

Run by hand: ``python tests/benchmarks/bench_dispatch.py``. Prints microseconds per call
for NumPy, fx and (when installed) JAX, measured in one run, and fx's ratios to them.
"""
from __future__ import annotations

import timeit

import numpy as np


def per_call_us(fn, number=20000, repeat=7) -> float:
    fn()
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    import fx
    import fx.numpy as fnp

    rows = []
    xn = np.arange(8, dtype=np.float32)
    xf = fnp.asarray(xn)
    f_fx = fx.jit(lambda x: x * 2 + 1)
    rows.append(("eager x + 1 (8 f32)", per_call_us(lambda: xn + 1),
                 per_call_us(lambda: xf + 1), None))
    rows.append(("cached jit x*2+1 (8 f32)", per_call_us(lambda: xn * 2 + 1),
                 per_call_us(lambda: f_fx(xf).block_until_ready()), None))
    try:
        import jax
        import jax.numpy as jnp
        xj = jnp.asarray(xn)
        f_j = jax.jit(lambda x: x * 2 + 1)
        rows[0] = rows[0][:3] + (per_call_us(lambda: (xj + 1).block_until_ready()),)
        rows[1] = rows[1][:3] + (per_call_us(lambda: f_j(xj).block_until_ready()),)
    except ImportError:
        pass
    print(f"{'workload':28s} {'numpy us':>9s} {'fx us':>9s} {'jax us':>9s} "
          f"{'fx/numpy':>9s} {'fx/jax':>8s}")
    for name, t_np, t_fx, t_jax in rows:
        jax_cols = f"{t_jax:9.2f} {t_fx / t_jax:8.2f}" if t_jax else f"{'-':>9s} {'-':>8s}"
        print(f"{name:28s} {t_np:9.2f} {t_fx:9.2f} {jax_cols[:9]} {t_fx / t_np:9.2f} "
              f"{jax_cols[10:]}")


if __name__ == "__main__":
    main()
