"""fx.random.dirichlet as JAX's program and lowering/dirichlet_rewrite.py: the printed
jaxpr (a fixed expectation, and JAX's text where JAX is installed), the rewrite of the
softmax of log-gamma draws into one ``random_dirichlet`` equation (and where it must not
happen), the reference interpreter (FX_COMPILER=0 / disable_jit: the composite, a few
ulps from the compiled draws), distribution checks against SciPy's dirichlet (moments,
Kolmogorov-Smirnov of the Beta marginals), vmap against a loop and the gradient against
the implicit derivative built from SciPy's regularized incomplete gamma function."""
from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.special
import scipy.stats

import fx
from fx._testing import x64_with_jax as _x64
import fx.random as fr
from fx._random import gamma as gamma_module
from fx.interpreters.jit import Executable
from lowering.dirichlet_rewrite import fuse_dirichlet
from lowering.passes import inline_calls, optimize

F32, F64 = np.float32, np.float64
ALPHA = np.array([0.4, 1.0, 2.5, 7.0], F32)


def _names(closed):
    return [e.primitive.name for e in closed.jaxpr.eqns]


# ---------------------------------------------------------------------------
# the program

def test_jaxpr_is_jax_structure():
    closed = fx.make_jaxpr(lambda k, a: fr.dirichlet(k, a, (3,)))(fr.key(0), ALPHA)
    (outer,) = closed.jaxpr.eqns
    assert outer.primitive.name == "jit" and outer.params["name"] == "_dirichlet"
    body = outer.params["jaxpr"]
    assert _names(body) == ["jit", "reduce_max", "max", "broadcast_in_dim", "stop_gradient",
                            "broadcast_in_dim", "sub", "exp", "reduce_sum",
                            "broadcast_in_dim", "broadcast_in_dim", "div"]
    gamma = body.jaxpr.eqns[0]
    assert gamma.params["name"] == "_gamma"
    assert _names(gamma.params["jaxpr"]) == ["broadcast_in_dim", "random_gamma"]
    assert gamma.params["jaxpr"].jaxpr.eqns[1].params == {"log_space": True}
    eqns = body.jaxpr.eqns
    assert eqns[1].params["axes"] == (1,) and eqns[8].params["axes"] == (1,)
    assert float(eqns[2].invars[0].val) == -np.inf
    text = str(closed)
    assert "random_dirichlet" not in text and "random_gamma[log_space=True]" in text


def _inline_shared(text: str) -> str:
    """``text`` with each sub-jaxpr printed first (``let name = { ... } in``, as JAX prints
    one used twice or longer than 10 equations) put back where ``jaxpr=name`` refers to it."""
    shared = {}
    while text.startswith("let "):
        name, rest = text[len("let "):].split(" = ", 1)
        end = rest.index(" } in\n")
        shared[name] = rest[:end + len(" }")]
        text = rest[end + len(" } in\n"):]
    for name, body in shared.items():
        text = text.replace(f"jit[name={name} jaxpr={name}]",
                            f"jit[\nname={name}\njaxpr={body}\n]")
    return text


def _normalized(text: str, drop_full_broadcasts: bool):
    """The primitives and their printed params, in order, without variable names; the
    (fx-only) broadcasts to the full shape before sub and div dropped on request."""
    out = []
    for line in _inline_shared(text).splitlines():
        line = line.strip()
        named = re.match(r"name=(\w+)", line)
        if named:
            out.append(f"name={named.group(1)}")
            continue
        m = re.match(r"^[\w:\[\],]+ = (\w+)(\[[^\]]*\])?", line)
        if not m:
            continue
        prim, params = m.group(1), m.group(2) or ""
        if drop_full_broadcasts and prim == "broadcast_in_dim" and \
                params == "[broadcast_dimensions=(0, 1)]":
            continue
        out.append(prim + params)
    return out


@pytest.mark.jax
def test_jaxpr_text_matches_jax():
    jax = pytest.importorskip("jax")
    want = str(jax.make_jaxpr(lambda k, a: jax.random.dirichlet(k, a, (3,)))(
        jax.random.key(0), ALPHA))
    got = str(fx.make_jaxpr(lambda k, a: fr.dirichlet(k, a, (3,)))(fr.key(0), ALPHA))
    # (fx's binary primitives need equal shapes: JAX 0.10 broadcasts the kept axis)
    assert len(_normalized(want, False)) == 15  # 2 jits and their names, 11 equations
    assert _normalized(got, True) == _normalized(want, False)


def test_the_rewrite_replaces_the_chain():
    closed = fx.make_jaxpr(lambda k, a: fr.dirichlet(k, a, (3,)))(fr.key(0), ALPHA)
    assert _names(fuse_dirichlet(inline_calls(closed))) == ["broadcast_in_dim",
                                                            "random_dirichlet"]
    assert "random_dirichlet" in _names(optimize(closed))
    # eager and jitted draws are the kernel's (XLA's arithmetic)
    from fx._random.gamma_xla import dirichlet_f32
    want = dirichlet_f32(np.asarray(fr.key_data(fr.key(0))), np.broadcast_to(ALPHA, (3, 4)))
    np.testing.assert_array_equal(np.asarray(fr.dirichlet(fr.key(0), ALPHA, (3,))), want)
    batched = fx.make_jaxpr(fx.vmap(lambda k: fr.dirichlet(k, ALPHA, (3,))))(
        fr.split(fr.key(0), 2))
    assert "random_dirichlet" in _names(optimize(batched))
    assert "random_gamma" not in _names(optimize(batched))


def test_no_rewrite_where_an_intermediate_is_used_elsewhere():
    def both(k, a):  # the draws are an output too
        log_g = fr.loggamma(k, a, (3, 4))
        return gamma_module._softmax(log_g, -1), log_g

    closed = fx.make_jaxpr(both)(fr.key(0), ALPHA)
    assert "random_dirichlet" not in _names(optimize(closed))
    out, log_g = fx.jit(both)(fr.key(0), ALPHA)
    e = np.exp(np.asarray(log_g, F64))
    np.testing.assert_allclose(out, e / e.sum(-1, keepdims=True), rtol=3e-6)
    # the gradient reads the draws: the composite runs, close to the rewritten draws
    grad_prog = fx.make_jaxpr(fx.grad(lambda a: fr.dirichlet(fr.key(0), a)[0]))(ALPHA)
    assert "random_dirichlet" not in _names(optimize(grad_prog))
    # 16-bit floats are rewritten too (their sum runs in float32, as JAX's)
    half = fx.make_jaxpr(lambda k: fr.dirichlet(k, ALPHA, (3,), dtype="float16"))(fr.key(0))
    assert "random_dirichlet" in _names(optimize(half))


@pytest.mark.parametrize("dtype", [F32, F64])
def test_reference_interpreter_runs_the_composite(dtype):
    """FX_COMPILER=0 and disable_jit evaluate JAX's composite with NumPy: a few ulps from
    the compiled draws (which are XLA's)."""
    with _x64():
        alpha = ALPHA.astype(dtype)
        def draw(k, a):
            return fr.dirichlet(k, a, (50,), dtype=dtype)

        closed = fx.make_jaxpr(draw)(fr.key(3), alpha)
        compiled = np.asarray(draw(fr.key(3), alpha))
        key_data = np.asarray(fr.key_data(fr.key(3)))
        (reference,) = Executable(closed)([key_data, alpha])
        with fx.disable_jit():
            eager = np.asarray(draw(fr.key(3), alpha))
        assert compiled.dtype == reference.dtype == eager.dtype == dtype
        ulps = 4 * np.finfo(dtype).eps
        np.testing.assert_allclose(reference, compiled, rtol=ulps, atol=1e-30)
        np.testing.assert_allclose(eager, compiled, rtol=ulps, atol=1e-30)


# ---------------------------------------------------------------------------
# distribution and derivatives, without JAX

@pytest.mark.parametrize("dtype", [F32, F64])
def test_moments_and_marginals_match_scipy(dtype):
    alpha = np.array([0.3, 1.0, 2.5], F64)
    with _x64():
        draws = np.asarray(fr.dirichlet(fr.key(5), alpha.astype(dtype), (20000,), dtype=dtype),
                           F64)
    assert draws.shape == (20000, 3)
    np.testing.assert_allclose(draws.sum(-1), 1, rtol=4 * np.finfo(dtype).eps * 3)
    dist = scipy.stats.dirichlet(alpha)
    se = np.sqrt(dist.var() / draws.shape[0])
    assert np.all(np.abs(draws.mean(0) - dist.mean()) < 5 * se)
    np.testing.assert_allclose(draws.var(0), dist.var(), rtol=0.06)
    for i, a in enumerate(alpha):
        marginal = scipy.stats.beta(a, alpha.sum() - a)
        assert scipy.stats.kstest(draws[:, i], marginal.cdf).pvalue > 1e-3


def test_vmap_equals_a_loop_within_one_regime():
    """Keys batched into one program of fewer than 4096 elements (and at least 16):
    the same XLA regime as each key's own program, so the same bits."""
    keys = fr.split(fr.key(7), 3)
    batched = np.asarray(fx.vmap(lambda k: fr.dirichlet(k, ALPHA, (10,)))(keys))
    for i in range(3):
        np.testing.assert_array_equal(batched[i],
                                      np.asarray(fr.dirichlet(keys[i], ALPHA, (10,))))


def _implicit_gamma_grad(a, g):
    """d g / d a with the CDF held fixed: -(dP(a, g)/da) / (dP(a, g)/dg) (SciPy)."""
    h = 1e-6 * a
    d_a = (scipy.special.gammainc(a + h, g) - scipy.special.gammainc(a - h, g)) / (2 * h)
    density = np.exp((a - 1) * np.log(g) - g - scipy.special.gammaln(a))
    return -d_a / density


def test_gradient_is_the_reparameterized_one():
    alpha = np.array([0.7, 2.0, 4.0, 1.5])
    key = fr.key(2)
    with _x64():
        jac = np.asarray(fx.jacrev(lambda a: fr.dirichlet(key, a))(alpha))
        x = np.asarray(fr.dirichlet(key, alpha))
        g = np.exp(np.asarray(fr.loggamma(key, alpha)))
    np.testing.assert_allclose(x, g / g.sum(), rtol=1e-12)
    dlog_g = _implicit_gamma_grad(alpha, g) / g
    want = (np.diag(x) - np.outer(x, x)) * dlog_g[None, :]
    np.testing.assert_allclose(jac, want, rtol=2e-5, atol=1e-9)
    # float32, forward and reverse agree
    fwd = np.asarray(fx.jacfwd(lambda a: fr.dirichlet(key, a))(ALPHA))
    rev = np.asarray(fx.jacrev(lambda a: fr.dirichlet(key, a))(ALPHA))
    np.testing.assert_allclose(fwd, rev, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fwd.sum(0), 0, atol=1e-6)
