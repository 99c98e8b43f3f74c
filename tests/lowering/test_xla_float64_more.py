"""XLA's float64 expansions built from its exp/log/log1p/expm1/sqrt/atan2/sin/cos
(lowering/cpu/xla_float64.py: exp2, sinh, cosh, asin, acos, asinh, acosh, atanh, erfc,
lgamma, digamma) and float32 sqrt/rsqrt as XLA rounds them: without JAX, compiled code
against eager bit for bit and accuracy against NumPy's long double or SciPy (the bounds
are XLA's own); with JAX, bit for bit against ``jax.jit`` (x64 for float64) on about
700k inputs with special values and subnormals, eagerly, by the native loop and under
``fx.jit``."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import fx
import fx.lax as lax
from fx._testing import assert_bits, compile_and_compare
from fx._testing import x64_with_jax as enable_x64
from lowering.cpu import array_kernels, xla_float64

F64 = np.float64
NAMES = ["exp2", "sinh", "cosh", "asin", "acos", "asinh", "acosh", "atanh", "erfc", "lgamma",
         "digamma"]
SPECIALS = np.array([0.0, -0.0, 5e-324, -5e-324, 1e-310, -1e-310, 2.2250738585072014e-308,
                     np.inf, -np.inf, np.nan, 1e308, -1e308, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0,
                     -3.0, -2.5, 1e-300, 709.78, -709.79, 710.0, 1.3407807929942596e154,
                     8.98846567431158e307, 5.5e307, np.nextafter(1, 2), np.nextafter(1, 0),
                     np.nextafter(-1, 0), np.nextafter(-1, -2), np.sqrt(2) - 1, 8.0, -8.0,
                     26.6, -26.6, 1e-17, 1e15, -1e15])


def inputs(n: int, seed: int = 0) -> np.ndarray:
    """``n`` float64 inputs from each of several ranges (the functions' branches, their
    poles and zeros, huge and subnormal values, random bit patterns) and the specials."""
    rng = np.random.default_rng(seed)
    parts = [rng.uniform(-1, 1, n), rng.uniform(-1.5, 1.5, n), rng.uniform(-30, 30, n),
             rng.uniform(-750, 750, n), np.exp(rng.uniform(-700, 700, n)) * rng.choice([-1, 1], n),
             rng.uniform(-2.3e-308, 2.3e-308, n // 10), np.round(rng.uniform(-60, 60, n) * 2) / 2,
             1 - np.exp(rng.uniform(-40, 0, n // 4)),
             rng.integers(0, 2 ** 64, n, dtype=np.uint64).view(F64)]
    return np.concatenate(parts + [SPECIALS])


def assert_bit_identical(got, want, x, what):
    got, want = np.asarray(got, F64), np.asarray(want, F64)
    same = (got.view(np.uint64) == want.view(np.uint64)) | (np.isnan(got) & np.isnan(want))
    if not same.all():
        bad = np.nonzero(~same)[0][:5]
        raise AssertionError(f"{what}: {np.count_nonzero(~same)} of {same.size} differ, e.g. "
                             f"at x={x[bad]}: {got[bad]} vs {want[bad]}")


# ---------------------------------------------------------------------------
# without JAX


def _ulps(got, want):
    ld = np.longdouble
    return np.abs(got.astype(ld) - want.astype(ld)) / np.spacing(np.abs(want.astype(F64)))


@pytest.mark.parametrize("name", ["exp2", "sinh", "cosh", "asin", "acos", "asinh", "acosh",
                                  "atanh", "erfc"])
def test_accuracy_against_long_double(name):
    """Within XLA's own error of the function in long double (SciPy's erfc): exp2, sinh
    and cosh lose about |x| ulp to the rounding of their argument; atanh is up to ~130
    ulp off next to |x| = sqrt(2) - 1, where XLA's log1p switches formulas."""
    if np.finfo(np.longdouble).nmant < 60:
        pytest.skip("long double is not wider than double here")
    import scipy.special as sp
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(-30, 30, 4000), rng.uniform(-1, 1, 4000)])
    ld = np.longdouble
    domain, want, bound = {
        "exp2": (x, lambda v: np.exp2(v.astype(ld)), 32),
        "sinh": (x, lambda v: np.sinh(v.astype(ld)), 24),
        "cosh": (x, lambda v: np.cosh(v.astype(ld)), 24),
        "asin": (np.tanh(x), lambda v: np.arcsin(v.astype(ld)), 2),
        "acos": (np.tanh(x), lambda v: np.arccos(v.astype(ld)), 2),
        "asinh": (x, lambda v: np.arcsinh(v.astype(ld)), 3),
        "acosh": (np.abs(x) + 1, lambda v: np.arccosh(v.astype(ld)), 4),
        "atanh": (np.tanh(x) * 0.999, lambda v: np.arctanh(v.astype(ld)), 160),
        "erfc": (x / 3, lambda v: sp.erfc(v).astype(ld), 10),
    }[name]
    with fx.enable_x64():
        got = np.asarray(getattr(lax, name)(domain))
    assert got.dtype == F64
    err = _ulps(got, want(domain))
    assert np.max(err) <= bound, (name, float(np.max(err)), domain[np.argmax(err)])


@pytest.mark.parametrize("name", ["lgamma", "digamma"])
def test_lanczos_functions_against_scipy(name):
    """Lanczos' approximation: within 2e-14 of SciPy relative to max(1, |f|) for x > 0
    (absolute accuracy next to the zeros, as XLA's), 2e-12 through the reflection; poles
    and infinities as JAX's."""
    import scipy.special as sp
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.uniform(0.01, 30, 4000), rng.uniform(-30, 0, 4000),
                        np.exp(rng.uniform(0, 300, 500))])
    x = x[np.abs(x - np.round(x)) > 1e-3]  # (away from the poles, where both blow up)
    want = sp.gammaln(x) if name == "lgamma" else sp.psi(x)
    with fx.enable_x64():
        got = np.asarray(getattr(lax, name)(x))
        poles = np.asarray(getattr(lax, name)(np.array([0.0, -1.0, -7.0, np.inf, -np.inf])))
    err = np.abs(got - want) / np.maximum(1.0, np.abs(want))
    # (negative x: the reflection's pi x is rounded, which its cot/sin amplify near poles)
    bound = np.where(x > 0, 2e-14, 2e-12)
    assert np.all(err <= bound), (name, float(np.max(err / bound)), x[np.argmax(err / bound)])
    expect = [np.inf, np.inf, np.inf, np.inf, np.inf] if name == "lgamma" else \
        [np.nan, np.nan, np.nan, np.inf, np.nan]
    np.testing.assert_array_equal(poles, expect)


def assert_bits_any_nan(got, want):
    """The same bits, or NaN on both sides (a NaN's payload and sign are the order of
    the operations that propagate it, which fusion may change)."""
    assert got.shape == want.shape and got.dtype == want.dtype
    uint = np.dtype(f"u{got.dtype.itemsize}")
    same = (got.view(uint) == want.view(uint)) | (np.isnan(got) & np.isnan(want))
    assert same.all(), (int((~same).sum()), got[~same][:5], want[~same][:5])


@settings(max_examples=15, deadline=None)
@given(hs.sampled_from(NAMES), hs.integers(0, 2 ** 31),
       hs.sampled_from([(7,), (3, 5), (300,), (2, 129)]))
def test_compiled_is_eager_bit_for_bit(name, seed, shape):
    x = np.resize(inputs(40, seed), shape)
    f = getattr(lax, name)
    compile_and_compare(lambda a: f(a * 1.0) * 2.0, x, compare=assert_bits_any_nan, x64=True,
                        bounds_check=True)


@pytest.mark.parametrize("name", NAMES)
def test_compiled_is_native_and_eager_is_the_native_loop(name):
    """float64 compiles to native code (no eager fallback), and the eager impl is the
    native loop's result, at every size (one element too)."""
    x = inputs(6)
    compile_and_compare(getattr(lax, name), x, compare=assert_bits_any_nan, x64=True)
    with fx.enable_x64():
        eager = np.asarray(getattr(lax, name)(x))
        single = np.asarray(getattr(lax, name)(x[3:4]))
    assert_bit_identical(eager, xla_float64.apply_array(name, x), x, name)
    assert_bit_identical(single, eager[3:4], x[3:4], name)


def test_float32_sqrt_reads_subnormals_as_zero_and_rsqrt_is_refined():
    tiny = np.finfo(np.float32).tiny
    x = np.array([tiny / 4, -tiny / 4, tiny, 4.0, -0.0, np.inf, -1.0], np.float32)
    got = np.asarray(lax.sqrt(x))
    assert_bits(got[:-1], np.array([0.0, -0.0, np.sqrt(tiny), 2.0, -0.0, np.inf], np.float32))
    assert np.isnan(got[-1])
    compile_and_compare(lambda a: lax.sqrt(a) * 2.0, x, compare=assert_bits_any_nan)
    rng = np.random.default_rng(0)
    y = np.exp(rng.uniform(-80, 80, 5000)).astype(np.float32)
    r = np.asarray(lax.rsqrt(y))
    want = 1 / np.sqrt(y.astype(F64))
    assert np.max(np.abs(r - want) / np.spacing(want.astype(np.float32))) <= 2.0
    compile_and_compare(lambda a: lax.rsqrt(a) * 2.0, y, compare=assert_bits_any_nan)


def test_array_kernels_reject_bad_names_and_arity():
    kernels = array_kernels.ArrayKernels("fx_test_kernels", {"sqrt": xla_float64.sqrt,
                                                             "pow": xla_float64.pow},
                                         lambda n: 2 if n == "pow" else 1, F64,
                                         lambda n: f"fx_test_{n}")
    with pytest.raises(ValueError, match="name must be one of"):
        kernels.apply("lgamma", np.ones(3))
    with pytest.raises(TypeError, match="takes 2 arrays, got 1"):
        kernels.apply("pow", np.ones(3))
    with pytest.raises(TypeError, match="takes 1 array, got 2"):
        kernels.apply("sqrt", np.ones(3), np.ones(3))
    np.testing.assert_array_equal(kernels.apply("sqrt", np.array([[4.0, 9.0]])),
                                  [[2.0, 3.0]])
    np.testing.assert_array_equal(kernels.apply("pow", np.array([2.0, 3.0]), 2.0), [4.0, 9.0])


# ---------------------------------------------------------------------------
# with JAX


@pytest.mark.parametrize("name", NAMES)
def test_bit_identical_to_jax(name):
    pytest.importorskip("jax")
    x = inputs(110000, seed=11)
    with enable_x64() as jax:
        want = np.asarray(jax.jit(getattr(jax.lax, name))(x))
        eager = np.asarray(getattr(lax, name)(x))
        jitted = np.asarray(fx.jit(getattr(lax, name))(x))
    assert x.size > 700000
    assert_bit_identical(xla_float64.apply_array(name, x), want, x, f"{name} (native loop)")
    assert_bit_identical(eager, want, x, f"{name} (eager)")
    assert_bit_identical(jitted, want, x, f"{name} (fx.jit)")


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("name", ["sqrt", "rsqrt"])
def test_narrow_sqrt_and_rsqrt_bit_identical_to_jax(name, dtype):
    jax = pytest.importorskip("jax")
    import ml_dtypes
    rng = np.random.default_rng(7)
    if dtype == "float32":
        x = np.concatenate([rng.integers(0, 2 ** 32, 300000, dtype=np.uint64)
                            .astype(np.uint32).view(np.float32),
                            rng.uniform(0, 4, 10000).astype(np.float32)])
        x = np.concatenate([x, np.array([0.0, -0.0, 1e-40, -1e-40, np.inf, -np.inf, np.nan],
                                        np.float32)])
    else:
        x = np.arange(2 ** 16, dtype=np.uint16).view(
            ml_dtypes.bfloat16 if dtype == "bfloat16" else np.float16)
    want = np.asarray(jax.jit(getattr(jax.lax, name))(x))
    # (fx.jit where the result is not NaN: FX_CHECK_COMPILED's comparison reads a
    # bfloat16 NaN as differing from itself; the eager call covers the NaNs)
    keep = ~np.isnan(want.astype(np.float32))
    for got, expect, what in ((lax_call(name, x), want, "eager"),
                              (fx_jit_call(name, x[keep]), want[keep], "fx.jit")):
        g, w = got.astype(np.float32), expect.astype(np.float32)
        uint = f"u{x.dtype.itemsize}"
        same = (got.view(uint) == expect.view(uint)) | (np.isnan(g) & np.isnan(w))
        assert same.all(), (name, dtype, what, int((~same).sum()), got[~same][:5])


def lax_call(name, x):
    return np.asarray(getattr(lax, name)(x))


def fx_jit_call(name, x):
    return np.asarray(fx.jit(getattr(lax, name))(x))
