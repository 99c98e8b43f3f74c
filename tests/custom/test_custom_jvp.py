"""``fx.custom_jvp``: the rule is used (and stays in force) under every
transformation, and the examples of JAX's documentation give JAX's values.

Oracles: closed-form derivatives of the rules written here (which differ on
purpose from the true derivative, so that using the rule is observable),
finite differences (``check_grads``) where the rule is the true derivative, a
Python loop over the batch for ``vmap``, eager for ``jit``, and JAX.
"""
from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx.custom_derivatives import SymbolicZero
from fx.test_util import check_grads


def close(got, want, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------
# JAX's documentation example: a numerically stable log1pexp


def make_log1pexp(lib):
    """log(1 + exp(x)) with the derivative 1 - 1/(1 + exp(x)), for fx or JAX."""
    np_ = lib.numpy

    @lib.custom_jvp
    def log1pexp(x):
        return np_.log(1.0 + np_.exp(x))

    @log1pexp.defjvp
    def log1pexp_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return log1pexp(x), t * (1.0 - 1.0 / (1.0 + np_.exp(x)))

    return log1pexp


log1pexp = make_log1pexp(fx)
POINTS = np.array([-3.0, 0.0, 2.5, 10.0, 100.0], np.float32)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def test_log1pexp_is_stable_where_autodiff_is_not():
    naive = fx.grad(lambda x: fnp.log(1.0 + fnp.exp(x)))(100.0)
    assert np.isnan(np.asarray(naive))  # the reason for the custom rule
    for g in (fx.grad(log1pexp), fx.jit(fx.grad(log1pexp))):
        close(g(100.0), 1.0)
    close(fx.vmap(fx.grad(log1pexp))(POINTS), sigmoid(POINTS))
    close(fx.jit(fx.vmap(fx.grad(log1pexp)))(POINTS), sigmoid(POINTS))


def test_log1pexp_second_derivative_differentiates_the_rule():
    # d/dx (1 - 1/(1+e^x)) = e^x / (1+e^x)^2 (the rule's own overflow makes x=100 nan,
    # in JAX too, so the points stop at 10)
    x = POINTS[:-1]
    s = sigmoid(x)
    close(fx.vmap(fx.grad(fx.grad(log1pexp)))(x), s * (1 - s), atol=1e-6)
    close(fx.hessian(log1pexp)(2.5), sigmoid(2.5) * (1 - sigmoid(2.5)))


def test_log1pexp_check_grads():
    check_grads(log1pexp, (fnp.array([-2.0, 0.3, 4.0]),), order=2, modes=("fwd", "rev"))


def test_log1pexp_matches_jax(jax):
    jlog1pexp = make_log1pexp(jax)
    x = POINTS
    for ours, theirs in [
            (log1pexp, jlog1pexp),
            (fx.vmap(fx.grad(log1pexp)), jax.vmap(jax.grad(jlog1pexp))),
            (fx.jit(fx.vmap(fx.grad(fx.grad(log1pexp)))),
             jax.jit(jax.vmap(jax.grad(jax.grad(jlog1pexp)))))]:
        close(ours(x), theirs(x))
    close(fx.jvp(log1pexp, (x,), (fnp.ones(5),))[1], jax.jvp(jlog1pexp, (x,), (np.ones(5),))[1])


@settings(max_examples=15, deadline=None)
@given(shape=st.sampled_from([(), (3,), (2, 3)]), seed=st.integers(0, 2**16))
def test_log1pexp_vmap_and_grad_against_loop(shape, seed):
    x = np.random.RandomState(seed).uniform(-5, 5, (4,) + shape).astype(np.float32)

    def scalar_loss(v):
        return fnp.sum(log1pexp(v))

    batched = fx.vmap(fx.grad(scalar_loss))(fnp.asarray(x))
    looped = np.stack([np.asarray(fx.grad(scalar_loss)(fnp.asarray(row))) for row in x])
    close(batched, looped)
    close(batched, sigmoid(x))


# ---------------------------------------------------------------------------
# a rule that differs from the true derivative: its use is observable


@fx.custom_jvp
def f(x):
    return fnp.sin(x)


@f.defjvp
def f_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return f(x), 10.0 * fnp.cos(x) * t


X = np.array([0.0, 0.5, 1.5], np.float32)


def test_rule_used_under_every_transformation():
    want = 10 * np.cos(X)
    close(f(X), np.sin(X))
    close(fx.vmap(fx.grad(f))(X), want)
    close(fx.jit(fx.vmap(fx.grad(f)))(X), want)
    close(fx.vmap(fx.jit(fx.grad(f)))(X), want)
    close(fx.grad(lambda x: fnp.sum(fx.vmap(f)(x)))(X), want)
    close(fx.grad(lambda x: fnp.sum(fx.jit(f)(x)))(X), want)
    close(fx.jvp(fx.vmap(f), (X,), (np.ones(3, np.float32),))[1], want)
    close(fx.jacfwd(f)(1.5), want[2])
    close(fx.jacrev(fx.vmap(f))(X), np.diag(want))


def test_second_derivative_differentiates_the_rule():
    close(fx.vmap(fx.grad(fx.grad(f)))(X), -10 * np.sin(X))
    close(fx.jit(fx.vmap(fx.grad(fx.grad(f))))(X), -10 * np.sin(X))
    close(fx.hessian(lambda x: fnp.sum(f(x)))(X), np.diag(-10 * np.sin(X)))


def test_vmap_over_each_argument():
    @fx.custom_jvp
    def g(x, y):
        return x * y

    @g.defjvp
    def g_jvp(primals, tangents):
        (x, y), (tx, ty) = primals, tangents
        return g(x, y), 2.0 * tx * y + 3.0 * x * ty

    xs, y = np.arange(3.0, dtype=np.float32), np.float32(2.0)
    grad_x = fx.vmap(fx.grad(g, 0), (0, None))(xs, y)
    grad_y = fx.vmap(fx.grad(g, 1), (None, 0))(y, xs)
    close(grad_x, 2 * y * np.ones(3))
    close(grad_y, 3 * y * np.ones(3))
    # grad through a vmap with an unbatched argument: its cotangent is summed
    gy = fx.grad(lambda y: fnp.sum(fx.vmap(g, (0, None))(xs, y)))(y)
    close(gy, 3 * xs.sum())


def test_stays_custom_when_staged():
    text = str(fx.make_jaxpr(f)(1.0))
    assert "custom_jvp_call[" in text and "jvp=f_jvp" in text and "symbolic_zeros=False" in text
    assert "call_jaxpr={ lambda ; c:f32[]. let d:f32[] = sin c in (d,) }" in \
        " ".join(text.split())
    batched = str(fx.make_jaxpr(fx.vmap(f))(X))
    assert "custom_jvp_call[" in batched and "sin c" in " ".join(batched.split())
    # the gradient's jaxpr holds the rule's computation, not the true derivative's
    grad_text = str(fx.make_jaxpr(fx.grad(f))(1.0))
    assert "10.0" in grad_text and "cos" in grad_text


def test_jaxpr_matches_jax(jax):
    @jax.custom_jvp
    def f(x):
        return jax.numpy.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        return f(primals[0]), 10.0 * jax.numpy.cos(primals[0]) * tangents[0]

    assert str(jax.make_jaxpr(f)(1.0)) == str(fx.make_jaxpr(globals()["f"])(1.0))


# ---------------------------------------------------------------------------
# rule signatures: nondiff_argnums, defjvps, symbolic zeros, pytrees, ints


def test_nondiff_function_argument(jax):
    def build(lib):
        @partial(lib.custom_jvp, nondiff_argnums=(0,))
        def apply(fn, x):
            return fn(x)

        @apply.defjvp
        def apply_jvp(fn, primals, tangents):
            return apply(fn, primals[0]), 2.0 * tangents[0]

        return apply

    apply, japply = build(fx), build(jax)
    for g in (fx.grad(lambda x: apply(fnp.sin, x)), fx.jit(fx.grad(lambda x: apply(fnp.sin, x)))):
        close(g(1.0), 2.0)
    close(fx.vmap(fx.grad(lambda x: apply(fnp.sin, x)))(X), 2 * np.ones(3))
    close(fx.grad(lambda x: apply(fnp.sin, x) ** 2)(1.0),
          jax.grad(lambda x: japply(jax.numpy.sin, x) ** 2)(1.0))


def test_nondiff_traced_argument_gets_no_derivative(jax):
    def build(lib):
        @partial(lib.custom_jvp, nondiff_argnums=(0,))
        def scale(n, x):
            return x * n

        @scale.defjvp
        def scale_jvp(n, primals, tangents):
            return scale(n, primals[0]), tangents[0] * n

        return scale

    scale, jscale = build(fx), build(jax)
    close(fx.grad(lambda x: scale(x, x))(2.0), jax.grad(lambda x: jscale(x, x))(2.0))
    close(fx.grad(lambda x: scale(x, x))(2.0), 2.0)
    close(fx.jit(lambda x: scale(x, x))(2.0), 4.0)


def test_defjvps_matches_jax(jax):
    def build(lib):
        @lib.custom_jvp
        def g(x, y):
            return {"a": x * y, "b": lib.numpy.sin(x)}

        g.defjvps(lambda t, ans, x, y: {"a": 3.0 * t * y, "b": lib.numpy.cos(x) * t},
                  lambda t, ans, x, y: {"a": x * t, "b": lib.numpy.zeros_like(ans["b"])})
        return g

    g, jg = build(fx), build(jax)

    def loss(lib, fun):
        return lambda x, y: fun(x, y)["a"] + 2.0 * fun(x, y)["b"]

    ours = fx.grad(loss(fx, g), (0, 1))(1.0, 2.0)
    theirs = jax.grad(loss(jax, jg), (0, 1))(1.0, 2.0)
    for o, t in zip(ours, theirs):
        close(o, t)
    close(ours[0], 3.0 * 2.0 + 2 * np.cos(1.0))


def test_symbolic_zeros_reach_the_rule():
    seen = []

    @fx.custom_jvp
    def h(x, y):
        return x * y

    def h_jvp(primals, tangents):
        (x, y), (tx, ty) = primals, tangents
        seen.append(tuple(isinstance(t, SymbolicZero) for t in (tx, ty)))
        out = 0.0
        if not isinstance(tx, SymbolicZero):
            out = out + 5.0 * tx * y
        if not isinstance(ty, SymbolicZero):
            out = out + 7.0 * x * ty
        return h(x, y), out

    h.defjvp(h_jvp, symbolic_zeros=True)
    close(fx.grad(h, 0)(2.0, 3.0), 15.0)
    close(fx.grad(h, 1)(2.0, 3.0), 14.0)
    close(fx.jit(fx.grad(h, 0))(2.0, 3.0), 15.0)
    assert (False, True) in seen and (True, False) in seen
    # a rule may return a SymbolicZero: the output then has a zero derivative
    h.defjvp(lambda p, t: (h(*p), SymbolicZero.from_primal_value(p[0] * p[1])),
             symbolic_zeros=True)
    close(fx.grad(lambda x: h(x, 3.0) + x)(2.0), 1.0)


def test_pytrees_kwargs_and_integer_arguments():
    @fx.custom_jvp
    def g(params, n):
        return {"out": params["w"] * n, "aux": (params["b"],)}

    @g.defjvp
    def g_jvp(primals, tangents):
        (params, n), (tp, tn) = primals, tangents
        assert tn.dtype == fx.float0  # integer inputs have float0 tangents
        return g(params, n), {"out": 4.0 * tp["w"] * n, "aux": (tp["b"],)}

    params = {"w": fnp.float32(2.0), "b": fnp.float32(1.0)}
    grads = fx.grad(lambda p: g(p, 3)["out"] + g(n=3, params=p)["aux"][0])(params)
    close(grads["w"], 12.0)
    close(grads["b"], 1.0)


# ---------------------------------------------------------------------------
# errors


def test_errors():
    @fx.custom_jvp
    def no_rule(x):
        return x

    with pytest.raises(AttributeError, match="No JVP defined for custom_jvp function no_rule"):
        fx.grad(no_rule)(1.0)

    @fx.custom_jvp
    def g(x):
        return x * 2.0

    g.defjvp(lambda p, t: g(p[0]))
    with pytest.raises(TypeError, match="must produce a pair"):
        fx.grad(g)(1.0)
    g.defjvp(lambda p, t: (g(p[0]), fnp.ones(3)))
    with pytest.raises(TypeError, match=r"primal f32\[\] with tangent f32\[3\], expecting "
                                        r"tangent f32\[\]"):
        fx.grad(g)(1.0)
    g.defjvp(lambda p, t: ((g(p[0]), g(p[0])), (t[0], t[0])))
    with pytest.raises(TypeError, match="same container"):
        fx.grad(g)(1.0)
    g.defjvp(lambda p, t: (p[0].astype(np.int32), t[0]))
    with pytest.raises(TypeError, match=r"output 0 has type i32\[\] where the function gives "
                                        r"f32\[\]"):
        fx.grad(g)(1.0)


def test_differentiating_a_closed_over_value_is_an_error():
    def outer(y):
        @fx.custom_jvp
        def g(x):
            return x * y

        g.defjvp(lambda p, t: (g(p[0]), t[0] * y))
        return g(2.0)

    with pytest.raises(TypeError, match="closed-over value"):
        fx.grad(outer)(3.0)

    def outer_x(x, y):
        @fx.custom_jvp
        def g(x):
            return x * y

        g.defjvp(lambda p, t: (g(p[0]), 10.0 * t[0] * y))
        return g(x)

    close(fx.grad(outer_x)(2.0, 3.0), 30.0)  # differentiating the explicit argument is fine
    close(fx.vmap(fx.grad(outer_x))(fnp.ones(2), fnp.arange(2.0)), [0.0, 10.0])
    # the rule closes over a value batched by an enclosing vmap (JAX gives [0, 10] too)
    close(fx.grad(lambda x, y: fnp.sum(fx.vmap(outer_x)(x, y)))(fnp.ones(2), fnp.arange(2.0)),
          [0.0, 10.0])
