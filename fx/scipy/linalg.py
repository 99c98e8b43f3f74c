"""``fx.scipy.linalg``: JAX's ``jax.scipy.linalg`` — SciPy's linear-algebra interface
(cholesky, cho_factor/cho_solve, solve_triangular, lu/lu_factor/lu_solve, qr,
qr_multiply, svd, eigh, eigh_tridiagonal, expm, expm_frechet, inv, det, solve,
block_diag) over fx's primitives; special matrices, condensed forms, matrix
functions and the Sylvester solver come from ``fx/scipy/_linalg_more.py``.

Invariants: inputs are promoted to an inexact dtype first; SciPy-only arguments
(``overwrite_*``, ``check_finite``, ``lwork``, ``lapack_driver``) are accepted
and ignored, as in JAX. ``expm`` is Higham's scaling and squaring with Padé
approximants; its derivative comes from differentiating that algorithm.
"""
from __future__ import annotations

from typing import Any

import numpy as np

import fx.numpy as fnp
from fx import lax
from fx.core import get_aval
from fx.custom_derivatives import custom_jvp
from fx.lax import linalg as lax_linalg
from fx.numpy import linalg as np_linalg
from fx.numpy._linalg_norms import _H, _check_arraylike, _inexact, _matrices, _square
from primitives import linalg_decomp as _D

__all__ = ["block_diag", "cho_factor", "cho_solve", "cholesky", "det", "eigh",
           "eigh_tridiagonal", "expm", "expm_frechet", "inv", "lu", "lu_factor", "lu_solve", "qr",
           "qr_multiply", "solve", "solve_triangular", "svd"]


def _flag(name: str, value, what: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"scipy.linalg.{name}: {what} must be a bool, got {value!r}")
    return bool(value)


# ---------------------------------------------------------------------------
# Cholesky


def cholesky(a, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """Cholesky factor of a Hermitian positive-definite matrix, reading one triangle.

    Args:
      a: ``[..., n, n]``.
      lower: return ``L`` (``a == L @ L^H``, lower triangle read) instead of the upper
        factor ``U`` (``a == U^H @ U``, upper triangle read).
      overwrite_a, check_finite: ignored.

    Returns:
      The triangular factor (NaNs if ``a`` is not positive definite).

    Example:
      >>> cholesky(fx.numpy.array([[4., 2.], [2., 3.]]))   # upper: [[2, 1], [0, 1.414]]
    """
    a = _inexact("scipy.linalg.cholesky", a)
    _square("scipy.linalg.cholesky", a)
    lower = _flag("cholesky", lower, "lower")
    factor = lax_linalg.cholesky(a if lower else _H(a), symmetrize_input=False)
    return factor if lower else _H(factor)


def cho_factor(a, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """Cholesky factorization for ``cho_solve``: ``(c, lower)``.

    Example:
      >>> c, low = cho_factor(fx.numpy.array([[4., 2.], [2., 3.]]))
    """
    return cholesky(a, lower=lower), bool(lower)


def _cho_solve(c, b, lower: bool):
    vector = b.ndim == c.ndim - 1
    if vector:
        b = b[..., None]
    # c c^H x = b (lower) or c^H c x = b (upper)
    b = lax_linalg.triangular_solve(c, b, left_side=True, lower=lower, transpose_a=not lower,
                                    conjugate_a=not lower)
    b = lax_linalg.triangular_solve(c, b, left_side=True, lower=lower, transpose_a=lower,
                                    conjugate_a=lower)
    return b[..., 0] if vector else b


def _check_rhs(name: str, a, b) -> None:
    sa, sb = get_aval(a).shape, get_aval(b).shape
    n = sa[-1]
    vector = len(sb) == len(sa) - 1
    rows = sb[-1] if vector else (sb[-2] if len(sb) >= 2 else None)
    if len(sb) < 1 or rows != n:
        raise ValueError(f"scipy.linalg.{name}: b of shape {sb} does not match a of shape "
                         f"{sa}; expected b with shape [..., {n}] or [..., {n}, k]")
    batch_b = sb[:-1] if vector else sb[:-2]
    if batch_b != sa[:-2]:
        raise ValueError(f"scipy.linalg.{name}: the batch dimensions of a {sa} and b {sb} "
                         "must agree")


def cho_solve(c_and_lower, b, overwrite_b: bool = False, check_finite: bool = True):
    """Solve ``a @ x == b`` given ``cho_factor(a)``.

    Args:
      c_and_lower: ``(c, lower)`` from ``cho_factor``.
      b: ``[..., n]`` or ``[..., n, k]``.

    Returns:
      ``x`` like ``b``.

    Example:
      >>> cho_solve(cho_factor(fx.numpy.eye(2) * 4), fx.numpy.ones(2))   # [.25, .25]
    """
    if not isinstance(c_and_lower, (tuple, list)) or len(c_and_lower) != 2:
        raise TypeError("scipy.linalg.cho_solve: c_and_lower must be the pair (c, lower) "
                        "returned by cho_factor")
    c, lower = c_and_lower
    c, b = _inexact("scipy.linalg.cho_solve", c, b)
    _square("scipy.linalg.cho_solve", c)
    _check_rhs("cho_solve", c, b)
    return _cho_solve(c, b, bool(lower))


# ---------------------------------------------------------------------------
# triangular and general solves


_TRANS = {0: (False, False), "N": (False, False), 1: (True, False), "T": (True, False),
          2: (True, True), "C": (True, True)}


def solve_triangular(a, b, trans=0, lower: bool = False, unit_diagonal: bool = False,
                     overwrite_b: bool = False, debug: Any = None, check_finite: bool = True):
    """Solve ``op(a) @ x == b`` for triangular ``a``.

    Args:
      a: ``[..., n, n]``; only the triangle given by ``lower`` is read.
      b: ``[..., n]`` or ``[..., n, k]``.
      trans: ``0``/``"N"`` (a), ``1``/``"T"`` (a^T) or ``2``/``"C"`` (a^H).
      lower: ``a`` is lower triangular.
      unit_diagonal: assume ones on the diagonal (not read).

    Returns:
      ``x`` like ``b``.

    Example:
      >>> solve_triangular(fx.numpy.array([[2., 0.], [1., 1.]]), fx.numpy.array([2., 2.]),
      ...                  lower=True)   # [1., 1.]
    """
    if trans not in _TRANS:
        raise ValueError(f"scipy.linalg.solve_triangular: invalid trans {trans!r}; expected "
                         "0, 1, 2, 'N', 'T' or 'C'")
    transpose_a, conjugate_a = _TRANS[trans]
    a, b = _inexact("scipy.linalg.solve_triangular", a, b)
    _square("scipy.linalg.solve_triangular", a)
    _check_rhs("solve_triangular", a, b)
    vector = b.ndim == a.ndim - 1
    if vector:
        b = b[..., None]
    x = lax_linalg.triangular_solve(a, b, left_side=True, lower=_flag(
        "solve_triangular", lower, "lower"), transpose_a=transpose_a, conjugate_a=conjugate_a,
        unit_diagonal=_flag("solve_triangular", unit_diagonal, "unit_diagonal"))
    return x[..., 0] if vector else x


def _pos_solve_value(a, b, lower):
    return cho_solve(cho_factor(a, lower=lower), b)


def _pos_solve_jvp(lower, primals, tangents):
    (a, b), (da, db) = primals, tangents
    factors = cho_factor(a, lower=lower)
    x = cho_solve(factors, b)
    return x, cho_solve(factors, db - fnp.matmul(da, x))


_pos_solve = custom_jvp(_pos_solve_value, nondiff_argnums=(2,))
_pos_solve.defjvp(_pos_solve_jvp)


def solve(a, b, lower: bool = False, overwrite_a: bool = False, overwrite_b: bool = False,
          debug: bool = False, check_finite: bool = True, assume_a: str = "gen"):
    """Solve ``a @ x == b``.

    Args:
      a: ``[..., n, n]``.
      b: ``[..., n]`` or ``[..., n, k]``.
      lower: the triangle read when ``assume_a="pos"``.
      assume_a: ``"gen"``, ``"sym"``, ``"her"`` (LU) or ``"pos"`` (Cholesky).

    Returns:
      ``x`` like ``b``.

    Example:
      >>> solve(fx.numpy.eye(2) * 2, fx.numpy.ones(2), assume_a="pos")   # [.5, .5]
    """
    if assume_a not in ("gen", "sym", "her", "pos"):
        raise ValueError(f"scipy.linalg.solve: assume_a must be one of 'gen', 'sym', 'her', "
                         f"'pos'; got {assume_a!r}")
    if assume_a != "pos":
        return np_linalg.solve(a, b)
    a, b = _inexact("scipy.linalg.solve", a, b)
    _square("scipy.linalg.solve", a)
    _check_rhs("solve", a, b)
    vector = b.ndim == a.ndim - 1
    x = _pos_solve(a, b[..., None] if vector else b, bool(lower))
    return x[..., 0] if vector else x


def inv(a, overwrite_a: bool = False, check_finite: bool = True):
    """The inverse of square matrices (see ``fx.numpy.linalg.inv``).

    Example:
      >>> inv(fx.numpy.eye(2) * 2)   # [[.5, 0], [0, .5]]
    """
    return np_linalg.inv(a)


def det(a, overwrite_a: bool = False, check_finite: bool = True):
    """The determinant of square matrices (see ``fx.numpy.linalg.det``).

    Example:
      >>> det(fx.numpy.array([[1., 2.], [3., 4.]]))   # -2.
    """
    return np_linalg.det(a)


# ---------------------------------------------------------------------------
# LU


def lu(a, permute_l: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """LU decomposition ``a == p @ l @ u`` with partial pivoting.

    Args:
      a: ``[..., m, n]``.
      permute_l: return ``(p @ l, u)`` instead of ``(p, l, u)``.

    Returns:
      ``p [..., m, m]`` (a permutation matrix), ``l [..., m, k]`` (unit lower),
      ``u [..., k, n]`` (upper) with ``k = min(m, n)``.

    Example:
      >>> p, l, u = lu(fx.numpy.array([[1., 2.], [3., 4.]]))
    """
    a = _inexact("scipy.linalg.lu", a)
    _matrices("scipy.linalg.lu", a)
    packed, _, perm = lax_linalg.lu(a)
    m, n = a.shape[-2:]
    k = min(m, n)
    dtype = a.dtype
    p = _D.swap_last(_D.permutation_matrix(perm, dtype))   # p[i, j] = (perm[j] == i)
    l_mat = fnp.tril(packed, -1)[..., :, :k] + fnp.eye(m, k, dtype=dtype)
    u_mat = fnp.triu(packed)[..., :k, :]
    if _flag("lu", permute_l, "permute_l"):
        return fnp.matmul(p, l_mat), u_mat
    return p, l_mat, u_mat


def lu_factor(a, overwrite_a: bool = False, check_finite: bool = True):
    """LU factorization for ``lu_solve``: ``(lu, piv)`` with L and U packed in ``lu`` and
    the row swaps ``piv`` (int32).

    Example:
      >>> lu_, piv = lu_factor(fx.numpy.array([[1., 2.], [3., 4.]]))   # piv == [1, 1]
    """
    a = _inexact("scipy.linalg.lu_factor", a)
    _matrices("scipy.linalg.lu_factor", a)
    packed, pivots, _ = lax_linalg.lu(a)
    return packed, pivots


def lu_solve(lu_and_piv, b, trans: int = 0, overwrite_b: bool = False,
             check_finite: bool = True):
    """Solve ``op(a) @ x == b`` given ``lu_factor(a)``.

    Args:
      lu_and_piv: ``(lu, piv)`` from ``lu_factor``.
      b: ``[..., n]`` or ``[..., n, k]``.
      trans: ``0`` (a), ``1`` (a^T) or ``2`` (a^H).

    Returns:
      ``x`` like ``b``.

    Example:
      >>> lu_solve(lu_factor(fx.numpy.eye(2) * 2), fx.numpy.ones(2))   # [.5, .5]
    """
    if not isinstance(lu_and_piv, (tuple, list)) or len(lu_and_piv) != 2:
        raise TypeError("scipy.linalg.lu_solve: lu_and_piv must be the pair (lu, piv) "
                        "returned by lu_factor")
    packed, pivots = lu_and_piv
    if trans not in (0, 1, 2):
        raise ValueError(f"scipy.linalg.lu_solve: trans must be 0, 1 or 2, got {trans!r}")
    _check_arraylike("scipy.linalg.lu_solve", pivots)
    packed, b = _inexact("scipy.linalg.lu_solve", packed, b)
    _square("scipy.linalg.lu_solve", packed)
    _check_rhs("lu_solve", packed, b)
    n = packed.shape[-1]
    perm = lax_linalg.lu_pivots_to_permutation(fnp.asarray(pivots).astype(np.int32), n)
    vector = b.ndim == packed.ndim - 1
    if vector:
        b = b[..., None]
    p = _D.permutation_matrix(perm, packed.dtype)        # P a = L U
    if trans == 0:   # x = U^-1 L^-1 P b
        y = lax_linalg.triangular_solve(packed, fnp.matmul(p, b), left_side=True, lower=True,
                                        unit_diagonal=True)
        x = lax_linalg.triangular_solve(packed, y, left_side=True, lower=False)
    else:            # a^T = U^T L^T P: x = P^T L^-T U^-T b (conjugated for trans=2)
        conj = trans == 2
        y = lax_linalg.triangular_solve(packed, b, left_side=True, lower=False,
                                        transpose_a=True, conjugate_a=conj)
        y = lax_linalg.triangular_solve(packed, y, left_side=True, lower=True,
                                        transpose_a=True, conjugate_a=conj, unit_diagonal=True)
        x = fnp.matmul(_D.swap_last(p), y)
    return x[..., 0] if vector else x


# ---------------------------------------------------------------------------
# QR, SVD, eigh


def qr(a, overwrite_a: bool = False, lwork: Any = None, mode: str = "full",
       pivoting: bool = False, check_finite: bool = True):
    """QR decomposition, SciPy style.

    Args:
      a: ``[..., m, n]``.
      mode: ``"full"`` (square Q), ``"economic"`` (``min(m, n)`` columns) or ``"r"``.
      pivoting: column pivoting; the permutation ``p`` is returned last.

    Returns:
      ``(q, r)``, ``(q, r, p)``, ``(r,)`` or ``(r, p)``.

    Example:
      >>> q, r = qr(fx.numpy.array([[1., 2.], [3., 4.]]))
    """
    if mode in ("full", "r"):
        full = True
    elif mode == "economic":
        full = False
    else:
        raise ValueError(f"scipy.linalg.qr: unsupported mode {mode!r}; expected 'full', "
                         "'economic' or 'r'")
    a = _inexact("scipy.linalg.qr", a)
    _matrices("scipy.linalg.qr", a)
    pivoting = _flag("qr", pivoting, "pivoting")
    outs = lax_linalg.qr(a, pivoting=pivoting, full_matrices=full)
    if mode == "r":
        return (outs[1], outs[2]) if pivoting else (outs[1],)
    return outs


def svd(a, full_matrices: bool = True, compute_uv: bool = True, overwrite_a: bool = False,
        check_finite: bool = True, lapack_driver: str = "gesdd"):
    """Singular value decomposition ``a == u @ diag(s) @ vh`` (see
    ``fx.numpy.linalg.svd``).

    Example:
      >>> u, s, vh = svd(fx.numpy.array([[3., 0.], [0., 4.]]))
    """
    if lapack_driver not in ("gesdd", "gesvd"):
        raise ValueError(f"scipy.linalg.svd: lapack_driver must be 'gesdd' or 'gesvd', got "
                         f"{lapack_driver!r}")
    out = np_linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    return tuple(out) if compute_uv else out


def eigh(a, b=None, lower: bool = True, eigvals_only: bool = False, overwrite_a: bool = False,
         overwrite_b: bool = False, turbo: bool = True, eigvals=None, type: int = 1,
         check_finite: bool = True):
    """Eigenvalues (and vectors) of a Hermitian matrix, reading one triangle.

    Args:
      a: ``[..., n, n]``.
      b: must be None (generalized problems are not supported, as in JAX).
      lower: read the lower triangle.
      eigvals_only: return only the eigenvalues.
      eigvals, type: only the defaults are supported.

    Returns:
      ``w`` or ``(w, v)``, eigenvalues ascending.

    Example:
      >>> w, v = eigh(fx.numpy.array([[2., 1.], [1., 2.]]))   # w == [1., 3.]
    """
    if b is not None:
        raise NotImplementedError("scipy.linalg.eigh: only b=None is supported")
    if type != 1:
        raise NotImplementedError("scipy.linalg.eigh: only type=1 is supported")
    if eigvals is not None:
        raise NotImplementedError("scipy.linalg.eigh: only eigvals=None is supported")
    a = _inexact("scipy.linalg.eigh", a)
    _square("scipy.linalg.eigh", a)
    v, w = lax_linalg.eigh(a, lower=_flag("eigh", lower, "lower"), symmetrize_input=False)
    return w if eigvals_only else (w, v)


# ---------------------------------------------------------------------------
# block_diag


def block_diag(*arrs):
    """A block-diagonal matrix built from 0-, 1- or 2-d arrays.

    Example:
      >>> block_diag(fx.numpy.ones((1, 1)), 2 * fx.numpy.ones((2, 2))).shape   # (3, 3)
    """
    if not arrs:
        arrs = (fnp.zeros((1, 0)),)
    _check_arraylike("scipy.linalg.block_diag", *arrs)
    arrs = fnp._core._promote(*arrs)
    for i, a in enumerate(arrs):
        if a.ndim > 2:
            raise ValueError(f"scipy.linalg.block_diag: arguments must have at most 2 "
                             f"dimensions, got shape {a.shape} at argument {i}")
    mats = [fnp.atleast_2d(a) for a in arrs]
    total = sum(m.shape[1] for m in mats)
    rows, start = [], 0
    for m in mats:
        cols = m.shape[1]
        rows.append(fnp.pad(m, ((0, 0), (start, total - start - cols))))
        start += cols
    return fnp.concatenate(rows, axis=0)


# ---------------------------------------------------------------------------
# expm: scaling and squaring with Padé approximants (Higham, 2005)

_PADE = {
    3: (120., 60., 12., 1.),
    5: (30240., 15120., 3360., 420., 30., 1.),
    7: (17297280., 8648640., 1995840., 277200., 25200., 1512., 56., 1.),
    9: (17643225600., 8821612800., 2075673600., 302702400., 30270240., 2162160., 110880.,
        3960., 90., 1.),
    13: (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
         129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
         40840800., 960960., 16380., 182., 1.),
}
# the 1-norm bounds for which each order is accurate (Higham's theta_m), per precision
_THETAS = {"single": ((3, 5, 7), (4.258730016922831e-01, 1.880152677804762e+00),
                      3.925724783138660),
           "double": ((3, 5, 7, 9, 13), (1.495585217958292e-02, 2.539398330063230e-01,
                                         9.504178996162932e-01, 2.097847961257068e+00),
                      5.371920351148152)}


def _pade(order: int):
    """``A -> (U, V)``: the odd and even parts of the order-``order`` Padé numerator."""
    b = _PADE[order]

    def low(a):
        eye = fnp.eye(a.shape[-1], dtype=a.dtype)
        powers = [eye, fnp.matmul(a, a)]
        for _ in range(2, order // 2 + 1):
            powers.append(fnp.matmul(powers[-1], powers[1]))
        odd = sum(b[2 * k + 1] * powers[k] for k in range(order // 2 + 1))
        even = sum(b[2 * k] * powers[k] for k in range(order // 2 + 1))
        return fnp.matmul(a, odd), even

    def thirteen(a):
        eye = fnp.eye(a.shape[-1], dtype=a.dtype)
        a2 = fnp.matmul(a, a)
        a4 = fnp.matmul(a2, a2)
        a6 = fnp.matmul(a4, a2)
        u = fnp.matmul(a6, b[13] * a6 + b[11] * a4 + b[9] * a2)
        u = fnp.matmul(a, u + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * eye)
        v = fnp.matmul(a6, b[12] * a6 + b[10] * a4 + b[8] * a2)
        v = v + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * eye
        return u, v

    return thirteen if order == 13 else low


def _expm_2d(a, upper_triangular: bool, max_squarings: int):
    precision = "double" if a.dtype in (np.float64, np.complex128) else "single"
    orders, bounds, max_norm = _THETAS[precision]
    norm1 = np_linalg.norm(a, 1)
    safe_norm = fnp.where(norm1 == 0, fnp.ones_like(norm1), norm1)   # log2(0) needs none
    squarings = fnp.maximum(0, fnp.floor(fnp.log2(safe_norm / max_norm)))
    scaled = a / (2 ** squarings).astype(a.dtype)
    index = fnp.sum(norm1 >= fnp.asarray(bounds, norm1.dtype)).astype(np.int32)
    u, v = lax.switch(index, [_pade(m) for m in orders], scaled)
    p, q = u + v, -u + v

    def compute(p, q):
        if upper_triangular:
            r = solve_triangular(q, p)
        else:
            r = np_linalg.solve(q, p)

        def square(carry, i):
            return lax.cond(i < squarings, lambda x: fnp.matmul(x, x), lambda x: x,
                            carry), None

        r, _ = lax.scan(square, r, fnp.arange(max_squarings, dtype=squarings.dtype))
        return r

    def nan(p, q):
        return fnp.full_like(p, np.nan)

    return lax.cond(squarings > max_squarings, nan, compute, p, q)


def expm(A, *, upper_triangular: bool = False, max_squarings: int = 16):
    """The matrix exponential, by scaling and squaring with Padé approximants.

    Args:
      A: ``[..., n, n]`` of dtype float32/64 or complex64/128.
      upper_triangular: ``A`` is upper triangular (a triangular solve is used).
      max_squarings: the most squarings allowed; beyond it the result is NaN.

    Returns:
      ``exp(A)``; differentiable (the algorithm is differentiated).

    Example:
      >>> expm(fx.numpy.zeros((2, 2)))   # the identity
    """
    A = _inexact("scipy.linalg.expm", A)
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"scipy.linalg.expm: expected a (batch of) square matrices, got "
                         f"shape {A.shape}")
    if A.dtype not in (np.float32, np.float64, np.complex64, np.complex128):
        raise TypeError(f"scipy.linalg.expm: dtype {A.dtype.name} is not supported; use "
                        "float32, float64, complex64 or complex128")
    max_squarings = int(max_squarings)
    if A.ndim == 2:
        return _expm_2d(A, bool(upper_triangular), max_squarings)
    import fx
    batch = A.shape[:-2]
    flat = fnp.reshape(A, (-1,) + A.shape[-2:])
    out = fx.vmap(lambda m: _expm_2d(m, bool(upper_triangular), max_squarings))(flat)
    return fnp.reshape(out, batch + A.shape[-2:])


def expm_frechet(A, E, *, method: str | None = None, compute_expm: bool = True):
    """The Fréchet derivative of the matrix exponential at ``A`` in the direction ``E``.

    Args:
      A, E: ``[..., N, N]`` of the same shape.
      method: ignored (as in JAX).
      compute_expm: also return ``expm(A)``.

    Returns:
      ``(expm(A), L(A, E))`` or ``L(A, E)``.

    Example:
      >>> expm_a, deriv = expm_frechet(fx.numpy.zeros((2, 2)), fx.numpy.eye(2))   # deriv == I
    """
    from fx import api
    _check_arraylike("scipy.linalg.expm_frechet", A, E)
    A, E = fnp.asarray(A), fnp.asarray(E)
    for what, x in (("A", A), ("E", E)):
        if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
            raise ValueError(f"scipy.linalg.expm_frechet: expected {what} to be a (batched) "
                             f"square matrix, got {what}.shape={x.shape}")
    if A.shape != E.shape:
        raise ValueError(f"scipy.linalg.expm_frechet: expected A and E to be the same shape, "
                         f"got A.shape={A.shape} E.shape={E.shape}")
    A, E = fnp._core._promote_inexact(A, E)
    value, derivative = api.jvp(lambda x: expm(x), (A,), (E,))
    return (value, derivative) if compute_expm else derivative


def qr_multiply(a, c, mode: str = "right", pivoting: bool = False, conjugate: bool = False,
                overwrite_a: bool = False, overwrite_c: bool = False):
    """QR-decompose ``a`` and multiply its ``Q`` with ``c``.

    Args:
      a: ``[..., M, N]``.
      c: ``[..., K, P]`` for ``mode="left"`` (``K = min(M, N)``), ``[..., P, M]`` for
        ``mode="right"``; a 1-D ``c`` is a column (left) or row (right) and the result is
        raveled.
      mode: ``"left"`` (``Q @ c``) or ``"right"`` (``c @ Q``).
      pivoting: column-pivoted QR; the permutation is returned last.
      conjugate: use ``conj(Q)``.

    Returns:
      ``(Q @ c or c @ Q, R)`` or ``(…, R, P)``; ``R`` is ``[..., K, N]``.

    Example:
      >>> qc, r = qr_multiply(fx.numpy.eye(3, 2), fx.numpy.ones(3))
    """
    _check_arraylike("scipy.linalg.qr_multiply", a, c)
    a, c = _inexact("scipy.linalg.qr_multiply", a, c)
    if mode not in ("right", "left"):
        raise ValueError(f"scipy.linalg.qr_multiply: mode must be 'right' or 'left', got "
                         f"{mode!r}")
    _matrices("scipy.linalg.qr_multiply", a)
    onedim = c.ndim == 1
    if onedim:
        c = c[:, None] if mode == "left" else c[None, :]
    m, n = a.shape[-2:]
    k = min(m, n)
    if mode == "left" and c.shape[-2] != k:
        raise ValueError(f"scipy.linalg.qr_multiply: shapes are not compatible for Q @ c: a "
                         f"has shape {a.shape} so Q has {k} columns, but c has {c.shape[-2]} "
                         f"rows (expected {k})")
    if mode == "right" and c.shape[-1] != m:
        raise ValueError(f"scipy.linalg.qr_multiply: shapes are not compatible for c @ Q: a "
                         f"has shape {a.shape} so Q has {m} rows, but c has {c.shape[-1]} "
                         f"columns (expected {m})")
    batch = fnp.broadcast_shapes(a.shape[:-2], c.shape[:-2])
    a = fnp.broadcast_to(a, batch + a.shape[-2:])
    c = fnp.broadcast_to(c, batch + c.shape[-2:])
    outs = lax_linalg.qr(a, pivoting=bool(pivoting), full_matrices=False)
    q, r = outs[0], outs[1]
    if conjugate:
        q = fnp.conj(q)
    product = q @ c if mode == "left" else c @ q
    if onedim:
        product = fnp.ravel(product)
    return (product, r, outs[2]) if pivoting else (product, r)


def eigh_tridiagonal(d, e, *, eigvals_only: bool = False, select: str = "a",
                     select_range: tuple[float, float] | None = None, tol: float | None = None,
                     key=None):
    """Eigenvalues (and eigenvectors) of the Hermitian tridiagonal matrix with diagonal
    ``d`` and superdiagonal ``e`` (subdiagonal ``conj(e)``).

    Args:
      d: ``[N]``; e: ``[N - 1]``, of the same float32/float64/complex dtype.
      eigvals_only: return only the eigenvalues.
      select: ``"a"`` (all) or ``"i"`` (indices ``select_range[0] <= i <= select_range[1]``).
      select_range: the index range for ``select="i"``.
      tol, key: accepted for JAX compatibility (LAPACK accuracy is used, no random start).

    Returns:
      ``w`` (ascending, real) or ``(w, v)`` with eigenvectors as the columns of ``v``.

    Example:
      >>> eigh_tridiagonal(fx.numpy.array([2., 2.]), fx.numpy.array([1.]), eigvals_only=True)
    """
    _check_arraylike("scipy.linalg.eigh_tridiagonal", d, e)
    d, e = fnp.asarray(d), fnp.asarray(e)
    if d.dtype != e.dtype:
        raise TypeError(f"scipy.linalg.eigh_tridiagonal: diagonal and off-diagonal values "
                        f"must have the same dtype, got {d.dtype} and {e.dtype}")
    if d.dtype not in (np.float32, np.float64, np.complex64, np.complex128):
        raise TypeError(f"scipy.linalg.eigh_tridiagonal: only float32, float64, complex64 and "
                        f"complex128 inputs are supported, got {d.dtype}")
    if d.ndim != 1 or e.ndim != 1 or e.shape[0] != max(d.shape[0] - 1, 0):
        raise ValueError(f"scipy.linalg.eigh_tridiagonal: d must have shape (N,) and e shape "
                         f"(N - 1,), got {d.shape} and {e.shape}")
    n = d.shape[0]
    if select == "a":
        subset = None
    elif select == "i":
        if select_range is None:
            raise ValueError("scipy.linalg.eigh_tridiagonal: for select='i', select_range "
                             "must be specified")
        lo, hi = (int(v) for v in select_range)
        if lo > hi:
            raise ValueError("scipy.linalg.eigh_tridiagonal: got an empty index range in "
                             "select_range")
        subset = (lo, hi + 1)
    elif select == "v":
        raise NotImplementedError("scipy.linalg.eigh_tridiagonal(..., select='v') is not "
                                  "implemented")
    else:
        raise ValueError(f"scipy.linalg.eigh_tridiagonal: select must be one of 'a', 'i', "
                         f"'v'; got {select!r}")
    if n <= 1:
        w = fnp.real(d)
        return w if eigvals_only else (w, fnp.eye(n, dtype=d.dtype))
    matrix = (fnp.diag(fnp.real(d).astype(d.dtype)) + fnp.diag(e, 1)
              + fnp.diag(fnp.conj(e), -1))
    v, w = lax_linalg.eigh(matrix, symmetrize_input=False, subset_by_index=subset)
    return w if eigvals_only else (w, v)


from fx.scipy._linalg_more import *  # noqa: E402,F401,F403  (the rest of the namespace)
from fx.scipy._linalg_more import __all__ as _more_names  # noqa: E402

__all__ = __all__ + list(_more_names)
