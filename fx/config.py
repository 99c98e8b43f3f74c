"""Process-wide configuration, mirroring ``jax.config``.

Invariants: every option has a default, an environment variable that may set it
at import time, and is read through ``config.<name>`` (a plain attribute read,
so the hot paths pay nothing). ``config.state_key()`` is the tuple that caches
key on; it changes whenever an option that alters tracing or compilation does.
"""
from __future__ import annotations

import contextlib
import os
from typing import Any

_TRUE = ("1", "true", "yes", "on")


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in _TRUE


class Config:
    """Holds fx's options; ``fx.config.update(name, value)`` changes one."""

    # option name -> (default, environment variable, affects traced programs)
    _options: dict[str, tuple[Any, str | None, bool]] = {
        "jax_enable_x64": (False, "FX_ENABLE_X64", True),
        "jax_debug_nans": (False, "FX_DEBUG_NANS", True),
        "jax_debug_infs": (False, "FX_DEBUG_INFS", True),
        "jax_disable_jit": (False, "FX_DISABLE_JIT", True),
        "jax_enable_checks": (False, "FX_CHECKS", False),
        "jax_numpy_rank_promotion": ("allow", None, True),
        "jax_default_matmul_precision": (None, None, True),
        "jax_platforms": (None, "FX_PLATFORMS", False),
        "jax_default_device": (None, None, False),
        "fx_cpu_devices": (1, "FX_CPU_DEVICES", False),
        "jax_log_compiles": (False, None, False),
        "jax_explain_cache_misses": (False, "FX_EXPLAIN_CACHE_MISSES", False),
        "jax_check_tracer_leaks": (False, None, False),
        "jax_compile_time_eval": (False, None, True),
    }

    def __init__(self) -> None:
        for name, (default, env, _) in self._options.items():
            value = default
            if env is not None and env in os.environ:
                raw = os.environ[env]
                if isinstance(default, bool):
                    value = raw.strip().lower() in _TRUE
                elif isinstance(default, int):
                    value = int(raw)
                else:
                    value = raw
            object.__setattr__(self, name, value)
        self._refresh_key()

    def _refresh_key(self) -> None:
        object.__setattr__(
            self, "_state_key",
            tuple(getattr(self, n) for n, (_, _, keyed) in self._options.items() if keyed))

    def update(self, name: str, value: Any) -> None:
        """Set option ``name`` to ``value`` (as ``jax.config.update``)."""
        if name not in self._options:
            raise AttributeError(
                f"fx.config has no option {name!r}; options are {sorted(self._options)}")
        if name in _DEVICE_OPTIONS:
            _check_device_option(name, value)
        object.__setattr__(self, name, value)
        self._refresh_key()
        if name in _DEVICE_OPTIONS:
            _device_options_changed()

    def read(self, name: str) -> Any:
        return getattr(self, name)

    def state_key(self) -> tuple:
        return self._state_key

    def __setattr__(self, name: str, value: Any) -> None:
        self.update(name, value)

    @property
    def x64_enabled(self) -> bool:
        return self.jax_enable_x64

    @property
    def checks_enabled(self) -> bool:
        return self.jax_enable_checks

    @contextlib.contextmanager
    def _override(self, name: str, value: Any):
        old = getattr(self, name)
        self.update(name, value)
        try:
            yield
        finally:
            self.update(name, old)


# options the default device depends on (fx.devices resolves it again when one changes)
_DEVICE_OPTIONS = frozenset({"jax_platforms", "jax_default_device", "fx_cpu_devices"})


def _check_device_option(name: str, value: Any) -> None:
    if name == "jax_default_device":
        if value is None or hasattr(value, "platform") or value in ("cpu", "gpu", "cuda"):
            return
        raise ValueError("jax_default_device must be passed either a Device object (e.g. "
                         "`fx.devices('cpu')[0]`) or a platform name string like 'cpu' or "
                         f"'gpu', got: {value!r}")
    if name == "jax_platforms" and value is not None and not isinstance(value, str):
        raise ValueError(f"jax_platforms must be a comma-separated string of platforms "
                         f"(e.g. 'cpu' or 'gpu,cpu') or None, got: {value!r}")


def _device_options_changed() -> None:
    import sys
    devices = sys.modules.get("fx.devices")
    if devices is not None:
        devices._invalidate_default()


config = Config()


def enable_x64(new_val: bool = True):
    """Context manager that turns 64-bit types on (or off) inside its block."""
    return config._override("jax_enable_x64", new_val)


def debug_nans(new_val: bool = True):
    """Context manager for ``jax_debug_nans``."""
    return config._override("jax_debug_nans", new_val)


def debug_infs(new_val: bool = True):
    """Context manager for ``jax_debug_infs``."""
    return config._override("jax_debug_infs", new_val)


def disable_jit(disable: bool = True):
    """Context manager under which ``jit`` runs its function eagerly."""
    return config._override("jax_disable_jit", disable)


def enable_checks(new_val: bool = True):
    """Context manager that checks every jaxpr a transformation produces."""
    return config._override("jax_enable_checks", new_val)
