"""``fx.numpy`` cumulative sums and products, sorting and searching, ``unique``
and the nonzero family.

Invariants: everything here is built on ``fx.lax`` (sort, top_k, cumsum,
slicing), so it traces and differentiates like any other fx code. Functions
whose output shape depends on the values (``unique``, ``nonzero``, ...) need
either a concrete argument or a static ``size=``; traced without ``size=``
they raise ``ConcretizationTypeError`` naming ``size=``. Index outputs are of
the default int dtype (int32 unless x64 is on).
"""
from __future__ import annotations

import collections
import numpy as np

from fx import core, dtypes, lax
from fx.core import get_aval
from fx.numpy._core import (_promote, _reduction_axes, asarray, logical_not, ravel,
                            reshape, sum, where)
from fx.numpy._jitted import library_jit

__all__ = ["cumsum", "cumprod", "cumulative_sum", "cumulative_prod", "nancumsum",
           "nancumprod", "sort", "argsort", "lexsort", "partition", "argpartition",
           "searchsorted", "sort_complex", "unique", "unique_values", "unique_counts",
           "unique_inverse", "unique_all", "nonzero", "argwhere", "flatnonzero",
           "count_nonzero"]


def _axis(name: str, axis, ndim: int) -> int:
    axis = core.concrete_or_error(axis, f"a traced axis passed to fx.numpy.{name}",
                                  "Axes must be static Python ints.")
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"fx.numpy.{name}: axis must be an int or None, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"fx.numpy.{name}: axis {axis} is out of bounds for an array of "
                         f"dimension {ndim}")
    return int(axis) % ndim


def _index_dtype():
    return dtypes.default_int_dtype()


def _iota(dtype, shape, dimension):
    return lax.broadcasted_iota(dtype, shape, dimension)


def _prefix(x, axis: int, size: int, fill):
    """The first ``size`` entries of ``x`` along ``axis``, padded with ``fill`` if short."""
    n = get_aval(x).shape[axis]
    if size <= n:
        return lax.slice_in_dim(x, 0, size, axis=axis)
    config = [(0, 0, 0)] * get_aval(x).ndim
    config[axis] = (0, size - n, 0)
    return lax.pad(x, np.asarray(fill, get_aval(x).dtype)[()], config)


def _shift_in(x, value):
    """``x`` moved one place towards the end of its single axis, ``value`` entering first."""
    n = get_aval(x).shape[0]
    head = lax.full((1,), value, get_aval(x).dtype)
    return lax.concatenate([head, lax.slice_in_dim(x, 0, n - 1)], 0)


# ---------------------------------------------------------------------------
# cumulative sums and products


def _promote_integer_dtype(dtype):
    """Booleans and integers narrower than the default int (uint) accumulate in it, as
    JAX's cumulative sums; other dtypes are kept."""
    if dtype == dtypes.bool_:
        return dtypes.default_int_dtype()
    if dtype.kind in "iu":
        wide = dtypes.default_int_dtype() if dtype.kind == "i" else dtypes.default_uint_dtype()
        if dtype.itemsize < wide.itemsize:
            return wide
    return dtype


def _cumulative(name, accumulate, a, axis, dtype, fill_nan=False, fill_value=0,
                promote_integers=False):
    """``accumulate(a, axis)`` with JAX's dtype rules: booleans (and, when
    ``promote_integers``, narrow integers) accumulate in the default int; ``dtype=bool``
    accumulates the truth values and converts back; NaNs become ``fill_value`` when
    ``fill_nan``. The order of operations is JAX's, so the printed jaxprs are JAX's."""
    a = asarray(a)
    aval = get_aval(a)
    if axis is None or aval.ndim == 0:
        a = lax.reshape(a, (aval.size,))
    axis = _axis(name, 0 if axis is None else axis, get_aval(a).ndim)
    if fill_nan:  # (integers and booleans too, as JAX)
        a = where(lax.ne(a, a), np.array(fill_value, aval.dtype), a)
    if dtype is None:
        result = computation = (_promote_integer_dtype(aval.dtype)
                                if promote_integers or aval.dtype == dtypes.bool_
                                else aval.dtype)
    else:
        result = dtypes.canonicalize_dtype(dtype)
        computation = result
        if result == dtypes.bool_:
            # a running or: accumulate the truth values (never the values, which could
            # cancel) in the default int
            if aval.dtype != result:
                a = lax.ne(a, np.array(0, aval.dtype))
            computation = _promote_integer_dtype(result)
    return lax.convert_element_type(accumulate(lax.convert_element_type(a, computation),
                                               axis), result)


def _cumulative_doc(fun, what, call, result):
    fun.__doc__ = f"""{what} of ``a`` along ``axis`` (of the flattened array when None),
    as JAX's ``jnp.{fun.__name__}`` (traced, a ``jit[name={fun.__name__}]`` equation
    binding the ``{fun.__name__.removeprefix("nan")}`` primitive).

    Booleans accumulate in the default int; other dtypes are kept unless ``dtype`` is
    given (``dtype=bool`` accumulates the truth values).

    Args:
      a: array-like.
      axis: the axis to accumulate along (static), or None to flatten first.
      dtype: the result dtype (static).

    Returns:
      An array of ``a``'s shape (1-D when ``axis`` is None).

    Example:
      >>> fx.numpy.{fun.__name__}({call})
      {result}
    """
    return fun


def _check_cumulative_out(name, out):
    if out is not None:
        raise NotImplementedError(f"The 'out' argument to fx.numpy.{name} is not supported")


@library_jit(static_argnames=("axis", "dtype"))
def cumsum(a, axis: int | None = None, dtype=None, out=None):
    _check_cumulative_out("cumsum", out)
    return _cumulative("cumsum", lax.cumsum, a, axis, dtype)


@library_jit(static_argnames=("axis", "dtype"))
def cumprod(a, axis: int | None = None, dtype=None, out=None):
    _check_cumulative_out("cumprod", out)
    return _cumulative("cumprod", lax.cumprod, a, axis, dtype)


@library_jit(static_argnames=("axis", "dtype"))
def nancumsum(a, axis: int | None = None, dtype=None, out=None):
    _check_cumulative_out("nancumsum", out)
    return _cumulative("nancumsum", lax.cumsum, a, axis, dtype, fill_nan=True,
                       fill_value=0)


@library_jit(static_argnames=("axis", "dtype"))
def nancumprod(a, axis: int | None = None, dtype=None, out=None):
    _check_cumulative_out("nancumprod", out)
    return _cumulative("nancumprod", lax.cumprod, a, axis, dtype, fill_nan=True,
                       fill_value=1)


_cumulative_doc(cumsum, "Cumulative sum", "fx.numpy.array([1, 2, 3])",
                "Array([1, 3, 6], dtype=int32)")
_cumulative_doc(cumprod, "Cumulative product", "fx.numpy.array([1., 2., 3.])",
                "Array([1., 2., 6.], dtype=float32)")
_cumulative_doc(nancumsum, "Cumulative sum treating NaN as zero",
                "fx.numpy.array([1., fx.numpy.nan, 2.])", "Array([1., 1., 3.], dtype=float32)")
_cumulative_doc(nancumprod, "Cumulative product treating NaN as one",
                "fx.numpy.array([2., fx.numpy.nan, 3.])", "Array([2., 2., 6.], dtype=float32)")


@library_jit(static_argnames=("axis", "dtype"))
def _cumsum_with_promotion(a, axis: int | None = None, dtype=None):
    return _cumulative("cumulative_sum", lax.cumsum, a, axis, dtype, promote_integers=True)


def _cumulative_api(name, accumulate, identity, x, axis, dtype, include_initial):
    x = asarray(x)
    ndim = get_aval(x).ndim
    if ndim == 0:
        raise ValueError(f"fx.numpy.{name} does not accept scalar (0-d) input")
    if axis is None:
        if ndim > 1:
            raise ValueError(f"fx.numpy.{name}: axis must be given for arrays of dimension "
                             f"{ndim} > 1")
        axis = 0
    axis = _axis(name, axis, ndim)
    if dtype is not None:
        dtype = dtypes.canonicalize_dtype(dtype)
    out = accumulate(x, axis=axis, dtype=dtype)
    if include_initial:
        shape = list(get_aval(x).shape)
        shape[axis] = 1
        head = lax.full(tuple(shape), identity, get_aval(out).dtype)
        out = lax.concatenate([head, out], axis)
    return out


def cumulative_sum(x, /, *, axis: int | None = None, dtype=None,
                   include_initial: bool = False):
    """The array-API cumulative sum; ``include_initial`` prepends a zero. Booleans and
    integers narrower than the default int accumulate in it, as JAX's.

    Args:
      x: an array of at least one dimension.
      axis: the axis (may be omitted for 1-D ``x``).
      dtype: the result dtype.
      include_initial: prepend the sum of no elements.

    Returns:
      The running sums.

    Example:
      >>> fx.numpy.cumulative_sum(fx.numpy.array([1, 2, 3]), include_initial=True)
      Array([0, 1, 3, 6], dtype=int32)
    """
    return _cumulative_api("cumulative_sum", _cumsum_with_promotion, 0, x, axis, dtype,
                           include_initial)


def _cumprod_unjitted(x, axis, dtype):
    return _cumulative("cumulative_prod", lax.cumprod, x, axis, dtype)


def cumulative_prod(x, /, *, axis: int | None = None, dtype=None,
                    include_initial: bool = False):
    """The array-API cumulative product; ``include_initial`` prepends a one (arguments as
    ``cumulative_sum``'s; as JAX's, only booleans are promoted).

    Example:
      >>> fx.numpy.cumulative_prod(fx.numpy.array([2, 3]), include_initial=True)
      Array([1, 2, 6], dtype=int32)
    """
    return _cumulative_api("cumulative_prod", _cumprod_unjitted, 1, x, axis, dtype,
                           include_initial)


# ---------------------------------------------------------------------------
# sorting


def _sort_input(name, a, axis, order):
    if order is not None:
        raise ValueError(f"fx.numpy.{name}: the 'order' argument is not supported")
    a = asarray(a)
    if axis is None:
        return ravel(a), 0
    if get_aval(a).ndim == 0:
        raise ValueError(f"fx.numpy.{name}: axis {axis} is out of bounds for a 0-d array")
    return a, _axis(name, axis, get_aval(a).ndim)


@library_jit(static_argnames=("axis", "kind", "order", "stable", "descending"))
def sort(a, axis: int | None = -1, *, kind=None, order=None, stable: bool = True,
         descending: bool = False):
    """``a`` sorted along ``axis`` (flattened when None); NaNs go last (first if descending).

    Args:
      a: array-like.
      axis: the axis to sort along, or None.
      stable: keep equal elements in order (fx's sort is always stable).
      descending: sort from largest to smallest.

    Returns:
      The sorted array.

    Example:
      >>> fx.numpy.sort(fx.numpy.array([3, 1, 2]), descending=True)
      Array([3, 2, 1], dtype=int32)
    """
    a, axis = _sort_input("sort", a, axis, order)
    out = lax.sort(a, dimension=axis, is_stable=stable)
    return lax.rev(out, (axis,)) if descending else out


@library_jit(static_argnames=("axis", "kind", "order", "stable", "descending", "dtype"))
def argsort(a, axis: int | None = -1, *, kind=None, order=None, stable: bool = True,
            descending: bool = False, dtype=None):
    """Indices that sort ``a`` along ``axis``; ties keep their order (also descending).

    Example:
      >>> fx.numpy.argsort(fx.numpy.array([3., 1., 2.]))
      Array([1, 2, 0], dtype=int32)
    """
    a, axis = _sort_input("argsort", a, axis, order)
    index_dtype = dtypes.canonicalize_dtype(dtype) if dtype is not None else _index_dtype()
    ramp = _iota(index_dtype, get_aval(a).shape, axis)
    if descending and stable:
        # sorting the reversed keys keeps ties in reverse order, and reversing the result
        # puts them back in order (as JAX's argsort, which this prints as)
        a, ramp = lax.rev(a, (axis,)), lax.rev(ramp, (axis,))
    _, perm = lax.sort((a, ramp), dimension=axis, is_stable=stable, num_keys=1)
    return lax.rev(perm, (axis,)) if descending else perm


def lexsort(keys, axis: int = -1):
    """Indices that sort by several keys, the last key the most significant.

    Args:
      keys: a sequence of arrays (or a 2-D array whose rows are keys), broadcast together.
      axis: the axis to sort along.

    Returns:
      The int index array.

    Example:
      >>> fx.numpy.lexsort([fx.numpy.array([1, 0, 1]), fx.numpy.array([0, 0, 1])])
      Array([1, 0, 2], dtype=int32)
    """
    if isinstance(keys, (list, tuple)):
        keys = [asarray(k) for k in keys]
    else:
        keys = asarray(keys)
        keys = [lax.index_in_dim(keys, i, 0, keepdims=False)
                for i in range(get_aval(keys).shape[0])]
    if not keys:
        raise TypeError("fx.numpy.lexsort needs at least one key")
    from fx.numpy._core import broadcast_arrays
    keys = broadcast_arrays(*keys)
    shape = get_aval(keys[0]).shape
    if not shape:
        raise TypeError("fx.numpy.lexsort needs keys of rank >= 1")
    axis = _axis("lexsort", axis, len(shape))
    ramp = _iota(_index_dtype(), shape, axis)
    outs = lax.sort((*keys[::-1], ramp), dimension=axis, is_stable=True,
                    num_keys=len(keys))
    return outs[-1]


def _check_kth(name, kth, n):
    kth = core.concrete_or_error(kth, f"a traced kth passed to fx.numpy.{name}",
                                 "kth must be a static int.")
    if not isinstance(kth, (int, np.integer)):
        raise TypeError(f"fx.numpy.{name}: kth must be an int, got {kth!r}")
    if not -n <= kth < n:
        raise ValueError(f"fx.numpy.{name}: kth={kth} out of bounds for an axis of size {n}")
    return int(kth) % n


def partition(a, kth: int, axis: int = -1):
    """``a`` rearranged so the ``kth`` element is where sorting would put it, smaller or
    equal ones before it (sorted, as JAX's) and larger or equal ones after it.

    Example:
      >>> fx.numpy.partition(fx.numpy.array([5, 4, 3, 2, 1, 0]), 2)
      Array([0, 1, 2, 5, 4, 3], dtype=int32)
    """
    a, axis = _sort_input("partition", a, axis, None)
    n = get_aval(a).shape[axis]
    kth = _check_kth("partition", kth, n)
    ordered = lax.sort(a, dimension=axis)
    low = lax.slice_in_dim(ordered, 0, kth + 1, axis=axis)
    high = lax.rev(lax.slice_in_dim(ordered, kth + 1, n, axis=axis), (axis,))
    return lax.concatenate([low, high], axis)


def argpartition(a, kth: int, axis: int = -1):
    """Indices that partition ``a``: those of the ``kth + 1`` smallest elements in sorted
    order, then the others in increasing index order (as JAX's).

    Example:
      >>> fx.numpy.argpartition(fx.numpy.array([5, 4, 3, 2, 1, 0]), 2)
      Array([5, 4, 3, 0, 1, 2], dtype=int32)
    """
    a, axis = _sort_input("argpartition", a, axis, None)
    n = get_aval(a).shape[axis]
    kth = _check_kth("argpartition", kth, n)
    perm = argsort(a, axis=axis)
    low = lax.slice_in_dim(perm, 0, kth + 1, axis=axis)
    high = lax.sort(lax.slice_in_dim(perm, kth + 1, n, axis=axis), dimension=axis)
    return lax.concatenate([low, high], axis)


def sort_complex(a):
    """``a`` sorted (by real part, then imaginary part) and returned as complex.

    Example:
      >>> fx.numpy.sort_complex(fx.numpy.array([3., 1.]))
      Array([1.+0.j, 3.+0.j], dtype=complex64)
    """
    a = sort(a)
    dtype = get_aval(a).dtype
    if not dtypes.is_complex(dtype):
        target = dtypes.complex128 if dtype == dtypes.float64 else \
            dtypes.default_complex_dtype() if dtype.itemsize >= 8 else dtypes.complex64
        a = lax.convert_element_type(a, target)
    return a


# ---------------------------------------------------------------------------
# searchsorted


def _permute_by(x, perm):
    """``x[perm]`` for a permutation ``perm`` of ``x``'s (single) axis, by two sorts."""
    ramp = _iota(get_aval(perm).dtype, get_aval(perm).shape, 0)
    rank = lax.sort((perm, ramp), num_keys=1)[1]
    return lax.sort((rank, x), num_keys=1)[1]


def searchsorted(a, v, side: str = "left", sorter=None, *, method: str = "scan"):
    """Indices where ``v``'s elements would be inserted into the sorted 1-D ``a``.

    Args:
      a: a sorted 1-D array (NaNs last), or any 1-D array with ``sorter``.
      v: the values to place (any shape).
      side: 'left' (first suitable index) or 'right' (last).
      sorter: indices that sort ``a``.
      method: 'scan', 'scan_unrolled' or 'sort' (one joint sort, O((N+M) log(N+M))),
        or 'compare_all' (O(N*M) comparisons, fastest for small ``a``).

    Returns:
      int32 indices of ``v``'s shape.

    Example:
      >>> fx.numpy.searchsorted(fx.numpy.array([1., 2., 3.]), fx.numpy.array([2., 5.]))
      Array([1, 3], dtype=int32)
    """
    if side not in ("left", "right"):
        raise ValueError(f"fx.numpy.searchsorted: side must be 'left' or 'right', got "
                         f"{side!r}")
    if method not in ("scan", "scan_unrolled", "sort", "compare_all"):
        raise ValueError(f"fx.numpy.searchsorted: method must be one of 'scan', "
                         f"'scan_unrolled', 'sort', 'compare_all', got {method!r}")
    a, v = _promote(a, v)
    if get_aval(a).ndim != 1:
        raise ValueError(f"fx.numpy.searchsorted: a must be 1-D, got shape "
                         f"{get_aval(a).shape}")
    if sorter is not None:
        a = _permute_by(a, lax.convert_element_type(asarray(sorter), dtypes.int32))
    out_shape = get_aval(v).shape
    values = ravel(v)
    n, m = get_aval(a).shape[0], get_aval(values).shape[0]
    if m == 0 or n == 0:
        return lax.full(out_shape, 0, dtypes.int32)
    if method == "compare_all" and not dtypes.is_complex(get_aval(a).dtype):
        counts = _count_before(a, values, side)
    else:
        counts = _count_before_by_sort(a, values, side)
    return reshape(counts, out_shape)


def _total_less(x, y):
    """``x < y`` in sort order (NaN largest)."""
    lt = lax.lt(x, y)
    if dtypes.is_inexact(get_aval(x).dtype):
        lt = lax.bitwise_or(lt, lax.bitwise_and(lax.eq(x, x), lax.ne(y, y)))
    return lt


def _count_before(a, values, side):
    n, m = get_aval(a).shape[0], get_aval(values).shape[0]
    grid_a = lax.broadcast_in_dim(a, (m, n), (1,))
    grid_v = lax.broadcast_in_dim(values, (m, n), (0,))
    before = _total_less(grid_a, grid_v) if side == "left" else logical_not(
        _total_less(grid_v, grid_a))
    return lax.reduce_sum(lax.convert_element_type(before, dtypes.int32), (1,))


def _count_before_by_sort(a, values, side):
    n, m = get_aval(a).shape[0], get_aval(values).shape[0]
    keys = lax.concatenate([a, values], 0)
    from_a = lax.concatenate([lax.full((n,), 1, dtypes.int32), lax.full((m,), 0, dtypes.int32)],
                             0)
    # on ties 'left' puts the values first, 'right' puts them after a's elements
    tie = from_a if side == "left" else lax.sub(lax.full((n + m,), 1, dtypes.int32), from_a)
    ramp = _iota(dtypes.int32, (n + m,), 0)
    _, _, a_sorted, where_from = lax.sort((keys, tie, from_a, ramp), num_keys=2)
    before = lax.cumsum(a_sorted, 0)
    _, counts = lax.sort((where_from, before), num_keys=1)
    return lax.slice_in_dim(counts, n, n + m)


# ---------------------------------------------------------------------------
# unique


def _concrete(name, x):
    return np.asarray(core.concrete_or_error(
        x, f"the argument of fx.numpy.{name}, whose output shape depends on its values",
        f"Pass a static `size=` to fx.numpy.{name} to trace it (e.g. under jit): the result "
        "is padded or truncated to that length."))


def unique(ar, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis: int | None = None, *, equal_nan: bool = True,
           size: int | None = None, fill_value=None, sorted: bool = True):
    """The sorted unique elements of ``ar``, optionally with first indices, the inverse
    and counts.

    Without ``size`` the argument must be concrete (not traced). With ``size`` the
    outputs have exactly ``size`` entries: extra slots hold ``fill_value`` (default:
    the smallest unique value) and, for indices, the smallest value's index; counts
    are 0 there.

    Args:
      ar: array-like (flattened unless ``axis`` is given; ``axis`` needs ``size=None``).
      return_index, return_inverse, return_counts: what else to return.
      equal_nan: count all NaNs as one value.
      size: static output length, for tracing.
      fill_value: the value of padding slots when ``size`` exceeds the number of uniques.

    Returns:
      The unique values, or a tuple with the requested extras (in that order).

    Example:
      >>> fx.numpy.unique(fx.numpy.array([3, 1, 1, 2]), size=5)
      Array([1, 2, 3, 1, 1], dtype=int32)
    """
    ar = asarray(ar)
    if size is None:
        return _unique_eager(ar, return_index, return_inverse, return_counts, axis,
                             equal_nan)
    if axis is not None:
        raise NotImplementedError("fx.numpy.unique with both axis= and size= is not "
                                  "implemented; flatten the input or drop size=")
    size = core.concrete_or_error(size, "the size passed to fx.numpy.unique",
                                  "size must be a static int.")
    if not isinstance(size, (int, np.integer)) or size < 0:
        raise ValueError(f"fx.numpy.unique: size must be a non-negative int, got {size!r}")
    return _unique_sized(ar, return_index, return_inverse, return_counts, equal_nan,
                         int(size), fill_value)


def _unique_eager(ar, return_index, return_inverse, return_counts, axis, equal_nan):
    value = _concrete("unique", ar)
    if axis is not None:
        axis = _axis("unique", axis, value.ndim)
    outs = np.unique(value, return_index=True, return_inverse=True, return_counts=True,
                     axis=axis, equal_nan=equal_nan)
    values, index, inverse, counts = outs
    if axis is None:
        inverse = inverse.reshape(value.shape)
    else:
        inverse = inverse.reshape(-1)
    index_dtype = _index_dtype()
    result = [asarray(values.astype(value.dtype, copy=False))]
    if return_index:
        result.append(asarray(index.astype(index_dtype)))
    if return_inverse:
        result.append(asarray(inverse.astype(index_dtype)))
    if return_counts:
        result.append(asarray(counts.astype(index_dtype)))
    return result[0] if len(result) == 1 else tuple(result)


def _unique_sized(ar, return_index, return_inverse, return_counts, equal_nan, size,
                  fill_value):
    flat = ravel(ar)
    dtype = get_aval(flat).dtype
    n = get_aval(flat).shape[0]
    index_dtype = _index_dtype()
    if n == 0:  # JAX's shapes: only the values are padded to ``size``
        if size and fill_value is None:
            raise ValueError("fx.numpy.unique: for zero-sized input with nonzero size "
                             "argument, fill_value must be specified")
        fill = lax.convert_element_type(asarray(0 if fill_value is None else fill_value),
                                        dtype)
        result = [lax.broadcast_in_dim(fill, (size,), ())]
        result += [lax.full((0,), 0, index_dtype)] * int(return_index)
        result += [lax.full(get_aval(ar).shape, 0, index_dtype)] * int(return_inverse)
        result += [lax.full((0,), 0, index_dtype)] * int(return_counts)
        return result[0] if len(result) == 1 else tuple(result)
    ramp = _iota(index_dtype, (n,), 0)
    ordered, perm = lax.sort((flat, ramp), num_keys=1)
    previous = _shift_in(ordered, 0)
    differs = lax.ne(ordered, previous)
    if equal_nan and dtypes.is_inexact(dtype):
        both_nan = lax.bitwise_and(lax.ne(ordered, ordered), lax.ne(previous, previous))
        differs = lax.bitwise_and(differs, logical_not(both_nan))
    starts = lax.bitwise_or(differs, lax.eq(ramp, lax.full((n,), 0, index_dtype)))
    num_unique = sum(starts, dtype=index_dtype)
    # the run starts first (in order), by a stable sort on "is not a start"
    _, values, first_index, start_pos = lax.sort((logical_not(starts), ordered, perm, ramp),
                                                 num_keys=1)
    slots = _iota(index_dtype, (size,), 0)
    present = lax.lt(slots, lax.broadcast_in_dim(num_unique, (size,), ()))

    def finish(x, fill):
        x = _prefix(x, 0, size, 0)
        fill = lax.broadcast_in_dim(lax.convert_element_type(fill, get_aval(x).dtype),
                                    (size,), ())
        return where(present, x, fill)

    smallest = lax.index_in_dim(values, 0, 0, keepdims=False)
    result = [finish(values, smallest if fill_value is None else asarray(fill_value))]
    if return_index:
        result.append(finish(first_index, lax.index_in_dim(first_index, 0, 0, keepdims=False)))
    if return_inverse:
        rank = lax.sub(lax.cumsum(lax.convert_element_type(starts, index_dtype), 0),
                       lax.full((n,), 1, index_dtype))
        _, inverse = lax.sort((perm, rank), num_keys=1)
        result.append(reshape(inverse, get_aval(ar).shape))
    if return_counts:
        in_use = lax.lt(ramp, lax.broadcast_in_dim(num_unique, (n,), ()))
        bounds = where(in_use, start_pos, lax.full((n,), n, index_dtype))
        following = lax.concatenate([lax.slice_in_dim(bounds, 1, n),
                                     lax.full((1,), n, index_dtype)], 0)
        counts = where(in_use, lax.sub(following, bounds), lax.full((n,), 0, index_dtype))
        result.append(finish(counts, np.asarray(0, index_dtype)))
    return result[0] if len(result) == 1 else tuple(result)


UniqueAllResult = collections.namedtuple("UniqueAllResult",
                                         ["values", "indices", "inverse_indices", "counts"])
UniqueCountsResult = collections.namedtuple("UniqueCountsResult", ["values", "counts"])
UniqueInverseResult = collections.namedtuple("UniqueInverseResult",
                                             ["values", "inverse_indices"])


def unique_values(x, /, *, size: int | None = None, fill_value=None):
    """The unique values of ``x`` (array API; see ``unique``).

    Example:
      >>> fx.numpy.unique_values(fx.numpy.array([2, 1, 2]))
      Array([1, 2], dtype=int32)
    """
    return unique(x, size=size, fill_value=fill_value)


def unique_counts(x, /, *, size: int | None = None, fill_value=None):
    """``(values, counts)`` of ``x``'s unique values (array API).

    Example:
      >>> fx.numpy.unique_counts(fx.numpy.array([2, 1, 2])).counts
      Array([1, 2], dtype=int32)
    """
    return UniqueCountsResult(*unique(x, return_counts=True, size=size,
                                      fill_value=fill_value))


def unique_inverse(x, /, *, size: int | None = None, fill_value=None):
    """``(values, inverse_indices)`` of ``x`` (array API; the inverse has ``x``'s shape).

    Example:
      >>> fx.numpy.unique_inverse(fx.numpy.array([2, 1, 2])).inverse_indices
      Array([1, 0, 1], dtype=int32)
    """
    return UniqueInverseResult(*unique(x, return_inverse=True, size=size,
                                       fill_value=fill_value))


def unique_all(x, /, *, size: int | None = None, fill_value=None):
    """``(values, indices, inverse_indices, counts)`` of ``x`` (array API).

    Example:
      >>> fx.numpy.unique_all(fx.numpy.array([2, 1, 2])).indices
      Array([1, 0], dtype=int32)
    """
    return UniqueAllResult(*unique(x, return_index=True, return_inverse=True,
                                   return_counts=True, size=size, fill_value=fill_value))


# ---------------------------------------------------------------------------
# nonzero, argwhere, flatnonzero, count_nonzero


def _truthy(a):
    a = asarray(a)
    if get_aval(a).dtype == dtypes.bool_:
        return a
    return lax.ne(a, lax.full_like(a, 0))


def _fill_values(fill_value, ndim):
    if fill_value is None:
        return [0] * ndim
    if isinstance(fill_value, (list, tuple)):
        if len(fill_value) != ndim:
            raise ValueError(f"fx.numpy.nonzero: fill_value must be a scalar or a tuple of "
                             f"length {ndim} (one per dimension), got {fill_value!r}")
        return list(fill_value)
    if get_aval(fill_value).shape not in ((), (ndim,)):
        raise ValueError(f"fx.numpy.nonzero: fill_value must be a scalar or have shape "
                         f"({ndim},), got shape {get_aval(fill_value).shape}")
    if get_aval(fill_value).shape == ():
        return [fill_value] * ndim
    fill = asarray(fill_value)
    return [lax.index_in_dim(fill, i, 0, keepdims=False) for i in range(ndim)]


def nonzero(a, *, size: int | None = None, fill_value=None):
    """Indices of ``a``'s nonzero elements, one index array per dimension.

    Without ``size`` the argument must be concrete; with it, each output has
    ``size`` entries (extra ones hold ``fill_value``, default 0; a tuple gives one
    fill per dimension), so it can be traced.

    Args:
      a: an array of rank >= 1.
      size: static number of indices to return.
      fill_value: value(s) of the padding slots.

    Returns:
      A tuple of int index arrays, in row-major order of the elements.

    Example:
      >>> fx.numpy.nonzero(fx.numpy.array([0, 3, 0, 4]), size=3, fill_value=-1)
      (Array([ 1,  3, -1], dtype=int32),)
    """
    a = asarray(a)
    shape = get_aval(a).shape
    if not shape:
        raise ValueError("Calling fx.numpy.nonzero on 0-d arrays is not allowed; use "
                         "fx.numpy.atleast_1d(a).nonzero() instead")
    index_dtype = _index_dtype()
    if size is None:
        value = _concrete("nonzero", a)
        return tuple(asarray(i.astype(index_dtype)) for i in np.nonzero(value))
    size = core.concrete_or_error(size, "the size passed to fx.numpy.nonzero",
                                  "size must be a static int.")
    if not isinstance(size, (int, np.integer)) or size < 0:
        raise ValueError(f"fx.numpy.nonzero: size must be a non-negative int, got {size!r}")
    fills = _fill_values(fill_value, len(shape))
    mask = ravel(_truthy(a))
    n = get_aval(mask).shape[0]
    ramp = _iota(index_dtype, (n,), 0)
    count = sum(mask, dtype=index_dtype)
    _, positions = lax.sort((logical_not(mask), ramp), num_keys=1)
    positions = _prefix(positions, 0, size, 0)
    slots = _iota(index_dtype, (size,), 0)
    present = lax.lt(slots, lax.broadcast_in_dim(count, (size,), ()))
    out = []
    stride = n
    for d, fill in zip(shape, fills):
        stride = stride // d if d else 0
        coord = positions
        if stride > 1:
            coord = lax.div(coord, lax.full_like(coord, stride))
        if d:
            coord = lax.rem(coord, lax.full_like(coord, d))
        fill = lax.convert_element_type(asarray(fill), index_dtype)
        out.append(where(present, coord, lax.broadcast_in_dim(fill, (size,), ())))
    return tuple(out)


def flatnonzero(a, *, size: int | None = None, fill_value=None):
    """Indices of the nonzero elements of the flattened ``a`` (see ``nonzero``).

    Example:
      >>> fx.numpy.flatnonzero(fx.numpy.array([[0, 1], [2, 0]]))
      Array([1, 2], dtype=int32)
    """
    return nonzero(ravel(asarray(a)), size=size, fill_value=fill_value)[0]


def argwhere(a, *, size: int | None = None, fill_value=None):
    """The indices of ``a``'s nonzero elements as a ``(count, a.ndim)`` array.

    Example:
      >>> fx.numpy.argwhere(fx.numpy.array([[0, 1], [2, 0]]))
      Array([[0, 1],
             [1, 0]], dtype=int32)
    """
    a = asarray(a)
    ndim = get_aval(a).ndim
    if ndim == 0:
        count = (size if size is not None
                 else int(bool(_concrete("argwhere", a))))
        return lax.full((count, 0), 0, _index_dtype())
    coords = nonzero(a, size=size, fill_value=fill_value)
    columns = [lax.expand_dims(c, (1,)) for c in coords]
    return lax.concatenate(columns, 1)


def count_nonzero(a, axis=None, keepdims: bool = False):
    """How many elements of ``a`` are nonzero along ``axis`` (all axes when None).

    Example:
      >>> fx.numpy.count_nonzero(fx.numpy.array([[0, 1], [2, 3]]), axis=1)
      Array([1, 2], dtype=int32)
    """
    a = asarray(a)
    _reduction_axes(axis, get_aval(a).ndim)  # validates axis
    return sum(_truthy(a), axis=axis, dtype=_index_dtype(), keepdims=keepdims)

