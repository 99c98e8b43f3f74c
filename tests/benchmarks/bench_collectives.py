"""Collective benchmarks (run by hand: ``python tests/benchmarks/bench_collectives.py``).

1. psum latency and bandwidth, 8 B to 64 MiB, between 2 replicas: in threads of one
   process, and across 2 processes (``mpiexec -n 2``, started by this script), each
   as a ratio to a bare mpi4py ``Allreduce`` of the same buffer between 2 processes.
   "in loop" is the cost of one psum inside a pmapped ``fori_loop`` (no dispatch);
   "per call" is a whole pmapped call doing one psum.
2. Per-step overhead of a pmapped training step (2 devices, threads) against the same
   step jitted on one device, on the same per-device batch.

Options: ``--quick`` (sizes up to 2 MiB, fewer repeats).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

QUICK = "--quick" in sys.argv
SIZES = [8 * 8 ** k for k in range(8)] + [64 * 2 ** 20]  # 8 B .. 16 MiB, then 64 MiB
if QUICK:
    SIZES = [s for s in SIZES if s <= 2 * 2 ** 20]
LOOP = 20


def _best(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _repeats(nbytes):
    return 3 if nbytes >= 2 ** 24 else (5 if nbytes >= 2 ** 20 else 20)


def fx_psum_times(sizes, local_devices):
    """{nbytes: (per call s, per psum in a loop s)} for pmap over this process's devices."""
    import fx.numpy as fnp  # noqa: F401  (installs operators)
    import fx
    from fx.interpreters.pmap import pmap
    from fx.lax import _parallel as plax
    once = pmap(lambda v: plax.psum(v, "i"), axis_name="i")

    def looped(v):
        return fx.lax.fori_loop(0, LOOP, lambda k, a: plax.psum(a, "i") * 0.5, v)

    loop = pmap(looped, axis_name="i")
    out = {}
    for nbytes in sizes:
        x = np.ones((local_devices, max(1, nbytes // 4)), np.float32)
        reps = _repeats(nbytes)
        per_call = _best(lambda x=x: once(x), reps)
        in_loop = _best(lambda x=x: loop(x), max(2, reps // 3)) / LOOP
        out[nbytes] = (per_call, in_loop)
    return out


def mpi_worker():
    """Under mpiexec: fx psum across processes (1 device each) and bare Allreduce."""
    import fx.distributed as dist
    dist.initialize()
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    bare = {}
    for nbytes in SIZES:
        buf = np.ones(max(1, nbytes // 4), np.float32)
        out = np.empty_like(buf)
        reps = _repeats(nbytes)

        def allreduce(buf=buf, out=out):
            comm.Barrier()
            comm.Allreduce(buf, out, MPI.SUM)

        barrier = _best(comm.Barrier, reps)
        bare[nbytes] = max(_best(allreduce, reps) - barrier, 1e-7)
    fx_times = fx_psum_times(SIZES, 1)
    if comm.rank == 0:
        print(json.dumps({"bare": bare, "fx": fx_times}))


def training_overhead():
    import fx
    import fx.numpy as fnp
    from fx.interpreters.pmap import pmap
    from fx.lax import _parallel as plax
    fx.config.update("fx_cpu_devices", 2)

    def loss(params, x, y):
        w1, w2 = params
        return fnp.mean((fnp.tanh(x @ w1) @ w2 - y) ** 2)

    def step(params, x, y):
        grads = fx.grad(loss)(params, x, y)
        return [p - 0.01 * g for p, g in zip(params, grads)]

    def pstep(params, x, y):
        grads = plax.pmean(fx.grad(loss)(params, x, y), "i")
        return [p - 0.01 * g for p, g in zip(params, grads)]

    rng = np.random.default_rng(0)
    rows = []
    for batch, width in ((8, 16), (64, 128), (256, 512)):
        params = [rng.normal(size=(width, width)).astype(np.float32) * 0.1,
                  rng.normal(size=(width, 1)).astype(np.float32) * 0.1]
        x = rng.normal(size=(2, batch, width)).astype(np.float32)
        y = rng.normal(size=(2, batch, 1)).astype(np.float32)
        single = fx.jit(step)
        mapped = pmap(pstep, axis_name="i", in_axes=(None, 0, 0), out_axes=None)
        args = (params, x, y)
        t1 = _best(lambda f=single, a=args: fx.block_until_ready(f(a[0], a[1][0], a[2][0])), 20)
        t2 = _best(lambda f=mapped, a=args: fx.block_until_ready(f(*a)), 20)
        rows.append((batch, width, t1, t2))
    return rows


def _size(n):
    if n < 1024:
        return f"{n} B"
    if n < 2 ** 20:
        return f"{n // 1024} KiB"
    return f"{n // 2 ** 20} MiB"


def main():
    if "--mpi-worker" in sys.argv:
        mpi_worker()
        return
    import fx
    fx.config.update("fx_cpu_devices", 2)
    threads = fx_psum_times(SIZES, 2)
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    procs = None
    if os.path.exists(beside):
        env = dict(os.environ, FX_CPU_DEVICES="1", PYTHONPATH=ROOT)
        cmd = [beside, "-n", "2", sys.executable, os.path.abspath(__file__), "--mpi-worker"]
        if QUICK:
            cmd.append("--quick")
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode == 0:
            procs = json.loads(done.stdout.strip().splitlines()[-1])
        else:
            print("mpiexec run failed:\n" + done.stderr[-2000:])
    print("psum between 2 replicas (times in microseconds; ratio = fx / bare Allreduce)")
    print(f"{'size':>8} {'bare MPI':>10} {'thr call':>10} {'thr loop':>10} {'ratio':>7} "
          f"{'proc call':>10} {'proc loop':>10} {'ratio':>7} {'GB/s proc':>9}")
    for n in SIZES:
        t_call, t_loop = threads[n]
        line = f"{_size(n):>8} "
        if procs:
            bare = procs["bare"][str(n)]
            p_call, p_loop = procs["fx"][str(n)]
            line += (f"{bare * 1e6:10.1f} {t_call * 1e6:10.1f} {t_loop * 1e6:10.1f} "
                     f"{t_loop / bare:7.2f} {p_call * 1e6:10.1f} {p_loop * 1e6:10.1f} "
                     f"{p_loop / bare:7.2f} {n / p_loop / 1e9:9.3f}")
        else:
            line += f"{'-':>10} {t_call * 1e6:10.1f} {t_loop * 1e6:10.1f}"
        print(line)
    print("\npmapped training step (2 devices, threads) vs jitted step on 1 device, "
          "same per-device batch")
    print(f"{'batch':>6} {'width':>6} {'1 device':>10} {'pmap x2':>10} {'overhead':>10}")
    for batch, width, t1, t2 in training_overhead():
        print(f"{batch:6d} {width:6d} {t1 * 1e6:9.0f}us {t2 * 1e6:9.0f}us "
              f"{(t2 - t1) * 1e6:9.0f}us")


if __name__ == "__main__":
    main()
