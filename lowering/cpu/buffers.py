"""Buffers an executable recycles from one call to the next.

Allocating large arrays afresh on every call is what makes a small training step slow
with the C library's default allocator: blocks above its mmap threshold come from the
operating system zeroed, page fault by page fault (a 784-512-512-10 MLP step measured
5.1 ms that way against 2.6 ms with recycled memory). So each executable keeps:

- its scratch buffers (intermediates shared by liveness; they never leave a call): a
  free list of whole sets, taken at the start of a call and given back at its end (two
  threads running the same executable at once take two sets);
- its large outputs (``RECYCLE_BYTES`` and more): the arrays of the last
  ``SPARES_PER_OUTPUT`` calls per output, reused once nothing but this pool refers to
  them or to the memory under them. An output array is a view of an aligned raw block;
  a user's array, any view of it (NumPy points views at the raw block) or an exported
  buffer holds a reference to one of the two, so the reference counts say exactly when
  the memory is free.

Invariants: a buffer is handed out by one call at a time (the pool's lock covers the
check and the taking); recycled memory is uninitialized, as fresh memory is; small
outputs are allocated as before (no locking or counting on the tiny-call path).
"""
from __future__ import annotations

import sys
import threading

import numpy as np

from lowering.cpu import runtime

__all__ = ["Buffers", "RECYCLE_BYTES", "SPARES_PER_OUTPUT"]

RECYCLE_BYTES = 64 << 10    # outputs this large are recycled (page faults matter from here)
MAX_RECYCLED = 256 << 20    # larger outputs are left to the allocator (memory held twice)
SPARES_PER_OUTPUT = 2       # a training loop holds last call's outputs while calling again
_BYTE = np.dtype(np.uint8)


def _aligned(shape, dtype):
    """``(raw block, array)``: an uninitialized C-contiguous array whose data is 64-byte
    aligned, and the block it views."""
    nbytes = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
    raw = np.empty(nbytes + 64, _BYTE)
    offset = (-runtime.data_address(raw)) & 63
    return raw, raw[offset:offset + nbytes].view(dtype).reshape(shape)


def _calibrate() -> tuple[int, int]:
    """The reference counts of a pool entry's raw block and array when nothing else
    refers to them (measured, not assumed: they depend on the interpreter)."""
    entry = _aligned((1024,), np.dtype(np.float32))
    return sys.getrefcount(entry[0]), sys.getrefcount(entry[1])


_RAW_FREE, _ARRAY_FREE = _calibrate()


class Buffers:
    """The recycled buffers of one executable.

    Args:
      outputs: ``(slot, shape, dtype)`` of the arrays the executable allocates for its
        outputs each call.
      scratch: byte sizes of its scratch buffers.
    """

    def __init__(self, outputs, scratch):
        self._lock = threading.Lock()
        self._scratch_sizes = tuple(int(n) for n in scratch)
        self._free_scratch: list = []
        self.small = []      # (slot, shape, dtype): np.empty / aligned each call
        self.recycled = []   # (slot, shape, dtype): from the spares
        for s, shape, dtype in outputs:
            nbytes = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
            (self.recycled if RECYCLE_BYTES <= nbytes <= MAX_RECYCLED
             else self.small).append((s, shape, np.dtype(dtype)))
        self._spares = {s: [] for s, _, _ in self.recycled}

    def take_scratch(self) -> list:
        """A set of scratch buffers for one call (give it back with ``give_scratch``)."""
        free = self._free_scratch
        if free:
            try:
                return free.pop()
            except IndexError:  # another thread took the last one
                pass
        return [runtime.aligned_empty((n,), _BYTE) for n in self._scratch_sizes]

    def give_scratch(self, bufs: list) -> None:
        self._free_scratch.append(bufs)

    def output(self, slot: int, shape, dtype) -> np.ndarray:
        """An output array for ``slot``: a spare nothing refers to any more, or a new one
        (remembered as a spare for later calls)."""
        spares = self._spares[slot]
        with self._lock:
            for k, entry in enumerate(spares):
                if sys.getrefcount(entry[0]) == _RAW_FREE and \
                        sys.getrefcount(entry[1]) == _ARRAY_FREE:
                    del spares[k]
                    spares.append(entry)  # most recently lent last
                    return entry[1]
            entry = _aligned(shape, dtype)
            if len(spares) >= SPARES_PER_OUTPUT:
                del spares[0]
            spares.append(entry)
            return entry[1]
