"""Convolutions on the GPU: ``conv_general_dilated`` as an implicit-GEMM CUDA kernel
(tiled through shared memory), with the elementwise consumer the fusion plan puts
after it computed in the same kernel.

Invariants: the kernel is generated per equation with every size, stride,
padding, dilation, group count and layout (``dimension_numbers``) baked in as a
constant, and takes only buffers (as the other kernels). As a GEMM, rows are
(batch, output position) and columns output features, per group (feature or
batch group); the reduction runs over (input feature, kernel tap). A block of
256 threads computes a 64 x 64 tile, 4 x 4 outputs per thread, loading 16-deep
slices of both operands into shared memory (out-of-window and
between-dilation taps read as 0). Accumulation is in float (double for
float64). CuPy 14 has no cuDNN module, so ``cudnn_available()`` is false there
and the kernel always runs; the fusion plan is not changed: a convolution is
a library group, and ``plan_groups`` merges it with its single elementwise
consumer when that group reads it only at the output's own index.
"""
from __future__ import annotations

import math

import numpy as np

from lowering.gpu import codegen, kernels

__all__ = ["supports", "ConvGroup", "plan_groups", "emit", "cudnn_available", "TILE_M",
           "TILE_N", "TILE_K"]

TILE_M, TILE_N, TILE_K = 64, 64, 16
_THREADS = 256  # 16 x 16 threads, each 4 x 4 outputs


def cudnn_available() -> bool:
    """Whether CuPy exposes cuDNN convolutions here (``cupy.cudnn`` with a loadable
    library; CuPy 14 removed the module)."""
    try:
        from cupy import cudnn  # noqa: F401
        return bool(cudnn.available) if hasattr(cudnn, "available") else True
    except Exception:  # noqa: BLE001
        return False


_FLOATS = {np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)} | (
    {codegen.BF16} if codegen.BF16 is not None else set())


def supports(eqn) -> bool:
    """Whether ``eqn`` is a convolution the kernel handles (floating operands)."""
    if eqn.primitive.name != "conv_general_dilated":
        return False
    x, w = eqn.invars
    return (np.dtype(x.aval.dtype) in _FLOATS and np.dtype(w.aval.dtype) in _FLOATS
            and np.dtype(eqn.outvars[0].aval.dtype) in _FLOATS)


class ConvGroup:
    """A convolution kernel (with its fused epilogue, if any), in the place of fusion
    groups: ``kind`` is ``"conv"``; ``spec`` the kernel."""

    __slots__ = ("kind", "eqns", "inputs", "outputs", "shape", "spec", "epilogue")

    def __init__(self, eqn, epilogue, spec):
        self.kind = "conv"
        self.eqns = [eqn] + (list(epilogue.eqns) if epilogue is not None else [])
        self.spec = spec
        self.epilogue = epilogue
        self.inputs = [v for v in spec.buffers if all(v is not o for o in self.outputs_of(
            eqn, epilogue))]
        self.outputs = self.outputs_of(eqn, epilogue)
        self.shape = tuple(eqn.outvars[0].aval.shape)

    @staticmethod
    def outputs_of(eqn, epilogue):
        return list(epilogue.outputs) if epilogue is not None else [eqn.outvars[0]]

    def __repr__(self):
        return f"ConvGroup({'fused' if self.epilogue is not None else 'alone'})"


def plan_groups(groups, outvars, prefix: str) -> list:
    """``groups`` with each supported convolution as a ``ConvGroup``, merged with the
    loop group after it when that group is its only reader, the convolution's result
    is no program output, and the group reads it at the output's own index."""
    out_ids = {id(v) for v in outvars}
    readers: dict[int, list[int]] = {}
    for gi, g in enumerate(groups):
        for v in g.inputs:
            readers.setdefault(id(v), []).append(gi)
    result = list(groups)
    for gi, g in enumerate(groups):
        if g.kind != "library" or not supports(g.eqns[0]):
            continue
        e = g.eqns[0]
        out = e.outvars[0]
        rd = readers.get(id(out), [])
        name = f"{prefix}{gi}c"
        if id(out) not in out_ids and len(rd) == 1 and groups[rd[0]].kind == "loop" \
                and tuple(groups[rd[0]].shape) == tuple(out.aval.shape) \
                and isinstance(result[rd[0]], type(groups[rd[0]])):
            try:
                spec = emit(e, groups[rd[0]], name)
            except kernels.CodegenError:
                spec = None
            if spec is not None:
                result[gi] = None
                result[rd[0]] = ConvGroup(e, groups[rd[0]], spec)
                continue
        result[gi] = ConvGroup(e, None, emit(e, None, name))
    return [g for g in result if g is not None]


class _Shell:
    """The group a conv kernel's ``kernels._Kernel`` sees: its buffers and the
    epilogue's equations."""

    def __init__(self, inputs, outputs, eqns, shape):
        self.inputs, self.outputs, self.eqns = inputs, outputs, eqns
        self.shape = tuple(shape)
        self.kind = "loop"


def _strides(shape) -> list[int]:
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc)
        acc *= int(s)
    return out[::-1]


def _decode(k, lin: str, sizes, prefix: str) -> list[str]:
    """C variables for the row-major digits of ``lin`` over ``sizes``."""
    names = []
    rest = lin
    for d in range(len(sizes) - 1, -1, -1):
        name = k.fresh(prefix)
        if d == 0:
            k.emit(f"const {k.idx_t} {name} = {rest};")
        else:
            k.emit(f"const {k.idx_t} {name} = {rest} % {int(sizes[d])};")
            nxt = k.fresh(prefix)
            k.emit(f"const {k.idx_t} {nxt} = {rest} / {int(sizes[d])};")
            rest = nxt
        names.append(name)
    return names[::-1]


def emit(eqn, epilogue, name: str) -> kernels.KernelSpec:
    """The implicit-GEMM kernel of convolution ``eqn``, followed by ``epilogue`` (a loop
    group reading its result at the output's index) or a plain store.

    Raises ``kernels.CodegenError`` when the epilogue cannot be computed in the kernel.
    """
    p = eqn.params
    x, w = eqn.invars
    out = eqn.outvars[0]
    lhs_spec, rhs_spec, out_spec = p["dimension_numbers"]
    nsp = len(lhs_spec) - 2
    xs, ws, os_ = (tuple(int(s) for s in v.aval.shape) for v in (x, w, out))
    fgc, bgc = int(p["feature_group_count"]), int(p["batch_group_count"])
    groups = max(fgc, bgc)
    nb, o_total, cg = os_[out_spec[0]], ws[rhs_spec[0]], ws[rhs_spec[1]]
    og = o_total // groups
    in_sp = [xs[lhs_spec[2 + i]] for i in range(nsp)]
    k_sp = [ws[rhs_spec[2 + i]] for i in range(nsp)]
    o_sp = [os_[out_spec[2 + i]] for i in range(nsp)]
    strides, pads = p["window_strides"], p["padding"]
    ld, rd = p["lhs_dilation"], p["rhs_dilation"]
    M, K = nb * math.prod(o_sp), cg * math.prod(k_sp)
    mt, nt = -(-M // TILE_M), -(-og // TILE_N)
    tiles = groups * mt * nt
    xstr, wstr = _strides(xs), _strides(ws)
    in_dt, out_dt = np.dtype(x.aval.dtype), np.dtype(out.aval.dtype)
    acc_dt = np.dtype(np.float64) if np.float64 in (in_dt, out_dt) else np.dtype(np.float32)
    acc_t = codegen.reg_type(acc_dt)

    extra = [v for v in epilogue.inputs if v is not out] if epilogue is not None else []
    outputs = list(epilogue.outputs) if epilogue is not None else [out]
    eqns = list(epilogue.eqns) if epilogue is not None else []
    shell = _Shell([x, w] + extra, outputs, eqns, os_)
    sizes = [v.aval.size for v in [x, w, out] + extra + outputs] + [M * groups, K]
    idx_t = "int" if max(sizes) * 2 < kernels._INT32_LIMIT else "long long"
    k = kernels._Kernel(shell, name, idx_t)
    xb, wb = k.param[id(x)], k.param[id(w)]
    T = idx_t
    k.preload_scalars()
    k.emit(f"__shared__ {acc_t} fx_as[{TILE_K}][{TILE_M}];")
    k.emit(f"__shared__ {acc_t} fx_bs[{TILE_K}][{TILE_N}];")
    k.emit("const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;")
    k.open(f"for ({T} tile = blockIdx.x; tile < {tiles}; tile += gridDim.x)")
    k.emit(f"const {T} grp = tile / {mt * nt};")
    k.emit(f"const {T} m0 = (tile % {mt * nt}) / {nt} * {TILE_M};")
    k.emit(f"const {T} n0 = (tile % {nt}) * {TILE_N};")
    k.emit(f"{acc_t} acc[4][4];")
    k.emit("for (int r = 0; r < 4; ++r) for (int c = 0; c < 4; ++c) acc[r][c] = 0;")
    k.open(f"for ({T} k0 = 0; k0 < {K}; k0 += {TILE_K})")
    # -- the lhs tile: rows (batch, output position), columns (feature, tap)
    k.open(f"for (int e = threadIdx.x; e < {TILE_K * TILE_M}; e += blockDim.x)")
    k.emit(f"const {T} m = m0 + e % {TILE_M}, kq = k0 + e / {TILE_M};")
    k.emit(f"{acc_t} v = 0;")
    k.open(f"if (m < {M} && kq < {K})")
    n_, *pos = _decode(k, "m", [nb] + o_sp, "r")
    c_, *taps = _decode(k, "kq", [cg] + k_sp, "q")
    xn = f"({n_} + grp * {nb})" if bgc > 1 else n_
    xc = f"({c_} + grp * {cg})" if fgc > 1 else c_
    conds, terms = [], [f"{xn} * {xstr[lhs_spec[0]]}", f"{xc} * {xstr[lhs_spec[1]]}"]
    for i in range(nsp):
        q = k.fresh("h")
        k.emit(f"const {T} {q} = {pos[i]} * {int(strides[i])} + {taps[i]} * {int(rd[i])} - "
               f"({int(pads[i][0])});")
        if int(ld[i]) == 1:
            conds.append(f"{q} >= 0 && {q} < {in_sp[i]}")
            terms.append(f"{q} * {xstr[lhs_spec[2 + i]]}")
        else:
            conds.append(f"{q} >= 0 && {q} % {int(ld[i])} == 0 && {q} / {int(ld[i])} < "
                         f"{in_sp[i]}")
            terms.append(f"({q} / {int(ld[i])}) * {xstr[lhs_spec[2 + i]]}")
    load = codegen.load_expr(in_dt, f"{xb}[{' + '.join(terms)}]")
    if conds:
        k.emit(f"if ({' && '.join('(' + c + ')' for c in conds)}) v = ({acc_t})({load});")
    else:
        k.emit(f"v = ({acc_t})({load});")
    k.close()
    k.emit("fx_as[e / %d][e %% %d] = v;" % (TILE_M, TILE_M))
    k.close()
    # -- the rhs tile: rows (feature, tap), columns output features of the group
    k.open(f"for (int e = threadIdx.x; e < {TILE_K * TILE_N}; e += blockDim.x)")
    k.emit(f"const {T} col = n0 + e % {TILE_N}, kq = k0 + e / {TILE_N};")
    k.emit(f"{acc_t} v = 0;")
    k.open(f"if (col < {og} && kq < {K})")
    c_, *taps = _decode(k, "kq", [cg] + k_sp, "q")
    terms = [f"(grp * {og} + col) * {wstr[rhs_spec[0]]}", f"{c_} * {wstr[rhs_spec[1]]}"]
    terms += [f"{taps[i]} * {wstr[rhs_spec[2 + i]]}" for i in range(nsp)]
    k.emit(f"v = ({acc_t})({codegen.load_expr(in_dt, f'{wb}[' + ' + '.join(terms) + ']')});")
    k.close()
    k.emit("fx_bs[e / %d][e %% %d] = v;" % (TILE_N, TILE_N))
    k.close()
    k.emit("__syncthreads();")
    k.open(f"for (int kk = 0; kk < {TILE_K}; ++kk)")
    k.emit(f"{acc_t} a[4], b[4];")
    k.emit("for (int r = 0; r < 4; ++r) a[r] = fx_as[kk][ty + 16 * r];")
    k.emit("for (int c = 0; c < 4; ++c) b[c] = fx_bs[kk][tx + 16 * c];")
    k.emit("for (int r = 0; r < 4; ++r) for (int c = 0; c < 4; ++c) acc[r][c] += a[r] * b[c];")
    k.close()
    k.emit("__syncthreads();")
    k.close()
    # -- the epilogue: each thread's 4 x 4 outputs
    k.open("for (int r = 0; r < 4; ++r)")
    k.emit(f"const {T} m = m0 + ty + 16 * r;")
    k.open(f"if (m < {M})")
    n_, *pos = _decode(k, "m", [nb] + o_sp, "r")
    k.open("for (int c = 0; c < 4; ++c)")
    k.emit(f"const {T} col = n0 + tx + 16 * c;")
    k.open(f"if (col < {og})")
    o_ = k.define(T, f"grp * {og} + col", "o")
    idx = [None] * (nsp + 2)
    idx[out_spec[0]], idx[out_spec[1]] = n_, o_
    for i in range(nsp):
        idx[out_spec[2 + i]] = pos[i]
    idx = tuple(idx)
    value = k.define(codegen.reg_type(out_dt), codegen.convert("acc[r][c]", acc_dt, out_dt))
    k.scopes[-1][(id(out), k.key(idx))] = value
    for o in outputs:
        k.store(o, idx, k.value(o, idx))
    k.close()
    k.close()
    k.close()
    k.close()
    k.close()
    return kernels.KernelSpec(name, k.text(), k.buffers, max(1, tiles), _THREADS, False,
                              "conv")
