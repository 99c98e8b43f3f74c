"""Helpers shared by the samplers: dtype and shape checks, and the two draws every
other distribution is built on (``uniform`` bits-to-float and ``normal``).

Invariants: internal samplers take a typed single key (``PRNGKeyArray`` of
shape ``()``) and static shape/dtype; they are ``fx.jit``-compiled with those
static, as JAX's are, so eager calls reuse a cached program. Floats come from
the mantissa trick: random bits shifted into the mantissa of a float in
[1, 2), minus 1.
"""
from __future__ import annotations

import functools

import numpy as np

from fx import dtypes
from fx.interpreters.jit import jit
from fx.lax import _lax as lax
from fx._random.keys import (PRNGKeyArray, _index_key, canonical_shape, check_prng_key,
                             random_bits, split_key)
from primitives.random import UINT_DTYPES, random_split_p

__all__ = ["float_dtype", "int_dtype", "check_shape", "param_shape", "uniform_draw",
           "normal_draw", "single_key", "canonical_shape", "split_key", "split_keys",
           "static_jit", "const", "xla_sum_last"]


def static_jit(*static_argnums):
    """``fx.jit`` with the given static positions (as JAX compiles its samplers)."""
    return functools.partial(jit, static_argnums=static_argnums)


def single_key(name: str, key) -> PRNGKeyArray:
    """A typed single key from a typed or raw key; errors name ``name``."""
    return check_prng_key(name, key)[0]


def split_keys(key: PRNGKeyArray, num: int) -> PRNGKeyArray:
    """A typed key array of shape ``(num,)``."""
    return PRNGKeyArray(random_split_p.bind(key._base_array, shape=(num,)))


def key_at(keys: PRNGKeyArray, i: int) -> PRNGKeyArray:
    return PRNGKeyArray(_index_key(keys._base_array, i))


def _kind(d: np.dtype) -> str:
    return "f" if d == dtypes.bfloat16 else d.kind


def _dtype_arg(name: str, dtype) -> np.dtype:
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype argument to `{name}` is not a valid dtype: {dtype!r}") from None


def float_dtype(name: str, dtype, allow_complex: bool = False) -> np.dtype:
    """The canonical float dtype for ``dtype`` (default float when None)."""
    d = dtypes.default_float_dtype() if dtype is None else _dtype_arg(name, dtype)
    ok = "fc" if allow_complex else "f"
    if _kind(d) not in ok:
        what = "a float or complex" if allow_complex else "a float"
        raise ValueError(f"dtype argument to `{name}` must be {what} dtype, got {d.name}")
    return dtypes.canonicalize_dtype(d)


def int_dtype(name: str, dtype) -> np.dtype:
    """The canonical integer dtype for ``dtype`` (default int when None)."""
    d = dtypes.default_int_dtype() if dtype is None else _dtype_arg(name, dtype)
    if d.kind not in "iu":
        raise ValueError(f"dtype argument to `{name}` must be an int dtype, got {d.name}")
    return dtypes.canonicalize_dtype(d)


def param_shape(x) -> tuple:
    return tuple(np.shape(x)) if not hasattr(x, "shape") else tuple(x.shape)


def check_shape(name: str, shape, *param_shapes) -> tuple:
    """``shape`` as a tuple, checking that the parameters broadcast to it."""
    shape = canonical_shape(shape)
    if param_shapes:
        try:
            result = np.broadcast_shapes(shape, *param_shapes)
        except ValueError:
            result = None
        if result != shape:
            raise ValueError(
                f"{name} parameter shapes must be broadcast-compatible with shape argument, "
                f"and the result of broadcasting the shapes must equal the shape argument, "
                f"but got result {result} for shape argument {shape}.")
    return shape


def shape_or_broadcast(name: str, shape, *params) -> tuple:
    """``shape`` checked against the parameters' shapes, or their broadcast if None."""
    shapes = [param_shape(p) for p in params]
    if shape is None:
        try:
            return tuple(np.broadcast_shapes(*shapes))
        except ValueError:
            raise ValueError(f"{name}: parameter shapes {shapes} do not broadcast "
                             "together") from None
    return check_shape(name, shape, *shapes)


def const(value, dtype):
    """A NumPy scalar of ``dtype`` (shown as a literal in jaxprs)."""
    return np.array(value, dtype=dtype)[()]


def broadcast_param(x, shape):
    """``x`` broadcast to ``shape`` unless it is rank 0 (lax takes rank-0 operands as is)."""
    xs = tuple(np.shape(x))
    if not xs or xs == tuple(shape):
        return x
    from fx import numpy as fnp
    return fnp.broadcast_to(x, shape)


def as_float(x, dtype):
    """``x`` converted (strongly) to ``dtype``."""
    return lax.convert_element_type(x, dtype)


# ---------------------------------------------------------------------------
# uniform and normal draws (traced inside the jitted samplers)


def uniform_draw(key: PRNGKeyArray, shape: tuple, dtype, minval, maxval):
    """Uniform floats in [minval, maxval) of ``dtype`` and ``shape``."""
    dtype = np.dtype(dtype)
    minval = broadcast_param(as_float(minval, dtype), shape)
    maxval = broadcast_param(as_float(maxval, dtype), shape)
    info = dtypes.finfo(dtype)
    nbits, nmant = info.bits, info.nmant
    rng_bits = nbits if nmant >= 8 else 8  # bfloat16 and narrower: 8 random bits
    uint = UINT_DTYPES[nbits]
    raw = random_bits(key, rng_bits, shape)
    if rng_bits != nbits:
        raw = lax.convert_element_type(raw, uint)
    one_bits = np.array(1.0, dtype).view(uint)[()]
    mantissa = lax.bitwise_or(lax.shift_right_logical(raw, const(rng_bits - nmant, uint)),
                              one_bits)
    floats = lax.sub(lax.bitcast_convert_type(mantissa, dtype), const(1.0, dtype))
    scaled = lax.add(lax.mul(floats, lax.sub(maxval, minval)), minval)
    return lax.max(minval, scaled)


@static_jit(1, 2)
def _uniform(key, shape, dtype, minval, maxval):
    return uniform_draw(key, shape, dtype, minval, maxval)


def uniform_jit(key, shape, dtype, minval=0.0, maxval=1.0):
    """The jitted uniform sampler (what ``fx.random.uniform`` calls)."""
    return _uniform(key, shape, dtype, minval, maxval)


@static_jit(1, 2)
def _normal_real(key, shape, dtype):
    low = np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype))
    u = _uniform(key, shape, dtype, low, const(1.0, dtype))
    return lax.mul(const(np.sqrt(2), dtype), lax.erf_inv(u))


@static_jit(1, 2)
def _normal(key, shape, dtype):
    if dtypes.is_complex(dtype):
        real_dtype = np.finfo(dtype).dtype
        keys = split_keys(key, 2)
        re = lax.convert_element_type(_normal_real(key_at(keys, 0), shape, real_dtype), dtype)
        im = lax.convert_element_type(_normal_real(key_at(keys, 1), shape, real_dtype), dtype)
        z = lax.add(re, lax.mul(const(1j, dtype), im))
        return lax.div(z, const(np.sqrt(2), dtype))
    return _normal_real(key, shape, dtype)


def normal_draw(key, shape, dtype):
    """Standard normal draws (complex: unit variance split between parts)."""
    return _normal(key, shape, dtype)


def _bernoulli(key, p, shape, mode):
    p_dtype = np.dtype(p.dtype)
    if mode == "low":
        return _bernoulli_jit_low(key, p, shape, p_dtype)
    return _bernoulli_jit_high(key, p, shape, p_dtype)


@static_jit(2, 3)
def _bernoulli_jit_low(key, p, shape, dtype):
    return lax.lt(_uniform(key, shape, dtype, 0.0, 1.0), p)


@static_jit(2, 3)
def _bernoulli_jit_high(key, p, shape, dtype):
    # two draws: the second refines the first below its float spacing
    u = _uniform(key, (2,) + shape, dtype, 0.0, 1.0)
    u1, u2 = _first_axis(u, 0), _first_axis(u, 1)
    eps = const(dtypes.finfo(dtype).eps, dtype)
    return lax.lt(lax.mul(u2, eps), lax.sub(p, u1))


def _first_axis(x, i: int):
    from fx.lax import _slicing
    return lax.squeeze(_slicing.slice_in_dim(x, i, i + 1, axis=0), (0,))


bernoulli_draw = _bernoulli
first_axis = _first_axis
key_index = key_at


# ---------------------------------------------------------------------------
# XLA's order of summation along the last axis

_XLA_LANES = 16
#: rows summed in order when the array is smaller than this (XLA's small kernels)
_XLA_SMALL = 4096
#: the longest rows whose summation order is reproduced (small arrays, larger ones)
XLA_SUM_MAX = (32, 64)


def xla_sum_last(x, square: bool = False):
    """The sum over the last axis of ``x``, added in the order XLA's CPU backend adds a
    row, so sums of draws round as JAX's do (measured with ``jax.jit(x.sum(-1))``).

    Arrays of fewer than 4096 elements (rows of up to 32): in order, ``((x0 + x1) +
    x2) + ...``. Larger arrays (rows of up to 64): 16 lane accumulators, lane ``j``
    adding elements ``j, j + 16, ...`` in turn, then folded in halves (lane ``j`` plus
    lane ``j + 8``, then ``j + 4``, ...), absent lanes counting as zero: three elements
    sum as ``(x0 + x2) + x1``. Longer rows: ``sum`` (XLA's order is not reproduced).
    The accumulators' initial zero is dropped (it only turns ``-0`` into ``+0``).

    ``square=True``: the sum of ``x * x``, with XLA's fused multiply-adds: in small
    arrays the chain ``x0*x0 + x1*x1 + ...`` that the compiler contracts as XLA's does;
    in large ones each lane's first square rounded alone and later ones fused into the
    lane's sum (the first squares pass through ``max(., 0)``, a no-op on squares, so
    the compiler cannot fuse them into the halving additions, which XLA does not).
    """
    from fx import numpy as fnp
    from fx.lax import _slicing
    k = x.shape[-1]
    small = int(np.prod(x.shape, dtype=np.int64)) < _XLA_SMALL
    if k == 0 or k > XLA_SUM_MAX[0 if small else 1]:
        return fnp.sum(lax.mul(x, x) if square else x, axis=-1)
    axis = len(x.shape) - 1
    cols = [_slicing.index_in_dim(x, i, axis=axis, keepdims=False) for i in range(k)]
    lanes = 1 if small else _XLA_LANES
    acc: list = [None] * lanes
    for i, col in enumerate(cols):
        j = i % lanes
        if square:  # (a later square stays a product, for the compiler to fuse)
            col = lax.mul(col, col)
            if acc[j] is None and not small:
                col = lax.max(col, const(0.0, col.dtype))
        acc[j] = col if acc[j] is None else lax.add(acc[j], col)
    while lanes > 1:
        lanes //= 2
        for j in range(lanes):
            hi = acc[j + lanes]
            if hi is not None:
                acc[j] = hi if acc[j] is None else lax.add(acc[j], hi)
    return acc[0]
