"""Automatic differentiation: forward mode (JVPTrace), linearize by partial
evaluation of the jvp, and reverse mode by transposing the linear jaxpr.

Invariants: a tangent is either an array or a symbolic ``Zero``; a value that
is not a ``JVPTracer`` of the current ``JVPTrace`` has a zero tangent. The
linear jaxpr from ``linearize`` reads its residuals as constvars and its
tangent inputs as invars; ``backward_pass`` runs it backwards.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from fx import core
from fx.core import (ClosedJaxpr, Jaxpr, Literal, Tracer, UndefinedPrimal, Zero, get_aval,
                     is_undefined_primal)
from fx.interpreters import partial_eval as pe
from primitives import _rules as R


class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent")

    def __init__(self, trace, primal, tangent):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent

    @property
    def aval(self):
        p = self.primal
        return p.aval if isinstance(p, Tracer) else get_aval(p)

    def to_concrete_value(self):
        p = self.primal
        if isinstance(p, Tracer):
            return p.to_concrete_value()
        return p


class JVPTrace(core.Trace):
    __slots__ = ()

    def to_pair(self, x):
        if isinstance(x, JVPTracer) and x._trace is self:
            return x.primal, x.tangent
        if isinstance(x, Tracer) and not x._trace.alive:
            core.raise_leaked(x)
        return x, Zero.from_primal_value(x)

    def process_primitive(self, primitive, args, params):
        primals, tangents = [], []
        all_zero = True
        for a in args:
            if type(a) is JVPTracer and a._trace is self:
                primals.append(a.primal)
                tangents.append(a.tangent)
                all_zero = all_zero and type(a.tangent) is Zero
            else:
                p, t = self.to_pair(a)
                primals.append(p)
                tangents.append(t)
                all_zero = all_zero and type(t) is Zero
        parent = self.parent
        if all_zero:
            token = core._current_trace.set(parent)
            try:
                return parent.process_primitive(primitive, tuple(primals), params)
            finally:
                core._current_trace.reset(token)
        rule = primitive.jvp
        if rule is None:
            raise NotImplementedError(
                f"Differentiation rule for '{primitive.name}' not implemented (jvp)")
        token = core._current_trace.set(parent)
        try:
            primal_out, tangent_out = rule(primals, tangents, **params)
        finally:
            core._current_trace.reset(token)
        if primitive.multiple_results:
            return [self.make(p, t) for p, t in zip(primal_out, tangent_out)]
        return self.make(primal_out, tangent_out)

    def make(self, primal, tangent):
        if type(tangent) is Zero:
            return primal
        return JVPTracer(self, primal, tangent)


def jvp_flat(fun: Callable, primals: Sequence[Any], tangents: Sequence[Any]
             ) -> tuple[list, list]:
    """Forward mode on a flat function. Tangents may be ``Zero``; outputs may be too."""
    trace = JVPTrace(core.current_trace())
    with core.new_trace(trace):
        ins = [trace.make(p, t) for p, t in zip(primals, tangents)]
        outs = fun(*ins)
        pairs = [trace.to_pair(o) for o in outs]
    return [p for p, _ in pairs], [t for _, t in pairs]


def linearize_flat(fun: Callable, primals: Sequence[Any]):
    """Run ``fun``'s jvp with known primals and unknown tangents.

    Returns (primals_out, linear_jaxpr, residuals, out_tangent_avals) where
    ``linear_jaxpr`` maps input tangents to output tangents, reading the
    residuals as its constvars.
    """
    tangent_avals = [get_aval(p).to_tangent_aval() for p in primals]
    pe_trace = pe.JaxprTrace(core.current_trace())
    with core.new_trace(pe_trace):
        tangent_args = [pe_trace.new_arg(a) for a in tangent_avals]
        primals_out, tangents_out = jvp_flat(fun, primals, tangent_args)
        tangents_out = [R.instantiate(t) for t in tangents_out]
        for p in primals_out:
            if pe_trace.is_unknown(p):
                raise core.JaxprTypeError("a primal output depends on a tangent input")
        jaxpr, residuals = pe.tracers_to_jaxpr(tangent_args, tangents_out, pe_trace.effects)
    return primals_out, jaxpr, residuals


# ---------------------------------------------------------------------------
# transposition


_MISSING = object()


def backward_pass(jaxpr: Jaxpr, consts: Sequence[Any], args: Sequence[Any],
                  cotangents_out: Sequence[Any]) -> list:
    """Cotangents of the ``UndefinedPrimal`` entries of ``args``, given output cotangents.

    Equations none of whose inputs are linear are evaluated forward first.
    """
    primal_env: dict[int, Any] = {}
    ct_env: dict[int, Any] = {}

    def read_primal(v):
        if isinstance(v, Literal):
            return core.literal_value(v)
        x = primal_env.get(id(v), _MISSING)
        return UndefinedPrimal(v.aval) if x is _MISSING else x

    for v, c in zip(jaxpr.constvars, consts):
        primal_env[id(v)] = c
    for v, a in zip(jaxpr.invars, args):  # (undefined ones too: they carry the weak type)
        primal_env[id(v)] = a
    linear_eqns = []
    for eqn in jaxpr.eqns:
        ins = []
        for v in eqn.invars:
            if isinstance(v, Literal):
                ins.append(core.literal_value(v))
                continue
            x = primal_env.get(id(v), _MISSING)
            if x is _MISSING or type(x) is UndefinedPrimal:  # a linear input
                linear_eqns.append(eqn)
                break
            ins.append(x)
        else:
            outs = eqn.primitive.bind(*ins, **eqn.params)
            if not eqn.primitive.multiple_results:
                primal_env[id(eqn.outvars[0])] = outs
                continue
            for v, x in zip(eqn.outvars, outs):
                primal_env[id(v)] = x

    def write_ct(v, ct):
        if ct is None or type(ct) is Zero or isinstance(v, Literal):
            return
        prev = ct_env.get(id(v))
        ct_env[id(v)] = ct if prev is None else R.add_tangents(prev, ct)

    for v, ct in zip(jaxpr.outvars, cotangents_out):
        write_ct(v, ct)
    for eqn in reversed(linear_eqns):
        cts_in = [ct_env.pop(id(v), None) for v in eqn.outvars]
        if all(ct is None for ct in cts_in):
            continue
        cts_in = [Zero(v.aval) if ct is None else ct for v, ct in zip(eqn.outvars, cts_in)]
        rule = eqn.primitive.transpose
        if rule is None:
            raise NotImplementedError(
                f"Transpose rule (for reverse-mode differentiation) for "
                f"'{eqn.primitive.name}' not implemented")
        ins = [read_primal(v) for v in eqn.invars]
        ct_arg = cts_in if eqn.primitive.multiple_results else cts_in[0]
        cts_out = rule(ct_arg, *ins, **eqn.params)
        for v, x, ct in zip(eqn.invars, ins, cts_out):
            if is_undefined_primal(x):
                write_ct(v, ct)
    results = []
    for v, a in zip(jaxpr.invars, args):
        if is_undefined_primal(a):
            ct = ct_env.get(id(v))
            results.append(Zero(a.aval) if ct is None else ct)
        else:
            results.append(None)
    return results


def vjp_flat(fun: Callable, primals: Sequence[Any]):
    """Returns (primals_out, vjp_fun) where vjp_fun maps output cotangents to input ones."""
    primals_out, jaxpr, residuals = linearize_flat(fun, primals)
    in_avals = [v.aval for v in jaxpr.invars]

    def vjp_fun(cotangents_out):
        undefined = [UndefinedPrimal(a) for a in in_avals]
        return backward_pass(jaxpr, residuals, undefined, cotangents_out)

    return primals_out, vjp_fun, jaxpr, residuals


# ---------------------------------------------------------------------------
# jaxpr-level helpers for higher-order primitives


def _trace(fun: Callable, avals: list, capture_refs: bool):
    """(jaxpr, consts, RefUse or None): ``fun`` staged; with ``capture_refs`` the refs that
    custom rules run during the tracing touch become extra inputs/outputs
    (``fx/_ref_scope.py``; the caller passes their values and writes them back)."""
    if not capture_refs:
        jaxpr, consts, _ = pe.trace_to_jaxpr(fun, avals)
        return jaxpr, consts, None
    from fx import _ref_scope
    jaxpr, consts, _, use = _ref_scope.trace_to_jaxpr(fun, avals)
    return jaxpr, consts, use


def jvp_jaxpr(closed: ClosedJaxpr, nonzeros: Sequence[bool], instantiate: bool | Sequence[bool],
              capture_refs: bool = False):
    """A jaxpr taking (primals, nonzero tangents) to (primals, tangents out).

    Returns the jaxpr and which output tangents are nonzero (and, with ``capture_refs``,
    the ``RefUse`` of the refs custom rules touched: extra trailing inputs and outputs).
    """
    n_out = len(closed.jaxpr.outvars)
    if isinstance(instantiate, bool):
        instantiate = [instantiate] * n_out
    in_avals = closed.in_avals
    tangent_avals = [a.to_tangent_aval() for a, nz in zip(in_avals, nonzeros) if nz]
    out_nonzeros: list[bool] = []

    def fun(*args):
        primals, tangents_nz = args[:len(in_avals)], args[len(in_avals):]
        it = iter(tangents_nz)
        tangents = [next(it) if nz else Zero(a.to_tangent_aval())
                    for a, nz in zip(in_avals, nonzeros)]
        outs, out_tangents = jvp_flat(core.jaxpr_as_fun(closed), primals, tangents)
        out_nonzeros[:] = [type(t) is not Zero or inst
                           for t, inst in zip(out_tangents, instantiate)]
        return list(outs) + [R.instantiate(t) for t, nz in zip(out_tangents, out_nonzeros)
                             if nz]

    jaxpr, consts, use = _trace(fun, list(in_avals) + tangent_avals, capture_refs)
    if capture_refs:
        return ClosedJaxpr(jaxpr, consts), out_nonzeros, use
    return ClosedJaxpr(jaxpr, consts), out_nonzeros


def transpose_jaxpr(closed: ClosedJaxpr, linear: Sequence[bool], capture_refs: bool = False,
                    ct_zeros: Sequence[bool] | None = None):
    """A jaxpr taking (non-linear inputs, output cotangents) to linear input cotangents
    (with ``capture_refs``: and the ``RefUse`` of the refs custom rules touched, as
    ``jvp_jaxpr``). ``ct_zeros`` marks output cotangents known to be zero: the jaxpr then
    takes only the others."""
    in_avals = closed.in_avals
    nonlin_avals = [a for a, lin in zip(in_avals, linear) if not lin]
    all_ct_avals = [a.to_tangent_aval() for a in closed.out_avals]
    ct_zeros = list(ct_zeros) if ct_zeros is not None else [False] * len(all_ct_avals)
    ct_avals = [a for a, z in zip(all_ct_avals, ct_zeros) if not z]

    def fun(*args):
        nonlin, given = args[:len(nonlin_avals)], iter(args[len(nonlin_avals):])
        cts = [Zero(a) if z else next(given) for a, z in zip(all_ct_avals, ct_zeros)]
        it = iter(nonlin)
        primals = [UndefinedPrimal(a) if lin else next(it) for a, lin in zip(in_avals, linear)]
        outs = backward_pass(closed.jaxpr, closed.consts, primals, cts)
        return [R.instantiate(ct) for ct, lin in zip(outs, linear) if lin]

    jaxpr, consts, use = _trace(fun, nonlin_avals + ct_avals, capture_refs)
    if capture_refs:
        return ClosedJaxpr(jaxpr, consts), use
    return ClosedJaxpr(jaxpr, consts)
