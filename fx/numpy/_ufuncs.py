"""``ufunc`` methods on fx.numpy's binary elementwise functions, as JAX has them:
``fnp.add.reduce``, ``fnp.multiply.accumulate``, ``fnp.maximum.outer``,
``fnp.add.at(x, idx, v, inplace=False)``, ``.identity``, ``.nin``, ...

Invariant: the functions stay plain Python functions (their fast eager paths are
untouched); each gets the bound methods of a ``ufunc`` whose fast paths are fx's own
reductions, cumulative ops and ``.at`` updates where one exists.
"""
from __future__ import annotations

import fx.numpy as _fnp
from fx.numpy._core import asarray
from fx.numpy._functional import ufunc


def _scatter(method):
    def at(a, indices, b):
        return getattr(asarray(a).at[indices], method)(b)
    return at


def _reducer(name):
    fn = getattr(_fnp, name)
    takes_initial = name in ("sum", "prod", "max", "min")

    def reduce(a, axis=0, dtype=None, keepdims=False, initial=None, where=None):
        a = asarray(a)
        if dtype is not None:
            a = a.astype(dtype)
        if initial is not None and not takes_initial:
            raise TypeError(f"{name}-based reduce does not take initial=")
        extra = {"initial": initial} if takes_initial else {}
        return fn(a, axis=axis, keepdims=keepdims, where=where, **extra)
    return reduce


def _accumulator(name):
    fn = getattr(_fnp, name)

    def accumulate(a, axis=0, dtype=None):
        return fn(a, axis=axis, dtype=dtype)
    return accumulate


_TABLE = {
    # name: (identity, fast reduce, fast accumulate, ``.at`` update method)
    "add": (0, "sum", "cumsum", "add"),
    "multiply": (1, "prod", "cumprod", "mul"),
    "maximum": (None, "max", None, "max"),
    "minimum": (None, "min", None, "min"),
    "logical_and": (True, "all", None, None),
    "logical_or": (False, "any", None, None),
    "logical_xor": (False, None, None, None),
    "bitwise_and": (-1, None, None, None),
    "bitwise_or": (0, None, None, None),
    "bitwise_xor": (0, None, None, None),
    "subtract": (None, None, None, None),
    "true_divide": (None, None, None, None),
    "floor_divide": (None, None, None, None),
    "power": (None, None, None, None),
    "remainder": (None, None, None, None),
    "arctan2": (None, None, None, None),
    "hypot": (0, None, None, None),
    "logaddexp": (None, None, None, None),
    "fmax": (None, None, None, None),
    "fmin": (None, None, None, None),
}


def _install():
    for name, (identity, reduce, accumulate, at) in _TABLE.items():
        fn = getattr(_fnp, name)
        u = ufunc(fn, 2, 1, name=name, identity=identity, call=fn,
                  reduce=_reducer(reduce) if reduce else None,
                  accumulate=_accumulator(accumulate) if accumulate else None,
                  at=_scatter(at) if at else None)
        for attr in ("reduce", "accumulate", "outer", "at", "reduceat"):
            setattr(fn, attr, getattr(u, attr))
        fn.nin, fn.nout, fn.nargs, fn.identity = 2, 1, 2, identity


_install()
