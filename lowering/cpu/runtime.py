"""The native runtime: LLVM target and JIT engine, the worker pool that splits
large loops across cores, and fast access to NumPy buffers.

Invariants: the target machine and the JIT engine are created once per process;
every module compiled here is optimized at O3 for the host CPU and stays loaded
(its functions are called through raw addresses). Modules are emitted as
relocatable object code and then linked into the process, so the same bytes can
come from the disk cache (``diskcache``): generated code holds no
process-specific address; what differs between processes (the pool's state
block, its entry ``fx_parallel_for``, BLAS's ``fx_cblas_?gemm``) is an external
symbol bound when the object is loaded. The worker pool is native
code: workers wait on a futex, claim chunks of a job with an atomic counter
tagged by the job's generation, and never touch Python; ``fx_parallel_for``
runs a job on the calling thread plus the workers and returns when every chunk
is done (a second caller that finds the pool busy runs its job alone). Native
entry points receive one Python tuple of NumPy arrays and read the data
pointers straight from the objects (layout verified at import), so a call
costs one ctypes transition, which releases the GIL.
"""
from __future__ import annotations

import ctypes
import os
import re
import threading

import numpy as np

import llvmlite.binding as llvm

__all__ = ["target_machine", "compile_ir", "compile_object", "load_object",
           "external_symbols", "ensure_symbol", "register_symbol_provider", "DeferredModule",
           "stats", "assembly", "host_info", "num_threads",
           "parallel_for_address", "ensure_pool", "aligned_empty", "data_address",
           "OBJECT_LAYOUT", "symbol_address", "register_symbol", "PARALLEL_FOR"]

_lock = threading.RLock()
_tm = None
_engine = None
_modules: list = []
#: native compilations (``compile_object``) and object loads in this process
stats = {"compiled": 0, "loaded": 0}


def _init_llvm():
    try:  # llvmlite < 0.45 needs this; later versions raise (initialization is automatic)
        llvm.initialize()
    except RuntimeError:
        pass
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()


def target_machine():
    """The process-wide LLVM target machine for the host CPU (created on first use)."""
    global _tm, _engine
    with _lock:
        if _tm is None:
            _init_llvm()
            triple = llvm.get_process_triple()
            target = llvm.Target.from_triple(triple)
            cpu = llvm.get_host_cpu_name()
            features = llvm.get_host_cpu_features().flatten()
            _tm = target.create_target_machine(cpu=cpu, features=features, opt=3,
                                               codemodel="jitdefault")
            empty = llvm.parse_assembly("")
            _engine = llvm.create_mcjit_compiler(empty, _tm)
            # the engine needs a module to be created, but generating code for it (at the
            # first finalize) costs 5 ms: it only ever links object files, so let it go
            # (finalize_object is then only called after adding one: with nothing in the
            # engine, LLVM crashes)
            _engine.remove_module(empty)
            _modules.append(empty)
        return _tm


def host_info() -> dict:
    """Triple, CPU name and features the code is generated for (cache keys use these)."""
    target_machine()
    return {"triple": llvm.get_process_triple(), "cpu": llvm.get_host_cpu_name(),
            "features": llvm.get_host_cpu_features().flatten(),
            "llvm": ".".join(map(str, llvm.llvm_version_info))}


def _optimize(module, level: int = 3):
    tm = target_machine()
    pto = llvm.create_pipeline_tuning_options(speed_level=level)
    pto.loop_vectorization = level >= 2
    pto.slp_vectorization = level >= 2
    # vectorized loops interleave anyway: separate unrolling cost 30% of compile time
    # for no measured gain
    pto.loop_unrolling = False
    pb = llvm.create_pass_builder(tm, pto)
    pm = pb.getModulePassManager()
    pm.run(module, pb)


def compile_object(ir_text: str, level: int = 3) -> tuple[bytes, object]:
    """Parse, verify and optimize one module and emit its object code (nothing is loaded).

    Args:
      ir_text: LLVM assembly (typed by llvmlite's IR builder or written by hand).
      level: optimization level (3 for kernels).
    Returns:
      ``(object_bytes, module_ref)``: relocatable object code for the host CPU (external
      functions stay symbolic, see ``load_object``) and the optimized module.
    """
    tm = target_machine()
    module = llvm.parse_assembly(ir_text)
    module.verify()
    _optimize(module, level)
    with _lock:
        obj = tm.emit_object(module)
        stats["compiled"] += 1
    return obj, module


def load_object(obj: bytes, names, symbols=None) -> dict:
    """Link object code into the process; the addresses of ``names``.

    Args:
      obj: object code from ``compile_object`` (in this process or an earlier one).
      names: functions whose addresses are wanted (a later module defining the same
        name does not change the addresses returned here).
      symbols: the external functions the code calls (``external_symbols``); they are
        made available first (the worker pool, BLAS). None skips that step.
    Returns:
      ``{name: address}``; the code stays loaded for the process.
    Raises:
      LookupError: an external symbol cannot be resolved (nothing was loaded).
    """
    target_machine()
    if symbols is not None:
        missing = [s for s in symbols if not ensure_symbol(s)]
        if missing:
            raise LookupError(f"unresolved external symbols {missing}")
    with _lock:
        _engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
        _engine.finalize_object()
        addresses = {n: _engine.get_function_address(n) for n in names}
        stats["loaded"] += 1
    return addresses


def compile_ir(ir_text: str, names, level: int = 3) -> tuple[dict, object]:
    """Parse, verify, optimize and load one module; the addresses of ``names``.

    Args:
      ir_text: LLVM assembly (typed by llvmlite's IR builder or written by hand).
      names: functions whose addresses are wanted.
      level: optimization level (3 for kernels).
    Returns:
      ``({name: address}, module_ref)``; the module stays loaded for the process.
    """
    obj, module = compile_object(ir_text, level)
    addresses = load_object(obj, names, external_symbols(ir_text))
    with _lock:
        _modules.append(module)
    return addresses, module


_EXTERNAL = re.compile(r'^(?:declare [^@\n]*@"?([A-Za-z_$][\w.$]*)"?\('
                       r'|@"?([A-Za-z_$][\w.$]*)"? = external )', re.M)


def external_symbols(ir_text: str) -> list:
    """The functions and globals a module declares but does not define (LLVM intrinsics
    excepted): the symbols its object code needs resolved when it is loaded."""
    found = {f or g for f, g in _EXTERNAL.findall(ir_text)}
    return sorted(n for n in found if not n.startswith("llvm."))


#: providers that make a symbol resolvable: name -> callable (run once, on first need)
_providers: dict = {}


def register_symbol_provider(name: str, provide) -> None:
    """Run ``provide()`` (which should call ``register_symbol(name, ...)``) the first time
    object code that calls ``name`` is loaded (e.g. from the disk cache)."""
    _providers[name] = provide


def ensure_symbol(name: str) -> bool:
    """Whether ``name`` resolves in this process, running its provider when needed."""
    if name in _resolved:
        return True
    if llvm.address_of_symbol(name) is None:
        provide = _providers.get(name)
        if provide is None and (name.startswith("fx_cblas_") or name.startswith("fx_blas_")):
            from lowering.cpu import blas  # registers the GEMM symbols when it finds BLAS
            provide = blas.library_info
        if provide is not None:
            provide()
        if llvm.address_of_symbol(name) is None:
            return False
    _resolved.add(name)
    return True


_resolved: set = set()


class DeferredModule:
    """Stands for the optimized module of object code loaded from the disk cache: holds
    the IR text, and parses and optimizes it only when asked (``assembly``)."""

    __slots__ = ("text", "level", "_module")

    def __init__(self, text: str, level: int = 3):
        self.text, self.level, self._module = text, level, None

    def module(self):
        if self._module is None:
            module = llvm.parse_assembly(self.text)
            module.verify()
            _optimize(module, self.level)
            self._module = module
        return self._module


def assembly(module_ref) -> str:
    """The host assembly of an optimized module (for ``FX_DEBUG=4``)."""
    if isinstance(module_ref, DeferredModule):
        module_ref = module_ref.module()
    return target_machine().emit_assembly(module_ref)


def symbol_address(lib, name: str) -> int:
    return ctypes.cast(getattr(lib, name), ctypes.c_void_p).value


# ---------------------------------------------------------------------------
# reading data pointers of NumPy arrays from native code


def _verify_layout():
    """Offsets of a tuple's items and of an ndarray's data pointer, when this Python and
    NumPy use the usual layouts (checked on live objects), else None."""
    try:
        probe = np.arange(3.0)
        tup = (probe, probe)
        item = ctypes.c_void_p.from_address(id(tup) + 24).value
        data = ctypes.c_void_p.from_address(id(probe) + 16).value
        if item == id(probe) and data == probe.ctypes.data:
            return {"tuple_items": 24, "array_data": 16}
    except Exception:  # pragma: no cover - exotic interpreters
        pass
    return None


OBJECT_LAYOUT = _verify_layout()


def data_address(arr: np.ndarray) -> int:
    """The address of ``arr``'s first element (fast path when the layout is known)."""
    if OBJECT_LAYOUT is not None:
        return ctypes.c_void_p.from_address(id(arr) + 16).value or 0
    return arr.ctypes.data


def aligned_empty(shape, dtype: np.dtype) -> np.ndarray:
    """An uninitialized C-contiguous array whose data is 64-byte aligned."""
    dtype = np.dtype(dtype)
    nbytes = dtype.itemsize
    for s in shape:
        nbytes *= s
    if nbytes < 1024:
        return np.empty(shape, dtype)
    buf = np.empty(nbytes + 64, np.uint8)
    offset = (-data_address(buf)) & 63
    return buf[offset:offset + nbytes].view(dtype).reshape(shape)


# ---------------------------------------------------------------------------
# the worker pool

_STATE_WORDS = 64  # i64 words; fields sit on separate cache lines
_GEN, _FN, _CTX, _N, _NEXT, _DONE, _BUSY, _SLEEP, _NWORKERS = 0, 8, 9, 10, 16, 24, 32, 40, 48
# pause iterations a worker spins before sleeping (and the caller before it yields its
# core while waiting for a chunk): short, because on SMT siblings a spinning thread slows
# the one doing the work, and on a busy machine the chunk's thread may need that core
_SPIN = int(os.environ.get("FX_POOL_SPIN", "200"))
_state = np.zeros(_STATE_WORDS + 8, np.int64)
_state_base = (_state.ctypes.data + 63) & ~63
_pool = {"addresses": None, "started": 0, "threads": []}


def num_threads() -> int:
    """Threads a large loop is split across (``FX_NUM_THREADS``, default the usable cores)."""
    env = os.environ.get("FX_NUM_THREADS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def _pool_ir(pause: bool, futex: bool) -> str:
    """The pool's IR: position independent (the state block and ``syscall`` are external
    symbols), so its object code can be cached on disk like any other module."""

    def at(word):
        return f"getelementptr inbounds (i8, ptr @{_POOL_STATE}, i64 {8 * word})"

    gen, fn, ctx, n = at(_GEN), at(_FN), at(_CTX), at(_N)
    nxt, done, busy, sleep, nworkers = at(_NEXT), at(_DONE), at(_BUSY), at(_SLEEP), \
        at(_NWORKERS)
    sysc = "@syscall"
    pause_call = "call void @llvm.x86.sse2.pause()" if pause else ""
    pause_decl = "declare void @llvm.x86.sse2.pause()" if pause else ""

    def claim(prefix, on_exit):
        return f"""
{prefix}claim:
  %{prefix}cur = load atomic i64, ptr {nxt} acquire, align 8
  %{prefix}curtag = and i64 %{prefix}cur, -4294967296
  %{prefix}ok1 = icmp eq i64 %{prefix}curtag, %{prefix}tag
  br i1 %{prefix}ok1, label %{prefix}claim2, label %{on_exit}
{prefix}claim2:
  %{prefix}idx = and i64 %{prefix}cur, 4294967295
  %{prefix}ok2 = icmp ult i64 %{prefix}idx, %{prefix}n
  br i1 %{prefix}ok2, label %{prefix}claim3, label %{on_exit}
{prefix}claim3:
  %{prefix}nx = add i64 %{prefix}cur, 1
  %{prefix}res = cmpxchg ptr {nxt}, i64 %{prefix}cur, i64 %{prefix}nx acq_rel acquire
  %{prefix}won = extractvalue {{ i64, i1 }} %{prefix}res, 1
  br i1 %{prefix}won, label %{prefix}run, label %{prefix}claim
{prefix}run:
  call void %{prefix}fn(ptr %{prefix}ctx, i64 %{prefix}idx)
  %{prefix}d = atomicrmw add ptr {done}, i64 1 release
  br label %{prefix}claim
"""

    text = f"""
@{_POOL_STATE} = external global [{_STATE_WORDS} x i64], align 64
declare i64 @syscall(i64, ...)
{pause_decl}

define void @fx_worker(ptr %arg) {{
entry:
  %myp = alloca i32
  %spinp = alloca i32
  %g0 = load atomic i32, ptr {gen} acquire, align 4
  store i32 %g0, ptr %myp
  br label %top
top:
  store i32 0, ptr %spinp
  br label %wait
wait:
  %my = load i32, ptr %myp
  %g = load atomic i32, ptr {gen} acquire, align 4
  %changed = icmp ne i32 %g, %my
  br i1 %changed, label %work, label %nochange
nochange:
  %s = load i32, ptr %spinp
  %more = icmp ult i32 %s, {_SPIN}
  br i1 %more, label %spin, label %sleep
spin:
  {pause_call}
  %s1 = add i32 %s, 1
  store i32 %s1, ptr %spinp
  br label %wait
sleep:
  %sa = atomicrmw add ptr {sleep}, i64 1 seq_cst
  %g2 = load atomic i32, ptr {gen} seq_cst, align 4
  %same = icmp eq i32 %g2, %my
  br i1 %same, label %dosleep, label %woke
dosleep:
  %my64 = zext i32 %my to i64
  %r = call i64 (i64, ...) {sysc}(i64 202, ptr {gen}, i64 128, i64 %my64, ptr null)
  br label %woke
woke:
  %sb = atomicrmw sub ptr {sleep}, i64 1 seq_cst
  br label %top
work:
  store i32 %g, ptr %myp
  %wfn = load ptr, ptr {fn}
  %wctx = load ptr, ptr {ctx}
  %wn = load i64, ptr {n}
  %wg64 = zext i32 %g to i64
  %wtag = shl i64 %wg64, 32
  br label %wclaim
{claim("w", "top")}
}}

define void @fx_pool_run(ptr %pfn, ptr %pctx, i64 %pn) {{
entry:
  %pspin = alloca i32
  store i32 0, ptr %pspin
  %nw = load atomic i64, ptr {nworkers} acquire, align 8
  %has = icmp sgt i64 %nw, 0
  %big = icmp sgt i64 %pn, 1
  %try = and i1 %has, %big
  br i1 %try, label %lock, label %serial
lock:
  %lres = cmpxchg ptr {busy}, i64 0, i64 1 acquire monotonic
  %got = extractvalue {{ i64, i1 }} %lres, 1
  br i1 %got, label %parallel, label %serial
serial:
  br label %sloop
sloop:
  %i = phi i64 [0, %serial], [%i1, %sbody]
  %c = icmp slt i64 %i, %pn
  br i1 %c, label %sbody, label %sdone
sbody:
  call void %pfn(ptr %pctx, i64 %i)
  %i1 = add i64 %i, 1
  br label %sloop
sdone:
  ret void
parallel:
  store ptr %pfn, ptr {fn}
  store ptr %pctx, ptr {ctx}
  store i64 %pn, ptr {n}
  store atomic i64 0, ptr {done} seq_cst, align 8
  %og = load i32, ptr {gen}
  %ng = add i32 %og, 1
  %ng64 = zext i32 %ng to i64
  %ptag = shl i64 %ng64, 32
  store atomic i64 %ptag, ptr {nxt} seq_cst, align 8
  store atomic i32 %ng, ptr {gen} seq_cst, align 4
  %sl = load atomic i64, ptr {sleep} seq_cst, align 8
  %anys = icmp sgt i64 %sl, 0
  br i1 %anys, label %wake, label %pclaim
wake:
  %wr = call i64 (i64, ...) {sysc}(i64 202, ptr {gen}, i64 129, i64 2147483647)
  br label %pclaim
{claim("p", "pwait")}
pwait:
  %dn = load atomic i64, ptr {done} acquire, align 8
  %fin = icmp sge i64 %dn, %pn
  br i1 %fin, label %pexit, label %ppause
ppause:
  %pc = load i32, ptr %pspin
  %pmore = icmp ult i32 %pc, {_SPIN}
  br i1 %pmore, label %ppspin, label %pyield
ppspin:
  {pause_call}
  %pc1 = add i32 %pc, 1
  store i32 %pc1, ptr %pspin
  br label %pwait
pyield:
  %yr = call i64 (i64, ...) {sysc}(i64 24)
  br label %pwait
pexit:
  store atomic i64 0, ptr {busy} release, align 8
  ret void
}}
"""
    # futex (202) and sched_yield (24) are x86-64's numbers: elsewhere spin without
    # sleeping or yielding (syscall -1 fails at once)
    return text if futex else text.replace("i64 202,", "i64 -1,").replace("(i64 24)",
                                                                         "(i64 -1)")


_POOL_STATE = "fx_pool_state"


def _pool_addresses():
    with _lock:
        if _pool["addresses"] is None:
            machine = os.uname().machine.lower()
            pause = machine in ("x86_64", "amd64", "i686", "i386")
            text = _pool_ir(pause, futex=machine in ("x86_64", "amd64"))
            register_symbol(_POOL_STATE, _state_base)
            from lowering.cpu import diskcache
            addrs, _, _, _ = diskcache.compile_cached(
                text, lambda: (text, ["fx_worker", "fx_pool_run"]), level=2)
            _pool["addresses"] = addrs
            register_symbol(PARALLEL_FOR, addrs["fx_pool_run"])
        return _pool["addresses"]


#: the symbol kernels call to run ``void task(ptr ctx, i64 chunk)`` over chunks in parallel
PARALLEL_FOR = "fx_parallel_for"


register_symbol_provider(PARALLEL_FOR, lambda: _pool_addresses())
register_symbol_provider(_POOL_STATE, lambda: register_symbol(_POOL_STATE, _state_base))


def parallel_for_address() -> int:
    """Address of ``void fx_parallel_for(void (*fn)(void*, i64), void *ctx, i64 n)``."""
    return _pool_addresses()["fx_pool_run"]


def register_symbol(name: str, address: int) -> None:
    """Make ``name`` resolve to ``address`` in modules compiled later."""
    llvm.add_symbol(name, address)


def ensure_pool() -> int:
    """Start the worker threads once per process; the number of workers."""
    wanted = num_threads() - 1
    with _lock:
        if _pool["started"] >= wanted:
            return _pool["started"]
        worker_addr = _pool_addresses()["fx_worker"]
        worker = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(worker_addr)
        for _ in range(wanted - _pool["started"]):
            t = threading.Thread(target=worker, args=(None,), name="fx-cpu-worker",
                                 daemon=True)
            t.start()
            _pool["threads"].append((t, worker))
        _pool["started"] = wanted
        ctypes.c_int64.from_address(_state_base + 8 * _NWORKERS).value = wanted
        return wanted


def _after_fork_in_child():
    # the workers did not survive the fork: run jobs serially until restarted
    ctypes.c_int64.from_address(_state_base + 8 * _NWORKERS).value = 0
    ctypes.c_int64.from_address(_state_base + 8 * _BUSY).value = 0
    _pool["started"] = 0
    _pool["threads"] = []


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
