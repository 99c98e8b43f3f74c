"""``compile(closed_jaxpr) -> Executable``: the CPU compiler's entry, its caches and
the call path that runs native code on NumPy buffers.

Invariants: an executable is a list of steps over a flat environment of
buffers (one slot per materialized value): native segments (one native call
each) and fallback steps (the eager impl of one equation the code generator does
not handle); ``build`` makes them. Outputs and intermediates are allocated once
per call, 64-byte aligned when large. Two caches keep a program from being
planned or compiled twice. The object code of a module is cached by the
canonical text of the *optimized* program, its avals and the build options (in
memory, and on disk through ``diskcache``). The whole plan of an executable
(buffer table, constants, memory plan, donation, entry points) is cached by the
canonical text of the program *as given* (every constant's value included), so
a process that finds it (in memory or on disk) skips the passes, fusion, memory
planning and code generation, and only links the object code: this module
imports none of the code generator for that. Programs with eager fallbacks, or
whose text names a process-specific object, are planned every time, and so is
every program under ``FX_DEBUG`` (which prints the planning).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import re
import sys
import threading
from typing import Sequence

import numpy as np

from fx import core
from fx.config import config
from fx.core import ClosedJaxpr, Literal
from lowering.cpu import buffers, diskcache, runtime

# ``optimize`` and ``fusion_plan`` (from ``build``) are reachable here too, imported on use
__all__ = ["compile", "Executable", "clear_cache", "prepare", "stats"]

_cache: dict = {}    # object key text -> NativeCode
_objects: dict = {}  # object digest -> NativeCode (object code linked in this process)
_plans: dict = {}    # plan digest -> plan (loaded or stored in this process)
_cache_lock = threading.Lock()
_STATUS_OK = np.zeros(1, np.int8)
_BYTE = np.dtype(np.uint8)
_PLAN_FORMAT = "fx-plan-1"

#: planning in this process: ``planned`` full plans (passes, fusion, code generation),
#: ``plan_loaded`` executables made from a cached plan
stats = {"planned": 0, "plan_loaded": 0}


def __getattr__(name):
    # the planning entry points live in ``build`` (imported only when a program is planned)
    if name in ("optimize", "fusion_plan"):
        from lowering.cpu import build
        return getattr(build, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _empty(shape, dtype):
    """An uninitialized array, 64-byte aligned when it is 1 KiB or more."""
    if dtype.itemsize * int(np.prod(shape, dtype=np.int64)) < 1024:
        return np.empty(shape, dtype)
    return runtime.aligned_empty(shape, dtype)


def debug_level() -> int:
    """The ``FX_DEBUG`` level (0 when unset or not a number)."""
    try:
        return int(os.environ.get("FX_DEBUG", "0") or 0)
    except ValueError:
        return 0


def debug(level: int, text: str) -> None:
    """Print ``text`` to stderr when ``FX_DEBUG`` is at least ``level``."""
    if debug_level() >= level:
        print(text, file=sys.stderr)


def clear_cache() -> None:
    """Forget compiled modules and plans (code stays loaded; later compiles load or build
    it again)."""
    with _cache_lock:
        _cache.clear()
        _objects.clear()
        _plans.clear()


def to_numpy(value) -> np.ndarray:
    """The NumPy value of a constant (an ``fx.Array``'s buffer, or ``np.asarray``)."""
    inner = getattr(value, "_value", None)
    return np.asarray(inner if inner is not None else value)


def contiguous(a: np.ndarray, dtype=None) -> np.ndarray:
    """``a`` as a C-contiguous array of ``dtype``, keeping its rank (even 0)."""
    return np.require(a, dtype=dtype, requirements="C")


def _dtype(name: str) -> np.dtype:
    return np.dtype(name)  # ml_dtypes (imported by fx) registers its names


_dtype_names: dict = {}


def _dtype_name(dtype: np.dtype) -> str:
    """``dtype.name``, cached (NumPy computes it in Python each time; ``dtype.str``
    is the same for all 1-byte ml_dtypes types, so it cannot serve)."""
    name = _dtype_names.get(dtype)
    if name is None:
        name = _dtype_names[dtype] = dtype.name
    return name


# ---------------------------------------------------------------------------
# canonical program text (the cache keys)


def canonical_text(jaxpr, options, const_text, consts=None) -> str:
    """A program's cache key: ``options``, then (when given) the values of the top-level
    ``consts``, then the program with variables numbered in order of appearance, literal
    values in hex, and sub-jaxprs written out the same way (their constants through
    ``const_text(array) -> str``)."""
    names: dict[int, str] = {}
    lines = [repr(options)]
    if consts is not None:
        lines.append(" ".join(const_text(to_numpy(c)) for c in consts))

    def name(v):
        if isinstance(v, Literal):
            val = np.asarray(v.val, v.aval.dtype)
            return f"{val.tobytes().hex()}:{_dtype_name(v.aval.dtype)}"
        key = id(v)
        found = names.get(key)
        if found is None:
            aval = v.aval
            found = names[key] = f"v{len(names)}:{_dtype_name(aval.dtype)}{list(aval.shape)}"
        return found

    def param(value):
        if isinstance(value, ClosedJaxpr):
            consts = ",".join(const_text(to_numpy(c)) for c in value.consts)
            return f"{{closed[{consts}] {body(value.jaxpr)}}}"
        if isinstance(value, core.Jaxpr):
            return f"{{{body(value)}}}"
        if isinstance(value, tuple):
            return "(" + ",".join(param(x) for x in value) + ")"
        if isinstance(value, np.dtype):  # its repr costs 8 ms the first time (NumPy)
            return f"dtype:{_dtype_name(value)}"
        return repr(value)

    def body(j):
        out = [" ".join(name(v) for v in j.constvars), " ".join(name(v) for v in j.invars)]
        for e in j.eqns:
            params = sorted((k, param(v)) for k, v in e.params.items())
            ins = " ".join(name(v) for v in e.invars)
            outs = " ".join(name(v) for v in e.outvars)
            out.append(f"{outs} = {e.primitive.name}{params} {ins}")
        out.append(" ".join(name(v) for v in j.outvars))
        return "\n".join(out)

    lines.append(body(jaxpr))
    return "\n".join(lines)


#: a parameter printed with an address (a function, an object without a value repr):
#: the text differs between processes, so the program's plan is not cached
_UNSTABLE = re.compile(r" at 0x[0-9a-fA-F]+")


def _plan_key(closed: ClosedJaxpr, options):
    """``(digest, pool)`` naming the plan of ``closed`` (pool: its constants, top level
    first, in the order the text lists them), or None when it is not cacheable."""
    pool: list = []

    def const_text(c):
        pool.append(c)
        head = f"{_dtype_name(c.dtype)}{list(c.shape)}"
        if c.size <= 16:
            return f"{head}={c.tobytes().hex()}"
        flat = np.ascontiguousarray(c).reshape(-1).view(np.uint8)
        return f"{head}#{hashlib.sha256(flat).hexdigest()}"

    text = canonical_text(closed.jaxpr, options, const_text, closed.consts)
    if _UNSTABLE.search(text):
        return None
    return diskcache.plan_digest(text), pool


# ---------------------------------------------------------------------------
# native code


class NativeCode:
    """A linked module: entry-point addresses and names, its LLVM IR, its optimized module
    (or a ``runtime.DeferredModule``), and its disk-cache digest when it is stored."""

    __slots__ = ("addresses", "names", "ir_text", "module_ref", "digest", "uses_pool")

    def __init__(self, addresses, names, ir_text, module_ref, digest=None):
        self.addresses, self.names, self.ir_text = addresses, list(names), ir_text
        self.module_ref, self.digest = module_ref, digest
        self.uses_pool = "_task" in ir_text


def native_code(key: str, build) -> NativeCode:
    """The linked module for object key ``key`` (canonical text of the optimized program):
    from memory, the disk cache, or ``build() -> (ir_text, names)`` compiled."""
    with _cache_lock:
        code = _cache.get(key)
    if code is None:
        code = NativeCode(*diskcache.compile_cached(key, build))
        cache = diskcache.cache_directory()
        if cache is not None:
            digest = diskcache.program_digest(key)
            if os.path.exists(cache.file_for(digest)):
                code.digest = digest
        with _cache_lock:
            _cache[key] = code
            if code.digest is not None:
                _objects[code.digest] = code
    return code


def _stored_code(digest: str):
    """The module stored on disk under ``digest``, linked (once per process), or None."""
    with _cache_lock:
        code = _objects.get(digest)
    if code is None:
        loaded = diskcache.load_compiled(digest)
        if loaded is None:
            return None
        code = NativeCode(*loaded, digest=digest)
        with _cache_lock:
            _objects[digest] = code
    return code


def attach_code(exe, code: NativeCode) -> dict:
    """Record ``code`` as ``exe``'s (IR, module; worker pool started when it runs loops
    in parallel); callable entry points by name."""
    if code.uses_pool and runtime.num_threads() > 1:
        runtime.ensure_pool()
    exe.ir_text = code.ir_text
    exe.module_ref = code.module_ref
    if debug_level() >= 3:
        debug(3, f"fx: LLVM IR\n{code.ir_text}")
    if debug_level() >= 4:
        debug(4, f"fx: assembly\n{runtime.assembly(code.module_ref)}")
    proto = ctypes.CFUNCTYPE(None, ctypes.py_object if runtime.OBJECT_LAYOUT
                             else ctypes.c_void_p)
    return {n: proto(code.addresses[n]) for n in code.names}


def _fast_caller(sig, fn, consts, allocs, outs, pool):
    """The call path of a program that is one native call: check the arguments, allocate
    the outputs, call; None when an argument needs converting (the general path does).
    ``allocs``: ``(allocate, args)`` per buffer the call writes (``allocate`` None: item
    ``args`` of the call's scratch set from ``pool``)."""
    ndarray = np.ndarray
    n = len(sig)
    status = _STATUS_OK
    uses_scratch = any(a is None for a, _ in allocs)

    def trusted(args):
        """``call`` for arguments known to have the compiled shapes and dtypes (jit's
        cache key says so): only their type and layout are checked."""
        for a in args:
            if type(a) is not ndarray or not a.flags.c_contiguous:
                return None
        if not uses_scratch:
            env = (*args, *consts, *[alloc(*a) for alloc, a in allocs], status)
            fn(env)
        else:
            scratch = pool.take_scratch()
            try:
                env = (*args, *consts, *[scratch[a] if alloc is None else alloc(*a)
                                         for alloc, a in allocs], status)
                fn(env)
            finally:
                pool.give_scratch(scratch)
        if status[0]:
            _raise_status(status)
        return [env[i] for i in outs]

    def call(args):
        if len(args) != n:
            return None
        for a, (shape, dtype) in zip(args, sig):
            if type(a) is not ndarray or a.shape != shape or a.dtype != dtype:
                return None
        return trusted(args)
    call.trusted = trusted
    return call


def _raise_status(status) -> None:
    """Report what generated code flagged (and clear the flag)."""
    code = int(status[0])
    status[0] = 0
    if code == 2:
        raise MemoryError("fx: a compiled kernel could not allocate its scratch memory")
    raise RuntimeError("fx: a compiled kernel accessed memory out of bounds "
                       "(FX_BOUNDS_CHECK caught it); please report this bug")



def prepare() -> None:
    """Create now what every compile needs once per process (the LLVM target machine and
    JIT engine, the BLAS binding, the cache fingerprints), so that the first compile does
    not pay for it (``fx`` calls this when it is imported)."""
    runtime.target_machine()
    if diskcache._env_directory() is not None:
        diskcache.plan_digest("")  # the object and plan fingerprints


def _blas_on() -> bool:
    from lowering.cpu import blas
    return not blas._disabled() and blas.library_info() is not None


class Executable:
    """A compiled program: ``exe(list_of_arrays) -> list_of_arrays``.

    Attributes:
      out_avals: the avals of the outputs (those of the jaxpr given to ``compile``).
      fallbacks: the equations that run their eager impl.
      optimized, groups: the optimized program and its fusion groups (planned again on
        first access when the executable came from a cached plan).
    """

    def __init__(self, closed: ClosedJaxpr, *, bounds_check: bool | None = None):
        if bounds_check is None:
            bounds_check = os.environ.get("FX_BOUNDS_CHECK", "") not in ("", "0")
        self.bounds_check = bounds_check
        self.out_avals = list(closed.out_avals)
        self.in_avals = list(closed.in_avals)
        self._closed = closed
        self._object = None
        # under jax_debug_nans/infs every equation's result is checked, so the program runs
        # equation by equation (config is part of jit's cache key: a change recompiles)
        self._checked = bool(config.jax_debug_nans or config.jax_debug_infs)
        key = None
        if not self._checked and diskcache.cache_directory() is not None:
            options = (_PLAN_FORMAT, bounds_check, runtime.num_threads(),
                       runtime.OBJECT_LAYOUT is not None, _blas_on())
            key = _plan_key(closed, options)
        # FX_DEBUG asks to see the passes and fusion groups: plan (and store) afresh
        if key is None or debug_level() >= 1 or not self._load_plan(*key):
            from lowering.cpu import build
            build.plan(self, closed)
            stats["planned"] += 1
            if key is not None:
                self._store_plan(*key)
        fast = None if self._checked else self._plan_fast()
        self._fast_call = _fast_caller(self._in_sig, *fast) if fast is not None else None

    def __getattr__(self, name):
        # a cached plan carries no optimized program: plan it again when asked
        if name in ("optimized", "groups") and "_closed" in self.__dict__:
            from lowering.cpu import build
            opt = build.optimize(self._closed)
            self.optimized = opt
            self.groups = build.fusion_plan(opt)[0]
            return self.__dict__[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- the plan cache -------------------------------------------------------------
    def _store_plan(self, digest: str, pool: list) -> None:
        """Save this executable's plan (only one of native steps, whose code is on disk)."""
        code = self._object
        if self.fallbacks or any(step[0] != "native" for step in self._program):
            return
        if code is not None and (code.digest is None or
                                 len(code.names) != len(self._program)):
            return
        init = []
        for s, v in self._init:
            init.append((s, self._const_source(v, pool)))
        plan = {
            "format": _PLAN_FORMAT, "object": None if code is None else code.digest,
            "nslots": self._nslots, "in_slots": tuple(self._in_slots),
            "out_slots": tuple(self._out_slots),
            "in_sig": tuple((shape, _dtype_name(dtype)) for shape, dtype in self._in_sig),
            "init": tuple(init),
            "own": tuple((s, shape, _dtype_name(dtype)) for s, shape, dtype in self._own),
            "sizes": tuple(self._buffer_sizes), "shared": tuple(self._shared),
            "donation": tuple((o, tuple(ks)) for o, ks in sorted(self._donation.items())),
            "kernels": self.kernel_count,
        }
        with _cache_lock:
            _plans[digest] = plan
        cache = diskcache.cache_directory()
        if cache is not None:
            cache.put_plan(digest, plan)

    @staticmethod
    def _const_source(value: np.ndarray, pool: list):
        """How a plan names a constant slot's value: a constant of the program (by its
        place in ``pool``) when it is one, else the bytes."""
        if value.nbytes >= 256:
            for k, c in enumerate(pool):
                if c.shape == value.shape and c.dtype == value.dtype and \
                        (c is value or np.array_equal(c, value)):
                    return ("const", k, _dtype_name(value.dtype))
        return ("value", _dtype_name(value.dtype), tuple(value.shape), value.tobytes())

    def _load_plan(self, digest: str, pool: list) -> bool:
        """Take the cached plan ``digest`` (from memory or disk) and link its code;
        False when there is none or it cannot be used (then the program is planned)."""
        with _cache_lock:
            plan = _plans.get(digest)
        if plan is None:
            cache = diskcache.cache_directory()
            plan = cache.get_plan(digest) if cache is not None else None
            if plan is None:
                return False
        try:
            code = None
            if plan["object"] is not None:
                code = _stored_code(plan["object"])
                if code is None:
                    return False
            self._apply_plan(plan, pool, code)
        except (KeyError, IndexError, TypeError, ValueError) as err:
            debug(1, f"fx: cached plan {digest[:16]} not usable ({err}); planning again")
            return False
        with _cache_lock:
            _plans[digest] = plan
        stats["plan_loaded"] += 1
        debug(1, f"fx: cached plan {digest[:16]} ({len(self._program)} native calls)")
        return True

    def _apply_plan(self, plan: dict, pool: list, code) -> None:
        if plan["format"] != _PLAN_FORMAT:
            raise ValueError(f"format {plan['format']!r}")
        in_sig = [(tuple(shape), _dtype(d)) for shape, d in plan["in_sig"]]
        if in_sig != [(tuple(a.shape), np.dtype(a.dtype)) for a in self.in_avals]:
            raise ValueError("argument types differ")
        init = []
        for s, src in plan["init"]:
            if src[0] == "const":
                value = contiguous(pool[src[1]], _dtype(src[2]))
            else:
                _, d, shape, data = src
                value = np.frombuffer(data, _dtype(d)).reshape(shape).copy()
            init.append((s, value))
        program = []
        if code is not None:
            fns = attach_code(self, code)
            program = [("native", fns[n]) for n in code.names]
        else:
            self.ir_text, self.module_ref = "", None
        self._object = code
        self._in_sig = in_sig
        self._nslots = plan["nslots"]
        self._in_slots, self._out_slots = list(plan["in_slots"]), list(plan["out_slots"])
        self._init = init
        self._own = [(s, tuple(shape), _dtype(d)) for s, shape, d in plan["own"]]
        self._buffer_sizes = list(plan["sizes"])
        self._shared = [tuple(x) for x in plan["shared"]]
        self._donation = {o: list(ks) for o, ks in plan["donation"]}
        self._kernels = plan["kernels"]
        self.fallbacks = []
        self._program = program

    # -- calling ---------------------------------------------------------------------
    @property
    def fresh_outputs(self) -> tuple:
        """Per output: whether each call returns a new buffer of its own."""
        own = {s for s, _, _ in self._own}
        counts = {}
        for sl in self._out_slots:
            counts[sl] = counts.get(sl, 0) + 1
        return tuple(sl in own and counts[sl] == 1 for sl in self._out_slots)

    def run_donating(self, args, donated):
        """Run with the arrays at positions ``donated`` available for outputs.
        Returns ``(outputs, fresh)``: fresh says which outputs are buffers of their own
        (a donated buffer counts: its array is deleted by the caller)."""
        args = self._check_args(args)
        into = {}
        taken = set()
        for o, cands in self._donation.items():
            for k in cands:
                if k in donated and k not in taken and args[k].flags.writeable:
                    into[o] = args[k]
                    taken.add(k)
                    break
        if self._checked:
            return self._run_checked(args), self.fresh_outputs
        return self._run(args, into), self.fresh_outputs

    @property
    def _buffers(self) -> buffers.Buffers:
        """The buffers recycled across calls (large outputs, scratch sets)."""
        b = self.__dict__.get("_buffers_")
        if b is None:
            b = self.__dict__["_buffers_"] = buffers.Buffers(self._own, self._buffer_sizes)
        return b

    def _allocate(self, env, into=None):
        """Put this call's output arrays (or the donated arrays in ``into``) and shared
        buffers in ``env``; returns the scratch set to give back after the call."""
        pool = self._buffers
        for s, shape, dtype in pool.small:
            env[s] = into[s] if into and s in into else _empty(shape, dtype)
        for s, shape, dtype in pool.recycled:
            env[s] = into[s] if into and s in into else pool.output(s, shape, dtype)
        if not self._shared:
            return None
        bufs = pool.take_scratch()
        for s, i in self._shared:
            env[s] = bufs[i]
        return bufs

    def _plan_fast(self):
        """The one-native-call path: slots are arguments, then constants and literals, then
        the buffers the call allocates, in that order."""
        if len(self._program) != 1 or self._program[0][0] != "native" or self.bounds_check \
                or runtime.OBJECT_LAYOUT is None:
            return None
        fn = self._program[0][1]
        n_in = len(self._in_slots)
        fixed = sorted(self._init)
        if [s for s, _ in fixed] != list(range(n_in, n_in + len(fixed))):
            return None
        start = n_in + len(fixed)
        written = sorted([(s, (shape, dtype), None) for s, shape, dtype in self._own] +
                         [(s, ((n,), _BYTE), i) for s, i in self._shared
                          for n in [self._buffer_sizes[i]]], key=lambda t: t[0])
        if [s for s, _, _ in written] != list(range(start, self._nslots)):
            return None
        if len({i for _, _, i in written if i is not None}) != len(self._shared):
            return None  # shared buffers: the general path
        pool = self._buffers
        recycled = {s for s, _, _ in pool.recycled}
        allocators = []  # (allocate(*args), args) per written slot, in slot order
        for s, (shape, dtype), i in written:
            if i is not None:  # a scratch buffer: item i of the call's scratch set
                allocators.append((None, i))
            elif s in recycled:
                allocators.append((pool.output, (s, shape, dtype)))
            else:
                allocators.append((np.empty if dtype.itemsize * int(np.prod(shape)) < 1024
                                   else runtime.aligned_empty, (shape, dtype)))
        return (fn, tuple(v for _, v in fixed), allocators, list(self._out_slots), pool)

    def _check_args(self, args):
        if len(args) != len(self._in_sig):
            raise TypeError(f"compiled program takes {len(self._in_sig)} arguments, got "
                            f"{len(args)}")
        out = []
        for i, (a, (shape, dtype)) in enumerate(zip(args, self._in_sig)):
            if type(a) is not np.ndarray:
                a = np.asarray(a)
            if a.shape != shape or a.dtype != dtype:
                if a.shape == shape and a.dtype.kind == dtype.kind and \
                        a.dtype.newbyteorder("=") == dtype:
                    a = a.astype(dtype)
                else:
                    raise TypeError(
                        f"argument {i} has shape {a.shape} and dtype {a.dtype}, but the "
                        f"program was compiled for shape {shape} and dtype {dtype}")
            if not a.flags.c_contiguous:
                a = contiguous(a)
            out.append(a)
        return out

    def __call__(self, args: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Run the program on NumPy arrays (shapes and dtypes as compiled)."""
        fast = self._fast_call
        if fast is not None:
            out = fast(args)
            if out is not None:
                return out
        if self._checked:
            return self._run_checked(self._check_args(args))
        return self._run(self._check_args(args))

    def _run_checked(self, args):
        """Equation by equation with each result checked for NaN/inf (jax_debug_nans)."""
        jaxpr = self._closed.jaxpr
        env = {}
        read = lambda v: np.asarray(v.val, v.aval.dtype) if isinstance(v, Literal) \
            else env[id(v)]  # noqa: E731
        for v, c in zip(jaxpr.constvars, self._closed.consts):
            env[id(v)] = to_numpy(c)
        for v, a in zip(jaxpr.invars, args):
            env[id(v)] = a
        for eqn in jaxpr.eqns:
            out = eqn.primitive.impl(*[read(v) for v in eqn.invars], **eqn.params)
            if not eqn.primitive.multiple_results:
                core.check_nans(eqn.primitive, out, eqn.source_info)
                out = [out]
            for v, o in zip(eqn.outvars, out):
                env[id(v)] = np.asarray(o)
        return [read(v) for v in jaxpr.outvars]

    def _run(self, args, into=None):
        env: list = [None] * (self._nslots + 1)
        for s, v in self._init:
            env[s] = v
        env[:len(args)] = args
        status = np.zeros(1, np.int8) if self.bounds_check else _STATUS_OK
        env[-1] = status
        layout = runtime.OBJECT_LAYOUT
        scratch = self._allocate(env, into)
        try:
            self._execute(env, status, layout)
        finally:
            if scratch is not None:
                self._buffers.give_scratch(scratch)
        return [env[s] for s in self._out_slots]

    def _execute(self, env, status, layout) -> None:
        for step in self._program:
            if step[0] == "native":
                fn = step[1]
                if layout is not None:
                    fn(tuple(env))
                else:
                    ptrs = (ctypes.c_void_p * len(env))(*[
                        None if a is None else a.ctypes.data for a in env])
                    fn(ctypes.addressof(ptrs))
                if status[0]:
                    _raise_status(status)
            else:
                _, impl, in_slots, outs, params, multiple = step
                vals = [env[s] if isinstance(s, int) else np.asarray(s.val, s.aval.dtype)
                        for s in in_slots]
                result = impl(*vals, **params)
                results = result if multiple else [result]
                for spec, r in zip(outs, results):
                    if spec is None:
                        continue
                    s, shape, dtype = spec
                    r = np.asarray(r)
                    if r.dtype != dtype:
                        r = r.astype(dtype)
                    env[s] = contiguous(r)

    # -- introspection -----------------------------------------------------------------
    def as_text(self) -> str:
        """The optimized jaxpr, the fusion groups and the LLVM IR."""
        from lowering import fusion
        return (f"optimized jaxpr:\n{self.optimized}\n\nfusion groups:\n"
                f"{fusion.format_groups(self.groups)}\n\nLLVM IR:\n{self.ir_text}")

    @property
    def kernel_count(self) -> int:
        """Number of loop kernels (loop and reduce groups)."""
        if "_kernels" in self.__dict__:
            return self._kernels
        return sum(1 for g in self.groups if g.kind in ("loop", "reduce"))


def compile(closed: ClosedJaxpr, *, bounds_check: bool | None = None) -> Executable:  # noqa: A001
    """Compile a closed jaxpr to native CPU code.

    Args:
      closed: the program (e.g. ``fx.make_jaxpr(f)(*args)``).
      bounds_check: compile a bounds check into every load and store (default: the
        ``FX_BOUNDS_CHECK`` environment variable).
    Returns:
      an ``Executable``: call it with a list of NumPy arrays, get a list back.

    Example:
      >>> exe = compile(fx.make_jaxpr(lambda x: jnp.tanh(x) * 2)(np.ones(4, np.float32)))
      >>> exe([np.arange(4, dtype=np.float32)])
    """
    if not isinstance(closed, ClosedJaxpr):
        raise TypeError(f"compile expects a ClosedJaxpr (from fx.make_jaxpr), got "
                        f"{type(closed).__name__}")
    return Executable(closed, bounds_check=bounds_check)
