"""Tests of fx.nn.scaled_matmul, scaled_dot_general and get_scaled_dot_general_config:
the reference path against a NumPy/ml_dtypes oracle written here, quantization and
the whole forward and backward pass against JAX's own code (with JAX's GPU-only
scaled_matmul replaced by the same dequantize-and-multiply reference, so it runs on
the CPU), jit against eager, vmap against a loop, and the errors JAX raises.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import nn

RNG = np.random.RandomState(0)
DN = (((2,), (2,)), ((0,), (0,)))


def _np_scaled_matmul(a, b, a_scales, b_scales):
    def dequantize(values, scales):
        block = values.shape[-1] // scales.shape[-1]
        return values.astype(np.float32) * np.repeat(scales.astype(np.float32), block, -1)
    return np.einsum("bmk,bnk->bmn", dequantize(a, a_scales), dequantize(b, b_scales))


def test_scaled_matmul_values():
    a = RNG.randn(2, 4, 64).astype(ml_dtypes.float8_e4m3fn)
    b = RNG.randn(2, 8, 64).astype(ml_dtypes.float8_e5m2)
    a_scales = (2.0 ** RNG.randint(-3, 4, (2, 4, 2))).astype(ml_dtypes.float8_e8m0fnu)
    b_scales = (2.0 ** RNG.randint(-3, 4, (2, 8, 2))).astype(ml_dtypes.float8_e8m0fnu)
    out = nn.scaled_matmul(a, b, a_scales, b_scales)
    assert out.shape == (2, 4, 8) and out.dtype == np.float32
    np.testing.assert_allclose(np.asarray(out), _np_scaled_matmul(a, b, a_scales, b_scales),
                               rtol=1e-6, atol=1e-5)
    # the documented example, and preferred_element_type
    x = fnp.array([1., 2., 3.]).reshape((1, 1, 3))
    y = fnp.array([4., 5., 6.]).reshape((1, 1, 3))
    s = fnp.array([0.5]).reshape((1, 1, 1))
    np.testing.assert_array_equal(np.asarray(nn.scaled_matmul(x, y, s, s)), [[[8.0]]])
    assert nn.scaled_matmul(x, y, s, s, preferred_element_type=fnp.bfloat16).dtype == \
        fnp.bfloat16
    # nvfp4 operands
    a4 = RNG.uniform(-6, 6, (1, 3, 32)).astype(ml_dtypes.float4_e2m1fn)
    s4 = RNG.uniform(0.1, 4, (1, 3, 2)).astype(ml_dtypes.float8_e4m3fn)
    np.testing.assert_allclose(np.asarray(nn.scaled_matmul(a4, a4, s4, s4)),
                               _np_scaled_matmul(a4, a4, s4, s4), rtol=1e-6)


def test_scaled_matmul_jit_vmap():
    a = RNG.randn(3, 2, 4, 32).astype(np.float32)
    s = RNG.uniform(0.5, 2, (3, 2, 4, 1)).astype(np.float32)
    eager = np.stack([np.asarray(nn.scaled_matmul(a[i], a[i], s[i], s[i])) for i in range(3)])
    np.testing.assert_allclose(np.asarray(fx.vmap(nn.scaled_matmul)(a, a, s, s)), eager,
                               rtol=1e-6)
    np.testing.assert_allclose(np.asarray(fx.jit(nn.scaled_matmul)(a[0], a[0], s[0], s[0])),
                               eager[0], rtol=1e-6)


def test_scaled_matmul_errors():
    a = np.ones((1, 2, 32), np.float32)
    with pytest.raises(ValueError, match="3-dimensional"):
        nn.scaled_matmul(a[0], a[0], a[0], a[0])
    with pytest.raises(ValueError, match="matching batch"):
        nn.scaled_matmul(a, np.ones((1, 2, 16), np.float32), a[..., :1], a[..., :1])
    with pytest.raises(ValueError, match="non-contract"):
        nn.scaled_matmul(a, a, np.ones((1, 3, 1), np.float32), np.ones((1, 3, 1), np.float32))
    with pytest.raises(ValueError, match="multiple"):
        nn.scaled_matmul(a, a, np.ones((1, 2, 5), np.float32), np.ones((1, 2, 5), np.float32))


def test_configs():
    mx = nn.get_scaled_dot_general_config("mxfp8")
    assert (mx.mode, mx.block_size, mx.data_type, mx.scale_type, mx.global_scale) == \
        ("mxfp8", 32, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e8m0fnu, None)
    nv = nn.get_scaled_dot_general_config("nvfp4", np.array([0.5], np.float32))
    assert (nv.mode, nv.block_size, nv.data_type, nv.scale_type) == \
        ("nvfp4", 16, ml_dtypes.float4_e2m1fn, ml_dtypes.float8_e4m3fn)
    assert nn.get_scaled_dot_general_config("nvfp4").global_scale.shape == (1,)
    with pytest.raises(ValueError, match="Unsupported mode"):
        nn.get_scaled_dot_general_config("int8")


def _configs(mode):
    scale = np.array([0.5], np.float32) if mode == "nvfp4" else None
    return [nn.get_scaled_dot_general_config(mode, scale)] * 3


@pytest.mark.parametrize("mode", ["mxfp8", "nvfp4"])
def test_scaled_dot_general_close_to_dot(mode):
    x = RNG.randn(2, 32, 64).astype(np.float32)
    y = RNG.randn(2, 48, 64).astype(np.float32)
    out = nn.scaled_dot_general(x, y, DN, configs=_configs(mode))
    exact = np.einsum("bmk,bnk->bmn", x, y)
    assert out.shape == exact.shape and out.dtype == np.float32
    # quantization error: e4m3 keeps 3 mantissa bits, e2m1 one
    tolerance = 0.08 if mode == "mxfp8" else 0.5
    assert np.max(np.abs(np.asarray(out) - exact)) < tolerance * np.max(np.abs(exact))
    np.testing.assert_allclose(np.asarray(fx.jit(
        lambda a, b: nn.scaled_dot_general(a, b, DN, configs=_configs(mode)))(x, y)),
        np.asarray(out), rtol=1e-6)
    # no configs: plain dot_general
    np.testing.assert_allclose(np.asarray(nn.scaled_dot_general(x, y, DN)), exact, rtol=1e-5,
                               atol=1e-5)


def test_scaled_dot_general_layouts_and_errors():
    configs = _configs("mxfp8")
    a = RNG.randn(64, 32).astype(np.float32)
    b = RNG.randn(40, 64).astype(np.float32)
    out = nn.scaled_dot_general(a, b, (((0,), (1,)), ((), ())), configs=configs)
    assert out.shape == (32, 40)
    assert np.max(np.abs(np.asarray(out) - a.T @ b.T)) < 0.08 * np.max(np.abs(a.T @ b.T))
    with pytest.raises(TypeError, match="preferred_element_type"):
        nn.scaled_dot_general(a, b, (((0,), (1,)), ((), ())), configs=configs,
                              preferred_element_type=np.int32)
    with pytest.raises(ValueError, match="block size"):
        nn.scaled_dot_general(a[:16], b[:, :16], (((0,), (1,)), ((), ())), configs=configs)
    with pytest.warns(DeprecationWarning):
        nn.scaled_dot_general(a, b, (((0,), (1,)), ((), ())), configs=configs,
                              implementation="cudnn")


@pytest.mark.parametrize("mode", ["mxfp8", "nvfp4"])
def test_against_jax(mode, monkeypatch):
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    stablehlo = pytest.importorskip("jax._src.cudnn.scaled_matmul_stablehlo")

    def reference(lhs, rhs, lhs_scales, rhs_scales, preferred_element_type=np.float32):
        def dequantize(values, scales):
            block = values.shape[-1] // scales.shape[-1]
            return values.astype(np.float32) * jnp.repeat(scales.astype(np.float32), block,
                                                           axis=-1)
        return jnp.einsum("bmk,bnk->bmn", dequantize(lhs, lhs_scales),
                          dequantize(rhs, rhs_scales)).astype(preferred_element_type)

    # JAX's scaled_matmul lowers only for CUDA/ROCm: run its pipeline with the reference
    monkeypatch.setattr(stablehlo, "scaled_matmul_wrapper", reference)
    x = (RNG.randn(2, 32, 64) * 3).astype(np.float32)
    y = (RNG.randn(2, 64, 64) * 0.01).astype(np.float32)
    scale = np.array([0.5], np.float32)
    jax_configs = [jax.nn.get_scaled_dot_general_config(
        mode, jnp.asarray(scale) if mode == "nvfp4" else None)] * 3
    ours = _configs(mode)
    # quantization: bit-identical values and scales
    for array in (x, y):
        q, s = fx.nn._scaled._quantize(fnp.asarray(array), ours[0])
        jq, js = stablehlo.quantize(jnp.asarray(array), jax_configs[0])
        assert q.dtype == jq.dtype and s.dtype == js.dtype
        np.testing.assert_array_equal(np.asarray(q).astype(np.float32),
                                      np.asarray(jq).astype(np.float32))
        np.testing.assert_array_equal(np.asarray(s).astype(np.float32),
                                      np.asarray(js).astype(np.float32))

    def loss(fn, configs):
        return lambda a, b: (fn(a, b, DN, configs=configs) ** 2).sum()

    expected = jax.value_and_grad(loss(stablehlo.scaled_dot_general_wrapper, jax_configs),
                                  argnums=(0, 1))(x, y)
    got = fx.value_and_grad(loss(nn.scaled_dot_general, ours), argnums=(0, 1))(x, y)
    np.testing.assert_allclose(float(got[0]), float(expected[0]), rtol=1e-5)
    for g, e in zip(got[1], expected[1], strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-4,
                                   atol=1e-5 * np.max(np.abs(np.asarray(e))))
