"""``lax.custom_linear_solve`` and ``lax.custom_root``: solvers differentiated through
the problem they solve (implicit differentiation) instead of through their iterations.

Invariants: user functions are traced once into ClosedJaxprs whose closed-over values
become explicit operands. ``custom_linear_solve`` binds ``linear_solve_p`` (jvp by
solving again, transpose with ``transpose_solve``); ``custom_root`` is a ``custom_jvp``
whose tangent is ``-tangent_solve(df/dx, df/dparams . dparams)``, the implicit function
theorem. Tangents of values the solvers close over are ignored, as in JAX.
"""
from __future__ import annotations

from typing import Any, Callable

from fx import core, tree_util
from fx.core import ClosedJaxpr, Jaxpr, get_aval
from fx._ref_scope import trace_reading_refs
from primitives.linear_solve import LinearSolveTuple, linear_solve_p

__all__ = ["custom_linear_solve", "custom_root"]


def _avals(tree_leaves) -> list:
    return [get_aval(x).strip_weak_type() for x in tree_leaves]


def _trace_flat(fun: Callable, in_tree, in_avals, what: str):
    """Stage ``fun`` over pytree ``in_tree``; returns (closed jaxpr with consts as leading
    inputs, consts, out_tree)."""
    store = {}

    def flat_fun(*flat):
        out = fun(tree_util.tree_unflatten(in_tree, list(flat)))
        leaves, store["tree"] = tree_util.tree_flatten(out)
        return leaves

    jaxpr, consts, _ = trace_reading_refs(flat_fun, list(in_avals), f"the {what} function")
    closed = ClosedJaxpr(Jaxpr([], list(jaxpr.constvars) + list(jaxpr.invars), jaxpr.outvars,
                               jaxpr.eqns, jaxpr.debug_info), [])
    return closed, list(consts), store["tree"]


def _check_tree(what: str, expected, got):
    if expected != got:
        raise TypeError(f"{what} output must have the same structure as b: expected "
                        f"{expected}, got {got}")


def _as_array(x):
    if isinstance(x, (core.Tracer, core._array_type[0])):
        return x
    from fx.numpy import asarray
    return asarray(x)


def custom_linear_solve(matvec: Callable, b: Any, solve: Callable,
                        transpose_solve: Callable | None = None, symmetric: bool = False,
                        has_aux: bool = False):
    """Solve ``matvec(x) = b`` with ``solve``, differentiating through the linear system.

    Args:
      matvec: the linear map ``x -> A x`` (pytree to pytree of b's structure).
      b: the right-hand side (a pytree of arrays).
      solve: ``solve(matvec, b) -> x`` (returns ``(x, aux)`` when ``has_aux``).
      transpose_solve: ``transpose_solve(vecmat, b) -> x`` solving ``A^T x = b``; needed
        for reverse mode unless ``symmetric``.
      symmetric: A is symmetric (``solve`` doubles as ``transpose_solve``).
      has_aux: ``solve`` also returns auxiliary data (not differentiated).

    Returns:
      ``x`` (and ``aux`` when ``has_aux``).

    Example:
      >>> A = fnp.array([[2., 1.], [1., 3.]])
      >>> lax.custom_linear_solve(lambda x: A @ x, fnp.ones(2),
      ...                         lambda mv, b: fnp.linalg.solve(A, b), symmetric=True)
      Array([0.4, 0.2], dtype=float32)
    """
    b_flat, tree = tree_util.tree_flatten(b)
    b_flat = [_as_array(x) for x in b_flat]
    b_avals = _avals(b_flat)
    b = tree_util.tree_unflatten(tree, b_flat)

    matvec_jaxpr, matvec_consts, out_tree = _trace_flat(matvec, tree, b_avals, "matvec")
    _check_tree("matvec", tree, out_tree)
    for got, want in zip(matvec_jaxpr.out_avals, b_avals):
        if got.shape != want.shape or got.dtype != want.dtype:
            raise TypeError(f"matvec output type {got.str_short()} must match the type "
                            f"{want.str_short()} of b")

    def _solve_with(fn, mv):
        def run(x):
            out = fn(mv, x)
            if has_aux:
                sol, aux = out
                return sol, aux
            return out
        return run

    def _solution_tree(out_tree_):
        return out_tree_.children()[0] if has_aux else out_tree_

    solve_jaxpr, solve_consts, solve_tree = _trace_flat(_solve_with(solve, matvec), tree,
                                                        b_avals, "solve")
    _check_tree("solve", tree, _solution_tree(solve_tree))

    if symmetric:
        vecmat, vecmat_jaxpr, vecmat_consts = matvec, matvec_jaxpr, matvec_consts
        if transpose_solve is None:
            transpose_solve = solve
    else:
        from fx.api import linear_transpose
        if all(a.dtype.kind in "fc" or a.dtype.name == "bfloat16" for a in b_avals):
            vecmat_t = linear_transpose(matvec, b)

            def vecmat(x):
                return vecmat_t(x)[0]
            vecmat_jaxpr, vecmat_consts, _ = _trace_flat(vecmat, tree, b_avals, "vecmat")
        else:
            vecmat, vecmat_jaxpr, vecmat_consts = None, None, []

    if transpose_solve is not None and vecmat is not None:
        tsolve_jaxpr, tsolve_consts, tsolve_tree = _trace_flat(
            _solve_with(transpose_solve, vecmat), tree, b_avals, "transpose_solve")
        _check_tree("transpose_solve", tree, _solution_tree(tsolve_tree))
    else:
        tsolve_jaxpr, tsolve_consts = None, []

    consts = LinearSolveTuple(matvec_consts, vecmat_consts, solve_consts, tsolve_consts)
    const_lengths = LinearSolveTuple(*[len(c) for c in consts])
    jaxprs = LinearSolveTuple(matvec_jaxpr, vecmat_jaxpr, solve_jaxpr, tsolve_jaxpr)
    outs = linear_solve_p.bind(*[c for group in consts for c in group], *b_flat,
                               const_lengths=const_lengths, jaxprs=jaxprs)
    return tree_util.tree_unflatten(solve_tree, outs)


def custom_root(f: Callable, initial_guess: Any, solve: Callable, tangent_solve: Callable,
                has_aux: bool = False):
    """Find a root of ``f`` with ``solve``, differentiating by the implicit function
    theorem rather than through the solver.

    Args:
      f: the function whose root is wanted (pytree -> pytree of the same structure).
      initial_guess: the starting point (a pytree of arrays).
      solve: ``solve(f, initial_guess) -> root`` (``(root, aux)`` when ``has_aux``).
      tangent_solve: ``tangent_solve(g, y) -> x`` solving the linear ``g(x) = y`` (``g``
        is ``f`` linearized at the root); e.g. ``lambda g, y: y / g(1.0)`` for scalars.
      has_aux: ``solve`` also returns auxiliary data (not differentiated).

    Returns:
      The root (and ``aux`` when ``has_aux``); its derivative with respect to values
      ``f`` closes over is ``-(df/dx)^-1 df/dparams``.

    Example:
      >>> sqrt = lambda a: lax.custom_root(lambda x: x * x - a, 1.0, newton, scalar_solve)
    """
    from fx.custom_derivatives import custom_jvp
    from fx.api import jvp as fx_jvp
    from fx.lax._lax import neg, stop_gradient

    guess_flat, tree = tree_util.tree_flatten(initial_guess)
    guess_flat = [_as_array(x) for x in guess_flat]
    guess_avals = _avals(guess_flat)

    f_jaxpr, f_consts, f_tree = _trace_flat(f, tree, guess_avals, "f")
    _check_tree("f", tree, f_tree)
    n_f = len(f_consts)

    def f_with(params):
        def fun(x):
            flat = tree_util.tree_leaves(x)
            outs = core.eval_jaxpr(f_jaxpr.jaxpr, [], *params, *flat)
            return tree_util.tree_unflatten(tree, outs)
        return fun

    store = {}

    def solve_flat(*args):
        params, guess = args[:n_f], args[n_f:]
        out = solve(f_with(params), tree_util.tree_unflatten(tree, list(guess)))
        leaves, store["tree"] = tree_util.tree_flatten(out)
        return leaves

    solve_j, solve_consts, _ = trace_reading_refs(
        solve_flat, [get_aval(c) for c in f_consts] + guess_avals, "custom_root")
    solve_tree = store["tree"]
    n_sol = len(guess_flat)

    def tangent_flat(*args):
        # tangent_solve staged now, while any tracer it closes over is live: its consts
        # travel into the custom_jvp rule as operands (never a leaked closure); the rule
        # ignores their tangents, but higher derivatives see them through the rule
        params, sol, rhs = args[:n_f], args[n_f:n_f + n_sol], args[n_f + n_sol:]
        sol_tree = tree_util.tree_unflatten(tree, list(sol))

        def f_lin(x_dot):
            return fx_jvp(f_with(params), (sol_tree,), (x_dot,))[1]
        return tree_util.tree_leaves(tangent_solve(f_lin, tree_util.tree_unflatten(
            tree, list(rhs))))

    tangent_j, tangent_consts, _ = trace_reading_refs(
        tangent_flat, [get_aval(c) for c in f_consts] + guess_avals + guess_avals,
        "custom_root's tangent_solve")
    n_s, n_t = len(solve_consts), len(tangent_consts)

    @custom_jvp
    def _root(*args):
        s_consts = args[:n_s]
        params, guess = args[n_s + n_t:n_s + n_t + n_f], args[n_s + n_t + n_f:]
        return core.eval_jaxpr(solve_j, list(s_consts), *params, *guess)

    @_root.defjvp
    def _root_jvp(primals, tangents):
        t_consts = primals[n_s:n_s + n_t]
        params = primals[n_s + n_t:n_s + n_t + n_f]
        params_dot = tangents[n_s + n_t:n_s + n_t + n_f]
        outs = _root(*primals)
        sol = tree_util.tree_unflatten(tree, list(outs[:n_sol]))
        _, rhs = fx_jvp(lambda p: f_with(p)(sol), (list(params),), (list(params_dot),))
        sol_dot = core.eval_jaxpr(tangent_j, list(t_consts), *params, *outs[:n_sol],
                                  *tree_util.tree_leaves(rhs))
        sol_dot = [neg(t) for t in sol_dot]
        from fx.lax._lax import full_like
        aux_dots = [full_like(o, 0) for o in outs[n_sol:]]
        return list(outs), sol_dot + aux_dots

    outs = _root(*[stop_gradient(c) for c in solve_consts],
                 *tangent_consts, *f_consts, *guess_flat)
    return tree_util.tree_unflatten(solve_tree, list(outs))
