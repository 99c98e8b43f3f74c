"""lowering.div_rewrite: divisions by a broadcast, a constant, exp, sqrt, rsqrt or pow
compiled as XLA's CPU compiler computes them (against a NumPy oracle of the reciprocal
form, and bit for bit against jax.jit where JAX is installed)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx import lax
from fx._testing import x64_with_jax
from lowering.div_rewrite import rewrite_divisions
from lowering.passes import optimize

try:
    import ml_dtypes
    BF16 = np.dtype(ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover
    BF16 = None

REAL = [np.float16, np.float32, np.float64]
pytestmark = pytest.mark.usefixtures("x64")  # float64 operands stay float64


def _names(closed):
    return [e.primitive.name for e in closed.jaxpr.eqns]


def _recip_oracle(a, b):
    """``a * (1 / b)``, each operation rounded to the dtype (NumPy rounds float16's)."""
    dtype = np.result_type(a, b)
    with np.errstate(all="ignore"):
        return np.multiply(a, np.divide(np.ones((), dtype), b.astype(dtype)))


def _uniform(rng, shape, dtype):
    return rng.uniform(0.5, 2.0, shape).astype(dtype)


# ---------------------------------------------------------------------------
# the rewritten program


def test_broadcast_divisor_becomes_reciprocal_then_multiply():
    closed = fx.make_jaxpr(lambda x, y: x / y)(np.ones((3, 4), np.float32),
                                               np.ones((3, 1), np.float32))
    names = _names(optimize(closed))
    assert "mul" in names and names.count("div") == 1
    div = next(e for e in optimize(closed).jaxpr.eqns if e.primitive.name == "div")
    assert div.outvars[0].aval.size == 3  # 1 / y, once per row


@pytest.mark.parametrize("make, args", [
    (lambda x, y: x / y, ((3, 4), (3, 4))),          # computed full-shape divisor
    (lambda x, y: x / y[:, None], ((3, 1), (3,))),   # a broadcast adding no element
    (lambda x, y: x / y, ((), ())),                  # rank-0 quotient
])
def test_plain_divisions_stay(make, args):
    closed = fx.make_jaxpr(make)(*[np.ones(s, np.float32) for s in args])
    assert "mul" not in _names(rewrite_divisions(closed))


@pytest.mark.skipif(BF16 is None, reason="needs ml_dtypes")
def test_bfloat16_and_integer_divisions_stay():
    for dtype in (BF16, np.dtype(np.int32)):
        closed = fx.make_jaxpr(lax.div)(np.ones((3, 4), dtype), np.ones((3, 1), dtype))
        assert rewrite_divisions(closed) is closed


@pytest.mark.parametrize("fn, form", [(fnp.exp, ["neg", "exp"]), (fnp.sqrt, ["rsqrt"]),
                                      (lax.rsqrt, ["sqrt"]), (lambda y: y ** 1.5, ["pow"])])
def test_reciprocal_forms(fn, form):
    closed = fx.make_jaxpr(lambda x, y: x / fn(y))(np.ones((3, 4), np.float32),
                                                   np.ones((3, 4), np.float32))
    names = _names(rewrite_divisions(closed))
    assert "div" not in names and names[-1] == "mul"
    assert all(n in names for n in form)


def test_constant_divisor_is_inverted():
    closed = fx.make_jaxpr(lambda x: x / 10.0)(np.ones(5, np.float64))
    new = rewrite_divisions(closed)
    (eqn,) = new.jaxpr.eqns
    assert eqn.primitive.name == "mul"
    assert float(eqn.invars[1].val) == np.float64(1) / np.float64(10)


# ---------------------------------------------------------------------------
# values: the NumPy oracle of the reciprocal form, and eager (full-shape: a division)


@settings(max_examples=25, deadline=None)
@given(dtype=st.sampled_from(REAL), rows=st.integers(1, 9), cols=st.integers(2, 9),
       form=st.sampled_from(["row", "col", "scalar"]), seed=st.integers(0, 2**16))
def test_jit_matches_reciprocal_oracle(dtype, rows, cols, form, seed):
    rng = np.random.default_rng(seed)
    a = _uniform(rng, (rows, cols), dtype)
    b = _uniform(rng, {"row": (rows, 1), "col": (1, cols), "scalar": ()}[form], dtype)
    got = np.asarray(fx.jit(lambda x, y: x / y)(a, b))
    np.testing.assert_array_equal(got, _recip_oracle(a, b))


@pytest.mark.parametrize("dtype", REAL)
def test_jit_constant_and_reshaped_divisors(dtype):
    rng = np.random.default_rng(0)
    a, c = _uniform(rng, (6, 7), dtype), _uniform(rng, (6, 7), dtype)
    np.testing.assert_array_equal(np.asarray(fx.jit(lambda x: x / c)(a)), _recip_oracle(a, c))
    np.testing.assert_array_equal(np.asarray(fx.jit(lambda x: x / 3.0)(a)),
                                  _recip_oracle(a, np.asarray(3.0, dtype)))
    s = _uniform(rng, (6,), dtype)
    got = fx.jit(lambda x, y: x / y.reshape(6, 1))(a, s)
    np.testing.assert_array_equal(np.asarray(got), _recip_oracle(a, s[:, None]))
    # a / b / c: two rewritten divisions in turn
    y, z = np.asarray(1.7, dtype), np.asarray(0.3, dtype)
    got = fx.jit(lambda x, y, z: x / y / z)(a, y, z)
    np.testing.assert_array_equal(np.asarray(got), _recip_oracle(_recip_oracle(a, y), z))


@pytest.mark.parametrize("dtype", REAL)
def test_full_shape_division_is_eager_division(dtype):
    rng = np.random.default_rng(1)
    a, b = _uniform(rng, (5, 8), dtype), _uniform(rng, (5, 8), dtype)
    np.testing.assert_array_equal(np.asarray(fx.jit(lambda x, y: x / y)(a, b)), a / b)


def test_gradient_through_rewritten_division():
    from fx.test_util import check_grads
    a = np.random.default_rng(2).uniform(0.5, 2.0, (3, 4))
    b = np.random.default_rng(3).uniform(0.5, 2.0, (3, 1))
    check_grads(fx.jit(lambda x, y: x / fnp.exp(y) + x / fnp.sqrt(y) + x / y),
                (a, b), order=2, modes=("fwd", "rev"))


def test_vmap_of_jitted_division_matches_loop():
    rng = np.random.default_rng(4)
    a, b = _uniform(rng, (3, 4, 5), np.float32), _uniform(rng, (3, 4, 1), np.float32)
    f = fx.jit(lambda x, y: x / y)
    got = np.asarray(fx.vmap(f)(a, b))
    np.testing.assert_array_equal(got, np.stack([np.asarray(f(x, y)) for x, y in zip(a, b)]))


# ---------------------------------------------------------------------------
# JAX: bit for bit


def _jax():
    jax = pytest.importorskip("jax")
    return jax, jax.numpy


def _pairs(dtype):
    jax, jnp = _jax()
    mods = [(fnp, lax), (jnp, jax.lax)]
    rows = [("broadcast", lambda m, l: lambda x, y: x / y, (40, 1)),
            ("scalar", lambda m, l: lambda x, y: x / y, ()),
            ("literal", lambda m, l: lambda x, y: x / 3.0 + y, ()),
            ("exp", lambda m, l: lambda x, y: x / m.exp(y), (1, 30)),
            ("sqrt", lambda m, l: lambda x, y: x / m.sqrt(y), (40, 30)),
            ("rsqrt", lambda m, l: lambda x, y: x / l.rsqrt(y), (40, 1)),
            ("pow", lambda m, l: lambda x, y: x / y ** 1.5, (40, 30)),
            ("literal over broadcast", lambda m, l: lambda x, y: 3.0 / y + x, (40, 1)),
            ("chain", lambda m, l: lambda x, y: x / y / 7.0, (1, 30))]
    return [(name, make(*mods[0]), make(*mods[1]), shape) for name, make, shape in rows]


@pytest.mark.parametrize("dtype", REAL + ([BF16] if BF16 is not None else []),
                         ids=lambda d: np.dtype(d).name)
def test_matches_jax_jit_bitwise(dtype):
    jax, _ = _jax()
    rng = np.random.default_rng(5)  # (fresh inputs per row, same stream each run)
    a = _uniform(rng, (40, 30), dtype)
    with x64_with_jax():
        for name, fx_fn, jax_fn, shape in _pairs(dtype):
            if name == "chain" and np.dtype(dtype) == BF16:
                continue  # XLA keeps bfloat16 chains in float32 (not a division rule)
            b = _uniform(rng, shape, dtype)
            got = np.asarray(fx.jit(fx_fn)(a, b))
            want = np.asarray(jax.jit(jax_fn)(a, b))
            np.testing.assert_array_equal(got, want, err_msg=name)
