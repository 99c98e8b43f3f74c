"""Reductions over axes: reduce_sum/max/min/prod/and/or/xor, argmax, argmin.

Invariants: ``axes`` is a sorted tuple of distinct non-negative axes; the
output drops them. Batching shifts the axes past the batch dimension, which is
kept where it is (adjusted for the dropped axes before it).
"""
from __future__ import annotations

import numpy as np

from fx.core import ShapedArray, Zero
from primitives import _rules as R
from primitives._rules import ANY, BOOL, FLOAT, INT, NUMERIC, check_dtype, new_primitive
from primitives.reduce_order import ORDERS, xla_cpu_sum


def _check_axes(name, x, axes):
    for a in axes:
        if not 0 <= a < x.ndim:
            raise ValueError(f"{name}: axis {a} is out of bounds for an array of shape "
                             f"{x.shape}")
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: duplicate axes in {axes}")


def _reduced_shape(shape, axes):
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def _batch_axes(axes, d):
    """Axes of the batched operand (batch dim ``d``) and the batch dim of the output."""
    # JAX shifts the axes with NumPy (np.where), so printed jaxprs show np.int64 axes
    new_axes = tuple(np.int64(a + 1 if a >= d else a) for a in axes)
    out_dim = d - sum(1 for a in axes if a < d)
    return new_axes, out_dim


def _keep_dims_broadcast(y, in_shape, axes):
    kept = tuple(i for i in range(len(in_shape)) if i not in axes)
    return R.broadcast_in_dim(y, in_shape, kept)


def reduction(name, impl, kinds, jvp=None, transpose=None, out_dtype=None):
    # reduce_sum's hidden ``order``: None, or "xla_cpu" (XLA's CPU order of additions,
    # primitives/reduce_order.py: det/slogdet use it to give JAX's bits)
    p = new_primitive(name, hidden_params=("order",) if name == "reduce_sum"
                      else ("out_sharding",))

    @p.def_abstract_eval
    def abstract_eval(x, *, axes, out_sharding=None, order=None):
        check_dtype(name, x, kinds)
        _check_axes(name, x, axes)
        if order is not None and (name != "reduce_sum" or order not in ORDERS):
            raise ValueError(f"{name}: unknown order {order!r}; expected one of {ORDERS[1:]} "
                             f"(reduce_sum only) or None")
        return ShapedArray(_reduced_shape(x.shape, axes), out_dtype or x.dtype, x.weak_type)

    def run(x, *, axes, out_sharding=None, order=None):
        dtype = out_dtype or x.dtype
        if x.dtype.itemsize == 2 and (x.dtype.kind == "f" or x.dtype.name == "bfloat16") \
                and name in ("reduce_sum", "reduce_prod"):
            x = x.astype(np.float32)  # 16-bit floats accumulate in float32, as XLA does
        if order is not None:
            return xla_cpu_sum(x, axes).astype(dtype)
        with np.errstate(all="ignore"):
            return np.asarray(impl(x, axis=tuple(axes))).astype(dtype)

    p.def_impl(run)

    def jvp_rule(primals, tangents, *, axes, out_sharding=None, **order):
        (x,), (t,) = primals, tangents
        y = p.bind(x, axes=axes, out_sharding=out_sharding, **order)
        if jvp is None:
            return y, Zero(R.aval_of(y).to_tangent_aval())
        return y, jvp(x, t, y, axes)

    p.def_jvp(jvp_rule)
    if transpose is not None:
        p.def_transpose(transpose)

    @p.def_batch
    def batch(args, dims, *, axes, out_sharding=None, **order):
        (x,), (d,) = args, dims
        new_axes, out_dim = _batch_axes(axes, d)
        return p.bind(x, axes=new_axes, out_sharding=out_sharding, **order), out_dim

    return p


def _sum_transpose(ct, x, *, axes, out_sharding=None, order=None):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    # JAX spells the kept dims as NumPy integers here (np.delete of an arange): printed
    # jaxprs show broadcast_dimensions=(np.int64(0),)
    kept = tuple(np.delete(np.arange(len(x.aval.shape), dtype=np.int64), list(axes)))
    return [R.broadcast_in_dim(ct, x.aval.shape, kept)]


def _chooser_jvp(x, t, y, axes):
    """Tangent of max/min: the mean of t over the positions that attain the extremum."""
    shape = R.shape_of(x)
    kept_shape = tuple(1 if i in axes else d for i, d in enumerate(shape))
    # y with size-1 reduced dims: eq broadcasts them (JAX's reshape, not a full broadcast)
    location = R.convert(R.registry["eq"].bind(x, R.reshape(y, kept_shape)), R.dtype_of(t))
    counts = R.reduce_sum(location, axes)
    return R.div(R.reduce_sum(R.mul(t, location), axes), counts)


def _prod_jvp(x, t, y, axes):
    """d prod = sum_i t_i * prod_{j != i} x_j, exact where some x_j are zero."""
    shape = R.shape_of(x)
    kept = [i for i in range(len(shape)) if i not in axes]
    perm = kept + list(axes)
    n = int(np.prod([shape[a] for a in axes], dtype=np.int64))
    lead = tuple(shape[i] for i in kept)
    xs = R.reshape(R.transpose(x, perm), lead + (n,))
    ts = R.reshape(R.transpose(t, perm), lead + (n,))
    one = R.full(lead + (1,), 1, R.dtype_of(x))
    cumprod = R.registry["cumprod"]
    concat = R.registry["concatenate"]
    slicer = R.registry["slice"]
    last = len(lead)
    if n == 0:
        return Zero(R.aval_of(y).to_tangent_aval())
    # exclusive prefix and suffix products along the reduced (last) axis
    before = concat.bind(one, slicer.bind(cumprod.bind(xs, axis=last, reverse=False),
                                          start_indices=(0,) * last + (0,),
                                          limit_indices=lead + (n - 1,), strides=None),
                         dimension=last)
    after = concat.bind(slicer.bind(cumprod.bind(xs, axis=last, reverse=True),
                                    start_indices=(0,) * last + (1,),
                                    limit_indices=lead + (n,), strides=None),
                        one, dimension=last)
    others = R.mul(before, after)
    return R.reduce_sum(R.mul(ts, others), (last,))


reduce_sum_p = reduction("reduce_sum", np.sum, NUMERIC,
                         jvp=lambda x, t, y, axes: R.reduce_sum(t, axes),
                         transpose=_sum_transpose)
def _extreme(dtype, lowest: bool):
    """The identity of max (lowest) or min (highest) for ``dtype``, as XLA uses it."""
    if dtype.kind == "b":
        return not lowest
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return info.min if lowest else info.max
    return np.array(-np.inf if lowest else np.inf, dtype)[()]


def _max_impl(x, axis):  # an empty reduction gives the identity, as XLA (NumPy raises)
    return np.max(x, axis=axis, initial=_extreme(x.dtype, True)) if x.size == 0 \
        else np.max(x, axis=axis)


def _min_impl(x, axis):
    return np.min(x, axis=axis, initial=_extreme(x.dtype, False)) if x.size == 0 \
        else np.min(x, axis=axis)


reduce_max_p = reduction("reduce_max", _max_impl, ANY, jvp=_chooser_jvp)
reduce_min_p = reduction("reduce_min", _min_impl, ANY, jvp=_chooser_jvp)


reduce_prod_p = reduction("reduce_prod", np.prod, NUMERIC, jvp=_prod_jvp)


def _and_impl(x, axis):
    return np.bitwise_and.reduce(x, axis=axis) if x.dtype != np.bool_ else np.all(x, axis=axis)


def _or_impl(x, axis):
    return np.bitwise_or.reduce(x, axis=axis) if x.dtype != np.bool_ else np.any(x, axis=axis)


def _xor_impl(x, axis):
    return np.bitwise_xor.reduce(x, axis=axis) if x.dtype != np.bool_ else \
        np.logical_xor.reduce(x, axis=axis)


reduce_and_p = reduction("reduce_and", _and_impl, INT + BOOL)
reduce_or_p = reduction("reduce_or", _or_impl, INT + BOOL)
reduce_xor_p = reduction("reduce_xor", _xor_impl, INT + BOOL)


# ---------------------------------------------------------------------------
# argmax, argmin

def arg_reduction(name, np_fn):
    p = new_primitive(name)

    @p.def_abstract_eval
    def abstract_eval(x, *, axes, index_dtype):
        check_dtype(name, x, FLOAT + INT + BOOL)
        if len(axes) != 1:
            raise ValueError(f"{name} takes exactly one axis, got {axes}")
        _check_axes(name, x, axes)
        if x.shape[axes[0]] == 0:
            raise ValueError(f"{name}: cannot reduce an empty axis {axes[0]} (shape {x.shape})")
        return ShapedArray(_reduced_shape(x.shape, axes), index_dtype)

    def run(x, *, axes, index_dtype):
        axis = axes[0]
        if x.dtype.kind == "f":  # NaN wins, as in JAX
            nan = np.isnan(x)
            if nan.any():
                idx = np_fn(np.where(nan, np.inf if np_fn is np.argmax else -np.inf, x), axis)
                first_nan = np.argmax(nan, axis=axis)
                return np.where(nan.any(axis=axis), first_nan, idx).astype(index_dtype)
        return np.asarray(np_fn(x, axis=axis)).astype(index_dtype)

    p.def_impl(run)
    p.weak_type_rule = lambda args: False  # indices are never weakly typed

    @p.def_jvp
    def jvp(primals, tangents, **params):
        y = p.bind(primals[0], **params)
        return y, Zero(R.aval_of(y).to_tangent_aval())

    @p.def_batch
    def batch(args, dims, *, axes, index_dtype):
        (x,), (d,) = args, dims
        new_axes, out_dim = _batch_axes(axes, d)
        return p.bind(x, axes=new_axes, index_dtype=index_dtype), out_dim

    return p


argmax_p = arg_reduction("argmax", np.argmax)
argmin_p = arg_reduction("argmin", np.argmin)
