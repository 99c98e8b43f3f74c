"""Tests of fx.scipy.optimize.minimize (BFGS) and its line search: optima against
scipy.optimize and known solutions, the strong Wolfe conditions on random
problems, jit against eager, vmap against a loop, status codes and options, JAX's
results where installed, and the argument errors.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize as sopt
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx.scipy.optimize import OptimizeResults, minimize
from fx.scipy.optimize._line_search import line_search


def rosen(x):
    return fnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosen_np(x):
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


STARTS = {"2d": np.array([-1.2, 1.0]), "5d": np.array([1.3, 0.7, 0.8, 1.9, 1.2]),
          "4d": np.array([-1.2, 1.0, -1.2, 1.0])}


@pytest.mark.parametrize("start", sorted(STARTS))
def test_rosenbrock_matches_scipy(start):
    x0 = STARTS[start]
    dim = x0.size
    with fx.enable_x64():
        res = minimize(rosen, fnp.asarray(x0), method="BFGS")
    assert isinstance(res, OptimizeResults)
    ref = sopt.minimize(rosen_np, x0, method="BFGS", jac=sopt.rosen_der)
    np.testing.assert_allclose(np.asarray(res.x), ref.x, atol=1e-4)
    np.testing.assert_allclose(np.asarray(res.x), np.ones(dim), atol=1e-4)
    assert bool(res.success) and int(res.status) == 0
    assert float(res.fun) < 1e-8
    assert np.max(np.abs(np.asarray(res.jac))) < 1e-5
    assert int(res.nfev) >= int(res.nit) > 0 and int(res.njev) == int(res.nfev)
    # the inverse-Hessian approximation approaches the true inverse Hessian at the optimum
    true_inv = np.linalg.inv(sopt.rosen_hess(np.ones(dim)))
    assert np.allclose(np.asarray(res.hess_inv), true_inv, atol=0.2 * np.abs(true_inv).max())


def test_rosenbrock_local_minimum():
    # from this start (6-D Rosenbrock has a second local minimum near x0 = -1) the result
    # must still be a stationary point with a positive definite Hessian
    with fx.enable_x64():
        res = minimize(rosen, fnp.asarray(np.linspace(-1.2, 1.1, 6)), method="BFGS")
    assert bool(res.success)
    x = np.asarray(res.x)
    assert np.max(np.abs(sopt.rosen_der(x))) < 1e-4
    assert np.all(np.linalg.eigvalsh(sopt.rosen_hess(x)) > 0)


def test_quadratic_with_args_and_tol():
    rng = np.random.RandomState(0)
    a = rng.randn(5, 5)
    hess = a @ a.T + 5 * np.eye(5)
    b = rng.randn(5)

    def f(x, h, c):
        return 0.5 * x @ (h @ x) - c @ x

    with fx.enable_x64():
        res = minimize(f, fnp.zeros(5), args=(fnp.asarray(hess), fnp.asarray(b)),
                       method="bfgs", tol=1e-10)
    np.testing.assert_allclose(np.asarray(res.x), np.linalg.solve(hess, b), rtol=1e-8)
    assert int(res.status) == 0


def test_float32_and_int_start():
    res = minimize(lambda x: fnp.sum((x - 3.0) ** 2), fnp.zeros(3), method="BFGS")
    assert res.x.dtype == np.float32
    np.testing.assert_allclose(np.asarray(res.x), [3., 3., 3.], rtol=1e-5)
    res_int = minimize(lambda x: fnp.sum((x - 3.0) ** 2), np.zeros(3, np.int32),
                       method="BFGS")
    assert res_int.x.dtype == np.float32


def test_jit_matches_eager_and_vmap_matches_loop():
    starts = np.array([[-1.2, 1.0], [0.5, -0.5], [2.0, 2.0]])
    with fx.enable_x64():
        solve = lambda x0: minimize(rosen, x0, method="BFGS")  # noqa: E731
        eager = [solve(fnp.asarray(s)) for s in starts]
        jitted = fx.jit(solve)(fnp.asarray(starts[0]))
        for field in ("x", "fun", "nit", "nfev", "status"):
            np.testing.assert_array_equal(np.asarray(getattr(jitted, field)),
                                          np.asarray(getattr(eager[0], field)))
        batched = fx.vmap(solve)(fnp.asarray(starts))
    for i, e in enumerate(eager):
        np.testing.assert_allclose(np.asarray(batched.x)[i], np.asarray(e.x), rtol=1e-10,
                                   atol=1e-12)
        assert int(np.asarray(batched.nit)[i]) == int(e.nit)


def test_maxiter_status_and_options():
    with fx.enable_x64():
        res = minimize(rosen, fnp.asarray([-1.2, 1.0]), method="BFGS",
                       options=dict(maxiter=3))
        assert int(res.nit) == 3 and int(res.status) == 1 and not bool(res.success)
        loose = minimize(rosen, fnp.asarray([-1.2, 1.0]), method="BFGS",
                         options=dict(gtol=1e-2, norm=2))
        assert np.linalg.norm(np.asarray(loose.jac)) < 1e-2
        assert int(loose.nit) < int(minimize(rosen, fnp.asarray([-1.2, 1.0]),
                                             method="BFGS").nit)
        # already at the optimum: converged before any iteration
        done = minimize(rosen, fnp.ones(3), method="BFGS")
        assert int(done.nit) == 0 and bool(done.success)


def test_matches_jax(jax):
    import jax.numpy as jnp
    import jax.scipy.optimize as jopt
    x0 = np.array([-1.2, 1.0, 0.3], np.float32)

    def f_jax(x):
        return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    expected = jopt.minimize(f_jax, jnp.asarray(x0), method="BFGS")
    out = minimize(rosen, x0, method="BFGS")
    np.testing.assert_allclose(np.asarray(out.x), np.asarray(expected.x), atol=2e-3)
    assert bool(out.success) == bool(expected.success)
    assert out.x.dtype == expected.x.dtype and out.fun.dtype == expected.fun.dtype


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), dim=st.integers(1, 4))
def test_line_search_strong_wolfe(seed, dim):
    rng = np.random.RandomState(seed)
    a = rng.randn(dim, dim)
    hess = a @ a.T + 0.1 * np.eye(dim)
    shift = rng.randn(dim)

    def f(x):
        d = x - shift
        return 0.5 * d @ (hess @ d) + 0.1 * fnp.sum(d ** 4)

    with fx.enable_x64():
        x = fnp.asarray(rng.randn(dim))
        g = fx.grad(f)(x)
        p = -g * rng.uniform(0.01, 3.0)
        res = line_search(f, x, p, c1=1e-4, c2=0.9)
        a_k = float(res.a_k)
        phi0, dphi0 = float(f(x)), float(g @ p)
        if dphi0 >= -1e-14:  # not a descent direction (gradient ~ 0)
            return
        assert not bool(res.failed), res
        assert float(f(x + a_k * p)) <= phi0 + 1e-4 * a_k * dphi0 + 1e-12
        dphi = float(fx.grad(f)(x + a_k * p) @ p)
        assert abs(dphi) <= 0.9 * abs(dphi0) + 1e-12
        np.testing.assert_allclose(float(res.f_k), float(f(x + a_k * p)), rtol=1e-12)


def test_errors():
    f = lambda x: fnp.sum(x ** 2)  # noqa: E731
    with pytest.raises(TypeError, match="tuple"):
        minimize(f, fnp.zeros(2), args=[1], method="BFGS")
    with pytest.raises(ValueError, match="not recognized"):
        minimize(f, fnp.zeros(2), method="Nelder-Mead")
    with pytest.raises(ValueError, match="one-dimensional"):
        minimize(f, fnp.zeros((2, 2)), method="BFGS")
    with pytest.raises(TypeError, match="options"):
        minimize(f, fnp.zeros(2), method="BFGS", options=dict(max_iter=3))
    with pytest.raises(TypeError):
        minimize(f, fnp.zeros(2))  # method is required, as in JAX
