"""Refs in the last corners: a checkpointed function's ref writes are replayed by the
backward pass (JAX 0.10.2's counts, checked against JAX where installed and against
counts recorded from it otherwise); derivatives against finite differences. Writes inside
a checkify-ed function all land, a failed check or not, as JAX's."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp


def _counter_fn(mod, policy=None):
    jnp = mod.numpy
    c = mod.new_ref(jnp.int32(0))

    def g(x):
        c[...] += 1
        return jnp.sin(x) * 2

    return c, mod.checkpoint(g, policy=policy)


# (name, call, write count under JAX 0.10.2)
_CASES = [
    ("eager", lambda m, g: g(1.0), 1),
    ("grad", lambda m, g: m.grad(g)(1.0), 2),
    ("vjp forward only", lambda m, g: m.vjp(g, 1.0), 1),
    ("vjp applied", lambda m, g: m.vjp(g, 1.0)[1](1.0), 2),
    ("vjp applied twice", lambda m, g: [f(1.0) for f in [m.vjp(g, 1.0)[1]] * 2], 3),
    ("jvp", lambda m, g: m.jvp(g, (1.0,), (1.0,)), 1),
    ("linearize", lambda m, g: m.linearize(g, 1.0), 1),
    ("linearize applied", lambda m, g: m.linearize(g, 1.0)[1](1.0), 2),
    ("jit(grad)", lambda m, g: m.jit(m.grad(g))(1.0), 2),
    ("value_and_grad", lambda m, g: m.value_and_grad(g)(1.0), 2),
    ("grad(grad)", lambda m, g: m.grad(m.grad(g))(1.0), 3),
]


def _count(mod, call, policy=None):
    c, g = _counter_fn(mod, policy)
    call(mod, g)
    return int(c[...])


@pytest.mark.parametrize("name,call,expected", _CASES, ids=[c[0] for c in _CASES])
def test_checkpoint_write_counts(name, call, expected):
    assert _count(fx, call) == expected


@pytest.mark.parametrize("name,call,expected", _CASES, ids=[c[0] for c in _CASES])
def test_checkpoint_write_counts_match_jax(name, call, expected):
    jax = pytest.importorskip("jax")
    assert _count(jax, call) == expected == _count(fx, call)


@pytest.mark.parametrize("policy,expected", [("everything_saveable", 1),
                                             ("nothing_saveable", 2), ("dots_saveable", 2)])
def test_checkpoint_policies_replay(policy, expected):
    call = lambda m, g: m.grad(g)(1.0)  # noqa: E731
    assert _count(fx, call, getattr(fx.checkpoint_policies, policy)) == expected
    jax = pytest.importorskip("jax")
    assert _count(jax, call, getattr(jax.checkpoint_policies, policy)) == expected


def _nested(mod, wrap):
    jnp = mod.numpy
    c = mod.new_ref(jnp.int32(0))

    @mod.checkpoint
    def inner(x):
        c[...] += 1
        return jnp.sin(x)

    @mod.checkpoint
    def outer(x):
        c[...] += 10
        return inner(x) * 2

    g = wrap(mod, mod.grad(outer))(1.0)
    return int(c[...]), float(g)


@pytest.mark.parametrize("wrap", [lambda m, f: f, lambda m, f: m.jit(f)], ids=["eager", "jit"])
def test_nested_checkpoint_replays_both(wrap):
    count, g = _nested(fx, wrap)
    assert count == 23  # JAX 0.10.2: 11 forward, 10 + 1 outer recompute, 1 inner
    np.testing.assert_allclose(g, 2 * np.cos(1.0), rtol=1e-6)


def _value_dependent(mod):
    jnp = mod.numpy
    r = mod.new_ref(jnp.float32(1.0))

    @mod.checkpoint
    def h(x):
        r[...] = r[...] * 2
        return x * r[...]

    return float(mod.grad(h)(3.0)), float(r[...])


def test_recomputation_reads_the_ref_again():
    # the backward pass recomputes with the ref's value then (2 -> 4): JAX's derivative
    assert _value_dependent(fx) == (4.0, 4.0)
    jax = pytest.importorskip("jax")
    assert _value_dependent(jax) == (4.0, 4.0)


def _partial_write(mod, policy):
    jnp = mod.numpy
    c = mod.new_ref(jnp.zeros(3, jnp.int32))

    def g(x):
        c[1] = c[1] + 1
        return jnp.sin(x)

    y, f = mod.vjp(mod.checkpoint(g, policy=policy), 1.0)
    c[0] = 5
    c[1] = 7
    f(1.0)
    return np.asarray(c[...]).tolist()


@pytest.mark.parametrize("policy,expected", [("everything_saveable", [5, 1, 0]),
                                             ("nothing_saveable", [5, 8, 0])])
def test_replayed_partial_write_touches_only_its_window(policy, expected):
    assert _partial_write(fx, getattr(fx.checkpoint_policies, policy)) == expected
    jax = pytest.importorskip("jax")
    assert _partial_write(jax, getattr(jax.checkpoint_policies, policy)) == expected


def test_replay_under_vmap_refused_as_jax():
    c, g = _counter_fn(fx)
    with pytest.raises(TypeError, match="vmapped"):
        fx.jacrev(g)(fnp.ones(3))
    with pytest.raises(TypeError, match="vmapped"):
        fx.vmap(fx.grad(g))(fnp.ones(3))


def test_ref_passed_to_vmap_replayed_per_example():
    c = fx.new_ref(fnp.zeros(3))

    def f(x, c):
        @fx.checkpoint
        def h(x):
            c[...] += 1.0
            return fnp.sin(x)
        return h(x)

    g = fx.vmap(fx.grad(f), in_axes=(0, 0))(fnp.arange(3.0), c)
    np.testing.assert_allclose(np.asarray(g), np.cos(np.arange(3.0)), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(c[...]), [2.0, 2.0, 2.0])  # as JAX


def test_checkpointed_grads_with_ref_reads_match_finite_differences():
    scale = fx.new_ref(fnp.float32(1.5))

    @fx.checkpoint
    def h(x):
        return fnp.sin(x * scale[...]) * x

    x = 0.7
    eps = 1e-3
    fd = (np.sin((x + eps) * 1.5) * (x + eps) - np.sin((x - eps) * 1.5) * (x - eps)) / (2 * eps)
    np.testing.assert_allclose(float(fx.grad(h)(x)), fd, rtol=1e-3)
    np.testing.assert_allclose(float(fx.jit(fx.grad(h))(x)), fd, rtol=1e-3)
    assert float(scale[...]) == 1.5


def _checkify_writes(mod, checkify, wrap):
    jnp = mod.numpy
    c = mod.new_ref(jnp.int32(0))

    def f(x):
        c[...] += 1
        checkify.check(x > 0, "x must be positive")
        c[...] += 10
        return x * 2

    results = []
    for x in (1.0, -1.0):
        err, y = wrap(mod, checkify.checkify(f))(x)
        results.append((err.get(), float(y), int(c[...])))
    return results


@pytest.mark.parametrize("wrap", [lambda m, f: f, lambda m, f: m.jit(f)], ids=["eager", "jit"])
def test_checkify_writes_land_even_when_a_check_fails(wrap):
    from fx.experimental import checkify
    expected = [(None, 2.0, 11), ("x must be positive (`check` failed)", -2.0, 22)]
    assert _checkify_writes(fx, checkify, wrap) == expected
    pytest.importorskip("jax")
    from jax.experimental import checkify as jax_checkify
    import jax
    assert _checkify_writes(jax, jax_checkify, wrap) == expected


def test_checkify_write_of_a_traced_value_and_read_back():
    from fx.experimental import checkify
    r = fx.new_ref(fnp.zeros(2))

    def f(x):
        r[0] = x
        checkify.check(r[0] < 5.0, "too big: {}", r[0])
        return r[0] + r[1]

    err, y = checkify.checkify(f)(7.0)
    assert "too big: 7.0" in err.get() and float(y) == 7.0
    np.testing.assert_array_equal(np.asarray(r[...]), [7.0, 0.0])
