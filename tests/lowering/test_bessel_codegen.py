"""bessel_i0e and bessel_i1e compiled natively (lowering/cpu/special_math.py): accuracy in
ulp against SciPy (and mpmath's exact values where installed) over [-1e3, 1e3] with 0,
tiny and subnormal operands, the special values (±0, ±inf, NaN) as the eager impls give
them, compiled equal to eager within an ulp for every float dtype, ``fx.jit`` with no
eager fallback, and ``fx.scipy.special.i0e``/``i1e`` as JAX's: the primitives, with
their values and derivatives (finite differences, order 2)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given, settings
from hypothesis import strategies as hs

import fx
import fx.numpy as fnp
from fx import lax
from fx._testing import compile_and_compare
from fx.interpreters.jit import compile_jaxpr
from fx.test_util import check_grads
from lowering.cpu.compile import compile as compile_native

F32, F64 = np.float32, np.float64
FUNCS = {"i0e": (lax.bessel_i0e, sp.i0e, 0), "i1e": (lax.bessel_i1e, sp.i1e, 1)}


def _points(dtype):
    rng = np.random.default_rng(1)
    tiny = np.finfo(dtype).tiny
    sub = np.finfo(dtype).smallest_subnormal
    mags = np.concatenate([
        np.geomspace(tiny, 1e3, 1200), rng.uniform(0, 25, 1500),
        20 + rng.uniform(-1e-3, 1e-3, 100),  # the switch between the two series
        [0.0, sub, 4 * sub, tiny, 1e-20, 1.0, 19.999999, 20.0, 20.000001, 1e3]])
    return np.concatenate([mags, -mags]).astype(dtype)


def _compiled(fn, x):
    """(compiled, eager) values of ``fn`` at ``x``; the program must be fully native."""
    with fx.enable_x64():
        closed = fx.make_jaxpr(fn)(x)
        exe = compile_native(closed, bounds_check=True)
        assert exe.fallbacks == [], [e.primitive.name for e in exe.fallbacks]
        return np.asarray(exe([x])[0]), np.asarray(fn(x))


def _ulps(got, want, dtype):
    want = np.asarray(want, np.float64)
    spacing = np.maximum(np.spacing(np.abs(want).astype(dtype)).astype(np.float64),
                         np.finfo(dtype).smallest_subnormal)
    return np.abs(np.asarray(got, np.float64) - want) / spacing


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
def test_accuracy_against_scipy(name, dtype):
    fn, ref, _ = FUNCS[name]
    x = _points(dtype)
    got, _ = _compiled(fn, x)
    assert got.dtype == dtype
    # SciPy's own Chebyshev fits are up to 7 ulp off the exact values in float64
    bound = 1.0 if dtype == F32 else 8.0
    err = _ulps(got, ref(x), dtype)
    assert err.max() <= bound, (x[np.argmax(err)], err.max())


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
def test_accuracy_against_mpmath(name, dtype):
    mpmath = pytest.importorskip("mpmath")
    fn, _, order = FUNCS[name]
    x = _points(dtype)[::5]
    got, _ = _compiled(fn, x)
    mpmath.mp.prec = 113
    exact = np.array([float(mpmath.besseli(order, mpmath.mpf(float(v))) *
                            mpmath.exp(-abs(mpmath.mpf(float(v))))) for v in x])
    err = _ulps(got, exact, dtype)
    bound = 0.5 if dtype == F32 else 4.0  # float32: rounded once from double precision
    assert err.max() <= bound + 1e-9, (x[np.argmax(err)], err.max())


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
def test_special_values_as_eager(dtype):
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan], dtype)
    i0e, _ = _compiled(lax.bessel_i0e, x)
    i1e, eager = _compiled(lax.bessel_i1e, x)
    np.testing.assert_array_equal(i0e, [1, 1, 0, 0, np.nan, np.nan])
    np.testing.assert_array_equal(i1e, [0, 0, 0, 0, np.nan, np.nan])
    np.testing.assert_array_equal(np.signbit(i1e[:4]), [False, False, False, True])
    np.testing.assert_array_equal(np.signbit(i1e[:4]), np.signbit(eager[:4]))
    np.testing.assert_array_equal(np.signbit(i1e[:4]), np.signbit(sp.i1e(x[:4])))


def _close(got, want):
    """Compiled vs eager: float64 within SciPy's own error (8 ulp), narrower floats within
    an ulp (both computed in float32 or wider and rounded once), NaN where NaN."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    nan = np.isnan(want.astype(F32))
    np.testing.assert_array_equal(np.isnan(got.astype(F32)), nan)
    g, w = got[~nan].astype(F64), want[~nan].astype(F64)
    spacing = np.spacing(np.maximum(np.abs(g), np.abs(w)).astype(got.dtype)).astype(F64)
    err = np.abs(g - w) / spacing
    assert err.max(initial=0) <= (8 if got.dtype == F64 else 1), err.max()


@settings(max_examples=25, deadline=None)
@given(hs.sampled_from(["float16", "bfloat16", "float32", "float64"]),
       hs.sampled_from([(7,), (3, 5), (130,)]), hs.sampled_from(sorted(FUNCS)),
       hs.integers(0, 99))
def test_compiled_is_eager(dtype, shape, name, seed):
    dtype = np.dtype(fnp.dtype(dtype)) if dtype == "bfloat16" else np.dtype(dtype)
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * rng.choice([1.0, 10.0, 300.0])).astype(dtype)
    x.flat[0] = np.nan if seed % 3 == 0 else x.flat[0]
    fn = FUNCS[name][0]
    _, exe = compile_and_compare(lambda a: fn(a * 2) + 1, x, compare=_close,
                                 x64=dtype == np.float64)
    assert exe.fallbacks == []


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_jit_has_no_fallback(name):
    fn, ref, _ = FUNCS[name]
    x = np.linspace(-40, 40, 101, dtype=F32)
    closed = fx.make_jaxpr(lambda a: fn(a) * 3)(x)
    assert compile_jaxpr(closed, verify=False).fallbacks == []  # what fx.jit runs
    got = np.asarray(fx.jit(lambda a: fn(a) * 3)(x))
    np.testing.assert_array_equal(got, np.asarray(fn(x)) * np.float32(3))
    np.testing.assert_allclose(got, ref(x) * 3, rtol=3e-7)


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_against_jax(name):
    jax = pytest.importorskip("jax")
    fn, _, _ = FUNCS[name]
    x = _points(F64)[::7]
    jax.config.update("jax_enable_x64", True)
    try:
        want = np.asarray(getattr(jax.lax, f"bessel_{name}")(x))
    finally:
        jax.config.update("jax_enable_x64", False)
    assert want.dtype == F64
    got, _ = _compiled(fn, x)
    # XLA flushes subnormal results to zero (i1e of the smallest normals): compared apart
    flushed = np.abs(got) < np.finfo(F64).tiny
    np.testing.assert_array_equal(want[flushed], 0.0)
    assert _ulps(got[~flushed], want[~flushed], F64).max() <= 8


# ---------------------------------------------------------------------------
# fx.scipy.special: the primitives, as JAX's


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("arg", [1.0, 1, np.float32(-2.5), np.arange(4.0, dtype=F32)],
                         ids=["pyfloat", "pyint", "f32", "vec"])
def test_scipy_special_prints_as_jax(name, arg):
    jax = pytest.importorskip("jax")
    ours = str(fx.make_jaxpr(getattr(fx.scipy.special, name))(arg))
    theirs = str(jax.make_jaxpr(getattr(jax.scipy.special, name))(arg))
    assert ours == theirs
    out = getattr(fx.scipy.special, name)(arg)
    want = getattr(jax.scipy.special, name)(arg)
    assert out.dtype == want.dtype and out.aval.weak_type == want.aval.weak_type
    np.testing.assert_allclose(np.asarray(out), np.asarray(want), rtol=3e-7)


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_scipy_special_values_and_grads(name):
    f = getattr(fx.scipy.special, name)
    _, ref, _ = FUNCS[name]
    with fx.enable_x64():
        x = np.array([-30.0, -3.1, -0.4, 0.3, 1.7, 19.5, 21.0, 60.0])
        np.testing.assert_allclose(np.asarray(f(x)), ref(x), rtol=2e-15)
        check_grads(f, (x,), order=2, modes=("fwd", "rev"))
        check_grads(f, (np.array([1e-3, -2e-3]),), order=2, modes=("fwd", "rev"))
    np.testing.assert_allclose(np.asarray(fx.jit(f)(x.astype(F32))), ref(x.astype(F32)),
                               rtol=3e-7)
