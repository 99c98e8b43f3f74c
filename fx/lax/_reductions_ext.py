"""``fx.lax`` cumulative reductions, windowed reductions, generic ``reduce``,
sorting and ``top_k``, with JAX's lax signatures.

Invariants: axes and dimensions may be negative and are normalised before
binding; a ``computation`` is traced once into a jaxpr over scalars, and a
lone add/mul/max/min/and/or/xor equation selects the matching specialised
primitive (which differentiates); any other computation runs through the
generic ``reduce_window`` primitive.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

import primitives as P
from fx import core, dtypes, tree_util
from fx.core import ShapedArray, Tracer, get_aval
from fx.interpreters import partial_eval as pe
from fx.lax import _lax

__all__ = ["cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp", "reduce", "reduce_window",
           "padtype_to_pads", "sort", "sort_key_val", "top_k"]


def _canonical_axis(name: str, axis, ndim: int) -> int:
    axis = core.concrete_or_error(axis, f"a traced axis passed to lax.{name}",
                                  "Axes must be static Python ints.")
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"lax.{name}: axis must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"lax.{name}: axis {axis} is out of bounds for an array of rank "
                         f"{ndim}")
    return int(axis) % ndim


def _as_operand(name, x):
    if isinstance(x, (bool, int, float, complex)):
        return np.asarray(x, dtypes.result_type(x))[()]
    if isinstance(x, (list, tuple)):
        raise TypeError(f"lax.{name} requires an array operand, got a {type(x).__name__}")
    return _lax.canonical_operand(x)


# ---------------------------------------------------------------------------
# cumulative reductions


def _cumulative(prim, doc_name):
    def fn(operand, axis: int = 0, reverse: bool = False):
        operand = _as_operand(doc_name, operand)
        ndim = get_aval(operand).ndim
        return prim.bind(operand, axis=_canonical_axis(doc_name, axis, ndim),
                         reverse=bool(reverse))
    fn.__name__ = fn.__qualname__ = doc_name
    return fn


cumsum = _cumulative(P.cumsum_p, "cumsum")
cumsum.__doc__ = """Cumulative sum of ``operand`` along ``axis`` (from the end if ``reverse``).

Args:
  operand: an array of rank >= 1.
  axis: the axis to accumulate along (may be negative).
  reverse: accumulate from the last element towards the first.

Returns:
  An array of ``operand``'s shape and dtype.

Example:
  >>> fx.lax.cumsum(fx.numpy.array([1, 2, 3]))
  Array([1, 3, 6], dtype=int32)
"""
cumprod = _cumulative(P.cumprod_p, "cumprod")
cumprod.__doc__ = """Cumulative product of ``operand`` along ``axis`` (see ``cumsum``).

Example:
  >>> fx.lax.cumprod(fx.numpy.array([1., 2., 3.]))
  Array([1., 2., 6.], dtype=float32)
"""
cummax = _cumulative(P.cummax_p, "cummax")
cummax.__doc__ = """Running maximum of ``operand`` along ``axis`` (NaN propagates).

Example:
  >>> fx.lax.cummax(fx.numpy.array([1, 3, 2]))
  Array([1, 3, 3], dtype=int32)
"""
cummin = _cumulative(P.cummin_p, "cummin")
cummin.__doc__ = """Running minimum of ``operand`` along ``axis`` (NaN propagates).

Example:
  >>> fx.lax.cummin(fx.numpy.array([3, 1, 2]))
  Array([3, 1, 1], dtype=int32)
"""
cumlogsumexp = _cumulative(P.cumlogsumexp_p, "cumlogsumexp")
cumlogsumexp.__doc__ = """Running ``log(sum(exp(x)))`` of a floating ``operand`` along ``axis``.

Example:
  >>> fx.lax.cumlogsumexp(fx.numpy.array([0., 0.]))
  Array([0.       , 0.6931472], dtype=float32)
"""


# ---------------------------------------------------------------------------
# computations as jaxprs, and monoid recognition

_MONOIDS = ("add", "mul", "max", "min", "and", "or", "xor")


def _trace_computation(name, computation: Callable, treedef, avals):
    """The jaxpr of ``computation(x, y)`` over scalars shaped like ``treedef``'s leaves."""
    n = len(avals)

    def flat(*args):
        x = tree_util.tree_unflatten(treedef, args[:n])
        y = tree_util.tree_unflatten(treedef, args[n:])
        out = computation(x, y)
        leaves, out_tree = tree_util.tree_flatten(out)
        if out_tree != treedef:
            raise TypeError(f"lax.{name}: the computation must return the structure of its "
                            f"arguments ({treedef}), got {out_tree}")
        return leaves

    scalar_avals = [ShapedArray((), a.dtype) for a in avals]
    jaxpr, consts, out_avals = pe.trace_to_jaxpr(flat, scalar_avals * 2)
    for a, o in zip(scalar_avals, out_avals):
        if o.shape != () or o.dtype != a.dtype:
            raise TypeError(f"lax.{name}: the computation must return scalars of dtype "
                            f"{a.dtype.name}, got {o.str_short()}")
    if any(isinstance(c, Tracer) for c in consts):
        raise TypeError(f"lax.{name}: the computation closes over a traced value; pass it "
                        "as an operand instead")
    return jaxpr, tuple(consts)


def _monoid_name(jaxpr: core.Jaxpr):
    """The name of the single binary primitive ``jaxpr`` applies to its two inputs, or None."""
    if len(jaxpr.invars) != 2 or len(jaxpr.eqns) != 1 or jaxpr.constvars:
        return None
    eqn = jaxpr.eqns[0]
    if eqn.primitive.name not in _MONOIDS or eqn.params:
        return None
    if sorted(map(id, eqn.invars)) != sorted(map(id, jaxpr.invars)):
        return None
    if jaxpr.outvars != eqn.outvars:
        return None
    return eqn.primitive.name


def _identity(name, dtype):
    dtype = np.dtype(dtype)
    if name in ("add", "or", "xor"):
        return np.zeros((), dtype)[()]
    if name == "mul":
        return np.ones((), dtype)[()]
    if name == "and":
        return np.array(True if dtype.kind == "b" else -1).astype(dtype)[()]
    if dtype.kind == "b":
        return np.array(name == "min")[()]
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.array(info.min if name == "max" else info.max, dtype)[()]
    return np.array(-np.inf if name == "max" else np.inf, dtype)[()]


def _is_identity(name, init) -> bool:
    if isinstance(init, Tracer):
        init = init.to_concrete_value()
        if init is None:
            return False
    value = np.asarray(init)
    ident = _identity(name, value.dtype)
    with np.errstate(all="ignore"):
        return bool(value.shape == () and (value == ident or (value != value and ident !=
                                                                ident)))


def _scalar_init(name, init, dtype):
    if isinstance(init, (bool, int, float, complex)):
        return np.asarray(init, dtype)[()]
    aval = get_aval(init)
    if aval.shape != ():
        raise TypeError(f"lax.{name}: init values must be scalars, got {aval.str_short()}")
    if aval.dtype != dtype:
        raise TypeError(f"lax.{name}: init value dtype {aval.dtype.name} must match the "
                        f"operand dtype {np.dtype(dtype).name}")
    return init


# ---------------------------------------------------------------------------
# reduce


_REDUCERS = {"add": P.reduce_sum_p, "mul": P.reduce_prod_p, "max": P.reduce_max_p,
             "min": P.reduce_min_p, "and": P.reduce_and_p, "or": P.reduce_or_p,
             "xor": P.reduce_xor_p}


def reduce(operands, init_values, computation: Callable, dimensions: Sequence[int],
           out_sharding=None):
    """Reduce ``operands`` over ``dimensions`` with the monoid ``computation``.

    Add, mul, max, min, and, or and xor computations become the matching
    ``reduce_*`` primitive (combined with a non-identity init value); any other
    associative computation runs through the generic ``reduce_window`` primitive.

    Args:
      operands: an array, or a pytree of arrays of one shape.
      init_values: scalars with the structure of ``operands``.
      computation: ``f(x, y) -> z`` over pytrees of scalars.
      dimensions: the dimensions to reduce (removed from the result).

    Returns:
      The reduced array(s), with the structure of ``operands``.

    Example:
      >>> fx.lax.reduce(fx.numpy.arange(6.).reshape(2, 3), 0., fx.lax.add, (1,))
      Array([ 3., 12.], dtype=float32)
    """
    flat_ops, treedef = tree_util.tree_flatten(operands)
    flat_inits, init_tree = tree_util.tree_flatten(init_values)
    if init_tree != treedef:
        raise TypeError(f"lax.reduce: init_values structure {init_tree} must match the "
                        f"operands structure {treedef}")
    if not flat_ops:
        raise TypeError("lax.reduce needs at least one operand")
    flat_ops = [_as_operand("reduce", o) for o in flat_ops]
    avals = [get_aval(o) for o in flat_ops]
    shape = avals[0].shape
    if any(a.shape != shape for a in avals):
        raise TypeError(f"lax.reduce: operands must have equal shapes, got "
                        f"{[a.shape for a in avals]}")
    dims = tuple(sorted({_canonical_axis("reduce", d, len(shape)) for d in dimensions}))
    inits = [_scalar_init("reduce", i, a.dtype) for i, a in zip(flat_inits, avals)]
    jaxpr, consts = _trace_computation("reduce", computation, treedef, avals)
    monoid = _monoid_name(jaxpr) if len(flat_ops) == 1 else None
    if monoid is not None and not (monoid in ("and", "or", "xor")
                                   and avals[0].dtype.kind in "fc"):
        out = _REDUCERS[monoid].bind(flat_ops[0], axes=dims, out_sharding=None)
        if not _is_identity(monoid, inits[0]):
            out = P.registry[monoid].bind(out, inits[0])
        return tree_util.tree_unflatten(treedef, [out])
    nd = len(shape)
    window = tuple(shape[i] if i in dims else 1 for i in range(nd))
    outs = P.reduce_window_p.bind(
        *flat_ops, *inits, jaxpr=jaxpr, consts=consts, window_dimensions=window,
        window_strides=(1,) * nd, padding=((0, 0),) * nd, base_dilation=(1,) * nd,
        window_dilation=(1,) * nd)
    kept = tuple(s for i, s in enumerate(shape) if i not in dims)
    outs = [P.reshape_p.bind(o, new_sizes=kept, dimensions=None, sharding=None)
            if kept != get_aval(o).shape else o for o in outs]
    return tree_util.tree_unflatten(treedef, outs)


# ---------------------------------------------------------------------------
# reduce_window


def padtype_to_pads(in_shape, window_shape, window_strides, padding) -> list:
    """Explicit ``(lo, hi)`` pairs for the padding ``'SAME'``, ``'SAME_LOWER'`` or ``'VALID'``.

    Args:
      in_shape: the (dilated) input shape.
      window_shape: the (dilated) window shape.
      window_strides: the strides.
      padding: one of 'SAME', 'SAME_LOWER', 'VALID'.

    Returns:
      A list of (lo, hi) pairs; 'SAME' puts the extra element at the end.

    Example:
      >>> fx.lax.padtype_to_pads((5,), (2,), (2,), "SAME")
      [(0, 1)]
    """
    kind = str(padding).upper()
    if kind == "VALID":
        return [(0, 0)] * len(in_shape)
    if kind not in ("SAME", "SAME_LOWER"):
        raise ValueError(f"Unknown padding type {padding!r}; expected 'SAME', 'SAME_LOWER' "
                         "or 'VALID' (or explicit (lo, hi) pairs)")
    pads = []
    for n, w, s in zip(in_shape, window_shape, window_strides):
        out = -(-n // s)
        total = max((out - 1) * s + w - n, 0)
        lo = total // 2 if kind == "SAME" else -(-total // 2)
        pads.append((lo, total - lo))
    return pads


def _int_tuple(name, what, values, ndim, default):
    if values is None:
        return (default,) * ndim
    values = tuple(int(v) for v in values)
    if len(values) != ndim:
        raise TypeError(f"lax.{name}: {what} {values} must have one entry per operand "
                        f"dimension (rank {ndim})")
    return values


def reduce_window(operand, init_value, computation: Callable, window_dimensions,
                  window_strides=None, padding="VALID", base_dilation=None,
                  window_dilation=None):
    """Reduce each window of ``operand`` with the monoid ``computation`` (pooling).

    Args:
      operand: an array, or a pytree of arrays of one shape.
      init_value: scalar(s) with the structure of ``operand``: the value padding holds.
      computation: ``f(x, y) -> z``; ``lax.add``/``max``/``min`` with their identity
        become differentiable ``reduce_window_sum``/``max``/``min``.
      window_dimensions: the window size per dimension.
      window_strides: the step between windows (default 1s).
      padding: 'SAME', 'SAME_LOWER', 'VALID' or a sequence of (lo, hi) pairs.
      base_dilation, window_dilation: dilation of the operand and of the window.

    Returns:
      The reduced windows, with the structure of ``operand``.

    Example:
      >>> x = fx.numpy.arange(4.)
      >>> fx.lax.reduce_window(x, -fx.numpy.inf, fx.lax.max, (2,), (1,), "VALID")
      Array([1., 2., 3.], dtype=float32)
    """
    flat_ops, treedef = tree_util.tree_flatten(operand)
    flat_inits, init_tree = tree_util.tree_flatten(init_value)
    if init_tree != treedef:
        raise TypeError(f"lax.reduce_window: init_value structure {init_tree} must match the "
                        f"operand structure {treedef}")
    if not flat_ops:
        raise TypeError("lax.reduce_window needs at least one operand")
    flat_ops = [_as_operand("reduce_window", o) for o in flat_ops]
    avals = [get_aval(o) for o in flat_ops]
    shape = avals[0].shape
    if any(a.shape != shape for a in avals):
        raise TypeError(f"lax.reduce_window: operands must have equal shapes, got "
                        f"{[a.shape for a in avals]}")
    nd = len(shape)
    window_dimensions = _int_tuple("reduce_window", "window_dimensions", window_dimensions,
                                   nd, 1)
    window_strides = _int_tuple("reduce_window", "window_strides", window_strides, nd, 1)
    base_dilation = _int_tuple("reduce_window", "base_dilation", base_dilation, nd, 1)
    window_dilation = _int_tuple("reduce_window", "window_dilation", window_dilation, nd, 1)
    if isinstance(padding, str):
        dilated = [0 if s == 0 else (s - 1) * b + 1 for s, b in zip(shape, base_dilation)]
        windows = [0 if w == 0 else (w - 1) * d + 1
                   for w, d in zip(window_dimensions, window_dilation)]
        padding = padtype_to_pads(dilated, windows, window_strides, padding)
    padding = tuple((int(lo), int(hi)) for lo, hi in padding)
    if len(padding) != nd:
        raise TypeError(f"lax.reduce_window: padding {padding} must have one (lo, hi) pair "
                        f"per operand dimension (rank {nd})")
    params = dict(window_dimensions=window_dimensions, window_strides=window_strides,
                  padding=padding, base_dilation=base_dilation,
                  window_dilation=window_dilation)
    inits = [_scalar_init("reduce_window", i, a.dtype) for i, a in zip(flat_inits, avals)]
    jaxpr, consts = _trace_computation("reduce_window", computation, treedef, avals)
    monoid = _monoid_name(jaxpr) if len(flat_ops) == 1 else None
    special = {"add": P.reduce_window_sum_p, "max": P.reduce_window_max_p,
               "min": P.reduce_window_min_p}.get(monoid)
    if special is not None and _is_identity(monoid, inits[0]) and avals[0].dtype.kind != "c":
        return tree_util.tree_unflatten(treedef, [special.bind(flat_ops[0], **params)])
    outs = P.reduce_window_p.bind(*flat_ops, *inits, jaxpr=jaxpr, consts=consts, **params)
    return tree_util.tree_unflatten(treedef, outs)


# ---------------------------------------------------------------------------
# sort, top_k


def sort(operand, dimension: int = -1, is_stable: bool = True, num_keys: int = 1):
    """Sort ``operand`` along ``dimension``; a sequence of operands is sorted together,
    ordered lexicographically by its first ``num_keys`` entries.

    NaNs sort to the end; -0.0 and 0.0 compare equal.

    Args:
      operand: an array or a sequence of arrays of one shape.
      dimension: the dimension to sort along.
      is_stable: keep equal keys in their original order (fx always does).
      num_keys: how many leading operands are keys.

    Returns:
      The sorted array, or a tuple of sorted arrays for a sequence.

    Example:
      >>> fx.lax.sort(fx.numpy.array([3., 1., 2.]))
      Array([1., 2., 3.], dtype=float32)
    """
    single = not isinstance(operand, (list, tuple))
    operands = [_as_operand("sort", o) for o in ([operand] if single else operand)]
    if not operands:
        raise TypeError("lax.sort needs at least one operand")
    ndim = get_aval(operands[0]).ndim
    if ndim == 0:
        raise TypeError("lax.sort needs operands of rank >= 1, got a scalar")
    if not isinstance(num_keys, (int, np.integer)) or not 1 <= num_keys <= len(operands):
        raise ValueError(f"lax.sort: num_keys={num_keys!r} must be an int between 1 and the "
                         f"number of operands ({len(operands)})")
    outs = P.sort_p.bind(*operands, dimension=_canonical_axis("sort", dimension, ndim),
                         is_stable=bool(is_stable), num_keys=int(num_keys))
    return outs[0] if single else tuple(outs)


def sort_key_val(keys, values, dimension: int = -1, is_stable: bool = True):
    """Sort ``keys`` along ``dimension`` and permute ``values`` the same way.

    Returns:
      ``(sorted_keys, permuted_values)``.

    Example:
      >>> fx.lax.sort_key_val(fx.numpy.array([2, 1]), fx.numpy.array([10., 20.]))
      (Array([1, 2], dtype=int32), Array([20., 10.], dtype=float32))
    """
    return sort((keys, values), dimension=dimension, is_stable=is_stable, num_keys=1)


def top_k(operand, k: int, *, axis: int = -1):
    """The ``k`` largest entries along ``axis`` (descending) and their int32 indices.

    Ties go to the lower index; NaN counts as the largest value.

    Args:
      operand: an array of rank >= 1.
      k: how many entries to keep (a static int).
      axis: the axis to select along (default: the last).

    Returns:
      ``[values, indices]`` (a list, as JAX), each with ``k`` entries along ``axis``.

    Example:
      >>> fx.lax.top_k(fx.numpy.array([1., 3., 2.]), 2)
      [Array([3., 2.], dtype=float32), Array([1, 2], dtype=int32)]
    """
    operand = _as_operand("top_k", operand)
    k = core.concrete_or_error(k, "the k passed to lax.top_k", "k must be a static int.")
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
        raise TypeError(f"lax.top_k: k must be an int, got {k!r}")
    ndim = get_aval(operand).ndim
    if ndim == 0:
        raise TypeError("lax.top_k needs an operand of rank >= 1, got a scalar")
    axis = _canonical_axis("top_k", axis, ndim)
    if not 0 <= k <= get_aval(operand).shape[axis]:
        raise ValueError(f"lax.top_k: k={k} must be between 0 and the size "
                         f"{get_aval(operand).shape[axis]} of axis {axis}")
    return list(P.top_k_p.bind(operand, k=int(k), axis=axis))
