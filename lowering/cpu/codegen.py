"""Scalar code generation: one rule per elementwise primitive, keyed by the
primitive objects of ``primitives``, turning operand values into the result
value (the loops in ``loops.py`` call these once per element).

Invariants: a rule is ``rule(e, args, in_avals, out_aval, params) -> value`` with
``args`` in register form (bool is ``i1``); it emits branch-free IR so that the
loop vectorizer can widen it. Semantics follow the eager impls (XLA's): integer
division by zero gives -1 (all ones), ``x % 0`` gives x, out-of-range shifts
saturate, float-to-int conversion saturates with NaN -> 0, max/min propagate
NaN. ``supports(eqn)`` says whether an equation of an elementwise or index
primitive can be generated; everything else falls back to the eager impl.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir

import primitives
from lowering.cpu import mathfns, special_math
from lowering.cpu.irutil import (I1, LOOP_DTYPES, LOW_FLOATS, Emit, is_float, kind,
                                  reg_type)

__all__ = ["RULES", "supports", "convert", "INDEX_PRIMITIVES", "REDUCTION_PRIMITIVES"]

P = primitives.registry
RULES: dict = {}
_DTYPE_OK: dict = {}  # primitive -> predicate(in_avals, out_aval, params)


def rule(name, dtypes=None):
    """Register the decorated function as the scalar rule of primitive ``name``.

    ``dtypes`` limits the operand dtype kinds (``"f"``, ``"iu"``, ``"b"``...) or names.
    """
    def deco(fn):
        prim = P[name]
        RULES[prim] = fn
        if dtypes is not None:
            _DTYPE_OK[prim] = dtypes
        return fn
    return deco


def _dtype_allowed(spec, dtype) -> bool:
    dtype = np.dtype(dtype)
    if isinstance(spec, tuple):  # 16-bit floats compute in float32 registers
        return dtype.name in spec or (dtype in LOW_FLOATS and "float32" in spec)
    return kind(dtype) in spec


# ---------------------------------------------------------------------------
# arithmetic


def _binary_float_int(float_op, signed_op, unsigned_op):
    def fn(e, args, in_avals, out_aval, params):
        x, y = args
        dtype = in_avals[0].dtype
        if is_float(dtype):
            return float_op(e, x, y)
        return (signed_op if dtype.kind == "i" else unsigned_op)(e, x, y)
    return fn


RULES_SIMPLE = {
    "add": _binary_float_int(lambda e, x, y: e.fadd(x, y), lambda e, x, y: e.b.add(x, y),
                             lambda e, x, y: e.b.add(x, y)),
    "sub": _binary_float_int(lambda e, x, y: e.fsub(x, y), lambda e, x, y: e.b.sub(x, y),
                             lambda e, x, y: e.b.sub(x, y)),
    "mul": _binary_float_int(lambda e, x, y: e.fmul(x, y), lambda e, x, y: e.b.mul(x, y),
                             lambda e, x, y: e.b.mul(x, y)),
}
for _name, _fn in RULES_SIMPLE.items():
    rule(_name, "fiu")(_fn)
rule("add_any", "fiu")(RULES_SIMPLE["add"])


@rule("square", "fiu")
def _square(e, args, in_avals, out_aval, params):
    """``x * x``, as XLA expands it (integers wrap)."""
    return RULES_SIMPLE["mul"](e, (args[0], args[0]), in_avals * 2, out_aval, params)


@rule("div", "fiu")
def _div(e, args, in_avals, out_aval, params):
    x, y = args
    dtype = in_avals[0].dtype
    if is_float(dtype):
        return e.fdiv(x, y)
    zero, one = e.like(y, 0), e.like(y, 1)
    y_zero = e.b.icmp_unsigned("==", y, zero)
    if dtype.kind == "u":
        q = e.b.udiv(x, e.select(y_zero, one, y))
        return e.select(y_zero, e.like(x, -1), q)
    bits = dtype.itemsize * 8
    overflow = e.b.and_(e.b.icmp_signed("==", y, e.like(y, -1)),
                        e.b.icmp_signed("==", x, e.like(x, -(1 << (bits - 1)))))
    safe = e.select(e.b.or_(y_zero, overflow), one, y)
    q = e.b.sdiv(x, safe)
    return e.select(y_zero, e.like(x, -1), q)


@rule("nextafter", ("float32", "float64"))
def _nextafter(e, args, in_avals, out_aval, params):
    """The float after x towards y (np.nextafter: subnormals included, NaN propagates)."""
    x, y = args
    ity = ir.IntType(64 if x.type == ir.DoubleType() else 32)
    bits = e.b.bitcast(x, ity)
    # moving away from zero adds one to the magnitude's bits, towards zero subtracts one
    away = e.b.icmp_unsigned("!=", e.fcmp("<", x, y), e.fcmp("<", x, e.like(x, 0.0)))
    step = e.b.add(bits, e.select(away, e.const(ity, 1), e.const(ity, -1)))
    out = e.b.bitcast(step, x.type)
    tiny = e.b.bitcast(e.const(ity, 1), x.type)
    from_zero = e.copysign(tiny, y)
    out = e.select(e.fcmp("==", x, e.like(x, 0.0)), from_zero, out)
    out = e.select(e.fcmp("==", x, y), y, out)
    return e.select(e.b.or_(e.isnan(x), e.isnan(y)), e.b.fadd(x, y), out)


@rule("rem", "fiu")
def _rem(e, args, in_avals, out_aval, params):
    x, y = args
    dtype = in_avals[0].dtype
    if is_float(dtype):
        return e.b.frem(x, y)
    zero, one = e.like(y, 0), e.like(y, 1)
    y_zero = e.b.icmp_unsigned("==", y, zero)
    if dtype.kind == "u":
        return e.select(y_zero, x, e.b.urem(x, e.select(y_zero, one, y)))
    minus_one = e.b.icmp_signed("==", y, e.like(y, -1))
    safe = e.select(e.b.or_(y_zero, minus_one), one, y)
    r = e.b.srem(x, safe)
    r = e.select(minus_one, e.like(x, 0), r)
    return e.select(y_zero, x, r)


@rule("neg", "fiu")
def _neg(e, args, in_avals, out_aval, params):
    (x,) = args
    return e.b.fneg(x) if is_float(in_avals[0].dtype) else e.b.sub(e.like(x, 0), x)


def _minmax(float_name, signed, unsigned, bool_op):
    def fn(e, args, in_avals, out_aval, params):
        x, y = args
        dtype = in_avals[0].dtype
        if dtype == np.bool_:
            return bool_op(e, x, y)
        if is_float(dtype):
            return e.call(float_name, x, y)
        return e.call(signed if dtype.kind == "i" else unsigned, x, y)
    return fn


rule("max")(_minmax("llvm.maximum", "llvm.smax", "llvm.umax", lambda e, x, y: e.b.or_(x, y)))
rule("min")(_minmax("llvm.minimum", "llvm.smin", "llvm.umin", lambda e, x, y: e.b.and_(x, y)))


@rule("abs", "fiu")
def _abs(e, args, in_avals, out_aval, params):
    (x,) = args
    dtype = in_avals[0].dtype
    if is_float(dtype):
        return e.fabs(x)
    if dtype.kind == "u":
        return x
    return e.select(e.b.icmp_signed("<", x, e.like(x, 0)), e.b.sub(e.like(x, 0), x), x)


@rule("sign", "fiu")
def _sign(e, args, in_avals, out_aval, params):
    (x,) = args
    dtype = in_avals[0].dtype
    if is_float(dtype):
        pos = e.select(e.fcmp(">", x, e.like(x, 0.0)), e.like(x, 1.0), x)
        return e.select(e.fcmp("<", x, e.like(x, 0.0)), e.like(x, -1.0), pos)
    if dtype.kind == "u":
        return e.b.zext(e.b.icmp_unsigned("!=", x, e.like(x, 0)), x.type)
    pos = e.b.zext(e.b.icmp_signed(">", x, e.like(x, 0)), x.type)
    neg = e.b.zext(e.b.icmp_signed("<", x, e.like(x, 0)), x.type)
    return e.b.sub(pos, neg)


# (sqrt, rsqrt and cbrt are lowering/cpu/mathfns.py's, below: float64 as XLA rounds it)
for _name, _intr in (("floor", "llvm.floor"), ("ceil", "llvm.ceil")):
    rule(_name, "f")(lambda e, args, ia, oa, params, _intr=_intr: e.call(_intr, args[0]))


@rule("round", "f")
def _round(e, args, in_avals, out_aval, params):
    method = params.get("rounding_method", 0)
    even = method in (1, "TO_NEAREST_EVEN") or str(method).endswith("EVEN")
    return e.call("llvm.roundeven" if even else "llvm.round", args[0])


@rule("is_finite", "f")
def _is_finite(e, args, in_avals, out_aval, params):
    (x,) = args
    return e.fcmp("<", e.fabs(x), e.like(x, math.inf))


def _transcendental(name, fn):
    dtypes = mathfns.TRANSCENDENTAL_DTYPES[name]
    if name in mathfns.ROUNDS_EACH_STEP:  # (float16/bfloat16 round each step, as XLA)
        rule(name, dtypes)(lambda e, args, ia, oa, params: fn(e, args[0], oa.dtype))
    else:
        rule(name, dtypes)(lambda e, args, ia, oa, params: fn(e, args[0]))


for _name in mathfns.TRANSCENDENTAL_DTYPES:
    _transcendental(_name, getattr(mathfns, _name))
for _name in ("lgamma", "digamma"):  # lowering/cpu/special_math.py
    rule(_name, special_math.SPECIAL_DTYPES)(
        lambda e, args, ia, oa, params, fn=getattr(special_math, _name): fn(e, args[0]))


@rule("pow", ("float32", "float64"))
def _pow(e, args, in_avals, out_aval, params):
    x, y = args
    if in_avals[1].dtype.kind in "iu":
        signed = in_avals[1].dtype.kind == "i"
        y = e.b.sitofp(y, x.type) if signed else e.b.uitofp(y, x.type)
    return mathfns.pow(e, x, y)


@rule("atan2", ("float64",))
def _atan2(e, args, in_avals, out_aval, params):
    return mathfns.atan2(e, *args)


@rule("integer_pow", "fiu")
def _integer_pow(e, args, in_avals, out_aval, params):
    (x,) = args
    y = params["y"]
    flt = is_float(in_avals[0].dtype)
    mul = e.fmul if flt else e.b.mul
    if y == 0:
        return e.like(x, 1)
    acc, base, n = None, x, abs(y)
    while n:
        if n & 1:
            acc = base if acc is None else mul(acc, base)
        n >>= 1
        if n:
            base = mul(base, base)
    if y < 0:
        return e.b.fdiv(e.like(x, 1.0), acc) if flt else acc
    return acc


# ---------------------------------------------------------------------------
# comparisons and logic

_FLOAT_CMP = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _compare(op):
    def fn(e, args, in_avals, out_aval, params):
        x, y = args
        dtype = in_avals[0].dtype
        if is_float(dtype):
            return e.fcmp(op, x, y)
        if dtype.kind == "i":
            return e.b.icmp_signed(op, x, y)
        return e.b.icmp_unsigned(op, x, y)
    return fn


for _name, _op in _FLOAT_CMP.items():
    rule(_name, "fiub")(_compare(_op))

rule("and", "iub")(lambda e, args, ia, oa, params: e.b.and_(*args))
rule("or", "iub")(lambda e, args, ia, oa, params: e.b.or_(*args))
rule("xor", "iub")(lambda e, args, ia, oa, params: e.b.xor(*args))
rule("not", "iub")(lambda e, args, ia, oa, params: e.b.not_(args[0]))


def _shift(kind):
    def fn(e, args, in_avals, out_aval, params):
        x, y = args
        dtype = in_avals[0].dtype
        bits = dtype.itemsize * 8
        ok = e.b.icmp_unsigned("<", y, e.like(y, bits))
        safe = e.select(ok, y, e.like(y, 0))
        if kind == "left":
            return e.select(ok, e.b.shl(x, safe), e.like(x, 0))
        if kind == "logical" or dtype.kind == "u":
            return e.select(ok, e.b.lshr(x, safe), e.like(x, 0))
        return e.b.ashr(x, e.select(ok, y, e.like(y, bits - 1)))
    return fn


rule("shift_left", "iu")(_shift("left"))
rule("shift_right_logical", "iu")(_shift("logical"))
rule("shift_right_arithmetic", "iu")(_shift("arithmetic"))
rule("population_count", "iu")(lambda e, args, ia, oa, params: e.call("llvm.ctpop", args[0]))


@rule("clz", "iu")
def _clz(e, args, in_avals, out_aval, params):
    (x,) = args
    fn = e.intrinsic("llvm.ctlz", x.type, [x.type, I1])
    return e.b.call(fn, [x, e.const(I1, 0)])


# ---------------------------------------------------------------------------
# selection, clamping, conversion, identities


@rule("select_n")
def _select_n(e, args, in_avals, out_aval, params):
    which, *cases = args
    if len(cases) == 1:
        return cases[0]
    if in_avals[0].dtype == np.bool_:
        return e.select(which, cases[1], cases[0])
    out = cases[0]
    for i in range(1, len(cases)):
        out = e.select(e.b.icmp_signed(">=", which, e.like(which, i)), cases[i], out)
    return out


@rule("clamp", "fiu")
def _clamp(e, args, in_avals, out_aval, params):
    lo, x, hi = args
    dtype = in_avals[1].dtype
    if is_float(dtype):
        return e.call("llvm.minimum", e.call("llvm.maximum", x, lo), hi)
    smax, smin = ("llvm.smax", "llvm.smin") if dtype.kind == "i" else ("llvm.umax", "llvm.umin")
    return e.call(smin, e.call(smax, x, lo), hi)


def convert(e: Emit, x, src: np.dtype, dst: np.dtype):
    """``x`` (register form of ``src``) converted as ``convert_element_type`` does."""
    src, dst = np.dtype(src), np.dtype(dst)
    if src == dst:
        return x
    dty = reg_type(dst)
    if dst == np.bool_:
        if is_float(src):
            return e.fcmp("!=", x, e.like(x, 0.0))
        return e.b.icmp_unsigned("!=", x, e.like(x, 0))
    if src == np.bool_:
        return e.b.uitofp(x, dty) if is_float(dst) else e.b.zext(x, dty)
    if is_float(src) and is_float(dst):  # (16-bit results are rounded by the caller)
        if x.type == dty:
            return x
        return e.b.fpext(x, dty) if dty == ir.DoubleType() else e.b.fptrunc(x, dty)
    if is_float(src):
        return e.to_int_sat(x, dty, signed=dst.kind == "i")
    if is_float(dst):
        return e.b.sitofp(x, dty) if src.kind == "i" else e.b.uitofp(x, dty)
    if dst.itemsize == src.itemsize:
        return x
    if dst.itemsize < src.itemsize:
        return e.b.trunc(x, dty)
    return e.b.sext(x, dty) if src.kind == "i" else e.b.zext(x, dty)


@rule("convert_element_type")
def _convert(e, args, in_avals, out_aval, params):
    return convert(e, args[0], in_avals[0].dtype, out_aval.dtype)


@rule("bitcast_convert_type", "fiu")
def _bitcast(e, args, in_avals, out_aval, params):
    return e.b.bitcast(args[0], reg_type(out_aval.dtype))


def _identity(e, args, in_avals, out_aval, params):
    return args[0]


rule("copy")(_identity)
rule("stop_gradient")(_identity)

# ---------------------------------------------------------------------------
# what the CPU backend generates

INDEX_PRIMITIVES = frozenset(P[n] for n in (
    "broadcast_in_dim", "reshape", "transpose", "iota", "slice", "pad", "concatenate", "rev",
    "dynamic_slice", "dynamic_update_slice", "squeeze", "expand_dims"))
REDUCTION_PRIMITIVES = frozenset(P[n] for n in (
    "reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "reduce_and", "reduce_or",
    "reduce_xor", "argmax", "argmin"))
_LIBRARY = frozenset({P["dot_general"]})
#: library calls whose own ``supports`` handles complex dtypes (LAPACK: lib_lapack_spectral)
_COMPLEX_LIBRARY = frozenset({"qr", "eigh", "svd", "eig", "fft"})


def supports(eqn) -> bool | str:
    """Whether the CPU backend generates native code for ``eqn`` (else: eager fallback);
    ``lowering.fusion.FUSE_WINDOW`` (a true value) for a windowed reduction it emits as
    a fusion group of its own."""
    prim = eqn.primitive
    if prim is P["reduce_sum"] and eqn.params.get("order") is not None:
        return False  # XLA's order of additions: the eager impl (primitives/reduce_order.py)
    avals = [v.aval for v in eqn.invars] + [v.aval for v in eqn.outvars]
    if any(a.dtype not in LOOP_DTYPES for a in avals):
        return False
    if prim is P["gather"]:  # an index op of its consumer's loop: any loop dtype
        from lowering import fusion
        if fusion.fusible_gather(eqn):
            return True
    if any(a.dtype.kind == "c" for a in avals):  # complex: elementwise and index ops
        from lowering.cpu.complex_rules import COMPLEX_REDUCTIONS, COMPLEX_RULES
        if prim.name in _COMPLEX_LIBRARY:  # library calls that take complex operands
            from lowering.cpu import library
            return library.supports(eqn)
        if prim in _LIBRARY:  # complex products: cblas_cgemm/zgemm
            from lowering.cpu import blas
            return blas.supports(eqn)
        if prim.name in COMPLEX_REDUCTIONS:  # sums and products (complex_rules)
            return eqn.outvars[0].aval.dtype == eqn.invars[0].aval.dtype
        return prim.name in COMPLEX_RULES or prim is P["select_n"] or (
            prim in INDEX_PRIMITIVES and not (prim is P["reshape"] and
                                              eqn.params.get("dimensions") is not None))
    if any(a.dtype in LOW_FLOATS for a in avals) and (
            prim is P["bitcast_convert_type"] or prim is P["nextafter"] or  # (steps in its
            # own format: the float32 neighbour rounds back to x)
            not (prim in RULES or prim in INDEX_PRIMITIVES or prim in REDUCTION_PRIMITIVES)):
        return False  # 16-bit floats: loops and reductions only (libraries: eager / f32)
    if prim in RULES:
        spec = _DTYPE_OK.get(prim)
        if spec is None:
            return True
        operand = eqn.invars[1] if prim is P["clamp"] else eqn.invars[0]
        return _dtype_allowed(spec, operand.aval.dtype)
    if prim in INDEX_PRIMITIVES:
        if prim is P["reshape"] and eqn.params.get("dimensions") is not None:
            return False
        return True
    if prim in REDUCTION_PRIMITIVES:
        x = eqn.invars[0].aval
        if prim.name in ("reduce_and", "reduce_or", "reduce_xor"):
            return x.dtype.kind in "iub"
        if prim.name == "reduce_prod" or prim.name == "reduce_sum":
            return kind(x.dtype) in "iuf"
        return True
    if prim in _LIBRARY:
        from lowering.cpu import blas
        return blas.supports(eqn)
    from lowering.cpu import lib_window, library
    if lib_window.fusible(eqn):  # pooling: a fusion group of its own (lowering.fusion)
        from lowering.fusion import FUSE_WINDOW
        return FUSE_WINDOW
    return library.supports(eqn)
