"""``fx.numpy`` array creation beyond ``_core``: log/geometric ranges, grids
(``meshgrid``, ``indices``, ``mgrid``/``ogrid``, ``ix_``), ``r_``/``c_``, the triangle
and diagonal index helpers, ``fromfunction`` and the buffer readers, ``copy``,
``vander``, the window functions and ``load``/``save``.

Invariants: shapes and counts are static Python ints (as JAX requires); anything that
only depends on them (index helpers) is computed once on the host, while values that
may be traced (``start``/``stop``, ``x`` in ``vander``, ``beta`` in ``kaiser``) go
through fx primitives, so they differentiate and jit.
"""
from __future__ import annotations

import builtins

import numpy as np

import primitives as P
from fx import core, dtypes, lax
from fx.array import Array
from fx.core import Tracer, get_aval
from fx.numpy import _core as C
from fx.numpy._core import _promote_inexact, asarray

__all__ = ["logspace", "geomspace", "meshgrid", "indices", "mgrid", "ogrid", "ix_", "r_",
           "c_", "s_", "index_exp", "tril_indices", "triu_indices", "tril_indices_from",
           "triu_indices_from", "diag_indices", "diag_indices_from", "mask_indices",
           "fromfunction", "frombuffer", "fromstring", "fromfile", "fromiter", "copy",
           "vander", "bartlett", "blackman", "hamming", "hanning", "kaiser", "load", "save",
           "savez", "atleast_3d"]


def _dtype(x):
    return get_aval(x).dtype


def _static_int(value, what: str) -> int:
    value = core.concrete_or_error(value, f"a traced {what}",
                                   f"{what} must be a static Python int.")
    if isinstance(value, builtins.bool) or not isinstance(value, (int, np.integer)) and not (
            isinstance(value, (Array, np.ndarray)) and np.ndim(value) == 0):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    return int(value)


# ---------------------------------------------------------------------------
# ranges


def logspace(start, stop, num: int = 50, endpoint: bool = True, base=10.0, dtype=None,
             axis: int = 0):
    """``base ** linspace(start, stop, num)``.

    Example:
      >>> fnp.logspace(0, 2, 3)
      Array([  1.,  10., 100.], dtype=float32)
    """
    num = _static_int(num, "logspace num")
    start, stop = _promote_inexact(start, stop)
    compute = _dtype(start)
    lin = C.linspace(start, stop, num, endpoint=endpoint, axis=axis)
    base = lax.convert_element_type(asarray(base), compute)
    if get_aval(base).ndim:
        base = C.expand_dims(base, axis)
    out = C.power(base, lin)
    return out if dtype is None else lax.convert_element_type(out, dtype)


def geomspace(start, stop, num: int = 50, endpoint: bool = True, dtype=None, axis: int = 0):
    """Numbers spaced evenly on a log scale from ``start`` to ``stop`` (same sign,
    nonzero); the endpoints are exact.

    Example:
      >>> fnp.geomspace(1, 1000, 4)
      Array([   1.,   10.,  100., 1000.], dtype=float32)
    """
    num = _static_int(num, "geomspace num")
    start, stop = _promote_inexact(start, stop)
    if dtypes.is_complex(_dtype(start)):
        raise NotImplementedError("fx.numpy.geomspace does not support complex endpoints")
    start, stop = lax.convert_element_type(start, _dtype(start)), \
        lax.convert_element_type(stop, _dtype(stop))
    sign = C.sign(start)
    log_start, log_stop = C.log10(C.absolute(start)), C.log10(C.absolute(stop))
    out = logspace(log_start, log_stop, num, endpoint=endpoint, base=10.0, axis=0)
    out = C.multiply(C.expand_dims(sign, 0) if get_aval(sign).ndim else sign, out)
    if num > 0:
        first = C.expand_dims(start, 0)
        parts = [first, out[1:]]
        if endpoint and num > 1:
            parts = [first, out[1:-1], C.expand_dims(stop, 0)]
        from fx.numpy import concatenate
        out = concatenate([C.broadcast_to(p, (get_aval(p).shape[0],) + get_aval(out).shape[1:])
                           for p in parts], axis=0)
    if axis != 0:
        out = C.moveaxis(out, 0, axis)
    return out if dtype is None else lax.convert_element_type(out, dtype)


# ---------------------------------------------------------------------------
# grids


def meshgrid(*xi, copy: bool = True, sparse: bool = False, indexing: str = "xy"):
    """Coordinate matrices from 1-d coordinate vectors.

    Args:
      *xi: 1-d arrays.
      sparse: return broadcastable (size-1) shapes instead of full grids.
      indexing: ``'xy'`` (Cartesian: the first two axes swapped) or ``'ij'`` (matrix).

    Returns:
      A list of arrays, one per input.

    Example:
      >>> [g.shape for g in fnp.meshgrid(fnp.arange(2), fnp.arange(3))]
      [(3, 2), (3, 2)]
    """
    if indexing not in ("xy", "ij"):
        raise ValueError(f"fx.numpy.meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    args = [asarray(x) for x in xi]
    for i, x in enumerate(args):
        if get_aval(x).ndim != 1:
            raise ValueError(f"fx.numpy.meshgrid: arguments must be 1-d, got shape "
                             f"{get_aval(x).shape} at position {i}")
    n = len(args)
    shape = [get_aval(x).shape[0] for x in args]
    if indexing == "xy" and n >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, x in enumerate(args):
        dim = i
        if indexing == "xy" and n >= 2 and i < 2:
            dim = 1 - i
        if sparse:
            s = [1] * n
            s[dim] = get_aval(x).shape[0]
            out.append(lax.reshape(x, tuple(s)))
        else:
            out.append(lax.broadcast_in_dim(x, tuple(shape), (dim,)))
    return out


def indices(dimensions, dtype=None, sparse: bool = False):
    """An array (or tuple, if ``sparse``) of index grids over ``dimensions``.

    Example:
      >>> fnp.indices((2, 3)).shape
      (2, 2, 3)
    """
    dims = tuple(_static_int(d, "indices dimension") for d in dimensions)
    dtype = dtypes.canonicalize_dtype(dtype or dtypes.default_int_dtype())
    out = []
    for i, d in enumerate(dims):
        if sparse:
            s = [1] * len(dims)
            s[i] = d
            out.append(lax.broadcasted_iota(dtype, tuple(s), i))
        else:
            out.append(lax.broadcasted_iota(dtype, dims, i))
    if sparse:
        return tuple(out)
    if not out:
        return C.zeros((0,), dtype)
    return C.stack(out)


def _slice_range(s: slice):
    """The 1-d array a grid slice stands for (a complex step is a point count)."""
    start = 0 if s.start is None else s.start
    step = 1 if s.step is None else s.step
    stop = s.stop
    if isinstance(step, complex):
        num = int(abs(step))
        return C.linspace(start, stop, num, endpoint=True)
    return C.arange(start, stop, step)


class _Grid:
    """``mgrid``/``ogrid``: index with slices to get dense or open grids."""

    def __init__(self, sparse: bool, name: str):
        self.sparse = sparse
        self.name = name

    def __getitem__(self, key):
        if isinstance(key, slice):
            return _slice_range(key)
        ranges = [_slice_range(k) for k in key]
        if not ranges:
            return C.zeros((0,), dtypes.default_int_dtype())
        dtype = dtypes.result_type(*ranges)
        ranges = [lax.convert_element_type(r, dtype) for r in ranges]
        grids = meshgrid(*ranges, indexing="ij", sparse=self.sparse)
        return grids if self.sparse else C.stack(grids)

    def __repr__(self):
        return f"fx.numpy.{self.name}"


mgrid = _Grid(False, "mgrid")
ogrid = _Grid(True, "ogrid")


class _Concatenator:
    """``r_``/``c_``: concatenate slices, scalars and arrays along an axis, with NumPy's
    optional leading directive string ``'axis,ndmin,trans1d'`` (or ``'r'``/``'c'``)."""

    def __init__(self, axis: int, ndmin: int, trans1d: int, name: str):
        self.axis, self.ndmin, self.trans1d, self.name = axis, ndmin, trans1d, name

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        axis, ndmin, trans1d = self.axis, self.ndmin, self.trans1d
        matrix = None
        parts = []
        for i, item in enumerate(key):
            if isinstance(item, str):
                if i != 0:
                    raise ValueError(f"fx.numpy.{self.name}: a directive string must come "
                                     f"first, got {item!r} at position {i}")
                if item in ("r", "c"):
                    matrix = item
                    continue
                vals = [int(v) for v in item.split(",")]
                axis = vals[0]
                if len(vals) > 1:
                    ndmin = vals[1]
                if len(vals) > 2:
                    trans1d = vals[2]
                continue
            if isinstance(item, slice):
                arr = _slice_range(item)
            else:
                arr = asarray(item)
            parts.append(self._promote_ndim(arr, ndmin, trans1d))
        if not parts:
            return C.zeros((0,), dtypes.default_float_dtype())
        from fx.numpy import concatenate
        out = concatenate(parts, axis=axis)
        if matrix is not None:
            out = C.atleast_2d(out)
            if matrix == "c":
                out = C.transpose(out)
        return out

    @staticmethod
    def _promote_ndim(arr, ndmin, trans1d):
        nd = get_aval(arr).ndim
        if nd >= ndmin:
            return arr
        shape = get_aval(arr).shape
        new = (1,) * (ndmin - nd) + shape
        out = lax.reshape(arr, new)
        if trans1d != -1 and nd > 0:
            # put the original axes starting at position trans1d
            trans1d = trans1d % ndmin
            orig = list(range(ndmin - nd, ndmin))
            rest = list(range(ndmin - nd))
            perm = rest[:trans1d] + orig + rest[trans1d:]
            inv = list(np.argsort(perm))
            out = lax.transpose(out, tuple(inv))
        return out

    def __len__(self):
        return 0

    def __repr__(self):
        return f"fx.numpy.{self.name}"


r_ = _Concatenator(0, 1, -1, "r_")
c_ = _Concatenator(-1, 2, 0, "c_")
s_ = np.s_
index_exp = np.index_exp


def ix_(*args):
    """Open-mesh index arrays: argument i gets shape ``(1, ..., n_i, ..., 1)``.

    Example:
      >>> [a.shape for a in fnp.ix_(fnp.array([0, 1]), fnp.array([2, 3, 4]))]
      [(2, 1), (1, 3)]
    """
    n = len(args)
    out = []
    for i, a in enumerate(args):
        a = asarray(a)
        aval = get_aval(a)
        if aval.ndim != 1:
            raise ValueError(f"fx.numpy.ix_: arguments must be 1-d, got shape {aval.shape} "
                             f"at position {i}")
        if aval.dtype == dtypes.bool_:
            from fx.numpy import nonzero
            (a,) = nonzero(a)
        elif not dtypes.is_integer(aval.dtype) and aval.shape[0]:
            raise TypeError(f"fx.numpy.ix_: index arrays must be integer or boolean, got "
                            f"dtype {aval.dtype.name} at position {i}")
        shape = [1] * n
        shape[i] = get_aval(a).shape[0]
        out.append(lax.reshape(a, tuple(shape)))
    return tuple(out)


# ---------------------------------------------------------------------------
# index helpers (static shapes, computed on the host)


def _int_array(values):
    return Array(np.asarray(values, dtype=dtypes.default_int_dtype()))


def tril_indices(n: int, k: int = 0, m: int | None = None):
    """Row and column indices of the lower triangle of an (n, m) matrix."""
    n, k = _static_int(n, "n"), _static_int(k, "k")
    m = n if m is None else _static_int(m, "m")
    return tuple(_int_array(i) for i in np.tril_indices(n, k, m))


def triu_indices(n: int, k: int = 0, m: int | None = None):
    """Row and column indices of the upper triangle of an (n, m) matrix."""
    n, k = _static_int(n, "n"), _static_int(k, "k")
    m = n if m is None else _static_int(m, "m")
    return tuple(_int_array(i) for i in np.triu_indices(n, k, m))


def _shape_2d(name, arr):
    shape = get_aval(arr).shape if isinstance(arr, (Array, Tracer)) else np.shape(arr)
    if len(shape) != 2:
        raise ValueError(f"fx.numpy.{name}: input must be 2-d, got shape {shape}")
    return shape


def tril_indices_from(arr, k: int = 0):
    """``tril_indices`` for the shape of 2-d ``arr``."""
    n, m = _shape_2d("tril_indices_from", arr)
    return tril_indices(n, k, m)


def triu_indices_from(arr, k: int = 0):
    """``triu_indices`` for the shape of 2-d ``arr``."""
    n, m = _shape_2d("triu_indices_from", arr)
    return triu_indices(n, k, m)


def diag_indices(n: int, ndim: int = 2):
    """Indices of the main diagonal of an ``ndim``-d array of side ``n``."""
    n, ndim = _static_int(n, "n"), _static_int(ndim, "ndim")
    if n < 0 or ndim < 0:
        raise ValueError(f"fx.numpy.diag_indices: n and ndim must be non-negative, got "
                         f"{n} and {ndim}")
    return (_int_array(np.arange(n)),) * ndim


def diag_indices_from(arr):
    """``diag_indices`` for ``arr``, whose sides must all be equal."""
    shape = get_aval(arr).shape if isinstance(arr, (Array, Tracer)) else np.shape(arr)
    if len(shape) < 2 or len(set(shape)) != 1:
        raise ValueError(f"fx.numpy.diag_indices_from: input must be at least 2-d with all "
                         f"sides equal, got shape {shape}")
    return diag_indices(shape[0], len(shape))


def mask_indices(n: int, mask_func, k: int = 0, *, size: int | None = None):
    """Indices where ``mask_func(ones((n, n)), k)`` is nonzero (e.g. ``fnp.triu``)."""
    n = _static_int(n, "n")
    mask = mask_func(C.ones((n, n), dtypes.int32), k)
    from fx.numpy import nonzero
    return nonzero(mask, size=size)


# ---------------------------------------------------------------------------
# functions and buffers


def fromfunction(function, shape, *, dtype=float, **kwargs):
    """``function`` evaluated at every index of ``shape`` (it is vmapped, so it may be
    written for scalar indices).

    Example:
      >>> fnp.fromfunction(lambda i, j: i + j, (2, 2))
      Array([[0., 1.],
             [1., 2.]], dtype=float32)
    """
    from fx.api import vmap
    shape = tuple(_static_int(d, "fromfunction shape") for d in shape)
    dtype = dtypes.canonicalize_dtype(dtype)
    fn = lambda *idx: function(*idx, **kwargs)  # noqa: E731
    for i in range(len(shape)):
        fn = vmap(fn, in_axes=tuple(0 if j == len(shape) - 1 - i else None
                                    for j in range(len(shape))))
    args = [lax.iota(dtype, d) for d in shape]
    return fn(*args)


def frombuffer(buffer, dtype=float, count: int = -1, offset: int = 0):
    """A 1-d array from the bytes of ``buffer``.

    Example:
      >>> fnp.frombuffer(b"\\x01\\x02", dtype=fnp.uint8)
      Array([1, 2], dtype=uint8)
    """
    return asarray(np.frombuffer(buffer, dtype=np.dtype(dtype), count=count, offset=offset))


def fromstring(string, dtype=float, count: int = -1, *, sep: str):
    """A 1-d array from ``sep``-separated text."""
    return asarray(np.fromstring(string, dtype=np.dtype(dtype), count=count, sep=sep))


def fromfile(*args, **kwargs):
    """Not provided (reading files is impure); use ``fnp.asarray(np.fromfile(...))``."""
    raise NotImplementedError(
        "fx.numpy.fromfile() is not implemented because it may be non-pure and thus unsafe "
        "for use with jit and other transformations; use fx.numpy.asarray(np.fromfile(...)) "
        "outside of transformed functions instead.")


def fromiter(*args, **kwargs):
    """Not provided (iterators are impure); use ``fnp.asarray(np.fromiter(...))``."""
    raise NotImplementedError(
        "fx.numpy.fromiter() is not implemented because it may be non-pure and thus unsafe "
        "for use with jit and other transformations; use fx.numpy.asarray(np.fromiter(...)) "
        "outside of transformed functions instead.")


def copy(a, order=None):
    """A copy of ``a`` (a ``copy`` equation when traced).

    Example:
      >>> fnp.copy(fnp.arange(3))
      Array([0, 1, 2], dtype=int32)
    """
    a = asarray(a)
    return P.copy_p.bind(a)


def load(file, *args, **kwargs):
    """``np.load`` returning an fx array (arrays inside an ``.npz`` stay NumPy)."""
    out = np.load(file, *args, **kwargs)
    if isinstance(out, np.ndarray) and out.dtype != object:
        return asarray(out)
    return out


save = np.save
savez = np.savez


# ---------------------------------------------------------------------------
# matrices and windows


def vander(x, N: int | None = None, increasing: bool = False):
    """The Vandermonde matrix of 1-d ``x``: column j is ``x ** (N - 1 - j)`` (or
    ``x ** j`` if ``increasing``).

    Example:
      >>> fnp.vander(fnp.array([1, 2, 3]), 3)
      Array([[1, 1, 1],
             [4, 2, 1],
             [9, 3, 1]], dtype=int32)
    """
    x = asarray(x)
    if get_aval(x).ndim != 1:
        raise ValueError(f"fx.numpy.vander: x must be 1-d, got shape {get_aval(x).shape}")
    n = get_aval(x).shape[0] if N is None else _static_int(N, "vander N")
    if n < 0:
        raise ValueError(f"fx.numpy.vander: N must be non-negative, got {n}")
    (x,) = C._promote(x)
    powers = [C.power(x, p) for p in (range(n) if increasing else range(n - 1, -1, -1))]
    if not powers:
        return C.zeros((get_aval(x).shape[0], 0), _dtype(x))
    return C.stack(powers, axis=1)


def _window_ramp(M):
    M = _static_int(M, "window length M")
    dtype = dtypes.default_float_dtype()
    return M, dtype, lax.iota(dtype, builtins.max(M, 0))


def bartlett(M: int):
    """The Bartlett (triangular) window of length ``M``."""
    M, dtype, n = _window_ramp(M)
    if M <= 1:
        return C.ones((M,), dtype)
    half = np.array((M - 1) / 2.0, dtype)[()]
    return lax.sub(np.array(1, dtype)[()], lax.abs(lax.div(lax.sub(n, half), half)))


def _cosine_window(M, coeffs):
    M, dtype, n = _window_ramp(M)
    if M <= 1:
        return C.ones((M,), dtype)
    out = lax.full((M,), coeffs[0], dtype)
    for k, c in enumerate(coeffs[1:], start=1):
        arg = lax.mul(n, np.array(2 * np.pi * k / (M - 1), dtype)[()])
        out = lax.add(out, lax.mul(lax.cos(arg), np.array(c, dtype)[()]))
    return out


def blackman(M: int):
    """The Blackman window of length ``M``."""
    return _cosine_window(M, (0.42, -0.5, 0.08))


def hamming(M: int):
    """The Hamming window of length ``M``."""
    return _cosine_window(M, (0.54, -0.46))


def hanning(M: int):
    """The Hann window of length ``M``."""
    return _cosine_window(M, (0.5, -0.5))


def kaiser(M: int, beta):
    """The Kaiser window of length ``M`` with shape parameter ``beta`` (may be traced).

    Example:
      >>> fnp.kaiser(3, 0.0)
      Array([1., 1., 1.], dtype=float32)
    """
    from fx.numpy._math import i0
    M, dtype, n = _window_ramp(M)
    if M <= 1:
        return C.ones((M,), dtype)
    beta = lax.convert_element_type(asarray(beta), dtype)
    alpha = (M - 1) / 2.0
    r = lax.div(lax.sub(n, np.array(alpha, dtype)[()]), np.array(alpha, dtype)[()])
    arg = C.multiply(beta, C.sqrt(C.clip(lax.sub(np.array(1, dtype)[()], lax.mul(r, r)),
                                         0, None)))
    return C.true_divide(i0(arg), i0(beta))


def atleast_3d(*arys):
    """Each input viewed with at least three dimensions (1-d ``(n,)`` becomes
    ``(1, n, 1)``, 2-d ``(m, n)`` becomes ``(m, n, 1)``)."""
    out = []
    for a in arys:
        a = asarray(a)
        shape = get_aval(a).shape
        if len(shape) == 0:
            a = lax.reshape(a, (1, 1, 1))
        elif len(shape) == 1:
            a = lax.reshape(a, (1, shape[0], 1))
        elif len(shape) == 2:
            a = lax.reshape(a, shape + (1,))
        out.append(a)
    return out[0] if len(out) == 1 else out

