"""Complex sums, products and matrix products compiled natively by the CPU backend:
``reduce_sum``/``reduce_prod`` over complex64/complex128 in loop kernels (rows and
accumulating strategies, with fused producers and epilogues) and ``dot_general`` with
complex operands through ``cblas_cgemm``/``cblas_zgemm``, against the reference
interpreter (the eager NumPy impls) over hypothesis-drawn shapes (empty, unit, odd),
axes, batch dimensions and operand layouts, with and without compiled bounds checks;
no equation may fall back to its eager impl."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fx
import fx.numpy as jnp
from fx._testing import close, compile_and_compare
from fx import lax
from fx.core import eval_jaxpr
from lowering.cpu import blas
from lowering.cpu.compile import compile as compile_native

SETTINGS = settings(max_examples=30, deadline=None)
_COMPLEX = [np.complex64, np.complex128]


def _complex(rng, shape, dtype):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


def _compare(got, want):
    tol = 1e-5 if want.dtype in (np.complex64, np.float32) else 1e-12
    close(tol, tol, scaled=True)(got, want)


def _check(f, *args, bounds_check=True, kinds=None):
    _, exe = compile_and_compare(f, *args, bounds_check=bounds_check, x64=True,
                                 compare=_compare)
    if kinds is not None:
        assert sorted(g.kind for g in exe.groups) == sorted(kinds), exe.groups
    return exe


# ---------------------------------------------------------------------------
# reductions


@st.composite
def _reduction_case(draw):
    nd = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(0, 6), min_size=nd, max_size=nd)))
    axes = tuple(sorted(draw(st.sets(st.integers(0, nd - 1), min_size=1))))
    return shape, axes


@SETTINGS
@given(case=_reduction_case(), dtype=st.sampled_from(_COMPLEX),
       op=st.sampled_from(["sum", "prod"]), bounds_check=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_complex_reductions_match_reference(case, dtype, op, bounds_check, seed):
    """Any axes: trailing ones iterate as rows, others accumulate into the output."""
    shape, axes = case
    x = _complex(np.random.default_rng(seed), shape, dtype) * (0.9 if op == "prod" else 1)
    prim = lax.reduce_sum_p if op == "sum" else lax.reduce_prod_p
    _check(lambda a: prim.bind(a, axes=axes, **({"out_sharding": None}
                                                  if "out_sharding" in _params(prim) else {})),
           x, bounds_check=bounds_check)


def _params(prim):
    x = np.ones((2, 2), np.complex64)
    eqn = fx.make_jaxpr(lambda a: jnp.sum(a, 0) if prim is lax.reduce_sum_p
                        else jnp.prod(a, 0))(x).jaxpr.eqns[-1]
    return eqn.params


@pytest.mark.parametrize("dtype", _COMPLEX)
def test_complex_sum_fuses_producer_and_epilogue(dtype):
    """mean of conj(x) * y over rows, then abs: one reduce kernel, natively."""
    r = np.random.default_rng(1)
    x, y = _complex(r, (7, 33), dtype), _complex(r, (7, 33), dtype)
    f = lambda a, b: jnp.abs(jnp.mean(jnp.conj(a) * b, axis=1))  # noqa: E731
    exe = _check(f, x, y)
    assert exe.kernel_count == 1
    g = lambda a: jnp.prod(a * (0.5 + 0.5j), axis=0)  # noqa: E731
    exe = _check(g, x)
    assert exe.kernel_count == 1


def test_complex_special_values():
    """inf and NaN parts propagate as NumPy's do (sum), and the product of values
    overflowing in one part."""
    x = np.array([[1 + 1j, np.inf + 0j, 2 - 1j], [np.nan + 1j, 1 + 0j, 0 + 0j]],
                 np.complex64)
    _check(lambda a: jnp.sum(a, axis=1), x)
    y = np.array([[1e20 + 1e20j, 1e20 - 1e20j, 3 + 0j]], np.complex64)
    with fx.enable_x64():
        closed = fx.make_jaxpr(lambda a: jnp.prod(a, axis=1))(y)
        want = eval_jaxpr(closed.jaxpr, closed.consts, y)[0]
    got = compile_native(closed, bounds_check=True)([y])[0]
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(want))


# ---------------------------------------------------------------------------
# matrix products

_needs_blas = pytest.mark.skipif(blas.library_info() is None, reason="no OpenBLAS found")


@st.composite
def _dot_case(draw):
    nb = draw(st.integers(0, 2))
    batch = tuple(draw(st.lists(st.integers(1, 3), min_size=nb, max_size=nb)))
    m, k, n = (draw(st.integers(0, 9)) for _ in range(3))
    layout = draw(st.sampled_from(["nn", "tn", "nt", "tt"]))
    return batch, m, k, n, layout


@_needs_blas
@SETTINGS
@given(case=_dot_case(), dtype=st.sampled_from(_COMPLEX), bounds_check=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_complex_dot_general_matches_reference(case, dtype, bounds_check, seed):
    """Batched products, operands stored transposed or not (BLAS reads them in place
    or a copy loop transposes them first), empty and unit sizes, a zero-length sum."""
    batch, m, k, n, layout = case
    r = np.random.default_rng(seed)
    nb = len(batch)
    a_shape = batch + ((k, m) if layout[0] == "t" else (m, k))
    b_shape = batch + ((n, k) if layout[1] == "t" else (k, n))
    a, b = _complex(r, a_shape, dtype), _complex(r, b_shape, dtype)
    lc = (nb,) if layout[0] == "t" else (nb + 1,)
    rc = (nb + 1,) if layout[1] == "t" else (nb,)
    bd = tuple(range(nb))
    dn = ((lc, rc), (bd, bd))
    exe = _check(lambda x, y: lax.dot_general(x, y, dn), a, b, bounds_check=bounds_check)
    assert any(g.kind == "library" and g.eqns[0].primitive.name == "dot_general"
               for g in exe.groups)


@_needs_blas
@pytest.mark.parametrize("dtype", _COMPLEX)
def test_complex_matmul_with_epilogue_and_jit(dtype):
    """x @ w + b under fx.jit: one GEMM call, the bias add a fused loop."""
    r = np.random.default_rng(2)
    x, w, b = _complex(r, (16, 24), dtype), _complex(r, (24, 8), dtype), _complex(r, (8,), dtype)
    f = lambda x, w, b: x @ w + b  # noqa: E731
    _check(f, x, w, b, kinds=["library", "loop"])
    with fx.enable_x64():
        got = np.asarray(fx.jit(f)(x, w, b))
    np.testing.assert_allclose(got, x @ w + b, rtol=1e-5 if dtype == np.complex64 else 1e-12)


@_needs_blas
@pytest.mark.parametrize("dtype", _COMPLEX)
def test_complex_product_in_a_layout_blas_cannot_read(dtype):
    """Batch axis in the middle of the lhs: a transpose loop first, then the GEMMs."""
    r = np.random.default_rng(4)
    a, b = _complex(r, (5, 3, 4), dtype), _complex(r, (3, 4, 6), dtype)
    exe = _check(lambda x, y: jnp.einsum("ibk,bkj->bij", x, y), a, b)
    assert sorted(g.kind for g in exe.groups) == ["library", "loop"]


@_needs_blas
def test_complex_product_against_jax():
    jax = pytest.importorskip("jax")
    r = np.random.default_rng(3)
    a, b = _complex(r, (3, 5, 6), np.complex64), _complex(r, (3, 6, 4), np.complex64)
    got = np.asarray(fx.jit(lambda x, y: jnp.einsum("bij,bjk->bik", x, y))(a, b))
    want = np.asarray(jax.jit(lambda x, y: jax.numpy.einsum("bij,bjk->bik", x, y))(a, b))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
