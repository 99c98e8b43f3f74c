"""``fx.numpy.pad``: NumPy's ``pad`` with JAX's semantics, every string mode and a
callable ``mode``.

Invariants: widths, ``stat_length``, ``end_values`` and ``reflect_type`` are static (the
constant values may be traced); axes are padded one after another, each seeing the
previous axes' padding (as NumPy and JAX do); everything lowers to pad, slice, rev,
concatenate, gather and reductions, so ``pad`` differentiates, batches and jits. A
callable ``mode`` is applied with ``apply_along_axis`` (so through ``vmap``) and must
return the padded vector rather than write into it.
"""
from __future__ import annotations

import builtins
import operator

import numpy as np

from fx import dtypes, lax
from fx.core import get_aval
from fx.numpy import _core as C
from fx.numpy._jitted import library_jit
from fx.numpy._take import _along, _arr, _static
from primitives.slicing import pad_p, slice_p

__all__ = ["pad"]

_ALLOWED_KWARGS = {
    "constant": ("constant_values",), "empty": (), "edge": (), "wrap": (),
    "linear_ramp": ("end_values",), "maximum": ("stat_length",), "minimum": ("stat_length",),
    "mean": ("stat_length",), "median": ("stat_length",), "reflect": ("reflect_type",),
    "symmetric": ("reflect_type",),
}


def _pairs(value, ndim: int, what: str, integral: bool = True) -> list:
    """``value`` as one (before, after) pair per axis; the shapes JAX accepts are
    ``(ndim, 2)``, ``(1, 2)``, ``(2,)``, ``(1,)`` and ``()``."""
    try:
        array = np.asarray(_static(value, f"{what} argument of pad"))
    except ValueError as e:
        raise TypeError(f"pad: `{what}` entries must be the same shape: {value!r}") from e
    if array.dtype == object or array.dtype.kind not in ("iu" if integral else "biuf"):
        kind = "integral" if integral else "real numeric"
        raise TypeError(f"pad: `{what}` must be of {kind} type, got {value!r}")
    if array.shape not in ((ndim, 2), (1, 2), (2,), (1,), ()):
        raise ValueError(f"pad: {what} with ndim={ndim} has unsupported shape {array.shape}. "
                         f"Valid shapes are ({ndim}, 2), (1, 2), (2,), (1,), or ().")
    if array.ndim == 1:  # (before, after) or (pad,)
        array = array.reshape(1, -1)
    array = np.broadcast_to(array, (ndim, 2))
    return [tuple(v.item() for v in pair) for pair in array]


def pad(array, pad_width, mode="constant", **kwargs):
    """Pad ``array`` (NumPy's ``pad``, with JAX's semantics).

    Args:
      array: the array to pad.
      pad_width: an int, ``(pad,)``, ``(before, after)`` or one ``(before, after)`` pair
        per axis (static, non-negative).
      mode: 'constant' (``constant_values``: a scalar, a pair or one pair per axis; may be
        traced), 'empty' (zeros, as in JAX), 'edge', 'wrap', 'reflect' and 'symmetric'
        (``reflect_type`` 'even' or 'odd'), 'linear_ramp' (``end_values``), 'maximum',
        'minimum', 'mean', 'median' (``stat_length``), or a callable
        ``f(vector, iaxis_pad_width, iaxis, kwargs) -> vector``: called (through ``vmap``)
        on every 1-d slice along each axis of the zero-padded array, with that axis'
        ``(before, after)`` widths, the axis and the extra keyword arguments as a dict;
        unlike NumPy it must return the new vector instead of assigning into it.
      **kwargs: the mode's options (or anything, for a callable mode).

    Returns:
      The padded array, of ``array``'s dtype.

    Example:
      >>> fnp.pad(fnp.arange(3), (1, 2), mode="edge")
      Array([0, 0, 1, 2, 2, 2], dtype=int32)
      >>> def ends(v, width, iaxis, kw):
      ...     return v.at[:width[0]].set(kw["lo"]).at[v.shape[0] - width[1]:].set(kw["hi"])
      >>> fnp.pad(fnp.array([2, 3]), 1, ends, lo=-1, hi=9)
      Array([-1,  2,  3,  9], dtype=int32)
    """
    array = _arr(array)
    ndim = get_aval(array).ndim
    widths = _pairs(pad_width, ndim, "pad_width")
    if builtins.any(v < 0 for pair in widths for v in pair):
        raise ValueError(f"pad: pad_width must be non-negative, got {pad_width!r}")
    if callable(mode):
        return _pad_with_function(array, widths, mode, kwargs)
    # JAX holds the widths as NumPy integers, so its padding_config prints np.int64 widths
    widths = tuple((np.int64(b), np.int64(a)) for b, a in widths)
    if not isinstance(mode, str) or mode not in _ALLOWED_KWARGS:
        raise NotImplementedError(f"pad: unimplemented padding mode {mode!r}; use one of "
                                  f"{sorted(_ALLOWED_KWARGS)} or a function")
    unexpected = set(kwargs) - set(_ALLOWED_KWARGS[mode])
    if unexpected:
        raise ValueError(f"pad: unsupported keyword arguments for mode '{mode}': "
                         f"{sorted(unexpected)}")
    reflect_type = kwargs.get("reflect_type", "even")
    if reflect_type not in ("even", "odd"):
        raise ValueError(f"pad: reflect_type must be 'even' or 'odd', got {reflect_type!r}")
    stat_length = kwargs.get("stat_length")
    if stat_length is not None:
        stat_length = _pairs(stat_length, ndim, "stat_length")
        if builtins.any(v < 0 for pair in stat_length for v in pair):
            raise ValueError(f"pad: stat_length must be non-negative, got "
                             f"{kwargs['stat_length']!r}")
        if builtins.any(v == 0 for pair in stat_length for v in pair):
            raise ValueError("pad: stat_length of 0 yields no value for padding")
    end_values = _pairs(kwargs.get("end_values", 0), ndim, "end_values", integral=False) \
        if mode == "linear_ramp" else None
    return _pad(array, kwargs.get("constant_values", 0), widths, mode,
                None if stat_length is None else tuple(stat_length),
                None if end_values is None else tuple(end_values), reflect_type)


@library_jit(static_argnums=(2, 3, 4, 5, 6))
def _pad(array, constant_values, widths, mode, stat_length, end_values, reflect_type):
    """The padding itself, a ``jit`` named ``_pad`` under a trace (as JAX's), the constant
    values an operand (a Python ``0`` by default, whatever the mode)."""
    ndim = get_aval(array).ndim
    if ndim == 0:
        return array
    if mode == "constant":
        return _pad_constant(array, widths, constant_values)
    if mode == "empty":
        return _pad_constant(array, widths, 0)
    if mode in ("reflect", "symmetric") and reflect_type == "odd" and \
            get_aval(array).dtype == np.bool_ and builtins.any(b or a for b, a in widths):
        raise TypeError(f"pad: reflect_type='odd' needs arithmetic on the values; it is not "
                        f"defined for boolean arrays (mode {mode!r})")
    out = array
    for axis, (before, after) in enumerate(widths):
        if mode == "edge" and get_aval(out).shape[axis]:
            out = _pad_edge(out, axis, before, after)  # every axis, as JAX's
            continue
        if before == 0 and after == 0:
            continue
        if get_aval(out).shape[axis] == 0 and mode != "mean":
            raise ValueError(f"pad: can't extend empty axis {axis} using mode {mode!r}; only "
                             "'constant', 'empty' and 'mean' pad an empty axis")
        if mode == "linear_ramp":
            out = _pad_linear_ramp(out, axis, before, after, end_values[axis])
        elif mode in ("maximum", "minimum", "mean", "median"):
            lengths = stat_length[axis] if stat_length is not None else (None, None)
            out = _pad_stat(out, axis, before, after, mode, lengths)
        elif mode in ("reflect", "symmetric") and reflect_type == "odd":
            out = _pad_odd_reflection(out, axis, before, after, mode)
        else:
            out = _pad_by_index(out, axis, before, after, mode)
    return out


def _pad_constant(array, widths, constant_values):
    aval = get_aval(array)
    values = C.asarray(constant_values)
    vaval = get_aval(values)
    if vaval.dtype != aval.dtype or vaval.weak_type != aval.weak_type:
        values = lax._convert_element_type(values, aval.dtype, aval.weak_type)
    vshape = get_aval(values).shape
    if len(vshape) > 2 or (len(vshape) == 1 and vshape[0] not in (1, 2)):
        raise ValueError(f"pad: constant_values has unsupported shape {vshape}; expected a "
                         f"scalar, (1,), (2,), (1, 2) or ({aval.ndim}, 2)")
    if vshape in ((), (1,)):
        # bound directly: lax.pad would make the np.int64 widths Python ints
        return pad_p.bind(array, C.reshape(values, ()),
                          padding_config=tuple((b, a, 0) for b, a in widths))
    if len(vshape) == 2 and vshape not in ((1, 2), (aval.ndim, 2), (1, 1), (aval.ndim, 1)):
        raise ValueError(f"pad: constant_values has unsupported shape {vshape}; expected a "
                         f"scalar, (1,), (2,), (1, 2) or ({aval.ndim}, 2)")
    values = C.broadcast_to(values, (aval.ndim, 2))
    for axis, (before, after) in enumerate(widths):
        for side, width in ((0, before), (1, after)):
            if width == 0:
                continue
            config = [(0, 0, 0)] * aval.ndim
            config[axis] = (width, 0, 0) if side == 0 else (0, width, 0)
            array = pad_p.bind(array, values[axis, side], padding_config=tuple(config))
    return array


def _slice(x, axis, start, stop):
    nd = get_aval(x).ndim
    return x[_along(axis, nd, slice(start, stop))]


def _pad_edge(x, axis, before, after):
    """The first and last entries along ``axis`` repeated ``before``/``after`` times
    (broadcast along a new axis and merged into ``axis``, as JAX's, which prints so)."""
    shape = get_aval(x).shape
    nd, n = len(shape), shape[axis]
    pieces = []
    for start, width in ((0, before), (n - 1, after)):
        starts = tuple(start if d == axis else 0 for d in range(nd))
        limits = tuple(start + 1 if d == axis else shape[d] for d in range(nd))
        edge = slice_p.bind(x, start_indices=starts, limit_indices=limits, strides=(1,) * nd)
        eshape = get_aval(edge).shape
        spread = lax.broadcast_in_dim(edge, eshape[:axis + 1] + (int(width),) + eshape[axis + 1:],
                                      tuple(d if d <= axis else d + 1 for d in range(nd)))
        pieces.append(lax.reshape(spread, shape[:axis] + (int(width),) + shape[axis + 1:]))
    return lax.concatenate([pieces[0], x, pieces[1]], axis)


def _pad_by_index(x, axis, before, after, mode):
    """'edge', 'wrap' and the even 'reflect'/'symmetric': copies of the operand, one
    static gather index per output position (widths may exceed the axis)."""
    n = get_aval(x).shape[axis]
    j = np.arange(-before, n + after)
    if mode == "edge" or n == 1:
        index = np.clip(j, 0, n - 1)
    elif mode == "wrap":
        index = j % n
    else:
        period = 2 * n - 2 if mode == "reflect" else 2 * n
        p = j % period
        last = 2 * n - 2 if mode == "reflect" else 2 * n - 1
        index = np.where(p >= n, last - p, p)
    return x[_along(axis, get_aval(x).ndim, index.astype(np.int32))]


def _pad_odd_reflection(x, axis, before, after, mode):
    """Odd reflection: ``2 * edge - mirrored`` chunk by chunk, each chunk reflecting the
    array extended so far (NumPy's and JAX's order of operations, so the same rounding)."""
    n = get_aval(x).shape[axis]
    if n == 1:  # 2 e - e == e: every padded value is the edge
        return _pad_by_index(x, axis, before, after, "edge")
    offset = 1 if mode == "reflect" else 0
    dtype = get_aval(x).dtype
    two = np.array(2, dtype)[()]
    for at_start, width in ((True, before), (False, after)):
        edge = _slice(x, axis, 0, 1) if at_start else _slice(x, axis, -1, None)
        while width > 0:
            chunk = builtins.min(width, n - offset)
            width -= chunk
            if at_start:
                piece = _slice(x, axis, offset, offset + chunk)
            else:
                size = get_aval(x).shape[axis]
                piece = _slice(x, axis, size - chunk - offset, size - offset)
            piece = lax.sub(lax.mul(two, C.broadcast_to(edge, get_aval(piece).shape)),
                            lax.rev(piece, (axis,)))
            edge = _slice(piece, axis, 0, 1) if at_start else _slice(piece, axis, -1, None)
            x = lax.concatenate([piece, x] if at_start else [x, piece], axis)
    return x


def _pad_linear_ramp(x, axis, before, after, ends):
    """Ramps from each end value to the edge, ``linspace(end, edge, width,
    endpoint=False)`` in the array's dtype (floored for integers), as JAX does."""
    from fx.numpy._shape_base import linspace
    aval = get_aval(x)
    n = aval.shape[axis]
    ramps = []
    for width, end, at_start in ((before, ends[0], True), (after, ends[1], False)):
        edge = _slice(x, axis, 0, 1) if at_start else _slice(x, axis, n - 1, n)
        ramp = linspace(end, lax.squeeze(edge, (axis,)), width, endpoint=False,
                        dtype=aval.dtype, axis=axis)
        if get_aval(ramp).weak_type != aval.weak_type:
            ramp = lax._convert_element_type(ramp, aval.dtype, aval.weak_type)
        ramps.append(ramp if at_start else lax.rev(ramp, (axis,)))
    return lax.concatenate([ramps[0], x, ramps[1]], axis)


def _pad_stat(x, axis, before, after, mode, lengths):
    """A statistic of the first / last ``stat_length`` entries (all of them by default),
    rounded for integer arrays, repeated over the padding."""
    import fx.numpy as fnp
    reduce = {"maximum": fnp.max, "minimum": fnp.min, "mean": fnp.mean,
              "median": fnp.median}[mode]
    aval = get_aval(x)
    n = aval.shape[axis]
    pieces = []
    for width, length, at_start in ((before, lengths[0], True), (after, lengths[1], False)):
        if length is None:
            window = x
        else:
            length = builtins.min(operator.index(length), n)
            window = _slice(x, axis, 0, length) if at_start else _slice(x, axis, n - length, n)
        stat = reduce(window, axis=axis, keepdims=True)
        if dtypes.is_integer(aval.dtype) and dtypes.is_inexact(get_aval(stat).dtype):
            stat = C.round(stat)
        if get_aval(stat).dtype != aval.dtype or get_aval(stat).weak_type != aval.weak_type:
            stat = lax._convert_element_type(stat, aval.dtype, aval.weak_type)
        pieces.append(C.broadcast_to(stat, aval.shape[:axis] + (width,) + aval.shape[axis + 1:]))
    return lax.concatenate([pieces[0], x, pieces[1]], axis)


def _pad_with_function(array, widths, func, kwargs):
    from fx.numpy._functional import apply_along_axis
    if get_aval(array).ndim == 0:
        return array
    padded = _pad_constant(array, widths, 0)
    for axis, pair in enumerate(widths):
        length = get_aval(padded).shape[axis]

        def row_function(vector, pair=pair, axis=axis, length=length):
            out = func(vector, pair, axis, kwargs)
            if out is None:
                raise TypeError("pad: the padding function returned None; in fx (as in JAX) it "
                                "must return the padded vector instead of assigning into it")
            out = _arr(out)
            if get_aval(out).shape != (length,):
                raise ValueError(f"pad: the padding function must return a vector of shape "
                                 f"({length},) along axis {axis}, got shape "
                                 f"{get_aval(out).shape}")
            return out

        padded = apply_along_axis(row_function, axis, padded)
    return padded
