"""Norms, condition numbers, tensor solves, chains of products and the array-API
names of ``fx.numpy.linalg``, with the argument checks the whole module shares.

Invariants: functions here that need a factorization (``norm`` with ``ord`` 2,
-2 or "nuc", ``cond``, ``tensorinv``, ``tensorsolve``) reach ``fx.numpy.linalg``
at call time, so this module can be imported first.
"""
from __future__ import annotations

import math
import operator
from typing import Sequence

import numpy as np

import fx.numpy as fnp
from fx import core, dtypes
from fx.core import get_aval
from fx.numpy._jitted import library_jit
from primitives import linalg_decomp as _D


def _la():
    from fx.numpy import linalg
    return linalg


# ---------------------------------------------------------------------------
# argument handling


def _check_arraylike(name: str, *xs) -> None:
    for i, x in enumerate(xs):
        if isinstance(x, (list, tuple)):
            raise TypeError(f"{name}: argument {i} is a {type(x).__name__}; fx.numpy.linalg "
                            "functions take arrays (convert with fx.numpy.asarray)")
        if isinstance(x, str) or x is None:
            raise TypeError(f"{name}: argument {i} must be an array, got {x!r}")


def _inexact(name: str, *xs):
    """The arguments as fx arrays promoted to a common inexact dtype."""
    _check_arraylike(name, *xs)
    out = fnp._core._promote_inexact(*xs)
    return out[0] if len(out) == 1 else out


def _square(name: str, a, error=ValueError) -> None:
    shape = get_aval(a).shape
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise error(f"{name}: argument must be a batch of square matrices with shape "
                    f"[..., n, n], got shape {shape}")


def _matrices(name: str, a) -> None:
    shape = get_aval(a).shape
    if len(shape) < 2:
        raise ValueError(f"{name}: argument must be a batch of matrices with shape "
                         f"[..., m, n] (at least two dimensions), got shape {shape}")


def _H(x):
    return _D.adjoint(x)


def _eye_like(a):
    n = get_aval(a).shape[-1]
    batch = get_aval(a).shape[:-2]
    return fnp.broadcast_to(fnp.eye(n, dtype=get_aval(a).dtype), batch + (n, n))


def _diag(x):
    return fnp.diagonal(x, axis1=-2, axis2=-1)


def _trace(x):
    return fnp.sum(_diag(x), axis=-1)


def _static_int(name: str, what: str, value) -> int:
    try:
        return operator.index(core.concrete_or_error(value, what, "pass a Python int"))
    except TypeError:
        raise TypeError(f"{name}: {what} must be an integer, got {value!r}") from None


# ---------------------------------------------------------------------------
# norms and condition numbers


def _norm_axes(name, axis, ndim) -> tuple:
    axes = axis if isinstance(axis, tuple) else (axis,)
    out = []
    for ax in axes:
        ax = _static_int(name, "axis", ax)
        if not -ndim <= ax < ndim:
            raise ValueError(f"{name}: axis {ax} is out of bounds for an array of rank {ndim}")
        out.append(ax % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: duplicate axes in {axis!r}")
    return tuple(out)


def _sum_squares(x, axis, keepdims):
    return fnp.sqrt(fnp.sum(fnp.real(x * fnp.conj(x)), axis=axis, keepdims=keepdims))


def vector_norm(x, /, *, axis=None, keepdims: bool = False, ord=2):
    """The vector ``ord``-norm of ``x`` over ``axis`` (all axes when None).

    ``ord`` may be any real number, ``inf`` or ``-inf`` (0 counts nonzeros).

    Example:
      >>> vector_norm(fx.numpy.array([3., 4.]))   # 5.
    """
    x = _inexact("linalg.vector_norm", x)
    if axis is not None:
        axis = _norm_axes("linalg.vector_norm", axis, x.ndim)
    if isinstance(ord, str):
        hint = " (use fx.numpy.inf)" if ord in ("inf", "-inf") else ""
        raise ValueError(f"linalg.vector_norm: invalid order {ord!r} for a vector norm{hint}")
    if ord is None or ord == 2:
        return _sum_squares(x, axis, keepdims)
    if ord == np.inf:
        return fnp.max(fnp.abs(x), axis=axis, keepdims=keepdims, initial=0)
    if ord == -np.inf:
        return fnp.min(fnp.abs(x), axis=axis, keepdims=keepdims)
    if ord == 0:
        return fnp.sum(x != 0, axis=axis, keepdims=keepdims).astype(
            dtypes.finfo(x.dtype).dtype)
    if ord == 1:
        return fnp.sum(fnp.abs(x), axis=axis, keepdims=keepdims)
    abs_x = fnp.abs(x)
    p = np.asarray(ord, abs_x.dtype)[()]
    return fnp.power(fnp.sum(abs_x ** p, axis=axis, keepdims=keepdims),
                     np.asarray(1.0 / p, abs_x.dtype)[()])


def _matrix_norm(x, ord, row, col, keepdims):
    if ord is None or ord in ("f", "fro"):
        return _sum_squares(x, (row, col), keepdims)
    if ord in (1, -1, np.inf, -np.inf):
        summed, other = (row, col) if ord in (1, -1) else (col, row)
        sums = fnp.sum(fnp.abs(x), axis=summed, keepdims=keepdims)
        if not keepdims and other > summed:
            other -= 1
        if ord in (1, np.inf):
            return fnp.max(sums, axis=other, keepdims=keepdims, initial=0)
        return fnp.min(sums, axis=other, keepdims=keepdims)
    if ord in ("nuc", 2, -2):
        s = _la().svd(fnp.moveaxis(x, (row, col), (-2, -1)), compute_uv=False)
        if ord == 2:
            y = fnp.max(s, axis=-1, initial=0)
        elif ord == -2:
            y = fnp.min(s, axis=-1)
        else:
            y = fnp.sum(s, axis=-1)
        return fnp.expand_dims(y, (row, col)) if keepdims else y
    raise ValueError(f"linalg.norm: invalid order {ord!r} for a matrix norm")


def norm(x, ord=None, axis=None, keepdims: bool = False):
    """Vector or matrix norm, as ``numpy.linalg.norm`` (JAX's: traced, a
    ``jit[name=norm]`` equation with ``ord``, ``axis`` and ``keepdims`` static).

    Args:
      x: the array.
      ord: the order: for vectors any real, ``inf``, ``-inf`` (default 2); for
        matrices ``"fro"`` (default), ``"nuc"``, ``1``, ``-1``, ``2``, ``-2``, ``inf``,
        ``-inf``.
      axis: one axis (vector norm), two axes (matrix norm) or None (all axes: the
        2-norm of the flattened array when ``ord`` is None, else ``x`` must be 1-d
        or 2-d).
      keepdims: keep the reduced axes with size one.

    Returns:
      The norms (a real dtype).

    Example:
      >>> norm(fx.numpy.array([[1., 2.], [3., 4.]]), ord=1)   # 6.
    """
    _check_arraylike("linalg.norm", x)
    if isinstance(axis, list):
        axis = tuple(axis)
    return _norm_impl(x, ord=ord, axis=axis, keepdims=keepdims)


@library_jit(static_argnames=("ord", "axis", "keepdims"), name="norm")
def _norm_impl(x, ord=None, axis=None, keepdims: bool = False):
    x = _inexact("linalg.norm", x)
    ndim = x.ndim
    if axis is None:
        if ord is None:
            return _sum_squares(x, None, keepdims)
        axis = tuple(range(ndim))
    axes = _norm_axes("linalg.norm", axis, ndim)
    if len(axes) == 1:
        return vector_norm(x, ord=2 if ord is None else ord, axis=axes, keepdims=keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes[0], axes[1], keepdims)
    raise ValueError(f"linalg.norm: improper number of axes {axis!r}: pass one axis for a "
                     "vector norm or two for a matrix norm")


def matrix_norm(x, /, *, keepdims: bool = False, ord="fro"):
    """The matrix norm of the last two axes of ``x`` (see ``norm``).

    Example:
      >>> matrix_norm(fx.numpy.eye(2))   # sqrt(2)
    """
    x = _inexact("linalg.matrix_norm", x)
    _matrices("linalg.matrix_norm", x)
    return norm(x, ord=ord, keepdims=keepdims, axis=(-2, -1))


@library_jit(static_argnames=("p",))
def cond(x, p=None):
    """Condition number of ``x [..., m, n]`` in the ``p``-norm (default 2; traced, a
    ``jit[name=cond]`` equation, as JAX's).

    Returns ``inf`` for singular matrices.

    Example:
      >>> cond(fx.numpy.array([[1., 0.], [0., 2.]]))   # 2.
    """
    x = _inexact("linalg.cond", x)
    _matrices("linalg.cond", x)
    if x.shape[-1] == 0 or x.shape[-2] == 0:
        raise ValueError(f"linalg.cond: input must not be empty, got shape {x.shape}")
    if p is None or p == 2:
        s = _la().svdvals(x)
        return s[..., 0] / s[..., -1]
    if p == -2:
        s = _la().svdvals(x)
        r = s[..., -1] / s[..., 0]
    else:
        _square("linalg.cond", x)
        r = norm(x, ord=p, axis=(-2, -1)) * norm(_la().inv(x), ord=p, axis=(-2, -1))
    nan_r = fnp.isnan(r)
    return fnp.where(nan_r & ~fnp.any(fnp.isnan(x), axis=(-2, -1)), np.inf, r)


# ---------------------------------------------------------------------------
# tensor versions and chains of products


def tensorinv(a, ind: int = 2):
    """The inverse of ``a`` seen as a linear map from its last axes to its first ``ind``.

    Example:
      >>> tensorinv(fx.numpy.eye(4).reshape(4, 2, 2), ind=1).shape   # (2, 2, 4)
    """
    a = _inexact("linalg.tensorinv", a)
    ind = _static_int("linalg.tensorinv", "ind", ind)
    if ind <= 0:
        raise ValueError(f"linalg.tensorinv: ind must be a positive integer, got {ind}")
    outer_shape, inner_shape = a.shape[:ind], a.shape[ind:]
    rows, cols = math.prod(outer_shape), math.prod(inner_shape)
    if rows != cols:
        raise ValueError(f"linalg.tensorinv: the product of the first {ind} dimensions must "
                         f"equal that of the others, got shape {a.shape}")
    return fnp.reshape(_la().inv(fnp.reshape(a, (rows, cols))), inner_shape + outer_shape)


def tensorsolve(a, b, axes=None):
    """Solve ``tensordot(a, x, axes=x.ndim) == b`` for ``x``.

    Example:
      >>> tensorsolve(fx.numpy.eye(4).reshape(2, 2, 4), fx.numpy.ones((2, 2))).shape  # (4,)
    """
    a, b = _inexact("linalg.tensorsolve", a, b)
    if axes is not None:
        axes = tuple(axes)
        a = fnp.moveaxis(a, axes, tuple(range(a.ndim - len(axes), a.ndim)))
    out_shape = a.shape[b.ndim:]
    if a.shape[:b.ndim] != b.shape:
        raise ValueError(f"linalg.tensorsolve: the leading shape of a {a.shape} must match "
                         f"the shape of b {b.shape}")
    if b.size != math.prod(out_shape):
        raise ValueError(f"linalg.tensorsolve: prod(a.shape[:b.ndim]) must equal "
                         f"prod(a.shape[b.ndim:]), got a.shape={a.shape}, b.ndim={b.ndim}")
    matrix = fnp.reshape(a, (b.size, math.prod(out_shape)))
    return fnp.reshape(_la().solve(matrix, fnp.ravel(b)), out_shape)


def _chain_order(dims: Sequence[int]):
    """The cheapest parenthesisation of a chain of products (dynamic programming)."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def multi_dot(arrays, *, precision=None):
    """The product of a chain of matrices, in the cheapest order.

    The first and last arrays may be 1-d (a row and a column vector).

    Example:
      >>> multi_dot([fx.numpy.ones(3), fx.numpy.ones((3, 4)), fx.numpy.ones(4)])   # 12.
    """
    arrays = [fnp.asarray(a) for a in arrays]
    if len(arrays) < 2:
        raise ValueError(f"linalg.multi_dot requires at least two arrays, got {len(arrays)}")
    shapes = [a.shape for a in arrays]
    if not (arrays[0].ndim in (1, 2) and arrays[-1].ndim in (1, 2)
            and all(a.ndim == 2 for a in arrays[1:-1])):
        raise ValueError(f"linalg.multi_dot: arrays must be two-dimensional, except the first "
                         f"and last, which may be one-dimensional; got shapes {shapes}")
    first_vec, last_vec = arrays[0].ndim == 1, arrays[-1].ndim == 1
    mat_shapes = list(shapes)
    if first_vec:
        mat_shapes[0] = (1,) + mat_shapes[0]
    if last_vec:
        mat_shapes[-1] = mat_shapes[-1] + (1,)
    if any(a[-1] != b[0] for a, b in zip(mat_shapes[:-1], mat_shapes[1:], strict=True)):
        raise ValueError(f"linalg.multi_dot: the last dimension of each array must match the "
                         f"first of the next; got shapes {shapes}")
    if core._current_trace.get() is not core.eval_trace:
        # traced: JAX's einsum over (i, i + 1) axis pairs, so the program prints as JAX's
        axes = [(i, i + 1) for i in range(len(arrays))]
        if first_vec:
            axes[0] = axes[0][1:]
        if last_vec:
            axes[-1] = axes[-1][:1]
        operands = [x for pair in zip(arrays, axes) for x in pair]
        return fnp.einsum(*operands, optimize="auto", precision=precision)
    mats = list(arrays)
    if first_vec:
        mats[0] = mats[0][None, :]
    if last_vec:
        mats[-1] = mats[-1][:, None]
    split = _chain_order([mats[0].shape[0]] + [m.shape[1] for m in mats])

    def product(i, j):
        if i == j:
            return mats[i]
        k = split[i][j]
        return fnp.matmul(product(i, k), product(k + 1, j), precision=precision)

    out = product(0, len(mats) - 1)
    if first_vec:
        out = out[0]
    if last_vec:
        out = out[..., 0]
    return out


# ---------------------------------------------------------------------------
# array-API names


def cross(x1, x2, /, *, axis: int = -1):
    """Cross product of 3-vectors along ``axis``.

    Example:
      >>> cross(fx.numpy.array([1., 0., 0.]), fx.numpy.array([0., 1., 0.]))   # [0., 0., 1.]
    """
    x1, x2 = fnp.asarray(x1), fnp.asarray(x2)
    for x in (x1, x2):
        if not -x.ndim <= axis < x.ndim or x.shape[axis] != 3:
            raise ValueError(f"linalg.cross: both inputs must be (arrays of) 3-vectors along "
                             f"axis {axis}, got shapes {x1.shape} and {x2.shape}")
    return fnp.cross(x1, x2, axis=axis)


def outer(x1, x2, /):
    """Outer product of two 1-d arrays.

    Example:
      >>> outer(fx.numpy.array([1., 2.]), fx.numpy.array([3., 4.]))   # [[3., 4.], [6., 8.]]
    """
    x1, x2 = fnp.asarray(x1), fnp.asarray(x2)
    if x1.ndim != 1 or x2.ndim != 1:
        raise ValueError(f"linalg.outer: inputs must be one-dimensional, got shapes "
                         f"{x1.shape} and {x2.shape}")
    return fnp.outer(x1, x2)


def matmul(x1, x2, /, *, precision=None, preferred_element_type=None):
    """Matrix product (``fx.numpy.matmul``).

    Example:
      >>> matmul(fx.numpy.eye(2), fx.numpy.ones((2, 3))).shape   # (2, 3)
    """
    return fnp.matmul(x1, x2, precision=precision,
                      preferred_element_type=preferred_element_type)


def tensordot(x1, x2, /, *, axes=2, precision=None, preferred_element_type=None):
    """Tensor contraction over ``axes`` (``fx.numpy.tensordot``).

    Example:
      >>> tensordot(fx.numpy.ones((2, 3)), fx.numpy.ones((3, 4)), axes=1).shape   # (2, 4)
    """
    return fnp.tensordot(x1, x2, axes=axes, precision=precision,
                         preferred_element_type=preferred_element_type)


def vecdot(x1, x2, /, *, axis: int = -1, precision=None, preferred_element_type=None):
    """Conjugated dot product of vectors along ``axis`` (``fx.numpy.vecdot``).

    Example:
      >>> vecdot(fx.numpy.array([1., 2.]), fx.numpy.array([3., 4.]))   # 11.
    """
    return fnp.vecdot(x1, x2, axis=axis, precision=precision,
                      preferred_element_type=preferred_element_type)


def trace(x, /, *, offset: int = 0, dtype=None):
    """Sum of the ``offset`` diagonal of the last two axes.

    Example:
      >>> trace(fx.numpy.eye(3))   # 3.
    """
    x = fnp.asarray(x)
    _matrices("linalg.trace", x)
    return fnp.trace(x, offset=offset, axis1=-2, axis2=-1, dtype=dtype)


def diagonal(x, /, *, offset: int = 0):
    """The ``offset`` diagonal of the last two axes.

    Example:
      >>> diagonal(fx.numpy.eye(3))   # [1., 1., 1.]
    """
    x = fnp.asarray(x)
    _matrices("linalg.diagonal", x)
    return fnp.diagonal(x, offset=offset, axis1=-2, axis2=-1)


def matrix_transpose(x, /):
    """Swap the last two axes.

    Example:
      >>> matrix_transpose(fx.numpy.ones((2, 3))).shape   # (3, 2)
    """
    x = fnp.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"linalg.matrix_transpose requires at least 2 dimensions, got shape "
                         f"{x.shape}")
    return fnp.matrix_transpose(x)
