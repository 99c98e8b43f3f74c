"""float32 ``sinh``, ``cosh``, ``asin``, ``acos``, ``asinh``, ``acosh``, ``atanh`` and
``erfc`` as XLA's CPU backend computes them (JAX's ``jit``, bit for bit): its expansions
of them (its optimised HLO, ``jax.jit(f).lower(x).compile().as_text()``) into ``exp``,
``log``, ``log1p``, ``sqrt`` (``xla_float32``/``mathfns``), ``expm1`` and ``tanh`` (its own
rational tanh, below) and the C library's ``atan2f``, with the multiply-adds its backend
contracts. float16 and bfloat16: ``sinh``, ``cosh`` and ``erfc`` are the float32 function
rounded once (XLA widens them); the others round to the narrow type after every step of
the expansion, as XLA's HLO for those types does (``rounding=dtype``). The same IR, as one
native loop per function (``array_kernels.ArrayKernels``), is what ``apply_array`` runs.
What is matched is XLA's vectorised loop: its scalar loop (the remainder of a length
that is not a multiple of 8, and whole arrays of some such lengths) contracts two more
multiply-adds in the ``log`` inside asinh's and acosh's ``log1p``, 1 ulp apart on about
0.03% of inputs.

Invariants: every ``a * b + c`` that XLA's backend fuses is one ``llvm.fma``; every other
operation is a plain IEEE one without fast-math flags. XLA runs with denormals read as
zero and results flushed: inputs below 2**-126 are read as signed zeros and subnormal
results flushed where XLA's would be (explicit selects); ``atan2f`` of a subnormal operand
runs with the processor in XLA's mode (``xla_float64.mxcsr_function``).
"""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np

from lowering.cpu import array_kernels, xla_float32, xla_float64
from lowering.cpu.irutil import F32, LOW_FLOATS, Emit, round_low

__all__ = ["tanh", "expm1", "atan2", "sinh", "cosh", "asin", "acos", "asinh", "acosh",
           "atanh", "erfc", "STEPWISE", "apply_array"]

_LN2 = 0.693147182  # (float32)

# the expansions XLA runs step by step in float16/bfloat16 (the others: float32 throughout)
STEPWISE = ("asin", "acos", "asinh", "acosh", "atanh")


def _c(e: Emit, x, v):
    return e.like(x, float(v))


def _fma(e: Emit, a, b, c):
    return e.call("llvm.fma", a, b, c)


_daz = _ftz = xla_float64.daz  # (subnormals read as zero, results flushed: any float type)


class _Steps:
    """Rounding after each of XLA's steps: none for float32, to ``dtype`` for float16 and
    bfloat16 (whose HLO runs each operation in float32 and rounds it); ``const`` gives a
    constant as the HLO of that type holds it."""

    def __init__(self, e: Emit, dtype):
        self.e = e
        self.dtype = None if dtype is None or np.dtype(dtype) not in LOW_FLOATS \
            else np.dtype(dtype)

    def __call__(self, v):
        return v if self.dtype is None else round_low(self.e.b, v, self.dtype)

    def const(self, x, v):
        return _c(self.e, x, float(np.asarray(v, self.dtype or np.float32)))

    def largest(self) -> float:
        """The largest finite value of the type."""
        return float(ml_dtypes.finfo(self.dtype or np.float32).max)


# ---------------------------------------------------------------------------
# XLA's float32 expm1, tanh and atan2

def _bits(pattern: int) -> float:
    return float(np.uint32(pattern).view(np.float32))


# (XLA's constants, by their bits)
_TANH_CLAMP = _bits(0x40FFF644)  # 7.9988117
_TANH_P = tuple(_bits(h) for h in (0xA59F25C0, 0x2A61337E, 0xAEBD37FF, 0x335C0041,
                                   0x3779434A, 0x3A270DED, 0x3BA059DC))
_TANH_Q = tuple(_bits(h) for h in (0x35A0D3D8, 0x38F895D6, 0x3B14AA05, 0x3BA059DD))


def tanh(e: Emit, x):
    """XLA's float32 hyperbolic tangent: ``x P(x**2) / Q(x**2)`` on ``x`` clamped to
    +-7.998812, ``x`` itself below ``|x| = 0.0004``, +-1 from ``|x| = 20``."""
    b = e.b
    ax = e.fabs(x)
    xc = b.select(e.fcmp("<", x, _c(e, x, -_TANH_CLAMP)), _c(e, x, -_TANH_CLAMP), x)
    xc = b.select(e.fcmp(">", xc, _c(e, x, _TANH_CLAMP)), _c(e, x, _TANH_CLAMP), xc)
    x2 = b.fmul(xc, xc)

    def poly(coeffs):
        acc = _fma(e, x2, _c(e, x, coeffs[0]), _c(e, x, coeffs[1]))
        for c in coeffs[2:]:
            acc = _fma(e, x2, acc, _c(e, x, c))
        return acc
    out = b.fdiv(b.fmul(xc, poly(_TANH_P)), poly(_TANH_Q))
    out = b.select(e.fcmp("<", ax, _c(e, x, 0.0004)), x, out)
    return b.select(e.fcmp(">=", ax, _c(e, x, 20.0)), e.copysign(_c(e, x, 1.0), x), out)


def expm1(e: Emit, x):
    """XLA's float32 ``e**x - 1``: ``exp(x) - 1`` for ``|x| > 0.5``, else
    ``tanh(x/2) (exp(x) + 1)``; ``x`` itself where ``x/2`` flushes to zero."""
    b = e.b
    xd = _daz(e, x)
    ex = xla_float32.exp(e, xd)
    h = _ftz(e, b.fmul(xd, _c(e, x, 0.5)))
    small = _ftz(e, b.fmul(tanh(e, h), b.fadd(ex, _c(e, x, 1.0))))
    out = b.select(e.fcmp(">", e.fabs(xd), _c(e, x, 0.5)), b.fadd(ex, _c(e, x, -1.0)), small)
    return b.select(e.fcmp("==", h, _c(e, x, 0.0)), x, out)


def atan2(e: Emit, y, x):
    """float32 ``atan2(y, x)`` as XLA computes it: the C library's ``atan2f``, in XLA's
    floating-point mode where an operand is subnormal, the result flushed."""
    return e.b.call(xla_float64.mxcsr_function(e.module, "atan2f", F32,
                                               xla_float32.libm_symbol("atan2")), [y, x])


def _sqrt(e: Emit, x):
    return e.call("llvm.sqrt", _daz(e, x))


# ---------------------------------------------------------------------------
# XLA's expansions


def sinh(e: Emit, x):
    """XLA's float32 ``sinh``: the float64 steps (``xla_float64.sinh``) with float32's
    ``exp`` and ``expm1`` (ln2 rounds to the same float32 constant)."""
    return xla_float64.sinh(e, x, exp=xla_float32.exp, expm1=expm1)


def cosh(e: Emit, x):
    """XLA's float32 ``cosh``: ``exp(x - ln2) + exp(-ln2 - x)`` with float32's ``exp``."""
    return xla_float64.cosh(e, x, exp=xla_float32.exp)


def _one_minus_square_root(e: Emit, x, r: _Steps):
    """``sqrt((1 - x) (x + 1))``, each step rounded."""
    b = e.b
    one = _c(e, x, 1.0)
    return r(_sqrt(e, r(_ftz(e, b.fmul(r(b.fsub(one, x)), r(b.fadd(x, one)))))))


def asin(e: Emit, x, rounding=None):
    """XLA's ``asin``: ``2 atan2(x, 1 + sqrt((1 - x) (x + 1)))`` in float32 (``rounding``:
    float16 or bfloat16, rounded after each step)."""
    b = e.b
    r = _Steps(e, rounding)
    x = _daz(e, x)
    half = r(atan2(e, x, r(b.fadd(_one_minus_square_root(e, x, r), _c(e, x, 1.0)))))
    return r(_ftz(e, b.fadd(half, half)))


def acos(e: Emit, x, rounding=None):
    """XLA's ``acos``: ``atan2(sqrt((1 - x) (x + 1)), x)`` in float32 (``rounding``: float16
    or bfloat16, rounded after each step)."""
    r = _Steps(e, rounding)
    # (atan2f gets x as it is: with a subnormal x it runs in XLA's mode)
    return r(atan2(e, _one_minus_square_root(e, _daz(e, x), r), x))


def _sign(e: Emit, x):
    """XLA's ``sign``: +-1, or ``x`` itself where it is a zero or NaN."""
    keep = e.b.or_(e.fcmp("==", x, _c(e, x, 0.0)), e.isnan(x))
    return e.b.select(keep, x, e.copysign(_c(e, x, 1.0), x))


def asinh(e: Emit, x, rounding=None):
    """XLA's ``asinh``: ``sign(x) log1p(|x| + x**2 / (sqrt(x**2 + 1) + 1))``, or
    ``sign(x) (log|x| + ln2)`` from ``|x| = sqrt(max)``, in float32 (``rounding``: float16
    or bfloat16, rounded after each step)."""
    b = e.b
    r = _Steps(e, rounding)
    x = _daz(e, x)
    ax = e.fabs(x)
    one = _c(e, x, 1.0)
    limit = r.const(x, math.sqrt(r.largest()))
    far = r(b.fadd(r(xla_float32.log(e, ax)), r.const(x, _LN2)))
    x2 = r(_ftz(e, b.fmul(x, x)))
    den = r(b.fadd(r(_sqrt(e, r(b.fadd(x2, one)))), one))
    near = r(xla_float32.log1p(e, r(b.fadd(ax, r(_ftz(e, b.fdiv(x2, den)))))))
    out = b.select(e.fcmp(">=", ax, limit), far, near)
    return r(_ftz(e, b.fmul(_sign(e, x), out)))


def acosh(e: Emit, x, rounding=None):
    """XLA's ``acosh``: ``log1p(sqrt(x - 1) (sqrt(x + 1) + sqrt(x - 1)))``, or
    ``log(x) + ln2`` from ``x = max / 2``, in float32 (``rounding``: float16 or bfloat16,
    rounded after each step)."""
    b = e.b
    r = _Steps(e, rounding)
    x = _daz(e, x)
    limit = r.const(x, r.largest() / 2)
    far = r(b.fadd(r(xla_float32.log(e, x)), r.const(x, _LN2)))
    root = r(_sqrt(e, r(b.fadd(x, _c(e, x, -1.0)))))
    total = r(b.fadd(r(_sqrt(e, r(b.fadd(x, _c(e, x, 1.0))))), root))
    near = r(xla_float32.log1p(e, r(_ftz(e, b.fmul(root, total)))))
    return b.select(e.fcmp(">=", x, limit), far, near)


def atanh(e: Emit, x, rounding=None):
    """XLA's ``atanh``: ``(log1p(x) - log1p(-x)) / 2``, NaN for ``|x| > 1``, in float32
    (the two log1p share ``x**2 / 2``, unfused, as XLA's backend compiles them;
    ``rounding``: float16 or bfloat16, rounded after each step)."""
    b = e.b
    r = _Steps(e, rounding)
    x = _daz(e, x)
    ahead = r(xla_float32.log1p(e, x, r.dtype is None))
    behind = r(xla_float32.log1p(e, b.fneg(x), r.dtype is None))
    out = r(_ftz(e, b.fmul(r(b.fsub(ahead, behind)), _c(e, x, 0.5))))
    return b.select(e.fcmp(">", e.fabs(x), _c(e, x, 1.0)), _c(e, x, math.nan), out)


_ERFC_SMALL = (7.85386146e-05, -0.000801019371, 0.00518832775, -0.0268538129, 0.112835854,
               -0.37612626, 1.12837911)
_ERFC_MID = (0.0232682, -0.138703942, 0.368742466, -0.582473278, 0.621000469, -0.494451523,
             0.340488, -0.274112701, 0.563825965)
_ERFC_FAR = (-10.477664, 12.9772, -7.49551868, 2.92101908, -1.01526523, 0.42184633,
             -0.282076746, 0.564189494)


def _chain(e: Emit, t, coeffs):
    """``((c0 t + c1) t + c2) ...``, each multiply and the add after it fused."""
    acc = _fma(e, t, _c(e, t, coeffs[0]), _c(e, t, coeffs[1]))
    for c in coeffs[2:]:
        acc = _fma(e, acc, t, _c(e, t, c))
    return acc


def erfc(e: Emit, x):
    """XLA's float32 ``erfc``: ``1 - x P(x**2)`` for ``|x| < 1``, else
    ``exp(-x**2) / |x| Q(1 / x**2)`` (two sets, split at 2; 0 where ``-x**2 < -88.72``),
    reflected as ``2 - erfc(|x|)`` for negative ``x``."""
    b = e.b
    x = _daz(e, x)
    ax = e.fabs(x)
    x2 = _ftz(e, b.fmul(x, x))
    one = _c(e, x, 1.0)
    small = _fma(e, b.fneg(x), _chain(e, x2, _ERFC_SMALL), one)
    neg_x2 = b.fneg(x2)
    scaled = _ftz(e, b.fmul(xla_float32.exp(e, neg_x2), b.fdiv(one, ax)))
    q = b.fdiv(one, x2)
    poly = b.select(e.fcmp("<", ax, _c(e, x, 2.0)), _chain(e, q, _ERFC_MID),
                    _chain(e, q, _ERFC_FAR))
    tail = _ftz(e, b.fmul(scaled, poly))
    tail = b.select(e.fcmp("<", neg_x2, _c(e, x, -88.7228394)), _c(e, x, 0.0), tail)
    tail = b.select(e.fcmp("<", x, _c(e, x, 0.0)), b.fsub(_c(e, x, 2.0), tail), tail)
    return b.select(e.fcmp("<", ax, one), small, tail)


# ---------------------------------------------------------------------------
# native loops for eager use (any length; compiled once per process, disk-cached)

_FUNCTIONS = {"tanh": tanh, "expm1": expm1, "atan2": atan2, "sinh": sinh, "cosh": cosh,
              "asin": asin, "acos": acos, "asinh": asinh, "acosh": acosh, "atanh": atanh,
              "erfc": erfc}


def _narrow(name: str, dtype):
    def fn(e: Emit, x):
        return _FUNCTIONS[name](e, x, dtype)
    return fn


_NARROW = {f"{name}_{np.dtype(d).name}": _narrow(name, d)
           for name in STEPWISE for d in sorted(LOW_FLOATS, key=str)}


def _symbol(name: str) -> str:
    return f"fx_xla_{name}_f32"


_KERNELS = array_kernels.ArrayKernels("fx_xla_float32_expansions", _FUNCTIONS,
                                      lambda n: 2 if n == "atan2" else 1, np.float32, _symbol)
_NARROW_KERNELS = array_kernels.ArrayKernels("fx_xla_float32_narrow", _NARROW, lambda n: 1,
                                             np.float32, _symbol)


def apply_array(name: str, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """XLA's ``name`` (``"sinh"``, ``"cosh"``, ``"asin"``, ``"acos"``, ``"asinh"``,
    ``"acosh"``, ``"atanh"``, ``"erfc"``, ``"expm1"``, ``"tanh"``, or ``"atan2"`` of ``x``
    and ``y``) of a float32, float16 or bfloat16 array, by native code: bit-identical to
    JAX's ``jit``; a new array of ``x``'s shape and dtype.

    Example: ``apply_array("sinh", np.float32([0.5]))`` is ``[0.5210953]``.
    """
    x = np.asarray(x)
    if x.dtype != np.float32 and x.dtype not in LOW_FLOATS:
        raise TypeError(f"apply_array: x must be float32, float16 or bfloat16, got {x.dtype}")
    if x.dtype in LOW_FLOATS and name in STEPWISE:
        out = _NARROW_KERNELS.apply(f"{name}_{x.dtype.name}", x)
    else:
        out = _KERNELS.apply(name, x, y)
    return out.astype(x.dtype, copy=False)
