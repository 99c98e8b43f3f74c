"""fx.numpy.linalg.det/slogdet (and fx.scipy.linalg.det) compute what JAX 0.10 computes:
the same jaxpr structure (jitted, ``custom_jvp`` det over slogdet, closed forms for small
matrices) and, for float32 on the CPU, the same bits, eagerly and under fx.jit (LAPACK's
getrf as jaxlib calls it, XLA's float32 log/exp, FMA contraction of the closed forms, and
``log|u_ii|`` summed in XLA's order through ``reduce_sum[order="xla_cpu"]``).

Oracles: JAX where installed (bits for float32; values within rounding for float64 and
complex, whose log/exp/complex division are not yet XLA's); NumPy's det/slogdet within
rounding; finite differences for the derivatives; known answers for the summation order.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import fx
import fx.numpy as fnp
import fx.scipy.linalg as fsl
from fx.test_util import check_grads
from primitives.reduce_order import xla_cpu_sum
from primitives.reductions import reduce_sum_p

_FIXTURE = [HealthCheck.function_scoped_fixture]
BATCHES = st.sampled_from([(), (1,), (3,), (2, 3), (6,)])


def _matrix(shape, dtype, seed, kind="random"):
    """Random matrices, or ones with a zero pivot (singular: two equal rows / a zero
    column / an integer combination of rows), or diagonally dominant with negative
    pivots."""
    rng = np.random.default_rng(seed)
    n = shape[-1]
    a = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    if kind == "singular" and n >= 2:
        a = np.round(a * 4)
        which = seed % 3
        if which == 0:
            a[..., -1, :] = a[..., 0, :]
        elif which == 1:
            a[..., :, seed % n] = 0
        else:
            a[..., -1, :] = a[..., 0, :] - 2 * a[..., 1 % n, :]
    elif kind == "singular":
        a = np.zeros_like(a)
    elif kind == "negative":
        signs = np.where(rng.random(shape[:-1]) < 0.5, -1.0, 1.0)
        a = a + np.eye(n) * signs[..., None] * 2 * n
    return a.astype(dtype)


def _bits(x):
    x = np.asarray(x)
    return x.dtype, x.shape, x.tobytes()


def _jax_det_and_slogdet(jax, a):
    jnp = jax.numpy
    d = np.asarray(jnp.linalg.det(a))
    s, l = (np.asarray(t) for t in jnp.linalg.slogdet(a))
    return d, s, l


def _fx_det_and_slogdet(a, jit=False):
    def f(x):
        s, l = fnp.linalg.slogdet(x)
        return fnp.linalg.det(x), s, l
    out = (fx.jit(f) if jit else f)(a)
    return tuple(np.asarray(t) for t in out)


# ---------------------------------------------------------------------------
# bits against JAX


@pytest.mark.jax
@settings(max_examples=15, deadline=None)
@given(batch=BATCHES, n=st.integers(1, 64), seed=st.integers(0, 2**16),
       kind=st.sampled_from(["random", "random", "singular", "negative"]))
def test_float32_bit_identical_to_jax(batch, n, seed, kind):
    jax = pytest.importorskip("jax")
    a = _matrix(batch + (n, n), np.float32, seed, kind)
    want = _jax_det_and_slogdet(jax, a)
    for jit in (False, True):
        got = _fx_det_and_slogdet(a, jit)
        for name, g, w in zip(("det", "sign", "logabsdet"), got, want):
            assert _bits(g) == _bits(w), (name, jit, kind, g, w)
    assert _bits(fsl.det(a)) == _bits(want[0])


@pytest.mark.jax
@pytest.mark.parametrize("n", [33, 50, 64, 100])
def test_float32_windowed_sums_bit_identical_to_jax(n):
    """Past 32 pivots XLA sums log|u_ii| in windows of 32 (tree reduction)."""
    jax = pytest.importorskip("jax")
    a = _matrix((3, n, n), np.float32, n)
    want = _jax_det_and_slogdet(jax, a)
    for jit in (False, True):
        for g, w in zip(_fx_det_and_slogdet(a, jit), want):
            assert _bits(g) == _bits(w)


@pytest.mark.jax
@settings(max_examples=6, deadline=None)
@given(n=st.sampled_from([1, 2, 3, 4, 7]), seed=st.integers(0, 2**16))
def test_float32_gradients_bit_identical_to_jax(n, seed):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    a = _matrix((2, n, n), np.float32, seed)
    for f, fj in ((lambda x: fnp.linalg.det(x).sum(), lambda x: jnp.linalg.det(x).sum()),
                  (lambda x: fnp.linalg.slogdet(x)[1].sum(),
                   lambda x: jnp.linalg.slogdet(x)[1].sum())):
        assert _bits(fx.grad(f)(a)) == _bits(jax.grad(fj)(a))


@pytest.mark.jax
@settings(max_examples=8, deadline=None, suppress_health_check=_FIXTURE)
@given(batch=BATCHES, n=st.integers(1, 24), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float64, np.complex64, np.complex128]))
def test_other_dtypes_close_to_jax(x64, batch, n, seed, dtype):
    """float64 and complex: JAX's formulas, within rounding (XLA's float64 exp, complex
    log/division are not fx's, so the last bits may differ)."""
    jax = pytest.importorskip("jax")
    a = _matrix(batch + (n, n), dtype, seed)
    jax.config.update("jax_enable_x64", True)
    try:
        want = _jax_det_and_slogdet(jax, a)
    finally:
        jax.config.update("jax_enable_x64", False)
    rtol = 1e-4 if np.dtype(dtype) == np.complex64 else 1e-10
    for jit in (False, True):
        got = _fx_det_and_slogdet(a, jit)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * max(1.0, n))


# ---------------------------------------------------------------------------
# the structure JAX prints


def test_jaxpr_structure_matches_jax():
    a = np.zeros((6, 4, 4), np.float32)
    text = str(fx.make_jaxpr(fnp.linalg.det)(a))
    for piece in ("jit[", "name=det", "custom_jvp_call[", "name=_det", "jvp=_det_jvp",
                  "name=slogdet", "name=_slogdet_lu", "jvp=_slogdet_jvp", "lu ",
                  "reduce_sum[axes=(1,) out_sharding=None]", "exp", "reduce_or"):
        assert piece in text, piece
    assert "order" not in text  # the summation order is a hidden param
    small = str(fx.make_jaxpr(fnp.linalg.det)(a[0, :2, :2]))
    assert "custom_jvp_call" not in small and "lu " not in small  # the 2x2 closed form
    assert "_slogdet_small" in str(fx.make_jaxpr(fnp.linalg.slogdet)(a[:, :2, :2]))


# ---------------------------------------------------------------------------
# values against NumPy, eager against jit (no JAX needed)


@pytest.mark.parametrize("dtype", ["f32", "f64", "c64", "c128"])
@settings(max_examples=8, deadline=None, suppress_health_check=_FIXTURE)
@given(batch=BATCHES, n=st.integers(1, 40), seed=st.integers(0, 2**16),
       kind=st.sampled_from(["random", "singular", "negative"]))
def test_values_against_numpy(harness, dtype, batch, n, seed, kind):
    """NumPy's slogdet in the same precision (its LU pivots as LAPACK's do): the sign
    exactly (0 for an exact zero pivot), log|det| and det within rounding; the jitted and
    the eager call give the same bits."""
    dt = harness.dtypes[dtype]
    with harness.x64_for(dtype):
        a = _matrix(batch + (n, n), dt, seed, kind)
        d, s, l = _fx_det_and_slogdet(a)
        dj, sj, lj = _fx_det_and_slogdet(a, jit=True)
    eps = float(np.finfo(dt).eps)
    assert d.dtype == dt and s.dtype == dt and l.dtype == np.finfo(dt).dtype
    assert d.shape == s.shape == l.shape == batch
    tol = 4 * n * eps
    if kind == "singular":
        # rank-deficient: det is 0 up to rounding (Hadamard's bound times a few eps); an
        # exact zero pivot gives (0, -inf)
        bound = np.prod(np.linalg.norm(a.astype(np.complex128), axis=-1), axis=-1)
        assert np.all(np.abs(d) <= 16 * tol * bound)
        with np.errstate(divide="ignore"):
            small = l <= np.log(16 * tol * bound)
        assert np.all(((s == 0) & (l == -np.inf)) | small)
    else:
        ws, wl = np.linalg.slogdet(a)
        np.testing.assert_allclose(s, ws, atol=tol)
        np.testing.assert_allclose(l, wl, rtol=tol, atol=tol)
        with np.errstate(over="ignore"):
            wd = (ws * np.exp(wl)).astype(dt)
        finite = np.isfinite(wd)
        np.testing.assert_array_equal(np.isfinite(d), finite)
        np.testing.assert_allclose(d[finite], wd[finite], rtol=4 * tol)
    for g, w in ((d, dj), (s, sj), (l, lj)):
        assert _bits(g) == _bits(w)  # both run the jitted det: the same program


def test_singular_gives_zero_sign_and_minus_inf():
    a = np.zeros((2, 5, 5), np.float32)
    a[1] = np.eye(5)
    a[1, 2, 2] = 0
    s, l = fnp.linalg.slogdet(a)
    np.testing.assert_array_equal(np.asarray(s), [0, 0])
    np.testing.assert_array_equal(np.asarray(l), [-np.inf, -np.inf])
    np.testing.assert_array_equal(np.asarray(fnp.linalg.det(a)), [0, 0])
    b = np.diag(np.float32([2, -3, 4, -1, 0.5]))
    s, l = fnp.linalg.slogdet(b)
    assert float(s) == 1.0 and abs(float(l) - np.log(12.0)) < 1e-6
    assert abs(float(fnp.linalg.det(b)) - 12.0) < 1e-5


def test_errors():
    with pytest.raises(ValueError, match="slogdet"):
        fnp.linalg.slogdet(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="det"):
        fnp.linalg.det(np.ones((3,), np.float32))
    with pytest.raises(ValueError, match="method"):
        fnp.linalg.slogdet(np.eye(3, dtype=np.float32), method="svd")
    with pytest.raises(ValueError, match="order"):
        reduce_sum_p.bind(np.ones(3, np.float32), axes=(0,), out_sharding=None,
                          order="numpy")


# ---------------------------------------------------------------------------
# derivatives against finite differences


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_det_gradients_finite_differences(x64, n):
    a = _matrix((2, n, n), np.float64, n, "negative")
    check_grads(fnp.linalg.det, (a,), order=2, modes=("fwd", "rev"))
    check_grads(lambda x: fnp.linalg.slogdet(x)[1], (a,), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("n", [2, 4])
def test_complex_slogdet_gradients_finite_differences(x64, n):
    a = _matrix((n, n), np.complex128, n)
    check_grads(lambda x: fnp.linalg.slogdet(x)[1], (a,), order=1, modes=("fwd", "rev"))
    check_grads(lambda x: fnp.linalg.slogdet(x)[0], (a,), order=1, modes=("fwd",))
    check_grads(fnp.linalg.det, (a,), order=1, modes=("fwd", "rev"))


def test_det_gradient_at_rank_deficient_matrices(x64):
    """``_cofactor_solve``: the adjugate at rank n - 1, zero below."""
    a = np.array([[1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0], [0.0, 1.0, 5.0, 1.0],
                  [3.0, 1.0, 0.0, 2.0]])
    g = np.asarray(fx.grad(fnp.linalg.det)(a))
    cof = np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(a, i, 0), j, 1))
                     for j in range(4)] for i in range(4)])
    np.testing.assert_allclose(g, cof, atol=1e-9)
    b = a.copy()
    b[2] = 2 * b[0]  # rank 2: the adjugate is zero
    np.testing.assert_array_equal(np.asarray(fx.grad(fnp.linalg.det)(b)), np.zeros((4, 4)))


def test_vmap_matches_loop():
    a = _matrix((4, 5, 5), np.float32, 3)
    got = np.asarray(fx.vmap(fnp.linalg.det)(a))
    want = np.stack([np.asarray(fnp.linalg.det(x)) for x in a])
    assert _bits(got) == _bits(want)
    s, l = fx.vmap(fnp.linalg.slogdet)(a)
    for k, x in enumerate(a):
        sk, lk = fnp.linalg.slogdet(x)
        assert float(s[k]) == float(sk) and float(l[k]) == float(lk)


# ---------------------------------------------------------------------------
# the summation order


def test_xla_order_known_answers():
    # in order: (0 + 1e8) + 1 + ... + 1 == 1e8 (each 1 is below half an ulp of 1e8)
    x = np.float32([1e8] + [1] * 31)
    assert float(xla_cpu_sum(x, (0,))) == 1e8
    # 33 elements: windows [15 zeros, x0..x16] and [x17..x32, 16 zeros]: 1e8 + 16
    x = np.float32([1e8] + [1] * 32)
    assert float(xla_cpu_sum(x, (0,))) == 1e8 + 16
    # the init value 0 comes first: -0.0 sums to +0.0
    assert np.signbit(xla_cpu_sum(np.float32([-0.0, -0.0]), (0,))) == np.False_
    # integers and complex
    assert int(xla_cpu_sum(np.arange(100, dtype=np.int32), (0,))) == 4950
    z = np.complex64([1e8 + 1j, 1 + 1e8j, 1 - 1j])
    assert complex(xla_cpu_sum(z, (0,))) == complex(np.float32(1e8), np.float32(1e8))


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 70), min_size=1, max_size=3),
       data=st.data(), seed=st.integers(0, 2**16))
def test_xla_order_sums(shape, data, seed):
    """Against JAX's jnp.sum bit for bit (inputs below 4096 elements), else exact sums
    within rounding; the jitted reduce_sum[order] gives the eager bits."""
    shape = tuple(shape)
    axes = tuple(sorted(data.draw(st.sets(st.integers(0, len(shape) - 1), min_size=1))))
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * np.exp(rng.uniform(-8, 8, shape))).astype(np.float32)
    got = xla_cpu_sum(x, axes)
    exact = np.sum(x.astype(np.float64), axis=axes)
    bound = np.sum(np.abs(x.astype(np.float64)), axis=axes) * 1e-5
    assert np.all(np.abs(got - exact) <= bound)
    compiled = fx.jit(lambda v: reduce_sum_p.bind(v, axes=axes, out_sharding=None,
                                                  order="xla_cpu"))(x)
    assert _bits(compiled) == _bits(got)
    try:
        import jax
    except ImportError:
        return
    if x.size < 4096:
        want = np.asarray(jax.jit(lambda v: jax.numpy.sum(v, axis=axes))(x))
        assert _bits(got) == _bits(want)
