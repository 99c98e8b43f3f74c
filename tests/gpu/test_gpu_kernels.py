"""The GPU backend's generated CUDA, checked without a GPU.

Every program below is compiled by ``lowering.gpu``; each kernel module is (1)
compiled for sm_90 by NVRTC (or nvcc when NVRTC is missing), which checks syntax
and types, and (2) compiled for the host with the emulation header
(``lowering.gpu.emulate``) and run, block after block, with real threads for the
kernels that synchronize, then compared with the reference interpreter (the eager
impls). Each check skips cleanly when its compiler is absent.
"""
from __future__ import annotations

import contextlib

import numpy as np
import pytest

import fx
import fx.numpy as jnp
from fx import lax
from fx.interpreters.jit import Executable as Reference
from lowering import fusion, passes
from lowering.gpu import codegen, emulate, kernels, nvrtc
from lowering.gpu import compile as gpu_compile

BF16 = codegen.BF16
F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def host():
    if not emulate.available():
        pytest.skip("no host C++20 compiler (g++) for the kernel emulation")
    return emulate.HostRuntime(max_blocks=3)


def cuda_check(source: str, names) -> None:
    """Compile ``source`` for sm_90 (NVRTC, else nvcc); every kernel must be in the result."""
    if nvrtc.available():
        if not nvrtc.include_dirs() and "cuda_fp16.h" in source:
            pytest.skip("NVRTC is present but the CUDA headers (cuda_fp16.h) are not")
        binary = nvrtc.compile_cubin(source, "sm_90")
    elif nvrtc.nvcc_path():
        binary = nvrtc.compile_with_nvcc(source, "sm_90", "ptx")
    else:
        pytest.skip("neither NVRTC (CuPy + nvidia-cuda-nvrtc) nor nvcc is installed")
    for name in names:
        assert name.encode() in binary, name


def x64_for(*dtypes):
    if any(np.dtype(d).itemsize == 8 for d in dtypes):
        return fx.enable_x64()
    return contextlib.nullcontext()


def tolerance(dtype) -> float:
    dtype = np.dtype(dtype)
    return {F16: 2e-3, F32: 2e-5, F64: 1e-12}.get(dtype, 1.6e-2 if dtype == BF16 else 0)


def run_both(f, *args, host_rt, rtol=None, fallbacks=0):
    """Compile ``f``; check the CUDA source compiles and the emulated run matches the
    reference interpreter. Returns the executable."""
    args = [np.asarray(a) for a in args]
    closed = fx.make_jaxpr(f)(*args)
    exe = gpu_compile.compile(closed, runtime=host_rt)
    if exe.specs:
        cuda_check(exe.source, [s.name for s in exe.specs])
    got = exe([a.copy() for a in args])
    want = Reference(closed)([a.copy() for a in args])
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=False):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        if codegen.is_float(g.dtype):
            tol = rtol if rtol is not None else tolerance(g.dtype)
            np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=tol,
                                       atol=tol, equal_nan=True)
        else:
            np.testing.assert_array_equal(g, w)
    assert len(exe.fallbacks) == fallbacks, [e.primitive.name for e in exe.fallbacks]
    return exe


def normal(shape, dtype=F32, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(dtype)


# ---------------------------------------------------------------------------
# programs: the workloads of the issue and the shapes of each kernel kind


def gelu_chain(x):
    return fx.nn.gelu(x * 1.5 + 0.25)


def layernorm(x, g, b):
    mean = x.mean(-1, keepdims=True)
    var = jnp.mean((x - mean) ** 2, -1, keepdims=True)
    return (x - mean) * lax.rsqrt(var + 1e-5) * g + b


def mlp_loss(params, x, y):
    (w1, b1), (w2, b2) = params
    h = jnp.tanh(x @ w1 + b1)
    out = h @ w2 + b2
    return jnp.mean((out - y) ** 2)


def mlp_step(params, x, y):
    grads = fx.grad(mlp_loss)(params, x, y)
    return fx.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads)


PROGRAMS = {
    "gelu_chain": (gelu_chain, lambda: [normal((1000,))]),
    "gelu_2d_odd": (gelu_chain, lambda: [normal((7, 33))]),
    "softmax_rows": (lambda x: fx.nn.softmax(x, axis=-1), lambda: [normal((6, 300), scale=3)]),
    "softmax_long_rows": (lambda x: fx.nn.softmax(x, axis=-1), lambda: [normal((3, 2500))]),
    "softmax_short_rows": (lambda x: fx.nn.softmax(x, axis=-1), lambda: [normal((40, 5))]),
    "log_softmax_axis0": (lambda x: fx.nn.log_softmax(x, axis=0), lambda: [normal((50, 9))]),
    "layernorm": (layernorm, lambda: [normal((5, 1500)), normal((1500,)), normal((1500,))]),
    "layernorm_small": (layernorm, lambda: [normal((9, 64)), normal((64,)), normal((64,))]),
    "mlp_step": (mlp_step, lambda: [[(normal((12, 16)) * .3, normal((16,))),
                                     (normal((16, 3)) * .3, normal((3,)))],
                                    normal((20, 12)), normal((20, 3))]),
    "sum_all": (lambda x: jnp.sum(x * x), lambda: [normal((3000,))]),
    "sum_axis0_accumulate": (lambda x: jnp.sum(jnp.exp(x), axis=0), lambda: [normal((70, 45))]),
    "max_axis1_3d_accumulate": (lambda x: jnp.max(x, axis=1), lambda: [normal((4, 50, 6))]),
    "mean_middle_and_last": (lambda x: jnp.mean(x, axis=(1, 2)), lambda: [normal((3, 20, 7))]),
    "prod_int_rows": (lambda x: jnp.prod(x, axis=-1), lambda: [RNG.integers(-3, 4, (10, 40))
                                                                .astype(np.int32)]),
    "any_all_rows": (lambda x: (jnp.any(x > 1, -1), jnp.all(x > -2, -1)),
                     lambda: [normal((8, 100))]),
    "argmax_argmin": (lambda x: (jnp.argmax(x, -1), jnp.argmin(x, 0)),
                      lambda: [np.round(normal((17, 40)))]),
    "argmax_nan_ties": (lambda x: (jnp.argmax(x, -1), jnp.argmin(x, -1)),
                        lambda: [np.array([[1, 3, 3, np.nan, 2], [2, 2, 1, 1, np.nan],
                                           [0, -1, -1, 0, 0]] * 12, np.float32)]),
    "broadcast_transpose": (lambda x, y: x.T * y[None, :] + jnp.ones((5, 1)),
                            lambda: [normal((3, 5)), normal((3,))]),
    "slice_pad_rev_concat": (
        lambda x: jnp.concatenate([x[::2, 1:4], jnp.flip(x, 0)[:3, :3],
                                   lax.pad(x, 0.5, [(1, -1, 1), (0, 0, 0)])[:4, 2:5]], 0),
        lambda: [normal((6, 5))]),
    "iota_select_convert": (lambda x: jnp.where(jnp.arange(x.shape[0]) % 3 == 0,
                                                x.astype(jnp.int32), -x.astype(jnp.int32)),
                            lambda: [normal((41,), scale=5)]),
    "reshape_general": (lambda x: jnp.reshape(x.T, (5, 6)) * 2, lambda: [normal((3, 10))]),
    "dynamic_slice": (lambda x, i: lax.dynamic_slice(x, (i, 2), (3, 4)) + 1,
                      lambda: [normal((8, 9)), np.int32(7)]),
    "scalar_output": (lambda x: x * 2 + 1, lambda: [np.float32(3)]),
    "multi_output_loop": (lambda x, y: (jnp.sin(x) + y, jnp.cos(x) * y),
                          lambda: [normal((257,)), normal((257,))]),
    "matmul_epilogue": (lambda a, b: jax_relu(a @ b + 1), lambda: [normal((9, 12)),
                                                                    normal((12, 7))]),
    "batched_matmul": (lambda a, b: jnp.einsum("bij,bjk->bik", a, b),
                       lambda: [normal((3, 4, 5)), normal((3, 5, 2))]),
}


def jax_relu(x):
    return jnp.maximum(x, 0)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program(name, host):
    f, make = PROGRAMS[name]
    args = make()
    flat, tree = fx.tree_util.tree_flatten(args)

    def flat_f(*leaves):
        return f(*fx.tree_util.tree_unflatten(tree, list(leaves)))
    exe = run_both(flat_f, *flat, host_rt=host)
    assert exe.kernel_count >= 1 or name.endswith("matmul")


def test_fusion_kernel_counts(host):
    """softmax and layernorm are one kernel; gelu is one (vectorised) loop."""
    for name, expected in (("softmax_rows", 1), ("layernorm", 1), ("gelu_chain", 1)):
        f, make = PROGRAMS[name]
        exe = gpu_compile.compile(fx.make_jaxpr(f)(*make()), runtime=host)
        assert exe.kernel_count == expected, (name, fusion.format_groups(exe.groups))
    exe = gpu_compile.compile(fx.make_jaxpr(gelu_chain)(normal((1000,))), runtime=host)
    assert any(s.vector for s in exe.specs)


# ---------------------------------------------------------------------------
# every elementwise primitive, for every dtype it accepts

FLOAT_UNARY = ["neg", "sign", "floor", "ceil", "round", "is_finite", "exp", "exp2", "log",
               "log1p", "expm1", "tanh", "logistic", "sin", "cos", "tan", "asin", "acos",
               "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "sqrt", "rsqrt", "cbrt",
               "abs", "erf", "erfc", "erf_inv", "lgamma", "digamma", "bessel_i0e",
               "bessel_i1e"]
FLOAT_BINARY = ["add", "sub", "mul", "div", "rem", "max", "min", "pow", "atan2", "nextafter",
                "eq", "ne", "lt", "le", "gt", "ge"]
INT_UNARY = ["neg", "sign", "abs", "bitwise_not", "population_count", "clz"]
INT_BINARY = ["add", "sub", "mul", "div", "rem", "max", "min", "bitwise_and", "bitwise_or",
              "bitwise_xor", "eq", "ne", "lt", "le", "gt", "ge", "shift_left",
              "shift_right_arithmetic", "shift_right_logical"]
BOOL_OPS = ["bitwise_and", "bitwise_or", "bitwise_xor", "eq", "ne", "lt", "max", "min"]
_DOMAIN = {"log": "pos", "log1p": "pos", "sqrt": "pos", "rsqrt": "pos", "acosh": "big",
           "asin": "unit", "acos": "unit", "atanh": "unit", "erf_inv": "unit",
           "lgamma": "pos", "digamma": "pos", "pow": "pos", "tan": "unit"}


def float_values(dtype, domain, n=96):
    base = RNG.standard_normal(n) * 2
    if domain == "pos":
        base = np.abs(base) + 0.1
    elif domain == "unit":
        base = np.tanh(base) * 0.95
    elif domain == "big":
        base = np.abs(base) + 1.0
    out = base.astype(dtype)
    if domain is None:
        out[:5] = np.array([np.inf, -np.inf, np.nan, -0.0, 0.0]).astype(dtype)
    return out


FLOAT_DTYPES = [F16, F32, F64] + ([BF16] if BF16 is not None else [])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_float_elementwise(dtype, host):
    """One program per input domain applies every unary primitive of that domain."""
    loose = ("digamma", "lgamma", "erf_inv", "tan", "expm1")
    with x64_for(dtype):
        for domain in (None, "pos", "unit", "big"):
            names = [n for n in FLOAT_UNARY if _DOMAIN.get(n) == domain
                     and not (n == "digamma" and dtype not in (F32, F64))]
            x = float_values(dtype, domain)
            rtol = tolerance(dtype) * (50 if any(n in loose for n in names) else 4)
            run_both(lambda x, names=names: [getattr(lax, n)(x) for n in names], x, host_rt=host,
                     rtol=rtol)
        x, y = float_values(dtype, "pos"), float_values(dtype, None)
        run_both(lambda x, y: [getattr(lax, n)(x, y) for n in FLOAT_BINARY
                               if n != "nextafter" or dtype in (F32, F64)]
                 + [lax.integer_pow(x, 3), lax.integer_pow(x, -2)],
                 x, y, host_rt=host, rtol=tolerance(dtype) * 4)


def accepted(names, *args):
    """The primitives of ``names`` that accept ``args`` (unsigned ints refuse neg, ...)."""
    out = []
    for n in names:
        try:
            fx.make_jaxpr(getattr(lax, n))(*args)
        except TypeError:
            continue
        out.append(n)
    return out


INT_DTYPES = [np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64, np.uint8,
                                    np.uint16, np.uint32, np.uint64)]


def int_values(dtype, n=96):
    info = np.iinfo(dtype)
    lo = -9 if dtype.kind == "i" else 0
    out = RNG.integers(lo, 10, n).astype(dtype)
    out[:4] = [info.min, info.max, 0, info.max - 1 if dtype.kind == "u" else -1]
    return out


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=lambda d: d.name)
def test_int_elementwise(dtype, host):
    with x64_for(dtype):
        x, y = int_values(dtype), int_values(dtype)
        y[4:10] = [0, 0, 1, 2, 3, 70 % (np.iinfo(dtype).bits + 2)]
        x[4:8] = np.array(np.iinfo(dtype).min).astype(dtype)
        if dtype.kind == "i":
            y[8] = -1
            y[9] = -3
        binary, unary = accepted(INT_BINARY, x, y), accepted(INT_UNARY, x)
        assert len(binary) == len(INT_BINARY)
        run_both(lambda x, y: [getattr(lax, n)(x, y) for n in binary], x, y, host_rt=host)
        run_both(lambda x: [getattr(lax, n)(x) for n in unary], x, host_rt=host)
        run_both(lambda x: [lax.integer_pow(x, 3), lax.clamp(x[0], x, x[1] // 2)], x,
                 host_rt=host)


def test_bool_elementwise(host):
    x, y = RNG.random(64) < 0.5, RNG.random(64) < 0.5
    run_both(lambda x, y: [getattr(lax, n)(x, y) for n in BOOL_OPS] + [lax.bitwise_not(x)],
             x, y, host_rt=host)
    run_both(lambda p, a, b: lax.select_n(p, a, b), x, normal((64,)), normal((64,)),
             host_rt=host)


@pytest.mark.parametrize("src", [np.dtype(np.bool_)] + INT_DTYPES + FLOAT_DTYPES,
                         ids=lambda d: np.dtype(d).name)
def test_convert_element_type(src, host):
    targets = [np.dtype(np.bool_)] + INT_DTYPES + FLOAT_DTYPES
    with x64_for(src, *targets):
        if src == np.bool_:
            x = RNG.random(48) < 0.5
        elif codegen.is_float(src):
            x = (RNG.standard_normal(48) * 300).astype(src)
            x[:5] = np.array([np.inf, -np.inf, np.nan, 1e30 if src != F16 else 6e4,
                              -2.5]).astype(src)
        else:
            x = int_values(src, 48)
        if src == BF16:
            # the eager impl wraps bfloat16 -> int (its float test misses ml_dtypes' kind
            # "V"); XLA saturates, as float32 -> int does for the same (exact) values
            ints = [t for t in targets if t.kind in "iu"]
            closed = fx.make_jaxpr(lambda x: [lax.convert_element_type(x, t)
                                              for t in ints])(x)
            got = gpu_compile.compile(closed, runtime=host)([x])
            want = [lax.convert_element_type(x.astype(F32), t) for t in ints]
            for g, w in zip(got, want, strict=False):
                np.testing.assert_array_equal(g, np.asarray(w))
            targets = [t for t in targets if t.kind not in "iu"]
        run_both(lambda x: [lax.convert_element_type(x, t) for t in targets], x, host_rt=host)


def test_bitcast_and_reduce_precision_fallback(host):
    x = normal((33,))
    run_both(lambda x: lax.bitcast_convert_type(x, jnp.int32) + 1, x, host_rt=host)
    with fx.enable_x64():
        run_both(lambda x: lax.bitcast_convert_type(x, jnp.uint16) >> 3,
                 normal((33,), F16), host_rt=host)


# ---------------------------------------------------------------------------
# special functions generated from lowering/gpu/special_math.py


def bessel_values(dtype):
    """Both signs across the power series (|x| <= 20), its cut and Hankel's series beyond,
    tiny and subnormal values, the largest finite ones and the special values."""
    magnitudes = np.concatenate([np.geomspace(1e-6, 700, 120), [19.999, 20.0, 20.001, 1.5]])
    x = np.concatenate([magnitudes, -magnitudes, [0.0, -0.0, np.inf, -np.inf, np.nan]])
    extra = [float(np.finfo(np.float32 if dtype == BF16 else dtype).tiny),
             float(np.finfo(np.float32 if dtype == BF16 else dtype).max)]
    return np.concatenate([x, extra, [-v for v in extra]]).astype(dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_bessel_kernels_match_scipy(dtype, host):
    """exp(-|x|) I0(x) and exp(-|x|) I1(x): generated (no fallback), compiled by NVRTC,
    emulated, and within a few ulp of the eager impl (SciPy's i0e, i1e); 16-bit floats
    round float32's value, as the eager impl does."""
    x = bessel_values(dtype)
    with x64_for(dtype):
        closed = fx.make_jaxpr(lambda x: [lax.bessel_i0e(x), lax.bessel_i1e(x)])(x)
        assert all(codegen.supports(e) for e in closed.jaxpr.eqns)
        ulps = {F32: 2, F64: 8}.get(np.dtype(dtype), 1)
        eps = float(np.finfo(np.float32 if dtype == BF16 else dtype).eps)
        if dtype == BF16:
            eps = 2.0 ** -7
        run_both(lambda x: [lax.bessel_i0e(x), lax.bessel_i1e(x)], x, host_rt=host,
                 rtol=ulps * eps)
        got = gpu_compile.compile(closed, runtime=host)([x.copy()])
        i0e, i1e = (np.asarray(g).astype(F64) for g in got)
        finite = np.isfinite(x)
        assert np.isnan(i0e[np.isnan(x)]).all() and np.isnan(i1e[np.isnan(x)]).all()
        assert (i0e[np.isinf(x)] == 0).all() and (i1e[np.isinf(x)] == 0).all()
        assert np.signbit(i1e[x == 0]).sum() == 0  # i1e(-0.0) is +0.0, as SciPy's
        assert (np.sign(i1e[finite]) == np.sign(x[finite].astype(F64))).all()


def test_bessel_gradients_are_generated(host):
    """The jvp rules (i0e' = i1e - sign(x) i0e, i1e's with its select near 0) are generated
    with the functions (no fallback) and match the reference interpreter."""
    x = np.concatenate([np.linspace(-30, 30, 61), [1e-9, -1e-9, 0.0]]).astype(F32)

    def grads(x):
        return [fx.vmap(fx.grad(lax.bessel_i0e))(x), fx.vmap(fx.grad(lax.bessel_i1e))(x)]
    exe = run_both(grads, x, host_rt=host, rtol=1e-5)
    assert "fx_bessel_i0e_f(" in exe.source and "fx_bessel_i1e_f(" in exe.source


def test_bessel_source_is_the_cpu_backends_series():
    """The CUDA functions carry the CPU backend's coefficients (as exact C literals) and
    its cut between the power and the asymptotic series."""
    from lowering.cpu import special_math as cpu
    from lowering.gpu import special_math as gpu_special
    for order in (0, 1):
        series, asymptotic = cpu._bessel_coefficients(order)
        text = gpu_special.SOURCE.split(f"fx_bessel_i{order}e_near")[1]
        for c in series[:3] + series[-3:] + asymptotic[:3] + asymptotic[-3:]:
            assert repr(c) in text, (order, c)
    assert "z <= 20.0" in gpu_special.SOURCE
    assert gpu_special.SOURCE in codegen.PRELUDE


# ---------------------------------------------------------------------------
# launch shapes, alignment and fallbacks


def test_block_sizes_and_grid_stride():
    """The same kernels give the same results for any block size (a multiple of 32) and
    for a grid much smaller than the work (the grid-stride loops)."""
    if not emulate.available():
        pytest.skip("no host C++20 compiler (g++) for the kernel emulation")
    x = normal((7, 1300), scale=2)
    for block, blocks in ((64, 1), (256, 2), (512, 5)):
        rt = emulate.HostRuntime(max_blocks=blocks, block=block)
        run_both(lambda x: (fx.nn.softmax(x, -1), jnp.sum(x, 0), jnp.argmax(x, -1)), x,
                 host_rt=rt)


def test_misaligned_inputs_use_the_scalar_kernel(host):
    x = normal((1001,))
    closed = fx.make_jaxpr(gelu_chain)(x[1:])
    exe = gpu_compile.compile(closed, runtime=host)
    base = host.asarray(x)
    view = base[1:]  # 4 bytes past a 64-byte boundary
    assert not host.aligned(view)
    before = len(host.launches)
    (out,) = exe([view])
    assert [n for n, _, _ in host.launches[before:]] == ["fx_k0"]
    np.testing.assert_allclose(out, Reference(closed)([x[1:]])[0], rtol=2e-5, atol=2e-5)
    exe([host.asarray(x[1:])])
    assert host.launches[-1][0] == "fx_k0_v"


def test_fallbacks_run_on_the_host(host, monkeypatch, capsys):
    monkeypatch.setenv("FX_DEBUG", "1")
    x = normal((6, 10))
    exe = run_both(lambda x: jnp.cumsum(jnp.exp(x), axis=1) * 2, x, host_rt=host, fallbacks=1)
    assert exe.fallbacks[0].primitive.name == "cumsum"
    assert "cumsum" in capsys.readouterr().err


def test_generated_kernels_are_self_contained():
    """Each kernel takes exactly its buffers and bakes shapes in as constants."""
    x = normal((4, 64))
    closed = passes.optimize(fx.make_jaxpr(lambda x: fx.nn.softmax(x, -1))(x))
    groups = fusion.fuse(closed.jaxpr, codegen.supports)
    specs, _ = gpu_compile.build_kernels(groups)
    (spec,) = specs
    assert spec.source.count("__restrict__") == len(spec.buffers) == 2
    assert "fx_warp_reduce" in spec.source  # 64 columns per row: a team of one warp
    assert spec.kind == "rows"


def test_tf32_only_when_allowed():
    assert not gpu_compile.allows_tf32()
    with fx.default_matmul_precision("tensorfloat32"):
        assert gpu_compile.allows_tf32()
        assert not gpu_compile.allows_tf32("highest")
    with fx.default_matmul_precision("float32"):
        assert not gpu_compile.allows_tf32()
    assert gpu_compile.allows_tf32("tensorfloat32") and gpu_compile.allows_tf32("fastest")
    assert not gpu_compile.allows_tf32(("highest", "highest"))


def test_tf32_products_follow_the_precision_setting(host):
    """The emulation rounds float32 operands to TF32 exactly when the product may use
    TF32 tensor cores, so the setting's effect on the runtime's matmul is visible."""
    a, b = normal((8, 64)), normal((64, 8))
    exact = np.matmul(a, b)
    tf32 = np.matmul(emulate.tf32_round(a), emulate.tf32_round(b))
    assert np.abs(tf32 - exact).max() > 1e-4
    closed = fx.make_jaxpr(lambda a, b: a @ b)(a, b)
    exe = gpu_compile.compile(closed, runtime=host)
    np.testing.assert_array_equal(exe([a, b])[0], exact)
    with fx.default_matmul_precision("tensorfloat32"):
        np.testing.assert_array_equal(exe([a, b])[0], tf32)
        strict = fx.make_jaxpr(lambda a, b: jnp.matmul(a, b, precision=lax.Precision.HIGHEST))
        np.testing.assert_array_equal(
            gpu_compile.compile(strict(a, b), runtime=host)([a, b])[0], exact)
    r = emulate.tf32_round(np.array([1 + 2 ** -11, 1 + 3 * 2 ** -11, np.inf, -2.5], np.float32))
    np.testing.assert_array_equal(r, np.array([1, 1 + 2 ** -9, np.inf, -2.5], np.float32))


def test_codegen_errors_name_unsupported_dtypes():
    x = np.ones(3, np.complex64)
    closed = fx.make_jaxpr(lambda x: x * 2)(x)
    assert not any(codegen.supports(e) for e in closed.jaxpr.eqns)
    assert kernels.BLOCK % 32 == 0


# ---------------------------------------------------------------------------
# on a GPU

@pytest.mark.gpu
def test_tf32_only_when_allowed_on_gpu(gpu):
    """cuBLAS's TF32 compute type changes float32 products only when allowed."""
    a = RNG.standard_normal((256, 4096)).astype(np.float32)
    b = RNG.standard_normal((4096, 256)).astype(np.float32)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    exe = gpu_compile.compile(fx.make_jaxpr(lambda a, b: a @ b)(a, b), runtime=gpu)
    da, db = gpu.asarray(a), gpu.asarray(b)
    strict = np.abs(gpu.to_host(exe([da, db])[0]) - exact).max()
    with fx.default_matmul_precision("tensorfloat32"):
        fast = np.abs(gpu.to_host(exe([da, db])[0]) - exact).max()
    assert strict < 5e-3 < fast, (strict, fast)


@pytest.mark.gpu
def test_graph_capture_on_gpu(gpu):
    """A static scan of kernels is replayed from captured graphs on the device."""
    x = RNG.standard_normal(4099).astype(np.float32)
    f = lambda x: lax.fori_loop(0, 100, lambda i, c: jnp.tanh(c * 1.01 + 0.001), x)  # noqa
    exe = gpu_compile.compile(fx.make_jaxpr(f)(x), runtime=gpu)
    got = gpu.to_host(exe([gpu.asarray(x)])[0])
    np.testing.assert_allclose(got, Reference(exe.optimized)([x])[0], rtol=1e-5, atol=1e-5)
    (step,) = [s[1] for s in exe.program.steps if s[0] == "control"]
    assert step.graph is not None and gpu.supports_graphs
