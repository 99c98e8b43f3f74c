"""Primitives JAX 0.10 has under ``jax.lax`` that fx otherwise builds from others:
``square``, ``mulhi``, the total-order comparisons ``eq_to``/``le_to``/``lt_to``,
``split``, ``tile``, ``stack``, ``unstack``, ``approx_top_k``, the token primitives
``create_token``/``after_all``, ``dce_sink``, ``stage`` and ``rng_uniform``.

Invariants: each block has abstract_eval, a NumPy impl with XLA's semantics, jvp,
transpose (when linear) and batching rule. A token is an empty ``bool[0]`` array (fx
has no separate token type); the token primitives carry no data and no derivative.
``fx.lax``'s wrappers keep emitting the fusible compositions for the shape ops and
``square`` (the code generator knows those); these primitives give ``lax.*_p`` its
meaning for code that binds them directly.
"""
from __future__ import annotations

import numpy as np

from fx import core, dtypes
from fx.core import ShapedArray, Zero
from primitives import _rules as R
from primitives._rules import (ANY, BOOL, FLOAT, INT, NUMERIC, UINT, SINT, check_dtype,
                               new_primitive)
from primitives.elementwise import _const, binary, unary

__all__ = ["square_p", "mulhi_p", "eq_to_p", "le_to_p", "lt_to_p", "split_p", "tile_p",
           "stack_p", "unstack_p", "approx_top_k_p", "create_token_p", "after_all_p",
           "dce_sink_p", "stage_p", "rng_uniform_p", "device_put_p", "sharding_constraint_p",
           "TOKEN_AVAL", "total_order_key"]

# ---------------------------------------------------------------------------
# square and mulhi

square_p = unary("square", np.square, jvp=lambda x, t, y: R.mul(t, R.mul(_const(x, 2), x)),
                 kinds=NUMERIC)
square_p.weak_type_rule = R.operand_is_weak


def _mulhi_impl(x, y):
    x, y = np.asarray(x), np.asarray(y)
    bits = x.dtype.itemsize * 8
    wide = np.dtype(f"{x.dtype.kind}{2 * x.dtype.itemsize}") if bits < 64 else None
    if wide is not None:
        prod = x.astype(wide) * y.astype(wide)
        return (prod >> bits).astype(x.dtype)
    # 64-bit: exact through Python integers
    flat = [(int(a) * int(b)) >> 64 for a, b in zip(x.ravel().tolist(), y.ravel().tolist())]
    mask = (1 << 64) - 1
    out = np.array([v & mask for v in flat], np.uint64).view(x.dtype)
    return out.reshape(np.broadcast_shapes(x.shape, y.shape))


mulhi_p = binary("mulhi", _mulhi_impl, None, kinds=INT)


# ---------------------------------------------------------------------------
# total-order comparisons (floats: -NaN < -inf < ... < -0 < +0 < ... < inf < NaN)


def total_order_key(x: np.ndarray) -> np.ndarray:
    """Signed integers ordered as XLA's total order orders the floats ``x``."""
    x = np.asarray(x)
    if x.dtype.kind not in "f" and x.dtype != dtypes.bfloat16:
        return x
    ints = x.view(np.dtype(f"i{x.dtype.itemsize}"))
    mask = np.array(np.iinfo(ints.dtype).max, ints.dtype)
    return ints ^ ((ints >> (8 * x.dtype.itemsize - 1)) & mask)


def _total_compare(op):
    def impl(x, y):
        x, y = np.asarray(x), np.asarray(y)
        if x.dtype.kind == "c":
            return np.logical_and(op(total_order_key(x.real), total_order_key(y.real)),
                                  op(total_order_key(x.imag), total_order_key(y.imag)))
        return op(total_order_key(x), total_order_key(y))
    return impl


eq_to_p = binary("eq_to", _total_compare(np.equal), None, kinds=ANY,
                 out_dtype=dtypes.bool_)
le_to_p = binary("le_to", _total_compare(np.less_equal), None, kinds=FLOAT + INT + BOOL,
                 out_dtype=dtypes.bool_)
lt_to_p = binary("lt_to", _total_compare(np.less), None, kinds=FLOAT + INT + BOOL,
                 out_dtype=dtypes.bool_)


# ---------------------------------------------------------------------------
# split


split_p = new_primitive("split", multiple_results=True)


@split_p.def_abstract_eval
def _split_abstract_eval(x, *, sizes, axis):
    if not 0 <= axis < len(x.shape):
        raise ValueError(f"split: axis {axis} is out of bounds for an operand of shape "
                         f"{x.shape}")
    if any(s < 0 for s in sizes) or sum(sizes) != x.shape[axis]:
        raise ValueError(f"split: sizes {sizes} must be non-negative and sum to the size "
                         f"{x.shape[axis]} of axis {axis} of the operand of shape {x.shape}")
    return [x.update(shape=x.shape[:axis] + (s,) + x.shape[axis + 1:]) for s in sizes]


@split_p.def_impl
def _split_impl(x, *, sizes, axis):
    return np.split(np.asarray(x), np.cumsum(sizes)[:-1], axis=axis)


@split_p.def_jvp
def _split_jvp(primals, tangents, *, sizes, axis):
    outs = split_p.bind(primals[0], sizes=sizes, axis=axis)
    t = tangents[0]
    if type(t) is Zero:
        return outs, [Zero(R.aval_of(o).to_tangent_aval()) for o in outs]
    return outs, split_p.bind(t, sizes=sizes, axis=axis)


@split_p.def_transpose
def _split_transpose(cts, x, *, sizes, axis):
    aval = x.aval
    pieces = []
    for ct, s in zip(cts, sizes):
        shape = aval.shape[:axis] + (s,) + aval.shape[axis + 1:]
        pieces.append(R.zeros(ShapedArray(shape, aval.dtype)) if type(ct) is Zero else ct)
    if len(pieces) == 1:
        return [pieces[0]]
    return [R.registry["concatenate"].bind(*pieces, dimension=axis)]


@split_p.def_batch
def _split_batch(args, dims, *, sizes, axis):
    (x,), (d,) = args, dims
    new_axis = axis + 1 if d <= axis else axis
    outs = split_p.bind(x, sizes=sizes, axis=new_axis)
    return outs, [d] * len(outs)


# ---------------------------------------------------------------------------
# tile


tile_p = new_primitive("tile")
tile_p.weak_type_rule = R.operand_is_weak


@tile_p.def_abstract_eval
def _tile_abstract_eval(x, *, reps):
    if len(reps) != len(x.shape) or any(r < 0 for r in reps):
        raise ValueError(f"tile: reps {reps} must hold one non-negative entry per "
                         f"dimension of the operand of shape {x.shape}")
    return x.update(shape=tuple(r * d for r, d in zip(reps, x.shape)))


tile_p.def_impl(lambda x, *, reps: np.tile(np.asarray(x), reps))
tile_p.def_jvp(R.linear_jvp(tile_p))


@tile_p.def_transpose
def _tile_transpose(ct, x, *, reps):
    aval = x.aval
    if type(ct) is Zero:
        return [Zero(aval.to_tangent_aval())]
    split_shape = tuple(v for r, d in zip(reps, aval.shape) for v in (r, d))
    summed = R.reduce_sum(R.reshape(ct, split_shape), range(0, 2 * len(reps), 2))
    return [summed]


@tile_p.def_batch
def _tile_batch(args, dims, *, reps):
    (x,), (d,) = args, dims
    reps = reps[:d] + (1,) + reps[d:]
    return tile_p.bind(x, reps=reps), d


# ---------------------------------------------------------------------------
# stack and unstack


stack_p = new_primitive("stack")


@stack_p.def_abstract_eval
def _stack_abstract_eval(*xs, axis):
    if not xs:
        raise ValueError("stack needs at least one operand")
    first = xs[0]
    for i, a in enumerate(xs[1:], 1):
        if a.shape != first.shape or a.dtype != first.dtype:
            raise TypeError(f"stack: operand {i} has type {a.str_short()} but operand 0 "
                            f"has {first.str_short()}; all operands must match")
    if not 0 <= axis <= len(first.shape):
        raise ValueError(f"stack: axis {axis} is out of bounds for operands of rank "
                         f"{len(first.shape)}")
    shape = first.shape[:axis] + (len(xs),) + first.shape[axis:]
    return ShapedArray(shape, first.dtype, all(a.weak_type for a in xs))


stack_p.def_impl(lambda *xs, axis: np.stack([np.asarray(x) for x in xs], axis=axis))


@stack_p.def_jvp
def _stack_jvp(primals, tangents, *, axis):
    out = stack_p.bind(*primals, axis=axis)
    if all(type(t) is Zero for t in tangents):
        return out, Zero(R.aval_of(out).to_tangent_aval())
    ts = [R.instantiate(t) for t in tangents]
    return out, stack_p.bind(*ts, axis=axis)


@stack_p.def_transpose
def _stack_transpose(ct, *xs, axis):
    if type(ct) is Zero:
        return [Zero(x.aval.to_tangent_aval()) if core.is_undefined_primal(x) else None
                for x in xs]
    pieces = unstack_p.bind(ct, axis=axis)
    return [p if core.is_undefined_primal(x) else None for p, x in zip(pieces, xs)]


@stack_p.def_batch
def _stack_batch(args, dims, *, axis):
    size = R.batch_size(args, dims)
    args = [R.bdim_to_front(a, d, size) for a, d in zip(args, dims)]
    return stack_p.bind(*args, axis=axis + 1), 0


unstack_p = new_primitive("unstack", multiple_results=True)


@unstack_p.def_abstract_eval
def _unstack_abstract_eval(x, *, axis):
    if not 0 <= axis < len(x.shape):
        raise ValueError(f"unstack: axis {axis} is out of bounds for an operand of shape "
                         f"{x.shape}")
    piece = x.update(shape=x.shape[:axis] + x.shape[axis + 1:])
    return [piece] * x.shape[axis]


@unstack_p.def_impl
def _unstack_impl(x, *, axis):
    x = np.asarray(x)
    return [np.ascontiguousarray(np.take(x, i, axis=axis)) for i in range(x.shape[axis])]


@unstack_p.def_jvp
def _unstack_jvp(primals, tangents, *, axis):
    outs = unstack_p.bind(primals[0], axis=axis)
    t = tangents[0]
    if type(t) is Zero:
        return outs, [Zero(R.aval_of(o).to_tangent_aval()) for o in outs]
    return outs, unstack_p.bind(t, axis=axis)


@unstack_p.def_transpose
def _unstack_transpose(cts, x, *, axis):
    aval = x.aval
    piece = ShapedArray(aval.shape[:axis] + aval.shape[axis + 1:], aval.dtype)
    if all(type(c) is Zero for c in cts):
        return [Zero(aval.to_tangent_aval())]
    return [stack_p.bind(*[R.zeros(piece) if type(c) is Zero else c for c in cts],
                         axis=axis)]


@unstack_p.def_batch
def _unstack_batch(args, dims, *, axis):
    (x,), (d,) = args, dims
    x = R.moveaxis(x, d, 0)
    outs = unstack_p.bind(x, axis=axis + 1)
    return outs, [0] * len(outs)


# ---------------------------------------------------------------------------
# approx_top_k (fx computes the exact top k, which meets every recall target)


approx_top_k_p = new_primitive("approx_top_k", multiple_results=True)


@approx_top_k_p.def_abstract_eval
def _approx_top_k_abstract_eval(x, *, k, reduction_dimension, recall_target, is_max_k,
                                reduction_input_size_override, aggregate_to_topk):
    check_dtype("approx_top_k", x, FLOAT + INT)
    nd = len(x.shape)
    if not -nd <= reduction_dimension < nd:
        raise ValueError(f"approx_top_k: reduction_dimension {reduction_dimension} is out "
                         f"of bounds for an operand of shape {x.shape}")
    dim = reduction_dimension % nd
    if not 0 <= k <= x.shape[dim]:
        raise ValueError(f"approx_top_k: k={k} must be in [0, {x.shape[dim]}] (the size of "
                         f"dimension {dim})")
    shape = x.shape[:dim] + (k,) + x.shape[dim + 1:]
    return [ShapedArray(shape, x.dtype), ShapedArray(shape, dtypes.int32)]


@approx_top_k_p.def_impl
def _approx_top_k_impl(x, *, k, reduction_dimension, recall_target, is_max_k,
                       reduction_input_size_override, aggregate_to_topk):
    x = np.asarray(x)
    dim = reduction_dimension % x.ndim
    keys = total_order_key(x)
    n = x.shape[dim]
    if is_max_k:  # descending, ties to the lower index: sort the flipped keys, reverse
        flipped = np.argsort(np.flip(keys, axis=dim), axis=dim, kind="stable")
        order = (n - 1) - np.flip(flipped, axis=dim)
    else:
        order = np.argsort(keys, axis=dim, kind="stable")
    idx = np.take(order, np.arange(k), axis=dim)
    return [np.take_along_axis(x, idx, axis=dim), idx.astype(np.int32)]


@approx_top_k_p.def_jvp
def _approx_top_k_jvp(primals, tangents, **params):
    (x,), (t,) = primals, tangents
    values, idx = approx_top_k_p.bind(x, **params)
    if type(t) is Zero:
        return [values, idx], [Zero(R.aval_of(values).to_tangent_aval()),
                               Zero(R.aval_of(idx).to_tangent_aval())]
    from fx.numpy import take_along_axis
    dim = params["reduction_dimension"] % len(R.shape_of(x))
    t_out = take_along_axis(t, idx, axis=dim)
    return [values, idx], [t_out, Zero(R.aval_of(idx).to_tangent_aval())]


@approx_top_k_p.def_batch
def _approx_top_k_batch(args, dims, **params):
    (x,), (d,) = args, dims
    x = R.moveaxis(x, d, 0)
    nd = len(R.shape_of(x)) - 1
    params = dict(params, reduction_dimension=params["reduction_dimension"] % nd + 1)
    outs = approx_top_k_p.bind(x, **params)
    return outs, [0, 0]


# ---------------------------------------------------------------------------
# tokens: create_token and after_all

TOKEN_AVAL = ShapedArray((0,), dtypes.bool_)
"""The type of a token: an empty boolean vector (ordering only, no data)."""

create_token_p = new_primitive("create_token")
create_token_p.def_abstract_eval(lambda *args: TOKEN_AVAL)
create_token_p.def_impl(lambda *args: np.zeros((0,), np.bool_))
create_token_p.def_jvp(lambda primals, tangents: (create_token_p.bind(*primals),
                                                  Zero(TOKEN_AVAL.to_tangent_aval())))
create_token_p.def_batch(lambda args, dims: (create_token_p.bind(*args), None))

after_all_p = new_primitive("after_all")


@after_all_p.def_abstract_eval
def _after_all_abstract_eval(*tokens):
    for i, t in enumerate(tokens):
        if t.shape != TOKEN_AVAL.shape or t.dtype != TOKEN_AVAL.dtype:
            raise TypeError(f"after_all: operand {i} is a {t.str_short()}, not a token "
                            "(make tokens with lax.create_token())")
    return TOKEN_AVAL


after_all_p.def_impl(lambda *tokens: np.zeros((0,), np.bool_))
after_all_p.def_jvp(lambda primals, tangents: (after_all_p.bind(*primals),
                                               Zero(TOKEN_AVAL.to_tangent_aval())))


@after_all_p.def_batch
def _after_all_batch(args, dims):
    # a token has no per-example content: the batched tokens are the same token
    from primitives._higher_order import index_lane
    unbatched = [index_lane(a, d, 0) for a, d in zip(args, dims)]
    return after_all_p.bind(*unbatched), None


# ---------------------------------------------------------------------------
# dce_sink (keeps a value alive through dead-code elimination) and stage


dce_sink_p = new_primitive("dce_sink", multiple_results=True)
dce_sink_p.effectful = True
dce_sink_p.def_abstract_eval(lambda x, *, prevent_mlir_dce=False: [])
dce_sink_p.def_impl(lambda x, *, prevent_mlir_dce=False: [])


@dce_sink_p.def_jvp
def _dce_sink_jvp(primals, tangents, **params):
    dce_sink_p.bind(*primals, **params)
    return [], []


dce_sink_p.def_transpose(lambda cts, x, **params: [None])
dce_sink_p.def_batch(lambda args, dims, **params: (dce_sink_p.bind(*args, **params), []))

stage_p = new_primitive("stage")
stage_p.weak_type_rule = R.operand_is_weak
stage_p.def_abstract_eval(lambda x: x)
stage_p.def_impl(lambda x: np.asarray(x))
stage_p.def_jvp(R.linear_jvp(stage_p))
stage_p.def_transpose(lambda ct, x: [ct])
stage_p.def_batch(R.vectorized_batcher(stage_p))


# ---------------------------------------------------------------------------
# rng_uniform: XLA's stateful uniform draw (not reproducible, as in XLA)

rng_uniform_p = new_primitive("rng_uniform")
_rng_state = np.random.default_rng()


@rng_uniform_p.def_abstract_eval
def _rng_uniform_abstract_eval(a, b, *, shape):
    check_dtype("rng_uniform", a, FLOAT + SINT + UINT, "minval")
    if a.dtype != b.dtype:
        raise TypeError(f"rng_uniform requires a and b of one dtype, got {a.dtype.name} and "
                        f"{b.dtype.name}")
    if a.shape != () or b.shape != ():
        raise ValueError(f"rng_uniform requires scalar a and b, got shapes {a.shape} and "
                         f"{b.shape}")
    return ShapedArray(tuple(shape), a.dtype)


@rng_uniform_p.def_impl
def _rng_uniform_impl(a, b, *, shape):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "iu":
        if b <= a:
            return np.full(shape, a, a.dtype)
        return _rng_state.integers(int(a), int(b), size=shape, dtype=a.dtype)
    out = _rng_state.random(size=shape) * (b.astype(np.float64) - a) + a
    return np.minimum(out.astype(a.dtype), np.nextafter(b, a).astype(a.dtype)) \
        if b > a else np.full(shape, a, a.dtype)


@rng_uniform_p.def_jvp
def _rng_uniform_jvp(primals, tangents, *, shape):
    out = rng_uniform_p.bind(*primals, shape=shape)
    return out, Zero(R.aval_of(out).to_tangent_aval())


@rng_uniform_p.def_batch
def _rng_uniform_batch(args, dims, *, shape):
    size = R.batch_size(args, dims)
    from primitives._higher_order import index_lane, stack_lanes
    lanes = [rng_uniform_p.bind(*[index_lane(a, d, i) for a, d in zip(args, dims)],
                                shape=shape) for i in range(size)]
    return stack_lanes(lanes), 0


# ---------------------------------------------------------------------------
# placement primitives: identities on fx's one-device-per-process arrays

device_put_p = new_primitive("device_put", multiple_results=True)
device_put_p.def_abstract_eval(lambda *avals, devices, srcs, copy_semantics: list(avals))
device_put_p.def_impl(lambda *xs, devices, srcs, copy_semantics: [np.array(x) for x in xs])


@device_put_p.def_jvp
def _device_put_jvp(primals, tangents, **params):
    outs = device_put_p.bind(*primals, **params)
    nz = [t for t in tangents if type(t) is not Zero]
    moved = iter(device_put_p.bind(*nz, **_nz_params(params, tangents)) if nz else [])
    return outs, [t if type(t) is Zero else next(moved) for t in tangents]


def _nz_params(params, tangents):
    keep = [type(t) is not Zero for t in tangents]
    return {k: tuple(v for v, kp in zip(vals, keep) if kp) for k, vals in params.items()}


@device_put_p.def_transpose
def _device_put_transpose(cts, *xs, **params):
    return [c if core.is_undefined_primal(x) else None for c, x in zip(cts, xs)]


device_put_p.def_batch(lambda args, dims, **params: (device_put_p.bind(*args, **params),
                                                     list(dims)))

sharding_constraint_p = new_primitive("sharding_constraint")
sharding_constraint_p.weak_type_rule = R.operand_is_weak
sharding_constraint_p.def_abstract_eval(lambda x, **params: x)
sharding_constraint_p.def_impl(lambda x, **params: np.asarray(x))
sharding_constraint_p.def_jvp(R.linear_jvp(sharding_constraint_p))
sharding_constraint_p.def_transpose(lambda ct, x, **params: [ct])
sharding_constraint_p.def_batch(R.vectorized_batcher(sharding_constraint_p))
