"""Table-driven tests of the primitives in primitives/shape.py: broadcast_in_dim,
reshape, transpose, squeeze, expand_dims, iota.

Hypothesis draws an operand shape and the op's params together; every row is
checked the same way: impl vs an index-by-index NumPy reference over several
dtypes, abstract_eval vs impl, derivatives against finite differences (order 2,
forward and reverse; these ops are linear, so reverse mode runs their transpose
rules), vmap against a Python loop for every batch axis, jit against eager, and
the value and printed jaxpr against ``jax.lax`` where JAX is installed.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import primitives
from fx.test_util import check_grads
from primitives import shape as shape_module

DTYPES = ("f32", "i32", "b", "c64", "f64")
NP_DTYPES = {"f32": np.float32, "f64": np.float64, "i32": np.int32, "b": np.bool_,
             "c64": np.complex64}


def _values(rng, shape, dname):
    dtype = np.dtype(NP_DTYPES[dname])
    if dtype.kind == "b":
        return np.asarray(rng.rand(*shape) < 0.5)
    if dtype.kind == "i":
        return np.asarray(rng.randint(-9, 10, size=shape)).astype(dtype)
    v = rng.randn(*shape)
    if dtype.kind == "c":
        v = v + 1j * rng.randn(*shape)
    return np.asarray(v).astype(dtype)


def _dims(draw, n, lo=0, hi=4):
    return tuple(draw(st.integers(lo, hi)) for _ in range(n))


# -- cases: (operand shape, params) -----------------------------------------------

@st.composite
def broadcast_in_dim_case(draw):
    out_shape = _dims(draw, draw(st.integers(0, 4)), 0, 3)
    kept = sorted(draw(st.sets(st.sampled_from(range(len(out_shape))) if out_shape
                               else st.nothing(), max_size=len(out_shape))))
    operand = tuple(1 if draw(st.booleans()) else out_shape[d] for d in kept)
    return operand, {"shape": out_shape, "broadcast_dimensions": tuple(kept),
                     "sharding": None}


@st.composite
def reshape_case(draw):
    factors = _dims(draw, draw(st.integers(0, 4)), 1, 3)
    shape = tuple(draw(st.permutations(factors)))
    # regroup the same factors into a new shape
    order = list(draw(st.permutations(factors)))
    new_sizes, i = [], 0
    while i < len(order):
        take = draw(st.integers(1, len(order) - i))
        new_sizes.append(int(np.prod(order[i:i + take])))
        i += take
    if draw(st.booleans()):
        new_sizes.insert(draw(st.integers(0, len(new_sizes))), 1)
    dims = None
    if len(shape) > 1 and draw(st.booleans()):
        dims = tuple(draw(st.permutations(range(len(shape)))))
        if dims == tuple(range(len(shape))):  # the identity is spelled None, as in lax
            dims = None
    return shape, {"new_sizes": tuple(new_sizes), "dimensions": dims, "sharding": None}


@st.composite
def transpose_case(draw):
    shape = _dims(draw, draw(st.integers(0, 4)), 0, 4)
    return shape, {"permutation": tuple(draw(st.permutations(range(len(shape)))))}


@st.composite
def squeeze_case(draw):
    shape = list(_dims(draw, draw(st.integers(0, 3)), 0, 3))
    ones = draw(st.integers(1, 3))
    for _ in range(ones):
        shape.insert(draw(st.integers(0, len(shape))), 1)
    candidates = [i for i, s in enumerate(shape) if s == 1]
    dims = sorted(draw(st.sets(st.sampled_from(candidates), min_size=1)))
    return tuple(shape), {"dimensions": tuple(dims)}


@st.composite
def expand_dims_case(draw):
    shape = _dims(draw, draw(st.integers(0, 3)), 0, 3)
    n_new = draw(st.integers(1, 3))
    out_rank = len(shape) + n_new
    dims = sorted(draw(st.sets(st.sampled_from(range(out_rank)), min_size=n_new,
                               max_size=n_new)))
    return shape, {"dimensions": tuple(dims)}


@st.composite
def iota_case(draw):
    shape = _dims(draw, draw(st.integers(1, 3)), 0, 4)
    dtype = np.dtype(draw(st.sampled_from([np.int32, np.float32, np.uint32])))
    return None, {"dtype": dtype, "shape": shape,
                  "dimension": draw(st.integers(0, len(shape) - 1)), "sharding": None}


# -- references, written index by index -------------------------------------------

def _ref_broadcast_in_dim(x, shape, broadcast_dimensions, sharding):
    out = np.empty(shape, x.dtype)
    for idx in np.ndindex(*shape):
        src = tuple(0 if x.shape[i] == 1 else idx[d]
                    for i, d in enumerate(broadcast_dimensions))
        out[idx] = x[src]
    return out


def _ref_reshape(x, new_sizes, dimensions, sharding):
    if dimensions is not None:
        x = _ref_transpose(x, dimensions)
    flat = [x[idx] for idx in np.ndindex(*x.shape)]  # row-major order
    return np.array(flat, dtype=x.dtype).reshape(new_sizes)


def _ref_transpose(x, permutation):
    out = np.empty(tuple(x.shape[p] for p in permutation), x.dtype)
    for idx in np.ndindex(*out.shape):
        src = [0] * x.ndim
        for out_axis, in_axis in enumerate(permutation):
            src[in_axis] = idx[out_axis]
        out[idx] = x[tuple(src)]
    return out


def _ref_squeeze(x, dimensions):
    return x.reshape(tuple(s for i, s in enumerate(x.shape) if i not in dimensions))


def _ref_expand_dims(x, dimensions):
    shape = list(x.shape)
    for d in sorted(dimensions):
        shape.insert(d, 1)
    return x.reshape(shape)


def _ref_iota(dtype, shape, dimension, sharding):
    out = np.empty(shape, dtype)
    for idx in np.ndindex(*shape):
        out[idx] = idx[dimension]
    return out


@dataclasses.dataclass
class ShapeOp:
    name: str
    case: Callable
    ref: Callable
    jax: Callable | None
    jaxpr_matches_jax: bool = True   # JAX prints expand_dims as broadcast_in_dim

    @property
    def primitive(self):
        return primitives.registry[self.name]

    def __repr__(self):
        return self.name

    def _repr_pretty_(self, printer, cycle):
        printer.text(self.name)


OPS = [
    ShapeOp("broadcast_in_dim", broadcast_in_dim_case(), _ref_broadcast_in_dim,
            lambda lax, x, p: lax.broadcast_in_dim(x, p["shape"], p["broadcast_dimensions"])),
    ShapeOp("reshape", reshape_case(), _ref_reshape,
            lambda lax, x, p: lax.reshape(x, p["new_sizes"], p["dimensions"])),
    ShapeOp("transpose", transpose_case(), _ref_transpose,
            lambda lax, x, p: lax.transpose(x, p["permutation"])),
    ShapeOp("squeeze", squeeze_case(), _ref_squeeze,
            lambda lax, x, p: lax.squeeze(x, p["dimensions"])),
    ShapeOp("expand_dims", expand_dims_case(), _ref_expand_dims,
            lambda lax, x, p: lax.expand_dims(x, p["dimensions"]), jaxpr_matches_jax=False),
]
OPERAND_OPS = OPS
IOTA = ShapeOp("iota", iota_case(), _ref_iota,
               lambda lax, _, p: lax.broadcasted_iota(p["dtype"], p["shape"], p["dimension"]))
ALL = OPS + [IOTA]


def _bind(op, params):
    return lambda *a: op.primitive.bind(*a, **params)


def _x64(dname):
    return fx.enable_x64() if dname == "f64" else _NoX64()


class _NoX64:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# -- tests ---------------------------------------------------------------------------

def test_table_covers_every_shape_primitive():
    defined = {p.name for p in vars(shape_module).values() if isinstance(p, fx.core.Primitive)}
    covered = {op.name for op in ALL}
    assert defined - covered == set(), f"no table row for {sorted(defined - covered)}"


@pytest.mark.parametrize("op", OPERAND_OPS, ids=repr)
@given(data=st.data())
def test_impl_matches_reference(op, data, harness):
    operand_shape, params = data.draw(op.case, label="case")
    dname = data.draw(st.sampled_from(DTYPES), label="dtype")
    rng = np.random.RandomState(data.draw(st.integers(0, 2**16), label="seed"))
    with _x64(dname):
        x = _values(rng, operand_shape, dname)
        out = _bind(op, params)(harness.to_fx(x))
        harness.assert_same(out, op.ref(x, **params), err_msg=op.name)
        harness.check_abstract_eval(op.primitive, [x], params)


@given(data=st.data())
def test_iota_matches_reference(data, harness):
    _, params = data.draw(iota_case(), label="case")
    out = IOTA.primitive.bind(**params)
    harness.assert_same(out, _ref_iota(**params), err_msg="iota")
    expected = IOTA.primitive.abstract_eval(**params)
    assert (expected.shape, expected.dtype) == (np.shape(out), np.asarray(out).dtype)
    harness.assert_same(fx.jit(lambda: IOTA.primitive.bind(**params))(), out,
                        err_msg="iota jit")


@pytest.mark.parametrize("dname", ["f32", "f64"])
@pytest.mark.parametrize("op", OPERAND_OPS, ids=repr)
@settings(max_examples=max(3, settings().max_examples // 4))
@given(data=st.data())
def test_grads(op, dname, data):
    operand_shape, params = data.draw(op.case, label="case")
    rng = np.random.RandomState(data.draw(st.integers(0, 2**16), label="seed"))
    with _x64(dname):
        x = _values(rng, operand_shape, dname)
        check_grads(_bind(op, params), (x,), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("op", OPERAND_OPS, ids=repr)
@given(data=st.data())
def test_vmap_matches_loop(op, data, harness):
    operand_shape, params = data.draw(op.case, label="case")
    dname = data.draw(st.sampled_from(DTYPES[:4]), label="dtype")
    size = data.draw(st.sampled_from([1, 3]), label="batch size")
    axis = data.draw(st.integers(0, len(operand_shape)), label="in_axis")
    batched_shape = operand_shape[:axis] + (size,) + operand_shape[axis:]
    out_rank = len(op.primitive.abstract_eval(
        fx.core.ShapedArray(operand_shape, np.float32), **params).shape)
    out_axis = data.draw(st.integers(-out_rank - 1, out_rank), label="out_axis")
    rng = np.random.RandomState(data.draw(st.integers(0, 2**16), label="seed"))
    x = _values(rng, batched_shape, dname)
    harness.check_vmap(_bind(op, params), [x], [axis], out_axis, err_msg=op.name)


@pytest.mark.parametrize("op", OPERAND_OPS, ids=repr)
@given(data=st.data())
def test_jit_matches_eager(op, data, harness):
    operand_shape, params = data.draw(op.case, label="case")
    x = _values(np.random.RandomState(0), operand_shape, "f32")
    harness.check_jit(_bind(op, params), [x])


def test_linear_transpose_is_the_adjoint():
    """fx.linear_transpose of each op satisfies <T(ct), x> = <ct, op(x)>."""
    rng = np.random.RandomState(0)
    cases = [
        ("broadcast_in_dim", (3, 1), {"shape": (2, 3, 4), "broadcast_dimensions": (1, 2),
                                      "sharding": None}),
        ("reshape", (2, 3, 4), {"new_sizes": (4, 6), "dimensions": (2, 0, 1),
                                "sharding": None}),
        ("transpose", (2, 3, 4), {"permutation": (2, 0, 1)}),
        ("squeeze", (1, 3, 1), {"dimensions": (0, 2)}),
        ("expand_dims", (3,), {"dimensions": (0, 2)}),
    ]
    for name, shape, params in cases:
        prim = primitives.registry[name]
        x = rng.randn(*shape).astype(np.float32)
        y = np.asarray(prim.bind(x, **params))
        ct = rng.randn(*y.shape).astype(np.float32)
        (xt,) = fx.linear_transpose(lambda v, prim=prim, params=params: prim.bind(v, **params),
                                    x)(ct)
        np.testing.assert_allclose(np.vdot(np.asarray(xt), x), np.vdot(ct, y), rtol=1e-5,
                                   err_msg=name)


@pytest.mark.parametrize("name,shape,params", [
    ("broadcast_in_dim", (3,), {"shape": (2, 4), "broadcast_dimensions": (1,),
                                "sharding": None}),
    ("broadcast_in_dim", (2, 3), {"shape": (2, 3), "broadcast_dimensions": (1, 0),
                                  "sharding": None}),
    ("broadcast_in_dim", (2,), {"shape": (2, 3), "broadcast_dimensions": (), "sharding": None}),
    ("reshape", (2, 3), {"new_sizes": (4, 2), "dimensions": None, "sharding": None}),
    ("reshape", (2, 3), {"new_sizes": (3, 2), "dimensions": (0, 0), "sharding": None}),
    ("transpose", (2, 3), {"permutation": (0, 0)}),
    ("transpose", (2, 3), {"permutation": (1,)}),
    ("squeeze", (2, 3), {"dimensions": (0,)}),
    ("squeeze", (1, 3), {"dimensions": (2,)}),
    ("expand_dims", (2,), {"dimensions": (0, 0)}),
    ("expand_dims", (2,), {"dimensions": (3,)}),
])
def test_invalid_params_raise(name, shape, params):
    """Bad params fail in abstract evaluation, with a TypeError or ValueError."""
    prim = primitives.registry[name]
    with pytest.raises((TypeError, ValueError)):
        prim.abstract_eval(fx.core.ShapedArray(shape, np.float32), **params)
    with pytest.raises((TypeError, ValueError)):
        fx.make_jaxpr(lambda x: prim.bind(x, **params))(np.zeros(shape, np.float32))


@pytest.mark.jax
@pytest.mark.parametrize("op", ALL, ids=repr)
@given(data=st.data())
def test_against_jax(op, data, jax, harness):
    operand_shape, params = data.draw(op.case, label="case")
    if op is IOTA:
        args = []
    else:
        args = [_values(np.random.RandomState(0), operand_shape, "f32")]
    jax_fn = lambda *a: op.jax(jax.lax, a[0] if a else None, params)  # noqa: E731
    want = np.asarray(jax_fn(*args))
    fx_args = [harness.to_fx(a) for a in args]
    fx_jaxpr = fx.make_jaxpr(_bind(op, params))(*fx_args)
    got = fx.core.eval_jaxpr(fx_jaxpr.jaxpr, fx_jaxpr.consts, *fx_args)[0]
    harness.assert_same(got, want, err_msg=f"{op.name} vs jax.lax")
    jax_jaxpr = jax.make_jaxpr(jax_fn)(*args)
    # (lax's wrappers skip the primitive for no-op params; then there is nothing to compare)
    if op.jaxpr_matches_jax and len(jax_jaxpr.eqns) == 1:
        assert harness.jaxpr_text(fx_jaxpr) == harness.jaxpr_text(jax_jaxpr), (
            f"{op.name}: printed jaxpr differs from JAX's")
