"""``reduce``: JAX's variadic reduction primitive with a user computation (a monoid on
scalars, given as a jaxpr), reducing ``dimensions`` of n same-shaped operands.

Invariants: operands are the n arrays then n scalar init values of their dtypes;
``jaxpr`` is a ClosedJaxpr from 2n scalars to n. The eager impl is the generic
``reduce_window`` with the window spanning the reduced dimensions. The jvp reduces
(value, tangent) pairs with the computation's jvp, which is associative whenever the
computation is; batching moves the batch dimension of the operands out of the way.
"""
from __future__ import annotations

from fx.core import ShapedArray, Zero
from fx.interpreters import ad
from primitives import _rules as R
from primitives._rules import new_primitive
from primitives.control_flow_util import permute_invars
from primitives.windowed import reduce_window_p

__all__ = ["reduce_p"]

reduce_p = new_primitive("reduce", multiple_results=True)
reduce_p.subjaxprs = lambda params: [params["jaxpr"]]


@reduce_p.def_abstract_eval
def _reduce_abstract_eval(*avals, computation, jaxpr, dimensions):
    n = len(avals) // 2
    if n == 0 or len(avals) != 2 * n:
        raise TypeError(f"reduce takes operands and as many init values, got {len(avals)} "
                        "arguments")
    operands, inits = avals[:n], avals[n:]
    shape = operands[0].shape
    for o, i in zip(operands, inits):
        if o.shape != shape:
            raise TypeError(f"reduce: operands must have equal shapes, got "
                            f"{[a.shape for a in operands]}")
        if i.shape != () or i.dtype != o.dtype:
            raise TypeError(f"reduce: init value {i.str_short()} must be a scalar of the "
                            f"operand's dtype {o.dtype.name}")
    if any(not 0 <= d < len(shape) for d in dimensions) or len(set(dimensions)) != len(
            dimensions):
        raise ValueError(f"reduce: dimensions {dimensions} are invalid for operands of shape "
                         f"{shape}")
    if len(jaxpr.in_avals) != 2 * n or len(jaxpr.out_avals) != n:
        raise TypeError(f"reduce: the computation must take {2 * n} scalars and return {n}")
    out_shape = tuple(s for i, s in enumerate(shape) if i not in dimensions)
    return [ShapedArray(out_shape, o.dtype) for o in operands]


def _window_params(shape, dimensions) -> dict:
    nd = len(shape)
    return dict(window_dimensions=tuple(shape[i] if i in dimensions else 1 for i in range(nd)),
                window_strides=(1,) * nd, padding=((0, 0),) * nd, base_dilation=(1,) * nd,
                window_dilation=(1,) * nd)


@reduce_p.def_impl
def _reduce_impl(*args, computation, jaxpr, dimensions):
    n = len(args) // 2
    shape = args[0].shape
    outs = reduce_window_p.impl(*args, jaxpr=jaxpr.jaxpr, consts=tuple(jaxpr.consts),
                                **_window_params(shape, dimensions))
    out_shape = tuple(s for i, s in enumerate(shape) if i not in dimensions)
    return [o.reshape(out_shape) for o in outs[:n]]


@reduce_p.def_jvp
def _reduce_jvp(primals, tangents, *, computation, jaxpr, dimensions):
    n = len(primals) // 2
    outs = reduce_p.bind(*primals, computation=computation, jaxpr=jaxpr,
                         dimensions=dimensions)
    if all(type(t) is Zero for t in tangents):
        return outs, [Zero(R.aval_of(o).to_tangent_aval()) for o in outs]
    jvp_j, _ = ad.jvp_jaxpr(jaxpr, [True] * (2 * n), instantiate=True)
    # jvp_j takes (acc[n], val[n], t_acc[n], t_val[n]); the pair reduction wants
    # ((acc, t_acc), (val, t_val))
    order = (list(range(n)) + list(range(2 * n, 3 * n)) + list(range(n, 2 * n))
             + list(range(3 * n, 4 * n)))
    pair_j = permute_invars(jvp_j, order)
    ts = [R.instantiate(t) for t in tangents]
    both = reduce_p.bind(*primals[:n], *ts[:n], *primals[n:], *ts[n:], computation=None,
                         jaxpr=pair_j, dimensions=dimensions)
    return outs, list(both[n:])


@reduce_p.def_batch
def _reduce_batch(args, dims, *, computation, jaxpr, dimensions):
    n = len(args) // 2
    if any(d is not None for d in dims[n:]):
        raise NotImplementedError("Batching rule for 'reduce' with batched init values is "
                                  "not implemented")
    size = R.batch_size(args, dims)
    operands = [R.bdim_to_front(a, d, size) for a, d in zip(args[:n], dims[:n])]
    outs = reduce_p.bind(*operands, *args[n:], computation=computation, jaxpr=jaxpr,
                         dimensions=tuple(d + 1 for d in dimensions))
    return outs, [0] * n
