"""The staged forms of a jitted function, as JAX's: ``jitted.trace(*args)`` gives a
``Traced`` (the jaxpr), ``.lower()`` a ``Lowered`` (the optimized program, its fusion
groups and cost analysis), ``.compile()`` a ``Compiled`` (native code, callable).

Invariants: nothing here traces or compiles twice: ``Lowered`` reuses the executable's
optimized program and groups when one exists, and ``compile`` stores the executable on
the jit cache entry the function's calls use. A function closing over refs
(``fx/_ref_jit.py``) compiles to a program with one extra trailing input per ref and one
extra trailing output per written ref: ``Compiled.__call__`` passes the refs' current
values and writes the final values back on every call, as a call of the jitted function
does; ``.jaxpr`` shows the refs as leading constvars holding their values when asked
(``make_jaxpr``'s form).
"""
from __future__ import annotations

import numpy as np

from fx import _ref_jit, tree_util
from fx.array import Array
from fx.core import ClosedJaxpr, get_aval
from fx.interpreters.jit import _leaf_value, compile_jaxpr

__all__ = ["Traced", "Lowered", "Compiled"]


class Traced:
    """The result of ``jitted.trace(*args)``: holds the jaxpr."""

    def __init__(self, wrapped, entry, flat):
        self._wrapped, self._entry, self._flat = wrapped, entry, flat

    @property
    def jaxpr(self) -> ClosedJaxpr:
        return _shown_jaxpr(self._entry)

    @property
    def out_info(self):
        from fx.core import ShapeDtypeStruct
        avals = self._entry.closed.out_avals[:self._entry.out_tree.num_leaves]
        return tree_util.tree_unflatten(self._entry.out_tree, [
            ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type) for a in avals])

    def lower(self) -> Lowered:
        return Lowered(self._wrapped, self._entry)


class Lowered:
    """A jitted function lowered for given argument types.

    ``as_text()`` is fx's counterpart of JAX's StableHLO text: the program after fx's
    passes (inlining, constant folding, simplification, CSE, DCE) and the kernels fusion
    makes of it, as the CPU compiler plans them; ``as_text(dialect="jaxpr")`` gives the
    jaxpr as traced (what ``fx.make_jaxpr`` prints). ``cost_analysis()`` counts the
    optimized, fused program; ``compile()`` builds native code.
    """

    _DIALECTS = (None, "fx", "jaxpr")

    def __init__(self, wrapped, entry):
        self._wrapped, self._entry = wrapped, entry
        self._program = None

    @property
    def jaxpr(self) -> ClosedJaxpr:
        """The jaxpr as traced (closed-over refs as leading constvars, as ``make_jaxpr``)."""
        return _shown_jaxpr(self._entry)

    def _lowered(self):
        """(optimized ClosedJaxpr, fusion groups), from the executable when one exists."""
        if self._program is None:
            exe = self._entry.executable
            if getattr(exe, "groups", None) is not None and \
                    getattr(exe, "optimized", None) is not None:
                self._program = (exe.optimized, exe.groups)
            else:
                self._program = _plan_program(self._entry.closed)
        return self._program

    def as_text(self, dialect: str | None = None, debug_info: bool = False) -> str:
        """The optimized jaxpr and its fusion groups, or (``dialect="jaxpr"``) the jaxpr as
        traced.

        Args:
          dialect: None or ``"fx"`` (optimized program and kernels), ``"jaxpr"``.
          debug_info: include source locations in the jaxpr text.
        Returns:
          the text.

        Example:
          >>> print(fx.jit(lambda x: jnp.tanh(x) * 2).lower(jnp.ones(4)).as_text())
        """
        if dialect not in self._DIALECTS:
            raise ValueError(f"as_text: unknown dialect {dialect!r}; fx offers None or "
                             "'fx' (the optimized jaxpr and its fusion groups) and 'jaxpr' "
                             "(the jaxpr as traced)")
        if dialect == "jaxpr":
            return _shown_jaxpr(self._entry).pretty_print(source_info=debug_info)
        from lowering import fusion
        opt, groups = self._lowered()
        return (f"optimized jaxpr:\n{opt.pretty_print(source_info=debug_info)}\n\n"
                f"fusion groups:\n{fusion.format_groups(groups)}")

    def compile(self) -> Compiled:
        """Build (or fetch from the caches) the executable."""
        entry = self._entry
        if entry.executable is None:
            entry.executable = compile_jaxpr(entry.closed)
        return Compiled(self._wrapped, entry)

    def cost_analysis(self) -> dict:
        """Flops, transcendentals and bytes accessed of the optimized, fused program
        (``lowering.cost.cost_analysis``), under JAX's keys.

        Example:
          >>> fx.jit(lambda a, b: a @ b).lower(jnp.ones((4, 5)), jnp.ones((5, 6))
          ...                                 ).cost_analysis()["flops"]
          240.0
        """
        from lowering.cost import cost_analysis
        opt, groups = self._lowered()
        return cost_analysis(opt, groups)


def _shown_jaxpr(entry) -> ClosedJaxpr:
    """The entry's jaxpr as ``make_jaxpr`` shows it: the inputs standing for closed-over
    refs become leading constvars holding the refs' current values."""
    closed = entry.closed
    if not entry.refs:
        return closed
    from fx import core
    jaxpr, n = closed.jaxpr, len(entry.refs)
    values = [r._live_value("read") for r in entry.refs]
    shown = core.Jaxpr(jaxpr.invars[-n:] + jaxpr.constvars, jaxpr.invars[:-n], jaxpr.outvars,
                       jaxpr.eqns, jaxpr.debug_info)
    return ClosedJaxpr(shown, values + list(closed.consts))


def _plan_program(closed: ClosedJaxpr):
    """``(optimized, groups)``: the passes and fusion of the CPU compiler, without code
    generation (the backend-independent ones when the CPU backend cannot load)."""
    from lowering import fusion, passes
    try:
        from lowering.cpu import build
    except ImportError:  # pragma: no cover - llvmlite missing
        opt = passes.optimize(closed)
        return opt, fusion.fuse(opt.jaxpr)
    opt = build.optimize(closed)
    return opt, build.fusion_plan(opt)[0]


class Compiled:
    """A compiled executable for fixed argument types; call it like the function."""

    def __init__(self, wrapped, entry):
        self._wrapped, self._entry = wrapped, entry

    def as_text(self) -> str:
        """The LLVM IR of the native code (as given to LLVM, before its optimizations; the
        same whether compiled now or loaded from the disk cache). A program with no native
        code (every equation runs its eager impl, or the compiler is off) gives its jaxpr.
        """
        exe = self._entry.executable
        text = getattr(exe, "ir_text", None)
        if text:
            return text
        optimized = getattr(exe, "optimized", None)
        return (optimized or self._entry.closed).pretty_print()

    def cost_analysis(self) -> dict:
        """Flops, transcendentals and bytes accessed of the program as compiled (its
        optimized jaxpr and fusion groups), under JAX's keys."""
        from lowering.cost import cost_analysis
        exe = self._entry.executable
        optimized, groups = getattr(exe, "optimized", None), getattr(exe, "groups", None)
        if optimized is not None and groups is not None:
            return cost_analysis(optimized, groups)
        return cost_analysis(self._entry.closed, optimize=False)

    def __call__(self, *args, **kwargs):
        statics, static_kw, dyn_args, dyn_kwargs = self._wrapped._split(args, kwargs)
        flat, _ = tree_util.tree_flatten((dyn_args, dyn_kwargs))
        avals = [get_aval(x) for x in flat]
        entry = self._entry
        expected = entry.closed.in_avals[:len(entry.closed.in_avals) - len(entry.refs)]
        if len(avals) != len(expected) or any(
                a.shape != e.shape or a.dtype != e.dtype for a, e in zip(avals, expected)):
            raise TypeError(f"Compiled function called with argument types "
                            f"{[a.str_short() for a in avals]}, but it was compiled for "
                            f"{[e.str_short() for e in expected]}")
        values = [_leaf_value(x) for x in flat]
        if entry.refs:  # the closed-over refs' current values are extra trailing inputs
            values += [_leaf_value(v) for v in _ref_jit.closed_over_values(self._wrapped,
                                                                           entry)]
        outs = [Array(np.asarray(o), w) for o, w in zip(entry.executable(values),
                                                         entry.out_weak)]
        if entry.refs:  # and the written refs' final values are written back
            outs = _ref_jit.write_back(entry, outs)
        return tree_util.tree_unflatten(entry.out_tree, outs)
