# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A tour of fx
#
# fx traces pure functions over `fx.numpy` arrays into jaxprs and transforms them:
# `grad` for derivatives, `vmap` for batching, `jit` for staging and caching.

# %%
import fx
import fx.numpy as jnp


def loss(w, x, y):
    return jnp.mean((jnp.tanh(x * w) - y) ** 2)


x = jnp.linspace(-2.0, 2.0, 8)
y = jnp.sin(x)
w = jnp.asarray(0.5)
loss(w, x, y)

# %% [markdown]
# Reverse mode, and forward over reverse for the Hessian:

# %%
print(fx.grad(loss)(w, x, y))
print(fx.hessian(loss)(w, x, y))

# %% [markdown]
# `vmap` maps over a batch axis; here, gradients at four values of `w` at once:

# %%
ws = jnp.linspace(0.0, 1.0, 4)
fx.vmap(fx.grad(loss), in_axes=(0, None, None))(ws, x, y)

# %% [markdown]
# `jit` traces once per argument signature and reuses the result:

# %%
fast_grad = fx.jit(fx.grad(loss))
fast_grad(w, x, y)

# %% [markdown]
# The jaxpr is the program every transformation reads and writes:

# %%
print(fx.make_jaxpr(lambda v: jnp.sin(v) * 2)(jnp.ones(3)))

# %%
print(fx.make_jaxpr(fx.grad(loss))(w, x, y))
