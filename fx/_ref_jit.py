"""Refs and ``fx.jit``: refs passed as arguments, and refs the jitted function closes over.

*Arguments*: each distinct ``Ref`` among the arguments becomes an extra input (its current
value) and an extra output (its final value) of one compiled call, and the final values are
written back into the refs after the call, so the caller sees the writes the function made
(as with JAX's refs).

*Closed over* (``r = fx.new_ref(x); @fx.jit def f(y): r[...] += y``): the function is
traced in a ``RefScopeTrace`` (``fx/_ref_scope.py``), which captures every outer ref the
function touches as an extra trailing input of the jaxpr, and every ref it writes as an
extra trailing output. On *each* call the refs' current values are passed in (the compiled
program never holds a ref's value as a constant) and the written refs' final values are
written back afterwards, so every call sees the latest contents and every call's writes
land. The captured refs are part of the cache entry: the jit cache is keyed by the
arguments only (as JAX's), so a cached function keeps using the refs it touched when it was
traced (rebinding a global name to a new ref does not retrace it; JAX behaves the same). A
jitted call inside a control-flow body or another jitted function reads and writes the
enclosing body's view of the ref.

Invariants: the ordinary jit path never sees a ``Ref`` argument (its argument check raises
``TypeError`` for one, before any tracing); ``JitWrapped.__call__`` hands those calls, and
only those, to ``call_with_refs``. Each jitted function gets one inner jitted runner whose
static first argument (the argument structure and which leaves are refs) keys its cache.
A cache entry with closed-over refs is stored only when every ref lives at the top level
(eager refs); one holding refs of a live transformation is retraced on each call, as its
refs die with that transformation. Entries with refs never take the eager fast path.
"""
from __future__ import annotations

import contextvars

from fx import core, tree_util
from fx.ref import Ref, _make

_RUNNER_ATTR = "_fx_ref_runner"

# the refs passed as arguments to the jitted call being run (to refuse aliasing with a
# closed-over ref, as JAX does)
_passed_refs: contextvars.ContextVar[tuple] = contextvars.ContextVar("fx_passed_refs",
                                                                    default=())


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
        from fx.interpreters import jit as _jit

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
    token = _passed_refs.set(tuple(refs))
    try:
        out, final = _runner(jitted)(spec, values, others)
    finally:
        _passed_refs.reset(token)
    for r, v in zip(refs, final):
        r._write((), v, "set")  # into the ref, or the view of the loop body calling us
    return out


# ---------------------------------------------------------------------------
# refs closed over by a jitted function


def transient(refs) -> bool:
    """Whether a traced function holding these captured refs must not be cached: some ref
    belongs to a transformation (its value is a tracer that dies with that trace)."""
    return any(r._trace is not core.eval_trace for r in refs)


def closed_over_values(jitted, entry) -> list:
    """The current values of the refs ``entry``'s program closes over (as seen from the
    current trace: a control-flow body's view inside one), in the program's input order."""
    passed = _passed_refs.get()
    if passed:
        for r in entry.refs:
            if any(r is p for p in passed):
                raise ValueError(
                    f"when tracing {jitted._name} for jit, a mutable array reference of type "
                    f"{r.aval!r} was both closed over and passed as an argument; pass it "
                    "only as an argument (or only close over it)")
    return [r._live_value("read") for r in entry.refs]


def write_back(entry, outs: list) -> list:
    """Write the written refs' final values (the trailing outputs of ``entry``'s program)
    back into the refs; returns the function's own outputs."""
    written = [r for r, w in zip(entry.refs, entry.ref_written) if w]
    n_own = len(outs) - len(written)
    for r, v in zip(written, outs[n_own:]):
        r._write((), v, "set (in a jitted function)")
    return list(outs[:n_own])
