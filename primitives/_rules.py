"""Helpers shared by the primitive families: registration, dtype checks, the
arithmetic that differentiation rules are written in, and batching utilities.

Invariants: every helper here binds primitives (so it works under any trace)
and never builds an array of zeros to stand for "no derivative": it returns
``Zero``. Python scalars given to the arithmetic helpers take the dtype of the
other operand.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

import numpy as np

from fx import core, dtypes
from fx.core import Primitive, ShapedArray, Zero, get_aval

registry: dict[str, Primitive] = {}


def register(primitive: Primitive) -> Primitive:
    if primitive.name in registry:
        raise ValueError(f"primitive {primitive.name} registered twice")
    registry[primitive.name] = primitive
    return primitive


def new_primitive(name: str, **kw) -> Primitive:
    return register(Primitive(name, **kw))


class LazyModule:
    """A module imported on first attribute access (SciPy's special functions, LAPACK and
    FFT serve eager impls only: importing them with fx would cost ~0.2 s per process)."""

    __slots__ = ("_name", "_module")

    def __init__(self, name: str):
        self._name = name
        self._module = None

    def __getattr__(self, attr):
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)


# ---------------------------------------------------------------------------
# dtype classes and checks

FLOAT, COMPLEX, SINT, UINT, BOOL = "f", "c", "i", "u", "b"
INEXACT = FLOAT + COMPLEX
INT = SINT + UINT
NUMERIC = INEXACT + INT
ANY = NUMERIC + BOOL
_KIND_NAMES = {"f": "floating", "c": "complexfloating", "i": "signedinteger",
               "u": "unsignedinteger", "b": "bool"}


def kind_of(dtype: np.dtype) -> str:
    kind = dtype.kind
    if kind == "V" and dtype == dtypes.bfloat16:  # ml_dtypes' bfloat16 has kind "V"
        return "f"
    return kind


def check_dtype(name: str, aval: ShapedArray, kinds: str, what: str = "operand") -> None:
    if kind_of(aval.dtype) not in kinds:
        accepted = ", ".join(_KIND_NAMES[k] for k in kinds)
        raise TypeError(f"{name} does not accept dtype {aval.dtype.name} for its {what}. "
                        f"Accepted dtypes are subtypes of {accepted}.")


def real_dtype(dtype: np.dtype) -> np.dtype:
    if dtype == dtypes.complex64:
        return dtypes.float32
    if dtype == dtypes.complex128:
        return dtypes.float64
    return dtype


def complex_dtype(dtype: np.dtype) -> np.dtype:
    if dtype.kind == "c":
        return dtype
    return dtypes.complex128 if dtype == dtypes.float64 else dtypes.complex64


def aval_of(x) -> ShapedArray:
    return get_aval(x)


def shape_of(x) -> tuple:
    return get_aval(x).shape


def dtype_of(x) -> np.dtype:
    return get_aval(x).dtype


def as_scalar(value, like_dtype) -> Any:
    """A NumPy scalar of ``like_dtype`` (so it prints as a literal)."""
    return np.array(value, dtype=like_dtype)[()]


def weak_scalar(value, like_dtype) -> Any:
    """A Python scalar as a weakly typed 0-d array of ``like_dtype`` (a literal when
    traced): as in JAX's rules, it leaves the other operand's weak type alone, so the
    tangent of a weakly typed primal stays weak."""
    return core.record_python_scalar(
        core._array_type[0](np.array(value, dtype=like_dtype), True), value)


def _coerce(x, y):
    """Give Python scalars the dtype of the other operand (weakly typed)."""
    py = (int, float, complex, bool)
    if isinstance(x, py) and not isinstance(y, py):
        x = weak_scalar(x, dtype_of(y))
    elif isinstance(y, py) and not isinstance(x, py):
        y = weak_scalar(y, dtype_of(x))
    return x, y


# ---------------------------------------------------------------------------
# arithmetic for rules (bound lazily to the elementwise primitives)

def _p(name: str) -> Primitive:
    return registry[name]


def add(x, y):
    return _p("add").bind(*_coerce(x, y))


def sub(x, y):
    return _p("sub").bind(*_coerce(x, y))


def mul(x, y):
    return _p("mul").bind(*_coerce(x, y))


def div(x, y):
    return _p("div").bind(*_coerce(x, y))


def neg(x):
    return _p("neg").bind(x)


def select_n(which, *cases):
    return _p("select_n").bind(which, *cases)


def convert(x, dtype, weak_type: bool = False):
    dtype = np.dtype(dtype)
    aval = get_aval(x)
    if aval.dtype == dtype and aval.weak_type == weak_type:
        return x
    return _p("convert_element_type").bind(x, new_dtype=dtype, weak_type=weak_type)


def broadcast_in_dim(x, shape, broadcast_dimensions):
    shape, dims = tuple(shape), tuple(broadcast_dimensions)
    if shape_of(x) == shape and dims == tuple(range(len(shape))):
        return x
    return _p("broadcast_in_dim").bind(x, shape=shape, broadcast_dimensions=dims,
                                       sharding=None)


def broadcast_to(x, shape):
    """Broadcast ``x`` (lower rank or size-1 dims) to ``shape``, NumPy style."""
    xs = shape_of(x)
    if xs == tuple(shape):
        return x
    lead = len(shape) - len(xs)
    squeeze_dims = tuple(i for i, d in enumerate(xs) if d == 1 and shape[lead + i] != 1)
    if squeeze_dims:
        x = reshape(x, tuple(d for i, d in enumerate(xs) if i not in squeeze_dims))
    dims = tuple(lead + i for i in range(len(xs)) if i not in squeeze_dims)
    return broadcast_in_dim(x, shape, dims)


def reshape(x, shape):
    shape = tuple(shape)
    if shape_of(x) == shape:
        return x
    return _p("reshape").bind(x, new_sizes=shape, dimensions=None, sharding=None)


def transpose(x, permutation):
    permutation = tuple(int(p) for p in permutation)
    if permutation == tuple(range(len(permutation))):
        return x
    return _p("transpose").bind(x, permutation=permutation)


def reduce_sum(x, axes):
    axes = tuple(axes)
    if not axes:
        return x
    return _p("reduce_sum").bind(x, axes=axes, out_sharding=None)


def full(shape, value, dtype):
    """``value`` broadcast to ``shape`` (a NumPy scalar when ``shape`` is ())."""
    return broadcast_in_dim(as_scalar(value, dtype), tuple(shape), ())


def zeros(aval: ShapedArray):
    """Materialise a zero of type ``aval`` (only where an array is really needed)."""
    if aval.dtype == dtypes.float0:
        return core.wrap_eager(np.zeros(aval.shape, dtypes.float0))
    return full(aval.shape, 0, aval.dtype)


def instantiate(t):
    return zeros(t.aval) if type(t) is Zero else t


def add_tangents(x, y):
    if type(x) is Zero:
        return y
    if type(y) is Zero:
        return x
    return _p("add_any").bind(x, y)


def unbroadcast(ct, aval: ShapedArray):
    """Sum ``ct`` down to ``aval``'s shape: over every dim when the operand was rank-0,
    else over the dims where the operand has size 1 and ``ct`` not (then reshaped back
    to the operand's shape, as JAX prints it)."""
    if type(ct) is Zero:
        return Zero(aval.to_tangent_aval())
    ct_shape = shape_of(ct)
    if ct_shape != aval.shape:
        if not aval.shape:
            ct = reduce_sum(ct, range(len(ct_shape)))
        else:
            dims = [i for i, (c, a) in enumerate(zip(ct_shape, aval.shape)) if c != a]
            ct = reshape(reduce_sum(ct, dims), aval.shape)
    if dtype_of(ct) != aval.dtype and aval.dtype != dtypes.float0:
        ct = convert(ct, aval.dtype)
    return ct


def operand_is_weak(args) -> bool:
    """Weak-type rule of primitives whose result is weak exactly when the operand is."""
    return core._is_weak(args[0])


def linear_jvp(primitive: Primitive) -> Callable:
    """The jvp rule of a primitive linear in its single operand: apply it to the tangent."""

    def jvp(primals, tangents, **params):
        out = primitive.bind(primals[0], **params)
        t = tangents[0]
        return out, (t if type(t) is Zero else primitive.bind(t, **params))

    return jvp


# ---------------------------------------------------------------------------
# batching helpers

def moveaxis(x, src: int, dst: int):
    if src == dst:
        return x
    nd = len(shape_of(x))
    perm = [i for i in range(nd) if i != src]
    perm.insert(dst, src)
    return transpose(x, perm)


def bdim_to_front(x, dim, size: int):
    """``x`` with its batch dimension first; unbatched ``x`` is broadcast."""
    if dim is None:
        s = shape_of(x)
        return broadcast_in_dim(x, (size,) + s, tuple(range(1, len(s) + 1)))
    return moveaxis(x, dim, 0)


def batch_size(args, dims) -> int:
    for a, d in zip(args, dims):
        if d is not None:
            return shape_of(a)[d]
    raise ValueError("no batched argument")


def batch_dims_in_place(args, dims) -> tuple[list, int]:
    """Operands batched at one common dim, left where the first batched operand has it:
    the other batched ones are moved there and unbatched ones broadcast with the batch
    dim inserted there (as JAX's rules for sort, concatenate, pad, ...). Returns the
    operands and that dim."""
    size = batch_size(args, dims)
    bdim = next(d for d in dims if d is not None)
    out = []
    for a, d in zip(args, dims):
        if d is None:
            s = shape_of(a)
            a = broadcast_in_dim(a, s[:bdim] + (size,) + s[bdim:],
                                 tuple(i if i < bdim else i + 1 for i in range(len(s))))
        elif d != bdim:
            a = moveaxis(a, d, bdim)
        out.append(a)
    return out, bdim


def broadcasting_batcher(primitive: Primitive, size1: bool = False) -> Callable:
    """Batching rule for n-ary elementwise primitives whose operands may be rank-0.

    When every batched operand has the same shape and batch dim and the others are
    rank-0, the primitive applies as is. Otherwise batch dims move to the front and,
    with ``size1`` (primitives that broadcast size-1 dims themselves, as JAX 0.10's
    elementwise ones), an unbatched operand gets a size-1 leading dim and a batched one
    of lower rank trailing size-1 dims, as JAX's rule; without it, operands are
    broadcast to the full batched shape."""

    def batch(args, dims, **params):
        shapes = [shape_of(a) for a in args]
        first_shape, first_dim = next((s, d) for s, d in zip(shapes, dims) if d is not None)
        if all(s == first_shape and d == first_dim for s, d in zip(shapes, dims) if s):
            return primitive.bind(*args, **params), first_dim
        if size1:
            return primitive.bind(*_size1_batched(args, shapes, dims), **params), 0
        size = first_shape[first_dim]
        example = ()
        for s, d in zip(shapes, dims):
            per_example = s if d is None else s[:d] + s[d + 1:]
            if per_example:
                example = per_example
                break
        new_args = []
        for a, s, d in zip(args, shapes, dims):
            if d is None:
                if s:
                    a = broadcast_in_dim(a, (size,) + s, tuple(range(1, len(s) + 1)))
            else:
                a = moveaxis(a, d, 0)
                if len(s) - 1 < len(example):
                    a = broadcast_in_dim(a, (size,) + example, (0,))
            new_args.append(a)
        return primitive.bind(*new_args, **params), 0

    return batch


def _size1_batched(args, shapes, dims):
    """Operands with the batch dim first, rank-aligned for size-1 broadcasting."""
    moved = []
    for a, s, d in zip(args, shapes, dims):
        if not s:
            moved.append(a)
        elif d is None:
            # JAX expands dims through NumPy, so jaxprs show np.int64 broadcast dims
            dims1 = tuple(np.arange(1, len(s) + 1, dtype=np.int64))
            moved.append(broadcast_in_dim(a, (1,) + s, dims1))
        else:
            moved.append(moveaxis(a, d, 0))
    ndim = max(len(shape_of(a)) for a in moved)
    out = []
    for a, d in zip(moved, dims):
        s = shape_of(a)
        if d is not None and len(s) < ndim:
            a = broadcast_in_dim(a, s + (1,) * (ndim - len(s)), tuple(range(len(s))))
        out.append(a)
    return out


def vectorized_batcher(primitive: Primitive) -> Callable:
    """Batching rule for unary elementwise primitives: the batch dim passes through."""

    def batch(args, dims, **params):
        (x,), (d,) = args, dims
        return primitive.bind(x, **params), d

    return batch
