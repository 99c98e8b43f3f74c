"""Random-number primitives: the Threefry-2x32 block cipher and the key operations
built on it (seed, split, fold_in, bits), plus the gamma sampler and its
implicit derivative.

Invariants: keys are raw ``uint32`` arrays whose trailing dimension is 2 (the
two key words); every key primitive maps over the leading "key batch" shape, so
its batching rule only moves the batch dimension to the front. Counters follow
JAX 0.10's default (``jax_threefry_partitionable=True``): element ``i`` of a
draw of shape ``S`` enciphers the 64-bit flat index ``i`` split into (high, low)
words. All outputs are integers, so every derivative is a symbolic ``Zero`` —
except ``random_gamma``, differentiable in its shape parameter through
``random_gamma_grad`` (the implicit derivative of the gamma sample).
"""
from __future__ import annotations

import numpy as np

from fx import dtypes
from fx.core import ShapedArray, Zero
from primitives import _rules as R
from primitives._rules import FLOAT, INT, check_dtype, new_primitive

_sp = R.LazyModule("scipy.special")


__all__ = ["threefry2x32_p", "random_seed_p", "random_bits_p", "random_split_p",
           "random_fold_in_p", "random_gamma_p", "random_gamma_grad_p", "threefry_2x32",
           "UINT_DTYPES"]

UINT_DTYPES = {8: np.dtype(np.uint8), 16: np.dtype(np.uint16), 32: np.dtype(np.uint32),
               64: np.dtype(np.uint64)}
_U32 = np.dtype(np.uint32)

# ---------------------------------------------------------------------------
# The cipher in NumPy (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
# SC 2011): 20 rounds in five blocks of four, a key injection after each block.

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_KEY_PARITY = np.uint32(0x1BD11BDA)


def _rotate_left(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def threefry_2x32(k0, k1, x0, x1) -> tuple[np.ndarray, np.ndarray]:
    """Threefry-2x32 (20 rounds) of counters ``(x0, x1)`` under key ``(k0, k1)``.

    All four are broadcast together and taken as ``uint32``; returns the two
    enciphered words, each of the broadcast shape.
    """
    k0, k1, x0, x1 = np.broadcast_arrays(*[np.asarray(a, _U32) for a in (k0, k1, x0, x1)])
    shape = k0.shape
    # work on 1-d arrays: NumPy's rank-0 arithmetic returns scalars that warn on wrap-around
    k0, k1, x0, x1 = (a.reshape(-1) for a in (k0, k1, x0, x1))
    schedule = (k0, k1, k0 ^ k1 ^ _KEY_PARITY)
    x0 = x0 + schedule[0]
    x1 = x1 + schedule[1]
    for block in range(5):
        for r in _ROTATIONS[block % 2]:
            x0 = x0 + x1
            x1 = _rotate_left(x1, r) ^ x0
        x0 = x0 + schedule[(block + 1) % 3]
        x1 = x1 + schedule[(block + 2) % 3] + np.uint32(block + 1)
    return x0.reshape(shape), x1.reshape(shape)


def _counters(shape) -> tuple[np.ndarray, np.ndarray]:
    """The (high, low) words of the flat index of each position of ``shape``."""
    index = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.uint64).reshape(shape)
    return (index >> np.uint64(32)).astype(_U32), (index & np.uint64(0xFFFFFFFF)).astype(_U32)


def _key_words(keys: np.ndarray, extra_rank: int):
    """The two words of each key, with ``extra_rank`` trailing axes to broadcast against."""
    keys = np.asarray(keys, _U32)
    pad = (slice(None),) * (keys.ndim - 1)
    expand = (None,) * extra_rank
    return keys[pad + (0,) + expand], keys[pad + (1,) + expand]


def _check_keys(name: str, keys: ShapedArray) -> None:
    if keys.dtype != _U32 or not keys.shape or keys.shape[-1] != 2:
        raise TypeError(f"{name} expects raw key data: a uint32 array whose last dimension "
                        f"is 2, got {keys.str_short()}")


def _integer_outputs(*outs):
    return [Zero(R.aval_of(o).to_tangent_aval()) for o in outs]


def _keys_to_front(args, dims):
    """Move every batched operand's batch dimension to the front (broadcasting the rest)."""
    size = R.batch_size(args, dims)
    return [R.bdim_to_front(a, d, size) for a, d in zip(args, dims, strict=True)]


# ---------------------------------------------------------------------------
# threefry2x32: the cipher itself, elementwise over four equally shaped uint32 arrays

threefry2x32_p = new_primitive("threefry2x32", multiple_results=True)


@threefry2x32_p.def_abstract_eval
def _threefry_abstract_eval(k0, k1, x0, x1):
    for aval, what in zip((k0, k1, x0, x1), ("k1", "k2", "x1", "x2"), strict=True):
        if aval.dtype != _U32:
            raise TypeError(f"threefry2x32 requires uint32 arguments, got {aval.dtype.name} "
                            f"for {what}")
    shapes = {a.shape for a in (k0, k1, x0, x1)}
    if len(shapes) != 1:
        raise TypeError(f"threefry2x32 requires all arguments to have the same shape, got "
                        f"{[a.shape for a in (k0, k1, x0, x1)]}")
    return [ShapedArray(x0.shape, _U32)] * 2


@threefry2x32_p.def_impl
def _threefry_impl(k0, k1, x0, x1):
    return list(threefry_2x32(k0, k1, x0, x1))


@threefry2x32_p.def_jvp
def _threefry_jvp(primals, tangents):
    outs = threefry2x32_p.bind(*primals)
    return outs, _integer_outputs(*outs)


@threefry2x32_p.def_batch
def _threefry_batch(args, dims):
    return threefry2x32_p.bind(*_keys_to_front(args, dims)), [0, 0]


# ---------------------------------------------------------------------------
# random_seed: integer seeds -> keys. The high word is the seed's bits 32..63 (zero
# for narrower types), the low word its low 32 bits (sign-extended narrow seeds).

random_seed_p = new_primitive("random_seed")
random_seed_p.param_order = ("impl",)


@random_seed_p.def_abstract_eval
def _seed_abstract_eval(seeds, *, impl):
    check_dtype("random_seed", seeds, INT + "b", "seed")
    return ShapedArray(seeds.shape + (2,), _U32)


@random_seed_p.def_impl
def _seed_impl(seeds, *, impl):
    seeds = np.asarray(seeds)
    wide = seeds.astype(np.int64 if seeds.dtype.kind in "ib" else np.uint64).astype(np.uint64)
    high = (wide >> np.uint64(32)).astype(_U32) if seeds.dtype.itemsize == 8 \
        else np.zeros(seeds.shape, _U32)
    low = (wide & np.uint64(0xFFFFFFFF)).astype(_U32)
    return np.stack([high, low], axis=-1)


@random_seed_p.def_jvp
def _seed_jvp(primals, tangents, *, impl):
    out = random_seed_p.bind(*primals, impl=impl)
    return out, _integer_outputs(out)[0]


@random_seed_p.def_batch
def _seed_batch(args, dims, *, impl):
    (seeds,), (d,) = args, dims
    return random_seed_p.bind(R.moveaxis(seeds, d, 0), impl=impl), 0


# ---------------------------------------------------------------------------
# random_bits: keys[K..., 2] -> uint{bit_width}[K..., *shape]

random_bits_p = new_primitive("random_bits")
random_bits_p.param_order = ("bit_width", "shape")


@random_bits_p.def_abstract_eval
def _bits_abstract_eval(keys, *, bit_width, shape):
    _check_keys("random_bits", keys)
    if bit_width not in UINT_DTYPES:
        raise TypeError(f"random_bits bit_width must be 8, 16, 32 or 64, got {bit_width}")
    return ShapedArray(keys.shape[:-1] + tuple(shape), UINT_DTYPES[bit_width])


@random_bits_p.def_impl
def _bits_impl(keys, *, bit_width, shape):
    if np.asarray(keys).size * int(np.prod(shape, dtype=np.int64)) >= 4096:
        try:  # large draws: the same cipher as a native loop (the compiler's own)
            from lowering.cpu.lib_random import random_bits_array
        except ImportError:  # pragma: no cover - llvmlite missing
            pass
        else:
            return random_bits_array(np.asarray(keys), bit_width, shape)
    k0, k1 = _key_words(keys, len(shape))
    high, low = _counters(shape)
    b0, b1 = threefry_2x32(k0, k1, high, low)
    if bit_width == 64:
        return (b0.astype(np.uint64) << np.uint64(32)) | b1.astype(np.uint64)
    return (b0 ^ b1).astype(UINT_DTYPES[bit_width])


@random_bits_p.def_jvp
def _bits_jvp(primals, tangents, **params):
    out = random_bits_p.bind(*primals, **params)
    return out, _integer_outputs(out)[0]


@random_bits_p.def_batch
def _bits_batch(args, dims, **params):
    (keys,), (d,) = args, dims
    return random_bits_p.bind(R.moveaxis(keys, d, 0), **params), 0


# ---------------------------------------------------------------------------
# random_split: keys[K..., 2] -> keys[K..., *shape, 2]

random_split_p = new_primitive("random_split")
random_split_p.param_order = ("shape",)


@random_split_p.def_abstract_eval
def _split_abstract_eval(keys, *, shape):
    _check_keys("random_split", keys)
    return ShapedArray(keys.shape[:-1] + tuple(shape) + (2,), _U32)


@random_split_p.def_impl
def _split_impl(keys, *, shape):
    k0, k1 = _key_words(keys, len(shape))
    high, low = _counters(shape)
    return np.stack(threefry_2x32(k0, k1, high, low), axis=-1)


@random_split_p.def_jvp
def _split_jvp(primals, tangents, **params):
    out = random_split_p.bind(*primals, **params)
    return out, _integer_outputs(out)[0]


@random_split_p.def_batch
def _split_batch(args, dims, **params):
    (keys,), (d,) = args, dims
    return random_split_p.bind(R.moveaxis(keys, d, 0), **params), 0


# ---------------------------------------------------------------------------
# random_fold_in: keys[K..., 2], uint32 msgs[K...] -> keys[K..., 2]
# (the key enciphers the counter pair (0, msg))

random_fold_in_p = new_primitive("random_fold_in")


@random_fold_in_p.def_abstract_eval
def _fold_in_abstract_eval(keys, msgs):
    _check_keys("random_fold_in", keys)
    if msgs.dtype != _U32:
        raise TypeError(f"random_fold_in expects uint32 data, got {msgs.dtype.name}")
    if msgs.shape != keys.shape[:-1]:
        raise TypeError(f"random_fold_in: data of shape {msgs.shape} does not match the key "
                        f"array's shape {keys.shape[:-1]}")
    return ShapedArray(keys.shape, _U32)


@random_fold_in_p.def_impl
def _fold_in_impl(keys, msgs):
    k0, k1 = _key_words(keys, 0)
    return np.stack(threefry_2x32(k0, k1, np.zeros_like(msgs, _U32), msgs), axis=-1)


@random_fold_in_p.def_jvp
def _fold_in_jvp(primals, tangents):
    out = random_fold_in_p.bind(*primals)
    return out, _integer_outputs(out)[0]


@random_fold_in_p.def_batch
def _fold_in_batch(args, dims):
    return random_fold_in_p.bind(*_keys_to_front(args, dims)), 0


# ---------------------------------------------------------------------------
# random_gamma_grad(a, x): d x / d a for a Gamma(a, 1) sample x, holding its CDF fixed:
# -(dP(a, x)/da) / (dP(a, x)/dx), with P the regularized lower incomplete gamma function.

random_gamma_grad_p = new_primitive("random_gamma_grad")


@random_gamma_grad_p.def_abstract_eval
def _gamma_grad_abstract_eval(a, x):
    check_dtype("random_gamma_grad", a, FLOAT, "a")
    check_dtype("random_gamma_grad", x, FLOAT, "x")
    if a.dtype != x.dtype:
        raise TypeError(f"random_gamma_grad requires arguments of the same dtype, got "
                        f"{a.dtype.name} and {x.dtype.name}")
    if a.shape != x.shape and a.shape and x.shape:
        raise TypeError(f"random_gamma_grad requires arguments of the same shape, got "
                        f"{a.shape} and {x.shape}")
    return ShapedArray(a.shape or x.shape, a.dtype, a.weak_type and x.weak_type)


def _dP_da(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """d/da of P(a, x) in float64: Richardson-extrapolated central differences."""
    h = np.minimum(1e-3 * np.maximum(1.0, a), a / 4)

    def central(step):
        return (_sp.gammainc(a + step, x) - _sp.gammainc(a - step, x)) / (2 * step)

    return (4 * central(h / 2) - central(h)) / 3


@random_gamma_grad_p.def_impl
def _gamma_grad_impl(a, x):
    dtype = np.result_type(a, x)
    a64, x64 = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(x, np.float64))
    with np.errstate(all="ignore"):
        log_density = (a64 - 1) * np.log(x64) - x64 - _sp.gammaln(a64)
        out = -_dP_da(a64, x64) * np.exp(-log_density)
        # where P is flat in a to double precision, use the asymptotic forms:
        # small x: P ~ x^a / Gamma(a+1)  =>  dx/da = x (digamma(a+1) - log x) / a
        small = x64 < 1e-3 * np.maximum(a64, 1e-3)
        out = np.where(small, x64 * (_sp.digamma(a64 + 1) - np.log(x64)) / a64, out)
    out = np.where((x64 == 0) & (a64 > 0), 0.0, out)
    out = np.where((a64 <= 0) | (x64 < 0) | np.isnan(a64) | np.isnan(x64), np.nan, out)
    return np.asarray(out.astype(dtype))


random_gamma_grad_p.def_batch(R.broadcasting_batcher(random_gamma_grad_p))


@random_gamma_grad_p.def_jvp
def _gamma_grad_jvp(primals, tangents):
    raise NotImplementedError("Differentiation rule for 'random_gamma_grad' not implemented "
                              "(second derivatives of gamma samples are not supported, as "
                              "in JAX)")


# ---------------------------------------------------------------------------
# random_gamma: keys[K..., 2], a[K..., S...] -> Gamma(a, 1) samples (or their logs when
# log_space), each key split into prod(S) subkeys, one per element of a. The sampler
# (Marsaglia-Tsang rejection, built from fx primitives) is installed by fx.random as
# ``random_gamma_p.sampler(keys, a, log_space=...)``, since it is written in fx itself.

random_gamma_p = new_primitive("random_gamma")
random_gamma_p.param_order = ("log_space",)
random_gamma_p.sampler = None


@random_gamma_p.def_abstract_eval
def _gamma_abstract_eval(keys, a, *, log_space):
    _check_keys("random_gamma", keys)
    check_dtype("random_gamma", a, FLOAT, "a")
    key_shape = keys.shape[:-1]
    if a.shape[:len(key_shape)] != key_shape:
        raise TypeError(f"random_gamma: the key array's shape {key_shape} must be a prefix "
                        f"of a's shape {a.shape}")
    return ShapedArray(a.shape, a.dtype)


@random_gamma_p.def_impl
def _gamma_impl(keys, a, *, log_space):
    if random_gamma_p.sampler is None:
        import fx.random  # noqa: F401  (installs the sampler)
    return np.asarray(random_gamma_p.sampler(keys, a, log_space=log_space))


@random_gamma_p.def_jvp
def _gamma_jvp(primals, tangents, *, log_space):
    (keys, a), (_, a_dot) = primals, tangents
    sample = random_gamma_p.bind(keys, a, log_space=log_space)
    if type(a_dot) is Zero:
        return sample, Zero(R.aval_of(sample).to_tangent_aval())
    if log_space:
        # d log(x) = dx / x; exp(log x) may round to zero: use the tiniest normal float
        x = R._p("exp").bind(sample)
        tiny = R.full(R.shape_of(x), dtypes.finfo(R.dtype_of(x)).tiny, R.dtype_of(x))
        x = R.select_n(R._p("eq").bind(x, R.as_scalar(0, R.dtype_of(x))), x, tiny)
        grad = R.div(random_gamma_grad_p.bind(a, x), x)
    else:
        grad = random_gamma_grad_p.bind(a, sample)
    return sample, R.mul(a_dot, grad)


@random_gamma_p.def_batch
def _gamma_batch(args, dims, *, log_space):
    return random_gamma_p.bind(*_keys_to_front(args, dims), log_space=log_space), 0
