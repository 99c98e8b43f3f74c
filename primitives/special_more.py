"""Special-function primitives JAX has under ``jax.lax``: ``bessel_i0e``, ``bessel_i1e``
and ``regularized_incomplete_beta``, evaluated eagerly with SciPy.

Invariants: float operands only; jvps are written with these primitives and the
elementwise ones, so higher derivatives work. ``regularized_incomplete_beta`` is
differentiable in ``x`` only (JAX, too, raises for ``a`` and ``b``).
"""
from __future__ import annotations

import numpy as np

from fx import dtypes
from fx.core import ShapedArray, Zero
from primitives import _rules as R
from primitives._rules import FLOAT, check_dtype, new_primitive
from primitives.elementwise import unary

sp = R.LazyModule("scipy.special")


__all__ = ["bessel_i0e_p", "bessel_i1e_p", "regularized_incomplete_beta_p"]


def _same_dtype_impl(fn):
    def impl(*args):
        dtype = np.asarray(args[0]).dtype
        compute = np.float32 if dtype.itemsize < 4 else dtype
        out = fn(*[np.asarray(a, compute) for a in args])
        return np.asarray(out, dtype)
    return impl


def _i0e_jvp(x, t, y):
    """JAX's: ``t * (i1e(x) - sign(x) * i0e(x))``."""
    return R.mul(t, R.sub(bessel_i1e_p.bind(x), R.mul(R.registry["sign"].bind(x), y)))


def _i1e_jvp(x, t, y):
    """JAX's: ``t * (i0e(s) - i1e(x) * (sign(s) + 1/s))`` with ``s = x`` away from 0
    (``eps`` where ``|x| <= eps``, and the limit 1/2 there), in JAX's equation order."""
    dtype, shape, weak = R.dtype_of(x), R.shape_of(x), R.aval_of(x).weak_type
    eps = float(dtypes.finfo(dtype).eps)

    def filled(value):  # full_like(x, value): keeps x's weak type
        scalar = R.weak_scalar(value, dtype) if weak else R.as_scalar(value, dtype)
        return R.broadcast_in_dim(scalar, shape, ())

    magnitude = R.convert(R.registry["abs"].bind(x), dtype)  # strong, as |x| > eps is
    not_tiny = R.registry["gt"].bind(magnitude, R.as_scalar(eps, dtype))
    safe_x = R.select_n(not_tiny, filled(eps), x)
    i0e = bessel_i0e_p.bind(safe_x)
    sign = R.registry["sign"].bind(safe_x)
    slope = R.sub(i0e, R.mul(y, R.add(sign, R.registry["integer_pow"].bind(safe_x, y=-1))))
    return R.mul(t, R.select_n(not_tiny, filled(0.5), slope))


bessel_i0e_p = unary("bessel_i0e", _same_dtype_impl(lambda x: sp.i0e(x)), jvp=_i0e_jvp, kinds=FLOAT)
bessel_i1e_p = unary("bessel_i1e", _same_dtype_impl(lambda x: sp.i1e(x)), jvp=_i1e_jvp, kinds=FLOAT)

regularized_incomplete_beta_p = new_primitive("regularized_incomplete_beta")


@regularized_incomplete_beta_p.def_abstract_eval
def _betainc_abstract_eval(a, b, x):
    for name, v in (("a", a), ("b", b), ("x", x)):
        check_dtype("regularized_incomplete_beta", v, FLOAT, name)
    if not (a.dtype == b.dtype == x.dtype):
        raise TypeError(f"regularized_incomplete_beta requires arguments of one dtype, got "
                        f"{a.dtype.name}, {b.dtype.name} and {x.dtype.name}")
    if not (a.shape == b.shape == x.shape):
        raise TypeError(f"regularized_incomplete_beta requires arguments of one shape, got "
                        f"{a.shape}, {b.shape} and {x.shape}")
    return ShapedArray(x.shape, x.dtype, a.weak_type and b.weak_type and x.weak_type)


regularized_incomplete_beta_p.def_impl(_same_dtype_impl(lambda a, b, x: sp.betainc(a, b, x)))


@regularized_incomplete_beta_p.def_jvp
def _betainc_jvp(primals, tangents):
    a, b, x = primals
    ta, tb, tx = tangents
    out = regularized_incomplete_beta_p.bind(a, b, x)
    if type(ta) is not Zero or type(tb) is not Zero:
        raise ValueError("Betainc gradient with respect to a and b not supported.")
    if type(tx) is Zero:
        return out, Zero(R.aval_of(out).to_tangent_aval())
    lg = R.registry["lgamma"]
    log, log1p, exp = R.registry["log"], R.registry["log1p"], R.registry["exp"]
    log_beta = R.sub(R.add(lg.bind(a), lg.bind(b)), lg.bind(R.add(a, b)))
    log_density = R.sub(R.add(R.mul(R.sub(a, 1), log.bind(x)),
                              R.mul(R.sub(b, 1), log1p.bind(R.neg(x)))), log_beta)
    return out, R.mul(tx, exp.bind(log_density))


@regularized_incomplete_beta_p.def_batch
def _betainc_batch(args, dims):
    size = R.batch_size(args, dims)
    args = [R.bdim_to_front(v, d, size) for v, d in zip(args, dims)]
    return regularized_incomplete_beta_p.bind(*args), 0
