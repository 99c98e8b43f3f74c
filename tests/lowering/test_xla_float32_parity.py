"""XLA's float32, float16 and bfloat16 ``sinh``, ``cosh``, ``asin``, ``acos``, ``asinh``,
``acosh``, ``atanh`` and ``erfc`` (lowering/cpu/xla_float32_expansions.py): compiled
natively and fused under ``fx.jit``; without JAX, accuracy against NumPy/SciPy in double
precision and the compiled code against the native loop bit for bit; with JAX, bit for
bit against ``jax.jit`` on about a million float32 inputs (special values, subnormals,
random bit patterns) and on every float16 and bfloat16 value, by the native loop and
under ``fx.jit``."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given, settings
from hypothesis import strategies as hs

import fx
import fx.lax as lax
from fx._testing import compile_and_compare
from lowering.cpu import xla_float32_expansions as xla32

F32 = np.float32
BF16 = ml_dtypes.bfloat16
NAMES = ["sinh", "cosh", "asin", "acos", "asinh", "acosh", "atanh", "erfc"]
SPECIALS = np.array([0.0, -0.0, 1e-45, -1e-45, 1e-40, -1e-40, 1.1754944e-38, -1.1754944e-38,
                     np.inf, -np.inf, np.nan, 3.4e38, -3.4e38, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0,
                     88.7, -88.7, 89.5, -89.5, 1.8446743e19, -1.8446743e19, 1.7014117e38,
                     np.nextafter(F32(1), F32(2)), np.nextafter(F32(1), F32(0)),
                     np.nextafter(F32(-1), F32(0)), np.nextafter(F32(-1), F32(-2)), 0.0004,
                     -0.0004, 8.0, 20.0, 9.2, -9.2, 3.8, -3.8, 9.0, 10.0, 0.41421357], F32)


def inputs(n: int, seed: int = 0) -> np.ndarray:
    """``n`` float32 inputs from each of several ranges (the functions' branches and their
    edges, huge and subnormal values, random bit patterns) and the specials."""
    rng = np.random.default_rng(seed)
    parts = [rng.uniform(-1, 1, n), rng.uniform(-1.5, 1.5, n), rng.uniform(-30, 30, n),
             rng.uniform(-100, 100, n),
             np.exp(rng.uniform(-87, 88, n)) * rng.choice([-1, 1], n),
             rng.uniform(-1.2e-38, 1.2e-38, n // 10), np.round(rng.uniform(-60, 60, n) * 2) / 2,
             1 - np.exp(rng.uniform(-17, 0, n // 4)), np.exp(rng.uniform(-17, 0, n // 4)) - 1]
    parts = [p.astype(F32) for p in parts]
    parts.append(rng.integers(0, 2 ** 32, n, dtype=np.uint64).astype(np.uint32).view(F32))
    return np.concatenate(parts + [SPECIALS])


def every_value(dtype) -> np.ndarray:
    return np.arange(2 ** 16, dtype=np.uint16).view(dtype)


def assert_bits(got, want, x, what):
    """The same bits, or NaN on both sides (a NaN's payload and sign are the order of the
    operations that propagate it)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (what, got.dtype, want.dtype)
    uint = f"u{got.dtype.itemsize}"
    nan = np.isnan(got.astype(F32)) & np.isnan(want.astype(F32))
    same = (got.view(uint) == want.view(uint)) | nan
    if not same.all():
        bad = np.nonzero(~same)[0][:5]
        raise AssertionError(f"{what}: {np.count_nonzero(~same)} of {same.size} differ, e.g. "
                             f"at x={x[bad]}: {got[bad]} vs {want[bad]}")


def fx_jit(name, x):
    return np.asarray(fx.jit(getattr(lax, name))(x))


# ---------------------------------------------------------------------------
# without JAX

_DOMAINS = {  # name -> (domain from uniform t in [-10, 10], double-precision oracle, ulps)
    # (sinh and cosh lose about |x| ulp to the rounding of x - ln2, as XLA's do)
    "sinh": (lambda t: t, np.sinh, 10), "cosh": (lambda t: t, np.cosh, 10),
    "asin": (np.tanh, np.arcsin, 3), "acos": (np.tanh, np.arccos, 3),
    "asinh": (lambda t: t, np.arcsinh, 4), "acosh": (lambda t: np.abs(t) + 1, np.arccosh, 5),
    "atanh": (lambda t: np.tanh(t) * 0.999, np.arctanh, 4), "erfc": (lambda t: t / 3, sp.erfc, 12),
    "expm1": (lambda t: t, np.expm1, 6), "tanh": (lambda t: t, np.tanh, 5),
}


@pytest.mark.parametrize("name", list(_DOMAINS))
def test_float32_accuracy_against_double(name):
    """Within XLA's own error of the function computed in double precision."""
    domain, oracle, bound = _DOMAINS[name]
    rng = np.random.default_rng(3)
    t = np.concatenate([rng.uniform(-10, 10, 20000), rng.uniform(-1, 1, 20000)])
    x = domain(t).astype(F32)
    got = xla32.apply_array(name, x)
    want = oracle(x.astype(np.float64))
    err = np.abs(got - want) / np.spacing(np.abs(want).astype(F32)).astype(np.float64)
    assert got.dtype == F32 and np.max(err) <= bound, (name, float(np.max(err)),
                                                       x[np.argmax(err)])


def test_atan2_and_special_values():
    x = np.array([1.0, -1.0, 0.0, -0.0, np.inf, 1e-40, -1e-40, np.nan], F32)
    got = xla32.apply_array("atan2", x, np.float32(2.0))
    want = np.arctan2(x.astype(np.float64), 2.0)
    # (subnormal operands read as zero, results flushed: XLA's floating-point mode)
    want[5:7] = [0.0, -0.0]
    np.testing.assert_allclose(got, want, rtol=2e-7)
    assert not np.signbit(got[5]) and np.signbit(got[6])
    assert xla32.apply_array("atan2", np.float32([1e-37]), np.float32([1e3]))[0] == 0.0
    got = {n: xla32.apply_array(n, np.array([np.inf, -np.inf, np.nan, 0.0, -0.0], F32))
           for n in NAMES}
    np.testing.assert_array_equal(got["sinh"], [np.inf, -np.inf, np.nan, 0.0, -0.0])
    np.testing.assert_array_equal(got["cosh"], [np.inf, np.inf, np.nan, 1.0, 1.0])
    np.testing.assert_array_equal(got["erfc"], [0.0, 2.0, np.nan, 1.0, 1.0])
    np.testing.assert_array_equal(got["asinh"], [np.inf, -np.inf, np.nan, 0.0, -0.0])
    assert np.signbit(got["asinh"][4]) and np.signbit(got["sinh"][4])
    assert np.isnan(got["atanh"][:3]).all() and np.isnan(got["acosh"][1:4]).all()


@pytest.mark.parametrize("dtype", [np.float16, BF16])
@pytest.mark.parametrize("name", NAMES)
def test_narrow_types_accuracy(name, dtype):
    """float16/bfloat16: within a few of the type's ulps of the double-precision function
    (sinh, cosh, erfc round once; the others round after each step, as XLA's)."""
    domain, oracle, _ = _DOMAINS[name]
    t = np.random.default_rng(5).uniform(-6, 6, 5000)
    x = domain(t).astype(dtype)
    got = xla32.apply_array(name, x)
    assert got.dtype == x.dtype and got.shape == x.shape
    want = oracle(x.astype(np.float64))
    eps = float(ml_dtypes.finfo(dtype).eps)
    wide = got.astype(np.float64)
    with np.errstate(invalid="ignore"):  # (inf - inf where atanh meets +-1)
        ok = (wide == want) | (np.abs(wide - want) <= 4 * eps * np.maximum(np.abs(want), 1e-3))
    ok |= np.isnan(want) & np.isnan(wide)
    assert ok.all(), (name, x[~ok][:5], got[~ok][:5], want[~ok][:5])


def test_narrow_types_round_each_step():
    """bfloat16 asin rounds after each step of XLA's expansion: not the float32 function
    rounded once (the difference shows on some inputs), but that sequence exactly."""
    x = every_value(BF16)
    x = x[np.isfinite(x.astype(F32)) & (np.abs(x.astype(F32)) <= 1)]
    got = xla32.apply_array("asin", x)
    once = xla32.apply_array("asin", x.astype(F32)).astype(BF16)
    assert np.count_nonzero(got.view(np.uint16) != once.view(np.uint16)) > 0

    def r(v):
        return np.asarray(v, F32).astype(BF16).astype(F32)
    v = x.astype(F32)
    root = r(np.sqrt(r(r(1 - v) * r(v + 1))))
    half = r(xla32.apply_array("atan2", v, r(root + 1)))
    assert_bits(got, r(half + half).astype(BF16), x, "stepwise asin")


@settings(max_examples=20, deadline=None)
@given(hs.sampled_from(NAMES), hs.sampled_from([F32, np.float16, BF16]),
       hs.integers(0, 2 ** 31), hs.sampled_from([(7,), (3, 5), (300,), (2, 129)]))
def test_compiled_is_native_fused_and_the_native_loop(name, dtype, seed, shape):
    """Compiled with no eager fallback, inside the same kernel as its neighbours, and
    equal to the native loop (the eager kernels) bit for bit."""
    x = np.resize(inputs(40, seed), shape).astype(dtype)
    f = getattr(lax, name)
    _, exe = compile_and_compare(lambda a: f(a * 1.0) * 2.0, x, compare=lambda g, w: None)
    assert exe.kernel_count == 1
    got = np.asarray(exe([x])[0])
    want = xla32.apply_array(name, x).astype(dtype)
    assert_bits(got, (want.astype(F32) * 2).astype(dtype), x.ravel(), name)


def test_several_functions_fuse_into_one_kernel():
    x = np.linspace(-0.9, 0.9, 64, dtype=F32)
    _, exe = compile_and_compare(
        lambda a: lax.sinh(a) + lax.erfc(a) * lax.asin(a) - lax.atanh(a) + lax.acosh(a + 2.0),
        x, compare=lambda g, w: None)
    assert exe.kernel_count == 1 and exe.fallbacks == []
    want = (xla32.apply_array("sinh", x) + xla32.apply_array("erfc", x)
            * xla32.apply_array("asin", x) - xla32.apply_array("atanh", x)
            + xla32.apply_array("acosh", x + F32(2)))
    np.testing.assert_allclose(np.asarray(exe([x])[0]), want, rtol=1e-6, atol=1e-6)


def test_apply_array_rejects_other_dtypes_and_names():
    with pytest.raises(TypeError, match="float32, float16 or bfloat16, got float64"):
        xla32.apply_array("sinh", np.ones(3))
    with pytest.raises(ValueError, match="name must be one of"):
        xla32.apply_array("lgamma", np.ones(3, F32))


def test_rsqrt_leaves_llvmlites_call_attributes_alone():
    from llvmlite.ir.instructions import CallInstrAttributes
    known = CallInstrAttributes._known
    x = np.exp(np.random.default_rng(0).uniform(-20, 20, 100)).astype(F32)
    got = fx_jit("rsqrt", x)
    np.testing.assert_allclose(got, 1 / np.sqrt(x.astype(np.float64)), rtol=3e-7)
    assert CallInstrAttributes._known == known
    assert not any("vector-function-abi-variant" in k for k in CallInstrAttributes._known)


# ---------------------------------------------------------------------------
# with JAX


def _jax_function(jax, name):
    return {"asin": jax.numpy.arcsin, "acos": jax.numpy.arccos, "asinh": jax.numpy.arcsinh,
            "acosh": jax.numpy.arccosh, "atanh": jax.numpy.arctanh}.get(
        name, getattr(jax.lax, name))


@pytest.mark.parametrize("name", NAMES)
def test_float32_bit_identical_to_jax(name):
    """About a million inputs, a multiple of 8 of them: XLA's vectorised loop (its scalar
    loop, which runs arrays of other lengths, contracts two more multiply-adds inside the
    log of asinh's and acosh's log1p: 1 ulp apart on about 0.03% of inputs)."""
    jax = pytest.importorskip("jax")
    x = inputs(130000, seed=11)
    x = x[:x.size - x.size % 8]
    assert x.size > 980000
    want = np.asarray(jax.jit(_jax_function(jax, name))(x))
    assert_bits(xla32.apply_array(name, x), want, x, f"{name} (native loop)")
    assert_bits(fx_jit(name, x), want, x, f"{name} (fx.jit)")


@pytest.mark.parametrize("name", ["expm1", "tanh"])
def test_float32_expm1_and_tanh_bit_identical_to_jax(name):
    jax = pytest.importorskip("jax")
    x = inputs(20000, seed=12)
    want = np.asarray(jax.jit(getattr(jax.lax, name))(x))
    assert_bits(xla32.apply_array(name, x), want, x, name)


def test_float32_atan2_bit_identical_to_jax():
    jax = pytest.importorskip("jax")
    y, x = inputs(20000, seed=13), inputs(20000, seed=14)
    want = np.asarray(jax.jit(jax.lax.atan2)(y, x))
    assert_bits(xla32.apply_array("atan2", y, x), want, y, "atan2")


@pytest.mark.parametrize("dtype", [np.float16, BF16])
@pytest.mark.parametrize("name", NAMES)
def test_narrow_bit_identical_to_jax(name, dtype):
    """Every float16 and bfloat16 value (NaN results compared by the native loop only:
    ``FX_CHECK_COMPILED`` reads a bfloat16 NaN as differing from itself)."""
    jax = pytest.importorskip("jax")
    x = every_value(dtype)
    want = np.asarray(jax.jit(_jax_function(jax, name))(x))
    assert_bits(xla32.apply_array(name, x), want, x, f"{name} (native loop)")
    keep = ~np.isnan(want.astype(F32))
    assert_bits(fx_jit(name, x[keep]), want[keep], x[keep], f"{name} (fx.jit)")


@pytest.mark.parametrize("dtype", [F32, np.float16, BF16])
@pytest.mark.parametrize("name", NAMES)
def test_eager_equals_compiled_bit_for_bit(name, dtype):
    """The eager impl is the same XLA expansion as the compiled kernel (JAX's op-by-op
    results are its jitted ones)."""
    x = inputs(200, seed=3).astype(dtype)
    eager = np.asarray(getattr(lax, name)(x))
    assert eager.dtype == np.dtype(dtype)
    assert_bits(eager, np.asarray(fx_jit(name, x)), x, f"eager {name} {np.dtype(dtype)}")
