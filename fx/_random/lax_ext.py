"""``fx.lax.random_gamma_grad``: the lax-level wrapper of the ``random_gamma_grad``
primitive (kept free of ``fx.numpy`` so ``fx.lax`` can import it)."""
from __future__ import annotations

import numpy as np

from fx.core import get_aval
from fx.lax import _lax as lax
from primitives.random import random_gamma_grad_p

__all__ = ["random_gamma_grad"]


def random_gamma_grad(a, x):
    """The derivative of a Gamma(a, 1) sample ``x`` with respect to ``a``, its CDF held
    fixed: ``-(dP(a, x)/da) / (dP(a, x)/dx)`` with ``P`` the regularized lower incomplete
    gamma function (the implicit reparameterisation gradient).

    Args:
      a: shape parameters (floating).
      x: samples, of the same dtype; broadcast against ``a``.

    Returns:
      ``dx/da`` elementwise.

    Example:
      >>> fx.lax.random_gamma_grad(2.0, 1.5)  # doctest: +SKIP
    """
    a, x = lax._lax_args(a, x)
    sa, sx = get_aval(a).shape, get_aval(x).shape
    if sa != sx and sa and sx:
        shape = tuple(np.broadcast_shapes(sa, sx))
        a = _broadcast(a, sa, shape)
        x = _broadcast(x, sx, shape)
    return lax._bind(random_gamma_grad_p, a, x)


def _broadcast(v, vshape, shape):
    if vshape == shape:
        return v
    lead = len(shape) - len(vshape)
    keep = tuple(i for i, d in enumerate(vshape) if not (d == 1 and shape[lead + i] != 1))
    v = lax.reshape(v, tuple(vshape[i] for i in keep)) if len(keep) != len(vshape) else v
    return lax.broadcast_in_dim(v, shape, tuple(lead + i for i in keep))
