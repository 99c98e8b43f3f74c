"""Gathers fused into their consumer's loop (``lowering.fusion.fusible_gather``,
``loop_index.IndexOps.gather``): kernel counts (an embedding lookup with its
epilogue is one loop, no library call, no gather buffer), the recomputation cost
model, compiled results against the reference interpreter over drawn dimension
numbers, dtypes, modes and out-of-bounds indices (with and without compiled
bounds checks), 0- and 1-size cases, jnp's indexing forms against NumPy, vmap and
grad under jit, and the library call that remains for gathers fusion leaves out.
"""
from __future__ import annotations

import platform

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fx
import fx.numpy as jnp
from fx._testing import assert_same, close, compile_and_compare, gather_cases
from fx import lax
from lowering import fusion
from lowering.cpu import clear_cache
from primitives.indexing import GatherDimensionNumbers, GatherScatterMode, gather_p

SETTINGS = settings(max_examples=25, deadline=None)
MODES = [GatherScatterMode.CLIP, GatherScatterMode.FILL_OR_DROP,
         GatherScatterMode.PROMISE_IN_BOUNDS]
_seeds = st.integers(0, 2 ** 31 - 1)


def _gathers(groups, kind):
    return [e for g in groups if g.kind in kind for e in g.eqns
            if e.primitive.name == "gather"]


def _check(f, *args, bounds_check=False, fused=True, rtol=0.0):
    """Compile ``f``, compare with the reference interpreter; with ``fused`` every gather
    must sit in a loop kernel (none a library call, none eager)."""
    _, exe = compile_and_compare(f, *args, bounds_check=bounds_check, x64=True,
                                 compare=close(rtol, rtol) if rtol else assert_same)
    if fused:
        assert _gathers(exe.groups, ("library",)) == []
    return exe


def _written(exe) -> set:
    return {id(v) for g in exe.groups for v in g.outputs}


# ---------------------------------------------------------------------------
# kernel counts


def test_embedding_lookup_with_epilogue_is_one_loop():
    rng = np.random.default_rng(0)
    table = rng.standard_normal((50, 8)).astype(np.float32)
    ids = np.array([3, -1, 49, 50, -51, 0, 7], np.int32)  # two out of range: NaN rows
    b = rng.standard_normal(8).astype(np.float32)

    def f(t, i, b):
        return jnp.take(t, i, axis=0) * 2 + b

    exe = _check(f, table, ids, b)
    assert [g.kind for g in exe.groups] == ["loop"]
    assert exe.kernel_count == 1
    # no buffer for the gather's result nor for the normalised indices
    (g,) = exe.groups
    assert [v.aval.shape for v in g.outputs] == [(7, 8)]
    assert sorted(tuple(v.aval.shape) for v in g.inputs) == [(7,), (8,), (50, 8)]
    want = np.full((7, 8), np.nan, np.float32)
    ok = (ids >= -50) & (ids < 50)
    want[ok] = table[ids[ok]] * 2 + b
    assert_same(np.asarray(fx.jit(f)(table, ids, b)), want)
    if platform.machine() in ("x86_64", "AMD64"):  # element loads, not vector gathers
        assert "+prefer-no-gather" in exe.ir_text
    text = fx.jit(f).lower(table, ids, b).as_text()
    groups_text = text.split("fusion groups:")[1]
    assert groups_text.count("group ") == 1 and "library" not in groups_text


@pytest.mark.parametrize("name", ["x[idx]", "take_along_axis", "x[:, perm]", "relu(take)",
                                  "x[idx, j]", "take clip"])
def test_indexing_forms_are_one_loop(name):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    idx = np.array([0, -1, 3, 5, -6, 2, 2], np.int32)
    perm = rng.permutation(5).astype(np.int32)
    along = rng.integers(-5, 5, (6, 3)).astype(np.int32)
    cases = {
        "x[idx]": (lambda x, i: x[i], (x, idx), lambda x, i: x[i]),
        "take_along_axis": (lambda x, i: jnp.take_along_axis(x, i, axis=1), (x, along),
                            lambda x, i: np.take_along_axis(x, i % 5, axis=1)),
        "x[:, perm]": (lambda x, p: x[:, p], (x, perm), lambda x, p: x[:, p]),
        "relu(take)": (lambda x, i: jnp.maximum(jnp.take(x, i, axis=0), 0.0), (x, idx),
                       lambda x, i: np.maximum(np.take(x, i, axis=0), 0.0)),
        "x[idx, j]": (lambda x, i: x[i, 2] + 1.0, (x, idx), lambda x, i: x[i, 2] + 1.0),
        "take clip": (lambda x, i: jnp.take(x, i * 3, axis=1, mode="clip") - 1.0, (x, perm),
                      lambda x, i: np.take(x, i * 3, axis=1, mode="clip") - 1.0),
    }
    f, args, oracle = cases[name]
    exe = _check(f, *args)
    assert [g.kind for g in exe.groups] == ["loop"], fusion.format_groups(exe.groups)
    assert_same(np.asarray(fx.jit(f)(*args)), oracle(*args))


def test_computed_indices_fuse_with_the_gather():
    """Indices computed from iota and a runtime scalar live inside the loop too."""
    x = np.arange(40, dtype=np.float32).reshape(5, 8)
    k = np.int32(3)

    def f(x, k):
        return x[jnp.clip(jnp.arange(7) * k - 2, 0, 4)] * 0.5

    exe = _check(f, x, k)
    assert [g.kind for g in exe.groups] == ["loop"]
    want = x[np.clip(np.arange(7) * 3 - 2, 0, 4)] * 0.5
    assert_same(np.asarray(fx.jit(f)(x, k)), want)


def test_gather_with_two_consumers_is_recomputed_not_stored():
    rng = np.random.default_rng(2)
    t = rng.standard_normal((50, 8)).astype(np.float32)
    ids = rng.integers(0, 50, 7).astype(np.int32)

    def f(t, i):
        g = jnp.take(t, i, axis=0)
        return g * 2, g.sum(0)

    exe = _check(f, t, ids, rtol=1e-5)
    gathers = _gathers(exe.groups, ("loop", "reduce"))
    assert len(gathers) == 2 and gathers[0] is gathers[1]  # computed in both kernels
    assert id(gathers[0].outvars[0]) not in _written(exe)


def test_expensive_operands_are_stored_when_read_more_than_once():
    rng = np.random.default_rng(3)
    t = rng.standard_normal((50, 8)).astype(np.float32)
    ids = rng.integers(0, 3, 7).astype(np.int32)
    # fewer elements gathered than the operand holds: exp computed per gathered element
    exe = _check(lambda t, i: jnp.exp(t)[i], t, ids)
    assert exe.kernel_count == 1
    # more gathered than held (7*8 > 3*8): exp(t) stored once, the gather reads it
    exe = _check(lambda t, i: jnp.exp(t)[i], t[:3], ids)
    assert exe.kernel_count == 2
    (g,) = [g for g in exe.groups if _gathers([g], ("loop",))]
    assert "exp" not in [e.primitive.name for e in g.eqns]
    # indices from an expensive equation, read once per element of a column window:
    # stored; with the window innermost (a row per index) they stay fused
    x = rng.standard_normal((5, 40)).astype(np.float32)
    p = rng.standard_normal(40).astype(np.float32)
    exe = _check(lambda x, p: x[:, jnp.exp(p).astype(jnp.int32)], x, p)
    assert exe.kernel_count == 2
    exe = _check(lambda x, p: x.T[jnp.exp(p).astype(jnp.int32) % 40] + 1.0, x, p)
    assert exe.kernel_count == 1


def test_gather_feeding_reductions_is_one_kernel():
    """Layer norm of looked-up embeddings: one rows kernel; an embedding bag (sum over
    the looked-up rows): one accumulating kernel."""
    rng = np.random.default_rng(8)
    t = rng.standard_normal((50, 16)).astype(np.float32)
    ids = rng.integers(0, 50, 9).astype(np.int32)

    def norm(t, i):
        e = jnp.take(t, i, axis=0)
        m = e.mean(-1, keepdims=True)
        v = ((e - m) ** 2).mean(-1, keepdims=True)
        return (e - m) / jnp.sqrt(v + 1e-5)

    exe = compile_and_compare(norm, t, ids, x64=True, compare=close(1e-5, 1e-5))[1]
    assert [g.kind for g in exe.groups] == ["reduce"]
    e = t[ids].astype(np.float64)
    want = (e - e.mean(-1, keepdims=True)) / np.sqrt(e.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(exe([t, ids])[0], want, rtol=2e-5, atol=2e-5)
    exe = _check(lambda t, i: jnp.take(t, i, axis=0).sum(0), t, ids, rtol=1e-5)
    assert [(g.kind, g.strategy) for g in exe.groups] == [("reduce", "accumulate")]
    np.testing.assert_allclose(exe([t, ids])[0], t[ids].sum(0), rtol=1e-5, atol=1e-5)


def test_gather_reading_a_reduction_at_data_rows():
    """take_along_axis of a log-softmax (cross entropy) and of argmax positions: the
    gather reads reduction results at data-dependent rows, so they are stored first."""
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((6, 10)).astype(np.float32)
    labels = rng.integers(0, 10, 6).astype(np.int32)

    def ce(l, y):
        ls = fx.nn.log_softmax(l, axis=-1)
        return -jnp.take_along_axis(ls, y[:, None], axis=1).mean()

    exe = _check(ce, logits, labels, rtol=1e-5)
    assert not any(tuple(v.aval.shape) == (6, 10) for g in exe.groups for v in g.outputs)
    shifted = logits - logits.max(1, keepdims=True)
    ls = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    np.testing.assert_allclose(np.asarray(fx.jit(ce)(logits, labels)),
                               -ls[np.arange(6), labels].mean(), rtol=1e-5)
    _check(lambda x: jnp.take_along_axis(x, jnp.argmax(x, axis=1)[:, None], axis=1) * 2, logits)
    ids = np.array([5, 0, 2, 2, -1, -6], np.int32)
    for axis in (0, 1):
        exe = _check(lambda x, i, a=axis: jnp.take(jnp.sum(x, axis=a), i) + 1.0, logits, ids,
                     rtol=1e-5)
        want = np.take(logits.sum(axis), ids) + 1.0
        np.testing.assert_allclose(exe([logits, ids])[0], want, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------
# drawn dimension numbers, dtypes, modes and indices


def _data(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.kind in "iu":
        return rng.integers(0, 100, shape).astype(dtype)
    x = rng.standard_normal(shape).astype(dtype)
    if x.size:
        x.flat[0] = np.nan
    return x


def _bind(dn, sizes, mode, fill):
    def g(x, idx):
        return gather_p.bind(x, idx, dimension_numbers=dn, slice_sizes=sizes,
                             indices_are_sorted=False, unique_indices=False, mode=mode,
                             fill_value=fill)
    return g


@SETTINGS
@given(case=gather_cases(), dtype=st.sampled_from(["float32", "float64", "int32", "uint8",
                                                    "int64", "bool"]),
       index_dtype=st.sampled_from(["int32", "int64", "uint8", "int8", "uint32"]),
       mode=st.sampled_from(MODES), fill=st.sampled_from([None, 7]),
       consumer=st.sampled_from(["none", "elementwise", "reverse", "computed indices"]),
       seed=_seeds, bounds_check=st.booleans())
def test_fused_gather_matches_reference(case, dtype, index_dtype, mode, fill, consumer, seed,
                                        bounds_check):
    shape, batch, dn, sizes = case
    rng = np.random.default_rng(seed)
    x = _data(rng, shape, dtype)
    raw = rng.integers(-3, max(shape) + 3, tuple(batch) + (len(dn.start_index_map),))
    if np.dtype(index_dtype).kind == "u":
        raw = np.abs(raw)
    idx = raw.astype(index_dtype)
    g = _bind(dn, sizes, mode, fill)
    if consumer == "none":
        exe = _check(g, x, idx, bounds_check=bounds_check)
    elif consumer == "elementwise":
        exe = _check(lambda x, i: lax.max(g(x, i), g(x, i)), x, idx, bounds_check=bounds_check)
    elif consumer == "reverse":
        def f(x, i):
            y = g(x, i)
            return lax.rev(y, tuple(range(y.ndim)))
        exe = _check(f, x, idx, bounds_check=bounds_check)
    else:  # indices computed in the loop from a runtime shift
        k = np.asarray(1, index_dtype)
        exe = _check(lambda x, i, k: g(x, lax.sub(i + k, k)), x, idx, k,
                     bounds_check=bounds_check)
    aval = gather_p.abstract_eval(fx.core.ShapedArray(shape, np.dtype(dtype)),
                                  fx.core.ShapedArray(idx.shape, idx.dtype),
                                  dimension_numbers=dn, slice_sizes=sizes, mode=mode)
    aval = aval[0] if isinstance(aval, (list, tuple)) else aval
    out_size = int(np.prod(aval.shape))
    if out_size:
        assert exe.kernel_count == 1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("index_dtype", [np.int64, np.uint64, np.int8, np.uint32])
def test_extreme_indices_never_leave_the_operand(mode, index_dtype):
    """Under compiled bounds checks, whatever the index values (type extremes), for rows,
    columns and 2-element windows."""
    info = np.iinfo(index_dtype)
    idx = np.array([info.min, info.max, 0, 1, info.max // 2, info.min // 2 + 1, 2, 3],
                   index_dtype)
    x = np.arange(12, dtype=np.float64).reshape(4, 3)
    rows = _bind(GatherDimensionNumbers((1,), (0,), (0,)), (1, 3), mode, None)
    cols = _bind(GatherDimensionNumbers((0,), (1,), (1,)), (4, 1), mode, -1.0)
    pairs = _bind(GatherDimensionNumbers((1, 2), (), (0,)), (2, 3), mode, None)
    with fx.enable_x64():
        for g in (rows, cols, pairs):
            _check(lambda x, i, g=g: g(x, i[:, None]) + 1.0, x, idx, bounds_check=True)
    for jmode in ("clip", "fill", "wrap"):
        _check(lambda x, i, m=jmode: jnp.take(x, i, axis=1, mode=m) * 2.0, x, idx,
               bounds_check=True)


@pytest.mark.parametrize("shape,ids", [((0, 4), [0, 1]), ((3, 0), [1, 2]), ((3, 4), []),
                                       ((1, 1), [0]), ((1, 4), [0, -1, 2]), ((5, 1), [4])])
@pytest.mark.parametrize("mode", ["clip", "fill"])
def test_empty_and_unit_sizes(shape, ids, mode):
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    i = np.array(ids, np.int32)
    if shape[0] == 0:  # jnp refuses to index an empty axis: an empty window instead
        g = _bind(GatherDimensionNumbers((1, 2), (), (0,)), (0, shape[1]),
                  GatherScatterMode.from_any(mode), None)
        _check(lambda x, i: g(x, i[:, None]) * 3.0, x, i, bounds_check=True)
        return
    _check(lambda x, i: jnp.take(x, i, axis=0, mode=mode) * 3.0, x, i, bounds_check=True)
    _check(lambda x, i: jnp.take(x, i, axis=0, mode=mode), x, i)


@SETTINGS
@given(rows=st.integers(1, 9), cols=st.integers(1, 7), n=st.integers(0, 9), seed=_seeds,
       mode=st.sampled_from([None, "clip", "fill"]), axis=st.integers(0, 1))
def test_jnp_take_against_numpy(rows, cols, n, seed, mode, axis):
    """Negative indices count from the end (jnp normalises them); out of range ones clamp
    (``clip``) or give NaN (``fill``, the default)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    size = x.shape[axis]
    i = rng.integers(-2 * size - 1, 2 * size + 1, n).astype(np.int32)
    f = fx.jit(lambda x, i: jnp.take(x, i, axis=axis, mode=mode) + 0.5)
    got = np.asarray(f(x, i))
    if mode == "clip":
        want = np.take(x, np.clip(i, 0, size - 1), axis=axis) + 0.5
    else:
        ok = (i >= -size) & (i < size)
        want = np.take(x, np.where(ok, i, 0), axis=axis) + 0.5
        bad = np.moveaxis(want, axis, 0)
        bad[~ok] = np.nan
    assert_same(got, want)


# ---------------------------------------------------------------------------
# transformations under jit


def test_vmap_of_gather_under_jit():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 7)).astype(np.float32)
    j = rng.integers(-7, 7, (4, 3)).astype(np.int32)

    def row(r, k):
        return r[k] * 2.0 + 1.0

    f = fx.jit(fx.vmap(row))
    want = np.stack([x[b][j[b]] * 2.0 + 1.0 for b in range(4)])
    assert_same(np.asarray(f(x, j)), want)
    exe = _check(fx.vmap(row), x, j)
    assert [g.kind for g in exe.groups] == ["loop"]
    # batched operand only, batched indices only
    assert_same(np.asarray(fx.jit(fx.vmap(row, in_axes=(0, None)))(x, j[0])),
          np.stack([x[b][j[0]] * 2.0 + 1.0 for b in range(4)]))
    assert_same(np.asarray(fx.jit(fx.vmap(row, in_axes=(None, 0)))(x[0], j)),
          np.stack([x[0][j[b]] * 2.0 + 1.0 for b in range(4)]))


def test_grad_of_embedding_lookup_under_jit():
    rng = np.random.default_rng(6)
    table = rng.standard_normal((20, 5)).astype(np.float32)
    ids = np.array([3, 3, 0, 19, 7, 3, -1], np.int32)  # repeats accumulate
    w = rng.standard_normal((7, 5)).astype(np.float32)

    def loss(t, i, w):
        return jnp.sum(jnp.maximum(jnp.take(t, i, axis=0), 0.0) * w)

    g = fx.jit(fx.grad(loss))(table, ids, w)
    want = np.zeros_like(table)
    rows = table[ids]
    np.add.at(want, ids, np.where(rows > 0, w, 0.0))
    np.testing.assert_allclose(np.asarray(g), want, rtol=1e-6, atol=1e-6)
    exe = _check(fx.grad(loss), table, ids, w, bounds_check=True)
    assert _gathers(exe.groups, ("library",)) == []
    # finite differences at a few entries
    eps = 1e-2
    for r, c in [(3, 1), (0, 4), (19, 0), (5, 2)]:
        t2 = table.astype(np.float64)
        up, down = t2.copy(), t2.copy()
        up[r, c] += eps
        down[r, c] -= eps
        fd = (float(loss(up, ids, w)) - float(loss(down, ids, w))) / (2 * eps)
        assert abs(fd - float(np.asarray(g)[r, c])) < 1e-2


# ---------------------------------------------------------------------------
# the library call that remains


def test_library_gather_when_fusion_leaves_it(monkeypatch):
    """With fusion refusing gathers, the library call computes the same results."""
    monkeypatch.setattr(fusion, "fusible_gather", lambda eqn: False)
    monkeypatch.setenv("FX_DISK_CACHE", "0")
    clear_cache()
    try:
        rng = np.random.default_rng(7)
        x = rng.standard_normal((6, 5)).astype(np.float32)
        i = np.array([0, -1, 3, 9, -7, 3], np.int32)
        exe = _check(lambda x, i: (jnp.take(x, i, axis=0) * 2, x[:, i % 5],
                                   jnp.take(x, i, axis=1, mode="clip")),
                     x, i, fused=False, bounds_check=True)
        assert len(_gathers(exe.groups, ("library",))) == 3
    finally:
        clear_cache()


def test_fusible_gather_refuses_non_gathers_and_odd_params():
    x = np.ones((4, 3), np.float32)
    i = np.array([1, 2], np.int32)
    eqns = fx.make_jaxpr(lambda x, i: jnp.take(x, i, axis=0) + 1)(x, i).jaxpr.eqns
    (take,) = [e for e in eqns if e.primitive.name == "jit"]  # jit[name=_take], as JAX's
    (gather,) = [e for e in take.params["jaxpr"].jaxpr.eqns if e.primitive.name == "gather"]
    assert fusion.fusible_gather(gather)
    assert not fusion.fusible_gather(eqns[-1])
    assert not fusion.fusible_gather(
        gather.replace(params={**gather.params, "fill_value": (1.0, 2.0)}))
    assert not fusion.fusible_gather(gather.replace(params={**gather.params, "mode": "wrap"}))
