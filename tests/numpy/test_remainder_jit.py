"""``fx.numpy.remainder`` as JAX's ``jit[name=remainder]``: integer programs print as
JAX's (x % 0 is x % 1, the sign fix by a select), float programs as JAX's followed by
fx's signed-zero fix; values against NumPy (negative operands, zero divisors, -0.0,
infinities, NaN) eagerly, under jit and under vmap (a loop over the batch); derivatives
by finite differences; ``take(mode="wrap")`` prints as JAX's."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import fx
import fx.numpy as fnp
from fx.test_util import check_grads

INTS = ["int8", "int16", "int32", "uint8", "uint32"]
SHAPES = [((), ()), ((3,), ()), ((), (4,)), ((2, 3), (3,)), ((2, 1), (1, 3))]


def _jax():
    return pytest.importorskip("jax")


def _ints(dtype, shape, rng):
    info = np.iinfo(dtype)
    lo, hi = max(info.min, -9), min(info.max, 9)
    return np.asarray(rng.integers(lo, hi + 1, size=shape), dtype)


def _numpy_remainder(x, y):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return np.remainder(x, y)


@settings(max_examples=25, deadline=None)
@given(hs.sampled_from(INTS), hs.sampled_from(SHAPES), hs.integers(0, 99))
def test_integer_jaxpr_is_jax(dtype, shapes, seed):
    jax, jnp = _jax(), pytest.importorskip("jax.numpy")
    rng = np.random.default_rng(seed)
    x, y = _ints(dtype, shapes[0], rng), _ints(dtype, shapes[1], rng)
    assert str(fx.make_jaxpr(fnp.remainder)(x, y)) == str(jax.make_jaxpr(jnp.remainder)(x, y))


@pytest.mark.parametrize("x, y", [(5, 3), (True, np.bool_(True)),
                                  (np.arange(3, dtype=np.int32), 2),
                                  (np.arange(4, dtype=np.int8), np.int16(3)),
                                  (np.int32(-7), np.arange(-2, 2, dtype=np.int32))],
                         ids=["pyints", "bools", "weak_divisor", "mixed", "zero_divisor"])
def test_integer_jaxpr_types_and_values_are_jax(x, y):
    jax, jnp = _jax(), pytest.importorskip("jax.numpy")
    assert str(fx.make_jaxpr(fnp.remainder)(x, y)) == str(jax.make_jaxpr(jnp.remainder)(x, y))
    want = jnp.remainder(x, y)
    for got in (fnp.remainder(x, y), fx.jit(fnp.remainder)(x, y)):
        assert got.dtype == want.dtype and got.aval.weak_type == want.aval.weak_type
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize("x, y", [(np.float32(1), np.float32(2)),
                                  (np.arange(3.0, dtype=np.float32), 2.0), (5.0, -3)],
                         ids=["f32", "weak_divisor", "pyfloat"])
def test_float_jaxpr_is_jax_then_signed_zero(x, y):
    jax, jnp = _jax(), pytest.importorskip("jax.numpy")
    ours = fx.make_jaxpr(fnp.remainder)(x, y).jaxpr
    theirs = jax.make_jaxpr(jnp.remainder)(x, y).jaxpr
    (eqn,), (jeqn,) = ours.eqns, theirs.eqns
    assert eqn.primitive.name == jeqn.primitive.name == "jit"
    assert eqn.params["name"] == jeqn.params["name"] == "remainder"
    inner = [e.primitive.name for e in eqn.params["jaxpr"].jaxpr.eqns]
    jinner = [e.primitive.name for e in jeqn.params["jaxpr"].jaxpr.eqns]
    assert inner == jinner + ["eq", "abs", "sign", "mul", "jit"]
    # JAX's equations, with the same operand and result types
    def types(vs):
        return [(tuple(v.aval.shape), np.dtype(v.aval.dtype).name) for v in vs]

    for e, je in zip(eqn.params["jaxpr"].jaxpr.eqns, jeqn.params["jaxpr"].jaxpr.eqns):
        assert types(e.invars) == types(je.invars) and types(e.outvars) == types(je.outvars)
    assert types(ours.outvars) == types(theirs.outvars)


def _float_grid(dtype):
    vals = np.array([-7.5, -3.0, -1.0, -0.0, 0.0, 0.5, 1.0, 3.0, 7.25, np.inf, -np.inf,
                     np.nan], dtype)
    return np.meshgrid(vals, vals, indexing="ij")


def _same_floats(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)  # NaN where NaN
    np.testing.assert_array_equal(np.signbit(got[got == 0]), np.signbit(want[want == 0]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_values_are_numpy(dtype):
    x, y = _float_grid(dtype)
    want = _numpy_remainder(x, y)
    with fx.enable_x64(dtype == np.float64), np.errstate(invalid="ignore"):
        _same_floats(fnp.remainder(x, y), want)
        _same_floats(fx.jit(fnp.remainder)(x, y), want)
        _same_floats(x % fnp.asarray(y), want)


@settings(max_examples=25, deadline=None)
@given(hs.sampled_from(INTS + ["bool"]), hs.sampled_from(SHAPES), hs.integers(0, 99))
def test_integer_values_are_numpy(dtype, shapes, seed):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        x, y = (rng.integers(0, 2, size=s).astype(bool) for s in shapes)
        want = _numpy_remainder(x.astype(np.int32), y.astype(np.int32))
    else:
        x, y = _ints(dtype, shapes[0], rng), _ints(dtype, shapes[1], rng)
        want = _numpy_remainder(x, y)  # x % 0 is 0 in NumPy, and x % 1 = 0 in JAX
    for got in (fnp.remainder(x, y), fx.jit(fnp.remainder)(x, y)):
        np.testing.assert_array_equal(np.asarray(got), want)
        assert np.asarray(got).dtype == want.dtype


def test_integer_extremes():
    x = np.array([-128, -128, 127, -1, 0], np.int8)
    y = np.array([-1, 0, -128, -128, -128], np.int8)
    want = np.array([0, 0, -1, -1, 0], np.int8)  # -128 % -1 is 0 (no overflow)
    np.testing.assert_array_equal(np.asarray(fnp.remainder(x, y)), want)
    np.testing.assert_array_equal(np.asarray(fx.jit(fnp.remainder)(x, y)), want)


def test_vmap_is_a_loop():
    rng = np.random.default_rng(0)
    x = rng.integers(-9, 10, size=(4, 5)).astype(np.int32)
    y = rng.integers(-3, 4, size=(4,)).astype(np.int32)
    got = fx.vmap(fnp.remainder)(x, y)
    want = np.stack([np.asarray(fnp.remainder(a, b)) for a, b in zip(x, y)])
    np.testing.assert_array_equal(np.asarray(got), want)
    xf, yf = x.astype(np.float32) + 0.25, y.astype(np.float32)
    gotf = fx.vmap(fnp.remainder, in_axes=(1, None))(xf, yf[1])
    wantf = np.stack([np.asarray(fnp.remainder(xf[:, j], yf[1])) for j in range(5)])
    _same_floats(gotf, wantf)


def test_grads():
    x = np.array([5.3, -2.2, 7.9, -0.6])
    y = np.array([2.0, 1.5, -3.1, -0.25])
    with fx.enable_x64():
        check_grads(fnp.remainder, (x, y), order=2, modes=("fwd", "rev"))


def test_take_wrap_prints_as_jax():
    jax, jnp = _jax(), pytest.importorskip("jax.numpy")
    x, i = np.arange(10, dtype=np.int32), np.array([-12, 3, 11, 25], np.int32)
    ours = fx.make_jaxpr(lambda a, b: fnp.take(a, b, mode="wrap"))(x, i)
    theirs = jax.make_jaxpr(lambda a, b: jnp.take(a, b, mode="wrap"))(x, i)
    assert str(ours) == str(theirs)
    np.testing.assert_array_equal(np.asarray(fnp.take(x, i, mode="wrap")),
                                  np.take(x, i, mode="wrap"))
