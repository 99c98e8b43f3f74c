"""Rematerialisation: ``remat2`` (what ``fx.checkpoint`` binds; JAX 0.10 prints
it ``remat2``), the identity ``name`` that ``checkpoint_name`` binds, and the
identity ``optimization_barrier``.

Invariants: ``remat2`` carries an open jaxpr (its constants are leading
operands). Its partial evaluation runs the known part now and stages the
unknown part as another ``remat2`` whose jaxpr recomputes every known value the
policy does not allow to be saved: ``policy(prim, *avals, **params)`` is asked
about the equation that produced each value the unknown side reads; the inputs
of the ``remat2`` are always saved. Equations inside nested higher-order
primitives follow those primitives' own partial evaluation.

Refs (JAX's semantics: the backward pass recomputes a checkpointed function's ref reads
and writes): a ``remat2`` bound by ``bind_remat`` with refs carries the hidden param
``ref_slots`` (``(ref, operand index, output index or -1)``: that operand was the ref's
value read just before the bind, that output its new value written back just after).
Partial evaluation turns the slots into the hidden param ``ref_replay`` of the staged
``remat2``: its jaxpr takes one more trailing input per ref (read again when the staged
equation runs or is transposed) and gives one more trailing output per written ref
(written back then); its operands and results do not include them. Binding such an
equation reads and writes the refs where it runs (``_bind_replay``), so it never reaches
a compiled program.
"""
from __future__ import annotations

from fx import core
from fx.core import ClosedJaxpr, Jaxpr, UndefinedPrimal, Zero, get_aval
from fx.interpreters import ad, batching
from fx.interpreters import partial_eval as pe
from primitives import _higher_order as H
from primitives import _rules as R
from primitives._rules import new_primitive

__all__ = ["remat_p", "name_p", "optimization_barrier_p"]

# ---------------------------------------------------------------------------
# remat2

remat_p = new_primitive("remat2", multiple_results=True,
                        hidden_params=("ref_slots", "ref_replay"))
remat_p.subjaxprs = lambda params: [params["jaxpr"]]
remat_p.axis_dependent = True


def _open_call(closed: ClosedJaxpr) -> tuple[Jaxpr, list]:
    """``closed`` as an open jaxpr taking its constants first, and those constants."""
    j = closed.jaxpr
    return Jaxpr([], j.constvars + j.invars, j.outvars, j.eqns, j.debug_info), list(closed.consts)


def bind_remat(closed: ClosedJaxpr, args, *, prevent_cse: bool, differentiated: bool, policy,
               refs=(), written=()):
    """Bind ``remat2`` on ``closed`` (its constants become leading operands).

    With ``refs`` (``fx.Ref`` objects), ``closed`` takes one more trailing input per ref
    (its value, read now) and gives one more trailing output per ref whose ``written``
    flag is set (written back after the bind); the result holds ``closed``'s own outputs.
    """
    jaxpr, consts = _open_call(closed)
    params = dict(jaxpr=jaxpr, prevent_cse=prevent_cse, differentiated=differentiated,
                  policy=policy)
    if not refs:
        return remat_p.bind(*consts, *args, **params)
    values = [r._live_value("read") for r in refs]
    n_in = len(consts) + len(args)
    n_own = len(jaxpr.outvars) - sum(written)
    slots, k = [], n_own
    for i, (r, w) in enumerate(zip(refs, written)):
        slots.append((r, n_in + i, k if w else -1))
        k += bool(w)
    outs = remat_p.bind(*consts, *args, *values, ref_slots=tuple(slots), **params)
    _write_refs([r for r, w in zip(refs, written) if w], outs[n_own:])
    return outs[:n_own]


def _write_refs(refs, values) -> None:
    from fx import _ref_scope
    _ref_scope.write_back(refs, values, "checkpoint")


def _n_replay_in_out(ref_replay) -> tuple[int, int]:
    """How many trailing jaxpr inputs and outputs a ``ref_replay`` param adds."""
    if not ref_replay:
        return 0, 0
    refs, written = ref_replay
    return len(refs), sum(written)


def _bind_replay(*args, jaxpr, ref_replay, **params):
    """Run a staged ``remat2`` that replays ref reads and writes: read the refs where it
    runs, bind it on their values (itself with ref slots: a later differentiation replays
    again), write the new values back."""
    refs, written = ref_replay
    return bind_remat(ClosedJaxpr(jaxpr, []), list(args), refs=refs, written=written,
                      **params)


def _remat_bind(*args, **params):
    if params.get("ref_replay"):
        return _bind_replay(*args, **params)
    return core.Primitive.bind(remat_p, *args, **params)


remat_p.bind = _remat_bind


@remat_p.def_abstract_eval
def _remat_abstract_eval(*avals, jaxpr, prevent_cse, differentiated, policy, ref_slots=(),
                         ref_replay=()):
    n_in, n_out = _n_replay_in_out(ref_replay)
    expected = jaxpr.in_avals[:len(jaxpr.invars) - n_in]
    if len(avals) != len(expected) or not all(
            H.aval_matches(a, e) for a, e in zip(avals, expected)):
        raise TypeError(f"remat2: operand types {[a.str_short() for a in avals]} do not match "
                        f"its jaxpr's {[e.str_short() for e in expected]}")
    return jaxpr.out_avals[:len(jaxpr.outvars) - n_out]


@remat_p.def_impl
def _remat_impl(*args, jaxpr, prevent_cse, differentiated, policy, ref_slots=(),
                ref_replay=()):
    if ref_replay:  # reached only through a compiled program's eager fallback
        return _bind_replay(*args, jaxpr=jaxpr, prevent_cse=prevent_cse,
                            differentiated=differentiated, policy=policy,
                            ref_replay=ref_replay)
    return H.eval_jaxpr_numpy(jaxpr, [], args)


@remat_p.def_jvp
def _remat_jvp(primals, tangents, *, jaxpr, prevent_cse, differentiated, policy,
               ref_slots=()):
    nonzeros = [type(t) is not Zero for t in tangents]
    jvp_closed, out_nz = ad.jvp_jaxpr(ClosedJaxpr(jaxpr, []), nonzeros, instantiate=False)
    nonzero_tangents = [t for t in tangents if type(t) is not Zero]
    # primal operands and outputs keep their places: the slots of refs holding values
    # with no tangent stay valid (a ref holding a differentiated value is not replayed)
    slots = tuple(s for s in ref_slots if type(tangents[s[1]]) is Zero)
    jvp_open, consts = _open_call(jvp_closed)
    extra = dict(ref_slots=tuple((r, i + len(consts), o) for r, i, o in slots)) \
        if slots else {}
    outs = remat_p.bind(*consts, *primals, *nonzero_tangents, jaxpr=jvp_open,
                        prevent_cse=prevent_cse, differentiated=True, policy=policy, **extra)
    n = len(jaxpr.outvars)
    it = iter(outs[n:])
    tangents_out = [next(it) if nz else Zero(a.to_tangent_aval())
                    for a, nz in zip(jaxpr.out_avals, out_nz)]
    return outs[:n], tangents_out


@remat_p.def_transpose
def _remat_transpose(cts, *args, jaxpr, prevent_cse, differentiated, policy, ref_slots=(),
                     ref_replay=()):
    if ref_replay:
        return _replay_transpose(cts, args, jaxpr, ref_replay, prevent_cse=prevent_cse,
                                 policy=policy)
    linear = [core.is_undefined_primal(a) for a in args]
    transposed = ad.transpose_jaxpr(ClosedJaxpr(jaxpr, []), linear)
    nonlin = [a for a, lin in zip(args, linear) if not lin]
    outs = bind_remat(transposed, [*nonlin, *[R.instantiate(c) for c in cts]],
                      prevent_cse=prevent_cse, differentiated=True, policy=policy)
    it = iter(outs)
    return [next(it) if lin else None for lin in linear]


def _replay_transpose(cts, args, jaxpr: Jaxpr, ref_replay, *, prevent_cse, policy):
    """Transpose a staged ``remat2`` that replays ref effects: in one traced program, read
    the refs, recompute and write their new values (before the transposition, so nested
    replays see them, as JAX's sequential effects), then run the backward pass."""
    from fx import _ref_scope
    refs, written = ref_replay
    n_written = sum(written)
    n_own_out = len(jaxpr.outvars) - n_written
    own = Jaxpr([], jaxpr.invars, jaxpr.outvars[:n_own_out], jaxpr.eqns, jaxpr.debug_info)
    linear = [core.is_undefined_primal(a) for a in args]
    finals, used = pe.dce_jaxpr(Jaxpr([], jaxpr.invars, jaxpr.outvars[n_own_out:], jaxpr.eqns),
                                [True] * n_written)
    if any(u and lin for u, lin in zip(used, linear)):
        raise NotImplementedError("checkpoint: a ref's new value depends on a differentiated "
                                  "value; fx cannot replay that write in the backward pass")
    finals = Jaxpr([], [v for v, u in zip(jaxpr.invars, used) if u], finals.outvars,
                   finals.eqns)
    nonlin = [a for a, lin in zip(args, linear) if not lin]
    ct_zero = [type(c) is Zero for c in cts]
    in_avals = [get_aval(a) for a in nonlin] + [c.aval for c, z in zip(cts, ct_zero) if not z]

    def fun(*xs):
        it_nonlin, it_ct = iter(xs[:len(nonlin)]), iter(xs[len(nonlin):])
        values = [r._live_value("read") for r in refs]
        primals = [UndefinedPrimal(get_aval(a)) if lin else next(it_nonlin)
                   for a, lin in zip(args, linear)] + values
        new = core.eval_jaxpr(finals, [], *[p for p, u in zip(primals, used) if u])
        for r, v in zip([r for r, w in zip(refs, written) if w], new):
            r._write((), v, "set (in a checkpoint recomputed by the backward pass)")
        cts_in = [Zero(v.aval) if z else next(it_ct) for v, z in zip(own.outvars, ct_zero)]
        outs = ad.backward_pass(own, [], primals, cts_in)
        return [R.instantiate(c) for c, lin in zip(outs[:len(args)], linear) if lin]

    traced, consts, _, use = _ref_scope.trace_to_jaxpr(fun, in_avals)
    closed = _ref_scope.written_only(ClosedJaxpr(traced, consts), use)
    call_args = [*nonlin, *[c for c, z in zip(cts, ct_zero) if not z]]
    refs_used = tuple(use.refs) if use is not None else ()
    outs = bind_remat(closed, call_args, prevent_cse=prevent_cse, differentiated=True,
                      policy=policy, refs=refs_used,
                      written=tuple(use.written) if use is not None else ())
    it = iter(outs)
    return [next(it) if lin else None for lin in linear]


def _remat_batch(args, dims, *, axis_data=None, jaxpr, prevent_cse, differentiated, policy,
                 ref_slots=(), ref_replay=()):
    # (a replaying remat2 never gets here: binding it runs it; ref slots are dropped: no
    # write into an outer ref is allowed under vmap, so there is nothing to replay)
    axis = H.AxisInfo.from_axis_data(axis_data, args, dims)
    args = [a if d is None else R.moveaxis(a, d, 0) for a, d in zip(args, dims)]
    batched_closed, out_b = batching.batch_jaxpr(
        ClosedJaxpr(jaxpr, []), axis.size, [d is not None for d in dims], instantiate=False,
        axis_name=axis.name)
    outs = bind_remat(batched_closed, args, prevent_cse=prevent_cse,
                      differentiated=differentiated, policy=policy)
    return outs, [0 if b else None for b in out_b]


remat_p.def_batch(_remat_batch)


class _RecordingTrace(core.Trace):
    """Forwards every primitive to its parent and remembers the equation behind each result.

    Used as the parent of the partial evaluation of a ``remat2`` so that every known
    value (also those produced inside nested rules) can be recomputed later.
    """

    __slots__ = ("made_by",)

    def __init__(self, parent):
        super().__init__(parent)
        self.made_by: dict[int, tuple] = {}

    def process_primitive(self, primitive, args, params):
        with core.set_current_trace(self.parent):
            out = primitive.bind(*args, **params)
        outs = out if primitive.multiple_results else [out]
        record = (primitive, params, tuple(args), list(outs))
        for o in outs:
            self.made_by[id(o)] = record
        return out


#: the primitives ``Ref`` writes build a ref's new value with (operand first)
_UPDATES = frozenset({"scatter", "dynamic_update_slice"})


class _KnownTrace(pe.DynamicJaxprTrace):
    """The staging trace of a ``remat2``'s known part (run right after it is staged)."""

    __slots__ = ()


def _replayable(ref) -> bool:
    """Whether a staged part can read ``ref`` again where it runs: the ref must belong to
    a trace enclosing the current one (a ref made inside a traced body is gone by then).
    Staging traces in between are fine: the rules that bind or transpose what they stage
    (``jit``, ``scan``, ``cond``) capture the refs it reads and writes, so a checkpoint
    inside a loop body replays its writes once per step of the backward loop, as JAX's."""
    t = core.current_trace()
    while t is not None and t is not ref._trace:
        t = t.parent
    return t is not None


class _RematPartialTrace(pe.JaxprTrace):
    """Partial evaluation in which a known value read by the unknown side is either saved
    (a residual) or, when the policy does not allow saving it, recomputed there."""

    __slots__ = ("policy", "recorder", "residuals", "recomputed", "fresh_reads")

    def __init__(self, recorder: _RecordingTrace, policy):
        super().__init__(recorder)
        self.policy = policy
        self.recorder = recorder
        self.residuals: dict[int, tuple] = {}
        self.recomputed: dict[int, list] = {}
        self.fresh_reads: dict[int, pe.JaxprTracer] = {}  # id(ref value) -> staged input

    def instantiate_const(self, x):
        if self.is_unknown(x):
            return x
        fresh = self.fresh_reads.get(id(x))
        if fresh is not None:  # a ref's value: read again where the staged part runs
            return fresh
        record = self.recorder.made_by.get(id(x))
        if record is None or self._saveable(record):
            return self._residual(x)
        primitive, params, args, outs = record
        tracers = self.recomputed.get(id(record))
        if tracers is None:
            tracers_in = [self.instantiate_const(a) for a in args]
            out_avals = [get_aval(o) for o in outs]
            recipe = pe._EqnRecipe(primitive, params, tracers_in, out_avals, None)
            tracers = [pe.JaxprTracer(self, a, recipe) for a in out_avals]
            recipe.tracers_out = tracers
            self.recomputed[id(record)] = tracers
        return tracers[next(i for i, o in enumerate(outs) if o is x)]

    def instantiate_ref_value(self, x):
        """A ref's new value on the staged side: the updates that made it from the ref's
        earlier value (``ref[idx] = v``) are always redone on the value read again, so a
        replayed partial write touches only its window, as JAX's; ``v`` follows the
        policy."""
        record = self.recorder.made_by.get(id(x))
        if self.is_unknown(x) or record is None or record[0].name not in _UPDATES:
            return self.instantiate_const(x)
        tracers = self.recomputed.get(id(record))
        if tracers is None:
            primitive, params, args, outs = record
            tracers_in = [self.instantiate_ref_value(args[0])] + [
                self.instantiate_const(a) for a in args[1:]]
            out_avals = [get_aval(o) for o in outs]
            recipe = pe._EqnRecipe(primitive, params, tracers_in, out_avals, None)
            tracers = [pe.JaxprTracer(self, a, recipe) for a in out_avals]
            recipe.tracers_out = tracers
            self.recomputed[id(record)] = tracers
        return tracers[0]

    def _residual(self, x):
        entry = self.residuals.get(id(x))
        if entry is None:
            entry = self.residuals[id(x)] = (x, pe.JaxprTracer(self, get_aval(x),
                                                                pe._ConstRecipe(x)))
        return entry[1]

    def _saveable(self, record) -> bool:
        primitive, params, args, _ = record
        if primitive.effectful:
            return True
        if self.policy is None:
            return False
        return bool(self.policy(primitive, *[get_aval(a) for a in args], **params))


def _remat_partial_eval(trace: pe.JaxprTrace, args, *, jaxpr, prevent_cse, differentiated,
                        policy, ref_slots=()):
    """Known part: staged, stripped of dead code and run now. Unknown part: a ``remat2``
    reading the saved residuals and recomputing the rest (the refs' reads and writes
    included: it reads them again and writes them back where it runs, as JAX's)."""
    unknowns = [trace.is_unknown(a) for a in args]
    slots = [s for s in ref_slots if not unknowns[s[1]] and _replayable(s[0])]
    known_vals = [a for a, uk in zip(args, unknowns) if not uk]
    known_trace = _KnownTrace(trace.parent)
    with core.new_trace(known_trace):
        known_in = [known_trace.new_arg(get_aval(a)) for a in known_vals]
        inner = _RematPartialTrace(_RecordingTrace(known_trace), policy)
        with core.new_trace(inner):
            in_tracers = [inner.new_arg(a.aval) for a, uk in zip(args, unknowns) if uk]
            unknown_it, known_it = iter(in_tracers), iter(known_in)
            in_vals = [next(unknown_it) if uk else next(known_it) for uk in unknowns]
            reads = [inner.new_arg(get_aval(args[i])) for _, i, _ in slots]
            for (_, i, _), read in zip(slots, reads):
                inner.fresh_reads[id(in_vals[i])] = read
            outs = core.eval_jaxpr(jaxpr, [], *in_vals)
            out_uk = [inner.is_unknown(o) for o in outs]
            written = [o >= 0 and not out_uk[o] for _, _, o in slots]
            new_values = [inner.instantiate_ref_value(outs[o])
                          for (_, _, o), w in zip(slots, written) if w]
            staged, residuals = pe.tracers_to_jaxpr(
                in_tracers + reads, [o for o, uk in zip(outs, out_uk) if uk] + new_values)
        known_outs = [o for o, uk in zip(outs, out_uk) if not uk]
        known_jaxpr, known_consts = known_trace.to_jaxpr(known_outs + residuals)
    live, _ = pe.dce_jaxpr(known_jaxpr, [True] * len(known_jaxpr.outvars))
    live = Jaxpr(live.constvars, known_jaxpr.invars, live.outvars, live.eqns)  # keep all inputs
    with core.set_current_trace(trace.parent):
        values = core.eval_jaxpr(live, known_consts, *known_vals)
    known_results, residual_values = values[:len(known_outs)], values[len(known_outs):]
    staged_jaxpr = Jaxpr([], staged.constvars + staged.invars, staged.outvars, staged.eqns)
    params = dict(jaxpr=staged_jaxpr, prevent_cse=prevent_cse, differentiated=True,
                  policy=policy)
    if slots:
        params["ref_replay"] = (tuple(r for r, _, _ in slots), tuple(written))
    unknown_outs = trace.default_process(
        remat_p, [*residual_values, *[a for a, uk in zip(args, unknowns) if uk]], params)
    unknown_it, known_it = iter(unknown_outs), iter(known_results)
    return [next(unknown_it) if uk else next(known_it) for uk in out_uk]


remat_p.partial_eval = _remat_partial_eval


# ---------------------------------------------------------------------------
# name (checkpoint_name): the identity, tagged for remat policies

name_p = new_primitive("name")
name_p.def_abstract_eval(lambda x, *, name: x)
name_p.def_impl(lambda x, *, name: x)


@name_p.def_jvp
def _name_jvp(primals, tangents, *, name):
    return name_p.bind(primals[0], name=name), tangents[0]


@name_p.def_transpose
def _name_transpose(ct, x, *, name):
    return [ct]


@name_p.def_batch
def _name_batch(args, dims, *, name):
    return name_p.bind(args[0], name=name), dims[0]


# ---------------------------------------------------------------------------
# optimization_barrier: the identity on several values, opaque to the optimiser

optimization_barrier_p = new_primitive("optimization_barrier", multiple_results=True)
optimization_barrier_p.def_abstract_eval(lambda *avals: list(avals))
optimization_barrier_p.def_impl(lambda *args: list(args))


@optimization_barrier_p.def_jvp
def _optimization_barrier_jvp(primals, tangents):
    # two barriers: one on the primals (known when linearizing), one on the tangents
    nonzero = [t for t in tangents if type(t) is not Zero]
    tangents_out = iter(optimization_barrier_p.bind(*nonzero)) if nonzero else iter(())
    return (optimization_barrier_p.bind(*primals),
            [t if type(t) is Zero else next(tangents_out) for t in tangents])


@optimization_barrier_p.def_transpose
def _optimization_barrier_transpose(cts, *args):
    nonzero = [c for c in cts if type(c) is not Zero]
    outs = iter(optimization_barrier_p.bind(*nonzero)) if nonzero else iter(())
    return [c if type(c) is Zero else next(outs) for c in cts]


@optimization_barrier_p.def_batch
def _optimization_barrier_batch(args, dims):
    return optimization_barrier_p.bind(*args), list(dims)
