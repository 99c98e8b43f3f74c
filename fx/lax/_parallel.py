"""``fx.lax`` collectives: psum, pmean, pmax, pmin, psum_scatter, all_gather,
all_to_all, ppermute, pshuffle, pswapaxes, pbroadcast, psend/precv, pcast,
ragged_all_to_all, axis_index, axis_size (and their primitives, ``psum_p`` ...).

Invariants: each wrapper resolves its axis names first (NameError ``unbound axis
name: i`` when no pmap or vmap binds one), maps over the pytree ``x`` and binds
one primitive per leaf. A Python scalar is the same on every replica, so
``psum(2, 'i')`` is ``2 * axis_size`` with no communication, as in JAX.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from fx import dtypes, tree_util
from fx.core import get_aval
from primitives import collectives as C
from primitives import collectives_extra as CX

__all__ = ["psum", "pmean", "pmax", "pmin", "psum_scatter", "all_gather", "all_to_all",
           "ppermute", "pshuffle", "pswapaxes", "axis_index", "axis_size", "pbroadcast",
           "psend", "precv", "pcast", "ragged_all_to_all",
           "psum_p", "pmax_p", "pmin_p", "ppermute_p", "all_gather_p", "all_to_all_p",
           "axis_index_p", "reduce_scatter_p", "pbroadcast_p", "psend_p", "precv_p",
           "ragged_all_to_all_p"]

psum_p, pmax_p, pmin_p = C.psum_p, C.pmax_p, C.pmin_p
ppermute_p, all_gather_p, all_to_all_p = C.ppermute_p, C.all_gather_p, C.all_to_all_p
axis_index_p, reduce_scatter_p = C.axis_index_p, C.reduce_scatter_p
pbroadcast_p, psend_p, precv_p = CX.pbroadcast_p, CX.psend_p, CX.precv_p
ragged_all_to_all_p = CX.ragged_all_to_all_p



def _names(axis_name) -> tuple:
    names = C.axis_names_tuple(axis_name)
    for n in names:
        C.axis_size(n)  # raises NameError for an unbound name
    return names


def _groups(what, axis_index_groups, names, equal=False):
    """``axis_index_groups`` as a tuple of tuples, checked against the size of ``names``
    (the groups index the axes' row-major combined index); returns (groups, group size)."""
    size = C.axis_size(names)
    if axis_index_groups is None:
        return None, size
    try:
        groups = tuple(tuple(int(i) for i in g) for g in axis_index_groups)
    except (TypeError, ValueError):
        raise TypeError(f"{what}: axis_index_groups must be a list of lists of axis indices, "
                        f"got {axis_index_groups!r}") from None
    C.check_groups(what, groups, size, equal=equal)
    return groups, C.group_size(groups, size)


def _is_py_number(x) -> bool:
    return dtypes.is_weak_scalar(x)


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
      axis_index_groups: optional list of lists of axis indices: each group sums over
        its own members only (e.g. ``[[0, 1], [2, 3]]``); the groups must cover every
        index once.

    Returns:
      The sum over all replicas of the axis, with the shape and dtype of ``x``.

    Example:
      >>> fx.vmap(lambda v: fx.lax.psum(v, "i"), axis_name="i")(fx.numpy.arange(3.0))
      Array([3., 3., 3.], dtype=float32)
    """
    names = _names(axis_name)
    groups, size = _groups("psum", axis_index_groups, names)
    uneven = groups is not None and len({len(g) for g in groups}) > 1

    def one(leaf):
        if _is_py_number(leaf) and not uneven:
            return leaf * size
        return C.psum_p.bind(_as_array(leaf), axes=names, axis_index_groups=groups)

    return tree_util.tree_map(one, x)


def pmean(x: Any, axis_name, *, axis_index_groups=None):
    """The mean of ``x`` over the named axis or axes: ``psum(x) / axis_size``.

    Example:
      >>> fx.vmap(lambda v: fx.lax.pmean(v, "i"), axis_name="i")(fx.numpy.arange(3.0))
      Array([1., 1., 1.], dtype=float32)
    """
    names = _names(axis_name)
    _, size = _groups("pmean", axis_index_groups, names, equal=True)
    return tree_util.tree_map(lambda v: v / size,
                              psum(x, names, axis_index_groups=axis_index_groups))


def _extremum(primitive, what):
    def fn(x: Any, axis_name, *, axis_index_groups=None):
        names = _names(axis_name)
        groups, _ = _groups(primitive.name, axis_index_groups, names)

        def one(leaf):
            if _is_py_number(leaf):
                return leaf
            return primitive.bind(_as_array(leaf), axes=names, axis_index_groups=groups)

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
    names = _names(axis_name)
    groups, size = _groups("all_gather", axis_index_groups, names, equal=True)

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
                                   axis_index_groups=groups, axis_size=size, tiled=tiled)

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
    names = _names(axis_name)
    groups, size = _groups("psum_scatter", axis_index_groups, names, equal=True)

    def one(leaf):
        leaf = _as_array(leaf)
        ndim = get_aval(leaf).ndim
        if not -ndim <= scatter_dimension < ndim:
            raise ValueError(f"psum_scatter: scatter_dimension {scatter_dimension} is out of "
                             f"bounds for an operand of rank {ndim}")
        return C.reduce_scatter_p.bind(leaf, scatter_dimension=scatter_dimension % ndim,
                                       axis_name=names, axis_index_groups=groups,
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
    groups, size = _groups("all_to_all", axis_index_groups, _names(axis_name), equal=True)
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
        params = dict(axis_name=name, axis_index_groups=groups, tiled=tiled, axis_size=size)
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
    groups, size = _groups("pswapaxes", axis_index_groups, _names(axis_name), equal=True)
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
                                   axis_index_groups=groups, tiled=False, axis_size=size)

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
    pairs = _perm_pairs("ppermute", perm, C.axis_size(names))
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


def _perm_pairs(what, perm, size):
    try:
        pairs = tuple((int(s), int(d)) for s, d in perm)
    except (TypeError, ValueError):
        raise TypeError(f"{what}: perm must be a sequence of (source, destination) int "
                        f"pairs, got {perm!r}") from None
    C._check_perm(pairs, size)
    return pairs


def pbroadcast(x: Any, axis_name, source: int):
    """Every replica gets the ``x`` of replica ``source`` along the named axis.

    Args:
      x: array or pytree.
      axis_name: a bound axis name (or tuple of names: ``source`` is then a row-major
        index over them).
      source: the index of the replica whose value is copied.

    Example:
      >>> fx.vmap(lambda v: fx.lax.pbroadcast(v, "i", 2), axis_name="i")(
      ...     fx.numpy.arange(3.0))
      Array([2., 2., 2.], dtype=float32)
    """
    names = _names(axis_name)
    size = C.axis_size(names)
    if isinstance(source, bool) or not isinstance(source, (int, np.integer)) or \
            not 0 <= source < size:
        raise ValueError(f"pbroadcast: source must be an int in [0, {size}) for axis "
                         f"{axis_name!r}, got {source!r}")
    return tree_util.tree_map(lambda leaf: CX.pbroadcast_p.bind(
        _as_array(leaf), axis_name=names, source=int(source)), x)


def psend(x: Any, axis_name, perm: Sequence[tuple[int, int]]):
    """Send ``x`` along the ``(source, destination)`` pairs of ``perm``; returns the token
    to pass to :func:`precv`.

    fx has no token type: the transfer completes here and the token holds the value
    this replica receives (zeros where no pair sends to it), so
    ``precv(psend(x, n, perm), out_shape, n, perm)`` equals ``ppermute(x, n, perm)``.

    Example:
      >>> def f(v):
      ...     tok = fx.lax.psend(v, "i", [(0, 1), (1, 0)])
      ...     return fx.lax.precv(tok, fx.ShapeDtypeStruct(v.shape, v.dtype), "i",
      ...                         [(0, 1), (1, 0)])
      >>> fx.vmap(f, axis_name="i")(fx.numpy.arange(2.0))
      Array([1., 0.], dtype=float32)
    """
    names = _names(axis_name)
    pairs = _perm_pairs("psend", perm, C.axis_size(names))
    return tree_util.tree_map(
        lambda leaf: CX.psend_p.bind(_as_array(leaf), axis_name=names, perm=pairs), x)


def precv(token, out_shape, axis_name, perm: Sequence[tuple[int, int]]):
    """Receive what the matching :func:`psend` sent, as an array of ``out_shape`` (a
    ``ShapeDtypeStruct``); ``token`` is psend's result.

    Example:
      >>> # see psend
    """
    from fx.core import ShapedArray
    names = _names(axis_name)
    pairs = _perm_pairs("precv", perm, C.axis_size(names))
    if not hasattr(out_shape, "shape") or not hasattr(out_shape, "dtype"):
        raise TypeError(f"precv: out_shape must be a ShapeDtypeStruct, got {out_shape!r}")
    aval = ShapedArray(tuple(out_shape.shape), np.dtype(out_shape.dtype))
    return CX.precv_p.bind(_as_array(token), out_shape=aval, axis_name=names, perm=pairs)


_PCAST_TO = ("varying", "reduced", "unreduced")


def pcast(x: Any, axis_name, *, to: str):
    """Change how ``x`` is typed along the named axes (``to``: "varying", "reduced" or
    "unreduced"). fx does not track varying manual axes in types, so the values are
    returned unchanged once the arguments are checked.

    Example:
      >>> fx.vmap(lambda v: fx.lax.pcast(v, "i", to="varying"), axis_name="i")(
      ...     fx.numpy.ones(2))
    """
    if isinstance(axis_name, (set, frozenset)):
        raise TypeError(f"axis_name={axis_name} must be a tuple or a str. Got {axis_name}")
    if to not in _PCAST_TO:
        raise ValueError(f"Got unexpected `to` value {to!r}. Allowed `to` values are: "
                         f"{set(_PCAST_TO)}")
    if axis_name == ():
        return x
    _names(axis_name)
    return tree_util.tree_map(_as_array, x)


def ragged_all_to_all(operand, output, input_offsets, send_sizes, output_offsets,
                      recv_sizes, *, axis_name, axis_index_groups=None):
    """all_to_all of ragged slices of the leading axis, as ``jax.lax.ragged_all_to_all``.

    Slice ``i`` of this replica (``operand[input_offsets[i]:][:send_sizes[i]]``) goes to
    replica ``i // (K / axis_size)`` and is written there at ``output_offsets[i]``; the
    result is ``output`` with every received slice written in.

    Args:
      operand: (N, ...) data to send; output: (M, ...) array to write received data into.
      input_offsets, send_sizes, output_offsets, recv_sizes: int arrays of shape (K,),
        K a multiple of the axis size.
      axis_name: the named axis; axis_index_groups: optional equal-size groups.

    Returns:
      An array like ``output`` with the received slices written.

    Example:
      >>> # replica 0 sends its row 1 to replica 1, which writes it at row 0
      >>> # (see tests/parallel/test_collectives_extra.py)
    """
    names = _names(axis_name)
    groups, _ = _groups("ragged_all_to_all", axis_index_groups, names, equal=True)
    args = [_as_array(a) for a in (operand, output, input_offsets, send_sizes,
                                   output_offsets, recv_sizes)]
    return CX.ragged_all_to_all_p.bind(*args, axis_name=names, axis_index_groups=groups)
