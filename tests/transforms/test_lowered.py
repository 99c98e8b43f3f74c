"""``jit(f).lower(x)``: ``as_text`` (optimized jaxpr and fusion groups, or the traced
jaxpr), ``cost_analysis``; ``.compile()``: the LLVM IR and the compiled program's costs."""
from __future__ import annotations

import numpy as np
import pytest

import fx
import fx.numpy as jnp
from lowering import cpu

F32 = np.float32


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FX_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "fxcache"))


def gelu(x):
    return 0.5 * x * (1.0 + jnp.tanh(0.7978845608 * (x + 0.044715 * x ** 3)))


def test_lowered_text_shows_optimized_jaxpr_and_groups():
    x = jnp.asarray(np.linspace(-2, 2, 64, dtype=F32))
    lowered = fx.jit(lambda x: gelu(x * 1.0 + 0.0)).lower(x)
    text = lowered.as_text()
    assert text.startswith("optimized jaxpr:")
    head, groups = text.split("fusion groups:")
    assert "tanh" in head and "integer_pow" in head
    # x * 1.0 + 0.0 is simplified away in the optimized program, kept in the traced one
    traced = lowered.as_text(dialect="jaxpr")
    assert traced == fx.make_jaxpr(lambda x: gelu(x * 1.0 + 0.0))(x).pretty_print()
    assert traced.count("mul") > head.count("mul")
    # the gelu chain is one loop kernel
    assert groups.count("group ") == 1 and "group 0: loop" in groups
    assert lowered.as_text(dialect="fx") == text


def test_lowered_text_matmul_then_epilogue():
    x, w = jnp.ones((8, 16)), jnp.ones((16, 4))
    text = fx.jit(lambda x, w: jnp.maximum(x @ w + 1.0, 0.0)).lower(x, w).as_text()
    groups = text.split("fusion groups:")[1]
    assert "group 0: library" in groups and "dot_general" in groups
    assert "group 1: loop" in groups and "max" in groups
    assert groups.count("group ") == 2


def test_unknown_dialect_is_rejected():
    lowered = fx.jit(jnp.sin).lower(jnp.ones(3))
    with pytest.raises(ValueError, match="dialect"):
        lowered.as_text(dialect="stablehlo")


def test_compiled_text_is_llvm_ir_and_runs():
    x = jnp.asarray(np.linspace(-2, 2, 64, dtype=F32))
    compiled = fx.jit(gelu).lower(x).compile()
    ir = compiled.as_text()
    assert "target triple" in ir and 'define void @"fx_segment_0"' in ir
    np.testing.assert_allclose(np.asarray(compiled(x)), np.asarray(gelu(x)), rtol=1e-6,
                               atol=1e-6)


def test_compiled_text_after_loading_from_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("FX_CACHE_DIR", str(tmp_path / "cache"))
    x = jnp.asarray(np.linspace(-2, 2, 33, dtype=F32))
    f = lambda x: jnp.exp(x) * 5.0 - 2.0  # noqa: E731
    cpu.clear_cache()
    first = fx.jit(f).lower(x).compile().as_text()
    cpu.clear_cache()
    from lowering.cpu import diskcache
    hits = diskcache.stats["hits"]
    again = fx.jit(f).lower(x).compile()
    assert diskcache.stats["hits"] == hits + 1
    assert again.as_text() == first
    np.testing.assert_allclose(np.asarray(again(x)), np.exp(np.asarray(x)) * 5 - 2,
                               rtol=1e-6, atol=1e-6)


def test_cost_analysis_lowered_and_compiled():
    x, w = jnp.ones((32, 64)), jnp.ones((64, 16))
    lowered = fx.jit(lambda x, w: jnp.tanh(x @ w) + 1.0).lower(x, w)
    cost = lowered.cost_analysis()
    assert cost["flops"] == 2 * 32 * 16 * 64 + 32 * 16
    assert cost["transcendentals"] == 32 * 16
    assert cost["bytes accessed"] == 4 * (32 * 64 + 64 * 16 + 3 * 32 * 16)
    assert lowered.compile().cost_analysis() == cost


@pytest.mark.jax
def test_cost_analysis_matches_jax(jax):
    x, w = np.ones((32, 64), F32), np.ones((64, 16), F32)
    mine = fx.jit(lambda x, w: jnp.tanh(x @ w) + 1.0).lower(x, w).compile().cost_analysis()
    theirs = jax.jit(lambda x, w: jax.numpy.tanh(x @ w) + 1.0).lower(x, w).compile() \
        .cost_analysis()
    for key in ("flops", "transcendentals", "bytes accessed"):
        assert mine[key] == theirs[key]


def test_reference_interpreter_texts(monkeypatch):
    monkeypatch.setenv("FX_COMPILER", "0")
    x = jnp.ones(5)
    f = fx.jit(lambda x: jnp.sin(x) * 3.0)
    compiled = f.lower(x).compile()
    assert "sin" in compiled.as_text() and "define" not in compiled.as_text()
    assert compiled.cost_analysis()["transcendentals"] == 5
    np.testing.assert_allclose(np.asarray(compiled(x)), np.sin(np.ones(5)) * 3, rtol=1e-6)
