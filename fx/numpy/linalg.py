"""``fx.numpy.linalg``: JAX's ``jax.numpy.linalg``, built on the linear-algebra
primitives of ``fx.lax.linalg``.

Invariants: inputs are promoted to an inexact dtype (JAX's rules) before any
work; every function takes batches ``[..., m, n]`` where NumPy does. ``det``,
``slogdet`` and ``pinv`` carry custom derivative rules (JAX's) and ``solve``/``inv``
(``_linalg_solve``) are a ``custom_linear_solve`` over one LU factorization, so their
gradients need only solves with the factorization already computed; everything
else differentiates through the primitives' rules.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

import fx.numpy as fnp
from fx import core, dtypes, lax
from fx.custom_derivatives import custom_jvp
from fx.lax import linalg as lax_linalg
from fx.numpy._linalg_norms import (_H, _check_arraylike, _inexact,
                                    _matrices, _square, _static_int, cond, cross,
                                    diagonal, matmul, matrix_norm, matrix_transpose,
                                    multi_dot, norm, outer, tensordot, tensorinv,
                                    tensorsolve, trace, vecdot, vector_norm)
from fx.numpy._jitted import library_jit
from fx.numpy._linalg_det import SlogdetResult, det, slogdet  # noqa: F401
from fx.numpy._linalg_solve import inv, solve  # noqa: F401

__all__ = ["cholesky", "cond", "cross", "det", "diagonal", "eig", "eigh", "eigvals",
           "eigvalsh", "inv", "lstsq", "matmul", "matrix_norm", "matrix_power",
           "matrix_rank", "matrix_transpose", "multi_dot", "norm", "outer", "pinv", "qr",
           "slogdet", "solve", "svd", "svdvals", "tensordot", "tensorinv", "tensorsolve",
           "trace", "vecdot", "vector_norm", "EigResult", "EighResult", "QRResult",
           "SlogdetResult", "SVDResult"]


class EigResult(NamedTuple):
    eigenvalues: object
    eigenvectors: object


class EighResult(NamedTuple):
    eigenvalues: object
    eigenvectors: object


class QRResult(NamedTuple):
    Q: object
    R: object


class SVDResult(NamedTuple):
    U: object
    S: object
    Vh: object


# ---------------------------------------------------------------------------
# factorizations


@library_jit(static_argnames=("upper", "symmetrize_input"))
def cholesky(a, *, upper: bool = False, symmetrize_input: bool = True):
    """Cholesky factor of Hermitian positive-definite matrices (traced, a
    ``jit[name=cholesky]`` equation, as JAX's).

    Args:
      a: ``[..., n, n]``.
      upper: return the upper factor ``U`` (``a == U^H U``) instead of ``L``.
      symmetrize_input: use ``(a + a^H) / 2``; otherwise only one triangle is read.

    Returns:
      ``L`` with ``a == L @ L^H`` (NaNs where ``a`` is not positive definite).

    Example:
      >>> cholesky(fx.numpy.array([[4., 2.], [2., 3.]]))
    """
    a = _inexact("linalg.cholesky", a)
    _square("linalg.cholesky", a)
    lower = lax_linalg.cholesky(a, symmetrize_input=symmetrize_input)
    return _H(lower) if upper else lower


@library_jit(static_argnames=("mode",))
def qr(a, mode: str = "reduced"):
    """QR decomposition (traced, a ``jit[name=qr]`` equation, as JAX's).

    Args:
      a: ``[..., m, n]``.
      mode: ``"reduced"`` (``k = min(m, n)`` columns of Q), ``"complete"``, or ``"r"``
        (only R).

    Returns:
      ``QRResult(Q, R)``, or ``R`` for ``mode="r"``.

    Example:
      >>> q, r = qr(fx.numpy.array([[1., 2.], [3., 4.], [5., 6.]]))
    """
    a = _inexact("linalg.qr", a)
    _matrices("linalg.qr", a)
    if mode in ("reduced", "r", "full"):
        full = False
    elif mode == "complete":
        full = True
    elif mode == "raw":
        raise NotImplementedError("linalg.qr: mode='raw' (Householder reflectors) is not "
                                  "supported by fx; use 'reduced', 'complete' or 'r'")
    else:
        raise ValueError(f"linalg.qr: unsupported mode {mode!r}; expected 'reduced', "
                         f"'complete' or 'r'")
    q, r = lax_linalg.qr(a, pivoting=False, full_matrices=full)
    return r if mode == "r" else QRResult(q, r)


@library_jit(static_argnames=("full_matrices", "compute_uv", "hermitian", "subset_by_index"))
def svd(a, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False,
        subset_by_index=None):
    """Singular value decomposition ``a == U @ diag(S) @ Vh`` (traced, a ``jit[name=svd]``
    equation, as JAX's).

    Args:
      a: ``[..., m, n]``.
      full_matrices: square U and Vh; else ``min(m, n)`` columns/rows.
      compute_uv: return ``SVDResult(U, S, Vh)``; else only ``S``.
      hermitian: ``a`` is Hermitian: computed through ``eigh``.
      subset_by_index: ``(start, end)`` of the singular values to keep.

    Returns:
      ``SVDResult(U, S, Vh)`` or ``S`` (real, descending).

    Example:
      >>> u, s, vh = svd(fx.numpy.array([[3., 0.], [0., 4.]]))
    """
    a = _inexact("linalg.svd", a)
    _matrices("linalg.svd", a)
    if hermitian:
        _square("linalg.svd", a)
        v, w = lax_linalg.eigh(a, subset_by_index=subset_by_index)
        s = fnp.abs(w)
        if not compute_uv:
            return fnp.flip(fnp.sort(s, axis=-1), axis=-1)
        order = fnp.flip(fnp.argsort(s, axis=-1), axis=-1)
        s = fnp.take_along_axis(s, order, axis=-1)
        sign = fnp.take_along_axis(fnp.sign(w), order, axis=-1)
        u = fnp.take_along_axis(v, order[..., None, :], axis=-1)
        vh = _H(u * sign[..., None, :].astype(u.dtype))
        return SVDResult(u, s, vh)
    if compute_uv:
        u, s, vh = lax_linalg.svd(a, full_matrices=full_matrices, compute_uv=True,
                                  subset_by_index=subset_by_index)
        return SVDResult(u, s, vh)
    return lax_linalg.svd(a, full_matrices=full_matrices, compute_uv=False,
                          subset_by_index=subset_by_index)


def svdvals(x, /):
    """The singular values of ``x [..., m, n]``, descending.

    Example:
      >>> svdvals(fx.numpy.array([[3., 0.], [0., 4.]]))   # [4., 3.]
    """
    return svd(x, compute_uv=False, hermitian=False)


def _uplo(name: str, UPLO) -> bool:
    if UPLO is None or UPLO == "L":
        return True
    if UPLO == "U":
        return False
    raise ValueError(f"{name}: UPLO must be one of None, 'L' or 'U', got {UPLO!r}")


@library_jit(static_argnames=("UPLO", "symmetrize_input"))
def eigh(a, UPLO: str | None = None, symmetrize_input: bool = True) -> EighResult:
    """Eigenvalues and eigenvectors of Hermitian (real symmetric) matrices (traced, a
    ``jit[name=eigh]`` equation, as JAX's).

    Args:
      a: ``[..., n, n]``.
      UPLO: the triangle read when ``symmetrize_input`` is False (``"L"`` or ``"U"``).
      symmetrize_input: use ``(a + a^H) / 2``.

    Returns:
      ``EighResult(eigenvalues, eigenvectors)``, eigenvalues ascending.

    Example:
      >>> w, v = eigh(fx.numpy.array([[2., 1.], [1., 2.]]))   # w == [1., 3.]
    """
    lower = _uplo("linalg.eigh", UPLO)
    a = _inexact("linalg.eigh", a)
    _square("linalg.eigh", a)
    v, w = lax_linalg.eigh(a, lower=lower, symmetrize_input=symmetrize_input)
    return EighResult(w, v)


@library_jit(static_argnames=("UPLO", "symmetrize_input"))
def eigvalsh(a, UPLO: str | None = "L", *, symmetrize_input: bool = True):
    """Eigenvalues of Hermitian matrices ``[..., n, n]``, ascending.

    Example:
      >>> eigvalsh(fx.numpy.array([[2., 1.], [1., 2.]]))   # [1., 3.]
    """
    return eigh(a, UPLO, symmetrize_input=symmetrize_input).eigenvalues


def eig(a) -> EigResult:
    """Eigenvalues and right eigenvectors of general square matrices (complex).

    Eigenvector derivatives are not available (as in JAX); eigenvalues differentiate.

    Example:
      >>> w, v = eig(fx.numpy.array([[0., 1.], [-1., 0.]]))   # w == [1j, -1j]
    """
    a = _inexact("linalg.eig", a)
    _square("linalg.eig", a)
    w, v = lax_linalg.eig(a, compute_left_eigenvectors=False)
    return EigResult(w, v)


def eigvals(a):
    """Eigenvalues of general square matrices ``[..., n, n]`` (complex).

    Example:
      >>> eigvals(fx.numpy.array([[2., 0.], [0., 3.]]))   # [2.+0.j, 3.+0.j]
    """
    a = _inexact("linalg.eigvals", a)
    _square("linalg.eigvals", a)
    return lax_linalg.eig(a, compute_left_eigenvectors=False,
                          compute_right_eigenvectors=False)[0]


# ---------------------------------------------------------------------------
# solves, inverses and determinants


def matrix_power(a, n: int):
    """``a`` raised to the integer power ``n`` by repeated squaring (``n < 0`` inverts;
    traced, a ``jit[name=matrix_power]`` equation with ``n`` static, as JAX's).

    Example:
      >>> matrix_power(fx.numpy.array([[1., 1.], [0., 1.]]), 3)   # [[1., 3.], [0., 1.]]
    """
    _check_arraylike("linalg.matrix_power", a)
    a = fnp.asarray(a)
    _square("linalg.matrix_power", a, TypeError)
    n = _static_int("linalg.matrix_power", "the exponent n", n)
    return _matrix_power(a, n=n)


@library_jit(static_argnames=("n",), name="matrix_power")
def _matrix_power(a, n: int):
    if n == 0:
        return fnp.broadcast_to(fnp.eye(a.shape[-1], dtype=a.dtype), a.shape)
    if n < 0:
        a, n = inv(a), -n
    if n == 1:                       # JAX's explicit products for small powers
        return a
    if n <= 3:
        square = fnp.matmul(a, a)
        return square if n == 2 else fnp.matmul(square, a)
    power = result = None
    while n > 0:
        power = a if power is None else fnp.matmul(power, power)
        n, bit = divmod(n, 2)
        if bit:
            result = power if result is None else fnp.matmul(result, power)
    return result


@library_jit(static_argnames=("hermitian",))
def matrix_rank(M, rtol=None, *, hermitian: bool = False, tol=None):
    """The number of singular values of ``M [..., m, n]`` above a tolerance.

    Args:
      M: the matrices (a 0- or 1-d array has rank 1 unless it is all zeros).
      rtol: singular values ``<= rtol`` count as zero (JAX's meaning); default
        ``max(S) * max(m, n) * eps``.
      hermitian: ``M`` is Hermitian (singular values through ``eigh``).
      tol: alias of ``rtol``.

    Returns:
      int32 ranks of shape ``M.shape[:-2]``.

    Example:
      >>> matrix_rank(fx.numpy.array([[1., 2.], [2., 4.]]))   # 1
    """
    if tol is not None:
        if rtol is not None:
            raise ValueError("linalg.matrix_rank: only one of tol or rtol may be specified")
        rtol = tol
    M = _inexact("linalg.matrix_rank", M)
    if M.ndim < 2:
        return fnp.any(M != 0).astype(np.int32)
    s = svd(M, full_matrices=False, compute_uv=False, hermitian=hermitian)
    if rtol is None:
        eps = float(np.finfo(s.dtype).eps)
        big = fnp.max(s, axis=-1)
        if core._current_trace.get() is core.eval_trace:   # the same float32 products
            big = np.asarray(big)
        rtol = big * np.asarray(max(M.shape[-2:]), s.dtype) * eps
    rtol = fnp.asarray(rtol)
    rtol = fnp.expand_dims(rtol, rtol.ndim)
    return fnp.sum(s > rtol, axis=-1)


@library_jit(static_argnames=("hermitian",))
def _pinv(a, rtol, hermitian):
    m, n = a.shape[-2:]
    if m == 0 or n == 0:
        return fnp.zeros(a.shape[:-2] + (n, m), a.dtype)
    a = fnp.conj(a) if fnp.iscomplexobj(a) else a
    eager = core._current_trace.get() is core.eval_trace   # NumPy for the tolerance
    if rtol is None:
        eps = (np.asarray if eager else fnp.array)(dtypes.finfo(a.dtype).eps)
        rtol = 10.0 * max(m, n) * eps
    rtol = np.asarray(rtol) if eager and isinstance(rtol, (float, np.ndarray)) \
        else fnp.asarray(rtol)
    u, s, vh = svd(a, full_matrices=False, hermitian=hermitian)
    rtol = lax.expand_dims(rtol[..., None], tuple(range(s.ndim - rtol.ndim - 1)))
    cutoff = rtol * s[..., 0:1]
    s = fnp.where(s > cutoff, s, np.inf).astype(u.dtype)
    res = fnp.matmul(matrix_transpose(vh), matrix_transpose(u) / s[..., None],
                     precision=lax.Precision.HIGHEST)
    return lax.convert_element_type(res, a.dtype)


_pinv = custom_jvp(_pinv, nondiff_argnums=(1, 2))


@_pinv.defjvp
def _pinv_jvp(rtol, hermitian, primals, tangents):
    (a,), (a_dot,) = primals, tangents
    p = _pinv(a, rtol, hermitian)
    if hermitian:
        a, a_dot = lax_linalg.symmetrize(a), lax_linalg.symmetrize(a_dot)
    def mm(x, y):                    # JAX's jvp runs at float32 matmul precision
        return fnp.matmul(x, y, precision=lax.Precision.HIGHEST)
    m, n = a.shape[-2:]
    if m >= n:
        s = mm(mm(p, _H(p)), _H(a_dot))
        t = mm(mm(_H(a_dot), _H(p)), p)
        p_dot = mm(-mm(p, a_dot), p) + s - mm(mm(s, a), p) + t - mm(mm(p, a), t)
    else:
        s = mm(p, mm(_H(p), _H(a_dot)))
        t = mm(_H(a_dot), mm(_H(p), p))
        p_dot = mm(-p, mm(a_dot, p)) + s - mm(s, mm(a, p)) + t - mm(p, mm(a, t))
    return p, p_dot


def pinv(a, rtol=None, hermitian: bool = False, *, rcond=None):
    """Moore-Penrose pseudo-inverse of ``a [..., m, n]`` (``[..., n, m]``).

    Args:
      a: the matrices.
      rtol: singular values below ``rtol * max(S)`` are dropped; default
        ``10 * max(m, n) * eps``.
      hermitian: ``a`` is Hermitian.
      rcond: alias of ``rtol``.

    Returns:
      The pseudo-inverse; its derivative is Golub and Pereyra's formula.

    Example:
      >>> pinv(fx.numpy.array([[1., 0.], [0., 0.]]))   # [[1., 0.], [0., 0.]]
    """
    if rcond is not None:
        if rtol is not None:
            raise ValueError("linalg.pinv: only one of rtol and rcond may be specified")
        rtol = rcond
    a = _inexact("linalg.pinv", a)
    _matrices("linalg.pinv", a)
    return _pinv(a, rtol, bool(hermitian))


def lstsq(a, b, rcond=None, *, numpy_resid: bool = False):
    """Least-squares solution of ``a @ x ~= b`` through the SVD.

    Args:
      a: ``[m, n]``.
      b: ``[m]`` or ``[m, k]``.
      rcond: relative cutoff for small singular values (default ``eps * max(m, n)``).
      numpy_resid: return empty residuals where NumPy does (not traceable).

    Returns:
      ``(x, residuals, rank, s)``.

    Example:
      >>> x, res, rank, s = lstsq(fx.numpy.ones((3, 2)), fx.numpy.ones(3))
    """
    _check_arraylike("linalg.lstsq", a, b)
    a, b = fnp.asarray(a), fnp.asarray(b)
    if a.ndim != 2:
        raise TypeError(f"linalg.lstsq: a must be two-dimensional, got shape {a.shape}")
    if b.ndim not in (1, 2):
        raise TypeError(f"linalg.lstsq: b must be one- or two-dimensional, got shape "
                        f"{b.shape}")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"linalg.lstsq: leading dimensions of a {a.shape} and b {b.shape} "
                         "must match")
    if numpy_resid:
        return _lstsq_body(a, b, rcond, numpy_resid=True)
    return _lstsq(a, b, rcond)


@library_jit(name="_lstsq")
def _lstsq(a, b, rcond):
    return _lstsq_body(a, b, rcond, numpy_resid=False)


def _lstsq_body(a, b, rcond, numpy_resid: bool):
    """``lstsq`` after the argument checks, as JAX computes it (promotion first)."""
    a, b = _inexact("linalg.lstsq", a, b)
    vector = b.ndim == 1
    if vector:
        b = b[:, None]
    m, n = a.shape
    if a.size == 0:
        s = fnp.zeros((0,), dtypes.finfo(a.dtype).dtype)
        rank = fnp.asarray(0, dtypes.default_int_dtype())
        x = fnp.zeros((n,) + b.shape[1:], a.dtype)
    else:
        eps = float(np.finfo(a.dtype).eps)
        cutoff = eps * max(m, n) if rcond is None else fnp.where(
            fnp.asarray(rcond) < 0, eps, rcond)
        u, s, vt = svd(a, full_matrices=False)
        mask = (s > 0) & (s >= fnp.asarray(cutoff, s.dtype) * s[0])
        rank = fnp.sum(mask).astype(dtypes.default_int_dtype())
        safe_s = fnp.where(mask, s, 1).astype(a.dtype)
        s_inv = fnp.where(mask, 1 / safe_s, 0)[:, None]
        highest = lax.Precision.HIGHEST
        u_t_b = fnp.matmul(_H(u), b, precision=highest)
        x = fnp.matmul(_H(vt), s_inv * u_t_b, precision=highest)
    if numpy_resid and (int(rank) < n or m <= n):
        resid = fnp.asarray(np.zeros((0,), dtypes.finfo(a.dtype).dtype))
    else:
        resid = norm(b - fnp.matmul(a, x, precision=lax.Precision.HIGHEST), axis=0) ** 2
    if vector:
        x = x.ravel()
    return x, resid, rank, s


