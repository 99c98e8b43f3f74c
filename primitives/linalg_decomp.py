"""Triangular factorizations and solves: ``cholesky``, ``triangular_solve``, ``lu``,
``lu_pivots_to_permutation`` and ``tridiagonal_solve``, plus the matrix helpers
(batched products, triangles, diagonals, permutation matrices) that the
derivative rules of every linear-algebra primitive are written in.

Invariants: every operand is a batch of matrices ``[..., m, n]`` whose leading
axes are batch axes, so batching a primitive only needs the mapped axis to be
one of the leading ones. Operands of one primitive share their batch shape and
dtype. Eager impls compute exactly what jaxlib computes on the CPU: the same
LAPACK/BLAS routines (SciPy's, which jaxlib calls too), one matrix at a time, in
the operand's own precision, column-major, with the workspace sizes jaxlib
passes (``lapack_workspace``), so results are bit-identical to ``jax.jit``'s.
float16/bfloat16 are computed in float32; a failed factorization is reported with
NaNs (as XLA does), never with an exception. As in
JAX, derivative rules take tangents as given: the derivative of a primitive
that reads one triangle is its derivative along Hermitian perturbations.
"""
from __future__ import annotations

import numpy as np

from fx import dtypes
from fx.core import ShapedArray, Zero, is_undefined_primal
from primitives import _rules as R
from primitives._rules import INEXACT, INT, check_dtype, new_primitive
from primitives.linalg import dot_dimension_numbers, dot_general_p

_blas = R.LazyModule("scipy.linalg.blas")
_lapack = R.LazyModule("scipy.linalg.lapack")


__all__ = ["cholesky_p", "triangular_solve_p", "lu_p", "lu_pivots_to_permutation_p",
           "tridiagonal_solve_p"]

# ---------------------------------------------------------------------------
# matrix helpers for rules (they bind primitives, so they work under any trace)


def mm(a, b):
    """Batched matrix product ``a @ b`` of ``[..., m, k]`` and ``[..., k, n]``."""
    da, db = R.dtype_of(a), R.dtype_of(b)
    if da != db:
        common = np.promote_types(da, db)
        a, b = R.convert(a, common), R.convert(b, common)
    nb = len(R.shape_of(a)) - 2
    dims = dot_dimension_numbers((nb + 1,), (nb,), range(nb), range(nb))
    return dot_general_p.bind(a, b, dimension_numbers=dims, precision=None,
                              preferred_element_type=None, out_sharding=None)


def swap_last(x):
    """``x`` with its last two axes swapped (the matrix transpose)."""
    nd = len(R.shape_of(x))
    return R.transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def conj(x):
    """Complex conjugate; real values pass through unchanged."""
    if R.dtype_of(x).kind != "c":
        return x
    return R.registry["conj"].bind(x, input_dtype=R.dtype_of(x))


def adjoint(x):
    """The conjugate transpose of a batch of matrices."""
    return conj(swap_last(x))


def real(x):
    return R.registry["real"].bind(x) if R.dtype_of(x).kind == "c" else x


def keep(x, mask2d):
    """``x`` where the ``[n, m]`` boolean ``mask2d`` holds, zero elsewhere."""
    shape = R.shape_of(x)
    nd = len(shape)
    mask = R.broadcast_in_dim(np.asarray(mask2d, bool), shape, (nd - 2, nd - 1))
    return R.select_n(mask, R.full(shape, 0, R.dtype_of(x)), x)


def tril(x, k: int = 0):
    """Entries on and below the ``k``-th diagonal."""
    n, m = R.shape_of(x)[-2:]
    return keep(x, np.tri(n, m, k, dtype=bool))


def triu(x, k: int = 0):
    """Entries on and above the ``k``-th diagonal."""
    n, m = R.shape_of(x)[-2:]
    return keep(x, ~np.tri(n, m, k - 1, dtype=bool))


def diag_part(x):
    """The main diagonal ``[..., k]`` of matrices ``[..., n, m]``."""
    shape = R.shape_of(x)
    n, m = shape[-2:]
    k = min(n, m)
    x = _slice_last2(x, (0, k), (0, k))
    return R.reduce_sum(keep(x, np.eye(k, dtype=bool)), (len(shape) - 1,))


def diag_embed(v):
    """Square matrices ``[..., n, n]`` with ``v [..., n]`` on their diagonal."""
    shape = R.shape_of(v)
    n = shape[-1]
    nd = len(shape)
    full = R.broadcast_in_dim(v, shape + (n,), tuple(range(nd - 1)) + (nd,))
    return keep(full, np.eye(n, dtype=bool))


def identity(batch_shape, n: int, dtype):
    """An ``[*batch_shape, n, n]`` batch of identity matrices."""
    batch = tuple(batch_shape)
    eye = np.eye(n, dtype=dtype)
    return R.broadcast_in_dim(eye, batch + (n, n), (len(batch), len(batch) + 1))


def eye_like(x, n: int):
    """An ``[..., n, n]`` identity with the batch shape and dtype of ``x``."""
    return identity(R.shape_of(x)[:-2], n, R.dtype_of(x))


def _slice_last2(x, rows, cols):
    shape = R.shape_of(x)
    if (rows, cols) == ((0, shape[-2]), (0, shape[-1])):
        return x
    start = (0,) * (len(shape) - 2) + (rows[0], cols[0])
    limit = shape[:-2] + (rows[1], cols[1])
    return R.registry["slice"].bind(x, start_indices=start, limit_indices=limit, strides=None)


def slice_rows(x, start: int, stop: int):
    return _slice_last2(x, (start, stop), (0, R.shape_of(x)[-1]))


def slice_cols(x, start: int, stop: int):
    return _slice_last2(x, (0, R.shape_of(x)[-2]), (start, stop))


def concat(xs, axis: int):
    xs = [x for x in xs if R.shape_of(x)[axis] != 0] or xs[:1]
    if len(xs) == 1:
        return xs[0]
    nd = len(R.shape_of(xs[0]))
    return R.registry["concatenate"].bind(*xs, dimension=axis % nd)


def permutation_matrix(perm, dtype):
    """``P [..., m, m]`` with ``P[..., i, j] = (perm[..., i] == j)``, so ``P @ x`` is
    ``x[..., perm, :]``."""
    shape = R.shape_of(perm)
    m = shape[-1]
    nd = len(shape)
    full = shape + (m,)
    cols = R.registry["iota"].bind(dtype=np.dtype(np.int32), shape=full, dimension=nd,
                                   sharding=None)
    rows = R.broadcast_in_dim(perm, full, tuple(range(nd)))
    return R.convert(R.registry["eq"].bind(rows, cols), dtype)


def lu_solve(lu, perm, b, adjoint_a: bool = False):
    """Solve ``a x = b`` (or ``a^H x = b``) given ``lu, perm = lu(a)``; ``b`` is
    ``[..., m, k]``."""
    p = permutation_matrix(perm, R.dtype_of(lu))
    if not adjoint_a:  # P a = L U  =>  x = U^-1 L^-1 P b
        y = triangular_solve_p.bind(lu, mm(p, b), **_solve_params(True, True, False, False,
                                                                     True))
        return triangular_solve_p.bind(lu, y, **_solve_params(True, False, False, False,
                                                                 False))
    # a^H = U^H L^H P  =>  x = P^T L^-H U^-H b
    y = triangular_solve_p.bind(lu, b, **_solve_params(True, False, True, True, False))
    y = triangular_solve_p.bind(lu, y, **_solve_params(True, True, True, True, True))
    return mm(swap_last(p), y)


def solve(a, b, adjoint_a: bool = False):
    """``a^-1 b`` (or ``a^-H b``) through ``lu``; used inside derivative rules."""
    lu, _, perm = lu_p.bind(a)
    return lu_solve(lu, perm, b, adjoint_a)


def _solve_params(left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    return dict(left_side=left_side, lower=lower, transpose_a=transpose_a,
                conjugate_a=conjugate_a, unit_diagonal=unit_diagonal)


# ---------------------------------------------------------------------------
# shared checks, impl helpers and batching


def check_matrix(name: str, x: ShapedArray, *, square: bool = False, what: str = "operand",
                 kinds: str = INEXACT) -> None:
    """Raise unless ``x`` is a batch of matrices (square if asked) of an accepted dtype."""
    if x.ndim < 2:
        raise TypeError(f"{name}: the {what} must be a batch of matrices with shape "
                        f"[..., m, n] (rank at least 2), got shape {x.shape}")
    check_dtype(name, x, kinds, what)
    if square and x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{name}: the {what} must be a batch of square matrices [..., n, n], "
                         f"got shape {x.shape}")


def work_array(x) -> np.ndarray:
    """``x`` as a NumPy array LAPACK accepts (float16/bfloat16 computed in float32)."""
    x = np.asarray(x)
    if x.dtype.kind == "f" and x.dtype.itemsize < 4 or x.dtype == dtypes.bfloat16:
        return x.astype(np.float32)
    return x


def matrices(batch_shape):
    """Indices of every matrix in a batch."""
    return np.ndindex(*batch_shape)


def lapack_fn(name: str, dtype):
    """SciPy's LAPACK routine ``name`` (without its s/d/c/z prefix) for ``dtype``: the
    routines jaxlib's CPU kernels call (SciPy's bundled OpenBLAS)."""
    return _lapack.get_lapack_funcs(name, dtype=np.dtype(dtype))


_WORKSPACE: dict = {}


def lapack_workspace(routine: str, dtype, *dims) -> tuple:
    """The workspace sizes jaxlib's CPU kernel passes to ``routine`` (LAPACK's optimal
    size where jaxlib queries it, LAPACK's documented minimum where jaxlib uses that).

    Workspace sizes change the blocking of some routines, hence the rounding, so
    these are part of computing what jaxlib computes. ``dims``: ``geqrf``: (m, n);
    ``orgqr``: (m, n, k); ``syevd``: (n,) -> (lwork, liwork[, lrwork]); ``gesdd``:
    (m, n, compute_uv, full_matrices); ``geev``: (n, left, right); ``gehrd``: (n,);
    ``sytrd``: (n,).
    """
    dtype = np.dtype(dtype)
    key = (routine, dtype, dims)
    if key in _WORKSPACE:
        return _WORKSPACE[key]
    cplx = dtype.kind == "c"
    if routine == "syevd":   # jaxlib: the sizes LAPACK's documentation gives
        (n,) = dims
        out = ((2 * n + n * n, 3 + 5 * n, 1 + 5 * n + 2 * n * n) if cplx
               else (1 + 6 * n + 2 * n * n, 3 + 5 * n))
    else:
        if routine == "geqrf":
            m, n = dims
            res = lapack_fn("geqrf", dtype)(np.zeros((m, n), dtype), lwork=-1)[2]
        elif routine == "orgqr":
            m, n, k = dims
            res = lapack_fn("ungqr" if cplx else "orgqr", dtype)(
                np.zeros((m, n), dtype), np.zeros(max(k, 1), dtype)[:k], lwork=-1)[1]
        elif routine == "gesdd":
            m, n, uv, full = dims
            res = lapack_fn("gesdd_lwork", dtype)(m, n, compute_uv=int(uv),
                                                  full_matrices=int(full))[0]
        elif routine == "gesvd":
            m, n, uv, full = dims
            res = lapack_fn("gesvd_lwork", dtype)(m, n, compute_uv=int(uv),
                                                  full_matrices=int(full))[0]
        elif routine == "geev":
            n, left, right = dims
            res = lapack_fn("geev_lwork", dtype)(n, compute_vl=int(left),
                                                 compute_vr=int(right))[0]
        elif routine in ("gehrd", "sytrd"):
            (n,) = dims
            name = "hetrd" if routine == "sytrd" and cplx else routine
            res = lapack_fn(f"{name}_lwork", dtype)(n)[0]
        else:
            raise ValueError(f"lapack_workspace: unknown routine {routine!r}")
        # jaxlib truncates LAPACK's (floating-point) answer to an integer
        out = (max(int(np.real(np.ravel(res)[0])), 1),)
    _WORKSPACE[key] = out
    return out


def leading_batch(x, d):
    """``(x, d')`` with the batch axis ``d`` moved to the front if it is a matrix axis."""
    nd = len(R.shape_of(x))
    if d >= nd - 2:
        return R.moveaxis(x, d, 0), 0
    return x, d


def unary_batcher(primitive):
    """Batching rule for one-operand linear algebra: a leading axis passes through."""

    def batch(args, dims, **params):
        (x,), (d,) = args, dims
        x, d = leading_batch(x, d)
        out = primitive.bind(x, **params)
        if primitive.multiple_results:
            return out, [d] * len(out)
        return out, d

    return batch


def all_to_front(args, dims):
    """Every operand with the batch axis first (unbatched ones broadcast)."""
    size = R.batch_size(args, dims)
    return [R.bdim_to_front(a, d, size) for a, d in zip(args, dims, strict=True)]


# ---------------------------------------------------------------------------
# cholesky: L L^H = A, reading the lower triangle of A

cholesky_p = new_primitive("cholesky")


@cholesky_p.def_abstract_eval
def _cholesky_abstract_eval(x):
    check_matrix("cholesky", x, square=True)
    return ShapedArray(x.shape, x.dtype, x.weak_type)


def _cholesky_impl(x):
    x = np.asarray(x)
    a = work_array(x)
    out = np.zeros(a.shape, a.dtype)
    if a.size:
        potrf = lapack_fn("potrf", a.dtype)   # jaxlib: ?potrf, lower, in place
        for idx in matrices(a.shape[:-2]):
            chol, info = potrf(a[idx], lower=1, clean=1)
            out[idx] = chol if info == 0 else np.nan
    return out.astype(x.dtype, copy=False)


cholesky_p.def_impl(_cholesky_impl)


def _iota_pair(n: int, m: int, k: int = 0):
    """``(rows + k, cols)``: int32 ``[n, m]`` iotas along each axis, as JAX's ``_tri`` and
    ``_eye`` build them (so masks print as JAX's: ``add (iota 0) k``, ``iota 1``)."""
    iota = R.registry["iota"]
    i32 = np.dtype(np.int32)
    rows = R.add(iota.bind(dtype=i32, shape=(n, m), dimension=0, sharding=None), np.int32(k))
    return rows, iota.bind(dtype=i32, shape=(n, m), dimension=1, sharding=None)


def iota_tril(x, k: int = 0):
    """Entries of ``x [..., n, m]`` on and below the ``k``-th diagonal, zero elsewhere,
    masked as JAX's ``lax.linalg._tril``: ``ge(iota0 + k, iota1)`` broadcast over the
    batch, then ``select_n``."""
    shape = R.shape_of(x)
    nd = len(shape)
    rows, cols = _iota_pair(shape[-2], shape[-1], k)
    mask = R.registry["ge"].bind(rows, cols)
    if nd > 2:
        mask = R.broadcast_in_dim(mask, shape, (nd - 2, nd - 1))
    return R.select_n(mask, R.full(shape, 0, R.dtype_of(x)), x)


def _phi(x):
    """The lower triangle of ``x`` with its diagonal halved, as JAX writes it:
    ``tril(x) / (1 + eye)`` (the ``[n, n]`` divisor broadcast as ``[1, ..., n, n]``)."""
    shape = R.shape_of(x)
    nd, n, dtype = len(shape), shape[-1], R.dtype_of(x)
    lower = iota_tril(x)
    rows, cols = _iota_pair(n, n)
    eye = R.convert(R.registry["eq"].bind(rows, cols), dtype)
    divisor = R.add(np.array(1, dtype), eye)
    if nd > 2:
        divisor = R.broadcast_in_dim(divisor, (1,) * (nd - 2) + (n, n), (nd - 2, nd - 1))
    return R.div(lower, divisor)


def _mm_highest(a, b):
    """``a @ b`` over the batch axes with ``precision=(HIGHEST, HIGHEST)`` (JAX's
    ``batch_matmul(..., precision=HIGHEST)``)."""
    # the Precision enum lives in fx.lax (loaded by the time a rule runs); it belongs
    # next to dot_general_p in primitives/linalg.py
    from fx.lax import Precision
    nb = len(R.shape_of(a)) - 2
    dims = dot_dimension_numbers((nb + 1,), (nb,), range(nb), range(nb))
    return dot_general_p.bind(a, b, dimension_numbers=dims,
                              precision=(Precision.HIGHEST, Precision.HIGHEST),
                              preferred_element_type=None, out_sharding=None)


@cholesky_p.def_jvp
def _cholesky_jvp(primals, tangents):
    """JAX's rule (Murray, arXiv:1602.07527): ``L = tril(cholesky(x))``,
    ``L_dot = L phi(L^-1 sigma L^-H)``; the tangent is taken as given (a Hermitian
    perturbation), the solves as JAX orders them."""
    (x,), (t,) = primals, tangents
    chol = iota_tril(cholesky_p.bind(x))
    if type(t) is Zero:
        return chol, Zero(R.aval_of(chol).to_tangent_aval())
    is_complex = R.dtype_of(x).kind == "c"
    right = triangular_solve_p.bind(chol, t, **_solve_params(False, True, True, is_complex,
                                                               False))
    inner = triangular_solve_p.bind(chol, right, **_solve_params(True, True, False, False,
                                                                   False))
    return chol, _mm_highest(chol, _phi(inner))


cholesky_p.def_batch(unary_batcher(cholesky_p))

# ---------------------------------------------------------------------------
# triangular_solve: op(a) x = b (left side) or x op(a) = b; linear in b

triangular_solve_p = new_primitive("triangular_solve")


@triangular_solve_p.def_abstract_eval
def _triangular_solve_abstract_eval(a, b, *, left_side, lower, transpose_a, conjugate_a,
                                    unit_diagonal):
    check_matrix("triangular_solve", a, square=True, what="first operand (a)")
    check_matrix("triangular_solve", b, what="second operand (b)")
    if a.dtype != b.dtype:
        raise TypeError(f"triangular_solve: a and b must have the same dtype, got "
                        f"{a.dtype.name} and {b.dtype.name}")
    if a.shape[:-2] != b.shape[:-2]:
        raise ValueError(f"triangular_solve: a and b must have the same batch dimensions, "
                         f"got shapes {a.shape} and {b.shape}")
    common = b.shape[-2] if left_side else b.shape[-1]
    if common != a.shape[-1]:
        side = "rows" if left_side else "columns"
        raise ValueError(f"triangular_solve: incompatible shapes {a.shape} and {b.shape}: "
                         f"with left_side={left_side}, b needs {a.shape[-1]} {side}")
    return ShapedArray(b.shape, b.dtype, a.weak_type and b.weak_type)


def _triangular_solve_impl(a, b, *, left_side, lower, transpose_a, conjugate_a,
                           unit_diagonal):
    b0 = np.asarray(b)
    a, b = work_array(a), work_array(b0)
    if b.size == 0:
        return np.zeros(b0.shape, b0.dtype)
    complex_ = a.dtype.kind == "c"
    if conjugate_a and complex_ and not transpose_a:
        a, trans = np.conj(a), 0
    else:
        trans = (2 if conjugate_a and complex_ else 1) if transpose_a else 0
    out = np.empty(b.shape, b.dtype)
    trsm = _blas.get_blas_funcs("trsm", dtype=a.dtype)   # jaxlib: ?trsm, alpha 1
    with np.errstate(all="ignore"):
        for idx in matrices(a.shape[:-2]):
            out[idx] = trsm(1.0, a[idx], b[idx], side=0 if left_side else 1,
                            lower=int(lower), trans_a=trans, diag=int(unit_diagonal))
    return out.astype(b0.dtype, copy=False)


triangular_solve_p.def_impl(_triangular_solve_impl)


def _triangular_solve_jvp_a(ta, out, a, params):
    """Tangent from ``a``: ``-op(a)^-1 op(ta) x`` (left) or ``-x op(ta) op(a)^-1``."""
    unit = params["unit_diagonal"]
    ta = tril(ta, -1 if unit else 0) if params["lower"] else triu(ta, 1 if unit else 0)
    ta = R.neg(ta)
    if params["transpose_a"]:
        ta = swap_last(ta)
    if params["conjugate_a"]:
        ta = conj(ta)
    m, n = R.shape_of(out)[-2:]
    if params["left_side"]:  # pick the cheaper order of the product and the solve
        if m > n:
            return triangular_solve_p.bind(a, mm(ta, out), **params)
        return mm(triangular_solve_p.bind(a, ta, **params), out)
    if m < n:
        return triangular_solve_p.bind(a, mm(out, ta), **params)
    return mm(out, triangular_solve_p.bind(a, ta, **params))


@triangular_solve_p.def_jvp
def _triangular_solve_jvp(primals, tangents, **params):
    a, b = primals
    ta, tb = tangents
    out = triangular_solve_p.bind(a, b, **params)
    tangent = Zero(R.aval_of(out).to_tangent_aval())
    if type(tb) is not Zero:
        tangent = triangular_solve_p.bind(a, tb, **params)
    if type(ta) is not Zero:
        tangent = R.add_tangents(tangent, _triangular_solve_jvp_a(ta, out, a, params))
    return out, tangent


@triangular_solve_p.def_transpose
def _triangular_solve_transpose(ct, a, b, **params):
    if is_undefined_primal(a):
        raise ValueError("triangular_solve is not linear in its first operand (a): it "
                         "cannot be transposed with respect to it")
    if type(ct) is Zero:
        return [None, Zero(b.aval)]
    params = dict(params, transpose_a=not params["transpose_a"])
    return [None, triangular_solve_p.bind(a, ct, **params)]


@triangular_solve_p.def_batch
def _triangular_solve_batch(args, dims, **params):
    a, b = args
    da, db = dims
    if da is None:   # one a for the whole batch: fold the batch into b's free axis
        nd = len(R.shape_of(b))
        if params["left_side"]:
            b = R.moveaxis(b, db, nd - 1)
            shape = R.shape_of(b)
            flat = R.reshape(b, shape[:-2] + (shape[-2] * shape[-1],))
            out = triangular_solve_p.bind(a, flat, **params)
            return R.reshape(out, shape), nd - 1
        b = R.moveaxis(b, db, nd - 3)
        shape = R.shape_of(b)
        flat = R.reshape(b, shape[:-3] + (shape[-3] * shape[-2], shape[-1]))
        out = triangular_solve_p.bind(a, flat, **params)
        return R.reshape(out, shape), nd - 3
    a, b = all_to_front(args, dims)
    return triangular_solve_p.bind(a, b, **params), 0


# ---------------------------------------------------------------------------
# lu: P A = L U with partial pivoting -> (lu, pivots, permutation)

lu_p = new_primitive("lu", multiple_results=True)


@lu_p.def_abstract_eval
def _lu_abstract_eval(x):
    check_matrix("lu", x)
    m, n = x.shape[-2:]
    batch = x.shape[:-2]
    int32 = np.dtype(np.int32)
    return [ShapedArray(x.shape, x.dtype, x.weak_type),
            ShapedArray(batch + (min(m, n),), int32, x.weak_type),
            ShapedArray(batch + (m,), int32, x.weak_type)]


def pivots_to_permutation(pivots: np.ndarray, size: int) -> np.ndarray:
    """Apply the row swaps ``pivots [..., k]`` in order to ``arange(size)``."""
    pivots = np.asarray(pivots)
    batch = pivots.shape[:-1]
    perm = np.broadcast_to(np.arange(size, dtype=np.int32), batch + (size,)).copy()
    for idx in matrices(batch):
        row = perm[idx]
        for i, j in enumerate(pivots[idx]):
            if 0 <= j < size:   # out-of-range swaps are ignored, as XLA does
                row[i], row[j] = row[j], row[i]
    return perm


def _lu_impl(x):
    x0 = np.asarray(x)
    a = work_array(x0)
    m, n = a.shape[-2:]
    batch = a.shape[:-2]
    k = min(m, n)
    lu = np.empty_like(a)
    pivots = np.empty(batch + (k,), np.int32)
    if a.size == 0:
        pivots[...] = np.arange(k, dtype=np.int32)
        lu = a.copy()
    else:
        getrf = lapack_fn("getrf", a.dtype)   # jaxlib: ?getrf per matrix
        for idx in matrices(batch):
            lu_i, piv, info = getrf(a[idx])   # singular matrices still factor (info > 0)
            lu[idx] = lu_i if info >= 0 else np.nan
            pivots[idx] = piv
    perm = pivots_to_permutation(pivots, m)
    return [lu.astype(x0.dtype, copy=False), pivots, perm]


lu_p.def_impl(_lu_impl)


def lu_factors(lu):
    """``l [..., m, m]`` (unit lower) and ``u [..., n, n]`` (upper) from packed ``lu``,
    padded with the identity where ``m != n``."""
    m, n = R.shape_of(lu)[-2:]
    k = min(m, n)
    l_part = tril(slice_cols(lu, 0, k), -1)
    if m > k:
        l_part = concat([l_part, R.full(R.shape_of(lu)[:-2] + (m, m - k), 0,
                                        R.dtype_of(lu))], -1)
    l_mat = R.add(l_part, eye_like(lu, m))
    u_part = triu(slice_rows(lu, 0, k))
    if n > k:
        u_part = concat([u_part, R.full(R.shape_of(lu)[:-2] + (n - k, n), 0,
                                        R.dtype_of(lu))], -2)
        pad = np.zeros((n, n), R.dtype_of(lu))
        pad[k:, k:] = np.eye(n - k)
        batch = R.shape_of(lu)[:-2]
        u_part = R.add(u_part, R.broadcast_in_dim(pad, batch + (n, n),
                                                  (len(batch), len(batch) + 1)))
    return l_mat, u_part


@lu_p.def_jvp
def _lu_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    lu, pivots, perm = lu_p.bind(x)
    l_mat, u_mat = lu_factors(lu)
    # P A = L U  =>  L^-1 P A' U^-1 = L^-1 L' + U' U^-1, strictly lower + upper
    pt = mm(permutation_matrix(perm, R.dtype_of(lu)), t)
    la = triangular_solve_p.bind(l_mat, pt, **_solve_params(True, True, False, False, True))
    lau = triangular_solve_p.bind(u_mat, la, **_solve_params(False, False, False, False,
                                                               False))
    lu_dot = R.add(mm(l_mat, tril(lau, -1)), mm(triu(lau), u_mat))
    outs = [lu, pivots, perm]
    return outs, [lu_dot, Zero(R.aval_of(pivots).to_tangent_aval()),
                  Zero(R.aval_of(perm).to_tangent_aval())]


lu_p.def_batch(unary_batcher(lu_p))

# ---------------------------------------------------------------------------
# lu_pivots_to_permutation: row swaps -> the permutation they make

lu_pivots_to_permutation_p = new_primitive("lu_pivots_to_permutation")


@lu_pivots_to_permutation_p.def_abstract_eval
def _pivots_abstract_eval(pivots, *, permutation_size):
    if pivots.ndim < 1:
        raise TypeError(f"lu_pivots_to_permutation: pivots must have rank at least 1, got "
                        f"shape {pivots.shape}")
    check_dtype("lu_pivots_to_permutation", pivots, INT, "pivots")
    if pivots.dtype != np.int32:
        raise TypeError(f"lu_pivots_to_permutation: pivots must be int32, got "
                        f"{pivots.dtype.name}")
    if permutation_size < pivots.shape[-1]:
        raise ValueError(f"lu_pivots_to_permutation: permutation_size {permutation_size} must "
                         f"be at least the number of pivots {pivots.shape[-1]}")
    return ShapedArray(pivots.shape[:-1] + (permutation_size,), np.int32)


lu_pivots_to_permutation_p.def_impl(
    lambda pivots, *, permutation_size: pivots_to_permutation(pivots, permutation_size))


@lu_pivots_to_permutation_p.def_jvp
def _pivots_jvp(primals, tangents, *, permutation_size):
    out = lu_pivots_to_permutation_p.bind(*primals, permutation_size=permutation_size)
    return out, Zero(R.aval_of(out).to_tangent_aval())


@lu_pivots_to_permutation_p.def_batch
def _pivots_batch(args, dims, *, permutation_size):
    (x,), (d,) = args, dims
    if d == len(R.shape_of(x)) - 1:
        x, d = R.moveaxis(x, d, 0), 0
    return lu_pivots_to_permutation_p.bind(x, permutation_size=permutation_size), d


# ---------------------------------------------------------------------------
# tridiagonal_solve: A x = b with A given by its three diagonals; linear in b

tridiagonal_solve_p = new_primitive("tridiagonal_solve")


@tridiagonal_solve_p.def_abstract_eval
def _tridiagonal_abstract_eval(dl, d, du, b, *, perturb_singular):
    for name, v in (("dl", dl), ("d", d), ("du", du)):
        if v.ndim < 1:
            raise TypeError(f"tridiagonal_solve: {name} must have rank at least 1, got shape "
                            f"{v.shape}")
        check_dtype("tridiagonal_solve", v, INEXACT, name)
    check_matrix("tridiagonal_solve", b, what="right-hand side b")
    if not dl.shape == d.shape == du.shape:
        raise TypeError(f"tridiagonal_solve: the diagonals dl, d, du must have the same shape, "
                        f"got {dl.shape}, {d.shape} and {du.shape}")
    if d.shape != b.shape[:-1]:
        raise TypeError(f"tridiagonal_solve: the leading dimensions of b {b.shape} must "
                        f"equal the shape of the diagonals {d.shape}")
    if len({dl.dtype, d.dtype, du.dtype, b.dtype}) != 1:
        raise TypeError(f"tridiagonal_solve: all operands must have the same dtype, got "
                        f"{dl.dtype.name}, {d.dtype.name}, {du.dtype.name}, {b.dtype.name}")
    return ShapedArray(b.shape, b.dtype, b.weak_type)


def _tridiagonal_impl(dl, d, du, b, *, perturb_singular):
    b0 = np.asarray(b)
    dl, d, du, b = (work_array(v) for v in (dl, d, du, b0))
    if b.size == 0:
        return np.zeros(b0.shape, b0.dtype)
    out = np.empty_like(b)
    gtsv = _lapack.get_lapack_funcs("gtsv", (d, b))
    for idx in matrices(d.shape[:-1]):
        *_, x, info = gtsv(dl[idx][1:], d[idx], du[idx][:-1], b[idx])
        if info > 0 and perturb_singular:
            raise NotImplementedError("tridiagonal_solve: perturb_singular=True is not "
                                      "supported; the matrix is singular")
        out[idx] = x if info == 0 else np.nan
    return out.astype(b0.dtype, copy=False)


tridiagonal_solve_p.def_impl(_tridiagonal_impl)


def _tridiagonal_product(dl, d, du, x):
    """``A @ x`` for the tridiagonal ``A`` with diagonals ``dl, d, du``."""
    m = R.shape_of(x)[-2]
    nd = len(R.shape_of(x))
    shape = R.shape_of(x)

    def column(v):
        return R.broadcast_in_dim(v, shape, tuple(range(nd - 1)))

    out = R.mul(column(d), x)
    if m > 1:
        zero_row = R.full(shape[:-2] + (1, shape[-1]), 0, R.dtype_of(x))
        below = concat([zero_row, slice_rows(x, 0, m - 1)], -2)   # x[i-1]
        above = concat([slice_rows(x, 1, m), zero_row], -2)      # x[i+1]
        out = R.add(out, R.add(R.mul(column(dl), below), R.mul(column(du), above)))
    return out


@tridiagonal_solve_p.def_jvp
def _tridiagonal_jvp(primals, tangents, *, perturb_singular):
    dl, d, du, b = primals
    *t_diags, tb = tangents
    out = tridiagonal_solve_p.bind(dl, d, du, b, perturb_singular=perturb_singular)
    rhs = tb
    if not all(type(t) is Zero for t in t_diags):
        t_diags = [R.instantiate(t) for t in t_diags]
        rhs = R.add_tangents(rhs, R.neg(_tridiagonal_product(*t_diags, out)))
    if type(rhs) is Zero:
        return out, Zero(R.aval_of(out).to_tangent_aval())
    return out, tridiagonal_solve_p.bind(dl, d, du, rhs, perturb_singular=perturb_singular)


def _shift_vector(v, up: bool):
    """``v[..., 1:] ++ [0]`` (up) or ``[0] ++ v[..., :-1]``."""
    shape = R.shape_of(v)
    m = shape[-1]
    zero = R.full(shape[:-1] + (1,), 0, R.dtype_of(v))
    nd = len(shape)
    slicer = R.registry["slice"]
    if up:
        part = slicer.bind(v, start_indices=(0,) * (nd - 1) + (1,), limit_indices=shape,
                           strides=None)
        return concat([part, zero], -1)
    part = slicer.bind(v, start_indices=(0,) * nd, limit_indices=shape[:-1] + (m - 1,),
                       strides=None)
    return concat([zero, part], -1)


@tridiagonal_solve_p.def_transpose
def _tridiagonal_transpose(ct, dl, d, du, b, *, perturb_singular):
    if any(is_undefined_primal(v) for v in (dl, d, du)):
        raise ValueError("tridiagonal_solve is linear only in b; it cannot be transposed "
                         "with respect to the diagonals")
    if type(ct) is Zero:
        return [None, None, None, Zero(b.aval)]
    # A^T has lower diagonal du shifted down and upper diagonal dl shifted up
    dl_t, du_t = _shift_vector(du, up=False), _shift_vector(dl, up=True)
    return [None, None, None, tridiagonal_solve_p.bind(dl_t, d, du_t, ct,
                                                       perturb_singular=perturb_singular)]


@tridiagonal_solve_p.def_batch
def _tridiagonal_batch(args, dims, *, perturb_singular):
    *diags, b = args
    *ddims, db = dims
    if all(dd is None for dd in ddims):   # fold the batch into b's columns
        nd = len(R.shape_of(b))
        b = R.moveaxis(b, db, nd - 2)
        shape = R.shape_of(b)
        flat = R.reshape(b, shape[:-3] + (shape[-3], shape[-2] * shape[-1]))
        out = tridiagonal_solve_p.bind(*diags, flat, perturb_singular=perturb_singular)
        return R.reshape(out, shape), nd - 2
    moved = all_to_front(args, dims)
    return tridiagonal_solve_p.bind(*moved, perturb_singular=perturb_singular), 0

