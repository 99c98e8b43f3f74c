"""Compiled ``bessel_i0e``/``bessel_i1e`` (lowering/cpu/special_math.py) at the extremes of
the float32 and float64 ranges: the asymptotic branch's ``sqrt(2 pi |x|)`` must not
overflow near the largest double (it gave 0 instead of about 3e-155).

Oracle: SciPy's ``i0e``/``i1e`` (within a few ulps); the compiled result also equals the
eager one (SciPy) to the same tolerance, and the code must not fall back to eager.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp

import fx
from fx import lax
from lowering.cpu.compile import compile as compile_native

_FUNCS = {"i0e": (lax.bessel_i0e, sp.i0e), "i1e": (lax.bessel_i1e, sp.i1e)}


def _extremes(dtype):
    big = np.finfo(dtype).max
    vals = [20.5, 1e10, 1e30, big / 1024, big / 7, big / 2, np.nextafter(big, 0), big,
            np.inf, np.nan]
    if dtype == np.float64:
        vals += [1e300, 1.7e308, 2.0 ** 1020, 2.0 ** 1023]
    vals = np.array(vals, dtype)
    return np.concatenate([vals, -vals])


def _compiled(f, x):
    with fx.enable_x64(x.dtype == np.float64):
        closed = fx.make_jaxpr(f)(x)
    exe = compile_native(closed)
    assert exe.fallbacks == [], [e.primitive.name for e in exe.fallbacks]
    return np.asarray(exe([x])[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(_FUNCS))
def test_bessel_ie_at_extremes_match_scipy(name, dtype):
    f, ref = _FUNCS[name]
    x = _extremes(dtype)
    got = _compiled(f, x)
    want = ref(x.astype(np.float64)).astype(dtype)
    assert got.dtype == np.dtype(dtype)
    finite = np.isfinite(x)
    # the huge arguments: tiny but normal results, not the zero an overflow gave
    assert (got[finite & (np.abs(x) > 1e30)] != 0).all(), got
    np.testing.assert_allclose(got[finite], want[finite], rtol=8 * np.finfo(dtype).eps,
                               atol=0)
    np.testing.assert_array_equal(np.signbit(got[finite]), np.signbit(want[finite]))
    # +-inf: 0 (of the sign of x for the odd i1e); NaN stays NaN
    inf = np.isinf(x)
    assert (got[inf] == 0).all()
    if name == "i1e":
        np.testing.assert_array_equal(np.signbit(got[inf]), np.signbit(x[inf]))
    assert np.isnan(got[np.isnan(x)]).all()


def test_bessel_i0e_largest_double_value():
    """``i0e(max) = 1 / sqrt(2 pi max) (1 + 1/(8 max) + ...)``: about 2.975e-155."""
    big = np.finfo(np.float64).max
    got = _compiled(lax.bessel_i0e, np.array([big, -big]))
    want = 1.0 / (np.sqrt(2 * np.pi) * np.sqrt(big))
    np.testing.assert_allclose(got, [want, want], rtol=4e-16)
