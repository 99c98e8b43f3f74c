"""Mutable array references (fx.new_ref & co.): values against NumPy (a mutable buffer is
the oracle), against JAX for the same ref programs where installed, vmap against a Python
loop, jit against eager, derivatives against finite differences, and the errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fx
import fx.numpy as fnp
from fx.errors import UnexpectedTracerError


def _program(mod, np_mod, x):
    """One ref program written against any of fx/JAX (``mod``) and its numpy (``np_mod``)."""
    ref = mod.new_ref(x)
    ref[0] = ref[0] * 3.0
    ref[1:3] = ref[1:3] + 1.0
    ref[mod.ds(2, 2)] = ref[mod.ds(0, 2)] * 2.0
    ref[...] += np_mod.sin(ref[...])
    return mod.freeze(ref)


def _numpy_program(x):
    buf = np.array(x, np.float32)
    buf[0] *= 3.0
    buf[1:3] += 1.0
    buf[2:4] = buf[0:2] * 2.0
    buf += np.sin(buf)
    return buf


X = np.linspace(-1.0, 1.0, 6).astype(np.float32)


def test_eager_jit_against_numpy():
    want = _numpy_program(X)
    np.testing.assert_allclose(_program(fx, fnp, fnp.asarray(X)), want, rtol=1e-6)
    np.testing.assert_allclose(fx.jit(lambda x: _program(fx, fnp, x))(X), want, rtol=1e-6)


def test_against_jax_values_and_grads():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    want = _program(jax, jnp, jnp.asarray(X))
    np.testing.assert_allclose(_program(fx, fnp, fnp.asarray(X)), want, rtol=1e-6)
    g_fx = fx.grad(lambda x: _program(fx, fnp, x).sum())(fnp.asarray(X))
    g_jax = jax.grad(lambda x: _program(jax, jnp, x).sum())(jnp.asarray(X))
    np.testing.assert_allclose(g_fx, g_jax, rtol=1e-5)
    p_fx, t_fx = fx.jvp(lambda x: _program(fx, fnp, x), (fnp.asarray(X),),
                        (fnp.ones_like(X),))
    p_jax, t_jax = jax.jvp(lambda x: _program(jax, jnp, x), (jnp.asarray(X),),
                           (jnp.ones_like(X),))
    np.testing.assert_allclose(t_fx, t_jax, rtol=1e-5)


def test_grad_against_finite_differences():
    f = lambda x: (_program(fx, fnp, x) ** 2).sum()  # noqa: E731
    g = np.asarray(fx.grad(f)(fnp.asarray(X)), np.float64)
    eps = 1e-3
    fd = np.array([(float(f(fnp.asarray(X + eps * e))) - float(f(fnp.asarray(X - eps * e))))
                   / (2 * eps) for e in np.eye(X.size, dtype=np.float32)])
    np.testing.assert_allclose(g, fd, rtol=2e-2, atol=2e-2)


def test_vmap_against_loop():
    xs = np.arange(18, dtype=np.float32).reshape(3, 6) / 10
    got = fx.vmap(lambda x: _program(fx, fnp, x))(xs)
    np.testing.assert_allclose(got, np.stack([_numpy_program(x) for x in xs]), rtol=1e-6)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 6), st.integers(2, 5), st.data())
def test_ds_read_write_against_numpy(rows, cols, data):
    start = data.draw(st.integers(0, rows - 1))
    size = data.draw(st.integers(0, rows - start))
    stride = data.draw(st.integers(1, 2))
    size = min(size, (rows - start + stride - 1) // stride)
    col = data.draw(st.integers(0, cols - 1))
    base = np.arange(rows * cols, dtype=np.float32).reshape(rows, cols)
    ref = fx.new_ref(fnp.asarray(base))
    sl = slice(start, start + (size - 1) * stride + 1 if size else start, stride)
    np.testing.assert_array_equal(ref[fx.ds(start, size, stride), col], base[sl, col])
    update = -np.arange(size, dtype=np.float32) - 1
    ref[fx.ds(start, size, stride), col] = fnp.asarray(update)
    want = base.copy()
    want[sl, col] = update
    np.testing.assert_array_equal(ref[...], want)
    # dynamic start under jit: the same result
    ref2 = fx.new_ref(fnp.asarray(base))

    @fx.jit
    def write(r, i, v):
        r[fx.ds(i, size, stride), col] = v

    write(ref2, start, fnp.asarray(update))
    np.testing.assert_array_equal(ref2[...], want)


def test_jit_ref_arguments_written_back():
    @fx.jit
    def step(acc, count, x):
        acc[...] = acc[...] + x
        count[...] += 1
        return x * 2

    acc, count = fx.new_ref(fnp.zeros(3)), fx.new_ref(0)
    for k in range(3):
        np.testing.assert_array_equal(step(acc, count, fnp.ones(3)), 2 * np.ones(3))
        np.testing.assert_array_equal(acc[...], (k + 1) * np.ones(3))
        assert int(count[...]) == k + 1
    assert step._fx_ref_runner._cache_size() == 1  # compiled once


def test_jit_aliased_refs_and_pytrees():
    @fx.jit
    def f(refs, x):
        refs["a"][0] = x
        refs["b"][1] = x * 2
        return refs["a"][...] + refs["b"][...]

    a = fx.new_ref(fnp.zeros(2))
    np.testing.assert_array_equal(f({"a": a, "b": a}, 3.0), [6.0, 12.0])
    np.testing.assert_array_equal(a[...], [3.0, 6.0])
    b = fx.new_ref(fnp.zeros(2))
    f({"a": a, "b": b}, 5.0)
    np.testing.assert_array_equal(a[...], [5.0, 6.0])
    np.testing.assert_array_equal(b[...], [0.0, 10.0])


def test_jit_with_refs_against_jax():
    jax = pytest.importorskip("jax")

    def run(mod, np_mod):
        @mod.jit
        def f(r, x):
            r[1:] = r[:-1] * x
            return r[...].sum()

        r = mod.new_ref(np_mod.arange(4.0))
        out = [float(f(r, 2.0)) for _ in range(2)]
        return out, np.asarray(r[...])

    (o1, r1), (o2, r2) = run(fx, fnp), run(jax, jax.numpy)
    np.testing.assert_allclose(o1, o2)
    np.testing.assert_allclose(r1, r2)


def test_closed_over_ref_under_grad_and_vmap():
    calls = fx.new_ref(0.0)

    def loss(x):
        calls[...] += 1.0  # independent of x: allowed, as in JAX
        return (x ** 2).sum()

    np.testing.assert_allclose(fx.grad(loss)(fnp.ones(2)), [2.0, 2.0])
    assert float(calls[...]) == 1.0
    # JAX 0.10 refuses any write into an outer ref under vmap, even of an unbatched value
    with pytest.raises(TypeError, match="vmapped value on an unbatched array reference"):
        fx.vmap(loss)(fnp.ones((3, 2)))
    assert float(calls[...]) == 1.0
    np.testing.assert_allclose(fx.vmap(lambda x: x * calls[...])(fnp.ones(2)), [1.0, 1.0])


def test_refs_inside_staged_program():
    def f(x):
        r = fx.empty_ref(fx.ShapeDtypeStruct((3,), np.float32))
        r[...] = fnp.zeros(3)
        r[1] = x
        return fx.freeze(r)

    np.testing.assert_array_equal(fx.jit(f)(2.0), [0.0, 2.0, 0.0])
    assert "scatter" in str(fx.make_jaxpr(f)(1.0))  # functionalized: no ref effects


def test_addupdate_swap_get_set():
    r = fx.new_ref(fnp.arange(4.0))
    r.addupdate(10.0, 1)
    fx.ref.addupdate(r, 2, 1.0)
    assert float(fx.ref.swap(r, 0, 7.0)) == 0.0
    fx.ref.set(r, 3, -1.0)
    np.testing.assert_array_equal(fx.ref.get(r), [7.0, 11.0, 3.0, -1.0])
    assert (r.shape, r.dtype, r.ndim, len(r)) == ((4,), np.float32, 1, 4)
    assert repr(fx.typeof(r)) == "Ref{float32[4]}"
    assert repr(r).startswith("Ref([")


def test_numpy_init_is_copied():
    buf = np.zeros(3, np.float32)
    r = fx.new_ref(buf)
    buf[0] = 5.0
    assert float(r[0]) == 0.0


@pytest.mark.parametrize("value, err, msg", [
    (fnp.ones(3), ValueError, "Invalid shape"),
    (3.0, ValueError, "Invalid shape"),
    (fnp.ones(5, np.int32), ValueError, "Invalid dtype"),
    (fnp.ones(5, np.float16), ValueError, "Invalid dtype"),
])
def test_write_errors(value, err, msg):
    r = fx.new_ref(fnp.zeros(5))
    with pytest.raises(err, match=msg):
        r[...] = value


def test_weak_scalars_cast_within_kind():
    r = fx.new_ref(fnp.zeros(2, np.float16))
    r[0] = 1.5
    assert r[...].dtype == np.float16
    i = fx.new_ref(fnp.zeros(2, np.int8))
    i[1] = 3
    np.testing.assert_array_equal(i[...], [0, 3])
    with pytest.raises(ValueError, match="Invalid dtype"):
        fx.new_ref(fnp.zeros(2))[0] = 1  # a Python int into a float ref, as JAX


def test_use_after_free_and_freeze():
    r = fx.new_ref(fnp.zeros(2))
    fx.free_ref(r)
    with pytest.raises(RuntimeError, match="free_ref"):
        r[0]
    s = fx.new_ref(fnp.zeros(2))
    fx.freeze(s)
    with pytest.raises(RuntimeError, match="freeze"):
        s[0] = 1.0


def test_out_of_bounds_static_indices():
    r = fx.new_ref(fnp.zeros(5))
    with pytest.raises(IndexError, match="Out of bound"):
        r[5]
    with pytest.raises(ValueError, match="Out of bound slice"):
        r[fx.ds(4, 2)]


def test_escape_and_transform_errors():
    leaked = []

    def f(x):
        leaked.append(fx.new_ref(x))
        return x

    fx.jit(f)(1.0)
    with pytest.raises(UnexpectedTracerError, match="escaped"):
        leaked[0][...]
    outer = fx.new_ref(fnp.zeros(3))

    def vm(x):
        outer[...] = x

    with pytest.raises(TypeError, match="vmapped value on an unbatched"):
        fx.vmap(vm)(fnp.ones((2, 3)))

    def gr(x):
        outer[...] = x
        return x.sum()

    with pytest.raises(TypeError, match="differentiated value"):
        fx.grad(gr)(fnp.ones(3))
    with pytest.raises(ValueError, match="cannot be returned"):  # as JAX: ValueError
        fx.jit(lambda x: fx.new_ref(x))(1.0)
    with pytest.raises(ValueError, match="cannot be returned"):
        fx.jit(lambda x: outer)(1.0)
    with pytest.raises(TypeError, match="not an array"):
        fnp.sin(outer)
    with pytest.raises(TypeError, match="new_ref"):
        fx.new_ref([1.0, 2.0])
    with pytest.raises(ValueError, match="kind"):
        fx.new_ref(1.0, kind="sometimes")
