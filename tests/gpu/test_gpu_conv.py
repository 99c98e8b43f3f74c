"""Convolutions in GPU-compiled programs (``lowering.gpu.conv``: implicit-GEMM CUDA
kernels with a fused elementwise epilogue), run in the host emulation and compared
with the eager impl (the CPU reference) over hypothesis-drawn parameters: strides,
padding (negative included), lhs and rhs dilation, feature and batch groups, NCHW
and NHWC layouts, 1 and 2 spatial dimensions. The CUDA source also goes through
NVRTC; the ``gpu`` test runs the same cases on a device.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as jnp
from fx import lax
from fx.interpreters.jit import Executable as Reference
from lowering.gpu import codegen, conv, device, nvrtc
from lowering.gpu import compile as gpu_compile

RNG = np.random.default_rng(5)


def check(rt, f, *args, tol=1e-4, kernels=None, fallbacks=()):
    args = [np.asarray(a) for a in args]
    closed = fx.make_jaxpr(f)(*args)
    exe = gpu_compile.compile(closed, runtime=rt)
    if nvrtc.available() and nvrtc.include_dirs():
        binary = nvrtc.compile_cubin(exe.source, "sm_90")
        assert all(s.name.encode() in binary for s in exe.specs)
    got = [rt.to_host(o) for o in exe([rt.asarray(a) for a in args])]
    want = Reference(closed)([a.copy() for a in args])
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=tol,
                                   atol=tol)
    assert [e.primitive.name for e in exe.fallbacks] == list(fallbacks)
    if kernels is not None:
        assert exe.kernel_count == kernels, gpu_compile.fusion.format_groups(exe.groups)
    return exe


LAYOUTS = {1: [("NCH", "OIH", "NCH"), ("NHC", "HIO", "NHC")],
           2: [("NCHW", "OIHW", "NCHW"), ("NHWC", "HWIO", "NHWC"), ("NCHW", "HWIO", "NHWC")]}


@st.composite
def conv_case(draw):
    nsp = draw(st.sampled_from([1, 2]))
    layout = draw(st.sampled_from(LAYOUTS[nsp]))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    batch_groups = draw(st.booleans()) and groups > 1
    n = draw(st.integers(1, 2)) * (groups if batch_groups else 1)
    cin = draw(st.integers(1, 3)) * (1 if batch_groups else groups)
    cout = draw(st.integers(1, 3)) * groups
    size = [draw(st.integers(1, 7)) for _ in range(nsp)]
    ksize = [draw(st.integers(1, 3)) for _ in range(nsp)]
    strides = [draw(st.integers(1, 3)) for _ in range(nsp)]
    ld = [draw(st.sampled_from([1, 1, 2])) for _ in range(nsp)]
    rd = [draw(st.sampled_from([1, 1, 2])) for _ in range(nsp)]
    pads = [(draw(st.integers(-1, 2)), draw(st.integers(-1, 2))) for _ in range(nsp)]
    for i in range(nsp):  # keep the output non-empty
        dilated = (size[i] - 1) * ld[i] + 1 + pads[i][0] + pads[i][1]
        while dilated < (ksize[i] - 1) * rd[i] + 1:
            pads[i] = (pads[i][0], pads[i][1] + 1)
            dilated += 1
    lhs_shape = dict(zip("NC" + "HW"[:nsp], [n, cin] + size))
    rhs_shape = dict(zip("OI" + "HW"[:nsp], [cout, cin // (1 if batch_groups else groups)]
                         + ksize))
    x = RNG.standard_normal([lhs_shape[c] for c in layout[0]]).astype(np.float32)
    w = RNG.standard_normal([rhs_shape[c] for c in layout[1]]).astype(np.float32)
    params = dict(window_strides=strides, padding=pads, lhs_dilation=ld, rhs_dilation=rd,
                  dimension_numbers=layout,
                  feature_group_count=1 if batch_groups else groups,
                  batch_group_count=groups if batch_groups else 1)
    return x, w, params


@settings(max_examples=20, deadline=None)
@given(case=conv_case(), epilogue=st.booleans())
def test_conv_matches_the_cpu_reference(host, case, epilogue):
    x, w, params = case

    def f(x, w):
        y = lax.conv_general_dilated(x, w, **params)
        return jnp.tanh(y * 0.5) + 1.0 if epilogue else y
    check(host, f, x, w, kernels=1)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_conv_dtypes(host, dtype):
    dt = codegen.BF16 if dtype == "bfloat16" else np.dtype(dtype)
    if dt is None:
        pytest.skip("no bfloat16 dtype")
    x = RNG.standard_normal((2, 3, 6, 5)).astype(dt)
    w = (RNG.standard_normal((4, 3, 3, 2)) * 0.3).astype(dt)
    ctx = fx.enable_x64() if dtype == "float64" else _null()
    with ctx:
        check(host, lambda x, w: jax_relu(lax.conv_general_dilated(x, w, (1, 2), "SAME")),
              x, w, tol={"float16": 4e-3, "bfloat16": 3e-2, "float64": 1e-12}[dtype])


def test_conv_preferred_element_type(host):
    x = RNG.standard_normal((1, 2, 5, 5)).astype(np.float16)
    w = RNG.standard_normal((3, 2, 2, 2)).astype(np.float16)
    check(host, lambda x, w: lax.conv_general_dilated(
        x, w, (1, 1), "VALID", preferred_element_type=jnp.float32), x, w, tol=1e-3)


def _null():
    import contextlib
    return contextlib.nullcontext()


def jax_relu(x):
    return jnp.maximum(x, 0)


def test_epilogue_fusion_rules(host):
    """bias + relu fuse into the convolution's kernel; a result needed twice, or
    returned, or read through a transpose, keeps its own buffer."""
    x = RNG.standard_normal((2, 3, 8, 8)).astype(np.float32)
    w = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = RNG.standard_normal((4,)).astype(np.float32)
    c = lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME")  # noqa: E731
    exe = check(host, lambda x, w, b: jax_relu(c(x, w) + b[None, :, None, None]), x, w, b,
                kernels=1)
    assert exe.program.steps[0][1].spec.kind == "conv"
    check(host, lambda x, w: (c(x, w), jnp.tanh(c(x, w))), x, w, kernels=2)
    check(host, lambda x, w: jnp.sum(c(x, w), axis=1) + jnp.tanh(c(x, w))[:, 0], x, w)
    check(host, lambda x, w: jnp.transpose(c(x, w), (0, 2, 3, 1)) * 2, x, w, kernels=2)
    check(host, lambda x, w: c(x, w) + x[:, :1], x, w, kernels=1)  # the input again


def test_conv_gradients(host):
    """The transposed convolutions of a gradient (lhs dilation, batch groups for the
    weights of a grouped convolution) compile to kernels too."""
    x = RNG.standard_normal((2, 4, 7, 6)).astype(np.float32)
    w = RNG.standard_normal((6, 2, 3, 3)).astype(np.float32)

    def loss(x, w):
        y = lax.conv_general_dilated(x, w, (2, 1), [(1, 1), (0, 2)], rhs_dilation=(1, 2),
                                     feature_group_count=2)
        return jnp.sum(jnp.tanh(y) ** 2)
    # (a reshape with ``dimensions`` has no kernel: it runs on the host)
    exe = check(host, fx.grad(loss, argnums=(0, 1)), x, w, tol=1e-4, fallbacks=["reshape"])
    assert sum(s.kind == "conv" for s in exe.specs) == 3


def test_integer_conv_falls_back_and_cudnn_is_detected():
    x = np.ones((1, 1, 4, 4), np.int32)
    e = fx.make_jaxpr(lambda x: lax.conv_general_dilated(x, x, (1, 1), "VALID"))(x)
    assert not conv.supports(e.jaxpr.eqns[0])
    assert conv.cudnn_available() in (True, False)


# ---------------------------------------------------------------------------
# on a GPU


@pytest.mark.gpu
@pytest.mark.skipif(not device.gpu_available(),
                    reason="needs an NVIDIA GPU with CuPy and a CUDA driver")
@settings(max_examples=30, deadline=None)
@given(case=conv_case(), epilogue=st.booleans())
def test_conv_on_gpu(case, epilogue):
    x, w, params = case

    def f(x, w):
        y = lax.conv_general_dilated(x, w, **params)
        return jnp.tanh(y * 0.5) + 1.0 if epilogue else y
    check(device.default_runtime(), f, x, w)


@pytest.mark.gpu
@pytest.mark.skipif(not device.gpu_available(),
                    reason="needs an NVIDIA GPU with CuPy and a CUDA driver")
def test_large_conv_on_gpu():
    x = RNG.standard_normal((8, 64, 56, 56)).astype(np.float32)
    w = (RNG.standard_normal((128, 64, 3, 3)) * 0.05).astype(np.float32)
    check(device.default_runtime(), lambda x, w: jax_relu(lax.conv_general_dilated(
        x, w, (1, 1), "SAME")), x, w, tol=1e-3)
