"""``random_bits`` as a native loop: Threefry-2x32 (20 rounds) of each output position's
flat index under its key, as the eager impl (``primitives.random``) computes it.

Invariants: the output is ``keys.shape[:-1] + shape``; position ``i`` uses key
``i // prod(shape)`` and the 64-bit counter ``i % prod(shape)`` (high word, low word);
32-bit and narrower outputs are ``b0 ^ b1`` truncated, 64-bit ones ``b0 << 32 | b1``.
All arithmetic is uint32 with wrap-around; the loop has no branches, so it vectorizes.
"""
from __future__ import annotations

import ctypes
import threading

import numpy as np
from llvmlite import ir

from lowering.cpu import library
from lowering.cpu.irutil import I32, I64, PTR, VOID, for_range

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_KEY_PARITY = 0x1BD11BDA


def _supports(eqn) -> bool:
    keys = eqn.invars[0].aval
    return keys.dtype == np.uint32 and eqn.params["bit_width"] in (8, 16, 32, 64)


def _emit(ctx, eqn) -> None:
    keys, out = eqn.invars[0], eqn.outvars[0]
    per_key = int(np.prod(eqn.params["shape"], dtype=np.int64))
    total = int(np.prod(out.aval.shape, dtype=np.int64))
    if total == 0:
        return
    width = eqn.params["bit_width"]
    name = f"fx_random_bits_{width}"
    fn = ctx.module.globals.get(name)
    if fn is None:
        fn = _define(ctx.module, name, ir.IntType(width))
        fn.linkage = "internal"
    ctx.builder.call(fn, [ctx.pointer_of(keys), ctx.pointer_of(out),
                          ir.Constant(I64, per_key), ir.Constant(I64, total)])


def _define(module, name, oty) -> ir.Function:
    """``void name(u32* keys, uN* out, i64 per_key, i64 total)``."""
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, PTR, I64, I64]), name)
    keys, out, per_key, total = fn.args
    for a in (keys, out):
        a.add_attribute("noalias")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    for_range(b, total, lambda i: _one(b, keys, out, per_key, i, oty))
    b.ret_void()
    return fn


def _one(b: ir.IRBuilder, keys, out, per_key, i, oty) -> None:
    """Output position ``i``: Threefry-2x32 of its counter under its key."""
    def c32(v):
        return ir.Constant(I32, v & 0xFFFFFFFF)

    which = b.udiv(i, per_key)
    counter = b.urem(i, per_key)
    k0 = b.load(b.gep(keys, [b.mul(which, ir.Constant(I64, 2))], source_etype=I32), typ=I32)
    k1 = b.load(b.gep(keys, [b.add(b.mul(which, ir.Constant(I64, 2)), ir.Constant(I64, 1))],
                      source_etype=I32), typ=I32)
    x0 = b.trunc(b.lshr(counter, ir.Constant(I64, 32)), I32)
    x1 = b.trunc(counter, I32)
    schedule = (k0, k1, b.xor(b.xor(k0, k1), c32(_KEY_PARITY)))
    x0 = b.add(x0, schedule[0])
    x1 = b.add(x1, schedule[1])
    for block in range(5):
        for r in _ROTATIONS[block % 2]:
            x0 = b.add(x0, x1)
            rot = b.or_(b.shl(x1, c32(r)), b.lshr(x1, c32(32 - r)))
            x1 = b.xor(rot, x0)
        x0 = b.add(x0, schedule[(block + 1) % 3])
        x1 = b.add(b.add(x1, schedule[(block + 2) % 3]), c32(block + 1))
    if oty.width == 64:
        value = b.or_(b.shl(b.zext(x0, I64), ir.Constant(I64, 32)), b.zext(x1, I64))
    else:
        value = b.xor(x0, x1)
        if oty.width < 32:
            value = b.trunc(value, oty)
    b.store(value, b.gep(out, [i], source_etype=oty))


library.register("random_bits", _supports, _emit)


# ---------------------------------------------------------------------------
# the same loop for eager calls (any shape; compiled once per process, disk-cached)

_eager: dict = {}
_lock = threading.Lock()


def _eager_functions() -> dict:
    with _lock:
        if not _eager:
            from lowering.cpu import diskcache, runtime
            module = ir.Module(name="fx_random_bits")
            module.triple = runtime.host_info()["triple"]
            module.data_layout = str(runtime.target_machine().target_data)
            names = [f"fx_eager_random_bits_{w}" for w in (8, 16, 32, 64)]
            for n, w in zip(names, (8, 16, 32, 64)):
                _define(module, n, ir.IntType(w))
            text = str(module)
            addresses = diskcache.compile_cached(text, lambda: (text, names))[0]
            proto = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                     ctypes.c_int64)
            for n, w in zip(names, (8, 16, 32, 64)):
                _eager[w] = proto(addresses[n])
        return _eager


def random_bits_array(keys: np.ndarray, bit_width: int, shape) -> np.ndarray:
    """``random_bits`` of uint32 key data ``keys [..., 2]`` by native code."""
    keys = np.ascontiguousarray(keys, np.uint32)
    out = np.empty(keys.shape[:-1] + tuple(shape), np.dtype(f"uint{bit_width}"))
    per_key = int(np.prod(shape, dtype=np.int64))
    if out.size:
        _eager_functions()[bit_width](keys.ctypes.data, out.ctypes.data, per_key, out.size)
    return out
