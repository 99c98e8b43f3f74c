"""``fx.lax.linalg``: JAX's ``jax.lax.linalg`` — the linear-algebra primitives with
lax's signatures (cholesky, eig, eigh, lu, lu_pivots_to_permutation, qr, svd,
triangular_solve, tridiagonal_solve).

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
from primitives.linalg_spectral import eig_p, eigh_p, qr_p, svd_p

__all__ = ["cholesky", "eig", "eigh", "lu", "lu_pivots_to_permutation", "qr", "svd",
           "triangular_solve", "tridiagonal_solve", "symmetrize", "EigImplementation",
           "EighImplementation", "SvdAlgorithm", "cholesky_p", "eig_p", "eigh_p", "lu_p",
           "lu_pivots_to_permutation_p", "qr_p", "svd_p", "triangular_solve_p",
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
    return _D.tril(_lax._bind(cholesky_p, x))


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
