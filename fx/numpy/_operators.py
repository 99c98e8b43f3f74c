"""Operators and array methods for ``fx.Array`` and tracers, installed by
``fx.numpy`` (as JAX does), so both behave identically under every trace.

Invariant: operators return ``NotImplemented`` for operands they do not know,
so Python can try the reflected operation.
"""
from __future__ import annotations

import numpy as np

from fx import core
from fx.array import Array
from fx.numpy import _core as C
from fx.numpy import _indexing

_OPERAND_TYPES = (Array, core.Tracer, np.ndarray, np.generic, bool, int, float, complex)


def _defer(fn, swap=False):
    if swap:
        def op(self, other):
            if not isinstance(other, _OPERAND_TYPES):
                return NotImplemented
            return fn(other, self)
    else:
        def op(self, other):
            if not isinstance(other, _OPERAND_TYPES):
                return NotImplemented
            return fn(self, other)
    return op


def _matmul(a, b):
    from fx.numpy import matmul
    return matmul(a, b)


def _getitem(self, idx):
    return _indexing.getitem(self, idx)


def _at(self):
    from fx.numpy._indexing import _IndexUpdateHelper
    return _IndexUpdateHelper(self)


_BINARY = {
    "add": C.add, "sub": C.subtract, "mul": C.multiply, "truediv": C.true_divide,
    "floordiv": C.floor_divide, "mod": C.remainder, "pow": C.power, "matmul": _matmul,
    "and": C.bitwise_and, "or": C.bitwise_or, "xor": C.bitwise_xor,
    "lshift": C.left_shift, "rshift": C.right_shift,
}
_COMPARE = {"eq": C.equal, "ne": C.not_equal, "lt": C.less, "le": C.less_equal,
            "gt": C.greater, "ge": C.greater_equal}


def _divmod(a, b):
    return C.floor_divide(a, b), C.remainder(a, b)


def _astype(self, dtype, copy=False, device=None):
    from fx import lax
    return lax.convert_element_type(self, dtype)


def _reshape(self, *shape, order="C"):
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = shape[0]
    return C.reshape(self, shape, order=order)


def _transpose_method(self, *axes):
    if not axes:
        axes = None
    elif len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
        axes = axes[0]
    return C.transpose(self, axes)


def _mT(self):
    nd = self.ndim
    if nd < 2:
        raise ValueError(f"x.mT requires an array of rank >= 2, got shape {self.shape}")
    return C.swapaxes(self, -1, -2)


_METHOD_TARGETS = {"flatten": "ravel"}


def _method(name):
    target = _METHOD_TARGETS.get(name, name)

    def call(self, *args, **kwargs):
        import fx.numpy as fnp
        return getattr(fnp, target)(self, *args, **kwargs)
    call.__name__ = name
    return call


def _choose(self, choices, out=None, mode="raise"):
    from fx.numpy import choose
    return choose(self, choices, out=out, mode=mode)


def _compress(self, condition, axis=None, *, size=None, fill_value=0, out=None):
    from fx.numpy import compress
    return compress(condition, self, axis, size=size, fill_value=fill_value, out=out)


_METHODS = ("sum", "prod", "max", "min", "mean", "var", "std", "argmax", "argmin", "all",
            "any", "cumsum", "cumprod", "clip", "round", "squeeze", "ravel", "flatten",
            "dot", "conj", "conjugate", "nonzero", "sort", "argsort", "trace", "diagonal",
            "repeat", "take", "swapaxes", "ptp", "searchsorted", "copy", "argpartition")


def install(cls):
    for name, fn in _BINARY.items():
        setattr(cls, f"__{name}__", _defer(fn))
        setattr(cls, f"__r{name}__", _defer(fn, swap=True))
    for name, fn in _COMPARE.items():
        setattr(cls, f"__{name}__", _defer(fn))
    cls.__divmod__ = _defer(_divmod)
    cls.__rdivmod__ = _defer(_divmod, swap=True)
    cls.__neg__ = lambda self: C.negative(self)
    cls.__pos__ = lambda self: C.positive(self)
    cls.__abs__ = lambda self: C.absolute(self)
    cls.__invert__ = lambda self: C.invert(self)
    cls.__getitem__ = _getitem
    cls.at = property(_at)
    cls.astype = _astype
    cls.reshape = _reshape
    cls.transpose = _transpose_method
    cls.T = property(lambda self: C.transpose(self))
    cls.mT = property(_mT)
    cls.real = property(lambda self: C.real(self))
    cls.imag = property(lambda self: C.imag(self))
    for name in _METHODS:
        setattr(cls, name, _method(name))
    cls.choose = _choose
    cls.compress = _compress
    cls.__array_namespace__ = lambda self, *, api_version=None: __import__("fx.numpy").numpy


install(Array)
install(core.Tracer)

