"""JAX compatibility of the core: NumPy scalars are strongly typed, eager primitives
canonicalise NumPy operands, grad/jvp/jac weak types and aux values, complex inputs of
real functions, and the Array methods JAX's Array has (view, round, in, copy, ...).

Oracles: NumPy (values, ``ndarray.view``/``byteswap``/``tobytes``), analytic
derivatives, JAX's documented promotion lattice, and JAX itself where installed."""
import copy

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fx
import fx.numpy as fnp
from fx import core, dtypes, lax


def _type(x):
    return (np.dtype(x.dtype).name, bool(x.weak_type))


# ---------------------------------------------------------------------------
# 1. NumPy scalars subclassing Python's float/complex are strong


@pytest.mark.parametrize("scalar", [np.float64(1.5), np.complex128(1 + 1j)])
def test_numpy_scalar_is_not_a_python_scalar(scalar):
    assert not dtypes.is_python_scalar(scalar)
    assert not dtypes.is_weak_scalar(scalar)
    assert dtypes.result_type_and_weak(scalar)[1] is False
    assert not core.get_aval(scalar).weak_type
    assert not core._is_weak(scalar)


def test_python_scalars_stay_weak():
    for value in (1, 1.5, 1j):
        assert dtypes.is_weak_scalar(value) and dtypes.is_python_scalar(value)
        assert core.get_aval(value).weak_type
    assert dtypes.is_python_scalar(True) and not dtypes.is_weak_scalar(True)
    assert not dtypes.is_python_scalar(np.bool_(True))


# expected types follow JAX's lattice with 64-bit types disabled: a NumPy float64 is a
# strong float32 (canonicalised), so it promotes float16 to float32. Each case takes the
# library (fx or jax) and its numpy module.
CASES = {
    "f16 * np.float64": (lambda m, mnp: mnp.ones(2, mnp.float16) * np.sqrt(2),
                         ("float32", False)),
    "np.float64 * f16": (lambda m, mnp: np.float64(2) * mnp.ones(2, mnp.float16),
                         ("float32", False)),
    "f16 * np.complex128": (lambda m, mnp: mnp.ones(2, mnp.float16) * np.complex128(2),
                            ("complex64", False)),
    "asarray(np.float64)": (lambda m, mnp: mnp.asarray(np.float64(2.0)), ("float32", False)),
    "array(np.complex128)": (lambda m, mnp: mnp.array(np.complex128(2.0)),
                             ("complex64", False)),
    "jit identity": (lambda m, mnp: m.jit(lambda x: x)(np.float64(1.0)), ("float32", False)),
    "jit identity c128": (lambda m, mnp: m.jit(lambda x: x)(np.complex128(1.0)),
                          ("complex64", False)),
    "grad np.float64": (lambda m, mnp: m.grad(lambda x: x * 2.0)(np.float64(1.0)),
                        ("float32", False)),
    "f16 * python float": (lambda m, mnp: mnp.ones(2, mnp.float16) * 1.5,
                           ("float16", False)),
    "python float": (lambda m, mnp: mnp.asarray(1.5), ("float32", True)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_numpy_scalar_promotion(name):
    fn, expected = CASES[name]
    assert _type(fn(fx, fnp)) == expected


@pytest.mark.jax
@pytest.mark.parametrize("name", sorted(CASES))
def test_numpy_scalar_promotion_against_jax(name, jax):
    import jax.numpy as jnp
    fn, _ = CASES[name]
    assert _type(fn(fx, fnp)) == _type(fn(jax, jnp))


# ---------------------------------------------------------------------------
# 2. eager primitives canonicalise raw NumPy operands


def test_eager_numpy_operands_are_canonicalised():
    x = np.arange(5.0)
    out = lax.associative_scan(lax.add, x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.asarray(out), np.cumsum(x))
    from primitives import _rules as R  # the registry's primitives bound directly
    direct = R.registry["add"].bind(np.arange(3.0), np.arange(3.0))
    assert _type(direct) == ("float32", False)
    np.testing.assert_array_equal(np.asarray(direct), 2 * np.arange(3.0))
    ints = R.registry["mul"].bind(np.arange(3), np.arange(3))
    assert ints.dtype == np.int32


def test_eager_numpy_operands_keep_64_bits_under_x64(x64):
    out = lax.associative_scan(lax.add, np.arange(5.0))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(np.asarray(out), np.cumsum(np.arange(5.0)))


# ---------------------------------------------------------------------------
# 3. api: aux values, weak tangents, complex inputs, jaxprs of grad


def test_grad_aux_is_returned_as_is():
    arr = fnp.ones(2)
    marker = object()
    g, aux = fx.grad(lambda x: (x * 2.0, {"i": 3, "f": np.float64(1.0), "a": arr,
                                          "o": marker, "s": "hi"}), has_aux=True)(1.0)
    assert float(g) == 2.0
    assert aux["i"] == 3 and type(aux["i"]) is int
    assert type(aux["f"]) is np.float64
    assert aux["a"] is arr and aux["o"] is marker and aux["s"] == "hi"


def test_traced_aux_leaves_leave_as_arrays():
    g, aux = fx.grad(lambda x: (x * 2.0, x * 3.0), has_aux=True)(1.0)
    assert isinstance(aux, fx.Array) and float(aux) == 3.0
    for fn in (fx.jacfwd, fx.jacrev):
        jac, aux = fn(lambda x: (x * 2.0, (x * 3.0, 7)), has_aux=True)(1.0)
        assert float(jac) == 2.0 and float(aux[0]) == 3.0 and aux[1] == 7
    out = fx.jvp(lambda x: (x * 2, 5), (1.0,), (1.0,), has_aux=True)
    assert out[2] == 5 and type(out[2]) is int
    assert fx.vjp(lambda x: (x * 2, 5), 1.0, has_aux=True)[2] == 5


def test_jvp_zero_tangent_keeps_the_weak_type():
    primal, tangent = fx.jvp(lambda x: 3.0, (1.0,), (1.0,))
    assert _type(tangent) == ("float32", True) and float(tangent) == 0.0
    _, tangent = fx.jvp(lambda x: fnp.float32(3.0), (1.0,), (1.0,))
    assert _type(tangent) == ("float32", False)


@pytest.mark.parametrize("fn", [fx.jacfwd, fx.jacrev])
def test_jacobians_take_the_weak_type_of_jax(fn):
    # jacfwd: each block of the output's type; jacrev: of the input's (JAX's rule)
    assert _type(fn(lambda x: x * 2.0)(1.0)) == ("float32", True)
    assert _type(fn(lambda x: x * 2.0)(fnp.float32(1.0))) == ("float32", False)
    jac = fn(lambda x: fnp.sin(x))(fnp.arange(3.0))
    np.testing.assert_allclose(np.asarray(jac), np.diag(np.cos(np.arange(3.0))), rtol=1e-6)


def test_jacfwd_block_dtype_follows_the_output():
    jac = fx.jacfwd(lambda x: (x * 2).astype(fnp.float16))(fnp.ones(2))
    assert jac.dtype == np.float16
    jac = fx.jacrev(lambda x: (x * 2).astype(fnp.float16))(fnp.ones(2))
    assert jac.dtype == np.float32


@settings(max_examples=25, deadline=None)
@given(st.floats(-3, 3), st.floats(-3, 3))
def test_grad_of_real_function_of_complex_input(re, im):
    # JAX's gradient of a real f at z = x + iy is df/dx - i df/dy (finite differences)
    z = complex(re, im)
    for f_fx, f_np in [(lambda z: fnp.abs(z) ** 2, lambda z: abs(z) ** 2),
                       (lambda z: fnp.real(z * z), lambda z: (z * z).real),
                       (lambda z: fnp.imag(z * z * z), lambda z: (z * z * z).imag)]:
        g = fx.grad(f_fx)(z)
        assert g.dtype == np.complex64
        h = 1e-6
        d_x = (f_np(z + h) - f_np(z - h)) / (2 * h)
        d_y = (f_np(z + 1j * h) - f_np(z - 1j * h)) / (2 * h)
        np.testing.assert_allclose(complex(g), d_x - 1j * d_y, rtol=1e-4, atol=1e-3)


@pytest.mark.jax
def test_grad_of_complex_input_against_jax(jax):
    import jax.numpy as jnp
    for f_fx, f_jax in [(lambda z: fnp.sum(fnp.abs(z) ** 2), lambda z: jnp.sum(jnp.abs(z) ** 2)),
                        (lambda z: fnp.sum(fnp.real(z * fnp.conj(z) * 2j)),
                         lambda z: jnp.sum(jnp.real(z * jnp.conj(z) * 2j)))]:
        for z in (1 + 1j, np.array([1 + 2j, -0.5j], np.complex64)):
            got = fx.grad(f_fx)(z)
            want = jax.grad(f_jax)(z)
            np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5)
            assert got.dtype == want.dtype


def test_grad_rejects_complex_and_integer_outputs():
    with pytest.raises(TypeError, match="real-valued outputs.*holomorphic"):
        fx.grad(lambda z: z * z)(1 + 2j)
    with pytest.raises(TypeError, match="integer outputs"):
        fx.grad(lambda x: fnp.int32(1))(1.0)
    with pytest.raises(TypeError, match="inputs with complex dtype"):
        fx.grad(lambda x: x, holomorphic=True)(1.0)
    with pytest.raises(TypeError, match="allow_int"):
        fx.grad(lambda x: x * 1.0)(1)
    with pytest.raises(TypeError, match="real-valued outputs"):
        fx.jacrev(lambda x: x.astype(fnp.complex64))(1.0)


def test_grad_jaxpr_of_weak_input_has_no_conversion():
    text = str(fx.make_jaxpr(fx.grad(lambda x: x * x))(1.0))
    assert "convert_element_type" not in text
    assert text == ("{ lambda ; a:f32[]. let\n"
                    "    _:f32[] = mul a a\n"
                    "    b:f32[] = mul a 1.0:f32[]\n"
                    "    c:f32[] = mul 1.0:f32[] a\n"
                    "    d:f32[] = add_any b c\n"
                    "  in (d,) }")
    assert _type(fx.grad(lambda x: x * x)(1.0)) == ("float32", True)


def test_constant_outputs_print_as_literals():
    assert str(fx.make_jaxpr(lambda x: 3.0)(1.0)) == "{ lambda ; a:f32[]. let  in (3.0:f32[],) }"
    assert str(fx.make_jaxpr(fx.grad(lambda x: fnp.float32(3.0)))(1.0)) == \
        "{ lambda ; a:f32[]. let  in (0.0:f32[],) }"
    closed = fx.make_jaxpr(lambda x: (x, fnp.asarray(2.0)))(1.0)
    assert core.eval_jaxpr(closed.jaxpr, closed.consts, 5.0)[1] == 2.0


@pytest.mark.jax
def test_api_jaxprs_against_jax(jax):
    import jax.numpy as jnp
    for f_fx, f_jax, arg in [
            (fx.grad(lambda x: x * x), jax.grad(lambda x: x * x), 1.0),
            (fx.grad(fnp.sin), jax.grad(jnp.sin), 1.0),
            (fx.grad(lambda x: x * fnp.float32(2)), jax.grad(lambda x: x * jnp.float32(2)),
             1.0),
            (fx.grad(lambda x: fnp.float32(3.0)), jax.grad(lambda x: jnp.float32(3.0)), 1.0),
            (lambda x: 3.0, lambda x: 3.0, 1.0)]:
        assert str(fx.make_jaxpr(f_fx)(arg)) == str(jax.make_jaxpr(f_jax)(arg))


# ---------------------------------------------------------------------------
# 4. Array methods


_VIEW_DTYPES = ["int8", "uint8", "int16", "uint16", "float16", "int32", "uint32", "float32",
                "bool", "complex64"]


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(_VIEW_DTYPES), st.sampled_from(_VIEW_DTYPES),
       st.integers(1, 3), st.sampled_from([1, 2]), st.integers(0, 2**16))
def test_view_matches_numpy(src, dst, rows, words, seed):
    rng = np.random.default_rng(seed)
    if "bool" in (src, dst):  # booleans view only bytes that are 0 or 1
        raw = rng.integers(0, 2, size=(rows, 8 * words), dtype=np.uint8)
    else:  # the bits of finite, normal float32s (complex views do arithmetic on them)
        raw = rng.normal(size=(rows, 2 * words)).astype(np.float32).view(np.uint8)
    base = raw.view(src)
    want = base.view(dst)
    for got in (fnp.asarray(base).view(dst), fx.jit(lambda a: a.view(dst))(fnp.asarray(base))):
        assert got.dtype == want.dtype and got.shape == want.shape
        if dst == "complex64":
            np.testing.assert_array_equal(np.asarray(got), want)
        else:
            np.testing.assert_array_equal(np.asarray(got).view(np.uint8), want.view(np.uint8))


def test_view_errors_and_identity():
    x = fnp.ones(3, fnp.int8)
    assert x.view() is x and x.view(fnp.int8) is x
    with pytest.raises(ValueError, match="divisor"):
        x.view(fnp.int16)
    with pytest.raises(ValueError, match="0d array"):
        fnp.int8(1).view(fnp.int16)
    with pytest.raises(NotImplementedError):
        x.view(np.int8, type=np.ndarray)
    assert fnp.float32(1.0).view(fnp.int32) == np.float32(1.0).view(np.int32)


@pytest.mark.parametrize("value", [2.5, 3.5, -2.5, 0.49999997, 7.0, -0.5])
def test_round_operator(value):
    x = fnp.float32(value)
    r = round(x)
    assert r.dtype == np.int32 and int(r) == round(float(np.float32(value)))
    r1 = round(x, 1)
    assert r1.dtype == np.float32
    np.testing.assert_allclose(float(r1), np.round(np.float32(value), 1), rtol=1e-6)
    assert round(fnp.ones(2) * 1.5).dtype == np.int32
    traced = fx.jit(lambda a: round(a))(x)
    assert int(traced) == int(r)


def test_contains_copy_and_friends():
    x = fnp.arange(3)
    assert 2 in x and 5 not in x and 1.0 in fnp.arange(3.0)
    with pytest.raises(ValueError, match="one-dimensional"):
        1.0 in fnp.ones((2, 2))  # noqa: B015
    with pytest.raises(TypeError):
        None in x  # noqa: B015
    with pytest.raises(ValueError, match="scalar"):
        fnp.ones(2) in x  # noqa: B015
    for y in (copy.copy(x), copy.deepcopy(x), x.clone()):
        assert isinstance(y, fx.Array)
        np.testing.assert_array_equal(np.asarray(y), np.arange(3))
    assert fx.jit(lambda a: copy.copy(a) + copy.deepcopy(a))(x).tolist() == [0, 2, 4]
    assert fnp.int32(255).__hex__() == "0xff" and fnp.int32(8).__oct__() == "0o10"
    with pytest.raises(NotImplementedError, match="flatten"):
        x.flat  # noqa: B018
    assert x.tobytes() == np.arange(3, dtype=np.int32).tobytes()
    assert x.on_device_size_in_bytes() == 12 and x.is_ready() and x.is_fully_replicated
    assert x.addressable_data(0).shape == (3,)
    assert x.addressable_shards[0].index == (slice(None),)
    assert x.unsafe_buffer_pointer() == np.asarray(x).ctypes.data
    assert x.to_device(fx.devices()[0]).tolist() == [0, 1, 2]


@pytest.mark.parametrize("dtype", ["float32", "int16", "uint32", "complex64", "uint8", "bool"])
def test_byteswap_matches_numpy(dtype):
    base = (np.arange(1, 7) * 37).astype(dtype)
    got = fnp.asarray(base).byteswap()
    want = base.byteswap()
    np.testing.assert_array_equal(np.asarray(got).view(np.uint8), want.view(np.uint8))


@pytest.mark.jax
def test_array_repr_layout_against_jax(jax):
    import jax.numpy as jnp
    for make in (lambda m: m.arange(30.0), lambda m: m.arange(100),
                 lambda m: m.arange(24.0, dtype=m.float32).reshape(2, 12).view(m.uint8)
                 if hasattr(m.ones(1), "view") else None,
                 lambda m: m.array([True] * 30), lambda m: m.ones(17) * 1.0,
                 lambda m: m.zeros((0, 3)), lambda m: m.asarray(3.0)):
        assert repr(make(fnp)) == repr(make(jnp))


@pytest.mark.jax
def test_array_has_jax_array_attributes(jax):
    import jax.numpy as jnp
    wanted = {"view", "__round__", "__contains__", "__copy__", "__deepcopy__", "byteswap",
              "to_device", "tobytes", "flat", "clone", "is_ready", "addressable_data",
              "addressable_shards", "global_shards", "is_fully_replicated",
              "on_device_size_in_bytes", "unsafe_buffer_pointer"}
    assert wanted <= set(dir(jnp.ones(2)))
    assert wanted <= set(dir(fnp.ones(2)))


def test_lax_numpy_float64_scalars_are_strong():
    # np.float64 subclasses float but carries a dtype: strong (and float32 without x64),
    # where a Python float is weak
    a = fx.lax.add(np.float64(1.0), np.float64(2.0))
    assert a.dtype == np.float32 and not a.weak_type and float(a) == 3.0
    b = fx.lax.select(True, np.float64(1.0), np.float64(2.0))
    assert b.dtype == np.float32 and not b.weak_type and float(b) == 1.0
    c = fx.lax.add(1.0, 2.0)
    assert c.dtype == np.float32 and c.weak_type


def test_device_put_numpy_scalar_is_strong():
    a, b = fx.device_put(np.float64(2.0)), fx.device_put(2.0)
    assert a.dtype == np.float32 and not a.weak_type
    assert b.dtype == np.float32 and b.weak_type
