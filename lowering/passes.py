"""Passes over closed jaxprs, run before fusion: call inlining, dead-code
elimination, common-subexpression elimination, constant folding and algebraic
simplification.

Invariants: every pass is a pure function ``ClosedJaxpr -> ClosedJaxpr`` that
leaves its argument untouched and keeps the signature (invars, out avals up to
weak types) and the values computed, so each can be tested alone. Passes build
new equations (and fresh variables where an inlined body needs them) and
never look at Python functions, only at equations and their primitives.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from fx import core
from fx.core import ClosedJaxpr, DropVar, Jaxpr, JaxprEqn, Literal, Var
from fx.interpreters import partial_eval as pe

__all__ = ["optimize", "inline_calls", "dce", "cse", "fold_constants", "simplify_algebra",
           "simplify_shapes", "simplify_converts", "canonicalize", "explicit_broadcasts",
           "CALL_PRIMITIVES", "FOLD_LIMIT"]

#: call primitives whose body ``inline_calls`` splices into the caller -> the body's param
#: (a custom_jvp/custom_vjp call computes its primal as its ``call_jaxpr``; once the
#: program is differentiated, its rules are no longer needed; a remat is its body)
_CALL_BODIES = {"jit": "jaxpr", "pjit": "jaxpr", "closed_call": "jaxpr", "core_call": "jaxpr",
                "remat2": "jaxpr", "custom_jvp_call": "call_jaxpr",
                "custom_vjp_call": "call_jaxpr", "custom_linear_solve": "jaxprs"}
CALL_PRIMITIVES = frozenset(_CALL_BODIES)
#: primitives whose outputs are their operands (annotations for transformations)
_IDENTITIES = frozenset({"name", "optimization_barrier"})
#: constants and folded values with at most this many elements live in the program
FOLD_LIMIT = 64
_FOLDABLE_NULLARY = frozenset({"iota"})


# ---------------------------------------------------------------------------
# helpers


def _to_numpy(value) -> np.ndarray:
    inner = getattr(value, "_value", None)  # fx.Array without importing fx.array
    return np.asarray(inner if inner is not None else value)


def _closed(jaxpr: Jaxpr, consts) -> ClosedJaxpr:
    return ClosedJaxpr(jaxpr, list(consts))


def _rebuild(closed: ClosedJaxpr, eqns, outvars=None, constvars=None, consts=None):
    j = closed.jaxpr
    new = Jaxpr(j.constvars if constvars is None else constvars, j.invars,
                j.outvars if outvars is None else outvars, eqns, j.debug_info)
    return _closed(new, closed.consts if consts is None else consts)


class _Subst:
    """A substitution of variables by atoms (variables or literals)."""

    def __init__(self):
        self.map: dict[int, object] = {}

    def __call__(self, atom):
        if isinstance(atom, Literal):
            return atom
        seen = atom
        while True:
            nxt = self.map.get(id(seen))
            if nxt is None:
                return seen
            seen = nxt
            if isinstance(seen, Literal):
                return seen

    def set(self, var, atom):
        self.map[id(var)] = atom


def _literal_value(atom):
    """The value of a literal atom as a NumPy scalar, else None."""
    if isinstance(atom, Literal):
        return np.asarray(atom.val, atom.aval.dtype)
    return None


def _make_literal(value, aval: core.ShapedArray) -> Literal:
    return Literal(np.asarray(value, aval.dtype)[()], core.ShapedArray((), aval.dtype,
                                                                     aval.weak_type))


def _same_type(a, b) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype


# ---------------------------------------------------------------------------
# inlining


def inline_calls(closed: ClosedJaxpr, names=CALL_PRIMITIVES) -> ClosedJaxpr:
    """Splice the body of every call equation (``jit`` by default) into its caller.

    Inner bodies are inlined recursively; each call site gets fresh variables, and
    constants closed over by an inner body become constants of the result.

    Args:
      closed: the program.
      names: primitive names treated as calls (their ``jaxpr`` param is inlined).
    Returns:
      an equivalent ClosedJaxpr without call equations.

    Example:
      >>> inline_calls(fx.make_jaxpr(fx.jit(lambda x: x + 1))(1.0))  # no jit eqn left
    """
    constvars = list(closed.jaxpr.constvars)
    consts = list(closed.consts)
    eqns: list[JaxprEqn] = []
    subst = _Subst()
    changed = False
    for eqn in closed.jaxpr.eqns:
        pname = eqn.primitive.name
        if pname in _IDENTITIES and len(eqn.invars) == len(eqn.outvars):
            changed = True
            for o, v in zip(eqn.outvars, eqn.invars):
                if not isinstance(o, DropVar):
                    subst.set(o, subst(v))
            continue
        inner = eqn.params.get(_CALL_BODIES.get(pname, "jaxpr")) if pname in names else None
        if pname == "remat2" and eqn.params.get("ref_replay"):
            inner = None  # reads and writes refs around its body: runs as its own impl
        call_invars = eqn.invars
        if pname == "custom_linear_solve":   # its primal: solve(solve's consts, b)
            lengths = eqn.params["const_lengths"]
            start, total = lengths.matvec + lengths.vecmat, sum(lengths)
            call_invars = eqn.invars[start:start + lengths.solve] + eqn.invars[total:]
            inner = inner.solve
        if not isinstance(inner, (ClosedJaxpr, Jaxpr)):
            eqns.append(eqn.replace(invars=[subst(v) for v in eqn.invars]))
            continue
        changed = True
        inner_closed = inner if isinstance(inner, ClosedJaxpr) else _closed(inner, [])
        inner_closed = inline_calls(inner_closed, names)
        env = _Subst()
        for v, c in zip(inner_closed.jaxpr.constvars, inner_closed.consts):
            fresh = Var(v.aval)
            constvars.append(fresh)
            consts.append(c)
            env.set(v, fresh)
        for v, a in zip(inner_closed.jaxpr.invars, call_invars):
            env.set(v, subst(a))
        for e in inner_closed.jaxpr.eqns:
            outs = [DropVar(o.aval) if isinstance(o, DropVar) else Var(o.aval)
                    for o in e.outvars]
            for o, n in zip(e.outvars, outs):
                env.set(o, n)
            eqns.append(e.replace(invars=[env(v) for v in e.invars], outvars=outs))
        for o, inner_out in zip(eqn.outvars, inner_closed.jaxpr.outvars):
            if not isinstance(o, DropVar):
                subst.set(o, env(inner_out))
    if not changed:
        return closed
    outvars = [subst(v) for v in closed.jaxpr.outvars]
    return _rebuild(closed, eqns, outvars, constvars, consts)


# ---------------------------------------------------------------------------
# dead code


def dce(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Drop equations whose outputs nobody reads (effectful ones stay) and unused consts.

    Args:
      closed: the program.
    Returns:
      an equivalent ClosedJaxpr; invars are kept even when unused.

    Example:
      >>> dce(fx.make_jaxpr(lambda x: (x * 2, x + 1)[1])(1.0))  # the mul is gone
    """
    jaxpr = closed.jaxpr
    live = {id(v) for v in jaxpr.outvars if isinstance(v, Var)}
    kept = []
    rewritten = False
    for eqn in reversed(jaxpr.eqns):
        used_outs = [not isinstance(o, DropVar) and id(o) in live for o in eqn.outvars]
        effectful = pe.eqn_is_effectful(eqn)
        if not effectful and not any(used_outs):
            continue
        if not effectful and not all(used_outs) and eqn.primitive.dce is not None:
            # a loop/cond whose outputs are partly read: its own rule drops what feeds
            # only the unread ones (scan's unused ys and carries, cond's branches' outputs)
            _, smaller = eqn.primitive.dce(used_outs, eqn)
            if smaller is not None and smaller is not eqn:
                eqn, rewritten = smaller, True
        kept.append(eqn)
        live.update(id(v) for v in eqn.invars if isinstance(v, Var))
    kept.reverse()
    keep_const = [id(v) in live for v in jaxpr.constvars]
    constvars = [v for v, k in zip(jaxpr.constvars, keep_const) if k]
    consts = [c for c, k in zip(closed.consts, keep_const) if k]
    if not rewritten and len(kept) == len(jaxpr.eqns) and \
            len(constvars) == len(jaxpr.constvars):
        return closed
    return _rebuild(closed, kept, constvars=constvars, consts=consts)


# ---------------------------------------------------------------------------
# common subexpressions


def _atom_key(atom):
    if isinstance(atom, Literal):
        val = np.asarray(atom.val, atom.aval.dtype)
        return ("lit", atom.aval.dtype.str, val.tobytes())
    return ("var", id(atom))


def _params_key(params):
    try:
        key = tuple(sorted(params.items()))
        hash(key)
        return key
    except TypeError:
        return None


def cse(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Merge equations that apply the same primitive and params to the same operands.

    Args:
      closed: the program.
    Returns:
      an equivalent ClosedJaxpr where each distinct computation appears once.

    Example:
      >>> cse(fx.make_jaxpr(lambda x: jnp.sin(x) + jnp.sin(x))(1.0))  # one sin left
    """
    subst = _Subst()
    seen: dict = {}
    eqns = []
    changed = False
    for eqn in closed.jaxpr.eqns:
        invars = [subst(v) for v in eqn.invars]
        if invars != eqn.invars:
            eqn = eqn.replace(invars=invars)
        pkey = None if eqn.primitive.effectful else _params_key(eqn.params)
        if pkey is None:
            eqns.append(eqn)
            continue
        key = (eqn.primitive, pkey, tuple(_atom_key(v) for v in invars))
        prev = seen.get(key)
        if prev is not None and all(
                _same_type(a.aval, b.aval) and not (isinstance(a, DropVar)
                                                     and not isinstance(b, DropVar))
                for a, b in zip(prev.outvars, eqn.outvars)):
            changed = True
            for o, p in zip(eqn.outvars, prev.outvars):
                if not isinstance(o, DropVar):
                    subst.set(o, p)
            continue
        if prev is None:
            seen[key] = eqn
        eqns.append(eqn)
    if not changed:
        return closed
    return _rebuild(closed, eqns, [subst(v) for v in closed.jaxpr.outvars])


# ---------------------------------------------------------------------------
# constant folding


def fold_constants(closed: ClosedJaxpr, limit: int = FOLD_LIMIT) -> ClosedJaxpr:
    """Turn rank-0 constants into literals and evaluate equations on small constants.

    An equation whose operands are all literals or constants of at most ``limit``
    elements, and whose results are that small too, runs its eager impl now: rank-0
    results become literals, others small constants. Large constants stay buffers.

    Args:
      closed: the program.
      limit: the largest number of elements folded into the program.
    Returns:
      an equivalent ClosedJaxpr.

    Example:
      >>> fold_constants(fx.make_jaxpr(lambda x: x * (np.float32(2) + 1))(1.0))
    """
    jaxpr = closed.jaxpr
    subst = _Subst()
    known: dict[int, np.ndarray] = {}
    constvars, consts = [], []
    changed = False
    for v, c in zip(jaxpr.constvars, closed.consts):
        value = _to_numpy(c)
        if value.shape == () and value.dtype == v.aval.dtype:
            subst.set(v, _make_literal(value, v.aval))
            changed = True
            continue
        if value.size <= limit:
            known[id(v)] = value
        constvars.append(v)
        consts.append(c)
    eqns = []
    for eqn in jaxpr.eqns:
        invars = [subst(v) for v in eqn.invars]
        eqn = eqn.replace(invars=invars) if invars != eqn.invars else eqn
        values = [_literal_value(v) if isinstance(v, Literal) else known.get(id(v))
                  for v in invars]
        small_out = all(o.aval.size <= limit for o in eqn.outvars)
        # equations without operands may read their context (axis_index under pmap, ...):
        # only iota is known to be a constant
        if (any(x is None for x in values) or not small_out or eqn.primitive.effectful
                or (not invars and eqn.primitive.name not in _FOLDABLE_NULLARY)
                or eqn.primitive.subjaxprs(eqn.params) or eqn.primitive.impl_rule is None
                or any(o.aval.dtype.kind == "V" for o in eqn.outvars)):
            eqns.append(eqn)
            continue
        try:
            out = eqn.primitive.impl(*values, **eqn.params)
        except Exception:  # leave it to run time, where the error surfaces as in eager
            eqns.append(eqn)
            continue
        outs = out if eqn.primitive.multiple_results else [out]
        outs = [np.asarray(o) for o in outs]
        if any(o.shape != v.aval.shape or o.dtype != v.aval.dtype
               for o, v in zip(outs, eqn.outvars)):
            eqns.append(eqn)
            continue
        changed = True
        for v, o in zip(eqn.outvars, outs):
            if isinstance(v, DropVar):
                continue
            if o.shape == ():
                subst.set(v, _make_literal(o, v.aval))
            else:
                fresh = Var(v.aval)
                constvars.append(fresh)
                consts.append(np.require(o, requirements="C"))
                known[id(fresh)] = o
                subst.set(v, fresh)
    if not changed:
        return closed
    new = _rebuild(closed, eqns, [subst(v) for v in jaxpr.outvars], constvars, consts)
    return dce(new)


# ---------------------------------------------------------------------------
# rewriting driver: rule(eqn, producer) -> None (keep) | atom (replace) | new eqns


def _use_counts(jaxpr) -> dict[int, int]:
    uses: dict[int, int] = {}
    for e in jaxpr.eqns:
        for v in e.invars:
            if isinstance(v, Var):
                uses[id(v)] = uses.get(id(v), 0) + 1
    for v in jaxpr.outvars:
        if isinstance(v, Var):
            uses[id(v)] = uses.get(id(v), 0) + 1
    return uses


def _rewrite(closed: ClosedJaxpr, rule: Callable) -> ClosedJaxpr:
    subst = _Subst()
    producer: dict[int, JaxprEqn] = {}
    eqns = []
    changed = False
    for eqn in closed.jaxpr.eqns:
        invars = [subst(v) for v in eqn.invars]
        if invars != eqn.invars:
            eqn = eqn.replace(invars=invars)
        result = rule(eqn, producer)
        if result is None:
            eqns.append(eqn)
            for o in eqn.outvars:
                producer[id(o)] = eqn
            continue
        changed = True
        if isinstance(result, (Var, Literal)):
            out = eqn.outvars[0]
            assert _same_type(result.aval, out.aval), (eqn, result)
            subst.set(out, result)
            continue
        for new in result:
            eqns.append(new)
            for o in new.outvars:
                producer[id(o)] = new
    if not changed:
        return closed
    return _rebuild(closed, eqns, [subst(v) for v in closed.jaxpr.outvars])


def _is_value(atom, producer, value) -> bool:
    """Whether ``atom`` is a literal equal to ``value`` (or a broadcast of one)."""
    while isinstance(atom, Var):
        eqn = producer.get(id(atom))
        if eqn is None or eqn.primitive.name != "broadcast_in_dim":
            return False
        atom = eqn.invars[0]
    lit = _literal_value(atom)
    if lit is None or lit.dtype.kind not in "biuf":
        return False
    return bool(lit == value)


def _scalar_source(atom, producer):
    """The rank-0 atom that ``atom`` broadcasts, or None."""
    eqn = producer.get(id(atom)) if isinstance(atom, Var) else None
    if eqn is not None and eqn.primitive.name == "broadcast_in_dim":
        src = eqn.invars[0]
        if src.aval.shape == ():
            return src
    return None


# ---------------------------------------------------------------------------
# algebraic simplification


def _algebra_rule(eqn, producer):
    name = eqn.primitive.name
    out = eqn.outvars[0] if eqn.outvars else None
    if out is None or isinstance(out, DropVar) and not eqn.primitive.multiple_results:
        return None
    if name in ("mul", "add", "add_any", "sub", "div", "or", "and"):
        x, y = eqn.invars
        if name == "and" and out.aval.dtype != np.bool_:
            return None
        unit = {"mul": 1, "div": 1, "add": 0, "add_any": 0, "sub": 0, "or": 0, "and": 1}[name]
        fits = lambda a: _same_type(a.aval, out.aval)  # noqa: E731
        if _is_value(y, producer, unit) and fits(x):
            return x
        if name not in ("sub", "div") and _is_value(x, producer, unit) and fits(y):
            return y
        return None
    if name == "neg":
        src = producer.get(id(eqn.invars[0])) if isinstance(eqn.invars[0], Var) else None
        if src is not None and src.primitive.name == "neg":
            return src.invars[0]
        return None
    if name == "select_n":
        cases = eqn.invars[1:]
        first = cases[0]
        if all(c is first for c in cases) and _same_type(first.aval, out.aval):
            return first
        return None
    if name in ("copy", "stop_gradient", "optimization_barrier_identity"):
        return eqn.invars[0] if _same_type(eqn.invars[0].aval, out.aval) else None
    return None


def simplify_algebra(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Remove identities: ``x*1``, ``1*x``, ``x/1``, ``x+0``, ``x-0``, ``neg(neg x)``,
    ``select_n(p, x, x)``, ``copy``/``stop_gradient`` (no-ops once differentiated).

    Args:
      closed: the program.
    Returns:
      an equivalent ClosedJaxpr.

    Example:
      >>> simplify_algebra(fx.make_jaxpr(lambda x: x * 1.0 + 0.0)(1.0))  # no equations
    """
    return _rewrite(closed, _algebra_rule)


# ---------------------------------------------------------------------------
# shape simplification

#: binary elementwise primitives whose operands may be rank-0 (broadcast implicitly)
SCALAR_OPERAND_PRIMITIVES = frozenset({
    "add", "sub", "mul", "div", "rem", "max", "min", "pow", "atan2", "nextafter", "and",
    "or", "xor", "eq", "ne", "lt", "le", "gt", "ge", "shift_left", "shift_right_arithmetic",
    "shift_right_logical", "add_any"})


def _shape_rule(eqn, producer):
    name = eqn.primitive.name
    p = eqn.params
    if not eqn.outvars:
        return None
    out = eqn.outvars[0]
    x = eqn.invars[0] if eqn.invars else None
    src = producer.get(id(x)) if isinstance(x, Var) else None
    if name == "transpose":
        perm = tuple(p["permutation"])
        if perm == tuple(range(len(perm))):
            return x
        if src is not None and src.primitive.name == "transpose":
            inner = tuple(src.params["permutation"])
            composed = tuple(inner[i] for i in perm)
            if composed == tuple(range(len(composed))):
                return src.invars[0]
            return [eqn.replace(invars=[src.invars[0]], params=dict(p, permutation=composed))]
        return None
    if name == "reshape":
        if p.get("dimensions") is not None:
            return None
        if x.aval.shape == out.aval.shape:
            return x
        if src is not None and src.primitive.name == "reshape" and \
                src.params.get("dimensions") is None:
            if src.invars[0].aval.shape == out.aval.shape:
                return src.invars[0]
            return [eqn.replace(invars=[src.invars[0]])]
        scalar = _scalar_source(x, producer)
        if scalar is not None:
            return [eqn.replace(primitive=src.primitive, invars=[scalar], params=dict(
                src.params, shape=tuple(out.aval.shape), broadcast_dimensions=()))]
        if src is not None and src.primitive.name == "broadcast_in_dim" and \
                src.invars[0].aval.size == x.aval.size:
            # a broadcast that only inserts size-1 dims (keepdims) is a reshape
            inner = src.invars[0]
            if inner.aval.shape == out.aval.shape:
                return inner
            return [eqn.replace(invars=[inner])]
        if src is not None and src.primitive.name == "broadcast_in_dim":
            folded = _unit_reshape_of_broadcast(src, x.aval.shape, out.aval.shape)
            if folded is not None:
                return [eqn.replace(primitive=src.primitive, invars=[src.invars[0]],
                                    params=dict(src.params, shape=tuple(out.aval.shape),
                                                broadcast_dimensions=folded))]
        return None
    if name == "broadcast_in_dim":
        dims = tuple(p["broadcast_dimensions"])
        if x.aval.shape == out.aval.shape and dims == tuple(range(len(dims))):
            return x
        if src is not None and src.primitive.name == "broadcast_in_dim":
            inner = tuple(src.params["broadcast_dimensions"])
            composed = tuple(dims[d] for d in inner)
            return [eqn.replace(invars=[src.invars[0]],
                                params=dict(p, broadcast_dimensions=composed))]
        return None
    if name == "dot_general":
        return _absorb_operand_transposes(eqn, producer)
    if name in SCALAR_OPERAND_PRIMITIVES and len(eqn.invars) == 2:
        ins = list(eqn.invars)
        changed = False
        for i in (0, 1):
            other = ins[1 - i]
            scalar = _scalar_source(ins[i], producer)
            if scalar is not None and other.aval.shape == out.aval.shape and \
                    scalar.aval.dtype == ins[i].aval.dtype:
                ins[i] = scalar
                changed = True
                break
        return [eqn.replace(invars=ins)] if changed else None
    return None


def _unit_reshape_of_broadcast(bcast, shape, new_shape):
    """The broadcast dimensions of ``bcast`` (a broadcast_in_dim to ``shape``) followed by
    a reshape to ``new_shape`` that only drops or inserts size-1 dims, as one broadcast;
    None when the reshape does more, or an operand dim lands on a size-1 dim."""
    nz = [i for i, d in enumerate(shape) if d != 1]
    new_nz = [j for j, d in enumerate(new_shape) if d != 1]
    if [shape[i] for i in nz] != [new_shape[j] for j in new_nz]:
        return None
    moved = dict(zip(nz, new_nz))
    dims = bcast.params["broadcast_dimensions"]
    if any(d not in moved for d in dims):
        return None  # an operand dim on a size-1 dim the reshape may move or drop
    return tuple(moved[d] for d in dims)


def _dot_axes(eqn, lhs_ndim, rhs_ndim):
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    lc, rc, lb, rb = (tuple(int(a) for a in t) for t in (lc, rc, lb, rb))
    lf = tuple(d for d in range(lhs_ndim) if d not in lc and d not in lb)
    rf = tuple(d for d in range(rhs_ndim) if d not in rc and d not in rb)
    return lc, rc, lb, rb, lf, rf


def _absorb_operand_transposes(eqn, producer):
    """``dot_general(transpose(x), y)`` reads x directly when the free axes keep their
    order (the product's output layout is unchanged)."""
    from primitives.linalg import dot_dimension_numbers
    ins = list(eqn.invars)
    lhs_ndim, rhs_ndim = ins[0].aval.ndim, ins[1].aval.ndim
    lc, rc, lb, rb, lf, rf = _dot_axes(eqn, lhs_ndim, rhs_ndim)
    changed = False
    for side in (0, 1):
        src = producer.get(id(ins[side])) if isinstance(ins[side], Var) else None
        if src is None or src.primitive.name != "transpose":
            continue
        perm = tuple(src.params["permutation"])
        contract, batch, free = (lc, lb, lf) if side == 0 else (rc, rb, rf)
        if [perm[d] for d in free] != sorted(perm[d] for d in free):
            continue
        contract = tuple(perm[d] for d in contract)
        batch = tuple(perm[d] for d in batch)
        if side == 0:
            lc, lb = contract, batch
        else:
            rc, rb = contract, batch
        ins[side] = src.invars[0]
        changed = True
    if not changed:
        return None
    dn = dot_dimension_numbers(lc, rc, lb, rb)
    return [eqn.replace(invars=ins, params=dict(eqn.params, dimension_numbers=dn))]


def _swap_transposed_product(eqn, producer, uses):
    """``transpose(dot_general(x, y))`` that swaps the two free blocks is
    ``dot_general(y, x)`` (when the product has no other reader)."""
    from primitives.linalg import dot_dimension_numbers
    x = eqn.invars[0]
    src = producer.get(id(x)) if isinstance(x, Var) else None
    if src is None or src.primitive.name != "dot_general" or uses.get(id(x), 0) != 1:
        return None
    lhs, rhs = src.invars
    lc, rc, lb, rb, lf, rf = _dot_axes(src, lhs.aval.ndim, rhs.aval.ndim)
    nb, nl, nr = len(lb), len(lf), len(rf)
    swapped = tuple(range(nb)) + tuple(range(nb + nl, nb + nl + nr)) + \
        tuple(range(nb, nb + nl))
    if tuple(eqn.params["permutation"]) != swapped or nl == 0 or nr == 0:
        return None
    dn = dot_dimension_numbers(rc, lc, rb, lb)
    return [src.replace(invars=[rhs, lhs], outvars=eqn.outvars,
                        params=dict(src.params, dimension_numbers=dn))]


def simplify_shapes(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Fold shape chains: transpose of a transpose, reshape of a reshape, broadcast of a
    broadcast, identity transposes/reshapes/broadcasts, broadcasts of scalars used
    by binary elementwise operations (which broadcast rank-0 operands themselves),
    transposed operands of ``dot_general`` (read through its dimension numbers) and
    transposed products (``(x @ y).T`` is ``y.T @ x.T``, one product with swapped operands).

    Args:
      closed: the program.
    Returns:
      an equivalent ClosedJaxpr.

    Example:
      >>> simplify_shapes(fx.make_jaxpr(lambda x: x.T.T)(np.ones((2, 3))))  # no eqns
    """
    uses = _use_counts(closed.jaxpr)

    def rule(eqn, producer):
        if eqn.primitive.name == "transpose":
            swapped = _swap_transposed_product(eqn, producer, uses)
            if swapped is not None:
                return swapped
        return _shape_rule(eqn, producer)
    return _rewrite(closed, rule)


# ---------------------------------------------------------------------------
# conversions


def _lossless(src: np.dtype, dst: np.dtype) -> bool:
    try:
        return bool(np.can_cast(src, dst, "safe"))
    except TypeError:
        return False


def _convert_rule(eqn, producer):
    if eqn.primitive.name != "convert_element_type":
        return None
    x, out = eqn.invars[0], eqn.outvars[0]
    if x.aval.dtype == out.aval.dtype:
        return x
    src = producer.get(id(x)) if isinstance(x, Var) else None
    if src is not None and src.primitive.name == "convert_element_type":
        origin = src.invars[0]
        if _lossless(origin.aval.dtype, x.aval.dtype):
            if origin.aval.dtype == out.aval.dtype:
                return origin
            return [eqn.replace(invars=[origin])]
    return None


def simplify_converts(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Drop conversions to the same dtype and merge chains ``convert(convert(x, a), b)``
    whose first step is exact (so the result is ``convert(x, b)``, or ``x``).

    Args:
      closed: the program.
    Returns:
      an equivalent ClosedJaxpr.

    Example:
      >>> simplify_converts(fx.make_jaxpr(
      ...     lambda x: x.astype(jnp.float64).astype(jnp.float32))(1.0))  # no eqns
    """
    return _rewrite(closed, _convert_rule)


# ---------------------------------------------------------------------------
# canonical forms


def _canonical_rule(eqn, producer):
    name = eqn.primitive.name
    if name in ("squeeze", "expand_dims"):
        reshape = _primitive("reshape")
        out = eqn.outvars[0]
        return [eqn.replace(primitive=reshape, params=dict(
            new_sizes=tuple(out.aval.shape), dimensions=None, sharding=None))]
    return None


_PRIMS: dict[str, object] = {}


def _primitive(name):
    prim = _PRIMS.get(name)
    if prim is None:
        import primitives
        prim = _PRIMS[name] = primitives.registry[name]
    return prim


def canonicalize(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Rewrite ``squeeze`` and ``expand_dims`` as ``reshape`` (one shape op to fuse).

    Args:
      closed: the program.
    Returns:
      an equivalent ClosedJaxpr.

    Example:
      >>> canonicalize(fx.make_jaxpr(lambda x: x[None])(np.ones(3)))  # a reshape
    """
    return _rewrite(closed, _canonical_rule)


# ---------------------------------------------------------------------------
# the pipeline


def optimize(closed: ClosedJaxpr, debug: Callable[[str, ClosedJaxpr], None] | None = None
             ) -> ClosedJaxpr:
    """The whole pass pipeline: inline, hoist scans' carry-free products, make implicit
    size-1 broadcasts explicit, canonicalize, fold, simplify, CSE, DCE.

    Args:
      closed: the program.
      debug: called as ``debug(pass_name, result)`` after each pass (for FX_DEBUG).
    Returns:
      an equivalent, simpler ClosedJaxpr.

    Example:
      >>> optimize(fx.make_jaxpr(fx.jit(lambda x: x * 1.0))(1.0))  # { lambda ; a. in (a,) }
    """
    from lowering.dirichlet_rewrite import fuse_dirichlet
    from lowering.div_rewrite import rewrite_divisions
    from lowering.scan_hoist import hoist_scan_products
    pipeline = [("inline_calls", inline_calls), ("fuse_dirichlet", fuse_dirichlet),
                ("hoist_scan_products", hoist_scan_products),
                ("explicit_broadcasts", explicit_broadcasts), ("canonicalize", canonicalize),
                ("fold_constants", fold_constants), ("rewrite_divisions", rewrite_divisions)]
    simplify = [("simplify_converts", simplify_converts), ("simplify_algebra", simplify_algebra),
                ("simplify_shapes", simplify_shapes), ("cse", cse), ("dce", dce)]
    for name, fn in pipeline + simplify + simplify:
        new = fn(closed)
        if debug is not None and new is not closed:
            debug(name, new)
        closed = new
    return closed


# explicit_broadcasts lives in lowering/broadcast_rewrite.py (imported last: it calls back
# into this module's rewriting driver)
from lowering.broadcast_rewrite import explicit_broadcasts  # noqa: E402
