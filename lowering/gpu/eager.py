"""Eager primitives on placed operands, as JAX runs them: on a GPU each primitive
application is a one-equation program compiled by the GPU compiler (once per
primitive, params, operand types and device, then cached), and its results stay on
the device.

Invariants: ``fx.core.EvalTrace`` calls ``apply`` only when an operand is placed on a
device or the default device is not the host CPU; everything else never comes here.
Placement follows JAX's committed/uncommitted rules: the call runs on the device of
its committed operands (two different ones raise ``ValueError``), else on the default
device; uncommitted operands elsewhere are copied there; the results are committed
when an operand was. A host region (``on_host``: a host impl running inside a GPU
program or an eager host call) keeps nested eager calls on the host. Primitives the
GPU compiler cannot emit run their host impl with transfers inside the one-equation
program (``GpuExecutable``'s fallbacks), so every primitive works on every device.
"""
from __future__ import annotations

import contextlib
import threading

import numpy as np

from fx import core
from fx.array import Array, _deleted_error
from fx.config import config
from fx.core import ClosedJaxpr, Jaxpr, JaxprEqn, ShapedArray, Tracer, Var
from fx.devices import Device, default_device, host_device
from lowering.gpu import device as gpu_device

__all__ = ["apply", "placement", "on_host", "in_host_region", "clear_cache", "stats"]

_local = threading.local()
_programs: dict = {}
_programs_lock = threading.Lock()
stats = {"compiles": 0}  # one-equation programs compiled (tests check the cache with it)


@contextlib.contextmanager
def on_host():
    """A block whose eager calls run on the host whatever the default device (host
    impls of fallback equations call primitives on NumPy values; they stay there).

    Example:
      >>> with on_host():
      ...     y = fx.lax.exp(np.ones(3, np.float32))   # a host Array
    """
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        yield
    finally:
        _local.depth -= 1


def in_host_region() -> bool:
    """Whether this thread is inside ``on_host``."""
    return getattr(_local, "depth", 0) > 0


def clear_cache() -> None:
    """Forget the compiled one-equation programs."""
    with _programs_lock:
        _programs.clear()


# ---------------------------------------------------------------------------
# placement


def _platform_name(device) -> str:
    return "GPU" if device.platform == "gpu" else device.platform.upper()


def _incompatible(primitive, args, i, j):
    def describe(k):
        a = args[k]
        shape = ",".join(str(n) for n in a.shape)
        return (f"argument args[{k}] of {primitive.name} with shape {a.dtype.name}[{shape}] "
                f"and with device ids [{a._device.id}] on platform "
                f"{_platform_name(a._device)}")
    return ValueError(f"Received incompatible devices for jitted computation. Got "
                      f"{describe(i)} and {describe(j)}. Move them to one device with "
                      f"fx.device_put")


def placement(primitive, args) -> tuple[Device, bool]:
    """Where an eager call of ``primitive`` on ``args`` runs, and whether its results are
    committed: the device of the committed operands, else the default device.

    Raises ValueError (as JAX) when two operands are committed to different devices.
    """
    found = None
    at = -1
    for i, a in enumerate(args):
        if type(a) is not Array:
            continue
        d = a._device
        if d is None or not isinstance(d, Device):  # host (or a multi-device sharding)
            continue
        if getattr(a, "_committed", True):
            if found is None:
                found, at = d, i
            elif d != found:
                raise _incompatible(primitive, args, at, i)
    if found is not None:
        return found, True
    return default_device(), False


# ---------------------------------------------------------------------------
# eager calls


def apply(primitive, args, params):
    """Run ``primitive`` eagerly on ``args`` where JAX would (see the module docstring).

    Returns:
      an ``fx.Array`` (a list for multiple results) on the chosen device.
    """
    if getattr(_local, "depth", 0):
        return _run_host(primitive, args, params, None, False)
    device, committed = placement(primitive, args)
    if device.platform == "gpu":
        return _run_gpu(primitive, args, params, device, committed)
    return _run_host(primitive, args, params, device, committed)


def _run_host(primitive, args, params, device, committed):
    """The host impl (``fx.core.host_eval_trace``) on host copies of the operands; the
    results placed on the CPU ``device`` (None: the host, uncommitted)."""
    host_args = []
    for a in args:
        if type(a) is Array and a._device is not None:
            a = Array(a._host_value(), a.weak_type)
        host_args.append(a)
    with on_host():
        out = core.host_eval_trace.process_primitive(primitive, host_args, params)
    if device is None or (not committed and device == host_device()):
        return out
    for o in (out if primitive.multiple_results else (out,)):
        o._device = device
        if not committed:
            o._committed = False
    return out


def _out_weak(primitive, args, params) -> bool:
    """The weak type of a single eager result (as ``fx.core.EvalTrace``)."""
    weak = bool(args)
    for a in args:
        t = type(a)
        if t is Array:
            weak = weak and a.weak_type
        elif t is not int and t is not float and t is not complex:
            weak = False
    if primitive.weak_type_rule is not None:
        return primitive.weak_type_rule(args)
    if primitive.weak_type_param is not None:
        return params[primitive.weak_type_param]
    return weak


def _adopted_sig(sig, args):
    """``sig`` with each Python scalar taking the dtype of the first array operand, as the
    host impls (NumPy's scalar rules) give it: fx.numpy's eager fast paths bind
    ``mul(x, 2)`` for a float32 ``x`` without converting the 2. None if nothing changes."""
    dtype = next((b.dtype for b in args if type(b) is Array), None)
    if dtype is None:
        return None
    out, changed = list(sig), False
    for i, a in enumerate(args):
        t = type(a)
        if (t is int and dtype.kind in "iufc") or (t is float and dtype.kind in "fc") or \
                (t is complex and dtype.kind == "c"):
            out[i] = ((), dtype, True)
            changed = True
    return out if changed else None


def _run_gpu(primitive, args, params, device, committed):
    runtime = gpu_device.runtime_for(device)
    values, sig = [], []
    for a in args:
        t = type(a)
        if t is Array:
            v = a._value
            if v is None:
                raise _deleted_error()
            d = a._device
            if d is not device and d != device:  # the host, or another GPU (uncommitted)
                v = runtime.asarray(a._host_value())
            sig.append((v.shape, v.dtype, a.weak_type))
        elif isinstance(a, Tracer):
            core.raise_leaked(a, primitive)
        else:  # a Python scalar or a NumPy value: on the device in the program's dtype
            aval = core.get_aval(a)
            v = None
            sig.append((aval.shape, aval.dtype, aval.weak_type))
        values.append(v)
    try:
        key = (primitive, tuple(params.items()), tuple(sig), device)
        exe = _programs.get(key)
    except TypeError:  # params that cannot be hashed: compiled for this call only
        key, exe = None, None
    if exe is None:
        exe = _compile(primitive, params, sig, args, runtime)
        if key is not None:
            with _programs_lock:
                _programs[key] = exe
    for i, v in enumerate(values):
        if v is None:
            values[i] = runtime.asarray(np.asarray(args[i], exe.in_avals[i].dtype))
    outs = exe(values)
    if primitive.multiple_results:  # as abstract evaluation (and jit) types them
        weaks = [a.weak_type for a in exe.out_avals]
    else:
        weaks = (_out_weak(primitive, args, params),)
    wrapped = []
    for o, weak in zip(outs, weaks, strict=True):
        r = Array(o, weak, device=device)
        if not committed:
            r._committed = False
        wrapped.append(r)
    if config.jax_debug_nans or config.jax_debug_infs:
        core.check_nans(primitive, [runtime.to_host(o) for o in outs] if
                        primitive.multiple_results else runtime.to_host(outs[0]),
                        core.user_frame())
    return wrapped if primitive.multiple_results else wrapped[0]


def _compile(primitive, params, sig, args, runtime):
    """The one-equation program ``primitive(*operands, **params)`` for the runtime."""
    from lowering.gpu.compile import compile as gpu_compile
    avals = [ShapedArray(shape, dtype, weak) for shape, dtype, weak in sig]
    try:
        out = primitive.abstract_eval(*avals, **params)  # the clear type error, first
    except TypeError:
        adopted = _adopted_sig(sig, args)
        if adopted is None:
            raise
        avals = [ShapedArray(shape, dtype, weak) for shape, dtype, weak in adopted]
        out = primitive.abstract_eval(*avals, **params)
    invars = [Var(a) for a in avals]
    outvars = [Var(a) for a in (out if primitive.multiple_results else (out,))]
    jaxpr = Jaxpr([], invars, outvars, [JaxprEqn(invars, outvars, primitive, params)])
    stats["compiles"] += 1
    return gpu_compile(ClosedJaxpr(jaxpr, []), runtime=runtime)
