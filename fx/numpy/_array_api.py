"""The Python array API standard's namespace metadata for ``fx.numpy``:
``__array_api_version__``, ``__array_namespace_info__``, ``isdtype`` and ``astype``.

Invariant: the inspection API reports what fx actually supports right now (64-bit
dtypes only when ``jax_enable_x64`` is on), so code written against the standard can
select dtypes and devices from it.
"""
from __future__ import annotations

import numpy as np

from fx import core, dtypes, lax
from fx.core import Tracer

__all__ = ["__array_api_version__", "__array_namespace_info__", "isdtype", "astype"]

__array_api_version__ = "2023.12"

_KINDS = ("bool", "signed integer", "unsigned integer", "integral", "real floating",
          "complex floating", "numeric")


def _as_dtype(x) -> np.dtype:
    return np.dtype(x)


def _kind_matches(dtype: np.dtype, kind: str) -> bool:
    k = dtype.kind
    real_float = k == "f" or dtypes.is_float(dtype) or (
        k == "V" and "float" in dtype.name)
    if kind == "bool":
        return k == "b"
    if kind == "signed integer":
        return k == "i" or (k == "V" and dtype.name.startswith("int"))
    if kind == "unsigned integer":
        return k == "u" or (k == "V" and dtype.name.startswith("uint"))
    if kind == "integral":
        return _kind_matches(dtype, "signed integer") or _kind_matches(dtype,
                                                                       "unsigned integer")
    if kind == "real floating":
        return real_float
    if kind == "complex floating":
        return k == "c"
    if kind == "numeric":
        return k != "b" and (real_float or k in "iuc" or _kind_matches(dtype, "integral"))
    raise ValueError(f"isdtype: unknown kind {kind!r}; expected a dtype or one of {_KINDS}")


def isdtype(dtype, kind) -> bool:
    """Whether ``dtype`` is of ``kind`` (the array API's dtype test).

    Args:
      dtype: a dtype (or scalar type such as ``fnp.float32``).
      kind: a dtype, one of ``'bool'``, ``'signed integer'``, ``'unsigned integer'``,
        ``'integral'``, ``'real floating'``, ``'complex floating'``, ``'numeric'``, or a
        tuple of these (any of which may match).

    Returns:
      A Python bool.

    Example:
      >>> fnp.isdtype(fnp.float32, ("integral", "real floating"))
      True
    """
    if isinstance(dtype, (core._array_type[0], Tracer, np.ndarray)):
        raise TypeError(f"isdtype: expected a dtype as the first argument, got an array of "
                        f"type {type(dtype).__name__}; pass x.dtype")
    dtype = _as_dtype(dtype)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    for k in kinds:
        if isinstance(k, str):
            if _kind_matches(dtype, k):
                return True
        elif dtype == _as_dtype(k):
            return True
    return False


def astype(x, dtype, /, *, copy: bool = False, device=None):
    """``x`` converted to ``dtype`` (the array API's ``astype``).

    Complex to real conversion drops the imaginary part (with a ``ComplexWarning`` in
    NumPy; silently here, as JAX does under ``jit``).

    Args:
      x: an array.
      dtype: the target dtype.
      copy: ignored (fx arrays are immutable, so copies are never observable).
      device: ignored (one device per process).

    Returns:
      An array of ``dtype`` (canonicalized) with the shape of ``x``.

    Example:
      >>> fnp.astype(fnp.arange(3), fnp.float32)
      Array([0., 1., 2.], dtype=float32)
    """
    from fx.numpy._core import asarray
    if not isinstance(x, (core._array_type[0], Tracer)):
        x = asarray(x)
    if dtype is None:
        dtype = dtypes.default_float_dtype()
    return lax.convert_element_type(x, dtype)


class _NamespaceInfo:
    """The array API inspection namespace returned by ``__array_namespace_info__()``."""

    __module__ = "fx.numpy"

    def capabilities(self) -> dict:
        """What fx.numpy can do: no value-dependent shapes (boolean indexing needs
        concrete values), at most 64 dimensions."""
        return {"boolean indexing": False, "data-dependent shapes": False,
                "max dimensions": 64}

    def default_device(self):
        """The default device (the first of ``fx.devices()``)."""
        from fx.devices import default_device
        return default_device()

    def devices(self) -> list:
        """Every device fx can place arrays on."""
        import fx
        return list(fx.devices())

    def default_dtypes(self, *, device=None) -> dict:
        """The default dtypes (32-bit unless x64 is enabled)."""
        return {"real floating": dtypes.default_float_dtype(),
                "complex floating": dtypes.default_complex_dtype(),
                "integral": dtypes.default_int_dtype(),
                "indexing": dtypes.default_int_dtype()}

    def dtypes(self, *, device=None, kind=None) -> dict:
        """The supported dtypes by name, optionally only those of ``kind`` (as in
        ``isdtype``)."""
        x64 = dtypes.canonicalize_dtype(np.int64) == np.int64
        names = ["bool", "int8", "int16", "int32", "uint8", "uint16", "uint32", "float32",
                 "complex64"]
        if x64:
            names += ["int64", "uint64", "float64", "complex128"]
        out = {n: np.dtype(n) for n in names}
        if kind is None:
            return out
        return {n: d for n, d in out.items() if isdtype(d, kind)}


def __array_namespace_info__() -> _NamespaceInfo:
    """The array API inspection namespace (capabilities, default dtypes, devices)."""
    return _NamespaceInfo()
