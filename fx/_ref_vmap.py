"""Refs as arguments of ``fx.vmap``: ``fx.vmap(f)(ref, xs)`` maps over the ref's buffer.

A ref mapped along axis ``d`` (its entry of ``in_axes``) is seen by ``f`` as a ref of the
per-example type whose value is the buffer batched along ``d``; each example's reads and
writes touch its own slice, and after the call the batched final value (moved back to axis
``d``) is written into the caller's ref, so the caller sees every example's writes, as with
JAX's refs. A ref with ``in_axes`` None is passed through unchanged: ``f`` closes over it,
and writing a vmapped value into it raises (as JAX refuses).

Invariants: ``fx.api.vmap`` hands a call here only when a positional or keyword argument
holds a ``Ref`` leaf; the work is an ordinary ``vmap`` of a wrapper over the refs' values
(in_axes and out_axes extended by the refs' axes), so nesting with ``jit``, ``grad`` and
control flow needs nothing more. One ref passed twice gets one value (it must be mapped
along the same axis both times).
"""
from __future__ import annotations

from typing import Any, Callable

from fx import core, tree_util
from fx.ref import AbstractRef, Ref, _make


def _flat_in_axes(in_axes, args, kwargs, tree) -> list:
    from fx.api import _flatten_axes
    return _flatten_axes("vmap in_axes", tree, (in_axes, 0), args, kwargs)


def vmap_with_refs(fun: Callable, args: tuple, kwargs: dict, *, in_axes, out_axes,
                   **vmap_kwargs) -> Any:
    """``fx.vmap(fun, in_axes, out_axes, **vmap_kwargs)(*args, **kwargs)`` where the
    arguments hold refs; their final values are written back after the call."""
    from fx.api import vmap
    leaves, tree = tree_util.tree_flatten((args, kwargs))
    axes = _flat_in_axes(in_axes, args, kwargs, tree)
    refs: list[Ref] = []
    ref_axes: list[int] = []
    slots: list = []  # per leaf: ("ref", k), ("pass", leaf) or ("arg", position)
    values, value_axes = [], []
    for leaf, ax in zip(leaves, axes):
        if type(leaf) is not Ref:
            slots.append(("arg", len(values)))
            values.append(leaf)
            value_axes.append(ax)
        elif ax is None:
            slots.append(("pass", leaf))
        else:
            k = next((j for j, r in enumerate(refs) if r is leaf), None)
            if k is None:
                ndim = leaf.ndim
                if not -ndim <= ax < ndim:
                    raise ValueError(
                        f"vmap was requested to map a mutable array reference "
                        f"{leaf.aval!r} along axis {ax}, which implies that its rank "
                        f"should be at least {max(ax + 1, -ax)}, but is only {ndim}")
                k = len(refs)
                refs.append(leaf)
                ref_axes.append(ax % ndim)
            elif ref_axes[k] != ax % leaf.ndim:
                raise ValueError(f"vmap: the mutable array reference {leaf.aval!r} is "
                                 f"passed twice, mapped along axes {ref_axes[k]} and "
                                 f"{ax % leaf.ndim}; pass it once (or along one axis)")
            slots.append(("ref", k))
    ref_values = [r._live_value("pass to vmap") for r in refs]

    def mapped(ref_vals, vals):
        inner = []
        for r, v in zip(refs, ref_vals):
            inner.append(_make(v, AbstractRef(core.get_aval(v), r.aval.memory_space,
                                              r.aval.kind)))
        rebuilt = [inner[x] if kind == "ref" else x if kind == "pass" else vals[x]
                   for kind, x in slots]
        call_args, call_kwargs = tree_util.tree_unflatten(tree, rebuilt)
        out = fun(*call_args, **call_kwargs)
        if any(type(leaf) is Ref for leaf in tree_util.tree_leaves(out)):
            raise ValueError("a function vmapped over mutable array references returned a "
                             "Ref, but mutable array references cannot be returned; "
                             "return ref[...] instead")
        finals = tuple(r._value if r._state == "live" else v
                       for r, v in zip(inner, ref_vals))
        return out, finals

    out, finals = vmap(mapped, in_axes=(tuple(ref_axes), tuple(value_axes)),
                       out_axes=(out_axes, tuple(ref_axes)), **vmap_kwargs)(
        tuple(ref_values), tuple(values))
    for r, v in zip(refs, finals):
        r._write((), v, "set (after vmap)")
    return out
