"""lowering/cpu/xla_float64.py (XLA's float64 functions as IR) and its specification,
fx/_random/xla_math64.py: without JAX, the native loops against the NumPy specification
bit for bit, compiled code against eager bit for bit, and accuracy against NumPy's long
double (ulp bounds); with JAX, every function bit for bit against ``jax.jit`` under x64
on a million inputs across ranges and special values."""
from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import fx
from fx._testing import x64_with_jax as enable_x64
import fx.lax as lax
from fx._random import xla_math64 as spec
from fx._testing import assert_bits, compile_and_compare
from lowering.cpu import xla_float64

F64 = np.float64
TINY = np.finfo(F64).tiny

SPECIALS = np.array([0.0, -0.0, 5e-324, -5e-324, 1e-310, -1e-310, TINY, -TINY, 3e-308,
                     np.inf, -np.inf, np.nan, -np.nan, 1e308, -1e308, 1.0, -1.0, 0.5, -0.5,
                     2.0, 1e-300, -1e-300, 709.78, 709.79, -708.39, -708.4, -745.2, 710.0,
                     1e-17, -1e-17, np.nextafter(1, 2), np.nextafter(1, 0),
                     np.nextafter(-1, 0), np.nextafter(-1, -2), 17.71, 20.0, -20.0,
                     np.sqrt(2) - 1, 1 - np.sqrt(2), 1e15, 1e22, 1e300, np.pi, 6.25, 16.0])


def inputs(n: int, seed: int = 0) -> np.ndarray:
    """``n`` float64 inputs from each of several ranges, and the special values."""
    rng = np.random.default_rng(seed)
    parts = [rng.uniform(-1, 1, n), rng.uniform(-20, 20, n), rng.uniform(-750, 750, n),
             np.exp(rng.uniform(-700, 700, n)) * rng.choice([-1, 1], n),
             rng.uniform(-1e-8, 1e-8, n), rng.uniform(-2.3e-308, 2.3e-308, n // 10),
             rng.integers(0, 2 ** 64, n, dtype=np.uint64).view(F64)]
    return np.concatenate(parts + [SPECIALS])


def second_operand(x: np.ndarray, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pool = np.concatenate([rng.uniform(-5, 5, x.size // 2),
                           np.resize(inputs(x.size // 14 + 1, seed), x.size)])
    return rng.permutation(pool)[:x.size]


def bits_equal(got, want) -> np.ndarray:
    got, want = np.asarray(got, F64), np.asarray(want, F64)
    return (got.view(np.uint64) == want.view(np.uint64)) | (np.isnan(got) & np.isnan(want))


def assert_bit_identical(got, want, x, what):
    same = bits_equal(got, want)
    if not same.all():
        bad = np.nonzero(~same)[0][:5]
        raise AssertionError(f"{what}: {np.count_nonzero(~same)} of {same.size} differ, e.g. "
                             f"at x={x[bad]}: {np.asarray(got)[bad]} vs {np.asarray(want)[bad]}")


UNARY = ["exp", "log", "log1p", "expm1", "tanh", "logistic", "erf_inv", "rsqrt", "sqrt",
         "sin", "cos", "tan", "erf", "cbrt"]
BINARY = ["pow", "atan2"]
# the NumPy specifications (the rest are the C library's: libm_f64)
SPEC = {"exp": spec.exp_f64, "log": spec.log_f64, "log1p": spec.log1p_f64,
        "erf_inv": spec.erf_inv_f64, "sqrt": spec.sqrt_f64,
        "expm1": lambda x: spec.expm1_f64(x, native=False),
        "tanh": lambda x: spec.tanh_f64(x, native=False),
        "logistic": lambda x: spec.logistic_f64(x, native=False)}


# ---------------------------------------------------------------------------
# without JAX


@pytest.mark.parametrize("name", sorted(SPEC))
def test_native_loop_is_the_specification(name):
    x = inputs(20000)
    assert_bit_identical(xla_float64.apply_array(name, x), SPEC[name](x), x, name)


def test_libm_functions_treat_subnormals_as_documented():
    sub = np.array([1e-310, -1e-310, 5e-324])
    # sin, tan, atan return a subnormal x itself; erf, cbrt, log read it as zero
    for name in ("sin", "tan", "atan"):
        assert_bits(spec.libm_f64(name, sub), sub)
    assert_bits(spec.libm_f64("erf", sub), np.array([0.0, -0.0, 0.0]))
    assert_bits(spec.libm_f64("cbrt", sub), np.array([0.0, -0.0, 0.0]))
    assert np.all(spec.libm_f64("log", sub[[0, 2]]) == -np.inf)
    # a subnormal result is flushed
    assert spec.libm_f64("pow", np.float64([0.5]), np.float64([1070.0]))[0] == 0.0
    assert spec.libm_f64("atan2", np.float64([1e-300]), np.float64([1e10]))[0] == 0.0
    with pytest.raises(ValueError, match="name must be one of"):
        spec.libm_f64("lgamma", sub)


@pytest.mark.parametrize("name", ["exp", "log", "log1p", "expm1", "tanh", "logistic", "sin",
                                  "cos", "tan", "erf", "cbrt", "sqrt", "rsqrt", "pow", "atan2"])
def test_accuracy_against_long_double(name):
    """Within a few ulp of the function evaluated in x87 long double (NumPy's longdouble),
    away from the ranges where XLA's expansions are known to be looser."""
    if np.finfo(np.longdouble).nmant < 60:
        pytest.skip("long double is not wider than double here")
    import scipy.special as sp
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(-30, 30, 5000), rng.uniform(-1, 1, 5000)])
    y = rng.uniform(-4, 4, x.size)
    if name in ("log", "log1p", "sqrt", "rsqrt", "cbrt", "pow"):
        x = np.abs(x) + 1e-3
    if name == "log1p":  # XLA's rational form serves down to 1 - sqrt(2), beyond Cephes'
        x = x[(x < -0.4143) | (x > -0.2929)]
    if name == "tanh":  # near +-1 (and beyond XLA's clamp at 17.71): within 2e-15
        far = np.abs(x) > 5
        with fx.enable_x64():
            np.testing.assert_allclose(np.asarray(lax.tanh(x[far])),
                                       np.tanh(x[far].astype(np.longdouble)).astype(F64),
                                       rtol=0, atol=2e-15)
        x = x[~far]
    ld = np.longdouble
    xl, yl = x.astype(ld), y[:x.size].astype(ld)
    want = {"exp": np.exp, "log": np.log, "log1p": np.log1p, "expm1": np.expm1,
            "tanh": np.tanh, "sin": np.sin, "cos": np.cos, "tan": np.tan, "cbrt": np.cbrt,
            "sqrt": np.sqrt, "rsqrt": lambda v: 1 / np.sqrt(v),
            "logistic": lambda v: 1 / (1 + np.exp(-v)),
            "erf": lambda v: sp.erf(v.astype(F64)).astype(ld),  # (about 1 ulp itself)
            "pow": lambda v: np.power(v, yl), "atan2": lambda v: np.arctan2(v, yl)}[name](xl)
    with fx.enable_x64():
        fn = getattr(lax, name)
        got = np.asarray(fn(x, y[:x.size]) if name in BINARY else fn(x))
    # (XLA's expm1 is up to about 3.6 ulp off near |x| = 0.5, its tanh about 3.1; the C
    # library's cbrt about 2.6)
    ulps = {"expm1": 4.0, "tanh": 3.5, "erf": 3.0, "cbrt": 3.0}.get(name, 2.0)
    err = np.abs(got.astype(ld) - want) / np.spacing(np.abs(want.astype(F64)))
    assert got.dtype == F64
    assert np.max(err) <= ulps, (name, float(np.max(err)), x[np.argmax(err)])


@settings(max_examples=15, deadline=None)
@given(hs.sampled_from(UNARY + BINARY), hs.integers(0, 2 ** 31),
       hs.sampled_from([(7,), (3, 5), (300,), (2, 129)]))
def test_compiled_is_eager_bit_for_bit(name, seed, shape):
    x = np.resize(inputs(64, seed), shape)
    if name in BINARY:
        y = np.resize(second_operand(inputs(64, seed), seed), shape)
        if name == "pow":
            x = np.abs(x)
        f = getattr(lax, name)
        compile_and_compare(lambda a, b: f(a, b) * 1.0, x, y, compare=assert_bits, x64=True,
                            native=False)
    else:
        f = getattr(lax, name)
        compile_and_compare(lambda a: f(a) + 0.0, x, compare=assert_bits, x64=True,
                            bounds_check=True)


@pytest.mark.parametrize("name", UNARY)
def test_compiled_unary_is_native(name):
    """The float64 functions compile to native code (no eager fallback)."""
    x = inputs(8)
    compile_and_compare(getattr(lax, name), x, compare=assert_bits, x64=True)


def test_apply_array_rejects_bad_names_and_arity():
    with pytest.raises(ValueError, match="name must be one of"):
        xla_float64.apply_array("polygamma", np.ones(3))
    with pytest.raises(TypeError, match="takes 2 arrays"):
        xla_float64.apply_array("pow", np.ones(3))


# ---------------------------------------------------------------------------
# with JAX


@pytest.mark.parametrize("name", UNARY + BINARY)
def test_bit_identical_to_jax(name):
    pytest.importorskip("jax")
    x = inputs(70000, seed=11)
    with enable_x64() as jax:
        if name in BINARY:
            y = second_operand(x)
            if name == "pow":
                x = np.abs(x)
            want = np.asarray(jax.jit(getattr(jax.lax, name))(x, y))
            native = xla_float64.apply_array(name, x, y)
            eager = np.asarray(getattr(lax, name)(x, y))
            jitted = np.asarray(fx.jit(getattr(lax, name))(x, y))
        else:
            want = np.asarray(jax.jit(getattr(jax.lax, name))(x))
            native = xla_float64.apply_array(name, x)
            eager = np.asarray(getattr(lax, name)(x))
            jitted = np.asarray(fx.jit(getattr(lax, name))(x))
            if name in SPEC:
                assert_bit_identical(SPEC[name](x), want, x, f"{name} (NumPy specification)")
    assert_bit_identical(native, want, x, f"{name} (native loop)")
    assert_bit_identical(eager, want, x, f"{name} (eager)")
    assert_bit_identical(jitted, want, x, f"{name} (fx.jit)")
