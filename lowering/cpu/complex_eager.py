"""Eager complex ``mul``, ``div`` and ``sign`` (and the ``reduce_prod`` built on ``mul``)
as XLA's CPU backend computes them: native loops over the formulas of
``lowering.cpu.complex_xla`` (fused multiply-adds, Smith's division with C99 Annex G
recovery), so fx's eager results equal JAX's op-by-op ones (which are XLA programs) and
fx's compiled ones, bit for bit, where no operand, intermediate or result is subnormal.

Invariants: one module per process holds a loop per (operation, dtype), compiled on first
use under a lock (disk-cached; the IR text is the key); each loop is
``void f(ptr a, [ptr b,] ptr out, i64 n)`` over contiguous arrays of one complex dtype,
read and written part by part (``complex_rules.load``/``store``) so LLVM vectorizes it.
``apply`` broadcasts its operands (NumPy rules) and copies them to contiguous memory only
where they are not already.
"""
from __future__ import annotations

import ctypes
import threading

import numpy as np

__all__ = ["apply", "reduce_prod"]

_ARITY = {"mul": 2, "div": 2, "sign": 1}
_DTYPES = (np.dtype(np.complex64), np.dtype(np.complex128))
_kernels: dict = {}
#: the longest reduction ``reduce_prod`` multiplies in order (one native call per element)
_ORDERED_MAX = 256
_lock = threading.Lock()


def _symbol(name: str, dtype: np.dtype) -> str:
    return f"fx_complex_eager_{name}_{dtype.name}"


def _emit_loop(module, name: str, dtype: np.dtype) -> None:
    from llvmlite import ir

    from lowering.cpu import complex_rules, complex_xla
    from lowering.cpu.irutil import F32, F64, I64, PTR, VOID, Emit, for_range

    arity = _ARITY[name]
    elem = ir.ArrayType(F32 if dtype.itemsize == 8 else F64, 2)
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR] * (arity + 1) + [I64]),
                     _symbol(name, dtype))
    *srcs, dst, n = fn.args
    for a in (*srcs, dst):
        a.add_attribute("noalias")
    b = ir.IRBuilder(fn.append_basic_block("entry"))

    def element(i):
        e = Emit(b, module)
        zs = [complex_rules.load(b, b.gep(s, [i], inbounds=True, source_etype=elem), dtype)
              for s in srcs]
        parts = [p for z in zs for p in complex_rules._parts(e, z)]
        if name == "mul":
            re, im = complex_xla.mul(e, *parts)
        elif name == "div":
            re, im = complex_xla.div(e, *parts)
        else:
            re, im = complex_xla.sign(e, *parts)
        out = complex_rules._pack(e, zs[0].type, re, im)
        complex_rules.store(b, out, b.gep(dst, [i], inbounds=True, source_etype=elem), dtype)
    for_range(b, n, element)
    b.ret_void()


def _emit_object_entry(module, name: str, dtype: np.dtype, offset: int) -> None:
    """``f_obj(object a, [object b,] object out, i64 n)``: the loop on the arrays' data,
    each read from its ndarray object at ``offset`` (``runtime.OBJECT_LAYOUT``), so a
    call passes the arrays themselves (no Python-side address lookups)."""
    from llvmlite import ir

    from lowering.cpu.irutil import I64, PTR, VOID
    arity = _ARITY[name]
    loop = module.get_global(_symbol(name, dtype))
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR] * (arity + 1) + [I64]),
                     _symbol(name, dtype) + "_obj")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    datas = [b.load(b.gep(obj, [ir.Constant(I64, offset)], source_etype=ir.IntType(8)),
                    typ=PTR) for obj in fn.args[:-1]]
    b.call(loop, [*datas, fn.args[-1]])
    b.ret_void()


def _compiled() -> dict:
    if _kernels:
        return _kernels
    with _lock:
        if not _kernels:
            from llvmlite import ir

            from lowering.cpu import diskcache, runtime
            layout = runtime.OBJECT_LAYOUT
            module = ir.Module(name="fx_complex_eager")
            module.triple = runtime.host_info()["triple"]
            module.data_layout = str(runtime.target_machine().target_data)
            keys = [(name, dtype) for name in _ARITY for dtype in _DTYPES]
            for name, dtype in keys:
                _emit_loop(module, name, dtype)
                if layout is not None:
                    _emit_object_entry(module, name, dtype, layout["array_data"])
            suffix = "" if layout is None else "_obj"
            argtype = ctypes.c_void_p if layout is None else ctypes.py_object
            text = str(module)
            symbols = [_symbol(name, dtype) + suffix for name, dtype in keys]
            addresses = diskcache.compile_cached(text, lambda: (text, symbols))[0]
            kernels = {
                (name, dtype): ctypes.CFUNCTYPE(
                    None, *[argtype] * (_ARITY[name] + 1), ctypes.c_int64)(
                        addresses[_symbol(name, dtype) + suffix])
                for name, dtype in keys}
            if layout is None:  # pragma: no cover - exotic interpreters: pass addresses
                kernels = {key: _by_address(k) for key, k in kernels.items()}
            _kernels.update(kernels)
    return _kernels


def _by_address(kernel):
    def call(*args):
        *arrays, n = args
        kernel(*[a.ctypes.data for a in arrays], n)
    return call


def apply(name: str, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """XLA's complex ``name`` (``"mul"``, ``"div"`` of ``x`` and ``y``, or ``"sign"`` of
    ``x``) of complex64 or complex128 arrays of one dtype, broadcast together by NumPy's
    rules: a new array of the broadcast shape (bit-identical to JAX's, but for
    subnormals, which XLA flushes to zero).

    Example: ``apply("mul", np.complex64([1 + 2j]), np.complex64([3 - 1j]))`` is
    ``[5 + 5j]``.
    """
    arity = _ARITY.get(name)
    if arity is None:
        raise ValueError(f"complex_eager.apply: name must be one of {sorted(_ARITY)}, "
                         f"got {name!r}")
    if (arity == 2) != (y is not None):
        raise TypeError(f"complex_eager.apply: {name!r} takes {arity} "
                        f"{'arrays' if arity > 1 else 'array'}, got {1 if y is None else 2}")
    dtype = x.dtype
    if dtype not in _DTYPES or (y is not None and y.dtype != dtype):
        raise TypeError(f"complex_eager.apply: operands must be complex64 or complex128 "
                        f"of one dtype, got {dtype}"
                        f"{'' if y is None else f' and {y.dtype}'}")
    kernel = (_kernels or _compiled())[(name, dtype)]
    if y is None:
        x = np.asarray(x, order="C")  # (keeps a rank-0 array rank-0)
        out = np.empty(x.shape, dtype)
        kernel(x, out, out.size)
        return out
    if x.shape != y.shape:
        x, y = np.broadcast_arrays(x, y)
    x, y = np.asarray(x, order="C"), np.asarray(y, order="C")
    out = np.empty(x.shape, dtype)
    kernel(x, y, out, out.size)
    return out


def reduce_prod(x: np.ndarray, axes) -> np.ndarray:
    """The product of complex ``x`` over ``axes`` in XLA's CPU order: the reduced
    elements, in row-major order, multiplied one by one into the running product
    (starting from 1; one element is itself) with XLA's ``mul`` (JAX's bits where every
    reduced dim has at most 32 elements); over more than ``_ORDERED_MAX`` elements,
    NumPy's ``prod``.

    Example: ``reduce_prod(np.complex64([[1j, 2], [3, 1j]]), (1,))`` is ``[2j, 3j]``.
    """
    axes = tuple(sorted(int(a) % max(x.ndim, 1) for a in axes))
    kept = [d for d in range(x.ndim) if d not in axes]
    out_shape = tuple(x.shape[d] for d in kept)
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    if count > _ORDERED_MAX:
        return np.prod(x, axis=axes).astype(x.dtype)
    moved = np.transpose(x, kept + list(axes)).reshape(out_shape + (count,))
    if count == 1:  # (XLA reduces one element to itself: no multiplication by 1)
        return moved[..., 0].copy()
    acc = np.ones(out_shape, x.dtype)
    for k in range(count):
        acc = apply("mul", acc, moved[..., k])
    return acc
