"""Refs as arguments of ``fx.jit``: each distinct ``Ref`` among the arguments becomes an
extra input (its current value) and an extra output (its final value) of one compiled
call, and the final values are written back into the refs after the call, so the caller
sees the writes the function made (as with JAX's refs). A jitted call inside a
control-flow body reads and writes the body's view of the ref (``fx/_ref_scope.py``).

Invariants: the ordinary jit path never sees a ``Ref`` (its argument check raises
``TypeError`` for one, before any tracing); ``JitWrapped.__call__`` hands those calls,
and only those, to ``call_with_refs``. Each jitted function gets one inner jitted
runner whose static first argument (the argument structure and which leaves are refs)
keys its cache.
"""
from __future__ import annotations

from fx import tree_util
from fx.interpreters import jit as _jit
from fx.ref import Ref, _make

_RUNNER_ATTR = "_fx_ref_runner"


def _split_refs(jitted, args, kwargs):
    """(statics, static kwargs, flat leaves, tree, refs, slot of each leaf or -1)."""
    statics, static_kw, dyn_args, dyn_kwargs = jitted._split(args, kwargs)
    leaves, tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))
    refs, slots = [], []
    for leaf in leaves:
        if type(leaf) is Ref:
            for k, r in enumerate(refs):
                if r is leaf:
                    slots.append(k)
                    break
            else:
                slots.append(len(refs))
                refs.append(leaf)
        else:
            slots.append(-1)
    return statics, static_kw, leaves, tree, refs, tuple(slots)


def has_ref_argument(jitted, args, kwargs) -> bool:
    """Whether a dynamic argument of a call to ``jitted`` holds a ``Ref``."""
    try:
        return bool(_split_refs(jitted, args, kwargs)[4])
    except Exception:  # noqa: BLE001  (the original error is the one to report)
        return False


def _runner(jitted):
    runner = jitted.__dict__.get(_RUNNER_ATTR)
    if runner is None:
        def run(spec, ref_values, others):
            tree, slots, ref_avals, statics, static_kw = spec
            inner = [_make(v, aval) for v, aval in zip(ref_values, ref_avals)]
            others_it = iter(others)
            leaves = [inner[s] if s >= 0 else next(others_it) for s in slots]
            dyn_args, dyn_kwargs = tree_util.tree_unflatten(tree, leaves)
            call_args, call_kwargs = jitted._rebuild(statics, static_kw, dyn_args,
                                                     dyn_kwargs)
            out = jitted._fun(*call_args, **call_kwargs)
            if any(type(leaf) is Ref for leaf in tree_util.tree_leaves(out)):
                raise ValueError(f"function {jitted._name} traced for jit returned a "
                                 "mutable array reference (Ref), but mutable array "
                                 "references cannot be returned; return ref[...] instead")
            final = [r._value if r._state == "live" else v
                     for r, v in zip(inner, ref_values)]
            return out, final

        run.__name__ = jitted._name
        runner = _jit.JitWrapped(run, static_argnums=(0,))
        jitted.__dict__[_RUNNER_ATTR] = runner
    return runner


def call_with_refs(jitted, args, kwargs):
    """Call ``jitted`` whose arguments hold refs: run it once compiled, then write the
    refs' final values back."""
    statics, static_kw, leaves, tree, refs, slots = _split_refs(jitted, args, kwargs)
    values = [r._live_value("pass to jit") for r in refs]
    others = [leaf for leaf, s in zip(leaves, slots) if s < 0]
    spec = (tree, slots, tuple(r.aval for r in refs), statics, static_kw)
    out, final = _runner(jitted)(spec, values, others)
    for r, v in zip(refs, final):
        r._write((), v, "set")  # into the ref, or the view of the loop body calling us
    return out
