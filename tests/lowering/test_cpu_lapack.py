"""Linear algebra as native library calls (SciPy's LAPACK/BLAS, the routines jaxlib
calls): triangular_solve (trsm), cholesky (potrf), lu (getrf), qr, eigh, svd and eig,
checked against the reference interpreter (the eager impls, which call the same
routines with the same arguments) bit for bit over sizes, batches, dtypes and every
flag, with bounds checks compiled in; failed factorizations become NaN as in eager."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fx
import fx.numpy as jnp
from fx._testing import assert_bits, close, compile_and_compare
from fx import lax
from fx.core import eval_jaxpr
from lowering.cpu import blas
from lowering.cpu.compile import compile as compile_native

pytestmark = pytest.mark.skipif(blas.library_info() is None, reason="no OpenBLAS found")


def _check(f, *args, exact=True):
    # exact: the same LAPACK/BLAS routine with the same arguments gives the same bits;
    # otherwise products and sums around the library calls round differently
    compile_and_compare(f, *args, bounds_check=True,
                        compare=assert_bits if exact else close(1e-4, 1e-5))


@given(batch=st.integers(1, 3), m=st.integers(1, 7), n=st.integers(1, 5),
       left=st.booleans(), lower=st.booleans(), trans=st.booleans(), unit=st.booleans())
def test_triangular_solve(batch, m, n, left, lower, trans, unit):
    rng = np.random.default_rng(m * 31 + n)
    t = np.tril(rng.standard_normal((batch, m, m))) + 3 * np.eye(m)
    a = (t if lower else np.swapaxes(t, -1, -2)).astype(np.float32)
    b = rng.standard_normal((batch, m, n) if left else (batch, n, m)).astype(np.float32)
    _check(lambda a, b: lax.linalg.triangular_solve(
        a, b, left_side=left, lower=lower, transpose_a=trans, unit_diagonal=unit), a, b)


@given(batch=st.integers(1, 3), n=st.integers(1, 9))
def test_cholesky_and_cho_solve(batch, n):
    rng = np.random.default_rng(n)
    a = rng.standard_normal((batch, n, n))
    spd = (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype(np.float32)
    _check(lax.linalg.cholesky, spd)
    y = rng.standard_normal((batch, n, 2)).astype(np.float32)
    _check(lambda k, y: fx.scipy.linalg.cho_solve((jnp.linalg.cholesky(k), True), y), spd, y,
           exact=False)


def test_not_positive_definite_is_nan():
    x = np.stack([np.eye(3), -np.eye(3)]).astype(np.float32)
    _check(lax.linalg.cholesky, x)
    out = np.asarray(fx.jit(lax.linalg.cholesky)(x))
    lower = np.tril(np.ones((3, 3), bool))
    # as JAX: NaN in the lower triangle of the failed matrix, zeros above
    assert np.isnan(out[1][lower]).all() and (out[1][~lower] == 0).all()
    assert not np.isnan(out[0]).any()


@given(batch=st.integers(1, 3), m=st.integers(1, 7), n=st.integers(1, 7),
       singular=st.booleans())
def test_lu_and_solve(batch, m, n, singular):
    rng = np.random.default_rng(m * 10 + n)
    x = rng.standard_normal((batch, m, n)).astype(np.float32)
    if singular:
        x[..., 0] = 0
    _check(lax.linalg.lu, x)
    a = rng.standard_normal((batch, m, m)).astype(np.float32) + 3 * np.eye(m, dtype=np.float32)
    y = rng.standard_normal((batch, m, 2)).astype(np.float32)
    _check(jnp.linalg.solve, a, y)


# ---------------------------------------------------------------------------
# qr, eigh, svd, eig (lib_lapack_spectral): the eager impl's LAPACK drivers in the
# operand's precision with the same workspace sizes: bit for bit

_SPECTRAL_DTYPES = [np.float32, np.float64, np.complex64, np.complex128]


def _matrix(rng, shape, dtype):
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def _close(got, want):
    assert_bits(got, np.asarray(want))


def _check_spectral(f, x, bounds_check=True):
    with fx.enable_x64():
        closed = fx.make_jaxpr(f)(x)
        exe = compile_native(closed, bounds_check=bounds_check)
        assert exe.fallbacks == [], [e.primitive.name for e in exe.fallbacks]
        got = exe([x])
        want = eval_jaxpr(closed.jaxpr, closed.consts, x)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        _close(np.asarray(g), w)
    return got


_batches = st.sampled_from([(), (1,), (3,), (2, 2)])
_FEW = settings(max_examples=12, deadline=None)


@_FEW
@given(batch=_batches, m=st.integers(1, 7), n=st.integers(1, 7), full=st.booleans(),
       dtype=st.sampled_from(_SPECTRAL_DTYPES), seed=st.integers(0, 999))
def test_qr(batch, m, n, full, dtype, seed):
    x = _matrix(np.random.default_rng(seed), batch + (m, n), dtype)
    q, r = _check_spectral(lambda a: lax.linalg.qr(a, full_matrices=full), x)
    np.testing.assert_allclose(q @ r, x, atol=1e-4 * (1 + np.abs(x).max()))
    _check_spectral(lambda a: lax.linalg.qr(a, full_matrices=full)[1], x)  # Q dropped


@_FEW
@given(batch=_batches, n=st.integers(1, 8), lower=st.booleans(), subset=st.booleans(),
       dtype=st.sampled_from(_SPECTRAL_DTYPES), seed=st.integers(0, 999))
def test_eigh(batch, n, lower, subset, dtype, seed):
    x = _matrix(np.random.default_rng(seed), batch + (n, n), dtype)  # one triangle read
    rng = (n // 3, n - n // 4) if subset else None
    v, w = _check_spectral(lambda a: lax.linalg.eigh(a, lower=lower, subset_by_index=rng), x)
    assert np.all(np.diff(w, axis=-1) >= 0)
    _check_spectral(lambda a: jnp.linalg.eigvalsh(a, UPLO="L" if lower else "U"), x)


@_FEW
@given(batch=_batches, m=st.integers(1, 7), n=st.integers(1, 7), full=st.booleans(),
       uv=st.booleans(), subset=st.booleans(), dtype=st.sampled_from(_SPECTRAL_DTYPES),
       seed=st.integers(0, 999))
def test_svd(batch, m, n, full, uv, subset, dtype, seed):
    x = _matrix(np.random.default_rng(seed), batch + (m, n), dtype)
    k = min(m, n)
    rng = (k // 3, k) if subset and not (full and uv) else None
    outs = _check_spectral(lambda a: lax.linalg.svd(a, full_matrices=full, compute_uv=uv,
                                                    subset_by_index=rng), x)
    if uv and not full and rng is None:
        u, s, vt = outs
        np.testing.assert_allclose((u * s[..., None, :].astype(u.dtype)) @ vt, x,
                                   atol=1e-4 * (1 + np.abs(x).max()))


@_FEW
@given(batch=_batches, n=st.integers(1, 7), left=st.booleans(), right=st.booleans(),
       dtype=st.sampled_from(_SPECTRAL_DTYPES), seed=st.integers(0, 999))
def test_eig(batch, n, left, right, dtype, seed):
    x = _matrix(np.random.default_rng(seed), batch + (n, n), dtype)
    outs = _check_spectral(lambda a: lax.linalg.eig(a, compute_left_eigenvectors=left,
                                                    compute_right_eigenvectors=right), x)
    if right:  # A vr = vr diag(w)
        w, vr = outs[0], outs[-1]
        np.testing.assert_allclose(x.astype(vr.dtype) @ vr, vr * w[..., None, :],
                                   atol=1e-4 * (1 + np.abs(x).max()) * n)


def test_eig_conjugate_pairs_and_real_eigenvalues():
    """A real matrix with a complex pair (a rotation block) and real eigenvalues: the
    pair's eigenvectors are assembled from LAPACK's two real columns."""
    rot = np.array([[0.0, -2.0, 0.0, 0.0], [2.0, 0.0, 0.0, 0.0], [0.0, 0.0, 3.0, 1.0],
                    [0.0, 0.0, 0.0, -1.0]])
    p = np.random.default_rng(5).standard_normal((4, 4)) + 4 * np.eye(4)
    x = np.stack([p @ rot @ np.linalg.inv(p), rot]).astype(np.float32)
    w, vl, vr = _check_spectral(lambda a: lax.linalg.eig(a, compute_left_eigenvectors=True), x)
    assert np.sum(np.abs(w.imag) > 1) == 4  # two pairs +-2i
    np.testing.assert_allclose(x.astype(np.complex64) @ vr, vr * w[..., None, :], atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
def test_blocked_sizes(dtype):
    """Matrices large enough for LAPACK's blocked code paths (and its threads)."""
    x = _matrix(np.random.default_rng(7), (2, 70, 50), dtype)
    _check_spectral(lambda a: lax.linalg.qr(a, full_matrices=True), x)
    _check_spectral(lambda a: lax.linalg.svd(a, full_matrices=False), x)
    sq = x[:, :50, :]
    _check_spectral(lax.linalg.eigh, sq)
    _check_spectral(lambda a: lax.linalg.eig(a, compute_left_eigenvectors=False), sq)


@pytest.mark.parametrize("name", ["qr", "eigh", "eigvalsh", "svd", "svdvals", "eig",
                                  "eigvals"])
def test_nonfinite_operands_as_eager(name):
    """NaN and inf operands: each matrix's outputs as the eager impl's (NaN where jaxlib
    reports failure, e.g. eig refuses non-finite matrices; partial NaN where LAPACK
    propagates them)."""
    f = {"qr": jnp.linalg.qr, "eigh": jnp.linalg.eigh, "eigvalsh": jnp.linalg.eigvalsh,
         "svd": jnp.linalg.svd, "svdvals": lambda a: jnp.linalg.svd(a, compute_uv=False),
         "eig": jnp.linalg.eig, "eigvals": jnp.linalg.eigvals}[name]
    x = _matrix(np.random.default_rng(8), (3, 5, 5), np.float32)
    x[1, 3, 1] = np.nan
    x[2, 4, 4] = np.inf
    x[0, 0, 4] = np.nan  # upper triangle only: eigh (lower) does not read it
    outs = _check_spectral(f, x)
    assert any(np.isnan(o).any() for o in outs)


def test_spectral_programs_through_jit():
    """Programs mixing the decompositions with products and their derivatives run
    natively end to end (no eager fallback) and match eager execution."""
    x = _matrix(np.random.default_rng(9), (4, 6, 6), np.float32)

    def f(a):
        q, r = jnp.linalg.qr(a)
        s = jnp.linalg.svd(a, compute_uv=False)
        w, v = jnp.linalg.eigh(a + jnp.swapaxes(a, -1, -2))
        return (q @ r).sum() + s.sum() + (v * w[..., None, :]).sum()

    for prog in (f, fx.grad(f), fx.vmap(f)):
        closed = fx.make_jaxpr(prog)(x)
        exe = compile_native(closed, bounds_check=True)
        assert {e.primitive.name for e in exe.fallbacks}.isdisjoint(
            {"qr", "svd", "eigh", "eig"}), [e.primitive.name for e in exe.fallbacks]
        np.testing.assert_allclose(exe([x])[0], prog(x), rtol=2e-5, atol=1e-4)


def test_spectral_object_code_from_disk_cache(tmp_path):
    """A second process loads the decompositions' object code from the disk cache and
    relinks the LAPACK routines and the scratch allocator (no recompilation)."""
    import os
    import subprocess
    import sys
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    program = (
        "import numpy as np, fx, fx.numpy as jnp\n"
        "x = np.arange(18, dtype=np.float32).reshape(2, 3, 3) % 5\n"
        "f = fx.jit(lambda a: (jnp.linalg.qr(a)[1], jnp.linalg.svd(a)[1], "
        "jnp.linalg.eigh(a)[0], jnp.linalg.eig(a)[0]))\n"
        "print([float(np.abs(np.asarray(o)).sum()) for o in f(x)])\n")
    env = dict(os.environ, FX_CACHE_DIR=str(cache), FX_DEBUG="1")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    runs = [subprocess.run([sys.executable, "-c", program], env=env, cwd=root,
                           capture_output=True, text=True, timeout=120) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
    assert "disk cache hit" in runs[1].stdout + runs[1].stderr
    assert "not loadable" not in runs[1].stdout + runs[1].stderr
    assert runs[0].stdout.splitlines()[-1] == runs[1].stdout.splitlines()[-1]
