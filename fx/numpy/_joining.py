"""Joining, splitting, reordering and taking: ``concatenate`` and the stacks,
``split`` and friends, ``flip``/``roll``/``rot90``, ``tile``/``repeat``,
``append``/``delete``/``insert``, and ``pad`` (``take`` and friends come from
``_take`` and are re-exported here).

Invariants: shapes, axes, split points and (unless stated) index arguments are
static; everything lowers to slice, rev, concatenate, broadcast/reshape, gather
and scatter, so every function differentiates, batches and jits. Dtypes are
promoted as ``fx.numpy`` does elsewhere (JAX's lattice with weak types).
"""
from __future__ import annotations

import builtins
import operator

import numpy as np

from fx import core, dtypes, lax
from fx.array import Array
from fx.core import Tracer, get_aval
from fx.numpy import _core as C
from fx.numpy._indexing import getitem
from fx.numpy._jitted import library_jit
from fx.numpy._take import (_along, _arr, _axis, _static, put_along_axis,  # noqa: F401
                             take, take_along_axis)
from primitives.slicing import slice_p

__all__ = ["concatenate", "concat", "hstack", "vstack", "dstack", "column_stack", "split",
           "array_split", "hsplit", "vsplit", "dsplit", "flip", "fliplr", "flipud", "roll",
           "tile", "repeat", "pad", "rot90", "append", "delete", "insert", "take",
           "take_along_axis", "put_along_axis"]


# ---------------------------------------------------------------------------
# joining


def concatenate(arrays, axis: int | None = 0, dtype=None):
    """Join ``arrays`` along an existing ``axis`` (``axis=None`` flattens them first).

    Args:
      arrays: a sequence of arrays (or one array, whose leading entries are joined).
      axis: the axis to join along, or None.
      dtype: the result dtype (default: the promoted dtype of ``arrays``).

    Returns:
      The joined array.

    Example:
      >>> fx.numpy.concatenate([fx.numpy.zeros(2), fx.numpy.arange(3)])
      Array([0., 0., 0., 1., 2.], dtype=float32)
    """
    if isinstance(arrays, (Array, Tracer, np.ndarray)):
        arrays = [arrays[i] for i in range(len(arrays))]
    arrays = list(arrays)
    if not arrays:
        raise ValueError("Need at least one array to concatenate.")
    if dtype is not None:
        dtype = dtypes.canonicalize_dtype(dtype)
        arrays = [C.asarray(a, dtype) for a in arrays]
    else:
        arrays = C._promote(*arrays)
    if axis is None:
        arrays = [C.ravel(a) for a in arrays]
        axis = 0
    ndim = get_aval(arrays[0]).ndim
    if ndim == 0:
        raise ValueError("Zero-dimensional arrays cannot be concatenated.")
    for a in arrays[1:]:
        if get_aval(a).ndim != ndim:
            raise ValueError(f"all the input arrays must have same number of dimensions, got "
                             f"shapes {[get_aval(b).shape for b in arrays]}")
    axis = _axis(axis, ndim)
    return lax.concatenate(arrays, axis)


def concat(arrays, /, *, axis: int | None = 0):
    """The array API's name for ``concatenate``.

    Example:
      >>> fx.numpy.concat([fx.numpy.ones(1), fx.numpy.zeros(1)])
      Array([1., 0.], dtype=float32)
    """
    return concatenate(arrays, axis=axis)


def _atleast_3d(a):
    a = _arr(a)
    shape = get_aval(a).shape
    if len(shape) == 0:
        return lax.reshape(a, (1, 1, 1))
    if len(shape) == 1:
        return lax.reshape(a, (1, shape[0], 1))
    if len(shape) == 2:
        return lax.reshape(a, shape + (1,))
    return a


def hstack(tup, dtype=None):
    """Join along axis 1 (axis 0 for 1-D arrays).

    Example:
      >>> fx.numpy.hstack([fx.numpy.ones(2), fx.numpy.zeros(1)])
      Array([1., 1., 0.], dtype=float32)
    """
    arrs = [C.atleast_1d(a) for a in tup]
    return concatenate(arrs, axis=0 if get_aval(arrs[0]).ndim == 1 else 1, dtype=dtype)


def vstack(tup, dtype=None):
    """Join along axis 0, treating 1-D arrays as rows.

    Example:
      >>> fx.numpy.vstack([fx.numpy.ones(2), fx.numpy.zeros(2)]).shape
      (2, 2)
    """
    return concatenate([C.atleast_2d(a) for a in tup], axis=0, dtype=dtype)


def dstack(tup, dtype=None):
    """Join along axis 2 (depth), promoting inputs to 3-D.

    Example:
      >>> fx.numpy.dstack([fx.numpy.ones(2), fx.numpy.zeros(2)]).shape
      (1, 2, 2)
    """
    return concatenate([_atleast_3d(a) for a in tup], axis=2, dtype=dtype)


def column_stack(tup):
    """Stack 1-D arrays as the columns of a 2-D array (2-D inputs join along axis 1).

    Example:
      >>> fx.numpy.column_stack([fx.numpy.arange(2), fx.numpy.arange(2)])
      Array([[0, 0],
             [1, 1]], dtype=int32)
    """
    cols = []
    for a in tup:
        a = _arr(a)
        shape = get_aval(a).shape
        if len(shape) < 2:
            a = lax.reshape(a, (shape[0] if shape else 1, 1))
        cols.append(a)
    return concatenate(cols, axis=1)


def append(arr, values, axis: int | None = None):
    """``arr`` with ``values`` joined at the end (both flattened when ``axis`` is None).

    Example:
      >>> fx.numpy.append(fx.numpy.arange(2), 5)
      Array([0, 1, 5], dtype=int32)
    """
    if axis is None:
        return concatenate([C.ravel(_arr(arr)), C.ravel(_arr(values))], axis=0)
    return concatenate([arr, values], axis=axis)


# ---------------------------------------------------------------------------
# splitting


def _split(name, ary, indices_or_sections, axis, equal):
    ary = _arr(ary)
    shape = get_aval(ary).shape
    axis = _axis(axis, len(shape))
    size = shape[axis]
    sections = _static(indices_or_sections, f"{name} indices_or_sections")
    if isinstance(sections, (int, np.integer)) or np.ndim(sections) == 0:
        n = int(np.asarray(sections))
        if n <= 0:
            raise ValueError(f"{name}: number of sections must be larger than 0, got {n}")
        if equal and size % n:
            raise ValueError(f"array split does not result in an equal division: rest is "
                             f"{size % n}")
        quotient, rest = divmod(size, n)
        sizes = [quotient + 1] * rest + [quotient] * (n - rest)
        points = np.cumsum([0] + sizes).tolist()
        bounds = list(zip(points[:-1], points[1:], strict=True))
    else:
        points = [int(p) for p in np.asarray(sections).reshape(-1)]
        edges = [0] + points + [size]
        bounds = [slice(a, b).indices(size)[:2] for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return [getitem(ary, _along(axis, len(shape), slice(a, builtins.max(a, b))))
            for a, b in bounds]


def split(ary, indices_or_sections, axis: int = 0):
    """Split into equal sections (an int) or at the given indices (a sequence).

    Returns:
      A list of arrays.

    Example:
      >>> [a.shape for a in fx.numpy.split(fx.numpy.arange(6), [1, 4])]
      [(1,), (3,), (2,)]
    """
    return _split("split", ary, indices_or_sections, axis, equal=True)


def array_split(ary, indices_or_sections, axis: int = 0):
    """Like ``split``, but an int number of sections need not divide the axis evenly
    (the first ``size % n`` sections get one extra element).

    Example:
      >>> [a.shape for a in fx.numpy.array_split(fx.numpy.arange(7), 3)]
      [(3,), (2,), (2,)]
    """
    return _split("array_split", ary, indices_or_sections, axis, equal=False)


def hsplit(ary, indices_or_sections):
    """``split`` along axis 1 (axis 0 for 1-D arrays).

    Example:
      >>> [a.shape for a in fx.numpy.hsplit(fx.numpy.zeros((2, 4)), 2)]
      [(2, 2), (2, 2)]
    """
    ary = _arr(ary)
    ndim = get_aval(ary).ndim
    if ndim == 0:
        raise ValueError("hsplit only works on arrays of 1 or more dimensions")
    return split(ary, indices_or_sections, axis=0 if ndim == 1 else 1)


def vsplit(ary, indices_or_sections):
    """``split`` along axis 0 of an array of rank >= 2.

    Example:
      >>> [a.shape for a in fx.numpy.vsplit(fx.numpy.zeros((4, 2)), [1])]
      [(1, 2), (3, 2)]
    """
    ary = _arr(ary)
    if get_aval(ary).ndim < 2:
        raise ValueError("vsplit only works on arrays of 2 or more dimensions")
    return split(ary, indices_or_sections, axis=0)


def dsplit(ary, indices_or_sections):
    """``split`` along axis 2 of an array of rank >= 3.

    Example:
      >>> [a.shape for a in fx.numpy.dsplit(fx.numpy.zeros((1, 1, 4)), 2)]
      [(1, 1, 2), (1, 1, 2)]
    """
    ary = _arr(ary)
    if get_aval(ary).ndim < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return split(ary, indices_or_sections, axis=2)


# ---------------------------------------------------------------------------
# reordering


def _axes(axis, ndim) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = tuple(_axis(a, ndim) for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis}")
    return out


def flip(m, axis=None):
    """``m`` with the order of elements reversed along ``axis`` (all axes if None).

    Example:
      >>> fx.numpy.flip(fx.numpy.arange(3))
      Array([2, 1, 0], dtype=int32)
    """
    m = _arr(m)
    return _flip(m, _axes(axis, get_aval(m).ndim))


@library_jit(static_argnums=(1,))
def _flip(m, axes: tuple):
    """``rev`` over ``axes``: a ``jit`` named ``_flip`` under a trace, as JAX's."""
    return lax.rev(m, axes)


def fliplr(m):
    """``flip`` along axis 1 (needs rank >= 2).

    Example:
      >>> fx.numpy.fliplr(fx.numpy.arange(4).reshape(2, 2))
      Array([[1, 0],
             [3, 2]], dtype=int32)
    """
    m = _arr(m)
    if get_aval(m).ndim < 2:
        raise ValueError("fliplr requires an array of rank >= 2")
    return flip(m, 1)


def flipud(m):
    """``flip`` along axis 0 (needs rank >= 1).

    Example:
      >>> fx.numpy.flipud(fx.numpy.arange(3))
      Array([2, 1, 0], dtype=int32)
    """
    m = _arr(m)
    if get_aval(m).ndim < 1:
        raise ValueError("flipud requires an array of rank >= 1")
    return flip(m, 0)


def rot90(m, k: int = 1, axes: tuple[int, int] = (0, 1)):
    """Rotate ``m`` by 90 degrees ``k`` times in the plane of ``axes``.

    Example:
      >>> fx.numpy.rot90(fx.numpy.arange(4).reshape(2, 2))
      Array([[1, 3],
             [0, 2]], dtype=int32)
    """
    m = _arr(m)
    ndim = get_aval(m).ndim
    if len(axes) != 2:
        raise ValueError("len(axes) must be 2.")
    a0, a1 = _axis(axes[0], ndim), _axis(axes[1], ndim)
    if a0 == a1:
        raise ValueError(f"Axes must be different, got {axes}")
    k = int(_static(k, "rot90 k")) % 4
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, a0), a1)
    perm = list(range(ndim))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return lax.transpose(flip(m, a1), perm)
    return flip(lax.transpose(m, perm), a1)


def roll(a, shift, axis=None):
    """Shift elements of ``a`` cyclically by ``shift`` along ``axis`` (the flattened
    array when None). ``shift`` may be traced.

    Example:
      >>> fx.numpy.roll(fx.numpy.arange(5), 2)
      Array([3, 4, 0, 1, 2], dtype=int32)
    """
    a = _arr(a)
    if axis is None:
        return lax.reshape(roll(C.ravel(a), shift, 0), get_aval(a).shape)
    shape = get_aval(a).shape
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = [_axis(ax, len(shape)) for ax in axes]
    if isinstance(shift, (Array, Tracer)) and get_aval(shift).ndim:
        shifts = [shift[i] for i in range(get_aval(shift).shape[0])]
    elif isinstance(shift, (list, tuple, np.ndarray)):
        shifts = list(np.asarray(shift).reshape(-1)) if isinstance(shift, np.ndarray) \
            else list(shift)
    else:
        shifts = [shift]
    if len(shifts) == 1:
        shifts = shifts * len(axes)
    elif len(axes) == 1:
        axes = axes * len(shifts)
    if len(shifts) != len(axes):
        raise ValueError(f"roll: shift {shift!r} and axis {axis!r} must broadcast together")
    if not builtins.any(isinstance(s, (Array, Tracer)) for s in shifts):
        return _roll_static(a, tuple(operator.index(s) for s in shifts), tuple(axes))
    for s, ax in zip(shifts, axes, strict=True):
        a = _roll_one(a, s, ax)
    return a


@library_jit(static_argnums=(1, 2))
def _roll_static(a, shifts: tuple, axes: tuple):
    """Static shifts: the two slices of each axis swapped (a ``jit`` named
    ``_roll_static`` under a trace, as JAX's)."""
    for shift, axis in zip(shifts, axes, strict=True):
        shape = get_aval(a).shape
        n = shape[axis]
        if n == 0:
            continue
        cut = -shift % n
        nd = len(shape)
        pieces = []
        for start, stop in ((cut, n), (0, cut)):
            starts = tuple(start if d == axis else 0 for d in range(nd))
            limits = tuple(stop if d == axis else shape[d] for d in range(nd))
            # bound directly: lax.slice skips a full slice, which JAX's prints
            pieces.append(slice_p.bind(a, start_indices=starts, limit_indices=limits,
                                       strides=(1,) * nd))
        a = lax.concatenate(pieces, axis)
    return a


def _roll_one(a, shift, axis):
    shape = get_aval(a).shape
    n = shape[axis]
    if n == 0:
        return a
    concrete = shift.to_concrete_value() if isinstance(shift, Tracer) else shift
    if concrete is not None:
        s = int(np.asarray(concrete)) % n
        if s == 0:
            return a
        nd = len(shape)
        return lax.concatenate([getitem(a, _along(axis, nd, slice(n - s, None))),
                                getitem(a, _along(axis, nd, slice(0, n - s)))], axis)
    shift = lax.convert_element_type(shift, np.int32)
    start = C.remainder(lax.sub(np.int32(n), C.remainder(shift, np.int32(n))), np.int32(n))
    doubled = lax.concatenate([a, a], axis)
    return lax.dynamic_slice_in_dim(doubled, start, n, axis)


def tile(A, reps):
    """``A`` repeated ``reps`` times along each axis (NumPy's rank rules).

    Example:
      >>> fx.numpy.tile(fx.numpy.arange(2), (2, 2))
      Array([[0, 1, 0, 1],
             [0, 1, 0, 1]], dtype=int32)
    """
    A = _arr(A)
    reps = _static(reps, "tile reps")
    reps = (int(reps),) if np.ndim(reps) == 0 else tuple(int(r) for r in reps)
    shape = get_aval(A).shape
    ndim = builtins.max(len(shape), len(reps))
    shape = (1,) * (ndim - len(shape)) + shape
    reps = (1,) * (ndim - len(reps)) + reps
    if builtins.any(r < 0 for r in reps):
        raise ValueError(f"tile: reps must be non-negative, got {reps}")
    A = lax.reshape(A, shape)
    big = tuple(d for pair in zip(reps, shape, strict=True) for d in pair)
    out = lax.broadcast_in_dim(A, big, tuple(range(1, 2 * ndim, 2)))
    return lax.reshape(out, tuple(r * d for r, d in zip(reps, shape, strict=True)))


def repeat(a, repeats, axis: int | None = None, *, total_repeat_length: int | None = None,
           out_sharding=None):
    """Repeat each element of ``a`` ``repeats`` times along ``axis``.

    ``repeats`` (an int or one count per element) may be traced when
    ``total_repeat_length`` gives the static output length; the result is cut to, or
    padded with the last element to, ``total_repeat_length`` when given.

    Example:
      >>> fx.numpy.repeat(fx.numpy.arange(3), fx.numpy.array([1, 0, 2]))
      Array([0, 2, 2], dtype=int32)
    """
    a = _arr(a)
    if axis is None:
        a = C.ravel(a)
        axis = 0
    shape = get_aval(a).shape
    axis = _axis(axis, len(shape))
    n = shape[axis]
    concrete = repeats.to_concrete_value() if isinstance(repeats, Tracer) else repeats
    if concrete is None:
        if total_repeat_length is None:
            raise core.ConcretizationTypeError(
                repeats, "the traced `repeats` argument of fx.numpy.repeat",
                "Pass `total_repeat_length` to give the output a static size.")
        return _repeat_traced(a, repeats, axis, int(total_repeat_length))
    counts = np.asarray(concrete)
    if counts.ndim == 0 and total_repeat_length is None:
        r = int(counts)
        if r < 0:
            raise ValueError(f"repeat: repeats must be non-negative, got {r}")
        expanded = lax.broadcast_in_dim(a, shape[:axis + 1] + (r,) + shape[axis + 1:],
                                        tuple(d if d <= axis else d + 1
                                              for d in range(len(shape))))
        return lax.reshape(expanded, shape[:axis] + (n * r,) + shape[axis + 1:])
    counts = np.broadcast_to(counts, (n,)) if counts.ndim == 0 else counts.reshape(-1)
    if counts.shape != (n,):
        raise ValueError(f"repeat: repeats has {counts.shape[0]} entries for an axis of size "
                         f"{n}")
    if (counts < 0).any():
        raise ValueError("repeat: repeats must be non-negative")
    index = np.repeat(np.arange(n), counts)
    if total_repeat_length is not None:
        length = int(total_repeat_length)
        if index.size >= length:
            index = index[:length]
        else:
            index = np.concatenate([index, np.full(length - index.size, n - 1)])
    if index.size and n == 0:
        raise ValueError("repeat: cannot repeat elements of an empty axis")
    if index.size == 0:
        return C.zeros(shape[:axis] + (0,) + shape[axis + 1:], get_aval(a).dtype)
    return getitem(a, _along(axis, len(shape), index.astype(np.int32)))


def _repeat_traced(a, repeats, axis, length):
    shape = get_aval(a).shape
    n = shape[axis]
    counts = C.asarray(repeats)
    counts = lax.convert_element_type(counts, np.int32)
    if get_aval(counts).ndim == 0:
        counts = lax.broadcast_in_dim(counts, (n,), ())
    # ends[i] = counts[0] + ... + counts[i]; output position p takes element #(ends <= p)
    lower = np.tril(np.ones((n, n), np.int32))
    ends = C.sum(C.multiply(lax.broadcast_in_dim(counts, (n, n), (1,)), lower), axis=1)
    positions = lax.iota(np.int32, length)
    passed = C.less_equal(lax.broadcast_in_dim(ends, (length, n), (1,)),
                          lax.broadcast_in_dim(positions, (length, n), (0,)))
    index = C.minimum(C.sum(lax.convert_element_type(passed, np.int32), axis=1),
                      np.int32(n - 1))
    return getitem(a, _along(axis, len(shape), index))


# ---------------------------------------------------------------------------
# delete, insert


def _static_index_array(obj, size, what):
    if isinstance(obj, slice):
        return np.arange(size)[obj]
    value = np.asarray(_static(obj, f"{what} obj"))
    if value.dtype == np.bool_:
        if value.shape != (size,):
            raise ValueError(f"{what}: boolean obj must have shape ({size},), got "
                             f"{value.shape}")
        return np.nonzero(value)[0]
    if not np.issubdtype(value.dtype, np.integer):
        if value.size == 0:
            return value.astype(np.intp)
        raise IndexError(f"{what}: obj must be integers, a slice or a boolean mask")
    return value


def delete(arr, obj, axis: int | None = None, *, assume_unique_indices: bool = False):
    """``arr`` without the entries ``obj`` (an int, slice, index array or mask) along
    ``axis`` (the flattened array when None).

    Example:
      >>> fx.numpy.delete(fx.numpy.arange(5), [0, 3])
      Array([1, 2, 4], dtype=int32)
    """
    arr = _arr(arr)
    if axis is None:
        arr = C.ravel(arr)
        axis = 0
    shape = get_aval(arr).shape
    axis = _axis(axis, len(shape))
    n = shape[axis]
    if isinstance(obj, Tracer) and obj.to_concrete_value() is None:
        if not assume_unique_indices or get_aval(obj).ndim:
            raise core.ConcretizationTypeError(
                obj, "a traced `obj` in fx.numpy.delete",
                "Pass a static obj, or a traced scalar with assume_unique_indices=True.")
        i = lax.convert_element_type(obj, np.int32)
        i = lax.select(lax.lt(i, np.int32(0)), lax.add(i, np.int32(n)), i)
        keep = lax.iota(np.int32, n - 1)
        keep = lax.add(keep, lax.convert_element_type(C.greater_equal(keep, i), np.int32))
        return getitem(arr, _along(axis, len(shape), keep))
    index = _static_index_array(obj, n, "delete")
    if ((index < -n) | (index >= n)).any():
        bad = index[(index < -n) | (index >= n)][0]
        raise IndexError(f"index {int(bad)} is out of bounds for axis {axis} with size {n}")
    keep = np.ones(n, bool)
    keep[np.where(index < 0, index + n, index)] = False
    kept = np.nonzero(keep)[0]
    if kept.size == n:
        return arr
    if kept.size == 0:
        return C.zeros(shape[:axis] + (0,) + shape[axis + 1:], get_aval(arr).dtype)
    return getitem(arr, _along(axis, len(shape), kept.astype(np.int32)))


def insert(arr, obj, values, axis: int | None = None):
    """``values`` inserted before the indices ``obj`` along ``axis`` (NumPy's rules;
    ``obj`` must be static).

    Example:
      >>> fx.numpy.insert(fx.numpy.arange(3), 1, 9)
      Array([0, 9, 1, 2], dtype=int32)
    """
    arr = _arr(arr)
    if axis is None:
        arr = C.ravel(arr)
        axis = 0
    shape = get_aval(arr).shape
    ndim = len(shape)
    axis = _axis(axis, ndim)
    n = shape[axis]
    dtype = get_aval(arr).dtype
    values = C.asarray(values)
    values = lax._convert_element_type(values, dtype) if get_aval(values).dtype != dtype \
        else values
    scalar_obj = not isinstance(obj, slice) and np.ndim(_static(obj, "insert obj")) == 0
    index = _static_index_array(obj, n, "insert").reshape(-1)
    if ((index < -n) | (index > n)).any():
        raise IndexError(f"index {obj!r} is out of bounds for axis {axis} with size {n}")
    index = np.where(index < 0, index + n, index)
    vshape = get_aval(values).shape
    if len(vshape) < ndim:
        values = lax.reshape(values, (1,) * (ndim - len(vshape)) + vshape)
    if scalar_obj:
        values = C.moveaxis(values, 0, axis)
        count = get_aval(values).shape[axis]
        index = np.full(count, index[0])
    else:
        count = index.size
    target = shape[:axis] + (count,) + shape[axis + 1:]
    values = C.broadcast_to(values, target)
    # positions of the new entries in the output, then where every output entry comes from
    order = np.argsort(index, kind="stable")
    new_pos = np.empty(count, np.int64)
    new_pos[order] = index[order] + np.arange(count)
    source = np.empty(n + count, np.int64)
    is_new = np.zeros(n + count, bool)
    is_new[new_pos] = True
    source[~is_new] = np.arange(n)
    source[new_pos] = n + np.arange(count)
    joined = lax.concatenate([arr, values], axis)
    return getitem(joined, _along(axis, ndim, source.astype(np.int32)))


from fx.numpy._pad import pad  # noqa: E402,F401  (fx/numpy/_pad.py)
