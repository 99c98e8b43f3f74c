"""Traced start indices of ``lax.dynamic_slice``/``dynamic_update_slice`` are wrapped as
JAX 0.10.2 wraps them (sign test, strong index plus the size, choice), so the printed
jaxprs match; negative starts count from the end.

Oracles: JAX's recorded text (and JAX itself where installed); NumPy slicing for values.
"""
import numpy as np
import pytest

import fx
from fx import lax
from fx._testing import fx_and_jax_modules

# printed by JAX 0.10.2 (recorded)
JAX_DYNAMIC_SLICE = """{ lambda ; a:f32[5,4] b:i32[]. let
    c:bool[] = lt b 0:i32[]
    d:i32[] = convert_element_type[new_dtype=int32 weak_type=False] b
    e:i32[] = add d 5:i32[]
    f:i32[] = select_n c b e
    g:f32[2,2] = dynamic_slice[slice_sizes=(2, 2)] a f 0:i32[]
  in (g,) }"""


def test_dynamic_slice_prints_as_jax():
    x = np.ones((5, 4), np.float32)
    text = str(fx.make_jaxpr(lambda x, i: lax.dynamic_slice(x, (i, 0), (2, 2)))(x, 1))
    assert text == JAX_DYNAMIC_SLICE


def test_dynamic_update_slice_prints_as_jax_directly():
    mods = fx_and_jax_modules()
    x = np.ones((5, 4), np.float32)
    texts = [str(m.make_jaxpr(lambda x, i, m=m: m.lax.dynamic_update_slice(x, x[:2], (i, 0)))(
        x, 1)) for m, _ in mods]
    assert texts[0] == texts[1]


@pytest.mark.parametrize("i", [-5, -3, -1, 0, 2, 3, 7])
def test_values_with_negative_and_clamped_starts(i):
    x = np.arange(20, dtype=np.float32).reshape(5, 4)
    start = i + 5 if i < 0 else i
    start = min(max(start, 0), 3)  # XLA clamps the window inside the operand
    got = fx.jit(lambda x, i: lax.dynamic_slice(x, (i, 0), (2, 2)))(x, i)
    np.testing.assert_array_equal(np.asarray(got), x[start:start + 2, :2])
    upd = fx.jit(lambda x, i: lax.dynamic_update_slice(x, -x[:2], (i, 0)))(x, i)
    want = x.copy()
    want[start:start + 2] = -x[:2]
    np.testing.assert_array_equal(np.asarray(upd), want)
