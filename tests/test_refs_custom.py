"""Refs closed over by custom_jvp / custom_vjp functions: reads and writes in the primal
function and in the rules, under eager, jit, grad, vjp, jvp, vmap and make_jaxpr; values
against a plain-Python oracle (the write counts JAX 0.10.2 gives), derivatives against
finite differences, and the same programs against JAX where installed."""
from __future__ import annotations

import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx._testing import fx_and_jax_modules


def _jax():
    return pytest.importorskip("jax")


# ---------------------------------------------------------------------------
# reads


def reads_program(mod, np_mod):
    """A custom_jvp and a custom_vjp function reading a ref in the primal and the rules;
    returns the outputs of every transformation, the ref changed between calls."""
    r = mod.new_ref(np_mod.asarray([2.0, 3.0, -1.0]))

    @mod.custom_jvp
    def f(x):
        return np_mod.sin(x) * r[...]

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), np_mod.cos(x) * r[...] * t

    @mod.custom_vjp
    def g(x):
        return x * x * r[...]

    def g_fwd(x):
        return g(x), x

    def g_bwd(x, ct):
        return (2.0 * x * r[...] * ct,)

    g.defvjp(g_fwd, g_bwd)
    x = np_mod.asarray([0.5, -0.25, 1.5])
    xs = np_mod.stack([x, 2 * x])
    loss_f = lambda x: f(x).sum()  # noqa: E731
    loss_g = lambda x: g(x).sum()  # noqa: E731
    outs = [f(x), g(x), mod.grad(loss_f)(x), mod.grad(loss_g)(x)]
    r[...] = np_mod.asarray([1.0, -2.0, 0.5])  # every later call sees the new value
    outs += [mod.jit(g)(x), mod.jvp(f, (x,), (np_mod.ones(3),))[1],
             mod.jit(mod.grad(loss_f))(x), mod.jit(mod.grad(loss_g))(x),
             mod.grad(mod.jit(loss_g))(x), mod.vmap(g)(xs), mod.vmap(mod.grad(loss_g))(xs)]
    return outs


def reads_oracle():
    x = np.array([0.5, -0.25, 1.5], np.float32)
    r1, r2 = np.array([2.0, 3.0, -1.0]), np.array([1.0, -2.0, 0.5])
    return [np.sin(x) * r1, x * x * r1, np.cos(x) * r1, 2 * x * r1, x * x * r2,
            np.cos(x) * r2, np.cos(x) * r2, 2 * x * r2, 2 * x * r2,
            np.stack([x * x * r2, 4 * x * x * r2]), np.stack([2 * x * r2, 4 * x * r2])]


def test_reads_against_oracle_and_jax():
    want = reads_oracle()
    for mod, np_mod in fx_and_jax_modules():
        got = reads_program(mod, np_mod)
        assert len(got) == len(want)
        for k, (g, w) in enumerate(zip(got, want)):
            np.testing.assert_allclose(np.asarray(g), w, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{mod.__name__} output {k}")


def test_custom_jvp_reading_ref_under_jit_and_grad_of_jit():
    """JAX 0.10.2 cannot jit a custom_jvp closing over a ref (no discharge rule); fx can."""
    r = fx.new_ref(fnp.asarray([2.0, 3.0]))

    @fx.custom_jvp
    def f(x):
        return x * r[...]

    f.defjvp(lambda p, t: (f(p[0]), t[0] * r[...] * 10.0))
    x = fnp.asarray([1.0, 2.0])
    np.testing.assert_allclose(fx.jit(f)(x), [2.0, 6.0])
    np.testing.assert_allclose(fx.grad(fx.jit(lambda x: f(x).sum()))(x), [20.0, 30.0])
    r[...] = fnp.asarray([1.0, 1.0])
    np.testing.assert_allclose(fx.grad(fx.jit(lambda x: f(x).sum()))(x), [10.0, 10.0])


def test_grads_against_finite_differences():
    r = fx.new_ref(fnp.asarray([1.5, -0.5]))

    @fx.custom_vjp
    def g(x):
        return fnp.sin(x) * r[...]

    g.defvjp(lambda x: (g(x), fnp.cos(x)), lambda c, ct: (c * r[...] * ct,))
    loss = lambda x: (g(x) ** 2).sum()  # noqa: E731
    x = np.array([0.3, -1.1], np.float32)
    for grad in (fx.grad(loss), fx.jit(fx.grad(loss)), fx.grad(fx.jit(loss))):
        eps = 1e-3
        fd = [(float(loss(x + eps * e)) - float(loss(x - eps * e))) / (2 * eps)
              for e in np.eye(2, dtype=np.float32)]
        np.testing.assert_allclose(grad(x), fd, rtol=1e-2, atol=1e-3)


def test_make_jaxpr_shows_ref_as_const_operand():
    r = fx.new_ref(fnp.ones(3))

    @fx.custom_vjp
    def f(x):
        return x * r[...]

    f.defvjp(lambda x: (f(x), None), lambda _, g: (g,))
    closed = fx.make_jaxpr(f)(fnp.ones(3))
    assert len(closed.jaxpr.constvars) == 1  # the ref's value, as JAX's Ref{f32[3]} const
    eqn = closed.jaxpr.eqns[0]
    assert eqn.primitive.name == "custom_vjp_call"
    assert eqn.invars[0] is closed.jaxpr.constvars[0]
    assert len(eqn.params["call_jaxpr"].jaxpr.invars) == 2


# ---------------------------------------------------------------------------
# writes: which of the primal's and the rules' writes land (JAX 0.10.2's counts)


def writes_program(mod, np_mod):
    w = mod.new_ref(np_mod.zeros(2))

    @mod.custom_vjp
    def g(x):
        w[...] += 1.0
        return x * 2.0

    def g_fwd(x):
        w[...] += 10.0
        return x * 2.0, None

    def g_bwd(_, ct):
        w[...] += 100.0
        return (ct * 2.0,)

    g.defvjp(g_fwd, g_bwd)

    @mod.custom_jvp
    def h(x):
        w[...] += 1000.0
        return x * 3.0

    @h.defjvp
    def h_jvp(primals, tangents):
        w[...] += 10000.0
        return primals[0] * 3.0, tangents[0] * 3.0

    x = np_mod.ones(2)
    seen, grads = [], []

    def step(value=None):
        seen.append(np.asarray(w[...]).copy())
        if value is not None:
            grads.append(np.asarray(value))

    step(g(x))                                           # the primal runs
    step(mod.grad(lambda x: g(x).sum())(x))              # fwd and bwd, not the primal
    step(mod.vjp(g, x)[0])                               # fwd only
    step(mod.jit(g)(x))                                  # the primal, compiled
    step(mod.jit(mod.grad(lambda x: g(x).sum()))(x))     # fwd and bwd
    step(mod.grad(mod.jit(lambda x: g(x).sum()))(x))     # fwd and bwd
    step(h(x))                                           # the primal
    step(mod.grad(lambda x: h(x).sum())(x))              # the jvp rule, not the primal
    step(mod.jvp(h, (x,), (x,))[1])                      # the jvp rule
    return seen, grads


def writes_oracle():
    counts = [1, 110, 10, 1, 110, 110, 1000, 10000, 10000]
    seen = np.cumsum(counts).astype(np.float32)
    return [np.full(2, v, np.float32) for v in seen]


def test_writes_against_oracle_and_jax():
    want = writes_oracle()
    results = [writes_program(mod, np_mod) for mod, np_mod in fx_and_jax_modules()]
    for seen, grads in results:
        for k, (g, w) in enumerate(zip(seen, want)):
            np.testing.assert_array_equal(g, w, err_msg=f"step {k}")
        np.testing.assert_allclose(grads[1], [2.0, 2.0])
        np.testing.assert_allclose(grads[7], [3.0, 3.0])
    if len(results) == 2:  # the gradients and outputs agree with JAX's too
        for a, b in zip(results[0][1], results[1][1]):
            np.testing.assert_allclose(a, b, rtol=1e-6)


def test_rules_writing_primal_or_cotangent_values():
    """fwd may write primal values and bwd cotangents (neither is differentiated), as in
    JAX; a differentiated value may not be written."""
    def run(mod, np_mod):
        a, b = mod.new_ref(np_mod.zeros(2)), mod.new_ref(np_mod.zeros(2))

        @mod.custom_vjp
        def k(x):
            return x * 2.0

        def k_fwd(x):
            a[...] = x
            return x * 2.0, None

        def k_bwd(_, ct):
            b[...] = ct
            return (ct * 2.0,)

        k.defvjp(k_fwd, k_bwd)
        mod.grad(lambda x: (3.0 * k(x)).sum())(np_mod.full(2, 5.0))
        np.testing.assert_array_equal(np.asarray(a[...]), [5.0, 5.0])
        np.testing.assert_array_equal(np.asarray(b[...]), [3.0, 3.0])

    for mod, np_mod in fx_and_jax_modules():
        run(mod, np_mod)
    r = fx.new_ref(fnp.zeros(2))

    @fx.custom_jvp
    def bad(x):
        return x

    @bad.defjvp
    def bad_jvp(p, t):
        r[...] = t[0]
        return p[0], t[0]

    # under jvp the rule's tangent is a plain value (JAX writes it too) ...
    fx.jvp(bad, (fnp.ones(2),), (fnp.full(2, 3.0),))
    np.testing.assert_array_equal(r[...], [3.0, 3.0])
    # ... under grad it is a linearized (differentiated) value (JAX crashes there)
    with pytest.raises(TypeError, match="differentiated value"):
        fx.grad(lambda x: bad(x).sum())(fnp.ones(2))
    np.testing.assert_array_equal(r[...], [3.0, 3.0])


def test_writes_under_vmap_refused_as_jax():
    w = fx.new_ref(fnp.zeros(2))

    @fx.custom_vjp
    def g(x):
        w[...] += 1.0
        return x * 2.0

    g.defvjp(lambda x: (g(x), None), lambda _, ct: (ct * 2.0,))
    with pytest.raises(TypeError, match="vmapped value on an unbatched array reference"):
        fx.vmap(g)(fnp.ones((3, 2)))
    np.testing.assert_array_equal(w[...], [0.0, 0.0])
    try:
        jax = _jax()
    except pytest.skip.Exception:
        return
    jw = jax.new_ref(jax.numpy.zeros(2))

    @jax.custom_vjp
    def jg(x):
        jw[...] += 1.0
        return x * 2.0

    jg.defvjp(lambda x: (jg(x), None), lambda _, ct: (ct * 2.0,))
    with pytest.raises(Exception, match="vmapped value on an unbatched array reference"):
        jax.vmap(jg)(jax.numpy.ones((3, 2)))
