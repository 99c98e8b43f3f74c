"""Refs closed over by control-flow bodies: each ref a body touches becomes an extra input
(and, when the body writes it, an extra carry or output) of the staged primitive.

fx refs are functionalized (see ``fx/ref.py``), so a loop cannot mutate a buffer: instead
every ``cond``/``switch``/``while_loop``/``scan`` body is traced in a ``RefScopeTrace``,
which *captures* a ref on its first access from inside the body: the body gets a fresh
input standing for the ref's value on entry, reads and writes inside the body update the
body's own view of the ref, and the view's final value is recorded. The functions here then
rearrange the traced jaxprs: a ref only read becomes a const operand; a ref written becomes
an extra carry of a loop (an extra operand and result of ``cond``, an extra carry input of
``while``'s ``cond_jaxpr``), and its final value is written back into the ref after the
primitive runs. So a printed jaxpr shows functional carries where JAX's shows ``Ref{...}``
consts with ``ref[idx] <- v`` effects; values, derivatives and batching agree. ``stage``
does the same for call primitives (``fx.jit``, ``fx.checkpoint``): refs become extra
inputs, written ones extra outputs; ``stage_for_printing`` is ``make_jaxpr``'s form
(leading constvars holding the refs' values, trailing outputs for their final values);
``trace_reading_refs`` is the read-only form for staging traces with no write-back.

Invariants: a ref is captured by every body scope between the current trace and the trace
that owns it, outermost first, so an inner body's initial value is the enclosing body's
current view; a scope's views die with its trace (nothing leaks into a cached trace: a
body that captured a ref is never cached); the outer value of a ref changes only in the
write-back after the primitive is bound, through ``Ref._write``, which applies JAX's rules
(no vmapped or differentiated value into an unbatched or non-differentiated ref).
"""
from __future__ import annotations

from typing import Callable, Sequence

from fx import core
from fx.config import config
from fx.core import ClosedJaxpr, Jaxpr, ShapedArray, Var
from fx.interpreters import partial_eval as pe


class _View:
    """A body's view of one captured ref: the outer value on entry, the body's input
    tracer standing for it, and the current value inside the body."""

    __slots__ = ("init", "input", "value")

    def __init__(self, init, tracer):
        self.init = init
        self.input = tracer
        self.value = tracer


class RefScopeTrace(pe.DynamicJaxprTrace):
    """The staging trace of a control-flow body (or of a jitted, checkpointed or
    ``make_jaxpr``-traced function): a ``DynamicJaxprTrace`` that also keeps its view of
    every ref it captured (in capture order)."""

    __slots__ = ("ref_views",)

    def __init__(self, parent):
        super().__init__(parent)
        self.ref_views: dict = {}

    def view(self, ref, outer_value) -> _View:
        """This body's view of ``ref``, capturing it (a new input) on first access."""
        view = self.ref_views.get(ref)
        if view is None:
            view = _View(outer_value, self.new_arg(core.get_aval(outer_value)))
            self.ref_views[ref] = view
        return view


class RefUse:
    """Which refs a traced body captured: the refs, their values on entry (values of the
    enclosing trace) and whether the body wrote each. The body's jaxpr has one extra input
    per ref after its own inputs and one extra output per ref after its own outputs."""

    __slots__ = ("refs", "inits", "written")

    def __init__(self, refs: list, inits: list, written: list):
        self.refs, self.inits, self.written = refs, inits, written

    def __len__(self):
        return len(self.refs)


def _with_weak_type(value, aval: ShapedArray):
    """``value`` with the weak type of ``aval`` (a loop carry keeps its exact type)."""
    if core.get_aval(value).weak_type == aval.weak_type:
        return value
    from fx.lax import _lax
    return _lax._convert_element_type(value, aval.dtype, weak_type=aval.weak_type)


def trace_to_jaxpr(flat_fun: Callable, in_avals: Sequence[ShapedArray]):
    """Stage ``flat_fun`` like ``pe.trace_to_jaxpr``, capturing the refs it touches.

    Returns (jaxpr, consts, out_avals, use): ``out_avals`` are those of ``flat_fun``'s own
    outputs; ``use`` is a ``RefUse`` (None when no ref was touched), in which case the
    jaxpr has the extra ref inputs and outputs described there.
    """
    trace = RefScopeTrace(core.current_trace())
    with core.new_trace(trace):
        args = [trace.new_arg(a) for a in in_avals]
        outs = list(flat_fun(*args))
        views = list(trace.ref_views.items())
        written = [v.value is not v.input for _, v in views]
        finals = [_with_weak_type(v.value, v.input.aval) for _, v in views]
        jaxpr, consts = trace.to_jaxpr(outs + finals)
    out_avals = jaxpr.out_avals[:len(outs)]
    if not views:
        return jaxpr, consts, out_avals, None
    use = RefUse([r for r, _ in views], [v.init for _, v in views], written)
    return jaxpr, consts, out_avals, use


def stage(flat_fun: Callable, in_avals: Sequence[ShapedArray], debug_info=None):
    """Stage ``flat_fun`` for a call primitive (``jit``, ``remat2``), capturing the refs it
    closes over: each touched ref becomes an extra input; each ref it writes, an extra
    output.

    Returns (jaxpr, consts, out_avals, refs, written): the jaxpr's inputs are
    ``flat_fun``'s followed by one per ref in ``refs`` (capture order); its outputs are
    ``flat_fun``'s (``out_avals``) followed by the final value of each ref whose
    ``written`` flag is set. ``refs`` and ``written`` are empty tuples when no ref was
    touched (the jaxpr is then exactly ``pe.trace_to_jaxpr``'s).
    """
    jaxpr, consts, out_avals, use = trace_to_jaxpr(flat_fun, in_avals)
    jaxpr.debug_info = debug_info
    if use is None:
        return jaxpr, consts, out_avals, (), ()
    n_own = len(out_avals)
    outvars = jaxpr.outvars[:n_own] + [v for v, w in zip(jaxpr.outvars[n_own:], use.written)
                                        if w]
    jaxpr = Jaxpr(jaxpr.constvars, jaxpr.invars, outvars, jaxpr.eqns, debug_info)
    return jaxpr, consts, out_avals, tuple(use.refs), tuple(use.written)


def stage_for_printing(flat_fun: Callable, in_avals: Sequence[ShapedArray]):
    """Stage ``flat_fun`` for ``make_jaxpr``: like ``pe.trace_to_jaxpr``, but refs created
    outside and closed over are allowed.

    The functionalized form of a closed-over ref (JAX prints it as a ``Ref{f32[3]}``
    constvar with ``ref[...] <- v`` effects): each ref the function touches is a leading
    *constvar* whose value is the ref's contents when traced, and each ref it writes adds
    one *trailing output*, its final value (after the function's own outputs, in the order
    the refs were first touched). Nothing is written: tracing does not run the function.

    Returns (jaxpr, consts, out_avals) with ``out_avals`` the function's own outputs.
    """
    jaxpr, consts, out_avals, use = trace_to_jaxpr(flat_fun, in_avals)
    if use is None:
        return jaxpr, consts, out_avals
    n = len(use)
    own_in, ref_in = jaxpr.invars[:-n], jaxpr.invars[-n:]
    outvars = jaxpr.outvars[:-n] + [v for v, w in zip(jaxpr.outvars[-n:], use.written) if w]
    jaxpr = Jaxpr(ref_in + jaxpr.constvars, own_in, outvars, jaxpr.eqns, jaxpr.debug_info)
    if config.jax_enable_checks:
        core.check_jaxpr(jaxpr)
    return jaxpr, list(use.inits) + list(consts), out_avals


def written_only(closed: ClosedJaxpr, use: RefUse | None) -> ClosedJaxpr:
    """A jaxpr traced with refs (one trailing input and output per ref) keeping the ref
    outputs only of the refs it wrote."""
    if use is None:
        return closed
    jaxpr, n = closed.jaxpr, len(use)
    n_own = len(jaxpr.outvars) - n
    outvars = jaxpr.outvars[:n_own] + [v for v, w in zip(jaxpr.outvars[n_own:], use.written)
                                       if w]
    return ClosedJaxpr(Jaxpr(jaxpr.constvars, jaxpr.invars, outvars, jaxpr.eqns,
                             jaxpr.debug_info), closed.consts)


def trace_reading_refs(flat_fun: Callable, in_avals: Sequence[ShapedArray], who: str,
                       debug_info=None):
    """``pe.trace_to_jaxpr``'s result for a staged function that may *read* refs it closes
    over (``custom_linear_solve``/``custom_root`` functions): each ref read is
    one more constvar, holding the ref's value now (after the jaxpr's own constvars).
    A write into such a ref raises a TypeError naming ``who``: nothing would write it
    back (JAX 0.10 drops such writes silently).

    Returns (jaxpr, consts, out_avals), as ``pe.trace_to_jaxpr``.
    """
    jaxpr, consts, out_avals, use = trace_to_jaxpr(flat_fun, in_avals)
    jaxpr.debug_info = debug_info
    if use is None:
        return jaxpr, consts, out_avals
    for ref, w in zip(use.refs, use.written):
        if w:
            raise TypeError(
                f"{who} wrote to the mutable array reference {ref.aval!r} it closes over; "
                f"functions staged by {who} may read refs but not write them (the write "
                "would be lost): write the ref before or after the call instead")
    n = len(use)
    jaxpr = Jaxpr(jaxpr.constvars + jaxpr.invars[-n:], jaxpr.invars[:-n], jaxpr.outvars[:-n],
                  jaxpr.eqns, jaxpr.debug_info)
    if config.jax_enable_checks:
        core.check_jaxpr(jaxpr)
    return jaxpr, list(consts) + list(use.inits), out_avals


def write_back(refs: Sequence, values: Sequence, where: str) -> None:
    """Store each final value into its ref (from the trace the primitive was bound in);
    ``where`` names the body that wrote it, for errors."""
    for ref, value in zip(refs, values):
        ref._write((), value, f"set (in a {where} body)")


def _split(jaxpr: Jaxpr, use: RefUse):
    """(own invars, ref invars, own outvars, ref outvars) of a body traced with refs."""
    n = len(use)
    return jaxpr.invars[:-n], jaxpr.invars[-n:], jaxpr.outvars[:-n], jaxpr.outvars[-n:]


# ---------------------------------------------------------------------------
# scan


def thread_scan(jaxpr: Jaxpr, consts: list, use: RefUse, init_flat: list, xs_flat: list):
    """The scan body, operands and counts with the refs threaded through.

    Read-only refs join the consts; written refs join the carry (after the user's carry).

    Returns (closed body jaxpr, operands, num_consts, num_carry, finish) where
    ``finish(outs)`` writes the refs' final values back and returns the user's outputs.
    """
    ins, ref_ins, outs, ref_outs = _split(jaxpr, use)
    n_carry = len(init_flat)
    read = [k for k, w in enumerate(use.written) if not w]
    wrote = [k for k, w in enumerate(use.written) if w]
    invars = (jaxpr.constvars + [ref_ins[k] for k in read] + ins[:n_carry]
              + [ref_ins[k] for k in wrote] + ins[n_carry:])
    outvars = outs[:n_carry] + [ref_outs[k] for k in wrote] + outs[n_carry:]
    body = ClosedJaxpr(Jaxpr([], invars, outvars, jaxpr.eqns, jaxpr.debug_info), [])
    operands = [*consts, *[use.inits[k] for k in read], *init_flat,
                *[use.inits[k] for k in wrote], *xs_flat]

    def finish(results: list) -> list:
        n_w = len(wrote)
        write_back([use.refs[k] for k in wrote], results[n_carry:n_carry + n_w], "scan")
        return results[:n_carry] + results[n_carry + n_w:]

    return body, operands, len(consts) + len(read), n_carry + len(wrote), finish


# ---------------------------------------------------------------------------
# while_loop


def thread_while(cond_traced, body_traced, init_flat: list):
    """The while cond and body jaxprs, operands and const counts with refs threaded.

    ``cond_traced`` and ``body_traced`` are (jaxpr, consts, use) of the traced cond_fun and
    body_fun. A ref body_fun writes becomes a carry (cond_fun sees the current value);
    refs only read become consts. A cond_fun that writes refs takes the path of
    ``_thread_while_cond_writes`` (JAX 0.10's semantics).

    Returns (cond closed jaxpr, body closed jaxpr, operands, cond_nconsts, body_nconsts,
    finish) as ``thread_scan``.
    """
    (c_jaxpr, c_consts, c_use), (b_jaxpr, b_consts, b_use) = cond_traced, body_traced
    empty = RefUse([], [], [])
    c_use, b_use = c_use or empty, b_use or empty
    if any(c_use.written):
        return _thread_while_cond_writes((c_jaxpr, c_consts, c_use),
                                         (b_jaxpr, b_consts, b_use), init_flat)
    carried = [r for r, w in zip(b_use.refs, b_use.written) if w]
    carry_index = {id(r): k for k, r in enumerate(carried)}
    n = len(init_flat)
    # cond: its consts, the refs it reads that are not carried, then the full carry
    c_ins = c_jaxpr.invars[:len(c_jaxpr.invars) - len(c_use)]
    c_ref_ins = c_jaxpr.invars[len(c_ins):]
    c_const_refs = [k for k, r in enumerate(c_use.refs) if id(r) not in carry_index]
    c_carry_vars = []  # cond sees each carried ref: its own input, or an unused one
    for r in carried:
        k = next((j for j, s in enumerate(c_use.refs) if s is r), None)
        c_carry_vars.append(c_ref_ins[k] if k is not None else
                            Var(core.get_aval(b_use.inits[b_use.refs.index(r)])))
    c_invars = (c_jaxpr.constvars + [c_ref_ins[k] for k in c_const_refs] + c_ins
                + c_carry_vars)
    c_outvars = c_jaxpr.outvars[:len(c_jaxpr.outvars) - len(c_use)]
    cond = ClosedJaxpr(Jaxpr([], c_invars, c_outvars, c_jaxpr.eqns, c_jaxpr.debug_info), [])
    # body: its consts, the refs it only reads, the carry, then the carried refs
    nb = len(b_use)
    b_ins, b_ref_ins = b_jaxpr.invars[:len(b_jaxpr.invars) - nb], \
        b_jaxpr.invars[len(b_jaxpr.invars) - nb:]
    b_outs, b_ref_outs = b_jaxpr.outvars[:len(b_jaxpr.outvars) - nb], \
        b_jaxpr.outvars[len(b_jaxpr.outvars) - nb:]
    read = [k for k, w in enumerate(b_use.written) if not w]
    wrote = [k for k, w in enumerate(b_use.written) if w]
    b_invars = (b_jaxpr.constvars + [b_ref_ins[k] for k in read] + b_ins
                + [b_ref_ins[k] for k in wrote])
    b_outvars = b_outs + [b_ref_outs[k] for k in wrote]
    body = ClosedJaxpr(Jaxpr([], b_invars, b_outvars, b_jaxpr.eqns, b_jaxpr.debug_info), [])
    operands = [*c_consts, *[c_use.inits[k] for k in c_const_refs], *b_consts,
                *[b_use.inits[k] for k in read], *init_flat,
                *[b_use.inits[k] for k in wrote]]

    def finish(results: list) -> list:
        write_back(carried, results[n:], "while_loop")
        return results[:n]

    return (cond, body, operands, len(c_consts) + len(c_const_refs),
            len(b_consts) + len(read), finish)


def _thread_while_cond_writes(cond_traced, body_traced, init_flat: list):
    """``thread_while`` where cond_fun writes refs, with JAX 0.10's semantics: the writes of
    each cond_fun call that returns True land before that iteration's body_fun runs; the
    writes of the last call (the one returning False, which ends the loop) are dropped.

    Every ref written by either function becomes a carry; the loop's cond computes only
    the predicate, and its body first replays cond_fun's writes, then runs body_fun.
    """
    (c_jaxpr, c_consts, c_use), (b_jaxpr, b_consts, b_use) = cond_traced, body_traced
    refs, inits, written = [], [], []
    for use in (c_use, b_use):
        for r, init, w in zip(use.refs, use.inits, use.written):
            k = next((j for j, s in enumerate(refs) if s is r), None)
            if k is None:
                refs.append(r)
                inits.append(init)
                written.append(w)
            else:
                written[k] = written[k] or w
    slot = {id(r): k for k, r in enumerate(refs)}
    read = [k for k, w in enumerate(written) if not w]
    carried = [k for k, w in enumerate(written) if w]
    n, nc, nb, nr = len(init_flat), len(c_consts), len(b_consts), len(read)
    carry_avals = [v.aval for v in c_jaxpr.invars[:n]]
    ref_avals = [core.get_aval(v) for v in inits]

    def state_of(read_vals, carried_vals) -> dict:
        state = dict(zip(read, read_vals))
        state.update(zip(carried, carried_vals))
        return state

    def run(jaxpr, consts, use, carry, state, n_own):
        outs = core.eval_jaxpr(jaxpr, consts, *carry, *[state[slot[id(r)]] for r in use.refs])
        for r, w, v in zip(use.refs, use.written, outs[n_own:]):
            if w:
                state[slot[id(r)]] = v
        return outs[:n_own]

    def cond_fun(*args):
        consts, read_vals = args[:nc], args[nc:nc + nr]
        carry, carried_vals = args[nc + nr:nc + nr + n], args[nc + nr + n:]
        return run(c_jaxpr, consts, c_use, carry, state_of(read_vals, carried_vals), 1)

    def body_fun(*args):
        c_vals, b_vals = args[:nc], args[nc:nc + nb]
        read_vals, rest = args[nc + nb:nc + nb + nr], args[nc + nb + nr:]
        carry, carried_vals = rest[:n], rest[n:]
        state = state_of(read_vals, carried_vals)
        run(c_jaxpr, c_vals, c_use, carry, state, 1)  # this iteration's cond_fun writes
        outs = run(b_jaxpr, b_vals, b_use, carry, state, n)
        return list(outs) + [state[k] for k in carried]

    read_avals = [ref_avals[k] for k in read]
    loop_avals = carry_avals + [ref_avals[k] for k in carried]
    const_avals = [v.aval for v in c_jaxpr.constvars]
    cond = _closed(cond_fun, const_avals + read_avals + loop_avals)
    body = _closed(body_fun, const_avals + [v.aval for v in b_jaxpr.constvars] + read_avals
                   + loop_avals)
    read_inits = [inits[k] for k in read]
    operands = [*cond[1], *c_consts, *read_inits, *body[1], *c_consts, *b_consts,
                *read_inits, *init_flat, *[inits[k] for k in carried]]

    def finish(results: list) -> list:
        write_back([refs[k] for k in carried], results[n:], "while_loop")
        return results[:n]

    return (cond[0], body[0], operands, len(cond[1]) + nc + nr,
            len(body[1]) + nc + nb + nr, finish)


def _closed(fun: Callable, avals: list):
    """(closed jaxpr with its consts as leading inputs, those consts) of ``fun``."""
    jaxpr, consts, _ = pe.trace_to_jaxpr(fun, avals)
    eqns = pe.dce_jaxpr(jaxpr, [True] * len(jaxpr.outvars))[0].eqns  # e.g. the dropped writes
    return ClosedJaxpr(Jaxpr([], jaxpr.constvars + jaxpr.invars, jaxpr.outvars, eqns,
                             jaxpr.debug_info), []), list(consts)


# ---------------------------------------------------------------------------
# cond and switch


def unify_branches(traced: list, n_in: int):
    """Give every branch the same ref inputs and outputs.

    ``traced`` holds (jaxpr, use) per branch (``use`` None for a branch that touched no
    ref); ``n_in`` is the number of the branches' own inputs. Every branch gets one extra
    input per ref any branch touches and one extra output per ref any branch writes (a
    branch that does not write it returns its input unchanged).

    Returns (new jaxprs, the refs' operands, finish) where ``finish(outs)`` writes the
    final values back and returns the branches' own outputs.
    """
    refs: list = []
    inits: list = []
    written: list = []
    for _, use in traced:
        if use is None:
            continue
        for r, init, w in zip(use.refs, use.inits, use.written):
            for k, s in enumerate(refs):
                if s is r:
                    written[k] = written[k] or w
                    break
            else:
                refs.append(r)
                inits.append(init)
                written.append(w)
    new = []
    for jaxpr, use in traced:
        own = use.refs if use is not None else []
        n_own = len(own)
        ins = jaxpr.invars[:n_in]
        outs = jaxpr.outvars[:len(jaxpr.outvars) - n_own]
        ref_ins, ref_outs = jaxpr.invars[n_in:], jaxpr.outvars[len(outs):]
        extra_in, extra_out = [], []
        for r, init, w in zip(refs, inits, written):
            k = next((j for j, s in enumerate(own) if s is r), None)
            if k is None:
                var = Var(core.get_aval(init))
                extra_in.append(var)
                out = var
            else:
                extra_in.append(ref_ins[k])
                out = ref_outs[k]
            if w:
                extra_out.append(out)
        new.append(Jaxpr(jaxpr.constvars, ins + extra_in, outs + extra_out, jaxpr.eqns,
                         jaxpr.debug_info))
    wrote = [r for r, w in zip(refs, written) if w]

    def finish(results: list) -> list:
        n_own_out = len(results) - len(wrote)
        write_back(wrote, results[n_own_out:], "cond")
        return results[:n_own_out]

    return new, inits, finish
