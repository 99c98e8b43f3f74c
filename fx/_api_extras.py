"""Top-level utilities of ``jax``'s namespace: caches, tracing switches, names, the
configuration states (``fx.numpy_rank_promotion(...)``, ...) and array constructors.

Invariant: each name does what JAX's does on a single-process CPU runtime; where
JAX's effect does not exist here (no host/device transfers, synchronous
execution), the function is the identity or an empty context, and says so.
"""
from __future__ import annotations

import contextlib
import functools
import gc
import platform
import sys
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from fx import core
from fx.config import Config, config

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
    if axis_types is None:  # JAX 0.10: make_mesh's axes are Explicit by default
        from fx.sharding import AxisType
        axis_types = (AxisType.Explicit,) * len(axis_shapes)
    return Mesh(grid.reshape(axis_shapes), tuple(axis_names), axis_types=axis_types)


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


# ---------------------------------------------------------------------------
# JAX's configuration states and array constructors

_MISSING = object()


def _define(name: str, default: Any, keyed: bool, choices: Sequence | None = None):
    """Register option ``name`` in ``fx.config`` (once) and return its state object."""
    if name not in Config._options:
        Config._options[name] = (default, None, keyed)
        object.__setattr__(config, name, default)
        config._refresh_key()
    return ConfigState(name, choices)


class ConfigState:
    """A configuration option as JAX exposes it at top level: call it with a value to get
    a context manager that sets the option for a block; ``.value`` is the current one.

    Example:
      >>> with fx.numpy_rank_promotion("raise"):
      ...     fx.numpy.ones(3) + fx.numpy.ones((2, 3))   # ValueError
    """

    def __init__(self, name: str, choices: Sequence | None = None):
        self.name = name
        self.choices = tuple(choices) if choices is not None else None
        self.__doc__ = f"Context manager for the `{name}` config option."

    @property
    def value(self):
        return getattr(config, self.name)

    def _check(self, value):
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{self.name} must be one of {list(self.choices)}, got "
                             f"{value!r}")

    @contextlib.contextmanager
    def __call__(self, new_val: Any = _MISSING):
        if new_val is _MISSING:
            new_val = True
        self._check(new_val)
        old = getattr(config, self.name)
        config.update(self.name, new_val)
        try:
            yield
        finally:
            config.update(self.name, old)

    def __repr__(self):
        return f"<config state {self.name}={self.value!r}>"


numpy_rank_promotion = _define("jax_numpy_rank_promotion", "allow", True,
                               ("allow", "warn", "raise"))
numpy_dtype_promotion = _define("jax_numpy_dtype_promotion", "standard", True,
                                ("standard", "strict"))
default_prng_impl = _define("jax_default_prng_impl", "threefry2x32", True,
                            ("threefry2x32", "rbg", "unsafe_rbg"))
enable_custom_prng = _define("jax_enable_custom_prng", False, True)
legacy_prng_key = _define("jax_legacy_prng_key", "allow", False, ("allow", "warn", "error"))
threefry_partitionable = _define("jax_threefry_partitionable", True, True)
debug_key_reuse = _define("jax_debug_key_reuse", False, True)
softmax_custom_jvp = _define("jax_softmax_custom_jvp", False, True)
allow_f16_reductions = _define("jax_allow_f16_reductions", True, True)
no_tracing = _define("jax_no_tracing", False, False)
no_execution = _define("jax_no_execution", False, False)
thread_guard = _define("jax_thread_guard", False, False)
array_garbage_collection_guard = _define("jax_array_garbage_collection_guard", "allow", False,
                                         ("allow", "log", "fatal"))
jax2tf_associative_scan_reductions = _define("jax2tf_associative_scan_reductions", False,
                                             False)
remove_size_one_mesh_axis_from_type = _define("jax_remove_size_one_mesh_axis_from_type",
                                              False, False)


# ---------------------------------------------------------------------------
# the promotion checks fx.numpy applies under these options


def check_rank_promotion(fun_name: str, shapes: Sequence[tuple]) -> None:
    """Apply ``jax_numpy_rank_promotion`` to operands of ``shapes`` about to broadcast:
    raise (or warn) when their ranks differ and the option is "raise" ("warn")."""
    mode = config.jax_numpy_rank_promotion
    if mode == "allow":
        return
    ranks = {len(s) for s in shapes if len(s) > 0}
    if len(ranks) <= 1:
        return
    msg = (f"Operands could not be broadcast together for {fun_name} with shapes "
           f"{' '.join(str(tuple(s)) for s in shapes)} and with the config option "
           f"jax_numpy_rank_promotion='{mode}'. For more information, see "
           "https://docs.jax.dev/en/latest/rank_promotion_warning.html.")
    if mode == "raise":
        raise ValueError(msg)
    import warnings
    warnings.warn(msg, stacklevel=3)


def check_dtype_promotion(dtypes_and_weak: Sequence[tuple]) -> None:
    """Apply ``jax_numpy_dtype_promotion="strict"``: operands of different strong dtypes
    raise (weakly typed Python scalars still adapt to the other operand)."""
    if config.jax_numpy_dtype_promotion != "strict":
        return
    strong = {np.dtype(d) for d, weak in dtypes_and_weak if not weak}
    if len(strong) > 1:
        from fx.dtypes import TypePromotionError
        names = ", ".join(sorted(d.name for d in strong))
        raise TypePromotionError(f"Input dtypes ({names}) have no available implicit dtype "
                                 "promotion path when jax_numpy_dtype_promotion=strict. "
                                 "Try explicitly casting inputs to the desired output type, "
                                 "or set jax_numpy_dtype_promotion=standard.")


# ---------------------------------------------------------------------------
# arrays


def live_arrays(platform: str | None = None) -> list:
    """Every ``fx.Array`` alive in this process (``platform`` is accepted for JAX
    compatibility; fx's arrays all live on the default backend)."""
    array_type = core._array_type[0]
    return [o for o in gc.get_objects() if type(o) is array_type]


def _full_index(shape) -> tuple:
    return tuple(slice(None) for _ in shape)


def make_array_from_callback(shape: Sequence[int], sharding, data_callback: Callable,
                             dtype=None):
    """An array of ``shape`` built from ``data_callback(index)``, called once per device
    with the index (a tuple of slices) that device holds: here one device holds all.

    Example:
      >>> data = np.arange(6).reshape(2, 3)
      >>> fx.make_array_from_callback((2, 3), sharding, lambda idx: data[idx])
    """
    shape = tuple(int(d) for d in shape)
    value = np.asarray(data_callback(_full_index(shape)))
    if dtype is not None:
        value = value.astype(dtype)
    if value.shape != shape:
        raise ValueError(f"make_array_from_callback: the callback returned shape "
                         f"{value.shape} for the full index of an array of shape {shape}")
    from fx.numpy import asarray
    return asarray(value)


def make_array_from_single_device_arrays(shape: Sequence[int], sharding,
                                         arrays: Sequence, *, dtype=None):
    """An array of ``shape`` from per-device pieces (one device: one piece, the whole)."""
    shape = tuple(int(d) for d in shape)
    if len(arrays) != 1:
        raise ValueError(f"make_array_from_single_device_arrays: fx has one device per "
                         f"process, so it takes one array; got {len(arrays)}")
    (piece,) = arrays
    if tuple(np.shape(piece)) != shape:
        raise ValueError(f"make_array_from_single_device_arrays: the array has shape "
                         f"{tuple(np.shape(piece))}, expected {shape}")
    from fx.numpy import asarray
    return asarray(piece, dtype=dtype)


def make_array_from_process_local_data(sharding, local_data, global_shape=None):
    """The global array from this process's data (one process: the data itself)."""
    from fx.numpy import asarray
    out = asarray(local_data)
    if global_shape is not None and tuple(global_shape) != out.shape:
        raise ValueError(f"make_array_from_process_local_data: local data of shape "
                         f"{out.shape} does not make a global array of shape "
                         f"{tuple(global_shape)} on one process")
    return out


# ---------------------------------------------------------------------------
# forward and backward passes as two reusable functions


def fwd_and_bwd(fun: Callable, argnums, has_aux: bool = False, jitted: bool = True):
    """``fwd`` and ``bwd`` functions for ``fun``'s forward and backward passes, each
    compiled once (unlike ``fx.jit`` of a fresh ``vjp`` closure, which recompiles).

    ``fwd(*primals)`` returns ``(primals_out, residuals)`` (``(primals_out, residuals,
    aux)`` with ``has_aux``); ``bwd(residuals, cotangent)`` returns the cotangents of the
    arguments at ``argnums`` (a tuple, or a single value when ``argnums`` is an int).
    fx's residuals are the primal arguments: ``bwd`` recomputes the forward pass inside
    its compiled program (JAX stores intermediate values instead; the results agree).

    Example:
      >>> fwd, bwd = fx.fwd_and_bwd(lambda x, w: x @ w, argnums=(0, 1))
      >>> y, res = fwd(x, w)
      >>> gx, gw = bwd(res, jnp.ones_like(y))
    """
    import fx
    single = isinstance(argnums, (int, np.integer))
    nums = (int(argnums),) if single else tuple(int(n) for n in argnums)
    if not callable(fun):
        raise TypeError(f"fwd_and_bwd requires a callable, got {type(fun).__name__}")

    def fwd(*primals):
        for n in nums:
            if not -len(primals) <= n < len(primals):
                raise ValueError(f"fwd_and_bwd: argnums {nums} out of range for "
                                 f"{len(primals)} positional arguments")
        out = fun(*primals)
        if has_aux:
            y, aux = out
            return y, tuple(primals), aux
        return out, tuple(primals)

    def bwd(residuals, cotangent):
        primals = list(residuals)

        def differentiable(*diff):
            full = list(primals)
            for n, d in zip(nums, diff, strict=True):
                full[n] = d
            out = fun(*full)
            return out[0] if has_aux else out
        _, vjp_fn = fx.vjp(differentiable, *[primals[n] for n in nums])
        cts = vjp_fn(cotangent)
        return cts[0] if single else tuple(cts)

    if jitted:
        return fx.jit(fwd), fx.jit(bwd)
    return fwd, bwd
