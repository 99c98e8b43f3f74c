"""Fixtures shared by the GPU tests: ``host``, the emulation runtime (generated CUDA
kernels compiled with g++ and run on the CPU; skips without a C++20 compiler), and
``gpu``, a real device's CuPy runtime (skips without an NVIDIA GPU, CuPy and a driver).
"""
from __future__ import annotations

import pytest

from lowering.gpu import device, emulate


@pytest.fixture(scope="module")
def host():
    if not emulate.available():
        pytest.skip("no host C++20 compiler (g++) for the kernel emulation")
    return emulate.HostRuntime(max_blocks=2)


@pytest.fixture(scope="module")
def gpu():
    if not device.gpu_available():
        pytest.skip("needs an NVIDIA GPU with CuPy and a CUDA driver")
    return device.default_runtime()
