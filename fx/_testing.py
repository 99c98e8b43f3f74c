"""Private helpers for fx's own test suite (as ``jax._src.test_util`` is JAX's): random
operands, the check of compiled code against the reference interpreter, and hypothesis
strategies that several test files draw from.

Invariants: nothing here is public API; hypothesis (a test dependency) is imported only
inside the strategy functions, so importing this module needs only fx's own
dependencies. The compiled-code check always compares against ``eval_jaxpr`` (the
reference interpreter), never against another compiled program.
"""
from __future__ import annotations

import contextlib
from typing import Callable

import numpy as np

__all__ = ["rand", "x64_with_jax", "assert_trees_close", "assert_same", "assert_bits", "close",
           "within_ulps", "compile_and_compare", "window_cases", "gather_cases"]


def rand(shape, dtype=np.float64, rng=None):
    """Standard normal values of ``dtype`` (complex: independent real and imaginary parts)."""
    rng = np.random.RandomState(0) if rng is None else rng
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def assert_trees_close(got, want, rtol=2e-5, atol=2e-6, what=""):
    """Pytrees with the same number of leaves, each of the same shape and dtype and
    within ``rtol``/``atol`` (``float0`` leaves: shapes only); ``what`` names the case."""
    from fx import tree_util
    from fx.dtypes import float0

    got = [np.asarray(x) for x in tree_util.tree_leaves(got)]
    want = [np.asarray(x) for x in tree_util.tree_leaves(want)]
    assert len(got) == len(want), (what, len(got), len(want))
    for g, w in zip(got, want):
        assert g.shape == w.shape, (what, g.shape, w.shape)
        if w.dtype == float0:
            continue
        assert g.dtype == w.dtype, (what, g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=what)


def fx_and_jax_modules():
    """``[(fx, fx.numpy)]`` plus ``(jax, jax.numpy)`` where JAX is installed: one program
    written against both namespaces runs under each, JAX as the oracle."""
    import fx
    import fx.numpy as fnp
    out = [(fx, fnp)]
    try:
        import jax
        out.append((jax, jax.numpy))
    except ImportError:
        pass
    return out


@contextlib.contextmanager
def x64_with_jax():
    """fx and JAX (when installed) with 64-bit types, both restored afterwards; yields the
    jax module, or None without it."""
    import fx
    try:
        import jax
    except ImportError:
        jax = None
    old = jax.config.jax_enable_x64 if jax is not None else None
    if jax is not None:
        jax.config.update("jax_enable_x64", True)
    try:
        with fx.enable_x64():
            yield jax
    finally:
        if jax is not None:
            jax.config.update("jax_enable_x64", old)


# ---------------------------------------------------------------------------
# comparisons: ``compare(got, want)`` raises AssertionError on a mismatch


def _same_type(got, want):
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype,
                                                                 want.shape, want.dtype)


def assert_same(got, want):
    """Equal shapes, dtypes and values; floats value for value (NaN where NaN, the sign of
    zeros too)."""
    _same_type(got, want)
    np.testing.assert_array_equal(got, want)
    if got.dtype.kind in "fc":
        np.testing.assert_array_equal(np.signbit(got.real), np.signbit(want.real))


def assert_bits(got, want):
    """Equal shapes, dtypes and bytes (the same routine on the same arguments)."""
    _same_type(got, want)
    assert got.tobytes() == want.tobytes(), np.max(np.abs(got - want))


def complex_real_dtype(dtype):
    """The real dtype of a complex ``dtype`` (float32 for complex64, else float64)."""
    return np.float32 if np.dtype(dtype) == np.complex64 else np.float64


def complex_normal_range(dtype, n, seed):
    """``n`` complex values of ``dtype`` with parts of magnitude e^-5 .. e^5 (no subnormal
    in any intermediate of a product or quotient)."""
    rng = np.random.default_rng(seed)

    def part():
        return rng.standard_normal(n) * np.exp(rng.uniform(-5, 5, n))
    return (part() + 1j * part()).astype(dtype)


def complex_special_grid(dtype):
    """Every pair ``(x, y)`` of complex operands with parts from a set of special values."""
    import itertools
    rdt = complex_real_dtype(dtype)
    vals = np.array([0.0, -0.0, 1.0, -1.0, 2.5, -3.0, np.inf, -np.inf, np.nan, 1e30], rdt)
    g = np.array(list(itertools.product(vals, repeat=4)), rdt)
    x, y = np.empty(len(g), dtype), np.empty(len(g), dtype)
    x.real, x.imag, y.real, y.imag = g.T
    return x, y


def same_bits(a, b):
    """Elementwise: equal values with equal signs of zero, or NaN in both (per part of a
    complex value)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "c":
        return same_bits(a.real, b.real) & same_bits(a.imag, b.imag)
    a, b = a.astype(np.float64), b.astype(np.float64)
    return ((a == b) & (np.signbit(a) == np.signbit(b))) | (np.isnan(a) & np.isnan(b))


def close(rtol: float, atol: float = 0.0, *, scaled: bool = False) -> Callable:
    """A comparison allowing rounding: ``|got - want| <= atol + rtol * |want|`` with NaN
    where NaN; ``scaled`` multiplies ``atol`` by the largest ``|want|`` (at least 1)."""
    def compare(got, want):
        _same_type(got, want)
        if got.dtype.kind not in "fc":
            np.testing.assert_array_equal(got, want)
            return
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        tol = atol * max(1.0, float(np.max(np.abs(want), initial=0.0))) if scaled else atol
        np.testing.assert_allclose(got, want, rtol=rtol, atol=tol)
    return compare


def within_ulps(ulps: float, eps: dict | None = None) -> Callable:
    """A comparison allowing ``ulps`` units of the result type's epsilon (``eps[dtype]``
    where given, for types NumPy's ``finfo`` does not know) relative to ``|want|``,
    compared in double precision; NaN where NaN."""
    def compare(got, want):
        _same_type(got, want)
        if got.dtype.kind not in "fcV":   # integers and booleans: exactly
            np.testing.assert_array_equal(got, want)
            return
        wide = np.complex128 if got.dtype.kind == "c" else np.float64
        unit = (eps or {}).get(got.dtype) or float(np.finfo(got.dtype).eps)
        g, w = got.astype(wide), want.astype(wide)
        with np.errstate(invalid="ignore"):
            ok = (g == w) | (np.isnan(g) & np.isnan(w)) | (np.abs(g - w) <= ulps * unit * np.abs(w))
        assert ok.all(), (g[~ok][:5], w[~ok][:5])
    return compare


# ---------------------------------------------------------------------------
# compiled code against the reference interpreter


def compile_and_compare(f, *args, compare: Callable = assert_same, bounds_check=False,
                        x64=False, native=True):
    """Trace ``f`` on ``args``, compile it for the CPU, run it, and compare every output
    with the reference interpreter's by ``compare``. ``native``: no equation may fall
    back to eager. ``x64``: trace and interpret with 64-bit types on (operands keep their
    dtype). Returns ``(closed_jaxpr, executable)``."""
    import fx
    from fx.core import eval_jaxpr
    from lowering.cpu.compile import compile as compile_native

    scope = fx.enable_x64 if x64 else contextlib.nullcontext
    with scope():
        closed = fx.make_jaxpr(f)(*args)
    exe = compile_native(closed, bounds_check=bounds_check)
    if native:
        assert exe.fallbacks == [], [e.primitive.name for e in exe.fallbacks]
    got = exe([np.asarray(a) for a in args])
    with scope():
        want = eval_jaxpr(closed.jaxpr, closed.consts, *args)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        compare(np.asarray(g), np.asarray(w))
    return closed, exe


# ---------------------------------------------------------------------------
# hypothesis strategies


def window_cases(max_size: int = 6):
    """Drawn ``(shape, params)`` of a valid ``reduce_window`` (1-3 dims of up to
    ``max_size``, windows, strides, padding (negative too) and dilations)."""
    from hypothesis import assume, strategies as st
    from primitives.windowed import window_output_shape

    def dims(lo, hi, nd, draw):
        return tuple(draw(st.lists(st.integers(lo, hi), min_size=nd, max_size=nd)))

    @st.composite
    def cases(draw):
        nd = draw(st.integers(1, 3))
        shape = dims(0, max_size, nd, draw)
        params = dict(window_dimensions=dims(0, 3, nd, draw), window_strides=dims(1, 3, nd, draw),
                      padding=tuple((draw(st.integers(-1, 2)), draw(st.integers(-1, 2)))
                                    for _ in range(nd)),
                      base_dilation=dims(1, 2, nd, draw), window_dilation=dims(1, 2, nd, draw))
        try:
            window_output_shape("reduce_window", shape, **params)
        except TypeError:
            assume(False)
        return shape, params

    return cases()


def gather_cases():
    """Drawn ``(operand shape, index batch shape, GatherDimensionNumbers, slice sizes)``
    of a valid gather: operands of rank 1-3 with sizes in {0, 1, 2, 3, 5}, at most one
    batching dimension, 0-2 further index batch dimensions, offset dims anywhere."""
    from hypothesis import strategies as st
    from primitives.indexing import GatherDimensionNumbers

    @st.composite
    def cases(draw):
        rank = draw(st.integers(1, 3))
        shape = tuple(draw(st.sampled_from([0, 1, 2, 3, 5])) for _ in range(rank))
        dims = list(range(rank))
        nonzero = [d for d in dims if shape[d] >= 1]
        batching = sorted(draw(st.lists(st.sampled_from(nonzero), unique=True, max_size=1))) \
            if nonzero else []
        rest = [d for d in dims if d not in batching]
        start_map = draw(st.lists(st.sampled_from(rest), unique=True)) if rest else []
        collapsible = [d for d in rest if shape[d] >= 1]
        collapsed = sorted(draw(st.lists(st.sampled_from(collapsible), unique=True))) \
            if collapsible else []
        sizes = tuple(1 if d in collapsed or d in batching
                      else draw(st.integers(0, shape[d])) for d in dims)
        batch = [draw(st.sampled_from([0, 1, 2, 3])) for _ in range(draw(st.integers(0, 2)))]
        idx_batching = []
        for d in batching:
            pos = draw(st.integers(0, len(batch)))
            batch.insert(pos, shape[d])
            idx_batching = [q + (q >= pos) for q in idx_batching] + [pos]
        window = [d for d in dims if d not in collapsed and d not in batching]
        out_rank = len(window) + len(batch)
        offset = sorted(draw(st.permutations(range(out_rank)))[:len(window)])
        dn = GatherDimensionNumbers(tuple(offset), tuple(collapsed), tuple(start_map),
                                    tuple(batching), tuple(idx_batching))
        return shape, tuple(batch), dn, sizes

    return cases()
