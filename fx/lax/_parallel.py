"""``fx.lax`` collectives: psum, pmean, pmax, pmin, psum_scatter, all_gather,
all_to_all, ppermute, pshuffle, pswapaxes, axis_index, axis_size.

Invariants: each wrapper resolves its axis names first (NameError ``unbound axis
name: i`` when no pmap or vmap binds one), maps over the pytree ``x`` and binds
one primitive per leaf. A Python scalar is the same on every replica, so
``psum(2, 'i')`` is ``2 * axis_size`` with no communication, as in JAX.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from fx import tree_util
from fx.core import get_aval
from primitives import collectives as C

__all__ = ["psum", "pmean", "pmax", "pmin", "psum_scatter", "all_gather", "all_to_all",
           "ppermute", "pshuffle", "pswapaxes", "axis_index", "axis_size"]

_PY_NUMBERS = (int, float, complex)


def _names(axis_name, axis_index_groups=None) -> tuple:
    names = C.axis_names_tuple(axis_name)
    if axis_index_groups is not None:
        raise NotImplementedError("axis_index_groups is not supported by fx collectives")
    for n in names:
        C.axis_size(n)  # raises NameError for an unbound name
    return names


def _is_py_number(x) -> bool:
    return isinstance(x, _PY_NUMBERS) and not isinstance(x, bool)


def _as_array(x):
    if isinstance(x, (bool, int, float, complex, np.ndarray, np.generic, list, tuple)):
        from fx.numpy import asarray
        return asarray(x)
    return x


def axis_size(axis_name) -> int:
    """The size of the named axis (the product of the sizes for a tuple of names).

    Example:
      >>> fx.vmap(lambda x: x * fx.lax.axis_size("i"), axis_name="i")(fx.numpy.ones(3))
    """
    return C.axis_size(C.axis_names_tuple(axis_name))


def psum(x: Any, axis_name, *, axis_index_groups=None):
    """Sum ``x`` (a pytree) over the named axis or axes, on every replica.

    Args:
      x: array or pytree of arrays.
      axis_name: a name bound by ``pmap``/``vmap(axis_name=)``, or a tuple of names.

    Returns:
      The sum over all replicas of the axis, with the shape and dtype of ``x``.

    Example:
      >>> fx.vmap(lambda v: fx.lax.psum(v, "i"), axis_name="i")(fx.numpy.arange(3.0))
      Array([3., 3., 3.], dtype=float32)
    """
    names = _names(axis_name, axis_index_groups)

    def one(leaf):
        if _is_py_number(leaf):
            return leaf * C.axis_size(names)
        return C.psum_p.bind(_as_array(leaf), axes=names, axis_index_groups=None)

    return tree_util.tree_map(one, x)


def pmean(x: Any, axis_name, *, axis_index_groups=None):
    """The mean of ``x`` over the named axis or axes: ``psum(x) / axis_size``.

    Example:
      >>> fx.vmap(lambda v: fx.lax.pmean(v, "i"), axis_name="i")(fx.numpy.arange(3.0))
      Array([1., 1., 1.], dtype=float32)
    """
    names = _names(axis_name, axis_index_groups)
    size = C.axis_size(names)
    return tree_util.tree_map(lambda v: v / size, psum(x, names))


def _extremum(primitive, what):
    def fn(x: Any, axis_name, *, axis_index_groups=None):
        names = _names(axis_name, axis_index_groups)

        def one(leaf):
            if _is_py_number(leaf):
                return leaf
            return primitive.bind(_as_array(leaf), axes=names, axis_index_groups=None)

        return tree_util.tree_map(one, x)

    fn.__name__ = primitive.name
    fn.__doc__ = f"""The elementwise {what} of ``x`` (a pytree) over the named axis or axes.

    Example:
      >>> fx.vmap(lambda v: fx.lax.{primitive.name}(v, "i"), axis_name="i")(
      ...     fx.numpy.arange(3.0))
    """
    return fn


pmax = _extremum(C.pmax_p, "maximum")
pmin = _extremum(C.pmin_p, "minimum")


def all_gather(x: Any, axis_name, *, axis_index_groups=None, axis: int = 0,
               tiled: bool = False):
    """Every replica's ``x``, stacked along a new ``axis`` (or concatenated if ``tiled``).

    Args:
      x: array or pytree.
      axis_name: the named axis (or tuple of names) to gather over.
      axis: where the gathered axis goes in the result.
      tiled: concatenate along ``axis`` instead of stacking.

    Example:
      >>> fx.vmap(lambda v: fx.lax.all_gather(v, "i"), axis_name="i")(fx.numpy.arange(2.0))
      Array([[0., 1.], [0., 1.]], dtype=float32)
    """
    names = _names(axis_name, axis_index_groups)
    size = C.axis_size(names)

    def one(leaf):
        leaf = _as_array(leaf)
        ndim = get_aval(leaf).ndim
        if tiled:
            if ndim == 0:
                raise ValueError("all_gather with tiled=True needs an operand of rank >= 1")
            if not -ndim <= axis < ndim:
                raise ValueError(f"all_gather: axis {axis} is out of bounds for an operand "
                                 f"of rank {ndim}")
            dim = axis % ndim
        else:
            if not -(ndim + 1) <= axis <= ndim:
                raise ValueError(f"all_gather: axis {axis} is out of bounds for a result of "
                                 f"rank {ndim + 1}")
            dim = axis % (ndim + 1)
        return C.all_gather_p.bind(leaf, all_gather_dimension=dim, axis_name=names,
                                   axis_index_groups=None, axis_size=size, tiled=tiled)

    return tree_util.tree_map(one, x)


def psum_scatter(x: Any, axis_name, *, scatter_dimension: int = 0, axis_index_groups=None,
                 tiled: bool = False):
    """Sum over the named axis, then give replica ``r`` block ``r`` of ``scatter_dimension``.

    Without ``tiled`` that dimension must have the axis size and is removed; with
    ``tiled`` it must be divisible by it and shrinks by that factor.

    Example:
      >>> f = lambda v: fx.lax.psum_scatter(v, "i")
      >>> fx.vmap(f, axis_name="i")(fx.numpy.ones((2, 2)))
      Array([2., 2.], dtype=float32)
    """
    names = _names(axis_name, axis_index_groups)
    size = C.axis_size(names)

    def one(leaf):
        leaf = _as_array(leaf)
        ndim = get_aval(leaf).ndim
        if not -ndim <= scatter_dimension < ndim:
            raise ValueError(f"psum_scatter: scatter_dimension {scatter_dimension} is out of "
                             f"bounds for an operand of rank {ndim}")
        return C.reduce_scatter_p.bind(leaf, scatter_dimension=scatter_dimension % ndim,
                                       axis_name=names, axis_index_groups=None,
                                       axis_size=size, tiled=tiled)

    return tree_util.tree_map(one, x)


def _primitive_axis_name(axis_name):
    """all_to_all records a single name bare (``axis_name=i``), as JAX prints it."""
    names = C.axis_names_tuple(axis_name)
    return names[0] if len(names) == 1 else names


def all_to_all(x: Any, axis_name, split_axis: int, concat_axis: int, *,
               axis_index_groups=None, tiled: bool = False):
    """Split ``split_axis`` into one chunk per replica, send chunk ``i`` to replica ``i``,
    and stack what arrives along ``concat_axis`` (concatenate when ``tiled``).

    Without ``tiled``, ``x.shape[split_axis]`` must equal the axis size: that axis is
    removed and a new one of the axis size is inserted at ``concat_axis``.

    Example:
      >>> f = lambda v: fx.lax.all_to_all(v, "i", 0, 0)
      >>> fx.vmap(f, axis_name="i")(fx.numpy.arange(4.0).reshape(2, 2))  # a transpose
      Array([[0., 2.], [1., 3.]], dtype=float32)
    """
    _names(axis_name, axis_index_groups)
    size = C.axis_size(C.axis_names_tuple(axis_name))
    name = _primitive_axis_name(axis_name)

    def one(leaf):
        leaf = _as_array(leaf)
        shape = get_aval(leaf).shape
        ndim = len(shape)
        for what, a in (("split_axis", split_axis), ("concat_axis", concat_axis)):
            if not -ndim <= a < ndim:
                raise ValueError(f"all_to_all: {what} {a} is out of bounds for an operand of "
                                 f"rank {ndim}")
        s, c = split_axis % ndim, concat_axis % ndim
        params = dict(axis_name=name, axis_index_groups=None, tiled=tiled, axis_size=size)
        if tiled:
            if shape[s] % size:
                raise ValueError(f"all_to_all: the split axis (size {shape[s]}) must be "
                                 f"divisible by the axis size {size}")
            return C.all_to_all_p.bind(leaf, split_axis=s, concat_axis=c, **params)
        if shape[s] != size:
            raise ValueError(f"all_to_all requires the size of the mapped axis {axis_name!r} "
                             f"to equal x.shape[split_axis], but they are {size} and "
                             f"{shape[s]}")
        from primitives import _rules as R
        c1 = c + 1 if c >= s else c  # a new size-1 axis that becomes the gathered one
        s1 = s if s < c1 else s + 1
        expanded = R.broadcast_in_dim(leaf, shape[:c1] + (1,) + shape[c1:],
                                      tuple(i if i < c1 else i + 1 for i in range(ndim)))
        out = C.all_to_all_p.bind(expanded, split_axis=s1, concat_axis=c1, **params)
        return R.registry["squeeze"].bind(out, dimensions=(s1,))

    return tree_util.tree_map(one, x)


def pswapaxes(x: Any, axis_name, axis: int, *, axis_index_groups=None):
    """Swap the named axis with positional ``axis`` of ``x`` (whose size must match it).

    Example:
      >>> fx.vmap(lambda v: fx.lax.pswapaxes(v, "i", 0), axis_name="i")(
      ...     fx.numpy.arange(4.0).reshape(2, 2))
    """
    _names(axis_name, axis_index_groups)
    size = C.axis_size(C.axis_names_tuple(axis_name))
    name = _primitive_axis_name(axis_name)

    def one(leaf):
        leaf = _as_array(leaf)
        shape = get_aval(leaf).shape
        if not -len(shape) <= axis < len(shape):
            raise ValueError(f"pswapaxes: axis {axis} is out of bounds for rank {len(shape)}")
        a = axis % len(shape)
        if shape[a] != size:
            raise ValueError(f"pswapaxes: x.shape[{a}] = {shape[a]} must equal the size "
                             f"{size} of axis {axis_name!r}")
        return C.all_to_all_p.bind(leaf, axis_name=name, split_axis=a, concat_axis=a,
                                   axis_index_groups=None, tiled=False, axis_size=size)

    return tree_util.tree_map(one, x)


def ppermute(x: Any, axis_name, perm: Sequence[tuple[int, int]]):
    """Send each replica's ``x`` along the pairs ``(source, destination)`` of ``perm``;
    replicas that receive nothing get zeros.

    Example:
      >>> f = lambda v: fx.lax.ppermute(v, "i", [(0, 1), (1, 0)])
      >>> fx.vmap(f, axis_name="i")(fx.numpy.arange(2.0))
      Array([1., 0.], dtype=float32)
    """
    names = _names(axis_name)
    size = C.axis_size(names)
    try:
        pairs = tuple((int(s), int(d)) for s, d in perm)
    except (TypeError, ValueError):
        raise TypeError(f"ppermute: perm must be a sequence of (source, destination) int "
                        f"pairs, got {perm!r}") from None
    C._check_perm(pairs, size)
    return tree_util.tree_map(
        lambda leaf: C.ppermute_p.bind(_as_array(leaf), axis_name=names, perm=pairs), x)


def pshuffle(x: Any, axis_name, perm: Sequence[int]):
    """Replica ``i`` gets the ``x`` of replica ``perm[i]`` (``perm`` a permutation).

    Example:
      >>> fx.vmap(lambda v: fx.lax.pshuffle(v, "i", [1, 0]), axis_name="i")(
      ...     fx.numpy.arange(2.0))
      Array([1., 0.], dtype=float32)
    """
    perm = [int(p) for p in perm]
    if sorted(perm) != list(range(len(perm))):
        raise ValueError(f"pshuffle: perm must be a permutation of range({len(perm)}), got "
                         f"{perm}")
    return ppermute(x, axis_name, [(src, dst) for dst, src in enumerate(perm)])


def axis_index(axis_name):
    """This replica's index along the named axis (row-major over a tuple of names).

    Example:
      >>> fx.vmap(lambda _: fx.lax.axis_index("i"), axis_name="i")(fx.numpy.zeros(3))
      Array([0, 1, 2], dtype=int32)
    """
    names = _names(axis_name)
    index = None
    for name in names:
        i = C.axis_index_p.bind(axis_name=name)
        index = i if index is None else index * C.axis_size(name) + i
    return index
