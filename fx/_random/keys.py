"""PRNG keys: typed key arrays (``fx.random.key``), raw ``uint32`` keys
(``fx.random.PRNGKey``) and the key operations ``split``, ``fold_in`` and ``bits``.

Invariants: a typed key array is a ``PRNGKeyArray``, a pytree node whose one
child is its raw key data (``uint32``, trailing dimension 2), so keys pass
through ``jit``, ``vmap``, ``scan`` and ``grad`` like arrays of shape
``key.shape``; every operation works on the raw data with the random
primitives and re-wraps the result when the input was typed. Draws equal JAX's
(threefry2x32, partitionable counters) bit for bit.
"""
from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from fx import dtypes, tree_util
from fx.array import Array
from fx.core import Tracer, get_aval
from fx._random.key_dtypes import ExtendedDType, prng_key
from fx.lax import _lax as lax
from fx.lax import _slicing
from primitives.random import (random_bits_p, random_fold_in_p, random_seed_p,
                               random_split_p)

__all__ = ["PRNGKeyArray", "key", "PRNGKey", "key_data", "wrap_key_data", "key_impl",
           "key_dtype", "clone", "split", "fold_in", "bits"]

_IMPL_NAME = "threefry2x32"
_IMPL_SHORT = "fry"
_U32 = np.dtype(np.uint32)


class KeyTy(ExtendedDType):
    """The dtype of a typed key array: ``key<fry>`` for threefry2x32 keys (an extended
    dtype: ``issubdtype(k.dtype, fx.dtypes.prng_key)``)."""

    __slots__ = ()
    type = prng_key
    name = f"key<{_IMPL_SHORT}>"
    itemsize = 8
    kind = "V"
    _impl = _IMPL_NAME

    def __repr__(self):
        return self.name

    __str__ = __repr__

    def __eq__(self, other):
        return isinstance(other, KeyTy)

    def __hash__(self):
        return hash(self.name)


_KEY_DTYPE = KeyTy()


def _is_array_like(x) -> bool:
    return isinstance(x, (Array, Tracer, np.ndarray, np.generic))


class PRNGKeyArray:
    """An array of PRNG keys (``dtype=key<fry>``), as made by ``fx.random.key``.

    It behaves like an array of shape ``key.shape`` for indexing, reshaping and the
    transformations; ``fx.random.key_data`` gives the underlying ``uint32`` words.
    """

    __slots__ = ("_base_array",)
    __array_priority__ = 100

    def __init__(self, base_array):
        self._base_array = base_array

    # -- type --------------------------------------------------------------------
    shape = property(lambda self: tuple(self._base_array.shape[:-1]))
    ndim = property(lambda self: len(self._base_array.shape) - 1)
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))
    dtype = property(lambda self: _KEY_DTYPE)
    itemsize = property(lambda self: _KEY_DTYPE.itemsize)
    nbytes = property(lambda self: self.size * _KEY_DTYPE.itemsize)
    weak_type = False

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d key array")
        return (self[i] for i in range(self.shape[0]))

    # -- indexing and reshaping ----------------------------------------------------
    def __getitem__(self, idx):
        if isinstance(idx, PRNGKeyArray):
            raise TypeError("a key array cannot index another array")
        idx = idx if isinstance(idx, tuple) else (idx,)
        if any(i is Ellipsis for i in idx):
            return PRNGKeyArray(self._base_array[idx + (slice(None),)])
        return PRNGKeyArray(self._base_array[idx + (Ellipsis, slice(None))])

    def reshape(self, *shape, order="C"):
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = tuple(shape[0])
        shape = tuple(operator.index(d) for d in shape)
        if -1 in shape:
            known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
            shape = tuple(self.size // max(known, 1) if d == -1 else d for d in shape)
        if int(np.prod(shape, dtype=np.int64)) != self.size:
            raise TypeError(f"cannot reshape a key array of shape {self.shape} into {shape}")
        return PRNGKeyArray(lax.reshape(self._base_array, shape + (2,)))

    def ravel(self):
        return self.reshape(-1)

    flatten = ravel

    def squeeze(self, axis=None):
        shape = self.shape
        if axis is None:
            axes = tuple(i for i, d in enumerate(shape) if d == 1)
        else:
            axes = tuple(a % len(shape) for a in (axis if isinstance(axis, tuple) else (axis,)))
        return PRNGKeyArray(lax.squeeze(self._base_array, axes))

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        axes = axes or tuple(reversed(range(self.ndim)))
        return PRNGKeyArray(lax.transpose(self._base_array, tuple(axes) + (self.ndim,)))

    T = property(lambda self: self.transpose())

    def copy(self):
        return self

    __copy__ = copy

    def __deepcopy__(self, memo):
        return self

    def block_until_ready(self):
        return self

    # -- conversions -----------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError("fx array with PRNGKey dtype cannot be converted to a NumPy array. "
                        "Use fx.random.key_data(arr) if you wish to extract the underlying "
                        "integer array.")

    def __bool__(self):
        raise TypeError("the truth value of a PRNG key array is not defined")

    def __hash__(self):
        raise TypeError("unhashable type: PRNGKeyArray")

    def __eq__(self, other):
        if not isinstance(other, PRNGKeyArray):
            return NotImplemented
        from fx import numpy as fnp
        return fnp.all(fnp.equal(self._base_array, other._base_array), axis=-1)

    def __ne__(self, other):
        if not isinstance(other, PRNGKeyArray):
            return NotImplemented
        from fx import numpy as fnp
        return fnp.logical_not(self == other)

    def __repr__(self):
        base = self._base_array
        if isinstance(base, Tracer):
            return f"Traced<{self.dtype}[{','.join(map(str, self.shape))}]> overlaying {base!r}"
        return f"Array({self.shape}, dtype={self.dtype}) overlaying:\n{np.asarray(base)}"

    def __str__(self):
        return repr(self)


tree_util.register_pytree_node(
    PRNGKeyArray, lambda k: ((k._base_array,), None), lambda _, children: PRNGKeyArray(
        children[0]))


# ---------------------------------------------------------------------------
# argument checks


def _check_impl(impl) -> None:
    if impl is None or impl == _IMPL_NAME or impl == _IMPL_SHORT:
        return
    if isinstance(impl, KeyTy):
        return
    raise ValueError(f"unrecognized PRNG implementation {impl!r}: fx implements only "
                     f"{_IMPL_NAME!r} (JAX's default)")


def _check_key_data(data) -> None:
    aval = get_aval(data)
    if aval.dtype != _U32:
        raise TypeError(f"fx encountered invalid PRNG key data: expected key_data.dtype = "
                        f"uint32; got dtype={aval.dtype.name}")
    if not aval.shape or aval.shape[-1] != 2:
        raise TypeError(f"fx encountered invalid PRNG key data: expected key_data.shape to "
                        f"end with (2,); got shape={aval.shape} for impl={_IMPL_NAME}")


def _as_key_data(x):
    if isinstance(x, (Array, Tracer)):
        return x
    return Array(np.asarray(x, dtype=np.asarray(x).dtype), False) if isinstance(
        x, (np.ndarray, np.generic)) else x


def check_prng_key(name: str, key, *, allow_batched: bool = False):
    """``(typed key array, was_raw)`` for a typed key or raw ``uint32`` key data."""
    if isinstance(key, PRNGKeyArray):
        typed, was_raw = key, False
    else:
        if not _is_array_like(key) and not isinstance(key, (list, tuple)):
            raise TypeError(f"{name} requires a PRNG key (fx.random.key or fx.random.PRNGKey)"
                            f", got {type(key).__name__}: {key!r}")
        if isinstance(key, (list, tuple)):
            key = np.asarray(key)
        key = _as_key_data(key)
        _check_key_data(key)
        typed, was_raw = PRNGKeyArray(key), True
    if not allow_batched and typed.shape:
        raise ValueError(f"{name} accepts a single key, but was given a key array of shape "
                         f"{typed.shape} != (). Use fx.vmap for batching.")
    return typed, was_raw


def _return_key(typed: PRNGKeyArray, was_raw: bool):
    return typed._base_array if was_raw else typed


def canonical_shape(shape, name: str = "shape") -> tuple:
    """``shape`` as a tuple of Python ints (an int is a 1-d shape)."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        out = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of integers, got {shape!r}") from None
    if any(d < 0 for d in out):
        raise ValueError(f"{name} must have non-negative dimensions, got {out}")
    return out


# ---------------------------------------------------------------------------
# making keys


def _seed_array(name: str, seed):
    if isinstance(seed, PRNGKeyArray):
        raise TypeError(f"{name} accepts a scalar seed, but was given a PRNG key.")
    if isinstance(seed, (bool, np.bool_)):
        seed = int(seed)
    if isinstance(seed, int):
        seed = np.int64(seed)  # (OverflowError beyond int64, as JAX)
        return Array(seed.astype(dtypes.default_int_dtype()).reshape(()), False)
    if isinstance(seed, float):
        raise TypeError(f"PRNG key seed must be an integer; got {seed!r}")
    if isinstance(seed, (np.ndarray, np.generic)):
        seed = Array(np.asarray(seed, dtypes.canonicalize_dtype(np.asarray(seed).dtype)),
                     False)
    if not isinstance(seed, (Array, Tracer)):
        raise TypeError(f"{name} requires an integer seed, got {type(seed).__name__}: "
                        f"{seed!r}")
    aval = get_aval(seed)
    if aval.shape:
        raise TypeError(f"{name} accepts a scalar seed, but was given an array of shape "
                        f"{aval.shape} != (). Use fx.vmap for batching")
    if not (dtypes.is_integer(aval.dtype) or aval.dtype == dtypes.bool_):
        raise TypeError(f"PRNG key seed must be an integer; got {seed!r}")
    return seed


def key(seed, *, impl=None, dtype=None) -> PRNGKeyArray:
    """A typed PRNG key (dtype ``key<fry>``, shape ``()``) made from an integer seed.

    Args:
      seed: a scalar integer (Python int within int64, or an integer array).
      impl: the PRNG implementation; only ``"threefry2x32"`` (the default) exists.

    Returns:
      A key array of shape ``()``.

    Example:
      >>> k = fx.random.key(0)
      >>> fx.random.key_data(k)
      Array([0, 0], dtype=uint32)
    """
    _check_impl(impl if dtype is None else dtype)
    seed = _seed_array("key", seed)
    return PRNGKeyArray(random_seed_p.bind(seed, impl=_IMPL_SHORT))


def PRNGKey(seed, *, impl=None):
    """A raw (legacy) PRNG key: a ``uint32[2]`` array made from an integer seed.

    Prefer ``fx.random.key``; every function of ``fx.random`` takes either kind.

    Example:
      >>> fx.random.PRNGKey(42)
      Array([ 0, 42], dtype=uint32)
    """
    _check_impl(impl)
    seed = _seed_array("PRNGKey", seed)
    return random_seed_p.bind(seed, impl=_IMPL_SHORT)


def key_data(keys):
    """The ``uint32`` words of a key array (shape ``keys.shape + (2,)``).

    Raw keys are returned as they are.

    Example:
      >>> fx.random.key_data(fx.random.key(3))
      Array([0, 3], dtype=uint32)
    """
    typed, _ = check_prng_key("key_data", keys, allow_batched=True)
    return typed._base_array


def wrap_key_data(key_bits_array, *, impl=None, dtype=None) -> PRNGKeyArray:
    """A typed key array over ``uint32`` key data whose last dimension is 2.

    Example:
      >>> k = fx.random.wrap_key_data(fx.numpy.array([0, 3], dtype="uint32"))
    """
    _check_impl(impl if dtype is None else dtype)
    if isinstance(key_bits_array, PRNGKeyArray):
        raise TypeError("wrap_key_data expects raw uint32 key data, got a typed key array")
    data = _as_key_data(np.asarray(key_bits_array) if isinstance(key_bits_array, (list, tuple))
                        else key_bits_array)
    _check_key_data(data)
    return PRNGKeyArray(data)


def key_impl(keys) -> str:
    """The name of the PRNG implementation behind ``keys``: ``"threefry2x32"``."""
    check_prng_key("key_impl", keys, allow_batched=True)
    return _IMPL_NAME


def key_dtype(impl_spec=None) -> KeyTy:
    """The dtype of typed keys of ``impl_spec`` (``key<fry>``)."""
    _check_impl(impl_spec)
    return _KEY_DTYPE


def clone(key):
    """A copy of ``key`` (keys are immutable, so this is ``key`` itself)."""
    return key


# ---------------------------------------------------------------------------
# key operations


def split(key, num: int | Sequence[int] = 2):
    """Split one key into ``num`` new keys (``num`` may be a shape).

    Args:
      key: a single typed or raw key.
      num: how many keys, or the shape of the key array to make.

    Returns:
      Keys of shape ``(num,)`` (or ``num``), typed if ``key`` was typed, else raw
      ``uint32`` data of shape ``(*shape, 2)``.

    Example:
      >>> k1, k2 = fx.random.split(fx.random.key(0))
    """
    typed, was_raw = check_prng_key("split", key)
    shape = canonical_shape(num, "num")
    out = PRNGKeyArray(random_split_p.bind(typed._base_array, shape=shape))
    return _return_key(out, was_raw)


def _fold_in_data(data):
    if isinstance(data, (int, np.integer)) and not isinstance(data, (bool, np.bool_)):
        value = int(data)
        if not 0 <= value <= 0xFFFFFFFF:
            raise OverflowError(f"Python integer {value} out of bounds for uint32")
        return np.uint32(value)
    if isinstance(data, (float, bool)):
        return np.asarray(data).astype(np.uint32)[()]
    if isinstance(data, (list, tuple)):
        data = np.asarray(data)
    if isinstance(data, (np.ndarray, np.generic)):
        data = Array(np.asarray(data, dtypes.canonicalize_dtype(np.asarray(data).dtype)), False)
    aval = get_aval(data)
    if aval.shape:
        raise TypeError(f"fold_in accepts a scalar, but was given an array of shape "
                        f"{aval.shape} != (). Use fx.vmap for batching.")
    return lax.convert_element_type(data, np.uint32)


def fold_in(key, data):
    """A new key made by folding the integer ``data`` into ``key``.

    Args:
      key: a single typed or raw key.
      data: a scalar integer, taken as ``uint32``.

    Returns:
      A key of the same kind as ``key``.

    Example:
      >>> k = fx.random.fold_in(fx.random.key(0), 7)
    """
    typed, was_raw = check_prng_key("fold_in", key)
    msg = _fold_in_data(data)
    out = PRNGKeyArray(random_fold_in_p.bind(typed._base_array, msg))
    return _return_key(out, was_raw)


def random_bits(key: PRNGKeyArray, bit_width: int, shape: tuple):
    """Raw random bits of a typed single key (internal: no checks)."""
    return random_bits_p.bind(key._base_array, bit_width=bit_width, shape=tuple(shape))


def split_key(key: PRNGKeyArray, num: int = 2) -> list:
    """``num`` typed subkeys of a typed single key, as a list (internal)."""
    keys = random_split_p.bind(key._base_array, shape=(num,))
    return [PRNGKeyArray(_index_key(keys, i)) for i in range(num)]


def _index_key(keys, i: int):
    row = _slicing.slice(keys, (i, 0), (i + 1, 2), (1, 1))
    return lax.squeeze(row, (0,))


def bits(key, shape: Sequence[int] = (), dtype=None, *, out_sharding=None):
    """Uniformly random bits as unsigned integers of ``dtype`` (default ``uint32``).

    Example:
      >>> fx.random.bits(fx.random.key(0), (3,))  # doctest: +SKIP
    """
    typed, _ = check_prng_key("bits", key)
    dtype = dtypes.default_uint_dtype() if dtype is None else dtype
    dtype = _checked_dtype("bits", dtype, "u", "an unsigned int")
    shape = canonical_shape(shape)
    return random_bits(typed, dtype.itemsize * 8, shape)


def _checked_dtype(name: str, dtype, kinds: str, what: str) -> np.dtype:
    try:
        d = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype argument to `{name}` is not a valid dtype: {dtype!r}") from None
    kind = "f" if d == dtypes.bfloat16 else d.kind
    if kind not in kinds:
        raise ValueError(f"dtype argument to `{name}` must be {what} dtype, got {d.name}")
    return dtypes.canonicalize_dtype(d)


def as_array(x: Any, dtype=None):
    """``x`` as an fx value (tracers and Arrays pass through; others become Arrays)."""
    if isinstance(x, (Array, Tracer)):
        return x if dtype is None else lax.convert_element_type(x, dtype)
    from fx import numpy as fnp
    return fnp.asarray(x, dtype=dtype)
