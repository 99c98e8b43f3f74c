"""CUDA C device functions for the special functions the GPU generates beyond CUDA's math
library: ``bessel_i0e`` and ``bessel_i1e`` (``exp(-|x|) I_n(x)``), appended to the kernel
prelude (``codegen.PRELUDE``) and called by ``codegen``'s unary rules.

Invariants: the same method as the CPU backend's (lowering/cpu/special_math.py, whose
coefficients these are): in double precision, for ``|x| <= 20`` the power series in
``q = (x/2)^2`` as one Horner polynomial, ``q`` carried as hi + lo and the sum corrected by
its slope, times ``exp(-|x|)``; beyond 20 Hankel's asymptotic series in ``1/|x|`` over
``sqrt(2 pi |x|)`` (taken as ``sqrt(|x|) sqrt(2 pi)`` where the product would overflow).
float32 and the 16-bit floats call the ``float`` wrappers (computed in double, rounded once
to float32), so 16-bit results round float32's value, as the eager impl rounds SciPy's.
``i1e`` is odd (``i1e(-0.0) = +0.0``); both are 0 at infinity and NaN stays NaN.
"""
from __future__ import annotations

import math

from lowering.cpu import special_math as _cpu_special

__all__ = ["SOURCE", "FUNCTIONS"]

#: primitive name -> (float function, double function), for codegen's unary table
FUNCTIONS = {"bessel_i0e": ("fx_bessel_i0e_f", "fx_bessel_i0e"),
             "bessel_i1e": ("fx_bessel_i1e_f", "fx_bessel_i1e")}


def _double(value: float) -> str:
    """A C double literal that reads back as exactly ``value``."""
    text = repr(float(value))
    return text if ("e" in text or "." in text) else text + ".0"


def _bessel_source(order: int) -> str:
    """The device functions ``fx_bessel_i{order}e`` (double) and ``..._f`` (float)."""
    series, asymptotic = _cpu_special._bessel_coefficients(order)
    cut = _double(_cpu_special._BESSEL_CUT)
    name = f"fx_bessel_i{order}e"
    # Horner with the slope: slope = slope * q + value, then value = value * q + c
    horner = [f"  double value = {_double(series[-1])}, slope = 0.0;"]
    for c in reversed(series[:-1]):
        horner.append(f"  slope = fma(slope, q, value); value = fma(value, q, {_double(c)});")
    far = [f"  double sum = {_double(asymptotic[-1])};"]
    far += [f"  sum = fma(sum, r, {_double(c)});" for c in reversed(asymptotic[:-1])]
    odd = "\n  if (x < 0.0) out = -out;  /* odd: i1e(-0.0) is +0.0 */" if order == 1 else ""
    scale = " * (z * 0.5)" if order == 1 else ""
    return "\n".join([
        f"__device__ double {name}_near(double z) {{  /* z <= {cut}: the power series */",
        "  double sq = z * z;",
        "  double q = sq * 0.25, q_lo = fma(z, z, -sq) * 0.25;",
        *horner,
        f"  return fma(slope, q_lo, value) * exp(-z){scale};",
        "}",
        f"__device__ double {name}_far(double z) {{  /* z > {cut}: Hankel's series */",
        "  double r = 1.0 / z;  /* 0 at infinity: the result 0 */",
        *far,
        f"  return z < 1e300 ? sum / sqrt(z * {_double(2 * math.pi)})  /* no overflow: */",
        f"                   : sum / (sqrt(z) * {_double(math.sqrt(2 * math.pi))});",
        "}",
        f"FX_D double {name}(double x) {{",
        "  if (x != x) return x;",
        "  double z = fabs(x);",
        f"  double out = z <= {cut} ? {name}_near(z) : {name}_far(z);{odd}",
        "  return out;",
        "}",
        f"FX_D float {name}_f(float x) {{ return (float){name}((double)x); }}",
    ])


SOURCE = "/* exp(-|x|) I0(x) and exp(-|x|) I1(x) (lowering/gpu/special_math.py) */\n" + \
    "\n".join(_bessel_source(order) for order in (0, 1)) + "\n"
