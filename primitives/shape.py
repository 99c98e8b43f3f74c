"""Shape primitives that move data without arithmetic: broadcast_in_dim,
reshape, transpose, squeeze, expand_dims, iota.

Invariants: each is linear, so each has a transpose; batching moves the batch
dimension to the front (or keeps it where the rule can) and adjusts params.
"""
from __future__ import annotations

import numpy as np

from fx import dtypes
from fx.core import ShapedArray, Zero
from primitives import _rules as R
from primitives._rules import new_primitive


def _normalize_dims(dims, ndim, name):
    out = []
    for d in dims:
        if not -ndim <= d < ndim:
            raise ValueError(f"{name}: axis {d} is out of bounds for an array of rank {ndim}")
        out.append(d % ndim)
    return tuple(out)


# ---------------------------------------------------------------------------
# broadcast_in_dim

broadcast_in_dim_p = new_primitive("broadcast_in_dim", hidden_params=("sharding", "shape"))
broadcast_in_dim_p.pp_params = lambda params: {
    k: v for k, v in params.items() if not (k == "broadcast_dimensions" and v == ())}


@broadcast_in_dim_p.def_abstract_eval
def _broadcast_in_dim_abstract_eval(x, *, shape, broadcast_dimensions, sharding=None):
    if len(broadcast_dimensions) != x.ndim:
        raise TypeError(f"broadcast_in_dim: broadcast_dimensions {broadcast_dimensions} must "
                        f"have one entry per operand dimension (operand shape {x.shape})")
    if any(b <= a for a, b in zip(broadcast_dimensions, broadcast_dimensions[1:])):
        raise TypeError(f"broadcast_in_dim: broadcast_dimensions {broadcast_dimensions} "
                        "must be strictly increasing")
    for i, d in enumerate(broadcast_dimensions):
        if not 0 <= d < len(shape) or x.shape[i] not in (1, shape[d]):
            raise TypeError(f"broadcast_in_dim: operand shape {x.shape} cannot be broadcast to "
                            f"{tuple(shape)} along dimensions {broadcast_dimensions}")
    return ShapedArray(shape, x.dtype, x.weak_type)


def _broadcast_in_dim_impl(x, *, shape, broadcast_dimensions, sharding=None):
    expanded = np.reshape(x, [x.shape[broadcast_dimensions.index(i)]
                              if i in broadcast_dimensions else 1 for i in range(len(shape))])
    return np.broadcast_to(expanded, shape)


broadcast_in_dim_p.def_impl(_broadcast_in_dim_impl)


broadcast_in_dim_p.def_jvp(R.linear_jvp(broadcast_in_dim_p))


@broadcast_in_dim_p.def_transpose
def _broadcast_in_dim_transpose(ct, x, *, shape, broadcast_dimensions, sharding=None):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    summed = tuple(i for i in range(len(shape)) if i not in broadcast_dimensions)
    expanded = tuple(i for i, d in enumerate(broadcast_dimensions)
                     if x.aval.shape[i] == 1 and shape[d] != 1)
    out = R.reduce_sum(ct, summed + tuple(broadcast_dimensions[i] for i in expanded))
    if expanded:
        out = R.reshape(out, x.aval.shape)
    return [out]


@broadcast_in_dim_p.def_batch
def _broadcast_in_dim_batch(args, dims, *, shape, broadcast_dimensions, sharding=None):
    (x,), (d,) = args, dims
    x = R.moveaxis(x, d, 0)
    size = R.shape_of(x)[0]
    # JAX shifts the dims with NumPy, so batched jaxprs print np.int64 dims after the 0
    dims_ = (0,) + tuple(np.asarray(broadcast_dimensions, np.int64) + 1)
    return broadcast_in_dim_p.bind(x, shape=(size,) + tuple(shape), broadcast_dimensions=dims_,
                                   sharding=None), 0


# ---------------------------------------------------------------------------
# reshape

reshape_p = new_primitive("reshape")


@reshape_p.def_abstract_eval
def _reshape_abstract_eval(x, *, new_sizes, dimensions=None, sharding=None):
    if any(s < 0 for s in new_sizes):
        raise TypeError(f"reshape: new_sizes {new_sizes} must be non-negative")
    if int(np.prod(new_sizes, dtype=np.int64)) != x.size:
        raise TypeError(f"reshape: cannot reshape an array of shape {x.shape} "
                        f"({x.size} elements) into shape {tuple(new_sizes)}")
    if dimensions is not None and sorted(dimensions) != list(range(x.ndim)):
        raise TypeError(f"reshape: dimensions {dimensions} must be a permutation of "
                        f"range({x.ndim})")
    return ShapedArray(new_sizes, x.dtype, x.weak_type)


def _reshape_impl(x, *, new_sizes, dimensions=None, sharding=None):
    if dimensions is not None:
        x = np.transpose(x, dimensions)
    return np.reshape(x, new_sizes)


reshape_p.def_impl(_reshape_impl)


reshape_p.def_jvp(R.linear_jvp(reshape_p))


@reshape_p.def_transpose
def _reshape_transpose(ct, x, *, new_sizes, dimensions=None, sharding=None):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    if dimensions is None:
        return [R.reshape(ct, x.aval.shape)]
    permuted = tuple(x.aval.shape[d] for d in dimensions)
    return [R.transpose(R.reshape(ct, permuted), np.argsort(dimensions))]


@reshape_p.def_batch
def _reshape_batch(args, dims, *, new_sizes, dimensions=None, sharding=None):
    (x,), (d,) = args, dims
    x = R.moveaxis(x, d, 0)
    if dimensions is not None:
        x = R.transpose(x, (0,) + tuple(p + 1 for p in dimensions))
    return reshape_p.bind(x, new_sizes=(R.shape_of(x)[0],) + tuple(new_sizes),
                          dimensions=None, sharding=None), 0


# ---------------------------------------------------------------------------
# transpose

transpose_p = new_primitive("transpose")


@transpose_p.def_abstract_eval
def _transpose_abstract_eval(x, *, permutation):
    if sorted(permutation) != list(range(x.ndim)):
        raise TypeError(f"transpose: permutation {permutation} is not a permutation of the "
                        f"operand's dimensions (shape {x.shape})")
    return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype, x.weak_type)


transpose_p.def_impl(lambda x, *, permutation: np.transpose(x, permutation))


transpose_p.def_jvp(R.linear_jvp(transpose_p))


@transpose_p.def_transpose
def _transpose_transpose(ct, x, *, permutation):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    return [R.transpose(ct, tuple(np.argsort(permutation)))]


@transpose_p.def_batch
def _transpose_batch(args, dims, *, permutation):
    (x,), (d,) = args, dims
    perm = tuple(p + 1 if p >= d else p for p in permutation)
    perm = (d,) + perm
    return transpose_p.bind(x, permutation=perm), 0


# ---------------------------------------------------------------------------
# squeeze, expand_dims

squeeze_p = new_primitive("squeeze")


@squeeze_p.def_abstract_eval
def _squeeze_abstract_eval(x, *, dimensions):
    dims = _normalize_dims(dimensions, x.ndim, "squeeze")
    for d in dims:
        if x.shape[d] != 1:
            raise TypeError(f"squeeze: cannot squeeze dimension {d} of size {x.shape[d]} "
                            f"(shape {x.shape}); only size-1 dimensions can be squeezed")
    return ShapedArray(tuple(s for i, s in enumerate(x.shape) if i not in dims), x.dtype,
                       x.weak_type)


squeeze_p.def_impl(lambda x, *, dimensions: np.squeeze(x, tuple(dimensions)))


squeeze_p.def_jvp(R.linear_jvp(squeeze_p))


@squeeze_p.def_transpose
def _squeeze_transpose(ct, x, *, dimensions):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    return [R.reshape(ct, x.aval.shape)]


@squeeze_p.def_batch
def _squeeze_batch(args, dims, *, dimensions):
    (x,), (d,) = args, dims
    x = R.moveaxis(x, d, 0)
    nd = len(R.shape_of(x)) - 1
    dims_ = tuple(k % nd + 1 for k in dimensions)
    return squeeze_p.bind(x, dimensions=dims_), 0


expand_dims_p = new_primitive("expand_dims")


@expand_dims_p.def_abstract_eval
def _expand_dims_abstract_eval(x, *, dimensions):
    out_ndim = x.ndim + len(dimensions)
    dims = sorted(_normalize_dims(dimensions, out_ndim, "expand_dims"))
    if len(set(dims)) != len(dims):
        raise ValueError(f"expand_dims: repeated dimension in {dimensions}")
    shape = list(x.shape)
    for d in dims:
        shape.insert(d, 1)
    return ShapedArray(shape, x.dtype, x.weak_type)


expand_dims_p.def_impl(lambda x, *, dimensions: np.expand_dims(x, tuple(dimensions)))


expand_dims_p.def_jvp(R.linear_jvp(expand_dims_p))


@expand_dims_p.def_transpose
def _expand_dims_transpose(ct, x, *, dimensions):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    return [R.reshape(ct, x.aval.shape)]


@expand_dims_p.def_batch
def _expand_dims_batch(args, dims, *, dimensions):
    (x,), (d,) = args, dims
    x = R.moveaxis(x, d, 0)
    out_ndim = len(R.shape_of(x)) - 1 + len(dimensions)
    dims_ = tuple(k % out_ndim + 1 for k in dimensions)
    return expand_dims_p.bind(x, dimensions=dims_), 0


# ---------------------------------------------------------------------------
# iota

iota_p = new_primitive("iota", hidden_params=())


@iota_p.def_abstract_eval
def _iota_abstract_eval(*, dtype, shape, dimension, sharding=None):
    if not 0 <= dimension < len(shape):
        raise ValueError(f"iota: dimension {dimension} out of range for shape {shape}")
    return ShapedArray(shape, dtype)


def _iota_impl(*, dtype, shape, dimension, sharding=None):
    ramp = np.arange(shape[dimension], dtype=dtype)
    return np.broadcast_to(ramp.reshape([-1 if i == dimension else 1
                                         for i in range(len(shape))]), shape)


iota_p.def_impl(_iota_impl)


@iota_p.def_jvp
def _iota_jvp(primals, tangents, **params):
    out = iota_p.bind(**params)
    return out, Zero(R.aval_of(out).to_tangent_aval())


@iota_p.def_batch
def _iota_batch(args, dims, **params):  # iota has no operands, so it is never batched
    raise AssertionError("iota has no operands to batch")


def iota(dtype, size: int):
    return iota_p.bind(dtype=dtypes.canonicalize_dtype(dtype), shape=(size,), dimension=0,
                       sharding=None)
