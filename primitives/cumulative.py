"""Cumulative reductions along one axis: cumsum, cumprod, cummax, cummin,
cumlogsumexp (``reverse=True`` accumulates from the end).

Invariants: the output has the operand's shape, dtype and weak type; ``axis``
is a non-negative axis of the operand. Integer accumulations wrap around as
in XLA. Batching shifts ``axis`` past the batch dimension, which stays put.
cummax/cummin differentiate through ``select_and_gather_add`` over the prefix
(suffix) windows, so their derivatives compose like max pooling's.
"""
from __future__ import annotations

import numpy as np

from fx import dtypes
from fx.core import ShapedArray, Zero
from primitives import _rules as R
from primitives._rules import BOOL, FLOAT, INT, NUMERIC, check_dtype, new_primitive
from primitives.windowed import select_and_gather_add_p, validated


def _check_axis(name, x, axis):
    if not isinstance(axis, (int, np.integer)) or not 0 <= axis < x.ndim:
        raise ValueError(f"{name}: axis {axis} is out of bounds for an operand of shape "
                         f"{x.shape}; expected 0 <= axis < {x.ndim}")


def _compute_dtype(dtype):
    """NumPy has no bfloat16 ufunc loops: accumulate those in float32."""
    return dtypes.float32 if dtype == dtypes.bfloat16 else dtype


def cumulative(name, accumulate, kinds):
    """A cumulative primitive whose NumPy impl is ``accumulate(x, axis)``."""
    p = new_primitive(name)

    @p.def_abstract_eval
    def abstract_eval(x, *, axis, reverse):
        check_dtype(name, x, kinds)
        _check_axis(name, x, axis)
        return ShapedArray(x.shape, x.dtype, x.weak_type)

    def impl(x, *, axis, reverse):
        work = x.astype(_compute_dtype(x.dtype), copy=False)
        if reverse:
            work = np.flip(work, axis)
        with np.errstate(all="ignore"):
            out = np.asarray(accumulate(work, axis))
        if reverse:
            out = np.flip(out, axis)
        return np.ascontiguousarray(out.astype(x.dtype, copy=False))

    p.def_impl(validated(p, impl))

    @p.def_batch
    def batch(args, dims, *, axis, reverse):
        (x,), (d,) = args, dims
        return p.bind(x, axis=axis + 1 if d <= axis else axis, reverse=reverse), d

    return p


cumsum_p = cumulative("cumsum", lambda x, a: np.cumsum(x, axis=a, dtype=x.dtype), NUMERIC)
cumprod_p = cumulative("cumprod", lambda x, a: np.cumprod(x, axis=a, dtype=x.dtype), NUMERIC)
cummax_p = cumulative("cummax", lambda x, a: np.maximum.accumulate(x, axis=a),
                      FLOAT + INT + BOOL)
cummin_p = cumulative("cummin", lambda x, a: np.minimum.accumulate(x, axis=a),
                      FLOAT + INT + BOOL)
cumlogsumexp_p = cumulative("cumlogsumexp", lambda x, a: np.logaddexp.accumulate(x, axis=a),
                            FLOAT)


# ---------------------------------------------------------------------------
# cumsum: linear; its transpose accumulates the other way


@cumsum_p.def_jvp
def _cumsum_jvp(primals, tangents, *, axis, reverse):
    (x,), (t,) = primals, tangents
    return (cumsum_p.bind(x, axis=axis, reverse=reverse),
            cumsum_p.bind(t, axis=axis, reverse=reverse))


@cumsum_p.def_transpose
def _cumsum_transpose(ct, x, *, axis, reverse):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    return [cumsum_p.bind(ct, axis=axis, reverse=not reverse)]


# ---------------------------------------------------------------------------
# cumprod


@cumprod_p.def_jvp
def _cumprod_jvp(primals, tangents, *, axis, reverse):
    """d y_i = sum_{j<=i} t_j prod_{k<=i, k!=j} x_k, exact where x has zeros.

    With c_i the product of the nonzero x_k (k <= i), S_i = sum of t_k / x_k over
    them, and z_i the number of zeros, at positions a (first zero) and b (second):
    z_i = 0 gives c_i S_i; z_i = 1 gives c_i (t_a + x_a S_i); z_i = 2 gives
    c_i (x_b t_a + x_a t_b + x_a x_b S_i); more zeros give 0. The x_a, x_b factors
    are 0 in value but keep second derivatives exact.
    """
    (x,), (t,) = primals, tangents
    y = cumprod_p.bind(x, axis=axis, reverse=reverse)
    dtype, shape = R.dtype_of(x), R.shape_of(x)
    count_dtype = dtypes.int32
    zero, one = R.full(shape, 0, dtype), R.full(shape, 1, dtype)
    eq = R.registry["eq"]

    def accumulate(v):
        return cumsum_p.bind(v, axis=axis, reverse=reverse)

    is_zero = eq.bind(x, zero)
    nonzero_x = R.select_n(is_zero, x, one)
    zeros_so_far = accumulate(R.convert(is_zero, count_dtype))
    nonzero_product = cumprod_p.bind(nonzero_x, axis=axis, reverse=reverse)
    inverse_sum = accumulate(R.mul(t, R.select_n(is_zero, R.div(one, nonzero_x), zero)))
    at_zero = []
    for k in (1, 2):
        mark = R.convert(R.registry["and"].bind(
            is_zero, eq.bind(zeros_so_far, R.full(shape, k, count_dtype))), dtype)
        at_zero.append((accumulate(R.mul(x, mark)), accumulate(R.mul(t, mark))))
    (x_a, t_a), (x_b, t_b) = at_zero
    one_zero = R.add(t_a, R.mul(x_a, inverse_sum))
    two_zeros = R.add(R.add(R.mul(x_b, t_a), R.mul(x_a, t_b)),
                      R.mul(R.mul(x_a, x_b), inverse_sum))
    cases = [R.mul(nonzero_product, inverse_sum), R.mul(nonzero_product, one_zero),
             R.mul(nonzero_product, two_zeros), zero]
    which = R.registry["min"].bind(zeros_so_far, R.full(shape, 3, count_dtype))
    return y, R.select_n(which, *cases)


# ---------------------------------------------------------------------------
# cummax, cummin: the tangent at the running arg-extremum


def _prefix_windows(shape, axis, reverse):
    n = shape[axis]
    nd = len(shape)
    pad = (0, n - 1) if reverse else (n - 1, 0)
    return dict(window_dimensions=tuple(n if i == axis else 1 for i in range(nd)),
                window_strides=(1,) * nd,
                padding=tuple(pad if i == axis else (0, 0) for i in range(nd)),
                base_dilation=(1,) * nd, window_dilation=(1,) * nd)


def _chooser_jvp(p, select_prim_name):
    def jvp(primals, tangents, *, axis, reverse):
        (x,), (t,) = primals, tangents
        y = p.bind(x, axis=axis, reverse=reverse)
        shape = R.shape_of(x)
        if 0 in shape:
            return y, t
        return y, select_and_gather_add_p.bind(
            t, x, select_prim=R.registry[select_prim_name],
            **_prefix_windows(shape, axis, reverse))
    return jvp


cummax_p.def_jvp(_chooser_jvp(cummax_p, "ge"))
cummin_p.def_jvp(_chooser_jvp(cummin_p, "le"))


# ---------------------------------------------------------------------------
# cumlogsumexp


@cumlogsumexp_p.def_jvp
def _cumlogsumexp_jvp(primals, tangents, *, axis, reverse):
    """d y_i = sum_{j<=i} t_j exp(x_j - y_i), shifted by the (constant) max along axis."""
    (x,), (t,) = primals, tangents
    y = cumlogsumexp_p.bind(x, axis=axis, reverse=reverse)
    shape, dtype = R.shape_of(x), R.dtype_of(x)
    if 0 in shape:
        return y, t
    top = R.registry["reduce_max"].bind(x, axes=(axis,), out_sharding=None)
    kept = tuple(i for i in range(len(shape)) if i != axis)
    top = R.broadcast_in_dim(R.registry["stop_gradient"].bind(top), shape, kept)
    finite = R.registry["is_finite"].bind(top)
    top = R.select_n(finite, R.full(shape, 0, dtype), top)
    weights = R.registry["exp"].bind(R.sub(x, top))
    numerator = cumsum_p.bind(R.mul(t, weights), axis=axis, reverse=reverse)
    denominator = R.registry["exp"].bind(R.sub(y, top))
    empty = R.registry["eq"].bind(denominator, R.full(shape, 0, dtype))
    safe = R.select_n(empty, denominator, R.full(shape, 1, dtype))
    return y, R.div(numerator, safe)


__all__ = ["cumsum_p", "cumprod_p", "cummax_p", "cummin_p", "cumlogsumexp_p"]
