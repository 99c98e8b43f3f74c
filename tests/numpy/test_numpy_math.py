"""Tests of fx.numpy's extra elementwise math (fx/numpy/_math.py) from one op table:
values and dtypes vs NumPy over hypothesis-drawn shapes, result dtypes and weak types
vs JAX over input dtypes (Python scalars included), derivatives vs finite differences,
vmap vs a Python loop, jit vs eager, and the special values (signed zeros, infinities,
NaN) where the naive formulas go wrong.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx.test_util import check_grads


def rand(shape, seed=0, dtype=np.float32, low=-3.0, high=3.0):
    rng = np.random.RandomState(seed)
    if np.dtype(dtype).kind in "iu":
        return rng.randint(int(low), int(high) + 1, size=shape).astype(dtype)
    return rng.uniform(low, high, size=shape).astype(dtype)


def away_from(x, points, margin=0.2):
    """``x`` with values within ``margin`` of any of ``points`` pushed away."""
    x = np.array(x)
    for p in points:
        close = np.abs(x - p) < margin
        x[close] = p + margin * np.where(x[close] >= p, 1.5, -1.5)
    return x


# name: (numpy reference, low, high, differentiable, points to avoid for derivatives)
UNARY = {
    "signbit": (np.signbit, -3, 3, False, ()),
    "fabs": (np.fabs, -3, 3, True, (0,)),
    "spacing": (np.spacing, -3, 3, False, ()),
    "isposinf": (np.isposinf, -3, 3, False, ()),
    "isneginf": (np.isneginf, -3, 3, False, ()),
    "sinc": (np.sinc, -3, 3, True, ()),
    "deg2rad": (np.deg2rad, -300, 300, True, ()),
    "radians": (np.radians, -300, 300, True, ()),
    "rad2deg": (np.rad2deg, -3, 3, True, ()),
    "degrees": (np.degrees, -3, 3, True, ()),
    "i0": (np.i0, -6, 6, True, ()),
    "nan_to_num": (np.nan_to_num, -3, 3, True, ()),
    "isreal": (np.isreal, -3, 3, False, ()),
    "iscomplex": (np.iscomplex, -3, 3, False, ()),
    "angle": (np.angle, -3, 3, False, ()),
    "acos": (np.arccos, -0.9, 0.9, True, ()),
    "asin": (np.arcsin, -0.9, 0.9, True, ()),
    "atan": (np.arctan, -3, 3, True, ()),
    "acosh": (np.arccosh, 1.2, 3, True, ()),
    "asinh": (np.arcsinh, -3, 3, True, ()),
    "atanh": (np.arctanh, -0.9, 0.9, True, ()),
}

BINARY = {
    "hypot": (np.hypot, -3, 3, True, (0,)),
    "copysign": (np.copysign, -3, 3, True, (0,)),
    "fmax": (np.fmax, -3, 3, True, ()),
    "fmin": (np.fmin, -3, 3, True, ()),
    "heaviside": (np.heaviside, -3, 3, False, ()),
    "logaddexp": (np.logaddexp, -3, 3, True, ()),
    "logaddexp2": (np.logaddexp2, -3, 3, True, ()),
    "float_power": (np.float_power, 0.5, 3, True, ()),
    "atan2": (np.arctan2, -3, 3, True, (0,)),
    "pow": (np.power, 0.5, 3, True, ()),
    "isclose": (np.isclose, -3, 3, False, ()),
}

INTEGER_BINARY = {
    "gcd": np.gcd, "lcm": np.lcm, "bitwise_left_shift": np.left_shift,
    "bitwise_right_shift": np.right_shift,
}

shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)


@pytest.mark.parametrize("name", sorted(UNARY))
@settings(max_examples=8)
@given(shape=shapes, seed=st.integers(0, 1000))
def test_unary_matches_numpy(name, shape, seed):
    ref, lo, hi, _, _ = UNARY[name]
    x = rand(shape, seed, np.float32, lo, hi)
    out = getattr(fnp, name)(x)
    expected = ref(x)
    assert out.shape == np.shape(expected)
    if np.asarray(expected).dtype == bool:
        assert out.dtype == np.bool_
        np.testing.assert_array_equal(np.asarray(out), expected)
    else:
        assert out.dtype == np.float32, (name, out.dtype)
        np.testing.assert_allclose(np.asarray(out), expected, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=8)
@given(shape=shapes, seed=st.integers(0, 1000), broadcast=st.booleans())
def test_binary_matches_numpy(name, shape, seed, broadcast):
    ref, lo, hi, _, _ = BINARY[name]
    x = rand(shape, seed, np.float32, lo, hi)
    y = rand(shape[1:] if broadcast else shape, seed + 1, np.float32, lo, hi)
    out = getattr(fnp, name)(x, y)
    expected = ref(x, y)
    assert out.shape == np.shape(expected)
    if np.asarray(expected).dtype == bool:
        np.testing.assert_array_equal(np.asarray(out), expected)
    else:
        assert out.dtype == np.float32
        np.testing.assert_allclose(np.asarray(out), expected, rtol=3e-6, atol=2e-6)


@pytest.mark.parametrize("name", sorted(INTEGER_BINARY))
@settings(max_examples=10)
@given(shape=shapes, seed=st.integers(0, 1000), dtype=st.sampled_from([np.int32, np.int8,
                                                                          np.uint8]))
def test_integer_binary_matches_numpy(name, shape, seed, dtype):
    hi = 7 if "shift" in name else 40
    x = rand(shape, seed, dtype, 0, hi)
    y = rand(shape, seed + 1, dtype, 0, 7 if "shift" in name else hi)
    out = getattr(fnp, name)(x, y)
    expected = INTEGER_BINARY[name](x, y)
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(np.asarray(out), expected)


def test_gcd_lcm_signs_and_zero():
    a = np.array([0, -12, 12, 0, 7, -9], np.int32)
    b = np.array([0, 18, -18, 5, 0, -6], np.int32)
    np.testing.assert_array_equal(np.asarray(fnp.gcd(a, b)), np.gcd(a, b))
    np.testing.assert_array_equal(np.asarray(fnp.lcm(a, b)), np.lcm(a, b))
    with pytest.raises(TypeError, match="integer"):
        fnp.gcd(1.0, 2.0)


def test_tuple_valued():
    x = np.array([1.0, -2.5, 0.0, -0.0, 3e-39, 1e30, 6.0, -0.75], np.float32)
    m, e = fnp.frexp(x)
    em, ee = np.frexp(x)
    assert m.dtype == np.float32 and e.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(m), em)
    np.testing.assert_array_equal(np.asarray(e), ee)
    np.testing.assert_array_equal(np.signbit(np.asarray(m)), np.signbit(em))
    m, e = fnp.frexp(np.array([np.inf, -np.inf, np.nan], np.float32))
    np.testing.assert_array_equal(np.asarray(e), [0, 0, 0])
    assert np.isinf(np.asarray(m)[:2]).all() and np.isnan(np.asarray(m)[2])
    with fx.enable_x64(True):
        x64 = np.array([1e-310, 3.5, -1e300], np.float64)
        m, e = fnp.frexp(x64)
        np.testing.assert_array_equal(np.asarray(m), np.frexp(x64)[0])
        np.testing.assert_array_equal(np.asarray(e), np.frexp(x64)[1])
    h = np.array([1.5, 6e-8, -300.0], np.float16)
    np.testing.assert_array_equal(np.asarray(fnp.frexp(h)[0]), np.frexp(h)[0])
    np.testing.assert_array_equal(np.asarray(fnp.frexp(h)[1]), np.frexp(h)[1])
    frac, whole = fnp.modf(np.array([2.5, -2.5, 0.0, -0.0], np.float32))
    ef, ew = np.modf(np.array([2.5, -2.5, 0.0, -0.0], np.float32))
    np.testing.assert_array_equal(np.asarray(frac), ef)
    np.testing.assert_array_equal(np.signbit(np.asarray(whole)), np.signbit(ew))
    q, r = fnp.divmod(np.array([7, -7, 7, -7]), np.array([2, 2, -2, -2]))
    eq, er = np.divmod(np.array([7, -7, 7, -7]), np.array([2, 2, -2, -2]))
    np.testing.assert_array_equal(np.asarray(q), eq)
    np.testing.assert_array_equal(np.asarray(r), er)


def test_ldexp():
    x = np.array([1.0, -3.0, 0.5, 1e-30], np.float32)
    n = np.array([3, -2, 130, 100], np.int32)
    np.testing.assert_array_equal(np.asarray(fnp.ldexp(x, n)), np.ldexp(x, n))
    assert fnp.ldexp(np.arange(3), 2).dtype == np.float32
    with pytest.raises(TypeError, match="x2 must be an integer"):
        fnp.ldexp(1.0, 2.0)


def test_special_values_match_numpy():
    inf, nan = np.inf, np.nan
    v = np.array([0.0, -0.0, 1.0, -1.0, inf, -inf, nan], np.float32)
    x, y = np.meshgrid(v, v)
    for name, ref in [("hypot", np.hypot), ("copysign", np.copysign), ("fmax", np.fmax),
                      ("fmin", np.fmin), ("logaddexp", np.logaddexp),
                      ("logaddexp2", np.logaddexp2), ("heaviside", np.heaviside)]:
        with np.errstate(all="ignore"):
            expected = ref(x, y)
        out = np.asarray(getattr(fnp, name)(x, y))
        np.testing.assert_allclose(out, expected, rtol=3e-7, atol=0, err_msg=name)
        zero_or_inf = (expected == 0) | np.isinf(expected)
        np.testing.assert_array_equal(np.signbit(out)[zero_or_inf],
                                      np.signbit(expected)[zero_or_inf], err_msg=name)
    for name, ref in [("signbit", np.signbit), ("isposinf", np.isposinf),
                      ("isneginf", np.isneginf), ("nan_to_num", np.nan_to_num),
                      ("sinc", np.sinc), ("fabs", np.fabs)]:
        with np.errstate(all="ignore"):
            expected = ref(v)
        np.testing.assert_array_equal(np.asarray(getattr(fnp, name)(v)), expected,
                                      err_msg=name)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(np.asarray(fnp.spacing(v[2:4])), np.spacing(v[2:4]))
    np.testing.assert_array_equal(
        np.asarray(fnp.nan_to_num(v, nan=-1.0, posinf=9.0, neginf=-9.0)),
        np.nan_to_num(v, nan=-1.0, posinf=9.0, neginf=-9.0))
    z = np.array([complex(nan, inf), complex(1, -inf)], np.complex64)
    np.testing.assert_array_equal(np.asarray(fnp.nan_to_num(z)), np.nan_to_num(z))


def test_isclose_and_friends():
    inf, nan = np.inf, np.nan
    a = np.array([1.0, 1.0 + 1e-6, inf, -inf, nan, nan, 1.0, inf], np.float32)
    b = np.array([1.0, 1.0, inf, inf, nan, 1.0, 1.1, 1.0], np.float32)
    for equal_nan in (False, True):
        np.testing.assert_array_equal(np.asarray(fnp.isclose(a, b, equal_nan=equal_nan)),
                                      np.isclose(a, b, equal_nan=equal_nan))
    np.testing.assert_array_equal(np.asarray(fnp.isclose(a, b, rtol=0.2)),
                                  np.isclose(a, b, rtol=0.2))
    assert bool(fnp.allclose(a[:2], b[:2])) and not bool(fnp.allclose(a, b))
    assert bool(fnp.allclose(a[4:5], b[4:5], equal_nan=True))
    assert bool(fnp.array_equal(np.arange(3), [0, 1, 2]))
    assert not bool(fnp.array_equal(np.arange(3), np.arange(2)))
    assert bool(fnp.array_equal(a[4:5], b[4:5], equal_nan=True))
    assert bool(fnp.array_equiv(np.ones((2, 3)), 1.0))
    assert not bool(fnp.array_equiv(np.ones((2, 3)), np.ones(2)))
    c = np.array([1 + 0j, 1 + 1e-9j, 2j], np.complex64)
    np.testing.assert_array_equal(np.asarray(fnp.isclose(c, 1.0)), np.isclose(c, 1.0))
    np.testing.assert_array_equal(np.asarray(fnp.isreal(c)), np.isreal(c))
    np.testing.assert_array_equal(np.asarray(fnp.iscomplex(c)), np.iscomplex(c))
    assert fnp.iscomplexobj(c) and not fnp.iscomplexobj(np.ones(2)) and fnp.iscomplexobj(1j)
    assert fnp.isrealobj(3) and not fnp.isrealobj(c)
    assert fnp.isscalar(3.0) and fnp.isscalar(fnp.float32(2)) and not fnp.isscalar([1.0])
    assert fnp.isscalar(fnp.array(1.0)) and not fnp.isscalar(fnp.ones(2))
    assert fnp.iterable([1]) and not fnp.iterable(3)


def test_angle_and_bitwise_count():
    z = np.array([1 + 1j, -1 + 0j, -1j, 0j], np.complex64)
    np.testing.assert_allclose(np.asarray(fnp.angle(z)), np.angle(z), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(fnp.angle(z, deg=True)), np.angle(z, deg=True),
                               rtol=1e-6)
    x = np.array([-1, 0, 7, 255, -128], np.int32)
    out = fnp.bitwise_count(x)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(out), np.bitwise_count(x))


def test_complex_rejected_where_undefined():
    z = np.ones(2, np.complex64)
    # (logaddexp takes complex values, as JAX's: tests/numpy/test_jaxpr_parity.py)
    for name in ["hypot", "copysign", "heaviside", "fmax"]:
        if name == "fmax":
            fnp.fmax(z, z)  # defined (lexicographic order), as in NumPy
            continue
        with pytest.raises(TypeError, match="complex"):
            getattr(fnp, name)(z, z)
    for name in ["fabs", "spacing", "frexp", "modf", "i0", "isposinf"]:
        with pytest.raises(TypeError, match="complex"):
            getattr(fnp, name)(z)
    with pytest.raises(ValueError, match="complex"):  # JAX's error type for signbit
        fnp.signbit(z)


# ---------------------------------------------------------------------------
# derivatives, vmap, jit


@pytest.mark.parametrize("name", sorted(n for n, row in UNARY.items() if row[3]))
def test_unary_grads(name):
    _, lo, hi, _, avoid = UNARY[name]
    x = away_from(rand((5,), 3, np.float32, lo, hi), avoid)
    check_grads(getattr(fnp, name), (x,), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("name", sorted(n for n, row in BINARY.items() if row[3]))
def test_binary_grads(name):
    _, lo, hi, _, avoid = BINARY[name]
    x = away_from(rand((4,), 5, np.float32, lo, hi), avoid)
    y = away_from(rand((4,), 6, np.float32, lo, hi), avoid)
    if name in ("fmax", "fmin"):
        y = x + np.where(np.arange(4) % 2 == 0, 0.5, -0.5).astype(np.float32)
    check_grads(getattr(fnp, name), (x, y), order=2, modes=("fwd", "rev"))


def test_grads_at_special_points():
    # sinc is smooth at 0: first derivative 0, second -pi^2/3
    d1 = fx.grad(fnp.sinc)(0.0)
    d2 = fx.grad(fx.grad(fnp.sinc))(0.0)
    assert float(d1) == 0.0
    np.testing.assert_allclose(float(d2), -np.pi ** 2 / 3, rtol=1e-6)
    # logaddexp at -inf: finite gradient, not NaN
    g = fx.grad(fnp.logaddexp, argnums=(0, 1))(-np.inf, 0.0)
    np.testing.assert_allclose([float(g[0]), float(g[1])], [0.0, 1.0])
    g = fx.grad(fnp.logaddexp, argnums=(0, 1))(1.0, 1.0)
    np.testing.assert_allclose([float(g[0]), float(g[1])], [0.5, 0.5])
    # hypot at the origin of one argument
    np.testing.assert_allclose(float(fx.grad(fnp.hypot)(3.0, 0.0)), 1.0)


@pytest.mark.parametrize("name", ["hypot", "logaddexp", "copysign", "fmax", "heaviside",
                                  "sinc", "i0", "signbit", "nan_to_num", "isclose",
                                  "float_power", "spacing"])
def test_vmap_matches_loop_and_jit_matches_eager(name):
    fn = getattr(fnp, name)
    nargs = 1 if name in UNARY else 2
    xs = [rand((3, 4), 11 + i, np.float32, 0.5, 3) for i in range(nargs)]
    batched = fx.vmap(fn)(*xs)
    looped = np.stack([np.asarray(fn(*[x[i] for x in xs])) for i in range(3)])
    np.testing.assert_allclose(np.asarray(batched), looped, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(fx.jit(fn)(*xs)), np.asarray(fn(*xs)), rtol=1e-6)
    # in_axes None for one operand
    if nargs == 2:
        out = fx.vmap(fn, in_axes=(0, None))(xs[0], xs[1][0])
        looped = np.stack([np.asarray(fn(xs[0][i], xs[1][0])) for i in range(3)])
        np.testing.assert_allclose(np.asarray(out), looped, rtol=1e-6)


def test_gcd_under_vmap_and_jit():
    a = np.array([[12, 18, 7], [0, 9, 100]], np.int32)
    b = np.array([8, 12, 21], np.int32)
    np.testing.assert_array_equal(np.asarray(fx.vmap(fnp.gcd, (0, None))(a, b)), np.gcd(a, b))
    np.testing.assert_array_equal(np.asarray(fx.jit(fnp.lcm)(a, b)), np.lcm(a, b))


# ---------------------------------------------------------------------------
# dtypes and weak types vs JAX

_OPERANDS = {
    "f32": lambda: np.array([0.5, 1.5], np.float32),
    "i32": lambda: np.array([1, 2], np.int32),
    "u8": lambda: np.array([1, 2], np.uint8),
    "f16": lambda: np.array([0.5, 1.5], np.float16),
    "bool": lambda: np.array([True, False]),
    "pyfloat": lambda: 0.5,
    "pyint": lambda: 2,
}


def _result(fn, *args, jax=None):
    """The result dtypes and weak types of ``fn(*args)`` (JAX's by abstract evaluation,
    which is much faster than running it), or the name of the error it raises."""
    try:
        out = jax.eval_shape(fn, *args) if jax is not None else fn(*args)
    except (TypeError, ValueError) as e:
        return type(e).__name__
    out = out if isinstance(out, tuple) else (out,)
    return tuple((np.dtype(o.dtype).name, bool(getattr(o, "weak_type", False))) for o in out)


@pytest.mark.parametrize("name", sorted(set(UNARY) | {"frexp", "modf", "bitwise_count",
                                                       "fabs"}))
def test_unary_dtypes_match_jax(name):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    for key, make in _OPERANDS.items():
        ours = _result(getattr(fnp, name), make())
        theirs = _result(getattr(jnp, name), make(), jax=jax)
        if isinstance(theirs, str):
            assert isinstance(ours, str), (name, key, ours, theirs)
        else:
            assert ours == theirs, (name, key, ours, theirs)


# JAX's weak type for a strong non-float array with a Python scalar depends on how each of
# these happens to be written (hypot(i32, 0.5) is strong, remainder(i32, 0.5) weak,
# power(0.5, i32) strong); fx keeps the lattice's answer there, so for these pairs only the
# dtype is compared.
_WEAK_QUIRKS = {"hypot", "heaviside", "logaddexp2", "gcd", "lcm", "pow"}


def _strip_weak(result):
    return tuple((d, None) for d, _ in result)


@pytest.mark.parametrize("name", sorted(set(BINARY) | {"gcd", "lcm", "ldexp", "divmod",
                                                       "bitwise_left_shift"}))
def test_binary_dtypes_match_jax(name):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    keys = list(_OPERANDS)
    for k1 in keys:
        for k2 in keys:
            a, b = _OPERANDS[k1](), _OPERANDS[k2]()
            theirs = _result(getattr(jnp, name), a, b, jax=jax)
            ours = _result(getattr(fnp, name), a, b)
            if isinstance(theirs, str):
                assert isinstance(ours, str), (name, k1, k2, ours, theirs)
                continue
            mixed = {k1.startswith("py"), k2.startswith("py")} == {True, False}
            # JAX's power(2, 3) is weak when run eagerly but strong when traced
            if name in _WEAK_QUIRKS and (mixed or name == "pow"):
                ours, theirs = _strip_weak(ours), _strip_weak(theirs)
            assert ours == theirs, (name, k1, k2, ours, theirs)


def test_values_match_jax_on_ties_and_edges():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    x = np.array([-2.0, -0.0, 0.0, 1e-8, 0.5, 3.0], np.float32)
    for name in ["sinc", "i0", "spacing", "signbit", "deg2rad"]:
        np.testing.assert_allclose(np.asarray(getattr(fnp, name)(x)),
                                   np.asarray(getattr(jnp, name)(x)), rtol=2e-6, atol=1e-30)
