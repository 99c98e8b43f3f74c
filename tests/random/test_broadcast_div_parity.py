"""fx.random.f with degrees of freedom that broadcast (a size-1 dim, a scalar, the full
shape): XLA divides by a broadcast non-scalar as a multiplication by its reciprocal, then
merges the remaining divisions; fx's draws are JAX's bit for bit (JAX where installed),
and equal a NumPy oracle of that rounding computed from fx's own chi-square draws."""
import numpy as np
import pytest

import fx
from fx._testing import x64_with_jax

SHAPE = (6, 5)
DTYPES = [np.float16, np.float32, np.float64]
#: (dfnum shape, dfden shape): partial/partial, partial/scalar, scalar/partial,
#: full/partial, partial/full, scalar/scalar
CASES = [((6, 1), (1, 5)), ((6, 1), ()), ((), (1, 5)), ((6, 5), (6, 1)), ((1, 1), (6, 5)),
         ((), ())]


@pytest.fixture(autouse=True)
def x64():
    with x64_with_jax() as jax:
        yield jax


def _df(shape, dtype, seed):
    return np.random.default_rng(seed).uniform(1.0, 9.0, shape).astype(dtype)


def _oracle(chi2_num, dfnum, chi2_den, dfden):
    """XLA's rounding of ``(chi2_num / dfnum) / (chi2_den / dfden)`` in NumPy."""
    one = np.ones((), chi2_num.dtype)

    def partial(df):
        return df.shape != () and df.shape != chi2_num.shape

    num = chi2_num * (one / dfnum) if partial(dfnum) else None
    den = chi2_den * (one / dfden) if partial(dfden) else None
    if num is not None and den is not None:
        return num / den
    if num is not None:
        return (num * dfden) / chi2_den
    if den is not None:
        return chi2_num / (dfnum * den)
    return (chi2_num * dfden) / (chi2_den * dfnum)


@pytest.mark.parametrize("dfnum_shape, dfden_shape", CASES[:3])
def test_f_equals_reciprocal_oracle(dfnum_shape, dfden_shape):
    for i, dtype in enumerate(DTYPES):
        dfnum, dfden = _df(dfnum_shape, dtype, i), _df(dfden_shape, dtype, 10 + i)
        key = fx.random.key(11)
        got = np.asarray(fx.random.f(key, dfnum, dfden, SHAPE, dtype))
        key_den, key_num = fx.random.split(key)
        chi2_num = np.asarray(fx.random.chisquare(key_num, dfnum, SHAPE, dtype))
        chi2_den = np.asarray(fx.random.chisquare(key_den, dfden, SHAPE, dtype))
        want = _oracle(chi2_num, dfnum, chi2_den, dfden)
        np.testing.assert_array_equal(got, want, err_msg=np.dtype(dtype).name)




@pytest.mark.parametrize("dtype", DTYPES)
def test_f_matches_jax_bitwise(x64, dtype):
    """All six df cases in one JAX compile per dtype (key and dfs are arguments of the
    outer jit, as they are of ``jax.random.f``'s own jit eagerly; no vmap over keys, which
    would turn a full-shape df into a broadcast one). Separate compiles per case took a
    minute."""
    jax = x64
    if jax is None:
        pytest.skip("JAX (the oracle) is not installed")
    i = DTYPES.index(dtype)
    dfs = [(_df(a, dtype, i), _df(b, dtype, 10 + i)) for a, b in CASES]

    def draws(rnd, key, pairs):
        return [rnd.f(key, a, b, SHAPE, dtype) for a, b in pairs]

    want = jax.jit(lambda key, pairs: draws(jax.random, key, pairs))(jax.random.key(3), dfs)
    got = draws(fx.random, fx.random.key(3), dfs)
    for case, g, w in zip(CASES, got, want):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w),
                                      err_msg=f"{np.dtype(dtype).name} {case}")


def test_f_under_jit_with_traced_params_matches_eager():
    dfnum, dfden = _df((6, 1), np.float32, 1), _df((1, 5), np.float32, 2)
    key = fx.random.key(5)
    jitted = fx.jit(lambda k, a, b: fx.random.f(k, a, b, SHAPE, np.float32))
    np.testing.assert_array_equal(np.asarray(jitted(key, dfnum, dfden)),
                                  np.asarray(fx.random.f(key, dfnum, dfden, SHAPE,
                                                         np.float32)))
