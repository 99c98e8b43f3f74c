"""Top-level utilities: caches, compile-time evaluation, names, environment."""
from __future__ import annotations

import numpy as np
import pytest

import fx
import fx.numpy as fnp


def test_clear_caches_forces_a_retrace():
    traces = []

    @fx.jit
    def f(x):
        traces.append(1)
        return x * 2

    f(fnp.ones(3))
    f(fnp.ones(3))
    assert len(traces) == 1
    fx.clear_caches()
    np.testing.assert_allclose(f(fnp.ones(3)), 2 * np.ones(3))
    assert len(traces) == 2


def test_explain_cache_misses_names_the_changed_part(capsys):
    f = fx.jit(lambda x, n: x * n, static_argnums=1)
    f(fnp.ones(3), 2)
    with fx.explain_cache_misses():
        f(fnp.ones(3), 3)
    out = capsys.readouterr().out
    assert "static positional arguments" in out and "3" in out


def test_ensure_compile_time_eval_folds_concrete_work():
    def g(x):
        with fx.ensure_compile_time_eval():
            c = fnp.sum(fnp.sin(fnp.ones(2)))
            assert not isinstance(c, fx.core.Tracer)  # computed now, not staged
        return x * c

    jaxpr = fx.make_jaxpr(g)(fnp.float32(1.0))
    names = [e.primitive.name for e in jaxpr.eqns]
    assert "sin" not in names and "reduce_sum" not in names
    np.testing.assert_allclose(fx.jit(g)(fnp.float32(2.0)), 2 * np.sin(1.0) * 2, rtol=1e-6)


def test_named_call_and_scope_compute_the_same():
    f = fx.named_call(lambda x: x + 1, name="plus_one")
    with fx.named_scope("outer"):
        assert float(f(1.0)) == 2.0
    with pytest.raises(TypeError, match="callable"):
        fx.named_call(3)


def test_typeof_and_make_mesh():
    assert fx.typeof(fnp.ones((2, 3))) == fx.core.ShapedArray((2, 3), np.float32)
    mesh = fx.make_mesh((1,), ("i",))
    assert mesh.axis_names == ("i",)
    with pytest.raises(ValueError, match="devices"):
        fx.make_mesh((64,), ("i",))


def test_print_environment_info_mentions_versions():
    text = fx.print_environment_info(return_string=True)
    assert np.__version__ in text and "fx" in text
