"""``fx.scipy.optimize``: JAX's ``jax.scipy.optimize`` — ``minimize`` (BFGS) and
``OptimizeResults``."""
from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple

import fx.numpy as fnp
from fx.scipy.optimize._bfgs import minimize_bfgs

__all__ = ["minimize", "OptimizeResults"]


class OptimizeResults(NamedTuple):
    """The result of ``minimize``.

    Fields: ``x`` (the solution), ``success`` (converged without a line-search
    failure), ``status`` (0: converged, 1: maxiter reached, 2+: line search failed),
    ``fun`` and ``jac`` (value and gradient at ``x``), ``hess_inv`` (the final
    inverse-Hessian approximation), ``nfev``/``njev`` (function and gradient
    evaluations) and ``nit`` (iterations).
    """
    x: Any
    success: Any
    status: Any
    fun: Any
    jac: Any
    hess_inv: Any
    nfev: Any
    njev: Any
    nit: Any


def minimize(fun: Callable, x0, args: tuple = (), *, method: str, tol: float | None = None,
             options: Mapping[str, Any] | None = None) -> OptimizeResults:
    """Minimize a scalar function of one 1-D array (JAX's subset of
    ``scipy.optimize.minimize``); runs under jit and vmap.

    Args:
      fun: the objective, called as ``fun(x, *args)``; it must be differentiable.
      x0: the initial guess (1-D).
      args: extra positional arguments for ``fun`` (a tuple).
      method: ``"BFGS"`` (case-insensitive).
      tol: the gradient tolerance (``gtol``) when ``options`` does not give one.
      options: ``maxiter``, ``norm``, ``gtol``, ``line_search_maxiter``.

    Returns:
      ``OptimizeResults``.

    Example:
      >>> f = lambda x: fx.numpy.sum((x - 3.) ** 2)
      >>> fx.scipy.optimize.minimize(f, fx.numpy.zeros(2), method="BFGS").x
      Array([3., 3.], dtype=float32)
    """
    if not isinstance(args, tuple):
        raise TypeError(f"args argument to fx.scipy.optimize.minimize must be a tuple, got "
                        f"{args!r}")
    if not isinstance(method, str):
        raise TypeError(f"minimize: method must be a string, got {method!r}")
    options = dict(options or {})
    known = {"maxiter", "norm", "gtol", "line_search_maxiter"}
    unknown = set(options) - known
    if unknown:
        raise TypeError(f"minimize: unknown options {sorted(unknown)}; BFGS takes "
                        f"{sorted(known)}")
    if tol is not None:
        options.setdefault("gtol", tol)
    if method.lower() != "bfgs":
        raise ValueError(f"Method {method} not recognized (fx supports 'BFGS')")
    x0 = fnp.asarray(x0)
    if x0.dtype.kind not in "fc":
        x0 = x0.astype(fnp.result_type(float))

    def objective(x):
        return fun(x, *args)

    result = minimize_bfgs(objective, x0, **options)
    return OptimizeResults(x=result.x_k, success=result.converged & ~result.failed,
                           status=result.status, fun=result.f_k, jac=result.g_k,
                           hess_inv=result.H_k, nfev=result.nfev, njev=result.ngev,
                           nit=result.k)
