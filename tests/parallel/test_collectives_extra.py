"""axis_index_groups, pbroadcast, psend/precv, pcast and ragged_all_to_all under pmap
(1, 2, 4 CPU devices) and vmap(axis_name=), against NumPy on the gathered data;
derivatives against finite differences; replica threads that never reach a
collective; the ``fx.lax`` primitive names and ``fx.sharding``'s mesh helpers.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

import fx
from fx.test_util import cpu_devices
import fx.numpy as fnp
from fx.interpreters import pmap as pmap_module
from fx.interpreters.communicator import CollectiveTimeoutError
from fx.lax import _parallel as plax
from fx.test_util import check_grads

pmap = getattr(fx, "pmap", None) or pmap_module.pmap


def _data(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _per_group(X, groups, fn):
    """NumPy: ``fn(rows of the group)`` gives the stacked outputs of the group's members."""
    out = [None] * X.shape[0]
    for g in groups:
        for i, o in zip(g, fn(X[list(g)])):
            out[i] = o
    return np.stack(out)


GROUPS = [[0, 2], [3, 1]]  # interleaved, and not in index order
UNEVEN = [[1], [0, 2, 3]]

# (name, f(v), per-replica shape, NumPy reference on the group's rows, vmap supported)
GROUP_CASES = [
    ("psum", lambda v: plax.psum(v, "i", axis_index_groups=GROUPS), (3,),
     lambda G: [G.sum(0)] * len(G), True),
    ("psum_uneven", lambda v: plax.psum(v, "i", axis_index_groups=UNEVEN), (3,),
     lambda G: [G.sum(0)] * len(G), True),
    ("pmean", lambda v: plax.pmean(v, "i", axis_index_groups=GROUPS), (2, 2),
     lambda G: [G.mean(0)] * len(G), True),
    ("pmax", lambda v: plax.pmax(v, "i", axis_index_groups=UNEVEN), (3,),
     lambda G: [G.max(0)] * len(G), True),
    ("pmin", lambda v: plax.pmin(v, "i", axis_index_groups=GROUPS), (3,),
     lambda G: [G.min(0)] * len(G), True),
    ("all_gather", lambda v: plax.all_gather(v, "i", axis_index_groups=GROUPS, axis=1),
     (2, 3), lambda G: [np.moveaxis(G, 0, 1)] * len(G), True),
    ("all_gather_tiled", lambda v: plax.all_gather(v, "i", axis_index_groups=GROUPS,
                                                   tiled=True), (2, 3),
     lambda G: [G.reshape(-1, 3)] * len(G), True),
    ("psum_scatter", lambda v: plax.psum_scatter(v, "i", axis_index_groups=GROUPS), (2, 3),
     lambda G: list(G.sum(0)), False),
    ("psum_scatter_tiled", lambda v: plax.psum_scatter(
        v, "i", scatter_dimension=1, axis_index_groups=GROUPS, tiled=True), (3, 4),
     lambda G: np.split(G.sum(0), 2, axis=1), False),
    ("all_to_all", lambda v: plax.all_to_all(v, "i", 0, 1, axis_index_groups=GROUPS),
     (2, 3), lambda G: list(np.transpose(G, (1, 2, 0))), False),
    ("pswapaxes", lambda v: plax.pswapaxes(v, "i", 0, axis_index_groups=GROUPS), (2, 3),
     lambda G: list(G.transpose(1, 0, 2)), False),
]
GROUP_IDS = [c[0] for c in GROUP_CASES]


@pytest.mark.parametrize("case", GROUP_CASES, ids=GROUP_IDS)
def test_axis_index_groups_pmap_and_vmap_match_numpy(case):
    name, f, shape, ref, vmappable = case
    X = _data(4, *shape)
    groups = UNEVEN if "uneven" in name or name == "pmax" else GROUPS
    expected = _per_group(X, groups, ref)
    with cpu_devices(4):
        np.testing.assert_allclose(np.asarray(pmap(f, axis_name="i")(X)), expected,
                                   rtol=1e-5, atol=1e-6)
    if vmappable:
        np.testing.assert_allclose(np.asarray(fx.vmap(f, axis_name="i")(X)), expected,
                                   rtol=1e-5, atol=1e-6)
    else:  # as in JAX
        with pytest.raises(NotImplementedError, match="axis_index_groups"):
            fx.vmap(f, axis_name="i")(X)


@pytest.mark.parametrize("case", [c for c in GROUP_CASES if c[0] in
                                  ("psum", "all_gather_tiled", "psum_scatter", "all_to_all")],
                         ids=["psum", "all_gather_tiled", "psum_scatter", "all_to_all"])
def test_axis_index_groups_gradients(case):
    name, f, shape, ref, vmappable = case
    X = _data(4, *shape, seed=1)
    with cpu_devices(4):
        check_grads(pmap(lambda v: fnp.sin(f(v)) * 1.5, axis_name="i"), (X,), order=1,
                    modes=("fwd", "rev"))
    if vmappable:
        check_grads(fx.vmap(lambda v: fnp.sin(f(v)) * 1.5, axis_name="i"), (X,), order=1,
                    modes=("fwd", "rev"))


def test_axis_index_groups_over_two_named_axes():
    """Groups index the row-major combined index of ("i", "j")."""
    X = _data(2, 2, 3)
    groups = [[0, 3], [1, 2]]
    flat = X.reshape(4, 3)
    expected = _per_group(flat, groups, lambda G: [G.sum(0)] * len(G)).reshape(2, 2, 3)
    inner = pmap(lambda v: plax.psum(v, ("i", "j"), axis_index_groups=groups), axis_name="j")
    with cpu_devices(4):
        got = pmap(inner, axis_name="i")(X)
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5)
        with pytest.raises(NotImplementedError, match="several axes"):
            fx.vmap(inner, axis_name="i")(X)  # grouped over a vmapped and another axis


def test_axis_index_groups_in_the_jaxpr():
    from primitives.collectives import extend_axis_env
    with extend_axis_env("i", 4):
        text = str(fx.make_jaxpr(lambda v: (
            plax.psum(v, "i", axis_index_groups=GROUPS),
            plax.all_gather(v, "i", axis_index_groups=GROUPS)))(fnp.ones(3)))
    assert "axis_index_groups=((0, 2), (3, 1))" in text
    assert "axis_size=2" in text and "f32[2,3]" in text
    with cpu_devices(4):  # a Python scalar: the group size, no communication
        out = pmap(lambda v: v + plax.psum(1, "i", axis_index_groups=GROUPS),
                   axis_name="i")(np.zeros(4, np.float32))
    np.testing.assert_allclose(np.asarray(out), [2, 2, 2, 2])


# ---------------------------------------------------------------------------
# pbroadcast, psend/precv, pcast


def _send_recv(perm):
    def f(v):
        token = plax.psend(v, "i", perm)
        return plax.precv(token, fx.ShapeDtypeStruct(v.shape, v.dtype), "i", perm)
    return f


def _permuted(X, perm):
    out = np.zeros_like(X)
    for s, d in perm:
        out[d] = X[s]
    return out


P2P_CASES = [
    ("pbroadcast", lambda n: lambda v: plax.pbroadcast(v, "i", n - 1),
     lambda X, n: np.broadcast_to(X[n - 1], X.shape)),
    ("pbroadcast_tree", lambda n: lambda v: plax.pbroadcast({"a": v}, "i", 0)["a"],
     lambda X, n: np.broadcast_to(X[0], X.shape)),
    ("psend_precv", lambda n: _send_recv([(i, (i + 1) % n) for i in range(n)]),
     lambda X, n: np.roll(X, 1, axis=0)),
    ("psend_precv_partial", lambda n: _send_recv([(0, n - 1)]),
     lambda X, n: _permuted(X, [(0, n - 1)])),
    ("pcast", lambda n: lambda v: plax.pcast(v, "i", to="varying") * 2,
     lambda X, n: 2 * X),
]


@pytest.mark.parametrize("n", [1, 2, 4])
@pytest.mark.parametrize("case", P2P_CASES, ids=[c[0] for c in P2P_CASES])
def test_pbroadcast_psend_precv_pcast_match_numpy(case, n):
    name, make, ref = case
    X = _data(n, 2, 3)
    with cpu_devices(n):
        got = pmap(make(n), axis_name="i")(X)
    np.testing.assert_allclose(np.asarray(got), ref(X, n), rtol=1e-6)
    got = fx.vmap(make(n), axis_name="i")(X)
    np.testing.assert_allclose(np.asarray(got), ref(X, n), rtol=1e-6)


@pytest.mark.parametrize("case", P2P_CASES[:4], ids=[c[0] for c in P2P_CASES[:4]])
def test_pbroadcast_psend_precv_gradients(case):
    name, make, ref = case
    n = 3
    X = _data(n, 2, seed=2)
    f = make(n)
    with cpu_devices(n):
        check_grads(pmap(lambda v: fnp.sin(f(v)) * v, axis_name="i"), (X,), order=1,
                    modes=("fwd", "rev"))
    check_grads(fx.vmap(lambda v: fnp.sin(f(v)) * v, axis_name="i"), (X,), order=1,
                modes=("fwd", "rev"))


def test_p2p_argument_errors():
    ones = fnp.ones((2, 3))
    with pytest.raises(ValueError, match="source must be an int in"):
        fx.vmap(lambda v: plax.pbroadcast(v, "i", 2), axis_name="i")(ones)
    with pytest.raises(ValueError, match="distinct"):
        fx.vmap(lambda v: plax.psend(v, "i", [(0, 1), (1, 1)]), axis_name="i")(ones)
    with pytest.raises(TypeError, match="does not match"):
        fx.vmap(lambda v: plax.precv(plax.psend(v, "i", [(0, 1)]),
                                     fx.ShapeDtypeStruct((2,), np.float32), "i", [(0, 1)]),
                axis_name="i")(ones)
    with pytest.raises(ValueError, match="Allowed `to` values"):
        fx.vmap(lambda v: plax.pcast(v, "i", to="sideways"), axis_name="i")(ones)
    with pytest.raises(NameError, match="unbound axis name: k"):
        fx.vmap(lambda v: plax.pcast(v, "k", to="varying"), axis_name="i")(ones)


# ---------------------------------------------------------------------------
# ragged_all_to_all


def _ragged_setup(n, per_peer=1, width=2, seed=0):
    """Consistent per-replica arguments: replica j sends ``size[j, i]`` rows to replica
    i // per_peer, packed back to back, written there after the earlier senders' rows."""
    rng = np.random.default_rng(seed)
    k = n * per_peer
    rows = 2 * k  # room for every slice (sizes < 3)
    sizes = rng.integers(0, 3, size=(n, k)).astype(np.int32)
    operand = rng.normal(size=(n, rows, width)).astype(np.float32)
    output = rng.normal(size=(n, rows * n, width)).astype(np.float32)
    in_off = np.zeros((n, k), np.int32)
    out_off = np.zeros((n, k), np.int32)
    fill = np.zeros(n, np.int32)  # next free row on each receiver
    for j in range(n):
        in_off[j] = np.concatenate([[0], np.cumsum(sizes[j])[:-1]])
        for i in range(k):
            dst = i // per_peer
            out_off[j, i] = fill[dst]
            fill[dst] += sizes[j, i]
    recv = np.zeros((n, k), np.int32)  # recv[i, j*per_peer + s] = sizes[j, i*per_peer + s]
    for i in range(n):
        for j in range(n):
            recv[i, j * per_peer:(j + 1) * per_peer] = \
                sizes[j, i * per_peer:(i + 1) * per_peer]
    return operand, output, in_off, sizes, out_off, recv


def _ragged_ref(operand, output, in_off, sizes, out_off, recv):
    n, k = sizes.shape
    per_peer = k // n
    result = output.copy()
    for j in range(n):
        for i in range(k):
            dst, s = i // per_peer, sizes[j, i]
            result[dst, out_off[j, i]:out_off[j, i] + s] = \
                operand[j, in_off[j, i]:in_off[j, i] + s]
    return result


def _ragged(*args):
    return plax.ragged_all_to_all(*args, axis_name="i")


@pytest.mark.parametrize("n,per_peer", [(1, 2), (2, 1), (4, 2)])
def test_ragged_all_to_all_matches_numpy(n, per_peer):
    args = _ragged_setup(n, per_peer, seed=n)
    with cpu_devices(n):
        got = pmap(_ragged, axis_name="i")(*args)
    np.testing.assert_allclose(np.asarray(got), _ragged_ref(*args), rtol=1e-6)


def test_ragged_all_to_all_jax_docstring_example():
    operand = np.array([[1, 2, 2], [3, 4, 0]], np.float32)
    output = np.zeros((2, 4), np.float32)
    meta = [np.array(a, np.int32) for a in ([[0, 1], [0, 1]], [[1, 2], [1, 1]],
                                            [[0, 0], [1, 2]], [[1, 1], [2, 1]])]
    with cpu_devices(2):
        got = pmap(_ragged, axis_name="i")(operand, output, *meta)
    np.testing.assert_array_equal(np.asarray(got), [[1, 3, 0, 0], [2, 2, 4, 0]])


def test_ragged_all_to_all_batched_and_differentiated():
    n, batch = 2, 3
    cases = [_ragged_setup(n, 2, seed=10 + b) for b in range(batch)]
    stacked = [np.stack([c[i] for c in cases], axis=1) for i in range(6)]
    with cpu_devices(n):
        got = pmap(fx.vmap(_ragged, axis_name="j"), axis_name="i")(*stacked)
        expected = np.stack([_ragged_ref(*c) for c in cases], axis=1)
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6)
        operand, output, *meta = cases[0]

        def f(a, b):
            return pmap(lambda a, b, *m: fnp.sin(_ragged(a, b, *m)), axis_name="i")(
                a, b, *meta)
        check_grads(f, (operand, output), order=1, modes=("fwd", "rev"))
    with pytest.raises(NotImplementedError, match="vmapped axis"):
        fx.vmap(_ragged, axis_name="i")(*cases[0])


# ---------------------------------------------------------------------------
# replicas that never reach a collective


def test_a_stuck_replica_thread_times_out(monkeypatch):
    monkeypatch.setenv("FX_COLLECTIVE_TIMEOUT", "0.5")

    def slow(a):
        if float(a[0]) > 100:  # replica 1 is stuck outside any collective
            time.sleep(3)
        return a

    def f(v):
        y = fx.pure_callback(slow, fx.ShapeDtypeStruct((2,), np.float32), v)
        return plax.psum(y, "i")

    x = np.zeros((2, 2), np.float32)
    x[1] = 1000
    start = time.monotonic()
    with cpu_devices(2), pytest.raises(CollectiveTimeoutError, match="1 of 2 replicas"):
        pmap(f, axis_name="i")(x)
    assert time.monotonic() - start < 2.5


# ---------------------------------------------------------------------------
# names


def test_lax_exports_the_collective_primitives():
    import primitives
    for name in ("psum", "pmax", "pmin", "ppermute", "all_gather", "all_to_all",
                 "axis_index", "pbroadcast", "psend", "precv", "ragged_all_to_all"):
        prim = getattr(plax, name + "_p")
        assert prim.name == name and primitives.registry[name] is prim
    from primitives.collectives import extend_axis_env
    with extend_axis_env("i", 2):
        text = str(fx.make_jaxpr(lambda v: (plax.pbroadcast(v, "i", 1),
                                            _send_recv([(0, 1)])(v)))(fnp.ones(3)))
    assert "pbroadcast[axis_name=('i',) source=1]" in text
    assert "psend[" in text and "precv[" in text


def test_sharding_meshes_and_reshard():
    import fx.sharding as S
    with cpu_devices(2):
        assert S.get_mesh().empty and S.get_abstract_mesh().empty
        mesh = S.Mesh(np.array(fx.devices()), ("x",), axis_types=S.AxisType.Explicit)
        assert mesh.axis_types == (S.AxisType.Explicit,)
        assert repr(mesh.abstract_mesh) == "AbstractMesh('x': 2, axis_types=(Explicit,))"
        with pytest.raises(ValueError, match="needs a current mesh"):
            S.reshard(fnp.ones(2), S.PartitionSpec("x"))
        with S.set_mesh(mesh):
            assert S.get_mesh() == mesh and S.get_abstract_mesh() == mesh.abstract_mesh
            y = S.reshard(np.arange(4.0, dtype=np.float32), S.PartitionSpec("x"))
            assert y.sharding == S.NamedSharding(mesh, S.PartitionSpec("x"))
            np.testing.assert_array_equal(np.asarray(y), np.arange(4.0))
            z = S.auto_axes(lambda a: a * 2, out_sharding=S.PartitionSpec())(y)
            assert z.sharding == S.NamedSharding(mesh, S.PartitionSpec())
            w = S.explicit_axes(lambda a: a + 1, in_sharding=S.PartitionSpec("x"))(
                np.ones(2, np.float32))
            np.testing.assert_array_equal(np.asarray(w), [2, 2])
            traced = fx.jit(lambda a: S.reshard(a, S.PartitionSpec("x")) * 3)(y)
            np.testing.assert_array_equal(np.asarray(traced), 3 * np.arange(4.0))
            with pytest.raises(ValueError, match="rank"):
                S.reshard(fnp.ones(2), S.PartitionSpec("x", None))
        assert S.get_mesh().empty
        abstract = S.AbstractMesh((2, 3), ("a", "b"))
        assert abstract.shape == {"a": 2, "b": 3} and abstract.size == 6
        assert abstract.axis_types == (S.AxisType.Auto,) * 2
        with S.use_abstract_mesh(abstract):
            assert S.get_abstract_mesh() == abstract and S.get_mesh().empty
        with pytest.raises(ValueError, match="axis_types"):
            S.AbstractMesh((2, 3), ("a", "b"), axis_types=(S.AxisType.Explicit,))
        single = S.make_single_device_sharding(fx.devices()[1])
        assert single == S.SingleDeviceSharding(fx.devices()[1])
        mat = S.ManualAxisType(varying={"x"})
        assert mat.varying == frozenset({"x"}) and mat.update(reduced={"y"}).reduced == {"y"}
        assert S.AbstractDevice("cpu", None, "cpu") == S.AbstractDevice("cpu", None, "cpu")


def test_shard_map_jax_forms_with_the_current_mesh():
    import fx.sharding as S
    from fx.experimental.shard_map import shard_map
    a = _data(4, 3)
    with cpu_devices(2):
        mesh = S.Mesh(np.array(fx.devices()), ("x",))

        @shard_map(mesh=mesh, in_specs=S.P("x"), out_specs=S.P())
        def total(b):
            return plax.psum(fnp.sum(b, 0), "x")

        np.testing.assert_allclose(np.asarray(total(a)), a.sum(0), rtol=1e-5)
        with pytest.raises(ValueError, match="no current mesh"):
            shard_map(lambda b: b, in_specs=S.P("x"), out_specs=S.P("x"))(a)
        with S.set_mesh(mesh):
            f = shard_map(lambda b: b * plax.axis_index("x"), out_specs=S.P("x"))
            laid_out = S.reshard(a, S.P("x"))  # in_specs inferred from its NamedSharding
            np.testing.assert_allclose(np.asarray(f(laid_out)),
                                       a * np.repeat([0, 1], 2)[:, None], rtol=1e-6)
            with pytest.raises(ValueError, match="in_specs omitted"):
                f(a)
