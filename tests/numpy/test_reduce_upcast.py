"""sum/prod/mean/average of float16/bfloat16 computed in float32 and rounded once (as JAX's
reductions upcast them), booleans summed as int32 first, and their printed jaxprs
against JAX's; values against NumPy computing in float32."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fx
import fx.numpy as fnp

NARROW = [np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16)]

CASES = {
    "sum": lambda m: lambda a: m.sum(a, 1),
    "sum_kw": lambda m: lambda a: m.sum(a, 1, keepdims=True, initial=1.0, where=a > 0),
    "prod": lambda m: lambda a: m.prod(a, 0),
    "prod_dtype": lambda m: lambda a: m.prod(a, 1, dtype=m.float16),
    "mean": lambda m: lambda a: m.mean(a, 1),
    "mean_keepdims": lambda m: lambda a: m.mean(a, 1, keepdims=True),
    "mean_where": lambda m: lambda a: m.mean(a, 1, where=a > 0),
    "mean_dtype": lambda m: lambda a: m.mean(a, 1, dtype=m.float16),
    "mean_all": lambda m: lambda a: m.mean(a),
    "average": lambda m: lambda a: m.average(a, 1),
    "sum_bool_dtype": lambda m: lambda a: m.sum(a > 0, dtype=m.float32),
}
DTYPES = NARROW + [np.dtype(np.float32), np.dtype(np.int8), np.dtype(np.bool_)]


def _x(dtype):
    return (np.arange(6).reshape(2, 3) % 3).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("name", sorted(CASES))
def test_printed_and_values_as_jax(name, dtype):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp
    x = _x(dtype)
    assert str(fx.make_jaxpr(CASES[name](fnp))(x)) == str(jax.make_jaxpr(CASES[name](jnp))(x))
    got, want = np.asarray(CASES[name](fnp)(x)), np.asarray(CASES[name](jnp)(x))
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.astype(np.float64), want.astype(np.float64))


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(NARROW), st.integers(1, 300), st.integers(0, 2 ** 31 - 1))
def test_narrow_sums_round_once(dtype, n, seed):
    x = np.random.default_rng(seed).uniform(-4, 4, (3, n)).astype(dtype)
    wide = x.astype(np.float32)
    for got, want in ((fnp.sum(x, 1), wide.sum(1)), (fnp.mean(x, 1), wide.mean(1)),
                      (fnp.prod(x[:, :8], 1), wide[:, :8].prod(1))):
        got = np.asarray(got)
        assert got.dtype == dtype
        # float32 accumulation (order may differ: within a float32 ulp before the rounding)
        np.testing.assert_allclose(got.astype(np.float32), want.astype(dtype).astype(np.float32),
                                   rtol=float(ml_dtypes.finfo(dtype).eps), atol=1e-6)


def test_jit_grad_vmap_of_upcast_sum():
    x = np.linspace(-1, 1, 12).astype(np.float16).reshape(3, 4)
    f = lambda a: fnp.sum(a * a, 1)  # noqa: E731
    np.testing.assert_array_equal(np.asarray(fx.jit(f)(x)), np.asarray(f(x)))
    g = np.asarray(fx.grad(lambda a: fnp.sum(f(a)))(x))
    assert g.dtype == np.float16
    np.testing.assert_allclose(g.astype(np.float32), 2 * x.astype(np.float32), rtol=1e-3)
    rows = np.stack([np.asarray(f(r[None]))[0] for r in x])
    np.testing.assert_array_equal(np.asarray(fx.vmap(lambda r: fnp.sum(r * r))(x)), rows)
