"""``fx.numpy`` indexing's eager fast paths: Python ints, slices, None and Ellipsis,
static integer arrays and ``.at[]`` updates on a concrete host Array, computed with
NumPy directly (the same results as the gather/scatter primitives, without tracing a
program); each returns None where it does not apply and the general path runs.

Invariants: only arrays on the host (``x._device is None``) come here; results are new
Arrays (views of the operand's buffer where NumPy gives views, which is safe: buffers are
never written after construction).
"""
from __future__ import annotations

import builtins

import numpy as np

from fx.array import Array
from fx.numpy._indexing import _CLIP, _FILL, _expanded_shape, _slice_bounds
from primitives.indexing import default_fill_value


def _eager_basic(x: Array, idx):
    """``x[idx]`` computed directly with NumPy, or None when ``idx`` is not basic."""
    value = x._value
    t = type(idx)
    if t is int:
        shape = value.shape
        if not shape or not shape[0]:
            return None
        n = shape[0]
        if idx < 0:
            idx += n
        out = value[0 if idx < 0 else (n - 1 if idx >= n else idx)]
    elif t is slice:
        if not value.ndim or not _plain_slice(idx):
            return None
        out = value[idx]
    elif t is tuple:
        shape = value.shape
        ndim = len(shape)
        dim = 0
        fixed = None
        seen_ellipsis = False
        for k, item in enumerate(idx):
            ti = type(item)
            if ti is int:
                if dim >= ndim or not shape[dim]:
                    return None
                n = shape[dim]
                if not 0 <= item < n:
                    i = item + n if item < 0 else item
                    if fixed is None:
                        fixed = list(idx)
                    fixed[k] = 0 if i < 0 else (n - 1 if i >= n else i)
                dim += 1
            elif ti is slice:
                if not _plain_slice(item):
                    return None
                dim += 1
            elif item is Ellipsis:
                if seen_ellipsis:
                    return None
                seen_ellipsis = True
                rest = builtins.sum(1 for j in idx[k + 1:] if type(j) is int or type(j) is slice)
                if ndim - rest < dim:
                    return None
                dim = ndim - rest
            elif item is not None:
                return None
        if dim > ndim:
            return None
        out = value[idx if fixed is None else tuple(fixed)]
    else:
        return None
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    return Array(out, x.weak_type)


def _static_numpy_index(parsed, shape):
    """A NumPy index equivalent to a fully static parsed index, or None.

    Returns (index, advanced, adv_shape, a0): ``index`` has slices and normalised (not
    yet clamped) integer arrays; ``advanced`` the positions of the integer entries;
    their broadcast shape sits at axis ``a0`` of NumPy's result.
    """
    advanced = [d for d, e in enumerate(parsed.entries) if not isinstance(e, slice)]
    consecutive = not advanced or advanced == list(range(advanced[0], advanced[-1] + 1))
    if parsed.has_arrays and not parsed.adjacent and consecutive:
        return None  # NumPy would see these as adjacent once the Ellipsis is expanded
    index = []
    for e, n in zip(parsed.entries, shape, strict=True):
        if isinstance(e, slice):
            index.append(_numpy_slice(e, n))
            continue
        if not e.static or n == 0:
            return None
        v = e.value
        if isinstance(v, int):  # stays a Python int: basic indexing, so views stay views
            index.append(v + n if v < 0 else v)
            continue
        v = np.asarray(v)
        index.append(np.where(v < 0, v + n, v) if v.dtype.kind == "i" else v)
    adv_shape = np.broadcast_shapes(*[np.shape(index[d]) for d in advanced]) \
        if advanced else ()
    a0 = advanced[0] if advanced and parsed.adjacent else 0
    return index, advanced, adv_shape, a0


def _out_of_bounds(index, advanced, shape):
    """Per advanced element (broadcast shape), whether any of its indices is out of range."""
    oob = False
    for d in advanced:
        oob = oob | (index[d] < 0) | (index[d] >= shape[d])
    return np.asarray(oob)


def _eager_static_read(x: Array, parsed, mode, fill_value):
    """``x[idx]`` for a fully static parsed index, with NumPy, or None."""
    value = x._value  # already has the new axes
    found = _static_numpy_index(parsed, value.shape)
    if found is None:
        return None
    index, advanced, adv_shape, a0 = found
    oob = _out_of_bounds(index, advanced, value.shape) if mode is _FILL else None
    for d in advanced:
        index[d] = np.clip(index[d], 0, value.shape[d] - 1)
    out = value[tuple(index)]
    if oob is not None and oob.any():
        fill = np.asarray(default_fill_value(value.dtype) if fill_value is None
                          else fill_value).astype(value.dtype)
        if not parsed.has_arrays:  # only scalar ints: the whole result is one window
            out = np.full(np.shape(out), fill, value.dtype)
        else:
            out = np.array(out)
            out[(slice(None),) * a0 + (np.broadcast_to(oob, adv_shape),)] = fill
    return Array(out if type(out) is np.ndarray else np.asarray(out), x.weak_type)


def _numpy_slice(s: slice, n: int) -> slice:
    """``s`` with plain int bounds (NumPy scalars and concrete arrays resolved)."""
    if _plain_slice(s):
        return s
    start, length, step = _slice_bounds(s, n)
    if length == 0:
        return slice(0, 0)
    stop = start + (length - 1) * step + (1 if step > 0 else -1)
    return slice(start, None if stop < 0 else stop, step)


_UPDATE_UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "min": np.minimum,
                  "max": np.maximum}


def _eager_update(x: Array, parsed, y, kind, mode):
    """``x.at[idx].<kind>(y)`` for a fully static index, with NumPy, or None."""
    if not isinstance(y, (Array, np.ndarray, np.generic, bool, int, float, complex)):
        return None
    value = x._value
    shape = _expanded_shape(value.shape, parsed.new_axes)
    found = _static_numpy_index(parsed, shape)
    if found is None:
        return None
    index, advanced, adv_shape, a0 = found
    sliced = [len(range(*index[d].indices(n))) for d, n in enumerate(shape)
              if isinstance(index[d], slice)]
    target_shape = tuple(sliced[:a0]) + tuple(adv_shape) + tuple(sliced[a0:]) \
        if parsed.has_arrays else tuple(sliced)
    y = np.asarray(y._value if type(y) is Array else y)
    if y.ndim > len(target_shape) or np.broadcast_shapes(y.shape, target_shape) != target_shape:
        raise ValueError(f"Cannot broadcast update of shape {y.shape} to the indexed shape "
                         f"{target_shape}")
    y = y.astype(value.dtype, copy=False)
    oob = _out_of_bounds(index, advanced, shape)
    if mode is _CLIP:
        for d in advanced:
            index[d] = np.clip(index[d], 0, shape[d] - 1)
        oob = np.zeros_like(oob)
    out = value.copy()
    view = out.reshape(shape)
    if not parsed.has_arrays:  # scalar ints only: one window, dropped if out of bounds
        if oob.any():
            return x
        target = view[tuple(index) + (Ellipsis,)]
        if kind is None:
            target[...] = y
        else:
            _UPDATE_UFUNCS[kind](target, y, out=target)
        return Array(out, x.weak_type)
    keep = ~np.broadcast_to(oob, adv_shape).reshape(-1)
    for d in advanced:
        index[d] = np.broadcast_to(index[d], adv_shape).reshape(-1)[keep]
    y = np.broadcast_to(y, target_shape)
    y = y.reshape(target_shape[:a0] + (keep.size,) + target_shape[a0 + len(adv_shape):])
    y = np.compress(keep, y, axis=a0)
    if kind is None:
        view[tuple(index)] = y
    else:
        _UPDATE_UFUNCS[kind].at(view, tuple(index), y)
    return Array(out, x.weak_type)


def _plain_slice(s: slice) -> bool:
    return ((s.start is None or type(s.start) is int) and (s.stop is None or type(s.stop) is int)
            and (s.step is None or (type(s.step) is int and s.step != 0)))
