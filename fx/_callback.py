"""``fx.pure_callback``, as ``jax.pure_callback``: a pure Python function called
on host values from inside transformed code.

Invariant: the callback is pure, so it may be called more than once (``vmap``
with ``vmap_method="sequential"``) or not at all (its results unused); it has
no derivative (use ``custom_jvp``/``custom_vjp`` around it).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from fx import dtypes, tree_util
from fx.core import ShapedArray
from primitives.callbacks import pure_callback_p

__all__ = ["pure_callback"]

_VMAP_METHODS = ("sequential", "sequential_unrolled", "expand_dims", "broadcast_all",
                 "legacy_vectorized", None)


class _FlatCallback:
    """The user's callback taking flat leaves and returning flat leaves."""

    def __init__(self, callback_func: Callable, in_tree):
        self.callback_func, self.in_tree = callback_func, in_tree
        self.__name__ = getattr(callback_func, "__name__", type(callback_func).__name__)

    def __call__(self, *flat_args):
        args, kwargs = tree_util.tree_unflatten(self.in_tree, flat_args)
        return tree_util.tree_leaves(self.callback_func(*args, **kwargs))

    def __repr__(self):
        return f"_FlatCallback(callback_func={self.__name__}, in_tree={self.in_tree})"


def _result_aval(x) -> ShapedArray:
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(f"pure_callback: result_shape_dtypes leaves must have .shape and "
                        f".dtype (e.g. fx.ShapeDtypeStruct), got {x!r}")
    dtype = np.dtype(x.dtype)
    if dtypes.canonicalize_dtype(dtype) != dtype:
        raise ValueError("result_shape_dtypes cannot specify 64-bit types when "
                         "`jax_enable_x64` is disabled")
    return ShapedArray(tuple(x.shape), dtype)


def pure_callback(callback: Callable[..., Any], result_shape_dtypes: Any, *args: Any,
                  sharding=None, vmap_method: str | None = None, **kwargs: Any):
    """Call the pure Python function ``callback(*args, **kwargs)`` on host values.

    Works under ``jit`` and ``vmap`` (and inside loops). The callback receives
    ``fx.Array`` values and must return a pytree of arrays with the structure, shapes
    and dtypes of ``result_shape_dtypes`` (other dtypes are cast).

    Args:
      callback: a pure function of arrays.
      result_shape_dtypes: pytree of objects with ``shape`` and ``dtype``
        (e.g. ``fx.ShapeDtypeStruct``) describing the results.
      *args, **kwargs: the arguments (pytrees of arrays).
      sharding: accepted for compatibility (one device).
      vmap_method: how ``vmap`` calls it: ``"sequential"`` (once per lane),
        ``"sequential_unrolled"``, ``"expand_dims"`` (unbatched arguments get a
        leading axis of size 1), ``"broadcast_all"`` (they are broadcast), or
        ``"legacy_vectorized"`` (they are passed as they are). None: ``vmap`` raises.

    Returns:
      A pytree of arrays with the structure of ``result_shape_dtypes``.

    Example:
      >>> out = fx.ShapeDtypeStruct((3,), fx.numpy.float32)
      >>> fx.jit(lambda x: fx.pure_callback(np.sin, out, x))(fx.numpy.ones(3))
    """
    if vmap_method not in _VMAP_METHODS:
        raise ValueError(f"vmap_method must be on of the allowed methods "
                         f"{list(_VMAP_METHODS)}, but got: {vmap_method}")
    if not callable(callback):
        raise TypeError(f"pure_callback requires a callable, got {type(callback).__name__}")
    flat_args, in_tree = tree_util.tree_flatten((args, kwargs))
    result_avals = tree_util.tree_map(_result_aval, result_shape_dtypes)
    flat_avals, out_tree = tree_util.tree_flatten(
        result_avals, is_leaf=lambda x: isinstance(x, ShapedArray))
    outs = pure_callback_p.bind(*flat_args, callback=_FlatCallback(callback, in_tree),
                                result_avals=tuple(flat_avals), sharding=sharding,
                                vmap_method=vmap_method)
    return tree_util.tree_unflatten(out_tree, outs)
