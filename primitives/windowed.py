"""Windowed reductions (pooling): reduce_window_sum/max/min, the generic
reduce_window over a monoid jaxpr, and the max/min-pool derivatives
select_and_gather_add and select_and_scatter_add, and XLA's general select_and_scatter.

Invariants: window params are tuples with one entry per operand dimension
(``padding`` holds ``(lo, hi)`` pairs, which may be negative to crop). The
padded, base-dilated operand holds each element at ``lo + i * base_dilation``;
every window whose output is defined lies inside it. A max/min window chooses
the first operand element, in window order, that attains the extremum (NaN
counts as the extremum); padding is never chosen. Batching adds a window of
size 1 over the batch dimension, which goes to the front.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from fx import core
from fx.core import ShapedArray, Zero
from primitives import _rules as R
from primitives._rules import BOOL, COMPLEX, FLOAT, INT, NUMERIC, check_dtype, new_primitive

# ---------------------------------------------------------------------------
# shapes


def validated(primitive, impl):
    """``impl`` preceded by ``primitive``'s abstract evaluation, so that eager calls
    (which skip abstract evaluation) raise the same clear errors before any work."""
    def run(*args, **params):
        primitive.abstract_eval(*[ShapedArray(np.shape(a), np.result_type(a)) for a in args],
                                **params)
        return impl(*args, **params)
    return run


def _check_window_params(name, shape, window_dimensions, window_strides, padding,
                         base_dilation, window_dilation):
    nd = len(shape)
    for what, value in (("window_dimensions", window_dimensions),
                        ("window_strides", window_strides), ("padding", padding),
                        ("base_dilation", base_dilation),
                        ("window_dilation", window_dilation)):
        if len(value) != nd:
            raise TypeError(f"{name}: {what} {value} must have one entry per operand "
                            f"dimension (operand shape {shape})")
    if any(w < 0 for w in window_dimensions):
        raise TypeError(f"{name}: window_dimensions {window_dimensions} must be non-negative")
    for what, value in (("window_strides", window_strides), ("base_dilation", base_dilation),
                        ("window_dilation", window_dilation)):
        if any(v < 1 for v in value):
            raise TypeError(f"{name}: {what} {value} must be positive")
    for p in padding:
        if len(p) != 2:
            raise TypeError(f"{name}: padding {padding} must be a tuple of (lo, hi) pairs")


def _dilate(size: int, dilation: int) -> int:
    return 0 if size == 0 else (size - 1) * dilation + 1


def padded_shape(shape, padding, base_dilation) -> tuple:
    """The shape of the operand after base dilation and padding."""
    return tuple(_dilate(s, b) + lo + hi
                 for s, b, (lo, hi) in zip(shape, base_dilation, padding))


def window_output_shape(name, shape, window_dimensions, window_strides, padding,
                        base_dilation, window_dilation) -> tuple:
    """The output shape of a windowed reduction, checking its params."""
    _check_window_params(name, shape, window_dimensions, window_strides, padding,
                         base_dilation, window_dilation)
    out = []
    for p, w, s, d in zip(padded_shape(shape, padding, base_dilation), window_dimensions,
                          window_strides, window_dilation):
        if p < 0:
            raise TypeError(f"{name}: padding {padding} crops more than the whole operand "
                            f"(shape {shape})")
        eff = _dilate(w, d)
        out.append(0 if p < eff else (p - eff) // s + 1)
    return tuple(out)


def _params(window_dimensions, window_strides, padding, base_dilation, window_dilation):
    return dict(window_dimensions=tuple(window_dimensions),
                window_strides=tuple(window_strides),
                padding=tuple(tuple(p) for p in padding),
                base_dilation=tuple(base_dilation), window_dilation=tuple(window_dilation))


def _batch_params(window_dimensions, window_strides, padding, base_dilation,
                  window_dilation):
    """Params for an operand whose batch dimension was moved to the front."""
    return _params((1,) + tuple(window_dimensions), (1,) + tuple(window_strides),
                   ((0, 0),) + tuple(padding), (1,) + tuple(base_dilation),
                   (1,) + tuple(window_dilation))


# ---------------------------------------------------------------------------
# NumPy machinery shared by the impls


def _pad_dilate(x: np.ndarray, fill, padding, base_dilation) -> np.ndarray:
    """``x`` base-dilated and padded with ``fill`` (negative padding crops)."""
    grown = [_dilate(s, b) + max(lo, 0) + max(hi, 0)
             for s, b, (lo, hi) in zip(x.shape, base_dilation, padding)]
    out = np.full(grown, fill, dtype=x.dtype)
    out[tuple(slice(max(lo, 0), max(lo, 0) + _dilate(s, b), b)
              for s, b, (lo, hi) in zip(x.shape, base_dilation, padding))] = x
    return out[tuple(slice(max(-lo, 0), g - max(-hi, 0))
                     for g, (lo, hi) in zip(grown, padding))]


def _windows(padded: np.ndarray, out_shape, window_dimensions, window_strides,
             window_dilation) -> np.ndarray:
    """A view of shape ``out_shape + window_dimensions``: the elements of each window."""
    if 0 in out_shape or 0 in window_dimensions:
        return np.empty(tuple(out_shape) + tuple(window_dimensions), padded.dtype)
    eff = tuple(_dilate(w, d) for w, d in zip(window_dimensions, window_dilation))
    view = sliding_window_view(padded, eff)
    index = tuple(slice(None, None, s) for s in window_strides) + tuple(
        slice(None, None, d) for d in window_dilation)
    view = view[index]
    return view[tuple(slice(0, n) for n in out_shape)]


def _lowest(dtype):
    if dtype.kind == "b":
        return False
    if dtype.kind in "iu":
        return np.iinfo(dtype).min
    return -np.inf


def _highest(dtype):
    if dtype.kind == "b":
        return True
    if dtype.kind in "iu":
        return np.iinfo(dtype).max
    return np.inf


def _reduce_window_impl(np_reduce, identity):
    def impl(x, *, window_dimensions, window_strides, padding, base_dilation,
             window_dilation):
        out_shape = window_output_shape("reduce_window", x.shape, window_dimensions,
                                        window_strides, padding, base_dilation,
                                        window_dilation)
        fill = identity(x.dtype)
        if 0 in out_shape:
            return np.empty(out_shape, x.dtype)
        if 0 in window_dimensions:
            return np.full(out_shape, fill, x.dtype)
        padded = _pad_dilate(x, fill, padding, base_dilation)
        view = _windows(padded, out_shape, window_dimensions, window_strides,
                        window_dilation)
        axes = tuple(range(x.ndim, 2 * x.ndim))
        with np.errstate(all="ignore"):
            return np.asarray(np_reduce(view, axis=axes)).astype(x.dtype, copy=False)
    return impl


# ---------------------------------------------------------------------------
# choosing the max/min element of each window (select_and_gather/scatter)


def _same(a, b):
    """Elementwise equality that counts NaN equal to NaN."""
    eq = a == b
    if a.dtype.kind in "fc":
        eq |= (a != a) & (b != b)
    return eq


def _running_choice(x, axis, select_max, reverse):
    """Operand index along ``axis`` chosen by each prefix (suffix if ``reverse``) window."""
    accumulate = np.maximum.accumulate if select_max else np.minimum.accumulate
    n = x.shape[axis]
    ramp = np.arange(n).reshape([-1 if i == axis else 1 for i in range(x.ndim)])
    if not reverse:
        # the first position attaining the running extremum is where that extremum begins
        running = accumulate(x, axis=axis)
        previous = np.take(running, np.arange(-1, n - 1), axis=axis)
        starts = ~_same(running, previous)
        starts[tuple(slice(0, 1) if i == axis else slice(None) for i in range(x.ndim))] = True
        return np.maximum.accumulate(np.where(starts, ramp, 0), axis=axis)
    flipped = np.flip(x, axis)
    running = accumulate(flipped, axis=axis)
    attains = _same(flipped, running)
    last = np.maximum.accumulate(np.where(attains, ramp, 0), axis=axis)
    return np.flip(n - 1 - last, axis)


def _prefix_axis(shape, window_dimensions, window_strides, padding, base_dilation,
                 window_dilation):
    """(axis, reverse) when the windows are the prefixes (or suffixes) along one axis."""
    if any(s != 1 for s in window_strides) or any(b != 1 for b in base_dilation) or any(
            d != 1 for d in window_dilation):
        return None
    long_axes = [i for i, w in enumerate(window_dimensions) if w != 1]
    if len(long_axes) != 1:
        return None
    axis = long_axes[0]
    n = shape[axis]
    if window_dimensions[axis] != n or any(p != (0, 0) for i, p in enumerate(padding)
                                           if i != axis):
        return None
    if tuple(padding[axis]) == (n - 1, 0):
        return axis, False
    if tuple(padding[axis]) == (0, n - 1):
        return axis, True
    return None


def _chosen_indices(operand, select_max, params):
    """For each window: the flat operand index it chooses, or -1 if it holds none."""
    out_shape = window_output_shape("select_and_scatter_add", operand.shape, **params)
    flat_ids = np.arange(operand.size).reshape(operand.shape)
    prefix = _prefix_axis(operand.shape, **params)
    if prefix is not None and operand.size:
        axis, reverse = prefix
        along = _running_choice(operand, axis, select_max, reverse)
        return np.take_along_axis(flat_ids, along, axis=axis)
    if 0 in out_shape:
        return np.empty(out_shape, np.int64)
    window_dims, strides, wdil = (params["window_dimensions"], params["window_strides"],
                                  params["window_dilation"])
    k = int(np.prod(window_dims, dtype=np.int64))
    ids = _pad_dilate(flat_ids, -1, params["padding"], params["base_dilation"])
    ids = _windows(ids, out_shape, window_dims, strides, wdil).reshape(out_shape + (k,))
    if k == 0:
        return np.full(out_shape, -1, np.int64)
    values = _pad_dilate(operand, _lowest(operand.dtype) if select_max
                         else _highest(operand.dtype), params["padding"],
                         params["base_dilation"])
    values = _windows(values, out_shape, window_dims, strides, wdil).reshape(out_shape + (k,))
    valid = ids >= 0
    extremum = (np.max if select_max else np.min)(values, axis=-1, keepdims=True)
    hits = valid & _same(values, extremum)
    first = np.argmax(hits, axis=-1)[..., None]
    chosen = np.take_along_axis(ids, first, axis=-1)[..., 0]
    return np.where(hits.any(axis=-1), chosen, -1)


def _is_max(select_prim) -> bool:
    name = getattr(select_prim, "name", select_prim)
    if name not in ("ge", "gt", "le", "lt"):
        raise TypeError(f"select_prim must be the ge or le primitive, got {select_prim!r}")
    return name in ("ge", "gt")


# ---------------------------------------------------------------------------
# reduce_window_sum, reduce_window_max, reduce_window_min


def _window_reduction(name, np_reduce, identity, kinds):
    p = new_primitive(name)

    @p.def_abstract_eval
    def abstract_eval(x, **params):
        check_dtype(name, x, kinds)
        return ShapedArray(window_output_shape(name, x.shape, **params), x.dtype, x.weak_type)

    p.def_impl(validated(p, _reduce_window_impl(np_reduce, identity)))

    @p.def_batch
    def batch(args, dims, **params):
        (x,), (d,) = args, dims
        return p.bind(R.moveaxis(x, d, 0), **_batch_params(**params)), 0

    return p


reduce_window_sum_p = _window_reduction("reduce_window_sum", np.sum,
                                        lambda dtype: np.zeros((), dtype)[()], NUMERIC)
reduce_window_max_p = _window_reduction("reduce_window_max", np.max, _lowest,
                                        FLOAT + INT + BOOL)
reduce_window_min_p = _window_reduction("reduce_window_min", np.min, _highest,
                                        FLOAT + INT + BOOL)


@reduce_window_sum_p.def_jvp
def _reduce_window_sum_jvp(primals, tangents, **params):
    (x,), (t,) = primals, tangents
    return reduce_window_sum_p.bind(x, **params), reduce_window_sum_p.bind(t, **params)


@reduce_window_sum_p.def_transpose
def _reduce_window_sum_transpose(ct, x, *, window_dimensions, window_strides, padding,
                                 base_dilation, window_dilation):
    """Each cotangent spreads over its window: a reduce_window_sum of the cotangent
    dilated by the strides, read back at the operand's (base-dilated) positions."""
    aval = x.aval
    if type(ct) is Zero:
        return [Zero(aval)]
    ct_shape = R.shape_of(ct)
    if 0 in ct_shape or 0 in window_dimensions or 0 in aval.shape:
        return [R.zeros(aval)]
    lo_hi = []
    for n, w, s, b, d, (lo, _), m in zip(aval.shape, window_dimensions, window_strides,
                                          base_dilation, window_dilation, padding, ct_shape):
        eff = _dilate(w, d)
        new_lo = eff - 1 - lo
        new_hi = eff + (n - 1) * b - new_lo - _dilate(m, s)
        lo_hi.append((new_lo, new_hi))
    out = reduce_window_sum_p.bind(
        ct, **_params(window_dimensions, base_dilation, lo_hi, window_strides,
                      window_dilation))
    return [out]


def _chooser_jvp(select_prim_name):
    def jvp(primals, tangents, **params):
        (x,), (t,) = primals, tangents
        prim = reduce_window_max_p if select_prim_name == "ge" else reduce_window_min_p
        y = prim.bind(x, **params)
        return y, select_and_gather_add_p.bind(t, x, select_prim=R.registry[select_prim_name],
                                               **params)
    return jvp


reduce_window_max_p.def_jvp(_chooser_jvp("ge"))
reduce_window_min_p.def_jvp(_chooser_jvp("le"))


# ---------------------------------------------------------------------------
# select_and_gather_add: the tangent at each window's chosen element

select_and_gather_add_p = new_primitive("select_and_gather_add")


@select_and_gather_add_p.def_abstract_eval
def _select_and_gather_add_abstract_eval(tangents, operand, *, select_prim, **params):
    name = "select_and_gather_add"
    _is_max(select_prim)
    check_dtype(name, tangents, FLOAT + COMPLEX, "tangents")
    check_dtype(name, operand, FLOAT + INT + BOOL)
    if tangents.shape != operand.shape:
        raise TypeError(f"{name}: tangents shape {tangents.shape} must equal the operand "
                        f"shape {operand.shape}")
    return ShapedArray(window_output_shape(name, operand.shape, **params), tangents.dtype,
                       tangents.weak_type)


def _select_and_gather_add_impl(tangents, operand, *, select_prim, **params):
    chosen = _chosen_indices(operand, _is_max(select_prim), params)
    flat = tangents.reshape(-1)
    if flat.size == 0:
        return np.zeros(chosen.shape, tangents.dtype)
    picked = flat[np.maximum(chosen, 0)]
    return np.where(chosen >= 0, picked, np.zeros((), tangents.dtype)).astype(tangents.dtype)


select_and_gather_add_p.def_impl(validated(select_and_gather_add_p,
                                           _select_and_gather_add_impl))


@select_and_gather_add_p.def_jvp
def _select_and_gather_add_jvp(primals, tangents, **params):
    (t, x), (tt, _) = primals, tangents
    out = select_and_gather_add_p.bind(t, x, **params)
    if type(tt) is Zero:
        return out, Zero(R.aval_of(out).to_tangent_aval())
    return out, select_and_gather_add_p.bind(tt, x, **params)


@select_and_gather_add_p.def_transpose
def _select_and_gather_add_transpose(ct, tangents, operand, *, select_prim,
                                     window_dimensions, window_strides, padding,
                                     base_dilation, window_dilation):
    if core.is_undefined_primal(operand):
        raise ValueError("select_and_gather_add is not linear in its operand")
    if any(d != 1 for d in window_dilation):
        raise NotImplementedError(
            "Transpose of select_and_gather_add (the VJP of max/min pooling) with window "
            f"dilation is not implemented, got window_dilation={window_dilation}.")
    if type(ct) is Zero:
        return [Zero(tangents.aval), None]
    dilated = any(b != 1 for b in base_dilation)
    if dilated:
        fill = _lowest(R.dtype_of(operand)) if _is_max(select_prim) else _highest(
            R.dtype_of(operand))
        operand = R.registry["pad"].bind(
            operand, R.as_scalar(fill, R.dtype_of(operand)),
            padding_config=tuple((0, 0, b - 1) for b in base_dilation))
    out = select_and_scatter_add_p.bind(ct, operand, select_prim=select_prim,
                                        window_dimensions=window_dimensions,
                                        window_strides=window_strides, padding=padding)
    if dilated:
        shape = R.shape_of(out)
        out = R.registry["slice"].bind(out, start_indices=(0,) * len(shape),
                                       limit_indices=shape, strides=tuple(base_dilation))
    return [out, None]


@select_and_gather_add_p.def_batch
def _select_and_gather_add_batch(args, dims, *, select_prim, **params):
    size = R.batch_size(args, dims)
    t, x = (R.bdim_to_front(a, d, size) for a, d in zip(args, dims))
    return select_and_gather_add_p.bind(t, x, select_prim=select_prim,
                                        **_batch_params(**params)), 0


# ---------------------------------------------------------------------------
# select_and_scatter_add: each window's source value added at its chosen element

select_and_scatter_add_p = new_primitive("select_and_scatter_add")


def _scatter_params(window_dimensions, window_strides, padding):
    nd = len(window_dimensions)
    return _params(window_dimensions, window_strides, padding, (1,) * nd, (1,) * nd)


@select_and_scatter_add_p.def_abstract_eval
def _select_and_scatter_add_abstract_eval(source, operand, *, select_prim, window_dimensions,
                                          window_strides, padding):
    name = "select_and_scatter_add"
    _is_max(select_prim)
    check_dtype(name, source, FLOAT + COMPLEX, "source")
    check_dtype(name, operand, FLOAT + INT + BOOL)
    expected = window_output_shape(name, operand.shape, **_scatter_params(
        window_dimensions, window_strides, padding))
    if source.shape != expected:
        raise TypeError(f"{name}: source shape {source.shape} must be the window output "
                        f"shape {expected} of the operand (shape {operand.shape})")
    return ShapedArray(operand.shape, source.dtype, source.weak_type)


def _select_and_scatter_add_impl(source, operand, *, select_prim, window_dimensions,
                                 window_strides, padding):
    params = _scatter_params(window_dimensions, window_strides, padding)
    chosen = _chosen_indices(operand, _is_max(select_prim), params)
    keep = chosen >= 0
    where, values = chosen[keep], source[keep]

    def add_up(weights):  # a sum per operand element, accumulated in float64
        return np.bincount(where, weights=weights, minlength=operand.size)

    if source.dtype.kind == "c":
        out = add_up(values.real.astype(np.float64)) + 1j * add_up(
            values.imag.astype(np.float64))
    else:
        out = add_up(values.astype(np.float64))
    return out.astype(source.dtype).reshape(operand.shape)


select_and_scatter_add_p.def_impl(validated(select_and_scatter_add_p,
                                            _select_and_scatter_add_impl))


@select_and_scatter_add_p.def_jvp
def _select_and_scatter_add_jvp(primals, tangents, **params):
    (s, x), (ts, _) = primals, tangents
    out = select_and_scatter_add_p.bind(s, x, **params)
    if type(ts) is Zero:
        return out, Zero(R.aval_of(out).to_tangent_aval())
    return out, select_and_scatter_add_p.bind(ts, x, **params)


@select_and_scatter_add_p.def_transpose
def _select_and_scatter_add_transpose(ct, source, operand, *, select_prim,
                                      window_dimensions, window_strides, padding):
    if core.is_undefined_primal(operand):
        raise ValueError("select_and_scatter_add is not linear in its operand")
    if type(ct) is Zero:
        return [Zero(source.aval), None]
    return [select_and_gather_add_p.bind(
        ct, operand, select_prim=select_prim,
        **_scatter_params(window_dimensions, window_strides, padding)), None]


@select_and_scatter_add_p.def_batch
def _select_and_scatter_add_batch(args, dims, *, select_prim, window_dimensions,
                                  window_strides, padding):
    size = R.batch_size(args, dims)
    s, x = (R.bdim_to_front(a, d, size) for a, d in zip(args, dims))
    return select_and_scatter_add_p.bind(
        s, x, select_prim=select_prim, window_dimensions=(1,) + tuple(window_dimensions),
        window_strides=(1,) + tuple(window_strides),
        padding=((0, 0),) + tuple(padding)), 0


# ---------------------------------------------------------------------------
# reduce_window: any monoid, given as a jaxpr over scalars (variadic)

reduce_window_p = new_primitive("reduce_window", multiple_results=True)
reduce_window_p.subjaxprs = core.subjaxprs_from_params


def _eval_monoid(jaxpr: core.Jaxpr, consts, *args) -> list:
    """Run the scalar ``jaxpr`` elementwise over arrays by calling each impl."""
    env = {}

    def read(v):
        return np.asarray(v.val) if isinstance(v, core.Literal) else env[id(v)]

    for v, c in zip(jaxpr.constvars, consts):
        env[id(v)] = np.asarray(c)
    for v, a in zip(jaxpr.invars, args):
        env[id(v)] = a
    for eqn in jaxpr.eqns:
        outs = eqn.primitive.impl(*[read(v) for v in eqn.invars], **eqn.params)
        outs = outs if eqn.primitive.multiple_results else [outs]
        for v, o in zip(eqn.outvars, outs):
            env[id(v)] = np.asarray(o)
    return [read(v) for v in jaxpr.outvars]


@reduce_window_p.def_abstract_eval
def _reduce_window_abstract_eval(*avals, jaxpr, consts, **params):
    n = len(avals) // 2
    if len(avals) != 2 * n or n == 0:
        raise TypeError(f"reduce_window takes operands and as many init values, got "
                        f"{len(avals)} arguments")
    operands, inits = avals[:n], avals[n:]
    for o, i in zip(operands, inits):
        if i.shape != () or i.dtype != o.dtype:
            raise TypeError(f"reduce_window: init value {i.str_short()} must be a scalar of "
                            f"the operand's dtype {o.dtype.name}")
        if o.shape != operands[0].shape:
            raise TypeError(f"reduce_window: operands must have equal shapes, got "
                            f"{[a.shape for a in operands]}")
    if len(jaxpr.invars) != 2 * n or len(jaxpr.outvars) != n:
        raise TypeError(f"reduce_window: the computation must take {2 * n} scalars and "
                        f"return {n}, got a jaxpr taking {len(jaxpr.invars)}")
    shape = window_output_shape("reduce_window", operands[0].shape, **params)
    return [ShapedArray(shape, o.dtype) for o in operands]


def _reduce_window_generic_impl(*args, jaxpr, consts, window_dimensions, window_strides,
                                padding, base_dilation, window_dilation):
    n = len(args) // 2
    operands, inits = args[:n], [np.asarray(i) for i in args[n:]]
    shape = operands[0].shape
    out_shape = window_output_shape("reduce_window", shape, window_dimensions,
                                    window_strides, padding, base_dilation, window_dilation)
    k = int(np.prod(window_dimensions, dtype=np.int64))
    if 0 in out_shape or k == 0:
        return [np.broadcast_to(i, out_shape).astype(o.dtype) for o, i in zip(operands, inits)]
    stacks = []
    for o, i in zip(operands, inits):
        padded = _pad_dilate(o, i, padding, base_dilation)
        stacks.append(_windows(padded, out_shape, window_dimensions, window_strides,
                               window_dilation).reshape(out_shape + (k,)))
    # combine neighbours pairwise (order-preserving, log2(k) vectorised steps)
    with np.errstate(all="ignore"):
        while stacks[0].shape[-1] > 1:
            m = stacks[0].shape[-1]
            half = m // 2
            evens = [s[..., 0:2 * half:2] for s in stacks]
            odds = [s[..., 1:2 * half:2] for s in stacks]
            combined = _eval_monoid(jaxpr, consts, *evens, *odds)
            if m % 2:
                combined = [np.concatenate([c, s[..., -1:]], axis=-1)
                            for c, s in zip(combined, stacks)]
            stacks = [np.asarray(c).astype(s.dtype, copy=False) for c, s in zip(combined, stacks)]
        results = _eval_monoid(jaxpr, consts, *[np.broadcast_to(i, out_shape) for i in inits],
                               *[s[..., 0] for s in stacks])
    return [np.asarray(r).astype(o.dtype, copy=False).reshape(out_shape)
            for r, o in zip(results, operands)]


reduce_window_p.def_impl(validated(reduce_window_p, _reduce_window_generic_impl))


@reduce_window_p.def_jvp
def _reduce_window_generic_jvp(primals, tangents, **params):
    raise NotImplementedError(
        "Differentiation rule for 'reduce_window' with a general computation is not "
        "implemented (jvp); reduce_window with add, max or min and their identity as "
        "init_value is differentiable")


@reduce_window_p.def_batch
def _reduce_window_generic_batch(args, dims, *, jaxpr, consts, **params):
    n = len(args) // 2
    if any(d is not None for d in dims[n:]):
        raise NotImplementedError("Batching rule for 'reduce_window' with batched init "
                                  "values is not implemented")
    size = R.batch_size(args, dims)
    operands = [R.bdim_to_front(a, d, size) for a, d in zip(args[:n], dims[:n])]
    outs = reduce_window_p.bind(*operands, *args[n:], jaxpr=jaxpr, consts=consts,
                                **_batch_params(**params))
    return outs, [0] * n


# ---------------------------------------------------------------------------
# select_and_scatter: XLA's SelectAndScatter with any select and scatter computation

select_and_scatter_p = new_primitive("select_and_scatter")
select_and_scatter_p.subjaxprs = core.subjaxprs_from_params
select_and_scatter_p.param_order = ("padding", "scatter_consts", "scatter_jaxpr",
                                    "select_consts", "select_jaxpr", "window_dimensions",
                                    "window_strides")


@select_and_scatter_p.def_abstract_eval
def _select_and_scatter_abstract_eval(operand, source, init_value, *, select_jaxpr,
                                      select_consts, scatter_jaxpr, scatter_consts,
                                      window_dimensions, window_strides, padding):
    name = "select_and_scatter"
    if source.dtype != operand.dtype or init_value.dtype != operand.dtype:
        raise TypeError(f"{name}: operand, source and init_value must share a dtype, got "
                        f"{operand.dtype.name}, {source.dtype.name} and "
                        f"{init_value.dtype.name}")
    if init_value.shape != ():
        raise TypeError(f"{name}: init_value must be a scalar, got {init_value.str_short()}")
    expected = window_output_shape(name, operand.shape, **_scatter_params(
        window_dimensions, window_strides, padding))
    if source.shape != expected:
        raise TypeError(f"{name}: source shape {source.shape} must be the window output "
                        f"shape {expected} of the operand (shape {operand.shape})")
    for what, jaxpr, n_out in (("select_jaxpr", select_jaxpr, 1),
                               ("scatter_jaxpr", scatter_jaxpr, 1)):
        if len(jaxpr.invars) != 2 or len(jaxpr.outvars) != n_out:
            raise TypeError(f"{name}: {what} must take 2 scalars and return 1, got a jaxpr "
                            f"taking {len(jaxpr.invars)} and returning {len(jaxpr.outvars)}")
    if select_jaxpr.outvars[0].aval.dtype != np.bool_:
        raise TypeError(f"{name}: select_jaxpr must return a bool, got "
                        f"{select_jaxpr.outvars[0].aval.str_short()}")
    return ShapedArray(operand.shape, operand.dtype)


def _select_and_scatter_impl(operand, source, init_value, *, select_jaxpr, select_consts,
                             scatter_jaxpr, scatter_consts, window_dimensions,
                             window_strides, padding):
    params = _scatter_params(window_dimensions, window_strides, padding)
    out_shape = window_output_shape("select_and_scatter", operand.shape, **params)
    result = np.full(operand.shape, init_value, dtype=operand.dtype).reshape(-1)
    k = int(np.prod(window_dimensions, dtype=np.int64))
    if 0 in out_shape or k == 0 or operand.size == 0:
        return result.reshape(operand.shape)
    ids = _pad_dilate(np.arange(operand.size).reshape(operand.shape), -1, padding,
                      params["base_dilation"])
    ids = _windows(ids, out_shape, window_dimensions, window_strides,
                   params["window_dilation"]).reshape(-1, k)
    values = operand.reshape(-1)[np.maximum(ids, 0)]
    # select: fold each window in order; the current choice stays where select(cur, cand)
    chosen, best = ids[:, 0].copy(), values[:, 0].copy()
    with np.errstate(all="ignore"):
        for j in range(1, k):
            cand, cand_val = ids[:, j], values[:, j]
            keep = np.asarray(_eval_monoid(select_jaxpr, select_consts, best, cand_val)[0],
                              bool)
            take = (cand >= 0) & ((chosen < 0) | ~keep)
            chosen = np.where(take, cand, chosen)
            best = np.where(take, cand_val, best)
        # scatter in window order; windows choosing the same element combine in rounds
        src = source.reshape(-1)
        valid = np.nonzero(chosen >= 0)[0]
        order = valid[np.argsort(chosen[valid], kind="stable")]
        targets = chosen[order]
        starts = np.r_[0, np.nonzero(np.diff(targets))[0] + 1] if targets.size else targets
        rank = np.arange(targets.size) - np.repeat(starts, np.diff(np.r_[starts,
                                                                          targets.size]))
        for r in range(int(rank.max()) + 1 if rank.size else 0):
            sel = order[rank == r]
            where = chosen[sel]
            combined = _eval_monoid(scatter_jaxpr, scatter_consts, result[where], src[sel])[0]
            result[where] = np.asarray(combined).astype(operand.dtype, copy=False)
    return result.reshape(operand.shape)


select_and_scatter_p.def_impl(validated(select_and_scatter_p, _select_and_scatter_impl))


@select_and_scatter_p.def_jvp
def _select_and_scatter_jvp(primals, tangents, **params):
    raise NotImplementedError("Differentiation rule for 'select_and_scatter' not "
                              "implemented (jvp), as in JAX; differentiate max/min pooling "
                              "through reduce_window instead")


@select_and_scatter_p.def_batch
def _select_and_scatter_batch(args, dims, *, window_dimensions, window_strides, padding,
                              **params):
    if dims[2] is not None:
        raise NotImplementedError("Batching rule for 'select_and_scatter' with a batched "
                                  "init_value is not implemented")
    size = R.batch_size(args, dims)
    operand, source = (R.bdim_to_front(a, d, size) for a, d in zip(args[:2], dims[:2]))
    return select_and_scatter_p.bind(
        operand, source, args[2], window_dimensions=(1,) + tuple(window_dimensions),
        window_strides=(1,) + tuple(window_strides), padding=((0, 0),) + tuple(padding),
        **params), 0


__all__ = ["reduce_window_sum_p", "reduce_window_max_p", "reduce_window_min_p",
           "reduce_window_p", "select_and_gather_add_p", "select_and_scatter_add_p",
           "select_and_scatter_p",
           "window_output_shape", "padded_shape"]
