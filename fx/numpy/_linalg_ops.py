"""``fx.numpy`` products and matrix helpers: dot, matmul, vdot, vecdot, inner,
outer, tensordot, einsum, kron, cross, trace, diagonal, diag, diagflat, tri,
tril, triu, matrix_transpose.

Invariants: the result dtype is JAX's promotion of the operands (weak types
included). As in JAX, strong operands reach ``dot_general`` in their own dtypes
(it mixes them) with ``preferred_element_type`` set to the promoted dtype;
weakly typed operands (Python scalars) are converted to it first. Every
contraction is a single ``dot_general``; broadcast batch axes of size 1 are
squeezed rather than materialised. ``einsum`` contracts operands pairwise,
greedily choosing the pair whose result is smallest.
"""
from __future__ import annotations

import builtins
import string
from typing import Sequence

import numpy as np

import primitives as P
from fx import core, dtypes, lax
from fx.array import Array
from fx.core import get_aval
from fx.lax._linalg import _canonicalize_precision
from fx.numpy import _core as C
from fx.numpy._jitted import library_jit
from primitives.linalg import dot_dimension_numbers

__all__ = ["dot", "matmul", "vdot", "vecdot", "inner", "outer", "tensordot", "einsum",
           "kron", "cross", "trace", "diagonal", "diag", "diagflat", "tri", "tril", "triu",
           "matrix_transpose"]


def _shape(x) -> tuple:
    return get_aval(x).shape


def _dot(a, b, lc, rc, lb=(), rb=(), precision=None, preferred=None):
    """One dot_general (``preferred`` defaults to the common dtype of a and b)."""
    if preferred is None:
        preferred = get_aval(a).dtype
    return P.dot_general_p.bind(a, b, dimension_numbers=dot_dimension_numbers(lc, rc, lb, rb),
                                precision=_canonicalize_precision(precision),
                                preferred_element_type=np.dtype(preferred), out_sharding=None)


_MATRIX_PRODUCT = dot_dimension_numbers((1,), (0,))


def _as_operand(x):
    return x if isinstance(x, (Array, core.Tracer)) else C.asarray(x)


def _prepare_all(operands, preferred_element_type):
    """Operands as arrays, with weakly typed ones (Python scalars) converted to the
    promoted dtype; strong operands keep their dtypes (dot_general mixes them, as JAX).

    Returns (operands, preferred dtype, whether the result is weakly typed).
    """
    operands = [_as_operand(x) for x in operands]
    dtype, weak = dtypes.result_type_and_weak(*operands)
    operands = [lax._convert_element_type(x, dtype, True)
                if get_aval(x).weak_type and get_aval(x).dtype != dtype else x
                for x in operands]
    if preferred_element_type is not None:
        return operands, dtypes.canonicalize_dtype(preferred_element_type), False
    return operands, dtype, weak


def _prepare(a, b, preferred_element_type):
    (a, b), preferred, weak = _prepare_all((a, b), preferred_element_type)
    return a, b, preferred, weak


def _finish(out, weak):
    """Mark the result weakly typed when every operand was (as JAX's jnp does)."""
    aval = get_aval(out)
    if weak and not aval.weak_type:
        return lax._convert_element_type(out, aval.dtype, True)
    return out


def _squeeze(x, axes):
    axes = tuple(axes)
    return lax.squeeze(x, axes) if axes else x


# ---------------------------------------------------------------------------
# products


def _broadcast_product(a, b, a_rows: bool, b_cols: bool, precision, preferred):
    """Contract the last axis of ``a`` with b's inner axis, broadcasting batch axes.

    ``a`` is (*batch_a, [m,] k) and ``b`` is (*batch_b, k[, n]); the result is
    (*broadcast batch, [m,] [n]) as ``matmul`` defines it.
    """
    sa, sb = _shape(a), _shape(b)
    a_inner, b_inner = len(sa) - 1, len(sb) - (2 if b_cols else 1)
    if sa[a_inner] != sb[b_inner]:
        raise ValueError(f"matmul: contracting dimensions must match, got shapes {sa} and "
                         f"{sb} (sizes {sa[a_inner]} and {sb[b_inner]})")
    a_batch = sa[:len(sa) - (2 if a_rows else 1)]
    b_batch = sb[:b_inner]
    nbatch = builtins.max(len(a_batch), len(b_batch))
    a_off, b_off = nbatch - len(a_batch), nbatch - len(b_batch)
    a_squeeze, b_squeeze, lb, rb = [], [], [], []
    origin = []   # per output batch position: ("batch", k) | ("a", axis) | ("b", axis)
    for pos in range(nbatch):
        ia, ib = pos - a_off, pos - b_off
        da = a_batch[ia] if ia >= 0 else None
        db = b_batch[ib] if ib >= 0 else None
        if da is not None and db is not None and da == db:
            origin.append(("batch", len(lb)))
            lb.append(ia)
            rb.append(ib)
        elif da is not None and (db is None or db == 1):
            origin.append(("a", ia))
            if db is not None:
                b_squeeze.append(ib)
        elif db is not None and (da is None or da == 1):
            origin.append(("b", ib))
            if da is not None:
                a_squeeze.append(ia)
        else:
            raise ValueError(f"matmul: batch dimensions of shapes {sa} and {sb} cannot be "
                             "broadcast together")

    def renumber(axes, squeezed):
        return [x - builtins.sum(1 for s in squeezed if s < x) for x in axes]

    a2, b2 = _squeeze(a, a_squeeze), _squeeze(b, b_squeeze)
    a_keep = [x for x in range(len(sa)) if x not in a_squeeze]
    b_keep = [x for x in range(len(sb)) if x not in b_squeeze]
    lb2, rb2 = renumber(lb, a_squeeze), renumber(rb, b_squeeze)
    lc2, rc2 = renumber([a_inner], a_squeeze), renumber([b_inner], b_squeeze)
    out = _dot(a2, b2, lc2, rc2, lb2, rb2, precision, preferred)
    # dot_general's layout: batch, a's free axes (original order), b's free axes
    a_free = [x for x in a_keep if x not in lb and x != a_inner]
    b_free = [x for x in b_keep if x not in rb and x != b_inner]
    layout = [("batch", k) for k in range(len(lb))] + [("a", x) for x in a_free] + [
        ("b", x) for x in b_free]
    wanted = list(origin)
    if a_rows:
        wanted.append(("a", len(sa) - 2))
    if b_cols:
        wanted.append(("b", len(sb) - 1))
    perm = tuple(layout.index(w) for w in wanted)
    return lax.transpose(out, perm)


def matmul(a, b, *, precision=None, preferred_element_type=None, out_sharding=None):
    """Matrix product with NumPy's rules: batch axes broadcast, 1-D operands are
    promoted to matrices and the added axis removed.

    Args:
      a, b: arrays of rank >= 1.
      precision, preferred_element_type: as for ``fx.lax.dot_general``.

    Returns:
      ``a @ b``.

    Example:
      >>> fx.numpy.matmul(fx.numpy.ones((5, 2, 3)), fx.numpy.ones((3, 4))).shape  # (5, 2, 4)
    """
    if type(a) is Array and type(b) is Array and precision is None \
            and preferred_element_type is None:   # eager fast path: matrix @ matrix
        va, vb = a._value, b._value
        if va.ndim == 2 and vb.ndim == 2 and va.dtype == vb.dtype and not a.weak_type \
                and not b.weak_type and va.shape[1] == vb.shape[0]:
            return P.dot_general_p.bind(a, b, dimension_numbers=_MATRIX_PRODUCT,
                                        precision=None, preferred_element_type=va.dtype,
                                        out_sharding=None)
    a, b, preferred, weak = _prepare(a, b, preferred_element_type)
    sa, sb = _shape(a), _shape(b)
    if not sa or not sb:
        raise ValueError(f"matmul: operands must have rank >= 1, got shapes {sa} and {sb}; "
                         "use multiply for scalars")
    nd = len(sa)
    if nd >= 2 and len(sb) == nd and sa[:-2] == sb[:-2]:   # no broadcasting needed
        if sa[-1] != sb[-2]:
            raise ValueError(f"matmul: contracting dimensions must match, got shapes {sa} "
                             f"and {sb}")
        batch = tuple(range(nd - 2))
        out = _dot(a, b, (nd - 1,), (nd - 2,), batch, batch, precision, preferred)
        return _finish(out, weak)
    out = _broadcast_product(a, b, len(sa) >= 2, len(sb) >= 2, precision, preferred)
    return _finish(out, weak)


def dot(a, b, *, precision=None, preferred_element_type=None, out_sharding=None):
    """NumPy's ``dot``: a product over the last axis of ``a`` and the second-to-last
    (or only) axis of ``b``; scalars multiply.

    Example:
      >>> fx.numpy.dot(fx.numpy.ones((2, 3)), fx.numpy.ones(3))   # [3., 3.]
    """
    a, b, preferred, weak = _prepare(a, b, preferred_element_type)
    sa, sb = _shape(a), _shape(b)
    if not sa or not sb:
        return _finish(_dot(a, b, (), (), (), (), precision, preferred), weak)
    b_axis = 0 if len(sb) == 1 else len(sb) - 2
    if sa[-1] != sb[b_axis]:
        raise ValueError(f"dot: shapes {sa} and {sb} are not aligned: {sa[-1]} (axis "
                         f"{len(sa) - 1}) != {sb[b_axis]} (axis {b_axis})")
    return _finish(_dot(a, b, (len(sa) - 1,), (b_axis,), (), (), precision, preferred), weak)


def vdot(a, b, *, precision=None, preferred_element_type=None):
    """Dot product of the flattened arrays, conjugating ``a`` when it is complex.

    Example:
      >>> fx.numpy.vdot(fx.numpy.array([1j, 2]), fx.numpy.array([1j, 2]))   # 5+0j
    """
    a, b, preferred, weak = _prepare(a, b, preferred_element_type)
    if dtypes.is_complex(get_aval(a).dtype):
        a = C.conjugate(a)
    a, b = C.ravel(a), C.ravel(b)
    if _shape(a) != _shape(b):
        raise ValueError(f"vdot: arrays must have the same number of elements, got "
                         f"{_shape(a)[0]} and {_shape(b)[0]}")
    return _finish(_dot(a, b, (0,), (0,), (), (), precision, preferred), weak)


def vecdot(x1, x2, /, *, axis: int = -1, precision=None, preferred_element_type=None):
    """Vector dot product along ``axis`` (``x1`` conjugated), broadcasting the rest.

    Example:
      >>> fx.numpy.vecdot(fx.numpy.ones((4, 3)), fx.numpy.ones(3)).shape   # (4,)
    """
    a, b, preferred, weak = _prepare(x1, x2, preferred_element_type)
    sa, sb = _shape(a), _shape(b)
    if not sa or not sb:
        raise ValueError(f"vecdot: operands must have rank >= 1, got shapes {sa} and {sb}")
    a = C.moveaxis(a, axis, -1)
    b = C.moveaxis(b, axis, -1)
    if dtypes.is_complex(get_aval(a).dtype):
        a = C.conjugate(a)
    if _shape(a)[-1] != _shape(b)[-1]:
        raise ValueError(f"vecdot: axis {axis} must have the same size in both operands, got "
                         f"shapes {sa} and {sb}")
    return _finish(_broadcast_product(a, b, False, False, precision, preferred), weak)


def inner(a, b, *, precision=None, preferred_element_type=None):
    """Sum product over the last axes of ``a`` and ``b`` (scalars multiply).

    Example:
      >>> fx.numpy.inner(fx.numpy.ones((2, 3)), fx.numpy.ones((4, 3))).shape   # (2, 4)
    """
    if np.ndim(a) == 0 or np.ndim(b) == 0:   # as JAX: a scalar simply multiplies
        return C.multiply(a, b)
    a, b, preferred, weak = _prepare(a, b, preferred_element_type)
    sa, sb = _shape(a), _shape(b)
    if sa[-1] != sb[-1]:
        raise ValueError(f"inner: last dimensions must match, got shapes {sa} and {sb}")
    out = _dot(a, b, (len(sa) - 1,), (len(sb) - 1,), (), (), precision, preferred)
    return _finish(out, weak)


def outer(a, b, out=None):
    """Outer product of the flattened ``a`` and ``b``: ``result[i, j] = a[i] * b[j]``.

    Example:
      >>> fx.numpy.outer(fx.numpy.arange(2), fx.numpy.arange(3)).shape   # (2, 3)
    """
    if out is not None:
        raise NotImplementedError("fx.numpy.outer does not support out=")
    a, b = C.ravel(C.asarray(a)), C.ravel(C.asarray(b))
    # as JAX: a[:, None] * b[None, :] (broadcast_in_dim each, then the promoting multiply)
    return C.multiply(lax.expand_dims(a, (1,)), lax.expand_dims(b, (0,)))


def tensordot(a, b, axes=2, *, precision=None, preferred_element_type=None,
              out_sharding=None):
    """Sum products over the given axes: an int n (last n of a with first n of b) or
    a pair of axis sequences.

    Example:
      >>> fx.numpy.tensordot(fx.numpy.ones((2, 3, 4)), fx.numpy.ones((3, 4, 5))).shape  # (2, 5)
    """
    a, b, preferred, weak = _prepare(a, b, preferred_element_type)
    sa, sb = _shape(a), _shape(b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > builtins.min(len(sa), len(sb)):
            raise TypeError(f"tensordot: axes={n} must be between 0 and the smaller rank of "
                            f"shapes {sa} and {sb}")
        lc, rc = tuple(range(len(sa) - n, len(sa))), tuple(range(n))
    elif isinstance(axes, (list, tuple)) and len(axes) == 2:
        la, ra = axes
        la = (la,) if isinstance(la, (int, np.integer)) else tuple(la)
        ra = (ra,) if isinstance(ra, (int, np.integer)) else tuple(ra)
        if len(la) != len(ra):
            raise TypeError(f"tensordot: axes must name the same number of axes of each "
                            f"operand, got {axes}")
        lc, rc = C._normalize_axes(la, len(sa)), C._normalize_axes(ra, len(sb))
    else:
        raise TypeError(f"tensordot: axes must be an int or a pair of axis sequences, got "
                        f"{axes!r}")
    for x, y in zip(lc, rc, strict=True):
        if sa[x] != sb[y]:
            raise TypeError(f"tensordot: shape mismatch along axes {lc} of {sa} and {rc} of "
                            f"{sb}")
    return _finish(_dot(a, b, lc, rc, (), (), precision, preferred), weak)


def kron(a, b):
    """Kronecker product: blocks ``a[i, j, ...] * b``.

    Example:
      >>> fx.numpy.kron(fx.numpy.eye(2), fx.numpy.ones((2, 2))).shape   # (4, 4)
    """
    a, b = C._promote(C.asarray(a), C.asarray(b))
    sa, sb = _shape(a), _shape(b)
    nd = builtins.max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
    a2 = lax.reshape(a, tuple(x for s in sa for x in (s, 1)))
    b2 = lax.reshape(b, tuple(x for s in sb for x in (1, s)))
    return lax.reshape(C.multiply(a2, b2), tuple(x * y for x, y in zip(sa, sb, strict=True)))


def _component(x, i: int):
    """``x[..., i]`` through a static slice and a reshape."""
    shape = _shape(x)
    piece = P.registry["slice"].bind(x, start_indices=(0,) * (len(shape) - 1) + (i,),
                                     limit_indices=shape[:-1] + (i + 1,), strides=None)
    return lax.reshape(piece, shape[:-1])


@library_jit(static_argnames=("axisa", "axisb", "axisc", "axis"))
def cross(a, b, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: int | None = None):
    """Cross product of 2- or 3-vectors along the given axes (a 2-vector has z = 0), as
    JAX's (traced, a ``jit[name=cross]`` equation).

    Args:
      a, b: arrays whose ``axisa``/``axisb`` dimension has size 2 or 3.
      axisa, axisb, axisc: the vector axes of ``a``, ``b`` and the result.
      axis: if given, all three.

    Returns:
      The cross products (a scalar per pair when both are 2-vectors).

    Example:
      >>> fx.numpy.cross(fx.numpy.array([1., 0, 0]), fx.numpy.array([0., 1, 0]))  # [0,0,1]
    """
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = C._promote(C.asarray(a), C.asarray(b))
    a, b = C.moveaxis(a, axisa, -1), C.moveaxis(b, axisb, -1)
    na, nb = _shape(a)[-1], _shape(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError(f"cross: incompatible dimensions for cross product (dimension must "
                         f"be 2 or 3), got {na} and {nb}")
    if na == 2 and nb == 2:
        return C.subtract(C.multiply(a[..., 0], b[..., 1]), C.multiply(a[..., 1], b[..., 0]))
    a0, a1 = a[..., 0], a[..., 1]
    a2 = a[..., 2] if na == 3 else C.zeros_like(a0)
    b0, b1 = b[..., 0], b[..., 1]
    b2 = b[..., 2] if nb == 3 else C.zeros_like(b0)
    parts = [C.subtract(C.multiply(a1, b2), C.multiply(a2, b1)),
             C.subtract(C.multiply(a2, b0), C.multiply(a0, b2)),
             C.subtract(C.multiply(a0, b1), C.multiply(a1, b0))]
    shape = C.broadcast_shapes(*(_shape(p) for p in parts))
    parts = [lax.expand_dims(C._broadcast_to(p, shape), (0,)) for p in parts]
    out = P.registry["concatenate"].bind(*parts, dimension=0)
    return C.moveaxis(out, 0, axisc)


# ---------------------------------------------------------------------------
# diagonals and triangles


def _diagonal_length(n: int, m: int, offset: int) -> int:
    return builtins.max(0, builtins.min(n, m - offset) if offset >= 0 else
                        builtins.min(n + offset, m))


def diagonal(a, offset: int = 0, axis1: int = 0, axis2: int = 1):
    """The ``offset`` diagonal over axes (axis1, axis2), appended as the last axis.

    Example:
      >>> fx.numpy.diagonal(fx.numpy.arange(9).reshape(3, 3))   # [0, 4, 8]
    """
    a = C.asarray(a)
    nd = len(_shape(a))
    if nd < 2:
        raise ValueError(f"diagonal requires an array of rank >= 2, got shape {_shape(a)}")
    axis1, axis2 = C._normalize_axes((axis1, axis2), nd)
    if axis1 == axis2:
        raise ValueError(f"diagonal: axis1 and axis2 cannot be the same (both {axis1})")
    offset = int(core.concrete_or_error(offset, "a traced diagonal offset"))
    rest = [x for x in range(nd) if x not in (axis1, axis2)]
    a = lax.transpose(a, rest + [axis1, axis2])
    lead = _shape(a)[:-2]
    n, m = _shape(a)[-2:]
    length = _diagonal_length(n, m, offset)
    flat = lax.reshape(a, lead + (n * m,))
    start = (offset if offset >= 0 else -offset * m) if length else 0
    limit = start + (length - 1) * (m + 1) + 1 if length else 0
    return P.registry["slice"].bind(flat, start_indices=(0,) * len(lead) + (start,),
                                    limit_indices=lead + (limit,),
                                    strides=(1,) * len(lead) + (m + 1,))


def trace(a, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype=None, out=None):
    """Sum along the ``offset`` diagonal over axes (axis1, axis2).

    Example:
      >>> fx.numpy.trace(fx.numpy.eye(3))   # 3.0
    """
    if out is not None:
        raise NotImplementedError("fx.numpy.trace does not support out=")
    return C.sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


def diag(v, k: int = 0):
    """The k-th diagonal of a 2-D array, or a 2-D array with 1-D ``v`` on it.

    Example:
      >>> fx.numpy.diag(fx.numpy.array([1, 2]))   # [[1, 0], [0, 2]]
    """
    v = C.asarray(v)
    k = int(core.concrete_or_error(k, "a traced diagonal offset"))
    shape = _shape(v)
    if len(shape) == 2:
        return diagonal(v, k)
    if len(shape) != 1:
        raise ValueError(f"diag: input must be 1-D or 2-D, got shape {shape}")
    length = shape[0]
    n = length + builtins.abs(k)
    start = k if k >= 0 else -k * n
    if length == 0:
        return C.zeros((n, n), get_aval(v).dtype)
    high = n * n - start - ((length - 1) * (n + 1) + 1)
    zero = np.array(0, get_aval(v).dtype)[()]
    flat = P.registry["pad"].bind(v, zero, padding_config=((start, high, n),))
    return lax.reshape(flat, (n, n))


def diagflat(v, k: int = 0):
    """A 2-D array with the flattened ``v`` on its k-th diagonal.

    Example:
      >>> fx.numpy.diagflat(fx.numpy.ones((2, 2))).shape   # (4, 4)
    """
    return diag(C.ravel(C.asarray(v)), k)


def _tri_mask(n: int, m: int, k: int, lower: bool):
    rows = lax.broadcasted_iota(dtypes.int32, (n, m), 0)
    cols = lax.broadcasted_iota(dtypes.int32, (n, m), 1)
    shifted = lax.add(rows, np.int32(k))
    return lax.ge(shifted, cols) if lower else lax.le(shifted, cols)


def tri(N: int, M: int | None = None, k: int = 0, dtype=None):
    """An N x M array with ones at and below the k-th diagonal.

    Example:
      >>> fx.numpy.tri(3, k=-1)   # ones strictly below the diagonal
    """
    M = N if M is None else M
    dtype = dtypes.canonicalize_dtype(float if dtype is None else dtype)
    return lax.convert_element_type(_tri_mask(int(N), int(M), int(k), True), dtype)


def _triangle(m, k, lower: bool, name: str):
    m = C.asarray(m)
    shape = _shape(m)
    if len(shape) < 2:
        raise ValueError(f"{name} requires an array of rank >= 2, got shape {shape}")
    k = int(core.concrete_or_error(k, f"a traced {name} offset"))
    mask = _tri_mask(shape[-2], shape[-1], k, lower)
    if len(shape) > 2:
        mask = lax.broadcast_in_dim(mask, shape, (len(shape) - 2, len(shape) - 1))
    zeros = lax.full_like(m, 0)
    return lax.select_n(mask, zeros, m)


def tril(m, k: int = 0):
    """``m`` with the entries above the k-th diagonal zeroed (last two axes).

    Example:
      >>> fx.numpy.tril(fx.numpy.ones((3, 3)))
    """
    return _triangle(m, k, True, "tril")


def triu(m, k: int = 0):
    """``m`` with the entries below the k-th diagonal zeroed (last two axes).

    Example:
      >>> fx.numpy.triu(fx.numpy.ones((3, 3)), 1)
    """
    return _triangle(m, k, False, "triu")


def matrix_transpose(x, /):
    """Swap the last two axes of ``x`` (rank >= 2).

    Example:
      >>> fx.numpy.matrix_transpose(fx.numpy.ones((2, 3, 4))).shape   # (2, 4, 3)
    """
    x = C.asarray(x)
    nd = len(_shape(x))
    if nd < 2:
        raise ValueError(f"matrix_transpose requires an array of rank >= 2, got shape "
                         f"{_shape(x)}")
    perm = list(range(nd))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    return lax.transpose(x, perm)


# ---------------------------------------------------------------------------
# einsum


def _parse_einsum(subscripts: str, shapes: Sequence[tuple]):
    """Per-operand label strings and the output labels, with '...' expanded into
    labels of their own (right-aligned, so they broadcast as NumPy does)."""
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        lhs, out = subscripts.split("->")
        if "->" in out:
            raise ValueError(f"einsum: subscripts {subscripts!r} contain '->' more than once")
    else:
        lhs, out = subscripts, None
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(terms)} operands, got "
                         f"{len(shapes)}")
    for t in terms + ([out] if out is not None else []):
        bad = [c for c in t.replace("...", "") if c not in string.ascii_letters]
        if bad or t.count("...") > 1:
            raise ValueError(f"einsum: invalid subscript term {t!r} in {subscripts!r}")
    ellipsis_rank = 0
    for t, s in zip(terms, shapes, strict=True):
        explicit = len(t.replace("...", ""))
        if "..." in t:
            if explicit > len(s):
                raise ValueError(f"einsum: term {t!r} has more labels than the operand's "
                                 f"rank {len(s)}")
            ellipsis_rank = builtins.max(ellipsis_rank, len(s) - explicit)
        elif explicit != len(s):
            raise ValueError(f"einsum: term {t!r} has {explicit} labels but its operand has "
                             f"shape {s}")
    ell = [chr(0x3b1 + i) for i in range(ellipsis_rank)]   # labels no user can type

    def expand(t, rank):
        if "..." not in t:
            return list(t)
        head, tail = t.split("...")
        n = rank - len(head) - len(tail)
        return list(head) + ell[ellipsis_rank - n:] + list(tail)

    labels = [expand(t, len(s)) for t, s in zip(terms, shapes, strict=True)]
    if out is None:
        counts: dict[str, int] = {}
        for lab in labels:
            for c in lab:
                counts[c] = counts.get(c, 0) + 1
        used_ell = [c for c in ell if c in counts]
        out_labels = used_ell + sorted(c for c, n in counts.items()
                                       if n == 1 and c not in ell)
    else:
        out_labels = expand(out, ellipsis_rank + len(out.replace("...", ""))) \
            if "..." in out else list(out)
        if len(set(out_labels)) != len(out_labels):
            raise ValueError(f"einsum: output subscript {out!r} repeats a label")
        every = set(c for lab in labels for c in lab)
        for c in out_labels:
            if c not in every:
                raise ValueError(f"einsum: output label {c!r} does not appear in the inputs "
                                 f"of {subscripts!r}")
    return labels, out_labels


def _sublist_to_subscripts(args):
    """NumPy's interleaved form ``einsum(a, [0, 1], b, [1, 2], [0, 2])``."""
    if len(args) % 2 == 1:
        operands, terms, out = list(args[0:-1:2]), list(args[1:-1:2]), args[-1]
    else:
        operands, terms, out = list(args[0::2]), list(args[1::2]), None

    def letters(term):
        return "".join("..." if x is Ellipsis else string.ascii_letters[int(x)] for x in term)

    text = ",".join(letters(t) for t in terms)
    if out is not None:
        text += "->" + letters(out)
    return text, operands


def _take_diagonal(x, labels):
    """Collapse repeated labels of one operand onto their diagonal (the last of the
    repeated axes is kept), masking with iota comparisons as JAX does."""
    while True:
        repeated = next((c for c in labels if labels.count(c) > 1), None)
        if repeated is None:
            return x, labels
        axes = [i for i, c in enumerate(labels) if c == repeated]
        shape = _shape(x)
        iotas = [lax.broadcasted_iota(dtypes.uint32, shape, ax) for ax in axes]
        mask = None
        for other in iotas[1:]:
            same = lax.eq(iotas[0], other)
            mask = same if mask is None else lax.bitwise_and(mask, same)
        x = lax.select_n(mask, lax.full_like(x, 0), x)
        x = lax.reduce_sum(x, axes[:-1])
        labels = [c for i, c in enumerate(labels) if i not in axes[:-1]]


def _pair_labels(la, lb, others):
    """Labels of dot_general(la, lb): kept shared labels, then la's, then lb's free ones."""
    shared = [c for c in la if c in lb]
    return [c for c in shared if c in others] + [c for c in la if c not in shared] + [
        c for c in lb if c not in shared]


def _operand_order(la, lb, others, out_labels, i, j):
    """(i, j) or (j, i): whichever leaves the result closer to the output's order."""
    rank = {c: k for k, c in enumerate(out_labels)}

    def inversions(labels):
        pos = [rank.get(c, len(rank)) for c in labels]
        return builtins.sum(1 for x in range(len(pos)) for y in range(x + 1, len(pos))
                            if pos[x] > pos[y])

    if inversions(_pair_labels(lb, la, others)) < inversions(_pair_labels(la, lb, others)):
        return j, i
    return i, j


def einsum(subscripts, /, *operands, out=None, optimize="auto", precision=None,
           preferred_element_type=None, _dot_general=None, out_sharding=None):
    """Einstein summation: ``einsum('ij,jk->ik', a, b)`` is ``a @ b``.

    Supports '...', repeated labels within an operand (diagonals), implicit output
    (labels used once, sorted), and NumPy's interleaved operand/sublist form.
    Operands are contracted pairwise, smallest intermediate first; each step is
    one ``dot_general``.

    Args:
      subscripts: the label string (or the first operand in the interleaved form).
      operands: the arrays.
      precision, preferred_element_type: as for ``fx.lax.dot_general``.

    Returns:
      The contraction.

    Example:
      >>> fx.numpy.einsum('bij,bjk->bik', x, y)   # batched matrix product
    """
    if out is not None:
        raise NotImplementedError("fx.numpy.einsum does not support out=")
    if not isinstance(subscripts, str):
        subscripts, operands = _sublist_to_subscripts((subscripts,) + operands)
    if not operands:
        raise ValueError("einsum: at least one operand is required")
    arrays, preferred, weak = _prepare_all(operands, preferred_element_type)
    labels, out_labels = _parse_einsum(subscripts, [_shape(a) for a in arrays])
    sizes: dict[str, int] = {}
    for a, lab in zip(arrays, labels, strict=True):
        for c, s in zip(lab, _shape(a), strict=True):
            if sizes.get(c, 1) != 1 and s != 1 and sizes[c] != s:
                raise ValueError(f"einsum: label {c!r} has sizes {sizes[c]} and {s} in "
                                 f"{subscripts!r}")
            sizes[c] = builtins.max(sizes.get(c, 1), s)
    # per operand: diagonals, broadcast (size-1) axes, labels used nowhere else
    items = []
    for a, lab in zip(arrays, labels, strict=True):
        a, lab = _take_diagonal(a, list(lab))
        ones = [i for i, c in enumerate(lab) if _shape(a)[i] == 1 and sizes[c] != 1]
        if ones:
            a = lax.squeeze(a, ones)
            lab = [c for i, c in enumerate(lab) if i not in ones]
        items.append([a, lab])
    for k, item in enumerate(items):
        elsewhere = set(out_labels).union(*(set(o[1]) for j, o in enumerate(items) if j != k))
        lonely = [i for i, c in enumerate(item[1]) if c not in elsewhere]
        if lonely:
            item[0] = lax.reduce_sum(item[0], lonely)
            item[1] = [c for i, c in enumerate(item[1]) if i not in lonely]
    # pairwise contraction, smallest result first
    while len(items) > 1:
        best = None
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                others = set(out_labels).union(*(set(o[1]) for t, o in enumerate(items)
                                                 if t not in (i, j)))
                kept = [c for c in dict.fromkeys(items[i][1] + items[j][1]) if c in others]
                cost = int(np.prod([sizes[c] for c in kept], dtype=np.float64))
                if best is None or cost < best[0]:
                    best = (cost, i, j, others)
        _, i, j, others = best
        i, j = _operand_order(items[i][1], items[j][1], others, out_labels, i, j)
        (a, la), (b, lb_) = items[i], items[j]
        shared = [c for c in la if c in lb_]
        batch = [c for c in shared if c in others]
        contract = [c for c in shared if c not in others]
        result = _dot(a, b, [la.index(c) for c in contract], [lb_.index(c) for c in contract],
                      [la.index(c) for c in batch], [lb_.index(c) for c in batch],
                      precision, preferred)
        new_labels = _pair_labels(la, lb_, others)
        items = [o for t, o in enumerate(items) if t not in (i, j)] + [[result, new_labels]]
    result, lab = items[0]
    # labels outside the output that survived (single operand) were summed above
    perm = [lab.index(c) for c in out_labels]
    result = lax.transpose(result, perm) if perm != list(range(len(lab))) else result
    missing = [c for c in out_labels if c not in lab]
    if missing:   # pragma: no cover - every output label comes from some operand
        raise AssertionError(missing)
    if get_aval(result).dtype != preferred:
        result = lax.convert_element_type(result, preferred)
    return _finish(result, weak)
