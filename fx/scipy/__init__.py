"""``fx.scipy``: JAX's ``jax.scipy`` — ``special``, ``stats``, ``optimize`` and
``linalg``, built on fx's primitives."""
import importlib.util as _importlib_util

from fx.scipy import special, stats, optimize  # noqa: F401

# linalg is written separately; import it when present so fx.scipy never fails to load
if _importlib_util.find_spec("fx.scipy.linalg") is not None:
    from fx.scipy import linalg  # noqa: F401
