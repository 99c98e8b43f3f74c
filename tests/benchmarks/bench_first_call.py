"""First call of a jitted MLP training step (trace + compile + run) in fresh processes,
fx against JAX, with an empty and with a warm compilation cache.

Run by hand (not collected by pytest):

    python tests/benchmarks/bench_first_call.py [--runs 5] [--libs fx,jax]

Each measurement is one new Python process (bytecode writing on, so imports are as a
user's second run sees them): it imports the library, builds a 784-512-512-10 MLP's
parameters and a batch of 128, and times the first call of ``jit(step)`` (gradient of
the cross-entropy and an SGD update) until its result is ready. "cold": the process has
an empty cache directory (fx: ``FX_CACHE_DIR``; JAX: no persistent cache). "warm": the
directory holds the program from an earlier process (JAX: its persistent compilation
cache, every entry kept). The best and median of ``--runs`` processes are printed, with
the CPU time of the first call (all threads) and the library's import time, and the
ratios fx / JAX.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_CHILD = r'''
import os, sys, time
lib, cache = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
import numpy as np
if lib == "fx":
    import fx as L
    import fx.numpy as lnp
    log_softmax = L.nn.log_softmax
else:
    import jax as L
    import jax.numpy as lnp
    log_softmax = L.nn.log_softmax
    if cache != "-":
        L.config.update("jax_compilation_cache_dir", cache)
        L.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        L.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
t1 = time.perf_counter()


def loss(ps, x, y):
    h = x
    for w, b in ps[:-1]:
        h = lnp.maximum(h @ w + b, 0)
    w, b = ps[-1]
    return -lnp.mean(lnp.sum(log_softmax(h @ w + b) * y, axis=-1))


@L.jit
def step(ps, x, y):
    g = L.grad(loss)(ps, x, y)
    return [(w - 0.01 * gw, b - 0.01 * gb) for (w, b), (gw, gb) in zip(ps, g)]


rng = np.random.default_rng(0)
sizes = [784, 512, 512, 10]
ps = [(rng.standard_normal((a, b)).astype(np.float32) * 0.05, np.zeros(b, np.float32))
      for a, b in zip(sizes[:-1], sizes[1:])]
x = rng.random((128, 784), dtype=np.float32)
y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 128)]
c2, t2 = time.process_time(), time.perf_counter()
L.block_until_ready(step(ps, x, y))
t3, c3 = time.perf_counter(), time.process_time()
times = []
for _ in range(5):
    t = time.perf_counter()
    L.block_until_ready(step(ps, x, y))
    times.append(time.perf_counter() - t)
print("RESULT", {"import": 1e3 * (t1 - t0), "first": 1e3 * (t3 - t2),
                 "first_cpu": 1e3 * (c3 - c2), "steady": 1e3 * min(times)})
'''


def _run_child(lib: str, cache: str | None) -> dict:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("JAX_PLATFORMS", "cpu")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), ROOT) if p)
    if lib == "fx":
        env["FX_CACHE_DIR"] = cache
        env.pop("FX_DISK_CACHE", None)
    done = subprocess.run([sys.executable, "-c", _CHILD, lib, cache or "-"], env=env,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{lib} child failed:\n{done.stderr[-3000:]}")
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return eval(line[len("RESULT "):], {})  # a dict of floats printed by the child


def measure(lib: str, runs: int) -> dict:
    """``{"cold": [...], "warm": [...]}``: one result dict per fresh process."""
    out = {"cold": [], "warm": []}
    base = tempfile.mkdtemp(prefix=f"first-call-{lib}-")
    try:
        for k in range(runs):
            cold = os.path.join(base, f"cold{k}")
            os.makedirs(cold, mode=0o700)
            out["cold"].append(_run_child(lib, cold if lib == "fx" else None))
        warm = os.path.join(base, "warm")
        os.makedirs(warm, mode=0o700)
        _run_child(lib, warm)  # fills the cache
        for _ in range(runs):
            out["warm"].append(_run_child(lib, warm))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return out


def _summary(results: list, field: str) -> tuple:
    values = [r[field] for r in results]
    return min(values), statistics.median(values)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per case")
    parser.add_argument("--libs", default="fx,jax", help="comma-separated: fx, jax")
    args = parser.parse_args(argv)
    libs = [s for s in args.libs.split(",") if s]
    table = {}
    for lib in libs:
        if lib == "jax":
            try:
                import jax  # noqa: F401
            except ImportError:
                print("jax is not installed: skipping it")
                continue
        table[lib] = measure(lib, args.runs)
    print(f"first call of jit(MLP train step), best / median of {args.runs} fresh processes "
          "(ms)")
    print(f"{'library':8} {'cache':5} {'first call':>16} {'first call CPU':>16} "
          f"{'import':>16} {'steady call':>12}")
    for lib, res in table.items():
        for case in ("cold", "warm"):
            first = _summary(res[case], "first")
            cpu = _summary(res[case], "first_cpu")
            imp = _summary(res[case], "import")
            steady = _summary(res[case], "steady")
            print(f"{lib:8} {case:5} {first[0]:7.1f} / {first[1]:6.1f} {cpu[0]:7.1f} / "
                  f"{cpu[1]:6.1f} {imp[0]:7.1f} / {imp[1]:6.1f} {steady[0]:12.2f}")
    if "fx" in table and "jax" in table:
        for case in ("cold", "warm"):
            fx_best = _summary(table["fx"][case], "first")[0]
            jax_best = _summary(table["jax"][case], "first")[0]
            print(f"ratio fx / jax, {case} first call (best): {fx_best / jax_best:.2f}")
    print(json.dumps({lib: {case: [r["first"] for r in res[case]] for case in res}
                      for lib, res in table.items()}))


if __name__ == "__main__":
    main()
