"""Control-flow primitives carrying jaxprs: ``cond`` here, ``while`` and ``scan``
in ``control_flow_loops``.

Invariants: sub-jaxprs are ClosedJaxprs whose consts are concrete (values
closed over from outer traces are explicit operands). ``cond``'s operands are
the int32 branch index, then the operands every branch takes; the impl clamps
the index into range, as XLA does. Rules rewrite the branches with the
jaxpr-level transformations and bind ``cond`` again, so every transformation
composes with every other.
"""
from __future__ import annotations

from fx import core, dtypes
from fx.core import ClosedJaxpr, Zero
from fx.interpreters import ad, batching
from fx.interpreters import partial_eval as pe
from primitives import _rules as R
from primitives._rules import new_primitive
from primitives.control_flow_util import (as_operands, compile_closed, has_effects, inline,
                                          join_weak, make_closed, mismatch_reason,
                                          trace_closed, type_name, typed)

__all__ = ["cond_p", "while_p", "scan_p"]

# ---------------------------------------------------------------------------
# cond

cond_p = new_primitive("cond", multiple_results=True)
cond_p.subjaxprs = lambda params: list(params["branches"])


@cond_p.def_abstract_eval
def _cond_abstract_eval(index, *args, branches):
    if not branches:
        raise TypeError("cond needs at least one branch")
    if index.shape != () or index.dtype != dtypes.int32:
        raise TypeError(f"cond: the branch index must be an int32 scalar, got "
                        f"{type_name(index)}")
    for i, branch in enumerate(branches):
        if len(branch.in_avals) != len(args):
            raise TypeError(f"cond: branch {i} takes {len(branch.in_avals)} operands, got "
                            f"{len(args)}")
        for k, (a, e) in enumerate(zip(args, branch.in_avals)):
            if a.shape != e.shape or a.dtype != e.dtype:
                raise TypeError(f"cond: operand {k} has type {type_name(a)} but branch {i} "
                                f"expects {type_name(e)}")
    first = branches[0].out_avals
    for i, branch in enumerate(branches[1:], 1):
        outs = branch.out_avals
        if len(outs) != len(first):
            raise TypeError(f"cond branches must return the same number of outputs: branch 0 "
                            f"returns {len(first)}, branch {i} returns {len(outs)}")
        for k, (a, b) in enumerate(zip(first, outs)):
            if a.shape != b.shape or a.dtype != b.dtype:
                raise TypeError(
                    f"cond branches must have equal output types but they differ: output {k} "
                    f"of branch 0 has type {type_name(a)} but the corresponding output of "
                    f"branch {i} has type {type_name(b)}, {mismatch_reason(a, b)}.")
    return [join_weak([b.out_avals[k] for b in branches]) for k in range(len(first))]


@cond_p.def_impl
def _cond_impl(index, *args, branches):
    which = min(max(int(index), 0), len(branches) - 1)
    branch = branches[which]
    return compile_closed(branch)(as_operands(args, branch.in_avals))


def _agreeing(branches, transform, n_out):
    """Apply ``transform(branch, force)`` (returning (jaxpr, flags)) to every branch so
    that all agree on the output flags: the union, forced where a branch lacks it.
    A branch whose own flags already are the union is not transformed twice."""
    first = [transform(b, False) for b in branches]
    union = [any(flags[k] for _, flags in first) for k in range(n_out)]
    return tuple(j if flags == union else transform(b, union)[0]
                 for b, (j, flags) in zip(branches, first)), union


def _jvp_branches(branches, nonzeros):
    """The jvp of every branch, all with the same nonzero output tangents, each with the
    ``RefUse`` of the refs custom rules run now touched (or None)."""
    def transform(b, force):
        jvp, flags, use = ad.jvp_jaxpr(b, nonzeros, instantiate=force, capture_refs=True)
        return (jvp, use), flags

    return _agreeing(branches, transform, len(branches[0].out_avals))


def _with_unified_refs(traced, n_in: int):
    """(branches, the refs' operands, finish) for branches traced with refs captured
    (``traced`` holds (closed jaxpr, RefUse or None)): every branch takes every ref any
    touched and returns every ref any wrote (``fx._ref_scope.unify_branches``)."""
    if all(use is None for _, use in traced):
        return tuple(c for c, _ in traced), [], lambda outs: outs
    from fx import _ref_scope
    new, operands, finish = _ref_scope.unify_branches([(c.jaxpr, u) for c, u in traced], n_in)
    return tuple(ClosedJaxpr(j, c.consts) for j, (c, _) in zip(new, traced)), operands, finish


@cond_p.def_jvp
def _cond_jvp(primals, tangents, *, branches):
    index, *args = primals
    arg_tangents = tangents[1:]
    nonzeros = [type(t) is not Zero for t in arg_tangents]
    traced, out_nz = _jvp_branches(branches, nonzeros)
    nz_tangents = [t for t in arg_tangents if type(t) is not Zero]
    jvp_branches, ref_args, finish = _with_unified_refs(traced, len(args) + len(nz_tangents))
    outs = finish(cond_p.bind(index, *args, *nz_tangents, *ref_args, branches=jvp_branches))
    out_avals = branches[0].out_avals
    primals_out, it = outs[:len(out_avals)], iter(outs[len(out_avals):])
    tangents_out = [next(it) if nz else Zero(a.to_tangent_aval())
                    for a, nz in zip(out_avals, out_nz)]
    return primals_out, tangents_out


def transpose_closed(closed, linear, ct_nonzero):
    """A jaxpr from (non-linear inputs, nonzero output cotangents) to the cotangents
    of the linear inputs (zeros instantiated), and the ``RefUse`` (or None) of the refs
    custom rules run now touched: one trailing input and output per ref."""
    in_avals = closed.in_avals
    nonlin_avals = [a for a, lin in zip(in_avals, linear) if not lin]
    ct_avals = [a.to_tangent_aval() for a, nz in zip(closed.out_avals, ct_nonzero) if nz]

    def fun(*args):
        nonlin, cts_nz = iter(args[:len(nonlin_avals)]), iter(args[len(nonlin_avals):])
        primals = [core.UndefinedPrimal(a) if lin else next(nonlin)
                   for a, lin in zip(in_avals, linear)]
        cts = [next(cts_nz) if nz else Zero(a.to_tangent_aval())
               for a, nz in zip(closed.out_avals, ct_nonzero)]
        outs = ad.backward_pass(closed.jaxpr, closed.consts, primals, cts)
        return [_instantiate_as(ct, a) for ct, a, lin in zip(outs, in_avals, linear) if lin]

    from fx import _ref_scope
    jaxpr, consts, _, use = _ref_scope.trace_to_jaxpr(fun, nonlin_avals + ct_avals)
    if any(isinstance(c, core.Tracer) for c in consts):
        raise core.JaxprTypeError("a control-flow rule captured an outer tracer")
    return ClosedJaxpr(jaxpr, consts), use


def _instantiate_as(ct, aval):
    """``ct`` as an array of ``aval``'s tangent type (zeros for a symbolic zero)."""
    t_aval = aval.to_tangent_aval()
    if type(ct) is Zero or ct is None:
        return R.zeros(t_aval)
    if R.dtype_of(ct) != t_aval.dtype and t_aval.dtype != dtypes.float0:
        ct = R.convert(ct, t_aval.dtype)
    return ct


@cond_p.def_transpose
def _cond_transpose(cts, index, *args, branches):
    if core.is_undefined_primal(index):
        raise ValueError("cond is not linear in its branch index")
    linear = [core.is_undefined_primal(a) for a in args]
    ct_nonzero = [type(c) is not Zero for c in cts]
    traced = [transpose_closed(b, linear, ct_nonzero) for b in branches]
    nonlin = [a for a, lin in zip(args, linear) if not lin]
    cts_nz = [c for c in cts if type(c) is not Zero]
    t_branches, ref_args, finish = _with_unified_refs(traced, len(nonlin) + len(cts_nz))
    outs = finish(cond_p.bind(index, *nonlin, *cts_nz, *ref_args, branches=t_branches))
    it = iter(outs)
    return [None] + [next(it) if lin else None for lin in linear]


@cond_p.def_batch
def _cond_batch(args, dims, *, axis_data=None, branches):
    from primitives import collectives
    if collectives.skip_unbatched(cond_p, args, dims, axis_data, dict(branches=branches)):
        return cond_p.bind(*args, branches=branches), [None] * len(branches[0].out_avals)
    name, size = collectives.axis_of(axis_data, args, dims)
    args = [args[0]] + typed(args[1:], branches[0].in_avals)
    (index, *ops), (index_dim, *op_dims) = args, dims
    ops = [o if d is None else R.moveaxis(o, d, 0) for o, d in zip(ops, op_dims)]
    op_batched = [d is not None for d in op_dims]
    n_out = len(branches[0].out_avals)
    if index_dim is not None:
        # a per-example branch choice: run every branch on the whole batch, then select
        index = R.moveaxis(index, index_dim, 0)
        last = R.as_scalar(len(branches) - 1, dtypes.int32)
        index = R.registry["clamp"].bind(R.as_scalar(0, dtypes.int32), index, last)
        results = []
        for branch in branches:
            batched, _ = batching.batch_jaxpr(branch, size, op_batched, instantiate=True,
                                              axis_name=name)
            results.append(inline(batched, *ops))
        outs = []
        for k in range(n_out):
            cases = [r[k] for r in results]
            shape = R.shape_of(cases[0])
            which = R.broadcast_in_dim(index, shape, (0,))
            if len(branches) == 2:
                which = R.registry["ne"].bind(which, R.as_scalar(0, dtypes.int32))
            outs.append(R.select_n(which, *cases))
        return outs, [0] * n_out
    new_branches, out_batched = _agreeing(
        branches, lambda b, force: batching.batch_jaxpr(b, size, op_batched, force,
                                                     axis_name=name), n_out)
    outs = cond_p.bind(index, *ops, branches=new_branches)
    return outs, [0 if b else None for b in out_batched]


cond_p.axis_dependent = True  # collectives in the branches see the vmapped axis name


def _cond_partial_eval(trace, args, *, branches):
    if trace.is_unknown(args[0]):
        return trace.default_process(cond_p, args, dict(branches=branches))
    index, ops = args[0], args[1:]
    unknowns = [trace.is_unknown(a) for a in ops]
    n_out = len(branches[0].out_avals)

    def split(branch, force):
        known, unknown, uk, res_avals = pe.partial_eval_jaxpr(branch, unknowns, force)
        return (known, unknown, uk, res_avals), uk

    splits, out_uk = _agreeing(branches, split, n_out)
    n_known_out = out_uk.count(False)
    res_avals = [list(s[3]) for s in splits]
    all_res = [a for avals in res_avals for a in avals]
    known_branches = tuple(_with_all_residuals(known, i, n_known_out, res_avals)
                           for i, (known, _, _, _) in enumerate(splits))
    unknown_branches = tuple(_taking_all_residuals(unknown, i, res_avals)
                             for i, (_, unknown, _, _) in enumerate(splits))
    known_ops = [a for a, uk in zip(ops, unknowns) if not uk]
    with core.set_current_trace(trace.parent):
        known_outs = cond_p.bind(index, *known_ops, branches=known_branches)
    known_vals, residuals = known_outs[:n_known_out], known_outs[n_known_out:]
    assert len(residuals) == len(all_res)
    if any(out_uk):
        unknown_ops = [a for a, uk in zip(ops, unknowns) if uk]
        unknown_outs = trace.default_process(cond_p, [index, *residuals, *unknown_ops],
                                             dict(branches=unknown_branches))
    else:
        unknown_outs = []
    known_it, unknown_it = iter(known_vals), iter(unknown_outs)
    return [next(unknown_it) if uk else next(known_it) for uk in out_uk]


cond_p.partial_eval = _cond_partial_eval


def _cond_dce(used_outputs, eqn):
    """Dead-code elimination of a cond (``Primitive.dce``): every branch keeps only the
    used outputs and takes the operands some branch still reads. Returns
    ``(used_inputs, new_eqn)``; ``new_eqn`` is None when nothing is used."""
    branches = eqn.params["branches"]
    if any(has_effects(b) for b in branches):
        return [True] * len(eqn.invars), eqn
    if not any(used_outputs):
        return [False] * len(eqn.invars), None
    n_ops = len(eqn.invars) - 1
    used_ops = [False] * n_ops
    for branch in branches:
        _, used = pe.dce_closed_jaxpr(branch, used_outputs)
        used_ops = [a or b for a, b in zip(used_ops, used)]
    new_branches = tuple(pe.dce_closed_jaxpr(b, used_outputs, instantiate=used_ops)[0]
                         for b in branches)
    used_inputs = [True, *used_ops]
    new_eqn = eqn.replace(invars=[v for v, u in zip(eqn.invars, used_inputs) if u],
                          outvars=[v for v, u in zip(eqn.outvars, used_outputs) if u],
                          params=dict(eqn.params, branches=new_branches))
    return used_inputs, new_eqn


cond_p.dce = _cond_dce


def _with_all_residuals(known, i, n_known_out, res_avals):
    """Branch ``i``'s known jaxpr returning every branch's residuals (zeros for others')."""
    def fun(*args):
        outs = inline(known, *args)
        own = outs[n_known_out:]
        res = []
        for j, avals in enumerate(res_avals):
            res.extend(own if j == i else [R.zeros(a.strip_weak_type()) for a in avals])
        return outs[:n_known_out] + res

    return trace_closed(fun, known.in_avals)


def _taking_all_residuals(unknown, i, res_avals):
    """Branch ``i``'s unknown jaxpr taking every branch's residuals, reading its own."""
    invars = unknown.jaxpr.invars
    n_own = len(res_avals[i])
    new_invars = []
    for j, avals in enumerate(res_avals):
        new_invars.extend(invars[:n_own] if j == i else [core.Var(a) for a in avals])
    return make_closed(unknown, invars=new_invars + list(invars[n_own:]))


# the loops register themselves on import
from primitives.control_flow_loops import scan_p, while_p  # noqa: E402,F401
