"""Checkify rules for control flow: ``cond`` (and ``switch``), ``scan`` (and static
``fori_loop``) and ``while`` (``while_loop``, dynamic ``fori_loop``).

Invariants: each sub-jaxpr is re-traced under a fresh ``CheckifyTrace`` into a
jaxpr that also returns its sites' predicates and payloads; the primitive is then
re-bound (in the checkify trace's parent, so ``jit``/``vmap`` see an ordinary
``cond``/``scan``/``while``) with the rewritten jaxprs and new params.

- cond: every branch returns the predicates and payloads of the sites of *all*
  branches (False and zeros for the other branches' sites); each becomes a site of
  the enclosing trace (only one branch runs, so program order is time order).
- scan / while: the loop carries one error state ``(failed, code, *payloads)``
  where ``code`` indexes the inner sites; an iteration's first failing site is
  recorded only if nothing failed before, so the earliest failure in time wins.
  The loop is one composite site of the enclosing trace. As in JAX, a while
  loop's ``cond_fun`` is checked on the initial carry before the loop and on the
  new carry after each body step.
"""
from __future__ import annotations

import numpy as np

from fx import core
from fx.core import ShapedArray
from fx.interpreters import partial_eval as pe
from primitives.control_flow import cond_p
from primitives.control_flow_loops import scan_p, while_p


def _split(xs, sizes):
    out, start = [], 0
    for n in sizes:
        out.append(list(xs[start:start + n]))
        start += n
    out.append(list(xs[start:]))
    return out


def _strong(aval):
    return ShapedArray(aval.shape, aval.dtype)


def _checked(closed, errors):
    """Re-trace ``closed`` checkified: (jaxpr returning outs + preds + payloads, sites, counts)."""
    from fx.experimental.checkify import CheckifyTrace
    store = {}

    def fun(*args):
        inner = CheckifyTrace(core.current_trace(), errors)
        with core.new_trace(inner):
            outs = core.eval_jaxpr(closed.jaxpr, closed.consts, *args)
        store["trace"] = inner
        return (list(outs) + list(inner.preds)
                + [p for payload in inner.payloads for p in payload])

    jaxpr = pe.close_jaxpr(fun, closed.in_avals)
    inner = store["trace"]
    return jaxpr, list(inner.sites), [len(p) for p in inner.payloads]


def _cast(x, aval):
    from fx import lax
    return lax.convert_element_type(x, aval.dtype)


def _zeros(aval):
    return np.zeros(aval.shape, aval.dtype)


def _merge(err, preds, payloads, pay_avals):
    """Record the first of ``preds`` that holds, with ``payloads``, unless ``err`` failed."""
    import fx.numpy as fnp
    old_pred, old_code, old_pays = err[0], err[1], err[2:]
    stacked = fnp.stack([fnp.asarray(p, dtype=bool) for p in preds]).astype(np.int32)
    cur_any = fnp.any(stacked > 0)
    cur_code = _cast(fnp.argmax(stacked), ShapedArray((), np.dtype(np.int32)))
    new_pays = [_cast(fnp.where(old_pred, o, _cast(c, a)), a)
                for o, c, a in zip(old_pays, payloads, pay_avals)]
    return [fnp.logical_or(old_pred, cur_any),
            _cast(fnp.where(old_pred, old_code, cur_code), ShapedArray((), np.dtype(np.int32))),
            *new_pays]


def _err_avals(pay_avals):
    return [ShapedArray((), np.dtype(np.bool_)), ShapedArray((), np.dtype(np.int32))] + pay_avals


def _empty_err(pay_avals):
    return [np.zeros((), np.bool_), np.zeros((), np.int32)] + [_zeros(a) for a in pay_avals]


def _add_composite(trace, sites, counts, err):
    from fx.experimental.checkify import _Composite
    trace.add(_Composite, (tuple(sites), tuple(counts)), err[0], err[1:])


def _cond_rule(trace, args, params):
    from fx.experimental.checkify import _Site  # noqa: F401  (sites come from inner traces)
    index, ops = args[0], list(args[1:])
    branches = params["branches"]
    checked = [_checked(b, trace.errors) for b in branches]
    if not any(sites for _, sites, _ in checked):
        return cond_p.bind(*args, **params)
    n_out = len(branches[0].out_avals)
    pay_avals = [[_strong(a) for a in j.out_avals[n_out + len(sites):]]
                 for j, sites, _ in checked]

    def make_branch(i):
        def fun(*xs):
            outs = core.eval_jaxpr(checked[i][0].jaxpr, checked[i][0].consts, *xs)
            orig, preds, pays = _split(outs, [n_out, len(checked[i][1])])
            res = list(orig)
            for j, (_, sites, _) in enumerate(checked):
                if j == i:
                    res += list(preds) + [_cast(p, a) for p, a in zip(pays, pay_avals[j])]
                else:
                    res += [np.zeros((), np.bool_)] * len(sites) + [_zeros(a) for a in pay_avals[j]]
            return res
        return pe.close_jaxpr(fun, branches[i].in_avals)

    new_branches = tuple(make_branch(i) for i in range(len(branches)))
    outs = cond_p.bind(index, *ops, **dict(params, branches=new_branches))
    orig, rest = outs[:n_out], outs[n_out:]
    for j, (_, sites, counts) in enumerate(checked):
        preds, rest = rest[:len(sites)], rest[len(sites):]
        npay = len(pay_avals[j])
        pays, rest = rest[:npay], rest[npay:]
        start = 0
        for site, pred, c in zip(sites, preds, counts):
            trace.sites.append(site)
            trace.preds.append(pred)
            trace.payloads.append(tuple(pays[start:start + c]))
            start += c
    return orig


def _scan_rule(trace, args, params):
    jaxpr, nc, nk = params["jaxpr"], params["num_consts"], params["num_carry"]
    J, sites, counts = _checked(jaxpr, trace.errors)
    if not sites:
        return scan_p.bind(*args, **params)
    n_out = len(jaxpr.out_avals)
    pay_avals = [_strong(a) for a in J.out_avals[n_out + len(sites):]]
    err_avals = _err_avals(pay_avals)
    ne = len(err_avals)

    def body(*xs):
        consts, err, rest = _split(xs, [nc, ne])
        outs = core.eval_jaxpr(J.jaxpr, J.consts, *consts, *rest)
        orig, preds, pays = _split(outs, [n_out, len(sites)])
        return _merge(err, preds, pays, pay_avals) + orig

    in_avals = list(jaxpr.in_avals)
    new_jaxpr = pe.close_jaxpr(body, in_avals[:nc] + err_avals + in_avals[nc:])
    consts, rest = args[:nc], args[nc:]
    linear = tuple(params["linear"])
    new_params = dict(params, jaxpr=new_jaxpr, num_carry=nk + ne,
                      linear=linear[:nc] + (False,) * ne + linear[nc:])
    outs = scan_p.bind(*consts, *_empty_err(pay_avals), *rest, **new_params)
    _add_composite(trace, sites, counts, outs[:ne])
    return outs[ne:]


def _while_rule(trace, args, params):
    cond_jaxpr, body_jaxpr = params["cond_jaxpr"], params["body_jaxpr"]
    ncc, nbc = params["cond_nconsts"], params["body_nconsts"]
    Jc, csites, ccounts = _checked(cond_jaxpr, trace.errors)
    Jb, bsites, bcounts = _checked(body_jaxpr, trace.errors)
    if not csites and not bsites:
        return while_p.bind(*args, **params)
    cconsts, bconsts, init = _split(args, [ncc, nbc])
    nk = len(init)
    bpay = [_strong(a) for a in Jb.out_avals[nk + len(bsites):]]
    cpay = [_strong(a) for a in Jc.out_avals[1 + len(csites):]]
    pay_avals = bpay + cpay
    err_avals = _err_avals(pay_avals)
    ne = len(err_avals)

    def run_cond(cc, carry):
        outs = core.eval_jaxpr(Jc.jaxpr, Jc.consts, *cc, *carry)
        return _split(outs[1:], [len(csites)])

    # the cond's checks on the initial carry, before the loop
    cpreds, cpays = run_cond(cconsts, init)
    err0 = _merge(_empty_err(pay_avals), [np.zeros((), np.bool_)] * len(bsites) + cpreds,
                  [_zeros(a) for a in bpay] + cpays, pay_avals)

    def new_cond(*xs):
        cc, _, carry = _split(xs, [ncc, ne])
        # the checkified cond, so its checks are not runtime assertions; only the predicate
        return core.eval_jaxpr(Jc.jaxpr, Jc.consts, *cc, *carry)[:1]

    def new_body(*xs):
        cc, bc, err, carry = _split(xs, [ncc, nbc, ne])
        outs = core.eval_jaxpr(Jb.jaxpr, Jb.consts, *bc, *carry)
        new_carry, bpreds, bpays = _split(outs, [nk, len(bsites)])
        cpreds, cpays = run_cond(cc, new_carry)
        return _merge(err, bpreds + cpreds, bpays + cpays, pay_avals) + new_carry

    c_in, b_in = list(cond_jaxpr.in_avals), list(body_jaxpr.in_avals)
    cond_new = pe.close_jaxpr(new_cond, c_in[:ncc] + err_avals + c_in[ncc:])
    body_new = pe.close_jaxpr(new_body, c_in[:ncc] + b_in[:nbc] + err_avals + b_in[nbc:])
    outs = while_p.bind(*cconsts, *cconsts, *bconsts, *err0, *init, cond_jaxpr=cond_new,
                        body_jaxpr=body_new, cond_nconsts=ncc, body_nconsts=ncc + nbc)
    _add_composite(trace, bsites + csites, bcounts + ccounts, outs[:ne])
    return outs[ne:]


RULES = {"cond": _cond_rule, "scan": _scan_rule, "while": _while_rule}
