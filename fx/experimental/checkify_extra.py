"""More of ``jax.experimental.checkify``: ``check_error`` and ``debug_check``.

Invariants: ``check_error`` re-raises an ``Error`` value where it runs: eagerly (a
concrete Error) it throws; under a transformation it binds one ``check`` per site of
the error, so an enclosing ``checkify`` functionalizes it again. ``debug_check`` is a
check that only ``checkify`` sees (outside it, it does nothing).
"""
from __future__ import annotations

import numpy as np

from fx import core, tree_util
from fx.core import Tracer, get_aval
from primitives.callbacks import check_p

__all__ = ["check_error", "debug_check"]


def _exports():
    from fx.experimental import checkify as C
    return C


def _validate(name, pred, msg, fmt_args, fmt_kwargs):
    if not isinstance(msg, str):
        raise TypeError(f"checkify.{name}: msg must be a str, got {type(msg).__name__}")
    pred_aval = get_aval(pred)
    if pred_aval.shape or pred_aval.dtype != np.bool_:
        raise TypeError(f"checkify.{name} takes a scalar pred as argument, got "
                        f"{pred_aval.str_short()}")
    leaves, tree = tree_util.tree_flatten((fmt_args, fmt_kwargs))
    for leaf in leaves:
        if not isinstance(leaf, (Tracer, core._array_type[0], np.ndarray, np.generic)):
            raise TypeError(f"Formatting arguments to checkify.{name} need to be PyTrees of "
                            f"arrays, but got {leaf!r} of type {type(leaf)}.")
    return leaves, tree


def debug_check(pred, msg: str, *fmt_args, **fmt_kwargs) -> None:
    """A check that is reported only inside ``checkify`` (outside, it does nothing).

    Example:
      >>> err, _ = checkify.checkify(lambda x: checkify.debug_check(x > 0, "neg"))(-1.)
      >>> err.get()
      'neg'
    """
    leaves, tree = _validate("debug_check", pred, msg, fmt_args, fmt_kwargs)
    check_p.bind(pred, *leaves, fmt=msg, fmt_tree=tree, debug=True)


def check_error(error) -> None:
    """Raise the error held by ``error`` (an ``Error`` from ``checkify``), if any.

    Eagerly it raises ``JaxRuntimeError``; inside a transformation it becomes checks,
    so that an enclosing ``checkify`` returns the error again.

    Example:
      >>> err, y = checkify.checkify(f)(x)
      >>> checkify.check_error(err)   # raises if f's checks failed
    """
    C = _exports()
    if not isinstance(error, C.Error):
        raise TypeError(f"check_error takes an Error, got {type(error).__name__}")
    if not error._sites:
        return
    leaves = tree_util.tree_leaves((error._preds, error._payloads))
    if not any(isinstance(x, Tracer) for x in leaves):
        error.throw()
        return
    from fx.lax import bitwise_not
    empty_tree = tree_util.tree_flatten(((), {}))[1]
    for site, pred, payload in zip(error._sites, error._preds, error._payloads):
        ok = bitwise_not(pred)
        if site.kind is C.FailedCheckError:
            fmt, fmt_tree = site.info[0], site.info[1]
            check_p.bind(ok, *payload, fmt=fmt, fmt_tree=fmt_tree, debug=False)
        else:
            message = (str(C.NaNError(site.info[0])) if site.kind is C.NaNError else
                       str(C.DivisionByZeroError()) if site.kind is C.DivisionByZeroError
                       else "out-of-bounds indexing")
            check_p.bind(ok, fmt=message, fmt_tree=empty_tree, debug=False)

