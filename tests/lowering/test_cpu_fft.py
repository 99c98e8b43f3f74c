"""The native ``fft`` library call (lowering/cpu/lib_fft.py): FFT/IFFT/RFFT/IRFFT of
complex64/complex128 over 1 to 3 trailing axes compile without an eager fallback and
agree with the reference interpreter (scipy.fft) and with NumPy's FFT in double
precision, to a few ulp times log2(n) of the result's scale; mixed-radix lengths
(2^a 3^b 5^c), Bluestein lengths (primes and the rest), batches split across threads,
zero-size batches, NaN/inf inputs, and grad/vmap of FFT programs under jit."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fx
import fx.numpy as jnp
from fx import lax
from fx.core import eval_jaxpr
from lowering.cpu.compile import compile as compile_native

_TYPES = ("fft", "ifft", "rfft", "irfft")
_REAL = {np.complex64: np.float32, np.complex128: np.float64}
_LENGTHS = st.one_of(st.integers(1, 300), st.sampled_from([97, 101, 127, 257, 256, 243, 125,
                                                            1000, 1024, 1031]))


def _operand(kind, dtype, batch, lengths, seed):
    rng = np.random.default_rng(seed)
    if kind == "rfft":
        return rng.standard_normal(batch + lengths).astype(_REAL[dtype])
    shape = batch + (lengths[:-1] + (lengths[-1] // 2 + 1,) if kind == "irfft" else lengths)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


def _numpy_fft(kind, x, lengths):
    """NumPy's transform in double precision (the independent oracle)."""
    axes = tuple(range(x.ndim - len(lengths), x.ndim))
    wide = x.astype(np.complex128 if x.dtype.kind == "c" else np.float64)
    fn = {"fft": np.fft.fftn, "ifft": np.fft.ifftn, "rfft": np.fft.rfftn,
          "irfft": np.fft.irfftn}[kind]
    return fn(wide, s=lengths, axes=axes)


def _compiled(kind, x, lengths):
    """(compiled result, reference interpreter's result) of ``lax.fft``."""
    f = lambda x: lax.fft(x, kind, lengths)  # noqa: E731
    with fx.enable_x64(x.dtype in (np.float64, np.complex128)):
        closed = fx.make_jaxpr(f)(x)
        exe = compile_native(closed, bounds_check=True)
        assert exe.fallbacks == [], [e.primitive.name for e in exe.fallbacks]
        (got,) = exe([x])
        (want,) = eval_jaxpr(closed.jaxpr, closed.consts, x)
    want = np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    return got, want


def _assert_close(got, want, lengths, ulps=6.0):
    """|got - want| within ``ulps`` ulp x log2(n) of the result's scale."""
    eps = np.finfo(got.dtype).eps
    n = math.prod(lengths)
    scale = max(float(np.abs(want).max(initial=0.0)), np.finfo(got.dtype).tiny)
    tol = ulps * eps * max(1.0, math.log2(n)) * scale
    err = float(np.abs(got.astype(np.complex128) - want).max(initial=0.0))
    assert err <= tol, (err / scale / eps, got.shape)


def _check(kind, dtype, batch, lengths, seed=0):
    x = _operand(kind, dtype, batch, lengths, seed)
    got, want = _compiled(kind, x, lengths)
    _assert_close(got, want, lengths)
    _assert_close(got, _numpy_fft(kind, x, lengths), lengths)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("kind", _TYPES)
@settings(max_examples=8, deadline=None)
@given(n=_LENGTHS, batch=st.sampled_from([(), (3,), (2, 2)]))
def test_one_axis(kind, dtype, n, batch):
    _check(kind, dtype, batch, (n,), seed=n)


@pytest.mark.parametrize("kind", _TYPES)
@settings(max_examples=6, deadline=None)
@given(lengths=st.lists(st.integers(1, 24), min_size=2, max_size=3).map(tuple),
       batch=st.sampled_from([(), (2,)]), wide=st.booleans())
def test_several_axes(kind, lengths, batch, wide):
    _check(kind, np.complex128 if wide else np.complex64, batch, lengths, seed=sum(lengths))


@pytest.mark.parametrize("kind,lengths,batch", [
    ("fft", (1024,), (64,)), ("rfft", (1000,), (70,)), ("irfft", (4097,), (32,)),
    ("fft", (64, 256), ()), ("ifft", (16, 32, 48), (2,)), ("irfft", (100, 96), ()),
    ("rfft", (250, 7, 60), ())])
def test_large_and_threaded(kind, lengths, batch):
    """Passes big enough to be split across the worker pool, strided blocks of columns."""
    _check(kind, np.complex64, batch, lengths)


@pytest.mark.parametrize("kind", _TYPES)
def test_length_one_and_empty_batches(kind):
    for batch, lengths in [((3,), (1,)), ((4,), (2,)), ((0,), (8,)), ((0, 2), (5, 3)),
                           ((2,), (1, 1)), ((2,), (2, 1, 2))]:
        x = _operand(kind, np.complex64, batch, lengths, 0)
        got, want = _compiled(kind, x, lengths)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)


def test_rfft_of_zero_points_is_one_zero_bin():
    x = np.ones((3, 0), np.float32)
    got, want = _compiled("rfft", x, (0,))
    assert got.shape == (3, 1) and not got.any() and not want.any()


@pytest.mark.parametrize("kind", ["fft", "ifft", "rfft"])
@pytest.mark.parametrize("n", [8, 30, 97])
def test_nan_and_inf_propagate(kind, n):
    """A NaN or an infinity in a line makes every element of its transform non-finite,
    as NumPy's; the other lines stay exact."""
    for bad in (np.nan, np.inf, -np.inf):
        x = _operand(kind, np.complex64, (3,), (n,), n)
        x[1, n // 3] = bad
        got, want = _compiled(kind, x, (n,))
        np.testing.assert_array_equal(np.isfinite(got), np.isfinite(want))
        assert not np.isfinite(got[1]).any()
        _assert_close(got[[0, 2]], want[[0, 2]], (n,))


@pytest.mark.parametrize("n", [16, 15])
def test_irfft_ignores_imaginary_dc_and_nyquist(n):
    x = _operand("irfft", np.complex64, (2,), (n,), 3)
    y = x.copy()
    y[:, 0] += 5j
    if n % 2 == 0:
        y[:, -1] -= 2j
    got_x, _ = _compiled("irfft", x, (n,))
    got_y, want_y = _compiled("irfft", y, (n,))
    _assert_close(got_y, want_y, (n,))
    np.testing.assert_allclose(got_x, got_y, rtol=0, atol=1e-6 * np.abs(got_x).max())


def test_jit_grad_and_vmap_match_eager():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 24)).astype(np.float32)

    def loss(x):
        spec = jnp.fft.rfft(x * 1.5)
        back = jnp.fft.irfft(spec * jnp.conj(spec), n=24)
        full = jnp.fft.fft2(x.astype(jnp.complex64))
        return jnp.sum(back ** 2) + jnp.sum(jnp.abs(jnp.fft.ifft(full)) ** 2)

    eager = fx.grad(loss)(x)
    jitted = fx.jit(fx.grad(loss))(x)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), rtol=1e-4, atol=1e-4)
    # the gradient against central finite differences of the (eager) loss
    step, direction = 1e-2, rng.standard_normal(x.shape).astype(np.float32)
    slope = (float(loss(x + step * direction)) - float(loss(x - step * direction))) / (2 * step)
    assert abs(slope - float(np.sum(np.asarray(eager) * direction))) <= 1e-2 * abs(slope) + 1e-2

    lines = lambda v: jnp.fft.fft(v.astype(jnp.complex64) * 2.0)  # noqa: E731
    batched = np.asarray(fx.jit(fx.vmap(lines, in_axes=1, out_axes=1))(x))
    loop = np.stack([np.asarray(lines(x[:, j])) for j in range(x.shape[1])], axis=1)
    np.testing.assert_allclose(batched, loop, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(batched, np.fft.fft(x * 2.0, axis=0), rtol=1e-4, atol=1e-4)


def test_jitted_program_calls_no_eager_fft():
    x = np.ones((2, 12), np.complex64)
    closed = fx.make_jaxpr(lambda x: jnp.fft.ifft(jnp.fft.fft(x) * 2))(x)
    exe = compile_native(closed)
    assert exe.fallbacks == []
    np.testing.assert_allclose(exe([x])[0], 2 * x, rtol=1e-6, atol=1e-6)


def test_fft_inside_a_compiled_loop():
    """A native fft call inside a fori_loop body: no fallback, NumPy's values."""
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((3, 20)) + 1j * rng.standard_normal((3, 20))).astype(np.complex64)

    def f(x):
        return lax.fori_loop(0, 5, lambda i, c: jnp.fft.ifft(jnp.fft.fft(c) * (1 + 0.1j)), x)
    closed = fx.make_jaxpr(f)(x)
    exe = compile_native(closed, bounds_check=True)
    assert exe.fallbacks == []
    want = x.astype(np.complex128)
    for _ in range(5):
        want = np.fft.ifft(np.fft.fft(want) * (1 + 0.1j))
    _assert_close(exe([x])[0], want, (20,), ulps=30)
