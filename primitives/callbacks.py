"""Primitives that call back into Python: ``debug_callback`` and ``debug_print``
(effectful: kept by dead-code elimination, run in program order),
``pure_callback`` (pure: may be dropped or repeated), and ``check`` (the
assertion ``fx.experimental.checkify`` turns into an error value).

Invariants: the debug primitives have no outputs; under ``vmap`` they are
unrolled into one call per lane (as JAX); under differentiation they see the
primal values only, so they never appear in a linear jaxpr. ``pure_callback``
has no derivative; its batching follows ``vmap_method``. Callbacks receive
``fx.Array`` values (``debug_print`` formats NumPy values, like JAX's).
"""
from __future__ import annotations

import numpy as np

from fx import core
from primitives import _higher_order as H
from primitives import _rules as R
from primitives._rules import new_primitive

__all__ = ["debug_callback_p", "debug_print_p", "pure_callback_p", "check_p",
           "DebugEffect", "debug_effect", "ordered_debug_effect", "JaxRuntimeError"]


class DebugEffect:
    """The effect of a debug callback (printed ``Debug`` or ``OrderedDebug``)."""

    __slots__ = ("ordered",)

    def __init__(self, ordered: bool):
        self.ordered = ordered

    def __repr__(self):
        return "OrderedDebug" if self.ordered else "Debug"


debug_effect = DebugEffect(False)
ordered_debug_effect = DebugEffect(True)


def _wrap(x):
    return core.wrap_eager(np.asarray(x))


def _unrolled_batch(primitive):
    """One bind per lane of the mapped axis, in lane order (JAX's debug batching)."""

    def batch(args, dims, **params):
        size = R.batch_size(args, dims)
        for i in range(size):
            primitive.bind(*[H.index_lane(a, d, i) for a, d in zip(args, dims)], **params)
        return [], []

    return batch


def _primal_only_jvp(primitive):
    def jvp(primals, tangents, **params):
        primitive.bind(*primals, **params)
        return [], []

    return jvp


def _no_cotangents(cts, *args, **params):
    return [None] * len(args)


# ---------------------------------------------------------------------------
# debug_callback

debug_callback_p = new_primitive("debug_callback", multiple_results=True)
debug_callback_p.effectful = True
debug_callback_p.def_abstract_eval(lambda *avals, callback, effect, partitioned: [])
debug_callback_p.def_jvp(_primal_only_jvp(debug_callback_p))
debug_callback_p.def_transpose(_no_cotangents)
debug_callback_p.def_batch(_unrolled_batch(debug_callback_p))


@debug_callback_p.def_impl
def _debug_callback_impl(*args, callback, effect, partitioned):
    callback(*[_wrap(a) for a in args])
    return []


# ---------------------------------------------------------------------------
# debug_print

debug_print_p = new_primitive("debug_print", multiple_results=True)
debug_print_p.effectful = True
debug_print_p.def_abstract_eval(lambda *avals, **params: [])
debug_print_p.def_jvp(_primal_only_jvp(debug_print_p))
debug_print_p.def_transpose(_no_cotangents)
debug_print_p.def_batch(_unrolled_batch(debug_print_p))


def merge_callback_args(in_tree, dyn_args, static_args):
    """Rebuild ``(args, kwargs)`` from the dynamic leaves and the static ones."""
    from fx import tree_util
    static = dict(static_args)
    dyn = iter(dyn_args)
    leaves = [static[i] if i in static else next(dyn)
              for i in range(len(static) + len(dyn_args))]
    return tree_util.tree_unflatten(in_tree, leaves)


def format_print(fmt: str, np_printoptions, has_placeholders: bool, args, kwargs) -> str:
    if has_placeholders:
        with np.printoptions(**dict(np_printoptions)):
            return fmt.format(*args, **kwargs)
    with np.printoptions(**dict(np_printoptions)):
        return " ".join((fmt, *(str(a) for a in args)))


@debug_print_p.def_impl
def _debug_print_impl(*args, fmt, has_placeholders, in_tree, logging_record, np_printoptions,
                      ordered, partitioned, static_args):
    import sys
    args, kwargs = merge_callback_args(in_tree, [np.asarray(a) for a in args], static_args)
    sys.stdout.write(format_print(fmt, np_printoptions, has_placeholders, args, kwargs) + "\n")
    return []


# ---------------------------------------------------------------------------
# pure_callback

pure_callback_p = new_primitive("pure_callback", multiple_results=True)
pure_callback_p.param_order = ("callback", "result_avals", "sharding", "vmap_method")


@pure_callback_p.def_abstract_eval
def _pure_callback_abstract_eval(*avals, callback, result_avals, sharding, vmap_method):
    return list(result_avals)


@pure_callback_p.def_impl
def _pure_callback_impl(*args, callback, result_avals, sharding, vmap_method):
    results = callback(*[_wrap(a) for a in args])
    if len(results) != len(result_avals):
        raise TypeError(f"pure_callback: the callback returned {len(results)} leaves, but "
                        f"result_shape_dtypes has {len(result_avals)}")
    outs = []
    for i, (r, aval) in enumerate(zip(results, result_avals)):
        r = np.asarray(getattr(r, "_value", r))
        if r.shape != aval.shape:
            raise TypeError(f"pure_callback: result {i} of the callback has shape {r.shape}, "
                            f"but result_shape_dtypes says {aval.str_short()}")
        outs.append(r.astype(aval.dtype, copy=False))
    return outs


@pure_callback_p.def_jvp
def _pure_callback_jvp(primals, tangents, **params):
    raise ValueError("Pure callbacks do not support JVP. Please use `fx.custom_jvp` to use "
                     "callbacks while taking gradients.")


@pure_callback_p.def_transpose
def _pure_callback_transpose(cts, *args, **params):
    raise ValueError("Pure callbacks do not support transpose. Please use `fx.custom_vjp` to "
                     "use callbacks while taking gradients.")


@pure_callback_p.def_batch
def _pure_callback_batch(args, dims, *, callback, result_avals, sharding, vmap_method):
    size = R.batch_size(args, dims)
    batched_avals = tuple(H.batched_aval(a, size) for a in result_avals)
    params = dict(callback=callback, sharding=sharding, vmap_method=vmap_method)
    moved = [a if d is None else R.moveaxis(a, d, 0) for a, d in zip(args, dims)]
    if vmap_method == "legacy_vectorized":
        outs = pure_callback_p.bind(*moved, result_avals=batched_avals, **params)
    elif vmap_method in ("expand_dims", "broadcast_all"):
        lead = size if vmap_method == "broadcast_all" else 1
        expanded = []
        for a, d in zip(moved, dims):
            if d is None:
                shape = R.shape_of(a)
                a = R.broadcast_in_dim(a, (lead,) + shape, tuple(range(1, len(shape) + 1)))
            expanded.append(a)
        outs = pure_callback_p.bind(*expanded, result_avals=batched_avals, **params)
    elif vmap_method in ("sequential", "sequential_unrolled"):
        lanes = [pure_callback_p.bind(*[H.index_lane(a, None if d is None else 0, i)
                                        for a, d in zip(moved, dims)],
                                      result_avals=result_avals, **params)
                 for i in range(size)]
        outs = [H.stack_lanes([lane[k] for lane in lanes]) for k in range(len(result_avals))]
    else:
        raise NotImplementedError(
            "vmap is only supported for the pure_callback primitive when vmap_method is one "
            "of 'sequential', 'sequential_unrolled', 'expand_dims', 'broadcast_all', or "
            f"'legacy_vectorized'. Got vmap_method={vmap_method}.")
    return list(outs), [0] * len(outs)


# ---------------------------------------------------------------------------
# check (fx.experimental.checkify.check)


class JaxRuntimeError(ValueError):
    """A failed ``checkify.check`` (or a checkify error thrown with ``Error.throw``)."""


check_p = new_primitive("check", multiple_results=True)
check_p.effectful = True
check_p.param_order = ("fmt",)
check_p.def_abstract_eval(lambda pred, *fmt_avals, fmt, fmt_tree, debug: [])
check_p.def_transpose(_no_cotangents)
check_p.def_batch(_unrolled_batch(check_p))
check_p.def_jvp(_primal_only_jvp(check_p))


def format_check_message(fmt: str, fmt_tree, fmt_leaves) -> str:
    from fx import tree_util
    args, kwargs = tree_util.tree_unflatten(fmt_tree, list(fmt_leaves))
    return fmt.format(*args, **kwargs) + " (`check` failed)"


@check_p.def_impl
def _check_impl(pred, *fmt_leaves, fmt, fmt_tree, debug):
    if not bool(np.asarray(pred)) and not debug:
        raise JaxRuntimeError(format_check_message(
            fmt, fmt_tree, [_wrap(x) for x in fmt_leaves]))
    return []

