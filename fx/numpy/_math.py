"""The rest of NumPy's elementwise math for ``fx.numpy``: hypot, copysign, signbit,
ldexp/frexp/modf, fmax/fmin, heaviside, sinc, angle conversions, logaddexp, gcd/lcm,
float_power, i0, nan_to_num, the closeness tests, the real/complex predicates, and the
array API's spellings (``acos``, ``pow``, ``bitwise_left_shift``, ...).

Invariants: every function is a composition of fx primitives (so it differentiates,
batches and jits), promotes with JAX's lattice (weak types kept), and raises TypeError
for dtypes the function has no meaning for, before any work. Where a naive formula has
a bad derivative (``sinc`` at 0, ``logaddexp`` at infinities) a ``custom_jvp`` gives
the right one.
"""
from __future__ import annotations

import builtins

import numpy as np

from fx import core, dtypes, lax
from fx.array import Array
from fx.core import Tracer, get_aval
from fx.custom_derivatives import custom_jvp
from fx.numpy import _core as C
from fx.numpy._jitted import library_jit
from fx.numpy._core import (_broadcast_all, _promote, _promote_inexact, _promote_shapes, asarray,
                            where)

__all__ = ["hypot", "copysign", "signbit", "ldexp", "frexp", "modf", "fmax", "fmin",
           "heaviside", "sinc", "deg2rad", "radians", "rad2deg", "degrees", "logaddexp",
           "logaddexp2", "gcd", "lcm", "float_power", "i0", "angle", "nan_to_num",
           "isclose", "allclose", "array_equal", "array_equiv", "isreal", "iscomplex",
           "isrealobj", "iscomplexobj", "spacing", "fabs", "divmod", "isposinf", "isneginf",
           "bitwise_count", "bitwise_left_shift", "bitwise_right_shift", "acos", "acosh",
           "asin", "asinh", "atan", "atanh", "atan2", "pow", "isscalar", "iterable"]


def _dtype(x) -> np.dtype:
    return get_aval(x).dtype


def _const(value, like):
    """``value`` as a rank-0 constant of ``like``'s dtype (weak-free)."""
    return np.array(value, _dtype(like))[()]


def _reject_complex(name, *args):
    for a in args:
        if dtypes.is_complex(_dtype(a)):
            raise TypeError(f"fx.numpy.{name} does not support complex inputs, got dtype "
                            f"{_dtype(a).name}")


def _binary_inexact(x1, x2):
    x1, x2 = _promote_inexact(x1, x2)
    return _promote_shapes((x1, x2))  # size-1 dims left to the primitives, as JAX


def _weak(*args) -> bool:
    return all(get_aval(a).weak_type for a in args)


def _with_weak(out, weak: bool):
    """``out`` weakly typed iff ``weak``: elementwise math keeps the weakness of Python
    scalar inputs (as JAX does), while predicates and bit-level results are strong."""
    if get_aval(out).weak_type == weak:
        return out
    return lax._convert_element_type(out, get_aval(out).dtype, weak)


# ---------------------------------------------------------------------------
# magnitudes and signs


def hypot(x1, x2, /):
    """``sqrt(x1**2 + x2**2)`` without overflow or underflow in the squares.

    Args:
      x1, x2: real arrays (broadcast together; integers are promoted to float).

    Returns:
      The elementwise hypotenuse; infinite where either input is infinite.

    Example:
      >>> fnp.hypot(3.0, 4.0)
      Array(5., dtype=float32, weak_type=True)
    """
    x1, x2 = _binary_inexact(x1, x2)
    _reject_complex("hypot", x1, x2)
    a, b = lax.abs(x1), lax.abs(x2)
    big, small = lax.max(a, b), lax.min(a, b)
    safe_big = where(lax.eq(big, _const(0, big)), _const(1, big), big)
    ratio = lax.div(small, safe_big)
    out = lax.mul(big, lax.sqrt(lax.add(_const(1, ratio), lax.mul(ratio, ratio))))
    out = where(lax.eq(big, _const(0, big)), small, out)
    out = where(C.logical_or(C.isinf(a), C.isinf(b)), _const(np.inf, out), out)
    return _with_weak(out, _weak(x1, x2))


_SIGN_SHIFT_TYPES = {2: np.int16, 4: np.int32, 8: np.int64}


@library_jit
def signbit(x, /):
    """Whether the sign bit of ``x`` is set (true for ``-0.0`` and negative NaNs), as
    JAX's ``jnp.signbit`` (traced, a ``jit[name=signbit]`` equation: the float's bits
    shifted right arithmetically onto the sign).

    Args:
      x: a real array (integers compare with 0; booleans are never negative).

    Returns:
      A boolean array of ``x``'s shape.

    Raises:
      ValueError: for complex ``x`` (the sign bit of a complex number is not defined),
        as JAX's.

    Example:
      >>> fnp.signbit(fnp.array([-0.0, 0.0, -2.0]))
      Array([ True, False,  True], dtype=bool)
    """
    (x,) = _promote(x)
    dtype = _dtype(x)
    if dtypes.is_integer(dtype):
        return lax.lt(x, _const(0, x))
    if dtype == dtypes.bool_:
        return lax.full_like(x, False, dtype=dtypes.bool_)
    if not dtypes.issubdtype(dtype, np.floating):  # a ValueError, as JAX's
        raise ValueError(f"fx.numpy.signbit is not well defined for {dtype} (complex) "
                         "inputs: take the signbit of x.real or x.imag")
    int_type = _SIGN_SHIFT_TYPES.get(dtype.itemsize)
    if int_type is None:
        raise NotImplementedError(f"fx.numpy.signbit supports only 16, 32 and 64-bit floats, "
                                  f"got {dtype}")
    bits = lax.bitcast_convert_type(x, int_type)
    if core._current_trace.get() is core.eval_trace:  # eager: one op fewer, same values
        return lax.lt(bits, np.array(0, int_type)[()])
    shift = np.array(8 * dtype.itemsize - 1, int_type)[()]
    return lax.convert_element_type(lax.shift_right_arithmetic(bits, shift), dtypes.bool_)


@library_jit
def copysign(x1, x2, /):
    """The magnitude of ``x1`` with the sign (bit) of ``x2``, as JAX's ``jnp.copysign``
    (traced, a ``jit[name=copysign]`` equation around ``signbit``'s).

    Args:
      x1, x2: real arrays or scalars (promoted to an inexact type and broadcast).

    Returns:
      ``-|x1|`` where ``x2``'s sign bit is set, else ``|x1|``.

    Raises:
      TypeError: for complex inputs.

    Example:
      >>> fnp.copysign(2.0, -0.0)
      Array(-2., dtype=float32, weak_type=True)
    """
    x1, x2 = _binary_inexact(x1, x2)
    if dtypes.is_complex(_dtype(x1)):
        raise TypeError("fx.numpy.copysign does not support complex-valued inputs, got "
                        f"dtype {_dtype(x1).name}")
    return where(signbit(x2), lax.neg(lax.abs(x1)), lax.abs(x1))


def fabs(x, /):
    """Absolute value of a real array, as float.

    Example:
      >>> fnp.fabs(-2)
      Array(2., dtype=float32, weak_type=True)
    """
    (x,) = _promote_inexact(x)
    _reject_complex("fabs", x)
    return _with_weak(lax.abs(x), _weak(x))


def spacing(x, /):
    """The distance from ``x`` to the next representable number away from zero.

    Example:
      >>> fnp.spacing(fnp.float32(1.0))
      Array(1.1920929e-07, dtype=float32)
    """
    (x,) = _promote_inexact(x)
    _reject_complex("spacing", x)
    inf = lax.full_like(x, np.inf)
    away = where(signbit(x), lax.neg(inf), inf)
    return _with_weak(lax.sub(lax.nextafter(x, away), x), False)


def isposinf(x, /):
    """Whether ``x`` is +infinity (real inputs only)."""
    (x,) = _promote(x)
    _reject_complex("isposinf", x)
    if not dtypes.is_inexact(_dtype(x)):
        return lax.full(get_aval(x).shape, False, dtypes.bool_)
    return _with_weak(lax.eq(x, _const(np.inf, x)), False)


def isneginf(x, /):
    """Whether ``x`` is -infinity (real inputs only)."""
    (x,) = _promote(x)
    _reject_complex("isneginf", x)
    if not dtypes.is_inexact(_dtype(x)):
        return lax.full(get_aval(x).shape, False, dtypes.bool_)
    return _with_weak(lax.eq(x, _const(-np.inf, x)), False)


def fmax(x1, x2, /):
    """Elementwise maximum that ignores NaN (NaN only where both are NaN).

    Example:
      >>> fnp.fmax(fnp.array([1.0, fnp.nan]), 0.0)
      Array([1., 0.], dtype=float32)
    """
    x1, x2 = _promote(x1, x2)
    x1, x2 = _broadcast_all((x1, x2))
    out = C.maximum(x1, x2)
    if not dtypes.is_inexact(_dtype(out)):
        return out
    return _with_weak(where(C.isnan(x1), x2, where(C.isnan(x2), x1, out)), _weak(x1, x2))


def fmin(x1, x2, /):
    """Elementwise minimum that ignores NaN (NaN only where both are NaN)."""
    x1, x2 = _promote(x1, x2)
    x1, x2 = _broadcast_all((x1, x2))
    out = C.minimum(x1, x2)
    if not dtypes.is_inexact(_dtype(out)):
        return out
    return _with_weak(where(C.isnan(x1), x2, where(C.isnan(x2), x1, out)), _weak(x1, x2))


def heaviside(x1, x2, /):
    """The Heaviside step: 0 where ``x1 < 0``, ``x2`` where ``x1 == 0``, 1 where ``x1 > 0``.

    Example:
      >>> fnp.heaviside(fnp.array([-1.0, 0.0, 2.0]), 0.5)
      Array([0. , 0.5, 1. ], dtype=float32)
    """
    x1, x2 = _binary_inexact(x1, x2)
    _reject_complex("heaviside", x1, x2)
    zero, one = lax.full_like(x1, 0), lax.full_like(x1, 1)
    out = where(lax.lt(x1, zero), zero,
                where(lax.gt(x1, zero), one, where(C.isnan(x1), x1, x2)))
    return _with_weak(out, _weak(x1, x2))


# ---------------------------------------------------------------------------
# exponent and mantissa


def ldexp(x1, x2, /):
    """``x1 * 2**x2`` for an integer ``x2``, exact while the result is representable.

    Args:
      x1: a real array (integers become float).
      x2: an integer array.

    Returns:
      A float array.

    Example:
      >>> fnp.ldexp(3.0, 4)
      Array(48., dtype=float32, weak_type=True)
    """
    if not (dtypes.is_integer(dtypes.result_type(x2)) or dtypes.result_type(x2) == dtypes.bool_):
        raise TypeError(f"fx.numpy.ldexp: x2 must be an integer array, got dtype "
                        f"{dtypes.result_type(x2).name}")
    (x1,) = _promote_inexact(x1)
    _reject_complex("ldexp", x1)
    x2 = asarray(x2)
    if get_aval(x2).dtype == dtypes.bool_:
        x2 = lax.convert_element_type(x2, np.int32)
    x1, x2 = _broadcast_all((x1, x2))
    dtype = _dtype(x1)
    # two half-sized scalings keep 2**x2 finite where the product is still representable
    half = C.floor_divide(x2, 2)
    rest = lax.sub(x2, half)
    two = lax.full_like(x1, 2)
    scale1 = lax.pow(two, lax.convert_element_type(half, dtype))
    scale2 = lax.pow(two, lax.convert_element_type(rest, dtype))
    return _with_weak(lax.mul(lax.mul(x1, scale1), scale2), False)


_FLOAT_LAYOUT = {  # itemsize/kind -> (int type, mantissa bits, exponent bias)
    "float16": (np.int16, 10, 15), "bfloat16": (np.int16, 7, 127),
    "float32": (np.int32, 23, 127), "float64": (np.int64, 52, 1023),
}


def frexp(x, /):
    """Split ``x`` into a mantissa in [0.5, 1) (by magnitude) and a power of two.

    Returns:
      ``(mantissa, exponent)`` with ``x == mantissa * 2**exponent``; the exponent is
      int32; zeros, infinities and NaNs give themselves and exponent 0.

    Example:
      >>> m, e = fnp.frexp(8.0)
      >>> m, e
      (Array(0.5, dtype=float32), Array(4, dtype=int32))
    """
    (x,) = _promote_inexact(x)
    _reject_complex("frexp", x)
    dtype = _dtype(x)
    x = lax.convert_element_type(x, dtype)
    int_type, nmant, bias = _FLOAT_LAYOUT[dtype.name]
    itype = np.dtype(int_type)
    # scale subnormals into the normal range first
    tiny = _const(dtypes.finfo(dtype).tiny, x)
    subnormal = C.logical_and(lax.lt(lax.abs(x), tiny), lax.ne(x, _const(0, x)))
    scaled = where(subnormal, lax.mul(x, _const(2.0 ** nmant, x)), x)
    bits = lax.bitcast_convert_type(scaled, itype)
    exp_mask = np.array((1 << (itype.itemsize * 8 - 1 - nmant)) - 1, itype)[()]
    if itype.itemsize == 2 and nmant == 10:
        exp_mask = np.array(0x1F, itype)[()]
    field = lax.bitwise_and(lax.shift_right_logical(bits, np.array(nmant, itype)[()]),
                            exp_mask)
    exponent = lax.sub(lax.convert_element_type(field, np.int32), np.int32(bias - 1))
    exponent = where(subnormal, lax.sub(exponent, np.int32(nmant)), exponent)
    clear = np.array(~(int(exp_mask) << nmant), itype)[()]
    half_exp = np.array((bias - 1) << nmant, itype)[()]
    mant_bits = lax.bitwise_or(lax.bitwise_and(bits, clear), half_exp)
    mantissa = lax.bitcast_convert_type(mant_bits, dtype)
    special = C.logical_or(lax.eq(x, _const(0, x)), C.logical_not(C.isfinite(x)))
    mantissa = where(special, x, mantissa)
    exponent = where(special, lax.full_like(exponent, 0), exponent)
    return _with_weak(mantissa, False), _with_weak(exponent, False)


def modf(x, /, out=None):
    """The fractional and integral parts of ``x``, both with the sign of ``x``.

    Returns:
      ``(fraction, integral)``.

    Example:
      >>> fnp.modf(-2.5)
      (Array(-0.5, dtype=float32), Array(-2., dtype=float32))
    """
    if out is not None:
        raise NotImplementedError("The 'out' argument to fx.numpy.modf is not supported.")
    (x,) = _promote_inexact(x)
    _reject_complex("modf", x)
    weak = _weak(x)
    whole = C.trunc(x)
    return _with_weak(lax.sub(x, whole), weak), _with_weak(whole, weak)


# ---------------------------------------------------------------------------
# sinc, angles, logaddexp


def _sinc_taylor_coefficient(k: int) -> float:
    """The k-th derivative of sinc at 0."""
    if k % 2:
        return 0.0
    return (-1) ** (k // 2) * np.pi ** k / (k + 1)


def _sinc_at_zero(k):
    @custom_jvp
    def value(x):
        return lax.full_like(x, _sinc_taylor_coefficient(k))

    @value.defjvp
    def value_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return value(x), lax.mul(_sinc_at_zero(k + 1)(x), t)

    return value


def sinc(x, /):
    """The normalized sinc, ``sin(pi x) / (pi x)`` (1 at 0, with every derivative right
    there too).

    Example:
      >>> fnp.sinc(0.5)
      Array(0.63661975, dtype=float32, weak_type=True)
    """
    (x,) = _promote_inexact(x)
    zero = lax.eq(x, lax.full_like(x, 0))
    pi_x = lax.mul(x, _const(np.pi, x))
    safe = where(zero, lax.full_like(x, 1), pi_x)
    out = where(zero, _sinc_at_zero(0)(x), lax.div(lax.sin(safe), safe))
    return _with_weak(out, _weak(x))


def deg2rad(x, /):
    """Degrees to radians."""
    (x,) = _promote_inexact(x)
    return _with_weak(lax.mul(x, _const(np.pi / 180, x)), _weak(x))


def rad2deg(x, /):
    """Radians to degrees."""
    (x,) = _promote_inexact(x)
    return _with_weak(lax.mul(x, _const(180 / np.pi, x)), _weak(x))


radians, degrees = deg2rad, rad2deg


def angle(z, deg: bool = False):
    """The argument (phase) of ``z``, in radians or degrees.

    Example:
      >>> fnp.angle(1j, deg=True)
      Array(90., dtype=float32, weak_type=True)
    """
    (z,) = _promote(z)
    # as JAX: weak only for a weak complex input (a real input converts strongly)
    weak = dtypes.is_complex(_dtype(z)) and get_aval(z).weak_type
    if dtypes.is_complex(_dtype(z)):
        re, im = lax.real(z), lax.imag(z)
    else:
        (re,) = _promote_inexact(z)
        im = lax.full_like(re, 0)
    out = lax.atan2(im, re)
    return _with_weak(rad2deg(out) if deg else out, weak)


def _replace_inf(x):
    """``x`` with ``+inf`` (of the real part) replaced by 0, as JAX's logaddexp jvp."""
    real = lax.real(x) if dtypes.is_complex(_dtype(x)) else x
    return lax.select_n(lax.eq(real, _const(np.inf, real)), x, lax.full_like(x, 0))


def _wrap_between(x, bound):
    """``x`` wrapped into ``[-bound, bound)`` (the phase of a complex logaddexp)."""
    a = _const(bound, x)
    two_a = _const(2 * bound, x)
    rem = lax.rem(lax.add(x, a), two_a)
    rem = lax.select_n(lax.lt(rem, _const(0, x)), rem, lax.add(rem, two_a))
    return lax.sub(rem, a)


def _logaddexp_rule(name, exp, scale, phase_bound):
    """JAX's ``logaddexp`` (``exp=lax.exp``) or ``logaddexp2`` (``lax.exp2``, the log1p
    scaled by ``1 / ln 2``) as a ``custom_jvp`` function named ``name`` (what JAX's
    ``custom_jvp_call`` prints), with its derivative: each term's weight and product in
    turn (JAX's order of equations)."""
    def rule(x1, x2):
        big = lax.max(x1, x2)

        def log1p_exp(d):
            y = lax.log1p(exp(d))
            return y if scale is None else lax.mul(_const(scale, big), y)
        if dtypes.is_complex(_dtype(x1)):  # as JAX: the principal branch of the phase
            delta = lax.sub(lax.add(x1, x2), lax.mul(big, _const(2, big)))
            out = lax.add(big, log1p_exp(delta))
            return lax.complex(lax.real(out), _wrap_between(lax.imag(out), phase_bound))
        delta = lax.sub(x1, x2)
        is_nan = lax.ne(delta, delta)
        both = lax.add(x1, x2)
        out = lax.add(big, log1p_exp(lax.neg(lax.abs(delta))))
        return lax.select_n(is_nan, out, both)
    rule.__name__ = rule.__qualname__ = name
    fn = custom_jvp(rule)

    def jvp(primals, tangents):
        x1, x2 = primals
        t1, t2 = tangents
        out = fn(x1, x2)
        first = lax.mul(t1, exp(lax.sub(_replace_inf(x1), _replace_inf(out))))
        second = lax.mul(t2, exp(lax.sub(_replace_inf(x2), _replace_inf(out))))
        return out, lax.add(first, second)
    jvp.__name__ = jvp.__qualname__ = f"_{name}_jvp"  # (printed as the rule's name)
    fn.defjvp(jvp)
    return fn


_logaddexp = _logaddexp_rule("logaddexp", lax.exp, None, np.pi)
_logaddexp2 = _logaddexp_rule("logaddexp2", lax.exp2, 1 / np.log(2), np.pi / np.log(2))


def logaddexp(x1, x2, /):
    """``log(exp(x1) + exp(x2))`` without overflow (complex inputs as JAX: the phase
    wrapped into ``[-pi, pi)``).

    Args:
      x1, x2: arrays or scalars (promoted to an inexact type and broadcast).

    Returns:
      The elementwise log-sum-exp; a ``custom_jvp_call`` named ``logaddexp`` traced.

    Example:
      >>> fnp.logaddexp(0.0, 0.0)
      Array(0.6931472, dtype=float32, weak_type=True)
    """
    x1, x2 = _binary_inexact(x1, x2)
    return _with_weak(_logaddexp(x1, x2), _weak(x1, x2))


def logaddexp2(x1, x2, /):
    """``log2(2**x1 + 2**x2)`` without overflow, as JAX's ``jnp.logaddexp2`` (traced, a
    ``custom_jvp_call`` named ``logaddexp2``; complex phases wrapped by ``pi / ln 2``).

    Args:
      x1, x2: arrays or scalars (promoted to an inexact type and broadcast).

    Returns:
      The elementwise base-2 log-sum-exp.

    Example:
      >>> fnp.logaddexp2(1.0, 1.0)
      Array(2., dtype=float32, weak_type=True)
    """
    x1, x2 = _binary_inexact(x1, x2)
    return _with_weak(_logaddexp2(x1, x2), _weak(x1, x2))


# ---------------------------------------------------------------------------
# integers


def _integer_pair(name, x1, x2):
    x1, x2 = _promote(x1, x2)
    if not dtypes.is_integer(_dtype(x1)):
        raise TypeError(f"fx.numpy.{name} requires integer arguments, got dtype "
                        f"{_dtype(x1).name}")
    return C.broadcast_arrays(x1, x2)


def gcd(x1, x2, /):
    """Greatest common divisor of the absolute values (0 for ``gcd(0, 0)``).

    Example:
      >>> fnp.gcd(12, 18)
      Array(6, dtype=int32, weak_type=True)
    """
    x1, x2 = _integer_pair("gcd", x1, x2)
    a, b = C.absolute(x1), C.absolute(x2)
    zero, one = lax.full_like(a, 0), lax.full_like(a, 1)

    def cond(state):
        return C.any(lax.ne(state[1], zero))

    def body(state):
        a, b = state
        nonzero = lax.ne(b, zero)
        safe_b = where(nonzero, b, one)
        return where(nonzero, b, a), where(nonzero, lax.rem(a, safe_b), zero)

    weak = _weak(x1, x2)
    a, b = lax.while_loop(cond, body, (_with_weak(a, False), _with_weak(b, False)))
    return _with_weak(a, weak)


def lcm(x1, x2, /):
    """Least common multiple of the absolute values (0 if either is 0).

    Example:
      >>> fnp.lcm(4, 6)
      Array(12, dtype=int32, weak_type=True)
    """
    x1, x2 = _integer_pair("lcm", x1, x2)
    g = gcd(x1, x2)
    zero = lax.eq(g, lax.full_like(g, 0))
    safe = where(zero, lax.full_like(g, 1), g)
    out = where(zero, lax.full_like(g, 0),
                lax.mul(lax.div(C.absolute(x1), safe), C.absolute(x2)))
    return _with_weak(out, _weak(x1, x2))


def bitwise_count(x, /):
    """The number of set bits in ``abs(x)``, as uint8.

    Example:
      >>> fnp.bitwise_count(fnp.array([-1, 7]))
      Array([1, 3], dtype=uint8)
    """
    (x,) = _promote(x)
    if not (dtypes.is_integer(_dtype(x)) or _dtype(x) == dtypes.bool_):
        raise TypeError(f"fx.numpy.bitwise_count requires integer or bool input, got dtype "
                        f"{_dtype(x).name}")
    if _dtype(x) == dtypes.bool_:
        return lax.convert_element_type(x, np.uint8)
    return lax.convert_element_type(lax.population_count(C.absolute(x)), np.uint8)


def divmod(x1, x2, /):
    """``(x1 // x2, x1 % x2)`` with NumPy's signs."""
    return C.floor_divide(x1, x2), C.remainder(x1, x2)


def float_power(x1, x2, /):
    """``x1 ** x2`` computed in floating point (the widest float fx has enabled).

    Example:
      >>> fnp.float_power(2, -1)
      Array(0.5, dtype=float32, weak_type=True)
    """
    x1, x2 = _binary_inexact(x1, x2)
    return _with_weak(lax.pow(x1, x2), _weak(x1, x2))


def i0(x, /):
    """The modified Bessel function of the first kind, order 0.

    Example:
      >>> fnp.i0(1.0)
      Array(1.266066, dtype=float32, weak_type=True)
    """
    from fx.lax._lax_more import bessel_i0e
    (x,) = _promote_inexact(x)
    _reject_complex("i0", x)
    return _with_weak(lax.mul(lax.exp(lax.abs(x)), bessel_i0e(x)), _weak(x))


# ---------------------------------------------------------------------------
# NaN handling and comparisons


def nan_to_num(x, copy: bool = True, nan=0.0, posinf=None, neginf=None):
    """``x`` with NaN replaced by ``nan`` and infinities by ``posinf``/``neginf``
    (the largest finite values by default); complex parts are handled separately.

    Example:
      >>> fnp.nan_to_num(fnp.array([fnp.nan, fnp.inf]))
      Array([0.0000000e+00, 3.4028235e+38], dtype=float32)
    """
    (x,) = _promote(x)
    dtype = _dtype(x)
    if not dtypes.is_inexact(dtype):
        return x
    if dtypes.is_complex(dtype):
        re = nan_to_num(lax.real(x), nan=nan, posinf=posinf, neginf=neginf)
        im = nan_to_num(lax.imag(x), nan=nan, posinf=posinf, neginf=neginf)
        return lax.complex(re, im)
    info = dtypes.finfo(dtype)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    out = where(C.isnan(x), lax.full_like(x, nan), x)
    out = where(isposinf(out), lax.full_like(x, posinf), out)
    return _with_weak(where(isneginf(out), lax.full_like(x, neginf), out), False)


@library_jit(static_argnames=("equal_nan",))
def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan: bool = False):
    """Whether ``a == b`` or (``b`` finite and ``|a - b| <= atol + rtol * |b|``),
    elementwise, as JAX's ``jnp.isclose`` (traced, a ``jit[name=isclose]`` equation).

    Args:
      a, b: arrays (broadcast together).
      rtol, atol: relative and absolute tolerances.
      equal_nan: whether two NaNs count as close.

    Returns:
      A bool array.

    Example:
      >>> fnp.isclose(fnp.array([1.0, 1.1]), 1.0)
      Array([ True, False], dtype=bool)
    """
    a, b = _promote(a, b)
    a, b = _promote_shapes((a, b))
    dtype = _dtype(a)
    if dtype == dtypes.bool_ or not dtypes.is_inexact(dtype):
        a, b = _promote_inexact(a, b)
        dtype = _dtype(a)
    real_dtype = dtypes.finfo(dtype).dtype
    rtol = lax.convert_element_type(rtol, real_dtype)
    atol = lax.convert_element_type(atol, real_dtype)
    both_nan = C.logical_and(C.isnan(a), C.isnan(b))
    b_finite = C.isfinite(b)
    in_range = lax.le(lax.abs(lax.sub(a, b)), lax.add(atol, lax.mul(rtol, lax.abs(b))))
    out = C.logical_or(lax.eq(a, b), C.logical_and(b_finite, in_range))
    out = C.logical_or(out, both_nan) if equal_nan else out
    return out


@library_jit(static_argnames=("equal_nan",))
def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan: bool = False):
    """Whether every element of ``a`` is close to ``b`` (see ``isclose``); a 0-d bool
    (traced, a ``jit[name=allclose]`` equation, as JAX's)."""
    return C.all(isclose(a, b, rtol, atol, equal_nan))


def array_equal(a1, a2, equal_nan: bool = False):
    """Whether ``a1`` and ``a2`` have the same shape and elements (a 0-d bool array).

    Example:
      >>> fnp.array_equal(fnp.arange(3), [0, 1, 2])
      Array(True, dtype=bool)
    """
    a1, a2 = asarray(a1), asarray(a2)
    if get_aval(a1).shape != get_aval(a2).shape:
        return asarray(False)
    a1, a2 = _promote(a1, a2)
    eq = lax.eq(a1, a2)
    if equal_nan:
        eq = C.logical_or(eq, C.logical_and(C.isnan(a1), C.isnan(a2)))
    return C.all(eq)


def array_equiv(a1, a2):
    """Whether ``a1`` and ``a2`` are equal after broadcasting (False if they cannot
    broadcast)."""
    a1, a2 = asarray(a1), asarray(a2)
    try:
        C.broadcast_shapes(get_aval(a1).shape, get_aval(a2).shape)
    except ValueError:
        return asarray(False)
    return C.all(C.equal(a1, a2))


def isreal(x, /):
    """Elementwise: whether the imaginary part is zero."""
    (x,) = _promote(x)
    if not dtypes.is_complex(_dtype(x)):
        return _with_weak(lax.full_like(x, True, dtypes.bool_), _weak(x))
    return lax.eq(lax.imag(x), _const(0, lax.imag(x)))


def iscomplex(x, /):
    """Elementwise: whether the imaginary part is nonzero."""
    (x,) = _promote(x)
    if not dtypes.is_complex(_dtype(x)):
        return _with_weak(lax.full_like(x, False, dtypes.bool_), _weak(x))
    return lax.ne(lax.imag(x), _const(0, lax.imag(x)))


def iscomplexobj(x) -> bool:
    """Whether ``x`` has a complex dtype (a Python bool)."""
    if x is None:
        return False
    try:
        return dtypes.is_complex(dtypes.dtype(x))
    except TypeError:
        return dtypes.is_complex(np.asarray(x).dtype)


def isrealobj(x) -> bool:
    """Whether ``x`` has a non-complex dtype (a Python bool)."""
    return not iscomplexobj(x)


def isscalar(element) -> bool:
    """Whether ``element`` is a scalar: a Python/NumPy scalar or a 0-d array (as JAX).

    Example:
      >>> fnp.isscalar(fnp.array(1.0)), fnp.isscalar([1.0])
      (True, False)
    """
    if isinstance(element, (np.ndarray, Array, Tracer)):
        return get_aval(element).ndim == 0 if not isinstance(element, np.ndarray) \
            else element.ndim == 0
    return isinstance(element, (builtins.bool, int, float, complex, np.generic))


def iterable(y) -> bool:
    """Whether ``iter(y)`` works."""
    try:
        iter(y)
    except TypeError:
        return False
    return True


# ---------------------------------------------------------------------------
# the array API's names for functions NumPy spells differently

acos, acosh, asin, asinh = C.arccos, C.arccosh, C.arcsin, C.arcsinh
atan, atanh, atan2 = C.arctan, C.arctanh, C.arctan2
pow = C.power
bitwise_left_shift, bitwise_right_shift = C.left_shift, C.right_shift
