"""``fx.numpy`` numerical helpers: differences (``diff``, ``ediff1d``, ``gradient``,
``unwrap``), integration (``trapezoid``), interpolation (``interp``), 1-d convolution
(``convolve``, ``correlate``) and counting (``bincount``, ``digitize``, the histogram
family).

Invariants: shapes, bin counts and modes are static; values (samples, weights, bin
edges, ranges) may be traced, so these functions differentiate in their continuous
arguments and batch and jit. Counting scatters into a static number of bins: values
outside the bins are dropped, never clamped into an edge bin.
"""
from __future__ import annotations

import builtins

import numpy as np

from fx import core, dtypes, lax
from fx.core import get_aval
from fx.numpy import _core as C
from fx.numpy._core import _promote, _promote_inexact, asarray, where

__all__ = ["diff", "ediff1d", "gradient", "unwrap", "trapezoid", "interp", "convolve",
           "correlate", "bincount", "digitize", "histogram_bin_edges", "histogram",
           "histogram2d", "histogramdd"]


def _dtype(x):
    return get_aval(x).dtype


def _static_int(value, what):
    value = core.concrete_or_error(value, f"a traced {what}", f"{what} must be static.")
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    return int(value)


def _axis(name, axis, ndim):
    axis = _static_int(axis, f"fx.numpy.{name} axis")
    if not -ndim <= axis < ndim:
        raise ValueError(f"fx.numpy.{name}: axis {axis} is out of bounds for an array of "
                         f"dimension {ndim}")
    return axis % ndim


def _slice_axis(x, start, stop, axis):
    idx = [slice(None)] * get_aval(x).ndim
    idx[axis] = slice(start, stop)
    return x[tuple(idx)]


def _concat(parts, axis=0):
    from fx.numpy import concatenate
    return concatenate(parts, axis=axis)


# ---------------------------------------------------------------------------
# differences


def diff(a, n: int = 1, axis: int = -1, prepend=None, append=None):
    """The ``n``-th discrete difference along ``axis`` (``!=`` for booleans).

    Args:
      a: an array of rank >= 1.
      n: how many times to difference (static, >= 0).
      axis: the axis.
      prepend, append: values joined to ``a`` along ``axis`` first (scalars are
        broadcast).

    Returns:
      An array whose ``axis`` is ``n`` shorter.

    Example:
      >>> fnp.diff(fnp.array([1, 4, 9, 16]))
      Array([3, 5, 7], dtype=int32)
    """
    a = asarray(a)
    n = _static_int(n, "fx.numpy.diff n")
    if n < 0:
        raise ValueError(f"fx.numpy.diff: order must be non-negative, got n={n}")
    nd = get_aval(a).ndim
    if nd == 0:
        raise ValueError("fx.numpy.diff requires an input of rank at least 1")
    axis = _axis("diff", axis, nd)
    if n == 0:
        return a
    if prepend is not None or append is not None:
        def expand(extra):
            extra = asarray(extra)
            if get_aval(extra).ndim == 0:
                shape = list(get_aval(a).shape)
                shape[axis] = 1
                extra = C.broadcast_to(extra, tuple(shape))
            return extra
        parts = ([expand(prepend)] if prepend is not None else []) + [a] + \
            ([expand(append)] if append is not None else [])
        a = _concat(parts, axis)
    for _ in range(n):
        length = get_aval(a).shape[axis]
        if length == 0:
            break
        hi, lo = _slice_axis(a, 1, None, axis), _slice_axis(a, None, length - 1, axis)
        a = C.not_equal(hi, lo) if _dtype(a) == dtypes.bool_ else C.subtract(hi, lo)
    return a


def ediff1d(ary, to_end=None, to_begin=None):
    """Differences of consecutive elements of the flattened ``ary``, with optional values
    before and after.

    Example:
      >>> fnp.ediff1d(fnp.array([1, 2, 4]), to_begin=0)
      Array([0, 1, 2], dtype=int32)
    """
    flat = C.ravel(asarray(ary))
    out = C.subtract(flat[1:], flat[:-1]) if get_aval(flat).shape[0] else flat
    dtype = _dtype(out)
    parts = []
    if to_begin is not None:
        parts.append(lax.convert_element_type(C.ravel(asarray(to_begin)), dtype))
    parts.append(out)
    if to_end is not None:
        parts.append(lax.convert_element_type(C.ravel(asarray(to_end)), dtype))
    return _concat(parts) if len(parts) > 1 else out


def _gradient_axis(f, h, axis, edge_order):
    """The derivative of ``f`` along ``axis`` for a scalar spacing or 1-d coordinates."""
    n = get_aval(f).shape[axis]
    if n < edge_order + 1:
        raise ValueError(f"fx.numpy.gradient: shape {get_aval(f).shape} is too small along "
                         f"axis {axis} for edge_order={edge_order}; it needs at least "
                         f"{edge_order + 1} elements")
    nd = get_aval(f).ndim

    def seg(start, stop):
        return _slice_axis(f, start, stop, axis)

    def along(v):  # a 1-d array laid along ``axis``
        return lax.broadcast_in_dim(v, tuple(get_aval(v).shape[0] if i == axis else 1
                                             for i in range(nd)), (axis,))

    h = asarray(h)
    if get_aval(h).ndim == 0:
        two_h = C.multiply(h, 2)
        interior = C.true_divide(C.subtract(seg(2, None), seg(None, -2)), two_h)
        if edge_order == 1:
            first = C.true_divide(C.subtract(seg(1, 2), seg(0, 1)), h)
            last = C.true_divide(C.subtract(seg(n - 1, n), seg(n - 2, n - 1)), h)
        else:
            first = C.true_divide(C.add(C.add(C.multiply(seg(0, 1), -1.5),
                                              C.multiply(seg(1, 2), 2.0)),
                                        C.multiply(seg(2, 3), -0.5)), h)
            last = C.true_divide(C.add(C.add(C.multiply(seg(n - 3, n - 2), 0.5),
                                             C.multiply(seg(n - 2, n - 1), -2.0)),
                                       C.multiply(seg(n - 1, n), 1.5)), h)
        return _concat([first, interior, last], axis)
    if get_aval(h).shape != (n,):
        raise ValueError(f"fx.numpy.gradient: coordinates must be 1-d of length {n}, got "
                         f"shape {get_aval(h).shape}")
    dx = diff(h)
    dx1, dx2 = dx[:-1], dx[1:]
    a = C.negative(C.true_divide(dx2, C.multiply(dx1, C.add(dx1, dx2))))
    b = C.true_divide(C.subtract(dx2, dx1), C.multiply(dx1, dx2))
    c = C.true_divide(dx1, C.multiply(dx2, C.add(dx1, dx2)))
    interior = C.add(C.add(C.multiply(along(a), seg(None, -2)),
                           C.multiply(along(b), seg(1, -1))),
                     C.multiply(along(c), seg(2, None)))
    if edge_order == 1:
        first = C.true_divide(C.subtract(seg(1, 2), seg(0, 1)), dx[0])
        last = C.true_divide(C.subtract(seg(n - 1, n), seg(n - 2, n - 1)), dx[-1])
    else:
        d1, d2 = dx[0], dx[1]
        a0 = C.negative(C.true_divide(C.add(C.multiply(d1, 2), d2), C.multiply(d1, C.add(d1,
                                                                                           d2))))
        b0 = C.true_divide(C.add(d1, d2), C.multiply(d1, d2))
        c0 = C.negative(C.true_divide(d1, C.multiply(d2, C.add(d1, d2))))
        first = C.add(C.add(C.multiply(a0, seg(0, 1)), C.multiply(b0, seg(1, 2))),
                      C.multiply(c0, seg(2, 3)))
        d1, d2 = dx[-2], dx[-1]
        a1 = C.true_divide(d2, C.multiply(d1, C.add(d1, d2)))
        b1 = C.negative(C.true_divide(C.add(d2, d1), C.multiply(d1, d2)))
        c1 = C.true_divide(C.add(C.multiply(d2, 2), d1), C.multiply(d2, C.add(d1, d2)))
        last = C.add(C.add(C.multiply(a1, seg(n - 3, n - 2)), C.multiply(b1, seg(n - 2, n - 1))),
                     C.multiply(c1, seg(n - 1, n)))
    return _concat([first, interior, last], axis)


def gradient(f, *varargs, axis=None, edge_order=None):
    """The gradient of sampled ``f`` by central differences inside and one-sided ones
    at the edges (first or second order).

    Args:
      f: an array.
      *varargs: spacing: none (unit), one scalar for every axis, or one scalar or 1-d
        coordinate array per axis.
      axis: the axis or axes to differentiate along (default all).
      edge_order: 1 (default) or 2.

    Returns:
      One array per axis (a list), or a single array for a single axis.

    Example:
      >>> fnp.gradient(fnp.array([1.0, 4.0, 9.0]))
      Array([3., 4., 5.], dtype=float32)
    """
    edge_order = 1 if edge_order is None else _static_int(edge_order, "edge_order")
    if edge_order not in (1, 2):
        raise ValueError(f"fx.numpy.gradient: edge_order must be 1 or 2, got {edge_order}")
    (f,) = _promote_inexact(asarray(f))
    f = lax.convert_element_type(f, _dtype(f))
    nd = get_aval(f).ndim
    if axis is None:
        axes = tuple(range(nd))
    elif isinstance(axis, (tuple, list)):
        axes = tuple(_axis("gradient", a, nd) for a in axis)
    else:
        axes = (_axis("gradient", axis, nd),)
    if len(varargs) == 0:
        spacings = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacings = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes):
        spacings = list(varargs)
    else:
        raise TypeError(f"fx.numpy.gradient: expected 0, 1 or {len(axes)} spacing "
                        f"arguments, got {len(varargs)}")
    out = [_gradient_axis(f, h, ax, edge_order) for h, ax in zip(spacings, axes)]
    return out[0] if len(out) == 1 else out


def unwrap(p, discont=None, axis: int = -1, period=2 * np.pi):
    """Unwrap phases: add multiples of ``period`` so consecutive differences along
    ``axis`` stay within ``max(discont, period / 2)``.

    Example:
      >>> fnp.unwrap(fnp.array([0.0, 3.0, 6.5]))  # 6.5 - 3.0 > pi
      Array([0.       , 3.       , 0.2168147], dtype=float32)
    """
    (p,) = _promote_inexact(asarray(p))
    p = lax.convert_element_type(p, _dtype(p))
    nd = get_aval(p).ndim
    axis = _axis("unwrap", axis, nd)
    dtype = _dtype(p)
    period = lax.convert_element_type(asarray(period), dtype)
    half = C.true_divide(period, 2)
    discont = half if discont is None else C.maximum(
        lax.convert_element_type(asarray(discont), dtype), half)
    dd = diff(p, axis=axis)
    ddmod = C.add(C.remainder(C.add(dd, half), period), C.negative(half))
    ddmod = where(C.logical_and(C.equal(ddmod, C.negative(half)), C.greater(dd, 0)), half,
                  ddmod)
    correct = C.subtract(ddmod, dd)
    correct = where(C.less(C.absolute(dd), discont), lax.full_like(correct, 0), correct)
    from fx.numpy import cumsum
    shape = list(get_aval(p).shape)
    shape[axis] = 1
    total = _concat([lax.full(tuple(shape), 0, dtype), cumsum(correct, axis=axis)], axis)
    return C.add(p, total)


def trapezoid(y, x=None, dx=1.0, axis: int = -1):
    """Integrate ``y`` along ``axis`` by the trapezoidal rule.

    Args:
      y: samples.
      x: sample points (1-d along ``axis``, or ``y``'s shape); spacing ``dx`` if None.
      dx: the uniform spacing when ``x`` is None.
      axis: the axis to integrate along.

    Example:
      >>> fnp.trapezoid(fnp.array([1.0, 2.0, 3.0]))
      Array(4., dtype=float32)
    """
    y = asarray(y)
    if x is None:
        (y,) = _promote_inexact(y)
        y = lax.convert_element_type(y, _dtype(y))
    else:
        y, x = _promote_inexact(y, asarray(x))
        y = lax.convert_element_type(y, _dtype(y))
        x = lax.convert_element_type(x, _dtype(x))
    nd = get_aval(y).ndim
    axis = _axis("trapezoid", axis, nd)
    n = get_aval(y).shape[axis]
    if x is None:
        d = asarray(dx)
    else:
        d = diff(x, axis=axis if get_aval(x).ndim == nd else -1)
        if get_aval(x).ndim == 1 and nd > 1:
            d = lax.broadcast_in_dim(d, tuple(get_aval(d).shape[0] if i == axis else 1
                                              for i in range(nd)), (axis,))
    if n == 0:
        return C.sum(y, axis=axis)
    mids = C.multiply(C.add(_slice_axis(y, 1, None, axis), _slice_axis(y, None, n - 1, axis)),
                      0.5)
    return C.sum(C.multiply(d, mids), axis=axis)


def interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise-linear interpolation of the points ``(xp, fp)`` at ``x``.

    Args:
      x: where to evaluate.
      xp: increasing 1-d sample points (any order with ``period``).
      fp: 1-d sample values (real or complex).
      left, right: values below ``xp[0]`` / above ``xp[-1]`` (default ``fp[0]``/``fp[-1]``).
      period: treat ``x`` and ``xp`` as periodic with this period.

    Returns:
      An array of ``x``'s shape.

    Example:
      >>> fnp.interp(1.5, fnp.array([1.0, 2.0]), fnp.array([10.0, 20.0]))
      Array(15., dtype=float32)
    """
    x, xp, fp = asarray(x), asarray(xp), asarray(fp)
    if get_aval(xp).ndim != 1 or get_aval(fp).ndim != 1:
        raise ValueError(f"fx.numpy.interp: xp and fp must be 1-d, got shapes "
                         f"{get_aval(xp).shape} and {get_aval(fp).shape}")
    if get_aval(xp).shape != get_aval(fp).shape or get_aval(xp).shape[0] == 0:
        raise ValueError(f"fx.numpy.interp: xp and fp must have the same nonzero length, got "
                         f"{get_aval(xp).shape[0]} and {get_aval(fp).shape[0]}")
    x, xp = _promote_inexact(x, xp)
    x, xp = lax.convert_element_type(x, _dtype(x)), lax.convert_element_type(xp, _dtype(xp))
    if dtypes.is_complex(_dtype(x)):
        raise TypeError("fx.numpy.interp: x and xp must be real")
    (fp,) = _promote_inexact(fp)
    fdtype = dtypes.result_type(fp, x)
    fp = lax.convert_element_type(fp, fdtype)
    from fx.numpy import searchsorted, take
    if period is not None:
        period = lax.convert_element_type(asarray(period), _dtype(x))
        x = C.remainder(x, period)
        xp = C.remainder(xp, period)
        xp, fp = lax.sort((xp, fp), num_keys=1)
        xp = _concat([C.subtract(xp[-1:], period), xp, C.add(xp[:1], period)])
        fp = _concat([fp[-1:], fp, fp[:1]])
    n = get_aval(xp).shape[0]
    if n == 1:
        out = C.broadcast_to(fp[0], get_aval(x).shape)
    else:
        i = C.clip(searchsorted(xp, x, side="right"), 1, n - 1)
        x_lo, x_hi = take(xp, i - 1, mode="clip"), take(xp, i, mode="clip")
        f_lo, f_hi = take(fp, i - 1, mode="clip"), take(fp, i, mode="clip")
        dx = C.subtract(x_hi, x_lo)
        eps = 10 * dtypes.finfo(_dtype(x)).eps
        flat = C.less_equal(C.absolute(dx), eps)
        safe = where(flat, lax.full_like(dx, 1), dx)
        slope = C.true_divide(C.subtract(x, x_lo), safe)
        out = where(flat, f_lo, C.add(f_lo, C.multiply(slope, C.subtract(f_hi, f_lo))))
    if period is None:
        lo = fp[0] if left is None else lax.convert_element_type(asarray(left), fdtype)
        hi = fp[-1] if right is None else lax.convert_element_type(asarray(right), fdtype)
        out = where(C.less(x, xp[0]), lo, out)
        out = where(C.greater(x, xp[-1]), hi, out)
    return out


# ---------------------------------------------------------------------------
# convolution


def _valid_convolution(long_, short, precision, preferred_element_type):
    """``sum_t long_[k + t] * short[m - 1 - t]`` for ``k`` in ``0..n-m``: a convolution
    with no padding, so every product is one the direct sum has."""
    from fx.lax import conv_general_dilated
    n, m = get_aval(long_).shape[0], get_aval(short).shape[0]
    lhs = lax.reshape(long_, (1, 1, n))
    rhs = lax.reshape(lax.rev(short, (0,)), (1, 1, m))
    out = conv_general_dilated(lhs, rhs, (1,), [(0, 0)], precision=precision,
                               preferred_element_type=preferred_element_type)
    return lax.reshape(out, (n - m + 1,))


def _full_convolution(a, v, precision, preferred_element_type):
    """The full convolution ``c[k] = sum_j a[j] v[k - j]`` over the ``j`` where both
    indices are in range, so NaN and infinity spread exactly where that sum's products do
    (a zero-padded convolution would also multiply the padding by ``v``'s NaNs).

    The interior ``k`` in ``[m-1, n-1]`` (``n >= m`` the longer and shorter lengths) is
    a convolution without padding; the ``2 (m - 1)`` edge outputs are masked sums of
    their few in-range products."""
    dtype = _dtype(a)
    if preferred_element_type is not None:
        dtype = dtypes.canonicalize_dtype(preferred_element_type)
    long_, short = (a, v) if get_aval(a).shape[0] >= get_aval(v).shape[0] else (v, a)
    n, m = get_aval(long_).shape[0], get_aval(short).shape[0]
    interior = lax.convert_element_type(
        _valid_convolution(long_, short, precision, preferred_element_type), dtype)
    if m == 1:
        return interior
    edge_k = np.concatenate([np.arange(m - 1), np.arange(n, n + m - 1)])
    index = edge_k[:, None] - np.arange(m)[None, :]  # long_[index] * short[t]
    in_range = (index >= 0) & (index < n)
    long_c, short_c = (lax.convert_element_type(x, dtype) for x in (long_, short))
    terms = C.multiply(long_c[np.clip(index, 0, n - 1)], short_c[None, :])
    edges = C.sum(where(in_range, terms, lax.full((), 0, dtype)), axis=1)
    return _concat([edges[:m - 1], interior, edges[m - 1:]])


def _convolve(name, a, v, mode, precision, preferred_element_type, conj_flip):
    a, v = asarray(a), asarray(v)
    if get_aval(a).ndim != 1 or get_aval(v).ndim != 1:
        raise ValueError(f"fx.numpy.{name}: only 1-d inputs are supported, got shapes "
                         f"{get_aval(a).shape} and {get_aval(v).shape}")
    n, m = get_aval(a).shape[0], get_aval(v).shape[0]
    if n == 0 or m == 0:
        raise ValueError(f"fx.numpy.{name}: inputs cannot be empty, got shapes ({n},) and "
                         f"({m},)")
    if mode not in ("full", "same", "valid"):
        raise ValueError(f"fx.numpy.{name}: mode must be 'full', 'same' or 'valid', got "
                         f"{mode!r}")
    a, v = _promote_inexact(a, v)
    a, v = lax.convert_element_type(a, _dtype(a)), lax.convert_element_type(v, _dtype(v))
    if conj_flip:
        v = lax.rev(C.conjugate(v), (0,))
    short, long_ = builtins.min(n, m), builtins.max(n, m)
    if mode == "valid":
        pair = (a, v) if n >= m else (v, a)
        out = _valid_convolution(*pair, precision, preferred_element_type)
        return out if preferred_element_type is not None else lax.convert_element_type(
            out, _dtype(a))
    full = _full_convolution(a, v, precision, preferred_element_type)
    if mode == "full":
        return full
    if mode == "same":
        # centred as NumPy centres it: correlate with the longer v is the reversed
        # correlation of v with a, whose centre falls on the other side for even lengths
        start = short // 2 if conj_flip and n < m else (short - 1) // 2
    return full[start:start + long_]


def convolve(a, v, mode: str = "full", *, precision=None, preferred_element_type=None):
    """The discrete linear convolution of 1-d ``a`` and ``v``.

    Args:
      a, v: 1-d non-empty arrays (promoted to a common inexact dtype).
      mode: ``'full'`` (length n + m - 1), ``'same'`` (length max(n, m)) or ``'valid'``
        (length max(n, m) - min(n, m) + 1).
      precision, preferred_element_type: passed to the convolution.

    Example:
      >>> fnp.convolve(fnp.array([1.0, 2.0, 3.0]), fnp.array([0.0, 1.0, 0.5]))
      Array([0. , 1. , 2.5, 4. , 1.5], dtype=float32)
    """
    return _convolve("convolve", a, v, mode, precision, preferred_element_type, False)


def correlate(a, v, mode: str = "valid", *, precision=None, preferred_element_type=None):
    """The cross-correlation ``c[k] = sum_n a[n + k] * conj(v[n])`` of 1-d inputs (modes
    as in ``convolve``; ``'valid'`` by default)."""
    return _convolve("correlate", a, v, mode, precision, preferred_element_type, True)


# ---------------------------------------------------------------------------
# counting


def bincount(x, weights=None, minlength: int = 0, *, length: int | None = None):
    """Count (or sum ``weights`` of) each non-negative integer value in 1-d ``x``.

    Args:
      x: a 1-d integer array (negative values count as 0, as JAX).
      weights: optional weights of ``x``'s shape.
      minlength: the minimum output length.
      length: the static output length (required when ``x`` is traced); values at or
        beyond it are dropped.

    Returns:
      A 1-d array of counts (int) or weight sums (the weights' dtype).

    Example:
      >>> fnp.bincount(fnp.array([0, 1, 1, 3]))
      Array([1, 2, 0, 1], dtype=int32)
    """
    x = asarray(x)
    if not dtypes.is_integer(_dtype(x)):
        raise TypeError(f"fx.numpy.bincount: x must be an integer array, got dtype "
                        f"{_dtype(x).name}")
    if get_aval(x).ndim != 1:
        raise ValueError(f"fx.numpy.bincount: x must be 1-d, got shape {get_aval(x).shape}")
    minlength = _static_int(minlength, "bincount minlength")
    if minlength < 0:
        raise ValueError(f"fx.numpy.bincount: minlength must be non-negative, got {minlength}")
    if length is None:
        concrete = np.asarray(core.concrete_or_error(
            x, "the argument of fx.numpy.bincount, whose output length depends on its values",
            "Pass a static `length=` to fx.numpy.bincount to trace it (e.g. under jit)."))
        length = builtins.max(minlength, int(concrete.max()) + 1 if concrete.size else 0)
    length = _static_int(length, "bincount length")
    if weights is None:
        weights = lax.full(get_aval(x).shape, 1, dtypes.default_int_dtype())
    else:
        weights = asarray(weights)
        if get_aval(weights).shape != get_aval(x).shape:
            raise ValueError(f"fx.numpy.bincount: weights of shape {get_aval(weights).shape} "
                             f"must match x's shape {get_aval(x).shape}")
        (weights,) = _promote(weights)
        weights = lax.convert_element_type(weights, _dtype(weights))
        if _dtype(weights) == dtypes.bool_:
            weights = lax.convert_element_type(weights, dtypes.default_int_dtype())
    idx = C.clip(x, 0, None)
    zeros = lax.full((length,), 0, _dtype(weights))
    return zeros.at[idx].add(weights, mode="drop")


def digitize(x, bins, right: bool = False, *, method: str | None = None):
    """The index of the bin each ``x`` falls in, for monotonic 1-d ``bins``.

    Example:
      >>> fnp.digitize(fnp.array([0.5, 1.5, 2.5]), fnp.array([1.0, 2.0]))
      Array([0, 1, 2], dtype=int32)
    """
    from fx.numpy import searchsorted
    x, bins = asarray(x), asarray(bins)
    if get_aval(bins).ndim != 1:
        raise ValueError(f"fx.numpy.digitize: bins must be 1-d, got shape "
                         f"{get_aval(bins).shape}")
    if dtypes.is_complex(_dtype(x)) or dtypes.is_complex(_dtype(bins)):
        raise TypeError("fx.numpy.digitize: complex inputs are not supported")
    n = get_aval(bins).shape[0]
    if n == 0:
        return lax.full(get_aval(x).shape, 0, dtypes.default_int_dtype())
    side = "left" if right else "right"
    kw = {} if method is None else {"method": method}
    increasing = searchsorted(bins, x, side=side, **kw)
    decreasing = C.subtract(n, searchsorted(lax.rev(bins, (0,)), x, side=side, **kw))
    out = where(C.greater_equal(bins[-1], bins[0]), increasing, decreasing)
    return lax.convert_element_type(out, dtypes.default_int_dtype())


def _check_bins(name, bins):
    """JAX takes the bins as an int or an array of edges, never a list or tuple (TypeError
    naming the argument's position, as JAX's ``histogram``)."""
    if isinstance(bins, (list, tuple)):
        raise TypeError(f"{name} requires ndarray or scalar arguments, got {type(bins)} at "
                        f"position 1; pass the bin edges as an array (fx.numpy.asarray)")


def histogram_bin_edges(a, bins=10, range=None, weights=None):
    """The edges of the bins ``histogram`` would use (``bins + 1`` evenly spaced edges
    over ``range``, by default the data's min and max, widened by 0.5 if equal).

    Example:
      >>> fnp.histogram_bin_edges(fnp.array([0.0, 4.0]), bins=2)
      Array([0., 2., 4.], dtype=float32)
    """
    _check_bins("histogram_bin_edges", bins)
    a = C.ravel(asarray(a))
    (a,) = _promote_inexact(a)
    a = lax.convert_element_type(a, _dtype(a))
    dtype = _dtype(a)
    if np.ndim(bins) == 1 or (hasattr(bins, "shape") and get_aval(asarray(bins)).ndim == 1):
        return lax.convert_element_type(asarray(bins), dtype)
    bins = _static_int(bins, "histogram bins")
    if bins < 1:
        raise ValueError(f"fx.numpy.histogram: bins must be positive, got {bins}")
    if range is None:
        if get_aval(a).shape[0] == 0:
            lo, hi = asarray(0.0, dtype), asarray(1.0, dtype)
        else:
            lo, hi = C.min(a), C.max(a)
    else:
        if len(range) != 2:
            raise ValueError(f"fx.numpy.histogram: range must be (min, max), got {range!r}")
        lo = lax.convert_element_type(asarray(range[0]), dtype)
        hi = lax.convert_element_type(asarray(range[1]), dtype)
    same = C.equal(lo, hi)
    lo = where(same, C.subtract(lo, 0.5), lo)
    hi = where(same, C.add(hi, 0.5), hi)
    return C.linspace(lo, hi, bins + 1)


def _bin_index(a, edges):
    """The index in 1..len(edges)-1 of each sample's bin (0 below, len(edges) above);
    the last bin includes its right edge."""
    from fx.numpy import searchsorted
    n = get_aval(edges).shape[0]
    idx = searchsorted(edges, a, side="right")
    return where(C.equal(a, edges[-1]), lax.full_like(idx, n - 1), idx)


def histogram(a, bins=10, range=None, weights=None, density=None):
    """Counts (or weight sums) of ``a``'s values in ``bins``.

    Args:
      a: samples (flattened).
      bins: the number of equal bins (static), or the bin edges (1-d, may be traced).
      range: ``(min, max)`` of the equal bins (default: the data's range).
      weights: optional weights of ``a``'s shape.
      density: normalise to a probability density.

    Returns:
      ``(hist, bin_edges)``; ``hist`` is floating (as JAX).

    Example:
      >>> fnp.histogram(fnp.array([0.0, 1.0, 1.0, 3.0]), bins=3)[0]
      Array([1., 2., 1.], dtype=float32)
    """
    _check_bins("histogram", bins)
    a = asarray(a)
    edges = histogram_bin_edges(a, bins, range, weights)
    a = lax.convert_element_type(C.ravel(a), _dtype(edges)) if not dtypes.is_inexact(
        _dtype(a)) else C.ravel(a)
    a, edges = _promote_inexact(a, edges)
    if weights is None:
        w = lax.full(get_aval(a).shape, 1, _dtype(edges))
    else:
        w = C.ravel(asarray(weights))
        if get_aval(w).shape != get_aval(a).shape:
            raise ValueError(f"fx.numpy.histogram: weights must have a's shape "
                             f"{get_aval(asarray(a)).shape}")
        (w,) = _promote_inexact(w)
        w = lax.convert_element_type(w, _dtype(w))
    n = get_aval(edges).shape[0]
    idx = _bin_index(a, edges)
    counts = lax.full((n + 1,), 0, _dtype(w)).at[idx].add(w, mode="drop")[1:n]
    if density:
        widths = diff(edges)
        counts = C.true_divide(C.true_divide(counts, C.sum(counts)), widths)
    return counts, edges


def histogramdd(sample, bins=10, range=None, weights=None, density=None):
    """A D-dimensional histogram of the rows of ``sample`` (N, D).

    Args:
      sample: an (N, D) array (or (N,) for D = 1).
      bins: one int for all dimensions, or per dimension an int or edges.
      range: per dimension ``(min, max)`` or None.
      weights: optional (N,) weights.
      density: normalise to a probability density.

    Returns:
      ``(hist, edges)`` with ``edges`` a list of D arrays.

    Example:
      >>> h, e = fnp.histogramdd(fnp.array([[0.0, 0.0], [1.0, 1.0]]), bins=2)
      >>> h
      Array([[1., 0.],
             [0., 1.]], dtype=float32)
    """
    sample = asarray(sample)
    if get_aval(sample).ndim == 1:
        sample = lax.reshape(sample, (get_aval(sample).shape[0], 1))
    if get_aval(sample).ndim != 2:
        raise ValueError(f"fx.numpy.histogramdd: sample must be (N, D), got shape "
                         f"{get_aval(sample).shape}")
    (sample,) = _promote_inexact(sample)
    sample = lax.convert_element_type(sample, _dtype(sample))
    num, dims = get_aval(sample).shape
    if isinstance(bins, (int, np.integer)):
        bins = [bins] * dims
    if len(bins) != dims:
        raise ValueError(f"fx.numpy.histogramdd: bins must have one entry per dimension "
                         f"({dims}), got {len(bins)}")
    range = [None] * dims if range is None else list(range)
    edges = [histogram_bin_edges(sample[:, d], bins[d], range[d]) for d in builtins.range(dims)]
    sizes = [get_aval(e).shape[0] + 1 for e in edges]  # bins plus two outlier slots
    flat = lax.full((num,), 0, dtypes.default_int_dtype())
    for d in builtins.range(dims):
        idx = _bin_index(sample[:, d], edges[d])
        flat = C.add(C.multiply(flat, sizes[d]), idx)
    if weights is None:  # integer counts, as JAX's (floats only with density)
        w = lax.full((num,), 1, dtypes.default_int_dtype())
    else:
        w = asarray(weights)
        (w,) = _promote_inexact(w)
        w = lax.convert_element_type(w, _dtype(w))
    total = int(np.prod(sizes, dtype=np.int64))
    hist = lax.full((total,), 0, _dtype(w)).at[flat].add(w, mode="drop")
    hist = lax.reshape(hist, tuple(sizes))
    hist = hist[tuple(slice(1, s - 1) for s in sizes)]
    if density:
        hist = C.true_divide(hist, C.sum(hist))
        for d in builtins.range(dims):
            widths = diff(edges[d])
            shape = [1] * dims
            shape[d] = get_aval(widths).shape[0]
            hist = C.true_divide(hist, lax.reshape(widths, tuple(shape)))
    return hist, edges


def histogram2d(x, y, bins=10, range=None, weights=None, density=None):
    """A 2-d histogram of the points ``(x, y)``.

    Returns:
      ``(hist, xedges, yedges)``.

    Example:
      >>> fnp.histogram2d(fnp.array([0.0, 1.0]), fnp.array([0.0, 1.0]), bins=2)[0]
      Array([[1., 0.],
             [0., 1.]], dtype=float32)
    """
    x, y = asarray(x), asarray(y)
    # as JAX: a sequence of one or two entries is per dimension (each an int or edges,
    # which may mix); any other length is one set of edges shared by both dimensions
    try:
        count = len(bins)
    except TypeError:
        count = 1
    if isinstance(bins, (int, np.integer)):
        bins = [bins, bins]
    elif count not in (1, 2):
        edges = asarray(bins)
        bins = [edges, edges]
    x, y = _promote_inexact(x, y)
    sample = C.stack([lax.convert_element_type(x, _dtype(x)),
                      lax.convert_element_type(y, _dtype(y))], axis=1)
    hist, edges = histogramdd(sample, bins, range, weights, density)
    return hist, edges[0], edges[1]
