"""Pooling fused by the CPU compiler: windowed reductions as fusion groups of their own
(lowering.fusion, strategy "window"; code in lowering/cpu/loops.py) with their operand's
producers pulled into the window loop when recomputing them per read is cheaper than
storing them, and elementwise consumers as an epilogue. Kernel counts and group
structure, compiled results against the reference interpreter over hypothesis-drawn
window parameters (padding, strides, dilations), dtypes and bounds checks, a parallel
split, and the gradient of a pooled loss under jit against the eager one (and JAX's)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import fx
import fx.numpy as jnp
from fx._testing import window_cases
from fx import lax
from fx.core import eval_jaxpr
from lowering import fusion
from lowering.cpu import lib_window, loops
from lowering.cpu.compile import compile as compile_native
from primitives.windowed import (reduce_window_max_p, reduce_window_min_p,
                                 reduce_window_sum_p)

SETTINGS = settings(max_examples=40, deadline=None)
_PRIMS = {"sum": reduce_window_sum_p, "max": reduce_window_max_p, "min": reduce_window_min_p}


def _maxpool(y, window=2, stride=2, padding="VALID"):
    return lax.reduce_window(y, -np.inf, lax.max, (1, 1, window, window),
                             (1, 1, stride, stride), padding)


def _sumpool(y, window=3, stride=1, padding="SAME"):
    return lax.reduce_window(y, 0.0, lax.add, (1, 1, window, window), (1, 1, stride, stride),
                             padding)


def _compiled(f, *args, bounds_check=True):
    closed = fx.make_jaxpr(f)(*args)
    exe = compile_native(closed, bounds_check=bounds_check)
    assert exe.fallbacks == [], [e.primitive.name for e in exe.fallbacks]
    return closed, exe


def _window_groups(exe):
    return [g for g in exe.groups if g.strategy == "window"]


def _args(seed=0, shape=(2, 3, 8, 8)):
    r = np.random.default_rng(seed)
    return (r.standard_normal(shape).astype(np.float32),
            r.standard_normal((shape[1], 1, 1)).astype(np.float32))


# ---------------------------------------------------------------------------
# group structure


def test_maxpool_of_relu_is_one_loop():
    """Non-overlapping windows (stride == window): relu(x + b) is computed in the window
    loop, no buffer for it, one kernel in all."""
    x, b = _args()
    f = lambda x, b: _maxpool(jnp.maximum(x + b, 0))  # noqa: E731
    closed, exe = _compiled(f, x, b)
    assert exe.kernel_count == 1 and len(exe.groups) == 1
    (g,) = _window_groups(exe)
    assert {e.primitive.name for e in g.eqns} >= {"add", "max", "reduce_window_max"}
    assert [v.aval.shape for v in g.inputs] == [(3, 1, 1), (2, 3, 8, 8)] or \
        sorted(v.aval.shape for v in g.inputs) == [(2, 3, 8, 8), (3, 1, 1)]
    np.testing.assert_array_equal(exe([x, b])[0], eval_jaxpr(closed.jaxpr, closed.consts,
                                                              x, b)[0])


def test_avg_pool_is_sum_pool_and_divide_in_one_loop():
    x, _ = _args()
    f = lambda x: _sumpool(x) / 9.0  # noqa: E731
    closed, exe = _compiled(f, x)
    assert exe.kernel_count == 1 and len(exe.groups) == 1
    (g,) = _window_groups(exe)
    # the division by a constant is XLA's multiply by its reciprocal (lowering/div_rewrite)
    assert [e.primitive.name for e in g.eqns][-1] == "mul"
    np.testing.assert_allclose(exe([x])[0], eval_jaxpr(closed.jaxpr, closed.consts, x)[0],
                               rtol=1e-6, atol=1e-6)


def test_epilogue_after_pool_fuses():
    """relu(maxpool(x) * 2 - 1): the epilogue joins the window group."""
    x, _ = _args(1)
    f = lambda x: jnp.maximum(_maxpool(x) * 2 - 1, 0)  # noqa: E731
    closed, exe = _compiled(f, x)
    assert exe.kernel_count == 1
    np.testing.assert_array_equal(exe([x])[0], eval_jaxpr(closed.jaxpr, closed.consts, x)[0])


def test_overlapping_windows_store_an_arithmetic_producer():
    """3x3 stride 1: each element of relu(x + b) would be recomputed for 9 windows, so it
    is stored (2 kernels); an index-only producer (a transpose) costs nothing and is
    still read through the window (1 kernel)."""
    x, b = _args(2)
    f = lambda x, b: _sumpool(jnp.maximum(x + b, 0)) / 9.0  # noqa: E731
    closed, exe = _compiled(f, x, b)
    assert exe.kernel_count == 2
    (g,) = _window_groups(exe)
    assert "add" not in {e.primitive.name for e in g.eqns}
    np.testing.assert_allclose(exe([x, b])[0], eval_jaxpr(closed.jaxpr, closed.consts,
                                                          x, b)[0], rtol=1e-6, atol=1e-6)
    t = lambda x: _sumpool(jnp.transpose(x, (0, 1, 3, 2)))  # noqa: E731
    closed, exe = _compiled(t, x)
    assert exe.kernel_count == 1
    np.testing.assert_allclose(exe([x])[0], eval_jaxpr(closed.jaxpr, closed.consts, x)[0],
                               rtol=1e-6, atol=1e-6)


def test_recompute_rule():
    """The cost rule of lowering.fusion: a single cheap op is recomputed for 2x2 stride 1
    windows (cost 1 x (4 - 1) reads <= WINDOW_STORE_COST), an expensive one is not."""
    x, _ = _args(3)
    cheap = lambda x: _sumpool(x * 2, 2, 1, "VALID")  # noqa: E731
    dear = lambda x: _sumpool(jnp.exp(x), 2, 1, "VALID")  # noqa: E731
    once = lambda x: _maxpool(jnp.tanh(x))  # noqa: E731  (no overlap: always fused)
    for f, kernels in ((cheap, 1), (dear, 2), (once, 1)):
        closed, exe = _compiled(f, x)
        assert exe.kernel_count == kernels, fusion.format_groups(exe.groups)
        np.testing.assert_allclose(exe([x])[0], eval_jaxpr(closed.jaxpr, closed.consts, x)[0],
                                   rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("case", ["reduce_after", "transpose_after", "pool_of_pool",
                                  "two_pools"])
def test_boundaries_of_window_groups(case):
    """What cannot join a window group is stored: a row reduction of the pooled values,
    a non-elementwise consumer, a second window over the first one's result."""
    x, _ = _args(4)
    f, kernels = {
        "reduce_after": (lambda x: jnp.sum(_maxpool(x), axis=(2, 3)), 2),
        "transpose_after": (lambda x: jnp.transpose(_maxpool(x), (0, 1, 3, 2)) + 1, 2),
        "pool_of_pool": (lambda x: _maxpool(_maxpool(x)), 2),
        "two_pools": (lambda x: _maxpool(x) - lax.reduce_window(
            x, np.inf, lax.min, (1, 1, 2, 2), (1, 1, 2, 2), "VALID"), 2),
    }[case]
    closed, exe = _compiled(f, x)
    assert exe.kernel_count == kernels, fusion.format_groups(exe.groups)
    np.testing.assert_allclose(exe([x])[0], eval_jaxpr(closed.jaxpr, closed.consts, x)[0],
                               rtol=1e-6, atol=1e-6)


def test_large_window_stays_a_library_call():
    side = int(np.sqrt(lib_window.UNROLL_MAX)) + 1
    x = np.random.default_rng(5).standard_normal((2, 2 * side, side)).astype(np.float32)
    f = lambda x: lax.reduce_window(x, -np.inf, lax.max, (1, side, side), (1, 1, 1),  # noqa
                                    "VALID") + 1
    closed, exe = _compiled(f, x)
    assert [g.kind for g in exe.groups].count("library") == 1 and not _window_groups(exe)
    np.testing.assert_array_equal(exe([x])[0], eval_jaxpr(closed.jaxpr, closed.consts, x)[0])


def test_default_fusion_keeps_windows_as_boundaries():
    """Without a backend that says FUSE_WINDOW (the default predicate, the GPU's), a
    windowed reduction is a library boundary as before."""
    x, _ = _args()
    closed = fx.make_jaxpr(lambda x: _maxpool(jnp.maximum(x, 0)) + 1)(x)
    kinds = [g.kind for g in fusion.fuse(closed.jaxpr, lambda e: True)]
    assert kinds == ["loop", "library", "loop"]


# ---------------------------------------------------------------------------
# results against the reference interpreter


def _data(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, int(info.max) + 1, shape, dtype=dtype)
    x = (rng.standard_normal(shape) * 10).astype(dtype)
    if x.size:
        picks = rng.random(shape) < 0.1
        x[picks] = rng.choice(np.array([np.nan, -0.0, np.inf, -np.inf]), int(picks.sum()))
    return x


def _program(kind, dtype, params):
    """producer -> window -> epilogue, per dtype kind."""
    prim = _PRIMS[kind]
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return lambda a: jnp.logical_not(prim.bind(jnp.logical_not(a), **params))
    if dtype.kind in "iu":
        one = np.asarray(1, dtype)
        return lambda a: prim.bind(a + one, **params) * np.asarray(3, dtype)
    return lambda a: jnp.abs(prim.bind(a * 0.5 + 1, **params)) - 2


@SETTINGS
@given(case=window_cases(7), kind=st.sampled_from(["sum", "max", "min"]),
       dtype=st.sampled_from([np.float32, np.float64, np.int32, np.int8, np.uint8, np.bool_]),
       bounds_check=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_fused_window_matches_reference(case, kind, dtype, bounds_check, seed):
    shape, params = case
    assume(not (kind == "sum" and dtype == np.bool_))
    x = _data(np.random.default_rng(seed), shape, dtype)
    f = _program(kind, dtype, params)
    with fx.enable_x64():
        closed = fx.make_jaxpr(f)(x)
        exe = compile_native(closed, bounds_check=bounds_check)
        want = eval_jaxpr(closed.jaxpr, closed.consts, x)[0]
    assert exe.fallbacks == []
    assert len(_window_groups(exe)) == 1, fusion.format_groups(exe.groups)
    got = exe([x])[0]
    want = np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype
    if got.dtype.kind == "f":
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        if kind == "sum":  # NumPy's sum may pair the additions differently
            scale = np.max(np.abs(want[np.isfinite(want)]), initial=1.0)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * scale)
            return
    np.testing.assert_array_equal(got, want)


def test_parallel_split_of_a_window_group(monkeypatch):
    """Rows of a window group split across threads give the single-threaded result."""
    monkeypatch.setattr(loops, "PARALLEL_MIN_ELEMENTS", 1)
    x, b = _args(6, (4, 5, 9, 11))
    f = lambda x, b: _maxpool(jnp.maximum(x + b, 0), 3, 2, "SAME") * 2  # noqa: E731
    closed, exe = _compiled(f, x, b)
    assert exe.kernel_count == 1
    np.testing.assert_array_equal(exe([x, b])[0], eval_jaxpr(closed.jaxpr, closed.consts,
                                                              x, b)[0])


# ---------------------------------------------------------------------------
# gradients


def _pooled_loss(x, b):
    y = jnp.maximum(x + b, 0)
    return jnp.sum(_maxpool(y) ** 2) + jnp.sum(_sumpool(y) / 9.0)


def test_grad_of_pooled_loss_under_jit():
    x, b = _args(7, (2, 3, 6, 6))
    g = fx.jit(fx.grad(_pooled_loss, argnums=(0, 1)))
    gx, gb = g(x, b)
    ex, eb = fx.grad(_pooled_loss, argnums=(0, 1))(x, b)
    np.testing.assert_allclose(gx, ex, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gb, eb, rtol=1e-5, atol=1e-4)
    closed = fx.make_jaxpr(fx.grad(_pooled_loss, argnums=(0, 1)))(x, b)
    exe = compile_native(closed, bounds_check=True)
    assert not [e for e in exe.fallbacks if e.primitive.name.startswith("reduce_window")]
    assert _window_groups(exe)
    for got, want in zip(exe([x, b]), (ex, eb)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    jax = pytest.importorskip("jax")
    jjnp = jax.numpy

    def jloss(x, b):
        y = jjnp.maximum(x + b, 0)
        mp = jax.lax.reduce_window(y, -jjnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2),
                                   "VALID")
        sp = jax.lax.reduce_window(y, 0.0, jax.lax.add, (1, 1, 3, 3), (1, 1, 1, 1), "SAME")
        return jjnp.sum(mp ** 2) + jjnp.sum(sp / 9.0)
    jx, jb = jax.jit(jax.grad(jloss, argnums=(0, 1)))(x, b)
    np.testing.assert_allclose(gx, np.asarray(jx), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gb, np.asarray(jb), rtol=1e-5, atol=1e-4)


def test_window_group_inside_a_scan_body():
    """A pooled recurrence: the window group is emitted inside the native scan loop."""
    x, _ = _args(8)

    def body(c, _):
        y = _maxpool(jnp.maximum(c, 0), 3, 1, "SAME")
        return y * 0.5 + c * 0.5, jnp.sum(y)
    f = lambda x: lax.scan(body, x, None, length=4)  # noqa: E731
    closed, exe = _compiled(f, x)
    assert [g.kind for g in exe.groups] == ["library"]  # the scan, natively
    for got, want in zip(exe([x]), eval_jaxpr(closed.jaxpr, closed.consts, x)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
