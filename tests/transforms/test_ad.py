"""Automatic differentiation: grad, value_and_grad, jvp, vjp, linearize,
linear_transpose, jacfwd, jacrev, hessian.

Oracles: central finite differences (float32 with loose tolerances, float64
under ``enable_x64`` with tight ones), the adjoint identity
``<vjp(ct), t> == <ct, jvp(t)>``, closed-form derivatives, and JAX on the same
functions when it is installed (the table's functions take the numpy module as
their first argument, so the same code runs on ``fx.numpy`` and ``jax.numpy``).
"""
import collections
import functools

import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import lax
from fx import tree_util

Point = collections.namedtuple("Point", ["x", "y"])


# ---------------------------------------------------------------------------
# local finite-difference machinery (independent of fx's own test helpers)


def _leaves(tree):
    return [np.asarray(leaf, dtype=np.float64) if np.asarray(leaf).dtype.kind != "c"
            else np.asarray(leaf, dtype=np.complex128) for leaf in tree_util.tree_leaves(tree)]


def _rand_like(rng, x):
    x = np.asarray(x)
    return rng.standard_normal(x.shape).astype(x.dtype)


def _fd_jvp(f, args, tangents, eps):
    """Central difference of ``f`` at ``args`` in direction ``tangents`` (flat leaves)."""
    plus = f(*[a + eps * t for a, t in zip(args, tangents, strict=True)])
    minus = f(*[a - eps * t for a, t in zip(args, tangents, strict=True)])
    return [(p - m) / (2 * eps) for p, m in zip(_leaves(plus), _leaves(minus), strict=True)]


def _vdot(xs, ys):
    return sum(float(np.vdot(np.ravel(x), np.ravel(y)).real) for x, y in zip(xs, ys, strict=True))


def _check_jvp(f, args, rng, eps, rtol, atol):
    tangents = [_rand_like(rng, a) for a in args]
    _, t_out = fx.jvp(f, tuple(args), tuple(tangents))
    expected = _fd_jvp(f, args, tangents, eps)
    got = _leaves(t_out)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


def _check_vjp(f, args, rng, eps, rtol, atol):
    tangents = [_rand_like(rng, a) for a in args]
    out, pullback = fx.vjp(f, *args)
    cts = tree_util.tree_map(lambda o: _rand_like(rng, o), out)
    cts_in = pullback(cts)
    assert isinstance(cts_in, tuple) and len(cts_in) == len(args)
    lhs = _vdot(_leaves(cts_in), tangents)
    rhs = _vdot(_leaves(cts), _fd_jvp(f, args, tangents, eps))
    np.testing.assert_allclose(lhs, rhs, rtol=rtol, atol=atol)


def check_grads(f, args, order=2, modes=("fwd", "rev"), eps=1e-3, rtol=2e-2, atol=2e-2,
                seed=0):
    """Compare fx's derivatives of ``f`` (up to ``order``) with finite differences."""
    rng = np.random.default_rng(seed)
    args = [np.asarray(a) for a in args]
    if "fwd" in modes:
        _check_jvp(f, args, rng, eps, rtol, atol)
        if order > 1:
            tangents = [_rand_like(rng, a) for a in args]
            check_grads(lambda *a: fx.jvp(f, a, tuple(tangents))[1], args, order - 1,
                        ("fwd",), eps, rtol, atol, seed + 1)
    if "rev" in modes:
        _check_vjp(f, args, rng, eps, rtol, atol)
        if order > 1:
            out = f(*args)
            cts = tree_util.tree_map(lambda o: _rand_like(rng, o), out)
            check_grads(lambda *a: fx.vjp(f, *a)[1](cts), args, order - 1, ("rev",),
                        eps, rtol, atol, seed + 1)


# ---------------------------------------------------------------------------
# the table: functions written against a numpy module ``m`` (fx.numpy or jax.numpy)

# domain: "real" draws N(0,1) pushed away from 0; "pos" draws from [0.5, 2]
FUNCS = {
    "sin_x_squared": (lambda m, x: m.sum(m.sin(x) * x ** 2), [((3,), "real")]),
    "tanh_exp_two_args": (lambda m, x, y: m.sum(m.tanh(x) * m.exp(y)) / (1.0 + m.mean(y ** 2)),
                          [((2, 3), "real"), ((2, 3), "real")]),
    "reshape_broadcast": (lambda m, x, y: m.sum(m.cos(m.reshape(x, (3, 2)) * y)),
                          [((6,), "real"), ((2,), "real")]),
    "transpose_log": (lambda m, x, y: m.sum(m.transpose(x) ** 2 * m.log(y)),
                      [((2, 3), "real"), ((3, 2), "pos")]),
    "where_piecewise": (lambda m, x: m.sum(m.where(x > 0, x ** 3, 0.5 * x)), [((5,), "real")]),
    "max_rows": (lambda m, x: m.sum(m.max(x * m.cos(x), axis=1)), [((3, 4), "real")]),
    "prod": (lambda m, x: m.prod(1.0 + x ** 2), [((4,), "real")]),
    "sqrt_log": (lambda m, x: m.sum(m.sqrt(x) + m.log(x) * x), [((3,), "pos")]),
    "divide": (lambda m, x, y: m.sum(x / (1.0 + y ** 2)), [((3,), "real"), ((3,), "real")]),
    "maximum_minimum": (lambda m, x, y: m.sum(m.maximum(x, y) * x - m.minimum(x, 2 * y)),
                        [((4,), "real"), ((4,), "real")]),
    "mean_var": (lambda m, x: m.sum(m.mean(x, axis=0) ** 2) + m.var(x), [((3, 2), "real")]),
    "broadcast_to": (lambda m, x: m.sum(m.broadcast_to(x, (4, 3)) *
                                        m.reshape(m.arange(12.0), (4, 3))), [((3,), "real")]),
    "expand_squeeze": (lambda m, x: m.sum(m.squeeze(m.expand_dims(x, 0), 0) ** 3),
                       [((2, 2), "real")]),
    "power": (lambda m, x, y: m.sum(x ** y), [((3,), "pos"), ((3,), "real")]),
    "abs_times": (lambda m, x: m.sum(m.abs(x) * x + m.exp(-x * x)), [((4,), "real")]),
    "sum_keepdims": (lambda m, x: m.sum(m.sum(x, axis=1, keepdims=True) * x),
                     [((2, 3), "real")]),
}


def _make_args(spec, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    args = []
    for shape, domain in spec:
        if domain == "pos":
            a = rng.uniform(0.5, 2.0, shape)
        else:
            a = rng.standard_normal(shape)
            a = np.where(np.abs(a) < 0.2, a + np.sign(a + 1e-9) * 0.3, a)
        args.append(a.astype(dtype))
    return args


def _fx_fun(name):
    return functools.partial(FUNCS[name][0], fnp)


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_check_grads_float32(name):
    f = _fx_fun(name)
    check_grads(f, _make_args(FUNCS[name][1]), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_fx_test_util_check_grads(name):
    test_util = pytest.importorskip("fx.test_util")
    args = [fnp.asarray(a) for a in _make_args(FUNCS[name][1])]
    test_util.check_grads(_fx_fun(name), tuple(args), order=2, modes=("fwd", "rev"),
                          atol=2e-2, rtol=2e-2)


@pytest.mark.parametrize("name", ["sin_x_squared", "tanh_exp_two_args", "transpose_log",
                                  "power", "mean_var"])
def test_check_grads_float64(name):
    f = _fx_fun(name)
    with fx.enable_x64():
        args = _make_args(FUNCS[name][1], dtype=np.float64)
        check_grads(f, args, order=2, modes=("fwd", "rev"), eps=1e-5, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_grad_all_args_vs_finite_differences(name):
    f = _fx_fun(name)
    args = _make_args(FUNCS[name][1])
    grads = fx.grad(f, argnums=tuple(range(len(args))))(*args)
    assert isinstance(grads, tuple) and len(grads) == len(args)
    eps = 1e-3
    for i, (a, g) in enumerate(zip(args, grads, strict=True)):
        assert g.shape == a.shape and g.dtype == np.float32
        fd = np.zeros(a.shape, np.float64)
        for idx in np.ndindex(a.shape):
            e = np.zeros_like(a)
            e[idx] = eps
            plus = list(args)
            plus[i] = a + e
            minus = list(args)
            minus[i] = a - e
            fd[idx] = (float(f(*plus)) - float(f(*minus))) / (2 * eps)
        np.testing.assert_allclose(np.asarray(g), fd, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_derivatives_vs_jax(name):
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    fn, spec = FUNCS[name]
    args = _make_args(spec)
    tangents = [a * 0.5 + 1.0 for a in args]
    argnums = tuple(range(len(args)))

    def derivatives(t, m, cast):
        f = functools.partial(fn, m)

        def run(*a):
            y, ty = t.jvp(f, tuple(a), tuple(cast(x) for x in tangents))
            return (t.grad(f, argnums)(*a), y, ty,
                    t.vjp(f, *a)[1](cast(np.float32(0.5))), t.hessian(f)(*a))
        return run
    got = derivatives(fx, fnp, fnp.asarray)(*args)
    want = jax.jit(derivatives(jax, jnp, jnp.asarray))(*args)  # one XLA compile per case
    for g, w in zip(tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want), strict=True):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------
# grad and value_and_grad options


def test_grad_scalar_closed_forms():
    np.testing.assert_allclose(fx.grad(fnp.sin)(0.7), np.cos(0.7), rtol=1e-6)
    np.testing.assert_allclose(fx.grad(fx.grad(fnp.sin))(0.7), -np.sin(0.7), rtol=1e-6)
    np.testing.assert_allclose(fx.grad(fx.grad(fx.grad(fnp.sin)))(0.7), -np.cos(0.7),
                               rtol=1e-5)
    np.testing.assert_allclose(fx.grad(lambda x: x)(2.0), 1.0)
    np.testing.assert_allclose(fx.grad(lambda x: x * x * x)(2.0), 12.0)
    np.testing.assert_allclose(fx.grad(lambda x: 1.0 / x)(2.0), -0.25)


def test_grad_of_constant_function_is_zero_with_input_type():
    x = fnp.ones((2, 3))
    g = fx.grad(lambda x: 3.0)(x)
    assert g.shape == (2, 3) and g.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(g), np.zeros((2, 3)))
    g2 = fx.grad(lambda x, y: fnp.sum(y * 2.0), argnums=0)(x, fnp.ones(4))
    np.testing.assert_array_equal(np.asarray(g2), np.zeros((2, 3)))


def test_grad_fan_out_accumulates():
    # x used three times: d/dx (x*x + sin(x)*x) = 2x + cos(x) x + sin(x)
    x = 0.3
    g = fx.grad(lambda x: x * x + fnp.sin(x) * x)(x)
    np.testing.assert_allclose(g, 2 * x + np.cos(x) * x + np.sin(x), rtol=1e-6)


@pytest.mark.parametrize("argnums", [0, 1, -1, (0,), (1, 0), (0, 1, 2)])
def test_grad_argnums(argnums):
    def f(x, y, z):
        return fnp.sum(x * fnp.exp(y)) + z ** 2
    x, y, z = np.float32(0.5), np.array([0.1, 0.2], np.float32), np.float32(3.0)
    analytic = (np.sum(np.exp(y)), x * np.exp(y), 2 * z)
    g = fx.grad(f, argnums=argnums)(x, y, z)
    if isinstance(argnums, int):
        np.testing.assert_allclose(np.asarray(g), analytic[argnums], rtol=1e-6)
    else:
        assert isinstance(g, tuple) and len(g) == len(argnums)
        for gi, n in zip(g, argnums, strict=True):
            np.testing.assert_allclose(np.asarray(gi), analytic[n], rtol=1e-6)


def test_value_and_grad_argnums_and_has_aux():
    def f(x, y):
        loss = fnp.sum(x ** 2 * y)
        return loss, {"loss": loss, "x2": x ** 2}
    x, y = np.array([1.0, 2.0], np.float32), np.array([3.0, 4.0], np.float32)
    (val, aux), (gx, gy) = fx.value_and_grad(f, argnums=(0, 1), has_aux=True)(x, y)
    np.testing.assert_allclose(val, 19.0)
    np.testing.assert_allclose(aux["loss"], 19.0)
    np.testing.assert_allclose(np.asarray(aux["x2"]), x ** 2)
    np.testing.assert_allclose(np.asarray(gx), 2 * x * y)
    np.testing.assert_allclose(np.asarray(gy), x ** 2)
    g, aux2 = fx.grad(f, has_aux=True)(x, y)
    np.testing.assert_allclose(np.asarray(g), 2 * x * y)
    assert set(aux2) == {"loss", "x2"}
    # aux values are plain arrays, not tracers
    assert not isinstance(aux2["loss"], fx.core.Tracer)


def test_grad_passes_kwargs_through_undifferentiated():
    def f(x, *, scale):
        return fnp.sum(x * scale) ** 2
    x = np.array([1.0, 2.0], np.float32)
    g = fx.grad(f)(x, scale=3.0)
    np.testing.assert_allclose(np.asarray(g), 2 * 9.0 * 3.0 * np.ones(2))


def test_grad_pytree_arguments():
    params = {"w": np.array([1.0, -2.0], np.float32), "b": np.float32(0.5),
              "nested": (np.array([[1.0, 2.0]], np.float32), None),
              "pt": Point(np.float32(2.0), np.float32(3.0))}

    def loss(p):
        return (fnp.sum(p["w"] ** 2) * p["b"] + fnp.sum(p["nested"][0]) * p["pt"].x
                * p["pt"].y)
    g = fx.grad(loss)(params)
    assert tree_util.tree_structure(g) == tree_util.tree_structure(params)
    np.testing.assert_allclose(np.asarray(g["w"]), 2 * params["w"] * 0.5)
    np.testing.assert_allclose(g["b"], 5.0)
    np.testing.assert_allclose(np.asarray(g["nested"][0]), np.full((1, 2), 6.0))
    assert g["nested"][1] is None
    assert isinstance(g["pt"], Point)
    np.testing.assert_allclose(g["pt"].x, 9.0)
    np.testing.assert_allclose(g["pt"].y, 6.0)


def test_grad_holomorphic():
    z = np.complex64(0.3 + 0.4j)
    g = fx.grad(lambda z: z ** 2 * fnp.sin(z), holomorphic=True)(z)
    expected = 2 * z * np.sin(z) + z ** 2 * np.cos(z)
    assert np.asarray(g).dtype == np.complex64
    np.testing.assert_allclose(complex(g), complex(expected), rtol=1e-5)
    zs = np.array([0.1 + 1j, -0.5 + 0.2j], np.complex64)
    jac = fx.jacfwd(lambda z: z ** 3, holomorphic=True)(zs)
    np.testing.assert_allclose(np.asarray(jac), np.diag(3 * zs ** 2), rtol=1e-5)
    jac_r = fx.jacrev(lambda z: z ** 3, holomorphic=True)(zs)
    np.testing.assert_allclose(np.asarray(jac_r), np.diag(3 * zs ** 2), rtol=1e-5)


def test_grad_allow_int_gives_float0():
    gx, gn = fx.grad(lambda x, n: x * n, argnums=(0, 1), allow_int=True)(2.0, 3)
    np.testing.assert_allclose(gx, 3.0)
    assert gn.dtype == fx.float0 and np.shape(gn) == ()
    gb = fx.grad(lambda x, m: fnp.sum(fnp.where(m, x, 0.0)), argnums=1, allow_int=True)(
        np.ones(3, np.float32), np.array([True, False, True]))
    assert gb.dtype == fx.float0 and np.shape(gb) == (3,)


def test_grad_result_dtype_and_weak_type_match_jax():
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    cases = [(lambda m, x: x ** 2, 3.0),
             (lambda m, x: m.sum(x * 2.0), np.ones(2, np.float32)),
             (lambda m, x: m.sin(x), np.float32(1.0)),
             (lambda m, x: x * 2, 1.5)]
    for fn, x in cases:
        g = fx.grad(functools.partial(fn, fnp))(x)
        jg = jax.jit(jax.grad(functools.partial(fn, jnp)))(x)
        assert (g.dtype, g.weak_type) == (jg.dtype, jg.weak_type), fn
        v, _ = fx.value_and_grad(functools.partial(fn, fnp))(x)
        jv, _ = jax.jit(jax.value_and_grad(functools.partial(fn, jnp)))(x)
        assert (v.dtype, v.weak_type) == (jv.dtype, jv.weak_type), fn


def test_stop_gradient():
    g = fx.grad(lambda x: x * lax.stop_gradient(x))(3.0)
    np.testing.assert_allclose(g, 3.0)
    g2 = fx.grad(lambda x: fnp.sum(lax.stop_gradient(x ** 2) + x))(np.ones(3, np.float32))
    np.testing.assert_allclose(np.asarray(g2), np.ones(3))


# ---------------------------------------------------------------------------
# jvp / vjp / linearize


def test_jvp_pytrees_in_and_out():
    def f(d, pt):
        return {"s": fnp.sum(d["a"] * pt.x), "t": (d["b"] * pt.y, None)}
    d = {"a": np.array([1.0, 2.0], np.float32), "b": np.float32(3.0)}
    pt = Point(np.float32(4.0), np.float32(5.0))
    td = {"a": np.array([1.0, 0.0], np.float32), "b": np.float32(1.0)}
    tpt = Point(np.float32(0.0), np.float32(2.0))
    y, t = fx.jvp(f, (d, pt), (td, tpt))
    np.testing.assert_allclose(y["s"], 12.0)
    np.testing.assert_allclose(y["t"][0], 15.0)
    assert y["t"][1] is None and t["t"][1] is None
    np.testing.assert_allclose(t["s"], 4.0)            # sum(ta * x) + sum(a * tx)
    np.testing.assert_allclose(t["t"][0], 1.0 * 5.0 + 3.0 * 2.0)


def test_jvp_has_aux_and_integer_primal_with_float0_tangent():
    y, t, aux = fx.jvp(lambda x: (x ** 2, {"x": x}), (3.0,), (1.0,), has_aux=True)
    np.testing.assert_allclose(y, 9.0)
    np.testing.assert_allclose(t, 6.0)
    np.testing.assert_allclose(aux["x"], 3.0)
    y, t = fx.jvp(lambda x, n: x * n, (2.0, 3), (1.0, np.zeros((), dtype=fx.float0)))
    np.testing.assert_allclose(y, 6.0)
    np.testing.assert_allclose(t, 3.0)


def test_jvp_output_independent_of_input_gives_zero_tangent():
    y, t = fx.jvp(lambda x: fnp.ones(3) * 2.0, (np.ones(2, np.float32),),
                  (np.ones(2, np.float32),))
    np.testing.assert_array_equal(np.asarray(t), np.zeros(3))
    assert np.asarray(t).dtype == np.float32


def test_vjp_pytrees_and_has_aux():
    def f(d):
        return (d["a"] * 2.0, fnp.sum(d["b"] ** 2)), d["a"]
    d = {"a": np.array([1.0, 2.0], np.float32), "b": np.array([3.0], np.float32)}
    out, pullback, aux = fx.vjp(f, d, has_aux=True)
    np.testing.assert_allclose(np.asarray(aux), d["a"])
    (ct_d,) = pullback((np.array([1.0, 1.0], np.float32), np.float32(2.0)))
    np.testing.assert_allclose(np.asarray(ct_d["a"]), [2.0, 2.0])
    np.testing.assert_allclose(np.asarray(ct_d["b"]), [12.0])


def test_vjp_returns_tuple_over_primals_and_zero_for_unused():
    out, pullback = fx.vjp(lambda x, y: x * 3.0, np.float32(1.0), np.ones(2, np.float32))
    cts = pullback(np.float32(1.0))
    assert isinstance(cts, tuple) and len(cts) == 2
    np.testing.assert_allclose(cts[0], 3.0)
    np.testing.assert_array_equal(np.asarray(cts[1]), np.zeros(2))
    assert cts[1].shape == (2,)


def test_linearize_matches_jvp_and_is_linear():
    calls = []

    def f(x):
        calls.append(1)
        return fnp.sin(x) * fnp.sum(x ** 2)
    x = np.array([0.3, -0.7, 1.1], np.float32)
    y, f_jvp = fx.linearize(f, x)
    assert len(calls) == 1
    np.testing.assert_allclose(np.asarray(y), np.sin(x) * np.sum(x ** 2), rtol=1e-6)
    t, s = np.array([1.0, 0.5, -2.0], np.float32), np.array([0.0, 1.0, 0.0], np.float32)
    want = fx.jvp(f, (x,), (t,))[1]
    np.testing.assert_allclose(np.asarray(f_jvp(t)), np.asarray(want), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(f_jvp(2 * t + s)),
                               2 * np.asarray(f_jvp(t)) + np.asarray(f_jvp(s)), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(np.asarray(f_jvp(t)), _fd_jvp(f, [x], [t], 1e-3)[0],
                               rtol=2e-2, atol=2e-2)
    assert len(calls) == 4  # linearize once, jvp once, fd twice: f_jvp never re-traces f


def test_linearize_pytrees_and_has_aux():
    def f(p):
        return {"out": p["a"] * p["b"]}, p["a"] + 1.0
    p = {"a": np.float32(2.0), "b": np.float32(5.0)}
    y, f_jvp, aux = fx.linearize(f, p, has_aux=True)
    np.testing.assert_allclose(y["out"], 10.0)
    np.testing.assert_allclose(aux, 3.0)
    t = f_jvp({"a": np.float32(1.0), "b": np.float32(0.0)})
    np.testing.assert_allclose(t["out"], 5.0)


def test_linear_transpose_closed_form():
    def f(x, y):
        return 2.0 * x - y, fnp.sum(x) * 3.0
    x = np.ones(3, np.float32)
    f_t = fx.linear_transpose(f, x, x)
    ca, cb = np.array([1.0, 2.0, 3.0], np.float32), np.float32(0.5)
    tx, ty = f_t((ca, cb))
    np.testing.assert_allclose(np.asarray(tx), 2 * ca + 3 * cb)
    np.testing.assert_allclose(np.asarray(ty), -ca)


def test_linear_transpose_matches_explicit_matrix():
    c = np.arange(1.0, 7.0, dtype=np.float32).reshape(3, 2)

    def f(x):
        return fnp.sum(fnp.transpose(fnp.reshape(x, (2, 3))) * c, axis=1)
    basis = np.eye(6, dtype=np.float32)
    a = np.stack([np.asarray(f(e)) for e in basis], axis=1)  # a @ x == f(x)
    f_t = fx.linear_transpose(f, fx.ShapeDtypeStruct((6,), np.float32))
    ct = np.array([1.0, -1.0, 2.0], np.float32)
    (got,) = f_t(ct)
    np.testing.assert_allclose(np.asarray(got), a.T @ ct, rtol=1e-6)


def test_linear_transpose_vs_jax():
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")

    def fn(m, x):
        return m.broadcast_to(m.sum(x, axis=0), (2, 3)) * 4.0 - m.transpose(x)[:2]
    x = np.arange(9.0, dtype=np.float32).reshape(3, 3)
    ct = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    (got,) = fx.linear_transpose(functools.partial(fn, fnp), x)(ct)
    (want,) = jax.jit(jax.linear_transpose(functools.partial(fn, jnp), x))(ct)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)


# ---------------------------------------------------------------------------
# Jacobians and Hessians


def _fd_jacobian(f, x, eps=1e-3):
    x = np.asarray(x, np.float32)
    cols = []
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = eps
        cols.append((np.asarray(f(x + e), np.float64) - np.asarray(f(x - e), np.float64))
                    / (2 * eps))
    out_shape = np.shape(cols[0])
    return np.stack(cols, axis=-1).reshape(out_shape + x.shape)


@pytest.mark.parametrize("jac", ["jacfwd", "jacrev", "jacobian"])
def test_jacobian_vs_finite_differences(jac):
    def f(x):
        return fnp.sin(x) * fnp.sum(x ** 2, axis=0)
    x = np.array([[0.3, -0.2], [1.0, 0.5], [0.1, 0.9]], np.float32)
    got = getattr(fx, jac)(f)(x)
    assert got.shape == (3, 2, 3, 2)
    np.testing.assert_allclose(np.asarray(got), _fd_jacobian(f, x), rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("jac", ["jacfwd", "jacrev"])
def test_jacobian_pytrees_and_argnums(jac):
    def f(p, s):
        return {"u": p["a"] * s, "v": fnp.sum(p["b"]) * s}
    p = {"a": np.array([1.0, 2.0], np.float32), "b": np.array([[3.0]], np.float32)}
    s = np.float32(2.0)
    j = getattr(fx, jac)(f)(p, s)
    np.testing.assert_allclose(np.asarray(j["u"]["a"]), 2.0 * np.eye(2))
    np.testing.assert_allclose(np.asarray(j["u"]["b"]), np.zeros((2, 1, 1)))
    assert j["v"]["a"].shape == (2,) and j["v"]["b"].shape == (1, 1)
    np.testing.assert_allclose(np.asarray(j["v"]["b"]), [[2.0]])
    j2 = getattr(fx, jac)(f, argnums=(0, 1))(p, s)
    assert isinstance(j2["u"], tuple) and len(j2["u"]) == 2
    np.testing.assert_allclose(np.asarray(j2["u"][1]), p["a"])
    np.testing.assert_allclose(j2["v"][1], 3.0)


@pytest.mark.parametrize("jac", ["jacfwd", "jacrev"])
def test_jacobian_has_aux(jac):
    x = np.array([1.0, 2.0], np.float32)
    j, aux = getattr(fx, jac)(lambda x: (x ** 2, fnp.sum(x)), has_aux=True)(x)
    np.testing.assert_allclose(np.asarray(j), np.diag(2 * x))
    np.testing.assert_allclose(aux, 3.0)


def test_hessian_closed_forms():
    x = np.array([0.3, -0.5, 1.2], np.float32)
    h = fx.hessian(lambda x: fnp.sum(fnp.sin(x) * x ** 2))(x)
    diag = 2 * np.sin(x) + 4 * x * np.cos(x) - x ** 2 * np.sin(x)
    np.testing.assert_allclose(np.asarray(h), np.diag(diag), rtol=1e-5, atol=1e-6)
    h2 = fx.hessian(lambda x: fnp.sum(x) ** 3)(x)
    np.testing.assert_allclose(np.asarray(h2), 6 * np.sum(x) * np.ones((3, 3)), rtol=1e-5)
    h3 = fx.hessian(lambda x, y: fnp.sum(x * y) ** 2, argnums=(0, 1))(x, 2 * x)
    # d2/dx dy of (x.y)^2 = 2 y x^T + 2 (x.y) I
    np.testing.assert_allclose(np.asarray(h3[0][1]),
                               2 * np.outer(2 * x, x) + 2 * np.dot(x, 2 * x) * np.eye(3),
                               rtol=1e-5)


def test_jacobians_match_jax_on_pytrees():
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")

    def fn(m, p):
        return (m.tanh(p[0]) * m.sum(p[1]), m.exp(p[1]) * m.mean(p[0]))
    p = (np.array([0.1, 0.2, 0.3], np.float32), np.array([[1.0, -1.0]], np.float32))
    for name in ("jacfwd", "jacrev", "hessian"):
        got = getattr(fx, name)(functools.partial(fn, fnp) if name != "hessian"
                                else lambda p: fnp.sum(fn(fnp, p)[0]))(p)
        want = jax.jit(getattr(jax, name)(functools.partial(fn, jnp) if name != "hessian"
                                          else lambda p: jnp.sum(fn(jnp, p)[0])))(p)
        assert tree_util.tree_structure(got) == tree_util.tree_structure(
            jax.tree_util.tree_map(np.asarray, want)), name
        for g, w in zip(tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want), strict=True):
            assert np.shape(g) == np.shape(w), name
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-6)
