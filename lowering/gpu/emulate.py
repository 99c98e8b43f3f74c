"""Running generated CUDA kernels on the host, for testing without a GPU: the kernel
source is compiled as C++ with a header that defines CUDA's built-ins, and a
launch runs the grid block after block.

Invariants: the emulation is sound for the kernels ``kernels.py`` emits. Blocks
run one after another (they never communicate); inside a block, kernels without
block-level communication (loop kernels) run thread after thread, and the others
run one OS thread per CUDA thread: ``__syncthreads`` is a barrier over the block,
``__shfl_xor_sync`` an exchange through a per-warp slot array between two
barriers over the warp (all 32 lanes take part, as the emitted code guarantees),
``__shared__`` variables are function statics (one copy, used by one block at a
time). 16-bit floats use the compiler's ``_Float16`` and a bit-exact bfloat16.
``HostRuntime`` is a ``runtime`` for ``GpuExecutable`` on NumPy buffers; it emulates
CUDA graph capture by recording launches (with their fixed pointers) and replaying
them, and TF32 products by rounding float32 operands to TF32 (10 mantissa bits).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile

import numpy as np

from lowering.gpu import codegen

__all__ = ["HEADER", "available", "build", "HostRuntime"]

HEADER = r"""
#define FX_HOST_EMULATION 1
#include <cmath>
#include <cstring>
#include <cstdint>
#include <barrier>
#include <thread>
#include <vector>
#include <memory>
#include <functional>
using std::isfinite;
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __restrict__ __restrict
#define __shared__ static
struct dim3 { unsigned x = 1, y = 1, z = 1; };
static thread_local dim3 threadIdx, blockIdx;
static dim3 blockDim, gridDim;
struct fx_emu_warp { std::barrier<> bar{32}; long long slot[32]; };
static std::barrier<>* fx_emu_block_barrier = nullptr;
static thread_local fx_emu_warp* fx_emu_this_warp = nullptr;
static inline void __syncthreads() { fx_emu_block_barrier->arrive_and_wait(); }
template <class T> static inline T __shfl_xor_sync(unsigned, T v, int lane_mask) {
  int lane = threadIdx.x & 31;
  std::memcpy(&fx_emu_this_warp->slot[lane], &v, sizeof(T));
  fx_emu_this_warp->bar.arrive_and_wait();
  T out; std::memcpy(&out, &fx_emu_this_warp->slot[lane ^ lane_mask], sizeof(T));
  fx_emu_this_warp->bar.arrive_and_wait();
  return out;
}
static inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
static inline int __popc(unsigned v) { return __builtin_popcount(v); }
static inline int __popcll(unsigned long long v) { return __builtin_popcountll(v); }
static inline int __clz(int v) { return v == 0 ? 32 : __builtin_clz((unsigned)v); }
static inline int __clzll(long long v) {
  return v == 0 ? 64 : __builtin_clzll((unsigned long long)v);
}
static inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
static inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
static inline double erfinv(double y) {
  if (!(y > -1.0 && y < 1.0)) return y == 1.0 ? INFINITY : (y == -1.0 ? -INFINITY : NAN);
  double x = 0.0;  /* Newton on erf(x) - y from a rough start */
  double t = std::log((1.0 - y) * (1.0 + y));
  x = std::copysign(std::sqrt(std::sqrt((2.0 / (M_PI * 0.147) + t / 2) *
      (2.0 / (M_PI * 0.147) + t / 2) - t / 0.147) - (2.0 / (M_PI * 0.147) + t / 2)), y);
  for (int k = 0; k < 4; ++k)
    x -= (std::erf(x) - y) / (2.0 / std::sqrt(M_PI) * std::exp(-x * x));
  return x;
}
static inline float erfinvf(float y) { return (float)erfinv((double)y); }
typedef _Float16 __half;
static inline float __half2float(__half h) { return (float)h; }
static inline __half __float2half_rn(float f) { return (__half)f; }
static inline __half __double2half(double d) { return (__half)d; }
struct __nv_bfloat16 { unsigned short bits; };
static inline float __bfloat162float(__nv_bfloat16 b) {
  unsigned u = (unsigned)b.bits << 16; float f; std::memcpy(&f, &u, 4); return f;
}
static inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  unsigned u; std::memcpy(&u, &f, 4);
  __nv_bfloat16 b;
  if (f != f) { b.bits = (unsigned short)((u >> 16) | 0x40); return b; }
  u += 0x7fffu + ((u >> 16) & 1u);
  b.bits = (unsigned short)(u >> 16);
  return b;
}
static inline __nv_bfloat16 __double2bfloat16(double d) {
  float f = (float)d;
  if (f == f && (double)f != d && !std::isinf(f)) {  /* round to odd, then to bf16 */
    unsigned u; std::memcpy(&u, &f, 4);
    if (std::fabs((double)f) > std::fabs(d)) u -= 1;
    u |= 1u;
    std::memcpy(&f, &u, 4);
  }
  return __float2bfloat16_rn(f);
}
static void fx_emu_run(unsigned grid, unsigned block, int threaded,
                       const std::function<void()>& body) {
  gridDim.x = grid; blockDim.x = block;
  for (unsigned b = 0; b < grid; ++b) {
    if (!threaded) {
      for (unsigned t = 0; t < block; ++t) { blockIdx.x = b; threadIdx.x = t; body(); }
      continue;
    }
    std::barrier<> bar(block);
    fx_emu_block_barrier = &bar;
    std::vector<std::unique_ptr<fx_emu_warp>> warps;
    for (unsigned w = 0; w < block / 32; ++w) warps.emplace_back(new fx_emu_warp());
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < block; ++t)
      threads.emplace_back([&, t, b] {
        blockIdx.x = b; threadIdx.x = t; fx_emu_this_warp = warps[t / 32].get(); body();
      });
    for (auto& th : threads) th.join();
  }
}
"""


def _compiler() -> str | None:
    return shutil.which(os.environ.get("CXX", "g++")) or shutil.which("g++")


def available() -> bool:
    """Whether a host C++20 compiler (g++) is present for the emulation."""
    return _compiler() is not None


def _launcher(spec) -> str:
    casts = []
    for i, v in enumerate(spec.buffers):
        casts.append(f"({codegen.mem_type(v.aval.dtype)}*)args[{i}]")
    return (f'extern "C" void fx_launch_{spec.name}(void** args, unsigned grid, unsigned block,'
            f' int threaded) {{\n  fx_emu_run(grid, block, threaded, [&] {{ {spec.name}('
            f'{", ".join(casts)}); }});\n}}\n')


_built: dict = {}
_FLAGS = ["-std=c++20", "-O1", "-fPIC", "-pthread", "-w", "-ffp-contract=off"]


def _workdir() -> str:
    path = os.path.join(tempfile.gettempdir(), f"fx-gpu-emu-{os.getuid()}")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def _header(cxx: str, workdir: str) -> str:
    """The emulation header, precompiled once (the standard headers dominate build time)."""
    digest = hashlib.sha256((HEADER + cxx + " ".join(_FLAGS)).encode()).hexdigest()[:16]
    path = os.path.join(workdir, f"fx_emu_{digest}.h")
    if not os.path.exists(path + ".gch"):
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(HEADER)
        os.replace(tmp, path)
        gch = f"{path}.gch.{os.getpid()}.tmp"
        proc = subprocess.run([cxx, *_FLAGS, "-x", "c++-header", "-o", gch, path],
                              capture_output=True, text=True)
        if proc.returncode == 0:
            os.replace(gch, path + ".gch")
    return path


def build(source: str, specs):
    """Compile a kernel module (the prelude and kernels, as ``GpuExecutable`` makes it)
    for the host; returns the loaded ``ctypes.CDLL``.

    Raises RuntimeError with the compiler's messages when the source does not compile.
    """
    text = source + "\n" + "".join(_launcher(s) for s in specs)
    cxx = _compiler()
    if cxx is None:
        raise RuntimeError("no host C++ compiler (g++) for the kernel emulation")
    digest = hashlib.sha256((HEADER + text).encode()).hexdigest()[:24]
    lib = _built.get(digest)
    if lib is not None:
        return lib
    workdir = _workdir()
    header = _header(cxx, workdir)
    src = os.path.join(workdir, f"{digest}.cpp")
    so = os.path.join(workdir, f"{digest}.so")
    if not os.path.exists(so):
        with open(src, "w") as f:
            f.write(text)
        tmp = so + f".{os.getpid()}.tmp"
        cmd = [cxx, *_FLAGS, "-shared", "-include", header, "-o", tmp, src]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"host emulation build failed: {' '.join(cmd)}\n"
                               f"{proc.stderr[-6000:]}")
        os.replace(tmp, so)
    lib = _built[digest] = ctypes.CDLL(so)
    return lib


class _HostKernel:
    __slots__ = ("fn", "threaded", "fixed_block")

    def __init__(self, fn, threaded, fixed_block=False):
        self.fn, self.threaded, self.fixed_block = fn, threaded, fixed_block


def tf32_round(x: np.ndarray) -> np.ndarray:
    """float32 values rounded (to nearest even) to TF32's 10 mantissa bits."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32).astype(np.uint64)
    finite = (u & 0x7F800000) != 0x7F800000
    r = (u + 0xFFF + ((u >> 13) & 1)) & 0xFFFFE000
    return np.where(finite, r, u).astype(np.uint32).view(np.float32).reshape(np.shape(x))


class _HostGraph:
    __slots__ = ("ops",)

    def __init__(self, ops):
        self.ops = ops


class HostRuntime:
    """Runs ``GpuExecutable`` programs on the host: NumPy buffers, kernels through the
    emulation (see the module docstring), library calls through NumPy.

    Args:
      max_blocks: the grid size cap (small values exercise the grid-stride loops).
      block: threads per block for every launch (a multiple of 32).

    Attributes:
      launches: ``(name, grid, block)`` of every launch issued by the host (captured
        ones included, replays not); ``captures`` and ``graph_replays`` count graphs.
    """

    platform = "host-emulation"
    xp = np
    supports_graphs = True

    def __init__(self, max_blocks: int = 3, block: int | None = None):
        self.max_blocks = max_blocks
        self.block = block
        self.launches: list[tuple[str, int, int]] = []
        self.captures = 0
        self.graph_replays = 0
        self.scalar_reads = 0
        self._capture: list | None = None

    # -- buffers -------------------------------------------------------------------
    def empty(self, shape, dtype):
        dtype = np.dtype(dtype)
        nbytes = max(1, int(np.prod(shape, dtype=np.int64))) * dtype.itemsize
        raw = np.empty(nbytes + 64, np.uint8)
        offset = (-raw.ctypes.data) % 64
        return raw[offset:offset + nbytes].view(dtype)[:int(np.prod(shape))].reshape(shape)

    def asarray(self, a):
        a = np.asarray(a)
        out = self.empty(a.shape, a.dtype)
        out[...] = a
        return out

    def to_host(self, a):
        return np.asarray(a)

    def is_device_array(self, a) -> bool:
        return type(a) is np.ndarray

    def aligned(self, a) -> bool:
        return a.ctypes.data % 16 == 0

    def synchronize(self) -> None:
        return None

    def copy(self, dst, src) -> None:
        if self._capture is not None:
            raise RuntimeError("HostRuntime.copy during a graph capture")
        np.copyto(dst, src)

    def read_scalar(self, a):
        if self._capture is not None:
            raise RuntimeError("a device-to-host read during a graph capture")
        self.scalar_reads += 1
        return np.asarray(a).reshape(-1)[0]

    def matmul(self, a, b, tf32: bool = False):
        """Batched product of (B, M, K) and (B, K, N); 16-bit floats in float32; float32
        operands rounded to TF32 when ``tf32``."""
        if codegen.is_half(a.dtype):
            return np.matmul(a.astype(np.float32), b.astype(np.float32)).astype(a.dtype)
        if tf32 and a.dtype == np.float32:
            return np.matmul(tf32_round(a), tf32_round(b))
        return np.matmul(a, b)

    # -- graphs --------------------------------------------------------------------
    def begin_capture(self) -> None:
        if self._capture is not None:
            raise RuntimeError("a graph capture is already in progress")
        self._capture = []

    def end_capture(self) -> _HostGraph:
        ops, self._capture = self._capture, None
        if ops is None:
            raise RuntimeError("end_capture without begin_capture")
        self.captures += 1
        return _HostGraph(ops)

    def graph_launch(self, graph: _HostGraph) -> None:
        self.graph_replays += 1
        for fn, ptrs, grid, block, threaded in graph.ops:
            fn(ptrs, grid, block, threaded)

    def keep_alive(self, graphs) -> None:
        return None

    # -- kernels ---------------------------------------------------------------------
    def load(self, source: str, specs) -> dict:
        lib = build(source, specs)
        out = {}
        for s in specs:
            fn = getattr(lib, f"fx_launch_{s.name}")
            fn.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint, ctypes.c_int]
            fn.restype = None
            out[s.name] = _HostKernel(fn, s.kind != "loop", s.kind == "conv")
        return out

    def launch(self, kernel: _HostKernel, name: str, grid: int, block: int, args) -> None:
        if self.block is not None and not kernel.fixed_block:
            block = self.block
        ptrs = (ctypes.c_void_p * max(1, len(args)))(*[a.ctypes.data for a in args])
        self.launches.append((name, grid, block))
        if self._capture is not None:
            self._capture.append((kernel.fn, ptrs, grid, block, int(kernel.threaded)))
            return
        kernel.fn(ptrs, grid, block, int(kernel.threaded))
