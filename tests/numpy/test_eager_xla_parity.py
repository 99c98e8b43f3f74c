"""fx's eager results equal JAX's op-by-op ones (XLA programs) bit for bit:

- complex ``mul``, ``div``, ``sign`` (native loops over XLA's formulas,
  lowering/cpu/complex_eager.py) and ``reduce_prod`` in XLA's order: JAX's eager results
  on 1e5 normal-range operands and on a grid of special values; without JAX, NumPy's
  complex values within a few ulps on finite operands;
- real division by a broadcast divisor (rank-0, size-1 dims, a Python scalar) is
  ``x * (1 / y)`` for float16/32/64 (not bfloat16): JAX's eager results, and NumPy's
  ``x * (1 / y)`` (a division where nothing broadcasts);
- float32 ``log``/``log1p`` read subnormal inputs as zeros (``-inf``, signed zeros), as
  JAX's eager and jitted results both do: eager, compiled, NumPy spec and native paths.
"""
from __future__ import annotations


import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fx
from fx._testing import (complex_normal_range, complex_real_dtype, complex_special_grid,
                         same_bits)
import fx.numpy as fnp
from fx._random import xla_math
from fx._testing import x64_with_jax
from lowering.cpu import complex_eager

COMPLEX = [np.complex64, np.complex128]


@pytest.fixture
def jax64():
    with x64_with_jax() as jax:
        yield jax


def _need(jax):
    if jax is None:
        pytest.skip("JAX is not installed")
    return jax


def _assert_same(got, want, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, \
        (what, got.shape, got.dtype, want.shape, want.dtype)
    bad = ~same_bits(got, want)
    assert not bad.any(), (what, int(bad.sum()), got[bad][:5], want[bad][:5])


_FX = {"mul": lambda x, y: fnp.multiply(x, y), "div": lambda x, y: fnp.divide(x, y),
       "sign": lambda x, y: fnp.sign(x)}


def _jax_op(jnp, name):
    return {"mul": jnp.multiply, "div": jnp.divide, "sign": lambda x, y: jnp.sign(x)}[name]


# ---------------------------------------------------------------------------
# complex mul, div, sign, prod


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("name", ["mul", "div", "sign"])
def test_complex_eager_matches_jax(jax64, name, dtype):
    jnp = _need(jax64).numpy
    x, y = complex_normal_range(dtype, 100_000, 0), complex_normal_range(dtype, 100_000, 1)
    gx, gy = complex_special_grid(dtype)
    x, y = np.concatenate([x, gx]), np.concatenate([y, gy])
    got = _FX[name](fnp.asarray(x), fnp.asarray(y))
    want = _jax_op(jnp, name)(x, y)
    _assert_same(got, want, name)
    # the old NumPy impl differed on a large share of these operands
    if name != "sign" or dtype == np.complex64:
        numpy_op = {"mul": np.multiply, "div": np.divide,
                    "sign": lambda a, b: a / np.abs(a)}[name]
        with np.errstate(all="ignore"):
            assert (~same_bits(numpy_op(x[:1000], y[:1000]), np.asarray(want)[:1000])).any()


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("name", ["mul", "div", "sign"])
def test_complex_eager_near_numpy(jax64, name, dtype):
    """Without JAX: within a few ulps of NumPy's complex256/complex128 value."""
    x, y = complex_normal_range(dtype, 20_000, 2), complex_normal_range(dtype, 20_000, 3)
    got = np.asarray(_FX[name](fnp.asarray(x), fnp.asarray(y)))
    wide = np.clongdouble
    xw, yw = x.astype(wide), y.astype(wide)
    want = {"mul": xw * yw, "div": xw / yw, "sign": xw / np.abs(xw)}[name]
    eps = np.finfo(complex_real_dtype(dtype)).eps
    err = np.abs(got.astype(wide) - want) / np.abs(want)
    assert float(err.max()) < 4 * eps, (name, float(err.max()) / eps)


@settings(max_examples=25, deadline=None)
@given(shapes=st.sampled_from([((5, 1), (1, 4)), ((), (3,)), ((2, 3), ()), ((0, 2), (1, 2)),
                               ((4, 3), (4, 3)), ((1,), (6,))]),
       dtype=st.sampled_from(COMPLEX), name=st.sampled_from(["mul", "div"]),
       transpose=st.booleans(), seed=st.integers(0, 2**16))
def test_complex_eager_broadcasting_and_layout(shapes, dtype, name, transpose, seed):
    """Broadcast, rank-0 and non-contiguous operands give the same bits as the
    contiguous broadcast arrays (each element alone is the 1-element kernel's)."""
    with fx.enable_x64():
        _check_broadcasting(shapes, dtype, name, transpose, seed)


def _check_broadcasting(shapes, dtype, name, transpose, seed):
    sx, sy = shapes
    x = complex_normal_range(dtype, int(np.prod(sx)), seed).reshape(sx)
    y = complex_normal_range(dtype, int(np.prod(sy)), seed + 1).reshape(sy)
    if transpose and x.ndim == 2:
        x = np.ascontiguousarray(x.T).T
    got = np.asarray(_FX[name](fnp.asarray(x), fnp.asarray(y)))
    bx, by = np.broadcast_arrays(x, y)
    assert got.shape == bx.shape and got.dtype == np.dtype(dtype)
    for idx in np.ndindex(*bx.shape):
        one = complex_eager.apply(name, bx[idx].reshape(1), by[idx].reshape(1))
        assert same_bits(got[idx], one[0]), (idx, got[idx], one[0])


def test_complex_eager_python_scalar_and_errors():
    x = complex_normal_range(np.complex64, 16, 4)
    got = np.asarray(fnp.asarray(x) * 2.5)
    _assert_same(got, complex_eager.apply("mul", x, np.full(16, 2.5, np.complex64)), "scalar")
    got = np.asarray(fnp.asarray(x) / (1 - 2j))
    _assert_same(got, complex_eager.apply("div", x, np.full(16, 1 - 2j, np.complex64)), "div")
    with pytest.raises(ValueError, match="name must be one of"):
        complex_eager.apply("add", x, x)
    with pytest.raises(TypeError, match="takes 2 arrays"):
        complex_eager.apply("mul", x)
    with pytest.raises(TypeError, match="complex64 or complex128"):
        complex_eager.apply("mul", x, x.astype(np.complex128))


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("shape,axes", [((2000, 10), (1,)), ((6, 7, 5), (0, 2)),
                                        ((32, 3), (0,)), ((4, 5), ())])
def test_complex_reduce_prod_in_xla_order(jax64, dtype, shape, axes):
    jnp = _need(jax64).numpy
    x = complex_normal_range(dtype, int(np.prod(shape)), 5).reshape(shape)
    got = complex_eager.reduce_prod(x, axes)
    _assert_same(got, jnp.prod(x, axis=axes), "prod")


@pytest.mark.parametrize("axes", [(1,), ()])
def test_complex_reduce_prod_special_values(jax64, axes):
    """Pairs and single elements of special parts (zeros, infinities, NaN)."""
    jnp = _need(jax64).numpy
    x, y = complex_special_grid(np.complex64)
    pairs = np.stack([x, y], axis=1)
    _assert_same(complex_eager.reduce_prod(pairs, axes), jnp.prod(pairs, axis=axes), "pairs")
    _assert_same(complex_eager.reduce_prod(x[:, None], (1,)), jnp.prod(x[:, None], axis=1),
                 "single")


def test_complex_reduce_prod_long_falls_back_to_numpy():
    x = complex_normal_range(np.complex128, 600, 6).reshape(2, 300)
    got = complex_eager.reduce_prod(x, (1,))
    np.testing.assert_allclose(got, np.prod(x, axis=1), rtol=1e-12)


# ---------------------------------------------------------------------------
# division by a broadcast divisor

REAL = [np.float16, np.float32, np.float64, ml_dtypes.bfloat16]
DIVISORS = [(400, 1), (), (1, 3), (3,), (400, 3)]


def _divisor(shape, dtype, seed):
    return (np.random.default_rng(seed).standard_normal(shape) + 3).astype(dtype)


@pytest.mark.parametrize("dtype", REAL, ids=lambda d: np.dtype(d).name)
def test_broadcast_division_matches_jax_eager(jax64, dtype):
    jnp = _need(jax64).numpy
    a = np.random.default_rng(7).standard_normal((400, 3)).astype(dtype)
    for k, shape in enumerate(DIVISORS):
        b = _divisor(shape, dtype, k)
        _assert_same(fnp.divide(fnp.asarray(a), fnp.asarray(b)), jnp.divide(a, b), shape)
    _assert_same(fnp.asarray(a) / 3.7, jnp.asarray(a) / 3.7, "python float")


@settings(max_examples=25, deadline=None)
@given(dtype=st.sampled_from(REAL), shape=st.sampled_from(DIVISORS + [(1, 1), (1,)]),
       seed=st.integers(0, 2**16))
def test_broadcast_division_is_reciprocal_multiplication(dtype, shape, seed):
    """Oracle: NumPy's ``a * (1 / b)`` (reciprocal rounded to the dtype) where ``b``
    broadcasts to more elements, ``a / b`` otherwise (and always for bfloat16)."""
    with fx.enable_x64():
        _check_reciprocal(dtype, shape, seed)


def _check_reciprocal(dtype, shape, seed):
    a = np.random.default_rng(seed).standard_normal((400, 3)).astype(dtype)
    b = _divisor(shape, dtype, seed + 1)
    got = np.asarray(fnp.divide(fnp.asarray(a), fnp.asarray(b)))
    wide = np.float32 if np.dtype(dtype) == ml_dtypes.bfloat16 else dtype
    aw, bw = a.astype(wide), b.astype(wide)
    if b.size < a.size and np.dtype(dtype) != ml_dtypes.bfloat16:
        want = aw * (np.asarray(1, wide) / bw).astype(wide)
    else:
        want = aw / bw
    _assert_same(got, want.astype(dtype), (shape, np.dtype(dtype).name))


def test_division_of_a_size1_numerator_stays_division():
    """A broadcast numerator (the divisor full-size) and equal sizes are divisions."""
    b = _divisor((400, 3), np.float32, 8)
    _assert_same(fnp.divide(fnp.asarray(np.float32([[1.3]])), fnp.asarray(b)),
                 np.float32(1.3) / b, "numerator")
    one = np.float32([[0.7]])
    _assert_same(fnp.divide(fnp.asarray(one), fnp.asarray(np.float32([[3.0]]))),
                 one / np.float32(3.0), "1x1")


# ---------------------------------------------------------------------------
# float32 log / log1p of subnormal inputs

_TINY = np.finfo(np.float32).tiny
#: 16 values: XLA's vectorised loop (8 lanes) computes every one; its scalar remainder
#: loop (lengths 3, 5, 6 or 7 mod 8) calls the C library's ``logf``, which gives
#: -103.97 or NaN for subnormals (fx, like XLA's vector lanes, gives -inf)
_SUBNORMAL_GRID = np.array([1e-45, -1e-45, 1e-40, -1e-40, 1.1e-38, -1.1e-38, 3e-39, 0.0, -0.0,
                            _TINY, -_TINY, 2.5e-38, np.nextafter(_TINY, np.float32(0)),
                            -np.nextafter(_TINY, np.float32(0)), 0.5, 3.0], np.float32)


def _log_want(x):
    """XLA's values: subnormals read as zeros of their sign."""
    return np.where(np.abs(x) < _TINY, -np.inf, np.log(x.astype(np.float64))).astype(
        np.float32)


def _log1p_want(x):
    return np.where(np.abs(x) < _TINY, x * np.float32(0), np.log1p(x.astype(np.float64))
                    ).astype(np.float32)


@pytest.mark.parametrize("name", ["log", "log1p"])
def test_log_of_subnormals_reads_zero(name):
    x = _SUBNORMAL_GRID
    with np.errstate(all="ignore"):
        want = {"log": _log_want, "log1p": _log1p_want}[name](x)
    spec = getattr(xla_math, f"{name}_f32")
    tiled = np.tile(x, 200)  # long enough for the native loop
    for got, what in ((spec(x, native=False), "spec"), (spec(tiled)[:x.size], "native"),
                      (getattr(fnp, name)(fnp.asarray(x)), "eager"),
                      (fx.jit(getattr(fnp, name))(x), "jit")):
        _assert_same(got, want, (name, what))


@pytest.mark.parametrize("name", ["log", "log1p"])
def test_log_of_subnormals_matches_jax(jax64, name):
    jax = _need(jax64)
    x = _SUBNORMAL_GRID
    f = getattr(jax.numpy, name)
    eager, jitted = np.asarray(f(x)), np.asarray(jax.jit(f)(x))
    _assert_same(eager, jitted, "jax eager vs jit")
    _assert_same(getattr(fnp, name)(fnp.asarray(x)), eager, name)
    _assert_same(fx.jit(getattr(fnp, name))(x), jitted, name)
