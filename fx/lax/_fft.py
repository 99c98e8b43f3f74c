"""``fx.lax.fft`` and ``fx.lax.FftType``: the ``fft`` primitive with lax's signature.

Invariants: the operand is converted as JAX converts it (to a complex dtype for
FFT, IFFT and IRFFT; to an inexact one for RFFT, which refuses complex input)
before the primitive is bound; an empty ``fft_lengths`` returns the converted
operand unchanged.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from fx import core, dtypes
from fx.core import get_aval
from fx.lax import _lax
from primitives.fft import FftType, fft_p

__all__ = ["fft", "FftType", "fft_p"]

_NAMES = {"fft": FftType.FFT, "ifft": FftType.IFFT, "rfft": FftType.RFFT,
          "irfft": FftType.IRFFT}


def _fft_type(fft_type) -> FftType:
    if isinstance(fft_type, str):
        found = _NAMES.get(fft_type.lower())
        if found is None:
            raise ValueError(f"lax.fft: unknown FFT type {fft_type!r}; expected one of "
                             f"'FFT', 'IFFT', 'RFFT', 'IRFFT'")
        return found
    if isinstance(fft_type, FftType):
        return fft_type
    raise TypeError(f"lax.fft: fft_type must be an fx.lax.FftType or its name, got "
                    f"{fft_type!r}")


def _inexact(dtype) -> np.dtype:
    return dtype if dtypes.is_inexact(dtype) else dtypes.default_float_dtype()


def _complex(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        return dtype
    return dtypes.complex128 if _inexact(dtype) == dtypes.float64 else dtypes.complex64


def fft(x, fft_type, fft_lengths: Sequence[int]):
    """A discrete Fourier transform over the trailing ``len(fft_lengths)`` axes.

    Args:
      x: the operand; its trailing axes have the sizes ``fft_lengths`` (for IRFFT the
        last one is ``fft_lengths[-1] // 2 + 1``).
      fft_type: an ``FftType`` or one of ``"fft"``, ``"ifft"``, ``"rfft"``, ``"irfft"``.
      fft_lengths: the transform sizes, 1 to 3 of them.

    Returns:
      The transform (unnormalised forward, 1/N-normalised inverse).

    Example:
      >>> fft(fx.numpy.ones(4, "complex64"), FftType.FFT, (4,))   # [4, 0, 0, 0]
    """
    typ = _fft_type(fft_type)
    if isinstance(x, (list, tuple)):
        raise TypeError("lax.fft: x must be an array; convert lists with fx.numpy.asarray")
    if isinstance(x, (np.ndarray, np.generic)):
        x = core._array_type[0](np.asarray(x).astype(
            dtypes.canonicalize_dtype(np.asarray(x).dtype), copy=False))
    try:
        lengths = tuple(int(core.concrete_or_error(n, "fft_lengths", "pass Python ints"))
                        for n in fft_lengths)
    except TypeError:
        raise TypeError(f"lax.fft: fft_lengths must be a sequence of ints, got "
                        f"{fft_lengths!r}") from None
    dtype = get_aval(x).dtype
    if typ == FftType.RFFT:
        if dtype.kind == "c":
            raise ValueError("lax.fft: only real valued inputs are supported for RFFT")
        x = _lax.convert_element_type(x, _inexact(dtype))
    else:
        x = _lax.convert_element_type(x, _complex(dtype))
    if not lengths:
        return x
    return _lax._bind(fft_p, x, fft_type=typ, fft_lengths=lengths)
