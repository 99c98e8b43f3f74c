"""``fx.numpy.fft``: JAX's ``jax.numpy.fft`` — NumPy's FFT interface over the ``fft``
primitive (``fx.lax.fft``).

Invariants: transformed axes are moved innermost, cropped or zero-padded to the
requested sizes, transformed by at most three axes per primitive call, and moved
back. ``norm`` is ``"backward"`` (default: the inverse divides by N), ``"ortho"``
(both divide by sqrt(N)) or ``"forward"`` (the forward transform divides by N).
Single precision stays single precision (float32 -> complex64).
"""
from __future__ import annotations

import math
import operator
from typing import Sequence

import fx.numpy as fnp
from fx import core, dtypes
from fx.lax._fft import FftType
from fx.lax._fft import fft as _lax_fft

__all__ = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "rfft2",
           "irfft2", "fftn", "ifftn", "rfftn", "irfftn", "fftfreq", "rfftfreq", "fftshift",
           "ifftshift"]

_NORMS = (None, "backward", "ortho", "forward")


def _as_array(name: str, a):
    if isinstance(a, (list, tuple)):
        raise TypeError(f"fft.{name}: a must be an array, got a {type(a).__name__}; "
                        "convert it with fx.numpy.asarray")
    return fnp.asarray(a)


def _scale(name: str, norm, sizes) -> float:
    """The factor applied after the unnormalised (forward) or 1/N (inverse) transform."""
    if norm not in _NORMS:
        raise ValueError(f"fft.{name}: invalid norm {norm!r}; expected 'backward', 'ortho' or "
                         "'forward'")
    if norm in (None, "backward"):
        return 1.0
    total = float(math.prod(sizes))
    inverse = name.startswith("i")
    if norm == "ortho":
        return math.sqrt(total) if inverse else 1.0 / math.sqrt(total)
    return total if inverse else 1.0 / total


def _transform_innermost(x, fft_type: FftType, sizes: tuple):
    """Transform the last ``len(sizes)`` axes, three at most per primitive call."""
    if len(sizes) <= 3:
        return _lax_fft(x, fft_type, sizes)
    k = 2 if len(sizes) == 4 else 3
    nd = x.ndim
    outer = tuple(range(nd - len(sizes), nd - k))
    moved = tuple(range(nd - len(sizes) + k, nd))
    if fft_type in (FftType.RFFT, FftType.FFT):
        x = _lax_fft(x, fft_type, sizes[-k:])
        x = fnp.moveaxis(x, outer, moved)
        x = _transform_innermost(x, FftType.FFT, sizes[:-k])
        return fnp.moveaxis(x, moved, outer)
    x = fnp.moveaxis(x, outer, moved)
    x = _transform_innermost(x, FftType.IFFT, sizes[:-k])
    x = fnp.moveaxis(x, moved, outer)
    return _lax_fft(x, fft_type, sizes[-k:])


def _normalize_axes(name: str, axes, ndim: int) -> tuple:
    out = []
    for ax in axes:
        try:
            ax = operator.index(ax)
        except TypeError:
            raise TypeError(f"fft.{name}: axes must be integers, got {axes!r}") from None
        if not -ndim <= ax < ndim:
            raise ValueError(f"fft.{name}: axis {ax} is out of bounds for an array of rank "
                             f"{ndim}")
        out.append(ax % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"fft.{name} does not support repeated axes, got axes {tuple(axes)}")
    return tuple(out)


def _fft_core(name: str, fft_type: FftType, a, s, axes, norm):
    arr = _as_array(name, a)
    if s is not None:
        try:
            s = tuple(operator.index(core.concrete_or_error(n, "an FFT size",
                                                            "pass Python ints"))
                      for n in s)
        except TypeError:
            raise TypeError(f"fft.{name}: s must be a sequence of ints, got {s!r}") from None
        if any(n <= 0 for n in s):
            raise ValueError(f"fft.{name}: sizes s must be positive, got {s}")
        if axes is not None and len(s) != len(axes):
            raise ValueError(f"fft.{name}: s {s} and axes {tuple(axes)} have different "
                             "lengths")
    given_axes = axes
    if axes is None:
        axes = tuple(range(arr.ndim)) if s is None else tuple(range(arr.ndim - len(s),
                                                                    arr.ndim))
    if s is not None and len(s) > arr.ndim:
        raise ValueError(f"fft.{name}: {len(s)} sizes given for an array of rank {arr.ndim}")
    axes = _normalize_axes(name, axes, arr.ndim)
    inner = tuple(range(arr.ndim - len(axes), arr.ndim))
    if given_axes is not None and axes != inner:
        arr = fnp.moveaxis(arr, axes, inner)
    if s is not None:
        target = list(arr.shape)
        for ax, n in zip(inner, s, strict=True):
            target[ax] = n
        if fft_type == FftType.IRFFT:
            target[-1] = target[-1] // 2 + 1
        crop = tuple(slice(0, n) for n in target)
        arr = arr[crop]
        pads = [(0, n - have) for n, have in zip(target, arr.shape, strict=True)]
        if any(hi for _, hi in pads):
            arr = fnp.pad(arr, pads)
        sizes = tuple(s)
    else:
        sizes = tuple(arr.shape[ax] for ax in inner)
        if fft_type == FftType.IRFFT and sizes:
            sizes = sizes[:-1] + (max(0, 2 * (sizes[-1] - 1)),)
    if not sizes:
        out = _lax_fft(arr, fft_type, ())
    else:
        out = _transform_innermost(arr, fft_type, sizes)
    factor = _scale(name, norm, sizes)
    if factor != 1.0:
        out = out * factor
    if given_axes is not None and axes != inner:
        out = fnp.moveaxis(out, inner, axes)
    return out


def _one_axis(name: str, axis) -> tuple:
    if isinstance(axis, (list, tuple)):
        raise ValueError(f"fft.{name} does not support multiple axes; use fft.{name}n. Got "
                         f"axis={axis!r}")
    return (axis,)


def _two_axes(name: str, axes) -> tuple:
    axes = tuple(axes)
    if len(axes) != 2:
        raise ValueError(f"fft.{name} only supports 2 axes, got axes={axes!r}")
    return axes


def fft(a, n: int | None = None, axis: int = -1, norm: str | None = None):
    """One-dimensional discrete Fourier transform along ``axis``.

    Args:
      a: the input (converted to complex).
      n: the length: ``a`` is cropped or zero-padded to it (default ``a.shape[axis]``).
      axis: the axis transformed.
      norm: ``"backward"`` (default), ``"ortho"`` or ``"forward"``.

    Returns:
      The complex transform.

    Example:
      >>> fft(fx.numpy.array([1., 0., 0., 0.]))   # [1, 1, 1, 1]
    """
    return _fft_core("fft", FftType.FFT, a, None if n is None else (n,),
                     _one_axis("fft", axis), norm)


def ifft(a, n: int | None = None, axis: int = -1, norm: str | None = None):
    """Inverse of ``fft`` (divides by ``n`` with the default norm).

    Example:
      >>> ifft(fx.numpy.array([1., 1., 1., 1.]))   # [1, 0, 0, 0]
    """
    return _fft_core("ifft", FftType.IFFT, a, None if n is None else (n,),
                     _one_axis("ifft", axis), norm)


def rfft(a, n: int | None = None, axis: int = -1, norm: str | None = None):
    """Transform of real input: the ``n // 2 + 1`` non-negative frequency terms.

    Example:
      >>> rfft(fx.numpy.array([1., 2., 3., 4.]))   # [10, -2+2j, -2]
    """
    return _fft_core("rfft", FftType.RFFT, a, None if n is None else (n,),
                     _one_axis("rfft", axis), norm)


def irfft(a, n: int | None = None, axis: int = -1, norm: str | None = None):
    """Inverse of ``rfft``: real output of length ``n`` (default ``2 * (m - 1)``).

    Example:
      >>> irfft(fx.numpy.array([10., -2 + 2j, -2.]))   # [1, 2, 3, 4]
    """
    return _fft_core("irfft", FftType.IRFFT, a, None if n is None else (n,),
                     _one_axis("irfft", axis), norm)


def hfft(a, n: int | None = None, axis: int = -1, norm: str | None = None):
    """Transform of a signal with Hermitian symmetry given by its first half (real output).

    Example:
      >>> hfft(fx.numpy.array([1., 2., 3.]))   # length 4, real
    """
    axes = _one_axis("hfft", axis)
    conj_a = fnp.conj(_as_array("hfft", a))
    length = (conj_a.shape[axis] - 1) * 2 if n is None else n
    out = _fft_core("hfft", FftType.IRFFT, conj_a, None if n is None else (n,), axes, norm)
    return out * length


def ihfft(a, n: int | None = None, axis: int = -1, norm: str | None = None):
    """Inverse of ``hfft``: the half spectrum of a real signal, conjugated and scaled.

    Example:
      >>> ihfft(fx.numpy.array([1., 2., 3., 4.]))
    """
    axes = _one_axis("ihfft", axis)
    arr = _as_array("ihfft", a)
    length = arr.shape[axis] if n is None else n
    out = _fft_core("ihfft", FftType.RFFT, arr, None if n is None else (n,), axes, norm)
    return fnp.conj(out) * (1.0 / length)


def fft2(a, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
         norm: str | None = None):
    """Two-dimensional ``fft`` over ``axes``.

    Example:
      >>> fft2(fx.numpy.ones((2, 2)))   # [[4, 0], [0, 0]]
    """
    return _fft_core("fft2", FftType.FFT, a, s, _two_axes("fft2", axes), norm)


def ifft2(a, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
          norm: str | None = None):
    """Two-dimensional ``ifft`` over ``axes``.

    Example:
      >>> ifft2(fx.numpy.ones((2, 2)))   # [[1, 0], [0, 0]]
    """
    return _fft_core("ifft2", FftType.IFFT, a, s, _two_axes("ifft2", axes), norm)


def rfft2(a, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
          norm: str | None = None):
    """Two-dimensional ``rfft`` over ``axes`` (the last one halved).

    Example:
      >>> rfft2(fx.numpy.ones((2, 4))).shape   # (2, 3)
    """
    return _fft_core("rfft2", FftType.RFFT, a, s, _two_axes("rfft2", axes), norm)


def irfft2(a, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
           norm: str | None = None):
    """Two-dimensional ``irfft`` over ``axes``.

    Example:
      >>> irfft2(fx.numpy.ones((2, 3))).shape   # (2, 4)
    """
    return _fft_core("irfft2", FftType.IRFFT, a, s, _two_axes("irfft2", axes), norm)


def fftn(a, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
         norm: str | None = None):
    """N-dimensional ``fft`` over ``axes`` (all axes, or the last ``len(s)``, by default).

    Example:
      >>> fftn(fx.numpy.ones((2, 2, 2)))[0, 0, 0]   # 8
    """
    return _fft_core("fftn", FftType.FFT, a, s, axes, norm)


def ifftn(a, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str | None = None):
    """N-dimensional ``ifft``.

    Example:
      >>> ifftn(fx.numpy.ones((2, 2)))[0, 0]   # 1
    """
    return _fft_core("ifftn", FftType.IFFT, a, s, axes, norm)


def rfftn(a, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str | None = None):
    """N-dimensional ``rfft`` (the last axis halved).

    Example:
      >>> rfftn(fx.numpy.ones((2, 4))).shape   # (2, 3)
    """
    return _fft_core("rfftn", FftType.RFFT, a, s, axes, norm)


def irfftn(a, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
           norm: str | None = None):
    """N-dimensional ``irfft``.

    Example:
      >>> irfftn(fx.numpy.ones((2, 3))).shape   # (2, 4)
    """
    return _fft_core("irfftn", FftType.IRFFT, a, s, axes, norm)


def _freq_args(name: str, n, d):
    if isinstance(n, (list, tuple)):
        raise ValueError(f"fft.{name}: n must be an int, got {list(n)}")
    if isinstance(d, (list, tuple)):
        raise ValueError(f"fft.{name}: d must be a single value, got {list(d)}")
    try:
        return operator.index(core.concrete_or_error(n, "n", "pass a Python int"))
    except TypeError:
        raise TypeError(f"fft.{name}: n must be an int, got {n!r}") from None


def fftfreq(n: int, d=1.0, *, dtype=None, device=None):
    """Sample frequencies of an ``fft`` of length ``n`` with sample spacing ``d``.

    Example:
      >>> fftfreq(4)   # [0., .25, -.5, -.25]
    """
    n = _freq_args("fftfreq", n, d)
    out_dtype = dtypes.canonicalize_dtype(dtype or dtypes.default_float_dtype())
    work = out_dtype if dtypes.is_inexact(out_dtype) else dtypes.default_float_dtype()
    work = dtypes.finfo(work).dtype
    i = fnp.arange(n, dtype=work)
    k = (i + n // 2) % n - n // 2
    return (k / fnp.asarray(d * n, dtype=work)).astype(out_dtype)


def rfftfreq(n: int, d=1.0, *, dtype=None, device=None):
    """Sample frequencies of an ``rfft`` of length ``n`` (the ``n // 2 + 1`` non-negative
    ones).

    Example:
      >>> rfftfreq(4)   # [0., .25, .5]
    """
    n = _freq_args("rfftfreq", n, d)
    dtype = dtypes.canonicalize_dtype(dtype or dtypes.default_float_dtype())
    k = fnp.arange(0, n // 2 + 1, dtype=dtype)
    return k / fnp.asarray(d * n, dtype=dtype)


def _shifts(x, axes, sign: int):
    if axes is None:
        axes = tuple(range(x.ndim))
        return axes, [sign * (dim // 2) for dim in x.shape]
    if isinstance(axes, int):
        return axes, sign * (x.shape[axes] // 2)
    axes = tuple(axes)
    return axes, [sign * (x.shape[ax] // 2) for ax in axes]


def fftshift(x, axes=None):
    """Move the zero-frequency term to the centre of ``axes`` (all by default).

    Example:
      >>> fftshift(fftfreq(4))   # [-.5, -.25, 0., .25]
    """
    x = _as_array("fftshift", x)
    axes, shift = _shifts(x, axes, 1)
    return fnp.roll(x, shift, axes)


def ifftshift(x, axes=None):
    """Inverse of ``fftshift``.

    Example:
      >>> ifftshift(fftshift(fftfreq(5)))   # fftfreq(5)
    """
    x = _as_array("ifftshift", x)
    axes, shift = _shifts(x, axes, -1)
    return fnp.roll(x, shift, axes)
