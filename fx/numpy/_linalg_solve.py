"""``fx.numpy.linalg.solve`` and ``inv`` built as JAX 0.10 builds them: one LU
factorization of ``stop_gradient(a)`` and a ``custom_linear_solve`` whose ``matvec`` is
``a @ x``, so derivatives reuse the factorization and are defined by ``matvec`` alone.

Invariants: traced calls print as JAX's (``jit[name=solve]`` around ``stop_gradient``,
``lu`` and ``custom_linear_solve``, whose solves are ``jit[name=_lu_solve]`` equations);
a matrix right-hand side is a ``vmap`` of the vector solve over its columns, and batch
dimensions of ``a`` are ``vmap``-ed as ``fx.numpy.vectorize`` does. Eager calls run the
same functions op by op (``library_jit``), with no tracing.
"""
from __future__ import annotations

import math

import numpy as np

import primitives as P
from fx import core, lax, tree_util
from fx.lax._solves import _trace_flat
from fx.core import get_aval
from fx.lax import linalg as lax_linalg
from fx.numpy._jitted import library_jit
from primitives import linalg_decomp as _D
from primitives.linear_solve import LinearSolveTuple, linear_solve_p

__all__ = ["lu_solve", "solve_core", "solve", "inv"]

_eval_trace = core.eval_trace
_current = core._current_trace


def _shape(x) -> tuple:
    return get_aval(x).shape


def _broadcast_to(x, shape: tuple):
    """``x`` broadcast to ``shape`` (trailing dims aligned); ``x`` itself when the shape
    already is ``shape`` (no equation, as JAX)."""
    sx = _shape(x)
    if sx == tuple(shape):
        return x
    dims = tuple(range(len(shape) - len(sx), len(shape)))
    return lax.broadcast_in_dim(x, tuple(shape), dims)


def _lu_solve_core(lu, permutation, b, trans: int):
    """Solve with one LU factorization ``lu [m, m]`` and row permutation for ``b [m, ...]``
    (``trans``: 0 solves ``a x = b``, 1 ``a^T x = b``, 2 ``a^H x = b``)."""
    m = _shape(lu)[0]
    x = lax.reshape(b, (m, math.prod(_shape(b)[1:])))
    if trans == 0:
        x = x[permutation, :]
        x = lax_linalg.triangular_solve(lu, x, left_side=True, lower=True,
                                        unit_diagonal=True)
        x = lax_linalg.triangular_solve(lu, x, left_side=True, lower=False)
    else:
        conj = trans == 2
        x = lax_linalg.triangular_solve(lu, x, left_side=True, lower=False, transpose_a=True,
                                        conjugate_a=conj)
        x = lax_linalg.triangular_solve(lu, x, left_side=True, lower=True, unit_diagonal=True,
                                        transpose_a=True, conjugate_a=conj)
        _, inverse = lax.sort_key_val(permutation, lax.iota(np.int32, _shape(permutation)[0]))
        x = x[inverse, :]
    return lax.reshape(x, _shape(b))


@library_jit(static_argnames=("trans",), name="_lu_solve")
def _lu_solve(lu, permutation, b, trans: int = 0):
    from fx.api import vmap
    slu, sb = _shape(lu), _shape(b)
    vector = len(slu) == len(sb) + 1
    if vector:
        b = lax.expand_dims(b, (len(sb),))
    batch = np.broadcast_shapes(slu[:-2], _shape(permutation)[:-1], _shape(b)[:-2])
    lu = _broadcast_to(lu, batch + slu[-2:])
    permutation = _broadcast_to(permutation, batch + _shape(permutation)[-1:])
    b = _broadcast_to(b, batch + _shape(b)[-2:])

    def core(lu, permutation, b):
        return _lu_solve_core(lu, permutation, b, trans)

    fn = core
    for _ in batch:
        fn = vmap(fn, in_axes=(0, 0, 0))
    x = fn(lu, permutation, b)
    return lax.squeeze(x, (len(_shape(x)) - 1,)) if vector else x


def lu_solve(lu, permutation, b, trans: int = 0):
    """Solve ``a x = b`` (``trans=1``: ``a^T x = b``; ``2``: ``a^H x = b``) from the LU
    factorization of ``a`` (``lax.linalg.lu``'s ``lu`` and ``permutation``).

    Args:
      lu: ``[..., m, m]`` packed factors.
      permutation: ``[..., m]`` int32 row permutation.
      b: ``[..., m]`` (one vector per matrix) or ``[..., m, k]``.
      trans: 0, 1 or 2.

    Returns:
      ``x`` with the broadcast batch shape.

    Example:
      >>> lu, _, perm = fx.lax.linalg.lu(a)
      >>> x = lu_solve(lu, perm, b)
    """
    slu, sb = _shape(lu), _shape(b)
    if len(slu) < 2 or slu[-1] != slu[-2]:
        raise ValueError(f"lu_solve: the last two dimensions of lu must be equal, got shape "
                         f"{slu}")
    if not sb:
        raise ValueError(f"lu_solve: b must have rank >= 1, got shape {sb}")
    if trans not in (0, 1, 2):
        raise ValueError(f"lu_solve: trans must be 0, 1 or 2, got {trans!r}")
    inner = sb[-1] if len(slu) == len(sb) + 1 else (sb[-2] if len(sb) >= 2 else None)
    if inner != slu[-1]:
        raise ValueError(f"lu_solve: b of shape {sb} does not match lu of shape {slu}")
    return _lu_solve(lu, permutation, b, trans=int(trans))


def _broadcasted_matvec(a, x):
    """``a [..., n, m] @ x [..., m]`` as one dot_general at HIGHEST precision."""
    batch = np.broadcast_shapes(_shape(a)[:-2], _shape(x)[:-1])
    a = _broadcast_to(a, batch + _shape(a)[-2:])
    x = _broadcast_to(x, batch + _shape(x)[-1:])
    nb = len(batch)
    dims = (((len(_shape(a)) - 1,), (len(_shape(x)) - 1,)), (tuple(range(nb)),) * 2)
    return lax.dot_general(a, x, dims, precision=lax.Precision.HIGHEST)


def _vecmat(a, x):
    """``x [m] @ a [m, n]``: the transpose of ``_broadcasted_matvec(a, .)`` written as JAX's
    ``linear_transpose`` of it stages inside ``custom_linear_solve`` (a dot_general and an
    empty ``reduce_sum``)."""
    dims = (((0,), (0,)), ((), ()))
    out = lax.dot_general(x, a, dims, precision=lax.Precision.HIGHEST)
    return P.reduce_sum_p.bind(out, axes=(), out_sharding=None)


def _linear_solve(matvec, vecmat, solve, transpose_solve, b):
    """``lax.custom_linear_solve`` for one array ``b`` with ``vecmat`` given (not derived
    by transposing ``matvec``), so the staged functions are JAX's."""
    b_aval = get_aval(b).strip_weak_type()
    tree = tree_util.tree_structure(b)
    traced = [_trace_flat(lambda x, f=f: f(x), tree, [b_aval], what)
              for f, what in ((matvec, "matvec"), (vecmat, "vecmat"), (solve, "solve"),
                              (transpose_solve, "transpose_solve"))]
    jaxprs = LinearSolveTuple(*(j for j, _, _ in traced))
    consts = [c for _, cs, _ in traced for c in cs]
    lengths = LinearSolveTuple(*(len(cs) for _, cs, _ in traced))
    (x,) = linear_solve_p.bind(*consts, b, const_lengths=lengths, jaxprs=jaxprs)
    return x


def solve_core(a, b):
    """``a [..., m, m] x = b [..., m]`` or ``b [..., m, k]`` through ``custom_linear_solve``
    over the LU factorization of ``stop_gradient(a)`` (``a``'s derivative flows through
    ``matvec``).

    Example:
      >>> solve_core(fx.numpy.eye(2) * 2, fx.numpy.ones(2))   # [0.5, 0.5]
    """
    from fx.api import vmap
    sa, sb = _shape(a), _shape(b)
    if not (len(sa) >= 2 and len(sb) in (len(sa), len(sa) - 1)
            and sa[-1] == sa[-2] == sb[len(sa) - 2]):
        raise ValueError(f"The arguments to solve must have shapes a=[..., m, m] and "
                         f"b=[..., m, k] or b=[..., m]; got a={sa} and b={sb}")
    out_shape = tuple(d_a if d_b == 1 else d_b for d_a, d_b in zip(sa[:-1] + (1,), sb))
    if out_shape != sb:
        b = lax.broadcast_in_dim(b, out_shape, tuple(range(len(sb))))
    lu, _, permutation = lax_linalg.lu(lax.stop_gradient(a))

    def custom_solve(rhs):
        return _linear_solve(lambda x: _broadcasted_matvec(a, x),
                             lambda x: _vecmat(a, x),
                             lambda x: _lu_solve(lu, permutation, x, trans=0),
                             lambda x: _lu_solve(lu, permutation, x, trans=1), rhs)

    if len(sa) == len(sb) + 1:
        return custom_solve(b)
    axis = len(sb) - 1
    return vmap(custom_solve, axis, max(len(sa), len(sb)) - 1)(b)


@library_jit(name="solve")
def _solve_jitted(a, b):
    from fx.numpy._linalg_norms import _inexact
    a, b = _inexact("linalg.solve", a, b)   # inside the jit, as JAX promotes
    from fx.numpy._functional import map_batch_dims
    return map_batch_dims(solve_core, (a, b), (2, 1 if len(_shape(b)) == 1 else 2))


def solve(a, b):
    """Solve ``a @ x == b`` (traced, a ``jit[name=solve]`` equation around JAX's
    ``lu`` + ``custom_linear_solve``).

    Args:
      a: ``[..., n, n]``.
      b: ``[n]`` (one vector for every matrix) or ``[..., n, k]``; batch dimensions
        broadcast.

    Returns:
      ``x`` with the broadcast batch shape.

    Example:
      >>> solve(fx.numpy.array([[2., 0.], [0., 4.]]), fx.numpy.array([2., 2.]))   # [1., .5]
    """
    from fx.numpy._core import asarray
    from fx.numpy._linalg_norms import _check_arraylike, _inexact, _square
    _check_arraylike("linalg.solve", a, b)
    a, b = asarray(a), asarray(b)
    sa, sb = _shape(a), _shape(b)
    if len(sa) < 2:
        raise ValueError(f"linalg.solve: left hand array must be at least two dimensional; "
                         f"got shape {sa}")
    _square("linalg.solve", a)
    n = sa[-1]
    if len(sb) > 1 and len(sa) == len(sb) + 1 and sb[-1] == n and sb[-2] != n:
        raise ValueError(f"linalg.solve: invalid shapes {sa} and {sb}; for a batch of vectors "
                         "use solve(a, b[..., None])[..., 0]")
    rows = sb[0] if len(sb) == 1 else (sb[-2] if len(sb) >= 2 else None)
    if rows != n:
        raise ValueError(f"linalg.solve: b must have {n} rows to match a of shape {sa}, "
                         f"got shape {sb}")
    if _current.get() is _eval_trace:
        return _solve_eager(*_inexact("linalg.solve", a, b))
    return _solve_jitted(a, b)


def _solve_eager(a, b):
    """The eager path (no trace active): one ``lu`` and two triangular solves on the
    broadcast operands, with none of the staging ``custom_linear_solve`` needs."""
    sa, sb = _shape(a), _shape(b)
    vector = len(sb) == 1
    if vector:
        b = b[:, None]
        sb = _shape(b)
    batch = np.broadcast_shapes(sa[:-2], sb[:-2]) if len(sa) > 2 or len(sb) > 2 else ()
    a, b = _broadcast_to(a, batch + sa[-2:]), _broadcast_to(b, batch + sb[-2:])
    lu, _, permutation = lax_linalg.lu(a)
    x = _D.lu_solve(lu, permutation, b)
    return x[..., 0] if vector else x


@library_jit(name="inv")
def _inv_jitted(a):
    from fx.numpy._shape_base import eye as _eye
    eye = _eye(_shape(a)[-1], dtype=get_aval(a).dtype)
    eye = lax.broadcast(eye, _shape(a)[:-2]) if _shape(a)[:-2] else eye
    return _solve_jitted(a, eye)


def inv(a):
    """The inverse of square matrices ``[..., n, n]`` (traced, a ``jit[name=inv]``
    equation: ``solve(a, eye)``, as JAX's).

    Example:
      >>> inv(fx.numpy.array([[2., 0.], [0., 4.]]))   # [[.5, 0.], [0., .25]]
    """
    from fx.numpy._core import asarray
    from fx.numpy._linalg_norms import _check_arraylike, _inexact, _square
    _check_arraylike("linalg.inv", a)
    a = asarray(a)
    _square("linalg.inv", a)
    if _current.get() is _eval_trace:
        a = _inexact("linalg.inv", a)
        n = _shape(a)[-1]
        eye = np.eye(n, dtype=get_aval(a).dtype)
        return _solve_eager(a, np.broadcast_to(eye, _shape(a)[:-2] + (n, n)))
    return _inv_jitted(a)


