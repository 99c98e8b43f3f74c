"""Convolutions: the ``conv_general_dilated`` primitive (XLA's Conv).

Invariants: ``dimension_numbers`` is a ``ConvDimensionNumbers`` of three int
tuples naming, for lhs, rhs and output, the (batch, feature, spatial...),
(out feature, in feature, spatial...) and (batch, feature, spatial...) axes;
spatial axes correspond position by position. ``padding`` holds one
``(low, high)`` pair per spatial axis, applied after lhs dilation (negative
values crop). At most one of ``feature_group_count`` and
``batch_group_count`` exceeds 1; groups split their axis group-major. The eager
impl picks, by estimated cost, im2col (a strided window view, one copy into
columns, one matmul) or kn2row (one matmul per kernel tap, then shifted adds).
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from fx.core import ShapedArray, Zero, is_undefined_primal
from primitives import _rules as R
from primitives._rules import ANY, check_dtype, new_primitive

__all__ = ["conv_general_dilated_p", "ConvDimensionNumbers", "conv_output_shape",
           "conv_dtype"]


class ConvDimensionNumbers(NamedTuple):
    """Axis roles of a convolution's operands and output.

    ``lhs_spec = (batch, feature, *spatial)``, ``rhs_spec = (out feature,
    in feature, *spatial)``, ``out_spec = (batch, feature, *spatial)``.
    Example: NCHW/OIHW/NCHW is ``ConvDimensionNumbers((0, 1, 2, 3), (0, 1, 2, 3),
    (0, 1, 2, 3))``.
    """

    lhs_spec: tuple
    rhs_spec: tuple
    out_spec: tuple


conv_general_dilated_p = new_primitive("conv_general_dilated")


# ---------------------------------------------------------------------------
# shape and dtype rules


def _dilate(size: int, factor: int) -> int:
    return 0 if size == 0 else (size - 1) * factor + 1


def conv_output_shape(lhs_shape, rhs_shape, *, window_strides, padding, lhs_dilation,
                      rhs_dilation, dimension_numbers, feature_group_count=1,
                      batch_group_count=1) -> tuple:
    """The output shape of ``conv_general_dilated`` (laid out by ``out_spec``)."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    nsp = len(lhs_spec) - 2
    canon = [lhs_shape[lhs_spec[0]] // batch_group_count, rhs_shape[rhs_spec[0]]]
    for i in range(nsp):
        padded = (_dilate(lhs_shape[lhs_spec[2 + i]], lhs_dilation[i])
                  + padding[i][0] + padding[i][1])
        window = _dilate(rhs_shape[rhs_spec[2 + i]], rhs_dilation[i])
        canon.append(max(0, (padded - window) // window_strides[i] + 1)
                     if padded >= window else 0)
    out = [0] * len(canon)
    for role, axis in enumerate(out_spec):
        out[axis] = canon[role]
    return tuple(out)


def conv_dtype(lhs_dtype, rhs_dtype, preferred_element_type=None) -> np.dtype:
    """The output dtype: the operands' common dtype or ``preferred_element_type``."""
    lhs_dtype, rhs_dtype = np.dtype(lhs_dtype), np.dtype(rhs_dtype)
    if lhs_dtype != rhs_dtype:
        raise TypeError(f"conv_general_dilated requires lhs and rhs to have the same dtype, "
                        f"got {lhs_dtype.name} and {rhs_dtype.name}")
    if preferred_element_type is None:
        return lhs_dtype
    preferred = np.dtype(preferred_element_type)
    kin, kout = R.kind_of(lhs_dtype), R.kind_of(preferred)
    if not (kin in "iu" and kout == "f"):
        classes = {"i": "integer", "u": "integer", "f": "floating", "c": "complex",
                   "b": "bool"}
        if classes[kin] != classes[kout]:
            raise TypeError(f"conv_general_dilated: preferred_element_type {preferred.name} is "
                            f"incompatible with operands of dtype {lhs_dtype.name}; allowed "
                            "are (integer, integer), (integer, floating), (floating, "
                            "floating) and (complex, complex)")
        if kin == "i" and kout != "i":
            raise TypeError(f"conv_general_dilated: preferred_element_type {preferred.name} "
                            f"must be signed like the operands ({lhs_dtype.name})")
    if preferred.itemsize < lhs_dtype.itemsize:
        raise TypeError(f"conv_general_dilated: preferred_element_type {preferred.name} must "
                        f"not be narrower than the operands' dtype {lhs_dtype.name}")
    return preferred


def _check_spec(name, spec, ndim):
    if sorted(spec) != list(range(ndim)):
        raise TypeError(f"conv_general_dilated: dimension_numbers.{name} {tuple(spec)} must be "
                        f"a permutation of range({ndim})")


@functools.lru_cache(maxsize=512)
def _type_rule(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
               dimension_numbers, feature_group_count, batch_group_count,
               preferred_element_type) -> tuple:
    """Validate a convolution of avals ``lhs`` and ``rhs``; returns (shape, dtype)."""
    check_dtype("conv_general_dilated", lhs, ANY, "lhs")
    check_dtype("conv_general_dilated", rhs, ANY, "rhs")
    if lhs.ndim != rhs.ndim or lhs.ndim < 2:
        raise TypeError(f"conv_general_dilated: lhs and rhs must have the same rank (at least "
                        f"2), got shapes {lhs.shape} and {rhs.shape}")
    if not isinstance(dimension_numbers, ConvDimensionNumbers):
        raise TypeError(f"conv_general_dilated: dimension_numbers must be a "
                        f"ConvDimensionNumbers, got {dimension_numbers!r}")
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    for name, spec in zip(("lhs_spec", "rhs_spec", "out_spec"), dimension_numbers, strict=True):
        _check_spec(name, spec, lhs.ndim)
    nsp = lhs.ndim - 2
    for name, value in (("window_strides", window_strides), ("padding", padding),
                        ("lhs_dilation", lhs_dilation), ("rhs_dilation", rhs_dilation)):
        if len(value) != nsp:
            raise TypeError(f"conv_general_dilated: {name} {tuple(value)} must have one entry "
                            f"per spatial dimension ({nsp})")
    for name, value in (("window_strides", window_strides), ("lhs_dilation", lhs_dilation),
                        ("rhs_dilation", rhs_dilation)):
        if any(v < 1 for v in value):
            raise ValueError(f"conv_general_dilated: {name} must be positive, got "
                             f"{tuple(value)}")
    fgc, bgc = feature_group_count, batch_group_count
    if fgc < 1 or bgc < 1:
        raise ValueError(f"conv_general_dilated: feature_group_count ({fgc}) and "
                         f"batch_group_count ({bgc}) must be positive integers")
    if fgc > 1 and bgc > 1:
        raise ValueError(f"conv_general_dilated: at most one of feature_group_count ({fgc}) "
                         f"and batch_group_count ({bgc}) may exceed 1")
    in_features = lhs.shape[lhs_spec[1]]
    out_features = rhs.shape[rhs_spec[0]]
    if in_features % fgc:
        raise ValueError(f"conv_general_dilated: feature_group_count {fgc} must divide the lhs "
                         f"feature dimension size {in_features} (lhs shape {lhs.shape})")
    if in_features // fgc != rhs.shape[rhs_spec[1]]:
        raise ValueError(f"conv_general_dilated: lhs feature dimension size {in_features} "
                         f"divided by feature_group_count {fgc} must equal the rhs input "
                         f"feature dimension size {rhs.shape[rhs_spec[1]]} (rhs shape "
                         f"{rhs.shape})")
    if out_features % (fgc * bgc):
        raise ValueError(f"conv_general_dilated: rhs output feature dimension size "
                         f"{out_features} must be a multiple of the group count {fgc * bgc}")
    if lhs.shape[lhs_spec[0]] % bgc:
        raise ValueError(f"conv_general_dilated: batch_group_count {bgc} must divide the lhs "
                         f"batch dimension size {lhs.shape[lhs_spec[0]]}")
    shape = conv_output_shape(lhs.shape, rhs.shape, window_strides=window_strides,
                              padding=padding, lhs_dilation=lhs_dilation,
                              rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
                              feature_group_count=fgc, batch_group_count=bgc)
    return shape, conv_dtype(lhs.dtype, rhs.dtype, preferred_element_type)


@conv_general_dilated_p.def_abstract_eval
def _conv_abstract_eval(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
                        dimension_numbers, feature_group_count, batch_group_count,
                        precision=None, preferred_element_type=None, out_sharding=None):
    shape, dtype = _type_rule(ShapedArray(lhs.shape, lhs.dtype), ShapedArray(rhs.shape, rhs.dtype),
                              window_strides, padding, lhs_dilation, rhs_dilation,
                              dimension_numbers, feature_group_count, batch_group_count,
                              preferred_element_type)
    return ShapedArray(shape, dtype, lhs.weak_type and rhs.weak_type)


# ---------------------------------------------------------------------------
# eager impl: im2col


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    if R.kind_of(dtype) == "f" and dtype.itemsize < 4:
        return np.dtype(np.float32)
    return dtype


def _dilate_and_pad(x, lhs_dilation, padding):
    """``x`` (N, C, *spatial) with zeros inserted between elements, then padded."""
    nsp = x.ndim - 2
    if any(d > 1 for d in lhs_dilation):
        shape = x.shape[:2] + tuple(_dilate(s, d)
                                    for s, d in zip(x.shape[2:], lhs_dilation, strict=True))
        dilated = np.zeros(shape, x.dtype)
        dilated[(slice(None), slice(None)) + tuple(slice(None, None, d)
                                                   for d in lhs_dilation)] = x
        x = dilated
    if any(lo < 0 or hi < 0 for lo, hi in padding):
        crop = tuple(slice(max(-lo, 0), max(size - max(-hi, 0), max(-lo, 0)))
                     for size, (lo, hi) in zip(x.shape[2:], padding, strict=True))
        x = x[(slice(None), slice(None)) + crop]
    if any(lo > 0 or hi > 0 for lo, hi in padding):
        x = np.pad(x, [(0, 0), (0, 0)] + [(max(lo, 0), max(hi, 0)) for lo, hi in padding])
    assert x.ndim == nsp + 2
    return x


def _conv_impl(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
               dimension_numbers, feature_group_count, batch_group_count, precision=None,
               preferred_element_type=None, out_sharding=None):
    lhs, rhs = np.asarray(lhs), np.asarray(rhs)
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    out_shape, out_dtype = _type_rule(
        ShapedArray(lhs.shape, lhs.dtype), ShapedArray(rhs.shape, rhs.dtype), window_strides,
        padding, lhs_dilation, rhs_dilation, dimension_numbers, feature_group_count,
        batch_group_count, preferred_element_type)
    compute = _compute_dtype(out_dtype if np.can_cast(lhs.dtype, out_dtype) else lhs.dtype)
    if 0 in out_shape or lhs.size == 0 or rhs.size == 0:
        return np.zeros(out_shape, out_dtype)
    x = np.transpose(lhs, lhs_spec).astype(compute, copy=False)   # (N, C, *S)
    w = np.transpose(rhs, rhs_spec).astype(compute, copy=False)   # (O, I, *K)
    x = np.ascontiguousarray(_dilate_and_pad(x, lhs_dilation, padding))
    nsp = x.ndim - 2
    out_sp = tuple(out_shape[out_spec[2 + k]] for k in range(nsp))
    geometry = (window_strides, rhs_dilation, feature_group_count, batch_group_count)
    if _kn2row_is_cheaper(x.shape, w.shape, out_sp, window_strides):
        out, canon_to_out = _conv_kn2row(x, w, out_sp, *geometry)
    else:
        out, canon_to_out = _conv_im2col(x, w, out_sp, *geometry)
    # canon_to_out[r] is the axis of ``out`` holding role r (batch, feature, spatial...)
    perm = [0] * (nsp + 2)
    for role, axis in enumerate(out_spec):
        perm[axis] = canon_to_out[role]
    return np.transpose(out, perm).astype(out_dtype, copy=False)


def _kn2row_is_cheaper(x_shape, w_shape, out_sp, strides) -> bool:
    """Estimated cost (memory traffic plus matmul work at BLAS's higher rate) of
    the two strategies; a Python-level step per kernel tap costs a fixed amount."""
    n, c = x_shape[:2]
    o, i = w_shape[:2]
    taps, padded, outs = (int(np.prod(s)) for s in (w_shape[2:], x_shape[2:], out_sp))
    flops_im2col = n * outs * o * i * taps
    im2col = n * c * taps * outs + flops_im2col / 16
    kn2row = taps * (o * n * padded + 20000) + n * c * padded + flops_im2col * (
        padded / max(outs, 1)) / 16
    return kn2row < im2col


def _conv_im2col(x, w, out_sp, strides, rhs_dilation, feature_group_count,
                 batch_group_count):
    """Copy every window into a column matrix, then one (batched) matmul.

    The columns are laid out (spatial, taps) or (taps, spatial), whichever lets the
    copy run along longer contiguous stretches of ``x``."""
    nsp = x.ndim - 2
    kernel = w.shape[2:]
    span = tuple(_dilate(k, d) for k, d in zip(kernel, rhs_dilation, strict=True))
    windows = sliding_window_view(x, span, axis=tuple(range(2, 2 + nsp)))
    windows = windows[(slice(None), slice(None))
                      + tuple(slice(None, (o - 1) * s + 1, s)
                              for o, s in zip(out_sp, strides, strict=True))
                      + tuple(slice(None, None, d) for d in rhs_dilation)]
    # windows: (N, C, *out_sp, *kernel)
    n = x.shape[0]
    o, i = w.shape[:2]
    groups = feature_group_count * batch_group_count
    nb, og = n // batch_group_count, o // groups
    ksize, ssize = int(np.prod(kernel)), int(np.prod(out_sp))
    sp_axes = tuple(range(3, 3 + nsp))
    k_axes = tuple(range(3 + nsp, 3 + 2 * nsp))
    if batch_group_count > 1:   # (B, Nb, C, ...) -> (Nb, B, C, ...)
        grouped = windows.reshape((batch_group_count, nb) + windows.shape[1:])
        grouped = grouped.transpose((1, 0, 2) + tuple(range(3, grouped.ndim)))
    else:                       # (N, G, I, ...)
        grouped = windows.reshape((n, feature_group_count, i) + windows.shape[2:])
    weights = w.reshape(groups, og, i * ksize)
    spatial_run = out_sp[-1] if strides[-1] == 1 else 1
    tap_run = kernel[-1] if rhs_dilation[-1] == 1 else 1
    if tap_run > spatial_run:   # columns (Nb, G, S, I*K) @ (G, I*K, Og) -> (Nb, G, S, Og)
        cols = np.ascontiguousarray(grouped.transpose((0, 1) + sp_axes + (2,) + k_axes)
                                    .reshape(nb, groups, ssize, i * ksize))
        out = np.matmul(cols, np.ascontiguousarray(weights.transpose(0, 2, 1)))
        if groups == 1:
            return (out.reshape((nb,) + out_sp + (o,)),
                    (0, nsp + 1) + tuple(range(1, nsp + 1)))
        return out.transpose(0, 1, 3, 2).reshape((nb, o) + out_sp), tuple(range(nsp + 2))
    # (G, Og, I*K) @ columns (Nb, G, I*K, S) -> (Nb, G, Og, S)
    cols = np.ascontiguousarray(grouped.transpose((0, 1, 2) + k_axes + sp_axes)
                                .reshape(nb, groups, i * ksize, ssize))
    out = np.matmul(np.ascontiguousarray(weights), cols)
    return out.reshape((nb, o) + out_sp), tuple(range(nsp + 2))


def _conv_kn2row(x, w, out_sp, strides, rhs_dilation, feature_group_count,
                 batch_group_count):
    """One matmul of each kernel tap with the whole input, then a shifted add.

    Cheaper than im2col when there are few output features and many input ones
    (e.g. the lhs cotangent of a convolution)."""
    nsp = x.ndim - 2
    n, c = x.shape[:2]
    o, i = w.shape[:2]
    padded = x.shape[2:]
    groups = feature_group_count * batch_group_count
    nb, og = n // batch_group_count, o // groups
    if batch_group_count > 1:   # rows (G, C, Nb * P)
        rows = x.reshape((groups, nb, c) + padded).swapaxes(1, 2)
    else:                       # rows (G, I, N * P)
        rows = x.reshape((n, groups, i) + padded).transpose((1, 2, 0) + tuple(
            range(3, 3 + nsp)))
    rows = np.ascontiguousarray(rows).reshape(groups, i, -1)
    weights = w.reshape((groups, og, i) + w.shape[2:])
    out = np.zeros((groups, og, nb) + out_sp, np.result_type(x.dtype, w.dtype))
    for tap in np.ndindex(*w.shape[2:]):
        product = np.matmul(np.ascontiguousarray(weights[(Ellipsis,) + tap]), rows)
        product = product.reshape((groups, og, nb) + padded)
        out += product[(Ellipsis,) + tuple(
            slice(t * d, t * d + (size - 1) * s + 1, s)
            for t, d, size, s in zip(tap, rhs_dilation, out_sp, strides, strict=True))]
    # (G, Og, Nb, *S): role batch is axis 2, feature spans axes 0-1
    return out.reshape((o, nb) + out_sp), (1, 0) + tuple(range(2, 2 + nsp))


conv_general_dilated_p.def_impl(_conv_impl)


# ---------------------------------------------------------------------------
# jvp: bilinear


@conv_general_dilated_p.def_jvp
def _conv_jvp(primals, tangents, **params):
    lhs, rhs = primals
    lhs_t, rhs_t = tangents
    out = conv_general_dilated_p.bind(lhs, rhs, **params)
    tangent = Zero(R.aval_of(out).to_tangent_aval())
    if type(lhs_t) is not Zero:
        tangent = R.add_tangents(tangent, conv_general_dilated_p.bind(lhs_t, rhs, **params))
    if type(rhs_t) is not Zero:
        tangent = R.add_tangents(tangent, conv_general_dilated_p.bind(lhs, rhs_t, **params))
    return out, tangent


# ---------------------------------------------------------------------------
# axis surgery used by the transpose and batching rules


def split_axis(x, axis: int, major: int):
    """Reshape ``axis`` (size n) into two axes (major, n // major) at axis, axis + 1."""
    shape = R.shape_of(x)
    return R.reshape(x, shape[:axis] + (major, shape[axis] // major) + shape[axis + 1:])


def merge_axis(x, src: int, dst: int):
    """Fold axis ``src`` into axis ``dst`` as its major part; returns (x, merged axis).

    One ``reshape`` whose ``dimensions`` permutation brings ``src`` next to ``dst``.
    """
    shape = R.shape_of(x)
    rest = [a for a in range(len(shape)) if a != src]
    pos = rest.index(dst)
    perm = tuple(rest[:pos] + [src] + rest[pos:])
    moved = tuple(shape[a] for a in perm)
    new_sizes = moved[:pos] + (moved[pos] * moved[pos + 1],) + moved[pos + 2:]
    if perm == tuple(range(len(shape))):
        return R.reshape(x, new_sizes), pos
    return R.registry["reshape"].bind(x, new_sizes=new_sizes, dimensions=perm,
                                      sharding=None), pos


def _rev(x, axes):
    axes = tuple(a for a in axes if R.shape_of(x)[a] > 1)
    if not axes:
        return x
    return R.registry["rev"].bind(x, dimensions=tuple(axes))


def _bind(lhs, rhs, **params):
    return conv_general_dilated_p.bind(lhs, rhs, **params)


def _match_dtype(x, dtype):
    return R.convert(x, dtype) if R.dtype_of(x) != dtype else x


# ---------------------------------------------------------------------------
# transpose


def _conv_transpose_lhs(ct, rhs, lhs_aval, *, window_strides, padding, lhs_dilation,
                        rhs_dilation, dimension_numbers, feature_group_count,
                        batch_group_count, precision=None, preferred_element_type=None,
                        out_sharding=None):
    """Cotangent of lhs: a convolution of ``ct`` with the flipped kernel, its strides
    turned into lhs dilation and its lhs dilation into strides."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    nsp = len(lhs_spec) - 2
    ct_shape, rhs_shape = R.shape_of(ct), R.shape_of(rhs)
    if 0 in ct_shape or 0 in rhs_shape or 0 in lhs_aval.shape:
        return R.zeros(lhs_aval)
    groups = feature_group_count * batch_group_count
    kernel = rhs
    if groups > 1:
        kernel = split_axis(kernel, rhs_spec[0], groups)
        src, dst = rhs_spec[0], rhs_spec[1] + (rhs_spec[1] > rhs_spec[0])
        kernel, _ = merge_axis(kernel, src, dst)
    kernel = _rev(kernel, rhs_spec[2:])
    new_padding = []
    for k in range(nsp):
        size = lhs_aval.shape[lhs_spec[2 + k]]
        out = ct_shape[out_spec[2 + k]]
        span = _dilate(rhs_shape[rhs_spec[2 + k]], rhs_dilation[k])
        lo = padding[k][0]
        new_padding.append((span - 1 - lo,
                            (size - 1) * lhs_dilation[k] + lo - (out - 1) * window_strides[k]))
    dtype = R.dtype_of(ct)
    dn = ConvDimensionNumbers(tuple(out_spec), (rhs_spec[1], rhs_spec[0]) + tuple(rhs_spec[2:]),
                              tuple(lhs_spec))
    result = _bind(ct, _match_dtype(kernel, dtype), window_strides=tuple(lhs_dilation),
                   padding=tuple(new_padding), lhs_dilation=tuple(window_strides),
                   rhs_dilation=tuple(rhs_dilation), dimension_numbers=dn,
                   feature_group_count=groups, batch_group_count=1, precision=precision,
                   preferred_element_type=None, out_sharding=None)
    if batch_group_count > 1:
        result = split_axis(result, lhs_spec[1], batch_group_count)
        src, dst = lhs_spec[1], lhs_spec[0] + (lhs_spec[0] > lhs_spec[1])
        result, _ = merge_axis(result, src, dst)
    return _match_dtype(result, lhs_aval.dtype)


def _conv_transpose_rhs(ct, lhs, rhs_aval, *, window_strides, padding, lhs_dilation,
                        rhs_dilation, dimension_numbers, feature_group_count,
                        batch_group_count, precision=None, preferred_element_type=None,
                        out_sharding=None):
    """Cotangent of rhs: a convolution of lhs (batch and feature roles swapped) with
    ``ct`` as the kernel; strides and rhs dilation trade places."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    nsp = len(lhs_spec) - 2
    ct_shape, lhs_shape = R.shape_of(ct), R.shape_of(lhs)
    if 0 in ct_shape or 0 in lhs_shape or 0 in rhs_aval.shape:
        return R.zeros(rhs_aval)
    new_padding = []
    for k in range(nsp):
        size = _dilate(lhs_shape[lhs_spec[2 + k]], lhs_dilation[k])
        out = ct_shape[out_spec[2 + k]]
        span = _dilate(rhs_aval.shape[rhs_spec[2 + k]], rhs_dilation[k])
        lo = padding[k][0]
        new_padding.append((lo, (out - 1) * window_strides[k] + span - size - lo))
    swap = lambda spec: (spec[1], spec[0]) + tuple(spec[2:])  # noqa: E731
    dn = ConvDimensionNumbers(swap(lhs_spec), swap(out_spec), swap(rhs_spec))
    dtype = R.dtype_of(ct)
    result = _bind(_match_dtype(lhs, dtype), ct, window_strides=tuple(rhs_dilation),
                   padding=tuple(new_padding), lhs_dilation=tuple(lhs_dilation),
                   rhs_dilation=tuple(window_strides), dimension_numbers=dn,
                   feature_group_count=batch_group_count,
                   batch_group_count=feature_group_count, precision=precision,
                   preferred_element_type=None, out_sharding=None)
    return _match_dtype(result, rhs_aval.dtype)


@conv_general_dilated_p.def_transpose
def _conv_transpose(ct, lhs, rhs, **params):
    lhs_undef, rhs_undef = is_undefined_primal(lhs), is_undefined_primal(rhs)
    if lhs_undef and rhs_undef:
        raise ValueError("conv_general_dilated is bilinear: it cannot be transposed with "
                         "respect to both operands at once")
    if type(ct) is Zero:
        return [Zero(lhs.aval) if lhs_undef else None, Zero(rhs.aval) if rhs_undef else None]
    if lhs_undef:
        return [_conv_transpose_lhs(ct, rhs, lhs.aval, **params), None]
    return [None, _conv_transpose_rhs(ct, lhs, rhs.aval, **params)]


# ---------------------------------------------------------------------------
# batching: the mapped axis is folded into the batch axis (lhs mapped), the
# output-feature axis (rhs mapped) or the groups (both mapped), then split out


def _unbatched_index(axis: int, bdim: int) -> int:
    """Where unbatched axis ``axis`` sits in an array whose mapped axis is ``bdim``."""
    return axis + (axis >= bdim)


def _fold_into_groups(x, bdim, axis, groups):
    """Fold mapped axis ``bdim`` into unbatched ``axis`` (size groups * m) so that it
    becomes groups * (mapped * m), keeping the group-major order."""
    axis_b = _unbatched_index(axis, bdim)
    x = split_axis(x, axis_b, groups)            # (groups, m) at axis_b, axis_b + 1
    mapped = bdim if bdim < axis_b else bdim + 1
    x, pos = merge_axis(x, mapped, axis_b + 1)   # (groups, mapped * m)
    x, _ = merge_axis(x, pos - 1, pos)
    return x


@conv_general_dilated_p.def_batch
def _conv_batch(args, dims, **params):
    lhs, rhs = args
    ld, rd = dims
    lhs_spec, rhs_spec, out_spec = params["dimension_numbers"]
    fgc, bgc = params["feature_group_count"], params["batch_group_count"]
    if ld is not None and rd is not None:
        size = R.shape_of(lhs)[ld]
        if bgc > 1:
            lhs, _ = merge_axis(lhs, ld, _unbatched_index(lhs_spec[0], ld))
            params = dict(params, batch_group_count=bgc * size)
        else:
            lhs, _ = merge_axis(lhs, ld, _unbatched_index(lhs_spec[1], ld))
            params = dict(params, feature_group_count=fgc * size)
        rhs, _ = merge_axis(rhs, rd, _unbatched_index(rhs_spec[0], rd))
        out = _bind(lhs, rhs, **params)
        return split_axis(out, out_spec[1], size), out_spec[1]
    if ld is not None:
        size = R.shape_of(lhs)[ld]
        if bgc > 1:
            lhs = _fold_into_groups(lhs, ld, lhs_spec[0], bgc)
        else:
            lhs, _ = merge_axis(lhs, ld, _unbatched_index(lhs_spec[0], ld))
        out = _bind(lhs, rhs, **params)
        return split_axis(out, out_spec[0], size), out_spec[0]
    size = R.shape_of(rhs)[rd]
    groups = fgc * bgc
    if groups > 1:
        rhs = _fold_into_groups(rhs, rd, rhs_spec[0], groups)
    else:
        rhs, _ = merge_axis(rhs, rd, _unbatched_index(rhs_spec[0], rd))
    out = _bind(lhs, rhs, **params)
    f = out_spec[1]
    if groups > 1:   # features are (groups, mapped, m): move the mapped axis first
        out = split_axis(out, f, groups)
        out = split_axis(out, f + 1, size)
        out, _ = merge_axis(out, f, f + 2)
        return out, f
    return split_axis(out, f, size), f
