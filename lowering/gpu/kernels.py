"""Kernel emission: one CUDA C ``__global__`` function per fusion group, computing
each fused value at an index by index arithmetic.

Invariants: a kernel's parameters are its group's buffers (inputs, then outputs,
each once) as typed pointers; shapes are compile-time constants, so a kernel
takes nothing else. Every kernel works for any grid size and any block size
that is a multiple of 32 (up to 1024); ``KernelSpec.launch`` gives the shape
the executable uses. Loop groups are grid-stride loops (flat groups optionally
load and store ``VEC`` elements at once, which needs every buffer 16-byte
aligned: ``KernelSpec.vector``); ``rows`` groups give each row a *team* of
threads (one thread, one warp or the whole block) that accumulates per phase,
reduces with warp shuffles (and shared memory across warps), then runs the
row's epilogue; ``accumulate`` groups give each output a column of 8 threads
over the reduced elements, combined through shared memory. Values are
memoized per C scope, so each is computed once per element.
"""
from __future__ import annotations

import math

import numpy as np

from fx.core import Literal
from lowering import index_arith as indexing
from lowering.gpu import codegen
from lowering.gpu.codegen import is_float, literal, reg_type
from lowering.kernel_common import CodegenError, merge_index, reduction_identity, reduction_phases

__all__ = ["CodegenError", "KernelSpec", "emit_group", "reduction_phases", "BLOCK", "VEC"]

BLOCK = 256     # threads per block
VEC = 4         # elements per vector access in flat loops (itemsize <= 4)
_INT32_LIMIT = (1 << 31) - (1 << 20)
_ACC_COLS, _ACC_PARTS = 32, 1024 // 32  # shared memory for blocks of up to 1024


class KernelSpec:
    """A generated kernel and how to launch it.

    Attributes:
      name: the ``extern "C"`` function name.
      source: its CUDA C text (without the prelude).
      buffers: the variables whose buffers are its arguments, in order.
      work: the number of grid-stride work items (threads worth launching).
      block: threads per block.
      vector: True when the kernel needs every buffer 16-byte aligned.
      kind: ``"loop"``, ``"rows"`` or ``"accumulate"``.
    """

    __slots__ = ("name", "source", "buffers", "work", "block", "vector", "kind")

    def __init__(self, name, source, buffers, work, block, vector, kind):
        self.name, self.source, self.buffers = name, source, buffers
        self.work, self.block, self.vector, self.kind = work, block, vector, kind

    def launch(self, max_blocks: int) -> tuple[int, int]:
        """``(grid, block)``: enough blocks for the work, at most ``max_blocks``."""
        blocks = -(-self.work // self.block) if self.kind == "loop" else self.work
        return max(1, min(blocks, max_blocks)), self.block


# ---------------------------------------------------------------------------
# the emitter: C statements, memo scopes and index arithmetic


class _Kernel:
    """Builds one kernel's text; also the ``IndexArithmetic`` of ``indexing``."""

    def __init__(self, group, name, index_type):
        self.group = group
        self.name = name
        self.idx_t = index_type
        self.lines: list[str] = []
        self.depth = 1
        self.scopes: list[dict] = [{}]
        self.counter = 0
        self.buffers = []
        seen = set()
        for v in list(group.inputs) + list(group.outputs):
            if id(v) not in seen:
                seen.add(id(v))
                self.buffers.append(v)
        self.param = {id(v): f"b{k}" for k, v in enumerate(self.buffers)}
        self.outputs = {id(v) for v in group.outputs}
        self.inputs = {id(v) for v in group.inputs}
        self.producer = {id(o): e for e in group.eqns for o in e.outvars}
        self.flat_shape = None
        self.vector_lane = None   # (lane, {id(var): vector variable}) in vector loops

    # -- text ----------------------------------------------------------------------
    def emit(self, line: str) -> None:
        self.lines.append("  " * self.depth + line)

    def open(self, head: str) -> None:
        self.emit(head + " {")
        self.depth += 1
        self.scopes.append({})

    def close(self) -> None:
        self.scopes.pop()
        self.depth -= 1
        self.emit("}")

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def define(self, ctype: str, expr: str, prefix="v") -> str:
        name = self.fresh(prefix)
        self.emit(f"const {ctype} {name} = {expr};")
        return name

    def signature(self) -> str:
        params = []
        for v in self.buffers:
            ctype = codegen.mem_type(v.aval.dtype)
            if id(v) in self.outputs:
                params.append(f"{ctype}* __restrict__ {self.param[id(v)]}")
            else:
                params.append(f"const {ctype}* __restrict__ {self.param[id(v)]}")
        return (f'extern "C" __global__ void __launch_bounds__({BLOCK}) '
                f'{self.name}({", ".join(params)})')

    def text(self) -> str:
        return self.signature() + " {\n" + "\n".join(self.lines) + "\n}\n"

    # -- IndexArithmetic -------------------------------------------------------------
    def _ix(self, expr: str) -> str:
        return self.define(self.idx_t, expr, "i")

    def add(self, a, b):
        if isinstance(a, int) and isinstance(b, int):
            return a + b
        if a == 0:
            return b
        if b == 0:
            return a
        return self._ix(f"{a} + {b}" if not isinstance(b, int) or b >= 0 else f"{a} - {-b}")

    def mul(self, a, c: int):
        if isinstance(a, int):
            return a * c
        if c == 1:
            return a
        if c == 0:
            return 0
        return self._ix(f"{a} * {c}" if c > 0 else f"-({a} * {-c})")

    def divc(self, a, c: int):
        if isinstance(a, int):
            return a // c
        return a if c == 1 else self._ix(f"{a} / {c}")

    def modc(self, a, c: int):
        if isinstance(a, int):
            return a % c
        return 0 if c == 1 else self._ix(f"{a} % {c}")

    def sdivc(self, a, c: int):
        if isinstance(a, int):
            return a // c
        return self._ix(f"({a} >= 0 ? {a} / {c} : -((-{a} + {c - 1}) / {c}))")

    def smodc_zero(self, a, c: int):
        return f"({a} % {c} == 0)"

    def clamp(self, a, lo: int, hi: int):
        if isinstance(a, int):
            return min(max(a, lo), hi)
        return self._ix(f"{a} < {lo} ? ({self.idx_t}){lo} : ({a} > {hi} ? "
                        f"({self.idx_t}){hi} : {a})")

    def cmp(self, op: str, a, c: int):
        return f"({a} {op} {c})"

    def all(self, conds):
        return self.define("bool", " && ".join(conds), "c")

    def select(self, cond, if_true, if_false, dtype):
        return self.define(reg_type(dtype), f"{cond} ? {if_true} : {if_false}")

    def to_index(self, value, dtype):
        dtype = np.dtype(dtype)
        if dtype == np.bool_:
            return self._ix(f"({self.idx_t})({value} ? 1 : 0)")
        # clamp in the value's own type first so a 64-bit start fits a 32-bit index
        if self.idx_t == "int" and dtype.itemsize == 8:
            value = f"({value} < -2147483647LL ? -2147483647LL : ({value} > 2147483647LL ? " \
                    f"2147483647LL : {value}))"
        if dtype.kind == "u" and self.idx_t == "int":
            value = f"({value} > 2147483647u ? 2147483647u : {value})"
        return self._ix(f"({self.idx_t})({value})")

    def from_index(self, index, dtype):
        return codegen.convert(f"((long long)({index}))", np.dtype(np.int64), dtype)

    def literal(self, value, dtype):
        return literal(value, dtype)

    # -- memory and values --------------------------------------------------------------
    def shape_of(self, var):
        if self.flat_shape is not None and var.aval.shape == self.group.shape:
            return self.flat_shape
        return var.aval.shape

    @staticmethod
    def key(idx):
        return tuple(idx)

    def address(self, var, idx) -> str:
        lin = indexing.linearize(self, idx, self.shape_of(var))
        return f"{self.param[id(var)]}[{lin}]"

    def load(self, var, idx) -> str:
        vec = self.vector_lane
        if vec is not None and id(var) in vec[1]:
            return codegen.load_expr(var.aval.dtype, f"{vec[1][id(var)]}.v[{vec[0]}]")
        return codegen.load_expr(var.aval.dtype, self.address(var, idx))

    def store(self, var, idx, value) -> None:
        vec = self.vector_lane
        mem = codegen.store_expr(var.aval.dtype, value)
        if vec is not None and id(var) in vec[2]:
            self.emit(f"{vec[2][id(var)]}.v[{vec[0]}] = {mem};")
            return
        self.emit(f"{self.address(var, idx)} = {mem};")

    def lookup(self, key):
        for scope in reversed(self.scopes):
            hit = scope.get(key)
            if hit is not None:
                return hit
        return None

    def value(self, atom, idx) -> str:
        if isinstance(atom, Literal):
            return literal(np.asarray(atom.val, atom.aval.dtype)[()], atom.aval.dtype)
        key = (id(atom), self.key(idx))
        hit = self.lookup(key)
        if hit is not None:
            return hit
        ctype = reg_type(atom.aval.dtype)
        if id(atom) in self.inputs:
            val = self.define(ctype, self.load(atom, idx))
        else:
            eqn = self.producer.get(id(atom))
            if eqn is None:
                raise CodegenError(f"value {atom} is not available in this group")
            if eqn.primitive.name in codegen.REDUCTION_NAMES:
                raise CodegenError(f"reduction result {atom} read at another row", [eqn])
            try:
                val = self.compute(eqn, idx)
            except CodegenError as err:
                if err.eqns:
                    raise
                raise CodegenError(err.args[0], [eqn]) from err
        self.scopes[-1][key] = val
        return val

    def compute(self, eqn, idx) -> str:
        prim = eqn.primitive
        out_aval = eqn.outvars[0].aval
        rule = codegen.RULES.get(prim)
        if rule is not None:
            out_shape = self.shape_of(eqn.outvars[0])
            args = []
            for v in eqn.invars:
                shape = self.shape_of(v) if not isinstance(v, Literal) else ()
                if shape == () or math.prod(shape) == 1:
                    args.append(self.value(v, (0,) * len(shape)))
                elif shape == out_shape:
                    args.append(self.value(v, idx))
                else:
                    raise CodegenError(f"{prim.name}: operand shape {shape} vs {out_shape}")
            expr = rule(args, [v.aval for v in eqn.invars], out_aval, eqn.params)
            return self.define(reg_type(out_aval.dtype), expr)
        try:
            val = indexing.index_value(eqn, idx, self, self.value)
        except KeyError:
            raise CodegenError(f"no kernel code for primitive {prim.name}") from None
        if not val.isidentifier():  # literals and conversions get a name (memoized once)
            val = self.define(reg_type(out_aval.dtype), val)
        return val

    def preload_scalars(self) -> None:
        """Rank-0 (and single-element) inputs are read once, before the loops."""
        for v in self.group.inputs:
            if v.aval.size == 1 and id(v) not in self.outputs:
                self.value(v, (0,) * len(v.aval.shape))


# ---------------------------------------------------------------------------
# reductions: identities and combining functions


_COMBINE = {"reduce_sum": "add", "reduce_prod": "mul", "reduce_max": "max",
            "reduce_min": "min", "reduce_and": "and", "reduce_or": "or", "reduce_xor": "xor"}


def _combine_lambda(name, dtype) -> str:
    """A C lambda ``(T a, T b) -> T`` combining two partial results (16-bit floats
    accumulate in float without intermediate rounding)."""
    import primitives
    from fx.core import ShapedArray
    acc_dtype = np.dtype(np.float32) if codegen.is_half(dtype) else np.dtype(dtype)
    ctype = reg_type(acc_dtype)
    aval = ShapedArray((), acc_dtype)
    expr = codegen.RULES[primitives.registry[_COMBINE[name]]](["a", "b"], [aval, aval], aval, {})
    return f"[](const {ctype} a, const {ctype} b) -> {ctype} {{ return {expr}; }}"


def _better_lambda(name, dtype) -> str:
    """A C lambda ``(T a, T b) -> bool``: a strictly better than b for argmax/argmin."""
    ctype = reg_type(dtype)
    op = ">" if name == "argmax" else "<"
    if np.dtype(dtype) == np.bool_:
        body = "a && !b" if name == "argmax" else "b && !a"
    elif is_float(dtype):
        body = f"(b == b) && ((a {op} b) || (a != a))"
    else:
        body = f"a {op} b"
    return f"[](const {ctype} a, const {ctype} b) -> bool {{ return {body}; }}"


class _Accumulator:
    """One reduction's per-thread state in a rows or accumulate kernel."""

    def __init__(self, k: _Kernel, eqn):
        self.k = k
        self.eqn = eqn
        self.name = eqn.primitive.name
        self.dtype = np.dtype(eqn.invars[0].aval.dtype)
        self.acc_dtype = np.dtype(np.float32) if codegen.is_half(self.dtype) else self.dtype
        self.ctype = reg_type(self.acc_dtype)
        self.is_arg = self.name in ("argmax", "argmin")
        self.var = k.fresh("acc")
        self.op = k.fresh("op")
        self.ident = literal(reduction_identity(self.name, self.dtype), self.acc_dtype)

    def declare(self) -> None:
        k = self.k
        if self.is_arg:
            k.emit(f"const auto {self.op} = {_better_lambda(self.name, self.acc_dtype)};")
            k.emit(f"{self.ctype} {self.var} = {self.ident};")
            k.emit(f"long long {self.var}_i = 0x7fffffffffffffffLL;")
        else:
            k.emit(f"const auto {self.op} = {_combine_lambda(self.name, self.dtype)};")
            k.emit(f"{self.ctype} {self.var} = {self.ident};")

    def update(self, val: str, position) -> None:
        if self.is_arg:
            self.k.emit(f"fx_arg_combine({self.var}, {self.var}_i, ({self.ctype})({val}), "
                        f"(long long)({position}), {self.op});")
        else:
            self.k.emit(f"{self.var} = {self.op}({self.var}, ({self.ctype})({val}));")

    def team_reduce(self, team: int) -> None:
        k = self.k
        if team == 1:
            return
        if team == 32:
            if self.is_arg:
                k.emit(f"fx_warp_arg({self.var}, {self.var}_i, {self.op});")
            else:
                k.emit(f"{self.var} = fx_warp_reduce({self.var}, {self.op});")
            return
        smem = self.var + "_s"
        k.emit(f"__shared__ {self.ctype} {smem}[32];")
        if self.is_arg:
            k.emit(f"__shared__ long long {smem}i[32];")
            k.emit(f"fx_block_arg({self.var}, {self.var}_i, {self.op}, ({self.ctype})"
                   f"{self.ident}, {smem}, {smem}i);")
        else:
            k.emit(f"{self.var} = fx_block_reduce({self.var}, {self.op}, ({self.ctype})"
                   f"{self.ident}, {smem});")

    def result(self) -> str:
        out = self.eqn.outvars[0].aval.dtype
        if self.is_arg:
            return self.k.define(reg_type(out), codegen.convert(
                f"{self.var}_i", np.dtype(np.int64), out))
        return self.k.define(reg_type(out), codegen.round_to(self.dtype, self.var))


# ---------------------------------------------------------------------------
# the three kinds of kernels


def _flat_ok(group) -> bool:
    for e in group.eqns:
        if e.primitive not in codegen.RULES:
            return False
        for v in list(e.invars) + list(e.outvars):
            if v.aval.shape != group.shape and math.prod(v.aval.shape) != 1:
                return False
    return True


def _emit_loop(k: _Kernel, vector: bool) -> int:
    g = k.group
    shape = tuple(g.shape)
    total = math.prod(shape)
    k.preload_scalars()
    flat = _flat_ok(g)
    if flat:
        k.flat_shape = (total,)
    t = k.idx_t
    step = f"({t})gridDim.x * blockDim.x"
    start = f"({t})blockIdx.x * blockDim.x + threadIdx.x"

    def store_all(idx):
        for out in g.outputs:
            k.store(out, idx, k.value(out, idx))

    if vector:
        full_in = [v for v in g.inputs if v.aval.shape == g.shape and v.aval.size > 1]
        nvec = total // VEC
        k.open(f"for ({t} vi = {start}; vi < {nvec}; vi += {step})")
        loaded, stores = {}, {}
        for v in full_in:
            vt = f"fx_vec<{codegen.mem_type(v.aval.dtype)}, {VEC}>"
            loaded[id(v)] = k.define(vt, f"reinterpret_cast<const {vt}*>({k.param[id(v)]})[vi]",
                                     "L")
        for v in g.outputs:
            vt = f"fx_vec<{codegen.mem_type(v.aval.dtype)}, {VEC}>"
            name = k.fresh("S")
            k.emit(f"{vt} {name};")
            stores[id(v)] = name
        for lane in range(VEC):
            k.open("")
            k.vector_lane = (lane, loaded, stores)
            idx = (k.define(t, f"vi * {VEC} + {lane}", "i"),)
            store_all(idx)
            k.vector_lane = None
            k.close()
        for v in g.outputs:
            vt = f"fx_vec<{codegen.mem_type(v.aval.dtype)}, {VEC}>"
            k.emit(f"reinterpret_cast<{vt}*>({k.param[id(v)]})[vi] = {stores[id(v)]};")
        k.close()
        if total % VEC:
            k.open(f"for ({t} lin = {nvec * VEC} + {start}; lin < {total}; lin += {step})")
            store_all(("lin",))
            k.close()
        return max(1, nvec)
    if len(shape) == 0:
        k.open("if (blockIdx.x == 0 && threadIdx.x == 0)")
        store_all(())
        k.close()
        return 1
    k.open(f"for ({t} lin = {start}; lin < {total}; lin += {step})")
    idx = ("lin",) if flat else indexing.delinearize(k, "lin", shape)
    store_all(idx)
    k.close()
    return total


def _team_size(inner_size: int) -> int:
    if inner_size <= 16:
        return 1
    if inner_size <= 1024:
        return 32
    return BLOCK


def _emit_rows(k: _Kernel) -> tuple[int, int]:
    """Returns (blocks worth launching, team size)."""
    g = k.group
    shape, axes = tuple(g.shape), tuple(g.axes)
    outer_shape = tuple(s for d, s in enumerate(shape) if d not in axes)
    inner_shape = tuple(shape[d] for d in axes)
    rows, inner = math.prod(outer_shape), math.prod(inner_shape)
    team = _team_size(inner)
    t = k.idx_t
    k.preload_scalars()
    phases = reduction_phases(g)
    if team == BLOCK:  # the whole block, whatever its size, works on one row
        k.emit("const int lane = threadIdx.x;")
        k.emit(f"const {t} teams = ({t})gridDim.x;")
        k.open(f"for ({t} row = ({t})blockIdx.x; row < {rows}; row += teams)")
    else:
        k.emit(f"const int lane = {'0' if team == 1 else f'threadIdx.x % {team}'};")
        k.emit(f"const {t} teams = ({t})gridDim.x * (blockDim.x / {team});")
        k.open(f"for ({t} row = ({t})blockIdx.x * (blockDim.x / {team}) + threadIdx.x / "
               f"{team}; row < {rows}; row += teams)")
    stride = "blockDim.x" if team == BLOCK else str(team)
    o = indexing.delinearize(k, "row", outer_shape)
    o_nonunit = [d for d, s in enumerate(outer_shape) if s != 1]
    full = [r for r in g.outputs if tuple(r.aval.shape) == shape and shape != outer_shape]
    for phase in phases:
        accs = [_Accumulator(k, e) for e in phase]
        for acc in accs:
            acc.declare()
        if inner:
            k.open(f"for ({t} j = lane; j < {inner}; j += {stride})")
            x_idx = merge_index(shape, axes, o, indexing.delinearize(k, "j", inner_shape))
            for acc in accs:
                acc.update(k.value(acc.eqn.invars[0], x_idx), "j")
            k.close()
        for acc in accs:
            acc.team_reduce(team)
            k.scopes[-1][(id(acc.eqn.outvars[0]), k.key(o))] = acc.result()
    row_outputs = [r for r in g.outputs if not any(r is f for f in full)]
    if row_outputs:
        k.open("if (lane == 0)")
        for r in row_outputs:
            moving = iter([o[d] for d in o_nonunit])
            r_idx = tuple(0 if s == 1 else next(moving) for s in r.aval.shape)
            k.store(r, r_idx, k.value(r, r_idx))
        k.close()
    if full and inner:
        k.open(f"for ({t} j = lane; j < {inner}; j += {stride})")
        x_idx = merge_index(shape, axes, o, indexing.delinearize(k, "j", inner_shape))
        for r in full:
            k.store(r, x_idx, k.value(r, x_idx))
        k.close()
    k.close()
    per_block = BLOCK // team
    return max(1, -(-rows // per_block)), team


def _emit_accumulate(k: _Kernel) -> int:
    """Column reductions: 32 outputs per tile, 8 threads per output over the reduced
    elements, combined through shared memory."""
    g = k.group
    (e,) = g.reductions
    (out,) = g.outputs
    shape, axes = tuple(g.shape), tuple(g.axes)
    kept_shape = tuple(s for d, s in enumerate(shape) if d not in axes)
    red_shape = tuple(shape[d] for d in axes)
    kept, red = math.prod(kept_shape), math.prod(red_shape)
    tiles = -(-kept // _ACC_COLS)
    t = k.idx_t
    k.preload_scalars()
    acc = _Accumulator(k, e)
    smem = k.fresh("sh")
    k.emit(f"__shared__ {acc.ctype} {smem}[{_ACC_PARTS}][{_ACC_COLS + 1}];")
    k.emit(f"const int col = threadIdx.x % {_ACC_COLS};")
    k.emit(f"const int part = threadIdx.x / {_ACC_COLS};")
    k.open(f"for ({t} tile = blockIdx.x; tile < {tiles}; tile += gridDim.x)")
    k.emit(f"const {t} o_lin = tile * {_ACC_COLS} + col;")
    acc.declare()
    k.open(f"if (o_lin < {kept})")
    o = indexing.delinearize(k, "o_lin", kept_shape)
    if red:
        k.open(f"for ({t} r = part; r < {red}; r += blockDim.x / {_ACC_COLS})")
        x_idx = merge_index(shape, axes, o, indexing.delinearize(k, "r", red_shape))
        acc.update(k.value(e.invars[0], x_idx), "r")
        k.close()
    k.close()
    k.emit(f"{smem}[part][col] = {acc.var};")
    k.emit("__syncthreads();")
    k.open(f"if (part == 0 && o_lin < {kept})")
    k.open(f"for (int p = 1; p < blockDim.x / {_ACC_COLS}; ++p)")
    acc.update(f"{smem}[p][col]", 0)
    k.close()
    result = acc.result()
    k.emit(f"{k.param[id(out)]}[o_lin] = {codegen.store_expr(out.aval.dtype, result)};")
    k.close()
    k.emit("__syncthreads();")
    k.close()
    return max(1, tiles)


def _index_type(group) -> str:
    sizes = [math.prod(v.aval.shape) for v in list(group.inputs) + list(group.outputs)]
    sizes.append(math.prod(group.shape))
    return "int" if max(sizes) * 2 < _INT32_LIMIT else "long long"


def vector_ok(group) -> bool:
    """Whether a loop group can use vector loads (flat, every dtype at most 4 bytes)."""
    if group.kind != "loop" or not _flat_ok(group) or math.prod(group.shape) < VEC:
        return False
    return all(np.dtype(v.aval.dtype).itemsize <= 4
               for v in list(group.inputs) + list(group.outputs))


def emit_group(group, name: str, vector: bool = False) -> KernelSpec:
    """CUDA C for a ``loop`` or ``reduce`` fusion group.

    Args:
      group: a group from ``lowering.fusion.fuse``.
      name: the kernel's function name.
      vector: emit the vector-load variant of a flat loop group (see ``vector_ok``).
    Returns:
      a KernelSpec; raises CodegenError naming the equations it cannot generate.

    Example:
      >>> spec = emit_group(groups[0], "k0"); print(spec.source)
    """
    k = _Kernel(group, name, _index_type(group))
    if group.kind == "loop":
        work = _emit_loop(k, vector and vector_ok(group))
        spec = KernelSpec(name, k.text(), k.buffers, work, BLOCK,
                          vector and vector_ok(group), "loop")
    elif group.strategy == "rows":
        blocks, _team = _emit_rows(k)
        spec = KernelSpec(name, k.text(), k.buffers, blocks, BLOCK, False, "rows")
    else:
        tiles = _emit_accumulate(k)
        spec = KernelSpec(name, k.text(), k.buffers, tiles, BLOCK, False, "accumulate")
    return spec
