"""Tests of fx.numpy's cumulative, sorting, searching, unique and nonzero functions
(fx/numpy/_sorting.py): values and dtypes vs NumPy (hypothesis over shapes and
axes), the static ``size=`` forms under jit vs eager, ConcretizationTypeError
without ``size=``, derivatives through sort/cumsum (finite differences), vmap vs a
Python loop, and JAX's jax.numpy as an oracle where NumPy and JAX differ.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx.errors import ConcretizationTypeError
from fx.test_util import check_grads


def rand(shape, seed=0, dtype=np.float32, low=-3, high=3):
    rng = np.random.RandomState(seed)
    if np.dtype(dtype).kind in "iu":
        return rng.randint(max(low, 0) if np.dtype(dtype).kind == "u" else low, high,
                           size=shape).astype(dtype)
    if np.dtype(dtype).kind == "b":
        return rng.rand(*shape) < 0.5
    return rng.uniform(low, high, size=shape).astype(dtype)


# ---------------------------------------------------------------------------
# cumulative


@pytest.mark.parametrize("fn", ["cumsum", "cumprod", "nancumsum", "nancumprod"])
@given(data=st.data())
def test_cumulative_matches_numpy(fn, data):
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    dtype = data.draw(st.sampled_from([np.float32, np.int32, np.int8]))
    x = rand(shape, len(shape), dtype, -2, 3)
    if dtype == np.float32 and fn.startswith("nan"):
        x[x > 2] = np.nan
    out = getattr(fnp, fn)(x, axis=axis)
    expected = getattr(np, fn)(x, axis=axis, dtype=x.dtype)
    assert out.dtype == x.dtype and out.shape == expected.shape
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-5)


def test_cumulative_dtypes():
    assert fnp.cumsum(np.array([True, True, False])).dtype == np.int32
    np.testing.assert_array_equal(np.asarray(fnp.cumsum(np.array([True, True]))), [1, 2])
    assert fnp.cumsum(np.ones(3, np.int8)).dtype == np.int8
    assert fnp.cumprod(np.ones(3, np.int32), dtype=np.float32).dtype == np.float32
    assert fnp.cumsum(3.0).shape == (1,)
    np.testing.assert_array_equal(np.asarray(fnp.array([[1, 2], [3, 4]]).cumsum()),
                                  [1, 3, 6, 10])


def test_cumulative_sum_and_prod():
    x = np.array([[1, 2, 3], [4, 5, 6]], np.int32)
    np.testing.assert_array_equal(np.asarray(fnp.cumulative_sum(x, axis=1)),
                                  np.cumsum(x, 1))
    np.testing.assert_array_equal(
        np.asarray(fnp.cumulative_sum(x, axis=0, include_initial=True)),
        np.concatenate([np.zeros((1, 3), np.int32), np.cumsum(x, 0)]))
    np.testing.assert_array_equal(
        np.asarray(fnp.cumulative_prod(x[0], include_initial=True)), [1, 1, 2, 6])
    with pytest.raises(ValueError, match="axis must be given"):
        fnp.cumulative_sum(x)
    with pytest.raises(ValueError, match="scalar"):
        fnp.cumulative_prod(np.int32(3))


# ---------------------------------------------------------------------------
# sort, argsort, lexsort, partition


@given(data=st.data())
def test_sort_and_argsort_match_numpy(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    descending = data.draw(st.booleans())
    x = rand(shape, len(shape), np.int32, 0, 3)  # many ties: stability matters
    out = fnp.sort(x, axis=axis, descending=descending)
    perm = fnp.argsort(x, axis=axis, descending=descending)
    flat = x.ravel() if axis is None else x
    ax = -1 if axis is None else axis
    if descending:
        want_perm = np.argsort(-flat.astype(np.int64), axis=ax, kind="stable")
        want = np.take_along_axis(flat, want_perm, ax)
    else:
        want_perm = np.argsort(flat, axis=ax, kind="stable")
        want = np.sort(flat, axis=ax)
    np.testing.assert_array_equal(np.asarray(out), want)
    np.testing.assert_array_equal(np.asarray(perm), want_perm)
    assert perm.dtype == np.int32


def test_sort_nan_and_descending():
    x = np.array([1.0, np.nan, 3.0, -0.0, 0.0], np.float32)
    np.testing.assert_array_equal(np.asarray(fnp.sort(x)), [-0.0, 0.0, 1.0, 3.0, np.nan])
    np.testing.assert_array_equal(np.asarray(fnp.sort(x, descending=True)),
                                  [np.nan, 3.0, 1.0, 0.0, -0.0])
    np.testing.assert_array_equal(np.asarray(fnp.argsort(x, descending=True)),
                                  [1, 2, 0, 3, 4])
    np.testing.assert_array_equal(np.asarray(fnp.array([3, 1, 2]).sort()), [1, 2, 3])
    np.testing.assert_array_equal(np.asarray(fnp.sort_complex(np.array([3, 1], np.int32))),
                                  [1, 3])
    assert fnp.sort_complex(np.array([3.0, 1.0], np.float32)).dtype == np.complex64
    with pytest.raises(ValueError, match="order"):
        fnp.sort(x, order="a")


def test_lexsort():
    rng = np.random.RandomState(1)
    keys = [rng.randint(0, 3, (4, 6)), rng.randint(0, 2, (4, 6)), rng.randn(4, 6)]
    for axis in (0, 1, -1):
        np.testing.assert_array_equal(np.asarray(fnp.lexsort(keys, axis=axis)),
                                      np.lexsort(keys, axis=axis))
    stacked = np.stack(keys[:2])
    np.testing.assert_array_equal(np.asarray(fnp.lexsort(stacked)), np.lexsort(stacked))


@given(data=st.data())
def test_partition_property(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 6), min_size=1, max_size=2)))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    kth = data.draw(st.integers(-shape[axis], shape[axis] - 1))
    x = rand(shape, sum(shape), np.int32, 0, 4)
    part = np.moveaxis(np.asarray(fnp.partition(x, kth, axis)), axis, -1)
    idx = np.moveaxis(np.asarray(fnp.argpartition(x, kth, axis)), axis, -1)
    moved = np.moveaxis(x, axis, -1)
    k = kth % shape[axis]
    pivot = np.sort(moved, -1)[..., k]
    np.testing.assert_array_equal(part[..., k], pivot)
    assert (part[..., :k] <= pivot[..., None]).all()
    assert (part[..., k + 1:] >= pivot[..., None]).all()
    np.testing.assert_array_equal(np.sort(part, -1), np.sort(moved, -1))
    np.testing.assert_array_equal(np.take_along_axis(moved, idx, -1)[..., k], pivot)
    np.testing.assert_array_equal(np.sort(idx, -1), np.broadcast_to(
        np.arange(shape[axis]), idx.shape))


# ---------------------------------------------------------------------------
# searchsorted


@pytest.mark.parametrize("method", ["scan", "scan_unrolled", "sort", "compare_all"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted(method, side):
    rng = np.random.RandomState(2)
    a = np.sort(rng.randint(0, 6, 9)).astype(np.float32)
    a = np.concatenate([a, [np.nan, np.nan]]).astype(np.float32)
    v = np.array([[-1.0, 0.0, 2.5, 3.0], [5.0, 6.0, np.nan, np.inf]], np.float32)
    out = fnp.searchsorted(a, v, side=side, method=method)
    assert out.dtype == np.int32 and out.shape == v.shape
    np.testing.assert_array_equal(np.asarray(out), np.searchsorted(a, v, side=side))
    perm = rng.permutation(len(a))
    shuffled = a[np.argsort(perm)]  # shuffled[perm] == a
    np.testing.assert_array_equal(
        np.asarray(fnp.searchsorted(shuffled, v, side=side, sorter=perm, method=method)),
        np.searchsorted(a, v, side=side))
    jitted = fx.jit(lambda x, y: fnp.searchsorted(x, y, side=side, method=method))(a, v)
    np.testing.assert_array_equal(np.asarray(jitted), np.asarray(out))


def test_searchsorted_edge_cases():
    assert np.asarray(fnp.searchsorted(np.array([1, 2, 3]), 2)).shape == ()
    assert int(fnp.searchsorted(np.array([1, 2, 3]), 2, side="right")) == 2
    np.testing.assert_array_equal(
        np.asarray(fnp.searchsorted(np.zeros(0, np.float32), np.ones(2, np.float32))), [0, 0])
    c = np.array([1 + 0j, 1 + 1j, 2 - 1j], np.complex64)
    np.testing.assert_array_equal(
        np.asarray(fnp.searchsorted(c, np.array([1 + 0.5j, 3j], np.complex64))), [1, 0])
    with pytest.raises(ValueError, match="side"):
        fnp.searchsorted(np.ones(3), 1.0, side="middle")
    with pytest.raises(ValueError, match="1-D"):
        fnp.searchsorted(np.ones((2, 2)), 1.0)


# ---------------------------------------------------------------------------
# unique


@given(data=st.data())
def test_unique_eager_matches_numpy(data):
    shape = tuple(data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=2)))
    x = rand(shape, sum(shape), np.int32, 0, 4)
    got = fnp.unique(x, return_index=True, return_inverse=True, return_counts=True)
    want = np.unique(x, return_index=True, return_inverse=True, return_counts=True)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(np.asarray(g), np.reshape(w, np.shape(g)))
    assert got[2].shape == x.shape


@given(data=st.data())
def test_unique_sized_matches_eager(data):
    n = data.draw(st.integers(1, 8))
    size = data.draw(st.integers(0, 10))
    x = rand((n,), n, np.float32, 0, 4).round()
    if data.draw(st.booleans()):
        x[::3] = np.nan
    values, index, inverse, counts = np.unique(x, return_index=True, return_inverse=True,
                                               return_counts=True, equal_nan=True)
    u = len(values)

    def fill(arr, with_):
        out = np.full(size, with_, arr.dtype)
        out[:min(size, u)] = arr[:size]
        return out

    fn = lambda v: fnp.unique(v, return_index=True, return_inverse=True,  # noqa: E731
                              return_counts=True, size=size)
    for got in (fn(x), fx.jit(fn)(x)):
        np.testing.assert_array_equal(np.asarray(got[0]), fill(values, values[0]))
        np.testing.assert_array_equal(np.asarray(got[1]), fill(index, index[0]))
        np.testing.assert_array_equal(np.asarray(got[2]), inverse.reshape(x.shape))
        np.testing.assert_array_equal(np.asarray(got[3]), fill(counts, 0))
    filled = fnp.unique(x, size=size, fill_value=-7.0)
    np.testing.assert_array_equal(np.asarray(filled), fill(values, -7.0))


def test_unique_variants():
    x = np.array([[3, 1], [1, 2]], np.int32)
    np.testing.assert_array_equal(np.asarray(fnp.unique_values(x)), [1, 2, 3])
    res = fnp.unique_all(x)
    np.testing.assert_array_equal(np.asarray(res.inverse_indices), [[2, 0], [0, 1]])
    np.testing.assert_array_equal(np.asarray(fnp.unique_counts(x).counts), [2, 1, 1])
    np.testing.assert_array_equal(np.asarray(fnp.unique_inverse(x).values), [1, 2, 3])
    rows = np.array([[1, 2], [0, 5], [1, 2]], np.int32)
    np.testing.assert_array_equal(np.asarray(fnp.unique(rows, axis=0)), [[0, 5], [1, 2]])
    nan = np.array([np.nan, 1.0, np.nan], np.float32)
    assert fnp.unique(nan).shape == (2,)
    assert fnp.unique(nan, equal_nan=False).shape == (3,)
    assert fnp.unique(np.zeros(0, np.float32), size=2, fill_value=1.0).shape == (2,)


def test_unique_traced_without_size_names_size():
    with pytest.raises(ConcretizationTypeError, match="size="):
        fx.jit(fnp.unique)(np.array([1, 2, 2]))
    with pytest.raises(NotImplementedError, match="axis"):
        fnp.unique(np.ones((2, 2)), axis=0, size=2)


# ---------------------------------------------------------------------------
# nonzero, argwhere, flatnonzero, count_nonzero


@given(data=st.data())
def test_nonzero_family_matches_numpy(data):
    shape = tuple(data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=3)))
    x = rand(shape, len(shape) + sum(shape), np.int32, 0, 2)
    for got, want in ((fnp.nonzero(x), np.nonzero(x)),
                      ((fnp.flatnonzero(x),), (np.flatnonzero(x),)),
                      ((fnp.argwhere(x),), (np.argwhere(x),))):
        for g, w in zip(got, want):
            assert g.dtype == np.int32
            np.testing.assert_array_equal(np.asarray(g), w.reshape(np.shape(g)))
            assert g.shape == w.shape
    size = data.draw(st.integers(0, 6))
    count = int(np.count_nonzero(x))
    sized = fx.jit(lambda v: fnp.nonzero(v, size=size, fill_value=-1))(x)
    for g, w in zip(sized, np.nonzero(x)):
        expected = np.full(size, -1, np.int32)
        expected[:min(size, count)] = w[:size]
        np.testing.assert_array_equal(np.asarray(g), expected)
    where = fx.jit(lambda v: fnp.argwhere(v, size=size))(x)
    assert where.shape == (size, len(shape))


def test_nonzero_fill_per_dimension_and_errors():
    x = np.array([[0, 1], [2, 0]], np.int32)
    rows, cols = fnp.nonzero(x, size=3, fill_value=(-1, -2))
    np.testing.assert_array_equal(np.asarray(rows), [0, 1, -1])
    np.testing.assert_array_equal(np.asarray(cols), [1, 0, -2])
    np.testing.assert_array_equal(np.asarray(fnp.where(x > 0)[1]), [1, 0])
    np.testing.assert_array_equal(np.asarray(fnp.array([0, 3, 4]).nonzero()[0]), [1, 2])
    assert fnp.argwhere(np.int32(3)).shape == (1, 0)
    assert fnp.argwhere(np.int32(0)).shape == (0, 0)
    with pytest.raises(ValueError, match="0-d"):
        fnp.nonzero(np.int32(1))
    with pytest.raises(ConcretizationTypeError, match="size="):
        fx.jit(fnp.nonzero)(x)
    with pytest.raises(ConcretizationTypeError, match="size="):
        fx.jit(fnp.flatnonzero)(x)
    with pytest.raises(ValueError, match="fill_value"):
        fnp.nonzero(x, size=2, fill_value=(1, 2, 3))


def test_count_nonzero():
    x = rand((3, 4), 5, np.int32, 0, 2)
    np.testing.assert_array_equal(np.asarray(fnp.count_nonzero(x)), np.count_nonzero(x))
    np.testing.assert_array_equal(np.asarray(fnp.count_nonzero(x, axis=1, keepdims=True)),
                                  np.count_nonzero(x, axis=1, keepdims=True))
    np.testing.assert_array_equal(np.asarray(fx.jit(fnp.count_nonzero)(x.astype(bool))),
                                  np.count_nonzero(x))


def test_vmap_of_sized_nonzero_and_unique(harness):
    x = rand((3, 6), 6, np.int32, 0, 3)
    harness.check_vmap(lambda v: fnp.nonzero(v, size=4)[0], [x], [0])
    harness.check_vmap(lambda v: fnp.unique(v, size=4, return_counts=True), [x], [1])
    harness.check_vmap(lambda v: fnp.searchsorted(fnp.sort(v), v), [x], [0])


# ---------------------------------------------------------------------------
# derivatives through the numpy layer


def test_grads_through_sort_and_cumsum():
    x = fnp.asarray((np.random.RandomState(7).permutation(12).reshape(3, 4) * 0.5)
                    .astype(np.float32))
    check_grads(lambda v: fnp.sort(v, axis=0, descending=True), (x,), order=2)
    check_grads(lambda v: fnp.cumsum(v, axis=1), (x,), order=2)
    check_grads(lambda v: fnp.cumprod(v, axis=0), (x,), order=2)
    check_grads(lambda v: fnp.partition(v, 1, axis=1), (x,), order=1)
    check_grads(lambda v: fnp.unique(v, size=5), (x,), order=1)


# ---------------------------------------------------------------------------
# JAX as an oracle


@pytest.mark.jax
def test_matches_jax_numpy(jax):
    import jax.numpy as jnp
    x = rand((4, 5), 8, np.int32, 0, 3)
    f = rand((4, 5), 9)
    checks = [
        (lambda m: m.partition(x, 2, axis=1)),
        (lambda m: m.argpartition(f, 2, axis=1)),
        (lambda m: m.unique(x, size=6, return_index=True, return_inverse=True,
                            return_counts=True)),
        (lambda m: m.nonzero(x, size=7, fill_value=-1)),
        (lambda m: m.argwhere(x, size=3)),
        (lambda m: m.argsort(x, axis=0, descending=True)),
        (lambda m: m.cumsum(x.astype(bool), axis=1)),
        (lambda m: m.cumulative_prod(x, axis=0, include_initial=True)),
        (lambda m: m.searchsorted(m.sort(f.ravel()), f[0], side="right")),
    ]
    for check in checks:
        got, want = check(fnp), check(jnp)
        got_leaves = fx.tree_util.tree_leaves(got)
        want_leaves = jax.tree_util.tree_leaves(want)
        assert len(got_leaves) == len(want_leaves)
        for g, w in zip(got_leaves, want_leaves):
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
