"""Staging to jaxprs and partial evaluation.

Invariants: ``DynamicJaxprTrace`` records every primitive applied to its
tracers as an equation; values from outside (constants, tracers of enclosing
traces) become constvars, so closures work. ``JaxprTrace`` splits a
computation into a known part, run now in the parent trace, and an unknown
part recorded into a jaxpr whose constvars are the residuals (in the order they
were made; outputs of loops nothing reads are pruned by the primitives' ``dce``
rules, and so are the residuals only they read). A 0-d constant is a literal when
it is a Python or NumPy scalar or was made while staging, a constvar otherwise.
"""
from __future__ import annotations

import enum
import itertools
from typing import Any, Callable, Sequence

import numpy as np

from fx import core, dtypes
from fx.config import config
from fx.core import (ClosedJaxpr, Jaxpr, JaxprEqn, Literal, ShapedArray, Tracer,
                     Var, get_aval)

# ---------------------------------------------------------------------------
# Staging: DynamicJaxprTrace


class DynamicJaxprTracer(Tracer):
    __slots__ = ("_aval", "_var")  # (not "var": Tracer has the array method .var())

    def __init__(self, trace, aval, var):
        self._trace = trace
        self._aval = aval
        self._var = var

    @property
    def aval(self):
        return self._aval


_LITERAL_TYPES = (bool, int, float, complex, np.bool_, np.number)

# ---------------------------------------------------------------------------
# Memoised type rules. A type rule is a pure function of the input avals, the params and
# the traced-program options (``config._state_key``), so tracing the same program again
# (a jit cache miss, grad inside jit, make_jaxpr in a loop) reuses its results. Only
# params made of plain immutable values are keyed: a jaxpr or a function among them is
# not (the cache would keep it, and its constants, alive).

_SIMPLE_PARAM_TYPES = {bool, int, float, complex, str, type(None), np.bool_, np.int32,
                       np.int64, np.float32, np.float64}
_aval_cache: dict = {}
_AVAL_CACHE_LIMIT = 8192


def _simple_param(v) -> bool:
    t = type(v)
    if t in _SIMPLE_PARAM_TYPES:
        return True
    if t is tuple:
        for x in v:
            if type(x) not in _SIMPLE_PARAM_TYPES and not _simple_param(x):
                return False
        return True
    if isinstance(v, np.dtype) or isinstance(v, enum.Enum):
        return True
    return False


def abstract_eval(primitive, avals, params):
    """``primitive.abstract_eval(*avals, **params)``, memoised where params are plain."""
    # the types of top-level params are keyed too: 1, 1.0 and True are equal keys
    key = (primitive, primitive.abstract_eval_rule, config._state_key, *avals, *params.items(),
           *map(type, params.values()))
    try:
        out = _aval_cache.get(key)
    except TypeError:  # an unhashable param or aval
        return primitive.abstract_eval(*avals, **params)
    if out is None:
        out = primitive.abstract_eval(*avals, **params)
        # only plain params are kept (an entry with a jaxpr or a function among its params
        # would keep it alive); a plain key never equals one holding such an object
        for v in params.values():
            if type(v) not in _SIMPLE_PARAM_TYPES and not _simple_param(v):
                return out
        if len(_aval_cache) >= _AVAL_CACHE_LIMIT:
            _aval_cache.clear()
        if primitive.multiple_results:
            out = tuple(out)
        _aval_cache[key] = out
    return list(out) if primitive.multiple_results else out


class DynamicJaxprTrace(core.Trace):
    """Records primitives into equations; ``to_jaxpr`` closes them into a Jaxpr."""

    __slots__ = ("eqns", "invars", "const_vars", "const_vals", "const_ids")

    def __init__(self, parent):
        super().__init__(parent)
        self.staging = True
        self.eqns: list[JaxprEqn] = []
        self.invars: list[Var] = []
        self.const_vars: list[Var] = []
        self.const_vals: list[Any] = []
        self.const_ids: dict[int, Var] = {}

    def new_arg(self, aval: ShapedArray) -> DynamicJaxprTracer:
        var = Var(aval)
        self.invars.append(var)
        return DynamicJaxprTracer(self, aval, var)

    def to_var(self, x):
        """The Var or Literal standing for ``x`` inside this trace."""
        if isinstance(x, DynamicJaxprTracer) and x._trace is self:
            return x._var
        if isinstance(x, Tracer):
            if not x._trace.alive:
                core.raise_leaked(x)
            return self._const(x, x.aval)
        literal = _literal_of(x)
        if literal is not None:
            return literal
        return self._const(x, get_aval(x))

    def _const(self, x, aval):
        key = id(x._value) if type(x) is core._array_type[0] else id(x)
        var = self.const_ids.get(key)
        if var is None:
            var = Var(aval)
            self.const_ids[key] = var
            self.const_vars.append(var)
            self.const_vals.append(x)
        return var

    def to_tracer(self, x) -> DynamicJaxprTracer:
        if isinstance(x, DynamicJaxprTracer) and x._trace is self:
            return x
        var = self.to_var(x)
        if isinstance(var, Literal):  # materialise literal outputs through a const
            var = self._const(np.asarray(var.val, var.aval.dtype), var.aval)
        return DynamicJaxprTracer(self, var.aval, var)

    def process_primitive(self, primitive, args, params):
        if config.jax_compile_time_eval and not any(isinstance(a, Tracer) for a in args):
            with core.set_current_trace(core.eval_trace):  # ensure_compile_time_eval
                return primitive.bind(*args, **params)
        invars = []
        for a in args:
            if type(a) is DynamicJaxprTracer and a._trace is self:
                invars.append(a._var)
            else:
                invars.append(self.to_var(a))
        out_avals = abstract_eval(primitive, [v.aval for v in invars], params)
        if not primitive.multiple_results:
            var = Var(out_avals)
            self.eqns.append(JaxprEqn(invars, (var,), primitive, params, core.user_frame()))
            return DynamicJaxprTracer(self, out_avals, var)
        outvars = [Var(a) for a in out_avals]
        self.eqns.append(JaxprEqn(invars, outvars, primitive, params, core.user_frame()))
        return [DynamicJaxprTracer(self, v.aval, v) for v in outvars]

    def to_jaxpr(self, outs: Sequence[Any]) -> tuple[Jaxpr, list]:
        outvars = []
        for x in outs:
            v = self.to_var(x)
            if isinstance(v, Literal):  # a constant output: keep it, with its dtype
                v = self._const(np.asarray(v.val, v.aval.dtype), v.aval)
            outvars.append(v)
        jaxpr = Jaxpr(self.const_vars, self.invars, outvars, self.eqns)
        if config.jax_enable_checks:
            core.check_jaxpr(jaxpr)
        return jaxpr, list(self.const_vals)


def trace_to_jaxpr(fun: Callable, in_avals: Sequence[ShapedArray],
                   debug_info=None) -> tuple[Jaxpr, list, list]:
    """Stage ``fun`` (flat args -> flat outs) into a jaxpr.

    Returns (jaxpr, consts, out_avals); consts may hold tracers of enclosing traces.
    """
    trace = DynamicJaxprTrace(core.current_trace())
    with core.new_trace(trace):
        args = [trace.new_arg(a) for a in in_avals]
        outs = fun(*args)
        jaxpr, consts = trace.to_jaxpr(outs)
    jaxpr.debug_info = debug_info
    return jaxpr, consts, jaxpr.out_avals


def trace_to_closed_jaxpr(fun, in_avals, debug_info=None) -> tuple[ClosedJaxpr, list]:
    """Stage ``fun``; constants that are tracers of outer traces become leading invars.

    Returns (closed_jaxpr, hoisted) where ``hoisted`` are the outer values to pass
    in front of the arguments.
    """
    jaxpr, consts, _ = trace_to_jaxpr(fun, in_avals, debug_info)
    return hoist_tracer_consts(jaxpr, consts)


def hoist_tracer_consts(jaxpr: Jaxpr, consts) -> tuple[ClosedJaxpr, list]:
    keep_vars, keep_vals, hoist_vars, hoist_vals = [], [], [], []
    for v, c in zip(jaxpr.constvars, consts):
        if isinstance(c, Tracer):
            hoist_vars.append(v)
            hoist_vals.append(c)
        else:
            keep_vars.append(v)
            keep_vals.append(c)
    new = Jaxpr(keep_vars, hoist_vars + jaxpr.invars, jaxpr.outvars, jaxpr.eqns,
                jaxpr.debug_info)
    return ClosedJaxpr(new, keep_vals), hoist_vals


def close_jaxpr(fun: Callable, in_avals) -> ClosedJaxpr:
    """Stage ``fun`` into a ClosedJaxpr whose consts are all concrete or hoisted args.

    Raises when ``fun`` closes over tracers (callers must hoist those).
    """
    jaxpr, consts, _ = trace_to_jaxpr(fun, in_avals)
    return ClosedJaxpr(jaxpr, consts)


# ---------------------------------------------------------------------------
# Partial evaluation: JaxprTrace


class PartialVal:
    """Either a known value or an unknown abstract value."""

    __slots__ = ("known", "aval")

    def __init__(self, known, aval):
        self.known = known
        self.aval = aval

    @classmethod
    def make_known(cls, value):
        return cls(value, None)

    @classmethod
    def unknown(cls, aval):
        return cls(None, aval)

    is_known = property(lambda self: self.aval is None)


_recipe_counter = itertools.count()  # creation order of recipes


class _ConstRecipe:
    __slots__ = ("val", "seq")

    def __init__(self, val):
        self.val = val
        self.seq = next(_recipe_counter)  # residuals are ordered as they were made


class _LambdaBinding:
    __slots__ = ()


class _EqnRecipe:
    __slots__ = ("primitive", "params", "tracers_in", "avals_out", "tracers_out",
                 "source_info", "seq")

    def __init__(self, primitive, params, tracers_in, avals_out, source_info):
        self.primitive = primitive
        self.params = params
        self.tracers_in = tracers_in
        self.avals_out = avals_out
        self.tracers_out: list = []
        self.source_info = source_info
        self.seq = next(_recipe_counter)  # after its inputs' recipes: a topological order


class JaxprTracer(Tracer):
    """An unknown value of a partial evaluation, with the recipe that makes it."""

    __slots__ = ("_aval", "recipe", "__weakref__")

    def __init__(self, trace, aval, recipe):
        self._trace = trace
        self._aval = aval
        self.recipe = recipe

    @property
    def aval(self):
        return self._aval


class JaxprTrace(core.Trace):
    """Known values are ordinary parent values; unknown ones are JaxprTracers."""

    __slots__ = ("const_tracers", "effects")

    def __init__(self, parent):
        super().__init__(parent)
        self.const_tracers: dict[int, tuple[Any, JaxprTracer]] = {}
        self.effects: list[_EqnRecipe] = []  # effectful unknown equations, in order

    def new_arg(self, aval) -> JaxprTracer:
        return JaxprTracer(self, aval, _LambdaBinding())

    def is_unknown(self, x) -> bool:
        if isinstance(x, JaxprTracer) and x._trace is self:
            return True
        if isinstance(x, Tracer) and not x._trace.alive:
            core.raise_leaked(x)
        return False

    def instantiate_const(self, x) -> JaxprTracer:
        """An unknown tracer for known ``x``; one residual per known value, however often
        it is used."""
        if self.is_unknown(x):
            return x
        cached = self.const_tracers.get(id(x))
        if cached is not None and cached[0] is x:
            return cached[1]
        tracer = JaxprTracer(self, get_aval(x), _ConstRecipe(x))
        self.const_tracers[id(x)] = (x, tracer)
        return tracer

    def process_primitive(self, primitive, args, params):
        for a in args:
            if isinstance(a, JaxprTracer) and a._trace is self:
                break  # an unknown input
            if isinstance(a, Tracer) and not a._trace.alive:
                core.raise_leaked(a)
        else:  # all known: run it in the parent trace
            parent = self.parent
            token = core._current_trace.set(parent)
            try:
                return parent.process_primitive(primitive, args, params)
            finally:
                core._current_trace.reset(token)
        if primitive.partial_eval is not None:
            return primitive.partial_eval(self, args, **params)
        return self.default_process(primitive, args, params)

    def default_process(self, primitive, args, params):
        """Record ``primitive`` as unknown, its known inputs becoming residuals."""
        tracers = []
        for a in args:
            if type(a) is JaxprTracer and a._trace is self:
                tracers.append(a)
            else:
                tracers.append(self.instantiate_const(a))
        out_avals = abstract_eval(primitive, [t._aval for t in tracers], params)
        multiple = primitive.multiple_results
        if not multiple:
            out_avals = (out_avals,)
        recipe = _EqnRecipe(primitive, params, tracers, out_avals, core.user_frame())
        outs = [JaxprTracer(self, a, recipe) for a in out_avals]
        recipe.tracers_out = outs
        if primitive.effectful:
            self.effects.append(recipe)
        return outs if multiple else outs[0]


def _literal_of(x):
    """The ``Literal`` standing for the constant ``x`` in a jaxpr, or None where ``x`` is a
    constvar (a residual) instead. JAX's rule: Python and NumPy scalars and 0-d NumPy
    arrays of a numeric dtype are literals, and so are 0-d ``fx.Array``s made while
    tracing (``fnp.asarray(0.1)`` inside the traced function); a 0-d ``fx.Array`` made
    before the trace is a value the trace captured, a constvar like any closed-over array.
    Tracers and arrays of rank > 0 are never literals."""
    t = type(x)
    if t is core._array_type[0]:
        value = x._value
        if not x._traced or type(value) is not np.ndarray or value.ndim:
            return None
        dtype = value.dtype
        if dtype == dtypes.float0 or not (dtype.kind in "biufc" or dtype == dtypes.bfloat16):
            return None
        return Literal(value[()], x.aval, core.python_scalar_source(x))
    if isinstance(x, _LITERAL_TYPES) or (t is np.ndarray and x.ndim == 0):
        if t is np.ndarray and x.dtype.kind not in "biufc" and x.dtype != dtypes.bfloat16:
            return None
        aval = get_aval(x)
        source = x if t in core._PYTHON_SCALARS else None
        return Literal(np.asarray(x, aval.dtype)[()], aval, source)
    return None


def tracers_to_jaxpr(in_tracers: Sequence[JaxprTracer], out_tracers: Sequence[Any],
                     effect_recipes: Sequence[Any] = ()) -> tuple[Jaxpr, list]:
    """The jaxpr computing ``out_tracers`` from ``in_tracers``; returns it and its consts.

    The consts are the known values (residuals) the unknown computation reads.
    ``effect_recipes`` are effectful equations kept even though no output needs them.
    """
    var_of: dict[int, Var] = {}
    invars = []
    for t in in_tracers:
        v = Var(t.aval)
        var_of[id(t)] = v
        invars.append(v)
    residuals, eqns = [], []
    seen_recipes: set[int] = set()
    # Iterative depth-first post-order over the recipes (inputs in order), emitting each
    # equation when its first output is finished. ``state`` is False while a tracer's
    # inputs are being visited and True once it is finished; a tracer is pushed again
    # only before it is entered, so such stale entries always lie below its finish entry.
    roots = list(out_tracers) + [t for r in effect_recipes for t in r.tracers_in]
    state: dict[int, bool] = {}
    stack = [t for t in reversed(roots) if isinstance(t, JaxprTracer)]
    pop, push = stack.pop, stack.append
    while stack:
        t = pop()
        tid = id(t)
        done = state.get(tid)
        if done is None:  # enter: finish it after its inputs
            state[tid] = False
            push(t)
            recipe = t.recipe
            if isinstance(recipe, _EqnRecipe):
                for parent in reversed(recipe.tracers_in):
                    if id(parent) not in state:
                        push(parent)
            continue
        if done:
            continue
        state[tid] = True
        if tid in var_of:
            continue
        recipe = t.recipe
        if isinstance(recipe, _LambdaBinding):
            raise core.JaxprTypeError("an input of the partial evaluation was not declared")
        if isinstance(recipe, _ConstRecipe):
            literal = _literal_of(recipe.val)
            if literal is not None:  # a known scalar stays a literal (not a residual)
                var_of[tid] = literal
                continue
            v = Var(t.aval)
            var_of[tid] = v
            residuals.append((recipe.seq, v, recipe.val))
        elif id(recipe) not in seen_recipes:
            seen_recipes.add(id(recipe))
            outvars = []
            for o in recipe.tracers_out:
                v = Var(o.aval)
                var_of[id(o)] = v
                outvars.append(v)
            eqns.append((recipe.seq, JaxprEqn([var_of[id(x)] for x in recipe.tracers_in],
                                              outvars, recipe.primitive, recipe.params,
                                              recipe.source_info)))
    # effectful equations (which may have no outputs) go in creation order among the rest

    for recipe in effect_recipes:
        if id(recipe) in seen_recipes:
            continue
        seen_recipes.add(id(recipe))
        outvars = []
        for o in recipe.tracers_out:
            v = Var(o.aval)
            var_of[id(o)] = v
            outvars.append(v)
        eqns.append((recipe.seq, JaxprEqn([var_of[id(x)] for x in recipe.tracers_in],
                                          outvars, recipe.primitive, recipe.params,
                                          recipe.source_info)))

    # the residuals in the order the partial evaluation made them (JAX's order: as the
    # unknown equations first read them)
    residuals.sort(key=lambda r: r[0])
    const_vars = [v for _, v, _ in residuals]
    const_vals = [c for _, _, c in residuals]
    outvars = []
    for t in out_tracers:
        if isinstance(t, JaxprTracer):
            v = var_of[id(t)]
            if isinstance(v, Literal):  # an output is a variable: the literal as a const
                v = Var(t.aval)
                const_vars.append(v)
                const_vals.append(t.recipe.val)
            outvars.append(v)
        else:  # a known output returned as unknown: a residual passed straight through
            v = Var(get_aval(t))
            const_vars.append(v)
            const_vals.append(t)
            outvars.append(v)
    # the equations in the order they were traced (as JAX's partial evaluation keeps them,
    # so transposing visits them in reverse trace order)
    eqns.sort(key=lambda pair: pair[0])
    jaxpr = Jaxpr(const_vars, invars, outvars, [eqn for _, eqn in eqns])
    if any(eqn.primitive.dce is not None for _, eqn in eqns):
        # outputs of loops nothing reads (a scan's unused ys tangents) go, and with them
        # the residuals only they needed (as JAX's partial evaluation prunes them)
        jaxpr = dce_jaxpr(jaxpr, [True] * len(outvars), instantiate=True, rules=True)[0]
        jaxpr, const_vals = prune_constvars(jaxpr, const_vals)
    if config.jax_enable_checks:
        core.check_jaxpr(jaxpr)
    return jaxpr, const_vals


def partial_eval_jaxpr(closed: ClosedJaxpr, in_unknowns: Sequence[bool],
                       instantiate: bool | Sequence[bool]):
    """Split ``closed`` into a known and an unknown jaxpr.

    Returns ``(jaxpr_known, jaxpr_unknown, out_unknowns, res_avals)`` where
    ``jaxpr_known`` maps the known inputs to the known outputs followed by the
    residuals, and ``jaxpr_unknown`` maps residuals followed by the unknown inputs
    to the unknown outputs.
    """
    n_out = len(closed.jaxpr.outvars)
    if isinstance(instantiate, bool):
        instantiate = [instantiate] * n_out
    known_avals = [a for a, uk in zip(closed.in_avals, in_unknowns) if not uk]
    unknown_avals = [a for a, uk in zip(closed.in_avals, in_unknowns) if uk]
    captured: dict[str, Any] = {}

    def known_fun(*known_args):
        trace = JaxprTrace(core.current_trace())
        with core.new_trace(trace):
            unknown_tracers = [trace.new_arg(a) for a in unknown_avals]
            known_iter, unknown_iter = iter(known_args), iter(unknown_tracers)
            args = [next(unknown_iter) if uk else next(known_iter) for uk in in_unknowns]
            outs = core.eval_jaxpr(closed.jaxpr, closed.consts, *args)
            out_uk = [trace.is_unknown(o) or inst for o, inst in zip(outs, instantiate)]
            unknown_outs = [o for o, uk in zip(outs, out_uk) if uk]
            known_outs = [o for o, uk in zip(outs, out_uk) if not uk]
            jaxpr_uk, residuals = tracers_to_jaxpr(unknown_tracers, unknown_outs, trace.effects)
        captured["out_uk"] = out_uk
        captured["jaxpr_uk"] = jaxpr_uk
        captured["n_res"] = len(residuals)
        return known_outs + residuals

    jaxpr_known, consts_known, out_avals = trace_to_jaxpr(known_fun, known_avals)
    n_res = captured["n_res"]
    res_avals = out_avals[len(out_avals) - n_res:] if n_res else []
    jaxpr_uk = captured["jaxpr_uk"]
    jaxpr_unknown = Jaxpr([], jaxpr_uk.constvars + jaxpr_uk.invars, jaxpr_uk.outvars,
                          jaxpr_uk.eqns)
    known_closed, hoisted = hoist_tracer_consts(jaxpr_known, consts_known)
    if hoisted:  # closed-over outer tracers must not appear here: callers pass them as args
        raise core.JaxprTypeError("partial_eval_jaxpr: jaxpr closes over outer tracers")
    return known_closed, ClosedJaxpr(jaxpr_unknown, []), captured["out_uk"], res_avals


def eqn_is_effectful(eqn) -> bool:
    """Whether dead-code elimination must keep ``eqn``: its primitive has effects, or a
    jaxpr nested in it (a jit, loop or cond body) holds an effectful equation."""
    if eqn.primitive.effectful:
        return True
    for sub in eqn.primitive.subjaxprs(eqn.params) or ():
        sub = sub.jaxpr if isinstance(sub, ClosedJaxpr) else sub
        if any(eqn_is_effectful(e) for e in sub.eqns):
            return True
    return False


def dce_jaxpr(jaxpr: Jaxpr, used_outputs: Sequence[bool],
              instantiate: bool | Sequence[bool] = False, *,
              rules: bool = False) -> tuple[Jaxpr, list[bool]]:
    """Dead-code elimination: drop the equations no used output needs.

    Args:
      jaxpr: the program (its constvars are kept as they are).
      used_outputs: one flag per outvar; the unused ones are dropped.
      instantiate: invars to keep even when unused (one flag per invar, or one for all).
      rules: also shrink the equations whose primitive has a ``dce`` rule (a scan loses
        its unused ys and the carries and inputs only they needed, rewriting its body);
        without, an equation is kept whole or dropped, so ``used_inputs`` also holds for
        the original equations.
    Returns:
      ``(new_jaxpr, used_inputs)``: ``new_jaxpr`` takes the invars that are used or
      instantiated; ``used_inputs`` flags them.

    Example:
      >>> j = fx.make_jaxpr(lambda x, y: (x * 2, y))(1.0, 2.0).jaxpr
      >>> dce_jaxpr(j, [False, True])[1]
      [False, True]
    """
    if isinstance(instantiate, bool):
        instantiate = [instantiate] * len(jaxpr.invars)
    outvars = [v for v, u in zip(jaxpr.outvars, used_outputs) if u]
    live = {id(v) for v in outvars if isinstance(v, Var)}
    new_eqns = []
    for eqn in reversed(jaxpr.eqns):
        used = [id(v) in live for v in eqn.outvars]
        if eqn_is_effectful(eqn):
            pass
        elif not any(used):
            continue
        elif rules and eqn.primitive.dce is not None and not all(used):
            eqn = eqn.primitive.dce(used, eqn)[1]  # the equation making the used ones
            if eqn is None:
                continue
        new_eqns.append(eqn)
        live.update(id(v) for v in eqn.invars if isinstance(v, Var))
    used_inputs = [id(v) in live or inst for v, inst in zip(jaxpr.invars, instantiate)]
    new = Jaxpr(jaxpr.constvars, [v for v, u in zip(jaxpr.invars, used_inputs) if u],
                outvars, list(reversed(new_eqns)), jaxpr.debug_info)
    return new, used_inputs


def dce_closed_jaxpr(closed: ClosedJaxpr, used_outputs: Sequence[bool],
                     instantiate: bool | Sequence[bool] = False
                     ) -> tuple[ClosedJaxpr, list[bool]]:
    """``dce_jaxpr`` with rules for a ClosedJaxpr; consts nothing reads any more are
    dropped too."""
    jaxpr, used_inputs = dce_jaxpr(closed.jaxpr, used_outputs, instantiate, rules=True)
    jaxpr, consts = prune_constvars(jaxpr, closed.consts)
    return ClosedJaxpr(jaxpr, consts), used_inputs


def prune_constvars(jaxpr: Jaxpr, consts: Sequence[Any]) -> tuple[Jaxpr, list]:
    """``jaxpr`` without the constvars nothing reads, and their values dropped from
    ``consts``."""
    read = {id(v) for e in jaxpr.eqns for v in e.invars if isinstance(v, Var)}
    read.update(id(v) for v in jaxpr.outvars if isinstance(v, Var))
    keep = [id(v) in read for v in jaxpr.constvars]
    if all(keep):
        return jaxpr, list(consts)
    new = Jaxpr([v for v, k in zip(jaxpr.constvars, keep) if k], jaxpr.invars,
                jaxpr.outvars, jaxpr.eqns, jaxpr.debug_info)
    return new, [c for c, k in zip(consts, keep) if k]
