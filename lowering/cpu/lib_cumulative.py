"""Native cumulative ops: cumsum, cumprod, cummax, cummin and cumlogsumexp along one
axis, in the eager impl's sequential order.

Invariants: the operand is viewed as ``(outer, n, inner)`` with ``n`` the scanned
axis; row ``i`` of the result is ``combine(row i-1 of the result, row i of the
operand)`` (rows taken from the end when ``reverse``), the innermost loop running
over ``inner`` contiguous elements. ``combine`` matches NumPy's scalar ufuncs:
integer arithmetic wraps, cummax/cummin keep the first NaN and, of two equal
zeros, the newer one (``np.maximum.accumulate``), cumlogsumexp is
``np.logaddexp`` (``x + log1p(exp(y - x))`` with ``x`` the larger, ``x + log 2``
when equal).
"""
from __future__ import annotations

import math

import numpy as np

from lowering.cpu import mathfns
from lowering.cpu.irutil import SUPPORTED_DTYPES, Emit
from lowering.cpu.lib_ir import HelperFunction, call_helper, helper_name, numpy_max, numpy_min
from lowering.cpu.library import register

__all__ = ["NAMES"]

NAMES = ("cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp")


def _logaddexp(e: Emit, a, b):
    """NumPy's ``logaddexp(a, b)``."""
    diff = e.b.fsub(a, b)
    same = e.b.fcmp_ordered("==", a, b)
    positive = e.b.fcmp_ordered(">", diff, e.like(diff, 0.0))
    larger = e.select(positive, a, b)
    neg_abs = e.select(positive, e.b.fneg(diff), diff)  # -(|diff|) when ordered
    # keep the polynomial away from NaN/inf arguments; those lanes are replaced below
    safe = e.select(e.isnan(neg_abs), e.like(neg_abs, 0.0), neg_abs)
    general = e.b.fadd(larger, mathfns.log1p(e, mathfns.exp(e, safe)))
    general = e.select(e.isnan(diff), diff, general)
    return e.select(same, e.b.fadd(a, e.like(a, math.log(2.0))), general)


def _combine(name, e: Emit, dtype, acc, x):
    dtype = np.dtype(dtype)
    flt = dtype.kind == "f"
    if name == "cumsum":
        return e.b.fadd(acc, x) if flt else e.b.add(acc, x)
    if name == "cumprod":
        return e.b.fmul(acc, x) if flt else e.b.mul(acc, x)
    if name == "cummax":
        return numpy_max(e, dtype, acc, x)
    if name == "cummin":
        return numpy_min(e, dtype, acc, x)
    return _logaddexp(e, acc, x)


def _supports(eqn) -> bool:
    (x,) = eqn.invars
    dtype = x.aval.dtype
    if dtype not in SUPPORTED_DTYPES or eqn.outvars[0].aval.dtype != dtype:
        return False
    name = eqn.primitive.name
    if name in ("cumsum", "cumprod"):
        return dtype.kind in "iuf"
    if name == "cumlogsumexp":
        return dtype.kind == "f"
    return True


def _emit(ctx, eqn) -> None:
    (x,) = eqn.invars
    name = eqn.primitive.name
    shape = tuple(x.aval.shape)
    axis, reverse = int(eqn.params["axis"]), bool(eqn.params["reverse"])
    dtype = np.dtype(x.aval.dtype)
    outer = math.prod(shape[:axis])
    n = shape[axis]
    inner = math.prod(shape[axis + 1:])
    total = outer * n * inner
    if total == 0:
        return
    key = (name, dtype.str, outer, n, inner, reverse, ctx.bounds_check)
    fname = helper_name(name, key)
    fn = HelperFunction.existing(ctx.module, fname)
    if fn is None:
        h = HelperFunction(ctx.module, fname, 2, ctx.bounds_check)
        src, dst = h.args

        def row_base(o, step):
            step = h.i64(step)
            i = h.b.sub(h.i64(n - 1), step) if reverse else step
            return h.linear([(o, n * inner), (i, inner)])

        def per_outer(o):
            first = row_base(o, 0)

            def copy(j):
                at = h.b.add(first, j)
                h.store(dst, at, total, dtype, h.load(src, at, total, dtype))
            h.loop(0, inner, copy)

            def per_step(step):
                cur = row_base(o, step)
                prev_step = h.b.sub(step, h.i64(1))
                prev = row_base(o, prev_step)

                def element(j):
                    acc = h.load(dst, h.b.add(prev, j), total, dtype)
                    val = h.load(src, h.b.add(cur, j), total, dtype)
                    h.store(dst, h.b.add(cur, j), total, dtype,
                            _combine(name, h.e, dtype, acc, val))
                h.loop(0, inner, element)
            h.loop(1, n, per_step)

        h.loop(0, outer, per_outer)
        fn = h.finish()
    call_helper(ctx, fn, eqn)


for _name in NAMES:
    register(_name, _supports, _emit)
