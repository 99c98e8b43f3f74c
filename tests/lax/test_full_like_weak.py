"""``fx.lax.full_like``/``full`` weak types (fx/lax/_lax.py) and the small type fixes of
fx.numpy that depend on them.

``full_like(x, v)`` is weakly typed exactly when ``dtype`` is None and ``x`` is weak, as
JAX's; values against NumPy's ``full``; the result is an ``fx.Array`` even for a NumPy
fill and shape (); jit against eager, vmap against a loop, derivatives in the fill value
against finite differences. With JAX: result types and values for every combination of a
weak or strong ``x``, a Python, NumPy or array fill, a given dtype and a given shape, and
the printed jaxprs of traced weak and strong operands. ``jnp.signbit`` of a complex array
raises JAX's ValueError; ``jnp.remainder`` keeps weak integer operands weak.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx import lax
from fx.lax import _lax as lax_impl
from fx.test_util import check_grads


# x: (maker for fx, maker for JAX, whether x is weakly typed)
XS = {
    "py_float": (lambda m: 1.5, True),
    "py_int": (lambda m: 3, True),
    "np_f32_scalar": (lambda m: np.float32(1.5), False),
    "np_i32_array": (lambda m: np.arange(4, dtype=np.int32), False),
    "weak_array": (lambda m: m.lax.mul(2.5, 1.0), True),
    "strong_array": (lambda m: m.numpy.ones((2, 2), m.numpy.float32), False),
}
FILLS = {
    "py_int": lambda m: 2,
    "py_float": lambda m: 2.5,
    "np_f32": lambda m: np.float32(2.0),
    "np_0d_i32": lambda m: np.array(3, np.int32),
    "strong_0d": lambda m: m.numpy.asarray(np.float32(4.0)),
}
DTYPES = {"None": None, "float32": np.float32, "int32": np.int32}
SHAPES = {"like": None, "2x3": (2, 3)}


def _expected_weak(x_weak, dtype):
    return dtype is None and x_weak


# ---------------------------------------------------------------------------
# without JAX


@pytest.mark.parametrize("x_name", sorted(XS))
@pytest.mark.parametrize("fill_name", sorted(FILLS))
@pytest.mark.parametrize("dtype_name", sorted(DTYPES))
@pytest.mark.parametrize("shape_name", sorted(SHAPES))
def test_full_like_types_and_values(x_name, fill_name, dtype_name, shape_name):
    make_x, x_weak = XS[x_name]
    x, fill = make_x(fx), FILLS[fill_name](fx)
    dtype, shape = DTYPES[dtype_name], SHAPES[shape_name]
    out = lax.full_like(x, fill, dtype, shape)
    assert isinstance(out, fx.Array), type(out)
    x_np = np.asarray(x)
    want_dtype = np.dtype(dtype) if dtype is not None else fx.core.get_aval(x).dtype
    want_shape = np.shape(x_np) if shape is None else shape
    assert out.weak_type == _expected_weak(x_weak, dtype)
    assert out.dtype == want_dtype and out.shape == want_shape
    np.testing.assert_array_equal(np.asarray(out),
                                  np.full(want_shape, np.asarray(fill).astype(want_dtype)))


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(0, 4), max_size=3).map(tuple),
       dtype=st.sampled_from([np.float32, np.int32, np.bool_, np.uint8, np.complex64]),
       weak=st.booleans(), fill=st.integers(0, 1))
def test_full_like_weakness_follows_x(shape, dtype, weak, fill):
    """Of any shape and dtype: weak when x is (dtype None), strong otherwise."""
    x = fnp.zeros(shape, dtype)
    if weak:  # (as JAX's lax_internal._convert_element_type(x, dtype, weak_type=True))
        x = lax_impl._convert_element_type(x, dtype, True)
    assert x.weak_type == weak
    out = lax.full_like(x, fill)
    assert (out.shape, out.dtype, out.weak_type) == (shape, np.dtype(dtype), weak)
    np.testing.assert_array_equal(np.asarray(out), np.full(shape, fill, dtype))
    strong = lax.full_like(x, fill, dtype=dtype)
    assert not strong.weak_type and strong.dtype == np.dtype(dtype)


def test_full_keeps_a_python_fill_weak_and_a_dtype_strong():
    assert lax.full((2,), 1.5).weak_type and lax.full((), 2).weak_type
    assert not lax.full((2,), 1.5, np.float32).weak_type
    out = lax.full((), np.float32(2))
    assert isinstance(out, fx.Array) and not out.weak_type and out.dtype == np.float32
    with pytest.raises(TypeError, match="full_like must be called with a scalar"):
        lax.full_like(np.ones(3, np.float32), np.ones(2, np.float32))
    with pytest.raises(TypeError, match="full must be called with a scalar"):
        lax.full((3,), np.ones(2, np.float32))


def test_full_like_traced_weakness():
    """Under make_jaxpr: a weak traced x makes a weak result, also from a strong traced fill
    (converted weak); a strong x makes the weak fill strong."""
    def types(f, *args):
        return [(a.dtype, a.weak_type) for a in fx.make_jaxpr(f)(*args).out_avals]
    f32 = np.dtype(np.float32)
    assert types(lambda x, v: lax.full_like(x, v), 1.5, np.float32(2)) == [(f32, True)]
    assert types(lambda x, v: lax.full_like(x, v), 1.5, 2.0) == [(f32, True)]
    assert types(lambda x, v: lax.full_like(x, v), np.float32(1), 2.0) == [(f32, False)]
    assert types(lambda x: lax.full_like(x, 2, shape=(3,)), 1.5) == [(f32, True)]
    assert types(lambda x: lax.full_like(x, 2, dtype=np.float32), 1.5) == [(f32, False)]


def test_full_like_under_jit_vmap_and_grad():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    f = lambda x, v: lax.full_like(x, v) * x  # noqa: E731
    eager = f(x, np.float32(1.5))
    np.testing.assert_array_equal(np.asarray(fx.jit(f)(x, np.float32(1.5))), np.asarray(eager))
    vs = np.array([0.5, -2.0, 3.0], np.float32)
    batched = fx.vmap(f, in_axes=(None, 0))(x, vs)
    np.testing.assert_array_equal(np.asarray(batched),
                                  np.stack([np.asarray(f(x, v)) for v in vs]))
    np.testing.assert_array_equal(np.asarray(fx.vmap(lambda x: lax.full_like(x, 7))(x)),
                                  np.full((2, 3), 7, np.float32))
    check_grads(lambda v: f(x, v), (np.float32(1.5),), order=2, modes=("fwd", "rev"))
    # x only fixes the type: no derivative flows into it
    np.testing.assert_array_equal(
        np.asarray(fx.grad(lambda x: lax.full_like(x, 2.0).sum())(x)), np.zeros_like(x))


def test_signbit_of_complex_is_a_value_error():
    for z in (np.ones(3, np.complex64), np.complex64(1 - 1j), 1 + 2j):
        with pytest.raises(ValueError, match="signbit is not well defined for complex64"):
            fnp.signbit(z)
    with pytest.raises(ValueError, match="signbit"):
        fx.jit(fnp.signbit)(np.ones(2, np.complex64))
    np.testing.assert_array_equal(np.asarray(fnp.signbit(np.array([-0.0, 1.0, -2.0]))),
                                  [True, False, True])


def test_remainder_keeps_weak_integers_weak():
    out = fnp.remainder(7, 0)
    assert out.weak_type and out.dtype == np.int32 and int(out) == 0
    out = fnp.remainder(np.int32(-7), 3)
    assert not out.weak_type and int(out) == 2
    np.testing.assert_array_equal(
        np.asarray(fnp.remainder(np.array([5, -5, 7], np.int32), np.array([3, 3, 0], np.int32))),
        [2, 1, 0])


# ---------------------------------------------------------------------------
# with JAX


@pytest.mark.jax
def test_full_like_matches_jax(jax):
    for x_name, (make_x, _) in XS.items():
        for fill_name, make_fill in FILLS.items():
            for dtype in DTYPES.values():
                for shape in SHAPES.values():
                    case = (x_name, fill_name, dtype, shape)
                    got = lax.full_like(make_x(fx), make_fill(fx), dtype, shape)
                    want = jax.lax.full_like(make_x(jax), make_fill(jax), dtype, shape)
                    assert (got.shape, got.dtype, got.weak_type) == \
                        (want.shape, want.dtype, want.weak_type), case
                    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.jax
def test_full_like_jaxprs_match_jax(jax):
    cases = [
        (lambda m: lambda x, v: m.lax.full_like(x, v), (1.5, np.float32(2))),
        (lambda m: lambda x, v: m.lax.full_like(x, v), (1.5, 2.0)),
        (lambda m: lambda x, v: m.lax.full_like(x, v), (np.float32(1.5), 2.0)),
        (lambda m: lambda x: m.lax.full_like(x, 2, shape=(3,)), (1.5,)),
        (lambda m: lambda x: m.lax.full_like(x, 2, dtype=np.int32), (1.5,)),
        (lambda m: lambda x: m.lax.full_like(x, np.float32(2)) + x, (np.ones(3, np.float32),)),
        (lambda m: lambda x, y: m.numpy.remainder(x, y), (5, 3)),
    ]
    for make, args in cases:
        got = fx.make_jaxpr(make(fx))(*args)
        want = jax.make_jaxpr(make(jax))(*args)
        assert str(got) == str(want)
        assert [a.weak_type for a in got.out_avals] == [a.weak_type for a in want.out_avals]


@pytest.mark.jax
def test_signbit_error_type_matches_jax(jax):
    z = np.ones(2, np.complex64)
    with pytest.raises(ValueError) as want:
        jax.numpy.signbit(z)
    with pytest.raises(type(want.value)):
        fnp.signbit(z)
