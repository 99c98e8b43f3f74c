"""Shared test configuration: checks on, hypothesis profiles, and the JAX oracle.

Invariants: ``FX_CHECKS=1`` is set before fx is first imported, so every jaxpr
a transformation produces is type-checked and every eager result is checked
against its primitive's abstract evaluation. Hypothesis runs the "ci" profile
(small, derandomized) unless ``HYPOTHESIS_PROFILE`` names another. Tests that
need JAX take the ``jax`` fixture (or call ``require_jax()``) and skip cleanly
without it. Test directories have no ``__init__.py``: basenames are unique.
"""
from __future__ import annotations

import os
import tempfile

os.environ["FX_CHECKS"] = "1"
# compiled code goes to a cache of the test session's own (never the user's)
os.environ["FX_CACHE_DIR"] = tempfile.mkdtemp(prefix="fx-test-cache-")
os.environ.setdefault("JAX_PLATFORMS", "cpu")  # the oracle never probes for accelerators

import pytest  # noqa: E402

import fx  # noqa: E402

fx.config.update("jax_enable_checks", True)

try:
    from hypothesis import HealthCheck, settings  # noqa: E402
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    settings = None
else:
    settings.register_profile(
        "ci", max_examples=20, deadline=None, derandomize=True, print_blob=True,
        suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile(
        "dev", max_examples=200, deadline=None,
        suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def require_jax():
    """The ``jax`` module, or skip the calling test when JAX is not installed."""
    return pytest.importorskip("jax", reason="JAX (the test oracle) is not installed")


@pytest.fixture(scope="session")
def jax():
    """JAX as an oracle (float32 defaults, CPU); skips the test when JAX is missing."""
    return require_jax()


@pytest.fixture
def x64():
    """64-bit types on for the test (``fx.enable_x64()``), restored after it."""
    with fx.enable_x64():
        yield


def pytest_configure(config):
    config.addinivalue_line("markers", "report: prints a report; asserts only that its "
                            "inputs parse (fast)")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``jax`` skip cleanly when JAX cannot be imported."""
    try:
        import jax as _jax  # noqa: F401
        return
    except ImportError:
        skip = pytest.mark.skip(reason="JAX (the test oracle) is not installed")
    for item in items:
        if "jax" in item.keywords:
            item.add_marker(skip)


# ---------------------------------------------------------------------------
# A harness shared by the primitive tests (tests/primitives): each primitive is
# checked the same way, whatever its family.

import contextlib  # noqa: E402

import numpy as np  # noqa: E402

import fx.numpy as fnp  # noqa: E402

DTYPES = {"f32": np.dtype(np.float32), "f64": np.dtype(np.float64),
          "i32": np.dtype(np.int32), "u32": np.dtype(np.uint32), "i8": np.dtype(np.int8),
          "b": np.dtype(np.bool_), "c64": np.dtype(np.complex64),
          "c128": np.dtype(np.complex128)}


def _ulp_tolerance(dtype) -> float:
    """A few units in the last place of ``dtype`` (0 for exact types)."""
    if dtype.kind not in "fc":
        return 0.0
    return 8 * float(np.finfo(np.float32 if dtype.itemsize <= 4 or dtype.kind == "c" and
                                           dtype.itemsize <= 8 else np.float64).eps)


class PrimitiveHarness:
    """Checks shared by every primitive test: values, vmap, jit, abstract eval, JAX."""

    dtypes = DTYPES

    @staticmethod
    def x64_for(*dtype_names) -> contextlib.AbstractContextManager:
        """``fx.enable_x64()`` when any of the dtypes is 64-bit, else a no-op."""
        if any(np.dtype(DTYPES.get(d, d)).itemsize * (2 if np.dtype(DTYPES.get(d, d)).kind
                                                        != "c" else 1) >= 16
               for d in dtype_names):
            return fx.enable_x64()
        return contextlib.nullcontext()

    @staticmethod
    def to_fx(x):
        """A NumPy value as an fx array of the same shape and dtype."""
        host = np.asarray(x)
        out = fnp.asarray(host)
        if out.shape != host.shape:  # (guards against asarray changing rank-0 shapes)
            out = fnp.reshape(out, host.shape)
        assert out.dtype == host.dtype, (out.dtype, host.dtype)
        return out

    @staticmethod
    def assert_same(actual, expected, rtol=0.0, atol=0.0, err_msg="", check_signed_zeros=False):
        """Equal shape and dtype, values close (NaNs in the same places)."""
        a, e = np.asarray(actual), np.asarray(expected)
        assert a.shape == e.shape, f"{err_msg}: shape {a.shape} != expected {e.shape}"
        assert a.dtype == e.dtype, f"{err_msg}: dtype {a.dtype} != expected {e.dtype}"
        if a.dtype.kind in "fc":
            np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, equal_nan=True,
                                       err_msg=err_msg)
            if check_signed_zeros and a.dtype.kind == "f":
                zeros = (a == 0) & (e == 0)
                np.testing.assert_array_equal(np.signbit(a[zeros]), np.signbit(e[zeros]),
                                              err_msg=f"{err_msg}: signs of zeros differ")
        elif a.dtype == fx.float0:
            pass
        else:
            np.testing.assert_array_equal(a, e, err_msg=err_msg)

    def check_abstract_eval(self, prim, args, params, outs=None):
        """``prim.abstract_eval`` on the avals agrees with ``prim.impl`` on the values."""
        avals = [fx.core.get_aval(np.asarray(a)) for a in args]
        expected = prim.abstract_eval(*avals, **params)
        raw = prim.impl(*[np.asarray(a) for a in args], **params)
        if not prim.multiple_results:
            expected, raw = [expected], [raw]
        assert len(expected) == len(raw)
        for e, r in zip(expected, raw):
            r = np.asarray(r)
            assert (r.shape, r.dtype) == (tuple(e.shape), e.dtype), (
                f"{prim.name}{params}: impl gives {r.dtype}{list(r.shape)}, abstract_eval "
                f"says {e.str_short()}")

    def check_jit(self, fn, args, rtol=None, atol=None):
        """``fx.jit(fn)`` agrees with eager ``fn`` (values, dtypes, weak types).

        Compiled code may reassociate sums and fuse multiply-adds (as XLA does), so by
        default floating results may differ from eager by a few ulp; integers must match.
        """
        fx_args = [self.to_fx(a) for a in args]
        eager = fn(*fx_args)
        jitted = fx.jit(fn)(*fx_args)
        eager_l = eager if isinstance(eager, (list, tuple)) else [eager]
        jitted_l = jitted if isinstance(jitted, (list, tuple)) else [jitted]
        for j, e in zip(jitted_l, eager_l):
            eps = _ulp_tolerance(np.asarray(e).dtype)
            self.assert_same(j, e, eps if rtol is None else rtol,
                             eps if atol is None else atol, "jit vs eager")
            assert getattr(j, "weak_type", False) == getattr(e, "weak_type", False), \
                "jit vs eager: weak types differ"

    def check_vmap(self, fn, args, in_axes, out_axis=0, rtol=0.0, atol=0.0, err_msg=""):
        """``fx.vmap(fn, in_axes, out_axis)`` agrees with a Python loop over the batch.

        ``args`` are NumPy arrays already holding the batch at ``in_axes`` (None for an
        unbatched operand)."""
        size = next(np.shape(a)[ax] for a, ax in zip(args, in_axes) if ax is not None)
        fx_args = [self.to_fx(a) for a in args]
        out = fx.vmap(fn, in_axes=tuple(in_axes), out_axes=out_axis)(*fx_args)
        per_example = []
        for i in range(size):
            sliced = [a if ax is None else np.take(np.asarray(a), i, axis=ax)
                      for a, ax in zip(args, in_axes)]
            per_example.append(fn(*[self.to_fx(s) for s in sliced]))
        multiple = isinstance(out, (list, tuple))
        outs = out if multiple else [out]
        if size == 0:  # no example to run: the per-example types come from eval_shape
            structs = [fx.ShapeDtypeStruct(np.delete(np.shape(a), ax) if ax is not None
                                           else np.shape(a), np.asarray(a).dtype)
                       for a, ax in zip(args, in_axes)]
            shapes = fx.eval_shape(fn, *structs)
            shapes = shapes if multiple else [shapes]
        for k, o in enumerate(outs):
            if size == 0:
                s = list(shapes[k].shape)
                s.insert(out_axis % (len(s) + 1), 0)
                expected = np.zeros(s, shapes[k].dtype)
            else:
                pieces = [np.asarray(p[k] if multiple else p) for p in per_example]
                expected = np.stack(pieces, axis=out_axis)
            self.assert_same(o, expected, rtol, atol,
                             f"{err_msg} vmap in_axes={tuple(in_axes)} out_axes={out_axis} "
                             f"output {k}")

    @staticmethod
    def jaxpr_text(jaxpr) -> str:
        """A printed jaxpr with its layout (line breaks, indentation) normalised away, so
        that names, params, types and structure are compared, not where lines wrap."""
        text = " ".join(str(jaxpr).split())
        return text.replace("[ ", "[").replace(" ]", "]")


@pytest.fixture(scope="session")
def harness():
    """The shared primitive-test harness (see ``PrimitiveHarness``)."""
    return PrimitiveHarness()
