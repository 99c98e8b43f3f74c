"""Shared helpers of the ``fx.scipy.stats`` distribution modules.

Invariants: every public function promotes its arguments together to one inexact
dtype and broadcasts them (``promote``), then computes with ``fx.lax``/``fx.numpy``
operations only; ``documented`` gives each function its docstring from one table of
argument descriptions, so the modules stay formulas.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

import fx.numpy as fnp
from fx import lax
from fx.scipy.special import _promote_inexact

__all__ = ["promote", "const", "where", "documented", "log_diff"]

ARG_DOCS = {
    "x": "points at which to evaluate",
    "k": "the number of successes / events (evaluated as a real number)",
    "q": "probabilities in [0, 1]",
    "p": "the success probability",
    "n": "the number of trials",
    "loc": "location (shift) of the distribution (default 0)",
    "scale": "scale of the distribution (default 1)",
    "a": "the first shape parameter",
    "b": "the second shape parameter",
    "df": "degrees of freedom",
    "mu": "the mean",
    "alpha": "the concentration parameters (a 1-D array)",
    "kappa": "the concentration",
    "beta": "the shape parameter",
    "c": "the shape parameter, in (0, 1)",
    "mean": "the mean vector",
    "cov": "the covariance matrix (or a scalar variance)",
}

QUANTITIES = {
    "logpdf": "the log of the probability density function",
    "pdf": "the probability density function",
    "logpmf": "the log of the probability mass function",
    "pmf": "the probability mass function",
    "cdf": "the cumulative distribution function",
    "logcdf": "the log of the cumulative distribution function",
    "sf": "the survival function, 1 - cdf",
    "logsf": "the log of the survival function",
    "ppf": "the percent point function (the inverse of the cdf)",
    "isf": "the inverse survival function",
    "entropy": "the entropy",
}


def promote(name: str, *args):
    """The arguments as arrays of one inexact dtype, broadcast to one shape."""
    out = _promote_inexact(name, *args)
    return out if len(args) > 1 else (out,)


def const(x, value):
    """``value`` as a rank-0 NumPy array of ``x``'s dtype (a literal in jaxprs)."""
    return np.asarray(value, dtype=x.dtype)


def where(cond, a, b):
    """``fnp.where`` keeping the dtype of ``a`` when ``b`` is a Python scalar."""
    out = fnp.where(cond, a, b)
    dtype = getattr(a, "dtype", None) or getattr(b, "dtype", None)
    return out if dtype is None or out.dtype == dtype else out.astype(dtype)


def log_diff(x, y):
    """``log(exp(x) - exp(y))`` for y <= x, computed without cancellation."""
    from fx.nn.functions import log1mexp
    d = x - y
    return fnp.where(x == -np.inf, x, x + log1mexp(d))


def documented(dist: str, example: str, args: tuple[str, ...] | None = None) -> Callable:
    """A decorator giving ``fn`` (named after a quantity) a docstring for ``dist``."""
    def decorate(fn):
        quantity = QUANTITIES.get(fn.__name__, fn.__name__)
        names = args if args is not None else fn.__code__.co_varnames[:fn.__code__.co_argcount]
        lines = [f"{quantity.capitalize()} of the {dist} distribution (as "
                 f"``scipy.stats.{dist}.{fn.__name__}``).", "", "    Args:"]
        lines += [f"      {a}: {ARG_DOCS.get(a, a)}." for a in names]
        lines += ["", "    Returns:",
                  "      An array of the broadcast shape of the arguments, in their promoted "
                  "inexact dtype.", "", "    Example:",
                  f"      >>> fx.scipy.stats.{dist}.{fn.__name__}({example})"]
        fn.__doc__ = "\n".join(lines) + "\n"
        return fn
    return decorate


def standardize(x, loc, scale):
    """``(x - loc) / scale``."""
    return lax.div(lax.sub(x, loc), scale)
