"""``fx.debug.print``/``fx.debug.callback``, ``fx.pure_callback`` and
``jax_debug_nans`` with source lines.

Oracles: the text Python's ``str.format`` gives for the same NumPy values,
printed once per call (per lane under ``vmap``) in program order; the text JAX
prints for the same programs; NumPy for callback results.
"""
from __future__ import annotations

import inspect

import numpy as np
import pytest

import fx
import fx.numpy as fnp


def lines(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


# ---------------------------------------------------------------------------
# debug.print


def traced_fn(x):
    fx.debug.print("x={} y={y}", x, y=2 * x)
    return fnp.sin(x) * x


def test_print_eager_jit_and_program_order(capsys):
    traced_fn(1.0)
    assert lines(capsys) == ["x=1.0 y=2.0"]
    fx.jit(traced_fn)(1.0)
    assert lines(capsys) == ["x=1.0 y=2.0"]

    def ordered(x):
        fx.debug.print("first {}", x, ordered=True)
        y = x + 1
        fx.debug.print("second {}", y, ordered=True)
        fx.debug.print("third {}", y * 2)
        return y

    fx.jit(ordered)(1.0)
    assert lines(capsys) == ["first 1.0", "second 2.0", "third 4.0"]


def test_print_vmap_one_line_per_lane(capsys):
    fx.vmap(traced_fn)(fnp.arange(3.0))
    assert lines(capsys) == ["x=0.0 y=0.0", "x=1.0 y=2.0", "x=2.0 y=4.0"]
    fx.jit(fx.vmap(lambda r: fx.debug.print("row={}", r)))(fnp.arange(6.0).reshape(3, 2))
    assert lines(capsys) == ["row=[0. 1.]", "row=[2. 3.]", "row=[4. 5.]"]
    fx.vmap(lambda x, y: fx.debug.print("{} {}", x, y), (None, 0))(7, fnp.arange(2))
    assert lines(capsys) == ["7 0", "7 1"]


def test_print_under_differentiation_prints_primals_once(capsys):
    fx.grad(traced_fn)(1.0)
    assert lines(capsys) == ["x=1.0 y=2.0"]
    fx.jvp(traced_fn, (1.0,), (3.0,))
    assert lines(capsys) == ["x=1.0 y=2.0"]
    fx.jit(fx.grad(traced_fn))(1.0)
    assert lines(capsys) == ["x=1.0 y=2.0"]
    fx.vmap(fx.grad(traced_fn))(fnp.arange(2.0))
    assert lines(capsys) == ["x=0.0 y=0.0", "x=1.0 y=2.0"]
    fx.grad(fx.checkpoint(traced_fn))(1.0)
    assert lines(capsys) == ["x=1.0 y=2.0"]


def test_print_inside_loops(capsys):
    if not hasattr(fx.lax, "scan"):
        pytest.skip("fx.lax.scan is not available yet")

    def body(c, x):
        fx.debug.print("c={c} x={x}", c=c, x=x)
        return c + x, c * x

    want = ["c=0.0 x=0.0", "c=0.0 x=1.0", "c=1.0 x=2.0"]
    fx.lax.scan(body, 0.0, fnp.arange(3.0))
    assert lines(capsys) == want
    fx.jit(lambda xs: fx.lax.scan(body, 0.0, xs))(fnp.arange(3.0))
    assert lines(capsys) == want
    fx.lax.fori_loop(0, 3, lambda i, c: (fx.debug.print("i={i}", i=i), c + i)[1], 0)
    assert lines(capsys) == ["i=0", "i=1", "i=2"]
    fx.vmap(lambda xs: fx.lax.scan(body, 0.0, xs)[0])(fnp.arange(4.0).reshape(2, 2))
    assert lines(capsys) == ["c=0.0 x=0.0", "c=0.0 x=2.0", "c=0.0 x=1.0", "c=2.0 x=3.0"]


def test_print_inside_loop_under_grad(capsys):
    def body(c, x):
        fx.debug.print("c={c}", c=c)
        return c * x, None

    fx.grad(lambda xs: fx.lax.scan(body, 1.0, xs)[0])(fnp.arange(1.0, 3.0))
    assert lines(capsys) == ["c=1.0", "c=1.0"]


def test_print_formats_and_forms(capsys):
    fx.debug.print("hello", 1, 2.5)
    fx.debug.print("{:.3f} {s} {}", 0.1, 4, s="static")
    fx.debug.print(ordered=True)("two-call {}", fnp.int32(3))
    fx.debug.print("{a[0]} {a[1]}", a=(fnp.float32(1), fnp.float32(2)))
    assert lines(capsys) == ["hello 1 2.5", "0.100 static 4", "two-call 3", "1.0 2.0"]
    with pytest.raises(IndexError):
        fx.debug.print("{} {}", 1)
    with pytest.raises(TypeError, match="two-call form"):
        fx.debug.print(None, 1)


def test_print_matches_jax(jax, capsys):
    def program(lib):
        def f(x):
            lib.debug.print("x={x} sum={s:.2f}", x=x, s=lib.numpy.sum(x))
            return lib.numpy.sin(x)

        return lambda xs: lib.jit(lib.vmap(lib.grad(lambda x: lib.numpy.sum(f(x)))))(xs)

    xs = np.arange(6.0, dtype=np.float32).reshape(3, 2) / 4
    program(fx)(xs)
    ours = capsys.readouterr().out
    program(jax)(xs)
    jax.effects_barrier()
    assert ours == capsys.readouterr().out
    jtext = str(jax.make_jaxpr(lambda x: jax.debug.print("x={x}", x=x))(1.0))
    ftext = str(fx.make_jaxpr(lambda x: fx.debug.print("x={x}", x=x))(1.0))
    # fx's printer writes " = " before an equation without outputs; JAX writes nothing
    assert ftext.replace(" = debug_print", "debug_print") == jtext


# ---------------------------------------------------------------------------
# debug.callback


def test_callback_values_lanes_and_order():
    seen = []

    def record(tag, x, **kw):
        seen.append((tag, np.asarray(x).tolist(), sorted(kw)))

    def f(x):
        fx.debug.callback(record, "a", x, extra=x * 2)
        fx.debug.callback(record, "b", x + 1, ordered=True)
        return x

    f(fnp.float32(1.0))
    fx.jit(f)(fnp.float32(1.0))
    assert seen == [("a", 1.0, ["extra"]), ("b", 2.0, [])] * 2
    seen.clear()
    fx.vmap(f)(fnp.arange(2.0))
    assert seen == [("a", 0.0, ["extra"]), ("a", 1.0, ["extra"]), ("b", 1.0, []),
                    ("b", 2.0, [])]
    seen.clear()
    fx.grad(lambda x: f(x) * x)(3.0)
    assert [s[1] for s in seen] == [3.0, 4.0]
    with pytest.raises(TypeError, match="requires a callable"):
        fx.debug.callback(3, 1.0)


def test_callback_receives_fx_arrays():
    kinds = []
    fx.jit(lambda x: fx.debug.callback(lambda v: kinds.append(type(v)), x))(1.0)
    assert kinds == [fx.Array]


# ---------------------------------------------------------------------------
# pure_callback


def test_pure_callback_eager_jit_and_dtype():
    out = fx.ShapeDtypeStruct((3,), np.float32)
    x = fnp.array([0.1, 0.2, 0.3])
    for fn in (lambda x: fx.pure_callback(np.sin, out, x),
               fx.jit(lambda x: fx.pure_callback(lambda v: np.sin(v).astype(np.float64), out,
                                                 x))):
        got = fn(x)
        assert got.dtype == np.float32 and got.shape == (3,)
        np.testing.assert_allclose(np.asarray(got), np.sin([0.1, 0.2, 0.3]), rtol=1e-6)
    tree = fx.pure_callback(lambda a, b: {"s": a + b, "d": a - b},
                            {"s": out, "d": out}, x, b=x * 2)
    np.testing.assert_allclose(np.asarray(tree["d"]), -np.asarray(x), rtol=1e-6)


@pytest.mark.parametrize("method, shapes", [
    ("sequential", [((), ())] * 3),
    ("sequential_unrolled", [((), ())] * 3),
    ("expand_dims", [((3,), (1,))]),
    ("broadcast_all", [((3,), (3,))]),
    ("legacy_vectorized", [((3,), ())]),
])
def test_pure_callback_vmap_methods(method, shapes):
    seen = []

    def cb(x, y):
        seen.append((np.shape(x), np.shape(y)))
        return np.asarray(x) + np.asarray(y)

    f = fx.vmap(lambda x, y: fx.pure_callback(cb, fx.ShapeDtypeStruct((), np.float32), x, y,
                                              vmap_method=method), (0, None))
    got = f(fnp.arange(3.0), fnp.float32(1.0))
    np.testing.assert_allclose(np.asarray(got), [1.0, 2.0, 3.0])
    assert seen == shapes


def test_pure_callback_errors():
    out = fx.ShapeDtypeStruct((), np.float32)
    with pytest.raises(NotImplementedError, match="vmap_method"):
        fx.vmap(lambda x: fx.pure_callback(np.sin, out, x))(fnp.ones(3))
    with pytest.raises(ValueError, match="Pure callbacks do not support JVP"):
        fx.grad(lambda x: fx.pure_callback(np.sin, out, x))(1.0)
    with pytest.raises(ValueError, match="vmap_method must be"):
        fx.pure_callback(np.sin, out, 1.0, vmap_method="loop")
    with pytest.raises(TypeError, match=r"result 0 of the callback has shape \(4,\)"):
        fx.pure_callback(lambda x: np.ones(4, np.float32), out, 1.0)
    with pytest.raises(ValueError, match="64-bit"):
        fx.pure_callback(np.sin, fx.ShapeDtypeStruct((), np.float64), 1.0)


def test_pure_callback_jaxpr_and_custom_jvp():
    text = str(fx.make_jaxpr(lambda x: fx.pure_callback(
        np.sin, fx.ShapeDtypeStruct((), np.float32), x, vmap_method="sequential"))(1.0))
    assert "pure_callback[" in text and "vmap_method=sequential" in text

    @fx.custom_jvp
    def host_sin(x):
        return fx.pure_callback(np.sin, fx.ShapeDtypeStruct((), np.float32), x,
                                vmap_method="sequential")

    host_sin.defjvp(lambda p, t: (host_sin(p[0]), fnp.cos(p[0]) * t[0]))
    np.testing.assert_allclose(np.asarray(fx.vmap(fx.grad(host_sin))(fnp.arange(3.0))),
                               np.cos(np.arange(3.0)), rtol=1e-6)


# ---------------------------------------------------------------------------
# jax_debug_nans and source information


def nan_maker(x):
    y = fnp.log(x)  # the NaN comes from this line
    return y * 2.0


NAN_LINE = inspect.getsourcelines(nan_maker)[1] + 1


def test_debug_nans_names_primitive_and_line():
    where = f"{__file__}:{NAN_LINE}"
    with fx.debug_nans(True):
        for fn in (nan_maker, fx.jit(nan_maker), fx.grad(nan_maker)):
            with pytest.raises(FloatingPointError) as info:
                fn(-1.0)
            assert "nan" in str(info.value) and "log" in str(info.value)
            assert where in str(info.value), str(info.value)
        nan_maker(2.0)  # no NaN, no error
    nan_maker(-1.0)  # off again: NaNs are values


def test_make_jaxpr_prints_source_info():
    text = fx.make_jaxpr(nan_maker)(1.0).pretty_print(source_info=True)
    line = next(t for t in text.splitlines() if "= log" in t)
    assert f"{__file__}:{NAN_LINE} (nan_maker)" in line
    assert __file__ not in str(fx.make_jaxpr(nan_maker)(1.0))
