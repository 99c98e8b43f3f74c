"""``lax.cond`` and ``lax.switch`` under every transformation.

Oracles: the same computation written with a Python ``if`` on concrete values
(eager, and differentiated through plain operations for jvp/vjp/grad), a
Python loop over the batch for ``vmap``, finite differences
(``fx.test_util.check_grads``) and JAX where installed.
"""
from __future__ import annotations

import numpy as np
import pytest

import fx
from fx._testing import assert_trees_close as assert_close
import fx.numpy as fnp
from fx import tree_util
from fx.test_util import check_grads

# ---------------------------------------------------------------------------
# the harness: one computation, every transformation


def _scalar_loss(fn):
    """A scalar, nonlinear summary of ``fn``'s float outputs (for grad)."""
    def loss(*args):
        return sum(fnp.sum(fnp.sin(leaf)) for leaf in tree_util.tree_leaves(fn(*args))
                   if fnp.issubdtype(leaf.dtype, fnp.floating))
    return loss


def _float_outputs(fn):
    def out(*args):
        return [leaf for leaf in tree_util.tree_leaves(fn(*args))
                if fnp.issubdtype(leaf.dtype, fnp.floating)]
    return out


def _with(args, i, value):
    args = list(args)
    args[i] = value
    return args


def check_everything(staged, python, samples, diff, jax_version=None):
    """``staged`` (built with lax control flow) against ``python`` (a Python ``if``/loop
    on concrete values) under eager, jit, vmap over each argument, jvp, vjp, grad of
    grad, jit(vmap(grad)), finite differences and JAX.

    ``samples`` are argument tuples (NumPy values); the first is the main point, the
    others give the batch for vmap. ``diff`` lists the float arguments to
    differentiate."""
    args = [fnp.asarray(a) for a in samples[0]]
    want = python(*args)
    assert_close(staged(*args), want, what="eager")
    assert_close(fx.jit(staged)(*args), want, what="jit")
    # vmap over each argument alone, then over all of them
    for i in range(len(args)):
        batch = fnp.asarray(np.stack([s[i] for s in samples]))
        in_axes = tuple(0 if k == i else None for k in range(len(args)))
        got = fx.vmap(staged, in_axes=in_axes)(*_with(args, i, batch))
        per = [python(*_with(args, i, fnp.asarray(s[i]))) for s in samples]
        assert_close(got, tree_util.tree_map(lambda *xs: np.stack(xs), *per),
                     what=f"vmap over argument {i}")
    stacked = [fnp.asarray(np.stack([s[i] for s in samples])) for i in range(len(args))]
    per = [python(*[fnp.asarray(a) for a in s]) for s in samples]
    assert_close(fx.vmap(staged)(*stacked), tree_util.tree_map(lambda *xs: np.stack(xs), *per),
                 what="vmap over all arguments")
    if not diff:
        return

    def restrict(fn):
        def g(*d):
            full = list(args)
            for k, v in zip(diff, d):
                full[k] = v
            return _float_outputs(fn)(*full)
        return g

    primals = [args[k] for k in diff]
    rng = np.random.RandomState(1)
    tangents = [fnp.asarray(rng.standard_normal(p.shape).astype(np.float32)) for p in primals]
    assert_close(fx.jvp(restrict(staged), primals, tangents),
                 fx.jvp(restrict(python), primals, tangents), rtol=1e-4, atol=1e-5,
                 what="jvp")
    out, pullback = fx.vjp(restrict(staged), *primals)
    out_p, pullback_p = fx.vjp(restrict(python), *primals)
    cts = [fnp.asarray(rng.standard_normal(o.shape).astype(np.float32)) for o in out]
    assert_close(pullback(cts), pullback_p(cts), rtol=1e-4, atol=1e-5, what="vjp")
    d0 = diff[0]
    loss, loss_p = _scalar_loss(staged), _scalar_loss(python)

    def grad_of_grad(lossf):
        inner = fx.grad(lossf, argnums=d0)
        return fx.grad(lambda *a: fnp.sum(fnp.sin(inner(*a))), argnums=d0)(*args)

    assert_close(grad_of_grad(loss), grad_of_grad(loss_p), rtol=1e-4, atol=1e-5,
                 what="grad of grad")
    got = fx.jit(fx.vmap(fx.grad(loss, argnums=d0)))(*stacked)
    want_b = [fx.grad(loss_p, argnums=d0)(*[fnp.asarray(a) for a in s]) for s in samples]
    assert_close(got, np.stack([np.asarray(w) for w in want_b]), rtol=1e-4, atol=1e-5,
                 what="jit(vmap(grad))")
    check_grads(restrict(staged), primals, order=2, modes=("fwd", "rev"))
    if jax_version is not None:
        jax = pytest.importorskip("jax")
        jargs = [np.asarray(a) for a in samples[0]]
        assert_close(staged(*args), jax.jit(jax_version)(*jargs), rtol=1e-5, atol=1e-6,
                     what="value vs JAX")
        jloss = lambda *a: sum(jax.numpy.sum(jax.numpy.sin(leaf))  # noqa: E731
                               for leaf in jax.tree_util.tree_leaves(jax_version(*a))
                               if jax.numpy.issubdtype(leaf.dtype, jax.numpy.floating))
        assert_close(fx.grad(loss, argnums=d0)(*args), jax.jit(jax.grad(jloss, argnums=d0))(*jargs),
                     rtol=1e-4, atol=1e-5, what="grad vs JAX")
        got = fx.vmap(fx.grad(loss, argnums=d0))(*stacked)
        want = jax.jit(jax.vmap(jax.grad(jloss, argnums=d0)))(*[np.asarray(s) for s in stacked])
        assert_close(got, want, rtol=1e-4, atol=1e-5, what="vmap(grad) vs JAX")


def _jax_modules():
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    return jax.lax, jnp


# ---------------------------------------------------------------------------
# the computations: each written once over (lax, numpy) modules, and as Python

rng = np.random.RandomState(0)
X = [rng.uniform(-1.5, 1.5, 3).astype(np.float32) for _ in range(3)]
Y = [rng.uniform(-1.5, 1.5, 3).astype(np.float32) for _ in range(3)]


def basic(L, N):
    return lambda p, x: L.cond(p, lambda x: N.sin(x) * x, lambda x: N.cos(x) + x, x)


def basic_py(p, x):
    return fnp.sin(x) * x if bool(p) else fnp.cos(x) + x


def closure(L, N):
    # the branches read outer (traced) values without taking them as operands
    return lambda p, x, y: L.cond(p, lambda: x * y, lambda: N.exp(x) - y)


def closure_py(p, x, y):
    return x * y if bool(p) else fnp.exp(x) - y


def pytrees(L, N):
    def f(p, x, y):
        return L.cond(p, lambda d: (d["u"] * 2.0, {"w": d["v"] * d["u"]}),
                      lambda d: (d["v"], {"w": N.tanh(d["u"])}), {"u": x, "v": y})
    return f


def pytrees_py(p, x, y):
    return (x * 2.0, {"w": y * x}) if bool(p) else (y, {"w": fnp.tanh(x)})


def int_pred(L, N):  # a numeric predicate: nonzero is true
    return lambda n, x: L.cond(n, lambda x: x * x, lambda x: -x, x)


def int_pred_py(n, x):
    return x * x if int(n) != 0 else -x


def one_zero_branch(L, N):  # one branch has no derivative at all
    return lambda p, x: L.cond(p, lambda x: N.sin(x) ** 2, lambda x: N.ones_like(x), x)


def one_zero_branch_py(p, x):
    return fnp.sin(x) ** 2 if bool(p) else fnp.ones_like(x)


def int_output(L, N):  # an integer output next to a float one
    return lambda p, x: L.cond(p, lambda x: (x * 3.0, N.int32(1)),
                               lambda x: (N.sin(x), N.int32(2)), x)


def int_output_py(p, x):
    return (x * 3.0, fnp.int32(1)) if bool(p) else (fnp.sin(x), fnp.int32(2))


def switch3(L, N):
    return lambda i, x, y: L.switch(i, [lambda x, y: x * y, lambda x, y: N.sin(x) + y,
                                        lambda x, y: x - N.cos(y)], x, y)


def switch3_py(i, x, y):
    i = min(max(int(i), 0), 2)
    return [x * y, fnp.sin(x) + y, x - fnp.cos(y)][i]


def legacy_operand(L, N):
    return lambda p, x: L.cond(p, lambda x: x + 1.0, lambda x: x * x, operand=x)


def legacy_operand_py(p, x):
    return x + 1.0 if bool(p) else x * x


def nested(L, N):
    def f(p, q, x):
        inner = lambda x: L.cond(q, lambda x: N.sin(x), lambda x: x * x, x)  # noqa: E731
        return L.cond(p, inner, lambda x: N.exp(x) * 0.5, x)
    return f


def nested_py(p, q, x):
    if bool(p):
        return fnp.sin(x) if bool(q) else x * x
    return fnp.exp(x) * 0.5


B = [np.bool_(True), np.bool_(False), np.bool_(True)]
CASES = {
    "basic": (basic, basic_py, [(B[i], X[i]) for i in range(3)], [1]),
    "basic_false": (basic, basic_py, [(B[1 - i % 2], X[i]) for i in range(3)], [1]),
    "closure": (closure, closure_py, [(B[i], X[i], Y[i]) for i in range(3)], [1, 2]),
    "pytrees": (pytrees, pytrees_py, [(B[(i + 1) % 3], X[i], Y[i]) for i in range(3)], [1, 2]),
    "int_pred": (int_pred, int_pred_py,
                 [(np.int32(n), X[i]) for i, n in enumerate([3, 0, -2])], [1]),
    "one_zero_branch": (one_zero_branch, one_zero_branch_py,
                        [(B[(i + 1) % 3], X[i]) for i in range(3)], [1]),
    "int_output": (int_output, int_output_py, [(B[i], X[i]) for i in range(3)], [1]),
    "switch3": (switch3, switch3_py,
                [(np.int32(k), X[i], Y[i]) for i, k in enumerate([1, 2, 0])], [1, 2]),
    "switch_clamped": (switch3, switch3_py,
                       [(np.int32(k), X[i], Y[i]) for i, k in enumerate([7, -4, 1])], [1]),
    "legacy_operand": (legacy_operand, legacy_operand_py,
                       [(B[i], X[i]) for i in range(3)], [1]),
    "nested": (nested, nested_py,
               [(B[i], B[(i + 1) % 3], X[i]) for i in range(3)], [2]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_cond_every_transformation(name):
    build, python, samples, diff = CASES[name]
    mods = _jax_modules()
    jax_version = build(*mods) if mods is not None else None
    check_everything(build(fx.lax, fnp), python, samples, diff, jax_version)


# ---------------------------------------------------------------------------
# structure of the staged programs


def _text(jaxpr) -> str:
    return " ".join(str(jaxpr).split())


def test_jaxpr_prints_as_jax():
    jax = pytest.importorskip("jax")
    x = np.ones(3, np.float32)
    for build, args in [(basic, (True, x)), (switch3, (1, x, x)), (closure, (True, x, x))]:
        got = _text(fx.make_jaxpr(build(fx.lax, fnp))(*args))
        want = _text(jax.make_jaxpr(build(jax.lax, jax.numpy))(*args))
        assert got == want


def test_batched_predicate_becomes_select():
    f = fx.vmap(basic(fx.lax, fnp))
    text = _text(fx.make_jaxpr(f)(np.array([True, False]), np.ones((2, 3), np.float32)))
    assert "cond[" not in text and "select_n" in text
    text = _text(fx.make_jaxpr(fx.vmap(basic(fx.lax, fnp), (None, 0)))(
        True, np.ones((2, 3), np.float32)))
    assert text.count("cond[") == 1 and "select_n" not in text


def test_reverse_mode_stages_one_cond_each_way():
    loss = _scalar_loss(basic(fx.lax, fnp))
    jaxpr = fx.make_jaxpr(fx.grad(loss, argnums=1))(True, np.ones(3, np.float32))
    assert [e.primitive.name for e in jaxpr.eqns].count("cond") == 2


def test_linearize_and_linear_transpose():
    f = lambda x: fx.lax.cond(True, lambda x: x * 2.0, lambda x: -x, x)  # noqa: E731
    x = fnp.asarray(X[0])
    out, f_lin = fx.linearize(f, x)
    assert_close(f_lin(fnp.ones(3)), 2.0 * np.ones(3, np.float32))
    (ct,) = fx.linear_transpose(f, x)(fnp.ones(3))
    assert_close(ct, 2.0 * np.ones(3, np.float32))


def test_disable_jit_runs_python():
    with fx.disable_jit():
        assert_close(basic(fx.lax, fnp)(True, fnp.asarray(X[0])), basic_py(True, X[0]))


# ---------------------------------------------------------------------------
# errors


def test_branch_output_types_differ():
    x = fnp.ones(3)
    with pytest.raises(TypeError, match=r"(?s)true_fun has type float32\[3\].*false_fun has "
                                        r"type int32\[3\], so the dtypes do not match"):
        fx.lax.cond(True, lambda x: x, lambda x: x.astype(fnp.int32), x)
    with pytest.raises(TypeError, match=r"(?s)float32\[3\].*float32\[2\], so the shapes"):
        fx.lax.cond(True, lambda x: x, lambda x: fnp.ones(2), x)
    with pytest.raises(TypeError, match=r"(?s)at path \[1\]\['a'\].*float32\[1\]"):
        fx.lax.cond(True, lambda x: (x, {"a": x}), lambda x: (x, {"a": fnp.ones(1)}), x)
    with pytest.raises(TypeError, match=r"(?s)branch 0 has type float32\[3\].*branch 2 has "
                                        r"type int32\[3\]"):
        fx.lax.switch(1, [lambda x: x, lambda x: x, lambda x: x.astype(fnp.int32)], x)


def test_branch_structures_differ():
    with pytest.raises(TypeError, match="same pytree structure"):
        fx.lax.cond(True, lambda x: (x, x), lambda x: x, fnp.ones(3))


def test_bad_predicates_and_indices():
    with pytest.raises(TypeError, match=r"Pred must be a scalar, got .* of shape \(2,\)"):
        fx.lax.cond(fnp.array([True, False]), lambda: 1.0, lambda: 2.0)
    with pytest.raises(TypeError, match="Pred must be a scalar"):
        fx.lax.cond("yes", lambda: 1.0, lambda: 2.0)
    with pytest.raises(TypeError, match="should be callable"):
        fx.lax.cond(True, 1.0, lambda: 2.0)
    with pytest.raises(TypeError, match="Index type must be an integer"):
        fx.lax.switch(1.0, [lambda: 1.0, lambda: 2.0])
    with pytest.raises(ValueError, match="Empty branch sequence"):
        fx.lax.switch(0, [])


def test_primitive_type_checks():
    from primitives.control_flow import cond_p
    f32 = fx.core.ShapedArray((3,), np.float32)
    branch = fx.make_jaxpr(lambda x: x * 2.0)(np.ones(3, np.float32))
    other = fx.make_jaxpr(lambda x: x.astype(fnp.int32))(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="int32 scalar"):
        cond_p.abstract_eval(fx.core.ShapedArray((), np.float32), f32, branches=(branch,))
    with pytest.raises(TypeError, match=r"branch 0 has type float32\[3\].*branch 1 has type "
                                        r"int32\[3\]"):
        cond_p.abstract_eval(fx.core.ShapedArray((), np.int32), f32, branches=(branch, other))


def test_eager_cond_traces_each_branch_once_per_signature():
    calls = []

    def true_fun(x):
        calls.append("t")
        return x + 1.0

    def false_fun(x):
        calls.append("f")
        return x - 1.0

    for v in (1.0, -1.0, 2.0):
        out = fx.lax.cond(v > 0, true_fun, false_fun, fx.numpy.float32(v))
        assert float(out) == (v + 1.0 if v > 0 else v - 1.0)
    assert sorted(calls) == ["f", "t"]  # each branch traced once for this argument type
    fx.lax.cond(True, true_fun, false_fun, fx.numpy.ones(2))
    assert sorted(calls) == ["f", "f", "t", "t"]  # and again for a new one
