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
from primitives.callbacks import (DebugEffect, debug_callback_p, debug_effect,
                                  debug_print_p, merge_callback_args, ordered_debug_effect)

__all__ = ["print", "callback", "log", "breakpoint", "inspect_array_sharding",
           "visualize_array_sharding", "visualize_sharding", "DebugEffect",
           "OrderedDebugEffect"]


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


# ---------------------------------------------------------------------------
# effects, logging, breakpoints and sharding inspection

class OrderedDebugEffect(DebugEffect):
    """The effect of an ordered debug callback (``ordered=True``)."""


def log(fmt: str | None = None, *args, ordered: bool = False, partitioned: bool = False,
        skip_format_check: bool = False, _use_logging: bool = True, **kwargs) -> None:
    """Like ``fx.debug.print``, but the formatted message goes to Python's ``logging``
    (logger ``fx.debug``, level INFO) when the code runs.

    Example:
      >>> fx.jit(lambda x: fx.debug.log("x = {}", x))(1.0)   # logs "x = 1.0"
    """
    if fmt is None:
        fmt = " ".join("{}" for _ in args)
    if not isinstance(fmt, str):
        raise TypeError(f"debug.log: fmt must be a str, got {type(fmt).__name__}")
    if not skip_format_check:
        _FormatChecker().format(fmt, *args, **kwargs)

    def emit(*a, **k):
        import logging
        with np.printoptions():
            message = fmt.format(*[np.asarray(v) for v in a],
                                 **{n: np.asarray(v) for n, v in k.items()})
        if _use_logging:
            logging.getLogger("fx.debug").info(message)
        else:
            import sys
            sys.stdout.write(message + "\n")

    callback(emit, *args, ordered=ordered, partitioned=partitioned, **kwargs)


def _interact(namespace: dict, banner: str) -> None:
    """The ``cli`` debugger: an interactive console over the captured values."""
    import code
    code.interact(banner=banner, local=namespace, exitmsg="")


def breakpoint(*, backend: str | None = None, filter_frames: bool = True,  # noqa: A001
               num_frames: int | None = None, ordered: bool = False, token=None, **kwargs):
    """Stop when the code runs and open a console over the values of the caller's local
    arrays (the actual values, also inside ``jit``/``vmap``/loops).

    Args:
      backend: ``"cli"`` (the default; an interactive Python console).
      ordered: keep this breakpoint ordered with respect to other ordered callbacks.
      filter_frames, num_frames: accepted for compatibility (only the caller's frame).

    Example:
      >>> def f(x):
      ...     y = x * 2
      ...     fx.debug.breakpoint()   # inspect x and y
      ...     return y
    """
    import inspect
    if backend not in (None, "cli"):
        raise ValueError(f"debug.breakpoint: unknown backend {backend!r}; fx has 'cli'")
    frame = inspect.currentframe().f_back
    names, values = [], []
    for name, value in frame.f_locals.items():
        if _is_array_like(value) and not isinstance(value, (bool, int, float, complex)):
            names.append(name)
            values.append(value)
    static = {n: v for n, v in frame.f_locals.items() if n not in names}
    where = f"{frame.f_code.co_filename}:{frame.f_lineno}"
    del frame

    def stop(*vals):
        namespace = dict(static)
        namespace.update(zip(names, vals))
        _interact(namespace, f"fx.debug.breakpoint at {where}; arrays: {', '.join(names)}")

    callback(stop, *values, ordered=ordered)
    return token


def inspect_array_sharding(value, *, callback: Callable) -> None:
    """Call ``callback(sharding)`` with the sharding of ``value`` (fx keeps each array on
    one device: a ``SingleDeviceSharding``), also inside ``jit``."""
    from fx import sharding
    from fx.devices import default_device, devices
    if not callable(callback):
        raise TypeError(f"inspect_array_sharding requires a callable, got "
                        f"{type(callback).__name__}")
    device = getattr(value, "device", None)
    if device is None or callable(device) or isinstance(value, Tracer):
        device = default_device() or devices()[0]
    callback(sharding.SingleDeviceSharding(device))


def visualize_sharding(shape, sharding, *, use_color: bool = True, scale: float = 1.0,
                       min_width: int = 9, max_width: int = 80, color_map=None) -> None:
    """Print a box showing which device holds which part of an array of ``shape``
    (one device here: one box naming it)."""
    shape = tuple(int(d) for d in shape)
    if len(shape) > 2:
        raise ValueError(f"visualize_sharding only supports 1-d and 2-d shapes, got {shape}")
    device_set = getattr(sharding, "device_set", None)
    devs = sorted(device_set, key=lambda d: getattr(d, "id", 0)) if device_set else []
    label = ",".join(str(getattr(d, "id", d)) for d in devs) or "0"
    platform = getattr(devs[0], "platform", "cpu").upper() if devs else "CPU"
    text = f"{platform} {label}"
    width = max(min_width, min(max_width, int(len(text) + 4 * scale)))
    import builtins
    builtins.print("┌" + "─" * width + "┐")
    builtins.print("│" + text.center(width) + "│")
    builtins.print("└" + "─" * width + "┘")


def visualize_array_sharding(arr, **kwargs) -> None:
    """``visualize_sharding`` for the array ``arr``."""
    holder = []
    inspect_array_sharding(arr, callback=holder.append)
    visualize_sharding(np.shape(arr), holder[0], **kwargs)
