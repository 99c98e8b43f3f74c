"""Tests of the sort and top_k primitives (primitives/sort.py) through lax.sort,
lax.sort_key_val and lax.top_k: values vs NumPy (stable sorts, NaN and signed zeros,
complex and bool keys, several keys) over random shapes and dimensions
(hypothesis), derivatives against finite differences (order 2), the linear
transpose, vmap vs a Python loop, jit vs eager, printing and errors, and JAX as an
oracle.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
import primitives
from fx import lax
from fx.test_util import check_grads


def values_for(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.rand(*shape) < 0.5
    if dtype.kind in "iu":
        return rng.randint(0, 4, size=shape).astype(dtype)  # many ties
    x = rng.choice([0.0, -0.0, 1.5, -1.5, np.nan, np.inf, -np.inf, 2.25, 0.5], size=shape)
    if dtype.kind == "c":
        x = x + 1j * rng.choice([0.0, 1.0, -1.0], size=shape)
    return x.astype(dtype)


def numpy_sort_perm(keys, axis):
    """Stable lexicographic order along ``axis`` (first key most significant), NaN last."""
    cols = []
    for k in keys:
        k = np.moveaxis(k, axis, -1)
        cols += [k.real, k.imag] if k.dtype.kind == "c" else [k]
    perm = np.lexsort(cols[::-1], axis=-1)
    return np.moveaxis(perm, -1, axis)


@given(data=st.data())
def test_sort_matches_numpy(data):
    dtype = data.draw(st.sampled_from(["float32", "int32", "uint8", "bool", "complex64"]))
    shape = tuple(data.draw(st.lists(st.integers(0, 5), min_size=1, max_size=3)))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.RandomState(len(shape) + 3 * abs(dim))
    x = values_for(rng, shape, dtype)
    out = lax.sort(x, dimension=dim)
    expected = np.sort(x, axis=dim, kind="stable")
    np.testing.assert_array_equal(np.asarray(out), expected)
    if dtype == "float32":  # -0.0 and 0.0 tie, so stability shows in the signs
        perm = np.argsort(x, axis=dim, kind="stable")
        np.testing.assert_array_equal(np.signbit(np.asarray(out)),
                                      np.signbit(np.take_along_axis(x, perm, dim)))


@given(data=st.data())
def test_multi_operand_sort_matches_lexsort(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=2)))
    dim = data.draw(st.integers(0, len(shape) - 1))
    num_keys = data.draw(st.integers(1, 3))
    rng = np.random.RandomState(sum(shape) + num_keys)
    ops = [values_for(rng, shape, "int32"), values_for(rng, shape, "float32"),
           values_for(rng, shape, "bool"), rng.randn(*shape).astype(np.float32)]
    outs = lax.sort(ops, dimension=dim, num_keys=num_keys)
    assert isinstance(outs, tuple) and len(outs) == 4
    perm = numpy_sort_perm(ops[:num_keys], dim)
    for o, op in zip(outs, ops):
        np.testing.assert_array_equal(np.asarray(o), np.take_along_axis(op, perm, dim))


def test_sort_key_val_and_special_orders():
    keys = np.array([np.nan, 1.0, -np.inf, 0.0, -0.0, np.inf, -np.nan], np.float32)
    sorted_keys, vals = lax.sort_key_val(keys, np.arange(7, dtype=np.int32))
    np.testing.assert_array_equal(np.asarray(vals), [2, 3, 4, 1, 5, 0, 6])
    np.testing.assert_array_equal(np.asarray(sorted_keys)[:6],
                                  [-np.inf, 0.0, -0.0, 1.0, np.inf, np.nan])
    c = np.array([1 + 2j, 1 - 1j, np.nan + 0j, 0 + 5j], np.complex64)
    np.testing.assert_array_equal(np.asarray(lax.sort(c)), [0 + 5j, 1 - 1j, 1 + 2j,
                                                            np.nan + 0j])


def test_sort_bfloat16_and_float16():
    for dtype in (fx.dtypes.bfloat16, np.float16):
        x = np.array([3.0, -1.0, np.nan, 0.5], dtype)
        out = lax.sort(x)
        assert out.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(np.asarray(out).astype(np.float32),
                                      [-1.0, 0.5, 3.0, np.nan])


# ---------------------------------------------------------------------------
# top_k


def numpy_top_k(x, k, axis):
    moved = np.moveaxis(x, axis, -1)
    key = np.where(np.isnan(moved), np.inf, moved) if moved.dtype.kind == "f" else moved
    nan_first = ~np.isnan(moved) if moved.dtype.kind == "f" else np.zeros(moved.shape, bool)
    order = np.lexsort([-key.astype(np.float64), nan_first], axis=-1)[..., :k]
    return (np.moveaxis(np.take_along_axis(moved, order, -1), -1, axis),
            np.moveaxis(order, -1, axis).astype(np.int32))


@given(data=st.data())
def test_top_k_matches_numpy(data):
    dtype = data.draw(st.sampled_from(["float32", "int32", "uint8", "bool"]))
    shape = tuple(data.draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    k = data.draw(st.integers(0, shape[axis]))
    x = values_for(np.random.RandomState(k + 10 * len(shape)), shape, dtype)
    values, indices = lax.top_k(x, k, axis=axis)
    want_v, want_i = numpy_top_k(x, k, axis % len(shape))
    np.testing.assert_array_equal(np.asarray(values), want_v)
    np.testing.assert_array_equal(np.asarray(indices), want_i)
    assert indices.dtype == np.int32 and values.dtype == x.dtype


# ---------------------------------------------------------------------------
# derivatives


def distinct(shape, seed):
    rng = np.random.RandomState(seed)
    return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.5 - 1.0).astype(np.float32)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_sort_grads_order2(dim):
    x = fnp.asarray(distinct((3, 4), 0))
    check_grads(lambda v: lax.sort(v, dimension=dim), (x,), order=2)


def test_sort_grads_several_operands():
    keys = np.array([[3, 1, 2, 1], [0, 0, 2, 1]], np.int32)
    a, b = fnp.asarray(distinct((2, 4), 1)), fnp.asarray(distinct((2, 4), 2))
    check_grads(lambda u, v: lax.sort((keys, u, v), dimension=1, num_keys=1)[1:], (a, b),
                order=2)
    # a float key that is also differentiated, and a second key breaking its ties
    check_grads(lambda u, v: lax.sort((u, v), dimension=0, num_keys=2), (a, b), order=2)


@pytest.mark.parametrize("k,axis", [(1, -1), (3, 1), (4, 1), (2, 0)])
def test_top_k_grads_order2(k, axis):
    x = fnp.asarray(distinct((3, 4), 3))
    check_grads(lambda v: lax.top_k(v, k, axis=axis)[0], (x,), order=2)


def test_top_k_tangent_is_gathered():
    x = np.array([[1.0, 5.0, 3.0, 5.0], [2.0, np.nan, 0.0, 7.0]], np.float32)
    t = np.arange(8, dtype=np.float32).reshape(2, 4) * 10
    (values, indices), (tv, ti) = fx.jvp(lambda v: lax.top_k(v, 3), (x,), (t,))
    np.testing.assert_array_equal(np.asarray(tv),
                                  np.take_along_axis(t, np.asarray(indices), axis=1))
    assert ti.dtype == fx.float0


def test_sort_transpose_unsorts():
    keys = np.array([2.0, 0.5, 1.0, -3.0], np.float32)
    fn = lambda v: lax.sort((keys, v), num_keys=1)[1]  # noqa: E731
    v = np.zeros(4, np.float32)
    (back,) = fx.linear_transpose(fn, v)(np.array([10.0, 20.0, 30.0, 40.0], np.float32))
    np.testing.assert_array_equal(np.asarray(back), [40.0, 20.0, 30.0, 10.0])
    text = str(fx.make_jaxpr(fx.grad(lambda u: (lax.sort(u) * np.arange(4.0,
                                                dtype=np.float32)).sum()))(keys))
    assert "gather" not in text and text.count("sort[") == 3


def test_integer_keys_get_float0_tangents():
    x = np.array([3, 1, 2], np.int32)
    out, tangent = fx.jvp(lambda v: lax.sort(v), (x,), (np.zeros(3, fx.float0),))
    np.testing.assert_array_equal(np.asarray(out), [1, 2, 3])
    assert tangent.dtype == fx.float0


# ---------------------------------------------------------------------------
# vmap, jit, printing, errors


@pytest.mark.parametrize("in_axes", [(0, 0), (1, None), (None, 2), (2, 1)])
def test_vmap_sort_matches_loop(harness, in_axes):
    rng = np.random.RandomState(4)
    # examples of shape (4, 5), a batch of 3 at in_axes (or one unbatched example)
    args = []
    for ax, arr in zip(in_axes, (values_for(rng, (3, 4, 5), "float32"),
                                 rng.randn(3, 4, 5).astype(np.float32))):
        args.append(arr[0] if ax is None else np.moveaxis(arr, 0, ax))
    harness.check_vmap(lambda u, v: lax.sort((u, v), dimension=0, num_keys=1), args,
                       list(in_axes))
    harness.check_vmap(lambda u, v: lax.sort((u, v), dimension=-1, num_keys=2), args,
                       list(in_axes), out_axis=1)


@pytest.mark.parametrize("in_axis", [0, 1, 2])
def test_vmap_top_k_and_grads(harness, in_axis):
    x = distinct((3, 4, 5), 5)
    harness.check_vmap(lambda v: lax.top_k(v, 2), [x], [in_axis])
    harness.check_vmap(fx.grad(lambda v: (lax.top_k(v, 2, axis=0)[0] ** 2).sum()), [x],
                       [in_axis], rtol=1e-6)
    harness.check_vmap(fx.grad(lambda v: (lax.sort(v, 0) * np.arange(
        x.shape[0 if in_axis else 1], dtype=np.float32)[:, None]).sum()), [x], [in_axis])


def test_jit_matches_eager(harness):
    x = distinct((4, 6), 6)
    harness.check_jit(lambda v: lax.sort(v, 0), [x])
    harness.check_jit(lambda v: lax.top_k(v, 3), [x])
    harness.check_jit(fx.grad(lambda v: (lax.top_k(v, 3)[0] ** 2).sum()), [x])
    harness.check_abstract_eval(primitives.sort_p, [x, x.astype(np.int32)],
                                dict(dimension=1, is_stable=True, num_keys=2))
    harness.check_abstract_eval(primitives.top_k_p, [x], dict(k=2, axis=0))


def test_printing():
    x = np.ones((4, 5), np.float32)
    assert str(fx.make_jaxpr(lambda v: lax.sort((v, v), dimension=0))(x)) == (
        "{ lambda ; a:f32[4,5]. let\n    b:f32[4,5] c:f32[4,5] = sort[dimension=0 "
        "is_stable=True num_keys=1] a a\n  in (b, c) }")
    assert "top_k[axis=1 k=2]" in str(fx.make_jaxpr(lambda v: lax.top_k(v, 2))(x))


def test_errors():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="num_keys=3"):
        lax.sort((x, x), num_keys=3)
    with pytest.raises(TypeError, match="equal shapes"):
        lax.sort((x, x[0]))
    with pytest.raises(ValueError, match="out of bounds"):
        lax.sort(x, dimension=2)
    with pytest.raises(TypeError, match="scalar"):
        lax.sort(np.float32(1.0))
    with pytest.raises(ValueError, match="k=4"):
        lax.top_k(x, 4)
    with pytest.raises(TypeError, match="k must be an int"):
        lax.top_k(x, 1.5)
    with pytest.raises(TypeError, match="top_k does not accept dtype complex64"):
        lax.top_k(x.astype(np.complex64), 1)


# ---------------------------------------------------------------------------
# JAX as an oracle


@pytest.mark.jax
@given(data=st.data())
def test_matches_jax(jax, data):
    import jax.lax as jlax
    dtype = data.draw(st.sampled_from(["float32", "int32", "complex64"]))
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    dim = data.draw(st.integers(0, len(shape) - 1))
    rng = np.random.RandomState(len(shape) + dim)
    x = values_for(rng, shape, dtype)
    y = values_for(rng, shape, "float32")
    num_keys = data.draw(st.integers(1, 2))
    got = lax.sort((x, y), dimension=dim, num_keys=num_keys)
    want = jlax.sort((x, y), dimension=dim, num_keys=num_keys)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
    if dtype != "complex64":
        k = data.draw(st.integers(0, shape[-1]))
        for g, w in zip(lax.top_k(x, k), jlax.top_k(x, k)):
            np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


@pytest.mark.jax
def test_grads_match_jax(jax):
    import jax.lax as jlax
    x = distinct((3, 5), 7)
    w = np.random.RandomState(8).randn(3, 5).astype(np.float32)
    for f in (lambda m, v: (m.sort(v, dimension=1) * w).sum(),
              lambda m, v: (m.top_k(v, 2)[0] * w[:, :2]).sum()):
        np.testing.assert_allclose(np.asarray(fx.grad(lambda v: f(lax, v))(x)),  # noqa: B023
                                   np.asarray(jax.grad(lambda v: f(jlax, v))(x)),  # noqa: B023
                                   rtol=1e-6)
