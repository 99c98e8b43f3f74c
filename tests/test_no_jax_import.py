"""fx must never import jax (JAX is only the tests' oracle).

Runs a fresh interpreter that imports fx, uses grad/vmap/jit/make_jaxpr, runs
``python -m fx.tour`` when that module exists, and then asserts that neither
``jax`` nor ``jaxlib`` was imported. Who tried to import them is recorded by a
meta-path hook, so a failure names the importing module.
"""
import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROGRAM = textwrap.dedent("""
    import importlib.abc, os, runpy, sys, traceback

    attempts = []

    class Recorder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("jax", "jaxlib"):
                attempts.append((name, "".join(traceback.format_stack(limit=8))))
            return None

    sys.meta_path.insert(0, Recorder())

    import fx
    import fx.numpy as fnp

    def loss(w, x):
        return fnp.sum(fnp.tanh(w * x) ** 2)

    w, xs = fnp.ones(3), fnp.ones((4, 3))
    g = fx.jit(fx.vmap(fx.grad(loss), in_axes=(None, 0)))(w, xs)
    assert g.shape == (4, 3), g.shape
    print(fx.make_jaxpr(fx.grad(loss))(w, xs[0]))
    fx.jvp(loss, (w, xs[0]), (w, xs[0]))
    fx.vjp(loss, w, xs[0])[1](fnp.ones(()))

    import importlib.util
    if importlib.util.find_spec("fx.tour") is not None:
        runpy.run_module("fx.tour", run_name="__main__")

    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("jax", "jaxlib"))
    if loaded or attempts:
        for name, stack in attempts[:3]:
            print("IMPORT ATTEMPT", name, "from:\\n", stack, file=sys.stderr)
        raise SystemExit("fx imported " + ", ".join(loaded or [a[0] for a in attempts]))
    print("NO_JAX_OK")
""")


def test_fx_never_imports_jax():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env["FX_CHECKS"] = "1"
    proc = subprocess.run([sys.executable, "-c", PROGRAM], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "NO_JAX_OK" in proc.stdout
