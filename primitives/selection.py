"""select_n and clamp: the elementwise primitives that keep JAX's strict shape rule
(cases of one shape with a rank-0 or same-shaped selector; bounds rank-0 or the operand's
shape), so they batch with rules of their own rather than the broadcasting batcher.

Invariants: select_n's result is weak only when every case is (the selector's type does not
matter); clamp's is weak when its operand is. Registered right after the rest of
``primitives/elementwise.py``, which re-exports both primitives.
"""
from __future__ import annotations

import numpy as np

from fx import dtypes
from fx.core import ShapedArray, Zero
from primitives import _rules as R
from primitives._rules import FLOAT, INT, check_dtype, new_primitive
from primitives.elementwise import (_full_like, _nary_jvp, _same_dtype, and_p, ge_p, gt_p,
                                    le_p, lt_p, not_p)

# ---------------------------------------------------------------------------
# select_n


select_n_p = new_primitive("select_n")


@select_n_p.def_abstract_eval
def _select_n_abstract_eval(which, *cases):
    if not cases:
        raise TypeError("select_n needs at least one case")
    if which.dtype != dtypes.bool_ and which.dtype != dtypes.int32:
        raise TypeError(f"select_n's selector must be bool or int32, got {which.dtype.name}")
    if which.dtype == dtypes.bool_ and len(cases) > 2:
        raise TypeError(f"select_n with a bool selector takes at most 2 cases, got {len(cases)}")
    _same_dtype("select_n", cases)
    shapes = {c.shape for c in cases}
    if len(shapes) != 1:
        raise TypeError(f"select_n cases must have the same shapes, got {[c.shape for c in cases]}")
    shape = cases[0].shape
    if which.shape and which.shape != shape:
        raise TypeError(f"select_n selector shape {which.shape} must be rank-0 or equal to the "
                        f"case shape {shape}")
    return ShapedArray(shape, cases[0].dtype, all(c.weak_type for c in cases))


def _select_n_impl(which, *cases):
    if len(cases) == 1:
        return np.asarray(cases[0])
    if which.dtype == np.bool_:
        return np.where(which, cases[1], cases[0])
    return np.choose(np.clip(which, 0, len(cases) - 1), np.broadcast_arrays(*cases))


select_n_p.def_impl(_select_n_impl)
# the result is weak only when every case is (the selector's type does not matter)
select_n_p.weak_type_rule = lambda args: all(
    getattr(a, "weak_type", dtypes.is_weak_scalar(a))
    for a in args[1:])


@select_n_p.def_jvp
def _select_n_jvp(primals, tangents):
    which, *cases = primals
    out = select_n_p.bind(which, *cases)
    case_tangents = tangents[1:]
    if all(type(t) is Zero for t in case_tangents):
        return out, Zero(R.aval_of(out).to_tangent_aval())
    return out, select_n_p.bind(which, *[R.instantiate(t) for t in case_tangents])


@select_n_p.def_transpose
def _select_n_transpose(ct, which, *cases):
    if R.core.is_undefined_primal(which):
        raise ValueError("select_n is not linear in its selector")
    if type(ct) is Zero:
        return [None] + [Zero(c.aval) if R.core.is_undefined_primal(c) else None
                         for c in cases]
    zero = _full_like(ct, 0)  # weak when ct is, as JAX's full_like
    outs = [None]
    for i, c in enumerate(cases):
        if R.core.is_undefined_primal(c):
            branches = [zero] * len(cases)
            branches[i] = ct
            outs.append(select_n_p.bind(which, *branches))
        else:
            outs.append(None)
    return outs


def _example_shape(x, d):
    shape = R.shape_of(x)
    return shape if d is None else shape[:d] + shape[d + 1:]


@select_n_p.def_batch
def _select_n_batch(args, dims):
    # JAX's order of cases, so the batched jaxprs print as JAX's: a selector and cases
    # batched alike stay in place; a rank-0 selector leaves batched cases where the first
    # has its batch dim; otherwise the batch dim goes first, the selector before the cases
    # (an unbatched operand broadcast with NumPy-integer dims, as JAX's broadcast).
    (which, *cases), (which_dim, *case_dims) = args, dims
    size = R.batch_size(args, dims)
    which_shape = R.shape_of(which)
    if all(cd == which_dim for cd in case_dims):
        if which_shape != R.shape_of(cases[0]):  # a rank-0 selector per example
            which = R.broadcast_in_dim(which, R.shape_of(cases[0]), (which_dim,))
        return select_n_p.bind(which, *cases), which_dim
    if not which_shape and all(cd is not None for cd in case_dims):
        d = case_dims[0]
        cases = [cases[0]] + [c if cd == d else R.moveaxis(c, cd, d)
                              for c, cd in zip(cases[1:], case_dims[1:])]
        return select_n_p.bind(which, *cases), d
    if which_shape:
        which = _to_front(which, which_dim, size)
    if any(R.shape_of(c) for c in cases) or which_shape:
        cases = [_to_front(c, cd, size) for c, cd in zip(cases, case_dims)]
    case_shape = R.shape_of(cases[0])
    if 0 < len(R.shape_of(which)) < len(case_shape):  # a rank-0 selector per example
        which = R.broadcast_in_dim(which, case_shape, (0,))
    return select_n_p.bind(which, *cases), 0


def _to_front(x, d, size):
    """``x`` with its batch dim first; unbatched, broadcast with ``np.int64`` dims as JAX's
    (NumPy-built) broadcast prints them."""
    if d is not None:
        return R.moveaxis(x, d, 0)
    s = R.shape_of(x)
    return R.broadcast_in_dim(x, (size,) + s, tuple(np.arange(1, len(s) + 1, dtype=np.int64)))


# ---------------------------------------------------------------------------
# clamp


def _zeros_where(mask, t):
    """``t`` where ``mask`` is False, 0 where True."""
    zero = R.full(R.shape_of(t), 0, R.dtype_of(t))
    return R.select_n(mask, t, zero)


clamp_p = new_primitive("clamp")


@clamp_p.def_abstract_eval
def _clamp_abstract_eval(lo, x, hi):
    _same_dtype("clamp", (lo, x, hi))
    check_dtype("clamp", x, FLOAT + INT)
    for name, b in (("min", lo), ("max", hi)):
        if b.shape and b.shape != x.shape:
            raise TypeError(f"clamp's {name} must be rank-0 or match the operand shape "
                            f"{x.shape}, got {b.shape}")
    return ShapedArray(x.shape, x.dtype, x.weak_type)


clamp_p.def_impl(lambda lo, x, hi: np.asarray(np.minimum(np.maximum(x, lo), hi)))


def _clamp_jvp_x(t, lo, x, hi, z):
    inside = and_p.bind(ge_p.bind(x, lo), le_p.bind(x, hi))
    return _zeros_where(not_p.bind(inside), t)


def _clamp_jvp_lo(t, lo, x, hi, z):
    return _zeros_where(not_p.bind(gt_p.bind(lo, x)), R.broadcast_to(t, R.shape_of(z)))


def _clamp_jvp_hi(t, lo, x, hi, z):
    return _zeros_where(not_p.bind(lt_p.bind(hi, x)), R.broadcast_to(t, R.shape_of(z)))


clamp_p.def_jvp(_nary_jvp(clamp_p, (_clamp_jvp_lo, _clamp_jvp_x, _clamp_jvp_hi)))


@clamp_p.def_batch
def _clamp_batch(args, dims):
    # The operand fixes the shape; bounds are rank-0 (kept when unbatched) or that shape.
    (lo, x, hi), (lo_dim, x_dim, hi_dim) = args, dims
    size = R.batch_size(args, dims)
    full = (size,) + _example_shape(x, x_dim)
    x = R.bdim_to_front(x, x_dim, size)

    def bound(b, d):
        if d is None and not R.shape_of(b):
            return b
        b = R.bdim_to_front(b, d, size)
        return b if R.shape_of(b) == full else R.broadcast_in_dim(b, full, (0,))

    return clamp_p.bind(bound(lo, lo_dim), x, bound(hi, hi_dim)), 0
