"""The user-facing transformations: jvp, linearize, vjp, grad, value_and_grad,
jacfwd, jacrev, hessian, linear_transpose, vmap, make_jaxpr, eval_shape.

Invariants: every transformation flattens its pytree arguments, checks them
(raising TypeError/ValueError naming the argument before any work), runs a
flat function under the interpreters, and unflattens the results.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Sequence

import numpy as np

from fx import _ref_scope, _ref_vmap, core, dtypes, tree_util
from fx.array import Array
from fx.core import ClosedJaxpr, ShapeDtypeStruct, ShapedArray, Tracer, Zero, get_aval
from fx.interpreters import ad, batching
from fx.interpreters import partial_eval as pe
from fx.ref import Ref
from primitives import _rules as R
from primitives import collectives

# ---------------------------------------------------------------------------
# argument handling


def _check_leaf(x, fn_name: str, what: str = "argument"):
    if isinstance(x, (Array, Tracer)):
        return x
    if isinstance(x, (np.ndarray, np.generic, bool, int, float, complex)):
        from fx.numpy import asarray
        return asarray(x)
    if hasattr(x, "__jax_array__"):
        return x.__jax_array__()
    raise TypeError(f"{fn_name}: {what} {x!r} of type {type(x).__name__} is not a valid fx "
                    "type; expected arrays, scalars, or pytrees (tuples, lists, dicts, "
                    "registered classes) of them")


def _to_array(x):
    """Outputs handed back to users are fx arrays, never NumPy scalars."""
    if isinstance(x, (np.ndarray, np.generic)):
        return Array(np.asarray(x))
    if isinstance(x, (bool, int, float, complex)):
        from fx.numpy import asarray
        return asarray(x)
    return x


def _flatten_fun(fun, in_tree, *, kwargs=None):
    """A flat version of ``fun`` and a cell that receives the output treedef."""
    store: dict[str, Any] = {}

    def flat(*flat_args):
        args = tree_util.tree_unflatten(in_tree, flat_args)
        out = fun(*args, **(kwargs or {}))
        flat_out, out_tree = tree_util.tree_flatten(out)
        store["tree"] = out_tree
        return flat_out

    return flat, store


def _normalize_argnums(argnums, nargs: int, fn_name: str):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for n in nums:
        if not isinstance(n, (int, np.integer)):
            raise TypeError(f"{fn_name}: argnums must be an int or a tuple of ints, got "
                            f"{argnums!r}")
        if not -nargs <= n < nargs:
            raise TypeError(f"{fn_name}: argnums {argnums} out of range for a function "
                            f"called with {nargs} positional arguments")
    return single, tuple(n % nargs for n in nums)


def _split_args(args, argnums):
    dyn = tuple(args[i] for i in argnums)

    def rebuild(new_dyn):
        full = list(args)
        for i, v in zip(argnums, new_dyn):
            full[i] = v
        return full

    return dyn, rebuild


# ---------------------------------------------------------------------------
# forward mode


def jvp(fun: Callable, primals, tangents, has_aux: bool = False):
    """Forward-mode derivative: ``(fun(*primals), J(primals) @ tangents)``.

    Args:
      fun: function of arrays (pytrees) to arrays.
      primals: tuple or list of the arguments.
      tangents: same structure, shapes and (tangent) dtypes as ``primals``.
      has_aux: ``fun`` returns ``(out, aux)``; aux is returned unchanged.

    Returns:
      ``(primals_out, tangents_out)`` (and ``aux`` when ``has_aux``).

    Example:
      >>> fx.jvp(fx.numpy.sin, (0.0,), (1.0,))
      (Array(0., dtype=float32, weak_type=True), Array(1., dtype=float32, weak_type=True))
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("primal and tangent arguments to fx.jvp must be tuples or lists; "
                        f"found {type(primals).__name__} and {type(tangents).__name__}.")
    flat_p, tree_p = tree_util.tree_flatten(tuple(primals))
    flat_t, tree_t = tree_util.tree_flatten(tuple(tangents))
    if tree_p != tree_t:
        raise TypeError(f"primal and tangent arguments to fx.jvp must have the same tree "
                        f"structure; primals have tree structure {tree_p} whereas tangents "
                        f"have tree structure {tree_t}.")
    flat_p = [_check_leaf(p, "jvp", "primal") for p in flat_p]
    tangents_in = []
    for p, t in zip(flat_p, flat_t):
        pa, ta = get_aval(p), get_aval(_check_leaf(t, "jvp", "tangent"))
        expected = pa.to_tangent_aval()
        if ta.dtype != expected.dtype and not (dtypes.is_inexact(pa.dtype) and
                                               getattr(t, "weak_type", False)):
            raise TypeError(f"primal and tangent arguments to fx.jvp do not match; dtypes "
                            f"must be equal, or in case of int/bool primal dtype the tangent "
                            f"dtype must be float0. Got primal dtype {pa.dtype.name} and so "
                            f"expected tangent dtype {expected.dtype.name}, but got tangent "
                            f"dtype {ta.dtype.name} instead.")
        if pa.shape != ta.shape:
            raise ValueError(f"fx.jvp called with different primal and tangent shapes; got "
                             f"primal shape {pa.shape} and tangent shape {ta.shape}")
        tangents_in.append(Zero(expected) if expected.dtype == dtypes.float0 else
                           _check_leaf(t, "jvp", "tangent"))
    flat_fun, store = _flatten_fun_aux(fun, tree_p, has_aux)
    out_p, out_t = ad.jvp_flat(flat_fun, flat_p, tangents_in)
    out_p, aux = store["split"](out_p)
    out_t = [_instantiate(t) for t in out_t[:len(out_p)]]
    out_tree = store["tree"]
    res = (tree_util.tree_unflatten(out_tree, [_to_array(x) for x in out_p]),
           tree_util.tree_unflatten(out_tree, [_to_array(x) for x in out_t]))
    return res + (aux,) if has_aux else res


def _instantiate(t):
    """A tangent as an array: a symbolic zero made of its type, weak where the type is (as
    JAX's ``instantiate_zeros``)."""
    if type(t) is not Zero:
        return t
    return _zeros(t.aval)


def _zeros(aval: ShapedArray):
    """Zeros of ``aval`` (weakly typed where it is), as a broadcast scalar."""
    if not aval.weak_type or aval.dtype == dtypes.float0:
        return R.zeros(aval)
    return R.broadcast_in_dim(Array(np.zeros((), aval.dtype), True), aval.shape, ())


def _aux_leaves(aux):
    """Split ``aux`` into the leaves that are tracers (which must leave the transformation
    as primal values) and a function rebuilding ``aux`` from those leaves' primal values;
    other leaves (Python values, arrays, any object) come back unchanged, as in JAX."""
    leaves, tree = tree_util.tree_flatten(aux)
    traced = [i for i, x in enumerate(leaves) if isinstance(x, Tracer)]

    def rebuild(values):
        full = list(leaves)
        for i, v in zip(traced, values):
            full[i] = v
        return tree_util.tree_unflatten(tree, full)

    return [leaves[i] for i in traced], rebuild


def _flatten_fun_aux(fun, in_tree, has_aux):
    """A flat ``fun``; with ``has_aux`` the traced aux leaves follow the outputs (so they
    leave the transformation as primal values) and ``split`` separates them again (the
    other aux leaves are returned as they are)."""
    store: dict[str, Any] = {}

    def flat(*flat_args):
        args = tree_util.tree_unflatten(in_tree, flat_args)
        out = fun(*args)
        aux_leaves = []
        if has_aux:
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise TypeError("has_aux=True requires the function to return a pair "
                                f"(output, aux); got {type(out).__name__}")
            out, aux = out
            aux_leaves, store["aux_rebuild"] = _aux_leaves(aux)
        flat_out, out_tree = tree_util.tree_flatten(out)
        store["tree"] = out_tree
        store["n_out"] = len(flat_out)
        return [_check_leaf(o, getattr(fun, "__name__", "function"), "output")
                for o in flat_out] + aux_leaves

    def split(values):
        """(outputs, aux) from the flat outputs of ``flat``."""
        n = store["n_out"]
        if not has_aux:
            return values, None
        return values[:n], store["aux_rebuild"](values[n:])

    store["split"] = split
    return flat, store


def linearize(fun: Callable, *primals, has_aux: bool = False):
    """``(fun(*primals), f_jvp)`` where ``f_jvp(*tangents)`` is the linear map at primals.

    Example:
      >>> y, f_jvp = fx.linearize(fx.numpy.sin, 1.0)
      >>> f_jvp(1.0)  # cos(1.0)
    """
    flat_p, tree_p = tree_util.tree_flatten(primals)
    flat_p = [_check_leaf(p, "linearize", "primal") for p in flat_p]
    flat_fun, store = _flatten_fun_aux(fun, tree_p, has_aux)
    out_p, jaxpr, residuals = ad.linearize_flat(flat_fun, flat_p)
    out_p, aux = store["split"](out_p)
    n_out = len(out_p)
    out_tree = store["tree"]
    in_avals = [v.aval for v in jaxpr.invars]

    def f_jvp(*tangents):
        flat_t, tree_t = tree_util.tree_flatten(tangents)
        flat_t = [_check_leaf(t, "linearize", "tangent") for t in flat_t]
        if tree_t != tree_p:
            raise TypeError(f"linearized function called on tangents of structure {tree_t}; "
                            f"expected {tree_p}")
        for t, a in zip(flat_t, in_avals):
            if get_aval(t).shape != a.shape:
                raise ValueError(f"linearized function got a tangent of shape "
                                 f"{get_aval(t).shape}, expected {a.shape}")
        outs = core.eval_jaxpr(jaxpr, residuals, *flat_t)[:n_out]
        return tree_util.tree_unflatten(out_tree, [_to_array(o) for o in outs])

    out = tree_util.tree_unflatten(out_tree, [_to_array(o) for o in out_p])
    return (out, f_jvp, aux) if has_aux else (out, f_jvp)


# ---------------------------------------------------------------------------
# reverse mode


def vjp(fun: Callable, *primals, has_aux: bool = False, reduce_axes=()):
    """``(fun(*primals), vjp_fun)``; ``vjp_fun(ct)`` pulls an output cotangent back.

    Example:
      >>> y, f_vjp = fx.vjp(fx.numpy.sin, 1.0)
      >>> f_vjp(1.0)  # (cos(1.0),)
    """
    flat_p, tree_p = tree_util.tree_flatten(primals)
    flat_p = [_check_leaf(p, "vjp", "primal") for p in flat_p]
    flat_fun, store = _flatten_fun_aux(fun, tree_p, has_aux)
    out_p, vjp_flat_fun, _, _ = ad.vjp_flat(flat_fun, flat_p)
    all_avals = [get_aval(o) for o in out_p]
    out_p, aux = store["split"](out_p)
    aux_cts = [Zero(a.to_tangent_aval()) for a in all_avals[len(out_p):]]
    out_tree = store["tree"]
    out_avals = all_avals[:len(out_p)]
    in_avals = [get_aval(p) for p in flat_p]

    def vjp_fun(ct):
        flat_ct, ct_tree = tree_util.tree_flatten(ct)
        flat_ct = [_check_leaf(c, "vjp", "cotangent") for c in flat_ct]
        if ct_tree != out_tree:
            raise TypeError(f"Tree structure of cotangent input {ct_tree}, does not match "
                            f"structure of primal output {out_tree}.")
        cts = []
        for c, a in zip(flat_ct, out_avals):
            ca = get_aval(c)
            expected = a.to_tangent_aval()
            if ca.shape != a.shape:
                raise ValueError(f"Shape of cotangent input to vjp pullback function "
                                 f"{ca.shape} must be the same as the shape of "
                                 f"corresponding primal input {a.shape}.")
            if ca.dtype != expected.dtype and not ca.weak_type:
                raise ValueError(f"Type of cotangent input to vjp pullback function "
                                 f"({ca.dtype.name}) is not the expected tangent type "
                                 f"({expected.dtype.name}) of corresponding primal output "
                                 f"with dtype {a.dtype.name}.")
            if expected.dtype == dtypes.float0:
                cts.append(Zero(expected))
            elif ca.dtype != expected.dtype:
                cts.append(R.convert(c, expected.dtype))
            else:
                cts.append(c)
        cts_in = vjp_flat_fun(cts + aux_cts)
        cts_in = [_zero_ct(c, a) for c, a in zip(cts_in, in_avals)]
        return tuple(tree_util.tree_unflatten(tree_p, cts_in))

    out = tree_util.tree_unflatten(out_tree, [_to_array(o) for o in out_p])
    return (out, vjp_fun, aux) if has_aux else (out, vjp_fun)


def _zero_ct(ct, primal_aval):
    """The cotangent as an array of the primal's tangent type (weak where the primal is)."""
    if type(ct) is Zero:
        ct = _zeros(primal_aval.to_tangent_aval())
    ct = _to_array(ct)
    tangent = primal_aval.to_tangent_aval()
    aval = get_aval(ct)
    if tangent.dtype != dtypes.float0 and (aval.weak_type != tangent.weak_type or
                                           aval.dtype != tangent.dtype):
        from fx.lax import _convert_element_type
        ct = _convert_element_type(ct, tangent.dtype, tangent.weak_type)
    return ct


def value_and_grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                   holomorphic: bool = False, allow_int: bool = False, reduce_axes=()):
    """A function returning ``(fun(*args), grad of fun w.r.t. args[argnums])``.

    Example:
      >>> fx.value_and_grad(lambda x: x ** 2)(3.0)
      (Array(9., ...), Array(6., ...))
    """
    _check_callable(fun, "value_and_grad")

    @functools.wraps(fun)
    def value_and_grad_f(*args, **kwargs):
        single, nums = _normalize_argnums(argnums, len(args), "grad")
        dyn, rebuild = _split_args(args, nums)
        for i, d in zip(nums, dyn):
            for leaf in tree_util.tree_leaves(d):
                _check_grad_input(leaf, i, holomorphic, allow_int)

        def f_dyn(*dyn_args):
            return fun(*rebuild(dyn_args), **kwargs)

        if has_aux:
            out, pullback, aux = vjp(f_dyn, *dyn, has_aux=True)
        else:
            out, pullback = vjp(f_dyn, *dyn)
        _check_scalar_output(out, holomorphic)
        out_aval = get_aval(out)  # JAX's cotangent 1 has the output's type, weak included
        grads = pullback(Array(np.ones((), out_aval.dtype), out_aval.weak_type))
        g = grads[0] if single else grads
        return ((out, aux), g) if has_aux else (out, g)

    return value_and_grad_f


def grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
         holomorphic: bool = False, allow_int: bool = False, reduce_axes=()):
    """The gradient of scalar-valued ``fun`` w.r.t. positional argument(s) ``argnums``.

    Args:
      fun: function returning a scalar (a pair ``(scalar, aux)`` with ``has_aux``).
      argnums: int or tuple of ints.
      has_aux: return ``(grad, aux)``.
      holomorphic: allow complex inputs and outputs (fun must be holomorphic).
      allow_int: allow integer inputs (their gradient is float0 zeros).

    Example:
      >>> fx.grad(fx.numpy.tanh)(0.0)
      Array(1., dtype=float32, weak_type=True)
    """
    vg = value_and_grad(fun, argnums, has_aux, holomorphic, allow_int)

    @functools.wraps(fun)
    def grad_f(*args, **kwargs):
        if has_aux:
            (_, aux), g = vg(*args, **kwargs)
            return g, aux
        return vg(*args, **kwargs)[1]

    return grad_f


def _check_callable(fun, name):
    if not callable(fun):
        raise TypeError(f"{name} requires a callable as its first argument, got "
                        f"{type(fun).__name__}: {fun!r}")


def _check_grad_input(x, argnum, holomorphic, allow_int, name="grad"):
    """JAX's input check for reverse-mode derivatives: real or complex inputs (a complex
    input of a real function is allowed without ``holomorphic``), integers only with
    ``allow_int``."""
    aval = get_aval(_check_leaf(x, name))
    dtype = aval.dtype
    which = "" if argnum is None else f" for argument {argnum}"
    if holomorphic and not dtypes.is_complex(dtype):
        raise TypeError(f"{name} with holomorphic=True requires inputs with complex dtype, "
                        f"but got {dtype.name}{which}.")
    if not dtypes.is_inexact(dtype) and not allow_int:
        raise TypeError(f"{name} requires real- or complex-valued inputs (input dtype that is "
                        f"a sub-dtype of np.inexact), but got {dtype.name}{which}. If you "
                        "want to use Boolean- or integer-valued inputs, use vjp or set "
                        "allow_int to True.")


def _check_output_dtype(aval, holomorphic, name="grad"):
    """JAX's output check for reverse-mode derivatives: real outputs (complex ones only with
    ``holomorphic``, which requires them)."""
    if holomorphic:
        if not dtypes.is_complex(aval.dtype):
            raise TypeError(f"{name} with holomorphic=True requires outputs with complex "
                            f"dtype, but got {aval.dtype.name}.")
    elif dtypes.is_complex(aval.dtype):
        raise TypeError(f"{name} requires real-valued outputs (output dtype that is a "
                        f"sub-dtype of np.floating), but got {aval.dtype.name}. For "
                        "holomorphic differentiation, pass holomorphic=True. For "
                        "differentiation of non-holomorphic functions involving complex "
                        "outputs, use fx.vjp directly.")
    elif not dtypes.is_float(aval.dtype):
        raise TypeError(f"{name} requires real-valued outputs (output dtype that is a "
                        f"sub-dtype of np.floating), but got {aval.dtype.name}. For "
                        "differentiation of functions with integer outputs, use fx.vjp "
                        "directly.")


def _check_scalar_output(out, holomorphic):
    if not isinstance(out, (Array, Tracer, np.ndarray, np.generic)):
        raise TypeError(f"Gradient only defined for scalar-output functions. Output was "
                        f"{out!r} of type {type(out).__name__}.")
    aval = get_aval(out)
    if aval.shape != ():
        raise TypeError(f"Gradient only defined for scalar-output functions. Output had "
                        f"shape: {aval.shape}.")
    _check_output_dtype(aval, holomorphic)


def linear_transpose(fun: Callable, *primals, reduce_axes=()):
    """The transpose of the linear function ``fun`` at arguments shaped like ``primals``.

    Example:
      >>> f_t = fx.linear_transpose(lambda x: 2 * x, 1.0)
      >>> f_t(1.0)  # (2.0,)
    """
    flat_p, tree_p = tree_util.tree_flatten(primals)
    in_avals = [_abstractify(p) for p in flat_p]
    for a in in_avals:
        if not dtypes.is_inexact(a.dtype):
            raise TypeError(f"linear_transpose only supports [float or complex] -> "
                            f"[float or complex], got input dtype {a.dtype.name}")
    flat_fun, store = _flatten_fun(fun, tree_p)
    jaxpr, consts, out_avals = _ref_scope.trace_reading_refs(
        flat_fun, in_avals, "linear_transpose")
    out_tree = store["tree"]

    def transposed(*cts):
        flat_ct, ct_tree = tree_util.tree_flatten(cts[0] if len(cts) == 1 else cts)
        flat_ct = [_check_leaf(c, "linear_transpose", "cotangent") for c in flat_ct]
        if ct_tree != out_tree:
            raise TypeError(f"cotangent tree structure {ct_tree} does not match the output "
                            f"structure {out_tree}")
        for c, a in zip(flat_ct, out_avals):
            if get_aval(c).shape != a.shape:
                raise TypeError(f"cotangent shape {get_aval(c).shape} does not match the "
                                f"output shape {a.shape}")
        undefined = [core.UndefinedPrimal(a) for a in in_avals]
        outs = ad.backward_pass(jaxpr, consts, undefined, flat_ct)
        outs = [_zero_ct(o, a) for o, a in zip(outs, in_avals)]
        return tuple(tree_util.tree_unflatten(tree_p, outs))

    return transposed


# ---------------------------------------------------------------------------
# vmap


def vmap(fun: Callable, in_axes=0, out_axes=0, axis_name=None, axis_size: int | None = None,
         spmd_axis_name=None):
    """Vectorise ``fun`` over the ``in_axes`` of its arguments.

    Args:
      fun: function to map.
      in_axes: int, None, or a pytree prefix of the positional arguments of ints/None.
      out_axes: int, None, or a pytree prefix of the outputs.
      axis_name: name of the mapped axis, for collectives.
      axis_size: size of the mapped axis when no input is mapped.

    Example:
      >>> fx.vmap(lambda x: x @ x)(fx.numpy.ones((4, 3)))  # shape (4,)
    """
    _check_callable(fun, "vmap")
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    _check_axes_tree(in_axes, "in_axes")
    _check_axes_tree(out_axes, "out_axes")

    @functools.wraps(fun)
    def vmapped(*args, **kwargs):
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise ValueError(f"vmap in_axes must be an int, None, or a tuple of entries "
                             f"corresponding to the positional arguments passed to the "
                             f"function, but got len(in_axes)={len(in_axes)}, "
                             f"len(args)={len(args)}")
        flat_args, in_tree = tree_util.tree_flatten((args, kwargs))
        if any(type(a) is Ref for a in flat_args):  # mutable array references
            return _ref_vmap.vmap_with_refs(
                fun, args, kwargs, in_axes=in_axes, out_axes=out_axes, axis_name=axis_name,
                axis_size=axis_size, spmd_axis_name=spmd_axis_name)
        flat_args = [_check_leaf(a, "vmap") for a in flat_args]
        flat_axes = _flatten_axes("vmap in_axes", in_tree, (in_axes, 0), args, kwargs)
        flat_axes = _key_axes(flat_axes, _key_ndims((args, kwargs)))
        size = _mapped_size(flat_args, flat_axes, axis_size)
        dims = []
        for a, ax in zip(flat_args, flat_axes):
            if ax is None:
                dims.append(None)
            else:
                nd = get_aval(a).ndim
                dims.append(ax % nd)
        store: dict[str, Any] = {}

        def flat_fun(*xs):
            a, kw = tree_util.tree_unflatten(in_tree, xs)
            out = fun(*a, **kw)
            flat_out, out_tree = tree_util.tree_flatten(out)
            store["tree"] = out_tree
            store["keys"] = _key_ndims(out)
            return [_check_leaf(o, "vmap", "output") for o in flat_out]

        def out_dims_for(n):
            axes = _flatten_axes("vmap out_axes", store["tree"], out_axes, None, None)
            # a batched output key array has one more dimension than the traced one
            return _key_axes(axes, [None if k is None else k + 1 for k in store["keys"]])

        outs = batching.batch_flat(flat_fun, flat_args, dims, size, out_dims_for,
                                   axis_name=axis_name, spmd_axis_name=spmd_axis_name)
        return tree_util.tree_unflatten(store["tree"], [_to_array(o) for o in outs])

    return vmapped


def _key_ndims(tree) -> list:
    """Per flat leaf of ``tree``: the key-array rank where the leaf is a typed key array's
    data (whose trailing dimension is the key itself), else None."""
    from fx._random.keys import PRNGKeyArray
    tops = tree_util.tree_leaves(tree, is_leaf=lambda x: isinstance(x, PRNGKeyArray))
    out = []
    for t in tops:
        if isinstance(t, PRNGKeyArray):
            out.extend([t.ndim] * len(tree_util.tree_leaves(t)))
        else:
            out.append(None)
    return out


def _key_axes(axes: list, key_ndims: list) -> list:
    """Negative axes of key arrays counted from the key array's last axis (not from its
    data's trailing key dimension)."""
    if not any(k is not None for k in key_ndims) or len(key_ndims) != len(axes):
        return axes
    return [ax % k if ax is not None and k is not None and ax < 0 and k > 0 else ax
            for ax, k in zip(axes, key_ndims)]


def _check_axes_tree(axes, name):
    for leaf in tree_util.tree_leaves(axes):
        if not isinstance(leaf, (int, np.integer)) or isinstance(leaf, bool):
            raise TypeError(f"vmap {name} must be an int, None, or (nested) container with "
                            f"those types as leaves, but got {leaf!r}.")


def _flatten_axes(name, tree, axes, args, kwargs):
    """Broadcast the prefix pytree ``axes`` to the leaves of ``tree``."""
    proxy = tree_util.tree_unflatten(tree, [object()] * tree.num_leaves)
    flat = []
    try:
        tree_util.tree_map(lambda ax, sub: flat.extend(
            [ax] * len(tree_util.tree_leaves(sub))), axes, proxy,
            is_leaf=lambda x: x is None)
    except ValueError as e:
        raise ValueError(f"{name} specification must be a tree prefix of the corresponding "
                         f"value, got specification {axes} for value tree {tree}. {e}") from None
    return flat


def _mapped_size(flat_args, flat_axes, axis_size):
    sizes = {}
    for a, ax in zip(flat_args, flat_axes):
        if ax is None:
            continue
        shape = get_aval(a).shape
        if not -len(shape) <= ax < len(shape):
            raise ValueError(f"vmap was requested to map its argument along axis {ax}, which "
                             f"implies that its rank should be at least {max(ax + 1, -ax)}, "
                             f"but is only {len(shape)} (its shape is {shape})")
        sizes.setdefault(shape[ax], []).append((shape, ax))
    if len(sizes) > 1:
        detail = "; ".join(f"axis {ax} of an argument of shape {s} has size {n}"
                           for n, entries in sizes.items() for s, ax in entries)
        raise ValueError(f"vmap got inconsistent sizes for array axes to be mapped: {detail}")
    if not sizes:
        if axis_size is None:
            raise ValueError("vmap must have at least one non-None value in in_axes (or be "
                             "given axis_size)")
        return int(axis_size)
    size = next(iter(sizes))
    if axis_size is not None and axis_size != size:
        raise ValueError(f"vmap got axis_size={axis_size} but the mapped inputs have size "
                         f"{size}")
    return size


# ---------------------------------------------------------------------------
# make_jaxpr and eval_shape


def _abstractify(x):
    if isinstance(x, ShapeDtypeStruct):
        return x.aval
    if isinstance(x, ShapedArray):
        return x
    return get_aval(_check_leaf(x, "make_jaxpr"))


def make_jaxpr(fun: Callable, static_argnums: int | Sequence[int] = (), axis_env=None,
               return_shape: bool = False, abstracted_axes=None):
    """A function that returns the ClosedJaxpr of ``fun`` at the given arguments.

    ``axis_env``: ``(axis name, size)`` pairs bound while tracing, so that collectives
    over those names (``lax.psum(x, "i")``) can be traced outside pmap/vmap.

    Example:
      >>> print(fx.make_jaxpr(lambda x: fx.numpy.sin(x) * 2)(fx.numpy.ones(3)))
      { lambda ; a:f32[3]. let b:f32[3] = sin a; c:f32[3] = mul b 2.0:f32[] in (c,) }
    """
    _check_callable(fun, "make_jaxpr")
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(fun)
    def make(*args, **kwargs):
        nums = tuple(i % len(args) for i in static) if args else ()
        dyn_idx = [i for i in range(len(args)) if i not in nums]
        dyn = [args[i] for i in dyn_idx]
        flat, tree = tree_util.tree_flatten((tuple(dyn), kwargs))
        avals = [_abstractify(x) for x in flat]
        store: dict[str, Any] = {}

        def flat_fun(*xs):
            d, kw = tree_util.tree_unflatten(tree, xs)
            full = list(args)
            for i, v in zip(dyn_idx, d):
                full[i] = v
            out = fun(*full, **kw)
            flat_out, store["tree"] = tree_util.tree_flatten(out)
            return flat_out

        with contextlib.ExitStack() as stack:
            for name, size in (axis_env or ()):  # collectives over these named axes
                stack.enter_context(collectives.extend_axis_env(name, size))
            # closed-over refs: leading consts and trailing outputs (fx/_ref_scope.py)
            jaxpr, consts, out_avals = _ref_scope.stage_for_printing(flat_fun, avals)
        closed = ClosedJaxpr(*_inline_scalar_outputs(jaxpr, consts))
        if return_shape:
            shapes = [ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type)
                      for a in out_avals]
            return closed, tree_util.tree_unflatten(store["tree"], shapes)
        return closed

    return make


def _inline_scalar_outputs(jaxpr: core.Jaxpr, consts: list) -> tuple[core.Jaxpr, list]:
    """Outputs that are numeric scalar constants written as literals, as JAX's jaxprs show
    them (``in (0.0:f32[],)``); a constvar left unused is dropped."""
    literal_of = {}
    for v, c in zip(jaxpr.constvars, consts):
        literal = pe._literal_of(c)  # JAX's rule: not a 0-d Array captured from outside
        if literal is not None:
            literal_of[id(v)] = core.Literal(literal.val, v.aval, literal.source)
    if not any(id(v) in literal_of for v in jaxpr.outvars):
        return jaxpr, consts
    outvars = [literal_of.get(id(v), v) for v in jaxpr.outvars]
    used = {id(v) for e in jaxpr.eqns for v in e.invars}
    used.update(id(v) for v in outvars)
    keep = [i for i, v in enumerate(jaxpr.constvars) if id(v) in used]
    new = core.Jaxpr([jaxpr.constvars[i] for i in keep], jaxpr.invars, outvars, jaxpr.eqns,
                     jaxpr.debug_info)
    return new, [consts[i] for i in keep]


def eval_shape(fun: Callable, *args, **kwargs):
    """Shapes and dtypes of ``fun``'s outputs, as ``ShapeDtypeStruct``s; nothing is computed.

    Example:
      >>> fx.eval_shape(lambda x: x.sum(0), fx.ShapeDtypeStruct((3, 4), "float32"))
      ShapeDtypeStruct(shape=(4,), dtype=float32)
    """
    flat, tree = tree_util.tree_flatten((args, kwargs))
    avals = [_abstractify(x) for x in flat]
    store: dict[str, Any] = {}

    def flat_fun(*xs):
        a, kw = tree_util.tree_unflatten(tree, xs)
        flat_out, store["tree"] = tree_util.tree_flatten(fun(*a, **kw))
        return flat_out

    _, _, out_avals = _ref_scope.stage_for_printing(flat_fun, avals)  # refs allowed
    return tree_util.tree_unflatten(store["tree"], [
        ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type) for a in out_avals])


# The Jacobians (jacfwd, jacrev, jacobian, hessian) live in fx/_jacobian.py; imported last,
# as that module calls back into this one.
from fx._jacobian import hessian, jacfwd, jacobian, jacrev  # noqa: E402,F401
