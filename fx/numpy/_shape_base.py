"""The basics of array creation and shape manipulation for ``fx.numpy`` (zeros, full,
arange, linspace, eye; reshape, transpose, moveaxis, squeeze, broadcast_to, stack...),
split from ``_core`` and re-exported there, so ``fx.numpy._core.reshape`` and friends
keep working for the other modules.

Invariants: shapes, axes and counts are static Python ints (a traced value used as a
shape raises ``ConcretizationTypeError``); values go through ``fx.lax``, so everything
traces, differentiates and batches.
"""
from __future__ import annotations

import builtins

import numpy as np

from fx import core, dtypes, lax
from fx.array import Array
from fx.core import Tracer, get_aval
from fx.numpy import _core as _core_module
from fx.numpy._jitted import library_jit
from fx.numpy._core import (_broadcast_to, _promote, _promote_inexact,
                            asarray, broadcast_shapes)

__all__ = ["zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like",
           "arange", "linspace", "eye", "identity", "shape", "ndim", "size", "reshape", "ravel",
           "transpose", "permute_dims", "swapaxes", "moveaxis", "expand_dims", "squeeze",
           "broadcast_to", "broadcast_arrays", "atleast_1d", "atleast_2d", "stack"]


# ---------------------------------------------------------------------------
# creation


def zeros(shape, dtype=None, *, device=None):
    """An array of zeros (float32 by default)."""
    return lax.full(_shape(shape), 0, dtypes.canonicalize_dtype(dtype or float))


def ones(shape, dtype=None, *, device=None):
    """An array of ones (float32 by default)."""
    return lax.full(_shape(shape), 1, dtypes.canonicalize_dtype(dtype or float))


def empty(shape, dtype=None, *, device=None):
    """An array of zeros (fx arrays are never uninitialised)."""
    return zeros(shape, dtype)


def full(shape, fill_value, dtype=None, *, device=None):
    """An array of ``shape`` filled with ``fill_value`` (which may be an array)."""
    shape = _shape(shape)
    if dtype is None:
        (fill_value,) = _promote(fill_value)
    else:
        fill_value = asarray(fill_value, dtype)
    if get_aval(fill_value).shape:
        return _broadcast_to(fill_value, shape)
    return lax.broadcast_in_dim(fill_value, shape, ())


def _filled_like(a, value, dtype, shape):
    """An array shaped and typed like ``a`` (weak when ``a`` is and no ``dtype`` is given,
    as JAX: ``zeros_like(3.0)`` is a weak float32) filled with the scalar ``value``."""
    aval = get_aval(asarray(a) if not isinstance(a, (Array, Tracer)) else a)
    out_shape = aval.shape if shape is None else _shape(shape)
    if dtype is None and aval.weak_type:
        return lax.broadcast_in_dim(lax._convert_element_type(value, aval.dtype, True),
                                    out_shape, ())
    return lax.full(out_shape, value, dtype or aval.dtype)


def zeros_like(a, dtype=None, shape=None, *, device=None):
    """An array of zeros with the shape and dtype of ``a`` (or the ones given)."""
    return _filled_like(a, 0, dtype, shape)


def ones_like(a, dtype=None, shape=None, *, device=None):
    """An array of ones with the shape and dtype of ``a`` (or the ones given)."""
    return _filled_like(a, 1, dtype, shape)


def empty_like(a, dtype=None, shape=None, *, device=None):
    return zeros_like(a, dtype, shape)


def full_like(a, fill_value, dtype=None, shape=None, *, device=None):
    aval = get_aval(asarray(a) if not isinstance(a, (Array, Tracer)) else a)
    return full(aval.shape if shape is None else _shape(shape), fill_value,
                dtype or aval.dtype)


def _shape(shape) -> tuple:
    if isinstance(shape, (int, np.integer)) or (
            isinstance(shape, (Array, Tracer)) and get_aval(shape).ndim == 0):
        shape = (shape,)
    out = []
    for d in shape:
        d = core.concrete_or_error(
            d, "a traced value used as a shape",
            "Shapes must be static: pass Python ints, or mark the argument static with "
            "`static_argnums`.")
        d = int(d)
        if d < 0:
            raise ValueError(f"negative dimensions are not allowed: {tuple(shape)}")
        out.append(d)
    return tuple(out)


def arange(start, stop=None, step=None, dtype=None, *, device=None):
    """Evenly spaced values in [start, stop) (arguments must be concrete)."""
    what, fix = "a traced value passed to arange", \
        "arange needs static bounds; mark them static with `static_argnums`."
    start = core.concrete_or_error(start, what, fix)
    stop = core.concrete_or_error(stop, what, fix)
    step = core.concrete_or_error(step, what, fix)
    if stop is None and step is None:
        args = (start,)
    else:
        args = tuple(v for v in (start, stop, step) if v is not None)
    if builtins.any(np.iscomplexobj(v) for v in args):
        raise ValueError("Passing complex start/stop/step to fx.numpy.arange is not "
                         "supported (as in JAX v0.10.0); pass real bounds and a complex "
                         "dtype= instead")
    if dtype is None:
        dtype = dtypes.result_type(*[v.item() if isinstance(v, (Array, np.ndarray,
                                                                np.generic)) else v
                                     for v in (start, stop, step) if v is not None])
    dtype = dtypes.canonicalize_dtype(dtype)
    np_args = [np.asarray(v).item() for v in args]
    if stop is None and step is None and dtypes.is_integer(dtype):
        out = lax.iota(dtype, builtins.max(int(np_args[0]), 0))
        if device is None:
            return out
    else:
        out = np.arange(*np_args, dtype=dtype)
    return _core_module.asarray(out, device=device)


def linspace(start, stop, num: int = 50, endpoint: bool = True, retstep: bool = False,
             dtype=None, axis: int = 0, *, device=None):
    """``num`` evenly spaced samples over [start, stop] (or [start, stop) without
    ``endpoint``), computed as JAX does: ``start * (1 - t) + stop * t`` with
    ``t = i / div`` in the inexact computation dtype, floored for integer ``dtype``.

    Args:
      start, stop: scalars or arrays (broadcast together; the samples axis is ``axis``).
      num: the static number of samples.
      endpoint: include ``stop`` as the last sample.
      retstep: also return the step ``(stop - start) / div``.
      dtype: the output dtype (default: the inexact result type of start and stop).
      axis: where the samples axis goes.

    Returns:
      The samples (and the step when ``retstep``).

    Example:
      >>> fnp.linspace(0.0, 1.0, 5)
      Array([0.  , 0.25, 0.5 , 0.75, 1.  ], dtype=float32)
    """
    num = int(core.concrete_or_error(num, "linspace num", "num must be a static int"))
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    start, stop = _promote_inexact(start, stop)
    dtype = dtypes.canonicalize_dtype(dtype) if dtype is not None else get_aval(start).dtype
    compute = dtype if dtypes.is_inexact(dtype) else dtypes.default_float_dtype()
    start = lax._convert_element_type(start, compute, False)
    stop = lax._convert_element_type(stop, compute, False)
    bshape = broadcast_shapes(get_aval(start).shape, get_aval(stop).shape)
    bstart, bstop = _broadcast_to(start, bshape), _broadcast_to(stop, bshape)
    nd = len(bshape) + 1
    if not -nd <= axis < nd:
        raise ValueError(f"linspace: axis {axis} is out of bounds for the {nd}-d output")
    axis = axis % nd
    div = (num - 1) if endpoint else num
    dims = tuple(range(1, nd))
    if num > 1:
        step = lax.div(lax.sub(bstop, bstart), np.array(div, compute)[()])
        real = np.dtype(dtypes.finfo(compute).dtype)
        t = lax.div(lax.iota(real, div), np.array(div, real)[()])
        t = lax.broadcast_in_dim(lax._convert_element_type(t, compute, False),
                                 (div,) + bshape, (0,))
        s = lax.broadcast_in_dim(bstart, (div,) + bshape, dims)
        e = lax.broadcast_in_dim(bstop, (div,) + bshape, dims)
        one = np.array(1, compute)[()]
        out = lax.add(lax.mul(s, lax.sub(one, t)), lax.mul(e, t))
        if endpoint:
            out = lax.concatenate([out, lax.reshape(bstop, (1,) + bshape)], 0)
    elif num == 1:
        step = np.array(np.nan, compute)[()] if endpoint else lax.sub(bstop, bstart)
        out = lax.reshape(bstart, (1,) + bshape)
    else:
        step = np.array(np.nan, compute)[()]
        out = lax.full((0,) + bshape, 0, compute)
    out = moveaxis(out, 0, axis) if axis != 0 else out
    if dtypes.is_integer(dtype):
        out = lax.floor(out)
    out = lax._convert_element_type(out, dtype, False)
    if retstep:
        return out, step
    return out


def eye(N, M=None, k: int = 0, dtype=None, *, device=None):
    """A 2-D array with ones on the ``k``-th diagonal."""
    M = N if M is None else M
    dtype = dtypes.canonicalize_dtype(dtype or float)
    rows = lax.broadcasted_iota(dtypes.int32, (N, M), 0)
    cols = lax.broadcasted_iota(dtypes.int32, (N, M), 1)
    return lax.convert_element_type(lax.eq(lax.add(rows, np.int32(k)), cols), dtype)


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


# ---------------------------------------------------------------------------
# shape manipulation


def shape(a):
    return get_aval(a).shape


def ndim(a):
    return get_aval(a).ndim


def size(a, axis=None):
    s = get_aval(a).shape
    return int(np.prod(s, dtype=np.int64)) if axis is None else s[axis]


def reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    """``a`` with a new shape (one entry may be -1); ``order="F"`` reads and writes the
    elements in column-major order."""
    if shape is None:
        shape = newshape
    a = asarray(a)
    if order not in ("C", "F"):
        if order == "A":
            raise NotImplementedError("fx.numpy.reshape: order='A' is not implemented")
        raise ValueError(f"order {order!r} is not permitted for reshaping")
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    aval = get_aval(a)
    shape = tuple(int(core.concrete_or_error(
        d, "a traced value used as a shape",
        "Shapes must be static; use `static_argnums` for arguments that set shapes."))
        for d in shape)
    if shape.count(-1) > 1:
        raise ValueError(f"can only specify one unknown dimension, got shape {shape}")
    if -1 in shape:
        known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
        if known == 0 or aval.size % known:
            raise ValueError(f"cannot reshape array of shape {aval.shape} (size "
                             f"{aval.size}) into shape {shape}")
        shape = tuple(aval.size // known if d == -1 else d for d in shape)
    if int(np.prod(shape, dtype=np.int64)) != aval.size:
        raise ValueError(f"cannot reshape array of shape {aval.shape} (size {aval.size}) "
                         f"into shape {shape} (size {int(np.prod(shape, dtype=np.int64))})")
    if order == "F":  # column-major: reverse the axes, reshape, reverse back
        reversed_in = tuple(range(aval.ndim - 1, -1, -1))
        out = lax.reshape(a, shape[::-1], dimensions=reversed_in)
        return lax.transpose(out, tuple(range(len(shape) - 1, -1, -1)))
    return lax.reshape(a, shape)


def ravel(a, order="C"):
    """``a`` flattened to one dimension, in row-major (``"C"``) or column-major (``"F"``)
    order."""
    a = asarray(a)
    if order == "K":
        raise NotImplementedError("fx.numpy.ravel: order='K' is not implemented")
    return reshape(a, (get_aval(a).size,), order=order)


def transpose(a, axes=None):
    """Permute the axes of ``a`` (reverse them by default)."""
    a = asarray(a)
    ndim = get_aval(a).ndim
    if axes is None:
        axes = tuple(range(ndim))[::-1]
    axes = _normalize_axes(axes, ndim)
    if sorted(axes) != list(range(ndim)):
        raise ValueError(f"axes {axes} don't match array of dimension {ndim}")
    return lax.transpose(a, axes)


def permute_dims(a, axes):
    return transpose(a, axes)


def _normalize_axes(axes, ndim) -> tuple:
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of bounds for array of dimension {ndim}")
        out.append(a % ndim)
    return tuple(out)


def swapaxes(a, axis1, axis2):
    a = asarray(a)
    ndim = get_aval(a).ndim
    axis1, axis2 = _normalize_axes((axis1, axis2), ndim)
    perm = list(range(ndim))
    perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
    return lax.transpose(a, perm)


def moveaxis(a, source, destination):
    """Move axes ``source`` to positions ``destination``."""
    a = asarray(a)
    ndim = get_aval(a).ndim
    src = _normalize_axes((source,) if isinstance(source, int) else source, ndim)
    dst = _normalize_axes((destination,) if isinstance(destination, int) else destination,
                          ndim)
    if len(src) != len(dst):
        raise ValueError("source and destination must have the same number of elements")
    perm = [i for i in range(ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        perm.insert(d, s)
    return lax.transpose(a, perm)


def expand_dims(a, axis):
    a = asarray(a)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out_ndim = get_aval(a).ndim + len(axes)
    axes = _normalize_axes(axes, out_ndim)
    if len(set(axes)) != len(axes):
        raise ValueError(f"repeated axis in expand_dims: {axis}")
    return lax.expand_dims(a, axes)


def squeeze(a, axis=None):
    a = asarray(a)
    s = get_aval(a).shape
    if axis is None:
        axes = tuple(i for i, d in enumerate(s) if d == 1)
    else:
        axes = _normalize_axes((axis,) if isinstance(axis, int) else axis, len(s))
        for ax in axes:
            if s[ax] != 1:
                raise ValueError(f"cannot select an axis to squeeze out which has size not "
                                 f"equal to one: axis {ax} of shape {s}")
    return lax.squeeze(a, axes)


def broadcast_to(array, shape):
    """``array`` broadcast to ``shape`` by NumPy's rules."""
    array = asarray(array)
    shape = _shape(shape)
    src = get_aval(array).shape
    if len(src) > len(shape) or broadcast_shapes(src, shape) != shape:
        raise ValueError(f"Incompatible shapes for broadcasting: {src} and requested shape "
                         f"{shape}")
    return _broadcast_to(array, shape)


def broadcast_arrays(*args):
    args = [asarray(a) for a in args]
    shape = broadcast_shapes(*[get_aval(a).shape for a in args])
    return [_broadcast_to(a, shape) for a in args]


@library_jit
def atleast_1d(*arys):
    """The arrays with at least one dimension (a ``jit`` equation under a trace, as JAX's).

    Example:
      >>> fx.numpy.atleast_1d(fx.numpy.float32(1))
      Array([1.], dtype=float32)
    """
    out = []
    for a in arys:
        a = asarray(a)
        out.append(a if get_aval(a).ndim >= 1 else lax.broadcast_in_dim(a, (1,), ()))
    return out[0] if len(out) == 1 else out


@library_jit
def atleast_2d(*arys):
    """The arrays with at least two dimensions, leading ones added (a ``jit`` equation
    under a trace, as JAX's).

    Example:
      >>> fx.numpy.atleast_2d(fx.numpy.ones(3)).shape
      (1, 3)
    """
    out = []
    for a in arys:
        a = asarray(a)
        nd = get_aval(a).ndim
        out.append(a if nd >= 2 else lax.broadcast_to_rank(a, 2))
    return out[0] if len(out) == 1 else out


def stack(arrays, axis: int = 0, out=None, dtype=None):
    """Join ``arrays`` along a new axis."""
    if not len(arrays):
        raise ValueError("Need at least one array to stack.")
    arrays = [asarray(a) for a in arrays]
    shapes = {get_aval(a).shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"All input arrays must have the same shape, got "
                         f"{[get_aval(a).shape for a in arrays]}")
    nd = get_aval(arrays[0]).ndim + 1
    axis = _normalize_axes((axis,), nd)[0]
    from fx.numpy import concatenate
    return concatenate([lax.expand_dims(a, (axis,)) for a in arrays], axis=axis, dtype=dtype)
