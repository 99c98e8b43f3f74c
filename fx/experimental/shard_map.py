"""``shard_map``: map a function over the shards of arrays laid out on a ``Mesh``.

Invariants: ``shard_map`` is built on ``pmap``: each mesh axis becomes one level
of nested pmap named after it (outermost = the mesh's first axis), so the
collectives see the mesh axis names. An input dimension split over mesh axes
(``PartitionSpec``) is reshaped into one leading dimension per mesh axis plus the
block; a mesh axis that a spec does not name is broadcast (``in_axes=None``) on
the way in and must be replicated on the way out (``out_axes=None``: the value
of the first shard is taken).
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from fx import tree_util
from fx.core import get_aval
from fx.sharding import Mesh, PartitionSpec

__all__ = ["shard_map"]


def _names_per_dim(spec: PartitionSpec, ndim: int, mesh: Mesh, what: str) -> list[tuple]:
    if len(spec) > ndim:
        raise ValueError(f"shard_map: {what} spec {spec} has {len(spec)} entries for a value "
                         f"of rank {ndim}")
    dims = []
    for p in tuple(spec) + (None,) * (ndim - len(spec)):
        names = () if p is None else (p if isinstance(p, tuple) else (p,))
        for n in names:
            if n not in mesh.axis_names:
                raise ValueError(f"shard_map: {what} spec {spec} names {n!r}, which is not a "
                                 f"mesh axis {mesh.axis_names}")
        dims.append(tuple(names))
    used = [n for names in dims for n in names]
    if len(set(used)) != len(used):
        raise ValueError(f"shard_map: {what} spec {spec} uses a mesh axis twice")
    return dims


def _split(x, dims, mesh: Mesh):
    """``x`` with one leading dim per mesh axis it is split over (in mesh order)."""
    from fx.numpy import asarray, reshape, transpose
    x = asarray(x)
    new_shape, lead_pos = [], {}
    for size, names in zip(get_aval(x).shape, dims):
        total = _total(names, mesh)
        if size % total:
            raise ValueError(f"shard_map: a dimension of size {size} cannot be split over mesh "
                             f"axes {names} of total size {total}")
        for n in names:
            lead_pos[n] = len(new_shape)
            new_shape.append(mesh.shape[n])
        new_shape.append(size // total)
    x = reshape(x, new_shape)
    order = [lead_pos[n] for n in mesh.axis_names if n in lead_pos]
    rest = [i for i in range(len(new_shape)) if i not in order]
    return transpose(x, order + rest)


def _total(names, mesh) -> int:
    return int(np.prod([mesh.shape[n] for n in names], dtype=np.int64))


def _merge(y, dims, mesh: Mesh):
    """Assemble an output whose leading dims are every mesh axis (in mesh order): axes its
    spec does not name are replicated (shard 0 is taken); the others are merged into the
    dimensions ``dims`` says."""
    from fx.numpy import reshape, transpose
    used = [n for names in dims for n in names]
    index = tuple(slice(None) if n in used else 0 for n in mesh.axis_names)
    y = y[index]
    kept = [n for n in mesh.axis_names if n in used]
    block = get_aval(y).shape[len(kept):]
    perm, pos = [], len(kept)
    for names in dims:
        perm.extend(kept.index(n) for n in names)
        perm.append(pos)
        pos += 1
    y = transpose(y, perm)
    return reshape(y, [b * _total(names, mesh) for b, names in zip(block, dims)])


def shard_map(f: Callable | None = None, mesh: Mesh | None = None, in_specs=None,
              out_specs=None, check_rep: bool = True, auto=frozenset(), *,
              check_vma: bool | None = None, axis_names=None):
    """Run ``f`` on the shards of its arguments, one call per device of ``mesh``.

    Both JAX forms work: ``shard_map(f, mesh, in_specs, out_specs)`` and
    ``jax.shard_map(f, mesh=..., in_specs=..., out_specs=...)``, also as a decorator
    (``f`` omitted) and with the current mesh (``fx.sharding.set_mesh``) when ``mesh``
    is omitted; omitted ``in_specs`` are read from the arguments' ``NamedSharding``.

    Args:
      f: function of the per-shard blocks; collectives name mesh axes.
      mesh: the ``fx.sharding.Mesh`` of devices (default: the current mesh).
      in_specs: a ``PartitionSpec`` per argument (a pytree prefix of the arguments).
      out_specs: a ``PartitionSpec`` per output (a pytree prefix of the outputs); an
        output must be the same on every shard of a mesh axis its spec does not name.

    Returns:
      The mapped function; outputs are assembled from the shards as ``out_specs`` say.

    Example:
      >>> mesh = Mesh(np.array(fx.devices()[:2]), ("x",))
      >>> f = shard_map(lambda b: fx.lax.psum(b.sum(), "x"), mesh, P("x"), P())
      >>> f(fx.numpy.arange(4.0))   # with 2 CPU devices
      Array(6., dtype=float32)
    """
    from fx.interpreters.pmap import pmap
    if f is None:
        return functools.partial(shard_map, mesh=mesh, in_specs=in_specs, out_specs=out_specs,
                                 check_rep=check_rep, auto=auto, check_vma=check_vma,
                                 axis_names=axis_names)
    if mesh is None:
        from fx.sharding import get_mesh
        mesh = get_mesh()
        if mesh.empty:
            raise ValueError("shard_map: no mesh given and no current mesh; pass mesh= or "
                             "call fx.sharding.set_mesh(mesh)")
    if not isinstance(mesh, Mesh):
        raise TypeError(f"shard_map: mesh must be an fx.sharding.Mesh, got {type(mesh).__name__}")
    if out_specs is None:
        raise TypeError("shard_map: out_specs is required")
    if auto:
        raise NotImplementedError("shard_map: auto axes are not supported by fx")

    @functools.wraps(f)
    def mapped(*args):
        flat, in_tree = tree_util.tree_flatten(args)
        specs = _broadcast_specs(in_specs, in_tree, "in_specs") if in_specs is not None \
            else [_inferred_spec(x) for x in flat]
        dims = [_names_per_dim(s, np.ndim(x) if isinstance(x, (int, float)) else
                               get_aval(x).ndim, mesh, "in") for x, s in zip(flat, specs)]
        split = [_split(x, d, mesh) for x, d in zip(flat, dims)]
        store: dict[str, Any] = {}

        def body(*blocks):
            out = f(*tree_util.tree_unflatten(in_tree, blocks))
            leaves, store["tree"] = tree_util.tree_flatten(out)
            return leaves

        fn = body
        for name in reversed(mesh.axis_names):
            in_axes = tuple(0 if any(name in names for names in d) else None for d in dims)
            fn = pmap(fn, axis_name=name, in_axes=in_axes, axis_size=mesh.shape[name])
        outs = fn(*split)
        out_specs_flat = _broadcast_specs(out_specs, store["tree"], "out_specs")
        n_mesh = len(mesh.axis_names)
        merged = [_merge(o, _names_per_dim(s, get_aval(o).ndim - n_mesh, mesh, "out"), mesh)
                  for o, s in zip(outs, out_specs_flat)]
        return tree_util.tree_unflatten(store["tree"], merged)

    return mapped


def _broadcast_specs(specs, tree, what):
    """One PartitionSpec per leaf of ``tree`` from the prefix pytree ``specs``."""
    proxy = tree_util.tree_unflatten(tree, [object()] * tree.num_leaves)
    if isinstance(specs, PartitionSpec) or specs is None:
        return [specs or PartitionSpec()] * tree.num_leaves
    flat: list = []
    try:
        tree_util.tree_map(lambda s, sub: flat.extend(
            [s if s is not None else PartitionSpec()] * len(tree_util.tree_leaves(sub))),
            specs, proxy, is_leaf=lambda s: isinstance(s, PartitionSpec) or s is None)
    except ValueError as e:
        raise ValueError(f"shard_map {what} must be a pytree prefix of the values: {e}") \
            from None
    return flat


def _inferred_spec(x) -> PartitionSpec:
    """The spec of an argument laid out with a ``NamedSharding`` (in_specs omitted)."""
    from fx.sharding import NamedSharding
    sharding = getattr(x, "sharding", None)
    if isinstance(sharding, NamedSharding):
        return sharding.spec
    raise ValueError(f"shard_map: in_specs omitted, but an argument of type "
                     f"{type(x).__name__} has no NamedSharding to infer its spec from; pass "
                     f"in_specs")
