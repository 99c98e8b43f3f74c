"""Tests of the cumulative primitives (primitives/cumulative.py) and their lax
wrappers: impl vs NumPy over dtypes, axes and directions (hypothesis), derivatives
against finite differences (order 2) and against hand-computed Jacobians where the
input has zeros (cumprod) or ties (cummax), vmap vs a Python loop, jit vs eager,
the linear transpose of cumsum, printing, errors, and JAX as an oracle.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
import primitives
from fx import lax
from fx.test_util import check_grads

NAMES = ("cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp")
LAX = {"cumsum": lax.cumsum, "cumprod": lax.cumprod, "cummax": lax.cummax,
       "cummin": lax.cummin, "cumlogsumexp": lax.cumlogsumexp}


def reference(name, x, axis, reverse):
    """NumPy's accumulation, computed in float64/complex128 for inexact inputs."""
    wide = x.astype(np.complex128 if x.dtype.kind == "c" else np.float64) \
        if x.dtype.kind in "fc" else x
    if reverse:
        wide = np.flip(wide, axis)
    with np.errstate(all="ignore"):
        out = {"cumsum": lambda v: np.cumsum(v, axis, dtype=v.dtype),
               "cumprod": lambda v: np.cumprod(v, axis, dtype=v.dtype),
               "cummax": lambda v: np.maximum.accumulate(v, axis),
               "cummin": lambda v: np.minimum.accumulate(v, axis),
               "cumlogsumexp": lambda v: np.logaddexp.accumulate(v, axis)}[name](wide)
    if reverse:
        out = np.flip(out, axis)
    return out.astype(x.dtype)


def make(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.rand(*shape) < 0.5
    if dtype.kind in "iu":
        return rng.randint(0, 5, size=shape).astype(dtype)
    x = rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1, 1], size=shape)
    if dtype.kind == "c":
        x = x + 1j * rng.uniform(-1, 1, size=shape)
    return x.astype(dtype)


DTYPES = {"cumsum": ("float32", "int32", "int8", "uint8", "complex64"),
          "cumprod": ("float32", "int32", "complex64"),
          "cummax": ("float32", "int32", "bool"),
          "cummin": ("float32", "uint8", "bool"),
          "cumlogsumexp": ("float32",)}


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_impl_matches_numpy(name, data):
    dtype = data.draw(st.sampled_from(DTYPES[name]))
    shape = tuple(data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=3)))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    reverse = data.draw(st.booleans())
    x = make(np.random.RandomState(len(shape) * 7 + axis), shape, dtype)
    out = LAX[name](fnp.asarray(x), axis, reverse)
    expected = reference(name, x, axis % len(shape), reverse)
    assert out.dtype == x.dtype and out.shape == x.shape
    tol = 1e-5 if x.dtype.kind in "fc" else 0
    np.testing.assert_allclose(np.asarray(out), expected, rtol=tol, atol=tol)


def test_nan_propagates_and_integers_wrap():
    x = np.array([1.0, np.nan, 3.0, 0.5], np.float32)
    np.testing.assert_array_equal(np.asarray(lax.cummax(x)), [1, np.nan, np.nan, np.nan])
    np.testing.assert_array_equal(np.asarray(lax.cummin(x, reverse=True)),
                                  [np.nan, np.nan, 0.5, 0.5])
    big = np.array([100, 100, 100], np.int8)
    np.testing.assert_array_equal(np.asarray(lax.cumsum(big)),
                                  np.array([100, 200, 300]).astype(np.int8))
    assert np.isneginf(np.asarray(lax.cumlogsumexp(np.full(3, -np.inf, np.float32)))).all()


def test_weak_type_is_kept():
    x = fnp.asarray(np.ones(3, np.float32))
    out = fx.jit(lambda v: lax.cumsum(v * 2.0))(x)
    assert not out.weak_type
    aval = primitives.cumsum_p.abstract_eval(fx.core.ShapedArray((3,), np.float32, True),
                                             axis=0, reverse=False)
    assert aval.weak_type


# ---------------------------------------------------------------------------
# derivatives


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("axis,reverse", [(0, False), (1, True), (-1, False)])
def test_grads_order2(name, axis, reverse):
    rng = np.random.RandomState(0)
    x = make(rng, (3, 4), "float32")
    if name in ("cummax", "cummin"):  # distinct values, far apart: no ties within eps
        x = (rng.permutation(12).reshape(3, 4) * 0.3).astype(np.float32)
    fn = lambda v: LAX[name](v, axis, reverse)  # noqa: E731
    check_grads(fn, (fnp.asarray(x),), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("reverse", [False, True])
def test_grads_float64(reverse):
    with fx.enable_x64():
        rng = np.random.RandomState(1)
        x = fnp.asarray(rng.uniform(0.5, 2.0, (5,)))
        for name in ("cumsum", "cumprod", "cumlogsumexp"):
            check_grads(lambda v, f=LAX[name]: f(v, 0, reverse), (x,), order=2)


def _cumprod_jacobian(x, reverse):
    """d y_i / d x_j = prod_{k <= i, k != j} x_k for j <= i (reversed for reverse)."""
    n = len(x)
    jac = np.zeros((n, n), x.dtype)
    for i in range(n):
        span = range(i, n) if reverse else range(i + 1)
        for j in span:
            jac[i, j] = np.prod([x[k] for k in span if k != j])
    return jac


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("values", [[1.0, 0.0, 2.0, 0.0, 3.0], [0.0, 2.0, 3.0, 4.0],
                                    [2.0, 3.0, 0.0, 0.5], [0.0, 0.0, 1.0],
                                    [1.5, -2.0, 0.5, 3.0]])
def test_cumprod_jacobian_with_zeros(values, reverse):
    x = np.array(values, np.float32)
    fn = lambda v: lax.cumprod(v, 0, reverse)  # noqa: E731
    expected = _cumprod_jacobian(x.astype(np.float64), reverse)
    np.testing.assert_allclose(np.asarray(fx.jacfwd(fn)(x)), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(fx.jacrev(fn)(x)), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("values", [[2.0, 0.0, 3.0, 0.5], [2.0, 0.0, 3.0, 0.0, 0.5],
                                    [0.0, 0.0, 1.5, 0.0], [1.5, -2.0, 0.5, 3.0]])
def test_cumprod_hessian_with_zeros(values):
    x = np.array(values, np.float32)
    n = len(x)
    hess = np.asarray(fx.hessian(lambda v: lax.cumprod(v, 0)[-1])(x))
    expected = np.zeros((n, n))
    for j in range(n):
        for k in range(n):
            if j != k:
                expected[j, k] = np.prod([x[m] for m in range(n) if m not in (j, k)])
    np.testing.assert_allclose(hess, expected, rtol=1e-6, atol=1e-6)


def test_cumprod_jacobian_complex():
    x = np.array([1 + 1j, 0.5 - 2j, 0.0, 2j], np.complex64)
    jac = np.asarray(fx.jacfwd(lambda v: lax.cumprod(v, 0), holomorphic=True)(x))
    np.testing.assert_allclose(jac, _cumprod_jacobian(x.astype(np.complex128), False),
                               atol=1e-5)


@pytest.mark.parametrize("reverse", [False, True])
def test_cummax_tangent_comes_from_running_argmax(reverse):
    x = np.array([1.0, 3.0, 3.0, 2.0, 5.0, np.nan, 0.0], np.float32)
    t = np.arange(1.0, 8.0, dtype=np.float32) * 10
    _, tangent = fx.jvp(lambda v: lax.cummax(v, 0, reverse), (x,), (t,))
    n = len(x)
    expected = []
    for i in range(n):
        span = list(range(i, n)) if reverse else list(range(i + 1))
        vals = x[span]
        pick = int(np.argmax(vals))  # first occurrence in window order; NaN wins
        expected.append(t[span[pick]])
    np.testing.assert_array_equal(np.asarray(tangent), np.array(expected, np.float32))
    # reverse mode sends each cotangent to the same element
    ct = np.arange(n, dtype=np.float32) + 1
    _, pullback = fx.vjp(lambda v: lax.cummax(v, 0, reverse), x)
    (grad,) = pullback(ct)
    jac = np.zeros((n, n), np.float32)
    for i in range(n):
        span = list(range(i, n)) if reverse else list(range(i + 1))
        jac[i, span[int(np.argmax(x[span]))]] = 1
    np.testing.assert_array_equal(np.asarray(grad), ct @ jac)


def test_cummin_long_axis_is_fast_and_correct():
    rng = np.random.RandomState(3)
    x = rng.randn(20000).astype(np.float32)
    grad = np.asarray(fx.grad(lambda v: lax.cummin(v, 0).sum())(x))
    running_arg = np.zeros(len(x), int)
    best = 0
    for i in range(len(x)):
        if x[i] < x[best]:
            best = i
        running_arg[i] = best
    np.testing.assert_array_equal(grad, np.bincount(running_arg, minlength=len(x)))


def test_cumlogsumexp_tangent_is_softmax_weighted():
    x = np.array([0.5, -1.0, 2.0, 40.0], np.float32)
    t = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    _, tangent = fx.jvp(lambda v: lax.cumlogsumexp(v, 0), (x,), (t,))
    x64 = x.astype(np.float64)
    expected = [np.sum(t[:i + 1] * np.exp(x64[:i + 1] - np.logaddexp.reduce(x64[:i + 1])))
                for i in range(4)]
    np.testing.assert_allclose(np.asarray(tangent), expected, rtol=1e-5)


def test_integer_inputs_have_no_tangent():
    x = np.array([1, 2, 3], np.int32)
    out, tangent = fx.jvp(lambda v: lax.cumsum(v), (x,), (np.zeros(3, fx.float0),))
    assert tangent.dtype == fx.float0
    np.testing.assert_array_equal(np.asarray(out), [1, 3, 6])


@pytest.mark.parametrize("reverse", [False, True])
def test_cumsum_linear_transpose(reverse):
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    transpose = fx.linear_transpose(lambda v: lax.cumsum(v, 1, reverse), x)
    ct = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], np.float32)
    (out,) = transpose(ct)
    jac = np.tril(np.ones((3, 3))) if not reverse else np.triu(np.ones((3, 3)))
    np.testing.assert_allclose(np.asarray(out), ct @ jac)


# ---------------------------------------------------------------------------
# vmap, jit


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("in_axis,axis", [(0, 0), (1, 0), (2, 1), (0, -1)])
def test_vmap_matches_loop(harness, name, in_axis, axis):
    x = make(np.random.RandomState(5), (3, 4, 2), "float32")
    harness.check_vmap(lambda v: LAX[name](v, axis, True), [x], [in_axis], rtol=1e-6,
                       atol=1e-6)
    harness.check_vmap(lambda v: LAX[name](v, axis, False), [x], [in_axis], out_axis=1,
                       rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ("cumprod", "cummax", "cumlogsumexp"))
def test_vmap_of_grad_matches_loop(harness, name):
    x = (np.random.RandomState(6).permutation(12).reshape(4, 3) * 0.25 + 0.1).astype(
        np.float32)
    fn = fx.grad(lambda v: (LAX[name](v, 0) * np.arange(1.0, 5.0, dtype=np.float32)).sum())
    harness.check_vmap(fn, [x], [1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_jit_matches_eager(harness, name):
    x = make(np.random.RandomState(7), (3, 5), "float32")
    harness.check_jit(lambda v: LAX[name](v, 1, True), [x], rtol=1e-6)
    harness.check_jit(fx.grad(lambda v: LAX[name](v, 0).sum()), [x], rtol=1e-6)


def test_abstract_eval_agrees_with_impl(harness):
    x = make(np.random.RandomState(8), (2, 3), "int32")
    for name in ("cumsum", "cumprod", "cummax", "cummin"):
        harness.check_abstract_eval(primitives.registry[name], [x],
                                    dict(axis=1, reverse=False))


# ---------------------------------------------------------------------------
# printing and errors


def test_printed_like_jax():
    text = str(fx.make_jaxpr(lambda v: lax.cummax(v, 1, reverse=True))(np.ones((4, 5),
                                                                          np.float32)))
    assert text == ("{ lambda ; a:f32[4,5]. let b:f32[4,5] = cummax[axis=1 reverse=True] a "
                    "in (b,) }")


def test_errors():
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        lax.cumsum(np.ones((2, 3), np.float32), 2)
    with pytest.raises(TypeError, match="cumlogsumexp does not accept dtype int32"):
        lax.cumlogsumexp(np.ones(3, np.int32))
    with pytest.raises(TypeError, match="cumsum does not accept dtype bool"):
        lax.cumsum(np.ones(3, bool))
    with pytest.raises(ValueError, match="out of bounds"):
        lax.cummax(np.float32(1.0))


# ---------------------------------------------------------------------------
# JAX as an oracle


@pytest.mark.jax
@pytest.mark.parametrize("name", NAMES)
def test_matches_jax(jax, name):
    import jax.lax as jlax
    x = make(np.random.RandomState(9), (3, 6), "float32")
    for axis, reverse in ((0, False), (1, True)):
        expected = getattr(jlax, name)(x, axis, reverse)
        np.testing.assert_allclose(np.asarray(LAX[name](x, axis, reverse)),
                                   np.asarray(expected), rtol=1e-5, atol=1e-6)
    t = np.random.RandomState(10).randn(3, 6).astype(np.float32)
    fn = lambda mod: lambda v: getattr(mod, name)(v, 1)  # noqa: E731
    _, expected = jax.jvp(fn(jlax), (x,), (t,))
    _, got = fx.jvp(fn(lax), (x,), (t,))
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-4, atol=1e-5)
    jtext = str(jax.make_jaxpr(fn(jlax))(x))
    assert str(fx.make_jaxpr(fn(lax))(x)).split() == jtext.split()
