"""The data-parallel program of ``mpi_program.py`` under ``mpiexec -n 2`` (2 processes
x 1 device, and 2 x 2) against the same program in one process with all the
devices; a stuck rank and ranks calling different collectives fail with clear
errors within ``FX_COLLECTIVE_TIMEOUT`` instead of hanging.

Skipped cleanly when mpi4py or mpiexec is not installed (``pip install mpi4py mpich``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

pytestmark = pytest.mark.mpi

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROGRAM = os.path.join(ROOT, "tests", "parallel", "mpi_program.py")


def _mpiexec():
    pytest.importorskip("mpi4py", reason="mpi4py is not installed")
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = beside if os.path.exists(beside) else shutil.which("mpiexec")
    if found is None:
        pytest.skip("mpiexec is not installed")
    return found


def _env(devices, timeout=30):
    env = dict(os.environ, FX_CPU_DEVICES=str(devices), FX_COLLECTIVE_TIMEOUT=str(timeout),
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("FX_CHECKS", None)
    return env


def _run(cmd, env, limit=120):
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=limit)
    return proc


def _load(prefix, processes):
    parts = [np.load(f"{prefix}.rank{p}.npz") for p in range(processes)]
    return parts


@pytest.mark.parametrize("local_devices", [1, 2])
def test_two_processes_match_one(tmp_path, local_devices):
    mpiexec = _mpiexec()
    total = 2 * local_devices
    single = _run([sys.executable, PROGRAM, str(tmp_path / "single")], _env(total))
    assert single.returncode == 0, single.stderr
    multi = _run([mpiexec, "-n", "2", sys.executable, PROGRAM, str(tmp_path / "multi"),
                  "normal", "--distributed"], _env(local_devices))
    assert multi.returncode == 0, multi.stdout + multi.stderr
    (ref,) = _load(tmp_path / "single", 1)
    parts = _load(tmp_path / "multi", 2)
    for key in ref.files:
        if key in ("w", "b"):  # the trained parameters: the same on every process
            for part in parts:
                np.testing.assert_allclose(part[key], ref[key], rtol=1e-5, atol=1e-6)
        else:  # local shards, in global device order
            joined = np.concatenate([part[key] for part in parts])
            np.testing.assert_allclose(joined, ref[key], rtol=1e-5, atol=1e-6,
                                       err_msg=key)


@pytest.mark.parametrize("mode,error,devices", [
    ("stuck", "CollectiveTimeoutError: psum", 1),
    ("stuck", "in process 0 of 2: another process died", 2),  # local threads wait too
    ("mismatch", "CollectiveMismatchError: processes called different collectives", 1),
])
def test_failures_are_reported_not_hung(tmp_path, mode, error, devices):
    mpiexec = _mpiexec()
    start = time.monotonic()
    proc = _run([mpiexec, "-n", "2", sys.executable, PROGRAM, str(tmp_path / mode), mode,
                 "--distributed"], _env(devices, timeout=2), limit=60)
    elapsed = time.monotonic() - start
    assert proc.returncode != 0
    with open(tmp_path / f"{mode}.rank0.err") as f:
        assert error in f.read()
    assert elapsed < 30, f"the job took {elapsed:.1f} s to fail"


def test_a_dying_rank_ends_the_job(tmp_path):
    mpiexec = _mpiexec()
    start = time.monotonic()
    proc = _run([mpiexec, "-n", "2", sys.executable, PROGRAM, str(tmp_path / "exit"), "exit",
                 "--distributed"], _env(1, timeout=2), limit=60)
    assert proc.returncode != 0
    assert time.monotonic() - start < 30
    assert not os.path.exists(tmp_path / "exit.rank0.npz")  # rank 0 did not finish alone
