"""Rematerialisation, as ``jax.checkpoint``/``jax.remat``: ``checkpoint``,
``checkpoint_policies``, ``checkpoint_name``.

Invariants: ``checkpoint(f)`` traces ``f`` and binds ``remat2`` (see
``primitives.remat``); its values are ``f``'s. Refs ``f`` closes over are extra operands
of ``remat2`` (and extra results when written), written back after the bind
(``fx/_ref_scope.py``); eagerly ``f`` simply runs. Under reverse mode, the
backward pass recomputes every intermediate the policy does not save. A
policy is ``policy(prim, *avals, **params) -> bool`` (True: may be saved).
"""
from __future__ import annotations

import functools
import types
from typing import Any, Callable, Sequence


from fx import _ref_scope, core, tree_util
from fx.core import get_aval
from fx.interpreters import partial_eval as pe
from primitives.remat import bind_remat, name_p

__all__ = ["checkpoint", "remat", "checkpoint_policies", "checkpoint_name"]


# ---------------------------------------------------------------------------
# policies


def everything_saveable(*_, **__) -> bool:
    """Save every intermediate (no recomputation)."""
    return True


def nothing_saveable(*_, **__) -> bool:
    """Save nothing but the checkpoint's inputs (recompute everything)."""
    return False


def dots_saveable(prim, *_, **__) -> bool:
    """Save the results of matrix products (``dot_general``)."""
    return prim.name == "dot_general"


checkpoint_dots = dots_saveable


def dots_with_no_batch_dims_saveable(prim, *_, **params) -> bool:
    """Save the results of matrix products that have no batch dimensions."""
    if prim.name != "dot_general":
        return False
    (_, _), (lhs_batch, rhs_batch) = params["dimension_numbers"]
    return not lhs_batch and not rhs_batch


checkpoint_dots_with_no_batch_dims = dots_with_no_batch_dims_saveable


def save_only_these_names(*names: str) -> Callable:
    """A policy saving only values tagged with ``checkpoint_name`` by one of ``names``."""
    wanted = frozenset(names)

    def policy(prim, *_, **params) -> bool:
        return prim is name_p and params["name"] in wanted

    policy.__name__ = "save_only_these_names"
    return policy


def save_any_names_but_these(*names: str) -> Callable:
    """A policy saving every named value except those tagged by one of ``names``."""
    excluded = frozenset(names)

    def policy(prim, *_, **params) -> bool:
        return prim is name_p and params["name"] not in excluded

    policy.__name__ = "save_any_names_but_these"
    return policy


def save_from_both_policies(policy_1: Callable, policy_2: Callable) -> Callable:
    """A policy saving what either policy saves."""
    def policy(prim, *avals, **params) -> bool:
        return bool(policy_1(prim, *avals, **params)) or bool(policy_2(prim, *avals, **params))

    policy.__name__ = "save_from_both_policies"
    return policy


checkpoint_policies = types.SimpleNamespace(
    everything_saveable=everything_saveable,
    nothing_saveable=nothing_saveable,
    dots_saveable=dots_saveable,
    checkpoint_dots=checkpoint_dots,
    dots_with_no_batch_dims_saveable=dots_with_no_batch_dims_saveable,
    checkpoint_dots_with_no_batch_dims=checkpoint_dots_with_no_batch_dims,
    save_only_these_names=save_only_these_names,
    save_any_names_but_these=save_any_names_but_these,
    save_from_both_policies=save_from_both_policies,
)


# ---------------------------------------------------------------------------
# checkpoint_name


def checkpoint_name(x, name: str):
    """Tag every array in pytree ``x`` with ``name`` for ``save_only_these_names`` policies.

    Example:
      >>> y = checkpoint_name(fx.numpy.sin(x), "activations")
    """
    if not isinstance(name, str):
        raise TypeError(f"checkpoint_name: name must be a str, got {type(name).__name__}")
    return tree_util.tree_map(lambda leaf: name_p.bind(leaf, name=name), x)


# ---------------------------------------------------------------------------
# checkpoint


def checkpoint(fun: Callable | None = None, *, prevent_cse: bool = True, policy=None,
               static_argnums: int | Sequence[int] = ()) -> Callable:
    """``fun``, made to recompute its intermediates in the backward pass.

    Args:
      fun: the function (``checkpoint`` also works as a decorator with keywords).
      prevent_cse: keep the compiler from merging the recomputation with the forward
        computation (recorded on the ``remat2`` equation).
      policy: which intermediates may be saved instead of recomputed; one of
        ``fx.checkpoint_policies`` (default: save nothing but the inputs).
      static_argnums: positional arguments that are Python values, not arrays.

    Returns:
      A function with ``fun``'s values and derivatives.

    Example:
      >>> f = fx.checkpoint(lambda x: fx.numpy.sin(fx.numpy.sin(x)))
      >>> fx.grad(f)(1.0)   # sin(x) is recomputed in the backward pass
    """
    if fun is None:
        return functools.partial(checkpoint, prevent_cse=prevent_cse, policy=policy,
                                 static_argnums=static_argnums)
    if not callable(fun):
        raise TypeError(f"checkpoint requires a callable, got {type(fun).__name__}")
    if policy is not None and not callable(policy):
        raise TypeError(f"checkpoint: policy must be callable (see fx.checkpoint_policies), "
                        f"got {policy!r}")
    statics = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(fun)
    def fun_remat(*args, **kwargs):
        if core.current_trace() is core.eval_trace:
            return fun(*args, **kwargs)
        n = len(args)
        for i in statics:
            if not -n <= i < n:
                raise ValueError(f"checkpoint: static_argnums {statics} out of range for a "
                                 f"call with {n} positional arguments")
        static_pos = {i % n for i in statics}
        dyn = [a for i, a in enumerate(args) if i not in static_pos]
        flat, in_tree = tree_util.tree_flatten((dyn, kwargs))
        store: dict[str, Any] = {}

        def flat_fun(*xs):
            dyn_args, kw = tree_util.tree_unflatten(in_tree, xs)
            it = iter(dyn_args)
            full = [args[i] if i in static_pos else next(it) for i in range(n)]
            out = fun(*full, **kw)
            leaves, store["tree"] = tree_util.tree_flatten(out)
            return leaves

        flat = [_as_array(x) for x in flat]
        in_avals = [get_aval(x) for x in flat]
        # refs fun closes over: extra inputs (and outputs when written), written back
        jaxpr, consts, _, refs, written = _ref_scope.stage(
            flat_fun, in_avals, debug_info=getattr(fun, "__name__", None))
        closed, hoisted = pe.hoist_tracer_consts(jaxpr, consts)
        outs = bind_remat(closed, [*hoisted, *flat], prevent_cse=prevent_cse,
                          differentiated=False, policy=policy, refs=refs, written=written)
        return tree_util.tree_unflatten(store["tree"], outs)

    return fun_remat


remat = checkpoint


def _as_array(x):
    """Python scalars as (weakly typed) arrays, so every operand has a definite type."""
    if isinstance(x, (bool, int, float, complex)):
        return core.constant_array(x)
    return x
