"""GPU collective benchmarks (run by hand on a machine with CUDA GPUs:
``python tests/benchmarks/bench_gpu_collectives.py [--quick] [--json OUT]``).

psum over every visible GPU, 8 B to 256 MiB of float32 per device, three ways:

- ``nccl``: CuPy's NCCL directly (one ``allReduce`` per device in one group, then
  every stream synchronized): the reference;
- ``fx comm``: fx's ``NcclCommunicator.collective("psum", ...)`` on the same
  buffers (fx's dispatch around the same NCCL calls);
- ``fx pmap``: a pmapped program of ``LOOP`` psums in a row (each a step between
  compiled segments), per psum, its inputs already on the devices.

Reported: time per psum (best of the repeats), the algorithm bandwidth (bytes per
device / time) and, for fx, the ratio to the reference (1.0 is as fast). Without
NCCL (``cupy.cuda.nccl`` unavailable) only the fx rows run, staged through the host.
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_collectives import _best  # noqa: E402  (best of n timings, one warm-up call)

QUICK = "--quick" in sys.argv
SIZES = [8 * 8 ** k for k in range(8)] + [64 * 2 ** 20, 256 * 2 ** 20]
if QUICK:
    SIZES = [s for s in SIZES if s <= 2 * 2 ** 20]
LOOP = 10


def _repeats(nbytes):
    return 5 if nbytes >= 2 ** 24 else (10 if nbytes >= 2 ** 20 else 50)


def _measure(nbytes, lib, comm, runtimes, devices, looped, sync) -> dict:
    import cupy

    from fx.interpreters.pmap import device_put_sharded
    n = len(runtimes)
    count = max(1, nbytes // 4)
    bufs = [rt.asarray(np.ones(count, np.float32)) for rt in runtimes]
    outs = [rt.empty((count,), np.float32) for rt in runtimes]
    reps = _repeats(nbytes)
    ref = None
    if lib is not None and comm.kind == "nccl":
        def direct():
            lib.groupStart()
            for c, rt, b, o in zip(comm.comms, runtimes, bufs, outs):
                with rt.device:
                    c.allReduce(b.data.ptr, o.data.ptr, count, lib.NCCL_FLOAT32,
                                lib.NCCL_SUM, rt.stream.ptr)
            lib.groupEnd()
            sync()
        ref = _best(direct, reps)

    def through_fx():
        comm.collective("psum", bufs, {"groups": None})
        sync()
    fx_time = _best(through_fx, reps)
    x = device_put_sharded([np.ones(count, np.float32)] * n, devices)

    def program():
        looped(x)
        cupy.cuda.runtime.deviceSynchronize()
    per_psum = _best(program, max(3, reps // 5)) / LOOP
    return {"bytes": nbytes, "nccl_s": ref, "fx_comm_s": fx_time, "pmap_per_psum_s": per_psum}


def main():
    from fx.interpreters.communicator import device_communicator
    from fx.interpreters.pmap import pmap
    from fx.lax import _parallel as plax
    from lowering.gpu import device as gpu_device
    from lowering.gpu import nccl

    devices = gpu_device.gpu_devices()
    if not devices:
        print("no CUDA GPU: nothing to measure")
        return {}
    n = len(devices)
    runtimes = [gpu_device.runtime_for(d) for d in devices]
    comm = device_communicator(runtimes, devices, list(range(n)), n)
    lib = nccl.library()
    print(f"{n} x {runtimes[0].name}; fx communicator: {comm.kind}")

    def sync():
        for rt in runtimes:
            rt.synchronize()

    def chain(v):
        for _ in range(LOOP):
            v = plax.psum(v, "i") * (1.0 / n)
        return v
    looped = pmap(chain, axis_name="i", devices=devices)
    rows = []
    header = f"{'bytes':>10} {'nccl us':>9} {'GB/s':>7} {'fx comm us':>10} {'ratio':>6} " \
             f"{'pmap/psum us':>12} {'ratio':>6}"
    print(header)
    for nbytes in SIZES:
        row = _measure(nbytes, lib, comm, runtimes, devices, looped, sync)
        rows.append(row)
        ref, fx_time, per_psum = row["nccl_s"], row["fx_comm_s"], row["pmap_per_psum_s"]
        nan = float("nan")
        print(f"{nbytes:>10} {ref * 1e6 if ref else nan:>9.1f} "
              f"{nbytes / ref / 1e9 if ref else nan:>7.2f} {fx_time * 1e6:>10.1f} "
              f"{fx_time / ref if ref else nan:>6.2f} {per_psum * 1e6:>12.1f} "
              f"{per_psum / ref if ref else nan:>6.2f}")
    return {"devices": n, "device": runtimes[0].name, "communicator": comm.kind, "rows": rows}


if __name__ == "__main__":
    result = main()
    if "--json" in sys.argv:
        with open(sys.argv[sys.argv.index("--json") + 1], "w") as f:
            json.dump(result, f, indent=1)
