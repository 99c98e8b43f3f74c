"""Shared machinery of the CPU library calls: helper functions emitted once per module
(named by a hash of everything they depend on), counted loops, checked memory
access, heap scratch and NumPy's scalar min/max semantics.

Invariants: a helper is ``internal void name(ptr ..., ptr status)``; every address
it forms goes through ``HelperFunction.address``, which (under ``bounds_check``)
compares the element index with the buffer's element count, sets ``*status = 1``
and redirects the access to element 0 instead of leaving the buffer; a failed
scratch allocation sets ``*status = 2``. Shapes are static: sizes are baked into
the helper as constants.
"""
from __future__ import annotations

import ctypes
import hashlib

import numpy as np
from llvmlite import ir

from fx.core import DropVar
from lowering.cpu import runtime
from lowering.cpu.irutil import I1, I8, I64, PTR, VOID, Emit, declare, mem_type

__all__ = ["HelperFunction", "helper_name", "call_helper", "prod", "c_strides",
           "numpy_max", "numpy_min", "to_i64"]

_heap: dict = {}


def prod(xs) -> int:
    out = 1
    for x in xs:
        out *= int(x)
    return out


def c_strides(shape) -> tuple:
    """Element strides of a C-contiguous array of ``shape``."""
    strides, step = [], 1
    for s in reversed(shape):
        strides.append(step)
        step *= int(s)
    return tuple(reversed(strides))


def helper_name(kind: str, key) -> str:
    """A module-unique, deterministic function name for helper ``kind`` keyed by ``key``."""
    digest = hashlib.sha1(repr(key).encode()).hexdigest()[:16]
    return f"fx_lib_{kind.replace('-', '_')}_{digest}"


def call_helper(ctx, helper_fn, eqn) -> None:
    """Call ``helper_fn(inputs..., outputs..., status)`` for ``eqn`` at ``ctx.builder``;
    a dropped output is passed as a null pointer."""
    args = [ctx.pointer_of(v) for v in eqn.invars]
    args += [ir.Constant(PTR, None) if isinstance(o, DropVar) else ctx.pointer_of(o)
             for o in eqn.outvars]
    ctx.builder.call(helper_fn, args + [ctx.status])


def pool_run(module: ir.Module, b: ir.IRBuilder, task, env, chunks: int) -> None:
    """Run ``task(env, chunk)`` for every chunk in ``[0, chunks)`` on the worker pool."""
    pfor = declare(module, runtime.PARALLEL_FOR, ir.FunctionType(VOID, [PTR, PTR, I64]))
    b.call(pfor, [task, env, ir.Constant(I64, chunks)])


def run_chunks(module: ir.Module, b: ir.IRBuilder, task, pointers, chunks: int) -> None:
    """``pool_run`` with ``env`` an array of ``pointers`` in the caller's frame (the
    layout ``chunk_task`` reads)."""
    entry = b.function.entry_basic_block
    with b.goto_block(entry):
        b.position_at_start(entry)
        env = b.alloca(PTR, size=len(pointers))
    for k, p in enumerate(pointers):
        b.store(p, b.gep(env, [ir.Constant(I64, k)], source_etype=PTR))
    pool_run(module, b, task, env, chunks)


def call_span(b: ir.IRBuilder, fn, pointers, lo, hi) -> None:
    """Call a span helper ``fn(*pointers[:-1], span, status)`` on ``[lo, hi)`` (``span``:
    two i64 in this frame; the last pointer is the status flag's)."""
    span = b.alloca(I64, size=2)
    b.store(lo, span)
    b.store(hi, b.gep(span, [ir.Constant(I64, 1)], source_etype=I64))
    b.call(fn, list(pointers[:-1]) + [span, pointers[-1]])


def chunk_task(module: ir.Module, name: str, n_pointers: int, total: int, step: int, body):
    """The pool task ``void name(ptr env, i64 chunk)`` (made once per module): it reads
    ``n_pointers`` pointers from ``env`` and calls ``body(builder, pointers, lo, hi)``
    for its share ``[chunk * step, min(total, (chunk + 1) * step))`` of ``total``."""
    task = module.globals.get(name)
    if task is not None:
        return task
    task = ir.Function(module, ir.FunctionType(VOID, [PTR, I64]), name)
    task.linkage = "internal"
    b = ir.IRBuilder(task.append_basic_block("entry"))
    env, chunk = task.args
    pointers = [b.load(b.gep(env, [ir.Constant(I64, k)], source_etype=PTR), typ=PTR)
                for k in range(n_pointers)]
    lo = b.mul(chunk, ir.Constant(I64, step))
    hi = b.add(lo, ir.Constant(I64, step))
    hi = b.select(b.icmp_signed(">", hi, ir.Constant(I64, total)), ir.Constant(I64, total), hi)
    body(b, pointers, lo, hi)
    b.ret_void()
    return task


def _heap_symbols() -> None:
    """Register libc's malloc and free as ``fx_malloc``/``fx_free`` (once)."""
    if _heap:
        return
    libc = ctypes.CDLL(None)
    for name in ("malloc", "free"):
        address = runtime.symbol_address(libc, name)
        runtime.register_symbol(f"fx_{name}", address)
        _heap[name] = address


# object code loaded from the disk cache resolves them through the same registration
for _name in ("fx_malloc", "fx_free"):
    runtime.register_symbol_provider(_name, _heap_symbols)


def to_i64(b: ir.IRBuilder, value, dtype) -> ir.Value:
    """An integer index of ``dtype`` (register form) widened to i64 as NumPy's
    ``astype(int64)`` does (sign-extended when signed, zero-extended when not)."""
    dtype = np.dtype(dtype)
    if value.type.width == 64:
        return value
    return b.sext(value, I64) if dtype.kind == "i" else b.zext(value, I64)


def numpy_max(e: Emit, dtype, a, b):
    """``np.maximum(a, b)`` in register form: for floats ``a`` when ``a > b`` or ``a`` is
    NaN, else ``b`` (so NaN propagates and of two equal zeros ``b`` wins)."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return e.b.or_(a, b)
    if dtype.kind == "f":
        return e.select(e.b.or_(e.b.fcmp_ordered(">", a, b), e.isnan(a)), a, b)
    return e.call("llvm.smax" if dtype.kind == "i" else "llvm.umax", a, b)


def numpy_min(e: Emit, dtype, a, b):
    """``np.minimum(a, b)`` in register form (see ``numpy_max``)."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return e.b.and_(a, b)
    if dtype.kind == "f":
        return e.select(e.b.or_(e.b.fcmp_ordered("<", a, b), e.isnan(a)), a, b)
    return e.call("llvm.smin" if dtype.kind == "i" else "llvm.umin", a, b)


class HelperFunction:
    """Builds one internal helper function ``void name(ptr * n_pointers, ptr status)``.

    Attributes:
      fn: the function; ``args`` its pointer arguments; ``status`` the status pointer.
      b, e: the builder and its ``Emit`` wrapper, positioned in the body.
    """

    def __init__(self, module: ir.Module, name: str, n_pointers: int, bounds_check: bool):
        self.module = module
        self.bounds_check = bounds_check
        self.fn = ir.Function(module, ir.FunctionType(VOID, [PTR] * (n_pointers + 1)), name)
        self.fn.linkage = "internal"
        self.fn.attributes.add("nounwind")
        self.fn.attributes.add("noinline")
        self.args = list(self.fn.args[:n_pointers])
        for arg in self.args:  # results never share memory with operands (see library.py)
            arg.add_attribute("noalias")
        self.status = self.fn.args[n_pointers]
        self.entry = self.fn.append_basic_block("entry")
        body = self.fn.append_basic_block("body")
        self.b = ir.IRBuilder(body)
        self.e = Emit(self.b, module)
        self._frees: list = []

    @staticmethod
    def existing(module: ir.Module, name: str):
        """The helper ``name`` when an earlier call site already emitted it."""
        return module.globals.get(name)

    def finish(self) -> ir.Function:
        for p in self._frees:
            self.b.call(declare(self.module, "fx_free", ir.FunctionType(VOID, [PTR])), [p])
        self.b.ret_void()
        with self.b.goto_block(self.entry):
            self.b.branch(self.fn.blocks[1])
        return self.fn

    # -- values ---------------------------------------------------------------------
    @staticmethod
    def i64(value) -> ir.Value:
        return ir.Constant(I64, int(value)) if isinstance(value, int) else value

    def variable(self, ty: ir.Type, init=None):
        """A stack slot in the entry block (promoted to a register by LLVM)."""
        with self.b.goto_block(self.entry):
            slot = self.b.bitcast(self.b.alloca(ty), PTR)
        if init is not None:
            self.b.store(init, slot)
        return slot

    def scratch(self, nbytes: int) -> ir.Value:
        """A heap buffer of ``nbytes`` (at least 1) freed when the helper returns; when
        the allocation fails the helper sets ``*status = 2`` and returns at once."""
        _heap_symbols()
        malloc = declare(self.module, "fx_malloc", ir.FunctionType(PTR, [I64]))
        p = self.b.call(malloc, [ir.Constant(I64, max(int(nbytes), 1))])
        failed = self.b.icmp_unsigned("==", p, ir.Constant(PTR, None))
        with self.b.if_then(failed, likely=False):
            self.b.store(ir.Constant(I8, 2), self.status)
            for q in self._frees:
                self.b.call(declare(self.module, "fx_free", ir.FunctionType(VOID, [PTR])), [q])
            self.b.ret_void()
        self._frees.append(p)
        return p

    # -- loops ----------------------------------------------------------------------
    def loop(self, start, stop, body) -> None:
        """``for iv in range(start, stop): body(iv)`` with an i64 induction variable."""
        b = self.b
        start, stop = self.i64(start), self.i64(stop)
        if isinstance(start, ir.Constant) and isinstance(stop, ir.Constant):
            lo, hi = int(start.constant), int(stop.constant)
            if hi <= lo:
                return
            if hi - lo == 1:
                body(start)
                return
        pre = b.block
        header = self.fn.append_basic_block("lib.loop")
        inner = self.fn.append_basic_block("lib.body")
        done = self.fn.append_basic_block("lib.done")
        b.branch(header)
        b.position_at_end(header)
        iv = b.phi(I64)
        iv.add_incoming(start, pre)
        b.cbranch(b.icmp_signed("<", iv, stop), inner, done)
        b.position_at_end(inner)
        body(iv)
        iv.add_incoming(b.add(iv, ir.Constant(I64, 1), flags=("nsw", "nuw")), b.block)
        b.branch(header)
        b.position_at_end(done)

    def nest(self, sizes, body, prefix=()) -> None:
        """Loops over every index of ``sizes`` (last innermost); ``body(ivs)``."""
        if len(prefix) == len(sizes):
            body(tuple(prefix))
            return
        self.loop(0, sizes[len(prefix)], lambda iv: self.nest(sizes, body, prefix + (iv,)))

    def linear(self, terms) -> ir.Value:
        """``sum(index * stride)`` over ``(index, stride)`` pairs (indices i64 values)."""
        total = ir.Constant(I64, 0)
        for index, stride in terms:
            if stride == 0:
                continue
            index = self.i64(index)
            term = index if stride == 1 else self.b.mul(index, ir.Constant(I64, stride),
                                                         flags=("nsw",))
            total = self.b.add(total, term, flags=("nsw",))
        return total

    # -- memory ---------------------------------------------------------------------
    def address(self, ptr, index, count: int, ety: ir.Type) -> ir.Value:
        """``&ptr[index]`` for a buffer of ``count`` elements of type ``ety``."""
        index = self.i64(index)
        if self.bounds_check:
            ok = self.b.icmp_unsigned("<", index, ir.Constant(I64, count))
            with self.b.if_then(self.b.not_(ok), likely=False):
                self.b.store(ir.Constant(I8, 1), self.status)
            index = self.b.select(ok, index, ir.Constant(I64, 0))
        return self.b.gep(ptr, [index], inbounds=True, source_etype=ety)

    def load(self, ptr, index, count: int, dtype) -> ir.Value:
        """Element ``index`` of a ``dtype`` buffer in register form (bool as ``i1``)."""
        dtype = np.dtype(dtype)
        ty = mem_type(dtype)
        val = self.b.load(self.address(ptr, index, count, ty), typ=ty, align=dtype.itemsize)
        if dtype == np.bool_:
            return self.b.icmp_unsigned("!=", val, ir.Constant(I8, 0))
        return val

    def store(self, ptr, index, count: int, dtype, value) -> None:
        """Store register-form ``value`` into element ``index`` of a ``dtype`` buffer."""
        dtype = np.dtype(dtype)
        if dtype == np.bool_ and value.type == I1:
            value = self.b.zext(value, I8)
        self.b.store(value, self.address(ptr, index, count, mem_type(dtype)),
                     align=dtype.itemsize)

    def load_raw(self, ptr, index, count: int, ty: ir.Type) -> ir.Value:
        """Element ``index`` of a scratch buffer of LLVM type ``ty``."""
        return self.b.load(self.address(ptr, index, count, ty), typ=ty)

    def store_raw(self, ptr, index, count: int, ty: ir.Type, value) -> None:
        self.b.store(value, self.address(ptr, index, count, ty))

    def memmove(self, dst, src, nbytes: int) -> None:
        if nbytes <= 0:
            return
        fn = declare(self.module, "llvm.memmove.p0.p0.i64",
                     ir.FunctionType(VOID, [PTR, PTR, I64, I1]))
        self.b.call(fn, [dst, src, ir.Constant(I64, nbytes), ir.Constant(I1, 0)])

    def memset(self, dst, nbytes) -> None:
        fn = declare(self.module, "llvm.memset.p0.i64",
                     ir.FunctionType(VOID, [PTR, I8, I64, I1]))
        self.b.call(fn, [dst, ir.Constant(I8, 0), self.i64(nbytes), ir.Constant(I1, 0)])
