"""How many kernels a program becomes, and which equations share one (fusion groups
are backend independent: no LLVM involved)."""
from __future__ import annotations

import numpy as np

import fx
import fx.numpy as jnp
from fx import lax
from lowering import fusion, passes


def groups_of(f, *args, supported=None):
    closed = passes.optimize(fx.make_jaxpr(f)(*args))
    return fusion.fuse(closed.jaxpr, supported)


def kernels(groups):
    return [g for g in groups if g.kind in ("loop", "reduce")]


def gelu(x, scale, bias):
    return 0.5 * x * (1.0 + jnp.tanh(0.7978845608028654 * (x + 0.044715 * (x * x * x)))) \
        * scale + bias


def softmax(x):
    e = jnp.exp(x - jnp.max(x, axis=-1, keepdims=True))
    return e / jnp.sum(e, axis=-1, keepdims=True)


def layernorm(x, gamma, beta):
    mu = jnp.mean(x, axis=-1, keepdims=True)
    xc = x - mu
    var = jnp.mean(xc * xc, axis=-1, keepdims=True)
    return xc / jnp.sqrt(var + 1e-5) * gamma + beta


X = np.ones((8, 16), np.float32)
V = np.ones(16, np.float32)


def test_gelu_chain_is_one_loop():
    gs = groups_of(gelu, np.ones(100, np.float32), np.float32(1.5), np.float32(0.25))
    assert len(gs) == 1 and gs[0].kind == "loop"
    assert len(gs[0].eqns) == 11
    assert [v.aval.shape for v in gs[0].outputs] == [(100,)]


def test_softmax_is_one_row_kernel_with_two_reductions():
    (g,) = groups_of(softmax, X)
    assert g.kind == "reduce" and g.strategy == "rows"
    assert g.axes == (1,) and g.shape == (8, 16)
    # two reduction phases per row plus the epilogue: the data is read once from memory
    assert sorted(e.primitive.name for e in g.reductions) == ["reduce_max", "reduce_sum"]


def test_layernorm_is_one_row_kernel():
    (g,) = groups_of(layernorm, X, V, V)
    assert g.kind == "reduce" and len(g.reductions) == 2
    assert [v.aval.shape for v in g.inputs] == [(8, 16), (16,), (16,)]


def test_reduction_result_as_output_and_epilogue_share_the_kernel():
    (g,) = groups_of(lambda x: (jnp.max(x, axis=1), x - jnp.max(x, axis=1, keepdims=True)), X)
    assert g.kind == "reduce" and len(g.outputs) == 2


def test_leading_axis_reduction_accumulates_and_ends_its_group():
    gs = groups_of(lambda x: jnp.sum(jnp.exp(x), axis=0) * 2, X)
    assert [g.kind for g in gs] == ["reduce", "loop"]
    assert gs[0].strategy == "accumulate"
    assert [e.primitive.name for e in gs[0].eqns] == ["exp", "reduce_sum"]


def test_reduction_read_at_another_row_is_materialized():
    # the epilogue reads the row maxima reversed: not the current row, so two kernels
    gs = groups_of(lambda x: x - jnp.max(x, axis=1)[::-1, None], X)
    assert len(kernels(gs)) == 2


def test_reductions_over_different_axes_are_separate_kernels():
    gs = groups_of(lambda x: x - jnp.sum(x, axis=1, keepdims=True) - jnp.sum(x, axis=0), X)
    # the column sums accumulate alone; the row kernel reads them as a buffer
    assert [(g.kind, g.strategy) for g in gs] == [("reduce", "accumulate"), ("reduce", "rows")]


def test_cheap_producers_are_recomputed_expensive_ones_stored():
    def cheap(x):
        y = x * 2 + 1
        return y.T + 1, jnp.sum(y, axis=1)
    gs = groups_of(cheap, X)
    assert sum("mul" in [e.primitive.name for e in g.eqns] for g in gs) == 2

    def expensive(x):
        y = jnp.exp(x)
        return y.T + 1, jnp.sum(y, axis=1)
    gs = groups_of(expensive, X)
    assert sum("exp" in [e.primitive.name for e in g.eqns] for g in gs) == 1
    assert len(kernels(gs)) == 3


def test_expensive_value_broadcast_along_outer_dims_is_stored():
    gs = groups_of(lambda x, v: x * jnp.exp(v)[None, :], X, V)
    assert len(kernels(gs)) == 2


def test_multi_output_loop_fusion():
    gs = groups_of(lambda x: (jnp.sin(x) * 2, jnp.cos(x) + 1), X)
    assert len(gs) == 1 and len(gs[0].outputs) == 2


def test_index_ops_fuse_into_consumers():
    def f(x):
        y = jnp.pad(x, ((1, 1), (2, 0)))[::-1, 1:] * 2
        return jnp.concatenate([y, y], axis=0) + lax.iota(jnp.float32, 17)
    gs = groups_of(f, X)
    assert len(gs) == 1 and gs[0].kind == "loop"


def test_library_and_fallback_are_boundaries():
    def f(x, w):
        h = jnp.maximum(x @ w + 1.0, 0.0)
        return jnp.cumsum(h, axis=0) * 2
    gs = groups_of(f, X, np.ones((16, 4), np.float32))
    assert [g.kind for g in gs] == ["library", "loop", "fallback", "loop"]


def test_unsupported_equations_fall_back():
    gs = groups_of(lambda x: jnp.tanh(x) * 2 + 1, X,
                   supported=lambda eqn: eqn.primitive.name != "tanh")
    assert [g.kind for g in gs] == ["fallback", "loop"]


def test_groups_are_in_dependency_order():
    def f(x):
        a = jnp.sum(x, axis=0)
        b = jnp.cumsum(a)
        return jnp.exp(b)[None, :] * x
    gs = groups_of(f, X)
    produced = set()
    for g in gs:
        for v in g.inputs:
            assert id(v) in produced or not any(id(v) == id(o) for h in gs for o in h.outputs)
        produced.update(id(o) for o in g.outputs)


def test_format_groups_lists_every_group():
    text = fusion.format_groups(groups_of(softmax, X))
    assert "group 0: reduce (rows)" in text and "reduce_max" in text
