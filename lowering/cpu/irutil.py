"""Small helpers over llvmlite's IR builder: LLVM types for NumPy dtypes, constants,
intrinsic declarations and float arithmetic with the fast-math flags fx allows.

Invariants: in registers a bool is ``i1``, float16 and bfloat16 are ``float``
(computed in float32, rounded back after every operation, as NumPy does) and every
other dtype is its natural LLVM type; in memory a bool is one byte, float16 is
``half`` and bfloat16 ``i16``. Float arithmetic carries only the
``contract`` flag (a multiply and an add may fuse into an FMA, as XLA allows);
reductions add ``reassoc`` on their accumulating operation alone.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np
from llvmlite import ir

from lowering.kernel_common import is_float  # noqa: F401  (re-exported)

__all__ = ["Emit", "for_range", "memcpy", "declare", "reg_type", "mem_type",
           "is_float", "is_signed", "SUPPORTED_DTYPES",
           "LOW_FLOATS", "LOOP_DTYPES",
           "I1", "I8", "I32", "I64", "F32", "F64", "PTR", "VOID"]

I1, I8, I16, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(16), ir.IntType(32), \
    ir.IntType(64)
F32, F64 = ir.FloatType(), ir.DoubleType()
PTR = ir.PointerType()
VOID = ir.VoidType()

SUPPORTED_DTYPES = frozenset(np.dtype(d) for d in (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
    np.uint64, np.float32, np.float64))
#: 16-bit floats: stored as such, computed in float32 registers
LOW_FLOATS = frozenset({np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16)})
#: dtypes of the loop and reduction kernels (library calls stay on SUPPORTED_DTYPES)
LOOP_DTYPES = SUPPORTED_DTYPES | LOW_FLOATS | {np.dtype(np.complex64),
                                                np.dtype(np.complex128)}
_BF16 = np.dtype(ml_dtypes.bfloat16)

_FLOAT_FLAGS = ("contract",)


def reg_type(dtype: np.dtype) -> ir.Type:
    """The LLVM type holding one element of ``dtype`` in a register."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return I1
    if dtype == np.float32 or dtype in LOW_FLOATS:
        return F32
    if dtype.kind == "c":  # (real, imaginary)
        return ir.VectorType(F32 if dtype.itemsize == 8 else F64, 2)
    if dtype == np.float64:
        return F64
    if dtype.kind in "iu":
        return ir.IntType(dtype.itemsize * 8)
    raise TypeError(f"no CPU register type for dtype {dtype}")


def mem_type(dtype: np.dtype) -> ir.Type:
    """The LLVM type of one element of ``dtype`` in memory."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return I8
    if dtype == np.float16:
        return ir.HalfType()
    if dtype == _BF16:
        return I16
    return reg_type(dtype)


def is_signed(dtype) -> bool:
    return is_float(dtype) or np.dtype(dtype).kind == "i"


def kind(dtype) -> str:
    """NumPy's kind letter, with bfloat16 a float (``"f"``)."""
    return "f" if is_float(dtype) else np.dtype(dtype).kind


def load_low(b: ir.IRBuilder, raw, dtype):
    """A loaded float16 (``half``) or bfloat16 (``i16``) value as ``float``."""
    if np.dtype(dtype) == np.float16:
        return b.fpext(raw, F32)
    return b.bitcast(b.shl(b.zext(raw, I32), ir.Constant(I32, 16)), F32)


def store_low(b: ir.IRBuilder, value, dtype):
    """``float`` ``value`` rounded (to nearest even) to float16 or bfloat16 bits."""
    if np.dtype(dtype) == np.float16:
        return b.fptrunc(value, ir.HalfType())
    bits = b.bitcast(value, I32)
    lsb = b.and_(b.lshr(bits, ir.Constant(I32, 16)), ir.Constant(I32, 1))
    rounded = b.lshr(b.add(b.add(bits, ir.Constant(I32, 0x7FFF)), lsb), ir.Constant(I32, 16))
    quiet = b.or_(b.lshr(bits, ir.Constant(I32, 16)), ir.Constant(I32, 0x40))  # NaN stays NaN
    isnan = b.fcmp_unordered("uno", value, value)
    return b.trunc(b.select(isnan, quiet, rounded), I16)


def round_low(b: ir.IRBuilder, value, dtype):
    """``float`` ``value`` rounded to float16/bfloat16 precision (kept as ``float``)."""
    return load_low(b, store_low(b, value, dtype), dtype)


def _suffix(ty: ir.Type) -> str:
    if ty == F32:
        return "f32"
    if ty == F64:
        return "f64"
    if isinstance(ty, ir.IntType):
        return f"i{ty.width}"
    raise TypeError(f"no intrinsic suffix for {ty}")


class Emit:
    """An IR builder with typed constants, intrinsics and fx's float flags."""

    def __init__(self, builder: ir.IRBuilder, module: ir.Module):
        self.b = builder
        self.module = module

    # constants --------------------------------------------------------------
    @staticmethod
    def const(ty: ir.Type, value) -> ir.Constant:
        if isinstance(ty, ir.VectorType):  # a complex number
            z = complex(value)
            return ir.Constant(ty, [ir.Constant(ty.element, z.real),
                                    ir.Constant(ty.element, z.imag)])
        if isinstance(ty, (ir.FloatType, ir.DoubleType)):
            return ir.Constant(ty, float(value))
        if ty == I1:
            return ir.Constant(I1, int(bool(value)))
        return ir.Constant(ty, int(value) & ((1 << ty.width) - 1))

    def like(self, x: ir.Value, value) -> ir.Constant:
        return self.const(x.type, value)

    # intrinsics -------------------------------------------------------------
    def intrinsic(self, name: str, ret: ir.Type, args, suffix: str | None = None):
        full = f"{name}.{suffix}" if suffix else f"{name}.{_suffix(ret)}"
        fn = self.module.globals.get(full)
        if fn is None:
            fn = ir.Function(self.module, ir.FunctionType(ret, args), full)
        return fn

    def call(self, name: str, *args, ret: ir.Type | None = None, suffix: str | None = None):
        ret = args[0].type if ret is None else ret
        fn = self.intrinsic(name, ret, [a.type for a in args], suffix)
        return self.b.call(fn, list(args))

    # float arithmetic -------------------------------------------------------
    def fadd(self, a, b):
        return self.b.fadd(a, b, flags=_FLOAT_FLAGS)

    def fsub(self, a, b):
        return self.b.fsub(a, b, flags=_FLOAT_FLAGS)

    def fmul(self, a, b):
        return self.b.fmul(a, b, flags=_FLOAT_FLAGS)

    def fdiv(self, a, b):
        return self.b.fdiv(a, b, flags=_FLOAT_FLAGS)

    def fma(self, a, b, c):
        return self.call("llvm.fma", a, b, c)

    def horner(self, x, coeffs):
        """``coeffs[0] + x*(coeffs[1] + x*(...))`` with FMAs."""
        acc = self.like(x, coeffs[-1])
        for c in reversed(coeffs[:-1]):
            acc = self.fma(acc, x, self.like(x, c))
        return acc

    def select(self, cond, a, b):
        return self.b.select(cond, a, b)

    def fcmp(self, op: str, a, b):
        """Ordered comparison (false when either side is NaN); ``!=`` is unordered."""
        if op == "!=":
            return self.b.fcmp_unordered("!=", a, b)
        return self.b.fcmp_ordered(op, a, b)

    def isnan(self, x):
        return self.b.fcmp_unordered("uno", x, x)

    def fabs(self, x):
        return self.call("llvm.fabs", x)

    def copysign(self, mag, sign):
        return self.call("llvm.copysign", mag, sign)

    def fmin_clamp(self, x, lo, hi):
        """x clamped to [lo, hi]; NaN stays NaN."""
        x = self.select(self.fcmp(">", x, self.like(x, hi)), self.like(x, hi), x)
        return self.select(self.fcmp("<", x, self.like(x, lo)), self.like(x, lo), x)

    def rint(self, x):
        return self.call("llvm.rint", x)

    def to_int_sat(self, x, ty, signed=True):
        name = "llvm.fptosi.sat" if signed else "llvm.fptoui.sat"
        fn = self.intrinsic(name, ty, [x.type], suffix=f"{_suffix(ty)}.{_suffix(x.type)}")
        return self.b.call(fn, [x])



def for_range(b: ir.IRBuilder, count, body, name: str = "loop") -> None:
    """``for i in range(count): body(i)`` at the builder's position (``count``: an int or
    an ``i64`` value); the builder is left after the loop."""
    fn = b.function
    pre = b.block
    head, loop, done = (fn.append_basic_block(f"{name}.{s}") for s in ("head", "body", "done"))
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(I64)
    i.add_incoming(ir.Constant(I64, 0), pre)
    stop = ir.Constant(I64, count) if isinstance(count, int) else count
    b.cbranch(b.icmp_signed("<", i, stop), loop, done)
    b.position_at_end(loop)
    body(i)
    i.add_incoming(b.add(i, ir.Constant(I64, 1)), b.block)
    b.branch(head)
    b.position_at_end(done)


def memcpy(module: ir.Module, b: ir.IRBuilder, dst, src, nbytes: int,
           overlapping: bool = False) -> None:
    """Copy ``nbytes`` (a constant) from ``src`` to ``dst`` (``llvm.memmove`` when the two
    may overlap); nothing for 0 bytes."""
    if not nbytes:
        return
    name = "llvm.memmove.p0.p0.i64" if overlapping else "llvm.memcpy.p0.p0.i64"
    fn = declare(module, name, ir.FunctionType(VOID, [PTR, PTR, I64, I1]))
    b.call(fn, [dst, src, ir.Constant(I64, nbytes), ir.Constant(I1, 0)])


def declare(module: ir.Module, name: str, fnty: ir.FunctionType) -> ir.Function:
    """The declaration of external function ``name`` in ``module`` (created once)."""
    fn = module.globals.get(name)
    if fn is None:
        fn = ir.Function(module, fnty, name)
    return fn
