"""Tests of fx.example_libraries.optimizers: every optimizer's trajectory against a
NumPy transcription of its update rule (and against JAX's optimizers), the
OptimizerState pytree under jit/vmap/fori_loop, pack/unpack, schedules,
l2_norm/clip_grads, and the errors.
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import tree_util
from fx.example_libraries import optimizers as opt

RNG = np.random.RandomState(0)
PARAMS = {"w": RNG.randn(3, 2).astype(np.float32), "b": RNG.randn(2).astype(np.float32),
          "s": np.float32(0.7)}
TARGET = {"w": RNG.randn(3, 2).astype(np.float32), "b": RNG.randn(2).astype(np.float32),
          "s": np.float32(-0.3)}


def loss(params):
    return sum(fnp.sum((params[k] - TARGET[k]) ** 4 + (params[k] - TARGET[k]) ** 2)
               for k in params)


def np_grad(params):
    return {k: 4 * (v - TARGET[k]) ** 3 + 2 * (v - TARGET[k]) for k, v in params.items()}


# NumPy transcriptions of the update rules: state per leaf, (step, grad, state) -> state


def np_rules(name, lr=0.05):
    if name == "sgd":
        return (lambda x: x, lambda i, g, x: x - lr * g, lambda x: x)
    if name in ("momentum", "nesterov"):
        mass = 0.8

        def update(i, g, s):
            x, v = s
            v = mass * v + g
            step = (mass * v + g) if name == "nesterov" else v
            return x - lr * step, v
        return (lambda x: (x, np.zeros_like(x)), update, lambda s: s[0])
    if name == "adagrad":
        def update(i, g, s):
            x, g_sq, m = s
            g_sq = g_sq + g * g
            inv = np.where(g_sq > 0, 1 / np.sqrt(np.where(g_sq > 0, g_sq, 1)), 0)
            m = 0.1 * (g * inv) + 0.9 * m
            return x - lr * m, g_sq, m
        return (lambda x: (x, np.zeros_like(x), np.zeros_like(x)), update, lambda s: s[0])
    if name == "rmsprop":
        def update(i, g, s):
            x, avg = s
            avg = avg * 0.9 + g * g * 0.1
            return x - lr * g / np.sqrt(avg + 1e-8), avg
        return (lambda x: (x, np.zeros_like(x)), update, lambda s: s[0])
    if name == "rmsprop_momentum":
        def update(i, g, s):
            x, avg, mom = s
            avg = avg * 0.9 + g * g * 0.1
            mom = 0.9 * mom + lr * g / np.sqrt(avg + 1e-8)
            return x - mom, avg, mom
        return (lambda x: (x, np.zeros_like(x), np.zeros_like(x)), update, lambda s: s[0])
    if name == "adam":
        def update(i, g, s):
            x, m, v = s
            m = 0.1 * g + 0.9 * m
            v = 0.001 * g * g + 0.999 * v
            mhat, vhat = m / (1 - 0.9 ** (i + 1)), v / (1 - 0.999 ** (i + 1))
            return x - lr * mhat / (np.sqrt(vhat) + 1e-8), m, v
        return (lambda x: (x, np.zeros_like(x), np.zeros_like(x)), update, lambda s: s[0])
    if name == "adamax":
        def update(i, g, s):
            x, m, u = s
            m = 0.1 * g + 0.9 * m
            u = np.maximum(0.999 * u, np.abs(g))
            return x - lr / (1 - 0.9 ** (i + 1)) * m / (u + 1e-8), m, u
        return (lambda x: (x, np.zeros_like(x), np.zeros_like(x)), update, lambda s: s[0])
    if name == "sm3":
        def init(x):
            x1 = np.atleast_1d(x)
            return x1, np.zeros_like(x1), [np.zeros(n) for n in x1.shape], np.shape(x)

        def update(i, g, s):
            x, m, vs, shape = s
            g = np.atleast_1d(g)
            accum = np.full(g.shape, np.inf)
            for ax, v in enumerate(vs):
                idx = [None] * g.ndim
                idx[ax] = slice(None)
                accum = np.minimum(accum, v[tuple(idx)])  # (g is at least 1-D here)
            accum = accum + g * g
            inv = np.where(accum > 0, 1 / np.sqrt(np.where(accum > 0, accum, 1)), 0)
            m = 0.1 * (g * inv) + 0.9 * m
            x = x - lr * m
            vs = [accum.max(axis=tuple(a for a in range(x.ndim) if a != j))
                  for j in range(x.ndim)]
            return x, m, vs, shape
        return (init, update, lambda s: s[0].reshape(s[3]))
    raise ValueError(name)


FX_OPTIMIZERS = {
    "sgd": lambda: opt.sgd(0.05), "momentum": lambda: opt.momentum(0.05, 0.8),
    "nesterov": lambda: opt.nesterov(0.05, mass=0.8), "adagrad": lambda: opt.adagrad(0.05),
    "rmsprop": lambda: opt.rmsprop(0.05), "rmsprop_momentum": lambda: opt.rmsprop_momentum(0.05),
    "adam": lambda: opt.adam(0.05), "adamax": lambda: opt.adamax(0.05),
    "sm3": lambda: opt.sm3(0.05),
}


def _run_fx(optimizer, steps=6, jit=False):
    init_fun, update_fun, get_params = optimizer
    state = init_fun(PARAMS)

    def step(i, state):
        return update_fun(i, fx.grad(loss)(get_params(state)), state)

    step = fx.jit(step) if jit else step
    for i in range(steps):
        state = step(i, state)
    return get_params(state)


@pytest.mark.parametrize("name", sorted(FX_OPTIMIZERS))
def test_trajectory_matches_numpy(name):
    fx_params = _run_fx(FX_OPTIMIZERS[name]())
    init_np, update_np, params_np = np_rules(name)
    states = {k: init_np(np.asarray(v, np.float64)) for k, v in PARAMS.items()}
    for i in range(6):
        grads = np_grad({k: params_np(s) for k, s in states.items()})
        states = {k: update_np(i, grads[k], s) for k, s in states.items()}
    for k in PARAMS:
        out = np.asarray(fx_params[k])
        assert out.dtype == np.float32 and out.shape == np.shape(PARAMS[k]), k
        np.testing.assert_allclose(out, params_np(states[k]), rtol=2e-5, atol=2e-6,
                                   err_msg=f"{name}:{k}")


@pytest.mark.parametrize("name", ["adam", "sm3", "momentum"])
def test_jit_and_fori_loop_match_eager(name):
    eager = _run_fx(FX_OPTIMIZERS[name]())
    jitted = _run_fx(FX_OPTIMIZERS[name](), jit=True)
    init_fun, update_fun, get_params = FX_OPTIMIZERS[name]()

    def body(i, state):
        return update_fun(i, fx.grad(loss)(get_params(state)), state)

    looped = get_params(fx.lax.fori_loop(0, 6, body, init_fun(PARAMS)))
    for k in PARAMS:
        np.testing.assert_allclose(np.asarray(jitted[k]), np.asarray(eager[k]), rtol=1e-6,
                                   atol=1e-7)
        np.testing.assert_allclose(np.asarray(looped[k]), np.asarray(eager[k]), rtol=1e-6,
                                   atol=1e-7)


def test_vmap_over_optimizer_states():
    init_fun, update_fun, get_params = opt.adam(0.1)
    xs = np.array([[1.0, 2.0], [-1.0, 0.5], [3.0, 3.0]], np.float32)

    def run(x):
        state = init_fun(x)
        for i in range(3):
            state = update_fun(i, fx.grad(lambda p: fnp.sum(p ** 2))(get_params(state)), state)
        return get_params(state)

    batched = fx.vmap(run)(xs)
    for i in range(3):
        np.testing.assert_allclose(np.asarray(batched)[i], np.asarray(run(xs[i])), rtol=1e-6)


@pytest.mark.parametrize("name", sorted(FX_OPTIMIZERS))
def test_matches_jax(name, jax):
    from jax.example_libraries import optimizers as jopt
    import jax.numpy as jnp
    makers = {"sgd": lambda o: o.sgd(0.05), "momentum": lambda o: o.momentum(0.05, 0.8),
              "nesterov": lambda o: o.nesterov(0.05, 0.8), "adagrad": lambda o: o.adagrad(0.05),
              "rmsprop": lambda o: o.rmsprop(0.05),
              "rmsprop_momentum": lambda o: o.rmsprop_momentum(0.05),
              "adam": lambda o: o.adam(0.05), "adamax": lambda o: o.adamax(0.05),
              "sm3": lambda o: o.sm3(0.05)}
    j_init, j_update, j_params = makers[name](jopt)
    state = j_init({k: jnp.asarray(v) for k, v in PARAMS.items()})
    for i in range(6):
        p = j_params(state)
        grads = {k: 4 * (v - TARGET[k]) ** 3 + 2 * (v - TARGET[k]) for k, v in p.items()}
        state = j_update(i, grads, state)
    expected = j_params(state)
    out = _run_fx(FX_OPTIMIZERS[name]())
    for k in PARAMS:
        np.testing.assert_allclose(np.asarray(out[k]), np.asarray(expected[k]), rtol=1e-5,
                                   atol=1e-6, err_msg=f"{name}:{k}")


def test_state_is_a_pytree_and_packs():
    init_fun, update_fun, get_params = opt.momentum(0.1, 0.9)
    state = init_fun(PARAMS)
    assert isinstance(state, opt.OptimizerState)
    leaves = tree_util.tree_leaves(state)
    assert len(leaves) == 2 * len(PARAMS)  # (x, velocity) per parameter
    doubled = tree_util.tree_map(lambda x: x * 2, state)
    np.testing.assert_allclose(np.asarray(get_params(doubled)["w"]), 2 * PARAMS["w"])
    marked = opt.unpack_optimizer_state(tree_util.tree_map(np.asarray, state))
    assert isinstance(marked["w"], opt.JoinPoint)
    restored = opt.pack_optimizer_state(pickle.loads(pickle.dumps(marked)))
    assert tree_util.tree_structure(restored) == tree_util.tree_structure(
        tree_util.tree_map(np.asarray, state))
    for a, b in zip(tree_util.tree_leaves(restored), leaves, strict=False):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(TypeError, match="JoinPoint"):
        opt.pack_optimizer_state({"w": 1.0})


def test_schedules():
    i = np.arange(0, 50, 7)
    np.testing.assert_allclose([float(opt.constant(0.1)(k)) for k in i], 0.1)
    np.testing.assert_allclose([float(opt.exponential_decay(0.1, 10, 0.5)(k)) for k in i],
                               0.1 * 0.5 ** (i / 10), rtol=1e-6)
    np.testing.assert_allclose([float(opt.inverse_time_decay(0.1, 10, 0.5)(k)) for k in i],
                               0.1 / (1 + 0.5 * i / 10), rtol=1e-6)
    np.testing.assert_allclose(
        [float(opt.inverse_time_decay(0.1, 10, 0.5, staircase=True)(k)) for k in i],
        0.1 / (1 + 0.5 * np.floor(i / 10)), rtol=1e-6)
    np.testing.assert_allclose(
        [float(opt.polynomial_decay(0.1, 20, 0.01, power=2.0)(k)) for k in i],
        (1 - np.minimum(i, 20) / 20) ** 2 * 0.09 + 0.01, rtol=1e-5)
    pc = opt.piecewise_constant([5, 20], [1.0, 0.5, 0.1])
    np.testing.assert_allclose([float(pc(k)) for k in (0, 5, 6, 20, 21, 100)],
                               [1.0, 1.0, 0.5, 0.5, 0.1, 0.1])
    assert float(fx.jit(pc)(np.int32(7))) == 0.5
    assert opt.make_schedule(pc) is pc and float(opt.make_schedule(0.3)(5)) == 0.3
    with pytest.raises(TypeError):
        opt.make_schedule(np.ones(3))
    with pytest.raises(ValueError, match="one shorter"):
        opt.piecewise_constant([1, 2], [1.0, 0.5])
    # a schedule drives the step size of an optimizer
    init_fun, update_fun, get_params = opt.sgd(opt.piecewise_constant([1], [1.0, 0.0]))
    state = init_fun(np.float32(1.0))
    for k in range(3):
        state = update_fun(k, np.float32(1.0), state)
    assert float(get_params(state)) == pytest.approx(-1.0)


def test_l2_norm_and_clip_grads():
    tree = {"a": np.array([3.0, 4.0], np.float32), "b": [np.float32(12.0)]}
    assert float(opt.l2_norm(tree)) == pytest.approx(13.0)
    clipped = opt.clip_grads(tree, 6.5)
    np.testing.assert_allclose(np.asarray(clipped["a"]), [1.5, 2.0], rtol=1e-6)
    assert float(opt.l2_norm(clipped)) == pytest.approx(6.5)
    same = opt.clip_grads(tree, 100.0)
    np.testing.assert_allclose(np.asarray(same["b"][0]), 12.0)
    g = fx.grad(lambda t: opt.l2_norm(t))({"a": np.array([3.0, 4.0], np.float32)})
    np.testing.assert_allclose(np.asarray(g["a"]), [0.6, 0.8], rtol=1e-6)


def test_errors():
    init_fun, update_fun, _ = opt.sgd(0.1)
    state = init_fun({"a": np.ones(2, np.float32)})
    with pytest.raises(TypeError, match="gradient tree"):
        update_fun(0, {"b": np.ones(2, np.float32)}, state)

    @opt.optimizer
    def broken(step_size):
        return (lambda x: (x, x), lambda i, g, s: (s[0],), lambda s: s[0])

    b_init, b_update, _ = broken(0.1)
    with pytest.raises(TypeError, match="output structure"):
        b_update(0, np.float32(1.0), b_init(np.float32(1.0)))
