"""``fx.numpy`` reductions beyond the basic ones in ``_core``: the NaN-ignoring family
(``nansum`` ... ``nanpercentile``), ``median``/``quantile``/``percentile`` with all of
JAX's methods, ``ptp``, ``average``, ``cov`` and ``corrcoef``.

Invariants: order statistics sort along the reduced axes (moved last and flattened),
then gather at positions computed from ``q`` (which may be traced), so everything is
differentiable and batchable; a NaN anywhere in a lane makes that lane's result NaN
for the non-``nan`` functions, while the ``nan`` ones ignore NaNs and give NaN only for
all-NaN lanes. Results are floating unless stated.
"""
from __future__ import annotations

import builtins
import operator

import numpy as np

from fx import dtypes, lax
from fx.core import get_aval
from fx.numpy import _core as C
from fx.numpy._core import _check_array_args, _promote_inexact, _reduction_axes, asarray
from fx.numpy._core import where as _where
from fx.numpy._jitted import library_jit

__all__ = ["nansum", "nanprod", "nanmax", "nanmin", "nanargmax", "nanargmin", "nanmean",
           "nanvar", "nanstd", "nanmedian", "nanquantile", "nanpercentile", "median",
           "quantile", "percentile", "ptp", "average", "cov", "corrcoef"]


def _dtype(x):
    return get_aval(x).dtype


def _check_out(name, out):
    if out is not None:
        raise NotImplementedError(f"The 'out' argument to fx.numpy.{name} is not supported.")


def _inexact_dtype(dtype):
    """``dtype`` if inexact, else the default float (JAX's ``to_inexact_dtype``)."""
    return dtype if dtypes.is_inexact(dtype) else dtypes.default_float_dtype()


def _init_value(dtype, value):
    """``value`` as a strongly typed NumPy scalar of ``dtype`` (a reduction's identity,
    as JAX's ``_reduction_init_val``: the largest finite value for infinities of types
    without them)."""
    if dtype == dtypes.bool_:
        return np.array(value > 0, dtype)
    if np.isinf(value) and dtypes.is_inexact(dtype) and not _has_inf(dtype):
        value = dtypes.finfo(dtype).min if value < 0 else dtypes.finfo(dtype).max
    return np.array(value, dtype)


def _has_inf(dtype):
    with np.errstate(all="ignore"):
        return bool(np.isinf(np.array(np.inf).astype(dtype)))


def _nan_reduction(reduction, init_value, nan_if_all_nan, a, axis, keepdims, where_,
                   **kwargs):
    """``reduction`` over ``axis`` with NaNs replaced by ``init_value``; NaN where a whole
    lane is NaN when ``nan_if_all_nan`` (JAX's order of operations, so the printed jaxprs
    are JAX's)."""
    a = asarray(a)
    dtype = _dtype(a)
    if not dtypes.is_inexact(dtype):
        return reduction(a, axis=axis, keepdims=keepdims, where=where_, **kwargs)
    filled = _where(C.isnan(a), _init_value(dtype, init_value), a)
    out = reduction(filled, axis=axis, keepdims=keepdims, where=where_, **kwargs)
    if not nan_if_all_nan:
        return out
    return _where(C.all(C.isnan(a), axis=axis, keepdims=keepdims), np.array(np.nan, dtype),
                  out)


@library_jit(static_argnames=("axis", "dtype", "keepdims"))
def nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """Sum over ``axis`` treating NaN as zero (JAX's ``jnp.nansum``; traced, a
    ``jit[name=nansum]`` equation).

    Args:
      a: the array.
      axis: None (all axes), an int or a tuple of ints (static).
      dtype: the accumulation and result dtype.
      keepdims: keep the reduced axes with size 1.
      initial: a value added to each sum.
      where: optional boolean mask of the elements to include.

    Returns:
      The sum of the non-NaN elements.

    Example:
      >>> fnp.nansum(fnp.array([1.0, fnp.nan, 2.0]))
      Array(3., dtype=float32)
    """
    _check_out("nansum", out)
    return _nan_reduction(C.sum, 0, False, a, axis, keepdims, where, dtype=dtype,
                          initial=initial)


@library_jit(static_argnames=("axis", "dtype", "keepdims"))
def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """Product over ``axis`` treating NaN as one (JAX's ``jnp.nanprod``; traced, a
    ``jit[name=nanprod]`` equation). Arguments as ``nansum``'s.

    Example:
      >>> fnp.nanprod(fnp.array([2.0, fnp.nan, 3.0]))
      Array(6., dtype=float32)
    """
    _check_out("nanprod", out)
    return _nan_reduction(C.prod, 1, False, a, axis, keepdims, where, dtype=dtype,
                          initial=initial)


@library_jit(static_argnames=("axis", "keepdims"))
def nanmax(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Maximum over ``axis`` ignoring NaN, NaN where every element is NaN (unless
    ``initial`` is given). JAX's ``jnp.nanmax``; traced, a ``jit[name=nanmax]`` equation.

    Args:
      a, axis, keepdims, where: as ``nansum``'s.
      initial: a lower bound for each maximum (required with ``where``).

    Returns:
      The maximum of the non-NaN elements.

    Example:
      >>> fnp.nanmax(fnp.array([1.0, fnp.nan, 3.0]))
      Array(3., dtype=float32)
    """
    _check_out("nanmax", out)
    return _nan_reduction(C.max, -np.inf, initial is None, a, axis, keepdims,
                          where, initial=initial)


@library_jit(static_argnames=("axis", "keepdims"))
def nanmin(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Minimum over ``axis`` ignoring NaN (see ``nanmax``).

    Example:
      >>> fnp.nanmin(fnp.array([1.0, fnp.nan, 3.0]))
      Array(1., dtype=float32)
    """
    _check_out("nanmin", out)
    return _nan_reduction(C.min, np.inf, initial is None, a, axis, keepdims,
                          where, initial=initial)


def _nan_arg_reduction(reduction, fill, a, axis, keepdims):
    a = asarray(a)
    if not dtypes.is_inexact(_dtype(a)):
        return reduction(a, axis=axis, keepdims=keepdims)
    nan_mask = C.isnan(a)
    index = reduction(_where(nan_mask, fill, a), axis=axis, keepdims=keepdims)
    return _where(C.all(nan_mask, axis=axis, keepdims=keepdims), -1, index)


def _arg_axis(name, axis):
    if axis is None:
        return None
    try:
        return operator.index(axis)
    except TypeError:
        raise TypeError(f"fx.numpy.{name}: axis must be an int or None, got {axis!r}") \
            from None


@library_jit(static_argnames=("axis", "keepdims"))
def _nanargmax(a, axis=None, keepdims=False):
    return _nan_arg_reduction(C.argmax, -np.inf, a, axis, keepdims)


@library_jit(static_argnames=("axis", "keepdims"))
def _nanargmin(a, axis=None, keepdims=False):
    return _nan_arg_reduction(C.argmin, np.inf, a, axis, keepdims)


def nanargmax(a, axis=None, out=None, keepdims=None):
    """Index of the maximum ignoring NaN; -1 where every element is NaN (JAX's
    ``jnp.nanargmax``; traced, a ``jit[name=_nanargmax]`` equation).

    Args:
      a: the array.
      axis: an int, or None for the flattened array.
      keepdims: keep the reduced axis with size 1.

    Returns:
      Indices of the default int dtype.

    Example:
      >>> fnp.nanargmax(fnp.array([fnp.nan, 2.0, 1.0]))
      Array(1, dtype=int32)
    """
    _check_out("nanargmax", out)
    _check_array_args((a,))
    return _nanargmax(a, _arg_axis("nanargmax", axis), keepdims=bool(keepdims))


def nanargmin(a, axis=None, out=None, keepdims=None):
    """Index of the minimum ignoring NaN; -1 where every element is NaN (see
    ``nanargmax``).

    Example:
      >>> fnp.nanargmin(fnp.array([fnp.nan, 2.0, 1.0]))
      Array(2, dtype=int32)
    """
    _check_out("nanargmin", out)
    _check_array_args((a,))
    return _nanargmin(a, _arg_axis("nanargmin", axis), keepdims=bool(keepdims))


@library_jit(static_argnames=("axis", "dtype", "keepdims"))
def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, where=None):
    """Mean over ``axis`` ignoring NaN, NaN where every element is NaN (JAX's
    ``jnp.nanmean``; traced, a ``jit[name=nanmean]`` equation).

    Args:
      a, axis, keepdims, where: as ``nansum``'s.
      dtype: the computation and result dtype (default: ``a``'s inexact type).

    Returns:
      The mean of the non-NaN elements.

    Example:
      >>> fnp.nanmean(fnp.array([1.0, fnp.nan, 3.0]))
      Array(2., dtype=float32)
    """
    _check_out("nanmean", out)
    a = asarray(a)
    if not dtypes.is_inexact(_dtype(a)):
        return C.mean(a, axis, dtype, keepdims=keepdims, where=where)
    dtype = _dtype(a) if dtype is None else dtypes.canonicalize_dtype(dtype)
    valid = lax.bitwise_not(C.isnan(a))
    normalizer = C.sum(valid, axis=axis, dtype=dtype, keepdims=keepdims, where=where)
    total = nansum(a, axis, dtype=dtype, keepdims=keepdims, where=where)
    return lax.div(total, normalizer)


def _var_types(a_dtype, dtype):
    """(computation dtype, result dtype) of nanvar, as JAX's: complex input needs a
    complex ``dtype``; float16/bfloat16 compute in float32."""
    if dtype is not None:
        dtype = dtypes.canonicalize_dtype(dtype)
        if dtypes.is_complex(a_dtype) and not dtypes.is_complex(dtype):
            raise ValueError(f"fx.numpy.nanvar: dtype {dtype} is real but the input is "
                             f"{a_dtype}; pass a complex dtype (or none) for complex input")
        computation = dtype
    elif not dtypes.is_inexact(a_dtype):
        dtype = computation = dtypes.default_float_dtype()
    else:
        dtype, computation = np.dtype(np.array(0, a_dtype).real.dtype), a_dtype
    if computation in (np.dtype(np.float16), dtypes.bfloat16):
        computation = np.dtype(np.float32)
    return np.dtype(computation), np.dtype(dtype)


@library_jit(static_argnames=("axis", "dtype", "keepdims"))
def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None,
           mean=None):
    """Variance over ``axis`` ignoring NaN, with ``ddof`` degrees of freedom; NaN where
    fewer than ``ddof + 1`` elements are valid (JAX's ``jnp.nanvar``; traced, a
    ``jit[name=nanvar]`` equation).

    Args:
      a, axis, keepdims, where: as ``nansum``'s.
      dtype: the result dtype (float16/bfloat16 compute in float32).
      ddof: degrees of freedom subtracted from the count of valid elements.
      mean: a precomputed mean (with ``keepdims=True`` shape), or None.

    Returns:
      The variance of the non-NaN elements (real for complex input).

    Example:
      >>> fnp.nanvar(fnp.array([1.0, fnp.nan, 3.0]))
      Array(1., dtype=float32)
    """
    _check_out("nanvar", out)
    a = asarray(a)
    computation, dtype = _var_types(_dtype(a), dtype)
    a = lax.convert_element_type(a, computation) if _dtype(a) != computation else a
    if mean is None:
        mean = nanmean(a, axis, dtype=computation, keepdims=True, where=where)
    else:
        mean = asarray(mean)
        if _dtype(mean) != computation:
            mean = lax.convert_element_type(mean, computation)
    centered = _where(C.isnan(a), 0, C.subtract(a, mean))
    if dtypes.is_complex(_dtype(centered)):
        centered = lax.real(lax.mul(centered, lax.conj(centered)))
    else:
        centered = lax.square(centered)
    normalizer = C.sum(lax.bitwise_not(C.isnan(a)), axis=axis, keepdims=keepdims,
                       where=where)
    normalizer = C.subtract(normalizer, ddof)
    empty = lax.le(normalizer, np.array(0, _dtype(normalizer)))
    result = C.sum(centered, axis, keepdims=keepdims, where=where)
    result = _where(empty, np.nan, result)
    divisor = _where(empty, 1, normalizer)
    result = lax.div(result, lax.convert_element_type(divisor, _dtype(result)))
    return lax.convert_element_type(result, dtype) if _dtype(result) != dtype else result


@library_jit(static_argnames=("axis", "dtype", "keepdims"))
def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None,
           mean=None):
    """Standard deviation over ``axis`` ignoring NaN: ``sqrt(nanvar(...))`` (JAX's
    ``jnp.nanstd``; traced, a ``jit[name=nanstd]`` equation). Arguments as ``nanvar``'s.

    Example:
      >>> fnp.nanstd(fnp.array([1.0, fnp.nan, 3.0]))
      Array(1., dtype=float32)
    """
    _check_out("nanstd", out)
    return lax.sqrt(nanvar(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims,
                           where=where, mean=mean))


# ---------------------------------------------------------------------------
# order statistics

_METHODS = ("linear", "lower", "higher", "midpoint", "nearest", "inverted_cdf")


def _lanes(a, axis):
    """``a`` with the reduced axes moved last and flattened into one; the kept shape."""
    aval = get_aval(a)
    axes = _reduction_axes(axis, aval.ndim)
    kept = [i for i in range(aval.ndim) if i not in axes]
    moved = lax.transpose(a, kept + list(axes))
    kept_shape = tuple(aval.shape[i] for i in kept)
    n = int(np.prod([aval.shape[i] for i in axes], dtype=np.int64))
    return lax.reshape(moved, kept_shape + (n,)), axes, n


def _quantile(name, a, q, axis, method, keepdims, ignore_nan):
    if method not in _METHODS:
        raise ValueError(f"fx.numpy.{name}: method can only be one of {_METHODS}, got "
                         f"{method!r}")
    a = asarray(a)
    if dtypes.is_complex(_dtype(a)):
        raise TypeError(f"fx.numpy.{name} does not support complex input")
    (a,) = _promote_inexact(a)
    a = lax.convert_element_type(a, _dtype(a))
    dtype = _dtype(a)
    q = asarray(q)
    if get_aval(q).ndim > 1:
        raise ValueError(f"fx.numpy.{name}: q must have rank <= 1, got shape "
                         f"{get_aval(q).shape}")
    if dtypes.is_complex(_dtype(q)):
        raise TypeError(f"fx.numpy.{name}: q must be real, got dtype {_dtype(q).name}")
    q = lax.convert_element_type(q, dtype)
    in_shape = get_aval(a).shape
    lanes, axes, n = _lanes(a, axis)
    if n == 0:
        raise ValueError(f"fx.numpy.{name}: cannot take a quantile of an empty axis")
    kept_shape = get_aval(lanes).shape[:-1]
    ordered = lax.sort(lanes, dimension=-1)  # NaNs sort last
    nan_mask = C.isnan(lanes)
    if ignore_nan:
        count = C.sum(C.logical_not(nan_mask), axis=-1, dtype=dtype, keepdims=True)
    else:
        count = lax.full(kept_shape + (1,), n, dtype)
    q_flat = C.ravel(q)
    nq = get_aval(q_flat).shape[0]
    shape = kept_shape + (nq,)
    qb = lax.broadcast_in_dim(q_flat, shape, (len(shape) - 1,))
    countb = C.broadcast_to(count, shape)
    last = lax.sub(countb, np.array(1, dtype)[()])
    pos = lax.mul(qb, last)
    if method == "inverted_cdf":
        idx = lax.sub(lax.ceil(lax.mul(qb, countb)), np.array(1, dtype)[()])
        low = high = C.clip(idx, 0, None)
    else:
        low, high = lax.floor(pos), lax.ceil(pos)
    if method == "lower":
        high = low
    elif method == "higher":
        low = high
    elif method == "nearest":
        low = high = lax.round(pos, lax.RoundingMethod.TO_NEAREST_EVEN)
    zero = np.array(0, dtype)[()]

    def take(idx):
        idx = lax.clamp(zero, idx, lax.max(last, lax.full_like(last, 0)))
        idx = lax.convert_element_type(idx, np.int32)
        from fx.numpy import take_along_axis
        return take_along_axis(ordered, idx, axis=-1)

    lo_val, hi_val = take(low), take(high)
    if method == "linear":
        frac = lax.sub(pos, low)
        out = lax.add(lo_val, lax.mul(lax.sub(hi_val, lo_val), frac))
        # equal neighbours (or infinities) must not produce inf - inf
        out = _where(lax.eq(lo_val, hi_val), lo_val, out)
    elif method == "midpoint":
        out = lax.mul(lax.add(lo_val, hi_val), np.array(0.5, dtype)[()])
        out = _where(lax.eq(lo_val, hi_val), lo_val, out)
    else:
        out = lo_val
    if ignore_nan:
        bad = lax.eq(countb, lax.full_like(countb, 0))
    else:
        bad = C.broadcast_to(C.any(nan_mask, axis=-1, keepdims=True), shape)
    out = _where(bad, lax.full_like(out, np.nan), out)
    # q's axis goes first (NumPy's layout), then the kept (or size-1) axes
    nk = len(kept_shape)
    out = lax.transpose(out, (nk,) + tuple(range(nk)))
    if keepdims:
        out = lax.reshape(out, (nq,) + tuple(1 if i in axes else d
                                             for i, d in enumerate(in_shape)))
    if get_aval(q).ndim == 0:
        out = lax.reshape(out, get_aval(out).shape[1:])
    return out


def quantile(a, q, axis=None, out=None, overwrite_input: bool = False,
             method: str = "linear", keepdims: bool = False, *, interpolation=None):
    """The ``q``-th quantiles of ``a`` over ``axis``.

    Args:
      a: an array (integers are promoted to float).
      q: a scalar or 1-d array of probabilities in [0, 1] (may be traced).
      axis: an int, tuple of ints, or None (all axes).
      method: ``'linear'``, ``'lower'``, ``'higher'``, ``'midpoint'``, ``'nearest'``
        (ties to even, as NumPy) or ``'inverted_cdf'``.
      keepdims: keep the reduced axes with size 1.

    Returns:
      An array with ``q``'s axis first (when ``q`` is 1-d), then the remaining axes;
      NaN where a lane contains NaN.

    Example:
      >>> fnp.quantile(fnp.arange(5.0), 0.25)
      Array(1., dtype=float32)
    """
    _check_out("quantile", out)
    if interpolation is not None:
        raise TypeError("fx.numpy.quantile: 'interpolation' was renamed 'method'")
    return _quantile("quantile", a, q, axis, method, keepdims, ignore_nan=False)


def nanquantile(a, q, axis=None, out=None, overwrite_input: bool = False,
                method: str = "linear", keepdims: bool = False, *, interpolation=None):
    """``quantile`` ignoring NaN (NaN only for all-NaN lanes)."""
    _check_out("nanquantile", out)
    if interpolation is not None:
        raise TypeError("fx.numpy.nanquantile: 'interpolation' was renamed 'method'")
    return _quantile("nanquantile", a, q, axis, method, keepdims, ignore_nan=True)


def _percent(q):
    q = asarray(q)
    (q,) = _promote_inexact(q)
    return lax.div(q, np.array(100, _dtype(q))[()])


def percentile(a, q, axis=None, out=None, overwrite_input: bool = False,
               method: str = "linear", keepdims: bool = False, *, interpolation=None):
    """The ``q``-th percentiles (``q`` in [0, 100]); see ``quantile``.

    Example:
      >>> fnp.percentile(fnp.arange(5.0), 50)
      Array(2., dtype=float32)
    """
    return quantile(a, _percent(q), axis, out, overwrite_input, method, keepdims,
                    interpolation=interpolation)


def nanpercentile(a, q, axis=None, out=None, overwrite_input: bool = False,
                  method: str = "linear", keepdims: bool = False, *, interpolation=None):
    """``percentile`` ignoring NaN."""
    return nanquantile(a, _percent(q), axis, out, overwrite_input, method, keepdims,
                       interpolation=interpolation)


def median(a, axis=None, out=None, overwrite_input: bool = False, keepdims: bool = False):
    """The median over ``axis`` (the mean of the middle two for even counts).

    Example:
      >>> fnp.median(fnp.array([3.0, 1.0, 2.0, 10.0]))
      Array(2.5, dtype=float32)
    """
    return quantile(a, 0.5, axis, out, overwrite_input, "midpoint", keepdims)


def nanmedian(a, axis=None, out=None, overwrite_input: bool = False, keepdims: bool = False):
    """The median over ``axis`` ignoring NaN."""
    return nanquantile(a, 0.5, axis, out, overwrite_input, "midpoint", keepdims)


# ---------------------------------------------------------------------------
# spread and weighted means


def ptp(a, axis=None, out=None, keepdims: bool = False):
    """The range (maximum minus minimum) over ``axis``.

    Example:
      >>> fnp.ptp(fnp.array([4, 9, 2]))
      Array(7, dtype=int32)
    """
    _check_out("ptp", out)
    a = asarray(a)
    if _dtype(a) == dtypes.bool_:
        raise TypeError("fx.numpy.ptp does not accept dtype bool (subtraction of booleans "
                        "is undefined); convert with .astype(int) first")
    return lax.sub(C.max(a, axis, keepdims=keepdims), C.min(a, axis, keepdims=keepdims))


def average(a, axis=None, weights=None, returned: bool = False, keepdims: bool = False):
    """The weighted mean over ``axis``.

    Args:
      a: an array.
      axis: int, tuple of ints, or None.
      weights: None, an array of ``a``'s shape, or a 1-d array along a single ``axis``.
      returned: also return the sum of the weights (broadcast like the result).
      keepdims: keep reduced axes with size 1.

    Returns:
      The average, or ``(average, sum_of_weights)`` when ``returned``.

    Example:
      >>> fnp.average(fnp.array([1.0, 2.0, 3.0]), weights=fnp.array([3.0, 1.0, 0.0]))
      Array(1.25, dtype=float32)
    """
    a = asarray(a)
    aval = get_aval(a)
    if weights is None:
        if not dtypes.is_inexact(aval.dtype):  # (as JAX's: promoted first, then the mean)
            a = lax.convert_element_type(a, dtypes.default_float_dtype())
        avg = C.mean(a, axis, keepdims=keepdims)
        if not returned:
            return avg
        axes = _reduction_axes(axis, aval.ndim)
        count = int(np.prod([aval.shape[i] for i in axes], dtype=np.int64))
        return avg, lax.full_like(avg, count)
    weights = asarray(weights)
    a, weights = _promote_inexact(a, weights)
    a = lax.convert_element_type(a, _dtype(a))
    weights = lax.convert_element_type(weights, _dtype(weights))
    w_shape = get_aval(weights).shape
    if w_shape != aval.shape:
        if axis is None:
            raise ValueError(f"fx.numpy.average: weights of shape {w_shape} differ from a's "
                             f"shape {aval.shape}; pass axis= for 1-d weights")
        if len(w_shape) != 1:
            raise ValueError(f"fx.numpy.average: 1-d weights are required when their shape "
                             f"{w_shape} differs from a's shape {aval.shape}")
        axes = _reduction_axes(axis, aval.ndim)
        if len(axes) != 1 or aval.shape[axes[0]] != w_shape[0]:
            raise ValueError(f"fx.numpy.average: weights of length {w_shape[0]} must match "
                             f"the length of axis {axis} of a's shape {aval.shape}")
        weights = lax.broadcast_in_dim(weights, aval.shape, (axes[0],))
    total_w = C.sum(weights, axis, keepdims=keepdims)
    avg = C.true_divide(C.sum(C.multiply(a, weights), axis, keepdims=keepdims), total_w)
    if returned:
        if get_aval(total_w).shape != get_aval(avg).shape:
            total_w = C.broadcast_to(total_w, get_aval(avg).shape)
        return avg, total_w
    return avg


def cov(m, y=None, rowvar: bool = True, bias: bool = False, ddof=None, fweights=None,
        aweights=None):
    """The covariance matrix of the variables in ``m`` (rows, unless ``rowvar=False``).

    Args:
      m: a 1-d or 2-d array of observations.
      y: optional extra variables, stacked after ``m``'s.
      rowvar: whether each row is a variable (else each column).
      bias: normalise by N (else N - 1), unless ``ddof`` is given.
      ddof: delta degrees of freedom.
      fweights, aweights: integer frequency and real observation weights (1-d).

    Returns:
      A 2-d covariance matrix (0-d for a single variable).

    Example:
      >>> fnp.cov(fnp.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]))
      Array([[ 1., -1.],
             [-1.,  1.]], dtype=float32)
    """
    if ddof is not None and ddof != int(ddof):
        raise ValueError(f"fx.numpy.cov: ddof must be an integer, got {ddof!r}")
    m = asarray(m)
    if get_aval(m).ndim > 2:
        raise ValueError(f"fx.numpy.cov: m has more than 2 dimensions: shape "
                         f"{get_aval(m).shape}")
    (m,) = _promote_inexact(m)
    x = C.atleast_2d(lax.convert_element_type(m, _dtype(m)))
    if not rowvar and get_aval(x).shape[0] != 1:
        x = C.transpose(x)
    if get_aval(x).shape[0] == 0:
        return asarray([]).reshape(0, 0)
    if y is not None:
        (y,) = _promote_inexact(asarray(y))
        y = C.atleast_2d(lax.convert_element_type(y, _dtype(y)))
        if not rowvar and get_aval(y).shape[0] != 1:
            y = C.transpose(y)
        from fx.numpy import concatenate
        x = concatenate([x, y], axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    nobs = get_aval(x).shape[1]
    w = None
    if fweights is not None:
        fweights = asarray(fweights)
        if get_aval(fweights).shape != (nobs,):
            raise ValueError(f"fx.numpy.cov: fweights must be 1-d of length {nobs}")
        w = fweights
    if aweights is not None:
        aweights = asarray(aweights)
        if get_aval(aweights).shape != (nobs,):
            raise ValueError(f"fx.numpy.cov: aweights must be 1-d of length {nobs}")
        w = aweights if w is None else C.multiply(w, aweights)
    if w is None:
        avg = C.mean(x, axis=1)
        w_sum = np.array(nobs, _dtype(x))[()]
        fact = np.array(builtins.max(nobs - ddof, 0), _dtype(x))[()]
        xc = C.subtract(x, avg[:, None])
        xw = xc
    else:
        avg, w_sum = average(x, axis=1, weights=w, returned=True)
        w_sum = w_sum[0]
        if ddof == 0:
            fact = w_sum
        elif aweights is None:
            fact = C.subtract(w_sum, ddof)
        else:
            fact = C.subtract(w_sum, C.true_divide(C.multiply(ddof, C.sum(
                C.multiply(w, aweights))), w_sum))
        xc = C.subtract(x, avg[:, None])
        xw = C.multiply(xc, w)
    from fx.numpy import matmul
    c = matmul(xw, C.conjugate(C.transpose(xc)))
    c = C.true_divide(c, C.maximum(fact, 0) if not isinstance(fact, np.generic) else fact)
    return C.squeeze(c)


def corrcoef(x, y=None, rowvar: bool = True):
    """Pearson correlation coefficients (the covariance normalised by the standard
    deviations, clipped to [-1, 1] for real input).

    Example:
      >>> fnp.corrcoef(fnp.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.5]]))[0, 1]
      Array(-0.9819805, dtype=float32)
    """
    c = cov(x, y, rowvar)
    if get_aval(c).ndim == 0:
        return C.true_divide(c, c)
    from fx.numpy import diagonal
    d = diagonal(c)
    std = C.sqrt(C.real(d)) if dtypes.is_complex(_dtype(d)) else C.sqrt(d)
    c = C.true_divide(C.true_divide(c, std[:, None]), std[None, :])
    if dtypes.is_complex(_dtype(c)):
        return lax.complex(C.clip(C.real(c), -1, 1), C.clip(C.imag(c), -1, 1))
    return C.clip(c, -1, 1)
