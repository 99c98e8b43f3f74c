"""fx/_random/xla_math.py: the emulated fused multiply-add against exact rational
arithmetic; float32 log/log1p/erf_inv against float64 references (accuracy) and,
where JAX is installed, against XLA bit for bit, on random floats and on every
input the normal sampler can produce; the erf_inv primitive's eager impl."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import scipy.special as sp

import fx
from fx._random.xla_math import erf_inv_f32, fma32, log1p_f32, log_f32

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
    for x, y, z, r in zip(a, b, c, got):
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


def test_special_values():
    specials = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 2.0, -3.0, 1e-40,
                         -1e-45], F32)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(log_f32(specials), np.log(specials))
        np.testing.assert_array_equal(log1p_f32(specials), np.log1p(specials))
        np.testing.assert_array_equal(np.signbit(log1p_f32(specials)),
                                      np.signbit(np.log1p(specials)))
    e = erf_inv_f32(specials)
    np.testing.assert_array_equal(e[:4], [0.0, -0.0, np.inf, -np.inf])
    assert np.signbit(e[1]) and np.all(np.isnan(e[4:9]))
    np.testing.assert_allclose(e[9:], sp.erfinv(specials[9:].astype(np.float64)), rtol=1e-6,
                               atol=2e-45)  # subnormal results: within one float32 step
    assert erf_inv_f32(F32(0.5)).shape == () and erf_inv_f32(F32(0.5)).dtype == F32


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
