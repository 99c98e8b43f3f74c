"""Making JAX 0.10's implicit size-1 broadcasting explicit before fusion.

Binary elementwise primitives accept rank-equal operands whose dims are equal or 1 (JAX
0.10's rule, the form ``fx.numpy`` emits). ``explicit_broadcasts`` (run by
``lowering.passes.optimize``, which re-exports it) rewrites each such operand as a
``broadcast_in_dim`` of its non-1 dims to the output's shape, so fusion and both code
generators only ever see rank-0 or full-shape elementwise operands.

Invariants: a pure ``ClosedJaxpr -> ClosedJaxpr`` pass in the manner of
``lowering/passes.py`` (whose rewriting driver it uses): the signature and the values
computed are kept, equations other than the broadcasting elementwise ones are untouched.
``lowering.passes`` is imported at call time, as it imports this module.
"""
from __future__ import annotations

from fx.core import ClosedJaxpr, Var

__all__ = ["explicit_broadcasts"]


def _squeezed(shape) -> tuple:
    return tuple(d for d in shape if d != 1)


def _size1_source(v, producer):
    """The value ``v`` re-shapes by adding or dropping size-1 dims only (through reshapes
    and broadcasts that broadcast nothing, such as a keepdims reduction's), or ``v``."""
    while isinstance(v, Var):
        src = producer.get(id(v))
        if src is None or src.primitive.name not in ("reshape", "broadcast_in_dim") or \
                src.params.get("dimensions") is not None:
            break
        x = src.invars[0]
        if x.aval.size != v.aval.size or _squeezed(x.aval.shape) != _squeezed(v.aval.shape):
            break
        v = x
    return v


def _explicit_broadcast_rule(eqn, producer):
    from lowering import passes
    from primitives.elementwise import IMPLICIT_BROADCASTING
    if eqn.primitive.name not in IMPLICIT_BROADCASTING or not eqn.outvars:
        return None
    shape = tuple(eqn.outvars[0].aval.shape)
    if all(not v.aval.shape or tuple(v.aval.shape) == shape for v in eqn.invars):
        return None
    new_eqns, invars = [], []
    for v in eqn.invars:
        if not v.aval.shape or tuple(v.aval.shape) == shape:
            invars.append(v)
            continue
        # the operand's non-1 dims, read from the value they come from without size-1 dims
        # (reshape of a reshape folds later): broadcast_in_dim[dims=kept](source)
        kept = tuple(i for i, d in enumerate(v.aval.shape) if d != 1)
        src = _size1_source(v, producer)
        if tuple(src.aval.shape) != tuple(v.aval.shape[i] for i in kept):
            squeezed_src = Var(src.aval.update(shape=tuple(v.aval.shape[i] for i in kept)))
            new_eqns.append(eqn.replace(
                primitive=passes._primitive("reshape"), invars=[src], outvars=[squeezed_src],
                params=dict(new_sizes=squeezed_src.aval.shape, dimensions=None,
                            sharding=None)))
            src = squeezed_src
        full = Var(v.aval.update(shape=shape))
        new_eqns.append(eqn.replace(
            primitive=passes._primitive("broadcast_in_dim"), invars=[src], outvars=[full],
            params=dict(shape=shape, broadcast_dimensions=kept, sharding=None)))
        invars.append(full)
    new_eqns.append(eqn.replace(invars=invars))
    return new_eqns


def explicit_broadcasts(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Make JAX 0.10's implicit size-1 broadcasting explicit: an elementwise operand of
    the output's rank with size-1 dims where the output has more becomes a
    ``broadcast_in_dim`` of its non-1 dims to the output's shape, read from the value
    they come from (past a keepdims ``broadcast_in_dim`` or ``x[None]``-style reshape,
    else a reshape dropping the size-1 dims): the form ``fx.numpy`` used to emit, so
    fusion (which reads it through index arithmetic inside the consumer's loop) and its
    cost rules (an expensive value broadcast along outer dims is stored) see the same
    program. Rank-0 operands stay (every backend broadcasts those).

    Args:
      closed: the program.
    Returns:
      an equivalent ClosedJaxpr in which elementwise operands are rank-0 or full-shape.

    Example:
      >>> explicit_broadcasts(fx.make_jaxpr(lax.sub)(np.ones((3, 4)), np.ones((3, 1))))
      >>> # c:f32[3] = reshape b; d:f32[3,4] = broadcast_in_dim[(0,)] c; sub a d
    """
    from lowering import passes
    return passes._rewrite(closed, _explicit_broadcast_rule)
