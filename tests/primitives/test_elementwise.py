"""Table-driven tests of every primitive in primitives/elementwise.py and convert.py.

One row per op (or per op configuration) drives every test: eager impl vs a
NumPy/SciPy reference over the dtypes the op accepts (plus inf, nan, -0.0,
huge and tiny values), derivatives against finite differences (fx.test_util,
order 2, forward and reverse), vmap against a Python loop for every choice of
batch axes (with unbatched and rank-0 operands), jit against eager,
abstract_eval against impl, and, where JAX is installed, the printed jaxpr and
the values against ``jax.lax``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Callable

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import primitives
from fx.test_util import check_grads
from primitives import convert, elementwise

F, D, I, U, B, C = "f32", "f64", "i32", "u32", "b", "c64"
FLOATS = (F, D)
INEXACT = (F, D, C)
INTS = (I, U)
NUMERIC = INEXACT + INTS
ANY = NUMERIC + (B,)

SPECIALS = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.75, np.inf, -np.inf, np.nan, 1e-30,
                     -1e-30, 1e-7, 3e38, -3e38])
# Complex specials stay finite (plus nan): with huge or infinite parts, complex64 and
# complex128 evaluations legitimately differ (argument reduction, C99 Annex G corners).
COMPLEX_SPECIALS = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -2.5, np.nan, 1e-30])


@dataclasses.dataclass
class Op:
    """One row of the table.

    ``ref`` computes the expected values from NumPy arrays (floats widened to
    float64/complex128); ``gen`` draws one operand ``gen[i](rng, shape, dtype)``;
    ``grad_gen`` draws operands in the smooth domain (None: not differentiable);
    ``grad_args`` the operand indices to differentiate (others are closed over);
    ``jax`` calls the matching ``jax.lax`` function."""

    id: str
    prim: str
    dtypes: tuple
    ref: Callable
    nargs: int = 1
    gen: tuple | None = None
    grad_gen: tuple | None = None
    grad_args: tuple | None = None
    params: dict | Callable = dataclasses.field(default_factory=dict)
    out_dtype: Callable | None = None
    jax: Callable | None = None
    rtol: float = 2e-6
    atol: float = 1e-6
    specials: bool = True
    signed_zeros: bool = True
    rank0: tuple | None = None       # operands that may be rank-0 (default: all)
    wide: bool = True                # compute the reference in float64/complex128
    complex_specials: bool = True    # compare complex special values with the reference
    grad_tol: float | None = None    # check_grads tolerance and step (None: dtype default)
    jax_dtypes: tuple | None = None  # dtypes compared with JAX (default: all; XLA compiles
    #                                  some special functions slowly)
    arg_dtypes: Callable | None = None  # dtype of each operand given the row dtype

    @property
    def primitive(self):
        return primitives.registry[self.prim]

    def __repr__(self):
        return self.id

    def _repr_pretty_(self, printer, cycle):  # hypothesis prints the row by its id
        printer.text(self.id)


def uniform(lo, hi):
    def gen(rng, shape, dtype):
        if dtype.kind == "b":
            return np.asarray(rng.rand(*shape) < 0.5)
        if dtype.kind in "iu":
            lo_, hi_ = int(np.floor(lo)), int(np.ceil(hi))
            if dtype.kind == "u" and lo_ < 0:  # keep the width of the range, unsigned
                lo_, hi_ = 0, hi_ - lo_
            return rng.randint(lo_, hi_ + 1, size=shape).astype(dtype)
        v = rng.uniform(lo, hi, size=shape)
        if dtype.kind == "c":
            v = v + 1j * rng.uniform(lo, hi, size=shape)
        return np.asarray(v).astype(dtype)
    return gen


def away_from(lo, hi, gap):
    """Uniform on [lo, hi] avoiding (-gap, gap) (e.g. denominators)."""
    base = uniform(abs(gap), max(abs(lo), abs(hi)))

    def gen(rng, shape, dtype):
        v = base(rng, shape, dtype)
        if dtype.kind == "b":
            return v
        flip = rng.rand(*shape) < (0.5 if lo < 0 else 0.0)
        return np.where(flip, -v, v).astype(dtype)
    return gen


def off_integers(lo, hi):
    """Uniform values at least 0.1 away from integers and half-integers."""
    def gen(rng, shape, dtype):
        v = rng.randint(int(lo), int(hi), size=shape) + rng.uniform(0.1, 0.4, size=shape)
        v = v + 0.5 * (rng.rand(*shape) < 0.5)
        return np.asarray(v).astype(dtype)
    return gen


def whole(lo, hi):
    """Integer values stored in a float dtype (polygamma's order)."""
    def gen(rng, shape, dtype):
        return np.asarray(rng.randint(lo, hi + 1, size=shape)).astype(dtype)
    return gen


STD = uniform(-3, 3)
POS = uniform(0.2, 3)
UNIT = uniform(-0.9, 0.9)


def _wide(x):
    x = np.asarray(x)
    if x.dtype.kind == "f":
        return x.astype(np.float64)
    if x.dtype.kind == "c":
        return x.astype(np.complex128)
    return x


def _same(dtype):
    return dtype


def _bool(dtype):
    return np.dtype(np.bool_)


def _real(dtype):
    return {np.dtype(np.complex64): np.dtype(np.float32),
            np.dtype(np.complex128): np.dtype(np.float64)}.get(dtype, dtype)


def _make_complex(x, y):
    """x + iy built part by part (x + 1j*y would turn an infinite y's real part into
    NaN and lose the sign of a zero imaginary part)."""
    x, y = np.broadcast_arrays(np.asarray(x), np.asarray(y))
    out = np.empty(x.shape, np.result_type(x.dtype, np.complex64))
    out.real, out.imag = x, y
    return out


def _complex(dtype):
    return np.dtype(np.complex128) if dtype in (np.float64, np.complex128) else \
        np.dtype(np.complex64)


# -- XLA-semantics references written independently of the impls ------------

def _ref_sign(x):
    if x.dtype.kind == "c":
        a = np.abs(x)
        return np.where(a == 0, 0, x / np.where(a == 0, 1, a))
    return np.where(x == 0, x, np.sign(x))  # sign(-0.0) is -0.0


def _ref_round_away(x):
    return np.where(np.isfinite(x), np.copysign(np.floor(np.abs(x) + 0.5), x), x)


def _ints_elementwise(fn):
    """Apply ``fn`` to Python ints elementwise, wrapping the result to the dtype."""
    def ref(*arrays):
        dtype = arrays[0].dtype
        bits = dtype.itemsize * 8
        out = np.empty(np.broadcast(*arrays).shape, dtype)
        for idx in np.ndindex(out.shape):
            vals = [int(a[idx] if a.ndim else a[()]) for a in arrays]
            r = fn(*vals, bits=bits, signed=dtype.kind == "i") % (1 << bits)
            if dtype.kind == "i" and r >= 1 << (bits - 1):
                r -= 1 << bits
            out[idx] = r
        return out
    return ref


def _xla_div(x, y, bits, signed):
    if y == 0:
        return -1
    q = abs(x) // abs(y)
    return -q if (x < 0) != (y < 0) else q


def _xla_rem(x, y, bits, signed):
    if y == 0:
        return x
    return x - _xla_div(x, y, bits, signed) * y


def _shl(x, y, bits, signed):
    return 0 if not 0 <= y < bits else x << y


def _shr_arith(x, y, bits, signed):
    if not 0 <= y < bits:
        y = bits - 1
    return x >> y if signed else (x >> y if 0 <= y < bits else 0)


def _shr_logical(x, y, bits, signed):
    if not 0 <= y < bits:
        return 0
    return (x % (1 << bits)) >> y


def _popcount(x, bits, signed):
    return bin(x % (1 << bits)).count("1")


def _clz(x, bits, signed):
    return bits - (x % (1 << bits)).bit_length()


def _reduce_precision_ref(x, exponent_bits, mantissa_bits):
    """Round ``x`` to the nearest value with ``mantissa_bits`` (ties to even) and flush
    values outside the exponent range, computed with frexp (independent of bit tricks)."""
    x = np.asarray(x, np.float64)
    m, e = np.frexp(x)  # x = m * 2**e with 0.5 <= |m| < 1
    scale = 2.0 ** (mantissa_bits + 1)
    with np.errstate(all="ignore"):
        rounded = np.ldexp(np.round(m * scale) / scale, e)
    max_exp = 2 ** (exponent_bits - 1) - 1
    largest = (2.0 - 2.0 ** -mantissa_bits) * 2.0 ** max_exp
    out = np.where(np.abs(rounded) > largest, np.copysign(np.inf, x), rounded)
    out = np.where(np.abs(out) < 2.0 ** (1 - max_exp), np.copysign(0.0, x), out)
    return np.where(np.isfinite(x), out, x)


def _convert_ref(new):
    def ref(x):
        x = np.asarray(x)
        with np.errstate(all="ignore"):
            if new.kind == "b":
                return x != 0
            if x.dtype.kind == "c" and new.kind != "c":
                x = x.real
            if new.kind in "iu" and x.dtype.kind == "f":
                info = np.iinfo(new)
                return np.where(np.isnan(x), 0, np.clip(np.trunc(x), info.min, info.max))
            return x
    return ref


def _igamma_grad_a_ref(a, x):
    """d/da P(a, x) from its series, P = sum_k exp((a+k) log x - x - lgamma(a+k+1))."""
    a, x = np.broadcast_arrays(a, x)
    k = np.arange(400.0).reshape((-1,) + (1,) * np.ndim(a))
    log_terms = (a + k) * np.log(x) - x - sp.gammaln(a + k + 1)
    return np.sum(np.exp(log_terms) * (np.log(x) - sp.psi(a + k + 1)), axis=0)


# -- the table --------------------------------------------------------------

def U1(id, ref, dtypes=INEXACT, grad=STD, gen=STD, prim=None, **kw):
    return Op(id, prim or id, dtypes, ref, 1, (gen,), None if grad is None else (grad,), **kw)


def B2(id, ref, dtypes=NUMERIC, grad=(STD, STD), gen=(STD, STD), prim=None, **kw):
    return Op(id, prim or id, dtypes, ref, 2, gen, grad, **kw)


def _lax(name, **fixed):
    return lambda lax, *a: getattr(lax, name)(*a, **fixed)


OPS = [
    U1("neg", np.negative, NUMERIC, jax=_lax("neg")),
    U1("sign", _ref_sign, NUMERIC, grad=away_from(-3, 3, 0.1), jax=_lax("sign")),
    U1("floor", np.floor, FLOATS, grad=off_integers(-3, 3), jax=_lax("floor")),
    U1("ceil", np.ceil, FLOATS, grad=off_integers(-3, 3), jax=_lax("ceil")),
    U1("round", _ref_round_away, FLOATS, grad=off_integers(-3, 3),
       params={"rounding_method": 0}, jax=_lax("round")),
    U1("round_even", np.round, FLOATS, grad=off_integers(-3, 3), prim="round",
       params={"rounding_method": 1},
       jax=lambda lax, x: lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN)),
    U1("is_finite", np.isfinite, FLOATS, out_dtype=_bool, jax=_lax("is_finite")),
    U1("exp", np.exp, jax=_lax("exp")),
    U1("exp2", np.exp2, jax=_lax("exp2")),
    U1("log", np.log, gen=uniform(0.01, 5), grad=POS, jax=_lax("log")),
    U1("log1p", np.log1p, gen=uniform(-0.9, 5), grad=uniform(-0.5, 3), jax=_lax("log1p")),
    U1("expm1", np.expm1, jax=_lax("expm1")),
    U1("tanh", np.tanh, jax=_lax("tanh")),
    U1("logistic", lambda x: 1 / (1 + np.exp(-x)), jax=_lax("logistic")),
    U1("sin", np.sin, jax=_lax("sin")),
    U1("cos", np.cos, jax=_lax("cos")),
    U1("tan", np.tan, gen=uniform(-1.2, 1.2), grad=uniform(-1.2, 1.2), jax=_lax("tan")),
    U1("asin", np.arcsin, gen=UNIT, grad=UNIT, jax=_lax("asin")),
    U1("acos", np.arccos, gen=UNIT, grad=UNIT, jax=_lax("acos")),
    U1("atan", np.arctan, jax=_lax("atan")),
    U1("sinh", np.sinh, jax=_lax("sinh")),
    U1("cosh", np.cosh, jax=_lax("cosh")),
    U1("asinh", np.arcsinh, jax=_lax("asinh")),
    U1("acosh", np.arccosh, gen=uniform(1.01, 5), grad=uniform(1.2, 4), jax=_lax("acosh")),
    U1("atanh", np.arctanh, gen=UNIT, grad=UNIT, jax=_lax("atanh")),
    U1("sqrt", np.sqrt, gen=uniform(0, 5), grad=POS, jax=_lax("sqrt")),
    U1("rsqrt", lambda x: 1 / np.sqrt(x), gen=uniform(0.01, 5), grad=POS, jax=_lax("rsqrt")),
    U1("cbrt", np.cbrt, FLOATS, grad=away_from(-3, 3, 0.2), jax=_lax("cbrt")),
    U1("abs", np.abs, INEXACT + (I,), grad=away_from(-3, 3, 0.1), out_dtype=_real, jax=_lax("abs")),
    U1("erf", sp.erf, FLOATS, jax=_lax("erf")),
    U1("erfc", sp.erfc, FLOATS, jax=_lax("erfc")),
    U1("erf_inv", lambda x: np.where(x == 0, x, sp.erfinv(x)), FLOATS, gen=UNIT,
       grad=uniform(-0.8, 0.8), jax=_lax("erf_inv"), rtol=1e-5),
    # XLA: lgamma(-inf) = inf and digamma(0) = nan (SciPy: -inf and -inf)
    U1("lgamma", lambda x: np.where(x == -np.inf, np.inf, sp.gammaln(x)), FLOATS,
       gen=uniform(0.1, 8), grad=uniform(0.3, 6), jax=_lax("lgamma"), rtol=1e-5),
    U1("digamma", lambda x: np.where(x == 0, np.nan, sp.psi(x)), FLOATS, gen=uniform(0.1, 8),
       grad=uniform(0.3, 6), jax=_lax("digamma"), rtol=1e-5),
    U1("not", np.invert, INTS + (B,), grad=None, gen=uniform(-50, 50),
       jax=_lax("bitwise_not")),
    U1("real", np.real, (C,), out_dtype=_real, jax=_lax("real")),
    U1("imag", np.imag, (C,), out_dtype=_real, jax=_lax("imag")),
    Op("conj", "conj", INEXACT, lambda x: np.conj(x).astype(np.complex128), 1, (STD,), (STD,),
       params=lambda d: {"input_dtype": d}, out_dtype=_complex, jax=_lax("conj")),
    U1("population_count", _ints_elementwise(_popcount), INTS, grad=None,
       gen=uniform(-1000, 1000), jax=_lax("population_count")),
    U1("clz", _ints_elementwise(_clz), INTS, grad=None, gen=uniform(-1000, 1000),
       jax=_lax("clz")),
    U1("integer_pow3", lambda x: x * x * x, NUMERIC, prim="integer_pow", params={"y": 3},
       jax=_lax("integer_pow", y=3), rtol=4e-6, complex_specials=False),
    U1("integer_pow_m2", lambda x: 1 / (x * x), INEXACT, prim="integer_pow",
       params={"y": -2}, gen=away_from(-3, 3, 0.3), grad=away_from(-3, 3, 0.3),
       jax=_lax("integer_pow", y=-2), rtol=4e-6, complex_specials=False),
    U1("integer_pow0", np.ones_like, NUMERIC, prim="integer_pow", params={"y": 0},
       jax=_lax("integer_pow", y=0)),
    U1("reduce_precision", lambda x: _reduce_precision_ref(x, 5, 10), FLOATS, grad=None,
       prim="reduce_precision", params={"exponent_bits": 5, "mantissa_bits": 10},
       gen=uniform(-1e5, 1e5), jax=_lax("reduce_precision", exponent_bits=5,
                                         mantissa_bits=10)),
    U1("copy", np.copy, ANY, jax=lambda lax, x: __import__("jax").lax.copy_p.bind(x)),
    U1("stop_gradient", np.asarray, ANY, grad=None, jax=_lax("stop_gradient")),
    # binary
    B2("add", np.add, jax=_lax("add")),
    B2("sub", np.subtract, jax=_lax("sub")),
    B2("mul", np.multiply, jax=_lax("mul")),
    B2("div", lambda x, y: _ints_elementwise(_xla_div)(x, y) if x.dtype.kind in "iu"
       else x / y, gen=(uniform(-9, 9), uniform(-4, 4)),
       grad=(STD, away_from(-3, 3, 0.5)), jax=_lax("div")),
    B2("rem", lambda x, y: _ints_elementwise(_xla_rem)(x, y) if x.dtype.kind in "iu"
       else np.fmod(x, y), FLOATS + INTS, gen=(uniform(-9, 9), uniform(-4, 4)),
       grad=(off_integers(-3, 3), uniform(3.6, 3.9)), jax=_lax("rem")),
    B2("max", np.maximum, ANY, jax=_lax("max"), signed_zeros=False),
    B2("min", np.minimum, ANY, jax=_lax("min"), signed_zeros=False),
    B2("atan2", np.arctan2, FLOATS, grad=(STD, away_from(-3, 3, 0.3)), jax=_lax("atan2")),
    B2("nextafter", np.nextafter, FLOATS, grad=None, jax=_lax("nextafter"), wide=False),
    B2("and", np.bitwise_and, INTS + (B,), grad=None, gen=(uniform(-99, 99),) * 2,
       jax=_lax("bitwise_and")),
    B2("or", np.bitwise_or, INTS + (B,), grad=None, gen=(uniform(-99, 99),) * 2,
       jax=_lax("bitwise_or")),
    B2("xor", np.bitwise_xor, INTS + (B,), grad=None, gen=(uniform(-99, 99),) * 2,
       jax=_lax("bitwise_xor")),
    B2("shift_left", _ints_elementwise(_shl), INTS, grad=None,
       gen=(uniform(-99, 99), uniform(-2, 40)), jax=_lax("shift_left")),
    B2("shift_right_arithmetic", _ints_elementwise(_shr_arith), INTS, grad=None,
       gen=(uniform(-999, 999), uniform(-2, 40)), jax=_lax("shift_right_arithmetic")),
    B2("shift_right_logical", _ints_elementwise(_shr_logical), INTS, grad=None,
       gen=(uniform(-999, 999), uniform(-2, 40)), jax=_lax("shift_right_logical")),
    B2("eq", np.equal, ANY, out_dtype=_bool, gen=(uniform(-2, 2),) * 2, jax=_lax("eq")),
    B2("ne", np.not_equal, ANY, out_dtype=_bool, gen=(uniform(-2, 2),) * 2, jax=_lax("ne")),
    B2("lt", np.less, FLOATS + INTS + (B,), out_dtype=_bool, gen=(uniform(-2, 2),) * 2,
       jax=_lax("lt")),
    B2("le", np.less_equal, FLOATS + INTS + (B,), out_dtype=_bool, gen=(uniform(-2, 2),) * 2,
       jax=_lax("le")),
    B2("gt", np.greater, FLOATS + INTS + (B,), out_dtype=_bool, gen=(uniform(-2, 2),) * 2,
       jax=_lax("gt")),
    B2("ge", np.greater_equal, FLOATS + INTS + (B,), out_dtype=_bool,
       gen=(uniform(-2, 2),) * 2, jax=_lax("ge")),
    B2("polygamma", lambda m, x: sp.polygamma(m.astype(int), x), FLOATS,
       gen=(whole(0, 3), uniform(0.5, 5)), grad=(whole(0, 3), uniform(0.5, 4)),
       grad_args=(1,), jax=_lax("polygamma"), rtol=1e-4, specials=False),
    B2("igamma", sp.gammainc, FLOATS, gen=(uniform(0.5, 5), uniform(0.1, 6)),
       grad=(uniform(0.5, 4), uniform(0.3, 5)), grad_args=(1,), jax=_lax("igamma"), rtol=2e-5,
       specials=False, jax_dtypes=(F,)),
    B2("igammac", sp.gammaincc, FLOATS, gen=(uniform(0.5, 5), uniform(0.1, 6)),
       grad=(uniform(0.5, 4), uniform(0.3, 5)), grad_args=(1,), jax=_lax("igammac"),
       rtol=2e-5, specials=False, jax_dtypes=(F,)),
    B2("igamma_grad_a", _igamma_grad_a_ref, FLOATS, gen=(uniform(0.5, 5), uniform(0.1, 6)),
       grad=(uniform(0.5, 4), uniform(0.3, 5)), grad_args=(1,), jax=_lax("igamma_grad_a"),
       rtol=2e-5, specials=False, jax_dtypes=(F,)),
    B2("zeta", sp.zeta, FLOATS, gen=(uniform(1.5, 6), uniform(0.5, 4)),
       grad=(uniform(1.5, 5), uniform(0.5, 3)), grad_args=(1,), jax=_lax("zeta"), rtol=1e-5,
       specials=False),
    B2("complex", _make_complex, FLOATS, out_dtype=_complex, jax=_lax("complex")),
    B2("pow", lambda x, y: x ** y, INEXACT, gen=(uniform(0.1, 3), STD),
       grad=(uniform(0.3, 3), STD), jax=_lax("pow"), rtol=1e-5, complex_specials=False),
    Op("pow_int", "pow", INEXACT, lambda x, y: x ** y.astype(x.dtype), 2,
       (uniform(0.1, 3), uniform(-3, 4)), (uniform(0.3, 3), uniform(-3, 4)), grad_args=(0,),
       arg_dtypes=lambda d: (d, np.dtype(np.int32)), jax=_lax("pow"), rtol=1e-5,
       complex_specials=False),
    B2("add_any", np.add),
    # n-ary
    Op("select_n_bool", "select_n", ANY, lambda w, a, b: np.where(w, b, a), 3,
       (uniform(0, 1), STD, STD), (uniform(0, 1), STD, STD), grad_args=(1, 2),
       arg_dtypes=lambda d: (np.dtype(np.bool_), d, d), rank0=(0,), jax=_lax("select_n")),
    Op("select_n_int", "select_n", ANY, lambda w, a, b, c: np.choose(w, [a, b, c]), 4,
       (uniform(0, 2), STD, STD, STD), (uniform(0, 2), STD, STD, STD), grad_args=(1, 2, 3),
       arg_dtypes=lambda d: (np.dtype(np.int32), d, d, d), rank0=(0,), jax=_lax("select_n")),
    Op("clamp", "clamp", FLOATS + INTS, lambda lo, x, hi: np.minimum(np.maximum(x, lo), hi),
       3, (uniform(-3, -1), uniform(-5, 5), uniform(1, 3)),
       (uniform(-3, -1), away_from(-5, 5, 3.2), uniform(1, 3)), rank0=(0, 2),
       jax=_lax("clamp")),
]
_CONVERSIONS = [(F, I), (I, F), (F, B), (B, F), (C, F), (F, C), (F, D), (D, F), (I, B),
                (B, I), (D, I)]
for _src, _dst in _CONVERSIONS:
    _new = np.dtype({"f32": np.float32, "f64": np.float64, "i32": np.int32, "b": np.bool_,
                     "c64": np.complex64}[_dst])
    OPS.append(Op(f"convert_{_src}_to_{_dst}", "convert_element_type", (_src, _dst),
                  _convert_ref(_new), 1, (uniform(-50, 50),),
                  (STD,) if _src in INEXACT and _dst in INEXACT else None,
                  params={"new_dtype": _new, "weak_type": False, "sharding": None},
                  out_dtype=lambda d, _new=_new: _new, grad_tol=2e-3 if F in (_src, _dst)
                  else None,
                  arg_dtypes=lambda d, _src=_src: (np.dtype(
                      {"f32": np.float32, "f64": np.float64, "i32": np.int32,
                       "b": np.bool_, "c64": np.complex64}[_src]),),
                  jax=lambda lax, x, _new=_new: lax.convert_element_type(x, _new)))
for _src, _dst in [(F, I), (I, F), (F, "u8")]:
    _srcd = np.dtype({"f32": np.float32, "i32": np.int32}[_src])
    _newd = np.dtype({"f32": np.float32, "i32": np.int32, "u8": np.uint8}[_dst])
    OPS.append(Op(f"bitcast_{_src}_to_{_dst}", "bitcast_convert_type", (_src,),
                  lambda x, _newd=_newd: np.frombuffer(x.tobytes(), _newd).reshape(
                      x.shape + ((4,) if _newd.itemsize == 1 else ())), 1,
                  (uniform(-50, 50),), None, params={"new_dtype": _newd},
                  out_dtype=lambda d, _newd=_newd: _newd, rank0=(), wide=False,
                  jax=lambda lax, x, _newd=_newd: lax.bitcast_convert_type(x, _newd)))

OP_IDS = [op.id for op in OPS]


def _jax_dtypes(op):
    """Dtypes compared with JAX: the row's first, plus int32 and complex64 when accepted
    (their semantics differ); each is one XLA compile."""
    if op.jax_dtypes:
        return op.jax_dtypes
    dts = list(_row_dtypes(op))
    return dts[:1] + [d for d in (I, C) if d in dts[1:]]
GRAD_OPS = [op for op in OPS if op.grad_gen is not None]
JAX_OPS = [op for op in OPS if op.jax is not None]


# -- helpers ------------------------------------------------------------------

def _dtype(name):
    return {"f32": np.dtype(np.float32), "f64": np.dtype(np.float64),
            "i32": np.dtype(np.int32), "u32": np.dtype(np.uint32), "b": np.dtype(np.bool_),
            "c64": np.dtype(np.complex64)}[name]


def _arg_dtypes(op, dname):
    d = _dtype(dname)
    if op.arg_dtypes is not None:
        return op.arg_dtypes(d)
    return (d,) * op.nargs


def _needs_x64(op, dname):
    dts = list(_arg_dtypes(op, dname))
    if op.out_dtype is not None:
        dts.append(op.out_dtype(_dtype(dname)))
    return any(np.dtype(d).itemsize == 8 and np.dtype(d).kind in "fiu" or
               np.dtype(d) == np.complex128 for d in dts)


def _row_dtypes(op):
    """The dtypes a row runs over (a conversion row runs over its source only)."""
    return op.dtypes[:1] if op.prim == "convert_element_type" else op.dtypes


def _draw_args(op, rng, shapes, dname, gens=None):
    gens = gens or op.gen or (STD,) * op.nargs
    return [g(rng, s, d) for g, s, d in zip(gens, shapes, _arg_dtypes(op, dname))]


def _expected(op, args, dname):
    out = op.ref(*[_wide(a) if op.wide else np.asarray(a) for a in args])
    in_dtype = _arg_dtypes(op, dname)[min(1, op.nargs - 1) if op.prim in ("select_n", "clamp")
                                      else 0]
    out_dtype = op.out_dtype(in_dtype) if op.out_dtype else in_dtype
    with np.errstate(all="ignore"):
        return np.asarray(out).astype(out_dtype)


def _params(op, dname):
    """The row's params; a callable gets the dtype of the first operand."""
    if callable(op.params):
        return op.params(_arg_dtypes(op, dname)[0])
    return op.params


def _bind(op, dname):
    prim, params = op.primitive, _params(op, dname)
    return lambda *a: prim.bind(*a, **params)


def _tols(op, dname):
    if dname in ("f64", "c128"):
        return dict(rtol=1e-12 if op.rtol <= 2e-6 else op.rtol * 1e-3, atol=1e-14)
    if dname in ("f32", "c64"):
        return dict(rtol=op.rtol, atol=op.atol)
    return dict(rtol=0, atol=0)


# Per-op property tests run a fraction of the profile's examples (there are ~100 rows).
PER_OP = settings(max_examples=max(4, settings().max_examples // 3))
SHAPES = st.sampled_from([(), (1,), (3,), (2, 3), (2, 1, 4), (0,), (3, 0)])


def _run_x64(op, dname):
    return fx.enable_x64() if _needs_x64(op, dname) else contextlib.nullcontext()


# -- eager impl vs reference ------------------------------------------------------

@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
@PER_OP
@given(data=st.data())
def test_impl_matches_reference(op, data, harness):
    dname = data.draw(st.sampled_from(_row_dtypes(op)), label="dtype")
    shape = data.draw(SHAPES, label="shape")
    rank0 = range(op.nargs) if op.rank0 is None else op.rank0
    shapes = [() if i in rank0 and data.draw(st.booleans(), label=f"rank0_{i}") else shape
              for i in range(op.nargs)]
    if all(s == () for s in shapes) and op.rank0 is not None and len(op.rank0) < op.nargs:
        shapes = [shape] * op.nargs
    rng = np.random.RandomState(data.draw(st.integers(0, 2**16), label="seed"))
    with _run_x64(op, dname):
        args = _draw_args(op, rng, shapes, dname)
        out = _bind(op, dname)(*[harness.to_fx(a) for a in args])
        harness.assert_same(out, _expected(op, args, dname), err_msg=op.id,
                            **_tols(op, dname))
        harness.check_abstract_eval(op.primitive, args, _params(op, dname))


SPECIAL_OPS = [op for op in OPS if op.specials and any(d in FLOATS + (C,) for d in op.dtypes)
               and op.prim not in ("select_n", "clamp", "bitcast_convert_type")]


@pytest.mark.parametrize("op", SPECIAL_OPS, ids=[op.id for op in SPECIAL_OPS])
def test_special_values(op, harness):
    for dname in [d for d in _row_dtypes(op) if d in FLOATS + (C,) * op.complex_specials]:
        with _run_x64(op, dname):
            dtypes = _arg_dtypes(op, dname)
            vals = SPECIALS
            if op.nargs == 1:
                cv = COMPLEX_SPECIALS
                args = [vals.astype(dtypes[0]) if dtypes[0].kind != "c"
                        else (cv[:, None] + 1j * cv[None, :]).astype(dtypes[0])]
            else:
                if dtypes[0].kind == "c":
                    vals = COMPLEX_SPECIALS[:, None] + 1j * COMPLEX_SPECIALS[None, :]
                    vals = vals.reshape(-1)
                args = [np.repeat(vals, len(vals)).astype(dtypes[0]),
                        np.tile(vals, len(vals)).astype(dtypes[1])]
                if op.prim == "pow" and dtypes[1].kind == "i":
                    args[1] = np.resize(np.arange(-7, 8), args[0].shape).astype(dtypes[1])
                if op.prim == "div" and dtypes[0].kind == "c":
                    # zero divisors give XLA's Annex G values, not NumPy's: checked against
                    # JAX in tests/numpy/test_eager_xla_parity.py
                    keep = args[1] != 0
                    args = [a[keep] for a in args]
            out = _bind(op, dname)(*[harness.to_fx(a) for a in args])
            harness.assert_same(out, _expected(op, args, dname), err_msg=f"{op.id} {dname}",
                                check_signed_zeros=op.signed_zeros, **_tols(op, dname))


# -- derivatives ------------------------------------------------------------------

def _grad_shape_sets(op):
    """Operand shapes for the derivative checks: equal shapes and rank-0 mixes."""
    if op.nargs == 1:
        return [[(3,)]]
    if op.nargs == 2:
        return [[(3,), (3,)], [(), ()], [(2, 3), ()], [(), (2, 3)]]
    return [[(3,)] * op.nargs, [() if i in op.rank0 else (3,) for i in range(op.nargs)]]


GRAD_CASES = [(op, d) for op in GRAD_OPS for d in _row_dtypes(op) if d in FLOATS]


@pytest.mark.parametrize("op,dname", GRAD_CASES, ids=[f"{op.id}-{d}" for op, d in GRAD_CASES])
def test_grads(op, dname):
    rng = np.random.RandomState(0)
    diff = op.grad_args if op.grad_args is not None else tuple(range(op.nargs))
    with _run_x64(op, dname):
        for shapes in _grad_shape_sets(op):
            args = _draw_args(op, rng, shapes, dname, op.grad_gen)
            fixed = {i: a for i, a in enumerate(args) if i not in diff}

            def f(*diff_args, fixed=fixed):
                it = iter(diff_args)
                full = [fixed[i] if i in fixed else next(it) for i in range(op.nargs)]
                return _bind(op, dname)(*full)

            check_grads(f, [args[i] for i in diff], order=2, modes=("fwd", "rev"),
                        atol=op.grad_tol, rtol=op.grad_tol,
                        eps=None if op.grad_tol is None else 1e-3)


@pytest.mark.parametrize("name", ["igamma", "igammac"])
@pytest.mark.parametrize("dname", ["f32", "f64"])
def test_igamma_first_derivative_in_a(name, dname):
    """d/da igamma(a, x) (the igamma_grad_a primitive) against finite differences; like
    JAX, fx has no second derivative in ``a``."""
    rng = np.random.RandomState(3)
    prim = primitives.registry[name]
    with fx.enable_x64(dname == "f64"):
        a = rng.uniform(0.5, 4, size=(4,)).astype(_dtype(dname))
        x = rng.uniform(0.3, 5, size=(4,)).astype(_dtype(dname))
        check_grads(lambda a_: prim.bind(a_, x), (a,), order=1, modes=("fwd", "rev"))


@pytest.mark.parametrize("name,argnum", [("polygamma", 0), ("zeta", 0), ("nextafter", 0),
                                         ("nextafter", 1), ("igamma_grad_a", 0)])
def test_undefined_derivatives_raise(name, argnum):
    """Where JAX defines no derivative, fx raises instead of returning a silent zero."""
    prim = primitives.registry[name]
    args = [np.array([1.0, 2.0], np.float32), np.array([1.5, 2.5], np.float32)]

    def f(x):
        full = list(args)
        full[argnum] = x
        return prim.bind(*full)

    with pytest.raises((NotImplementedError, ValueError)):
        fx.jvp(f, (args[argnum],), (np.ones(2, np.float32),))


# -- vmap, jit ----------------------------------------------------------------------

@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
@PER_OP
@given(data=st.data())
def test_vmap_matches_loop(op, data, harness):
    dname = data.draw(st.sampled_from(_row_dtypes(op)), label="dtype")
    shape = data.draw(st.sampled_from([(), (3,), (2, 3)]), label="shape")
    size = data.draw(st.sampled_from([1, 3]), label="batch size")
    rank0 = range(op.nargs) if op.rank0 is None else op.rank0
    shapes, in_axes = [], []
    for i in range(op.nargs):
        s = () if i in rank0 and data.draw(st.booleans(), label=f"rank0_{i}") else shape
        if op.prim == "bitcast_convert_type":
            s = shape
        ax = data.draw(st.one_of(st.none(), st.integers(0, len(s))), label=f"in_axis_{i}")
        shapes.append(s if ax is None else s[:ax] + (size,) + s[ax:])
        in_axes.append(ax)
    if all(ax is None for ax in in_axes):
        in_axes[0] = 0
        shapes[0] = (size,) + shapes[0]
    if all(s == () for s in shapes) and op.rank0 is not None and len(op.rank0) < op.nargs:
        return
    out_rank = max(len(s) - (ax is not None) for s, ax in zip(shapes, in_axes))
    if op.prim == "bitcast_convert_type" and op.params["new_dtype"].itemsize == 1:
        out_rank += 1
    out_axis = data.draw(st.integers(-out_rank - 1, out_rank), label="out_axis")
    rng = np.random.RandomState(data.draw(st.integers(0, 2**16), label="seed"))
    with _run_x64(op, dname):
        args = _draw_args(op, rng, shapes, dname)
        harness.check_vmap(_bind(op, dname), args, in_axes, out_axis, err_msg=op.id,
                           **_tols(op, dname))


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
def test_jit_matches_eager(op, harness):
    rng = np.random.RandomState(1)
    for dname in _row_dtypes(op):
        with _run_x64(op, dname):
            args = _draw_args(op, rng, [(2, 3)] * op.nargs, dname)
            harness.check_jit(_bind(op, dname), args, **_tols(op, dname))


def test_table_covers_every_elementwise_primitive():
    covered = {op.prim for op in OPS}
    defined = {p.name for module in (elementwise, convert)
               for p in vars(module).values() if isinstance(p, fx.core.Primitive)}
    assert defined - covered == set(), f"no table row for {sorted(defined - covered)}"


# -- JAX as an oracle --------------------------------------------------------------

@pytest.mark.jax
@pytest.mark.parametrize("op", JAX_OPS, ids=[op.id for op in JAX_OPS])
def test_against_jax(op, jax, harness):
    import jax.numpy as jnp
    rng = np.random.RandomState(2)
    for dname in _jax_dtypes(op):
        x64 = _needs_x64(op, dname)
        with _run_x64(op, dname), jax.enable_x64(x64):
            args = _draw_args(op, rng, [(6,)] * op.nargs, dname)
            # Unary float ops also see the special values, in the same call (one compile).
            # Complex special values are not compared: XLA's branch cuts at signed zeros
            # differ from NumPy's C99 ones (a known gap).
            if op.specials and op.nargs == 1 and dname in FLOATS:
                args = [np.concatenate([args[0], SPECIALS.astype(_dtype(dname))])]
            jax_fn = lambda *a: op.jax(jax.lax, *a)  # noqa: E731
            want = np.asarray(jax_fn(*[jnp.asarray(a) for a in args]))
            fx_args = [harness.to_fx(a) for a in args]
            fx_jaxpr = fx.make_jaxpr(_bind(op, dname))(*fx_args)
            got = fx.core.eval_jaxpr(fx_jaxpr.jaxpr, fx_jaxpr.consts, *fx_args)[0]
            harness.assert_same(got, want, err_msg=f"{op.id} {dname} vs jax.lax",
                                check_signed_zeros=op.signed_zeros, **_tols(op, dname))
            jax_text = harness.jaxpr_text(jax.make_jaxpr(jax_fn)(*args))
            assert harness.jaxpr_text(fx_jaxpr) == jax_text, (
                f"{op.id} {dname}: printed jaxpr differs from JAX's")


def test_jvp_rank0_numpy_primal():
    """A rank-0 NumPy primal keeps its shape through fx.jvp (fx.numpy.asarray must not
    turn rank-0 arrays into shape (1,))."""
    y, t = fx.jvp(fx.lax.sin, (np.float32(1.0),), (np.float32(1.0),))
    assert y.shape == () and t.shape == ()
    np.testing.assert_allclose(np.asarray(t), math.cos(1.0), rtol=1e-6)


def test_weak_scalar_with_complex_under_checks():
    """fx.numpy's eager fast path must give primitives operands of one dtype:
    complex64 array * Python float is a complex64 array."""
    x = fx.numpy.asarray(np.ones(3, np.complex64))
    out = x * 2.0
    assert out.dtype == np.complex64
    np.testing.assert_array_equal(np.asarray(out), np.full(3, 2, np.complex64))



def test_reduce_precision_derivatives_round_the_tangent():
    """As in JAX, reduce_precision is linear for differentiation: its jvp rounds the
    tangent and its vjp rounds the cotangent."""
    prim = primitives.registry["reduce_precision"]
    params = {"exponent_bits": 5, "mantissa_bits": 2}
    x = np.array([0.3, -1.7, 2.2], np.float32)
    t = np.array([1.3, 0.1, -3.3], np.float32)
    expected = _reduce_precision_ref(t, 5, 2).astype(np.float32)
    _, jvp_out = fx.jvp(lambda v: prim.bind(v, **params), (x,), (t,))
    np.testing.assert_array_equal(np.asarray(jvp_out), expected)
    _, pullback = fx.vjp(lambda v: prim.bind(v, **params), x)
    np.testing.assert_array_equal(np.asarray(pullback(t)[0]), expected)
