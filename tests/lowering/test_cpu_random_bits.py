"""random_bits as native code (compiled programs and large eager draws) against the
NumPy Threefry-2x32 of primitives.random, bit for bit, and fx.random against JAX."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

import fx
import primitives
from fx.core import eval_jaxpr
from lowering.cpu.compile import compile as compile_native
from lowering.cpu.lib_random import random_bits_array
from primitives.random import _counters, _key_words, threefry_2x32

RANDOM_BITS = primitives.registry["random_bits"]


def _numpy_bits(keys, bit_width, shape):
    k0, k1 = _key_words(keys, len(shape))
    hi, lo = _counters(shape)
    b0, b1 = threefry_2x32(k0, k1, hi, lo)
    if bit_width == 64:
        return (b0.astype(np.uint64) << np.uint64(32)) | b1.astype(np.uint64)
    return (b0 ^ b1).astype(np.dtype(f"uint{bit_width}"))


@given(bit_width=st.sampled_from([8, 16, 32]), nkeys=st.integers(0, 3),
       shape=st.lists(st.integers(0, 9), max_size=3), seed=st.integers(0, 2 ** 31))
def test_compiled_matches_numpy(bit_width, nkeys, shape, seed):
    base = fx.random.key(seed)
    keys = np.asarray(fx.random.key_data(fx.random.split(base, nkeys) if nkeys
                                         else base))
    closed = fx.make_jaxpr(lambda k: RANDOM_BITS.bind(k, bit_width=bit_width,
                                                      shape=tuple(shape)))(keys)
    exe = compile_native(closed, bounds_check=True)
    assert exe.fallbacks == []
    got = exe([keys])[0]
    np.testing.assert_array_equal(got, np.asarray(eval_jaxpr(closed.jaxpr, closed.consts,
                                                             keys)[0]))
    np.testing.assert_array_equal(got, _numpy_bits(keys, bit_width, tuple(shape)))


@pytest.mark.parametrize("bit_width", [8, 16, 32, 64])
def test_eager_native_kernel_matches_numpy(bit_width):
    keys = np.asarray(fx.random.key_data(fx.random.split(fx.random.key(5), (2, 3))))
    np.testing.assert_array_equal(random_bits_array(keys, bit_width, (50, 41)),
                                  _numpy_bits(keys, bit_width, (50, 41)))


def test_jitted_and_eager_draws_match_jax(jax):
    key = fx.random.key(11)
    for name in ("uniform", "normal", "exponential"):
        want = np.asarray(getattr(jax.random, name)(jax.random.key(11), (3000,)))
        np.testing.assert_array_equal(
            np.asarray(fx.jit(lambda k, n=name: getattr(fx.random, n)(k, (3000,)))(key)), want)
        np.testing.assert_array_equal(np.asarray(getattr(fx.random, name)(key, (3000,))), want)
