"""Hoisting the per-step products of a scan that do not depend on its carry: the work a
scan body does on its ``xs`` slice alone (an RNN's input projection ``x_t @ W``) runs
once, batched over all steps, before the loop (one large product instead of ``length``
small ones), and the body reads its slice of the result.

Invariants: only equations that depend on an ``xs`` slice and not on a carry move
(constant-only equations they read are computed again outside, unbatched); the batched
form is fx's own ``vmap`` of those equations, so every primitive's batching rule
applies; a scan is rewritten only when what moves includes a ``dot_general`` (elsewhere
the batched intermediates would only add memory traffic) and the stacked intermediates
stay under ``MAX_HOISTED_BYTES``; equations with sub-jaxprs or effects stay in the body.
"""
from __future__ import annotations

import numpy as np

from fx.core import ClosedJaxpr, DropVar, Jaxpr, Literal, ShapeDtypeStruct, Var

__all__ = ["hoist_scan_products", "MAX_HOISTED_BYTES"]

MAX_HOISTED_BYTES = 64 << 20
_CONST, _XS, _CARRY = 0, 1, 2


def _nbytes(aval, length: int) -> int:
    return length * int(np.prod(aval.shape, dtype=np.int64)) * np.dtype(aval.dtype).itemsize


def _classify(body: Jaxpr, nconsts: int, ncarry: int):
    """Each equation's kind: constant-only, xs-dependent (carry-free), or carry-dependent
    (and everything that stays put: sub-jaxprs, effects)."""
    kind: dict[int, int] = {}
    for v in body.constvars:
        kind[id(v)] = _CONST
    for k, v in enumerate(body.invars):
        kind[id(v)] = _CONST if k < nconsts else _CARRY if k < nconsts + ncarry else _XS
    kinds = []
    for e in body.eqns:
        ins = [kind.get(id(v), _CONST) for v in e.invars if not isinstance(v, Literal)]
        k = max(ins, default=_CONST)
        if k == _XS and (getattr(e, "effects", None) or any(
                isinstance(p, (Jaxpr, ClosedJaxpr)) or (isinstance(p, tuple) and any(
                    isinstance(q, (Jaxpr, ClosedJaxpr)) for q in p))
                for p in e.params.values())):
            k = _CARRY  # stays in the body
        kinds.append(k)
        for o in e.outvars:
            kind[id(o)] = k
    return kinds, kind


def _hoist(eqn):
    """``(batched ClosedJaxpr, its operands, new scan params, body substitutions)`` for
    one scan equation, or None when nothing worth moving."""
    p = eqn.params
    body_closed = p["jaxpr"]
    body = body_closed.jaxpr
    nconsts, ncarry, length = p["num_consts"], p["num_carry"], p["length"]
    if length < 2:
        return None
    kinds, kind = _classify(body, nconsts, ncarry)
    moved = [e for e, k in zip(body.eqns, kinds) if k == _XS]
    if not any(e.primitive.name == "dot_general" for e in moved):
        return None
    # xs-dependent values read by what stays (or returned by the body)
    staying = [e for e, k in zip(body.eqns, kinds) if k != _XS]
    needed, seen = [], set()
    for v in [v for e in staying for v in e.invars] + list(body.outvars):
        if isinstance(v, Var) and kind.get(id(v)) == _XS and id(v) not in seen \
                and not any(v is x for x in body.invars):
            seen.add(id(v))
            needed.append(v)
    if not needed or sum(_nbytes(v.aval, length) for v in needed) > MAX_HOISTED_BYTES:
        return None
    # the moved equations (and the constant-only ones they read) as a program of the
    # body's constants and xs slices, batched over the steps by vmap
    part_eqns = [e for e, k in zip(body.eqns, kinds) if k != _CARRY]
    consts_in = body.invars[:nconsts]
    xs_in = body.invars[nconsts + ncarry:]
    part = ClosedJaxpr(Jaxpr(body.constvars, list(consts_in) + list(xs_in), needed,
                             part_eqns), body_closed.consts)
    from fx import api
    from fx.core import eval_jaxpr

    def run(*args):
        return eval_jaxpr(part.jaxpr, part.consts, *args)
    in_axes = (None,) * len(consts_in) + (0,) * len(xs_in)
    operands = list(eqn.invars[:nconsts]) + list(eqn.invars[nconsts + ncarry:])
    specs = [ShapeDtypeStruct(v.aval.shape, v.aval.dtype, weak_type=v.aval.weak_type)
             for v in operands]
    batched = api.make_jaxpr(api.vmap(run, in_axes=in_axes))(*specs)
    # the body reads the stacked results as new xs slices
    slices = [Var(v.aval) for v in needed]
    sub = {id(v): s for v, s in zip(needed, slices)}
    new_body = Jaxpr(body.constvars, list(body.invars) + slices,
                     [sub.get(id(v), v) if isinstance(v, Var) else v for v in body.outvars],
                     [e.replace(invars=[sub.get(id(v), v) if isinstance(v, Var) else v
                                        for v in e.invars]) for e in staying],
                     body.debug_info)
    params = dict(p, jaxpr=ClosedJaxpr(new_body, body_closed.consts),
                  linear=tuple(p["linear"]) + (False,) * len(slices))
    return batched, operands, params


def hoist_scan_products(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Move each top-level scan's carry-free, xs-dependent products out of its body,
    batched over the steps (see the module docstring).

    Example:
      >>> # scan(lambda h, x: (tanh(x @ W + h @ U), ...)): x @ W becomes one product
      >>> # of all xs before the loop; the body reads its row of the result
    """
    eqns, constvars, consts = [], list(closed.jaxpr.constvars), list(closed.consts)
    changed = False
    for eqn in closed.jaxpr.eqns:
        found = _hoist(eqn) if eqn.primitive.name == "scan" else None
        if found is None:
            eqns.append(eqn)
            continue
        batched, operands, params = found
        changed = True
        env: dict[int, object] = {}
        for v, c in zip(batched.jaxpr.constvars, batched.consts):
            fresh = Var(v.aval)
            constvars.append(fresh)
            consts.append(c)
            env[id(v)] = fresh
        for v, a in zip(batched.jaxpr.invars, operands):
            env[id(v)] = a

        def read(a, env=env):
            return a if isinstance(a, Literal) else env.get(id(a), a)
        for e in batched.jaxpr.eqns:
            outs = [DropVar(o.aval) if isinstance(o, DropVar) else Var(o.aval)
                    for o in e.outvars]
            for o, n in zip(e.outvars, outs):
                env[id(o)] = n
            eqns.append(e.replace(invars=[read(v) for v in e.invars], outvars=outs))
        stacked = [read(v) for v in batched.jaxpr.outvars]
        eqns.append(eqn.replace(invars=list(eqn.invars) + stacked, params=params))
    if not changed:
        return closed
    j = closed.jaxpr
    return ClosedJaxpr(Jaxpr(constvars, j.invars, j.outvars, eqns, j.debug_info), consts)
