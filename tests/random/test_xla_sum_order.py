"""Float sums in XLA's CPU order (fx._random.xla_sum, the model fx.random's sums use):
it gives the bits ``jax.jit(lambda x: x.sum(axes))`` gives for row sums, full sums and
small sums of any axes, and returns None where the order is unknown. Eager ``jnp.sum``
keeps NumPy's pairwise order (15-30x faster than replaying XLA's order in NumPy).

Oracles: JAX (one compile per shape, where installed); without it, exactly representable
sums and the documented order on values chosen so each order rounds differently."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx._random.xla_sum import YNN_MIN_SIZE, xla_order_sum, ynn_sum_trailing
from fx._random.ynn_sum import ynn_sum_last
from fx._testing import x64_with_jax


def _model_sum(x, axis=None):
    """The sum in XLA's order by the model (fx.random's sums use it; ``jnp.sum`` keeps
    NumPy's faster pairwise order eagerly): 16-bit floats accumulate in float32."""
    x = np.asarray(x)
    axes = tuple(range(x.ndim)) if axis is None else \
        tuple(a % x.ndim for a in ((axis,) if np.ndim(axis) == 0 else axis))
    wide = x.astype(np.float32) if x.dtype.itemsize == 2 else x
    out = xla_order_sum(wide, axes)
    assert out is not None, (x.shape, axes)
    return np.asarray(out).astype(x.dtype)


@pytest.fixture(autouse=True)
def x64():
    with x64_with_jax() as jax:
        yield jax


def _bits_equal(got, want, what=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, what
    assert got.shape == want.shape, what
    np.testing.assert_array_equal(got.view(f"u{got.dtype.itemsize}"),
                                  want.view(f"u{want.dtype.itemsize}"), err_msg=what)


# (shape, axes): row sums below/above YNNPACK's 4096, full sums of one and several
# 128 KiB pieces (slabs of whole rows), trailing axes of a 3-D array, small column sums
# (XLA's windows), and the single-long-row case of many pieces
JAX_CASES = [((3, 100), (1,)), ((1000, 8), (1,)), ((400, 500), (1,)), ((7, 1280), (1,)),
             ((64, 64), (0, 1)), ((400, 500), (0, 1)), ((10, 20, 300), (1, 2)),
             ((20, 30, 40), (0, 1, 2)), ((50, 60), (0,)), ((3, 5, 7), (0, 2)),
             ((1, 200000), (1,)), ((6000,), (0,))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eager_sum_matches_jax_bitwise(x64, dtype):
    jax = x64
    if jax is None:
        pytest.skip("JAX (the oracle) is not installed")
    rng = np.random.default_rng(3)
    for shape, axes in JAX_CASES:
        x = rng.standard_normal(shape).astype(dtype)
        want = jax.jit(lambda v, axes=axes: v.sum(axes))(x)
        _bits_equal(_model_sum(x, axis=axes), want, f"{np.dtype(dtype).name} {shape} {axes}")


def test_half_sums_match_jax(x64):
    jax = x64
    if jax is None:
        pytest.skip("JAX (the oracle) is not installed")
    from fx import dtypes
    rng = np.random.default_rng(4)
    for dtype in [np.float16] + ([dtypes.bfloat16] if dtypes.bfloat16 is not None else []):
        x = rng.standard_normal((300, 50)).astype(dtype)
        _bits_equal(_model_sum(x, axis=-1), jax.jit(lambda v: v.sum(-1))(x), str(dtype))


def test_softmax_rows_follow_the_size_boundary():
    """Rows of 8 (softmax's): in order below 4096 elements, YNNPACK's lanes from 4096."""
    rng = np.random.default_rng(5)
    small = rng.standard_normal((500, 8)).astype(np.float32)
    in_order = np.zeros(500, np.float32)
    for j in range(8):
        in_order = in_order + small[:, j]
    _bits_equal(_model_sum(small, axis=-1), in_order)
    big = rng.standard_normal((512, 8)).astype(np.float32)
    _bits_equal(_model_sum(big, axis=-1), ynn_sum_last(big))
    # 8 values in one 16-lane vector, folded in halves: ((x0+x4)+(x2+x6))+((x1+x5)+(x3+x7))
    c = big
    tree = ((c[:, 0] + c[:, 4]) + (c[:, 2] + c[:, 6])) + ((c[:, 1] + c[:, 5]) + (c[:, 3] + c[:, 7]))
    _bits_equal(_model_sum(big, axis=-1), tree)


def test_in_order_below_4096_without_jax():
    # in order: ((1e8 + 1) - 1e8) + 1 = 0 + 1 (the first 1 is lost to 1e8's spacing of 8)
    x = np.float32([1e8, 1, -1e8, 1])
    assert float(_model_sum(x)) == 1.0
    # rows of 33: windows of 32 (zero padded, half in front), then the window sums
    row = np.zeros(33, np.float32)
    row[0], row[1:] = 2.0 ** 25, 1.0
    # padding 31: 15 zeros in front, so window 0 holds 2**25 and 16 ones (each 2**25 + 1
    # rounds back to 2**25), window 1 the other 16 ones; 2**25 + 16 is exact. In order
    # all 32 ones would be lost.
    assert float(_model_sum(row)) == 2.0 ** 25 + 16


def test_ynn_order_without_jax():
    """Above 4096, YNNPACK's 16 lanes: 2**24 in lane 0 and ones in lanes 1..15, the lanes
    folded in halves: lane 0 + lane 8 = 2**24 + 1 rounds to 2**24, the other lanes give
    2s, then 2**24 + 2, + 4, + 8 are exact: 2**24 + 14. In order every 1 is lost."""
    x = np.zeros((1, 4096), np.float32)
    x[0, 0] = 2.0 ** 24
    x[0, 1:16] = 1.0
    assert float(_model_sum(x)) == 2.0 ** 24 + 14
    in_order = np.float32(0)
    for v in x[0]:
        in_order = np.float32(in_order + v)
    assert float(in_order) == 2.0 ** 24


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 9), cols=st.integers(1, 3000), dtype=st.sampled_from(["f4", "f8"]),
       seed=st.integers(0, 2 ** 16))
def test_trailing_model_matches_row_model(rows, cols, dtype, seed):
    """ynn_sum_trailing (any trailing block) and ynn_sum_last (rows) agree on rows; the
    batched slabs agree with piece-by-piece kernels on a full 2-D sum."""
    x = np.random.default_rng(seed).standard_normal((rows, cols)).astype(dtype)
    _bits_equal(ynn_sum_trailing(x, 1), ynn_sum_last(x))
    full = ynn_sum_trailing(x, 2)
    if full is not None:
        _bits_equal(full, ynn_sum_trailing(x.reshape(1, rows, cols), 2)[0])


def test_unknown_orders_fall_back_to_numpy():
    x = np.random.default_rng(6).standard_normal((500, 400)).astype(np.float32)
    assert xla_order_sum(x, (0,)) is None                  # column sums >= 4096
    assert xla_order_sum(x.astype(np.complex64), (1,)) is None
    assert ynn_sum_trailing(np.zeros((5, 70000), np.float32), 1) is None   # rows of pieces
    np.testing.assert_allclose(np.asarray(fnp.sum(x, axis=0)), x.sum(0), rtol=1e-5, atol=1e-4)
    assert x.size >= YNN_MIN_SIZE


def test_special_values_and_empty():
    x = np.full((2, 5000), -0.0, np.float32)
    _bits_equal(_model_sum(x, axis=-1), np.zeros(2, np.float32))   # 0 + -0 is +0, as XLA adds
    y = np.ones((3, 5000), np.float32)
    y[1, 7] = np.inf
    y[2, 9] = np.nan
    got = np.asarray(_model_sum(y, axis=-1))
    assert got[0] == 5000 and got[1] == np.inf and np.isnan(got[2])
    _bits_equal(_model_sum(np.zeros((4, 0), np.float32), axis=-1), np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="float32 or float64"):
        ynn_sum_trailing(np.zeros((2, 3), np.int32), 1)
    with pytest.raises(ValueError, match="k=3"):
        ynn_sum_trailing(np.zeros((2, 3), np.float32), 3)


def test_jit_and_grad_unchanged():
    """Under jit the native code sums; grads of sums are unaffected by the order."""
    x = np.random.default_rng(7).standard_normal((40, 30)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(fx.jit(lambda v: v.sum(-1))(x)),
                               np.asarray(fnp.sum(x, axis=-1)), rtol=1e-6, atol=1e-5)
    g = fx.grad(lambda v: fnp.sum(v * v))(x)
    np.testing.assert_allclose(np.asarray(g), 2 * x, rtol=1e-6)
