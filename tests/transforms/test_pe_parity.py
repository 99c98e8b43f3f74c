"""Partial evaluation as JAX 0.10.2 prints it (issue 5).

1. Constants captured by a trace: a 0-d ``fx.Array`` made before the trace is a constvar
   (JAX's rule for a closed-over ``jax.Array`` of any rank), while Python scalars, NumPy
   scalars, 0-d NumPy arrays and 0-d arrays made while tracing stay literals.
2. Dead-code elimination of ``scan`` (``scan_p.dce``): under grad/linearize/vjp the
   linear scan loses the ys tangents nothing reads and the residuals only they needed.

Oracles: the texts JAX prints (compared with JAX itself, skipped without it); the
original jaxpr run by the reference interpreter for the DCE'd one; Python loops and
finite differences (``fx.test_util.check_grads``) for values; eager for jit.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fx
import fx.numpy as fnp
from fx import core, lax
from fx.interpreters import partial_eval as pe
from fx.test_util import check_grads


def _jax():
    return pytest.importorskip("jax")


# ---------------------------------------------------------------------------
# 1. closed-over constants


def _constant_cases(m, mnp):
    """name -> a constant made before the trace, for the library ``m`` (fx or jax)."""
    return {
        "array_f32_strong": mnp.asarray(0.1, mnp.float32),
        "array_f32_weak": mnp.asarray(0.1),
        "array_i32_weak": mnp.asarray(3),
        "array_i32_strong": mnp.asarray(3, mnp.int32),
        "array_bool": mnp.asarray(True),
        "array_rank1": mnp.asarray([0.1]),
        "array_rank2": mnp.ones((1, 3)) * 2,
        "python_float": 0.1,
        "python_int": 3,
        "numpy_float32": np.float32(0.1),
        "numpy_0d_ndarray": np.array(0.25, np.float32),
    }


_CONST_NAMES = list(_constant_cases(fx, fnp))


def _using(m, c, use):
    """A function of x that closes over the constant ``c``."""
    return {
        "mul": lambda x: x * c,
        "grad": m.grad(lambda x: (x * c).sum()),
        "jit": m.jit(lambda x: x * c),
    }[use]


@pytest.mark.parametrize("name", _CONST_NAMES)
@pytest.mark.parametrize("use", ["mul", "grad", "jit"])
def test_closed_over_constant_prints_as_jax(name, use):
    jax = _jax()
    import jax.numpy as jnp
    texts = []
    for m, mnp in ((fx, fnp), (jax, jnp)):
        fun = _using(m, _constant_cases(m, mnp)[name], use)
        texts.append(str(m.make_jaxpr(fun)(mnp.ones(3))))
    assert texts[0] == texts[1]


@pytest.mark.parametrize("name", _CONST_NAMES)
def test_closed_over_constant_output_prints_as_jax(name):
    """Returned as is (no promotion involved), every kind prints as in JAX."""
    jax = _jax()
    import jax.numpy as jnp
    texts = [str(m.make_jaxpr(lambda x, c=_constant_cases(m, mnp)[name]: (x, c))(mnp.ones(3)))
             for m, mnp in ((fx, fnp), (jax, jnp))]
    assert texts[0] == texts[1]


def test_closed_over_0d_array_is_a_constvar():
    lr = fnp.asarray(0.5, fnp.float32)
    closed = fx.make_jaxpr(lambda x: x * lr)(fnp.ones(3))
    assert len(closed.jaxpr.constvars) == 1 and closed.consts[0] is lr
    assert closed.jaxpr.constvars[0].aval.shape == ()


@pytest.mark.parametrize("make", [
    lambda: fnp.asarray(0.5), lambda: fnp.asarray(0.5, fnp.float32),
    lambda: fnp.float32(0.5), lambda: fnp.asarray(2, fnp.int32) * 0.25])
def test_0d_array_made_inside_the_trace_is_a_literal(make):
    closed = fx.make_jaxpr(lambda x: x * make())(fnp.ones(3))
    assert not closed.jaxpr.constvars and not closed.consts
    lits = [v for e in closed.jaxpr.eqns for v in e.invars if isinstance(v, core.Literal)]
    assert lits and {float(v.val) for v in lits} & {0.5, 2.0}


def test_inside_trace_literals_match_jax():
    jax = _jax()
    import jax.numpy as jnp

    def f(mnp):
        def g(x):
            lr = mnp.asarray(0.1, mnp.float32) + 1
            return x * lr, mnp.asarray(0.5)
        return g
    texts = [str(m.make_jaxpr(f(mnp))(mnp.ones(3))) for m, mnp in ((fx, fnp), (jax, jnp))]
    assert texts[0] == texts[1]


def _eager_made_constants(m, mnp):
    def f(x):
        return (x * mnp.asarray(2.0, mnp.float32) * 3.0 + mnp.sin(x.sum())).sum()
    return f


def test_eager_linearize_residuals_match_jax():
    """Under eager linearize every known value is a residual, also a 0-d array made in
    the function and a Python scalar's promoted array (nothing was being staged)."""
    jax = _jax()
    import jax.numpy as jnp
    texts = []
    for m, mnp in ((fx, fnp), (jax, jnp)):
        _, f_lin = m.linearize(_eager_made_constants(m, mnp), mnp.arange(3.0))
        texts.append(str(m.make_jaxpr(f_lin)(mnp.arange(3.0))))
    assert texts[0] == texts[1]
    _, f_lin = fx.linearize(_eager_made_constants(fx, fnp), fnp.arange(3.0))
    np.testing.assert_allclose(np.asarray(f_lin(fnp.ones(3))),
                               18.0 + 9 * np.cos(3.0), rtol=1e-5)


def test_staged_under_vmap_literals_match_jax():
    jax = _jax()
    import jax.numpy as jnp
    texts = []
    for m, mnp in ((fx, fnp), (jax, jnp)):
        f = lambda x, mnp=mnp: x * mnp.asarray(2.0, mnp.float32) * 3.0 + mnp.sin(x)  # noqa
        texts.append(str(m.make_jaxpr(m.vmap(f))(mnp.ones(3))))
        texts.append(str(m.make_jaxpr(m.grad(lambda x, f=f: f(x).sum()))(mnp.ones(3))))
    assert texts[:2] == texts[2:]


def test_stamp():
    a = fnp.asarray(1.0)
    assert not a._traced
    seen = []
    fx.make_jaxpr(lambda x: seen.append(fnp.asarray(2.0)) or x)(1.0)
    fx.make_jaxpr(fx.grad(lambda x: seen.append(fnp.asarray(2.0)) or x))(1.0)
    fx.jit(lambda x: seen.append(fnp.asarray(2.0)) or x)(1.0)
    assert all(a._traced for a in seen)
    eager = []
    fx.grad(lambda x: eager.append(fnp.asarray(2.0)) or x)(1.0)
    fx.vmap(lambda x: eager.append(fnp.asarray(2.0)) or x)(fnp.ones(2))
    assert len(eager) == 2 and not any(a._traced for a in eager)


def test_rebound_literals_stay_literals():
    """Re-evaluating a jaxpr (eagerly first, which caches the literal's weak array, then
    under a trace) keeps its weak literals literals."""
    closed = fx.make_jaxpr(lambda x: x * 2.5)(fnp.ones(3))
    fun = core.jaxpr_as_fun(closed)
    np.testing.assert_allclose(np.asarray(fun(fnp.ones(3))[0]), np.full(3, 2.5))
    again = fx.make_jaxpr(fun)(fnp.ones(3))
    assert not again.jaxpr.constvars
    assert str(again) == str(closed)


@settings(max_examples=15, deadline=None)
@given(st.floats(-4, 4, width=32), st.sampled_from([np.float32, np.int32]))
def test_jit_closed_over_0d_values(value, dtype):
    """A captured 0-d array's value is part of each jitted function (compiled caches key
    on constant values): jit agrees with eager for every value."""
    c = fnp.asarray(np.asarray(value).astype(dtype))
    x = fnp.arange(3.0)
    f = fx.jit(lambda x: x * c + c)
    expected = np.arange(3.0, dtype=np.float32) * np.float32(c) + np.float32(c)
    np.testing.assert_allclose(np.asarray(f(x)), expected, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(f(x)), np.asarray(x * c + c), rtol=1e-6)


def test_jit_two_functions_same_program_different_constants():
    x = fnp.arange(3.0)
    outs = []
    for v in (0.1, 0.2, 0.3):
        outs.append(np.asarray(_using(fx, fnp.asarray(v, fnp.float32), "jit")(x)))
    for v, out in zip((0.1, 0.2, 0.3), outs):
        np.testing.assert_allclose(out, np.arange(3.0) * np.float32(v), rtol=1e-6)


def test_grad_vmap_with_closed_over_0d():
    c = fnp.asarray(1.5, fnp.float32)
    f = lambda x: fnp.sin(x * c).sum()  # noqa: E731
    x = fnp.asarray([0.1, 0.2, 0.3])
    check_grads(f, (x,), order=2, modes=("fwd", "rev"))
    np.testing.assert_allclose(np.asarray(fx.grad(f)(x)), 1.5 * np.cos(1.5 * np.asarray(x)),
                               rtol=1e-6)
    batched = fx.vmap(fx.grad(f))(fnp.stack([x, x * 2]))
    loop = np.stack([np.asarray(fx.grad(f)(r)) for r in (x, x * 2)])
    np.testing.assert_allclose(np.asarray(batched), loop, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(fx.jit(fx.grad(f))(x)), np.asarray(fx.grad(f)(x)),
                               rtol=1e-6)


# ---------------------------------------------------------------------------
# 2. scan dead-code elimination


def _scan_programs(m, mnp, lax_):
    def cumsum_loss(xs):
        def body(c, x):
            c = c + x
            return c, c
        return mnp.sum(lax_.scan(body, np.float32(0), xs)[1])

    def rnn_loss(W, h0, xs):
        def body(h, x):
            h = mnp.tanh(W @ h + x)
            return h, mnp.sum(h ** 2)
        h, ys = lax_.scan(body, h0, xs)
        return mnp.sum(ys) + mnp.sum(h)

    def unused_ys(xs):
        def body(c, x):
            c = mnp.sin(c) * x
            return c, mnp.cos(c)
        return lax_.scan(body, 1.0, xs)[0]

    def unused_carry(xs):
        def body(carry, x):
            a, b = carry
            return (a * x, mnp.exp(b) + x), mnp.sin(a) * x
        return lax_.scan(body, (1.0, 0.5), xs)[1].sum()

    def two_scans(xs):
        def body(c, x):
            return c * mnp.cos(x), (mnp.sin(c), c * x)
        c, (s, p) = lax_.scan(body, 1.0, xs)
        c2, q = lax_.scan(lambda c, x: (c + x, x * c), 0.0, p)
        return c2 + c

    def fori(x):
        return lax_.fori_loop(0, 3, lambda i, c: mnp.sin(c) * 2.0, x)

    xs = mnp.arange(1.0, 5.0) / 4
    W = mnp.ones((3, 3)) * 0.1
    return {
        "cumsum": (cumsum_loss, (xs,)),
        "rnn": (rnn_loss, (W, mnp.ones(3) * 0.5, mnp.ones((4, 3)) * 0.3)),
        "unused_ys": (unused_ys, (xs,)),
        "unused_carry": (unused_carry, (xs,)),
        "two_scans": (two_scans, (xs,)),
        "fori": (fori, (mnp.asarray(0.5),)),
    }


_SCAN_NAMES = list(_scan_programs(fx, fnp, lax))


def _print_marks(name, how):
    if how == "grad" and name == "rnn_w_only":
        return [pytest.mark.xfail(strict=True, reason=(
            "the zeros of h0's instantiated tangent are staged before the forward scan "
            "(JAX stages them in the linear jaxpr, so they print after it)"))]
    return []


@pytest.mark.parametrize("name,how", [
    pytest.param(n, h, marks=_print_marks(n, h))
    for n in [*_SCAN_NAMES, "rnn_w_only"] for h in ("grad", "linearize")])
def test_scan_grad_prints_as_jax(name, how):
    jax = _jax()
    import jax.numpy as jnp
    texts = []
    for m, mnp, lax_ in ((fx, fnp, lax), (jax, jnp, jax.lax)):
        argnums = (0, 1) if name == "rnn" else 0
        f, args = _scan_programs(m, mnp, lax_)["rnn" if name == "rnn_w_only" else name]
        if how == "grad":
            texts.append(str(m.make_jaxpr(m.grad(f, argnums))(*args)))
        else:
            _, f_lin = m.linearize(f, *args)
            texts.append(str(m.make_jaxpr(f_lin)(*args)))
    assert texts[0] == texts[1]


@pytest.mark.parametrize("name", _SCAN_NAMES)
def test_scan_grads_values(name):
    f, args = _scan_programs(fx, fnp, lax)[name]
    check_grads(f, args, order=2, modes=("fwd", "rev"))
    argnums = tuple(range(len(args)))
    eager = fx.grad(f, argnums)(*args)
    jitted = fx.jit(fx.grad(f, argnums))(*args)
    for e, j in zip(eager, jitted):
        np.testing.assert_allclose(np.asarray(j), np.asarray(e), rtol=1e-5, atol=1e-6)


def test_unused_ys_grad_against_a_loop():
    f, (xs,) = _scan_programs(fx, fnp, lax)["unused_ys"]
    xs_np = np.asarray(xs, np.float64)
    c, dc = 1.0, np.zeros(len(xs_np))  # forward-mode by hand: d c_k / d xs
    for k, x in enumerate(xs_np):
        dc = np.cos(c) * dc * x
        dc[k] += np.sin(c)
        c = np.sin(c) * x
    np.testing.assert_allclose(np.asarray(fx.grad(f)(xs)), dc, rtol=1e-5)


def test_linearize_keeps_fewer_residuals():
    """The residual feeding only the dropped ys tangent (sin c, for cos c's derivative)
    is not kept by linearize."""
    f, (xs,) = _scan_programs(fx, fnp, lax)["unused_ys"]
    _, f_lin = fx.linearize(f, xs)
    closed = fx.make_jaxpr(f_lin)(xs)
    (scan_eqn,) = [e for e in closed.jaxpr.eqns if e.primitive.name == "scan"]
    assert len(scan_eqn.invars) == 5  # carry, xs tangent, 3 stacked residuals (not 4)
    assert len(closed.jaxpr.constvars) == 3
    assert len(scan_eqn.outvars) == 1


# -- the dce rule itself -----------------------------------------------------


def _scan_eqn(fun, *args):
    closed = fx.make_jaxpr(fun)(*args)
    (eqn,) = [e for e in closed.jaxpr.eqns if e.primitive.name == "scan"]
    return closed, eqn


def _body(carry, x):
    a, b, c = carry  # a feeds b, c is independent
    return (a * 2.0, b + a * x, fnp.exp(c)), (b * x, fnp.sin(c), x + 1.0)


def _three_carries(xs):
    return lax.scan(_body, (1.0, 0.5, 0.25), xs)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.booleans(), min_size=6, max_size=6))
def test_dce_rule_against_the_interpreter(used):
    xs = fnp.arange(4.0) / 3
    closed, eqn = _scan_eqn(_three_carries, xs)
    expected = core.eval_jaxpr(closed.jaxpr, closed.consts, xs)
    dced, used_inputs = pe.dce_jaxpr(closed.jaxpr, used, instantiate=True, rules=True)
    assert used_inputs == [True]
    got = core.eval_jaxpr(dced, closed.consts, xs)
    want = [e for e, u in zip(expected, used) if u]
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-6)
    scans = [e for e in dced.eqns if e.primitive.name == "scan"]
    if not any(used):
        assert not scans
        return
    (new,) = scans
    used_carry, used_ys = used[:3], used[3:]
    # carry a is needed by b; c by nobody else; ys: b*x needs b, sin c needs c
    need_b = used_carry[1] or used_ys[0]
    need_c = used_carry[2] or used_ys[1]
    need_a = used_carry[0] or need_b
    assert new.params["num_carry"] == need_a + need_b + need_c
    assert len(new.outvars) == new.params["num_carry"] + sum(used_ys)
    assert len(new.invars) == new.params["num_carry"] + (1 if (need_b or used_ys[2]) else 0)
    assert len(new.params["linear"]) == len(new.invars)
    core.check_jaxpr(dced)


def test_dce_rule_keeps_effectful_bodies():
    def f(xs):
        def body(c, x):
            fx.debug.callback(lambda v: None, x)
            return c + x, x * 2
        return lax.scan(body, 0.0, xs)
    closed, eqn = _scan_eqn(f, fnp.arange(3.0))
    used_inputs, new = eqn.primitive.dce([True, False], eqn)
    assert new is eqn and all(used_inputs)


def test_dce_rule_nothing_used():
    closed, eqn = _scan_eqn(_three_carries, fnp.arange(3.0))
    used_inputs, new = eqn.primitive.dce([False] * 6, eqn)
    assert new is None and not any(used_inputs)


def test_dce_rule_nested_scan():
    def f(xs):
        def outer(c, x):
            inner_c, inner_ys = lax.scan(lambda d, y: (d + y, fnp.cos(d)), c, x * fnp.ones(2))
            return inner_c, (inner_ys.sum(), fnp.sin(c))
        return lax.scan(outer, 0.5, xs)
    xs = fnp.arange(3.0)
    closed, eqn = _scan_eqn(f, xs)
    used_inputs, new = eqn.primitive.dce([True, False, False], eqn)
    (inner,) = [e for e in new.params["jaxpr"].jaxpr.eqns if e.primitive.name == "scan"]
    assert len(inner.outvars) == 1  # the inner ys are gone too
    dced, _ = pe.dce_jaxpr(closed.jaxpr, [True, False, False], instantiate=True, rules=True)
    got = core.eval_jaxpr(dced, closed.consts, xs)
    want = core.eval_jaxpr(closed.jaxpr, closed.consts, xs)
    np.testing.assert_allclose(np.asarray(got[0]), np.asarray(want[0]), rtol=1e-6)


def test_dce_without_rules_keeps_equations_whole():
    """Without ``rules`` the kept equations are the original ones, so the used inputs it
    reports hold for them (jit's unused-input pruning relies on that)."""
    xs = fnp.arange(3.0)
    closed, eqn = _scan_eqn(_three_carries, xs)
    dced, used = pe.dce_jaxpr(closed.jaxpr, [True, False, False, False, False, False])
    (kept,) = [e for e in dced.eqns if e.primitive.name == "scan"]
    assert kept is eqn and used == [True]


@pytest.mark.parametrize("name", ["unused_ys", "unused_carry", "two_scans"])
def test_grad_of_jit_with_dead_scan_outputs(name):
    f, args = _scan_programs(fx, fnp, lax)[name]
    eager = fx.grad(f)(*args)
    np.testing.assert_allclose(np.asarray(fx.grad(fx.jit(f))(*args)), np.asarray(eager),
                               rtol=1e-5)
    if name != "two_scans":  # see test_jit_grad_jit_after_jit_grad below
        np.testing.assert_allclose(np.asarray(fx.jit(fx.grad(fx.jit(f)))(*args)),
                                   np.asarray(eager), rtol=1e-5)
    check_grads(fx.jit(f), args, order=1, modes=("rev",))


_REPRO = """
import sys
sys.path.insert(0, {here!r})
import numpy as np, fx, fx.numpy as fnp
from fx import lax
from test_pe_parity import _scan_programs
f, args = _scan_programs(fx, fnp, lax)["two_scans"]
a = fx.jit(fx.grad(f))(*args)
b = fx.jit(fx.grad(fx.jit(f)))(*args)
np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5)
"""


def test_jit_grad_jit_after_jit_grad(tmp_path):
    """Two programs with the same canonical text (the native-code cache key) but literals
    shared differently once got each other's code, built for another slot layout (an
    out-of-bounds read under FX_BOUNDS_CHECK): equal literals now share one slot."""
    import os
    import subprocess
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, FX_CACHE_DIR=str(tmp_path), FX_BOUNDS_CHECK="1")
    done = subprocess.run([sys.executable, "-c", _REPRO.format(here=here)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_cond_dce_rule():
    """``cond_p.dce``: the branches keep the used outputs and the operands they read; the
    linear cond of a grad has no output for the unused one (as JAX's)."""
    def f(x):
        a, b = lax.cond(x.sum() > 0, lambda x: (fnp.sin(x), fnp.cos(x) * x),
                        lambda x: (x * 2.0, fnp.exp(x)), x)
        return a.sum()
    x = fnp.arange(3.0)
    closed = fx.make_jaxpr(f)(x)
    (eqn,) = [e for e in closed.jaxpr.eqns if e.primitive.name == "cond"]
    used_inputs, new = eqn.primitive.dce([True, False], eqn)
    assert used_inputs == [True, True] and len(new.outvars) == 1
    dced, _ = pe.dce_jaxpr(closed.jaxpr, [True], rules=True)
    for v in (x, -x):
        np.testing.assert_allclose(np.asarray(core.eval_jaxpr(dced, closed.consts, v)[0]),
                                   np.asarray(f(v)), rtol=1e-6)
    _, f_lin = fx.linearize(f, x)
    (lin,) = [e for e in fx.make_jaxpr(f_lin)(x).jaxpr.eqns if e.primitive.name == "cond"]
    assert len(lin.outvars) == 1
    check_grads(f, (x,), order=2, modes=("fwd", "rev"))
    check_grads(f, (-x - 1,), order=2, modes=("fwd", "rev"))
