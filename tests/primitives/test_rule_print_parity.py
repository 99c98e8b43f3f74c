"""Derivative rules printed as JAX 0.10.2 prints them (issue 5), and
``lax.linalg.cholesky`` / ``jnp.linalg.cholesky`` as JAX builds them.

The elementwise jvp rules use ``square`` where JAX does, put their constants where JAX
does and type them as JAX's ``_const`` (a weak Python scalar for a weak rank-0 operand,
whose literal prints the Python value, else a strong scalar of the operand's dtype);
``pow``'s tangent is strong; select_n's transpose keeps a weak cotangent weak. The
Cholesky factor is masked with an iota mask and ``jnp.linalg.cholesky`` is a
``jit[name=cholesky]``.

Oracles: JAX itself (printed text, weak types; skipped without JAX), NumPy/SciPy values,
finite differences (``fx.test_util.check_grads``, order 2, forward and reverse), a Python
loop for vmap and eager for jit.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fx
import fx.lax as fl
import fx.lax.linalg as fll
import fx.numpy as fnp
from fx.test_util import check_grads


def _jax():
    jax = pytest.importorskip("jax")
    return jax


# name -> (builder(numpy module, lax module) -> function, example point); lax names are
# the same in fx and JAX, so one builder gives both programs
def _lax_fn(name):
    return lambda mnp, lax: getattr(lax, name)


UNARY = {name: (_lax_fn(name), x) for name, x in [
    ("exp", 0.5), ("exp2", 0.5), ("log", 0.5), ("log1p", 0.5), ("expm1", 0.5),
    ("tanh", 0.5), ("logistic", 0.5), ("sin", 0.5), ("cos", 0.5), ("tan", 0.5),
    ("asin", 0.5), ("acos", 0.5), ("atan", 0.5), ("sinh", 0.5), ("cosh", 0.5),
    ("asinh", 0.5), ("acosh", 1.5), ("atanh", 0.5), ("sqrt", 0.5), ("rsqrt", 0.5),
    ("cbrt", 0.5), ("abs", 0.5), ("erf", 0.5), ("erfc", 0.5), ("erf_inv", 0.5),
    ("lgamma", 0.5), ("digamma", 0.5), ("square", 0.5), ("neg", 0.5), ("sign", 0.5),
    ("floor", 0.5), ("round", 0.5)]}
UNARY.update({
    "integer_pow3": (lambda mnp, lax: lambda x: lax.integer_pow(x, 3), 0.5),
    "integer_pow2": (lambda mnp, lax: lambda x: lax.integer_pow(x, 2), 0.5),
    "integer_pow_neg2": (lambda mnp, lax: lambda x: lax.integer_pow(x, -2), 0.5),
    "pow_const": (lambda mnp, lax: lambda x: x ** 3.0, 0.5),
    "pow_xx": (lambda mnp, lax: lambda x: lax.pow(x, x), 0.5),
    "reduce_precision": (lambda mnp, lax: lambda x: lax.reduce_precision(x, 5, 10), 0.5),
    "atan2": (lambda mnp, lax: lambda x: lax.atan2(x, 2.0 * x + 1), 0.5),
    "max": (lambda mnp, lax: lambda x: lax.max(x, 1.0 - x), 0.5),
    "rem": (lambda mnp, lax: lambda x: lax.rem(x, 0.3 * x), 0.5),
    "div": (lambda mnp, lax: lambda x: lax.div(x, 3.0 * x + 1), 0.5),
})

# fx's grad returns a weak cotangent for a weak primal where JAX's returns the strong one
# the rule made (fx/api.py's _zero_ct converts): only the tangent (jvp) is compared
_GRAD_WEAK_API_GAP = {"pow_const", "pow_xx"}


def _program(lib, lib_np, lib_lax, name, kind, mode):
    build, _ = UNARY[name]
    f = build(lib_np, lib_lax)
    if kind == "vec":
        f0 = f
        f = lambda x: lib_np.sum(f0(x))  # noqa: E731
    if mode == "grad":
        return lib.grad(f)
    if mode == "grad2":
        return lib.grad(lib.grad(f))
    return lambda x: lib.jvp(f, (x,), (x,))


def _point(name, kind):
    x = UNARY[name][1]
    if kind == "f32":
        return np.float32(x)
    if kind == "vec":
        return np.full(3, x, np.float32)
    return x  # a Python float: weakly typed


@pytest.mark.parametrize("mode", ["jvp", "grad", "grad2"])
@pytest.mark.parametrize("kind", ["f32", "weak", "vec"])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_rule_prints_as_jax(name, kind, mode):
    jax = _jax()
    import jax.numpy as jnp
    from jax import lax as jlax
    if kind == "vec" and mode == "grad2":
        pytest.skip("grad of a vector-valued function")
    if kind == "weak" and mode != "jvp" and name in _GRAD_WEAK_API_GAP:
        pytest.skip("fx.grad converts the cotangent to the primal's weak type (fx/api.py)")
    x = _point(name, kind)
    expected = str(jax.make_jaxpr(_program(jax, jnp, jlax, name, kind, mode))(x))
    got = str(fx.make_jaxpr(_program(fx, fnp, fl, name, kind, mode))(x))
    assert got == expected


@pytest.mark.parametrize("name", ["abs", "sqrt", "rsqrt", "exp2", "tan", "asin", "acos",
                                  "atan", "asinh", "acosh", "atanh", "square", "log1p"])
def test_complex_jvp_prints_as_jax(name):
    jax = _jax()
    x = np.complex64(0.5 + 0.25j)
    expected = str(jax.make_jaxpr(
        lambda x: jax.jvp(getattr(jax.lax, name), (x,), (x,)))(x))
    got = str(fx.make_jaxpr(lambda x: fx.jvp(getattr(fl, name), (x,), (x,)))(x))
    assert got == expected


@pytest.mark.parametrize("name", ["cbrt", "erf", "erf_inv", "rsqrt", "pow_const", "tan"])
def test_float64_rules_print_as_jax(name):
    jax = _jax()
    import jax.numpy as jnp
    from jax import lax as jlax
    jax.config.update("jax_enable_x64", True)
    try:
        with fx.enable_x64():
            for x in (np.float64(0.5), 0.5):
                expected = str(jax.make_jaxpr(_program(jax, jnp, jlax, name, "f32", "jvp"))(x))
                got = str(fx.make_jaxpr(_program(fx, fnp, fl, name, "f32", "jvp"))(x))
                assert got == expected
    finally:
        jax.config.update("jax_enable_x64", False)


# --- the same facts without JAX: recorded text and weak types ---------------------------

def test_constants_typed_as_jax_without_jax():
    # a weak rank-0 operand keeps the Python value; a strong one is rounded to float32
    weak = str(fx.make_jaxpr(fx.grad(fl.cbrt))(0.5))
    strong = str(fx.make_jaxpr(fx.grad(fl.cbrt))(np.float32(0.5)))
    assert "mul 0.3333333333333333:f32[] c" in weak
    assert "mul 0.3333333432674408:f32[] c" in strong
    assert "square a" in str(fx.make_jaxpr(fx.grad(fl.atan))(0.5))
    assert "mul" not in str(fx.make_jaxpr(fx.grad(fl.tan))(0.5)).split("square")[0]
    exp2 = str(fx.make_jaxpr(fx.grad(fl.exp2))(0.5))
    assert "log 2.0:f32[]" in exp2


def test_weak_types_of_tangents():
    # abs of a weak input: the select_n transpose's zeros are weak, so the grad is weak
    # with no convert_element_type; the tangent of x ** 3.0 is strong (as JAX's)
    g = fx.grad(fl.abs)(0.5)
    assert g.weak_type and float(g) == 1.0
    assert "convert_element_type" not in str(fx.make_jaxpr(fx.grad(fl.abs))(0.5))
    _, t = fx.jvp(lambda x: x ** 3.0, (0.5,), (1.0,))
    assert not t.weak_type and np.isclose(float(t), 0.75)
    _, t = fx.jvp(fl.cbrt, (0.5,), (1.0,))
    assert t.weak_type
    _, t = fx.jvp(fl.cbrt, (np.float32(0.5),), (np.float32(1.0),))
    assert not t.weak_type
    # a weak rank-1 operand gets a strong constant (JAX's _const), so its tangent is strong
    _, t = fx.jvp(lambda x: fl.cbrt(fl.broadcast(x, (3,))), (0.5,), (1.0,))
    assert not t.weak_type


@pytest.mark.parametrize("name", ["pow_const", "pow_xx", "cbrt", "abs", "digamma", "max",
                                  "rsqrt", "erf", "integer_pow3"])
def test_weak_types_match_jax(name):
    jax = _jax()
    import jax.numpy as jnp
    from jax import lax as jlax
    build = UNARY[name][0]
    fx_f, jax_f = build(fnp, fl), build(jnp, jlax)
    for x in (0.5, np.float32(0.5)):
        _, t = fx.jvp(fx_f, (x,), (x,))
        _, jt = jax.jvp(jax_f, (x,), (x,))
        assert t.weak_type == jt.weak_type
        np.testing.assert_allclose(np.asarray(t), np.asarray(jt), rtol=1e-6)


# --- values: finite differences and NumPy ------------------------------------------------

_GRAD_CASES = {
    "tan": (fl.tan, [0.3, -0.7]), "asin": (fl.asin, [0.3, -0.6]),
    "acos": (fl.acos, [0.3, -0.6]), "atan": (fl.atan, [0.3, -2.0]),
    "asinh": (fl.asinh, [0.3, -2.0]), "acosh": (fl.acosh, [1.5, 3.0]),
    "atanh": (fl.atanh, [0.3, -0.6]), "sqrt": (fl.sqrt, [0.3, 2.0]),
    "rsqrt": (fl.rsqrt, [0.3, 2.0]), "cbrt": (fl.cbrt, [0.3, -2.0]),
    "exp2": (fl.exp2, [0.3, -2.0]), "erf": (fl.erf, [0.3, -1.0]),
    "erfc": (fl.erfc, [0.3, -1.0]), "erf_inv": (fl.erf_inv, [0.3, -0.6]),
    "lgamma": (fl.lgamma, [0.3, 2.5]), "digamma": (fl.digamma, [0.7, 2.5]),
    "abs": (fl.abs, [0.3, -2.0]), "square": (fl.square, [0.3, -2.0]),
    "integer_pow3": (lambda x: fl.integer_pow(x, 3), [0.3, -2.0]),
    "integer_pow_neg2": (lambda x: fl.integer_pow(x, -2), [0.3, -2.0]),
    "pow_const": (lambda x: x ** 3.5, [0.3, 2.0]),
    "pow_xx": (lambda x: fl.pow(x, x), [0.3, 2.0]),
    "pow_int_exponent": (lambda x: fl.pow(x, np.array([0, 3], np.int32)), [0.3, 2.0]),
    "rem": (lambda x: fl.rem(x, 0.3 * x + 1.0), [0.3, 2.0]),
    "atan2": (lambda x: fl.atan2(x, 2.0 * x + 1.0), [0.3, 2.0]),
    "max": (lambda x: fl.max(x, 1.0 - x), [0.2, 2.0]),
}


@pytest.mark.parametrize("name", sorted(_GRAD_CASES))
def test_rule_values_by_finite_differences(name):
    f, point = _GRAD_CASES[name]
    with fx.enable_x64():
        check_grads(f, (np.array(point, np.float64),), order=2, modes=("fwd", "rev"))


def test_pow_tangents_against_closed_forms():
    x = np.array([0.0, 0.5, 2.0], np.float32)
    y = np.array([0, 1, 3], np.int32)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** -1 in the unused branch
        _, t = fx.jvp(lambda x: fl.pow(x, y), (x,), (np.ones(3, np.float32),))
        expected = np.where(y == 0, 0, y * x ** (y - 1.0))
    np.testing.assert_allclose(np.asarray(t), expected)
    # d/dy x**y = log(x) x**y, 0 at x == 0
    xs, ys = np.array([0.0, 0.5, 2.0], np.float32), np.array([2.0, 1.5, 0.5], np.float32)
    _, t = fx.jvp(lambda y: fl.pow(xs, y), (ys,), (np.ones(3, np.float32),))
    expected = np.where(xs == 0, 0, np.log(np.where(xs == 0, 1, xs)) * xs ** ys)
    np.testing.assert_allclose(np.asarray(t), expected, rtol=1e-6)


def test_complex_abs_derivative():
    # d|z| along t is Re(t conj(z)) / |z|, 0 at z = 0
    z = np.array([0.5 + 0.25j, -1 + 2j, 0j], np.complex64)
    t = np.array([1 - 1j, 0.5j, 1 + 0j], np.complex64)
    _, got = fx.jvp(fl.abs, (z,), (t,))
    safe = np.where(np.abs(z) == 0, 1, np.abs(z))
    np.testing.assert_allclose(np.asarray(got), np.real(t * np.conj(z)) / safe, rtol=1e-6)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(sorted(_GRAD_CASES)), st.integers(1, 4), st.integers(0, 2 ** 31 - 1))
def test_rule_vmap_and_jit_match_loop(name, n, seed):
    f, point = _GRAD_CASES[name]
    if name == "pow_int_exponent":
        return  # its exponent is a fixed pair
    rng = np.random.default_rng(seed)
    lo, hi = min(point), max(point)
    xs = rng.uniform(lo, hi, (n, 2)).astype(np.float32)
    g = fx.grad(lambda x: fnp.sum(f(x)))
    loop = np.stack([np.asarray(g(x)) for x in xs])
    np.testing.assert_allclose(np.asarray(fx.vmap(g)(xs)), loop, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(fx.jit(fx.vmap(g))(xs)), loop, rtol=2e-5,
                               atol=1e-6)


# --- cholesky -----------------------------------------------------------------------------

def _spd(rng, shape, dtype=np.float32):
    *batch, n = shape
    a = rng.normal(size=(*batch, n, n))
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.normal(size=(*batch, n, n))
    return (a @ np.conj(np.swapaxes(a, -1, -2)) + n * np.eye(n)).astype(dtype)


_CHOLESKY = {
    "lax": lambda m, lin: lin.cholesky,
    "lax_no_symmetrize": lambda m, lin: lambda x: lin.cholesky(x, symmetrize_input=False),
    "jnp": lambda m, lin: m.linalg.cholesky,
    "jnp_upper": lambda m, lin: lambda x: m.linalg.cholesky(x, upper=True),
    "jnp_no_symmetrize": lambda m, lin: lambda x: m.linalg.cholesky(
        x, symmetrize_input=False),
}


@pytest.mark.parametrize("dtype", [np.float32, np.complex64, np.int32])
@pytest.mark.parametrize("shape", [(3,), (2, 3)])
@pytest.mark.parametrize("name", sorted(_CHOLESKY))
def test_cholesky_prints_as_jax(name, shape, dtype):
    jax = _jax()
    import jax.lax.linalg as jlin
    import jax.numpy as jnp
    if dtype == np.int32 and name.startswith("lax"):
        pytest.skip("lax.linalg.cholesky takes inexact matrices only")
    a = _spd(np.random.default_rng(0), shape, np.float32 if dtype == np.int32 else dtype)
    a = a.astype(dtype)
    expected = str(jax.make_jaxpr(_CHOLESKY[name](jnp, jlin))(a))
    got = str(fx.make_jaxpr(_CHOLESKY[name](fnp, fll))(a))
    assert got == expected


def test_cholesky_is_a_jit_equation_without_jax():
    a = _spd(np.random.default_rng(1), (3,))
    text = str(fx.make_jaxpr(fnp.linalg.cholesky)(a))
    assert "jit[" in text and "name=cholesky" in text
    assert "iota[dimension=0 dtype=int32 shape=(3, 3)" in text and "ge " in text
    # no constant boolean mask captured as an input
    assert text.startswith("{ lambda ; ") or text.startswith("let cholesky")


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.sampled_from([(), (2,), (2, 1)]),
       st.sampled_from([np.float32, np.float64, np.complex64]), st.booleans(),
       st.integers(0, 2 ** 31 - 1))
def test_cholesky_values_against_numpy(n, batch, dtype, upper, seed):
    a = _spd(np.random.default_rng(seed), (*batch, n), dtype)
    with fx.enable_x64(dtype == np.float64):
        lower = np.linalg.cholesky(a.astype(np.complex128 if a.dtype.kind == "c"
                                            else np.float64))
        expected = np.conj(np.swapaxes(lower, -1, -2)) if upper else lower
        tol = 1e-10 if dtype == np.float64 else 2e-5
        got = fnp.linalg.cholesky(a, upper=upper)
        assert got.dtype == a.dtype and got.shape == a.shape
        np.testing.assert_allclose(np.asarray(got), expected, rtol=tol, atol=tol)
        jitted = fx.jit(lambda x: fnp.linalg.cholesky(x, upper=upper))(a)
        np.testing.assert_allclose(np.asarray(jitted), np.asarray(got), rtol=tol, atol=tol)
        lax_lower = fll.cholesky(a)
        np.testing.assert_allclose(np.asarray(lax_lower), lower, rtol=tol, atol=tol)


def test_cholesky_vmap_matches_loop():
    a = _spd(np.random.default_rng(2), (4, 3))
    loop = np.stack([np.asarray(fnp.linalg.cholesky(x)) for x in a])
    np.testing.assert_allclose(np.asarray(fx.vmap(fnp.linalg.cholesky)(a)), loop,
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(fx.vmap(fll.cholesky)(a)), loop,
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_grads(upper):
    a = _spd(np.random.default_rng(3), (3,), np.float64)
    with fx.enable_x64():
        check_grads(lambda x: fnp.linalg.cholesky(x, upper=upper), (a,), order=2,
                    modes=("fwd", "rev"))
        check_grads(fll.cholesky, (a,), order=2, modes=("fwd", "rev"))


def test_cholesky_bad_input():
    with pytest.raises(ValueError, match="square"):
        fnp.linalg.cholesky(np.ones((2, 3), np.float32))
    with pytest.raises(TypeError):
        fll.cholesky(np.ones(3, np.float32))


@pytest.mark.parametrize("shape", [(2, 3), (4, 2, 3)])
def test_symmetric_product_output_prints_as_jax(shape):
    jax = _jax()
    import jax.lax.linalg as jlin
    a = np.random.default_rng(4).normal(size=shape).astype(np.float32)
    c = np.broadcast_to(np.eye(2, dtype=np.float32), shape[:-2] + (2, 2))
    program = lambda lin: lambda a, c: lin.symmetric_product(  # noqa: E731
        a, c, alpha=0.5, beta=2.0, symmetrize_output=True)
    assert str(fx.make_jaxpr(program(fll))(a, c)) == str(jax.make_jaxpr(program(jlin))(a, c))


def test_symmetric_product_output_values():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(2, 3, 4)).astype(np.float32)
    c = rng.normal(size=(2, 3, 3)).astype(np.float32)
    c = c + np.swapaxes(c, -1, -2)
    got = fll.symmetric_product(a, c, alpha=0.5, beta=2.0, symmetrize_output=True)
    expected = 0.5 * a @ np.swapaxes(a, -1, -2) + 2.0 * c
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-5)
