"""JAX's ``jit`` boundaries inside the library surface (``fx.numpy``, ``fx.nn``).

JAX 0.10 wraps many of its ``jax.numpy``/``jax.nn`` functions in ``jit`` (``jnp.where``
calls a jitted ``_where``, ``jnp.clip`` is itself jitted, ...), so their calls print as
``jit[name=...]`` equations in ``make_jaxpr``. ``library_jit`` gives fx's functions the
same boundaries: under a trace (jit, grad, vmap, make_jaxpr) a call binds fx's ``jit``
call primitive under the function's name; an eager call (no trace active) runs the
function directly, op by op, as fx did before, so eager calls cost no tracing or
compilation for each new shape and give the same values as before.
"""
from __future__ import annotations

import functools
from typing import Callable

from fx import core
from fx.interpreters.jit import jit

__all__ = ["library_jit"]

_eval_trace = core.eval_trace
_current = core._current_trace


def library_jit(fun: Callable | None = None, *, static_argnums=(), static_argnames=(),
                name: str | None = None):
    """Decorate a library function so that traced calls are a ``jit`` equation named
    after it (with these static arguments, as JAX's own ``jit`` there has them) and eager
    calls run it directly.

    Args:
      fun: the function; its ``__name__`` is the name the ``jit`` equation prints.
      static_argnums, static_argnames: as ``fx.jit``'s (hashable values).
      name: the name to print instead of ``fun.__name__`` (when the public function of
        that name is a separate wrapper that checks the arguments first).

    Returns:
      The wrapped function (``.jitted`` is the ``fx.jit`` object).

    Example:
      >>> @library_jit(static_argnames=("axis",))
      ... def _var(a, ddof, axis=None): ...
    """
    if fun is None:
        return functools.partial(library_jit, static_argnums=static_argnums,
                                 static_argnames=static_argnames, name=name)
    traced = fun
    if name is not None:
        @functools.wraps(fun)
        def traced(*args, **kwargs):
            return fun(*args, **kwargs)
        traced.__name__ = traced.__qualname__ = name
    jitted = jit(traced, static_argnums=static_argnums, static_argnames=static_argnames)

    @functools.wraps(fun)
    def call(*args, **kwargs):
        if _current.get() is _eval_trace:
            return fun(*args, **kwargs)
        return jitted(*args, **kwargs)

    call.jitted = jitted
    return call
