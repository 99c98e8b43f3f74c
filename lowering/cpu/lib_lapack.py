"""Triangular linear algebra as native library calls: ``triangular_solve`` through
``?trsm``, ``cholesky`` through ``?potrf`` and ``lu`` through ``?getrf``: SciPy's
BLAS/LAPACK (its ``cython_blas``/``cython_lapack`` exports, the functions jaxlib's
CPU kernels call), one call per matrix of a batch, with jaxlib's arguments.

Invariants: float32 and float64 (complex and low floats keep their eager impl),
with operands' batch dimensions equal. Each matrix is copied (transposed) into
column-major scratch, the routine runs there as jaxlib runs it, and results are
copied out transposed, so compiled, eager and ``jax.jit`` results agree to the
last bit. Cholesky follows the eager impl: the strict upper triangle is zero, and
a matrix that is not positive definite (LAPACK's ``info != 0``) becomes all NaN.
LU pivots are 0-based int32 and the permutation applies them to ``arange(m)``.
The routines are registered under fx names (``fx_lapack_strsm``, ...) so that
object code from the disk cache relinks them.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir

from lowering.cpu import library, runtime
from lowering.cpu.irutil import F32, F64, I32, I64
from lowering.cpu.lib_lapack_spectral import Lapack, View, col_major, register

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_ROUTINES = {"s": ("trsm", "potrf", "getrf"), "d": ("trsm", "potrf", "getrf")}
_found: dict = {}


def _find() -> dict | None:
    """{fx name: address} of trsm, potrf and getrf in SciPy's BLAS/LAPACK, or None."""
    return register(_ROUTINES, _found)


def _batch(shape) -> int:
    return math.prod(shape[:-2])


def _types(dtype):
    dtype = np.dtype(dtype)
    return ("s", F32) if dtype == np.float32 else ("d", F64)


# ---------------------------------------------------------------------------
# triangular_solve: jaxlib's trsm (side, uplo, transa, diag; alpha 1) in place on b


def _trsm_supports(eqn) -> bool:
    a, b = (v.aval for v in eqn.invars)
    return (a.dtype == b.dtype == eqn.outvars[0].aval.dtype and a.dtype in _FLOATS
            and a.shape[:-2] == b.shape[:-2] and a.size > 0 and b.size > 0
            and _find() is not None)


def _trsm_emit(ctx, eqn) -> None:
    p = eqn.params
    a_var, b_var = eqn.invars
    t, ty = _types(b_var.aval.dtype)
    rows, cols = b_var.aval.shape[-2:]
    m = a_var.aval.shape[-1]
    flags = ("L" if p["left_side"] else "R", "L" if p["lower"] else "U",
             "T" if p["transpose_a"] else "N", "U" if p["unit_diagonal"] else "N")
    L = Lapack(ctx, eqn, "trsm", (t, a_var.aval.shape, b_var.aval.shape) + flags)
    if L.h is not None:
        a = L.scratch(m * m, ty)
        b = L.scratch(rows * cols, ty)

        def one(i):
            L.operand_to(i, col_major(a, ty, m, 1), m, m, index=0)
            L.operand_to(i, col_major(b, ty, rows, 1), rows, cols, index=1)
            L.call(f"{t}trsm", *flags, rows, cols, (ty, 1, 1.0), a[0], m, b[0], rows)
            L.move(col_major(b, ty, rows, 1), L.out_view(0, i, rows, cols), rows, cols)
        L.h.loop(0, _batch(b_var.aval.shape), one)
    L.done()


# ---------------------------------------------------------------------------
# cholesky: jaxlib's potrf ("L"); upper triangle zero, NaN where it fails


def _potrf_supports(eqn) -> bool:
    x = eqn.invars[0].aval
    return x.dtype in _FLOATS and x.size > 0 and _find() is not None


def _potrf_emit(ctx, eqn) -> None:
    x = eqn.invars[0].aval
    t, ty = _types(x.dtype)
    n = x.shape[-1]
    L = Lapack(ctx, eqn, "potrf", (t, x.shape))
    if L.h is not None:
        h = L.h
        a = L.scratch(n * n, ty)

        def one(i):
            L.operand_to(i, col_major(a, ty, n, 1), n, n)
            info = L.call(f"{t}potrf", "L", n, a[0], n)
            out = L.out_view(0, i, n, n)
            L.when_failed(info, lambda: L.fill(out, n, n, float("nan")),
                          lambda: L.move(col_major(a, ty, n, 1), out, n, n,
                                         keep=lambda r, c: h.b.icmp_signed("<=", c, r)))
        h.loop(0, _batch(x.shape), one)
    L.done()


# ---------------------------------------------------------------------------
# lu: jaxlib's getrf -> (lu, 0-based int32 pivots, permutation)


def _getrf_supports(eqn) -> bool:
    x = eqn.invars[0].aval
    return x.dtype in _FLOATS and x.size > 0 and _find() is not None and \
        all(o.aval.dtype == np.int32 for o in eqn.outvars[1:])


def _getrf_emit(ctx, eqn) -> None:
    x = eqn.invars[0].aval
    t, ty = _types(x.dtype)
    m, n = x.shape[-2:]
    k = min(m, n)
    L = Lapack(ctx, eqn, "getrf", (t, x.shape))
    if L.h is not None:
        h, bld = L.h, L.h.b
        a = L.scratch(m * n, ty)
        ipiv = L.scratch(k, I32)
        nin = len(eqn.invars)

        def one(i):
            L.operand_to(i, col_major(a, ty, m, 1), m, n)
            L.call(f"{t}getrf", m, n, a[0], m, ipiv[0])   # info > 0 (singular) still factors
            lu_out = L.out_view(0, i, m, n)
            if lu_out is not None:
                L.move(col_major(a, ty, m, 1), lu_out, m, n)
            piv = View(h.args[nin + 1], eqn.outvars[1].aval.size, I32,
                       h.linear([(i, k)]), 0, 1, 1)
            perm = View(h.args[nin + 2], eqn.outvars[2].aval.size, I32,
                        h.linear([(i, m)]), 0, 1, 1)

            def copy_pivot(j):
                raw = h.load_raw(ipiv[0], j, ipiv[1], I32)
                h.store_raw(piv.ptr, bld.add(piv.base, j), piv.total, I32,
                            bld.sub(raw, ir.Constant(I32, 1)))
            h.loop(0, k, copy_pivot)
            h.loop(0, m, lambda j: h.store_raw(perm.ptr, bld.add(perm.base, j), perm.total,
                                               I32, bld.trunc(j, I32)))

            def swap(j):  # apply the row interchanges to the identity permutation
                target = bld.sext(h.load_raw(piv.ptr, bld.add(piv.base, j), piv.total, I32),
                                  I64)
                inside = bld.and_(bld.icmp_signed(">=", target, ir.Constant(I64, 0)),
                                  bld.icmp_signed("<", target, ir.Constant(I64, m)))
                target = bld.select(inside, target, j)
                pa, pb = bld.add(perm.base, j), bld.add(perm.base, target)
                va = h.load_raw(perm.ptr, pa, perm.total, I32)
                vb = h.load_raw(perm.ptr, pb, perm.total, I32)
                h.store_raw(perm.ptr, pa, perm.total, I32, vb)
                h.store_raw(perm.ptr, pb, perm.total, I32, va)
            h.loop(0, k, swap)
        h.loop(0, _batch(x.shape), one)
    L.done()


library.register("triangular_solve", _trsm_supports, _trsm_emit)
library.register("cholesky", _potrf_supports, _potrf_emit)
library.register("lu", _getrf_supports, _getrf_emit)
for _t, _rs in _ROUTINES.items():
    for _r in _rs:
        runtime.register_symbol_provider(f"fx_lapack_{_t}{_r}", _find)
