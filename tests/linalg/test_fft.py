"""Tests of the ``fft`` primitive (primitives/fft.py), ``fx.lax.fft`` and
``fx.numpy.fft``.

Oracles: ``numpy.fft`` for values (every function, with ``n``/``s``, axes and all
three norms), explicit DFT matrices for the linear-map identities (the
primitive's transpose is checked against ``<f(x), y> == <x, f^T(y)>``), finite
differences for derivatives, a Python loop for vmap, eager for jit, and
``jax.numpy.fft`` (values, dtypes, cotangents) where JAX is installed.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
from fx import _testing
import fx.numpy as fnp
import fx.numpy.fft as F
from fx.lax._fft import FftType
from fx.lax._fft import fft as lax_fft
from fx.test_util import check_grads
from primitives.fft import fft_p

RNG = np.random.RandomState(2)


def rand(shape, dtype=np.float64, rng=RNG):
    return _testing.rand(shape, dtype, rng)


NORMS = [None, "backward", "ortho", "forward"]
ONE_D = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"]
N_D = ["fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn", "rfftn", "irfftn"]
REAL_INPUT = {"rfft", "ihfft", "rfft2", "rfftn"}


def _input(name, shape, precision=np.float64):
    dtype = precision if name in REAL_INPUT else np.result_type(precision, np.complex64)
    return rand(shape, dtype)


@given(st.sampled_from(ONE_D), st.sampled_from(NORMS), st.integers(1, 3), st.data())
@settings(max_examples=25, deadline=None)
def test_one_dimensional_transforms_match_numpy(name, norm, ndim, data):
    shape = tuple(data.draw(st.integers(2, 6)) for _ in range(ndim))
    axis = data.draw(st.integers(-ndim, ndim - 1))
    n = data.draw(st.one_of(st.none(), st.integers(1, 8)))
    x = _input(name, shape, np.float32)
    ours = getattr(F, name)(fnp.asarray(x), n=n, axis=axis, norm=norm)
    ref = getattr(np.fft, name)(x, n=n, axis=axis, norm=norm)
    assert ours.shape == ref.shape
    assert ours.dtype == (np.complex64 if ref.dtype.kind == "c" else np.float32)
    np.testing.assert_allclose(np.asarray(ours), ref, rtol=1e-4, atol=1e-4 * np.sqrt(
        max(1, np.abs(ref).max(initial=0))))


@given(st.sampled_from(N_D), st.sampled_from(NORMS), st.data())
@settings(max_examples=25, deadline=None)
def test_multi_dimensional_transforms_match_numpy(name, norm, data):
    ndim = data.draw(st.integers(2, 4))
    shape = tuple(data.draw(st.integers(2, 5)) for _ in range(ndim))
    x = _input(name, shape)
    kwargs = {"norm": norm}
    if name.endswith("2"):
        axes = tuple(data.draw(st.permutations(range(ndim)))[:2])
        kwargs["axes"] = axes
    elif data.draw(st.booleans()):
        k = data.draw(st.integers(1, ndim))
        kwargs["axes"] = tuple(data.draw(st.permutations(range(ndim)))[:k])
    if data.draw(st.booleans()):
        k = len(kwargs["axes"]) if "axes" in kwargs else data.draw(st.integers(1, ndim))
        kwargs["s"] = tuple(data.draw(st.integers(1, 6)) for _ in range(k))
        if name.endswith("2") and "axes" not in kwargs:
            kwargs["s"] = kwargs["s"][:2]
    with fx.enable_x64():
        ours = getattr(F, name)(fnp.asarray(x), **kwargs)
    ref_kwargs = dict(kwargs)
    if "s" in kwargs and "axes" not in kwargs:   # the last len(s) axes (NumPy wants them)
        ref_kwargs["axes"] = tuple(range(ndim - len(kwargs["s"]), ndim))
    ref = getattr(np.fft, name)(x, **ref_kwargs)
    assert ours.shape == ref.shape and ours.dtype == ref.dtype
    np.testing.assert_allclose(np.asarray(ours), ref, rtol=1e-9, atol=1e-9)


def test_transforms_over_more_than_three_axes(x64):
    x = rand((2, 3, 2, 3, 2), np.complex128)
    for name in ("fftn", "ifftn"):
        np.testing.assert_allclose(np.asarray(getattr(F, name)(fnp.asarray(x))),
                                   getattr(np.fft, name)(x), rtol=1e-10, atol=1e-12)
    r = rand((2, 3, 2, 4))
    np.testing.assert_allclose(np.asarray(F.rfftn(fnp.asarray(r))), np.fft.rfftn(r),
                               rtol=1e-10, atol=1e-12)
    spec = np.fft.rfftn(r)
    np.testing.assert_allclose(np.asarray(F.irfftn(fnp.asarray(spec), s=r.shape)),
                               np.fft.irfftn(spec, s=r.shape, axes=range(4)), rtol=1e-10,
                               atol=1e-12)


def test_precision_is_preserved():
    x32 = rand((8,), np.float32)
    assert F.fft(fnp.asarray(x32)).dtype == np.complex64
    assert F.rfft(fnp.asarray(x32)).dtype == np.complex64
    assert F.irfft(F.rfft(fnp.asarray(x32))).dtype == np.float32
    assert F.fft(fnp.arange(4)).dtype == np.complex64
    with fx.enable_x64():
        assert F.fft(fnp.asarray(rand((4,)))).dtype == np.complex128
        assert F.irfft(fnp.asarray(rand((3,), np.complex128))).dtype == np.float64


def test_frequencies_and_shifts(x64):
    for n in (1, 4, 5, 8):
        for d in (1.0, 0.1):
            np.testing.assert_allclose(np.asarray(F.fftfreq(n, d)), np.fft.fftfreq(n, d))
            np.testing.assert_allclose(np.asarray(F.rfftfreq(n, d)), np.fft.rfftfreq(n, d))
    assert F.fftfreq(4, dtype=np.float32).dtype == np.float32
    x = rand((4, 5))
    for axes in (None, 0, 1, (0, 1), [1]):
        np.testing.assert_array_equal(np.asarray(F.fftshift(fnp.asarray(x), axes)),
                                      np.fft.fftshift(x, axes))
        np.testing.assert_array_equal(np.asarray(F.ifftshift(fnp.asarray(x), axes)),
                                      np.fft.ifftshift(x, axes))


# ---------------------------------------------------------------------------
# the primitive: linearity, its transpose, derivatives


def _dft(n, inverse=False):
    k = np.arange(n)
    sign = 1 if inverse else -1
    m = np.exp(sign * 2j * np.pi * np.outer(k, k) / n)
    return m / n if inverse else m


@pytest.mark.parametrize("fft_type", list(FftType))
@pytest.mark.parametrize("lengths", [(6,), (5,), (3, 4), (2, 3, 5)])
def test_primitive_transpose_satisfies_the_dot_product_identity(fft_type, lengths, x64):
    real_in = fft_type == FftType.RFFT
    if fft_type == FftType.IRFFT:
        in_shape = (2,) + lengths[:-1] + (lengths[-1] // 2 + 1,)
    else:
        in_shape = (2,) + lengths
    in_dtype = np.float64 if real_in else np.complex128
    x = rand(in_shape, in_dtype)

    def f(v):
        return fft_p.bind(v, fft_type=fft_type, fft_lengths=lengths)

    y_aval = fx.eval_shape(f, fx.ShapeDtypeStruct(in_shape, in_dtype))
    ct = rand(y_aval.shape, y_aval.dtype)
    (xt,) = fx.linear_transpose(f, fx.ShapeDtypeStruct(in_shape, in_dtype))(fnp.asarray(ct))
    # JAX's convention: the transpose L^T of a (real-)linear map L satisfies
    # Re <L x, ct> == Re <x, L^T ct> for the bilinear (unconjugated) pairing <a, b> = sum(a b)
    lhs = np.real(np.sum(np.asarray(f(fnp.asarray(x))) * ct))
    rhs = np.real(np.sum(x * np.asarray(xt)))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)


def test_primitive_matches_dft_matrices(x64):
    x = rand((3, 6), np.complex128)
    out = fft_p.bind(fnp.asarray(x), fft_type=FftType.FFT, fft_lengths=(6,))
    np.testing.assert_allclose(np.asarray(out), x @ _dft(6).T, rtol=1e-10, atol=1e-12)
    out = fft_p.bind(fnp.asarray(x), fft_type=FftType.IFFT, fft_lengths=(6,))
    np.testing.assert_allclose(np.asarray(out), x @ _dft(6, True).T, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2",
                                  "rfft2", "irfft2", "fftn"])
@pytest.mark.parametrize("norm", ["backward", "ortho"])
def test_grads(name, norm, x64):
    x = fnp.asarray(_input(name, (3, 4)))

    def f(v):
        return getattr(F, name)(v, norm=norm)

    check_grads(f, (x,), order=2)


def test_grads_with_padding_and_cropping(x64):
    x = fnp.asarray(rand((3, 5)))
    check_grads(lambda v: F.rfft(v, n=8), (x,), order=1)
    check_grads(lambda v: F.irfft(v, n=4), (fnp.asarray(rand((3, 5), np.complex128)),),
                order=1)
    check_grads(lambda v: F.fft2(v, s=(2, 7)), (x,), order=1)


@pytest.mark.parametrize("name", ["fft", "rfft", "irfft", "fftn"])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_vmap_and_jit(name, axis, harness, x64):
    x = np.moveaxis(_input(name, (3, 4, 6)), 0, axis)

    def f(v):
        return getattr(F, name)(v)

    harness.check_vmap(f, [x], (axis,), rtol=1e-10, atol=1e-12)
    harness.check_jit(f, [x], rtol=1e-12, atol=1e-12)


def test_lax_fft_wrapper_and_errors():
    x = fnp.asarray(rand((4,), np.float32))
    np.testing.assert_allclose(np.asarray(lax_fft(x, "fft", (4,))), np.fft.fft(np.asarray(x)),
                               rtol=1e-5, atol=1e-5)
    assert lax_fft(x, FftType.RFFT, ()) is not None
    with pytest.raises(ValueError, match="real valued"):
        lax_fft(fnp.asarray(rand((4,), np.complex64)), "rfft", (4,))
    with pytest.raises(ValueError, match="unknown FFT type"):
        lax_fft(x, "dct", (4,))
    with pytest.raises(ValueError, match="must end in"):
        lax_fft(x, "fft", (5,))
    with pytest.raises(ValueError, match="rank"):
        lax_fft(x, "fft", (2, 2))
    with pytest.raises(ValueError, match="multiple axes"):
        F.fft(x, axis=(0,))
    with pytest.raises(ValueError, match="repeated axes"):
        F.fftn(fnp.ones((2, 2)), axes=(0, 0))
    with pytest.raises(ValueError, match="different lengths"):
        F.fftn(fnp.ones((2, 2)), s=(2,), axes=(0, 1))
    with pytest.raises(ValueError, match="positive"):
        F.fft(x, n=0)
    with pytest.raises(ValueError, match="norm"):
        F.fft(x, norm="bogus")
    with pytest.raises(ValueError, match="2 axes"):
        F.fft2(fnp.ones((2, 2, 2)), axes=(0, 1, 2))
    with pytest.raises(ValueError, match="out of bounds"):
        F.fft(x, axis=3)
    with pytest.raises(TypeError, match="list"):
        F.fft([1.0, 2.0])


# ---------------------------------------------------------------------------
# JAX as an oracle


@pytest.mark.jax
@pytest.mark.parametrize("name", ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "rfft2",
                                  "irfftn"])
def test_values_dtypes_and_cotangents_match_jax(name, jax):
    jnp = jax.numpy
    x = _input(name, (3, 6), np.float32)
    ours, pull = fx.vjp(lambda v: getattr(F, name)(v, norm="ortho"), fnp.asarray(x))
    theirs, jpull = jax.vjp(lambda v: getattr(jnp.fft, name)(v, norm="ortho"),
                            jnp.asarray(x))
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=2e-5, atol=2e-5)
    ct = rand(ours.shape, ours.dtype)
    np.testing.assert_allclose(np.asarray(pull(fnp.asarray(ct))[0]),
                               np.asarray(jpull(jnp.asarray(ct))[0]), rtol=2e-4, atol=2e-4)


@pytest.mark.jax
def test_printed_equation_matches_jax(jax):
    x = np.ones((3, 8), np.float32)
    ours = fx.make_jaxpr(lambda v: F.rfft(v))(x)
    theirs = jax.make_jaxpr(lambda v: jax.numpy.fft.rfft(v))(x)
    assert "fft[fft_lengths=(8,) fft_type=2]" in " ".join(str(ours).split())
    assert "fft[fft_lengths=(8,) fft_type=2]" in " ".join(str(theirs).split())
