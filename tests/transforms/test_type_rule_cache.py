"""The memoised type rules of tracing (``partial_eval.abstract_eval``): results keyed by
primitive, rule, options, avals and params (with the types of top-level params), never
holding a jaxpr or function param alive, never caching an error; oracle: calling the
rule directly."""
from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx.core import Primitive, ShapedArray
from fx.interpreters import partial_eval as pe

F32 = ShapedArray((3,), np.dtype(np.float32))


def _counting_primitive(rule):
    prim = Primitive("test_type_rule_cache")  # not registered: lives only in this test
    calls = []

    def counted(*avals, **params):
        calls.append(sorted(params))  # (the names only: the values must not be kept)
        return rule(*avals, **params)
    prim.def_abstract_eval(counted)
    return prim, calls


def test_equal_params_of_different_types_are_different_keys():
    prim, calls = _counting_primitive(
        lambda x, *, p: ShapedArray(x.shape, np.dtype(np.float32 if isinstance(p, float)
                                                      else np.int32)))
    assert pe.abstract_eval(prim, [F32], {"p": 1}).dtype == np.int32
    assert pe.abstract_eval(prim, [F32], {"p": 1.0}).dtype == np.float32
    assert pe.abstract_eval(prim, [F32], {"p": 1}).dtype == np.int32
    assert len(calls) == 2  # the third call is a hit


def test_unhashable_params_call_the_rule_every_time():
    prim, calls = _counting_primitive(lambda x, *, p: x)
    for _ in range(3):
        assert pe.abstract_eval(prim, [F32], {"p": [1, 2]}) == F32
    assert len(calls) == 3


def test_a_jaxpr_param_is_not_kept_alive():
    prim, calls = _counting_primitive(lambda x, *, jaxpr: x)
    closed = fx.make_jaxpr(lambda x: x * 2)(fnp.ones(3))
    ref = weakref.ref(closed)
    pe.abstract_eval(prim, [F32], {"jaxpr": closed})
    pe.abstract_eval(prim, [F32], {"jaxpr": closed})
    assert len(calls) == 2  # not memoised
    del closed
    gc.collect()
    assert ref() is None


def test_errors_are_not_cached():
    failures = []

    def rule(x, *, p):
        if not failures:
            failures.append(1)
            raise TypeError("first call fails")
        return x
    prim, calls = _counting_primitive(rule)
    with pytest.raises(TypeError, match="first call fails"):
        pe.abstract_eval(prim, [F32], {"p": 3})
    assert pe.abstract_eval(prim, [F32], {"p": 3}) == F32
    assert len(calls) == 2


def test_options_are_part_of_the_key():
    def f(x):
        return x * 2.0 + 1
    with fx.enable_x64(False):
        a = fx.make_jaxpr(f)(np.ones(3, np.float32))
    with fx.enable_x64(True):
        b = fx.make_jaxpr(f)(np.ones(3, np.float64))
    assert a.out_avals[0].dtype == np.float32 and b.out_avals[0].dtype == np.float64
