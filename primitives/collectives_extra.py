"""More collectives over named axes: pbroadcast, psend/precv, ragged_all_to_all.

Invariants: as in ``primitives.collectives`` (whose helpers these use): a named
axis is bound by a vmap (the batching rules implement the collective over the
batch dimension) or by pmap replicas (the impls exchange values through the
replica's communicator). fx has no token type: ``psend`` completes the transfer
and its result (the "token") is the value this replica receives, which ``precv``
returns after checking it against ``out_shape``; ``precv(psend(x, ...), ...)``
is therefore ``ppermute(x, ...)``, the pattern JAX programs use.
"""
from __future__ import annotations

import numpy as np

from fx import core, dtypes
from fx.core import ShapedArray, Zero
from primitives import _rules as R
from primitives import collectives as C
from primitives._rules import INT, check_dtype, new_primitive

__all__ = ["pbroadcast_p", "psend_p", "precv_p", "ragged_all_to_all_p"]

# ---------------------------------------------------------------------------
# pbroadcast: every replica gets the value of replica ``source``

pbroadcast_p = new_primitive("pbroadcast")


@pbroadcast_p.def_abstract_eval
def _pbroadcast_abstract_eval(x, *, axis_name, source):
    if not isinstance(source, int) or source < 0:
        raise ValueError(f"pbroadcast: source must be a non-negative int, got {source!r}")
    return ShapedArray(x.shape, x.dtype, x.weak_type)


@pbroadcast_p.def_impl
def _pbroadcast_impl(x, *, axis_name, source):
    return C._run("pbroadcast", np.asarray(x), axis_name, {"source": source})


@pbroadcast_p.def_jvp
def _pbroadcast_jvp(primals, tangents, *, axis_name, source):
    (x,), (t,) = primals, tangents
    y = pbroadcast_p.bind(x, axis_name=axis_name, source=source)
    return y, (t if type(t) is Zero else pbroadcast_p.bind(t, axis_name=axis_name,
                                                           source=source))


@pbroadcast_p.def_transpose
def _pbroadcast_transpose(ct, x, *, axis_name, source):
    """Replica ``source`` collects the cotangents of every replica; the others get zeros."""
    if type(ct) is Zero:
        return [Zero(x.aval)]
    total = C.psum_p.bind(ct, axes=axis_name, axis_index_groups=None)
    index = C.replica_index(axis_name)
    is_source = R.broadcast_to(R.registry["eq"].bind(index, R.as_scalar(source, R.dtype_of(index))),
                               R.shape_of(ct))
    return [R.select_n(is_source, R.zeros(R.aval_of(ct)), total)]


@pbroadcast_p.def_batch
def _pbroadcast_batch(args, dims, *, axis_data=None, axis_name, source):
    (x,), (d,) = args, dims
    if not C._vmapped(axis_data, axis_name):
        return pbroadcast_p.bind(x, axis_name=axis_name, source=source), d
    C._only_vmapped("pbroadcast", axis_data, axis_name)
    n = axis_data.axis_size
    if source >= n:
        raise ValueError(f"pbroadcast: source {source} is outside the axis of size {n}")
    if d is None:
        return x, None
    return C._lanes(R.moveaxis(x, d, 0), [source] * n), 0


pbroadcast_p.axis_dependent = True

# ---------------------------------------------------------------------------
# psend / precv


psend_p = C.permute_like(new_primitive("psend"), "ppermute")

precv_p = new_primitive("precv")


@precv_p.def_abstract_eval
def _precv_abstract_eval(token, *, out_shape, axis_name, perm):
    if token.shape != out_shape.shape or token.dtype != out_shape.dtype:
        raise TypeError(f"precv: out_shape {out_shape.str_short()} does not match what the "
                        f"matching psend sent ({token.str_short()}); fx's precv takes the "
                        f"token returned by psend")
    return out_shape


precv_p.def_impl(lambda token, *, out_shape, axis_name, perm:
                 np.asarray(token, dtype=out_shape.dtype))
precv_p.def_jvp(R.linear_jvp(precv_p))


@precv_p.def_transpose
def _precv_transpose(ct, token, *, out_shape, axis_name, perm):
    return [ct if type(ct) is not Zero else Zero(token.aval)]


@precv_p.def_batch
def _precv_batch(args, dims, *, axis_data=None, out_shape, axis_name, perm):
    (token,), (d,) = args, dims
    _precv_abstract_eval(C._lane_aval(token, d), out_shape=out_shape, axis_name=axis_name,
                         perm=perm)
    aval = R.aval_of(token)
    return precv_p.bind(token, out_shape=ShapedArray(aval.shape, aval.dtype), axis_name=axis_name,
                        perm=perm), d


# ---------------------------------------------------------------------------
# ragged_all_to_all

ragged_all_to_all_p = new_primitive("ragged_all_to_all")
_RAGGED_ARGS = ("input_offsets", "send_sizes", "output_offsets", "recv_sizes")


@ragged_all_to_all_p.def_abstract_eval
def _ragged_abstract_eval(operand, output, *index_avals, axis_name, axis_index_groups):
    for what, a in zip(_RAGGED_ARGS, index_avals):
        check_dtype("ragged_all_to_all", a, INT, what)
        if a.ndim != 1 or a.shape[0] < 1:
            raise ValueError(f"ragged_all_to_all {what} must be rank 1 with positive "
                             f"dimension size, but got shape {a.shape}")
    if len({a.shape for a in index_avals}) > 1:
        raise ValueError(f"ragged_all_to_all: {', '.join(_RAGGED_ARGS)} must have the same "
                         f"shape, got {[a.shape for a in index_avals]}")
    if operand.dtype != output.dtype or operand.shape[1:] != output.shape[1:] or \
            operand.ndim < 1:
        raise TypeError(f"ragged_all_to_all: operand {operand.str_short()} and output "
                        f"{output.str_short()} must have one dtype and the same shape after "
                        f"the leading dimension")
    C.check_groups("ragged_all_to_all", axis_index_groups, equal=True)
    return ShapedArray(output.shape, output.dtype)


@ragged_all_to_all_p.def_impl
def _ragged_impl(operand, output, input_offsets, send_sizes, output_offsets, recv_sizes, *,
                 axis_name, axis_index_groups):
    params = {"dim": 0, "tiled": False, "groups": axis_index_groups}
    meta = np.stack([np.asarray(a, np.int64) for a in (input_offsets, send_sizes,
                                                        output_offsets)])
    operands = C._run("all_gather", np.asarray(operand), axis_name, params)
    metas = C._run("all_gather", meta, axis_name, params)
    me = int(C._replica_index_value(axis_name))
    group = next((g for g in axis_index_groups if me in g), None) if axis_index_groups \
        else None
    pos = me if group is None else group.index(me)
    size = len(operands)
    per_peer, rest = divmod(meta.shape[1], size)
    if rest:
        raise ValueError(f"ragged_all_to_all: the offsets and sizes (length {meta.shape[1]}) "
                         f"must have a length divisible by the axis size {size}")
    result = np.array(output, copy=True)
    for j in range(size):
        in_off, sizes, out_off = metas[j]
        for i in range(pos * per_peer, (pos + 1) * per_peer):
            n = int(sizes[i])
            if n:
                result[out_off[i]:out_off[i] + n] = operands[j][in_off[i]:in_off[i] + n]
    return result


@ragged_all_to_all_p.def_jvp
def _ragged_jvp(primals, tangents, **params):
    operand, output, *rest = primals
    t_operand, t_output = tangents[:2]
    y = ragged_all_to_all_p.bind(operand, output, *rest, **params)
    if type(t_operand) is Zero and type(t_output) is Zero:
        return y, Zero(R.aval_of(y).to_tangent_aval())
    return y, ragged_all_to_all_p.bind(R.instantiate(t_operand), R.instantiate(t_output),
                                       *rest, **params)


@ragged_all_to_all_p.def_transpose
def _ragged_transpose(ct, operand, output, input_offsets, send_sizes, output_offsets,
                      recv_sizes, *, axis_name, axis_index_groups):
    """The data flows back: what was received returns to its sender's ``operand`` slice;
    the output's cotangent passes through where nothing was received."""
    op_lin, out_lin = core.is_undefined_primal(operand), core.is_undefined_primal(output)
    if type(ct) is Zero:
        return [Zero(operand.aval) if op_lin else None,
                Zero(output.aval) if out_lin else None] + [None] * 4
    size = C.group_size(axis_index_groups, C.axis_size(axis_name))
    a2a = dict(axis_name=axis_name if len(axis_name) > 1 else axis_name[0], split_axis=0,
               concat_axis=0, axis_index_groups=axis_index_groups, tiled=True, axis_size=size)
    received_at = C.all_to_all_p.bind(output_offsets, **a2a)
    sent_from = C.all_to_all_p.bind(input_offsets, **a2a)
    op_aval = operand.aval if op_lin else R.aval_of(operand)
    ct_operand = ragged_all_to_all_p.bind(
        ct, R.zeros(op_aval), received_at, recv_sizes, sent_from, send_sizes,
        axis_name=axis_name, axis_index_groups=axis_index_groups) if op_lin else None
    ct_output = None
    if out_lin:
        shape = R.shape_of(ct)
        k = R.shape_of(received_at)[0]
        rows = R.registry["iota"].bind(dtype=np.dtype(dtypes.int32), shape=(shape[0], k),
                                       dimension=0, sharding=None)
        start = R.broadcast_in_dim(R.convert(received_at, dtypes.int32), (shape[0], k), (1,))
        stop = R.broadcast_in_dim(R.convert(R.add(received_at, recv_sizes), dtypes.int32),
                                  (shape[0], k), (1,))
        inside = R.registry["and"].bind(R.registry["ge"].bind(rows, start),
                                        R.registry["lt"].bind(rows, stop))
        hit = R.registry["reduce_or"].bind(inside, axes=(1,), out_sharding=None)
        hit = R.broadcast_in_dim(hit, shape, (0,))
        ct_output = R.select_n(hit, ct, R.zeros(R.aval_of(ct)))
    return [ct_operand, ct_output] + [None] * 4


@ragged_all_to_all_p.def_batch
def _ragged_batch(args, dims, *, axis_data=None, axis_name, axis_index_groups):
    if C._vmapped(axis_data, axis_name):
        raise NotImplementedError("ragged_all_to_all over a vmapped axis is not supported "
                                  "(nor by JAX); use pmap or shard_map")
    if all(d is None for d in dims):
        return ragged_all_to_all_p.bind(*args, axis_name=axis_name,
                                        axis_index_groups=axis_index_groups), None
    n = C.axis_of(axis_data, args, dims)[1]
    operand, output = (R.bdim_to_front(a, d, n) for a, d in zip(args[:2], dims[:2]))
    rows_in, rows_out = R.shape_of(operand)[1], R.shape_of(output)[1]

    def lanes_last(x, d):  # (K, n): the lanes of one peer's slices stay together
        return R.moveaxis(R.bdim_to_front(x, d, n), 0, 1)

    def shifted(x, d, rows):
        x = lanes_last(x, d)
        lane = R.registry["iota"].bind(dtype=R.dtype_of(x), shape=R.shape_of(x), dimension=1,
                                       sharding=None)
        return R.add(x, R.mul(lane, R.as_scalar(rows, R.dtype_of(x))))

    in_off = shifted(args[2], dims[2], rows_in)
    out_off = shifted(args[4], dims[4], rows_out)
    send, recv = lanes_last(args[3], dims[3]), lanes_last(args[5], dims[5])
    def merged(a):
        shape = R.shape_of(a)
        return R.reshape(a, (shape[0] * shape[1],) + shape[2:])

    flat = [merged(a) for a in (operand, output, in_off, send, out_off, recv)]
    out = ragged_all_to_all_p.bind(*flat, axis_name=axis_name,
                                   axis_index_groups=axis_index_groups)
    return R.reshape(out, (n, rows_out) + R.shape_of(out)[1:]), 0


ragged_all_to_all_p.axis_dependent = True

C._COLLECTIVE_NAMES.update({"pbroadcast": "axis_name", "psend": "axis_name",
                            "precv": "axis_name", "ragged_all_to_all": "axis_name"})
