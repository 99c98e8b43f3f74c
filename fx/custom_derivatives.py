"""User-defined derivatives, as ``jax.custom_derivatives``: ``custom_jvp``,
``custom_vjp``, ``custom_gradient``, ``closure_convert`` and the symbolic-zero
helpers.

Invariants: calling a custom function with no transformation active just runs
it. Otherwise the primal function is traced to a jaxpr (closed-over tracers
become leading operands) and bound as ``custom_jvp_call``/``custom_vjp_call``,
carrying the user's rules wrapped to flat signatures (see
``primitives.custom_derivatives``); every check of what a rule returns happens
in those wrappers, with errors naming the rule, the function and the output.
Refs the primal function closes over are captured (``fx/_ref_scope.py``): their values
are extra leading consts of the call and the refs it writes extra trailing outputs,
written back after it; when a rule runs in place of the primal, those outputs are the
refs' values after the rule (which reads and writes refs directly), so only the rule's
writes land, as in JAX.
"""
from __future__ import annotations

import functools
import inspect
from typing import Callable, Sequence

import numpy as np

from fx import core, dtypes, tree_util
from fx.config import config
from fx.core import ShapedArray, Tracer, Zero, get_aval
from fx.interpreters import partial_eval as pe
from primitives import _rules as R
from primitives.custom_derivatives import custom_jvp_call_p

__all__ = ["custom_jvp", "custom_vjp", "custom_gradient", "closure_convert", "SymbolicZero",
           "CustomVJPPrimal", "custom_vjp_primal_tree_values", "zero_from_primal"]


class SymbolicZero:
    """A zero tangent (or cotangent) given to a custom rule that asked for symbolic zeros.

    Rules may also return it. It has the ``shape``, ``dtype`` and ``aval`` of the
    zero it stands for, and is falsy.
    """

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: self.aval.ndim)
    size = property(lambda self: self.aval.size)

    def __bool__(self):
        return False

    def __repr__(self):
        return "SymbolicZero"

    @staticmethod
    def from_primal_value(value) -> SymbolicZero:
        """The symbolic zero tangent of ``value``."""
        return SymbolicZero(get_aval(value).to_tangent_aval())

    def instantiate(self):
        """An array of zeros of this type."""
        return R.zeros(self.aval)


def zero_from_primal(value, symbolic_zeros: bool = False):
    """Zero tangents for each leaf of ``value`` (``SymbolicZero`` when asked)."""
    def zero(x):
        aval = get_aval(x).to_tangent_aval()
        return SymbolicZero(aval) if symbolic_zeros else R.zeros(aval)
    return tree_util.tree_map(zero, value)


class CustomVJPPrimal:
    """An argument of a ``custom_vjp`` fwd rule defined with ``symbolic_zeros=True``:
    ``value`` and whether it is ``perturbed`` (has a nonzero tangent)."""

    __slots__ = ("value", "perturbed")

    def __init__(self, value, perturbed: bool):
        self.value, self.perturbed = value, perturbed

    def __repr__(self):
        return f"CustomVJPPrimal(value={self.value!r}, perturbed={self.perturbed})"


def custom_vjp_primal_tree_values(tree):
    """``tree`` with each ``CustomVJPPrimal`` leaf replaced by its value."""
    return tree_util.tree_map(lambda x: x.value if isinstance(x, CustomVJPPrimal) else x,
                              tree, is_leaf=lambda x: isinstance(x, CustomVJPPrimal))


# ---------------------------------------------------------------------------
# shared helpers


def _fun_name(f) -> str:
    return getattr(f, "__name__", type(f).__name__)


def _resolve_kwargs(fun, args, kwargs) -> tuple:
    """Keyword arguments moved into their positions (custom functions take positions)."""
    if not kwargs:
        return tuple(args)
    try:
        bound = inspect.signature(fun).bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f"{_fun_name(fun)}: {e}") from None
    bound.apply_defaults()
    if bound.kwargs:
        raise TypeError(f"keyword arguments {sorted(bound.kwargs)} of {_fun_name(fun)} could "
                        "not be resolved to positions; custom_jvp/custom_vjp functions take "
                        "positional arguments")
    return tuple(bound.args)


def _as_value(x, what: str, who: str):
    """A leaf checked to be an fx value (Python scalars become weakly typed arrays)."""
    if isinstance(x, Tracer) or type(x) is core._array_type[0]:
        return x
    if isinstance(x, (bool, int, float, complex, np.ndarray, np.generic)):
        return core.constant_array(x)
    if hasattr(x, "__jax_array__"):
        return x.__jax_array__()
    raise TypeError(f"{who}: {what} {x!r} of type {type(x).__name__} is not a valid fx type; "
                    "expected arrays, scalars or pytrees of them")


def _split_nondiff(args, nondiff_argnums, name):
    n = len(args)
    for i in nondiff_argnums:
        if not -n <= i < n:
            raise ValueError(f"{name}: nondiff_argnums {tuple(nondiff_argnums)} out of range "
                             f"for a call with {n} positional arguments")
    nondiff = sorted({i % n for i in nondiff_argnums})
    dyn_positions = [i for i in range(n) if i not in nondiff]
    return nondiff, dyn_positions


def _rebuild(n, nondiff, nondiff_vals, dyn_positions, dyn_args):
    full = [None] * n
    for i, v in zip(nondiff, nondiff_vals):
        full[i] = v
    for i, v in zip(dyn_positions, dyn_args):
        full[i] = v
    return full


class _RefOutputs:
    """The refs a custom function's primal closes over (``fx/_ref_scope.py``): each is a
    leading const operand of the call (its value on entry), and each one the primal writes
    is an extra trailing output, written back into the ref after the call."""

    __slots__ = ("refs", "written")

    def __init__(self, refs=(), written=()):
        self.refs, self.written = tuple(refs), tuple(written)

    @property
    def written_refs(self) -> list:
        return [r for r, w in zip(self.refs, self.written) if w]

    def current_values(self) -> list:
        """The written refs' values now (after a custom rule ran in place of the primal
        and made its own writes, if any): the call's extra outputs then, so that the
        write-back changes nothing."""
        return [r._live_value("read") for r in self.written_refs]

    def write_back(self, outs: list, n_own: int, kind: str) -> list:
        from fx import _ref_scope
        _ref_scope.write_back(self.written_refs, outs[n_own:], f"{kind} function")
        return outs[:n_own]


def _trace_primal(fun, full_args_of, in_tree, in_avals, name):
    """Trace ``fun`` on flat avals, capturing the refs it closes over.

    Returns (closed_jaxpr, leading operands, out_tree, ref outputs): the leading operands
    are the hoisted outer tracers, then the captured refs' values; the jaxpr's outputs are
    ``fun``'s followed by the final value of each ref it writes (``_RefOutputs``).
    """
    from fx import _ref_scope
    store = {}

    def flat_fun(*flat):
        out = fun(*full_args_of(tree_util.tree_unflatten(in_tree, flat)))
        leaves, store["tree"] = tree_util.tree_flatten(out)
        return [_as_value(x, "output", name) for x in leaves]

    jaxpr, consts, _, use = _ref_scope.trace_to_jaxpr(flat_fun, in_avals)
    ref_outs, ref_values = _RefOutputs(), []
    if use is not None:  # the refs' inputs go first; only written refs stay outputs
        n = len(use)
        n_in, n_out = len(jaxpr.invars) - n, len(jaxpr.outvars) - n
        outvars = jaxpr.outvars[:n_out] + [v for v, w in zip(jaxpr.outvars[n_out:],
                                                             use.written) if w]
        jaxpr = core.Jaxpr(jaxpr.constvars, jaxpr.invars[n_in:] + jaxpr.invars[:n_in],
                           outvars, jaxpr.eqns)
        ref_outs, ref_values = _RefOutputs(use.refs, use.written), list(use.inits)
        if config.jax_enable_checks:
            core.check_jaxpr(jaxpr)
    jaxpr.debug_info = name
    closed, hoisted = pe.hoist_tracer_consts(jaxpr, consts)
    return closed, list(hoisted) + ref_values, store["tree"], ref_outs


def _check_out_avals(leaves, expected, who: str, what: str):
    for i, (x, e) in enumerate(zip(leaves, expected)):
        a = get_aval(x)
        if a.shape != e.shape or a.dtype != e.dtype:
            raise TypeError(f"{who} must produce {what} with the same shapes and dtypes as the "
                            f"primal function's outputs, but output {i} has type "
                            f"{a.str_short()} where the function gives {e.str_short()}")


def _tangent_value(t, aval: ShapedArray, who: str, i: int, primal_aval: ShapedArray):
    """A rule's tangent (or cotangent) leaf checked against ``aval``; ``Zero`` for none."""
    if t is None or isinstance(t, SymbolicZero):
        return Zero(aval)
    if aval.dtype == dtypes.float0:
        return Zero(aval)
    t = _as_value(t, "tangent output", who)
    ta = get_aval(t)
    if ta.shape != aval.shape or (ta.dtype != aval.dtype and not ta.weak_type):
        raise TypeError(
            f"{who} must produce primal and tangent outputs with corresponding shapes and "
            f"dtypes, but got:\n  primal {primal_aval.str_short()} with tangent "
            f"{ta.str_short()}, expecting tangent {aval.str_short()} (output {i})")
    return R.convert(t, aval.dtype) if ta.dtype != aval.dtype else t


def _zeros_for_rule(t, symbolic_zeros: bool):
    if type(t) is not Zero:
        return t
    return SymbolicZero(t.aval) if symbolic_zeros else R.zeros(t.aval)


# ---------------------------------------------------------------------------
# custom_jvp


class _FlatJVP:
    """The user's jvp rule as ``jvp(primals, tangents) -> (primals_out, tangents_out)``."""

    def __init__(self, rule, fun_name, nondiff_vals, in_tree, out_tree, out_avals,
                 symbolic_zeros, ref_outs: _RefOutputs):
        self.rule, self.fun_name, self.nondiff_vals = rule, fun_name, nondiff_vals
        self.in_tree, self.out_tree, self.out_avals = in_tree, out_tree, out_avals
        self.symbolic_zeros = symbolic_zeros
        self.ref_outs = ref_outs
        self.__name__ = _fun_name(rule)

    def __call__(self, primals, tangents):
        who = f"Custom JVP rule {self.__name__} for function {self.fun_name}"
        py_primals = tree_util.tree_unflatten(self.in_tree, primals)
        py_tangents = tree_util.tree_unflatten(
            self.in_tree, [_zeros_for_rule(t, self.symbolic_zeros) for t in tangents])
        out = self.rule(*self.nondiff_vals, tuple(py_primals), tuple(py_tangents))
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise TypeError(f"{who} must produce a pair (list or tuple of length two) "
                            f"representing primal and tangent outputs, but got {out!r}.")
        primals_out, tangents_out = out
        flat_p, tree_p = tree_util.tree_flatten(primals_out)
        if tree_p != self.out_tree:
            raise TypeError(f"{who} must produce primal outputs with the same container "
                            f"(pytree) structure as the primal function's output, but got "
                            f"{tree_p} where {self.out_tree} was expected.")
        flat_t, tree_t = tree_util.tree_flatten(
            tangents_out, is_leaf=lambda x: x is None or isinstance(x, SymbolicZero))
        if tree_t != tree_p:
            raise TypeError(f"{who} must produce primal and tangent outputs with equal "
                            f"container (pytree) structures, but got {tree_p} and {tree_t} "
                            "respectively.")
        flat_p = [_as_value(p, "primal output", who) for p in flat_p]
        _check_out_avals(flat_p, self.out_avals, who, "primal outputs")
        flat_t = [_tangent_value(t, e.to_tangent_aval(), who, i, e)
                  for i, (t, e) in enumerate(zip(flat_t, self.out_avals))]
        if self.ref_outs.refs:  # the rule ran instead of the primal: its refs as they are
            finals = self.ref_outs.current_values()
            flat_p += finals
            flat_t += [Zero(get_aval(v).to_tangent_aval()) for v in finals]
        return flat_p, flat_t


class custom_jvp:
    """A function with a custom forward-mode (jvp) rule, as ``jax.custom_jvp``.

    Reverse mode comes from transposing the rule, so the rule must be linear in
    the tangents. The rule stays in force under ``jit`` and ``vmap``, and a second
    derivative differentiates the rule itself.

    Args:
      fun: the primal function (positional arguments; pytrees of arrays).
      nondiff_argnums: positions of arguments that are not differentiated (e.g.
        functions, static ints); the rule receives them first.

    Example:
      >>> @fx.custom_jvp
      ... def f(x):
      ...   return fx.numpy.sin(x)
      >>> @f.defjvp
      ... def f_jvp(primals, tangents):
      ...   (x,), (t,) = primals, tangents
      ...   return f(x), fx.numpy.cos(x) * t
      >>> fx.grad(f)(0.0)
      Array(1., dtype=float32, weak_type=True)
    """

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        if not callable(fun):
            raise TypeError(f"custom_jvp requires a callable, got {type(fun).__name__}")
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp: Callable | None = None
        self.symbolic_zeros = False

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    def defjvp(self, jvp: Callable, symbolic_zeros: bool = False) -> Callable:
        """Set the jvp rule ``jvp(*nondiff_args, primals, tangents) -> (out, tangent_out)``.

        Args:
          jvp: the rule; ``primals`` and ``tangents`` are tuples with one entry per
            differentiable argument.
          symbolic_zeros: pass zero tangents as ``SymbolicZero`` instead of arrays.

        Returns:
          ``jvp`` (so ``defjvp`` works as a decorator).
        """
        self.jvp = jvp
        self.symbolic_zeros = symbolic_zeros
        return jvp

    def defjvps(self, *jvps: Callable | None) -> None:
        """Set the rule from one function per argument: ``jvp_i(t_i, ans, *primals)``.

        Each gives the output tangent contributed by argument ``i``'s tangent; None
        means no contribution. Example: ``f.defjvps(lambda t, ans, x: fx.numpy.cos(x) * t)``.
        """
        if self.nondiff_argnums:
            raise TypeError("defjvps is not supported with nondiff_argnums; use defjvp")

        def jvp(primals, tangents):
            ans = self(*primals)
            total = None
            for rule, t in zip(jvps, tangents):
                if rule is None:
                    continue
                contribution = rule(t, ans, *primals)
                total = contribution if total is None else tree_util.tree_map(
                    lambda a, b: a + b, total, contribution)
            if total is None:
                total = zero_from_primal(ans)
            return ans, total

        jvp.__name__ = "jvps"
        self.defjvp(jvp)

    def __call__(self, *args, **kwargs):
        name = _fun_name(self.fun)
        if self.jvp is None:
            raise AttributeError(f"No JVP defined for custom_jvp function {name} using "
                                 "defjvp.")
        args = _resolve_kwargs(self.fun, args, kwargs)
        if core.current_trace() is core.eval_trace:
            return self.fun(*args)
        nondiff, dyn_positions = _split_nondiff(args, self.nondiff_argnums, name)
        nondiff_vals = [_stop_gradient_tracers(args[i]) for i in nondiff]
        flat, in_tree = tree_util.tree_flatten([args[i] for i in dyn_positions])
        flat = [_as_value(x, "argument", f"custom_jvp function {name}") for x in flat]
        in_avals = [get_aval(x) for x in flat]

        def full_args(dyn):
            return _rebuild(len(args), nondiff, nondiff_vals, dyn_positions, dyn)

        closed, hoisted, out_tree, ref_outs = _trace_primal(self.fun, full_args, in_tree,
                                                            in_avals, name)
        jvp = _FlatJVP(self.jvp, name, nondiff_vals, in_tree, out_tree, closed.out_avals,
                       self.symbolic_zeros, ref_outs)
        outs = custom_jvp_call_p.bind(*hoisted, *flat, name=name, call_jaxpr=closed, jvp=jvp,
                                      num_consts=len(hoisted),
                                      symbolic_zeros=self.symbolic_zeros)
        if ref_outs.refs:
            outs = ref_outs.write_back(outs, out_tree.num_leaves, "custom_jvp")
        return tree_util.tree_unflatten(out_tree, outs)


def _has_tracer(x) -> bool:
    return any(isinstance(leaf, Tracer) for leaf in tree_util.tree_leaves(x))


def _stop_gradient_tracers(x):
    """``x`` with a zero derivative for each traced leaf (other leaves kept as they are)."""
    from fx.lax import stop_gradient
    return tree_util.tree_map(lambda leaf: stop_gradient(leaf) if isinstance(leaf, Tracer)
                              else leaf, x)


from fx._custom_vjp import (custom_vjp, custom_gradient, closure_convert)  # noqa: E402,F401
