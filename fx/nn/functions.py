"""``fx.nn`` activation and normalisation functions, as ``jax.nn``.

Invariants: every function is a composition of ``fx.numpy``/``fx.lax`` calls, so
it works under every transformation; formulas follow JAX 0.10's, so dtypes and
weak types come out as JAX's do. Where JAX fixes a derivative at a kink (relu,
relu6) the function is a ``custom_jvp`` with the same choice.
"""
from __future__ import annotations

import math
import operator
from typing import Sequence

import numpy as np

import fx.numpy as fnp
from fx import core, dtypes, lax
from fx.core import Tracer, get_aval
from fx.custom_derivatives import custom_jvp
from fx.interpreters.jit import jit
from fx.numpy._jitted import library_jit
from fx.numpy._reduce_ops import _keepdims

__all__ = [
    "relu", "relu6", "gelu", "silu", "swish", "sigmoid", "log_sigmoid", "softplus",
    "soft_sign", "elu", "selu", "celu", "leaky_relu", "hard_tanh", "hard_sigmoid", "hard_silu",
    "hard_swish", "glu", "softmax", "log_softmax", "logsumexp", "logmeanexp", "one_hot",
    "standardize", "dot_product_attention", "sparse_plus", "sparse_sigmoid", "squareplus",
    "mish", "tanh", "identity", "log1mexp",
]

_SCALARS = (bool, int, float, complex, np.generic)


# ---------------------------------------------------------------------------
# argument helpers


def _check_arraylike(name: str, *args) -> None:
    for i, a in enumerate(args):
        if a is None:
            continue
        if not isinstance(a, (fnp.ndarray, Tracer, np.ndarray) + _SCALARS) and not hasattr(
                a, "__jax_array__"):
            raise TypeError(f"{name} requires ndarray or scalar arguments, got "
                            f"{type(a).__name__} at position {i}.")


def _asarray(name: str, x):
    _check_arraylike(name, x)
    return fnp.asarray(x)


def _inexact(name: str, x):
    """``x`` as an array of an inexact dtype (integers and bools become the default float,
    keeping a Python scalar's weak type), as JAX's ``promote_args_inexact``."""
    x = _asarray(name, x)
    aval = get_aval(x)
    if not dtypes.is_inexact(aval.dtype):
        x = lax._convert_element_type(x, dtypes.default_float_dtype(), aval.weak_type)
    return x


def _reduction_axes(axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = operator.index(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of bounds for an array of dimension {ndim}")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"duplicate value in 'axis': {axis}")
    return tuple(sorted(out))


# ---------------------------------------------------------------------------
# elementwise activations


@custom_jvp
@jit
def relu(x):
    """Rectified linear unit, ``max(x, 0)``; its derivative at 0 is taken to be 0.

    Args:
      x: input array.

    Returns:
      An array like ``x``.

    Example:
      >>> fx.nn.relu(fx.numpy.array([-1., 0., 2.]))
      Array([0., 0., 2.], dtype=float32)
    """
    return fnp.maximum(x, 0)


relu.defjvps(lambda g, ans, x: lax.select(x > 0, g, lax.full_like(g, 0)))


@custom_jvp
@jit
def relu6(x):
    """Rectified linear unit capped at 6, ``min(max(x, 0), 6)``.

    The derivative is 0 at both kinks (x = 0 and x = 6), as in JAX.

    Example:
      >>> fx.nn.relu6(fx.numpy.array([-1., 3., 8.]))
      Array([0., 3., 6.], dtype=float32)
    """
    return fnp.minimum(fnp.maximum(x, 0), 6.)


relu6.defjvps(lambda g, ans, x: lax.select((x > 0) & (x < 6), g, lax.full_like(g, 0)))


def sigmoid(x):
    """Logistic sigmoid, ``1 / (1 + exp(-x))`` (the ``logistic`` primitive).

    Example:
      >>> fx.nn.sigmoid(0.)
      Array(0.5, dtype=float32, weak_type=True)
    """
    return lax.logistic(x)


@jit
def silu(x):
    """Sigmoid linear unit (swish), ``x * sigmoid(x)``.

    Example:
      >>> fx.nn.silu(fx.numpy.array([0., 1.]))
      Array([0.       , 0.7310586], dtype=float32)
    """
    x = _asarray("silu", x)
    return x * sigmoid(x)


swish = silu


@jit
def softplus(x):
    """``log(1 + exp(x))``, computed without overflow.

    Example:
      >>> fx.nn.softplus(0.)
      Array(0.6931472, dtype=float32, weak_type=True)
    """
    return fnp.logaddexp(x, 0)


@jit
def sparse_plus(x):
    """Sparse plus: 0 for x <= -1, ``(x + 1)**2 / 4`` for -1 < x < 1, x for x >= 1.

    Example:
      >>> fx.nn.sparse_plus(fx.numpy.array([-2., 0., 2.]))
      Array([0.  , 0.25, 2.  ], dtype=float32)
    """
    x = _asarray("sparse_plus", x)
    return fnp.where(x <= -1.0, 0.0, fnp.where(x >= 1.0, x, (x + 1.0) ** 2 / 4))


@jit
def soft_sign(x):
    """Soft sign, ``x / (|x| + 1)``.

    Example:
      >>> fx.nn.soft_sign(1.)
      Array(0.5, dtype=float32, weak_type=True)
    """
    x = _inexact("soft_sign", x)
    return x / (fnp.abs(x) + 1)


@jit
def log_sigmoid(x):
    """Log of the sigmoid, ``-softplus(-x)``.

    Example:
      >>> fx.nn.log_sigmoid(0.)
      Array(-0.6931472, dtype=float32, weak_type=True)
    """
    x = _inexact("log_sigmoid", x)
    return -softplus(-x)


@jit
def elu(x, alpha=1.0):
    """Exponential linear unit: x for x > 0, ``alpha * (exp(x) - 1)`` otherwise.

    Args:
      x: input array.
      alpha: scale of the negative part.

    Example:
      >>> fx.nn.elu(fx.numpy.array([-1., 1.]))
      Array([-0.63212055,  1.        ], dtype=float32)
    """
    x = _asarray("elu", x)
    safe_x = fnp.where(x > 0, 0., x)
    return fnp.where(x > 0, x, alpha * fnp.expm1(safe_x))


@jit
def leaky_relu(x, negative_slope=1e-2):
    """Leaky ReLU: x for x >= 0, ``negative_slope * x`` otherwise.

    Example:
      >>> fx.nn.leaky_relu(fx.numpy.array([-1., 1.]), negative_slope=0.1)
      Array([-0.1,  1. ], dtype=float32)
    """
    x = _asarray("leaky_relu", x)
    return fnp.where(x >= 0, x, negative_slope * x)


@jit
def hard_tanh(x):
    """``clip(x, -1, 1)``.

    Example:
      >>> fx.nn.hard_tanh(fx.numpy.array([-2., 0.5, 2.]))
      Array([-1. ,  0.5,  1. ], dtype=float32)
    """
    x = _asarray("hard_tanh", x)
    return fnp.where(x > 1, 1, fnp.where(x < -1, -1, x))


@jit
def celu(x, alpha=1.0):
    """Continuously differentiable ELU, ``max(x, 0) + alpha * expm1(min(x, 0) / alpha)``.

    Example:
      >>> fx.nn.celu(fx.numpy.array([-1., 1.]), alpha=2.)
      Array([-0.78693867,  1.        ], dtype=float32)
    """
    x = _asarray("celu", x)
    return fnp.maximum(x, 0.0) + alpha * fnp.expm1(fnp.minimum(x, 0.0) / alpha)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


@jit
def selu(x):
    """Scaled ELU, ``scale * elu(x, alpha)`` with the self-normalising constants.

    Example:
      >>> fx.nn.selu(fx.numpy.array([1.]))
      Array([1.050701], dtype=float32)
    """
    return _SELU_SCALE * elu(x, _SELU_ALPHA)


@jit(static_argnames=("approximate",))
def gelu(x, approximate: bool = True):
    """Gaussian error linear unit.

    Args:
      x: input array.
      approximate: use the tanh approximation (default) instead of the exact
        ``x * Phi(x)`` with the normal CDF.

    Example:
      >>> fx.nn.gelu(fx.numpy.array([1.]), approximate=False)
      Array([0.8413447], dtype=float32)
    """
    x = _inexact("gelu", x)
    if approximate:
        sqrt_2_over_pi = np.sqrt(2 / np.pi).astype(x.dtype)
        cdf = 0.5 * (1.0 + fnp.tanh(sqrt_2_over_pi * (x + 0.044715 * (x ** 3))))
        return x * cdf
    sqrt_half = np.sqrt(0.5).astype(x.dtype)
    return fnp.asarray(x * (lax.erfc(-x * sqrt_half) / 2), dtype=x.dtype)


@jit(static_argnames=("axis",))
def glu(x, axis: int = -1):
    """Gated linear unit: split ``x`` in two halves along ``axis``, ``a * sigmoid(b)``.

    Args:
      x: input array; its size along ``axis`` must be even.
      axis: the axis to split.

    Example:
      >>> fx.nn.glu(fx.numpy.array([1., 2., 0., 0.]))
      Array([0.5, 1. ], dtype=float32)
    """
    x = _asarray("glu", x)
    size = x.shape[axis]
    if size % 2:
        raise ValueError(f"glu: axis {axis} of the input must have an even size, got "
                         f"shape {x.shape}")
    x1, x2 = fnp.split(x, 2, axis)
    return x1 * sigmoid(x2)


@jit
def hard_sigmoid(x):
    """``relu6(x + 3) / 6``.

    Example:
      >>> fx.nn.hard_sigmoid(0.)
      Array(0.5, dtype=float32, weak_type=True)
    """
    return relu6(fnp.asarray(x) + 3.) / 6.


@jit
def hard_silu(x):
    """``x * hard_sigmoid(x)`` (hard swish).

    Example:
      >>> fx.nn.hard_silu(fx.numpy.array([3.]))
      Array([3.], dtype=float32)
    """
    x = _asarray("hard_silu", x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


@jit
def sparse_sigmoid(x):
    """Sparse sigmoid: ``clip((x + 1) / 2, 0, 1)``.

    Example:
      >>> fx.nn.sparse_sigmoid(fx.numpy.array([-2., 0., 2.]))
      Array([0. , 0.5, 1. ], dtype=float32)
    """
    return 0.5 * fnp.clip(fnp.asarray(x) + 1.0, 0.0, 2.0)


@jit
def squareplus(x, b=4):
    """Squareplus, ``(x + sqrt(x**2 + b)) / 2``.

    Example:
      >>> fx.nn.squareplus(0.)
      Array(1., dtype=float32, weak_type=True)
    """
    x = _inexact("squareplus", x)
    y = x + fnp.sqrt(fnp.square(x) + b)
    return y / 2


@jit
def mish(x):
    """Mish, ``x * tanh(softplus(x))``.

    Example:
      >>> fx.nn.mish(fx.numpy.array([1.]))
      Array([0.8650984], dtype=float32)
    """
    x = _inexact("mish", x)
    return x * fnp.tanh(softplus(x))


def tanh(x, /):
    """Hyperbolic tangent (``fx.numpy.tanh``)."""
    return fnp.tanh(x)


def identity(x):
    """``x`` unchanged (as an array).

    Example:
      >>> fx.nn.identity(fx.numpy.array([1., 2.]))
      Array([1., 2.], dtype=float32)
    """
    return fnp.asarray(x)


@jit
def log1mexp(x):
    """``log(1 - exp(-x))`` for x >= 0, accurate for small and large x.

    Example:
      >>> fx.nn.log1mexp(fx.numpy.array([1.]))
      Array([-0.4586751], dtype=float32)
    """
    x = _inexact("log1mexp", x)
    return fnp.where(x < math.log(2), fnp.log(-fnp.expm1(-x)), fnp.log1p(-fnp.exp(-x)))


# ---------------------------------------------------------------------------
# softmax family


def logsumexp(a, axis=None, b=None, keepdims: bool = False, return_sign: bool = False,
              where=None):
    """``log(sum(b * exp(a)))`` over ``axis``, computed stably (as SciPy's).

    Args:
      a: input array.
      axis: axis or axes to reduce (all by default).
      b: optional scale factors, broadcast against ``a``; they may be negative.
      keepdims: keep the reduced axes with size 1.
      return_sign: also return the sign of the sum; otherwise a negative sum
        gives NaN.
      where: optional boolean mask of the elements to include.

    Returns:
      The log-sum-exp, or ``(logsumexp, sign)`` if ``return_sign``.

    Example:
      >>> fx.nn.logsumexp(fx.numpy.array([0., 0.]))
      Array(0.6931472, dtype=float32)
    """
    _check_arraylike("logsumexp", a, b, where)
    if b is not None:
        a_arr, b_arr = fnp.asarray(a), fnp.asarray(b)
        dtype, weak = dtypes.result_type_and_weak(a_arr, b_arr)
        if not dtypes.is_inexact(dtype):
            dtype = dtypes.default_float_dtype()
        a_arr = lax._convert_element_type(a_arr, dtype, weak)
        b_arr = lax._convert_element_type(b_arr, dtype, weak)
        a_arr, b_arr = fnp.broadcast_arrays(a_arr, b_arr)
        a_arr = fnp.where(b_arr != 0, a_arr, -np.inf)
    else:
        a_arr, b_arr = _inexact("logsumexp", a), None
    dims = _reduction_axes(axis, a_arr.ndim)
    amax = fnp.max(a_arr, axis=dims, keepdims=keepdims, where=where, initial=-np.inf)
    amax = lax.stop_gradient(lax.select_n(lax.is_finite(amax), lax.full_like(amax, 0), amax))
    # (lax.expand_dims in JAX is a broadcast_in_dim, and prints as one)
    amax_kept = amax if keepdims else _keepdims(amax, a_arr.shape, dims)
    exp_a = fnp.exp(a_arr - amax_kept.astype(a_arr.dtype))
    if b_arr is not None:
        exp_a = b_arr * exp_a
    sumexp = fnp.sum(exp_a, axis=dims, keepdims=keepdims, where=where)
    sign = lax.sign(sumexp)
    complex_input = dtypes.is_complex(get_aval(sumexp).dtype)
    if return_sign or not complex_input:
        sumexp = fnp.abs(sumexp)
    out = fnp.log(sumexp) + amax.astype(sumexp.dtype)
    if return_sign:
        return out, sign
    if b_arr is not None and not complex_input:
        out = fnp.where(sign < 0, np.nan, out)
    return out


def logmeanexp(x, axis=None, where=None, keepdims: bool = False):
    """``log(mean(exp(x)))`` over ``axis``, computed stably.

    Example:
      >>> fx.nn.logmeanexp(fx.numpy.array([0., 0.]))
      Array(0., dtype=float32)
    """
    x = _inexact("logmeanexp", x)
    lse = logsumexp(x, axis=axis, keepdims=keepdims, where=where)
    dims = _reduction_axes(axis, x.ndim)
    if where is None:
        count = int(np.prod([x.shape[d] for d in dims], dtype=np.int64))
        return lse - np.log(count).astype(lse.dtype)
    mask = fnp.broadcast_to(fnp.asarray(where), x.shape)
    count = fnp.sum(mask, axis=dims, keepdims=keepdims, dtype=lse.dtype)
    return lse - fnp.log(count)


def softmax(x, axis=-1, where=None):
    """Softmax over ``axis``: ``exp(x) / sum(exp(x))``, shifted by the maximum.

    Args:
      x: input array.
      axis: axis or axes to normalise over (default -1).
      where: optional boolean mask; masked-out entries get 0 and do not count.

    Example:
      >>> fx.nn.softmax(fx.numpy.array([0., 0.]))
      Array([0.5, 0.5], dtype=float32)
    """
    x = _inexact("softmax", x)
    axes = _reduction_axes(axis, x.ndim)
    x_max = fnp.max(x, axes, where=where, initial=-np.inf, keepdims=True)
    x_safe = x if where is None else fnp.where(where, x, -np.inf)
    unnormalized = fnp.exp(x_safe - lax.stop_gradient(x_max))
    result = unnormalized / fnp.sum(unnormalized, axes, where=where, keepdims=True)
    if where is not None:
        result = fnp.where(where, result, 0)
    return result


@library_jit(static_argnames=("axis",))
def log_softmax(x, axis=-1, where=None):
    """Log of the softmax over ``axis``: ``x - logsumexp(x)`` (traced, a
    ``jit[name=log_softmax]`` equation, as JAX's).

    Args:
      x: input array.
      axis: axis or axes to normalise over (default -1).
      where: optional boolean mask; masked-out entries get ``-inf``.

    Example:
      >>> fx.nn.log_softmax(fx.numpy.array([0., 0.]))
      Array([-0.6931472, -0.6931472], dtype=float32)
    """
    x = _inexact("log_softmax", x)
    axes = _reduction_axes(axis, x.ndim)
    x_max = fnp.max(x, axes, where=where, initial=-np.inf, keepdims=True)
    x_safe = x if where is None else fnp.where(where, x, -np.inf)
    shifted = x_safe - lax.stop_gradient(x_max)
    shifted_lse = fnp.log(fnp.sum(fnp.exp(shifted), axes, where=where, keepdims=True))
    result = shifted - shifted_lse
    if where is not None:
        return fnp.where(where, result, -np.inf)
    return result


@library_jit(static_argnames=("axis", "algorithm"))
def standardize(x, axis=-1, mean=None, variance=None, epsilon=1e-5, where=None, *,
                algorithm: str = "fast"):
    """``(x - mean) / sqrt(variance + epsilon)`` over ``axis`` (traced, a
    ``jit[name=standardize]`` equation, as JAX's).

    Args:
      x: input array.
      axis: axis or axes to standardise over (default -1, None for all).
      mean, variance: optional precomputed statistics (computed over ``axis``
        with ``keepdims`` otherwise).
      epsilon: added to the variance.
      where: optional boolean mask of the elements used for the statistics.
      algorithm: ``"fast"`` (``E[x^2] - E[x]^2``, clipped at 0) or ``"stable"``
        (two passes).

    Example:
      >>> fx.nn.standardize(fx.numpy.array([1., 3.]), epsilon=0.)
      Array([-1.,  1.], dtype=float32)
    """
    _check_arraylike("standardize", x, mean, variance, where)
    if algorithm not in ("fast", "stable"):
        raise ValueError(f"Unknown algorithm '{algorithm}'. Expected 'fast' or 'stable'.")
    x = fnp.asarray(x)
    if mean is None:
        mean = fnp.mean(x, axis, keepdims=True, where=where)
    if variance is None:
        if algorithm == "stable":
            variance = fnp.mean(fnp.square(x - mean), axis, keepdims=True, where=where)
        else:
            variance = fnp.mean(fnp.square(x), axis, keepdims=True, where=where) - \
                fnp.square(mean)
            variance = fnp.clip(variance, 0)
    return (x - mean) * lax.rsqrt(fnp.asarray(variance + epsilon))


def one_hot(x, num_classes: int, *, dtype=None, axis=-1):
    """One-hot encoding: ``out[..., c, ...] = (x[...] == c)`` along ``axis``.

    Out-of-range (or non-integer) values encode as all zeros.

    Args:
      x: array of class indices.
      num_classes: number of classes (a static int).
      dtype: output dtype (default float).
      axis: where the new class axis goes.

    Example:
      >>> fx.nn.one_hot(fx.numpy.array([0, 2]), 3)
      Array([[1., 0., 0.],
             [0., 0., 1.]], dtype=float32)
    """
    num_classes = core.concrete_or_error(
        num_classes, "a traced value passed as num_classes",
        "The error arose in fx.nn.one_hot argument `num_classes`; it must be static.")
    try:
        num_classes = operator.index(num_classes)
    except TypeError:
        raise TypeError(f"one_hot: num_classes must be an int, got {num_classes!r}") from None
    if num_classes < 0:
        raise ValueError(f"one_hot: num_classes must be non-negative, got {num_classes}")
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"one_hot: axis must be an int (named axes are not supported), "
                        f"got {axis!r}")
    dtype = dtypes.default_float_dtype() if dtype is None else dtypes.canonicalize_dtype(dtype)
    x = _asarray("one_hot", x)
    out_ndim = x.ndim + 1
    if not -out_ndim <= axis < out_ndim:
        raise ValueError(f"one_hot: axis {axis} is out of bounds for an output of rank "
                         f"{out_ndim}")
    return _one_hot(x, num_classes, dtype=dtype, axis=int(axis) % out_ndim)


@library_jit(static_argnames=("num_classes", "dtype", "axis"))
def _one_hot(x, num_classes, *, dtype, axis):
    out_ndim = x.ndim + 1
    lhs = lax.expand_dims(x, (axis,))
    rhs_shape = [1] * out_ndim
    rhs_shape[axis] = num_classes
    rhs = lax.broadcasted_iota(x.dtype if dtypes.is_integer(x.dtype) or
                               dtypes.is_inexact(x.dtype) else dtypes.default_int_dtype(),
                               rhs_shape, axis)
    return fnp.asarray(lhs == rhs, dtype=dtype)


# ---------------------------------------------------------------------------
# attention (the reference path)


def _large_negative(dtype):
    biggest = min(float(dtypes.finfo(dtype).max), float(np.finfo(np.float32).max))
    return np.asarray(-0.7 * biggest, dtype=dtype)


def _as_4d(t):
    t = fnp.asarray(t)
    return lax.expand_dims(t, tuple(range(4 - t.ndim))) if t.ndim < 4 else t


def _check_attention_arg(t, shape: Sequence[int], dtype, name: str) -> None:
    if t is None:
        return
    if t.ndim != len(shape):
        raise ValueError(f"dot_product_attention: {name} ndim should be {len(shape)}, but got "
                         f"{t.ndim}")
    if dtype is not None and t.dtype != dtype:
        raise ValueError(f"dot_product_attention: {name} dtype should be {np.dtype(dtype)}, "
                         f"but got {t.dtype}")
    for want, got in zip(shape, t.shape, strict=False):
        if want != -1 and want != got:
            raise ValueError(f"dot_product_attention: {name} shape should be {tuple(shape)} "
                             f"(-1 = any), but got {t.shape}")


def _attention_mask(T, S, mask, is_causal, q_lengths, kv_lengths, window):
    """A (B or 1, N or 1, T, S) boolean mask combining every masking option, or None."""
    combined = None

    def both(a, b):
        return b if a is None else fnp.logical_and(a, b)

    if mask is not None:
        combined = mask
    q_pos = lax.broadcasted_iota(np.int32, (T, S), 0)
    k_pos = lax.broadcasted_iota(np.int32, (T, S), 1)
    if is_causal:
        combined = both(combined, (q_pos >= k_pos)[None, None])
    if window is not None:
        left, right = window
        inside = fnp.logical_and(q_pos <= k_pos + left, q_pos >= k_pos - right)
        combined = both(combined, inside[None, None])
    if q_lengths is not None or kv_lengths is not None:
        pad = None
        if q_lengths is not None:
            pad = (lax.broadcasted_iota(np.int32, (1, T, 1), 1) < q_lengths[:, None, None])
        if kv_lengths is not None:
            pad = both(pad, lax.broadcasted_iota(np.int32, (1, 1, S), 2) <
                       kv_lengths[:, None, None])
        combined = both(combined, pad[:, None])
    return combined


def dot_product_attention(query, key, value, bias=None, mask=None, *, scale=None,
                          is_causal: bool = False, query_seq_lengths=None,
                          key_value_seq_lengths=None, local_window_size=None,
                          implementation=None, return_residual: bool = False):
    """Scaled dot-product attention, ``softmax(q k^T * scale + bias) v`` (reference path).

    Shapes use B batch, T query length, S key length, N query heads, K key/value
    heads (N must be a multiple of K: grouped-query attention) and H head size.

    Args:
      query: ``(B, T, N, H)`` or ``(T, N, H)``.
      key, value: ``(B, S, K, H)`` or ``(S, K, H)``, same dtype as ``query``.
      bias: optional additive bias broadcastable to ``(B, N, T, S)``.
      mask: optional boolean mask broadcastable to ``(B, N, T, S)``; False
        entries are excluded.
      scale: logit scale, ``1 / sqrt(H)`` by default.
      is_causal: apply a causal (lower-triangular) mask.
      query_seq_lengths, key_value_seq_lengths: optional int32 ``(B,)`` valid
        lengths; padded queries produce zeros.
      local_window_size: ``w`` or ``(left, right)``: each query attends only to
        keys within that window.
      implementation: ``None`` or ``"xla"`` (the reference path); ``"cudnn"`` is
        not available in fx.
      return_residual: also return the logsumexp of the logits, ``(B, T, N)``.

    Returns:
      An array shaped like ``query`` (and the residual if requested).

    Example:
      >>> q = fx.numpy.ones((2, 3, 4, 8))
      >>> fx.nn.dot_product_attention(q, q, q).shape
      (2, 3, 4, 8)
    """
    _check_arraylike("dot_product_attention", query, key, value, bias, mask)
    if implementation not in (None, "xla"):
        if implementation == "cudnn":
            raise ValueError("dot_product_attention: implementation='cudnn' is not available "
                             "in fx; use None or 'xla'.")
        raise ValueError(f"Unsupported implementation option: {implementation}")
    query, key, value = fnp.asarray(query), fnp.asarray(key), fnp.asarray(value)
    for name, t in (("query", query), ("key", key), ("value", value)):
        if t.ndim not in (3, 4):
            raise ValueError(f"dot_product_attention: {name} must have rank 3 or 4, got shape "
                             f"{t.shape}")
    out_shape = query.shape
    q, k, v = _as_4d(query), _as_4d(key), _as_4d(value)
    bias = _as_4d(bias) if bias is not None else None
    mask = _as_4d(mask) if mask is not None else None
    if query_seq_lengths is not None:
        query_seq_lengths = fnp.asarray(query_seq_lengths)
    if key_value_seq_lengths is not None:
        key_value_seq_lengths = fnp.asarray(key_value_seq_lengths)
    if isinstance(local_window_size, (int, np.integer)):
        local_window_size = (int(local_window_size), int(local_window_size))
    B, S, K, H = k.shape
    _check_attention_arg(v, [B, S, K, H], k.dtype, "value")
    _check_attention_arg(q, [B, -1, -1, H], k.dtype, "query")
    _check_attention_arg(mask, [-1] * 4, np.dtype(bool), "mask")
    _check_attention_arg(bias, [-1] * 4, None, "bias")
    _check_attention_arg(query_seq_lengths, [B], np.dtype(np.int32), "query_seq_lengths")
    _check_attention_arg(key_value_seq_lengths, [B], np.dtype(np.int32),
                         "key_value_seq_lengths")
    T, N = q.shape[1], q.shape[2]
    if N % K:
        raise ValueError(f"The number of query heads must be a multiple of key/value heads, "
                         f"but got {N} vs {K}")
    G = N // K
    scale = (1.0 / np.sqrt(H)) if scale is None else scale
    logits_dtype = dtypes.promote_types(q.dtype, np.float32)

    # group query heads by their key/value head: logits[b, k, g, t, s]
    q5 = fnp.reshape(q, (B, T, K, G, H))
    logits = fnp.einsum("BTKGH,BSKH->BKGTS", q5, k, preferred_element_type=logits_dtype)
    logits = fnp.reshape(logits, (B, N, T, S))
    logits = logits * fnp.asarray(scale, dtype=logits.dtype)
    if bias is not None:
        logits = (logits + bias).astype(logits.dtype)
    combined = _attention_mask(T, S, mask, is_causal, query_seq_lengths,
                               key_value_seq_lengths, local_window_size)
    if combined is not None:
        logits = fnp.where(combined, logits, _large_negative(logits.dtype))
    logits32 = logits.astype(np.float32)
    probs = softmax(logits32, axis=-1).astype(k.dtype)
    probs5 = fnp.reshape(probs, (B, K, G, T, S))
    encoded = fnp.einsum("BKGTS,BSKH->BTKGH", probs5, v)
    encoded = fnp.reshape(encoded, (B, T, N, H))
    if query_seq_lengths is not None:
        valid = lax.broadcasted_iota(np.int32, (1, T), 1) < query_seq_lengths[:, None]
        encoded = encoded * valid[:, :, None, None].astype(encoded.dtype)
    encoded = fnp.reshape(encoded, out_shape)
    if return_residual:
        lse = logsumexp(logits32, axis=-1).astype(k.dtype)  # (B, N, T)
        lse = fnp.transpose(lse, (0, 2, 1))
        return encoded, lax.stop_gradient(fnp.reshape(lse, out_shape[:-1]))
    return encoded
