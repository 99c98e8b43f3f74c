"""Block-scaled matrix products (JAX 0.10's ``jax.nn.scaled_matmul``,
``scaled_dot_general`` and ``get_scaled_dot_general_config``), on the reference path:
low-precision operands (float8/float4 through ``ml_dtypes``) are dequantized with
their per-block scales and multiplied in float32.

Invariants: ``quantize`` follows JAX's recipes bit for bit (mxfp8: power-of-two
float8_e8m0fnu scales rounded up; nvfp4: float8_e4m3fn scales under a float32 global
scale); ``scaled_dot_general`` is a ``custom_vjp`` whose backward pass quantizes the
cotangent with ``configs[2]`` as JAX's does. Everything is ``fx.numpy``/``fx.lax``, so
it works under jit and vmap.
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import ml_dtypes
import numpy as np

import fx.numpy as fnp
from fx import dtypes, lax
from fx.custom_derivatives import custom_vjp

__all__ = ["BlockScaleConfig", "get_scaled_dot_general_config", "scaled_dot_general",
           "scaled_matmul"]


@dataclasses.dataclass
class BlockScaleConfig:
    """How one operand of ``scaled_dot_general`` is quantized: ``mode`` ("mxfp8" or
    "nvfp4"), ``block_size`` elements share one scale of ``scale_type``, values are
    stored as ``data_type``; nvfp4 also divides by a float32 ``global_scale``."""
    mode: str
    block_size: int
    data_type: Any
    scale_type: Any
    global_scale: Any
    infer_only: bool


def get_scaled_dot_general_config(mode: str, global_scale=None) -> BlockScaleConfig:
    """The quantization config for ``scaled_dot_general``.

    Args:
      mode: ``"mxfp8"`` (float8_e4m3fn values, float8_e8m0fnu scales, blocks of 32) or
        ``"nvfp4"`` (float4_e2m1fn values, float8_e4m3fn scales, blocks of 16).
      global_scale: nvfp4 only: a float32 array of shape (1,) (default ones).

    Returns:
      A ``BlockScaleConfig``.

    Example:
      >>> fx.nn.get_scaled_dot_general_config("mxfp8").block_size
      32
    """
    if mode == "nvfp4":
        scale = fnp.ones((1,), np.float32) if global_scale is None else global_scale
        return BlockScaleConfig(mode="nvfp4", block_size=16, data_type=ml_dtypes.float4_e2m1fn,
                                scale_type=ml_dtypes.float8_e4m3fn, global_scale=scale,
                                infer_only=False)
    if mode == "mxfp8":
        return BlockScaleConfig(mode="mxfp8", block_size=32, data_type=ml_dtypes.float8_e4m3fn,
                                scale_type=ml_dtypes.float8_e8m0fnu, global_scale=None,
                                infer_only=False)
    raise ValueError(f"Unsupported mode: {mode}")


def _check_preferred(preferred_element_type, name: str) -> np.dtype:
    try:
        return np.dtype(preferred_element_type)
    except TypeError:
        raise TypeError(f"{name}: preferred_element_type must be a dtype, got "
                        f"{preferred_element_type!r}") from None


def scaled_matmul(lhs, rhs, lhs_scales, rhs_scales, preferred_element_type=np.float32):
    """Block-scaled batched matrix product ``out[b, m, n] = sum_k lhs[b, m, k] *
    lhs_scales[b, m, k // block_l] * rhs[b, n, k] * rhs_scales[b, n, k // block_r]``.

    The block sizes are ``K // lhs_scales.shape[-1]`` and ``K // rhs_scales.shape[-1]``;
    the products accumulate in float32 (the reference path of JAX's cuDNN kernel).

    Args:
      lhs: shape (B, M, K), e.g. float8_e4m3fn / float4_e2m1fn.
      rhs: shape (B, N, K).
      lhs_scales: shape (B, M, K_a), e.g. float8_e8m0fnu, with ``K % K_a == 0``.
      rhs_scales: shape (B, N, K_b), with ``K % K_b == 0``.
      preferred_element_type: the output dtype (default float32).

    Returns:
      An array of shape (B, M, N).

    Example:
      >>> a = fx.numpy.array([1., 2., 3.]).reshape(1, 1, 3)
      >>> s = fx.numpy.array([0.5]).reshape(1, 1, 1)
      >>> fx.nn.scaled_matmul(a, a, s, s)
      Array([[[3.5]]], dtype=float32)
    """
    a, b = fnp.asarray(lhs), fnp.asarray(rhs)
    a_scales, b_scales = fnp.asarray(lhs_scales), fnp.asarray(rhs_scales)
    if not all(x.ndim == 3 for x in (a, b, a_scales, b_scales)):
        raise ValueError("scaled_matmul requires all inputs to be 3-dimensional arrays, got "
                         f"shapes {a.shape}, {b.shape}, {a_scales.shape}, {b_scales.shape}")
    (batch_a, _, k_a), (batch_b, _, k_b) = a.shape, b.shape
    if k_a != k_b or batch_a != batch_b:
        raise ValueError("scaled_matmul requires inputs a and b to have matching batch (B) "
                         f"and contract (K) dimensions, but got shapes {a.shape} and "
                         f"{b.shape}")
    if a_scales.shape[2] != b_scales.shape[2] or a_scales.shape[0] != b_scales.shape[0]:
        raise ValueError("scaled_matmul requires scales to have matching batch (B) and "
                         f"contract (K) dimensions, but got shapes {a_scales.shape} and "
                         f"{b_scales.shape}")
    if a_scales.shape[1] != a.shape[1] or b_scales.shape[1] != b.shape[1]:
        raise ValueError("scaled_matmul requires scales to match non-contract dimensions of "
                         f"inputs, but got shapes a: {a.shape}, b: {b.shape}, a_scales: "
                         f"{a_scales.shape}, b_scales: {b_scales.shape}")
    for scales in (a_scales, b_scales):
        if scales.shape[2] == 0 or k_a % scales.shape[2]:
            raise ValueError(f"scaled_matmul: the contract dimension K={k_a} must be a "
                             f"multiple of the scales' last dimension {scales.shape[2]}")
    out_dtype = _check_preferred(preferred_element_type, "scaled_matmul")
    a32 = _dequantize(a, a_scales)
    b32 = _dequantize(b, b_scales)
    out = lax.dot_general(a32, b32, (((2,), (2,)), ((0,), (0,))),
                          preferred_element_type=np.float32)
    return out.astype(out_dtype)


def _dequantize(values, scales):
    block = values.shape[-1] // scales.shape[-1]
    expanded = fnp.repeat(scales.astype(np.float32), block, axis=-1,
                          total_repeat_length=values.shape[-1])
    return values.astype(np.float32) * expanded


# ---------------------------------------------------------------------------
# quantization (JAX's recipes)


def _e8m0_round_up(x):
    """Power-of-two float8_e8m0fnu codes (as uint8) at or above positive float32 ``x``."""
    bits = lax.bitcast_convert_type(x.astype(np.float32), np.uint32)
    exponent = lax.shift_right_logical(bits, np.uint32(23))
    mantissa = lax.bitwise_and(bits, np.uint32(0x7FFFFF))
    round_up = ((mantissa > 0) & (exponent != 0xFE)
                & ~((exponent == 0) & (mantissa <= 0x400000)))
    exponent = fnp.where(round_up, exponent + np.uint32(1), exponent)
    return exponent.astype(np.uint8)


def _e8m0_value(codes, dtype):
    """The float value 2^(code - 127) of e8m0 codes (2^-127 for code 0; 2^-15 in float16)."""
    bits = lax.shift_left(codes.astype(np.uint32), np.uint32(23))
    value = lax.bitcast_convert_type(bits, np.float32)
    near_zero = 2.0 ** -15 if np.dtype(dtype) == np.float16 else 2.0 ** -127
    value = fnp.where(value == 0, np.float32(near_zero), value)
    return value.astype(dtype)


def _quantize(x, config: BlockScaleConfig):
    """(values, scales) of a (B, M, K) array: K split into blocks of block_size."""
    shape = x.shape
    block = config.block_size
    if shape[-1] < block or shape[-1] % block:
        raise ValueError(f"scaled_dot_general: the contracting size {shape[-1]} must be a "
                         f"multiple of the block size {block} ({config.mode})")
    x = fnp.reshape(x, shape[:-1] + (shape[-1] // block, block))
    top = np.asarray(float(ml_dtypes.finfo(config.data_type).max), x.dtype)
    if config.mode == "mxfp8":
        amax = fnp.max(fnp.abs(x), axis=-1, keepdims=True) / top
        codes = _e8m0_round_up(amax)
        scaled = x / _e8m0_value(codes, x.dtype)
        scales = lax.bitcast_convert_type(codes, ml_dtypes.float8_e8m0fnu)
    elif config.mode == "nvfp4":
        scale_top = np.asarray(float(ml_dtypes.finfo(config.scale_type).max), x.dtype)
        x = x / fnp.asarray(config.global_scale).astype(x.dtype)
        amax = fnp.max(fnp.abs(x), axis=-1, keepdims=True) / top
        scales = fnp.clip(amax, 0, scale_top).astype(config.scale_type)
        scaled = x / scales.astype(np.float32)
    else:
        raise ValueError(f"Unrecognized mode: {config.mode}.")
    values = fnp.clip(scaled, -top, top).astype(config.data_type)
    return fnp.reshape(values, shape), fnp.reshape(scales, scales.shape[:-1])


# ---------------------------------------------------------------------------
# scaled_dot_general


def _to_3d(x, contracting, batch):
    """x transposed to (batch, free, contracting) dims (each in x's order) and reshaped
    to (B, M, K)."""
    order = range(x.ndim)
    batch_order = [d for d in order if d in batch]
    free_order = [d for d in order if d not in batch and d not in contracting]
    contract_order = [d for d in order if d in contracting]
    sizes = [int(np.prod([x.shape[d] for d in dims], dtype=np.int64))
             for dims in (batch_order, free_order, contract_order)]
    return fnp.reshape(fnp.transpose(x, batch_order + free_order + contract_order), sizes)


def _dot_output_shape(lhs_shape, rhs_shape, lhs_dims, rhs_dims):
    (lhs_contract, lhs_batch), (rhs_contract, rhs_batch) = lhs_dims, rhs_dims
    out = [s for i, s in enumerate(lhs_shape) if i in lhs_batch]
    out += [s for i, s in enumerate(lhs_shape) if i not in lhs_contract and i not in lhs_batch]
    out += [s for i, s in enumerate(rhs_shape) if i not in rhs_contract and i not in rhs_batch]
    return tuple(out)


def _scaled_product(lhs, rhs, lhs_dims, rhs_dims, configs, out_dtype, quantized=True):
    lhs_3d, rhs_3d = _to_3d(lhs, *lhs_dims), _to_3d(rhs, *rhs_dims)
    if quantized:
        lhs_q, lhs_s = _quantize(lhs_3d, configs[0])
        rhs_q, rhs_s = _quantize(rhs_3d, configs[1])
        nvfp4 = configs[0].mode == "nvfp4"
        out = scaled_matmul(lhs_q, rhs_q, lhs_s, rhs_s,
                            preferred_element_type=np.float32 if nvfp4 else out_dtype)
        if nvfp4:
            out = out * (fnp.asarray(configs[0].global_scale)
                         * fnp.asarray(configs[1].global_scale))
            out = out.astype(out_dtype)
    else:
        out = lax.dot_general(lhs_3d, rhs_3d, (((2,), (2,)), ((0,), (0,))),
                              preferred_element_type=out_dtype)
    return fnp.reshape(out, _dot_output_shape(lhs.shape, rhs.shape, lhs_dims, rhs_dims))


def _remaining(ndim, *excluded):
    return [d for d in range(ndim) if not any(d in group for group in excluded)]


def _transpose_lhs(g, x, y, dimension_numbers, out_dtype, configs, swap_ans=False):
    """The cotangent of the first operand ``x`` of the forward product, from ``g``."""
    (x_contract, y_contract), (x_batch, y_batch) = dimension_numbers
    x_kept = _remaining(x.ndim, x_contract, x_batch)
    y_kept = _remaining(y.ndim, y_contract, y_batch)
    n_batch = len(x_batch)
    if swap_ans:  # g is (batch, y_kept, x_kept)
        ans_y = list(range(n_batch, n_batch + len(y_kept)))
    else:  # g is (batch, x_kept, y_kept)
        ans_y = list(range(n_batch + len(x_kept), n_batch + len(x_kept) + len(y_kept)))
    ans_batch = list(range(n_batch))
    contract_sorted_by_y = list(np.take(x_contract, np.argsort(y_contract)))
    out_axes = np.argsort(list(x_batch) + x_kept + contract_sorted_by_y)
    quantized = configs[0].mode != "nvfp4"
    product = _scaled_product(g, y, (ans_y, ans_batch), (y_kept, list(y_batch)), configs,
                              out_dtype, quantized=quantized)
    return fnp.transpose(product, tuple(int(a) for a in out_axes))


def _make_scaled_dot(dimension_numbers, out_dtype, configs):
    (lhs_contract, rhs_contract), (lhs_batch, rhs_batch) = dimension_numbers
    lhs_dims, rhs_dims = (list(lhs_contract), list(lhs_batch)), (list(rhs_contract),
                                                                 list(rhs_batch))

    @custom_vjp
    def product(lhs, rhs):
        return _scaled_product(lhs, rhs, lhs_dims, rhs_dims, configs, out_dtype)

    def forward(lhs, rhs):
        return product(lhs, rhs), (lhs, rhs)

    def backward(residuals, g):
        lhs, rhs = residuals
        swapped = ((rhs_contract, lhs_contract), (rhs_batch, lhs_batch))
        grad_lhs = _transpose_lhs(g, lhs, rhs, dimension_numbers, out_dtype,
                                  [configs[2], configs[1]])
        grad_rhs = _transpose_lhs(g, rhs, lhs, swapped, out_dtype, [configs[2], configs[0]],
                                  swap_ans=True)
        if configs[2].mode == "nvfp4":
            # straight-through estimator: no gradient where the forward pass clipped
            top = float(ml_dtypes.finfo(configs[0].data_type).max)
            scale_top = float(ml_dtypes.finfo(configs[0].scale_type).max)
            lhs_limit = fnp.asarray(configs[0].global_scale) * (top * scale_top)
            rhs_limit = fnp.asarray(configs[1].global_scale) * (top * scale_top)
            grad_lhs = fnp.where(fnp.abs(lhs) <= lhs_limit, grad_lhs, 0)
            grad_rhs = fnp.where(fnp.abs(rhs) <= rhs_limit, grad_rhs, 0)
        return grad_lhs.astype(lhs.dtype), grad_rhs.astype(rhs.dtype)

    product.defvjp(forward, backward)
    return product


def scaled_dot_general(lhs, rhs, dimension_numbers, preferred_element_type=np.float32,
                       configs: list[BlockScaleConfig] | None = None,
                       implementation: str | None = None):
    """``lax.dot_general`` with block-scaled quantization of both operands (and of the
    cotangent in the backward pass).

    Each operand is brought to (batch, free, contracting) form, quantized with its
    config (``configs[0]`` for lhs, ``configs[1]`` for rhs, ``configs[2]`` for
    gradients), and multiplied with ``scaled_matmul``. Without ``configs`` this is
    ``lax.dot_general``.

    Args:
      lhs, rhs: high-precision input arrays.
      dimension_numbers: ``((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))``.
      preferred_element_type: float32 (default), bfloat16 or float16.
      configs: three ``BlockScaleConfig`` from ``get_scaled_dot_general_config``.
      implementation: deprecated and ignored (as in JAX).

    Returns:
      Batch dimensions, then lhs's free dimensions, then rhs's.

    Example:
      >>> configs = [fx.nn.get_scaled_dot_general_config("mxfp8")] * 3
      >>> x = fx.numpy.ones((2, 4, 32))
      >>> fx.nn.scaled_dot_general(x, x, (((2,), (2,)), ((0,), (0,))), configs=configs).shape
      (2, 4, 4)
    """
    if implementation is not None:
        warnings.warn("Backend selector, now ignored. The system chooses the backend "
                      "automatically.", DeprecationWarning, stacklevel=2)
    if configs is None:
        return lax.dot_general(lhs, rhs, dimension_numbers,
                               preferred_element_type=preferred_element_type)
    out_dtype = _check_preferred(preferred_element_type, "scaled_dot_general")
    if out_dtype not in (np.dtype(np.float32), np.dtype(dtypes.bfloat16),
                         np.dtype(np.float16)):
        raise TypeError("Only support preferred_element_type in (f32, bf16, f16), but got "
                        f"{out_dtype}")
    if len(configs) != 3:
        raise ValueError(f"scaled_dot_general: configs must hold 3 BlockScaleConfig (lhs, "
                         f"rhs, gradients), got {len(configs)}")
    lhs, rhs = fnp.asarray(lhs), fnp.asarray(rhs)
    (lhs_contract, rhs_contract), (lhs_batch, rhs_batch) = dimension_numbers
    numbers = ((tuple(lhs_contract), tuple(rhs_contract)), (tuple(lhs_batch),
                                                             tuple(rhs_batch)))
    added_batch = not numbers[1][0] and not numbers[1][1]
    if added_batch:  # a unit batch dimension at the end of each operand
        lhs = fnp.expand_dims(lhs, lhs.ndim)
        rhs = fnp.expand_dims(rhs, rhs.ndim)
        numbers = (numbers[0], ((lhs.ndim - 1,), (rhs.ndim - 1,)))
    out = _make_scaled_dot(numbers, out_dtype, list(configs))(lhs, rhs)
    return fnp.squeeze(out, axis=0) if added_batch else out
