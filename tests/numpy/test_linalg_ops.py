"""Tests of fx.numpy's products and matrix helpers (fx/numpy/_linalg_ops.py).

Oracles: NumPy for values (in float64 where fx computes in float32), finite
differences for derivatives, a Python loop for vmap, eager for jit, and
``jax.numpy`` for dtypes and printed jaxprs where JAX is installed.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx.test_util import check_grads


def rand(rng, shape, dtype="float32"):
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        return rng.randint(-4 if dtype.kind == "i" else 0, 5, size=shape).astype(dtype)
    x = rng.uniform(-2, 2, size=shape)
    if dtype.kind == "c":
        x = x + 1j * rng.uniform(-2, 2, size=shape)
    return np.asarray(x).astype(dtype)


def close(actual, expected, rtol=1e-5, atol=1e-5, dtype=None):
    actual = np.asarray(actual)
    if dtype is not None:
        assert actual.dtype == np.dtype(dtype), (actual.dtype, dtype)
    assert actual.shape == np.shape(expected), (actual.shape, np.shape(expected))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def wide(x):
    x = np.asarray(x)
    return x.astype(np.complex128 if x.dtype.kind == "c" else np.float64)


# ---------------------------------------------------------------------------
# matmul and friends

MATMUL_SHAPES = [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
                 ((2, 3, 4), (4, 5)), ((4,), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 6)),
                 ((1, 3, 4), (2, 4, 5)), ((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4,)),
                 ((6, 1, 2, 3), (1, 5, 3, 2)), ((0, 3), (3, 2)), ((3, 0), (0, 2))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_matches_numpy(shapes):
    rng = np.random.RandomState(0)
    a, b = rand(rng, shapes[0]), rand(rng, shapes[1])
    close(fnp.matmul(a, b), np.matmul(wide(a), wide(b)), dtype=np.float32)
    close(fnp.asarray(a) @ fnp.asarray(b), np.matmul(wide(a), wide(b)), dtype=np.float32)


@st.composite
def broadcastable_matmul(draw):
    m, k, n = (draw(st.integers(1, 4)) for _ in range(3))
    nb = draw(st.integers(0, 3))
    batch = [draw(st.integers(1, 3)) for _ in range(nb)]
    a_batch = [draw(st.sampled_from([b, 1])) for b in batch][draw(st.integers(0, nb)):]
    b_batch = [draw(st.sampled_from([b, 1])) for b in batch][draw(st.integers(0, nb)):]
    a = tuple(a_batch) + ((m, k) if a_batch or draw(st.booleans()) else (k,))
    b = tuple(b_batch) + ((k, n) if b_batch or draw(st.booleans()) else (k,))
    return a, b


@given(shapes=broadcastable_matmul(), dtype=st.sampled_from(["float32", "int32", "complex64"]))
def test_matmul_broadcasting(shapes, dtype):
    rng = np.random.RandomState(1)
    a, b = rand(rng, shapes[0], dtype), rand(rng, shapes[1], dtype)
    close(fnp.matmul(a, b), np.matmul(a, b), dtype=dtype)


def test_matmul_promotion_and_errors():
    a = np.ones((2, 3), np.int32)
    b = np.ones((3, 2), np.float32)
    assert fnp.matmul(a, b).dtype == np.float32
    assert fnp.matmul(np.ones((2, 3), np.int8), np.ones((3, 2), np.int8)).dtype == np.int8
    out = fnp.matmul(np.ones((2, 3), np.int8), np.ones((3, 2), np.int8),
                     preferred_element_type=np.int32)
    assert out.dtype == np.int32
    x = fnp.asarray(np.ones((2, 2), np.float32))
    assert (x @ np.eye(2, dtype=np.float32)).dtype == np.float32
    assert (np.eye(2, dtype=np.float32) @ x).dtype == np.float32
    with pytest.raises(ValueError, match="rank >= 1"):
        fnp.matmul(np.ones(3), 2.0)
    with pytest.raises(ValueError, match="contracting"):
        fnp.matmul(np.ones((2, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="broadcast"):
        fnp.matmul(np.ones((2, 2, 3)), np.ones((3, 3, 2)))


@pytest.mark.parametrize("shapes", [((3, 4), (4, 5)), ((4,), (4,)), ((2, 3, 4), (5, 4, 2)),
                                    ((2, 3), ()), ((), ()), ((3, 4), (4,)), ((4,), (4, 2))],
                         ids=str)
def test_dot_matches_numpy(shapes):
    rng = np.random.RandomState(2)
    a, b = rand(rng, shapes[0]), rand(rng, shapes[1])
    close(fnp.dot(a, b), np.dot(wide(a), wide(b)), dtype=np.float32)


def test_vdot_vecdot_inner_outer():
    rng = np.random.RandomState(3)
    a, b = rand(rng, (2, 3), "complex64"), rand(rng, (3, 2), "complex64")
    close(fnp.vdot(a, b), np.vdot(a, b), dtype=np.complex64)
    x, y = rand(rng, (4, 3), "complex64"), rand(rng, (2, 1, 3), "complex64")
    close(fnp.vecdot(x, y), np.sum(np.conj(x) * y, axis=-1), dtype=np.complex64)
    x, y = rand(rng, (3, 4)), rand(rng, (2, 3, 1))
    close(fnp.vecdot(x, y, axis=-2), np.sum(wide(x)[None] * wide(y), axis=-2))
    x, y = rand(rng, (2, 3)), rand(rng, (4, 5, 3))
    close(fnp.inner(x, y), np.inner(wide(x), wide(y)))
    close(fnp.inner(x, 2.0), wide(x) * 2.0, dtype=np.float32)
    z = rand(rng, (2, 2))
    close(fnp.outer(x, z), np.outer(wide(x), wide(z)), dtype=np.float32)


def test_tensordot():
    rng = np.random.RandomState(4)
    p, q, r = rand(rng, (2, 3, 4)), rand(rng, (4, 3, 5)), rand(rng, (3, 4, 2))
    close(fnp.tensordot(p, q, axes=([1, 2], [1, 0])),
          np.tensordot(wide(p), wide(q), ([1, 2], [1, 0])))
    close(fnp.tensordot(p, r, axes=2), np.tensordot(wide(p), wide(r), 2))
    close(fnp.tensordot(p, q, axes=1), np.tensordot(wide(p), wide(q), 1))
    close(fnp.tensordot(p, q, axes=0), np.tensordot(wide(p), wide(q), 0))
    close(fnp.tensordot(p, q, axes=(1, 1)), np.tensordot(wide(p), wide(q), (1, 1)))
    with pytest.raises(TypeError, match="shape mismatch"):
        fnp.tensordot(p, q, axes=([0], [0]))


def test_kron():
    rng = np.random.RandomState(5)
    for sa, sb in [((2, 3), (3, 1, 2)), ((3,), (2,)), ((2, 2), ()), ((), (3,))]:
        a, b = rand(rng, sa), rand(rng, sb)
        close(fnp.kron(a, b), np.kron(wide(a), wide(b)), dtype=np.float32)


@pytest.mark.filterwarnings("ignore:Arrays of 2-dimensional vectors:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_cross():
    rng = np.random.RandomState(6)
    for sa, sb, kw in [((4, 3), (3,), {}), ((5, 2), (5, 2), {}), ((5, 2), (5, 3), {}),
                       ((5, 3), (5, 2), {}), ((3, 4), (2, 4, 3), dict(axisa=0, axisc=1)),
                       ((3, 4), (3, 4), dict(axis=0))]:
        a, b = rand(rng, sa), rand(rng, sb)
        close(fnp.cross(a, b, **kw), np.cross(wide(a), wide(b), **kw), dtype=np.float32)
    special = np.array([np.inf, 0.0, 0.0], np.float32)
    with np.errstate(invalid="ignore"):
        expected = np.cross(special, np.array([0.0, 1.0, 0.0], np.float32))
    np.testing.assert_array_equal(np.asarray(fnp.cross(special, np.array([0.0, 1, 0],
                                                                         np.float32))),
                                  expected)
    with pytest.raises(ValueError, match="dimension must be 2 or 3"):
        fnp.cross(np.ones(4), np.ones(4))


# ---------------------------------------------------------------------------
# diagonals and triangles


@pytest.mark.parametrize("shape,offset,axes", [
    ((4, 4), 0, (0, 1)), ((3, 5), 2, (0, 1)), ((5, 3), -2, (0, 1)), ((3, 5), 7, (0, 1)),
    ((3, 5), -4, (0, 1)), ((2, 3, 4), 1, (2, 0)), ((2, 3, 4), -1, (1, 2)),
    ((0, 3), 0, (0, 1))])
def test_diagonal_and_trace(shape, offset, axes):
    rng = np.random.RandomState(7)
    a = rand(rng, shape)
    close(fnp.diagonal(a, offset, *axes), np.diagonal(a, offset, *axes), dtype=np.float32)
    close(fnp.trace(a, offset, *axes), np.trace(wide(a), offset, *axes), dtype=np.float32)
    ints = rand(rng, shape, "int8")
    assert fnp.trace(ints, offset, *axes).dtype == np.int32   # JAX's sum promotion
    close(fnp.trace(ints, offset, *axes), np.trace(ints, offset, *axes))
    close(fnp.asarray(a).diagonal(offset, *axes), np.diagonal(a, offset, *axes))


@pytest.mark.parametrize("k", [-2, -1, 0, 1, 3])
def test_diag_diagflat_tri(k):
    rng = np.random.RandomState(8)
    v = rand(rng, (3,))
    close(fnp.diag(v, k), np.diag(v, k), dtype=np.float32)
    m = rand(rng, (3, 4))
    close(fnp.diag(m, k), np.diag(m, k), dtype=np.float32)
    w = rand(rng, (2, 2))
    close(fnp.diagflat(w, k), np.diagflat(w, k), dtype=np.float32)
    close(fnp.tri(3, 5, k), np.tri(3, 5, k), dtype=np.float32)
    close(fnp.tri(4, k=k, dtype=np.int32), np.tri(4, k=k, dtype=np.int32), dtype=np.int32)
    t = rand(rng, (2, 3, 4))
    close(fnp.tril(t, k), np.tril(t, k), dtype=np.float32)
    close(fnp.triu(t, k), np.triu(t, k), dtype=np.float32)
    close(fnp.diag(np.zeros(0, np.float32), k), np.diag(np.zeros(0, np.float32), k))


def test_matrix_transpose_and_errors():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    close(fnp.matrix_transpose(x), np.swapaxes(x, -1, -2))
    with pytest.raises(ValueError, match="rank >= 2"):
        fnp.matrix_transpose(np.ones(3))
    with pytest.raises(ValueError, match="rank >= 2"):
        fnp.diagonal(np.ones(3))
    with pytest.raises(ValueError, match="cannot be the same"):
        fnp.diagonal(np.ones((3, 3)), 0, 1, 1)
    with pytest.raises(ValueError, match="1-D or 2-D"):
        fnp.diag(np.ones((2, 2, 2)))


# ---------------------------------------------------------------------------
# einsum

EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),
    ("ij,kj->ik", [(3, 4), (5, 4)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("iij->ji", [(3, 3, 2)]),
    ("ijk->", [(2, 3, 4)]),
    ("ij->ji", [(2, 3)]),
    ("i,i", [(4,), (4,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("...i,i->...", [(2, 3, 4), (4,)]),
    ("i...->...", [(3, 2, 4)]),
    ("ij,jk,kl->il", [(3, 4), (4, 5), (5, 2)]),
    ("ab,bc,cd,de->ae", [(2, 30), (30, 30), (30, 3), (3, 4)]),
    ("ijk,jl,kl->il", [(2, 3, 4), (3, 5), (4, 5)]),
    ("ab,ab,ab->", [(2, 3), (2, 3), (2, 3)]),
    ("ij,jk->ki", [(3, 4), (4, 5)]),
    ("aab,bc->ac", [(3, 3, 4), (4, 2)]),
    ("i,ij,jk->k", [(3,), (3, 4), (4, 2)]),
    ("ij,jk->ik", [(3, 1), (4, 5)]),
    ("ba,ac->bc", [(2, 0), (0, 3)]),
]


@pytest.mark.parametrize("subscripts,shapes", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
def test_einsum_matches_numpy(subscripts, shapes):
    rng = np.random.RandomState(9)
    ops = [rand(rng, s) for s in shapes]
    expected = np.einsum(subscripts, *[wide(o) for o in ops])
    close(fnp.einsum(subscripts, *ops), expected, dtype=np.float32)
    jitted = fx.jit(lambda *xs: fnp.einsum(subscripts, *xs))(*ops)
    # compiled sums are reassociated (as XLA's are): a few ulp from eager
    close(jitted, np.asarray(fnp.einsum(subscripts, *ops)), rtol=2e-6, atol=1e-6)


def test_einsum_each_step_is_one_dot_general():
    ops = [np.ones(s, np.float32) for s in [(2, 30), (30, 30), (30, 3), (3, 4)]]
    jaxpr = fx.make_jaxpr(lambda *xs: fnp.einsum("ab,bc,cd,de->ae", *xs))(*ops)
    names = [e.primitive.name for e in jaxpr.eqns]
    assert names.count("dot_general") == 3
    assert set(names) <= {"dot_general", "transpose"}
    # greedy order: the small (30, 3) x (3, 4) product happens before the 30 x 30 one
    first = jaxpr.eqns[0]
    assert {tuple(v.aval.shape) for v in first.invars} & {(30, 3), (3, 4), (2, 30)}


def test_einsum_forms_dtypes_and_errors():
    rng = np.random.RandomState(10)
    a, b = rand(rng, (3, 4)), rand(rng, (4, 5))
    close(fnp.einsum(a, [0, 1], b, [1, 2], [0, 2]), np.einsum(wide(a), [0, 1], wide(b),
                                                             [1, 2], [0, 2]))
    close(fnp.einsum(a, [Ellipsis, 1], b, [1, 2]), np.einsum(wide(a), [Ellipsis, 1],
                                                            wide(b), [1, 2]))
    ints = rand(rng, (3, 4), "int32")
    assert fnp.einsum("ij,jk->ik", ints, b).dtype == np.float32
    assert fnp.einsum("ij,jk->ik", ints, ints.T).dtype == np.int32
    out = fnp.einsum("ij,jk->ik", a, b, preferred_element_type=np.float32)
    close(out, wide(a) @ wide(b), dtype=np.float32)
    c = rand(rng, (3, 4), "complex64")
    close(fnp.einsum("ij,jk", c, b), np.einsum("ij,jk", c, b), dtype=np.complex64)
    with pytest.raises(ValueError, match="operands"):
        fnp.einsum("ij,jk->ik", a)
    with pytest.raises(ValueError, match="label 'j' has sizes"):
        fnp.einsum("ij,jk->ik", a, a)
    with pytest.raises(ValueError, match="does not appear"):
        fnp.einsum("ij->iz", a)
    with pytest.raises(ValueError, match="repeats"):
        fnp.einsum("ij->ii", a)
    with pytest.raises(ValueError, match="labels but its operand"):
        fnp.einsum("ijk->i", a)


@st.composite
def einsum_problems(draw):
    """Random contractions of 1-3 operands over a small alphabet (diagonals included)."""
    letters = "abcde"
    sizes = {c: draw(st.integers(1, 3)) for c in letters}
    n = draw(st.integers(1, 3))
    terms = [draw(st.lists(st.sampled_from(letters), min_size=0, max_size=3)) for _ in range(n)]
    used = sorted(set(c for t in terms for c in t))
    out = draw(st.lists(st.sampled_from(used), unique=True)) if used else []
    subscripts = ",".join("".join(t) for t in terms) + "->" + "".join(out)
    shapes = [tuple(sizes[c] for c in t) for t in terms]
    return subscripts, shapes


@given(problem=einsum_problems(), seed=st.integers(0, 2 ** 16))
def test_einsum_random(problem, seed):
    subscripts, shapes = problem
    rng = np.random.RandomState(seed)
    ops = [rand(rng, s) for s in shapes]
    close(fnp.einsum(subscripts, *ops), np.einsum(subscripts, *[wide(o) for o in ops]),
          rtol=1e-5, atol=1e-5, dtype=np.float32)


# ---------------------------------------------------------------------------
# transformations


def test_grads():
    rng = np.random.RandomState(11)
    with fx.enable_x64():
        a, b, c = (rand(rng, s, "float64") for s in [(2, 3), (3, 4), (4, 2)])
        check_grads(lambda a, b: fnp.matmul(a, b), (a, b), order=2)
        check_grads(lambda a, b, c: fnp.einsum("ij,jk,kl->il", a, b, c), (a, b, c), order=2)
        check_grads(lambda x: fnp.einsum("iij->j", x), (rand(rng, (3, 3, 2), "float64"),),
                    order=2)
        batched = rand(rng, (2, 1, 2, 3), "float64")
        check_grads(lambda x, y: fnp.matmul(x, y), (batched, rand(rng, (5, 3, 2), "float64")),
                    order=1)
        sq = rand(rng, (4, 4), "float64")
        check_grads(lambda x: fnp.trace(x, 1), (sq,), order=2)
        check_grads(lambda x: fnp.diagonal(x, -1), (sq,), order=1)
        check_grads(lambda x: fnp.diag(x, 2), (rand(rng, (3,), "float64"),), order=1)
        check_grads(lambda x: fnp.tril(x, -1), (sq,), order=1)
        check_grads(fnp.cross, (rand(rng, (2, 3), "float64"), rand(rng, (2, 3), "float64")),
                    order=2)
        check_grads(fnp.kron, (rand(rng, (2, 2), "float64"), rand(rng, (3,), "float64")),
                    order=1)
        cplx = rand(rng, (3,), "complex128"), rand(rng, (3,), "complex128")
        check_grads(fnp.vdot, cplx, order=1)


def test_vmap_matches_loop(harness):
    rng = np.random.RandomState(12)
    a, b = rand(rng, (3, 2, 4)), rand(rng, (4, 3, 5))
    harness.check_vmap(fnp.matmul, [a, b], [0, 1], rtol=1e-5, atol=1e-5)
    harness.check_vmap(fnp.matmul, [a, b[:, 0]], [0, None], rtol=1e-5, atol=1e-5)
    harness.check_vmap(lambda x, y: fnp.einsum("ij,jk->ki", x, y), [a, b], [0, 1],
                       rtol=1e-5, atol=1e-5)
    harness.check_vmap(lambda x: fnp.diagonal(x, 1), [rand(rng, (3, 4, 2))], [2])
    harness.check_vmap(lambda x: fnp.trace(x), [rand(rng, (3, 3, 2))], [1], rtol=1e-6,
                       atol=1e-6)
    harness.check_vmap(lambda x, y: fnp.cross(x, y), [rand(rng, (2, 3)), rand(rng, (3,))],
                       [0, None], rtol=1e-6, atol=1e-6)


def test_jit_matches_eager(harness):
    rng = np.random.RandomState(13)
    harness.check_jit(fnp.matmul, [rand(rng, (2, 1, 3, 4)), rand(rng, (5, 4, 2))])
    harness.check_jit(lambda x: fnp.diag(x, -1), [rand(rng, (4,))])
    harness.check_jit(lambda x: fnp.triu(x, 1), [rand(rng, (3, 4))])
    harness.check_jit(fnp.vdot, [rand(rng, (3, 2)), rand(rng, (6,))])


# ---------------------------------------------------------------------------
# JAX as an oracle


@pytest.mark.parametrize("name,args", [
    ("matmul", [(3, 4), (4, 5)]), ("matmul", [(2, 1, 3, 4), (5, 4, 6)]),
    ("matmul", [(7, 3, 4), (7, 4, 6)]), ("matmul", [(4,), (7, 4, 6)]),
    ("dot", [(3, 4, 5), (2, 5, 6)]), ("dot", [(3, 4), ()]), ("tensordot", [(2, 3, 4), (3, 4, 5)]),
    ("inner", [(2, 3), (4, 3)]), ("vdot", [(2, 3), (3, 2)])], ids=str)
def test_jaxpr_matches_jax(name, args, jax):
    ops = [np.ones(s, np.float32) for s in args]
    mine = " ".join(str(fx.make_jaxpr(getattr(fnp, name))(*ops)).split())
    theirs = " ".join(str(jax.make_jaxpr(getattr(jax.numpy, name))(*ops)).split())
    assert mine == theirs


@pytest.mark.parametrize("name,args", [
    ("dot", (2.0, 3.0)), ("dot", (np.ones(3, np.int32), 2.0)), ("inner", (2.0, np.ones(2))),
    ("matmul", (np.ones((2, 3), np.int8), np.ones((3, 2), np.uint8))),
    ("matmul", (np.ones((2, 3), np.float16), np.ones((3, 2), np.int32))),
    ("vdot", (np.ones(1, np.float32), 1j)), ("einsum", ("i,->i", np.ones(2, np.int32), 2.5))],
    ids=str)
def test_dtypes_and_weak_types_match_jax(name, args, jax):
    mine = getattr(fnp, name)(*args)
    theirs = getattr(jax.numpy, name)(*args)
    assert (mine.dtype, mine.weak_type) == (theirs.dtype, theirs.weak_type)
    close(mine, np.asarray(theirs))
    if name != "einsum":
        arrays = [np.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
        text = " ".join(str(fx.make_jaxpr(getattr(fnp, name))(*arrays)).split())
        jtext = " ".join(str(jax.make_jaxpr(getattr(jax.numpy, name))(*arrays)).split())
        assert text == jtext


@pytest.mark.parametrize("subscripts,shapes", EINSUM_CASES[:16],
                         ids=[c[0] for c in EINSUM_CASES[:16]])
def test_einsum_against_jax(subscripts, shapes, jax):
    rng = np.random.RandomState(14)
    ops = [rand(rng, s) for s in shapes]
    mine = fnp.einsum(subscripts, *ops)
    theirs = jax.numpy.einsum(subscripts, *ops)
    assert mine.dtype == theirs.dtype
    close(mine, np.asarray(theirs), rtol=1e-5, atol=1e-5)
