"""``fx.sharding``: where the pieces of an array live, as ``jax.sharding``.

Invariants: shardings are immutable and hashable (caches key on them). A
``Mesh`` is an n-d array of devices with a name per axis; a ``PartitionSpec``
names, for each array dimension, the mesh axes it is split over (None:
replicated); a ``NamedSharding`` pairs the two. ``PmapSharding`` describes a
``pmap`` output: the devices, and the array axis split over them.
"""
from __future__ import annotations

import importlib
from typing import Any, Sequence

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
      devices: array-like of devices, of any shape.
      axis_names: one name per dimension of ``devices``.

    Example:
      >>> mesh = Mesh(np.array(fx.devices()[:4]).reshape(2, 2), ("data", "model"))
      >>> mesh.shape
      {'data': 2, 'model': 2}
    """

    def __init__(self, devices, axis_names, *, axis_types=None):
        arr = np.array(devices, dtype=object)
        names = (axis_names,) if isinstance(axis_names, str) else tuple(axis_names)
        if arr.ndim != len(names):
            raise ValueError(f"Mesh: devices of shape {arr.shape} need {arr.ndim} axis "
                             f"names, got {names}")
        if len(set(names)) != len(names):
            raise ValueError(f"Mesh: duplicate axis names {names}")
        ids = [d.id for d in arr.ravel()]
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
