"""``fx.numpy.linalg.solve``/``inv`` as JAX 0.10.2 builds and prints them: a
``jit[name=solve]`` around ``stop_gradient``, ``lu`` and ``custom_linear_solve`` (params
printed as ``_LinearSolveTuple(...)``, each jaxpr on its own), whose solves are
``jit[name=_lu_solve]`` equations; a matrix right-hand side is the vmap of the vector
solve; ``inv`` is ``jit[name=inv]`` of ``solve(a, eye)``.

Oracles: JAX's printed jaxprs (skipped without JAX); NumPy for values; finite
differences for derivatives; a Python loop for vmap; eager for jit. Printed jaxprs are
compared as text after the normalisation of ``test_jaxpr_parity`` (whitespace, and
``np.int64(k)`` read as ``k``).
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx import lax
from fx.test_util import check_grads


def _text(jaxpr) -> str:
    text = " ".join(str(jaxpr).split()).replace("[ ", "[").replace(" ]", "]")
    return re.sub(r"np\.int64\((-?\d+)\)", r"\1", text)


A = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.5, 1.0, 4.0]], np.float32)
A2 = np.stack([A, A.T + np.eye(3, dtype=np.float32)])
V = np.array([1.0, 2.0, 3.0], np.float32)
M = np.arange(6, dtype=np.float32).reshape(3, 2) / 5
R = np.arange(12, dtype=np.float32).reshape(4, 3) / 7 + np.eye(4, 3, dtype=np.float32)


def _programs(m):
    """name -> (function, args), written once for ``m`` = ``fx`` or ``jax``."""
    la = m.numpy.linalg
    return {
        "solve_vector": (la.solve, (A, V)),
        "solve_matrix": (la.solve, (A, M)),
        "solve_batch_a": (la.solve, (A2, M)),
        "solve_batch_both": (la.solve, (A2, np.stack([M, 2 * M]))),
        "solve_batch_vector": (la.solve, (A2, V)),
        "inv": (la.inv, (A,)),
        "inv_batch": (la.inv, (A2,)),
        "vmap_solve_columns": (m.vmap(la.solve, (None, 1), 1), (A, M)),
        "vmap_solve": (m.vmap(la.solve), (A2, np.stack([V, V]))),
        "jvp_solve": (lambda a, b: m.jvp(la.solve, (a, b), (a, b)), (A, V)),
        "jvp_inv": (lambda a: m.jvp(la.inv, (a,), (a,)), (A,)),
        "solve_int_b": (lambda a, b: la.solve(a, b.astype(np.int32)), (A, V)),
        "grad_solve": (m.grad(lambda a, b: la.solve(a, b).sum(), (0, 1)), (A, V)),
        "grad_solve_matrix": (m.grad(lambda a, b: la.solve(a, b).sum()), (A, M)),
        "grad_inv": (m.grad(lambda a: la.inv(a).sum()), (A,)),
        "pinv": (la.pinv, (R,)),
        "grad_pinv": (m.grad(lambda a: la.pinv(a).sum()), (R,)),
        "lstsq": (la.lstsq, (R, np.ones(4, np.float32))),
        "matrix_power3": (lambda a: la.matrix_power(a, 3), (A,)),
        "matrix_power5": (lambda a: la.matrix_power(a, 5), (A,)),
        "matrix_power_m2": (lambda a: la.matrix_power(a, -2), (A,)),
        "matrix_power0": (lambda a: la.matrix_power(a, 0), (A,)),
        "matrix_rank": (la.matrix_rank, (R,)),
        "cond": (la.cond, (A,)),
        "cond_fro": (lambda a: la.cond(a, "fro"), (A,)),
        "multi_dot": (lambda a, b, c: la.multi_dot([a, b, c]), (R, A, M)),
        "multi_dot_vectors": (lambda a, b, c: la.multi_dot([a, b, c]), (V, A, V)),
        "tensorsolve": (la.tensorsolve, (A, V)),
        "det": (la.det, (A,)),
        "vmap_det": (m.vmap(la.det), (A2,)),
        "vectorize_dot": (m.numpy.vectorize(m.numpy.dot, signature="(n),(n)->()"),
                          (M.T, V)),
        "vectorize_nobatch": (m.numpy.vectorize(m.numpy.dot, signature="(n),(n)->()"),
                              (V, V)),
        "vectorize_size1": (m.numpy.vectorize(m.numpy.dot, signature="(n),(n)->()"),
                            (V[None], V)),
        "vectorize_scalar": (m.numpy.vectorize(lambda x, y: x * y + 1), (A, V)),
        "vectorize_solve": (m.numpy.vectorize(la.solve, signature="(n,n),(n)->(n)"),
                            (A2, V)),
    }


_NAMES = sorted(_programs(fx))


@pytest.mark.parametrize("name", _NAMES)
def test_printed_jaxpr_equals_jax(name, jax):
    f, args = _programs(fx)[name]
    jf, jargs = _programs(jax)[name]
    assert _text(fx.make_jaxpr(f)(*args)) == _text(jax.make_jaxpr(jf)(*jargs))


_RECORDED = {   # JAX 0.10.2's texts (normalised by _text) for the shorter programs
    "matrix_power3": (
        "{ lambda ; a:f32[3,3]. let b:f32[3,3] = jit[name=matrix_power jaxpr={ lambda ; "
        "a:f32[3,3]. let c:f32[3,3] = dot_general[dimension_numbers=(([1], [0]), ([], "
        "[])) preferred_element_type=float32] a a b:f32[3,3] = "
        "dot_general[dimension_numbers=(([1], [0]), ([], [])) "
        "preferred_element_type=float32] c a in (b,) }] a in (b,) }"
    ),
    "matrix_rank": (
        "{ lambda ; a:f32[4,3]. let b:i32[] = jit[name=matrix_rank jaxpr={ lambda ; "
        "a:f32[4,3]. let c:f32[3] = jit[name=svd jaxpr={ lambda ; a:f32[4,3]. let "
        "c:f32[3] = svd[algorithm=None compute_uv=False full_matrices=False "
        "subset_by_index=None] a in (c,) }] a d:f32[] = reduce_max[axes=(0,)] c e:f32[] "
        "= mul d 4.0:f32[] f:f32[] = mul e 1.1920928955078125e-07:f32[] g:f32[1] = "
        "broadcast_in_dim f h:bool[3] = gt c g i:i32[3] = "
        "convert_element_type[new_dtype=int32 weak_type=False] h b:i32[] = "
        "reduce_sum[axes=(0,) out_sharding=None] i in (b,) }] a in (b,) }"
    ),
    "cond": (
        "{ lambda ; a:f32[3,3]. let b:f32[] = jit[name=cond jaxpr={ lambda ; a:f32[3,3]. "
        "let c:f32[3] = jit[name=svd jaxpr={ lambda ; a:f32[3,3]. let c:f32[3] = "
        "svd[algorithm=None compute_uv=False full_matrices=True subset_by_index=None] a "
        "in (c,) }] a d:f32[1] = slice[limit_indices=(1,) start_indices=(0,) "
        "strides=None] c e:f32[] = squeeze[dimensions=(0,)] d f:f32[1] = "
        "slice[limit_indices=(3,) start_indices=(2,) strides=None] c g:f32[] = "
        "squeeze[dimensions=(0,)] f b:f32[] = div e g in (b,) }] a in (b,) }"
    ),
    "multi_dot": (
        "{ lambda ; a:f32[4,3] b:f32[3,3] c:f32[3,2]. let d:f32[2,3] = "
        "dot_general[dimension_numbers=(([0], [1]), ([], [])) "
        "preferred_element_type=float32] c b e:f32[4,2] = "
        "dot_general[dimension_numbers=(([1], [1]), ([], [])) "
        "preferred_element_type=float32] a d in (e,) }"
    ),
    "vectorize_dot": (
        "{ lambda ; a:f32[2,3] b:f32[3]. let c:f32[2] = "
        "dot_general[dimension_numbers=(([1], [0]), ([], [])) "
        "preferred_element_type=float32] a b in (c,) }"
    ),
    "vectorize_nobatch": (
        "{ lambda ; a:f32[3] b:f32[3]. let c:f32[] = "
        "dot_general[dimension_numbers=(([0], [0]), ([], [])) "
        "preferred_element_type=float32] a b in (c,) }"
    ),
    "vectorize_size1": (
        "{ lambda ; a:f32[1,3] b:f32[3]. let c:f32[3] = squeeze[dimensions=(0,)] a "
        "d:f32[] = dot_general[dimension_numbers=(([0], [0]), ([], [])) "
        "preferred_element_type=float32] c b e:f32[1] = broadcast_in_dim d in (e,) }"
    ),
}


@pytest.mark.parametrize("name", sorted(_RECORDED))
def test_printed_jaxpr_equals_recorded_jax_text(name):
    f, args = _programs(fx)[name]
    assert _text(fx.make_jaxpr(f)(*args)) == "".join(_RECORDED[name])


def test_structure_without_jax():
    text = str(fx.make_jaxpr(fnp.linalg.solve)(A, V))
    assert text.startswith("let _lu_solve = { lambda ; a:f32[3,3] b:i32[3] c:f32[3]. let")
    for piece in ("name=solve", "stop_gradient", " = lu ", "custom_linear_solve[",
                  "const_lengths=_LinearSolveTuple(matvec=1, vecmat=1, solve=2, "
                  "transpose_solve=2)", "jaxprs=_LinearSolveTuple(matvec={ lambda ; a:f32[3,3]",
                  "precision=(Precision.HIGHEST, Precision.HIGHEST)",
                  "reduce_sum[axes=() out_sharding=None]", "jit[name=_lu_solve jaxpr=_lu_solve]"):
        assert piece in text, piece
    assert "custom_jvp_call" not in text
    inv_text = str(fx.make_jaxpr(fnp.linalg.inv)(A))
    assert "name=inv" in inv_text and "name=solve" in inv_text


def test_lax_custom_linear_solve_params_print_as_jax():
    def f(a, b):
        return lax.custom_linear_solve(lambda x: a @ x, b, lambda _, x: x / 2,
                                       symmetric=True)
    text = str(fx.make_jaxpr(f)(A, V))
    assert "const_lengths=_LinearSolveTuple(matvec=1, vecmat=1, solve=0, " \
           "transpose_solve=0)" in text
    assert "jaxprs=_LinearSolveTuple(matvec={ lambda ; a:f32[3,3] b:f32[3]. let" in text


def test_jit_results_match_jax(jax):
    for name in [n for n in _NAMES if "solve" in n or "inv" in n]:   # few JAX compiles
        f, args = _programs(fx)[name]
        jf, jargs = _programs(jax)[name]
        got = fx.tree_util.tree_leaves(fx.jit(f)(*args))
        want = jax.tree_util.tree_leaves(jax.jit(jf)(*jargs))
        for g, w in zip(got, want, strict=True):
            assert (g.dtype, g.shape) == (w.dtype, w.shape), name
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-5,
                                       err_msg=name)


@pytest.mark.parametrize("name", _NAMES)
def test_eager_equals_jit(name):
    f, args = _programs(fx)[name]
    eager = fx.tree_util.tree_leaves(f(*args))
    jitted = fx.tree_util.tree_leaves(fx.jit(f)(*args))
    for e, j in zip(eager, jitted, strict=True):
        assert (e.dtype, e.shape) == (j.dtype, j.shape)
        np.testing.assert_allclose(np.asarray(e), np.asarray(j), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------
# values, derivatives, vmap


def _well_conditioned(rng, shape):
    a = rng.normal(size=shape)
    return (a + shape[-1] * np.eye(shape[-1])).astype(np.float32)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), k=st.integers(1, 3), seed=st.integers(0, 2**16),
       a_batch=st.sampled_from([(), (2,), (1,), (2, 1)]),
       b_batch=st.sampled_from([None, (), (2,), (1,), (3, 2)]))
def test_solve_values_match_numpy(n, k, a_batch, b_batch, seed):
    rng = np.random.default_rng(seed)
    a = _well_conditioned(rng, a_batch + (n, n))
    if b_batch is None:                       # one vector for every matrix
        b = rng.normal(size=(n,)).astype(np.float32)
        want = np.linalg.solve(a.astype(np.float64), b[:, None].astype(np.float64))[..., 0]
    else:
        b = rng.normal(size=b_batch + (n, k)).astype(np.float32)
        try:
            want = np.linalg.solve(a.astype(np.float64), b.astype(np.float64))
        except ValueError:                    # batch shapes that do not broadcast
            with pytest.raises(ValueError):
                fnp.linalg.solve(a, b)
            return
    for fn in (fnp.linalg.solve, fx.jit(fnp.linalg.solve)):
        got = fn(a, b)
        assert got.shape == want.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(fnp.linalg.inv(a), np.linalg.inv(a.astype(np.float64)),
                               rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(fx.jit(fnp.linalg.inv)(a), np.linalg.inv(a.astype(np.float64)),
                               rtol=2e-4, atol=2e-5)


def test_derivatives_match_finite_differences(x64):
    rng = np.random.default_rng(1)
    a = _well_conditioned(rng, (3, 3)).astype(np.float64)
    ab = _well_conditioned(rng, (2, 3, 3)).astype(np.float64)
    b, bm = rng.normal(size=3), rng.normal(size=(3, 2))
    for f, args in ((fnp.linalg.solve, (a, b)), (fnp.linalg.solve, (a, bm)),
                    (fnp.linalg.solve, (ab, bm)), (fnp.linalg.inv, (a,)),
                    (fnp.linalg.inv, (ab,)), (fx.jit(fnp.linalg.solve), (a, bm))):
        check_grads(f, args, order=2, modes=("fwd", "rev"))


def test_vmap_matches_a_loop():
    rng = np.random.default_rng(2)
    a = _well_conditioned(rng, (4, 3, 3))
    b = rng.normal(size=(4, 3)).astype(np.float32)
    bm = rng.normal(size=(4, 3, 2)).astype(np.float32)
    for f, args in ((fnp.linalg.solve, (a, b)), (fnp.linalg.solve, (a, bm)),
                    (fnp.linalg.inv, (a,))):
        got = fx.vmap(f)(*args)
        want = np.stack([f(*[x[i] for x in args]) for i in range(4)])
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    got = fx.vmap(fnp.linalg.solve, (None, 0))(a[0], b)
    np.testing.assert_allclose(got, np.stack([fnp.linalg.solve(a[0], x) for x in b]),
                               rtol=1e-5, atol=1e-6)


def test_grad_under_jit_and_vmap_match_numpy():
    rng = np.random.default_rng(3)
    a = _well_conditioned(rng, (3, 3))
    b = rng.normal(size=3).astype(np.float32)
    # d/db sum(a^-1 b) = a^-T 1 ; d/da = -a^-T 1 x^T
    x = np.linalg.solve(a.astype(np.float64), b)
    g = np.linalg.solve(a.T.astype(np.float64), np.ones(3))
    ga, gb = fx.jit(fx.grad(lambda a, b: fnp.linalg.solve(a, b).sum(), (0, 1)))(a, b)
    np.testing.assert_allclose(gb, g, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ga, -np.outer(g, x), rtol=1e-4, atol=1e-5)


def test_errors():
    with pytest.raises(ValueError, match="at least two dimensional"):
        fnp.linalg.solve(V, V)
    with pytest.raises(ValueError, match="square"):
        fnp.linalg.solve(M, V)
    with pytest.raises(ValueError, match="rows"):
        fnp.linalg.solve(A, np.ones(4, np.float32))
    with pytest.raises(ValueError, match="invalid shapes"):
        fnp.linalg.solve(A2, np.ones((2, 3), np.float32) + np.ones((3, 2, 3), np.float32)[0])
    with pytest.raises(ValueError, match="square"):
        fnp.linalg.inv(M)


# ---------------------------------------------------------------------------
# pinv, lstsq, matrix_power, matrix_rank, cond, multi_dot and vectorize: values


def test_more_values_match_numpy():
    rng = np.random.default_rng(4)
    a = _well_conditioned(rng, (3, 3))
    r = rng.normal(size=(4, 3)).astype(np.float32)
    a64, r64 = a.astype(np.float64), r.astype(np.float64)
    b = rng.normal(size=4).astype(np.float32)
    la = fnp.linalg
    cases = [
        (la.pinv, (r,), np.linalg.pinv(r64)),
        (lambda a: la.matrix_power(a, 5), (a,), np.linalg.matrix_power(a64, 5)),
        (lambda a: la.matrix_power(a, -3), (a,), np.linalg.matrix_power(a64, -3)),
        (lambda a: la.matrix_power(a, 0), (a,), np.eye(3)),
        (la.matrix_rank, (r,), np.linalg.matrix_rank(r64)),
        (la.matrix_rank, (np.outer(V, V),), 1),
        (la.cond, (a,), np.linalg.cond(a64)),
        (lambda a: la.cond(a, "fro"), (a,), np.linalg.cond(a64, "fro")),
        (lambda a: la.cond(a, 1), (a,), np.linalg.cond(a64, 1)),
        (lambda r, a: la.multi_dot([r, a, a.T]), (r, a), r64 @ a64 @ a64.T),
        (lambda a, v: la.multi_dot([v, a, a, v]), (a, V), V @ a64 @ a64 @ V),
        (lambda r, b: la.lstsq(r, b)[0], (r, b), np.linalg.lstsq(r64, b, rcond=None)[0]),
    ]
    for f, args, want in cases:
        for fn in (f, fx.jit(f)):
            np.testing.assert_allclose(np.asarray(fn(*args)), want, rtol=2e-4, atol=2e-5)


def test_more_derivatives_match_finite_differences(x64):
    rng = np.random.default_rng(5)
    a = _well_conditioned(rng, (3, 3)).astype(np.float64)
    r = rng.normal(size=(4, 3))
    la = fnp.linalg
    for f, args in ((la.pinv, (r,)), (la.pinv, (r.T,)),
                    (lambda a: la.matrix_power(a, 3), (a,)),
                    (la.cond, (a,)),
                    (lambda r, a: la.multi_dot([r, a, a]), (r, a)),
                    (lambda r: la.lstsq(r, np.ones(4))[0], (r,))):
        check_grads(f, args, order=2, modes=("fwd", "rev"))


def test_vectorize_matches_a_loop():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 1, 3)).astype(np.float32)
    y = rng.normal(size=(4, 3)).astype(np.float32)
    dot = fnp.vectorize(fnp.dot, signature="(n),(n)->()")
    want = np.array([[x[i, 0] @ y[j] for j in range(4)] for i in range(2)])
    for fn in (dot, fx.jit(dot)):
        got = fn(x, y)
        assert got.shape == (2, 4)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # no batch dimension: the function is called as is (no vmap, no reshape)
    text = str(fx.make_jaxpr(dot)(V, V))
    assert "reshape" not in text and text.count("dot_general") == 1
    # size-1 batch dims everywhere come back as size-1 dims; empty batches work
    assert dot(x[:1], y[:1]).shape == (1, 1)
    assert dot(np.ones((0, 3), np.float32), V).shape == (0,)
    two = fnp.vectorize(lambda u, v: (u + v, u * v))
    s, p = two(x[:, 0], np.float32(2))
    np.testing.assert_allclose(s, x[:, 0] + 2)
    np.testing.assert_allclose(p, x[:, 0] * 2)
    with pytest.raises(ValueError, match="declares 1 outputs"):
        fnp.vectorize(lambda u: (u, u), signature="()->()")(V)
    assert fnp.vectorize(lambda u, k: u * k, excluded={1})(V, 3).tolist() == [3, 6, 9]
