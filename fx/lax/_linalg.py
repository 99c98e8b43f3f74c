"""``fx.lax`` products and convolutions: dot_general, dot, batch_matmul,
conv_general_dilated and its convenience wrappers, with JAX's signatures.

Invariants: wrappers normalise their arguments into the primitives' hashable
params (tuples of ints, ``ConvDimensionNumbers``, canonical dtypes, a pair of
``Precision`` or None) and raise before binding when an argument is malformed.
"""
from __future__ import annotations

import enum
from typing import Sequence

import numpy as np

import primitives as P
from fx import core, dtypes
from fx.core import get_aval
from fx.lax import _lax
from fx.lax._reductions_ext import padtype_to_pads
from primitives.convolution import ConvDimensionNumbers, conv_general_dilated_p
from primitives.linalg import dot_dimension_numbers, dot_general_p

__all__ = ["Precision", "dot_general", "dot", "batch_matmul", "ConvDimensionNumbers",
           "conv_dimension_numbers", "conv_general_permutations", "conv_general_dilated",
           "conv", "conv_with_general_padding", "conv_transpose"]

_PY_SCALARS = (bool, int, float, complex)


class Precision(enum.Enum):
    """Precision of a product's operands on accelerators (stored, not used on the CPU)."""

    DEFAULT = 0
    HIGH = 1
    HIGHEST = 2

    def __repr__(self):
        return f"Precision.{self.name}"

    def __str__(self):
        return self.name

    @classmethod
    def _missing_(cls, value):
        if isinstance(value, str):
            names = {"default": cls.DEFAULT, "fastest": cls.DEFAULT, "bfloat16": cls.DEFAULT,
                     "high": cls.HIGH, "bfloat16_3x": cls.HIGH, "tensorfloat32": cls.HIGH,
                     "highest": cls.HIGHEST, "float32": cls.HIGHEST}
            found = names.get(value.lower())
            if found is not None:
                return found
        return None


def _canonicalize_precision(precision):
    """None, or a pair of ``Precision`` (one per operand)."""
    if precision is None:
        return None
    if isinstance(precision, (Precision, str)):
        try:
            p = Precision(precision)
        except ValueError:
            raise ValueError(f"precision {precision!r} is not a lax.Precision or one of "
                             "'default', 'high', 'highest'") from None
        return (p, p)
    if isinstance(precision, (tuple, list)) and len(precision) == 2:
        pair = tuple(None if p is None else _canonicalize_precision(p)[0] for p in precision)
        return None if pair == (None, None) else pair
    raise ValueError(f"precision must be None, a lax.Precision, a string or a pair of them, "
                     f"got {precision!r}")


def _array_arg(name, x):
    if isinstance(x, _PY_SCALARS):
        dtype, _ = dtypes.result_type_and_weak(x)
        return np.array(x, dtype=dtype)[()]
    if isinstance(x, (list, tuple)):
        raise TypeError(f"lax.{name} requires array arguments, got a {type(x).__name__}; "
                        "convert it with fx.numpy.asarray first")
    get_aval(x)   # raises a TypeError naming the type when x is not an array
    return x


def _preferred(preferred_element_type):
    if preferred_element_type is None:
        return None
    return dtypes.canonicalize_dtype(preferred_element_type)


def _int_tuple(values, what) -> tuple:
    try:
        return tuple(int(core.concrete_or_error(v, f"a traced value used in {what}"))
                     for v in values)
    except TypeError:
        raise TypeError(f"{what} must be a sequence of ints, got {values!r}") from None


# ---------------------------------------------------------------------------
# products


def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None,
                *, out_sharding=None):
    """General tensor contraction (XLA's DotGeneral).

    Args:
      lhs, rhs: arrays.
      dimension_numbers: ``((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))``.
      precision: None, a ``Precision`` or a pair of them (recorded only).
      preferred_element_type: the output (accumulation) dtype, or None.

    Returns:
      An array with the batch axes, then lhs free axes, then rhs free axes.

    Example:
      >>> dot_general(a, b, (((1,), (0,)), ((), ())))   # a @ b for matrices
    """
    lhs, rhs = _array_arg("dot_general", lhs), _array_arg("dot_general", rhs)
    try:
        (lc, rc), (lb, rb) = dimension_numbers
    except (TypeError, ValueError):
        raise TypeError(f"dot_general: dimension_numbers must be ((lhs_contracting, "
                        f"rhs_contracting), (lhs_batch, rhs_batch)), got "
                        f"{dimension_numbers!r}") from None
    lnd, rnd = get_aval(lhs).ndim, get_aval(rhs).ndim

    def axes(xs, nd, what):
        xs = _int_tuple(xs, f"dot_general {what}")
        for a in xs:
            if not -nd <= a < nd:
                raise TypeError(f"dot_general: {what} {a} is out of range for an operand of "
                                f"rank {nd}")
        return tuple(a % nd for a in xs)

    dims = dot_dimension_numbers(axes(lc, lnd, "lhs contracting dimension"),
                                 axes(rc, rnd, "rhs contracting dimension"),
                                 axes(lb, lnd, "lhs batch dimension"),
                                 axes(rb, rnd, "rhs batch dimension"))
    return dot_general_p.bind(lhs, rhs, dimension_numbers=dims,
                              precision=_canonicalize_precision(precision),
                              preferred_element_type=_preferred(preferred_element_type),
                              out_sharding=None)


def dot(lhs, rhs, *, dimension_numbers=None, precision=None, preferred_element_type=None,
        out_sharding=None):
    """Vector/matrix product: contracts the last axis of ``lhs`` with the first of ``rhs``.

    Args:
      lhs, rhs: arrays of rank 1 or 2 (any rank when ``dimension_numbers`` is given).
      dimension_numbers: optional, as for ``dot_general``.
      precision, preferred_element_type: as for ``dot_general``.

    Returns:
      The product: a scalar, vector or matrix.

    Example:
      >>> dot(fx.numpy.ones((2, 3)), fx.numpy.ones(3))   # [3., 3.]
    """
    if dimension_numbers is not None:
        return dot_general(lhs, rhs, dimension_numbers, precision, preferred_element_type)
    ls, rs = get_aval(_array_arg("dot", lhs)).shape, get_aval(_array_arg("dot", rhs)).shape
    if 1 <= len(ls) <= 2 and 1 <= len(rs) <= 2 and ls[-1] == rs[0]:
        return dot_general(lhs, rhs, (((len(ls) - 1,), (0,)), ((), ())), precision,
                           preferred_element_type)
    raise TypeError(f"Incompatible shapes for dot: got {ls} and {rs}; lax.dot takes ranks 1 "
                    "or 2 with matching inner sizes")


def batch_matmul(lhs, rhs, precision=None):
    """Batched matrix product of two arrays of equal rank >= 2 with equal leading axes.

    Example:
      >>> batch_matmul(fx.numpy.ones((4, 2, 3)), fx.numpy.ones((4, 3, 5))).shape  # (4, 2, 5)
    """
    ls, rs = get_aval(_array_arg("batch_matmul", lhs)).shape, get_aval(
        _array_arg("batch_matmul", rhs)).shape
    if len(ls) < 2 or len(ls) != len(rs):
        raise ValueError(f"batch_matmul requires arguments of equal rank >= 2, got shapes "
                         f"{ls} and {rs}")
    if ls[:-2] != rs[:-2]:
        raise ValueError(f"batch_matmul requires equal batch dimensions, got shapes {ls} and "
                         f"{rs}")
    nd = len(ls)
    batch = tuple(range(nd - 2))
    return dot_general(lhs, rhs, (((nd - 1,), (nd - 2,)), (batch, batch)), precision)


# ---------------------------------------------------------------------------
# convolution dimension numbers and padding


def conv_general_permutations(dimension_numbers):
    """The (lhs, rhs, out) axis permutations named by three layout strings."""
    lhs_str, rhs_str, out_str = dimension_numbers
    pairs = (("N", "C"), ("O", "I"), ("N", "C"))
    for k, (spec, (a, b)) in enumerate(zip(dimension_numbers, pairs, strict=True)):
        if spec.count(a) != 1 or spec.count(b) != 1:
            raise TypeError(f"convolution dimension_numbers[{k}] must contain the characters "
                            f"'{a}' and '{b}' exactly once, got {spec!r}")
        if len(set(spec)) != len(spec):
            raise TypeError(f"convolution dimension_numbers[{k}] cannot have duplicate "
                            f"characters, got {spec!r}")
    spatial = [set(s) - set(p) for s, p in zip(dimension_numbers, pairs, strict=True)]
    if not spatial[0] == spatial[1] == spatial[2]:
        raise TypeError(f"convolution dimension_numbers elements must each have the same set "
                        f"of spatial characters, got {tuple(dimension_numbers)}")
    rhs_spatial = [c for c in rhs_str if c not in "OI"]

    def perm(spec, pair):
        return (spec.index(pair[0]), spec.index(pair[1])) + tuple(
            spec.index(c) for c in rhs_spatial)

    return tuple(perm(s, p) for s, p in zip(dimension_numbers, pairs, strict=True))


def conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers) -> ConvDimensionNumbers:
    """Normalise convolution ``dimension_numbers`` to a ``ConvDimensionNumbers``.

    Args:
      lhs_shape, rhs_shape: the operands' shapes.
      dimension_numbers: None (NCHW/OIHW/NCHW-style in axis order), a
        ``ConvDimensionNumbers``, or three layout strings such as
        ``('NHWC', 'HWIO', 'NHWC')``.

    Example:
      >>> conv_dimension_numbers((1, 5, 5, 3), (3, 3, 3, 8), ('NHWC', 'HWIO', 'NHWC'))
      ConvDimensionNumbers(lhs_spec=(0, 3, 1, 2), rhs_spec=(3, 2, 0, 1), out_spec=(0, 3, 1, 2))
    """
    if len(lhs_shape) != len(rhs_shape):
        raise TypeError(f"convolution requires lhs and rhs ndim to be equal, got "
                        f"{len(lhs_shape)} and {len(rhs_shape)}")
    if dimension_numbers is None:
        iota = tuple(range(len(lhs_shape)))
        return ConvDimensionNumbers(iota, iota, iota)
    if isinstance(dimension_numbers, ConvDimensionNumbers):
        return ConvDimensionNumbers(*(tuple(int(a) for a in spec)
                                      for spec in dimension_numbers))
    if isinstance(dimension_numbers, (list, tuple)):
        if len(dimension_numbers) != 3:
            raise TypeError(f"convolution dimension_numbers list/tuple must be length 3, got "
                            f"{len(dimension_numbers)}")
        if all(isinstance(s, str) for s in dimension_numbers):
            for k, s in enumerate(dimension_numbers):
                if len(s) != len(lhs_shape):
                    raise TypeError(f"convolution dimension_numbers[{k}] {s!r} must have one "
                                    f"character per axis of lhs and rhs (shapes {lhs_shape} "
                                    f"and {rhs_shape})")
            return ConvDimensionNumbers(*conv_general_permutations(dimension_numbers))
        if all(isinstance(s, (list, tuple)) for s in dimension_numbers):
            return ConvDimensionNumbers(*(tuple(int(a) for a in s) for s in dimension_numbers))
        raise TypeError(f"convolution dimension_numbers elements must be strings, got "
                        f"{tuple(type(s).__name__ for s in dimension_numbers)}")
    raise TypeError(f"convolution dimension_numbers must be tuple/list or None, got "
                    f"{type(dimension_numbers).__name__}")


# ---------------------------------------------------------------------------
# convolutions


def conv_general_dilated(lhs, rhs, window_strides: Sequence[int], padding,
                         lhs_dilation: Sequence[int] | None = None,
                         rhs_dilation: Sequence[int] | None = None, dimension_numbers=None,
                         feature_group_count: int = 1, batch_group_count: int = 1,
                         precision=None, preferred_element_type=None, out_sharding=None):
    """General N-d convolution (XLA's Conv), with strides, padding, dilations and groups.

    Args:
      lhs: input of rank n + 2; rhs: kernel of rank n + 2.
      window_strides: n strides.
      padding: 'SAME', 'SAME_LOWER', 'VALID' or n (low, high) pairs (negative crops).
      lhs_dilation: n input dilations (transposed convolution), default ones.
      rhs_dilation: n kernel dilations (atrous convolution), default ones.
      dimension_numbers: None, a ``ConvDimensionNumbers`` or layout strings such as
        ``('NCHW', 'OIHW', 'NCHW')``.
      feature_group_count, batch_group_count: grouped convolutions.
      precision, preferred_element_type: as for ``dot_general``.

    Returns:
      The convolution, laid out by the output spec.

    Example:
      >>> conv_general_dilated(x, w, (1, 1), "SAME")   # x: NCHW, w: OIHW
    """
    lhs = _array_arg("conv_general_dilated", lhs)
    rhs = _array_arg("conv_general_dilated", rhs)
    ls, rs = get_aval(lhs).shape, get_aval(rhs).shape
    dnums = conv_dimension_numbers(ls, rs, dimension_numbers)
    nsp = len(ls) - 2
    window_strides = _int_tuple(window_strides, "window_strides")
    lhs_dilation = (1,) * nsp if lhs_dilation is None else _int_tuple(lhs_dilation,
                                                                      "lhs_dilation")
    rhs_dilation = (1,) * nsp if rhs_dilation is None else _int_tuple(rhs_dilation,
                                                                      "rhs_dilation")
    if isinstance(padding, str):
        if any(d != 1 for d in lhs_dilation):
            raise ValueError("String padding is not implemented for transposed convolution "
                             "using this op. Please either exactly specify the required "
                             "padding or use conv_transpose.")
        kernel = [(rs[dnums.rhs_spec[2 + k]] - 1) * rhs_dilation[k] + 1 for k in range(nsp)]
        padding = padtype_to_pads([ls[dnums.lhs_spec[2 + k]] for k in range(nsp)], kernel,
                                  window_strides, padding)
    try:
        padding = tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        raise ValueError(f"padding argument to conv_general_dilated should be a string or a "
                         f"sequence of (low, high) pairs, got {padding}") from None
    return conv_general_dilated_p.bind(
        lhs, rhs, window_strides=window_strides, padding=padding, lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation, dimension_numbers=dnums,
        feature_group_count=int(feature_group_count), batch_group_count=int(batch_group_count),
        precision=_canonicalize_precision(precision),
        preferred_element_type=_preferred(preferred_element_type), out_sharding=None)


def conv(lhs, rhs, window_strides: Sequence[int], padding, precision=None,
         preferred_element_type=None):
    """Convolution in NCHW/OIHW layout with 'SAME' or 'VALID' padding.

    Example:
      >>> conv(x, w, (1, 1), "VALID")
    """
    return conv_general_dilated(lhs, rhs, window_strides, padding, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_with_general_padding(lhs, rhs, window_strides: Sequence[int], padding,
                              lhs_dilation: Sequence[int] | None,
                              rhs_dilation: Sequence[int] | None, precision=None,
                              preferred_element_type=None):
    """Convolution in NCHW/OIHW layout with explicit padding and dilations.

    Example:
      >>> conv_with_general_padding(x, w, (1, 1), ((1, 1), (1, 1)), None, (2, 2))
    """
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
                                rhs_dilation=rhs_dilation, precision=precision,
                                preferred_element_type=preferred_element_type)


def _conv_transpose_padding(window: int, stride: int, padding) -> tuple:
    if padding == "SAME":
        total = window + stride - 2
        low = window - 1 if stride > window - 1 else -(-total // 2)
    elif padding == "VALID":
        total = window + stride - 2 + max(window - stride, 0)
        low = window - 1
    elif isinstance(padding, tuple):
        low, high = window - padding[0] - 1, window - padding[1] - 1
        total = low + high
    else:
        raise ValueError(f"Invalid padding mode: {padding}")
    return low, total - low


def conv_transpose(lhs, rhs, strides: Sequence[int], padding,
                   rhs_dilation: Sequence[int] | None = None, dimension_numbers=None,
                   transpose_kernel: bool = False, precision=None,
                   preferred_element_type=None, use_consistent_padding: bool = False):
    """Transposed ("fractionally strided") convolution, as Keras' Conv2DTranspose.

    Args:
      lhs, rhs: input and kernel (default layouts NHWC/HWIO/NHWC for 2-D).
      strides: the fractional strides (become lhs dilation).
      padding: 'SAME', 'VALID' (forward-conv padding) or explicit (low, high) pairs,
        which mean the transposed conv's own padding unless ``use_consistent_padding``.
      rhs_dilation: kernel dilation.
      transpose_kernel: flip the kernel's spatial axes and swap its I/O axes, making
        this the gradient of ``conv_general_dilated``.

    Example:
      >>> conv_transpose(x, w, (2, 2), "SAME")   # doubles H and W
    """
    ls, rs = get_aval(_array_arg("conv_transpose", lhs)).shape, get_aval(
        _array_arg("conv_transpose", rhs)).shape
    if len(ls) != len(rs) or len(ls) < 2:
        raise TypeError(f"conv_transpose requires lhs and rhs of equal rank >= 2, got shapes "
                        f"{ls} and {rs}")
    nd = len(ls)
    if dimension_numbers is None:
        defaults = {2: ("NC", "IO", "NC"), 3: ("NHC", "HIO", "NHC"),
                    4: ("NHWC", "HWIO", "NHWC"), 5: ("NHWDC", "HWDIO", "NHWDC")}
        if nd not in defaults:
            raise ValueError("No 4+ dimensional dimension_number defaults.")
        dimension_numbers = defaults[nd]
    dn = conv_dimension_numbers(ls, rs, dimension_numbers)
    nsp = nd - 2
    strides = _int_tuple(strides, "strides")
    rhs_dilation = (1,) * nsp if rhs_dilation is None else _int_tuple(rhs_dilation,
                                                                      "rhs_dilation")
    if use_consistent_padding or (isinstance(padding, str) and padding in ("SAME", "VALID")):
        kernel = [(rs[dn.rhs_spec[2 + k]] - 1) * rhs_dilation[k] + 1 for k in range(nsp)]
        per_dim = [padding] * nsp if isinstance(padding, str) else [tuple(p) for p in padding]
        pads = tuple(_conv_transpose_padding(k, s, p)
                     for k, s, p in zip(kernel, strides, per_dim, strict=True))
    else:
        pads = padding
    if transpose_kernel:
        spatial = tuple(a for a in dn.rhs_spec[2:] if rs[a] > 1)
        if spatial:
            rhs = P.registry["rev"].bind(rhs, dimensions=spatial)
        perm = list(range(nd))
        perm[dn.rhs_spec[0]], perm[dn.rhs_spec[1]] = perm[dn.rhs_spec[1]], perm[dn.rhs_spec[0]]
        rhs = _lax.transpose(rhs, perm)
    return conv_general_dilated(lhs, rhs, (1,) * nsp, pads, strides, rhs_dilation, dn,
                                precision=precision,
                                preferred_element_type=preferred_element_type)
