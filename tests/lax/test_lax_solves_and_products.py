"""``lax.custom_linear_solve``, ``lax.custom_root``, ``conv_general_dilated_local``,
``ragged_dot_general`` and ``scaled_dot``: values against NumPy and JAX, derivatives
against finite differences (and JAX's implicit derivatives), vmap against a loop, jit
against eager.
"""
from __future__ import annotations

import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import lax
from fx.test_util import check_grads

RNG = np.random.default_rng(1)


def _spd(n):
    m = RNG.standard_normal((n, n))
    return (m @ m.T + n * np.eye(n)).astype(np.float32)


def _solve(A, b):
    return lax.custom_linear_solve(lambda x: A @ x, b,
                                   lambda mv, r: fnp.linalg.solve(A, r),
                                   lambda vm, r: fnp.linalg.solve(A.T, r))


def test_custom_linear_solve_value_and_derivatives():
    A = fnp.asarray(_spd(3) + np.triu(np.ones((3, 3), np.float32)))
    b = fnp.asarray(RNG.standard_normal(3).astype(np.float32))
    np.testing.assert_allclose(_solve(A, b), np.linalg.solve(np.asarray(A), np.asarray(b)),
                               rtol=1e-5)
    check_grads(_solve, (A, b), order=1, modes=("fwd", "rev"), atol=2e-2, rtol=2e-2)
    # second order through the solve
    check_grads(lambda b: _solve(A, b) ** 2, (b,), order=2, modes=("fwd", "rev"),
                atol=2e-2, rtol=2e-2)
    np.testing.assert_allclose(fx.jit(fx.grad(lambda A: _solve(A, b).sum()))(A),
                               fx.grad(lambda A: _solve(A, b).sum())(A), rtol=1e-6)


def test_custom_linear_solve_matches_jax_and_vmap():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    A = _spd(4)
    b = RNG.standard_normal(4).astype(np.float32)

    def jsolve(A, b):
        return jax.lax.custom_linear_solve(lambda x: A @ x, b,
                                           lambda mv, r: jnp.linalg.solve(A, r),
                                           symmetric=True)

    def fsolve(A, b):
        return lax.custom_linear_solve(lambda x: A @ x, b,
                                       lambda mv, r: fnp.linalg.solve(A, r), symmetric=True)
    g_jax = jax.grad(lambda A, b: jsolve(A, b).sum(), argnums=(0, 1))(A, b)
    g_fx = fx.grad(lambda A, b: fsolve(A, b).sum(), argnums=(0, 1))(A, b)
    for gj, gf in zip(g_jax, g_fx):
        np.testing.assert_allclose(gf, np.asarray(gj), rtol=1e-4, atol=1e-5)
    bs = RNG.standard_normal((5, 4)).astype(np.float32)
    out = fx.vmap(fsolve, in_axes=(None, 0))(A, bs)
    np.testing.assert_allclose(out, np.stack([np.linalg.solve(A, v) for v in bs]), rtol=1e-4)
    As = np.stack([_spd(4) for _ in range(3)])
    out = fx.vmap(fsolve, in_axes=(0, None))(As, b)
    np.testing.assert_allclose(out, np.stack([np.linalg.solve(a, b) for a in As]), rtol=1e-4)


def test_custom_linear_solve_pytree_and_aux():
    A = fnp.asarray(_spd(2))

    def matvec(x):
        return {"u": A @ x["u"], "v": 2.0 * x["v"]}

    def solve(mv, r):
        return {"u": fnp.linalg.solve(A, r["u"]), "v": r["v"] / 2.0}, fnp.float32(7)
    b = {"u": fnp.ones(2), "v": fnp.arange(3.0)}
    x, aux = lax.custom_linear_solve(matvec, b, solve, symmetric=True, has_aux=True)
    np.testing.assert_allclose(x["u"], np.linalg.solve(np.asarray(A), np.ones(2)), rtol=1e-5)
    np.testing.assert_allclose(x["v"], np.arange(3.0) / 2)
    assert float(aux) == 7.0
    with pytest.raises(TypeError, match="transpose_solve required"):
        fx.grad(lambda b: lax.custom_linear_solve(
            lambda x: A @ x, b, lambda mv, r: fnp.linalg.solve(A, r)).sum())(fnp.ones(2))


def _newton(f, x0):
    def body(_, x):
        return x - f(x) / fx.grad(f)(x)
    return lax.fori_loop(0, 30, body, x0)


def _scalar_solve(g, y):
    return y / g(1.0)


def test_custom_root_implicit_derivative():
    def cube_root(a):
        return lax.custom_root(lambda x: x ** 3 - a, 1.0, _newton, _scalar_solve)
    a = 5.0
    np.testing.assert_allclose(cube_root(a), a ** (1 / 3), rtol=1e-5)
    np.testing.assert_allclose(fx.grad(cube_root)(a), (1 / 3) * a ** (-2 / 3), rtol=1e-4)
    check_grads(cube_root, (fnp.float32(a),), order=1, modes=("fwd", "rev"), atol=1e-2,
                rtol=1e-2)
    xs = np.array([1.0, 8.0, 27.0], np.float32)
    np.testing.assert_allclose(fx.vmap(fx.grad(cube_root))(xs), (1 / 3) * xs ** (-2 / 3),
                               rtol=1e-4)
    np.testing.assert_allclose(fx.jit(fx.grad(cube_root))(a), fx.grad(cube_root)(a),
                               rtol=1e-6)


def test_custom_root_vector_matches_jax():
    jax = pytest.importorskip("jax")
    A = _spd(3)

    def make(lax_mod, np_mod, solve_fn):
        def root(c):
            f = lambda x: A @ x + x ** 3 / 10 - c  # noqa: E731

            def newton(f, x0):
                x = x0
                for _ in range(8):
                    J = jax.jacfwd(f)(x) if lax_mod is jax.lax else fx.jacfwd(f)(x)
                    x = x - np_mod.linalg.solve(J, f(x))
                return x

            def tangent_solve(g, y):
                J = (jax.jacfwd(g) if lax_mod is jax.lax else fx.jacfwd(g))(y)
                return np_mod.linalg.solve(J, y)
            return lax_mod.custom_root(f, np_mod.zeros(3, np.float32), newton, tangent_solve)
        return root

    c = RNG.standard_normal(3).astype(np.float32)
    f_root, j_root = make(lax, fnp, None), make(jax.lax, jax.numpy, None)
    np.testing.assert_allclose(f_root(c), np.asarray(j_root(c)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fx.jacrev(f_root)(c), np.asarray(jax.jacrev(j_root)(c)),
                               rtol=1e-3, atol=1e-4)


# ---------------------------------------------------------------------------
# products


@pytest.mark.parametrize("dn", [None, ("NHWC", "HWIO", "NHWC")])
def test_conv_general_dilated_local_matches_jax(dn):
    jax = pytest.importorskip("jax")
    if dn is None:
        lhs = RNG.standard_normal((2, 3, 6, 5)).astype(np.float32)
        rhs = RNG.standard_normal((4, 3 * 6, 3, 3)).astype(np.float32)
        strides, filt = (2, 2), (3, 2)
        pad = ((1, 0), (0, 1))
    else:
        lhs = RNG.standard_normal((2, 5, 4, 3)).astype(np.float32)
        rhs = RNG.standard_normal((5, 2, 3 * 4, 2)).astype(np.float32)
        strides, filt, pad = (1, 2), (1, 4), "SAME"
    expected = jax.lax.conv_general_dilated_local(lhs, rhs, strides, pad, filt,
                                                  dimension_numbers=dn)
    out = lax.conv_general_dilated_local(lhs, rhs, strides, pad, filt, dimension_numbers=dn)
    np.testing.assert_allclose(out, np.asarray(expected), rtol=1e-4, atol=1e-4)
    check_grads(lambda lh, rh: lax.conv_general_dilated_local(lh, rh, strides, pad, filt,
                                                            dimension_numbers=dn),
                (fnp.asarray(lhs), fnp.asarray(rhs)), order=1, modes=("fwd", "rev"),
                atol=5e-2, rtol=5e-2)


def test_ragged_dot_general_modes_match_jax():
    jax = pytest.importorskip("jax")
    sizes = np.array([2, 0, 3], np.int32)
    # ragged non-contracting dimension (ragged_dot)
    lhs = RNG.standard_normal((5, 4)).astype(np.float32)
    rhs = RNG.standard_normal((3, 4, 6)).astype(np.float32)
    dn = lax.RaggedDotDimensionNumbers((((1,), (1,)), ((), ())), (0,), (0,))
    jdn = jax.lax.RaggedDotDimensionNumbers((((1,), (1,)), ((), ())), (0,), (0,))
    out = lax.ragged_dot_general(lhs, rhs, sizes, dn)
    np.testing.assert_allclose(out, np.asarray(jax.lax.ragged_dot_general(lhs, rhs, sizes,
                                                                          jdn)),
                               rtol=1e-5, atol=1e-5)
    check_grads(lambda lh, rh: lax.ragged_dot_general(lh, rh, sizes, dn),
                (fnp.asarray(lhs), fnp.asarray(rhs)), order=1, modes=("fwd", "rev"),
                atol=2e-2, rtol=2e-2)
    # ragged contracting dimension: one product per group
    lhs2 = RNG.standard_normal((4, 5)).astype(np.float32)
    rhs2 = RNG.standard_normal((5, 6)).astype(np.float32)
    dn2 = lax.RaggedDotDimensionNumbers((((1,), (0,)), ((), ())), (1,), ())
    jdn2 = jax.lax.RaggedDotDimensionNumbers((((1,), (0,)), ((), ())), (1,), ())
    np.testing.assert_allclose(
        lax.ragged_dot_general(lhs2, rhs2, sizes, dn2),
        np.asarray(jax.lax.ragged_dot_general(lhs2, rhs2, sizes, jdn2)), rtol=1e-5,
        atol=1e-5)
    # vmap against a loop over lhs batches
    lhss = RNG.standard_normal((3, 5, 4)).astype(np.float32)
    out = fx.vmap(lambda lh: lax.ragged_dot_general(lh, rhs, sizes, dn))(lhss)
    np.testing.assert_allclose(out, np.stack([lax.ragged_dot_general(lh, rhs, sizes, dn)
                                              for lh in lhss]), rtol=1e-6)


def test_scaled_dot_against_numpy():
    lhs = RNG.standard_normal((4, 8)).astype(np.float32)
    rhs = RNG.standard_normal((8, 3)).astype(np.float32)
    ls = RNG.uniform(0.5, 2, (4, 2)).astype(np.float32)
    rs = RNG.uniform(0.5, 2, (2, 3)).astype(np.float32)
    expected = (lhs * np.repeat(ls, 4, axis=1)) @ (rhs * np.repeat(rs, 4, axis=0))
    out = lax.scaled_dot(lhs, rhs, lhs_scale=ls, rhs_scale=rs)
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    # (JAX's CPU lowering rounds the scaled operands to a narrower type, about 1% off
    # the exact product, so NumPy is the oracle here)
    out2 = lax.scaled_dot(lhs[None], rhs[None], lhs_scale=ls[None], rhs_scale=rs[None])
    np.testing.assert_allclose(out2[0], expected, rtol=1e-5)
    with pytest.raises(TypeError, match="scale shape"):
        lax.scaled_dot(lhs, rhs, lhs_scale=ls[:, :1].repeat(3, 1))
