"""complex64 and complex128 in loop kernels: a value is an LLVM ``<2 x float>`` (or
``<2 x double>``) vector of real and imaginary parts, loaded and stored as NumPy lays
them out.

Invariants: ``mul``, ``div``, ``abs`` and ``sign`` compute XLA's formulas
(lowering/cpu/complex_xla.py: fused multiply-adds, Smith's division by the scaled
denominator with C99 Annex G recovery), bit for bit as jax.jit on operands, intermediates
and results that are not subnormal (XLA flushes those to zero; this code does not). Every
rule works on the parts as scalars and only packs its result, so that a loop whose loads
and stores go part by part (``load``/``store``) holds no vector-typed value after LLVM's
instcombine and the loop vectorizer can widen it. Sums and products reduce in loop
kernels (``COMPLEX_REDUCTIONS``: ``reduce_sum`` adds the vectors, reassociation allowed
as for real sums; ``reduce_prod`` multiplies in order with ``mul``, XLA's order where
every reduced dim has at most 32 elements); matrix products are
``cblas_cgemm``/``cblas_zgemm`` calls (``lowering.cpu.blas``); transcendental
functions keep their eager impls.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir

from lowering.cpu import complex_xla
from lowering.cpu.irutil import I32, I64, Emit

__all__ = ["COMPLEX_RULES", "COMPLEX_REDUCTIONS", "is_complex", "mul", "load", "store"]

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


def _part_ptrs(b: ir.IRBuilder, ptr, part):
    return ptr, b.gep(ptr, [ir.Constant(I64, 1)], inbounds=True, source_etype=part)


def load(b: ir.IRBuilder, ptr, dtype) -> ir.Value:
    """The complex element of ``dtype`` at ``ptr`` in register form, read as two scalar
    loads (a ``<2 x T>`` load would keep the loop vectorizer off the loop).

    Example: ``z = load(builder, address, np.complex64)``."""
    e = Emit(b, None)
    part = ir.FloatType() if np.dtype(dtype).itemsize == 8 else ir.DoubleType()
    align = np.dtype(dtype).alignment
    re_ptr, im_ptr = _part_ptrs(b, ptr, part)
    return _pack(e, ir.VectorType(part, 2), b.load(re_ptr, typ=part, align=align),
                 b.load(im_ptr, typ=part, align=align))


def store(b: ir.IRBuilder, value, ptr, dtype) -> None:
    """Store register-form complex ``value`` (of ``dtype``) at ``ptr`` as two scalar
    stores (see ``load``).

    Example: ``store(builder, z, address, np.complex64)``."""
    re, im = _parts(Emit(b, None), value)
    align = np.dtype(dtype).alignment
    re_ptr, im_ptr = _part_ptrs(b, ptr, re.type)
    b.store(re, re_ptr, align=align)
    b.store(im, im_ptr, align=align)


def mul(e: Emit, x, y):
    """The complex product ``x * y`` of two register-form values (XLA's rounding:
    ``complex_xla.mul``)."""
    return _pack(e, x.type, *complex_xla.mul(e, *_parts(e, x), *_parts(e, y)))


def _mul(e, args, in_avals, out_aval, params):
    return mul(e, args[0], args[1])


def _div(e, args, in_avals, out_aval, params):
    return _pack(e, args[0].type, *complex_xla.div(e, *_parts(e, args[0]),
                                                   *_parts(e, args[1])))


def _abs(e, args, in_avals, out_aval, params):
    return complex_xla.magnitude(e, *_parts(e, args[0]))


def _sign(e, args, in_avals, out_aval, params):
    return _pack(e, args[0].type, *complex_xla.sign(e, *_parts(e, args[0])))


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
        ety = ir.DoubleType() if dst.itemsize == 16 else ir.FloatType()
        cast = e.b.fpext if dst.itemsize > src.itemsize else e.b.fptrunc
        return _pack(e, ir.VectorType(ety, 2), *[cast(p, ety) for p in _parts(e, x)])
    if is_complex(src):  # complex -> real: the real part (as XLA)
        re = _parts(e, x)[0]
        rsrc = np.dtype(np.float32 if src.itemsize == 8 else np.float64)
        return codegen.convert(e, re, rsrc, dst)
    re = codegen.convert(e, x, src, part)
    return _pack(e, ir.VectorType(re.type, 2), re, e.like(re, 0.0))


def _partwise(op):
    """A rule applying real ``op`` (a builder method's name) to the parts one by one."""
    def rule(e, args, in_avals, out_aval, params):
        parts = zip(*[_parts(e, a) for a in args])
        return _pack(e, args[0].type, *[getattr(e.b, op)(*p) for p in parts])
    return rule


COMPLEX_RULES = {
    "add": _partwise("fadd"), "add_any": _partwise("fadd"), "sub": _partwise("fsub"),
    "neg": _partwise("fneg"),
    "mul": _mul, "div": _div, "abs": _abs, "sign": _sign, "eq": _eq, "ne": _ne, "conj": _conj,
    "real": _real, "imag": _imag, "complex": _complex, "convert_element_type": _convert,
    "copy": lambda e, args, *_: args[0], "stop_gradient": lambda e, args, *_: args[0],
}
