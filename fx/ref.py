"""Mutable array references (``fx.new_ref``, ``fx.Ref``), as ``jax.ref``.

Design: refs are *functionalized at trace time*. A ``Ref`` holds the current value of its
buffer (an ``fx.Array`` eagerly, a tracer inside a transformation); reading ``ref[idx]``
indexes that value and writing ``ref[idx] = v`` replaces it with an updated value built from
``dynamic_update_slice``/``scatter`` (``.at[idx].set``). So no primitive knows about refs and
every transformation works unchanged: a jaxpr shows the functional updates where JAX's shows
``new_ref``/``ref[idx] <- v`` effects. A ref closed over by a control-flow body (``cond``,
``switch``, ``while_loop``, ``fori_loop``, ``scan``) is *captured* by the body's trace: the
body sees its own view of the ref, and a ref the body writes becomes an extra carry of the
loop (an extra operand and result of ``cond``), written back after the loop
(``fx/_ref_scope.py``); printed jaxprs show those carries where JAX shows ``Ref{...}``
consts. The same capture makes a ref closed over by ``fx.jit`` an extra input of the jitted
call (its current value on every call) and, when written, an extra output written back
after the call (``fx/_ref_jit.py``); likewise for ``fx.checkpoint`` (extra ``remat2``
operands/results) and for the primal function of a ``custom_jvp``/``custom_vjp`` (extra
leading consts of ``custom_jvp_call``/``custom_vjp_call``, and extra outputs for the refs
it writes; the custom rules read and write refs directly where they run, so under
``grad`` the rules' writes happen and the primal's do not, as in JAX). ``.trace``,
``.lower`` and ``.compile`` of a jitted function closing over refs give a ``Compiled``
that passes the refs' current values and writes them back on each call. Under ``vmap``
no write into an outer (unbatched) ref is allowed, batched value or not (JAX's rule). A
``while_loop`` whose ``cond_fun`` writes a ref carries it, with JAX 0.10's semantics: the
writes of the last ``cond_fun`` call (the one returning False) are dropped.
``fx.make_jaxpr`` shows a closed-over ref as a leading constvar holding its value when
traced, and each written ref's final value as a trailing output (nothing is written
back: tracing runs nothing). ``fx.vmap`` of a function taking refs
batches each ref's value along its in_axis and writes the batched final value back
(``fx/_ref_vmap.py``).

Invariants: a ref belongs to the trace current when it was created; its value lives at that
trace's level, or at the level of the innermost control-flow body that captured it (a write
from an inner trace must be independent of that trace: no vmapped or differentiated value
into an outer ref, as JAX refuses); a ref passed to ``fx.jit`` becomes an extra input and
output of the compiled call and its final value is written back after the call
(``fx/_ref_jit.py``), and so does a ref a jitted (or checkpointed, ``make_jaxpr``-traced
or custom-derivative or checkify-ed) function closes over; other staging traces
(pmap, custom_linear_solve, ...) refuse outer refs, whose value would otherwise be
baked in (``_ref_scope.trace_reading_refs`` lets such a trace read them).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from fx import core, dtypes
from fx._ref_scope import RefScopeTrace
from fx.core import ShapedArray, Tracer
from fx.errors import UnexpectedTracerError

__all__ = ["AbstractRef", "Ref", "Slice", "addupdate", "ds", "empty_ref", "free_ref",
           "freeze", "get", "new_ref", "set", "swap"]

_KINDS = (None, "no_grad_no_remat")


class AbstractRef:
    """The type of a ``Ref``: the shape and dtype of the array it holds (``Ref{f32[3]}``)."""

    __slots__ = ("inner_aval", "memory_space", "kind")

    def __init__(self, inner_aval: ShapedArray, memory_space=None, kind=None):
        self.inner_aval = inner_aval
        self.memory_space = memory_space
        self.kind = kind

    shape = property(lambda self: self.inner_aval.shape)
    dtype = property(lambda self: self.inner_aval.dtype)
    ndim = property(lambda self: self.inner_aval.ndim)
    size = property(lambda self: self.inner_aval.size)
    weak_type = property(lambda self: self.inner_aval.weak_type)

    def str_short(self) -> str:
        return f"Ref{{{self.inner_aval.str_short()}}}"

    def __repr__(self):
        return f"Ref{{{self.dtype.name}[{','.join(map(str, self.shape))}]}}"

    def __eq__(self, other):
        return type(other) is AbstractRef and self.inner_aval == other.inner_aval

    def __hash__(self):
        return hash(("Ref", self.inner_aval))


# ---------------------------------------------------------------------------
# fx.ds: a slice with a (possibly traced) start and a static size


class Slice:
    """``size`` elements from ``start`` (an int or a traced integer scalar), every ``stride``.

    Made by ``fx.ds``; usable in ``Ref`` indexing (and ``fx.numpy`` arrays through
    ``fx.lax.dynamic_slice`` semantics: a traced start is clamped into bounds)."""

    __slots__ = ("start", "size", "stride")

    def __init__(self, start, size: int, stride: int = 1):
        if not isinstance(size, (int, np.integer)) or size < 0:
            raise TypeError(f"ds: size must be a non-negative static int, got {size!r}")
        if not isinstance(stride, (int, np.integer)) or stride < 1:
            raise ValueError(f"ds: stride must be a positive static int, got {stride!r}")
        self.start, self.size, self.stride = start, int(size), int(stride)

    is_dynamic_start = property(lambda self: not isinstance(self.start, (int, np.integer)))
    is_dynamic_size = property(lambda self: False)

    @classmethod
    def from_slice(cls, s: slice, dim: int) -> Slice:
        start, stop, step = s.indices(dim)
        if step < 1:
            raise ValueError(f"a Ref slice needs a positive step, got {s}")
        return cls(start, max(0, -(-(stop - start) // step)), step)

    def tree_flatten(self):
        return (self.start,), (self.size, self.stride)

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(children[0], *aux)

    def __repr__(self):
        return f"Slice(start={self.start!r}, size={self.size}, stride={self.stride})"


def _register_slice() -> None:
    from fx import tree_util
    tree_util.register_pytree_node(Slice, lambda s: ((s.start,), (s.size, s.stride)),
                                   lambda aux, children: Slice(children[0], *aux))


_register_slice()


def ds(start, size=None, stride=None):
    """A slice with a dynamic start: ``ds(i, n)`` is ``i:i+n``, ``ds(i, n, s)`` strides by s.

    ``ds(None)`` is ``:`` and ``ds(n)`` is ``0:n``, as ``jax.ds``. The start may be a traced
    integer (so ``x[fx.ds(i, 2)]`` works under ``jit`` where ``x[i:i+2]`` cannot); the size
    must be static.

    Args:
      start: the first index (int, integer scalar array or tracer), or None.
      size: the number of elements (a static int).
      stride: the step between elements (a static positive int; default 1).

    Returns:
      A ``Slice`` (or the builtin ``slice(None)`` for ``ds(None)``).

    Example:
      >>> x = fx.numpy.arange(10)
      >>> fx.jit(lambda x, i: x[fx.ds(i, 2)])(x, 4)
      Array([4, 5], dtype=int32)
    """
    if start is None and size is None:
        return slice(None)
    if size is None:
        start, size = 0, start
    return Slice(start, size, 1 if stride is None else stride)


# ---------------------------------------------------------------------------
# indexing a value (the functional view of a ref read or write)


def _as_tuple(idx) -> tuple:
    if idx is None:
        return ()
    return idx if isinstance(idx, tuple) else (idx,)


def _consumed(entry) -> int:
    """How many array axes one index entry consumes."""
    if entry is None or entry is Ellipsis:
        return 0
    dtype = getattr(entry, "dtype", None)
    if dtype is not None and np.dtype(dtype) == np.bool_:
        return int(np.ndim(entry)) if not isinstance(entry, Tracer) else entry.ndim
    return 1


def _axes(idx: tuple, ndim: int) -> list:
    """The array axis each index entry starts at (None for ``None``/``Ellipsis``)."""
    n_ellipsis = sum(e is Ellipsis for e in idx)
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(_consumed(e) for e in idx)
    if used > ndim:
        raise IndexError(f"Too many indices for a Ref of rank {ndim}: {used} were indexed")
    axes, axis = [], 0
    for e in idx:
        if e is Ellipsis:
            axes.append(None)
            axis += ndim - used
        elif e is None:
            axes.append(None)
        else:
            axes.append(axis)
            axis += _consumed(e)
    return axes


def _check_static(idx: tuple, axes: list, shape: tuple) -> None:
    """Static integer and ``ds`` indices must lie in bounds (as JAX checks for refs)."""
    for e, ax in zip(idx, axes):
        if ax is None:
            continue
        dim = shape[ax]
        if isinstance(e, (int, np.integer)) and not isinstance(e, bool):
            if not -dim <= e < dim:
                raise IndexError(f"Out of bound indexer: idx={e}, dim={dim} (axis {ax})")
        elif isinstance(e, Slice) and not e.is_dynamic_start:
            end = e.start + (e.size - 1) * e.stride + 1 if e.size else e.start
            if e.start < 0 or end > dim:
                raise ValueError(f"Out of bound slice: start={e.start}, size={e.size}, "
                                 f"stride={e.stride}, dim={dim}.")


def _shape_entry(e):
    """A stand-in for index entry ``e`` with the same effect on the result's shape."""
    if isinstance(e, Slice):
        return slice(None)
    if isinstance(e, (Tracer, core._array_type[0])) or hasattr(e, "__jax_array__"):
        aval = core.get_aval(e)
        if aval.dtype == np.bool_:
            return np.ones(aval.shape, bool)
        return np.zeros(aval.shape, np.intp) if aval.shape else 0
    return e


def indexed_shape(shape: tuple, idx) -> tuple:
    """The shape of ``value[idx]`` for a value of ``shape`` (``fx.ds`` entries included)."""
    idx = _as_tuple(idx)
    axes = _axes(idx, len(shape))
    _check_static(idx, axes, shape)
    dummy_shape = list(shape)
    for e, ax in zip(idx, axes):
        if isinstance(e, Slice):
            dummy_shape[ax] = e.size
    dummy = np.broadcast_to(np.zeros((), np.int8), dummy_shape)
    return dummy[tuple(_shape_entry(e) for e in idx)].shape


def _region(value, idx: tuple, axes: list, cut: bool = True):
    """``value`` cut to the ``fx.ds`` windows of ``idx`` (dynamic slices; uncut when
    ``cut`` is false), the index that finishes the job on that region, and each axis's
    window start."""
    from fx import lax
    starts = [0] * len(core.get_aval(value).shape)
    rest = []
    for e, ax in zip(idx, axes):
        if isinstance(e, Slice):
            span = (e.size - 1) * e.stride + 1 if e.size else 0
            if cut:
                value = lax.dynamic_slice_in_dim(value, e.start, span, ax)
            starts[ax] = e.start
            rest.append(slice(None, None, e.stride))
        else:
            rest.append(e)
    return value, tuple(rest), starts


def _is_whole(idx: tuple) -> bool:
    return idx == () or idx == (Ellipsis,)


def get_value(value, idx):
    """``value[idx]`` where ``idx`` may hold ``fx.ds`` slices."""
    idx = _as_tuple(idx)
    if _is_whole(idx):
        return value
    shape = core.get_aval(value).shape
    axes = _axes(idx, len(shape))
    _check_static(idx, axes, shape)
    if any(isinstance(e, Slice) for e in idx):
        value, idx, _ = _region(value, idx, axes)
    return value[idx]


def set_value(value, idx, update):
    """``value`` with ``value[idx]`` replaced by ``update`` (shapes already checked)."""
    idx = _as_tuple(idx)
    if _is_whole(idx):
        return update
    axes = _axes(idx, len(core.get_aval(value).shape))
    if not any(isinstance(e, Slice) for e in idx):
        return value.at[idx].set(update)
    from fx import lax
    _, rest, starts = _region(value, idx, axes, cut=False)
    if len(rest) == len(starts) and all(e in (slice(None), slice(None, None, 1))
                                        for e in rest):
        region = update  # the windows are exactly the update
    else:
        region = _region(value, idx, axes)[0].at[rest].set(update)
    return lax.dynamic_update_slice(value, region, tuple(starts))


# ---------------------------------------------------------------------------
# the trace a ref lives at


def _staging_types():
    from fx.interpreters.partial_eval import DynamicJaxprTrace
    return DynamicJaxprTrace


def _path_to(ref_trace) -> list | None:
    """The traces from the current one up to (excluding) ``ref_trace``, or None when
    ``ref_trace`` is not the current trace or one of its ancestors."""
    path, t = [], core.current_trace()
    while t is not None and t is not ref_trace:
        path.append(t)
        t = t.parent
    return path if t is ref_trace else None


def _escaped(ref: Ref) -> UnexpectedTracerError:
    where = f" (created inside the transformation called at {ref._trace.creation})" \
        if ref._trace.creation else ""
    return UnexpectedTracerError(
        f"Encountered a mutable array reference {ref.aval!r} created inside a "
        f"transformation ({type(ref._trace).__name__}) that has already finished{where}. "
        "A Ref created inside a transformed function cannot be used after the function "
        "returns (a Ref escaped its trace): return its value (ref[...] or fx.freeze(ref)) "
        "instead.")


def _lower(x, ref: Ref, what: str, level=None):
    """``x`` as a value of the ref's trace level (or of ``level``, the control-flow body
    whose view of the ref is written), or an error naming why it cannot be."""
    from fx.interpreters.ad import JVPTracer
    from fx.interpreters.batching import BatchTracer
    if not isinstance(x, Tracer):
        return x
    if not x._trace.alive:
        core.raise_leaked(x)
    t = ref._trace if level is None else level
    while t is not None:  # a tracer of the ref's own trace or of an enclosing one is fine
        if x._trace is t:
            return x
        t = t.parent
    kind = type(x._trace).__name__
    if isinstance(x, BatchTracer):
        detail = (f"performing a {what} operation with vmapped value on an unbatched "
                  f"array reference of type {ref.aval!r}. Move the array reference to be "
                  "an argument to the vmapped function?")
    elif isinstance(x, JVPTracer) or kind == "JaxprTrace":
        detail = (f"performing a {what} operation with a differentiated value on a "
                  f"non-differentiated array reference of type {ref.aval!r}. Move the "
                  "array reference to be an argument of the differentiated function?")
    else:
        detail = (f"performing a {what} operation inside a staged function that cannot "
                  "close over refs (pmap, custom_linear_solve, checkify, ...) on an array "
                  f"reference of type {ref.aval!r} created outside it. fx refs are "
                  "functionalized: write the ref after that function returns.")
    raise TypeError(detail)


def _check_not_vmapped(ref: Ref, what: str, holder) -> None:
    """JAX refuses *every* write into an unbatched ref from inside ``vmap`` (the ref was
    created outside the vmapped function and not passed to it), whatever the value: so
    does fx, before anything is written."""
    from fx.interpreters.batching import BatchTrace
    t, stop = core.current_trace(), ref._trace if holder is None else holder
    while t is not None and t is not stop:
        if isinstance(t, BatchTrace):
            raise TypeError(
                f"performing a {what} operation with vmapped value on an unbatched array "
                f"reference of type {ref.aval!r}: the ref was created outside the vmapped "
                "function, and (as in JAX) no value may be written into it under vmap, "
                "batched or not. Move the array reference to be an argument to the vmapped "
                "function?")
        t = t.parent


class Ref:
    """A mutable array reference (``jax.Ref``): ``ref[idx]`` reads, ``ref[idx] = v`` writes.

    Create one with ``fx.new_ref`` or ``fx.empty_ref``; ``fx.freeze`` returns the final
    value and invalidates the ref. Writes must match the indexed shape and the ref's dtype
    exactly (Python scalars of the same kind are cast), as JAX requires.

    Example:
      >>> ref = fx.new_ref(fx.numpy.arange(5))
      >>> ref[3] = 100
      >>> ref[...]
      Array([  0,   1,   2, 100,   4], dtype=int32)
    """

    __slots__ = ("_value", "_aval", "_trace", "_state", "__weakref__")
    __array_priority__ = 200

    def __init__(self, value, aval: AbstractRef, trace):
        self._value = value
        self._aval = aval
        self._trace = trace
        self._state = "live"

    # -- type ---------------------------------------------------------------
    aval = property(lambda self: self._aval)
    shape = property(lambda self: self._aval.shape)
    dtype = property(lambda self: self._aval.dtype)
    ndim = property(lambda self: self._aval.ndim)
    size = property(lambda self: self._aval.size)
    weak_type = property(lambda self: self._aval.weak_type)

    @property
    def sharding(self):
        from fx.sharding import SingleDeviceSharding
        from fx.devices import default_device
        return SingleDeviceSharding(default_device())

    def __len__(self):
        if not self._aval.shape:
            raise TypeError("len() of unsized object")
        return self._aval.shape[0]

    # -- access ---------------------------------------------------------------
    def _locate(self, what: str):
        """(holder, value): the innermost control-flow body trace whose view of this ref
        the current trace sees (None for the ref's own value) and that view's value.
        Every body between the current trace and the ref's trace captures the ref."""
        if self._state != "live":
            how = "fx.freeze" if self._state == "frozen" else "fx.free_ref"
            raise RuntimeError(f"cannot {what} a mutable array reference {self._aval!r} "
                               f"after it was invalidated by {how}")
        if not self._trace.alive:
            raise _escaped(self)
        path = _path_to(self._trace)
        if path is None:
            raise _escaped(self)
        if not path:
            return None, self._value
        scopes = [t for t in path if type(t) is RefScopeTrace]
        if len(scopes) < len(path) and self._trace is core.eval_trace:
            staging = _staging_types()
            if any(isinstance(t, staging) and type(t) is not RefScopeTrace for t in path):
                raise TypeError(
                    f"cannot {what} the mutable array reference {self._aval!r} inside this "
                    "staged function (pmap, custom_linear_solve, custom_root, "
                    "linear_transpose, ...): it was created outside and is closed over. fx "
                    "refs are functionalized, and only fx.jit, fx.checkpoint, make_jaxpr, "
                    "checkify, custom_jvp/custom_vjp functions and control-flow bodies may "
                    "close over refs: pass the Ref's value (ref[...]) as an argument instead.")
        holder, value = None, self._value
        for scope in reversed(scopes):  # outermost first: each sees the enclosing view
            holder = scope
            value = scope.view(self, value).value
        return holder, value

    def _live_value(self, what: str):
        return self._locate(what)[1]

    def __getitem__(self, idx):
        return get_value(self._live_value("read"), idx)

    def get(self, idx=()):
        return self[idx]

    def __setitem__(self, idx, value):
        self._write(idx, value, "set")

    def _checked_update(self, idx, value, what: str, level=None):
        """``value`` cast and checked for a write at ``idx`` (lowered to the ref's level,
        or to ``level``: the control-flow body whose view is written)."""
        idx = _as_tuple(idx)
        expected = indexed_shape(self.shape, idx)
        if isinstance(value, Ref):
            raise TypeError("cannot store a Ref into a Ref; read it first with ref[...]")
        try:
            v_aval = core.get_aval(value)
        except TypeError:
            raise TypeError(f"Invalid value for `{what}`: expected an array, got "
                            f"{type(value).__name__}") from None
        dtype = self.dtype
        if v_aval.dtype != dtype:
            same_kind = (dtypes.is_integer(v_aval.dtype) and dtypes.is_integer(dtype)) or (
                v_aval.dtype.kind == dtype.kind and dtype.kind in "fc")
            if not (v_aval.weak_type and same_kind):
                raise ValueError(f"Invalid dtype for `{what}`. Ref dtype: {dtype.name}. "
                                 f"Value dtype: {v_aval.dtype.name}.")
        if tuple(v_aval.shape) != tuple(expected):
            raise ValueError(f"Invalid shape for `{what}`. Ref shape: {self.shape}. "
                             f"Expected shape: {expected}. Value shape: {v_aval.shape}.")
        value = _lower(value, self, what, level)
        idx = tuple(Slice(_lower(e.start, self, what, level), e.size, e.stride)
                    if isinstance(e, Slice) else _lower(e, self, what, level) for e in idx)
        return idx, value

    def _cast(self, value):
        """``value`` as an array of the ref's dtype and weak type (a ref keeps its type)."""
        if core.get_aval(value).dtype != self.dtype or not isinstance(
                value, (Tracer, core._array_type[0])):
            from fx import lax
            value = lax.convert_element_type(value, self.dtype)
        if core.get_aval(value).weak_type != self.weak_type:
            from fx.lax import _lax
            value = _lax._convert_element_type(value, self.dtype, weak_type=self.weak_type)
        return value

    def _write(self, idx, value, what: str, combine=None):
        holder, old = self._locate("write")
        idx, value = self._checked_update(idx, value, what, holder)
        _check_not_vmapped(self, what, holder)
        with core.set_current_trace(self._trace if holder is None else holder):
            previous = get_value(old, idx) if combine is not None or what == "swap" \
                else None
            update = combine(previous, value) if combine is not None else value
            new = set_value(old, idx, self._cast(update))
        if holder is None:
            self._value = new
        else:
            holder.ref_views[self].value = new
        return previous

    def swap(self, idx, value):
        """Write ``value`` at ``idx`` and return what was there."""
        return self._write(idx, value, "swap")

    def addupdate(self, x, idx=()):
        """``ref[idx] += x`` in one step (as ``jax.Ref.addupdate``)."""
        self._write(idx, x, "addupdate", combine=lambda old, new: old + new)

    @property
    def at(self):
        raise NotImplementedError("Ref.at is not implemented (nor in JAX 0.10.2); index "
                                  "the ref directly: ref[idx] = value")

    # -- conversion -----------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"a mutable array reference {self._aval!r} is not an array: read it "
                        "with ref[...] (or fx.freeze(ref)) first")

    def __jax_array__(self):
        raise TypeError(f"a mutable array reference {self._aval!r} is not an array: it "
                        "cannot be returned from a transformed function, differentiated "
                        "with respect to, or used where an array is expected; read it with "
                        "ref[...] (or fx.freeze(ref)) first")

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d Ref")
        return (self[i] for i in range(self.shape[0]))

    def __bool__(self):
        return True

    __hash__ = object.__hash__

    def __repr__(self):
        if self._state != "live":
            return f"Ref<{self._state}>{{{self._aval.inner_aval.str_short()}}}"
        v = self._value
        if isinstance(v, Tracer):
            return f"Ref{{{self._aval.inner_aval.str_short()}}}with<{type(v._trace).__name__}>"
        text = repr(v)
        return "Ref" + text[len("Array"):] if text.startswith("Array") else f"Ref({text})"

    __str__ = __repr__


# ---------------------------------------------------------------------------
# the public functions


def _make(value, aval: AbstractRef) -> Ref:
    return Ref(value, aval, core.current_trace())


def new_ref(init_val: Any, *, memory_space: Any = None, kind: str | None = None) -> Ref:
    """Create a mutable array reference holding ``init_val`` (as ``jax.new_ref``).

    Args:
      init_val: the initial contents: an ``fx.Array``, NumPy array, Python scalar or a
        traced value (the ref then belongs to that transformation).
      memory_space: an optional ``fx.memory.Space`` (fx has one memory: recorded only).
      kind: ``None`` or ``'no_grad_no_remat'``.

    Returns:
      A ``Ref`` whose reads see every earlier write.

    Example:
      >>> ref = fx.new_ref(fx.numpy.zeros(3))
      >>> ref[1] = 2.0
      >>> fx.freeze(ref)
      Array([0., 2., 0.], dtype=float32)
    """
    if kind not in _KINDS:
        raise ValueError(f"new_ref: kind must be None or 'no_grad_no_remat', got {kind!r}")
    if isinstance(init_val, Ref):
        raise TypeError("new_ref: init_val is already a Ref; pass ref[...] to copy it")
    if not isinstance(init_val, (Tracer, core._array_type[0])) and hasattr(
            init_val, "__jax_array__"):
        init_val = init_val.__jax_array__()
    if isinstance(init_val, (Tracer, core._array_type[0])):
        value = init_val  # immutable: no copy needed
    elif isinstance(init_val, (bool, int, float, complex, np.ndarray, np.generic)):
        aval = core.get_aval(init_val)  # copied: a NumPy array could change under the ref
        value = core._wrap_array[0](np.array(init_val, dtype=aval.dtype, copy=True),
                                    aval.weak_type)
    else:
        raise TypeError(f"Error interpreting argument to new_ref as an fx value: got "
                        f"{type(init_val).__name__}; expected an array or a scalar")
    aval = core.get_aval(value)
    return _make(value, AbstractRef(aval, memory_space, kind))


def empty_ref(ty, memory_space=None) -> Ref:
    """A ref of type ``ty`` (anything with ``shape`` and ``dtype``: ``fx.ShapeDtypeStruct``,
    an aval or an array) whose contents are unspecified until written (fx fills zeros).

    Example:
      >>> ref = fx.empty_ref(fx.ShapeDtypeStruct((2,), fx.numpy.float32))
      >>> ref[...] = fx.numpy.ones(2)
    """
    if isinstance(ty, Ref):
        ty = ty.aval
    if isinstance(ty, AbstractRef):
        ty = ty.inner_aval
    shape, dtype = getattr(ty, "shape", None), getattr(ty, "dtype", None)
    if shape is None or dtype is None:
        raise TypeError(f"empty_ref: ty must have a shape and a dtype (e.g. "
                        f"fx.ShapeDtypeStruct), got {type(ty).__name__}: {ty!r}")
    from fx import lax
    dtype = dtypes.canonicalize_dtype(dtype)
    value = lax.full(tuple(shape), np.zeros((), dtype)[()], dtype)
    return _make(value, AbstractRef(ShapedArray(tuple(shape), dtype), memory_space, None))


def _check_ref(ref, fn: str) -> Ref:
    if not isinstance(ref, Ref):
        raise TypeError(f"{fn} expects an fx.Ref, got {type(ref).__name__}")
    return ref


def _check_owner(ref: Ref, holder, what: str) -> None:
    if holder is not None:
        raise TypeError(f"cannot {what} the mutable array reference {ref.aval!r} inside a "
                        "control-flow body (cond, switch, while_loop, fori_loop, scan) or a "
                        "jitted/checkpointed function: it was created outside and is closed "
                        f"over; {what} it after the call instead")


def freeze(ref: Ref):
    """Invalidate ``ref`` and return its final value as an array (as ``jax.freeze``).

    Example:
      >>> ref = fx.new_ref(fx.numpy.arange(3))
      >>> ref[0] = 7
      >>> fx.freeze(ref)
      Array([7, 1, 2], dtype=int32)
    """
    holder, value = _check_ref(ref, "freeze")._locate("freeze")
    _check_owner(ref, holder, "freeze")
    ref._state = "frozen"
    return value


def free_ref(ref: Ref) -> None:
    """Invalidate ``ref``: later reads and writes raise (as ``jax.free_ref``)."""
    holder, _ = _check_ref(ref, "free_ref")._locate("free")
    _check_owner(ref, holder, "free")
    ref._state = "freed"
    ref._value = None


def get(ref: Ref, idx=None):
    """``ref[idx]`` (``idx=None`` reads the whole ref)."""
    return _check_ref(ref, "get")[() if idx is None else idx]


def set(ref: Ref, idx, value) -> None:  # noqa: A001  (jax.ref.set)
    """``ref[idx] = value``."""
    _check_ref(ref, "set")[() if idx is None else idx] = value


def swap(ref: Ref, idx, value, _function_name: str = "ref_swap"):
    """Write ``value`` at ``ref[idx]`` and return the previous contents there."""
    return _check_ref(ref, "swap").swap(() if idx is None else idx, value)


def addupdate(ref: Ref, idx, x) -> None:
    """``ref[idx] += x``."""
    _check_ref(ref, "addupdate").addupdate(x, () if idx is None else idx)
