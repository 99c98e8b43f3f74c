"""fx's linear algebra computes what jaxlib computes on the CPU: the decompositions
call the LAPACK/BLAS routines jaxlib calls (SciPy's) in the operand's precision with
jaxlib's workspace sizes, so fx.numpy.linalg (qr, svd, eigh, cholesky, solve, inv,
eig), fx.scipy.linalg (lu, lu_factor) and fx.random.orthogonal/multivariate_normal
are bit-identical to JAX's, eagerly and under fx.jit (compiled == eager bit for bit).

Oracles: JAX itself where installed (float32 and float64, shapes, batches and
sizes drawn by hypothesis); without JAX the compiled results against the eager
ones bit for bit and the eager ones against NumPy within rounding."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import fx
import fx.numpy as fnp

DTYPES = [np.float32, np.float64]
_FIXTURE = [HealthCheck.function_scoped_fixture]   # x64 holds for every example
BATCHES = st.sampled_from([(), (1,), (3,), (2, 2)])


def _spd(a):
    n = a.shape[-1]
    return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype(a.dtype)


#: name -> (function of the library's top module, operand kind)
OPS = {
    "qr": (lambda L: L.numpy.linalg.qr, "rect"),
    "qr_complete": (lambda L: lambda a: L.numpy.linalg.qr(a, mode="complete"), "rect"),
    "svd": (lambda L: L.numpy.linalg.svd, "rect"),
    "svd_reduced": (lambda L: lambda a: L.numpy.linalg.svd(a, full_matrices=False), "rect"),
    "svdvals": (lambda L: lambda a: L.numpy.linalg.svd(a, compute_uv=False), "rect"),
    "eigh": (lambda L: L.numpy.linalg.eigh, "square"),
    "eigh_upper": (lambda L: lambda a: L.numpy.linalg.eigh(a, UPLO="U"), "square"),
    "cholesky": (lambda L: L.numpy.linalg.cholesky, "spd"),
    "solve": (lambda L: lambda a: L.numpy.linalg.solve(a, a[..., :2]), "square"),
    "inv": (lambda L: L.numpy.linalg.inv, "square"),
    "lu_factor": (lambda L: L.scipy.linalg.lu_factor, "square"),
    "lu": (lambda L: L.scipy.linalg.lu, "rect2d"),
    "eig": (lambda L: L.numpy.linalg.eig, "square"),
}


def _operand(kind, batch, m, n, dtype, seed):
    rng = np.random.default_rng(seed)
    if kind == "rect2d":
        batch = ()
    shape = batch + ((m, n) if kind.startswith("rect") else (m, m))
    a = rng.standard_normal(shape).astype(dtype)
    return _spd(a) if kind == "spd" else a


def _leaves(tree):
    return [np.asarray(x) for x in fx.tree_util.tree_leaves(tree)]


def _same_bits(got, want, what):
    assert len(got) == len(want), what
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype, (what, g.shape, g.dtype, w.shape,
                                                           w.dtype)
        assert g.tobytes() == w.tobytes(), (what, float(np.max(np.abs(g - w))))


@pytest.fixture
def jax_x64():
    """JAX with x64 enabled for the test (restored after it)."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    try:
        yield jax
    finally:
        jax.config.update("jax_enable_x64", False)


@pytest.mark.jax
@pytest.mark.parametrize("name", sorted(OPS))
@settings(max_examples=8, deadline=None, suppress_health_check=_FIXTURE)
@given(batch=BATCHES, m=st.integers(1, 40), n=st.integers(1, 40),
       dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_bit_identical_to_jax(x64, jax_x64, name, batch, m, n, dtype, seed):
    jax = jax_x64
    get, kind = OPS[name]
    a = _operand(kind, batch, m, n, dtype, seed)
    want = [np.asarray(x) for x in jax.tree_util.tree_leaves(get(jax)(jax.numpy.asarray(a)))]
    eager = _leaves(get(fx)(fnp.asarray(a)))
    _same_bits(eager, want, f"{name} eager")
    compiled = _leaves(fx.jit(get(fx))(fnp.asarray(a)))
    _same_bits(compiled, want, f"{name} jit")


@pytest.mark.jax
@pytest.mark.parametrize("name", ["qr", "svd", "eigh", "cholesky", "lu_factor"])
@pytest.mark.parametrize("size", [64, 129, 300])
def test_blocked_sizes_bit_identical_to_jax(x64, jax_x64, name, size):
    """Sizes where LAPACK's blocked paths (and their workspace-dependent block sizes)
    run: float32, with a batch of two."""
    jax = jax_x64
    get, kind = OPS[name]
    a = _operand(kind, (2,), size, size - 7 if kind == "rect" else size, np.float32, size)
    want = [np.asarray(x) for x in jax.tree_util.tree_leaves(get(jax)(jax.numpy.asarray(a)))]
    _same_bits(_leaves(get(fx)(fnp.asarray(a))), want, f"{name} eager")
    _same_bits(_leaves(fx.jit(get(fx))(fnp.asarray(a))), want, f"{name} jit")


@pytest.mark.jax
@pytest.mark.parametrize("draw", [
    lambda r, k: r.orthogonal(k, 12, (3,)),
    lambda r, k: r.orthogonal(k, 5, m=9),
    lambda r, k: r.multivariate_normal(k, np.zeros(5, np.float32), _COV, (4,), method="svd"),
    lambda r, k: r.multivariate_normal(k, np.zeros(5, np.float32), _COV, (4,), method="eigh"),
    lambda r, k: r.multivariate_normal(k, np.zeros(5, np.float32), _COV, (4,),
                                       method="cholesky"),
])
def test_random_samplers_bit_identical_to_jax(draw):
    jax = pytest.importorskip("jax")
    import jax.random as jr

    import fx.random as fr
    for seed in (0, 11):
        want = np.asarray(draw(jr, jr.key(seed)))
        eager = np.asarray(draw(fr, fr.key(seed)))
        compiled = np.asarray(fx.jit(lambda k: draw(fr, k))(fr.key(seed)))
        _same_bits([eager], [want], "eager")
        _same_bits([compiled], [want], "jit")
    del jax


_F = np.random.default_rng(5).standard_normal((5, 5)).astype(np.float32)
_COV = (_F @ _F.T + np.eye(5, dtype=np.float32)).astype(np.float32)


# ---------------------------------------------------------------------------
# without JAX: compiled == eager bit for bit, eager against NumPy within rounding


@pytest.mark.parametrize("name", sorted(OPS))
@settings(max_examples=6, deadline=None, suppress_health_check=_FIXTURE)
@given(batch=BATCHES, m=st.integers(1, 24), n=st.integers(1, 24),
       dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_jit_equals_eager_bit_for_bit(x64, name, batch, m, n, dtype, seed):
    get, kind = OPS[name]
    a = _operand(kind, batch, m, n, dtype, seed)
    eager = _leaves(get(fx)(fnp.asarray(a)))
    compiled = _leaves(fx.jit(get(fx))(fnp.asarray(a)))
    _same_bits(compiled, eager, name)


def _tol(dtype, a):
    return 200 * np.finfo(dtype).eps * max(1.0, float(np.abs(a).max())) * a.shape[-1]


@settings(max_examples=15, deadline=None, suppress_health_check=_FIXTURE)
@given(batch=BATCHES, m=st.integers(1, 24), n=st.integers(1, 24),
       dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_values_against_numpy(x64, batch, m, n, dtype, seed):
    a = _operand("rect", batch, m, n, dtype, seed)
    sq = _operand("square", batch, m, m, dtype, seed)
    spd = _spd(sq)
    tol = _tol(dtype, spd)
    # sign/rotation-free quantities: singular values, eigenvalues, products, solves
    np.testing.assert_allclose(fnp.linalg.svd(a, compute_uv=False),
                               np.linalg.svd(a, compute_uv=False), atol=_tol(dtype, a))
    np.testing.assert_allclose(fnp.linalg.eigvalsh(spd), np.linalg.eigvalsh(spd), atol=tol)
    q, r = fnp.linalg.qr(a)
    np.testing.assert_allclose(np.asarray(q) @ np.asarray(r), a, atol=_tol(dtype, a))
    np.testing.assert_allclose(np.abs(np.asarray(r)), np.abs(np.linalg.qr(a)[1]),
                               atol=_tol(dtype, a))
    np.testing.assert_allclose(fnp.linalg.cholesky(spd), np.linalg.cholesky(spd), atol=tol)
    rhs = np.ones(spd.shape[:-1] + (2,), dtype)
    np.testing.assert_allclose(fnp.linalg.solve(spd, rhs), np.linalg.solve(spd, rhs),
                               atol=tol)
    assert np.asarray(fnp.linalg.qr(a)[0]).dtype == dtype   # computed in its own precision
