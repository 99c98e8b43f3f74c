"""Stax: a small neural-network library of ``(init_fun, apply_fun)`` pairs, as
``jax.example_libraries.stax``.

A layer is a pair of functions: ``init_fun(rng, input_shape) -> (output_shape,
params)`` and ``apply_fun(params, inputs, **kwargs) -> outputs``. Combinators
(``serial``, ``parallel``, ``FanOut``, ...) build layers from layers. Input shapes
may use -1 for a batch dimension that is unknown at initialisation.

Invariants: initialisation splits keys exactly as JAX's stax does and draws with
``fx.random``/``fx.nn.initializers``, so a model initialised with the same key has
the same parameters in fx and JAX; shapes are computed arithmetically (never by
tracing), so init works with -1 batch dimensions.

Example:
  >>> init_fun, apply_fun = stax.serial(stax.Dense(32), stax.Relu, stax.Dense(10))
  >>> out_shape, params = init_fun(fx.random.key(0), (-1, 784))
  >>> out_shape
  (-1, 10)
"""
from __future__ import annotations

import functools
import math

import numpy as np

import fx.numpy as fnp
from fx import lax
from fx.nn.functions import (elu, gelu, leaky_relu, log_softmax, relu, selu, sigmoid, softmax,
                             softplus, standardize)
from fx.nn.initializers import glorot_normal, normal, ones, zeros

__all__ = [
    "Dense", "GeneralConv", "Conv", "GeneralConvTranspose", "Conv1DTranspose",
    "ConvTranspose", "BatchNorm", "elementwise", "Tanh", "Relu", "Exp", "LogSoftmax",
    "Softmax", "Softplus", "Sigmoid", "Elu", "LeakyRelu", "Selu", "Gelu", "MaxPool", "SumPool",
    "AvgPool", "Flatten", "Identity", "FanOut", "FanInSum", "FanInConcat", "Dropout", "serial",
    "parallel", "shape_dependent",
    # re-exported as in JAX's stax
    "relu", "log_softmax", "logsoftmax", "softmax", "softplus", "sigmoid", "elu", "leaky_relu",
    "selu", "gelu", "standardize", "glorot", "glorot_normal", "randn", "normal", "ones",
    "zeros",
]

glorot = glorot_normal
randn = normal
logsoftmax = log_softmax


def _random():
    from fx import random  # (imported lazily: fx.random loads after fx.nn)
    return random


# ---------------------------------------------------------------------------
# shape arithmetic (works with -1 for unknown batch sizes)


def _window_pads(in_sizes, windows, strides, padding):
    """(lo, hi) padding pairs for string or explicit ``padding``."""
    if not isinstance(padding, str):
        pads = [tuple(int(v) for v in p) for p in padding]
        if len(pads) != len(in_sizes):
            raise ValueError(f"padding {padding!r} must have one (low, high) pair per "
                             f"spatial dimension ({len(in_sizes)})")
        return pads
    kind = padding.upper()
    if kind == "VALID":
        return [(0, 0)] * len(in_sizes)
    if kind not in ("SAME", "SAME_LOWER"):
        raise ValueError(f"Unknown padding type {padding!r}; expected 'SAME', 'SAME_LOWER', "
                         "'VALID' or explicit (low, high) pairs")
    pads = []
    for n, w, s in zip(in_sizes, windows, strides, strict=False):
        out = -(-n // s)
        total = max((out - 1) * s + w - n, 0)
        lo = total // 2 if kind == "SAME" else -(-total // 2)
        pads.append((lo, total - lo))
    return pads


def _strided_size(n, window, stride, pad):
    if n < 0:  # an unknown (batch) size stays unknown
        return n
    return max((n + pad[0] + pad[1] - window) // stride + 1, 0)


def _conv_output_shape(input_shape, kernel_shape, strides, padding, dimension_numbers):
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    spatial = [c for c in rhs_spec if c not in "IO"]
    in_sizes = [input_shape[lhs_spec.index(c)] for c in spatial]
    k_sizes = [kernel_shape[rhs_spec.index(c)] for c in spatial]
    pads = _window_pads(in_sizes, k_sizes, strides, padding)
    out_sizes = {c: _strided_size(n, k, s, p)
                 for c, n, k, s, p in zip(spatial, in_sizes, k_sizes, strides, pads, strict=False)}
    out_sizes["N"] = input_shape[lhs_spec.index("N")]
    out_sizes["C"] = kernel_shape[rhs_spec.index("O")]
    return tuple(out_sizes[c] for c in out_spec)


def _conv_transpose_output_shape(input_shape, kernel_shape, strides, padding,
                                 dimension_numbers):
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    spatial = [c for c in rhs_spec if c not in "IO"]
    out_sizes = {}
    for k_index, c in enumerate(spatial):
        n = input_shape[lhs_spec.index(c)]
        k = kernel_shape[rhs_spec.index(c)]
        s = strides[k_index]
        if n < 0:
            out_sizes[c] = n
        elif isinstance(padding, str):
            kind = padding.upper()
            if kind == "SAME":
                out_sizes[c] = n * s
            elif kind == "VALID":
                out_sizes[c] = n * s + max(k - s, 0)
            else:
                raise ValueError(f"Unknown padding type {padding!r} for a transposed "
                                 "convolution; expected 'SAME', 'VALID' or explicit pairs")
        else:
            lo, hi = padding[k_index]
            out_sizes[c] = (n - 1) * s - k + 2 + lo + hi
    out_sizes["N"] = input_shape[lhs_spec.index("N")]
    out_sizes["C"] = kernel_shape[rhs_spec.index("O")]
    return tuple(out_sizes[c] for c in out_spec)


def _check_specs(name, dimension_numbers, filter_shape):
    if len(dimension_numbers) != 3 or not all(isinstance(s, str) for s in dimension_numbers):
        raise TypeError(f"{name}: dimension_numbers must be three layout strings such as "
                        f"('NHWC', 'HWIO', 'NHWC'), got {dimension_numbers!r}")
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    if len(filter_shape) != len(rhs_spec) - 2:
        raise ValueError(f"{name}: filter_shape {tuple(filter_shape)} must have one entry per "
                         f"spatial dimension of {rhs_spec!r} ({len(rhs_spec) - 2})")


def _kernel_shape(rhs_spec, lhs_spec, out_chan, input_shape, filter_shape):
    sizes = iter(filter_shape)
    return [out_chan if c == "O" else input_shape[lhs_spec.index("C")] if c == "I"
            else next(sizes) for c in rhs_spec]


# ---------------------------------------------------------------------------
# layers with parameters


def Dense(out_dim, W_init=glorot_normal(), b_init=normal()):
    """A fully connected layer: ``inputs @ W + b``.

    Args:
      out_dim: the output size.
      W_init, b_init: initializers of the weights ``(in, out_dim)`` and bias.

    Returns:
      ``(init_fun, apply_fun)``.
    """
    def init_fun(rng, input_shape):
        output_shape = tuple(input_shape[:-1]) + (out_dim,)
        k1, k2 = _random().split(rng)
        W, b = W_init(k1, (input_shape[-1], out_dim)), b_init(k2, (out_dim,))
        return output_shape, (W, b)

    def apply_fun(params, inputs, **kwargs):
        W, b = params
        return fnp.dot(inputs, W) + b

    return init_fun, apply_fun


def GeneralConv(dimension_numbers, out_chan, filter_shape, strides=None, padding="VALID",
                W_init=None, b_init=normal(1e-6)):
    """A convolution layer with explicit layouts, e.g. ``('NHWC', 'HWIO', 'NHWC')``.

    Args:
      dimension_numbers: (input, kernel, output) layout strings.
      out_chan: the number of output channels.
      filter_shape: the spatial kernel sizes.
      strides: the spatial strides (default ones).
      padding: 'SAME', 'VALID' or explicit (low, high) pairs.
      W_init, b_init: initializers (W defaults to Glorot normal over the kernel's I/O axes).

    Returns:
      ``(init_fun, apply_fun)``.
    """
    _check_specs("GeneralConv", dimension_numbers, filter_shape)
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    one = (1,) * len(filter_shape)
    strides = tuple(strides) if strides else one
    W_init = W_init or glorot_normal(rhs_spec.index("I"), rhs_spec.index("O"))

    def init_fun(rng, input_shape):
        kernel_shape = _kernel_shape(rhs_spec, lhs_spec, out_chan, input_shape, filter_shape)
        output_shape = _conv_output_shape(input_shape, kernel_shape, strides, padding,
                                          dimension_numbers)
        bias_shape = [out_chan if c == "C" else 1 for c in out_spec]
        k1, k2 = _random().split(rng)
        W, b = W_init(k1, kernel_shape), b_init(k2, bias_shape)
        return output_shape, (W, b)

    def apply_fun(params, inputs, **kwargs):
        W, b = params
        return lax.conv_general_dilated(inputs, W, strides, padding, one, one,
                                        dimension_numbers=dimension_numbers) + b

    return init_fun, apply_fun


Conv = functools.partial(GeneralConv, ("NHWC", "HWIO", "NHWC"))
Conv.__doc__ = "A 2-D convolution layer in NHWC/HWIO layout (``GeneralConv``'s arguments)."


def GeneralConvTranspose(dimension_numbers, out_chan, filter_shape, strides=None,
                         padding="VALID", W_init=None, b_init=normal(1e-6)):
    """A transposed-convolution layer with explicit layouts.

    Args:
      dimension_numbers: (input, kernel, output) layout strings.
      out_chan: the number of output channels.
      filter_shape: the spatial kernel sizes.
      strides: the spatial strides (default ones).
      padding: 'SAME', 'VALID' or explicit (low, high) pairs.
      W_init, b_init: initializers.

    Returns:
      ``(init_fun, apply_fun)``.
    """
    _check_specs("GeneralConvTranspose", dimension_numbers, filter_shape)
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    one = (1,) * len(filter_shape)
    strides = tuple(strides) if strides else one
    W_init = W_init or glorot_normal(rhs_spec.index("I"), rhs_spec.index("O"))

    def init_fun(rng, input_shape):
        kernel_shape = _kernel_shape(rhs_spec, lhs_spec, out_chan, input_shape, filter_shape)
        output_shape = _conv_transpose_output_shape(input_shape, kernel_shape, strides,
                                                    padding, dimension_numbers)
        bias_shape = [out_chan if c == "C" else 1 for c in out_spec]
        k1, k2 = _random().split(rng)
        W, b = W_init(k1, kernel_shape), b_init(k2, bias_shape)
        return output_shape, (W, b)

    def apply_fun(params, inputs, **kwargs):
        W, b = params
        return lax.conv_transpose(inputs, W, strides, padding,
                                  dimension_numbers=dimension_numbers) + b

    return init_fun, apply_fun


Conv1DTranspose = functools.partial(GeneralConvTranspose, ("NHC", "HIO", "NHC"))
Conv1DTranspose.__doc__ = "A 1-D transposed convolution in NHC/HIO layout."
ConvTranspose = functools.partial(GeneralConvTranspose, ("NHWC", "HWIO", "NHWC"))
ConvTranspose.__doc__ = "A 2-D transposed convolution in NHWC/HWIO layout."


def BatchNorm(axis=(0, 1, 2), epsilon=1e-5, center=True, scale=True, beta_init=zeros,
              gamma_init=ones):
    """Batch normalisation over ``axis`` (statistics of the current batch; no running
    averages), with a learned shift ``beta`` and scale ``gamma``.

    Args:
      axis: the axes normalised over.
      epsilon: added to the variance.
      center, scale: learn ``beta`` / ``gamma``.
      beta_init, gamma_init: their initializers.

    Returns:
      ``(init_fun, apply_fun)``.
    """
    axis = (axis,) if np.isscalar(axis) else tuple(axis)

    def init_beta(rng, shape):
        return beta_init(rng, shape) if center else ()

    def init_gamma(rng, shape):
        return gamma_init(rng, shape) if scale else ()

    def init_fun(rng, input_shape):
        shape = tuple(d for i, d in enumerate(input_shape) if i not in axis)
        k1, k2 = _random().split(rng)
        return input_shape, (init_beta(k1, shape), init_gamma(k2, shape))

    def apply_fun(params, x, **kwargs):
        beta, gamma = params
        expand = tuple(None if i in axis else slice(None) for i in range(fnp.ndim(x)))
        z = standardize(x, axis, epsilon=epsilon)
        if center and scale:
            return gamma[expand] * z + beta[expand]
        if center:
            return z + beta[expand]
        if scale:
            return gamma[expand] * z
        return z

    return init_fun, apply_fun


# ---------------------------------------------------------------------------
# parameter-free layers


def elementwise(fun, **fun_kwargs):
    """A layer applying ``fun(inputs, **fun_kwargs)``.

    Returns:
      ``(init_fun, apply_fun)``.
    """
    def init_fun(rng, input_shape):
        return input_shape, ()

    def apply_fun(params, inputs, **kwargs):
        return fun(inputs, **fun_kwargs)

    return init_fun, apply_fun


Tanh = elementwise(fnp.tanh)
Relu = elementwise(relu)
Exp = elementwise(fnp.exp)
LogSoftmax = elementwise(log_softmax, axis=-1)
Softmax = elementwise(softmax, axis=-1)
Softplus = elementwise(softplus)
Sigmoid = elementwise(sigmoid)
Elu = elementwise(elu)
LeakyRelu = elementwise(leaky_relu)
Selu = elementwise(selu)
Gelu = elementwise(gelu)


def _pooling_layer(reducer, init_val, rescaler=None, name="Pool"):
    def PoolingLayer(window_shape, strides=None, padding="VALID", spec=None):
        window_shape = tuple(window_shape)
        strides = tuple(strides) if strides else (1,) * len(window_shape)
        rescale = rescaler(window_shape, strides, padding) if rescaler else None
        if spec is None:
            non_spatial_axes = 0, len(window_shape) + 1
        else:
            if len(spec) != len(window_shape) + 2:
                raise ValueError(f"{name}: spec {spec!r} must name {len(window_shape) + 2} "
                                 f"axes (batch, channels and the window's)")
            non_spatial_axes = spec.index("N"), spec.index("C")
        full_window, full_strides = window_shape, strides
        for i in sorted(non_spatial_axes):
            full_window = full_window[:i] + (1,) + full_window[i:]
            full_strides = full_strides[:i] + (1,) + full_strides[i:]

        def init_fun(rng, input_shape):
            if len(input_shape) != len(full_window):
                raise ValueError(f"{name}: input shape {tuple(input_shape)} must have rank "
                                 f"{len(full_window)} for window {window_shape}")
            pads = _window_pads(input_shape, full_window, full_strides, padding)
            out_shape = tuple(_strided_size(n, w, s, p) for n, w, s, p in
                              zip(input_shape, full_window, full_strides, pads, strict=False))
            return out_shape, ()

        def apply_fun(params, inputs, **kwargs):
            out = lax.reduce_window(inputs, init_val, reducer, full_window, full_strides,
                                    padding)
            return rescale(out, inputs, spec) if rescale else out

        return init_fun, apply_fun

    PoolingLayer.__name__ = PoolingLayer.__qualname__ = name
    return PoolingLayer


def _normalize_by_window_size(dims, strides, padding):
    def rescale(outputs, inputs, spec):
        if spec is None:
            non_spatial_axes = 0, inputs.ndim - 1
        else:
            non_spatial_axes = spec.index("N"), spec.index("C")
        spatial_shape = tuple(inputs.shape[i] for i in range(inputs.ndim)
                              if i not in non_spatial_axes)
        one = fnp.ones(spatial_shape, dtype=inputs.dtype)
        window_sizes = lax.reduce_window(one, 0., lax.add, dims, strides, padding)
        for i in sorted(non_spatial_axes):
            window_sizes = fnp.expand_dims(window_sizes, i)
        return outputs / window_sizes
    return rescale


MaxPool = _pooling_layer(lax.max, -np.inf, name="MaxPool")
MaxPool.__doc__ = ("Max pooling over ``window_shape`` (spatial axes; ``spec`` such as "
                   "'NHWC' names the layout, default batch first and channels last).")
SumPool = _pooling_layer(lax.add, 0., name="SumPool")
SumPool.__doc__ = "Sum pooling over ``window_shape`` (see ``MaxPool``)."
AvgPool = _pooling_layer(lax.add, 0., _normalize_by_window_size, name="AvgPool")
AvgPool.__doc__ = ("Average pooling over ``window_shape``; windows overlapping the padding "
                   "average over their in-bounds elements only (see ``MaxPool``).")


def _flatten():
    def init_fun(rng, input_shape):
        return (input_shape[0], math.prod(input_shape[1:])), ()

    def apply_fun(params, inputs, **kwargs):
        return fnp.reshape(inputs, (inputs.shape[0], -1))

    return init_fun, apply_fun


Flatten = _flatten()  # a layer: flattens every axis but the first


def _identity():
    def init_fun(rng, input_shape):
        return input_shape, ()

    def apply_fun(params, inputs, **kwargs):
        return inputs

    return init_fun, apply_fun


Identity = _identity()  # a layer returning its inputs


def FanOut(num):
    """A layer returning ``num`` copies of its input (a list).

    Returns:
      ``(init_fun, apply_fun)``.
    """
    def init_fun(rng, input_shape):
        return [input_shape] * num, ()

    def apply_fun(params, inputs, **kwargs):
        return [inputs] * num

    return init_fun, apply_fun


def _fan_in_sum():
    def init_fun(rng, input_shape):
        return input_shape[0], ()

    def apply_fun(params, inputs, **kwargs):
        return sum(inputs)

    return init_fun, apply_fun


FanInSum = _fan_in_sum()  # a layer summing a list of inputs


def FanInConcat(axis=-1):
    """A layer concatenating a list of inputs along ``axis``.

    Returns:
      ``(init_fun, apply_fun)``.
    """
    def init_fun(rng, input_shape):
        ax = axis % len(input_shape[0])
        concat_size = sum(shape[ax] for shape in input_shape)
        out_shape = tuple(input_shape[0][:ax]) + (concat_size,) + tuple(input_shape[0][ax + 1:])
        return out_shape, ()

    def apply_fun(params, inputs, **kwargs):
        return fnp.concatenate(inputs, axis)

    return init_fun, apply_fun


def Dropout(rate, mode="train"):
    """Dropout. As in JAX's stax, ``rate`` is the probability of *keeping* a unit; kept
    units are scaled by ``1 / rate``. ``apply_fun`` needs ``rng=`` in train mode.

    Args:
      rate: the keep probability.
      mode: ``"train"`` (drop) or anything else (identity).

    Returns:
      ``(init_fun, apply_fun)``.
    """
    def init_fun(rng, input_shape):
        return input_shape, ()

    def apply_fun(params, inputs, **kwargs):
        rng = kwargs.get("rng", None)
        if rng is None:
            raise ValueError(
                "Dropout layer requires apply_fun to be called with a PRNG key argument. "
                "That is, instead of `apply_fun(params, inputs)`, call it like "
                "`apply_fun(params, inputs, rng)` where `rng` is a PRNG key (e.g. from "
                "`fx.random.key`).")
        if mode == "train":
            keep = _random().bernoulli(rng, rate, inputs.shape)
            return fnp.where(keep, inputs / rate, 0)
        return inputs

    return init_fun, apply_fun


# ---------------------------------------------------------------------------
# combinators


def serial(*layers):
    """Compose layers in sequence.

    Args:
      *layers: ``(init_fun, apply_fun)`` pairs.

    Returns:
      ``(init_fun, apply_fun)``; params is a list with one entry per layer, and an
      ``rng=`` passed to apply is split among the layers.
    """
    nlayers = len(layers)
    init_funs, apply_funs = zip(*layers, strict=False) if layers else ((), ())

    def init_fun(rng, input_shape):
        params = []
        for layer_init in init_funs:
            rng, layer_rng = _random().split(rng)
            input_shape, param = layer_init(layer_rng, input_shape)
            params.append(param)
        return input_shape, params

    def apply_fun(params, inputs, **kwargs):
        rng = kwargs.pop("rng", None)
        rngs = _random().split(rng, nlayers) if rng is not None else (None,) * nlayers
        for fun, param, layer_rng in zip(apply_funs, params, rngs, strict=False):
            inputs = fun(param, inputs, rng=layer_rng, **kwargs)
        return inputs

    return init_fun, apply_fun


def parallel(*layers):
    """Apply layers side by side to a sequence of inputs (one input per layer), e.g. after
    ``FanOut``.

    Returns:
      ``(init_fun, apply_fun)``.
    """
    nlayers = len(layers)
    init_funs, apply_funs = zip(*layers, strict=False) if layers else ((), ())

    def init_fun(rng, input_shape):
        rngs = _random().split(rng, nlayers)
        results = [layer_init(layer_rng, shape) for layer_init, layer_rng, shape
                   in zip(init_funs, rngs, input_shape, strict=False)]
        return tuple(zip(*results, strict=False)) if results else ((), ())

    def apply_fun(params, inputs, **kwargs):
        rng = kwargs.pop("rng", None)
        rngs = _random().split(rng, nlayers) if rng is not None else (None,) * nlayers
        return [f(p, x, rng=r, **kwargs)
                for f, p, x, r in zip(apply_funs, params, inputs, rngs, strict=False)]

    return init_fun, apply_fun


def shape_dependent(make_layer):
    """A layer built from the input shape: ``make_layer(input_shape) -> (init_fun,
    apply_fun)``, called at init and again at each apply.

    Returns:
      ``(init_fun, apply_fun)``.
    """
    def init_fun(rng, input_shape):
        return make_layer(input_shape)[0](rng, input_shape)

    def apply_fun(params, inputs, **kwargs):
        return make_layer(inputs.shape)[1](params, inputs, **kwargs)

    return init_fun, apply_fun
