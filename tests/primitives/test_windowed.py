"""Tests of the windowed primitives (primitives/windowed.py) and lax.reduce_window:
impls vs a plain-loop NumPy reference over random window configurations
(hypothesis: strides, padding incl. negative, base and window dilation), the
generic monoid reduce_window (variadic too), derivatives of sum/max/min pooling
against finite differences to order 2, select_and_gather_add/select_and_scatter_add
against loop references, vmap vs a Python loop, jit vs eager, and JAX as an oracle.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
import primitives
from fx import lax
from fx.test_util import check_grads

# ---------------------------------------------------------------------------
# a loop-based reference, written from the definition


def ref_windows(x, fill, window_dimensions, window_strides, padding, base_dilation,
                window_dilation):
    """{output index: [(operand index or None, value), ...]} in window order."""
    nd = x.ndim
    dilated = [0 if s == 0 else (s - 1) * b + 1 for s, b in zip(x.shape, base_dilation)]
    padded = [d + lo + hi for d, (lo, hi) in zip(dilated, padding)]
    eff = [0 if w == 0 else (w - 1) * d + 1 for w, d in zip(window_dimensions, window_dilation)]
    out_shape = tuple(0 if p < e else (p - e) // s + 1
                      for p, e, s in zip(padded, eff, window_strides))
    windows = {}
    for o in itertools.product(*[range(n) for n in out_shape]):
        items = []
        for k in itertools.product(*[range(w) for w in window_dimensions]):
            pos = [o[i] * window_strides[i] + k[i] * window_dilation[i] - padding[i][0]
                   for i in range(nd)]
            idx = []
            for i in range(nd):
                if pos[i] < 0 or pos[i] % base_dilation[i] or pos[i] // base_dilation[i] >= \
                        x.shape[i]:
                    idx = None
                    break
                idx.append(pos[i] // base_dilation[i])
            items.append((None, fill) if idx is None else (tuple(idx), x[tuple(idx)]))
        windows[o] = items
    return out_shape, windows


def ref_reduce(x, op, fill, **params):
    out_shape, windows = ref_windows(x, fill, **params)
    out = np.empty(out_shape, x.dtype)
    for o, items in windows.items():
        acc = np.asarray(fill, x.dtype)
        for _, v in items:
            acc = op(acc, v)
        out[o] = acc
    return out


def ref_choice(x, select_max, **params):
    """{output index: chosen operand index or None}: first extremum, NaN wins."""
    out_shape, windows = ref_windows(x, 0, **params)
    chosen = {}
    for o, items in windows.items():
        real = [(i, v) for i, v in items if i is not None]
        best = None
        for i, v in real:
            if best is None:
                best = (i, v)
            elif np.isnan(best[1]):
                continue
            elif np.isnan(v) or (v > best[1] if select_max else v < best[1]):
                best = (i, v)
        chosen[o] = None if best is None else best[0]
    return out_shape, chosen


@st.composite
def window_config(draw, max_rank=3):
    rank = draw(st.integers(1, max_rank))
    shape = tuple(draw(st.integers(1, 5)) for _ in range(rank))
    params = dict(
        window_dimensions=tuple(draw(st.integers(1, 3)) for _ in range(rank)),
        window_strides=tuple(draw(st.integers(1, 3)) for _ in range(rank)),
        padding=tuple((draw(st.integers(-1, 2)), draw(st.integers(-1, 2)))
                      for _ in range(rank)),
        base_dilation=tuple(draw(st.integers(1, 2)) for _ in range(rank)),
        window_dilation=tuple(draw(st.integers(1, 2)) for _ in range(rank)))
    dilated = [(s - 1) * b + 1 + lo + hi for s, b, (lo, hi)
               in zip(shape, params["base_dilation"], params["padding"])]
    if min(dilated) < 0:
        params["padding"] = tuple((max(lo, 0), max(hi, 0)) for lo, hi in params["padding"])
    return shape, params


def rand(shape, seed=0, dtype=np.float32):
    rng = np.random.RandomState(seed)
    return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.37 - 2).astype(dtype)


PRIMS = {"sum": (primitives.reduce_window_sum_p, np.add, 0.0),
         "max": (primitives.reduce_window_max_p, np.maximum, -np.inf),
         "min": (primitives.reduce_window_min_p, np.minimum, np.inf)}


@pytest.mark.parametrize("kind", PRIMS)
@given(config=window_config())
def test_reduce_window_matches_reference(kind, config):
    shape, params = config
    prim, op, fill = PRIMS[kind]
    x = rand(shape, seed=len(shape))
    expected = ref_reduce(x, op, fill, **params)
    out = prim.bind(fnp.asarray(x), **params)
    assert out.shape == expected.shape and out.dtype == np.float32
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.bool_])
def test_integer_and_bool_pooling(dtype):
    x = (np.arange(12).reshape(3, 4) % 5).astype(dtype)
    params = dict(window_dimensions=(2, 2), window_strides=(1, 2), padding=((1, 0), (0, 1)),
                  base_dilation=(1, 1), window_dilation=(1, 1))
    for kind in ("max", "min") + (("sum",) if dtype != np.bool_ else ()):
        prim, op, _ = PRIMS[kind]
        fill = {"sum": 0, "max": np.iinfo(dtype).min if dtype != np.bool_ else False,
                "min": np.iinfo(dtype).max if dtype != np.bool_ else True}[kind]
        np.testing.assert_array_equal(np.asarray(prim.bind(fnp.asarray(x), **params)),
                                      ref_reduce(x, op, fill, **params))


@given(config=window_config())
def test_lax_reduce_window_generic_mul(config):
    shape, params = config
    x = (rand(shape, 1) * 0.3).astype(np.float32)
    out = lax.reduce_window(x, np.float32(1.0), lax.mul, params["window_dimensions"],
                            params["window_strides"], params["padding"],
                            params["base_dilation"], params["window_dilation"])
    np.testing.assert_allclose(np.asarray(out), ref_reduce(x, np.multiply, 1.0, **params),
                               rtol=1e-5, atol=1e-6)


def test_generic_reduce_window_custom_and_variadic():
    x = np.arange(10, dtype=np.float32)
    # a non-identity init value and a non-monoid-primitive computation
    out = lax.reduce_window(x, np.float32(5.0), lax.add, (3,), (2,), "VALID")
    np.testing.assert_allclose(np.asarray(out), [8.0, 14.0, 20.0, 26.0])
    text = str(fx.make_jaxpr(lambda v: lax.reduce_window(v, 5.0, lax.add, (3,), (2,),
                                                         "VALID"))(x))
    assert "reduce_window[" in text and "jaxpr={ lambda ; " in text

    # variadic: the max and its position in each window (an argmax pooling)
    idx = np.arange(10, dtype=np.int32)
    vals = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3], np.float32)

    def pick(a, b):
        take_b = lax.gt(b[0], a[0])
        return (lax.select(take_b, b[0], a[0]), lax.select(take_b, b[1], a[1]))

    best, where = lax.reduce_window((vals, idx), (np.float32(-np.inf), np.int32(-1)), pick,
                                    (3,), (1,), "VALID")
    windows = np.lib.stride_tricks.sliding_window_view(vals, 3)
    np.testing.assert_array_equal(np.asarray(best), windows.max(1))
    np.testing.assert_array_equal(np.asarray(where), np.arange(8) + windows.argmax(1))
    with pytest.raises(NotImplementedError, match="reduce_window"):
        fx.grad(lambda v: lax.reduce_window(v, 1.0, lax.mul, (2,), (1,), "VALID").sum())(
            vals)


@pytest.mark.parametrize("padding", ["SAME", "VALID", "SAME_LOWER"])
def test_string_padding(padding):
    x = rand((5, 6), 2)
    out = lax.reduce_window(x, -np.inf, lax.max, (2, 3), (2, 2), padding)
    pads = lax.padtype_to_pads((5, 6), (2, 3), (2, 2), padding)
    params = dict(window_dimensions=(2, 3), window_strides=(2, 2), padding=tuple(pads),
                  base_dilation=(1, 1), window_dilation=(1, 1))
    np.testing.assert_array_equal(np.asarray(out), ref_reduce(x, np.maximum, -np.inf,
                                                              **params))
    if padding == "SAME":
        assert out.shape == (3, 3)


def test_lax_reduce_general_path():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_allclose(np.asarray(lax.reduce(x, 0.0, lax.add, (1,))), x.sum(1))
    np.testing.assert_allclose(np.asarray(lax.reduce(x, 2.0, lax.mul, (0,))),
                               2 * x.prod(0))
    np.testing.assert_allclose(np.asarray(lax.reduce(x, -np.inf, lax.max, (0, 1))), 11.0)
    assert "reduce_sum" in str(fx.make_jaxpr(lambda v: lax.reduce(v, 0.0, lax.add, (1,)))(x))
    both = lax.reduce((x, x), (np.float32(0), np.float32(1)),
                      lambda a, b: (a[0] + b[0], a[1] * b[1]), (1,))
    np.testing.assert_allclose(np.asarray(both[0]), x.sum(1))
    np.testing.assert_allclose(np.asarray(both[1]), x.prod(1))
    weird = lax.reduce(x, np.float32(0), lambda a, b: lax.max(a, b) + 0 * a, (0,))
    np.testing.assert_allclose(np.asarray(weird), x.max(0))
    bits = np.array([[1, 2], [4, 2]], np.int32)
    np.testing.assert_array_equal(np.asarray(lax.reduce(bits, 0, lax.bitwise_or, (0,))),
                                  [5, 2])


# ---------------------------------------------------------------------------
# select_and_gather_add / select_and_scatter_add


@pytest.mark.parametrize("select_max", [True, False])
@given(config=window_config())
def test_select_and_gather_and_scatter_match_reference(select_max, config):
    shape, params = config
    x = rand(shape, 3)
    x[x > 1.0] = 1.0  # ties, to test which element is chosen
    t = rand(shape, 4) + 10
    select_prim = primitives.registry["ge" if select_max else "le"]
    out_shape, chosen = ref_choice(x, select_max, **params)
    gathered = primitives.select_and_gather_add_p.bind(
        fnp.asarray(t), fnp.asarray(x), select_prim=select_prim, **params)
    expected = np.zeros(out_shape, np.float32)
    for o, i in chosen.items():
        if i is not None:
            expected[o] = t[i]
    np.testing.assert_array_equal(np.asarray(gathered), expected)
    if params["base_dilation"] == (1,) * len(shape) and \
            params["window_dilation"] == (1,) * len(shape):
        source = rand(out_shape, 5) if out_shape and np.prod(out_shape) else \
            np.zeros(out_shape, np.float32)
        scattered = primitives.select_and_scatter_add_p.bind(
            fnp.asarray(source), fnp.asarray(x), select_prim=select_prim,
            window_dimensions=params["window_dimensions"],
            window_strides=params["window_strides"], padding=params["padding"])
        expected = np.zeros(shape, np.float32)
        for o, i in chosen.items():
            if i is not None:
                expected[i] += source[o]
        np.testing.assert_allclose(np.asarray(scattered), expected, rtol=1e-6, atol=1e-6)


def test_nan_and_padding_choice():
    x = np.array([-np.inf, np.nan, 1.0, -np.inf], np.float32)
    params = dict(window_dimensions=(2,), window_strides=(1,), padding=((2, 1),),
                  base_dilation=(1,), window_dilation=(1,))
    t = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    out = primitives.select_and_gather_add_p.bind(t, x, select_prim=primitives.registry["ge"],
                                                  **params)
    # windows: [pad,pad] [pad,-inf] [-inf,nan] [nan,1] [1,-inf] [-inf,pad]
    np.testing.assert_array_equal(np.asarray(out), [0.0, 1.0, 2.0, 2.0, 3.0, 4.0])


# ---------------------------------------------------------------------------
# derivatives


GRAD_CONFIGS = [
    dict(window_dimensions=(2, 2), window_strides=(1, 1), padding=((0, 0), (0, 0))),
    dict(window_dimensions=(3, 2), window_strides=(2, 1), padding=((1, 1), (0, 1))),
    dict(window_dimensions=(2, 3), window_strides=(2, 3), padding=((1, 0), (2, 1))),
    dict(window_dimensions=(1, 2), window_strides=(1, 1), padding=((0, 0), (-1, 1))),
]


@pytest.mark.parametrize("kind", ["sum", "max", "min"])
@pytest.mark.parametrize("config", range(len(GRAD_CONFIGS)))
def test_pooling_grads_order2(kind, config):
    params = dict(GRAD_CONFIGS[config], base_dilation=(1, 1), window_dilation=(1, 1))
    prim = PRIMS[kind][0]
    x = fnp.asarray(rand((4, 5), 6))
    check_grads(lambda v: prim.bind(v, **params), (x,), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("kind", ["sum", "max"])
def test_dilated_pooling_grads(kind):
    prim = PRIMS[kind][0]
    x = fnp.asarray(rand((4, 5), 7))
    params = dict(window_dimensions=(2, 2), window_strides=(1, 2), padding=((1, 0), (0, 1)),
                  base_dilation=(2, 1), window_dilation=(1, 1))
    check_grads(lambda v: prim.bind(v, **params), (x,), order=2)
    params = dict(params, base_dilation=(1, 1), window_dilation=(2, 1))
    if kind == "sum":
        check_grads(lambda v: prim.bind(v, **params), (x,), order=2)
    else:
        check_grads(lambda v: prim.bind(v, **params), (x,), order=1, modes=("fwd",))
        with pytest.raises(NotImplementedError, match="window dilation"):
            fx.grad(lambda v: prim.bind(v, **params).sum())(x)


def test_reduce_window_sum_transpose_is_adjoint():
    rng = np.random.RandomState(8)
    for shape, params in [((5, 4), dict(window_dimensions=(2, 3), window_strides=(2, 1),
                                        padding=((1, 2), (0, 1)), base_dilation=(2, 1),
                                        window_dilation=(1, 2))),
                          ((7,), dict(window_dimensions=(3,), window_strides=(3,),
                                      padding=((-1, 0),), base_dilation=(1,),
                                      window_dilation=(2,)))]:
        x = rng.randn(*shape).astype(np.float32)
        fn = lambda v: primitives.reduce_window_sum_p.bind(v, **params)  # noqa: B023,E731
        y = np.asarray(fn(x))
        ct = rng.randn(*y.shape).astype(np.float32)
        (back,) = fx.linear_transpose(fn, x)(ct)
        np.testing.assert_allclose(np.sum(y * ct), np.sum(np.asarray(back) * x), rtol=1e-5)


def test_second_order_maxpool_graph():
    x = fnp.asarray(rand((4, 4), 9))
    params = dict(window_dimensions=(2, 2), window_strides=(2, 2), padding=((0, 0), (0, 0)),
                  base_dilation=(1, 1), window_dilation=(1, 1))
    g = fx.grad(lambda v: (primitives.reduce_window_max_p.bind(v, **params) ** 2).sum())
    hvp = fx.jvp(g, (x,), (fnp.ones((4, 4)),))[1]
    vals = np.asarray(primitives.reduce_window_max_p.bind(x, **params))
    mask = np.asarray(fx.grad(lambda v: primitives.reduce_window_max_p.bind(
        v, **params).sum())(x))
    np.testing.assert_allclose(np.asarray(g(x)), 2 * mask * np.kron(vals, np.ones((2, 2))),
                               rtol=1e-6)
    np.testing.assert_allclose(np.asarray(hvp), 2 * mask, rtol=1e-6)
    text = str(fx.make_jaxpr(fx.grad(lambda v: fx.grad(lambda u: primitives.reduce_window_max_p
                                                       .bind(u, **params).sum())(v).sum()))(x))
    assert "select_and_scatter_add" in text


# ---------------------------------------------------------------------------
# vmap, jit


@pytest.mark.parametrize("kind", ["sum", "max", "min"])
@pytest.mark.parametrize("in_axis", [0, 1, 2])
def test_vmap_pooling(harness, kind, in_axis):
    prim = PRIMS[kind][0]
    params = dict(window_dimensions=(2, 2), window_strides=(1, 2), padding=((1, 0), (0, 1)),
                  base_dilation=(1, 1), window_dilation=(1, 1))
    x = rand((3, 4, 5), 10)
    harness.check_vmap(lambda v: prim.bind(v, **params), [x], [in_axis], rtol=1e-6)
    harness.check_vmap(fx.grad(lambda v: prim.bind(v, **params).sum()), [x], [in_axis])


def test_vmap_select_primitives(harness):
    x, t = rand((3, 4, 5), 11), rand((3, 4, 5), 12)
    params = dict(window_dimensions=(2, 2), window_strides=(1, 2), padding=((1, 0), (0, 1)))
    ge = primitives.registry["ge"]
    gather = lambda tt, xx: primitives.select_and_gather_add_p.bind(  # noqa: E731
        tt, xx, select_prim=ge, base_dilation=(1, 1), window_dilation=(1, 1), **params)
    harness.check_vmap(gather, [t, np.moveaxis(x, 0, 2)], [0, 2])
    harness.check_vmap(gather, [t[0], np.moveaxis(x, 0, 1)], [None, 1])
    source = rand((3, 4, 3), 13)
    scatter = lambda s, xx: primitives.select_and_scatter_add_p.bind(  # noqa: E731
        s, xx, select_prim=ge, **params)
    harness.check_vmap(scatter, [source, x], [0, 0], rtol=1e-6)
    harness.check_vmap(scatter, [np.moveaxis(source, 0, 2), x[0]], [2, None], rtol=1e-6)


def test_vmap_generic_reduce_window(harness):
    x = rand((3, 6), 14) * 0.3
    fn = lambda v: lax.reduce_window(v, np.float32(1), lax.mul, (2,), (2,), "VALID")  # noqa
    harness.check_vmap(fn, [x], [1], rtol=1e-6)


@pytest.mark.parametrize("kind", ["sum", "max", "min"])
def test_jit_matches_eager(harness, kind):
    prim = PRIMS[kind][0]
    params = dict(window_dimensions=(3,), window_strides=(2,), padding=((1, 1),),
                  base_dilation=(1,), window_dilation=(1,))
    x = rand((7,), 15)
    harness.check_jit(lambda v: prim.bind(v, **params), [x])
    harness.check_jit(fx.grad(lambda v: (prim.bind(v, **params) ** 2).sum()), [x])


def test_abstract_eval_and_errors(harness):
    x = rand((4, 5), 16)
    params = dict(window_dimensions=(2, 3), window_strides=(2, 1), padding=((1, 0), (0, 2)),
                  base_dilation=(2, 1), window_dilation=(1, 2))
    harness.check_abstract_eval(primitives.reduce_window_sum_p, [x], params)
    with pytest.raises(TypeError, match="one entry per operand dimension"):
        primitives.reduce_window_max_p.bind(x, **dict(params, window_strides=(1,)))
    with pytest.raises(TypeError, match="window_strides .* must be positive"):
        primitives.reduce_window_max_p.bind(x, **dict(params, window_strides=(0, 1)))
    with pytest.raises(TypeError, match="crops more than"):
        primitives.reduce_window_max_p.bind(x, **dict(params, padding=((-9, 0), (0, 0))))
    with pytest.raises(TypeError, match="reduce_window_sum does not accept dtype bool"):
        primitives.reduce_window_sum_p.bind(np.ones((2,), bool), **dict(
            window_dimensions=(1,), window_strides=(1,), padding=((0, 0),),
            base_dilation=(1,), window_dilation=(1,)))
    with pytest.raises(ValueError, match="Unknown padding type"):
        lax.reduce_window(x, 0.0, lax.add, (2, 2), (1, 1), "FULL")


# ---------------------------------------------------------------------------
# JAX as an oracle


@pytest.mark.jax
@settings(max_examples=8)  # each new shape costs JAX a compilation
@given(config=window_config())
def test_matches_jax(jax, config):
    import jax.lax as jlax
    shape, params = config
    x = rand(shape, 17)
    args = (params["window_dimensions"], params["window_strides"], params["padding"],
            params["base_dilation"], params["window_dilation"])
    for init, comp, jcomp in ((0.0, lax.add, jlax.add), (-np.inf, lax.max, jlax.max),
                              (np.inf, lax.min, jlax.min)):
        got = lax.reduce_window(x, np.float32(init), comp, *args)
        want = jlax.reduce_window(x, np.float32(init), jcomp, *args)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-6)


@pytest.mark.jax
@pytest.mark.parametrize("config", [1, 2])  # (JAX cannot differentiate negative padding)
def test_pooling_grad_matches_jax(jax, config):
    import jax.lax as jlax
    c = GRAD_CONFIGS[config]
    x = rand((4, 5), 18)
    for init, comp, jcomp in ((0.0, lax.add, jlax.add), (-np.inf, lax.max, jlax.max)):
        f = lambda v, m, op: (m.reduce_window(v, np.float32(init), op,  # noqa: E731,B023
                                              c["window_dimensions"], c["window_strides"],
                                              c["padding"]) ** 2).sum()
        got = fx.grad(lambda v: f(v, lax, comp))(x)  # noqa: B023
        want = jax.grad(lambda v: f(v, jlax, jcomp))(x)  # noqa: B023
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5)
    jtext = str(jax.make_jaxpr(jax.grad(lambda v: jlax.reduce_window(
        v, -np.inf, jlax.max, (2, 2), (1, 1), "VALID").sum()))(x))
    text = str(fx.make_jaxpr(fx.grad(lambda v: lax.reduce_window(
        v, -np.inf, lax.max, (2, 2), (1, 1), "VALID").sum()))(x))
    pick = lambda s: [line.split("=", 1)[1].strip() for line in s.splitlines()  # noqa: E731
                      if "select_and_scatter_add" in line or "reduce_window_max" in line]
    assert pick(text) == pick(jtext)
