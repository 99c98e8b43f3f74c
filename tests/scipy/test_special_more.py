"""Tests of the fx.scipy.special functions added for JAX 0.10.2 parity (bessel_jn dawsn
exp1 expi expn fresnel hyp1f1 hyp2f1 owens_t sici sph_harm_y wofz): values against
SciPy over wide ranges in float64 and float32 (tolerances per function below),
special values, derivatives against finite differences, vmap against a Python loop,
jit against eager, and dtypes/weak types against JAX where installed.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import scipy.special as sps

import fx
import fx.numpy as fnp
from fx.scipy import special as fsp
from fx.test_util import check_grads

RNG = np.random.RandomState(0)


@pytest.fixture(autouse=True)
def _reseed():
    """Every test draws the same samples whatever ran before it (xdist orders differ)."""
    RNG.seed(0)
WIDE = np.concatenate([-np.logspace(-10, 3, 120), [0.0], np.logspace(-10, 3, 120)])


def _compare(got, want, rtol, atol=0.0):
    got = np.asarray(got)
    want = np.asarray(want)
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=rtol, atol=atol)
    # non-finite reference values must match exactly (inf sign, NaN)
    np.testing.assert_array_equal(got[~finite], want[~finite])


# name -> (fx function, SciPy reference, argument sampler, rtol float64, rtol float32,
#          atol float32 (for zero crossings / cancellation))
def _unary(lo_hi=None):
    return lambda: [WIDE]


def _hyp2f1_reference(a, b, c, x):
    """SciPy's 2F1, through Pfaff's transformation for x < 0 (2F1(a, b; c; x) =
    (1 - x)^-a 2F1(a, c - b; c; x / (x - 1))): SciPy's direct evaluation loses up to
    2e-10 relative there (measured against mpmath at 40 digits), the transformed one
    stays within 1e-13."""
    x = np.asarray(x, np.float64)
    neg = x < 0
    out = sps.hyp2f1(a, b, c, x)
    with np.errstate(all="ignore"):
        pfaff = (1 - x) ** (-np.asarray(a)) * sps.hyp2f1(a, np.asarray(c) - b, c, x / (x - 1))
    return np.where(neg, pfaff, out)


TABLE = {
    "expi": (fsp.expi, sps.expi, _unary(), 1e-13, 2e-6, 1e-6),
    "exp1": (fsp.exp1, sps.exp1, _unary(), 1e-13, 2e-6, 0.0),
    "dawsn": (fsp.dawsn, sps.dawsn, _unary(), 5e-14, 1e-6, 0.0),
    "si": (lambda x: fsp.sici(x)[0], lambda x: sps.sici(x)[0], _unary(), 1e-14, 5e-7, 0.0),
    "ci": (lambda x: fsp.sici(x)[1], lambda x: sps.sici(x)[1], _unary(), 1e-13, 5e-7, 1e-6),
    "fresnel_s": (lambda x: fsp.fresnel(x)[0], lambda x: sps.fresnel(x)[0],
                  lambda: [np.concatenate([WIDE[np.abs(WIDE) < 1e3], [np.inf, -np.inf]])],
                  1e-13, 1e-6, 1e-7),
    "fresnel_c": (lambda x: fsp.fresnel(x)[1], lambda x: sps.fresnel(x)[1],
                  lambda: [np.concatenate([WIDE[np.abs(WIDE) < 1e3], [np.inf, -np.inf]])],
                  1e-13, 1e-6, 1e-7),
    "expn": (fsp.expn, sps.expn,
             lambda: [np.repeat([0., 1., 2., 3., 5., 10., 30., 100.], 40),
                      np.tile(np.concatenate([np.logspace(-8, 2.5, 38), [0., 1.]]), 8)],
             1e-13, 2e-6, 0.0),
    "hyp1f1": (fsp.hyp1f1, sps.hyp1f1,
               lambda: [RNG.uniform(0.1, 10, 200), RNG.uniform(0.1, 10, 200),
                        RNG.uniform(-10, 30, 200)], 1e-11, 1e-3, 0.0),
    "hyp2f1": (fsp.hyp2f1, _hyp2f1_reference,
               lambda: [RNG.uniform(0.1, 5, 200), RNG.uniform(0.1, 5, 200),
                        RNG.uniform(0.5, 10, 200), RNG.uniform(-5, 0.95, 200)],
               # float32: the transformed series cancels for small c and x < -2 (1.1e-4
               # measured against mpmath at c = 0.648, x = -2.28; JAX overflows there)
               1e-11, 2e-4, 0.0),
    "owens_t": (fsp.owens_t, sps.owens_t,
                lambda: [np.concatenate([RNG.uniform(-10, 10, 200), [0., 3., 40., 1e-5]]),
                         np.concatenate([RNG.uniform(-20, 20, 200), [2., 1., 1., 1.]])],
                1e-13, 2e-5, 1e-7),
}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_values_float64(name):
    fn, ref, sampler, rtol, _, _ = TABLE[name]
    args = sampler()
    with fx.enable_x64():
        out = fn(*[fnp.asarray(a) for a in args])
        assert out.dtype == np.float64
    _compare(out, ref(*args), rtol, atol=1e-300)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_values_float32(name):
    fn, ref, sampler, _, rtol32, atol32 = TABLE[name]
    args = [a.astype(np.float32) for a in sampler()]
    out = fn(*args)
    assert out.dtype == np.float32
    with np.errstate(over="ignore"):
        want = ref(*[a.astype(np.float64) for a in args]).astype(np.float32)
    _compare(out, want, rtol32, atol=atol32)


def test_special_values():
    with fx.enable_x64():
        x = fnp.asarray([0.0, np.inf, -np.inf, np.nan])
        _compare(fsp.expi(x), [-np.inf, np.inf, -0.0, np.nan], 0)
        _compare(fsp.exp1(fnp.asarray([0.0, -1.0, np.inf])), [np.inf, np.nan, 0.0], 0)
        si, ci = fsp.sici(x)
        _compare(si, [0.0, math.pi / 2, -math.pi / 2, np.nan], 1e-15)
        _compare(ci, [-np.inf, 0.0, np.nan, np.nan], 0)
        s, c = fsp.fresnel(x)
        _compare(s, [0.0, 0.5, -0.5, np.nan], 0)
        _compare(c, [0.0, 0.5, -0.5, np.nan], 0)
        _compare(fsp.dawsn(x), [0.0, 0.0, -0.0, np.nan], 0)
        # expn: n = 0, x = 0, negative and non-integer n (NaN, as JAX)
        got = fsp.expn(fnp.asarray([0., 1., 2., 3., -1., 2.5, 2.]),
                       fnp.asarray([0., 0., 0., 0., 1., 1., -1.]))
        _compare(got, [np.inf, np.inf, 1.0, 0.5, np.nan, np.nan, np.nan], 1e-15)
        # owens_t limits
        got = fsp.owens_t(fnp.asarray([1., np.inf, 0., 2.]),
                          fnp.asarray([np.inf, 1., np.inf, 0.]))
        _compare(got, [sps.owens_t(1, np.inf), 0.0, 0.25, 0.0], 1e-14)
        # 2F1: Gauss's theorem at x = 1, divergence, terminating series beyond 1
        got = fsp.hyp2f1(fnp.asarray([1., 1., -2., 1.]), fnp.asarray([1., 1., 1., 1.]),
                         fnp.asarray([3., 2., 2., 2.]), fnp.asarray([1., 1., 3., 1.5]))
        _compare(got, [2.0, np.inf, 1.0, np.inf], 1e-13)
        # 1F1(0; 0; x) = 1 (JAX's convention)
        assert float(fsp.hyp1f1(0., 0., 3.)) == 1.0


def _exact_fresnel(x):
    """Fresnel integrals for large x from the asymptotic series with the phase reduced
    exactly (x^2 mod 4 in rationals): independent of SciPy, which loses the phase."""
    r = float((Fraction(x) ** 2) % 4)
    phase = math.pi / 2 * r
    f = (1 - 3 / (math.pi ** 2 * x ** 4)) / (math.pi * x)
    g = 1 / (math.pi ** 2 * x ** 3)
    return (0.5 - f * math.cos(phase) - g * math.sin(phase),
            0.5 + f * math.sin(phase) - g * math.cos(phase))


def test_fresnel_large_arguments():
    xs = np.concatenate([np.logspace(3, 14, 30), [1e3 + 0.123]])
    with fx.enable_x64():
        s, c = fsp.fresnel(fnp.asarray(xs))
    exact = np.array([_exact_fresnel(x) for x in xs])
    np.testing.assert_allclose(np.asarray(s), exact[:, 0], rtol=0, atol=5e-16)
    np.testing.assert_allclose(np.asarray(c), exact[:, 1], rtol=0, atol=5e-16)
    xs32 = np.logspace(3, 7, 20).astype(np.float32)
    s, c = fsp.fresnel(xs32)
    exact = np.array([_exact_fresnel(float(x)) for x in xs32])
    np.testing.assert_allclose(np.asarray(s), exact[:, 0], rtol=0, atol=1e-7)
    np.testing.assert_allclose(np.asarray(c), exact[:, 1], rtol=0, atol=1e-7)


def test_expi_near_overflow():
    with fx.enable_x64():
        x = fnp.asarray([300., 548.4, 709.0, 716.0])
        want = [sps.expi(300.), sps.expi(548.4), sps.expi(709.0),
                math.exp(358.0) * (math.exp(358.0) / 716.0) * 1.0014]  # SciPy overflows
        np.testing.assert_allclose(np.asarray(fsp.expi(x)), want, rtol=2e-4)
        np.testing.assert_allclose(np.asarray(fsp.expi(x))[:3], want[:3], rtol=1e-13)


def test_wofz():
    re = np.concatenate([RNG.uniform(-8, 8, 200), np.logspace(-10, 8, 30),
                         -np.logspace(-10, 8, 30), RNG.uniform(-30, 30, 60)])
    im = np.concatenate([RNG.uniform(-4, 8, 200), RNG.uniform(-1, 1, 60) * np.logspace(-10, 8, 60),
                         RNG.uniform(-1e-3, 1e-3, 60)])
    z = re + 1j * im
    with fx.enable_x64():
        out = fsp.wofz(fnp.asarray(z))
        assert out.dtype == np.complex128
        want = sps.wofz(z)
        finite = np.isfinite(want)
        np.testing.assert_allclose(np.asarray(out)[finite], want[finite], rtol=1e-13)
        # where w overflows, so does fx (SciPy's signed infinities are not all kept:
        # lax.complex(inf, inf) gives nan + inf j in fx's eager impl)
        assert not np.any(np.isfinite(np.asarray(out)[~finite]))
        real = fsp.wofz(fnp.asarray([1.0, -2.5]))
        np.testing.assert_allclose(np.asarray(real), sps.wofz(np.array([1.0, -2.5])),
                                   rtol=1e-14)
        # deep in the lower half plane w(z) overflows to infinities
        assert np.all(np.isinf(np.asarray(fsp.wofz(fnp.asarray([0.1 - 30j, 3 - 1e8j]))).imag))
    z32 = z.astype(np.complex64)
    out32 = fsp.wofz(z32)
    assert out32.dtype == np.complex64
    want32 = sps.wofz(z32.astype(np.complex128)).astype(np.complex64)
    finite = np.isfinite(want32)
    np.testing.assert_allclose(np.asarray(out32)[finite], want32[finite], rtol=3e-6)
    assert fsp.wofz(np.float32(1.0)).dtype == np.complex64


def test_bessel_jn():
    x = np.concatenate([RNG.uniform(-30, 30, 100), np.logspace(-10, 1, 12), [0.0]])
    with fx.enable_x64():
        out = fsp.bessel_jn(fnp.asarray(x), v=5, n_iter=60)
        assert out.shape == (6,) + x.shape and out.dtype == np.float64
    want = np.stack([sps.jv(k, x) for k in range(6)])
    np.testing.assert_allclose(np.asarray(out), want, rtol=0, atol=1e-15)
    x32 = x.astype(np.float32)  # the reference at the float32 arguments fx receives
    out32 = fsp.bessel_jn(x32, v=3)
    assert out32.dtype == np.float32
    want32 = np.stack([sps.jv(k, x32.astype(np.float64)) for k in range(4)])
    np.testing.assert_allclose(np.asarray(out32), want32.astype(np.float32), rtol=0,
                               atol=2e-7)
    # a 2-D argument keeps its shape after the order axis
    assert fsp.bessel_jn(np.ones((2, 3), np.float32), v=2).shape == (3, 2, 3)
    with pytest.raises(TypeError, match="v must be"):
        fsp.bessel_jn(np.float32(1.0), v=1.5)
    with pytest.raises(ValueError, match="floating"):
        fsp.bessel_jn(np.array([1, 2]), v=1)


def test_sph_harm_y():
    n = RNG.randint(0, 12, 200)
    m = np.array([RNG.randint(-k - 1, k + 2) for k in n])  # includes |m| > n (zero)
    theta = RNG.uniform(0, np.pi, 200)
    phi = RNG.uniform(0, 2 * np.pi, 200)
    want = sps.sph_harm_y(n, m, theta, phi)
    with fx.enable_x64():
        out = fsp.sph_harm_y(fnp.asarray(n), fnp.asarray(m), fnp.asarray(theta),
                             fnp.asarray(phi))
        assert out.dtype == np.complex128
    np.testing.assert_allclose(np.asarray(out), want, rtol=0, atol=1e-14)
    out32 = fsp.sph_harm_y(n, m, theta.astype(np.float32), phi.astype(np.float32), n_max=11)
    assert out32.dtype == np.complex64
    np.testing.assert_allclose(np.asarray(out32), want, rtol=0, atol=3e-6)
    # n above n_max is clipped to n_max (JAX's semantics)
    clipped = fsp.sph_harm_y(np.array([10]), np.array([2]), np.array([0.4], np.float32),
                             np.array([0.3], np.float32), n_max=6)
    np.testing.assert_allclose(np.asarray(clipped),
                               sps.sph_harm_y(6, 2, 0.4, 0.3), atol=3e-6)
    with pytest.raises(NotImplementedError, match="diff_n"):
        fsp.sph_harm_y(n, m, theta, phi, diff_n=1)
    with pytest.raises(TypeError, match="integer"):
        fsp.sph_harm_y(np.array([1.0]), np.array([0]), np.array([0.1]), np.array([0.1]))


# ---------------------------------------------------------------------------
# derivatives against finite differences

GRADS = {
    "expi": (fsp.expi, [np.array([-3.0, -0.4, 0.7, 2.5, 45.0])]),
    "exp1": (fsp.exp1, [np.array([0.3, 1.0, 1.7, 6.0])]),
    "expn": (lambda x: fsp.expn(np.array([0., 1., 2., 5.]), x),
             [np.array([0.5, 1.5, 0.8, 3.0])]),
    "dawsn": (fsp.dawsn, [np.array([-3.0, 0.1, 0.9, 4.0, 60.0])]),
    "sici": (lambda x: fsp.sici(x), [np.array([-2.0, 0.5, 3.0, 7.0])]),
    "fresnel": (lambda x: fsp.fresnel(x), [np.array([-2.0, 0.5, 1.2, 3.0])]),
    "hyp1f1": (fsp.hyp1f1, [np.array([0.5, 2.0, 3.0]), np.array([1.5, 3.0, 0.7]),
                            np.array([-2.0, 0.5, 4.0])]),
    "hyp2f1": (fsp.hyp2f1, [np.array([0.5, 2.0, 1.2]), np.array([1.5, 0.3, 0.7]),
                            np.array([2.5, 3.0, 1.9]), np.array([-1.5, 0.3, 0.6])]),
    "owens_t": (fsp.owens_t, [np.array([-1.0, 0.4, 2.0, 3.0]), np.array([0.5, -2.0, 3.0, 0.9])]),
    "bessel_jn": (lambda z: fsp.bessel_jn(z, v=3), [np.array([-4.0, 0.3, 2.0, 9.0])]),
    "wofz": (fsp.wofz, [np.array([0.3 + 0.5j, -1.0 + 2.0j, 2.0 - 0.5j])]),
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_grads(name):
    fn, args = GRADS[name]
    with fx.enable_x64():
        check_grads(fn, [fnp.asarray(a) for a in args], order=1 if name in (
            "hyp1f1", "hyp2f1") else 2, modes=("fwd", "rev"), rtol=1e-5, atol=1e-7)


def test_grads_simple_formulas():
    with fx.enable_x64():
        np.testing.assert_allclose(float(fx.grad(fsp.expi)(1.5)), math.exp(1.5) / 1.5,
                                   rtol=1e-14)
        np.testing.assert_allclose(float(fx.grad(fsp.exp1)(1.5)), -math.exp(-1.5) / 1.5,
                                   rtol=1e-14)
        np.testing.assert_allclose(float(fx.grad(lambda x: fsp.expn(3, x))(0.7)),
                                   -sps.expn(2, 0.7), rtol=1e-13)
        np.testing.assert_allclose(float(fx.grad(lambda x: fsp.sici(x)[0])(0.0)), 1.0)


# ---------------------------------------------------------------------------
# vmap against a loop, jit against eager

BATCHED = {
    "expi": (fsp.expi, [np.array([-2.0, 0.5, 30.0])]),
    "expn": (fsp.expn, [np.array([1.0, 2.0, 4.0]), np.array([0.5, 2.0, 0.1])]),
    "sici": (lambda x: fsp.sici(x)[1], [np.array([0.5, 5.0, 40.0])]),
    "fresnel": (lambda x: fsp.fresnel(x)[0], [np.array([0.5, 5.0, 40.0])]),
    "dawsn": (fsp.dawsn, [np.array([0.05, 5.0, 400.0])]),
    "hyp1f1": (fsp.hyp1f1, [np.array([0.5, 2.0, 3.0]), np.array([1.5, 3.0, 0.7]),
                            np.array([-2.0, 0.5, 25.0])]),
    "hyp2f1": (fsp.hyp2f1, [np.array([0.5, 2.0, 1.2]), np.array([1.5, 0.3, 0.7]),
                            np.array([2.5, 3.0, 1.9]), np.array([-1.5, 0.3, 0.9])]),
    "owens_t": (fsp.owens_t, [np.array([-1.0, 0.4, 2.0]), np.array([0.5, -2.0, 3.0])]),
    "wofz": (fsp.wofz, [np.array([0.3 + 0.5j, -1.0 - 2.0j, 2e5 + 1j])]),
    "bessel_jn": (lambda z: fsp.bessel_jn(z, v=2), [np.array([0.0, 1.0, 9.0])]),
    "sph_harm_y": (lambda n, m, t, p: fsp.sph_harm_y(n, m, t, p, n_max=5),
                   [np.array([1, 3, 5]), np.array([0, -2, 4]), np.array([0.3, 1.0, 2.0]),
                    np.array([0.1, 2.0, 4.0])]),
}


@pytest.mark.parametrize("name", sorted(BATCHED))
def test_vmap_and_jit(name):
    fn, args = BATCHED[name]
    with fx.enable_x64():
        arrays = [fnp.asarray(a) for a in args]
        batched = np.asarray(fx.vmap(fn)(*arrays))
        looped = np.stack([np.asarray(fn(*[a[i] for a in arrays]))
                           for i in range(len(args[0]))])
        np.testing.assert_allclose(batched, looped, rtol=1e-13, atol=1e-300)
        eager = np.asarray(fn(*arrays))
        jitted = np.asarray(fx.jit(fn)(*arrays))
        np.testing.assert_allclose(jitted, eager, rtol=1e-12, atol=1e-300)


def test_dtypes_against_jax():
    """Result dtypes and weak types as JAX's (by abstract evaluation: compiling JAX's
    versions takes tens of seconds), values against JAX where it is quick."""
    jax = pytest.importorskip("jax")
    jsp = pytest.importorskip("jax.scipy.special")
    calls = [("expi", (1.0,)), ("exp1", (1.0,)), ("expn", (2, 1.0)), ("dawsn", (1.0,)),
             ("owens_t", (1.0, 0.5)), ("hyp1f1", (1.0, 2.0, 0.5)),
             ("hyp2f1", (1.0, 1.0, 2.0, 0.5)), ("wofz", (1.0,)), ("expi", (1,)),
             ("dawsn", (np.float16(1.0),)), ("wofz", (np.float16(1.0),)),
             ("sici", (0.7,)), ("fresnel", (0.7,))]
    for name, args in calls:
        ours = fx.tree_util.tree_leaves(getattr(fsp, name)(*args))
        theirs = jax.tree_util.tree_leaves(jax.eval_shape(getattr(jsp, name), *args))
        for a, b in zip(ours, theirs, strict=True):
            assert (a.shape, a.dtype, a.aval.weak_type) == (b.shape, b.dtype, b.weak_type), name
    for name, args in (("hyp1f1", (1.0, 2.0, 0.5)), ("expn", (2, 1.0))):
        np.testing.assert_allclose(float(getattr(fsp, name)(*args)),
                                   float(getattr(jsp, name)(*args)), rtol=1e-6)
    z = jax.numpy.array([0.5, 2.0])
    b = jax.eval_shape(lambda z: jsp.bessel_jn(z, v=2), z)
    ours = fsp.bessel_jn(fnp.asarray([0.5, 2.0]), v=2)
    assert ours.shape == b.shape and ours.dtype == b.dtype  # (JAX's float32 values are NaN)
    args = (np.array([2, 3]), np.array([1, -2]), np.array([0.3, 1.0], np.float32),
            np.array([0.5, 2.0], np.float32))
    expected = jax.eval_shape(lambda *a: jsp.sph_harm_y(*a, n_max=3), *args)
    ours = fsp.sph_harm_y(*args)
    assert ours.shape == expected.shape and ours.dtype == expected.dtype
