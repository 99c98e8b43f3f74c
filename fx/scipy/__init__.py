"""``fx.scipy``: JAX's ``jax.scipy`` — ``special``, ``stats``, ``optimize`` and
``linalg``, built on fx's primitives."""
from fx.scipy import optimize, special, stats  # noqa: F401

try:  # linalg is written separately; fx.scipy still loads in a tree without it
    from fx.scipy import linalg  # noqa: F401
except ModuleNotFoundError as error:
    if error.name != "fx.scipy.linalg":
        raise
