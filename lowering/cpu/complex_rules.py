"""complex64 and complex128 in loop kernels: a value is an LLVM ``<2 x float>`` (or
``<2 x double>``) vector of real and imaginary parts, loaded and stored as NumPy lays
them out.

Invariants: arithmetic rounds as NumPy's does (products and quotients with separate
roundings, no fused multiply-adds; division by Smith's method as npymath); ``abs`` is
an overflow-safe hypot (a few ulp from C's). Sums and products reduce in loop
kernels (``COMPLEX_REDUCTIONS``: ``reduce_sum`` adds the vectors, reassociation allowed
as for real sums; ``reduce_prod`` multiplies in order with ``mul``); matrix products are
``cblas_cgemm``/``cblas_zgemm`` calls (``lowering.cpu.blas``); transcendental
functions keep their eager impls.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir

from lowering.cpu.irutil import I32, Emit

__all__ = ["COMPLEX_RULES", "COMPLEX_REDUCTIONS", "is_complex", "mul"]

#: reductions the loop kernels generate for complex operands
COMPLEX_REDUCTIONS = frozenset({"reduce_sum", "reduce_prod"})


def is_complex(dtype) -> bool:
    return np.dtype(dtype).kind == "c"


def _parts(e: Emit, z):
    return (e.b.extract_element(z, ir.Constant(I32, 0)),
            e.b.extract_element(z, ir.Constant(I32, 1)))


def _pack(e: Emit, ty, re, im):
    z = e.b.insert_element(ir.Constant(ty, ir.Undefined), re, ir.Constant(I32, 0))
    return e.b.insert_element(z, im, ir.Constant(I32, 1))


def mul(e: Emit, x, y):
    """The complex product ``x * y`` of two register-form values (NumPy's rounding)."""
    (a, b), (c, d) = _parts(e, x), _parts(e, y)
    B = e.b
    return _pack(e, x.type, B.fsub(B.fmul(a, c), B.fmul(b, d)),
                 B.fadd(B.fmul(a, d), B.fmul(b, c)))


def _mul(e, args, in_avals, out_aval, params):
    return mul(e, args[0], args[1])


def _div(e, args, in_avals, out_aval, params):
    (a, b), (c, d) = _parts(e, args[0]), _parts(e, args[1])
    B = e.b
    one = e.like(c, 1.0)
    wide = e.fcmp(">=", e.fabs(c), e.fabs(d))      # |c| >= |d|: ratio d/c
    zero = B.and_(e.fcmp("==", c, e.like(c, 0.0)), e.fcmp("==", d, e.like(d, 0.0)))
    # |c| >= |d|
    rat1 = B.fdiv(d, c)
    scl1 = B.fdiv(one, B.fadd(c, B.fmul(d, rat1)))
    re1 = B.fmul(B.fadd(a, B.fmul(b, rat1)), scl1)
    im1 = B.fmul(B.fsub(b, B.fmul(a, rat1)), scl1)
    # |c| < |d|
    rat2 = B.fdiv(c, d)
    scl2 = B.fdiv(one, B.fadd(d, B.fmul(c, rat2)))
    re2 = B.fmul(B.fadd(B.fmul(a, rat2), b), scl2)
    im2 = B.fmul(B.fsub(B.fmul(b, rat2), a), scl2)
    # a zero divisor: a/|c|, b/|d| (infinities and NaNs as NumPy)
    re0, im0 = B.fdiv(a, e.fabs(c)), B.fdiv(b, e.fabs(d))
    re = B.select(zero, re0, B.select(wide, re1, re2))
    im = B.select(zero, im0, B.select(wide, im1, im2))
    return _pack(e, args[0].type, re, im)


def _abs(e, args, in_avals, out_aval, params):
    a, b = _parts(e, args[0])
    B = e.b
    x, y = e.fabs(a), e.fabs(b)
    big = B.select(e.fcmp(">=", x, y), x, y)
    small = B.select(e.fcmp(">=", x, y), y, x)
    r = B.fdiv(small, big)
    res = B.fmul(big, e.call("llvm.sqrt", B.fadd(e.like(r, 1.0), B.fmul(r, r))))
    res = B.select(e.fcmp("==", big, e.like(big, 0.0)), e.like(big, 0.0), res)
    res = B.select(e.b.fcmp_unordered("uno", a, b), B.fadd(a, b), res)   # NaN
    inf = e.like(big, float("inf"))
    return B.select(B.or_(e.fcmp("==", x, inf), e.fcmp("==", y, inf)), inf, res)


def _eq(e, args, in_avals, out_aval, params):
    (a, b), (c, d) = _parts(e, args[0]), _parts(e, args[1])
    return e.b.and_(e.fcmp("==", a, c), e.fcmp("==", b, d))


def _ne(e, args, in_avals, out_aval, params):
    return e.b.not_(_eq(e, args, in_avals, out_aval, params))


def _conj(e, args, in_avals, out_aval, params):
    a, b = _parts(e, args[0])
    return _pack(e, args[0].type, a, e.b.fneg(b))


def _real(e, args, in_avals, out_aval, params):
    return _parts(e, args[0])[0]


def _imag(e, args, in_avals, out_aval, params):
    return _parts(e, args[0])[1]


def _complex(e, args, in_avals, out_aval, params):
    x, y = args
    return _pack(e, ir.VectorType(x.type, 2), x, y)


def _convert(e, args, in_avals, out_aval, params):
    from lowering.cpu import codegen
    x = args[0]
    src, dst = np.dtype(in_avals[0].dtype), np.dtype(out_aval.dtype)
    part = np.dtype(np.float32 if dst.itemsize <= 8 else np.float64) if is_complex(dst) \
        else None
    if is_complex(src) and is_complex(dst):
        if src == dst:
            return x
        ety = ir.VectorType(ir.DoubleType() if dst.itemsize == 16 else ir.FloatType(), 2)
        return e.b.fpext(x, ety) if dst.itemsize > src.itemsize else e.b.fptrunc(x, ety)
    if is_complex(src):  # complex -> real: the real part (as XLA)
        re = _parts(e, x)[0]
        rsrc = np.dtype(np.float32 if src.itemsize == 8 else np.float64)
        return codegen.convert(e, re, rsrc, dst)
    re = codegen.convert(e, x, src, part)
    return _pack(e, ir.VectorType(re.type, 2), re, e.like(re, 0.0))


def _vector(op):
    return lambda e, args, in_avals, out_aval, params: op(e.b, *args)


COMPLEX_RULES = {
    "add": _vector(lambda b, x, y: b.fadd(x, y)),
    "add_any": _vector(lambda b, x, y: b.fadd(x, y)),
    "sub": _vector(lambda b, x, y: b.fsub(x, y)),
    "neg": _vector(lambda b, x: b.fneg(x)),
    "mul": _mul, "div": _div, "abs": _abs, "eq": _eq, "ne": _ne, "conj": _conj,
    "real": _real, "imag": _imag, "complex": _complex, "convert_element_type": _convert,
    "copy": lambda e, args, *_: args[0], "stop_gradient": lambda e, args, *_: args[0],
}
