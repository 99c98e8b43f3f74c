"""Fused groups store a value their body would evaluate many times over
(lowering/fusion_replication.py): an odd-reflection pad is a chain of concatenations in
which each chunk reads the previous one twice, so fusing the chain whole doubled the
generated code at every link (a width-10 pad took 70 s to compile).

Oracles: NumPy's ``np.pad`` for values; the reference interpreter for the compiled
program; the fusion plan itself for which values are stored.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fx
import fx.numpy as jnp
from fx.core import eval_jaxpr
from lowering import fusion, passes
from lowering.cpu.compile import compile as compile_native
from lowering.fusion_replication import LIMIT


def _compiled(f, *args):
    closed = fx.make_jaxpr(f)(*args)
    exe = compile_native(closed, bounds_check=True)
    assert exe.fallbacks == [], [e.primitive.name for e in exe.fallbacks]
    return closed, exe


@pytest.mark.parametrize("mode", ["reflect", "symmetric"])
@pytest.mark.parametrize("width", [1, 6, 12])
def test_odd_reflection_pad_compiles_and_matches_numpy(mode, width):
    x = np.arange(12.0, dtype=np.float32).reshape(3, 4) ** 1.5
    pads = ((width, width), (width, 1))
    f = lambda v: jnp.pad(v, pads, mode, reflect_type="odd")  # noqa: E731
    closed, exe = _compiled(f, x)
    want = np.pad(x.astype(np.float64), pads, mode, reflect_type="odd")
    # float32 rounding accumulates over the reflection rounds (JAX's eager is as far off)
    np.testing.assert_allclose(exe([x])[0], want, rtol=1e-5, atol=2e-6 * np.abs(want).max())
    np.testing.assert_allclose(exe([x])[0], eval_jaxpr(closed.jaxpr, closed.consts, x)[0],
                               rtol=1e-6, atol=1e-5)


def _groups(f, *args) -> int:
    """How many kernels the compiler's fusion makes of ``f``'s optimized program."""
    closed = passes.optimize(fx.make_jaxpr(f)(*args))
    return len(fusion.fuse(closed.jaxpr))


def test_a_long_chain_is_cut_and_ordinary_groups_are_not():
    x = np.ones((3, 4), np.float32)
    assert _groups(lambda v: jnp.pad(v, ((12, 12), (0, 0)), "reflect",
                                     reflect_type="odd"), x) > 1
    # elementwise reuse at one index is cached by the emitter: nothing to store
    assert _groups(lambda v: jnp.tanh(v) * jnp.tanh(v) + jnp.exp(v) * v, x) == 1
    # a few shifted reads (a 3-point stencil) stay fused
    assert _groups(lambda v: jnp.sin(v)[:, :-2] + jnp.sin(v)[:, 1:-1] + jnp.sin(v)[:, 2:],
                   x) == 1


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 2 * LIMIT + 4))
def test_shifted_reads_beyond_the_limit_are_stored(n):
    """A sum of ``n`` shifted slices of one computed value reads it ``n`` times."""
    x = np.linspace(-1, 1, 64, dtype=np.float32)

    def f(v):
        y = jnp.sin(v) * 3.0
        return sum(y[i:i + 32] for i in range(n))

    assert _groups(f, x) == (2 if n > LIMIT else 1)
    closed, exe = _compiled(f, x)
    y = np.sin(x) * np.float32(3.0)
    np.testing.assert_allclose(exe([x])[0], sum(y[i:i + 32] for i in range(n)),
                               rtol=1e-5, atol=1e-5)
