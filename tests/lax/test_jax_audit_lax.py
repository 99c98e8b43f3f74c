"""Regression tests for mismatches with JAX 0.10 found by a differential audit of fx.lax
and the primitives' derivative rules: eager lax calls on NumPy float64/int64 operands
(canonicalised to float32/int32 unless x64 is on), Python scalar operands staying weak,
Python bool selectors, scans over NumPy float64 sequences, ``top_k``'s list result, the
derivative of ``abs`` at zero, and JAX's printed forms of the tanh and integer_pow
derivatives.

Oracles: NumPy for values; hand-derived derivatives; JAX where installed.
"""
from __future__ import annotations

import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import lax

X64 = np.arange(6.0).reshape(2, 3)  # float64, as NumPy makes it


@pytest.mark.parametrize("name, call", [
    ("div", lambda: lax.div(X64, X64 + 1)),
    ("max", lambda: lax.max(X64, X64)),
    ("sign", lambda: lax.sign(X64)),
    ("round", lambda: lax.round(X64)),
    ("integer_pow", lambda: lax.integer_pow(X64, 2)),
    ("select", lambda: lax.select(X64 > 2, X64, X64 * 2)),
    ("clamp", lambda: lax.clamp(0.0, X64, 3.0)),
    ("reduce_max", lambda: lax.reduce_max(X64, (0,))),
    ("squeeze", lambda: lax.squeeze(X64[None], (0,))),
    ("broadcast_in_dim", lambda: lax.broadcast_in_dim(X64[0], (2, 3), (1,))),
    ("sort", lambda: lax.sort(X64[0])),
    ("cumsum", lambda: lax.cumsum(X64, axis=1)),
    ("dynamic_slice", lambda: lax.dynamic_slice(X64, (1, 1), (1, 2))),
    ("pad", lambda: lax.pad(X64, 0.0, ((1, 0, 0), (0, 1, 1)))),
])
def test_eager_lax_canonicalises_numpy_float64(name, call):
    out = call()
    assert out.dtype == np.float32, name


def test_eager_lax_canonicalises_int64_and_sorts_together():
    keys, vals = lax.sort_key_val(np.array([3, 1, 2]), np.array([10.0, 20.0, 30.0]))
    assert keys.dtype == np.int32 and vals.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(keys), [1, 2, 3])
    np.testing.assert_array_equal(np.asarray(vals), [20.0, 30.0, 10.0])
    out = lax.reduce((np.arange(4.0), np.arange(4)), (0.0, 0),
                     lambda a, b: (a[0] + b[0], a[1] + b[1]), (0,))
    assert [o.dtype for o in out] == [np.float32, np.int32]
    np.testing.assert_array_equal([np.asarray(o) for o in out], [6, 6])


def test_python_scalar_operands_stay_weak():
    assert lax.add(1, 2).weak_type and lax.add(1, 2).dtype == np.int32
    assert lax.add(1.0, 2.0).weak_type
    assert lax.expm1(2.0).weak_type and lax.neg(2).weak_type
    assert not lax.add(np.float32(1), 2.0).weak_type
    np.testing.assert_allclose(np.asarray(lax.tanh(2.0)), np.tanh(2.0), rtol=1e-6)
    # a constant conversion stages nothing
    text = str(fx.make_jaxpr(lambda x: lax.max(x, lax.convert_element_type(1.0, np.float32)))(
        np.float32(0)))
    assert "convert_element_type" not in text


def test_python_bool_selector_and_scalar_reduction():
    out = lax.select_n(True, np.zeros(3, np.float32), np.ones(3, np.float32))
    np.testing.assert_array_equal(np.asarray(out), np.ones(3))
    out = lax.reduce_sum(2.0, ())
    assert out.dtype == np.float32 and float(out) == 2.0


def test_scan_over_numpy_float64_sequence():
    carry, ys = lax.scan(lambda c, x: (c + x, c * x), 0.0, np.arange(4.0))
    np.testing.assert_allclose(np.asarray(carry), 6.0)
    np.testing.assert_allclose(np.asarray(ys), [0.0, 0.0, 2.0, 9.0])
    assert ys.dtype == np.float32
    out = lax.map(lambda x: x ** 2, np.arange(4.0))
    np.testing.assert_allclose(np.asarray(out), [0.0, 1.0, 4.0, 9.0])


def test_top_k_returns_a_list():
    out = lax.top_k(np.array([1.0, 5.0, 3.0, 5.0], np.float32), 2)
    assert isinstance(out, list) and len(out) == 2
    np.testing.assert_array_equal(np.asarray(out[0]), [5.0, 5.0])
    np.testing.assert_array_equal(np.asarray(out[1]), [1, 3])


# ---------------------------------------------------------------------------
# derivative rules


def test_abs_derivative_at_zero_is_one():
    x = np.array([0.0, -0.0, -1.0, 2.0, np.nan], np.float32)
    g = fx.grad(lambda v: fnp.sum(fnp.abs(v)))(x)
    np.testing.assert_array_equal(np.asarray(g), [1.0, 1.0, -1.0, 1.0, -1.0])
    # forward mode and vmap agree with reverse mode
    _, t = fx.jvp(fnp.abs, (x,), (np.ones(5, np.float32),))
    np.testing.assert_array_equal(np.asarray(t), np.asarray(g))
    gv = fx.vmap(fx.grad(fnp.abs))(x)
    np.testing.assert_array_equal(np.asarray(gv), np.asarray(g))
    # mod's zero-remainder sign fix no longer zeroes the derivative
    g = fx.grad(lambda v: fnp.sum(fnp.mod(v, 1.0)))(np.array([0.5, -1.5, 2.0], np.float32))
    np.testing.assert_array_equal(np.asarray(g), [1.0, 1.0, 1.0])


def test_complex_abs_derivative_unchanged():
    z = np.complex64(3 + 4j)
    g = fx.grad(lambda v: fnp.abs(v) ** 2)(np.float32(2.0))
    np.testing.assert_allclose(np.asarray(g), 4.0)
    _, t = fx.jvp(fnp.abs, (z,), (np.complex64(1),))
    np.testing.assert_allclose(np.asarray(t), 3 / 5, rtol=1e-6)


def test_tanh_derivative_values():
    x = np.linspace(-3, 3, 7).astype(np.float32)
    g = fx.grad(lambda v: fnp.sum(fnp.tanh(v)))(x)
    np.testing.assert_allclose(np.asarray(g), 1 - np.tanh(x.astype(np.float64)) ** 2,
                               rtol=1e-5, atol=1e-7)
    gg = fx.grad(fx.grad(lambda v: fnp.tanh(v)))(np.float32(0.3))
    t = np.tanh(0.3)
    np.testing.assert_allclose(float(gg), -2 * t * (1 - t * t), rtol=1e-5)


@pytest.mark.parametrize("fn_name", ["tanh_grad", "square_grad", "cube_grad", "abs_grad"])
def test_derivative_jaxprs_print_as_jax(fn_name):
    jax = pytest.importorskip("jax")
    import jax.numpy as jjnp
    funcs = {
        "tanh_grad": lambda m, n: m.value_and_grad(lambda x: n.sum(n.tanh(x))),
        "square_grad": lambda m, n: m.grad(lambda w: n.sum((w * 2.0 - 1.0) ** 2)),
        "cube_grad": lambda m, n: m.grad(lambda w: n.sum(w ** 3)),
        "abs_grad": lambda m, n: m.grad(lambda w: n.sum(n.abs(w))),
    }
    x = np.ones(3, np.float32)
    expected = str(jax.make_jaxpr(funcs[fn_name](jax, jjnp))(x))
    assert str(fx.make_jaxpr(funcs[fn_name](fx, fnp))(x)) == expected


def test_lax_results_match_jax():
    jax = pytest.importorskip("jax")
    cases = [
        lambda m: m.lax.div(X64, X64 + 1), lambda m: m.lax.add(1, 2),
        lambda m: m.lax.expm1(2.0), lambda m: m.lax.sort(np.array([3.0, np.nan, -0.0, 0.0])),
        lambda m: m.lax.top_k(np.array([1.0, 5.0, 3.0]), 2)[1],
        lambda m: m.lax.scan(lambda c, x: (c + x, c * x), 0.0, np.arange(4.0))[1],
    ]
    for case in cases:
        exp, out = case(jax), case(fx)
        assert out.dtype == exp.dtype and out.shape == exp.shape
        assert bool(out.weak_type) == bool(exp.weak_type)
        np.testing.assert_array_equal(np.asarray(out), np.asarray(exp))
