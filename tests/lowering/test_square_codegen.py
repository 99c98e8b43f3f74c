"""The ``square`` primitive: ``lax.square`` and ``fx.numpy.square`` bind it as JAX 0.10
does; values against NumPy (integers wrap), its derivative against finite differences,
vmap against a loop, CPU-compiled code (and the GPU kernels, run by the host emulation)
against the reference interpreter, and jaxprs against JAX's where installed."""
from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import fx
import fx.lax as lax
import fx.numpy as fnp
from fx._testing import assert_bits, compile_and_compare

DTYPES = ["float32", "float64", "float16", "bfloat16", "int8", "int32", "int64", "uint8",
          "uint32"]


def values(dtype: str, shape, seed: int) -> np.ndarray:
    import ml_dtypes
    rng = np.random.default_rng(seed)
    dt = np.dtype(getattr(ml_dtypes, dtype)) if dtype == "bfloat16" else np.dtype(dtype)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        out = rng.integers(info.min, info.max, shape, dtype=dt, endpoint=True)
        out.flat[:2] = [info.max, info.min][:out.size]
        return out
    out = (rng.standard_normal(shape) * 50).astype(dt)
    specials = np.array([np.inf, -np.inf, np.nan, -0.0, 1e30]).astype(dt)
    out.flat[:min(out.size, 5)] = specials[:min(out.size, 5)]
    return out


def _x64(dtype):
    return fx.enable_x64() if np.dtype(dtype).itemsize == 8 else contextlib.nullcontext()


def test_square_binds_the_square_primitive():
    for f in (lax.square, fnp.square):
        jaxpr = fx.make_jaxpr(f)(np.float32(3))
        assert [e.primitive.name for e in jaxpr.jaxpr.eqns] == ["square"]
    jaxpr = fx.make_jaxpr(fnp.square)(np.array([True, False]))
    assert [e.primitive.name for e in jaxpr.jaxpr.eqns] == ["convert_element_type", "square"]
    assert fnp.square(np.array([True])).dtype == fx.dtypes.default_int_dtype()
    out = lax.square(3.0)
    assert out.dtype == np.float32 and out.weak_type and float(out) == 9.0
    with pytest.raises(TypeError, match="square does not accept dtype bool"):
        lax.square(np.array([True]))


@pytest.mark.parametrize("dtype", DTYPES + ["complex64"])
def test_values_against_numpy(dtype):
    with _x64(dtype):
        if dtype == "complex64":
            x = (values("float32", (17,), 1) + 1j * values("float32", (17,), 2)).astype(dtype)
        else:
            x = values(dtype, (17,), 1)
        got = np.asarray(lax.square(x))
        with np.errstate(all="ignore"):
            want = np.multiply(x, x)
    assert got.dtype == x.dtype
    wide = np.complex128 if dtype == "complex64" else np.float64
    np.testing.assert_array_equal(got.astype(wide), want.astype(wide))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_derivatives_against_finite_differences(dtype):
    from fx.test_util import check_grads
    with _x64(dtype):
        x = np.array([-1.5, 0.25, 2.0], dtype)
        check_grads(lambda v: fnp.square(v), (x,), order=2, modes=("fwd", "rev"))
        g = fx.grad(lambda v: fnp.square(v).sum())(x)
        np.testing.assert_allclose(np.asarray(g), 2 * x)


def test_vmap_against_a_loop():
    x = values("float32", (4, 5), 3)
    got = np.asarray(fx.vmap(lax.square, in_axes=1)(x))
    want = np.stack([np.asarray(lax.square(x[:, i])) for i in range(5)])
    np.testing.assert_array_equal(got, want)


@settings(max_examples=25, deadline=None)
@given(hs.sampled_from(DTYPES), hs.sampled_from([(5,), (3, 4), (129,)]), hs.integers(0, 99))
def test_compiled_is_eager(dtype, shape, seed):
    x = values(dtype, shape, seed)
    with _x64(dtype):
        _, exe = compile_and_compare(lambda a: lax.square(a - 1) * 2, x, compare=_same_or_nan,
                                     x64=np.dtype(x.dtype).itemsize == 8)
    assert len(exe.fallbacks) == 0


def _same_or_nan(got, want):
    if got.dtype.kind in "iu":
        assert_bits(got, want)
        return
    g, w = got.astype(np.float64), want.astype(np.float64)
    np.testing.assert_array_equal(g, w)


def test_square_fuses_into_one_loop():
    x = values("float32", (64,), 0)
    _, exe = compile_and_compare(lambda a: fnp.sqrt(fnp.square(a) + 1.0), x,
                                 compare=_same_or_nan)
    assert len(exe.fallbacks) == 0


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int32", "uint8"])
def test_gpu_kernel_in_the_host_emulation(dtype):
    from fx.interpreters.jit import Executable as Reference
    from lowering.gpu import compile as gpu_compile
    from lowering.gpu import emulate
    if not emulate.available():
        pytest.skip("no host C++20 compiler (g++) for the kernel emulation")
    x = values(dtype, (70,), 5)
    with _x64(dtype):
        closed = fx.make_jaxpr(lambda a: lax.square(a) * 2)(x)
        exe = gpu_compile.compile(closed, runtime=emulate.HostRuntime(max_blocks=2))
        assert exe.fallbacks == [] and "square" not in [e.primitive.name for e in exe.fallbacks]
        got = exe([x.copy()])[0]
        want = Reference(closed)([x.copy()])[0]
    _same_or_nan(np.asarray(got), np.asarray(want))


def test_jaxprs_match_jax():
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp
    for args in ((np.float32(3),), (np.array([True, False]),), (np.int8(3),),
                 (np.complex64(3),)):
        assert str(fx.make_jaxpr(fnp.square)(*args)) == str(jax.make_jaxpr(jnp.square)(*args))
        if args[0].dtype != np.bool_:
            assert str(fx.make_jaxpr(lax.square)(*args)) == \
                str(jax.make_jaxpr(jax.lax.square)(*args))
    x = values("float32", (33,), 4)
    np.testing.assert_array_equal(np.asarray(fx.jit(fnp.square)(x)),
                                  np.asarray(jax.jit(jnp.square)(x)))
