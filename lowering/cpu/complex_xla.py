"""XLA's CPU formulas for complex ``mul``, ``div``, ``abs`` and ``sign``, emitted on the
real and imaginary parts as scalars (LLVM IR), so a loop over them vectorizes.

Read from the code XLA emits for jitted JAX programs (the formulas as checked bit for bit
by tests/lowering/test_complex_codegen_parity.py; the eager impls run the same formulas
as native loops, lowering/cpu/complex_eager.py):
- ``mul``: ``re = fma(a, c, -(b d))``, ``im = fma(b, c, a d)``;
- ``div``: Smith's method dividing by the scaled denominator (no reciprocal) with fused
  multiply-adds, and C99 Annex G's infinities and zeros where both parts come out NaN;
- ``abs``: ``max * sqrt(fma(r, r, 1))`` with ``r = min / max`` (NaN-propagating min and
  max of the magnitudes), ``min`` where that is NaN (two zeros, two infinities);
- ``sign``: ``z / |z|`` part by part, ``z`` itself where both parts compare equal to 0.

Invariants: every formula is branch-free (selects) and calls only intrinsics with vector
forms (``llvm.fma``, ``llvm.sqrt``, ``llvm.fabs``, ``llvm.copysign``, ``llvm.maximum``,
``llvm.minimum``); float operations carry no fast-math flags, so LLVM neither contracts
nor reassociates them. Where the host has no FMA unit the fused multiply-adds become a
multiply and an add (as XLA compiles them there). XLA also runs with denormals flushed
to zero (MXCSR DAZ/FTZ); this code does not emulate that (it cost 4-15x the time): where
an operand, an intermediate or a result is subnormal, bits may differ from JAX's.
"""
from __future__ import annotations

import functools

from lowering.cpu.irutil import Emit

__all__ = ["has_fma", "mul", "div", "magnitude", "sign"]


@functools.cache
def has_fma() -> bool:
    """Whether the host CPU (the target of the loop kernels) has fused multiply-add."""
    from lowering.cpu import runtime
    return "+fma" in runtime.host_info()["features"].split(",")


def _fma(e: Emit, x, y, z):
    """``x * y + z``, rounded once where the host has FMA (else twice)."""
    if has_fma():
        return e.call("llvm.fma", x, y, z)
    return e.b.fadd(e.b.fmul(x, y), z)


def mul(e: Emit, a, b, c, d):
    """``(a + bi) * (c + di)`` as ``(re, im)``: ``fma(a, c, -(b d))``, ``fma(b, c, a d)``."""
    B = e.b
    return _fma(e, a, c, B.fneg(B.fmul(b, d))), _fma(e, b, c, B.fmul(a, d))


def _unit(e: Emit, flag, like):
    """``copysign(flag ? 1 : 0, like)``."""
    return e.copysign(e.b.select(flag, e.like(like, 1.0), e.like(like, 0.0)), like)


def div(e: Emit, a, b, c, d):
    """``(a + bi) / (c + di)`` as ``(re, im)`` (Smith's method, Annex G recovery).

    Where ``|c| < |d|``: ``r = c / d``, ``den = fma(r, c, d)``, ``re = fma(a, r, b) / den``,
    ``im = fma(b, r, -a) / den``; else (NaNs too) the same with the roles of ``c`` and
    ``d`` swapped (``re = fma(b, r, a) / den``, ``im = fma(-a, r, b) / den``). The branch
    is chosen by selecting operands, so one set of three divisions serves both.
    """
    B = e.b
    inf, zero = e.like(a, float("inf")), e.like(a, 0.0)
    abs_a, abs_b, abs_c, abs_d = e.fabs(a), e.fabs(b), e.fabs(c), e.fabs(d)
    narrow = e.fcmp("<", abs_c, abs_d)
    neg_a = B.fneg(a)
    p, q = B.select(narrow, c, d), B.select(narrow, d, c)
    r = B.fdiv(p, q)
    den = _fma(e, r, p, q)
    re = B.fdiv(_fma(e, B.select(narrow, a, b), r, B.select(narrow, b, a)), den)
    im = B.fdiv(_fma(e, B.select(narrow, b, neg_a), r, B.select(narrow, neg_a, b)), den)
    # C99 Annex G, where both parts are NaN: a zero divisor, an infinite numerator, an
    # infinite divisor ("!=" compares unordered: a NaN counts as not infinite)
    zero_div = B.and_(B.and_(e.fcmp("==", abs_c, zero), e.fcmp("==", abs_d, zero)),
                      B.or_(B.not_(e.isnan(a)), B.not_(e.isnan(b))))
    scale = e.copysign(inf, c)
    re_zero, im_zero = B.fmul(scale, a), B.fmul(scale, b)
    a_inf, b_inf = e.fcmp("==", abs_a, inf), e.fcmp("==", abs_b, inf)
    inf_num = B.and_(B.or_(a_inf, b_inf),
                     B.and_(e.fcmp("!=", abs_c, inf), e.fcmp("!=", abs_d, inf)))
    a1, b1 = _unit(e, a_inf, a), _unit(e, b_inf, b)
    re_inf = B.fmul(_fma(e, a1, c, B.fmul(b1, d)), inf)
    im_inf = B.fmul(_fma(e, b1, c, B.fneg(B.fmul(a1, d))), inf)
    c_inf, d_inf = e.fcmp("==", abs_c, inf), e.fcmp("==", abs_d, inf)
    inf_den = B.and_(B.and_(e.fcmp("!=", abs_a, inf), e.fcmp("!=", abs_b, inf)),
                     B.or_(c_inf, d_inf))
    c1, d1 = _unit(e, c_inf, c), _unit(e, d_inf, d)
    re_den = B.fmul(_fma(e, b, d1, B.fmul(a, c1)), zero)
    im_den = B.fmul(_fma(e, neg_a, d1, B.fmul(b, c1)), zero)
    fix_re = B.select(zero_div, re_zero,
                      B.select(inf_num, re_inf, B.select(inf_den, re_den, re)))
    fix_im = B.select(zero_div, im_zero,
                      B.select(inf_num, im_inf, B.select(inf_den, im_den, im)))
    both_nan = B.and_(e.isnan(re), e.isnan(im))
    return B.select(both_nan, fix_re, re), B.select(both_nan, fix_im, im)


def magnitude(e: Emit, a, b):
    """``|a + bi|``: ``max * sqrt(fma(r, r, 1))``, ``r = min / max`` (NaN-propagating min
    and max of ``|a|``, ``|b|``); ``min`` where that is NaN (zeros, two infinities, NaNs)."""
    x, y = e.fabs(a), e.fabs(b)
    big, small = e.call("llvm.maximum", x, y), e.call("llvm.minimum", x, y)
    r = e.b.fdiv(small, big)
    h = e.b.fmul(big, e.call("llvm.sqrt", _fma(e, r, r, e.like(r, 1.0))))
    return e.b.select(e.isnan(h), small, h)


def sign(e: Emit, a, b):
    """``(a + bi) / |a + bi|`` as ``(re, im)`` (each part divided by the magnitude);
    ``(a, b)`` itself where both compare equal to zero."""
    h = magnitude(e, a, b)
    zero = e.b.and_(e.fcmp("==", a, e.like(a, 0.0)), e.fcmp("==", b, e.like(b, 0.0)))
    return (e.b.select(zero, a, e.b.fdiv(a, h)), e.b.select(zero, b, e.b.fdiv(b, h)))
