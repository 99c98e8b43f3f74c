"""Regression tests for the fx.numpy gaps a differential audit against JAX 0.10.2 found:
boolean masks of length 0, quantiles with empty axes, ``pad`` (every mode and a callable
``mode``), ``linspace`` for integer dtypes, ``take_along_axis`` on empty arrays, and
``nonzero``/``unique`` with ``size=`` on empty inputs.

Oracles: NumPy for values, JAX where it is installed (tests needing it skip otherwise),
finite differences for derivatives, eager for jit, a Python loop for vmap.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx.errors import NonConcreteBooleanIndexError
from fx.numpy import _pad
from fx.test_util import check_grads

RNG = np.random.RandomState(0)


@pytest.fixture(scope="module")
def jnp():
    jax = pytest.importorskip("jax")
    return jax.numpy


def _jax():
    return pytest.importorskip("jax")


def assert_same(got, want, tol=0.0, check_dtype=True):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    if check_dtype:
        assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if tol:
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=tol,
                                   atol=tol)
    else:
        np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------------
# boolean masks

X = np.arange(24, dtype=np.float32).reshape(2, 3, 4)

MASK_OK = {  # NumPy and JAX agree on all of these
    "empty": (np.array([], bool),),
    "empty_list": ([],),
    "two_axes_empty_rows": (np.ones((0, 3), bool),),
    "two_axes_empty_cols": (np.ones((2, 0), bool),),
    "slice_then_empty": (slice(None), np.array([], bool)),
    "int_then_empty": (0, np.array([], bool)),
    "ellipsis_then_empty": (Ellipsis, np.array([], bool)),
    "exact": (np.array([True, False]),),
    "two_axes": (np.array([[True, False, True], [False, True, True]]),),
    "three_axes": (np.eye(4, dtype=bool)[None, :3].repeat(2, 0),),
    "true_0d": (np.array(True),),
    "false_0d": (np.array(False),),
    "py_true": (True,),
    "py_false": (False,),
    "true_true": (np.array(True), np.array(True)),
    "true_slice": (np.array(True), slice(1, None)),
    "int_true": (1, np.array(True)),
    "none_mask": (None, np.array([True, False])),
    "mask_none": (np.array([True, False]), None),
    "mask_ellipsis_int": (np.array([True, False]), Ellipsis, 0),
    "ellipsis_mask": (Ellipsis, np.array([True, False, True, True])),
    "slice_mask": (slice(None), np.array([True, False, True])),
    "mask_mask": (np.array([True, False]), np.array([True, False, True])),
    "mask_array": (np.array([True, True]), np.array([0, 2])),
}

MASK_BAD = {  # wrong lengths/shapes: IndexError in NumPy, JAX and fx
    "shorter": (np.array([True]),),
    "longer": (np.array([True, False, True]),),
    "much_longer": (np.array([True, False, True, False, True]),),
    "wrong_second_axis": (np.ones((2, 2), bool),),
    "wrong_first_axis": (np.ones((3, 3), bool),),
    "slice_then_short": (slice(None), np.array([True])),
    "too_many_axes": (np.ones((2, 3, 4, 1), bool),),
}


@pytest.mark.parametrize("name", sorted(MASK_OK))
def test_boolean_masks_match_numpy_eager_jit_and_at(name):
    idx = MASK_OK[name]
    want = X[idx]
    assert_same(fnp.asarray(X)[idx], want)
    assert_same(fx.jit(lambda x: x[idx])(X), want)
    assert_same(fnp.asarray(X).at[idx].get(), want)
    updated = X.copy()
    updated[idx] = -1.0
    assert_same(fnp.asarray(X).at[idx].set(-1.0), updated)
    added = X.copy()
    added[idx] += 2.0
    if name not in ("mask_array",):  # NumPy's += does not accumulate repeats; none here
        assert_same(fx.jit(lambda x: x.at[idx].add(2.0))(X), added)


@pytest.mark.parametrize("name", sorted(MASK_OK))
def test_boolean_masks_match_jax(name, jnp):
    idx = MASK_OK[name]
    assert_same(fnp.asarray(X)[idx], jnp.asarray(X)[idx])
    assert_same(fnp.asarray(X).at[idx].set(5.0), jnp.asarray(X).at[idx].set(5.0))


@pytest.mark.parametrize("name", sorted(MASK_BAD))
def test_boolean_masks_of_wrong_shape_raise_index_error(name):
    idx = MASK_BAD[name]
    with pytest.raises(IndexError):
        X[idx]
    with pytest.raises(IndexError):
        fnp.asarray(X)[idx]
    with pytest.raises(IndexError):
        fx.jit(lambda x: x[idx])(X)
    with pytest.raises(IndexError):
        fnp.asarray(X).at[idx].set(0.0)


@pytest.mark.parametrize("name", sorted(MASK_BAD))
def test_boolean_masks_of_wrong_shape_raise_in_jax_too(name, jnp):
    with pytest.raises(IndexError):
        jnp.asarray(X)[MASK_BAD[name]]


def test_mismatch_message_names_got_and_expected():
    with pytest.raises(IndexError, match=r"got \(1,\), expected \[2\]"):
        fnp.asarray(X)[np.array([True])]


@pytest.mark.parametrize("build", [
    lambda: fx.jit(lambda x, m: x[m])(X, np.array([True, False])),
    lambda: fx.jit(lambda x, m: x.at[m].set(0.0))(X, np.array([True, False])),
    lambda: fx.vmap(lambda x: x[x > 3])(X),
])
def test_traced_masks_name_where_and_size(build):
    with pytest.raises(NonConcreteBooleanIndexError, match=r"where.*size="):
        build()


# ---------------------------------------------------------------------------
# quantiles with empty axes

QUANTILE_FUNCS = [("median", None), ("nanmedian", None), ("quantile", 0.3),
                  ("nanquantile", [0.1, 0.9]), ("percentile", [25.0, 75.0]),
                  ("nanpercentile", 50.0)]
METHODS = ["linear", "lower", "higher", "midpoint", "nearest", "inverted_cdf"]


def _call(module, name, q, x, **kw):
    args = (x,) if q is None else (x, np.asarray(q, np.float32))
    return getattr(module, name)(*args, **kw)


@pytest.mark.parametrize("name,q", QUANTILE_FUNCS)
@pytest.mark.parametrize("shape,axis", [((0,), None), ((3, 0), 1), ((2, 0, 3), (0, 1))])
def test_quantile_of_an_empty_axis_raises(name, q, shape, axis):
    """JAX 0.10.2 raises (a gather error) where NumPy gives NaN: fx raises a clear
    ValueError naming the empty axis."""
    x = np.zeros(shape, np.float32)
    args = (x,) if q is None else (x, q)
    with pytest.raises(ValueError, match="empty"):
        getattr(fnp, name)(*args, axis=axis)


@pytest.mark.parametrize("a_shape,i_shape,axis", [((0, 3), (0, 1), -1), ((2, 0), (2, 0), 1),
                                                  ((0,), (0,), 0), ((2, 0), (2, 1), 0),
                                                  ((2, 0), (2, 3), 1), ((2, 3), (2, 0), 1)])
def test_take_along_axis_of_empty_arrays(a_shape, i_shape, axis, jnp):
    a, i = np.zeros(a_shape, np.float32), np.zeros(i_shape, np.int32)
    want = jnp.take_along_axis(a, i, axis=axis)
    assert_same(fnp.take_along_axis(a, i, axis=axis), want)
    assert_same(fx.jit(lambda a: fnp.take_along_axis(a, i, axis=axis))(a), want)


def test_take_along_axis_of_empty_array_differentiates():
    g = fx.grad(lambda a: fnp.take_along_axis(a, np.zeros((0, 1), np.int32), axis=1).sum())
    assert_same(g(np.zeros((0, 3), np.float32)), np.zeros((0, 3), np.float32))


# ---------------------------------------------------------------------------
# pad (fx.numpy._pad.pad; fx.numpy.pad once _joining re-exports it)

STRING_MODES = ["constant", "edge", "linear_ramp", "maximum", "mean", "median", "minimum",
                "reflect", "symmetric", "wrap", "empty"]


@st.composite
def pad_cases(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    dtype = draw(st.sampled_from([np.float32, np.int32]))
    mode = draw(st.sampled_from(STRING_MODES))
    form = draw(st.integers(0, 3))
    width = st.integers(0, 9)  # often larger than the axis
    if form == 0:
        widths = draw(width)
    elif form == 1:
        widths = (draw(width), draw(width))
    elif form == 2:
        widths = tuple((draw(width), draw(width)) for _ in shape)
    else:
        widths = (draw(width),)
    kwargs = {}
    if mode == "constant" and draw(st.booleans()):
        kwargs["constant_values"] = draw(st.sampled_from(
            [3, (1, -2), tuple((i, -i) for i in range(1, ndim + 1))]))
    elif mode == "linear_ramp" and draw(st.booleans()):
        kwargs["end_values"] = draw(st.sampled_from(
            [5, (-3, 7), tuple((i, -2 * i) for i in range(1, ndim + 1))]))
    elif mode in ("maximum", "minimum", "mean", "median") and draw(st.booleans()):
        kwargs["stat_length"] = draw(st.sampled_from([1, 2, 5, (1, 3), (4, 2)]))
    elif mode in ("reflect", "symmetric") and draw(st.booleans()):
        kwargs["reflect_type"] = "odd"
    return shape, dtype, mode, widths, kwargs


def _np_pad(x, widths, mode, kwargs):
    if mode == "empty":
        return np.pad(x, widths, "constant")  # fx (as JAX) pads 'empty' with zeros
    return np.pad(x, widths, mode, **kwargs)


@settings(max_examples=80, deadline=None)
@given(pad_cases())
def test_pad_string_modes_match_numpy(case):
    shape, dtype, mode, widths, kwargs = case
    x = (RNG.randn(*shape) * 5).astype(dtype)
    got = _pad.pad(x, widths, mode, **kwargs)
    want = _np_pad(x, widths, mode, kwargs)
    if mode == "linear_ramp" and dtype == np.int32:
        # NumPy truncates the ramp toward zero, JAX (and fx) floor it: off by one at most
        assert got.shape == want.shape and got.dtype == want.dtype
        assert np.abs(np.asarray(got, np.int64) - want).max(initial=0) <= 1
    elif mode in ("mean", "median") and dtype == np.int32:
        # NumPy rounds the float64 statistic, fx the float32 one (as JAX)
        assert_same(got, want, tol=1.0)
    else:
        assert_same(got, want, tol=1e-4 if dtype == np.float32 else 0.0)


@settings(max_examples=50, deadline=None)
@given(pad_cases(), st.sampled_from([np.float32, np.int32, np.uint8, np.int8]))
def test_pad_string_modes_match_jax(case, dtype):
    jnp = _jax().numpy
    shape, _, mode, widths, kwargs = case
    x = (RNG.randn(*shape) * 5).astype(dtype)
    got = _pad.pad(x, widths, mode, **kwargs)
    want = jnp.pad(x, widths, mode, **kwargs)
    if mode == "linear_ramp" and dtype != np.float32:
        # the ramp is floored; XLA's fused arithmetic can land 1 ulp under an integer
        assert got.shape == want.shape and got.dtype == want.dtype
        diff = np.asarray(got, np.int64) - np.asarray(want, np.int64)
        assert np.isin(diff % 256, (0, 1, 255)).all()
    else:
        assert_same(got, want, tol=1e-4 if dtype == np.float32 else 0.0)


def test_pad_bool_arrays_as_jax(jnp):
    x = RNG.rand(3, 4) > 0.5
    for mode, kw in [("mean", {}), ("maximum", {"stat_length": 2}), ("edge", {}),
                     ("constant", {"constant_values": True}), ("wrap", {}),
                     ("symmetric", {})]:
        assert_same(_pad.pad(x, ((2, 1), (0, 3)), mode, **kw),
                    jnp.pad(x, ((2, 1), (0, 3)), mode, **kw))
    with pytest.raises(TypeError, match="odd"):
        _pad.pad(x, 1, "reflect", reflect_type="odd")


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_pad_mean_of_empty_axis_is_nan_as_jax():
    x = np.zeros((2, 0), np.float32)
    got = _pad.pad(x, ((0, 0), (1, 2)), "mean")
    assert got.shape == (2, 3) and np.isnan(np.asarray(got)).all()
    assert_same(_pad.pad(np.zeros((2, 0), np.int32), 1, "mean"), np.zeros((4, 2), np.int32))
    for mode in ("edge", "wrap", "reflect", "symmetric", "maximum", "linear_ramp"):
        with pytest.raises(ValueError, match="empty axis"):
            _pad.pad(x, ((0, 0), (1, 0)), mode)


def test_pad_callable_matches_jax_and_numpy():
    def custom(row, widths, iaxis, kwargs):
        before, after = widths
        row = row.at[:before].set(kwargs.get("lo", 0.0) + iaxis)
        return row.at[row.shape[0] - after:].set(kwargs.get("hi", 0.0) * row[before])

    def numpy_custom(row, widths, iaxis, kwargs):  # NumPy's in-place protocol
        before, after = widths
        row[:before] = kwargs.get("lo", 0.0) + iaxis
        row[row.shape[0] - after:] = kwargs.get("hi", 0.0) * row[before]

    x = RNG.randn(2, 3).astype(np.float32)
    for widths in [1, (2, 0), ((1, 2), (0, 3)), 0, ((0, 0), (5, 1))]:
        got = _pad.pad(x, widths, custom, lo=-1.0, hi=2.0)
        assert_same(got, np.pad(x, widths, numpy_custom, lo=-1.0, hi=2.0))
        assert_same(fx.jit(lambda x, w=widths: _pad.pad(x, w, custom, lo=-1.0, hi=2.0))(x), got)
        jnp = pytest.importorskip("jax").numpy
        assert_same(got, jnp.pad(x, widths, custom, lo=-1.0, hi=2.0))


def test_pad_callable_sees_vector_widths_axis_and_kwargs():
    seen = []

    def record(row, widths, iaxis, kwargs):
        seen.append((row.shape, widths, iaxis, kwargs))
        return row

    _pad.pad(np.ones((2, 3), np.float32), ((1, 0), (2, 1)), record, a=3)
    assert seen == [((3,), (1, 0), 0, {"a": 3}), ((6,), (2, 1), 1, {"a": 3})]
    assert_same(_pad.pad(np.float32(5), 2, record), np.float32(5))


def test_pad_callable_derivatives_and_vmap():
    def ramp(row, widths, iaxis, kwargs):
        return row.at[:widths[0]].set(row[widths[0]] * 2.0)

    x = RNG.randn(3, 4).astype(np.float32)
    f = lambda x: _pad.pad(x, ((1, 1), (2, 0)), ramp)  # noqa: E731
    check_grads(f, (x,), order=2, modes=("fwd", "rev"))
    batched = fx.vmap(f)(np.stack([x, 2 * x]))
    assert_same(batched, np.stack([f(x), f(2 * x)]))


def test_pad_callable_errors():
    x = np.ones((2, 3), np.float32)

    def in_place(row, widths, iaxis, kwargs):
        row[0] = 1.0

    with pytest.raises(TypeError, match="immutable"):
        _pad.pad(x, 1, in_place)
    with pytest.raises(TypeError, match="returned None"):
        _pad.pad(x, 1, lambda row, w, i, k: None)
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        _pad.pad(x, 1, lambda row, w, i, k: row[1:])


@pytest.mark.parametrize("call,error,match", [
    (lambda x: _pad.pad(x, 1, "bogus"), NotImplementedError, "bogus"),
    (lambda x: _pad.pad(x, 1, "edge", stat_length=3), ValueError, "keyword"),
    (lambda x: _pad.pad(x, -1), ValueError, "non-negative"),
    (lambda x: _pad.pad(x, 1.5), TypeError, "integral"),
    (lambda x: _pad.pad(x, (1, 2, 3)), ValueError, "unsupported shape"),
    (lambda x: _pad.pad(x, 1, "mean", stat_length=0), ValueError, "stat_length of 0"),
    (lambda x: _pad.pad(x, 1, "reflect", reflect_type="sideways"), ValueError, "reflect_type"),
    (lambda x: _pad.pad(x, 1, constant_values=np.ones(3)), ValueError, "constant_values"),
    (lambda x: fx.jit(lambda w: _pad.pad(x, w))(1), fx.errors.ConcretizationTypeError,
     "pad_width"),
])
def test_pad_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(np.ones((2, 3), np.float32))


def test_pad_traced_constant_values_differentiate():
    x = RNG.randn(2, 2).astype(np.float32)
    f = fx.jit(lambda x, c: _pad.pad(x, 1, constant_values=c))
    assert_same(f(x, np.float32(3.5)), np.pad(x, 1, constant_values=3.5))
    check_grads(lambda x, c: _pad.pad(x, ((1, 0), (0, 2)), constant_values=c),
                (x, np.float32(1.5)), order=2, modes=("fwd", "rev"))


def test_pad_odd_reflection_derivatives():
    x = RNG.randn(3, 2).astype(np.float32)
    for mode in ("reflect", "symmetric"):
        check_grads(lambda x, m=mode: _pad.pad(x, ((7, 4), (3, 5)), m, reflect_type="odd"), (x,),
                    order=2, modes=("fwd", "rev"))


def test_fx_numpy_pad_is_the_new_pad():
    assert fnp.pad is _pad.pad


# ---------------------------------------------------------------------------
# linspace


@settings(max_examples=40, deadline=None)
@given(st.integers(-20, 20), st.integers(-20, 20), st.integers(0, 12), st.booleans(),
       st.sampled_from([np.int32, np.int8, np.int16]))
def test_linspace_integer_dtypes_floor_as_jax(start, stop, num, endpoint, dtype):
    start += 0.25  # off the integers, so floor and truncation differ for negatives
    got = fnp.linspace(start, stop, num, endpoint=endpoint, dtype=dtype)
    want = np.floor(np.linspace(start, stop, num, endpoint=endpoint)).astype(dtype)
    assert got.dtype == np.dtype(dtype)
    assert np.abs(np.asarray(got, np.int64) - want).max(initial=0) <= 1
    if num and (np.asarray(got) != want).any():  # only at a float32 rounding boundary
        exact = np.linspace(start, stop, num, endpoint=endpoint)
        bad = np.asarray(got) != want
        assert np.all(np.abs(exact[bad] - np.round(exact[bad])) < 1e-5)


def test_linspace_matches_jax(jnp):
    for start, stop, num, endpoint, dtype in [(-3, 0.5, 5, False, "int32"),
                                              (0.0, -2.5, 5, False, "int32"),
                                              (-3, 1.7, 4, True, "uint8"),
                                              (0.0, 1.0, 9, True, None),
                                              (2, 3, 1, False, "bool")]:
        got = fnp.linspace(start, stop, num, endpoint=endpoint, dtype=dtype, retstep=True)
        want = jnp.linspace(start, stop, num, endpoint=endpoint, dtype=dtype, retstep=True)
        assert_same(got[0], want[0])
        assert_same(got[1], want[1], tol=1e-6)


def test_linspace_scalar_and_array_bounds_broadcast():
    stop = np.arange(3.0, dtype=np.float32)
    for axis in (0, 1, -1):
        got = fnp.linspace(5, stop, 4, endpoint=False, axis=axis)
        want = np.linspace(5, stop, 4, endpoint=False, axis=axis).astype(np.float32)
        assert_same(got, want, tol=1e-6)
    with pytest.raises(ValueError, match="axis"):
        fnp.linspace(0, stop, 4, axis=2)


# ---------------------------------------------------------------------------
# nonzero / unique with size= on empty inputs, and a sweep against JAX


@pytest.mark.parametrize("shape", [(0,), (0, 3), (2, 0)])
@pytest.mark.parametrize("size,fill", [(3, None), (3, -1), (0, 7), (2, (7, 8))])
def test_nonzero_of_empty_input_pads_with_fill_value(shape, size, fill):
    """Every slot is padding: it holds ``fill_value`` as documented (JAX 0.10.2 gives 0s
    for empty inputs whatever the fill; fx keeps the documented behaviour)."""
    if isinstance(fill, tuple) and len(fill) != len(shape):
        fill = fill[0]
    x = np.zeros(shape, np.float32)
    fills = fill if isinstance(fill, tuple) else (0 if fill is None else fill,) * len(shape)
    got = fnp.nonzero(x, size=size, fill_value=fill)
    assert len(got) == len(shape)
    for g, f in zip(got, fills):
        assert_same(g, np.full(size, f, np.int32))


def test_unique_of_empty_input_with_size():
    x = np.zeros((0, 2), np.float32)
    values, index, inverse, counts = fnp.unique(x, return_index=True, return_inverse=True,
                                                return_counts=True, size=3, fill_value=9)
    assert_same(values, np.full(3, 9, np.float32))
    assert_same(index, np.zeros(0, np.int32))
    assert_same(inverse, np.zeros((0, 2), np.int32))
    assert_same(counts, np.zeros(0, np.int32))
    with pytest.raises(ValueError, match="fill_value must be specified"):
        fnp.unique(x, size=3)
    assert_same(fnp.unique(x, size=0), np.zeros(0, np.float32))


def _array(draw, kind, shape):
    if kind == "b":
        return np.asarray(draw(st.lists(st.booleans(), min_size=int(np.prod(shape)),
                                        max_size=int(np.prod(shape))))).reshape(shape)
    values = st.sampled_from([0.0, 1.5, -2.0, 3.0, np.nan]) if kind == "f" else \
        st.integers(-3, 3)
    flat = draw(st.lists(values, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    return np.asarray(flat, np.float32 if kind == "f" else np.int32).reshape(shape)


def _compare(got, want, tol=0.0):
    if isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want)
        for g, w in zip(got, want):
            _compare(g, w, tol)
    else:
        assert_same(got, want, tol=tol)


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_sweep_against_jax(data):
    jnp = _jax().numpy
    draw = data.draw
    kind = draw(st.sampled_from("fib"))
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=2)))
    x = _array(draw, kind, shape)
    kw = {k: draw(st.booleans()) for k in ("return_index", "return_inverse", "return_counts")}
    kw["equal_nan"] = draw(st.booleans())
    if draw(st.booleans()):
        kw["size"], kw["fill_value"] = draw(st.integers(1, 6)), 9
    _compare(fnp.unique(x, **kw), jnp.unique(x, **kw))
    if shape and x.size:  # (empty inputs: see test_nonzero_of_empty_input_pads_...)
        nz = {}
        if draw(st.booleans()):
            nz = {"size": draw(st.integers(0, 5)), "fill_value": draw(st.sampled_from([-1, 7]))}
        _compare(fnp.nonzero(x, **nz), jnp.nonzero(x, **nz))
        _compare(fnp.argwhere(x, **nz), jnp.argwhere(x, **nz))
        _compare(fnp.flatnonzero(x, **nz), jnp.flatnonzero(x, **nz))
    if kind != "b":
        a = np.sort(_array(draw, kind, (draw(st.integers(0, 5)),)))
        side = draw(st.sampled_from(["left", "right"]))
        method = draw(st.sampled_from(["scan", "scan_unrolled", "sort", "compare_all"]))
        _compare(fnp.searchsorted(a, x, side=side, method=method),
                 jnp.searchsorted(a, x, side=side, method=method))
    counts = _array(draw, "i", (draw(st.integers(0, 6)),)) + 3
    bkw = {"minlength": draw(st.integers(0, 8))}
    if draw(st.booleans()):
        bkw["length"] = draw(st.integers(0, 8))
    if draw(st.booleans()):
        bkw["weights"] = np.linspace(-1, 1, counts.shape[0]).astype(np.float32)
    _compare(fnp.bincount(counts, **bkw), jnp.bincount(counts, **bkw), tol=1e-6)
    n = draw(st.integers(1, 7))
    px = np.linspace(-1, 1, n).astype(np.float32)
    py = np.cos(3 * px + draw(st.floats(-1, 1))).astype(np.float32)
    pkw = {"deg": draw(st.integers(0, 3))}
    if draw(st.booleans()):
        pkw["w"] = np.linspace(0.5, 1.5, n).astype(np.float32)
    if draw(st.booleans()):
        pkw["full"] = True
    _compare(fnp.polyfit(px, py, **pkw), jnp.polyfit(px, py, **pkw), tol=2e-3)


@pytest.mark.parametrize("fn", ["correlate", "convolve"])
@pytest.mark.parametrize("mode", ["same", "full", "valid"])
def test_convolve_correlate_every_length_pair_as_numpy(fn, mode):
    # NumPy centres 'same' differently when correlate's v is the longer input
    rng = np.random.default_rng(0)
    for n in range(1, 7):
        for m in range(1, 7):
            a, v = rng.random(n).astype(np.float32), rng.random(m).astype(np.float32)
            want = getattr(np, fn)(a, v, mode)
            got = np.asarray(getattr(fnp, fn)(a, v, mode))
            assert got.shape == want.shape, (n, m)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"{n} {m}")


def test_histogram2d_counts_are_integers_as_jax():
    rng = np.random.default_rng(1)
    x, y = rng.random(50).astype(np.float32), rng.random(50).astype(np.float32)
    h, _, _ = fnp.histogram2d(x, y, bins=4)
    want, _, _ = np.histogram2d(x, y, bins=4)
    assert h.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(h), want.astype(np.int32))
    hd, _, _ = fnp.histogram2d(x, y, bins=4, density=True)
    assert hd.dtype == np.float32
    np.testing.assert_allclose(np.asarray(hd), np.histogram2d(x, y, bins=4, density=True)[0],
                               rtol=1e-5)
