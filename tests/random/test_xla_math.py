"""fx/_random/xla_math.py: the emulated fused multiply-add against exact rational
arithmetic; float32 exp/log/log1p/erf_inv/erf/rsqrt against float64 references
(accuracy) and,
where JAX is installed, against XLA bit for bit, on random floats and on every
input the normal sampler can produce; the native kernels and compiled loops
(lowering/cpu/xla_float32.py) against the NumPy specification; the exp/log/log1p/
erf_inv primitives' eager impls."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import scipy.special as sp

import fx
from fx._random.xla_math import (erf_f32, erf_inv_f32, exp_f32, fma32, log1p_f32, log_f32,
                                 pow_f32, rsqrt_f32)

F32 = np.float32
RNG = np.random.default_rng(0)


def _random_f32(n, lo_bits=0x00800000, hi_bits=0x7F7FFFFF, signed=True):
    bits = RNG.integers(lo_bits, hi_bits, n, dtype=np.uint32)
    x = bits.view(np.float32)
    return np.where(RNG.random(n) < 0.5, -x, x).astype(F32) if signed else x


def _ulps(got, want):
    """Distance in float32 ulps between float32 ``got`` and float64 ``want``."""
    return np.abs(got.astype(np.float64) - want) / np.spacing(np.abs(want).astype(F32))


def _normal_sampler_inputs(stride=1):
    """Every uniform draw in [-1 + 2**-24, 1) that normal() feeds to erf_inv."""
    mantissas = np.arange(0, 1 << 23, stride, dtype=np.uint32)
    f = (mantissas | np.uint32(0x3F800000)).view(F32) - F32(1)
    low = np.nextafter(F32(-1), F32(0))
    return np.maximum(low, f * F32(2) + low)


def test_fma32_is_correctly_rounded():
    # operands chosen so that products and sums need many bits, and near-cancellations
    a = _random_f32(3000, 0x30000000, 0x50000000)
    b = _random_f32(3000, 0x30000000, 0x50000000)
    c = np.where(RNG.random(3000) < 0.5, -(a * b), _random_f32(3000, 0x30000000, 0x50000000))
    c = (c * (1 + RNG.integers(-64, 64, 3000) * F32(2.0 ** -23))).astype(F32)
    got = fma32(a, b, c)
    for x, y, z, r in zip(a, b, c, got, strict=True):
        exact = Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z))
        half_ulp = Fraction(abs(float(np.spacing(r)))) / 2
        lo, hi = Fraction(float(r)) - half_ulp, Fraction(float(r)) + half_ulp
        assert lo <= exact <= hi, (x, y, z, r)
    # double rounding trap: a*b + c exactly halfway between float32s after float64 rounding
    x, y = F32(1 + 2.0 ** -12), F32(1 + 2.0 ** -12)   # x*y = 1 + 2**-11 + 2**-24
    z = F32(2.0 ** -60)                               # pushes just above the halfway point
    assert fma32(x, y, z) == F32(1 + 2.0 ** -11 + 2.0 ** -23)
    assert fma32(F32(2.0), F32(3.0), F32(1.0)) == F32(7.0)
    assert fma32(F32(np.inf), F32(1.0), F32(1.0)) == np.inf


def test_log_log1p_erf_inv_accuracy_without_jax():
    x = _random_f32(200000, signed=False)
    assert _ulps(log_f32(x), np.log(x.astype(np.float64))).max() <= 1.5
    y = np.concatenate([RNG.uniform(-1, 0, 100000), RNG.uniform(0, 10, 100000),
                        _random_f32(50000, 0x00800000, 0x3E000000)]).astype(F32)
    # (log(1 + x) just above the switch at sqrt(2) - 1 costs XLA about 2.4 ulp)
    assert _ulps(log1p_f32(y), np.log1p(y.astype(np.float64))).max() <= 3.0
    u = _normal_sampler_inputs(stride=17)
    got = erf_inv_f32(u)
    want = sp.erfinv(u.astype(np.float64))
    assert np.abs(got - want).max() <= 2e-5 * np.abs(want).max()
    # XLA's approximation: median under 1 ulp, 99% within 3, up to 65 ulp close to +-1
    # (measured over all 2**23 inputs)
    err = _ulps(got, want)
    assert np.median(err) <= 1.0 and np.percentile(err, 99) <= 3.0 and err.max() <= 66


def test_exp_accuracy_without_jax():
    x = np.concatenate([RNG.uniform(-87.3, 88.3, 300000), RNG.uniform(-1, 1, 100000),
                        _random_f32(50000, 0x00800000, 0x3E000000)]).astype(F32)
    assert _ulps(exp_f32(x, native=False), np.exp(x.astype(np.float64))).max() <= 1.05
    # close to overflow XLA clamps the reduction's n to 127 (up to 5.3 ulp)
    top = np.linspace(88.37, 88.72, 20000, dtype=F32)
    assert _ulps(exp_f32(top), np.exp(top.astype(np.float64))).max() <= 6
    # results below 2**-126 are flushed to zero (as XLA does), the rest is 1 ulp
    low = np.linspace(-103.0, -86.0, 20000, dtype=F32)
    got, want = exp_f32(low), np.exp(low.astype(np.float64))
    flushed = want < np.finfo(F32).tiny
    assert np.all(got[flushed] < np.finfo(F32).tiny) and np.any(got[flushed] == 0)
    assert np.all((got[flushed] == 0) | (got[flushed] >= np.finfo(F32).tiny))
    assert _ulps(got[~flushed], want[~flushed]).max() <= 1.05


def test_log_of_subnormals():
    x = _random_f32(20000, 1, 0x00800000, signed=False)
    # XLA reads subnormal inputs as zero (JAX's eager and jit agree): log is -inf and
    # log1p a zero of the input's sign
    assert (log_f32(x) == -np.inf).all()
    np.testing.assert_array_equal(log1p_f32(x), 0 * x)
    np.testing.assert_array_equal(np.signbit(log1p_f32(-x)), np.ones(x.shape, bool))


def test_special_values():
    specials = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 2.0, -3.0, 1e-40,
                         -1e-45], F32)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(exp_f32(specials[:9]), np.exp(specials[:9]), rtol=2e-7)
        np.testing.assert_array_equal(exp_f32(specials[[0, 1, 4, 5, 6]]), [1, 1, np.inf, 0,
                                                                           np.nan])
        np.testing.assert_array_equal(exp_f32(np.array([88.8, 1e30, -88.0, -1e30], F32)),
                                      [np.inf, np.inf, 0.0, 0.0])
        np.testing.assert_allclose(log_f32(specials[:9]), np.log(specials[:9]), rtol=2e-7)
        np.testing.assert_array_equal(log_f32(specials[[0, 1, 2, 4, 5, 6]]),
                                      [-np.inf, -np.inf, 0, np.inf, np.nan, np.nan])
        flushed = np.where(np.abs(specials) < np.finfo(F32).tiny, specials * F32(0), specials)
        np.testing.assert_array_equal(log1p_f32(specials), np.log1p(flushed))
        np.testing.assert_array_equal(np.signbit(log1p_f32(specials)),
                                      np.signbit(np.log1p(flushed)))
    e = erf_inv_f32(specials)
    np.testing.assert_array_equal(e[:4], [0.0, -0.0, np.inf, -np.inf])
    assert np.signbit(e[1]) and np.all(np.isnan(e[4:9]))
    np.testing.assert_allclose(e[9:], sp.erfinv(specials[9:].astype(np.float64)), rtol=1e-6,
                               atol=2e-45)  # subnormal results: within one float32 step
    assert erf_inv_f32(F32(0.5)).shape == () and erf_inv_f32(F32(0.5)).dtype == F32


def test_exp_log_log1p_primitives_use_it():
    from primitives.elementwise import exp_p, log1p_p, log_p
    x = np.concatenate([RNG.uniform(-5, 5, 3000), RNG.uniform(0, 1, 3000)]).astype(F32)
    from fx._random.xla_math64 import exp_f64, log1p_f64, log_f64
    cases = [(exp_p, exp_f32, exp_f64, np.exp, x), (log_p, log_f32, log_f64, np.log, np.abs(x)),
             (log1p_p, log1p_f32, log1p_f64, np.log1p, np.abs(x) - F32(0.5))]
    for prim, spec, spec64, ref, v in cases:
        for arr in (v, v[:7]):  # native kernel and NumPy specification
            np.testing.assert_array_equal(prim.impl(arr), spec(arr, native=False))
        for dtype in (np.float16, fx.numpy.bfloat16):
            h = v.astype(dtype)
            out = prim.impl(h)
            assert out.dtype == h.dtype
            np.testing.assert_array_equal(out, spec(h.astype(F32)).astype(dtype))
        d = v.astype(np.float64)  # float64: XLA's too (fx/_random/xla_math64.py)
        np.testing.assert_array_equal(prim.impl(d), spec64(d))
        # near NumPy's: XLA's float64 log1p is ~200 ulp off on [1 - sqrt(2), sqrt(.5) - 1]
        np.testing.assert_allclose(prim.impl(d), ref(d), rtol=6e-14, atol=1e-300)
    c = (x[:5] + 1j * x[5:10]).astype(np.complex64)
    np.testing.assert_allclose(exp_p.impl(c), np.exp(c), rtol=1e-6)
    np.testing.assert_allclose(log_p.impl(c), np.log(c), rtol=1e-6)
    np.testing.assert_array_equal(fx.numpy.exp(x), exp_f32(x))


def test_erf_inv_primitive_uses_it():
    from primitives.elementwise import erf_inv_p
    u = _normal_sampler_inputs(stride=4099)
    np.testing.assert_array_equal(erf_inv_p.impl(u), erf_inv_f32(u))
    for dtype in (np.float16, fx.numpy.bfloat16):
        h = u.astype(dtype)
        out = erf_inv_p.impl(h)
        assert out.dtype == h.dtype
        np.testing.assert_array_equal(out, erf_inv_f32(h.astype(F32)).astype(dtype))
    d = u.astype(np.float64)
    np.testing.assert_allclose(erf_inv_p.impl(d), sp.erfinv(d), rtol=1e-14)
    np.testing.assert_array_equal(fx.lax.erf_inv(u), erf_inv_f32(u))


@pytest.mark.jax
def test_bit_identical_to_xla():
    jax = pytest.importorskip("jax")
    lax = jax.lax
    x = _random_f32(300000, signed=False)
    np.testing.assert_array_equal(log_f32(x), np.asarray(jax.jit(lax.log)(x)))
    y = np.concatenate([RNG.uniform(-1, 3, 200000).astype(F32),
                        -_random_f32(100000, 0x00800000, 0x3F800000, signed=False)])
    np.testing.assert_array_equal(log1p_f32(y), np.asarray(jax.jit(lax.log1p)(y)))
    u = np.concatenate([_normal_sampler_inputs(stride=3),
                        RNG.uniform(-1, 1, 100000).astype(F32),
                        np.array([0.0, -0.0, 1.0, -1.0, 0.99999994, -0.99999994], F32)])
    np.testing.assert_array_equal(erf_inv_f32(u), np.asarray(jax.jit(lax.erf_inv)(u)))
    # exp: random floats of every exponent (where the result is not subnormal), dense
    # over the range where it is finite and nonzero, and around every switch of n
    z = _random_f32(1_000_000)
    z = z[~(z < -87.3)]
    ks = np.arange(-126, 129)
    edges = ((ks - 0.5) * np.log(2.0)).astype(F32)
    steps = np.arange(-2000, 2000, dtype=np.int32)[None, :]
    near = ((np.abs(edges).view(np.int32)[:, None] + steps).view(F32)
            * np.sign(edges)[:, None]).ravel()
    e = np.concatenate([z, RNG.uniform(-87.3, 88.8, 2_000_000), near,
                        np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 88.72, 88.73, -103.0,
                                  -87.8, -88.0], F32)]).astype(F32)
    got, want = exp_f32(e), np.asarray(jax.jit(lax.exp)(e))
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(exp_f32(e[:200000], native=False), want[:200000])


def _as_uint(a):
    return np.where(np.isnan(a), np.float32(np.nan), a).view(np.uint32)


@pytest.mark.parametrize("name", ["exp", "log", "log1p"])
def test_native_exp_log_log1p_match_the_numpy_specification(name):
    """The compiled loops and the eager native kernels round as the NumPy specification,
    bit for bit, on floats of every exponent, both signs, subnormals and specials."""
    from fx._random import xla_math
    from lowering.cpu.xla_float32 import apply_array
    rng = np.random.default_rng(11)
    x = np.concatenate([rng.integers(0, 2 ** 32, 300_000, dtype=np.uint64).astype(
        np.uint32).view(F32), rng.uniform(-90, 90, 100_000).astype(F32),
        np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40, 1e-45],
                 F32)])
    with np.errstate(all="ignore"):
        want = getattr(xla_math, f"{name}_f32")(x, native=False)
    for got in (apply_array(name, x), np.asarray(fx.jit(getattr(fx.lax, name))(x))):
        np.testing.assert_array_equal(_as_uint(got), _as_uint(want))


def test_native_erf_inv_matches_the_numpy_specification():
    """The compiled erf_inv (loops and the eager native kernel) rounds as the NumPy
    specification of XLA's expansion, bit for bit, over the whole domain."""
    import fx
    from lowering.cpu.xla_float32 import erf_inv_array
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-1, 1, 200_000), 1 - rng.uniform(0, 1e-3, 2000),
                        np.array([0.0, -0.0, 1.0, -1.0, 1.5, -3.0, np.inf, -np.inf,
                                  1e-30, -1e-42])]).astype(np.float32)
    want = erf_inv_f32(x, native=False)
    for got in (erf_inv_array(x), np.asarray(fx.jit(fx.lax.erf_inv)(x))):
        np.testing.assert_array_equal(got, want)
        same_zero_sign = np.signbit(got) == np.signbit(want)
        assert same_zero_sign[want == 0].all()


def test_compiled_tan_and_pow_call_the_c_library():
    """float32 tan and pow compile to the C library's tanf/powf (what XLA calls), in
    fx.jit and in the native kernels."""
    import ctypes
    import ctypes.util

    from lowering.cpu.xla_float32 import apply_array
    libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    libm.tanf.restype = libm.powf.restype = ctypes.c_float
    libm.tanf.argtypes = [ctypes.c_float]
    libm.powf.argtypes = [ctypes.c_float, ctypes.c_float]
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.uniform(-4, 4, 2000), [0.0, -0.0, np.inf, np.nan]]).astype(F32)
    y = np.concatenate([rng.uniform(-3, 3, 2000), [2.0, 3.0, -1.0, 0.0]]).astype(F32)
    b = np.abs(x)
    want_tan = np.array([libm.tanf(float(v)) for v in x], F32)
    want_pow = np.array([libm.powf(float(u), float(v)) for u, v in zip(b, y, strict=True)],
                        F32)
    for got in (apply_array("tan", x), np.asarray(fx.jit(fx.lax.tan)(x))):
        np.testing.assert_array_equal(got, want_tan)
    for got in (apply_array("pow", b, y), np.asarray(fx.jit(fx.lax.pow)(b, y))):
        np.testing.assert_array_equal(got, want_pow)


@pytest.mark.jax
def test_compiled_tan_and_pow_are_xlas():
    jax = pytest.importorskip("jax")
    rng = np.random.default_rng(6)
    x = rng.uniform(-10, 10, 100000).astype(F32)
    b, y = rng.uniform(0, 5, 100000).astype(F32), rng.uniform(-4, 4, 100000).astype(F32)
    np.testing.assert_array_equal(np.asarray(fx.jit(fx.lax.tan)(x)),
                                  np.asarray(jax.jit(jax.lax.tan)(x)))
    np.testing.assert_array_equal(np.asarray(fx.jit(fx.lax.pow)(b, y)),
                                  np.asarray(jax.jit(jax.lax.pow)(b, y)))


# ---------------------------------------------------------------------------
# erf and rsqrt (truncated_normal's bounds; gamma's c = (1/3) rsqrt(d))


def _all_floats(stride):
    """Every ``stride``-th non-negative finite float32 bit pattern, and its negation."""
    x = np.arange(0, 0x7F800000, stride, dtype=np.uint32).view(F32)
    return np.concatenate([x, -x])


def test_erf_accuracy_and_special_values_without_jax():
    x = _all_floats(4099)
    got = erf_f32(x)
    normal = np.abs(x) >= np.finfo(F32).tiny
    want = sp.erf(x.astype(np.float64))
    assert _ulps(got[normal], want[normal]).max() <= 6  # (XLA's accuracy: 5.2 ulp)
    # subnormal inputs flush to a signed zero; beyond the clamp +-1; NaN stays NaN
    tiny = np.array([1e-40, -1e-40, 1e-45, 0.0, -0.0], F32)
    np.testing.assert_array_equal(_as_uint(erf_f32(tiny)), _as_uint(tiny * F32(0)))
    big = np.array([3.8325069, -3.9, 50.0, np.inf, -np.inf, np.nan], F32)
    np.testing.assert_array_equal(erf_f32(big), [1, -1, 1, 1, -1, np.nan])


def test_native_erf_matches_the_numpy_specification():
    from lowering.cpu.xla_float32 import apply_array
    x = np.concatenate([_all_floats(997), np.array([np.inf, -np.inf, np.nan], F32)])
    want = erf_f32(x, native=False)
    np.testing.assert_array_equal(_as_uint(apply_array("erf", x)), _as_uint(want))


def test_rsqrt_accuracy_and_special_values_without_jax():
    x = np.arange(0x00800000, 0x7F800000, 1009, dtype=np.uint32).view(F32)
    got = rsqrt_f32(x)
    assert _ulps(got, 1 / np.sqrt(x.astype(np.float64))).max() <= 2
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -1.0, 1e-40], F32)
    np.testing.assert_array_equal(rsqrt_f32(special),
                                  [np.inf, -np.inf, 0, np.nan, np.nan, np.nan, np.inf])


def test_pow_is_the_c_librarys():
    from lowering.cpu.xla_float32 import apply_array
    b = RNG.uniform(0, 5, 1000).astype(F32)
    y = RNG.uniform(-3, 3, 1000).astype(F32)
    np.testing.assert_array_equal(pow_f32(b, y), apply_array("pow", b, y))
    np.testing.assert_allclose(pow_f32(b, y), b.astype(np.float64) ** y, rtol=1e-6)


@pytest.mark.jax
def test_erf_and_rsqrt_bit_identical_to_xla():
    jax = pytest.importorskip("jax")
    x = np.concatenate([_all_floats(257), np.array([np.inf, -np.inf, np.nan], F32)])
    want = np.asarray(jax.jit(jax.lax.erf)(x))
    np.testing.assert_array_equal(_as_uint(erf_f32(x)), _as_uint(want))
    np.testing.assert_array_equal(_as_uint(erf_f32(x[:300000], native=False)),
                                  _as_uint(want[:300000]))
    r = np.concatenate([np.arange(0, 0x7F800000, 131, dtype=np.uint32).view(F32),
                        np.array([-0.0, np.inf, -np.inf, np.nan, -2.0], F32)])
    np.testing.assert_array_equal(_as_uint(rsqrt_f32(r)),
                                  _as_uint(np.asarray(jax.jit(jax.lax.rsqrt)(r))))
