"""Keys and bits: the threefry2x32 cipher against the Random123 known-answer vectors,
seeds, split/fold_in/bits against JAX (and against known answers without it), typed
and raw keys, and the key primitives under jit, vmap and differentiation."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fx
import fx.numpy as fnp
import fx.random as fr
from primitives.random import (random_bits_p, random_split_p, threefry2x32_p,
                               threefry_2x32)

# Known-answer vectors of Threefry-2x32 with 20 rounds (Salmon et al., Random123, kat_vectors):
# (key0, key1), (counter0, counter1) -> (out0, out1)
KAT = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
]
U32 = np.uint32


@pytest.mark.parametrize("key,count,expected", KAT)
def test_threefry_known_answers(key, count, expected):
    got = threefry_2x32(U32(key[0]), U32(key[1]), U32(count[0]), U32(count[1]))
    assert tuple(int(g) for g in got) == expected
    # the primitive, eagerly and under jit
    args = [fnp.asarray(np.array([v], U32)) for v in (*key, *count)]
    outs = threefry2x32_p.bind(*args)
    assert tuple(int(np.asarray(o)[0]) for o in outs) == expected
    jitted = fx.jit(lambda *a: threefry2x32_p.bind(*a))(*args)
    assert tuple(int(np.asarray(o)[0]) for o in jitted) == expected


def test_threefry_vectorised_matches_scalar_calls():
    rng = np.random.default_rng(0)
    words = rng.integers(0, 2 ** 32, size=(4, 9), dtype=np.uint64).astype(U32)
    out0, out1 = threefry_2x32(*words)
    for i in range(9):
        a, b = threefry_2x32(*[w[i] for w in words])
        assert (out0[i], out1[i]) == (a, b)


def test_threefry_primitive_vmap_and_jvp():
    rng = np.random.default_rng(1)
    words = [fnp.asarray(rng.integers(0, 2 ** 32, size=(3, 4), dtype=np.uint64).astype(U32))
             for _ in range(4)]
    batched = fx.vmap(lambda *w: threefry2x32_p.bind(*w), in_axes=(0, None, 1, 0))(
        words[0], words[1][0], fnp.transpose(words[2]), words[3])
    for i in range(3):
        a, b = threefry_2x32(np.asarray(words[0])[i], np.asarray(words[1])[0],
                             np.asarray(words[2])[i], np.asarray(words[3])[i])
        np.testing.assert_array_equal(np.asarray(batched[0])[i], a)
        np.testing.assert_array_equal(np.asarray(batched[1])[i], b)
    with pytest.raises(TypeError, match="uint32"):
        fx.jit(lambda *w: threefry2x32_p.bind(*w))(*[fnp.zeros(2, fnp.int32)] * 4)
    tangents = fx.jvp(lambda w: threefry2x32_p.bind(w, w, w, w)[0], (words[0],),
                      (np.zeros((3, 4), fx.dtypes.float0),))[1]
    assert tangents.dtype == fx.dtypes.float0


# ---------------------------------------------------------------------------
# seeds and keys (known answers recorded from JAX 0.10, x32)

SEEDS_X32 = {0: [0, 0], 1: [0, 1], -1: [0, 4294967295], 2 ** 31 + 5: [0, 2147483653],
             2 ** 32 + 7: [0, 7]}
SEEDS_X64 = {-1: [4294967295, 4294967295], 2 ** 32 + 7: [1, 7],
             -2 ** 63: [2147483648, 0], 2 ** 63 - 1: [2147483647, 4294967295]}


@pytest.mark.parametrize("seed", sorted(SEEDS_X32))
def test_prngkey_seeds(seed):
    np.testing.assert_array_equal(fr.PRNGKey(seed), SEEDS_X32[seed])
    np.testing.assert_array_equal(fr.key_data(fr.key(seed)), SEEDS_X32[seed])


@pytest.mark.parametrize("seed", sorted(SEEDS_X64))
def test_prngkey_seeds_x64(seed):
    with fx.enable_x64():
        np.testing.assert_array_equal(fr.PRNGKey(seed), SEEDS_X64[seed])


def test_seed_dtypes_and_errors():
    np.testing.assert_array_equal(fr.PRNGKey(np.int8(-1)), [0, 4294967295])
    np.testing.assert_array_equal(fr.PRNGKey(np.uint8(255)), [0, 255])
    np.testing.assert_array_equal(fr.PRNGKey(True), [0, 1])
    with pytest.raises(OverflowError):
        fr.PRNGKey(2 ** 64)
    with pytest.raises(TypeError, match="must be an integer"):
        fr.PRNGKey(1.0)
    with pytest.raises(TypeError, match="scalar seed"):
        fr.key(fnp.arange(3))
    with pytest.raises(TypeError, match="given a PRNG key"):
        fr.key(fr.key(0))
    with pytest.raises(ValueError, match="PRNG implementation"):
        fr.key(0, impl="rbg")


# split(key(0), 3), fold_in(key(0), 7), bits(key(0), (5,)) recorded from JAX 0.10
SPLIT0_3 = [[1797259609, 2579123966], [928981903, 3453687069], [4146024105, 2718843009]]
FOLD0_7 = [2716826189, 292468403]
BITS0_5 = [4070199207, 4202968722, 1427181096, 2012915765, 2447653815]


def test_key_operations_known_answers():
    k = fr.key(0)
    np.testing.assert_array_equal(fr.key_data(fr.split(k, 3)), SPLIT0_3)
    np.testing.assert_array_equal(fr.split(fr.PRNGKey(0), 3), SPLIT0_3)
    np.testing.assert_array_equal(fr.key_data(fr.fold_in(k, 7)), FOLD0_7)
    np.testing.assert_array_equal(fr.bits(k, (5,)), BITS0_5)
    # a fold-in of i equals the i-th key of a split (counter (0, i))
    np.testing.assert_array_equal(fr.key_data(fr.fold_in(k, 1)), SPLIT0_3[1])


def test_typed_and_raw_keys_agree():
    k, raw = fr.key(5), fr.PRNGKey(5)
    assert k.shape == () and str(k.dtype) == "key<fry>" and raw.shape == (2,)
    assert fr.key_impl(k) == fr.key_impl(raw) == "threefry2x32"
    typed = fr.split(k, (2, 3))
    assert typed.shape == (2, 3) and isinstance(typed, fr.PRNGKeyArray)
    np.testing.assert_array_equal(fr.key_data(typed), fr.split(raw, (2, 3)))
    np.testing.assert_array_equal(fr.uniform(k, (4,)), fr.uniform(raw, (4,)))
    wrapped = fr.wrap_key_data(fr.key_data(typed))
    np.testing.assert_array_equal(fr.key_data(wrapped[1, 2]), fr.key_data(typed)[1, 2])
    assert wrapped[0].shape == (3,) and wrapped[..., 0].shape == (2,)
    assert wrapped.reshape(6).shape == (6,) and wrapped.T.shape == (3, 2)
    assert len(list(fr.split(k, 4))) == 4
    assert "key<fry>" in repr(k)
    with pytest.raises(TypeError, match="key_data"):
        np.asarray(k)


def test_key_errors():
    k = fr.key(0)
    with pytest.raises(ValueError, match="single key"):
        fr.split(fr.split(k, 2))
    with pytest.raises(ValueError, match="single key"):
        fr.uniform(fr.split(k, 3))
    with pytest.raises(TypeError, match="end with"):
        fr.uniform(fnp.zeros(3, fnp.uint32))
    with pytest.raises(TypeError, match="uint32"):
        fr.uniform(fnp.zeros(2, fnp.int32))
    with pytest.raises(OverflowError):
        fr.fold_in(k, -1)
    with pytest.raises(TypeError, match="scalar"):
        fr.fold_in(k, fnp.arange(3))
    with pytest.raises(ValueError, match="unsigned"):
        fr.bits(k, (2,), fnp.int32)
    with pytest.raises(TypeError, match="raw uint32"):
        fr.wrap_key_data(k)


# ---------------------------------------------------------------------------
# against JAX


@pytest.mark.jax
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2 ** 31 - 1), num=st.sampled_from([1, 2, 5, (2, 3)]),
       data=st.integers(0, 2 ** 32 - 1))
def test_split_fold_in_match_jax(seed, num, data):
    import jax.random as jr
    np.testing.assert_array_equal(fr.key_data(fr.split(fr.key(seed), num)),
                                  jr.key_data(jr.split(jr.key(seed), num)))
    np.testing.assert_array_equal(fr.key_data(fr.fold_in(fr.key(seed), data)),
                                  jr.key_data(jr.fold_in(jr.key(seed), data)))


@pytest.mark.jax
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2 ** 31 - 1), shape=st.sampled_from([(), (1,), (7,), (3, 5)]),
       dtype=st.sampled_from(["uint8", "uint16", "uint32"]))
def test_bits_match_jax(seed, shape, dtype):
    import jax.random as jr
    got = fr.bits(fr.key(seed), shape, dtype)
    want = jr.bits(jr.key(seed), shape, dtype)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.jax
def test_bits_64_and_seeds_match_jax_under_x64():
    import jax
    import jax.random as jr
    jax.config.update("jax_enable_x64", True)
    try:
        with fx.enable_x64():
            for seed in (0, 3, -1, 2 ** 40 + 3):
                np.testing.assert_array_equal(fr.PRNGKey(seed), jr.PRNGKey(seed))
                np.testing.assert_array_equal(fr.bits(fr.key(seed), (4, 3), "uint64"),
                                              jr.bits(jr.key(seed), (4, 3), "uint64"))
    finally:
        jax.config.update("jax_enable_x64", False)


# ---------------------------------------------------------------------------
# transformations


def test_key_ops_under_jit_and_vmap():
    keys = fr.split(fr.key(3), 4)
    loop = np.stack([fr.key_data(fr.split(k, 2)) for k in keys])
    np.testing.assert_array_equal(fr.key_data(fx.vmap(lambda k: fr.split(k, 2))(keys)), loop)
    np.testing.assert_array_equal(fx.jit(lambda k: fr.split(k, 2))(fr.PRNGKey(3)),
                                  fr.split(fr.PRNGKey(3), 2))
    folded = fx.vmap(fr.fold_in, in_axes=(0, None))(keys, 9)
    np.testing.assert_array_equal(fr.key_data(folded),
                                  np.stack([fr.key_data(fr.fold_in(k, 9)) for k in keys]))
    folded = fx.vmap(fr.fold_in, in_axes=(None, 0))(keys[0], fnp.arange(3, dtype=fnp.uint32))
    np.testing.assert_array_equal(fr.key_data(folded),
                                  np.stack([fr.key_data(fr.fold_in(keys[0], i))
                                            for i in range(3)]))
    bits = fx.jit(fx.vmap(lambda k: fr.bits(k, (3,))))(keys)
    np.testing.assert_array_equal(bits, np.stack([fr.bits(k, (3,)) for k in keys]))
    seeds = fx.vmap(fr.key)(fnp.arange(3))
    np.testing.assert_array_equal(fr.key_data(seeds), [[0, 0], [0, 1], [0, 2]])


def test_keys_through_scan_and_grad():
    def step(key, _):
        key, sub = fr.split(key)
        return key, fr.uniform(sub)

    final, draws = fx.lax.scan(step, fr.key(0), None, length=4)
    key, expected = fr.key(0), []
    for _ in range(4):
        key, sub = fr.split(key)
        expected.append(fr.uniform(sub))
    np.testing.assert_array_equal(draws, np.stack(expected))
    np.testing.assert_array_equal(fr.key_data(final), fr.key_data(key))
    # keys have no derivative; the function of x does
    g = fx.grad(lambda x, k: (x * fr.normal(k, (3,))).sum())(2.0, fr.key(1))
    np.testing.assert_allclose(g, np.asarray(fr.normal(fr.key(1), (3,))).sum(), rtol=1e-6)


def test_jaxpr_shows_random_primitives():
    text = str(fx.make_jaxpr(lambda k: fr.bits(fr.split(k)[0], (3,)))(fr.key(0)))
    assert "random_split[shape=(2,)]" in text
    assert "random_bits[bit_width=32 shape=(3,)]" in text


def test_random_primitive_batching_rules_direct():
    keys = np.asarray(fr.key_data(fr.split(fr.key(2), 3)))
    out = fx.vmap(lambda k: random_bits_p.bind(k, bit_width=16, shape=(2,)), in_axes=1)(
        fnp.asarray(keys.T))
    np.testing.assert_array_equal(out, random_bits_p.bind(fnp.asarray(keys), bit_width=16,
                                                          shape=(2,)))
    out = fx.vmap(lambda k: random_split_p.bind(k, shape=(2,)))(fnp.asarray(keys))
    np.testing.assert_array_equal(out, random_split_p.bind(fnp.asarray(keys), shape=(2,)))


# ---------------------------------------------------------------------------
# typed key dtypes and keys through transformations, against JAX


def test_key_dtype_is_an_extended_dtype():
    from fx._random.key_dtypes import (ExtendedDType, extended, extended_issubdtype,
                                       prng_key, scalar_type_of)
    k = fr.key(0)
    assert isinstance(k.dtype, ExtendedDType) and k.dtype.type is prng_key
    assert str(k.dtype) == repr(k.dtype) == "key<fry>" and k.dtype.itemsize == 8
    assert k.dtype == fr.split(k)[0].dtype and hash(k.dtype) == hash(fr.key_dtype())
    for b, want in [(prng_key, True), (extended, True), (np.generic, True),
                    (np.integer, False), (np.floating, False), (k.dtype, True)]:
        assert extended_issubdtype(k.dtype, b) is want, b
    assert extended_issubdtype(np.float32, prng_key) is False
    assert extended_issubdtype(prng_key, extended) is True
    assert extended_issubdtype(np.float32, np.floating) is None  # not extended: NumPy's
    with pytest.raises(TypeError):
        np.dtype(k.dtype)
    assert [scalar_type_of(v) for v in (True, 3, 2.0, 1j)] == [bool, int, float, complex]
    assert scalar_type_of(fnp.zeros(2, fnp.bfloat16)) is float
    assert scalar_type_of(np.uint8(3)) is int and scalar_type_of(fnp.ones(2) > 0) is bool
    with pytest.raises(TypeError, match="key<fry>"):
        scalar_type_of(k)
    with pytest.raises(TypeError):
        scalar_type_of(np.array(["a"]))


@pytest.mark.jax
def test_key_dtype_matches_jax():
    jax = pytest.importorskip("jax")
    from fx._random.key_dtypes import extended, extended_issubdtype, prng_key
    jk, k = jax.random.key(0), fr.key(0)
    assert str(jk.dtype) == str(k.dtype) and jk.dtype.itemsize == k.dtype.itemsize
    for ours, theirs in [(prng_key, jax.dtypes.prng_key), (extended, jax.dtypes.extended),
                         (np.generic, np.generic), (np.integer, np.integer)]:
        assert extended_issubdtype(k.dtype, ours) == jax.numpy.issubdtype(jk.dtype, theirs)
    assert jax.dtypes.scalar_type_of(jax.numpy.zeros(2)) is float


@pytest.mark.jax
def test_keys_through_jit_and_vmap_match_jax():
    jax = pytest.importorskip("jax")
    jr, jnp = jax.random, jax.numpy

    def same(ours, theirs):
        np.testing.assert_array_equal(fr.key_data(ours), jr.key_data(theirs))

    # key arrays as jit outputs (typed) and inside pytree arguments
    out = fx.jit(fr.key)(5)
    assert isinstance(out, fr.PRNGKeyArray) and out.dtype == fr.key_dtype()
    same(out, jr.key(5))
    out = fx.jit(lambda k: fr.split(k, 3))(fr.key(3))
    assert isinstance(out, fr.PRNGKeyArray) and out.shape == (3,)
    same(out, jr.split(jr.key(3), 3))
    res = fx.jit(lambda d: (fr.fold_in(d["k"], 2), fr.normal(d["k"], (4,))))({"k": fr.key(1)})
    same(res[0], jr.fold_in(jr.key(1), 2))
    np.testing.assert_array_equal(res[1], jr.normal(jr.key(1), (4,)))
    # vmap: split, fold_in (batched key or batched data), bits, draws; other axes
    keys, jkeys = fr.split(fr.key(0), 4), jr.split(jr.key(0), 4)
    same(fx.vmap(lambda k: fr.split(k, 2))(keys), jax.vmap(lambda k: jr.split(k, 2))(jkeys))
    data = np.arange(4, dtype=np.uint32)
    same(fx.vmap(fr.fold_in)(keys, data), jax.vmap(jr.fold_in)(jkeys, data))
    same(fx.jit(fx.vmap(fr.fold_in, in_axes=(None, 0)))(fr.key(7), data),
         jax.jit(jax.vmap(jr.fold_in, in_axes=(None, 0)))(jr.key(7), data))
    np.testing.assert_array_equal(fx.vmap(lambda k: fr.bits(k, (3,), np.uint16))(keys),
                                  jax.vmap(lambda k: jr.bits(k, (3,), jnp.uint16))(jkeys))
    np.testing.assert_array_equal(fx.vmap(lambda k: fr.normal(k, (2,)))(keys),
                                  jax.vmap(lambda k: jr.normal(k, (2,)))(jkeys))
    same(fx.vmap(fr.key)(fnp.arange(3)), jax.vmap(jr.key)(jnp.arange(3)))
    grid, jgrid = fr.split(fr.key(2), (2, 3)), jr.split(jr.key(2), (2, 3))
    np.testing.assert_array_equal(
        fx.vmap(lambda k: fr.uniform(k[1], (2,)), in_axes=1)(grid),
        jax.vmap(lambda k: jr.uniform(k[1], (2,)), in_axes=1)(jgrid))
    same(fx.vmap(lambda k: fr.split(k, 2), out_axes=1)(keys[:3]),
         jax.vmap(lambda k: jr.split(k, 2), out_axes=1)(jkeys[:3]))


def test_negative_vmap_axes_of_key_arrays():
    grid = fr.split(fr.key(2), (2, 3))
    out = fx.vmap(lambda k: fr.split(k[0], 2), in_axes=-1, out_axes=-1)(grid)
    assert out.shape == (2, 3)
    for j in range(3):  # the loop oracle: column j is the split of grid[0, j]
        np.testing.assert_array_equal(fr.key_data(out[:, j]),
                                      fr.key_data(fr.split(grid[0, j], 2)))
