"""End-to-end program: a small convnet (stax Conv/Relu/MaxPool/Flatten/Dense) on
8x8 synthetic images: is the bright 2x2 square in the left or the right half?

Written once as a JAX program; run with fx and (when installed) JAX, final
losses compared.
"""
import functools

import numpy as np
import pytest


def make_data(n=96, seed=0):
    rng = np.random.RandomState(seed)
    x = 0.2 * rng.rand(n, 8, 8, 1).astype(np.float32)
    labels = rng.randint(0, 2, size=n)
    for k in range(n):
        r = rng.randint(0, 7)
        c = rng.randint(0, 3) + (4 if labels[k] else 0)
        x[k, r:r + 2, c:c + 2, 0] += 1.0
    return x, np.eye(2, dtype=np.float32)[labels], labels


def run(jax, jnp, stax, optimizers, steps=40):
    x, y, labels = make_data()
    x, y = jnp.asarray(x), jnp.asarray(y)

    init_fun, predict = stax.serial(
        stax.Conv(4, (3, 3), padding="SAME"), stax.Relu, stax.MaxPool((2, 2), strides=(2, 2)),
        stax.Conv(4, (3, 3), padding="VALID"), stax.Relu, stax.AvgPool((2, 2)),
        stax.Flatten, stax.Dense(2), stax.LogSoftmax)
    _, params = init_fun(jax.random.PRNGKey(0), (-1, 8, 8, 1))

    def loss(params, x, y):
        return -jnp.mean(jnp.sum(predict(params, x) * y, axis=1))

    opt_init, opt_update, get_params = optimizers.momentum(0.05, mass=0.9)

    @jax.jit
    def update(i, opt_state, x, y):
        g = jax.grad(loss)(get_params(opt_state), x, y)
        return opt_update(i, g, opt_state)

    opt_state = opt_init(params)
    first = float(loss(params, x, y))
    for i in range(steps):
        opt_state = update(i, opt_state, x, y)
    params = get_params(opt_state)
    final = float(loss(params, x, y))
    acc = float(jnp.mean(jnp.argmax(predict(params, x), axis=1) == jnp.asarray(labels)))
    return first, final, acc


@functools.lru_cache(None)
def run_fx():
    import fx as jax
    import fx.numpy as jnp
    from fx.example_libraries import optimizers, stax
    return run(jax, jnp, stax, optimizers)


def test_convnet_trains():
    first, final, acc = run_fx()
    print(first, final, acc)
    assert first > 0.5
    assert final < 0.2
    assert acc > 0.95


def test_convnet_matches_jax():
    pytest.importorskip("jax")
    import jax
    import jax.numpy as jnp
    from jax.example_libraries import optimizers, stax
    first_j, final_j, acc_j = run(jax, jnp, stax, optimizers)
    first, final, acc = run_fx()
    # Same init and data: after 40 momentum steps the losses agree to rtol 1e-3.
    np.testing.assert_allclose(first, first_j, rtol=1e-5)
    np.testing.assert_allclose(final, final_j, rtol=1e-3, atol=1e-5)
    assert abs(acc - acc_j) <= 1.0 / 96 + 1e-9
