"""The lax primitives JAX 0.10 exposes that fx added (square, mulhi, total-order
comparisons, split/tile/stack/unstack, approx_top_k, tokens, dce_sink, placement
identities, bessel/betainc, reduce, rng_bit_generator): values against NumPy/SciPy and
JAX, derivatives against finite differences, vmap against a loop, jit against eager.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given, settings, strategies as st

import fx
import fx.numpy as fnp
from fx import lax
from fx.test_util import check_grads
from primitives.rng_bit_generator import RandomAlgorithm, rng_bit_generator_numpy

RNG = np.random.default_rng(0)


def _f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _loop_vmap(f, xs):
    return np.stack([np.asarray(f(x)) for x in xs])


# ---------------------------------------------------------------------------
# elementwise


def test_square_p_value_grad_vmap():
    x = _f32(3, 4)
    np.testing.assert_allclose(lax.square_p.bind(fnp.asarray(x)), x * x, rtol=1e-6)
    check_grads(lambda v: lax.square_p.bind(v), (fnp.asarray(x),), order=2,
                modes=("fwd", "rev"))
    np.testing.assert_allclose(fx.vmap(lax.square_p.bind)(x), _loop_vmap(np.square, x))
    assert lax.square_p.bind(fnp.arange(4)).dtype == np.int32


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int32, np.uint32, np.int64,
                                   np.uint64])
def test_mulhi_p_matches_wide_product(dtype):
    info = np.iinfo(dtype)
    x = RNG.integers(info.min, info.max, size=20, dtype=dtype, endpoint=True)
    y = RNG.integers(info.min, info.max, size=20, dtype=dtype, endpoint=True)
    bits = np.dtype(dtype).itemsize * 8
    expected = np.array([(int(a) * int(b)) >> bits for a, b in zip(x, y)], dtype=object)
    expected = np.array([int(v) % (1 << bits) for v in expected], dtype=np.uint64)
    expected = expected.astype(np.dtype(f"u{np.dtype(dtype).itemsize}")).view(dtype)
    with fx.enable_x64(True):
        out = lax.mulhi_p.bind(fnp.asarray(x), fnp.asarray(y))
    np.testing.assert_array_equal(np.asarray(out), expected)


def test_total_order_comparisons():
    vals = np.array([-np.nan, -np.inf, -1.0, -0.0, 0.0, 1.0, np.inf, np.nan], np.float32)
    vals[0] = np.copysign(np.float32(np.nan), np.float32(-1))  # a NaN with the sign bit
    x = fnp.asarray(np.repeat(vals, len(vals)))
    y = fnp.asarray(np.tile(vals, len(vals)))
    rank = np.repeat(np.arange(len(vals)), len(vals)), np.tile(np.arange(len(vals)),
                                                               len(vals))
    np.testing.assert_array_equal(lax.lt_to_p.bind(x, y), rank[0] < rank[1])
    np.testing.assert_array_equal(lax.le_to_p.bind(x, y), rank[0] <= rank[1])
    np.testing.assert_array_equal(lax.eq_to_p.bind(x, y), rank[0] == rank[1])
    ints = fnp.arange(5)
    np.testing.assert_array_equal(lax.lt_to_p.bind(ints, ints[::-1]), np.arange(5) < 4 -
                                  np.arange(5))


# ---------------------------------------------------------------------------
# shapes


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.data())
def test_split_p(shape, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    cut = data.draw(st.integers(0, shape[axis]))
    sizes = (cut, shape[axis] - cut)
    x = _f32(*shape)
    outs = lax.split_p.bind(fnp.asarray(x), sizes=sizes, axis=axis)
    for o, e in zip(outs, np.split(x, [cut], axis=axis)):
        np.testing.assert_array_equal(o, e)
    check_grads(lambda v: lax.split_p.bind(v, sizes=sizes, axis=axis)[1] * 2.0,
                (fnp.asarray(x),), order=1, modes=("fwd", "rev"))
    batched = fx.vmap(lambda v: lax.split_p.bind(v, sizes=sizes, axis=axis)[0])(
        np.stack([x, 2 * x]))
    np.testing.assert_array_equal(batched, np.stack([np.split(v, [cut], axis=axis)[0]
                                                     for v in (x, 2 * x)]))


def test_tile_p():
    x = _f32(2, 3)
    np.testing.assert_array_equal(lax.tile_p.bind(fnp.asarray(x), reps=(2, 3)),
                                  np.tile(x, (2, 3)))
    check_grads(lambda v: lax.tile_p.bind(v, reps=(3, 2)) ** 2, (fnp.asarray(x),), order=2,
                modes=("fwd", "rev"))
    xs = _f32(4, 2, 3)
    np.testing.assert_array_equal(fx.vmap(lambda v: lax.tile_p.bind(v, reps=(2, 1)),
                                          in_axes=1)(xs),
                                  np.stack([np.tile(xs[:, i], (2, 1)) for i in range(2)]))


def test_stack_and_unstack_p():
    a, b = _f32(2, 3), _f32(2, 3)
    out = lax.stack_p.bind(fnp.asarray(a), fnp.asarray(b), axis=1)
    np.testing.assert_array_equal(out, np.stack([a, b], axis=1))
    pieces = lax.unstack_p.bind(fnp.asarray(a), axis=1)
    for i, p in enumerate(pieces):
        np.testing.assert_array_equal(p, a[:, i])
    check_grads(lambda u, v: lax.stack_p.bind(u, v * u, axis=0), (fnp.asarray(a),
                                                                  fnp.asarray(b)),
                order=2, modes=("fwd", "rev"))
    check_grads(lambda u: lax.unstack_p.bind(u, axis=0)[1] ** 2, (fnp.asarray(a),),
                order=2, modes=("fwd", "rev"))
    xs = _f32(5, 2, 3)
    np.testing.assert_array_equal(
        fx.vmap(lambda v: lax.stack_p.bind(v, fnp.asarray(b), axis=2))(xs),
        np.stack([np.stack([v, b], axis=2) for v in xs]))
    np.testing.assert_array_equal(
        fx.vmap(lambda v: lax.unstack_p.bind(v, axis=1)[2])(xs), xs[:, :, 2])


def test_approx_top_k_p_against_jax():
    jax = pytest.importorskip("jax")
    x = _f32(4, 9)
    params = dict(k=3, reduction_dimension=-1, recall_target=0.95,
                  reduction_input_size_override=-1, aggregate_to_topk=True)
    for is_max in (True, False):
        vals, idx = lax.approx_top_k_p.bind(fnp.asarray(x), is_max_k=is_max, **params)
        jv, ji = (jax.lax.approx_max_k if is_max else jax.lax.approx_min_k)(x, 3)
        np.testing.assert_array_equal(vals, np.asarray(jv))
        np.testing.assert_array_equal(idx, np.asarray(ji))
    check_grads(lambda v: lax.approx_top_k_p.bind(v, is_max_k=True, **params)[0],
                (fnp.asarray(x),), order=1, modes=("fwd", "rev"))
    out = fx.vmap(lambda v: lax.approx_top_k_p.bind(v, is_max_k=True, **params)[1])(
        np.stack([x, -x]))
    np.testing.assert_array_equal(out[1], np.argsort(x, axis=-1, kind="stable")[:, :3])


# ---------------------------------------------------------------------------
# tokens, sinks, placement


def test_tokens():
    tok = lax.create_token()
    joined = lax.after_all(tok, lax.create_token())
    assert joined.shape == (0,) and joined.dtype == np.bool_
    text = str(fx.make_jaxpr(lambda: lax.after_all(lax.create_token()))())
    assert "create_token" in text and "after_all" in text
    with pytest.raises(TypeError, match="not a token"):
        lax.after_all(fnp.ones(3))
    assert fx.jit(lambda: lax.after_all(lax.create_token()))().shape == (0,)


def test_dce_sink_and_identities():
    def f(x):
        lax.dce_sink(x * 2.0)
        return x
    assert "dce_sink" in str(fx.make_jaxpr(f)(1.0))
    assert float(fx.jit(f)(3.0)) == 3.0
    assert float(fx.grad(f)(3.0)) == 1.0
    x = fnp.asarray(_f32(3))
    np.testing.assert_array_equal(lax.sharding_constraint_p.bind(x, sharding=None), x)
    (y,) = lax.device_put_p.bind(x, devices=(None,), srcs=(None,), copy_semantics=(None,))
    np.testing.assert_array_equal(y, x)
    g = fx.grad(lambda v: (lax.sharding_constraint_p.bind(v, sharding=None) ** 2).sum())(x)
    np.testing.assert_allclose(g, 2 * np.asarray(x), rtol=1e-6)
    g = fx.grad(lambda v: (lax.device_put_p.bind(v, devices=(None,), srcs=(None,),
                                                 copy_semantics=(None,))[0] ** 2).sum())(x)
    np.testing.assert_allclose(g, 2 * np.asarray(x), rtol=1e-6)


# ---------------------------------------------------------------------------
# special functions


def test_bessel_primitives():
    x = np.linspace(-30, 30, 41).astype(np.float64)
    with fx.enable_x64(True):
        np.testing.assert_allclose(lax.bessel_i0e_p.bind(fnp.asarray(x)), sp.i0e(x),
                                   rtol=1e-12)
        np.testing.assert_allclose(lax.bessel_i1e_p.bind(fnp.asarray(x)), sp.i1e(x),
                                   rtol=1e-12)
        xs = fnp.asarray(np.array([-2.0, -0.3, 0.7, 3.0]))
        check_grads(lambda v: lax.bessel_i0e_p.bind(v), (xs,), order=2, modes=("fwd", "rev"))
        check_grads(lambda v: lax.bessel_i1e_p.bind(v), (xs,), order=2, modes=("fwd", "rev"))
        np.testing.assert_allclose(fx.grad(lambda v: lax.bessel_i1e_p.bind(v))(0.0), 0.5)


def test_regularized_incomplete_beta_p():
    a, b, x = np.array([0.5, 2.0, 3.0]), np.array([1.5, 3.0, 0.7]), np.array([0.2, 0.5, 0.9])
    with fx.enable_x64(True):
        fa, fb, fxx = (fnp.asarray(v) for v in (a, b, x))
        p = lax.regularized_incomplete_beta_p
        np.testing.assert_allclose(p.bind(fa, fb, fxx), sp.betainc(a, b, x), rtol=1e-12)
        check_grads(lambda v: p.bind(fa, fb, v), (fxx,), order=1, modes=("fwd", "rev"))
        with pytest.raises(ValueError, match="with respect to a and b"):
            fx.grad(lambda v: p.bind(v, fb, fxx).sum())(fa)
        out = fx.vmap(lambda v: p.bind(fa, fb, v))(fnp.asarray(np.stack([x, x / 2])))
        np.testing.assert_allclose(out, np.stack([sp.betainc(a, b, x),
                                                  sp.betainc(a, b, x / 2)]), rtol=1e-12)


# ---------------------------------------------------------------------------
# reduce


def _traced(computation, n_dtypes):
    from fx.core import ClosedJaxpr, ShapedArray
    from fx.interpreters import partial_eval as pe
    avals = [ShapedArray((), d) for d in n_dtypes] * 2
    jaxpr, consts, _ = pe.trace_to_jaxpr(computation, avals)
    return ClosedJaxpr(jaxpr, consts)


def test_reduce_p_variadic_value_grad_vmap():
    def comp(a0, a1, b0, b1):  # (product, sum) pairs
        return [a0 * b0, a1 + b1]
    jaxpr = _traced(comp, [np.float32, np.float32])
    x, y = _f32(3, 4), _f32(3, 4)

    def f(u, v):
        return lax.reduce_p.bind(u, v, np.float32(1), np.float32(0), computation=None,
                                 jaxpr=jaxpr, dimensions=(1,))
    prod, total = f(fnp.asarray(x), fnp.asarray(y))
    np.testing.assert_allclose(prod, x.prod(1), rtol=1e-5)
    np.testing.assert_allclose(total, y.sum(1), rtol=1e-5)
    check_grads(lambda u, v: f(u, v)[0] + f(u, v)[1], (fnp.asarray(x), fnp.asarray(y)),
                order=1, modes=("fwd",), atol=1e-2, rtol=1e-2)  # reverse mode: a known gap
    out = fx.vmap(lambda u: f(u, u)[0])(np.stack([x, 2 * x]))
    np.testing.assert_allclose(out, np.stack([x.prod(1), (2 * x).prod(1)]), rtol=1e-5)
    np.testing.assert_allclose(fx.jit(lambda u: f(u, u)[1])(x), x.sum(1), rtol=1e-5)


# ---------------------------------------------------------------------------
# rng_bit_generator


@pytest.mark.parametrize("algorithm", list(RandomAlgorithm))
def test_rng_bit_generator_matches_jax(algorithm):
    jax = pytest.importorskip("jax")
    key = np.array([0xDEADBEEF, 7, 0xFFFFFFFF, 0xFFFFFFF0], np.uint32)
    shapes = [(), (5,), (2, 3), (3, 1, 4), (1, 3), (0, 3), (7, 5)]
    with jax.enable_x64(True), fx.enable_x64(True):
        for shape in shapes:
            for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
                jk, jb = jax.lax.rng_bit_generator(
                    key, shape, dtype, algorithm=jax.lax.RandomAlgorithm(int(algorithm)))
                fk, fb = lax.rng_bit_generator(key, shape, dtype, algorithm=algorithm)
                assert fb.dtype == np.dtype(dtype) and fb.shape == shape
                np.testing.assert_array_equal(fb, np.asarray(jb), err_msg=f"{shape} {dtype}")
                np.testing.assert_array_equal(fk, np.asarray(jk))


def test_rng_bit_generator_vmap_jit_and_errors():
    keys = np.arange(12, dtype=np.uint32).reshape(3, 4)
    def f(k):
        return lax.rng_bit_generator(k, (2, 3), algorithm=lax.RandomAlgorithm.RNG_THREE_FRY)
    new_keys, bits = fx.vmap(f)(keys)
    for i in range(3):
        nk, b = rng_bit_generator_numpy(keys[i], (2, 3), np.uint32,
                                        RandomAlgorithm.RNG_THREE_FRY)
        np.testing.assert_array_equal(bits[i], b)
        np.testing.assert_array_equal(new_keys[i], nk)
    jk, jb = fx.jit(f)(keys[0])
    ek, eb = f(keys[0])
    np.testing.assert_array_equal(jb, eb)
    np.testing.assert_array_equal(jk, ek)
    with pytest.raises(TypeError, match="unsupported dtype"):
        lax.rng_bit_generator(keys[0], (2,), np.int32)
    with pytest.raises(TypeError, match="uint32\\[4\\]"):
        lax.rng_bit_generator(np.zeros(2, np.uint32), (2,))


def test_rng_uniform_bounds():
    out = lax.rng_uniform(np.float32(2), np.float32(3), (100,))
    assert out.shape == (100,) and out.dtype == np.float32
    assert np.all((np.asarray(out) >= 2) & (np.asarray(out) < 3))
    ints = lax.rng_uniform(np.int32(-3), np.int32(4), (200,))
    assert set(np.unique(np.asarray(ints))) <= set(range(-3, 4))
