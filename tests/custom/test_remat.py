"""``fx.checkpoint``/``fx.remat`` with policies, ``checkpoint_name``, and
``fx.lax.optimization_barrier``.

Oracles: the same function without checkpointing (values and derivatives),
finite differences, a Python loop over the batch for ``vmap``, and JAX: the
backward pass recomputes exactly what JAX's does under each policy (counted
equation by equation inside the ``remat2`` equations of the gradient's jaxpr).
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import fx
import fx.ad_checkpoint
import fx.numpy as fnp
from fx.test_util import check_grads

cp = fx.checkpoint_policies


def close(got, want, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=rtol, atol=atol)


def _subjaxprs(eqn):
    for v in eqn.params.values():
        for x in (v if isinstance(v, tuple) else (v,)):
            if hasattr(x, "eqns"):
                yield x


def recomputed(jaxpr, inside: bool = False) -> Counter:
    """Primitive names of the equations inside ``remat2`` equations (for fx or JAX)."""
    counts: Counter = Counter()
    for eqn in jaxpr.eqns:
        if inside:
            counts[eqn.primitive.name] += 1
        for sub in _subjaxprs(eqn):
            counts += recomputed(sub, inside or eqn.primitive.name == "remat2")
    return counts


def sin_sin(x):
    return fnp.sin(fnp.sin(x))


# ---------------------------------------------------------------------------
# what the backward pass recomputes


@pytest.mark.parametrize("policy, sins, coss", [
    (None, 1, 2),                     # default: only the inputs are saved
    (cp.nothing_saveable, 1, 2),
    (cp.everything_saveable, 0, 0),   # every cos is a residual, nothing is recomputed
])
def test_backward_recomputes_what_the_policy_says(policy, sins, coss):
    grad_jaxpr = fx.make_jaxpr(fx.grad(fx.checkpoint(sin_sin, policy=policy)))(1.0)
    counts = recomputed(grad_jaxpr.jaxpr)
    assert counts["sin"] == sins and counts["cos"] == coss, (counts, grad_jaxpr)
    # the forward pass runs once, outside the recomputation
    top = Counter(e.primitive.name for e in grad_jaxpr.jaxpr.eqns)
    assert top["sin"] == 2 and top["remat2"] == 1
    close(fx.grad(fx.checkpoint(sin_sin, policy=policy))(1.0), fx.grad(sin_sin)(1.0))


def mlp(lib):
    np_ = lib.numpy

    def f(w1, w2, x):
        h = lib.ad_checkpoint.checkpoint_name(np_.sin(np_.dot(w1, x)), "hidden")
        return np_.sum(np_.sin(np_.dot(w2, h)))

    return f


W1 = (np.arange(12, dtype=np.float32).reshape(4, 3) - 5) / 10
W2 = (np.arange(8, dtype=np.float32).reshape(2, 4) - 3) / 10
XV = np.array([0.5, -1.0, 2.0], np.float32)
POLICIES = ["nothing_saveable", "everything_saveable", "dots_saveable",
            "dots_with_no_batch_dims_saveable", "save_only_these_names",
            "save_any_names_but_these"]


def _policy(lib, name):
    if name == "save_only_these_names":
        return lib.checkpoint_policies.save_only_these_names("hidden")
    if name == "save_any_names_but_these":
        return lib.checkpoint_policies.save_any_names_but_these("other")
    return getattr(lib.checkpoint_policies, name)


def test_policy_counts_for_an_mlp():
    want = {"nothing_saveable": dict(dot_general=6, sin=1, cos=2),
            "everything_saveable": dict(dot_general=4, sin=0, cos=0),
            "dots_saveable": dict(dot_general=4, sin=1, cos=2),
            "dots_with_no_batch_dims_saveable": dict(dot_general=4, sin=1, cos=2),
            "save_only_these_names": dict(dot_general=6, sin=0, cos=2),
            "save_any_names_but_these": dict(dot_general=6, sin=0, cos=2)}
    f = mlp(fx)
    plain = fx.grad(f, (0, 1, 2))(W1, W2, XV)
    for name in POLICIES:
        g = fx.grad(fx.checkpoint(f, policy=_policy(fx, name)), (0, 1, 2))
        counts = recomputed(fx.make_jaxpr(g)(W1, W2, XV).jaxpr)
        assert {k: counts[k] for k in want[name]} == want[name], (name, counts)
        for a, b in zip(g(W1, W2, XV), plain):
            close(a, b)


def test_policy_counts_match_jax(jax):
    import jax.ad_checkpoint  # noqa: F401
    for name in POLICIES:
        ours = fx.grad(fx.checkpoint(mlp(fx), policy=_policy(fx, name)), (0, 1, 2))
        theirs = jax.grad(jax.checkpoint(mlp(jax), policy=_policy(jax, name)), (0, 1, 2))
        assert recomputed(fx.make_jaxpr(ours)(W1, W2, XV).jaxpr) == \
            recomputed(jax.make_jaxpr(theirs)(W1, W2, XV).jaxpr), name
        for a, b in zip(ours(W1, W2, XV), theirs(W1, W2, XV)):
            close(a, b)


def test_saved_residuals():
    saved = fx.ad_checkpoint.saved_residuals(fx.checkpoint(sin_sin), 1.0)
    assert [what for _, what in saved] == ["from the argument 0"]
    saved = fx.ad_checkpoint.saved_residuals(
        fx.checkpoint(sin_sin, policy=cp.everything_saveable), 1.0)
    assert sorted(what for _, what in saved) == ["output of cos", "output of cos"]
    names = fx.checkpoint(mlp(fx), policy=cp.save_only_these_names("hidden"))
    saved = fx.ad_checkpoint.saved_residuals(names, W1, W2, XV)
    assert "output of name" in [what for _, what in saved]


# ---------------------------------------------------------------------------
# values and derivatives under every transformation


def test_checkpoint_preserves_values_and_derivatives():
    xs = np.linspace(-2, 2, 5).astype(np.float32)
    for policy in (None, cp.everything_saveable, cp.dots_saveable):
        f = fx.checkpoint(sin_sin, policy=policy)
        close(f(xs), np.sin(np.sin(xs)))
        close(fx.jit(f)(xs), np.sin(np.sin(xs)))
        close(fx.vmap(fx.grad(f))(xs), fx.vmap(fx.grad(sin_sin))(xs))
        close(fx.jit(fx.vmap(fx.grad(f)))(xs), fx.vmap(fx.grad(sin_sin))(xs))
        close(fx.grad(lambda x, f=f: fnp.sum(fx.vmap(f)(x)))(xs),
              np.cos(np.sin(xs)) * np.cos(xs))
        close(fx.vmap(fx.grad(fx.grad(f)))(xs), fx.vmap(fx.grad(fx.grad(sin_sin)))(xs))
        close(fx.jvp(f, (xs,), (fnp.ones(5),))[1], np.cos(np.sin(xs)) * np.cos(xs))


def test_checkpoint_check_grads():
    f = fx.checkpoint(lambda x, y: fnp.sin(x * y) * fnp.exp(y), policy=cp.dots_saveable)
    check_grads(f, (fnp.array([0.3, -0.7]), fnp.array([1.1, 0.2])), order=2)


def test_vmap_of_checkpoint_against_loop():
    f = fx.checkpoint(mlp(fx))
    xs = np.stack([XV, XV * 2, -XV])
    batched = fx.vmap(fx.grad(f, 2), (None, None, 0))(W1, W2, xs)
    looped = np.stack([np.asarray(fx.grad(f, 2)(W1, W2, x)) for x in xs])
    close(batched, looped)
    staged = str(fx.make_jaxpr(fx.vmap(f, (None, None, 0)))(W1, W2, xs))
    assert "remat2[" in staged


def test_checkpoint_inside_scan():
    if not hasattr(fx.lax, "scan"):
        pytest.skip("fx.lax.scan is not available yet")

    def loop(x):
        step = fx.checkpoint(lambda c: fnp.sin(c) * 1.1)
        return fx.lax.scan(lambda c, _: (step(c), None), x, None, length=5)[0]

    def unrolled(x):
        for _ in range(5):
            x = fnp.sin(x) * 1.1
        return x

    close(fx.grad(loop)(0.7), fx.grad(unrolled)(0.7))
    close(fx.jit(fx.grad(loop))(0.7), fx.grad(unrolled)(0.7))


def test_static_argnums_prevent_cse_and_printing(jax):
    def f(x, n):
        for _ in range(n):
            x = fnp.sin(x)
        return x

    g = fx.checkpoint(f, static_argnums=(1,))
    close(fx.grad(g)(1.0, 3), fx.grad(lambda x: f(x, 3))(1.0))
    text = str(fx.make_jaxpr(lambda x: fx.checkpoint(sin_sin, prevent_cse=False)(x))(1.0))
    assert "prevent_cse=False" in text
    jtext = str(jax.make_jaxpr(jax.checkpoint(lambda x: jax.numpy.sin(jax.numpy.sin(x))))(1.0))
    assert str(fx.make_jaxpr(fx.checkpoint(sin_sin))(1.0)) == jtext
    assert str(fx.make_jaxpr(fx.remat(sin_sin))(1.0)) == jtext


def test_checkpoint_name_and_errors(jax):
    from jax.ad_checkpoint import checkpoint_name as jname
    text = str(fx.make_jaxpr(lambda x: fx.ad_checkpoint.checkpoint_name(x, "a"))(1.0))
    assert text == str(jax.make_jaxpr(lambda x: jname(x, "a"))(1.0))
    close(fx.grad(lambda x: fx.ad_checkpoint.checkpoint_name(x * x, "a"))(3.0), 6.0)
    with pytest.raises(TypeError, match="policy must be callable"):
        fx.checkpoint(sin_sin, policy="everything")
    with pytest.raises(TypeError, match="name must be a str"):
        fx.ad_checkpoint.checkpoint_name(1.0, 3)


# ---------------------------------------------------------------------------
# optimization_barrier


def test_optimization_barrier(jax):
    from fx.lax._optimization_barrier import optimization_barrier as barrier

    def f(x):
        a, b = barrier((fnp.sin(x), x * 2.0))
        return a * b

    xs = np.linspace(-1, 1, 4).astype(np.float32)
    want = np.sin(xs) * 2 * xs
    close(fx.vmap(f)(xs), want)
    close(fx.jit(fx.vmap(f))(xs), want)
    close(fx.vmap(fx.grad(f))(xs), 2 * np.cos(xs) * xs + 2 * np.sin(xs))
    close(fx.jvp(fx.vmap(f), (xs,), (np.ones(4, np.float32),))[1],
          2 * np.cos(xs) * xs + 2 * np.sin(xs))
    text = str(fx.make_jaxpr(lambda x: barrier((x, x + 1.0)))(1.0))
    jtext = str(jax.make_jaxpr(lambda x: jax.lax.optimization_barrier((x, x + 1.0)))(1.0))
    assert text == jtext
