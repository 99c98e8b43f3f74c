"""Jaxpr surgery and type checks shared by the control-flow primitives.

Invariants: helpers here never mutate a jaxpr; they build new ``Jaxpr`` /
``ClosedJaxpr`` objects that share ``Var``s and equations with the original
(safe, since jaxprs are immutable once built). Type comparisons between loop
carries or branch outputs look at shape and dtype only: weak types are joined,
as in JAX.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from fx import core
from fx.core import ClosedJaxpr, Jaxpr, ShapedArray, Var


def compile_closed(closed: ClosedJaxpr):
    """The reference executable of ``closed`` (cached on the jaxpr object)."""
    from fx.interpreters.jit import compile_jaxpr
    # (a loop body's flags can flip with the last bit of a float: FX_CHECK_COMPILED
    # compares whole programs, not the bodies eager loops run)
    return compile_jaxpr(closed, verify=False)


def as_operands(args: Sequence[Any], avals: Sequence[ShapedArray]) -> list[np.ndarray]:
    """``args`` as NumPy arrays of the dtypes the avals say (Python scalars included)."""
    out = []
    for a, aval in zip(args, avals):
        if type(a) is not np.ndarray or a.dtype != aval.dtype:
            a = np.asarray(a, dtype=aval.dtype)
        out.append(a)
    return out


def typed(args: Sequence[Any], avals: Sequence[ShapedArray]) -> list:
    """``args`` with Python scalars replaced by NumPy scalars of the avals' dtypes (so
    rules that broadcast them build arrays of the right type)."""
    return [np.asarray(a, aval.dtype)[()] if isinstance(a, (bool, int, float, complex))
            else a for a, aval in zip(args, avals)]


def split_list(values: Sequence[Any], sizes: Sequence[int]) -> list[list]:
    """``values`` cut into consecutive pieces of the given sizes (plus the rest)."""
    pieces, start = [], 0
    for n in sizes:
        pieces.append(list(values[start:start + n]))
        start += n
    pieces.append(list(values[start:]))
    return pieces


def same_type(a: ShapedArray, b: ShapedArray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype


def mismatch_reason(a: ShapedArray, b: ShapedArray) -> str:
    """Why ``a`` and ``b`` differ, in JAX's words."""
    if a.shape != b.shape and a.dtype != b.dtype:
        return "so the shapes and dtypes do not match"
    if a.shape != b.shape:
        return "so the shapes do not match"
    return "so the dtypes do not match"


def type_name(aval: ShapedArray) -> str:
    """``float32[3]``: the type as JAX writes it in error messages."""
    return f"{aval.dtype.name}[{','.join(map(str, aval.shape))}]"


def join_weak(avals: Sequence[ShapedArray]) -> ShapedArray:
    """The first aval, weak only when all of ``avals`` are weak."""
    first = avals[0]
    weak = all(a.weak_type for a in avals)
    return first if first.weak_type == weak else first.update(weak_type=weak)


def check_operands(what: str, expected: Sequence[ShapedArray], got: Sequence[ShapedArray]
                   ) -> None:
    """Raise TypeError when operand types ``got`` do not match a jaxpr's ``expected``."""
    if len(expected) != len(got):
        raise TypeError(f"{what} takes {len(expected)} operands, got {len(got)}")
    for i, (e, g) in enumerate(zip(expected, got)):
        if not same_type(e, g):
            raise TypeError(f"{what}: operand {i} has type {type_name(g)} but the jaxpr "
                            f"expects {type_name(e)}")


def check_carry(what: str, carry_in: Sequence[ShapedArray],
                carry_out: Sequence[ShapedArray]) -> None:
    """Raise TypeError naming every carry component whose type changes in one step."""
    if len(carry_in) != len(carry_out):
        raise TypeError(f"{what} body function carry input and carry output must have the "
                        f"same number of components, got {len(carry_in)} and "
                        f"{len(carry_out)}")
    bad = [f"the input carry component {i} has type {type_name(a)} but the corresponding "
           f"output carry component has type {type_name(b)}, {mismatch_reason(a, b)}"
           for i, (a, b) in enumerate(zip(carry_in, carry_out)) if not same_type(a, b)]
    if bad:
        raise TypeError(f"{what} body function carry input and carry output must have equal "
                        "types, but they differ:\n\n" + "\n".join(f"  * {b};" for b in bad))


# ---------------------------------------------------------------------------
# building new jaxprs from old ones


def make_closed(closed: ClosedJaxpr, invars=None, outvars=None) -> ClosedJaxpr:
    """A copy of ``closed`` with other invars and/or outvars (same equations)."""
    j = closed.jaxpr
    new = Jaxpr(j.constvars, j.invars if invars is None else invars,
                j.outvars if outvars is None else outvars, j.eqns, j.debug_info)
    return ClosedJaxpr(new, closed.consts)


def permute_invars(closed: ClosedJaxpr, order: Sequence[int]) -> ClosedJaxpr:
    """``closed`` taking its inputs in ``order`` (new input k is old input order[k])."""
    invars = closed.jaxpr.invars
    assert sorted(order) == list(range(len(invars)))
    return make_closed(closed, invars=[invars[i] for i in order])


def permute_outvars(closed: ClosedJaxpr, order: Sequence[int]) -> ClosedJaxpr:
    """``closed`` returning its outputs in ``order``."""
    outvars = closed.jaxpr.outvars
    assert sorted(order) == list(range(len(outvars)))
    return make_closed(closed, outvars=[outvars[i] for i in order])


def insert_unused_invars(closed: ClosedJaxpr, position: int,
                         avals: Sequence[ShapedArray]) -> ClosedJaxpr:
    """``closed`` with extra inputs (of ``avals``) it ignores, inserted at ``position``."""
    invars = list(closed.jaxpr.invars)
    invars[position:position] = [Var(a) for a in avals]
    return make_closed(closed, invars=invars)


def keep_outputs(closed: ClosedJaxpr, keep: Sequence[bool]) -> ClosedJaxpr:
    """``closed`` returning only the outputs marked in ``keep``; dead equations dropped.

    The inputs stay as they are (unused ones included)."""
    from fx.interpreters import partial_eval as pe
    j = closed.jaxpr
    dced, _ = pe.dce_jaxpr(j, list(keep), rules=True)
    return ClosedJaxpr(Jaxpr(j.constvars, j.invars, dced.outvars, dced.eqns, j.debug_info),
                       closed.consts)


def has_effects(closed: ClosedJaxpr) -> bool:
    """Whether ``closed`` (or a jaxpr nested in it) has an effectful equation (which
    dead-code elimination must keep)."""
    for eqn in closed.jaxpr.eqns:
        if eqn.primitive.effectful:
            return True
        for sub in eqn.primitive.subjaxprs(eqn.params) or ():
            if has_effects(sub if isinstance(sub, ClosedJaxpr) else ClosedJaxpr(sub, [])):
                return True
    return False


def trace_closed(fun, in_avals: Sequence[ShapedArray]) -> ClosedJaxpr:
    """Stage ``fun`` (flat args -> flat outs) into a ClosedJaxpr with concrete consts.

    Used by rules, whose functions only read the (concrete) consts of other
    sub-jaxprs, so no outer tracer can be captured."""
    from fx.interpreters import partial_eval as pe
    jaxpr, consts, _ = pe.trace_to_jaxpr(fun, list(in_avals))
    if any(isinstance(c, core.Tracer) for c in consts):
        raise core.JaxprTypeError("a control-flow rule captured an outer tracer")
    return ClosedJaxpr(jaxpr, consts)


def inline(closed: ClosedJaxpr, *args) -> list:
    """Evaluate ``closed`` by binding its equations in the current trace."""
    return core.eval_jaxpr(closed.jaxpr, closed.consts, *args)


def unstack_aval(aval: ShapedArray) -> ShapedArray:
    """The type of one slice along the leading axis."""
    return ShapedArray(aval.shape[1:], aval.dtype, aval.weak_type)


def stack_aval(aval: ShapedArray, length: int) -> ShapedArray:
    return ShapedArray((length,) + aval.shape, aval.dtype, aval.weak_type)


# ---------------------------------------------------------------------------
# JAX's forwarding in lax.scan and lax.while_loop: values a loop body passes through
# unchanged leave the loop


def _forwarded(jaxpr: Jaxpr) -> list:
    """For each output of ``jaxpr``, the index of the input it is (unchanged), or None."""
    position = {id(v): i for i, v in enumerate(jaxpr.invars)}
    return [position.get(id(v)) if isinstance(v, Var) else None for v in jaxpr.outvars]


def _as_output(x):
    """A forwarded operand as a loop output: an fx value (NumPy and Python values become
    Arrays of their canonical type)."""
    if isinstance(x, (core.Tracer, core._array_type[0])):
        return x
    return core.constant_array(x)


def scan_forwarding(body: ClosedJaxpr, operands: list, num_consts: int, num_carry: int):
    """JAX's forwarding in ``scan``: a carry the body returns unchanged becomes a leading
    const (its final value is its initial one), and a ``y`` that is the body's own ``x``
    slice leaves the loop (the stacked ``ys`` are then ``xs`` itself).

    Args:
      body: the loop body (``consts, carry, xs -> carry, ys``) without constvars.
      operands: the scan's operands (consts, initial carry, xs).
      num_consts, num_carry: how many of them are consts and carries.
    Returns:
      ``(body, operands, num_consts, num_carry, finish)`` for the scan to bind, where
      ``finish(outs)`` puts the forwarded values back among its outputs.

    Example:
      >>> # scan(lambda c, x: (c, x * c), c0, xs): c0 becomes a const, the carry is c0
    """
    jaxpr = body.jaxpr
    forwarded = _forwarded(jaxpr)
    first_x = num_consts + num_carry
    moved = [f == num_consts + i for i, f in enumerate(forwarded[:num_carry])]
    ys_from_xs = [f if f is not None and f >= first_x else None
                  for f in forwarded[num_carry:]]
    if not any(moved) and all(f is None for f in ys_from_xs):
        return body, operands, num_consts, num_carry, lambda outs: outs
    consts, carries = operands[:num_consts], operands[num_consts:first_x]
    carry_vars = jaxpr.invars[num_consts:first_x]
    invars = ([v for v, m in zip(carry_vars, moved) if m] + jaxpr.invars[:num_consts]
              + [v for v, m in zip(carry_vars, moved) if not m] + jaxpr.invars[first_x:])
    outvars = ([v for v, m in zip(jaxpr.outvars[:num_carry], moved) if not m]
               + [v for v, f in zip(jaxpr.outvars[num_carry:], ys_from_xs) if f is None])
    new_body = ClosedJaxpr(Jaxpr([], invars, outvars, jaxpr.eqns, jaxpr.debug_info), [])
    moved_vals = [c for c, m in zip(carries, moved) if m]
    new_operands = (moved_vals + consts + [c for c, m in zip(carries, moved) if not m]
                    + operands[first_x:])

    def finish(outs):
        outs = iter(outs)
        carry_out = [_as_output(c) if m else next(outs) for c, m in zip(carries, moved)]
        return carry_out + [next(outs) if f is None else _as_output(operands[f])
                            for f in ys_from_xs]

    return (new_body, new_operands, len(moved_vals) + num_consts,
            num_carry - len(moved_vals), finish)


def while_forwarding(cond: ClosedJaxpr, body: ClosedJaxpr, cond_consts: list,
                     body_consts: list, init: list):
    """JAX's forwarding in ``while_loop``: a carry the body returns unchanged and the
    condition does not read becomes a leading body const (its final value is its initial
    one); the condition loses that input (and any equation no output needs).

    Args:
      cond, body: the condition and body without constvars (consts first, then carry).
      cond_consts, body_consts, init: their consts and the initial carry.
    Returns:
      ``(cond, body, operands, body_nconsts, finish)`` for the loop to bind, where
      ``finish(outs)`` puts the forwarded carries back among its outputs.

    Example:
      >>> # while_loop(lambda c: c[0] < 5, lambda c: (c[0] + 1, c[1]), (0, y)): y a const
    """
    from fx.interpreters import partial_eval as pe
    n_cond, n_body = len(cond_consts), len(body_consts)
    forwarded = _forwarded(body.jaxpr)
    fwd = [f == n_body + i for i, f in enumerate(forwarded)]
    cond_live, used = pe.dce_jaxpr(cond.jaxpr, [True])
    moved = [f and not u for f, u in zip(fwd, used[n_cond:])]
    operands = [*cond_consts, *body_consts, *init]
    if not any(moved):
        return cond, body, operands, n_body, lambda outs: outs
    cj, bj = cond.jaxpr, body.jaxpr
    new_cond = ClosedJaxpr(Jaxpr([], cj.invars[:n_cond] + [
        v for v, m in zip(cj.invars[n_cond:], moved) if not m], cj.outvars, cond_live.eqns,
        cj.debug_info), [])
    carry_vars = bj.invars[n_body:]
    new_body = ClosedJaxpr(Jaxpr(
        [], [v for v, m in zip(carry_vars, moved) if m] + bj.invars[:n_body]
        + [v for v, m in zip(carry_vars, moved) if not m],
        [v for v, m in zip(bj.outvars, moved) if not m], bj.eqns, bj.debug_info), [])
    moved_vals = [c for c, m in zip(init, moved) if m]
    new_operands = [*cond_consts, *moved_vals, *body_consts,
                    *[c for c, m in zip(init, moved) if not m]]

    def finish(outs):
        outs = iter(outs)
        return [_as_output(c) if m else next(outs) for c, m in zip(init, moved)]

    return new_cond, new_body, new_operands, n_body + len(moved_vals), finish


# ---------------------------------------------------------------------------
# refs captured while a rule traces a body (custom rules run by jvp or transpose)


class RefOperands:
    """The refs that custom rules touched while a rule traced a body (``use``, a
    ``fx._ref_scope.RefUse`` or None): the traced jaxpr has one trailing input per ref
    and, after ``written_only``, one trailing output per written ref. A loop threads the
    refs only read as consts and the written ones as carries; ``write_back`` stores the
    final values once the primitive is bound."""

    __slots__ = ("use",)

    def __init__(self, use):
        self.use = use

    @property
    def written(self) -> list:
        return list(self.use.written) if self.use is not None else []

    @property
    def n_read(self) -> int:
        return self.written.count(False)

    @property
    def n_written(self) -> int:
        return self.written.count(True)

    def written_only(self, closed: ClosedJaxpr) -> ClosedJaxpr:
        from fx import _ref_scope
        return _ref_scope.written_only(closed, self.use)

    def read_positions(self, first: int) -> list:
        """The jaxpr input positions of the refs only read (ref inputs start at ``first``)."""
        return [first + k for k, w in enumerate(self.written) if not w]

    def written_positions(self, first: int) -> list:
        return [first + k for k, w in enumerate(self.written) if w]

    def read_values(self) -> list:
        return [v for v, w in zip(self.use.inits, self.written) if not w] if self.use else []

    def written_values(self) -> list:
        return [v for v, w in zip(self.use.inits, self.written) if w] if self.use else []

    def write_back(self, values: Sequence, where: str) -> None:
        if self.use is None:
            return
        from fx import _ref_scope
        _ref_scope.write_back([r for r, w in zip(self.use.refs, self.written) if w], values,
                              where)


def trace_closed_refs(fun, in_avals: Sequence[ShapedArray]):
    """``trace_closed`` for a rule's function that may run custom rules touching refs:
    returns (closed jaxpr with one trailing input per touched ref and one trailing output
    per written ref, their ``RefOperands``)."""
    from fx import _ref_scope
    jaxpr, consts, _, use = _ref_scope.trace_to_jaxpr(fun, list(in_avals))
    if any(isinstance(c, core.Tracer) for c in consts):
        raise core.JaxprTypeError("a control-flow rule captured an outer tracer")
    refs = RefOperands(use)
    return refs.written_only(ClosedJaxpr(jaxpr, consts)), refs
