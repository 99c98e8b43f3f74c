"""Tests of fx.nn's functions (fx/nn/functions.py): values against NumPy/SciPy
formulas in float64, dtypes and weak types against jax.nn, derivatives against
finite differences (and JAX's choices at kinks), vmap against a Python loop, jit
against eager, and the error cases.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sps
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx import nn
from fx.test_util import check_grads

SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _softplus(x):
    return np.logaddexp(x, 0)


# name -> (NumPy float64 reference, kwargs)
ELEMENTWISE = {
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "sigmoid": sps.expit,
    "silu": lambda x: x * sps.expit(x),
    "swish": lambda x: x * sps.expit(x),
    "softplus": _softplus,
    "log_sigmoid": lambda x: -_softplus(-x),
    "soft_sign": lambda x: x / (np.abs(x) + 1),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "selu": lambda x: SELU_S * np.where(x > 0, x, SELU_A * np.expm1(np.minimum(x, 0))),
    "celu": lambda x: np.maximum(x, 0) + np.expm1(np.minimum(x, 0)),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.01 * x),
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "hard_sigmoid": lambda x: np.clip(x + 3, 0, 6) / 6,
    "hard_silu": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "hard_swish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "gelu": lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))),
    "sparse_plus": lambda x: np.where(x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4)),
    "sparse_sigmoid": lambda x: np.clip((x + 1) / 2, 0, 1),
    "squareplus": lambda x: (x + np.sqrt(x * x + 4)) / 2,
    "mish": lambda x: x * np.tanh(_softplus(x)),
    "tanh": np.tanh,
    "identity": lambda x: x,
}

# kinks where finite differences are meaningless
KINKS = {"relu": [0], "relu6": [0, 6], "leaky_relu": [0], "hard_tanh": [-1, 1],
         "hard_sigmoid": [-3, 3], "hard_silu": [-3, 3], "hard_swish": [-3, 3],
         "sparse_plus": [-1, 1], "sparse_sigmoid": [-1, 1], "elu": [0], "selu": [0],
         "celu": [0]}


def _points(n=11, seed=0, lo=-7.5, hi=7.5):
    return np.random.RandomState(seed).uniform(lo, hi, size=n)


def _away_from_kinks(name, x, margin=0.05):
    for k in KINKS.get(name, []):
        x = np.where(np.abs(x - k) < margin, k + 2 * margin, x)
    return x


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_values_float64(name):
    x = np.concatenate([_points(), [0.0, -1.0, 1.0, 6.0, -3.0, 3.0, 40.0, -40.0]])
    with fx.enable_x64():
        out = getattr(nn, name)(fnp.asarray(x))
        assert out.dtype == np.float64
        np.testing.assert_allclose(np.asarray(out), ELEMENTWISE[name](x), rtol=1e-12,
                                   atol=1e-14)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_values_float32(name):
    x = _points(20, 1).astype(np.float32)
    out = getattr(nn, name)(x)
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_allclose(np.asarray(out), ELEMENTWISE[name](x.astype(np.float64)),
                               rtol=2e-6, atol=2e-6)


def test_gelu_exact_and_extremes():
    x = np.linspace(-6, 6, 25)
    with fx.enable_x64():
        out = nn.gelu(fnp.asarray(x), approximate=False)
        np.testing.assert_allclose(np.asarray(out), x * sps.ndtr(x), rtol=1e-12, atol=1e-15)
    big = np.array([-100., 100.], np.float32)
    assert np.all(np.isfinite(np.asarray(nn.softplus(big))))
    np.testing.assert_allclose(np.asarray(nn.log_sigmoid(big)), [-100., 0.], atol=1e-6)


def test_log1mexp():
    x = np.array([1e-6, 0.1, 0.5, np.log(2), 1.0, 5.0, 40.0])
    with fx.enable_x64():
        out = np.asarray(nn.log1mexp(fnp.asarray(x)))
    # log(-expm1(-x)) is accurate for small x, log1p(-exp(-x)) for large x
    ref = np.where(x < 1, np.log(-np.expm1(-x)), np.log1p(-np.exp(-x)))
    np.testing.assert_allclose(out, ref, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_grads(name):
    x = _away_from_kinks(name, _points(7, 2, -4, 4))
    with fx.enable_x64():
        fn = getattr(nn, name)
        check_grads(fn, (fnp.asarray(x),), order=2, modes=("fwd", "rev"))


def test_kink_derivatives_follow_jax():
    # relu'(0) = 0; relu6' is 0 at both 0 and 6
    assert float(fx.grad(nn.relu)(0.0)) == 0.0
    assert float(fx.grad(nn.relu)(1e-3)) == 1.0
    assert float(fx.grad(nn.relu6)(0.0)) == 0.0
    assert float(fx.grad(nn.relu6)(6.0)) == 0.0
    assert float(fx.grad(nn.relu6)(3.0)) == 1.0
    g = fx.vmap(fx.grad(nn.relu))(fnp.array([-1., 0., 1.]))
    np.testing.assert_array_equal(np.asarray(g), [0., 0., 1.])


def test_custom_jvp_in_jaxpr():
    text = str(fx.make_jaxpr(nn.relu)(1.0))
    assert "custom_jvp_call" in text and "name=relu" in text


@pytest.mark.parametrize("name", ["relu", "gelu", "silu", "softplus", "elu", "hard_tanh",
                                  "mish", "relu6", "leaky_relu"])
def test_elementwise_vmap_jit(name, harness):
    fn = getattr(nn, name)
    x = _points(12, 3).astype(np.float32).reshape(3, 4)
    harness.check_vmap(fn, [x], [1], out_axis=0, rtol=1e-6, atol=1e-7)
    harness.check_jit(fn, [x], rtol=1e-6, atol=1e-7)


def test_dtypes_match_jax(jax):
    """Result dtypes and weak types as JAX's (from jax.eval_shape: JAX's types without
    compiling; the values are checked against NumPy above)."""
    import jax.numpy as jnp
    names = sorted(ELEMENTWISE) + ["log1mexp"]
    failures = []
    inputs = [np.arange(-2, 3, dtype=np.int32), np.linspace(-2, 2, 5).astype(np.float32),
              np.linspace(-2, 2, 5).astype(np.float16), 1.5, 2]
    for name in names:
        for x in inputs:
            ctx = f"{name}({type(x).__name__} {getattr(x, 'dtype', '')})"
            try:
                expected = jax.eval_shape(getattr(jax.nn, name), jnp.asarray(x) if not
                                          isinstance(x, (int, float)) else x)
            except TypeError:
                with pytest.raises(TypeError):
                    getattr(nn, name)(x)
                continue
            out = getattr(nn, name)(x)
            if (out.dtype, out.weak_type, out.shape) != (expected.dtype, expected.weak_type,
                                                         expected.shape):
                failures.append((ctx, (out.dtype, out.weak_type),
                                 (expected.dtype, expected.weak_type)))
    assert not failures, f"types differ from JAX for: {failures}"


# ---------------------------------------------------------------------------
# glu, softmax family


def test_glu():
    x = _points(12, 4).reshape(3, 4)
    with fx.enable_x64():
        out = nn.glu(fnp.asarray(x), axis=0) if False else nn.glu(fnp.asarray(x))
        np.testing.assert_allclose(np.asarray(out), x[:, :2] * sps.expit(x[:, 2:]), rtol=1e-12)
        out0 = nn.glu(fnp.asarray(x[:2]), axis=0)
        np.testing.assert_allclose(np.asarray(out0), x[:1] * sps.expit(x[1:2]), rtol=1e-12)
        check_grads(nn.glu, (fnp.asarray(x),), order=1)
    with pytest.raises(ValueError, match="even"):
        nn.glu(fnp.ones((3, 3)))


def _np_softmax(x, axis, where=None):
    if where is None:
        where = np.ones(x.shape, bool)
    m = np.max(np.where(where, x, -np.inf), axis=axis, keepdims=True)
    e = np.where(where, np.exp(x - m), 0)
    return e / e.sum(axis=axis, keepdims=True)


shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)


@settings(max_examples=25, deadline=None)
@given(shape=shapes, data=st.data())
def test_softmax_log_softmax(shape, data):
    ndim = len(shape)
    axis = data.draw(st.one_of(st.integers(-ndim, ndim - 1),
                               st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim,
                                        unique=True).map(tuple)))
    rng = np.random.RandomState(len(shape))
    x = rng.randn(*shape) * 3
    use_where = data.draw(st.booleans())
    where = None
    if use_where:
        where = rng.rand(*shape) < 0.7
        # keep at least one entry per reduced slice
        where |= x == np.max(x, axis=axis, keepdims=True)
    with fx.enable_x64():
        sm = nn.softmax(fnp.asarray(x), axis=axis, where=where)
        lsm = nn.log_softmax(fnp.asarray(x), axis=axis, where=where)
    ref = _np_softmax(x, axis, where)
    np.testing.assert_allclose(np.asarray(sm), ref, rtol=1e-12, atol=1e-15)
    with np.errstate(divide="ignore"):
        log_ref = np.where(ref > 0, np.log(np.where(ref > 0, ref, 1)), -np.inf)
    np.testing.assert_allclose(np.asarray(lsm), log_ref, rtol=1e-10, atol=1e-12)


def test_softmax_grads_and_transforms(harness):
    x = np.random.RandomState(5).randn(3, 4)
    with fx.enable_x64():
        for fn in (nn.softmax, nn.log_softmax, lambda a: nn.softmax(a, axis=0),
                   lambda a: nn.log_softmax(a, axis=(0, 1))):
            check_grads(fn, (fnp.asarray(x),), order=2)
    where = np.array([True, False, True, True])
    with fx.enable_x64():
        # masked entries do not influence the result, so their gradient is zero
        g = fx.grad(lambda a: nn.softmax(a, where=where)[0])(fnp.asarray(x[0]))
        assert np.asarray(g)[1] == 0
    x32 = x.astype(np.float32)
    harness.check_vmap(nn.softmax, [x32], [0], rtol=1e-6, atol=1e-7)
    harness.check_vmap(nn.log_softmax, [x32], [1], rtol=1e-6, atol=1e-7)
    harness.check_jit(nn.log_softmax, [x32], rtol=1e-6, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(shape=shapes, data=st.data())
def test_logsumexp_matches_scipy(shape, data):
    ndim = len(shape)
    axis = data.draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1)))
    keepdims = data.draw(st.booleans())
    use_b = data.draw(st.booleans())
    rng = np.random.RandomState(ndim + 7)
    a = rng.randn(*shape) * 4
    b = rng.uniform(-1, 2, size=shape) if use_b else None
    with fx.enable_x64():
        out, sign = nn.logsumexp(fnp.asarray(a), axis=axis, b=b, keepdims=keepdims,
                                 return_sign=True)
        plain = nn.logsumexp(fnp.asarray(a), axis=axis, b=b, keepdims=keepdims)
    ref, ref_sign = sps.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=True)
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(np.asarray(sign), ref_sign)
    expected_plain = np.where(np.asarray(ref_sign) < 0, np.nan, ref)
    np.testing.assert_allclose(np.asarray(plain), expected_plain, rtol=1e-10, atol=1e-12)


def test_logsumexp_edge_cases_and_grads():
    assert float(nn.logsumexp(np.array([-np.inf, -np.inf], np.float32))) == -np.inf
    assert float(nn.logsumexp(np.array([np.inf, 1.], np.float32))) == np.inf
    big = np.array([1000., 1000.], np.float32)
    np.testing.assert_allclose(float(nn.logsumexp(big)), 1000 + np.log(2), rtol=1e-6)
    where = np.array([True, False, True])
    x = np.array([1., 50., 2.])
    with fx.enable_x64():
        np.testing.assert_allclose(float(nn.logsumexp(fnp.asarray(x), where=where)),
                                   np.logaddexp(1., 2.), rtol=1e-12)
        check_grads(lambda a: nn.logsumexp(a, axis=1), (fnp.asarray(np.random.RandomState(
            0).randn(3, 4)),), order=2)
        check_grads(lambda a, b: nn.logsumexp(a, b=b), (fnp.asarray(x),
                                                         fnp.asarray([0.5, 2., 1.])), order=1)
        np.testing.assert_allclose(float(nn.logmeanexp(fnp.asarray(x))),
                                   np.log(np.mean(np.exp(x))), rtol=1e-12)
        np.testing.assert_allclose(float(nn.logmeanexp(fnp.asarray(x), where=where)),
                                   np.log(np.mean(np.exp(x[where]))), rtol=1e-12)
    # gradient at -inf entries stays finite (stop_gradient on the shift)
    g = fx.grad(nn.logsumexp)(fnp.array([-np.inf, 0.0]))
    np.testing.assert_allclose(np.asarray(g), [0., 1.])


# ---------------------------------------------------------------------------
# one_hot, standardize


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(0, 4), max_size=2).map(tuple), num=st.integers(0, 5),
       data=st.data())
def test_one_hot(shape, num, data):
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    x = np.random.RandomState(3).randint(-1, num + 2, size=shape).astype(np.int32)
    out = nn.one_hot(x, num, axis=axis)
    expected = np.moveaxis((x[..., None] == np.arange(num)).astype(np.float32), -1, axis)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(out), expected)


def test_one_hot_options_and_errors():
    out = nn.one_hot(np.array([1.0, 2.5, 0.0]), 3, dtype=np.int32)
    np.testing.assert_array_equal(np.asarray(out), [[0, 1, 0], [0, 0, 0], [1, 0, 0]])
    assert out.dtype == np.int32
    with pytest.raises(TypeError, match="num_classes"):
        nn.one_hot(np.array([1]), 2.5)
    with pytest.raises(ValueError, match="axis"):
        nn.one_hot(np.array([1]), 2, axis=3)
    f = fx.jit(lambda x: nn.one_hot(x, 4))
    np.testing.assert_array_equal(np.asarray(f(np.array([3, 0]))), np.eye(4)[[3, 0]])
    with pytest.raises(Exception, match="num_classes"):
        fx.jit(lambda x, n: nn.one_hot(x, n))(np.array([1]), 3)


@pytest.mark.parametrize("algorithm", ["fast", "stable"])
def test_standardize(algorithm):
    rng = np.random.RandomState(1)
    x = rng.randn(3, 5) * 2 + 1
    with fx.enable_x64():
        out = nn.standardize(fnp.asarray(x), algorithm=algorithm)
        ref = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
        np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-9)
        out0 = nn.standardize(fnp.asarray(x), axis=0, epsilon=0.1, algorithm=algorithm)
        ref0 = (x - x.mean(0, keepdims=True)) / np.sqrt(x.var(0, keepdims=True) + 0.1)
        np.testing.assert_allclose(np.asarray(out0), ref0, rtol=1e-9)
        where = rng.rand(3, 5) < 0.8
        where[:, 0] = True
        where[:, 1] = True
        outw = nn.standardize(fnp.asarray(x), where=where, algorithm=algorithm)
        m = np.array([x[i][where[i]].mean() for i in range(3)])[:, None]
        v = np.array([x[i][where[i]].var() for i in range(3)])[:, None]
        np.testing.assert_allclose(np.asarray(outw), (x - m) / np.sqrt(v + 1e-5), rtol=1e-9)
        outm = nn.standardize(fnp.asarray(x), mean=0.5, variance=4.0)
        np.testing.assert_allclose(np.asarray(outm), (x - 0.5) / np.sqrt(4 + 1e-5), rtol=1e-12)
        check_grads(lambda a: nn.standardize(a, algorithm=algorithm), (fnp.asarray(x),),
                    order=1)
    with pytest.raises(ValueError, match="algorithm"):
        nn.standardize(x, algorithm="exact")


# ---------------------------------------------------------------------------
# dot_product_attention


def _np_attention(q, k, v, bias=None, mask=None, scale=None, is_causal=False, q_len=None,
                  kv_len=None, window=None):
    B, T, N, H = q.shape
    S, K = k.shape[1], k.shape[2]
    G = N // K
    scale = 1 / np.sqrt(H) if scale is None else scale
    out = np.zeros_like(q)
    for b in range(B):
        for n in range(N):
            kh = n // G
            logits = q[b, :, n] @ k[b, :, kh].T * scale
            if bias is not None:
                logits = logits + np.broadcast_to(bias, (B, N, T, S))[b, n]
            ok = np.ones((T, S), bool)
            if mask is not None:
                ok &= np.broadcast_to(mask, (B, N, T, S))[b, n]
            t_idx, s_idx = np.arange(T)[:, None], np.arange(S)[None]
            if is_causal:
                ok &= t_idx >= s_idx
            if window is not None:
                ok &= (t_idx <= s_idx + window[0]) & (t_idx >= s_idx - window[1])
            if q_len is not None:
                ok &= t_idx < q_len[b]
            if kv_len is not None:
                ok &= s_idx < kv_len[b]
            logits = np.where(ok, logits, -0.7 * np.finfo(np.float32).max)
            p = np.exp(logits - logits.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            out[b, :, n] = p @ v[b, :, kh]
            if q_len is not None:
                out[b, q_len[b]:, n] = 0
    return out


@pytest.mark.parametrize("case", ["plain", "bias_mask", "causal_gqa", "lengths_window",
                                  "rank3"])
def test_dot_product_attention_matches_reference(case):
    rng = np.random.RandomState(hash(case) % 1000)
    B, T, S, N, K, H = 2, 4, 5, 4, 2, 3
    if case != "causal_gqa":
        K = N
    q = rng.randn(B, T, N, H)
    k = rng.randn(B, S, K, H)
    v = rng.randn(B, S, K, H)
    kw, ref_kw = {}, {}
    if case == "bias_mask":
        bias = rng.randn(1, N, T, S)
        mask = rng.rand(B, 1, T, S) < 0.7
        mask[..., 0] = True
        kw = dict(bias=bias, mask=mask, scale=0.7)
        ref_kw = dict(bias=bias, mask=mask, scale=0.7)
    elif case == "causal_gqa":
        kw = ref_kw = dict(is_causal=True)
    elif case == "lengths_window":
        q_len, kv_len = np.array([2, 4], np.int32), np.array([5, 3], np.int32)
        kw = dict(query_seq_lengths=q_len, key_value_seq_lengths=kv_len, local_window_size=1)
        ref_kw = dict(q_len=q_len, kv_len=kv_len, window=(1, 1))
    # the softmax runs in float32 whatever the input dtype (as in JAX), so float32 inputs
    # against a float64 reference
    q32, k32, v32 = (a.astype(np.float32) for a in (q, k, v))
    if case == "rank3":
        out = nn.dot_product_attention(q32[0], k32[0], v32[0])
        np.testing.assert_allclose(np.asarray(out), _np_attention(q, k, v)[0], rtol=1e-5,
                                   atol=1e-5)
        return
    out = nn.dot_product_attention(q32, k32, v32, **kw)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.asarray(out), _np_attention(q, k, v, **ref_kw), rtol=1e-5,
                               atol=1e-5)


def test_dot_product_attention_grads_residual_and_errors():
    rng = np.random.RandomState(0)
    q, k, v = (rng.randn(1, 3, 2, 4).astype(np.float32) for _ in range(3))
    check_grads(lambda a, b, c: nn.dot_product_attention(a, b, c, is_causal=True),
                (q, k, v), order=1)
    out, lse = nn.dot_product_attention(q, k, v, return_residual=True)
    logits = np.einsum("btnh,bsnh->bnts", q.astype(np.float64), k) / 2.0
    np.testing.assert_allclose(np.asarray(lse), np.transpose(sps.logsumexp(logits, -1),
                                                             (0, 2, 1)), rtol=1e-5)
    assert out.shape == q.shape
    with pytest.raises(ValueError, match="multiple"):
        nn.dot_product_attention(np.ones((1, 2, 3, 4), np.float32),
                                 np.ones((1, 2, 2, 4), np.float32),
                                 np.ones((1, 2, 2, 4), np.float32))
    with pytest.raises(ValueError, match="mask dtype"):
        nn.dot_product_attention(*(np.ones((1, 2, 2, 4), np.float32),) * 3,
                                 mask=np.ones((1, 1, 2, 2), np.float32))
    with pytest.raises(ValueError, match="value"):
        nn.dot_product_attention(np.ones((1, 2, 2, 4), np.float32),
                                 np.ones((1, 2, 2, 4), np.float32),
                                 np.ones((1, 3, 2, 4), np.float32))
    with pytest.raises(ValueError, match="cudnn"):
        nn.dot_product_attention(*(np.ones((1, 2, 2, 4), np.float32),) * 3,
                                 implementation="cudnn")


def test_dot_product_attention_matches_jax(jax):
    import jax.numpy as jnp
    rng = np.random.RandomState(2)
    q = rng.randn(2, 3, 4, 8).astype(np.float32)
    k = rng.randn(2, 5, 2, 8).astype(np.float32)
    v = rng.randn(2, 5, 2, 8).astype(np.float32)
    mask = rng.rand(2, 1, 3, 5) < 0.8
    kw = dict(mask=mask, is_causal=True, key_value_seq_lengths=np.array([5, 2], np.int32))
    out = nn.dot_product_attention(q, k, v, **kw)
    expected = jax.nn.dot_product_attention(jnp.asarray(q), jnp.asarray(k), jnp.asarray(v),
                                            mask=jnp.asarray(mask), is_causal=True,
                                            key_value_seq_lengths=jnp.array([5, 2]))
    np.testing.assert_allclose(np.asarray(out), np.asarray(expected), rtol=1e-5, atol=1e-6)
    f = fx.jit(lambda a, b, c: nn.dot_product_attention(a, b, c, **kw))
    np.testing.assert_allclose(np.asarray(f(q, k, v)), np.asarray(out), rtol=1e-6, atol=1e-6)
    batched = fx.vmap(lambda a: nn.dot_product_attention(a, k[0], v[0]))(q[0][None])
    np.testing.assert_allclose(np.asarray(batched)[0],
                               np.asarray(nn.dot_product_attention(q[0], k[0], v[0])),
                               rtol=1e-6, atol=1e-6)


def test_bad_inputs():
    with pytest.raises(TypeError):
        nn.softmax("abc")
    with pytest.raises(ValueError, match="out of bounds"):
        nn.softmax(np.ones(3, np.float32), axis=2)
    with pytest.raises(ValueError, match="out of bounds"):
        nn.logsumexp(np.ones(3, np.float32), axis=1)
    with pytest.raises(TypeError):
        nn.sigmoid(np.arange(3))  # the logistic primitive needs floats, as in JAX
