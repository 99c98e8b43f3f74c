"""``fx.debug``, as ``jax.debug``: ``print`` and ``callback``, which run with the
actual values wherever the code runs (eagerly, under ``jit``, ``vmap``,
``grad``, inside loops).

Invariants: arguments are split into array leaves (operands of the
``debug_print``/``debug_callback`` primitive) and static leaves (kept in the
params); the primitive is effectful, so dead-code elimination keeps it and it
runs in program order. Under ``vmap`` it runs once per lane; under
differentiation it sees primal values only.
"""
from __future__ import annotations

import string
from typing import Any, Callable

import numpy as np

from fx import core, tree_util
from fx.core import Tracer
from primitives.callbacks import (debug_callback_p, debug_effect, debug_print_p,
                                  merge_callback_args, ordered_debug_effect)

__all__ = ["print", "callback"]


def _is_array_like(x) -> bool:
    return isinstance(x, (Tracer, core._array_type[0], np.ndarray, np.generic, bool, int,
                          float, complex)) or hasattr(x, "__jax_array__")


def _split_args(args, kwargs):
    flat, in_tree = tree_util.tree_flatten((args, kwargs))
    static, dyn = {}, []
    for i, leaf in enumerate(flat):
        if _is_array_like(leaf):
            dyn.append(leaf.__jax_array__() if hasattr(leaf, "__jax_array__") else leaf)
        else:
            static[i] = leaf
    return in_tree, dyn, tuple(static.items())


class _FormatChecker(string.Formatter):
    """Checks that a format string's fields name given arguments, without formatting."""

    def format_field(self, value, format_spec):
        return ""


def print(fmt: str | None = None, *args, ordered: bool = False, partitioned: bool = False,
          skip_format_check: bool = False, **kwargs):
    """Print values, formatted with ``fmt.format(*args, **kwargs)``, when the code runs.

    Works inside ``jit``/``vmap``/``grad`` and loops (use it instead of Python's
    ``print``, which would show tracers). Under ``vmap`` it prints once per lane.

    Args:
      fmt: a ``str.format`` string (not an f-string: formatting happens at run time).
      *args, **kwargs: the values to format (pytrees of arrays; other leaves are static).
      ordered: keep this print ordered with respect to other ordered prints.
      partitioned: accepted for compatibility (one device).
      skip_format_check: do not check ``fmt`` against the arguments.

    Returns:
      None (or, called with options only, a function taking ``fmt, *args, **kwargs``).

    Example:
      >>> fx.jit(lambda x: fx.debug.print("x = {x}", x=x))(1.0)
      x = 1.0
    """
    def _print(fmt: str, *p_args, **p_kwargs):
        if not isinstance(fmt, str):
            raise TypeError(f"debug.print: fmt must be a str, got {type(fmt).__name__}")
        if not skip_format_check:
            _FormatChecker().format(fmt, *p_args, **p_kwargs)
        has_placeholders = False
        if fmt:
            _, field_name, *_ = next(iter(string.Formatter().parse(fmt)))
            has_placeholders = field_name is not None
        in_tree, dyn, static = _split_args(p_args, p_kwargs)
        debug_print_p.bind(*dyn, fmt=fmt, has_placeholders=has_placeholders, in_tree=in_tree,
                           logging_record=None,
                           np_printoptions=tuple(np.get_printoptions().items()),
                           ordered=ordered, partitioned=partitioned, static_args=static)

    if fmt is not None:
        _print(fmt, *args, **kwargs)
        return None
    if args or kwargs:
        raise TypeError(f"debug.print received unexpected arguments in the two-call form: "
                        f"args={args} kwargs={kwargs}")
    return _print


class _FlatCallback:
    """The user's callback taking flat array leaves (static leaves are filled back in)."""

    def __init__(self, callback: Callable, in_tree, static_args):
        self.callback, self.in_tree, self.static_args = callback, in_tree, static_args
        self.__name__ = getattr(callback, "__name__", type(callback).__name__)

    def __call__(self, *dyn_args):
        args, kwargs = merge_callback_args(self.in_tree, dyn_args, self.static_args)
        self.callback(*args, **kwargs)


def callback(callback: Callable[..., Any], *args, ordered: bool = False,
             partitioned: bool = False, **kwargs) -> None:
    """Call ``callback(*args, **kwargs)`` with the actual values when the code runs.

    The callback's return value is ignored. It receives ``fx.Array`` values (static
    leaves as given). It runs once per lane under ``vmap`` and sees primal values
    under differentiation.

    Args:
      callback: a Python function.
      *args, **kwargs: pytrees passed to it.
      ordered: keep this callback ordered with respect to other ordered callbacks.
      partitioned: accepted for compatibility (one device).

    Example:
      >>> fx.vmap(lambda x: fx.debug.callback(print, x))(fx.numpy.arange(2))
      0
      1
    """
    if not callable(callback):
        raise TypeError(f"debug.callback requires a callable, got {type(callback).__name__}")
    in_tree, dyn, static = _split_args(args, kwargs)
    debug_callback_p.bind(*dyn, callback=_FlatCallback(callback, in_tree, static),
                          effect=ordered_debug_effect if ordered else debug_effect,
                          partitioned=partitioned)
