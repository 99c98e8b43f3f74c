"""``fx.numpy`` set operations on 1-d arrays: ``union1d``, ``intersect1d``,
``setdiff1d``, ``setxor1d`` and ``isin``.

Invariants: each set function sorts once and computes a boolean mask of the sorted
elements to keep; the result is those elements in order. Its length depends on the
values, so without ``size=`` the inputs must be concrete (a traced call raises a
``ConcretizationTypeError`` naming ``size=``); with ``size=`` the result is padded
with ``fill_value`` (JAX's defaults: the smallest result, or 0 for ``setdiff1d``) or
truncated. ``isin`` has a static shape and always traces.
"""
from __future__ import annotations

import numpy as np

from fx import core, dtypes, lax
from fx.core import get_aval
from fx.numpy import _core as C
from fx.numpy._core import _promote, asarray, where

__all__ = ["union1d", "intersect1d", "setdiff1d", "setxor1d", "isin"]


def _flat(name, x):
    x = asarray(x)
    return C.ravel(x)


def _static_size(name, size):
    if size is None:
        return None
    size = core.concrete_or_error(size, f"the size passed to fx.numpy.{name}",
                                  "size must be a static int.")
    if not isinstance(size, (int, np.integer)) or size < 0:
        raise ValueError(f"fx.numpy.{name}: size must be a non-negative int, got {size!r}")
    return int(size)


def _index_dtype():
    return dtypes.default_int_dtype()


def _firsts(sorted_values):
    """True at the first of each run of equal values in a sorted 1-d array."""
    n = get_aval(sorted_values).shape[0]
    if n == 0:
        return lax.full((0,), True, dtypes.bool_)
    head = lax.full((1,), True, dtypes.bool_)
    rest = lax.ne(sorted_values[1:], sorted_values[:-1])
    from fx.numpy import concatenate
    return concatenate([head, rest])


def _positions(name, mask, size):
    """The indices where ``mask`` is true, in order: concrete without ``size``; else
    padded to ``size`` (with n, one past the end) together with the true count."""
    n = get_aval(mask).shape[0]
    if size is None:
        concrete = np.asarray(core.concrete_or_error(
            mask, f"the arguments of fx.numpy.{name}, whose output shape depends on their "
                  "values",
            f"Pass a static `size=` to fx.numpy.{name} to trace it (e.g. under jit): the "
            "result is padded or truncated to that length."))
        idx = np.nonzero(concrete)[0].astype(_index_dtype())
        return asarray(idx), None
    iota = lax.iota(_index_dtype(), n)
    keys = where(mask, iota, lax.full_like(iota, n))
    ordered = lax.sort(keys) if n else keys
    if size <= n:
        ordered = ordered[:size]
    else:
        from fx.numpy import concatenate
        ordered = concatenate([ordered, lax.full((size - n,), n, _index_dtype())])
    count = C.sum(mask, dtype=_index_dtype())
    return ordered, count


def _gather(values, idx):
    n = get_aval(values).shape[0]
    if n == 0:
        return lax.full(get_aval(idx).shape, 0, get_aval(values).dtype)
    safe = C.clip(idx, 0, n - 1)
    from fx.numpy import take
    return take(values, safe, mode="clip")


def _finish(values, idx, count, size, fill_value, default_fill):
    out = _gather(values, idx)
    if size is None:
        return out
    slots = lax.iota(_index_dtype(), size)
    valid = lax.lt(slots, lax.broadcast_in_dim(count, (size,), ()))
    if fill_value is None:
        fill = default_fill(out, count)
    else:
        fill = lax.convert_element_type(asarray(fill_value), get_aval(out).dtype)
    return where(valid, out, fill)


def _smallest_or_zero(out, count):
    if get_aval(out).shape[0] == 0:
        return lax.full((), 0, get_aval(out).dtype)
    return where(lax.gt(count, lax.full_like(count, 0)), out[0],
                 lax.full((), 0, get_aval(out).dtype))


def _zero_fill(out, count):
    return lax.full((), 0, get_aval(out).dtype)


def _sorted_with_perm(x):
    """``x`` sorted (stably) and the permutation that sorts it."""
    n = get_aval(x).shape[0]
    iota = lax.iota(_index_dtype(), n)
    if n == 0:
        return x, iota
    values, perm = lax.sort((x, iota), num_keys=1)
    return values, perm


def union1d(ar1, ar2, *, size: int | None = None, fill_value=None):
    """The sorted unique values in either input.

    Args:
      ar1, ar2: arrays (flattened).
      size: static output length, for tracing; padding holds ``fill_value`` (default:
        the smallest value).
      fill_value: the padding value.

    Returns:
      A 1-d array.

    Example:
      >>> fnp.union1d(fnp.array([3, 1]), fnp.array([2, 1]))
      Array([1, 2, 3], dtype=int32)
    """
    from fx.numpy import concatenate, unique
    a, b = _promote(_flat("union1d", ar1), _flat("union1d", ar2))
    size = _static_size("union1d", size)
    return unique(concatenate([a, b]), size=size, fill_value=fill_value)


def setdiff1d(ar1, ar2, assume_unique: bool = False, *, size: int | None = None,
              fill_value=None):
    """The sorted unique values of ``ar1`` that are not in ``ar2``.

    Args:
      ar1, ar2: arrays (flattened).
      assume_unique: ``ar1`` has no repeated values (skips deduplication).
      size: static output length, for tracing; padding holds ``fill_value`` (default 0).
      fill_value: the padding value.

    Example:
      >>> fnp.setdiff1d(fnp.array([3, 1, 2]), fnp.array([1]))
      Array([2, 3], dtype=int32)
    """
    a, b = _promote(_flat("setdiff1d", ar1), _flat("setdiff1d", ar2))
    size = _static_size("setdiff1d", size)
    s = lax.sort(a) if get_aval(a).shape[0] else a
    mask = C.logical_not(isin(s, b))
    if not assume_unique:
        mask = C.logical_and(mask, _firsts(s))
    idx, count = _positions("setdiff1d", mask, size)
    return _finish(s, idx, count, size, fill_value, _zero_fill)


def intersect1d(ar1, ar2, assume_unique: bool = False, return_indices: bool = False, *,
                size: int | None = None, fill_value=None):
    """The sorted unique values in both inputs.

    Args:
      ar1, ar2: arrays (flattened).
      assume_unique: both inputs have no repeated values.
      return_indices: also return the indices of each value's first occurrence in
        ``ar1`` and ``ar2`` (padding slots hold each input's length).
      size: static output length, for tracing; padding holds ``fill_value`` (default:
        the smallest common value, or 0 when there is none).
      fill_value: the padding value.

    Returns:
      The values, or ``(values, indices1, indices2)``.

    Example:
      >>> fnp.intersect1d(fnp.array([3, 1, 2]), fnp.array([5, 1, 3]))
      Array([1, 3], dtype=int32)
    """
    a, b = _promote(_flat("intersect1d", ar1), _flat("intersect1d", ar2))
    size = _static_size("intersect1d", size)
    s1, perm1 = _sorted_with_perm(a)
    mask = isin(s1, b)
    if not assume_unique:
        mask = C.logical_and(mask, _firsts(s1))
    idx, count = _positions("intersect1d", mask, size)
    values = _finish(s1, idx, count, size, fill_value, _smallest_or_zero)
    if not return_indices:
        return values
    n1, n2 = get_aval(a).shape[0], get_aval(b).shape[0]
    ind1 = _gather(perm1, idx)
    s2, perm2 = _sorted_with_perm(b)
    from fx.numpy import searchsorted
    pos = searchsorted(s2, _gather(s1, idx)) if n2 else lax.full_like(idx, 0)
    ind2 = _gather(perm2, pos)
    if size is not None:
        slots = lax.iota(_index_dtype(), size)
        valid = lax.lt(slots, lax.broadcast_in_dim(count, (size,), ()))
        ind1 = where(valid, ind1, lax.full_like(ind1, n1))
        ind2 = where(valid, ind2, lax.full_like(ind2, n2))
    return values, ind1, ind2


def setxor1d(ar1, ar2, assume_unique: bool = False, *, size: int | None = None,
             fill_value=None):
    """The sorted values in exactly one of the inputs.

    Args:
      ar1, ar2: arrays (flattened).
      assume_unique: both inputs have no repeated values.
      size: static output length, for tracing; padding holds ``fill_value`` (default:
        the smallest value of the result).
      fill_value: the padding value.

    Example:
      >>> fnp.setxor1d(fnp.array([3, 1, 2]), fnp.array([5, 1]))
      Array([2, 3, 5], dtype=int32)
    """
    from fx.numpy import concatenate
    a, b = _promote(_flat("setxor1d", ar1), _flat("setxor1d", ar2))
    size = _static_size("setxor1d", size)
    parts, valid = [], []
    for x in (a, b):
        s = lax.sort(x) if get_aval(x).shape[0] else x
        parts.append(s)
        valid.append(_firsts(s) if not assume_unique else
                     lax.full(get_aval(s).shape, True, dtypes.bool_))
    values = concatenate(parts)
    ok = concatenate(valid)
    n = get_aval(values).shape[0]
    if n == 0:
        idx, count = _positions("setxor1d", ok, size)
        return _finish(values, idx, count, size, fill_value, _smallest_or_zero)
    # sort valid entries first (by value), duplicates-within-an-input last
    invalid_key = lax.convert_element_type(C.logical_not(ok), np.int32)
    invalid_key, sv = lax.sort((invalid_key, values), num_keys=2)
    vf = lax.eq(invalid_key, lax.full_like(invalid_key, 0))
    false = lax.full((1,), False, dtypes.bool_)
    same_prev = concatenate([false, C.logical_and(lax.eq(sv[1:], sv[:-1]), vf[:-1])])
    same_next = concatenate([C.logical_and(lax.eq(sv[:-1], sv[1:]), vf[1:]), false])
    mask = C.logical_and(vf, C.logical_not(C.logical_or(same_prev, same_next)))
    idx, count = _positions("setxor1d", mask, size)
    return _finish(sv, idx, count, size, fill_value, _smallest_or_zero)


def isin(element, test_elements, assume_unique: bool = False, invert: bool = False, *,
         method: str = "auto"):
    """Whether each element of ``element`` occurs in ``test_elements``.

    Args:
      element: an array (the output has its shape).
      test_elements: values to look for (flattened).
      assume_unique: ignored (accepted for NumPy compatibility).
      invert: return the negation.
      method: ``'compare_all'`` (O(N*M), best for small inputs), ``'sort'``
        (O((N+M) log M)) or ``'auto'`` (chooses by size).

    Returns:
      A bool array shaped like ``element``.

    Example:
      >>> fnp.isin(fnp.arange(4), fnp.array([1, 3]))
      Array([False,  True, False,  True], dtype=bool)
    """
    if method not in ("auto", "compare_all", "sort", "binary_search"):
        raise ValueError(f"fx.numpy.isin: method must be 'auto', 'compare_all', "
                         f"'binary_search' or 'sort', got {method!r}")
    element, test = _promote(asarray(element), asarray(test_elements))
    test = C.ravel(test)
    shape = get_aval(element).shape
    n_el, n_test = get_aval(element).size, get_aval(test).shape[0]
    if n_test == 0:
        out = lax.full(shape, False, dtypes.bool_)
    elif method == "compare_all" or (method == "auto" and n_el * n_test <= 1 << 16):
        flat = C.ravel(element)
        eq = lax.eq(lax.broadcast_in_dim(flat, (n_el, n_test), (0,)),
                    lax.broadcast_in_dim(test, (n_el, n_test), (1,)))
        out = lax.reshape(C.any(eq, axis=1), shape)
    else:
        from fx.numpy import searchsorted
        s = lax.sort(test)
        pos = C.clip(searchsorted(s, element), 0, n_test - 1)
        from fx.numpy import take
        out = lax.eq(take(s, pos, mode="clip"), element)
    return C.logical_not(out) if invert else out
