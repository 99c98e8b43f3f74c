"""Orthogonal and spectral decompositions as native LAPACK calls: ``qr`` through
``?geqrf`` + ``?orgqr``/``?ungqr``, ``eigh`` through ``?syevd``/``?heevd``, ``svd``
through ``?gesdd`` and ``eig`` through ``?geev``: SciPy's routines (its
``cython_lapack`` exports, the functions jaxlib's CPU kernels call), one call per
matrix of a batch (the batch loop is in the generated helper).

Invariants: routines, precisions, arguments and workspace sizes are jaxlib's (and
the eager impl's): the operand's own precision, jaxlib's job letters and leading
dimensions, ``lapack_workspace`` sizes; so compiled, eager and ``jax.jit`` results
agree to the last bit. Each matrix is copied (transposed) into column-major
scratch, the Fortran routine runs on it in place (every argument passed by
pointer, 32-bit integers), and results are copied out transposed. A matrix whose
routine reports ``info != 0`` gets NaN in every output (real part NaN, imaginary
part 0 for complex outputs), as the eager impl. Scratch is allocated once per
call. Operands of zero size, float16/bfloat16, pivoted QR and ``SvdAlgorithm.QR``
keep their eager impl. The routines are registered under fx names
(``fx_lapack_sgeqrf``, ...) so that object code from the disk cache relinks them.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir

from fx.core import DropVar
from lowering.cpu import blas, library, runtime
from lowering.cpu.irutil import F32, F64, I1, I8, I32, I64, PTR, VOID, declare
from lowering.cpu.lib_ir import HelperFunction, call_helper, helper_name
from primitives.linalg_decomp import lapack_workspace

__all__ = ["lapack_routines", "Lapack", "View", "col_major", "register"]

_DTYPES = frozenset(np.dtype(d) for d in (np.float32, np.float64, np.complex64,
                                           np.complex128))
_ROUTINES = {"s": ("geqrf", "orgqr", "syevd", "gesdd", "geev"),
             "d": ("geqrf", "orgqr", "syevd", "gesdd", "geev"),
             "c": ("geqrf", "ungqr", "heevd", "gesdd", "geev"),
             "z": ("geqrf", "ungqr", "heevd", "gesdd", "geev")}
_found: dict = {}


def register(routines: dict, cache: dict) -> dict | None:
    """{fx symbol name: address} of ``routines`` ({type letter: names}) from SciPy's
    LAPACK/BLAS, registered with the JIT linker (once; None when any is missing)."""
    if "names" not in cache:
        try:
            names = {f"fx_lapack_{t}{r}": blas.lapack_symbol(f"{t}{r}")
                     for t, rs in routines.items() for r in rs}
        except AttributeError:
            names = None
        for name, address in (names or {}).items():
            runtime.register_symbol(name, address)
        cache["names"] = names
    return cache["names"]


def lapack_routines() -> dict | None:
    """{fx symbol name: address} of the LAPACK routines these calls use, registered
    with the JIT linker; None when SciPy's LAPACK lacks any of them."""
    return register(_ROUTINES, _found)


def _letter(dtype) -> str:
    return {"float32": "s", "float64": "d", "complex64": "c", "complex128": "z"}[
        np.dtype(dtype).name]


def _scalar(dtype):
    """(LLVM scalar type, components per element) of ``dtype``."""
    dtype = np.dtype(dtype)
    return (F32 if dtype in (np.float32, np.complex64) else F64), (2 if dtype.kind == "c"
                                                                   else 1)


# ---------------------------------------------------------------------------
# IR building blocks


class View:
    """A matrix inside a buffer: element ``(r, c)`` is scalar ``(base + r*rs + c*cs) *
    comps + k`` of ``ptr`` (``total`` scalars of LLVM type ``ty``)."""

    __slots__ = ("ptr", "total", "ty", "base", "rs", "cs", "comps")

    def __init__(self, ptr, total, ty, base, rs, cs, comps):
        self.ptr, self.total, self.ty = ptr, total, ty
        self.base, self.rs, self.cs, self.comps = base, rs, cs, comps


class Lapack:
    """A helper function calling LAPACK routines (Fortran interface) per matrix of a
    batch."""

    def __init__(self, ctx, eqn, kind: str, key):
        self.ctx, self.eqn = ctx, eqn
        self.fname = helper_name(kind, key + (ctx.bounds_check, "fortran32"))
        self.it = I32
        self.fn = HelperFunction.existing(ctx.module, self.fname)
        self.h = None if self.fn is not None else HelperFunction(
            ctx.module, self.fname, len(eqn.invars) + len(eqn.outvars), ctx.bounds_check)
        self._info = None

    def done(self) -> None:
        if self.fn is None:
            self.fn = self.h.finish()
        call_helper(self.ctx, self.fn, self.eqn)

    # -- values -------------------------------------------------------------------
    def int(self, v):
        return ir.Constant(self.it, int(v))

    @staticmethod
    def char(c: str):
        return ir.Constant(I8, ord(c))

    def call(self, routine: str, *args):
        """``{routine}(*args, &info)`` (``routine`` with its type letter); returns info.

        Python ints become 32-bit integers and one-letter strings characters, both
        passed by pointer (stack slots); floats are passed as ``(1, 0)`` alpha slots
        of the routine's scalar type; LLVM pointers are passed as they are."""
        h = self.h
        ptrs = []
        for a in args:
            if isinstance(a, str):
                ptrs.append(h.variable(I8, self.char(a)))
            elif isinstance(a, int):
                ptrs.append(h.variable(self.it, self.int(a)))
            elif isinstance(a, tuple):   # (scalar type, components, value)
                ty, comps, value = a
                arr = ir.ArrayType(ty, comps)
                slot = h.variable(arr, ir.Constant(arr, [value] + [0.0] * (comps - 1)))
                ptrs.append(slot)
            else:
                ptrs.append(a)
        if self._info is None:
            self._info = h.variable(self.it)
        ptrs.append(self._info)
        fn = declare(h.module, f"fx_lapack_{routine}", ir.FunctionType(VOID, [PTR] * len(ptrs)))
        h.b.call(fn, ptrs)
        return h.b.load(self._info, typ=self.it)

    def scratch(self, count: int, ty) -> tuple:
        """(pointer, count) of a heap buffer of ``count`` elements of ``ty``."""
        size = {F32: 4, F64: 8, I32: 4, I64: 8}[ty]
        return self.h.scratch(max(count, 1) * size), max(count, 1)

    # -- copies -------------------------------------------------------------------
    def _convert(self, v, src_ty, dst_ty):
        if src_ty == dst_ty:
            return v
        return self.h.b.fpext(v, dst_ty) if dst_ty == F64 else self.h.b.fptrunc(v, dst_ty)

    def move(self, src: View, dst: View, rows: int, cols: int, keep=None, sign=None):
        """``dst[r, c] = src[r, c]`` (converted) for ``r < rows``, ``c < cols``; where
        ``keep(r, c)`` is false the value is 0; ``sign`` multiplies the imaginary
        component."""
        h, b = self.h, self.h.b

        def body(ivs):
            r, c = ivs
            s_at = h.linear([(r, src.rs), (c, src.cs)])
            d_at = h.linear([(r, dst.rs), (c, dst.cs)])
            s_at, d_at = b.add(src.base, s_at), b.add(dst.base, d_at)
            for k in range(dst.comps):
                if k < src.comps:
                    at = b.add(h.linear([(s_at, src.comps)]), ir.Constant(I64, k))
                    v = self._convert(h.load_raw(src.ptr, at, src.total, src.ty), src.ty,
                                      dst.ty)
                    if k == 1 and sign is not None:
                        v = b.fmul(v, ir.Constant(dst.ty, sign))
                else:
                    v = ir.Constant(dst.ty, 0.0)
                if keep is not None:
                    v = b.select(keep(r, c), v, ir.Constant(dst.ty, 0.0))
                at = b.add(h.linear([(d_at, dst.comps)]), ir.Constant(I64, k))
                h.store_raw(dst.ptr, at, dst.total, dst.ty, v)
        h.nest((rows, cols), body)

    def fill(self, dst: View, rows: int, cols: int, value: float):
        """``dst[r, c] = value`` (imaginary part 0), as the eager impl's NaN fill."""
        h, b = self.h, self.h.b

        def body(ivs):
            r, c = ivs
            d_at = b.add(dst.base, h.linear([(r, dst.rs), (c, dst.cs)]))
            for k in range(dst.comps):
                at = b.add(h.linear([(d_at, dst.comps)]), ir.Constant(I64, k))
                h.store_raw(dst.ptr, at, dst.total, dst.ty,
                            ir.Constant(dst.ty, value if k == 0 else 0.0))
        h.nest((rows, cols), body)

    def out_view(self, index: int, i, rows: int, cols: int) -> View | None:
        """Matrix ``i`` of output ``index`` (row-major ``rows x cols``), or None when the
        output is dropped."""
        var = self.eqn.outvars[index]
        if isinstance(var, DropVar):
            return None
        dtype = np.dtype(var.aval.dtype)
        comps = 2 if dtype.kind == "c" else 1
        ty = F32 if dtype in (np.float32, np.complex64) else F64
        base = self.h.linear([(i, rows * cols)])
        return View(self.h.args[len(self.eqn.invars) + index], var.aval.size * comps, ty,
                     base, cols, 1, comps)

    def operand_to(self, i, work: View, rows: int, cols: int, index: int = 0) -> None:
        """Matrix ``i`` of operand ``index`` (row-major) into column-major ``work``."""
        x = self.eqn.invars[index]
        dtype = np.dtype(x.aval.dtype)
        comps = 2 if dtype.kind == "c" else 1
        ty = F32 if dtype in (np.float32, np.complex64) else F64
        src = View(self.h.args[index], x.aval.size * comps, ty,
                    self.h.linear([(i, rows * cols)]), cols, 1, comps)
        self.move(src, work, rows, cols)

    def all_finite(self, buf, ty):
        """Whether every scalar of scratch ``buf`` (pointer, count) is finite."""
        h, b = self.h, self.h.b
        flag = h.variable(I1, ir.Constant(I1, 1))
        inf = ir.Constant(ty, float("inf"))

        def body(j):
            finite = b.fcmp_ordered("<", h.e.fabs(h.load_raw(buf[0], j, buf[1], ty)), inf)
            b.store(b.and_(b.load(flag, typ=I1), finite), flag)
        h.loop(0, buf[1], body)
        return b.load(flag, typ=I1)

    def when_failed(self, info, failed_body, ok_body) -> None:
        b = self.h.b
        with b.if_else(b.icmp_signed("!=", info, ir.Constant(info.type, 0))) as (bad, ok):
            with bad:
                failed_body()
            with ok:
                ok_body()


def col_major(ptr_count, ty, rows, comps, base=None, col0: int = 0) -> View:
    """A column-major ``rows x ?`` scratch matrix starting at column ``col0``."""
    ptr, count = ptr_count
    return View(ptr, count, ty, ir.Constant(I64, col0 * rows if base is None else base), 1,
                 rows, comps)


def _batch(shape) -> int:
    return math.prod(shape[:-2])


def _supported(eqn) -> bool:
    x = eqn.invars[0].aval
    return np.dtype(x.dtype) in _DTYPES and x.size > 0 and lapack_routines() is not None


# ---------------------------------------------------------------------------
# qr (without pivoting): jaxlib's geqrf, then orgqr/ungqr on the reflectors (the
# first m columns when m < n; zero columns appended for a complete Q)


def _qr_supports(eqn) -> bool:
    return _supported(eqn) and not eqn.params["pivoting"]


def _qr_emit(ctx, eqn) -> None:
    x = eqn.invars[0].aval
    dtype = np.dtype(x.dtype)
    m, n = x.shape[-2:]
    full = bool(eqn.params["full_matrices"])
    mn = min(m, n)
    k = m if full else mn            # Q's columns
    cols = m if (full or m < n) else n   # the columns orgqr forms
    t = _letter(dtype)
    ty, comps = _scalar(dtype)
    lw_qr = lapack_workspace("geqrf", dtype, m, n)[0]
    lw_q = lapack_workspace("orgqr", dtype, m, cols, mn)[0]
    L = Lapack(ctx, eqn, "qr", (dtype.str, x.shape, full))
    if L.h is not None:
        h = L.h
        a = L.scratch(m * n * comps, ty)
        tau = L.scratch(mn * comps, ty)
        qw = L.scratch(m * cols * comps, ty)
        work = L.scratch(max(lw_qr, lw_q) * comps, ty)

        def one(i):
            L.operand_to(i, col_major(a, ty, m, comps), m, n)
            L.call(f"{t}geqrf", m, n, a[0], m, tau[0], work[0], lw_qr)
            r_out = L.out_view(1, i, k, n)
            if r_out is not None:  # the upper triangle of the first k rows
                L.move(col_major(a, ty, m, comps), r_out, k, n,
                       keep=lambda r, c: h.b.icmp_signed(">=", c, r))
            q_out = L.out_view(0, i, m, k)
            if q_out is not None:
                have = min(cols, n)
                h.memmove(qw[0], a[0], m * have * comps * ty_size(ty))
                if cols > have:
                    L.fill(col_major(qw, ty, m, comps, col0=have), m, cols - have, 0.0)
                L.call(f"{t}{'ungqr' if comps == 2 else 'orgqr'}", m, cols, mn, qw[0], m,
                       tau[0], work[0], lw_q)
                L.move(col_major(qw, ty, m, comps), q_out, m, k)
        h.loop(0, _batch(x.shape), one)
    L.done()


def ty_size(ty) -> int:
    return 4 if ty == F32 else 8


# ---------------------------------------------------------------------------
# eigh: ?syevd / ?heevd on one triangle, jaxlib's workspace sizes; ascending


def _eigh_emit(ctx, eqn) -> None:
    x = eqn.invars[0].aval
    dtype = np.dtype(x.dtype)
    n = x.shape[-1]
    p = eqn.params
    lo, hi = p["subset_by_index"] or (0, n)
    d = hi - lo
    uplo = "L" if p["lower"] else "U"
    t = _letter(dtype)
    ty, comps = _scalar(dtype)
    routine = "heevd" if comps == 2 else "syevd"
    sizes = lapack_workspace("syevd", dtype, n)
    L = Lapack(ctx, eqn, "eigh", (dtype.str, x.shape, uplo, lo, hi))
    if L.h is not None:
        h = L.h
        a = L.scratch(n * n * comps, ty)
        w = L.scratch(n, ty)
        work = L.scratch(sizes[0] * comps, ty)
        rwork = [L.scratch(sizes[2], ty)] if comps == 2 else []
        iwork = L.scratch(sizes[1], I32)

        def one(i):
            L.operand_to(i, col_major(a, ty, n, comps), n, n)
            extra = [rwork[0][0], sizes[2]] if rwork else []
            info = L.call(f"{t}{routine}", "V", uplo, n, a[0], n, w[0], work[0], sizes[0],
                          *extra, iwork[0], sizes[1])
            v_out, w_out = L.out_view(0, i, n, d), L.out_view(1, i, 1, d)

            def failed():
                for o, rows in zip((v_out, w_out), (n, 1)):
                    if o is not None:
                        L.fill(o, rows, d, float("nan"))

            def ok():
                if v_out is not None:
                    L.move(col_major(a, ty, n, comps, col0=lo), v_out, n, d)
                if w_out is not None:
                    L.move(View(w[0], w[1], ty, ir.Constant(I64, lo), 0, 1, 1), w_out, 1, d)
            if v_out is not None or w_out is not None:
                L.when_failed(info, failed, ok)
        h.loop(0, _batch(x.shape), one)
    L.done()


# ---------------------------------------------------------------------------
# svd: ?gesdd, jobz A/S/N, jaxlib's leading dimensions and workspace


def _svd_supports(eqn) -> bool:
    algorithm = eqn.params.get("algorithm")
    return _supported(eqn) and getattr(algorithm, "name", algorithm) not in ("QR", "qr")


def _svd_emit(ctx, eqn) -> None:
    x = eqn.invars[0].aval
    dtype = np.dtype(x.dtype)
    m, n = x.shape[-2:]
    mn = min(m, n)
    p = eqn.params
    uv = bool(p["compute_uv"])
    full = bool(p["full_matrices"]) and uv
    lo, hi = p["subset_by_index"] or (0, mn)
    hi = min(hi, mn)
    d = hi - lo
    jobz = ("A" if full else "S") if uv else "N"
    ucols, vtrows = (m, n) if full else (mn, mn)
    t = _letter(dtype)
    ty, comps = _scalar(dtype)
    lw = lapack_workspace("gesdd", dtype, m, n, uv, full)[0]
    if uv:
        lrw = max(5 * mn * mn + 5 * mn, 2 * max(m, n) * mn + 2 * mn * mn + mn)
    else:
        lrw = 7 * mn
    L = Lapack(ctx, eqn, "svd", (dtype.str, x.shape, jobz, lo, hi))
    if L.h is not None:
        h = L.h
        a = L.scratch(m * n * comps, ty)
        s = L.scratch(mn, ty)
        u = L.scratch(m * ucols * comps if uv else 1, ty)
        vt = L.scratch(vtrows * n * comps if uv else 1, ty)
        work = L.scratch(lw * comps, ty)
        rwork = [L.scratch(lrw, ty)[0]] if comps == 2 else []
        iwork = L.scratch(8 * mn, I32)

        def one(i):
            L.operand_to(i, col_major(a, ty, m, comps), m, n)
            info = L.call(f"{t}gesdd", jobz, m, n, a[0], m, s[0], u[0], m, vt[0], vtrows,
                          work[0], lw, *rwork, iwork[0])
            views = [(L.out_view(0, i, 1, d), 1, d)]
            if uv:
                urows_cols = (m, m if full else d)
                vt_rows_cols = (n if full else d, n)
                views += [(L.out_view(1, i, *urows_cols), *urows_cols),
                          (L.out_view(2, i, *vt_rows_cols), *vt_rows_cols)]

            def failed():
                for o, rows, cols in views:
                    if o is not None:
                        L.fill(o, rows, cols, float("nan"))

            def ok():
                s_out = views[0][0]
                if s_out is not None:
                    L.move(View(s[0], s[1], ty, ir.Constant(I64, lo), 0, 1, 1), s_out, 1, d)
                if not uv:
                    return
                (u_out, ur, uc), (vt_out, vr, vc) = views[1:]
                if u_out is not None:
                    L.move(col_major(u, ty, m, comps, col0=0 if full else lo), u_out, ur, uc)
                if vt_out is not None:
                    src = col_major(vt, ty, vtrows, comps, base=0 if full else lo)
                    L.move(src, vt_out, vr, vc)
            if any(o is not None for o, _, _ in views):
                L.when_failed(info, failed, ok)
        h.loop(0, _batch(x.shape), one)
    L.done()


# ---------------------------------------------------------------------------
# eig: ?geev; real operands' conjugate pairs unpacked as jaxlib does


def _eig_emit(ctx, eqn) -> None:
    x = eqn.invars[0].aval
    dtype = np.dtype(x.dtype)
    n = x.shape[-1]
    p = eqn.params
    left, right = bool(p["compute_left_eigenvectors"]), bool(p["compute_right_eigenvectors"])
    t = _letter(dtype)
    jobvl, jobvr = ("V" if left else "N"), ("V" if right else "N")
    wty, comps = _scalar(dtype)
    cplx = comps == 2
    lw = lapack_workspace("geev", dtype, n, left, right)[0]
    L = Lapack(ctx, eqn, "eig", (dtype.str, x.shape, left, right))
    if L.h is not None:
        a = L.scratch(n * n * comps, wty)
        w = L.scratch(n * comps, wty)
        wi = None if cplx else L.scratch(n, wty)
        vl = L.scratch(n * n * comps if left else 1, wty)
        vr = L.scratch(n * n * comps if right else 1, wty)
        work = L.scratch(lw * comps, wty)
        rwork = [L.scratch(2 * n, wty)[0]] if cplx else []

        def view(buf, rs, cs, k):
            return View(buf[0], buf[1], wty, ir.Constant(I64, 0), rs, cs, k)

        status = L.h.variable(L.it)

        def one(i):
            L.operand_to(i, view(a, 1, n, comps), n, n)
            vals = [w[0]] + ([] if cplx else [wi[0]])
            L.h.b.store(L.int(-4), status)
            # jaxlib does not call LAPACK on a matrix with inf or NaN: NaN results
            with L.h.b.if_then(L.all_finite(a, wty)):
                L.h.b.store(L.call(f"{t}geev", jobvl, jobvr, n, a[0], n, *vals, vl[0], n,
                                   vr[0], n, work[0], lw, *rwork), status)
            info = L.h.b.load(status, typ=L.it)
            outs = [(L.out_view(0, i, 1, n), w, 1)]
            if left:
                outs.append((L.out_view(1, i, n, n), vl, n))
            if right:
                outs.append((L.out_view(len(outs), i, n, n), vr, n))

            def failed():
                for o, _, rows in outs:
                    if o is not None:
                        L.fill(o, rows, n, float("nan"))

            def ok():
                for k, (o, buf, rows) in enumerate(outs):
                    if o is None:
                        continue
                    if cplx:
                        L.move(view(buf, 1, n, 2) if k else view(buf, 0, 1, 2), o, rows, n)
                    elif k:
                        _real_eigenvectors(L, view(buf, 1, n, 1), view(wi, 0, 1, 1), o, n)
                    else:
                        _real_eigenvalues(L, view(buf, 0, 1, 1), view(wi, 0, 1, 1), o, n)
            if any(o is not None for o, _, _ in outs):
                L.when_failed(info, failed, ok)
        L.h.loop(0, _batch(x.shape), one)
    L.done()


def _real_eigenvalues(L: Lapack, wr: View, wi: View, out: View, n: int) -> None:
    """``out[j] = wr[j] + i wi[j]``."""
    h, b = L.h, L.h.b

    def body(j):
        for k, src in enumerate((wr, wi)):
            v = L._convert(h.load_raw(src.ptr, j, src.total, src.ty), src.ty, out.ty)
            at = b.add(h.linear([(b.add(out.base, j), 2)]), ir.Constant(I64, k))
            h.store_raw(out.ptr, at, out.total, out.ty, v)
    h.loop(0, n, body)


def _real_eigenvectors(L: Lapack, v: View, wi: View, out: View, n: int) -> None:
    """Complex eigenvectors from LAPACK's real form: a real eigenvalue's column as is; a
    conjugate pair (``wi[j] > 0``, ``wi[j+1] < 0``) stored as columns ``j`` (real part)
    and ``j+1`` (imaginary part) becomes ``v[:, j] +- i v[:, j+1]``."""
    h, b = L.h, L.h.b
    zero = ir.Constant(v.ty, 0.0)
    one_ = ir.Constant(I64, 1)

    def column(j):
        imag = h.load_raw(wi.ptr, j, wi.total, wi.ty)
        first = b.fcmp_ordered(">", imag, zero)
        second = b.fcmp_ordered("<", imag, zero)
        re_col = b.select(second, b.sub(j, one_), j)
        im_col = b.select(first, b.add(j, one_), j)

        def row(r):
            re = h.load_raw(v.ptr, b.add(r, h.linear([(re_col, n)])), v.total, v.ty)
            im = h.load_raw(v.ptr, b.add(r, h.linear([(im_col, n)])), v.total, v.ty)
            im = b.select(first, im, b.select(second, b.fneg(im), zero))
            at = b.add(out.base, h.linear([(r, out.rs), (j, out.cs)]))
            for k, part in enumerate((re, im)):
                h.store_raw(out.ptr, b.add(h.linear([(at, 2)]), ir.Constant(I64, k)),
                            out.total, out.ty, L._convert(part, v.ty, out.ty))
        h.loop(0, n, row)
    h.loop(0, n, column)


library.register("qr", _qr_supports, _qr_emit)
library.register("eigh", _supported, _eigh_emit)
library.register("svd", _svd_supports, _svd_emit)
library.register("eig", _supported, _eig_emit)
for _t, _rs in _ROUTINES.items():
    for _r in _rs:
        runtime.register_symbol_provider(f"fx_lapack_{_t}{_r}", lapack_routines)
