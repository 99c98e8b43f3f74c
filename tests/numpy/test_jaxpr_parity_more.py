"""What more of ``fx.numpy``/``fx.lax`` print, against JAX 0.10.2: the ``jit[name=...]``
boundaries of the nan-reductions (``nansum`` ... ``nanargmin``) and the cumulative
functions (``cumsum`` ... ``cumulative_prod``, with JAX's integer upcasting), ``copysign``
/ ``signbit`` / ``nextafter`` / ``logaddexp`` / ``logaddexp2`` and their derivatives, and
``lax.bessel_i0e``/``bessel_i1e`` as primitives with JAX's derivative rules.

Oracles: JAX's printed jaxprs, dtypes and weak types (skipped without JAX); NumPy/SciPy
for values; finite differences for derivatives; a Python loop for vmap; eager for jit.
Printed jaxprs are compared as text after the normalisation of ``test_jaxpr_parity``.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx import lax
from fx.test_util import check_grads


def _text(jaxpr) -> str:
    text = " ".join(str(jaxpr).split()).replace("[ ", "[").replace(" ]", "]")
    return re.sub(r"np\.int64\((-?\d+)\)", r"\1", text)


X = (np.arange(12, dtype=np.float32).reshape(3, 4) / 7 - 0.5)
XN = X.copy()
XN[0, 1] = XN[2, 3] = np.nan
XN[1, :] = np.nan                    # an all-NaN row
H = XN.astype(np.float16)
I = (X * 10).astype(np.int32)
I8 = (X * 10).astype(np.int8)
U8 = (X * 10 + 6).astype(np.uint8)
B = X > 0
MASK = np.array([[True, False, True, True]] * 3)


def _programs(m):
    """name -> (function, args), written once for ``m`` = ``fx`` or ``jax``."""
    jnp, jlax = m.numpy, m.lax
    progs = {}
    # nan-reductions: float32/float16 with NaNs, int and bool inputs, axis/keepdims/where
    for fname in ("nansum", "nanprod", "nanmax", "nanmin", "nanmean", "nanvar", "nanstd"):
        fn = getattr(jnp, fname)
        progs[f"{fname}_all"] = (lambda x, fn=fn: fn(x), (XN,))
        progs[f"{fname}_axis"] = (lambda x, fn=fn: fn(x, axis=1), (XN,))
        progs[f"{fname}_keepdims"] = (lambda x, fn=fn: fn(x, axis=0, keepdims=True), (XN,))
        progs[f"{fname}_f16"] = (lambda x, fn=fn: fn(x, axis=-1), (H,))
        progs[f"{fname}_int"] = (lambda x, fn=fn: fn(x, axis=0), (I,))
        progs[f"{fname}_bool"] = (lambda x, fn=fn: fn(x), (B,))
        progs[f"{fname}_tuple_axis"] = (lambda x, fn=fn: fn(x, axis=(0, 1)), (XN,))
    for fname in ("nansum", "nanprod", "nanmean", "nanvar", "nanstd"):
        fn = getattr(jnp, fname)
        progs[f"{fname}_where"] = (lambda x, w, fn=fn: fn(x, axis=1, where=w), (XN, MASK))
    for fname in ("nanmax", "nanmin"):
        fn = getattr(jnp, fname)
        progs[f"{fname}_initial"] = (lambda x, fn=fn: fn(x, axis=1, initial=0.5), (XN,))
        progs[f"{fname}_where"] = (lambda x, w, fn=fn: fn(x, axis=1, where=w, initial=-1.0),
                                   (XN, MASK))
    progs["nansum_initial"] = (lambda x: jnp.nansum(x, axis=0, initial=2.0), (XN,))
    progs["nansum_dtype"] = (lambda x: jnp.nansum(x, dtype=jnp.float16), (XN,))
    progs["nanmean_dtype"] = (lambda x: jnp.nanmean(x, axis=1, dtype=jnp.float16), (XN,))
    progs["nanvar_ddof"] = (lambda x: jnp.nanvar(x, axis=1, ddof=1), (XN,))
    progs["nanstd_ddof_keepdims"] = (lambda x: jnp.nanstd(x, axis=0, ddof=1, keepdims=True),
                                     (XN,))
    progs["nanvar_int_ddof"] = (lambda x: jnp.nanvar(x, ddof=1), (I,))
    progs["nanvar_complex"] = (lambda x: jnp.nanvar(x, axis=0),
                               ((XN + 1j * X).astype(np.complex64),))
    for fname in ("nanargmax", "nanargmin"):
        fn = getattr(jnp, fname)
        progs[f"{fname}_all"] = (lambda x, fn=fn: fn(x), (XN,))
        progs[f"{fname}_axis"] = (lambda x, fn=fn: fn(x, axis=1), (XN,))
        progs[f"{fname}_keepdims"] = (lambda x, fn=fn: fn(x, axis=0, keepdims=True), (XN,))
        progs[f"{fname}_int"] = (lambda x, fn=fn: fn(x, axis=0), (I,))
        progs[f"{fname}_f16"] = (lambda x, fn=fn: fn(x, axis=1), (H,))
    # derivatives (forward mode: reverse mode keeps JAX's unused zero residuals of the
    # ``_where`` jvp, a partial-evaluation difference outside these functions)
    for fname in ("nanmean", "nanvar", "nanmax", "nanstd", "nansum"):
        fn = getattr(jnp, fname)
        progs[f"jvp_{fname}"] = (lambda x, fn=fn: m.jvp(lambda x: fn(x, axis=1), (x,), (x,)),
                                 (X,))
    # cumulative: JAX binds the cumsum/cumprod primitives (with reverse) in a jit,
    # upcasting booleans (and, in cumulative_sum, narrow integers)
    for fname in ("cumsum", "cumprod", "nancumsum", "nancumprod"):
        fn = getattr(jnp, fname)
        progs[f"{fname}_axis"] = (lambda x, fn=fn: fn(x, axis=1), (XN,))
        progs[f"{fname}_flat"] = (lambda x, fn=fn: fn(x), (XN,))
        progs[f"{fname}_1d"] = (lambda x, fn=fn: fn(x), (XN[0],))
        progs[f"{fname}_scalar"] = (lambda x, fn=fn: fn(x), (np.float32(2),))
        progs[f"{fname}_weak"] = (lambda x, fn=fn: fn(x), (2.0,))
        progs[f"{fname}_neg_axis"] = (lambda x, fn=fn: fn(x, axis=-2), (H,))
        progs[f"{fname}_bool"] = (lambda x, fn=fn: fn(x, axis=0), (B,))
        progs[f"{fname}_int8"] = (lambda x, fn=fn: fn(x, axis=0), (I8,))
        progs[f"{fname}_uint8"] = (lambda x, fn=fn: fn(x, axis=1), (U8,))
        progs[f"{fname}_dtype"] = (lambda x, fn=fn: fn(x, axis=0, dtype=jnp.int32), (XN,))
        progs[f"{fname}_dtype_bool"] = (lambda x, fn=fn: fn(x, axis=1, dtype=bool), (X,))
        progs[f"{fname}_bool_dtype_bool"] = (lambda x, fn=fn: fn(x, dtype=bool), (B,))
        if "prod" not in fname:  # (fx's cumprod jvp is its own closed form, exact at
            # zeros; JAX differentiates an associative scan)
            progs[f"jvp_{fname}"] = (
                lambda x, fn=fn: m.jvp(lambda x: fn(x, axis=1), (x,), (x,)), (X,))
    for fname in ("cumulative_sum", "cumulative_prod"):
        fn = getattr(jnp, fname)
        progs[f"{fname}"] = (lambda x, fn=fn: fn(x, axis=1), (X,))
        progs[f"{fname}_1d"] = (lambda x, fn=fn: fn(x), (X[0],))
        progs[f"{fname}_initial"] = (lambda x, fn=fn: fn(x, axis=0, include_initial=True),
                                     (X,))
        progs[f"{fname}_int8"] = (lambda x, fn=fn: fn(x, axis=1), (I8,))
        progs[f"{fname}_uint8_initial"] = (
            lambda x, fn=fn: fn(x, axis=-1, include_initial=True), (U8,))
        progs[f"{fname}_bool"] = (lambda x, fn=fn: fn(x, axis=0), (B,))
        progs[f"{fname}_dtype"] = (lambda x, fn=fn: fn(x, axis=0, dtype=jnp.float16), (I,))
    for fname in ("cummax", "cummin", "cumsum", "cumprod", "cumlogsumexp"):
        fn = getattr(jlax, fname)
        progs[f"lax_{fname}"] = (lambda x, fn=fn: fn(x, axis=1, reverse=True), (X,))
    # copysign / signbit / nextafter / logaddexp / logaddexp2
    V, W = X[0], X[1, ::-1]
    progs["copysign"] = (jnp.copysign, (V, W))
    progs["copysign_scalar"] = (lambda x: jnp.copysign(x, -0.0), (V,))
    progs["copysign_weak"] = (lambda x: jnp.copysign(2.0, x), (V,))
    progs["copysign_int"] = (jnp.copysign, (I[0], V))
    progs["copysign_f16"] = (jnp.copysign, (H[0], H[2]))
    progs["copysign_broadcast"] = (jnp.copysign, (X, W))
    progs["signbit"] = (jnp.signbit, (V,))
    progs["signbit_f16"] = (jnp.signbit, (H,))
    progs["signbit_int"] = (jnp.signbit, (I,))
    progs["signbit_uint"] = (jnp.signbit, (U8,))
    progs["signbit_bool"] = (jnp.signbit, (B,))
    progs["signbit_weak"] = (jnp.signbit, (-2.0,))
    progs["nextafter"] = (jnp.nextafter, (V, W))
    progs["nextafter_scalar"] = (lambda x: jnp.nextafter(x, 1.0), (V,))
    progs["nextafter_f16"] = (jnp.nextafter, (H[0], H[2]))
    for fname in ("logaddexp", "logaddexp2"):
        fn = getattr(jnp, fname)
        progs[fname] = (fn, (V, W))
        progs[f"{fname}_scalar"] = (lambda x, fn=fn: fn(x, 0.5), (X,))
        progs[f"{fname}_int"] = (fn, (I[0], I[1]))
        progs[f"{fname}_f16"] = (fn, (H[0], H[2]))
        progs[f"{fname}_complex"] = (fn, (V + 1j * W, W + 0.5j))
        progs[f"jvp_{fname}"] = (lambda x, y, fn=fn: m.jvp(fn, (x, y), (y, x)), (V, W))
        progs[f"jvp_{fname}_one"] = (lambda x, fn=fn: m.jvp(lambda x: fn(x, 0.5), (x,), (x,)),
                                     (V,))
        progs[f"grad_{fname}"] = (m.grad(lambda x, y, fn=fn: fn(x, y).sum(), (0, 1)), (V, W))
    # lax.bessel_i0e / bessel_i1e: the primitives, with JAX's derivative rules
    for fname in ("bessel_i0e", "bessel_i1e"):
        fn = getattr(jlax, fname)
        progs[fname] = (fn, (V,))
        progs[f"{fname}_f16"] = (fn, (H[2],))
        progs[f"{fname}_weak"] = (fn, (0.5,))
        progs[f"jvp_{fname}"] = (lambda x, fn=fn: m.jvp(fn, (x,), (x,)), (V,))
        progs[f"grad_{fname}"] = (m.grad(fn), (0.5,))
        progs[f"grad_{fname}_f32"] = (m.grad(fn), (np.float32(-0.5),))
        progs[f"grad2_{fname}"] = (m.grad(m.grad(fn)), (np.float32(0.7),))
        progs[f"vmap_grad_{fname}"] = (m.vmap(m.grad(fn)), (V,))
        progs[f"jvp_{fname}_weak"] = (lambda x, fn=fn: m.jvp(fn, (x,), (x,)), (0.5,))
    return progs


_NAMES = sorted(_programs(fx))
_COMPILED_NAMES = _NAMES


def _rtol(name, args):
    if "nextafter" in name:
        return 0  # one ulp is the whole answer
    return 2e-3 if any(np.asarray(a).dtype == np.float16 for a in args) else 2e-6


@pytest.mark.parametrize("name", _NAMES)
def test_printed_jaxpr_equals_jax(name, jax):
    f, args = _programs(fx)[name]
    jf, jargs = _programs(jax)[name]
    assert _text(fx.make_jaxpr(f)(*args)) == _text(jax.make_jaxpr(jf)(*jargs))


def _assert_same(got, want, rtol):
    got, want = fx.tree_util.tree_leaves(got), fx.tree_util.tree_leaves(want)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert (g.dtype, g.shape) == (w.dtype, w.shape)
        assert bool(getattr(g, "weak_type", False)) == bool(getattr(w, "weak_type", False))
        np.testing.assert_allclose(np.asarray(g, np.float64 if g.dtype != bool else bool),
                                   np.asarray(w, np.float64 if w.dtype != bool else bool),
                                   rtol=rtol, atol=rtol)


@pytest.mark.parametrize("name", _COMPILED_NAMES)
def test_jit_results_match_jax(name, jax):
    f, args = _programs(fx)[name]
    jf, jargs = _programs(jax)[name]
    _assert_same(fx.jit(f)(*args), jax.jit(jf)(*jargs), _rtol(name, args))


@pytest.mark.parametrize("name", _COMPILED_NAMES)
def test_eager_equals_jit(name):
    """Eager calls run the bodies op by op (no jit dispatch): same values, dtypes and
    weak types as the jitted call."""
    f, args = _programs(fx)[name]
    _assert_same(f(*args), fx.jit(f)(*args), min(_rtol(name, args), 1e-6))


# ---------------------------------------------------------------------------
# values against NumPy / SciPy


_NAN_FUNCS = ("nansum", "nanprod", "nanmax", "nanmin", "nanmean", "nanvar", "nanstd")


@settings(max_examples=25, deadline=None)
@given(shape=st.sampled_from([(5,), (3, 4), (2, 3, 4)]), seed=st.integers(0, 2**16),
       keepdims=st.booleans(), dtype=st.sampled_from([np.float32, np.float16]))
def test_nan_reductions_match_numpy(shape, seed, keepdims, dtype):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).astype(dtype)
    x[rng.random(shape) < 0.3] = np.nan
    axis = int(rng.integers(-len(shape), len(shape)))
    x64 = x.astype(np.float64)
    rtol = 1e-5 if dtype == np.float32 else 5e-3
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's empty-lane warnings
        for name in _NAN_FUNCS:
            want = getattr(np, name)(x64, axis=axis, keepdims=keepdims)
            for fn in (getattr(fnp, name),
                       fx.jit(getattr(fnp, name), static_argnames=("axis", "keepdims"))):
                got = fn(x, axis=axis, keepdims=keepdims)
                assert got.dtype == dtype and got.shape == want.shape, name
                np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=rtol,
                                           atol=rtol, err_msg=name)
        full = ~np.isnan(x).all(axis=axis, keepdims=True)
        for name in ("nanargmax", "nanargmin"):
            got = np.asarray(getattr(fnp, name)(x, axis=axis, keepdims=True))
            filled = np.where(np.isnan(x64), -np.inf if name == "nanargmax" else np.inf, x64)
            want = getattr(np, name[3:])(filled, axis=axis, keepdims=True)
            np.testing.assert_array_equal(got, np.where(full, want, -1), err_msg=name)


def test_nan_reductions_where_initial_ddof_and_all_nan_lanes():
    x = XN.astype(np.float64)
    np.testing.assert_allclose(fnp.nansum(XN, axis=1, where=MASK, initial=1.0),
                               np.nansum(x, axis=1, where=MASK, initial=1.0), rtol=1e-6)
    np.testing.assert_allclose(fnp.nanmax(XN, axis=1, where=MASK, initial=-1.0),
                               np.nanmax(np.where(MASK, x, -np.inf), axis=1, initial=-1.0),
                               rtol=1e-6)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(fnp.nanmean(XN, axis=1, where=MASK),
                                   np.nanmean(x, axis=1, where=MASK), rtol=1e-6)
        np.testing.assert_allclose(fnp.nanvar(XN, axis=1, ddof=1),
                                   np.nanvar(x, axis=1, ddof=1), rtol=1e-5)
        np.testing.assert_allclose(fnp.nanstd(XN, axis=0, ddof=2),
                                   np.where(np.sum(~np.isnan(x), 0) > 2,
                                            np.nanstd(x, axis=0, ddof=2), np.nan), rtol=1e-5)
    # all-NaN lanes: NaN for max/min/mean/var (as NumPy), -1 for the arg reductions (as JAX)
    assert np.isnan(np.asarray(fnp.nanmax(XN, axis=1)))[1]
    assert np.isnan(np.asarray(fnp.nanmean(XN, axis=1)))[1]
    assert np.asarray(fnp.nanargmin(XN, axis=1))[1] == -1
    assert np.asarray(fnp.nansum(XN, axis=1))[1] == 0
    # integers and booleans reduce as the plain reductions
    np.testing.assert_array_equal(fnp.nanmax(I, axis=0), I.max(axis=0))
    np.testing.assert_allclose(fnp.nanmean(I), I.mean(), rtol=1e-6)
    np.testing.assert_array_equal(fnp.nanargmax(I, axis=1), I.argmax(axis=1))
    assert fnp.nansum(B).dtype == np.int32 and int(fnp.nansum(B)) == B.sum()


@settings(max_examples=25, deadline=None)
@given(shape=st.sampled_from([(6,), (3, 4), (2, 3, 4)]), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float32, np.int32, np.int8, np.uint8, np.bool_]))
def test_cumulative_match_numpy(shape, seed, dtype):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=shape) * 3).astype(dtype) if dtype != np.bool_ else \
        rng.random(shape) < 0.5
    if dtype == np.float32:
        x[rng.random(shape) < 0.2] = np.nan
    axis = int(rng.integers(-len(shape), len(shape)))
    kept = {np.bool_: np.int32}.get(dtype, dtype)           # cumsum & co keep the dtype
    promoted = {np.bool_: np.int32, np.int8: np.int32, np.uint8: np.uint32}.get(dtype, dtype)
    for name, keep in (("cumsum", kept), ("cumprod", kept), ("nancumsum", kept),
                       ("nancumprod", kept)):
        ref = getattr(np, name)(x, axis=axis).astype(keep)  # NumPy: the same values, wrapped
        for fn in (getattr(fnp, name), fx.jit(getattr(fnp, name), static_argnames="axis")):
            got = fn(x, axis=axis)
            assert got.dtype == keep, name
            np.testing.assert_allclose(np.asarray(got, np.float64), ref.astype(np.float64),
                                       rtol=1e-5, err_msg=name)
        flat = getattr(fnp, name)(x)
        assert flat.shape == (x.size,)
    got = fnp.cumulative_sum(x, axis=axis, include_initial=True)
    ref = np.cumulative_sum(x, axis=axis, include_initial=True, dtype=promoted)
    assert got.dtype == promoted
    np.testing.assert_allclose(np.asarray(got, np.float64), ref.astype(np.float64), rtol=1e-5)
    got = fnp.cumulative_prod(x, axis=axis)
    assert got.dtype == kept
    np.testing.assert_allclose(np.asarray(got, np.float64),
                               np.cumprod(x, axis=axis).astype(kept).astype(np.float64),
                               rtol=1e-5)
    as_bool = fnp.cumsum(x, axis=axis, dtype=bool)
    np.testing.assert_array_equal(as_bool, np.cumsum(x != 0, axis=axis) > 0)


SPECIALS = np.array([-0.0, 0.0, -2.5, 3.0, np.inf, -np.inf, np.nan, 1e-30], np.float32)


def test_copysign_signbit_nextafter_logaddexp2_match_numpy():
    a, b = SPECIALS, SPECIALS[::-1].copy()
    for dtype in (np.float32, np.float16, np.float64):
        with fx.enable_x64(dtype == np.float64):
            x, y = a.astype(dtype), b.astype(dtype)
            np.testing.assert_array_equal(fnp.signbit(x), np.signbit(x))
            np.testing.assert_array_equal(fx.jit(fnp.signbit)(x), np.signbit(x))
            for fn in (fnp.copysign, fx.jit(fnp.copysign)):
                got = np.asarray(fn(x, y))
                np.testing.assert_array_equal(got, np.copysign(x, y))
                np.testing.assert_array_equal(np.signbit(got), np.signbit(np.copysign(x, y)))
            np.testing.assert_array_equal(fnp.nextafter(x, y), np.nextafter(x, y))
    np.testing.assert_array_equal(fnp.signbit(np.array([-3, 0, 2], np.int32)),
                                  [True, False, False])
    np.testing.assert_array_equal(fnp.signbit(np.array([0, 200], np.uint8)), [False, False])
    assert fnp.copysign(2.0, -0.0).weak_type and float(fnp.copysign(2.0, -0.0)) == -2.0
    assert fnp.copysign(2, np.float32(1)).dtype == np.float32
    x, y = X[0], X[1]
    with np.errstate(all="ignore"):
        for fn in (fnp.logaddexp2, fx.jit(fnp.logaddexp2)):
            np.testing.assert_allclose(fn(x, y), np.logaddexp2(x, y), rtol=1e-6)
            np.testing.assert_array_equal(fn(a, b), np.logaddexp2(a, b))
    assert fnp.logaddexp2(1.0, 1.0).weak_type and float(fnp.logaddexp2(1.0, 1.0)) == 2.0
    z = (x + 1j * y).astype(np.complex64)
    got = np.asarray(fnp.logaddexp2(z, z[::-1]))
    want = np.log2(2 ** z.astype(np.complex128) + 2 ** z[::-1].astype(np.complex128))
    np.testing.assert_allclose(got.real, want.real, rtol=1e-5, atol=1e-6)
    period = 2 * np.pi / np.log(2)
    np.testing.assert_allclose(np.exp(1j * got.imag * 2 * np.pi / period),
                               np.exp(1j * want.imag * 2 * np.pi / period), rtol=1e-5,
                               atol=1e-5)
    assert np.all(-period / 2 <= got.imag) and np.all(got.imag < period / 2)


def test_nextafter_float16_compiled_equals_numpy():
    """(the loop emitter once widened it to float32, whose neighbour rounds back to x)"""
    x, y = H[0], H[2]
    np.testing.assert_array_equal(fx.jit(fnp.nextafter)(x, y), np.nextafter(x, y))


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_bessel_match_scipy(dtype):
    x = np.array([-30.0, -3.0, -0.5, -1e-8, 0.0, 1e-8, 0.7, 4.0, 25.0, 200.0], dtype)
    rtol = 1e-6 if dtype == np.float32 else 1e-3
    for fn, ref in ((lax.bessel_i0e, scipy.special.i0e), (lax.bessel_i1e, scipy.special.i1e)):
        want = ref(x.astype(np.float64))
        for f in (fn, fx.jit(fn)):
            got = f(x)
            assert got.dtype == dtype
            np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=rtol,
                                       atol=rtol * 1e-2)
    assert lax.bessel_i0e(0.5).weak_type
    with pytest.raises(TypeError, match="floating"):
        lax.bessel_i0e(np.int32(1))


# ---------------------------------------------------------------------------
# derivatives, vmap, errors


def test_derivatives_match_finite_differences():
    x = X + 0.05
    xn = x.copy()
    xn[0, 1] = xn[2, 3] = np.nan  # two valid elements in every column: std is smooth there
    with fx.enable_x64():  # float64 so that second differences are accurate
        xn64, x64 = xn.astype(np.float64), x.astype(np.float64)
        for name in ("nansum", "nanprod", "nanmean", "nanvar", "nanstd"):
            check_grads(lambda v, n=name: getattr(fnp, n)(v, axis=0), (xn64,), order=2,
                        modes=("fwd", "rev"))
        check_grads(lambda v: fnp.nanmax(v, axis=1), (x64,), order=2, modes=("fwd", "rev"))
        for name, v in (("cumsum", x64), ("cumprod", x64), ("nancumsum", xn64),
                        ("nancumprod", xn64)):
            check_grads(lambda v, n=name: getattr(fnp, n)(v, axis=1), (v,), order=2,
                        modes=("fwd", "rev"))
        check_grads(lambda v: fnp.cumulative_sum(v, axis=0, include_initial=True), (x64,),
                    order=2, modes=("fwd", "rev"))
        check_grads(lambda v: fnp.copysign(v, v[::-1]), (x64,), order=2,
                    modes=("fwd", "rev"))
        check_grads(fnp.logaddexp2, (x64, x64[::-1]), order=2, modes=("fwd", "rev"))
        check_grads(fnp.logaddexp, (x64, x64[::-1]), order=2, modes=("fwd", "rev"))
        for fn in (lax.bessel_i0e, lax.bessel_i1e):
            for v in (np.array([-3.0, -0.4, 0.3, 2.0, 15.0]), np.array([1e-3, -2e-3])):
                check_grads(fn, (v,), order=2, modes=("fwd", "rev"))
    # at 0: i1e's slope is 1/2, i0e's 0 (JAX's rule), each of the input's dtype
    assert float(fx.grad(lax.bessel_i1e)(0.0)) == 0.5
    assert float(fx.grad(lax.bessel_i0e)(np.float32(0))) == 0.0


def test_vmap_matches_a_loop():
    xs = np.stack([XN, XN[::-1], X])
    fns = [lambda x: fnp.nansum(x, axis=0), lambda x: fnp.nanmax(x, axis=1),
           lambda x: fnp.nanvar(x, axis=1, ddof=1), lambda x: fnp.nanargmin(x, axis=0),
           lambda x: fnp.nanmean(x), lambda x: fnp.cumsum(x, axis=1),
           lambda x: fnp.nancumprod(x), lambda x: fnp.cumulative_sum(x, axis=0),
           lambda x: fnp.copysign(x, x[::-1]), lambda x: fnp.signbit(x),
           lambda x: fnp.logaddexp2(x, 0.5), lambda x: lax.bessel_i0e(x),
           lambda x: fx.grad(lambda v: lax.bessel_i1e(v).sum())(x)]
    with np.errstate(all="ignore"):
        for f in fns:
            np.testing.assert_allclose(fx.vmap(f)(xs), np.stack([f(x) for x in xs]),
                                       rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(fx.vmap(f, in_axes=1, out_axes=-1)(xs),
                                       np.stack([f(xs[:, i]) for i in range(3)], -1),
                                       rtol=1e-6, atol=1e-6)


def test_bad_arguments_raise():
    z = np.ones(3, np.complex64)
    with pytest.raises(ValueError, match="signbit is not well defined for complex"):
        fnp.signbit(z)
    with pytest.raises(TypeError, match="copysign does not support complex"):
        fnp.copysign(z, 1.0)
    with pytest.raises(ValueError, match="scalar"):
        fnp.cumulative_sum(np.float32(1))
    with pytest.raises(ValueError, match="axis must be given"):
        fnp.cumulative_prod(X)
    with pytest.raises(ValueError, match="out of bounds"):
        fnp.cumsum(X, axis=2)
    with pytest.raises(TypeError, match="axis must be an int"):
        fnp.nanargmax(X, axis=(0, 1))
    with pytest.raises(NotImplementedError, match="'out' argument"):
        fnp.nansum(X, out=X)
    with pytest.raises(NotImplementedError, match="'out' argument"):
        fnp.cumsum(X, out=X)
    with pytest.raises(ValueError, match="complex"):
        fnp.nanvar(z, dtype=np.float32)
