"""``fx.numpy`` selection and assorted helpers: ``select``, ``piecewise``, ``choose``,
``compress``/``extract``, the non-in-place updates ``put``/``place``/``fill_diagonal``,
``block``, ``unstack``, ``rollaxis``, ``resize``, bit packing, flat-index conversions,
``matvec``/``vecmat``, ``einsum_path`` and printing options.

Invariants: functions whose output shape depends on values (``compress``,
``extract``, ``place``) need concrete inputs or a static ``size=``. fx arrays are
immutable: ``put``, ``place`` and ``fill_diagonal`` return new arrays and insist on
``inplace=False``, as JAX does.
"""
from __future__ import annotations


import numpy as np

from fx import core, dtypes, lax
from fx.array import Array
from fx.core import Tracer, get_aval
from fx.numpy import _core as C
from fx.numpy._core import _promote, asarray, where

__all__ = ["select", "piecewise", "choose", "compress", "extract", "put", "place",
           "fill_diagonal",
           "block", "unstack", "rollaxis", "resize", "packbits", "unpackbits",
           "ravel_multi_index", "unravel_index", "matvec", "vecmat", "einsum_path",
           "array_repr", "array_str", "get_printoptions", "set_printoptions",
           "printoptions"]


def _dtype(x):
    return get_aval(x).dtype


def _index_dtype():
    return dtypes.default_int_dtype()


def _concrete(name, x, fix):
    return np.asarray(core.concrete_or_error(
        x, f"the argument of fx.numpy.{name}, whose output shape depends on its values", fix))


def _no_inplace(name, inplace):
    if inplace:
        raise ValueError(f"fx.numpy.{name} cannot modify arrays in place (fx arrays are "
                         f"immutable); pass inplace=False to get an updated copy")


# ---------------------------------------------------------------------------
# selection


def select(condlist, choicelist, default=0):
    """``choicelist[i]`` where ``condlist[i]`` is the first true condition, else
    ``default`` (everything broadcast together).

    Example:
      >>> x = fnp.arange(4)
      >>> fnp.select([x < 1, x > 2], [x, x * 10], -1)
      Array([ 0, -1, -1, 30], dtype=int32)
    """
    if len(condlist) != len(choicelist):
        raise ValueError(f"fx.numpy.select: condlist and choicelist must have the same "
                         f"length, got {len(condlist)} and {len(choicelist)}")
    if len(condlist) == 0:
        raise ValueError("fx.numpy.select: condlist must be non-empty")
    conds = [asarray(c) for c in condlist]
    for i, c in enumerate(conds):
        if _dtype(c) != dtypes.bool_:
            raise TypeError(f"fx.numpy.select: condlist entries must be boolean, got dtype "
                            f"{_dtype(c).name} at position {i}")
    values = _promote(default, *choicelist)
    out = values[0]
    for c, v in zip(reversed(conds), reversed(values[1:])):
        out = where(c, v, out)
    return out


def piecewise(x, condlist, funclist, *args, **kw):
    """Evaluate ``funclist[i]`` (a function of ``x``, or a constant) where
    ``condlist[i]`` holds; an extra last function applies where none holds (else 0).
    Later conditions win where several hold; the result has ``x``'s dtype.

    Example:
      >>> x = fnp.array([-1.0, 0.5, 2.0])
      >>> fnp.piecewise(x, [x < 0, x > 1], [lambda v: -v, 7.0])
      Array([1., 0., 7.], dtype=float32)
    """
    x = asarray(x)
    if isinstance(condlist, (Array, Tracer, np.ndarray)) and get_aval(
            asarray(condlist)).ndim == get_aval(x).ndim:
        condlist = [condlist]
    conds = [asarray(c) for c in condlist]
    n = len(conds)
    if len(funclist) not in (n, n + 1):
        raise ValueError(f"fx.numpy.piecewise: funclist must have {n} or {n + 1} entries "
                         f"for {n} conditions, got {len(funclist)}")
    dtype = _dtype(x)

    def evaluate(f):
        value = f(x, *args, **kw) if callable(f) else f
        value = lax.convert_element_type(asarray(value), dtype)
        return C.broadcast_to(value, get_aval(x).shape)

    out = evaluate(funclist[n]) if len(funclist) == n + 1 else C.zeros_like(x)
    for c, f in zip(conds, funclist[:n]):
        out = where(c, evaluate(f), out)
    return out


def choose(a, choices, out=None, mode: str = "raise"):
    """``choices[a[i]][i]`` elementwise (all broadcast together).

    Args:
      a: integer indices into ``choices``.
      choices: a sequence of arrays.
      mode: ``'raise'`` (indices must be valid; checked when concrete), ``'wrap'`` or
        ``'clip'``.

    Example:
      >>> fnp.choose(fnp.array([0, 1, 0]), [fnp.zeros(3), fnp.ones(3)])
      Array([0., 1., 0.], dtype=float32)
    """
    if out is not None:
        raise NotImplementedError("The 'out' argument to fx.numpy.choose is not supported.")
    a = asarray(a)
    if not dtypes.is_integer(_dtype(a)):
        raise TypeError(f"fx.numpy.choose: a must be an integer array, got dtype "
                        f"{_dtype(a).name}")
    n = len(choices)
    if n == 0:
        raise ValueError("fx.numpy.choose: choices must be non-empty")
    values = _promote(*choices)
    if mode == "raise":
        if not isinstance(a, Tracer):
            concrete = np.asarray(a)
            if concrete.size and (concrete.min() < 0 or concrete.max() >= n):
                raise ValueError(f"fx.numpy.choose: invalid entry in choice array (must be "
                                 f"in [0, {n}))")
        idx = a
    elif mode == "wrap":
        idx = C.remainder(a, n)
    elif mode == "clip":
        idx = C.clip(a, 0, n - 1)
    else:
        raise ValueError(f"fx.numpy.choose: mode must be 'raise', 'wrap' or 'clip', got "
                         f"{mode!r}")
    arrays = C.broadcast_arrays(idx, *values)
    idx = lax.convert_element_type(arrays[0], np.int32)
    if n == 1:
        return arrays[1]
    return lax.select_n(idx, *arrays[1:])


def _true_positions(name, mask, size):
    n = get_aval(mask).shape[0]
    if size is None:
        concrete = _concrete(name, mask, f"Pass a static `size=` to fx.numpy.{name} to trace "
                                         "it (e.g. under jit).")
        return asarray(np.nonzero(concrete)[0].astype(_index_dtype())), None
    iota = lax.iota(_index_dtype(), n)
    keys = lax.sort(where(mask, iota, lax.full_like(iota, n))) if n else iota
    if size <= n:
        keys = keys[:size]
    else:
        from fx.numpy import concatenate
        keys = concatenate([keys, lax.full((size - n,), n, _index_dtype())])
    return keys, C.sum(mask, dtype=_index_dtype())


def compress(condition, a, axis=None, *, size: int | None = None, fill_value=0, out=None):
    """The slices of ``a`` along ``axis`` where 1-d ``condition`` is true (a missing tail
    of ``condition`` counts as false).

    Args:
      condition: a 1-d boolean array.
      a: the array (flattened when ``axis`` is None).
      axis: the axis to select along.
      size: static output length along ``axis``, for tracing; padding holds
        ``fill_value``.
      fill_value: the padding value.

    Example:
      >>> fnp.compress(fnp.array([True, False, True]), fnp.arange(3))
      Array([0, 2], dtype=int32)
    """
    if out is not None:
        raise NotImplementedError("The 'out' argument to fx.numpy.compress is not supported.")
    condition = asarray(condition)
    if get_aval(condition).ndim != 1:
        raise ValueError(f"fx.numpy.compress: condition must be 1-d, got shape "
                         f"{get_aval(condition).shape}")
    a = asarray(a)
    if axis is None:
        a, axis = C.ravel(a), 0
    axis = C._normalize_axes((axis,), get_aval(a).ndim)[0]
    length = get_aval(a).shape[axis]
    mask = C._to_bool(condition)
    m = get_aval(mask).shape[0]
    if m > length:
        raise ValueError(f"fx.numpy.compress: condition of length {m} is longer than axis "
                         f"{axis} of length {length}")
    if m < length:
        from fx.numpy import concatenate
        mask = concatenate([mask, lax.full((length - m,), False, dtypes.bool_)])
    idx, count = _true_positions("compress", mask, size)
    from fx.numpy import take
    picked = take(a, C.clip(idx, 0, max(length - 1, 0)), axis=axis, mode="clip") if length \
        else a
    if size is None:
        return picked
    valid = lax.lt(lax.iota(_index_dtype(), size), lax.broadcast_in_dim(count, (size,), ()))
    shape = tuple(size if i == axis else d for i, d in enumerate(get_aval(picked).shape))
    valid = lax.broadcast_in_dim(valid, shape, (axis,))
    fill = lax.convert_element_type(asarray(fill_value), _dtype(a))
    return where(valid, picked, fill)


def extract(condition, arr, *, size: int | None = None, fill_value=0):
    """The elements of ``arr`` where ``condition`` is true (both flattened).

    Example:
      >>> x = fnp.arange(5)
      >>> fnp.extract(x > 2, x)
      Array([3, 4], dtype=int32)
    """
    return compress(C.ravel(asarray(condition)), C.ravel(asarray(arr)), size=size,
                    fill_value=fill_value)


def _cycled(values, n, dtype):
    values = C.ravel(lax.convert_element_type(asarray(values), dtype))
    k = get_aval(values).shape[0]
    if k == 0:
        raise ValueError("cannot fill from an empty array of values")
    if k >= n:
        return values[:n]
    from fx.numpy import tile
    return tile(values, -(-n // k))[:n]


def put(a, ind, v, mode: str | None = None, *, inplace: bool = True):
    """A copy of ``a`` with the flat positions ``ind`` set to ``v`` (cycled).

    Args:
      a: the array.
      ind: flat integer indices.
      v: values (repeated to the length of ``ind``).
      mode: None or ``'fill'`` (out-of-bounds indices are dropped), ``'clip'`` or
        ``'wrap'``.
      inplace: must be False.

    Example:
      >>> fnp.put(fnp.zeros(3), fnp.array([1]), 5.0, inplace=False)
      Array([0., 5., 0.], dtype=float32)
    """
    _no_inplace("put", inplace)
    a = asarray(a)
    flat = C.ravel(a)
    n = get_aval(flat).shape[0]
    ind = C.ravel(asarray(ind))
    if mode == "clip":
        ind = C.clip(ind, 0, n - 1)
    elif mode == "wrap":
        ind = C.remainder(ind, n)
    elif mode not in (None, "fill"):
        raise ValueError(f"fx.numpy.put: mode must be None, 'fill', 'clip' or 'wrap' "
                         f"('raise' cannot be checked under transformations), got {mode!r}")
    values = _cycled(v, get_aval(ind).shape[0], _dtype(a))
    return lax.reshape(flat.at[ind].set(values, mode="drop"), get_aval(a).shape)


def place(arr, mask, vals, *, inplace: bool = True):
    """A copy of ``arr`` with the positions where ``mask`` holds set to ``vals`` (cycled;
    ``mask`` must be concrete).

    Example:
      >>> x = fnp.arange(4)
      >>> fnp.place(x, x > 1, fnp.array([9]), inplace=False)
      Array([0, 1, 9, 9], dtype=int32)
    """
    _no_inplace("place", inplace)
    arr = asarray(arr)
    mask = C.ravel(asarray(mask))
    if get_aval(mask).shape[0] != get_aval(arr).size:
        raise ValueError(f"fx.numpy.place: mask must have the same size as arr "
                         f"({get_aval(arr).size}), got {get_aval(mask).shape[0]}")
    idx, _ = _true_positions("place", C._to_bool(mask), None)
    n = get_aval(idx).shape[0]
    if n == 0:
        return arr
    values = _cycled(vals, n, _dtype(arr))
    return lax.reshape(C.ravel(arr).at[idx].set(values), get_aval(arr).shape)


def fill_diagonal(a, val, wrap: bool = False, *, inplace: bool = True):
    """A copy of ``a`` (at least 2-d) with its main diagonal set to ``val`` (cycled).

    Args:
      a: the array; all sides must be equal when it has more than 2 dimensions.
      val: the values.
      wrap: for tall 2-d arrays, continue the diagonal every ``cols + 1`` rows.
      inplace: must be False.

    Example:
      >>> fnp.fill_diagonal(fnp.zeros((2, 2)), 1.0, inplace=False)
      Array([[1., 0.],
             [0., 1.]], dtype=float32)
    """
    _no_inplace("fill_diagonal", inplace)
    a = asarray(a)
    shape = get_aval(a).shape
    if len(shape) < 2:
        raise ValueError(f"fx.numpy.fill_diagonal: array must be at least 2-d, got shape "
                         f"{shape}")
    if len(shape) > 2 and len(set(shape)) != 1:
        raise ValueError(f"fx.numpy.fill_diagonal: all sides must be equal for arrays of "
                         f"more than 2 dimensions, got shape {shape}")
    size = int(np.prod(shape, dtype=np.int64))
    if len(shape) == 2:
        step = shape[1] + 1
        end = size if wrap else min(shape[1] * shape[1], size)
    else:
        step = int(np.sum(np.cumprod((1,) + shape[:-1])))
        end = size
    idx = np.arange(0, end, step, dtype=_index_dtype())
    if idx.size == 0:
        return a
    values = _cycled(val, idx.size, _dtype(a))
    return lax.reshape(C.ravel(a).at[idx].set(values), shape)


# ---------------------------------------------------------------------------
# shapes


def _block_depth(arrays, path=()):
    if isinstance(arrays, list):
        if not arrays:
            raise ValueError(f"fx.numpy.block: list at {path} is empty")
        depths = {_block_depth(x, path + (i,)) for i, x in enumerate(arrays)}
        if len(depths) != 1:
            raise ValueError("fx.numpy.block: list depths are mismatched")
        return depths.pop() + 1
    if isinstance(arrays, tuple):
        raise TypeError("fx.numpy.block: arrays must be nested lists, not tuples")
    return 0


def block(arrays):
    """Assemble an array from nested lists of blocks (innermost lists join along the last
    axis).

    Example:
      >>> fnp.block([[fnp.ones((1, 2)), fnp.zeros((1, 1))]])
      Array([[1., 1., 0.]], dtype=float32)
    """
    depth = _block_depth(arrays)
    leaves = []

    def collect(x):
        if isinstance(x, list):
            for y in x:
                collect(y)
        else:
            leaves.append(asarray(x))
    collect(arrays)
    ndim = max([depth] + [get_aval(x).ndim for x in leaves])
    from fx.numpy import concatenate

    def build(x, level):
        if not isinstance(x, list):
            x = asarray(x)
            return lax.broadcast_to_rank(x, ndim) if get_aval(x).ndim < ndim else x
        parts = [build(y, level + 1) for y in x]
        return concatenate(parts, axis=-(depth - level))
    return build(arrays, 0)


def unstack(x, /, *, axis: int = 0):
    """The slices of ``x`` along ``axis``, as a tuple.

    Example:
      >>> len(fnp.unstack(fnp.ones((3, 2))))
      3
    """
    x = asarray(x)
    nd = get_aval(x).ndim
    if nd == 0:
        raise ValueError("fx.numpy.unstack requires an array of rank at least 1")
    axis = C._normalize_axes((axis,), nd)[0]
    return tuple(lax.index_in_dim(x, i, axis, keepdims=False)
                 for i in range(get_aval(x).shape[axis]))


def rollaxis(a, axis: int, start: int = 0):
    """Move ``axis`` to lie before ``start`` (NumPy's older ``moveaxis``)."""
    a = asarray(a)
    nd = get_aval(a).ndim
    axis = C._normalize_axes((axis,), nd)[0]
    if not -nd <= start <= nd:
        raise ValueError(f"fx.numpy.rollaxis: start {start} is out of bounds for an array "
                         f"of dimension {nd}")
    start = start + nd if start < 0 else start
    if axis < start:
        start -= 1
    if axis == start:
        return a
    return C.moveaxis(a, axis, start)


def resize(a, new_shape):
    """``a`` flattened, repeated cyclically and reshaped to ``new_shape``.

    Example:
      >>> fnp.resize(fnp.arange(3), (2, 2))
      Array([[0, 1],
             [2, 0]], dtype=int32)
    """
    a = asarray(a)
    shape = C._shape(new_shape)
    total = int(np.prod(shape, dtype=np.int64))
    flat = C.ravel(a)
    if get_aval(flat).shape[0] == 0:
        return C.zeros(shape, _dtype(a))
    return lax.reshape(_cycled(flat, total, _dtype(a)), shape) if total else \
        C.zeros(shape, _dtype(a))


def packbits(a, axis: int | None = None, bitorder: str = "big"):
    """Pack a boolean (or 0/1 integer) array into uint8 bytes along ``axis`` (flattened
    when None), zero-padding the last byte.

    Example:
      >>> fnp.packbits(fnp.array([1, 0, 1]))
      Array([160], dtype=uint8)
    """
    a = asarray(a)
    if not (dtypes.is_integer(_dtype(a)) or _dtype(a) == dtypes.bool_):
        raise TypeError(f"fx.numpy.packbits: expected an integer or boolean array, got "
                        f"dtype {_dtype(a).name}")
    if bitorder not in ("big", "little"):
        raise ValueError(f"fx.numpy.packbits: bitorder must be 'big' or 'little', got "
                         f"{bitorder!r}")
    bits = lax.convert_element_type(C._to_bool(a), np.uint8)
    if axis is None:
        bits, axis = C.ravel(bits), 0
    axis = C._normalize_axes((axis,), get_aval(bits).ndim)[0]
    bits = C.moveaxis(bits, axis, -1)
    n = get_aval(bits).shape[-1]
    pad = (-n) % 8
    if pad:
        from fx.numpy import pad as pad_fn
        bits = pad_fn(bits, [(0, 0)] * (get_aval(bits).ndim - 1) + [(0, pad)])
    shape = get_aval(bits).shape
    bits = lax.reshape(bits, shape[:-1] + (shape[-1] // 8, 8))
    weights = np.array([128, 64, 32, 16, 8, 4, 2, 1] if bitorder == "big" else
                       [1, 2, 4, 8, 16, 32, 64, 128], np.uint8)
    packed = C.sum(C.multiply(bits, weights), axis=-1, dtype=np.uint8)
    return C.moveaxis(packed, -1, axis)


def unpackbits(a, axis: int | None = None, count: int | None = None, bitorder: str = "big"):
    """Unpack uint8 bytes into bits (0/1 uint8) along ``axis`` (flattened when None),
    keeping the first ``count`` bits if given.

    Example:
      >>> fnp.unpackbits(fnp.array([5], fnp.uint8))
      Array([0, 0, 0, 0, 0, 1, 0, 1], dtype=uint8)
    """
    a = asarray(a)
    if _dtype(a) != np.uint8:
        raise TypeError(f"fx.numpy.unpackbits: expected a uint8 array, got dtype "
                        f"{_dtype(a).name}")
    if bitorder not in ("big", "little"):
        raise ValueError(f"fx.numpy.unpackbits: bitorder must be 'big' or 'little', got "
                         f"{bitorder!r}")
    if axis is None:
        a, axis = C.ravel(a), 0
    axis = C._normalize_axes((axis,), get_aval(a).ndim)[0]
    a = C.moveaxis(a, axis, -1)
    shifts = np.array([7, 6, 5, 4, 3, 2, 1, 0] if bitorder == "big" else
                      [0, 1, 2, 3, 4, 5, 6, 7], np.uint8)
    shape = get_aval(a).shape
    expanded = lax.broadcast_in_dim(a, shape + (8,), tuple(range(len(shape))))
    bits = C.bitwise_and(C.right_shift(expanded, shifts), np.uint8(1))
    bits = lax.reshape(bits, shape[:-1] + (shape[-1] * 8,))
    if count is not None:
        total = shape[-1] * 8
        if count < 0:
            count = max(total + count, 0)
        if count <= total:
            bits = bits[..., :count]
        else:
            from fx.numpy import pad as pad_fn
            bits = pad_fn(bits, [(0, 0)] * (len(shape) - 1) + [(0, count - total)])
    return C.moveaxis(bits, -1, axis)


def ravel_multi_index(multi_index, dims, mode: str = "raise", order: str = "C"):
    """Flat indices of the coordinate arrays ``multi_index`` into an array of shape
    ``dims``.

    Args:
      multi_index: a sequence of integer arrays, one per dimension.
      dims: the shape.
      mode: ``'raise'`` (checked; needs concrete indices), ``'wrap'`` or ``'clip'``.
      order: ``'C'`` (row-major) or ``'F'``.

    Example:
      >>> fnp.ravel_multi_index((fnp.array([1, 2]), fnp.array([0, 1])), (3, 4))
      Array([4, 9], dtype=int32)
    """
    dims = C._shape(dims)
    if len(multi_index) != len(dims):
        raise ValueError(f"fx.numpy.ravel_multi_index: expected {len(dims)} index arrays "
                         f"for dims {dims}, got {len(multi_index)}")
    if order not in ("C", "F"):
        raise ValueError(f"fx.numpy.ravel_multi_index: order must be 'C' or 'F', got "
                         f"{order!r}")
    idx = [asarray(i) for i in multi_index]
    for i in idx:
        if not dtypes.is_integer(_dtype(i)):
            raise TypeError(f"fx.numpy.ravel_multi_index: indices must be integers, got dtype "
                            f"{_dtype(i).name}")
    if mode == "raise":
        for i, d in zip(idx, dims):
            concrete = _concrete("ravel_multi_index", i,
                                 "mode='raise' needs concrete indices; use mode='wrap' or "
                                 "'clip' under transformations.")
            if concrete.size and (concrete.min() < 0 or concrete.max() >= d):
                raise ValueError("fx.numpy.ravel_multi_index: invalid entry in coordinates "
                                 "array")
    elif mode == "wrap":
        idx = [C.remainder(i, d) for i, d in zip(idx, dims)]
    elif mode == "clip":
        idx = [C.clip(i, 0, d - 1) for i, d in zip(idx, dims)]
    else:
        raise ValueError(f"fx.numpy.ravel_multi_index: mode must be 'raise', 'wrap' or "
                         f"'clip', got {mode!r}")
    strides = np.cumprod((1,) + dims[::-1][:-1])[::-1] if order == "C" else \
        np.cumprod((1,) + dims[:-1])
    out = C.zeros((), _index_dtype())
    for i, s in zip(idx, strides):
        out = C.add(out, C.multiply(lax.convert_element_type(i, _index_dtype()), int(s)))
    return out


def unravel_index(indices, shape):
    """The coordinate arrays of flat ``indices`` into an array of ``shape``
    (out-of-range indices are clipped, as in JAX).

    Example:
      >>> fnp.unravel_index(fnp.array([5, 7]), (3, 4))
      (Array([1, 1], dtype=int32), Array([1, 3], dtype=int32))
    """
    indices = asarray(indices)
    if not dtypes.is_integer(_dtype(indices)):
        raise TypeError(f"fx.numpy.unravel_index: indices must be integers, got dtype "
                        f"{_dtype(indices).name}")
    shape = C._shape(shape)
    total = int(np.prod(shape, dtype=np.int64))
    idx = C.clip(indices, -total, total - 1) if total else indices
    idx = where(C.less(idx, 0), C.add(idx, total), idx)
    out = []
    for d in reversed(shape):
        out.append(C.remainder(idx, d) if d else idx)
        idx = C.floor_divide(idx, d) if d else idx
    return tuple(reversed(out))


# ---------------------------------------------------------------------------
# products and printing


def matvec(x1, x2, /):
    """Batched matrix-vector products: ``(..., m, n) @ (..., n) -> (..., m)``.

    Example:
      >>> fnp.matvec(fnp.ones((2, 3)), fnp.ones(3))
      Array([3., 3.], dtype=float32)
    """
    from fx.numpy import matmul
    x1, x2 = asarray(x1), asarray(x2)
    if get_aval(x1).ndim < 2 or get_aval(x2).ndim < 1:
        raise ValueError(f"fx.numpy.matvec: expected (..., m, n) and (..., n), got shapes "
                         f"{get_aval(x1).shape} and {get_aval(x2).shape}")
    return matmul(x1, C.expand_dims(x2, -1))[..., 0]


def vecmat(x1, x2, /):
    """Batched vector-matrix products with the vector conjugated:
    ``conj(x1) (..., n) @ (..., n, m) -> (..., m)``."""
    from fx.numpy import matmul
    x1, x2 = asarray(x1), asarray(x2)
    if get_aval(x1).ndim < 1 or get_aval(x2).ndim < 2:
        raise ValueError(f"fx.numpy.vecmat: expected (..., n) and (..., n, m), got shapes "
                         f"{get_aval(x1).shape} and {get_aval(x2).shape}")
    return matmul(C.expand_dims(C.conjugate(x1), -2), x2)[..., 0, :]


def einsum_path(subscripts, *operands, optimize="greedy"):
    """The contraction order NumPy's ``einsum_path`` chooses for operands of these shapes
    (and its report); only shapes are used."""
    shaped = [np.broadcast_to(np.zeros((), np.float32), get_aval(asarray(o)).shape)
              if not isinstance(o, str) else o for o in operands]
    return np.einsum_path(subscripts, *shaped, optimize=optimize)


def array_repr(arr, max_line_width=None, precision=None, suppress_small=None):
    """The ``repr`` of ``arr`` as an fx array."""
    return repr(asarray(arr))


def array_str(a, max_line_width=None, precision=None, suppress_small=None):
    """The ``str`` of ``a``'s values."""
    return np.array_str(np.asarray(asarray(a)), max_line_width, precision, suppress_small)


get_printoptions = np.get_printoptions
set_printoptions = np.set_printoptions
printoptions = np.printoptions
