"""``fx.lax.linalg``: JAX's ``jax.lax.linalg`` — the linear-algebra primitives with
lax's signatures (cholesky, cholesky_update, eig, eigh, hessenberg,
householder_product, lu, lu_pivots_to_permutation, ormqr, qr, schur, svd,
symmetric_product, triangular_solve, tridiagonal, tridiagonal_solve) and the
QDWH polar decomposition ``qdwh``.

Invariants: functions take batches of matrices ``[..., m, n]`` of floating or
complex dtype and never promote (as in lax); NumPy inputs are converted to
fx's canonical dtypes first. Malformed arguments raise before any work.
"""
from __future__ import annotations

import enum

import numpy as np

from fx import core, dtypes
from fx.core import Tracer, get_aval
from fx.lax import _lax
from primitives import linalg_decomp as _D
from primitives.linalg_decomp import (cholesky_p, lu_p, lu_pivots_to_permutation_p,
                                      triangular_solve_p, tridiagonal_solve_p)
from primitives.linalg_more import (cholesky_update_p, hessenberg_p, householder_product_p,
                                    ormqr_p, schur_p, symmetric_product_p, tridiagonal_p)
from primitives.linalg_spectral import eig_p, eigh_p, qr_p, svd_p

__all__ = ["cholesky", "cholesky_update", "eig", "eigh", "hessenberg", "householder_product",
           "lu", "lu_pivots_to_permutation", "ormqr", "qdwh", "qr", "schur", "svd",
           "symmetric_product", "triangular_solve", "tridiagonal", "tridiagonal_solve",
           "symmetrize", "EigImplementation", "EighImplementation", "SvdAlgorithm",
           "cholesky_p", "cholesky_update_p", "eig_p", "eigh_p", "hessenberg_p",
           "householder_product_p", "lu_p", "lu_pivots_to_permutation_p", "ormqr_p", "qr_p",
           "schur_p", "svd_p", "symmetric_product_p", "triangular_solve_p", "tridiagonal_p",
           "tridiagonal_solve_p"]


class EigImplementation(enum.Enum):
    """Which library computes ``eig`` (fx always uses LAPACK on the host)."""

    LAPACK = "lapack"
    MAGMA = "magma"
    CUSOLVER = "cusolver"


class EighImplementation(enum.Enum):
    """Algorithm for ``eigh`` (fx always uses LAPACK's)."""

    QR = "qr"
    JACOBI = "jacobi"
    QDWH = "qdwh"


class SvdAlgorithm(enum.Enum):
    """Algorithm for ``svd`` (fx always uses LAPACK's divide and conquer)."""

    DEFAULT = "default"
    QR = "QR"
    JACOBI = "Jacobi"
    POLAR = "polar"


def _operand(name: str, x, what: str = "x"):
    """``x`` as an fx value of a canonical dtype; lists and other objects are refused."""
    if isinstance(x, (Tracer, core._array_type[0])):
        return x
    if isinstance(x, (np.ndarray, np.generic)):
        value = np.asarray(x)
        if value.dtype.kind not in "biufc" and value.dtype != dtypes.bfloat16:
            raise TypeError(f"lax.linalg.{name}: {what} has unsupported dtype {value.dtype}")
        return core._array_type[0](value.astype(dtypes.canonicalize_dtype(value.dtype),
                                                copy=False))
    if isinstance(x, (bool, int, float, complex)):
        raise TypeError(f"lax.linalg.{name}: {what} must be an array of matrices, got the "
                        f"scalar {x!r}")
    if hasattr(x, "__jax_array__"):
        return _operand(name, x.__jax_array__(), what)
    raise TypeError(f"lax.linalg.{name}: {what} must be an array, got {type(x).__name__}; "
                    "convert it with fx.numpy.asarray first")


def _flag(name: str, value, what: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"lax.linalg.{name}: {what} must be a bool, got {value!r}")
    return bool(value)


def _subset(name: str, subset):
    if subset is None:
        return None
    try:
        lo, hi = (int(core.concrete_or_error(v, "subset_by_index", "pass Python ints"))
                  for v in subset)
    except (TypeError, ValueError):
        raise ValueError(f"lax.linalg.{name}: subset_by_index must be None or a pair of "
                         f"ints (start, end), got {subset!r}") from None
    return (lo, hi)


def symmetrize(x):
    """``(x + x^H) / 2``: the Hermitian part of a batch of square matrices.

    Example: ``symmetrize(fx.numpy.array([[1., 2.], [0., 1.]]))`` is ``[[1, 1], [1, 1]]``.
    """
    x = _operand("symmetrize", x)
    aval = get_aval(x)
    if aval.ndim < 2:
        raise TypeError(f"lax.linalg.symmetrize: x must have rank at least 2, got shape "
                        f"{aval.shape}")
    if aval.shape[-1] != aval.shape[-2]:
        raise ValueError(f"lax.linalg.symmetrize: x must be a batch of square matrices "
                         f"[..., n, n], got shape {aval.shape}")
    return _lax.div(_lax.add(x, _D.adjoint(x)), _lax._scalar(2, aval.dtype))


def cholesky(x, *, symmetrize_input: bool = True):
    """Cholesky factor ``L`` (lower triangular) with ``L @ L^H == x``.

    Args:
      x: a batch of Hermitian positive-definite matrices ``[..., n, n]``.
      symmetrize_input: use ``(x + x^H) / 2``; otherwise only the lower triangle is read.

    Returns:
      ``L`` with the shape and dtype of ``x``; NaNs for a matrix that is not
      positive definite.

    Example:
      >>> cholesky(fx.numpy.array([[4., 2.], [2., 3.]]))   # [[2, 0], [1, 1.414]]
    """
    x = _operand("cholesky", x)
    cholesky_p.abstract_eval(get_aval(x))   # clear errors before symmetrizing
    if _flag("cholesky", symmetrize_input, "symmetrize_input"):
        x = symmetrize(x)
    return _tril(_lax._bind(cholesky_p, x))


def _tril(x, k: int = 0):
    """The entries of the matrices ``x [..., n, m]`` on and below the ``k``-th diagonal,
    zeros elsewhere, the mask built from iotas as JAX's lax builds it (so programs print
    as JAX's): ``select_n(row + k >= col, 0, x)``."""
    aval = get_aval(x)
    n, m = aval.shape[-2:]
    rows = _lax.add(_lax.broadcasted_iota(np.int32, (n, m), 0), np.int32(k))
    mask = _lax.ge(rows, _lax.broadcasted_iota(np.int32, (n, m), 1))
    if aval.ndim > 2:
        mask = _lax.broadcast_in_dim(mask, aval.shape, (aval.ndim - 2, aval.ndim - 1))
    return _lax.select_n(mask, _lax.full_like(x, 0), x)


def eig(x, *, compute_left_eigenvectors: bool = True, compute_right_eigenvectors: bool = True,
        enable_eigvec_derivs: bool = False, implementation=None, use_magma=None) -> list:
    """Eigendecomposition of a general square matrix (computed on the CPU).

    Args:
      x: a batch of square matrices ``[..., n, n]``.
      compute_left_eigenvectors, compute_right_eigenvectors: which vectors to return.
      enable_eigvec_derivs: allow differentiating eigenvectors (valid only for distinct
        eigenvalues).
      implementation, use_magma: accepted for JAX compatibility; LAPACK is always used.

    Returns:
      ``[w, vl, vr]`` (vl/vr only when requested), complex.

    Example:
      >>> w, vl, vr = eig(fx.numpy.array([[2., 0.], [0., 3.]]))
    """
    x = _operand("eig", x)
    return list(_lax._bind(
        eig_p, x,
        compute_left_eigenvectors=_flag("eig", compute_left_eigenvectors,
                                        "compute_left_eigenvectors"),
        compute_right_eigenvectors=_flag("eig", compute_right_eigenvectors,
                                         "compute_right_eigenvectors"),
        enable_eigvec_derivs=_flag("eig", enable_eigvec_derivs, "enable_eigvec_derivs"),
        implementation=implementation))


def eigh(x, *, lower: bool = True, symmetrize_input: bool = True,
         sort_eigenvalues: bool = True, subset_by_index=None, implementation=None):
    """Eigendecomposition of a Hermitian (real symmetric) matrix.

    Args:
      x: a batch of square matrices ``[..., n, n]``.
      lower: which triangle to read when ``symmetrize_input`` is False.
      symmetrize_input: use ``(x + x^H) / 2``.
      sort_eigenvalues: eigenvalues in ascending order (always true in fx).
      subset_by_index: ``(start, end)``: only those eigenpairs (no derivative).
      implementation: accepted for JAX compatibility.

    Returns:
      ``(v, w)``: eigenvectors as columns of ``v`` and real eigenvalues ``w``.

    Example:
      >>> v, w = eigh(fx.numpy.array([[2., 1.], [1., 2.]]))   # w == [1, 3]
    """
    x = _operand("eigh", x)
    eigh_p.abstract_eval(get_aval(x), lower=True, sort_eigenvalues=True,
                         subset_by_index=_subset("eigh", subset_by_index))
    if _flag("eigh", symmetrize_input, "symmetrize_input"):
        x = symmetrize(x)
    v, w = _lax._bind(eigh_p, x, lower=_flag("eigh", lower, "lower"),
                      sort_eigenvalues=_flag("eigh", sort_eigenvalues, "sort_eigenvalues"),
                      subset_by_index=_subset("eigh", subset_by_index),
                      algorithm=implementation)
    return v, w


def lu(x):
    """LU decomposition with partial pivoting: ``P @ x == L @ U``.

    Args:
      x: a batch of matrices ``[..., m, n]``.

    Returns:
      ``(lu, pivots, permutation)``: ``L`` (unit diagonal, not stored) and ``U`` packed
      in ``lu``; the row swaps ``pivots [..., min(m, n)]`` (int32) and the
      ``permutation [..., m]`` (int32) they make.

    Example:
      >>> lu_, pivots, perm = lu(fx.numpy.array([[1., 2.], [3., 4.]]))
    """
    x = _operand("lu", x)
    out = _lax._bind(lu_p, x)
    return out[0], out[1], out[2]


def lu_pivots_to_permutation(pivots, permutation_size: int):
    """The permutation ``[..., permutation_size]`` made by applying the row swaps
    ``pivots [..., k]`` in order to ``arange(permutation_size)``.

    Example:
      >>> lu_pivots_to_permutation(fx.numpy.array([1, 1], 'int32'), 3)   # [1, 0, 2]
    """
    pivots = _operand("lu_pivots_to_permutation", pivots, "pivots")
    size = int(core.concrete_or_error(permutation_size, "permutation_size",
                                      "pass a Python int"))
    return _lax._bind(lu_pivots_to_permutation_p, pivots, permutation_size=size)


def qr(x, *, pivoting: bool = False, full_matrices: bool = True, use_magma=None):
    """QR decomposition ``x == q @ r`` (``x[..., p] == q @ r`` with pivoting).

    Args:
      x: a batch of matrices ``[..., m, n]``.
      pivoting: column pivoting (rank revealing); returns the permutation too.
      full_matrices: ``q [..., m, m], r [..., m, n]``; else ``k = min(m, n)`` columns/rows.
      use_magma: accepted for JAX compatibility.

    Returns:
      ``(q, r)``, or ``(q, r, p)`` with ``pivoting``.

    Example:
      >>> q, r = qr(fx.numpy.array([[1., 2.], [3., 4.]]))
    """
    x = _operand("qr", x)
    outs = _lax._bind(qr_p, x, pivoting=_flag("qr", pivoting, "pivoting"),
                      full_matrices=_flag("qr", full_matrices, "full_matrices"),
                      use_magma=use_magma)
    return tuple(outs)


def svd(x, *, full_matrices: bool = True, compute_uv: bool = True, subset_by_index=None,
        algorithm=None):
    """Singular value decomposition ``x == u @ diag(s) @ vh``.

    Args:
      x: a batch of matrices ``[..., m, n]``.
      full_matrices: square ``u`` and ``vh``; else ``min(m, n)`` columns/rows.
      compute_uv: return ``(u, s, vh)``; else only ``s``.
      subset_by_index: ``(start, end)`` of the singular values to keep.
      algorithm: accepted for JAX compatibility.

    Returns:
      ``(u, s, vh)`` or ``s``; ``s`` is real, in descending order.

    Example:
      >>> u, s, vh = svd(fx.numpy.array([[3., 0.], [0., 4.]]))   # s == [4, 3]
    """
    x = _operand("svd", x)
    compute_uv = _flag("svd", compute_uv, "compute_uv")
    outs = _lax._bind(svd_p, x, full_matrices=_flag("svd", full_matrices, "full_matrices"),
                      compute_uv=compute_uv, subset_by_index=_subset("svd", subset_by_index),
                      algorithm=algorithm)
    if compute_uv:
        s, u, vt = outs
        return u, s, vt
    return outs[0]


def triangular_solve(a, b, *, left_side: bool = False, lower: bool = False,
                     transpose_a: bool = False, conjugate_a: bool = False,
                     unit_diagonal: bool = False):
    """Solve ``op(a) @ x == b`` (``left_side``) or ``x @ op(a) == b`` for triangular ``a``.

    Args:
      a: a batch of triangular matrices ``[..., m, m]`` (only one triangle is read).
      b: ``[..., m, n]`` (left side) or ``[..., n, m]``; one dimension fewer than ``a``
        means a batch of vectors.
      left_side, lower, transpose_a, conjugate_a, unit_diagonal: as in JAX; ``op(a)`` is
        ``a``, its transpose, conjugate or conjugate transpose.

    Returns:
      ``x`` with the shape and dtype of ``b``.

    Example:
      >>> triangular_solve(fx.numpy.eye(2) * 2, fx.numpy.ones((2, 1)), left_side=True)
    """
    a = _operand("triangular_solve", a, "a")
    b = _operand("triangular_solve", b, "b")
    a_aval, b_aval = get_aval(a), get_aval(b)
    flags = {k: _flag("triangular_solve", v, k) for k, v in (
        ("left_side", left_side), ("lower", lower), ("transpose_a", transpose_a),
        ("conjugate_a", conjugate_a), ("unit_diagonal", unit_diagonal))}
    flags["conjugate_a"] = flags["conjugate_a"] and a_aval.dtype.kind == "c"
    singleton = b_aval.ndim == a_aval.ndim - 1
    if singleton:
        b = _lax.expand_dims(b, (b_aval.ndim if flags["left_side"] else b_aval.ndim - 1,))
    out = _lax._bind(triangular_solve_p, a, b, **flags)
    if singleton:
        nd = get_aval(out).ndim
        out = _lax.squeeze(out, (nd - 1 if flags["left_side"] else nd - 2,))
    return out


def tridiagonal_solve(dl, d, du, b, *, perturb_singular: bool = False):
    """Solve the tridiagonal system ``A @ x == b``.

    Args:
      dl: lower diagonal ``[..., m]`` (``dl[..., 0]`` is ignored).
      d: main diagonal ``[..., m]``.
      du: upper diagonal ``[..., m]`` (``du[..., m - 1]`` is ignored).
      b: right-hand sides ``[..., m, k]``.
      perturb_singular: not supported by fx (raises NotImplementedError if True).

    Returns:
      ``x`` like ``b``; NaNs where ``A`` is singular.

    Example:
      >>> tridiagonal_solve(dl, d, du, b)
    """
    if _flag("tridiagonal_solve", perturb_singular, "perturb_singular"):
        raise NotImplementedError("lax.linalg.tridiagonal_solve: perturb_singular=True is "
                                  "not supported by fx")
    args = [_operand("tridiagonal_solve", v, n) for v, n in ((dl, "dl"), (d, "d"),
                                                              (du, "du"), (b, "b"))]
    return _lax._bind(tridiagonal_solve_p, *args, perturb_singular=False)


# ---------------------------------------------------------------------------
# condensed forms, Householder algebra, products and updates


def _exact_rank(name: str, x, rank: int, what: str):
    aval = get_aval(x)
    if aval.ndim != rank:
        raise TypeError(f"lax.linalg.{name}: {what} must have a rank of exactly {rank}, got "
                        f"shape {aval.shape}")


def _scalar_param(name: str, value, what: str):
    """A static Python number for a param (NumPy scalars unwrapped)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"lax.linalg.{name}: {what} must be a static Python number, got "
                        f"{value!r}")
    return value


def cholesky_update(r_matrix, w_vector):
    """Rank-1 update of a Cholesky factor: the upper ``R'`` with
    ``R'^T R' == R^T R + w w^T``, in O(n^2).

    Args:
      r_matrix: an upper-triangular ``[n, n]`` factor ``R`` of ``A = R^T R``.
      w_vector: the ``[n]`` update vector ``w``.

    Returns:
      The updated upper-triangular factor, like ``r_matrix``.

    Example:
      >>> cholesky_update(fx.numpy.eye(2), fx.numpy.array([1., 0.]))   # [[1.414, 0], [0, 1]]
    """
    r_matrix = _operand("cholesky_update", r_matrix, "r_matrix")
    w_vector = _operand("cholesky_update", w_vector, "w_vector")
    _exact_rank("cholesky_update", r_matrix, 2, "r_matrix")
    _exact_rank("cholesky_update", w_vector, 1, "w_vector")
    return _lax._bind(cholesky_update_p, r_matrix, w_vector)


def hessenberg(a) -> list:
    """Reduce square matrices to upper Hessenberg form (LAPACK's gehrd, on the host).

    Args:
      a: a batch of floating or complex square matrices ``[..., n, n]``.

    Returns:
      ``[a, taus]``: the upper triangle and first subdiagonal of ``a`` hold the Hessenberg
      matrix, the entries below hold Householder reflectors whose scalar factors are
      ``taus [..., n - 1]``.

    Example:
      >>> h, taus = hessenberg(fx.numpy.ones((3, 3)))
    """
    return list(_lax._bind(hessenberg_p, _operand("hessenberg", a, "a")))


def householder_product(a, taus):
    """The product of elementary Householder reflectors (LAPACK's orgqr/ungqr).

    Args:
      a: ``[..., m, n]`` with ``m >= n``; its strict lower triangle holds the reflectors.
      taus: ``[..., k]`` scalar factors, ``k <= min(m, n)``.

    Returns:
      The ``[..., m, n]`` orthogonal (unitary) matrix ``H_1 ... H_k`` (first n columns).

    Example:
      >>> householder_product(fx.numpy.zeros((3, 2)), fx.numpy.zeros(2))   # eye(3, 2)
    """
    a = _operand("householder_product", a, "a")
    taus = _operand("householder_product", taus, "taus")
    return _lax._bind(householder_product_p, a, taus)


def ormqr(a, taus, c, *, left: bool = True, transpose: bool = False):
    """Multiply ``c`` by the ``Q`` of a QR factorization held as Householder reflectors.

    Args:
      a: the reflectors ``[..., m, n]`` (as geqrf leaves them, below the diagonal).
      taus: their scalar factors ``[..., k]``.
      c: ``[..., m, p]`` (``left``) or ``[..., p, m]``.
      left: ``Q @ c`` rather than ``c @ Q``.
      transpose: use ``Q^T`` (``Q^H`` for complex types).

    Returns:
      The product, with the shape of ``c``; linear (and differentiable) in ``c``.

    Example:
      >>> ormqr(a, taus, fx.numpy.eye(3))   # Q itself
    """
    args = [_operand("ormqr", v, n) for v, n in ((a, "a"), (taus, "taus"), (c, "c"))]
    return _lax._bind(ormqr_p, *args, left=_flag("ormqr", left, "left"),
                      transpose=_flag("ormqr", transpose, "transpose"))


def schur(x, *, compute_schur_vectors: bool = True, sort_eig_vals: bool = False,
          select_callable=None) -> list:
    """Schur decomposition ``x == Q U Q^H`` (LAPACK's gees, on the host).

    Args:
      x: a batch of square matrices ``[..., n, n]``.
      compute_schur_vectors: also return ``Q``.
      sort_eig_vals: not implemented (True raises NotImplementedError, as in JAX).
      select_callable: unused, as in JAX.

    Returns:
      ``[U, Q]`` (or ``[U]``): ``U`` upper triangular for complex input, quasi-upper
      triangular (2x2 blocks for complex pairs) for real input; ``Q`` unitary.

    Example:
      >>> u, q = schur(fx.numpy.array([[1., 2.], [3., 4.]]))
    """
    x = _operand("schur", x)
    return list(_lax._bind(
        schur_p, x,
        compute_schur_vectors=_flag("schur", compute_schur_vectors, "compute_schur_vectors"),
        sort_eig_vals=_flag("schur", sort_eig_vals, "sort_eig_vals"),
        select_callable=select_callable))


def symmetric_product(a_matrix, c_matrix, *, alpha: float = 1., beta: float = 0.,
                      symmetrize_output: bool = False):
    """The symmetric product ``alpha * A @ A^T + beta * C``.

    Args:
      a_matrix: ``[..., m, n]``.
      c_matrix: a symmetric ``[..., m, m]``.
      alpha, beta: static scalars.
      symmetrize_output: copy the lower triangle into the upper one (only the lower
        triangle is guaranteed on every platform; on the host the whole result is).

    Returns:
      ``[..., m, m]``.

    Example:
      >>> symmetric_product(fx.numpy.ones((2, 3)), fx.numpy.eye(2), beta=1.)   # [[4, 3], [3, 4]]
    """
    a_matrix = _operand("symmetric_product", a_matrix, "a_matrix")
    c_matrix = _operand("symmetric_product", c_matrix, "c_matrix")
    out = _lax._bind(symmetric_product_p, a_matrix, c_matrix,
                     alpha=_scalar_param("symmetric_product", alpha, "alpha"),
                     beta=_scalar_param("symmetric_product", beta, "beta"))
    if _flag("symmetric_product", symmetrize_output, "symmetrize_output"):
        upper_half = _D.swap_last(_tril(out, -1))  # (JAX's order)
        out = _lax.add(_tril(out), upper_half)
    return out


def tridiagonal(a, *, lower: bool = True) -> list:
    """Reduce Hermitian (real symmetric) matrices to tridiagonal form (sytrd/hetrd).

    Args:
      a: a batch of square matrices ``[..., n, n]``; only the ``lower`` (or upper)
        triangle is read.
      lower: which triangle to read and to write the reflectors into.

    Returns:
      ``[a, d, e, taus]``: the packed reduction, the (real) diagonal ``d [..., n]``, the
      (real) off-diagonal ``e [..., n - 1]`` and the reflectors' factors
      ``taus [..., n - 1]``.

    Example:
      >>> a, d, e, taus = tridiagonal(fx.numpy.eye(3))
    """
    a = _operand("tridiagonal", a, "a")
    return list(_lax._bind(tridiagonal_p, a, lower=_flag("tridiagonal", lower, "lower")))


def qdwh(x, *, is_hermitian: bool = False, max_iterations: int | None = None,
         eps: float | None = None, dynamic_shape: tuple[int, int] | None = None):
    """Polar decomposition ``x == u @ h`` by the QR-based dynamically weighted Halley
    iteration (Nakatsukasa, Bai and Gygi, 2010).

    Args:
      x: a full-rank ``[M, N]`` matrix with ``M >= N``.
      is_hermitian: unused (accepted for JAX compatibility).
      max_iterations: the most iterations (default 10).
      eps: convergence threshold; iteration stops when ``|x_k - x_{k-1}| < (4 eps)^(1/3)``
        (default: the dtype's machine epsilon).
      dynamic_shape: ``(m, n)``: only the leading ``m x n`` block of ``x`` is decomposed;
        the results are padded with zeros back to ``x``'s shape.

    Returns:
      ``(u, h, num_iters, is_converged)``.

    Example:
      >>> u, h, k, ok = qdwh(fx.numpy.array([[2., 0.], [0., 3.]]))   # u == eye(2)
    """
    x = _operand("qdwh", x)
    _flag("qdwh", is_hermitian, "is_hermitian")
    _exact_rank("qdwh", x, 2, "x")
    aval = get_aval(x)
    big_m, big_n = aval.shape
    if big_m < big_n:
        raise ValueError(f"lax.linalg.qdwh: the input matrix of shape M x N must have M >= N, "
                         f"got shape {aval.shape}")
    if aval.dtype.kind not in "fc":
        raise TypeError(f"lax.linalg.qdwh: x must be floating or complex, got "
                        f"{aval.dtype.name}")
    iterations = 10 if max_iterations is None else int(core.concrete_or_error(
        max_iterations, "max_iterations", "pass a Python int"))
    eps = float(np.finfo(aval.dtype).eps) if eps is None else float(eps)
    if dynamic_shape is None:
        return _qdwh(x, iterations, eps)
    m, n = (int(d) for d in dynamic_shape)
    if not (0 < n <= m and m <= big_m and n <= big_n):
        raise ValueError(f"lax.linalg.qdwh: dynamic_shape {dynamic_shape} must be (m, n) with "
                         f"n <= m inside the shape {aval.shape} of x")
    u, h, k, ok = _qdwh(x[:m, :n], iterations, eps)
    import fx.numpy as fnp
    return (fnp.pad(u, ((0, big_m - m), (0, big_n - n))),
            fnp.pad(h, ((0, big_n - n), (0, big_n - n))), k, ok)


def _qdwh_coefficients(eps: float, max_iterations: int) -> list:
    """The dynamic weights ``(a, b, c)`` of each step, from the lower bound ``l`` of the
    smallest singular value, which starts at ``eps`` and grows to 1 (static: it depends
    on ``eps`` alone)."""
    coefficients, lower, tol = [], eps, 5 * eps
    while lower + tol < 1 and len(coefficients) < max_iterations:
        l2 = lower * lower
        d = (4 * (1 - l2) / (l2 * l2)) ** (1 / 3)
        root = (1 + d) ** 0.5
        a = root + 0.5 * (8 - 4 * d + 8 * (2 - l2) / (l2 * root)) ** 0.5
        b = (a - 1) ** 2 / 4
        c = a + b - 1
        lower = lower * (a + b * l2) / (1 + c * l2)
        coefficients.append((a, b, c))
    return coefficients


def _qdwh(x, max_iterations: int, eps: float):
    import fx.numpy as fnp
    from fx.lax import _control_flow
    m, n = get_aval(x).shape
    dtype = get_aval(x).dtype
    eye = fnp.eye(n, dtype=dtype)
    magnitude = fnp.abs(x)
    norm = fnp.sqrt(fnp.max(fnp.sum(magnitude, axis=0)) * fnp.max(fnp.sum(magnitude, axis=1)))
    scale = fnp.where(norm == 0, fnp.ones_like(norm), norm)
    u = x / scale.astype(dtype)   # singular values now in (0, 1]
    tolerance = (5 * eps) ** (1 / 3)

    def via_qr(u, a, b, c):   # [sqrt(c) u; I] = [q1; q2] r
        q, _ = qr(fnp.concatenate([c ** 0.5 * u, eye], axis=0), full_matrices=False)
        q1, q2 = q[:m], q[m:]
        return (b / c) * u + ((a - b / c) / c ** 0.5) * (q1 @ fnp.conj(q2.T))

    def via_cholesky(u, a, b, c):   # u (I + c u^H u)^-1 through the Cholesky factor
        factor = cholesky(c * (fnp.conj(u.T) @ u) + eye, symmetrize_input=False)
        y = triangular_solve(factor, fnp.conj(u.T), left_side=True, lower=True)
        y = triangular_solve(factor, y, left_side=True, lower=True, transpose_a=True,
                             conjugate_a=True)
        return (b / c) * u + (a - b / c) * fnp.conj(y.T)

    moving = fnp.array(True)
    for a, b, c in _qdwh_coefficients(eps, max_iterations):
        if c > 100:
            u = via_qr(u, a, b, c)
        else:
            previous, u = u, via_cholesky(u, a, b, c)
            moving = fnp.linalg.norm(u - previous) > tolerance

    def keep_going(state):
        k, _, moving = state
        return fnp.logical_and(moving, k < max_iterations)

    def halley(state):
        k, u, _ = state
        new = via_cholesky(u, 3.0, 1.0, 3.0)
        return k + 1, new, fnp.linalg.norm(new - u) > tolerance

    start = fnp.asarray(len(_qdwh_coefficients(eps, max_iterations)), dtype=np.int32)
    k, u, moving = _control_flow.while_loop(keep_going, halley, (start, u, moving))
    u = 1.5 * u - 0.5 * (u @ (fnp.conj(u.T) @ u))   # one Newton-Schulz polish
    h = fnp.conj(u.T) @ x
    h = (h + fnp.conj(h.T)) / 2
    return u, h, k, fnp.logical_not(moving)
