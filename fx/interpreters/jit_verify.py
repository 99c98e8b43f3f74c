"""``FX_CHECK_COMPILED=1``: every jitted call runs the native executable and the
reference interpreter and compares them (used by ``fx.interpreters.jit.compile_jaxpr``)."""
from __future__ import annotations

import numpy as np

from fx import dtypes

__all__ = ["Verified", "verifiable"]


def verifiable(jaxpr) -> bool:
    """Whether running a program twice and comparing is meaningful: no side effects
    (callbacks would run twice) and no while loop (a data-dependent trip count can differ
    by one when the last float32 bit differs, and then so does everything after)."""
    for e in jaxpr.eqns:
        if e.primitive.effectful or e.primitive.name == "while" or e.params.get("ref_replay"):
            return False  # (a checkpoint replaying ref writes would write twice)
        subs = e.primitive.subjaxprs(e.params) if e.primitive.subjaxprs else ()
        for sub in subs or ():
            if not verifiable(getattr(sub, "jaxpr", sub)):
                return False
    return True


class Verified:
    """``FX_CHECK_COMPILED=1``: every call runs the native executable and the reference
    interpreter and compares the results (integers and booleans exactly, floating point
    within a few float32 ulp of the result's scale: reductions are reassociated and
    transcendental functions are the compiler's own polynomials)."""

    def __init__(self, native, reference):
        self.native, self.reference = native, reference
        self.out_avals = getattr(native, "out_avals", None)

    def __getattr__(self, name):
        return getattr(self.native, name)

    def __call__(self, args):
        got = self.native(args)
        want = self.reference(args)
        for k, (g, w) in enumerate(zip(got, want)):
            g, w = np.asarray(g), np.asarray(w)
            if g.shape != w.shape or g.dtype != w.dtype:
                raise AssertionError(f"fx: compiled output {k} is {g.dtype}{list(g.shape)}, "
                                     f"the reference's {w.dtype}{list(w.shape)}")
            if dtypes.is_inexact(g.dtype):  # bfloat16/float8 too (kind "V")
                finite = np.isfinite(w)
                scale = float(np.max(np.abs(w[finite]))) if finite.any() else 0.0
                tol = 1e-4 * np.abs(w) + 1e-5 * (1.0 + scale) if g.dtype.itemsize > 2 \
                    else 1e-2 * np.abs(w) + 1e-2 * (1.0 + scale)
                with np.errstate(invalid="ignore", over="ignore"):  # (inf - inf)
                    same = (g == w) | (np.isnan(g) & np.isnan(w)) | (np.abs(g - w) <= tol)
            else:
                same = g == w
            if not np.all(same):
                bad = np.argwhere(~np.asarray(same))[:3].tolist()
                raise AssertionError(
                    f"fx: compiled output {k} differs from the reference interpreter at "
                    f"{bad}: {g[tuple(np.array(bad).T)] if g.ndim else g} vs "
                    f"{w[tuple(np.array(bad).T)] if w.ndim else w}\n"
                    f"{self.native.optimized if hasattr(self.native, 'optimized') else ''}")
        return got
