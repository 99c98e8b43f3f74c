"""Tests of the linear-algebra primitives (primitives/linalg_decomp.py,
primitives/linalg_spectral.py) through ``fx.lax.linalg``.

Oracles: NumPy/SciPy (LAPACK) for values and reconstruction identities, finite
differences for derivatives (``fx.test_util.check_grads``, float64, orders 1-2;
eigen- and singular values kept distinct), a Python loop over the batch for
vmap, eager for jit, and ``jax.lax.linalg`` (values, cotangents, printed
equations) where JAX is installed.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg as sla
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
from fx import _testing
import fx.numpy as fnp
from fx.lax import linalg as lax_linalg
from fx.test_util import check_grads
from primitives.linalg_decomp import cholesky_p, lu_p, triangular_solve_p

RNG = np.random.RandomState(0)


def rand(shape, dtype=np.float64, rng=RNG):
    return _testing.rand(shape, dtype, rng)


def spd(n, batch=(), dtype=np.float64, rng=RNG):
    """Well-conditioned Hermitian positive-definite matrices."""
    a = rand(batch + (n, n), dtype, rng)
    return (a @ np.conj(np.swapaxes(a, -1, -2)) + n * np.eye(n)).astype(dtype)


def hermitian(n, batch=(), dtype=np.float64, rng=RNG):
    """Hermitian matrices with well-separated eigenvalues."""
    q, _ = np.linalg.qr(rand(batch + (n, n), dtype, rng))
    w = np.arange(1, n + 1) * 1.5 - n
    return (q * w[..., None, :]) @ np.conj(np.swapaxes(q, -1, -2))


def H(x):
    return np.conj(np.swapaxes(x, -1, -2))


def sym(x):
    """The Hermitian part of an fx array of matrices."""
    return (x + fnp.conj(fnp.swapaxes(x, -1, -2))) / 2


def tol(dtype):
    return 2e-5 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-10


DTYPES = [np.float32, np.float64, np.complex64, np.complex128]

# ---------------------------------------------------------------------------
# cholesky


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [(), (3,), (2, 2)])
def test_cholesky_matches_numpy(dtype, batch, x64):
    a = spd(4, batch, dtype)
    chol = lax_linalg.cholesky(fnp.asarray(a))
    assert chol.dtype == dtype and chol.shape == a.shape
    np.testing.assert_allclose(np.asarray(chol), np.linalg.cholesky(a), rtol=tol(dtype) * 10,
                               atol=tol(dtype) * 10)
    c = np.asarray(chol)
    np.testing.assert_allclose(c @ H(c), a, rtol=tol(dtype) * 10, atol=tol(dtype) * 100)
    assert np.all(np.triu(c, 1) == 0)


def test_cholesky_reads_only_the_lower_triangle_and_nans_on_failure(x64):
    a = spd(3)
    garbage = a + np.triu(np.full((3, 3), 100.0), 1)
    out = lax_linalg.cholesky(fnp.asarray(garbage), symmetrize_input=False)
    np.testing.assert_allclose(np.asarray(out), np.linalg.cholesky(a), rtol=1e-12)
    batch = np.stack([a, -a, a])
    out = np.asarray(lax_linalg.cholesky(fnp.asarray(batch)))
    assert np.isnan(out[1][np.tril_indices(3)]).all() and np.isfinite(out[[0, 2]]).all()


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_cholesky_grads(dtype, x64):
    a = fnp.asarray(spd(3, dtype=dtype))
    check_grads(lambda x: lax_linalg.cholesky(x), (a,), order=2 if dtype == np.float64 else 1)
    # without symmetrization the derivative is the one along Hermitian perturbations (JAX's)
    check_grads(lambda x: lax_linalg.cholesky(sym(x), symmetrize_input=False), (a,), order=1)


# ---------------------------------------------------------------------------
# triangular_solve


def ref_triangular_solve(a, b, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    tri = np.tril(a) if lower else np.triu(a)
    if unit_diagonal:
        tri = tri - np.diag(np.diag(tri)) + np.eye(a.shape[-1])
    if transpose_a:
        tri = tri.T
    if conjugate_a:
        tri = np.conj(tri)
    return np.linalg.solve(tri, b) if left_side else np.linalg.solve(tri.T, b.T).T


FLAGS = list(itertools.product([False, True], repeat=5))


@pytest.mark.parametrize("flags", FLAGS)
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_triangular_solve_all_flag_combinations(flags, dtype, x64):
    left_side, lower, transpose_a, conjugate_a, unit_diagonal = flags
    a = rand((4, 4), dtype) + 4 * np.eye(4)
    b = rand((4, 3) if left_side else (3, 4), dtype)
    out = lax_linalg.triangular_solve(fnp.asarray(a), fnp.asarray(b), left_side=left_side,
                                      lower=lower, transpose_a=transpose_a,
                                      conjugate_a=conjugate_a, unit_diagonal=unit_diagonal)
    expected = ref_triangular_solve(a, b, *flags)
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("flags", FLAGS[::3])
def test_triangular_solve_grads(flags, x64):
    left_side, lower, transpose_a, conjugate_a, unit_diagonal = flags
    a = fnp.asarray(rand((3, 3)) + 3 * np.eye(3))
    b = fnp.asarray(rand((3, 2) if left_side else (2, 3)))

    def f(a, b):
        return lax_linalg.triangular_solve(a, b, left_side=left_side, lower=lower,
                                           transpose_a=transpose_a, conjugate_a=conjugate_a,
                                           unit_diagonal=unit_diagonal)

    check_grads(f, (a, b), order=2)


def test_triangular_solve_complex_grads_and_vectors(x64):
    a = fnp.asarray(rand((3, 3), np.complex128) + 3 * np.eye(3))
    b = fnp.asarray(rand((3,), np.complex128))

    def f(a, b):  # a batch of one vector: b has one dimension fewer than a
        return lax_linalg.triangular_solve(a, b, left_side=True, lower=True,
                                           transpose_a=True, conjugate_a=True)

    out = f(a, b)
    assert out.shape == (3,)
    np.testing.assert_allclose(np.asarray(out), ref_triangular_solve(
        np.asarray(a), np.asarray(b), True, True, True, True, False), rtol=1e-10)
    check_grads(f, (a, b), order=1)


def test_triangular_solve_is_linear_in_b_with_the_right_transpose(x64):
    a = fnp.asarray(rand((4, 4)) + 4 * np.eye(4))
    for flags in FLAGS:
        params = dict(zip(("left_side", "lower", "transpose_a", "conjugate_a",
                           "unit_diagonal"), flags, strict=True))
        shape = (4, 2) if params["left_side"] else (2, 4)

        def f(b, params=params):
            return lax_linalg.triangular_solve(a, b, **params)

        ct = rand(shape)
        transpose = fx.linear_transpose(f, fx.ShapeDtypeStruct(shape, np.float64))
        (got,) = transpose(fnp.asarray(ct))
        # <f(e_i), ct> for every basis vector e_i
        basis = np.eye(int(np.prod(shape))).reshape((-1,) + shape)
        expected = np.array([np.sum(np.asarray(f(fnp.asarray(e))) * ct) for e in basis])
        np.testing.assert_allclose(np.asarray(got).ravel(), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("in_axes", [(0, 0), (None, 0), (0, None), (2, 1), (None, 2)])
@pytest.mark.parametrize("left_side", [False, True])
def test_triangular_solve_vmap(in_axes, left_side, harness, x64):
    a = np.moveaxis(rand((3, 4, 4)) + 4 * np.eye(4), 0, in_axes[0] or 0)
    if in_axes[0] is None:
        a = a[0]
    b_shape = (4, 2) if left_side else (2, 4)
    b = rand((3,) + b_shape)
    b = b[0] if in_axes[1] is None else np.moveaxis(b, 0, in_axes[1])

    def f(a, b):
        return lax_linalg.triangular_solve(a, b, left_side=left_side, lower=True)

    harness.check_vmap(f, [a, b], in_axes, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------
# lu and lu_pivots_to_permutation


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 3, 3), (0, 0), (3, 0)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_lu_reconstructs_and_matches_lapack(shape, dtype, x64):
    a = rand(shape, dtype)
    lu, pivots, perm = lax_linalg.lu(fnp.asarray(a))
    m, n = shape[-2:]
    k = min(m, n)
    assert lu.dtype == dtype and pivots.dtype == np.int32 and perm.dtype == np.int32
    assert pivots.shape == shape[:-2] + (k,) and perm.shape == shape[:-2] + (m,)
    lu, pivots, perm = map(np.asarray, (lu, pivots, perm))
    for idx in np.ndindex(*shape[:-2]):
        l_mat = np.tril(lu[idx], -1)[:, :k] + np.eye(m, k)
        u_mat = np.triu(lu[idx])[:k, :]
        np.testing.assert_allclose(a[idx][perm[idx]], l_mat @ u_mat, rtol=tol(dtype) * 10,
                                   atol=tol(dtype) * 10)
        if m and n:
            ref_lu, ref_piv = sla.lu_factor(a[idx]) if m == n else (None, None)
            if ref_lu is not None:
                np.testing.assert_allclose(lu[idx], ref_lu, rtol=tol(dtype) * 10,
                                           atol=tol(dtype) * 10)
                np.testing.assert_array_equal(pivots[idx], ref_piv)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_lu_grads(shape, x64):
    a = fnp.asarray(rand(shape) + np.eye(*shape) * 3)
    check_grads(lambda x: lax_linalg.lu(x)[0], (a,), order=2)


def test_lu_of_singular_matrix_still_factors(x64):
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    lu, _, perm = map(np.asarray, lax_linalg.lu(fnp.asarray(a)))
    l_mat, u_mat = np.tril(lu, -1) + np.eye(2), np.triu(lu)
    np.testing.assert_allclose(a[perm], l_mat @ u_mat)


@pytest.mark.parametrize("shape", [(12, 4, 4), (3, 4, 5, 3), (10, 3, 5)])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_lu_of_many_small_matrices_matches_lapack(shape, dtype, x64):
    """Large batches of small matrices take a vectorized path: same factors and pivots."""
    a = rand(shape, dtype)
    a[0, ..., 0] = 0.0          # a zero pivot column (singular) ...
    a[1] = np.round(a[1])       # ... and ties in the pivot search
    lu, pivots, perm = map(np.asarray, lax_linalg.lu(fnp.asarray(a)))
    getrf = sla.lapack.get_lapack_funcs("getrf", (a,))
    for idx in np.ndindex(*shape[:-2]):
        ref_lu, ref_piv, _ = getrf(a[idx])
        np.testing.assert_allclose(lu[idx], ref_lu, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(pivots[idx], ref_piv)


@pytest.mark.parametrize("flags", FLAGS)
def test_triangular_solve_of_many_small_matrices(flags, x64):
    left_side, lower, transpose_a, conjugate_a, unit_diagonal = flags
    a = rand((10, 4, 4), np.complex128) + 4 * np.eye(4)
    b = rand((10, 4, 2) if left_side else (10, 2, 4), np.complex128)
    out = np.asarray(lax_linalg.triangular_solve(
        fnp.asarray(a), fnp.asarray(b), left_side=left_side, lower=lower,
        transpose_a=transpose_a, conjugate_a=conjugate_a, unit_diagonal=unit_diagonal))
    for i in range(10):
        np.testing.assert_allclose(out[i], ref_triangular_solve(a[i], b[i], *flags),
                                   rtol=1e-10, atol=1e-12)


@given(st.integers(1, 6), st.integers(0, 4), st.data())
@settings(max_examples=25, deadline=None)
def test_lu_pivots_to_permutation_matches_a_loop(size, k, data):
    k = min(k, size)
    pivots = np.array([data.draw(st.integers(i, size - 1)) for i in range(k)], np.int32)
    out = np.asarray(lax_linalg.lu_pivots_to_permutation(fnp.asarray(pivots), size))
    perm = list(range(size))
    for i, j in enumerate(pivots):
        perm[i], perm[j] = perm[j], perm[i]
    np.testing.assert_array_equal(out, perm)
    batched = fx.vmap(lambda p: lax_linalg.lu_pivots_to_permutation(p, size))(
        fnp.asarray(np.stack([pivots, pivots])))
    np.testing.assert_array_equal(np.asarray(batched), [perm, perm])


# ---------------------------------------------------------------------------
# qr


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 3)])
@pytest.mark.parametrize("full_matrices", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_qr_values(shape, full_matrices, dtype, x64):
    a = rand(shape, dtype)
    q, r = map(np.asarray, lax_linalg.qr(fnp.asarray(a), full_matrices=full_matrices))
    ref_q, ref_r = np.linalg.qr(a, mode="complete" if full_matrices else "reduced")
    assert q.shape == ref_q.shape and r.shape == ref_r.shape and q.dtype == dtype
    t = tol(dtype) * 10
    np.testing.assert_allclose(q, ref_q, rtol=t, atol=t)
    np.testing.assert_allclose(r, ref_r, rtol=t, atol=t)
    np.testing.assert_allclose(q @ r, a, rtol=t, atol=t)
    np.testing.assert_allclose(H(q) @ q, np.broadcast_to(np.eye(q.shape[-1]), H(q).shape[:-1]
                                                        + (q.shape[-1],)), atol=t)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
@pytest.mark.parametrize("full_matrices", [False, True])
def test_qr_grads(shape, full_matrices, x64):
    a = fnp.asarray(rand(shape))
    check_grads(lambda x: lax_linalg.qr(x, full_matrices=full_matrices), (a,), order=2)


def test_qr_complex_grads_and_pivoting(x64):
    a = fnp.asarray(rand((4, 3), np.complex128))
    check_grads(lambda x: lax_linalg.qr(x, full_matrices=False), (a,), order=1)
    b = rand((4, 5))
    q, r, p = map(np.asarray, lax_linalg.qr(fnp.asarray(b), pivoting=True))
    assert p.dtype == np.int32
    np.testing.assert_allclose(q @ r, b[:, p], atol=1e-12)
    assert np.all(np.diff(np.abs(np.diag(r))) <= 1e-12)   # rank revealing
    check_grads(lambda x: lax_linalg.qr(x, pivoting=True)[:2], (fnp.asarray(b),), order=1)


# ---------------------------------------------------------------------------
# eigh


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [(), (3,)])
def test_eigh_values(dtype, batch, x64):
    a = hermitian(4, batch, dtype).astype(dtype)
    v, w = map(np.asarray, lax_linalg.eigh(fnp.asarray(a)))
    assert w.dtype == np.finfo(dtype).dtype and v.dtype == dtype
    t = tol(dtype) * 100
    np.testing.assert_allclose(w, np.linalg.eigvalsh(a), rtol=t, atol=t)
    np.testing.assert_allclose((v * w[..., None, :]) @ H(v), a, atol=t)


def test_eigh_triangle_and_subset(x64):
    a = hermitian(4)
    upper_only = np.triu(a) + np.tril(np.full((4, 4), 50.0), -1)
    _, w = lax_linalg.eigh(fnp.asarray(upper_only), lower=False, symmetrize_input=False)
    np.testing.assert_allclose(np.asarray(w), np.linalg.eigvalsh(a), rtol=1e-12)
    v, w = lax_linalg.eigh(fnp.asarray(a), subset_by_index=(1, 3))
    assert v.shape == (4, 2) and w.shape == (2,)
    np.testing.assert_allclose(np.asarray(w), np.linalg.eigvalsh(a)[1:3], rtol=1e-12)
    with pytest.raises(NotImplementedError, match="partial"):
        fx.grad(lambda x: lax_linalg.eigh(x, subset_by_index=(1, 3))[1].sum())(fnp.asarray(a))


def _sign_free(v):
    """Products of eigenvector entries that do not depend on each vector's phase."""
    return fnp.einsum("...ik,...jk->...kij", v, fnp.conj(v))


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_eigh_grads(dtype, x64):
    a = fnp.asarray(hermitian(3, dtype=dtype))
    order = 2 if dtype == np.float64 else 1
    check_grads(lambda x: lax_linalg.eigh(x)[1], (a,), order=order)
    check_grads(lambda x: _sign_free(lax_linalg.eigh(x)[0]), (a,), order=order)
    # along Hermitian perturbations the derivative does not depend on symmetrization
    check_grads(lambda x: lax_linalg.eigh(sym(x), symmetrize_input=False)[1], (a,), order=1)


# ---------------------------------------------------------------------------
# svd


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 3)])
@pytest.mark.parametrize("full_matrices", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_svd_values(shape, full_matrices, dtype, x64):
    a = rand(shape, dtype)
    u, s, vh = map(np.asarray, lax_linalg.svd(fnp.asarray(a), full_matrices=full_matrices))
    ref_u, ref_s, ref_vh = np.linalg.svd(a, full_matrices=full_matrices)
    assert (u.shape, s.shape, vh.shape) == (ref_u.shape, ref_s.shape, ref_vh.shape)
    assert s.dtype == np.finfo(dtype).dtype and u.dtype == dtype
    t = tol(dtype) * 10
    np.testing.assert_allclose(s, ref_s, rtol=t, atol=t)
    k = s.shape[-1]
    np.testing.assert_allclose((u[..., :k] * s[..., None, :]) @ vh[..., :k, :], a, atol=t)
    only_s = lax_linalg.svd(fnp.asarray(a), compute_uv=False)
    np.testing.assert_allclose(np.asarray(only_s), ref_s, rtol=t, atol=t)


def _outer_products(u, vh):
    """u_k vh_k for each k: invariant to the phase of each singular pair."""
    return fnp.einsum("...ik,...kj->...kij", u, vh)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_svd_grads(shape, x64):
    a = fnp.asarray(rand(shape))
    check_grads(lambda x: lax_linalg.svd(x, compute_uv=False), (a,), order=2)

    def pairs(x):
        u, s, vh = lax_linalg.svd(x, full_matrices=False)
        return s, _outer_products(u, vh)

    check_grads(pairs, (a,), order=2)


def test_svd_complex_grads_and_full_matrices_errors(x64):
    a = fnp.asarray(rand((3, 4), np.complex128))

    def pairs(x):
        u, s, vh = lax_linalg.svd(x, full_matrices=False)
        return s, _outer_products(u, vh)

    check_grads(pairs, (a,), order=1)
    with pytest.raises(NotImplementedError, match="full_matrices"):
        fx.jvp(lambda x: lax_linalg.svd(x)[0], (a,), (a,))
    sq = fnp.asarray(rand((3, 3)))   # square: full and reduced coincide
    check_grads(lambda x: lax_linalg.svd(x)[1], (sq,), order=1)


# ---------------------------------------------------------------------------
# eig


def test_eig_values_and_vectors(x64):
    a = rand((2, 4, 4))
    w, vl, vr = map(np.asarray, lax_linalg.eig(fnp.asarray(a)))
    assert w.dtype == np.complex128 and vl.shape == vr.shape == (2, 4, 4)
    for i in range(2):
        ref_w, ref_vl, ref_vr = sla.eig(a[i], left=True, right=True)
        np.testing.assert_allclose(w[i], ref_w, rtol=1e-10)
        np.testing.assert_allclose(a[i] @ vr[i], vr[i] * w[i], atol=1e-10)
        np.testing.assert_allclose(H(vl[i]) @ a[i], w[i][:, None] * H(vl[i]), atol=1e-10)
    (w32,) = lax_linalg.eig(fnp.asarray(a[0].astype(np.float32)),
                            compute_left_eigenvectors=False, compute_right_eigenvectors=False)
    assert w32.dtype == np.complex64


def test_eig_grads(x64):
    # its own random state: the shared one's draws depend on which tests ran first in
    # this worker, and eigenvector derivatives of an unlucky draw defeat finite differences
    a = fnp.asarray(rand((3, 3), rng=np.random.RandomState(3)) + np.diag([0.0, 3.0, 6.0]))
    check_grads(lambda x: lax_linalg.eig(x, compute_left_eigenvectors=False,
                                         compute_right_eigenvectors=False)[0], (a,), order=2)
    with pytest.raises(NotImplementedError, match="enable_eigvec_derivs"):
        fx.jvp(lambda x: lax_linalg.eig(x)[1], (a,), (a,))
    check_grads(lambda x: lax_linalg.eig(x, enable_eigvec_derivs=True), (a,), order=1)


# ---------------------------------------------------------------------------
# tridiagonal_solve


def dense_tridiagonal(dl, d, du):
    n = d.shape[-1]
    return np.diag(d) + np.diag(dl[1:], -1) + np.diag(du[:n - 1], 1)


def test_tridiagonal_solve(harness, x64):
    n = 5
    dl, du = rand((n,)), rand((n,))
    d = rand((n,)) + 4
    dl[0], du[-1] = 0.0, 0.0
    b = rand((n, 2))
    args = [fnp.asarray(v) for v in (dl, d, du, b)]
    out = lax_linalg.tridiagonal_solve(*args)
    np.testing.assert_allclose(np.asarray(out), np.linalg.solve(dense_tridiagonal(dl, d, du),
                                                                b), rtol=1e-10)
    check_grads(lambda *xs: lax_linalg.tridiagonal_solve(*xs), args, order=2)
    batch = [np.stack([v, v * 1.1]) for v in (dl, d + 1, du, b)]
    harness.check_vmap(lambda *xs: lax_linalg.tridiagonal_solve(*xs), batch, (0, 0, 0, 0),
                       rtol=1e-10)
    harness.check_vmap(lambda bb: lax_linalg.tridiagonal_solve(*args[:3], bb), [batch[3]],
                       (0,), rtol=1e-10)


# ---------------------------------------------------------------------------
# vmap and jit of every primitive


CASES = {
    "cholesky": (lambda a: lax_linalg.cholesky(a), lambda: spd(3, (3,))),
    "lu": (lambda a: lax_linalg.lu(a), lambda: rand((3, 4, 3))),
    "qr": (lambda a: lax_linalg.qr(a, full_matrices=False), lambda: rand((3, 4, 3))),
    "eigh": (lambda a: lax_linalg.eigh(a)[1], lambda: hermitian(3, (3,))),
    "svd": (lambda a: lax_linalg.svd(a, compute_uv=False), lambda: rand((3, 3, 4))),
    "eig": (lambda a: lax_linalg.eig(a, compute_left_eigenvectors=False,
                                     compute_right_eigenvectors=False)[0],
            lambda: rand((3, 3, 3))),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_vmap_over_any_axis(name, axis, harness, x64):
    fn, make = CASES[name]
    harness.check_vmap(fn, [np.moveaxis(make(), 0, axis)], (axis,), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_jit_matches_eager(name, harness, x64):
    fn, make = CASES[name]
    harness.check_jit(fn, [make()], rtol=1e-12, atol=1e-12)


def test_nested_vmap_and_grad_of_vmap(x64):
    a = spd(3, (2, 2))
    out = fx.vmap(fx.vmap(lambda m: lax_linalg.cholesky(m)))(fnp.asarray(a))
    np.testing.assert_allclose(np.asarray(out), np.linalg.cholesky(a), rtol=1e-12)
    g = fx.grad(lambda m: fx.vmap(lambda x: lax_linalg.eigh(x)[1])(m).sum())(
        fnp.asarray(hermitian(3, (2,))))
    # d(sum of eigenvalues)/dA = d trace(A)/dA = I
    np.testing.assert_allclose(np.asarray(g), np.broadcast_to(np.eye(3), (2, 3, 3)),
                               atol=1e-12)


# ---------------------------------------------------------------------------
# errors


def test_bad_inputs_raise_clear_errors():
    square = fnp.ones((3, 3))
    with pytest.raises(ValueError, match="square"):
        lax_linalg.cholesky(fnp.ones((3, 4)))
    with pytest.raises(TypeError, match="rank at least 2"):
        lax_linalg.lu(fnp.ones(3))
    with pytest.raises(TypeError, match="int32"):
        lax_linalg.qr(fnp.ones((3, 3), dtype=np.int32))
    with pytest.raises(TypeError, match="same dtype"):
        lax_linalg.triangular_solve(square, fnp.ones((3, 3), dtype=np.complex64))
    with pytest.raises(ValueError, match="incompatible shapes"):
        lax_linalg.triangular_solve(square, fnp.ones((3, 2)), left_side=False)
    with pytest.raises(ValueError, match="batch dimensions"):
        lax_linalg.triangular_solve(fnp.ones((2, 3, 3)), fnp.ones((4, 3, 3)))
    with pytest.raises(ValueError, match="subset_by_index"):
        lax_linalg.eigh(square, subset_by_index=(2, 5))
    with pytest.raises(TypeError, match="convert it with fx.numpy.asarray"):
        lax_linalg.svd([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match="permutation_size"):
        lax_linalg.lu_pivots_to_permutation(fnp.zeros(4, dtype=np.int32), 2)
    with pytest.raises(TypeError, match="bool"):
        lax_linalg.qr(square, full_matrices="yes")


# ---------------------------------------------------------------------------
# JAX as an oracle


@pytest.mark.jax
def test_printed_equations_match_jax(jax):
    jl = jax.lax.linalg
    a = np.eye(3, dtype=np.float32) * 2
    b = np.ones((3, 2), np.float32)
    pairs = [
        ("triangular_solve", lambda m, lib: lib.triangular_solve(m, b, left_side=True,
                                                                 lower=True)),
        ("lu", lambda m, lib: lib.lu(m)),
        ("qr", lambda m, lib: lib.qr(m)),
        ("eigh", lambda m, lib: lib.eigh(m)),
        ("svd", lambda m, lib: lib.svd(m)),
        ("eig", lambda m, lib: lib.eig(m)),
        ("cholesky", lambda m, lib: lib.cholesky(m)),
    ]
    for name, fn in pairs:
        ours = fx.make_jaxpr(lambda m, fn=fn: fn(m, lax_linalg))(a)
        theirs = jax.make_jaxpr(lambda m, fn=fn: fn(m, jl))(a)
        assert _equation_head(ours, name) == _equation_head(theirs, name)


def _equation_head(jaxpr, name):
    """``name[params]`` of the first equation of primitive ``name``, layout removed."""
    flat = " ".join(str(jaxpr).split()).replace("[ ", "[").replace(" ]", "]")
    rest = flat[flat.index(f"= {name}") + 2:]
    return rest[:rest.index("]") + 1] if rest.startswith(name + "[") else name


@pytest.mark.jax
def test_cotangents_match_jax(jax):
    jax.config.update("jax_enable_x64", True)
    try:
        jl = jax.lax.linalg
        a = spd(3)
        h = hermitian(3)
        g = rand((4, 3))
        ct = rand((3, 3))
        cases = [
            (lambda m, lib: lib.cholesky(m), a, ct),
            (lambda m, lib: lib.eigh(m)[1], h, rand((3,))),
            (lambda m, lib: lib.svd(m, compute_uv=False), g, rand((3,))),
            (lambda m, lib: lib.qr(m, full_matrices=False)[1], g, rand((3, 3))),
            (lambda m, lib: lib.lu(m)[0], a, ct),
            (lambda m, lib: lib.triangular_solve(m, g, left_side=False, lower=True), a,
             rand((4, 3))),
        ]
        with fx.enable_x64():
            for fn, x, c in cases:
                _, pull = fx.vjp(lambda m, fn=fn: fn(m, lax_linalg), fnp.asarray(x))

                @jax.jit
                def jax_cotangent(m, c, fn=fn):
                    return jax.vjp(lambda v: fn(v, jl), m)[1](c)[0]

                np.testing.assert_allclose(np.asarray(pull(fnp.asarray(c))[0]),
                                           np.asarray(jax_cotangent(x, c)),
                                           rtol=1e-8, atol=1e-10)
    finally:
        jax.config.update("jax_enable_x64", False)


def test_primitives_are_registered_with_every_rule():
    for prim in (cholesky_p, lu_p, triangular_solve_p):
        assert prim.jvp is not None and prim.batch is not None
    assert triangular_solve_p.transpose is not None
