"""lgamma and digamma compiled natively (lowering/cpu/special_math.py): accuracy in ulp
against mpmath (the exact values; SciPy's own gammaln is thousands of ulp off next to
the zeros at 1 and 2) over wide ranges and next to the zeros, absolute accuracy where
the reflection formula cancels (next to the negative zeros, as SciPy's), and the eager
impls' special values (poles, zeros, infinities, NaN) exactly. float64 is XLA's Lanczos
approximation (JAX's bits, tests/lowering/test_xla_float64_more.py): held to its own
bounds, absolute next to the zeros."""
from __future__ import annotations

import numpy as np
import pytest

import fx
from fx import lax
from fx.core import eval_jaxpr
from lowering.cpu.compile import compile as compile_native

mpmath = pytest.importorskip("mpmath")
F32, F64 = np.float32, np.float64


def _points(dtype, n=1500):
    rng = np.random.default_rng(0)
    hi = 3e38 if dtype == F32 else 1e307
    lo = 1e-37 if dtype == F32 else 1e-300
    positive = np.concatenate([
        np.geomspace(lo, hi, n), rng.uniform(0, 12, n),
        1 + rng.uniform(-1e-3, 1e-3, n // 4), 2 + rng.uniform(-1e-3, 1e-3, n // 4),
        1.4616321449683622 + rng.uniform(-1e-4, 1e-4, n // 4),  # digamma's root
        [0.5, 1.5, 2.5, 8.0, 10.0, 1.0, 2.0, 1e-310 if dtype == F64 else 1e-40]])
    negative = np.concatenate([-rng.uniform(0, 30, n), -np.geomspace(1e-30, 1e6, n // 4)])
    negative = negative.astype(dtype)
    return positive.astype(dtype), negative[negative != np.round(negative)]


def _compiled(fn, x):
    with fx.enable_x64():
        closed = fx.make_jaxpr(fn)(x)
        exe = compile_native(closed, bounds_check=True)
        assert exe.fallbacks == [], exe.fallbacks
        return exe([x])[0], eval_jaxpr(closed.jaxpr, closed.consts, x)[0]


def _exact(name, xs):
    """(value, magnitude of the reflection's terms) at each point, from mpmath."""
    mpmath.mp.prec = 113
    values, scales = [], []
    for v in xs.astype(np.float64):
        x = mpmath.mpf(float(v))
        if name == "lgamma":
            val = mpmath.re(mpmath.loggamma(x))
            scale = abs(val) if x > 0 else abs(mpmath.re(mpmath.loggamma(1 - x))) + abs(
                mpmath.log(mpmath.pi / abs(mpmath.sin(mpmath.pi * x))))
        else:
            val = mpmath.digamma(x)
            scale = abs(val) if x > 0 else abs(mpmath.digamma(1 - x)) + abs(
                mpmath.pi * mpmath.cot(mpmath.pi * x))
        values.append(float(val))
        scales.append(float(scale))
    return np.array(values), np.array(scales)


def _ulps(got, want, dtype):
    spacing = np.maximum(np.spacing(np.abs(want).astype(dtype)).astype(np.float64),
                         np.finfo(dtype).smallest_subnormal)
    return np.abs(got.astype(np.float64) - want) / spacing


@pytest.mark.parametrize("name", ["lgamma", "digamma"])
@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
def test_accuracy_against_mpmath(name, dtype):
    fn = getattr(lax, name)
    positive, negative = _points(dtype)
    if dtype == F64:
        # XLA's float64 log reads subnormal operands as zero (JAX: lgamma(1e-310) = inf),
        # and fx's compiled lgamma is built on it: checked apart
        sub = positive < np.finfo(dtype).tiny
        got, _ = _compiled(fn, positive[sub])
        assert np.all(np.isposinf(got) if name == "lgamma" else ~np.isfinite(got)), got
        positive = positive[~sub]
    got, _ = _compiled(fn, positive)
    want, _ = _exact(name, positive)
    finite = np.isfinite(want) & (np.abs(want) < np.finfo(dtype).max)
    assert np.array_equal(np.isfinite(got), finite), positive[np.isfinite(got) != finite][:5]
    if dtype == F64:
        # XLA's float64 Lanczos approximation (JAX's bits): absolute accuracy next to the
        # zeros at 1 and 2, relative elsewhere
        err = np.abs(got[finite] - want[finite]) / np.maximum(1.0, np.abs(want[finite]))
        worst = int(np.argmax(err))
        assert err.max() <= 2e-14, f"{err.max():.3g} at {positive[finite][worst]!r}"
    else:
        err = _ulps(got[finite], want[finite], dtype)
        worst = int(np.argmax(err))
        assert err.max() <= 1.0, f"{err.max():.2f} ulp at {positive[finite][worst]!r}"
    # negative operands: the reflection's two terms cancel next to the zeros; the error
    # is a few ulp of the larger term (as SciPy's; float64: XLA's rounds pi x first, so
    # the reflection's term is off by its slope times an ulp of pi x)
    got, _ = _compiled(fn, negative)
    want, scale = _exact(name, negative)
    eps = np.finfo(dtype).eps
    limit = 4 * eps * scale + np.spacing(np.abs(want).astype(dtype))
    if dtype == F64:
        slope = np.pi * (np.abs(1 / np.tan(np.pi * negative)) if name == "lgamma" else
                         np.pi / np.sin(np.pi * negative) ** 2)
        limit = 2e-14 * np.maximum(1.0, scale) + 2 * slope * np.spacing(np.abs(negative))
    over = np.abs(got.astype(np.float64) - want) > limit
    assert not over.any(), (negative[over][:5], got[over][:5], want[over][:5])


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
def test_special_values_as_eager(dtype):
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, 2.0, -1.0, -2.0, -7.0, -1e20,
                  1e-45, 3e38, -3e38, 0.5, -0.5], dtype)
    for fn in (lax.lgamma, lax.digamma):
        got, want = _compiled(fn, x)
        want = np.asarray(want)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        inf = np.isinf(want)
        np.testing.assert_array_equal(got[inf], want[inf])
        np.testing.assert_allclose(got[~inf], want[~inf], rtol=4 * np.finfo(dtype).eps,
                                   atol=0)


def test_fused_with_neighbours():
    """A log-likelihood-like chain with lgamma/digamma fuses into one native loop."""
    x = np.linspace(0.1, 30, 4096).astype(np.float32)

    def f(a):
        return lax.lgamma(a + 1.0) - a * lax.digamma(a) + lax.log(a)
    closed = fx.make_jaxpr(f)(x)
    exe = compile_native(closed, bounds_check=True)
    assert exe.fallbacks == []
    np.testing.assert_allclose(exe([x])[0], eval_jaxpr(closed.jaxpr, closed.consts, x)[0],
                               rtol=1e-5, atol=1e-5)
