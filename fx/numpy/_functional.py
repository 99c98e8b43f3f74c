"""``fx.numpy``'s function transformers: ``apply_along_axis``/``apply_over_axes``,
``vectorize`` (with gufunc signatures), ``ufunc`` and ``frompyfunc``.

Invariants: everything is built on ``vmap`` (and ``scan``/``fori_loop`` for ufunc
reductions, accumulations and ``at``), so the wrapped Python function sees one core
slice at a time and the result still traces, differentiates and jits.
"""
from __future__ import annotations

import functools
import re


from fx import lax
from fx.core import get_aval
from fx.numpy import _core as C
from fx.numpy._core import asarray
from fx.numpy._misc import _concrete, _no_inplace

__all__ = ["apply_along_axis", "apply_over_axes", "vectorize", "map_batch_dims", "ufunc",
           "frompyfunc"]


def _dtype(x):
    return get_aval(x).dtype


def apply_along_axis(func1d, axis: int, arr, *args, **kwargs):
    """Apply ``func1d`` to every 1-d slice of ``arr`` along ``axis`` (via ``vmap``); the
    function's output dimensions replace ``axis``.

    Example:
      >>> fnp.apply_along_axis(fnp.sum, 1, fnp.ones((2, 3)))
      Array([3., 3.], dtype=float32)
    """
    from fx.api import vmap
    arr = asarray(arr)
    nd = get_aval(arr).ndim
    axis = C._normalize_axes((axis,), nd)[0]
    moved = C.moveaxis(arr, axis, -1)
    fn = lambda x: func1d(x, *args, **kwargs)  # noqa: E731
    for _ in range(nd - 1):
        fn = vmap(fn)
    out = asarray(fn(moved))
    core_nd = get_aval(out).ndim - (nd - 1)
    if core_nd:
        out = C.moveaxis(out, tuple(range(nd - 1, nd - 1 + core_nd)),
                         tuple(range(axis, axis + core_nd)))
    return out


def apply_over_axes(func, a, axes):
    """Apply ``func(a, axis)`` for each axis in turn, keeping reduced axes with size 1.

    Example:
      >>> fnp.apply_over_axes(fnp.sum, fnp.ones((2, 3)), [0, 1])
      Array([[6.]], dtype=float32)
    """
    a = asarray(a)
    for axis in (axes,) if isinstance(axes, int) else axes:
        nd = get_aval(a).ndim
        b = asarray(func(a, axis))
        if get_aval(b).ndim == nd - 1:
            b = C.expand_dims(b, axis)
        elif get_aval(b).ndim != nd:
            raise ValueError("fx.numpy.apply_over_axes: function is not returning an array "
                             "of the correct shape")
        a = b
    return a


_DIMS = r"\w+"
_CORE = rf"\((?:{_DIMS}(?:,{_DIMS})*)?\)"
_ARGS = rf"{_CORE}(?:,{_CORE})*"
_SIGNATURE = re.compile(rf"^({_ARGS})->({_ARGS})$")


def _parse_signature(signature: str):
    sig = signature.replace(" ", "")
    if not _SIGNATURE.match(sig):
        raise ValueError(f"fx.numpy.vectorize: not a valid gufunc signature: {signature!r}")
    ins, outs = sig.split("->")
    parse = lambda s: [tuple(d for d in m.split(",") if d)  # noqa: E731
                       for m in re.findall(r"\((.*?)\)", s)]
    return parse(ins), parse(outs)


def map_batch_dims(fun, args, core_ranks):
    """``fun`` over the broadcast batch dimensions of ``args`` (those left of each
    argument's ``core_ranks`` trailing dimensions), as ``jnp.vectorize`` maps them: size-1
    batch dimensions squeezed, one ``vmap`` per batch dimension (innermost last), an
    argument unbatched along a dimension where its size is 1 or it has none; dimensions of
    size 1 everywhere are added back to the result (or to each result of a tuple).

    Args:
      fun: a function of core-shaped arrays.
      args: the arrays.
      core_ranks: the number of core (trailing) dimensions of each argument.

    Returns:
      ``fun``'s result(s) with the broadcast batch shape in front.

    Example:
      >>> map_batch_dims(fnp.dot, (fnp.ones((2, 3)), fnp.ones(3)), (1, 1)).shape
      (2,)
    """
    from fx.api import vmap
    batch_shapes = [get_aval(x).shape[:get_aval(x).ndim - r] for x, r in zip(args, core_ranks)]
    batch = C.broadcast_shapes(*batch_shapes) if batch_shapes else ()
    squeezed, filled = [], []
    for x, shape in zip(args, batch_shapes):
        ones = tuple(i for i, d in enumerate(shape) if d == 1)
        squeezed.append(lax.squeeze(x, ones) if ones else x)
        filled.append((1,) * (len(batch) - len(shape)) + shape)
    mapped, expand = fun, []
    for k in range(len(batch) - 1, -1, -1):
        in_axes = tuple(None if shape[k] == 1 else 0 for shape in filled)
        if all(axis is None for axis in in_axes):
            expand.append(k)
        else:
            mapped = vmap(mapped, in_axes)
    out = mapped(*squeezed)
    if not expand:
        return out
    dims = tuple(sorted(expand))
    if isinstance(out, tuple):
        return tuple(lax.expand_dims(asarray(o), dims) for o in out)
    return lax.expand_dims(asarray(out), dims)


def vectorize(pyfunc, *, excluded=frozenset(), signature: str | None = None):
    """``pyfunc`` made to broadcast over leading dimensions (with ``vmap``), like
    ``np.vectorize``; ``signature`` (e.g. ``'(n),(n)->()'``) names each argument's core
    dimensions. As JAX's: size-1 batch dimensions are squeezed and one ``vmap`` is applied
    per batch dimension, so with no batch dimensions ``pyfunc`` is called as is.

    Args:
      pyfunc: the function of core-shaped arrays.
      excluded: positions (ints) or names (strings) of arguments passed through as is.
      signature: a gufunc signature; by default every argument's core is a scalar.

    Returns:
      The vectorized function.

    Example:
      >>> dot = fnp.vectorize(fnp.dot, signature="(n),(n)->()")
      >>> dot(fnp.ones((2, 3)), fnp.ones(3))
      Array([3., 3.], dtype=float32)
    """
    if any(not isinstance(e, (str, int)) for e in excluded):
        raise TypeError(f"fx.numpy.vectorize: excluded must hold ints or strings, got "
                        f"{excluded!r}")
    if any(isinstance(e, int) and e < 0 for e in excluded):
        raise ValueError(f"fx.numpy.vectorize: excluded={excluded!r} holds negative numbers")
    parsed = _parse_signature(signature) if signature is not None else None

    @functools.wraps(pyfunc)
    def wrapped(*args, **kwargs):
        in_cores = list(parsed[0]) if parsed else None
        n_dyn = len([i for i in range(len(args)) if i not in excluded])
        if in_cores is not None and len(in_cores) != n_dyn:
            raise TypeError(f"fx.numpy.vectorize: signature {signature!r} expects "
                            f"{len(in_cores)} arguments, got {n_dyn}")
        static = {i for i in range(len(args)) if i in excluded}
        dyn_pos = [i for i in range(len(args)) if i not in static]
        if in_cores is None:
            in_cores = [()] * len(dyn_pos)
        for pos, core_dims in list(zip(dyn_pos, in_cores)):
            if args[pos] is None:                 # None passes through, as JAX's
                if core_dims:
                    raise ValueError(f"fx.numpy.vectorize: cannot pass None at position "
                                     f"{pos} with signature {signature!r}")
                static.add(pos)
        in_cores = [c for pos, c in zip(dyn_pos, in_cores) if pos not in static]
        dyn_pos = [pos for pos in dyn_pos if pos not in static]
        dyn = [asarray(args[pos]) for pos in dyn_pos]
        sizes: dict = {}
        for a, core_dims in zip(dyn, in_cores):
            shape = get_aval(a).shape
            if len(shape) < len(core_dims):
                raise ValueError(f"fx.numpy.vectorize: input of shape {shape} has fewer "
                                 f"dimensions than its core dimensions {core_dims}")
            for name, d in zip(core_dims, shape[len(shape) - len(core_dims):]):
                if sizes.setdefault(name, d) != d:
                    raise ValueError(f"fx.numpy.vectorize: inconsistent size for core "
                                     f"dimension {name!r}: {sizes[name]} vs {d}")

        def call(*dyn_args):
            full = list(args)
            for pos, a in zip(dyn_pos, dyn_args):
                full[pos] = a
            out = pyfunc(*full, **kwargs)
            if parsed is not None:
                outs = out if isinstance(out, tuple) else (out,)
                if len(parsed[1]) != len(outs):
                    raise ValueError(f"fx.numpy.vectorize: signature {signature!r} declares "
                                     f"{len(parsed[1])} outputs, the function returned "
                                     f"{len(outs)}")
            return out

        return map_batch_dims(call, dyn, [len(c) for c in in_cores])

    return wrapped


class ufunc:
    """A universal function built from a scalar function (JAX's ``jnp.ufunc``): call it
    elementwise with broadcasting, or use ``reduce``, ``accumulate``, ``outer``, ``at``
    and ``reduceat``.

    Args:
      func: the elementwise function (of ``nin`` scalars).
      nin, nout: numbers of inputs and outputs.
      name: a name for printing.
      identity: the identity of a binary function (used by empty reductions).
      call, reduce, accumulate, at, reduceat: optional fast implementations.

    Example:
      >>> mul = fnp.frompyfunc(lambda a, b: a * b, 2, 1, identity=1)
      >>> mul.reduce(fnp.array([1, 2, 3, 4]))
      Array(24, dtype=int32)
    """

    def __init__(self, func, /, nin: int, nout: int, *, name: str | None = None,
                 nargs: int | None = None, identity=None, call=None, reduce=None,
                 accumulate=None, at=None, reduceat=None):
        self._func = func
        self.nin, self.nout = int(nin), int(nout)
        self.nargs = int(nargs or nin)
        self.identity = identity
        self.__name__ = name or getattr(func, "__name__", "ufunc")
        self._call = call or vectorize(func)
        self._reduce, self._accumulate = reduce, accumulate
        self._at, self._reduceat = at, reduceat

    def __repr__(self):
        return f"<fx.numpy.ufunc '{self.__name__}'>"

    def __call__(self, *args, out=None, where=None):
        if out is not None or where is not None:
            raise NotImplementedError(f"{self.__name__}: 'out' and 'where' are not supported")
        if len(args) != self.nin:
            raise TypeError(f"{self.__name__} takes {self.nin} arguments, got {len(args)}")
        return self._call(*args)

    def _binary(self, what):
        if self.nin != 2 or self.nout != 1:
            raise ValueError(f"{what} only supports binary ufuncs with one output, got "
                             f"nin={self.nin}, nout={self.nout}")

    def reduce(self, a, axis=0, dtype=None, out=None, keepdims: bool = False, initial=None,
               where=None):
        """Reduce ``a`` along ``axis`` (or axes) by repeated application."""
        self._binary(f"{self.__name__}.reduce")
        if self._reduce is not None:
            return self._reduce(a, axis=axis, dtype=dtype, keepdims=keepdims,
                                initial=initial, where=where)
        a = asarray(a) if dtype is None else lax.convert_element_type(asarray(a), dtype)
        if where is not None:
            if self.identity is None and initial is None:
                raise ValueError(f"{self.__name__}.reduce: where= needs an identity or "
                                 f"initial=")
            fill = self.identity if initial is None else initial
            a = C.where(where, a, lax.convert_element_type(asarray(fill), _dtype(a)))
        axes = C._reduction_axes(axis, get_aval(a).ndim) if axis is not None else \
            tuple(range(get_aval(a).ndim))
        out = a
        for ax in sorted(axes, reverse=True):
            out = self._reduce_axis(out, ax, initial)
        if keepdims:
            out = C._keepdims(out, get_aval(a).shape, axes)
        return out

    def _reduce_axis(self, a, axis, initial):
        from fx.lax import scan
        moved = C.moveaxis(a, axis, 0)
        n = get_aval(moved).shape[0]
        if initial is None and n == 0:
            if self.identity is None:
                raise ValueError(f"zero-size array to reduction operation {self.__name__} "
                                 f"which has no identity")
            initial = self.identity
        if initial is None:
            carry, rest = moved[0], moved[1:]
        else:
            carry = C.full(get_aval(moved).shape[1:], initial, _dtype(moved))
            rest = moved
        carry, _ = scan(lambda c, x: (asarray(self(c, x)).astype(_dtype(c)), None), carry,
                        rest)
        return carry

    def accumulate(self, a, axis: int = 0, dtype=None, out=None):
        """The running reduction of ``a`` along ``axis``."""
        self._binary(f"{self.__name__}.accumulate")
        if self._accumulate is not None:
            return self._accumulate(a, axis=axis, dtype=dtype)
        from fx.lax import scan
        a = asarray(a) if dtype is None else lax.convert_element_type(asarray(a), dtype)
        axis = C._normalize_axes((axis,), get_aval(a).ndim)[0]
        moved = C.moveaxis(a, axis, 0)
        if get_aval(moved).shape[0] == 0:
            return a

        def step(c, x):
            y = asarray(self(c, x)).astype(_dtype(c))
            return y, y
        _, ys = scan(step, moved[0], moved[1:])
        from fx.numpy import concatenate
        return C.moveaxis(concatenate([moved[:1], ys], axis=0), 0, axis)

    def outer(self, A, B, /):
        """``self(a, b)`` for every pair of elements: shape ``A.shape + B.shape``."""
        self._binary(f"{self.__name__}.outer")
        A, B = asarray(A), asarray(B)
        a_nd, b_nd = get_aval(A).ndim, get_aval(B).ndim
        return self(lax.reshape(A, get_aval(A).shape + (1,) * b_nd),
                    lax.reshape(B, (1,) * a_nd + get_aval(B).shape))

    def at(self, a, indices, b=None, /, *, inplace: bool = True):
        """A copy of ``a`` with ``self(a[i], b)`` applied at ``indices`` (repeated indices
        apply repeatedly)."""
        _no_inplace(f"{self.__name__}.at", inplace)
        if self._at is not None:
            return self._at(a, indices, b)
        from fx.lax import fori_loop
        a = asarray(a)
        idx = asarray(indices)
        n = get_aval(idx).shape[0] if get_aval(idx).ndim else 1
        idx = C.ravel(idx)
        if self.nin == 2:
            bb = C.broadcast_to(asarray(b), (n,) + get_aval(a).shape[1:])

        def body(i, acc):
            j = idx[i]
            new = self(acc[j]) if self.nin == 1 else self(acc[j], bb[i])
            return acc.at[j].set(asarray(new).astype(_dtype(acc)))
        return fori_loop(0, n, body, a)

    def reduceat(self, a, indices, axis: int = 0, dtype=None, out=None):
        """Reductions over the slices ``indices[i]:indices[i+1]`` along ``axis`` (a
        single element where ``indices[i] >= indices[i+1]``; indices must be static)."""
        self._binary(f"{self.__name__}.reduceat")
        a = asarray(a) if dtype is None else lax.convert_element_type(asarray(a), dtype)
        axis = C._normalize_axes((axis,), get_aval(a).ndim)[0]
        idx = [int(i) for i in _concrete("reduceat", asarray(indices),
                                         "reduceat indices must be static.")]
        n = get_aval(a).shape[axis]
        parts = []
        for k, start in enumerate(idx):
            stop = idx[k + 1] if k + 1 < len(idx) else n
            if start >= stop:
                part = lax.index_in_dim(a, start, axis, keepdims=False)
            else:
                part = self.reduce(lax.slice_in_dim(a, start, stop, axis=axis), axis=axis)
            parts.append(part)
        return C.stack(parts, axis=axis)


def frompyfunc(func, /, nin: int, nout: int, *, identity=None):
    """A ``ufunc`` from a Python function of ``nin`` scalars.

    Example:
      >>> hyp = fnp.frompyfunc(lambda a, b: fnp.sqrt(a * a + b * b), 2, 1)
      >>> hyp(3.0, fnp.array([4.0]))
      Array([5.], dtype=float32)
    """
    return ufunc(func, nin, nout, identity=identity)
