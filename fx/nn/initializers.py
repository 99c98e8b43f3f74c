"""``fx.nn.initializers``: weight initializers with JAX's signatures.

An initializer is a function ``init(key, shape, dtype=..., out_sharding=None)``
returning an array of ``shape``. The builders (``normal(stddev)``,
``variance_scaling(...)``, ...) return initializers.

Invariants: random draws come from ``fx.random`` (bit-identical to JAX for the
same key), and the arithmetic around them is done in the target dtype in the
same order as JAX, so fx and JAX produce identical weights for the same key.
"""
from __future__ import annotations

import math
import operator
from typing import Any, Callable, Literal, Protocol, Sequence

import numpy as np

import fx.numpy as fnp
from fx import dtypes

__all__ = ["Initializer", "zeros", "ones", "constant", "uniform", "normal", "truncated_normal",
           "variance_scaling", "glorot_uniform", "glorot_normal", "xavier_uniform",
           "xavier_normal", "lecun_uniform", "lecun_normal", "he_uniform", "he_normal",
           "kaiming_uniform", "kaiming_normal", "orthogonal", "delta_orthogonal"]


class Initializer(Protocol):
    """The type of an initializer: ``(key, shape, dtype=None, out_sharding=None) -> Array``."""

    def __call__(self, key: Any, shape: Sequence[int], dtype: Any = None,
                 out_sharding: Any = None) -> Any:
        ...


def _random():
    # fx.random is imported lazily: it sits above fx.nn in the import order
    from fx import random
    return random


def _dtype(dtype) -> np.dtype:
    return dtypes.default_float_dtype() if dtype is None else dtypes.canonicalize_dtype(dtype)


def _shape(shape, who: str) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        return tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"{who}: shape must be a sequence of ints, got {shape!r}") from None


def _check_sharding(out_sharding, who: str) -> None:
    if out_sharding is not None:
        raise NotImplementedError(f"{who}: out_sharding is not supported by fx (got "
                                  f"{out_sharding!r}); pass None")


def zeros(key, shape, dtype=None, out_sharding=None):
    """An initializer returning zeros (``key`` is ignored).

    Example:
      >>> fx.nn.initializers.zeros(fx.random.key(0), (2,))
      Array([0., 0.], dtype=float32)
    """
    _check_sharding(out_sharding, "zeros")
    return fnp.zeros(_shape(shape, "zeros"), _dtype(dtype))


def ones(key, shape, dtype=None, out_sharding=None):
    """An initializer returning ones (``key`` is ignored).

    Example:
      >>> fx.nn.initializers.ones(fx.random.key(0), (2,))
      Array([1., 1.], dtype=float32)
    """
    _check_sharding(out_sharding, "ones")
    return fnp.ones(_shape(shape, "ones"), _dtype(dtype))


def constant(value, dtype=None) -> Initializer:
    """Builds an initializer returning arrays filled with ``value``.

    Example:
      >>> fx.nn.initializers.constant(-7)(fx.random.key(0), (2,))
      Array([-7., -7.], dtype=float32)
    """
    def init(key, shape, dtype=dtype, out_sharding=None):
        _check_sharding(out_sharding, "constant")
        return fnp.full(_shape(shape, "constant"), value, dtype=_dtype(dtype))
    return init


def uniform(scale=1e-2, dtype=None) -> Initializer:
    """Builds an initializer drawing uniformly from ``[0, scale)``.

    Example:
      >>> fx.nn.initializers.uniform(1.0)(fx.random.key(0), (2, 3)).shape
      (2, 3)
    """
    def init(key, shape, dtype=dtype, out_sharding=None):
        _check_sharding(out_sharding, "uniform")
        dtype = _dtype(dtype)
        return _random().uniform(key, _shape(shape, "uniform"), dtype) * \
            fnp.array(scale, dtype)
    return init


def normal(stddev=1e-2, dtype=None) -> Initializer:
    """Builds an initializer drawing from a normal distribution with ``stddev``.

    Example:
      >>> fx.nn.initializers.normal(1.0)(fx.random.key(0), (2, 3)).shape
      (2, 3)
    """
    def init(key, shape, dtype=dtype, out_sharding=None):
        _check_sharding(out_sharding, "normal")
        dtype = _dtype(dtype)
        return _random().normal(key, _shape(shape, "normal"), dtype) * fnp.array(stddev, dtype)
    return init


def truncated_normal(stddev=1e-2, dtype=None, lower=-2.0, upper=2.0) -> Initializer:
    """Builds an initializer drawing from a standard normal truncated to
    ``[lower, upper]``, then scaled by ``stddev`` (so the result's standard deviation
    is below ``stddev``).

    Example:
      >>> fx.nn.initializers.truncated_normal(1.0)(fx.random.key(0), (2, 3)).shape
      (2, 3)
    """
    def init(key, shape, dtype=dtype, out_sharding=None):
        _check_sharding(out_sharding, "truncated_normal")
        dtype = _dtype(dtype)
        draws = _random().truncated_normal(key, lower, upper, _shape(shape, "truncated_normal"),
                                           dtype)
        return draws * fnp.array(stddev, dtype)
    return init


def _axis_size(shape, axes, what: str) -> int:
    try:
        if isinstance(axes, (int, np.integer)):
            return shape[axes]
        return math.prod(shape[a] for a in axes)
    except IndexError:
        raise ValueError(f"variance_scaling: {what} {axes!r} is out of bounds for a weights "
                         f"shape {shape}") from None


def _compute_fans(shape, in_axis=-2, out_axis=-1, batch_axis=()) -> tuple[float, float]:
    """(fan_in, fan_out) of a weights shape: the in/out sizes times the receptive field
    (the product of every axis not named in ``in_axis``, ``out_axis``, ``batch_axis``)."""
    if isinstance(in_axis, int) and in_axis == -2 and len(shape) <= 1:
        raise ValueError(f"Can't compute input and output sizes of a {len(shape)}-dimensional "
                         "weights tensor with default in_axis. Must be at least 2D or specify "
                         "in_axis explicitly.")
    in_size = _axis_size(shape, in_axis, "in_axis")
    out_size = _axis_size(shape, out_axis, "out_axis")
    batch_size = _axis_size(shape, batch_axis, "batch_axis")
    receptive_field = math.prod(shape) / in_size / out_size / batch_size
    return in_size * receptive_field, out_size * receptive_field


def _complex_uniform(key, shape, dtype):
    """Uniform draws on the complex disk with zero mean and unit variance."""
    random = _random()
    key_r, key_theta = random.split(key)
    real_dtype = np.array(0, dtype).real.dtype
    r = fnp.sqrt(2 * random.uniform(key_r, shape, real_dtype)).astype(dtype)
    theta = 2 * np.pi * random.uniform(key_theta, shape, real_dtype).astype(dtype)
    return r * fnp.exp(1j * theta)


def _complex_truncated_normal(key, upper, shape, dtype):
    """Complex normal draws (unit variance before truncation) with modulus <= ``upper``."""
    random = _random()
    key_r, key_theta = random.split(key)
    real_dtype = np.array(0, dtype).real.dtype
    t = (1 - fnp.exp(fnp.array(-(float(upper) ** 2), dtype))) * \
        random.uniform(key_r, shape, real_dtype).astype(dtype)
    r = fnp.sqrt(-fnp.log(1 - t))
    theta = 2 * np.pi * random.uniform(key_theta, shape, real_dtype).astype(dtype)
    return r * fnp.exp(1j * theta)


_MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
_DISTRIBUTIONS = ("truncated_normal", "normal", "uniform")


def variance_scaling(scale, mode: Literal["fan_in", "fan_out", "fan_avg", "fan_geo_avg"],
                     distribution: Literal["truncated_normal", "normal", "uniform"],
                     in_axis: int | Sequence[int] = -2, out_axis: int | Sequence[int] = -1,
                     batch_axis: int | Sequence[int] = (), dtype=None) -> Initializer:
    """Builds an initializer whose variance is ``scale / n``, where ``n`` is the fan-in,
    fan-out, their mean or their geometric mean (``mode``).

    Args:
      scale: positive scaling factor.
      mode: ``"fan_in"``, ``"fan_out"``, ``"fan_avg"`` or ``"fan_geo_avg"``.
      distribution: ``"truncated_normal"`` (cut at 2 standard deviations, then
        rescaled to the target variance), ``"normal"`` or ``"uniform"`` (on a disk
        for complex dtypes).
      in_axis, out_axis: axis or axes of the input and output dimensions.
      batch_axis: axes ignored when computing the fans.
      dtype: the default dtype of the weights.

    Returns:
      An initializer.

    Example:
      >>> init = fx.nn.initializers.variance_scaling(2.0, "fan_in", "normal")
      >>> init(fx.random.key(0), (4, 3)).shape
      (4, 3)
    """
    if mode not in _MODES:
        raise ValueError(f"invalid mode for variance scaling initializer: {mode}; expected one "
                         f"of {_MODES}")
    if distribution not in _DISTRIBUTIONS:
        raise ValueError(f"invalid distribution for variance scaling initializer: "
                         f"{distribution}; expected one of {_DISTRIBUTIONS}")

    def init(key, shape, dtype=dtype, out_sharding=None):
        _check_sharding(out_sharding, "variance_scaling")
        shape = _shape(shape, "variance_scaling")
        dtype = _dtype(dtype)
        fan_in, fan_out = _compute_fans(shape, in_axis, out_axis, batch_axis)
        denominator = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
                       "fan_geo_avg": (fan_in * fan_out) ** 0.5}[mode]
        variance = fnp.array(scale / denominator, dtype=dtype)
        random = _random()
        real = dtypes.issubdtype(dtype, np.floating)
        if distribution == "truncated_normal":
            if real:
                # 0.8796... is the standard deviation of a standard normal cut at +-2
                stddev = fnp.sqrt(variance) / fnp.array(.87962566103423978, dtype)
                return random.truncated_normal(key, -2, 2, shape, dtype) * stddev
            stddev = fnp.sqrt(variance) / fnp.array(.95311164380491208, dtype)
            return _complex_truncated_normal(key, 2, shape, dtype) * stddev
        if distribution == "normal":
            return random.normal(key, shape, dtype) * fnp.sqrt(variance)
        if real:
            return random.uniform(key, shape, dtype, -1) * fnp.sqrt(3 * variance)
        return _complex_uniform(key, shape, dtype) * fnp.sqrt(variance)

    return init


def _variance_scaling_builder(name: str, scale: float, mode: str, distribution: str,
                              reference: str) -> Callable[..., Initializer]:
    def builder(in_axis: int | Sequence[int] = -2, out_axis: int | Sequence[int] = -1,
                batch_axis: int | Sequence[int] = (), dtype=None) -> Initializer:
        return variance_scaling(scale, mode, distribution, in_axis=in_axis,
                                out_axis=out_axis, batch_axis=batch_axis, dtype=dtype)

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = (
        f"Builds a {reference} initializer: ``variance_scaling({scale}, \"{mode}\", "
        f"\"{distribution}\")``.\n\n"
        "    Args:\n"
        "      in_axis, out_axis: axis or axes of the input and output dimensions.\n"
        "      batch_axis: axes ignored when computing the fans.\n"
        "      dtype: the default dtype of the weights.\n\n"
        "    Returns:\n"
        "      An initializer.\n\n"
        "    Example:\n"
        f"      >>> fx.nn.initializers.{name}()(fx.random.key(0), (4, 3)).shape\n"
        "      (4, 3)\n")
    return builder


glorot_uniform = _variance_scaling_builder("glorot_uniform", 1.0, "fan_avg", "uniform",
                                           "Glorot (Xavier) uniform")
glorot_normal = _variance_scaling_builder("glorot_normal", 1.0, "fan_avg", "truncated_normal",
                                          "Glorot (Xavier) normal")
lecun_uniform = _variance_scaling_builder("lecun_uniform", 1.0, "fan_in", "uniform",
                                          "LeCun uniform")
lecun_normal = _variance_scaling_builder("lecun_normal", 1.0, "fan_in", "truncated_normal",
                                         "LeCun normal")
he_uniform = _variance_scaling_builder("he_uniform", 2.0, "fan_in", "uniform",
                                       "He (Kaiming) uniform")
he_normal = _variance_scaling_builder("he_normal", 2.0, "fan_in", "truncated_normal",
                                      "He (Kaiming) normal")
xavier_uniform, xavier_normal = glorot_uniform, glorot_normal
kaiming_uniform, kaiming_normal = he_uniform, he_normal


def orthogonal(scale=1.0, column_axis: int = -1, dtype=None) -> Initializer:
    """Builds an initializer returning (semi-)orthogonal matrices: the ``column_axis``
    columns are orthonormal (or the rows, whichever side is smaller), times ``scale``.

    Args:
      scale: multiplier of the orthogonal matrix.
      column_axis: the axis holding the columns.
      dtype: the default dtype of the weights.

    Example:
      >>> w = fx.nn.initializers.orthogonal()(fx.random.key(0), (3, 3))
      >>> bool(fx.numpy.allclose(w.T @ w, fx.numpy.eye(3), atol=1e-5))
      True
    """
    def init(key, shape, dtype=dtype, out_sharding=None):
        _check_sharding(out_sharding, "orthogonal")
        shape = _shape(shape, "orthogonal")
        dtype = _dtype(dtype)
        if len(shape) < 2:
            raise ValueError(f"orthogonal initializer requires at least a 2D shape, got "
                             f"{shape}")
        if not -len(shape) <= column_axis < len(shape):
            raise ValueError(f"orthogonal: column_axis {column_axis} is out of bounds for "
                             f"shape {shape}")
        if any(d == 0 for d in shape):
            return fnp.zeros(shape, dtype)
        n_cols = shape[column_axis]
        n_rows = math.prod(shape) // n_cols
        q = _random().orthogonal(key, n_rows, (), dtype, n_cols)
        rest = tuple(np.delete(np.array(shape), column_axis))
        q = fnp.reshape(q, rest + (n_cols,))
        q = fnp.moveaxis(q, -1, column_axis)
        return fnp.array(scale, dtype) * q
    return init


def delta_orthogonal(scale=1.0, column_axis: int = -1, dtype=None) -> Initializer:
    """Builds a delta-orthogonal initializer for convolution kernels (3D, 4D or 5D
    shapes, spatial axes first): zero except an orthogonal matrix at the spatial centre.

    Args:
      scale: multiplier of the orthogonal matrix.
      column_axis: the axis holding the columns of that matrix.
      dtype: the default dtype of the weights.

    Example:
      >>> w = fx.nn.initializers.delta_orthogonal()(fx.random.key(0), (3, 3, 3))
      >>> w.shape
      (3, 3, 3)
    """
    def init(key, shape, dtype=dtype, out_sharding=None):
        _check_sharding(out_sharding, "delta_orthogonal")
        shape = _shape(shape, "delta_orthogonal")
        dtype = _dtype(dtype)
        if len(shape) not in (3, 4, 5):
            raise ValueError(f"Delta orthogonal initializer requires a 3D, 4D or 5D shape, got "
                             f"{shape}")
        if shape[-1] < shape[-2]:
            raise ValueError(f"`fan_in` must be less or equal than `fan_out`, got shape "
                             f"{shape}")
        matrix = orthogonal(scale=scale, column_axis=column_axis, dtype=dtype)(key, shape[-2:])
        centre = tuple((k - 1) // 2 for k in shape[:-2])
        return fnp.zeros(shape, dtype).at[centre].set(matrix)
    return init
