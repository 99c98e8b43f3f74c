"""gather and the scatter family, with random dimension numbers.

Oracles: element-by-element reference implementations of XLA's gather and
scatter written with Python loops (independent of the vectorised impls),
finite differences for derivatives, a Python loop over the batch for vmap,
eager for jit, and ``jax.lax`` where JAX is installed.
"""
import re

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import fx
from fx import lax
from fx.lax import GatherDimensionNumbers, GatherScatterMode, ScatterDimensionNumbers
from fx.test_util import check_grads

CLIP, FILL, PROMISE = (GatherScatterMode.CLIP, GatherScatterMode.FILL_OR_DROP,
                       GatherScatterMode.PROMISE_IN_BOUNDS)


def randn(rng, shape):
    return np.asarray(rng.randn(*shape), np.float32)


def assert_same(got, want, tol=1e-5):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


# ---------------------------------------------------------------------------
# random dimension numbers


@st.composite
def index_case(draw, allow_promise=True, max_rank=3):
    """An operand shape, window sizes and index layout valid for both gather and scatter.

    Indices reach up to 2 past either end; ``allow_promise=False`` leaves out
    PROMISE_IN_BOUNDS (whose clamped reads and dropped writes are not each other's
    derivatives out of bounds, by design).
    """
    rank = draw(st.integers(1, max_rank))
    shape = tuple(draw(st.integers(1, 4)) for _ in range(rank))
    dims = list(range(rank))
    n_batching = draw(st.integers(0, min(1, rank - 1)))
    order = draw(st.permutations(dims))
    operand_batching = sorted(order[:n_batching])
    rest = [d for d in dims if d not in operand_batching]
    k = draw(st.integers(0, len(rest)))
    index_map = list(draw(st.permutations(rest)))[:k]
    collapsed = sorted(d for d in rest if draw(st.booleans()))
    sizes = [1 if d in collapsed or d in operand_batching else draw(st.integers(0, shape[d]))
             for d in dims]
    batch_shape = [draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2)))]
    indices_batching = []
    for d in operand_batching:
        pos = draw(st.integers(0, len(batch_shape)))
        batch_shape.insert(pos, shape[d])
        indices_batching = [p + 1 if p >= pos else p for p in indices_batching] + [pos]
    seed = draw(st.integers(0, 2**16))
    rng = np.random.RandomState(seed)
    slack = 2
    cols = [rng.randint(-slack, shape[d] - sizes[d] + 1 + slack, size=batch_shape)
            for d in index_map]
    indices = np.stack(cols, axis=-1) if cols else np.zeros(tuple(batch_shape) + (0,), int)
    indices = indices.astype(np.int32)
    n_window = rank - len(collapsed) - len(operand_batching)
    out_rank = n_window + len(batch_shape)
    offset_dims = sorted(draw(st.permutations(range(out_rank)))[:n_window])
    mode = draw(st.sampled_from([CLIP, FILL, PROMISE] if allow_promise else [CLIP, FILL]))
    dn = GatherDimensionNumbers(offset_dims=tuple(offset_dims),
                                collapsed_slice_dims=tuple(collapsed),
                                start_index_map=tuple(index_map),
                                operand_batching_dims=tuple(operand_batching),
                                start_indices_batching_dims=tuple(indices_batching))
    return shape, indices, dn, tuple(sizes), mode, rng


def scatter_dnums(dn):
    return ScatterDimensionNumbers(update_window_dims=dn.offset_dims,
                                   inserted_window_dims=dn.collapsed_slice_dims,
                                   scatter_dims_to_operand_dims=dn.start_index_map,
                                   operand_batching_dims=dn.operand_batching_dims,
                                   scatter_indices_batching_dims=dn.start_indices_batching_dims)


def out_shape(shape, indices, dn, sizes):
    window = [sizes[d] for d in range(len(shape))
              if d not in dn.collapsed_slice_dims and d not in dn.operand_batching_dims]
    batch = list(indices.shape[:-1])
    return tuple(window.pop(0) if p in dn.offset_dims else batch.pop(0)
                 for p in range(len(window) + len(batch)))


# ---------------------------------------------------------------------------
# element-by-element references


def _locate(shape, indices, dn, sizes, batch_idx, mode):
    """Start of the window for one index vector, and whether it was out of bounds."""
    start, oob = [0] * len(shape), False
    vec = indices[batch_idx]
    for k, d in enumerate(dn.start_index_map):
        s, hi = int(vec[k]), shape[d] - sizes[d]
        oob |= not 0 <= s <= hi
        start[d] = min(max(s, 0), hi)
    for od, idim in zip(dn.operand_batching_dims, dn.start_indices_batching_dims, strict=True):
        start[od] = batch_idx[idim]
    return start, oob


def gather_reference(x, indices, dn, sizes, mode, fill):
    shape = out_shape(x.shape, indices, dn, sizes)
    window_dims = [d for d in range(x.ndim)
                   if d not in dn.collapsed_slice_dims and d not in dn.operand_batching_dims]
    out = np.empty(shape, x.dtype)
    for idx in np.ndindex(*shape):
        batch_idx = tuple(idx[p] for p in range(len(shape)) if p not in dn.offset_dims)
        start, oob = _locate(x.shape, indices, dn, sizes, batch_idx, mode)
        for p, d in zip(dn.offset_dims, window_dims, strict=True):
            start[d] += idx[p]
        out[idx] = fill if (mode is FILL and oob) else x[tuple(start)]
    return out


COMBINE = {"set": lambda old, new: new, "add": np.add, "mul": np.multiply,
           "min": np.minimum, "max": np.maximum, "sub": np.subtract}


def scatter_reference(x, indices, updates, dn, mode, kind):
    """The scatter result, and whether some element was written more than once (where
    'set' leaves the winner unspecified)."""
    sdn = scatter_dnums(dn)
    out = x.copy()
    written = np.zeros(x.shape, int)
    window_dims = [d for d in range(x.ndim)
                   if d not in sdn.inserted_window_dims and d not in sdn.operand_batching_dims]
    sizes = [1] * x.ndim
    for d, u in zip(window_dims, sdn.update_window_dims, strict=True):
        sizes[d] = updates.shape[u]
    for idx in np.ndindex(*updates.shape):
        batch_idx = tuple(idx[p] for p in range(updates.ndim)
                          if p not in sdn.update_window_dims)
        start, oob = _locate(x.shape, indices, dn, sizes, batch_idx, mode)
        if oob and mode is not CLIP:
            continue
        for p, d in zip(sdn.update_window_dims, window_dims, strict=True):
            start[d] += idx[p]
        out[tuple(start)] = COMBINE[kind](out[tuple(start)], updates[idx])
        written[tuple(start)] += 1
    return out, bool((written > 1).any())


SCATTERS = {"set": lax.scatter, "add": lax.scatter_add, "mul": lax.scatter_mul,
            "min": lax.scatter_min, "max": lax.scatter_max, "sub": lax.scatter_sub}


# ---------------------------------------------------------------------------
# values


@settings(max_examples=60, deadline=None)
@given(index_case())
def test_gather_matches_reference(case):
    shape, indices, dn, sizes, mode, rng = case
    x = randn(rng, shape)
    want = gather_reference(x, indices, dn, sizes, mode, np.nan)
    assert_same(lax.gather(x, indices, dn, sizes, mode=mode), want)
    assert_same(fx.jit(lambda x, i: lax.gather(x, i, dn, sizes, mode=mode))(x, indices), want)


@settings(max_examples=20, deadline=None)
@given(index_case(), st.sampled_from([np.int32, np.uint8, np.bool_]))
def test_gather_fill_values_per_dtype(case, dtype):
    shape, indices, dn, sizes, _, rng = case
    x = (randn(rng, shape) * 5).astype(dtype)
    fill = {np.int32: np.iinfo(np.int32).min, np.uint8: 255, np.bool_: True}[dtype]
    assert_same(lax.gather(x, indices, dn, sizes, mode="fill"),
                gather_reference(x, indices, dn, sizes, FILL, fill))
    assert_same(lax.gather(x, indices, dn, sizes, mode="fill", fill_value=3),
                gather_reference(x, indices, dn, sizes, FILL, 3))


@settings(max_examples=60, deadline=None)
@given(index_case(), st.sampled_from(sorted(SCATTERS)))
def test_scatter_matches_reference(case, kind):
    shape, indices, dn, sizes, mode, rng = case
    x = randn(rng, shape)
    u = randn(rng, out_shape(shape, indices, dn, sizes))
    sdn = scatter_dnums(dn)
    want, collided = scatter_reference(x, indices, u, dn, mode, kind)
    assume(kind != "set" or not collided)
    assert_same(SCATTERS[kind](x, indices, u, sdn, mode=mode), want)
    f = fx.jit(lambda x, i, u: SCATTERS[kind](x, i, u, sdn, mode=mode))
    assert_same(f(x, indices, u), want)


@pytest.mark.jax
@settings(max_examples=30, deadline=None)
@given(index_case(), st.sampled_from(["add", "mul", "min", "max", "gather"]))
def test_matches_jax(case, kind):
    jax = pytest.importorskip("jax")
    shape, indices, dn, sizes, mode, rng = case
    x = randn(rng, shape)
    jdn = jax.lax.GatherDimensionNumbers(*dn)
    jmode = jax.lax.GatherScatterMode[mode.name]
    if kind == "gather":
        assert_same(lax.gather(x, indices, dn, sizes, mode=mode),
                    jax.lax.gather(x, indices, jdn, sizes, mode=jmode))
        return
    # XLA on CPU applies only one of several updates when index vectors are empty (all
    # updates hit the same window); fx combines all of them, as with any repeated index.
    assume(indices.shape[-1] > 0 or indices.size == 0 and np.prod(indices.shape[:-1]) <= 1)
    u = randn(rng, out_shape(shape, indices, dn, sizes))
    jsdn = jax.lax.ScatterDimensionNumbers(*scatter_dnums(dn))
    want = getattr(jax.lax, f"scatter_{kind}")(x, indices, u, jsdn, mode=jmode)
    assert_same(SCATTERS[kind](x, indices, u, scatter_dnums(dn), mode=mode), want)


def test_scatter_apply_repeats_duplicates():
    dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
                                 scatter_dims_to_operand_dims=(0,))
    x = np.arange(5, dtype=np.float32)
    idx = np.array([[0], [0], [3], [9]], np.int32)
    out = lax.scatter_apply(x, idx, lambda v: v * 2 + 1, dn, update_shape=(4,))
    assert_same(out, np.array([3, 1, 2, 7, 4], np.float32))
    out = fx.jit(lambda x: lax.scatter_apply(x, idx, lambda v: v * 2 + 1, dn,
                                             update_shape=(4,)))(x)
    assert_same(out, np.array([3, 1, 2, 7, 4], np.float32))


# ---------------------------------------------------------------------------
# derivatives


@settings(max_examples=25, deadline=None)
@given(index_case(allow_promise=False))
def test_gather_grads(case):
    shape, indices, dn, sizes, mode, rng = case
    x = randn(rng, shape)
    check_grads(lambda x: lax.gather(x, indices, dn, sizes, mode=mode, fill_value=0.5), (x,),
                order=2)


@settings(max_examples=25, deadline=None)
@given(index_case(allow_promise=False), st.sampled_from(["add", "sub", "set", "min", "max"]))
def test_scatter_grads(case, kind):
    shape, indices, dn, sizes, mode, rng = case
    x = randn(rng, shape)
    u = randn(rng, out_shape(shape, indices, dn, sizes))
    sdn = scatter_dnums(dn)
    check_grads(lambda x, u: SCATTERS[kind](x, indices, u, sdn, mode=mode), (x, u), order=2)


@settings(max_examples=20, deadline=None)
@given(index_case(allow_promise=False))
def test_scatter_mul_grads(case):
    shape, indices, dn, sizes, mode, rng = case
    x = randn(rng, shape)
    u = randn(rng, out_shape(shape, indices, dn, sizes))
    sdn = scatter_dnums(dn)
    check_grads(lambda x: lax.scatter_mul(x, indices, u, sdn, mode=mode), (x,), order=2)


def test_scatter_mul_update_grads_need_unique_indices():
    dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
                                 scatter_dims_to_operand_dims=(0,))
    x = np.arange(1, 6, dtype=np.float32)
    u = np.array([2., 3.], np.float32)
    unique = np.array([[1], [3]], np.int32)
    check_grads(lambda x, u: lax.scatter_mul(x, unique, u, dn, unique_indices=True),
                (x, u), order=2)
    with pytest.raises(NotImplementedError, match="unique_indices"):
        fx.grad(lambda u: lax.scatter_mul(x, unique, u, dn).sum())(u)


def test_scatter_set_duplicates_grad_goes_to_the_winner():
    dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
                                 scatter_dims_to_operand_dims=(0,))
    x = np.arange(5, dtype=np.float32)
    idx = np.array([[0], [0], [7]], np.int32)
    u = np.array([2., 3., 4.], np.float32)
    gx, gu = fx.grad(lambda x, u: lax.scatter(x, idx, u, dn).sum(), argnums=(0, 1))(x, u)
    assert_same(gx, np.array([0, 1, 1, 1, 1], np.float32))
    assert_same(gu, np.array([0, 1, 0], np.float32))


def test_scatter_extremum_grads_share_ties():
    dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
                                 scatter_dims_to_operand_dims=(0,))
    x = np.array([1., 5., 0.], np.float32)
    idx = np.array([[0], [0], [1]], np.int32)
    u = np.array([3., 3., 2.], np.float32)
    gx, gu = fx.grad(lambda x, u: lax.scatter_max(x, idx, u, dn).sum(), argnums=(0, 1))(x, u)
    assert_same(gx, np.array([0, 1, 1], np.float32))
    assert_same(gu, np.array([0.5, 0.5, 0], np.float32))


# ---------------------------------------------------------------------------
# vmap, jit


def _batched(value, axis, size, rng):
    if axis is None:
        return value
    if value.dtype.kind == "i":
        copies = [value] + [np.flip(value, axis=tuple(range(value.ndim - 1)))
                            if value.ndim > 1 else value for _ in range(size - 1)]
    else:
        copies = [randn(rng, value.shape).astype(value.dtype) for _ in range(size)]
    return np.stack(copies, axis=axis)


def _check_vmap(f, args, in_axes, rng, size=2):
    batched = [_batched(a, ax, size, rng) for a, ax in zip(args, in_axes, strict=True)]
    out = fx.vmap(f, in_axes=in_axes)(*batched)
    want = np.stack([np.asarray(f(*[a if ax is None else np.take(a, b, axis=ax)
                                    for a, ax in zip(batched, in_axes, strict=True)]))
                     for b in range(size)])
    assert_same(out, want)


@settings(max_examples=25, deadline=None)
@given(index_case(), st.sampled_from([(0, None), (None, 0), (0, 0), (-1, 1)]))
def test_gather_vmap(case, in_axes):
    shape, indices, dn, sizes, mode, rng = case
    x = randn(rng, shape)
    in_axes = tuple(None if a is None else (a % (np.ndim(v) + 1))
                    for a, v in zip(in_axes, (x, indices), strict=True))
    _check_vmap(lambda x, i: lax.gather(x, i, dn, sizes, mode=mode), (x, indices), in_axes,
                rng)


@settings(max_examples=30, deadline=None)
@given(index_case(), st.sampled_from(["set", "add", "mul", "max"]),
       st.sampled_from([(0, None, None), (None, 0, None), (None, None, 0), (0, 0, 0),
                        (1, None, 0), (None, 0, 1)]))
def test_scatter_vmap(case, kind, in_axes):
    shape, indices, dn, sizes, mode, rng = case
    x = randn(rng, shape)
    u = randn(rng, out_shape(shape, indices, dn, sizes))
    sdn = scatter_dnums(dn)
    args = (x, indices, u)
    in_axes = tuple(None if a is None else min(a, np.ndim(v))
                    for a, v in zip(in_axes, args, strict=True))
    _check_vmap(lambda x, i, u: SCATTERS[kind](x, i, u, sdn, mode=mode), args, in_axes, rng)


def test_vmap_of_grad_of_gather():
    dn = GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,),
                                start_index_map=(0,))
    xs = np.random.RandomState(1).randn(3, 5, 2).astype(np.float32)
    idx = np.array([[4], [0], [4]], np.int32)
    f = lambda x: (lax.gather(x, idx, dn, (1, 2)) ** 2).sum()
    got = fx.vmap(fx.grad(f))(xs)
    want = np.stack([np.asarray(fx.grad(f)(x)) for x in xs])
    assert_same(got, want)


# ---------------------------------------------------------------------------
# errors and printing


def test_gather_errors_name_the_problem():
    x = np.zeros((3, 4), np.float32)
    i = np.zeros((2, 1), np.int32)
    dn = GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,),
                                start_index_map=(0,))
    with pytest.raises(TypeError, match="slice_sizes"):
        lax.gather(x, i, dn, (1, 5))
    with pytest.raises(TypeError, match="integer"):
        lax.gather(x, i.astype(np.float32), dn, (1, 4))
    with pytest.raises(TypeError, match="start_index_map"):
        lax.gather(x, np.zeros((2, 2), np.int32), dn, (1, 4))
    bad = GatherDimensionNumbers(offset_dims=(2,), collapsed_slice_dims=(0,),
                                 start_index_map=(0,))
    with pytest.raises(TypeError, match="offset_dims"):
        lax.gather(x, i, bad, (1, 4))
    with pytest.raises(TypeError, match="GatherDimensionNumbers"):
        lax.gather(x, i, (1,), (1, 4))


def test_scatter_errors_name_the_problem():
    x = np.zeros((3, 4), np.float32)
    i = np.zeros((2, 1), np.int32)
    dn = ScatterDimensionNumbers(update_window_dims=(1,), inserted_window_dims=(0,),
                                 scatter_dims_to_operand_dims=(0,))
    with pytest.raises(TypeError, match="scatter dimensions of updates"):
        lax.scatter_add(x, i, np.zeros((3, 4), np.float32), dn)
    with pytest.raises(TypeError, match="dtype"):
        lax.scatter_add(x, i, np.zeros((2, 4), np.int32), dn)
    with pytest.raises(TypeError, match="larger than operand"):
        lax.scatter_add(x, i, np.zeros((2, 5), np.float32), dn)
    with pytest.raises(ValueError, match="gather mode"):
        lax.scatter_add(x, i, np.zeros((2, 4), np.float32), dn, mode="bogus")


@pytest.mark.jax
def test_printed_jaxprs_match_jax():
    jax = pytest.importorskip("jax")
    x = np.arange(12.).reshape(3, 4).astype(np.float32)
    i = np.array([[0], [2]], np.int32)
    u = np.ones((3, 2), np.float32)

    def gather(l):
        return lambda x, i: l.gather(x, i, l.GatherDimensionNumbers(
            offset_dims=(0,), collapsed_slice_dims=(1,), start_index_map=(1,)), (3, 1),
            mode="fill")

    def scatter(l, name):
        return lambda x, i, u: getattr(l, name)(x, i, u, l.ScatterDimensionNumbers(
            update_window_dims=(0,), inserted_window_dims=(1,), scatter_dims_to_operand_dims=(1,)))

    assert layout_free(fx.make_jaxpr(gather(lax))(x, i)) == \
        layout_free(jax.make_jaxpr(gather(jax.lax))(x, i))
    for name in ["scatter", "scatter_add", "scatter_mul", "scatter_min", "scatter_max",
                 "scatter_sub"]:
        assert layout_free(fx.make_jaxpr(scatter(lax, name))(x, i, u)) == \
            layout_free(jax.make_jaxpr(scatter(jax.lax, name))(x, i, u)), name


def layout_free(jaxpr) -> str:
    text = " ".join(str(jaxpr).split())
    return re.sub(r"\s*\]", "]", re.sub(r"\[\s*", "[", text))
