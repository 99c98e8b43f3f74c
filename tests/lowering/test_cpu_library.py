"""Native library calls of the CPU compiler (cumulative ops, sort, top_k, gather and
the scatter family) against the reference interpreter (``eval_jaxpr`` on the eager
impls), over drawn shapes (empty, unit, odd, rows for both sort algorithms),
dtypes, parameters, NaN/signed-zero data and out-of-bounds indices in every
mode; each program must run without falling back, with and without compiled
bounds checks.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fx
import fx.numpy as jnp
from fx._testing import assert_same, close, compile_and_compare, gather_cases
from fx import lax
from lowering.cpu.compile import compile as compile_native
from lowering.cpu.lib_sort import INSERTION_MAX
from primitives import cumulative, sort as sort_prims
from primitives.indexing import (GatherScatterMode,
                                 ScatterDimensionNumbers, gather_p, scatter_add_p, scatter_max_p,
                                 scatter_min_p, scatter_mul_p, scatter_p, scatter_sub_p)

SETTINGS = settings(max_examples=25, deadline=None)
MODES = [GatherScatterMode.CLIP, GatherScatterMode.FILL_OR_DROP,
         GatherScatterMode.PROMISE_IN_BOUNDS]
_SPECIALS = np.array([np.nan, -np.nan, -0.0, 0.0, np.inf, -np.inf, 1.0, -1.0])


def _check(f, *args, bounds_check=False, rtol=0.0):
    # 64-bit operands keep their dtype; floats bit for bit unless rtol allows rounding
    return compile_and_compare(f, *args, bounds_check=bounds_check, x64=True,
                               compare=close(rtol) if rtol else assert_same)[1]


def _data(rng, shape, dtype, specials=True, low=-3, high=4):
    """Values of ``dtype`` with ties; floats mix in NaN, signed zeros and infinities."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(max(low, info.min), min(high, info.max) + 1, shape).astype(dtype)
    x = np.array(rng.standard_normal(shape).round(1), dtype=dtype)
    if specials and x.size:
        mask = rng.random(shape) < 0.4
        x[mask] = rng.choice(_SPECIALS, int(mask.sum())).astype(dtype)
    return x


_shapes = st.lists(st.sampled_from([0, 1, 2, 3, 5, 7]), min_size=1, max_size=3).map(tuple)
_seeds = st.integers(0, 2 ** 31 - 1)

# ---------------------------------------------------------------------------
# cumulative ops

_CUMULATIVE = {"cumsum": cumulative.cumsum_p, "cumprod": cumulative.cumprod_p,
               "cummax": cumulative.cummax_p, "cummin": cumulative.cummin_p,
               "cumlogsumexp": cumulative.cumlogsumexp_p}


@SETTINGS
@given(name=st.sampled_from(sorted(_CUMULATIVE)), shape=_shapes,
       dtype=st.sampled_from(["float32", "float64", "int32", "uint8", "int8", "int64", "bool"]),
       data=st.data(), reverse=st.booleans(), seed=_seeds, bounds_check=st.booleans())
def test_cumulative(name, shape, dtype, data, reverse, seed, bounds_check):
    dtype = np.dtype(dtype)
    if (name in ("cumsum", "cumprod") and dtype == np.bool_) or \
            (name == "cumlogsumexp" and dtype.kind != "f"):
        return
    axis = data.draw(st.integers(0, len(shape) - 1))
    x = _data(np.random.default_rng(seed), shape, dtype)
    p = _CUMULATIVE[name]
    rtol = (2e-5 if dtype == np.float32 else 1e-12) if name == "cumlogsumexp" else 0.0
    _check(lambda x: p.bind(x, axis=axis, reverse=reverse), x, bounds_check=bounds_check,
           rtol=rtol)


def test_signed_zero_ties_and_nan():
    # np.maximum(a, b) returns b unless a > b or a is NaN: of equal zeros the newer one
    x = np.array([0.0, -0.0, 0.0, -0.0, -0.0, 0.0, np.nan, 1.0, -0.0], np.float32)
    for reverse in (False, True):
        _check(lambda x, r=reverse: (lax.cummax(x, 0, reverse=r), lax.cummin(x, 0, reverse=r),
                                     lax.cumsum(x, 0, reverse=r)), x)
    operand = np.array([0.0, -0.0, np.nan, 1.0], np.float32)
    idx = np.array([[0], [0], [1], [1], [2], [3], [3]], np.int32)
    upd = np.array([-0.0, 0.0, 0.0, -0.0, 1.0, np.nan, 2.0], np.float32)
    dn = ScatterDimensionNumbers((), (0,), (0,))
    for p in (scatter_min_p, scatter_max_p):
        _check(lambda x, i, u, p=p: p.bind(x, i, u, dimension_numbers=dn,
                                           indices_are_sorted=False, unique_indices=False,
                                           mode=GatherScatterMode.CLIP, update_jaxpr=None,
                                           update_consts=()), operand, idx, upd)


def test_cumulative_long_rows_and_wrapping():
    rng = np.random.default_rng(0)
    x = rng.integers(-100, 100, (3, 300)).astype(np.int8)
    _check(lambda x: (jnp.cumsum(x, axis=1, dtype=np.int8), lax.cumprod(x, 1),
                      lax.cummax(x, 0, reverse=True)), x)
    y = rng.standard_normal((4, 200)).astype(np.float32)
    _check(lambda y: (jnp.cumsum(y, axis=1), lax.cumlogsumexp(y, 1, reverse=True)), y,
           rtol=2e-5)


# ---------------------------------------------------------------------------
# sort and top_k

_SORT_DTYPES = ["float32", "float64", "int32", "uint8", "int8", "int64", "uint16", "bool"]
_sort_shapes = st.lists(st.sampled_from([0, 1, 2, 3, 5, INSERTION_MAX, INSERTION_MAX + 1, 40]),
                        min_size=1, max_size=3).map(tuple).filter(
                            lambda s: int(np.prod(s)) <= 4000)


@SETTINGS
@given(shape=_sort_shapes, dtypes=st.lists(st.sampled_from(_SORT_DTYPES), min_size=1,
                                           max_size=3),
       data=st.data(), seed=_seeds, bounds_check=st.booleans())
def test_sort(shape, dtypes, data, seed, bounds_check):
    rng = np.random.default_rng(seed)
    dimension = data.draw(st.integers(0, len(shape) - 1))
    num_keys = data.draw(st.integers(1, len(dtypes)))
    is_stable = data.draw(st.booleans())
    operands = [_data(rng, shape, d) for d in dtypes]

    def f(*ops):
        return sort_prims.sort_p.bind(*ops, dimension=dimension, is_stable=is_stable,
                                      num_keys=num_keys)
    _check(f, *operands, bounds_check=bounds_check)


@SETTINGS
@given(shape=_sort_shapes, dtype=st.sampled_from(_SORT_DTYPES), data=st.data(), seed=_seeds,
       bounds_check=st.booleans())
def test_argsort_and_top_k(shape, dtype, data, seed, bounds_check):
    x = _data(np.random.default_rng(seed), shape, dtype)
    axis = data.draw(st.integers(0, len(shape) - 1))
    k = data.draw(st.integers(0, shape[axis]))
    _check(lambda x: jnp.argsort(x, axis=axis), x, bounds_check=bounds_check)
    _check(lambda x: sort_prims.top_k_p.bind(x, k=k, axis=axis), x,
           bounds_check=bounds_check)


def test_sort_long_rows_wide_keys():
    rng = np.random.default_rng(1)
    # 64-bit keys with a narrow range: most radix bytes are skipped
    keys = rng.integers(-5, 5, 5000).astype(np.int64)
    big = rng.integers(0, 2 ** 63, 5000, dtype=np.uint64)
    vals = rng.standard_normal(5000)
    vals[::7] = np.nan
    vals[::11] = -0.0
    _check(lambda k, b, v: lax.sort((k, b, v), num_keys=2), keys, big, vals)
    _check(lambda v, k: lax.sort((v, k), num_keys=2), vals, keys)
    _check(lambda v: lax.top_k(v, 17), vals)
    # dropped outputs (argsort) and a column sort
    m = rng.standard_normal((60, 3)).astype(np.float32)
    _check(lambda m: jnp.argsort(m, axis=0), m, bounds_check=True)


def test_sort_order_matches_jax():
    jax = pytest.importorskip("jax")
    x = np.array([np.nan, 1.0, -0.0, -np.inf, 0.0, np.inf, -1.0, np.nan, 0.0, -0.0],
                 np.float32)
    x = np.concatenate([x] * 4)  # long enough for the radix path too
    for n in (10, 40):
        v = x[:n]
        idx = np.arange(n, dtype=np.int32)
        exe = compile_native(fx.make_jaxpr(lambda a, b: lax.sort((a, b), num_keys=1))(v, idx))
        got = exe([v, idx])
        want = jax.lax.sort((v, idx), num_keys=1, is_stable=True)
        np.testing.assert_array_equal(got[1], np.asarray(want[1]))
        # JAX's top_k ranks 0.0 above -0.0 where the eager impl ties them: compare
        # without negative zeros
        w = np.where(v == 0, 0.0, v).astype(np.float32)
        got_k = compile_native(fx.make_jaxpr(lambda a: lax.top_k(a, 6))(w))([w])
        want_k = jax.lax.top_k(w, 6)
        np.testing.assert_array_equal(got_k[1], np.asarray(want_k[1]))


# ---------------------------------------------------------------------------
# gather and scatter over drawn dimension numbers


def _indices(rng, batch_shape, dn, shape, dtype):
    bound = max(shape) + 3
    values = rng.integers(-3, bound, tuple(batch_shape) + (len(dn.start_index_map),))
    return values.astype(dtype)


_GATHER_DTYPES = ["float32", "float64", "int32", "uint8", "int64", "bool"]
_INDEX_DTYPES = ["int32", "int64", "uint8", "int8"]


@SETTINGS
@given(case=gather_cases(), dtype=st.sampled_from(_GATHER_DTYPES),
       index_dtype=st.sampled_from(_INDEX_DTYPES), mode=st.sampled_from(MODES),
       fill=st.sampled_from([None, 7]), seed=_seeds, bounds_check=st.booleans())
def test_gather(case, dtype, index_dtype, mode, fill, seed, bounds_check):
    shape, batch_shape, dn, slice_sizes = case
    rng = np.random.default_rng(seed)
    x = _data(rng, shape, dtype)
    idx = _indices(rng, batch_shape, dn, shape, index_dtype)

    def f(x, idx):
        return gather_p.bind(x, idx, dimension_numbers=dn, slice_sizes=slice_sizes,
                             indices_are_sorted=False, unique_indices=False, mode=mode,
                             fill_value=fill)
    _check(f, x, idx, bounds_check=bounds_check)


_SCATTERS = {"scatter": scatter_p, "scatter-add": scatter_add_p, "scatter-sub": scatter_sub_p,
             "scatter-mul": scatter_mul_p, "scatter-min": scatter_min_p,
             "scatter-max": scatter_max_p}


@SETTINGS
@given(case=gather_cases(), name=st.sampled_from(sorted(_SCATTERS)),
       dtype=st.sampled_from(_GATHER_DTYPES), index_dtype=st.sampled_from(_INDEX_DTYPES),
       mode=st.sampled_from(MODES), seed=_seeds, bounds_check=st.booleans())
def test_scatter(case, name, dtype, index_dtype, mode, seed, bounds_check):
    if dtype == "bool" and name == "scatter-sub":
        return
    shape, batch_shape, gdn, slice_sizes = case
    rng = np.random.default_rng(seed)
    dn = ScatterDimensionNumbers(gdn.offset_dims, gdn.collapsed_slice_dims,
                                 gdn.start_index_map, gdn.operand_batching_dims,
                                 gdn.start_indices_batching_dims)
    out_aval = gather_p.abstract_eval(
        fx.core.ShapedArray(shape, np.dtype(dtype)),
        fx.core.ShapedArray(tuple(batch_shape) + (len(gdn.start_index_map),), np.int32),
        dimension_numbers=gdn, slice_sizes=slice_sizes, mode=mode)
    out_aval = out_aval[0] if isinstance(out_aval, (list, tuple)) else out_aval
    x = _data(rng, shape, dtype)
    idx = _indices(rng, batch_shape, gdn, shape, index_dtype)
    updates = _data(rng, out_aval.shape, dtype)

    def f(x, idx, u):
        return _SCATTERS[name].bind(x, idx, u, dimension_numbers=dn, indices_are_sorted=False,
                                    unique_indices=False, mode=mode, update_jaxpr=None,
                                    update_consts=())
    _check(f, x, idx, updates, bounds_check=bounds_check)


def test_numpy_style_indexing():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    i = np.array([0, -1, 3, 9, -7, 3], np.int32)
    _check(lambda x, i: (x[i], x[:, i % 5], x[i, 2], x.at[i].add(1.0), x.at[i].set(2.0),
                         x.at[i, 1].min(-5.0, mode="drop"),
                         x.at[i].max(0.5, mode="clip"),
                         jnp.take(x, i, axis=1, mode="fill", fill_value=-1.0)),
           x, i, bounds_check=True)
    y = rng.standard_normal((4, 7))
    j = rng.integers(0, 7, (4, 3)).astype(np.int32)
    _check(lambda y, j: jnp.take_along_axis(y, j, axis=1), y, j)
    _check(lambda y, j: fx.vmap(lambda r, k: r[k])(y, j), y, j)
    _check(lambda y, j: fx.vmap(lambda r, k: r.at[k].add(1.0))(y, j), y, j)


def test_scatter_repeated_indices_in_order():
    x = np.zeros(4, np.float32)
    i = np.array([[1], [1], [1], [2]], np.int32)
    u = np.array([1e8, 1.0, -1e8, 3.0], np.float32)  # the order of the sums shows
    dn = ScatterDimensionNumbers((), (0,), (0,))
    for p in _SCATTERS.values():
        _check(lambda x, i, u, p=p: p.bind(x, i, u, dimension_numbers=dn,
                                           indices_are_sorted=False, unique_indices=False,
                                           mode=GatherScatterMode.FILL_OR_DROP,
                                           update_jaxpr=None, update_consts=()), x, i, u)
