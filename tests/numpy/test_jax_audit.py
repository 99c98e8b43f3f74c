"""Regression tests for mismatches with JAX 0.10 found by a differential audit of
fx.numpy: weak types of reductions, cumulative ops and predicates; var/std's ``dtype=``
and non-positive normaliser; column-major reshape/ravel; rint/square of integers and
booleans; integer remainder by zero; Python ints wrapping into narrow integer types;
the eager fast path of inexact binary functions; linspace's ``retstep``; ``zeros_like``
of weak values; out-of-range axes (an AxisError, both a ValueError and an IndexError).

Oracles: NumPy for values (and hand-derived values where NumPy differs from JAX by
design), JAX where installed for dtypes, weak types and values.
"""
from __future__ import annotations

import numpy as np
import pytest

import fx
import fx.numpy as fnp


def weak(x) -> bool:
    return bool(x.weak_type)


# ---------------------------------------------------------------------------
# reductions and cumulative ops drop the weak type (jnp.sum(3.0) is a plain float32)


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "ptp", "nansum", "nanmax",
                                  "cumsum", "cumprod", "argmax", "argmin"])
@pytest.mark.parametrize("value", [3.0, 3])
def test_reductions_of_weak_scalars_are_strong(name, value):
    out = getattr(fnp, name)(value)
    assert not weak(out)
    np.testing.assert_array_equal(np.asarray(out), getattr(np, name)(value))


def test_reduction_of_weak_tracer_is_strong_under_jit():
    out = fx.eval_shape(lambda x: fnp.sum(x * 2), 1.0)
    assert out.dtype == np.float32 and not out.weak_type
    text = str(fx.make_jaxpr(lambda x: fnp.max(x))(3.0))
    assert "convert_element_type[new_dtype=float32 weak_type=False]" in text


def test_argmax_eager_matches_abstract_weak_type():
    x = fnp.asarray(2.0)  # weak
    assert not weak(fnp.argmax(x))
    assert not fx.eval_shape(fnp.argmax, 2.0).weak_type


# ---------------------------------------------------------------------------
# var / std


@pytest.mark.parametrize("ddof", [3, 4])
def test_var_nonpositive_normaliser_is_nan(ddof):
    x = np.arange(3.0, dtype=np.float32)
    assert np.isnan(np.asarray(fnp.var(x, ddof=ddof)))
    assert np.isnan(np.asarray(fnp.std(x, ddof=ddof)))
    assert np.isnan(np.asarray(fnp.var(np.ones(3, np.float32), ddof=3)))
    np.testing.assert_allclose(np.asarray(fnp.var(x, ddof=2)), np.var(x, ddof=2))


def test_var_with_where_and_too_few_elements_is_nan():
    x = np.arange(3.0, dtype=np.float32)
    out = fnp.var(x, where=np.array([True, False, False]), ddof=1)
    assert np.isnan(np.asarray(out))


@pytest.mark.parametrize("dtype", [np.float16, fnp.bfloat16, np.complex64])
def test_var_std_dtype_argument_sets_result_dtype(dtype):
    x = np.arange(12, dtype=np.float32).reshape(3, 4) - 5
    for fn, ref in ((fnp.var, np.var), (fnp.std, np.std)):
        out = fn(x, axis=0, dtype=dtype)
        assert out.dtype == np.dtype(dtype)
        np.testing.assert_allclose(np.asarray(out).astype(np.complex128).real,
                                   ref(x, axis=0), rtol=2e-2)


def test_std_rejects_integer_dtype_and_var_of_complex_is_real():
    x = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="inexact"):
        fnp.std(x, dtype=np.int32)
    z = np.array([1 + 2j, 3 - 1j], np.complex64)
    out = fnp.var(z)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.asarray(out), np.var(z).real, rtol=1e-6)


# ---------------------------------------------------------------------------
# axes


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "max", "argmax", "argmin"])
@pytest.mark.parametrize("axis", [2, -3])
def test_out_of_range_axis_is_value_and_index_error(name, axis):
    x = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="out of bounds"):
        getattr(fnp, name)(x, axis=axis)
    with pytest.raises(IndexError):
        getattr(fnp, name)(x, axis=axis)


# ---------------------------------------------------------------------------
# cumulative ops with dtype=bool


def test_cumsum_bool_dtype_is_a_running_or():
    x = np.array([-5.0, 5.0, 0.0, 0.0], np.float32)  # running sum hits 0 at index 1
    out = fnp.cumsum(x, dtype=bool)
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(np.asarray(out), [True, True, True, True])
    out = fnp.cumprod(np.array([1.0, 2.0, 0.0, 3.0]), dtype=bool)
    np.testing.assert_array_equal(np.asarray(out), [True, True, False, False])


# ---------------------------------------------------------------------------
# reshape / ravel in column-major order


@pytest.mark.parametrize("shape", [(4, 6), (24,), (2, 2, 6), (6, -1)])
def test_reshape_order_f(shape):
    x = np.arange(24).reshape(2, 3, 4)
    np.testing.assert_array_equal(np.asarray(fnp.reshape(x, shape, order="F")),
                                  np.reshape(x, shape, order="F"))
    np.testing.assert_array_equal(np.asarray(fnp.asarray(x).reshape(shape, order="F")),
                                  np.reshape(x, shape, order="F"))


def test_ravel_order_f_and_errors():
    x = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(np.asarray(fnp.ravel(x, order="F")), np.ravel(x, order="F"))
    np.testing.assert_array_equal(np.asarray(fnp.asarray(x).flatten(order="F")),
                                  x.flatten(order="F"))
    with pytest.raises(ValueError, match="cannot reshape"):
        fnp.reshape(np.arange(6), (4, -1))
    with pytest.raises(ValueError, match="cannot reshape"):
        fnp.reshape(np.arange(6), (4,))
    with pytest.raises(ValueError, match="order"):
        fnp.reshape(np.arange(6), (2, 3), order="K")


def test_reshape_order_f_under_grad_and_vmap():
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    weights = np.arange(6.0, dtype=np.float32)
    g = fx.grad(lambda v: fnp.sum(fnp.ravel(v, order="F") * weights))(x)
    np.testing.assert_array_equal(np.asarray(g), weights.reshape(2, 3, order="F"))
    batch = np.arange(12.0, dtype=np.float32).reshape(2, 2, 3)
    out = fx.vmap(lambda v: fnp.ravel(v, order="F"))(batch)
    np.testing.assert_array_equal(np.asarray(out), [b.ravel(order="F") for b in batch])


# ---------------------------------------------------------------------------
# elementwise dtype rules


@pytest.mark.parametrize("x", [2, np.int32(2), np.array([1, 2], np.int8),
                               np.array([1, 2], np.uint32), True])
def test_rint_of_integers_is_a_strong_float(x):
    out = fnp.rint(x)
    assert out.dtype == np.float32 and not weak(out)
    np.testing.assert_array_equal(np.asarray(out), np.rint(np.asarray(x, np.float32)))


def test_square_of_booleans_is_int():
    out = fnp.square(np.array([True, False]))
    assert out.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(out), [1, 0])


def test_inexact_binary_functions_of_weak_ints_stay_float32():
    # the eager fast path used to bind atan2 on int32 operands (NumPy gave float64)
    for fn, ref in ((fnp.arctan2, np.arctan2), (fnp.nextafter, np.nextafter)):
        out = fn(fnp.asarray(2), 3)
        assert out.dtype == np.float32
        np.testing.assert_allclose(np.asarray(out), ref(np.float32(2), np.float32(3)))


def test_integer_remainder_by_zero_is_zero():
    x = np.array([-7, 7, -7, 5], np.int32)
    y = np.array([2, -2, 0, 0], np.int32)
    np.testing.assert_array_equal(np.asarray(fnp.remainder(x, y)), [1, -1, 0, 0])
    np.testing.assert_array_equal(np.asarray(fx.jit(fnp.remainder)(x, y)), [1, -1, 0, 0])
    assert weak(fnp.remainder(2, 3))


def test_python_ints_wrap_into_narrow_integer_types():
    # as JAX: a Python int must fit the default int type, then wraps
    np.testing.assert_array_equal(np.asarray(fnp.asarray(np.uint8(1)) + 300), 45)
    np.testing.assert_array_equal(np.asarray(fnp.asarray(np.int8(1)) + 1000), -23)
    np.testing.assert_array_equal(
        np.asarray(fnp.clip(np.arange(5, dtype=np.uint8), -1, 3)), [3, 3, 3, 3, 3])
    with pytest.raises(OverflowError):
        fnp.asarray(np.int8(1)) + 2**31


def test_weak_types_of_predicates_and_imag():
    assert weak(fnp.isnan(2)) and weak(fnp.isnan(2.0))
    assert not weak(fnp.isfinite(2)) and not weak(fnp.isinf(2))
    assert weak(fnp.logical_and(2, 3)) and weak(fnp.logical_not(2.0))
    assert not weak(fnp.logical_not(True))
    assert weak(fnp.imag(2.0)) and weak(fnp.imag(2))
    assert weak(fnp.angle(2j)) and not weak(fnp.angle(2.0))
    np.testing.assert_allclose(np.asarray(fnp.angle(1j, deg=True)), 90.0)


# ---------------------------------------------------------------------------
# creation


def test_linspace_retstep_is_one_step_and_samples_are_strong():
    out, step = fnp.linspace(0, 1, 5, retstep=True)
    assert step.shape == () and np.asarray(step) == np.float32(0.25)
    out, step = fnp.linspace(np.zeros(2), np.ones(2) * 4, 3, retstep=True)
    np.testing.assert_allclose(np.asarray(step), [2.0, 2.0])
    assert not weak(fnp.linspace(0, 1, 1)) and not weak(fnp.linspace(0, 1, 0))


def test_zeros_like_of_weak_value_is_weak():
    assert weak(fnp.zeros_like(3.0)) and weak(fnp.ones_like(3))
    assert not weak(fnp.zeros_like(3.0, dtype=np.float32))
    assert not weak(fnp.zeros_like(np.ones(2, np.float32)))
    np.testing.assert_array_equal(np.asarray(fnp.ones_like(3, shape=(2,))), [1, 1])


# ---------------------------------------------------------------------------
# against JAX, where installed


JAX_PROBES = [
    "jnp.sum(3.0)", "jnp.max(3)", "jnp.cumsum(3.0)", "jnp.argmax(3.0)",
    "jnp.var(np.arange(3.), ddof=4)", "jnp.var(np.arange(3.), ddof=3)",
    "jnp.var(np.arange(12, dtype=np.float32).reshape(3, 4), axis=0, dtype=jnp.float16)",
    "jnp.std(np.arange(12, dtype=np.float32).reshape(3, 4), axis=1, dtype=jnp.bfloat16)",
    "jnp.ravel(jnp.asarray(np.arange(6).reshape(2, 3)), order='F')",
    "jnp.reshape(jnp.asarray(np.arange(24).reshape(2, 3, 4)), (4, 6), order='F')",
    "jnp.rint(2)", "jnp.rint(np.array([1, 2], np.int8))", "jnp.square(np.array([True]))",
    "jnp.arctan2(jnp.asarray(2), 3)", "jnp.nextafter(jnp.asarray(2), 3)",
    "jnp.remainder(np.array([-7, 7, -7], np.int32), np.array([2, -2, 0], np.int32))",
    "jnp.asarray(np.uint8(1)) + 300", "jnp.clip(np.arange(5, dtype=np.uint8), -1, 3)",
    "jnp.isnan(2)", "jnp.logical_and(2, 3)", "jnp.logical_not(2.0)", "jnp.imag(2.0)",
    "jnp.angle(2j)", "jnp.linspace(0, 1, 1)", "jnp.zeros_like(3.0)",
    "jnp.cumsum(np.array([-5., 5., 0.], np.float32), dtype=bool)",
]


@pytest.mark.parametrize("code", JAX_PROBES)
def test_matches_jax(code):
    jax = pytest.importorskip("jax")
    import jax.numpy as jjnp
    expected = eval(code, {"jnp": jjnp, "np": np})
    out = eval(code, {"jnp": fnp, "np": np})
    exp_weak = bool(getattr(expected, "weak_type", False))
    assert out.dtype == expected.dtype and out.shape == expected.shape
    assert weak(out) == exp_weak
    np.testing.assert_allclose(np.asarray(out).astype(np.float64),
                               np.asarray(expected).astype(np.float64),
                               rtol=1e-2 if out.dtype.itemsize == 2 else 1e-6)
    del jax


def test_out_of_range_axis_kind_matches_jax():
    pytest.importorskip("jax")
    import jax.numpy as jjnp
    x = np.ones((3, 4), np.float32)
    with pytest.raises(IndexError):
        jjnp.mean(x, axis=2)
    with pytest.raises(IndexError):
        fnp.mean(x, axis=2)
