"""float32 ``erf_inv`` as branch-free IR that rounds exactly as XLA's CPU backend does,
so compiled ``random.normal`` draws are bit-identical to JAX's (and to fx's eager impl,
``fx._random.xla_math``, which is the specification followed here operation for
operation).

Invariants: every ``a * b + c`` of XLA's expansion is one ``llvm.fma`` (rounded once);
every other multiply, add and divide is a plain IEEE operation *without* fast-math
flags (no contraction, no reassociation), so LLVM cannot change a rounding. Both
polynomial branches are computed and one is selected, which keeps the loop
vectorizable and changes no value.
"""
from __future__ import annotations

import ctypes
import math
import threading

import numpy as np

from fx._random import xla_math as spec
from lowering.cpu.irutil import I32, Emit

__all__ = ["erf_inv"]


def _c(e: Emit, x, v):
    return e.like(x, float(v))


def _fma(e: Emit, a, b, c):
    return e.call("llvm.fma", a, b, c)


def _log_xla(e: Emit, v):
    """XLA's float32 log of ``v`` for ``v`` in ``[0, inf]`` (and NaN): Cephes' scheme."""
    b = e.b
    tiny = float(spec._TINY)
    normal = b.and_(e.fcmp(">=", v, _c(e, v, tiny)), e.fcmp("<", v, _c(e, v, math.inf)))
    xn = b.select(normal, v, _c(e, v, 1.0))
    bits = b.bitcast(xn, I32)
    ex = b.sub(b.lshr(bits, e.const(I32, 23)), e.const(I32, 126))
    m = b.bitcast(b.or_(b.and_(bits, e.const(I32, 0x807FFFFF)), e.const(I32, 0x3F000000)),
                  v.type)
    below = e.fcmp("<", m, _c(e, m, float(spec._SQRT_HALF)))
    f = b.fadd(b.fsub(m, _c(e, m, 1.0)), b.select(below, m, _c(e, m, 0.0)))
    ef = b.sitofp(b.sub(ex, b.zext(below, I32)), v.type)
    f2 = b.fmul(f, f)
    f3 = b.fmul(f2, f)
    p = [float(c) for c in spec._LOG_P]
    y0 = _fma(e, _fma(e, f, _c(e, f, p[0]), _c(e, f, p[1])), f, _c(e, f, p[2]))
    y1 = _fma(e, _fma(e, f, _c(e, f, p[3]), _c(e, f, p[4])), f, _c(e, f, p[5]))
    y2 = _fma(e, _fma(e, f, _c(e, f, p[6]), _c(e, f, p[7])), f, _c(e, f, p[8]))
    y = _fma(e, _fma(e, y0, f3, y1), f3, y2)
    y = _fma(e, y, f3, b.fmul(_c(e, f, float(spec._LN2_LO)), ef))
    r = b.fadd(b.fadd(b.fsub(f, b.fmul(f2, _c(e, f, 0.5))), y),
               b.fmul(_c(e, f, float(spec._LN2_HI)), ef))
    # outside the normal range: log(0) = -inf, log(inf) = inf, NaN and negatives NaN
    special = b.select(e.fcmp("==", v, _c(e, v, 0.0)), _c(e, v, -math.inf),
                       b.select(e.fcmp("==", v, _c(e, v, math.inf)), v,
                                _c(e, v, math.nan)))
    return b.select(normal, r, special)


def _log1p_xla(e: Emit, x):
    b = e.b
    x2 = b.fmul(x, x)

    def horner(coeffs):
        acc = _c(e, x, 0.0)
        for c in coeffs:
            acc = _fma(e, acc, x, _c(e, x, float(c)))
        return acc
    ratio = b.fdiv(horner(spec._LOG1P_P), horner(spec._LOG1P_Q))
    near = b.fadd(x, _fma(e, _c(e, x, -0.5), x2, b.fmul(b.fmul(x, x2), ratio)))
    ax = e.fabs(x)
    near = b.select(e.fcmp("<", ax, _c(e, x, float(spec._TINY))), x, near)
    far = _log_xla(e, b.fadd(x, _c(e, x, 1.0)))
    return b.select(e.fcmp("<", ax, _c(e, x, float(spec._LOG1P_SMALL))), near, far)


def erf_inv(e: Emit, x):
    """XLA's float32 inverse error function (Giles' approximation)."""
    b = e.b
    w = b.fneg(_log1p_xla(e, b.fmul(x, b.fneg(x))))

    def poly(coeffs, t):
        acc = _c(e, t, float(coeffs[0]))
        for c in coeffs[1:]:
            acc = _fma(e, acc, t, _c(e, t, float(c)))
        return acc
    low = poly(spec._ERFINV_LOW, b.fsub(w, _c(e, w, 2.5)))
    high = poly(spec._ERFINV_HIGH, b.fsub(e.call("llvm.sqrt", w), _c(e, w, 3.0)))
    out = b.fmul(b.select(e.fcmp("<", w, _c(e, w, 5.0)), low, high), x)
    ax = e.fabs(x)
    out = b.select(e.fcmp("==", ax, _c(e, x, 1.0)), b.fmul(x, _c(e, x, math.inf)), out)
    return b.select(b.fcmp_unordered(">", ax, _c(e, x, 1.0)), _c(e, x, math.nan), out)


# ---------------------------------------------------------------------------
# one native loop for eager use (any length; compiled once per process, disk-cached)

_NAME = "fx_erf_inv_f32"
_kernel = None
_lock = threading.Lock()


def _build_kernel():
    from llvmlite import ir

    from lowering.cpu import runtime
    from lowering.cpu.irutil import F32, I64, PTR, VOID
    module = ir.Module(name="fx_erf_inv")
    module.triple = runtime.host_info()["triple"]
    module.data_layout = str(runtime.target_machine().target_data)
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, PTR, I64]), _NAME)
    src, dst, n = fn.args
    for a in (src, dst):
        a.add_attribute("noalias")
    entry, head, body, done = (fn.append_basic_block(s) for s in ("entry", "head", "body",
                                                                    "done"))
    b = ir.IRBuilder(entry)
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(I64)
    i.add_incoming(ir.Constant(I64, 0), entry)
    b.cbranch(b.icmp_signed("<", i, n), body, done)
    b.position_at_end(body)
    x = b.load(b.gep(src, [i], inbounds=True, source_etype=F32), typ=F32, align=4)
    y = erf_inv(Emit(b, module), x)
    b.store(y, b.gep(dst, [i], inbounds=True, source_etype=F32), align=4)
    i.add_incoming(b.add(i, ir.Constant(I64, 1)), b.block)
    b.branch(head)
    b.position_at_end(done)
    b.ret_void()
    from lowering.cpu import diskcache
    addresses = diskcache.compile_cached("xla_float32.erf_inv.v1",
                                         lambda: (str(module), [_NAME]))[0]
    return ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)(
        addresses[_NAME])


def erf_inv_array(x: np.ndarray) -> np.ndarray:
    """XLA's float32 erf_inv of a float32 array, by native code (bit-identical to
    ``fx._random.xla_math.erf_inv_f32``)."""
    global _kernel
    if _kernel is None:
        with _lock:
            if _kernel is None:
                _kernel = _build_kernel()
    x = np.ascontiguousarray(x, np.float32)
    out = np.empty_like(x)
    _kernel(x.ctypes.data, out.ctypes.data, x.size)
    return out
