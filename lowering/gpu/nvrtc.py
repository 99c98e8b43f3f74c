"""Compiling CUDA C to device code without a device: NVRTC through CuPy's bindings
(``cupy_backends``; the ``nvidia-cuda-nvrtc`` wheel or a CUDA toolkit provides the
library), or ``nvcc`` as a second way for checking sources.

Invariants: nothing here touches a GPU or the CUDA driver, so sources can be
compiled (and checked) on machines without one; ``available()`` and
``nvcc_path()`` never raise. The CUDA headers the kernels include (``cuda_fp16.h``,
``cuda_bf16.h``) are looked up once: ``FX_CUDA_INCLUDE``, ``CUDA_PATH``,
``CUDA_HOME``, CUDA's Python path finder, the directory of ``nvcc``,
``/usr/local/cuda``.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile

__all__ = ["available", "version", "include_dirs", "compile_cubin", "compile_ptx",
           "nvcc_path", "compile_with_nvcc", "CudaCompileError"]

_state: dict = {}


class CudaCompileError(RuntimeError):
    """NVRTC or nvcc rejected a source; ``log`` holds the compiler's messages."""

    def __init__(self, message: str, log: str = ""):
        super().__init__(f"{message}\n{log}" if log else message)
        self.log = log


def _nvrtc():
    if "nvrtc" not in _state:
        try:
            from cupy_backends.cuda.libs import nvrtc
            nvrtc.getVersion()
            _state["nvrtc"] = nvrtc
        except Exception:  # noqa: BLE001 - no CuPy, or no libnvrtc: not available
            _state["nvrtc"] = None
    return _state["nvrtc"]


def available() -> bool:
    """Whether NVRTC can be called in this process (CuPy and libnvrtc present)."""
    return _nvrtc() is not None


def version() -> tuple:
    """NVRTC's ``(major, minor)``, or ``()`` without NVRTC."""
    lib = _nvrtc()
    return tuple(lib.getVersion()) if lib is not None else ()


def _has_headers(path) -> bool:
    return bool(path) and os.path.isfile(os.path.join(path, "cuda_fp16.h"))


def include_dirs() -> list[str]:
    """Directories holding the CUDA headers the kernels include ([] when none found)."""
    if "include" in _state:
        return _state["include"]
    candidates = [os.environ.get("FX_CUDA_INCLUDE")]
    for env in ("CUDA_PATH", "CUDA_HOME"):
        if os.environ.get(env):
            candidates.append(os.path.join(os.environ[env], "include"))
    try:
        from cuda import pathfinder  # shipped with recent CuPy
        found = pathfinder.find_nvidia_header_directory("cudart")
        candidates.append(found)
    except Exception:  # noqa: BLE001
        pass
    nvcc = nvcc_path()
    if nvcc:
        candidates.append(os.path.join(os.path.dirname(os.path.realpath(nvcc)), "..",
                                       "include"))
    candidates += ["/usr/local/cuda/include"] + sorted(glob.glob("/usr/local/cuda-*/include"),
                                                       reverse=True)
    out = [os.path.abspath(c) for c in candidates if _has_headers(c)]
    _state["include"] = out[:1]
    return _state["include"]


def _options(arch: str, extra) -> list[str]:
    opts = [f"--gpu-architecture={arch}", "-std=c++17"]
    opts += [f"-I{d}" for d in include_dirs()]
    return opts + list(extra)


def _compile(source: str, arch: str, extra, want: str) -> bytes:
    lib = _nvrtc()
    if lib is None:
        raise CudaCompileError("NVRTC is not available (install CuPy and the "
                               "nvidia-cuda-nvrtc wheel, or a CUDA toolkit)")
    prog = lib.createProgram(source, "fx_kernels.cu", [], [])
    try:
        try:
            lib.compileProgram(prog, _options(arch, extra))
        except Exception as err:  # noqa: BLE001 - the log says why
            log = lib.getProgramLog(prog)
            raise CudaCompileError(f"NVRTC could not compile the generated CUDA source "
                                   f"({err})", log) from None
        return lib.getCUBIN(prog) if want == "cubin" else lib.getPTX(prog).encode()
    finally:
        lib.destroyProgram(prog)


def compile_cubin(source: str, arch: str = "sm_90", options=()) -> bytes:
    """Device code (a cubin) for ``source`` and architecture ``arch`` (e.g. ``"sm_90"``).

    Example:
      >>> cubin = compile_cubin('extern "C" __global__ void k() {}', "sm_90")
    """
    return _compile(source, arch, options, "cubin")


def compile_ptx(source: str, arch: str = "compute_90", options=()) -> bytes:
    """PTX for ``source`` and virtual architecture ``arch`` (e.g. ``"compute_90"``)."""
    return _compile(source, arch, options, "ptx")


def nvcc_path() -> str | None:
    """The ``nvcc`` executable, or None."""
    return shutil.which("nvcc") or next(
        (p for p in ["/usr/local/cuda/bin/nvcc"] if os.path.exists(p)), None)


def compile_with_nvcc(source: str, arch: str = "sm_90", output: str = "ptx",
                      timeout: float = 300) -> bytes:
    """Compile ``source`` with ``nvcc -arch=<arch> --<output>`` (``ptx`` or ``cubin``).

    Raises CudaCompileError with nvcc's messages when it fails.
    """
    nvcc = nvcc_path()
    if nvcc is None:
        raise CudaCompileError("nvcc was not found")
    with tempfile.TemporaryDirectory(prefix="fx-nvcc-") as tmp:
        src = os.path.join(tmp, "k.cu")
        out = os.path.join(tmp, "k." + output)
        with open(src, "w") as f:
            f.write(source)
        cmd = [nvcc, f"-arch={arch}", f"--{output}", "-std=c++17", "-o", out, src]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise CudaCompileError(f"nvcc failed ({' '.join(cmd)})",
                                   proc.stderr + proc.stdout)
        with open(out, "rb") as f:
            return f.read()
