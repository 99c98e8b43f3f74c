"""Primitives for user-defined derivative rules: ``custom_jvp_call``,
``custom_vjp_call`` and the linear ``custom_lin`` that a custom_vjp's jvp
leaves for transposition to turn into a call of the user's ``bwd``.

Invariants: the Python rules travel as params with flat signatures
(``jvp(primals, tangents) -> (primals_out, tangents_out)``,
``fwd(primals, perturbed) -> (primals_out, residuals, res_tree)``,
``bwd(res_tree, residuals, cts) -> cts_in``), built by ``fx.custom_derivatives``;
lists may hold symbolic ``Zero``. The first ``num_consts`` operands are values the
primal function closed over; no rule differentiates with respect to them.
Batching wraps the rules (so the custom rule survives ``vmap``); staging keeps
the call as one equation (so it survives ``jit``); the jvp rule calls the
user's rule in the enclosing trace (so a second ``grad`` differentiates it).
This module also registers the ``remat2``/``name``/``optimization_barrier``
and the callback primitives (see ``primitives.remat``, ``primitives.callbacks``).
"""
from __future__ import annotations

from typing import Any

from fx import core, dtypes
from fx.core import ClosedJaxpr, Zero, get_aval
from fx.interpreters import ad, batching
from primitives import _higher_order as H
from primitives import _rules as R
from primitives._rules import new_primitive

__all__ = ["custom_jvp_call_p", "custom_vjp_call_p", "custom_lin_p"]


def _check_closed_over_tangents(tangents, num_consts: int, name: str, kind: str) -> None:
    if any(type(t) is not Zero for t in tangents[:num_consts]):
        raise TypeError(
            f"Detected differentiation of the {kind} function {name} with respect to a "
            f"closed-over value. That is not supported because the custom rule only says "
            f"how to differentiate {name} with respect to its explicit arguments. Pass the "
            f"closed-over value to {name} as an argument (and adapt the rule), or use "
            "fx.closure_convert.")


def _check_call_avals(avals, call_jaxpr: ClosedJaxpr, prim: str, name: str) -> None:
    expected = call_jaxpr.in_avals
    if len(avals) != len(expected):
        raise TypeError(f"{prim} {name}: got {len(avals)} operands, its call_jaxpr takes "
                        f"{len(expected)}")
    for i, (a, e) in enumerate(zip(avals, expected)):
        if not H.aval_matches(a, e):
            raise TypeError(f"{prim} {name}: operand {i} has type {a.str_short()}, its "
                            f"call_jaxpr expects {e.str_short()}")


class _OutBatching:
    """Which outputs of a batched custom call are batched.

    The batched primal jaxpr gives a first answer; a custom rule run while the call is
    being bound may batch more outputs (its primal outputs are then the call's
    outputs). Once decided, later runs of the rule must agree.
    """

    __slots__ = ("call", "decided")

    def __init__(self, call_out_batched):
        self.call = list(call_out_batched)
        self.decided = None

    def decide(self, wanted) -> list[bool]:
        if self.decided is None:
            self.decided = [c or w for c, w in zip(self.call, wanted)]
        elif any(w and not d for w, d in zip(wanted, self.decided)):
            raise NotImplementedError(
                "vmap of a custom derivative rule: the rule's outputs depend on the mapped "
                "axis where the function's own outputs do not, after the batched call was "
                "already staged. Make the primal function's outputs depend on the same "
                "inputs as the rule's.")
        return self.decided

    def final(self) -> list[bool]:
        if self.decided is None:
            self.decided = list(self.call)
        return self.decided


def _batch_call_jaxpr(call_jaxpr, axis, args, dims):
    args = [a if d is None else R.moveaxis(a, d, 0) for a, d in zip(args, dims)]
    in_batched = [d is not None for d in dims]
    b_call, out_b = batching.batch_jaxpr(call_jaxpr, axis.size, in_batched, instantiate=False,
                                         axis_name=axis.name)
    return args, in_batched, b_call, out_b


# ---------------------------------------------------------------------------
# custom_jvp_call

custom_jvp_call_p = new_primitive("custom_jvp_call", multiple_results=True,
                                  hidden_params=("num_consts",))
custom_jvp_call_p.param_order = ("name",)
custom_jvp_call_p.subjaxprs = lambda params: [params["call_jaxpr"]]
custom_jvp_call_p.axis_dependent = True


@custom_jvp_call_p.def_abstract_eval
def _custom_jvp_call_abstract_eval(*avals, name, call_jaxpr, jvp, num_consts, symbolic_zeros):
    _check_call_avals(avals, call_jaxpr, "custom_jvp_call", name)
    return call_jaxpr.out_avals


@custom_jvp_call_p.def_impl
def _custom_jvp_call_impl(*args, name, call_jaxpr, jvp, num_consts, symbolic_zeros):
    return H.eval_jaxpr_numpy(call_jaxpr.jaxpr, call_jaxpr.consts, args)


@custom_jvp_call_p.def_jvp
def _custom_jvp_call_jvp(primals, tangents, *, name, call_jaxpr, jvp, num_consts,
                         symbolic_zeros):
    _check_closed_over_tangents(tangents, num_consts, name, "custom_jvp")
    primals_out, tangents_out = jvp(list(primals[num_consts:]), list(tangents[num_consts:]))
    return list(primals_out), list(tangents_out)


@custom_jvp_call_p.def_transpose
def _custom_jvp_call_transpose(cts, *args, name, call_jaxpr, jvp, num_consts, symbolic_zeros):
    # Reached only when the call is applied to tangents (a rule calling a custom_jvp
    # function linearly): the primal function is then linear in those inputs.
    linear = [core.is_undefined_primal(a) for a in args]
    transposed = ad.transpose_jaxpr(call_jaxpr, linear)
    nonlin = [a for a, lin in zip(args, linear) if not lin]
    outs = core.eval_jaxpr(transposed.jaxpr, transposed.consts, *nonlin,
                           *[R.instantiate(c) for c in cts])
    it = iter(outs)
    return [next(it) if lin else None for lin in linear]


class _BatchedJVP:
    """A custom jvp rule run per example under ``vmap``."""

    def __init__(self, jvp, arg_batched, axis, out_batching: _OutBatching):
        self.jvp, self.arg_batched, self.axis, self.out = jvp, arg_batched, axis, out_batching
        self.__name__ = getattr(jvp, "__name__", "jvp")

    def __call__(self, primals, tangents):
        n = len(primals)
        n_out = []

        def run(xs):
            p_out, t_out = self.jvp(xs[:n], xs[n:])
            n_out.append(len(p_out))
            return list(p_out) + list(t_out)

        infos = H.run_batched(run, self.axis, list(primals) + list(tangents),
                              list(self.arg_batched) * 2)
        m = n_out[0]
        p_infos, t_infos = infos[:m], infos[m:]
        out_b = self.out.decide([pd is not None or td is not None
                                 for (_, pd), (_, td) in zip(p_infos, t_infos)])
        size = self.axis.size
        return ([H.move_to(p, d, b, size) for (p, d), b in zip(p_infos, out_b)],
                [H.move_to(t, d, b, size) for (t, d), b in zip(t_infos, out_b)])


def _custom_jvp_call_batch(args, dims, *, axis_data=None, name, call_jaxpr, jvp, num_consts,
                           symbolic_zeros):
    axis = H.AxisInfo.from_axis_data(axis_data, args, dims)
    args, in_batched, b_call, call_out_b = _batch_call_jaxpr(call_jaxpr, axis, args, dims)
    out_batching = _OutBatching(call_out_b)
    b_jvp = _BatchedJVP(jvp, in_batched[num_consts:], axis, out_batching)
    outs = custom_jvp_call_p.bind(*args, name=name, call_jaxpr=b_call, jvp=b_jvp,
                                  num_consts=num_consts, symbolic_zeros=symbolic_zeros)
    return outs, [0 if b else None for b in out_batching.final()]


custom_jvp_call_p.def_batch(_custom_jvp_call_batch)


# ---------------------------------------------------------------------------
# custom_vjp_call

custom_vjp_call_p = new_primitive("custom_vjp_call", multiple_results=True,
                                  hidden_params=("num_consts",))
custom_vjp_call_p.param_order = ("name",)
custom_vjp_call_p.subjaxprs = lambda params: [params["call_jaxpr"]]
custom_vjp_call_p.axis_dependent = True


@custom_vjp_call_p.def_abstract_eval
def _custom_vjp_call_abstract_eval(*avals, name, call_jaxpr, fwd, bwd, num_consts,
                                   symbolic_zeros):
    _check_call_avals(avals, call_jaxpr, "custom_vjp_call", name)
    return call_jaxpr.out_avals


@custom_vjp_call_p.def_impl
def _custom_vjp_call_impl(*args, name, call_jaxpr, fwd, bwd, num_consts, symbolic_zeros):
    return H.eval_jaxpr_numpy(call_jaxpr.jaxpr, call_jaxpr.consts, args)


class _BoundBwd:
    """A flat ``bwd`` together with the residual tree of the ``fwd`` call it answers."""

    def __init__(self, bwd, res_tree):
        self.bwd, self.res_tree = bwd, res_tree
        self.__name__ = getattr(bwd, "__name__", "bwd")

    def __call__(self, residuals, cts):
        return self.bwd(self.res_tree, residuals, cts)


@custom_vjp_call_p.def_jvp
def _custom_vjp_call_jvp(primals, tangents, *, name, call_jaxpr, fwd, bwd, num_consts,
                         symbolic_zeros):
    _check_closed_over_tangents(tangents, num_consts, name, "custom_vjp")
    arg_tangents = tangents[num_consts:]
    perturbed = tuple(type(t) is not Zero for t in arg_tangents)
    primals_out, residuals, res_tree = fwd(list(primals[num_consts:]), perturbed)
    # refs the primal writes: trailing outputs with no derivative (fx/custom_derivatives.py)
    n_ref = getattr(fwd, "n_ref_outs", 0)
    ref_finals = primals_out[len(primals_out) - n_ref:]
    primals_out = primals_out[:len(primals_out) - n_ref]
    out_avals = tuple(get_aval(p).to_tangent_aval() for p in primals_out)
    nonzero = [t for t in arg_tangents if type(t) is not Zero]
    tangents_out = custom_lin_p.bind(
        *residuals, *nonzero, num_res=len(residuals), bwd=_BoundBwd(bwd, res_tree),
        in_zeros=tuple(not p for p in perturbed), symbolic_zeros=symbolic_zeros,
        out_avals=out_avals)
    tangents_out = [Zero(a) if a.dtype == dtypes.float0 else t
                    for t, a in zip(tangents_out, out_avals)]
    tangents_out += [Zero(get_aval(v).to_tangent_aval()) for v in ref_finals]
    return list(primals_out) + list(ref_finals), tangents_out


class _BatchedFwd:
    """A custom_vjp ``fwd`` run per example under ``vmap``; residuals come back batched."""

    def __init__(self, fwd, arg_batched, axis, out_batching: _OutBatching):
        self.fwd, self.arg_batched, self.axis, self.out = fwd, arg_batched, axis, out_batching
        self.n_ref_outs = getattr(fwd, "n_ref_outs", 0)
        self.__name__ = getattr(fwd, "__name__", "fwd")

    def __call__(self, primals, perturbed):
        n_out, tree = [], []

        def run(xs):
            p_out, res, res_tree = self.fwd(xs, perturbed)
            n_out.append(len(p_out))
            tree.append(res_tree)
            return list(p_out) + list(res)

        infos = H.run_batched(run, self.axis, primals, self.arg_batched)
        m, size = n_out[0], self.axis.size
        out_b = self.out.decide([d is not None for _, d in infos[:m]])
        primals_out = [H.move_to(p, d, b, size) for (p, d), b in zip(infos[:m], out_b)]
        residuals = [H.move_to(r, d, True, size) for r, d in infos[m:]]
        return primals_out, residuals, tree[0]


class _BatchedBwd:
    """A custom_vjp ``bwd`` run per example under ``vmap`` (residuals batched at 0).

    ``out_batched`` says which cotangents arrive batched; the cotangent of an input
    that was not batched is summed over the mapped axis.
    """

    def __init__(self, bwd, arg_batched, axis, out_batched):
        self.bwd, self.arg_batched, self.axis = bwd, arg_batched, axis
        self.out_batched = out_batched  # a list, or an _OutBatching decided later
        self.__name__ = getattr(bwd, "__name__", "bwd")

    def __call__(self, res_tree, residuals, cts):
        out_b = self.out_batched
        if isinstance(out_b, _OutBatching):
            out_b = out_b.final()
        k = len(residuals)

        def run(xs):
            return list(self.bwd(res_tree, xs[:k], xs[k:]))

        infos = H.run_batched(run, self.axis, list(residuals) + list(cts),
                              [True] * k + list(out_b))
        size = self.axis.size
        return [H.move_to(c, d, True, size) if b else H.sum_out_batch(c, d)
                for (c, d), b in zip(infos, self.arg_batched)]


def _custom_vjp_call_batch(args, dims, *, axis_data=None, name, call_jaxpr, fwd, bwd,
                           num_consts, symbolic_zeros):
    axis = H.AxisInfo.from_axis_data(axis_data, args, dims)
    args, in_batched, b_call, call_out_b = _batch_call_jaxpr(call_jaxpr, axis, args, dims)
    out_batching = _OutBatching(call_out_b)
    arg_batched = in_batched[num_consts:]
    outs = custom_vjp_call_p.bind(
        *args, name=name, call_jaxpr=b_call,
        fwd=_BatchedFwd(fwd, arg_batched, axis, out_batching),
        bwd=_BatchedBwd(bwd, arg_batched, axis, out_batching),
        num_consts=num_consts, symbolic_zeros=symbolic_zeros)
    return outs, [0 if b else None for b in out_batching.final()]


custom_vjp_call_p.def_batch(_custom_vjp_call_batch)


# ---------------------------------------------------------------------------
# custom_lin: the linear part of a custom_vjp, only ever transposed

custom_lin_p = new_primitive("custom_lin", multiple_results=True, hidden_params=("out_avals",))
custom_lin_p.axis_dependent = True


@custom_lin_p.def_abstract_eval
def _custom_lin_abstract_eval(*avals, num_res, bwd, in_zeros, symbolic_zeros, out_avals):
    return list(out_avals)


@custom_lin_p.def_impl
def _custom_lin_impl(*args, num_res, bwd, in_zeros, symbolic_zeros, out_avals):
    raise TypeError("can't apply forward-mode autodiff (jvp) to a custom_vjp function.")


@custom_lin_p.def_jvp
def _custom_lin_jvp(primals, tangents, **params):
    raise TypeError("can't apply forward-mode autodiff (jvp) to a custom_vjp function.")


@custom_lin_p.def_transpose
def _custom_lin_transpose(cts, *args, num_res, bwd, in_zeros, symbolic_zeros, out_avals):
    residuals = list(args[:num_res])
    if not symbolic_zeros:
        cts = [R.instantiate(c) for c in cts]
    cts_in = bwd(residuals, list(cts))
    nonzero = [c for c, z in zip(cts_in, in_zeros) if not z]
    return [None] * num_res + nonzero


class _BatchedLinBwd:
    """The bound ``bwd`` of a ``custom_lin`` whose operands were batched."""

    def __init__(self, bwd, res_batched, in_batched, axis):
        self.bwd, self.res_batched, self.in_batched, self.axis = bwd, res_batched, in_batched, axis
        self.__name__ = getattr(bwd, "__name__", "bwd")

    def __call__(self, residuals, cts):
        k = len(residuals)

        def run(xs):
            return list(self.bwd(xs[:k], xs[k:]))

        infos = H.run_batched(run, self.axis, list(residuals) + list(cts),
                              list(self.res_batched) + [True] * len(cts))
        size = self.axis.size
        return [H.move_to(c, d, True, size) if b else H.sum_out_batch(c, d)
                for (c, d), b in zip(infos, self.in_batched)]


def _custom_lin_batch(args, dims, *, axis_data=None, num_res, bwd, in_zeros, symbolic_zeros,
                      out_avals):
    axis = H.AxisInfo.from_axis_data(axis_data, args, dims)
    args = [a if d is None else R.moveaxis(a, d, 0) for a, d in zip(args, dims)]
    batched = [d is not None for d in dims]
    it = iter(batched[num_res:])
    in_batched = [False if z else next(it) for z in in_zeros]
    outs = custom_lin_p.bind(
        *args, num_res=num_res, bwd=_BatchedLinBwd(bwd, batched[:num_res], in_batched, axis),
        in_zeros=in_zeros, symbolic_zeros=symbolic_zeros,
        out_avals=tuple(H.batched_aval(a, axis.size) for a in out_avals))
    return outs, [0] * len(outs)


custom_lin_p.def_batch(_custom_lin_batch)


def closed_call(closed: ClosedJaxpr, args) -> list[Any]:
    """Evaluate ``closed`` on ``args`` in the current trace."""
    return core.eval_jaxpr(closed.jaxpr, closed.consts, *args)


from primitives import remat, callbacks  # noqa: E402,F401  (registration)
