"""``custom_linear_solve``'s primitive: ``x = solve(matvec, b)`` with the derivatives of
the linear system rather than of the solver's iterations.

Invariants: operands are the consts of the four functions (in the order matvec, vecmat,
solve, transpose_solve, with counts in ``const_lengths``) followed by the leaves of
``b``; ``jaxprs`` holds one ClosedJaxpr per function (None where absent) taking its
consts then the vector. Tangents of the consts of ``solve``/``transpose_solve``/
``vecmat`` are ignored (the solution is defined by ``matvec`` alone, as in JAX); the
primitive is linear in ``b``, so its transpose is the same primitive with the roles of
matvec/vecmat and solve/transpose_solve swapped.
"""
from __future__ import annotations

from typing import NamedTuple

from fx import core
from fx.core import Zero
from fx.interpreters import ad, batching
from primitives import _rules as R
from primitives._rules import new_primitive
from primitives.control_flow_util import as_operands, compile_closed, split_list

__all__ = ["linear_solve_p", "LinearSolveTuple"]


class LinearSolveTuple(NamedTuple):
    """One entry per function of a linear solve (const counts, or jaxprs)."""
    matvec: object
    vecmat: object
    solve: object
    transpose_solve: object

    def transpose(self) -> LinearSolveTuple:
        return LinearSolveTuple(self.vecmat, self.matvec, self.transpose_solve, self.solve)

    def __repr__(self) -> str:
        # JAX 0.10's name and form in printed jaxprs (each jaxpr printed on its own)
        fields = ", ".join(f"{k}={v!r}" for k, v in zip(self._fields, self))
        return f"_LinearSolveTuple({fields})"


linear_solve_p = new_primitive("custom_linear_solve", multiple_results=True)
linear_solve_p.subjaxprs = lambda params: [j for j in params["jaxprs"] if j is not None]


def _split(args, const_lengths):
    *consts, b = split_list(list(args), list(const_lengths))
    return LinearSolveTuple(*consts), b


@linear_solve_p.def_abstract_eval
def _linear_solve_abstract_eval(*avals, const_lengths, jaxprs):
    consts, b = _split(avals, const_lengths)
    solve = jaxprs.solve
    expected = solve.in_avals[const_lengths.solve:]
    if len(expected) != len(b) or any(e.shape != a.shape or e.dtype != a.dtype
                                       for e, a in zip(expected, b)):
        raise TypeError("custom_linear_solve: b has types "
                        f"{[a.str_short() for a in b]} but solve expects "
                        f"{[a.str_short() for a in expected]}")
    return [a.strip_weak_type() for a in solve.out_avals]


@linear_solve_p.def_impl
def _linear_solve_impl(*args, const_lengths, jaxprs):
    consts, b = _split(args, const_lengths)
    solve = jaxprs.solve
    return compile_closed(solve)(as_operands(list(consts.solve) + b, solve.in_avals))


@linear_solve_p.def_jvp
def _linear_solve_jvp(primals, tangents, *, const_lengths, jaxprs):
    params = dict(const_lengths=const_lengths, jaxprs=jaxprs)
    outs = linear_solve_p.bind(*primals, **params)
    consts, _ = _split(primals, const_lengths)
    const_dots, b_dot = _split(tangents, const_lengths)
    n = len(b_dot)
    x = outs[:n]
    # d(A x) = dA x + A dx = db  =>  dx = solve(db - dA x)
    rhs = [R.instantiate(t) if type(t) is not Zero else t for t in b_dot]
    if any(type(t) is not Zero for t in const_dots.matvec):
        matvec = jaxprs.matvec
        _, dA_x = ad.jvp_flat(core.jaxpr_as_fun(matvec), list(consts.matvec) + x,
                              list(const_dots.matvec) +
                              [Zero(core.get_aval(v).to_tangent_aval()) for v in x])
        rhs = [d if type(r) is Zero and type(d) is Zero else
               R.neg(d) if type(r) is Zero else
               r if type(d) is Zero else R.add_tangents(r, R.neg(d))   # as JAX stages it
               for r, d in zip(rhs, dA_x)]
    aux_zeros = [Zero(core.get_aval(o).to_tangent_aval()) for o in outs[n:]]
    if all(type(r) is Zero for r in rhs):
        return outs, [Zero(core.get_aval(v).to_tangent_aval()) for v in x] + aux_zeros
    rhs = [R.instantiate(r) for r in rhs]
    x_dot = linear_solve_p.bind(*_flat_consts(consts), *rhs, **params)
    return outs, list(x_dot[:n]) + aux_zeros


def _flat_consts(consts: LinearSolveTuple) -> list:
    return [c for group in consts for c in group]


@linear_solve_p.def_transpose
def _linear_solve_transpose(cts, *args, const_lengths, jaxprs):
    if jaxprs.transpose_solve is None:
        raise TypeError("transpose_solve required for backwards mode automatic "
                        "differentiation of custom_linear_solve")
    consts, b = _split(args, const_lengths)
    if any(core.is_undefined_primal(c) for c in _flat_consts(consts)):
        raise ValueError("custom_linear_solve is linear only in b, not in the functions' "
                         "constants")
    n = len(b)
    cts_x = [R.zeros(v.aval.to_tangent_aval()) if type(c) is Zero else c
             for c, v in zip(cts[:n], b)]
    t_consts = consts.transpose()
    outs = linear_solve_p.bind(*_flat_consts(t_consts), *cts_x,
                               const_lengths=const_lengths.transpose(),
                               jaxprs=jaxprs.transpose())
    return [None] * sum(const_lengths) + list(outs[:n])


@linear_solve_p.def_batch
def _linear_solve_batch(args, dims, *, const_lengths, jaxprs):
    size = R.batch_size(args, dims)
    consts, b = _split(args, const_lengths)
    const_dims, b_dims = _split(dims, const_lengths)
    new_consts, new_jaxprs = [], []
    for group, gdims, closed in zip(consts, const_dims, jaxprs):
        moved = [c if d is None else R.moveaxis(c, d, 0) for c, d in zip(group, gdims)]
        new_consts.append(moved)
        if closed is None:
            new_jaxprs.append(None)
            continue
        flags = [d is not None for d in gdims] + [True] * (len(closed.in_avals) - len(group))
        batched, _ = batching.batch_jaxpr(closed, size, flags, instantiate=True)
        new_jaxprs.append(batched)
    b = [R.bdim_to_front(v, d, size) for v, d in zip(b, b_dims)]
    outs = linear_solve_p.bind(*[c for g in new_consts for c in g], *b,
                               const_lengths=const_lengths,
                               jaxprs=LinearSolveTuple(*new_jaxprs))
    return outs, [0] * len(outs)

