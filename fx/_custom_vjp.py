"""``custom_vjp`` (a function with a custom reverse-mode rule), ``custom_gradient``
and ``closure_convert``; exported from ``fx.custom_derivatives``.

Invariants: ``fwd`` runs where the jvp of the call happens (so an outer
differentiation sees it), and ``bwd`` runs when the linear ``custom_lin`` is
transposed, on the residuals ``fwd`` returned; forward mode through a
custom_vjp function raises JAX's TypeError. Residuals are pytrees of arrays;
their structure travels with each ``custom_lin``.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

from fx import core, dtypes, tree_util
from fx.core import ShapedArray, Tracer, Zero, get_aval
from fx.custom_derivatives import (CustomVJPPrimal, SymbolicZero, _as_value, _check_out_avals,
                                   _fun_name, _rebuild, _resolve_kwargs, _split_nondiff,
                                   _tangent_value, _trace_primal, _zeros_for_rule)
from fx.errors import UnexpectedTracerError
from fx.interpreters import partial_eval as pe
from primitives import _rules as R
from primitives.custom_derivatives import custom_vjp_call_p

__all__ = ["custom_vjp", "custom_gradient", "closure_convert"]


class _FlatFwd:
    """The user's fwd rule as ``fwd(primals, perturbed) -> (out, residuals, res_tree)``."""

    def __init__(self, fwd, fun_name, n_args, nondiff, nondiff_vals, dyn_positions, in_tree,
                 out_tree, out_avals, symbolic_zeros, ref_outs):
        # the refs the primal writes: extra trailing primal outputs (their values after
        # fwd ran in place of the primal), with zero tangents
        self.ref_outs = ref_outs
        self.n_ref_outs = len(ref_outs.written_refs)
        self.fwd, self.fun_name, self.n_args = fwd, fun_name, n_args
        self.nondiff, self.nondiff_vals, self.dyn_positions = nondiff, nondiff_vals, dyn_positions
        self.in_tree, self.out_tree, self.out_avals = in_tree, out_tree, out_avals
        self.symbolic_zeros = symbolic_zeros
        self.__name__ = _fun_name(fwd)

    def __call__(self, primals, perturbed):
        who = f"Custom VJP fwd rule {self.__name__} for function {self.fun_name}"
        leaves = primals
        if self.symbolic_zeros:
            leaves = [CustomVJPPrimal(p, bool(b)) for p, b in zip(primals, perturbed)]
        dyn = tree_util.tree_unflatten(self.in_tree, leaves)
        out = self.fwd(*_rebuild(self.n_args, self.nondiff, self.nondiff_vals,
                                 self.dyn_positions, dyn))
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise TypeError(
                f"{who} must produce a pair (list or tuple of length two) where the first "
                f"element represents the primal output (equal to those of the "
                f"custom_vjp-decorated function {self.fun_name}) and the second element "
                f"represents residuals (i.e. values stored from the forward pass for use on "
                f"the backward pass), but instead of a pair the fwd rule {self.__name__} "
                f"produced {out!r}.")
        primals_out, res = out
        flat_p, tree_p = tree_util.tree_flatten(primals_out)
        if tree_p != self.out_tree:
            raise TypeError(f"{who} must produce a pair whose first element has the same "
                            f"container (pytree) structure as the output of "
                            f"{self.fun_name}, but got {tree_p} where {self.out_tree} was "
                            "expected.")
        flat_p = [_as_value(p, "primal output", who) for p in flat_p]
        _check_out_avals(flat_p, self.out_avals, who, "primal outputs")
        flat_res, res_tree = tree_util.tree_flatten(res)
        flat_res = [_as_value(r, "residual", who) for r in flat_res]
        if self.n_ref_outs:
            flat_p = flat_p + self.ref_outs.current_values()
        return flat_p, flat_res, res_tree


class _FlatBwd:
    """The user's bwd rule as ``bwd(res_tree, residuals, cts) -> cts_in`` (Zero for none)."""

    def __init__(self, bwd, fun_name, nondiff_vals, arg_trees, in_avals, out_tree, out_avals,
                 symbolic_zeros):
        self.bwd, self.fun_name, self.nondiff_vals = bwd, fun_name, nondiff_vals
        self.arg_trees, self.in_avals = arg_trees, in_avals
        self.out_tree, self.out_avals = out_tree, out_avals
        self.symbolic_zeros = symbolic_zeros
        self.__name__ = _fun_name(bwd)

    def __call__(self, res_tree, residuals, cts):
        res = tree_util.tree_unflatten(res_tree, residuals)
        py_cts = tree_util.tree_unflatten(
            self.out_tree, [_zeros_for_rule(c, self.symbolic_zeros) for c in cts])
        out = self.bwd(*self.nondiff_vals, res, py_cts)
        return self._flatten_cts(out)

    def _flatten_cts(self, out):
        who = "Custom VJP bwd rule"
        n = len(self.arg_trees)
        primal_tree = tree_util.treedef_tuple(self.arg_trees)
        if not isinstance(out, (tuple, list)) or len(out) != n:
            got = tree_util.tree_structure(out, is_leaf=lambda x: x is None) \
                if isinstance(out, (tuple, list)) else type(out).__name__
            raise TypeError(
                f"{who} must produce an output with the same container (pytree) structure as "
                f"the args tuple of the primal function, and in particular must produce a "
                f"tuple of length equal to the number of arguments to the primal function, "
                f"but got bwd output structure {got} for primal input structure "
                f"{primal_tree}.")
        flat: list[Any] = []
        avals = iter(self.in_avals)
        for k, (ct, tree) in enumerate(zip(out, self.arg_trees)):
            arg_avals = [next(avals) for _ in range(tree.num_leaves)]
            if ct is None:
                flat.extend(Zero(a.to_tangent_aval()) for a in arg_avals)
                continue
            leaves, ct_tree = tree_util.tree_flatten(ct)
            if ct_tree != tree:
                leaves, ct_tree = tree_util.tree_flatten(
                    ct, is_leaf=lambda x: x is None or isinstance(x, SymbolicZero))
            if ct_tree != tree:
                raise TypeError(f"{who} produced, for argument {k} of {self.fun_name}, a "
                                f"cotangent with structure {ct_tree}, but the argument has "
                                f"structure {tree}")
            for j, (c, a) in enumerate(zip(leaves, arg_avals)):
                flat.append(self._leaf(c, a, f"output[{k}]" + (f" leaf {j}" if
                                                               tree.num_leaves > 1 else "")))
        return flat

    def _leaf(self, c, aval: ShapedArray, where: str):
        t_aval = aval.to_tangent_aval()
        if c is None or isinstance(c, SymbolicZero) or t_aval.dtype == dtypes.float0:
            if isinstance(c, SymbolicZero) and c.aval.shape != t_aval.shape:
                raise ValueError(f"Custom VJP bwd rule produced a SymbolicZero of shape "
                                 f"{c.aval.shape} at {where}, for an input of type "
                                 f"{aval.str_short()}")
            return Zero(t_aval)
        c = _as_value(c, "cotangent", "Custom VJP bwd rule")
        ca = get_aval(c)
        if ca.shape != t_aval.shape:
            raise ValueError(
                f"Custom VJP bwd rule must produce an output with the same type as the args "
                f"tuple of the primal function, but at {where} the bwd rule produced an output "
                f"of type {ca.str_short()} corresponding to an input of type "
                f"{aval.str_short()}, so the shapes do not match")
        return _tangent_value(c, t_aval, "Custom VJP bwd rule", 0, aval)


class custom_vjp:
    """A function with a custom reverse-mode (vjp) rule, as ``jax.custom_vjp``.

    ``fwd(*args) -> (out, residuals)`` runs on the forward pass; ``bwd(*nondiff_args,
    residuals, out_cotangent) -> tuple of input cotangents`` (None for zero) runs on the
    backward pass. Forward-mode differentiation of it raises a TypeError, as in JAX.

    Args:
      fun: the primal function.
      nondiff_argnums: positions of arguments that are not differentiated; they may
        not be traced values (use ``closure_convert`` or plain arguments instead).

    Example:
      >>> @fx.custom_vjp
      ... def clip_gradient(x):
      ...   return x
      >>> clip_gradient.defvjp(lambda x: (x, None),
      ...                      lambda _, g: (fx.numpy.clip(g, -1.0, 1.0),))
      >>> fx.grad(lambda x: 3.0 * clip_gradient(x))(2.0)
      Array(1., dtype=float32, weak_type=True)
    """

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        if not callable(fun):
            raise TypeError(f"custom_vjp requires a callable, got {type(fun).__name__}")
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd: Callable | None = None
        self.bwd: Callable | None = None
        self.symbolic_zeros = False

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    def defvjp(self, fwd: Callable, bwd: Callable, symbolic_zeros: bool = False) -> None:
        """Set the forward and backward rules.

        Args:
          fwd: ``fwd(*args) -> (out, residuals)``; residuals is any pytree of arrays.
          bwd: ``bwd(*nondiff_args, residuals, g) -> tuple`` with one cotangent (or None)
            per differentiable argument.
          symbolic_zeros: ``fwd`` receives ``CustomVJPPrimal`` leaves (value, perturbed)
            and ``bwd`` may receive ``SymbolicZero`` cotangents.
        """
        self.fwd, self.bwd, self.symbolic_zeros = fwd, bwd, symbolic_zeros

    def __call__(self, *args, **kwargs):
        name = _fun_name(self.fun)
        if self.fwd is None or self.bwd is None:
            raise AttributeError(f"No VJP defined for custom_vjp function {name} using "
                                 "defvjp.")
        args = _resolve_kwargs(self.fun, args, kwargs)
        if core.current_trace() is core.eval_trace:
            return self.fun(*args)
        nondiff, dyn_positions = _split_nondiff(args, self.nondiff_argnums, name)
        for i in nondiff:
            if any(isinstance(x, Tracer) for x in tree_util.tree_leaves(args[i])):
                raise UnexpectedTracerError(
                    "Found an fx Tracer object passed as an argument to a custom_vjp function "
                    f"({name}) in a position indicated by nondiff_argnums as "
                    f"non-differentiable (argument {i}). Tracers cannot be passed as "
                    "non-differentiable arguments to custom_vjp functions; instead, "
                    "nondiff_argnums should only be used for arguments that can't be or "
                    "contain fx tracers, e.g. function-valued arguments. In particular, "
                    "array-valued arguments should typically not be indicated as "
                    "nondiff_argnums.")
        nondiff_vals = [args[i] for i in nondiff]
        dyn_args = [args[i] for i in dyn_positions]
        arg_trees = [tree_util.tree_structure(a) for a in dyn_args]
        flat, in_tree = tree_util.tree_flatten(dyn_args)
        flat = [_as_value(x, "argument", f"custom_vjp function {name}") for x in flat]
        in_avals = [get_aval(x) for x in flat]

        def full_args(dyn):
            return _rebuild(len(args), nondiff, nondiff_vals, dyn_positions, dyn)

        closed, hoisted, out_tree, ref_outs = _trace_primal(self.fun, full_args, in_tree,
                                                            in_avals, name)
        fwd = _FlatFwd(self.fwd, name, len(args), nondiff, nondiff_vals, dyn_positions, in_tree,
                       out_tree, closed.out_avals, self.symbolic_zeros, ref_outs)
        bwd = _FlatBwd(self.bwd, name, nondiff_vals, arg_trees, in_avals, out_tree,
                       closed.out_avals, self.symbolic_zeros)
        outs = custom_vjp_call_p.bind(*hoisted, *flat, name=name, call_jaxpr=closed, fwd=fwd,
                                      bwd=bwd, num_consts=len(hoisted),
                                      symbolic_zeros=self.symbolic_zeros)
        if ref_outs.refs:
            outs = ref_outs.write_back(outs, out_tree.num_leaves, "custom_vjp")
        return tree_util.tree_unflatten(out_tree, outs)


# ---------------------------------------------------------------------------
# custom_gradient


class _JaxprFunction:
    """Evaluates a traced vjp rule: ``(*consts, *cts) -> flat cotangents``; it also
    remembers the argument structures the cotangents are unflattened into."""

    def __init__(self, jaxpr: core.Jaxpr, n_consts: int, arg_trees):
        self.jaxpr, self.n_consts, self.arg_trees = jaxpr, n_consts, arg_trees

    def __call__(self, *consts_and_cts):
        consts = consts_and_cts[:self.n_consts]
        return core.eval_jaxpr(self.jaxpr, consts, *consts_and_cts[self.n_consts:])


def custom_gradient(fun: Callable) -> Callable:
    """A function with a custom gradient given by ``fun(*args) -> (out, vjp)``.

    ``vjp(g)`` returns one cotangent per positional argument (a tuple). The vjp may
    close over values computed in ``fun``; they are saved as residuals.

    Example:
      >>> @fx.custom_gradient
      ... def f(x):
      ...   return x ** 2, lambda g: (g * x,)
      >>> fx.grad(f)(3.0)
      Array(3., dtype=float32, weak_type=True)
    """
    @custom_vjp
    def wrapped(*args):
        out, _ = fun(*args)
        return out

    def fwd(*args):
        out, rule = fun(*args)
        out_flat, out_tree = tree_util.tree_flatten(out)
        ct_avals = [get_aval(o).to_tangent_aval() for o in out_flat]
        arg_trees = [tree_util.tree_structure(a) for a in args]

        def flat_rule(*cts):
            cts_in = rule(tree_util.tree_unflatten(out_tree, cts))
            if len(args) == 1 and not isinstance(cts_in, (tuple, list)):
                cts_in = (cts_in,)
            if not isinstance(cts_in, (tuple, list)) or len(cts_in) != len(args):
                raise TypeError(f"custom_gradient: the vjp of {_fun_name(fun)} must return a "
                                f"tuple with one cotangent per positional argument "
                                f"({len(args)}), got {cts_in!r}")
            leaves = []
            for ct, a in zip(cts_in, args):
                if ct is None:  # no cotangent for this argument: zeros of its type
                    ct = tree_util.tree_map(
                        lambda x: R.zeros(get_aval(x).to_tangent_aval()), a)
                leaves.extend(_as_value(c, "cotangent", "custom_gradient vjp")
                              for c in tree_util.tree_leaves(ct))
            return leaves

        jaxpr, consts, _ = pe.trace_to_jaxpr(flat_rule, ct_avals)
        return out, tree_util.Partial(_JaxprFunction(jaxpr, len(consts), arg_trees), *consts)

    def bwd(res, g):
        leaves = iter(res(*tree_util.tree_leaves(g)))
        return tuple(tree_util.tree_unflatten(t, [next(leaves) for _ in range(t.num_leaves)])
                     for t in res.func.arg_trees)

    wrapped.defvjp(fwd, bwd)
    return functools.wraps(fun)(lambda *args: wrapped(*args))


# ---------------------------------------------------------------------------
# closure_convert


def _maybe_perturbed(x) -> bool:
    """Whether ``x`` may carry a derivative (a traced value of inexact dtype)."""
    if not isinstance(x, Tracer):
        return False
    val = getattr(x, "val", None)  # a batch tracer: look at what it wraps
    if val is not None and not isinstance(val, Tracer):
        return False
    return dtypes.is_inexact(x.aval.dtype)


def closure_convert(fun: Callable, *example_args) -> tuple[Callable, list]:
    """Hoist the traced values ``fun`` closes over into explicit arguments.

    Traces ``fun`` on the types of ``example_args``; values it reads from its
    closure that may carry derivatives (traced, inexact) are returned so they can be
    passed through a custom derivative boundary.

    Returns:
      ``(converted, hoisted)`` where ``converted(*args, *hoisted)`` equals ``fun(*args)``.

    Example:
      >>> def outer(y):
      ...   g = lambda x: x * y
      ...   converted, consts = fx.closure_convert(g, 1.0)
      ...   return converted(2.0, *consts)
    """
    flat, in_tree = tree_util.tree_flatten(example_args)
    in_avals = [get_aval(x) for x in flat]
    store = {}

    def flat_fun(*xs):
        out = fun(*tree_util.tree_unflatten(in_tree, xs))
        leaves, store["tree"] = tree_util.tree_flatten(out)
        return leaves

    jaxpr, consts, _ = pe.trace_to_jaxpr(flat_fun, in_avals, debug_info=_fun_name(fun))
    out_tree = store["tree"]
    hoist = [_maybe_perturbed(c) for c in consts]
    hoisted = [c for c, h in zip(consts, hoist) if h]
    n_hoisted = len(hoisted)

    def converted(*args_and_consts):
        n_args = len(args_and_consts) - n_hoisted
        args, new_consts = args_and_consts[:n_args], args_and_consts[n_args:]
        flat_args, tree = tree_util.tree_flatten(tuple(args))
        if tree != in_tree:
            raise TypeError("The inputs to the closure produced by closure_convert must have "
                            "the same Pytree structure as the example arguments passed when "
                            f"closure_convert was called. Expected {in_tree}, but got {tree}")
        it = iter(new_consts)
        all_consts = [next(it) if h else c for c, h in zip(consts, hoist)]
        return tree_util.tree_unflatten(out_tree, core.eval_jaxpr(jaxpr, all_consts, *flat_args))

    return converted, hoisted
