"""Tests of ``fx.scipy.linalg`` (fx/scipy/linalg.py).

Oracles: ``scipy.linalg`` for values, finite differences for derivatives
(``fx.test_util.check_grads``, float64), a Python loop for vmap, eager for jit,
and ``jax.scipy.linalg`` (values and gradients) where JAX is installed.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla

import fx
from fx import _testing
import fx.numpy as fnp
import fx.scipy.linalg as SL
from fx.test_util import check_grads

RNG = np.random.RandomState(3)


def rand(shape, dtype=np.float64, rng=RNG):
    return _testing.rand(shape, dtype, rng)


def spd(n, dtype=np.float64):
    a = rand((n, n), dtype)
    return a @ np.conj(a.T) + n * np.eye(n)


def sym(x):
    return (x + fnp.conj(x.T)) / 2


def close(actual, expected, rtol=1e-10, atol=1e-12):
    actual = np.asarray(actual)
    assert actual.shape == np.shape(expected), (actual.shape, np.shape(expected))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
@pytest.mark.parametrize("lower", [False, True])
def test_cholesky_family(dtype, lower, x64):
    a = spd(4, dtype)
    close(SL.cholesky(fnp.asarray(a), lower=lower), sla.cholesky(a, lower=lower))
    c, low = SL.cho_factor(fnp.asarray(a), lower=lower)
    assert low is lower
    for b in (rand((4,), dtype), rand((4, 3), dtype)):
        close(SL.cho_solve((c, low), fnp.asarray(b)), sla.cho_solve((sla.cholesky(
            a, lower=lower), lower), b), rtol=1e-9)
    # only the triangle named by ``lower`` is read
    other = np.tril(np.full((4, 4), 9.0), -1) if not lower else np.triu(np.full((4, 4), 9.0), 1)
    close(SL.cholesky(fnp.asarray(a + other), lower=lower), sla.cholesky(a, lower=lower))


@pytest.mark.parametrize("trans", [0, 1, 2, "N", "T", "C"])
@pytest.mark.parametrize("lower", [False, True])
def test_solve_triangular(trans, lower, x64):
    a = rand((4, 4), np.complex128) + 4 * np.eye(4)
    for b in (rand((4,), np.complex128), rand((4, 2), np.complex128)):
        for unit in (False, True):
            close(SL.solve_triangular(fnp.asarray(a), fnp.asarray(b), trans=trans, lower=lower,
                                      unit_diagonal=unit),
                  sla.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit),
                  rtol=1e-9)


def test_lu_family(x64):
    for shape in ((4, 4), (5, 3), (3, 5)):
        a = rand(shape)
        p, l_mat, u_mat = SL.lu(fnp.asarray(a))
        ref_p, ref_l, ref_u = sla.lu(a)
        close(p, ref_p)
        close(l_mat, ref_l)
        close(u_mat, ref_u)
        pl, u2 = SL.lu(fnp.asarray(a), permute_l=True)
        close(pl, ref_p @ ref_l)
        close(u2, ref_u)
    a = rand((4, 4)) + 2 * np.eye(4)
    lu, piv = SL.lu_factor(fnp.asarray(a))
    ref_lu, ref_piv = sla.lu_factor(a)
    close(lu, ref_lu)
    np.testing.assert_array_equal(np.asarray(piv), ref_piv)
    for trans in (0, 1, 2):
        for b in (rand((4,)), rand((4, 3))):
            close(SL.lu_solve((lu, piv), fnp.asarray(b), trans=trans),
                  sla.lu_solve((ref_lu, ref_piv), b, trans=trans), rtol=1e-9)
    c = rand((4, 4), np.complex128) + 2 * np.eye(4)
    b = rand((4, 2), np.complex128)
    for trans in (1, 2):
        close(SL.lu_solve(SL.lu_factor(fnp.asarray(c)), fnp.asarray(b), trans=trans),
              sla.lu_solve(sla.lu_factor(c), b, trans=trans), rtol=1e-9)


def test_qr_svd_eigh_inv_det_solve(x64):
    a = rand((5, 3))
    for mode in ("full", "economic"):
        q, r = SL.qr(fnp.asarray(a), mode=mode)
        ref_q, ref_r = sla.qr(a, mode=mode)
        close(q, ref_q, atol=1e-12)
        close(r, ref_r, atol=1e-12)
    (r,) = SL.qr(fnp.asarray(a), mode="r")
    close(r, sla.qr(a, mode="r")[0], atol=1e-12)
    q, r, p = SL.qr(fnp.asarray(a), pivoting=True)
    ref_q, ref_r, ref_p = sla.qr(a, pivoting=True)
    np.testing.assert_array_equal(np.asarray(p), ref_p)
    close(np.abs(np.asarray(r)), np.abs(ref_r), atol=1e-12)
    u, s, vh = SL.svd(fnp.asarray(a))
    close(s, sla.svd(a, compute_uv=False))
    close(SL.svd(fnp.asarray(a), compute_uv=False), sla.svd(a, compute_uv=False))
    h = spd(4)
    w, v = SL.eigh(fnp.asarray(h))
    close(w, sla.eigh(h, eigvals_only=True))
    close(SL.eigh(fnp.asarray(np.triu(h)), lower=False, eigvals_only=True),
          sla.eigh(h, eigvals_only=True))
    close(SL.inv(fnp.asarray(h)), sla.inv(h), rtol=1e-9)
    close(SL.det(fnp.asarray(h)), sla.det(h), rtol=1e-9)
    b = rand((4, 2))
    for assume_a in ("gen", "sym", "her", "pos"):
        close(SL.solve(fnp.asarray(h), fnp.asarray(b), assume_a=assume_a),
              sla.solve(h, b, assume_a=assume_a), rtol=1e-9)
    close(SL.solve(fnp.asarray(h), fnp.asarray(b[:, 0]), assume_a="pos"),
          sla.solve(h, b[:, 0], assume_a="pos"), rtol=1e-9)


def test_block_diag():
    parts = [np.ones((1, 2), np.float32), 2 * np.ones((2, 1), np.float32), np.float32(3),
             np.array([4.0, 5.0], np.float32)]
    out = SL.block_diag(*[fnp.asarray(p) for p in parts])
    close(out, sla.block_diag(*parts))
    assert out.dtype == np.float32
    assert SL.block_diag().shape == (1, 0)
    mixed = SL.block_diag(fnp.ones((1, 1), dtype=np.int32), fnp.ones((1, 1)))
    assert mixed.dtype == np.float32
    with pytest.raises(ValueError, match="at most 2 dimensions"):
        SL.block_diag(fnp.ones((1, 1, 1)))


@pytest.mark.parametrize("scale", [1e-3, 0.1, 1.0, 4.0, 40.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_expm_matches_scipy(scale, dtype, x64):
    a = (rand((4, 4), dtype) * scale).astype(dtype)
    ours = np.asarray(SL.expm(fnp.asarray(a)))
    ref = sla.expm(a.astype(np.complex128 if dtype == np.complex128 else np.float64))
    assert ours.dtype == dtype
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=rtol * np.abs(ref).max())


def test_expm_batched_triangular_and_identities(harness, x64):
    a = rand((3, 4, 4))
    out = np.asarray(SL.expm(fnp.asarray(a)))
    for i in range(3):
        np.testing.assert_allclose(out[i], sla.expm(a[i]), rtol=1e-10)
    t = np.triu(rand((4, 4)))
    close(SL.expm(fnp.asarray(t), upper_triangular=True), sla.expm(t), rtol=1e-10)
    z = np.zeros((3, 3))
    close(SL.expm(fnp.asarray(z)), np.eye(3))
    big = np.eye(2) * 1e6
    assert np.isnan(np.asarray(SL.expm(fnp.asarray(big), max_squarings=2))).all()
    harness.check_vmap(SL.expm, [a], (0,), rtol=1e-10, atol=1e-12)
    harness.check_jit(SL.expm, [a[0]], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["cholesky", "cho_solve", "solve_triangular", "lu",
                                  "lu_solve", "expm", "expm_large", "solve_pos", "det"])
def test_grads(name, x64):
    h = fnp.asarray(spd(3))
    a = fnp.asarray(rand((3, 3)) + 3 * np.eye(3))
    b = fnp.asarray(rand((3, 2)))
    # the Cholesky-based functions read one triangle; their derivatives (JAX's) are the
    # ones along symmetric perturbations, so the finite differences use sym(m)
    cases = {
        "cholesky": (lambda m: SL.cholesky(sym(m)), (h,), 2),
        "cho_solve": (lambda m, v: SL.cho_solve(SL.cho_factor(sym(m), lower=True), v),
                      (h, b), 2),
        "solve_triangular": (lambda m, v: SL.solve_triangular(m, v, trans=1, lower=True),
                             (a, b), 2),
        "lu": (lambda m: SL.lu(m), (a,), 2),
        "lu_solve": (lambda m, v: SL.lu_solve(SL.lu_factor(m), v, trans=1), (a, b), 1),
        "expm": (SL.expm, (fnp.asarray(rand((3, 3)) * 0.5),), 2),
        "expm_large": (SL.expm, (fnp.asarray(rand((3, 3)) * 3.0),), 1),
        "solve_pos": (lambda m, v: SL.solve(sym(m), v, assume_a="pos"), (h, b), 2),
        "det": (SL.det, (a,), 1),
    }
    fn, args, order = cases[name]
    check_grads(fn, args, order=order)


def test_bad_inputs():
    with pytest.raises(ValueError, match="trans"):
        SL.solve_triangular(fnp.eye(2), fnp.ones(2), trans=3)
    with pytest.raises(ValueError, match="does not match"):
        SL.solve_triangular(fnp.eye(2), fnp.ones(3))
    with pytest.raises(ValueError, match="assume_a"):
        SL.solve(fnp.eye(2), fnp.ones(2), assume_a="diag")
    with pytest.raises(ValueError, match="mode"):
        SL.qr(fnp.eye(2), mode="raw")
    with pytest.raises(NotImplementedError, match="b=None"):
        SL.eigh(fnp.eye(2), fnp.eye(2))
    with pytest.raises(ValueError, match="square"):
        SL.expm(fnp.ones((2, 3)))
    with pytest.raises(TypeError, match="not supported"):
        SL.expm(fnp.ones((2, 2), dtype=np.float16))
    with pytest.raises(TypeError, match="cho_factor"):
        SL.cho_solve(fnp.eye(2), fnp.ones(2))
    with pytest.raises(ValueError, match="square"):
        SL.cholesky(fnp.ones((2, 3)))


@pytest.mark.jax
def test_values_and_gradients_match_jax(jax):
    jsl = jax.scipy.linalg
    h = spd(3).astype(np.float32)
    a = (rand((3, 3)) * 0.7).astype(np.float32)
    b = rand((3, 2)).astype(np.float32)
    cases = {
        "expm": lambda m, lib: (lib.expm(m) ** 2).sum(),
        "cholesky": lambda m, lib: lib.cholesky(m).sum(),
        "cho_solve": lambda m, lib: (lib.cho_solve(lib.cho_factor(m), b) ** 2).sum(),
        "lu_solve": lambda m, lib: (lib.lu_solve(lib.lu_factor(m), b, trans=1) ** 2).sum(),
        "solve_pos": lambda m, lib: (lib.solve(m, b, assume_a="pos") ** 2).sum(),
        "lu": lambda m, lib: lib.lu(m)[2].sum(),
    }
    for name, fn in cases.items():
        x = a if name in ("expm",) else h
        ours = fx.value_and_grad(lambda m, fn=fn: fn(m, SL))(fnp.asarray(x))
        theirs = jax.jit(jax.value_and_grad(lambda m, fn=fn: fn(m, jsl)))(
            jax.numpy.asarray(x))
        np.testing.assert_allclose(float(ours[0]), float(theirs[0]), rtol=2e-4, err_msg=name)
        np.testing.assert_allclose(np.asarray(ours[1]), np.asarray(theirs[1]), rtol=2e-3,
                                   atol=2e-4, err_msg=name)
