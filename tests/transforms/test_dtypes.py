"""JAX's type promotion table with weak types, checked pair by pair against
jax.numpy, with 64-bit types off and on.

For every pair of {bool, int8..int64, uint8..uint64, float16, bfloat16,
float32, float64, complex64, complex128, Python int, float, complex} this
compares ``fx.numpy.result_type`` (and its weak-type flag),
``fx.numpy.promote_types`` (dtype pairs only) and the dtype and weak type of
``fx.numpy.add(x, y)`` with JAX's answers. One test per left operand and mode
reports every mismatching right operand at once.
"""
import contextlib
import warnings

import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import dtypes as fx_dtypes

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

BF16 = np.dtype(jnp.bfloat16)
DTYPES = {
    "bool": np.dtype(np.bool_), "int8": np.dtype(np.int8), "int16": np.dtype(np.int16),
    "int32": np.dtype(np.int32), "int64": np.dtype(np.int64), "uint8": np.dtype(np.uint8),
    "uint16": np.dtype(np.uint16), "uint32": np.dtype(np.uint32),
    "uint64": np.dtype(np.uint64), "float16": np.dtype(np.float16), "bfloat16": BF16,
    "float32": np.dtype(np.float32), "float64": np.dtype(np.float64),
    "complex64": np.dtype(np.complex64), "complex128": np.dtype(np.complex128),
}
PY_SCALARS = {"py_int": (int, 2), "py_float": (float, 2.0), "py_complex": (complex, 2.0 + 1j)}
NAMES = list(DTYPES) + list(PY_SCALARS)


def _jax_x64(enabled):
    ctx = getattr(jax, "enable_x64", None)
    if ctx is None:  # older JAX
        from jax.experimental import enable_x64 as ctx
    return ctx(enabled)


@contextlib.contextmanager
def _mode(x64):
    with fx.enable_x64(x64), _jax_x64(x64), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # JAX warns when it truncates 64-bit requests
        yield


def _as_type_arg(name):
    """What result_type receives: a dtype, or the Python type for Python scalars."""
    return DTYPES[name] if name in DTYPES else PY_SCALARS[name][0]


def _as_value(name):
    """What add receives: a 0-d NumPy array of the dtype, or a Python scalar."""
    return np.ones((), DTYPES[name]) if name in DTYPES else PY_SCALARS[name][1]


def _report(lhs, mismatches, ours="fx", theirs="jax"):
    if mismatches:
        pytest.fail(f"{lhs} op rhs differs from {theirs} for:\n" + "\n".join(
            f"  {rhs}: {ours} {got} vs {theirs} {want}" for rhs, got, want in mismatches),
            pytrace=False)


@pytest.mark.parametrize("x64", [False, True], ids=["x32", "x64"])
@pytest.mark.parametrize("lhs", NAMES)
def test_result_type_matches_jax(lhs, x64):
    mismatches = []
    with _mode(x64):
        for rhs in NAMES:
            a, b = _as_type_arg(lhs), _as_type_arg(rhs)
            want = jnp.result_type(a, b)
            want_weak = jax.dtypes.result_type(a, b, return_weak_type_flag=True)[1]
            try:
                got = fnp.result_type(a, b)
                got_weak = fx_dtypes.result_type(a, b, return_weak_type_flag=True)[1]
            except Exception as e:  # noqa: BLE001 - reported below
                got, got_weak = f"{type(e).__name__}: {e}", None
            if (got, got_weak) != (want, want_weak):
                mismatches.append((rhs, (got, got_weak), (want, want_weak)))
    _report(lhs, mismatches)


@pytest.mark.parametrize("x64", [False, True], ids=["x32", "x64"])
@pytest.mark.parametrize("lhs", list(DTYPES))
def test_promote_types_matches_jax(lhs, x64):
    mismatches = []
    with _mode(x64):
        for rhs in DTYPES:
            want = jnp.promote_types(DTYPES[lhs], DTYPES[rhs])
            try:
                got = fnp.promote_types(DTYPES[lhs], DTYPES[rhs])
            except Exception as e:  # noqa: BLE001
                got = f"{type(e).__name__}: {e}"
            if got != want:
                mismatches.append((rhs, got, want))
    _report(lhs, mismatches)


@pytest.mark.parametrize("x64", [False, True], ids=["x32", "x64"])
@pytest.mark.parametrize("lhs", NAMES)
def test_add_dtype_and_weak_type_match_jax(lhs, x64):
    mismatches = []
    with _mode(x64):
        for rhs in NAMES:
            x, y = _as_value(lhs), _as_value(rhs)
            w = jax.eval_shape(jnp.add, x, y)  # types only: no XLA compile per pair
            want = (w.dtype, w.weak_type)
            try:
                r = fnp.add(x, y)
                got = (r.dtype, r.weak_type)
            except Exception as e:  # noqa: BLE001
                got = f"{type(e).__name__}: {e}"
            if got != want:
                mismatches.append((rhs, got, want))
    _report(lhs, mismatches)


@pytest.mark.parametrize("x64", [False, True], ids=["x32", "x64"])
def test_add_under_jit_matches_eager_types(x64):
    mismatches = []
    with _mode(x64):
        for lhs in NAMES:
            for rhs in NAMES:
                x, y = _as_value(lhs), _as_value(rhs)
                results = []
                for fn in (fnp.add, fx.jit(fnp.add)):
                    try:
                        r = fn(x, y)
                        results.append((r.dtype, r.weak_type))
                    except Exception as e:  # noqa: BLE001 - both must fail alike
                        results.append(type(e).__name__)
                if results[0] != results[1]:
                    mismatches.append((f"{lhs}+{rhs}", results[1], results[0]))
    _report("add", mismatches, ours="jit", theirs="eager")


@pytest.mark.parametrize("x64", [False, True], ids=["x32", "x64"])
def test_default_types_of_python_scalars(x64):
    with _mode(x64):
        for value in (1, 1.0, 1j, True):
            got, want = fnp.asarray(value), jnp.asarray(value)
            assert (got.dtype, got.weak_type) == (want.dtype, want.weak_type), value
            got = fnp.asarray(np.ones(2, np.int64))
            want = jnp.asarray(np.ones(2, np.int64))
            assert got.dtype == want.dtype


def test_float8_and_int4_dtypes_from_ml_dtypes():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    for name in ("float8_e4m3fn", "float8_e5m2"):
        dtype = np.dtype(getattr(ml_dtypes, name))
        x = fnp.asarray([1.0, 2.5, -3.0], dtype=dtype)
        assert x.dtype == dtype
        np.testing.assert_array_equal(np.asarray(x.astype(np.float32)),
                                      np.array([1.0, 2.5, -3.0], dtype).astype(np.float32))
    x = fnp.asarray([1, -2, 7], dtype=ml_dtypes.int4)
    assert x.dtype == np.dtype(ml_dtypes.int4)
    with pytest.raises(TypeError, match="dtype"):
        fnp.zeros(2, dtype=object)
