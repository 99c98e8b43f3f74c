"""``fx.lax`` control flow: ``cond``, ``switch``, ``while_loop``, ``fori_loop``,
``scan``, ``map`` and ``associative_scan``, with JAX's signatures and errors.

Invariants: user functions are traced once per call into jaxprs over flattened
pytrees; values they close over (arrays or tracers of enclosing traces) become
explicit leading operands of the primitive, so the sub-jaxprs are closed and
every transformation of the primitive sees them. Carries keep their shape and
dtype; a weakly typed initial carry is promoted to the body's output dtype
(and the body traced again), as JAX does. Refs a body closes over become extra
consts or carries of the primitive (``fx/_ref_scope.py``); such a body is never
cached.
"""
from __future__ import annotations

import inspect
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from fx import _ref_scope, core, dtypes, tree_util
from fx.config import config
from fx.core import ClosedJaxpr, Jaxpr, ShapedArray, Tracer, Var, get_aval
from fx.errors import ConcretizationTypeError
from fx.lax import _lax as lax
from primitives._rules import registry
from primitives.control_flow import cond_p, scan_p, while_p
from primitives.control_flow_util import (mismatch_reason, scan_forwarding, type_name,
                                          while_forwarding)

__all__ = ["cond", "switch", "while_loop", "fori_loop", "scan", "map", "associative_scan"]

_NO_OPERAND = object()

# ---------------------------------------------------------------------------
# tracing user functions


def _aval_of(x, what: str) -> ShapedArray:
    try:
        return get_aval(x)
    except TypeError:
        raise TypeError(f"{what}: argument {x!r} of type {type(x)} is not a valid fx type "
                        "(expected arrays, scalars or pytrees of them)") from None


_traced_cache: "weakref.WeakKeyDictionary[Callable, dict]" = weakref.WeakKeyDictionary()


def _trace(fun: Callable, in_tree, in_avals: Sequence[ShapedArray], split_out=None):
    """Stage ``fun(*tree_unflatten(in_tree, args))``, cached per function and types.

    Returns (jaxpr, consts, out_trees, out_avals, ref_use). ``split_out`` turns the
    Python output into a tuple of pytrees (one out tree each); by default it is one
    pytree. ``ref_use`` (None when no Ref was touched) lists the refs the body captured:
    the jaxpr then has one more input and output per ref (``_ref_scope.RefUse``). A
    result that closes over tracers or refs is not cached (they die with their trace).
    """
    key = (in_tree, tuple(in_avals), getattr(split_out, "__code__", split_out),
           config._state_key)
    try:
        per_fun = _traced_cache.setdefault(fun, {})
    except TypeError:  # not weak-referenceable: trace every time
        per_fun = None
    if per_fun is not None:
        hit = per_fun.get(key)
        if hit is not None:
            return hit
    result = _trace_uncached(fun, in_tree, in_avals, split_out)
    if per_fun is not None and result[4] is None and not any(
            isinstance(c, core.Tracer) for c in result[1]):
        per_fun[key] = result
    return result


def _trace_uncached(fun, in_tree, in_avals, split_out):
    store: dict[str, Any] = {}

    def flat_fun(*flat):
        out = fun(*tree_util.tree_unflatten(in_tree, list(flat)))
        parts = split_out(out) if split_out is not None else (out,)
        flat_out, trees = [], []
        for part in parts:
            leaves, tree = tree_util.tree_flatten(part)
            flat_out.extend(leaves)
            trees.append(tree)
        store["trees"] = trees
        return flat_out

    jaxpr, consts, out_avals, use = _ref_scope.trace_to_jaxpr(flat_fun, list(in_avals))
    return jaxpr, consts, store["trees"], out_avals, use


def _consts_as_invars(jaxpr: Jaxpr) -> ClosedJaxpr:
    """The jaxpr with its constvars turned into leading inputs."""
    return ClosedJaxpr(Jaxpr([], jaxpr.constvars + jaxpr.invars, jaxpr.outvars, jaxpr.eqns,
                             jaxpr.debug_info), [])


def _bind(primitive, args, params) -> list:
    """``primitive.bind``; eager results get the weak types abstract evaluation gives
    (the eager path of a multiple-result primitive does not track them)."""
    outs = primitive.bind(*args, **params)
    if core.current_trace() is core.eval_trace:
        avals = primitive.abstract_eval(*[get_aval(a) for a in args], **params)
        array_type = core._array_type[0]
        outs = [_reweak(o, a.weak_type) if type(o) is array_type
                and o.weak_type != a.weak_type else o for o, a in zip(outs, avals)]
    return outs


def _reweak(array, weak_type: bool):
    """``array`` with ``weak_type``, on the same device with the same commitment."""
    out = type(array)(array._value, weak_type, device=array._device)
    if not getattr(array, "_committed", True):
        out._committed = False
    return out


def _describe(fun) -> str:
    """``name at file:line`` for error messages."""
    code = getattr(fun, "__code__", None)
    name = getattr(fun, "__name__", type(fun).__name__)
    if code is None:
        return name
    return f"{name} at {code.co_filename}:{code.co_firstlineno}"


def _leaf_paths(tree) -> list[str]:
    """The key path of every leaf of ``tree`` (a PyTreeDef), as text."""
    proxy = tree_util.tree_unflatten(tree, list(range(tree.num_leaves)))
    return [tree_util.keystr(path) for path, _ in tree_util.tree_flatten_with_path(proxy)[0]]


def _first_param(fun, default: str) -> str:
    try:
        params = list(inspect.signature(fun).parameters.values())
    except (TypeError, ValueError):
        return default
    return params[0].name if params else default


# ---------------------------------------------------------------------------
# cond and switch


def cond(pred, true_fun: Callable, false_fun: Callable, *operands, operand=_NO_OPERAND):
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``, staged as one
    ``cond`` so that the choice may depend on traced values.

    Args:
      pred: a boolean scalar, or a number (nonzero means true).
      true_fun, false_fun: functions of the operands returning pytrees of the same
        structure and types.
      operands: the arguments of the branches (``operand=`` is the older form).

    Returns:
      The chosen branch's output.

    Example:
      >>> fx.lax.cond(x > 0, lambda x: x, lambda x: -x, x)   # |x|
    """
    if operand is not _NO_OPERAND:
        if operands:
            raise TypeError("cond: pass the operands either positionally or as operand=, "
                            "not both")
        operands = (operand,)
    if not (callable(true_fun) and callable(false_fun)):
        raise TypeError("lax.cond: true_fun and false_fun arguments should be callable.")
    try:
        aval = get_aval(pred)
    except TypeError:
        raise TypeError(f"Pred must be a scalar, got {pred!r} of type {type(pred)}") from None
    if aval.shape != ():
        raise TypeError(f"Pred must be a scalar, got {pred} of shape {aval.shape}.")
    if aval.dtype != dtypes.bool_:
        if aval.dtype.kind not in "iufc" and aval.dtype != dtypes.bfloat16:
            raise TypeError(f"Pred type must be either boolean or number, got "
                            f"{aval.dtype.name}.")
        pred = lax.ne(pred, 0)
    if config.jax_disable_jit and not isinstance(pred, Tracer):
        return true_fun(*operands) if bool(pred) else false_fun(*operands)
    index = lax.convert_element_type(pred, dtypes.int32)
    return _staged_switch("cond", index, (false_fun, true_fun), operands,
                          names=("false_fun", "true_fun"), compare=(1, 0))


def switch(index, branches: Sequence[Callable], *operands, operand=_NO_OPERAND):
    """``branches[index](*operands)``, with ``index`` clamped into range.

    Args:
      index: an integer scalar (values below 0 pick the first branch, values past the
        end the last, as JAX).
      branches: a sequence of functions with the same output structure and types.
      operands: the arguments of the branches.

    Returns:
      The chosen branch's output.

    Example:
      >>> fx.lax.switch(i, [fnp.sin, fnp.cos, fnp.tanh], x)
    """
    if operand is not _NO_OPERAND:
        if operands:
            raise TypeError("switch: pass the operands either positionally or as "
                            "operand=, not both")
        operands = (operand,)
    branches = tuple(branches)
    if not branches:
        raise ValueError("Empty branch sequence")
    for i, b in enumerate(branches):
        if not callable(b):
            raise TypeError(f"lax.switch: branches[{i}] should be callable, got {b!r}")
    aval = _aval_of(index, "switch index")
    if aval.shape != ():
        raise TypeError(f"Branch index must be scalar, got {index} of shape {aval.shape}.")
    if not dtypes.is_integer(aval.dtype):
        raise TypeError(f"Index type must be an integer, got {index} as {aval.dtype.name}")
    if len(branches) == 1:
        return branches[0](*operands)
    index = lax.convert_element_type(index, dtypes.int32)
    index = lax.clamp(np.int32(0), index, np.int32(len(branches) - 1))
    if config.jax_disable_jit and not isinstance(index, Tracer):
        return branches[int(index)](*operands)
    names = tuple(f"branch {i}" for i in range(len(branches)))
    return _staged_switch("switch", index, branches, operands, names=names, compare=None)


def _staged_switch(what, index, branches, operands, names, compare):
    ops_flat, in_tree = tree_util.tree_flatten(tuple(operands))
    in_avals = [_aval_of(x, what) for x in ops_flat]
    traced = [_trace(b, in_tree, in_avals) for b in branches]
    ref_ops, finish = [], None
    if any(t[4] is not None for t in traced):  # closed-over refs: extra operands/outputs
        jaxprs, ref_ops, finish = _ref_scope.unify_branches(
            [(t[0], t[4]) for t in traced], len(ops_flat))
        traced = [(j, *t[1:]) for j, t in zip(jaxprs, traced)]
    # compare every branch with a reference one (true_fun for cond, branch 0 for switch)
    ref = compare[0] if compare else 0
    others = [compare[1]] if compare else [i for i in range(len(branches)) if i != ref]
    for i in others:
        _check_branch_outputs(what, branches, names, ref, i, traced[ref], traced[i])
    # every branch takes the consts of all branches (each value once)
    all_consts: list = []
    slot: dict[int, int] = {}
    for _, consts, *_ in traced:
        for c in consts:
            if id(c) not in slot:
                slot[id(c)] = len(all_consts)
                all_consts.append(c)
    closed = []
    for jaxpr, consts, *_ in traced:
        const_invars = [Var(get_aval(c)) for c in all_consts]
        for v, c in zip(jaxpr.constvars, consts):
            const_invars[slot[id(c)]] = v
        closed.append(ClosedJaxpr(Jaxpr([], const_invars + jaxpr.invars, jaxpr.outvars,
                                        jaxpr.eqns), []))
    outs = _bind(cond_p, [index, *all_consts, *ops_flat, *ref_ops],
                 dict(branches=tuple(closed)))
    if finish is not None:
        outs = finish(outs)
    return tree_util.tree_unflatten(traced[ref][2][0], outs)


def _check_branch_outputs(what, branches, names, a, b, traced_a, traced_b):
    (_, _, (tree_a,), avals_a, _), (_, _, (tree_b,), avals_b, _) = traced_a, traced_b
    header = (f"\n\n{names[a]} is {_describe(branches[a])}\n{names[b]} is "
              f"{_describe(branches[b])}\n\n")
    if tree_a != tree_b:
        raise TypeError(
            f"{what} branch outputs must have the same pytree structure, but they differ:"
            f"{header}{names[a]} output has structure {tree_a} but {names[b]} output has "
            f"structure {tree_b}.\n\nRevise {names[a]} and/or {names[b]} so that they have "
            "the same pytree structure.")
    paths = _leaf_paths(tree_a)
    bad = []
    for path, x, y in zip(paths, avals_a, avals_b):
        if x.shape != y.shape or x.dtype != y.dtype:
            where = f" at path {path}" if path else ""
            bad.append(f"output of {names[a]}{where} has type {type_name(x)} but the "
                       f"corresponding output of {names[b]} has type {type_name(y)}, "
                       f"{mismatch_reason(x, y)}")
    if len(bad) == 1:
        detail = f"The {bad[0]}."
    elif bad:
        detail = "\n".join(f"  * the {m};" for m in bad)
    if bad:
        raise TypeError(f"{what} branches must have equal output types but they differ."
                        f"{header}{detail}\n\nRevise {names[a]} and/or {names[b]} so that "
                        "all output types match.")


# ---------------------------------------------------------------------------
# loops: shared checks


def _carry_structure_error(loop, name, in_tree, out_tree):
    return TypeError(
        f"{loop} body function carry input and carry output must have the same pytree "
        f"structure, but they differ:\n\nThe input carry {name} has structure {in_tree} but "
        f"the carry output has structure {out_tree}.\n\nRevise the function so that the "
        "carry output has the same pytree structure as the carry input.")


def _carry_type_error(loop, name, in_tree, in_avals, out_avals):
    paths = _leaf_paths(in_tree)
    bad = []
    for path, x, y in zip(paths, in_avals, out_avals):
        if x.shape != y.shape or x.dtype != y.dtype:
            which = f"component {name}{path}" if path else name
            bad.append(f"input carry {which} has type {type_name(x)} but the corresponding "
                       f"output carry component has type {type_name(y)}, "
                       f"{mismatch_reason(x, y)}")
    if not bad:
        return None
    detail = f"The {bad[0]}." if len(bad) == 1 else "\n".join(f"  * the {m};" for m in bad)
    return TypeError(f"{loop} body function carry input and carry output must have equal "
                     f"types, but they differ:\n\n{detail}\n\nRevise the function so that "
                     "all output types match the corresponding input types.")


def _promote_weak_carry(init_flat, in_avals, out_avals):
    """Weakly typed initial carries whose type the body changes take the body's dtype.

    Returns the new initial values, or None when nothing changed."""
    changed = False
    new = list(init_flat)
    for k, (a, b) in enumerate(zip(in_avals, out_avals)):
        if a.weak_type and a.shape == b.shape and a.dtype != b.dtype:
            dtype = dtypes.result_type(init_flat[k], b)
            new[k] = lax._convert_element_type(init_flat[k], dtype, weak_type=False)
            changed = True
    return new if changed else None


# ---------------------------------------------------------------------------
# while_loop and fori_loop


def while_loop(cond_fun: Callable, body_fun: Callable, init_val):
    """Repeat ``val = body_fun(val)`` while ``cond_fun(val)``; return the final ``val``.

    The carry keeps its pytree structure, shapes and dtypes. Forward-mode
    differentiation works; reverse mode does not (use ``scan`` or a ``fori_loop``
    with static bounds).

    Args:
      cond_fun: carry -> boolean scalar.
      body_fun: carry -> carry.
      init_val: the initial carry (a pytree of arrays).

    Returns:
      The carry after the last step.

    Example:
      >>> fx.lax.while_loop(lambda x: x < 10, lambda x: x * 2, 1)   # 16
    """
    if not (callable(body_fun) and callable(cond_fun)):
        raise TypeError("lax.while_loop: body_fun and cond_fun arguments should be callable.")
    if config.jax_disable_jit:
        try:
            val = init_val
            while bool(cond_fun(val)):
                val = body_fun(val)
            return val
        except ConcretizationTypeError:
            pass
    init_flat, in_tree = tree_util.tree_flatten(init_val)
    name = _first_param(body_fun, "carry")
    while True:  # each pass promotes some weak carries to strong ones, so this ends
        in_avals = [_aval_of(x, "while_loop") for x in init_flat]
        cond_jaxpr, cond_consts, _, pred_avals, cond_refs = _trace(
            cond_fun, tree_util.tree_structure((init_val,)), in_avals)
        if len(pred_avals) != 1 or pred_avals[0].shape != () or \
                pred_avals[0].dtype != dtypes.bool_:
            raise TypeError(f"cond_fun must return a boolean scalar, but got output type(s) "
                            f"{pred_avals}.")
        body_jaxpr, body_consts, (out_tree,), out_avals, body_refs = _trace(
            body_fun, tree_util.tree_structure((init_val,)), in_avals)
        if out_tree != in_tree:
            raise _carry_structure_error("while_loop", name, in_tree, out_tree)
        promoted = _promote_weak_carry(init_flat, in_avals, out_avals)
        if promoted is None:
            break
        init_flat = promoted
    error = _carry_type_error("while_loop", name, in_tree, in_avals, out_avals)
    if error is not None:
        raise error
    if cond_refs is not None or body_refs is not None:  # closed-over refs
        cond_closed, body_closed, operands, cond_n, body_n, finish = \
            _ref_scope.thread_while((cond_jaxpr, cond_consts, cond_refs),
                                    (body_jaxpr, body_consts, body_refs), init_flat)
        outs = finish(_bind(while_p, operands, dict(
            cond_jaxpr=cond_closed, body_jaxpr=body_closed, cond_nconsts=cond_n,
            body_nconsts=body_n)))
        return tree_util.tree_unflatten(in_tree, outs)
    cond_closed, body_closed, operands, body_n, finish = while_forwarding(
        _consts_as_invars(cond_jaxpr), _consts_as_invars(body_jaxpr), cond_consts,
        body_consts, init_flat)
    outs = finish(_bind(while_p, operands, dict(
        cond_jaxpr=cond_closed, body_jaxpr=body_closed, cond_nconsts=len(cond_consts),
        body_nconsts=body_n)))
    return tree_util.tree_unflatten(in_tree, outs)


def fori_loop(lower, upper, body_fun: Callable, init_val, *, unroll=None):
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)``; return ``val``.

    With static bounds (Python or NumPy ints, or other concrete values) the loop is a
    ``scan``, so reverse-mode differentiation works; otherwise it is a ``while_loop``.

    Args:
      lower, upper: integer loop bounds (the same dtype, or one a Python int).
      body_fun: (index, carry) -> carry.
      init_val: the initial carry.
      unroll: steps per rolled iteration (static bounds only).

    Returns:
      The carry after the last step.

    Example:
      >>> fx.lax.fori_loop(0, 5, lambda i, s: s + i, 0)   # 10
    """
    if not callable(body_fun):
        raise TypeError("lax.fori_loop: body_fun argument should be callable.")
    lower_aval, upper_aval = _aval_of(lower, "fori_loop"), _aval_of(upper, "fori_loop")
    dtype = lower_aval.dtype
    if lower_aval.dtype != upper_aval.dtype:
        dtype = None
        if lower_aval.dtype.kind == "i" and upper_aval.dtype.kind == "i":
            if lower_aval.weak_type and not upper_aval.weak_type:
                dtype = upper_aval.dtype
            elif upper_aval.weak_type and not lower_aval.weak_type:
                dtype = lower_aval.dtype
        if dtype is None:
            raise TypeError(f"lower and upper arguments to fori_loop must have equal types, "
                            f"got {lower_aval.dtype.name} and {upper_aval.dtype.name}")
    try:
        lower_, upper_ = int(lower), int(upper)
        static = True
    except (TypeError, ConcretizationTypeError):
        static = False
    if static:
        def step(carry, _):
            i, val = carry
            return (lax.add(i, 1), body_fun(i, val)), None

        (_, result), _ = scan(step, (lower_, init_val), None,
                              length=max(upper_ - lower_, 0),
                              unroll=1 if unroll is None else unroll)
        return result
    if unroll is not None and unroll is not False and unroll != 1:
        raise ValueError("Can only use `unroll` in `fori_loop` if the loop bounds are "
                         "statically known.")
    lower = lax._convert_element_type(lower, dtype, weak_type=lower_aval.weak_type
                                      and dtype == lower_aval.dtype)
    upper = lax._convert_element_type(upper, dtype, weak_type=upper_aval.weak_type
                                      and dtype == upper_aval.dtype)

    def body(carry):
        i, hi, val = carry
        return lax.add(i, 1), hi, body_fun(i, val)

    _, _, result = while_loop(lambda c: lax.lt(c[0], c[1]), body, (lower, upper, init_val))
    return result


# ---------------------------------------------------------------------------
# scan and map


def scan(f: Callable, init, xs=None, length: int | None = None, reverse: bool = False,
         unroll: int | bool = 1, _split_transpose: bool = False):
    """Loop ``(carry, y) = f(carry, x)`` over the leading axis of ``xs``, stacking ``y``.

    Args:
      f: (carry, x) -> (carry, y); the carry keeps its structure, shapes and dtypes.
      init: the initial carry (a pytree).
      xs: a pytree of arrays scanned along axis 0 (None with ``length`` for no input).
      length: the number of steps (needed when ``xs`` has no leaves).
      reverse: run from the last element to the first (ys keep their positions).
      unroll: steps per rolled iteration (``True`` unrolls fully).

    Returns:
      ``(final carry, stacked ys)``.

    Example:
      >>> fx.lax.scan(lambda c, x: (c + x, c), 0.0, fnp.arange(4.0))  # (6., [0, 0, 1, 3])
    """
    if not callable(f):
        raise TypeError(f"scan: f argument should be callable, got {f!r}")
    xs_flat, xs_tree = tree_util.tree_flatten(xs)
    xs_avals = [_aval_of(x, "scan") for x in xs_flat]
    for a in xs_avals:
        if not a.shape:
            raise ValueError(f"scan got value with no leading axis to scan over: "
                             f"{type_name(a)}")
    lengths = [a.shape[0] for a in xs_avals]
    if length is not None:
        length = int(core.concrete_or_error(
            length, "the `length` argument of scan", "Pass a Python int as `length`."))
        if any(n != length for n in lengths):
            raise ValueError(f"scan got `length` argument of {length} which disagrees with "
                             f"leading axis sizes {lengths}.")
    elif not lengths:
        raise ValueError("scan got no values to scan over and `length` not provided.")
    elif len(set(lengths)) > 1:
        raise ValueError(f"scan got values with different leading axis sizes: "
                         f"{', '.join(str(n) for n in lengths)}.")
    else:
        length = lengths[0]
    if isinstance(unroll, (bool, np.bool_)):
        unroll = max(length, 1) if unroll else 1
    if not isinstance(unroll, (int, np.integer)) or unroll < 1:
        raise ValueError("`unroll` must be a `bool` or a positive `int`.")
    if config.jax_disable_jit:
        return _scan_python(f, init, xs, xs_flat, xs_tree, length, reverse)
    init_flat, init_tree = tree_util.tree_flatten(init)
    name = _first_param(f, "carry")
    x_avals = [ShapedArray(a.shape[1:], a.dtype, a.weak_type) for a in xs_avals]

    def split_out(out):
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise TypeError(f"scan body output must be a pair, got {_short(out)}.")
        return out

    while True:  # each pass promotes some weak carries to strong ones, so this ends
        in_avals = [_aval_of(x, "scan") for x in init_flat]
        pair_tree = tree_util.tree_structure((init, xs))
        jaxpr, consts, (carry_tree, ys_tree), out_avals, ref_use = _trace(
            f, pair_tree, in_avals + x_avals, split_out)
        if carry_tree != init_tree:
            raise _carry_structure_error("scan", name, init_tree, carry_tree)
        carry_avals = out_avals[:len(init_flat)]
        promoted = _promote_weak_carry(init_flat, in_avals, carry_avals)
        if promoted is None:
            break
        init_flat = promoted
        init = tree_util.tree_unflatten(init_tree, init_flat)
    error = _carry_type_error("scan", name, init_tree, in_avals, carry_avals)
    if error is not None:
        raise error
    body, operands = _consts_as_invars(jaxpr), [*consts, *init_flat, *xs_flat]
    num_consts, num_carry, finish = len(consts), len(init_flat), None
    if ref_use is not None:  # closed-over refs: extra consts and carries
        body, operands, num_consts, num_carry, finish = _ref_scope.thread_scan(
            jaxpr, consts, ref_use, init_flat, xs_flat)
    else:
        body, operands, num_consts, num_carry, finish = scan_forwarding(
            body, operands, num_consts, num_carry)
    outs = _bind(scan_p, operands, dict(
        reverse=bool(reverse), length=length, jaxpr=body, num_consts=num_consts,
        num_carry=num_carry, linear=(False,) * len(operands), unroll=int(unroll),
        _split_transpose=bool(_split_transpose)))
    if finish is not None:
        outs = finish(outs)
    carry = tree_util.tree_unflatten(init_tree, outs[:len(init_flat)])
    return carry, tree_util.tree_unflatten(ys_tree, outs[len(init_flat):])


def _short(out) -> str:
    try:
        leaves, tree = tree_util.tree_flatten(out)
        return str(tree_util.tree_unflatten(tree, [
            "~" + get_aval(x).str_short() if not isinstance(x, str) else x for x in leaves]))
    except Exception:
        return repr(out)


def _scan_python(f, init, xs, xs_flat, xs_tree, length, reverse):
    """``scan`` as a Python loop (under ``fx.disable_jit()``)."""
    import fx.numpy as fnp
    carry, ys = init, []
    for i in (range(length - 1, -1, -1) if reverse else range(length)):
        x = tree_util.tree_unflatten(xs_tree, [x[i] for x in xs_flat])
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys.reverse()
    if not ys:
        raise ValueError("scan of length 0 cannot run under disable_jit")
    stacked = tree_util.tree_map(lambda *leaves: fnp.stack(leaves), *ys)
    return carry, stacked


def map(f: Callable, xs, *, batch_size: int | None = None):
    """``f`` applied to each slice of ``xs`` along axis 0, results stacked (a scan).

    Args:
      f: function of one slice (a pytree).
      xs: a pytree of arrays with a common leading axis.
      batch_size: when given, ``f`` runs vmapped over ``batch_size`` slices per step
        (the remainder, if any, in one more vmapped call).

    Returns:
      The stacked outputs.

    Example:
      >>> fx.lax.map(lambda x: x @ x, fnp.ones((5, 3)))   # shape (5,)
    """
    if batch_size is None:
        _, ys = scan(lambda _, x: ((), f(x)), (), xs)
        return ys
    from fx.api import vmap
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"map: batch_size must be a positive int, got {batch_size}")
    leaves, tree = tree_util.tree_flatten(xs)
    if not leaves:
        raise ValueError("map: xs must contain at least one array to map over")
    n = get_aval(leaves[0]).shape[0]
    n_steps, rest = divmod(n, batch_size)
    main = [_slice_leading(x, 0, n_steps * batch_size) for x in leaves]
    main = [registry["reshape"].bind(x, new_sizes=(n_steps, batch_size) + get_aval(x).shape[1:],
                                     dimensions=None, sharding=None) for x in main]
    tail = [_slice_leading(x, n - rest, n) for x in leaves] if rest else None
    _, ys = scan(lambda _, x: ((), vmap(f)(x)), (), tree_util.tree_unflatten(tree, main))
    tail_leaves = tree_util.tree_leaves(vmap(f)(tree_util.tree_unflatten(tree, tail))) \
        if rest else None
    ys_leaves, ys_tree = tree_util.tree_flatten(ys)
    ys_leaves = [registry["reshape"].bind(y, new_sizes=(n_steps * batch_size,)
                                          + get_aval(y).shape[2:], dimensions=None,
                                          sharding=None) for y in ys_leaves]
    if rest:
        ys_leaves = [registry["concatenate"].bind(y, t, dimension=0)
                     for y, t in zip(ys_leaves, tail_leaves)]
    return tree_util.tree_unflatten(ys_tree, ys_leaves)


def _slice_leading(x, start: int, stop: int, stride: int = 1, axis: int = 0):
    """``x[start:stop:stride]`` along ``axis`` (the ``slice`` primitive)."""
    shape = get_aval(x).shape
    starts = [0] * len(shape)
    limits = list(shape)
    strides = [1] * len(shape)
    starts[axis], limits[axis], strides[axis] = start, stop, stride
    return registry["slice"].bind(x, start_indices=tuple(starts), limit_indices=tuple(limits),
                                  strides=None if stride == 1 else tuple(strides))


# ---------------------------------------------------------------------------
# associative_scan


def associative_scan(fn: Callable, elems, reverse: bool = False, axis: int = 0):
    """All prefix combinations ``fn(... fn(fn(e0, e1), e2) ..., ek)`` along ``axis``,
    computed in O(log n) parallel steps.

    ``fn`` must be associative and work elementwise on whole slices (it is called
    on arrays holding many elements along ``axis``).

    Args:
      fn: the associative binary operation on pytrees of arrays.
      elems: a pytree of arrays of equal size along ``axis``.
      reverse: combine from the end (suffix scan) instead.
      axis: the axis to scan along.

    Returns:
      A pytree like ``elems`` with the prefix (or suffix) combinations.

    Example:
      >>> fx.lax.associative_scan(fx.lax.add, fnp.arange(5.0))   # [0, 1, 3, 6, 10]
    """
    leaves, tree = tree_util.tree_flatten(elems)
    if not leaves:
        return elems
    avals = [_aval_of(x, "associative_scan") for x in leaves]
    ndim = avals[0].ndim
    if not -ndim <= axis < max(ndim, 1) or ndim == 0:
        raise ValueError(f"associative_scan: axis {axis} is out of bounds for arrays of rank "
                         f"{ndim}")
    axis %= ndim
    sizes = [a.shape[axis] if a.ndim > axis else None for a in avals]
    if len(set(sizes)) != 1:
        raise ValueError(f"Array inputs to associative_scan must have the same first "
                         f"dimension. (saw: {[a.shape for a in avals]})")
    if reverse:
        leaves = [_flip(x, axis) for x in leaves]

    def combine(a, b):
        out = fn(tree_util.tree_unflatten(tree, a), tree_util.tree_unflatten(tree, b))
        out_leaves, out_tree = tree_util.tree_flatten(out)
        if out_tree != tree:
            raise TypeError(f"associative_scan: fn must return the structure of its inputs "
                            f"{tree}, got {out_tree}")
        return out_leaves

    result = _prefix_scan(combine, leaves, axis)
    if reverse:
        result = [_flip(x, axis) for x in result]
    return tree_util.tree_unflatten(tree, result)


def _prefix_scan(combine, elems: list, axis: int) -> list:
    """Inclusive scan by pairing: combine neighbours (e0+e1, e2+e3, ...), scan those
    recursively (giving the prefixes that end at odd positions), then fill in the
    even positions from the odd prefix just before them."""
    n = get_aval(elems[0]).shape[axis]
    if n < 2:
        return elems
    n_pairs = n // 2
    left = [_slice_leading(x, 0, 2 * n_pairs - 1, 2, axis) for x in elems]   # e0, e2, ...
    right = [_slice_leading(x, 1, 2 * n_pairs, 2, axis) for x in elems]      # e1, e3, ...
    odd = _prefix_scan(combine, combine(left, right), axis)  # prefixes ending at 1, 3, ...
    # prefix ending at 2k (k >= 1) = prefix ending at 2k-1 combined with e_2k
    n_even = (n - 1) // 2
    if n_even:
        before = [_slice_leading(x, 0, n_even, 1, axis) for x in odd]
        evens = [_slice_leading(x, 2, 2 * n_even + 1, 2, axis) for x in elems]
        even = combine(before, evens)
        even = [_concat([_slice_leading(x, 0, 1, 1, axis), e], axis)
                for x, e in zip(elems, even)]
    else:
        even = [_slice_leading(x, 0, 1, 1, axis) for x in elems]
    return [_interleave(e, o, axis) for e, o in zip(even, odd)]


def _concat(parts, axis):
    return registry["concatenate"].bind(*parts, dimension=axis)


def _interleave(even, odd, axis):
    """Positions 0, 2, 4, ... from ``even`` and 1, 3, ... from ``odd`` (``even`` may be
    one longer)."""
    n_even, n_odd = get_aval(even).shape[axis], get_aval(odd).shape[axis]
    tail = None
    if n_even == n_odd + 1:
        tail = _slice_leading(even, n_odd, n_even, 1, axis)
        even = _slice_leading(even, 0, n_odd, 1, axis)
    shape = get_aval(even).shape
    pair_shape = shape[:axis + 1] + (1,) + shape[axis + 1:]
    reshape = registry["reshape"]
    pairs = _concat([reshape.bind(even, new_sizes=pair_shape, dimensions=None, sharding=None),
                     reshape.bind(odd, new_sizes=pair_shape, dimensions=None, sharding=None)],
                    axis + 1)
    merged = shape[:axis] + (2 * n_odd,) + shape[axis + 1:]
    out = reshape.bind(pairs, new_sizes=merged, dimensions=None, sharding=None)
    return out if tail is None else _concat([out, tail], axis)


def _flip(x, axis):
    return registry["rev"].bind(x, dimensions=(axis,))
