"""JAX 0.10's implicit size-1 broadcasting in the elementwise primitives, and what
``fx.numpy``/``fx.nn`` print because of it.

Oracles: JAX's own abstract evaluation, errors and printed jaxprs (skipped without
JAX), hand-derived shapes, NumPy broadcasting for values, finite differences for
derivatives, a Python loop for vmap.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
import primitives as P
from fx import lax, nn
from fx.core import ShapedArray
from fx.test_util import check_grads

# (primitive, dtype of the operands) for every binary elementwise primitive with size-1
# broadcasting, as JAX has them
BINARY = [("add", "float32"), ("sub", "float32"), ("mul", "float32"), ("div", "float32"),
          ("rem", "float32"), ("max", "float32"), ("min", "float32"), ("pow", "float32"),
          ("atan2", "float32"), ("nextafter", "float32"), ("complex", "float32"),
          ("eq", "float32"), ("ne", "float32"), ("lt", "float32"), ("le", "float32"),
          ("gt", "float32"), ("ge", "float32"), ("and", "int32"), ("or", "bool"),
          ("xor", "int32"), ("shift_left", "int32"), ("shift_right_arithmetic", "int32"),
          ("shift_right_logical", "int32"), ("igamma", "float32"), ("igammac", "float32"),
          ("polygamma", "float32"), ("zeta", "float32")]
JAX_NAMES: dict[str, str] = {}

SHAPE_CASES = [  # (x shape, y shape, expected shape or the error's kind)
    ((3, 4), (3, 1), (3, 4)), ((3, 1), (1, 4), (3, 4)), ((1, 1), (2, 5), (2, 5)),
    ((2, 1, 4), (1, 3, 1), (2, 3, 4)), ((3, 4), (), (3, 4)), ((), (1, 4), (1, 4)),
    ((3, 4), (4,), "rank"), ((3, 4), (2, 4), "shape"), ((1,), (3, 4), "rank"),
    ((0, 1), (1, 5), (0, 5)), ((2, 3), (2, 1, 1), "rank")]


def _abstract(name, xs, ys, dtype):
    prim = P.registry[name]
    return prim.abstract_eval(ShapedArray(xs, np.dtype(dtype)), ShapedArray(ys, np.dtype(dtype)))


@pytest.mark.parametrize("name,dtype", BINARY)
@pytest.mark.parametrize("xs,ys,want", SHAPE_CASES)
def test_abstract_eval_hand_derived(name, dtype, xs, ys, want):
    if want == "rank":
        with pytest.raises(TypeError, match=f"{name}: arrays must have the same number"):
            _abstract(name, xs, ys, dtype)
    elif want == "shape":
        with pytest.raises(TypeError, match=f"{name} got incompatible shapes for broadcasting"):
            _abstract(name, xs, ys, dtype)
    else:
        assert _abstract(name, xs, ys, dtype).shape == want


@pytest.mark.parametrize("name,dtype", BINARY)
def test_abstract_eval_against_jax(name, dtype):
    jax = pytest.importorskip("jax")
    from jax import lax as jlax
    jprim = getattr(jlax, f"{JAX_NAMES.get(name, name)}_p")
    for xs, ys, _ in SHAPE_CASES:
        args = [jax.ShapeDtypeStruct(s, dtype) for s in (xs, ys)]
        try:
            want = jax.eval_shape(lambda a, b: jprim.bind(a, b), *args).shape
        except TypeError as e:
            with pytest.raises(TypeError) as got:
                _abstract(name, xs, ys, dtype)
            assert str(got.value).split(":")[0] == str(e).split(":")[0], (xs, ys)
            assert str(got.value).rstrip(".") == str(e).splitlines()[0].rstrip("."), (xs, ys)
            continue
        assert _abstract(name, xs, ys, dtype).shape == want, (name, xs, ys)


def test_select_n_and_clamp_keep_the_strict_rule():
    f32, b = np.dtype("float32"), np.dtype("bool")
    with pytest.raises(TypeError):
        P.select_n_p.abstract_eval(ShapedArray((3, 1), b), ShapedArray((3, 4), f32),
                                   ShapedArray((3, 4), f32))
    with pytest.raises(TypeError):
        P.select_n_p.abstract_eval(ShapedArray((3, 4), b), ShapedArray((3, 1), f32),
                                   ShapedArray((3, 4), f32))
    with pytest.raises(TypeError):
        P.clamp_p.abstract_eval(ShapedArray((3, 1), f32), ShapedArray((3, 4), f32),
                                ShapedArray((), f32))


_shape_pairs = st.lists(st.tuples(st.integers(1, 4), st.sampled_from(["x", "y", "both", "none"])),
                        min_size=1, max_size=3)


def _pair(spec):
    xs = tuple(1 if w in ("y", "none") else n for n, w in spec)
    ys = tuple(1 if w in ("x", "none") else n for n, w in spec)
    return xs, ys


_VALUE_OPS = [("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
              ("div", np.divide), ("max", np.maximum), ("min", np.minimum),
              ("atan2", np.arctan2), ("pow", np.power), ("lt", np.less)]


@settings(max_examples=25, deadline=None)
@given(spec=_shape_pairs, op=st.sampled_from(_VALUE_OPS), seed=st.integers(0, 99))
def test_values_match_numpy_broadcasting(spec, op, seed):
    name, ref = op
    xs, ys = _pair(spec)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 2.0, xs).astype(np.float32)
    y = rng.uniform(0.5, 2.0, ys).astype(np.float32)
    got = P.registry[name].bind(fnp.asarray(x), fnp.asarray(y))
    np.testing.assert_allclose(np.asarray(got), ref(x, y), rtol=2e-6)
    jitted = fx.jit(lambda a, b: P.registry[name].bind(a, b))(x, y)
    np.testing.assert_allclose(np.asarray(jitted), ref(x, y), rtol=2e-6)


def test_integer_and_bool_values():
    x = np.arange(12, dtype=np.int32).reshape(3, 4) - 5
    y = np.array([[1], [2], [0]], np.int32)
    np.testing.assert_array_equal(np.asarray(lax.div(x, y)), [[-5, -4, -3, -2],
                                                               [-0, 0, 0, 1],
                                                               [-1, -1, -1, -1]])
    np.testing.assert_array_equal(np.asarray(lax.shift_left(x, y)), np.left_shift(x, y))
    np.testing.assert_array_equal(np.asarray(lax.bitwise_xor(x, y)), x ^ y)
    b = np.array([[True, False, True]])
    np.testing.assert_array_equal(np.asarray(lax.bitwise_and(b, b.T)), b & b.T)


# ---------------------------------------------------------------------------
# derivatives


_GRAD_FNS = {
    "add": lambda x, y: lax.add(x, y), "sub": lambda x, y: lax.sub(x, y),
    "mul": lambda x, y: lax.mul(x, y), "div": lambda x, y: lax.div(x, y),
    "max": lambda x, y: lax.max(x, y), "atan2": lambda x, y: lax.atan2(x, y),
    "pow": lambda x, y: lax.pow(x, y),
    "complex": lambda x, y: lax.real(lax.mul(lax.complex(x, y), lax.complex(y, x))),
    "select": lambda x, y: lax.select(lax.gt(lax.add(x, y), 3.0), lax.mul(x, y),
                                      lax.sub(x, y)),
}


@pytest.mark.parametrize("name", sorted(_GRAD_FNS))
@pytest.mark.parametrize("xs,ys", [((3, 4), (3, 1)), ((3, 1), (1, 4)), ((2, 1, 3), (1, 4, 1))])
def test_check_grads(name, xs, ys):
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 2.0, xs)
    y = rng.uniform(0.7, 2.3, ys)
    with fx.enable_x64():
        check_grads(_GRAD_FNS[name], (x, y), order=2, modes=("fwd", "rev"))


def test_transpose_sums_over_broadcast_dims():
    x = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    y = np.ones((3, 1), np.float32)
    w = np.arange(12.0, dtype=np.float32).reshape(3, 4) + 1
    gx, gy = fx.grad(lambda a, b: (lax.mul(a, b) * w).sum(), (0, 1))(x, y)
    np.testing.assert_allclose(np.asarray(gx), w * y)
    np.testing.assert_allclose(np.asarray(gy), (w * x).sum(1, keepdims=True))
    assert gy.shape == (3, 1)
    gx, gy = fx.grad(lambda a, b: (lax.sub(a, b) * w).sum(), (0, 1))(y.reshape(3, 1),
                                                                     x[:1])
    np.testing.assert_allclose(np.asarray(gx), w.sum(1, keepdims=True))
    np.testing.assert_allclose(np.asarray(gy), -w.sum(0, keepdims=True))
    # linear_transpose of a division by a size-1 constant
    t = fx.linear_transpose(lambda a: lax.div(a, y * 2), x)(w)[0]
    np.testing.assert_allclose(np.asarray(t), w / 2)


# ---------------------------------------------------------------------------
# vmap


@pytest.mark.parametrize("in_axes,xs,ys", [
    ((0, None), (5, 3, 4), (3, 1)), ((0, None), (5, 3, 1), (1, 4)),
    ((1, 0), (3, 5, 1), (5, 1, 4)), ((0, 0), (5, 3, 4), (5,)), ((None, 0), (3, 1), (5, 1, 4)),
    ((0, None), (5,), (3, 1)), ((2, None), (3, 1, 5), ())])
@pytest.mark.parametrize("name", ["sub", "mul", "max", "lt", "pow"])
def test_vmap_matches_a_loop(name, in_axes, xs, ys):
    rng = np.random.default_rng(1)
    x = rng.uniform(0.5, 2, xs).astype(np.float32)
    y = rng.uniform(0.5, 2, ys).astype(np.float32)
    prim = P.registry[name]
    out = fx.vmap(lambda a, b: prim.bind(a, b), in_axes)(x, y)
    size = xs[in_axes[0]] if in_axes[0] is not None else ys[in_axes[1]]
    rows = []
    for i in range(size):
        a = x if in_axes[0] is None else np.take(x, i, in_axes[0])
        b = y if in_axes[1] is None else np.take(y, i, in_axes[1])
        rows.append(np.asarray(prim.bind(fnp.asarray(a), fnp.asarray(b))))
    np.testing.assert_allclose(np.asarray(out), np.stack(rows), rtol=1e-6)


def test_vmap_of_unbatched_operand_gets_a_size1_batch_dim():
    text = str(fx.make_jaxpr(fx.vmap(lax.sub, (0, None)))(np.ones((5, 3, 4), np.float32),
                                                            np.ones((3, 1), np.float32)))
    # JAX 0.10.2's text, recorded
    assert text == """{ lambda ; a:f32[5,3,4] b:f32[3,1]. let
    c:f32[1,3,1] = broadcast_in_dim[
      broadcast_dimensions=(np.int64(1), np.int64(2))
    ] b
    d:f32[5,3,4] = sub a c
  in (d,) }"""


def test_vmap_of_jnp_center_and_grad():
    x = np.random.default_rng(2).standard_normal((5, 3, 4)).astype(np.float32)

    def center(v):
        return ((v - v.mean(-1, keepdims=True)) ** 2).sum()

    got = fx.vmap(fx.grad(center))(x)
    want = 2 * (x - x.mean(-1, keepdims=True))
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------
# fx.numpy


def test_jnp_leaves_size1_dims_to_the_primitive():
    text = str(fx.make_jaxpr(lambda x: x - x.mean(-1, keepdims=True))(np.ones((3, 4),
                                                                              np.float32)))
    assert "c:f32[3,1] = broadcast_in_dim[broadcast_dimensions=(0,)] b" in text
    assert "e:f32[3,4] = sub a d" in text and "reshape" not in text
    text = str(fx.make_jaxpr(lambda x, y: x - y)(np.ones((3, 4), np.float32),
                                                 np.ones(4, np.float32)))
    assert "c:f32[1,4] = broadcast_in_dim[broadcast_dimensions=(1,)] b" in text
    assert "d:f32[3,4] = sub a c" in text


@settings(max_examples=25, deadline=None)
@given(xs=st.lists(st.integers(1, 3), min_size=0, max_size=3),
       ys=st.lists(st.integers(1, 3), min_size=0, max_size=3),
       op=st.sampled_from(["add", "subtract", "multiply", "true_divide", "maximum", "power",
                           "arctan2", "remainder", "floor_divide", "less", "hypot",
                           "logaddexp", "fmax", "copysign"]))
def test_jnp_binary_functions_broadcast_as_numpy(xs, ys, op):
    xs, ys = tuple(xs), tuple(ys)
    try:
        np.broadcast_shapes(xs, ys)
    except ValueError:
        with pytest.raises((ValueError, TypeError)):
            getattr(fnp, op)(np.ones(xs, np.float32), np.ones(ys, np.float32))
        return
    rng = np.random.default_rng(3)
    x = rng.uniform(0.5, 2, xs).astype(np.float32)
    y = rng.uniform(0.5, 2, ys).astype(np.float32)
    want = getattr(np, op)(x, y)
    np.testing.assert_allclose(np.asarray(getattr(fnp, op)(x, y)), want, rtol=2e-6)
    np.testing.assert_allclose(np.asarray(fx.jit(getattr(fnp, op))(x, y)), want, rtol=2e-6)


@pytest.mark.parametrize("fn", [fnp.mean, fnp.var, fnp.std, fnp.sum, fnp.max, fnp.argmax])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2)])
def test_keepdims_values(fn, axis):
    if fn is fnp.argmax and isinstance(axis, tuple):
        return
    x = np.random.default_rng(4).standard_normal((2, 3, 4)).astype(np.float32)
    got = fn(x, axis=axis, keepdims=True)
    want = getattr(np, fn.__name__)(x, axis=axis, keepdims=True)
    assert got.shape == want.shape
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)


def test_nn_values_and_grads():
    x = np.random.default_rng(5).standard_normal((3, 4))
    e = np.exp(x - x.max(-1, keepdims=True))
    np.testing.assert_allclose(np.asarray(nn.softmax(x)), e / e.sum(-1, keepdims=True),
                               rtol=1e-5)
    np.testing.assert_allclose(np.asarray(nn.standardize(x)),
                               (x - x.mean(-1, keepdims=True)) /
                               np.sqrt(x.var(-1, keepdims=True) + 1e-5), rtol=1e-4)
    with fx.enable_x64():
        check_grads(lambda v: nn.softmax(v)[:, 0], (x,), order=2)
        check_grads(lambda v: nn.logsumexp(v, -1), (x,), order=2)
        check_grads(lambda v: nn.standardize(v, epsilon=0.1), (x,), order=1)
        check_grads(lambda v: nn.log_softmax(v, axis=0), (x,), order=1)


# ---------------------------------------------------------------------------
# printed jaxprs against JAX's


def _programs(J, jnp, jnn):
    f32 = np.float32
    o = lambda *s: np.ones(s, f32)  # noqa: E731

    def layernorm(x, g, b):
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / jnp.sqrt(v + 0.5) * g + b

    def mlp_loss(params, x, y):
        (w1, b1), (w2, b2) = params
        h = jnp.maximum(x @ w1 + b1, 0.0)
        logits = h @ w2 + b2
        logp = logits - jnn.logsumexp(logits, axis=-1, keepdims=True)
        return -(logp * y).sum(-1).mean()

    params = ((o(4, 5), o(5)), (o(5, 3), o(3)))
    x = o(3, 4)
    return {
        "sub_keepdims_mean": (lambda x: x - x.mean(-1, keepdims=True), (x,)),
        "sub_rank": (lambda x, y: x - y, (x, o(4))),
        "sub_size1": (lambda x, y: x - y, (x, o(3, 1))),
        "mul_outer": (lambda x, y: x * y, (o(3, 1), o(1, 4))),
        "add_rank3": (lambda x, y: x + y, (o(2, 3, 4), o(3, 1))),
        "div_col": (lambda x: x / x.sum(0, keepdims=True), (x,)),
        "max_keep": (lambda x: jnp.maximum(x, x.max(1, keepdims=True)), (x,)),
        "pow_b": (lambda x, y: x ** y, (x, o(3, 1))),
        "cmp_lt": (lambda x, y: x < y, (x, o(4))),
        "mean_keep": (lambda x: x.mean(-1, keepdims=True), (x,)),
        "sum_keep_all": (lambda x: x.sum(keepdims=True), (x,)),
        "max_keep02": (lambda x: x.max((0, 2), keepdims=True), (o(3, 4, 2),)),
        "argmax_keep": (lambda x: x.argmax(1, keepdims=True), (x,)),
        "softmax": (jnn.softmax, (x,)),
        "logsumexp": (lambda x: jnn.logsumexp(x, -1), (x,)),
        "logsumexp_keep": (lambda x: jnn.logsumexp(x, -1, keepdims=True), (x,)),
        "normalize_l2": (lambda x: x / jnp.sqrt((x * x).sum(-1, keepdims=True)), (x,)),
        "layernorm": (layernorm, (x, o(4), o(4))),
        "mlp_loss": (mlp_loss, (params, x, o(3, 3))),
        "grad_sub_size1": (J.grad(lambda x, y: (x - y).sum(), (0, 1)), (x, o(3, 1))),
        "grad_mul_outer": (J.grad(lambda x, y: (x * y).sum(), (0, 1)), (o(3, 1), o(1, 4))),
        "grad_center": (J.grad(lambda x: ((x - x.mean(-1, keepdims=True)) ** 2).sum()), (x,)),
        "grad_relu_bias": (J.grad(lambda x, b: jnp.maximum(x + b, 0.0).sum(), (0, 1)),
                           (x, o(4))),
        "vmap_center": (J.vmap(lambda x: x - x.mean(-1, keepdims=True)), (o(5, 3, 4),)),
        "vmap_sub_unbatched": (J.vmap(lambda x, y: x - y, (0, None)), (o(5, 3, 4), o(3, 1))),
        "vmap_softmax": (J.vmap(jnn.softmax), (x,)),
        "vmap_layernorm": (J.vmap(layernorm, (0, None, None)), (o(5, 3, 4), o(4), o(4))),
        "vmap_bias": (J.vmap(lambda x, b: x + b, (0, None)), (o(5, 3), o(3))),
    }


_NAMES = sorted(_programs(fx, fnp, nn))


@pytest.mark.parametrize("name", _NAMES)
def test_printed_jaxpr_equals_jax(name, harness):
    jax = pytest.importorskip("jax")
    import re

    import jax.nn as jnn
    import jax.numpy as jnp
    f, args = _programs(fx, fnp, nn)[name]
    jf, jargs = _programs(jax, jnp, jnn)[name]
    # JAX leaks NumPy ints into some params (np.int64(k)); fx writes them in some places
    def text(closed):
        return re.sub(r"np\.int64\((\d+)\)", r"\1", harness.jaxpr_text(closed))
    assert text(fx.make_jaxpr(f)(*args)) == text(jax.make_jaxpr(jf)(*jargs))
