"""Mid-size products split into row or column blocks on fx's worker pool
(lowering/cpu/blas.py ``_emit_pooled``): every operand layout BLAS reads, uneven last
blocks, real and complex dtypes; oracle: NumPy's product in float64, and the IR says the
pooled path was taken."""
from __future__ import annotations

import numpy as np
import pytest

import fx
from fx import lax
from lowering import cpu
from lowering.cpu import blas, runtime

pytestmark = pytest.mark.skipif(runtime.num_threads() < 2 or blas.library_info() is None,
                                reason="needs OpenBLAS and two threads")
RNG = np.random.default_rng(0)


def _operand(shape, dtype):
    x = RNG.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * RNG.standard_normal(shape)
    return x.astype(dtype)


# (m, k, n): more rows than columns (split by rows, 233 not a multiple of the block), more
# columns than rows (split by columns)
SHAPES = [(233, 97, 61), (37, 141, 301)]


@pytest.mark.parametrize("m,k,n", SHAPES)
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
def test_pooled_product_matches_numpy(m, k, n, ta, tb, dtype):
    a = _operand((k, m) if ta else (m, k), dtype)
    b = _operand((n, k) if tb else (k, n), dtype)
    dims = (((0 if ta else 1,), (1 if tb else 0,)), ((), ()))
    with fx.enable_x64(np.dtype(dtype).itemsize == 8):
        closed = fx.make_jaxpr(lambda a, b: lax.dot_general(a, b, dims) * 2)(a, b)
        exe = cpu.compile(closed)
        assert m * n * k >= blas.SINGLE_THREAD_MACS and "fx_gemm_task" in exe.ir_text
        (got,) = exe([a, b])
    assert got.dtype == dtype
    want = 2 * ((a.T if ta else a).astype(np.complex128) @ (b.T if tb else b))
    tol = 1e-4 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-10
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())


def test_jitted_mlp_layer_under_grad():
    x = _operand((128, 300), np.float32)
    w = _operand((300, 200), np.float32) * 0.1

    def loss(w, x):
        return (fx.numpy.tanh(x @ w) ** 2).sum()
    got = fx.jit(fx.grad(loss))(w, x)
    h = np.tanh(x.astype(np.float64) @ w)
    want = x.T.astype(np.float64) @ (2 * h * (1 - h ** 2))
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-3, atol=1e-3)


def test_openblas_thread_count_is_left_as_found():
    """The pooled path sets OpenBLAS to one thread around its job (the setting is
    process-wide) and must restore it, also when chunks run on several threads."""
    import ctypes
    get = ctypes.CFUNCTYPE(ctypes.c_int)(blas.symbol("openblas_get_num_threads"))
    before = get()
    f = fx.jit(lambda x, w: fx.numpy.tanh(x @ w))
    x, w = _operand((256, 300), np.float32), _operand((300, 200), np.float32)
    for _ in range(200):
        f(x, w)
    assert get() == before
