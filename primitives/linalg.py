"""Matrix products: the ``dot_general`` primitive.

Invariants: ``dimension_numbers`` is ``((lhs_contract, rhs_contract),
(lhs_batch, rhs_batch))``, four tuples of distinct axes, paired position by
position. The output's axes are the batch axes (in the order given), then the
lhs free axes, then the rhs free axes (each in increasing order). The eager
impl always ends in one ``np.matmul`` on (batch, rows, inner) x (batch,
inner, cols) operands, so large products run in BLAS.
"""
from __future__ import annotations

import functools

import numpy as np

from fx import dtypes
from fx.core import ShapedArray, Zero, is_undefined_primal
from primitives import _rules as R
from primitives._rules import ANY, check_dtype, new_primitive

__all__ = ["dot_general_p", "dot_general_dtype", "dot_dimension_numbers", "free_axes"]

dot_general_p = new_primitive("dot_general")


def dot_dimension_numbers(lhs_contract, rhs_contract, lhs_batch=(), rhs_batch=()) -> tuple:
    """``((lhs_contract, rhs_contract), (lhs_batch, rhs_batch))`` as a hashable param.

    Example: ``dot_dimension_numbers((1,), (0,))`` is a matrix product's.
    """
    def axes(xs):
        return tuple(int(x) for x in xs)
    return ((axes(lhs_contract), axes(rhs_contract)), (axes(lhs_batch), axes(rhs_batch)))


def _pp_params(params) -> dict:
    """JAX's printing: axes as lists; precision/preferred type/sharding only when set."""
    (lc, rc), (lb, rb) = params["dimension_numbers"]

    def as_list(axes):
        return "[" + ", ".join(str(a) for a in axes) + "]"

    shown = {"dimension_numbers": f"(({as_list(lc)}, {as_list(rc)}), "
                                  f"({as_list(lb)}, {as_list(rb)}))"}
    for key in ("precision", "preferred_element_type", "out_sharding"):
        if params.get(key) is not None:
            shown[key] = params[key]
    return shown


dot_general_p.pp_params = _pp_params


# ---------------------------------------------------------------------------
# dtype rule: the "higher precision" operand type, as XLA picks it


def _precision_key(dtype: np.dtype) -> tuple:
    complex_ = dtype.kind == "c"
    base = R.real_dtype(dtype)
    if R.kind_of(base) == "f":
        info = dtypes.finfo(base)
        return (complex_, int(info.maxexp), int(info.nmant), base.itemsize * 8, True)
    bits = 1 if base == np.bool_ else base.itemsize * 8
    return (complex_, -1, -1, bits, base.kind != "u")


def _bit_width(dtype: np.dtype) -> int:
    return 1 if dtype == np.bool_ else np.dtype(dtype).itemsize * 8


@functools.lru_cache(maxsize=256)
def dot_general_dtype(lhs_dtype, rhs_dtype, preferred_element_type=None) -> np.dtype:
    """The output dtype of a product of ``lhs_dtype`` and ``rhs_dtype``.

    The operand of higher precision wins (floating beats integer, complex beats
    real, wider beats narrower); ``preferred_element_type`` replaces it, but may
    not be narrower for integer and boolean results.
    """
    lhs_dtype, rhs_dtype = np.dtype(lhs_dtype), np.dtype(rhs_dtype)
    lk, rk = _precision_key(lhs_dtype), _precision_key(rhs_dtype)
    if lk == rk and lhs_dtype != rhs_dtype:
        raise TypeError(f"dot_general cannot combine operand dtypes {lhs_dtype.name} and "
                        f"{rhs_dtype.name}; convert one of them first")
    result = lhs_dtype if lk >= rk else rhs_dtype
    if preferred_element_type is None or np.dtype(preferred_element_type) == result:
        return result
    preferred = np.dtype(preferred_element_type)
    if R.kind_of(result) != "f" and _bit_width(preferred) < _bit_width(result):
        raise TypeError(f"dot_general: preferred_element_type {preferred.name} must not be "
                        f"narrower than the operands' result type {result.name}")
    return preferred


# ---------------------------------------------------------------------------
# shapes


def free_axes(ndim: int, contract, batch) -> tuple:
    """The axes of a rank-``ndim`` operand that are neither contracted nor batch."""
    used = set(contract) | set(batch)
    return tuple(i for i in range(ndim) if i not in used)


def _check_axes(side: str, shape, contract, batch) -> None:
    for what, axes in (("contracting", contract), ("batch", batch)):
        for a in axes:
            if not isinstance(a, (int, np.integer)) or not 0 <= a < len(shape):
                raise TypeError(f"dot_general: {side} {what} dimension {a} is out of range "
                                f"for an operand of shape {tuple(shape)}")
    every = tuple(contract) + tuple(batch)
    if len(set(every)) != len(every):
        raise TypeError(f"dot_general: {side} contracting dimensions {tuple(contract)} and "
                        f"batch dimensions {tuple(batch)} must be distinct")


def _check_shapes(lhs_shape, rhs_shape, dimension_numbers) -> None:
    (lc, rc), (lb, rb) = dimension_numbers
    if len(lc) != len(rc):
        raise TypeError(f"dot_general: lhs contracting dimensions {tuple(lc)} and rhs "
                        f"contracting dimensions {tuple(rc)} must have the same length")
    if len(lb) != len(rb):
        raise TypeError(f"dot_general: lhs batch dimensions {tuple(lb)} and rhs batch "
                        f"dimensions {tuple(rb)} must have the same length")
    _check_axes("lhs", lhs_shape, lc, lb)
    _check_axes("rhs", rhs_shape, rc, rb)
    for what, la, ra in (("contracting", lc, rc), ("batch", lb, rb)):
        ls = tuple(lhs_shape[a] for a in la)
        rs = tuple(rhs_shape[a] for a in ra)
        if ls != rs:
            raise TypeError(f"dot_general requires {what} dimensions to have the same shape, "
                            f"got {ls} (lhs shape {tuple(lhs_shape)}) and {rs} (rhs shape "
                            f"{tuple(rhs_shape)})")


@dot_general_p.def_abstract_eval
def _dot_general_abstract_eval(lhs, rhs, *, dimension_numbers, precision=None,
                               preferred_element_type=None, out_sharding=None):
    check_dtype("dot_general", lhs, ANY, "lhs")
    check_dtype("dot_general", rhs, ANY, "rhs")
    (lc, rc), (lb, rb) = dimension_numbers
    _check_shapes(lhs.shape, rhs.shape, dimension_numbers)
    shape = (tuple(lhs.shape[a] for a in lb)
             + tuple(lhs.shape[a] for a in free_axes(lhs.ndim, lc, lb))
             + tuple(rhs.shape[a] for a in free_axes(rhs.ndim, rc, rb)))
    dtype = dot_general_dtype(lhs.dtype, rhs.dtype, preferred_element_type)
    return ShapedArray(shape, dtype, lhs.weak_type and rhs.weak_type)


# ---------------------------------------------------------------------------
# eager impl: one np.matmul on (batch, rows, inner) @ (batch, inner, cols)


@functools.lru_cache(maxsize=256)
def _compute_dtype(lhs_dtype, rhs_dtype, out_dtype) -> np.dtype:
    """The dtype NumPy multiplies in (low-precision floats accumulate in float32)."""
    base = dot_general_dtype(lhs_dtype, rhs_dtype)
    if np.can_cast(base, out_dtype, "safe") and out_dtype != np.bool_:
        base = out_dtype
    if R.kind_of(base) == "f" and base.itemsize < 4:
        return np.dtype(np.float32)
    return base


def _prod(xs) -> int:
    out = 1
    for x in xs:
        out *= int(x)
    return out


@functools.lru_cache(maxsize=1024)
def _matmul_plan(lhs_shape, rhs_shape, dimension_numbers):
    """Permutations and 3-D (or 2-D) shapes that turn the product into one matmul."""
    _check_shapes(lhs_shape, rhs_shape, dimension_numbers)
    (lc, rc), (lb, rb) = dimension_numbers
    lf, rf = free_axes(len(lhs_shape), lc, lb), free_axes(len(rhs_shape), rc, rb)
    batch_shape = tuple(lhs_shape[a] for a in lb)
    lf_shape = tuple(lhs_shape[a] for a in lf)
    rf_shape = tuple(rhs_shape[a] for a in rf)
    inner = _prod(lhs_shape[a] for a in lc)
    rows, cols, nbatch = _prod(lf_shape), _prod(rf_shape), _prod(batch_shape)
    lperm, rperm = tuple(lb) + lf + tuple(lc), tuple(rb) + tuple(rc) + rf
    if lb:
        a_shape, b_shape = (nbatch, rows, inner), (nbatch, inner, cols)
    else:
        a_shape, b_shape = (rows, inner), (inner, cols)
    identity = tuple(range(len(lhs_shape))), tuple(range(len(rhs_shape)))
    return (None if lperm == identity[0] else lperm, None if rperm == identity[1] else rperm,
            a_shape, b_shape, batch_shape + lf_shape + rf_shape)


def _dot_general_impl(lhs, rhs, *, dimension_numbers, precision=None,
                      preferred_element_type=None, out_sharding=None):
    lhs, rhs = np.asarray(lhs), np.asarray(rhs)
    out_dtype = dot_general_dtype(lhs.dtype, rhs.dtype, preferred_element_type)
    compute = _compute_dtype(lhs.dtype, rhs.dtype, out_dtype)
    lperm, rperm, a_shape, b_shape, out_shape = _matmul_plan(lhs.shape, rhs.shape,
                                                             dimension_numbers)
    a = (lhs if lperm is None else lhs.transpose(lperm)).reshape(a_shape)
    b = (rhs if rperm is None else rhs.transpose(rperm)).reshape(b_shape)
    if a.dtype != compute:
        a = a.astype(compute)
    if b.dtype != compute:
        b = b.astype(compute)
    if len(a_shape) == 3:   # NumPy only reaches BLAS for stacked C-contiguous matrices
        a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    else:                   # a single product: BLAS takes C- or Fortran-ordered matrices
        a, b = _blas_layout(a), _blas_layout(b)
    out = np.matmul(a, b).reshape(out_shape)
    return out if out.dtype == out_dtype else out.astype(out_dtype)


def _blas_layout(m):
    flags = m.flags
    return m if flags.c_contiguous or flags.f_contiguous else np.ascontiguousarray(m)


dot_general_p.def_impl(_dot_general_impl)


# ---------------------------------------------------------------------------
# jvp: the product is bilinear


def _bind(lhs, rhs, params):
    return dot_general_p.bind(lhs, rhs, **params)


@dot_general_p.def_jvp
def _dot_general_jvp(primals, tangents, **params):
    lhs, rhs = primals
    lhs_t, rhs_t = tangents
    out = _bind(lhs, rhs, params)
    out_aval = R.aval_of(out)
    tangent = Zero(out_aval.to_tangent_aval())
    if type(lhs_t) is not Zero:
        tangent = R.add_tangents(tangent, _tangent_dtype(_bind(lhs_t, rhs, params), out_aval))
    if type(rhs_t) is not Zero:
        tangent = R.add_tangents(tangent, _tangent_dtype(_bind(lhs, rhs_t, params), out_aval))
    return out, tangent


def _tangent_dtype(t, out_aval):
    return R.convert(t, out_aval.dtype) if R.dtype_of(t) != out_aval.dtype else t


# ---------------------------------------------------------------------------
# transpose: the cotangent of one operand is a product of the output cotangent
# with the other operand, whose axes are then put back in the operand's order.


def _operand_cotangent(ct, other, aval, mine, theirs, mine_is_lhs, params):
    """Cotangent of the operand with axes ``mine = (contract, batch)``.

    ``theirs`` holds the other operand's (contract, batch) axes.
    """
    my_contract, my_batch = mine
    their_contract, their_batch = theirs
    other_aval = R.aval_of(other)
    nbatch = len(my_batch)
    my_free = free_axes(aval.ndim, my_contract, my_batch)
    their_free = free_axes(other_aval.ndim, their_contract, their_batch)
    # where the other operand's free axes sit in ct
    start = nbatch + len(my_free) if mine_is_lhs else nbatch
    ct_their_free = tuple(range(start, start + len(their_free)))
    dims = dot_dimension_numbers(ct_their_free, their_free, range(nbatch), their_batch)
    out_dtype = dot_general_dtype(R.dtype_of(ct), other_aval.dtype)
    if params.get("preferred_element_type") is None and R.dtype_of(ct) == other_aval.dtype:
        out_dtype = None  # JAX passes the product's own (unset) preference through
    product = dot_general_p.bind(ct, other, dimension_numbers=dims,
                                 precision=params.get("precision"),
                                 preferred_element_type=out_dtype,
                                 out_sharding=None)
    # product axes: batch, my free (in order), then my contracting axes in the
    # order of the other operand's matching axes
    order = sorted(range(len(their_contract)), key=lambda i: their_contract[i])
    layout = list(my_batch) + list(my_free) + [my_contract[i] for i in order]
    product = R.transpose(product, tuple(int(i) for i in np.argsort(layout)))
    if R.dtype_of(product) != aval.dtype:
        product = R.convert(product, aval.dtype)
    return product


@dot_general_p.def_transpose
def _dot_general_transpose(ct, lhs, rhs, *, dimension_numbers, **params):
    (lc, rc), (lb, rb) = dimension_numbers
    lhs_undef, rhs_undef = is_undefined_primal(lhs), is_undefined_primal(rhs)
    if lhs_undef and rhs_undef:
        raise ValueError("dot_general is bilinear: it cannot be transposed with respect to "
                         "both operands at once")
    if type(ct) is Zero:
        return [Zero(lhs.aval) if lhs_undef else None, Zero(rhs.aval) if rhs_undef else None]
    if lhs_undef:
        return [_operand_cotangent(ct, rhs, lhs.aval, (lc, lb), (rc, rb), True, params), None]
    return [None, _operand_cotangent(ct, lhs, rhs.aval, (rc, rb), (lc, lb), False, params)]


# ---------------------------------------------------------------------------
# batching: a vmapped axis becomes a batch axis (both operands mapped) or a
# free axis of the operand that is mapped


def _shift(axes, d):
    return tuple(a + 1 if a >= d else a for a in axes)


@dot_general_p.def_batch
def _dot_general_batch(args, dims, *, dimension_numbers, **params):
    lhs, rhs = args
    ld, rd = dims
    (lc, rc), (lb, rb) = dimension_numbers
    if ld is not None and rd is not None:
        new_dims = dot_dimension_numbers(_shift(lc, ld), _shift(rc, rd),
                                         (ld,) + _shift(lb, ld), (rd,) + _shift(rb, rd))
        return dot_general_p.bind(lhs, rhs, dimension_numbers=new_dims, **params), 0
    if ld is not None:
        new_lc, new_lb = _shift(lc, ld), _shift(lb, ld)
        lhs_free = free_axes(R.aval_of(lhs).ndim, new_lc, new_lb)
        out_dim = len(lb) + lhs_free.index(ld)
        new_dims = dot_dimension_numbers(new_lc, rc, new_lb, rb)
        return dot_general_p.bind(lhs, rhs, dimension_numbers=new_dims, **params), out_dim
    new_rc, new_rb = _shift(rc, rd), _shift(rb, rd)
    lhs_nfree = len(free_axes(R.aval_of(lhs).ndim, lc, lb))
    rhs_free = free_axes(R.aval_of(rhs).ndim, new_rc, new_rb)
    out_dim = len(lb) + lhs_nfree + rhs_free.index(rd)
    new_dims = dot_dimension_numbers(lc, new_rc, lb, new_rb)
    return dot_general_p.bind(lhs, rhs, dimension_numbers=new_dims, **params), out_dim
