"""Reductions to condensed forms and Householder algebra: ``hessenberg``,
``tridiagonal``, ``schur``, ``householder_product``, ``ormqr``, plus the BLAS-style
``symmetric_product`` and the rank-1 ``cholesky_update``.

Invariants: as in ``linalg_decomp``, operands are batches of matrices whose
leading axes are batch axes shared by every operand, of one dtype; params and
outputs are JAX 0.10's. Eager impls call LAPACK (``gehrd``, ``sytrd``/``hetrd``,
``gees``, ``orgqr``/``ungqr``, ``ormqr``/``unmqr``) one matrix at a time and
report a failure with NaNs. JAX defines no derivative for ``hessenberg``,
``tridiagonal``, ``schur``, ``householder_product`` and ``cholesky_update``;
their jvp rules raise JAX's error. ``symmetric_product`` is differentiated by
the product rule; ``ormqr`` is linear in ``c`` (jvp and transpose in ``c``).
"""
from __future__ import annotations

import numpy as np

from fx.core import ShapedArray, Zero, is_undefined_primal
from primitives import _rules as R
from primitives._rules import FLOAT, INEXACT, check_dtype, new_primitive
from primitives.linalg_decomp import (all_to_front, check_matrix, conj, matrices, mm,
                                      swap_last, unary_batcher, work_array)

_sla = R.LazyModule("scipy.linalg")
_lapack = R.LazyModule("scipy.linalg.lapack")

__all__ = ["hessenberg_p", "tridiagonal_p", "schur_p", "householder_product_p", "ormqr_p",
           "symmetric_product_p", "cholesky_update_p"]


def _no_derivative(primitive):
    """The jvp rule of a primitive JAX does not differentiate: JAX's error."""

    def jvp(primals, tangents, **params):
        raise NotImplementedError(f"Differentiation rule for '{primitive.name}' not "
                                  "implemented")

    return jvp


def _check_same(name: str, *named_avals) -> None:
    """Every operand has the dtype and the batch shape of the first (batch ranks given)."""
    (first_name, first, first_rank), *rest = named_avals
    for what, aval, _ in rest:
        if aval.dtype != first.dtype:
            raise TypeError(f"{name} requires arguments to have the same dtypes, got "
                            f"{first.dtype.name} ({first_name}) and {aval.dtype.name} "
                            f"({what})")
    batch = first.shape[:first.ndim - first_rank]
    for what, aval, rank in rest:
        if aval.shape[:aval.ndim - rank] != batch:
            raise TypeError(f"{name}: all inputs must have the same batch dimensions, got "
                            f"shapes {first.shape} ({first_name}) and {aval.shape} ({what})")


def _check_vector(name: str, aval: ShapedArray, what: str, kinds: str = INEXACT) -> None:
    if aval.ndim < 1:
        raise TypeError(f"{name}: {what} must have rank at least 1, got shape {aval.shape}")
    check_dtype(name, aval, kinds, what)


def _lapack_fn(name: str, a: np.ndarray):
    """The LAPACK routine ``name`` (without its s/d/c/z prefix) for ``a``'s dtype."""
    return _lapack.get_lapack_funcs(name, (a,))


def _weak(*avals) -> bool:
    return all(a.weak_type for a in avals)


# ---------------------------------------------------------------------------
# hessenberg: A = Q H Q^H, H upper Hessenberg, Q as Householder reflectors

hessenberg_p = new_primitive("hessenberg", multiple_results=True)


@hessenberg_p.def_abstract_eval
def _hessenberg_abstract_eval(a):
    check_matrix("hessenberg", a)
    if a.shape[-1] != a.shape[-2] or a.shape[-1] == 0:
        raise ValueError(f"hessenberg: the argument must be a batch of non-empty square "
                         f"matrices [..., n, n], got shape {a.shape}")
    n = a.shape[-1]
    return [ShapedArray(a.shape, a.dtype, a.weak_type),
            ShapedArray(a.shape[:-2] + (n - 1,), a.dtype, a.weak_type)]


def _hessenberg_impl(a):
    a0 = np.asarray(a)
    work = work_array(a0)
    n = work.shape[-1]
    out = np.empty_like(work)
    taus = np.empty(work.shape[:-2] + (n - 1,), work.dtype)
    gehrd = _lapack_fn("gehrd", work)
    for idx in matrices(work.shape[:-2]):
        packed, tau, info = gehrd(work[idx], lo=0, hi=n - 1)
        out[idx], taus[idx] = (packed, tau) if info == 0 else (np.nan, np.nan)
    return [out.astype(a0.dtype, copy=False), taus.astype(a0.dtype, copy=False)]


hessenberg_p.def_impl(_hessenberg_impl)
hessenberg_p.def_jvp(_no_derivative(hessenberg_p))
hessenberg_p.def_batch(unary_batcher(hessenberg_p))

# ---------------------------------------------------------------------------
# tridiagonal: A = Q T Q^H for Hermitian A, one triangle read -> (a, d, e, taus)

tridiagonal_p = new_primitive("tridiagonal", multiple_results=True)


@tridiagonal_p.def_abstract_eval
def _tridiagonal_abstract_eval(a, *, lower):
    check_matrix("tridiagonal", a)
    if a.shape[-1] != a.shape[-2] or a.shape[-1] == 0:
        raise ValueError(f"tridiagonal: the argument must be a batch of non-empty square "
                         f"matrices [..., n, n], got shape {a.shape}")
    batch, n = a.shape[:-2], a.shape[-1]
    real = R.real_dtype(a.dtype)
    return [ShapedArray(a.shape, a.dtype, a.weak_type),
            ShapedArray(batch + (n,), real, a.weak_type),
            ShapedArray(batch + (n - 1,), real, a.weak_type),
            ShapedArray(batch + (n - 1,), a.dtype, a.weak_type)]


def _tridiagonal_impl(a, *, lower):
    a0 = np.asarray(a)
    work = work_array(a0)
    batch, n = work.shape[:-2], work.shape[-1]
    real = R.real_dtype(work.dtype)
    outs = [np.empty_like(work), np.empty(batch + (n,), real), np.empty(batch + (n - 1,), real),
            np.empty(batch + (n - 1,), work.dtype)]
    reduce = _lapack_fn("hetrd" if work.dtype.kind == "c" else "sytrd", work)
    for idx in matrices(batch):
        *results, info = reduce(work[idx], lower=int(lower))
        for out, res in zip(outs, results, strict=True):
            out[idx] = res if info == 0 else np.nan
    kinds = [a0.dtype, R.real_dtype(a0.dtype), R.real_dtype(a0.dtype), a0.dtype]
    return [out.astype(dt, copy=False) for out, dt in zip(outs, kinds, strict=True)]


tridiagonal_p.def_impl(_tridiagonal_impl)
tridiagonal_p.def_jvp(_no_derivative(tridiagonal_p))
tridiagonal_p.def_batch(unary_batcher(tridiagonal_p))

# ---------------------------------------------------------------------------
# schur: A = Q U Q^H, U (quasi-)upper triangular -> (U, Q) or (U,)

schur_p = new_primitive("schur", multiple_results=True)


@schur_p.def_abstract_eval
def _schur_abstract_eval(x, *, compute_schur_vectors, sort_eig_vals, select_callable):
    check_matrix("schur", x)
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"schur: the input must be a batch of square matrices [..., n, n], "
                         f"got shape {x.shape}")
    out = ShapedArray(x.shape, x.dtype, x.weak_type)
    return [out, out] if compute_schur_vectors else [out]


def _schur_impl(x, *, compute_schur_vectors, sort_eig_vals, select_callable):
    if sort_eig_vals:
        raise NotImplementedError("schur: sort_eig_vals=True (LAPACK's sorting of "
                                  "eigenvalues) is not implemented, as in JAX")
    x0 = np.asarray(x)
    work = work_array(x0)
    form = np.full(work.shape, np.nan, work.dtype)
    vectors = np.full(work.shape, np.nan, work.dtype)
    output = "complex" if work.dtype.kind == "c" else "real"
    for idx in matrices(work.shape[:-2]):
        try:
            form[idx], vectors[idx] = _sla.schur(work[idx], output=output, check_finite=False)
        except (np.linalg.LinAlgError, ValueError):
            continue   # LAPACK did not converge (or saw a non-finite value): NaN, as XLA
    outs = [form, vectors] if compute_schur_vectors else [form]
    return [o.astype(x0.dtype, copy=False) for o in outs]


schur_p.def_impl(_schur_impl)
schur_p.def_jvp(_no_derivative(schur_p))
schur_p.def_batch(unary_batcher(schur_p))

# ---------------------------------------------------------------------------
# householder_product: Q = H_1 ... H_k (first n columns), H_i = I - tau_i v_i v_i^H

householder_product_p = new_primitive("householder_product")


@householder_product_p.def_abstract_eval
def _householder_product_abstract_eval(a, taus):
    check_matrix("householder_product", a, what="first argument (a)")
    _check_vector("householder_product", taus, "second argument (taus)")
    _check_same("householder_product", ("a", a, 2), ("taus", taus, 1))
    m, n = a.shape[-2:]
    if m < n:
        raise ValueError(f"householder_product: the first argument must have at least as "
                         f"many rows as columns, got shape {a.shape}")
    if taus.shape[-1] > min(m, n):
        raise ValueError(f"householder_product: taus (shape {taus.shape}) must not have more "
                         f"than min(m, n) = {min(m, n)} entries for a of shape {a.shape}")
    return ShapedArray(a.shape, a.dtype, _weak(a, taus))


def _householder_product_impl(a, taus):
    a0 = np.asarray(a)
    work, tau = work_array(a0), work_array(taus)
    out = np.empty_like(work)
    if work.size == 0:
        return out.astype(a0.dtype)
    orgqr = _lapack_fn("ungqr" if work.dtype.kind == "c" else "orgqr", work)
    n = work.shape[-1]
    for idx in matrices(work.shape[:-2]):
        q, _, info = orgqr(work[idx], tau[idx], lwork=max(64 * n, 1))
        out[idx] = q if info == 0 else np.nan
    return out.astype(a0.dtype, copy=False)


householder_product_p.def_impl(_householder_product_impl)
householder_product_p.def_jvp(_no_derivative(householder_product_p))


@householder_product_p.def_batch
def _householder_product_batch(args, dims):
    return householder_product_p.bind(*all_to_front(args, dims)), 0


# ---------------------------------------------------------------------------
# ormqr: op(Q) c or c op(Q) with Q given by Householder reflectors; linear in c

ormqr_p = new_primitive("ormqr")


@ormqr_p.def_abstract_eval
def _ormqr_abstract_eval(a, taus, c, *, left, transpose):
    check_matrix("ormqr", a, what="Householder matrix (a)")
    _check_vector("ormqr", taus, "taus")
    check_matrix("ormqr", c, what="matrix to multiply (c)")
    _check_same("ormqr", ("a", a, 2), ("taus", taus, 1), ("c", c, 2))
    m, n = a.shape[-2:]
    k = taus.shape[-1]
    if left and c.shape[-2] != m:
        raise ValueError(f"ormqr with left=True expects c to have the same number of rows as "
                         f"the Householder matrix a; got a shape {a.shape} and c shape "
                         f"{c.shape}")
    if not left and c.shape[-1] != m:
        raise ValueError(f"ormqr with left=False expects c to have as many columns as the "
                         f"Householder matrix a has rows; got a shape {a.shape} and c shape "
                         f"{c.shape}")
    if k > min(m, n):
        raise ValueError(f"ormqr: taus (shape {taus.shape}) must not have more than "
                         f"min(m, n) = {min(m, n)} entries for a of shape {a.shape}")
    return ShapedArray(c.shape, c.dtype, _weak(a, taus, c))


def _ormqr_impl(a, taus, c, *, left, transpose):
    c0 = np.asarray(c)
    work_a, tau, work_c = work_array(a), work_array(taus), work_array(c0)
    k = tau.shape[-1]
    if work_c.size == 0 or k == 0:
        return work_c.astype(c0.dtype, copy=True)
    complex_ = work_c.dtype.kind == "c"
    apply_q = _lapack_fn("unmqr" if complex_ else "ormqr", work_c)
    side = "L" if left else "R"
    trans = ("C" if complex_ else "T") if transpose else "N"
    lwork = max(64 * (work_c.shape[-1] if left else work_c.shape[-2]), 1)
    out = np.empty_like(work_c)
    for idx in matrices(work_c.shape[:-2]):
        res, _, info = apply_q(side, trans, work_a[idx][:, :k], tau[idx], work_c[idx], lwork)
        out[idx] = res if info == 0 else np.nan
    return out.astype(c0.dtype, copy=False)


ormqr_p.def_impl(_ormqr_impl)


@ormqr_p.def_jvp
def _ormqr_jvp(primals, tangents, *, left, transpose):
    a, taus, c = primals
    ta, ttaus, tc = tangents
    if type(ta) is not Zero or type(ttaus) is not Zero:
        raise NotImplementedError("Differentiation rule for 'ormqr' not implemented with "
                                  "respect to the Householder reflectors (a, taus); it is "
                                  "linear in c")
    out = ormqr_p.bind(a, taus, c, left=left, transpose=transpose)
    return out, ormqr_p.bind(a, taus, tc, left=left, transpose=transpose)


@ormqr_p.def_transpose
def _ormqr_transpose(ct, a, taus, c, *, left, transpose):
    if is_undefined_primal(a) or is_undefined_primal(taus):
        raise ValueError("ormqr is linear only in c; it cannot be transposed with respect to "
                         "the Householder reflectors")
    if type(ct) is Zero:
        return [None, None, Zero(c.aval)]
    # the linear transpose of c -> op(Q) c is ct -> op(Q)^T ct = conj(op(Q)^H conj(ct))
    flipped = ormqr_p.bind(a, taus, conj(ct), left=left, transpose=not transpose)
    return [None, None, conj(flipped)]


@ormqr_p.def_batch
def _ormqr_batch(args, dims, **params):
    return ormqr_p.bind(*all_to_front(args, dims), **params), 0


# ---------------------------------------------------------------------------
# symmetric_product: alpha A A^T + beta C

symmetric_product_p = new_primitive("symmetric_product")


@symmetric_product_p.def_abstract_eval
def _symmetric_product_abstract_eval(a_matrix, c_matrix, *, alpha, beta):
    check_matrix("symmetric_product", a_matrix, what="first argument (a_matrix)", kinds=FLOAT)
    check_matrix("symmetric_product", c_matrix, what="second argument (c_matrix)",
                 kinds=FLOAT)
    _check_same("symmetric_product", ("a_matrix", a_matrix, 2), ("c_matrix", c_matrix, 2))
    m = a_matrix.shape[-2]
    if c_matrix.shape[-2:] != (m, m):
        raise ValueError(f"symmetric_product expects a rectangular matrix of shape (m, n) and "
                         f"a square matrix of shape (m, m); got shapes {a_matrix.shape} and "
                         f"{c_matrix.shape}")
    return ShapedArray(c_matrix.shape, c_matrix.dtype, _weak(a_matrix, c_matrix))


def _symmetric_product_impl(a_matrix, c_matrix, *, alpha, beta):
    c0 = np.asarray(c_matrix)
    a, c = work_array(a_matrix), work_array(c0)
    out = alpha * np.matmul(a, np.swapaxes(a, -1, -2)) + beta * c
    return np.asarray(out).astype(c0.dtype, copy=False)


symmetric_product_p.def_impl(_symmetric_product_impl)


@symmetric_product_p.def_jvp
def _symmetric_product_jvp(primals, tangents, *, alpha, beta):
    a, c = primals
    ta, tc = tangents
    out = symmetric_product_p.bind(a, c, alpha=alpha, beta=beta)
    tangent = Zero(R.aval_of(out).to_tangent_aval())
    if type(ta) is not Zero:   # alpha (dA A^T + A dA^T)
        half = mm(ta, swap_last(a))
        tangent = R.mul(R.add(half, swap_last(half)), alpha)
    if type(tc) is not Zero:
        tangent = R.add_tangents(tangent, R.mul(tc, beta))
    return out, tangent


@symmetric_product_p.def_batch
def _symmetric_product_batch(args, dims, **params):
    return symmetric_product_p.bind(*all_to_front(args, dims), **params), 0


# ---------------------------------------------------------------------------
# cholesky_update: upper R' with R'^T R' = R^T R + w w^T, by Givens rotations

cholesky_update_p = new_primitive("cholesky_update")


@cholesky_update_p.def_abstract_eval
def _cholesky_update_abstract_eval(r_matrix, w_vector):
    check_matrix("cholesky_update", r_matrix, what="first argument (r_matrix)", kinds=FLOAT)
    _check_vector("cholesky_update", w_vector, "second argument (w_vector)", FLOAT)
    _check_same("cholesky_update", ("r_matrix", r_matrix, 2), ("w_vector", w_vector, 1))
    n = r_matrix.shape[-1]
    if r_matrix.shape[-2] != n or w_vector.shape[-1] != n:
        raise ValueError(f"cholesky_update takes a square matrix and a vector of the same "
                         f"size; got shapes {r_matrix.shape} and {w_vector.shape}")
    return ShapedArray(r_matrix.shape, r_matrix.dtype, _weak(r_matrix, w_vector))


def _cholesky_update_impl(r_matrix, w_vector):
    r0 = np.asarray(r_matrix)
    rows, z = work_array(r0).copy(), work_array(w_vector).copy()
    n = rows.shape[-1]
    with np.errstate(all="ignore"):
        for k in range(n):   # rotate row k of R against z so that z[k] becomes zero
            x, y = rows[..., k, k], z[..., k]
            scale = np.maximum(np.abs(x), np.abs(y))
            safe = np.where(scale == 0, 1, scale)
            xs, ys = x / safe, y / safe
            norm = np.sqrt(xs * xs + ys * ys)
            norm = np.where(norm == 0, 1, norm)
            c = np.where(y == 0, 1, xs / norm)[..., None]
            s = np.where(y == 0, 0, ys / norm)[..., None]
            row_k = rows[..., k, :]
            rows[..., k, :], z = c * row_k + s * z, c * z - s * row_k
            z[..., k] = 0   # exactly, rather than a rounding residue
    return rows.astype(r0.dtype, copy=False)


cholesky_update_p.def_impl(_cholesky_update_impl)
cholesky_update_p.def_jvp(_no_derivative(cholesky_update_p))


@cholesky_update_p.def_batch
def _cholesky_update_batch(args, dims):
    return cholesky_update_p.bind(*all_to_front(args, dims)), 0
