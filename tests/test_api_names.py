"""The smaller JAX 0.10.2 top-level names: Shard/addressable shards, smap, fx.ad,
fx.memory, auto_pcast, make_user_context, lax.select_and_scatter_p and token printing;
against JAX where installed, NumPy loops otherwise."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fx
import fx.numpy as fnp
from fx.lax import select_and_scatter_p
from fx.sharding import NamedSharding, P, shards_of


def test_shards_single_device():
    x = fnp.arange(6.0)
    (shard,) = shards_of(x)
    assert isinstance(shard, fx.Shard)
    assert shard.index == (slice(None),) and shard.replica_id == 0
    assert shard.device == x.device
    np.testing.assert_array_equal(shard.data, np.arange(6.0))


def test_shards_named_sharding():
    devices = fx.devices()
    if len(devices) < 2:
        pytest.skip("needs FX_CPU_DEVICES >= 2")
    mesh = fx.make_mesh((2,), ("x",))
    y = fx.device_put(fnp.arange(8.0).reshape(4, 2), NamedSharding(mesh, P("x")))
    shards = shards_of(y)
    assert [s.index for s in shards] == [(slice(0, 2), slice(None)), (slice(2, 4), slice(None))]
    np.testing.assert_array_equal(shards[1].data, np.arange(4.0, 8.0).reshape(2, 2))
    replicated = shards_of(fx.device_put(fnp.arange(2.0), NamedSharding(mesh, P())))
    assert [s.replica_id for s in replicated] == [0, 1]


def test_smap_against_loop():
    devices = fx.devices()
    n = len(devices)
    x = np.arange(4.0 * n, dtype=np.float32).reshape(n * 2, 2)
    with fx.sharding.set_mesh(fx.make_mesh((n,), ("x",))):
        f = fx.smap(lambda b, c: b * 2 + c + fx.lax.axis_index("x"), in_axes=(0, None),
                    out_axes=0, axis_name="x")
        got = f(fnp.asarray(x), 1.0)
        total = fx.smap(lambda b: fx.lax.psum(b.sum(0), "x"), in_axes=0, out_axes=None,
                        axis_name="x")(fnp.asarray(x))
    blocks = np.split(x, n)
    want = np.concatenate([b * 2 + 1 + i for i, b in enumerate(blocks)])
    np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(total, x.sum(0))
    with pytest.raises(ValueError, match="mesh"):
        fx.smap(lambda b: b, in_axes=0, out_axes=0, axis_name="x")(fnp.ones(2))


def test_ad_memory_modules_mirror_jax():
    jax = pytest.importorskip("jax")
    for mod, jmod in ((fx.ad, jax.ad), (fx.memory, jax.memory)):
        assert sorted(n for n in dir(jmod) if not n.startswith("_")) == sorted(mod.__all__)
    assert [(m.name, m.value) for m in fx.memory.Space] == \
        [(m.name, m.value) for m in jax.memory.Space]
    assert fx.ad.GradRef() == fx.ad.GradRef() and hash(fx.ad.DontWant()) is not None
    assert fx.tree_util.tree_leaves(fx.ad.GradRef()) == []


def test_auto_pcast_state():
    assert fx.config.jax_auto_pcast is True
    with fx.auto_pcast(False):
        assert fx.config.jax_auto_pcast is False
    assert fx.auto_pcast.value is True


def test_make_user_context_retraces():
    ctx = fx.make_user_context(default_value="a")
    f = fx.jit(lambda x: x + 1)
    f(1.0)
    f(1.0)
    assert f.cache_misses == 1 and ctx.value == "a"
    with ctx("b"):
        assert ctx.value == "b"
        f(1.0)
    assert f.cache_misses == 2
    f(1.0)
    assert f.cache_misses == 2
    ctx.set_global("c")
    assert ctx.get_global() == "c" and ctx.value == "c"
    with pytest.raises(TypeError, match="hashable"):
        with ctx([1]):
            pass


def _scalar_jaxpr(fn, dtype=np.float32):
    closed = fx.make_jaxpr(fn)(np.zeros((), dtype), np.zeros((), dtype))
    return closed.jaxpr, tuple(closed.consts)


def _loop_select_and_scatter(x, src, init, select, scatter, wd, ws, pad):
    """XLA SelectAndScatter by Python loops (padding is never selected)."""
    out = np.full(x.shape, init, x.dtype)
    for w in np.ndindex(*src.shape):
        chosen = None
        for off in np.ndindex(*wd):
            pos = tuple(w[d] * ws[d] + off[d] - pad[d][0] for d in range(x.ndim))
            if any(not 0 <= p < n for p, n in zip(pos, x.shape)):
                continue
            if chosen is None or not select(x[chosen], x[pos]):
                chosen = pos
        if chosen is not None:
            out[chosen] = scatter(out[chosen], src[w])
    return out


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.data())
def test_select_and_scatter_against_loop(ndim, data):
    shape = tuple(data.draw(st.integers(1, 5)) for _ in range(ndim))
    wd = tuple(data.draw(st.integers(1, s + 1)) for s in shape)
    ws = tuple(data.draw(st.integers(1, 2)) for _ in shape)
    pad = tuple((data.draw(st.integers(0, 1)), data.draw(st.integers(0, 1))) for _ in shape)
    out_shape = tuple((s + lo + hi - w) // st_ + 1 for s, w, st_, (lo, hi)
                      in zip(shape, wd, ws, pad))
    if any(o <= 0 for o in out_shape):
        return
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    x = rng.integers(0, 3, shape).astype(np.float32)  # ties exercise the selection order
    src = rng.normal(size=out_shape).astype(np.float32)
    select, scatter = (lambda a, b: a >= b), (lambda a, b: a * 0.5 + b)
    sj, sc = _scalar_jaxpr(select)
    tj, tc = _scalar_jaxpr(scatter)
    params = dict(select_jaxpr=sj, select_consts=sc, scatter_jaxpr=tj, scatter_consts=tc,
                  window_dimensions=wd, window_strides=ws, padding=pad)
    got = select_and_scatter_p.bind(fnp.asarray(x), fnp.asarray(src), fnp.float32(-1.0),
                                    **params)
    want = _loop_select_and_scatter(x, src, np.float32(-1.0), select, scatter, wd, ws, pad)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    jitted = fx.jit(lambda a, b: select_and_scatter_p.bind(a, b, fnp.float32(-1.0), **params))
    np.testing.assert_allclose(jitted(fnp.asarray(x), fnp.asarray(src)), want, rtol=1e-6)
    batched = fx.vmap(lambda a, b: select_and_scatter_p.bind(a, b, fnp.float32(-1.0),
                                                             **params))(
        fnp.stack([fnp.asarray(x)] * 2), fnp.stack([fnp.asarray(src), fnp.asarray(-src)]))
    np.testing.assert_allclose(batched[1], _loop_select_and_scatter(
        x, -src, np.float32(-1.0), select, scatter, wd, ws, pad), rtol=1e-6)


def test_select_and_scatter_against_jax_and_errors():
    jax = pytest.importorskip("jax")
    from jax._src.lax.windowed_reductions import _select_and_scatter
    x = np.array([[1, 3, 3, 0], [2, 3, 1, 1], [0, 0, 4, 4]], np.float32)
    src = np.arange(4, dtype=np.float32).reshape(2, 2) + 1
    sj, sc = _scalar_jaxpr(lambda a, b: a < b)
    tj, tc = _scalar_jaxpr(lambda a, b: a + b)
    params = dict(select_jaxpr=sj, select_consts=sc, scatter_jaxpr=tj, scatter_consts=tc,
                  window_dimensions=(2, 2), window_strides=(1, 2), padding=((0, 0), (0, 0)))
    got = select_and_scatter_p.bind(fnp.asarray(x), fnp.asarray(src), fnp.float32(0), **params)
    want = _select_and_scatter(x, lambda a, b: a < b, (2, 2), (1, 2), ((0, 0), (0, 0)), src,
                               np.float32(0), lambda a, b: a + b)
    np.testing.assert_array_equal(got, want)
    fx_text = str(fx.make_jaxpr(lambda a, b: select_and_scatter_p.bind(a, b, 0.0, **params))(
        x, src))
    jax_text = str(jax.make_jaxpr(lambda a, b: _select_and_scatter(
        a, lambda p, q: p < q, (2, 2), (1, 2), ((0, 0), (0, 0)), b, 0.0,
        lambda p, q: p + q))(x, src))
    assert fx_text == jax_text
    with pytest.raises(TypeError, match="source shape"):
        select_and_scatter_p.bind(fnp.asarray(x), fnp.ones(3), fnp.float32(0), **params)
    with pytest.raises(TypeError, match="dtype"):
        select_and_scatter_p.bind(fnp.asarray(x), fnp.asarray(src), fnp.int32(0), **params)
    with pytest.raises(NotImplementedError, match="select_and_scatter"):
        fx.grad(lambda a: select_and_scatter_p.bind(a, fnp.asarray(src), fnp.float32(0),
                                                    **params).sum())(fnp.asarray(x))


def test_tokens_print_as_jax():
    assert str(fx.make_jaxpr(lambda: fx.lax.create_token())()) == \
        "{ lambda ; . let a:Tok = create_token  in (a,) }"  # JAX's text
    assert str(fx.make_jaxpr(lambda t: fx.lax.after_all(t, t))(fx.lax.create_token())) == \
        "{ lambda ; a:Tok. let b:Tok = after_all a a in (b,) }"
    # an ordinary bool[0] array stays bool[0]
    assert "bool[0]" in str(fx.make_jaxpr(lambda x: ~x)(np.zeros(0, bool)))
