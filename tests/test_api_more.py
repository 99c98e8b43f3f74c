"""Top-level names added for JAX 0.10 parity: configuration states, array constructors,
``fx.debug`` (log, breakpoint, sharding inspection), ``fx.errors`` and checkify's
``check_error``/``debug_check``/``init_error``/``ErrorCategory``.
"""
from __future__ import annotations

import logging

import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx.experimental import checkify

STATES = ["numpy_rank_promotion", "numpy_dtype_promotion", "default_prng_impl",
          "enable_custom_prng", "legacy_prng_key", "threefry_partitionable",
          "debug_key_reuse", "softmax_custom_jvp", "allow_f16_reductions", "no_tracing",
          "no_execution", "thread_guard", "array_garbage_collection_guard",
          "jax2tf_associative_scan_reductions", "remove_size_one_mesh_axis_from_type"]


@pytest.mark.parametrize("name", STATES)
def test_config_states_set_and_restore_their_option(name):
    state = getattr(fx, name)
    option = state.name
    before = getattr(fx.config, option)
    new = {"numpy_rank_promotion": "raise", "numpy_dtype_promotion": "strict",
           "default_prng_impl": "rbg", "legacy_prng_key": "error",
           "array_garbage_collection_guard": "log"}.get(name, not before)
    with state(new):
        assert getattr(fx.config, option) == new
        assert state.value == new
    assert getattr(fx.config, option) == before


def test_config_states_match_jax_defaults():
    jax = pytest.importorskip("jax")
    for name in STATES:
        if name in ("thread_guard",):  # not readable through jax.config in 0.10
            continue
        option = getattr(fx, name).name
        jax_value = getattr(jax.config, option, None)
        if jax_value is not None:
            assert getattr(fx.config, option) == jax_value, name


def test_config_state_rejects_bad_values_and_keys_the_cache():
    with pytest.raises(ValueError, match="must be one of"):
        with fx.numpy_rank_promotion("sometimes"):
            pass
    key = fx.config.state_key()
    with fx.numpy_dtype_promotion("strict"):
        assert fx.config.state_key() != key


def test_promotion_checks():
    from fx._api_extras import check_dtype_promotion, check_rank_promotion
    check_rank_promotion("add", [(3,), (2, 3)])  # "allow": nothing
    with fx.numpy_rank_promotion("raise"):
        with pytest.raises(ValueError, match="jax_numpy_rank_promotion='raise'"):
            check_rank_promotion("add", [(3,), (2, 3)])
        check_rank_promotion("add", [(), (2, 3)])  # scalars broadcast freely
    with fx.numpy_rank_promotion("warn"):
        with pytest.warns(UserWarning):
            check_rank_promotion("add", [(3,), (2, 3)])
    with fx.numpy_dtype_promotion("strict"):
        with pytest.raises(fx.dtypes.TypePromotionError):
            check_dtype_promotion([(np.float32, False), (np.int32, False)])
        check_dtype_promotion([(np.float32, False), (np.float32, True)])


def test_array_constructors():
    data = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    seen = []

    def cb(index):
        seen.append(index)
        return data[index]
    arr = fx.make_array_from_callback((3, 4), None, cb)
    np.testing.assert_array_equal(arr, data)
    assert seen == [(slice(None), slice(None))]
    np.testing.assert_array_equal(fx.make_array_from_single_device_arrays(
        (3, 4), None, [fnp.asarray(data)]), data)
    np.testing.assert_array_equal(fx.make_array_from_process_local_data(None, data), data)
    with pytest.raises(ValueError, match="shape"):
        fx.make_array_from_callback((2, 2), None, cb)
    with pytest.raises(ValueError, match="one array"):
        fx.make_array_from_single_device_arrays((3, 4), None, [data, data])
    marker = fnp.asarray(np.float32(123.0))
    assert any(a is marker for a in fx.live_arrays())


# ---------------------------------------------------------------------------
# fx.debug


def test_debug_log_under_jit_and_vmap(caplog):
    with caplog.at_level(logging.INFO, logger="fx.debug"):
        fx.jit(lambda x: fx.debug.log("x = {}", x))(fnp.float32(1.5))
        fx.vmap(lambda x: fx.debug.log("lane {x}", x=x))(fnp.arange(2))
    messages = [r.getMessage() for r in caplog.records if r.name == "fx.debug"]
    assert messages == ["x = 1.5", "lane 0", "lane 1"]
    with pytest.raises((KeyError, IndexError)):
        fx.debug.log("{missing}", fnp.ones(1))


def test_debug_breakpoint_sees_actual_values(monkeypatch):
    import fx.debug as debug
    seen = []
    monkeypatch.setattr(debug, "_interact",
                        lambda namespace, banner: seen.append(
                            (float(namespace["x"]), float(namespace["y"]), banner)))

    def f(x):
        y = x * 2
        fx.debug.breakpoint()
        return y
    assert float(fx.jit(f)(fnp.float32(3.0))) == 6.0
    assert seen[0][:2] == (3.0, 6.0) and "breakpoint" in seen[0][2]
    with pytest.raises(ValueError, match="backend"):
        fx.debug.breakpoint(backend="web")


def test_debug_sharding_inspection(capsys):
    got = []
    fx.jit(lambda x: fx.debug.inspect_array_sharding(x, callback=got.append))(fnp.ones(3))
    fx.debug.inspect_array_sharding(fnp.ones(3), callback=got.append)
    assert all(isinstance(s, fx.sharding.SingleDeviceSharding) for s in got) and len(got) == 2
    fx.debug.visualize_array_sharding(fnp.ones((2, 3)))
    out = capsys.readouterr().out
    assert "CPU 0" in out
    with pytest.raises(ValueError, match="1-d and 2-d"):
        fx.debug.visualize_sharding((2, 2, 2), got[0])
    assert issubclass(fx.debug.OrderedDebugEffect, fx.debug.DebugEffect)


def test_errors_and_checkify_names():
    assert issubclass(fx.errors.InconclusiveDimensionOperation, Exception)
    assert checkify.init_error.get() is None
    checkify.check_error(checkify.init_error)  # no error: no-op
    assert checkify.ErrorCategory == type[checkify.JaxException]


def _positive(x):
    checkify.check(x > 0, "bad {}", x)
    return x * 2


def test_check_error_eager_and_refunctionalized():
    err, _ = checkify.checkify(_positive)(fnp.float32(-2.0))
    with pytest.raises(checkify.JaxRuntimeError, match="bad -2.0"):
        checkify.check_error(err)

    def outer(x):
        e, y = checkify.checkify(_positive)(x)
        checkify.check_error(e)
        return y
    err, y = checkify.checkify(fx.jit(outer))(fnp.float32(-3.0))
    assert "bad -3.0" in err.get() and float(y) == -6.0
    err, y = checkify.checkify(outer)(fnp.float32(3.0))
    assert err.get() is None and float(y) == 6.0
    with pytest.raises(TypeError, match="takes an Error"):
        checkify.check_error("no")


def test_debug_check_only_inside_checkify():
    def f(x):
        checkify.debug_check(x > 0, "neg {}", x)
        return x
    f(fnp.float32(-1.0))  # outside checkify: nothing happens
    err, _ = checkify.checkify(f)(fnp.float32(-1.0))
    assert "neg -1.0" in err.get()
    err, _ = checkify.checkify(f)(fnp.float32(1.0))
    assert err.get() is None


def test_fwd_and_bwd_against_vjp_and_jax():
    import numpy as np

    import fx
    import fx.numpy as jnp
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    w = rng.standard_normal((4, 2)).astype(np.float32)
    ct = rng.standard_normal((3, 2)).astype(np.float32)
    f = lambda x, w: jnp.tanh(x @ w)  # noqa: E731
    fwd, bwd = fx.fwd_and_bwd(f, argnums=(0, 1))
    y, res = fwd(x, w)
    want_y, vjp_fn = fx.vjp(f, x, w)      # the oracle: fx.vjp (itself checked against FD)
    np.testing.assert_allclose(y, want_y, rtol=1e-6)
    for got, want in zip(bwd(res, ct), vjp_fn(ct)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    misses = bwd._cache_size()
    bwd(fwd(x + 1, w)[1], ct)
    assert bwd._cache_size() == misses     # reused, not recompiled
    fwd1, bwd1 = fx.fwd_and_bwd(lambda x, w: (x @ w, x.sum()), argnums=1, has_aux=True)
    y1, res1, aux = fwd1(x, w)
    np.testing.assert_allclose(aux, x.sum(), rtol=1e-5)
    np.testing.assert_allclose(bwd1(res1, ct), x.T @ ct, rtol=1e-5, atol=1e-5)
    jax = pytest.importorskip("jax")
    jfwd, jbwd = jax.fwd_and_bwd(lambda x, w: jax.numpy.tanh(x @ w), argnums=(0, 1))
    _, jres = jfwd(x, w)
    for got, want in zip(bwd(res, ct), jbwd(jres, ct)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_make_jaxpr_axis_env_binds_named_axes():
    f = lambda x: fx.lax.psum(x, "i") * fx.lax.axis_index("i")  # noqa: E731
    closed = fx.make_jaxpr(f, axis_env=[("i", 4)])(fnp.ones(3))
    assert [e.primitive.name for e in closed.jaxpr.eqns][:2] == ["psum", "axis_index"]
    with pytest.raises(NameError, match="unbound axis name"):
        fx.make_jaxpr(f)(fnp.ones(3))
    jax = pytest.importorskip("jax")
    want = jax.make_jaxpr(lambda x: jax.lax.psum(x, "i") * jax.lax.axis_index("i"),
                          axis_env=[("i", 4)])(np.ones(3, np.float32))
    # (a trailing space after an equation without operands, as JAX prints it)
    assert str(closed) == str(want)
