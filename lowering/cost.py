"""Cost analysis of a program: floating-point operations, transcendental functions and
bytes moved, under the keys JAX's ``Lowered.cost_analysis()`` uses.

Invariants: flops follow XLA's conventions where a jaxpr primitive has an HLO
counterpart: one per element of an arithmetic elementwise result (an
``integer_pow`` counts its multiplications), transcendental functions (exp, log,
tanh, sin, sqrt, pow, erf, ...) count under ``transcendentals`` instead, a
reduction costs (input elements - output elements), a ``dot_general``
2·M·N·K per batch element and a convolution two per multiply-add actually
performed (taps that fall in padding or between dilated input elements are not
counted). Data movement (broadcast, reshape, transpose, slice, gather, ...)
costs no flops. A loop body counts once per iteration for ``scan``, once for
``while`` (the trip count is unknown), the costliest branch for ``cond``.
``bytes accessed`` counts, per kernel of the fused program, the bytes of the
buffers it reads plus those it writes (values inside a fused loop cost
nothing); without fusion groups every equation is its own kernel.
"""
from __future__ import annotations

import math

import numpy as np

from fx.core import ClosedJaxpr, DropVar, Jaxpr, Literal

__all__ = ["cost_analysis", "equation_flops"]

#: primitives counted as transcendental functions (one per result element)
TRANSCENDENTAL = frozenset({
    "exp", "exp2", "log", "log1p", "expm1", "tanh", "logistic", "sin", "cos", "tan",
    "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "sqrt", "rsqrt",
    "cbrt", "erf", "erfc", "erf_inv", "lgamma", "digamma", "pow", "atan2", "igamma",
    "igammac", "bessel_i0e", "bessel_i1e", "polygamma", "zeta", "random_gamma_grad"})
#: elementwise primitives that compute (one flop per result element)
_ARITHMETIC = frozenset({
    "neg", "sign", "floor", "ceil", "round", "is_finite", "not", "population_count", "clz",
    "abs", "add", "sub", "mul", "div", "rem", "max", "min", "nextafter", "and", "or", "xor",
    "eq", "ne", "lt", "le", "gt", "ge", "shift_left", "shift_right_arithmetic",
    "shift_right_logical", "add_any", "select_n", "clamp", "convert_element_type",
    "conj", "complex", "reduce_precision", "square", "reciprocal"})
_REDUCTIONS = frozenset({"reduce_sum", "reduce_max", "reduce_min", "reduce_prod",
                         "reduce_and", "reduce_or", "reduce_xor", "argmax", "argmin"})
_CUMULATIVE = frozenset({"cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp"})
_SCATTER_COMBINE = frozenset({"scatter-add", "scatter-sub", "scatter-mul", "scatter-min",
                              "scatter-max"})


def _size(aval) -> int:
    return int(math.prod(aval.shape))


def _nbytes(aval) -> int:
    return _size(aval) * np.dtype(aval.dtype).itemsize


def _integer_pow_mults(y: int) -> int:
    """Multiplications of exponentiation by squaring (one more for a reciprocal)."""
    n = abs(int(y))
    if n == 0:
        return 0
    return n.bit_length() - 1 + bin(n).count("1") - 1 + (1 if y < 0 else 0)


def _conv_macs(eqn) -> int:
    """Multiply-adds of ``conv_general_dilated`` that read real (not padded, not
    dilation-hole) input elements."""
    p = eqn.params
    lhs, rhs = (v.aval for v in eqn.invars)
    dn = p["dimension_numbers"]
    lhs_spec, rhs_spec, out_spec = dn.lhs_spec, dn.rhs_spec, dn.out_spec
    out = eqn.outvars[0].aval
    nsp = len(lhs_spec) - 2
    strides = tuple(p.get("window_strides") or (1,) * nsp)
    lhs_dil = tuple(p.get("lhs_dilation") or (1,) * nsp)
    rhs_dil = tuple(p.get("rhs_dilation") or (1,) * nsp)
    padding = tuple(p.get("padding") or ((0, 0),) * nsp)
    taps = 1
    for d in range(nsp):
        in_size = lhs.shape[lhs_spec[2 + d]]
        k_size = rhs.shape[rhs_spec[2 + d]]
        o_size = out.shape[out_spec[2 + d]]
        o = np.arange(o_size)[:, None]
        k = np.arange(k_size)[None, :]
        pos = o * strides[d] - padding[d][0] + k * rhs_dil[d]  # in the dilated input
        ok = (pos >= 0) & (pos % lhs_dil[d] == 0) & (pos // lhs_dil[d] < in_size)
        taps *= int(ok.sum())
    batch = out.shape[out_spec[0]]
    out_features = out.shape[out_spec[1]]
    in_per_group = rhs.shape[rhs_spec[1]]  # input features each output feature reads
    return batch * out_features * in_per_group * taps


def _sub_costs(eqn) -> tuple[float, float] | None:
    """Flops and transcendentals of a higher-order equation's sub-jaxprs, or None."""
    name = eqn.primitive.name
    subs = eqn.primitive.subjaxprs(eqn.params)
    if not subs:
        return None
    costs = [_jaxpr_flops(s.jaxpr if isinstance(s, ClosedJaxpr) else s) for s in subs]
    if name == "cond":
        return max(costs, key=lambda c: c[0] + c[1])
    scale = int(eqn.params.get("length", 1)) if name == "scan" else 1
    return (scale * sum(c[0] for c in costs), scale * sum(c[1] for c in costs))


def equation_flops(eqn) -> tuple[float, float]:
    """``(flops, transcendentals)`` of one equation (sub-jaxprs included).

    Example:
      >>> e = fx.make_jaxpr(lambda a, b: a @ b)(np.ones((4, 5)), np.ones((5, 6))).eqns[0]
      >>> equation_flops(e)
      (240.0, 0.0)
    """
    name = eqn.primitive.name
    p = eqn.params
    outs = [v.aval for v in eqn.outvars if hasattr(v.aval, "shape")]
    n_out = _size(outs[0]) if outs else 0
    if name in TRANSCENDENTAL:
        return 0.0, float(n_out)
    if name == "convert_element_type" and \
            np.dtype(eqn.invars[0].aval.dtype) == np.dtype(p["new_dtype"]):
        return 0.0, 0.0  # a weak-type change only: no instruction
    if name in _ARITHMETIC:
        return float(n_out), 0.0
    if name == "integer_pow":
        return float(n_out * _integer_pow_mults(p["y"])), 0.0
    if name in _REDUCTIONS:
        return float(max(_size(eqn.invars[0].aval) - n_out, 0)), 0.0
    if name in _CUMULATIVE:
        axis_len = eqn.invars[0].aval.shape[p["axis"]] if eqn.invars[0].aval.shape else 1
        rows = n_out // axis_len if axis_len else 0
        extra = float(n_out) if name == "cumlogsumexp" else 0.0
        return float(max(n_out - rows, 0)), extra
    if name == "dot_general":
        (lc, _), _ = p["dimension_numbers"]
        k = math.prod(eqn.invars[0].aval.shape[d] for d in lc)
        return float(2 * n_out * k), 0.0
    if name == "conv_general_dilated":
        return float(2 * _conv_macs(eqn)), 0.0
    if name in _SCATTER_COMBINE:
        return float(_size(eqn.invars[-1].aval)), 0.0
    if name == "sort":
        shape = eqn.invars[0].aval.shape
        n = shape[p.get("dimension", -1)] if shape else 1
        return float(_size(eqn.invars[0].aval) * max(math.ceil(math.log2(n)), 1)
                     if n > 1 else 0), 0.0
    if name == "fft":
        lengths = p.get("fft_lengths") or ()
        n = math.prod(lengths) if lengths else 1
        batches = _size(eqn.invars[0].aval) // max(n, 1)
        return float(5 * batches * n * math.log2(n)) if n > 1 else 0.0, 0.0
    if name in ("cholesky", "lu", "triangular_solve", "qr", "eigh", "svd", "eig"):
        a = eqn.invars[0].aval.shape
        n = a[-1] if a else 1
        batch = _size(eqn.invars[0].aval) // max(n * (a[-2] if len(a) > 1 else 1), 1)
        if name == "triangular_solve":
            b = eqn.invars[1].aval
            return float(batch * n * n * (_size(b) // max(batch * n, 1))), 0.0
        factor = {"cholesky": 1 / 3, "lu": 2 / 3, "qr": 4 / 3}.get(name, 9.0)
        return float(batch * factor * n ** 3), 0.0
    sub = _sub_costs(eqn)
    if sub is not None:
        return float(sub[0]), float(sub[1])
    return 0.0, 0.0


def _jaxpr_flops(jaxpr: Jaxpr) -> tuple[float, float]:
    flops = trans = 0.0
    for e in jaxpr.eqns:
        f, t = equation_flops(e)
        flops += f
        trans += t
    return flops, trans


def _kernel_bytes(inputs, outputs) -> tuple[int, int]:
    read = sum(_nbytes(v.aval) for v in _distinct(inputs))
    written = sum(_nbytes(v.aval) for v in _distinct(outputs) if not isinstance(v, DropVar))
    return read, written


def _distinct(vs):
    seen, out = set(), []
    for v in vs:
        key = id(v) if not isinstance(v, Literal) else ("lit", id(v))
        if key not in seen and hasattr(v.aval, "shape"):
            seen.add(key)
            out.append(v)
    return out


def cost_analysis(closed, groups=None, *, optimize: bool = True) -> dict:
    """Flops, transcendentals and bytes accessed by a program.

    Args:
      closed: a ``ClosedJaxpr`` (or ``Jaxpr``).
      groups: the fusion groups (``lowering.fusion.fuse``) of ``closed``'s equations,
        as the compiler built them; None: ``closed`` is optimized (when ``optimize``)
        and fused here with the backend-independent rules.
      optimize: run ``lowering.passes.optimize`` and fusion first (ignored when
        ``groups`` is given); False costs the program as written, one kernel per
        equation.
    Returns:
      a dict with JAX's keys: ``"flops"``, ``"transcendentals"``, ``"bytes accessed"``
      (per kernel: bytes of the buffers read plus those written) and
      ``"bytes accessedout{}"`` (bytes written), all floats.

    Example:
      >>> closed = fx.make_jaxpr(lambda a, b: jnp.tanh(a @ b))(np.ones((4, 5), np.float32),
      ...                                                     np.ones((5, 6), np.float32))
      >>> cost_analysis(closed)["flops"]
      240.0
    """
    if isinstance(closed, Jaxpr):
        closed = ClosedJaxpr(closed, [])
    if not isinstance(closed, ClosedJaxpr):
        raise TypeError(f"cost_analysis expects a ClosedJaxpr, got {type(closed).__name__}")
    if groups is None and optimize:
        from lowering import fusion, passes
        closed = passes.optimize(closed)
        groups = fusion.fuse(closed.jaxpr)
    jaxpr = closed.jaxpr
    flops, trans = _jaxpr_flops(jaxpr) if groups is None else (0.0, 0.0)
    read = written = 0
    if groups is None:
        for e in jaxpr.eqns:
            r, w = _kernel_bytes(e.invars, e.outvars)
            read += r
            written += w
    else:
        for g in groups:
            for e in g.eqns:
                f, t = equation_flops(e)
                flops += f
                trans += t
            r, w = _kernel_bytes(g.inputs, g.outputs)
            read += r
            written += w
    result = {"flops": float(flops), "bytes accessed": float(read + written),
              "bytes accessedout{}": float(written)}
    if trans:
        result["transcendentals"] = float(trans)
    return result
