"""Argument handling shared by ``fx.scipy.special`` and its kernel modules: checking
array-like arguments, promoting them together to one inexact dtype (JAX's
``promote_args_inexact``), and giving results JAX's weak typing.

Invariants: nothing here computes; every helper either validates (raising TypeError or
ValueError that names the argument) or converts dtypes and broadcasts.
"""
from __future__ import annotations

import functools

import numpy as np

import fx.numpy as fnp
from fx import dtypes, lax
from fx.core import Tracer

__all__ = ["check_arraylike", "promote_inexact", "require_float32_or_64", "is_weak",
           "weak_like_inputs", "compute_dtype", "SCALARS"]

SCALARS = (bool, int, float, complex, np.generic)


def check_arraylike(name: str, *args) -> None:
    """Raise TypeError unless every argument is an array or a scalar."""
    for i, a in enumerate(args):
        if not isinstance(a, (fnp.ndarray, Tracer, np.ndarray) + SCALARS) and not hasattr(
                a, "__jax_array__"):
            raise TypeError(f"{name} requires ndarray or scalar arguments, got "
                            f"{type(a).__name__} at position {i}.")


def promote_inexact(name: str, *args, allow_complex: bool = False):
    """The arguments converted to one inexact dtype and broadcast to one shape (a single
    array when given one argument, else a list)."""
    check_arraylike(name, *args)
    arrays = [fnp.asarray(a) for a in args]
    dtype, weak = dtypes.result_type_and_weak(*arrays)
    if not dtypes.is_inexact(dtype):
        dtype = dtypes.default_float_dtype()
    if dtypes.is_complex(dtype) and not allow_complex:
        raise ValueError(f"{name} does not support complex-valued inputs (got dtype "
                         f"{np.dtype(dtype).name}).")
    arrays = [lax._convert_element_type(a, dtype, weak) for a in arrays]
    if len(arrays) > 1:
        arrays = fnp.broadcast_arrays(*arrays)
    return arrays if len(arrays) > 1 else arrays[0]


def require_float32_or_64(name: str, x):
    """``x`` as an array, which must be float32 or float64."""
    check_arraylike(name, x)
    x = fnp.asarray(x)
    if np.dtype(x.dtype) not in (np.float32, np.float64):
        raise TypeError(f"{name}: x.dtype={np.dtype(x.dtype).name} is not supported; pass "
                        "float32 or float64.")
    return x


def is_weak(a) -> bool:
    """Whether ``a`` is a Python scalar or a weakly typed array."""
    if dtypes.is_python_scalar(a):
        return True
    aval = getattr(a, "aval", None)
    return bool(aval is not None and aval.weak_type)


def weak_like_inputs(fn):
    """Make ``fn``'s result weakly typed when every argument is (as JAX's lax-built
    versions of these functions are; custom derivatives and loops drop weak types)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        if args and all(is_weak(a) for a in args) and not out.aval.weak_type:
            out = lax._convert_element_type(out, out.dtype, True)
        return out
    return wrapper


def compute_dtype(dtype) -> np.dtype:
    """The dtype a series/continued-fraction kernel runs in: float64 stays, everything
    narrower (float16, bfloat16, float32) computes in float32."""
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(np.float32)
