"""``fx.test_util``: numerical checks of derivatives, as ``jax.test_util``.

Invariants: every check is deterministic (a fresh ``RandomState(0)`` per
check); forward mode is compared with central finite differences and reverse
mode with the same finite differences through the dot-product identity
``<J t, c> == <t, J^T c>``. Only fx's public API and NumPy are used, so the
checks exercise what users see. Leaves whose dtype is not inexact (ints, bools)
are not perturbed and get ``float0`` tangents.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Sequence

import numpy as np

import fx
import fx.numpy as fnp
from fx import tree_util

__all__ = ["check_grads", "check_jvp", "check_vjp", "numerical_jvp",
           "default_gradient_tolerance", "default_eps", "cpu_devices"]

# Tolerances (used for both atol and rtol) for comparing a derivative with its
# finite-difference estimate, keyed by the dtype of the values being compared.
default_gradient_tolerance: dict[np.dtype, float] = {
    np.dtype(np.float16): 1e-2,
    np.dtype(np.float32): 2e-3,
    np.dtype(np.float64): 1e-5,
    np.dtype(np.complex64): 2e-3,
    np.dtype(np.complex128): 1e-5,
}

# Finite-difference step per dtype: about the cube root of the machine epsilon,
# which balances truncation error (O(eps^2)) against rounding error (O(ulp/eps)).
default_eps: dict[np.dtype, float] = {
    np.dtype(np.float16): 1e-2,
    np.dtype(np.float32): 1e-3,
    np.dtype(np.float64): 1e-6,
    np.dtype(np.complex64): 1e-3,
    np.dtype(np.complex128): 1e-6,
}

try:  # bfloat16 has no NumPy dtype of its own; fx takes it from ml_dtypes
    from fx.dtypes import bfloat16 as _bf16
    if _bf16 is not None:
        default_gradient_tolerance[np.dtype(_bf16)] = 1e-1
        default_eps[np.dtype(_bf16)] = 1e-1
except ImportError:  # pragma: no cover
    pass

_FALLBACK_TOL = 1e-2
_FALLBACK_EPS = 1e-3

# ---------------------------------------------------------------------------
# leaves


def _is_inexact(dtype) -> bool:
    dtype = np.dtype(dtype)
    return dtype.kind in "fc" or dtype in default_eps


def _as_array(value):
    """``value`` as an fx array of fx's canonical dtype, keeping its shape."""
    if isinstance(value, fx.Array) or isinstance(value, fx.core.Tracer):
        return value
    host = np.asarray(value)
    out = fnp.asarray(host)
    if out.shape != host.shape:
        out = fnp.reshape(out, host.shape)
    return out


def _host(x) -> np.ndarray:
    return np.asarray(x)


def _dtype(x) -> np.dtype:
    dtype = getattr(x, "dtype", None)
    return np.dtype(dtype) if dtype is not None else np.asarray(x).dtype


def _rand_like(rng: np.random.RandomState, x):
    """A random tangent for ``x``: standard normal (complex: both parts), float0 for ints."""
    shape, dtype = np.shape(x), _dtype(x)
    if not _is_inexact(dtype):
        return _as_array(np.zeros(shape, fx.float0))
    if dtype.kind == "c":
        value = rng.randn(*shape) + 1j * rng.randn(*shape)
    else:
        value = rng.randn(*shape)
    return _as_array(np.asarray(value).astype(dtype))


def _tolerance(given, dtypes: Sequence[np.dtype], table: dict) -> float:
    """The tolerance for values of ``dtypes``: ``given`` (a number or a dtype dict) or the
    loosest default among them."""
    if given is not None and not isinstance(given, dict):
        return float(given)
    merged = dict(table)
    if isinstance(given, dict):
        merged.update({np.dtype(k): v for k, v in given.items()})
    tols = [merged.get(np.dtype(d), _FALLBACK_TOL) for d in dtypes if _is_inexact(d)]
    return max(tols) if tols else 0.0


def _eps_for(eps, leaves) -> float:
    if eps is not None:
        return float(eps)
    steps = [default_eps.get(_dtype(x), _FALLBACK_EPS) for x in leaves if _is_inexact(_dtype(x))]
    return max(steps) if steps else _FALLBACK_EPS


# ---------------------------------------------------------------------------
# comparisons


def _check_close(actual, expected, atol, rtol, err_msg: str, inputs=()) -> None:
    """Leafwise |actual - expected| <= atol + rtol * |expected| (NaNs must match).

    Default tolerances are the loosest for the dtypes of ``expected`` and ``inputs``
    (a float32 input limits the accuracy of a float64 output's finite differences)."""
    flat_a, tree_a = tree_util.tree_flatten(actual)
    flat_e, tree_e = tree_util.tree_flatten(expected)
    if tree_a != tree_e:
        raise AssertionError(f"{err_msg}: tree structures differ: {tree_a} vs {tree_e}")
    dtypes = [_dtype(e) for e in flat_e] + [_dtype(x) for x in tree_util.tree_leaves(inputs)]
    atol_ = _tolerance(atol, dtypes, default_gradient_tolerance)
    rtol_ = _tolerance(rtol, dtypes, default_gradient_tolerance)
    for i, (a, e) in enumerate(zip(flat_a, flat_e)):
        a_host, e_host = _host(a), _host(e)
        if a_host.shape != e_host.shape:
            raise AssertionError(f"{err_msg}: leaf {i} has shape {a_host.shape}, expected "
                                 f"{e_host.shape}")
        if not _is_inexact(e_host.dtype):
            if e_host.dtype == fx.float0 or a_host.dtype == fx.float0:
                continue
            if not np.array_equal(a_host, e_host):
                raise AssertionError(f"{err_msg}: leaf {i} differs:\n{a_host}\nvs\n{e_host}")
            continue
        a64 = a_host.astype(np.complex128 if a_host.dtype.kind == "c" else np.float64)
        e64 = e_host.astype(np.complex128 if e_host.dtype.kind == "c" else np.float64)
        close = np.isclose(a64, e64, atol=atol_, rtol=rtol_, equal_nan=True)
        if not close.all():
            bad = np.argwhere(~close.reshape(a64.shape) if a64.shape else ~close)
            err = np.abs(a64 - e64)
            raise AssertionError(
                f"{err_msg}: leaf {i} (dtype {e_host.dtype.name}, shape {e_host.shape}) not "
                f"close (atol={atol_:g}, rtol={rtol_:g}): {int((~close).sum())} of "
                f"{close.size} elements differ, max abs error {np.nanmax(err):g}; first at "
                f"{tuple(bad[0]) if bad.size else ()}\nactual:\n{a_host}\nexpected:\n{e_host}")


def _check_dtypes_match(primal_out, tangent_out, err_msg: str) -> None:
    """Each tangent output has its primal's tangent dtype (float0 for ints and bools)."""
    for i, (p, t) in enumerate(zip(tree_util.tree_leaves(primal_out),
                                   tree_util.tree_leaves(tangent_out))):
        pd, td = _dtype(p), _dtype(t)
        expected = pd if _is_inexact(pd) else np.dtype(fx.float0)
        if td != expected:
            raise AssertionError(f"{err_msg}: tangent output {i} has dtype {td}, expected "
                                 f"{expected} for a primal of dtype {pd}")


def _inner_prod(xs, ys) -> tuple[float, float]:
    """``sum Re(conj(x) . y)`` over inexact leaves, and the same sum of absolute values
    (the scale against which rounding and truncation errors are measured)."""
    total, scale = 0.0, 0.0
    for x, y in zip(tree_util.tree_leaves(xs), tree_util.tree_leaves(ys)):
        xh, yh = _host(x), _host(y)
        if not (_is_inexact(xh.dtype) and _is_inexact(yh.dtype)):
            continue
        terms = np.conj(xh.astype(np.complex128)) * yh.astype(np.complex128)
        total += float(np.real(terms).sum())
        scale += float(np.abs(terms).sum())
    return total, scale


# ---------------------------------------------------------------------------
# finite differences


def numerical_jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any],
                  eps: float | None = None, outputs: Any = None):
    """Central finite-difference estimate of ``J_f(primals) @ tangents``.

    Each inexact leaf ``x`` is moved to ``x +/- eps * t`` (in its own dtype); other
    leaves are left as they are. The output difference is taken in float64 /
    complex128 and returned in each output's dtype.

    Args:
      f: function of positional arrays (pytrees) to arrays (a pytree).
      primals: the arguments.
      tangents: like ``primals``; leaves for non-inexact primals are ignored.
      eps: step; default from ``default_eps`` for the dtypes of the primals and of
        ``outputs`` (a float32 output of float64 inputs needs float32's larger step).
      outputs: optional example outputs of ``f``, used only to pick the default step.

    Returns:
      A pytree like ``f(*primals)``; non-inexact output leaves are float0 zeros.

    Example:
      >>> numerical_jvp(fx.numpy.sin, (fx.numpy.zeros(3),), (fx.numpy.ones(3),))  # ~cos(0)
    """
    flat_p, tree = tree_util.tree_flatten(tuple(primals))
    flat_t = tree_util.tree_leaves(tuple(tangents))
    step = _eps_for(eps, flat_p + tree_util.tree_leaves(outputs))

    def shifted(sign):
        out = []
        for p, t in zip(flat_p, flat_t):
            if not _is_inexact(_dtype(p)):
                out.append(p)
                continue
            ph = _host(p)
            moved = ph + (sign * step * _host(t)).astype(ph.dtype)
            out.append(_as_array(moved.astype(ph.dtype)))
        return tree_util.tree_unflatten(tree, out)

    f_pos = f(*shifted(1.0))
    f_neg = f(*shifted(-1.0))

    def diff(a, b):
        ah, bh = _host(a), _host(b)
        if not _is_inexact(ah.dtype):
            return np.zeros(ah.shape, fx.float0)
        wide = np.complex128 if ah.dtype.kind == "c" else np.float64
        return ((ah.astype(wide) - bh.astype(wide)) * (0.5 / step)).astype(ah.dtype)

    return tree_util.tree_map(diff, f_pos, f_neg)


# ---------------------------------------------------------------------------
# the checks


def check_jvp(f: Callable, f_jvp: Callable, args: Sequence[Any], atol=None, rtol=None,
              eps: float | None = None, err_msg: str = "") -> None:
    """Check a forward-mode derivative of ``f`` at ``args`` against finite differences.

    Args:
      f: function of positional arguments.
      f_jvp: ``f_jvp(primals, tangents) -> (f(*primals), J @ tangents)``, e.g.
        ``functools.partial(fx.jvp, f)``.
      args: the point (tuple of arrays or pytrees).
      atol, rtol: a number, a dict from dtype to number, or None for the defaults.
      eps: finite-difference step (default per dtype).
      err_msg: prefix for failure messages.

    Raises:
      AssertionError: when the primal output, the tangent dtypes or the tangent values
        disagree.

    Example:
      >>> check_jvp(fx.numpy.sin, functools.partial(fx.jvp, fx.numpy.sin), (1.0,))
    """
    args = tuple(tree_util.tree_map(_as_array, tuple(args)))
    rng = np.random.RandomState(0)
    tangent = tree_util.tree_map(lambda x: _rand_like(rng, x), args)
    v_out, t_out = f_jvp(args, tangent)
    prefix = f"{err_msg} " if err_msg else ""
    _check_dtypes_match(v_out, t_out, f"{prefix}jvp tangent dtype")
    v_expected = f(*args)
    _check_close(v_out, v_expected, atol, rtol, f"{prefix}jvp primal output")
    t_expected = numerical_jvp(f, args, tangent, eps, outputs=v_out)
    _check_close(t_out, t_expected, atol, rtol, f"{prefix}jvp tangent vs finite differences",
                 inputs=args)


def check_vjp(f: Callable, f_vjp: Callable, args: Sequence[Any], atol=None, rtol=None,
              eps: float | None = None, err_msg: str = "") -> None:
    """Check a reverse-mode derivative of ``f`` at ``args`` by the dot-product test.

    With a random tangent ``t`` and a random output cotangent ``c``, checks
    ``<t, conj(vjp(conj(c)))> == <J t, c>`` where ``J t`` is estimated by central
    finite differences (so the reverse derivative is checked independently of the
    forward one).

    Args:
      f: function of positional arguments.
      f_vjp: ``f_vjp(*args) -> (f(*args), vjp_fun)``, e.g. ``functools.partial(fx.vjp, f)``.
      args: the point.
      atol, rtol: a number, a dict from dtype to number, or None for the defaults.
      eps: finite-difference step (default per dtype).
      err_msg: prefix for failure messages.

    Raises:
      AssertionError: when the primal output or the inner products disagree.

    Example:
      >>> check_vjp(fx.numpy.sin, functools.partial(fx.vjp, fx.numpy.sin), (1.0,))
    """
    args = tuple(tree_util.tree_map(_as_array, tuple(args)))
    rng = np.random.RandomState(0)
    prefix = f"{err_msg} " if err_msg else ""
    v_out, vjp_fun = f_vjp(*args)
    v_expected = f(*args)
    _check_close(v_out, v_expected, atol, rtol, f"{prefix}vjp primal output")
    tangent = tree_util.tree_map(lambda x: _rand_like(rng, x), args)
    tangent_out = numerical_jvp(f, args, tangent, eps, outputs=v_out)
    cotangent = tree_util.tree_map(lambda x: _rand_like(rng, x), v_out)
    conj_ct = tree_util.tree_map(_conj, cotangent)
    cotangent_in = tree_util.tree_map(_conj, vjp_fun(conj_ct))
    for i, (a, ct) in enumerate(zip(tree_util.tree_leaves(args),
                                    tree_util.tree_leaves(cotangent_in))):
        expected = _dtype(a) if _is_inexact(_dtype(a)) else np.dtype(fx.float0)
        if np.shape(ct) != np.shape(a) or _dtype(ct) != expected:
            raise AssertionError(f"{prefix}vjp cotangent {i} has type {_dtype(ct)}"
                                 f"{np.shape(ct)}, expected {expected}{np.shape(a)}")
    ip, ip_scale = _inner_prod(tangent, cotangent_in)
    ip_expected, expected_scale = _inner_prod(tangent_out, cotangent)
    dtypes = [_dtype(x) for x in tree_util.tree_leaves(v_out)] + \
        [_dtype(x) for x in tree_util.tree_leaves(args)]
    atol_ = _tolerance(atol, dtypes, default_gradient_tolerance)
    rtol_ = _tolerance(rtol, dtypes, default_gradient_tolerance)
    # Errors scale with the sum of |terms|, not with the (possibly cancelling) sum.
    scale = max(ip_scale, expected_scale)
    if not abs(ip - ip_expected) <= atol_ + rtol_ * scale or np.isnan(ip) != np.isnan(
            ip_expected):
        raise AssertionError(
            f"{prefix}vjp dot-product test failed: <t, vjp(c)> = {ip!r} but <jvp(t), c> = "
            f"{ip_expected!r} (finite differences); |difference| {abs(ip - ip_expected):g} "
            f"> atol {atol_:g} + rtol {rtol_:g} * scale {scale:g}")


def _conj(x):
    if _is_inexact(_dtype(x)) and _dtype(x).kind == "c":
        return _as_array(np.conj(_host(x)))
    return x


def _cotangent_like(x):
    """A cotangent for primal output ``x``: ``x`` itself when inexact, else float0 zeros."""
    if _is_inexact(_dtype(x)):
        return x
    return _as_array(np.zeros(np.shape(x), fx.float0))


def check_grads(f: Callable, args: Sequence[Any], order: int,
                modes: Sequence[str] = ("fwd", "rev"), atol=None, rtol=None,
                eps: float | None = None) -> None:
    """Check ``f``'s derivatives at ``args`` up to ``order`` against finite differences.

    Order 1 checks ``fx.jvp`` (mode "fwd") and ``fx.vjp`` (mode "rev"). Order ``n``
    also checks, recursively to order ``n - 1``, the functions
    ``(primals, tangents) -> fx.jvp(f, primals, tangents)`` and
    ``args -> vjp_fun(f(*args))``; with both modes that covers forward-over-forward,
    reverse-over-forward, forward-over-reverse and reverse-over-reverse.

    Args:
      f: function of positional array (pytree) arguments to arrays (a pytree).
      args: tuple of arguments.
      order: highest derivative order to check (>= 1).
      modes: any of "fwd", "rev".
      atol, rtol: a number, a dict from dtype to number, or None for dtype defaults
        (``default_gradient_tolerance``: float32 2e-3, float64 1e-5, ...).
      eps: finite-difference step; None picks one per dtype (``default_eps``).

    Raises:
      AssertionError: naming the mode path (e.g. "JVP of VJP") that failed.

    Example:
      >>> check_grads(fx.numpy.tanh, (fx.numpy.array([0.1, 0.5]),), order=2)
    """
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"check_grads: order must be a positive int, got {order!r}")
    unknown = set(modes) - {"fwd", "rev"}
    if unknown or not modes:
        raise ValueError(f"check_grads: modes must be a non-empty subset of ('fwd', 'rev'), "
                         f"got {modes!r}")
    args = tuple(tree_util.tree_map(_as_array, tuple(args)))

    def recurse(fun, fun_args, n, path):
        if "fwd" in modes:
            where = f"JVP of {path}" if path else "JVP"
            check_jvp(fun, lambda p, t: fx.jvp(fun, p, t), fun_args, atol, rtol, eps, where)
            if n > 1:
                rng = np.random.RandomState(1)
                tangents = tuple(tree_util.tree_map(lambda x: _rand_like(rng, x), fun_args))

                def fun_jvp(primals, tangents_in):
                    return fx.jvp(fun, primals, tangents_in)

                recurse(fun_jvp, (fun_args, tangents), n - 1, where)
        if "rev" in modes:
            where = f"VJP of {path}" if path else "VJP"
            check_vjp(fun, lambda *a: fx.vjp(fun, *a), fun_args, atol, rtol, eps, where)
            if n > 1:
                def fun_vjp(*primals):
                    out, pullback = fx.vjp(fun, *primals)
                    return pullback(tree_util.tree_map(_cotangent_like, out))

                recurse(fun_vjp, fun_args, n - 1, where)

    recurse(f, args, order, "")


@contextlib.contextmanager
def cpu_devices(n: int):
    """Within the block, the process has ``n`` virtual CPU devices (``fx_cpu_devices``),
    as JAX's ``--xla_force_host_platform_device_count``; the old count is restored after.

    Example:
      >>> with cpu_devices(4):
      ...     out = fx.pmap(lambda x: x * 2)(np.arange(4.0))
    """
    old = fx.config.fx_cpu_devices
    fx.config.update("fx_cpu_devices", n)
    try:
        yield
    finally:
        fx.config.update("fx_cpu_devices", old)
