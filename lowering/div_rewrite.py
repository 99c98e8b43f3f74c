"""XLA's division rewrites, so compiled quotients round as JAX's do (bit for bit).

XLA's algebraic simplifier (what ``jax.jit`` runs on the CPU) turns some float16, float32
and float64 divisions ``a / b`` into multiplications, which round differently from a
division (read off ``jax.jit`` results at JAX 0.10.2; each row is bit-identical there):

- ``b`` a broadcast of a smaller value ``s`` (a rank-0 operand, a size-1 dim or a
  ``broadcast_in_dim``): ``a * broadcast(1 / s)``, the reciprocal rounded to the dtype
  (float16's too); a broadcast that adds no element (a reshape) stays a division;
- ``b`` a constant (a literal, a captured array, a broadcast of either): ``a * (1 / b)``;
- ``b = exp(c)``: ``a * exp(-c)``; ``b = sqrt(c)``: ``a * rsqrt(c)``;
  ``b = rsqrt(c)``: ``a * sqrt(c)``; ``b = pow(c, e)``: ``a * pow(c, -e)``; these apply to
  the reciprocal of a broadcast too (``1 / exp(c)`` is ``exp(-c)``).

A full-shape computed divisor stays a division, and so do bfloat16 (XLA computes it in
float32 before simplifying) and complex quotients (but for a real-valued complex literal
divisor), integer ones and chains (``a / b / c`` is two rewritten divisions, not
``a / (b * c)``). JAX's eager ``div`` (an XLA program of one equation) rewrites a
broadcast or literal divisor the same way.

Invariants: ``rewrite_divisions`` is a pure ``ClosedJaxpr -> ClosedJaxpr`` pass in the
manner of ``lowering/passes.py`` (run by its ``optimize`` after ``fold_constants``, so the
reference interpreter and every backend see the rewritten program): the signature is
kept, equations other than the matched ``div`` are untouched, and the quotient is the one
XLA computes (within an ulp of the division's).
"""
from __future__ import annotations

import numpy as np

from fx.core import ClosedJaxpr, Literal, Var

__all__ = ["rewrite_divisions"]

_REAL_FLOATS = frozenset(np.dtype(t) for t in (np.float16, np.float32, np.float64))
#: divisor producers whose reciprocal XLA computes as another function of the operand:
#: name -> (new primitive, whether its exponent operand is negated)
_RECIPROCAL_FORMS = {"exp": "exp", "sqrt": "rsqrt", "rsqrt": "sqrt", "pow": "pow"}


def _prim(name):
    from lowering import passes
    return passes._primitive(name)


def _literal(value, aval) -> Literal:
    from lowering import passes
    return passes._make_literal(value, aval)


def _is_constant(atom, producer, constvars) -> bool:
    """Whether ``atom`` is a literal, a captured constant or a broadcast of one."""
    while isinstance(atom, Var):
        if id(atom) in constvars:
            return True
        eqn = producer.get(id(atom))
        if eqn is None or eqn.primitive.name != "broadcast_in_dim":
            return False
        atom = eqn.invars[0]
    return True


def _literal_reciprocal(lit: Literal):
    """``1 / lit`` as a literal of its dtype (float16 rounded once, as XLA's constant
    inversion), or None for a complex literal with an imaginary part or a zero."""
    value = np.asarray(lit.val, lit.aval.dtype)
    if value.dtype.kind == "c" and value.imag != 0:
        return None
    with np.errstate(divide="ignore", over="ignore"):
        inverse = np.divide(np.ones((), value.dtype), value)
    return _literal(inverse, lit.aval)


class _Builder:
    """Collects the equations of one rewrite, made after the ``div`` they replace."""

    def __init__(self, eqn):
        self.eqn = eqn
        self.eqns = []

    def emit(self, name, invars, aval, params=None):
        out = Var(aval)
        self.eqns.append(self.eqn.replace(primitive=_prim(name), invars=list(invars),
                                          outvars=[out], params=dict(params or {})))
        return out


def _reciprocal_form(b, producer, build: _Builder):
    """``1 / b`` as XLA rewrites it when ``b`` comes from exp, sqrt, rsqrt or pow, else
    None."""
    src = producer.get(id(b)) if isinstance(b, Var) else None
    if src is None or src.primitive.name not in _RECIPROCAL_FORMS or \
            src.outvars[0].aval.dtype != b.aval.dtype:
        return None
    name = src.primitive.name
    operand = src.invars[0]
    if name == "exp":
        negated = build.emit("neg", [operand], operand.aval)
        return build.emit("exp", [negated], b.aval, src.params)
    if name == "pow":
        exponent = src.invars[1]
        if isinstance(exponent, Literal):
            negated = _literal(-np.asarray(exponent.val), exponent.aval)
        else:
            negated = build.emit("neg", [exponent], exponent.aval)
        return build.emit("pow", [operand, negated], b.aval, src.params)
    return build.emit(_RECIPROCAL_FORMS[name], [operand], b.aval, src.params)


def _reciprocal(s, producer, build: _Builder):
    """``1 / s`` for the value ``s`` a divisor broadcasts: a literal, a broadcast or
    reshape of a reciprocal (XLA simplifies ``1 / broadcast(t)`` again and reads through
    a reshape a broadcast absorbs), an exp/sqrt/rsqrt/pow form or a division."""
    if isinstance(s, Literal):
        inverse = _literal_reciprocal(s)
        if inverse is not None:
            return inverse
    src = producer.get(id(s)) if isinstance(s, Var) else None
    if src is not None and src.primitive.name == "broadcast_in_dim" and \
            src.invars[0].aval.size < s.aval.size:
        inner = _reciprocal(src.invars[0], producer, build)
        return build.emit("broadcast_in_dim", [inner], s.aval, src.params)
    if src is not None and src.primitive.name == "reshape" and \
            src.params.get("dimensions") is None:  # XLA folds it into the broadcast
        inner = _reciprocal(src.invars[0], producer, build)
        return build.emit("reshape", [inner], s.aval, src.params)
    form = _reciprocal_form(s, producer, build)
    if form is not None:
        return form
    one = _literal(1, s.aval.update(shape=(), weak_type=False))
    return build.emit("div", [one, s], s.aval)


def _divide_rule(eqn, producer, constvars):
    if eqn.primitive.name != "div" or not eqn.outvars:
        return None
    a, b = eqn.invars
    out = eqn.outvars[0].aval
    dtype = out.dtype
    real = dtype in _REAL_FLOATS
    if not real and not (dtype.kind == "c" and isinstance(b, Literal)):
        return None
    build = _Builder(eqn)
    if _is_constant(b, producer, constvars):
        if _is_constant(a, producer, constvars):
            return None  # constant folding's business (XLA folds it as a division)
        if isinstance(b, Literal):
            factor = _literal_reciprocal(b)
            if factor is None:
                return None
        else:
            factor = _reciprocal(b, producer, build)
    elif not real:
        return None
    else:
        src = producer.get(id(b)) if isinstance(b, Var) else None
        if not b.aval.shape and out.size > 1:  # a rank-0 operand broadcasts
            factor = _reciprocal(b, producer, build)
        elif src is not None and src.primitive.name == "broadcast_in_dim" and \
                src.invars[0].aval.size < b.aval.size:
            inner = _reciprocal(src.invars[0], producer, build)
            factor = build.emit("broadcast_in_dim", [inner], b.aval, src.params)
        else:
            factor = _reciprocal_form(b, producer, build)
            if factor is None:
                return None
    build.eqns.append(eqn.replace(primitive=_prim("mul"), invars=[a, factor]))
    return build.eqns


def rewrite_divisions(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Rewrite float divisions as XLA's CPU compiler does, so quotients are JAX's bits:
    ``a / broadcast(s)`` -> ``a * broadcast(1 / s)``, ``a / constant`` ->
    ``a * (1 / constant)``, ``a / exp(c)`` -> ``a * exp(-c)``, ``a / sqrt(c)`` ->
    ``a * rsqrt(c)``, ``a / rsqrt(c)`` -> ``a * sqrt(c)``, ``a / pow(c, e)`` ->
    ``a * pow(c, -e)`` (float16, float32 and float64; see the module's docstring).

    Args:
      closed: the program (after ``explicit_broadcasts``: size-1 broadcasting explicit).
    Returns:
      an equivalent ClosedJaxpr whose quotients round as XLA's.

    Example:
      >>> rewrite_divisions(fx.make_jaxpr(lambda x, s: x / s)(np.ones((3, 4)), 2.0))
      >>> # c:f32[] = div 1.0 b; d:f32[3,4] = mul a c
    """
    from lowering import passes
    constvars = frozenset(id(v) for v in closed.jaxpr.constvars)
    return passes._rewrite(closed, lambda eqn, producer: _divide_rule(eqn, producer,
                                                                      constvars))
