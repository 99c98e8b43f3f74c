"""Native array loops over one scalar function each (``dst[i] = f(src[i][, src2[i]])``),
compiled once per process through the disk cache: how the eager impls of the XLA-rounded
math functions (``xla_float32``, ``xla_float64``) run large arrays at native speed.

Invariants: the module's IR text is the cache key (any change recompiles); each function
is ``void f(ptr src, [ptr src2,] ptr dst, i64 n)`` over contiguous arrays of one type.
"""
from __future__ import annotations

import ctypes
from typing import Callable

__all__ = ["build"]


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
