"""Tests of fx.example_libraries.stax: every layer's init shapes against its apply
output, pooling and convolutions against NumPy references, models initialised with
the same key in JAX and fx (parameters and outputs), gradients against finite
differences, jit/vmap of apply, the combinators, Dropout, and a short training
run with optimizers.adam that tracks the same run in JAX.
"""
from __future__ import annotations

import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import random
from fx.example_libraries import optimizers, stax
from fx.test_util import check_grads

KEY = random.key(0)


def _init_apply(layer, input_shape, x, **kwargs):
    init_fun, apply_fun = layer
    out_shape, params = init_fun(KEY, input_shape)
    out = apply_fun(params, x, **kwargs)
    return out_shape, params, out


# ---------------------------------------------------------------------------
# shapes: init agrees with apply, including -1 batch dimensions


LAYERS = {
    "Dense": (stax.Dense(7), (5, 3)),
    "Conv_valid": (stax.Conv(4, (3, 2), strides=(2, 1)), (2, 9, 7, 3)),
    "Conv_same": (stax.Conv(4, (3, 3), padding="SAME"), (2, 8, 8, 3)),
    "Conv_explicit": (stax.Conv(2, (2, 2), padding=((1, 0), (2, 1))), (1, 5, 5, 2)),
    "GeneralConv_nchw": (stax.GeneralConv(("NCHW", "OIHW", "NCHW"), 5, (3, 3)),
                         (2, 3, 7, 6)),
    "ConvTranspose_same": (stax.ConvTranspose(3, (3, 3), strides=(2, 2), padding="SAME"),
                           (2, 4, 5, 2)),
    "ConvTranspose_valid": (stax.ConvTranspose(3, (3, 2), strides=(2, 3)), (2, 4, 5, 2)),
    "Conv1DTranspose": (stax.Conv1DTranspose(4, (3,), strides=(2,)), (2, 6, 3)),
    "BatchNorm": (stax.BatchNorm(), (4, 3, 3, 2)),
    "BatchNorm_axis": (stax.BatchNorm(axis=0, center=False), (6, 3)),
    "MaxPool": (stax.MaxPool((2, 2), strides=(2, 2)), (2, 5, 6, 3)),
    "SumPool_same": (stax.SumPool((3, 3), padding="SAME"), (2, 5, 6, 3)),
    "AvgPool": (stax.AvgPool((2, 3), strides=(1, 2)), (2, 5, 7, 3)),
    "AvgPool_nchw": (stax.AvgPool((2, 2), padding="SAME", spec="NCHW"), (2, 3, 5, 5)),
    "Flatten": (stax.Flatten, (2, 3, 4)),
    "Identity": (stax.Identity, (2, 3)),
    "Relu": (stax.Relu, (2, 3)), "Tanh": (stax.Tanh, (2, 3)), "Exp": (stax.Exp, (2, 3)),
    "LogSoftmax": (stax.LogSoftmax, (2, 3)), "Softmax": (stax.Softmax, (2, 3)),
    "Softplus": (stax.Softplus, (2, 3)), "Sigmoid": (stax.Sigmoid, (2, 3)),
    "Elu": (stax.Elu, (2, 3)), "LeakyRelu": (stax.LeakyRelu, (2, 3)),
    "Selu": (stax.Selu, (2, 3)), "Gelu": (stax.Gelu, (2, 3)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_init_shape_matches_apply(name):
    layer, shape = LAYERS[name]
    x = np.random.RandomState(0).randn(*shape).astype(np.float32)
    out_shape, params, out = _init_apply(layer, shape, x)
    assert tuple(out_shape) == out.shape, (out_shape, out.shape)
    assert out.dtype == np.float32
    batch_shape, _ = layer[0](KEY, (-1,) + shape[1:])
    assert tuple(batch_shape) == (-1,) + out.shape[1:]


def _np_pool(x, window, strides, padding, reducer, init):
    """A NumPy reduce_window over the two spatial axes of NHWC ``x``."""
    n, h, w, c = x.shape
    if padding == "SAME":
        pads = []
        for size, k, s in zip((h, w), window, strides, strict=False):
            out = -(-size // s)
            total = max((out - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
    else:
        pads = [(0, 0), (0, 0)]
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=init)
    oh = (xp.shape[1] - window[0]) // strides[0] + 1
    ow = (xp.shape[2] - window[1]) // strides[1] + 1
    out = np.empty((n, oh, ow, c), x.dtype)
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * strides[0]:i * strides[0] + window[0],
                       j * strides[1]:j * strides[1] + window[1]]
            out[:, i, j] = reducer(patch, axis=(1, 2))
    return out


@pytest.mark.parametrize("kind", ["max", "sum", "avg"])
@pytest.mark.parametrize("padding", ["VALID", "SAME"])
def test_pooling_matches_numpy(kind, padding):
    x = np.random.RandomState(1).randn(2, 6, 5, 3).astype(np.float32)
    window, strides = (3, 2), (2, 1)
    layer = {"max": stax.MaxPool, "sum": stax.SumPool, "avg": stax.AvgPool}[kind](
        window, strides=strides, padding=padding)
    out = np.asarray(layer[1]((), x))
    if kind == "max":
        ref = _np_pool(x, window, strides, padding, np.max, -np.inf)
    else:
        ref = _np_pool(x, window, strides, padding, np.sum, 0.0)
        if kind == "avg":
            counts = _np_pool(np.ones_like(x), window, strides, padding, np.sum, 0.0)
            ref = ref / counts
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)


def test_conv_matches_numpy():
    rng = np.random.RandomState(2)
    x = rng.randn(2, 6, 5, 3).astype(np.float32)
    init_fun, apply_fun = stax.Conv(4, (3, 2), strides=(1, 2))
    _, (w, b) = init_fun(KEY, x.shape)
    out = np.asarray(apply_fun((w, b), x))
    w64, b64 = np.asarray(w, np.float64), np.asarray(b, np.float64)
    ref = np.zeros((2, 4, 2, 4))
    for i in range(4):
        for j in range(2):
            patch = x[:, i:i + 3, 2 * j:2 * j + 2, :].astype(np.float64)
            ref[:, i, j] = np.einsum("nhwc,hwco->no", patch, w64)
    np.testing.assert_allclose(out, ref + b64, rtol=1e-5, atol=1e-5)
    # a transposed convolution: dilate the input by the strides, pad by JAX's rule for
    # 'VALID' (k - 1 low, s - 1 + max(k - s, 0) high) and correlate with the kernel
    t_init, t_apply = stax.ConvTranspose(3, (3, 2), strides=(2, 3))
    y = rng.randn(2, 4, 3, 4).astype(np.float32)
    _, (wt, bt) = t_init(KEY, y.shape)
    out_t = np.asarray(t_apply((wt, bt), y))
    kh, kw = 3, 2
    dil = np.zeros((2, (4 - 1) * 2 + 1, (3 - 1) * 3 + 1, 4))
    dil[:, ::2, ::3] = y
    padded = np.pad(dil, ((0, 0), (kh - 1, 2 - 1 + max(kh - 2, 0)),
                          (kw - 1, 3 - 1 + max(kw - 3, 0)), (0, 0)))
    oh, ow = padded.shape[1] - kh + 1, padded.shape[2] - kw + 1
    ref_t = np.zeros((2, oh, ow, 3))
    wt64 = np.asarray(wt, np.float64)
    for i in range(oh):
        for j in range(ow):
            ref_t[:, i, j] = np.einsum("nhwc,hwco->no", padded[:, i:i + kh, j:j + kw], wt64)
    assert out_t.shape == ref_t.shape == (2, 4 * 2 + 1, 3 * 3, 3)
    np.testing.assert_allclose(out_t, ref_t + np.asarray(bt, np.float64), rtol=1e-5,
                               atol=1e-5)


def test_batchnorm_normalizes():
    x = np.random.RandomState(3).randn(8, 4, 4, 3).astype(np.float32) * 3 + 2
    _, params, out = _init_apply(stax.BatchNorm(), x.shape, x)
    out = np.asarray(out, np.float64)
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1, atol=1e-3)
    beta, gamma = params
    assert beta.shape == gamma.shape == (3,)
    shifted = stax.BatchNorm()[1]((beta + 1.0, gamma * 2.0), x)
    np.testing.assert_allclose(np.asarray(shifted), 2 * out + 1, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------
# combinators and Dropout


def test_combinators():
    layer = stax.serial(stax.FanOut(2), stax.parallel(stax.Dense(3), stax.Identity),
                        stax.FanInConcat(), stax.Dense(2))
    x = np.random.RandomState(4).randn(5, 4).astype(np.float32)
    out_shape, params, out = _init_apply(layer, (-1, 4), x)
    assert out_shape == (-1, 2) and out.shape == (5, 2)
    w1, b1 = params[1][0]
    w2, b2 = params[3]
    hidden = np.concatenate([x @ np.asarray(w1) + np.asarray(b1), x], axis=1)
    np.testing.assert_allclose(np.asarray(out), hidden @ np.asarray(w2) + np.asarray(b2),
                               rtol=1e-5, atol=1e-5)
    residual = stax.serial(stax.FanOut(2), stax.parallel(stax.Dense(4), stax.Identity),
                           stax.FanInSum)
    shape, params, out = _init_apply(residual, (5, 4), x)
    w, b = params[1][0]
    np.testing.assert_allclose(np.asarray(out), x @ np.asarray(w) + np.asarray(b) + x,
                               rtol=1e-5, atol=1e-5)
    dependent = stax.shape_dependent(lambda shape: stax.Dense(shape[-1] * 2))
    shape, _, out = _init_apply(dependent, (5, 4), x)
    assert shape == (5, 8) and out.shape == (5, 8)
    empty_init, empty_apply = stax.serial()
    assert empty_init(KEY, (3,)) == ((3,), []) and empty_apply([], x) is x


def test_dropout():
    x = np.ones((200, 50), np.float32)
    init_fun, apply_fun = stax.Dropout(0.8)
    with pytest.raises(ValueError, match="PRNG key"):
        apply_fun((), x)
    out = np.asarray(apply_fun((), x, rng=random.key(1)))
    kept = out != 0
    assert abs(kept.mean() - 0.8) < 0.02
    np.testing.assert_allclose(out[kept], 1 / 0.8, rtol=1e-6)
    # (as in JAX, apply needs the key even outside training)
    np.testing.assert_array_equal(
        np.asarray(stax.Dropout(0.8, mode="test")[1]((), x, rng=random.key(1))), x)
    # serial splits its rng among layers: the same key reproduces the same mask
    model = stax.serial(stax.Dense(10), stax.Dropout(0.5))
    _, params = model[0](KEY, (-1, 50))
    a = model[1](params, x, rng=random.key(2))
    b = model[1](params, x, rng=random.key(2))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# ---------------------------------------------------------------------------
# transformations


def _mlp_conv():
    return stax.serial(stax.Conv(3, (2, 2), padding="SAME"), stax.Relu,
                       stax.AvgPool((2, 2), strides=(2, 2)), stax.Flatten, stax.Dense(4),
                       stax.Tanh, stax.Dense(2), stax.LogSoftmax)


def test_grads_jit_vmap():
    init_fun, apply_fun = _mlp_conv()
    x = np.random.RandomState(5).randn(3, 4, 4, 2).astype(np.float32)
    _, params = init_fun(KEY, (-1, 4, 4, 2))
    with fx.enable_x64():
        params64 = fx.tree_util.tree_map(lambda p: fnp.asarray(np.asarray(p, np.float64)),
                                         params)
        x64 = fnp.asarray(x.astype(np.float64) + 0.05)  # keep ReLU inputs off the kink
        check_grads(lambda p: fnp.sum(apply_fun(p, x64) * np.arange(2.0)), (params64,),
                    order=1, modes=("rev",))
    eager = apply_fun(params, x)
    jitted = fx.jit(apply_fun)(params, x)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), rtol=1e-6, atol=1e-6)
    per_example = fx.vmap(lambda xi: apply_fun(params, xi[None])[0])(x)
    np.testing.assert_allclose(np.asarray(per_example), np.asarray(eager), rtol=1e-5,
                               atol=1e-6)


# ---------------------------------------------------------------------------
# against JAX


def _same_model(lib):
    return lib.serial(lib.Conv(4, (3, 3), padding="SAME"), lib.BatchNorm(), lib.Relu,
                      lib.MaxPool((2, 2), strides=(2, 2)),
                      lib.ConvTranspose(2, (2, 2), strides=(2, 2), padding="SAME"),
                      lib.Flatten, lib.Dense(6), lib.Gelu, lib.Dense(3), lib.LogSoftmax)


def test_same_key_same_model_as_jax(jax):
    from jax.example_libraries import stax as jstax
    x = np.random.RandomState(6).randn(2, 6, 6, 3).astype(np.float32)
    j_init, j_apply = _same_model(jstax)
    f_init, f_apply = _same_model(stax)
    _, j_params = j_init(jax.random.key(7), (2, 6, 6, 3))
    f_shape, f_params = f_init(random.key(7), (2, 6, 6, 3))
    assert f_shape == (2, 3)
    j_leaves = jax.tree_util.tree_leaves(j_params)
    f_leaves = fx.tree_util.tree_leaves(f_params)
    assert len(j_leaves) == len(f_leaves)
    for j, f in zip(j_leaves, f_leaves, strict=False):
        assert j.shape == f.shape and j.dtype == f.dtype
        np.testing.assert_allclose(np.asarray(f), np.asarray(j), rtol=1e-5, atol=1e-6)
    # apply with JAX's exact parameters, so only the forward computation is compared
    shared = fx.tree_util.tree_unflatten(fx.tree_util.tree_structure(f_params),
                                         [np.asarray(j) for j in j_leaves])
    np.testing.assert_allclose(np.asarray(f_apply(shared, x)),
                               np.asarray(jax.jit(j_apply)(j_params, x)), rtol=1e-4,
                               atol=1e-5)


def test_training_tracks_jax(jax):
    import jax.numpy as jnp
    from jax.example_libraries import optimizers as jopt
    from jax.example_libraries import stax as jstax
    rng = np.random.RandomState(8)
    x = rng.randn(32, 5).astype(np.float32)
    labels = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    onehot = np.eye(2, dtype=np.float32)[labels]

    def run(lib, opt_lib, np_like, grad, jit, key):
        init_fun, apply_fun = lib.serial(lib.Dense(8), lib.Relu, lib.Dense(2), lib.LogSoftmax)
        _, params = init_fun(key, (-1, 5))

        def loss(p):
            return -np_like.mean(np_like.sum(apply_fun(p, x) * onehot, axis=1))

        opt_init, opt_update, get_params = opt_lib.adam(0.05)
        state = opt_init(params)
        step = jit(lambda i, s: opt_update(i, grad(loss)(get_params(s)), s))
        loss_of = jit(lambda s: loss(get_params(s)))
        losses = []
        for i in range(15):
            state = step(i, state)
            losses.append(float(loss_of(state)))
        return np.array(losses)

    fx_losses = run(stax, optimizers, fnp, fx.grad, fx.jit, random.key(9))
    jax_losses = run(jstax, jopt, jnp, jax.grad, jax.jit, jax.random.key(9))
    assert fx_losses[-1] < 0.5 * fx_losses[0]
    np.testing.assert_allclose(fx_losses, jax_losses, rtol=1e-3, atol=1e-4)
