"""Compiling JAX 0.10's implicit size-1 broadcasts: ``passes.explicit_broadcasts`` turns
them into index-only ``broadcast_in_dim`` ops that fuse into their consumer's loop, so
every compiled program (fusion groups, scan/while bodies, BLAS epilogues, hoisted scan
products) agrees with the reference interpreter, in as many kernels as the explicit form.

Oracles: the reference interpreter (``compile_and_compare``), NumPy, the kernel count of
the same program written with full-shape broadcasts.
"""
from __future__ import annotations

import numpy as np
import pytest

import fx
import fx.numpy as jnp
import primitives as P
from fx import lax
from fx._testing import close, compile_and_compare
from lowering import fusion, passes

RNG = np.random.default_rng(0)


def rand(*shape, dtype=np.float32, lo=-2.0, hi=2.0):
    return RNG.uniform(lo, hi, shape).astype(dtype)


def kernels(f, *args):
    closed = passes.optimize(fx.make_jaxpr(f)(*args))
    return [g for g in fusion.fuse(closed.jaxpr) if g.kind in ("loop", "reduce")]


def implicit_broadcasts(closed):
    found = []
    for e in closed.jaxpr.eqns:
        if e.primitive.name in P.IMPLICIT_BROADCASTING:
            shape = e.outvars[0].aval.shape
            found += [e for v in e.invars if v.aval.shape and v.aval.shape != shape]
    return found


def test_optimize_leaves_no_implicit_broadcast():
    def f(x, y, z):
        return lax.atan2(lax.mul(x, y), lax.add(z, 1.0)) + lax.sub(y, z)
    closed = fx.make_jaxpr(f)(rand(3, 1), rand(1, 4), rand(3, 4))
    assert implicit_broadcasts(closed)
    opt = passes.optimize(closed)
    assert not implicit_broadcasts(opt)
    x, y, z = rand(3, 1), rand(1, 4), rand(3, 4)
    got = fx.core.eval_jaxpr(opt.jaxpr, opt.consts, x, y, z)[0]
    np.testing.assert_allclose(np.asarray(got), np.arctan2(x * y, z + 1) + (y - z), rtol=1e-6)


_BINARY_CASES = [
    ("sub", (64, 33), (64, 1)), ("mul", (5, 1, 7), (1, 6, 7)), ("div", (1, 40), (9, 40)),
    ("max", (8, 1), (1, 8)), ("pow", (16, 16), (16, 1)), ("min", (3, 1, 1), (3, 4, 5)),
    ("lt", (10, 10), (1, 10)), ("rem", (7, 9), (7, 1)), ("nextafter", (4, 1), (4, 6)),
]


@pytest.mark.parametrize("bounds_check", [False, True])
@pytest.mark.parametrize("name,xs,ys", _BINARY_CASES)
def test_binary_primitive_in_a_fusion_group(name, xs, ys, bounds_check):
    prim = P.registry[name]
    x, y = rand(*xs, lo=0.5), rand(*ys, lo=0.5)

    def f(a, b):
        out = prim.bind(lax.exp(a), b)
        return out if out.dtype == np.bool_ else lax.neg(out) * 2.0
    compile_and_compare(f, x, y, compare=close(2e-6, 1e-6), bounds_check=bounds_check)


@pytest.mark.parametrize("dtype", [np.int32, np.uint8])
def test_integer_shifts_and_bitwise(dtype):
    x = RNG.integers(0, 100, (6, 5)).astype(dtype)
    s = RNG.integers(0, 9, (6, 1)).astype(dtype)
    compile_and_compare(lambda a, b: lax.bitwise_xor(lax.shift_left(a, b), lax.shift_right_logical(
        a, b)) & b, x, s, bounds_check=True)


def test_complex_and_float64_operands():
    x, y = rand(4, 1).astype(np.float64), rand(1, 3).astype(np.float64)
    compile_and_compare(lambda a, b: lax.abs(lax.complex(a, b)) + lax.pow(lax.abs(a) + 1, b) +
                        lax.atan2(a, b),
                        x, y, compare=close(1e-12, 1e-12), x64=True, bounds_check=True)


def test_numpy_programs_compile_like_their_explicit_form():
    x, g = rand(32, 48), rand(48)

    def layernorm(v):
        m = v.mean(-1, keepdims=True)
        c = v - m
        return c / jnp.sqrt((c * c).mean(-1, keepdims=True) + 1e-5) * g

    def layernorm_explicit(v):
        m = jnp.broadcast_to(v.mean(-1, keepdims=True), v.shape)
        c = v - m
        s = jnp.broadcast_to(jnp.sqrt((c * c).mean(-1, keepdims=True) + 1e-5), v.shape)
        return c / s * jnp.broadcast_to(g, v.shape)

    for f in (layernorm, fx.nn.softmax, fx.nn.log_softmax, fx.nn.standardize,
              lambda v: v / v.sum(0, keepdims=True)):
        compile_and_compare(f, x, compare=close(1e-5, 1e-6), bounds_check=True)
    assert len(kernels(layernorm, x)) == len(kernels(layernorm_explicit, x))
    assert len(kernels(fx.nn.softmax, x)) <= 3


def test_grad_and_vmap_programs():
    x, w, b = rand(8, 6), rand(6, 4), rand(4)

    def loss(w, b, x):
        logits = x @ w + b
        return -(fx.nn.log_softmax(logits) * (logits > 0)).sum()

    compile_and_compare(fx.grad(loss, (0, 1)), w, b, x, compare=close(1e-5, 1e-5),
                        bounds_check=True)
    compile_and_compare(fx.vmap(fx.grad(loss, (0, 1)), (None, None, 0)), w, b,
                        x.reshape(2, 4, 6), compare=close(1e-5, 1e-5))


def test_matmul_epilogue_with_a_size1_bias():
    x, w, b = rand(16, 32), rand(32, 24), rand(1, 24)
    compile_and_compare(lambda a, m, c: lax.max(lax.dot(a, m) + c, 0.0), x, w, b,
                        compare=close(1e-5, 1e-5), bounds_check=True)


def test_scan_body_with_size1_operands_and_hoisted_products():
    xs, h0, w, u, bias = rand(7, 3, 5), rand(3, 4), rand(5, 4), rand(4, 4), rand(1, 4)

    def rnn(xs, h0, w, u, bias):
        def step(h, x):
            h = jnp.tanh(x @ w + bias + h @ u - h.mean(-1, keepdims=True))
            return h, h
        return lax.scan(step, h0, xs)

    compile_and_compare(rnn, xs, h0, w, u, bias, compare=close(1e-5, 1e-5), bounds_check=True)
    # the body's carry-free x @ w + bias moves out of the loop, batched by vmap (whose
    # unbatched bias gets a size-1 batch dim)
    from lowering.scan_hoist import hoist_scan_products
    hoisted = hoist_scan_products(passes.inline_calls(fx.make_jaxpr(rnn)(xs, h0, w, u, bias)))
    assert [e.primitive.name for e in hoisted.jaxpr.eqns].count("dot_general") == 1


def test_while_and_cond_bodies():
    x, s = rand(4, 6), rand(4, 1, lo=0.5)

    def f(x, s):
        def body(c):
            i, v = c
            return i + 1, lax.cond(i % 2 == 0, lambda v: v * s, lambda v: v - s, v)
        return lax.while_loop(lambda c: c[0] < 5, body, (0, x))[1]

    compile_and_compare(f, x, s, compare=close(1e-5, 1e-6), bounds_check=True)


def test_jit_results_match_numpy():
    x, y = rand(5, 1, 3), rand(1, 4, 1)
    f = fx.jit(lambda a, b: jnp.where(a > b, a * b, a - b) + (a ** 2) / (1 + b * b))
    np.testing.assert_allclose(np.asarray(f(x, y)), np.where(x > y, x * y, x - y) +
                               x ** 2 / (1 + y * y), rtol=1e-5, atol=1e-6)
