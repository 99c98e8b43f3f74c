"""vmap against a Python loop over the batch (and JAX where installed).

The oracle slices each mapped argument with NumPy, runs the function eagerly
on every slice, and stacks the results with NumPy along the requested
``out_axes``.
"""
import collections
import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx import tree_util

Pair = collections.namedtuple("Pair", ["first", "second"])


def _loop(f, args, in_axes, size, out_axes=0):
    """Reference vmap: slice, call, stack (all per output leaf)."""
    outs = []
    for b in range(size):
        sliced = [a if ax is None else np.take(np.asarray(a), b, axis=ax)
                  for a, ax in zip(args, in_axes, strict=True)]
        outs.append([np.asarray(o) for o in tree_util.tree_leaves(f(*sliced))])
    per_leaf = list(zip(*outs, strict=True))
    axes = out_axes if isinstance(out_axes, (list, tuple)) else [out_axes] * len(per_leaf)
    return [np.stack(leaf, axis=ax) for leaf, ax in zip(per_leaf, axes, strict=True)]


def _assert_tree_close(got, want, rtol=1e-6, atol=1e-6):
    got_leaves = tree_util.tree_leaves(got)
    assert len(got_leaves) == len(want)
    for g, w in zip(got_leaves, want, strict=True):
        assert np.shape(g) == w.shape, (np.shape(g), w.shape)
        assert np.asarray(g).dtype == w.dtype, (np.asarray(g).dtype, w.dtype)
        np.testing.assert_allclose(np.asarray(g), w, rtol=rtol, atol=atol)


# per-example functions that work for any (equal) argument shapes
VFUNCS = {
    "sin_mul_add": lambda m, x, y: m.sin(x) * y + 1.0,
    "sum_all": lambda m, x, y: m.sum(x * y),
    "where": lambda m, x, y: m.where(x > y, x, y ** 2),
    "max_all": lambda m, x, y: m.max(x - y),
    "sum_last_axis": lambda m, x, y: m.sum(m.exp(x) * y, axis=-1) if x.ndim else x * y,
    "mean_first_axis": lambda m, x, y: m.mean(x + y, axis=0) if x.ndim else x + y,
    "transpose": lambda m, x, y: m.transpose(x) * m.transpose(y),
    "reshape_flat": lambda m, x, y: m.reshape(x * y, (-1,)),
    "broadcast_to": lambda m, x, y: m.broadcast_to(x, (2,) + x.shape) + y,
    "expand_squeeze": lambda m, x, y: m.squeeze(m.expand_dims(x, 0), 0) - y,
    "prod_tanh": lambda m, x, y: m.prod(m.tanh(x) + 2.0) * m.min(y),
    "maximum_pow": lambda m, x, y: m.maximum(x, y) ** 2,
}


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_vmap_matches_loop_hypothesis(data):
    name = data.draw(st.sampled_from(sorted(VFUNCS)), label="function")
    f = functools.partial(VFUNCS[name], fnp)
    shape = tuple(data.draw(st.lists(st.integers(1, 3), min_size=0, max_size=3), label="shape"))
    size = data.draw(st.integers(1, 4), label="batch size")
    nd = len(shape)
    in_axes = data.draw(st.tuples(st.none() | st.integers(-nd - 1, nd),
                                  st.integers(-nd - 1, nd)), label="in_axes")
    rng = np.random.default_rng(0)
    args = []
    for ax in in_axes:
        a = rng.standard_normal(shape).astype(np.float32)
        if ax is not None:
            a = np.stack([a + i for i in range(size)], axis=ax)
        args.append(a)
    norm_axes = [None if ax is None else ax % (nd + 1) for ax in in_axes]
    expected_leaf = _loop(f, args, norm_axes, size)[0]
    out_nd = expected_leaf.ndim
    out_axis = data.draw(st.integers(-out_nd, out_nd - 1), label="out_axes")
    want = _loop(f, args, norm_axes, size, out_axes=out_axis % out_nd)
    got = fx.vmap(f, in_axes=in_axes, out_axes=out_axis)(*args)
    _assert_tree_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(VFUNCS))
def test_vmap_matches_jax(name):
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 2)).astype(np.float32)
    for in_axes, out_axes in [((0, None), 0), ((1, 0), -1), ((-1, -1), 1)]:
        size = x.shape[in_axes[0]]
        y = rng.standard_normal(np.take(x, 0, axis=in_axes[0]).shape).astype(np.float32)
        yy = y if in_axes[1] is None else np.stack([y * (i + 1) for i in range(size)],
                                                   axis=in_axes[1])
        out_nd = np.ndim(VFUNCS[name](np, np.take(x, 0, axis=in_axes[0]), y))
        out_axes = min(out_axes, out_nd)  # a scalar per-example output only has axis 0/-1
        got = fx.vmap(functools.partial(VFUNCS[name], fnp), in_axes, out_axes)(x, yy)
        want = jax.jit(jax.vmap(functools.partial(VFUNCS[name], jnp), in_axes, out_axes))(
            x, yy)
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------
# in_axes forms


def test_in_axes_none_broadcasts_argument():
    x = np.arange(6.0, dtype=np.float32).reshape(3, 2)
    w = np.array([10.0, 20.0], np.float32)
    got = fx.vmap(lambda x, w: fnp.sum(x * w), in_axes=(0, None))(x, w)
    np.testing.assert_allclose(np.asarray(got), x @ w)


def test_in_axes_list_is_treated_as_tuple():
    x = np.arange(6.0, dtype=np.float32).reshape(3, 2)
    got = fx.vmap(lambda x, w: x * w, in_axes=[1, None])(x, np.float32(2.0))
    np.testing.assert_allclose(np.asarray(got), 2 * x.T)


def test_in_axes_negative():
    x = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4)
    got = fx.vmap(lambda a: fnp.sum(a, axis=0), in_axes=-1)(x)
    want = _loop(lambda a: fnp.sum(a, axis=0), [x], [2], 4)[0]
    np.testing.assert_allclose(np.asarray(got), want)


def test_in_axes_dict_pytree_prefix():
    params = {"w": np.arange(6.0, dtype=np.float32).reshape(2, 3),
              "b": np.float32(1.0)}
    xs = np.arange(12.0, dtype=np.float32).reshape(4, 3)

    def f(p, x):
        return fnp.sum(p["w"] * x, axis=1) + p["b"]
    got = fx.vmap(f, in_axes=({"w": None, "b": None}, 0))(params, xs)
    want = np.stack([np.sum(params["w"] * x, axis=1) + 1.0 for x in xs])
    np.testing.assert_allclose(np.asarray(got), want)
    # a prefix: one axis for the whole dict
    batched = {"w": np.stack([params["w"]] * 4), "b": np.arange(4.0, dtype=np.float32)}
    got2 = fx.vmap(f, in_axes=(0, 0))(batched, xs)
    want2 = np.stack([np.sum(params["w"] * x, axis=1) + b for b, x in enumerate(xs)])
    np.testing.assert_allclose(np.asarray(got2), want2)


def test_in_axes_namedtuple_and_nested_tuples():
    p = Pair(np.arange(3.0, dtype=np.float32), (np.ones((2, 3), np.float32), np.float32(5.0)))
    got = fx.vmap(lambda p: p.first * p.second[0] + p.second[1],
                  in_axes=(Pair(0, (1, None)),))(p)
    want = np.stack([p.first[i] * p.second[0][:, i] + 5.0 for i in range(3)])
    np.testing.assert_allclose(np.asarray(got), want)


def test_kwargs_are_mapped_over_axis_zero():
    x = np.arange(6.0, dtype=np.float32).reshape(3, 2)
    y = np.arange(3.0, dtype=np.float32)
    got = fx.vmap(lambda x, *, scale: x * scale)(x, scale=y)
    np.testing.assert_allclose(np.asarray(got), x * y[:, None])


def test_axis_size_with_no_mapped_inputs():
    got = fx.vmap(lambda x: x * 2.0, in_axes=None, axis_size=3)(np.float32(4.0))
    assert got.shape == (3,)
    np.testing.assert_allclose(np.asarray(got), [8.0, 8.0, 8.0])
    got2 = fx.vmap(lambda: fnp.ones(2), axis_size=4)()
    assert got2.shape == (4, 2)


def test_axis_size_consistent_with_inputs():
    x = np.ones((3, 2), np.float32)
    got = fx.vmap(lambda x: fnp.sum(x), axis_size=3)(x)
    np.testing.assert_allclose(np.asarray(got), [2.0, 2.0, 2.0])


def test_zero_sized_batch():
    got = fx.vmap(lambda x: fnp.sum(x ** 2))(np.zeros((0, 3), np.float32))
    assert got.shape == (0,) and got.dtype == np.float32


# ---------------------------------------------------------------------------
# out_axes forms


def test_out_axes_negative_and_pytree():
    x = np.arange(12.0, dtype=np.float32).reshape(3, 4)

    def f(r):
        return {"row": r * 2.0, "total": fnp.sum(r)}, fnp.expand_dims(r, 0)
    got = fx.vmap(f, out_axes=({"row": -1, "total": 0}, 1))(x)
    np.testing.assert_allclose(np.asarray(got[0]["row"]), (2 * x).T)
    np.testing.assert_allclose(np.asarray(got[0]["total"]), x.sum(1))
    assert got[1].shape == (1, 3, 4)
    np.testing.assert_allclose(np.asarray(got[1])[0], x)


def test_out_axes_none_for_unbatched_output():
    x = np.arange(6.0, dtype=np.float32).reshape(3, 2)
    c = np.array([1.0, 2.0], np.float32)
    mapped, const = fx.vmap(lambda x: (x + c, c * 3.0), out_axes=(0, None))(x)
    np.testing.assert_allclose(np.asarray(mapped), x + c)
    assert const.shape == (2,)
    np.testing.assert_allclose(np.asarray(const), c * 3.0)


def test_unbatched_output_is_broadcast():
    x = np.arange(3.0, dtype=np.float32)
    got = fx.vmap(lambda x: fnp.ones(2, np.float32) * 7.0)(x)
    np.testing.assert_allclose(np.asarray(got), np.full((3, 2), 7.0))
    got2 = fx.vmap(lambda x: 1.0)(x)
    assert got2.shape == (3,)
    np.testing.assert_allclose(np.asarray(got2), np.ones(3))


def test_unbatched_output_weak_type_matches_jax():
    jax = pytest.importorskip("jax")
    x = np.arange(3.0, dtype=np.float32)
    got = fx.vmap(lambda x: 1.0)(x)
    want = jax.vmap(lambda x: 1.0)(x)
    assert (got.dtype, got.weak_type) == (want.dtype, want.weak_type)
    got = fx.vmap(lambda x: x * 2)(x)
    want = jax.vmap(lambda x: x * 2)(x)
    assert (got.dtype, got.weak_type) == (want.dtype, want.weak_type)


def test_pytree_outputs_with_none_and_namedtuple():
    x = np.arange(4.0, dtype=np.float32)
    got = fx.vmap(lambda x: Pair(x * 2.0, (None, {"sq": x * x})))(x)
    assert isinstance(got, Pair) and got.second[0] is None
    np.testing.assert_allclose(np.asarray(got.first), 2 * x)
    np.testing.assert_allclose(np.asarray(got.second[1]["sq"]), x * x)


# ---------------------------------------------------------------------------
# nesting, dtypes, closures


def test_nested_vmap_outer_product():
    a = np.arange(3.0, dtype=np.float32)
    b = np.arange(4.0, dtype=np.float32) + 1.0
    f = fx.vmap(fx.vmap(lambda x, y: x * y + fnp.sin(x), in_axes=(None, 0)), in_axes=(0, None))
    got = f(a, b)
    np.testing.assert_allclose(np.asarray(got), np.outer(a, b) + np.sin(a)[:, None], rtol=1e-6)


def test_nested_vmap_different_axes_matches_loop():
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    inner = fx.vmap(lambda r: fnp.sum(r * r), in_axes=1)   # over the 4-axis of a (3, 4) slice
    outer = fx.vmap(inner, in_axes=1, out_axes=1)          # over the 3-axis of x
    got = outer(x)
    want = np.stack([np.stack([np.sum(x[:, i, j] ** 2) for j in range(4)]) for i in range(3)],
                    axis=1)
    assert got.shape == (4, 3)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5)


def test_triple_nested_vmap():
    x = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4)
    got = fx.vmap(fx.vmap(fx.vmap(lambda v: v * 2.0 + 1.0)))(x)
    np.testing.assert_allclose(np.asarray(got), 2 * x + 1)


@pytest.mark.parametrize("dtype", [np.int32, np.bool_, np.float16, np.uint8])
def test_vmap_preserves_dtypes(dtype):
    x = (np.arange(6) % 3).astype(dtype).reshape(3, 2)
    got = fx.vmap(lambda r: fnp.where(r, r, r))(x)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(np.asarray(got), x)
    if dtype is not np.bool_:
        s = fx.vmap(lambda r: fnp.max(r))(x)
        assert s.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(np.asarray(s), x.max(1))


def test_vmap_closure_over_concrete_array():
    c = fnp.asarray(np.arange(3.0, dtype=np.float32))
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    got = fx.vmap(lambda r: r * c + fnp.sum(c))(x)
    np.testing.assert_allclose(np.asarray(got), x * np.arange(3.0) + 3.0)


def test_vmap_reduction_axis_remapped_when_batch_axis_is_not_leading():
    x = np.random.default_rng(2).standard_normal((3, 5, 4)).astype(np.float32)
    for axis in (0, 1, -1):
        f = functools.partial(fnp.max, axis=axis)
        got = fx.vmap(f, in_axes=1)(x)
        want = _loop(f, [x], [1], 5)[0]
        np.testing.assert_allclose(np.asarray(got), want)


def test_vmap_mixed_batched_and_unbatched_binary_ops():
    x = np.arange(6.0, dtype=np.float32).reshape(3, 2)
    y = np.array([1.0, -1.0], np.float32)
    got = fx.vmap(lambda a, b: (a - b, b - a, fnp.maximum(a, b), a / (b + 3.0)),
                  in_axes=(0, None))(x, y)
    want = _loop(lambda a, b: (a - b, b - a, fnp.maximum(a, b), a / (b + 3.0)), [x, y],
                 [0, None], 3)
    _assert_tree_close(got, want)


def test_vmap_is_wrapped_function_preserves_name_and_doc():
    def my_function(x):
        """Docstring."""
        return x
    v = fx.vmap(my_function)
    assert v.__name__ == "my_function" and v.__doc__ == "Docstring."


def test_vmap_array_methods_and_creation_from_traced_shapes():
    x = np.random.default_rng(3).standard_normal((4, 2, 3)).astype(np.float32)

    def f(a):
        z = fnp.zeros_like(a) + fnp.ones(a.shape, a.dtype)
        return (a.T * 2.0 + z.T, a.sum(axis=1), a.mean(), a.reshape(-1), fnp.var(a, axis=0),
                fnp.argmax(a, axis=1))
    got = fx.vmap(f)(x)
    want = _loop(f, [x], [0], 4)
    _assert_tree_close(got, want, rtol=1e-5, atol=1e-6)


def test_vmap_static_python_scalar_and_list_arguments():
    x = np.arange(6.0, dtype=np.float32).reshape(3, 2)
    got = fx.vmap(lambda a, k: a * k + 1, in_axes=(0, None))(x, 2)
    np.testing.assert_allclose(np.asarray(got), x * 2 + 1)
    got2 = fx.vmap(lambda pair: pair[0] - pair[1], in_axes=([0, 1],))([x, x.T])
    np.testing.assert_allclose(np.asarray(got2), np.zeros((3, 2)))
