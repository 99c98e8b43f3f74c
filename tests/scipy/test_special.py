"""Tests of fx.scipy.special: values against SciPy (float64 tightly, float32 within
float32 accuracy), derivatives against finite differences, vmap against a Python
loop, jit against eager, dtypes and weak types against jax.scipy.special, edge
cases (poles, tails, domain ends) and the errors JAX raises.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sps
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx import nn
from fx.scipy import special as fsp
from fx.test_util import check_grads


def _grid(lo, hi, n=13, seed=0):
    rng = np.random.RandomState(seed)
    return np.sort(np.concatenate([np.linspace(lo, hi, n), rng.uniform(lo, hi, n)]))


# name -> (argument grids (float64), rtol in float64, rtol in float32, differentiable args)
UNARY = {
    "erf": ([_grid(-4, 4)], 1e-14, 2e-6, True),
    "erfc": ([_grid(-4, 9)], 1e-13, 1e-5, True),
    "erfinv": ([_grid(-0.999, 0.999)], 1e-13, 2e-5, True),
    "erfcx": ([_grid(-5, 50)], 1e-13, 1e-5, True),
    "ndtr": ([_grid(-30, 12)], 1e-13, 2e-5, True),
    "ndtri": ([np.concatenate([_grid(1e-4, 1 - 1e-4), [1e-300, 1e-50, 1e-10, 0.5]])],
              1e-13, 2e-5, True),
    "log_ndtr": ([_grid(-60, 40)], 1e-10, 1e-5, True),
    "expit": ([_grid(-30, 30)], 1e-14, 1e-6, True),
    "logit": ([_grid(1e-4, 1 - 1e-4)], 1e-12, 1e-4, True),
    "gammaln": ([np.concatenate([_grid(0.05, 40), _grid(-4.9, -0.1, 5) + 1e-3])], 1e-12,
                1e-5, True),
    "gamma": ([np.concatenate([_grid(0.05, 20), [-0.5, -1.5, -2.5, -3.3]])], 1e-12, 2e-5,
              True),
    "gammasgn": ([np.array([-3.5, -2.5, -1.5, -0.5, 0.5, 3.0, -0.0, 0.0, -1., -2., np.inf,
                            -np.inf, np.nan])], 0, 0, False),
    "loggamma": ([np.array([-1.5, -0.5, 0.5, 3., 10.])], 1e-12, 1e-5, False),
    "digamma": ([np.concatenate([_grid(0.05, 30), [-0.5, -1.5]])], 1e-12, 1e-5, True),
    "entr": ([np.concatenate([_grid(0.0, 5), [-1.0]])], 1e-14, 1e-6, True),
    "i0e": ([_grid(-60, 60, 21)], 1e-13, 2e-6, True),
    "i1e": ([_grid(-60, 60, 21)], 1e-13, 2e-6, True),
    "i0": ([_grid(-30, 30)], 1e-13, 2e-6, True),
    "i1": ([_grid(-30, 30)], 1e-13, 2e-6, True),
    "spence": ([np.concatenate([_grid(0, 10), [0.5, 1.0, 1.5, 2.0, 1e4, 1e-9]])], 1e-13,
               2e-6, True),
    "factorial": ([np.concatenate([np.arange(0., 15), [-1., 2.5]])], 1e-12, 1e-5, False),
}

BINARY = {
    "xlogy": ([np.array([0., 0., 1., 2.5, -1.]), np.array([0., 2., 3., 0.5, 4.])], 1e-14,
              1e-6),
    "xlog1py": ([np.array([0., 0., 1., 2.5, -1.]), np.array([-1., 2., 3., 0.5, 1e-9])], 1e-14,
                1e-6),
    "betaln": ([_grid(0.1, 50, 7, 1), _grid(0.1, 500, 7, 2)], 1e-12, 1e-5),
    "beta": ([_grid(0.1, 10, 7, 1), _grid(0.1, 10, 7, 2)], 1e-12, 1e-5),
    "gammainc": ([_grid(0.1, 20, 7, 3), _grid(0.0, 25, 7, 4)], 1e-11, 1e-5),
    "gammaincc": ([_grid(0.1, 20, 7, 3), _grid(0.0, 25, 7, 4)], 1e-11, 1e-5),
    "zeta": ([_grid(1.1, 10, 7, 5), _grid(0.1, 5, 7, 6)], 1e-12, 1e-5),
    "rel_entr": ([np.array([0., 0., 1., 2., -1., 1.]), np.array([0., 1., 2., 0.5, 1., 0.])],
                 1e-14, 1e-6),
    "kl_div": ([np.array([0., 0., 1., 2., -1., 1.]), np.array([0., 1., 2., 0.5, 1., 0.])],
               1e-14, 1e-6),
    "boxcox": ([_grid(0.1, 5, 7, 7), np.array([-2, -1, -0.5, 0, 0.5, 1, 2.] * 2)], 1e-12,
               1e-5),
    "boxcox1p": ([_grid(-0.9, 5, 7, 7), np.array([-2, -1, -0.5, 0, 0.5, 1, 2.] * 2)], 1e-12,
                 1e-5),
    "poch": ([_grid(0.5, 5, 7, 8), np.array([0., 1., 2.5, 3., -0.5, 1.5, 4.] * 2)], 1e-12,
             1e-5),
}


def _fx(name, args):
    return getattr(fsp, name)(*[fnp.asarray(a) for a in args])


@pytest.mark.parametrize("name", sorted(UNARY) + sorted(BINARY))
def test_values_float64(name):
    args, rtol, _, *_ = (UNARY.get(name) or BINARY[name])
    if len(args) == 2:
        args = np.broadcast_arrays(*args)
    with fx.enable_x64():
        out = np.asarray(_fx(name, args))
    expected = getattr(sps, name)(*args)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, expected, rtol=rtol, atol=1e-300 if rtol else 0,
                               equal_nan=True)


@pytest.mark.parametrize("name", sorted(UNARY) + sorted(BINARY))
def test_values_float32(name):
    args, _, rtol32, *_ = (UNARY.get(name) or BINARY[name])
    args32 = [a.astype(np.float32) for a in args]
    keep = np.ones(np.broadcast_shapes(*[a.shape for a in args32]), bool)
    for a in args32:  # points outside float32's range (e.g. ndtri(1e-300)) are skipped
        keep &= np.isfinite(a) | ~np.isfinite(a)  # (all kept; float32 flushes tiny to 0)
    out = np.asarray(getattr(fsp, name)(*args32))
    assert out.dtype == np.float32
    expected = getattr(sps, name)(*[a.astype(np.float64) for a in args32])
    with np.errstate(over="ignore"):
        representable = np.abs(expected) < np.finfo(np.float32).max
    tiny = np.finfo(np.float32).tiny
    np.testing.assert_allclose(out[representable], expected[representable], rtol=rtol32,
                               atol=tiny * 1e3, equal_nan=True)


def test_betainc_values():
    rng = np.random.RandomState(0)
    a = np.concatenate([rng.uniform(0.1, 5, 20), [0.5, 2, 50, 300, 1000.]])
    b = np.concatenate([rng.uniform(0.1, 5, 20), [0.3, 5, 40, 700, 900.]])
    x = np.concatenate([rng.uniform(0, 1, 20), [0.999, 1e-3, 0.55, 0.3, 0.52]])
    with fx.enable_x64():
        out = np.asarray(fsp.betainc(fnp.asarray(a), fnp.asarray(b), fnp.asarray(x)))
    np.testing.assert_allclose(out, sps.betainc(a, b, x), rtol=1e-11, atol=1e-300)
    out32 = np.asarray(fsp.betainc(a[:20].astype(np.float32), b[:20].astype(np.float32),
                                   x[:20].astype(np.float32)))
    np.testing.assert_allclose(out32, sps.betainc(a[:20].astype(np.float32),
                                                  b[:20].astype(np.float32),
                                                  x[:20].astype(np.float32)),
                               rtol=5e-5, atol=1e-6)
    # domain ends
    ends = np.asarray(fsp.betainc(np.array([2., 2., 2., -1.]), np.array([3., 3., 3., 1.]),
                                  np.array([0., 1., 1.5, 0.5])))
    np.testing.assert_array_equal(ends[:2], [0., 1.])
    assert np.all(np.isnan(ends[2:]))


def test_polygamma_multigammaln_bernoulli():
    n = np.array([0, 1, 2, 3, 4])
    x = np.array([0.5, 1.3, 2.0, 5.5, 10.])
    with fx.enable_x64():
        np.testing.assert_allclose(np.asarray(fsp.polygamma(fnp.asarray(n), fnp.asarray(x))),
                                   sps.polygamma(n, x), rtol=1e-10)
        for d in (1, 2, 5):
            a = np.array([3.0, 4.5, 10.])
            np.testing.assert_allclose(np.asarray(fsp.multigammaln(fnp.asarray(a), d)),
                                       [sps.multigammaln(v, d) for v in a], rtol=1e-12)
        np.testing.assert_allclose(np.asarray(fsp.comb(fnp.asarray([5., 10., 3.]),
                                                       fnp.asarray([2., 3., 5.]))),
                                   sps.comb([5., 10., 3.], [2., 3., 5.]), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(fsp.comb(5., 2., repetition=True)),
                                   sps.comb(5, 2, repetition=True), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(fsp.bernoulli(12)), sps.bernoulli(12), rtol=1e-6,
                               atol=1e-7)
    with pytest.raises(ValueError, match="integer"):
        fsp.polygamma(1.0, 2.0)


def test_logsumexp_softmax_are_shared():
    assert fsp.logsumexp is nn.logsumexp
    x = np.random.RandomState(0).randn(2, 3)
    with fx.enable_x64():
        np.testing.assert_allclose(np.asarray(fsp.softmax(fnp.asarray(x))),
                                   sps.softmax(x), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(fsp.log_softmax(fnp.asarray(x), axis=1)),
                                   sps.log_softmax(x, axis=1), rtol=1e-12)
        out, sign = fsp.logsumexp(fnp.asarray(x), axis=0, b=-1.0, return_sign=True)
        ref, ref_sign = sps.logsumexp(x, axis=0, b=-1.0, return_sign=True)
        np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-12)
        np.testing.assert_array_equal(np.asarray(sign), ref_sign)


# ---------------------------------------------------------------------------
# derivatives

GRAD_POINTS = {
    "erf": [np.array([-1.3, 0.2, 2.1])], "erfc": [np.array([-1.3, 0.2, 2.1])],
    "erfinv": [np.array([-0.9, 0.1, 0.7])], "erfcx": [np.array([-1.5, 0.4, 1.9, 2.1, 8.])],
    "ndtr": [np.array([-8., -1., 0.5, 3.])], "ndtri": [np.array([1e-3, 0.03, 0.4, 0.9])],
    "log_ndtr": [np.array([-30., -10.5, -3., 0.5, 6.])], "expit": [np.array([-3., 0.2, 4.])],
    "logit": [np.array([0.05, 0.5, 0.9])], "gammaln": [np.array([0.3, 2.5, 11.])],
    "gamma": [np.array([-0.5, 0.7, 4.2])], "digamma": [np.array([0.4, 3.3])],
    "entr": [np.array([0.2, 1.0, 3.])], "i0e": [np.array([-25., -3., 0.4, 7., 30.])],
    "i1e": [np.array([-25., -3., 0.4, 7., 30.])], "i0": [np.array([-4., 0.3, 6.])],
    "i1": [np.array([-4., 0.3, 6.])], "spence": [np.array([0.2, 0.7, 1.3, 1.7, 4.])],
    "xlogy": [np.array([0.5, 2.]), np.array([0.3, 4.])],
    "xlog1py": [np.array([0.5, 2.]), np.array([0.3, 4.])],
    "betaln": [np.array([0.5, 3., 12.]), np.array([2., 9., 30.])],
    "gammainc": [np.array([0.7, 3.]), np.array([0.5, 2.])],
    "gammaincc": [np.array([0.7, 3.]), np.array([0.5, 2.])],
    "rel_entr": [np.array([0.5, 2.]), np.array([0.3, 4.])],
    "boxcox": [np.array([0.5, 2.]), np.array([0.3, -1.])],
}


@pytest.mark.parametrize("name", sorted(GRAD_POINTS))
def test_grads_match_finite_differences(name):
    args = GRAD_POINTS[name]
    # (igamma's derivative in a has no derivative of its own, as in JAX)
    order = 1 if name in ("gammainc", "gammaincc") else 2
    with fx.enable_x64():
        check_grads(getattr(fsp, name), [fnp.asarray(a) for a in args], order=order,
                    modes=("fwd", "rev"), atol=1e-5, rtol=1e-5)


def test_zeta_grad_in_q_only():
    with fx.enable_x64():
        check_grads(lambda q: fsp.zeta(fnp.asarray([2.5, 4.]), q), [fnp.asarray([0.7, 2.])],
                    order=2)
        with pytest.raises(NotImplementedError):
            fx.grad(lambda x: fsp.zeta(x, 2.0))(2.5)


def test_betainc_grad_x_only():
    a, b, x = np.array([0.7, 2., 8.]), np.array([1.5, 3., 4.]), np.array([0.2, 0.5, 0.9])
    with fx.enable_x64():
        check_grads(lambda x_: fsp.betainc(fnp.asarray(a), fnp.asarray(b), x_),
                    [fnp.asarray(x)], order=1)
        with pytest.raises(ValueError, match="a and b"):
            fx.grad(lambda a_: fsp.betainc(a_, 2., 0.5))(1.0)


def test_special_derivative_values():
    # analytic derivatives at points where finite differences are awkward
    with fx.enable_x64():
        assert float(fx.grad(fsp.i1e)(0.0)) == pytest.approx(0.5)
        assert float(fx.grad(fsp.spence)(1.0)) == pytest.approx(-1.0)
        assert float(fx.grad(fsp.ndtri)(0.5)) == pytest.approx(np.sqrt(2 * np.pi))
        g = fx.grad(fsp.xlogy, argnums=0)(0.0, 2.0)
        assert float(g) == pytest.approx(np.log(2.0))
        assert float(fx.grad(fsp.log_ndtr)(-100.)) == pytest.approx(100.01, rel=1e-3)


# ---------------------------------------------------------------------------
# transformations


@pytest.mark.parametrize("name", ["betainc", "i0e", "i1e", "spence", "ndtri", "log_ndtr",
                                  "erfcx", "betaln", "gammasgn"])
def test_vmap_and_jit(name, harness):
    rng = np.random.RandomState(1)
    if name == "betainc":
        args = [rng.uniform(0.5, 4, (3, 4)), rng.uniform(0.5, 4, (3, 4)),
                rng.uniform(0, 1, (3, 4))]
    elif name == "betaln":
        args = [rng.uniform(0.5, 30, (3, 4)), rng.uniform(0.5, 30, (3, 4))]
    elif name == "ndtri":
        args = [rng.uniform(0, 1, (3, 4))]
    else:
        args = [rng.uniform(-25, 25, (3, 4)) if name != "spence" else rng.uniform(0, 5, (3, 4))]
    args = [a.astype(np.float32) for a in args]
    fn = getattr(fsp, name)
    harness.check_vmap(fn, args, [1] * len(args), rtol=1e-6, atol=1e-6)
    harness.check_vmap(fn, args, [0] + [None] * (len(args) - 1), rtol=1e-6, atol=1e-6)
    harness.check_jit(fn, args, rtol=1e-6, atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(shapes=st.sampled_from([((3,), (3,)), ((2, 1), (1, 3)), ((), (4,)), ((2, 3), ())]),
       name=st.sampled_from(["xlogy", "betaln", "gammainc", "zeta", "kl_div", "boxcox1p"]))
def test_binary_broadcasting(shapes, name):
    rng = np.random.RandomState(len(shapes[0]) + 3)
    a = rng.uniform(0.5, 3, shapes[0])
    b = rng.uniform(0.5, 3, shapes[1])
    if name == "zeta":
        a = a + 1
    with fx.enable_x64():
        out = np.asarray(getattr(fsp, name)(fnp.asarray(a), fnp.asarray(b)))
    expected = getattr(sps, name)(a, b)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out, expected, rtol=1e-11)


# ---------------------------------------------------------------------------
# agreement with JAX (dtypes, weak types, values)


def test_dtypes_match_jax(jax):
    """Result dtypes and weak types as jax.scipy.special's (from jax.eval_shape, which
    gives JAX's types without compiling; values are checked against SciPy above), and
    the same TypeErrors/ValueErrors for the argument kinds JAX rejects."""
    import jax.numpy as jnp
    import jax.scipy.special as jsp
    failures = []
    for name in sorted(UNARY) + sorted(BINARY) + ["betainc"]:
        if name in UNARY:
            arg_sets = [[UNARY[name][0][0][:6].astype(np.float32)], [0.5], [2]]
        elif name in BINARY:
            a, b = BINARY[name][0]
            arg_sets = [[a[:5].astype(np.float32), b[:5].astype(np.float32)], [0.5, 2.0],
                        [a[:5].astype(np.float32), 2]]
        else:
            arg_sets = [[np.float32(2.), np.float32(3.), np.array([0.2, 0.7], np.float32)],
                        [2., 3., 0.4]]
        for args in arg_sets:
            ctx = f"{name}{tuple(type(a).__name__ for a in args)}"
            try:
                expected = jax.eval_shape(getattr(jsp, name), *[
                    jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args])
            except (TypeError, ValueError) as e:
                with pytest.raises(type(e)):
                    getattr(fsp, name)(*args)
                continue
            out = getattr(fsp, name)(*args)
            if (out.dtype, out.weak_type, out.shape) != (expected.dtype, expected.weak_type,
                                                         expected.shape):
                failures.append((ctx, (out.dtype, out.weak_type),
                                 (expected.dtype, expected.weak_type)))
    assert not failures, failures


def test_values_match_jax(jax):
    """A few values against jax.scipy.special itself (float32 on both sides)."""
    import jax.numpy as jnp
    import jax.scipy.special as jsp
    x = np.array([0.1, 0.7, 2.5, 9.0], np.float32)
    for name, args in [("i0e", (x,)), ("spence", (x,)), ("betainc", (x, x[::-1], x / 10)),
                       ("ndtri", (x / 10,)), ("log_ndtr", (-x * 3,))]:
        expected = getattr(jsp, name)(*[jnp.asarray(a) for a in args])
        out = getattr(fsp, name)(*args)
        np.testing.assert_allclose(np.asarray(out), np.asarray(expected), rtol=2e-5,
                                   atol=1e-6, err_msg=name)


# ---------------------------------------------------------------------------
# edge cases and errors


def test_edge_cases():
    nd = np.asarray(fsp.ndtri(np.array([0., 1., -0.1, 1.1, np.nan], np.float32)))
    assert nd[0] == -np.inf and nd[1] == np.inf and np.all(np.isnan(nd[2:]))
    assert np.asarray(fsp.log_ndtr(np.float32(50.))) == pytest.approx(0.0, abs=1e-30)
    assert np.isfinite(np.asarray(fsp.log_ndtr(np.float32(-1e4))))
    assert float(fsp.xlogy(0., 0.)) == 0.0 and float(fsp.xlog1py(0., -1.)) == 0.0
    assert np.isnan(float(fsp.xlogy(0., np.nan)))
    assert float(fsp.entr(-1.)) == -np.inf and float(fsp.entr(0.)) == 0.0
    assert np.isnan(float(fsp.spence(-1.)))
    assert float(fsp.spence(0.)) == pytest.approx(np.pi ** 2 / 6)
    assert float(fsp.gammasgn(-0.0)) == -1.0


def test_errors():
    with pytest.raises(TypeError, match="dtype"):
        fsp.ndtri(np.array([1, 2]))
    with pytest.raises(TypeError, match="dtype"):
        fsp.spence(np.array([1, 2]))
    with pytest.raises(TypeError, match="series_order"):
        fsp.log_ndtr(np.float32(1.), series_order=2.0)
    with pytest.raises(ValueError, match="series_order"):
        fsp.log_ndtr(np.float32(1.), series_order=31)
    with pytest.raises(NotImplementedError):
        fsp.zeta(2.0)
    with pytest.raises(NotImplementedError):
        fsp.factorial(3, exact=True)
    with pytest.raises(ValueError, match="d must be positive"):
        fsp.multigammaln(2.0, 0)
    with pytest.raises(ValueError, match="complex"):
        fsp.gammaln(np.array([1j], np.complex64))
    with pytest.raises(TypeError):
        fsp.erf("x")
    with pytest.raises(ValueError, match="non-negative"):
        fsp.bernoulli(-1)
