"""A data-parallel program run by tests/parallel/test_mpi.py, under ``mpiexec -n P`` or in
one process (the reference).

Usage: python mpi_program.py OUT [normal|stuck|mismatch|exit] [--distributed]

Every process writes ``OUT.rank{p}.npz`` with its local shards of each result, in
global device order; the test joins them and compares with the single-process run,
which has all the devices itself. ``stuck``: process 1 never reaches a collective;
``mismatch``: the processes call different collectives. Both must fail with a clear
error on process 0 (written to ``OUT.rank0.err``) instead of hanging. ``exit``:
process 1 dies at once; the job must end (mpiexec tears it down) instead of hanging.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

import fx
import fx.distributed  # noqa: F401  (fx.distributed.initialize)
import fx.numpy as fnp
from fx.interpreters.pmap import pmap
from fx.lax import _parallel as plax

N_FEATURES, PER_DEVICE, STEPS, LR = 3, 4, 20, 0.1


def data(n_devices):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n_devices, PER_DEVICE, N_FEATURES)).astype(np.float32)
    w_true = np.array([1.5, -2.0, 0.5], np.float32)
    y = (x @ w_true + 0.3 + 0.01 * rng.normal(size=x.shape[:2])).astype(np.float32)
    return x, y


def loss(params, x, y):
    w, b = params
    return fnp.mean((x @ w + b - y) ** 2)


def train(x_local, y_local):
    def step(params, x, y):
        grads = fx.grad(loss)(params, x, y)
        grads = plax.pmean(grads, "i")
        return [p - LR * g for p, g in zip(params, grads)]

    update = pmap(step, axis_name="i", in_axes=(None, 0, 0), out_axes=None)
    params = [np.zeros(N_FEATURES, np.float32), np.float32(0.0)]
    for _ in range(STEPS):
        params = update(params, x_local, y_local)
    return [np.asarray(p) for p in params]


def collectives(x_local, n):
    shift = [(i, (i + 1) % n) for i in range(n)]
    halves = [list(range(0, n, 2)), list(range(1, n, 2))]  # interleaved: cross processes

    def body(v):
        tiles = fnp.tile(v, (n, 1))
        return {"psum": plax.psum(v, "i"), "pmax": plax.pmax(v, "i"),
                "pmin": plax.pmin(v, "i"),
                "all_gather": plax.all_gather(v, "i"), "axis_index": plax.axis_index("i"),
                "all_gather_tiled": plax.all_gather(v, "i", axis=0, tiled=True),
                "ppermute": plax.ppermute(v, "i", shift),
                "ppermute_partial": plax.ppermute(v, "i", [(n - 1, 0)]),
                "pshuffle": plax.pshuffle(v, "i", list(reversed(range(n)))),
                "pbroadcast": plax.pbroadcast(v, "i", n - 1),
                "all_to_all": plax.all_to_all(tiles, "i", 0, 0, tiled=True),
                "psum_scatter": plax.psum_scatter(tiles, "i", tiled=True),
                "psum_scatter_rows": plax.psum_scatter(tiles, "i"),
                "psum_groups": plax.psum(v, "i", axis_index_groups=halves),
                "all_gather_groups": plax.all_gather(v, "i", axis_index_groups=halves)}

    def nested(v):  # an inner pmap over the 3 features: the inner frame is local
        def inner(u):
            return (plax.ppermute(u, "i", shift), plax.psum_scatter(
                fnp.tile(u, n), "i", tiled=True), plax.psum(u, ("i", "j")))
        return pmap(inner, axis_name="j")(v)

    out = pmap(body, axis_name="i")(x_local)
    results = {k: np.asarray(v) for k, v in out.items()}
    for k, v in zip(("nested_ppermute", "nested_psum_scatter", "nested_psum"),
                    pmap(nested, axis_name="i")(x_local)):
        results[k] = np.asarray(v)
    return results


def main():
    out_path, mode = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "normal")
    if "--distributed" in sys.argv:
        fx.distributed.initialize()
    p, n, local = fx.process_index(), fx.device_count(), fx.local_device_count()
    rows = slice(p * local, (p + 1) * local)
    x, y = data(n)
    try:
        if mode == "stuck" and p == 1:
            time.sleep(120)
            os._exit(0)
        if mode == "exit" and p == 1:  # a rank that dies before its collectives
            os._exit(3)
        if mode == "mismatch":
            op = plax.psum if p == 0 else plax.all_gather
            np.asarray(pmap(lambda v: op(v, "i"), axis_name="i")(x[rows]))
        results = collectives(x[rows, 0], n)
        w, b = train(x[rows], y[rows])
        results.update(w=w, b=b)
    except Exception as e:  # the failure tests read this
        with open(f"{out_path}.rank{p}.err", "w") as f:
            f.write(f"{type(e).__name__}: {e}\n")
        raise
    np.savez(f"{out_path}.rank{p}.npz", **results)


if __name__ == "__main__":
    main()
