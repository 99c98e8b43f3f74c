"""The README's tour, runnable as ``python -m fx.tour``.

Invariant: uses only fx's public API, prints each result, and never imports jax.
"""
from __future__ import annotations


def main() -> None:
    import fx
    import fx.numpy as jnp

    def loss(w, x, y):                        # a pure function of arrays
        return jnp.mean((jnp.tanh(x * w) - y) ** 2)

    x = jnp.linspace(-2.0, 2.0, 8)
    y = jnp.sin(x)
    w = jnp.asarray(0.5)

    print("loss        :", loss(w, x, y))
    print("grad        :", fx.grad(loss)(w, x, y))               # reverse mode
    print("hessian     :", fx.hessian(loss)(w, x, y))            # forward over reverse
    ws = jnp.linspace(0.0, 1.0, 4)
    print("vmap(grad)  :", fx.vmap(fx.grad(loss), in_axes=(0, None, None))(ws, x, y))
    fast_grad = fx.jit(fx.grad(loss))                            # staged and cached
    print("jit(grad)   :", fast_grad(w, x, y))
    print("jaxpr of sin(x) * 2:")
    print(fx.make_jaxpr(lambda v: jnp.sin(v) * 2)(jnp.ones(3)))
    print("jaxpr of grad(loss):")
    print(fx.make_jaxpr(fx.grad(loss))(w, x, y))


if __name__ == "__main__":
    main()
