"""The jit API: results equal to eager, static arguments, caching, staging
(``trace``/``lower``/``compile``), ``disable_jit``, decorators and methods.

Oracles: eager execution of the same function, Python-side trace counters,
and JAX's documented cache behaviour (``_cache_size``) for the same call
sequences.
"""
import collections
import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx import tree_util

Pair = collections.namedtuple("Pair", ["a", "b"])

FUNCS = {
    "elementwise": lambda x, y: fnp.sin(x) * y + fnp.exp(-x * x),
    "reduce": lambda x, y: fnp.sum(x * y, axis=0) + fnp.max(y),
    "where": lambda x, y: fnp.where(x > y, x - y, fnp.sqrt(fnp.abs(y))),
    "shape_ops": lambda x, y: fnp.transpose(fnp.reshape(x + y, (-1, 1))) * 2.0,
    "mean_prod": lambda x, y: fnp.mean(x ** 2) - fnp.prod(fnp.tanh(y) + 1.5),
    "broadcast": lambda x, y: fnp.broadcast_to(x, (2,) + x.shape) / (1.0 + y * y),
}


def _assert_same(got, want):
    got_l, want_l = tree_util.tree_leaves(got), tree_util.tree_leaves(want)
    assert tree_util.tree_structure(got) == tree_util.tree_structure(want)
    for g, w in zip(got_l, want_l, strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype, (g, w)
        assert getattr(g, "weak_type", False) == getattr(w, "weak_type", False), (g, w)
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-6, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(sorted(FUNCS)),
       shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
       seed=st.integers(0, 2 ** 16))
def test_jit_matches_eager(name, shape, seed):
    rng = np.random.default_rng(seed)
    x = fnp.asarray(rng.standard_normal(shape).astype(np.float32))
    y = fnp.asarray(rng.standard_normal(shape).astype(np.float32))
    f = FUNCS[name]
    _assert_same(fx.jit(f)(x, y), f(x, y))


@pytest.mark.parametrize("x", [2.0, 3, True, np.float32(1.5), np.int8(3),
                               np.arange(4, dtype=np.uint8), np.ones((2, 2), np.float16)])
def test_jit_preserves_dtype_and_weak_type(x):
    f = lambda v: v * 2 + v  # noqa: E731
    _assert_same(fx.jit(f)(x), f(fnp.asarray(x)))


def test_jit_pytree_inputs_and_outputs_with_none_and_kwargs():
    def f(p, *, scale):
        return {"sum": fnp.sum(p.a) * scale, "pair": Pair(p.b * 2.0, None), "t": (p.a,)}
    p = Pair(fnp.arange(3.0), fnp.ones(2))
    got = fx.jit(f)(p, scale=fnp.asarray(2.0))
    want = f(p, scale=fnp.asarray(2.0))
    _assert_same(got, want)
    assert isinstance(got["pair"], Pair) and got["pair"].b is None


def test_jit_constant_and_passthrough_outputs():
    c = fnp.asarray(np.arange(3.0, dtype=np.float32))
    f = fx.jit(lambda x: (x, c, 1.0, c * x))
    x = fnp.asarray(np.float32(2.0))
    out = f(x)
    _assert_same(out, (x, c, fnp.asarray(1.0), c * x))


def test_jit_no_arguments():
    out = fx.jit(lambda: fnp.ones(3) * 2.0)()
    np.testing.assert_allclose(np.asarray(out), [2.0, 2.0, 2.0])


def test_jit_nested_jit():
    inner = fx.jit(lambda x: fnp.sin(x) * 2.0)
    outer = fx.jit(lambda x: inner(x) + inner(x * 3.0))
    x = fnp.asarray(np.array([0.1, 0.2], np.float32))
    _assert_same(outer(x), fnp.sin(x) * 2.0 + fnp.sin(x * 3.0) * 2.0)


# ---------------------------------------------------------------------------
# caching


def test_cache_hits_for_same_signature_and_misses_for_new_ones():
    traces = []

    def f(x):
        traces.append(1)
        return x * 2
    jf = fx.jit(f)
    x3 = fnp.ones(3)
    for _ in range(4):
        jf(x3)
    assert jf._cache_size() == 1 and len(traces) == 1
    jf(fnp.asarray(np.arange(3.0, dtype=np.float32)))  # same aval, different value
    assert jf._cache_size() == 1 and len(traces) == 1
    jf(fnp.ones(4))                                     # new shape
    assert jf._cache_size() == 2 and len(traces) == 2
    jf(fnp.ones(3, dtype=np.int32))                     # new dtype
    assert jf._cache_size() == 3
    jf(fnp.ones((3, 1)))                                # new rank
    assert jf._cache_size() == 4
    jf(x3)
    assert jf._cache_size() == 4 and len(traces) == 4


def test_cache_sequence_matches_jax_semantics():
    # Counts as jax.jit(lambda x: x)._cache_size() reports them for this sequence (JAX 0.10):
    # Python floats share a weak f32 entry; a NumPy f32 scalar is strong; 64-bit NumPy
    # inputs canonicalise to 32 bits; each new pytree structure is a new entry.
    seq = [(1.0, 1), (2.0, 1), (np.float32(1.0), 2), (1, 3), (np.ones(3, np.float32), 4),
           (np.ones(3, np.float64), 4), (np.ones(3, np.int32), 5), (np.ones(4, np.float32), 6),
           (True, 7), (np.arange(3, dtype=np.int64), 7), ((1.0, 2.0), 8), ({"a": 1.0}, 9)]
    jf = fx.jit(lambda x: x)
    for value, expected in seq:
        jf(value)
        assert jf._cache_size() == expected, value


def test_weak_type_is_part_of_the_cache_key():
    jf = fx.jit(lambda x: x + 1)
    weak = jf(1.0)
    strong = jf(fnp.asarray(1.0, dtype=np.float32))
    assert jf._cache_size() == 2
    assert weak.weak_type and not strong.weak_type


def test_x64_mode_is_part_of_the_cache_key():
    jf = fx.jit(lambda x: x * 2)
    jf(1.0)
    with fx.enable_x64():
        out = jf(1.0)
        assert out.dtype == np.float64
    assert jf._cache_size() == 2
    assert jf(1.0).dtype == np.float32


def test_clear_cache():
    jf = fx.jit(lambda x: x + 1)
    jf(1.0)
    jf.clear_cache()
    assert jf._cache_size() == 0
    jf(1.0)
    assert jf._cache_size() == 1


# ---------------------------------------------------------------------------
# static arguments


def test_static_argnums_python_control_flow_and_cache():
    traces = []

    def f(x, n):
        traces.append(n)
        out = x
        for _ in range(n):
            out = out * 2.0
        return out
    jf = fx.jit(f, static_argnums=1)
    x = fnp.asarray(1.5)
    np.testing.assert_allclose(jf(x, 3), 12.0)
    np.testing.assert_allclose(jf(x, 3), 12.0)
    assert jf._cache_size() == 1
    np.testing.assert_allclose(jf(x, 1), 3.0)
    assert jf._cache_size() == 2 and traces == [3, 1]


def test_static_argnums_negative_and_tuple():
    jf = fx.jit(lambda a, x, b: x * a + b, static_argnums=(0, -1))
    np.testing.assert_allclose(jf(2, fnp.asarray(3.0), 1), 7.0)
    np.testing.assert_allclose(jf(2, fnp.asarray(4.0), 1), 9.0)
    assert jf._cache_size() == 1
    jf(5, fnp.asarray(4.0), 1)
    assert jf._cache_size() == 2


def test_static_argnames_by_keyword_and_by_position():
    traces = []

    def f(x, mode):
        traces.append(mode)
        return x * 2.0 if mode == "double" else x + 1.0
    jf = fx.jit(f, static_argnames="mode")
    x = fnp.asarray(3.0)
    np.testing.assert_allclose(jf(x, mode="double"), 6.0)
    np.testing.assert_allclose(jf(x, mode="inc"), 4.0)
    np.testing.assert_allclose(jf(x, mode="double"), 6.0)
    assert traces == ["double", "inc"]
    # a static_argname passed positionally is static too (JAX resolves names to positions)
    np.testing.assert_allclose(jf(x, "inc"), 4.0)


def test_static_argument_hashable_object():
    class Config:
        def __init__(self, k):
            self.k = k

        def __hash__(self):
            return hash(self.k)

        def __eq__(self, other):
            return isinstance(other, Config) and other.k == self.k
    jf = fx.jit(lambda x, c: x * c.k, static_argnums=1)
    np.testing.assert_allclose(jf(fnp.asarray(2.0), Config(3)), 6.0)
    jf(fnp.asarray(2.0), Config(3))
    assert jf._cache_size() == 1


def test_donate_argnums_and_keep_unused_are_accepted():
    x = fnp.asarray(np.arange(3.0, dtype=np.float32))
    out = fx.jit(lambda x, y: x + y, donate_argnums=0)(x, fnp.ones(3))
    np.testing.assert_allclose(np.asarray(out), [1.0, 2.0, 3.0])
    out = fx.jit(lambda x, y: x * 2, donate_argnums=(0, 1), keep_unused=True)(
        fnp.ones(2), fnp.ones(2))
    np.testing.assert_allclose(np.asarray(out), [2.0, 2.0])
    out = fx.jit(lambda x: x * 3, donate_argnames="x")(fnp.ones(2))
    np.testing.assert_allclose(np.asarray(out), [3.0, 3.0])


# ---------------------------------------------------------------------------
# forms: decorator, partial, methods, inline


def test_decorator_forms():
    @fx.jit
    def a(x):
        """doc of a"""
        return x + 1.0

    @functools.partial(fx.jit, static_argnums=1)
    def b(x, n):
        return x * n

    @fx.jit(static_argnames=("n",))
    def c(x, n=2):
        return x ** n
    assert a.__name__ == "a" and a.__doc__ == "doc of a" and a.__wrapped__ is not None
    np.testing.assert_allclose(a(1.0), 2.0)
    np.testing.assert_allclose(b(2.0, 4), 8.0)
    np.testing.assert_allclose(c(3.0), 9.0)
    np.testing.assert_allclose(c(3.0, n=3), 27.0)


def test_jit_on_methods():
    class Scaler:
        def __init__(self, k):
            self.k = k

        def __hash__(self):
            return hash(("Scaler", self.k))

        def __eq__(self, other):
            return isinstance(other, Scaler) and other.k == self.k

        @functools.partial(fx.jit, static_argnums=0)
        def apply(self, x):
            return x * self.k

        def raw(self, x):
            return x * self.k

    s = Scaler(3.0)
    np.testing.assert_allclose(s.apply(fnp.asarray(2.0)), 6.0)
    np.testing.assert_allclose(Scaler(4.0).apply(fnp.asarray(2.0)), 8.0)
    bound = fx.jit(Scaler(5.0).raw)  # jit of a bound method
    np.testing.assert_allclose(bound(fnp.asarray(2.0)), 10.0)


def test_jit_on_methods_of_pytree_classes():
    @tree_util.register_pytree_node_class
    class Linear:
        def __init__(self, w, b):
            self.w, self.b = w, b

        def tree_flatten(self):
            return (self.w, self.b), None

        @classmethod
        def tree_unflatten(cls, aux, children):
            return cls(*children)

        @fx.jit
        def __call__(self, x):
            return fnp.sum(self.w * x) + self.b

    layer = Linear(fnp.asarray(np.array([1.0, 2.0], np.float32)), fnp.asarray(0.5))
    np.testing.assert_allclose(layer(fnp.ones(2)), 3.5)
    layer2 = Linear(fnp.asarray(np.array([3.0, 2.0], np.float32)), fnp.asarray(0.0))
    np.testing.assert_allclose(layer2(fnp.ones(2)), 5.0)


def test_inline_removes_the_call_from_the_jaxpr():
    inner_default = fx.jit(lambda y: y * 2.0)
    inner_inline = fx.jit(lambda y: y * 2.0, inline=True)
    x = fnp.ones(3)
    default = fx.make_jaxpr(lambda x: inner_default(x) + 1.0)(x)
    inlined = fx.make_jaxpr(lambda x: inner_inline(x) + 1.0)(x)
    assert [e.primitive.name for e in default.eqns] == ["jit", "add"]
    assert [e.primitive.name for e in inlined.eqns] == ["mul", "add"]
    assert default.eqns[0].params["name"] == "<lambda>"
    _assert_same(fx.jit(lambda x: inner_inline(x) + 1.0)(x), x * 2.0 + 1.0)


# ---------------------------------------------------------------------------
# staged inspection


def test_trace_lower_compile():
    def f(x):
        return fnp.sum(fnp.sin(x) * 2.0)
    jf = fx.jit(f)
    x = fnp.asarray(np.array([0.1, 0.2, 0.3], np.float32))
    traced = jf.trace(x)
    jaxpr = traced.jaxpr
    assert isinstance(jaxpr, fx.core.ClosedJaxpr)
    assert [e.primitive.name for e in jaxpr.eqns] == ["sin", "mul", "reduce_sum"]
    assert [a.shape for a in jaxpr.in_avals] == [(3,)]
    lowered = jf.lower(x)
    text = lowered.as_text()
    assert isinstance(text, str) and "sin" in text and "reduce_sum" in text
    compiled = lowered.compile()
    _assert_same(compiled(x), f(x))
    _assert_same(jf.lower(fx.ShapeDtypeStruct((3,), np.float32)).compile()(x), f(x))


def test_trace_out_info_and_eval_shape():
    jf = fx.jit(lambda x: {"s": fnp.sum(x), "d": x * 2})
    info = jf.trace(fnp.ones((2, 3))).out_info
    assert info["s"] == fx.ShapeDtypeStruct((), np.float32)
    assert info["d"] == fx.ShapeDtypeStruct((2, 3), np.float32)
    shapes = jf.eval_shape(fx.ShapeDtypeStruct((4,), np.int32))
    assert shapes["d"].shape == (4,) and shapes["d"].dtype == np.int32


def test_compiled_rejects_other_argument_types():
    compiled = fx.jit(lambda x: x * 2).lower(fnp.ones(3)).compile()
    with pytest.raises(TypeError, match=r"f32\[3\]"):
        compiled(fnp.ones(4))


# ---------------------------------------------------------------------------
# disable_jit and side effects


def test_python_side_effects_run_only_when_tracing():
    calls = []

    @fx.jit
    def f(x):
        calls.append(type(x).__name__)
        return x + 1
    f(fnp.ones(2))
    f(fnp.ones(2))
    assert len(calls) == 1 and calls[0] != "Array"  # traced with an abstract value


def test_disable_jit_runs_eagerly():
    calls = []

    @fx.jit
    def f(x):
        calls.append(float(fnp.sum(x)))  # needs a concrete value
        return x * 2

    with fx.disable_jit():
        out = f(fnp.ones(2))
        f(fnp.ones(2))
    assert calls == [2.0, 2.0]
    np.testing.assert_allclose(np.asarray(out), [2.0, 2.0])
    assert f._cache_size() == 0
    with pytest.raises(fx.errors.ConcretizationTypeError):
        f(fnp.ones(2))  # outside the block, jit traces again: float() of a tracer fails


def test_jit_results_are_fx_arrays():
    out = fx.jit(lambda x: (x * 2, fnp.sum(x)))(np.ones(3, np.float32))
    assert all(isinstance(o, fx.Array) for o in out)
    assert isinstance(fx.jit(lambda: 1.0)(), fx.Array)
