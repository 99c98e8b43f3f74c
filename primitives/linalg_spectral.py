"""Orthogonal and spectral decompositions: ``qr``, ``eigh``, ``svd`` and ``eig``.

Invariants: as in ``linalg_decomp``, operands are batches ``[..., m, n]`` whose
leading axes are batch axes; all four primitives return several results
(``qr``: q, r[, p]; ``eigh``: v, w; ``svd``: s[, u, vt]; ``eig``: w[, vl][, vr]),
in JAX 0.10's order and with its params. Derivatives follow JAX's formulas;
where an eigen- or singular value is repeated they are infinite, as in JAX.
``eigh`` reads one triangle of its operand but, as in JAX, its derivative takes
the tangent as given: it is the derivative along Hermitian perturbations.
Eager impls call the LAPACK drivers jaxlib calls on the CPU (``geqrf`` +
``orgqr``/``ungqr``, ``syevd``/``heevd``, ``gesdd`` (``gesvd`` for
``SvdAlgorithm.QR``), ``geev``), in the operand's own precision with jaxlib's
workspace sizes, one matrix at a time: results are bit-identical to JAX's.
"""
from __future__ import annotations

import numpy as np

from fx.core import ShapedArray, Zero
from primitives import _rules as R
from primitives._rules import new_primitive
from primitives.linalg_decomp import (adjoint, check_matrix, concat, conj, diag_embed,
                                      diag_part, eye_like, identity, keep, matrices, mm,
                                      permutation_matrix, real, slice_cols, slice_rows, solve,
                                      lapack_fn, lapack_workspace, swap_last, tril,
                                      triangular_solve_p, unary_batcher, work_array)

_sla = R.LazyModule("scipy.linalg")

__all__ = ["qr_p", "eigh_p", "svd_p", "eig_p"]


def _rows_of(v, shape):
    """``v [..., k]`` broadcast to ``shape [..., r, k]``: entry (i, j) is ``v[j]``."""
    nd = len(shape)
    return R.broadcast_in_dim(v, shape, tuple(range(nd - 2)) + (nd - 1,))


def _cols_of(v, shape):
    """``v [..., k]`` broadcast to ``shape [..., k, c]``: entry (i, j) is ``v[i]``."""
    nd = len(shape)
    return R.broadcast_in_dim(v, shape, tuple(range(nd - 2)) + (nd - 2,))


def _reciprocal_gaps(w, dtype):
    """``F[i, j] = 1 / (w[j] - w[i])`` off the diagonal and 0 on it."""
    n = R.shape_of(w)[-1]
    shape = R.shape_of(w) + (n,)
    w = R.convert(w, dtype)
    eye = identity(shape[:-2], n, dtype)
    gaps = R.add(eye, R.sub(_rows_of(w, shape), _cols_of(w, shape)))
    return R.sub(R.div(R.full(shape, 1, dtype), gaps), eye)


# ---------------------------------------------------------------------------
# qr: A = Q R (A[:, p] = Q R with column pivoting)

qr_p = new_primitive("qr", multiple_results=True)


@qr_p.def_abstract_eval
def _qr_abstract_eval(x, *, pivoting, full_matrices, use_magma=None):
    check_matrix("qr", x)
    m, n = x.shape[-2:]
    k = m if full_matrices else min(m, n)
    batch = x.shape[:-2]
    outs = [ShapedArray(batch + (m, k), x.dtype, x.weak_type),
            ShapedArray(batch + (k, n), x.dtype, x.weak_type)]
    if pivoting:
        outs.append(ShapedArray(batch + (n,), np.int32, x.weak_type))
    return outs


def _qr_impl(x, *, pivoting, full_matrices, use_magma=None):
    x0 = np.asarray(x)
    a = work_array(x0)
    m, n = a.shape[-2:]
    k = m if full_matrices else min(m, n)
    batch = a.shape[:-2]
    if not pivoting:
        if a.size == 0:
            q = np.broadcast_to(np.eye(m, k, dtype=a.dtype), batch + (m, k)).copy()
            r = np.zeros(batch + (k, n), a.dtype)
        else:
            q, r = _qr_lapack(a, full_matrices)
        return [q.astype(x0.dtype, copy=False), r.astype(x0.dtype, copy=False)]
    q = np.zeros(batch + (m, k), a.dtype)
    r = np.zeros(batch + (k, n), a.dtype)
    p = np.broadcast_to(np.arange(n, dtype=np.int32), batch + (n,)).copy()
    if a.size:
        for idx in matrices(batch):
            q[idx], r[idx], p[idx] = _sla.qr(a[idx], pivoting=True, check_finite=False,
                                             mode="full" if full_matrices else "economic")
    else:
        q[...] = np.eye(m, k, dtype=a.dtype)
    return [q.astype(x0.dtype, copy=False), r.astype(x0.dtype, copy=False), p]


def _qr_lapack(a, full_matrices):
    """Q and R as jaxlib computes them: ``geqrf``, then ``orgqr``/``ungqr`` on the
    reflectors (the first ``m`` columns when ``m < n``; zero columns appended for a
    complete Q), both with LAPACK's optimal workspace."""
    m, n = a.shape[-2:]
    k = min(m, n)
    cols = m if (full_matrices or m < n) else n
    geqrf = lapack_fn("geqrf", a.dtype)
    orgqr = lapack_fn("ungqr" if a.dtype.kind == "c" else "orgqr", a.dtype)
    lw_qr = lapack_workspace("geqrf", a.dtype, m, n)[0]
    lw_q = lapack_workspace("orgqr", a.dtype, m, cols, k)[0]
    q = np.empty(a.shape[:-2] + (m, cols), a.dtype)
    r = np.empty(a.shape[:-2] + ((m if full_matrices else k), n), a.dtype)
    for idx in matrices(a.shape[:-2]):
        packed, tau, _, _ = geqrf(a[idx], lwork=lw_qr)
        reflectors = packed[:, :cols] if cols <= n else np.concatenate(
            [packed, np.zeros((m, cols - n), a.dtype)], axis=1)
        q[idx] = orgqr(reflectors, tau, lwork=lw_q)[0]
        r[idx] = np.triu(packed[:r.shape[-2]])
    return q, r


qr_p.def_impl(_qr_impl)


def _thin_qr_jvp(q, r, dx):
    """Tangents of ``Q [m, n], R [n, n]`` for ``X = Q R`` with ``m >= n``."""
    n = R.shape_of(r)[-1]
    dx_rinv = triangular_solve_p.bind(r, dx, left_side=False, lower=False, transpose_a=False,
                                      conjugate_a=False, unit_diagonal=False)
    qt_dx_rinv = mm(adjoint(q), dx_rinv)
    lower = tril(qt_dx_rinv, -1)
    skew = R.sub(lower, adjoint(lower))
    if R.dtype_of(qt_dx_rinv).kind == "c":   # the diagonal's imaginary part
        imag_part = R.sub(qt_dx_rinv, R.convert(real(qt_dx_rinv), R.dtype_of(qt_dx_rinv)))
        skew = R.add(skew, keep(imag_part, np.eye(n, dtype=bool)))
    dq = R.add(mm(q, R.sub(skew, qt_dx_rinv)), dx_rinv)
    dr = mm(R.sub(qt_dx_rinv, skew), r)
    return dq, dr


def _full_qr_extra_columns(q, dq_mn, n):
    """Tangent of the last ``m - n`` columns of a complete Q (m > n), for LAPACK's
    Householder completion (arXiv:2409.13374, eqs. 32-33)."""
    m = R.shape_of(q)[-2]
    q_mn, q_mp = slice_cols(q, 0, n), slice_cols(q, n, m)
    q_nn, q_pn = slice_rows(q_mn, 0, n), slice_rows(q_mn, n, m)
    dq_nn, dq_pn = slice_rows(dq_mn, 0, n), slice_rows(dq_mn, n, m)
    z_pn_h = solve(R.sub(q_nn, eye_like(q_nn, n)), adjoint(q_pn), adjoint_a=True)
    z_pn = adjoint(z_pn_h)
    left = R.add(q_mn, mm(q_mp, z_pn))
    return R.sub(mm(dq_mn, z_pn_h), mm(left, adjoint(R.sub(dq_pn, mm(z_pn, dq_nn)))))


@qr_p.def_jvp
def _qr_jvp(primals, tangents, *, pivoting, full_matrices, use_magma=None):
    (x,), (dx,) = primals, tangents
    outs = qr_p.bind(x, pivoting=pivoting, full_matrices=full_matrices, use_magma=use_magma)
    q, r = outs[0], outs[1]
    m, n = R.shape_of(x)[-2:]
    dtype = R.dtype_of(x)
    if pivoting:   # differentiate X[:, p] = Q R
        dx = mm(dx, swap_last(permutation_matrix(outs[2], dtype)))
    if m < n:
        r1, r2 = slice_cols(r, 0, m), slice_cols(r, m, n)
        dq, dr1 = _thin_qr_jvp(q, r1, slice_cols(dx, 0, m))
        x2 = mm(q, r2)   # the (pivoted) trailing columns of X
        dr2 = R.add(mm(adjoint(dq), x2), mm(adjoint(q), slice_cols(dx, m, n)))
        dr = concat([dr1, dr2], -1)
    else:
        q_mn = slice_cols(q, 0, n) if full_matrices else q
        r_nn = slice_rows(r, 0, n) if full_matrices else r
        dq, dr = _thin_qr_jvp(q_mn, r_nn, dx)
        if full_matrices and m > n:
            dq = concat([dq, _full_qr_extra_columns(q, dq, n)], -1)
            dr = concat([dr, R.full(R.shape_of(dr)[:-2] + (m - n, n), 0, dtype)], -2)
    tangents_out = [dq, dr]
    if pivoting:
        tangents_out.append(Zero(R.aval_of(outs[2]).to_tangent_aval()))
    return outs, tangents_out


qr_p.def_batch(unary_batcher(qr_p))

# ---------------------------------------------------------------------------
# eigh: A = V diag(w) V^H for Hermitian A (one triangle read)

eigh_p = new_primitive("eigh", multiple_results=True)


def _check_subset(name, subset, size):
    if subset is None:
        return size
    if (not isinstance(subset, tuple) or len(subset) != 2
            or not 0 <= subset[0] <= subset[1] <= size):
        raise ValueError(f"{name}: subset_by_index must be a pair (start, end) with "
                         f"0 <= start <= end <= {size}, got {subset!r}")
    return subset[1] - subset[0]


@eigh_p.def_abstract_eval
def _eigh_abstract_eval(x, *, lower, sort_eigenvalues, subset_by_index, algorithm=None):
    check_matrix("eigh", x, square=True)
    n = x.shape[-1]
    d = _check_subset("eigh", subset_by_index, n)
    batch = x.shape[:-2]
    return [ShapedArray(batch + (n, d), x.dtype, x.weak_type),
            ShapedArray(batch + (d,), R.real_dtype(x.dtype), x.weak_type)]


def _eigh_impl(x, *, lower, sort_eigenvalues, subset_by_index, algorithm=None):
    x0 = np.asarray(x)
    a = work_array(x0)
    n = a.shape[-1]
    if a.size == 0:
        w = np.zeros(a.shape[:-1], R.real_dtype(a.dtype))
        v = np.zeros(a.shape, a.dtype)
    else:
        w, v = _eigh_lapack(a, lower)
    if subset_by_index is not None and subset_by_index != (0, n):
        lo, hi = subset_by_index
        w, v = w[..., lo:hi], v[..., lo:hi]
    return [v.astype(x0.dtype, copy=False), w.astype(R.real_dtype(x0.dtype), copy=False)]


def _eigh_lapack(a, lower):
    """``(w, v)`` as jaxlib computes them: ``syevd``/``heevd`` with the workspace sizes
    of LAPACK's documentation; NaN for a matrix where it fails."""
    n = a.shape[-1]
    rdt = R.real_dtype(a.dtype)
    w = np.empty(a.shape[:-1], rdt)
    v = np.empty(a.shape, a.dtype)
    if a.dtype.kind == "c":
        lwork, liwork, lrwork = lapack_workspace("syevd", a.dtype, n)
        evd, sizes = lapack_fn("heevd", a.dtype), dict(lwork=lwork, liwork=liwork,
                                                        lrwork=lrwork)
    else:
        lwork, liwork = lapack_workspace("syevd", a.dtype, n)
        evd, sizes = lapack_fn("syevd", a.dtype), dict(lwork=lwork, liwork=liwork)
    for idx in matrices(a.shape[:-2]):
        w_i, v_i, info = evd(a[idx], compute_v=1, lower=int(lower), **sizes)
        w[idx], v[idx] = (w_i, v_i) if info == 0 else (np.nan, np.nan)
    return w, v


eigh_p.def_impl(_eigh_impl)


@eigh_p.def_jvp
def _eigh_jvp(primals, tangents, *, lower, sort_eigenvalues, subset_by_index,
              algorithm=None):
    (x,), (t,) = primals, tangents
    n = R.shape_of(x)[-1]
    if subset_by_index is not None and subset_by_index != (0, n):
        raise NotImplementedError("eigh: derivatives are not defined for a partial "
                                  "eigendecomposition (subset_by_index)")
    v, w = eigh_p.bind(x, lower=lower, sort_eigenvalues=sort_eigenvalues,
                       subset_by_index=subset_by_index, algorithm=algorithm)
    dtype = R.dtype_of(x)
    vh_adot_v = mm(mm(adjoint(v), t), v)   # the tangent as given, as JAX differentiates
    dv = mm(v, R.mul(_reciprocal_gaps(w, dtype), vh_adot_v))
    dw = real(diag_part(vh_adot_v))
    return [v, w], [dv, dw]


eigh_p.def_batch(unary_batcher(eigh_p))

# ---------------------------------------------------------------------------
# svd: A = U diag(s) V^H -> (s, u, vt) or (s,)

svd_p = new_primitive("svd", multiple_results=True)


def _svd_shapes(m, n, full_matrices, compute_uv, subset_by_index):
    rank = min(m, n)
    if subset_by_index is not None:
        if full_matrices and compute_uv and subset_by_index != (0, rank):
            raise ValueError("svd: full_matrices and subset_by_index cannot both be set")
        rank = min(rank, _check_subset("svd", subset_by_index, rank))
    if not compute_uv:
        return [(rank,)]
    return [(rank,), (m, m if full_matrices else rank), (n if full_matrices else rank, n)]


@svd_p.def_abstract_eval
def _svd_abstract_eval(x, *, full_matrices, compute_uv, subset_by_index, algorithm=None):
    check_matrix("svd", x)
    m, n = x.shape[-2:]
    shapes = _svd_shapes(m, n, full_matrices, compute_uv, subset_by_index)
    batch = x.shape[:-2]
    dtypes_ = [R.real_dtype(x.dtype), x.dtype, x.dtype][:len(shapes)]
    return [ShapedArray(batch + s, d, x.weak_type) for s, d in zip(shapes, dtypes_, strict=True)]


def _svd_impl(x, *, full_matrices, compute_uv, subset_by_index, algorithm=None):
    x0 = np.asarray(x)
    a = work_array(x0)
    m, n = a.shape[-2:]
    batch = a.shape[:-2]
    rdt = R.real_dtype(x0.dtype)
    if a.size == 0:
        s = np.zeros(batch + (0,), rdt)
        if not compute_uv:
            return [s]
        u = np.broadcast_to(np.eye(m, m if full_matrices else 0, dtype=a.dtype),
                            batch + (m, m if full_matrices else 0))
        vt = np.broadcast_to(np.eye(n if full_matrices else 0, n, dtype=a.dtype),
                             batch + (n if full_matrices else 0, n))
        return [s, u.astype(x0.dtype), vt.astype(x0.dtype)]
    s, u, vt = _svd_lapack(a, full_matrices, compute_uv, _svd_driver(algorithm))
    if subset_by_index is not None and subset_by_index != (0, min(m, n)):
        lo, hi = subset_by_index
        s = s[..., lo:hi]
        if compute_uv:
            u, vt = u[..., :, lo:hi], vt[..., lo:hi, :]
    if not compute_uv:
        return [s.astype(rdt, copy=False)]
    return [s.astype(rdt, copy=False), u.astype(x0.dtype, copy=False),
            vt.astype(x0.dtype, copy=False)]


def _svd_driver(algorithm) -> str:
    """jaxlib's driver: ``gesvd`` for ``SvdAlgorithm.QR``, ``gesdd`` otherwise."""
    return "gesvd" if getattr(algorithm, "name", algorithm) in ("QR", "qr") else "gesdd"


def _svd_lapack(a, full_matrices, compute_uv, driver="gesdd"):
    """``(s, u, vt)`` as jaxlib computes them (``gesdd`` with jobz A/S/N and LAPACK's
    optimal workspace, or ``gesvd``); NaN for a matrix where it fails. ``u``, ``vt``
    are None without ``compute_uv``."""
    m, n = a.shape[-2:]
    k = min(m, n)
    batch = a.shape[:-2]
    full = bool(full_matrices) and bool(compute_uv)
    fn = lapack_fn(driver, a.dtype)
    lwork = lapack_workspace(driver, a.dtype, m, n, bool(compute_uv), full)[0]
    s = np.empty(batch + (k,), R.real_dtype(a.dtype))
    u = np.empty(batch + (m, m if full else k), a.dtype) if compute_uv else None
    vt = np.empty(batch + ((n if full else k), n), a.dtype) if compute_uv else None
    for idx in matrices(batch):
        u_i, s_i, vt_i, info = fn(a[idx], compute_uv=int(bool(compute_uv)),
                                  full_matrices=int(full), lwork=lwork)
        ok = info == 0
        s[idx] = s_i if ok else np.nan
        if compute_uv:
            u[idx], vt[idx] = (u_i, vt_i) if ok else (np.nan, np.nan)
    return s, u, vt


svd_p.def_impl(_svd_impl)


@svd_p.def_jvp
def _svd_jvp(primals, tangents, *, full_matrices, compute_uv, subset_by_index,
             algorithm=None):
    (a,), (da,) = primals, tangents
    m, n = R.shape_of(a)[-2:]
    if compute_uv and full_matrices and m != n:
        raise NotImplementedError("svd: the derivative is not implemented for "
                                  "full_matrices=True with non-square matrices; pass "
                                  "full_matrices=False")
    s, u, vt = svd_p.bind(a, full_matrices=False, compute_uv=True,
                          subset_by_index=subset_by_index, algorithm=algorithm)
    dtype = R.dtype_of(a)
    v = adjoint(vt)
    ds_mat = mm(mm(adjoint(u), da), v)
    ds = real(diag_part(ds_mat))
    if not compute_uv:
        return [s], [ds]
    k = R.shape_of(s)[-1]
    square = R.shape_of(s) + (k,)
    s_row, s_col = _rows_of(s, square), _cols_of(s, square)
    eye = identity(R.shape_of(s)[:-1], k, R.dtype_of(s))
    gaps = R.mul(R.add(s_row, s_col), R.sub(s_row, s_col))
    f = R.convert(R.sub(R.div(R.full(square, 1, R.dtype_of(s)), R.add(gaps, eye)), eye), dtype)
    s_row_c, s_col_c = R.convert(s_row, dtype), R.convert(s_col, dtype)
    dss = R.mul(s_row_c, ds_mat)
    sds = R.mul(s_col_c, ds_mat)
    zero_s = R.convert(R.registry["eq"].bind(s, R.as_scalar(0, R.dtype_of(s))), R.dtype_of(s))
    s_inv = R.sub(R.div(R.full(R.shape_of(s), 1, R.dtype_of(s)), R.add(s, zero_s)), zero_s)
    du_dv_diag = R.mul(R.mul(R.sub(ds_mat, adjoint(ds_mat)), 0.5),
                       R.convert(diag_embed(s_inv), dtype))
    du = mm(u, R.add(R.mul(f, R.add(dss, adjoint(dss))), du_dv_diag))
    dv = mm(v, R.mul(f, R.add(sds, adjoint(sds))))
    if m > n:
        dav = mm(da, v)
        resid = R.sub(dav, mm(u, mm(adjoint(u), dav)))
        du = R.add(du, R.div(resid, R.convert(_rows_of(s, R.shape_of(resid)), dtype)))
    if n > m:
        dahu = mm(adjoint(da), u)
        resid = R.sub(dahu, mm(v, mm(vt, dahu)))
        dv = R.add(dv, R.div(resid, R.convert(_rows_of(s, R.shape_of(resid)), dtype)))
    return [s, u, vt], [ds, du, adjoint(dv)]


svd_p.def_batch(unary_batcher(svd_p))

# ---------------------------------------------------------------------------
# eig: A vr = vr diag(w), vl^H A = diag(w) vl^H (general square A, complex results)

eig_p = new_primitive("eig", multiple_results=True)


@eig_p.def_abstract_eval
def _eig_abstract_eval(x, *, compute_left_eigenvectors, compute_right_eigenvectors,
                       enable_eigvec_derivs=False, implementation=None):
    check_matrix("eig", x, square=True)
    dtype = R.complex_dtype(x.dtype if x.dtype in (np.float32, np.float64, np.complex64,
                                                   np.complex128) else np.dtype(np.float32))
    count = int(bool(compute_left_eigenvectors)) + int(bool(compute_right_eigenvectors))
    return ([ShapedArray(x.shape[:-1], dtype, x.weak_type)]
            + [ShapedArray(x.shape, dtype, x.weak_type)] * count)


def _unpack_real_eigenvectors(v, wi):
    """Complex eigenvectors from LAPACK's real form, as jaxlib unpacks them: a
    conjugate pair ``(j, j+1)`` (``wi[j]`` nonzero and not NaN) stored as real and
    imaginary parts becomes ``v[:, j] +- i v[:, j+1]``; parts are copied, not
    computed, so signed zeros survive."""
    out = np.zeros(v.shape, R.complex_dtype(v.dtype))
    out.real = v
    n = v.shape[-1]
    j = 0
    while j < n:
        if wi[j] == 0 or np.isnan(wi[j]) or j + 1 >= n:
            j += 1
            continue
        out.real[:, j + 1] = v[:, j]
        out.imag[:, j] = v[:, j + 1]
        out.imag[:, j + 1] = -v[:, j + 1]
        j += 2
    return out


def _eig_impl(x, *, compute_left_eigenvectors, compute_right_eigenvectors,
              enable_eigvec_derivs=False, implementation=None):
    x0 = np.asarray(x)
    a = work_array(x0)
    dtype = R.complex_dtype(a.dtype)
    left, right = bool(compute_left_eigenvectors), bool(compute_right_eigenvectors)
    templates = [(a.shape[:-1], dtype)] + [(a.shape, dtype)] * (left + right)
    outs = [np.full(shape, np.nan, d) for shape, d in templates]
    if a.size == 0:
        return [np.zeros(shape, d) for shape, d in templates]
    n = a.shape[-1]
    geev = lapack_fn("geev", a.dtype)   # jaxlib: ?geev in the operand's precision
    lwork = lapack_workspace("geev", a.dtype, n, left, right)[0]
    for idx in matrices(a.shape[:-2]):
        m = a[idx]
        if not np.all(np.isfinite(m)):   # jaxlib does not call LAPACK: NaN results
            continue
        if a.dtype.kind == "c":
            w, vl, vr, info = geev(m, compute_vl=int(left), compute_vr=int(right),
                                   lwork=lwork)
        else:
            wr, wi, vl, vr, info = geev(m, compute_vl=int(left), compute_vr=int(right),
                                        lwork=lwork)
            w = np.empty(wr.shape, dtype)
            w.real, w.imag = wr, wi
            if info == 0:
                vl = _unpack_real_eigenvectors(vl, wi) if left else vl
                vr = _unpack_real_eigenvectors(vr, wi) if right else vr
        if info != 0:
            continue
        results = [w] + ([vl] if left else []) + ([vr] if right else [])
        for out, res in zip(outs, results, strict=True):
            out[idx] = res
    return [o.astype(dtype, copy=False) for o in outs]


eig_p.def_impl(_eig_impl)


def _eigvec_jvp(w, v, da):
    """Tangents of eigenvalues and of eigenvectors normalised as LAPACK does (unit norm,
    largest-magnitude component real); valid for distinct eigenvalues."""
    p = mm(solve(v, da), v)
    dw = diag_part(p)
    u = mm(v, R.mul(_reciprocal_gaps(w, R.dtype_of(v)), p))
    nd = len(R.shape_of(v))
    shape = R.shape_of(v)
    magnitude = R.registry["abs"].bind(v)
    k = R.registry["argmax"].bind(magnitude, axes=(nd - 2,), index_dtype=np.dtype(np.int32))
    rows = R.registry["iota"].bind(dtype=np.dtype(np.int32), shape=shape, dimension=nd - 2,
                                   sharding=None)
    mask = R.convert(R.registry["eq"].bind(rows, R.broadcast_in_dim(
        k, shape, tuple(range(nd - 2)) + (nd - 1,))), R.dtype_of(v))
    imag_ = R.registry["imag"]
    re_part = R.neg(real(R.reduce_sum(R.mul(conj(v), u), (nd - 2,))))
    im_part = R.div(R.neg(imag_.bind(R.reduce_sum(R.mul(mask, u), (nd - 2,)))),
                    real(R.reduce_sum(R.mul(mask, v), (nd - 2,))))
    c = R.registry["complex"].bind(re_part, im_part)
    return dw, R.add(u, R.mul(v, _rows_of(c, shape)))


@eig_p.def_jvp
def _eig_jvp(primals, tangents, *, compute_left_eigenvectors, compute_right_eigenvectors,
             enable_eigvec_derivs=False, implementation=None):
    (a,), (da,) = primals, tangents
    vectors = compute_left_eigenvectors or compute_right_eigenvectors
    if vectors and not enable_eigvec_derivs:
        raise NotImplementedError(
            "eig: derivatives of eigenvectors of non-symmetric matrices are only valid under "
            "conditions fx cannot check (distinct eigenvalues, a unique largest component); "
            "pass enable_eigvec_derivs=True to fx.lax.linalg.eig to opt in, or "
            "differentiate only the eigenvalues (fx.numpy.linalg.eigvals)")
    # the eigenvalues' own derivative needs the right eigenvectors; differentiating it
    # again differentiates them (valid for distinct eigenvalues, which it assumes anyway)
    outs = eig_p.bind(a, compute_left_eigenvectors=compute_left_eigenvectors,
                      compute_right_eigenvectors=True,
                      enable_eigvec_derivs=True, implementation=implementation)
    w, vr = outs[0], outs[-1]
    da = R.convert(da, R.dtype_of(vr))
    if not vectors:
        return [w], [diag_part(mm(solve(vr, da), vr))]
    dw, dvr = _eigvec_jvp(w, vr, da)
    primal_out, tangent_out = [w], [dw]
    if compute_left_eigenvectors:
        _, dvl = _eigvec_jvp(conj(w), outs[1], adjoint(da))
        primal_out.append(outs[1])
        tangent_out.append(dvl)
    if compute_right_eigenvectors:
        primal_out.append(vr)
        tangent_out.append(dvr)
    return primal_out, tangent_out


eig_p.def_batch(unary_batcher(eig_p))
