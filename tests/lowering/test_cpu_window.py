"""reduce_window_sum/max/min as native loops of the CPU compiler, against the reference
interpreter (the eager NumPy impls) over hypothesis-drawn shapes (empty, unit, odd),
dtypes, window dimensions, strides, padding (negative: cropping), base and window
dilation, with NaN/inf/-0.0 data; every program must run without an eager fallback,
with and without compiled bounds checks; both the fused form (a window group of
lowering.fusion, windows of at most UNROLL_MAX positions) and the library loop."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import fx
from fx._testing import window_cases
from fx import lax
from fx.core import eval_jaxpr
from lowering.cpu import lib_window
from lowering.cpu.compile import compile as compile_native
from primitives.windowed import (reduce_window_max_p, reduce_window_min_p,
                                 reduce_window_sum_p)

SETTINGS = settings(max_examples=60, deadline=None)
_PRIMS = {"sum": reduce_window_sum_p, "max": reduce_window_max_p, "min": reduce_window_min_p}
_SPECIALS = np.array([np.nan, -0.0, 0.0, np.inf, -np.inf])


def _data(rng, shape, dtype, specials=True):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, int(info.max) + 1, shape, dtype=dtype)
    x = (rng.standard_normal(shape) * 10).astype(dtype)
    if specials and x.size:
        picks = rng.random(shape) < 0.15
        x[picks] = rng.choice(_SPECIALS, int(picks.sum()))
    return x


def _compare(kind, got, want):
    want = np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype,
                                                                 want.shape, want.dtype)
    if got.dtype.kind == "f":
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        if kind == "sum":  # the eager NumPy sum may pair the additions differently
            scale = np.max(np.abs(want[np.isfinite(want)]), initial=1.0)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * scale)
            return
    np.testing.assert_array_equal(got, want)


def _run(kind, x, bounds_check, **params):
    prim = _PRIMS[kind]
    with fx.enable_x64():
        closed = fx.make_jaxpr(lambda a: prim.bind(a, **params))(x)
    exe = compile_native(closed, bounds_check=bounds_check)
    assert exe.fallbacks == [], [e.primitive.name for e in exe.fallbacks]
    got = exe([x])
    with fx.enable_x64():
        want = eval_jaxpr(closed.jaxpr, closed.consts, x)
    _compare(kind, got[0], want[0])


@SETTINGS
@given(case=window_cases(), kind=st.sampled_from(["sum", "max", "min"]),
       dtype=st.sampled_from([np.float32, np.float64, np.int32, np.int8, np.uint8, np.bool_]),
       bounds_check=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_reduce_window_matches_reference(case, kind, dtype, bounds_check, seed):
    shape, params = case
    assume(not (kind == "sum" and dtype == np.bool_))
    x = _data(np.random.default_rng(seed), shape, dtype)
    _run(kind, x, bounds_check, **params)


@SETTINGS
@given(case=window_cases(), kind=st.sampled_from(["sum", "max", "min"]),
       dtype=st.sampled_from([np.float32, np.float64, np.int32, np.int8, np.uint8, np.bool_]),
       bounds_check=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_library_loop_matches_reference(case, kind, dtype, bounds_check, seed):
    """The library helper (what windows the fused form does not take use) over the same
    parameters: fusion of windows switched off."""
    shape, params = case
    assume(not (kind == "sum" and dtype == np.bool_))
    x = _data(np.random.default_rng(seed), shape, dtype)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lib_window, "fusible", lambda eqn: False)
        _run(kind, x, bounds_check, **params)


@pytest.mark.parametrize("kind", ["sum", "max", "min"])
def test_large_window_loops(kind):
    """A window of more than UNROLL_MAX positions (loops, not unrolled), padded."""
    side = int(np.sqrt(lib_window.UNROLL_MAX)) + 2
    x = _data(np.random.default_rng(1), (3, 11, 13), np.float32)
    _run(kind, x, True, window_dimensions=(1, side, side), window_strides=(1, 2, 3),
         padding=((0, 0), (side // 2, side // 2), (1, side - 2)), base_dilation=(1, 1, 2),
         window_dilation=(1, 1, 1))


@pytest.mark.parametrize("kind,init,op", [("max", -np.inf, lax.max), ("min", np.inf, lax.min),
                                          ("sum", 0.0, lax.add)])
def test_pooling_through_jit_in_parallel(kind, init, op, monkeypatch):
    """NCHW pooling large enough to split across threads, through fx.jit (with the lax
    wrapper), 'SAME' padding with the identity -inf/inf/0."""
    monkeypatch.setattr(lib_window, "PARALLEL_MIN_WORK", 1)
    monkeypatch.setattr(lib_window, "fusible", lambda eqn: False)
    x = _data(np.random.default_rng(2), (4, 8, 9, 10), np.float32)

    def pool(a):
        return lax.reduce_window(a, init, op, (1, 1, 3, 3), (1, 1, 2, 2), "SAME")
    closed = fx.make_jaxpr(pool)(x)
    exe = compile_native(closed, bounds_check=True)
    assert exe.fallbacks == []
    assert "reduce_window" in "".join(str(e.primitive) for e in closed.jaxpr.eqns)
    _compare(kind, exe([x])[0], eval_jaxpr(closed.jaxpr, closed.consts, x)[0])
    _compare(kind, np.asarray(fx.jit(pool)(x)), pool(x))


def test_max_pool_gradient_compiles():
    """The max-pool VJP's forward reduce_window_max runs natively inside the jitted
    gradient, and the gradient equals the eager one."""
    x = _data(np.random.default_rng(3), (2, 3, 6, 6), np.float32, specials=False)

    def loss(a):
        y = lax.reduce_window(a, -np.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        return (y * y).sum()
    closed = fx.make_jaxpr(fx.grad(loss))(x)
    exe = compile_native(closed, bounds_check=True)
    assert all(e.primitive.name != "reduce_window_max" for e in exe.fallbacks)
    np.testing.assert_allclose(exe([x])[0], fx.grad(loss)(x), rtol=1e-6)
