"""``fx.numpy`` polynomials in NumPy's coefficient convention (highest power first):
``polyval``, ``polyadd``/``polysub``/``polymul``/``polydiv``, ``polyder``/``polyint``,
``poly``, ``roots``, ``polyfit``, plus ``trim_zeros``.

Invariants: coefficient counts are static, coefficient values may be traced, so
evaluation and arithmetic differentiate in the coefficients and jit. ``roots`` and
``polyfit`` use ``fx.numpy.linalg`` (eigenvalues of the companion matrix, least
squares); ``roots`` with ``strip_zeros=True`` (the default, as in JAX) and
``trim_zeros`` need concrete inputs, since their output length depends on values.
"""
from __future__ import annotations

import numpy as np

from fx import core, dtypes, lax
from fx.core import get_aval
from fx.numpy import _core as C
from fx.numpy._core import _promote, _promote_inexact, asarray

__all__ = ["polyval", "polyadd", "polysub", "polymul", "polydiv", "polyder", "polyint",
           "poly", "roots", "polyfit", "trim_zeros"]

_UNROLL_LIMIT = 32


def _dtype(x):
    return get_aval(x).dtype


def _coefficients(name, p):
    p = asarray(p)
    if get_aval(p).ndim != 1:
        raise ValueError(f"fx.numpy.{name}: coefficients must be 1-d, got shape "
                         f"{get_aval(p).shape}")
    return p


def _concrete(name, x):
    return np.asarray(core.concrete_or_error(
        x, f"the argument of fx.numpy.{name}, whose output length depends on its values",
        f"fx.numpy.{name} needs concrete values here; see its docstring for a traceable "
        "option."))


def trim_zeros(filt, trim: str = "fb"):
    """``filt`` without its leading (``'f'``) and/or trailing (``'b'``) zeros (needs a
    concrete argument).

    Example:
      >>> fnp.trim_zeros(fnp.array([0, 1, 0, 2, 0]))
      Array([1, 0, 2], dtype=int32)
    """
    filt = asarray(filt)
    if get_aval(filt).ndim != 1:
        raise ValueError(f"fx.numpy.trim_zeros: input must be 1-d, got shape "
                         f"{get_aval(filt).shape}")
    nz = np.nonzero(_concrete("trim_zeros", filt))[0]
    if nz.size == 0:
        return filt[:0]
    start = int(nz[0]) if "f" in trim.lower() else 0
    stop = int(nz[-1]) + 1 if "b" in trim.lower() else get_aval(filt).shape[0]
    return filt[start:stop]


def polyval(p, x, *, unroll: int = 16):
    """Evaluate the polynomial with coefficients ``p`` at ``x`` (Horner's rule).

    Args:
      p: 1-d coefficients, highest power first.
      x: points (any shape).
      unroll: accepted for JAX compatibility (long polynomials use a ``scan``).

    Returns:
      An array of ``x``'s shape in the common dtype of ``p`` and ``x``.

    Example:
      >>> fnp.polyval(fnp.array([1.0, 0.0, -1.0]), 3.0)
      Array(8., dtype=float32)
    """
    p = _coefficients("polyval", p)
    p, x = _promote(p, x)
    n = get_aval(p).shape[0]
    y = lax.full_like(x, 0, dtype=get_aval(x).dtype)  # a strong zero, as JAX
    if n <= _UNROLL_LIMIT:
        for i in range(n):
            y = C.add(C.multiply(y, x), p[i])
        return y
    from fx.lax import scan
    y, _ = scan(lambda acc, c: (C.add(C.multiply(acc, x), c), None), y, p)
    return y


def _pad_front(a, n):
    k = get_aval(a).shape[0]
    if k >= n:
        return a
    from fx.numpy import concatenate
    return concatenate([lax.full((n - k,), 0, _dtype(a)), a])


def polyadd(a1, a2):
    """The sum of two polynomials.

    Example:
      >>> fnp.polyadd(fnp.array([1, 2]), fnp.array([1, 0, 0]))
      Array([1, 1, 2], dtype=int32)
    """
    a1, a2 = _promote(_coefficients("polyadd", a1), _coefficients("polyadd", a2))
    n = max(get_aval(a1).shape[0], get_aval(a2).shape[0])
    return C.add(_pad_front(a1, n), _pad_front(a2, n))


def polysub(a1, a2):
    """The difference of two polynomials."""
    a1, a2 = _promote(_coefficients("polysub", a1), _coefficients("polysub", a2))
    n = max(get_aval(a1).shape[0], get_aval(a2).shape[0])
    return C.subtract(_pad_front(a1, n), _pad_front(a2, n))


def polymul(a1, a2, *, trim_leading_zeros: bool = False):
    """The product of two polynomials (a full convolution; floating, as JAX).

    Example:
      >>> fnp.polymul(fnp.array([1.0, 1.0]), fnp.array([1.0, -1.0]))
      Array([ 1.,  0., -1.], dtype=float32)
    """
    from fx.numpy._numeric import convolve
    a1 = _coefficients("polymul", a1)
    a2 = _coefficients("polymul", a2)
    if trim_leading_zeros:
        a1, a2 = trim_zeros(a1, "f"), trim_zeros(a2, "f")
    if get_aval(a1).shape[0] == 0:
        a1 = asarray([0.0])
    if get_aval(a2).shape[0] == 0:
        a2 = asarray([0.0])
    return convolve(a1, a2, mode="full")


def polydiv(u, v, *, trim_leading_zeros: bool = False):
    """Polynomial long division: ``(quotient, remainder)``; the remainder keeps ``u``'s
    length (leading zeros), as in JAX.

    Example:
      >>> q, r = fnp.polydiv(fnp.array([1.0, 2.0, 3.0]), fnp.array([1.0, 1.0]))
      >>> q, r
      (Array([1., 1.], dtype=float32), Array([0., 0., 2.], dtype=float32))
    """
    u, v = _promote_inexact(_coefficients("polydiv", u), _coefficients("polydiv", v))
    u, v = lax.convert_element_type(u, _dtype(u)), lax.convert_element_type(v, _dtype(v))
    if trim_leading_zeros:
        v = trim_zeros(v, "f")
    m, n = get_aval(u).shape[0] - 1, get_aval(v).shape[0] - 1
    if n < 0:
        raise ValueError("fx.numpy.polydiv: the divisor must not be empty")
    scale = C.true_divide(1.0, v[0])
    quotient = []
    rem = u
    for k in range(max(m - n + 1, 0)):
        d = C.multiply(scale, rem[k])
        quotient.append(d)
        update = C.multiply(d, v)
        from fx.numpy import concatenate
        rem = concatenate([rem[:k], C.subtract(rem[k:k + n + 1], update), rem[k + n + 1:]])
    q = C.stack(quotient) if quotient else lax.full((1,), 0, _dtype(u))
    return q, rem


def polyder(p, m: int = 1):
    """The ``m``-th derivative of a polynomial (floating coefficients).

    Example:
      >>> fnp.polyder(fnp.array([1.0, 2.0, 3.0]))
      Array([2., 2.], dtype=float32)
    """
    p = _coefficients("polyder", p)
    if m < 0:
        raise ValueError(f"fx.numpy.polyder: order must be non-negative, got m={m}")
    (p,) = _promote_inexact(p)
    p = lax.convert_element_type(p, _dtype(p))
    for _ in range(m):
        n = get_aval(p).shape[0]
        if n <= 1:
            return lax.full((0,), 0, _dtype(p))
        powers = np.arange(n - 1, 0, -1).astype(_dtype(p))
        p = C.multiply(p[:-1], powers)
    return p


def polyint(p, m: int = 1, k=None):
    """The ``m``-th antiderivative of a polynomial, with integration constants ``k``
    (one per integration, default 0).

    Example:
      >>> fnp.polyint(fnp.array([3.0, 2.0]))
      Array([1.5, 2. , 0. ], dtype=float32)
    """
    p = _coefficients("polyint", p)
    if m < 0:
        raise ValueError(f"fx.numpy.polyint: order must be non-negative, got m={m}")
    (p,) = _promote_inexact(p)
    p = lax.convert_element_type(p, _dtype(p))
    if k is None:
        k = lax.full((m,), 0, _dtype(p))
    k = C.atleast_1d(asarray(k))
    if get_aval(k).shape[0] == 1 and m > 1:
        k = C.broadcast_to(k, (m,))
    if get_aval(k).shape[0] != m:
        raise ValueError(f"fx.numpy.polyint: k must have one constant per integration "
                         f"(m={m}), got {get_aval(k).shape[0]}")
    k = lax.convert_element_type(k, _dtype(p))
    from fx.numpy import concatenate
    for i in range(m):
        n = get_aval(p).shape[0]
        powers = np.arange(n, 0, -1).astype(_dtype(p))
        p = concatenate([C.true_divide(p, powers), k[i:i + 1]])
    return p


def poly(seq_of_zeros):
    """The coefficients of the monic polynomial with the given roots (or, for a square
    matrix, of its characteristic polynomial).

    Example:
      >>> fnp.poly(fnp.array([1.0, 2.0]))
      Array([ 1., -3.,  2.], dtype=float32)
    """
    z = asarray(seq_of_zeros)
    nd = get_aval(z).ndim
    if nd == 2 and get_aval(z).shape[0] == get_aval(z).shape[1] and get_aval(z).shape[0]:
        from fx.numpy import linalg
        z = linalg.eigvals(z)
    elif nd not in (0, 1) and not (nd == 2 and get_aval(z).size == 0):
        raise ValueError(f"fx.numpy.poly: input must be 1-d or a square 2-d array, got "
                         f"shape {get_aval(z).shape}")
    z = C.ravel(z)
    (z,) = _promote_inexact(z)
    z = lax.convert_element_type(z, _dtype(z))
    a = lax.full((1,), 1, _dtype(z))
    from fx.numpy import concatenate
    for i in range(get_aval(z).shape[0]):
        # multiply by (x - z[i])
        shifted = concatenate([a, lax.full((1,), 0, _dtype(z))])
        scaled = concatenate([lax.full((1,), 0, _dtype(z)), C.multiply(a, z[i])])
        a = C.subtract(shifted, scaled)
    return a


def roots(p, *, strip_zeros: bool = True):
    """The roots of a polynomial: eigenvalues of its companion matrix (complex).

    Args:
      p: 1-d coefficients, highest power first.
      strip_zeros: drop leading zeros (which needs concrete ``p``) and add a zero root
        for each trailing zero; with False, leading zeros give NaN roots and ``p`` may
        be traced.

    Example:
      >>> fnp.roots(fnp.array([1.0, -3.0, 2.0]))  # doctest: +SKIP
      Array([2.+0.j, 1.+0.j], dtype=complex64)
    """
    p = _coefficients("roots", p)
    (p,) = _promote_inexact(p)
    p = lax.convert_element_type(p, _dtype(p))
    trailing = 0
    if strip_zeros:
        values = _concrete("roots", p)
        nz = np.nonzero(values)[0]
        if nz.size == 0:
            return lax.full((0,), 0, dtypes.default_complex_dtype())
        trailing = len(values) - int(nz[-1]) - 1
        p = p[int(nz[0]):int(nz[-1]) + 1]
    n = get_aval(p).shape[0]
    complex_dtype = dtypes.result_type(_dtype(p), dtypes.default_complex_dtype())
    if n <= 1:
        out = lax.full((0,), 0, complex_dtype)
    else:
        from fx.numpy import linalg
        companion = C.zeros((n - 1, n - 1), _dtype(p))
        companion = companion.at[0, :].set(C.negative(C.true_divide(p[1:], p[0])))
        if n > 2:
            idx = np.arange(n - 2)
            companion = companion.at[idx + 1, idx].set(1)
        out = lax.convert_element_type(linalg.eigvals(companion), complex_dtype)
    if trailing:
        from fx.numpy import concatenate
        out = concatenate([out, lax.full((trailing,), 0, complex_dtype)])
    return out


def polyfit(x, y, deg: int, rcond=None, full: bool = False, w=None, cov=False):
    """The least-squares polynomial of degree ``deg`` through ``(x, y)``.

    Args:
      x: 1-d sample points.
      y: samples, 1-d or 2-d (one fit per column).
      deg: the degree (static).
      rcond: relative cutoff for small singular values (default ``len(x) * eps``).
      full: also return ``(residuals, rank, singular_values, rcond)``.
      w: weights applied to the residuals (use 1/sigma).
      cov: also return the coefficients' covariance (``'unscaled'`` skips the residual
        scaling).

    Returns:
      Coefficients (highest power first), plus the extras requested.

    Example:
      >>> fnp.polyfit(fnp.arange(4.0), fnp.arange(4.0) * 2 + 1, 1)  # doctest: +SKIP
      Array([2., 1.], dtype=float32)
    """
    from fx.numpy import linalg
    from fx.numpy._creation import vander
    if deg < 0:
        raise ValueError(f"fx.numpy.polyfit: deg must be non-negative, got {deg}")
    x, y = _promote_inexact(asarray(x), asarray(y))
    x, y = lax.convert_element_type(x, _dtype(x)), lax.convert_element_type(y, _dtype(y))
    if get_aval(x).ndim != 1 or get_aval(x).shape[0] == 0:
        raise TypeError(f"fx.numpy.polyfit: x must be a non-empty 1-d array, got shape "
                        f"{get_aval(x).shape}")
    if get_aval(y).ndim not in (1, 2) or get_aval(y).shape[0] != get_aval(x).shape[0]:
        raise TypeError(f"fx.numpy.polyfit: y must be 1-d or 2-d with {get_aval(x).shape[0]} "
                        f"rows, got shape {get_aval(y).shape}")
    order = int(deg) + 1
    n = get_aval(x).shape[0]
    if rcond is None:
        rcond = n * float(dtypes.finfo(_dtype(x)).eps)
    lhs = vander(x, order)
    rhs = y
    if w is not None:
        w = asarray(w)
        if get_aval(w).shape != (n,):
            raise TypeError(f"fx.numpy.polyfit: w must be 1-d of length {n}")
        lhs = C.multiply(lhs, w[:, None])
        rhs = C.multiply(rhs, w if get_aval(rhs).ndim == 1 else w[:, None])
    scale = C.sqrt(C.sum(C.multiply(lhs, lhs), axis=0))
    lhs = C.true_divide(lhs, scale)
    c, resids, rank, s = linalg.lstsq(lhs, rhs, rcond=rcond)
    c = C.true_divide(c, scale if get_aval(c).ndim == 1 else scale[:, None])
    if full:
        return c, resids, rank, s, asarray(rcond)
    if cov:
        from fx.numpy import matmul
        vinv = linalg.inv(matmul(C.transpose(lhs), lhs))
        vinv = C.true_divide(vinv, C.multiply(scale[:, None], scale[None, :]))
        if cov == "unscaled":
            fac = 1.0
        else:
            if n <= order:
                raise ValueError("fx.numpy.polyfit: the number of data points must exceed "
                                 "order to scale the covariance matrix")
            fac = C.true_divide(resids, n - order)
        if get_aval(y).ndim == 1:
            return c, C.multiply(vinv, fac)
        return c, C.multiply(vinv[:, :, None], fac)
    return c
