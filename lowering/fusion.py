"""Fusion: grouping a jaxpr's equations into kernels, in the manner of XLA's loop
and input fusion.

Invariants: a *materialized* variable is one that lives in a buffer (program
inputs and outputs, operands and results of library and fallback equations,
and whatever the rules below decide); every other value lives only inside the
loop that computes it. A group is the set of equations reachable backwards
from its roots (the materialized results it writes) without crossing a *cut*
variable (one that consumers must read from its buffer: reductions that cannot
fuse further, expensive values needed by several groups), so a cheap producer
read by two groups is recomputed by both, and groups sharing a reduction merge.
Elementwise and index-only equations fuse into their consumer; a reduction
pulls its producers in and, when its axes can be iterated as rows, lets
elementwise consumers over the same rows fuse after it (softmax and layernorm
are one group: per row, one loop per reduction phase, then the epilogue).
A ``gather`` is an index operation too (``fusible_gather``): its consumer's loop
index maps through it to an operand element, whose start is read from the indices
at the batch position, so an embedding lookup and its epilogue are one loop.
A windowed reduction (pooling) for which ``supported`` returns ``FUSE_WINDOW`` is a
group of its own (kind ``"reduce"``, strategy ``"window"``): per output element, a pass
over its window reading the operand through the window's index map (so the operand's
producers are computed at the coordinates read), then an elementwise epilogue. Each
operand element is read by ``reads = out.size * window.size / operand.size`` windows;
the producers are recomputed per read when windows do not overlap (``reads <= 1``) or
``cost * (reads - 1) <= WINDOW_STORE_COST`` (``cost``: their operation count, index
operations free, expensive ones ``EXPENSIVE_COST``), else the operand is stored.
Everything else is a boundary: a library call or a fallback to the eager impl.
This module is backend independent: the backend says which equations it can
generate code for through ``supported``.
"""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from fx.core import DropVar, Jaxpr, JaxprEqn, Literal, Var
from lowering.fusion_replication import replicated_values

__all__ = ["Group", "fuse", "format_groups", "ELEMENTWISE", "INDEX_OPS", "REDUCTIONS",
           "LIBRARY", "EXPENSIVE", "row_index_map", "squeezed", "fusible_gather",
           "WINDOW_REDUCTIONS", "FUSE_WINDOW", "WINDOW_STORE_COST", "EXPENSIVE_COST"]

ELEMENTWISE = frozenset({
    "neg", "sign", "floor", "ceil", "round", "is_finite", "exp", "exp2", "log", "log1p", "expm1",
    "tanh", "logistic", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh",
    "acosh", "atanh", "sqrt", "rsqrt", "cbrt", "abs", "erf", "erfc", "erf_inv", "lgamma",
    "digamma", "bessel_i0e", "bessel_i1e", "square", "not", "population_count", "clz",
    "integer_pow", "add", "sub", "mul", "div", "rem", "max", "min", "pow", "atan2", "nextafter",
    "and", "or", "xor", "eq", "ne", "lt", "le", "gt", "ge", "shift_left", "shift_right_arithmetic",
    "shift_right_logical", "add_any", "select_n", "clamp", "convert_element_type", "copy",
    "stop_gradient", "real", "imag", "conj", "complex", "reduce_precision", "bitcast_convert_type"})
INDEX_OPS = frozenset({"broadcast_in_dim", "reshape", "transpose", "iota", "slice", "pad",
                       "concatenate", "rev", "dynamic_slice", "dynamic_update_slice",
                       "squeeze", "expand_dims"})
REDUCTIONS = frozenset({"reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "reduce_and",
                        "reduce_or", "reduce_xor", "argmax", "argmin"})
#: reductions that can accumulate into their output buffer (any axes)
_ACCUMULATING = frozenset({"reduce_sum", "reduce_max", "reduce_min", "reduce_prod",
                           "reduce_and", "reduce_or", "reduce_xor"})
LIBRARY = frozenset({"dot_general"})
#: elementwise primitives worth a buffer rather than being computed twice
EXPENSIVE = frozenset({
    "exp", "exp2", "log", "log1p", "expm1", "tanh", "logistic", "sin", "cos", "tan", "asin",
    "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "cbrt", "erf", "erfc",
    "erf_inv", "lgamma", "digamma", "bessel_i0e", "bessel_i1e", "pow", "atan2", "div", "rem",
    "sqrt", "rsqrt"})

#: windowed reductions (pooling): window groups when the backend says ``FUSE_WINDOW``
WINDOW_REDUCTIONS = frozenset({"reduce_window_sum", "reduce_window_max", "reduce_window_min"})
#: what a backend's ``supported`` returns for a windowed reduction it emits as a group
FUSE_WINDOW = "window"
#: cost of storing an element and reading it back, in elementwise operations
WINDOW_STORE_COST = 4
#: cost of one expensive elementwise operation (``EXPENSIVE``) recomputed per window read
EXPENSIVE_COST = 8

_FUSIBLE, _REDUCE, _LIBRARY, _FALLBACK = "fusible", "reduce", "library", "fallback"
_WINDOW = "window"
_IN_GROUP = (_FUSIBLE, _REDUCE, _WINDOW)


class Group:
    """One kernel: its equations, the buffers it reads and the buffers it writes.

    ``kind`` is ``"loop"`` (elementwise over ``shape``), ``"reduce"`` (reductions of an
    operand of ``shape`` over ``axes``; ``strategy`` ``"rows"`` iterates the kept axes
    outside and the reduced ones inside, with per-row phases and an epilogue;
    ``"accumulate"`` walks the operand in memory order, accumulating into the output;
    ``"window"``: one windowed reduction in ``reductions``, ``shape`` its output's, its
    operand read through the window and an elementwise epilogue over ``shape``),
    ``"library"`` (a library call such as GEMM) or ``"fallback"`` (the eager impl).
    """

    __slots__ = ("kind", "eqns", "inputs", "outputs", "shape", "axes", "strategy",
                 "reductions")

    def __init__(self, kind, eqns, inputs, outputs, shape=(), axes=(), strategy=None,
                 reductions=()):
        self.kind = kind
        self.eqns = list(eqns)
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.shape = tuple(shape)
        self.axes = tuple(axes)
        self.strategy = strategy
        self.reductions = list(reductions)

    @property
    def outer_shape(self) -> tuple:
        """The kept (row) dimensions of a reduce group's operand."""
        return tuple(s for d, s in enumerate(self.shape) if d not in self.axes)

    @property
    def inner_shape(self) -> tuple:
        return tuple(self.shape[d] for d in self.axes)

    def __repr__(self):
        return f"Group({self.kind}, {len(self.eqns)} eqns, shape={self.shape})"


# ---------------------------------------------------------------------------
# classification


def fusible_gather(eqn: JaxprEqn) -> bool:
    """Whether ``gather`` equation ``eqn`` fuses into its consumer as index arithmetic.

    Every combination of dimension numbers does: an operand coordinate is a window
    start read from the indices at the output's batch position (clamped into
    ``[0, size - window]``, or tested for ``FILL_OR_DROP``) plus the output's offset
    coordinate, or the batch coordinate of an operand batching dimension, or 0 for a
    collapsed dimension outside ``start_index_map``; none needs more than one read of
    each index-vector entry per output element, which a window loop hoists. So no
    dimension numbers are left to the library call: a gather is a boundary only when
    its params are not a gather's (an unknown ``mode``, a ``fill_value`` that is not
    a scalar), when the backend does not generate code for it (then it is a library
    call or a fallback), and scatters always are.

    Example:
      >>> e = fx.make_jaxpr(lambda t, i: jnp.take(t, i, axis=0))(t, ids).jaxpr.eqns[-1]
      >>> fusible_gather(e)
      True
    """
    if eqn.primitive.name != "gather":
        return False
    p = eqn.params
    dn = p.get("dimension_numbers")
    fields = ("offset_dims", "collapsed_slice_dims", "start_index_map",
              "operand_batching_dims", "start_indices_batching_dims")
    if dn is None or not all(hasattr(dn, f) for f in fields) or "slice_sizes" not in p:
        return False
    mode = p.get("mode")
    name = getattr(mode, "name", mode)
    if name not in (None, "clip", "fill", "drop", "promise_in_bounds", "CLIP",
                    "FILL_OR_DROP", "PROMISE_IN_BOUNDS"):
        return False
    fill = p.get("fill_value")
    return fill is None or (np.ndim(fill) == 0 and np.asarray(fill).dtype.kind in "biufc")


def _classify(eqn: JaxprEqn, supported: Callable[[JaxprEqn], bool]) -> str:
    name = eqn.primitive.name
    if name in ELEMENTWISE or name in INDEX_OPS:
        return _FUSIBLE if supported(eqn) else _FALLBACK
    if name == "gather" and fusible_gather(eqn):
        return _FUSIBLE if supported(eqn) else _FALLBACK
    if name in REDUCTIONS:
        return _REDUCE if supported(eqn) else _FALLBACK
    if name in WINDOW_REDUCTIONS:
        said = supported(eqn)
        if isinstance(said, str) and said == FUSE_WINDOW:
            return _WINDOW
        return _LIBRARY if said else _FALLBACK
    # anything else the backend supports is a library call (a boundary)
    return _LIBRARY if supported(eqn) else _FALLBACK


def _known(eqn: JaxprEqn) -> bool:
    """The default ``supported``: the elementwise, index, reduction and library sets, and
    gathers."""
    name = eqn.primitive.name
    return name in ELEMENTWISE or name in INDEX_OPS or name in REDUCTIONS or \
        name in LIBRARY or name == "gather"


def _rows_ok(eqn: JaxprEqn) -> bool:
    """Whether a reduction iterates as rows (its axes are the trailing ones, or it has no
    accumulating form)."""
    axes = tuple(sorted(eqn.params["axes"]))
    ndim = len(eqn.invars[0].aval.shape)
    if eqn.primitive.name not in _ACCUMULATING:
        return True
    return axes == tuple(range(ndim - len(axes), ndim))


def squeezed(shape) -> tuple:
    """``shape`` without its size-1 dimensions."""
    return tuple(s for s in shape if s != 1)


# ---------------------------------------------------------------------------
# symbolic row indices: which index of a reduction result a consumer reads


def row_index_map(eqn: JaxprEqn, out_index: tuple):
    """The symbolic index of each operand of ``eqn`` read at ``out_index``.

    Index entries are hashable symbols or the int 0; the result is None when the
    mapping is not a plain relabelling (a general reshape, a slice, ...).
    """
    name = eqn.primitive.name
    out_shape = eqn.outvars[0].aval.shape
    if name in ELEMENTWISE:
        return [out_index if v.aval.shape == out_shape else
                (() if v.aval.shape == () else None) for v in eqn.invars]
    if name == "broadcast_in_dim":
        x = eqn.invars[0]
        dims = eqn.params["broadcast_dimensions"]
        return [tuple(0 if x.aval.shape[i] == 1 else out_index[d] for i, d in enumerate(dims))]
    if name in ("reshape", "squeeze", "expand_dims"):
        x = eqn.invars[0]
        if eqn.params.get("dimensions") is not None or \
                squeezed(x.aval.shape) != squeezed(out_shape):
            return None
        moving = iter([i for i, s in zip(out_index, out_shape) if s != 1])
        return [tuple(0 if s == 1 else next(moving) for s in x.aval.shape)]
    if name == "transpose":
        perm = eqn.params["permutation"]
        x_index = [None] * len(perm)
        for out_d, in_d in enumerate(perm):
            x_index[in_d] = out_index[out_d]
        return [tuple(x_index)]
    return None


# ---------------------------------------------------------------------------
# the fusion driver


class _Plan:
    def __init__(self, jaxpr: Jaxpr, supported):
        self.jaxpr = jaxpr
        self.eqns = jaxpr.eqns
        self.category = [_classify(e, supported) for e in self.eqns]
        self.producer: dict[int, int] = {}
        for k, e in enumerate(self.eqns):
            for o in e.outvars:
                self.producer[id(o)] = k
        self.materialized: set[int] = set()
        # values consumers must read from their buffer rather than recompute: a subset of
        # the materialized ones (program outputs, for instance, may also be recomputed)
        self.cut: set[int] = set()

    def defined(self, atom) -> int | None:
        if isinstance(atom, Literal):
            return None
        return self.producer.get(id(atom))

    def members(self, root: Var) -> set[int]:
        """Equations computing ``root`` inside its group (stopping at buffers)."""
        start = self.producer[id(root)]
        seen = {start}
        stack = [start]
        while stack:
            k = stack.pop()
            for v in self.eqns[k].invars:
                j = self.defined(v)
                if j is None or j in seen or id(v) in self.cut:
                    continue
                if self.category[j] not in _IN_GROUP:
                    continue
                seen.add(j)
                stack.append(j)
        return seen


def fuse(jaxpr: Jaxpr, supported: Callable[[JaxprEqn], bool] | None = None) -> list[Group]:
    """Partition ``jaxpr``'s equations into kernels.

    Args:
      jaxpr: an optimized jaxpr (see ``lowering.passes.optimize``).
      supported: ``supported(eqn)`` says whether the backend generates code for an
        equation; unsupported ones become ``"fallback"`` groups, supported ones outside
        the elementwise, index and reduction sets ``"library"`` groups. Default: the
        names in those sets and ``LIBRARY``.
    Returns:
      the groups in an order that respects their dependencies.

    Example:
      >>> len(fuse(fx.make_jaxpr(lambda x: jnp.tanh(x) * 2 + 1)(x).jaxpr))
      1
    """
    plan = _Plan(jaxpr, supported or _known)
    eqns = plan.eqns
    m = plan.materialized
    for v in jaxpr.outvars:
        if isinstance(v, Var) and plan.defined(v) is not None:
            m.add(id(v))
    for k, e in enumerate(eqns):
        cat = plan.category[k]
        if cat in (_LIBRARY, _FALLBACK):
            m.update(id(v) for v in e.invars if plan.defined(v) is not None)
            m.update(id(o) for o in e.outvars if not isinstance(o, DropVar))
        elif cat == _REDUCE and not _rows_ok(e):
            m.update(id(o) for o in e.outvars)
            plan.cut.update(id(o) for o in e.outvars)
    for _ in range(4 * len(eqns) + 4):
        groups = _build(plan)
        extra = _violations(plan, groups)
        if not extra:
            break
        m.update(extra)
        plan.cut.update(extra)
    else:  # pragma: no cover - the materialized set only grows, so this cannot loop
        raise RuntimeError("fusion did not converge")
    groups = _merge_optional(plan, groups + _boundaries(plan))
    return [_finish(plan, g) for g in _toposort(plan, groups)]


class _Draft:
    """A group under construction: its roots and member equation indices."""

    def __init__(self, kind, roots, members):
        self.kind = kind
        self.roots = list(roots)
        self.members = set(members)
        self.outputs = list(roots)

    def reductions(self, plan, kinds=(_REDUCE,)) -> list[int]:
        return sorted(k for k in self.members if plan.category[k] in kinds)

    def windows(self, plan) -> list[int]:
        return self.reductions(plan, (_WINDOW,))

    def shared(self, plan) -> list[int]:  # computed once per group
        return self.reductions(plan, (_REDUCE, _WINDOW))

    def reads(self, plan) -> set[int]:
        """ids of variables read from outside the group."""
        out = set()
        for k in self.members:
            for v in plan.eqns[k].invars:
                j = plan.defined(v)
                if isinstance(v, Var) and (j is None or j not in self.members):
                    out.add(id(v))
        return out


def _build(plan: _Plan) -> list[_Draft]:
    roots = []
    for k, e in enumerate(plan.eqns):
        if plan.category[k] in _IN_GROUP:
            roots.extend(o for o in e.outvars if id(o) in plan.materialized)
    drafts = [_Draft("loop", [r], plan.members(r)) for r in roots]
    # drafts sharing a reduction are merged (union-find): a reduction is computed once
    parent = list(range(len(drafts)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[int, int] = {}
    for i, d in enumerate(drafts):
        for k in d.shared(plan):
            if k in owner:
                parent[find(i)] = find(owner[k])
            else:
                owner[k] = i
    merged: dict[int, _Draft] = {}
    for i, d in enumerate(drafts):
        r = find(i)
        if r not in merged:
            merged[r] = _Draft("loop", [], set())
        m = merged[r]
        m.roots.extend(d.roots)
        m.outputs.extend(d.outputs)
        m.members |= d.members
    out = [merged[r] for r in sorted(merged)]
    for d in out:
        if d.reductions(plan):
            d.kind = "reduce"
        elif d.windows(plan):
            d.kind = "window"
    return out


def _boundaries(plan) -> list[_Draft]:
    out = []
    for k, e in enumerate(plan.eqns):
        if plan.category[k] in (_LIBRARY, _FALLBACK):
            d = _Draft("library" if plan.category[k] == _LIBRARY else "fallback", [], {k})
            d.outputs = [o for o in e.outvars if not isinstance(o, DropVar)]
            out.append(d)
    return out


def _signature(plan, k):
    e = plan.eqns[k]
    return (tuple(e.invars[0].aval.shape), tuple(sorted(e.params["axes"])))


def _violations(plan: _Plan, drafts: list[_Draft]) -> set[int]:
    extra: set[int] = set()
    count: dict[int, int] = {}
    for d in drafts:
        for k in d.members:
            count[k] = count.get(k, 0) + 1
        extra |= _window_violations(plan, d)
        reds = d.reductions(plan)
        if not reds or d.windows(plan):
            continue
        red_outs = {id(o) for k in reds for o in plan.eqns[k].outvars}
        sigs = {_signature(plan, k) for k in reds}
        accumulating = [k for k in reds if not _rows_ok(plan.eqns[k])]
        if accumulating:
            # an accumulating reduction is alone with its prologue
            if len(reds) > 1 or d.roots != plan.eqns[accumulating[0]].outvars:
                extra |= red_outs
            continue
        if len(sigs) != 1:
            extra |= red_outs
            continue
        (shape, axes), = sigs
        outer = tuple(s for i, s in enumerate(shape) if i not in axes)
        if any(r.aval.shape != shape and squeezed(r.aval.shape) != squeezed(outer)
               for r in d.roots):
            extra |= red_outs
            continue
        if _row_dependency(plan, d, shape, axes, outer):
            extra |= red_outs
            continue
    everything = drafts + _boundaries(plan)
    deps = _depends(plan, everything)
    for gi, d in enumerate(drafts):
        if len(d.roots) > 1 and any(_reachable(deps, dep, gi) for dep in deps[gi]):
            extra |= {id(o) for k in d.shared(plan) for o in plan.eqns[k].outvars}
    for k, n in count.items():
        e = plan.eqns[k]
        if n > 1 and e.primitive.name in EXPENSIVE and plan.category[k] == _FUSIBLE:
            extra.update(id(o) for o in e.outvars)
    for d in drafts:
        extra |= _expensive_broadcasts(plan, d) | _expensive_gather_reads(plan, d)
        extra |= replicated_values(plan, d.members, d.roots, ELEMENTWISE)
    return extra - plan.cut


def _canonical_indices(shape, axes, outer):
    x_index = tuple(("i", d) if d in axes else (0 if s == 1 else ("o", d))
                    for d, s in enumerate(shape))
    kept = [d for d in range(len(shape)) if d not in axes]
    o_index = tuple(x_index[d] for d in kept)
    return x_index, o_index


def _row_dependency(plan, d, shape, axes, outer) -> bool:
    """True when some value of the group reads a reduction result at another row."""
    x_index, o_index = _canonical_indices(shape, axes, outer)
    o_nonunit = [c for c in o_index if c != 0]
    reds = set(d.reductions(plan))
    depends: dict[int, bool] = {}

    def dep(k):  # does equation k (transitively, inside the group) read a reduction?
        if k in depends:
            return depends[k]
        depends[k] = False
        res = False
        for v in plan.eqns[k].invars:
            j = plan.defined(v)
            if j is not None and j in d.members and id(v) not in plan.cut:
                if j in reds or dep(j):
                    res = True
        depends[k] = res
        return res

    seen = set()
    stack = []
    for r in d.roots:
        if r.aval.shape == shape:
            stack.append((r, x_index))
        else:
            moving = iter(o_nonunit)
            stack.append((r, tuple(0 if s == 1 else next(moving) for s in r.aval.shape)))
    for k in reds:
        stack.append((plan.eqns[k].invars[0], x_index))
    while stack:
        v, idx = stack.pop()
        j = plan.defined(v)
        if j is None or j not in d.members or (id(v) in plan.cut and v not in d.roots):
            continue
        key = (id(v), idx)
        if key in seen:
            continue
        seen.add(key)
        if j in reds:
            if idx != o_index:
                return True
            continue
        if not dep(j):
            continue
        e = plan.eqns[j]
        maps = row_index_map(e, idx)
        if maps is None:
            return True
        for operand, sub in zip(e.invars, maps):
            if isinstance(operand, Literal):
                continue
            if sub is None:
                jj = plan.defined(operand)
                if jj is not None and jj in d.members and (jj in reds or dep(jj)):
                    return True
                continue
            stack.append((operand, sub))
    return False


def _window_violations(plan, d) -> set[int]:
    """Values group ``d`` must read from buffers because of its windowed reductions: a
    group holds one window (the last in program order; earlier ones are stored) and no
    row reduction; everything that reads the window's result inside the group is
    elementwise over its output shape (else the result is stored); and the operand's
    producers are recomputed per window read only when ``_window_recompute`` says so."""
    wins = d.windows(plan)
    if not wins:
        return set()
    outs = lambda ks: {id(o) for k in ks for o in plan.eqns[k].outvars}  # noqa: E731
    if d.reductions(plan):
        return outs(wins)
    extra = outs(wins[:-1])
    k = wins[-1]
    e = plan.eqns[k]
    y = e.outvars[0]
    shape = tuple(y.aval.shape)
    memo: dict[int, bool] = {k: True}

    def reads_window(j) -> bool:
        if j not in memo:
            memo[j] = False
            memo[j] = any(jj is not None and jj in d.members and id(v) not in plan.cut
                          and reads_window(jj)
                          for v in plan.eqns[j].invars for jj in [plan.defined(v)])
        return memo[j]

    for j in d.members:
        if j == k or not reads_window(j):
            continue
        ej = plan.eqns[j]
        if ej.primitive.name not in ELEMENTWISE or tuple(ej.outvars[0].aval.shape) != shape or \
                any(tuple(v.aval.shape) != shape for v in ej.invars
                    if plan.defined(v) is not None and plan.defined(v) in d.members
                    and id(v) not in plan.cut and reads_window(plan.defined(v))):
            return extra | {id(y)}
    x = e.invars[0]
    if isinstance(x, Var) and id(x) not in plan.cut and plan.defined(x) in d.members and \
            not _window_recompute(plan, d, e):
        extra.add(id(x))
    return extra


def _window_recompute(plan, d, eqn) -> bool:
    """Whether the producers of window ``eqn``'s operand inside group ``d`` are cheaper
    recomputed at each window read than stored once and read back (module docstring)."""
    x = eqn.invars[0]
    reads = eqn.outvars[0].aval.size * int(np.prod(eqn.params["window_dimensions"])) / \
        max(x.aval.size, 1)
    if reads <= 1:
        return True
    cost, stack, seen = 0, [x], set()
    while stack:
        v = stack.pop()
        j = plan.defined(v)
        if j is None or j not in d.members or j in seen or id(v) in plan.cut:
            continue
        seen.add(j)
        name = plan.eqns[j].primitive.name
        if name in EXPENSIVE:
            cost += EXPENSIVE_COST
        elif name in ELEMENTWISE or name == "gather":
            cost += 1
        stack.extend(w for w in plan.eqns[j].invars if isinstance(w, Var))
    return cost * (reads - 1) <= WINDOW_STORE_COST


def _expensive_broadcasts(plan, d) -> set[int]:
    out = set()
    for k in d.members:
        e = plan.eqns[k]
        if e.primitive.name != "broadcast_in_dim":
            continue
        x = e.invars[0]
        j = plan.defined(x)
        if j is None or j not in d.members or id(x) in plan.cut:
            continue
        if plan.eqns[j].primitive.name not in EXPENSIVE:
            continue
        dims = tuple(e.params["broadcast_dimensions"])
        expands = e.outvars[0].aval.size > max(x.aval.size, 1)
        if expands and dims != tuple(range(len(dims))):
            out.add(id(x))
    return out


def _expensive_gather_reads(plan, d) -> set[int]:
    """Operands of the group's gathers to store rather than recompute per read: an
    expensive operand when the gather reads more elements than it has, and indices
    computed with an expensive equation when each index vector is read once per window
    element and the window loop is not the innermost one (so no loop hoists the read)."""
    out = set()
    for k in d.members:
        e = plan.eqns[k]
        if e.primitive.name != "gather" or plan.category[k] != _FUSIBLE:
            continue
        x, indices = e.invars
        size = e.outvars[0].aval.size
        j = plan.defined(x)
        if j is not None and j in d.members and id(x) not in plan.cut and \
                plan.eqns[j].primitive.name in EXPENSIVE and size > max(x.aval.size, 1):
            out.add(id(x))
        rank = len(e.outvars[0].aval.shape)
        offset = tuple(e.params["dimension_numbers"].offset_dims)
        batch = max(indices.aval.size // max(indices.aval.shape[-1], 1), 1)
        trailing = offset == tuple(range(rank - len(offset), rank))
        if size > batch and not trailing and _computes_expensive(plan, d, indices):
            out.add(id(indices))
    return out


def _computes_expensive(plan, d, var) -> bool:
    """Whether ``var`` is computed inside group ``d`` with an expensive equation."""
    stack, seen = [var], set()
    while stack:
        v = stack.pop()
        j = plan.defined(v)
        if j is None or j not in d.members or j in seen or id(v) in plan.cut:
            continue  # a buffer: read, not computed
        seen.add(j)
        if plan.eqns[j].primitive.name in EXPENSIVE:
            return True
        stack.extend(w for w in plan.eqns[j].invars if isinstance(w, Var))
    return False


# ---------------------------------------------------------------------------
# optional merges (multi-output fusion), ordering and finishing


def _depends(plan, groups) -> dict[int, set[int]]:
    producer_group = {}
    for gi, g in enumerate(groups):
        for o in g.outputs:
            producer_group[id(o)] = gi
    deps = {}
    for gi, g in enumerate(groups):
        reads = g.reads(plan) if g.kind not in ("library", "fallback") else {
            id(v) for k in g.members for v in plan.eqns[k].invars if isinstance(v, Var)}
        deps[gi] = {producer_group[r] for r in reads if r in producer_group} - {gi}
    return deps


def _reachable(deps, src, dst) -> bool:
    stack, seen = [src], set()
    while stack:
        g = stack.pop()
        if g == dst:
            return True
        if g in seen:
            continue
        seen.add(g)
        stack.extend(deps.get(g, ()))
    return False


def _merge_key(plan, d):
    if d.kind in ("library", "fallback", "window"):
        return None
    if d.kind == "loop":
        return ("loop", tuple(d.roots[0].aval.shape))
    reds = d.reductions(plan)
    e = plan.eqns[reds[0]]
    if not _rows_ok(e):
        return None
    return ("reduce",) + _signature(plan, reds[0])


def _merge_optional(plan, drafts: list[_Draft]) -> list[_Draft]:
    """Merge groups over the same iteration space that share inputs or equations
    (multi-output fusion), unless one depends on the other."""
    if len(drafts) < 2:
        return drafts
    drafts = list(drafts)
    deps = None
    while True:
        keys = [_merge_key(plan, d) for d in drafts]
        reads = [d.reads(plan) if k is not None else set() for d, k in zip(drafts, keys)]
        pair = None
        for a in range(len(drafts)):
            if keys[a] is None:
                continue
            for b in range(a + 1, len(drafts)):
                if keys[b] != keys[a]:
                    continue
                da, db = drafts[a], drafts[b]
                if keys[a][0] == "loop" and any(r.aval.shape != da.roots[0].aval.shape
                                                for r in db.roots):
                    continue
                if not (da.members & db.members) and not (reads[a] & reads[b]):
                    continue
                if deps is None:
                    deps = _depends(plan, drafts)
                if _reachable(deps, a, b) or _reachable(deps, b, a):
                    continue
                pair = (a, b)
                break
            if pair:
                break
        if pair is None:
            return drafts
        a, b = pair
        da, db = drafts[a], drafts[b]
        da.roots.extend(db.roots)
        da.outputs.extend(db.outputs)
        da.members |= db.members
        del drafts[b]
        deps = None


def _toposort(plan, drafts: list[_Draft]) -> list[_Draft]:
    deps = _depends(plan, drafts)
    order, state = [], {}
    first = {gi: min(g.members) for gi, g in enumerate(drafts)}

    def visit(gi):
        if state.get(gi) == 2:
            return
        if state.get(gi) == 1:
            raise RuntimeError("fusion produced a cyclic group graph")
        state[gi] = 1
        for dep in sorted(deps[gi], key=first.get):
            visit(dep)
        state[gi] = 2
        order.append(drafts[gi])

    for gi in sorted(range(len(drafts)), key=first.get):
        visit(gi)
    return order


def _finish(plan: _Plan, d: _Draft) -> Group:
    members = sorted(d.members)
    eqns = [plan.eqns[k] for k in members]
    inputs, seen = [], set()
    for k in members:
        for v in plan.eqns[k].invars:
            if not isinstance(v, Var) or id(v) in seen:
                continue
            j = plan.defined(v)
            inside = j is not None and j in d.members
            if d.kind in ("library", "fallback") or not inside:
                seen.add(id(v))
                inputs.append(v)
    if d.kind in ("library", "fallback"):
        return Group(d.kind, eqns, inputs, d.outputs)
    outputs = []
    for r in d.outputs:
        if all(r is not o for o in outputs):
            outputs.append(r)
    if d.kind == "loop":
        return Group("loop", eqns, inputs, outputs, shape=outputs[0].aval.shape)
    if d.kind == "window":
        (k,) = d.windows(plan)
        return Group("reduce", eqns, inputs, outputs, shape=plan.eqns[k].outvars[0].aval.shape,
                     strategy="window", reductions=[plan.eqns[k]])
    reds = d.reductions(plan)
    e = plan.eqns[reds[0]]
    shape, axes = _signature(plan, reds[0])
    strategy = "rows" if _rows_ok(e) else "accumulate"
    return Group("reduce", eqns, inputs, outputs, shape=shape, axes=axes, strategy=strategy,
                 reductions=[plan.eqns[k] for k in reds])


def format_groups(groups: Iterable[Group]) -> str:
    """A readable listing of the groups (what ``FX_DEBUG=2`` prints)."""
    from fx.core import _Namer, pp_eqn
    namer = _Namer()
    lines = []
    for i, g in enumerate(groups):
        head = f"group {i}: {g.kind}"
        if g.kind == "loop":
            head += f" over {list(g.shape)}"
        elif g.strategy == "window":
            head += f" (window) over {list(g.shape)}"
        elif g.kind == "reduce":
            head += f" ({g.strategy}) of {list(g.shape)} over axes {list(g.axes)}"
        ins = " ".join(f"{namer(v)}:{v.aval.str_short()}" for v in g.inputs)
        outs = " ".join(f"{namer(v)}:{v.aval.str_short()}" for v in g.outputs)
        lines.append(f"{head}; reads [{ins}] writes [{outs}]")
        for e in g.eqns:
            lines.append("    " + pp_eqn(e, namer, 4))
    return "\n".join(lines)
