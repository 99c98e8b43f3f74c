"""triangular_solve (CBLAS trsm) and cholesky (LAPACKE potrf) as native library calls,
checked against the reference interpreter over sizes, batches and every flag, with
bounds checks compiled in; non-positive-definite matrices become NaN as in eager."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

import fx
import fx.numpy as jnp
from fx import lax
from fx.core import eval_jaxpr
from lowering.cpu import blas
from lowering.cpu.compile import compile as compile_native

pytestmark = pytest.mark.skipif(blas.library_info() is None, reason="no OpenBLAS found")


def _check(f, *args):
    closed = fx.make_jaxpr(f)(*args)
    exe = compile_native(closed, bounds_check=True)
    assert exe.fallbacks == [], [e.primitive.name for e in exe.fallbacks]
    got = exe([np.asarray(a) for a in args])
    want = eval_jaxpr(closed.jaxpr, closed.consts, *args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, np.asarray(w), rtol=1e-4, atol=1e-5)


@given(batch=st.integers(1, 3), m=st.integers(1, 7), n=st.integers(1, 5),
       left=st.booleans(), lower=st.booleans(), trans=st.booleans(), unit=st.booleans())
def test_triangular_solve(batch, m, n, left, lower, trans, unit):
    rng = np.random.default_rng(m * 31 + n)
    t = np.tril(rng.standard_normal((batch, m, m))) + 3 * np.eye(m)
    a = (t if lower else np.swapaxes(t, -1, -2)).astype(np.float32)
    b = rng.standard_normal((batch, m, n) if left else (batch, n, m)).astype(np.float32)
    _check(lambda a, b: lax.linalg.triangular_solve(
        a, b, left_side=left, lower=lower, transpose_a=trans, unit_diagonal=unit), a, b)


@given(batch=st.integers(1, 3), n=st.integers(1, 9))
def test_cholesky_and_cho_solve(batch, n):
    rng = np.random.default_rng(n)
    a = rng.standard_normal((batch, n, n))
    spd = (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype(np.float32)
    _check(lax.linalg.cholesky, spd)
    y = rng.standard_normal((batch, n, 2)).astype(np.float32)
    _check(lambda k, y: fx.scipy.linalg.cho_solve((jnp.linalg.cholesky(k), True), y), spd, y)


def test_not_positive_definite_is_nan():
    x = np.stack([np.eye(3), -np.eye(3)]).astype(np.float32)
    _check(lax.linalg.cholesky, x)
    out = np.asarray(fx.jit(lax.linalg.cholesky)(x))
    lower = np.tril(np.ones((3, 3), bool))
    # as JAX: NaN in the lower triangle of the failed matrix, zeros above
    assert np.isnan(out[1][lower]).all() and (out[1][~lower] == 0).all()
    assert not np.isnan(out[0]).any()


@given(batch=st.integers(1, 3), m=st.integers(1, 7), n=st.integers(1, 7),
       singular=st.booleans())
def test_lu_and_solve(batch, m, n, singular):
    rng = np.random.default_rng(m * 10 + n)
    x = rng.standard_normal((batch, m, n)).astype(np.float32)
    if singular:
        x[..., 0] = 0
    _check(lax.linalg.lu, x)
    a = rng.standard_normal((batch, m, m)).astype(np.float32) + 3 * np.eye(m, dtype=np.float32)
    y = rng.standard_normal((batch, m, 2)).astype(np.float32)
    _check(jnp.linalg.solve, a, y)
