"""slice, dynamic_slice, dynamic_update_slice, pad, concatenate, rev.

Oracles: NumPy (and small independent reference implementations) for values,
finite differences (``fx.test_util.check_grads``) for derivatives, a Python
loop over the batch for vmap, eager evaluation for jit, and ``jax.lax`` where
JAX is installed.
"""
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx import lax
from fx.test_util import check_grads
from primitives import pad_p

RNG = np.random.RandomState(0)


def rand(shape, dtype=np.float32):
    if np.dtype(dtype).kind in "iu":
        return RNG.randint(-5, 6, size=shape).astype(dtype)
    if np.dtype(dtype).kind == "b":
        return RNG.rand(*shape) > 0.5
    return np.asarray(RNG.randn(*shape)).astype(dtype)


def assert_same(got, want):
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def check_vmap(f, args, in_axes, size=3):
    """fx.vmap(f) on stacked copies of ``args`` vs a loop of f over the batch."""
    batched = []
    for a, ax in zip(args, in_axes, strict=True):
        if ax is None:
            batched.append(a)
        else:
            stack = np.stack([rand(np.shape(a), np.asarray(a).dtype) if np.asarray(
                a).dtype.kind == "f" else a for _ in range(size)], axis=ax)
            batched.append(stack)
    out = fx.vmap(f, in_axes=in_axes)(*batched)
    expect = [np.asarray(f(*[a if ax is None else np.take(a, b, axis=ax)
                             for a, ax in zip(batched, in_axes, strict=True)]))
              for b in range(size)]
    assert_same(out, np.stack(expect))


def check_jit(f, args):
    assert_same(fx.jit(f)(*args), f(*args))


def jax_or_skip():
    return pytest.importorskip("jax")


# ---------------------------------------------------------------------------
# slice


@st.composite
def slice_case(draw):
    rank = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(0, 5)) for _ in range(rank))
    starts, limits, strides = [], [], []
    for d in shape:
        s = draw(st.integers(0, d))
        starts.append(s)
        limits.append(draw(st.integers(s, d)))
        strides.append(draw(st.integers(1, 3)))
    return shape, tuple(starts), tuple(limits), tuple(strides)


@settings(max_examples=25, deadline=None)
@given(slice_case())
def test_slice_matches_numpy(case):
    shape, starts, limits, strides = case
    x = rand(shape)
    want = x[tuple(slice(s, l, st) for s, l, st in zip(starts, limits, strides, strict=True))]
    assert_same(lax.slice(x, starts, limits, strides), want)
    assert_same(fx.jit(lambda x: lax.slice(x, starts, limits, strides))(x), want)


@pytest.mark.jax
@settings(max_examples=15, deadline=None)
@given(slice_case())
def test_slice_matches_jax(case):
    jax = jax_or_skip()
    shape, starts, limits, strides = case
    x = rand(shape)
    assert_same(lax.slice(x, starts, limits, strides),
                jax.lax.slice(x, starts, limits, strides))


def test_slice_grads_vmap_jit():
    x = rand((4, 5))
    f = lambda x: lax.slice(x, (1, 0), (4, 5), (2, 3))
    check_grads(f, (x,), order=2)
    for ax in (0, 1, 2):
        check_vmap(f, (x,), (ax,))
    check_jit(f, (x,))


def test_slice_errors():
    x = rand((3, 4))
    with pytest.raises(TypeError, match="shape|size"):
        lax.slice(x, (0, 0), (4, 4))
    with pytest.raises(TypeError, match="one entry per dimension"):
        lax.slice(x, (0,), (1,))
    with pytest.raises(TypeError, match="strides"):
        lax.slice(x, (0, 0), (3, 4), (0, 1))


def test_slice_in_dim_and_index_in_dim():
    x = rand((4, 6))
    assert_same(lax.slice_in_dim(x, -4, None, 2, axis=1), x[:, -4::2])
    assert_same(lax.slice_in_dim(x, None, -1, axis=0), x[:-1])
    assert_same(lax.index_in_dim(x, -1, axis=1, keepdims=False), x[:, -1])
    assert_same(lax.index_in_dim(x, 2), x[2:3])
    with pytest.raises(IndexError):
        lax.index_in_dim(x, 7, axis=1)


# ---------------------------------------------------------------------------
# dynamic_slice, dynamic_update_slice


def clamp_starts(starts, shape, sizes):
    out = []
    for s, d, w in zip(starts, shape, sizes, strict=True):
        s = s + d if s < 0 else s  # allow_negative_indices wraps once
        out.append(min(max(s, 0), d - w))
    return out


@st.composite
def dynamic_case(draw):
    rank = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 5)) for _ in range(rank))
    sizes = tuple(draw(st.integers(0, d)) for d in shape)
    starts = tuple(draw(st.integers(-d - 2, d + 2)) for d in shape)
    return shape, sizes, starts


@settings(max_examples=25, deadline=None)
@given(dynamic_case())
def test_dynamic_slice_clamps_like_xla(case):
    shape, sizes, starts = case
    x = rand(shape)
    s = clamp_starts(starts, shape, sizes)
    want = x[tuple(slice(a, a + w) for a, w in zip(s, sizes, strict=True))]
    assert_same(lax.dynamic_slice(x, starts, sizes), want)
    idx = [np.int32(i) for i in starts]
    assert_same(fx.jit(lambda x, *i: lax.dynamic_slice(x, i, sizes))(x, *idx), want)


@settings(max_examples=25, deadline=None)
@given(dynamic_case())
def test_dynamic_update_slice_clamps_like_xla(case):
    shape, sizes, starts = case
    x, u = rand(shape), rand(sizes)
    s = clamp_starts(starts, shape, sizes)
    want = x.copy()
    want[tuple(slice(a, a + w) for a, w in zip(s, sizes, strict=True))] = u
    assert_same(lax.dynamic_update_slice(x, u, starts), want)
    idx = [np.int32(i) for i in starts]
    assert_same(fx.jit(lambda x, u, *i: lax.dynamic_update_slice(x, u, i))(x, u, *idx), want)


@pytest.mark.jax
@settings(max_examples=15, deadline=None)
@given(dynamic_case())
def test_dynamic_slicing_matches_jax(case):
    jax = jax_or_skip()
    shape, sizes, starts = case
    x, u = rand(shape), rand(sizes)
    assert_same(lax.dynamic_slice(x, starts, sizes), jax.lax.dynamic_slice(x, starts, sizes))
    assert_same(lax.dynamic_update_slice(x, u, starts),
                jax.lax.dynamic_update_slice(x, u, starts))


def test_dynamic_slice_traced_negative_index_wraps():
    x = rand((6,))
    f = fx.jit(lambda x, i: lax.dynamic_slice_in_dim(x, i, 2))
    assert_same(f(x, np.int32(-2)), x[4:6])
    assert_same(f(x, np.int32(-9)), x[0:2])
    g = fx.jit(lambda x, i: lax.dynamic_index_in_dim(x, i, keepdims=False))
    assert_same(g(x, np.int32(-1)), x[5])


def test_dynamic_slice_grads():
    x = rand((5, 4))
    i = np.int32(2)
    check_grads(lambda x: lax.dynamic_slice(x, (i, np.int32(1)), (2, 3)), (x,), order=2)
    u = rand((2, 2))
    check_grads(lambda x, u: lax.dynamic_update_slice(x, u, (np.int32(4), np.int32(-1))),
                (x, u), order=2)


@pytest.mark.parametrize("in_axes", [(0, None, None), (None, 0, 0), (1, 0, None),
                                     (None, None, 0), (2, 0, 0)])
def test_dynamic_slice_vmap(in_axes):
    x = rand((5, 4))
    f = lambda x, i, j: lax.dynamic_slice(x, (i, j), (2, 3))
    args = [x, np.int32(3), np.int32(-1)]
    size = 3
    batched = []
    for a, ax in zip(args, in_axes, strict=True):
        if ax is None:
            batched.append(a)
        elif np.ndim(a) == 0:
            batched.append(np.array([-7, 1, 4], np.int32)[:size])
        else:
            batched.append(np.stack([rand(x.shape) for _ in range(size)], axis=ax))
    out = fx.vmap(f, in_axes=in_axes)(*batched)
    want = np.stack([np.asarray(f(*[a if ax is None else np.take(a, b, axis=ax)
                                   for a, ax in zip(batched, in_axes, strict=True)]))
                     for b in range(size)])
    assert_same(out, want)


@pytest.mark.parametrize("in_axes", [(0, None, None), (None, 0, None), (None, None, 0),
                                     (0, 0, 0), (1, None, 0), (None, 1, 0)])
def test_dynamic_update_slice_vmap(in_axes):
    f = lambda x, u, i: lax.dynamic_update_slice(x, u, (i, np.int32(1)))
    size = 3
    base = [rand((4, 5)), rand((2, 3)), np.int32(1)]
    batched = []
    for a, ax in zip(base, in_axes, strict=True):
        if ax is None:
            batched.append(a)
        elif np.ndim(a) == 0:
            batched.append(np.array([-1, 0, 3], np.int32))
        else:
            batched.append(np.stack([rand(np.shape(a)) for _ in range(size)], axis=ax))
    out = fx.vmap(f, in_axes=in_axes)(*batched)
    want = np.stack([np.asarray(f(*[a if ax is None else np.take(a, b, axis=ax)
                                   for a, ax in zip(batched, in_axes, strict=True)]))
                     for b in range(size)])
    assert_same(out, want)


def test_dynamic_slice_batched_indices_grad():
    # vmap over indices turns dynamic_slice into a gather; its transpose is a scatter-add
    x = rand((6, 3))
    idx = np.array([0, 2, 5], np.int32)
    f = lambda x: fx.vmap(lambda i: lax.dynamic_slice(x, (i, np.int32(0)), (2, 3)))(idx)
    check_grads(f, (x,), order=2)
    g = lambda x, u: fx.vmap(lambda i, u: lax.dynamic_update_slice(x, u, (i, np.int32(0))))(
        idx, u)
    check_grads(g, (x, rand((3, 2, 3))), order=2)


def test_dynamic_slice_errors():
    x = rand((3, 4))
    with pytest.raises(TypeError, match="start indices"):
        lax.dynamic_slice(x, (0,), (1, 1))
    with pytest.raises(TypeError, match=r"slice size 5"):
        lax.dynamic_slice(x, (0, 0), (1, 5))
    with pytest.raises(TypeError, match="integer"):
        lax.dynamic_slice(x, (0.5, 0), (1, 1))
    with pytest.raises(TypeError, match="fit inside"):
        lax.dynamic_update_slice(x, rand((4, 1)), (0, 0))


# ---------------------------------------------------------------------------
# pad


def pad_reference(x, value, config):
    """Output position o of each dimension reads x[(o - lo) / (interior + 1)] when that
    is a whole number in range, else ``value``."""
    out_shape = [lo + hi + d + max(d - 1, 0) * it for d, (lo, hi, it) in
                 zip(x.shape, config, strict=True)]
    out = np.full(out_shape, value, x.dtype)
    grids = np.meshgrid(*[np.arange(n) for n in out_shape], indexing="ij")
    src, ok = [], np.ones(out_shape, bool)
    for g, d, (lo, _, it) in zip(grids, x.shape, config, strict=True):
        q, r = np.divmod(g - lo, it + 1)
        ok &= (r == 0) & (q >= 0) & (q < d)
        src.append(np.where(ok, q, 0))
    if x.size:
        out[ok] = x[tuple(s[ok] for s in src)]
    return out


@st.composite
def pad_case(draw):
    rank = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(0, 4)) for _ in range(rank))
    config = []
    for d in shape:
        interior = draw(st.integers(0, 2))
        dilated = d + max(d - 1, 0) * interior
        lo = draw(st.integers(-dilated, 3))
        hi = draw(st.integers(-(dilated + lo) if dilated + lo > 0 else 0, 3))
        config.append((lo, hi, interior))
    return shape, tuple(config)


@settings(max_examples=30, deadline=None)
@given(pad_case())
def test_pad_matches_reference(case):
    shape, config = case
    x = rand(shape)
    assert_same(lax.pad(x, np.float32(-7.0), config), pad_reference(x, -7.0, config))


@pytest.mark.jax
@settings(max_examples=15, deadline=None)
@given(pad_case())
def test_pad_matches_jax(case):
    jax = jax_or_skip()
    shape, config = case
    x = rand(shape)
    assert_same(lax.pad(x, np.float32(2.5), config), jax.lax.pad(x, np.float32(2.5), config))


def test_pad_grads_vmap_jit():
    x = rand((3, 4))
    config = ((1, -1, 1), (-2, 2, 0))
    f = lambda x, v: lax.pad(x, v, config)
    check_grads(f, (x, np.float32(0.5)), order=2)
    for axes in [(0, None), (1, None), (None, 0), (0, 0), (2, 0)]:
        check_vmap(f, (x, np.float32(0.5)), axes)
    check_jit(f, (x, np.float32(0.5)))


def test_pad_errors():
    x = rand((3,))
    with pytest.raises(TypeError, match="same dtype"):
        pad_p.bind(x, np.int32(0), padding_config=((0, 0, 0),))
    with pytest.raises(TypeError, match="negative"):
        lax.pad(x, 0., [(-3, -1, 0)])
    with pytest.raises(TypeError, match="interior"):
        lax.pad(x, 0., [(0, 0, -1)])


# ---------------------------------------------------------------------------
# concatenate, rev


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.data())
def test_concatenate_matches_numpy(rank, data):
    dim = data.draw(st.integers(0, rank - 1))
    base = [data.draw(st.integers(0, 3)) for _ in range(rank)]
    n = data.draw(st.integers(1, 4))
    xs = []
    for _ in range(n):
        shape = list(base)
        shape[dim] = data.draw(st.integers(0, 3))
        xs.append(rand(tuple(shape)))
    assert_same(lax.concatenate(xs, dim), np.concatenate(xs, axis=dim))
    assert_same(fx.jit(lambda *a: lax.concatenate(a, dim))(*xs), np.concatenate(xs, axis=dim))


def test_concatenate_grads_vmap():
    xs = (rand((2, 3)), rand((4, 3)), rand((1, 3)))
    f = lambda a, b, c: lax.concatenate([a, b, c], 0)
    check_grads(f, xs, order=2)
    check_grads(lambda a: lax.concatenate([a, xs[1]], 0), (xs[0],), order=1)
    for axes in [(0, None, None), (None, 1, None), (0, 0, 0), (2, None, 1)]:
        check_vmap(f, xs, axes)


def test_concatenate_errors():
    with pytest.raises(TypeError, match="non-empty"):
        lax.concatenate([], 0)
    with pytest.raises(TypeError, match="equal except"):
        lax.concatenate([rand((2, 3)), rand((2, 4))], 0)
    with pytest.raises(TypeError, match="same dtype"):
        lax.concatenate([rand((2,)), rand((2,), np.int32)], 0)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=3), st.data())
def test_rev_matches_numpy(shape, data):
    dims = data.draw(st.lists(st.integers(0, len(shape) - 1), unique=True))
    x = rand(tuple(shape))
    assert_same(lax.rev(x, dims), np.flip(x, tuple(dims)) if dims else x)


def test_rev_grads_vmap_jit():
    x = rand((3, 4))
    f = lambda x: lax.rev(x, (1,))
    check_grads(f, (x,), order=2)
    for ax in (0, 1, 2):
        check_vmap(f, (x,), (ax,))
    check_jit(f, (x,))
    with pytest.raises(TypeError, match="distinct"):
        lax.rev(x, (0, 0))


def test_weak_types_follow_jax():
    x = fnp.zeros(3)  # strong float32
    weak = fx.Array(np.full(3, 2.0, np.float32), True)  # as if it came from a Python scalar
    assert weak.weak_type
    assert lax.slice(weak, (0,), (2,)).weak_type
    assert lax.rev(weak, (0,)).weak_type
    assert not lax.slice(x, (0,), (2,)).weak_type
    assert lax.dynamic_slice(weak, (1,), (1,)).weak_type
    j = fx.make_jaxpr(lambda w: lax.slice(w, (0,), (2,)))(weak)
    assert j.out_avals[0].weak_type


@pytest.mark.jax
def test_jaxpr_text_matches_jax():
    jax = jax_or_skip()
    x = rand((3, 4))
    cases = [lambda l: (lambda x: l.pad(x, np.float32(0), [(1, 2, 1), (0, -1, 0)])),
             lambda l: (lambda x: l.slice(x, (0, 1), (3, 4), (2, 1))),
             lambda l: (lambda x: l.rev(x, (1,))),
             lambda l: (lambda x: l.dynamic_slice(x, (1, 2), (2, 2))),
             lambda l: (lambda x: l.concatenate([x, x], 1))]
    for case in cases:
        assert layout_free(fx.make_jaxpr(case(lax))(x)) == \
            layout_free(jax.make_jaxpr(case(jax.lax))(x))


def layout_free(jaxpr) -> str:
    """Jaxpr text with line breaks and indentation removed (only names and params)."""
    text = " ".join(str(jaxpr).split())
    return re.sub(r"\s*\]", "]", re.sub(r"\[\s*", "[", text))
