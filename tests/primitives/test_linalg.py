"""Tests of the ``dot_general`` primitive (primitives/linalg.py) and the lax product
wrappers (fx/lax/_linalg.py).

Oracles: ``np.einsum`` in float64/complex128 (or exact integers) for values,
finite differences (fx.test_util.check_grads, order 2, forward and reverse) for
derivatives, a Python loop for vmap, eager for jit, and ``jax.lax`` (values,
cotangents and printed jaxprs) where JAX is installed.
"""
from __future__ import annotations

import string

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx import lax
from fx.test_util import check_grads
from primitives.linalg import dot_dimension_numbers, dot_general_dtype, dot_general_p


def _dims(lc, rc, lb=(), rb=()):
    return dot_dimension_numbers(lc, rc, lb, rb)


def ref_dot_general(lhs, rhs, dims, out_dtype):
    """``dot_general`` through ``np.einsum`` in a wide dtype."""
    (lc, rc), (lb, rb) = dims
    letters = iter(string.ascii_letters)
    lsub = [next(letters) for _ in range(lhs.ndim)]
    rsub = [next(letters) for _ in range(rhs.ndim)]
    for a, b in zip(lc, rc, strict=True):
        rsub[b] = lsub[a]
    for a, b in zip(lb, rb, strict=True):
        rsub[b] = lsub[a]
    lfree = [lsub[i] for i in range(lhs.ndim) if i not in lc and i not in lb]
    rfree = [rsub[i] for i in range(rhs.ndim) if i not in rc and i not in rb]
    out = [lsub[a] for a in lb] + lfree + rfree
    wide = {"f": np.float64, "c": np.complex128, "i": np.int64, "u": np.uint64,
            "b": np.int64}

    def widen(x):
        return x.astype(wide[np.dtype(out_dtype).kind if np.dtype(out_dtype).kind != "b"
                             else "b"])

    if np.dtype(out_dtype).kind in "fc" or lhs.dtype.kind in "fc" or rhs.dtype.kind in "fc":
        kind = "c" if "c" in (lhs.dtype.kind, rhs.dtype.kind, np.dtype(out_dtype).kind) else "f"
        res = np.einsum(f"{''.join(lsub)},{''.join(rsub)}->{''.join(out)}",
                        lhs.astype(wide[kind]), rhs.astype(wide[kind]))
    else:
        res = np.einsum(f"{''.join(lsub)},{''.join(rsub)}->{''.join(out)}", widen(lhs),
                        widen(rhs))
        if np.dtype(out_dtype) == np.bool_:
            res = res != 0
    return np.asarray(res).astype(out_dtype)


def rand(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return np.asarray(rng.rand(*shape) < 0.5)
    if dtype.kind in "iu":
        return rng.randint(-5 if dtype.kind == "i" else 0, 6, size=shape).astype(dtype)
    x = rng.uniform(-2, 2, size=shape)
    if dtype.kind == "c":
        x = x + 1j * rng.uniform(-2, 2, size=shape)
    return x.astype(dtype)


# (id, lhs shape, rhs shape, dimension numbers)
CASES = [
    ("matmul", (3, 4), (4, 5), _dims((1,), (0,))),
    ("matvec", (3, 4), (4,), _dims((1,), (0,))),
    ("vecvec", (4,), (4,), _dims((0,), (0,))),
    ("outer", (3,), (2,), _dims((), ())),
    ("scalar", (), (2, 3), _dims((), ())),
    ("lhs_t", (4, 3), (4, 5), _dims((0,), (0,))),
    ("batched", (2, 3, 4), (2, 4, 5), _dims((2,), (1,), (0,), (0,))),
    ("batch_last", (3, 4, 2), (4, 5, 2), _dims((1,), (0,), (2,), (2,))),
    ("two_batch_unsorted", (2, 3, 4, 5), (4, 3, 6, 2), _dims((2,), (0,), (1, 0), (1, 3))),
    ("two_contract", (2, 3, 4), (4, 5, 3), _dims((1, 2), (2, 0))),
    ("empty_inner", (3, 0), (0, 2), _dims((1,), (0,))),
    ("empty_free", (0, 4), (4, 2), _dims((1,), (0,))),
]
CASE_IDS = [c[0] for c in CASES]

DTYPE_ROWS = [  # (lhs dtype, rhs dtype, preferred_element_type)
    ("float32", "float32", None), ("float64", "float64", None), ("int32", "int32", None),
    ("complex64", "complex64", None), ("bool", "bool", None), ("int8", "int8", "int32"),
    ("float32", "int32", None), ("float16", "float16", "float32"), ("uint8", "uint8", None),
    ("int8", "int8", "float32"),
]


def _x64(*names):
    return fx.enable_x64() if any(n in ("float64", "complex128", "int64") for n in names
                                  if n) else _null()


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("row", DTYPE_ROWS, ids=lambda r: "-".join(map(str, r)))
def test_impl_matches_einsum(case, row, harness):
    _, ls, rs, dims = case
    ldt, rdt, pet = row
    rng = np.random.RandomState(0)
    lhs, rhs = rand(rng, ls, ldt), rand(rng, rs, rdt)
    with _x64(ldt, rdt, pet):
        pet_dtype = None if pet is None else np.dtype(pet)
        out_dtype = dot_general_dtype(lhs.dtype, rhs.dtype, pet_dtype)
        params = dict(dimension_numbers=dims, precision=None,
                      preferred_element_type=pet_dtype, out_sharding=None)
        out = dot_general_p.bind(harness.to_fx(lhs), harness.to_fx(rhs), **params)
        expected = ref_dot_general(lhs, rhs, dims, out_dtype)
        tol = 1e-2 if "float16" in (ldt, rdt) else 1e-5
        harness.assert_same(out, expected, rtol=tol, atol=tol, err_msg=str(row))
        harness.check_abstract_eval(dot_general_p, [lhs, rhs], params)


def test_dtype_rule():
    f32, i32, i8, u8 = (np.dtype(t) for t in ("float32", "int32", "int8", "uint8"))
    assert dot_general_dtype(f32, i32) == f32
    assert dot_general_dtype(i8, u8) == i8
    assert dot_general_dtype(np.dtype("float16"), f32) == f32
    assert dot_general_dtype(i8, i8, np.dtype("int32")) == np.dtype("int32")
    with pytest.raises(TypeError, match="narrower"):
        dot_general_dtype(i8, i8, np.dtype(np.bool_))


@st.composite
def dot_problems(draw):
    """Random operand shapes and dimension numbers (any axis order)."""
    nb, nc = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    nlf, nrf = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    size = st.integers(1, 4)
    batch = [draw(size) for _ in range(nb)]
    contract = [draw(size) for _ in range(nc)]
    lroles = [("b", i) for i in range(nb)] + [("c", i) for i in range(nc)] + [
        ("f", draw(size)) for _ in range(nlf)]
    rroles = [("b", i) for i in range(nb)] + [("c", i) for i in range(nc)] + [
        ("f", draw(size)) for _ in range(nrf)]
    lroles = draw(st.permutations(lroles))
    rroles = draw(st.permutations(rroles))

    def shape(roles):
        return tuple(batch[k] if r == "b" else contract[k] if r == "c" else k for r, k in roles)

    def where(roles, role, k):
        return roles.index((role, k))

    dims = _dims([where(lroles, "c", i) for i in range(nc)],
                 [where(rroles, "c", i) for i in range(nc)],
                 [where(lroles, "b", i) for i in range(nb)],
                 [where(rroles, "b", i) for i in range(nb)])
    return shape(lroles), shape(rroles), dims


@given(problem=dot_problems(), dtype=st.sampled_from(["float32", "int32", "complex64"]),
       seed=st.integers(0, 2 ** 16))
def test_impl_random_dimension_numbers(problem, dtype, seed, harness):
    ls, rs, dims = problem
    rng = np.random.RandomState(seed)
    lhs, rhs = rand(rng, ls, dtype), rand(rng, rs, dtype)
    out = lax.dot_general(harness.to_fx(lhs), harness.to_fx(rhs), dims)
    harness.assert_same(out, ref_dot_general(lhs, rhs, dims, np.dtype(dtype)), 1e-5, 1e-5)


@given(problem=dot_problems(), seed=st.integers(0, 2 ** 16))
def test_vmap_random_dimension_numbers(problem, seed, harness):
    ls, rs, dims = problem
    rng = np.random.RandomState(seed)

    def f(a, b):
        return lax.dot_general(a, b, dims)

    for la, ra in [(0, None), (None, 0), (0, 0), (len(ls), len(rs)), (None, len(rs))]:
        lhs = rand(rng, ls[:la] + (3,) + ls[la:], "float32") if la is not None else rand(
            rng, ls, "float32")
        rhs = rand(rng, rs[:ra] + (3,) + rs[ra:], "float32") if ra is not None else rand(
            rng, rs, "float32")
        harness.check_vmap(f, [lhs, rhs], [la, ra], rtol=1e-5, atol=1e-5)


GRAD_CASES = [c for c in CASES if not c[0].startswith("empty")]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_grads(case):
    _, ls, rs, dims = case
    rng = np.random.RandomState(1)
    with fx.enable_x64():
        lhs, rhs = rand(rng, ls, "float64"), rand(rng, rs, "float64")
        check_grads(lambda a, b: lax.dot_general(a, b, dims), (lhs, rhs), order=2,
                    modes=("fwd", "rev"))


def test_grads_complex_and_mixed():
    rng = np.random.RandomState(2)
    with fx.enable_x64():
        a, b = rand(rng, (2, 3), "complex128"), rand(rng, (3, 2), "complex128")
        check_grads(lambda a, b: lax.dot_general(a, b, _dims((1,), (0,))), (a, b), order=2)
    a = rand(rng, (2, 3), "float32")
    n = rand(rng, (3, 4), "int32")
    out, vjp = fx.vjp(lambda a: lax.dot_general(a, n, _dims((1,), (0,))), a)
    assert out.dtype == np.float32
    (ga,) = vjp(fnp.ones((2, 4), np.float32))
    np.testing.assert_allclose(np.asarray(ga), np.ones((2, 4)) @ n.T.astype(np.float64),
                               rtol=1e-6)
    # a wider preferred_element_type: cotangents come back in the operand's dtype
    h = rand(rng, (2, 3), "float16")
    g = fx.grad(lambda h: lax.dot(h, h.T, preferred_element_type=np.float32).sum())(h)
    assert g.dtype == np.float16
    np.testing.assert_allclose(np.asarray(g, np.float32),
                               2 * np.ones((2, 2)) @ h.astype(np.float32), rtol=1e-2)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_vmap_each_operand(case, harness):
    _, ls, rs, dims = case
    rng = np.random.RandomState(3)

    def f(a, b):
        return lax.dot_general(a, b, dims)

    for la in [None] + list(range(len(ls) + 1)):
        for ra in [None] + list(range(len(rs) + 1)):
            if la is None and ra is None:
                continue
            lhs = rand(rng, ls[:la] + (2,) + ls[la:], "float32") if la is not None else \
                rand(rng, ls, "float32")
            rhs = rand(rng, rs[:ra] + (2,) + rs[ra:], "float32") if ra is not None else \
                rand(rng, rs, "float32")
            harness.check_vmap(f, [lhs, rhs], [la, ra], rtol=1e-5, atol=1e-5)


def test_vmap_of_grad_and_nested_vmap(harness):
    rng = np.random.RandomState(4)
    a, b = rand(rng, (3, 2, 4), "float32"), rand(rng, (3, 4, 5), "float32")

    def loss(a, b):
        return (lax.dot(a, b) ** 2).sum()

    g = fx.vmap(fx.grad(loss, argnums=(0, 1)))(a, b)
    for i in range(3):
        gi = fx.grad(loss, argnums=(0, 1))(a[i], b[i])
        for x, y in zip(g, gi, strict=True):
            np.testing.assert_allclose(np.asarray(x)[i], np.asarray(y), rtol=1e-5, atol=1e-5)
    batched = rand(rng, (2, 3, 4, 5), "float32")
    out = fx.vmap(fx.vmap(lambda x, y: lax.dot(x, y), (None, 0)), (None, 0))(a[0], batched)
    harness.assert_same(out, np.einsum("ij,abjk->abik", a[0], batched), 1e-5, 1e-5)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_jit_matches_eager(case, harness):
    _, ls, rs, dims = case
    rng = np.random.RandomState(5)
    harness.check_jit(lambda a, b: lax.dot_general(a, b, dims),
                      [rand(rng, ls, "float32"), rand(rng, rs, "float32")])


def test_errors():
    a, b = fnp.ones((2, 3)), fnp.ones((4, 5))
    with pytest.raises(TypeError, match="contracting dimensions to have the same shape"):
        lax.dot_general(a, b, (((1,), (0,)), ((), ())))
    with pytest.raises(TypeError, match="out of range"):
        lax.dot_general(a, b, (((2,), (0,)), ((), ())))
    with pytest.raises(TypeError, match="same length"):
        lax.dot_general(a, b, (((1,), ()), ((), ())))
    with pytest.raises(TypeError, match="distinct"):
        lax.dot_general(fnp.ones((3, 3)), fnp.ones((3, 3)), (((0,), (0,)), ((0,), (1,))))
    with pytest.raises(TypeError, match="Incompatible shapes for dot"):
        lax.dot(fnp.ones((2, 3)), fnp.ones((2, 3)))
    with pytest.raises(ValueError, match="equal rank"):
        lax.batch_matmul(fnp.ones((2, 3)), fnp.ones((2, 3, 4)))


def test_lax_wrappers(harness):
    rng = np.random.RandomState(6)
    a, b, v = rand(rng, (3, 4), "float32"), rand(rng, (4, 2), "float32"), rand(
        rng, (4,), "float32")
    harness.assert_same(lax.dot(a, b), a @ b, 1e-6, 1e-6)
    harness.assert_same(lax.dot(a, v), a @ v, 1e-6, 1e-6)
    harness.assert_same(lax.dot(v, v), np.float32(v @ v), 1e-6, 1e-6)
    x, y = rand(rng, (5, 3, 4), "float32"), rand(rng, (5, 4, 2), "float32")
    harness.assert_same(lax.batch_matmul(x, y), x @ y, 1e-5, 1e-5)
    harness.assert_same(lax.dot_general(a, b, (((-1,), (0,)), ((), ()))), a @ b, 1e-6, 1e-6)
    out = lax.dot(a, b, precision=lax.Precision.HIGHEST, preferred_element_type=np.float32)
    harness.assert_same(out, a @ b, 1e-6, 1e-6)
    assert lax.Precision("highest") is lax.Precision.HIGHEST


def test_printed_jaxpr():
    a = np.ones((3, 4), np.float32)
    text = str(fx.make_jaxpr(lambda a, b: a @ b)(a, a.T))
    assert "dimension_numbers=(([1], [0]), ([], []))" in text
    assert "preferred_element_type=float32" in text
    assert "precision" not in text and "out_sharding" not in text
    text = str(fx.make_jaxpr(lambda a, b: lax.dot(a, b, precision="highest"))(a, a.T))
    assert "precision=(Precision.HIGHEST, Precision.HIGHEST)" in text
    assert "preferred_element_type" not in text


# ---------------------------------------------------------------------------
# JAX as an oracle


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_against_jax(case, jax):
    _, ls, rs, dims = case
    rng = np.random.RandomState(7)
    lhs, rhs = rand(rng, ls, "float32"), rand(rng, rs, "float32")

    def f(L):
        return lambda a, b: L.dot_general(a, b, dims)

    np.testing.assert_allclose(np.asarray(f(lax)(lhs, rhs)),
                               np.asarray(f(jax.lax)(lhs, rhs)), rtol=1e-5, atol=1e-5)
    out, vjp = fx.vjp(f(lax), lhs, rhs)
    ct = rand(rng, out.shape, "float32")
    jout, jvjp = jax.vjp(f(jax.lax), lhs, rhs)
    for mine, theirs in zip(vjp(ct), jvjp(ct), strict=True):
        np.testing.assert_allclose(np.asarray(mine), np.asarray(theirs), rtol=1e-5,
                                   atol=1e-5)
    mine = " ".join(str(fx.make_jaxpr(f(lax))(lhs, rhs)).split())
    theirs = " ".join(str(jax.make_jaxpr(f(jax.lax))(lhs, rhs)).split())
    assert mine == theirs


def test_grad_jaxpr_matches_jax(jax):
    a = np.ones((3, 4), np.float32)
    b = np.ones((4, 5), np.float32)

    def loss(np_):
        return lambda a, b: np_.sum(np_.matmul(a, b))

    mine = " ".join(str(fx.make_jaxpr(fx.grad(loss(fnp), (0, 1)))(a, b)).split())
    theirs = " ".join(str(jax.make_jaxpr(jax.grad(loss(jax.numpy), (0, 1)))(a, b)).split())
    assert mine == theirs


@pytest.mark.parametrize("axes", [(0, None), (None, 2), (0, 0), (2, 1)], ids=str)
def test_vmap_jaxprs_match_jax(axes, jax):
    a, b = np.ones((2, 3, 4), np.float32), np.ones((4, 3, 5), np.float32)
    dims = (((2,), (0,)), ((1,), (1,)))
    ab = a if axes[0] is None else np.stack([a, a], axes[0])
    bb = b if axes[1] is None else np.stack([b, b], axes[1])

    def f(L):
        return lambda x, y: L.dot_general(x, y, dims)

    mine = " ".join(str(fx.make_jaxpr(fx.vmap(f(lax), axes))(ab, bb)).split())
    theirs = " ".join(str(jax.make_jaxpr(jax.vmap(f(jax.lax), axes))(ab, bb)).split())
    assert mine == theirs
