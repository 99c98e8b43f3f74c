"""Native array loops over one scalar function each (``dst[i] = f(src[i][, src2[i]])``),
compiled once per process through the disk cache: how the eager impls of the XLA-rounded
math functions (``xla_float32``, ``xla_float64``) run large arrays at native speed.

Invariants: the module's IR text is the cache key (any change recompiles); each function
is ``void f(ptr src, [ptr src2,] ptr dst, i64 n)`` over contiguous arrays of one type.
``ArrayKernels`` compiles its loops on first use, once per process (under a lock).
"""
from __future__ import annotations

import ctypes
import threading
from typing import Callable

import numpy as np

__all__ = ["build", "ArrayKernels"]


def build(module_name: str, functions: dict[str, Callable], arity: Callable[[str], int],
          ty, align: int, symbol: Callable[[str], str]) -> dict:
    """Compile one loop per entry of ``functions`` (``name -> fn(emit, *xs)`` emitting the
    scalar function on LLVM values of type ``ty``) and return ``name -> ctypes callable
    (src..., dst, n)``; ``arity(name)`` is 1 or 2, ``symbol(name)`` the function's name."""
    from llvmlite import ir

    from lowering.cpu import diskcache, runtime
    from lowering.cpu.irutil import I64, PTR, VOID, Emit, for_range

    module = ir.Module(name=module_name)
    module.triple = runtime.host_info()["triple"]
    module.data_layout = str(runtime.target_machine().target_data)
    for name, emit_fn in functions.items():
        fn = ir.Function(module, ir.FunctionType(VOID, [PTR] * (arity(name) + 1) + [I64]),
                         symbol(name))
        *srcs, dst, n = fn.args
        for a in (*srcs, dst):
            a.add_attribute("noalias")
        b = ir.IRBuilder(fn.append_basic_block("entry"))

        def element(i, b=b, srcs=srcs, dst=dst, emit_fn=emit_fn):
            xs = [b.load(b.gep(src, [i], inbounds=True, source_etype=ty), typ=ty, align=align)
                  for src in srcs]
            y = emit_fn(Emit(b, module), *xs)
            b.store(y, b.gep(dst, [i], inbounds=True, source_etype=ty), align=align)
        for_range(b, n, element)
        b.ret_void()
    text = str(module)
    addresses = diskcache.compile_cached(
        text, lambda: (text, [symbol(name) for name in functions]))[0]
    return {name: ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * (arity(name) + 1),
                                   ctypes.c_int64)(addresses[symbol(name)])
            for name in functions}


class ArrayKernels:
    """One native loop per scalar function of ``functions`` (``name -> fn(emit, *xs)``)
    over arrays of ``dtype`` (float32 or float64), compiled on first use (once per
    process, thread-safe; disk-cached) and applied by ``apply``. ``arity(name)`` is 1 or
    2; ``symbol(name)`` names each loop's function in the module ``module_name``.

    Example: ``ArrayKernels("m", {"sqrt": mathfns.sqrt}, lambda n: 1, np.float64,
    lambda n: f"m_{n}").apply("sqrt", np.float64([4.0]))`` is ``[2.0]``.
    """

    def __init__(self, module_name: str, functions: dict[str, Callable],
                 arity: Callable[[str], int], dtype, symbol: Callable[[str], str]):
        self.module_name = module_name
        self.functions = functions
        self.arity = arity
        self.dtype = np.dtype(dtype)
        self.symbol = symbol
        self._kernels: dict = {}
        self._lock = threading.Lock()

    def _compiled(self) -> dict:
        if not self._kernels:
            with self._lock:
                if not self._kernels:
                    from lowering.cpu.irutil import F32, F64
                    ty = {4: F32, 8: F64}[self.dtype.itemsize]
                    self._kernels.update(build(self.module_name, self.functions, self.arity,
                                               ty, self.dtype.itemsize, self.symbol))
        return self._kernels

    def apply(self, name: str, x, y=None) -> np.ndarray:
        """``name`` of ``x`` (and of ``y``, broadcast to ``x``'s shape, for a binary
        function), both converted to the kernels' dtype: a new array of ``x``'s shape.
        ValueError for an unknown ``name``; TypeError for the wrong number of arrays."""
        if name not in self.functions:
            raise ValueError(f"apply_array: name must be one of {sorted(self.functions)}, "
                             f"got {name!r}")
        arity = self.arity(name)
        if (arity == 2) != (y is not None):
            raise TypeError(f"apply_array: {name!r} takes {arity} "
                            f"{'arrays' if arity > 1 else 'array'}, got "
                            f"{1 if y is None else 2}")
        kernel = self._compiled()[name]
        x = np.ascontiguousarray(x, self.dtype)
        out = np.empty(x.shape, self.dtype)
        if y is not None:
            y = np.ascontiguousarray(np.broadcast_to(np.asarray(y, self.dtype), x.shape))
            kernel(x.ctypes.data, y.ctypes.data, out.ctypes.data, x.size)
        else:
            kernel(x.ctypes.data, out.ctypes.data, x.size)
        return out
