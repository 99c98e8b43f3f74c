"""Top-level utilities of ``jax``'s namespace: caches, tracing switches, names.

Invariant: each name does what JAX's does on a single-process CPU runtime; where
JAX's effect does not exist here (no host/device transfers, synchronous
execution), the function is the identity or an empty context, and says so.
"""
from __future__ import annotations

import contextlib
import functools
import platform
import sys
import weakref
from typing import Any, Callable

import numpy as np

from fx import core
from fx.config import config

_jitted: "weakref.WeakSet" = weakref.WeakSet()


def register_jitted(fn) -> None:
    """Remember a jitted function so ``clear_caches`` can reach it."""
    _jitted.add(fn)


def clear_caches() -> None:
    """Drop every cache of traced and compiled programs (jit, control-flow bodies)."""
    for fn in list(_jitted):
        fn.clear_cache()
    from fx.interpreters import jit as _jit
    _jit._executables.clear()
    from fx.lax import _control_flow
    _control_flow._traced_cache.clear()


def _config_context(name: str, value: Any):
    return config._override(name, value)


def check_tracer_leaks(enable: bool = True):
    """Context manager for JAX's leak checking. fx always checks: a tracer used after its
    transformation finished raises ``UnexpectedTracerError`` naming where it was made."""
    return _config_context("jax_check_tracer_leaks", enable)


checking_leaks = functools.partial(check_tracer_leaks, True)


def log_compiles(enable: bool = True):
    """Context manager: print a line each time ``jit`` traces and compiles a function."""
    return _config_context("jax_log_compiles", enable)


def explain_cache_misses(enable: bool = True):
    """Context manager: when ``jit`` compiles again, print what differed from before
    (argument structure, shapes/dtypes/weak types, static values or configuration)."""
    return _config_context("jax_explain_cache_misses", enable)


def default_matmul_precision(precision: str | None):
    """Context manager setting the default precision of matrix products."""
    return _config_context("jax_default_matmul_precision", precision)


def ensure_compile_time_eval():
    """Context manager: inside a traced function, operations whose inputs are all
    concrete are evaluated now instead of being staged into the jaxpr."""
    return _config_context("jax_compile_time_eval", True)


@contextlib.contextmanager
def named_scope(name: str):
    """Context manager naming the operations traced inside it (for profiles)."""
    if not isinstance(name, str):
        raise TypeError(f"named_scope name must be a string, got {type(name).__name__}")
    yield


def named_call(fun: Callable, *, name: str | None = None) -> Callable:
    """``fun`` with a name for profiles; computes exactly what ``fun`` computes."""
    if not callable(fun):
        raise TypeError(f"named_call requires a callable, got {type(fun).__name__}")

    @functools.wraps(fun)
    def named(*args, **kwargs):
        with named_scope(name or getattr(fun, "__name__", "call")):
            return fun(*args, **kwargs)

    return named


def typeof(x) -> core.ShapedArray:
    """The abstract value (shape, dtype, weak type) of ``x``."""
    return core.get_aval(x)


def copy_to_host_async(x):
    """Start copying the arrays of pytree ``x`` to the host (here they already are)."""
    from fx import tree_util
    for leaf in tree_util.tree_leaves(x):
        if hasattr(leaf, "copy_to_host_async"):
            leaf.copy_to_host_async()
    return x


def effects_barrier() -> None:
    """Wait until every effect (debug prints, callbacks) has run: fx runs them in order,
    synchronously, so they already have."""
    return None


@contextlib.contextmanager
def _no_transfers(level: str = "allow"):
    if level not in ("allow", "log", "disallow", "log_explicit", "disallow_explicit"):
        raise ValueError(f"transfer guard level must be one of 'allow', 'log', 'disallow', "
                         f"'log_explicit', 'disallow_explicit'; got {level!r}")
    yield


transfer_guard = transfer_guard_host_to_device = _no_transfers
transfer_guard_device_to_device = transfer_guard_device_to_host = _no_transfers


def host_count() -> int:
    from fx.devices import process_count
    return process_count()


def host_id() -> int:
    from fx.devices import process_index
    return process_index()


def host_ids() -> list[int]:
    return list(range(host_count()))


def process_indices() -> list[int]:
    return list(range(host_count()))


def make_mesh(axis_shapes, axis_names, *, devices=None, axis_types=None):
    """A ``Mesh`` of the first prod(axis_shapes) devices laid out in ``axis_shapes``."""
    from fx.devices import devices as all_devices
    from fx.sharding import Mesh
    axis_shapes = tuple(int(s) for s in axis_shapes)
    count = int(np.prod(axis_shapes))
    devs = list(devices) if devices is not None else all_devices()
    if len(devs) < count:
        raise ValueError(f"make_mesh needs {count} devices for axis_shapes {axis_shapes}, "
                         f"but only {len(devs)} are available")
    grid = np.empty(count, dtype=object)
    grid[:] = devs[:count]
    return Mesh(grid.reshape(axis_shapes), tuple(axis_names))


def print_environment_info(return_string: bool = False):
    """Versions of fx and its dependencies, and this machine's devices."""
    import fx
    lines = [f"fx:      {fx.__version__}", f"numpy:   {np.__version__}",
             f"python:  {sys.version.split()[0]}", f"machine: {platform.platform()}",
             f"devices: {fx.devices()}"]
    try:
        import llvmlite
        lines.insert(2, f"llvmlite: {llvmlite.__version__}")
    except ImportError:
        pass
    text = "\n".join(lines)
    if return_string:
        return text
    print(text)
    return None
