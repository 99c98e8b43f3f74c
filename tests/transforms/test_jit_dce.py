"""Dead-code elimination of ``jit`` calls (``jit_p.dce``), as JAX's pjit rule.

Oracles: the text JAX 0.10.2 prints for a linearized nested jit (compared with JAX
itself when installed, and with its recorded text); the reference interpreter running
the original program for the DCE'd one; finite differences for the linearized values.
"""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import core
from fx._testing import fx_and_jax_modules
from fx.interpreters import partial_eval as pe

# printed by JAX 0.10.2 for _linearized_program (recorded)
JAX_LINEARIZE_TEXT = """{ lambda ; a:f32[3]. let
    b:f32[3] c:f32[3] _:f32[3] d:f32[3] e:f32[3] = jit[
      name=inner
      jaxpr={ lambda ; a:f32[3]. let
          b:f32[3] = sin a
          d:f32[3] = cos a
          f:f32[3] = cos a
          e:f32[3] = sin a
          c:f32[3] = mul f 2.0:f32[]
          _:f32[3] = mul a 3.0:f32[]
        in (b, c, _, d, e) }
    ] a
    g:f32[3] = mul b c
    _:f32[] = reduce_sum[axes=(0,) out_sharding=None] g
    h:f32[3] i:f32[3] = jit[
      name=inner
      jaxpr={ lambda ; d:f32[3] e:f32[3] a:f32[3]. let
          h:f32[3] = mul a d
          j:f32[3] = mul a e
          k:f32[3] = neg j
          i:f32[3] = mul k 2.0:f32[]
        in (h, i) }
    ] d e a
    l:f32[3] = mul h c
    m:f32[3] = mul b i
    n:f32[3] = add_any l m
    o:f32[] = reduce_sum[axes=(0,) out_sharding=None] n
  in (o,) }"""


def _linearized_program(m, mnp):
    @m.jit
    def inner(x):
        return mnp.sin(x), mnp.cos(x) * 2, x * 3

    def f(x):
        a, b, _ = inner(x)
        return mnp.sum(a * b)

    return f, lambda x: m.linearize(f, x)[1](x)


def test_linearize_of_nested_jit_prints_as_jax():
    x = np.ones((3,), np.float32)
    f, lin = _linearized_program(fx, fnp)
    assert str(fx.make_jaxpr(lin)(x)) == JAX_LINEARIZE_TEXT


def test_linearize_of_nested_jit_matches_jax_directly():
    mods = fx_and_jax_modules()
    x = np.ones((3,), np.float32)
    texts = [str(m.make_jaxpr(_linearized_program(m, mnp)[1])(x)) for m, mnp in mods]
    assert texts[0] == texts[1]


def test_linearized_values_against_finite_differences():
    x = np.random.default_rng(0).standard_normal(3).astype(np.float32)
    t = np.random.default_rng(1).standard_normal(3).astype(np.float32)
    f, _ = _linearized_program(fx, fnp)
    _, f_lin = fx.linearize(f, x)
    x64, t64 = x.astype(np.float64), t.astype(np.float64)
    g = lambda v: np.sum(np.sin(v) * np.cos(v) * 2)  # noqa: E731
    eps = 1e-6
    fd = (g(x64 + eps * t64) - g(x64 - eps * t64)) / (2 * eps)
    np.testing.assert_allclose(float(f_lin(t)), fd, rtol=1e-4)


def _jit_eqn(fun, *args):
    closed = fx.make_jaxpr(fun)(*args)
    eqn = next(e for e in closed.jaxpr.eqns if e.primitive.name == "jit")
    return closed, eqn


@pytest.mark.parametrize("used", [(True, False, False), (False, True, False),
                                  (False, False, True), (True, False, True)])
def test_dce_keeps_the_used_outputs_and_their_operands(used):
    inner = fx.jit(lambda a, b, c: (fnp.sin(a), b * 2.0, a + c))
    args = [np.arange(3, dtype=np.float32) + i for i in range(3)]
    closed, eqn = _jit_eqn(inner, *args)
    used_inputs, new = eqn.primitive.dce(list(used), eqn)
    # operands read by the kept outputs, by the definitions above
    reads = [{0}, {1}, {0, 2}]
    want = set().union(*(r for r, u in zip(reads, used) if u))
    assert used_inputs == [i in want for i in range(3)]
    assert len(new.outvars) == sum(used)
    body = new.params["jaxpr"]
    got = core.eval_jaxpr(body.jaxpr, body.consts,
                          *[a for a, u in zip(args, used_inputs) if u])
    full = core.eval_jaxpr(closed.jaxpr, closed.consts, *args)
    for g, f in zip(got, [f for f, u in zip(full, used) if u]):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(f))


def test_dce_respects_keep_unused_and_drops_unused_calls():
    inner = fx.jit(lambda a, b: (a * 2.0, b + 1.0), keep_unused=True)
    args = [np.ones(2, np.float32), np.ones(2, np.float32)]
    _, eqn = _jit_eqn(inner, *args)
    used_inputs, new = eqn.primitive.dce([True, False], eqn)
    assert used_inputs == [True, True] and len(new.invars) == 2
    assert len(new.params["jaxpr"].jaxpr.invars) == 2
    assert eqn.primitive.dce([False, False], eqn) == ([False, False], None)


def test_dce_keeps_effectful_bodies_whole():
    def body(a):
        fx.debug.print("a={a}", a=a)
        return a * 2.0, a + 1.0

    _, eqn = _jit_eqn(fx.jit(body), np.ones(2, np.float32))
    used_inputs, new = eqn.primitive.dce([False, False], eqn)
    assert new is eqn and used_inputs == [True]
    # and the whole-program DCE keeps the print
    closed = fx.make_jaxpr(lambda a: fx.jit(body)(a)[0] * 0.0)(np.ones(2, np.float32))
    dced, _ = pe.dce_jaxpr(closed.jaxpr, [False], rules=True)
    assert any(e.primitive.name == "jit" for e in dced.eqns)


def test_print_inside_an_unused_jit_still_prints(capsys):
    def body(a):
        fx.debug.print("a={a}", a=a)
        return a * 2.0

    outer = fx.jit(lambda a: fx.jit(body)(a) * 0.0 + 1.0)
    np.testing.assert_array_equal(np.asarray(outer(np.ones(2, np.float32))), np.ones(2))
    assert "a=[1. 1.]" in capsys.readouterr().out
