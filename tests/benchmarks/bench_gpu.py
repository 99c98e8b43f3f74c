"""The GPU backend's speed table (issue 8), on one GPU: fx's compiled kernels against
the device-to-device copy bandwidth, cuBLAS through CuPy and JAX-GPU.

Run by hand on a machine with a GPU: ``python tests/benchmarks/bench_gpu.py
[--repeats 20] [--only gelu_chain]``. Times are medians of CUDA-event timings on the
runtime's stream after warm-up. Rows: gelu_chain 64M float32 (fraction of the
measured copy bandwidth, target >= 85 %), softmax_rows and layernorm 16384x4096
(ratio to JAX-GPU, target <= 1.0), matmul 8192^2 bfloat16 and float32 (fraction of
cupy.matmul, target >= 90 %), mlp_train_step batch 1024 (ratio to JAX-GPU, target <=
1.0), the cached dispatch of a small call (target <= 10 us), and (no targets in the
issue; ratios to JAX-GPU) scan_rnn (a 256-step scan of a 512-wide tanh RNN cell with a
product: plain launches per step), scan_elementwise (1000 steps of an elementwise
update over 1M floats: replayed CUDA graphs) and conv (a 3x3 NCHW convolution with
bias and relu, 32x64x56x56 -> 128 channels, the implicit-GEMM kernel). Without a GPU
it says so and exits 0.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

import fx  # noqa: E402
import fx.numpy as jnp  # noqa: E402
from fx import lax  # noqa: E402
from lowering.gpu import compile as gpu_compile  # noqa: E402
from lowering.gpu import device  # noqa: E402


def event_time(rt, fn, repeats):
    """Median seconds of ``fn()`` measured with CUDA events on the runtime's stream."""
    import cupy
    fn()
    rt.synchronize()
    times = []
    for _ in range(repeats):
        start, stop = cupy.cuda.Event(), cupy.cuda.Event()
        start.record(rt.stream)
        fn()
        stop.record(rt.stream)
        stop.synchronize()
        times.append(cupy.cuda.get_elapsed_time(start, stop) / 1e3)
    return statistics.median(times)


def jax_time(f, args, repeats):
    try:
        import jax
        if not any(d.platform == "gpu" for d in jax.devices()):
            return None
    except Exception:  # noqa: BLE001
        return None
    g = jax.jit(f)
    dargs = [jax.device_put(a) for a in args]
    jax.block_until_ready(g(*dargs))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(g(*dargs))
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def fx_program(rt, f, *args):
    exe = gpu_compile.compile(fx.make_jaxpr(f)(*args), runtime=rt)
    dargs = [rt.asarray(a) for a in args]
    return exe, (lambda: exe(dargs))


def gelu(x):
    return 0.5 * x * (1 + jnp.tanh(0.7978845608 * (x + 0.044715 * x ** 3)))


def layernorm(x, g, b):
    m = x.mean(-1, keepdims=True)
    v = jnp.mean((x - m) ** 2, -1, keepdims=True)
    return (x - m) * lax.rsqrt(v + 1e-5) * g + b


def mlp_step(w1, b1, w2, b2, x, y):
    def loss(p):
        h = jnp.tanh(x @ p[0] + p[1])
        return jnp.mean((h @ p[2] + p[3] - y) ** 2)
    grads = fx.grad(loss)((w1, b1, w2, b2))
    return [p - 1e-3 * g for p, g in zip((w1, b1, w2, b2), grads, strict=False)]


def _jax_version(name):
    """The same workload written for JAX (the oracle for the ratio)."""
    import jax
    import jax.numpy as xnp
    if name == "softmax_rows":
        return lambda x: jax.nn.softmax(x, -1)
    if name == "scan_rnn":
        def rnn(h, xs, w):
            return jax.lax.scan(lambda h, x: (xnp.tanh(h @ w + x), None), h, xs)[0]
        return rnn
    if name == "scan_elementwise":
        return lambda x: jax.lax.fori_loop(0, 1000, lambda i, c: xnp.sin(c) * 0.9 + 0.01, x)
    if name == "conv":
        def conv(x, w, b):
            y = jax.lax.conv_general_dilated(x, w, (1, 1), "SAME")
            return xnp.maximum(y + b[None, :, None, None], 0)
        return conv
    if name == "layernorm":
        def ln(x, g, b):
            m = x.mean(-1, keepdims=True)
            v = xnp.mean((x - m) ** 2, -1, keepdims=True)
            return (x - m) * jax.lax.rsqrt(v + 1e-5) * g + b
        return ln

    def step(w1, b1, w2, b2, x, y):
        def loss(p):
            h = xnp.tanh(x @ p[0] + p[1])
            return xnp.mean((h @ p[2] + p[3] - y) ** 2)
        grads = jax.grad(loss)((w1, b1, w2, b2))
        return [p - 1e-3 * g for p, g in zip((w1, b1, w2, b2), grads, strict=False)]
    return step


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--only", default=None)
    opts = ap.parse_args(argv)
    if not device.gpu_available():
        print("bench_gpu: no usable GPU (CuPy + CUDA driver + device); nothing to measure")
        return 0
    import cupy
    rt = device.default_runtime()
    rng = np.random.default_rng(0)
    rows = []
    want = lambda name: opts.only in (None, name)  # noqa: E731

    if want("gelu_chain"):
        x = rng.standard_normal(64 << 20).astype(np.float32)
        _, run = fx_program(rt, gelu, x)
        src = rt.asarray(x)
        dst = rt.empty(x.shape, x.dtype)
        copy = event_time(rt, lambda: cupy.copyto(dst, src), opts.repeats)
        t = event_time(rt, run, opts.repeats)
        rows.append(("gelu_chain 64M f32", t, f"{copy / t:.0%} of copy bandwidth "
                     f"({2 * x.nbytes / copy / 1e9:.0f} GB/s)", ">= 85%"))
    for name, f, make in (
            ("softmax_rows", lambda x: fx.nn.softmax(x, -1),
             lambda: [rng.standard_normal((16384, 4096)).astype(np.float32)]),
            ("layernorm", layernorm,
             lambda: [rng.standard_normal((16384, 4096)).astype(np.float32),
                      np.ones(4096, np.float32), np.zeros(4096, np.float32)])):
        if not want(name):
            continue
        args = make()
        _, run = fx_program(rt, f, *args)
        t = event_time(rt, run, opts.repeats)
        tj = jax_time(_jax_version(name), args, opts.repeats)
        rows.append((f"{name} 16384x4096", t, "JAX-GPU not available" if tj is None
                     else f"{t / tj:.2f}x JAX-GPU", "<= 1.0x"))
    if want("matmul"):
        for dtype in ("bfloat16", "float32"):
            dt = np.dtype(np.float32) if dtype == "float32" else np.dtype(
                __import__("ml_dtypes").bfloat16)
            a = rng.standard_normal((8192, 8192)).astype(dt)
            b = rng.standard_normal((8192, 8192)).astype(dt)
            _, run = fx_program(rt, lambda a, b: a @ b, a, b)
            da, db = rt.asarray(a), rt.asarray(b)
            tc = event_time(rt, lambda da=da, db=db: cupy.matmul(da, db), opts.repeats)
            t = event_time(rt, run, opts.repeats)
            rows.append((f"matmul 8192^2 {dtype}", t, f"{tc / t:.0%} of cupy.matmul",
                         ">= 90%"))
    if want("mlp_train_step"):
        args = [rng.standard_normal(s).astype(np.float32) * 0.05 for s in
                ((784, 1024), (1024,), (1024, 10), (10,), (1024, 784), (1024, 10))]
        _, run = fx_program(rt, mlp_step, *args)
        t = event_time(rt, run, opts.repeats)
        tj = jax_time(_jax_version("mlp_train_step"), args, opts.repeats)
        rows.append(("mlp_train_step batch 1024", t, "JAX-GPU not available" if tj is None
                     else f"{t / tj:.2f}x JAX-GPU", "<= 1.0x"))
    if want("dispatch"):
        x = np.ones(8, np.float32)
        exe, run = fx_program(rt, lambda x: x * 2 + 1, x)
        run()
        rt.synchronize()
        n = 2000
        t0 = time.perf_counter()
        for _ in range(n):
            run()
        per_call = (time.perf_counter() - t0) / n
        rt.synchronize()
        rows.append(("cached dispatch, small call", per_call, "host time per call", "<= 10 us"))
    for name, f, make in (
            ("scan_rnn", lambda h, xs, w: lax.scan(
                lambda h, x: (jnp.tanh(h @ w + x), None), h, xs)[0],
             lambda: [np.zeros((64, 512), np.float32),
                      rng.standard_normal((256, 64, 512)).astype(np.float32),
                      (rng.standard_normal((512, 512)) * 0.04).astype(np.float32)]),
            ("scan_elementwise", lambda x: lax.fori_loop(
                0, 1000, lambda i, c: jnp.sin(c) * 0.9 + 0.01, x),
             lambda: [rng.standard_normal(1 << 20).astype(np.float32)]),
            ("conv", lambda x, w, b: jnp.maximum(lax.conv_general_dilated(
                x, w, (1, 1), "SAME") + b[None, :, None, None], 0),
             lambda: [rng.standard_normal((32, 64, 56, 56)).astype(np.float32),
                      (rng.standard_normal((128, 64, 3, 3)) * 0.05).astype(np.float32),
                      rng.standard_normal(128).astype(np.float32)])):
        if not want(name):
            continue
        args = make()
        _, run = fx_program(rt, f, *args)
        t = event_time(rt, run, max(3, opts.repeats // 4))
        tj = jax_time(_jax_version(name), args, max(3, opts.repeats // 4))
        rows.append((name, t, "JAX-GPU not available" if tj is None
                     else f"{t / tj:.2f}x JAX-GPU", "(no target)"))
    print(f"device: {rt.name} ({rt.target}, {rt.sm_count} SMs)")
    print(f"{'workload':32s} {'time':>12s}  {'comparison':40s} target")
    for name, t, cmp, target in rows:
        print(f"{name:32s} {t * 1e3:10.3f}ms  {cmp:40s} {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
