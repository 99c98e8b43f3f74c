"""Refs touched by custom_jvp/custom_vjp rules inside differentiated loop and cond bodies:
the loop jvp and transpose rules capture the refs the rules touch and thread them as
consts (read) or carries (written), so each write happens once per iteration where the
rule runs. JAX 0.10.2 hoists such writes out of a differentiated scan (its count stays
11 whatever the length: a JAX bug) and raises for cond and custom_vjp; fx counts per
iteration. Derivatives against finite differences and, where JAX runs, against JAX."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import lax

LENGTH = 3


def _custom_jvp_fn(mod):
    jnp = mod.numpy
    c = mod.new_ref(jnp.int32(0))

    @mod.custom_jvp
    def f(x):
        c[...] += 1
        return jnp.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        c[...] += 10
        return f(primals[0]), jnp.cos(primals[0]) * tangents[0]

    return c, f


def _custom_vjp_fn(mod):
    jnp = mod.numpy
    c = mod.new_ref(jnp.int32(0))

    @mod.custom_vjp
    def f(x):
        c[...] += 1
        return jnp.sin(x)

    def fwd(x):
        c[...] += 10
        return jnp.sin(x), x

    def bwd(x, g):
        c[...] += 100
        return (jnp.cos(x) * g,)

    f.defvjp(fwd, bwd)
    return c, f


def _scan(mod, f):
    return lambda x: mod.lax.scan(lambda carry, _: (f(carry), None), x, None,
                                  length=LENGTH)[0]


def _fori(mod, f):
    return lambda x: mod.lax.fori_loop(0, LENGTH, lambda i, v: f(v), x)


def _while(mod, f):
    def g(x):
        return mod.lax.while_loop(lambda s: s[0] < LENGTH, lambda s: (s[0] + 1, f(s[1])),
                                  (0, x))[1]
    return g


def _cond(mod, f):
    return lambda x: mod.lax.cond(x > 0, f, lambda y: y * 2.0, x)


_LOOPS = {"scan": _scan, "fori": _fori, "while": _while, "cond": _cond}
_MAKERS = {"custom_jvp": _custom_jvp_fn, "custom_vjp": _custom_vjp_fn}
_CALLS = {
    "eager": lambda m, g: g(1.0),
    "grad": lambda m, g: m.grad(g)(1.0),
    "jit(grad)": lambda m, g: m.jit(m.grad(g))(1.0),
    "jvp": lambda m, g: m.jvp(g, (1.0,), (1.0,)),
}


def _steps(loop):
    return 1 if loop == "cond" else LENGTH


def _expected(kind, loop, call):
    """Writes per step: the primal adds 1; custom_jvp's rule adds 10 and calls the primal;
    custom_vjp's fwd adds 10 and its bwd 100."""
    per_step = {("custom_jvp", "eager"): 1, ("custom_jvp", "grad"): 11,
                ("custom_jvp", "jit(grad)"): 11, ("custom_jvp", "jvp"): 11,
                ("custom_vjp", "eager"): 1, ("custom_vjp", "grad"): 110,
                ("custom_vjp", "jit(grad)"): 110}[kind, call]
    return per_step * _steps(loop)


_COUNT_CASES = [(k, lp, cl) for k in _MAKERS for lp in _LOOPS for cl in _CALLS
                if not (k == "custom_vjp" and cl == "jvp")
                and not (lp == "while" and cl in ("grad", "jit(grad)"))]


@pytest.mark.parametrize("kind,loop,call", _COUNT_CASES,
                         ids=["-".join(c) for c in _COUNT_CASES])
def test_write_counts(kind, loop, call):
    c, f = _MAKERS[kind](fx)
    _CALLS[call](fx, _LOOPS[loop](fx, f))
    assert int(c[...]) == _expected(kind, loop, call)


def _sin_steps_derivative(x, steps):
    d = 1.0
    for _ in range(steps):
        d *= np.cos(x)
        x = np.sin(x)
    return d


@pytest.mark.parametrize("kind", list(_MAKERS))
@pytest.mark.parametrize("loop", ["scan", "fori", "cond"])
def test_derivatives_match_finite_differences(kind, loop):
    _, f = _MAKERS[kind](fx)
    g = _LOOPS[loop](fx, f)
    x, eps = 0.8, 1e-3
    fd = (np.sin(x + eps) - np.sin(x - eps)) / (2 * eps) if loop == "cond" else None
    if fd is None:
        def ref(v):
            for _ in range(LENGTH):
                v = np.sin(v)
            return v
        fd = (ref(x + eps) - ref(x - eps)) / (2 * eps)
    np.testing.assert_allclose(float(fx.grad(g)(x)), fd, rtol=1e-3)
    np.testing.assert_allclose(float(fx.jit(fx.grad(g))(x)), fd, rtol=1e-3)
    np.testing.assert_allclose(float(fx.grad(g)(x)), _sin_steps_derivative(x, _steps(loop)),
                               rtol=1e-5)


def test_while_jvp_tangent():
    _, f = _custom_jvp_fn(fx)
    _, t = fx.jvp(_while(fx, f), (0.8,), (1.0,))
    np.testing.assert_allclose(float(t), _sin_steps_derivative(0.8, LENGTH), rtol=1e-5)


@pytest.mark.parametrize("loop", ["scan", "fori"])
def test_custom_jvp_grad_value_matches_jax(loop):
    jax = pytest.importorskip("jax")
    _, fj = _custom_jvp_fn(jax)
    _, ff = _custom_jvp_fn(fx)
    expected = float(jax.grad(_LOOPS[loop](jax, fj))(0.8))
    np.testing.assert_allclose(float(fx.grad(_LOOPS[loop](fx, ff))(0.8)), expected,
                               rtol=1e-6)


def test_bwd_reads_the_value_fwd_wrote_per_step():
    """A custom_vjp whose fwd records a scale in a ref and whose bwd reads it: the
    backward scan runs in reverse, so each step's bwd sees the value after all forward
    writes (the ref is carried, not saved per step)."""
    scale = fx.new_ref(fnp.float32(1.0))

    @fx.custom_vjp
    def f(x):
        return x * 2.0

    def fwd(x):
        scale[...] = scale[...] + 1.0
        return x * 2.0, None

    def bwd(_, g):
        return (g * scale[...],)

    f.defvjp(fwd, bwd)
    g = fx.grad(lambda x: lax.scan(lambda c, _: (f(c), None), x, None, length=2)[0])(1.0)
    # forward: scale 1 -> 2 -> 3; backward: both steps read 3
    assert float(scale[...]) == 3.0
    assert float(g) == 9.0


def test_read_only_ref_in_custom_jvp_rule_inside_scan():
    k = fx.new_ref(fnp.float32(3.0))

    @fx.custom_jvp
    def f(x):
        return fnp.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        return fnp.sin(primals[0]), k[...] * tangents[0]  # a deliberately odd rule

    g = fx.grad(lambda x: lax.scan(lambda c, _: (f(c), None), x, None, length=2)[0])(0.5)
    assert float(g) == 9.0
    assert float(k[...]) == 3.0


# ---------------------------------------------------------------------------
# checkpoint inside a differentiated loop or cond, and under grad of jit: the backward
# pass replays the checkpointed writes once per step (the transposed loop carries the
# ref), as JAX 0.10.2 (which raises for cond; fx replays it once, as outside a cond)

def _checkpointed_fn(mod):
    jnp = mod.numpy
    c = mod.new_ref(jnp.int32(0))

    @mod.checkpoint
    def f(x):
        c[...] += 1
        return jnp.sin(x)

    return c, f


_CKPT_CALLS = {
    "eager": lambda m, g: g(1.0),
    "grad": lambda m, g: m.grad(g)(1.0),
    "jit(grad)": lambda m, g: m.jit(m.grad(g))(1.0),
    "jvp": lambda m, g: m.jvp(g, (1.0,), (1.0,)),
    "linearize applied": lambda m, g: m.linearize(g, 1.0)[1](1.0),
    "vjp applied twice": lambda m, g: [b(1.0) for b in [m.vjp(g, 1.0)[1]] * 2],
    "grad(grad)": lambda m, g: m.grad(m.grad(g))(1.0),
    "grad(jit)": lambda m, g: m.grad(m.jit(g))(1.0),
}
# per step, as JAX 0.10.2 counts them
_CKPT_PER_STEP = {"eager": 1, "grad": 2, "jit(grad)": 2, "jvp": 1, "linearize applied": 2,
                  "vjp applied twice": 3, "grad(grad)": 3, "grad(jit)": 2}
_CKPT_WRAPS = {"scan": _scan, "fori": _fori, "cond": _cond, "jit": lambda m, f: m.jit(f)}
_CKPT_CASES = [(w, c) for w in _CKPT_WRAPS for c in _CKPT_CALLS]


def _ckpt_count(mod, wrap, call):
    c, f = _checkpointed_fn(mod)
    _CKPT_CALLS[call](mod, _CKPT_WRAPS[wrap](mod, f))
    return int(c[...])


@pytest.mark.parametrize("wrap,call", _CKPT_CASES, ids=["-".join(c) for c in _CKPT_CASES])
def test_checkpoint_replays_per_step(wrap, call):
    steps = LENGTH if wrap in ("scan", "fori") else 1
    assert _ckpt_count(fx, wrap, call) == _CKPT_PER_STEP[call] * steps


@pytest.mark.parametrize("wrap,call", [("scan", "grad"), ("fori", "jit(grad)"),
                                       ("scan", "vjp applied twice"), ("jit", "grad"),
                                       ("jit", "linearize applied")])
def test_checkpoint_replay_counts_match_jax(wrap, call):
    jax = pytest.importorskip("jax")
    assert _ckpt_count(fx, wrap, call) == _ckpt_count(jax, wrap, call)


def test_checkpoint_in_scan_replay_reads_the_live_value():
    """The backward scan recomputes each step with the ref's value then: the forward pass
    doubles it three times (1 -> 8), the backward pass three more (-> 64), reading 16, 32,
    64 (reverse order of steps does not matter for a product); JAX's derivative."""
    def run(mod):
        jnp = mod.numpy
        r = mod.new_ref(jnp.float32(1.0))

        @mod.checkpoint
        def h(x):
            r[...] = r[...] * 2
            return x * r[...]

        g = mod.grad(lambda x: mod.lax.scan(lambda c, _: (h(c), None), x, None,
                                            length=LENGTH)[0])(3.0)
        return float(g), float(r[...])

    assert run(fx) == (16.0 * 32.0 * 64.0, 64.0)
    jax = pytest.importorskip("jax")
    assert run(jax) == run(fx)
