"""``rng_bit_generator``: XLA's stateful-key bit generator, bit-identical to XLA's CPU
output for ``RNG_THREE_FRY`` and ``RNG_PHILOX`` (``RNG_DEFAULT`` is Philox on CPU).

Invariants: the key is a ``uint32[4]`` holding two little-endian ``uint64`` words
(``k``, ``s``). ThreeFry-2x32 uses ``k`` as its key and ``s + i`` as the 64-bit counter
of the i-th block (the two output words interleaved along one dimension, as XLA
splits the shape); Philox-4x32-10 uses ``k`` as its key and the 128-bit counter
``(s + i, k)``, its four output words interleaved. The new key is ``(k, s + blocks)``.
8- and 16-bit outputs are
the low bits of the 32-bit stream, as in XLA. Outputs are unsigned integers, so there
is no derivative; under ``vmap`` each key of the batch draws its own bits.
"""
from __future__ import annotations

import enum

import numpy as np

from fx.core import ShapedArray, Zero
from primitives import _rules as R
from primitives._higher_order import index_lane, stack_lanes
from primitives._rules import new_primitive
from primitives.random import threefry_2x32

__all__ = ["rng_bit_generator_p", "RandomAlgorithm", "rng_bit_generator_numpy"]


class RandomAlgorithm(enum.IntEnum):
    """The bit generator of ``rng_bit_generator`` (``RNG_DEFAULT`` is Philox on CPU)."""
    RNG_DEFAULT = 0
    RNG_THREE_FRY = 1
    RNG_PHILOX = 2

    def __repr__(self):
        return self.name

    __str__ = __repr__


_SUPPORTED = tuple(np.dtype(d) for d in (np.uint8, np.uint16, np.uint32, np.uint64))
_U32, _U64 = np.uint32, np.uint64
_LOW = np.uint64(0xFFFFFFFF)


def _split64(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (x & _LOW).astype(_U32), (x >> np.uint64(32)).astype(_U32)


def _join64(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return lo.astype(_U64) | (hi.astype(_U64) << np.uint64(32))


def _split_dim(shape: tuple) -> int:
    """The dimension XLA halves: the first even one, else the first of maximum size."""
    for i, d in enumerate(shape):
        if d % 2 == 0:
            return i
    return max(range(len(shape)), key=lambda i: (shape[i], -i))


def _threefry_bits(k: np.uint64, s: np.uint64, shape: tuple, wide: bool):
    k0, k1 = _split64(np.asarray(k, _U64))
    if wide:  # one 64-bit output per counter
        half = shape
    elif not shape:
        half = (1,)
    else:  # half the counters; the two output words are interleaved along one dimension
        split = _split_dim(shape)
        half = shape[:split] + (-(-shape[split] // 2),) + shape[split + 1:]
    blocks = int(np.prod(half, dtype=np.int64))
    x0, x1 = _split64(s + np.arange(blocks, dtype=_U64))
    y0, y1 = threefry_2x32(np.full(blocks, k0, _U32), np.full(blocks, k1, _U32), x0, x1)
    if wide:
        return _join64(y0, y1).reshape(shape), blocks
    if not shape:
        return y0.reshape(()), blocks
    pair = np.stack([y0.reshape(half), y1.reshape(half)], axis=split + 1)
    padded = shape[:split] + (2 * half[split],) + shape[split + 1:]
    bits = pair.reshape(padded)[tuple(slice(0, d) for d in shape)]
    return bits, blocks


_PHILOX_M = (np.uint64(0xD2511F53), np.uint64(0xCD9E8D57))
_PHILOX_W = (np.uint32(0x9E3779B9), np.uint32(0xBB67AE85))


def _philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox-4x32 with 10 rounds (Salmon et al. 2011) on uint32 arrays."""
    k0, k1 = np.uint32(k0), np.uint32(k1)
    for _ in range(10):
        p0 = c0.astype(_U64) * _PHILOX_M[0]
        p1 = c2.astype(_U64) * _PHILOX_M[1]
        hi0, lo0 = (p0 >> np.uint64(32)).astype(_U32), (p0 & _LOW).astype(_U32)
        hi1, lo1 = (p1 >> np.uint64(32)).astype(_U32), (p1 & _LOW).astype(_U32)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0, k1 = k0 + _PHILOX_W[0], k1 + _PHILOX_W[1]
    return c0, c1, c2, c3


def _philox_bits(k: np.uint64, s: np.uint64, shape: tuple, wide: bool):
    size = int(np.prod(shape, dtype=np.int64))
    words = 2 * size if wide else size
    blocks = -(-words // 4)
    low = s + np.arange(blocks, dtype=_U64)
    high = k + (low < s).astype(_U64)  # 128-bit counter (s + i, k) with carry
    c0, c1 = _split64(low)
    c2, c3 = _split64(high)
    k0, k1 = _split64(np.asarray(k, _U64))
    out = _philox4x32(c0, c1, c2, c3, k0, k1)
    if wide:
        pairs = np.stack([_join64(out[0], out[1]), _join64(out[2], out[3])], axis=1)
        bits = pairs.reshape(-1)[:size]
    else:
        bits = np.stack(out, axis=1).reshape(-1)[:size]
    return bits.reshape(shape), blocks


def rng_bit_generator_numpy(key: np.ndarray, shape: tuple, dtype, algorithm):
    """(new_key, bits) for one ``uint32[4]`` key, computed in NumPy."""
    dtype = np.dtype(dtype)
    words = np.ascontiguousarray(np.asarray(key, _U32)).view(_U64)
    k, s = words[0], words[1]
    wide = dtype.itemsize == 8
    gen = _threefry_bits if algorithm == RandomAlgorithm.RNG_THREE_FRY else _philox_bits
    with np.errstate(over="ignore"):
        bits, blocks = gen(k, s, tuple(shape), wide)
        new_s = s + np.uint64(blocks)
    new_key = np.array([k, new_s], _U64).view(_U32)
    return new_key, bits.astype(dtype)


rng_bit_generator_p = new_primitive("rng_bit_generator", multiple_results=True)


@rng_bit_generator_p.def_abstract_eval
def _rbg_abstract_eval(key, *, shape, dtype, algorithm, out_sharding=None):
    if key.shape != (4,) or key.dtype != np.dtype(np.uint32):
        raise TypeError(f"rng_bit_generator: the key must be a uint32[4] array, got "
                        f"{key.dtype.name}{list(key.shape)}")
    if np.dtype(dtype) not in _SUPPORTED:
        raise TypeError(f"rng_bit_generator: unsupported dtype {np.dtype(dtype).name}; "
                        "expected uint8, uint16, uint32 or uint64")
    return [ShapedArray((4,), np.uint32), ShapedArray(tuple(shape), dtype)]


@rng_bit_generator_p.def_impl
def _rbg_impl(key, *, shape, dtype, algorithm, out_sharding=None):
    new_key, bits = rng_bit_generator_numpy(key, shape, dtype, algorithm)
    return [new_key, bits]


@rng_bit_generator_p.def_jvp
def _rbg_jvp(primals, tangents, **params):
    outs = rng_bit_generator_p.bind(*primals, **params)
    return outs, [Zero(R.aval_of(o).to_tangent_aval()) for o in outs]


@rng_bit_generator_p.def_batch
def _rbg_batch(args, dims, **params):
    (key,), (d,) = args, dims
    lanes = [rng_bit_generator_p.bind(index_lane(key, d, i), **params)
             for i in range(R.shape_of(key)[d])]
    return [stack_lanes([lane[0] for lane in lanes]),
            stack_lanes([lane[1] for lane in lanes])], [0, 0]
