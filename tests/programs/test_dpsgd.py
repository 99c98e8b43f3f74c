"""End-to-end program: differentially private SGD on logistic regression.
Per-example gradients come from vmap(grad(loss), in_axes=(None, 0, 0)); each is
clipped to L2 norm C, summed, and Gaussian noise (random.normal) of scale
sigma*C is added before averaging.

Written once as a JAX program; run with fx and (when installed) JAX.
"""
import functools

import numpy as np
import pytest

C = 1.0
SIGMA = 0.5


def make_data(n=256, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.randn(n, 5).astype(np.float32)
    w = np.array([2.0, -1.0, 0.5, 0.0, 1.5], np.float32)
    y = (x @ w + 0.3 * rng.randn(n) > 0).astype(np.float32)
    return x, y


def run(jax, jnp, steps=60, lr=0.5):
    x, y = (jnp.asarray(a) for a in make_data())

    def loss(params, xi, yi):
        w, b = params
        logit = jnp.dot(xi, w) + b
        return jnp.logaddexp(0.0, logit) - yi * logit   # -log likelihood

    def clipped_grads(params, xb, yb):
        g = jax.vmap(jax.grad(loss), in_axes=(None, 0, 0))(params, xb, yb)
        leaves = jax.tree_util.tree_leaves(g)
        norms = jnp.sqrt(sum(jnp.sum(l.reshape(l.shape[0], -1) ** 2, axis=1) for l in leaves))
        scale = jnp.minimum(1.0, C / jnp.maximum(norms, 1e-12))
        return jax.tree_util.tree_map(lambda l: l * scale.reshape((-1,) + (1,) * (l.ndim - 1)), g)

    @jax.jit
    def update(params, key, xb, yb):
        g = clipped_grads(params, xb, yb)
        keys = jax.random.split(key, len(jax.tree_util.tree_leaves(params)))
        leaves, tree = jax.tree_util.tree_flatten(g)
        noisy = [(jnp.sum(l, axis=0) + SIGMA * C * jax.random.normal(k, l.shape[1:])) / xb.shape[0]
                 for l, k in zip(leaves, keys)]
        step = jax.tree_util.tree_unflatten(tree, noisy)
        return jax.tree_util.tree_map(lambda p, s: p - lr * s, params, step)

    params = (jnp.zeros(5), jnp.zeros(()))
    key = jax.random.PRNGKey(0)
    batch = 64
    for i in range(steps):
        key, sub = jax.random.split(key)
        lo = (i * batch) % x.shape[0]
        params = update(params, sub, x[lo:lo + batch], y[lo:lo + batch])

    def mean_loss(params):
        return jnp.mean(jax.vmap(loss, in_axes=(None, 0, 0))(params, x, y))
    w, b = params
    acc = float(jnp.mean(((x @ w + b) > 0) == (y > 0.5)))
    clipped = clipped_grads(params, x, y)
    raw = jax.vmap(jax.grad(loss), in_axes=(None, 0, 0))(params, x, y)
    norm = lambda g: np.sqrt(sum(np.sum(np.asarray(l).reshape(x.shape[0], -1) ** 2, axis=1)
                                 for l in jax.tree_util.tree_leaves(g)))
    return float(mean_loss(params)), acc, norm(clipped), norm(raw), raw


@functools.lru_cache(None)
def run_fx():
    import fx as jax
    import fx.numpy as jnp
    return run(jax, jnp)


def test_dpsgd_trains_privately():
    final, acc, clipped_norms, raw_norms, _ = run_fx()
    print(final, acc, raw_norms.max())
    assert acc >= 0.9
    assert final < 0.35                       # log(2) = 0.693 at initialisation
    assert np.all(clipped_norms <= C * (1 + 1e-5))
    # Clipping left small gradients alone and scaled big ones to norm C exactly.
    np.testing.assert_allclose(clipped_norms, np.minimum(raw_norms, C), rtol=1e-5, atol=1e-7)
    assert raw_norms.max() > C                # the clip is exercised


def test_dpsgd_per_example_grads_match_loop():
    import fx
    import fx.numpy as jnp
    x, y = make_data(n=8)
    params = (jnp.asarray(np.linspace(-1, 1, 5, dtype=np.float32)), jnp.asarray(np.float32(0.2)))
    w, b = (np.asarray(p, np.float64) for p in params)
    def loss(p, xi, yi):
        logit = jnp.dot(xi, p[0]) + p[1]
        return jnp.logaddexp(0.0, logit) - yi * logit
    gw, gb = fx.jit(fx.vmap(fx.grad(loss), in_axes=(None, 0, 0)))(params, x, y)
    # Oracle: d/dw [softplus(z) - y z] = (sigmoid(z) - y) x, per example in a loop.
    for i in range(8):
        z = x[i] @ w + b
        r = 1.0 / (1.0 + np.exp(-z)) - y[i]
        np.testing.assert_allclose(gw[i], r * x[i], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(gb[i], r, rtol=1e-5, atol=1e-6)


def test_dpsgd_matches_jax():
    pytest.importorskip("jax")
    import jax
    import jax.numpy as jnp
    final_j, acc_j, _, _, raw_j = run(jax, jnp)
    final, acc, _, _, raw = run_fx()
    # Same keys and data: after 60 noisy steps the losses agree to rtol 1e-3.
    np.testing.assert_allclose(final, final_j, rtol=1e-3)
    assert abs(acc - acc_j) <= 1.0 / 256 + 1e-9
    for a, b in zip(raw, raw_j):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-3, atol=1e-5)
