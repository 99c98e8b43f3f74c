"""Loop primitives carrying jaxprs: ``while`` and ``scan``.

Invariants: operands are (cond consts, body consts, carry) for ``while`` and
(consts, carry, xs) for ``scan``, as in JAX; a carry keeps its shape and dtype
from step to step. Partial evaluation of ``scan`` runs the known part of the
body in one scan that stacks the per-step residuals (loop-invariant residuals
are computed once, outside the loop) and stages one scan that consumes them,
so reverse mode never re-runs the forward loop. ``while`` is only forward-mode
differentiable: its transpose raises JAX's error.
"""
from __future__ import annotations

import numpy as np

from fx import core, dtypes
from fx.core import Zero
from fx.interpreters import ad, batching
from fx.interpreters import partial_eval as pe
from primitives import _rules as R
from primitives._rules import new_primitive
from primitives.control_flow_util import (RefOperands, as_operands, check_carry, check_operands,
                                          compile_closed, has_effects, inline,
                                          insert_unused_invars, keep_outputs,
                                          permute_invars, permute_outvars,
                                          split_list, stack_aval, trace_closed,
                                          trace_closed_refs, type_name,
                                          typed, unstack_aval)

__all__ = ["while_p", "scan_p"]

WHILE_TRANSPOSE_ERROR = (
    "Reverse-mode differentiation does not work for lax.while_loop or lax.fori_loop with "
    "dynamic start/stop values. Try using lax.scan, or using fori_loop with static "
    "start/stop.")

# ---------------------------------------------------------------------------
# while

while_p = new_primitive("while", multiple_results=True)
while_p.subjaxprs = lambda params: [params["cond_jaxpr"], params["body_jaxpr"]]


@while_p.def_abstract_eval
def _while_abstract_eval(*args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    cconsts, bconsts, init = split_list(args, [cond_nconsts, body_nconsts])
    check_operands("while cond_jaxpr", cond_jaxpr.in_avals, cconsts + init)
    check_operands("while body_jaxpr", body_jaxpr.in_avals, bconsts + init)
    pred = cond_jaxpr.out_avals
    if len(pred) != 1 or pred[0].shape != () or pred[0].dtype != dtypes.bool_:
        raise TypeError(f"while cond_jaxpr must return a boolean scalar, but got output "
                        f"type(s) {[type_name(a) for a in pred]}")
    check_carry("while_loop", init, body_jaxpr.out_avals)
    return [a.update(weak_type=a.weak_type and b.weak_type)
            for a, b in zip(init, body_jaxpr.out_avals)]


@while_p.def_impl
def _while_impl(*args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    cconsts, bconsts, carry = split_list(args, [cond_nconsts, body_nconsts])
    cconsts = as_operands(cconsts, cond_jaxpr.in_avals)
    bconsts = as_operands(bconsts, body_jaxpr.in_avals)
    carry = as_operands(carry, body_jaxpr.in_avals[body_nconsts:])
    run_cond, run_body = compile_closed(cond_jaxpr), compile_closed(body_jaxpr)
    while run_cond(cconsts + carry)[0]:
        carry = run_body(bconsts + carry)
    return carry


@while_p.def_jvp
def _while_jvp(primals, tangents, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    cn, bn = cond_nconsts, body_nconsts
    nonzero = [type(t) is not Zero for t in tangents]
    _, bconst_nz, carry_nz = split_list(nonzero, [cn, bn])
    while True:  # which carries have a nonzero tangent: a fixed point
        body_jvp, out_nz, use = ad.jvp_jaxpr(body_jaxpr, bconst_nz + carry_nz,
                                             instantiate=carry_nz, capture_refs=True)
        if out_nz == carry_nz:
            break
        carry_nz = [a or b for a, b in zip(carry_nz, out_nz)]
    refs = RefOperands(use)  # touched by custom rules: read ones consts, written carries
    body_jvp = refs.written_only(body_jvp)
    nc, nbt, nct = len(carry_nz), sum(bconst_nz), sum(carry_nz)
    nrr = refs.n_read
    # body_jvp takes (bconsts, carry, bconst tangents, carry tangents, refs): put each
    # tangent group after its primals
    r = bn + nc + nbt + nct
    order = [*range(bn), *range(bn + nc, bn + nc + nbt), *refs.read_positions(r),
             *range(bn, bn + nc), *range(bn + nc + nbt, r), *refs.written_positions(r)]
    body = permute_invars(body_jvp, order)
    carry_avals = body_jaxpr.in_avals[bn:]
    cond = insert_unused_invars(cond_jaxpr, cn + nc, [
        a.to_tangent_aval() for a, nz in zip(carry_avals, carry_nz) if nz]
        + [a for a, w in zip(body_jvp.in_avals[r:], refs.written) if w])
    cconsts, bconsts, init = split_list(primals, [cn, bn])
    _, bconst_t, init_t = split_list(tangents, [cn, bn])
    bconst_t = [t for t in bconst_t if type(t) is not Zero]
    init_t = [R.instantiate(t) for t, nz in zip(init_t, carry_nz) if nz]
    outs = while_p.bind(*cconsts, *bconsts, *bconst_t, *refs.read_values(), *init, *init_t,
                        *refs.written_values(), cond_jaxpr=cond, body_jaxpr=body,
                        cond_nconsts=cn, body_nconsts=bn + nbt + nrr)
    refs.write_back(outs[nc + nct:], "while_loop")
    outs = outs[:nc + nct]
    it = iter(outs[nc:])
    return outs[:nc], [next(it) if nz else Zero(a.to_tangent_aval())
                       for a, nz in zip(carry_avals, carry_nz)]


def _while_partial_eval(trace, args, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    """Known carries come from a loop over the known part of the body; the unknown ones
    from the whole loop, staged (so forward mode works and transposing it raises)."""
    params = dict(cond_jaxpr=cond_jaxpr, body_jaxpr=body_jaxpr, cond_nconsts=cond_nconsts,
                  body_nconsts=body_nconsts)
    unknowns = [trace.is_unknown(a) for a in args]
    cconst_uk, bconst_uk, carry_uk = split_list(unknowns, [cond_nconsts, body_nconsts])
    while True:
        out_uk = pe.partial_eval_jaxpr(body_jaxpr, bconst_uk + carry_uk,
                                       instantiate=carry_uk)[2]
        if out_uk == carry_uk:
            break
        carry_uk = [a or b for a, b in zip(carry_uk, out_uk)]
    cond_known, _, pred_uk, _ = pe.partial_eval_jaxpr(cond_jaxpr, cconst_uk + carry_uk,
                                                      instantiate=False)
    if pred_uk[0] or all(carry_uk):
        return trace.default_process(while_p, args, params)
    body_known = pe.partial_eval_jaxpr(body_jaxpr, bconst_uk + carry_uk,
                                       instantiate=carry_uk)[0]
    n_known = carry_uk.count(False)
    body_known = keep_outputs(body_known, [i < n_known for i in range(
        len(body_known.out_avals))])
    cond_known = keep_outputs(cond_known, [i == 0 for i in range(len(cond_known.out_avals))])
    cconsts, bconsts, init = split_list(args, [cond_nconsts, body_nconsts])
    known = [[a for a, uk in zip(group, flags) if not uk] for group, flags in
             ((cconsts, cconst_uk), (bconsts, bconst_uk), (init, carry_uk))]
    with core.set_current_trace(trace.parent):
        known_outs = while_p.bind(*known[0], *known[1], *known[2], cond_jaxpr=cond_known,
                                  body_jaxpr=body_known, cond_nconsts=len(known[0]),
                                  body_nconsts=len(known[1]))
    unknown_outs = trace.default_process(while_p, args, params)
    known_it = iter(known_outs)
    return [u if uk else next(known_it) for u, uk in zip(unknown_outs, carry_uk)]


while_p.partial_eval = _while_partial_eval


@while_p.def_transpose
def _while_transpose(cts, *args, **params):
    raise ValueError(WHILE_TRANSPOSE_ERROR)


@while_p.def_batch
def _while_batch(args, dims, *, axis_data=None, cond_jaxpr, body_jaxpr, cond_nconsts,
                 body_nconsts):
    from primitives import collectives
    params = dict(cond_jaxpr=cond_jaxpr, body_jaxpr=body_jaxpr, cond_nconsts=cond_nconsts,
                  body_nconsts=body_nconsts)
    if collectives.skip_unbatched(while_p, args, dims, axis_data, params):
        return while_p.bind(*args, **params), [None] * len(body_jaxpr.out_avals)
    name, size = collectives.axis_of(axis_data, args, dims)
    cn, bn = cond_nconsts, body_nconsts
    batched = [d is not None for d in dims]
    args = typed(args, cond_jaxpr.in_avals[:cn] + body_jaxpr.in_avals)
    args = [a if d is None else R.moveaxis(a, d, 0) for a, d in zip(args, dims)]
    cconst_b, bconst_b, carry_b = split_list(batched, [cn, bn])
    while True:
        _, out_b = batching.batch_jaxpr(body_jaxpr, size, bconst_b + carry_b,
                                        instantiate=carry_b, axis_name=name)
        if out_b == carry_b:
            break
        carry_b = [a or b for a, b in zip(carry_b, out_b)]
    _, (pred_b,) = batching.batch_jaxpr(cond_jaxpr, size, cconst_b + carry_b, False,
                                        axis_name=name)
    if pred_b:  # lanes stop at different steps: every carry becomes batched
        carry_b = [True] * len(carry_b)
    cconsts, bconsts, init = split_list(args, [cn, bn])
    init = [R.bdim_to_front(x, None, size) if b and d is None else x
            for x, b, d in zip(init, carry_b, dims[cn + bn:])]
    body_b, _ = batching.batch_jaxpr(body_jaxpr, size, bconst_b + carry_b,
                                     instantiate=carry_b, axis_name=name)
    cond_b, _ = batching.batch_jaxpr(cond_jaxpr, size, cconst_b + carry_b,
                                     instantiate=pred_b, axis_name=name)
    if not pred_b:
        outs = while_p.bind(*cconsts, *bconsts, *init, cond_jaxpr=cond_b, body_jaxpr=body_b,
                            cond_nconsts=cn, body_nconsts=bn)
        return outs, [0 if b else None for b in carry_b]
    # Run until every lane's predicate is false; a lane that has stopped keeps its carry.
    reduce_or = R.registry["reduce_or"]

    def any_lane(*a):
        (pred,) = inline(cond_b, *a)
        return [reduce_or.bind(pred, axes=(0,), out_sharding=None)]

    def masked_body(*a):
        cc, bc, carry = split_list(a, [cn, bn])
        (pred,) = inline(cond_b, *cc, *carry)
        new = inline(body_b, *bc, *carry)
        return [R.select_n(R.broadcast_in_dim(pred, R.shape_of(n), (0,)), old, n)
                for old, n in zip(carry, new)]

    carry_avals = [R.aval_of(x) for x in init]
    cond_any = trace_closed(any_lane, cond_b.in_avals)
    body_masked = trace_closed(masked_body, cond_b.in_avals[:cn] + body_b.in_avals[:bn]
                               + carry_avals)
    outs = while_p.bind(*cconsts, *cconsts, *bconsts, *init, cond_jaxpr=cond_any,
                        body_jaxpr=body_masked, cond_nconsts=cn, body_nconsts=cn + bn)
    return outs, [0] * len(outs)


while_p.axis_dependent = True  # collectives in the loop see the vmapped axis name


# ---------------------------------------------------------------------------
# scan

scan_p = new_primitive("scan", multiple_results=True,
                       hidden_params=("linear", "_split_transpose"))
scan_p.subjaxprs = lambda params: [params["jaxpr"]]


def _scan_params(params, **updates):
    new = dict(params)
    new.update(updates)
    return new


@scan_p.def_abstract_eval
def _scan_abstract_eval(*args, reverse, length, jaxpr, num_consts, num_carry, linear,
                        unroll, _split_transpose=False):
    consts, init, xs = split_list(args, [num_consts, num_carry])
    if len(linear) != len(args):
        raise TypeError(f"scan: linear has {len(linear)} entries for {len(args)} operands")
    for i, x in enumerate(xs):
        if not x.shape or x.shape[0] != length:
            raise TypeError(f"scan: scanned operand {i} has type {type_name(x)}, but its "
                            f"leading axis must have the scan length {length}")
    check_operands("scan jaxpr", jaxpr.in_avals,
                   consts + init + [unstack_aval(x) for x in xs])
    carry_out, ys = split_list(jaxpr.out_avals, [num_carry])
    check_carry("scan", init, carry_out)
    # weak where the body's carry is weak in and out (the jaxpr's, not the operands':
    # batching passes Python-scalar inits as NumPy scalars, which are never weak)
    carry_in = jaxpr.in_avals[num_consts:num_consts + num_carry]
    return ([a.update(weak_type=c.weak_type and b.weak_type)
             for a, c, b in zip(init, carry_in, carry_out)]
            + [stack_aval(y, length) for y in ys])


@scan_p.def_impl
def _scan_impl(*args, reverse, length, jaxpr, num_consts, num_carry, linear, unroll,
               _split_transpose=False):
    in_avals = jaxpr.in_avals
    consts, carry, xs = split_list(args, [num_consts, num_carry])
    consts = as_operands(consts, in_avals)
    carry = as_operands(carry, in_avals[num_consts:])
    # xs by the dtypes of their slices (an eager NumPy float64 operand is float32 then)
    xs = [np.asarray(x, dtype=a.dtype)
          for x, a in zip(xs, in_avals[num_consts + num_carry:])]
    y_avals = jaxpr.out_avals[num_carry:]
    ys = [np.empty((length,) + a.shape, a.dtype) for a in y_avals]
    body = compile_closed(jaxpr)
    for i in (range(length - 1, -1, -1) if reverse else range(length)):
        outs = body(consts + carry + [x[i] for x in xs])
        carry = outs[:num_carry]
        for y, o in zip(ys, outs[num_carry:]):
            y[i] = o
    return carry + ys


@scan_p.def_jvp
def _scan_jvp(primals, tangents, **params):
    jaxpr, nconsts, ncarry = params["jaxpr"], params["num_consts"], params["num_carry"]
    nonzero = [type(t) is not Zero for t in tangents]
    const_nz, carry_nz, xs_nz = split_list(nonzero, [nconsts, ncarry])
    n_ys = len(jaxpr.out_avals) - ncarry
    while True:  # (custom rules run now may touch refs: captured, see fx/_ref_scope.py)
        jvp, out_nz, use = ad.jvp_jaxpr(jaxpr, const_nz + carry_nz + xs_nz,
                                        instantiate=carry_nz + [False] * n_ys,
                                        capture_refs=True)
        if out_nz[:ncarry] == carry_nz:
            break
        carry_nz = [a or b for a, b in zip(carry_nz, out_nz)]
    refs = RefOperands(use)
    jvp = refs.written_only(jvp)
    ys_nz = out_nz[ncarry:]
    nx = len(xs_nz)
    nct, ncart, nxt, nyt = sum(const_nz), sum(carry_nz), sum(xs_nz), sum(ys_nz)
    # jvp takes (consts, carry, xs, their nonzero tangents, refs) and returns (carry, ys,
    # their nonzero tangents, written refs): interleave so that each group's tangents
    # follow its primals; refs only read join the consts, written ones the carry
    p = nconsts + ncarry + nx
    r = p + nct + ncart + nxt
    in_order = [*range(nconsts), *range(p, p + nct), *refs.read_positions(r),
                *range(nconsts, nconsts + ncarry), *range(p + nct, p + nct + ncart),
                *refs.written_positions(r),
                *range(nconsts + ncarry, p), *range(p + nct + ncart, r)]
    q = ncarry + n_ys
    nrw = refs.n_written
    out_order = [*range(ncarry), *range(q, q + ncart),
                 *range(q + ncart + nyt, q + ncart + nyt + nrw), *range(ncarry, q),
                 *range(q + ncart, q + ncart + nyt)]
    body = permute_outvars(permute_invars(jvp, in_order), out_order)
    consts, init, xs = split_list(primals, [nconsts, ncarry])
    const_t, init_t, xs_t = split_list(tangents, [nconsts, ncarry])
    const_t = [t for t in const_t if type(t) is not Zero]
    init_t = [R.instantiate(t) for t, nz in zip(init_t, carry_nz) if nz]
    xs_t = [t for t in xs_t if type(t) is not Zero]
    lin_c, lin_car, lin_x = split_list(list(params["linear"]), [nconsts, ncarry])
    nrr = refs.n_read
    linear = (*lin_c, *[True] * nct, *[False] * nrr, *lin_car, *[True] * ncart,
              *[False] * nrw, *lin_x, *[True] * nxt)
    outs = scan_p.bind(*consts, *const_t, *refs.read_values(), *init, *init_t,
                       *refs.written_values(), *xs, *xs_t, **_scan_params(
                           params, jaxpr=body, num_consts=nconsts + nct + nrr,
                           num_carry=ncarry + ncart + nrw, linear=linear))
    carry_out, carry_t, ref_out, ys, ys_t = split_list(outs, [ncarry, ncart, nrw, n_ys])
    refs.write_back(ref_out, "scan")
    out_avals = jaxpr.out_avals
    carry_it, ys_it = iter(carry_t), iter(ys_t)
    tangents_out = [next(carry_it) if nz else Zero(a.to_tangent_aval())
                    for a, nz in zip(out_avals[:ncarry], carry_nz)]
    tangents_out += [next(ys_it) if nz else Zero(stack_aval(a, params["length"])
                                                 .to_tangent_aval())
                     for a, nz in zip(out_avals[ncarry:], ys_nz)]
    return carry_out + ys, tangents_out


def _scan_partial_eval(trace, args, **params):
    """Split the scan into a known scan and a staged (unknown) one.

    The known scan returns, besides the known outputs, the residuals the unknown
    part needs: residuals that vary from step to step are stacked along the scan
    axis (the unknown scan reads them as xs); those that depend only on known
    consts are computed once, outside both loops, and passed as consts."""
    jaxpr, nconsts, ncarry = params["jaxpr"], params["num_consts"], params["num_carry"]
    unknowns = [trace.is_unknown(a) for a in args]
    if all(unknowns):
        return trace.default_process(scan_p, args, params)
    const_uk, carry_uk, xs_uk = split_list(unknowns, [nconsts, ncarry])
    n_ys = len(jaxpr.out_avals) - ncarry
    while True:
        known, unknown, out_uk, res_avals = pe.partial_eval_jaxpr(
            jaxpr, const_uk + carry_uk + xs_uk, instantiate=carry_uk + [False] * n_ys)
        if out_uk[:ncarry] == carry_uk:
            break
        carry_uk = [a or b for a, b in zip(carry_uk, out_uk)]
    ys_uk = out_uk[ncarry:]
    consts, init, xs = split_list(args, [nconsts, ncarry])
    k_consts = [a for a, uk in zip(consts, const_uk) if not uk]
    k_init = [a for a, uk in zip(init, carry_uk) if not uk]
    k_xs = [a for a, uk in zip(xs, xs_uk) if not uk]
    n_kcarry, n_kys, n_res = len(k_init), ys_uk.count(False), len(res_avals)
    # Which residuals are loop-invariant: split the known body again, with its consts
    # known and its carries and xs unknown.
    hoist, loop, loop_uk, _ = pe.partial_eval_jaxpr(
        known, [False] * len(k_consts) + [True] * (n_kcarry + len(k_xs)),
        instantiate=[True] * (n_kcarry + n_kys) + [False] * n_res)
    variant = loop_uk[n_kcarry + n_kys:]
    # loop: (hoisted residuals, known carry, known xs) -> (known carry, known ys, variant
    # residuals). A variant residual that is just a known xs is not stacked again, and
    # one value is stacked once however many residuals it feeds.
    loop_in = loop.jaxpr.invars
    n_hoist_res = len(loop_in) - n_kcarry - len(k_xs)
    xs_vars = {id(v): i for i, v in enumerate(loop_in[n_hoist_res + n_kcarry:])}
    res_outvars = loop.jaxpr.outvars[n_kcarry + n_kys:]
    first_of: dict[int, int] = {}
    source = []  # per variant residual: ("xs", index into k_xs) or ("stacked", output)
    for k, v in enumerate(res_outvars):
        if id(v) in xs_vars:
            source.append(("xs", xs_vars[id(v)]))
        else:
            source.append(("stacked", first_of.setdefault(id(v), k)))
    keep = [kind == "stacked" and i == k for k, (kind, i) in enumerate(source)]
    loop = keep_outputs(loop, [True] * (n_kcarry + n_kys) + keep)
    lin_c, lin_car, lin_x = split_list(list(params["linear"]), [nconsts, ncarry])
    with core.set_current_trace(trace.parent):
        hoisted = inline(hoist, *k_consts)
        invariant_res, loop_consts = hoisted[:variant.count(False)], \
            hoisted[variant.count(False):]
        k_linear = (False,) * len(loop_consts) + tuple(
            lin for lin, uk in zip(lin_car + lin_x, carry_uk + xs_uk) if not uk)
        loop_outs = scan_p.bind(*loop_consts, *k_init, *k_xs, **_scan_params(
            params, jaxpr=loop, num_consts=len(loop_consts), num_carry=n_kcarry,
            linear=k_linear))
    k_carry_out, k_ys, stacked_res = split_list(loop_outs, [n_kcarry, n_kys])
    stacked_it = iter(stacked_res)
    stacked = {k: next(stacked_it) for k, kept in enumerate(keep) if kept}
    res_var = [k_xs[i] if kind == "xs" else stacked[i] for kind, i in source]
    res_inv = list(invariant_res)
    # unknown: (residuals, unknown consts, unknown carry, unknown xs) -> reorder its inputs
    # to (invariant residuals, unknown consts, unknown carry, unknown xs, variant residuals)
    # as JAX orders them
    inv_idx = [i for i, v in enumerate(variant) if not v]
    var_idx = [i for i, v in enumerate(variant) if v]
    n_uc, n_ucar, n_ux = const_uk.count(True), carry_uk.count(True), xs_uk.count(True)
    order = [*inv_idx, *range(n_res, n_res + n_uc + n_ucar + n_ux), *var_idx]
    unknown = permute_invars(unknown, order)
    u_consts = [a for a, uk in zip(consts, const_uk) if uk]
    u_init = [a for a, uk in zip(init, carry_uk) if uk]
    u_xs = [a for a, uk in zip(xs, xs_uk) if uk]
    u_linear = ((False,) * len(res_inv)
                + tuple(lin for lin, uk in zip(lin_c, const_uk) if uk)
                + tuple(lin for lin, uk in zip(lin_car, carry_uk) if uk)
                + tuple(lin for lin, uk in zip(lin_x, xs_uk) if uk)
                + (False,) * len(res_var))
    u_outs = trace.default_process(
        scan_p, [*res_inv, *u_consts, *u_init, *u_xs, *res_var], _scan_params(
            params, jaxpr=unknown, num_consts=len(res_inv) + n_uc, num_carry=n_ucar,
            linear=u_linear))
    u_carry_out, u_ys = split_list(u_outs, [n_ucar])
    k_c, k_y, u_c, u_y = map(iter, (k_carry_out, k_ys, u_carry_out, u_ys))
    return ([next(u_c) if uk else next(k_c) for uk in carry_uk]
            + [next(u_y) if uk else next(k_y) for uk in ys_uk])


scan_p.partial_eval = _scan_partial_eval


def _scan_dce(used_outputs, eqn):
    """Dead-code elimination of a scan (``Primitive.dce``): the ys nobody reads go, and
    so do the carries that neither a used output nor a kept carry depends on (a fixed
    point: a carry is kept when the body needs its value for something kept). Returns
    ``(used_inputs, new_eqn)``, ``new_eqn`` None when nothing is used."""
    params = eqn.params
    jaxpr, nconsts, ncarry = params["jaxpr"], params["num_consts"], params["num_carry"]
    if has_effects(jaxpr):
        return [True] * len(eqn.invars), eqn
    if not any(used_outputs):
        return [False] * len(eqn.invars), None
    n_xs = len(eqn.invars) - nconsts - ncarry
    used_carry, used_ys = split_list(used_outputs, [ncarry])
    while True:
        body, used_in = pe.dce_closed_jaxpr(
            jaxpr, used_carry + used_ys,
            instantiate=[False] * nconsts + used_carry + [False] * n_xs)
        used_consts, carry_read, used_xs = split_list(used_in, [nconsts, ncarry])
        if all(u or not r for u, r in zip(used_carry, carry_read)):
            break
        used_carry = [u or r for u, r in zip(used_carry, carry_read)]
    used_inputs = used_consts + used_carry + used_xs
    keep_out = used_carry + used_ys
    new_params = _scan_params(
        params, jaxpr=body, num_consts=sum(used_consts), num_carry=sum(used_carry),
        linear=tuple(lin for lin, u in zip(params["linear"], used_inputs) if u))
    new_eqn = eqn.replace(invars=[v for v, u in zip(eqn.invars, used_inputs) if u],
                          outvars=[v for v, u in zip(eqn.outvars, keep_out) if u],
                          params=new_params)
    return used_inputs, new_eqn


scan_p.dce = _scan_dce


@scan_p.def_transpose
def _scan_transpose(cts, *args, **params):
    """A reverse scan over the transposed body; the consts' cotangents are summed in
    the carry, the xs' cotangents come out as its ys."""
    jaxpr, nconsts, ncarry = params["jaxpr"], params["num_consts"], params["num_carry"]
    consts, init, xs = split_list(args, [nconsts, ncarry])
    # A carry is always treated as linear: a known initial carry (e.g. the zeros a
    # tangent starts from) only adds a constant, which has no cotangent.
    init_known = [not core.is_undefined_primal(c) for c in init]
    const_lin = [core.is_undefined_primal(c) for c in consts]
    xs_lin = [core.is_undefined_primal(x) for x in xs]
    ct_carry, ct_ys = split_list(cts, [ncarry])
    ys_nz = [type(c) is not Zero for c in ct_ys]
    in_avals = jaxpr.in_avals
    const_avals, carry_avals, x_avals = split_list(in_avals, [nconsts, ncarry])
    y_avals = jaxpr.out_avals[ncarry:]
    res_consts = [c for c, lin in zip(consts, const_lin) if not lin]
    res_xs = [x for x, lin in zip(xs, xs_lin) if not lin]
    acc_avals = [a.to_tangent_aval() for a, lin in zip(const_avals, const_lin) if lin]
    # the carry's cotangents have the types of the given ones (instantiated: a zero is
    # strong), as JAX types its carry accumulators, so a weak carry's convert_element_type
    # transposes to nothing
    ct_carry = [_instantiate(c, a.to_tangent_aval()) for c, a in zip(ct_carry, carry_avals)]
    ct_carry_avals = [R.aval_of(c) for c in ct_carry]
    ct_y_avals = [a.to_tangent_aval() for a, nz in zip(y_avals, ys_nz) if nz]
    res_x_avals = [a for a, lin in zip(x_avals, xs_lin) if not lin]

    def body(*a):
        rc, acc, ctc, cty, rx = split_list(
            a, [len(res_consts), len(acc_avals), ncarry, len(ct_y_avals)])
        rc_it, rx_it = iter(rc), iter(rx)
        primals = ([core.UndefinedPrimal(av) if lin else next(rc_it)
                    for av, lin in zip(const_avals, const_lin)]
                   + [core.UndefinedPrimal(av) for av in ct_carry_avals]
                   + [core.UndefinedPrimal(av) if lin else next(rx_it)
                      for av, lin in zip(x_avals, xs_lin)])
        cty_it = iter(cty)
        cts_out = list(ctc) + [next(cty_it) if nz else Zero(av.to_tangent_aval())
                               for av, nz in zip(y_avals, ys_nz)]
        res = ad.backward_pass(jaxpr.jaxpr, jaxpr.consts, primals, cts_out)
        ct_consts, ct_init, ct_xs = split_list(res, [nconsts, ncarry])
        ct_consts = [c for c, lin in zip(ct_consts, const_lin) if lin]
        new_acc = [s if type(c) is Zero or c is None else R.add_tangents(s, _as_type(c, av))
                   for s, c, av in zip(acc, ct_consts, acc_avals)]
        return (new_acc + [_instantiate(c, av) for c, av in zip(ct_init, ct_carry_avals)]
                + [_instantiate(c, av.to_tangent_aval())
                   for c, av, lin in zip(ct_xs, x_avals, xs_lin) if lin])

    body_t, refs = trace_closed_refs(body, [*[R.aval_of(c) for c in res_consts], *acc_avals,
                                            *ct_carry_avals, *ct_y_avals, *res_x_avals])
    acc_init = [R.zeros(a) for a in acc_avals]
    ct_ys = [c for c in ct_ys if type(c) is not Zero]
    n_carry_t = len(acc_avals) + ncarry
    nrc, nct_in, nry = len(res_consts), len(ct_ys), len(res_xs)
    nrr, nrw = refs.n_read, refs.n_written
    if refs.use is not None:  # custom rules touched refs: read ones are consts, written
        r = nrc + n_carry_t + nct_in + nry  # ones carries
        body_t = permute_invars(body_t, [
            *range(nrc), *refs.read_positions(r), *range(nrc, nrc + n_carry_t),
            *refs.written_positions(r), *range(nrc + n_carry_t, r)])
        n_out = len(body_t.out_avals) - nrw
        body_t = permute_outvars(body_t, [*range(n_carry_t), *range(n_out, n_out + nrw),
                                          *range(n_carry_t, n_out)])
    linear = ((False,) * (nrc + nrr) + (True,) * n_carry_t + (False,) * nrw
              + (True,) * nct_in + (False,) * nry)
    outs = scan_p.bind(*res_consts, *refs.read_values(), *acc_init, *ct_carry,
                       *refs.written_values(), *ct_ys, *res_xs, **_scan_params(
                           params, reverse=not params["reverse"], jaxpr=body_t,
                           num_consts=nrc + nrr, num_carry=n_carry_t + nrw, linear=linear))
    outs, ref_out = outs[:n_carry_t] + outs[n_carry_t + nrw:], outs[n_carry_t:n_carry_t + nrw]
    refs.write_back(ref_out, "scan")
    ct_consts, ct_init, ct_xs = split_list(outs, [len(acc_avals), ncarry])
    c_it, x_it = iter(ct_consts), iter(ct_xs)
    return ([next(c_it) if lin else None for lin in const_lin]
            + [None if known else ct for ct, known in zip(ct_init, init_known)]
            + [next(x_it) if lin else None for lin in xs_lin])


def _as_type(ct, aval):
    if R.dtype_of(ct) != aval.dtype and aval.dtype != dtypes.float0:
        return R.convert(ct, aval.dtype)
    return ct


def _instantiate(ct, aval):
    if ct is None or type(ct) is Zero:
        return R.zeros(aval)
    return _as_type(ct, aval)


@scan_p.def_batch
def _scan_batch(args, dims, *, axis_data=None, **params):
    from primitives import collectives
    jaxpr, nconsts, ncarry = params["jaxpr"], params["num_consts"], params["num_carry"]
    if collectives.skip_unbatched(scan_p, args, dims, axis_data, params):
        return scan_p.bind(*args, **params), [None] * len(jaxpr.out_avals)
    name, size = collectives.axis_of(axis_data, args, dims)
    args = typed(args, jaxpr.in_avals[:nconsts + ncarry]) + list(args[nconsts + ncarry:])
    batched = [d is not None for d in dims]
    const_b, carry_b, xs_b = split_list(batched, [nconsts, ncarry])
    n_ys = len(jaxpr.out_avals) - ncarry
    while True:
        body, out_b = batching.batch_jaxpr(jaxpr, size, const_b + carry_b + xs_b,
                                           instantiate=carry_b + [False] * n_ys,
                                           axis_name=name)
        if out_b[:ncarry] == carry_b:
            break
        carry_b = [a or b for a, b in zip(carry_b, out_b)]
    ys_b = out_b[ncarry:]
    consts, init, xs = split_list(args, [nconsts, ncarry])
    const_d, init_d, xs_d = split_list(dims, [nconsts, ncarry])
    consts = [c if d is None else R.moveaxis(c, d, 0) for c, d in zip(consts, const_d)]
    init = [R.bdim_to_front(c, d, size) if b else c
            for c, d, b in zip(init, init_d, carry_b)]
    # the scan axis stays first; each x's batch axis goes second (first in the body)
    xs = [x if d is None else R.moveaxis(x, d, 1) for x, d in zip(xs, xs_d)]
    outs = scan_p.bind(*consts, *init, *xs, **_scan_params(params, jaxpr=body))
    return outs, [0 if b else None for b in carry_b] + [1 if b else None for b in ys_b]


scan_p.axis_dependent = True  # collectives in the body see the vmapped axis name

