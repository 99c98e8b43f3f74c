"""``fx.scipy.linalg``, continued: special matrices (toeplitz, hankel, circulant,
leslie, companion, fiedler, fiedler_companion, convolution_matrix, hilbert,
invhilbert, pascal, invpascal, helmert, hadamard, dft), condensed forms
(hessenberg, schur, rsf2csf), matrix functions (sqrtm, funm, polar) and
solve_sylvester. (qr_multiply, expm_frechet and eigh_tridiagonal live next to
qr, expm and eigh in fx/scipy/linalg.py.)

Invariants: semantics, dtypes and errors are JAX 0.10's: constructors from
vectors broadcast over leading (batch) axes and keep the input dtype unless JAX
promotes; constructors from a static size ``n`` compute exact values in NumPy and
return the dtype JAX returns. Functions built on ``schur`` (sqrtm, funm,
solve_sylvester with method "schur") run on the host and, as in JAX, have no
derivative; the rest are differentiable through fx's primitives.
"""
from __future__ import annotations

import math
import operator
from typing import Callable

import numpy as np

import fx.numpy as fnp
from fx import dtypes
from fx.lax import linalg as lax_linalg
from fx.numpy import linalg as np_linalg
from fx.numpy._linalg_norms import _H, _check_arraylike, _inexact, _square

__all__ = ["circulant", "companion", "convolution_matrix", "dft", "fiedler", "fiedler_companion",
           "funm", "hadamard", "hankel", "helmert", "hessenberg", "hilbert", "invhilbert",
           "invpascal", "leslie", "pascal", "polar", "rsf2csf", "schur", "solve_sylvester",
           "sqrtm", "toeplitz"]


def _vector(name: str, x):
    """``x`` as an fx array of rank >= 1 (scalars become length-1 vectors)."""
    _check_arraylike(f"scipy.linalg.{name}", x)
    return fnp.atleast_1d(fnp.asarray(x))


def _index_grid(rows: int, cols: int):
    return np.arange(rows)[:, None], np.arange(cols)[None, :]


def _broadcast_batch(*xs):
    """Broadcast the leading (batch) axes of vectors ``[..., k]`` to a common shape."""
    batch = fnp.broadcast_shapes(*(x.shape[:-1] for x in xs))
    return [fnp.broadcast_to(x, batch + x.shape[-1:]) for x in xs]


def _static_size(name: str, n) -> int:
    try:
        return operator.index(n)
    except TypeError:
        raise TypeError(f"scipy.linalg.{name}: n must be a static Python int, got "
                        f"{n!r}") from None


# ---------------------------------------------------------------------------
# special matrices built from vectors


def toeplitz(c, r=None):
    """A Toeplitz matrix: constant diagonals, first column ``c`` and first row ``r``.

    Args:
      c: ``[..., N]`` first column.
      r: ``[..., M]`` first row (``r[..., 0]`` is ignored); default ``conj(c)``.

    Returns:
      ``[..., N, M]`` with ``A[i, j] = c[i - j]`` for ``i >= j`` and ``r[j - i]`` otherwise.

    Example:
      >>> toeplitz(fx.numpy.array([1, 2, 3]))   # [[1, 2, 3], [2, 1, 2], [3, 2, 1]]
    """
    c = _vector("toeplitz", c)
    r = fnp.conj(c) if r is None else _vector("toeplitz", r)
    c, r = fnp._core._promote(c, r)
    c, r = _broadcast_batch(c, r)
    n, m = c.shape[-1], r.shape[-1]
    if n == 0 or m == 0:
        return fnp.zeros(c.shape[:-1] + (n, m), c.dtype)
    values = fnp.concatenate([fnp.flip(c, axis=-1), r[..., 1:]], axis=-1)
    i, j = _index_grid(n, m)
    return fnp.take(values, (n - 1) - i + j, axis=-1)


def hankel(c, r=None):
    """A Hankel matrix: constant anti-diagonals, first column ``c`` and last row ``r``.

    Args:
      c: ``[..., N]`` first column.
      r: ``[..., M]`` last row (``r[..., 0]`` is ignored); default zeros.

    Returns:
      ``[..., N, M]`` with ``H[i, j] = v[i + j]``, ``v = concatenate([c, r[1:]])``.

    Example:
      >>> hankel(fx.numpy.array([1, 2, 3]))   # [[1, 2, 3], [2, 3, 0], [3, 0, 0]]
    """
    _check_arraylike("scipy.linalg.hankel", c, *(() if r is None else (r,)))
    c = fnp.asarray(c)
    r = fnp.zeros_like(c) if r is None else fnp.asarray(r)
    for what, v in (("c", c), ("r", r)):
        if v.ndim == 0:
            raise ValueError(f"scipy.linalg.hankel: {what} must be at least 1-dimensional, "
                             "got a scalar")
    c, r = _broadcast_batch(*fnp._core._promote(c, r))
    n, m = c.shape[-1], r.shape[-1]
    if n == 0 or m == 0:
        return fnp.zeros(c.shape[:-1] + (n, m), c.dtype)
    values = fnp.concatenate([c, r[..., 1:]], axis=-1)
    i, j = _index_grid(n, m)
    return fnp.take(values, i + j, axis=-1)


def circulant(c):
    """A circulant matrix: ``A[i, j] = c[(i - j) % N]``.

    Args:
      c: ``[..., N]`` first column.

    Returns:
      ``[..., N, N]``.

    Example:
      >>> circulant(fx.numpy.array([1, 2, 3]))   # [[1, 3, 2], [2, 1, 3], [3, 2, 1]]
    """
    c = _vector("circulant", c)
    n = c.shape[-1]
    i, j = _index_grid(n, n)
    return fnp.take(c, (i - j) % max(n, 1), axis=-1)


def leslie(f, s):
    """A Leslie matrix: fecundities ``f`` in the first row, survivals ``s`` below the
    diagonal.

    Args:
      f: ``[..., N]`` with ``N >= 2``.
      s: ``[..., N - 1]``.

    Returns:
      ``[..., N, N]``.

    Example:
      >>> leslie(fx.numpy.array([0.1, 2.]), fx.numpy.array([0.2]))   # [[.1, 2], [.2, 0]]
    """
    _check_arraylike("scipy.linalg.leslie", f, s)
    f, s = fnp.atleast_1d(f), fnp.atleast_1d(s)
    if f.shape[-1] < 2:
        raise ValueError(f"scipy.linalg.leslie: the length of f along the last axis must be "
                         f"at least 2; got shape {f.shape}")
    if s.shape[-1] != f.shape[-1] - 1:
        raise ValueError(f"scipy.linalg.leslie: the length of s along the last axis must be "
                         f"one less than that of f; got f shape {f.shape} and s shape "
                         f"{s.shape}")
    f, s = fnp._core._promote(f, s)
    n = f.shape[-1]
    i, j = _index_grid(n, n)
    below = fnp.pad(s, [(0, 0)] * (s.ndim - 1) + [(0, 1)])[..., None, :]
    return fnp.where(i == 0, f[..., None, :],
                     fnp.where(i == j + 1, below, fnp.zeros((), f.dtype)))


def companion(a):
    """The companion matrix of the polynomial with coefficients ``a`` (highest first).

    Args:
      a: ``[..., N]`` with ``N >= 2`` (``a[..., 0]`` nonzero; not checked, as in JAX).

    Returns:
      ``[..., N - 1, N - 1]``: first row ``-a[1:] / a[0]``, ones below the diagonal.

    Example:
      >>> companion(fx.numpy.array([1., -10., 31., -30.]))   # first row [10, -31, 30]
    """
    _check_arraylike("scipy.linalg.companion", a)
    a = fnp.atleast_1d(_inexact("scipy.linalg.companion", a))
    if a.shape[-1] < 2:
        raise ValueError(f"scipy.linalg.companion: the length of a along the last axis must "
                         f"be at least 2; got shape {a.shape}")
    first = -a[..., 1:] / a[..., :1]
    m = a.shape[-1] - 1
    i, j = _index_grid(m, m)
    return fnp.where(i == 0, first[..., None, :], fnp.asarray(i == j + 1, a.dtype))


def fiedler(a):
    """The symmetric Fiedler matrix ``F[i, j] = |a[i] - a[j]|``.

    Args:
      a: ``[..., N]``.

    Returns:
      ``[..., N, N]`` with a zero diagonal.

    Example:
      >>> fiedler(fx.numpy.array([1, 4, 12]))   # [[0, 3, 11], [3, 0, 8], [11, 8, 0]]
    """
    a = _vector("fiedler", a)
    return fnp.abs(a[..., :, None] - a[..., None, :])


def fiedler_companion(a):
    """The Fiedler companion matrix: pentadiagonal, with the polynomial's roots as
    eigenvalues.

    Args:
      a: ``[..., N]`` polynomial coefficients, highest first (``N >= 1``).

    Returns:
      ``[..., N - 1, N - 1]``.

    Example:
      >>> fiedler_companion(fx.numpy.array([1., -16., 86., -176., 105.]))
    """
    _check_arraylike("scipy.linalg.fiedler_companion", a)
    a = fnp.atleast_1d(_inexact("scipy.linalg.fiedler_companion", a))
    if a.shape[-1] == 0:
        raise ValueError(f"scipy.linalg.fiedler_companion: the last axis of a must have "
                         f"nonzero length; got shape {a.shape}")
    n = a.shape[-1] - 1
    batch = a.shape[:-1]
    if n == 0:
        return fnp.zeros(batch + (0, 0), a.dtype)
    a = a / a[..., :1]
    if n == 1:
        return -a[..., 1:, None]
    i, j = _index_grid(n, n)
    even, odd = i % 2 == 0, i % 2 == 1
    above = -fnp.take(a, np.minimum(i + 2, n), axis=-1)   # row i: -a[i + 2]
    below = -fnp.take(a, np.minimum(i + 1, n), axis=-1)   # row i: -a[i + 1]
    one, zero = fnp.ones((), a.dtype), fnp.zeros((), a.dtype)
    conditions = [(i == 0) & (j == 0), (i == 1) & (j == 0), (j == i + 1) & even,
                  (j == i + 2) & even, (j == i - 1) & even & (i >= 2),
                  (j == i - 2) & odd & (i >= 3)]
    choices = [-a[..., 1:2, None], one, above, one, below, one]
    shape = batch + (n, n)
    return fnp.select([np.broadcast_to(cnd, (n, n)) for cnd in conditions],
                      [fnp.broadcast_to(ch, shape) for ch in choices], zero)


def convolution_matrix(a, n: int, mode: str = "full"):
    """The Toeplitz matrix ``A`` with ``A @ v == convolve(a, v, mode)``.

    Args:
      a: ``[..., m]`` with ``m >= 1``.
      n: the number of columns (a positive static int).
      mode: ``"full"`` (``m + n - 1`` rows), ``"same"`` (``max(m, n)``) or ``"valid"``
        (``max(m, n) - min(m, n) + 1``).

    Returns:
      ``[..., k, n]``.

    Example:
      >>> convolution_matrix(fx.numpy.array([1, 2]), 3).shape   # (4, 3)
    """
    n = _static_size("convolution_matrix", n)
    if n <= 0:
        raise ValueError(f"scipy.linalg.convolution_matrix: n must be a positive integer; "
                         f"got {n}")
    _check_arraylike("scipy.linalg.convolution_matrix", a)
    a = fnp.asarray(a)
    if a.ndim == 0:
        raise ValueError("scipy.linalg.convolution_matrix: a must be at least 1-dimensional, "
                         "got a scalar")
    m = a.shape[-1]
    if m < 1:
        raise ValueError(f"scipy.linalg.convolution_matrix: len(a) must be at least 1; got "
                         f"shape {a.shape}")
    if mode not in ("full", "valid", "same"):
        raise ValueError(f"scipy.linalg.convolution_matrix: mode must be one of 'full', "
                         f"'valid', 'same'; got {mode!r}")
    pad = [(0, 0)] * (a.ndim - 1) + [(0, n - 1)]
    forward, backward = fnp.pad(a, pad), fnp.pad(fnp.flip(a, axis=-1), pad)
    total = m + n - 1
    if mode == "same":
        trim = min(n, m) - 1
        head, tail = trim // 2, trim - trim // 2
    elif mode == "valid":
        head = tail = min(n, m) - 1
    else:
        head = tail = 0
    return toeplitz(forward[..., head:total - tail], backward[..., total - n - head:total - head])


# ---------------------------------------------------------------------------
# special matrices of a static size


def hilbert(n: int):
    """The Hilbert matrix ``H[i, j] = 1 / (i + j + 1)`` (default float dtype).

    Example:
      >>> hilbert(2)   # [[1, .5], [.5, .333]]
    """
    n = _static_size("hilbert", n)
    i, j = _index_grid(n, n)
    return fnp.asarray(1.0 / (i + j + 1), dtypes.default_float_dtype())


def invhilbert(n: int):
    """The inverse of the order-``n`` Hilbert matrix (exact entries, then rounded to the
    default float dtype).

    Example:
      >>> invhilbert(2)   # [[4, -6], [-6, 12]]
    """
    n = _static_size("invhilbert", n)
    out = np.empty((n, n), object)
    for i in range(n):
        for j in range(n):
            s = i + j
            out[i, j] = ((-1) ** s * (s + 1) * math.comb(n + i, n - j - 1)
                         * math.comb(n + j, n - i - 1) * math.comb(s, i) ** 2)
    return fnp.asarray(out.astype(np.float64), dtypes.default_float_dtype())


def _lower_pascal(n: int) -> np.ndarray:
    return np.array([[math.comb(i, j) for j in range(n)] for i in range(n)],
                    np.float64).reshape(n, n)


def _pascal_kind(name: str, kind) -> str:
    kind = "symmetric" if kind is None else kind
    if kind not in ("symmetric", "lower", "upper"):
        raise ValueError(f"scipy.linalg.{name}: kind must be one of 'symmetric', 'lower', "
                         f"'upper'; got {kind!r}")
    return kind


def pascal(n: int, kind: str | None = None):
    """The Pascal matrix of binomial coefficients (float32, as in JAX).

    Args:
      n: the order.
      kind: ``"symmetric"`` (default), ``"lower"`` or ``"upper"``.

    Example:
      >>> pascal(3)   # [[1, 1, 1], [1, 2, 3], [1, 3, 6]]
    """
    n = _static_size("pascal", n)
    kind = _pascal_kind("pascal", kind)
    lower = _lower_pascal(n)
    out = {"lower": lower, "upper": lower.T, "symmetric": lower @ lower.T}[kind]
    return fnp.asarray(out, np.float32)


def invpascal(n: int, kind: str | None = None):
    """The inverse of the Pascal matrix (default float dtype).

    Args:
      n: the order.
      kind: ``"symmetric"`` (default), ``"lower"`` or ``"upper"``.

    Example:
      >>> invpascal(3, kind="lower")   # [[1, 0, 0], [-1, 1, 0], [1, -2, 1]]
    """
    n = _static_size("invpascal", n)
    kind = _pascal_kind("invpascal", kind)
    i, j = _index_grid(n, n)
    lower = _lower_pascal(n) * np.where((i - j) % 2 == 0, 1.0, -1.0)
    out = {"lower": lower, "upper": lower.T, "symmetric": lower.T @ lower}[kind]
    return fnp.asarray(out, dtypes.default_float_dtype())


def helmert(n: int, full: bool = False):
    """The Helmert matrix of orthonormal contrasts (default float dtype).

    Args:
      n: a positive size.
      full: prepend the row ``1 / sqrt(n)`` to get ``(n, n)``; else ``(n - 1, n)``.

    Example:
      >>> helmert(2, full=True)   # [[.707, .707], [.707, -.707]]
    """
    n = _static_size("helmert", n)
    if n < 1:
        raise ValueError(f"scipy.linalg.helmert: n must be a positive integer; got {n}")
    i, j = _index_grid(n - 1, n)
    k = i + 1.0
    denom = np.sqrt(k * (k + 1))
    out = np.where(j <= i, 1.0 / denom, np.where(j == k, -k / denom, 0.0))
    if full:
        out = np.concatenate([np.full((1, n), 1 / np.sqrt(n)), out], axis=0)
    return fnp.asarray(out, dtypes.default_float_dtype())


def hadamard(n: int, dtype=int):
    """The ``n x n`` Hadamard matrix (Sylvester's construction), ``n`` a power of 2.

    Example:
      >>> hadamard(2)   # [[1, 1], [1, -1]]
    """
    n = _static_size("hadamard", n)
    if n < 1 or n & (n - 1):
        raise ValueError(f"scipy.linalg.hadamard: n must be a positive power of 2; got {n}")
    out = np.ones((1, 1))
    while out.shape[0] < n:
        out = np.block([[out, out], [out, -out]])
    return fnp.asarray(out, dtypes.canonicalize_dtype(dtype))


def dft(n: int, scale: str | None = None, *, dtype=None):
    """The discrete Fourier transform matrix ``W[i, j] = exp(-2 pi i j / n)``.

    Args:
      n: the size.
      scale: None, ``"sqrtn"`` (divide by ``sqrt(n)``) or ``"n"`` (divide by ``n``).
      dtype: a complex dtype (default: the default complex dtype).

    Example:
      >>> dft(2)   # [[1, 1], [1, -1]]
    """
    n = _static_size("dft", n)
    if scale is not None and scale not in ("sqrtn", "n"):
        raise ValueError(f"scipy.linalg.dft: scale must be None, 'sqrtn', or 'n'; got "
                         f"{scale!r}")
    if dtype is None:
        dtype = dtypes.default_complex_dtype()
    else:
        dtype = dtypes.canonicalize_dtype(dtype)
        if dtype.kind != "c":
            raise ValueError(f"scipy.linalg.dft: dtype must be a complex floating-point type; "
                             f"got {dtype}")
    i, j = _index_grid(n, n)
    out = np.exp(-2j * np.pi * ((i * j) % max(n, 1)) / max(n, 1))
    out = out / {None: 1, "sqrtn": np.sqrt(n), "n": n}[scale] if n else out
    return fnp.asarray(out, dtype)


# ---------------------------------------------------------------------------
# condensed forms


def hessenberg(a, *, calc_q: bool = False, overwrite_a: bool = False,
               check_finite: bool = True):
    """The Hessenberg form ``H`` of square matrices: ``a == Q H Q^H`` (on the host).

    Args:
      a: ``[..., N, N]`` floating or complex.
      calc_q: also return the unitary ``Q``.
      overwrite_a, check_finite: ignored.

    Returns:
      ``H`` (zero below the first subdiagonal), or ``(H, Q)``.

    Example:
      >>> h, q = hessenberg(fx.numpy.ones((3, 3)), calc_q=True)
    """
    _check_arraylike("scipy.linalg.hessenberg", a)
    a = fnp.asarray(a)
    _square("scipy.linalg.hessenberg", a)
    n = a.shape[-1]
    if n == 0:
        return (fnp.zeros_like(a), fnp.zeros_like(a)) if calc_q else fnp.zeros_like(a)
    packed, taus = lax_linalg.hessenberg(a)
    h = fnp.triu(packed, -1)
    if not calc_q:
        return h
    inner = lax_linalg.householder_product(packed[..., 1:, :-1], taus)
    batch = a.shape[:-2]
    q = fnp.pad(inner, [(0, 0)] * len(batch) + [(1, 0), (1, 0)])
    corner = np.zeros((n, n), bool)
    corner[0, 0] = True
    return h, fnp.where(corner, fnp.ones((), a.dtype), q)


def schur(a, output: str = "real"):
    """Schur decomposition ``a == Z T Z^H`` (on the host).

    Args:
      a: ``[..., N, N]``.
      output: ``"real"`` (quasi-upper-triangular ``T`` for real input) or ``"complex"``
        (upper-triangular ``T``; the input is converted to complex).

    Returns:
      ``(T, Z)``.

    Example:
      >>> t, z = schur(fx.numpy.array([[1., 2.], [3., 4.]]))
    """
    if output not in ("real", "complex"):
        raise ValueError(f"scipy.linalg.schur: expected 'output' to be either 'real' or "
                         f"'complex', got output={output!r}")
    _check_arraylike("scipy.linalg.schur", a)
    a = fnp.asarray(a)
    if output == "complex":
        a = a.astype(_complex_of(a.dtype))
    t, z = lax_linalg.schur(a)
    return t, z


def _complex_of(dtype) -> np.dtype:
    if dtype.kind == "c":
        return dtype
    wide = dtype == np.float64 or (dtype.kind in "iu" and dtypes.default_float_dtype()
                                   == np.float64)
    return np.dtype(np.complex128 if wide else np.complex64)


def _entry(x, i: int, j: int):
    return x[..., i, j]


def rsf2csf(T, Z, check_finite: bool = True):
    """Convert a real Schur form ``(T, Z)`` to the complex one (upper-triangular ``T``).

    Args:
      T: ``[..., N, N]`` real Schur form.
      Z: ``[..., N, N]`` Schur vectors (batch axes broadcast with ``T``'s).
      check_finite: ignored.

    Returns:
      ``(T, Z)`` complex, with ``Z T Z^H`` unchanged.

    Example:
      >>> t, z = rsf2csf(*schur(fx.numpy.array([[0., -1.], [1., 0.]])))   # t diagonal ±i
    """
    _check_arraylike("scipy.linalg.rsf2csf", T, Z)
    T, Z = fnp._core._promote(fnp.asarray(T), fnp.asarray(Z))
    for what, x in (("T", T), ("Z", Z)):
        if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
            raise ValueError(f"scipy.linalg.rsf2csf: input {what!r} must be square, got "
                             f"shape {x.shape}")
    if T.shape[-1] != Z.shape[-1]:
        raise ValueError(f"scipy.linalg.rsf2csf: input array shapes must match: Z: {Z.shape} "
                         f"vs. T: {T.shape}")
    dtype = _complex_of(T.dtype)
    batch = fnp.broadcast_shapes(T.shape[:-2], Z.shape[:-2])
    n = T.shape[-1]
    T = fnp.broadcast_to(T.astype(dtype), batch + (n, n))
    Z = fnp.broadcast_to(Z.astype(dtype), batch + (n, n))
    eps = float(np.finfo(dtype).eps)
    rows = np.arange(n)
    for m in range(n - 1, 0, -1):
        sub = _entry(T, m, m - 1)
        split = fnp.abs(sub) > eps * (fnp.abs(_entry(T, m - 1, m - 1)) + fnp.abs(_entry(T, m, m)))
        # the eigenvalues of the 2x2 block, shifted by T[m, m]; take the one with the larger
        # imaginary part first, as LAPACK orders a conjugate pair
        p, q = _entry(T, m - 1, m - 1), _entry(T, m, m)
        half = (p - q) / 2
        root = fnp.sqrt(half * half + _entry(T, m - 1, m) * sub)
        plus, minus = half + root, half - root
        mu = fnp.where(fnp.imag(plus) >= fnp.imag(minus), plus, minus)
        radius = fnp.sqrt(fnp.abs(mu) ** 2 + fnp.abs(sub) ** 2).astype(dtype)
        radius = fnp.where(radius == 0, fnp.ones_like(radius), radius)
        c, s = mu / radius, sub / radius
        g = fnp.stack([fnp.stack([fnp.conj(c), s], -1), fnp.stack([-s, c], -1)], -2)
        g_h = fnp.conj(fnp.swapaxes(g, -1, -2))
        pair = slice(m - 1, m + 1)
        rotated_rows = fnp.where(rows >= m - 1, g @ T[..., pair, :], T[..., pair, :])
        new_t = T.at[..., pair, :].set(rotated_rows)
        rotated_cols = fnp.where((rows < m + 1)[:, None], new_t[..., :, pair] @ g_h,
                                 new_t[..., :, pair])
        new_t = new_t.at[..., :, pair].set(rotated_cols)
        new_z = Z.at[..., :, pair].set(Z[..., :, pair] @ g_h)
        flag = split[..., None, None]
        T = fnp.where(flag, new_t, T).at[..., m, m - 1].set(0)
        Z = fnp.where(flag, new_z, Z)
    return T, Z


# ---------------------------------------------------------------------------
# matrix functions on the triangular Schur factor


def _upper_sweep(t, diagonal, entry):
    """Fill an upper-triangular ``F`` one superdiagonal at a time: ``F``'s diagonal is
    ``diagonal``; ``entry(F, p)`` returns the values for superdiagonal ``p`` (in place of
    zeros) given every superdiagonal below ``p``."""
    n = t.shape[-1]
    f = diagonal[..., :, None] * fnp.eye(n, dtype=t.dtype)
    for p in range(1, n):
        on_p = np.eye(n, k=p, dtype=bool)
        f = fnp.where(on_p, entry(f, p), f)
    return f


def _sqrt_upper(t):
    """The upper-triangular square root of an upper-triangular ``t`` (Björck and
    Hammarling, 1983)."""
    root = fnp.sqrt(fnp.diagonal(t, axis1=-2, axis2=-1))
    sums = root[..., :, None] + root[..., None, :]
    one = fnp.ones((), t.dtype)

    def entry(u, p):
        strict = fnp.triu(u, 1)
        known = strict @ strict   # sum over i < k < j of U[i, k] U[k, j]
        settled = t == known   # (where the quotient is not used, divide by one)
        return fnp.where(settled, fnp.zeros((), t.dtype),
                         (t - known) / fnp.where(settled, one, sums))

    return _upper_sweep(t, root, entry)


def sqrtm(A, blocksize: int = 1):
    """The principal matrix square root, by the complex Schur method (on the host).

    Args:
      A: ``[..., N, N]``.
      blocksize: only 1 is supported (as in JAX).

    Returns:
      The complex square root ``X`` with ``X @ X == A``.

    Example:
      >>> sqrtm(fx.numpy.array([[4., 0.], [0., 9.]]))   # [[2, 0], [0, 3]] (complex)
    """
    if blocksize > 1:
        raise NotImplementedError("scipy.linalg.sqrtm: the blocked version (blocksize > 1) "
                                  "is not implemented")
    A = _inexact("scipy.linalg.sqrtm", A)
    _square("scipy.linalg.sqrtm", A)
    t, z = schur(A, output="complex")
    return z @ _sqrt_upper(t) @ _H(z)


def _parlett(f_diag, t):
    """Parlett's recurrence (Golub and Van Loan, Algorithm 11.1.1) for ``F = f(T)`` with
    ``T`` upper triangular; also the smallest diagonal gap it divided by."""
    n = t.shape[-1]
    d = fnp.diagonal(t, axis1=-2, axis2=-1)
    gaps = d[..., None, :] - d[..., :, None]   # T[j, j] - T[i, i]
    strict_t = fnp.triu(t, 1)
    safe_gaps = fnp.where(gaps != 0, gaps, fnp.ones((), gaps.dtype))

    def entry(f, p):
        f_ii = fnp.diagonal(f, axis1=-2, axis2=-1)[..., :, None]
        s = strict_t @ f - fnp.triu(f, 1) @ t - t * f_ii
        return fnp.where(gaps != 0, s / safe_gaps, s)

    f = _upper_sweep(t, f_diag, entry)
    upper = np.triu(np.ones((n, n), bool), 1)
    smallest = fnp.min(fnp.where(upper, fnp.abs(gaps), np.inf), axis=(-2, -1))
    return f, fnp.minimum(fnp.abs(d[..., 0]), smallest)


def funm(A, func: Callable, disp: bool = True):
    """Evaluate a matrix function through the Schur form (Parlett's recurrence).

    Args:
      A: ``[N, N]``.
      func: a scalar function, applied elementwise to the eigenvalues.
      disp: return only the result; if False also return an error estimate.

    Returns:
      ``F`` (complex), or ``(F, err)``.

    Example:
      >>> funm(fx.numpy.array([[1., 2.], [3., 4.]]), fx.numpy.exp)   # close to expm
    """
    A = fnp.asarray(A)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"scipy.linalg.funm: expected square array_like input, got shape "
                         f"{A.shape}")
    t, z = rsf2csf(*schur(A))
    values = fnp.asarray(func(fnp.diagonal(t))).astype(t.dtype)
    f, smallest = _parlett(values, t)
    f = z @ f @ _H(z)
    if disp:
        return f
    tol = float(np.finfo(f.dtype).eps)
    smallest = fnp.where(smallest == 0, tol, smallest)
    estimate = fnp.minimum(1, fnp.maximum(tol, (tol / smallest)
                                          * np_linalg.norm(fnp.triu(t, 1), 1)))
    return f, fnp.where(fnp.any(fnp.isinf(f)), np.inf, estimate)


def polar(a, side: str = "right", *, method: str = "qdwh", eps: float | None = None,
          max_iterations: int | None = None):
    """Polar decomposition: ``a == u @ p`` (``side="right"``) or ``a == p @ u``.

    Args:
      a: ``[..., m, n]``.
      side: ``"right"`` (``p`` is ``[n, n]``) or ``"left"`` (``p`` is ``[m, m]``).
      method: ``"qdwh"`` (``m >= n`` with side right, ``m < n`` with side left) or
        ``"svd"`` (any shape; differentiable).
      eps, max_iterations: for QDWH.

    Returns:
      ``(u, p)``: ``u`` with orthonormal columns (rows if ``n > m``), ``p`` positive
      semidefinite.

    Example:
      >>> u, p = polar(fx.numpy.array([[2., 0.], [0., 3.]]))   # u == I, p == a
    """
    _check_arraylike("scipy.linalg.polar", a)
    a = _inexact("scipy.linalg.polar", a)
    if a.ndim < 2:
        raise ValueError(f"scipy.linalg.polar: the input `a` must be at least a 2-D array, "
                         f"got shape {a.shape}")
    if side not in ("right", "left"):
        raise ValueError(f"scipy.linalg.polar: the argument `side` must be either 'right' or "
                         f"'left', got {side!r}")
    if method not in ("qdwh", "svd"):
        raise ValueError(f"scipy.linalg.polar: unknown polar decomposition method {method!r}")
    m, n = a.shape[-2:]
    if method == "svd":
        u_svd, s, vh = lax_linalg.svd(a, full_matrices=False)
        s = s.astype(a.dtype)
        unitary = u_svd @ vh
        if side == "right":
            return unitary, (_H(vh) * s[..., None, :]) @ vh
        return unitary, (u_svd * s[..., None, :]) @ _H(u_svd)
    if not ((m >= n and side == "right") or (m < n and side == "left")):
        raise NotImplementedError(f"scipy.linalg.polar: method='qdwh' supports m x n matrices "
                                  f"with m >= n for side='right' and m < n for side='left'; "
                                  f"got shape {a.shape} with side={side!r}")

    def one(x):
        if side == "left":
            u, p, _, _ = lax_linalg.qdwh(_H(x), eps=eps, max_iterations=max_iterations)
            return _H(u), _H(p)
        u, p, _, _ = lax_linalg.qdwh(x, eps=eps, max_iterations=max_iterations)
        return u, p

    signature = "(m,n)->(m,n),(n,n)" if side == "right" else "(m,n)->(m,n),(m,m)"
    return fnp.vectorize(one, signature=signature)(a)


def _sylvester_upper_lower(r, low, f):
    """Solve ``r Y + Y low = f`` with ``r`` upper and ``low`` lower triangular, one column
    of ``Y`` at a time, from the last."""
    m, n = f.shape[-2:]
    eye = fnp.eye(m, dtype=r.dtype)
    columns = [None] * n
    for j in range(n - 1, -1, -1):
        rhs = f[..., :, j]
        for k in range(j + 1, n):
            rhs = rhs - columns[k] * low[..., k, j][..., None]
        shifted = r + low[..., j, j][..., None, None] * eye
        columns[j] = lax_linalg.triangular_solve(shifted, rhs, left_side=True, lower=False)
    return fnp.stack(columns, axis=-1)


def solve_sylvester(A, B, C, *, method: str = "schur", tol: float = 1e-8):
    """Solve the Sylvester equation ``A X + X B = C``.

    Args:
      A: ``[..., m, m]``; B: ``[..., n, n]``; C: ``[..., m, n]`` (batch axes broadcast).
      method: ``"schur"`` (Bartels-Stewart on complex Schur forms, on the host) or
        ``"eigen"`` (eigendecompositions; faster, less accurate when ill-conditioned).
      tol: if some eigenvalue sum ``λ_A + λ_B`` is smaller than this in magnitude, the
        result is NaN.

    Returns:
      ``X [..., m, n]`` (real when ``C`` is real).

    Example:
      >>> solve_sylvester(fx.numpy.eye(2), fx.numpy.eye(2), fx.numpy.eye(2))   # I / 2
    """
    _check_arraylike("scipy.linalg.solve_sylvester", A, B, C)
    A, B, C = _inexact("scipy.linalg.solve_sylvester", A, B, C)
    if C.ndim < 2:
        raise ValueError(f"scipy.linalg.solve_sylvester: C must be a (batch of) matrices, got "
                         f"shape {C.shape}")
    m, n = C.shape[-2:]
    if A.shape[-2:] != (m, m) or B.shape[-2:] != (n, n):
        raise ValueError(f"scipy.linalg.solve_sylvester: incompatible shapes for the "
                         f"Sylvester equation: A: {A.shape}, B: {B.shape}, C: {C.shape}")
    if method not in ("schur", "eigen"):
        raise ValueError(f"scipy.linalg.solve_sylvester: unrecognized method {method!r}; the "
                         "valid methods are 'schur' and 'eigen'")
    batch = fnp.broadcast_shapes(A.shape[:-2], B.shape[:-2], C.shape[:-2])
    A = fnp.broadcast_to(A, batch + (m, m))
    B = fnp.broadcast_to(B, batch + (n, n))
    C = fnp.broadcast_to(C, batch + (m, n))
    if method == "schur":   # A = U R U^H, B^H = V S V^H: R Y + Y S^H = U^H C V, X = U Y V^H
        r, u = schur(A, output="complex")
        s, v = schur(_H(B), output="complex")
        f = _H(u) @ C.astype(r.dtype) @ v
        x = u @ _sylvester_upper_lower(r, _H(s), f) @ _H(v)
        eig_a = fnp.diagonal(r, axis1=-2, axis2=-1)
        eig_b = fnp.conj(fnp.diagonal(s, axis1=-2, axis2=-1))
    else:                   # A = Ua diag(la) Ua^-1, B = Ub diag(lb) Ub^-1
        eig_a, ua = np_linalg.eig(A)
        eig_b, ub = np_linalg.eig(B)
        f = np_linalg.solve(ua, C.astype(ua.dtype) @ ub)
        y = f / (eig_a[..., :, None] + eig_b[..., None, :])
        x = ua @ y @ np_linalg.inv(ub)
    if C.dtype.kind != "c":
        x = fnp.real(x)
    close = fnp.abs(eig_a[..., :, None] + eig_b[..., None, :]) < tol
    singular = fnp.any(close, axis=(-2, -1))[..., None, None]
    return fnp.where(singular, fnp.full_like(x, np.nan), x)
