"""Orthogonal and spectral decompositions as native LAPACK calls: ``qr`` through
``?geqrf`` + ``?orgqr``/``?ungqr``, ``eigh`` through ``?syevd``/``?heevd``, ``svd``
through ``?gesdd`` and ``eig`` through ``?geev``, from the OpenBLAS the products use,
one call per matrix of a batch (the batch loop is in the generated helper).

Invariants: the drivers, precisions and workspace sizes are the eager impl's (NumPy's
``linalg``: float32 and complex64 computed in double precision, workspaces of the
size LAPACK's query asks for; ``eig`` with left eigenvectors is SciPy's, in the
operand's own precision), so compiled and eager results agree to the last bit or
nearly. Each matrix is copied (converted, transposed) into column-major scratch, the
LAPACKE ``_work`` routine runs on it in place (column-major: no copies inside
LAPACKE, no NaN screening), and results are copied out transposed and rounded back.
A matrix whose routine reports ``info != 0`` gets NaN in every output (real part
NaN, imaginary part 0 for complex outputs), as the eager impl. Workspace sizes are
queried once per shape at compile time; scratch is allocated once per call.
Operands of zero size, float16/bfloat16 and pivoted QR keep their eager impl.
The routines are registered under fx names (``fx_lapacke_dgeqrf_work``, ...) so that
object code from the disk cache relinks them.
"""
from __future__ import annotations

import ctypes
import math

import numpy as np
from llvmlite import ir

from fx.core import DropVar
from lowering.cpu import blas, library, runtime
from lowering.cpu.irutil import F32, F64, I1, I8, I32, I64, declare
from lowering.cpu.lib_ir import HelperFunction, call_helper, helper_name

__all__ = ["lapack_routines"]

_COL_MAJOR = 102
_DTYPES = frozenset(np.dtype(d) for d in (np.float32, np.float64, np.complex64,
                                           np.complex128))
_ROUTINES = {"s": ("geqrf", "orgqr", "syevd", "gesdd", "geev"),
             "d": ("geqrf", "orgqr", "syevd", "gesdd", "geev"),
             "c": ("geqrf", "ungqr", "heevd", "gesdd", "geev"),
             "z": ("geqrf", "ungqr", "heevd", "gesdd", "geev")}
_found: dict = {}


def lapack_routines() -> dict | None:
    """{fx symbol name: address} of the LAPACKE ``_work`` routines these calls use,
    registered with the JIT linker; None when the BLAS library lacks any of them."""
    if "names" not in _found:
        try:
            names = {f"fx_lapacke_{t}{r}_work": blas.symbol(f"LAPACKE_{t}{r}_work")
                     for t, routines in _ROUTINES.items() for r in routines}
        except AttributeError:
            names = None
        for name, address in (names or {}).items():
            runtime.register_symbol(name, address)
        _found["names"] = names
    return _found["names"]


def _int_bits() -> int:
    return blas.library_info()["int_bits"]


def _letter(dtype) -> str:
    return {"float32": "s", "float64": "d", "complex64": "c", "complex128": "z"}[
        np.dtype(dtype).name]


def _work_letter(dtype, native_precision: bool = False) -> str:
    """The LAPACK type letter the eager impl computes ``dtype`` in (NumPy: double)."""
    if native_precision:
        return _letter(dtype)
    return "z" if np.dtype(dtype).kind == "c" else "d"


# ---------------------------------------------------------------------------
# workspace queries (Python, at compile time)

_query_cache: dict = {}


def _query(t: str, routine: str, ints: list, chars: str = "", extra: str = "") -> tuple:
    """Optimal workspace sizes of ``LAPACKE_{t}{routine}_work`` (column-major) for the
    given integer arguments: (work[, rwork][, iwork]) as named by ``extra``.

    The call's argument list is: layout, the ``chars``, the leading ``ints``, then the
    routine's pointers/leading dimensions per ``routine`` (see ``_QUERY_ARGS``).
    """
    key = (t, routine, tuple(ints), chars, extra)
    if key in _query_cache:
        return _query_cache[key]
    it = ctypes.c_int64 if _int_bits() == 64 else ctypes.c_int32
    dummy = np.zeros(8, np.complex128)
    work = np.zeros(2, np.complex128)
    rwork = np.zeros(2, np.float64)
    iwork = np.zeros(2, np.int64 if _int_bits() == 64 else np.int32)
    p, w, rw, iw = (ctypes.c_void_p(a.ctypes.data) for a in (dummy, work, rwork, iwork))
    args = [ctypes.c_int(_COL_MAJOR)] + [ctypes.c_char(c.encode()) for c in chars]
    for item in _QUERY_ARGS[routine](ints, t):
        if item == "p":
            args.append(p)
        elif item == "work":
            args += [w, it(-1)]
        elif item == "rwork":
            args += [rw, it(-1)] if routine == "heevd" else [rw]
        elif item == "iwork":
            args += [iw, it(-1)] if routine in ("syevd", "heevd") else [iw]
        else:
            args.append(it(item))
    fn = ctypes.CFUNCTYPE(it, *[type(a) for a in args])(
        blas.symbol(f"LAPACKE_{t}{routine}_work"))
    info = fn(*args)
    if info != 0:
        raise ValueError(f"LAPACK {t}{routine} workspace query failed (info {info})")
    scalar = np.float32 if t in "sc" else np.float64
    raw = work.view(np.float32 if t in "sc" else np.float64)[0]
    # a single-precision size may be rounded down: take the next float up
    size = int(np.ceil(np.nextafter(scalar(raw), scalar(np.inf)))) if t in "sc" else int(raw)
    sizes = [max(size, 1)]
    if "r" in extra:
        sizes.append(max(int(rwork[0]), 1))
    if "i" in extra:
        sizes.append(max(int(iwork[0]), 1))
    _query_cache[key] = tuple(sizes)
    return _query_cache[key]


def _evd_args(ints, t):
    n = ints[0]
    out = [n, "p", n, "p", "work"]
    return out + (["rwork", "iwork"] if t in "cz" else ["iwork"])


_QUERY_ARGS = {
    "geqrf": lambda ints, t: [ints[0], ints[1], "p", max(ints[0], 1), "p", "work"],
    "orgqr": lambda ints, t: [ints[0], ints[1], ints[2], "p", max(ints[0], 1), "p", "work"],
    "ungqr": lambda ints, t: [ints[0], ints[1], ints[2], "p", max(ints[0], 1), "p", "work"],
    "syevd": _evd_args,
    "heevd": _evd_args,
    # gesdd: m, n, ldu, ldvt
    "gesdd": lambda ints, t: [ints[0], ints[1], "p", max(ints[0], 1), "p", "p", ints[2], "p",
                              ints[3], "work"] + (["rwork", "iwork"] if t in "cz"
                                                  else ["iwork"]),
    # geev: n
    "geev": lambda ints, t: [ints[0], "p", ints[0]] + (["p"] if t in "cz" else ["p", "p"])
    + ["p", ints[0], "p", ints[0], "work"] + (["rwork"] if t in "cz" else []),
}


# ---------------------------------------------------------------------------
# IR building blocks


class _View:
    """A matrix inside a buffer: element ``(r, c)`` is scalar ``(base + r*rs + c*cs) *
    comps + k`` of ``ptr`` (``total`` scalars of LLVM type ``ty``)."""

    __slots__ = ("ptr", "total", "ty", "base", "rs", "cs", "comps")

    def __init__(self, ptr, total, ty, base, rs, cs, comps):
        self.ptr, self.total, self.ty = ptr, total, ty
        self.base, self.rs, self.cs, self.comps = base, rs, cs, comps


class _Lapack:
    """A helper function calling one LAPACK routine per matrix of a batch."""

    def __init__(self, ctx, eqn, kind: str, key):
        self.ctx, self.eqn = ctx, eqn
        self.fname = helper_name(kind, key + (ctx.bounds_check, _int_bits()))
        self.it = I64 if _int_bits() == 64 else I32
        self.fn = HelperFunction.existing(ctx.module, self.fname)
        self.h = None if self.fn is not None else HelperFunction(
            ctx.module, self.fname, len(eqn.invars) + len(eqn.outvars), ctx.bounds_check)

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

    def call(self, t: str, routine: str, *args):
        """``info = LAPACKE_{t}{routine}_work(COL_MAJOR, *args)``."""
        args = [ir.Constant(I32, _COL_MAJOR)] + list(args)
        fn = declare(self.h.module, f"fx_lapacke_{t}{routine}_work",
                     ir.FunctionType(self.it, [a.type for a in args]))
        return self.h.b.call(fn, args)

    def scratch(self, count: int, ty) -> tuple:
        """(pointer, count) of a heap buffer of ``count`` elements of ``ty``."""
        size = {F32: 4, F64: 8, I32: 4, I64: 8}[ty]
        return self.h.scratch(max(count, 1) * size), max(count, 1)

    # -- copies -------------------------------------------------------------------
    def _convert(self, v, src_ty, dst_ty):
        if src_ty == dst_ty:
            return v
        return self.h.b.fpext(v, dst_ty) if dst_ty == F64 else self.h.b.fptrunc(v, dst_ty)

    def move(self, src: _View, dst: _View, rows: int, cols: int, keep=None, sign=None):
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

    def fill(self, dst: _View, rows: int, cols: int, value: float):
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

    def out_view(self, index: int, i, rows: int, cols: int) -> _View | None:
        """Matrix ``i`` of output ``index`` (row-major ``rows x cols``), or None when the
        output is dropped."""
        var = self.eqn.outvars[index]
        if isinstance(var, DropVar):
            return None
        dtype = np.dtype(var.aval.dtype)
        comps = 2 if dtype.kind == "c" else 1
        ty = F32 if dtype in (np.float32, np.complex64) else F64
        base = self.h.linear([(i, rows * cols)])
        return _View(self.h.args[len(self.eqn.invars) + index], var.aval.size * comps, ty,
                     base, cols, 1, comps)

    def operand_to(self, i, work: _View, rows: int, cols: int) -> None:
        """Matrix ``i`` of the operand (row-major) into column-major ``work``."""
        x = self.eqn.invars[0]
        dtype = np.dtype(x.aval.dtype)
        comps = 2 if dtype.kind == "c" else 1
        ty = F32 if dtype in (np.float32, np.complex64) else F64
        src = _View(self.h.args[0], x.aval.size * comps, ty,
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


def _col_major(ptr_count, ty, rows, comps, base=None, col0: int = 0) -> _View:
    """A column-major ``rows x ?`` scratch matrix starting at column ``col0``."""
    ptr, count = ptr_count
    return _View(ptr, count, ty, ir.Constant(I64, col0 * rows if base is None else base), 1,
                 rows, comps)


def _batch(shape) -> int:
    return math.prod(shape[:-2])


def _supported(eqn) -> bool:
    x = eqn.invars[0].aval
    return (np.dtype(x.dtype) in _DTYPES and x.size > 0 and blas.library_info() is not None
            and lapack_routines() is not None)


# ---------------------------------------------------------------------------
# qr (without pivoting): Q from ?orgqr/?ungqr on the reflectors, R the upper triangle


def _qr_supports(eqn) -> bool:
    return _supported(eqn) and not eqn.params["pivoting"]


def _qr_emit(ctx, eqn) -> None:
    x = eqn.invars[0].aval
    dtype = np.dtype(x.dtype)
    m, n = x.shape[-2:]
    full = bool(eqn.params["full_matrices"])
    k, mn = (m if full else min(m, n)), min(m, n)
    t = _work_letter(dtype)
    comps = 2 if t == "z" else 1
    lw = max(_query(t, "geqrf", [m, n])[0],
             _query(t, "ungqr" if t == "z" else "orgqr", [m, k, mn])[0])
    L = _Lapack(ctx, eqn, "qr", (dtype.str, x.shape, full))
    if L.h is not None:
        h = L.h
        a = L.scratch(m * n * comps, F64)
        tau = L.scratch(mn * comps, F64)
        qw = L.scratch(m * k * comps, F64)
        work = L.scratch(lw * comps, F64)

        def one(i):
            L.operand_to(i, _col_major(a, F64, m, comps), m, n)
            L.call(t, "geqrf", L.int(m), L.int(n), a[0], L.int(m), tau[0], work[0], L.int(lw))
            r_out = L.out_view(1, i, k, n)
            if r_out is not None:  # the upper triangle of the first k rows
                L.move(_col_major(a, F64, m, comps), r_out, k, n,
                       keep=lambda r, c: h.b.icmp_signed(">=", c, r))
            q_out = L.out_view(0, i, m, k)
            if q_out is not None:
                cols = min(k, n)
                h.memmove(qw[0], a[0], m * cols * comps * 8)
                if k > cols:
                    L.fill(_col_major(qw, F64, m, comps, col0=cols), m, k - cols, 0.0)
                L.call(t, "ungqr" if t == "z" else "orgqr", L.int(m), L.int(k), L.int(mn),
                       qw[0], L.int(m), tau[0], work[0], L.int(lw))
                L.move(_col_major(qw, F64, m, comps), q_out, m, k)
        h.loop(0, _batch(x.shape), one)
    L.done()


# ---------------------------------------------------------------------------
# eigh: ?syevd / ?heevd on one triangle; eigenvalues ascending


def _eigh_emit(ctx, eqn) -> None:
    x = eqn.invars[0].aval
    dtype = np.dtype(x.dtype)
    n = x.shape[-1]
    p = eqn.params
    lo, hi = p["subset_by_index"] or (0, n)
    d = hi - lo
    uplo = "L" if p["lower"] else "U"
    t = _work_letter(dtype)
    comps = 2 if t == "z" else 1
    routine = "heevd" if t == "z" else "syevd"
    sizes = _query(t, routine, [n], "V" + uplo, "ri" if t == "z" else "i")
    L = _Lapack(ctx, eqn, "eigh", (dtype.str, x.shape, uplo, lo, hi))
    if L.h is not None:
        h = L.h
        a = L.scratch(n * n * comps, F64)
        w = L.scratch(n, F64)
        work = L.scratch(sizes[0] * comps, F64)
        extra = [L.scratch(sizes[1], F64)] if t == "z" else []
        iwork = L.scratch(sizes[-1], I64 if L.it == I64 else I32)

        def one(i):
            L.operand_to(i, _col_major(a, F64, n, comps), n, n)
            args = [L.char("V"), L.char(uplo), L.int(n), a[0], L.int(n), w[0], work[0],
                    L.int(sizes[0])]
            for buf, size in zip(extra, sizes[1:-1]):
                args += [buf[0], L.int(size)]
            info = L.call(t, routine, *args, iwork[0], L.int(sizes[-1]))
            v_out, w_out = L.out_view(0, i, n, d), L.out_view(1, i, 1, d)
            outs = [o for o in (v_out, w_out) if o is not None]

            def failed():
                for o, rows in zip((v_out, w_out), (n, 1)):
                    if o is not None:
                        L.fill(o, rows, d, float("nan"))

            def ok():
                if v_out is not None:
                    L.move(_col_major(a, F64, n, comps, col0=lo), v_out, n, d)
                if w_out is not None:
                    L.move(_View(w[0], w[1], F64, ir.Constant(I64, lo), 0, 1, 1), w_out, 1, d)
            if outs:
                L.when_failed(info, failed, ok)
        h.loop(0, _batch(x.shape), one)
    L.done()


# ---------------------------------------------------------------------------
# svd: ?gesdd (jobz "A", "S" or "N" as NumPy's full/reduced/values-only)


def _svd_emit(ctx, eqn) -> None:
    x = eqn.invars[0].aval
    dtype = np.dtype(x.dtype)
    m, n = x.shape[-2:]
    mn = min(m, n)
    p = eqn.params
    full, uv = bool(p["full_matrices"]), bool(p["compute_uv"])
    lo, hi = p["subset_by_index"] or (0, mn)
    hi = min(hi, mn)
    d = hi - lo
    jobz = ("A" if full else "S") if uv else "N"
    ucols, vtrows = (m, n) if full else (mn, mn)
    ldu, ldvt = (m, vtrows) if uv else (1, 1)
    t = _work_letter(dtype)
    comps = 2 if t == "z" else 1
    lw = _query(t, "gesdd", [m, n, ldu, ldvt], jobz)[0]
    if uv:
        lrw = max(5 * mn * mn + 5 * mn, 2 * max(m, n) * mn + 2 * mn * mn + mn)
    else:
        lrw = 7 * mn
    L = _Lapack(ctx, eqn, "svd", (dtype.str, x.shape, jobz, lo, hi))
    if L.h is not None:
        h = L.h
        a = L.scratch(m * n * comps, F64)
        s = L.scratch(mn, F64)
        u = L.scratch(m * ucols * comps if uv else 1, F64)
        vt = L.scratch(vtrows * n * comps if uv else 1, F64)
        work = L.scratch(lw * comps, F64)
        rwork = [L.scratch(lrw, F64)[0]] if t == "z" else []
        iwork = L.scratch(8 * mn, I64 if L.it == I64 else I32)

        def one(i):
            L.operand_to(i, _col_major(a, F64, m, comps), m, n)
            info = L.call(t, "gesdd", L.char(jobz), L.int(m), L.int(n), a[0], L.int(m), s[0],
                          u[0], L.int(ldu), vt[0], L.int(ldvt), work[0], L.int(lw), *rwork,
                          iwork[0])
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
                    L.move(_View(s[0], s[1], F64, ir.Constant(I64, lo), 0, 1, 1), s_out, 1, d)
                if not uv:
                    return
                (u_out, ur, uc), (vt_out, vr, vc) = views[1:]
                if u_out is not None:
                    L.move(_col_major(u, F64, m, comps, col0=0 if full else lo), u_out, ur, uc)
                if vt_out is not None:
                    src = _col_major(vt, F64, vtrows, comps, base=0 if full else lo)
                    L.move(src, vt_out, vr, vc)
            if any(o is not None for o, _, _ in views):
                L.when_failed(info, failed, ok)
        h.loop(0, _batch(x.shape), one)
    L.done()


# ---------------------------------------------------------------------------
# eig: ?geev; real operands' conjugate pairs unpacked as NumPy/SciPy do


def _eig_emit(ctx, eqn) -> None:
    x = eqn.invars[0].aval
    dtype = np.dtype(x.dtype)
    n = x.shape[-1]
    p = eqn.params
    left, right = bool(p["compute_left_eigenvectors"]), bool(p["compute_right_eigenvectors"])
    # the eager impl: SciPy (the operand's precision, both sides) when left vectors are
    # wanted, else NumPy (double precision)
    t = _work_letter(dtype, native_precision=left)
    jobvl, jobvr = ("V", "V") if left else ("N", "V" if right else "N")
    cplx = t in "cz"
    wty = F32 if t in "sc" else F64
    comps = 2 if cplx else 1
    lw = _query(t, "geev", [n], jobvl + jobvr)[0]
    L = _Lapack(ctx, eqn, "eig", (dtype.str, x.shape, left, right))
    if L.h is not None:
        a = L.scratch(n * n * comps, wty)
        w = L.scratch(n * comps, wty)
        wi = None if cplx else L.scratch(n, wty)
        vl = L.scratch(n * n * comps if jobvl == "V" else 1, wty)
        vr = L.scratch(n * n * comps if jobvr == "V" else 1, wty)
        work = L.scratch(lw * comps, wty)
        rwork = [L.scratch(2 * n, wty)[0]] if cplx else []

        def view(buf, rs, cs, k):
            return _View(buf[0], buf[1], wty, ir.Constant(I64, 0), rs, cs, k)

        status = L.h.variable(L.it)

        def one(i):
            L.operand_to(i, view(a, 1, n, comps), n, n)
            vals = [w[0]] + ([] if cplx else [wi[0]])
            L.h.b.store(L.int(-1), status)
            # NumPy refuses a matrix with inf or NaN (NaN results); SciPy calls LAPACK
            with L.h.b.if_then(L.all_finite(a, wty) if not left else ir.Constant(I1, 1)):
                L.h.b.store(L.call(t, "geev", L.char(jobvl), L.char(jobvr), L.int(n), a[0],
                                   L.int(n), *vals, vl[0], L.int(n), vr[0], L.int(n), work[0],
                                   L.int(lw), *rwork), status)
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


def _real_eigenvalues(L: _Lapack, wr: _View, wi: _View, out: _View, n: int) -> None:
    """``out[j] = wr[j] + i wi[j]``."""
    h, b = L.h, L.h.b

    def body(j):
        for k, src in enumerate((wr, wi)):
            v = L._convert(h.load_raw(src.ptr, j, src.total, src.ty), src.ty, out.ty)
            at = b.add(h.linear([(b.add(out.base, j), 2)]), ir.Constant(I64, k))
            h.store_raw(out.ptr, at, out.total, out.ty, v)
    h.loop(0, n, body)


def _real_eigenvectors(L: _Lapack, v: _View, wi: _View, out: _View, n: int) -> None:
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
library.register("svd", _supported, _svd_emit)
library.register("eig", _supported, _eig_emit)
for _t, _rs in _ROUTINES.items():
    for _r in _rs:
        runtime.register_symbol_provider(f"fx_lapacke_{_t}{_r}_work", lapack_routines)
