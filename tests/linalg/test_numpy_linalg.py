"""Tests of ``fx.numpy.linalg`` (fx/numpy/linalg.py, fx/numpy/_linalg_norms.py).

Oracles: ``numpy.linalg`` for values, finite differences for derivatives
(``fx.test_util.check_grads``, float64, well-conditioned inputs), a Python loop
for vmap, eager for jit, and ``jax.numpy.linalg`` (values and gradients) where
JAX is installed. Hypothesis sweeps norm orders, axes and shapes.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
from fx import _testing
import fx.numpy as fnp
import fx.numpy.linalg as L
from fx.test_util import check_grads

RNG = np.random.RandomState(1)


def rand(shape, dtype=np.float64, rng=RNG):
    return _testing.rand(shape, dtype, rng)


def well_conditioned(shape, dtype=np.float64):
    n = shape[-1]
    return (rand(shape, dtype) + 2 * n ** 0.5 * np.eye(n)).astype(dtype)


def spd(n, batch=(), dtype=np.float64):
    a = rand(batch + (n, n), dtype)
    return a @ np.conj(np.swapaxes(a, -1, -2)) + n * np.eye(n)


def close(actual, expected, rtol=1e-10, atol=1e-12):
    actual = np.asarray(actual)
    assert actual.shape == np.shape(expected), (actual.shape, np.shape(expected))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------
# solves, inverses, determinants


@pytest.mark.parametrize("a_shape,b_shape", [
    ((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (3,)), ((2, 3, 3), (2, 3, 4)),
    ((2, 1, 3, 3), (4, 3, 1)), ((3, 3), (5, 3, 2))])
def test_solve_matches_numpy(a_shape, b_shape, x64):
    a, b = well_conditioned(a_shape), rand(b_shape)
    expected = np.linalg.solve(a, b if len(b_shape) > 1 else b)
    close(L.solve(fnp.asarray(a), fnp.asarray(b)), expected, rtol=1e-9)


def test_solve_inv_det_slogdet_values(x64):
    for dtype in (np.float64, np.complex128):
        a = well_conditioned((2, 4, 4), dtype)
        close(L.inv(fnp.asarray(a)), np.linalg.inv(a), rtol=1e-9)
        close(L.det(fnp.asarray(a)), np.linalg.det(a), rtol=1e-9)
        sign, logdet = L.slogdet(fnp.asarray(a))
        ref_sign, ref_logdet = np.linalg.slogdet(a)
        close(sign, ref_sign, rtol=1e-9)
        close(logdet, ref_logdet, rtol=1e-9)
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    assert float(L.det(fnp.asarray(singular))) == 0.0
    sign, logdet = L.slogdet(fnp.asarray(singular))
    assert float(sign) == 0.0 and float(logdet) == -np.inf
    assert float(L.det(fnp.zeros((0, 0)))) == 1.0


def test_integer_inputs_promote_to_the_default_float():
    out = L.det(fnp.asarray(np.array([[2, 1], [1, 3]], np.int32)))
    assert out.dtype == np.float32 and float(out) == pytest.approx(5.0)
    assert L.inv(fnp.eye(2, dtype=np.int32)).dtype == np.float32


@pytest.mark.parametrize("fn", ["inv", "det", "slogdet", "solve"])
def test_solve_family_grads(fn, x64):
    a = fnp.asarray(well_conditioned((3, 3)))
    b = fnp.asarray(rand((3, 2)))
    f = {"inv": L.inv, "det": L.det, "slogdet": lambda x: L.slogdet(x).logabsdet,
         "solve": lambda x: L.solve(x, b)}[fn]
    check_grads(f, (a,), order=2)
    if fn == "solve":
        check_grads(L.solve, (a, b), order=2)


def test_complex_grads(x64):
    a = fnp.asarray(well_conditioned((3, 3), np.complex128))
    check_grads(L.det, (a,), order=1)
    check_grads(lambda x: L.slogdet(x), (a,), order=1)
    check_grads(L.inv, (a,), order=1)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, -1, -2])
def test_matrix_power(n, x64):
    a = well_conditioned((2, 3, 3)) / 3
    close(L.matrix_power(fnp.asarray(a), n), np.linalg.matrix_power(a, n), rtol=1e-9)
    if n:
        check_grads(lambda x: L.matrix_power(x, n), (fnp.asarray(a[0]),), order=1)


# ---------------------------------------------------------------------------
# factorizations


def test_cholesky_qr_svd_eig_values(x64):
    a = spd(4, (2,))
    close(L.cholesky(fnp.asarray(a)), np.linalg.cholesky(a))
    close(L.cholesky(fnp.asarray(a), upper=True), np.linalg.cholesky(a, upper=True))
    g = rand((2, 5, 3))
    for mode in ("reduced", "complete"):
        q, r = L.qr(fnp.asarray(g), mode=mode)
        ref_q, ref_r = np.linalg.qr(g, mode=mode)
        close(q, ref_q, atol=1e-12)
        close(r, ref_r, atol=1e-12)
    close(L.qr(fnp.asarray(g), mode="r"), np.linalg.qr(g, mode="r"), atol=1e-12)
    u, s, vh = L.svd(fnp.asarray(g), full_matrices=False)
    close(s, np.linalg.svd(g, compute_uv=False))
    close(np.asarray(u) * np.asarray(s)[..., None, :] @ np.asarray(vh), g)
    close(L.svdvals(fnp.asarray(g)), np.linalg.svd(g, compute_uv=False))
    w, v = L.eigh(fnp.asarray(a))
    close(w, np.linalg.eigvalsh(a))
    close(L.eigvalsh(fnp.asarray(a), UPLO="U"), np.linalg.eigvalsh(a, UPLO="U"))
    ev = np.asarray(L.eigvals(fnp.asarray(g[:, :3])))
    ref = np.linalg.eigvals(g[:, :3])
    close(np.sort_complex(ev), np.sort_complex(ref), rtol=1e-9)
    w, v = map(np.asarray, L.eig(fnp.asarray(g[0, :3])))
    close(g[0, :3] @ v, v * w, atol=1e-10)


def test_svd_hermitian(x64):
    h = spd(4) - 6 * np.eye(4)     # indefinite: negative eigenvalues flip signs
    u, s, vh = map(np.asarray, L.svd(fnp.asarray(h), hermitian=True))
    close(s, np.linalg.svd(h, compute_uv=False), rtol=1e-9)
    close((u * s) @ vh, h, atol=1e-10)
    close(L.svd(fnp.asarray(h), compute_uv=False, hermitian=True),
          np.linalg.svd(h, compute_uv=False), rtol=1e-9)


def test_decomposition_grads(x64):
    a = fnp.asarray(spd(3))
    check_grads(L.cholesky, (a,), order=2)
    check_grads(L.eigvalsh, (a,), order=2)
    check_grads(L.svdvals, (fnp.asarray(rand((4, 3))),), order=2)
    check_grads(lambda x: L.eigvals(x), (fnp.asarray(rand((3, 3)) + np.diag([0., 3., 6.])),),
                order=1)


# ---------------------------------------------------------------------------
# least squares, pseudo-inverse, rank, condition


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4)])
def test_lstsq_and_pinv(shape, x64):
    a = rand(shape)
    b = rand((shape[0], 2))
    x, resid, rank, s = L.lstsq(fnp.asarray(a), fnp.asarray(b))
    ref_x, ref_resid, ref_rank, ref_s = np.linalg.lstsq(a, b, rcond=None)
    close(x, ref_x, rtol=1e-8)
    close(s, ref_s)
    assert int(rank) == ref_rank
    if ref_resid.size:
        close(resid, ref_resid, rtol=1e-8)
    close(L.lstsq(fnp.asarray(a), fnp.asarray(b[:, 0]))[0], ref_x[:, 0], rtol=1e-8)
    close(L.pinv(fnp.asarray(a)), np.linalg.pinv(a), rtol=1e-8)
    check_grads(L.pinv, (fnp.asarray(a),), order=1)
    check_grads(lambda m: L.lstsq(m, fnp.asarray(b))[0], (fnp.asarray(a),), order=1)
    h = spd(4) - 5 * np.eye(4)
    close(L.pinv(fnp.asarray(h), hermitian=True), np.linalg.pinv(h, hermitian=True),
          rtol=1e-8)
    sym = lambda m: (m + m.T) / 2   # noqa: E731
    check_grads(lambda m: L.pinv(sym(m), hermitian=True), (fnp.asarray(h),), order=1)


def test_matrix_rank_and_cond(x64):
    low = rand((6, 2)) @ rand((2, 5))
    assert int(L.matrix_rank(fnp.asarray(low))) == np.linalg.matrix_rank(low) == 2
    batch = np.stack([low[:5], np.eye(5)])
    np.testing.assert_array_equal(np.asarray(L.matrix_rank(fnp.asarray(batch))), [2, 5])
    a = well_conditioned((2, 4, 4))
    for p in (None, 2, -2, 1, -1, np.inf, -np.inf, "fro", "nuc"):
        close(L.cond(fnp.asarray(a), p), np.linalg.cond(a, p), rtol=1e-9)
    assert float(L.cond(fnp.asarray(np.array([[1.0, 0.0], [0.0, 0.0]])), 1)) == np.inf
    check_grads(lambda m: L.cond(m), (fnp.asarray(a[0]),), order=1)


# ---------------------------------------------------------------------------
# norms


VECTOR_ORDS = [None, 1, 2, 3, 0.5, 0, np.inf, -np.inf, -1]
MATRIX_ORDS = [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]


@given(st.sampled_from(VECTOR_ORDS), st.integers(1, 3), st.booleans(), st.data())
@settings(max_examples=25, deadline=None)
def test_vector_norms(ord_, ndim, keepdims, data):
    shape = tuple(data.draw(st.integers(1, 4)) for _ in range(ndim))
    axis = data.draw(st.integers(-ndim, ndim - 1))
    x = rand(shape).astype(np.float32)
    ours = L.norm(fnp.asarray(x), ord_, axis=axis, keepdims=keepdims)
    ref = np.linalg.norm(x, ord_, axis=axis, keepdims=keepdims)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(np.asarray(ours), ref, rtol=2e-5, atol=1e-6)
    vn = L.vector_norm(fnp.asarray(x), ord=2 if ord_ is None else ord_, axis=axis,
                       keepdims=keepdims)
    np.testing.assert_allclose(np.asarray(vn), ref, rtol=2e-5, atol=1e-6)


@given(st.sampled_from(MATRIX_ORDS), st.booleans(), st.data())
@settings(max_examples=25, deadline=None)
def test_matrix_norms(ord_, keepdims, data):
    shape = tuple(data.draw(st.integers(1, 4)) for _ in range(3))
    axes = tuple(data.draw(st.permutations(range(3)))[:2])
    x = rand(shape).astype(np.float32)
    ours = L.norm(fnp.asarray(x), ord_, axis=axes, keepdims=keepdims)
    ref = np.linalg.norm(x, ord_, axis=axes, keepdims=keepdims)
    np.testing.assert_allclose(np.asarray(ours), ref, rtol=2e-5, atol=1e-5)
    close(L.matrix_norm(fnp.asarray(x), ord="fro" if ord_ is None else ord_),
          np.linalg.norm(x, "fro" if ord_ is None else ord_, axis=(-2, -1)), rtol=2e-5,
          atol=1e-5)


def test_norm_defaults_complex_and_grads(x64):
    x = rand((3, 4), np.complex128)
    close(L.norm(fnp.asarray(x)), np.linalg.norm(x))
    close(L.norm(fnp.asarray(x), 1), np.linalg.norm(x, 1))
    close(L.vector_norm(fnp.asarray(x)), np.linalg.norm(x.ravel()))
    real = fnp.asarray(rand((3, 4)))
    for ord_ in (None, "nuc", 2, -2):
        check_grads(lambda m, o=ord_: L.norm(m, o), (real,), order=2)
    for ord_ in (1, 3, np.inf):
        check_grads(lambda v, o=ord_: L.vector_norm(v, ord=o, axis=1), (real,), order=1)


# ---------------------------------------------------------------------------
# tensor solves, chains and the array-API names


def test_tensorsolve_tensorinv_multi_dot(x64):
    a = well_conditioned((6, 6)).reshape(2, 3, 6)
    b = rand((2, 3))
    close(L.tensorsolve(fnp.asarray(a), fnp.asarray(b)), np.linalg.tensorsolve(a, b),
          rtol=1e-9)
    first = well_conditioned((6, 6)).reshape(6, 2, 3)     # solved over axis 0 moved last
    close(L.tensorsolve(fnp.asarray(first), fnp.asarray(b), axes=(0,)),
          np.linalg.tensorsolve(first, b, axes=(0,)), rtol=1e-9)
    a4 = well_conditioned((6, 6)).reshape(6, 2, 3)
    close(L.tensorinv(fnp.asarray(a4), ind=1), np.linalg.tensorinv(a4, ind=1), rtol=1e-9)
    arrays = [rand((3,)), rand((3, 10)), rand((10, 2)), rand((2, 7)), rand((7,))]
    close(L.multi_dot([fnp.asarray(m) for m in arrays]), np.linalg.multi_dot(arrays),
          rtol=1e-9)
    mats = arrays[1:4]
    close(L.multi_dot([fnp.asarray(m) for m in mats]), np.linalg.multi_dot(mats), rtol=1e-9)
    check_grads(lambda *ms: L.multi_dot(ms), [fnp.asarray(m) for m in mats], order=1)


def test_array_api_names(x64):
    x, y = rand((2, 3)), rand((2, 3))
    close(L.cross(fnp.asarray(x), fnp.asarray(y)), np.cross(x, y))
    close(L.outer(fnp.asarray(x[0]), fnp.asarray(y[0])), np.outer(x[0], y[0]))
    close(L.matmul(fnp.asarray(x), fnp.asarray(y.T)), x @ y.T)
    close(L.tensordot(fnp.asarray(x), fnp.asarray(y), axes=2), np.tensordot(x, y, 2))
    close(L.vecdot(fnp.asarray(x), fnp.asarray(y)), np.sum(x * y, -1))
    t = rand((2, 3, 3))
    close(L.trace(fnp.asarray(t), offset=1), np.trace(t, 1, -2, -1))
    close(L.diagonal(fnp.asarray(t), offset=-1), np.diagonal(t, -1, -2, -1))
    close(L.matrix_transpose(fnp.asarray(t)), np.swapaxes(t, -1, -2))


# ---------------------------------------------------------------------------
# transformations


@pytest.mark.parametrize("name", ["solve", "inv", "det", "slogdet", "norm", "pinv", "eigvalsh"])
def test_vmap_and_jit(name, harness, x64):
    fns = {"solve": lambda a: L.solve(a, fnp.ones(3)), "inv": L.inv, "det": L.det,
           "slogdet": lambda a: tuple(L.slogdet(a)), "norm": lambda a: L.norm(a, 2),
           "pinv": L.pinv, "eigvalsh": L.eigvalsh}
    a = well_conditioned((4, 3, 3))
    if name == "eigvalsh":
        a = a + np.swapaxes(a, -1, -2)
    harness.check_vmap(fns[name], [a], (0,), rtol=1e-10, atol=1e-12)
    harness.check_vmap(fns[name], [np.moveaxis(a, 0, 2)], (2,), rtol=1e-10, atol=1e-12)
    harness.check_jit(fns[name], [a[0]], rtol=1e-12, atol=1e-12)


def test_grad_of_vmap_and_vmap_of_grad(x64):
    a = well_conditioned((3, 3, 3))
    per_example = fx.vmap(fx.grad(lambda m: L.slogdet(m).logabsdet))(fnp.asarray(a))
    # d log|det A| / dA = A^-T
    close(per_example, np.swapaxes(np.linalg.inv(a), -1, -2), rtol=1e-9)
    total = fx.grad(lambda m: fx.vmap(L.det)(m).sum())(fnp.asarray(a))
    close(total, np.linalg.det(a)[:, None, None] * np.swapaxes(np.linalg.inv(a), -1, -2),
          rtol=1e-9)


# ---------------------------------------------------------------------------
# errors


def test_bad_inputs():
    with pytest.raises(ValueError, match="square"):
        L.inv(fnp.ones((2, 3)))
    with pytest.raises(ValueError, match="square"):
        L.det(fnp.ones(3))
    with pytest.raises(ValueError, match="at least two dimensional"):
        L.solve(fnp.ones(3), fnp.ones(3))
    with pytest.raises(ValueError, match="rows"):
        L.solve(fnp.eye(3), fnp.ones((2, 2)))
    with pytest.raises(ValueError, match="Invalid shapes|invalid shapes"):
        L.solve(fnp.ones((2, 3, 3)), fnp.ones((2, 3)))
    with pytest.raises(TypeError, match="list"):
        L.inv([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="UPLO"):
        L.eigh(fnp.eye(2), UPLO="X")
    with pytest.raises(ValueError, match="mode"):
        L.qr(fnp.eye(2), mode="bogus")
    with pytest.raises(ValueError, match="order"):
        L.norm(fnp.ones(3), "fro")
    with pytest.raises(ValueError, match="matrix norm"):
        L.norm(fnp.ones((2, 2)), 3)
    with pytest.raises(ValueError, match="axes"):
        L.norm(fnp.ones((2, 2, 2)), axis=(0, 1, 2))
    with pytest.raises(TypeError, match="square"):
        L.matrix_power(fnp.ones((2, 3)), 2)
    with pytest.raises(TypeError, match="integer"):
        L.matrix_power(fnp.eye(2), 1.5)
    with pytest.raises(ValueError, match="3-vectors"):
        L.cross(fnp.ones(2), fnp.ones(2))
    with pytest.raises(ValueError, match="one-dimensional"):
        L.outer(fnp.ones((2, 2)), fnp.ones(2))
    with pytest.raises(ValueError, match="at least two"):
        L.multi_dot([fnp.ones((2, 2))])


# ---------------------------------------------------------------------------
# JAX as an oracle


@pytest.mark.jax
def test_values_and_gradients_match_jax(jax):
    jnp = jax.numpy
    a = well_conditioned((3, 3)).astype(np.float32)
    h = spd(3).astype(np.float32)
    b = rand((3, 2)).astype(np.float32)
    cases = {
        "det": lambda m, lib: lib.linalg.det(m),
        "slogdet": lambda m, lib: lib.linalg.slogdet(m)[1],
        "inv": lambda m, lib: lib.linalg.inv(m).sum(),
        "solve": lambda m, lib: (lib.linalg.solve(m, b) ** 2).sum(),
        "pinv": lambda m, lib: (lib.linalg.pinv(m) ** 2).sum(),
        "norm2": lambda m, lib: lib.linalg.norm(m, 2),
        "nuc": lambda m, lib: lib.linalg.norm(m, "nuc"),
        "eigvalsh": lambda m, lib: (lib.linalg.eigvalsh(m) ** 2).sum(),
        "cholesky": lambda m, lib: (lib.linalg.cholesky(m) ** 2).sum(),
        "cond": lambda m, lib: lib.linalg.cond(m),
        "matrix_power": lambda m, lib: lib.linalg.matrix_power(m, -3).sum(),
    }
    for name, fn in cases.items():
        x = h if name in ("eigvalsh", "cholesky") else a
        ours = fx.value_and_grad(lambda m, fn=fn: fn(m, fnp))(fnp.asarray(x))
        theirs = jax.jit(jax.value_and_grad(lambda m, fn=fn: fn(m, jnp)))(jnp.asarray(x))
        np.testing.assert_allclose(float(ours[0]), float(theirs[0]), rtol=2e-4, err_msg=name)
        np.testing.assert_allclose(np.asarray(ours[1]), np.asarray(theirs[1]), rtol=2e-3,
                                   atol=2e-4, err_msg=name)
        assert ours[1].dtype == theirs[1].dtype, name
