"""complex64/complex128 loop kernels: elementwise arithmetic, conversions, comparisons,
selects and index operations compile (no eager fallback) and agree with the reference
interpreter (NumPy): exactly for everything but products and quotients, which may
differ from NumPy's in the last bit (NumPy's complex64 loops contract with FMAs)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

import fx.numpy as jnp
from fx._testing import assert_same, compile_and_compare, within_ulps
from fx import lax

SPECIAL = [0, -0.0, np.inf, complex(np.nan, 1), complex(1, np.inf), 1e30 + 1e30j, 1e-30j,
           complex(-np.inf, -np.inf), 3 - 4j]


def _values(dtype, n, seed):
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * 3
    z[:min(n, len(SPECIAL))] = SPECIAL[:n]
    return z.astype(dtype)


def _check(f, *args, exact=True):
    compile_and_compare(f, *args, bounds_check=True,
                        compare=assert_same if exact else within_ulps(4))


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@given(n=st.integers(1, 40))
def test_arithmetic(harness, dtype, n):
    with harness.x64_for(dtype):
        z, w = _values(dtype, n, n), _values(dtype, n, n + 1)
        _check(lambda a, b: (a + b, a - b, -a, jnp.conj(a), a.real, a.imag,
                             lax.complex(a.imag, a.real), a == b, a != a,
                             jnp.where(a.real > 0, a, b)), z, w)
        # products and quotients: finite values (at overflow NumPy's FMA-contracted
        # complex64 loop and a plain a*c - b*d legitimately give -inf vs NaN)
        zf, wf = _values(dtype, n + 9, n)[9:], _values(dtype, n + 9, n + 1)[9:]
        _check(lambda a, b: (a * b, a / b, a / (b * 1e-30)), zf, wf, exact=False)
        _check(jnp.abs, z, exact=False)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_conversions_and_index_ops(harness, dtype):
    with harness.x64_for(dtype):
        z = _values(dtype, 16, 3)
        x = np.arange(16, dtype=np.float32)
        _check(lambda a, x: (x.astype(a.dtype), a + x.astype(a.dtype),
                             a.astype(jnp.complex64), (a * 0).real.astype(jnp.int32)), z, x)
        _check(lambda a: jnp.concatenate([a[::-1], jnp.pad(a, 2)])[3:20].reshape(17, 1).T *
               (1 + 2j), z, exact=False)
