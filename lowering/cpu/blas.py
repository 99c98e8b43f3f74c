"""Matrix products through OpenBLAS: ``cblas_sgemm``/``cblas_dgemm`` (and
``cblas_cgemm``/``cblas_zgemm`` for complex64/complex128) called from the generated code
through the address of the OpenBLAS that NumPy (or SciPy) ships.

Invariants: a ``dot_general`` is supported when both operands and the result
are float32, float64, complex64 or complex128 of one dtype; ``prepare`` first rewrites
operands whose layout BLAS cannot read (batch axes not leading, free and contracting axes
interleaved) into an explicit transpose, which fusion then turns into a copy
loop (or fuses with the operand's producer). Each product is then one GEMM per
batch element, the batch loop inside the native segment, with the result's
consumers (bias, activation) fused into the loop kernels that follow it.
"""
from __future__ import annotations

import math

import ctypes
import os
import re

import numpy as np
from llvmlite import ir

from fx.core import ClosedJaxpr, Jaxpr, Var
from lowering.cpu import lib_ir, runtime
from lowering.cpu.irutil import F32, F64, I32, I64, PTR, VOID, declare, for_range

__all__ = ["supports", "prepare", "emit_call", "library_info", "symbol", "lapack_symbol"]

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
#: products with fewer multiply-adds than this run on the calling thread: OpenBLAS's
#: threads cost more than they save there, and much more on a loaded machine
SINGLE_THREAD_MACS = 1 << 20
# products from SINGLE_THREAD_MACS up to this many multiply-adds are split into row (or
# column) blocks run on fx's worker pool, each a single-threaded GEMM: the pool yields its
# core when a chunk's thread is descheduled, where OpenBLAS's threads spin-wait on each
# other (a busy machine made a 50M-MAC product 10-30x slower); larger ones keep
# OpenBLAS's threading (its shared packing wins there)
POOL_MAX_MACS = 1 << 28
_POOL_MIN_SPLIT = 32  # rows (columns) per chunk at least
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
#: complex products: cblas_cgemm/cblas_zgemm (alpha and beta passed by address)
_COMPLEX = (np.dtype(np.complex64), np.dtype(np.complex128))
_lib: dict = {}


def _candidates():
    """Paths of loaded OpenBLAS libraries, NumPy's first."""
    paths = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                if "openblas" not in line:  # (thousands of lines; the regex only for these)
                    continue
                path = line.split()[-1] if "/" in line else ""
                if re.search(r"lib(scipy_)?openblas[^/]*\.so", path) and path not in paths:
                    paths.append(path)
    except OSError:  # pragma: no cover - no procfs
        pass
    paths.sort(key=lambda p: ("numpy" not in p, p))
    return paths


def _load():
    """(sgemm address, dgemm address, integer width, path) or None."""
    if "gemm" in _lib:
        return _lib["gemm"]
    found = None
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        # scipy-openblas names its symbols "scipy_" + name + "64_" (64-bit integers)
        for vendor, suffix, width in (("scipy_", "64_", 64), ("", "64_", 64), ("scipy_", "", 32),
                                      ("", "", 32)):
            try:
                s = runtime.symbol_address(lib, f"{vendor}cblas_sgemm{suffix}")
                d = runtime.symbol_address(lib, f"{vendor}cblas_dgemm{suffix}")
            except AttributeError:
                continue
            found = (s, d, width, path)
            _lib["naming"] = (lib, vendor, suffix)
            break
        if found:
            break
    _lib["gemm"] = found
    if found:
        runtime.register_symbol("fx_cblas_sgemm", found[0])
        runtime.register_symbol("fx_cblas_dgemm", found[1])
        for ch in "cz":  # complex GEMMs, under the same naming scheme
            try:
                runtime.register_symbol(f"fx_cblas_{ch}gemm", runtime.symbol_address(
                    _lib["naming"][0], f"{_lib['naming'][1]}cblas_{ch}gemm{_lib['naming'][2]}"))
            except AttributeError:
                pass
        try:  # OpenBLAS >= 0.3.27: a per-calling-thread thread count
            runtime.register_symbol("fx_blas_threads_local", runtime.symbol_address(
                ctypes.CDLL(found[3]), "openblas_set_num_threads_local"))
            _lib["threads_local"] = True
        except (AttributeError, OSError):
            _lib["threads_local"] = False
    return found


def symbol(name: str) -> int:
    """The address of BLAS/LAPACKE routine ``name`` (e.g. ``"cblas_strsm"``,
    ``"LAPACKE_dpotrf"``) in the library the products use, under its naming scheme.
    Raises AttributeError when the library lacks it (or no BLAS was found)."""
    if _load() is None:
        raise AttributeError(f"no BLAS library, so no {name}")
    lib, vendor, suffix = _lib["naming"]
    return runtime.symbol_address(lib, f"{vendor}{name}{suffix}")


_capi: dict = {}


def lapack_symbol(name: str) -> int:
    """The address of LAPACK/BLAS routine ``name`` (e.g. ``"sgeqrf"``, ``"dtrsm"``) as
    SciPy's ``cython_lapack``/``cython_blas`` export it: the very functions jaxlib's CPU
    kernels call (Fortran interface: every argument a pointer, 32-bit integers,
    column-major), so linear algebra computes what ``jax.jit`` computes.
    Raises AttributeError when SciPy is missing or lacks ``name``."""
    if name in _capi:
        return _capi[name]
    try:
        from scipy.linalg import cython_blas, cython_lapack
    except ImportError as err:  # pragma: no cover - SciPy is a dependency
        raise AttributeError(f"SciPy is not installed, so no {name}") from err
    capsule = cython_lapack.__pyx_capi__.get(name) or cython_blas.__pyx_capi__.get(name)
    if capsule is None:
        raise AttributeError(f"SciPy's LAPACK/BLAS has no routine {name}")
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype = ctypes.c_char_p
    api.PyCapsule_GetName.argtypes = [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    address = api.PyCapsule_GetPointer(capsule, api.PyCapsule_GetName(capsule))
    if not address:
        raise AttributeError(f"SciPy's capsule for {name} holds no address")
    _capi[name] = address
    return address


def library_info() -> dict | None:
    """Which OpenBLAS the products call (path and integer width), or None."""
    found = _load()
    return None if found is None else {"path": found[3], "int_bits": found[2]}


def _disabled() -> bool:
    return os.environ.get("FX_CPU_BLAS", "1") in ("0", "false", "off")


def supports(eqn) -> bool:
    """Whether ``dot_general`` ``eqn`` becomes GEMM calls."""
    lhs, rhs = (v.aval for v in eqn.invars)
    out = eqn.outvars[0].aval
    if lhs.dtype != rhs.dtype or out.dtype != lhs.dtype or lhs.dtype not in _FLOATS + _COMPLEX:
        return False
    if _disabled() or _load() is None:
        return False
    if lhs.dtype in _COMPLEX and not runtime.ensure_symbol(
            "fx_cblas_cgemm" if lhs.dtype == np.complex64 else "fx_cblas_zgemm"):
        return False
    return _blas_layout(eqn) is not None


def _split(dn, lhs_ndim, rhs_ndim):
    (lc, rc), (lb, rb) = dn
    lc, rc, lb, rb = (tuple(int(a) for a in t) for t in (lc, rc, lb, rb))
    lf = tuple(d for d in range(lhs_ndim) if d not in lc and d not in lb)
    rf = tuple(d for d in range(rhs_ndim) if d not in rc and d not in rb)
    return lc, rc, lb, rb, lf, rf


def _blas_layout(eqn):
    """(lhs transposed?, rhs transposed?) when BLAS reads both operands in place."""
    lhs, rhs = eqn.invars
    lc, rc, lb, rb, lf, rf = _split(eqn.params["dimension_numbers"], lhs.aval.ndim,
                                    rhs.aval.ndim)
    nb = len(lb)
    if lb != tuple(range(nb)) or rb != tuple(range(nb)):
        return None
    lrest = tuple(range(nb, lhs.aval.ndim))
    rrest = tuple(range(nb, rhs.aval.ndim))
    if lrest == lf + lc:
        ta = False
    elif lrest == lc + lf:
        ta = True
    else:
        return None
    if rrest == rc + rf:
        tb = False
    elif rrest == rf + rc:
        tb = True
    else:
        return None
    return ta, tb


# ---------------------------------------------------------------------------
# making operands BLAS-readable


def _widen_low_float_products(closed: ClosedJaxpr) -> ClosedJaxpr:
    """float16/bfloat16 products become float32 GEMMs between converts (as XLA does on
    the CPU: operands widened, float32 accumulation, one rounding of the result)."""
    from lowering.cpu.irutil import LOW_FLOATS
    if not any(e.primitive.name == "dot_general" and e.outvars[0].aval.dtype in LOW_FLOATS
               for e in closed.jaxpr.eqns):
        return closed
    import primitives
    convert_p = primitives.registry["convert_element_type"]
    f32 = np.dtype(np.float32)
    eqns = []
    for eqn in closed.jaxpr.eqns:
        out = eqn.outvars[0]
        if eqn.primitive.name != "dot_general" or out.aval.dtype not in LOW_FLOATS or \
                any(v.aval.dtype not in LOW_FLOATS for v in eqn.invars):
            eqns.append(eqn)
            continue
        wide = []
        for x in eqn.invars:
            w = Var(x.aval.update(dtype=f32, weak_type=False))
            eqns.append(eqn.replace(primitive=convert_p, invars=[x], outvars=[w], params={
                "new_dtype": f32, "weak_type": False, "sharding": None}))
            wide.append(w)
        y = Var(out.aval.update(dtype=f32, weak_type=False))
        eqns.append(eqn.replace(invars=wide, outvars=[y], params=dict(
            eqn.params, preferred_element_type=f32)))
        eqns.append(eqn.replace(primitive=convert_p, invars=[y], outvars=[out], params={
            "new_dtype": out.aval.dtype, "weak_type": out.aval.weak_type, "sharding": None}))
    j = closed.jaxpr
    return ClosedJaxpr(Jaxpr(j.constvars, j.invars, j.outvars, eqns, j.debug_info),
                       closed.consts)


def prepare(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Rewrite float ``dot_general`` operands BLAS cannot read in place as transposes.

    The transposed operand puts batch axes first, then free axes, then contracting
    axes (in the pairing order), so the product is a plain batched GEMM.
    """
    if _disabled() or _load() is None:
        return closed
    import primitives
    transpose_p = primitives.registry["transpose"]
    closed = _widen_low_float_products(closed)
    eqns, changed = [], False
    for eqn in closed.jaxpr.eqns:
        if eqn.primitive.name != "dot_general" or _blas_layout(eqn) is not None:
            eqns.append(eqn)
            continue
        lhs, rhs = eqn.invars
        out = eqn.outvars[0].aval
        if not (lhs.aval.dtype == rhs.aval.dtype == out.dtype and out.dtype in
                _FLOATS + _COMPLEX):
            eqns.append(eqn)
            continue
        lc, rc, lb, rb, lf, rf = _split(eqn.params["dimension_numbers"], lhs.aval.ndim,
                                        rhs.aval.ndim)
        nb = len(lb)
        new_ins = []
        for x, perm in ((lhs, lb + lf + lc), (rhs, rb + rc + rf)):
            if perm == tuple(range(len(perm))) or not isinstance(x, Var):
                new_ins.append(x)
                continue
            aval = x.aval.update(shape=tuple(x.aval.shape[p] for p in perm), weak_type=False)
            t = Var(aval)
            eqns.append(eqn.replace(primitive=transpose_p, invars=[x], outvars=[t],
                                    params={"permutation": perm}))
            new_ins.append(t)
        from primitives.linalg import dot_dimension_numbers
        batch = tuple(range(nb))
        dn = dot_dimension_numbers(tuple(range(nb + len(lf), nb + len(lf) + len(lc))),
                                   tuple(range(nb, nb + len(rc))), batch, batch)
        eqns.append(eqn.replace(invars=new_ins, params=dict(eqn.params, dimension_numbers=dn)))
        changed = True
    if not changed:
        return closed
    j = closed.jaxpr
    return ClosedJaxpr(Jaxpr(j.constvars, j.invars, j.outvars, eqns, j.debug_info),
                       closed.consts)


# ---------------------------------------------------------------------------
# code generation


def emit_call(module: ir.Module, b: ir.IRBuilder, group, pointer_of) -> None:
    """Emit the GEMM calls of a library group at the builder's position.

    Args:
      module: the module (for the BLAS declarations).
      b: a builder inside the segment's entry function.
      group: the ``library`` group holding one dot_general.
      pointer_of: ``pointer_of(var)`` gives the data pointer of a buffer.
    """
    (eqn,) = group.eqns
    lhs, rhs = eqn.invars
    out = eqn.outvars[0]
    ta, tb = _blas_layout(eqn)
    lc, rc, lb, rb, lf, rf = _split(eqn.params["dimension_numbers"], lhs.aval.ndim,
                                    rhs.aval.ndim)
    batch = math.prod(lhs.aval.shape[d] for d in lb)
    m = math.prod(lhs.aval.shape[d] for d in lf)
    n = math.prod(rhs.aval.shape[d] for d in rf)
    k = math.prod(lhs.aval.shape[d] for d in lc)
    dtype = out.aval.dtype
    fty = F32 if dtype in (np.float32, np.complex64) else F64
    c_ptr = pointer_of(out)
    if batch * m * n == 0:
        return
    item = dtype.itemsize
    if k == 0:  # an empty sum: zeros
        memset = declare(module, "llvm.memset.p0.i64", ir.FunctionType(
            VOID, [PTR, ir.IntType(8), I64, ir.IntType(1)]))
        b.call(memset, [c_ptr, ir.Constant(ir.IntType(8), 0),
                        ir.Constant(I64, batch * m * n * item), ir.Constant(ir.IntType(1), 0)])
        return
    _, _, width, _ = _load()
    it = I64 if width == 64 else I32
    name = {"float32": "fx_cblas_sgemm", "float64": "fx_cblas_dgemm",
            "complex64": "fx_cblas_cgemm", "complex128": "fx_cblas_zgemm"}[dtype.name]
    alpha, beta = ir.Constant(fty, 1.0), ir.Constant(fty, 0.0)
    if dtype in _COMPLEX:  # scalars by address; elements are (re, im) pairs
        alpha, beta = (_complex_constant(module, fty, v) for v in (1.0, 0.0))
        fty = PTR
    fnty = ir.FunctionType(VOID, [I32, I32, I32, it, it, it, fty, PTR, it, PTR, it, fty, PTR,
                                  it])
    gemm = declare(module, name, fnty)
    ety = ir.ArrayType(ir.IntType(8), item)
    lda = m if ta else k
    ldb = k if tb else n
    a_ptr, b_ptr = pointer_of(lhs), pointer_of(rhs)

    def call(a, bb, c):
        b.call(gemm, [ir.Constant(I32, _ROW_MAJOR), ir.Constant(I32, _TRANS if ta else _NO_TRANS),
                      ir.Constant(I32, _TRANS if tb else _NO_TRANS), ir.Constant(it, m),
                      ir.Constant(it, n), ir.Constant(it, k), alpha, a,
                      ir.Constant(it, max(lda, 1)), bb, ir.Constant(it, max(ldb, 1)),
                      beta, c, ir.Constant(it, max(n, 1))])

    macs = batch * m * n * k
    threads = runtime.num_threads()
    if batch == 1 and _lib.get("threads_local") and threads > 1 and \
            SINGLE_THREAD_MACS <= macs <= POOL_MAX_MACS and \
            max(m, n) >= 2 * _POOL_MIN_SPLIT:
        _emit_pooled(module, b, gemm, (ta, tb, m, n, k, lda, ldb, it, alpha, beta, item),
                     (a_ptr, b_ptr, c_ptr), threads)
        return
    small = macs < SINGLE_THREAD_MACS and _lib.get("threads_local")
    if small:
        local = declare(module, "fx_blas_threads_local", ir.FunctionType(I32, [I32]))
        previous = b.call(local, [ir.Constant(I32, 1)])
    if batch == 1:
        call(a_ptr, b_ptr, c_ptr)
    else:
        for_range(b, batch, lambda i: call(*[b.gep(p, [b.mul(i, ir.Constant(I64, size))],
                                                     source_etype=ety)
                                               for p, size in ((a_ptr, m * k), (b_ptr, k * n),
                                                               (c_ptr, m * n))]))
    if small:
        b.call(local, [previous])


def _emit_pooled(module, b, gemm, shape, pointers, threads: int) -> None:
    """One GEMM as blocks of output rows (or columns, when there are more of them) run
    by the worker pool, each block a single-threaded GEMM call."""
    ta, tb, m, n, k, lda, ldb, it, alpha, beta, item = shape
    by_rows = m >= n
    extent = m if by_rows else n
    chunks = max(1, min(2 * threads, extent // _POOL_MIN_SPLIT))
    step = -(-extent // chunks)
    chunks = -(-extent // step)
    name = f"fx_gemm_task_{gemm.name}_{int(ta)}{int(tb)}_{m}_{n}_{k}_{step}"

    def block(tb_, pointers, lo, hi):
        a, bp, c = pointers
        size = tb_.sub(hi, lo)

        def offset(ptr, elements):
            return tb_.gep(ptr, [tb_.mul(lo, ir.Constant(I64, elements * item))],
                           source_etype=ir.IntType(8))
        if by_rows:  # C[lo:hi] = A[lo:hi] B: A's rows are columns of its storage if ta
            a = offset(a, 1 if ta else lda)
            c = offset(c, n)
            mm, nn = size, ir.Constant(I64, n)
        else:        # C[:, lo:hi] = A B[:, lo:hi]
            bp = offset(bp, ldb if tb else 1)
            c = offset(c, 1)
            mm, nn = ir.Constant(I64, m), size
        if it is not I64:
            mm, nn = tb_.trunc(mm, it), tb_.trunc(nn, it)
        tb_.call(gemm, [ir.Constant(I32, _ROW_MAJOR), ir.Constant(I32, _TRANS if ta else _NO_TRANS),
                        ir.Constant(I32, _TRANS if tb else _NO_TRANS), mm, nn,
                        ir.Constant(it, k), alpha, a, ir.Constant(it, max(lda, 1)), bp,
                        ir.Constant(it, max(ldb, 1)), beta, c, ir.Constant(it, max(n, 1))])
    task = lib_ir.chunk_task(module, name, 3, extent, step, block)
    # OpenBLAS's thread count is process-wide ("_local" only means it returns the old
    # count): set it once around the whole job, never from the pool's threads (two of
    # them restoring it concurrently left it at 1 for every later product, NumPy's too)
    local = declare(module, "fx_blas_threads_local", ir.FunctionType(I32, [I32]))
    previous = b.call(local, [ir.Constant(I32, 1)])
    lib_ir.run_chunks(module, b, task, pointers, chunks)
    b.call(local, [previous])


def _complex_constant(module, part_type, value: float):
    """An internal constant global holding the complex scalar ``value`` (real part)."""
    name = f"fx_gemm_scalar_{part_type}_{value}".replace(".", "_")
    g = module.globals.get(name)
    if g is None:
        ty = ir.ArrayType(part_type, 2)
        g = ir.GlobalVariable(module, ty, name)
        g.initializer = ir.Constant(ty, [ir.Constant(part_type, value),
                                         ir.Constant(part_type, 0.0)])
        g.global_constant = True
        g.linkage = "internal"
    return g
