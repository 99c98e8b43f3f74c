"""More of ``jax.lax``: tokens (``create_token``, ``after_all``), ``rng_bit_generator``,
``rng_uniform``, ``dce_sink``, ``conv_general_dilated_local``, ``ragged_dot_general``,
``scaled_dot`` and the ``*_p`` names of the primitives JAX 0.10 exposes.

Invariants: as in the rest of ``fx.lax``, no dtype promotion; every function binds
primitives (or composes ``fx.lax`` functions), so it works under every transformation.
A token is an empty ``bool[0]`` array.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from fx import core, dtypes
from fx.core import get_aval
from fx.lax import _lax
from primitives import registry as _registry
from primitives.lax_extra import (after_all_p, approx_top_k_p, create_token_p,  # noqa: F401
                                  dce_sink_p, device_put_p, eq_to_p, le_to_p, lt_to_p,
                                  mulhi_p, rng_uniform_p, sharding_constraint_p, split_p,
                                  square_p, stack_p, stage_p, tile_p, unstack_p)
from primitives.linear_solve import linear_solve_p  # noqa: F401
from primitives.reduce_generic import reduce_p  # noqa: F401
from primitives.rng_bit_generator import RandomAlgorithm, rng_bit_generator_p  # noqa: F401
from primitives.special_more import (bessel_i0e_p, bessel_i1e_p,  # noqa: F401
                                     regularized_incomplete_beta_p)

__all__ = [
    "create_token", "after_all", "rng_bit_generator", "rng_uniform", "dce_sink",
    "conv_general_dilated_local", "ragged_dot_general", "scaled_dot",
    "after_all_p", "approx_top_k_p", "create_token_p", "dce_sink_p", "device_put_p",
    "eq_to_p", "le_to_p", "lt_to_p", "mulhi_p", "rng_uniform_p", "sharding_constraint_p",
    "split_p", "square_p", "stack_p", "stage_p", "tile_p", "unstack_p", "linear_solve_p",
    "rng_bit_generator_p", "bessel_i0e_p", "bessel_i1e_p", "regularized_incomplete_beta_p",
    "fft_p", "reduce_p",
]

fft_p = _registry["fft"]


def _operand(x):
    if isinstance(x, (core.Tracer, core._array_type[0])):
        return x
    from fx.numpy._core import asarray
    return asarray(x)


# ---------------------------------------------------------------------------
# tokens


def create_token(_=None):
    """A new token (orders side effects; an empty ``bool[0]`` array in fx).

    Example:
      >>> tok = lax.create_token()
    """
    return create_token_p.bind()


def after_all(*operands):
    """A token that depends on all the token ``operands``.

    Example:
      >>> lax.after_all(lax.create_token(), lax.create_token()).shape
      (0,)
    """
    return after_all_p.bind(*[_operand(o) for o in operands])


# ---------------------------------------------------------------------------
# random bits


def rng_bit_generator(key, shape: Sequence[int], dtype=np.uint32,
                      algorithm=RandomAlgorithm.RNG_DEFAULT, *, out_sharding=None):
    """Random bits from a ``uint32[4]`` key: returns ``(new_key, bits)``.

    Bit-identical to XLA on CPU: ``RNG_THREE_FRY`` is Threefry-2x32 and ``RNG_PHILOX``
    (also ``RNG_DEFAULT``) is Philox-4x32-10, with XLA's counter layout.

    Args:
      key: a ``uint32[4]`` array.
      shape: the shape of the bits.
      dtype: ``uint8``, ``uint16``, ``uint32`` or ``uint64``.
      algorithm: a ``lax.RandomAlgorithm``.

    Returns:
      ``(new_key, bits)``: the advanced key and the bits of ``shape`` and ``dtype``.

    Example:
      >>> key, bits = lax.rng_bit_generator(fnp.zeros(4, fnp.uint32), (3,))
    """
    shape = tuple(int(d) for d in shape)
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.uint32),
                     np.dtype(np.uint64)):
        raise TypeError(f"rng_bit_generator: unsupported dtype {dtype.name}")
    dtype = dtypes.canonicalize_dtype(dtype)
    new_key, bits = rng_bit_generator_p.bind(_operand(key), shape=shape, dtype=dtype,
                                             algorithm=RandomAlgorithm(int(algorithm)),
                                             out_sharding=None)
    return new_key, bits


def rng_uniform(a, b, shape):
    """Stateful uniform draws in ``[a, b)`` of ``shape`` (XLA's RngUniform; not
    reproducible: use ``fx.random`` for reproducible draws)."""
    a, b = _lax._lax_args(a, b)
    return rng_uniform_p.bind(a, b, shape=tuple(int(d) for d in shape))


def dce_sink(val, *, prevent_mlir_dce: bool = False):
    """Keep ``val`` alive through dead-code elimination (returns nothing)."""
    dce_sink_p.bind(_operand(val), prevent_mlir_dce=bool(prevent_mlir_dce))


# ---------------------------------------------------------------------------
# convolutions and products


def conv_general_dilated_local(lhs, rhs, window_strides: Sequence[int], padding,
                               filter_shape: Sequence[int], lhs_dilation=None,
                               rhs_dilation=None, dimension_numbers=None, precision=None):
    """A locally connected (unshared) convolution: each output location has its own
    filter.

    Args:
      lhs: the input, laid out as ``dimension_numbers[0]`` says (default NCHW).
      rhs: the weights, laid out as ``dimension_numbers[1]`` (default OIHW) where the
        spatial dims are the *output* locations and ``I`` has size
        ``C * prod(filter_shape)`` (channel-major, then the window offsets).
      window_strides, padding, lhs_dilation, rhs_dilation: as for
        ``conv_general_dilated``.
      filter_shape: the spatial shape of the receptive window.

    Returns:
      The output, laid out as ``dimension_numbers[2]``.

    Example:
      >>> lax.conv_general_dilated_local(fnp.ones((1, 2, 4, 4)), fnp.ones((3, 8, 3, 3)),
      ...                                (1, 1), "VALID", (2, 2)).shape
      (1, 3, 3, 3)
    """
    from fx.lax import conv_dimension_numbers, dot_general
    from fx.lax._lax_more import conv_general_dilated_patches
    lhs, rhs = _operand(lhs), _operand(rhs)
    lhs_shape, rhs_shape = get_aval(lhs).shape, get_aval(rhs).shape
    nd = len(lhs_shape)
    dn = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    patches = conv_general_dilated_patches(lhs, filter_shape, window_strides, padding,
                                           lhs_dilation, rhs_dilation, dn, precision)
    lhs_spec, rhs_spec, out_spec = dn
    # the patches carry the output layout: move to (spatial..., N, C*window)
    p = _lax.transpose(patches, tuple(out_spec[2:]) + (out_spec[0], out_spec[1]))
    # weights to (spatial..., I, O); I is channel-major, window offsets in rhs_spec order
    w = _lax.transpose(rhs, tuple(rhs_spec[2:]) + (rhs_spec[1], rhs_spec[0]))
    n_sp = nd - 2
    batch = tuple(range(n_sp))
    out = dot_general(p, w, (((n_sp + 1,), (n_sp,)), (batch, batch)),
                      precision=precision)  # (spatial..., N, O)
    perm = [0] * nd
    perm[out_spec[0]] = n_sp
    perm[out_spec[1]] = n_sp + 1
    for i, d in enumerate(out_spec[2:]):
        perm[d] = i
    return _lax.transpose(out, tuple(perm))


def _group_mask(group_sizes, size: int, num_groups: int):
    """``mask[g, i]``: position i of the ragged dimension belongs to group g."""
    from fx.lax._reductions_ext import cumsum
    sizes = _lax.convert_element_type(group_sizes, np.int32)
    ends = cumsum(sizes, axis=0)
    starts = _lax.sub(ends, sizes)
    pos = _lax.broadcasted_iota(np.int32, (num_groups, size), 1)
    return _lax.bitwise_and(
        _lax.ge(pos, _lax.broadcast_in_dim(starts, (num_groups, size), (0,))),
        _lax.lt(pos, _lax.broadcast_in_dim(ends, (num_groups, size), (0,))))


def ragged_dot_general(lhs, rhs, group_sizes, ragged_dot_dimension_numbers, precision=None,
                       preferred_element_type=None, group_offset=None, out_sharding=None):
    """A ragged ``dot_general``: the ragged dimension of ``lhs`` is cut into consecutive
    groups of ``group_sizes``.

    Three modes, as in JAX: a ragged non-contracting lhs dimension (each group uses its
    own slice of ``rhs`` along the rhs group dimension), a ragged contracting dimension
    (one output per group, stacked first), and a ragged batch dimension (an ordinary
    batched product).

    Args:
      lhs, rhs: the operands.
      group_sizes: int array ``[g]`` of group sizes.
      ragged_dot_dimension_numbers: a ``lax.RaggedDotDimensionNumbers``.

    Returns:
      The product.
    """
    if group_offset is not None:
        raise NotImplementedError("ragged_dot_general: group_offset is not supported")
    from fx.lax import dot_general
    lhs, rhs, group_sizes = _operand(lhs), _operand(rhs), _operand(group_sizes)
    dn = ragged_dot_dimension_numbers
    (lc, rc), (lb, rb) = dn.dot_dimension_numbers
    lc, rc, lb, rb = (tuple(int(d) for d in v) for v in (lc, rc, lb, rb))
    (ragged,) = tuple(dn.lhs_ragged_dimensions)
    group_dims = tuple(dn.rhs_group_dimensions)
    lshape, rshape = get_aval(lhs).shape, get_aval(rhs).shape
    (g,) = get_aval(group_sizes).shape
    kw = dict(precision=precision, preferred_element_type=preferred_element_type)
    mask = _group_mask(group_sizes, lshape[ragged], g)  # [g, m]
    if ragged in lc or ragged in lb:
        if group_dims:
            raise TypeError("ragged_dot_general: rhs_group_dimensions must be empty when "
                            "the ragged dimension is contracting or batch")
        if ragged in lb:
            return dot_general(lhs, rhs, ((lc, rc), (lb, rb)), **kw)
        # contracting: one product per group over its slice of the contraction
        rhs_dim = rc[lc.index(ragged)]
        from fx.lax._slicing import index_in_dim
        outs = []
        for i in range(g):
            row = index_in_dim(mask, i, 0, keepdims=False)
            m_l = _lax.broadcast_in_dim(row, lshape, (ragged,))
            m_r = _lax.broadcast_in_dim(row, rshape, (rhs_dim,))
            outs.append(dot_general(_lax.select(m_l, lhs, _lax.full_like(lhs, 0)),
                                    _lax.select(m_r, rhs, _lax.full_like(rhs, 0)),
                                    ((lc, rc), (lb, rb)), **kw))
        from fx.lax._lax_more import stack
        return stack(outs, 0)
    if len(group_dims) != 1 or rshape[group_dims[0]] != g:
        raise TypeError(f"ragged_dot_general: rhs needs one group dimension of size {g}, got "
                        f"rhs_group_dimensions {group_dims} for rhs shape {rshape}")
    gd = group_dims[0]
    # fold the group dim of rhs into the product as a free dimension, then mask it away
    prod = dot_general(lhs, rhs, ((lc, rc), (lb, rb)), **kw)
    # prod layout: batch, lhs free, rhs free (the group dim among them)
    l_free = [d for d in range(len(lshape)) if d not in lc and d not in lb]
    r_free = [d for d in range(len(rshape)) if d not in rc and d not in rb]
    ragged_pos = len(lb) + l_free.index(ragged)
    group_pos = len(lb) + len(l_free) + r_free.index(gd)
    pshape = get_aval(prod).shape
    m = _lax.broadcast_in_dim(_lax.transpose(mask, (1, 0)), pshape, (ragged_pos, group_pos))
    prod = _lax.select(m, prod, _lax.full_like(prod, 0))
    return _lax.reduce_sum(prod, (group_pos,))


def scaled_dot(lhs, rhs, *, lhs_scale=None, rhs_scale=None, dimension_numbers=None,
               preferred_element_type=None):
    """A block-scaled product: each operand is multiplied by its scale, repeated over
    blocks of the dimensions where the scale is smaller, before ``dot_general``.

    Args:
      lhs, rhs: the operands (e.g. float8).
      lhs_scale, rhs_scale: scales of the operands' rank whose sizes divide the
        operands' (a dimension of size ``n / k`` scales blocks of ``k``).
      dimension_numbers: as ``dot_general``'s (default: a matmul of 2-d operands, or a
        batched matmul of 3-d ones).
      preferred_element_type: the result dtype (default float32).

    Returns:
      ``dot_general(lhs * scale(lhs_scale), rhs * scale(rhs_scale))``.
    """
    from fx.lax import dot_general
    lhs, rhs = _operand(lhs), _operand(rhs)
    out_dtype = np.dtype(preferred_element_type or np.float32)

    def dequantize(x, scale):
        x = _lax.convert_element_type(x, out_dtype)
        if scale is None:
            return x
        scale = _lax.convert_element_type(_operand(scale), out_dtype)
        xs, ss = get_aval(x).shape, get_aval(scale).shape
        if len(xs) != len(ss) or any(s == 0 or d % s for d, s in zip(xs, ss)):
            raise TypeError(f"scaled_dot: scale shape {ss} must have the operand's rank and "
                            f"divide its shape {xs}")
        expanded = tuple(v for s, d in zip(ss, xs) for v in (s, d // s))
        dims = tuple(range(0, 2 * len(xs), 2))
        full = _lax.reshape(_lax.broadcast_in_dim(scale, expanded, dims), xs)
        return _lax.mul(x, full)

    if dimension_numbers is None:
        if get_aval(lhs).ndim == 3:
            dimension_numbers = (((2,), (1,)), ((0,), (0,)))
        else:
            dimension_numbers = (((1,), (0,)), ((), ()))
    return dot_general(dequantize(lhs, lhs_scale), dequantize(rhs, rhs_scale),
                       dimension_numbers, preferred_element_type=out_dtype)

