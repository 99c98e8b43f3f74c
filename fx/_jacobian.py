"""Jacobians and Hessians: jacfwd (vmapped jvp over basis tangents), jacrev (vmapped vjp
over basis cotangents), jacobian, hessian.

Invariants: the basis holds one identity block per flattened input (or output), each in
that leaf's dtype and weak type; every Jacobian block is given JAX's dtype (the output's
for jacfwd, the input's for jacrev). The argument checks and the transformations
themselves live in ``fx.api``, which re-exports these names.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from fx import api, dtypes, tree_util
from fx.array import Array
from fx.core import ShapedArray, get_aval

def _std_basis(flat_avals):
    """Identity rows for the concatenation of the flattened inputs, each block of its
    input's dtype and weak type (as JAX's basis)."""
    sizes = [a.size for a in flat_avals]
    total = int(sum(sizes))
    dtype = dtypes.result_type(*[a.dtype for a in flat_avals]) if flat_avals else \
        dtypes.float32
    eye = np.eye(total, dtype=dtype)
    outs, start = [], 0
    for a, n in zip(flat_avals, sizes):
        outs.append(Array(np.ascontiguousarray(eye[:, start:start + n]).reshape(
            (total,) + a.shape).astype(a.dtype), a.weak_type))
        start += n
    return outs, total


def jacfwd(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False):
    """The Jacobian of ``fun`` by forward mode (vmapped jvp over basis tangents).

    Example:
      >>> fx.jacfwd(fx.numpy.sin)(fx.numpy.zeros(3))  # diag(cos(0))
    """
    api._check_callable(fun, "jacfwd")

    def jacfun(*args, **kwargs):
        single, nums = api._normalize_argnums(argnums, len(args), "jacfwd")
        dyn, rebuild = api._split_args(args, nums)
        flat_dyn, dyn_tree = tree_util.tree_flatten(dyn)
        for leaf in flat_dyn:
            _check_jac_input(leaf, holomorphic, "jacfwd")
        avals = [get_aval(x) for x in flat_dyn]
        basis, total = _std_basis(avals)
        store: dict[str, Any] = {}

        def pushfwd(*flat_t):
            tangents = tree_util.tree_unflatten(dyn_tree, flat_t)
            res = api.jvp(lambda *d: fun(*rebuild(d), **kwargs), tuple(dyn), tuple(tangents),
                      has_aux=has_aux)
            if not has_aux:
                return res
            traced, store["aux_rebuild"] = api._aux_leaves(res[2])  # other aux leaves as-is
            return res[0], res[1], traced

        results = api.vmap(pushfwd, in_axes=0, out_axes=-1)(*basis) if total else None
        if has_aux:
            y, jac, traced = results
            aux = store["aux_rebuild"]([a[..., 0] for a in traced])
        else:
            y, jac = results
        if holomorphic:
            for leaf in tree_util.tree_leaves(y):
                if not dtypes.is_complex(get_aval(leaf).dtype):
                    raise TypeError("jacfwd with holomorphic=True requires outputs with "
                                    f"complex dtype, but got {get_aval(leaf).dtype.name}.")
        jac = tree_util.tree_map(
            lambda y_leaf, jac_leaf: _unravel_jac(jac_leaf, avals, dyn_tree, single, True,
                                                  [get_aval(y_leaf)] * len(avals)), y, jac)
        return (jac, aux) if has_aux else jac

    return jacfun


def _check_jac_input(x, holomorphic, name):
    """jacfwd's input check: real inputs, complex ones only with ``holomorphic``."""
    dtype = get_aval(api._check_leaf(x, name)).dtype
    if holomorphic and not dtypes.is_complex(dtype):
        raise TypeError(f"{name} with holomorphic=True requires inputs with complex dtype, "
                        f"but got {dtype.name}.")
    if not holomorphic and not dtypes.is_float(dtype):
        raise TypeError(f"{name} requires real-valued inputs (input dtype that is a sub-dtype "
                        f"of np.floating), but got {dtype.name}. For holomorphic "
                        "differentiation, pass holomorphic=True.")


def _unravel_jac(out_leaf, in_avals, in_tree, single, last, examples):
    """Split the basis axis (last or first) of the Jacobian leaf ``out_leaf`` into one block
    per input leaf, block i given the dtype and weak type of ``examples[i]`` (JAX's rule:
    the output's for jacfwd, the input's for jacrev; complex blocks of a real example keep
    their real part)."""
    from fx import numpy as fnp

    blocks, start = [], 0
    out_shape = get_aval(out_leaf).shape
    for a, example in zip(in_avals, examples):
        n = a.size
        if last:
            block = out_leaf[..., start:start + n]
            block = fnp.reshape(block, out_shape[:-1] + a.shape)
        else:
            block = out_leaf[start:start + n]
            block = fnp.reshape(block, a.shape + out_shape[1:])
        blocks.append(_downcast(block, example))
        start += n
    tree = tree_util.tree_unflatten(in_tree, blocks)
    return tree[0] if single else tree


def _downcast(x, example: ShapedArray):
    """``x`` in the dtype and weak type of ``example`` (its real part for a real one)."""
    from fx import lax
    if dtypes.is_complex(get_aval(x).dtype) and not dtypes.is_complex(example.dtype):
        x = lax.real(x)
    return lax._convert_element_type(x, example.dtype, example.weak_type)


def jacrev(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False, allow_int: bool = False):
    """The Jacobian of ``fun`` by reverse mode (vmapped vjp over basis cotangents).

    Example:
      >>> fx.jacrev(fx.numpy.sin)(fx.numpy.zeros(3))
    """
    api._check_callable(fun, "jacrev")

    def jacfun(*args, **kwargs):
        single, nums = api._normalize_argnums(argnums, len(args), "jacrev")
        dyn, rebuild = api._split_args(args, nums)
        flat_dyn, dyn_tree = tree_util.tree_flatten(dyn)
        for leaf in flat_dyn:
            api._check_grad_input(leaf, None, holomorphic, allow_int, "jacrev")
        in_avals = [get_aval(x) for x in flat_dyn]
        if has_aux:
            y, pullback, aux = api.vjp(lambda *d: fun(*rebuild(d), **kwargs), *dyn, has_aux=True)
        else:
            y, pullback = api.vjp(lambda *d: fun(*rebuild(d), **kwargs), *dyn)
        flat_y, y_tree = tree_util.tree_flatten(y)
        y_avals = [get_aval(o) for o in flat_y]
        for a in y_avals:
            api._check_output_dtype(a, holomorphic, "jacrev")
        basis, total = _std_basis(y_avals)

        def pull(*flat_ct):
            return pullback(tree_util.tree_unflatten(y_tree, flat_ct))

        cts = api.vmap(pull)(*basis)  # tuple over dyn args, leaves with leading basis axis
        flat_cts = tree_util.tree_leaves(cts)
        # jac[y_leaf][x_leaf] with shape y.shape + x.shape, of x's dtype and weak type
        from fx import numpy as fnp
        per_y = []
        start = 0
        for ya in y_avals:
            n = ya.size
            blocks = [_downcast(fnp.reshape(c[start:start + n], ya.shape + xa.shape), xa)
                      for c, xa in zip(flat_cts, in_avals)]
            tree = tree_util.tree_unflatten(dyn_tree, blocks)
            per_y.append(tree[0] if single else tree)
            start += n
        jac = tree_util.tree_unflatten(y_tree, per_y)
        return (jac, aux) if has_aux else jac

    return jacfun


jacobian = jacrev


def hessian(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
            holomorphic: bool = False):
    """The Hessian of scalar ``fun``: ``jacfwd(jacrev(fun))``."""
    return jacfwd(jacrev(fun, argnums, has_aux=has_aux, holomorphic=holomorphic), argnums,
                  has_aux=has_aux, holomorphic=holomorphic)
