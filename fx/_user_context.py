"""``fx.make_user_context``: user-defined values that jit caches key on.

Invariant: each context is a keyed option of ``fx.config`` (so ``config.state_key()``,
which every jit cache key holds, changes with it); ``value`` is the innermost
``with ctx(v):`` value, else the global one.
"""
from __future__ import annotations

import contextlib
import itertools
import threading

from fx._api_extras import _define
from fx.config import config

_counter = itertools.count()
_lock = threading.Lock()


def _hashable(value, what: str):
    try:
        hash(value)
    except TypeError:
        raise TypeError(f"make_user_context: {what} must be hashable (jit caches key on it), "
                        f"got {type(value).__name__}: {value!r}") from None
    return value


class UserContext:
    """A jit-cache-sensitive context (``fx.make_user_context``): ``with ctx(v):`` sets it
    for a block; ``value`` reads it; ``set_global``/``get_global`` change the default."""

    def __init__(self, default_value=None):
        self._name = f"fx_user_context_{next(_counter)}"
        self._global = _hashable(default_value, "default_value")
        self._depth = 0
        _define(self._name, default_value, True)

    @property
    def value(self):
        return getattr(config, self._name)

    def get_global(self):
        return self._global

    def set_global(self, value) -> None:
        self._global = _hashable(value, "the value")
        if self._depth == 0:
            config.update(self._name, value)

    @contextlib.contextmanager
    def __call__(self, new_val):
        _hashable(new_val, "the value")
        old = getattr(config, self._name)
        with _lock:
            self._depth += 1
        config.update(self._name, new_val)
        try:
            yield
        finally:
            config.update(self._name, old)
            with _lock:
                self._depth -= 1

    def __repr__(self):
        return f"<user context {self.value!r}>"


def make_user_context(default_value=None) -> UserContext:
    """Create a context whose value jit caches key on: when it changes, a jitted function
    is traced and compiled again (as ``jax.make_user_context``).

    Args:
      default_value: the value outside any ``with ctx(v):`` block (hashable).

    Returns:
      A ``UserContext``.

    Example:
      >>> mode = fx.make_user_context(default_value=None)
      >>> f = fx.jit(lambda x: x * 2)
      >>> with mode(1):
      ...     f(1.0)
      >>> with mode(2):
      ...     f(1.0)   # a cache miss: traced again
    """
    return UserContext(default_value)
