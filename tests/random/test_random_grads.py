"""Derivatives of samples with respect to their parameters: reparameterised draws
(loc/scale, bounds) and the gamma family's implicit derivative, against finite
differences with the key held fixed, against the implicit-function formula from
SciPy, and against JAX where installed."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp

import fx
import fx.numpy as fnp
import fx.random as fr
from fx.test_util import check_grads
from primitives.random import random_gamma_grad_p

try:  # the public name, once fx.lax re-exports it
    from fx.lax import random_gamma_grad
except ImportError:
    from fx._random.lax_ext import random_gamma_grad

KEY = fr.key(3)


def test_location_scale_draws():
    def f(loc, scale):
        return loc + scale * fr.normal(KEY, (4,))
    check_grads(f, (np.float32(0.5), np.float32(2.0)), order=2, modes=("fwd", "rev"))

    def g(lo, hi):
        return fr.uniform(KEY, (4,), minval=lo, maxval=hi)
    check_grads(g, (np.float32(-1.0), np.float32(2.0)), order=1, modes=("fwd", "rev"))

    def h(scale):
        return fr.rayleigh(KEY, scale, (3,)) + fr.weibull_min(KEY, scale, 1.5, (3,))
    check_grads(h, (np.float32(1.5),), order=1, modes=("fwd", "rev"))


def _implicit_dx_da(a, x):
    """-(dP/da) / (dP/dx) by SciPy, with dP/da from a fine central difference (float64)."""
    h = 1e-6 * max(a, 1.0)
    dp_da = (sp.gammainc(a + h, x) - sp.gammainc(a - h, x)) / (2 * h)
    density = np.exp((a - 1) * np.log(x) - x - sp.gammaln(a))
    return -dp_da / density


@pytest.mark.parametrize("a,x", [(0.3, 0.05), (0.3, 1.2), (1.0, 0.7), (2.5, 2.0),
                                 (2.5, 6.0), (10.0, 8.5), (50.0, 47.0)])
def test_random_gamma_grad_values(a, x):
    with fx.enable_x64():
        got = float(random_gamma_grad_p.bind(fnp.asarray(a, fnp.float64),
                                             fnp.asarray(x, fnp.float64)))
    np.testing.assert_allclose(got, _implicit_dx_da(a, x), rtol=1e-5)


def _inverse_cdf_dx_da(a, x):
    """The derivative of x = P^-1(a, u) in a, u = P(a, x) held fixed: central differences
    of SciPy's gammaincinv (an independent oracle for the implicit gradient)."""
    u = sp.gammainc(a, x)
    h = 1e-5 * max(a, 1.0)
    return (sp.gammaincinv(a + h, u) - sp.gammaincinv(a - h, u)) / (2 * h)


def test_gamma_gradient_is_the_implicit_derivative():
    # With the key fixed, a gamma draw is x = P^-1(a, u): its derivative holds u fixed.
    with fx.enable_x64():
        a = np.array([0.4, 1.3, 3.0, 9.0])
        x = np.asarray(fr.gamma(KEY, a))
        grad = np.asarray(fx.grad(lambda alpha: fr.gamma(KEY, alpha).sum())(a))
        want = np.array([_inverse_cdf_dx_da(ai, xi) for ai, xi in zip(a, x, strict=True)])
        np.testing.assert_allclose(grad, want, rtol=1e-5)
        _, tangent = fx.jvp(lambda alpha: fr.gamma(KEY, alpha), (a,), (np.ones(4),))
        np.testing.assert_allclose(tangent, want, rtol=1e-5)
        # log space: d log x / da = (dx/da) / x, on the same draws
        log_x = np.asarray(fr.loggamma(KEY, a))
        np.testing.assert_allclose(np.exp(log_x), x, rtol=1e-10)
        grad = np.asarray(fx.grad(lambda alpha: fr.loggamma(KEY, alpha).sum())(a))
        np.testing.assert_allclose(grad, want / x, rtol=1e-5)


def test_gamma_family_gradients():
    with fx.enable_x64():
        # chisquare(df) = 2 * gamma(df / 2) on the same key
        df = np.float64(3.0)
        g = np.asarray(fr.chisquare(KEY, df, (3,))) / 2
        grad = fx.grad(lambda d: fr.chisquare(KEY, d, (3,)).sum())(df)
        np.testing.assert_allclose(grad, sum(_inverse_cdf_dx_da(1.5, gi) for gi in g),
                                   rtol=1e-5)
        # beta(a, b) = ga / (ga + gb) with ga, gb gamma draws from the two halves of the key
        a, b = np.float64(1.5), np.float64(2.5)
        keys = fr.split(KEY)
        ga = np.exp(np.asarray(fr.loggamma(keys[0], a, (3,))))
        gb = np.exp(np.asarray(fr.loggamma(keys[1], b, (3,))))
        np.testing.assert_allclose(fr.beta(KEY, a, b, (3,)), ga / (ga + gb), rtol=1e-10)
        dga = np.array([_inverse_cdf_dx_da(a, x) for x in ga])
        dgb = np.array([_inverse_cdf_dx_da(b, x) for x in gb])
        da, db = fx.grad(lambda p, q: fr.beta(KEY, p, q, (3,)).sum(), argnums=(0, 1))(a, b)
        np.testing.assert_allclose(da, np.sum(gb / (ga + gb) ** 2 * dga), rtol=1e-5)
        np.testing.assert_allclose(db, np.sum(-ga / (ga + gb) ** 2 * dgb), rtol=1e-5)
        # dirichlet rows sum to one, so their derivatives sum to zero
        jac = fx.jacfwd(lambda alpha: fr.dirichlet(KEY, alpha))(np.array([0.7, 2.0, 4.0]))
        np.testing.assert_allclose(np.asarray(jac).sum(0), 0, atol=1e-10)


def test_gamma_gradient_under_vmap_and_jit():
    keys = fr.split(KEY, 3)

    def loss(a, k):
        return fr.gamma(k, a, (2,)).sum()

    grads = fx.vmap(fx.grad(loss), in_axes=(None, 0))(np.float32(1.7), keys)
    loop = [fx.grad(loss)(np.float32(1.7), k) for k in keys]
    np.testing.assert_allclose(grads, loop, rtol=1e-6)
    np.testing.assert_allclose(fx.jit(fx.grad(loss))(np.float32(1.7), KEY),
                               fx.grad(loss)(np.float32(1.7), KEY), rtol=1e-6)


@pytest.mark.jax
def test_gamma_gradients_match_jax():
    import jax
    import jax.random as jr
    a = np.array([0.3, 1.0, 2.5, 10.0], np.float32)
    got = fx.grad(lambda x: fr.gamma(fr.key(1), x).sum())(a)
    want = jax.grad(lambda x: jr.gamma(jr.key(1), x).sum())(a)
    np.testing.assert_allclose(got, want, rtol=2e-4)
    x = np.array([0.05, 1.0, 2.0, 9.0], np.float32)
    np.testing.assert_allclose(random_gamma_grad(a, x), jax.lax.random_gamma_grad(a, x),
                               rtol=1e-4)
    # broadcasting a scalar shape parameter against samples
    np.testing.assert_allclose(random_gamma_grad(np.float32(2.0), x),
                               jax.lax.random_gamma_grad(np.float32(2.0), x), rtol=1e-4)


def test_second_derivative_of_gamma_is_unsupported():
    with pytest.raises(NotImplementedError, match="random_gamma_grad"):
        fx.grad(fx.grad(lambda a: fr.gamma(KEY, a)))(np.float32(2.0))
