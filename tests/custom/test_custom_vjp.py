"""``fx.custom_vjp``, ``fx.custom_gradient`` and ``fx.closure_convert``: the
custom backward rule is used under every transformation, forward mode is an
error, and JAX's documentation examples (gradient clipping, implicit
differentiation of a fixed point) give JAX's values.

Oracles: closed-form derivatives, finite differences, a Python loop over the
batch, eager for ``jit``, and JAX.
"""
from __future__ import annotations

from functools import partial

import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx.custom_derivatives import CustomVJPPrimal, SymbolicZero
from fx.errors import UnexpectedTracerError
from fx.test_util import check_grads


def close(got, want, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------
# JAX's documentation example: gradient clipping


def make_clip_gradient(lib):
    @partial(lib.custom_vjp, nondiff_argnums=(0, 1))
    def clip_gradient(lo, hi, x):
        return x

    def clip_gradient_fwd(lo, hi, x):
        return x, None

    def clip_gradient_bwd(lo, hi, _, g):
        return (lib.numpy.clip(g, lo, hi),)

    clip_gradient.defvjp(clip_gradient_fwd, clip_gradient_bwd)
    return clip_gradient


clip_gradient = make_clip_gradient(fx)
XS = np.linspace(-3.0, 3.0, 7).astype(np.float32)


def test_gradient_clipping():
    def loss(x):
        return fnp.sin(clip_gradient(-0.75, 0.75, x)) * 3.0

    want = np.clip(3.0 * np.cos(XS), -0.75, 0.75)  # the cotangent reaching x, clipped
    close(fx.vmap(fx.grad(loss))(XS), want)
    close(fx.jit(fx.vmap(fx.grad(loss)))(XS), want)
    close(fx.grad(lambda x: fnp.sum(fx.vmap(loss)(x)))(XS), want)
    close(loss(XS), 3.0 * np.sin(XS))


def test_gradient_clipping_finite_differences_where_inactive():
    # with bounds the cotangent never reaches, the rule is the true derivative
    check_grads(lambda x: fnp.sin(clip_gradient(-10.0, 10.0, x)) * x,
                (fnp.array([0.3, -1.2, 2.0]),), order=2, modes=("rev",))


def test_gradient_clipping_matches_jax(jax):
    jclip = make_clip_gradient(jax)

    def build(lib, clip):
        return lambda x: lib.numpy.sum(lib.numpy.sin(clip(-0.75, 0.75, x)) * x ** 2)

    ours, theirs = build(fx, clip_gradient), build(jax, jclip)
    close(fx.grad(ours)(XS), jax.grad(theirs)(XS))
    close(fx.jit(fx.grad(ours))(XS), jax.jit(jax.grad(theirs))(XS))
    # forward over reverse differentiates the rule (clip) itself:
    # grad = clip(cos(x) x^2, lo, hi) + 2 x sin(x)
    x = XS.astype(np.float64)
    inner = np.cos(x) * x ** 2
    d_inner = np.where(np.abs(inner) < 0.75, -np.sin(x) * x ** 2 + 2 * x * np.cos(x), 0.0)
    close(fx.hessian(ours)(XS), np.diag(d_inner + 2 * np.sin(x) + 2 * x * np.cos(x)),
          rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------
# JAX's documentation example: implicit differentiation of a fixed point


def make_fixed_point(lib):
    np_ = lib.numpy

    @partial(lib.custom_vjp, nondiff_argnums=(0,))
    def fixed_point(f, a, x_guess):
        def cond_fun(carry):
            x_prev, x = carry
            return np_.abs(x_prev - x) > 1e-6

        def body_fun(carry):
            _, x = carry
            return x, f(a, x)

        _, x_star = lib.lax.while_loop(cond_fun, body_fun, (x_guess, f(a, x_guess)))
        return x_star

    def fixed_point_fwd(f, a, x_init):
        x_star = fixed_point(f, a, x_init)
        return x_star, (a, x_star)

    def rev_iter(f, packed, u):
        a, x_star, x_star_bar = packed
        _, vjp_x = lib.vjp(lambda x: f(a, x), x_star)
        return x_star_bar + vjp_x(u)[0]

    def fixed_point_rev(f, res, x_star_bar):
        a, x_star = res
        _, vjp_a = lib.vjp(lambda a: f(a, x_star), a)
        a_bar, = vjp_a(fixed_point(partial(rev_iter, f), (a, x_star, x_star_bar), x_star_bar))
        return a_bar, np_.zeros_like(x_star)

    fixed_point.defvjp(fixed_point_fwd, fixed_point_rev)

    def newton_sqrt(a):
        return fixed_point(lambda a, x: 0.5 * (x + a / x), a, a)

    return newton_sqrt


@pytest.fixture(scope="module")
def newton_sqrt():
    if not hasattr(fx.lax, "while_loop"):
        pytest.skip("fx.lax.while_loop is not available yet")
    return make_fixed_point(fx)


A = np.array([0.5, 2.0, 9.0], np.float32)


def test_fixed_point_implicit_gradient(newton_sqrt):
    close(fx.vmap(newton_sqrt)(A), np.sqrt(A))
    close(fx.vmap(fx.grad(newton_sqrt))(A), 0.5 / np.sqrt(A))
    close(fx.jit(fx.vmap(fx.grad(newton_sqrt)))(A), 0.5 / np.sqrt(A))
    # the reverse rule is itself differentiated (it contains a fixed point too)
    close(fx.grad(fx.grad(newton_sqrt))(2.0), -0.25 * 2.0 ** -1.5, rtol=1e-4)
    check_grads(newton_sqrt, (fnp.float32(2.0),), order=1, modes=("rev",), eps=1e-2)


def test_fixed_point_matches_jax(jax, newton_sqrt):
    jsqrt = make_fixed_point(jax)
    for a in A[:2]:
        close(fx.grad(newton_sqrt)(a), jax.grad(jsqrt)(a))


# ---------------------------------------------------------------------------
# a rule that differs from the true derivative: its use is observable


@fx.custom_vjp
def g(x, y):
    return fnp.sin(x) * y


def g_fwd(x, y):
    return g(x, y), {"cos": fnp.cos(x), "xy": (x, y)}


def g_bwd(res, ct):
    x, y = res["xy"]
    return 10.0 * res["cos"] * y * ct, None  # None: no cotangent for y


g.defvjp(g_fwd, g_bwd)
X = np.array([0.0, 0.5, 1.5], np.float32)


def test_rule_used_under_every_transformation():
    want = 10 * np.cos(X) * 2.0
    close(fx.vmap(fx.grad(g), (0, None))(X, 2.0), want)
    close(fx.jit(fx.vmap(fx.grad(g), (0, None)))(X, 2.0), want)
    close(fx.grad(lambda x: fnp.sum(fx.vmap(g, (0, None))(x, 2.0)))(X), want)
    close(fx.grad(lambda x: fnp.sum(fx.jit(g)(x, 2.0)))(X), want)
    close(fx.jacrev(lambda x: g(x, 2.0))(X), np.diag(want))
    close(fx.grad(g, 1)(1.0, 2.0), 0.0)  # bwd said None for y
    # grad through vmap with an unbatched y: y's cotangent (zero here) is summed
    gx, gy = fx.grad(lambda x, y: fnp.sum(fx.vmap(g, (0, None))(x, y)), (0, 1))(X, 2.0)
    close(gx, want)
    close(gy, 0.0)


def test_second_derivative_differentiates_the_rules():
    # bwd is 10 cos(x) y ct: its derivative in x is -10 sin(x) y
    close(fx.vmap(fx.grad(fx.grad(g)), (0, None))(X, 2.0), -10 * np.sin(X) * 2.0)
    close(fx.jit(fx.grad(fx.grad(g)))(0.5, 2.0), -20 * np.sin(0.5))


def test_forward_mode_is_an_error():
    msg = "can't apply forward-mode autodiff"
    with pytest.raises(TypeError, match=msg):
        fx.jvp(g, (1.0, 2.0), (1.0, 1.0))
    with pytest.raises(TypeError, match=msg):
        fx.jacfwd(g)(1.0, 2.0)
    with pytest.raises(TypeError, match=msg):
        fx.jvp(fx.jit(g), (1.0, 2.0), (1.0, 1.0))


def test_true_derivative_check_grads_reverse():
    @fx.custom_vjp
    def softplus(x):
        return fnp.log1p(fnp.exp(x))

    softplus.defvjp(lambda x: (softplus(x), x),
                    lambda x, g: (g / (1.0 + fnp.exp(-x)),))
    check_grads(softplus, (fnp.array([-1.0, 0.5, 2.0]),), order=2, modes=("rev",))


def test_linearize_leaves_custom_lin():
    _, f_jvp = fx.linearize(lambda x: fnp.sum(g(x, 2.0)), fnp.ones(2))
    text = str(fx.make_jaxpr(f_jvp)(fnp.ones(2)))
    assert "custom_lin[ bwd=g_bwd in_zeros=(False, True) num_res=3" in " ".join(text.split())
    with pytest.raises(TypeError, match="can't apply forward-mode autodiff"):
        f_jvp(fnp.ones(2))  # evaluating the linear map forward needs forward mode


def test_jaxpr_text_matches_jax(jax):
    def build(lib):
        @lib.custom_vjp
        def k(x):
            return lib.numpy.sin(x)

        def k_fwd(x):
            return k(x), lib.numpy.cos(x)

        def k_bwd(c, g):
            return (c * g,)

        k.defvjp(k_fwd, k_bwd)
        return k

    assert str(fx.make_jaxpr(build(fx))(1.0)) == str(jax.make_jaxpr(build(jax))(1.0))


# ---------------------------------------------------------------------------
# rule signatures: residual pytrees, nondiff_argnums, symbolic zeros


def test_pytree_arguments_and_residuals(jax):
    def build(lib):
        @lib.custom_vjp
        def v(params, d):
            return params["w"] * d[0] + d[1]

        def v_fwd(params, d):
            return v(params, d), {"r": (params["w"], d), "none": None}

        def v_bwd(res, ct):
            w, d = res["r"]
            return {"w": 3.0 * ct * d[0]}, (ct * w, None)

        v.defvjp(v_fwd, v_bwd)
        return v

    v, jv = build(fx), build(jax)
    ours = fx.grad(v, (0, 1))({"w": 2.0}, (3.0, 4.0))
    theirs = jax.grad(jv, (0, 1))({"w": 2.0}, (3.0, 4.0))
    close(ours[0]["w"], theirs[0]["w"])
    close(ours[1][0], theirs[1][0])
    close(ours[1][1], theirs[1][1])
    batched = fx.vmap(fx.grad(v, (0, 1)), ({"w": 0}, (None, 0)))(
        {"w": fnp.arange(3.0)}, (3.0, fnp.ones(3)))
    close(batched[0]["w"], [9.0, 9.0, 9.0])
    close(batched[1][0], [0.0, 1.0, 2.0])


def test_nondiff_argnums_and_static_values():
    @partial(fx.custom_vjp, nondiff_argnums=(1,))
    def power(x, n):
        return x ** n

    power.defvjp(lambda x, n: (power(x, n), x), lambda n, x, g: (g * n * x ** (n - 1),))
    close(fx.grad(power)(2.0, 3), 12.0)
    close(fx.jit(fx.grad(power), static_argnums=1)(2.0, 3), 12.0)
    close(fx.vmap(fx.grad(power), (0, None))(X, 2), 2 * X)

    @partial(fx.custom_vjp, nondiff_argnums=(0,))
    def h(n, x):
        return x * n

    h.defvjp(lambda n, x: (h(n, x), None), lambda n, r, g: (g * n,))
    with pytest.raises(UnexpectedTracerError, match="nondiff_argnums"):
        fx.grad(lambda x: h(x, x))(2.0)
    close(fx.grad(lambda x, n: h(n, x))(2.0, 3.0), 3.0)


def test_symbolic_zeros():
    seen = {}

    @fx.custom_vjp
    def s(x, y):
        return x * y

    def s_fwd(x, y):
        assert isinstance(x, CustomVJPPrimal) and isinstance(y, CustomVJPPrimal)
        seen["perturbed"] = (x.perturbed, y.perturbed)
        return s(x.value, y.value), (x.value, y.value)

    def s_bwd(res, g):
        seen["g"] = type(g)
        return g * res[1], g * res[0]

    s.defvjp(s_fwd, s_bwd, symbolic_zeros=True)
    close(fx.grad(s)(2.0, 3.0), 3.0)
    assert seen["perturbed"] == (True, False)

    @fx.custom_vjp
    def two(x):
        return x, 2.0 * x

    def two_bwd(res, g):
        seen["zero"] = isinstance(g[1], SymbolicZero)
        return (g[0] if not isinstance(g[0], SymbolicZero) else 0.0,)

    two.defvjp(lambda x: (two(x.value), None), two_bwd, symbolic_zeros=True)
    close(fx.grad(lambda x: two(x)[0])(1.0), 1.0)
    assert seen["zero"]


# ---------------------------------------------------------------------------
# custom_gradient and closure_convert


def test_custom_gradient_matches_jax(jax):
    def build(lib):
        @lib.custom_gradient
        def f(x, y):
            return x * y, lambda g: (10.0 * g * y, g * x)

        return f

    f, jf = build(fx), build(jax)
    close(f(2.0, 3.0), 6.0)
    ours = fx.grad(f, (0, 1))(2.0, 3.0)
    theirs = jax.grad(jf, (0, 1))(2.0, 3.0)
    close(ours[0], theirs[0])
    close(ours[1], theirs[1])
    close(fx.jit(fx.grad(f))(2.0, 3.0), 30.0)
    close(fx.vmap(fx.grad(f))(fnp.ones(2), fnp.arange(2.0)), [0.0, 10.0])


def test_closure_convert_passes_closed_over_tracers_through_custom_vjp():
    @partial(fx.custom_vjp, nondiff_argnums=(0,))
    def call(fn, x, *consts):
        return fn(x, *consts)

    def call_fwd(fn, x, *consts):
        return call(fn, x, *consts), (x, consts)

    def call_bwd(fn, res, g):
        x, consts = res
        _, pullback = fx.vjp(fn, x, *consts)
        return pullback(g)

    call.defvjp(call_fwd, call_bwd)

    def outer(y):
        converted, consts = fx.closure_convert(lambda x: fnp.sin(x * y), 1.0)
        assert len(consts) == 1  # y, a traced value, was hoisted
        return call(converted, 2.0, *consts)

    close(fx.grad(outer)(3.0), 2.0 * np.cos(6.0))
    close(fx.vmap(fx.grad(outer))(X), 2.0 * np.cos(2.0 * X))


# ---------------------------------------------------------------------------
# errors (JAX's messages)


def test_errors():
    @fx.custom_vjp
    def k(x, y):
        return x * y

    k.defvjp(lambda x, y: (k(x, y), (x, y)), lambda r, g: (g * r[1],))
    with pytest.raises(TypeError, match="must produce a tuple of length equal to the number "
                                        r"of arguments to the primal function, but got bwd "
                                        r"output structure PyTreeDef\(\(\*,\)\)"):
        fx.grad(k)(2.0, 3.0)
    k.defvjp(lambda x, y: (k(x, y), (x, y)), lambda r, g: (g * r[1], fnp.ones(3)))
    with pytest.raises(ValueError, match=r"at output\[1\] the bwd rule produced an output of "
                                         r"type f32\[3\] corresponding to an input of type "
                                         r"f32\[\], so the shapes do not match"):
        fx.grad(k)(2.0, 3.0)
    k.defvjp(lambda x, y: k(x, y), lambda r, g: (g, g))
    with pytest.raises(TypeError, match="must produce a pair"):
        fx.grad(k)(2.0, 3.0)
    k.defvjp(lambda x, y: (k(x, y), "not an array"), lambda r, g: (g, g))
    with pytest.raises(TypeError, match="residual 'not an array' of type str"):
        fx.grad(k)(2.0, 3.0)

    @fx.custom_vjp
    def no_rule(x):
        return x

    with pytest.raises(AttributeError, match="No VJP defined"):
        fx.grad(no_rule)(1.0)


def test_differentiating_a_closed_over_value_is_an_error():
    def outer(x, y):
        @fx.custom_vjp
        def f(x):
            return x * y

        f.defvjp(lambda x: (f(x), None), lambda r, g: (10.0 * g * y,))
        return f(x)

    close(fx.grad(outer)(2.0, 3.0), 30.0)
    close(fx.vmap(fx.grad(outer))(fnp.ones(2), fnp.arange(2.0)), [0.0, 10.0])
    close(fx.jit(fx.grad(outer))(2.0, 3.0), 30.0)
    # bwd closes over a value batched by an enclosing vmap
    close(fx.grad(lambda x, y: fnp.sum(fx.vmap(outer)(x, y)))(fnp.ones(2), fnp.arange(2.0)),
          [0.0, 10.0])
    with pytest.raises(TypeError, match="closed-over value"):
        fx.grad(outer, 1)(2.0, 3.0)
