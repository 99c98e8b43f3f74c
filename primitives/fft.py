"""The ``fft`` primitive: discrete Fourier transforms over the trailing axes.

Invariants: ``fft_type`` is an ``FftType`` (an IntEnum, printed as its number as
JAX 0.10 prints it) and ``fft_lengths`` a tuple of 1 to 3 positive ints naming
the sizes of the trailing axes transformed. FFT/IFFT map complex to complex of
the same shape; RFFT maps real ``[..., *lengths]`` to complex ``[..., *lengths[:-1],
lengths[-1] // 2 + 1]``; IRFFT is its inverse. Precision is preserved (float32
<-> complex64, float64 <-> complex128). The transform is linear, so its jvp is
itself and its transpose is another transform (scaled and masked for the real
ones, as JAX defines them).
"""
from __future__ import annotations

import enum
import math

import numpy as np

from fx.core import ShapedArray, Zero
from primitives import _rules as R
from primitives._rules import new_primitive

_sfft = R.LazyModule("scipy.fft")


__all__ = ["FftType", "fft_p"]


class FftType(enum.IntEnum):
    """Which transform ``fft`` computes."""

    FFT = 0     # forward, complex to complex
    IFFT = 1    # inverse, complex to complex
    RFFT = 2    # forward, real to complex (half spectrum)
    IRFFT = 3   # inverse, complex (half spectrum) to real


fft_p = new_primitive("fft")

_REAL_OF = {np.dtype(np.complex64): np.dtype(np.float32),
            np.dtype(np.complex128): np.dtype(np.float64)}
_COMPLEX_OF = {v: k for k, v in _REAL_OF.items()}


def _check_lengths(fft_lengths, ndim):
    if not isinstance(fft_lengths, tuple) or not 1 <= len(fft_lengths) <= 3 or not all(
            isinstance(n, (int, np.integer)) and n >= 0 for n in fft_lengths):
        raise ValueError(f"fft: fft_lengths must be a tuple of 1 to 3 non-negative ints, got "
                         f"{fft_lengths!r}")
    if len(fft_lengths) > ndim:
        raise ValueError(f"fft: an operand of rank {ndim} cannot be transformed over "
                         f"{len(fft_lengths)} axes (fft_lengths={fft_lengths})")


@fft_p.def_abstract_eval
def _fft_abstract_eval(x, *, fft_type, fft_lengths):
    fft_type = FftType(fft_type)
    _check_lengths(fft_lengths, x.ndim)
    k = len(fft_lengths)
    lead, minor = x.shape[:-k], x.shape[-k:]
    if fft_type == FftType.RFFT:
        if x.dtype not in _COMPLEX_OF:
            raise TypeError(f"fft: RFFT needs a float32 or float64 operand, got "
                            f"{x.dtype.name}")
        if minor != fft_lengths:
            raise ValueError(f"fft: RFFT operand shape {x.shape} must end in fft_lengths "
                             f"{fft_lengths}")
        shape = lead + fft_lengths[:-1] + (fft_lengths[-1] // 2 + 1,)
        return ShapedArray(shape, _COMPLEX_OF[x.dtype], x.weak_type)
    if x.dtype not in _REAL_OF:
        raise TypeError(f"fft: {fft_type.name} needs a complex64 or complex128 operand, got "
                        f"{x.dtype.name}")
    if fft_type == FftType.IRFFT:
        expected = fft_lengths[:-1] + (fft_lengths[-1] // 2 + 1,)
        if minor != expected:
            raise ValueError(f"fft: IRFFT operand shape {x.shape} must end in {expected} "
                             f"(fft_lengths {fft_lengths}, the last one halved plus one)")
        return ShapedArray(lead + fft_lengths, _REAL_OF[x.dtype], x.weak_type)
    if minor != fft_lengths:
        raise ValueError(f"fft: {fft_type.name} operand shape {x.shape} must end in "
                         f"fft_lengths {fft_lengths}")
    return ShapedArray(x.shape, x.dtype, x.weak_type)


_PARALLEL_SIZE = 1 << 15   # transforms at least this large use every core


def _fft_impl(x, *, fft_type, fft_lengths):
    x = np.asarray(x)
    fft_type = FftType(fft_type)
    k = len(fft_lengths)
    axes = tuple(range(x.ndim - k, x.ndim))
    workers = -1 if x.size >= _PARALLEL_SIZE else None
    if fft_type == FftType.RFFT:
        out_dtype = _COMPLEX_OF[x.dtype]
        if x.size == 0 or 0 in fft_lengths:
            return np.zeros(x.shape[:-1] + (fft_lengths[-1] // 2 + 1,), out_dtype)
        out = _sfft.rfftn(x, s=fft_lengths, axes=axes, workers=workers)
        return out.astype(out_dtype, copy=False)
    if fft_type == FftType.IRFFT:
        out_dtype = _REAL_OF[x.dtype]
        if x.size == 0 or 0 in fft_lengths:
            return np.zeros(x.shape[:-k] + fft_lengths, out_dtype)
        out = _sfft.irfftn(x, s=fft_lengths, axes=axes, workers=workers)
        return out.astype(out_dtype, copy=False)
    if x.size == 0:
        return np.zeros(x.shape, x.dtype)
    fn = _sfft.fftn if fft_type == FftType.FFT else _sfft.ifftn
    return fn(x, s=fft_lengths, axes=axes, workers=workers).astype(x.dtype, copy=False)


fft_p.def_impl(_fft_impl)


@fft_p.def_jvp
def _fft_jvp(primals, tangents, *, fft_type, fft_lengths):
    (x,), (t,) = primals, tangents
    out = fft_p.bind(x, fft_type=fft_type, fft_lengths=fft_lengths)
    if type(t) is Zero:
        return out, Zero(R.aval_of(out).to_tangent_aval())
    return out, fft_p.bind(t, fft_type=fft_type, fft_lengths=fft_lengths)


def _rfft_transpose(ct, fft_lengths):
    """RFFT is ``x -> FFT(complex(x))[..., :n//2+1]``: its transpose pads the cotangent
    back to ``n`` with zeros, applies FFT (the DFT matrix is symmetric) and keeps the
    real part."""
    shape = R.shape_of(ct)
    n = fft_lengths[-1]
    kept = shape[-1]
    padded = R.registry["pad"].bind(
        ct, R.as_scalar(0, R.dtype_of(ct)),
        padding_config=((0, 0, 0),) * (len(shape) - 1) + ((0, n - kept, 0),))
    full = fft_p.bind(padded, fft_type=FftType.FFT, fft_lengths=fft_lengths)
    return R.registry["real"].bind(full)


def _irfft_transpose(ct, fft_lengths):
    """IRFFT's transpose: the RFFT of the cotangent, scaled by 1/N, with the bins that
    stand for two conjugate frequencies doubled, conjugated (JAX's convention)."""
    spectrum = fft_p.bind(ct, fft_type=FftType.RFFT, fft_lengths=fft_lengths)
    shape = R.shape_of(spectrum)
    bins = shape[-1]
    n = fft_lengths[-1]
    mask = np.full(bins, 2.0)
    mask[0] = 1.0
    if n % 2 == 0 and bins > 1:
        mask[-1] = 1.0
    mask = (mask / math.prod(fft_lengths)).astype(R.dtype_of(spectrum))
    scaled = R.mul(spectrum, R.broadcast_in_dim(mask, shape, (len(shape) - 1,)))
    return R.registry["conj"].bind(scaled, input_dtype=R.dtype_of(scaled))


@fft_p.def_transpose
def _fft_transpose(ct, x, *, fft_type, fft_lengths):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    fft_type = FftType(fft_type)
    if fft_type == FftType.RFFT:
        return [_rfft_transpose(ct, fft_lengths)]
    if fft_type == FftType.IRFFT:
        return [_irfft_transpose(ct, fft_lengths)]
    return [fft_p.bind(ct, fft_type=fft_type, fft_lengths=fft_lengths)]


@fft_p.def_batch
def _fft_batch(args, dims, *, fft_type, fft_lengths):
    (x,), (d,) = args, dims
    nd = len(R.shape_of(x))
    if d >= nd - len(fft_lengths):   # the mapped axis is among the transformed ones
        x, d = R.moveaxis(x, d, 0), 0
    return fft_p.bind(x, fft_type=fft_type, fft_lengths=fft_lengths), d
