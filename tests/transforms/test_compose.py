"""Compositions of transformations, in every order, with pytrees.

Oracles: each composition against the same computation done one piece at a
time (a Python loop for vmap, eager for jit, separate grad calls), closed
forms, finite differences, and JAX on the same functions when installed.
"""
import collections
import functools

import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import tree_util

State = collections.namedtuple("State", ["pos", "vel"])


def loss(m, w, x):
    """A small scalar function of a weight vector and one example."""
    return m.sum(m.tanh(w * x) ** 2) + m.mean(m.sin(w) * x)


def _w_x(batch=4, n=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(n).astype(np.float32),
            rng.standard_normal((batch, n)).astype(np.float32))


def _close(a, b, rtol=1e-5, atol=1e-6):
    la, lb = tree_util.tree_leaves(a), tree_util.tree_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb, strict=True):
        assert np.shape(x) == np.shape(y), (np.shape(x), np.shape(y))
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def _per_example_grads_loop(w, xs):
    return np.stack([np.asarray(fx.grad(functools.partial(loss, fnp))(w, x)) for x in xs])


# ---------------------------------------------------------------------------
# vmap / grad / jit in all orders


def test_jit_vmap_grad_matches_loop():
    w, xs = _w_x()
    f = fx.jit(fx.vmap(fx.grad(functools.partial(loss, fnp)), in_axes=(None, 0)))
    _close(f(w, xs), _per_example_grads_loop(w, xs))


def test_vmap_jit_grad_and_grad_inside_vmap_inside_jit():
    w, xs = _w_x()
    want = _per_example_grads_loop(w, xs)
    g = fx.grad(functools.partial(loss, fnp))
    _close(fx.vmap(fx.jit(g), in_axes=(None, 0))(w, xs), want)
    _close(fx.jit(lambda w, xs: fx.vmap(lambda x: g(w, x))(xs))(w, xs), want)
    _close(fx.vmap(lambda x: fx.jit(g)(w, x))(xs), want)


def test_grad_of_vmap_sum_equals_sum_of_grads():
    w, xs = _w_x()
    total = lambda w: fnp.sum(fx.vmap(lambda x: loss(fnp, w, x))(xs))  # noqa: E731
    _close(fx.grad(total)(w), _per_example_grads_loop(w, xs).sum(0), rtol=1e-5, atol=1e-5)
    _close(fx.jit(fx.grad(total))(w), _per_example_grads_loop(w, xs).sum(0), rtol=1e-5,
           atol=1e-5)


def test_grad_through_jit_and_jit_of_grad():
    w, xs = _w_x()
    f = functools.partial(loss, fnp)
    want = fx.grad(f)(w, xs[0])
    _close(fx.grad(fx.jit(f))(w, xs[0]), want)
    _close(fx.jit(fx.grad(f))(w, xs[0]), want)
    _close(fx.grad(lambda w: fx.jit(f)(w, xs[0]) * 2.0)(w), 2 * np.asarray(want))
    _close(fx.grad(fx.jit(f), argnums=1)(w, xs[0]), fx.grad(f, argnums=1)(w, xs[0]))


def test_vmap_of_jit_and_jit_of_vmap():
    xs = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    f = lambda x: fnp.sum(fnp.exp(x) * x) + fnp.max(x)  # noqa: E731
    want = np.array([float(f(x)) for x in xs], np.float32)
    _close(fx.vmap(fx.jit(f))(xs), want)
    _close(fx.jit(fx.vmap(f))(xs), want)
    _close(fx.vmap(fx.jit(f), in_axes=1)(xs.T), want)


def test_higher_order_scalar_derivatives():
    f = lambda x: fnp.sin(x) * fnp.exp(x)  # noqa: E731
    # d^n/dx^n of sin(x) e^x: e^x (sin + cos), 2 e^x cos, 2 e^x (cos - sin)
    x = 0.4
    np.testing.assert_allclose(fx.grad(f)(x), np.exp(x) * (np.sin(x) + np.cos(x)), rtol=1e-5)
    np.testing.assert_allclose(fx.grad(fx.grad(f))(x), 2 * np.exp(x) * np.cos(x), rtol=1e-5)
    np.testing.assert_allclose(fx.grad(fx.grad(fx.grad(f)))(x),
                               2 * np.exp(x) * (np.cos(x) - np.sin(x)), rtol=1e-4)
    np.testing.assert_allclose(fx.jit(fx.grad(fx.jit(fx.grad(f))))(x),
                               2 * np.exp(x) * np.cos(x), rtol=1e-5)


def test_hessian_forms_agree():
    x = np.array([0.3, -0.4, 0.9], np.float32)
    f = lambda x: fnp.sum(fnp.sin(x) * fnp.sum(x ** 2))  # noqa: E731
    h = fx.hessian(f)(x)
    _close(fx.jacfwd(fx.jacrev(f))(x), h, rtol=1e-5, atol=1e-5)
    _close(fx.jacrev(fx.jacfwd(f))(x), h, rtol=1e-5, atol=1e-5)
    _close(fx.jacfwd(fx.jacfwd(f))(x), h, rtol=1e-5, atol=1e-5)
    _close(fx.jacrev(fx.grad(f))(x), h, rtol=1e-5, atol=1e-5)
    # closed form: f = S sum(sin x), S = sum(x^2)
    s, sin_sum = np.sum(x ** 2), np.sum(np.sin(x))
    want = (np.outer(2 * x, np.cos(x)) + np.outer(np.cos(x), 2 * x) + 2 * sin_sum * np.eye(3)
            - s * np.diag(np.sin(x)))
    _close(h, want, rtol=1e-4, atol=1e-5)


def test_hessian_vector_products():
    x = np.array([0.3, -0.4, 0.9], np.float32)
    v = np.array([1.0, 2.0, -1.0], np.float32)
    f = lambda x: fnp.sum(fnp.exp(x) * x) ** 2  # noqa: E731
    h = np.asarray(fx.hessian(f)(x))
    fwd_over_rev = fx.jvp(fx.grad(f), (x,), (v,))[1]
    rev_over_fwd = fx.grad(lambda x: fnp.sum(fx.jvp(f, (x,), (v,))[1]))(x)
    rev_over_rev = fx.grad(lambda x: fnp.sum(fx.grad(f)(x) * v))(x)
    for hv in (fwd_over_rev, rev_over_fwd, rev_over_rev):
        _close(hv, h @ v, rtol=1e-4, atol=1e-4)


def test_vmap_of_jvp_and_jvp_of_vmap():
    xs = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    ts = np.random.default_rng(3).standard_normal((4, 3)).astype(np.float32)
    f = lambda x: fnp.sum(fnp.sin(x) ** 2) * x  # noqa: E731
    loop = [fx.jvp(f, (x,), (t,)) for x, t in zip(xs, ts, strict=True)]
    want = (np.stack([np.asarray(p) for p, _ in loop]), np.stack([np.asarray(t) for _, t in loop]))
    _close(fx.vmap(lambda x, t: fx.jvp(f, (x,), (t,)))(xs, ts), want)
    _close(fx.jvp(fx.vmap(f), (xs,), (ts,)), want)


def test_vmap_of_vjp_and_vjp_of_vmap():
    xs = np.random.default_rng(4).standard_normal((4, 3)).astype(np.float32)
    cts = np.random.default_rng(5).standard_normal((4, 3)).astype(np.float32)
    f = lambda x: fnp.tanh(x) * fnp.sum(x)  # noqa: E731
    want = np.stack([np.asarray(fx.vjp(f, x)[1](c)[0]) for x, c in zip(xs, cts, strict=True)])
    _close(fx.vmap(lambda x, c: fx.vjp(f, x)[1](c)[0])(xs, cts), want)
    _close(fx.vjp(fx.vmap(f), xs)[1](cts)[0], want)


def test_vmap_of_linearize():
    xs = np.random.default_rng(6).standard_normal((3, 2)).astype(np.float32)
    t = np.array([1.0, -1.0], np.float32)
    f = lambda x: fnp.exp(x) * fnp.sum(x)  # noqa: E731

    def lin_apply(x):
        _, f_jvp = fx.linearize(f, x)
        return f_jvp(t)
    want = np.stack([np.asarray(fx.jvp(f, (x,), (t,))[1]) for x in xs])
    _close(fx.vmap(lin_apply)(xs), want)
    _close(fx.jit(fx.vmap(lin_apply))(xs), want)


def test_jacobians_of_jit_and_vmap_of_jacobians():
    xs = np.random.default_rng(7).standard_normal((3, 2)).astype(np.float32)
    f = lambda x: fnp.sin(x) * fnp.sum((x + 2.0) ** 2)  # noqa: E731
    want = np.stack([np.asarray(fx.jacrev(f)(x)) for x in xs])
    _close(fx.vmap(fx.jacrev(f))(xs), want)
    _close(fx.vmap(fx.jacfwd(fx.jit(f)))(xs), want)
    _close(fx.jit(fx.vmap(fx.jacfwd(f)))(xs), want)


def test_linearize_vjp_transpose_and_hessian_of_jit():
    x = np.array([0.3, -0.6, 1.0], np.float32)
    t = np.array([1.0, 2.0, -1.0], np.float32)
    f = lambda x: fnp.sin(x) * fnp.sum(x ** 2)  # noqa: E731
    jf = fx.jit(f)
    y, f_jvp = fx.linearize(jf, x)
    _close(y, f(x))
    _close(f_jvp(t), fx.jvp(f, (x,), (t,))[1])
    _close(fx.vjp(jf, x)[1](t)[0], fx.vjp(f, x)[1](t)[0])
    # an input the jitted output ignores gets a zero cotangent of the right shape
    ct = fx.vjp(fx.jit(lambda a, b: a * 2.0), x, np.ones(2, np.float32))[1](t)
    _close(ct, (2.0 * t, np.zeros(2, np.float32)))
    (lin_t,) = fx.linear_transpose(fx.jit(lambda v: 3.0 * v - fnp.sum(v)), x)(t)
    _close(lin_t, 3.0 * t - np.sum(t))
    _close(fx.hessian(fx.jit(lambda x: fnp.sum(f(x))))(x),
           fx.hessian(lambda x: fnp.sum(f(x)))(x), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------
# closures over tracers and perturbation confusion


def test_jit_of_closure_over_outer_tracers():
    # the jitted inner function closes over x, a tracer of the enclosing grad / vmap
    np.testing.assert_allclose(fx.grad(lambda x: fx.jit(lambda y: x * y)(2.0))(3.0), 2.0)
    np.testing.assert_allclose(
        fx.grad(lambda x: fx.jit(lambda y: fnp.sin(x) * y ** 2)(3.0))(0.5), 9 * np.cos(0.5),
        rtol=1e-6)
    xs = np.arange(3.0, dtype=np.float32)
    _close(fx.vmap(lambda x: fx.jit(lambda y: x + y)(1.0))(xs), xs + 1.0)
    _close(fx.jit(lambda x: fx.jit(lambda y: x * y)(x + 1.0))(np.float32(2.0)), 6.0)
    _close(fx.vmap(fx.grad(lambda x: fx.jit(lambda y: x * x * y)(2.0)))(xs), 4.0 * xs)


def test_closure_over_tracer_in_jvp_and_vmap():
    xs = np.array([1.0, 2.0, 3.0], np.float32)
    # inner vmap closes over the outer vmap's tracer
    got = fx.vmap(lambda a: fx.vmap(lambda b: a * b)(xs))(xs)
    _close(got, np.outer(xs, xs))
    # jvp inside grad closing over the grad's tracer
    g = fx.grad(lambda x: fx.jvp(lambda y: x * fnp.sin(y), (0.3,), (1.0,))[1])(2.0)
    np.testing.assert_allclose(g, np.cos(0.3), rtol=1e-6)


def test_perturbation_confusion_jvp():
    # d/dx (x * d/dy (x + y)) = d/dx (x * 1) = 1: the inner derivative must not see x's
    # perturbation.
    def inner_derivative(x):
        return fx.jvp(lambda y: x + y, (1.0,), (1.0,))[1]
    f = lambda x: x * inner_derivative(x)  # noqa: E731
    np.testing.assert_allclose(fx.jvp(f, (2.0,), (1.0,))[1], 1.0)
    np.testing.assert_allclose(fx.grad(f)(2.0), 1.0)
    np.testing.assert_allclose(fx.jit(fx.grad(f))(2.0), 1.0)
    np.testing.assert_allclose(fx.grad(fx.jit(f))(2.0), 1.0)


def test_perturbation_confusion_grad():
    # d/dx (x * d/dy (x * y))|_{y=1} = d/dx (x * x) = 2x
    f = lambda x: x * fx.grad(lambda y: x * y)(1.0)  # noqa: E731
    np.testing.assert_allclose(fx.grad(f)(3.0), 6.0)
    np.testing.assert_allclose(fx.jvp(f, (3.0,), (1.0,))[1], 6.0)
    # Siskind & Pearlmutter's example: d/dx (x * d/dy (x + y)) with y = x
    g = lambda x: x * fx.grad(lambda y: x + y)(x)  # noqa: E731
    np.testing.assert_allclose(fx.grad(g)(5.0), 1.0)
    xs = np.array([1.0, 2.0], np.float32)
    _close(fx.vmap(fx.grad(f))(xs), 2 * xs)


def test_nested_vmap_grad_confusion():
    # per-example gradient of a function that itself vmaps over the same data
    xs = np.array([1.0, 2.0, 3.0], np.float32)

    def f(w):
        return fnp.sum(fx.vmap(lambda x: w * x ** 2)(xs))
    np.testing.assert_allclose(fx.grad(f)(2.0), np.sum(xs ** 2))
    ws = np.array([1.0, 5.0], np.float32)
    _close(fx.vmap(fx.grad(f))(ws), np.full(2, np.sum(xs ** 2)))


# ---------------------------------------------------------------------------
# pytrees through compositions


def test_pytrees_through_jit_vmap_grad():
    def energy(state, k):
        return fnp.sum(0.5 * state.vel ** 2 + 0.5 * k["spring"] * state.pos ** 2)
    states = State(np.array([[1.0, 2.0], [0.5, 0.0], [3.0, 1.0]], np.float32),
                   np.array([[0.1, 0.2], [0.3, 0.4], [0.0, 1.0]], np.float32))
    k = {"spring": np.float32(2.0), "unused": None}
    g = fx.jit(fx.vmap(fx.grad(energy), in_axes=(State(0, 0), None)))(states, k)
    assert isinstance(g, State)
    _close(g.pos, 2.0 * states.pos)
    _close(g.vel, states.vel)
    gk = fx.grad(lambda k: fnp.sum(fx.vmap(energy, in_axes=(0, None))(states, k)))(k)
    assert gk["unused"] is None
    np.testing.assert_allclose(gk["spring"], 0.5 * np.sum(states.pos ** 2), rtol=1e-6)


def test_value_and_grad_has_aux_under_vmap_and_jit():
    xs = np.array([1.0, 2.0, 3.0], np.float32)
    f = lambda w, x: ((w * x) ** 2, {"pred": w * x})  # noqa: E731
    (vals, aux), grads = fx.jit(fx.vmap(fx.value_and_grad(f, has_aux=True),
                                        in_axes=(None, 0)))(np.float32(2.0), xs)
    _close(vals, (2 * xs) ** 2)
    _close(aux["pred"], 2 * xs)
    _close(grads, 2 * 2.0 * xs ** 2)


# ---------------------------------------------------------------------------
# against JAX


def test_compositions_match_jax():
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    w, xs = _w_x(batch=3, n=4, seed=9)
    compositions = {
        "jit_vmap_grad": lambda t, m: t.jit(t.vmap(t.grad(functools.partial(loss, m)),
                                                   in_axes=(None, 0)))(w, xs),
        "grad_grad": lambda t, m: t.grad(t.grad(lambda s: loss(m, w * s, xs[0])))(0.7),
        "hessian": lambda t, m: t.hessian(functools.partial(loss, m))(w, xs[0]),
        "jacfwd_jacrev": lambda t, m: t.jacfwd(t.jacrev(functools.partial(loss, m)))(w, xs[0]),
        "vmap_jvp": lambda t, m: t.vmap(lambda x: t.jvp(lambda v: loss(m, v, x), (w,),
                                                        (x,)))(xs),
        "grad_jit_vmap": lambda t, m: t.grad(lambda v: m.sum(t.jit(t.vmap(
            lambda x: loss(m, v, x)))(xs)))(w),
    }
    for name, comp in compositions.items():
        got = comp(fx, fnp)
        want = jax.jit(functools.partial(comp, jax, jnp))()  # one XLA compile each
        try:
            _close(got, jax.tree_util.tree_leaves(want), rtol=1e-4, atol=1e-5)
        except AssertionError as e:
            raise AssertionError(f"composition {name}: {e}") from None
