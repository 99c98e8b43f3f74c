"""The dirichlet rewrite: JAX's dirichlet program (a softmax of log-space gamma draws)
computed as XLA's CPU backend computes it, so compiled draws are bit-identical to JAX's.

``fx.random.dirichlet`` emits JAX's equations (``random_gamma[log_space=True]``, then
``reduce_max``, ``max -inf``, ``broadcast_in_dim``, ``stop_gradient``, ``sub``, ``exp``,
``reduce_sum``, ``broadcast_in_dim``, ``div`` over the last axis). XLA fuses them and
recomputes each log-gamma draw inside the fusions, with roundings (its own or YNNPACK's
``log``/``exp``, its order of summation, ``e * (1 / sum)``) that only a kernel over the
whole chain reproduces (``fx._random.gamma_xla.dirichlet_f32`` and
``gamma_xla64.dirichlet_f64``). ``fuse_dirichlet`` (run by ``lowering.passes.optimize``
right after ``inline_calls``) finds that chain and replaces it by one
``random_dirichlet`` equation, a lowering-internal primitive whose impl is the kernel
(the CPU and GPU compilers run it as an eager fallback).

float16 and bfloat16 chains sum in float32, as JAX's ``jnp.sum`` does (``convert_element_type``
to float32 before ``reduce_sum`` and back after the keepdims ``broadcast_in_dim``); their
kernel is ``fx._random.gamma_half.dirichlet_half``.

Invariants: a chain is rewritten only when it is exactly that (float16, bfloat16, float32 or
float64, the reduced axis the last one, ``fx.random``'s optional ``broadcast_in_dim`` to the
full shape before ``sub`` and ``div``, or JAX 0.10's size-1 broadcasting there) and no intermediate
(the draws included) has another user; otherwise (under differentiation, say, where the
tangent reads the draws) the composite runs as written, within a few ulps of JAX's
values. The rewrite keeps the program's signature and the equations it does not match.
"""
from __future__ import annotations

import numpy as np

from fx._random.gamma_half import HALF_DTYPES
from fx.core import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, Primitive, ShapedArray, Var

__all__ = ["fuse_dirichlet", "random_dirichlet_p"]

_F32 = np.dtype(np.float32)
_DTYPES = (_F32, np.dtype(np.float64)) + HALF_DTYPES

# random_dirichlet: keys [K..., 2] uint32, a [K..., S..., k] float32/float64 ->
# softmax(random_gamma(keys, a, log_space=True), -1) as XLA computes JAX's program.
# Lowering-internal: made after tracing, never transformed, so it has no jvp or batching
# rule and is not in the primitive registry (the compilers run its impl as a host call).
random_dirichlet_p = Primitive("random_dirichlet")


@random_dirichlet_p.def_abstract_eval
def _abstract_eval(keys, a):
    if keys.dtype != np.uint32 or not keys.shape or keys.shape[-1] != 2:
        raise TypeError(f"random_dirichlet expects raw key data: a uint32 array whose last "
                        f"dimension is 2, got {keys.str_short()}")
    if a.dtype not in _DTYPES:
        raise TypeError(f"random_dirichlet requires float16, bfloat16, float32 or float64 "
                        f"concentrations, got {a.dtype.name}")
    key_shape = keys.shape[:-1]
    if len(a.shape) <= len(key_shape) or a.shape[:len(key_shape)] != key_shape:
        raise TypeError(f"random_dirichlet: the key array's shape {key_shape} must be a proper "
                        f"prefix of a's shape {a.shape}")
    return ShapedArray(a.shape, a.dtype)


@random_dirichlet_p.def_impl
def _impl(keys, a):
    keys = np.asarray(keys, np.uint32)
    a = np.asarray(a)
    if a.dtype == np.float64:
        from fx._random.gamma_xla64 import dirichlet_f64
        return dirichlet_f64(keys, a)
    if a.dtype in HALF_DTYPES:
        from fx._random.gamma_half import dirichlet_half
        return dirichlet_half(keys, a)
    from fx._random.gamma_xla import dirichlet_f32
    return dirichlet_f32(keys, a)


# ---------------------------------------------------------------------------
# matching


class _Graph:
    """Producers, use counts and constant values of one jaxpr's variables."""

    def __init__(self, closed: ClosedJaxpr):
        jaxpr = closed.jaxpr
        self.producer: dict[int, JaxprEqn] = {}
        self.uses: dict[int, int] = {}
        self.consts = {id(v): c for v, c in zip(jaxpr.constvars, closed.consts)}
        for e in jaxpr.eqns:
            for v in e.invars:
                if isinstance(v, Var):
                    self.uses[id(v)] = self.uses.get(id(v), 0) + 1
            for o in e.outvars:
                self.producer[id(o)] = e
        for v in jaxpr.outvars:
            if isinstance(v, Var):
                self.uses[id(v)] = self.uses.get(id(v), 0) + 1

    def made_by(self, atom, name: str, uses: int | None = 1):
        """The equation ``name`` that produces ``atom`` (used exactly ``uses`` times), or
        None."""
        if not isinstance(atom, Var):
            return None
        eqn = self.producer.get(id(atom))
        if eqn is None or eqn.primitive.name != name:
            return None
        if uses is not None and self.uses.get(id(atom), 0) != uses:
            return None
        return eqn

    def scalar(self, atom):
        """The value of a scalar literal or constant (possibly broadcast), else None."""
        while True:
            if isinstance(atom, Literal):
                return np.asarray(atom.val)
            if not isinstance(atom, Var):
                return None
            if id(atom) in self.consts:
                value = np.asarray(getattr(self.consts[id(atom)], "_value",
                                           self.consts[id(atom)]))
                return value if value.size == 1 else None
            eqn = self.producer.get(id(atom))
            if eqn is None or eqn.primitive.name != "broadcast_in_dim":
                return None
            atom = eqn.invars[0]


def _kept_broadcast(g: _Graph, atom, full: tuple, axis: int):
    """The chain of ``broadcast_in_dim`` that takes a reduced value (shape ``full``
    without ``axis``) to ``full`` (or to ``full`` with that axis 1, which JAX's binary
    ops broadcast): ``(source, eqns)`` or None."""
    kept = full[:axis] + (1,) + full[axis + 1:]
    others = tuple(d for d in range(len(full)) if d != axis)
    eqns = []
    if tuple(atom.aval.shape) == full:
        to_full = g.made_by(atom, "broadcast_in_dim")
        if to_full is None or tuple(to_full.params["broadcast_dimensions"]) != \
                tuple(range(len(full))):
            return None
        eqns.append(to_full)
        atom = to_full.invars[0]
    if tuple(atom.aval.shape) != kept:
        return None
    return atom, eqns, kept, others


def _keepdims(g: _Graph, atom, kept: tuple, others: tuple):
    eqn = g.made_by(atom, "broadcast_in_dim")
    if eqn is None or tuple(eqn.params["shape"]) != kept or \
            tuple(eqn.params["broadcast_dimensions"]) != others:
        return None
    return eqn


def _match(g: _Graph, div: JaxprEqn):
    """The equations of a dirichlet chain ending in ``div`` (the ``random_gamma`` one
    first), or None."""
    numer, denom = div.invars
    full = tuple(div.outvars[0].aval.shape)
    if not full or div.outvars[0].aval.dtype not in _DTYPES:
        return None
    axis = len(full) - 1
    exp = g.made_by(numer, "exp", uses=2)
    if exp is None or tuple(numer.aval.shape) != full:
        return None
    # the denominator: broadcast(keepdims(reduce_sum(e)))
    found = _kept_broadcast(g, denom, full, axis)
    if found is None:
        return None
    kept_total, den_eqns, kept, others = found
    half = div.outvars[0].aval.dtype in HALF_DTYPES
    if half:  # the float32 total, converted back: convert_element_type(keepdims(total))
        down = g.made_by(kept_total, "convert_element_type")
        if down is None or down.invars[0].aval.dtype != _F32:
            return None
        den_eqns.insert(0, down)
        kept_total = down.invars[0]
    keep = _keepdims(g, kept_total, kept, others)
    if keep is None:
        return None
    total = g.made_by(keep.invars[0], "reduce_sum")
    if total is None or tuple(total.params["axes"]) != (axis,) or \
            total.params.get("order") is not None:
        return None
    summed = total.invars[0]
    if half:  # reduce_sum(convert_element_type(e, float32))
        up = g.made_by(summed, "convert_element_type")
        if up is None or summed.aval.dtype != _F32:
            return None
        den_eqns.insert(0, up)
        summed = up.invars[0]
    if summed is not numer:
        return None
    # the numerator: exp(x - broadcast(stop_gradient(keepdims(max(-inf, reduce_max(x))))))
    sub = g.made_by(exp.invars[0], "sub")
    if sub is None:
        return None
    x, shift = sub.invars
    found = _kept_broadcast(g, shift, full, axis)
    if found is None:
        return None
    stopped, shift_eqns, _, _ = found
    stop = g.made_by(stopped, "stop_gradient")
    if stop is None:
        return None
    keep_top = _keepdims(g, stop.invars[0], kept, others)
    if keep_top is None:
        return None
    clamp = g.made_by(keep_top.invars[0], "max")
    if clamp is None:
        return None
    top, floor = clamp.invars
    if g.scalar(floor) is None:
        top, floor = floor, top
    value = g.scalar(floor)
    if value is None or not (np.isneginf(value).all()):
        return None
    reduce_max = g.made_by(top, "reduce_max")
    if reduce_max is None or reduce_max.invars[0] is not x or \
            tuple(reduce_max.params["axes"]) != (axis,):
        return None
    gamma = g.made_by(x, "random_gamma", uses=2)
    if gamma is None or not gamma.params.get("log_space"):
        return None
    return [gamma, reduce_max, clamp, keep_top, stop, *shift_eqns, sub, exp, total, keep,
            *den_eqns, div]


def fuse_dirichlet(closed: ClosedJaxpr) -> ClosedJaxpr:
    """``closed`` with each dirichlet chain (``random_gamma[log_space=True]`` and JAX's
    softmax over the last axis, see the module docstring) replaced by one
    ``random_dirichlet`` equation; ``closed`` itself when there is none.

    Example:
      >>> opt = fuse_dirichlet(lowering.passes.inline_calls(
      ...     fx.make_jaxpr(lambda k: fx.random.dirichlet(k, np.ones(3)))(fx.random.key(0))))
      >>> [e.primitive.name for e in opt.jaxpr.eqns]  # doctest: +SKIP
      ['random_dirichlet']
    """
    jaxpr = closed.jaxpr
    if not any(e.primitive.name == "random_gamma" for e in jaxpr.eqns):
        return closed
    g = _Graph(closed)
    replaced: dict[int, JaxprEqn] = {}
    dropped: set[int] = set()
    for eqn in jaxpr.eqns:
        if eqn.primitive.name != "div" or id(eqn) in dropped:
            continue
        chain = _match(g, eqn)
        if chain is None or any(id(e) in dropped for e in chain):
            continue
        gamma = chain[0]
        dropped.update(id(e) for e in chain)
        replaced[id(eqn)] = JaxprEqn(gamma.invars, eqn.outvars, random_dirichlet_p, {},
                                     eqn.source_info)
    if not replaced:
        return closed
    eqns = [replaced.get(id(e), e) for e in jaxpr.eqns
            if id(e) not in dropped or id(e) in replaced]
    new = Jaxpr(jaxpr.constvars, jaxpr.invars, jaxpr.outvars, eqns, jaxpr.debug_info)
    return ClosedJaxpr(new, list(closed.consts))

