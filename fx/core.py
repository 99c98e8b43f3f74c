"""The IR (jaxprs) and the trace machinery; abstract values (fx/avals.py), source
information (fx/source_info.py) and printing (fx/pretty_print.py) are re-exported here.

Invariants: the current trace lives in a ``contextvar``; ``Primitive.bind``
hands its arguments to that trace, which either evaluates (``EvalTrace``) or
wraps them in its own tracers. A tracer belongs to exactly one trace and is
only valid while that trace is alive. This module knows no primitive: rules
live on the ``Primitive`` objects defined in ``primitives/``.
"""
from __future__ import annotations

import contextlib
import contextvars
import itertools
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from fx import dtypes
# re-exported: abstract values live in fx/avals.py, the user's frame in fx/source_info.py
from fx.avals import ShapeDtypeStruct, ShapedArray, _check_int_range, get_aval  # noqa: F401
from fx.config import config
from fx.errors import (ConcretizationTypeError, TracerArrayConversionError,
                       TracerBoolConversionError, TracerIntegerConversionError,
                       UnexpectedTracerError)
from fx.source_info import user_frame

# ---------------------------------------------------------------------------
# The IR


class Var:
    """A variable of a jaxpr, typed by its aval. Printed names are assigned late."""

    __slots__ = ("aval", "count")
    _counter = itertools.count()

    def __init__(self, aval: ShapedArray):
        self.aval = aval
        self.count = next(Var._counter)

    def __repr__(self):
        return f"Var({self.count}:{self.aval.str_short()})"


class DropVar(Var):
    """An output nobody reads; printed ``_``."""

    __slots__ = ()


class Literal:
    """A scalar constant written inline in a jaxpr: ``2.0:f32[]``. ``val`` is in the
    literal's dtype; ``source``, when known, is the Python scalar the program wrote (what
    JAX's literals hold and print)."""

    __slots__ = ("val", "aval", "_weak", "source")

    def __init__(self, val, aval: ShapedArray, source=None):
        self.val = val
        self.aval = aval
        self._weak = None   # literal_value's weakly typed Array, made on first use
        self.source = source

    def __repr__(self):
        return f"Literal({self.val})"


class JaxprEqn:
    """``outvars = primitive[params] invars``, with the user's source line."""

    __slots__ = ("invars", "outvars", "primitive", "params", "source_info")

    def __init__(self, invars, outvars, primitive, params, source_info=None):
        self.invars = list(invars)
        self.outvars = list(outvars)
        self.primitive = primitive
        self.params = params
        self.source_info = source_info

    def replace(self, **kw) -> JaxprEqn:
        fields = {s: getattr(self, s) for s in self.__slots__}
        fields.update(kw)
        return JaxprEqn(**fields)

    def __repr__(self):
        from fx.pretty_print import Namer
        return pp_eqn(self, Namer(), 0)


class Jaxpr:
    """A typed, closed-over-nothing program: constvars, invars, equations, outvars."""

    __slots__ = ("constvars", "invars", "outvars", "eqns", "debug_info")

    def __init__(self, constvars, invars, outvars, eqns, debug_info=None):
        self.constvars = list(constvars)
        self.invars = list(invars)
        self.outvars = list(outvars)
        self.eqns = list(eqns)
        self.debug_info = debug_info

    in_avals = property(lambda self: [v.aval for v in self.invars])
    out_avals = property(lambda self: [v.aval for v in self.outvars])

    def __str__(self):
        return self.pretty_print()

    __repr__ = __str__

    def pretty_print(self, source_info: bool = False) -> str:
        """The jaxpr in JAX's text form (``source_info`` adds each equation's user line)."""
        from fx.pretty_print import Namer
        return pp_jaxpr(self, Namer(), 0, source_info=source_info)


class ClosedJaxpr:
    """A jaxpr together with the values of its constvars."""

    __slots__ = ("jaxpr", "consts", "__weakref__")

    def __init__(self, jaxpr: Jaxpr, consts: Sequence[Any]):
        assert len(jaxpr.constvars) == len(consts)
        self.jaxpr = jaxpr
        self.consts = list(consts)

    in_avals = property(lambda self: self.jaxpr.in_avals)
    out_avals = property(lambda self: self.jaxpr.out_avals)
    eqns = property(lambda self: self.jaxpr.eqns)

    def __str__(self):
        return str(self.jaxpr)

    __repr__ = __str__

    def pretty_print(self, source_info: bool = False) -> str:
        return self.jaxpr.pretty_print(source_info=source_info)

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other


# ---------------------------------------------------------------------------
# Checking


class JaxprTypeError(TypeError):
    pass


def check_jaxpr(jaxpr: Jaxpr) -> None:
    """Verify scoping (each var defined once, before use) and types of ``jaxpr``."""
    defined: set[int] = set()

    def define(v):
        if isinstance(v, DropVar):
            return
        if id(v) in defined:
            raise JaxprTypeError(f"variable {v} defined twice in\n{jaxpr}")
        defined.add(id(v))

    def read(v):
        if isinstance(v, Literal):
            return v.aval
        if id(v) not in defined:
            raise JaxprTypeError(f"variable {v} read before it is defined in\n{jaxpr}")
        return v.aval

    for v in itertools.chain(jaxpr.constvars, jaxpr.invars):
        define(v)
    for eqn in jaxpr.eqns:
        in_avals = [read(v) for v in eqn.invars]
        for sub in eqn.primitive.subjaxprs(eqn.params):
            check_jaxpr(sub.jaxpr if isinstance(sub, ClosedJaxpr) else sub)
        try:
            out = eqn.primitive.abstract_eval(*in_avals, **eqn.params)
        except Exception as e:
            raise JaxprTypeError(f"equation {eqn} fails its type rule: {e}") from e
        out = list(out) if eqn.primitive.multiple_results else [out]
        if len(out) != len(eqn.outvars):
            raise JaxprTypeError(f"equation {eqn} has {len(eqn.outvars)} outputs, "
                                 f"its rule gives {len(out)}")
        for v, aval in zip(eqn.outvars, out):
            if not _same_type(v.aval, aval):
                raise JaxprTypeError(f"equation {eqn} outputs {v.aval}, its rule gives {aval}")
            define(v)
    for v in jaxpr.outvars:
        read(v)


def _same_type(a: ShapedArray, b: ShapedArray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype


# ---------------------------------------------------------------------------
# Primitives


class Primitive:
    """A primitive operation: one object carrying all of its rules.

    Rules (all optional until a transformation needs them)::

        abstract_eval(*avals, **params) -> aval | list of avals
        impl(*arrays, **params)         -> array | list of arrays
        jvp(primals, tangents, **params) -> (primal_out, tangent_out)
        transpose(ct, *args, **params)  -> cotangents for each arg (None if not linear)
        batch(args, dims, **params)     -> (out, out_dim)
        partial_eval(trace, tracers, **params) -> tracers   (higher-order primitives)
        dce(used_outputs, eqn) -> (used_inputs, eqn computing the used outputs, or None)
    """

    multiple_results = False

    def __init__(self, name: str, *, multiple_results: bool = False,
                 hidden_params: Sequence[str] = ()):
        self.name = name
        self.multiple_results = multiple_results
        self.hidden_params = frozenset(hidden_params)
        self.abstract_eval_rule: Callable | None = None
        self.impl_rule: Callable | None = None
        self.jvp: Callable | None = None
        self.transpose: Callable | None = None
        self.batch: Callable | None = None
        self.partial_eval: Callable | None = None
        self.dce: Callable | None = None
        self.subjaxprs: Callable[[dict], list] = _no_subjaxprs
        self.weak_type_rule: Callable | None = None
        self.weak_type_param: str | None = None  # the param that states the output's weak type
        self.effectful = False
        self.pp_params: Callable[[dict], dict] | None = None
        self.param_order: tuple[str, ...] = ()

    def __repr__(self):
        return self.name

    def bind(self, *args, **params):
        return _current_trace.get().process_primitive(self, args, params)

    # registration helpers, usable as decorators
    def def_abstract_eval(self, rule):
        self.abstract_eval_rule = rule
        return rule

    def def_impl(self, rule):
        self.impl_rule = rule
        return rule

    def def_jvp(self, rule):
        self.jvp = rule
        return rule

    def def_transpose(self, rule):
        self.transpose = rule
        return rule

    def def_batch(self, rule):
        self.batch = rule
        return rule

    def abstract_eval(self, *avals, **params):
        if self.abstract_eval_rule is None:
            raise NotImplementedError(f"primitive {self.name} has no abstract_eval rule")
        return self.abstract_eval_rule(*avals, **params)

    def impl(self, *args, **params):
        if self.impl_rule is None:
            raise NotImplementedError(f"primitive {self.name} has no impl rule (eager)")
        return self.impl_rule(*args, **params)


def _no_subjaxprs(params) -> list:
    return []


def subjaxprs_from_params(params) -> list:
    """Every Jaxpr or ClosedJaxpr among ``params`` (also inside tuples)."""
    found = []
    for v in params.values():
        if isinstance(v, (Jaxpr, ClosedJaxpr)):
            found.append(v)
        elif isinstance(v, tuple):
            found.extend(x for x in v if isinstance(x, (Jaxpr, ClosedJaxpr)))
    return found


# ---------------------------------------------------------------------------
# Traces and tracers


class Trace:
    """Interprets primitives applied to its tracers. ``parent`` is the enclosing trace."""

    # staging: this trace or an enclosing one stages a jaxpr (a DynamicJaxprTrace), so a
    # value made now is a constant of the staged program (see ``fx.Array._traced``)
    __slots__ = ("parent", "alive", "creation", "staging")

    def __init__(self, parent: Trace | None):
        self.parent = parent
        self.alive = True
        self.creation = None
        self.staging = parent is not None and parent.staging

    def process_primitive(self, primitive: Primitive, args, params):
        raise NotImplementedError

    def invalidate(self):
        self.alive = False

    def __repr__(self):
        return f"{type(self).__name__}"


class EvalTrace(Trace):
    """No transformation: call the primitive's impl on concrete arrays."""

    __slots__ = ()

    def process_primitive(self, primitive, args, params):
        if _eager_route is not None and self is eval_trace:
            # the default device is not the host CPU (or not yet known): place the call
            return _eager_route(primitive, args, params)
        array_type = _array_type[0]
        vals = []
        weak = bool(args)  # an operand-less primitive (iota) makes strong values
        for a in args:
            t = type(a)
            if t is array_type:
                if a._device is not None:  # placed on a device (a GPU, a committed CPU)
                    return _eager_apply(primitive, args, params)
                vals.append(a._value)
                weak = weak and a.weak_type
            elif isinstance(a, Tracer):
                raise_leaked(a, primitive)
            else:
                if t is not int and t is not float and t is not complex:
                    weak = False
                    # a raw NumPy operand: to its canonical dtype (float64 -> float32
                    # without x64), as every other route into a primitive does
                    narrow = _NARROWED.get(getattr(a, "dtype", None))
                    if narrow is not None and not config.jax_enable_x64:
                        a = np.asarray(a, narrow)
                vals.append(a)
        try:
            out = primitive.impl_rule(*vals, **params)
        except Exception:
            # Explain with the type rule when it objects (a clear fx error naming the shape
            # or dtype); the happy path pays nothing for this.
            primitive.abstract_eval(*[get_aval(a) for a in args], **params)
            raise
        if primitive.multiple_results:
            weaks = [weak] * len(out)
            if primitive.subjaxprs is not _no_subjaxprs:  # loops, branches, calls: per
                weaks = [a.weak_type for a in primitive.abstract_eval(  # output, as typed
                    *[get_aval(a) for a in args], **params)]
            return [array_type(o if type(o) is np.ndarray else np.asarray(o), w)
                    for o, w in zip(out, weaks)]
        if primitive.weak_type_rule is not None:
            weak = primitive.weak_type_rule(args)
        elif primitive.weak_type_param is not None:
            weak = params[primitive.weak_type_param]
        if config.jax_enable_checks:
            _check_impl_result(primitive, args, params, out)
        if config.jax_debug_nans or config.jax_debug_infs:
            check_nans(primitive, out, user_frame())
        return array_type(out if type(out) is np.ndarray else np.asarray(out), weak)


def check_nans(primitive, out, source_info=None) -> None:
    """Raise FloatingPointError if ``out`` has a NaN (an inf) under jax_debug_nans (infs)."""
    for arr in (out if primitive.multiple_results else (out,)):
        arr = np.asarray(arr)
        if arr.dtype.kind not in "fc":
            continue
        where = f" (from {source_info})" if source_info else ""
        if config.jax_debug_nans and np.isnan(arr).any():
            raise FloatingPointError(
                f"invalid value (nan) encountered in {primitive.name}{where}")
        if config.jax_debug_infs and np.isinf(arr).any():
            raise FloatingPointError(
                f"invalid value (inf) encountered in {primitive.name}{where}")


def _check_impl_result(primitive, args, params, out):
    """Under FX_CHECKS, the eager result must have the type abstract_eval promises."""
    avals = [get_aval(a) for a in args]
    py = (int, float, complex)
    refs = [v for a, v in zip(args, avals) if type(a) not in py]
    ref = next((v for v in refs if v.dtype != dtypes.bool_), refs[0] if refs else None)
    if ref is not None:  # eager fast paths hand Python scalars straight to NumPy
        avals = [ShapedArray((), ref.dtype, True) if type(a) in py else v
                 for a, v in zip(args, avals)]
    expected = primitive.abstract_eval(*avals, **params)
    out = np.asarray(out)
    if out.shape != expected.shape or out.dtype != expected.dtype:
        raise JaxprTypeError(f"{primitive.name}: impl returned {out.dtype.name}{list(out.shape)}"
                             f", abstract_eval says {expected.str_short()}")


# the dtypes canonicalize_dtype narrows when 64-bit types are disabled
_NARROWED = dict(dtypes._CANONICAL_32)

eval_trace = EvalTrace(None)
# The host interpreter: the same impls without device placement, for callers that have
# already brought every operand to the host (``lowering.gpu.eager``).
host_eval_trace = EvalTrace(None)
# Eager device placement (set by fx.array and fx.devices; see lowering.gpu.eager): with
# ``_eager_route`` None, eager calls on host operands run their impl right here;
# otherwise (the default device is a GPU, or not yet resolved) every eager call goes
# through it. ``_eager_apply`` runs a call that has an operand placed on a device.
_eager_route = None
_eager_apply = None
_current_trace: contextvars.ContextVar[Trace] = contextvars.ContextVar(
    "fx_current_trace", default=eval_trace)
_array_type: list = [None]  # set by fx.array: the Array class
_wrap_array: list = [None]


def wrap_eager(value, weak_type: bool = False):
    """Wrap a NumPy result as an ``fx.Array``."""
    return _wrap_array[0](np.asarray(value), weak_type)


def _is_weak(a) -> bool:
    """Whether ``a`` is weakly typed (a weak Array or a Python scalar other than bool)."""
    if type(a) is _array_type[0]:
        return a.weak_type
    return dtypes.is_weak_scalar(a)


# Python scalars made into weak 0-d Arrays while tracing, by the Array's id: (a weak
# reference to it, the scalar); a jaxpr literal made from one keeps the scalar as source.
_scalar_sources: dict[int, tuple] = {}
_PYTHON_SCALARS = (bool, int, float, complex)


def record_python_scalar(array, value):
    """Note that the 0-d ``array`` was made from the Python scalar ``value`` unconverted
    (only while tracing: eager code pays one context-variable read); returns ``array``.
    Its literal then prints ``value`` as written, as JAX's do: ``0.1234567891234:f32[]``.
    """
    if _current_trace.get() is not eval_trace and type(value) in _PYTHON_SCALARS \
            and array.dtype == dtypes.result_type_and_weak(value)[0]:
        if len(_scalar_sources) >= 4096:
            _scalar_sources.clear()
        _scalar_sources[id(array)] = (weakref.ref(array), value)
    return array


def python_scalar_source(array):
    """The Python scalar ``array`` was made from (``record_python_scalar``), or None."""
    entry = _scalar_sources.get(id(array))
    return entry[1] if entry is not None and entry[0]() is array else None


def constant_array(x):
    """A Python or NumPy scalar or array as an ``fx.Array`` of its canonical type (weak for
    Python scalars), so every operand of a traced call has a definite type."""
    aval = get_aval(x)
    return _wrap_array[0](np.asarray(x, aval.dtype), aval.weak_type)


def current_trace() -> Trace:
    return _current_trace.get()


class set_current_trace:
    """``with set_current_trace(trace):`` makes ``trace`` current for the block."""

    __slots__ = ("trace", "token")

    def __init__(self, trace: Trace):
        self.trace = trace

    def __enter__(self) -> Trace:
        self.token = _current_trace.set(self.trace)
        return self.trace

    def __exit__(self, *exc) -> None:
        _current_trace.reset(self.token)


@contextlib.contextmanager
def new_trace(trace: Trace):
    """Make ``trace`` current for the block, then mark it dead (tracers now leak)."""
    trace.creation = user_frame()
    token = _current_trace.set(trace)
    try:
        yield trace
    finally:
        _current_trace.reset(token)
        trace.invalidate()


def raise_leaked(tracer: Tracer, primitive=None):
    where = f" (it was created inside the transformation called at {tracer._trace.creation})" \
        if tracer._trace.creation else ""
    used = f" by primitive {primitive.name}" if primitive is not None else ""
    raise UnexpectedTracerError(
        f"Encountered an unexpected tracer {tracer.aval.str_short()} from a "
        f"{type(tracer._trace).__name__} that has already finished{where}, used{used}. "
        "A function transformed by fx leaked an intermediate value, for example by "
        "storing it in a global or a closure that outlives the call. Return the value "
        "from the transformed function instead.")


class Tracer:
    """A value seen by a trace. Subclasses set ``aval`` and say how to concretize."""

    __slots__ = ("_trace",)
    __array_priority__ = 1000
    __hash__ = None  # like JAX: tracers are not hashable

    @property
    def aval(self) -> ShapedArray:
        raise NotImplementedError

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: self.aval.ndim)
    size = property(lambda self: self.aval.size)
    weak_type = property(lambda self: self.aval.weak_type)

    def to_concrete_value(self):
        """The concrete value behind this tracer, or None when it is abstract."""
        return None

    def _concrete(self, what: str, fix: str, error=ConcretizationTypeError):
        value = self.to_concrete_value()
        if value is None:
            raise error(self, what, fix)
        return value

    def __bool__(self):
        return bool(self._concrete(
            "the Python truth value (bool) of a traced array",
            "Use `fx.lax.cond` or `fx.numpy.where` for value-dependent branches, or mark "
            "the argument static with `static_argnums`/`static_argnames` in `jit`.",
            TracerBoolConversionError))

    def __int__(self):
        return int(self._concrete(
            "a traced array converted to a Python int",
            "Use `static_argnums` in `jit` for values that must be Python ints, or keep "
            "the value an array.", TracerIntegerConversionError))

    def __float__(self):
        return float(self._concrete(
            "a traced array converted to a Python float", "Keep the value an array."))

    def __complex__(self):
        return complex(self._concrete(
            "a traced array converted to a Python complex", "Keep the value an array."))

    def __index__(self):
        if not dtypes.is_integer(self.aval.dtype):
            raise TypeError(f"only integer arrays can be used as an index, got "
                            f"{self.aval.str_short()}")
        return int(self._concrete(
            "a traced array used as a Python index or shape",
            "Use `fx.lax.dynamic_slice`/`dynamic_index_in_dim` for traced indices, or "
            "mark the argument static with `static_argnums`.", TracerIntegerConversionError))

    def __array__(self, dtype=None, copy=None):
        value = self._concrete(
            "a traced array converted to a NumPy array (np.asarray)",
            "Use fx.numpy functions inside transformed code instead of NumPy ones.",
            TracerArrayConversionError)
        return np.asarray(value, dtype=dtype)

    def __len__(self):
        return len(self.aval)

    def __iter__(self):
        if not self.aval.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.aval.shape[0]))

    def __repr__(self):
        return f"Traced<{self.aval.str_short()}>with<{type(self._trace).__name__}>"

    def __setitem__(self, idx, value):
        raise TypeError(
            "fx arrays are immutable: item assignment is not supported. "
            "Use `x = x.at[idx].set(value)` instead.")


def concrete_or_error(value, what: str = "a value", fix: str = "mark it static"):
    """``value`` if it is concrete (a Python or NumPy value, or Array), else raise."""
    if isinstance(value, Tracer):
        return value._concrete(what, fix)
    return value


# ---------------------------------------------------------------------------
# Symbolic values used by the differentiation rules


class Zero:
    """A symbolic zero tangent or cotangent of type ``aval`` (no array is built)."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    @classmethod
    def from_primal_value(cls, x) -> Zero:
        return cls(get_aval(x).to_tangent_aval())

    def __repr__(self):
        return f"Zero({self.aval.str_short()})"


class UndefinedPrimal:
    """Stands for a linear input of an equation being transposed."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self):
        return f"UndefinedPrimal({self.aval.str_short()})"


def is_undefined_primal(x) -> bool:
    return type(x) is UndefinedPrimal


# ---------------------------------------------------------------------------
# Evaluating a jaxpr (the reference interpreter)


def literal_value(v: Literal):
    """The value to bind for literal ``v``: a weakly typed literal as a weakly typed
    ``fx.Array`` (so rebinding the equation keeps its result weak; made once per literal),
    any other as its NumPy value."""
    if not v.aval.weak_type or _array_type[0] is None:
        return v.val
    arr = getattr(v, "_weak", None)
    if arr is None:
        arr = v._weak = _array_type[0](np.asarray(v.val, v.aval.dtype), True)
        arr._traced = True  # a literal of the program: a literal again wherever rebound
    if v.source is not None:  # rebound in a trace, it stays the program's scalar
        record_python_scalar(arr, v.source)
    return arr


def eval_jaxpr(jaxpr: Jaxpr, consts: Sequence[Any], *args) -> list:
    """Run ``jaxpr`` by binding each equation's primitive in the current trace."""
    env: dict[int, Any] = {}

    def read(v):
        return literal_value(v) if isinstance(v, Literal) else env[id(v)]

    for v, x in zip(jaxpr.constvars, consts):
        env[id(v)] = x
    if len(args) != len(jaxpr.invars):
        raise TypeError(f"jaxpr takes {len(jaxpr.invars)} arguments, got {len(args)}")
    for v, x in zip(jaxpr.invars, args):
        env[id(v)] = x
    for eqn in jaxpr.eqns:
        outs = eqn.primitive.bind(*[read(v) for v in eqn.invars], **eqn.params)
        if not eqn.primitive.multiple_results:
            outs = (outs,)
        for v, x in zip(eqn.outvars, outs):
            env[id(v)] = x
    return [read(v) for v in jaxpr.outvars]


def jaxpr_as_fun(closed: ClosedJaxpr) -> Callable:
    return lambda *args: eval_jaxpr(closed.jaxpr, closed.consts, *args)


# Printing lives in fx/pretty_print.py; its names are re-exported for the lowering passes.
from fx.pretty_print import Namer as _Namer, pp_eqn, pp_jaxpr  # noqa: E402,F401
