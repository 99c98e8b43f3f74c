"""FFTs (the native ``fft`` library call: fft/ifft/rfft/irfft/fft2 of complex64/float32 at
1024, 4096, 1000 points (mixed radix), 4097 points (Bluestein), a batch of 256 x 1024
and a 2-D 512 x 512) under fx.jit against NumPy and jax.jit, side by side in one run.

Run by hand: ``python tests/benchmarks/bench_cpu_fft.py [--repeats 5] [--only fft_1024]``.
Prints the median time per call of each library, the ratios fx.jit / NumPy and
fx.jit / jax.jit (below 1 is faster), and fx's largest error relative to NumPy's
(computed in double precision) over the result's largest magnitude.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from bench_cpu import timeit  # noqa: E402

#: name -> (kind, operand shape)
WORKLOADS = {
    "fft_1024": ("fft", (1024,)),
    "ifft_1024": ("ifft", (1024,)),
    "fft_4096": ("fft", (4096,)),
    "fft_1000": ("fft", (1000,)),
    "fft_4097": ("fft", (4097,)),
    "rfft_4096": ("rfft", (4096,)),
    "irfft_4096": ("irfft", (4096,)),
    "fft_256x1024": ("fft", (256, 1024)),
    "rfft_256x1024": ("rfft", (256, 1024)),
    "fft2_512x512": ("fft2", (512, 512)),
}


def _inputs(kind, shape):
    r = np.random.default_rng(0)
    if kind == "rfft":
        return r.standard_normal(shape, dtype=np.float32)
    if kind == "irfft":
        shape = shape[:-1] + (shape[-1] // 2 + 1,)
    return (r.standard_normal(shape, dtype=np.float32)
            + 1j * r.standard_normal(shape, dtype=np.float32)).astype(np.complex64)


def _function(kind, shape, fft_module):
    """The workload as a function of one operand, over ``fft_module`` (``jnp.fft`` or
    NumPy's ``np.fft``)."""
    if kind == "fft2":
        return fft_module.fft2
    if kind == "irfft":
        return lambda x: fft_module.irfft(x, n=shape[-1])
    return getattr(fft_module, kind)


def _ready(out):
    out.block_until_ready()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--target", type=float, default=0.2, help="seconds per timed loop")
    parser.add_argument("--only", default=",".join(WORKLOADS))
    args = parser.parse_args()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import fx
    import fx.numpy as fnp
    try:
        import jax
        import jax.numpy as jjnp
    except ImportError:
        jax = None
    print(f"{'workload':<14} {'numpy':>10} {'jax.jit':>10} {'fx.jit':>10} {'fx/np':>7} "
          f"{'fx/jax':>7} {'rel.err':>9}")
    for name in args.only.split(","):
        kind, shape = WORKLOADS[name]
        x = _inputs(kind, shape)
        f_np = _function(kind, shape, np.fft)
        t_np = timeit(f_np, (x,), args.repeats, args.target)
        t_jax = None
        if jax is not None:
            jf = jax.jit(_function(kind, shape, jjnp.fft))
            jx = jax.device_put(x)
            t_jax = timeit(lambda a, jf=jf: _ready(jf(a)), (jx,), args.repeats, args.target)
        ff = fx.jit(_function(kind, shape, fnp.fft))
        fx_x = fnp.asarray(x)
        t_fx = timeit(lambda a, ff=ff: _ready(ff(a)), (fx_x,), args.repeats, args.target)
        want = f_np(x.astype(np.complex128 if x.dtype.kind == "c" else np.float64))
        err = np.abs(np.asarray(ff(fx_x)) - want).max() / np.abs(want).max()
        jx_t = f"{t_jax * 1e3:>8.3f}ms" if t_jax else f"{'-':>10}"
        ratio_jax = f"{t_fx / t_jax:.2f}x" if t_jax else "-"
        print(f"{name:<14} {t_np * 1e3:>8.3f}ms {jx_t} {t_fx * 1e3:>8.3f}ms "
              f"{t_fx / t_np:>6.2f}x {ratio_jax:>7} {err:>9.2e}", flush=True)


if __name__ == "__main__":
    main()
