"""Joining, splitting, reordering and padding in fx.numpy.

Oracles: NumPy for values (JAX where fx follows JAX rather than NumPy), finite
differences for derivatives, a Python loop for vmap, eager for jit.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx.test_util import check_grads

RNG = np.random.RandomState(0)


def rand(shape, dtype=np.float32):
    if np.dtype(dtype).kind in "iu":
        return RNG.randint(-9, 10, size=shape).astype(dtype)
    return np.asarray(RNG.randn(*shape)).astype(dtype)


def assert_same(got, want, tol=1e-6, check_dtype=True):
    if isinstance(want, (list, tuple)):
        assert isinstance(got, list) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert_same(g, w, tol, check_dtype)
        return
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    if check_dtype:
        assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def check_all(f, *args, grads=True, order=2):
    """f(fnp) vs f(np), jit vs eager, and (optionally) finite-difference derivatives."""
    want = f(np, *args)
    assert_same(f(fnp, *args), want)
    assert_same(fx.jit(lambda *a: f(fnp, *a))(*args), want)
    if grads:
        check_grads(lambda *a: f(fnp, *a), args, order=order)


def check_vmap(f, x, axis=0, size=3):
    xs = np.stack([rand(x.shape) for _ in range(size)], axis=axis)
    out = fx.vmap(lambda v: f(fnp, v), in_axes=axis)(xs)
    assert_same(out, np.stack([np.asarray(f(fnp, np.take(xs, b, axis))) for b in range(size)]))


# ---------------------------------------------------------------------------
# concatenate and the stacks


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.data())
def test_concatenate_matches_numpy(rank, data):
    axis = data.draw(st.integers(-rank, rank - 1))
    base = [data.draw(st.integers(1, 3)) for _ in range(rank)]
    xs = []
    for _ in range(data.draw(st.integers(1, 3))):
        shape = list(base)
        shape[axis] = data.draw(st.integers(0, 3))
        xs.append(rand(tuple(shape)))
    assert_same(fnp.concatenate(xs, axis=axis), np.concatenate(xs, axis=axis))
    assert_same(fnp.concatenate(xs, axis=None), np.concatenate(xs, axis=None))
    assert_same(fnp.concat(xs, axis=axis), np.concatenate(xs, axis=axis))


def test_concatenate_promotion_dtype_and_errors():
    out = fnp.concatenate([np.arange(2), 3 * fnp.ones(2)])
    assert out.dtype == np.float32
    assert fnp.concatenate([np.arange(2), np.arange(2)], dtype=np.float32).dtype == np.float32
    assert fnp.stack([1.0, 2.0]).weak_type
    assert_same(fnp.concatenate(np.arange(6).reshape(2, 3)), np.arange(6).astype(np.int32))
    with pytest.raises(ValueError, match="Zero-dimensional"):
        fnp.concatenate([fnp.asarray(1.0), fnp.asarray(2.0)])
    with pytest.raises(ValueError, match="at least one"):
        fnp.concatenate([])
    with pytest.raises(ValueError, match="same number of dimensions"):
        fnp.concatenate([np.ones(2), np.ones((2, 2))])


def test_concatenate_grads_vmap():
    a, b = rand((2, 3)), rand((4, 3))
    check_all(lambda m, a, b: m.concatenate([a, b, a], axis=0), a, b)
    check_vmap(lambda m, v: m.concatenate([v, v[:1]], axis=0), rand((3, 2)), axis=1)


@pytest.mark.parametrize("name", ["stack", "hstack", "vstack", "dstack", "column_stack"])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 2)])
def test_stacks_match_numpy(name, shape):
    xs = [rand(shape) for _ in range(3)]
    if name == "column_stack" and len(shape) > 2:
        return
    check_all(lambda m, *a: getattr(m, name)(list(a)), *xs, grads=len(shape) == 2)


# ---------------------------------------------------------------------------
# splitting


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=3), st.data())
def test_split_matches_numpy(shape, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    x = rand(tuple(shape))
    points = sorted(data.draw(st.lists(st.integers(-2, shape[axis] + 2), max_size=3)))
    assert_same(fnp.split(x, points, axis=axis), np.split(x, points, axis=axis))
    sections = data.draw(st.integers(1, 4))
    assert_same(fnp.array_split(x, sections, axis=axis),
                np.array_split(x, sections, axis=axis))
    if shape[axis] % sections == 0:
        assert_same(fnp.split(x, sections, axis=axis), np.split(x, sections, axis=axis))
    else:
        with pytest.raises(ValueError, match="equal division"):
            fnp.split(x, sections, axis=axis)


def test_hsplit_vsplit_dsplit():
    x = rand((4, 6, 2))
    for name, arg in [("hsplit", 3), ("vsplit", [1]), ("dsplit", 2)]:
        assert_same(getattr(fnp, name)(x, arg), getattr(np, name)(x, arg))
    assert_same(fnp.hsplit(np.arange(6.), 2), np.hsplit(np.arange(6, dtype=np.float32), 2))
    with pytest.raises(ValueError):
        fnp.vsplit(np.arange(4.), 2)
    check_grads(lambda x: fnp.split(x, [1, 4], axis=1)[1], (x,), order=2)


# ---------------------------------------------------------------------------
# flip, rot90, roll, tile, repeat


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=3), st.data())
def test_flip_matches_numpy(shape, data):
    x = rand(tuple(shape))
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1),
                               st.lists(st.integers(0, len(shape) - 1), unique=True)))
    axis = tuple(axis) if isinstance(axis, list) else axis
    assert_same(fnp.flip(x, axis), np.flip(x, axis))


def test_flips_rot90_grads_vmap():
    x = rand((3, 4, 2))
    check_all(lambda m, x: m.fliplr(x), x)
    check_all(lambda m, x: m.flipud(x), x)
    for k in range(-3, 5):
        check_all(lambda m, x, k=k: m.rot90(x, k, axes=(2, 0)), x, grads=k == 1)
    check_vmap(lambda m, v: m.rot90(v), rand((3, 4)), axis=1)
    with pytest.raises(ValueError):
        fnp.fliplr(np.ones(3))
    with pytest.raises(ValueError, match="different"):
        fnp.rot90(x, axes=(1, 1))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=3), st.data())
def test_roll_matches_numpy(shape, data):
    x = rand(tuple(shape))
    shift = data.draw(st.integers(-12, 12))
    axis = data.draw(st.one_of(st.none(), st.integers(0, len(shape) - 1)))
    assert_same(fnp.roll(x, shift, axis), np.roll(x, shift, axis))
    if axis is not None:
        got = fx.jit(lambda x, s: fnp.roll(x, s, axis))(x, np.int32(shift))
        assert_same(got, np.roll(x, shift, axis))


def test_roll_multiple_axes_and_grads():
    x = rand((2, 5))
    assert_same(fnp.roll(x, (1, -2), (0, 1)), np.roll(x, (1, -2), (0, 1)))
    assert_same(fnp.roll(x, 3, (0, 1)), np.roll(x, 3, (0, 1)))
    check_grads(lambda x: fnp.roll(x, 2, 1), (x,), order=2)
    check_grads(lambda x: fx.jit(lambda x, s: fnp.roll(x, s, 1))(x, np.int32(-3)), (x,),
                order=2)
    check_vmap(lambda m, v: m.roll(v, 1), rand((4,)))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=0, max_size=3),
       st.lists(st.integers(0, 3), min_size=1, max_size=3))
def test_tile_matches_numpy(shape, reps):
    x = rand(tuple(shape))
    assert_same(fnp.tile(x, reps), np.tile(x, reps))


def test_tile_grads():
    check_all(lambda m, x: m.tile(x, (2, 1, 3)), rand((2, 3)))
    assert_same(fnp.tile(5.0, 3), np.tile(np.float32(5.0), 3), check_dtype=False)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=3), st.data())
def test_repeat_matches_numpy(shape, data):
    x = rand(tuple(shape))
    axis = data.draw(st.one_of(st.none(), st.integers(0, len(shape) - 1)))
    n = x.size if axis is None else shape[axis]
    if data.draw(st.booleans()):
        repeats = data.draw(st.integers(0, 3))
    else:
        repeats = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)),
                           np.int32)
    want = np.repeat(x, repeats, axis)
    assert_same(fnp.repeat(x, repeats, axis), want)
    total = want.shape[0 if axis is None else axis]
    if n:
        traced = fx.jit(lambda x, r: fnp.repeat(x, r, axis, total_repeat_length=total))
        assert_same(traced(x, np.broadcast_to(np.asarray(repeats, np.int32), (n,))), want)


@pytest.mark.jax
def test_repeat_total_repeat_length_matches_jax():
    jax = pytest.importorskip("jax")
    a = np.arange(4.0, dtype=np.float32)
    r = np.array([1, 0, 2, 1], np.int32)
    for length in (3, 4, 6):
        want = jax.numpy.repeat(a, r, total_repeat_length=length)
        assert_same(fnp.repeat(a, r, total_repeat_length=length), want)
        assert_same(fx.jit(lambda a, r, n=length: fnp.repeat(a, r, total_repeat_length=n))(a, r),
                    want)
        assert_same(fnp.repeat(a, 2, total_repeat_length=length),
                    jax.numpy.repeat(a, 2, total_repeat_length=length))


def test_repeat_grads_and_errors():
    check_all(lambda m, x: m.repeat(x, 2, axis=1), rand((2, 3)))
    check_all(lambda m, x: m.repeat(x, np.array([2, 0, 1]), axis=1), rand((2, 3)))
    with pytest.raises(fx.errors.ConcretizationTypeError, match="total_repeat_length"):
        fx.jit(lambda r: fnp.repeat(np.arange(3.), r))(np.array([1, 1, 1]))


# ---------------------------------------------------------------------------
# append, delete, insert


def test_append_delete_insert_match_numpy():
    x = rand((3, 4))
    cases = [
        lambda m, x: m.append(x, x[:1], axis=0),
        lambda m, x: m.append(x, np.ones(2, np.float32)),
        lambda m, x: m.delete(x, 1, axis=1),
        lambda m, x: m.delete(x, -1),
        lambda m, x: m.delete(x, slice(1, 3), axis=0),
        lambda m, x: m.delete(x, np.array([0, 0, 3]), axis=1),
        lambda m, x: m.delete(x, np.array([True, False, True]), axis=0),
        lambda m, x: m.insert(x, 1, np.float32(9.0), axis=1),
        lambda m, x: m.insert(x, 4, np.array([7.0, 8.0, 9.0], np.float32), axis=1),
        lambda m, x: m.insert(x, np.array([1, 1, 3]), np.array([7.0, 8.0, 9.0], np.float32),
                              axis=1),
        lambda m, x: m.insert(x, -1, np.float32(5.0)),
        lambda m, x: m.insert(x, slice(0, 2), np.ones((3, 2), np.float32), axis=1),
    ]
    for f in cases:
        check_all(f, x, order=1)


def test_delete_traced_index_and_errors():
    x = rand((5,))
    f = fx.jit(lambda x, i: fnp.delete(x, i, assume_unique_indices=True))
    assert_same(f(x, np.int32(-2)), np.delete(x, -2))
    with pytest.raises(fx.errors.ConcretizationTypeError):
        fx.jit(lambda x, i: fnp.delete(x, i))(x, np.int32(1))
    with pytest.raises(IndexError, match="out of bounds"):
        fnp.delete(x, 7)
    with pytest.raises(IndexError, match="out of bounds"):
        fnp.insert(x, 7, 1.0)


# ---------------------------------------------------------------------------
# pad


PAD_MODES = ["constant", "edge", "wrap", "reflect", "symmetric", "linear_ramp", "maximum",
             "minimum", "mean"]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(PAD_MODES), st.lists(st.integers(1, 4), min_size=1, max_size=3),
       st.data(), st.sampled_from([np.float32, np.int32]))
def test_pad_matches_numpy(mode, shape, data, dtype):
    x = rand(tuple(shape), dtype)
    widths = [(data.draw(st.integers(0, 7)), data.draw(st.integers(0, 7))) for _ in shape]
    kwargs = {}
    if mode in ("reflect", "symmetric"):
        kwargs["reflect_type"] = data.draw(st.sampled_from(["even", "odd"]))
    elif mode == "constant" and data.draw(st.booleans()):
        kwargs["constant_values"] = [(data.draw(st.integers(-3, 3)), data.draw(
            st.integers(-3, 3))) for _ in shape]
    elif mode == "linear_ramp":
        kwargs["end_values"] = (data.draw(st.integers(-5, 5)), data.draw(st.integers(-5, 5)))
    elif mode in ("maximum", "minimum", "mean") and data.draw(st.booleans()):
        kwargs["stat_length"] = data.draw(st.integers(1, 4))
    want = np.pad(x, widths, mode, **kwargs)
    got = fnp.pad(x, widths, mode, **kwargs)
    if mode == "mean" and dtype == np.int32:  # NumPy rounds half to even, like fx
        assert_same(got, want)
    else:
        assert_same(got, want, tol=1e-5)


def test_pad_widths_forms_and_empty():
    x = rand((2, 3))
    for width in [1, (1, 2), ((1, 0), (2, 1)), [[0, 1]]]:
        assert_same(fnp.pad(x, width), np.pad(x, width))
    assert_same(fnp.pad(x, 2, "empty"), np.pad(x, 2, "constant"))
    with pytest.raises(ValueError, match="non-negative"):
        fnp.pad(x, -1)
    with pytest.raises(NotImplementedError, match="mode"):
        fnp.pad(x, 1, "bogus")
    with pytest.raises(ValueError, match="keyword"):
        fnp.pad(x, 1, "edge", constant_values=3)
    with pytest.raises(ValueError, match="empty axis"):
        fnp.pad(np.zeros((0, 2)), 1, "edge")


@pytest.mark.parametrize("mode", PAD_MODES)
def test_pad_grads_jit_vmap(mode):
    x = rand((3, 4))
    kwargs = {"reflect_type": "odd"} if mode in ("reflect", "symmetric") else {}
    f = lambda m, x: m.pad(x, ((2, 5), (1, 0)), mode, **kwargs)
    check_all(f, x, order=1 if mode in ("maximum", "minimum") else 2)
    check_vmap(f, x, axis=1)


def test_pad_traced_constant_value():
    x = rand((2, 2))
    f = fx.jit(lambda x, c: fnp.pad(x, 1, constant_values=c))
    assert_same(f(x, np.float32(3.5)), np.pad(x, 1, constant_values=3.5))
    check_grads(lambda x, c: fnp.pad(x, ((1, 0), (0, 2)), constant_values=c),
                (x, np.float32(1.5)), order=2)
