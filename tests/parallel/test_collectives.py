"""Every collective under pmap (1, 2, 4 CPU devices), vmap(axis_name=) and nested
maps, against NumPy on the gathered data; derivatives against finite differences.

Each table row is (name, per-replica function, per-replica input shape, NumPy
reference on the stacked inputs X of shape (n, *shape) giving the stacked outputs).
"""
from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
from fx.test_util import cpu_devices
import fx.numpy as fnp
from fx.interpreters import pmap as pmap_module
from fx.lax import _parallel
from fx.test_util import check_grads

pmap = getattr(fx, "pmap", None) or pmap_module.pmap
plax = fx.lax if hasattr(fx.lax, "psum") else _parallel


def _shift(n):
    return [(i, (i + 1) % n) for i in range(n)]


def _shuffle(n):
    return [(i + 1) % n for i in range(n)]


def _a2a_ref(X, split, concat):
    """NumPy all_to_all: out_i = concat_j(chunk_i(X[j]) along split) along concat."""
    n = X.shape[0]
    chunks = [np.split(X[j], n, axis=split) for j in range(n)]
    return np.stack([np.concatenate([chunks[j][i] for j in range(n)], axis=concat)
                     for i in range(n)])


def _ppermute_ref(X, perm):
    out = np.zeros_like(X)
    for s, d in perm:
        out[d] = X[s]
    return out


# (name, f(v, n) per replica, per-replica shape(n), reference(X, n))
CASES = [
    ("psum", lambda v, n: plax.psum(v, "i"), lambda n: (3,),
     lambda X, n: np.broadcast_to(X.sum(0), X.shape)),
    ("psum_tree", lambda v, n: plax.psum({"a": v, "b": 2 * v}, "i")["b"], lambda n: (2, 2),
     lambda X, n: np.broadcast_to(2 * X.sum(0), X.shape)),
    ("pmean", lambda v, n: plax.pmean(v, "i"), lambda n: (3,),
     lambda X, n: np.broadcast_to(X.mean(0), X.shape)),
    ("pmax", lambda v, n: plax.pmax(v, "i"), lambda n: (2, 3),
     lambda X, n: np.broadcast_to(X.max(0), X.shape)),
    ("pmin", lambda v, n: plax.pmin(v, "i"), lambda n: (3,),
     lambda X, n: np.broadcast_to(X.min(0), X.shape)),
    ("all_gather", lambda v, n: plax.all_gather(v, "i"), lambda n: (3,),
     lambda X, n: np.broadcast_to(X, (n,) + X.shape)),
    ("all_gather_axis1", lambda v, n: plax.all_gather(v, "i", axis=1), lambda n: (2, 3),
     lambda X, n: np.broadcast_to(np.moveaxis(X, 0, 1), (n, 2, n, 3))),
    ("all_gather_tiled", lambda v, n: plax.all_gather(v, "i", tiled=True), lambda n: (2, 3),
     lambda X, n: np.broadcast_to(X.reshape(n * 2, 3), (n, n * 2, 3))),
    ("psum_scatter", lambda v, n: plax.psum_scatter(v, "i"), lambda n: (n, 3),
     lambda X, n: X.sum(0)),
    ("psum_scatter_tiled", lambda v, n: plax.psum_scatter(v, "i", scatter_dimension=1,
                                                          tiled=True), lambda n: (3, 2 * n),
     lambda X, n: np.stack(np.split(X.sum(0), n, axis=1))),
    ("all_to_all", lambda v, n: plax.all_to_all(v, "i", 0, 0), lambda n: (n, 3),
     lambda X, n: X.transpose(1, 0, 2)),
    ("all_to_all_moved", lambda v, n: plax.all_to_all(v, "i", 0, 1), lambda n: (n, 3),
     lambda X, n: np.transpose(X, (1, 2, 0))),
    ("all_to_all_tiled", lambda v, n: plax.all_to_all(v, "i", 1, 0, tiled=True),
     lambda n: (2, 2 * n), lambda X, n: _a2a_ref(X, 1, 0)),
    ("pswapaxes", lambda v, n: plax.pswapaxes(v, "i", 0), lambda n: (n, 2),
     lambda X, n: X.transpose(1, 0, 2)),
    ("ppermute", lambda v, n: plax.ppermute(v, "i", _shift(n)), lambda n: (3,),
     lambda X, n: np.roll(X, 1, axis=0)),
    ("ppermute_partial", lambda v, n: plax.ppermute(v, "i", [(0, n - 1)]), lambda n: (3,),
     lambda X, n: _ppermute_ref(X, [(0, n - 1)])),
    ("pshuffle", lambda v, n: plax.pshuffle(v, "i", _shuffle(n)), lambda n: (3,),
     lambda X, n: X[_shuffle(n)]),
    ("axis_index", lambda v, n: plax.axis_index("i") + 0 * v.astype(np.int32), lambda n: (2,),
     lambda X, n: np.broadcast_to(np.arange(n, dtype=np.int32)[:, None], X.shape)),
]
IDS = [c[0] for c in CASES]


def _data(n, shape, seed=0):
    return np.random.default_rng(seed).normal(size=(n,) + shape).astype(np.float32)


@pytest.mark.parametrize("n", [1, 2, 4])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_pmap_matches_numpy(case, n):
    name, f, shape, ref = case
    X = _data(n, shape(n))
    with cpu_devices(n):
        out = pmap(lambda v: f(v, n), axis_name="i")(X)
    np.testing.assert_allclose(np.asarray(out), ref(X, n), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_vmap_axis_name_matches_numpy(case, n):
    name, f, shape, ref = case
    X = _data(n, shape(n))
    out = fx.vmap(lambda v: f(v, n), axis_name="i")(X)
    np.testing.assert_allclose(np.asarray(out), ref(X, n), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_vmap_over_other_axis_batches_through(case):
    """An inner vmap with another name only batches the collective over the pmap axis."""
    name, f, shape, ref = case
    n, batch = 2, 3
    X = _data(n, (batch,) + shape(n))
    with cpu_devices(n):
        out = pmap(fx.vmap(lambda v: f(v, n), axis_name="j"), axis_name="i")(X)
    expected = np.stack([ref(X[:, b], n) for b in range(batch)], axis=1)
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_vmap_of_pmap_inner_collective(case):
    """The collective's axis is the inner pmap; an outer vmap maps over lanes."""
    name, f, shape, ref = case
    n, batch = 2, 2
    X = _data(batch, (n,) + shape(n))
    with cpu_devices(n):
        out = fx.vmap(pmap(lambda v: f(v, n), axis_name="i"), axis_name="k")(X)
    expected = np.stack([ref(X[b], n) for b in range(batch)])
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-5, atol=1e-6)


def _two_axis(v):
    return (plax.psum(v, ("i", "j")), plax.pmax(v, ("i", "j")), plax.axis_index(("i", "j")),
            plax.psum(v, "i"), plax.all_gather(v, "j"), plax.ppermute(v, "i", [(0, 1), (1, 0)]))


def _two_axis_ref(X):
    a, b = X.shape[:2]
    full = np.broadcast_to(X.sum((0, 1)), X.shape)
    top = np.broadcast_to(X.max((0, 1)), X.shape)
    index = np.arange(a * b, dtype=np.int32).reshape(a, b)
    over_i = np.broadcast_to(X.sum(0, keepdims=True), X.shape)
    gather_j = np.broadcast_to(X[:, None], (a, b) + X.shape[1:])
    swapped = X[::-1]
    return full, top, index, over_i, gather_j, swapped


@pytest.mark.parametrize("nesting", ["pmap_pmap", "pmap_vmap", "vmap_pmap", "vmap_vmap"])
def test_nested_maps_two_named_axes(nesting):
    X = _data(2, (2, 3))
    outer, inner = nesting.split("_")
    maps = {"pmap": lambda f, name: pmap(f, axis_name=name),
            "vmap": lambda f, name: fx.vmap(f, axis_name=name)}
    with cpu_devices(4):
        f = maps[outer](maps[inner](_two_axis, "j"), "i")
        outs = f(X)
    for got, want in zip(outs, _two_axis_ref(X)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(n=st.sampled_from([1, 2, 4]), shape=st.lists(st.integers(1, 3), min_size=0, max_size=3),
       kind=st.sampled_from(["psum", "pmax", "all_gather", "ppermute"]),
       dtype=st.sampled_from([np.float32, np.int32]))
def test_shapes_and_dtypes_pmap_vmap_numpy(n, shape, kind, dtype):
    X = (np.random.default_rng(1).normal(size=[n] + shape) * 5).astype(dtype)
    fns = {"psum": (lambda v: plax.psum(v, "i"), lambda: np.broadcast_to(X.sum(0, dtype=dtype),
                                                                         X.shape)),
           "pmax": (lambda v: plax.pmax(v, "i"), lambda: np.broadcast_to(X.max(0), X.shape)),
           "all_gather": (lambda v: plax.all_gather(v, "i", axis=len(shape)),
                          lambda: np.broadcast_to(np.moveaxis(X, 0, -1), (n,) + tuple(shape)
                                                  + (n,))),
           "ppermute": (lambda v: plax.ppermute(v, "i", _shift(n)),
                        lambda: np.roll(X, 1, axis=0))}
    f, ref = fns[kind]
    with cpu_devices(n):
        got_p = pmap(f, axis_name="i")(X)
    got_v = fx.vmap(f, axis_name="i")(X)
    for got in (got_p, got_v):
        assert np.asarray(got).dtype == np.dtype(dtype)
        np.testing.assert_allclose(np.asarray(got), ref(), rtol=1e-5)


# ---------------------------------------------------------------------------
# derivatives

GRAD_CASES = [c for c in CASES if c[0] not in ("axis_index", "pmax", "pmin")]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_grad_of_pmap_against_finite_differences(case):
    name, f, shape, ref = case
    n = 4
    X = _data(n, shape(n), seed=3)
    with cpu_devices(n):
        g = pmap(lambda v: fnp.sin(f(v, n)) * 1.5, axis_name="i")
        check_grads(g, (X,), order=1, modes=("fwd", "rev"))


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_grad_under_vmap_axis_name_against_finite_differences(case):
    name, f, shape, ref = case
    n = 3
    X = _data(n, shape(n), seed=4)
    g = fx.vmap(lambda v: fnp.sin(f(v, n)) * 1.5, axis_name="i")
    check_grads(g, (X,), order=1, modes=("fwd", "rev"))


@pytest.mark.parametrize("kind", ["pmax", "pmin"])
def test_pmax_pmin_derivatives(kind):
    X = _data(2, (4,), seed=5)  # distinct values: the extremum is differentiable
    op = getattr(plax, kind)
    with cpu_devices(2):
        check_grads(pmap(lambda v: op(v, "i") * v, axis_name="i"), (X,), order=1)
    check_grads(fx.vmap(lambda v: op(v, "i") * v, axis_name="i"), (X,), order=1)


def test_second_order_through_pmap():
    X = _data(2, (3,), seed=6)
    with cpu_devices(2):
        f = pmap(lambda v: fnp.tanh(plax.psum(v * v, "i")) * plax.all_gather(v, "i")[0],
                 axis_name="i")
        check_grads(f, (X,), order=2, modes=("fwd", "rev"))


def test_pmap_of_grad_equals_grad_of_pmap():
    X = _data(4, (3,), seed=7)

    def local_loss(v):
        return fnp.sum(fnp.cos(plax.psum(v, "i")) * v)

    with cpu_devices(4):
        per_replica = pmap(fx.grad(local_loss), axis_name="i")(X)
        total = fx.grad(lambda X: fnp.sum(pmap(local_loss, axis_name="i")(X)))(X)
    S = X.sum(0)
    # d/dX[r] sum_q sum_k cos(S_k) X[q,k] = cos(S) - sin(S) * sum_q X[q]
    expected = np.broadcast_to(np.cos(S) - np.sin(S) * S, X.shape)
    np.testing.assert_allclose(np.asarray(total), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(per_replica), expected, rtol=1e-5, atol=1e-6)


def test_grad_of_replicated_output():
    """out_axes=None: the output is the same on every replica and counted once."""
    X = _data(4, (3,), seed=8)
    with cpu_devices(4):
        f = pmap(lambda v: fnp.sum(plax.psum(v * v, "i")), axis_name="i", out_axes=None)
        value = f(X)
        grad = fx.grad(f)(X)
    np.testing.assert_allclose(float(value), float((X * X).sum()), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(grad), 2 * X, rtol=1e-5)


def test_unbound_axis_name_errors():
    x = fnp.ones(3)
    with pytest.raises(NameError, match="unbound axis name: i"):
        plax.psum(x, "i")
    with pytest.raises(NameError, match="unbound axis name: i"):
        fx.jit(lambda v: plax.all_gather(v, "i"))(x)
    with pytest.raises(NameError, match="unbound axis name: k"):
        fx.vmap(lambda v: plax.psum(v, "k"), axis_name="i")(fnp.ones((2, 3)))
    with pytest.raises(NameError, match="unbound axis name: j"):
        fx.vmap(lambda v: plax.axis_index("j"), axis_name="i")(fnp.ones(2))


def test_python_scalars_need_no_communication():
    with cpu_devices(2):
        out = pmap(lambda v: v + plax.psum(1, "i") + plax.pmean(2.0, "i"),
                   axis_name="i")(np.zeros(2, np.float32))
    np.testing.assert_allclose(np.asarray(out), [4.0, 4.0])
    np.testing.assert_allclose(np.asarray(fx.vmap(lambda v: v * plax.psum(1, "i"),
                                                  axis_name="i")(np.ones(3))), [3, 3, 3])


def test_argument_errors():
    with pytest.raises(ValueError, match="all_to_all requires the size"):
        fx.vmap(lambda v: plax.all_to_all(v, "i", 0, 0), axis_name="i")(fnp.ones((2, 3)))
    with pytest.raises(ValueError, match="distinct"):
        fx.vmap(lambda v: plax.ppermute(v, "i", [(0, 1), (1, 1)]), axis_name="i")(
            fnp.ones((2, 3)))
    with pytest.raises(ValueError, match="outside the axis"):
        fx.vmap(lambda v: plax.ppermute(v, "i", [(0, 5)]), axis_name="i")(fnp.ones((2, 3)))
    with pytest.raises(ValueError, match="permutation"):
        fx.vmap(lambda v: plax.pshuffle(v, "i", [0, 0]), axis_name="i")(fnp.ones((2, 3)))
    with pytest.raises(ValueError, match="psum_scatter"):
        fx.vmap(lambda v: plax.psum_scatter(v, "i"), axis_name="i")(fnp.ones((2, 3)))
    with pytest.raises(ValueError, match="cover every index"):
        fx.vmap(lambda v: plax.psum(v, "i", axis_index_groups=[[0, 1]]),
                axis_name="i")(fnp.ones(3))
    with pytest.raises(ValueError, match="same size"):
        fx.vmap(lambda v: plax.all_gather(v, "i", axis_index_groups=[[0, 1], [2]]),
                axis_name="i")(fnp.ones(3))
    with pytest.raises(TypeError, match="axis_index_groups"):
        fx.vmap(lambda v: plax.psum(v, "i", axis_index_groups=[["a"]]),
                axis_name="i")(fnp.ones(1))
    with pytest.raises(NotImplementedError, match="axis_index_groups"):
        fx.vmap(lambda v: plax.psum_scatter(v, "i", axis_index_groups=[[0], [1]]),
                axis_name="i")(fnp.ones((2, 1)))


def test_jaxpr_prints_as_jax():
    with cpu_devices(2):
        text = str(pmap(lambda v: v, axis_name="i").lower(np.ones((2, 3), np.float32)).jaxpr)
    assert "f32[3]" in text
    from primitives.collectives import extend_axis_env
    with extend_axis_env("i", 4):
        jaxpr = fx.make_jaxpr(lambda v: (plax.psum(v, "i"), plax.all_gather(v, "i"),
                                         plax.axis_index("i"), plax.all_to_all(
                                             v.reshape(4, 1), "i", 0, 1)))(fnp.ones(4))
    text = str(jaxpr)
    assert "psum[axes=('i',) axis_index_groups=None]" in text
    assert "all_gather[\n" in text and "axis_size=4" in text and "f32[4,4]" in text
    assert "axis_index[axis_name=i]" in text
    assert "all_to_all[" in text and "axis_name=i" in text
