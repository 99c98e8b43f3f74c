"""FFTs (the native ``fft`` library call: fft/ifft/rfft/irfft/fft2 of complex64/float32 at
1024, 4096, 1000 points (mixed radix), 4097 points (Bluestein), a batch of 256 x 1024
and a 2-D 512 x 512) under fx.jit against NumPy and jax.jit, side by side in one run.

Run by hand: ``python tests/benchmarks/bench_cpu_fft.py [--repeats 5] [--only fft_1024]``.
Prints the median time per call of each library, the ratios fx.jit / NumPy and
fx.jit / jax.jit (below 1 is faster), and fx's largest error relative to NumPy's
(computed in double precision) over the result's largest magnitude.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from bench_cpu import compare_libraries  # noqa: E402

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


def _source(name, jnp, lax):
    kind, shape = WORKLOADS[name]
    return _function(kind, shape, jnp.fft), _function(kind, shape, np.fft)


def _check(name, data, got, want, jax_out):
    """fx's largest difference from NumPy's transform in double precision, relative to
    the result's largest magnitude."""
    (x,) = data
    kind, shape = WORKLOADS[name]
    want = _function(kind, shape, np.fft)(x.astype(np.complex128 if x.dtype.kind == "c"
                                                    else np.float64))
    return f"{np.abs(np.asarray(got) - want).max() / np.abs(want).max():.2e}"


def main():
    compare_libraries(__doc__, WORKLOADS, lambda name: (_inputs(*WORKLOADS[name]),), _source,
                      _check, "rel.err", 14)


if __name__ == "__main__":
    main()
