"""``jit``: staging a function to a jaxpr once per signature, caching, and
dispatching cached calls with as little Python as possible.

Invariants: the cache key is (pytree structure, per-leaf shape/dtype/weak type,
static argument values, config state); a cached call flattens, looks up, runs
the executable on NumPy buffers and wraps the outputs. Refs the function closes over are
traced as extra trailing inputs (their current values, passed on every call) and, when
written, extra trailing outputs written back after the call (``fx/_ref_jit.py``); such
entries never take the fast path, which stays as it is for everything else. Inside another trace a
jitted function binds the ``jit`` call primitive, whose rules (jvp, transpose,
batch, partial eval) rewrite the sub-jaxpr, so every transformation composes.
"""
from __future__ import annotations

import functools
import inspect
import os
import types
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from fx import _ref_jit, _ref_scope, core, dtypes, tree_util
from fx.array import Array
from fx.config import config
from fx.core import ClosedJaxpr, ShapeDtypeStruct, Tracer, Zero, get_aval
from fx.interpreters import ad, batching
from fx.interpreters import partial_eval as pe
from fx.interpreters.jit_verify import Verified, verifiable
from primitives import collectives
from primitives._rules import new_primitive

# ---------------------------------------------------------------------------
# the reference executable: a jaxpr turned into a flat list of impl calls


class Executable:
    """Runs a closed jaxpr on NumPy buffers by calling each primitive's impl.

    Variables live in a flat list; literals and consts get fixed slots, so the
    loop does no lookups by name.
    """

    __slots__ = ("steps", "n_slots", "init", "in_slots", "out_slots", "jaxpr", "out_avals",
                 "text")

    def __init__(self, closed: ClosedJaxpr):
        jaxpr = closed.jaxpr
        self.jaxpr = closed
        slot_of: dict[int, int] = {}
        init: list[tuple[int, Any]] = []

        def slot(v):
            key = id(v)
            if key not in slot_of:
                slot_of[key] = len(slot_of)
                if isinstance(v, core.Literal):
                    init.append((slot_of[key], np.asarray(v.val, v.aval.dtype)))
            return slot_of[key]

        for v, c in zip(jaxpr.constvars, closed.consts):
            init.append((slot(v), _to_numpy(c)))
        self.in_slots = [slot(v) for v in jaxpr.invars]
        steps = []
        for eqn in jaxpr.eqns:
            ins = tuple(slot(v) for v in eqn.invars)
            outs = tuple(slot(v) for v in eqn.outvars)
            impl = eqn.primitive.impl_rule or eqn.primitive.impl
            steps.append((impl, ins, outs, eqn.params,
                          eqn.primitive.multiple_results, eqn))
        self.out_slots = [slot(v) for v in jaxpr.outvars]
        self.steps = steps
        self.n_slots = len(slot_of)
        self.init = init
        self.out_avals = jaxpr.out_avals

    def __call__(self, args: Sequence[np.ndarray]) -> list[np.ndarray]:
        env: list[Any] = [None] * self.n_slots
        for i, v in self.init:
            env[i] = v
        for i, a in zip(self.in_slots, args):
            env[i] = a
        check = config.jax_debug_nans or config.jax_debug_infs
        for impl, ins, outs, params, multiple, eqn in self.steps:
            result = impl(*[env[i] for i in ins], **params)
            if multiple:
                for i, r in zip(outs, result):
                    env[i] = r
            else:
                env[outs[0]] = result
                if check:
                    _check_nans(eqn, result)
        return [env[i] for i in self.out_slots]


def _to_numpy(x):
    if type(x) is Array:
        return x._value
    if isinstance(x, Tracer):
        raise core.JaxprTypeError("a compiled program cannot hold a tracer as a constant")
    return np.asarray(x)


def _check_nans(eqn, result):
    core.check_nans(eqn.primitive, result, eqn.source_info)


_executables: "weakref.WeakKeyDictionary[ClosedJaxpr, Executable]" = weakref.WeakKeyDictionary()


def compile_jaxpr(closed: ClosedJaxpr, verify: bool = True):
    """The executable for ``closed`` (cached on the jaxpr object): native code from the
    CPU compiler, or the reference interpreter where the compiler is off (``FX_COMPILER=0``)
    or cannot build the program. ``verify=False``: never compared with the reference
    under ``FX_CHECK_COMPILED`` (loop bodies run by eager control flow)."""
    exe = _executables.get(closed)
    if exe is None:
        exe = None
        if _use_compiler():
            try:
                from lowering import cpu
                exe = cpu.compile(closed)
            except Exception as e:  # noqa: BLE001  (jit never fails where eager works)
                if os.environ.get("FX_DEBUG"):
                    print(f"fx: native compilation failed ({type(e).__name__}: {e}); "
                          "running the reference interpreter")
                exe = None
        if exe is None:
            exe = Executable(closed)
        elif verify and os.environ.get("FX_CHECK_COMPILED", "0") not in ("", "0") and \
                verifiable(closed.jaxpr):
            exe = Verified(exe, Executable(closed))
        _executables[closed] = exe
    return exe


def _use_compiler() -> bool:
    return os.environ.get("FX_COMPILER", "1") != "0"


# ---------------------------------------------------------------------------
# the jit call primitive

jit_p = new_primitive("jit", multiple_results=True,
                      hidden_params=("donated_invars", "inline", "keep_unused"))
jit_p.subjaxprs = lambda params: [params["jaxpr"]]
jit_p.param_order = ("name", "jaxpr")


@jit_p.def_abstract_eval
def _jit_abstract_eval(*avals, jaxpr, name, donated_invars=(), inline=False,
                       keep_unused=False):
    expected = jaxpr.in_avals
    if len(avals) != len(expected):
        raise TypeError(f"jit call {name} got {len(avals)} arguments, its jaxpr takes "
                        f"{len(expected)}")
    for a, e in zip(avals, expected):
        if a.shape != e.shape or a.dtype != e.dtype:
            raise TypeError(f"jit call {name}: argument {a.str_short()} does not match the "
                            f"jaxpr's {e.str_short()}")
    return jaxpr.out_avals


@jit_p.def_impl
def _jit_impl(*args, jaxpr, name, donated_invars=(), inline=False, keep_unused=False):
    return compile_jaxpr(jaxpr)([np.asarray(a, dtype=aval.dtype)
                                 for a, aval in zip(args, jaxpr.in_avals)])


@jit_p.def_jvp
def _jit_jvp(primals, tangents, *, jaxpr, name, donated_invars=(), inline=False,
             keep_unused=False):
    nonzeros = [type(t) is not Zero for t in tangents]
    # custom rules run now may touch refs: extra inputs and outputs (fx/_ref_scope.py)
    jvp_closed, out_nz, use = ad.jvp_jaxpr(jaxpr, nonzeros, instantiate=False,
                                           capture_refs=True)
    tangents_nz = [t for t in tangents if type(t) is not Zero]
    outs = _bind_with_refs(use, [*primals, *tangents_nz], jaxpr=jvp_closed, name=name,
                           inline=inline, keep_unused=keep_unused)
    n = len(jaxpr.out_avals)
    primals_out, tangents_nz_out = outs[:n], iter(outs[n:])
    tangents_out = [next(tangents_nz_out) if nz else Zero(a.to_tangent_aval())
                    for a, nz in zip(jaxpr.out_avals, out_nz)]
    return primals_out, tangents_out


@jit_p.def_transpose
def _jit_transpose(cts, *args, jaxpr, name, donated_invars=(), inline=False,
                   keep_unused=False):
    linear = [core.is_undefined_primal(a) for a in args]
    ct_zeros = [type(c) is Zero for c in cts]
    t_closed, use = ad.transpose_jaxpr(jaxpr, linear, capture_refs=True, ct_zeros=ct_zeros)
    nonlin = [a for a, lin in zip(args, linear) if not lin]
    # as JAX: zero cotangents are not passed, nor inputs the transposed program never reads
    call_args = [*nonlin, *[c for c in cts if type(c) is not Zero]]
    t_closed, call_args = _drop_unused_inputs(t_closed, call_args)
    outs = _bind_with_refs(use, call_args, jaxpr=t_closed, name=name, inline=inline,
                           keep_unused=keep_unused)
    it = iter(outs)
    return [next(it) if lin else None for lin in linear]


def _drop_unused_inputs(closed: ClosedJaxpr, args: list):
    """``closed`` without the leading inputs (those ``args`` stands for) that no equation or
    output reads, and ``args`` without them; inputs after those (refs') are kept."""
    jaxpr = closed.jaxpr
    used = pe.dce_jaxpr(jaxpr, [True] * len(jaxpr.outvars))[1][:len(args)]
    if all(used):
        return closed, args
    invars = [v for v, u in zip(jaxpr.invars, used) if u] + jaxpr.invars[len(args):]
    new = core.Jaxpr(jaxpr.constvars, invars, jaxpr.outvars, jaxpr.eqns, jaxpr.debug_info)
    return ClosedJaxpr(new, closed.consts), [a for a, u in zip(args, used) if u]


def _bind_with_refs(use, args: list, *, jaxpr: ClosedJaxpr, **params) -> list:
    """Bind ``jit`` on ``args`` and the current values of the refs in ``use`` (custom rules
    touched them while the jaxpr was transformed), writing the written ones back;
    returns the outputs without the refs'."""
    jaxpr = _ref_scope.written_only(jaxpr, use)
    refs_in = list(use.inits) if use is not None else []
    outs = jit_p.bind(*args, *refs_in, jaxpr=jaxpr,
                      donated_invars=(False,) * (len(args) + len(refs_in)), **params)
    if use is None or not any(use.written):
        return outs
    n_own = len(outs) - sum(use.written)
    _ref_scope.write_back([r for r, w in zip(use.refs, use.written) if w], outs[n_own:],
                          "custom derivative rule")
    return outs[:n_own]


@jit_p.def_batch
def _jit_batch(args, dims, *, axis_data=None, jaxpr, name, donated_invars=(), inline=False,
               keep_unused=False):
    params = dict(jaxpr=jaxpr, name=name, donated_invars=donated_invars, inline=inline,
                  keep_unused=keep_unused)
    if collectives.skip_unbatched(jit_p, args, dims, axis_data, params):
        return jit_p.bind(*args, **params), [None] * len(jaxpr.out_avals)
    axis_name, size = collectives.axis_of(axis_data, args, dims)
    # as JAX's: batch dims stay where they are, inside and out
    b_closed, out_dims = batching.batch_jaxpr_axes(jaxpr, size, dims, axis_name=axis_name)
    outs = jit_p.bind(*args, jaxpr=b_closed, name=name, donated_invars=donated_invars,
                      inline=inline, keep_unused=keep_unused)
    return outs, out_dims


def _jit_partial_eval(trace: pe.JaxprTrace, args, *, jaxpr, name, donated_invars=(),
                      inline=False, keep_unused=False):
    unknowns = [trace.is_unknown(a) for a in args]
    known_closed, unknown_closed, out_uk, res_avals = pe.partial_eval_jaxpr(
        jaxpr, unknowns, instantiate=False)
    known_args = [a for a, uk in zip(args, unknowns) if not uk]
    known_closed, forwarded = _forward_residuals(known_closed, len(res_avals))
    # equations of the known half that no output needs go (as JAX's partial evaluation
    # of a jit prunes them: the primal of a linear solve's matvec, say)
    known_closed = pe.dce_closed_jaxpr(known_closed, [True] * len(known_closed.jaxpr.outvars),
                                       instantiate=True)[0]
    with core.set_current_trace(trace.parent):
        known_outs = jit_p.bind(*known_args, jaxpr=known_closed, name=name,
                                donated_invars=(False,) * len(known_args), inline=inline,
                                keep_unused=keep_unused)
    n_known_out = len(known_outs) - sum(f is None for f in forwarded)
    known_vals, computed = known_outs[:n_known_out], iter(known_outs[n_known_out:])
    residuals = [next(computed) if f is None else
                 known_args[f[1]] if f[0] == "in" else known_vals[f[1]] for f in forwarded]
    unknown_args = [a for a, uk in zip(args, unknowns) if uk]
    unknown_outs = trace.default_process(
        jit_p, [*residuals, *unknown_args],
        dict(jaxpr=unknown_closed, name=name,
             donated_invars=(False,) * (len(residuals) + len(unknown_args)), inline=inline,
             keep_unused=keep_unused))
    known_it, unknown_it = iter(known_vals), iter(unknown_outs)
    return [next(unknown_it) if uk else next(known_it) for uk in out_uk]


jit_p.partial_eval = _jit_partial_eval


def _jit_dce(used_outputs, eqn):
    """Dead-code elimination of a jit call (``Primitive.dce``), as JAX's: the body keeps
    only the used outputs, and the call drops the operands the body no longer reads
    (unless ``keep_unused``). Bodies with effects are kept whole. Returns
    ``(used_inputs, new_eqn)``; ``new_eqn`` is None when nothing is used."""
    from primitives.control_flow_util import has_effects
    closed = eqn.params["jaxpr"]
    if has_effects(closed):
        return [True] * len(eqn.invars), eqn
    if not any(used_outputs):
        return [False] * len(eqn.invars), None
    keep = bool(eqn.params.get("keep_unused"))
    new_closed, used_inputs = pe.dce_closed_jaxpr(closed, used_outputs, instantiate=keep)
    params = dict(eqn.params, jaxpr=new_closed)
    donated = eqn.params.get("donated_invars")
    if donated:
        params["donated_invars"] = tuple(d for d, u in zip(donated, used_inputs) if u)
    new_eqn = eqn.replace(invars=[v for v, u in zip(eqn.invars, used_inputs) if u],
                          outvars=[v for v, u in zip(eqn.outvars, used_outputs) if u],
                          params=params)
    return used_inputs, new_eqn


jit_p.dce = _jit_dce


def _forward_residuals(known: ClosedJaxpr, n_res: int):
    """Residuals that are just a known input or a known output of the known call are not
    returned by it again (JAX forwards them): returns the known jaxpr without those
    residual outputs and, per residual, None (still an output) or ``("in", i)`` /
    ``("out", j)``: the known call's input ``i`` or its own output ``j``."""
    jaxpr = known.jaxpr
    n_out = len(jaxpr.outvars) - n_res
    in_pos = {id(v): i for i, v in enumerate(jaxpr.invars)}
    out_pos: dict[int, int] = {}
    for j, v in enumerate(jaxpr.outvars[:n_out]):
        if isinstance(v, core.Var):
            out_pos.setdefault(id(v), j)
    forwarded, kept = [], []
    for v in jaxpr.outvars[n_out:]:
        if isinstance(v, core.Var) and id(v) in in_pos:
            forwarded.append(("in", in_pos[id(v)]))
        elif isinstance(v, core.Var) and id(v) in out_pos:
            forwarded.append(("out", out_pos[id(v)]))
        else:
            forwarded.append(None)
            kept.append(v)
    if len(kept) == n_res:
        return known, forwarded
    new = core.Jaxpr(jaxpr.constvars, jaxpr.invars, jaxpr.outvars[:n_out] + kept, jaxpr.eqns,
                     jaxpr.debug_info)
    return ClosedJaxpr(new, known.consts), forwarded
jit_p.axis_dependent = True  # its body may hold collectives over a vmapped axis name


# ---------------------------------------------------------------------------
# the user-facing wrapper


def _gpu_placement(name, flat):
    """``(GPU, committed)`` when the call runs on a GPU (JAX's rule: the device of the
    committed arguments, else the default device), else ``(None, False)``: the host."""
    if core._eager_route is None and not any(
            type(x) is Array and x._device is not None for x in flat):
        return None, False  # the host is the default and nothing is placed
    from lowering.gpu.eager import placement
    device, committed = placement(types.SimpleNamespace(name=name), flat)
    if getattr(device, "platform", "cpu") != "gpu":
        return None, False
    return device, committed


def _leaf_signature(x):
    t = type(x)
    if t is Array:
        v = x._value
        if v is None:
            raise RuntimeError("Array has been deleted (it was donated to a jitted call "
                               "with donate_argnums, or .delete() was called)")
        return (v.shape, v.dtype, x.weak_type)
    if t in (int, float, complex, bool):
        return t
    if isinstance(x, Tracer):
        a = x.aval
        return (a.shape, a.dtype, a.weak_type)
    if isinstance(x, (np.ndarray, np.generic)):
        return (x.shape, dtypes.canonicalize_dtype(x.dtype), False)
    if isinstance(x, ShapeDtypeStruct):  # trace/lower with abstract arguments
        return (x.shape, dtypes.canonicalize_dtype(x.dtype), x.weak_type)
    if hasattr(x, "__jax_array__"):
        return _leaf_signature(x.__jax_array__())
    raise TypeError(f"Argument {x!r} of type {t.__name__} is not a valid fx type: jit "
                    "arguments must be arrays, scalars or pytrees of them (mark other "
                    "arguments static with static_argnums/static_argnames)")


def _leaf_value(x):
    t = type(x)
    if t is Array:
        return x._value
    if t in (int, float, complex, bool):
        return np.asarray(x, dtype=dtypes.result_type(x))
    return np.asarray(x, dtype=dtypes.canonicalize_dtype(np.asarray(x).dtype))


class _CacheEntry:
    __slots__ = ("closed", "executable", "out_tree", "out_weak", "hoisted", "single_leaf",
                 "donated", "fast", "gpu", "refs", "ref_written")

    def __init__(self, closed, out_tree, refs=(), ref_written=()):
        self.closed = closed
        # closed-over refs (fx/_ref_jit.py): extra trailing inputs, and for each written one
        # an extra trailing output
        self.refs = refs
        self.ref_written = ref_written
        self.donated = ()  # flat argument positions donated to the call
        self.executable = None
        self.fast = None  # the native call for arguments of the cached types, if any
        self.gpu: dict = {}  # GPU ordinal -> GpuExecutable
        self.out_tree = out_tree
        self.out_weak = [a.weak_type for a in closed.out_avals]
        self.single_leaf = out_tree == tree_util.tree_structure(0)


class JitWrapped:
    """A jit-compiled function (``fx.jit(f)``): call it, ``.lower(*args)`` or ``.trace``."""

    def __init__(self, fun: Callable, static_argnums=(), static_argnames=(),
                 donate_argnums=(), donate_argnames=(), inline: bool = False,
                 keep_unused: bool = False, device=None, backend=None):
        if not callable(fun):
            raise TypeError(f"jit requires a callable, got {type(fun).__name__}: {fun!r}")
        functools.update_wrapper(self, fun)
        self._fun = fun
        self._name = getattr(fun, "__name__", type(fun).__name__)
        self._signature = _safe_signature(fun)
        self.static_argnums, self.static_argnames = _resolve_static(
            self._signature, static_argnums, static_argnames)
        self.donate_argnums = (donate_argnums,) if isinstance(donate_argnums, int) else \
            tuple(donate_argnums)
        self._inline = inline
        self._keep_unused = keep_unused
        self._cache: dict = {}
        self._fast_cache: dict = {}  # all-Array positional calls: avals -> entry
        self.cache_misses = 0
        from fx._api_extras import register_jitted
        register_jitted(self)

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self, obj)

    def __repr__(self):
        return f"<fx.jit of {self._name}>"

    # -- key and tracing ----------------------------------------------------------
    def _split(self, args, kwargs):
        """(static positional values, static keyword items, dynamic args, dynamic kwargs).

        A static position may also be passed by keyword (its name is static too)."""
        nargs = len(args)
        positions = tuple(i for i in self.static_argnums if i < nargs)
        if positions:
            statics = tuple((i, args[i]) for i in positions)
            dyn_args = tuple(a for i, a in enumerate(args) if i not in positions)
        else:
            statics = ()
            dyn_args = args
        static_kw = ()
        if kwargs and self.static_argnames:
            static_kw = tuple(sorted((k, v) for k, v in kwargs.items()
                                     if k in self.static_argnames))
            kwargs = {k: v for k, v in kwargs.items() if k not in self.static_argnames}
        for s in tuple(v for _, v in statics) + tuple(v for _, v in static_kw):
            try:
                hash(s)
            except TypeError as e:
                raise ValueError(
                    f"Non-hashable static arguments are not supported. An error occurred "
                    f"while trying to hash an object of type {type(s)}, {s!r}. The error "
                    f"was:\nTypeError: {e}") from None
        return statics, static_kw, dyn_args, kwargs

    def _rebuild(self, statics, static_kw, dyn_args, dyn_kwargs):
        args = list(dyn_args)
        for i, s in statics:
            args.insert(i, s)
        kwargs = dict(dyn_kwargs)
        kwargs.update(static_kw)
        return args, kwargs

    def _trace(self, statics, static_kw, in_tree, avals) -> _CacheEntry:
        store: dict[str, Any] = {}

        def flat_fun(*flat_args):
            dyn_args, dyn_kwargs = tree_util.tree_unflatten(in_tree, flat_args)
            args, kwargs = self._rebuild(statics, static_kw, dyn_args, dyn_kwargs)
            out = self._fun(*args, **kwargs)
            flat_out, store["tree"] = tree_util.tree_flatten(out)
            for o in flat_out:
                if not isinstance(o, Tracer):
                    if type(o) is _ref_jit.Ref:
                        raise ValueError(
                            f"function {self._name} traced for jit returned a mutable array "
                            f"reference of type {o.aval!r}, but mutable array references "
                            "cannot be returned; return ref[...] instead")
                    _leaf_signature(o)
            return flat_out

        # refs closed over become extra inputs/outputs (fx/_ref_jit.py)
        jaxpr, consts, _, refs, written = _ref_scope.stage(flat_fun, avals, self._name)
        self.cache_misses += 1
        if config.jax_log_compiles:
            print(f"fx: compiling {self._name} for {[a.str_short() for a in avals]}")
        closed, hoisted = pe.hoist_tracer_consts(jaxpr, consts)
        entry = _CacheEntry(closed, store["tree"], refs, written)
        entry.hoisted = hoisted
        return entry

    def _entry(self, args, kwargs):
        statics, static_kw, dyn_args, dyn_kwargs = self._split(args, kwargs)
        flat, in_tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))
        sig = tuple(_leaf_signature(x) for x in flat)
        key = (in_tree, sig, statics, static_kw, config._state_key,
               collectives.axis_env_key())
        entry = self._cache.get(key)
        if entry is None and self._cache and config.jax_explain_cache_misses:
            _explain_miss(self._name, key, list(self._cache))
        if entry is None or entry.hoisted:
            avals = [get_aval(x) if not isinstance(x, Tracer) else x.aval for x in flat]
            entry = self._trace(statics, static_kw, in_tree, avals)
            if not entry.hoisted and not (entry.refs and _ref_jit.transient(entry.refs)):
                self._cache[key] = entry
        return entry, flat

    # -- calling ------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        eager = core._current_trace.get() is core.eval_trace
        sig = None
        if eager and not kwargs:
            # fast path: positional fx.Arrays only, already compiled
            sig = []
            for a in args:
                if type(a) is not Array or a._value is None or (
                        a._device is not None and getattr(a._device, "platform", 0) == "gpu"):
                    break
                v = a._value
                sig.append((v.shape, v.dtype, a.weak_type))
            else:
                entry = self._fast_cache.get((tuple(sig), config._state_key))
                if entry is not None:
                    values = [a._value for a in args]
                    fast = entry.fast
                    outs = fast(values) if fast is not None else None
                    if outs is None:
                        outs = entry.executable(values)
                    if entry.single_leaf and type(outs[0]) is np.ndarray:
                        return Array(outs[0], entry.out_weak[0])
                    wrapped = [Array(o if type(o) is np.ndarray else np.asarray(o), w)
                               for o, w in zip(outs, entry.out_weak)]
                    if entry.single_leaf:
                        return wrapped[0]
                    return tree_util.tree_unflatten(entry.out_tree, wrapped)
                sig = tuple(sig)
        if config.jax_disable_jit:
            return self._fun(*args, **kwargs)
        try:
            entry, flat = self._entry(args, kwargs)
        except TypeError:  # a mutable array reference among the arguments?
            if not _ref_jit.has_ref_argument(self, args, kwargs):
                raise
            return _ref_jit.call_with_refs(self, args, kwargs)
        if entry.refs:  # closed-over refs: their current values are extra arguments
            flat = [*flat, *_ref_jit.closed_over_values(self, entry)]
        if eager and not entry.hoisted:
            gpu, committed = _gpu_placement(self._name, flat)
            if gpu is not None:
                outs = self._call_gpu(entry, flat, gpu, committed)
            else:
                exe = entry.executable
                if exe is None:
                    exe = entry.executable = compile_jaxpr(entry.closed)
                if self.donate_argnums:
                    outs = self._call_donating(entry, exe, args, flat)
                else:
                    if not kwargs and not self.static_argnums and isinstance(sig, tuple) \
                            and not entry.refs:
                        if not isinstance(exe, Verified):
                            entry.fast = getattr(getattr(exe, "_fast_call", None), "trusted",
                                                 None)
                        self._fast_cache[(sig, config._state_key)] = entry
                    outs = exe([_leaf_value(x) for x in flat])
                    outs = [Array(o if type(o) is np.ndarray else np.asarray(o), w)
                            for o, w in zip(outs, entry.out_weak)]
        else:
            hoisted = entry.hoisted or []
            flat = [x if isinstance(x, (Array, Tracer)) else Array(_leaf_value(x), type(x) in
                                                                   (int, float, complex))
                    for x in flat]
            if self._inline:
                outs = core.eval_jaxpr(entry.closed.jaxpr, entry.closed.consts, *hoisted,
                                       *flat)
            else:
                outs = jit_p.bind(*hoisted, *flat, jaxpr=entry.closed, name=self._name,
                                  donated_invars=(False,) * (len(hoisted) + len(flat)),
                                  inline=self._inline, keep_unused=self._keep_unused)
        if entry.refs:  # the refs' final values, written back
            outs = _ref_jit.write_back(entry, outs)
        return tree_util.tree_unflatten(entry.out_tree, outs)

    def _call_gpu(self, entry, flat, device, committed=True):
        """Run on ``device``: CUDA kernels from ``lowering.gpu``; host arguments are
        copied there, outputs stay there (``fx.device_get`` or ``np.asarray`` bring them
        back), committed when an argument was (JAX's rule)."""
        from lowering.gpu.device import runtime_for
        runtime = runtime_for(device)
        exe = entry.gpu.get(device.id)
        if exe is None:
            from lowering.gpu.compile import compile as gpu_compile
            exe = entry.gpu[device.id] = gpu_compile(entry.closed, runtime=runtime)
        values = []
        for x in flat:
            if type(x) is Array and getattr(x._device, "platform", None) == "gpu":
                if x._device.id != device.id:
                    raise ValueError(f"jitted function {self._name} got arguments on "
                                     f"different GPUs ({device} and {x._device}); "
                                     "fx.device_put them onto one")
                values.append(x._value)
            else:
                values.append(runtime.asarray(_leaf_value(x)))
        outs = exe(values)
        wrapped = [Array(o, w, device=device) for o, w in zip(outs, entry.out_weak)]
        if not committed:
            for a in wrapped:
                a._committed = False
        return wrapped

    def _call_donating(self, entry, exe, args, flat):
        """A call with ``donate_argnums``: donated arrays whose buffers fx allocated may
        receive outputs in place; every donated array is deleted afterwards (as JAX)."""
        positions = self._donated_positions(args)
        values = [_leaf_value(x) for x in flat]
        reusable = tuple(i for i in positions if type(flat[i]) is Array and flat[i]._owned
                         and not any(j != i and flat[j] is flat[i] for j in range(len(flat))))
        run = getattr(exe, "run_donating", None)
        if run is not None and reusable:
            outs, fresh = run(values, reusable)
        else:
            outs = exe(values)
            fresh = getattr(exe, "fresh_outputs", ())
        wrapped = []
        for k, (o, w) in enumerate(zip(outs, entry.out_weak)):
            a = Array(o if type(o) is np.ndarray else np.asarray(o), w)
            a._owned = k < len(fresh) and fresh[k]
            wrapped.append(a)
        for i in positions:
            if type(flat[i]) is Array:
                flat[i].delete()
        return wrapped

    def _donated_positions(self, args) -> list:
        """Flat leaf positions of the donated positional arguments."""
        positions, start = [], 0
        static = set(self.static_argnums)
        for i, a in enumerate(args):
            if i in static:
                continue
            n = len(tree_util.tree_leaves(a))
            if i in self.donate_argnums or (i - len(args)) in self.donate_argnums:
                positions.extend(range(start, start + n))
            start += n
        return positions

    # -- staged inspection ------------------------------------------------------------
    def trace(self, *args, **kwargs) -> Traced:
        entry, flat = self._entry(args, kwargs)
        return Traced(self, entry, flat)

    def lower(self, *args, **kwargs) -> Lowered:
        return self.trace(*args, **kwargs).lower()

    def eval_shape(self, *args, **kwargs):
        from fx.api import eval_shape
        return eval_shape(self, *args, **kwargs)

    def clear_cache(self):
        self._cache.clear()
        self._fast_cache.clear()

    def _cache_size(self) -> int:
        return len(self._cache)


_KEY_PARTS = ("argument structure", "argument shapes/dtypes/weak types",
              "static positional arguments", "static keyword arguments", "configuration",
              "bound pmap axes")


def _explain_miss(name: str, key: tuple, previous: list) -> None:
    """Print what made this call miss the cache (against the closest earlier key)."""
    closest = min(previous, key=lambda old: sum(a != b for a, b in zip(old, key)))
    diffs = [f"  {part}: was {old!r}, now {new!r}"
             for part, old, new in zip(_KEY_PARTS, closest, key) if old != new]
    print(f"fx: TRACING CACHE MISS for {name}, because:\n" + "\n".join(diffs))


def _safe_signature(fun):
    try:
        return inspect.signature(fun)
    except (TypeError, ValueError):
        return None


def _resolve_static(signature, static_argnums, static_argnames):
    nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
    for n in nums:
        if not isinstance(n, (int, np.integer)):
            raise TypeError(f"static_argnums must be ints, got {n!r}")
    if signature is not None:
        params = list(signature.parameters.values())
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY,
                                                       p.POSITIONAL_OR_KEYWORD)]
        has_varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
        nums = tuple(n % len(positional) if n < 0 and positional else n for n in nums)
        if not has_varargs:
            for n in nums:
                if n >= len(positional):
                    raise ValueError(f"jitted function has static_argnums={nums} but only "
                                     f"accepts {len(positional)} positional arguments")
        # names given as static also make their positions static, and vice versa
        extra_nums = tuple(i for i, p in enumerate(positional) if p.name in names)
        extra_names = tuple(positional[n].name for n in nums if n < len(positional))
        nums = tuple(sorted(set(nums) | set(extra_nums)))
        names = tuple(sorted(set(names) | set(extra_names)))
    return tuple(sorted(set(nums))), names


def jit(fun: Callable | None = None, *, static_argnums=(), static_argnames=(),
        donate_argnums=(), donate_argnames=(), inline: bool = False,
        keep_unused: bool = False, device=None, backend=None, in_shardings=None,
        out_shardings=None, abstracted_axes=None):
    """Compile ``fun`` for the types of its arguments; later calls reuse the compilation.

    Args:
      fun: the function (``jit`` also works as a decorator with keyword arguments).
      static_argnums / static_argnames: arguments treated as compile-time constants
        (they must be hashable; each new value compiles again).
      donate_argnums: arguments whose buffers may be reused for outputs.
      inline: inline the function into an enclosing trace instead of a ``jit`` call.

    Example:
      >>> f = fx.jit(lambda x: x * 2 + 1)
      >>> f(fx.numpy.arange(3.0))
      Array([1., 3., 5.], dtype=float32)
    """
    if fun is None:
        return functools.partial(jit, static_argnums=static_argnums,
                                 static_argnames=static_argnames,
                                 donate_argnums=donate_argnums, inline=inline,
                                 keep_unused=keep_unused, device=device, backend=backend)
    return JitWrapped(fun, static_argnums, static_argnames, donate_argnums, donate_argnames,
                      inline, keep_unused, device, backend)


def _prepare_compiler() -> None:
    """Load the CPU compiler's runtime when fx is imported rather than in the first jitted
    call: LLVM's library (most of the cost, about 30 ms), the target machine and the
    cache fingerprints. A first call whose program is in the disk cache then only
    traces, reads the plan and links the object code. Failures are left for
    ``compile_jaxpr`` to meet (it falls back to the reference interpreter)."""
    if not _use_compiler():
        return
    try:
        import importlib
        importlib.import_module("lowering.cpu.compile").prepare()
    except Exception as e:  # noqa: BLE001  (import fx never fails for the compiler's sake)
        if os.environ.get("FX_DEBUG"):
            print(f"fx: the CPU compiler could not be prepared ({type(e).__name__}: {e})")


_prepare_compiler()

# the staged forms of a jitted function (``.trace``, ``.lower``, ``.compile``)
from fx.interpreters.jit_stages import Compiled, Lowered, Traced  # noqa: E402,F401
