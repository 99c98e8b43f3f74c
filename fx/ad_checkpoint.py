"""``fx.ad_checkpoint``, as ``jax.ad_checkpoint``: ``checkpoint``/``remat``,
``checkpoint_policies``, ``checkpoint_name`` and the residual inspectors
``saved_residuals``/``print_saved_residuals``.

Invariant: the inspectors trace ``linearize`` of the function and report the
values its linear part reads (the residuals saved for the backward pass),
each described by where it comes from in the traced forward pass.
"""
from __future__ import annotations

from typing import Callable

from fx import core, tree_util
from fx.checkpoint import (checkpoint, checkpoint_name, checkpoint_policies,  # noqa: F401
                           remat)
from fx.core import get_aval
from fx.interpreters import ad
from fx.interpreters import partial_eval as pe

__all__ = ["checkpoint", "remat", "checkpoint_policies", "checkpoint_name", "saved_residuals",
           "print_saved_residuals"]


def saved_residuals(f: Callable, *args, **kwargs) -> list[tuple[core.ShapedArray, str]]:
    """The values reverse-mode differentiation of ``f`` at ``args`` saves for the backward pass.

    Returns:
      A list of ``(aval, description)``: ``"from the argument <i>"``, or
      ``"output of <primitive>"`` for a value computed in the forward pass.

    Example:
      >>> f = fx.checkpoint(lambda x: fx.numpy.sin(fx.numpy.sin(x)))
      >>> [d for _, d in saved_residuals(f, 1.0)]
      ['from the argument 0']
    """
    flat, in_tree = tree_util.tree_flatten((args, kwargs))

    def flat_fun(*xs):
        a, kw = tree_util.tree_unflatten(in_tree, xs)
        return tree_util.tree_leaves(f(*a, **kw))

    def residuals_of(*xs):
        _, _, residuals = ad.linearize_flat(flat_fun, xs)
        return residuals

    jaxpr, consts, _ = pe.trace_to_jaxpr(residuals_of, [get_aval(x) for x in flat])
    made_by = {id(v): eqn.primitive.name for eqn in jaxpr.eqns for v in eqn.outvars}
    arg_index = {id(v): i for i, v in enumerate(jaxpr.invars)}
    out = []
    for v in jaxpr.outvars:
        if id(v) in arg_index:
            what = f"from the argument {arg_index[id(v)]}"
        elif id(v) in made_by:
            what = f"output of {made_by[id(v)]}"
        else:
            what = "a constant"
        out.append((v.aval, what))
    return out


def print_saved_residuals(f: Callable, *args, **kwargs) -> None:
    """Print ``saved_residuals(f, *args, **kwargs)``, one residual per line."""
    for aval, what in saved_residuals(f, *args, **kwargs):
        print(f"{aval.str_short()} {what}")
