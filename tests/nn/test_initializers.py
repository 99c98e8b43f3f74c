"""Tests of fx.nn.initializers: shapes, dtypes and the distribution each promises
(means, variances from the fans, truncation bounds, orthogonality), against JAX's
initializers with the same key, jit against eager, and the error cases.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import random
from fx.nn import initializers as init

KEY = random.key(0)


def _draw(initializer, shape, dtype=None, key=KEY):
    out = initializer(key, shape) if dtype is None else initializer(key, shape, dtype)
    assert out.shape == tuple(shape)
    return out


def test_zeros_ones_constant():
    assert np.all(np.asarray(init.zeros(KEY, (2, 3))) == 0)
    out = init.ones(KEY, (4,), np.float16)
    assert out.dtype == np.float16 and np.all(np.asarray(out) == 1)
    c = init.constant(-7.5, dtype=np.float32)(KEY, (2, 2))
    assert c.dtype == np.float32 and np.all(np.asarray(c) == -7.5)
    assert init.zeros(KEY, (3,)).dtype == np.float32


@pytest.mark.parametrize("name,scale,lo,hi", [("uniform", 0.5, 0.0, 0.5),
                                              ("normal", 0.5, None, None),
                                              ("truncated_normal", 0.5, -1.0, 1.0)])
def test_simple_distributions(name, scale, lo, hi):
    x = np.asarray(_draw(getattr(init, name)(scale), (200, 200)))
    assert x.dtype == np.float32
    if name == "uniform":
        assert x.min() >= lo and x.max() < hi
        assert abs(x.mean() - 0.25) < 0.01 and abs(x.std() - 0.5 / math.sqrt(12)) < 0.01
    elif name == "normal":
        assert abs(x.mean()) < 0.01 and abs(x.std() - 0.5) < 0.01
    else:
        assert x.min() >= lo and x.max() <= hi
        assert abs(x.std() - 0.5 * 0.87962566) < 0.01


VS_CASES = [
    ("fan_in", "truncated_normal", (64, 32), {}, 64),
    ("fan_out", "normal", (64, 32), {}, 32),
    ("fan_avg", "uniform", (64, 32), {}, 48),
    ("fan_geo_avg", "normal", (64, 32), {}, math.sqrt(64 * 32)),
    # a conv kernel HWIO: receptive field 3*3
    ("fan_in", "uniform", (3, 3, 16, 8), {}, 9 * 16),
    ("fan_avg", "truncated_normal", (3, 3, 16, 8), {}, 9 * (16 + 8) / 2),
    # explicit axes: in_axis=0, out_axis=1, batch axis 2 ignored
    ("fan_in", "normal", (40, 20, 5), dict(in_axis=0, out_axis=1, batch_axis=2), 40),
    ("fan_out", "normal", (12, 16, 10), dict(in_axis=(0, 1), out_axis=2), 10),
]


@pytest.mark.parametrize("mode,distribution,shape,axes,n", VS_CASES)
def test_variance_scaling_variance(mode, distribution, shape, axes, n):
    scale = 2.0
    x = np.asarray(_draw(init.variance_scaling(scale, mode, distribution, **axes), shape,
                         key=random.key(3)))
    target = math.sqrt(scale / n)
    assert abs(x.std() - target) < 0.06 * target, (x.std(), target)
    assert abs(x.mean()) < 0.1 * target
    if distribution == "uniform":
        assert np.abs(x).max() <= math.sqrt(3) * target * (1 + 1e-6)
    if distribution == "truncated_normal":
        assert np.abs(x).max() <= 2 * target / 0.87962566 * (1 + 1e-6)


@pytest.mark.parametrize("distribution", ["uniform", "truncated_normal", "normal"])
def test_variance_scaling_complex(distribution):
    # complex weights: E|x|^2 is the target variance; uniform draws fill a disk and
    # truncated normal draws have a bounded modulus
    x = np.asarray(init.variance_scaling(1.0, "fan_in", distribution)(KEY, (100, 100),
                                                                      np.complex64))
    assert x.dtype == np.complex64
    np.testing.assert_allclose(np.mean(np.abs(x) ** 2), 1 / 100, rtol=0.05)
    assert abs(np.mean(x)) < 0.01
    if distribution != "normal":
        limit = math.sqrt(2 / 100) if distribution == "uniform" else 2 * 0.1 / 0.95311164
        assert np.abs(x).max() <= limit * (1 + 1e-5)


@pytest.mark.parametrize("name,scale,mode,distribution", [
    ("glorot_uniform", 1.0, "fan_avg", "uniform"),
    ("glorot_normal", 1.0, "fan_avg", "truncated_normal"),
    ("lecun_uniform", 1.0, "fan_in", "uniform"),
    ("lecun_normal", 1.0, "fan_in", "truncated_normal"),
    ("he_uniform", 2.0, "fan_in", "uniform"),
    ("he_normal", 2.0, "fan_in", "truncated_normal"),
    ("xavier_uniform", 1.0, "fan_avg", "uniform"),
    ("kaiming_normal", 2.0, "fan_in", "truncated_normal"),
])
def test_named_builders_are_variance_scaling(name, scale, mode, distribution):
    built = getattr(init, name)(dtype=np.float32)(KEY, (5, 7))
    direct = init.variance_scaling(scale, mode, distribution)(KEY, (5, 7))
    np.testing.assert_array_equal(np.asarray(built), np.asarray(direct))
    assert getattr(init, name).__doc__


@pytest.mark.parametrize("shape,column_axis", [((6, 4), -1), ((4, 6), -1), ((3, 5, 4), -1),
                                               ((4, 3, 2), 0), ((5, 5), 0)])
def test_orthogonal(shape, column_axis):
    q = np.asarray(init.orthogonal(scale=2.0, column_axis=column_axis)(KEY, shape), np.float64)
    cols = np.moveaxis(q, column_axis, -1).reshape(-1, shape[column_axis]) / 2.0
    rows, ncols = cols.shape
    gram = cols.T @ cols if rows >= ncols else cols @ cols.T
    np.testing.assert_allclose(gram, np.eye(min(rows, ncols)), atol=1e-5)
    assert init.orthogonal()(KEY, (0, 3)).shape == (0, 3)


@pytest.mark.parametrize("shape", [(3, 4, 4), (3, 3, 2, 5), (3, 1, 3, 4, 4)])
def test_delta_orthogonal(shape):
    w = np.asarray(init.delta_orthogonal(scale=1.5)(KEY, shape), np.float64)
    centre = tuple((k - 1) // 2 for k in shape[:-2])
    m = w[centre]
    np.testing.assert_allclose(m @ m.T, 1.5 ** 2 * np.eye(shape[-2]), atol=1e-5)
    rest = w.copy()
    rest[centre] = 0
    assert np.all(rest == 0)


def test_jit_matches_eager():
    f = init.he_normal()
    eager = f(random.key(5), (8, 4))
    jitted = fx.jit(lambda k: f(k, (8, 4)))(random.key(5))
    # compiled code may fuse multiply-adds: a few ulp apart from eager
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), rtol=1e-6, atol=1e-7)
    keys = random.split(random.key(1), 3)
    batched = fx.vmap(lambda k: init.normal(1.0)(k, (2,)))(keys)
    for i in range(3):
        np.testing.assert_array_equal(np.asarray(batched)[i],
                                      np.asarray(init.normal(1.0)(keys[i], (2,))))


@pytest.mark.parametrize("name,args,shape", [
    ("normal", (0.3,), (3, 4)), ("uniform", (0.3,), (3, 4)),
    ("truncated_normal", (0.3,), (3, 4)), ("glorot_normal", (), (5, 6)),
    ("he_uniform", (), (3, 3, 4, 8)), ("lecun_normal", (), (7, 2)),
    ("orthogonal", (), (4, 4)), ("delta_orthogonal", (), (3, 3, 4)),
])
def test_matches_jax_for_the_same_key(name, args, shape, jax):
    import jax.nn.initializers as jinit
    expected = getattr(jinit, name)(*args)(jax.random.key(42), shape)
    out = getattr(init, name)(*args)(random.key(42), shape)
    assert out.dtype == expected.dtype and out.shape == expected.shape
    # fx.random follows JAX's threefry bit for bit; the transforms agree to rounding
    np.testing.assert_allclose(np.asarray(out), np.asarray(expected), rtol=1e-5, atol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match="at least 2D"):
        init.glorot_normal()(KEY, (5,))
    with pytest.raises(ValueError, match="mode"):
        init.variance_scaling(1.0, "fan_sum", "normal")
    with pytest.raises(ValueError, match="distribution"):
        init.variance_scaling(1.0, "fan_in", "cauchy")
    with pytest.raises(ValueError, match="2D"):
        init.orthogonal()(KEY, (4,))
    with pytest.raises(ValueError, match="3D, 4D or 5D"):
        init.delta_orthogonal()(KEY, (3, 3))
    with pytest.raises(ValueError, match="fan_in"):
        init.delta_orthogonal()(KEY, (3, 5, 4))
    with pytest.raises(TypeError, match="shape"):
        init.normal()(KEY, (2.5, 3))
    with pytest.raises(NotImplementedError, match="out_sharding"):
        init.zeros(KEY, (2,), out_sharding="x")
    assert fnp.asarray(init.ones(KEY, 3)).shape == (3,)
