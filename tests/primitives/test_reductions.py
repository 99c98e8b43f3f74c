"""Table-driven tests of the primitives in primitives/reductions.py: reduce_sum,
reduce_max, reduce_min, reduce_prod, reduce_and, reduce_or, reduce_xor, argmax, argmin.

Hypothesis draws shapes (including zero-size dimensions), axes and dtypes; each
row is checked against a reference that folds the reduced elements one by one
from XLA's identity (so empty reductions are covered), abstract_eval against
impl, derivatives against finite differences (order 2, forward and reverse),
vmap against a Python loop for every batch axis, jit against eager, and values
and printed jaxprs against ``jax.lax`` where JAX is installed.
"""
from __future__ import annotations

import dataclasses
import functools
import operator
from typing import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import primitives
from fx.test_util import check_grads
from primitives import reductions as reductions_module

NP = {"f32": np.float32, "f64": np.float64, "i32": np.int32, "u32": np.uint32, "b": np.bool_,
      "c64": np.complex64}


def _values(rng, shape, dname, distinct=False):
    dtype = np.dtype(NP[dname])
    if dtype.kind == "b":
        return np.asarray(rng.rand(*shape) < 0.5)
    if dtype.kind in "iu":
        lo = 0 if dtype.kind == "u" else -6
        return np.asarray(rng.randint(lo, 7, size=shape)).astype(dtype)
    if distinct:  # no ties (max/min derivatives), magnitudes near 1 (prod)
        v = rng.permutation(max(1, int(np.prod(shape))))[:int(np.prod(shape))]
        v = (0.5 + v / max(1, v.size)) * np.where(rng.rand(v.size) < 0.5, -1, 1)
        v = v.reshape(shape)
    else:
        v = rng.uniform(-2, 2, size=shape)
    if dtype.kind == "c":
        v = v + 1j * rng.uniform(-2, 2, size=shape)
    return np.asarray(v).astype(dtype)


def _fold(x, axes, fn, identity):
    """Reduce ``x`` over ``axes`` by folding ``fn`` from ``identity``, element by element."""
    kept = [i for i in range(x.ndim) if i not in axes]
    out = np.empty(tuple(x.shape[i] for i in kept), x.dtype)
    for out_idx in np.ndindex(*out.shape):
        acc = identity
        for red_idx in np.ndindex(*[x.shape[a] for a in axes]):
            full = [0] * x.ndim
            for i, v in zip(kept, out_idx):
                full[i] = v
            for a, v in zip(axes, red_idx):
                full[a] = v
            acc = fn(acc, x[tuple(full)])
        out[out_idx] = acc
    return out


def _nan_max(a, b):
    return a if np.isnan(a) else b if np.isnan(b) else max(a, b)


def _nan_min(a, b):
    return a if np.isnan(a) else b if np.isnan(b) else min(a, b)


def _lowest(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return False
    return np.iinfo(dtype).min if dtype.kind in "iu" else -np.inf


def _highest(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return True
    return np.iinfo(dtype).max if dtype.kind in "iu" else np.inf


def _wide(x):
    """Accumulate in a wide type: float64/complex128, or 64-bit ints (wrapping back)."""
    kind = x.dtype.kind
    return x.astype({"f": np.float64, "c": np.complex128, "i": np.int64,
                     "u": np.uint64}.get(kind, x.dtype))


def _ref_sum(x, axes):
    return _fold(_wide(x), axes, operator.add, 0).astype(x.dtype)


def _ref_prod(x, axes):
    with np.errstate(over="ignore"):
        return _fold(_wide(x), axes, operator.mul, 1).astype(x.dtype)


def _ref_max(x, axes):
    if x.dtype.kind == "f":
        return _fold(x, axes, _nan_max, _lowest(x.dtype))
    return _fold(x, axes, max, _lowest(x.dtype))


def _ref_min(x, axes):
    if x.dtype.kind == "f":
        return _fold(x, axes, _nan_min, _highest(x.dtype))
    return _fold(x, axes, min, _highest(x.dtype))


def _ref_bitwise(op, bool_op, identity):
    def ref(x, axes):
        if x.dtype.kind == "b":
            return _fold(x, axes, bool_op, identity)
        return _fold(x, axes, lambda a, b: x.dtype.type(op(a, b)),
                     x.dtype.type(-1 if identity else 0) if x.dtype.kind == "i"
                     else (np.iinfo(x.dtype).max if identity else 0))
    return ref


def _ref_arg(better):
    """Index of the first extremum along the one axis; the first NaN wins."""
    def ref(x, axes):
        (axis,) = axes
        moved = np.moveaxis(x, axis, -1)
        out = np.empty(moved.shape[:-1], np.int32)
        for idx in np.ndindex(*out.shape):
            row = moved[idx]
            best = 0
            for j in range(1, len(row)):
                if x.dtype.kind == "f" and np.isnan(row[best]):
                    break
                if (x.dtype.kind == "f" and np.isnan(row[j])) or better(row[j], row[best]):
                    best = j
            out[idx] = best
        return out
    return ref


@dataclasses.dataclass
class Reduction:
    name: str
    dtypes: tuple
    ref: Callable
    grad: bool = False
    single_axis: bool = False    # argmax/argmin: exactly one non-empty axis
    jax: Callable | None = None

    @property
    def primitive(self):
        return primitives.registry[self.name]

    def params(self, axes):
        if self.single_axis:
            return {"axes": tuple(axes), "index_dtype": np.dtype(np.int32)}
        return {"axes": tuple(axes), "out_sharding": None}

    def __repr__(self):
        return self.name

    def _repr_pretty_(self, printer, cycle):
        printer.text(self.name)


OPS = [
    Reduction("reduce_sum", ("f32", "i32", "u32", "c64", "f64"), _ref_sum, grad=True,
              jax=lambda lax, x, axes: lax.reduce_sum(x, axes)),
    Reduction("reduce_max", ("f32", "i32", "u32", "b", "f64"), _ref_max, grad=True,
              jax=lambda lax, x, axes: lax.reduce_max(x, axes)),
    Reduction("reduce_min", ("f32", "i32", "u32", "b", "f64"), _ref_min, grad=True,
              jax=lambda lax, x, axes: lax.reduce_min(x, axes)),
    Reduction("reduce_prod", ("f32", "i32", "c64", "f64"), _ref_prod, grad=True,
              jax=lambda lax, x, axes: lax.reduce_prod(x, axes)),
    Reduction("reduce_and", ("i32", "u32", "b"),
              _ref_bitwise(operator.and_, lambda a, b: bool(a and b), True),
              jax=lambda lax, x, axes: lax.reduce_and(x, axes)),
    Reduction("reduce_or", ("i32", "u32", "b"),
              _ref_bitwise(operator.or_, lambda a, b: bool(a or b), False),
              jax=lambda lax, x, axes: lax.reduce_or(x, axes)),
    Reduction("reduce_xor", ("i32", "u32", "b"),
              _ref_bitwise(operator.xor, lambda a, b: bool(a) != bool(b), False),
              jax=lambda lax, x, axes: lax.reduce_xor(x, axes)),
    Reduction("argmax", ("f32", "i32", "b", "f64"), _ref_arg(operator.gt), single_axis=True,
              jax=lambda lax, x, axes: lax.argmax(x, axes[0], np.int32)),
    Reduction("argmin", ("f32", "i32", "b", "f64"), _ref_arg(operator.lt), single_axis=True,
              jax=lambda lax, x, axes: lax.argmin(x, axes[0], np.int32)),
]


@st.composite
def case(draw, op, allow_empty=True):
    """(shape, axes) for ``op``: rank 0-3, sizes 0-3, sorted distinct axes."""
    rank = draw(st.integers(1 if op.single_axis else 0, 3))
    shape = tuple(draw(st.integers(0 if allow_empty else 1, 3)) for _ in range(rank))
    if op.single_axis:
        axis = draw(st.integers(0, rank - 1))
        shape = shape[:axis] + (max(1, shape[axis]),) + shape[axis + 1:]
        return shape, (axis,)
    axes = sorted(draw(st.sets(st.integers(0, rank - 1), max_size=rank))) if rank else []
    return shape, tuple(axes)


def _bind(op, axes):
    params = op.params(axes)
    return lambda x: op.primitive.bind(x, **params)


def _x64(dname):
    return fx.enable_x64() if dname == "f64" else _NoX64()


class _NoX64:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


PER_OP = settings(max_examples=max(4, settings().max_examples // 2))


def test_table_covers_every_reduction_primitive():
    defined = {p.name for p in vars(reductions_module).values()
               if isinstance(p, fx.core.Primitive)}
    covered = {op.name for op in OPS}
    assert defined - covered == set(), f"no table row for {sorted(defined - covered)}"


@pytest.mark.parametrize("op", OPS, ids=repr)
@PER_OP
@given(data=st.data())
def test_impl_matches_reference(op, data, harness):
    shape, axes = data.draw(case(op), label="case")
    dname = data.draw(st.sampled_from(op.dtypes), label="dtype")
    rng = np.random.RandomState(data.draw(st.integers(0, 2**16), label="seed"))
    with _x64(dname):
        x = _values(rng, shape, dname)
        if dname in ("f32", "f64") and x.size and data.draw(st.booleans(), label="specials"):
            flat = x.reshape(-1)
            flat[rng.randint(flat.size)] = rng.choice([np.nan, np.inf, -np.inf, -0.0])
        out = _bind(op, axes)(harness.to_fx(x))
        tol = {"rtol": 1e-5, "atol": 1e-5} if dname in ("f32", "c64") else \
            {"rtol": 1e-12, "atol": 1e-12}
        harness.assert_same(out, op.ref(x, axes), err_msg=f"{op.name} axes={axes}", **tol)
        harness.check_abstract_eval(op.primitive, [x], op.params(axes))


GRAD_CASES = [(op, d) for op in OPS if op.grad for d in ("f32", "f64")] + \
    [(op, "f32") for op in OPS if op.single_axis]


@pytest.mark.parametrize("op,dname", GRAD_CASES, ids=[f"{o.name}-{d}" for o, d in GRAD_CASES])
@settings(max_examples=max(3, settings().max_examples // 4))
@given(data=st.data())
def test_grads(op, dname, data):
    shape, axes = data.draw(case(op, allow_empty=False), label="case")
    rng = np.random.RandomState(data.draw(st.integers(0, 2**16), label="seed"))
    with _x64(dname):
        x = _values(rng, shape, dname, distinct=True)
        check_grads(_bind(op, axes), (x,), order=2, modes=("fwd", "rev"))


def test_max_jvp_splits_ties_evenly():
    """At ties the tangent of reduce_max is the mean over the maximal elements (as JAX)."""
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], np.float32)
    t = np.array([[5.0, 1.0, 2.0], [4.0, 7.0, 0.0]], np.float32)
    for name in ("reduce_max", "reduce_min"):
        prim = primitives.registry[name]
        _, tangent = fx.jvp(lambda v, prim=prim: prim.bind(v, axes=(1,), out_sharding=None),
                            (x,), (t,))
        expected = [1.5, 2.0] if name == "reduce_max" else [5.0, 7.0]
        np.testing.assert_allclose(np.asarray(tangent), expected, err_msg=name)


@pytest.mark.parametrize("op", OPS, ids=repr)
@PER_OP
@given(data=st.data())
def test_vmap_matches_loop(op, data, harness):
    shape, axes = data.draw(case(op), label="case")
    dname = data.draw(st.sampled_from(op.dtypes[:3]), label="dtype")
    size = data.draw(st.sampled_from([1, 3]), label="batch size")
    in_axis = data.draw(st.integers(0, len(shape)), label="in_axis")
    out_rank = len(shape) - len(axes)
    out_axis = data.draw(st.integers(-out_rank - 1, out_rank), label="out_axis")
    rng = np.random.RandomState(data.draw(st.integers(0, 2**16), label="seed"))
    x = _values(rng, shape[:in_axis] + (size,) + shape[in_axis:], dname)
    harness.check_vmap(_bind(op, axes), [x], [in_axis], out_axis, err_msg=op.name,
                       rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("op", OPS, ids=repr)
def test_jit_matches_eager(op, harness):
    rng = np.random.RandomState(0)
    for axes in ([(1,)] if op.single_axis else [(), (0,), (1, 2), (0, 1, 2)]):
        x = _values(rng, (2, 3, 4), op.dtypes[0])
        harness.check_jit(_bind(op, axes), [x], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("op", OPS, ids=repr)
def test_invalid_axes_raise(op):
    aval = fx.core.ShapedArray((2, 3), np.dtype(NP[op.dtypes[0]]))
    bad = [(2,), (-1,)] + ([(0, 1)] if op.single_axis else [(0, 0)])
    for axes in bad:
        with pytest.raises((TypeError, ValueError)):
            op.primitive.abstract_eval(aval, **op.params(axes))
    if op.single_axis:
        with pytest.raises(ValueError):  # argmax/argmin of an empty axis (as JAX)
            op.primitive.abstract_eval(fx.core.ShapedArray((2, 0), np.float32),
                                       **op.params((1,)))


@pytest.mark.jax
@pytest.mark.parametrize("op", OPS, ids=repr)
@settings(max_examples=max(3, settings().max_examples // 4))
@given(data=st.data())
def test_against_jax(op, data, jax, harness):
    shape, axes = data.draw(case(op), label="case")
    dname = op.dtypes[0]
    rng = np.random.RandomState(data.draw(st.integers(0, 2**16), label="seed"))
    x = _values(rng, shape, dname)
    if dname == "f32" and x.size and data.draw(st.booleans(), label="nan"):
        x.reshape(-1)[rng.randint(x.size)] = np.nan
    jax_fn = functools.partial(op.jax, jax.lax, axes=axes)
    want = np.asarray(jax_fn(x))
    fx_x = harness.to_fx(x)
    fx_jaxpr = fx.make_jaxpr(_bind(op, axes))(fx_x)
    got = fx.core.eval_jaxpr(fx_jaxpr.jaxpr, fx_jaxpr.consts, fx_x)[0]
    harness.assert_same(got, want, rtol=1e-5, atol=1e-5, err_msg=f"{op.name} vs jax.lax")
    jax_jaxpr = jax.make_jaxpr(jax_fn)(x)
    if len(jax_jaxpr.eqns) == 1:  # (lax skips reductions over no axes)
        assert harness.jaxpr_text(fx_jaxpr) == harness.jaxpr_text(jax_jaxpr), (
            f"{op.name}: printed jaxpr differs from JAX's")
