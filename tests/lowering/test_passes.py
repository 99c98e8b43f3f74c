"""Each jaxpr pass alone: the equations it removes or rewrites, and the values of the
program before and after (evaluated eagerly, the oracle), which must not change."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as jnp
from fx import core, lax
from lowering import passes


def run(closed, *args):
    """Evaluate a closed jaxpr eagerly on NumPy arguments (the reference; jit equations
    inside run compiled, hence the small tolerance in ``same_values``)."""
    outs = core.eval_jaxpr(closed.jaxpr, closed.consts, *[jnp.asarray(a) for a in args])
    return [np.asarray(o) for o in outs]


def prims(closed):
    return [e.primitive.name for e in closed.jaxpr.eqns]


def same_values(before, after, *args, rtol=1e-6):
    core.check_jaxpr(after.jaxpr)
    for a, b in zip(run(before, *args), run(after, *args)):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=rtol)


X = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5


def test_inline_calls_splices_jit_bodies_with_fresh_variables():
    inner = fx.jit(lambda x: jnp.sin(x) * 2)
    closed = fx.make_jaxpr(lambda x: inner(x) + inner(x + 1))(X)
    assert prims(closed).count("jit") == 2
    out = passes.inline_calls(closed)
    assert "jit" not in prims(out)
    assert prims(out).count("sin") == 2
    outvars = [o for e in out.jaxpr.eqns for o in e.outvars]
    assert len({id(v) for v in outvars}) == len(outvars)  # each variable defined once
    same_values(closed, out, X)


def test_inline_calls_nested_and_closed_over_constants():
    table = np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)
    inner = fx.jit(lambda x: x * table)
    outer = fx.jit(lambda x: inner(x) + 1)
    closed = fx.make_jaxpr(lambda x: outer(x) * 3)(X)
    out = passes.inline_calls(closed)
    assert "jit" not in prims(out)
    same_values(closed, out, X)


def test_dce_drops_unused_equations_and_constants():
    unused = np.ones((2, 3), np.float32)

    def f(x):
        _ = jnp.exp(x) * unused
        return x + 1
    closed = fx.make_jaxpr(f)(X)
    out = passes.dce(closed)
    assert prims(out) == ["add"]
    assert out.consts == []
    same_values(closed, out, X)


def test_dce_keeps_what_outputs_need():
    closed = fx.make_jaxpr(lambda x: (jnp.exp(x), x * 2))(X)
    assert passes.dce(closed) is closed


def test_cse_merges_identical_equations():
    closed = fx.make_jaxpr(lambda x: jnp.sin(x) * jnp.sin(x) + jnp.sin(x))(X)
    out = passes.cse(closed)
    assert prims(out).count("sin") == 1
    same_values(closed, out, X)


def test_cse_distinguishes_params_and_literals():
    closed = fx.make_jaxpr(lambda x: (jnp.sum(x, 0), jnp.sum(x, 1), x * 2, x * 3))(X)
    out = passes.cse(closed)
    assert prims(out) == prims(closed)


def test_fold_constants_turns_scalars_into_literals_and_evaluates_small_math():
    c = np.float32(3.0)
    small = np.arange(3, dtype=np.float32)

    def f(x):
        return x * (jnp.asarray(c) + 1) + jnp.exp(small) * 2
    closed = fx.make_jaxpr(f)(X)
    out = passes.fold_constants(closed)
    assert "exp" not in prims(out)
    assert all(not isinstance(v, core.Literal) or v.aval.shape == ()
               for e in out.jaxpr.eqns for v in e.invars)
    same_values(closed, out, X, rtol=1e-6)


def test_fold_constants_keeps_large_constants_as_buffers():
    big = np.arange(1000, dtype=np.float32)
    closed = fx.make_jaxpr(lambda x: x + jnp.exp(big))(np.ones(1000, np.float32))
    out = passes.fold_constants(closed)
    assert "exp" in prims(out)
    assert any(np.asarray(c).shape == (1000,) for c in out.consts)


def test_simplify_algebra_removes_identities():
    def f(x):
        y = (x * 1.0 + 0.0) / 1.0 - 0.0
        return lax.neg(lax.neg(y)), lax.select(x > 0, y, y)
    closed = fx.make_jaxpr(f)(X)
    out = passes.dce(passes.simplify_algebra(closed))
    assert prims(out) == []
    same_values(closed, out, X)


def test_simplify_algebra_keeps_non_identities():
    closed = fx.make_jaxpr(lambda x: (x * 2.0, 1.0 - x, 1.0 / x, x + 1.0))(X)
    assert passes.simplify_algebra(closed) is closed


def test_simplify_shapes_transpose_reshape_broadcast_chains():
    def f(x):
        a = x.T.T
        b = jnp.transpose(jnp.transpose(x[None], (1, 0, 2)), (2, 1, 0))
        c = x.reshape(3, 2).reshape(6).reshape(2, 3)
        d = jnp.broadcast_to(jnp.broadcast_to(x[0], (2, 3))[None], (4, 2, 3))
        return a + c, b, d
    closed = passes.canonicalize(fx.make_jaxpr(f)(X))
    out = passes.dce(passes.simplify_shapes(closed))
    names = prims(out)
    assert names.count("transpose") == 1
    assert names.count("reshape") <= 2
    # b's x[None] (a broadcast_in_dim inserting a unit dim, as JAX's) and d's one broadcast
    assert names.count("broadcast_in_dim") == 2
    same_values(closed, out, X)


def test_simplify_shapes_drops_broadcasts_of_scalars_in_binary_ops():
    def f(x, s):
        return x * jnp.broadcast_to(s, x.shape) + jnp.full(x.shape, 2.0, jnp.float32)
    closed = fx.make_jaxpr(f)(X, np.float32(3))
    out = passes.dce(passes.simplify_shapes(closed))
    assert "broadcast_in_dim" not in prims(out)
    same_values(closed, out, X, np.float32(3))


def test_simplify_shapes_reads_transposed_operands_of_products():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = np.arange(15, dtype=np.float32).reshape(3, 5)
    closed = fx.make_jaxpr(lambda a, b: (a.T @ b, (a.T @ b).T))(a, b)
    out = passes.dce(passes.simplify_shapes(closed))
    assert "transpose" not in prims(out)
    assert prims(out).count("dot_general") == 2
    same_values(closed, out, a, b)


def test_simplify_shapes_keeps_a_shared_product():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    closed = fx.make_jaxpr(lambda a: (a @ a.T, (a @ a.T).T + 1))(a)
    out = passes.dce(passes.cse(passes.simplify_shapes(passes.cse(closed))))
    assert prims(out).count("dot_general") == 1
    same_values(closed, out, a)


def test_simplify_converts_merges_exact_chains_only():
    def f(x, i):
        a = x.astype(jnp.int32).astype(jnp.float32)  # not exact: kept
        b = i.astype(jnp.float32).astype(jnp.int32)  # i32 -> f32 is not exact either
        c = (x > 0).astype(jnp.int32).astype(jnp.float32)  # bool -> i32 exact: merged
        d = x.astype(jnp.float32)  # same dtype: dropped
        return a, b, c, d
    i = np.array([1, 2 ** 24 + 1, -3], np.int32)
    closed = fx.make_jaxpr(f)(X, i)
    out = passes.dce(passes.simplify_converts(closed))
    assert prims(out).count("convert_element_type") == 5
    same_values(closed, out, X, i)


def test_canonicalize_squeeze_expand_dims_to_reshape():
    closed = fx.make_jaxpr(lambda x: jnp.squeeze(jnp.expand_dims(x, 0), 0) + 1)(X)
    out = passes.canonicalize(closed)
    assert "squeeze" not in prims(out) and "expand_dims" not in prims(out)
    same_values(closed, out, X)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.sampled_from([0, 1]))
def test_optimize_keeps_values(rows, cols, axis):
    x = np.random.default_rng(rows * 10 + cols).standard_normal((rows, cols)).astype(np.float32)
    inner = fx.jit(lambda v: jnp.exp(v - jnp.max(v, axis=axis, keepdims=True)))

    def f(v):
        e = inner(v) * 1.0
        return e / jnp.sum(e, axis=axis, keepdims=True), v.T.T + 0.0
    closed = fx.make_jaxpr(f)(x)
    out = passes.optimize(closed)
    assert "jit" not in prims(out)
    assert "transpose" not in prims(out)
    same_values(closed, out, x)


def test_optimize_debug_hook_sees_each_changing_pass():
    seen = []
    passes.optimize(fx.make_jaxpr(fx.jit(lambda x: x * 1.0 + jnp.sin(x) * jnp.sin(x)))(X),
                    debug=lambda name, result: seen.append(name))
    assert "inline_calls" in seen and "cse" in seen


def test_passes_leave_their_input_untouched():
    closed = fx.make_jaxpr(fx.jit(lambda x: x * 1.0 + jnp.sin(x) * jnp.sin(x)))(X)
    text = str(closed)
    passes.optimize(closed)
    assert str(closed) == text


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q"])
