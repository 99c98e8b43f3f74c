"""float16 and bfloat16 in the CPU compiler: stored as 16-bit, computed in float32
registers and rounded after every operation (as NumPy's float16 and ml_dtypes do),
reductions and products accumulated in float32 (as XLA does). Checked against the
reference interpreter, with no equation falling back."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, strategies as st

import fx
import fx.numpy as jnp
from fx._testing import compile_and_compare, within_ulps
from fx import lax

LOW = [np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16)]
EPS = {np.dtype(np.float16): 2.0 ** -10, np.dtype(ml_dtypes.bfloat16): 2.0 ** -7}


def _check(f, *args, ulps=1):
    compile_and_compare(f, *args, compare=within_ulps(ulps, EPS))


def _values(dtype, shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape) * 4
    flat = x.reshape(-1)
    specials = [np.nan, np.inf, -np.inf, 0.0, -0.0, 65504.0]
    flat[:min(len(flat), len(specials))] = specials[:len(flat)]
    return x.astype(dtype)


UNARY = [jnp.tanh, jnp.exp, jnp.log1p, jnp.sin, jnp.sqrt, jnp.abs, jnp.floor, lax.logistic,
         lambda x: -x, lambda x: x * x]
BINARY = [jnp.add, jnp.subtract, jnp.multiply, jnp.divide, jnp.maximum, jnp.minimum,
          lambda x, y: jnp.where(x > y, x, y * 2)]


@pytest.mark.parametrize("dtype", LOW, ids=str)
@pytest.mark.parametrize("fn", range(len(UNARY)))
def test_unary(dtype, fn):
    _check(UNARY[fn], _values(dtype, (5, 7), fn), ulps=1)


@pytest.mark.parametrize("dtype", LOW, ids=str)
@given(fn=st.integers(0, len(BINARY) - 1), rows=st.integers(1, 9), cols=st.integers(1, 17))
def test_binary(dtype, fn, rows, cols):
    _check(BINARY[fn], _values(dtype, (rows, cols), fn), _values(dtype, (rows, cols), fn + 9))


@pytest.mark.parametrize("dtype", LOW, ids=str)
def test_reductions_softmax_and_converts(dtype):
    x = _values(dtype, (16, 33), 3)
    _check(lambda x: x.sum(axis=1), x)
    _check(lambda x: x.max(axis=0), x)
    _check(lambda x: x.argmax(axis=1), x)
    y = np.abs(_values(dtype, (16, 33), 4)).astype(dtype) % 8
    _check(lambda y: jnp.exp(y - y.max(axis=1, keepdims=True)) /
           jnp.exp(y - y.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True), y)
    _check(lambda x: (x.astype(jnp.float32) * 1.001).astype(x.dtype), x)
    _check(lambda x: x.astype(jnp.int32), x)


@pytest.mark.parametrize("dtype", LOW, ids=str)
def test_products_run_as_float32_gemm(dtype):
    a = (np.random.default_rng(0).standard_normal((8, 24))).astype(dtype)
    b = (np.random.default_rng(1).standard_normal((24, 5))).astype(dtype)
    _check(lambda a, b: jnp.maximum(a @ b + 1, 0), a, b)


def test_jit_of_bfloat16_mlp_layer_matches_eager():
    dt = jnp.bfloat16
    x = jnp.asarray(np.random.default_rng(2).standard_normal((4, 16)), dt)
    w = jnp.asarray(np.random.default_rng(3).standard_normal((16, 8)), dt)
    f = lambda x, w: jax_gelu(x @ w)  # noqa: E731
    got = np.asarray(fx.jit(f)(x, w)).astype(np.float64)
    want = np.asarray(f(x, w)).astype(np.float64)
    np.testing.assert_allclose(got, want, rtol=2 ** -6, atol=2 ** -6)


def jax_gelu(x):
    return fx.nn.gelu(x)
