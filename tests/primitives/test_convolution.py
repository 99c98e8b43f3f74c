"""Tests of the ``conv_general_dilated`` primitive (primitives/convolution.py) and the
lax convolution wrappers (fx/lax/_linalg.py).

Oracles: a direct-loop convolution written here (one output position and one
kernel tap at a time, following XLA's definition), finite differences for
derivatives, a Python loop for vmap, eager for jit, and ``jax.lax`` (values,
cotangents, printed jaxprs) where JAX is installed. Hypothesis sweeps layouts,
strides, dilations, paddings (negative included) and feature/batch groups.
"""
from __future__ import annotations

import contextlib
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx import lax
from fx.test_util import check_grads
from primitives import convolution as conv_module
from primitives.convolution import ConvDimensionNumbers, conv_general_dilated_p

STRATEGIES = ("im2col", "kn2row")


@contextlib.contextmanager
def strategy(name):
    """Force the eager impl to use one algorithm (it normally picks by cost)."""
    chooser = conv_module._kn2row_is_cheaper
    conv_module._kn2row_is_cheaper = lambda *args: name == "kn2row"
    try:
        yield
    finally:
        conv_module._kn2row_is_cheaper = chooser


def ref_conv(lhs, rhs, strides, padding, lhs_dilation, rhs_dilation, dn,
             feature_group_count=1, batch_group_count=1):
    """XLA's convolution by explicit loops over output positions and kernel taps."""
    lhs_spec, rhs_spec, out_spec = dn
    wide = np.complex128 if np.iscomplexobj(lhs) else np.float64
    x = np.transpose(lhs, lhs_spec).astype(wide)     # (N, C, *S)
    w = np.transpose(rhs, rhs_spec).astype(wide)     # (O, I, *K)
    n, c = x.shape[:2]
    o, i = w.shape[:2]
    spatial, kernel = x.shape[2:], w.shape[2:]
    groups = feature_group_count * batch_group_count
    nb, og = n // batch_group_count, o // groups
    out_sp = []
    for s, k, st_, (lo, hi), ld, rd in zip(spatial, kernel, strides, padding, lhs_dilation,
                                           rhs_dilation, strict=True):
        padded = ((s - 1) * ld + 1 if s else 0) + lo + hi
        span = (k - 1) * rd + 1 if k else 0
        out_sp.append(max(0, (padded - span) // st_ + 1) if padded >= span else 0)
    out = np.zeros((nb, o) + tuple(out_sp), wide)
    for pos in itertools.product(*[range(s) for s in out_sp]):
        for tap in itertools.product(*[range(k) for k in kernel]):
            index = []
            for p, t, st_, (lo, _), ld, rd, s in zip(pos, tap, strides, padding, lhs_dilation,
                                                     rhs_dilation, spatial, strict=True):
                dilated = p * st_ + t * rd - lo   # position in the dilated, unpadded input
                if dilated < 0 or dilated % ld or dilated // ld >= s:
                    break
                index.append(dilated // ld)
            else:
                xv = x[(slice(None), slice(None)) + tuple(index)]   # (N, C)
                wv = w[(slice(None), slice(None)) + tap]             # (O, I)
                for g in range(groups):
                    if batch_group_count > 1:
                        xs = xv[g * nb:(g + 1) * nb]
                    else:
                        xs = xv[:, g * i:(g + 1) * i]
                    out[(slice(None), slice(g * og, (g + 1) * og)) + pos] += \
                        xs @ wv[g * og:(g + 1) * og].T
    perm = [0] * len(out_spec)
    for role, axis in enumerate(out_spec):
        perm[axis] = role
    return np.transpose(out, perm)


def _dn(lhs, rhs, out):
    return ConvDimensionNumbers(tuple(lhs), tuple(rhs), tuple(out))


NCHW = _dn((0, 1, 2, 3), (0, 1, 2, 3), (0, 1, 2, 3))
NHWC = _dn((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
NCH = _dn((0, 1, 2), (0, 1, 2), (0, 1, 2))

# (id, lhs shape, rhs shape, strides, padding, lhs_dil, rhs_dil, dn, fgc, bgc)
CASES = [
    ("plain", (2, 3, 6, 5), (4, 3, 3, 2), (1, 1), ((0, 0), (0, 0)), (1, 1), (1, 1), NCHW, 1,
     1),
    ("strided_padded", (2, 3, 7, 6), (4, 3, 3, 3), (2, 3), ((1, 2), (2, 0)), (1, 1), (1, 1),
     NCHW, 1, 1),
    ("negative_pad", (1, 2, 8, 7), (3, 2, 2, 3), (1, 2), ((-1, 2), (1, -2)), (1, 1), (1, 1),
     NCHW, 1, 1),
    ("rhs_dilated", (2, 2, 9, 8), (3, 2, 3, 2), (2, 1), ((1, 1), (0, 1)), (1, 1), (2, 3),
     NCHW, 1, 1),
    ("lhs_dilated", (1, 2, 5, 4), (3, 2, 3, 2), (1, 2), ((2, 1), (1, 1)), (2, 3), (1, 1),
     NCHW, 1, 1),
    ("everything", (2, 4, 6, 5), (6, 2, 2, 3), (2, 1), ((1, -1), (2, 1)), (2, 1), (1, 2),
     NCHW, 2, 1),
    ("nhwc", (2, 6, 5, 3), (3, 2, 3, 4), (2, 1), ((1, 1), (1, 0)), (1, 1), (1, 1), NHWC, 1,
     1),
    ("nhwc_groups", (2, 6, 5, 4), (3, 2, 2, 6), (1, 2), ((0, 1), (1, 1)), (1, 1), (2, 1),
     NHWC, 2, 1),
    ("depthwise", (2, 3, 6, 6), (3, 1, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), (1, 1),
     NCHW, 3, 1),
    ("batch_groups", (4, 3, 6, 5), (4, 3, 2, 2), (1, 2), ((1, 0), (0, 1)), (1, 1), (1, 1),
     NCHW, 1, 2),
    ("batch_groups_nhwc", (6, 5, 4, 2), (2, 2, 2, 6), (2, 1), ((0, 1), (1, 1)), (1, 1),
     (1, 2), NHWC, 1, 3),
    ("1d", (3, 2, 9), (4, 2, 3), (2,), ((1, 2),), (1,), (2,), NCH, 1, 1),
    ("1d_lhs_dilation_groups", (2, 4, 5), (4, 2, 2), (1,), ((0, -1),), (3,), (1,), NCH, 2,
     1),
    ("3d", (1, 2, 4, 3, 5), (2, 2, 2, 1, 3), (1, 2, 2), ((1, 0), (0, 1), (1, 1)), (1, 1, 1),
     (1, 1, 1), _dn(range(5), range(5), range(5)), 1, 1),
    ("odd_layouts", (5, 6, 3, 3), (2, 3, 4, 2), (1, 2), ((1, 1), (0, 1)), (1, 1), (1, 1),
     _dn((2, 3, 0, 1), (3, 1, 0, 2), (1, 2, 3, 0)), 1, 1),
    ("empty_output", (1, 2, 2, 3), (2, 2, 3, 2), (1, 1), ((0, 0), (0, 0)), (1, 1), (1, 1),
     NCHW, 1, 1),
]
IDS = [c[0] for c in CASES]
GRAD_CASES = [c for c in CASES if c[0] != "empty_output"]


def _params(case):
    _, _, _, strides, padding, ld, rd, dn, fgc, bgc = case
    return dict(window_strides=strides, padding=padding, lhs_dilation=ld, rhs_dilation=rd,
                dimension_numbers=dn, feature_group_count=fgc, batch_group_count=bgc,
                precision=None, preferred_element_type=None, out_sharding=None)


def _conv(params):
    return lambda x, w: conv_general_dilated_p.bind(x, w, **params)


def _operands(case, rng, dtype=np.float32):
    x = rng.uniform(-1, 1, size=case[1])
    w = rng.uniform(-1, 1, size=case[2])
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.uniform(-1, 1, size=case[1])
        w = w + 1j * rng.uniform(-1, 1, size=case[2])
    return x.astype(dtype), w.astype(dtype)


def _ref(case, x, w):
    _, _, _, strides, padding, ld, rd, dn, fgc, bgc = case
    return ref_conv(x, w, strides, padding, ld, rd, dn, fgc, bgc)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", ["float32", "complex64"])
def test_impl_matches_loop_reference(case, dtype, harness):
    rng = np.random.RandomState(0)
    x, w = _operands(case, rng, dtype)
    params = _params(case)
    expected = _ref(case, x, w).astype(dtype)
    for name in STRATEGIES:
        with strategy(name):
            out = _conv(params)(harness.to_fx(x), harness.to_fx(w))
            harness.assert_same(out, expected, 1e-5, 1e-5, name)
            harness.check_abstract_eval(conv_general_dilated_p, [x, w], params)


@pytest.mark.parametrize("dtype,preferred,expected", [
    ("int32", None, "int32"), ("int8", "int32", "int32"), ("float16", "float32", "float32"),
    ("float16", None, "float16"), ("int16", "float32", "float32")])
def test_dtypes(dtype, preferred, expected, harness):
    case = CASES[1]
    rng = np.random.RandomState(1)
    x = rng.randint(-3, 4, size=case[1]).astype(dtype)
    w = rng.randint(-3, 4, size=case[2]).astype(dtype)
    params = dict(_params(case), preferred_element_type=None if preferred is None else
                  np.dtype(preferred))
    for name in STRATEGIES:
        with strategy(name):
            out = _conv(params)(harness.to_fx(x), harness.to_fx(w))
            harness.assert_same(out, _ref(case, x, w).astype(expected), err_msg=name)
            harness.check_abstract_eval(conv_general_dilated_p, [x, w], params)


@st.composite
def conv_problems(draw):
    """A random, valid convolution: layout, sizes, strides, dilations, padding, groups."""
    nsp = draw(st.integers(1, 2))
    groups = draw(st.integers(1, 3))
    batch_grouped = groups > 1 and draw(st.booleans())
    fgc, bgc = (1, groups) if batch_grouped else (groups, 1)
    n = draw(st.integers(1, 2)) * bgc
    i = draw(st.integers(1, 2))
    o = draw(st.integers(1, 2)) * groups
    c = i * fgc
    spatial = [draw(st.integers(1, 6)) for _ in range(nsp)]
    kernel = [draw(st.integers(1, 3)) for _ in range(nsp)]
    strides = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    ld = tuple(draw(st.integers(1, 2)) for _ in range(nsp))
    rd = tuple(draw(st.integers(1, 2)) for _ in range(nsp))
    padding = tuple((draw(st.integers(-1, 2)), draw(st.integers(-1, 2))) for _ in range(nsp))
    nd = nsp + 2
    specs = [tuple(draw(st.permutations(range(nd)))) for _ in range(3)]
    dn = ConvDimensionNumbers(*specs)
    lhs_shape, rhs_shape = [0] * nd, [0] * nd
    for role, size in enumerate([n, c] + spatial):
        lhs_shape[dn.lhs_spec[role]] = size
    for role, size in enumerate([o, i] + kernel):
        rhs_shape[dn.rhs_spec[role]] = size
    return ("random", tuple(lhs_shape), tuple(rhs_shape), strides, padding, ld, rd, dn, fgc,
            bgc)


@given(case=conv_problems(), seed=st.integers(0, 2 ** 16))
def test_random_convolutions_match_loop_reference(case, seed, harness):
    rng = np.random.RandomState(seed)
    x, w = _operands(case, rng)
    expected = _ref(case, x, w).astype(np.float32)
    for name in STRATEGIES:
        with strategy(name):
            out = _conv(_params(case))(harness.to_fx(x), harness.to_fx(w))
            harness.assert_same(out, expected, 1e-5, 1e-5, f"{name} {case}")


@given(case=conv_problems(), seed=st.integers(0, 2 ** 16))
def test_random_convolutions_transpose_and_vmap(case, seed, harness):
    """Cotangents satisfy <ct, J t> = <J^T ct, t> against the loop reference, and vmap
    matches a loop for each operand batched."""
    rng = np.random.RandomState(seed)
    x, w = _operands(case, rng, np.float64)
    f = _conv(_params(case))
    with fx.enable_x64():
        out, vjp = fx.vjp(f, x, w)
        ct = rng.uniform(-1, 1, size=out.shape)
        gx, gw = (np.asarray(g) for g in vjp(ct))
        tx, tw = rng.uniform(-1, 1, size=x.shape), rng.uniform(-1, 1, size=w.shape)
        # the conv is bilinear: J (tx, tw) = conv(tx, w) + conv(x, tw)
        jt = _ref(case, tx, w) + _ref(case, x, tw)
        np.testing.assert_allclose(np.sum(ct * jt), np.sum(gx * tx) + np.sum(gw * tw),
                                   rtol=1e-9, atol=1e-9)
    xs, ws = x.astype(np.float32), w.astype(np.float32)
    xb = np.stack([xs, xs * 0.5 + 1.0], axis=1)
    wb = np.stack([ws, ws[::-1] * 2.0], axis=0)
    for args, axes in (([xb, ws], [1, None]), ([xs, wb], [None, 0]), ([xb, wb], [1, 0])):
        harness.check_vmap(f, args, axes, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_grads(case):
    rng = np.random.RandomState(2)
    x, w = _operands(case, rng, np.float64)
    with fx.enable_x64():
        check_grads(_conv(_params(case)), (x, w), order=1, modes=("fwd", "rev"))


@pytest.mark.parametrize("name", ["strided_padded", "everything", "batch_groups"])
def test_second_order_grads(name):
    case = next(c for c in CASES if c[0] == name)
    rng = np.random.RandomState(3)
    x, w = _operands(case, rng, np.float64)
    with fx.enable_x64():
        check_grads(_conv(_params(case)), (x, w), order=2, modes=("fwd", "rev"))


def test_grad_with_wider_preferred_element_type():
    case = next(c for c in CASES if c[0] == "everything")
    rng = np.random.RandomState(9)
    x, w = _operands(case, rng, np.float16)
    params = dict(_params(case), preferred_element_type=np.dtype(np.float32))

    def loss(x, w):
        return conv_general_dilated_p.bind(x, w, **params).sum()

    gx, gw = fx.grad(loss, (0, 1))(x, w)
    assert (gx.dtype, gw.dtype) == (np.float16, np.float16)
    with fx.enable_x64():
        ex, ew = fx.grad(lambda a, b: _conv(_params(case))(a, b).sum(), (0, 1))(
            x.astype(np.float64), w.astype(np.float64))
    np.testing.assert_allclose(np.asarray(gx, np.float64), np.asarray(ex), rtol=1e-2,
                               atol=1e-2)
    np.testing.assert_allclose(np.asarray(gw, np.float64), np.asarray(ew), rtol=1e-2,
                               atol=1e-2)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_vmap_each_operand(case, harness):
    rng = np.random.RandomState(4)
    x, w = _operands(case, rng)
    f = _conv(_params(case))
    for xa in (None, 0, x.ndim):
        for wa in (None, 0, 2):
            if xa is None and wa is None:
                continue
            xb = x if xa is None else np.stack([x, -x + 0.25, x * 2], axis=xa)
            wb = w if wa is None else np.stack([w, w * 0.5, -w], axis=wa)
            harness.check_vmap(f, [xb, wb], [xa, wa], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jit_matches_eager(case, harness):
    rng = np.random.RandomState(5)
    harness.check_jit(_conv(_params(case)), list(_operands(case, rng)))


def test_shape_errors():
    x, w = fnp.ones((2, 4, 5, 5)), fnp.ones((6, 2, 3, 3))
    with pytest.raises(ValueError, match="feature_group_count"):
        lax.conv_general_dilated(x, w, (1, 1), "VALID", feature_group_count=3)
    with pytest.raises(ValueError, match="rhs input feature"):
        lax.conv_general_dilated(x, w, (1, 1), "VALID")
    with pytest.raises(ValueError, match="at most one"):
        lax.conv_general_dilated(x, fnp.ones((4, 2, 3, 3)), (1, 1), "VALID",
                                 feature_group_count=2, batch_group_count=2)
    with pytest.raises(TypeError, match="window_strides"):
        lax.conv_general_dilated(x, fnp.ones((6, 4, 3, 3)), (1,), "VALID")
    with pytest.raises(TypeError, match="same dtype"):
        lax.conv(x, fnp.ones((6, 4, 3, 3), np.int32), (1, 1), "VALID")
    with pytest.raises(TypeError, match="exactly once"):
        lax.conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=("NCHW", "OOHW",
                                                                          "NCHW"))
    with pytest.raises(ValueError, match="transposed convolution"):
        lax.conv_general_dilated(x, fnp.ones((6, 4, 3, 3)), (1, 1), "SAME", lhs_dilation=(2, 2))
    with pytest.raises((RuntimeError, ValueError), match="padding"):
        lax.conv(x, fnp.ones((6, 4, 3, 3)), (1, 1), "FULL")


def test_dimension_numbers_and_padding_helpers():
    dn = lax.conv_dimension_numbers((1, 5, 6, 3), (3, 2, 3, 8), ("NHWC", "HWIO", "NHWC"))
    assert dn == ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
    assert lax.conv_dimension_numbers((1, 2, 3), (1, 2, 3), None) == ConvDimensionNumbers(
        (0, 1, 2), (0, 1, 2), (0, 1, 2))
    # spatial axes follow the order of the kernel's layout string
    dn = lax.conv_dimension_numbers((1, 5, 6, 3), (3, 2, 3, 8), ("NHWC", "WHIO", "NWHC"))
    assert dn == ConvDimensionNumbers((0, 3, 2, 1), (3, 2, 0, 1), (0, 3, 1, 2))
    assert lax.padtype_to_pads((5, 6), (3, 2), (2, 1), "SAME") == [(1, 1), (0, 1)]
    assert lax.padtype_to_pads((6,), (4,), (1,), "SAME_LOWER") == [(2, 1)]
    assert lax.padtype_to_pads((6,), (4,), (1,), "VALID") == [(0, 0)]


# ---------------------------------------------------------------------------
# JAX as an oracle


def _jax_call(jax, case, x, w):
    _, _, _, strides, padding, ld, rd, dn, fgc, bgc = case
    jdn = jax.lax.ConvDimensionNumbers(*dn)
    return jax.lax.conv_general_dilated(x, w, strides, padding, ld, rd, jdn, fgc, bgc)


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_against_jax(case, jax):
    rng = np.random.RandomState(6)
    x, w = _operands(case, rng)
    f = _conv(_params(case))
    np.testing.assert_allclose(np.asarray(f(x, w)), np.asarray(_jax_call(jax, case, x, w)),
                               rtol=1e-5, atol=1e-5)
    out, vjp = fx.vjp(f, x, w)
    ct = rng.uniform(-1, 1, size=out.shape).astype(np.float32)
    _, jvjp = jax.vjp(lambda a, b: _jax_call(jax, case, a, b), x, w)
    for mine, theirs in zip(vjp(ct), jvjp(ct), strict=True):
        np.testing.assert_allclose(np.asarray(mine), np.asarray(theirs), rtol=1e-4,
                                   atol=1e-5)


@pytest.mark.parametrize("padding", ["SAME", "VALID", "SAME_LOWER", ((1, 2), (0, 1))])
@pytest.mark.parametrize("layout", [("NCHW", "OIHW", "NCHW"), ("NHWC", "HWIO", "NHWC"),
                                    ("NHWC", "OIHW", "NCHW")])
def test_lax_wrappers_against_jax(padding, layout, jax):
    rng = np.random.RandomState(7)
    shapes = {"NCHW": (2, 3, 7, 6), "NHWC": (2, 7, 6, 3), "OIHW": (4, 3, 3, 2),
              "HWIO": (3, 2, 3, 4)}
    x = rng.uniform(-1, 1, size=shapes[layout[0]]).astype(np.float32)
    w = rng.uniform(-1, 1, size=shapes[layout[1]]).astype(np.float32)
    kw = dict(window_strides=(2, 1), padding=padding, rhs_dilation=(1, 2),
              dimension_numbers=layout)
    np.testing.assert_allclose(np.asarray(lax.conv_general_dilated(x, w, **kw)),
                               np.asarray(jax.lax.conv_general_dilated(x, w, **kw)),
                               rtol=1e-5, atol=1e-5)
    if layout[0] == "NCHW" and isinstance(padding, str) and padding != "SAME_LOWER":
        np.testing.assert_allclose(np.asarray(lax.conv(x, w, (1, 2), padding)),
                                   np.asarray(jax.lax.conv(x, w, (1, 2), padding)),
                                   rtol=1e-5, atol=1e-5)
    if layout[0] == "NCHW" and not isinstance(padding, str):
        args = (x, w, (1, 2), padding, (2, 1), (1, 2))
        np.testing.assert_allclose(np.asarray(lax.conv_with_general_padding(*args)),
                                   np.asarray(jax.lax.conv_with_general_padding(*args)),
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("padding", ["SAME", "VALID", ((1, 0), (2, 1))])
@pytest.mark.parametrize("transpose_kernel", [False, True])
@pytest.mark.parametrize("consistent", [False, True])
def test_conv_transpose_against_jax(padding, transpose_kernel, consistent, jax):
    rng = np.random.RandomState(8)
    x = rng.uniform(-1, 1, size=(2, 5, 4, 3)).astype(np.float32)   # NHWC
    w = rng.uniform(-1, 1, size=(3, 2, 3, 3)).astype(np.float32)   # HWIO
    kw = dict(strides=(2, 3), padding=padding, rhs_dilation=(1, 2),
              transpose_kernel=transpose_kernel, use_consistent_padding=consistent)
    np.testing.assert_allclose(np.asarray(lax.conv_transpose(x, w, **kw)),
                               np.asarray(jax.lax.conv_transpose(x, w, **kw)),
                               rtol=1e-5, atol=1e-5)


def test_printed_jaxprs_match_jax(jax):
    x = np.ones((2, 3, 8, 8), np.float32)
    w = np.ones((4, 3, 3, 3), np.float32)

    def f(L):
        return lambda x, w: L.conv_general_dilated(x, w, (2, 2), "SAME", rhs_dilation=(1, 2),
                                                   feature_group_count=1).sum()

    for fn_fx, fn_jax in ((f(lax), f(jax.lax)),
                          (fx.grad(f(lax), (0, 1)), jax.grad(f(jax.lax), (0, 1)))):
        mine = " ".join(str(fx.make_jaxpr(fn_fx)(x, w)).split())
        theirs = " ".join(str(jax.make_jaxpr(fn_jax)(x, w)).split())
        assert mine == theirs


@pytest.mark.parametrize("groups", [(2, 1), (1, 2)], ids=["feature", "batch"])
@pytest.mark.parametrize("axes", [None, (0, None), (None, 0), (0, 0)], ids=str)
def test_grouped_grad_and_vmap_jaxprs_match_jax(groups, axes, jax):
    fgc, bgc = groups
    x = np.ones((4, 4, 8, 8), np.float32)
    w = np.ones((6, 4 // fgc, 3, 3), np.float32)

    def conv(L):
        return lambda x, w: L.conv_general_dilated(x, w, (2, 1), ((1, 0), (2, 1)), (1, 2),
                                                   (2, 1), None, fgc, bgc)

    if axes is None:
        mine = fx.make_jaxpr(fx.grad(lambda x, w: conv(lax)(x, w).sum(), (0, 1)))(x, w)
        theirs = jax.make_jaxpr(jax.grad(lambda x, w: conv(jax.lax)(x, w).sum(), (0, 1)))(x, w)
    else:
        xb = x if axes[0] is None else np.stack([x, x + 1])
        wb = w if axes[1] is None else np.stack([w, w - 1])
        mine = fx.make_jaxpr(fx.vmap(conv(lax), axes))(xb, wb)
        theirs = jax.make_jaxpr(jax.vmap(conv(jax.lax), axes))(xb, wb)
    assert " ".join(str(mine).split()) == " ".join(str(theirs).split())
