"""Derivative rules of the scatters (registered on the primitives of
``primitives.indexing`` when it is imported): scatter-add and scatter-sub are linear
(transposes are gathers), scatter/scatter-mul/scatter-min/scatter-max have jvps
written with selects and scatter-adds, so reverse mode needs only those transposes.

Invariants: a rule never materialises zeros for a symbolic ``Zero`` tangent it can
pass through; scatter ids (``_update_ids``) resolve duplicate indices as the eager
impl does (the last update wins for ``scatter``).
"""
from __future__ import annotations

import math

import numpy as np

from fx.core import Zero, is_undefined_primal
from primitives import _rules as R
from primitives.indexing import (_FILL, _gather_dnums_for_scatter, _gather_params,
                                 _scatter_slice_sizes, gather_p, scatter_add_p, scatter_max_p,
                                 scatter_min_p, scatter_mul_p, scatter_p, scatter_sub_p,
                                 scatter_update_jaxpr)

# ---------------------------------------------------------------------------
# differentiation helpers


def _tangent_zero(x):
    return Zero(R.aval_of(x).to_tangent_aval())


def _zeros(shape, dtype):
    return R.full(shape, 0, dtype)


def _scatter_bind(p, operand, indices, updates, params):
    params = dict(params)
    if p is not scatter_p:
        params["update_jaxpr"] = scatter_update_jaxpr(
            {scatter_add_p: "add", scatter_sub_p: "sub", scatter_mul_p: "mul",
             scatter_min_p: "min", scatter_max_p: "max"}[p], R.dtype_of(operand))
        params["update_consts"] = ()
    else:
        params.setdefault("update_jaxpr", None)
        params.setdefault("update_consts", ())
    return p.bind(operand, indices, updates, **params)


def _gather_of_updates(x, indices, updates_shape, dn, mode, fill_zero=True,
                       indices_are_sorted=False, unique_indices=False):
    """Gather from ``x`` the elements each update of a scatter with ``dn`` targets."""
    sizes = _scatter_slice_sizes(R.shape_of(x), updates_shape, dn)
    fill = 0 if (mode is _FILL and fill_zero) else None
    return gather_p.bind(x, indices, **_gather_params(
        _gather_dnums_for_scatter(dn), sizes, mode, fill, indices_are_sorted, unique_indices))


def _scatter_params(params):
    return {k: v for k, v in params.items() if k not in ("update_jaxpr", "update_consts")}


# scatter-add, scatter-sub: linear in (operand, updates)

def _additive_jvp(p):
    def jvp(primals, tangents, **params):
        operand, indices, updates = primals
        t_op, _, t_up = tangents
        out = p.bind(operand, indices, updates, **params)
        if type(t_op) is Zero and type(t_up) is Zero:
            return out, _tangent_zero(out)
        return out, p.bind(R.instantiate(t_op), indices, R.instantiate(t_up), **params)
    return jvp


def _additive_transpose(negate):
    def transpose(ct, operand, indices, updates, *, dimension_numbers, indices_are_sorted=False,
                  unique_indices=False, mode=None, update_jaxpr=None, update_consts=()):
        if is_undefined_primal(indices):
            raise ValueError("scatter is not linear in its indices")
        op_undef, up_undef = is_undefined_primal(operand), is_undefined_primal(updates)
        up_aval = updates.aval if up_undef else R.aval_of(updates)
        op_aval = operand.aval if op_undef else R.aval_of(operand)
        if type(ct) is Zero:
            return [Zero(op_aval.to_tangent_aval()) if op_undef else None, None,
                    Zero(up_aval.to_tangent_aval()) if up_undef else None]
        ct_op = ct if op_undef else None
        ct_up = None
        if up_undef:
            ct_up = _gather_of_updates(ct, indices, up_aval.shape, dimension_numbers, mode,
                                       indices_are_sorted=indices_are_sorted,
                                       unique_indices=unique_indices)
            if negate:
                ct_up = R.neg(ct_up)
        return [ct_op, None, ct_up]
    return transpose


scatter_add_p.def_jvp(_additive_jvp(scatter_add_p))
scatter_add_p.def_transpose(_additive_transpose(False))
scatter_sub_p.def_jvp(_additive_jvp(scatter_sub_p))
scatter_sub_p.def_transpose(_additive_transpose(True))


# scatter (set)

def _update_ids(indices, updates_shape, dn):
    """1 + the position of each update window among all windows, in the updates' shape."""
    batch_shape = R.shape_of(indices)[:-1]
    n = math.prod(batch_shape)
    ids = R.registry["iota"].bind(dtype=np.dtype(np.int32), shape=(n,), dimension=0,
                                  sharding=None)
    ids = R.reshape(R.add(ids, np.int32(1)), batch_shape)
    scatter_dims = tuple(d for d in range(len(updates_shape)) if d not in dn.update_window_dims)
    return R.broadcast_in_dim(ids, tuple(updates_shape), scatter_dims)


def _scatter_jvp(primals, tangents, **params):
    operand, indices, updates = primals
    t_op, _, t_up = tangents
    if params.get("update_jaxpr") is not None:
        raise NotImplementedError("scatter_apply JVP not implemented: differentiate "
                                  "x.at[idx].set(f(x[idx])) instead")
    out = scatter_p.bind(operand, indices, updates, **params)
    if type(t_op) is Zero and type(t_up) is Zero:
        return out, _tangent_zero(out)
    if params["unique_indices"]:
        return out, scatter_p.bind(R.instantiate(t_op), indices, R.instantiate(t_up), **params)
    # With repeated indices only one update wins at each position: find out which by
    # scattering window ids, then express the tangent with selects and a scatter-add.
    dn, mode = params["dimension_numbers"], params["mode"]
    op_shape, up_shape = R.shape_of(operand), R.shape_of(updates)
    ids = _update_ids(indices, up_shape, dn)
    scattered_ids = scatter_p.bind(_zeros(op_shape, np.int32), indices, ids, **params)
    winners = _gather_of_updates(scattered_ids, indices, up_shape, dn, mode)
    untouched = R.registry["eq"].bind(scattered_ids, np.int32(0))
    won = R.registry["eq"].bind(winners, ids)
    tdtype = R.aval_of(out).to_tangent_aval().dtype
    kept = R.select_n(untouched, _zeros(op_shape, tdtype), R.instantiate(t_op))
    written = R.select_n(won, _zeros(up_shape, tdtype), R.instantiate(t_up))
    return out, _scatter_bind(scatter_add_p, kept, indices, written, _scatter_params(params))


def _scatter_transpose(ct, operand, indices, updates, *, dimension_numbers,
                       indices_are_sorted=False, unique_indices=False, mode=None,
                       update_jaxpr=None, update_consts=()):
    if not unique_indices or update_jaxpr is not None:
        raise NotImplementedError("scatter transpose is only implemented where "
                                  "unique_indices=True")
    op_undef, up_undef = is_undefined_primal(operand), is_undefined_primal(updates)
    up_aval = updates.aval if up_undef else R.aval_of(updates)
    op_aval = operand.aval if op_undef else R.aval_of(operand)
    if type(ct) is Zero:
        return [Zero(op_aval.to_tangent_aval()) if op_undef else None, None,
                Zero(up_aval.to_tangent_aval()) if up_undef else None]
    params = dict(dimension_numbers=dimension_numbers, indices_are_sorted=indices_are_sorted,
                  unique_indices=unique_indices, mode=mode, update_jaxpr=None,
                  update_consts=())
    ct_op = ct_up = None
    if op_undef:
        ct_op = scatter_p.bind(ct, indices, _zeros(up_aval.shape, R.dtype_of(ct)), **params)
    if up_undef:
        ct_up = _gather_of_updates(ct, indices, up_aval.shape, dimension_numbers, mode,
                                   indices_are_sorted=indices_are_sorted,
                                   unique_indices=unique_indices)
    return [ct_op, None, ct_up]


scatter_p.def_jvp(_scatter_jvp)
scatter_p.def_transpose(_scatter_transpose)


# scatter-mul: linear in the operand; in the updates only with unique indices

def _scatter_mul_jvp(primals, tangents, **params):
    operand, indices, updates = primals
    t_op, _, t_up = tangents
    out = scatter_mul_p.bind(operand, indices, updates, **params)
    tangent = _tangent_zero(out)
    if type(t_op) is not Zero:
        tangent = scatter_mul_p.bind(t_op, indices, updates, **params)
    if type(t_up) is not Zero:
        if not params["unique_indices"]:
            raise NotImplementedError(
                "scatter_mul gradients with respect to the updates are only implemented if "
                "`unique_indices=True`")
        spread = _scatter_bind(scatter_add_p, _zeros(R.shape_of(operand), R.dtype_of(t_up)),
                               indices, t_up, _scatter_params(params))
        tangent = R.add_tangents(tangent, R.mul(operand, spread))
    return out, tangent


def _scatter_mul_transpose(ct, operand, indices, updates, **params):
    if is_undefined_primal(updates) or is_undefined_primal(indices):
        raise NotImplementedError("scatter_mul is linear only in its operand; transposing "
                                  "it with respect to the updates is not supported")
    if type(ct) is Zero:
        return [Zero(operand.aval.to_tangent_aval()), None, None]
    return [scatter_mul_p.bind(ct, indices, updates, **params), None, None]


scatter_mul_p.def_jvp(_scatter_mul_jvp)
scatter_mul_p.def_transpose(_scatter_mul_transpose)


# scatter-min, scatter-max: the tangent is shared equally among the values that tie
# for the extremum (the operand's own value and every update that attains it)

def _extremum_jvp(p):
    def jvp(primals, tangents, **params):
        operand, indices, updates = primals
        t_op, _, t_up = tangents
        out = p.bind(operand, indices, updates, **params)
        if type(t_op) is Zero and type(t_up) is Zero:
            return out, _tangent_zero(out)
        dn, mode = params["dimension_numbers"], params["mode"]
        op_shape, up_shape = R.shape_of(operand), R.shape_of(updates)
        dtype = R.aval_of(out).to_tangent_aval().dtype
        eq = R.registry["eq"]
        reached = _gather_of_updates(out, indices, up_shape, dn, mode, fill_zero=False)
        won = eq.bind(updates, reached)
        kept = eq.bind(operand, out)
        zeros_up, zeros_op = _zeros(up_shape, dtype), _zeros(op_shape, dtype)
        plain = _scatter_params(params)
        counts = _scatter_bind(scatter_add_p, zeros_op, indices,
                               R.select_n(won, zeros_up, R.full(up_shape, 1, dtype)), plain)
        counts = R.add(counts, R.select_n(kept, zeros_op, R.full(op_shape, 1, dtype)))
        total = Zero(R.aval_of(out).to_tangent_aval())
        if type(t_op) is not Zero:
            total = R.select_n(kept, zeros_op, t_op)
        if type(t_up) is not Zero:
            total = R.add_tangents(total, _scatter_bind(
                scatter_add_p, zeros_op, indices, R.select_n(won, zeros_up, t_up), plain))
        return out, R.div(total, counts)
    return jvp


scatter_min_p.def_jvp(_extremum_jvp(scatter_min_p))
scatter_max_p.def_jvp(_extremum_jvp(scatter_max_p))
