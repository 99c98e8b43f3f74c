"""``fx.sharding``: where the pieces of an array live, as ``jax.sharding``.

Invariants: shardings are immutable and hashable (caches key on them). A
``Mesh`` is an n-d array of devices with a name per axis; a ``PartitionSpec``
names, for each array dimension, the mesh axes it is split over (None:
replicated); a ``NamedSharding`` pairs the two. ``PmapSharding`` describes a
``pmap`` output: the devices, and the array axis split over them. An
``AbstractMesh`` is a mesh's shape, names and axis types without devices.
``set_mesh``/``use_abstract_mesh`` install a current mesh (process-wide, so
pmap replica threads see it too); fx keeps every array whole on its host, so
``reshard``, ``auto_axes`` and ``explicit_axes`` check their arguments and
record shardings but never move data.
"""
from __future__ import annotations

import enum
import importlib
from typing import Any, Callable, Sequence

import numpy as np


class Sharding:
    """Base class of the shardings: ``device_set`` is every device holding a piece."""

    @property
    def device_set(self) -> set:
        raise NotImplementedError

    def is_fully_replicated(self) -> bool:
        raise NotImplementedError

    @property
    def is_fully_addressable(self) -> bool:
        D = importlib.import_module("fx.devices")
        me = D.process_index()
        return all(d.process_index == me for d in self.device_set)


class SingleDeviceSharding(Sharding):
    """The whole array on one device."""

    def __init__(self, device):
        self._device = device

    @property
    def device_set(self) -> set:
        return {self._device}

    def is_fully_replicated(self) -> bool:
        return True

    def __eq__(self, other):
        return isinstance(other, SingleDeviceSharding) and other._device == self._device

    def __hash__(self):
        return hash(("single", self._device))

    def __repr__(self):
        return f"SingleDeviceSharding(device={self._device!r})"


class PmapSharding(Sharding):
    """A ``pmap`` output: axis ``sharded_dim`` split over ``devices`` (None: replicated)."""

    def __init__(self, devices: Sequence[Any], sharded_dim: int | None = 0):
        self.devices = tuple(devices)
        self.sharded_dim = sharded_dim

    @property
    def device_set(self) -> set:
        return set(self.devices)

    def is_fully_replicated(self) -> bool:
        return self.sharded_dim is None

    def __eq__(self, other):
        return (isinstance(other, PmapSharding) and other.devices == self.devices
                and other.sharded_dim == self.sharded_dim)

    def __hash__(self):
        return hash(("pmap", self.devices, self.sharded_dim))

    def __repr__(self):
        return f"PmapSharding(devices={list(self.devices)}, sharded_dim={self.sharded_dim})"


class PartitionSpec(tuple):
    """Per array dimension, the mesh axis name (or tuple of names, or None) it is split over.

    Example:
      >>> P("data", None)   # dim 0 split over mesh axis "data", dim 1 replicated
    """

    def __new__(cls, *partitions):
        for p in partitions:
            names = p if isinstance(p, tuple) else (p,)
            for n in names:
                if n is not None and not isinstance(n, str):
                    raise TypeError(f"PartitionSpec entries must be mesh axis names (str), "
                                    f"tuples of names, or None; got {p!r}")
        return super().__new__(cls, partitions)

    def __repr__(self):
        return f"PartitionSpec({', '.join(map(repr, self))})"

    def __reduce__(self):
        return (PartitionSpec, tuple(self))


P = PartitionSpec


class Mesh:
    """An n-d array of devices with a name for each axis.

    Args:
      devices: array-like of devices, of any shape (``Mesh()`` is the empty mesh).
      axis_names: one name per dimension of ``devices``.
      axis_types: an ``AxisType`` per axis (default ``AxisType.Auto``).

    Example:
      >>> mesh = Mesh(np.array(fx.devices()[:4]).reshape(2, 2), ("data", "model"))
      >>> mesh.shape
      {'data': 2, 'model': 2}
    """

    def __init__(self, devices=None, axis_names=(), *, axis_types=None):
        if devices is None:  # Mesh(): the empty mesh (get_mesh() when none is set)
            devices = np.empty((), dtype=object)
        arr = np.array(devices, dtype=object)
        names = (axis_names,) if isinstance(axis_names, str) else tuple(axis_names)
        self.axis_types = _axis_types(names, axis_types, "Mesh")
        if arr.ndim != len(names):
            raise ValueError(f"Mesh: devices of shape {arr.shape} need {arr.ndim} axis "
                             f"names, got {names}")
        if len(set(names)) != len(names):
            raise ValueError(f"Mesh: duplicate axis names {names}")
        ids = [d.id for d in arr.ravel()] if arr.ndim else []
        if len(set(ids)) != len(ids):
            raise ValueError("Mesh: a device appears more than once")
        self.devices = arr
        self.axis_names = names

    @property
    def shape(self) -> dict:
        return dict(zip(self.axis_names, self.devices.shape))

    @property
    def size(self) -> int:
        return int(self.devices.size)

    @property
    def empty(self) -> bool:
        return self.devices.ndim == 0

    @property
    def axis_sizes(self) -> tuple:
        return tuple(self.devices.shape)

    @property
    def abstract_mesh(self) -> AbstractMesh:
        """This mesh without its devices."""
        return AbstractMesh(self.axis_sizes, self.axis_names, self.axis_types)

    @property
    def device_ids(self) -> np.ndarray:
        return np.vectorize(lambda d: d.id, otypes=[int])(self.devices)

    def __eq__(self, other):
        return (isinstance(other, Mesh) and other.axis_names == self.axis_names
                and other.devices.shape == self.devices.shape
                and list(other.devices.ravel()) == list(self.devices.ravel()))

    def __hash__(self):
        return hash((self.axis_names, self.devices.shape, tuple(self.devices.ravel())))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __repr__(self):
        axes = ", ".join(f"'{n}': {s}" for n, s in self.shape.items())
        return f"Mesh({axes})"


class NamedSharding(Sharding):
    """A ``Mesh`` and a ``PartitionSpec``: dimension i split over the mesh axes spec[i]."""

    def __init__(self, mesh: Mesh, spec: PartitionSpec):
        if not isinstance(mesh, Mesh):
            raise TypeError(f"NamedSharding needs a Mesh, got {type(mesh).__name__}")
        spec = spec if isinstance(spec, PartitionSpec) else PartitionSpec(*spec)
        for p in spec:
            for n in (p if isinstance(p, tuple) else (p,)):
                if n is not None and n not in mesh.axis_names:
                    raise ValueError(f"NamedSharding: {spec} names axis {n!r}, which is not "
                                     f"in the mesh axes {mesh.axis_names}")
        self.mesh = mesh
        self.spec = spec

    @property
    def device_set(self) -> set:
        return set(self.mesh.devices.ravel())

    def is_fully_replicated(self) -> bool:
        return all(p is None for p in self.spec)

    def __eq__(self, other):
        return isinstance(other, NamedSharding) and other.mesh == self.mesh and \
            tuple(other.spec) == tuple(self.spec)

    def __hash__(self):
        return hash((self.mesh, tuple(self.spec)))

    def __repr__(self):
        return f"NamedSharding(mesh={self.mesh!r}, spec={self.spec!r})"


# ---------------------------------------------------------------------------
# axis types, abstract meshes and the current mesh


class AxisType(enum.Enum):
    """How a mesh axis is partitioned: by the compiler (Auto), in the types (Explicit),
    or by the user inside shard_map (Manual)."""

    Auto = enum.auto()
    Explicit = enum.auto()
    Manual = enum.auto()

    def __repr__(self):
        return self.name


def _axis_types(names: tuple, axis_types, what: str) -> tuple:
    if axis_types is None:
        return (AxisType.Auto,) * len(names)
    types = (axis_types,) if isinstance(axis_types, AxisType) else tuple(axis_types)
    if len(types) != len(names):
        raise ValueError(f"Number of axis names should match the number of axis_types. Got "
                         f"axis_names={names} and axis_types={types}")
    for t in types:
        if not isinstance(t, AxisType):
            raise TypeError(f"{what}: axis_types must be AxisType values, got {t!r}")
    return types


class ManualAxisType:
    """The manual-axis state of a value inside shard_map: the mesh axes it varies over,
    and those it is unreduced or reduced over (fx records it; values are unaffected)."""

    __slots__ = ("varying", "unreduced", "reduced")

    def __init__(self, *, varying=frozenset(), unreduced=frozenset(), reduced=frozenset()):
        self.varying, self.unreduced = frozenset(varying), frozenset(unreduced)
        self.reduced = frozenset(reduced)

    def update(self, **changes) -> ManualAxisType:
        fields = dict(varying=self.varying, unreduced=self.unreduced, reduced=self.reduced)
        fields.update(changes)
        return ManualAxisType(**fields)

    def __eq__(self, other):
        return isinstance(other, ManualAxisType) and (
            self.varying, self.unreduced, self.reduced) == (
            other.varying, other.unreduced, other.reduced)

    def __hash__(self):
        return hash((self.varying, self.unreduced, self.reduced))

    def __repr__(self):
        return (f"ManualAxisType(varying={self.varying}, unreduced={self.unreduced}, "
                f"reduced={self.reduced})")


class AbstractDevice:
    """What an abstract mesh knows of its devices: their kind, cores and platform."""

    __slots__ = ("device_kind", "num_cores", "platform")

    def __init__(self, device_kind: str, num_cores: int | None, platform: str):
        self.device_kind, self.num_cores, self.platform = device_kind, num_cores, platform

    def __eq__(self, other):
        return isinstance(other, AbstractDevice) and (
            self.device_kind, self.num_cores, self.platform) == (
            other.device_kind, other.num_cores, other.platform)

    def __hash__(self):
        return hash((self.device_kind, self.num_cores, self.platform))

    def __repr__(self):
        return (f"AbstractDevice(device_kind={self.device_kind}, num_cores={self.num_cores}, "
                f"platform={self.platform})")


class AbstractMesh:
    """A mesh's axis sizes, names and types, without devices (what tracing needs).

    Example:
      >>> AbstractMesh((2, 3), ("a", "b")).shape
      {'a': 2, 'b': 3}
    """

    def __init__(self, axis_sizes: tuple, axis_names: tuple, axis_types=None, *,
                 abstract_device=None):
        self.axis_sizes = tuple(int(n) for n in axis_sizes)
        self.axis_names = tuple(axis_names)
        if len(self.axis_sizes) != len(self.axis_names):
            raise ValueError(f"AbstractMesh: {len(self.axis_sizes)} axis sizes "
                             f"{self.axis_sizes} for {len(self.axis_names)} axis names "
                             f"{self.axis_names}")
        if len(set(self.axis_names)) != len(self.axis_names):
            raise ValueError(f"AbstractMesh: duplicate axis names {self.axis_names}")
        self.axis_types = _axis_types(self.axis_names, axis_types, "AbstractMesh")
        self.abstract_device = abstract_device

    @property
    def shape(self) -> dict:
        return dict(zip(self.axis_names, self.axis_sizes))

    @property
    def size(self) -> int:
        return int(np.prod(self.axis_sizes, dtype=np.int64))

    @property
    def empty(self) -> bool:
        return not self.axis_names

    def __eq__(self, other):
        return isinstance(other, AbstractMesh) and (
            self.axis_sizes, self.axis_names, self.axis_types) == (
            other.axis_sizes, other.axis_names, other.axis_types)

    def __hash__(self):
        return hash((self.axis_sizes, self.axis_names, self.axis_types))

    def __repr__(self):
        axes = ", ".join(f"'{n}': {s}" for n, s in self.shape.items())
        types = "(" + ", ".join(t.name for t in self.axis_types) + \
            ("," if len(self.axis_types) == 1 else "") + ")"
        return f"AbstractMesh({axes if axes else '()'}, axis_types={types})"


_current: dict = {"mesh": None, "abstract": None}


class set_mesh:
    """Make ``mesh`` the current mesh: at once, and until the ``with`` block ends when
    used as a context manager (the previous one is restored then).

    Example:
      >>> with fx.sharding.set_mesh(fx.make_mesh((2,), ("x",))):
      ...     fx.sharding.get_mesh().shape
      {'x': 2}
    """

    def __init__(self, mesh: Mesh | None):
        if mesh is not None and not isinstance(mesh, Mesh):
            raise TypeError(f"set_mesh: expected a Mesh (or None), got "
                            f"{type(mesh).__name__}: {mesh!r}")
        self._previous = (_current["mesh"], _current["abstract"])
        _current["mesh"] = mesh
        _current["abstract"] = None if mesh is None else mesh.abstract_mesh

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        _current["mesh"], _current["abstract"] = self._previous
        return False


def get_mesh() -> Mesh:
    """The current mesh (``set_mesh``); the empty ``Mesh()`` when none is set."""
    return _current["mesh"] if _current["mesh"] is not None else Mesh()


class use_abstract_mesh:
    """Make ``mesh`` (an ``AbstractMesh``) the current abstract mesh within a ``with``."""

    def __init__(self, mesh: AbstractMesh):
        if not isinstance(mesh, AbstractMesh):
            raise TypeError(f"use_abstract_mesh: expected an AbstractMesh, got "
                            f"{type(mesh).__name__}: {mesh!r}")
        self._mesh = mesh
        self._previous = None

    def __enter__(self):
        self._previous = _current["abstract"]
        _current["abstract"] = self._mesh
        return self._mesh

    def __exit__(self, *exc):
        _current["abstract"] = self._previous
        return False


def get_abstract_mesh() -> AbstractMesh:
    """The current abstract mesh (from ``use_abstract_mesh`` or ``set_mesh``); an empty
    ``AbstractMesh`` when none is set."""
    mesh = _current["abstract"]
    return mesh if mesh is not None else AbstractMesh((), ())


def make_single_device_sharding(device, *, memory_kind=None) -> SingleDeviceSharding:
    """A ``SingleDeviceSharding`` on ``device``."""
    return SingleDeviceSharding(device)


def _as_sharding(spec, what: str):
    if isinstance(spec, Sharding):
        return spec
    if isinstance(spec, PartitionSpec):
        mesh = get_mesh()
        if mesh.empty:
            raise ValueError(f"{what}: a PartitionSpec {spec} needs a current mesh; call "
                             f"fx.sharding.set_mesh(mesh) or pass a NamedSharding")
        return NamedSharding(mesh, spec)
    raise TypeError(f"{what}: expected a Sharding or a PartitionSpec, got "
                    f"{type(spec).__name__}: {spec!r}")


def reshard(xs: Any, out_shardings):
    """``xs`` (a pytree) laid out as ``out_shardings`` (a Sharding or PartitionSpec, or a
    pytree prefix of them; a PartitionSpec refers to the current mesh).

    fx keeps arrays whole on the host: the values are unchanged and concrete arrays
    carry the new sharding. Traced values pass through.

    Example:
      >>> with fx.sharding.set_mesh(fx.make_mesh((2,), ("x",))):
      ...     y = fx.reshard(fx.numpy.arange(4.0), P("x"))
    """
    from fx import tree_util
    from fx.array import Array
    D = importlib.import_module("fx.devices")
    leaves, tree = tree_util.tree_flatten(xs)
    if isinstance(out_shardings, (Sharding, PartitionSpec)):
        specs = [out_shardings] * len(leaves)
    else:
        specs = tree_util.tree_leaves(out_shardings,
                                      is_leaf=lambda s: isinstance(s, (Sharding,
                                                                       PartitionSpec)))
        if len(specs) != len(leaves):
            raise ValueError(f"reshard: out_shardings must be a Sharding, a PartitionSpec, or "
                             f"a pytree of them matching the {len(leaves)} values, got "
                             f"{out_shardings!r}")
    out = []
    for leaf, spec in zip(leaves, specs):
        sharding = _as_sharding(spec, "reshard")
        if isinstance(sharding, NamedSharding):
            ndim = np.ndim(leaf) if not hasattr(leaf, "ndim") else leaf.ndim
            if len(sharding.spec) > ndim:
                raise ValueError(f"reshard: {sharding.spec} has {len(sharding.spec)} entries "
                                 f"for a value of rank {ndim}")
        if isinstance(leaf, Array) or not hasattr(leaf, "aval"):
            out.append(D.device_put(leaf, sharding))
        else:
            out.append(leaf)  # a tracer: fx types carry no sharding
    return tree_util.tree_unflatten(tree, out)


def auto_axes(f: Callable | None = None, /, *, axes=None, out_sharding=None):
    """``f`` run with mesh ``axes`` (default: all) treated as Auto; its outputs are then
    laid out as ``out_sharding``. In fx this only reshards the outputs.

    Example:
      >>> g = auto_axes(lambda x: x * 2, out_sharding=P("x"))
    """
    if f is None:
        return lambda fun: auto_axes(fun, axes=axes, out_sharding=out_sharding)

    def wrapped(*args, **kwargs):
        out = f(*args, **kwargs)
        return out if out_sharding is None else reshard(out, out_sharding)

    wrapped.__name__ = getattr(f, "__name__", "auto_axes")
    wrapped.__doc__ = getattr(f, "__doc__", None)
    return wrapped


def explicit_axes(f: Callable | None = None, /, *, axes=None, in_sharding=None):
    """``f`` run with mesh ``axes`` (default: all) treated as Explicit; its inputs are
    first laid out as ``in_sharding``. In fx this only reshards the inputs.

    Example:
      >>> g = explicit_axes(lambda x: x * 2, in_sharding=P("x"))
    """
    if f is None:
        return lambda fun: explicit_axes(fun, axes=axes, in_sharding=in_sharding)

    def wrapped(*args, **kwargs):
        if in_sharding is not None:
            args = reshard(args, in_sharding if isinstance(in_sharding, (Sharding,
                                                                        PartitionSpec))
                           else tuple(in_sharding))
        return f(*args, **kwargs)

    wrapped.__name__ = getattr(f, "__name__", "explicit_axes")
    wrapped.__doc__ = getattr(f, "__doc__", None)
    return wrapped


# ---------------------------------------------------------------------------
# shards: the piece of an array each device holds (``Array.addressable_shards``)


def devices_indices_map(sharding: Sharding, shape: tuple) -> dict:
    """For each device of ``sharding``, the index (a tuple of slices or ints) of the piece
    of an array of ``shape`` it holds (as ``Sharding.devices_indices_map``)."""
    whole = tuple(slice(None) for _ in shape)
    if isinstance(sharding, PmapSharding):
        if sharding.sharded_dim is None:
            return {d: whole for d in sharding.devices}
        k = sharding.sharded_dim
        return {d: whole[:k] + (i,) + whole[k + 1:] for i, d in enumerate(sharding.devices)}
    if isinstance(sharding, NamedSharding):
        mesh = sharding.mesh
        spec = tuple(sharding.spec) + (None,) * (len(shape) - len(sharding.spec))
        result = {}
        for coords in np.ndindex(*mesh.devices.shape):
            at = dict(zip(mesh.axis_names, coords))
            index = []
            for dim, p in zip(shape, spec):
                names = () if p is None else (p if isinstance(p, tuple) else (p,))
                parts, block = 1, 0
                for n in names:  # the first named axis is the most significant
                    block = block * mesh.shape[n] + at[n]
                    parts *= mesh.shape[n]
                if parts == 1:
                    index.append(slice(None))
                    continue
                if dim % parts:
                    raise ValueError(f"dimension of size {dim} does not divide evenly over "
                                     f"mesh axes {names} ({parts} devices)")
                size = dim // parts
                index.append(slice(block * size, (block + 1) * size))
            result[mesh.devices[coords]] = tuple(index)
        return result
    return {d: whole for d in sharding.device_set}


class Shard:
    """One device's piece of an array (as ``jax.Shard``): ``device``, ``index`` into the
    global array, ``replica_id`` (0 for the first copy of a replicated piece) and ``data``.

    Example:
      >>> fx.numpy.arange(4.0).addressable_shards[0].index
      (slice(None, None, None),)
    """

    __slots__ = ("device", "index", "replica_id", "_array")

    def __init__(self, device, index: tuple, replica_id: int, array):
        self.device = device
        self.index = index
        self.replica_id = replica_id
        self._array = array

    @property
    def data(self):
        """The piece as an ``fx.Array`` (fx keeps arrays whole: this is a slice of it)."""
        value = self._array[self.index] if self.index else self._array
        return value

    def __repr__(self):
        return (f"Shard(device={self.device!r}, index={self.index}, "
                f"replica_id={self.replica_id}, data={np.asarray(self.data)})")


def _index_key(index: tuple) -> tuple:
    return tuple((i.start, i.stop, i.step) if isinstance(i, slice) else i for i in index)


def shards_of(array, sharding: Sharding | None = None) -> list:
    """The ``Shard`` of ``array`` on each device of its sharding, in device-id order
    (``fx.Array.addressable_shards``)."""
    sharding = array.sharding if sharding is None else sharding
    placed = devices_indices_map(sharding, tuple(array.shape))
    seen: dict = {}
    shards = []
    for device in sorted(placed, key=lambda d: (getattr(d, "process_index", 0),
                                               getattr(d, "id", 0))):
        index = placed[device]
        key = _index_key(index)
        replica = seen.get(key, 0)
        seen[key] = replica + 1
        shards.append(Shard(device, index, replica, array))
    return shards


# ---------------------------------------------------------------------------
# smap: shard_map over one mesh axis


class InferFromArgs:
    """``smap``'s default ``in_axes``: read each argument's mapped dimension from its
    ``NamedSharding`` (the dimension whose spec names the axis)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self):
        return "Infer"


Infer = InferFromArgs()


def _axis_spec(axis, ndim: int, axis_name, what: str) -> PartitionSpec:
    if axis is None:
        return PartitionSpec()
    if not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
        raise ValueError(f"smap {what} {axis!r} is out of range for a value of rank {ndim}; "
                         f"expected an int in [{-ndim}, {ndim}) or None")
    entries = [None] * ndim
    entries[int(axis) % ndim] = axis_name
    return PartitionSpec(*entries)


def _out_spec(axis, axis_name) -> PartitionSpec:
    if axis is None:
        return PartitionSpec()
    if not isinstance(axis, (int, np.integer)) or axis < 0:
        raise ValueError(f"smap out_axes must be non-negative ints or None, got {axis!r}")
    return PartitionSpec(*([None] * int(axis)), axis_name)


def _inferred_axis(x, axis_name):
    sharding = getattr(x, "sharding", None)
    if isinstance(sharding, NamedSharding):
        for i, p in enumerate(sharding.spec):
            if p == axis_name or (isinstance(p, tuple) and axis_name in p):
                return i
    return None


def smap(f: Callable | None = None, /, *, in_axes=Infer, out_axes, axis_name):
    """Map ``f`` over the shards of one mesh axis (``axis_name`` of the current mesh):
    a single-axis ``shard_map`` whose specs are given as array axes, as ``jax.smap``.

    Args:
      f: the per-shard function (collectives may name ``axis_name``).
      in_axes: an int or None for every argument, a tuple with one per positional
        argument, or ``Infer`` (the default) to read them from the arguments'
        ``NamedSharding``.
      out_axes: an int or None (replicated output), or a pytree of them per output.
      axis_name: the mesh axis the function is mapped over.

    Returns:
      The mapped function.

    Example:
      >>> with fx.sharding.set_mesh(fx.make_mesh((2,), ("x",))):
      ...     fx.smap(lambda b: b * 2, in_axes=0, out_axes=0, axis_name="x")(
      ...         fx.numpy.arange(4.0))
      Array([0., 2., 4., 6.], dtype=float32)
    """
    if f is None:
        return lambda fun: smap(fun, in_axes=in_axes, out_axes=out_axes, axis_name=axis_name)
    if not callable(f):
        raise TypeError(f"smap: f must be callable, got {type(f).__name__}")
    from fx.experimental.shard_map import shard_map
    from fx import tree_util
    from fx.core import get_aval

    def mapped(*args):
        mesh = get_mesh()
        if mesh.empty:
            raise ValueError("smap needs a current mesh: call it inside "
                             "`with fx.sharding.set_mesh(mesh):`")
        if axis_name not in mesh.axis_names:
            raise ValueError(f"smap: axis_name {axis_name!r} is not an axis of the current "
                             f"mesh {mesh.axis_names}")
        if isinstance(in_axes, tuple):
            if len(in_axes) != len(args):
                raise ValueError(f"smap in_axes has {len(in_axes)} entries for "
                                 f"{len(args)} positional arguments")
            per_arg = in_axes
        else:
            per_arg = (in_axes,) * len(args)
        specs = []
        for a, ax in zip(args, per_arg):
            leaves = tree_util.tree_leaves(a)
            sub = [_axis_spec(_inferred_axis(x, axis_name) if ax is Infer else ax,
                              get_aval(x).ndim, axis_name, "in_axes") for x in leaves]
            specs.append(tree_util.tree_unflatten(tree_util.tree_structure(a), sub))
        out_specs = tree_util.tree_map(lambda ax: _out_spec(ax, axis_name), out_axes,
                                       is_leaf=lambda x: x is None)
        return shard_map(f, mesh=mesh, in_specs=tuple(specs), out_specs=out_specs)(*args)

    mapped.__name__ = getattr(f, "__name__", "smap")
    mapped.__doc__ = getattr(f, "__doc__", None)
    return mapped
