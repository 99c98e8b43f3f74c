"""``fx.numpy``'s reductions: sum, prod, max, min, all, any, mean, var, std, argmax,
argmin, with ``axis``/``keepdims``/``initial``/``where=`` as JAX's (``fx.numpy._core``
re-exports them; nan-reductions and the rest live in ``_reductions``).

Invariants: every reduction reduces with one reduction primitive over normalised,
sorted axes; masked (``where=``) elements are replaced by the reduction's identity
before reducing; booleans are summed as the default integer type, as NumPy does.
"""
from __future__ import annotations

import builtins

import numpy as np

import primitives as P
from fx import core, dtypes, lax
from fx.array import Array
from fx.core import Tracer, get_aval
from fx.numpy._jitted import library_jit
from fx.numpy._core import (_broadcast_to, _to_bool, add, asarray, maximum, minimum,
                            multiply)

# ---------------------------------------------------------------------------
# reductions


def axis_error(axis, ndim) -> Exception:
    """The error for an out-of-range ``axis``: NumPy's ``AxisError``, which is both a
    ValueError and an IndexError (JAX raises either, depending on the function)."""
    return np.exceptions.AxisError(f"axis {axis} is out of bounds for array of dimension "
                                   f"{ndim}")


def strong(a):
    """``a`` without a weak type (JAX's reductions and scans return strongly typed results:
    ``jnp.sum(3.0)`` is a plain float32)."""
    aval = get_aval(a)
    if not aval.weak_type:
        return a
    if type(a) is Array:
        return Array(a._value, False)
    return lax._convert_element_type(a, aval.dtype, False)


def _reduction_axes(axis, ndim) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(core.concrete_or_error(a, "a traced axis", "Axes must be static ints."))
        if not -ndim <= a < ndim:
            raise axis_error(a, ndim)
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"duplicate value in 'axis': {axis}")
    return tuple(sorted(out))


def _keepdims(y, in_shape, axes):
    """The reduced ``y`` with size-1 dims at ``axes``: a ``broadcast_in_dim``, as JAX's."""
    shape = tuple(1 if i in axes else s for i, s in enumerate(in_shape))
    if get_aval(y).shape == shape:
        return y
    kept = tuple(i for i in range(len(in_shape)) if i not in axes)
    return lax.broadcast_in_dim(y, shape, kept)


_NARROW_FLOATS = (np.dtype(np.float16), dtypes.bfloat16)


def _reduce(prim, identity, a, axis, dtype, keepdims, initial, where_, upcast_bool=False,
            upcast_f16=False):
    """``prim`` over ``axis`` as JAX's reductions: booleans (and, with no ``dtype``, narrow
    integers) summed/multiplied as default ints when ``upcast_bool``; float16/bfloat16
    computed in float32 and rounded back once when ``upcast_f16`` and no ``dtype``."""
    a = asarray(a) if not isinstance(a, (Array, Tracer)) else a
    aval = get_aval(a)
    axes = _reduction_axes(axis, aval.ndim)
    result_dtype = None
    if upcast_bool and aval.dtype == dtypes.bool_:
        a = lax.convert_element_type(a, dtypes.default_int_dtype())
    if dtype is not None:
        a = lax.convert_element_type(a, dtype)
    elif upcast_bool and dtypes.is_integer(aval.dtype) and aval.dtype.itemsize < 4:
        a = lax.convert_element_type(
            a, dtypes.default_uint_dtype() if aval.dtype.kind == "u"
            else dtypes.default_int_dtype())
    elif upcast_f16 and aval.dtype in _NARROW_FLOATS:
        a, result_dtype = lax.convert_element_type(a, np.float32), aval.dtype
    a = strong(a)  # (after the conversions, which are strong already: no extra equation)
    if where_ is not None:
        if identity is None:
            raise ValueError(f"reduction over an empty/masked set needs an initial value "
                             f"(pass initial=) for {prim.name}")
        from fx.numpy._core import where as _select
        mask = where_ if isinstance(where_, (Array, Tracer)) else asarray(where_)
        if get_aval(mask).shape != aval.shape:
            mask = _broadcast_to(mask, aval.shape)
        dtype_in = get_aval(a).dtype
        a = _select(mask, a, np.array(identity(dtype_in), dtype_in)[()])  # as JAX's
    out = prim.bind(a, axes=axes, out_sharding=None)
    if initial is not None:
        out = _combine_initial(prim, out, initial)
    if keepdims:
        out = _keepdims(out, aval.shape, axes)
    if result_dtype is not None:
        out = lax.convert_element_type(out, result_dtype)
    return out


def _combine_initial(prim, out, initial):
    combine = {"reduce_sum": add, "reduce_prod": multiply, "reduce_max": maximum,
               "reduce_min": minimum}[prim.name]
    return combine(lax.convert_element_type(initial, get_aval(out).dtype), out)  # JAX's order


def _max_identity(dtype):
    if dtypes.is_inexact(dtype):
        return -np.inf
    if dtype == dtypes.bool_:
        return False
    return np.iinfo(dtype).min


def _min_identity(dtype):
    if dtypes.is_inexact(dtype):
        return np.inf
    if dtype == dtypes.bool_:
        return True
    return np.iinfo(dtype).max


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None,
        promote_integers=True):
    """Sum of elements over ``axis`` (all axes by default)."""
    return _reduce(P.reduce_sum_p, lambda d: 0, a, axis, dtype, keepdims, initial, where,
                   upcast_bool=promote_integers, upcast_f16=True)


def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None,
         promote_integers=True):
    """Product of elements over ``axis``."""
    return _reduce(P.reduce_prod_p, lambda d: 1, a, axis, dtype, keepdims, initial, where,
                   upcast_bool=promote_integers, upcast_f16=True)


def max(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Maximum over ``axis``; an empty reduction needs ``initial``."""
    _check_nonempty("max", a, axis, initial)
    return _reduce(P.reduce_max_p, _max_identity if initial is not None else None, a, axis,
                   None, keepdims, initial, where)


def min(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Minimum over ``axis``; an empty reduction needs ``initial``."""
    _check_nonempty("min", a, axis, initial)
    return _reduce(P.reduce_min_p, _min_identity if initial is not None else None, a, axis,
                   None, keepdims, initial, where)


amax, amin = max, min


def _check_nonempty(name, a, axis, initial):
    aval = get_aval(asarray(a) if not isinstance(a, (Array, Tracer)) else a)
    axes = _reduction_axes(axis, aval.ndim)
    if initial is None and builtins.any(aval.shape[i] == 0 for i in axes):
        raise ValueError(f"zero-size array to reduction operation {name} which has no "
                         "identity; pass initial=")


def all(a, axis=None, out=None, keepdims=False, *, where=None):
    """True where every element over ``axis`` is truthy."""
    a = _to_bool(asarray(a))
    return _reduce(P.reduce_and_p, lambda d: True, a, axis, None, keepdims, None, where)


def any(a, axis=None, out=None, keepdims=False, *, where=None):
    """True where some element over ``axis`` is truthy."""
    a = _to_bool(asarray(a))
    return _reduce(P.reduce_or_p, lambda d: False, a, axis, None, keepdims, None, where)


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    """Arithmetic mean over ``axis`` (with ``where=``, of the selected elements).

    As JAX: computed in ``dtype`` when given; otherwise in the input's inexact type, with
    float16/bfloat16 summed and divided in float32 and rounded back once.
    """
    a = asarray(a)
    aval = get_aval(a)
    axes = _reduction_axes(axis, aval.ndim)
    if dtype is None:
        result = aval.dtype if dtypes.is_inexact(aval.dtype) else dtypes.default_float_dtype()
        computation = np.dtype(np.float32) if result in _NARROW_FLOATS else result
    else:
        result = computation = dtypes.canonicalize_dtype(dtype)
    if where is None:
        count = int(np.prod([aval.shape[i] for i in axes], dtype=np.int64))
        normalizer = np.array(count, computation)[()]
    else:  # (the count first, as JAX's)
        mask = _broadcast_to(_to_bool(asarray(where)), aval.shape)
        normalizer = sum(mask, axis, dtype=computation, keepdims=keepdims)
    total = sum(a, axis, dtype=computation, keepdims=keepdims, where=where)
    out = lax.div(total, normalizer)
    return out if result == computation else lax.convert_element_type(out, result)


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
        correction=None):
    """Variance over ``axis`` with ``ddof`` (or ``correction``) degrees of freedom, as
    JAX's ``jnp.var`` (traced, a ``jit[name=_var]`` equation; ``ddof`` is a dynamic
    argument there, so it may be traced).

    As JAX: computed in ``dtype`` (or the input's inexact type) and returned in it; NaN
    where the normaliser (count - ddof) is not positive.

    Args:
      a: the array.
      axis: None, an int or a tuple of ints.
      dtype: the result (and computation) dtype.
      ddof, correction: degrees of freedom subtracted from the count (one of them).
      keepdims: keep the reduced axes with size 1.
      where: optional boolean mask of the elements to include.

    Returns:
      The variance (real for complex input).

    Example:
      >>> fnp.var(fnp.array([1.0, 2.0, 3.0, 4.0]))
      Array(1.25, dtype=float32)
    """
    correction = _correction("var", ddof, correction)
    if out is not None:
        raise NotImplementedError("The 'out' argument to fx.numpy.var is not supported.")
    return _var(a, _static_axis(axis), dtype, correction, keepdims, where=where)


def _correction(name, ddof, correction):
    if correction is None:
        return ddof
    if not (isinstance(ddof, int) and not isinstance(ddof, bool) and ddof == 0):
        raise ValueError(f"fx.numpy.{name}: ddof and correction can't both be specified")
    return correction


def _static_axis(axis):
    """``axis`` as a hashable static value (lists become tuples)."""
    if isinstance(axis, list):
        return tuple(axis)
    if isinstance(axis, np.ndarray):
        return tuple(int(i) for i in axis.ravel()) if axis.ndim else int(axis)
    return axis


@library_jit(static_argnames=("axis", "dtype", "keepdims"))
def _var(a, axis, dtype, correction, keepdims, *, where=None):
    a = asarray(a)
    aval = get_aval(a)
    axes = _reduction_axes(axis, aval.ndim)
    out_dtype = _var_dtype("var", aval.dtype, dtype)
    if dtypes.is_complex(aval.dtype):
        compute = aval.dtype  # the variance of complex values is real: |x - mean|^2
    else:
        # narrow floats accumulate in float32; a complex request still reduces a real
        # variance (converted at the end)
        compute = out_dtype if out_dtype.kind == "f" and out_dtype.itemsize >= 4 \
            else dtypes.default_float_dtype()
    a = lax.convert_element_type(a, compute) if aval.dtype != compute else a
    centered = lax.sub(a, mean(a, axis, dtype=compute, keepdims=True, where=where))
    if dtypes.is_complex(compute):
        centered = lax.real(lax.mul(centered, lax.conj(centered)))
    else:
        centered = lax.square(centered)
    tdt = get_aval(centered).dtype
    if where is None:
        count = int(np.prod([aval.shape[i] for i in axes], dtype=np.int64))
        normalizer = np.array(count, tdt)[()]
        if core._current_trace.get() is core.eval_trace and isinstance(
                correction, (int, float, np.integer, np.floating)):
            # eager with a concrete correction: the normaliser is known now
            total = sum(centered, axis, dtype=tdt, keepdims=keepdims)
            denom = count - correction
            out = lax.div(total, np.array(denom, tdt)[()]) if denom > 0 else \
                lax.full_like(total, np.nan)
            return _as_out_dtype(out, out_dtype)
    else:
        mask = _broadcast_to(_to_bool(asarray(where)), aval.shape)
        normalizer = sum(mask, axis, dtype=tdt, keepdims=keepdims)
    normalizer = lax.sub(normalizer, lax.convert_element_type(correction, tdt))
    total = sum(centered, axis, dtype=tdt, keepdims=keepdims, where=where)
    result = _as_out_dtype(lax.div(total, normalizer), out_dtype)
    from fx.numpy._core import where as _select
    return _select(lax.gt(normalizer, lax.full_like(normalizer, 0)), result, np.nan)


def _var_dtype(name, in_dtype, dtype):
    """The result dtype of var/std: ``dtype`` if given (it must be inexact for std, as
    JAX), else the input's inexact type (float32 for integers and booleans)."""
    if dtype is None:
        if dtypes.is_complex(in_dtype):
            return np.dtype(np.real(np.zeros((), in_dtype)).dtype)
        return in_dtype if dtypes.is_inexact(in_dtype) else dtypes.default_float_dtype()
    dtype = dtypes.canonicalize_dtype(dtype)
    if dtype == dtypes.bool_:
        raise TypeError(f"fx.numpy.{name} cannot compute in dtype bool; pass an inexact "
                        "dtype")
    if not dtypes.is_inexact(dtype):
        if name == "std":
            raise ValueError(f"dtype argument to fx.numpy.std must be inexact; got {dtype}")
        return dtypes.default_float_dtype()  # JAX's var computes integers as floats
    return dtype


def _as_out_dtype(x, dtype):
    return x if get_aval(x).dtype == dtype else lax.convert_element_type(x, dtype)


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
        correction=None):
    """Standard deviation over ``axis``: ``sqrt(var(...))`` (JAX's ``jnp.std``; traced, a
    ``jit[name=_std]`` equation around ``_var``'s).

    Args:
      a, axis, dtype, ddof, keepdims, where, correction: as ``var`` (``dtype`` must be
        inexact).

    Returns:
      The standard deviation.

    Example:
      >>> fnp.std(fnp.array([1.0, 3.0]))
      Array(1., dtype=float32)
    """
    correction = _correction("std", ddof, correction)
    if out is not None:
        raise NotImplementedError("The 'out' argument to fx.numpy.std is not supported.")
    if dtype is not None:
        _var_dtype("std", None, dtype)
    return _std(a, _static_axis(axis), dtype, correction, keepdims, where=where)


@library_jit(static_argnames=("axis", "dtype", "keepdims"))
def _std(a, axis, dtype, correction, keepdims, *, where=None):
    return lax.sqrt(_var(a, axis, dtype, correction, keepdims, where=where))


def argmax(a, axis=None, out=None, keepdims=False):
    """Index of the maximum (over the flattened array when ``axis`` is None)."""
    return _argreduce(lax.argmax, a, axis, keepdims)


def argmin(a, axis=None, out=None, keepdims=False):
    """Index of the minimum (over the flattened array when ``axis`` is None)."""
    return _argreduce(lax.argmin, a, axis, keepdims)


def _argreduce(fn, a, axis, keepdims):
    a = asarray(a)
    aval = get_aval(a)
    if axis is None:
        flat = lax.reshape(a, (aval.size,))
        out = fn(flat, 0, dtypes.default_int_dtype())
        return _keepdims(out, aval.shape, tuple(range(aval.ndim))) if keepdims else out
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"argmax/argmin: axis must be an int or None, got {axis!r}")
    axis = _reduction_axes(axis, aval.ndim)[0]
    out = fn(a, axis, dtypes.default_int_dtype())
    return _keepdims(out, aval.shape, (axis,)) if keepdims else out


# creation and shape manipulation live in ``_shape_base`` (re-exported here, last, since
# that module builds on the functions above)
