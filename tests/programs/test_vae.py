"""End-to-end program: a variational autoencoder trained with the
reparameterisation trick (random.split / random.normal), with lax.fori_loop
running chunks of training steps inside one jitted function.

Written once as a JAX program; run with fx and (when installed) JAX, final
ELBOs compared.
"""
import functools

import numpy as np
import pytest


def make_data(n=128, seed=0):
    """8-D data near a 2-D linear subspace."""
    rng = np.random.RandomState(seed)
    z = rng.randn(n, 2)
    w = rng.randn(2, 8)
    return (z @ w + 0.1 * rng.randn(n, 8)).astype(np.float32)


def run(jax, jnp, lax, stax, optimizers, outer=6, inner=25):
    x = jnp.asarray(make_data())
    latent = 2

    enc_init, encode = stax.serial(
        stax.Dense(32), stax.Tanh, stax.FanOut(2), stax.parallel(stax.Dense(latent), stax.Dense(latent)))
    dec_init, decode = stax.serial(stax.Dense(32), stax.Tanh, stax.Dense(8))

    key = jax.random.PRNGKey(0)
    k_enc, k_dec, key = jax.random.split(key, 3)
    _, enc_params = enc_init(k_enc, (-1, 8))
    _, dec_params = dec_init(k_dec, (-1, latent))
    params = (enc_params, dec_params)

    def elbo(params, key, x):
        enc_params, dec_params = params
        mu, log_var = encode(enc_params, x)
        eps = jax.random.normal(key, mu.shape)
        z = mu + jnp.exp(0.5 * log_var) * eps
        x_hat = decode(dec_params, z)
        # Gaussian likelihood with unit-ish fixed variance 0.1, KL to N(0, I).
        log_lik = -0.5 * jnp.sum((x - x_hat) ** 2, axis=1) / 0.1
        kl = 0.5 * jnp.sum(jnp.exp(log_var) + mu ** 2 - 1.0 - log_var, axis=1)
        return jnp.mean(log_lik - kl)

    opt_init, opt_update, get_params = optimizers.adam(3e-3)

    @jax.jit
    def train_chunk(start, opt_state, key):
        def body(i, carry):
            opt_state, key = carry
            key, sub = jax.random.split(key)
            g = jax.grad(lambda p: -elbo(p, sub, x))(get_params(opt_state))
            return opt_update(i, g, opt_state), key
        return lax.fori_loop(start, start + inner, body, (opt_state, key))

    eval_key = jax.random.PRNGKey(42)
    eval_keys = jax.random.split(eval_key, 16)
    mean_elbo = jax.jit(lambda p: jnp.mean(jax.vmap(lambda k: elbo(p, k, x))(eval_keys)))

    first = float(mean_elbo(params))
    opt_state = opt_init(params)
    for j in range(outer):
        opt_state, key = train_chunk(j * inner, opt_state, key)
    final = float(mean_elbo(get_params(opt_state)))
    return first, final


@functools.lru_cache(None)
def run_fx():
    import fx as jax
    import fx.numpy as jnp
    from fx import lax
    from fx.example_libraries import optimizers, stax
    return run(jax, jnp, lax, stax, optimizers)


def test_vae_elbo_improves():
    first, final = run_fx()
    print(first, final)
    assert final > first + 50.0   # ELBO about -98 at init
    assert final > -20.0


def test_vae_matches_jax():
    pytest.importorskip("jax")
    import jax
    import jax.numpy as jnp
    from jax import lax
    from jax.example_libraries import optimizers, stax
    first_j, final_j = run(jax, jnp, lax, stax, optimizers)
    first, final = run_fx()
    # Same keys and data: after 150 adam steps the ELBOs agree to rtol 1e-3.
    np.testing.assert_allclose(first, first_j, rtol=1e-5)
    np.testing.assert_allclose(final, final_j, rtol=1e-3)
