"""Tests of the condensed-form and Householder primitives (primitives/linalg_more.py)
through ``fx.lax.linalg``, and of the rest of ``fx.scipy.linalg``
(fx/scipy/_linalg_more.py, plus qr_multiply, expm_frechet, eigh_tridiagonal).

Oracles: SciPy/NumPy (LAPACK) for values and reconstruction identities
(``Q H Q^H = A``, ``Z T Z^H = A``, ``U P = A``, ``sqrtm(A)^2 = A``, ...), finite
differences for derivatives (``fx.test_util.check_grads``, float64), a Python loop
over the batch for vmap, eager for jit, and JAX itself (values, dtypes, printed
equations, errors) where it is installed.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import lapack

import fx
import fx.numpy as fnp
import fx.scipy.linalg as SL
from fx.lax import linalg as L
from fx.test_util import check_grads

DTYPES = [np.float32, np.float64, np.complex64]
BATCHES = [(), (2,), (2, 1)]


def rand(shape, dtype=np.float64, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def tol(dtype):
    return 1e-4 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-10


def close(actual, expected, rtol, atol=None):
    actual = np.asarray(actual)
    assert actual.shape == np.shape(expected), (actual.shape, np.shape(expected))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol if atol is None else atol)


def adj(x):
    return np.conj(np.swapaxes(x, -1, -2))


def geqrf(a):
    """LAPACK's packed QR (reflectors, taus) of each matrix of a batch."""
    fn = lapack.get_lapack_funcs("geqrf", (a.reshape((-1,) + a.shape[-2:])[0],))
    packed, taus = np.empty_like(a), np.empty(a.shape[:-2] + (min(a.shape[-2:]),), a.dtype)
    for idx in np.ndindex(*a.shape[:-2]):
        packed[idx], taus[idx] = fn(a[idx])[:2]
    return packed, taus


def hypothesis_case(data, square=True):
    dtype = data.draw(st.sampled_from(DTYPES), "dtype")
    batch = data.draw(st.sampled_from(BATCHES), "batch")
    n = data.draw(st.integers(1, 6), "n")
    m = n if square else data.draw(st.integers(n, 7), "m")
    return dtype, batch, rand(batch + (m, n), dtype, seed=data.draw(st.integers(0, 99)))


# ---------------------------------------------------------------------------
# lax.linalg: values and reconstruction identities


@given(st.data())
@settings(max_examples=25, deadline=None)
def test_hessenberg_and_householder_product(data):
    with fx.enable_x64():
        dtype, batch, a = hypothesis_case(data)
        n = a.shape[-1]
        packed, taus = L.hessenberg(a)
        assert packed.dtype == dtype and taus.shape == batch + (n - 1,)
        q_inner = L.householder_product(np.asarray(packed)[..., 1:, :-1], taus)
        q = np.zeros(a.shape, dtype)
        q[..., 0, 0] = 1
        q[..., 1:, 1:] = q_inner
        h = np.triu(np.asarray(packed), -1)
        close(q @ h @ adj(q), a, 10 * tol(dtype))
        for idx in np.ndindex(*batch) if n > 2 else ():   # SciPy skips LAPACK for n <= 2
            h_ref, q_ref = sla.hessenberg(a[idx], calc_q=True)
            close(h[idx], h_ref, 10 * tol(dtype))
            close(q[idx], q_ref, 10 * tol(dtype))


@given(st.data())
@settings(max_examples=25, deadline=None)
def test_tridiagonal(data):
    with fx.enable_x64():
        dtype, batch, a = hypothesis_case(data)
        a = a + adj(a)
        n = a.shape[-1]
        lower = data.draw(st.booleans(), "lower")
        packed, d, e, taus = L.tridiagonal(a, lower=lower)
        real = np.dtype(dtype).type(0).real.dtype
        assert d.dtype == real and e.dtype == real and taus.dtype == dtype
        t = np.zeros(a.shape, dtype)
        idx = np.arange(n)
        t[..., idx, idx] = d
        t[..., idx[1:], idx[:-1]] = e
        t[..., idx[:-1], idx[1:]] = e
        close(np.linalg.eigvalsh(t), np.linalg.eigvalsh(a), 10 * tol(dtype))
        if lower:   # Q = H_1 ... H_{n-1}, reflectors below the first subdiagonal
            q = np.zeros(a.shape, dtype)
            q[..., 0, 0] = 1
            q[..., 1:, 1:] = L.householder_product(np.asarray(packed)[..., 1:, :-1], taus)
            close(q @ t @ adj(q), a, 10 * tol(dtype))


@given(st.data())
@settings(max_examples=25, deadline=None)
def test_schur(data):
    with fx.enable_x64():
        dtype, batch, a = hypothesis_case(data)
        t, z = L.schur(a)
        t, z = np.asarray(t), np.asarray(z)
        close(z @ t @ adj(z), a, 10 * tol(dtype))
        close(adj(z) @ z, np.broadcast_to(np.eye(a.shape[-1]), a.shape), 10 * tol(dtype))
        below = -1 if np.dtype(dtype).kind == "c" else -2   # 2x2 blocks for real input
        assert not np.tril(t, below).any()
        only_t, = L.schur(a, compute_schur_vectors=False)
        close(only_t, t, 10 * tol(dtype))


@given(st.data())
@settings(max_examples=25, deadline=None)
def test_householder_product_and_ormqr_match_explicit_q(data):
    with fx.enable_x64():
        dtype, batch, a = hypothesis_case(data, square=False)
        m, n = a.shape[-2:]
        packed, taus = geqrf(a)
        q = np.asarray(L.householder_product(packed, taus))
        for idx in np.ndindex(*batch):
            close(q[idx], sla.qr(a[idx], mode="economic")[0], 10 * tol(dtype))
        q_full = np.stack([sla.qr(a[idx])[0] for idx in np.ndindex(*batch)]).reshape(
            batch + (m, m))
        left, transpose = data.draw(st.booleans()), data.draw(st.booleans())
        c = rand(batch + ((m, 3) if left else (3, m)), dtype, seed=1)
        op = adj(q_full) if transpose else q_full
        expected = op @ c if left else c @ op
        close(L.ormqr(packed, taus, c, left=left, transpose=transpose), expected, 10 * tol(dtype))


def test_symmetric_product_values_and_grads():
    with fx.enable_x64():
        a, c = rand((2, 3, 4)), rand((2, 3, 3), seed=1)
        out = L.symmetric_product(a, c, alpha=2.0, beta=-0.5)
        close(out, 2 * a @ np.swapaxes(a, -1, -2) - 0.5 * c, 1e-12)
        lower = np.tril(np.asarray(out)) + np.swapaxes(np.tril(np.asarray(out), -1), -1, -2)
        close(L.symmetric_product(a, c, alpha=2.0, beta=-0.5, symmetrize_output=True), lower,
              1e-12)
        check_grads(lambda a, c: L.symmetric_product(a, c, alpha=2.0, beta=3.0), (a, c),
                    order=2)


def test_cholesky_update_matches_refactorization():
    with fx.enable_x64():
        a = rand((5, 5))
        spd = a @ a.T + 5 * np.eye(5)
        r = sla.cholesky(spd)          # upper: spd = R^T R
        w = rand((5,), seed=2)
        updated = np.asarray(L.cholesky_update(r, w))
        close(updated, sla.cholesky(spd + np.outer(w, w)), 1e-10)
        assert not np.tril(updated, -1).any()
        batch = fx.vmap(L.cholesky_update)(np.stack([r, 2 * r]), np.stack([w, -w]))
        close(batch[1], sla.cholesky(4 * spd + np.outer(w, w)), 1e-10)


@pytest.mark.parametrize("shape", [(4, 4), (6, 3), (5, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
def test_qdwh_is_the_polar_decomposition(shape, dtype):
    with fx.enable_x64():
        x = rand(shape, dtype, seed=3)
        u, h, iterations, converged = L.qdwh(x)
        assert bool(converged) and 0 < int(iterations) <= 10
        u_ref, h_ref = sla.polar(x)
        close(u, u_ref, 50 * tol(dtype))
        close(h, h_ref, 50 * tol(dtype))
        padded = np.zeros((shape[0] + 2, shape[1] + 1), dtype)
        padded[:shape[0], :shape[1]] = x
        u_pad, h_pad, _, _ = L.qdwh(padded, dynamic_shape=shape)
        close(np.asarray(u_pad)[:shape[0], :shape[1]], u_ref, 50 * tol(dtype))
        assert not np.asarray(h_pad)[shape[1]:].any()


# ---------------------------------------------------------------------------
# lax.linalg: transformations and errors


def test_vmap_matches_a_loop():
    with fx.enable_x64():
        a = rand((3, 4, 4))
        packed, taus = geqrf(a)
        c = rand((4, 2), seed=1)

        def each(fn, *args):
            return [np.stack([np.asarray(fn(*[x[i] for x in args])[k]) for i in range(3)])
                    for k in range(len(fn(*[x[0] for x in args])))]

        for fn in (L.hessenberg, L.schur, lambda x: L.tridiagonal(x + x.T)):
            for got, want in zip(fx.vmap(fn)(a), each(fn, a), strict=True):
                close(got, want, 1e-12)
        ormqr = fx.vmap(lambda p, t: L.ormqr(p, t, c, transpose=True))(packed, taus)
        close(ormqr, np.stack([np.asarray(L.ormqr(packed[i], taus[i], c, transpose=True))
                               for i in range(3)]), 1e-12)
        moved = fx.vmap(L.householder_product, in_axes=(2, 0))(np.moveaxis(packed, 0, 2), taus)
        close(moved, L.householder_product(packed, taus), 1e-12)


def test_jit_matches_eager_and_jaxpr_params():
    with fx.enable_x64():
        a = rand((4, 4))
        packed, taus = geqrf(a)

        def f(a, packed, taus):
            h, t = L.hessenberg(a)
            u, q = L.schur(a)
            return (h, t, u, q, L.ormqr(packed, taus, a, left=False),
                    L.householder_product(packed, taus),
                    L.symmetric_product(a, a, alpha=2.0), *L.tridiagonal(a + a.T))

        for got, want in zip(fx.jit(f)(a, packed, taus), f(a, packed, taus), strict=True):
            close(got, want, 1e-12)
        text = str(fx.make_jaxpr(f)(a, packed, taus))
        for piece in ("hessenberg", "compute_schur_vectors=True", "select_callable=None",
                      "sort_eig_vals=False", "ormqr[left=False transpose=False]",
                      "householder_product", "symmetric_product[alpha=2.0 beta=0.0]",
                      "tridiagonal[lower=True]"):
            assert piece in text, piece


def test_derivatives_as_jax_defines_them():
    with fx.enable_x64():
        a = rand((3, 3))
        for fn in (L.hessenberg, L.schur, L.tridiagonal,
                   lambda x: L.householder_product(x, x[0]),
                   lambda x: L.cholesky_update(np.triu(x) + 3 * np.eye(3), x[0])):
            with pytest.raises(NotImplementedError, match="Differentiation rule"):
                fx.jvp(fn, (a,), (a,))
        packed, taus = geqrf(rand((4, 3), np.complex128))
        c = rand((4, 2), np.complex128, seed=1)
        for transpose in (False, True):   # linear in c: forward and reverse
            check_grads(lambda c, t=transpose: L.ormqr(packed, taus, c, transpose=t), (c,),
                        order=1)


@pytest.mark.parametrize("call, error", [
    (lambda: L.hessenberg(np.ones((2, 3), np.float32)), ValueError),
    (lambda: L.hessenberg(np.ones((3, 3), np.int32)), TypeError),
    (lambda: L.tridiagonal(np.ones((0, 0), np.float32)), ValueError),
    (lambda: L.schur(np.ones((2, 3), np.float32)), ValueError),
    (lambda: L.schur(np.ones((2, 2), np.float32), sort_eig_vals=True), NotImplementedError),
    (lambda: L.householder_product(np.ones((2, 3), np.float32), np.ones(2, np.float32)),
     ValueError),
    (lambda: L.householder_product(np.ones((3, 2), np.float32), np.ones(3, np.float32)),
     ValueError),
    (lambda: L.ormqr(np.ones((3, 3), np.float32), np.ones(2, np.float32),
                     np.ones((2, 3), np.float32)), ValueError),
    (lambda: L.ormqr(np.ones((3, 3), np.float32), np.ones(2, np.float32),
                     np.ones((3, 3), np.complex64)), TypeError),
    (lambda: L.symmetric_product(np.ones((3, 2), np.float32), np.ones((2, 2), np.float32)),
     ValueError),
    (lambda: L.symmetric_product(np.ones((3, 2), np.complex64),
                                 np.ones((3, 3), np.complex64)), TypeError),
    (lambda: L.cholesky_update(np.ones((3, 3), np.float32), np.ones(2, np.float32)),
     ValueError),
    (lambda: L.cholesky_update(np.ones((2, 3, 3), np.float32), np.ones((2, 3), np.float32)),
     TypeError),
    (lambda: L.qdwh(np.ones((2, 3), np.float32)), ValueError),
])
def test_bad_input_raises_before_work(call, error):
    with pytest.raises(error):
        call()


# ---------------------------------------------------------------------------
# scipy.linalg: special matrices


@given(st.data())
@settings(max_examples=25, deadline=None)
def test_vector_constructors_match_scipy(data):
    with fx.enable_x64():
        n = data.draw(st.integers(2, 6), "n")
        m = data.draw(st.integers(1, 5), "m")
        dtype = data.draw(st.sampled_from([np.float64, np.int32, np.complex128]), "dtype")
        c = (rand((n,), np.float64, seed=n) * 4).astype(dtype)
        r = (rand((m,), np.float64, seed=m + 10) * 4).astype(dtype)
        c_inexact = c.astype(np.complex128 if dtype == np.complex128 else np.float64) + 5
        cases = [(SL.toeplitz(c, r), sla.toeplitz(c, r)), (SL.toeplitz(c), sla.toeplitz(c)),
                 (SL.hankel(c, r), sla.hankel(c, r)), (SL.hankel(c), sla.hankel(c)),
                 (SL.circulant(c), sla.circulant(c)), (SL.leslie(c, c[1:]), sla.leslie(c, c[1:])),
                 (SL.companion(c_inexact), sla.companion(c_inexact)),
                 (SL.fiedler_companion(c_inexact), sla.fiedler_companion(c_inexact))]
        if dtype != np.complex128:
            cases.append((SL.fiedler(c), sla.fiedler(c)))
        for mode in ("full", "same", "valid"):
            cases.append((SL.convolution_matrix(c, m, mode), sla.convolution_matrix(c, m, mode)))
        for got, want in cases:
            close(got, want, 1e-12)
        batched = np.stack([c, 2 * c])
        for fn in (SL.toeplitz, SL.hankel, SL.circulant, SL.fiedler_companion):
            arg = batched.astype(c_inexact.dtype) + 5
            close(fn(arg), np.stack([np.asarray(fn(x)) for x in arg]), 1e-12)
            close(fx.vmap(fn)(arg), fn(arg), 1e-12)


@pytest.mark.parametrize("n", [1, 2, 5])
def test_size_constructors_match_scipy(n):
    with fx.enable_x64():
        close(SL.hilbert(n), sla.hilbert(n), 1e-14)
        close(SL.invhilbert(n), sla.invhilbert(n), 1e-12)
        for kind in (None, "lower", "upper"):
            close(SL.pascal(n, kind), sla.pascal(n, kind or "symmetric"), 0)
            close(SL.invpascal(n, kind), sla.invpascal(n, kind or "symmetric"), 0)
        close(SL.helmert(n), sla.helmert(n), 1e-14)
        close(SL.helmert(n, full=True), sla.helmert(n, full=True), 1e-14)
        for scale in (None, "sqrtn", "n"):
            close(SL.dft(n, scale), sla.dft(n, scale), 1e-12)
    close(SL.hadamard(4), sla.hadamard(4), 0)
    assert SL.hadamard(4).dtype == np.int32 and SL.pascal(3).dtype == np.float32
    assert SL.hilbert(2).dtype == np.float32 and SL.dft(2).dtype == np.complex64


def test_constructor_gradients():
    with fx.enable_x64():
        c, r = rand((4,)), rand((3,), seed=1)
        check_grads(lambda c, r: SL.toeplitz(c, r), (c, r), order=2)
        check_grads(lambda c, r: SL.hankel(c, r), (c, r), order=2)
        check_grads(SL.circulant, (c,), order=2)
        check_grads(SL.companion, (c + 3,), order=2)
        check_grads(lambda c: SL.convolution_matrix(c, 3, "same"), (c,), order=1)


@pytest.mark.parametrize("call, error", [
    (lambda: SL.hadamard(6), ValueError), (lambda: SL.helmert(0), ValueError),
    (lambda: SL.dft(3, "bad"), ValueError), (lambda: SL.dft(3, dtype=np.float32), ValueError),
    (lambda: SL.pascal(3, "diag"), ValueError), (lambda: SL.leslie([1.], [1.]), TypeError),
    (lambda: SL.leslie(np.ones(1), np.ones(0)), ValueError),
    (lambda: SL.leslie(np.ones(3), np.ones(3)), ValueError),
    (lambda: SL.companion(np.ones(1)), ValueError), (lambda: SL.hankel(1.0), ValueError),
    (lambda: SL.convolution_matrix(np.ones(3), 0), ValueError),
    (lambda: SL.convolution_matrix(np.ones(3), 2, "wide"), ValueError),
    (lambda: SL.fiedler_companion(np.ones(0)), ValueError),
])
def test_constructor_errors(call, error):
    with pytest.raises(error):
        call()


# ---------------------------------------------------------------------------
# scipy.linalg: condensed forms and matrix functions


@given(st.data())
@settings(max_examples=15, deadline=None)
def test_hessenberg_schur_rsf2csf(data):
    with fx.enable_x64():
        dtype, batch, a = hypothesis_case(data)
        h, q = SL.hessenberg(a, calc_q=True)
        close(np.asarray(q) @ np.asarray(h) @ adj(np.asarray(q)), a, 10 * tol(dtype))
        close(SL.hessenberg(a), h, 10 * tol(dtype))
        t, z = SL.schur(a, output="complex")
        assert np.asarray(t).dtype.kind == "c" and not np.tril(np.asarray(t), -1).any()
        close(np.asarray(z) @ np.asarray(t) @ adj(np.asarray(z)), a, 10 * tol(dtype))
        if np.dtype(dtype).kind == "f":
            t2, z2 = SL.rsf2csf(*SL.schur(a))
            t2, z2 = np.asarray(t2), np.asarray(z2)
            assert np.abs(np.tril(t2, -1)).max(initial=0) == 0
            close(z2 @ t2 @ adj(z2), a, 10 * tol(dtype))
            for idx in np.ndindex(*batch):
                t_ref, z_ref = sla.rsf2csf(*sla.schur(a[idx]))
                close(t2[idx], t_ref, 100 * tol(dtype))
                close(z2[idx], z_ref, 100 * tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
def test_sqrtm_and_funm(dtype):
    with fx.enable_x64():
        a = rand((4, 4), dtype, seed=4) + 4 * np.eye(4, dtype=dtype)
        root = np.asarray(SL.sqrtm(a))
        assert root.dtype.kind == "c"
        close(root @ root, a, 10 * tol(dtype))
        close(root, sla.sqrtm(a), 10 * tol(dtype))
        close(SL.funm(a, fnp.exp), sla.expm(a), 100 * tol(dtype))
        f, err = SL.funm(a, fnp.sin, disp=False)
        close(f, sla.funm(a, np.sin), 100 * tol(dtype))
        assert 0 < float(err) < 1e-3
        batch = np.stack([a, 2 * a])
        close(SL.sqrtm(batch), np.stack([root, np.asarray(SL.sqrtm(2 * a))]), 10 * tol(dtype))
        with pytest.raises(NotImplementedError):
            SL.sqrtm(a, blocksize=2)


@pytest.mark.parametrize("shape, side", [((4, 4), "right"), ((5, 3), "right"),
                                         ((3, 5), "left"), ((4, 4), "left")])
def test_polar(shape, side):
    with fx.enable_x64():
        a = rand((2,) + shape, seed=5)
        m, n = shape
        qdwh_fits = (m >= n) if side == "right" else (m < n)   # as in JAX
        for method in ("qdwh", "svd") if qdwh_fits else ("svd",):
            u, p = SL.polar(a, side, method=method)
            for i in range(2):
                u_ref, p_ref = sla.polar(a[i], side)
                close(u[i], u_ref, 1e-8)
                close(p[i], p_ref, 1e-8)
        check_grads(lambda x: SL.polar(x, side, method="svd"), (a[0],), order=1)
        if not qdwh_fits:
            with pytest.raises(NotImplementedError):
                SL.polar(a, side)


@pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")   # the singular case
@pytest.mark.parametrize("method", ["schur", "eigen"])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32])
def test_solve_sylvester(method, dtype):
    with fx.enable_x64():
        a = (rand((4, 4), dtype, seed=6) + 3 * np.eye(4)).astype(dtype)
        b = rand((3, 3), dtype, seed=7)
        c = rand((4, 3), dtype, seed=8)
        x = np.asarray(SL.solve_sylvester(a, b, c, method=method))
        assert x.dtype == dtype
        close(a @ x + x @ b, c, 100 * tol(dtype))
        close(x, sla.solve_sylvester(a, b, c), 100 * tol(dtype))
        batch = SL.solve_sylvester(np.stack([a, a.T]), b, c, method=method)
        close(batch[1], sla.solve_sylvester(a.T, b, c), 100 * tol(dtype))
        singular = SL.solve_sylvester(np.eye(2), -np.eye(2), np.ones((2, 2)), method=method)
        assert np.isnan(np.asarray(singular)).all()


@pytest.mark.parametrize("mode", ["left", "right"])
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4)])
def test_qr_multiply(mode, shape):
    with fx.enable_x64():
        a = rand(shape, seed=9)
        m, n = shape
        k = min(m, n)
        for conjugate in (False, True):
            for c in (rand((k, 2) if mode == "left" else (2, m), seed=10),
                      rand((k,) if mode == "left" else (m,), seed=11)):
                got = SL.qr_multiply(a, c, mode=mode, conjugate=conjugate)
                want = sla.qr_multiply(a, c, mode=mode, conjugate=conjugate)
                close(got[0], want[0], 1e-10)
                close(got[1], want[1], 1e-10)
        qc, r, p = SL.qr_multiply(a, rand((m,), seed=12), pivoting=True)
        _, _, p_ref = sla.qr(a, pivoting=True)
        np.testing.assert_array_equal(p, p_ref)
        c = rand((k, 2) if mode == "left" else (2, m), seed=13)
        check_grads(lambda a, c: SL.qr_multiply(a, c, mode=mode), (a, c), order=1)
        with pytest.raises(ValueError):
            SL.qr_multiply(a, np.ones((k + 1, 2)) if mode == "left" else np.ones((2, m + 1)),
                           mode=mode)


def test_eigh_tridiagonal_and_expm_frechet():
    with fx.enable_x64():
        d, e = rand((6,)), rand((5,), seed=1)
        w, v = SL.eigh_tridiagonal(d, e)
        w_ref = sla.eigh_tridiagonal(d, e, eigvals_only=True)
        close(w, w_ref, 1e-10)
        t = np.diag(d) + np.diag(e, 1) + np.diag(e, -1)
        close(t @ np.asarray(v), np.asarray(v) * np.asarray(w), 1e-10)
        close(SL.eigh_tridiagonal(d, e, eigvals_only=True, select="i", select_range=(1, 3)),
              w_ref[1:4], 1e-10)
        check_grads(lambda d, e: SL.eigh_tridiagonal(d, e, eigvals_only=True), (d, e), order=1)
        a, direction = rand((4, 4), seed=2) / 2, rand((4, 4), seed=3)
        expm_a, frechet = SL.expm_frechet(a, direction)
        ref = sla.expm_frechet(a, direction)
        close(expm_a, ref[0], 1e-10)
        close(frechet, ref[1], 1e-10)
        close(SL.expm_frechet(a, direction, compute_expm=False), ref[1], 1e-10)
        for call in (lambda: SL.eigh_tridiagonal(d, e.astype(np.float32)),
                     lambda: SL.eigh_tridiagonal(d.astype(np.int32), e.astype(np.int32))):
            with pytest.raises(TypeError):
                call()
        with pytest.raises(NotImplementedError):
            SL.eigh_tridiagonal(d, e, select="v")
        with pytest.raises(ValueError):
            SL.expm_frechet(a, direction[:3, :3])


def test_scipy_functions_under_jit():
    with fx.enable_x64():
        a = rand((4, 4), seed=4) + 4 * np.eye(4)
        for fn in (lambda x: SL.hessenberg(x, calc_q=True), lambda x: SL.schur(x),
                   lambda x: SL.rsf2csf(*SL.schur(x)), SL.sqrtm, lambda x: SL.polar(x),
                   lambda x: SL.solve_sylvester(x, x.T, x), SL.toeplitz):
            got, want = fx.jit(fn)(a), fn(a)
            for g, w in zip(*(o if isinstance(o, tuple) else (o,) for o in (got, want)),
                            strict=True):
                close(g, w, 1e-10)


# ---------------------------------------------------------------------------
# against JAX


def test_against_jax():
    jax = pytest.importorskip("jax")
    import jax.lax.linalg as JL
    import jax.scipy.linalg as JSL
    a = rand((2, 4, 4), np.float32, seed=14)
    packed, taus = geqrf(rand((2, 5, 3), np.float32, seed=15))
    cases = {
        "hessenberg": lambda M: M.hessenberg(a), "schur": lambda M: M.schur(a),
        "tridiagonal": lambda M: M.tridiagonal(a + np.swapaxes(a, -1, -2), lower=False),
        "householder_product": lambda M: M.householder_product(packed, taus),
        "ormqr": lambda M: M.ormqr(packed, taus, a[:, :, :2].repeat(2, 1)[:, :5],
                                   transpose=True),
        "symmetric_product": lambda M: M.symmetric_product(a, a, alpha=2., beta=.5),
        "cholesky_update": lambda M: M.cholesky_update(np.triu(a[0]) + 2 * np.eye(4), a[1, 0]),
        "qdwh": lambda M: M.qdwh(a[0]),
    }
    scipy_cases = {
        "toeplitz": lambda M: M.toeplitz(np.arange(1, 4, dtype=np.int32)),
        "companion": lambda M: M.companion(np.arange(1, 5, dtype=np.int32)),
        "hadamard": lambda M: M.hadamard(4), "invpascal": lambda M: M.invpascal(4),
        "helmert": lambda M: M.helmert(3, True), "dft": lambda M: M.dft(3, "n"),
        "hessenberg": lambda M: M.hessenberg(a, calc_q=True), "schur": lambda M: M.schur(a[0]),
        "qr_multiply": lambda M: M.qr_multiply(a, a[0]),
        # (rsf2csf, sqrtm, funm, polar, solve_sylvester, eigh_tridiagonal, expm_frechet are
        # checked against SciPy above; JAX's compile times would dominate this file)
    }
    for (fx_mod, jax_mod), table in (((L, JL), cases), ((SL, JSL), scipy_cases)):
        for name, fn in table.items():
            want, got = fn(jax_mod), fn(fx_mod)
            want = want if isinstance(want, (tuple, list)) else [want]
            got = got if isinstance(got, (tuple, list)) else [got]
            assert len(want) == len(got), name
            for g, w in zip(got, want, strict=True):
                w = np.asarray(w)
                assert np.asarray(g).dtype == w.dtype, (name, np.asarray(g).dtype, w.dtype)
                close(g, w, 2e-3)
    text = str(jax.make_jaxpr(lambda x: JL.schur(x))(a))
    assert text.split("schur[")[1].split("]")[0].split() == str(
        fx.make_jaxpr(lambda x: L.schur(x))(a)).split("schur[")[1].split("]")[0].split()
