"""Conversions between dtypes: convert_element_type and bitcast_convert_type.

Invariants: convert_element_type follows XLA (float to int truncates and saturates,
NaN becomes 0, complex to real keeps the real part) and states the output's weak type
in its ``weak_type`` param; bitcast_convert_type reinterprets bits, adding or removing
a trailing dimension when the element widths differ.
"""
from __future__ import annotations

import numpy as np

from fx import dtypes
from fx.core import ShapedArray, Zero
from primitives import _rules as R
from primitives._rules import new_primitive
from primitives.elementwise import real_p


convert_element_type_p = new_primitive("convert_element_type")


@convert_element_type_p.def_abstract_eval
def _convert_abstract_eval(x, *, new_dtype, weak_type=False, sharding=None):
    return ShapedArray(x.shape, new_dtype, weak_type)


def _convert_impl(x, *, new_dtype, weak_type=False, sharding=None):
    with np.errstate(all="ignore"):
        if x.dtype.kind == "c" and new_dtype.kind != "c":
            x = np.real(x)
        if new_dtype == np.bool_:
            return np.asarray(x != 0)
        if x.dtype.name == "bfloat16" or (x.dtype.kind == "V" and new_dtype.kind in "iu"):
            x = x.astype(np.float32)  # ml_dtypes' 16/8-bit floats: via float32
        if x.dtype.kind == "f" and new_dtype.kind in "iu":
            # saturate, as XLA: compare in floating point (info.max may round up to a
            # power of two there), NaN becomes 0
            info = np.iinfo(new_dtype)
            too_big, too_small = x >= float(info.max), x <= float(info.min)
            safe = np.where(too_big | too_small | np.isnan(x), 0, x)
            out = np.trunc(safe).astype(new_dtype)
            out = np.where(too_big, info.max, np.where(too_small, info.min, out))
            return np.asarray(out).astype(new_dtype)
        return np.asarray(x).astype(new_dtype)


convert_element_type_p.def_impl(_convert_impl)
convert_element_type_p.weak_type_param = "weak_type"


@convert_element_type_p.def_jvp
def _convert_jvp(primals, tangents, *, new_dtype, weak_type=False, sharding=None):
    (x,), (t,) = primals, tangents
    out = convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=weak_type,
                                      sharding=sharding)
    if not dtypes.is_inexact(new_dtype) or not dtypes.is_inexact(R.dtype_of(x)):
        return out, Zero(R.aval_of(out).to_tangent_aval())
    return out, convert_element_type_p.bind(t, new_dtype=new_dtype, weak_type=weak_type,
                                            sharding=sharding)


@convert_element_type_p.def_transpose
def _convert_transpose(ct, x, *, new_dtype, weak_type=False, sharding=None):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    if x.aval.dtype.kind != "c" and R.dtype_of(ct).kind == "c":
        ct = real_p.bind(ct)
    return [R.convert(ct, x.aval.dtype, x.aval.weak_type)]


convert_element_type_p.def_batch(R.vectorized_batcher(convert_element_type_p))
convert_element_type_p.hidden_params = frozenset({"sharding"})
convert_element_type_p.param_order = ("new_dtype", "weak_type")

bitcast_convert_type_p = new_primitive("bitcast_convert_type")


@bitcast_convert_type_p.def_abstract_eval
def _bitcast_abstract_eval(x, *, new_dtype):
    old, new = x.dtype.itemsize, np.dtype(new_dtype).itemsize
    if old == new:
        shape = x.shape
    elif old > new:
        shape = x.shape + (old // new,)
    else:
        if not x.shape or x.shape[-1] != new // old:
            raise TypeError(f"bitcast_convert_type from {x.dtype.name} to "
                            f"{np.dtype(new_dtype).name} needs a trailing dimension of "
                            f"{new // old}, got shape {x.shape}")
        shape = x.shape[:-1]
    return ShapedArray(shape, new_dtype)


def _bitcast_impl(x, *, new_dtype):
    old, new = x.dtype.itemsize, np.dtype(new_dtype).itemsize
    x = np.asarray(x)
    if not x.flags.c_contiguous:  # (np.ascontiguousarray would make rank 0 rank 1)
        x = x.copy()
    if old == new:
        return x.view(new_dtype)
    if old > new:
        return x.reshape(x.shape + (1,)).view(new_dtype)
    return x.view(new_dtype).reshape(x.shape[:-1])


bitcast_convert_type_p.def_impl(_bitcast_impl)


@bitcast_convert_type_p.def_jvp
def _bitcast_jvp(primals, tangents, *, new_dtype):
    out = bitcast_convert_type_p.bind(primals[0], new_dtype=new_dtype)
    return out, Zero(R.aval_of(out).to_tangent_aval())


@bitcast_convert_type_p.def_batch
def _bitcast_batch(args, dims, *, new_dtype):
    (x,), (d,) = args, dims
    x = R.moveaxis(x, d, 0)
    return bitcast_convert_type_p.bind(x, new_dtype=new_dtype), 0
