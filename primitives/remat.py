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
"""
from __future__ import annotations

from fx import core
from fx.core import ClosedJaxpr, Jaxpr, Zero, get_aval
from fx.interpreters import ad, batching
from fx.interpreters import partial_eval as pe
from primitives import _higher_order as H
from primitives import _rules as R
from primitives._rules import new_primitive

__all__ = ["remat_p", "name_p", "optimization_barrier_p"]

# ---------------------------------------------------------------------------
# remat2

remat_p = new_primitive("remat2", multiple_results=True)
remat_p.subjaxprs = lambda params: [params["jaxpr"]]
remat_p.axis_dependent = True


def _open_call(closed: ClosedJaxpr) -> tuple[Jaxpr, list]:
    """``closed`` as an open jaxpr taking its constants first, and those constants."""
    j = closed.jaxpr
    return Jaxpr([], j.constvars + j.invars, j.outvars, j.eqns, j.debug_info), list(closed.consts)


def bind_remat(closed: ClosedJaxpr, args, *, prevent_cse: bool, differentiated: bool, policy):
    """Bind ``remat2`` on ``closed`` (its constants become leading operands)."""
    jaxpr, consts = _open_call(closed)
    return remat_p.bind(*consts, *args, jaxpr=jaxpr, prevent_cse=prevent_cse,
                        differentiated=differentiated, policy=policy)


@remat_p.def_abstract_eval
def _remat_abstract_eval(*avals, jaxpr, prevent_cse, differentiated, policy):
    expected = jaxpr.in_avals
    if len(avals) != len(expected) or not all(
            H.aval_matches(a, e) for a, e in zip(avals, expected)):
        raise TypeError(f"remat2: operand types {[a.str_short() for a in avals]} do not match "
                        f"its jaxpr's {[e.str_short() for e in expected]}")
    return jaxpr.out_avals


@remat_p.def_impl
def _remat_impl(*args, jaxpr, prevent_cse, differentiated, policy):
    return H.eval_jaxpr_numpy(jaxpr, [], args)


@remat_p.def_jvp
def _remat_jvp(primals, tangents, *, jaxpr, prevent_cse, differentiated, policy):
    nonzeros = [type(t) is not Zero for t in tangents]
    jvp_closed, out_nz = ad.jvp_jaxpr(ClosedJaxpr(jaxpr, []), nonzeros, instantiate=False)
    nonzero_tangents = [t for t in tangents if type(t) is not Zero]
    outs = bind_remat(jvp_closed, [*primals, *nonzero_tangents], prevent_cse=prevent_cse,
                      differentiated=True, policy=policy)
    n = len(jaxpr.outvars)
    it = iter(outs[n:])
    tangents_out = [next(it) if nz else Zero(a.to_tangent_aval())
                    for a, nz in zip(jaxpr.out_avals, out_nz)]
    return outs[:n], tangents_out


@remat_p.def_transpose
def _remat_transpose(cts, *args, jaxpr, prevent_cse, differentiated, policy):
    linear = [core.is_undefined_primal(a) for a in args]
    transposed = ad.transpose_jaxpr(ClosedJaxpr(jaxpr, []), linear)
    nonlin = [a for a, lin in zip(args, linear) if not lin]
    outs = bind_remat(transposed, [*nonlin, *[R.instantiate(c) for c in cts]],
                      prevent_cse=prevent_cse, differentiated=True, policy=policy)
    it = iter(outs)
    return [next(it) if lin else None for lin in linear]


def _remat_batch(args, dims, *, axis_data=None, jaxpr, prevent_cse, differentiated, policy):
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


class _RematPartialTrace(pe.JaxprTrace):
    """Partial evaluation in which a known value read by the unknown side is either saved
    (a residual) or, when the policy does not allow saving it, recomputed there."""

    __slots__ = ("policy", "recorder", "residuals", "recomputed")

    def __init__(self, recorder: _RecordingTrace, policy):
        super().__init__(recorder)
        self.policy = policy
        self.recorder = recorder
        self.residuals: dict[int, tuple] = {}
        self.recomputed: dict[int, list] = {}

    def instantiate_const(self, x):
        if self.is_unknown(x):
            return x
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
                        policy):
    """Known part: staged, stripped of dead code and run now. Unknown part: a ``remat2``
    reading the saved residuals and recomputing the rest."""
    unknowns = [trace.is_unknown(a) for a in args]
    known_vals = [a for a, uk in zip(args, unknowns) if not uk]
    known_trace = pe.DynamicJaxprTrace(trace.parent)
    with core.new_trace(known_trace):
        known_in = [known_trace.new_arg(get_aval(a)) for a in known_vals]
        inner = _RematPartialTrace(_RecordingTrace(known_trace), policy)
        with core.new_trace(inner):
            in_tracers = [inner.new_arg(a.aval) for a, uk in zip(args, unknowns) if uk]
            unknown_it, known_it = iter(in_tracers), iter(known_in)
            outs = core.eval_jaxpr(jaxpr, [], *[next(unknown_it) if uk else next(known_it)
                                                for uk in unknowns])
            out_uk = [inner.is_unknown(o) for o in outs]
            staged, residuals = pe.tracers_to_jaxpr(
                in_tracers, [o for o, uk in zip(outs, out_uk) if uk])
        known_outs = [o for o, uk in zip(outs, out_uk) if not uk]
        known_jaxpr, known_consts = known_trace.to_jaxpr(known_outs + residuals)
    live, _ = pe.dce_jaxpr(known_jaxpr, [True] * len(known_jaxpr.outvars))
    live = Jaxpr(live.constvars, known_jaxpr.invars, live.outvars, live.eqns)  # keep all inputs
    with core.set_current_trace(trace.parent):
        values = core.eval_jaxpr(live, known_consts, *known_vals)
    known_results, residual_values = values[:len(known_outs)], values[len(known_outs):]
    staged_jaxpr = Jaxpr([], staged.constvars + staged.invars, staged.outvars, staged.eqns)
    unknown_outs = trace.default_process(
        remat_p, [*residual_values, *[a for a, uk in zip(args, unknowns) if uk]],
        dict(jaxpr=staged_jaxpr, prevent_cse=prevent_cse, differentiated=True, policy=policy))
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
