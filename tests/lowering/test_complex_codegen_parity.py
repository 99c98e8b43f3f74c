"""Compiled complex ``mul``, ``div``, ``abs``, ``sign`` and ``reduce_prod``
(lowering/cpu/complex_rules.py, complex_xla.py): XLA's formulas.

Oracles: jax.jit bit for bit on normal-range random operands and on a grid of special
values (zeros of both signs, infinities, NaNs, huge values), skipped without JAX; without
JAX, NumPy's complex128/clongdouble values within a few ulps on finite operands and C99
Annex G's special quotients derived by hand; the code a part-by-part loop of the rules
compiles to is vectorized (packed divisions, no library calls).
"""
from __future__ import annotations

import contextlib
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fx
from fx._testing import (complex_normal_range, complex_real_dtype, complex_special_grid,
                         same_bits)
import fx.numpy as fnp
from lowering.cpu.compile import compile as compile_native

COMPLEX = [np.complex64, np.complex128]
OPS = {
    "mul": lambda m: lambda x, y: x * y,
    "div": lambda m: lambda x, y: x / y,
    "abs": lambda m: lambda x, y: m.abs(x),
    "sign": lambda m: lambda x, y: m.sign(x),
    "prod": lambda m: lambda x, y: m.prod((x * y).reshape(-1, 8), axis=1),
}


def _native(f, *args):
    """``f`` compiled for the CPU (asserting no equation falls back to eager), run."""
    with fx.enable_x64(any(np.asarray(a).dtype == np.complex128 for a in args)):
        closed = fx.make_jaxpr(f)(*args)
    exe = compile_native(closed)
    assert exe.fallbacks == [], [e.primitive.name for e in exe.fallbacks]
    return np.asarray(exe([np.asarray(a) for a in args])[0])


@contextlib.contextmanager
def _jax_x64(jax, dtype):
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", np.dtype(dtype) == np.complex128)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", old)


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("operands", ["random", "grid"])
def test_bits_match_jax_jit(jax, op, dtype, operands):
    import jax.numpy as jnp
    x, y = complex_normal_range(dtype, 4096, 0), complex_normal_range(dtype, 4096, 1)
    if operands == "grid":
        x, y = complex_special_grid(dtype)
    f = OPS[op]
    with _jax_x64(jax, dtype):
        want = np.asarray(jax.jit(f(jnp))(x, y))
    outs = [_native(f(fnp), x, y)]
    if operands == "random":  # (fx.jit too; at special values FX_CHECK_COMPILED's check
        # against the eager NumPy impls would flag XLA's NaN for |inf + nan i| and kin)
        with fx.enable_x64(np.dtype(dtype) == np.complex128):
            outs.append(np.asarray(fx.jit(f(fnp))(x, y)))
    assert outs[0].dtype == want.dtype and outs[0].shape == want.shape
    for out in outs:
        bad = ~same_bits(out, want)
        assert not bad.any(), (op, x[bad][:3], y[bad][:3], out[bad][:3], want[bad][:3])


# --- without JAX ----------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 70), seed=st.integers(0, 2**16), dtype=st.sampled_from(COMPLEX))
def test_values_against_numpy(n, seed, dtype):
    """Finite normal-range operands: within 2 ulps (of the result's scale) of the exact
    values NumPy gives in a wider type; any length, so vector bodies and their scalar
    remainders both run."""
    x, y = complex_normal_range(dtype, n, seed), complex_normal_range(dtype, n, seed + 1)
    wide = np.clongdouble
    eps = np.finfo(complex_real_dtype(dtype)).eps
    xw, yw = x.astype(wide), y.astype(wide)
    want = {"mul": xw * yw, "div": xw / yw, "abs": np.abs(xw), "sign": xw / np.abs(xw)}
    for op, w in want.items():
        got = _native(OPS[op](fnp), x, y)
        real = np.dtype(complex_real_dtype(dtype))
        assert got.dtype == (np.dtype(dtype) if op != "abs" else real)
        err = np.abs(got.astype(wide) - w)
        assert (err <= 2 * eps * np.abs(w) + 1e-300).all(), (op, x, y, got, w)


def _c(re, im, dtype):
    out = np.empty(1, dtype)
    out.real, out.imag = re, im
    return out


INF, NAN = np.inf, np.nan
# (x, y, x / y) by C99 Annex G's recovery (G.5.2: a zero divisor gives an infinity scaled
# by the numerator, an infinite numerator over a finite divisor an infinity, a finite
# numerator over an infinite divisor a zero)
ANNEX_G = [
    ((1, 1), (0, 0), (INF, INF)),
    ((-1, 2), (-0.0, 0), (INF, -INF)),
    ((INF, 0), (1, 1), (INF, -INF)),
    ((0, INF), (2, 0), (NAN, INF)),   # re: fma(0, 2, 1 * 0) * inf = 0 * inf = NaN
    ((1, 1), (INF, 0), (0.0, 0.0)),   # (Smith's method: 1 / inf, no recovery)
    ((1, -1), (0, -INF), (0.0, 0.0)),  # (Smith's: -1 / -inf twice)
    ((1, 2), (INF, -INF), (-0.0, 0.0)),  # r = NaN: fma(2, -1, 1) * 0, fma(-1, -1, 2) * 0
    ((3, 4), (1, 2), (2.2, -0.4)),
    ((NAN, 1), (0, 0), (NAN, INF)),
]


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("x,y,want", ANNEX_G)
def test_division_special_values(x, y, want, dtype):
    got = _native(OPS["div"](fnp), _c(*x, dtype), _c(*y, dtype))[0]
    w = np.array(complex(*want), dtype)
    assert same_bits(got.real, w.real) and same_bits(got.imag, w.imag), (x, y, got, want)


@pytest.mark.parametrize("dtype", COMPLEX)
def test_abs_and_sign_special_values(dtype):
    z = np.array([3 + 4j, 0j, complex(-0.0, -0.0), complex(INF, 1), complex(-INF, INF),
                  complex(NAN, 1), complex(0, -2), 1e30 + 1e30j], dtype)
    mags = _native(OPS["abs"](fnp), z, z)
    rdt = complex_real_dtype(dtype)
    want = np.array([5, 0, 0, INF, INF, NAN, 2, 1e30 * np.sqrt(rdt(2))], rdt)
    assert same_bits(mags, want).all(), mags
    signs = _native(OPS["sign"](fnp), z, z)
    assert same_bits(signs[1:3], z[1:3]).all()          # zeros as they are
    assert signs[0] == np.array(3 / 5 + 4j / 5, dtype)   # 3 / 5 and 4 / 5 rounded
    assert signs[6] == -1j and np.isnan(signs[5].real) and np.isnan(signs[5].imag)


# --- the loops vectorize ------------------------------------------------------------------


@pytest.mark.parametrize("op", ["mul", "div", "abs", "sign", "add"])
def test_part_by_part_loop_vectorizes(op):
    """A loop reading operands with ``complex_rules.load``, applying the rule and writing
    with ``complex_rules.store`` compiles to packed (ymm/zmm or xmm ``ps``) arithmetic with
    no library calls: the rules hold no vector-typed value the loop vectorizer refuses."""
    from llvmlite import ir

    from lowering.cpu import complex_rules, runtime
    from lowering.cpu.irutil import I64, PTR, VOID, Emit, for_range
    module = ir.Module(name="t")
    module.triple = runtime.host_info()["triple"]
    cty = ir.VectorType(ir.FloatType(), 2)
    out_ty = ir.FloatType() if op == "abs" else cty
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, PTR, PTR, I64]), "k")
    for a in fn.args[:3]:
        a.add_attribute("noalias")
    x, y, out, n = fn.args
    e = Emit(ir.IRBuilder(fn.append_basic_block("entry")), module)
    dt = np.dtype(np.complex64)

    def body(i):
        args = [complex_rules.load(e.b, e.b.gep(p, [i], inbounds=True, source_etype=cty), dt)
                for p in (x, y)][:1 if op in ("abs", "sign") else 2]
        val = complex_rules.COMPLEX_RULES[op](e, args, None, None, {})
        dst = e.b.gep(out, [i], inbounds=True, source_etype=out_ty)
        if op == "abs":
            e.b.store(val, dst, align=4)
        else:
            complex_rules.store(e.b, val, dst, dt)
    for_range(e.b, n, body)
    e.b.ret_void()
    _, compiled = runtime.compile_object(str(module))
    asm = runtime.assembly(compiled)
    assert not re.search(r"\bcall", asm), asm
    packed = {"mul": r"vfm\w+ps", "div": r"vdivps", "abs": r"vsqrtps", "sign": r"vdivps",
              "add": r"vaddps"}[op]
    assert re.search(packed, asm), asm
