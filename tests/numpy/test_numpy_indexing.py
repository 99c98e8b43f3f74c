"""NumPy indexing (``x[idx]``), ``x.at[idx]`` updates, take / take_along_axis /
put_along_axis.

Oracles: NumPy for in-bounds values (indexing, ``np.add.at`` and friends),
JAX for out-of-bounds semantics and modes, finite differences for derivatives,
a Python loop for vmap; eager (NumPy fast paths) and jit (slice / gather /
scatter primitives) are checked against each other.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx.errors import NonConcreteBooleanIndexError
from fx.test_util import check_grads

RNG = np.random.RandomState(0)


def rand(shape, dtype=np.float32):
    return np.asarray(RNG.randn(*shape)).astype(dtype)


def assert_same(got, want, tol=1e-6):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def jaxpr_primitives(f, *args):
    return [e.primitive.name for e in fx.make_jaxpr(f)(*args).jaxpr.eqns]


# ---------------------------------------------------------------------------
# random NumPy indices (in bounds, so NumPy is the oracle)


@st.composite
def numpy_index(draw, shape):
    items, dim = [], 0
    use_arrays = draw(st.booleans())
    # advanced indices must broadcast together: one shape for every integer array, and
    # at most one boolean mask (whose nonzero() has its own length) with 0-d arrays only
    ishape = draw(st.sampled_from([(), (2,), (1, 3), (2, 1)]))
    mask_used = False
    ellipsis_at = draw(st.one_of(st.none(), st.integers(0, len(shape))))
    while dim < len(shape):
        if ellipsis_at is not None and dim == ellipsis_at and draw(st.booleans()):
            skip = draw(st.integers(0, len(shape) - dim))
            items.append(Ellipsis)
            dim += skip
            ellipsis_at = None
            continue
        if draw(st.integers(0, 5)) == 0:
            items.append(None)
        n = shape[dim]
        kinds = ["slice", "full"] + (["int"] if n else []) + (
            ["array"] if use_arrays and n and not (mask_used and ishape) else []) + (
            ["mask"] if use_arrays and n and not mask_used and not ishape else [])
        kind = draw(st.sampled_from(kinds))
        if kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        elif kind == "full":
            items.append(slice(None))
        elif kind == "slice":
            bound = st.one_of(st.none(), st.integers(-n - 2, n + 2))
            items.append(slice(draw(bound), draw(bound),
                               draw(st.sampled_from([None, 1, 2, 3, -1, -2]))))
        elif kind == "array":
            seed = draw(st.integers(0, 1000))
            items.append(np.random.RandomState(seed).randint(-n, n, size=ishape))
        else:
            seed = draw(st.integers(0, 1000))
            items.append(np.random.RandomState(seed).rand(n) > 0.5)
            mask_used = True
        dim += 1
    if not any(i is Ellipsis for i in items) and draw(st.booleans()):
        cut = draw(st.integers(0, len(items)))
        items = items[:cut]
    return tuple(items)


@st.composite
def indexing_case(draw):
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=1, max_size=4)))
    return shape, draw(numpy_index(shape))


@settings(max_examples=80, deadline=None)
@given(indexing_case())
def test_getitem_matches_numpy(case):
    shape, idx = case
    x = rand(shape)
    want = x[idx]
    assert_same(fnp.asarray(x)[idx], want)
    assert_same(fx.jit(lambda x: x[idx])(x), want)


@settings(max_examples=40, deadline=None)
@given(indexing_case())
def test_getitem_with_traced_integer_arrays(case):
    shape, idx = case
    x = rand(shape)
    want = x[idx]
    is_array = [isinstance(i, np.ndarray) and i.dtype != np.bool_ for i in idx]
    arrays = [i for i, a in zip(idx, is_array, strict=True) if a]

    def f(x, *traced):
        it = iter(traced)
        return x[tuple(next(it) if a else i for i, a in zip(idx, is_array, strict=True))]

    assert_same(fx.jit(f)(x, *arrays), want)


@pytest.mark.jax
@settings(max_examples=40, deadline=None)
@given(indexing_case(), st.integers(-9, 9), st.integers(-9, 9))
def test_out_of_bounds_reads_clamp_like_jax(case, a, b):
    jax = pytest.importorskip("jax")
    shape, _ = case
    x = rand(shape)
    nonempty = [d for d, n in enumerate(shape) if n]
    if not nonempty:
        return
    d = nonempty[0]
    idx = (slice(None),) * d + (np.array([a, b]),)
    assert_same(fnp.asarray(x)[idx], jax.numpy.asarray(x)[idx])
    assert_same(fx.jit(lambda x: x[idx])(x), jax.numpy.asarray(x)[idx])
    idx = (slice(None),) * d + (a,)
    assert_same(fnp.asarray(x)[idx], jax.numpy.asarray(x)[idx])
    assert_same(fx.jit(lambda x, i: x[(slice(None),) * d + (i,)])(x, np.int32(a)),
                jax.numpy.asarray(x)[idx])


def test_scalar_bools_and_newaxis():
    x = rand((3, 2, 4))
    for idx in [True, False, (True, 1), (slice(None), [0, 1], True), (None, ..., None),
                (..., 1, None), (), ([0, 1], ..., [1, 2]), (slice(None), 0, ..., [1, 2])]:
        idx_np = tuple(np.array(i) if isinstance(i, list) else i for i in idx) \
            if isinstance(idx, tuple) else idx
        assert_same(fnp.asarray(x)[idx_np], x[idx_np])
        assert_same(fx.jit(lambda x, i=idx_np: x[i])(x), x[idx_np])


def test_static_indices_lower_to_slices():
    x = rand((4, 5))
    assert jaxpr_primitives(lambda x: x[1:3, ::2], x) == ["slice"]
    assert jaxpr_primitives(lambda x: x[::-1], x) == ["rev"]
    assert jaxpr_primitives(lambda x: x[3:0:-2], x) == ["slice", "rev"]
    assert jaxpr_primitives(lambda x: x[2], x) == ["slice", "squeeze"]
    assert "gather" not in jaxpr_primitives(lambda x, i: x[i], x, np.int32(1))
    assert "dynamic_slice" in jaxpr_primitives(lambda x, i: x[i, 1:], x, np.int32(1))
    assert "gather" in jaxpr_primitives(lambda x: x[np.array([0, 2])], x)


def test_traced_scalar_index_wraps_and_clamps():
    x = rand((5, 3))
    f = fx.jit(lambda x, i: x[i])
    for i in [-7, -1, 0, 4, 9]:
        assert_same(f(x, np.int32(i)), x[min(max(i + 5 if i < 0 else i, 0), 4)])


def test_getitem_grads():
    x = rand((4, 5))
    idx = np.array([3, 0, 3])
    check_grads(lambda x: x[1:3, ::-2], (x,), order=2)
    check_grads(lambda x: x[idx, 1:], (x,), order=2)
    check_grads(lambda x: x[:, idx][..., None], (x,), order=2)
    check_grads(lambda x: x[x > 0], (x,), order=1)
    check_grads(lambda x: fx.lax.dynamic_index_in_dim(x, np.int32(2), 1), (x,), order=2)


@pytest.mark.parametrize("in_axes", [(0, None), (None, 0), (0, 0), (1, 0)])
def test_getitem_vmap(in_axes):
    size = 3
    x = rand((4, 5))
    i = np.array([[1, 3], [0, -1]])
    xs = x if in_axes[0] is None else np.stack([rand((4, 5)) for _ in range(size)],
                                               axis=in_axes[0])
    is_ = i if in_axes[1] is None else np.stack([i, i[::-1], i * 0], axis=in_axes[1])
    f = lambda x, i: x[1:, i] * 2.0
    out = fx.vmap(f, in_axes=in_axes)(xs, is_)
    want = np.stack([np.asarray(f(np.take(xs, b, in_axes[0]) if in_axes[0] is not None else xs,
                                  np.take(is_, b, in_axes[1]) if in_axes[1] is not None
                                  else is_)) for b in range(size)])
    assert_same(out, want)
    g = lambda x, k: x[k, ::2]
    ks = np.array([0, 3, -1], np.int32)
    assert_same(fx.vmap(g, in_axes=(None, 0))(x, ks), np.stack([x[k, ::2] for k in ks]))


def test_getitem_errors():
    x = fnp.asarray(rand((3, 4)))
    with pytest.raises(NonConcreteBooleanIndexError):
        fx.jit(lambda x: x[x > 0])(x)
    with pytest.raises(TypeError, match="integer or boolean"):
        x[1.0]
    with pytest.raises(TypeError, match="integer or boolean"):
        x[np.array([1.0])]
    with pytest.raises(TypeError, match="non-tuple sequence"):
        x[[0, 1]]
    with pytest.raises(IndexError, match="Too many indices"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., ...]
    with pytest.raises(IndexError, match="static"):
        fx.jit(lambda x, i: x[i:i + 2])(x, np.int32(1))
    with pytest.raises(IndexError, match="boolean index did not match"):
        x[np.array([True, False])]
    with pytest.raises(ValueError, match="step"):
        x[::0]


# ---------------------------------------------------------------------------
# x.at[idx]


UPDATE_CASES = [
    (lambda x: 1,), (lambda x: (slice(1, 3), 2),), (lambda x: (..., -1),),
    (lambda x: np.array([0, 2, 0]),), (lambda x: (slice(None), np.array([[1], [2]])),),
    (lambda x: (None, 1),), (lambda x: x > 0,), (lambda x: (slice(None, None, -2), 0),),
    (lambda x: (np.array([2, 0]), slice(None), np.array([1, 1])),),
]

NP_UFUNC = {"add": np.add, "multiply": np.multiply, "min": np.minimum, "max": np.maximum,
            "subtract": np.subtract}


def numpy_update(x, idx, y, method):
    out = x.copy()
    if method == "set":
        out[idx] = y
    elif method in NP_UFUNC:
        NP_UFUNC[method].at(out, idx, y)
    return out


@pytest.mark.parametrize("case", range(len(UPDATE_CASES)))
@pytest.mark.parametrize("method", ["set", "add", "multiply", "min", "max", "subtract"])
def test_at_updates_match_numpy(case, method):
    x = rand((4, 3, 5))
    idx = UPDATE_CASES[case][0](x)
    target_shape = x[idx].shape
    y = rand(target_shape[1:])  # broadcast along the leading indexed dimension
    unique = method != "set" or case != 3
    if unique:
        want = numpy_update(x, idx, y, method)
        assert_same(getattr(fnp.asarray(x).at[idx], method)(y), want)
    if isinstance(idx, np.ndarray) and idx.dtype == np.bool_:
        return
    jitted = fx.jit(lambda x, y: getattr(x.at[idx], method)(y))(x, y)
    assert_same(jitted, getattr(fnp.asarray(x).at[idx], method)(y))


@pytest.mark.jax
@pytest.mark.parametrize("mode", [None, "clip", "drop", "fill", "promise_in_bounds"])
@pytest.mark.parametrize("method", ["set", "add", "multiply", "min", "max", "get", "divide",
                                    "power"])
def test_at_modes_match_jax(mode, method):
    jax = pytest.importorskip("jax")
    x = np.arange(1, 11, dtype=np.float32).reshape(5, 2)
    idx = (np.array([7, -1, 2, -9, 2]), slice(None))
    if method == "get":
        got = fnp.asarray(x).at[idx].get(mode=mode, fill_value=-3.0 if mode == "fill" else None)
        want = jax.numpy.asarray(x).at[idx].get(mode=mode,
                                                fill_value=-3.0 if mode == "fill" else None)
        assert_same(got, want)
        return
    if mode == "promise_in_bounds":
        return  # out-of-bounds updates are unspecified there
    y = np.arange(10, dtype=np.float32).reshape(5, 2) * 0.5 + 1
    for idx_ in (idx, 7, -6, (4, 3)):
        got = getattr(fnp.asarray(x).at[idx_], method)(y if idx_ is idx else 2.0, mode=mode)
        want = getattr(jax.numpy.asarray(x).at[idx_], method)(y if idx_ is idx else 2.0,
                                                              mode=mode)
        assert_same(got, want, tol=1e-5)
        value = y if idx_ is idx else 2.0
        got = fx.jit(lambda x, i=idx_, v=value: getattr(x.at[i], method)(v, mode=mode))(x)
        assert_same(got, want, tol=1e-5)


@pytest.mark.jax
def test_at_apply_and_int_divide_match_jax():
    jax = pytest.importorskip("jax")
    x = np.arange(5, dtype=np.float32)
    idx = np.array([0, 0, 3])
    want = jax.numpy.asarray(x).at[idx].apply(lambda v: v * 2 + 1)
    assert_same(fnp.asarray(x).at[idx].apply(lambda v: v * 2 + 1), want)
    assert_same(fx.jit(lambda x: x.at[idx].apply(lambda v: v * 2 + 1))(x), want)
    xi = np.arange(4, dtype=np.int32)
    assert_same(fnp.asarray(xi).at[1].divide(2), jax.numpy.asarray(xi).at[1].divide(2))


def test_at_update_weak_type_and_dtype():
    x = fnp.asarray(2.0)
    assert x.weak_type and x.at[()].set(3.0).weak_type
    xi = fnp.arange(3)
    out = xi.at[0].set(1.7)
    assert out.dtype == np.int32 and int(out[0]) == 1


def test_at_update_shape_errors():
    x = fnp.zeros((3, 4))
    with pytest.raises(ValueError, match="broadcast"):
        x.at[1].set(fnp.ones((1, 4)))
    with pytest.raises(ValueError, match="broadcast"):
        x.at[1].set(fnp.ones((2,)))
    with pytest.raises(ValueError, match="broadcast"):
        fx.jit(lambda x: x.at[np.array([0, 1])].set(fnp.ones((3, 4))))(x)
    with pytest.raises(TypeError, match="item assignment"):
        x[0] = 1.0


def test_at_update_grads():
    x = rand((4, 3))
    y = rand((2, 3))
    idx = np.array([3, 1])
    dup = np.array([1, 1])
    check_grads(lambda x, y: x.at[idx].set(y), (x, y), order=2)
    check_grads(lambda x, y: x.at[dup].set(y), (x, y), order=2)
    check_grads(lambda x, y: x.at[dup].add(y), (x, y), order=2)
    check_grads(lambda x, y: x.at[idx].multiply(y, unique_indices=True), (x, y), order=2)
    check_grads(lambda x, y: x.at[dup].max(y), (x, y), order=1)
    check_grads(lambda x, y: x.at[1:3, ::2].set(y[:, :2]), (x, y), order=2)
    check_grads(lambda x: x.at[dup].multiply(3.0), (x,), order=2)


@pytest.mark.parametrize("in_axes", [(0, None, None), (None, 0, None), (None, None, 0),
                                     (0, 0, 0), (1, 0, 1)])
def test_at_update_vmap(in_axes):
    size = 3
    base = [rand((4, 3)), np.array([3, 0]), rand((2, 3))]
    batched = []
    for a, ax in zip(base, in_axes, strict=True):
        if ax is None:
            batched.append(a)
        elif a.dtype.kind == "i":
            batched.append(np.stack([a, a[::-1], a * 0 + 2], axis=ax))
        else:
            batched.append(np.stack([rand(a.shape) for _ in range(size)], axis=ax))
    f = lambda x, i, y: fnp.asarray(x).at[i].add(y * 2.0)
    out = fx.vmap(f, in_axes=in_axes)(*batched)
    want = np.stack([np.asarray(f(*[a if ax is None else np.take(a, b, axis=ax)
                                    for a, ax in zip(batched, in_axes, strict=True)]))
                     for b in range(size)])
    assert_same(out, want)


# ---------------------------------------------------------------------------
# take, take_along_axis, put_along_axis


@pytest.mark.jax
@pytest.mark.parametrize("mode", [None, "fill", "clip", "wrap"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_take_matches_jax(mode, axis):
    jax = pytest.importorskip("jax")
    x = rand((3, 4))
    idx = np.array([[0, 5], [-1, -13]])
    assert_same(fnp.take(x, idx, axis=axis, mode=mode),
                jax.numpy.take(x, idx, axis=axis, mode=mode))
    assert_same(fx.jit(lambda x: fnp.take(x, idx, axis=axis, mode=mode))(x),
                jax.numpy.take(x, idx, axis=axis, mode=mode))


def test_take_in_bounds_matches_numpy_and_grads():
    x = rand((3, 4))
    idx = np.array([[0, 3], [-1, 2]])
    for axis in (None, 0, 1):
        assert_same(fnp.take(x, idx % 3, axis=axis), np.take(x, idx % 3, axis=axis))
    check_grads(lambda x: fnp.take(x, idx, axis=1), (x,), order=2)
    with pytest.raises(NotImplementedError, match="raise"):
        fnp.take(x, idx, mode="raise")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.data())
def test_take_along_axis_matches_numpy(shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = rand(tuple(shape))
    ishape = list(shape)
    ishape[axis] = data.draw(st.integers(0, 5))
    for d in range(len(shape)):  # exercise broadcasting of the other axes
        if d != axis % len(shape) and data.draw(st.booleans()):
            ishape[d] = 1
    idx = np.random.RandomState(data.draw(st.integers(0, 99))).randint(
        -shape[axis], shape[axis], size=ishape)
    want = np.take_along_axis(x, np.broadcast_to(idx, [s if d == axis % len(shape) else
                                                       max(s, shape[d]) for d, s in
                                                       enumerate(ishape)]), axis=axis)
    assert_same(fnp.take_along_axis(x, idx, axis=axis), want)
    assert_same(fx.jit(lambda x, i: fnp.take_along_axis(x, i, axis=axis))(x, idx), want)


@pytest.mark.jax
def test_take_along_axis_fill_and_grads():
    jax = pytest.importorskip("jax")
    x = rand((2, 3))
    idx = np.array([[5, -1, 0], [2, -4, 1]])
    assert_same(fnp.take_along_axis(x, idx, 1), jax.numpy.take_along_axis(x, idx, 1))
    assert_same(fnp.take_along_axis(x, idx, 1, mode="clip"),
                jax.numpy.take_along_axis(x, idx, 1, mode="clip"))
    check_grads(lambda x: fnp.take_along_axis(x, idx, 1, mode="clip"), (x,), order=2)
    xs = np.stack([x, x * 2])
    assert_same(fx.vmap(lambda x: fnp.take_along_axis(x, idx, 1, mode="clip"))(xs),
                np.stack([np.asarray(fnp.take_along_axis(v, idx, 1, mode="clip"))
                          for v in xs]))


def test_put_along_axis():
    x = rand((3, 4))
    idx = np.array([[0], [3], [2]])
    want = x.copy()
    np.put_along_axis(want, idx, -1.0, axis=1)
    assert_same(fnp.put_along_axis(x, idx, -1.0, axis=1, inplace=False), want)
    want = x.copy()
    np.put_along_axis(want, np.array([1, 11]), 5.0, axis=None)
    assert_same(fnp.put_along_axis(x, np.array([1, 11]), 5.0, axis=None, inplace=False), want)
    with pytest.raises(ValueError, match="in-place"):
        fnp.put_along_axis(x, idx, -1.0, axis=1)
    check_grads(lambda x, v: fnp.put_along_axis(x, idx, v, axis=1, inplace=False),
                (x, rand((3, 1))), order=2)
