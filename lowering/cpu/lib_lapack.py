"""Linear algebra as native library calls: ``triangular_solve`` through CBLAS
``?trsm``, ``cholesky`` through LAPACKE ``?potrf`` and ``lu`` through ``?getrf``, from
the OpenBLAS the products use (its row-major interfaces, so no transposes), one call
per matrix of a batch.

Invariants: float32 and float64 only, with operands' batch dimensions equal (the
rest keep their eager impl). The result buffer first receives a copy of the
right-hand side (trsm) or of the matrix (potrf), which the routine overwrites in
place. Cholesky follows the eager impl: the strict upper triangle is zero, and a
matrix that is not positive definite (LAPACK's ``info != 0``) becomes all NaN.
The symbols are registered under fx names (``fx_cblas_?trsm``, ``fx_lapacke_?potrf``)
so that object code from the disk cache relinks them.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir

from lowering.cpu import blas, library, runtime
from lowering.cpu.irutil import F32, F64, I8, I32, I64, PTR, VOID, declare, for_range, memcpy

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_ROW_MAJOR = 101
_symbols: dict = {}


def _find() -> dict | None:
    """{fx name: address} of trsm, potrf and getrf in the BLAS library, or None."""
    if "found" not in _symbols:
        try:
            found = {f"fx_cblas_{t}trsm": blas.symbol(f"cblas_{t}trsm") for t in "sd"}
            found.update({f"fx_lapacke_{t}{r}": blas.symbol(f"LAPACKE_{t}{r}")
                          for t in "sd" for r in ("potrf", "getrf")})
        except AttributeError:
            found = None
        for name, address in (found or {}).items():
            runtime.register_symbol(name, address)
        _symbols["found"] = found
    return _symbols["found"]


def _int_type():
    return I64 if blas.library_info()["int_bits"] == 64 else I32


def _batch(shape) -> int:
    return int(np.prod(shape[:-2], dtype=np.int64))


def _at(b, ptr, i, elems: int, fty):
    return b.gep(ptr, [b.mul(i, ir.Constant(I64, elems))], source_etype=fty)


# ---------------------------------------------------------------------------
# triangular_solve


def _trsm_supports(eqn) -> bool:
    a, b = (v.aval for v in eqn.invars)
    return (a.dtype == b.dtype == eqn.outvars[0].aval.dtype and a.dtype in _FLOATS
            and a.shape[:-2] == b.shape[:-2] and a.size > 0 and b.size > 0
            and _find() is not None)


def _trsm_emit(ctx, eqn) -> None:
    p = eqn.params
    a, b_var = eqn.invars
    out = eqn.outvars[0]
    dtype = out.aval.dtype
    fty = F32 if dtype == np.float32 else F64
    it = _int_type()
    rows, cols = b_var.aval.shape[-2:]
    m = a.aval.shape[-1]
    bld = ctx.builder
    memcpy(ctx.module, ctx.builder, ctx.pointer_of(out), ctx.pointer_of(b_var),
           out.aval.size * dtype.itemsize)
    name = f"fx_cblas_{'s' if dtype == np.float32 else 'd'}trsm"
    fn = declare(ctx.module, name, ir.FunctionType(
        VOID, [I32, I32, I32, I32, I32, it, it, fty, PTR, it, PTR, it]))
    side = 141 if p["left_side"] else 142
    uplo = 122 if p["lower"] else 121
    trans = 112 if p["transpose_a"] else 111
    diag = 132 if p["unit_diagonal"] else 131
    a_ptr, o_ptr = ctx.pointer_of(a), ctx.pointer_of(out)

    def one(i):
        bld.call(fn, [ir.Constant(I32, _ROW_MAJOR), ir.Constant(I32, side),
                      ir.Constant(I32, uplo), ir.Constant(I32, trans), ir.Constant(I32, diag),
                      ir.Constant(it, rows), ir.Constant(it, cols), ir.Constant(fty, 1.0),
                      _at(bld, a_ptr, i, m * m, fty), ir.Constant(it, max(m, 1)),
                      _at(bld, o_ptr, i, rows * cols, fty), ir.Constant(it, max(cols, 1))])
    for_range(bld, _batch(out.aval.shape), one)


# ---------------------------------------------------------------------------
# cholesky


def _potrf_supports(eqn) -> bool:
    x = eqn.invars[0].aval
    return x.dtype in _FLOATS and x.size > 0 and _find() is not None


def _potrf_emit(ctx, eqn) -> None:
    x, out = eqn.invars[0], eqn.outvars[0]
    dtype = out.aval.dtype
    fty = F32 if dtype == np.float32 else F64
    it = _int_type()
    n = x.aval.shape[-1]
    bld = ctx.builder
    memcpy(ctx.module, ctx.builder, ctx.pointer_of(out), ctx.pointer_of(x),
           out.aval.size * dtype.itemsize)
    name = f"fx_lapacke_{'s' if dtype == np.float32 else 'd'}potrf"
    fn = declare(ctx.module, name, ir.FunctionType(it, [I32, I8, it, PTR, it]))
    o_ptr = ctx.pointer_of(out)
    nan = ir.Constant(fty, float("nan"))
    zero = ir.Constant(fty, 0.0)

    def one(i):
        mat = _at(bld, o_ptr, i, n * n, fty)
        info = bld.call(fn, [ir.Constant(I32, _ROW_MAJOR), ir.Constant(I8, ord("L")),
                             ir.Constant(it, n), mat, ir.Constant(it, n)])
        failed = bld.icmp_signed("!=", info, ir.Constant(it, 0))

        def row(r):  # strict upper triangle: zero; everything NaN when it failed
            def col(c):
                ptr = bld.gep(mat, [bld.add(bld.mul(r, ir.Constant(I64, n)), c)],
                              source_etype=fty)
                upper = bld.icmp_signed(">", c, r)
                old = bld.load(ptr, typ=fty)
                bld.store(bld.select(failed, nan, bld.select(upper, zero, old)), ptr)
            for_range(bld, n, col)
        for_range(bld, n, row)
    for_range(bld, _batch(out.aval.shape), one)


# ---------------------------------------------------------------------------
# lu: (lu, pivots, permutation) with 0-based int32 pivots, as the eager impl


def _getrf_supports(eqn) -> bool:
    x = eqn.invars[0].aval
    return x.dtype in _FLOATS and x.size > 0 and _find() is not None and \
        all(o.aval.dtype == np.int32 for o in eqn.outvars[1:])


def _getrf_emit(ctx, eqn) -> None:
    x = eqn.invars[0]
    lu, pivots, perm = eqn.outvars
    dtype = x.aval.dtype
    fty = F32 if dtype == np.float32 else F64
    it = _int_type()
    m, n = x.aval.shape[-2:]
    k = min(m, n)
    bld = ctx.builder
    entry = bld.function.entry_basic_block
    with bld.goto_block(entry):  # scratch for LAPACK's 1-based pivots, once per call
        bld.position_at_start(entry)
        ipiv = bld.alloca(it, size=k)
    memcpy(ctx.module, ctx.builder, ctx.pointer_of(lu), ctx.pointer_of(x),
           lu.aval.size * dtype.itemsize)
    name = f"fx_lapacke_{'s' if dtype == np.float32 else 'd'}getrf"
    fn = declare(ctx.module, name, ir.FunctionType(it, [I32, it, it, PTR, it, PTR]))
    lu_ptr, piv_ptr, perm_ptr = (ctx.pointer_of(v) for v in (lu, pivots, perm))

    def one(i):
        # singular matrices still factor (info > 0), as the eager impl's getrf
        bld.call(fn, [ir.Constant(I32, _ROW_MAJOR), ir.Constant(it, m), ir.Constant(it, n),
                      _at(bld, lu_ptr, i, m * n, fty), ir.Constant(it, max(n, 1)), ipiv])
        piv_i = _at(bld, piv_ptr, i, k, I32)
        perm_i = _at(bld, perm_ptr, i, m, I32)

        def copy_pivot(j):
            raw = bld.load(bld.gep(ipiv, [j], source_etype=it), typ=it)
            p0 = bld.sub(raw, ir.Constant(it, 1))
            p0 = bld.trunc(p0, I32) if it == I64 else p0
            bld.store(p0, bld.gep(piv_i, [j], source_etype=I32))
        for_range(bld, k, copy_pivot)
        for_range(bld, m, lambda j: bld.store(bld.trunc(j, I32), bld.gep(perm_i, [j],
                                                                     source_etype=I32)))

        def swap(j):  # apply the row interchanges to the identity permutation
            t = bld.load(bld.gep(piv_i, [j], source_etype=I32), typ=I32)
            t = bld.sext(t, I64)
            ok = bld.and_(bld.icmp_signed(">=", t, ir.Constant(I64, 0)),
                          bld.icmp_signed("<", t, ir.Constant(I64, m)))
            t = bld.select(ok, t, j)
            pa, pb = (bld.gep(perm_i, [q], source_etype=I32) for q in (j, t))
            va, vb = bld.load(pa, typ=I32), bld.load(pb, typ=I32)
            bld.store(vb, pa)
            bld.store(va, pb)
        for_range(bld, k, swap)
    for_range(bld, _batch(x.aval.shape), one)


library.register("triangular_solve", _trsm_supports, _trsm_emit)
library.register("cholesky", _potrf_supports, _potrf_emit)
library.register("lu", _getrf_supports, _getrf_emit)
for _name in ("fx_cblas_strsm", "fx_cblas_dtrsm", "fx_lapacke_spotrf", "fx_lapacke_dpotrf",
              "fx_lapacke_sgetrf", "fx_lapacke_dgetrf"):
    runtime.register_symbol_provider(_name, _find)
