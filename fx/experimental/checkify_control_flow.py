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
  recorded only if nothing of its effect failed before, so per effect the earliest
  failure in time wins.
  As JAX keeps one error state per effect (error kind and payload types), the
  loop carries one such state per effect of its inner sites and becomes one
  composite site per effect of the enclosing trace. As in JAX, a while
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


class _LoopError:
    """The error state a loop carries: per effect of its inner sites (in order of first
    appearance) ``(failed, code, *payloads of that effect's sites)``."""

    def __init__(self, sites, counts, pay_avals, n_shared=0):
        # the last ``n_shared`` sites repeat the first ones (a while loop's cond, checked
        # before the loop and after each step) and share their error codes, as in JAX
        self.sites, self.counts = list(sites), list(counts)
        self.site_avals = _split(pay_avals, self.counts[:-1])
        distinct = self.sites[:len(self.sites) - n_shared]
        offsets = [int(o) for o in np.cumsum([0] + [s.n_codes for s in distinct])[:-1]]
        self.offsets = offsets + offsets[:n_shared]
        self.span = sum(s.n_codes for s in distinct)
        self.groups: dict = {}
        for k, site in enumerate(self.sites):
            self.groups.setdefault(site.effect, []).append(k)
        self.sizes = [2 + sum(self.counts[k] for k in g) for g in self.groups.values()]

    def _group_avals(self, g):
        return [a for k in g for a in self.site_avals[k]]

    def avals(self):
        return [a for g in self.groups.values() for a in _err_avals(self._group_avals(g))]

    def empty(self):
        return [_zeros(a) for a in self.avals()]

    def merge(self, err, preds, pays):
        """Fold one step's site ``preds`` and flat ``pays`` (all inner sites) into ``err``."""
        per_site = _split(pays, self.counts[:-1])
        out = []
        for e, g in zip(_split(err, self.sizes[:-1]), self.groups.values()):
            out += _merge(e, [preds[k] for k in g], [p for k in g for p in per_site[k]],
                          self._group_avals(g))
        return out

    def add_to(self, trace, err):
        """Add the loop's final state to ``trace``: one composite site per effect."""
        from fx.experimental.checkify import _Composite, _Site
        groups = list(self.groups.items())
        for i, ((effect, g), e) in enumerate(zip(groups, _split(err, self.sizes[:-1]))):
            info = (tuple(self.sites[k] for k in g), tuple(self.counts[k] for k in g),
                    tuple(self.offsets[k] for k in g))
            # all groups share the loop's first code; the last one spans the loop's codes
            n_codes = self.span if i == len(groups) - 1 else 0
            trace.sites.append(_Site(_Composite, info, effect, n_codes))
            trace.preds.append(e[0])
            trace.payloads.append(tuple(e[1:]))


def _err_avals(pay_avals):
    return [ShapedArray((), np.dtype(np.bool_)), ShapedArray((), np.dtype(np.int32))] + pay_avals


def _cond_rule(trace, args, params):
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
    loop_err = _LoopError(sites, counts, [_strong(a) for a in J.out_avals[n_out + len(sites):]])
    err_avals = loop_err.avals()
    ne = len(err_avals)

    def body(*xs):
        consts, err, rest = _split(xs, [nc, ne])
        outs = core.eval_jaxpr(J.jaxpr, J.consts, *consts, *rest)
        orig, preds, pays = _split(outs, [n_out, len(sites)])
        return loop_err.merge(err, preds, pays) + orig

    in_avals = list(jaxpr.in_avals)
    new_jaxpr = pe.close_jaxpr(body, in_avals[:nc] + err_avals + in_avals[nc:])
    consts, rest = args[:nc], args[nc:]
    linear = tuple(params["linear"])
    new_params = dict(params, jaxpr=new_jaxpr, num_carry=nk + ne,
                      linear=linear[:nc] + (False,) * ne + linear[nc:])
    outs = scan_p.bind(*consts, *loop_err.empty(), *rest, **new_params)
    loop_err.add_to(trace, outs[:ne])
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
    # inner sites: the cond on the initial carry, then the body and the cond after it;
    # in JAX the cond's checks have the same (smaller) codes before and in the loop
    loop_err = _LoopError(csites + bsites + csites, ccounts + bcounts + ccounts,
                          cpay + bpay + cpay, n_shared=len(csites))
    err_avals = loop_err.avals()
    ne = len(err_avals)
    no_b = [np.zeros((), np.bool_)] * len(bsites), [_zeros(a) for a in bpay]
    no_c = [np.zeros((), np.bool_)] * len(csites), [_zeros(a) for a in cpay]

    def run_cond(cc, carry):
        outs = core.eval_jaxpr(Jc.jaxpr, Jc.consts, *cc, *carry)
        return _split(outs[1:], [len(csites)])

    cpreds, cpays = run_cond(cconsts, init)
    err0 = loop_err.merge(loop_err.empty(), cpreds + no_b[0] + no_c[0],
                          cpays + no_b[1] + no_c[1])

    def new_cond(*xs):
        cc, _, carry = _split(xs, [ncc, ne])
        # the checkified cond, so its checks are not runtime assertions; only the predicate
        return core.eval_jaxpr(Jc.jaxpr, Jc.consts, *cc, *carry)[:1]

    def new_body(*xs):
        cc, bc, err, carry = _split(xs, [ncc, nbc, ne])
        outs = core.eval_jaxpr(Jb.jaxpr, Jb.consts, *bc, *carry)
        new_carry, bpreds, bpays = _split(outs, [nk, len(bsites)])
        cpreds, cpays = run_cond(cc, new_carry)
        return loop_err.merge(err, no_c[0] + bpreds + cpreds, no_c[1] + bpays + cpays) + new_carry

    c_in, b_in = list(cond_jaxpr.in_avals), list(body_jaxpr.in_avals)
    cond_new = pe.close_jaxpr(new_cond, c_in[:ncc] + err_avals + c_in[ncc:])
    body_new = pe.close_jaxpr(new_body, c_in[:ncc] + b_in[:nbc] + err_avals + b_in[nbc:])
    outs = while_p.bind(*cconsts, *cconsts, *bconsts, *err0, *init, cond_jaxpr=cond_new,
                        body_jaxpr=body_new, cond_nconsts=ncc, body_nconsts=ncc + nbc)
    loop_err.add_to(trace, outs[:ne])
    return outs[ne:]


RULES = {"cond": _cond_rule, "scan": _scan_rule, "while": _while_rule}
