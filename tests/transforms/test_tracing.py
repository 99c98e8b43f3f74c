"""Tracing: make_jaxpr and its printing, eval_shape, ShapeDtypeStruct,
closures over outer tracers, constants, leaked tracers and concretization
errors.

Oracles: JAX's printed jaxprs for the same programs (where JAX is installed),
hand-written expected text, and the documented behaviour of JAX's errors.
"""
import os

import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import errors

THIS_FILE = os.path.basename(__file__)


# ---------------------------------------------------------------------------
# make_jaxpr and printing


def test_make_jaxpr_prints_in_jax_format():
    x = fnp.ones(3)
    text = str(fx.make_jaxpr(lambda x: fnp.sin(x) * 2.0)(x))
    assert text == "{ lambda ; a:f32[3]. let b:f32[3] = sin a; c:f32[3] = mul b 2.0:f32[] in (c,) }"
    multi = str(fx.make_jaxpr(lambda x: fnp.sum(fnp.cos(x) * x, axis=0))(fnp.ones((2, 3))))
    assert multi.splitlines() == [
        "{ lambda ; a:f32[2,3]. let",
        "    b:f32[2,3] = cos a",
        "    c:f32[2,3] = mul b a",
        "    d:f32[3] = reduce_sum[axes=(0,) out_sharding=None] c",
        "  in (d,) }",
    ]


@pytest.mark.parametrize("case", ["sin_mul", "const_array", "weak_scalar_arg", "int_literal",
                                  "identity", "two_outputs"])
def test_make_jaxpr_text_matches_jax(case):
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    c = np.arange(3.0, dtype=np.float32)
    programs = {
        "sin_mul": (lambda m, x: m.sin(x) * 2.0, (np.ones(3, np.float32),)),
        "const_array": (lambda m, x: x + c, (np.ones(3, np.float32),)),
        "weak_scalar_arg": (lambda m, x, y: (x * y, x), (1.0, np.ones(3, np.float32))),
        "int_literal": (lambda m, x: x * 2 + 1, (np.ones((2,), np.int32),)),
        "identity": (lambda m, x: x, (1.0,)),
        "two_outputs": (lambda m, x: (m.exp(x), m.negative(x) - x), (np.ones(2, np.float32),)),
    }
    fn, args = programs[case]
    got = str(fx.make_jaxpr(lambda *a: fn(fnp, *a))(*args))
    want = str(jax.make_jaxpr(lambda *a: fn(jnp, *a))(*args))
    assert got == want


def test_make_jaxpr_of_nested_jit_shows_call_with_name_and_inner_jaxpr():
    @fx.jit
    def double(y):
        return y * 2.0
    closed = fx.make_jaxpr(lambda x: double(x) + 1.0)(fnp.ones(3))
    eqn = closed.eqns[0]
    assert eqn.primitive.name == "jit" and eqn.params["name"] == "double"
    inner = eqn.params["jaxpr"]
    assert [e.primitive.name for e in inner.eqns] == ["mul"]
    text = str(closed)
    assert "jit[" in text and "name=double" in text and "jaxpr={ lambda ;" in text


def test_make_jaxpr_pytrees_kwargs_static_argnums_and_return_shape():
    def f(p, n, *, scale):
        return {"out": p["a"] * n + p["b"] * scale}
    p = {"a": fnp.ones(2), "b": fnp.ones(2)}
    closed, shapes = fx.make_jaxpr(f, static_argnums=1, return_shape=True)(
        p, 3, scale=fnp.asarray(2.0))
    assert [a.shape for a in closed.in_avals] == [(2,), (2,), ()]
    assert shapes == {"out": fx.ShapeDtypeStruct((2,), np.float32)}
    # the static argument is baked in as a (weak, so f32) literal, as JAX prints it
    assert "mul a 3.0:f32[]" in str(closed)


def test_make_jaxpr_accepts_shape_dtype_structs():
    closed = fx.make_jaxpr(lambda x, y: x * y)(fx.ShapeDtypeStruct((2, 3), np.float16),
                                              fx.ShapeDtypeStruct((3,), np.float16))
    assert [(a.shape, a.dtype) for a in closed.in_avals] == [((2, 3), np.float16),
                                                             ((3,), np.float16)]
    assert closed.out_avals[0].shape == (2, 3) and closed.out_avals[0].dtype == np.float16
    fx.core.check_jaxpr(closed.jaxpr)


def test_constants_become_constvars_and_scalars_literals():
    c = np.arange(3.0, dtype=np.float32)
    d = fnp.asarray(np.ones(3, np.float32))
    closed = fx.make_jaxpr(lambda x: (x + c) * d + c + 2.0)(fnp.ones(3))
    assert len(closed.jaxpr.constvars) == 2          # c once (deduplicated, as JAX), d once
    got = sorted([np.asarray(k).tolist() for k in closed.consts])
    assert got == sorted([c.tolist(), [1.0, 1.0, 1.0]])
    assert "2.0:f32[]" in str(closed)                # the Python scalar is a literal
    assert str(closed).startswith("{ lambda a:f32[3] b:f32[3]; c:f32[3]. let")
    np.testing.assert_allclose(
        np.asarray(fx.core.jaxpr_as_fun(closed)(fnp.ones(3))[0]), (1 + c) * 1 + c + 2.0)


def test_pretty_print_with_source_info_names_this_file():
    closed = fx.make_jaxpr(lambda x: fnp.sin(x) * 2.0)(fnp.ones(2))
    text = closed.pretty_print(source_info=True)
    assert THIS_FILE in text


def test_traced_jaxprs_type_check():
    f = lambda x, y: fnp.sum(fnp.where(x > 0, fnp.exp(x) * y, y), axis=0)  # noqa: E731
    x, y = fnp.ones((2, 3)), fnp.ones(3)
    for t in (f, fx.grad(lambda x, y: fnp.sum(f(x, y))), fx.vmap(f, in_axes=(0, None)),
              fx.jit(f)):
        fx.core.check_jaxpr(fx.make_jaxpr(t)(x, y).jaxpr)


# ---------------------------------------------------------------------------
# eval_shape and ShapeDtypeStruct


def test_eval_shape_computes_nothing_and_keeps_pytrees():
    huge = fx.ShapeDtypeStruct((10 ** 6, 10 ** 6), np.float32)   # 4 TB if materialised
    out = fx.eval_shape(lambda x, y: {"s": fnp.sum(fnp.sin(x), axis=1), "y": y * 2},
                        huge, fx.ShapeDtypeStruct((3,), np.int32))
    assert out == {"s": fx.ShapeDtypeStruct((10 ** 6,), np.float32),
                   "y": fx.ShapeDtypeStruct((3,), np.int32)}


def test_eval_shape_weak_types_and_arrays_as_inputs():
    assert fx.eval_shape(lambda x: x * 2, 1.0) == fx.ShapeDtypeStruct((), np.float32,
                                                                       weak_type=True)
    s = fx.eval_shape(lambda x: x * 2.0, fnp.ones((2, 2), dtype=np.int32))
    # int32 with a Python float promotes to the weak float kind (JAX's lattice)
    assert s.shape == (2, 2) and s.dtype == np.float32 and s.weak_type
    s2 = fx.eval_shape(lambda x: fnp.reshape(x, (2, -1)), fnp.ones(6))
    assert s2.shape == (2, 3)


def test_eval_shape_matches_jax():
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    fn = lambda m, x, y: (m.mean(x, axis=0) * y, m.max(x) > y)  # noqa: E731
    got = fx.eval_shape(lambda x, y: fn(fnp, x, y), fx.ShapeDtypeStruct((4, 3), np.float16), 2.0)
    want = jax.eval_shape(lambda x, y: fn(jnp, x, y), jax.ShapeDtypeStruct((4, 3), jnp.float16),
                          2.0)
    for g, w in zip(got, want, strict=True):
        assert (g.shape, g.dtype, g.weak_type) == (w.shape, w.dtype, w.weak_type)


def test_shape_dtype_struct_api():
    s = fx.ShapeDtypeStruct((2, 3), "float32")
    assert s.shape == (2, 3) and s.dtype == np.float32 and s.ndim == 2 and s.size == 6
    assert repr(s) == "ShapeDtypeStruct(shape=(2, 3), dtype=float32)"
    assert s == fx.ShapeDtypeStruct([2, 3], np.float32)
    assert hash(s) == hash(fx.ShapeDtypeStruct((2, 3), np.dtype("float32")))
    assert s != fx.ShapeDtypeStruct((2, 3), np.float32, weak_type=True)
    assert s != fx.ShapeDtypeStruct((3, 2), np.float32)
    assert repr(fx.ShapeDtypeStruct((), np.int32, weak_type=True)) == \
        "ShapeDtypeStruct(shape=(), dtype=int32, weak_type=True)"


# ---------------------------------------------------------------------------
# closures over outer tracers


def test_jit_closing_over_outer_tracer_takes_it_as_an_input():
    closed = fx.make_jaxpr(lambda x: fx.jit(lambda y: x * y)(2.0))(fnp.ones(3))
    (eqn,) = closed.eqns
    assert eqn.primitive.name == "jit"
    inner = eqn.params["jaxpr"]
    assert not inner.jaxpr.constvars and len(inner.jaxpr.invars) == 2
    assert eqn.invars[0] is closed.jaxpr.invars[0]
    out = fx.jit(lambda x: fx.jit(lambda y: x * y)(2.0))(fnp.ones(3))
    np.testing.assert_allclose(np.asarray(out), [2.0, 2.0, 2.0])


def test_grad_of_closure_traces_to_valid_jaxpr():
    f = fx.grad(lambda x: fx.jit(lambda y: fnp.sin(x) * y)(3.0))
    closed = fx.make_jaxpr(f)(0.5)
    fx.core.check_jaxpr(closed.jaxpr)
    np.testing.assert_allclose(fx.core.jaxpr_as_fun(closed)(0.5)[0], 3 * np.cos(0.5), rtol=1e-6)


# ---------------------------------------------------------------------------
# leaked tracers


@pytest.mark.parametrize("transform", ["jit", "grad", "vmap", "make_jaxpr"])
def test_leaked_tracer_error_says_where_it_was_created(transform):
    leaked = []

    def f(x):
        leaked.append(x)
        return fnp.sum(x * 2.0)
    x = fnp.ones(3)
    {"jit": fx.jit(f), "grad": fx.grad(f), "vmap": fx.vmap(f),
     "make_jaxpr": fx.make_jaxpr(f)}[transform](x)
    assert isinstance(leaked[0], fx.core.Tracer)
    with pytest.raises(errors.UnexpectedTracerError) as info:
        fnp.sin(leaked[0])
    assert THIS_FILE in str(info.value)
    assert isinstance(info.value, TypeError)  # as jax.errors.UnexpectedTracerError
    with pytest.raises(errors.UnexpectedTracerError):
        fx.jit(lambda y: y + leaked[0])(fnp.ones(3))


# ---------------------------------------------------------------------------
# concretization errors


def _raises_concretization(fn, *args, fix):
    with pytest.raises(errors.ConcretizationTypeError) as info:
        fn(*args)
    assert isinstance(info.value, TypeError)
    message = str(info.value)
    assert any(word in message for word in fix), message
    return info.value


def test_bool_of_traced_value():
    err = _raises_concretization(fx.jit(lambda x: 1.0 if x > 0 else 2.0), 1.0,
                                 fix=("static_argnums", "lax.cond", "where"))
    assert "bool" in str(err)
    _raises_concretization(fx.vmap(lambda x: x if x > 0 else -x), fnp.ones(3),
                           fix=("lax.cond", "where"))


def test_int_float_and_index_of_traced_value():
    _raises_concretization(fx.jit(lambda x: int(x)), 1.0, fix=("static_argnums", "astype"))
    _raises_concretization(fx.jit(lambda x: float(x)), 1.0, fix=("array", "static"))
    _raises_concretization(fx.jit(lambda i: [1.0, 2.0][i]), 1,
                           fix=("static_argnums", "dynamic_slice", "dynamic_index"))
    _raises_concretization(fx.jit(lambda n: list(range(n))), 3, fix=("static_argnums",))
    _raises_concretization(fx.jit(lambda x: np.asarray(x)), 1.0, fix=("fx.numpy",))


def test_shape_from_traced_value_names_static_argnums():
    with pytest.raises(TypeError, match="static_argnums"):
        fx.jit(lambda n: fnp.zeros(n))(3)
    with pytest.raises(TypeError, match="static_argnums"):
        fx.jit(lambda x, n: fnp.reshape(x, (n, -1)))(fnp.ones(6), 2)
    out = fx.jit(lambda n: fnp.zeros(n), static_argnums=0)(3)  # the fix works
    assert out.shape == (3,)


def test_concretization_error_subclasses_match_jax():
    with pytest.raises(errors.TracerBoolConversionError):
        fx.jit(lambda x: bool(x))(1.0)
    with pytest.raises(errors.TracerIntegerConversionError):
        fx.jit(lambda i: [1.0, 2.0][i])(1)
    with pytest.raises(errors.TracerArrayConversionError):
        fx.jit(lambda x: np.asarray(x))(1.0)


def test_concrete_values_under_grad_and_jvp_can_be_branched_on():
    f = lambda x: x * 2.0 if x > 0 else -x ** 3  # noqa: E731
    np.testing.assert_allclose(fx.grad(f)(1.5), 2.0)
    np.testing.assert_allclose(fx.grad(f)(-1.0), -3.0)
    np.testing.assert_allclose(fx.jvp(f, (-2.0,), (1.0,))[1], -12.0)
    assert int(fx.grad(lambda x: x * int(x))(3.0)) == 3


def test_array_methods_named_like_tracer_internals_work_under_tracing():
    # the staging tracer once stored its variable as ``.var``, shadowing ``Array.var``
    import numpy as np

    import fx
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    got = fx.jit(lambda v: v.var(-1, keepdims=True))(x)
    np.testing.assert_allclose(got, np.var(x, -1, keepdims=True), rtol=1e-6)
