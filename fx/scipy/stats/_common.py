"""Shared helpers of the ``fx.scipy.stats`` distribution modules.

Invariants: every public function promotes its arguments together to one inexact
dtype and broadcasts them (``promote``), then computes with ``fx.lax``/``fx.numpy``
operations only; ``documented`` gives each function its docstring from one table of
argument descriptions, so the modules stay formulas.
"""
from __future__ import annotations

import functools
from typing import Callable

import numpy as np

import fx.numpy as fnp
from fx import dtypes, lax
from fx.scipy.special import _check_arraylike, _promote_inexact

__all__ = ["promote", "promote_keep_shapes", "const", "where", "documented", "log_diff"]

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


def promote_keep_shapes(name: str, *args):
    """The arguments as arrays of one inexact dtype, each keeping its own shape."""
    _check_arraylike(name, *args)
    arrays = [fnp.asarray(a) for a in args]
    dtype, weak = dtypes.result_type_and_weak(*arrays)
    if not dtypes.is_inexact(dtype):
        dtype = dtypes.default_float_dtype()
    if dtypes.is_complex(dtype):
        raise ValueError(f"{name} does not support complex-valued inputs.")
    return [lax._convert_element_type(a, dtype, weak) for a in arrays]


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


def _is_weak(a) -> bool:
    if dtypes.is_python_scalar(a):
        return True
    aval = getattr(a, "aval", None)
    return bool(aval is not None and aval.weak_type)


def _set_weak(out, weak: bool):
    if out.aval.weak_type == weak:
        return out
    return lax._convert_element_type(out, out.dtype, weak)


def documented(dist: str, example: str, args: tuple[str, ...] | None = None,
               weak: bool = True) -> Callable:
    """A decorator giving ``fn`` (named after a quantity) a docstring for ``dist``, and
    JAX's weak typing of the result: weak when ``weak`` and every argument is weak
    (Python scalars), strong otherwise."""
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*call_args, **kwargs):
            out = fn(*call_args, **kwargs)
            all_weak = all(_is_weak(a) for a in call_args + tuple(kwargs.values()))
            return _set_weak(out, weak and all_weak)

        quantity = QUANTITIES.get(fn.__name__, fn.__name__)
        names = args if args is not None else fn.__code__.co_varnames[:fn.__code__.co_argcount]
        lines = [f"{quantity.capitalize()} of the {dist} distribution (as "
                 f"``scipy.stats.{dist}.{fn.__name__}``).", "", "    Args:"]
        lines += [f"      {a}: {ARG_DOCS.get(a, a)}." for a in names]
        lines += ["", "    Returns:",
                  "      An array of the broadcast shape of the arguments, in their promoted "
                  "inexact dtype.", "", "    Example:",
                  f"      >>> fx.scipy.stats.{dist}.{fn.__name__}({example}).dtype",
                  "      dtype('float32')"]
        wrapper.__doc__ = "\n".join(lines) + "\n"
        return wrapper
    return decorate


def standardize(x, loc, scale):
    """``(x - loc) / scale``."""
    return lax.div(lax.sub(x, loc), scale)
