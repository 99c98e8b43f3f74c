"""``pmap``: one program, compiled once, run by one replica per device.

Invariants: ``pmap`` traces its function once per signature to a per-replica
jaxpr with its axis name bound (``extend_axis_env``), then either runs it
eagerly (one thread per local device, each with a ``ReplicaContext`` through
which the collectives' impls meet their peers) or, inside another
transformation, binds the ``xla_pmap`` call primitive, whose jvp, partial
eval, transpose and batching rules rewrite the per-replica jaxpr. Mapped
inputs are split along their ``in_axes``; outputs are stacked along their
``out_axes`` (an ``out_axes=None`` output is replica 0's: it must be the same on
every replica).
"""
from __future__ import annotations

import concurrent.futures
import importlib
import contextvars
import functools
import threading
from typing import Any, Callable, Sequence

import numpy as np

from fx import core, dtypes, tree_util
from fx.array import Array
from fx.config import config
from fx.core import ClosedJaxpr, ShapedArray, Tracer, UndefinedPrimal, Zero, get_aval
from fx.interpreters import ad, batching
from fx.interpreters import partial_eval as pe
from fx.interpreters.communicator import (Frame, Rendezvous, ReplicaContext,
                                          collective_timeout)
from fx.interpreters.jit import compile_jaxpr
from primitives import _rules as R
from primitives import collectives as C
from primitives._rules import new_primitive

# ---------------------------------------------------------------------------
# running replicas

_pool_lock = threading.Lock()
_pool: list = []


def _executor() -> concurrent.futures.ThreadPoolExecutor:
    """A pool that grows as needed (nested pmaps block their parents' threads)."""
    if not _pool:
        with _pool_lock:
            if not _pool:
                _pool.append(concurrent.futures.ThreadPoolExecutor(
                    max_workers=4096, thread_name_prefix="fx-replica"))
    return _pool[0]


def _shard(x, axis, r):
    if axis is None:
        return x
    x = np.asarray(x)
    return x[(slice(None),) * axis + (r,)]


def _launch(exes, shards, *, axis_name, axis_size: int, global_axis_size: int) -> list:
    """Run ``exes[r](shards[r])`` for every local replica ``r`` concurrently (one thread
    each), with the replica contexts and rendezvous its collectives meet at; returns each
    replica's outputs."""
    parent = C.replica_context.get()
    process, offset = None, 0
    if parent is None and global_axis_size != axis_size:
        from fx import distributed
        process = distributed.process_comm()
        offset = process.rank * axis_size
    if parent is not None:
        parent.clock += 1
        frames, indices, path = parent.frames, parent.indices, parent.path + (parent.clock,)
    else:
        frames, indices, path = (), (), (0,)
    group = Rendezvous(process, offset, axis_name)
    frame = Frame(axis_name, global_axis_size, axis_size, group)
    results: list = [None] * axis_size

    def replica(r):
        C.replica_context.set(ReplicaContext(frames + (frame,), indices + (offset + r,), path))
        try:
            results[r] = exes[r](shards[r])
        except BaseException as e:
            group.abort(e)
            raise

    if axis_size == 1:
        contextvars.Context().run(replica, 0)
    else:
        pool = _executor()
        futures = [pool.submit(contextvars.Context().run, replica, r)
                   for r in range(axis_size)]
        _, pending = concurrent.futures.wait(
            futures, return_when=concurrent.futures.FIRST_EXCEPTION)
        if pending:  # a replica failed: its peers fail at their next collective, or time
            # out there; one stuck outside collectives is left behind, not waited for
            concurrent.futures.wait(pending, timeout=collective_timeout())
        if group.error is not None:
            raise group.error
        for f in futures:
            f.result()
    return results


def run_replicas(closed: ClosedJaxpr, args: Sequence[Any], *, axis_name, axis_size: int,
                 global_axis_size: int, in_axes: Sequence, out_axes: Sequence,
                 devices=None) -> list:
    """Run ``closed`` once per local replica, concurrently; returns the stacked outputs
    (host arrays; on GPUs they are gathered from the devices)."""
    if _on_gpus(devices) and C.replica_context.get() is None:
        runtimes, per_output = run_on_gpus(closed, args, args, axis_name=axis_name,
                                           axis_size=axis_size,
                                           global_axis_size=global_axis_size,
                                           in_axes=in_axes, devices=devices)
        from lowering.gpu import pmap as gpu_pmap
        return [gpu_pmap.gather(runtimes, bufs, ax) for bufs, ax in zip(per_output, out_axes)]
    # compile outside any replica: constant folding must never run a collective
    exe = contextvars.Context().run(compile_jaxpr, closed)
    in_avals = closed.in_avals
    shards = [[np.asarray(_shard(a, ax, r), dtype=aval.dtype)
               for a, ax, aval in zip(args, in_axes, in_avals)] for r in range(axis_size)]
    results = _launch([exe] * axis_size, shards, axis_name=axis_name, axis_size=axis_size,
                      global_axis_size=global_axis_size)
    return _stack_outputs([[np.asarray(o) for o in res] for res in results], out_axes)


def _on_gpus(devices) -> bool:
    return bool(devices) and all(getattr(d, "platform", None) == "gpu" for d in devices)


def run_on_gpus(closed: ClosedJaxpr, leaves, values, *, axis_name, axis_size: int,
                global_axis_size: int, in_axes, devices):
    """Run the replicas of ``closed`` on GPUs: this process's ``devices`` (one replica
    each); collectives through ``communicator.device_communicator`` (NCCL). Returns the
    local devices' runtimes and, per output, each local device's buffer."""
    from lowering.gpu import compile as gpu_compile
    from lowering.gpu import device as gpu_device
    from lowering.gpu import pmap as gpu_pmap
    from fx.interpreters.communicator import device_communicator
    local = list(devices)
    process, offset = None, 0
    if global_axis_size != axis_size:
        from fx import distributed
        process = distributed.process_comm()
        offset = process.rank * axis_size
    runtimes = [gpu_device.runtime_for(d) for d in local]
    ranks = [offset + r for r in range(axis_size)]
    communicator = device_communicator(runtimes, local, ranks, global_axis_size, process)

    def launch(exes, inputs):
        return _launch(exes, inputs, axis_name=axis_name, axis_size=axis_size,
                       global_axis_size=global_axis_size)

    def compile_for(jaxpr, rt):  # outside any replica, as on the CPU
        return contextvars.Context().run(gpu_compile.compile, jaxpr, runtime=rt)

    per_output = gpu_pmap.run(closed, leaves, values, axis_name=axis_name, in_axes=in_axes,
                              devices=local, runtimes=runtimes, ranks=ranks,
                              communicator=communicator, launch=launch,
                              compile_segment=compile_for, compile_program=compile_for)
    return runtimes, per_output


def _stack_outputs(results, out_axes) -> list:
    outs = []
    for k, axis in enumerate(out_axes):
        if axis is None:
            outs.append(results[0][k])
        else:
            outs.append(np.stack([res[k] for res in results], axis))
    return outs


# ---------------------------------------------------------------------------
# the xla_pmap call primitive

xla_pmap_p = new_primitive("xla_pmap", multiple_results=True,
                           hidden_params=("donated_invars", "devices"))
xla_pmap_p.subjaxprs = lambda params: [params["jaxpr"]]
xla_pmap_p.param_order = ("axis_name", "axis_size", "global_axis_size", "in_axes", "out_axes",
                          "name", "jaxpr")
xla_pmap_p.axis_dependent = True


def _mapped_aval(aval: ShapedArray, axis, size: int) -> ShapedArray:
    if axis is None:
        return aval
    return ShapedArray(aval.shape[:axis] + (size,) + aval.shape[axis:], aval.dtype,
                       aval.weak_type)


def _unmapped_aval(aval: ShapedArray, axis) -> ShapedArray:
    if axis is None:
        return aval
    return ShapedArray(aval.shape[:axis] + aval.shape[axis + 1:], aval.dtype, aval.weak_type)


@xla_pmap_p.def_abstract_eval
def _pmap_abstract_eval(*avals, jaxpr, name, axis_name, axis_size, global_axis_size, in_axes,
                        out_axes, devices=None, donated_invars=()):
    expected = jaxpr.in_avals
    if len(avals) != len(expected) or len(in_axes) != len(avals):
        raise TypeError(f"xla_pmap {name}: got {len(avals)} arguments for a body taking "
                        f"{len(expected)} (in_axes {in_axes})")
    for i, (a, ax, e) in enumerate(zip(avals, in_axes, expected)):
        if ax is not None and (a.ndim <= ax or a.shape[ax] != axis_size):
            raise TypeError(f"xla_pmap {name}: argument {i} of type {a.str_short()} is not "
                            f"mapped with size {axis_size} along axis {ax}")
        u = _unmapped_aval(a, ax)
        if u.shape != e.shape or u.dtype != e.dtype:
            raise TypeError(f"xla_pmap {name}: argument {i} has per-replica type "
                            f"{u.str_short()}, the body takes {e.str_short()}")
    return [_mapped_aval(a, ax, axis_size) for a, ax in zip(jaxpr.out_avals, out_axes)]


@xla_pmap_p.def_impl
def _pmap_impl(*args, jaxpr, name, axis_name, axis_size, global_axis_size, in_axes, out_axes,
               devices=None, donated_invars=()):
    return run_replicas(jaxpr, args, axis_name=axis_name, axis_size=axis_size,
                        global_axis_size=global_axis_size, in_axes=in_axes, out_axes=out_axes,
                        devices=devices)


def _bind_pmap(args, params, **updates):
    new = dict(params, **updates)
    new["donated_invars"] = (False,) * len(args)
    return xla_pmap_p.bind(*args, **new)


@xla_pmap_p.def_jvp
def _pmap_jvp(primals, tangents, **params):
    jaxpr, in_axes, out_axes = params["jaxpr"], params["in_axes"], params["out_axes"]
    nonzeros = [type(t) is not Zero for t in tangents]
    with C.extend_axis_env(params["axis_name"], params["global_axis_size"]):
        jvp_closed, out_nz = ad.jvp_jaxpr(jaxpr, nonzeros, instantiate=False)
    tangents_nz = [t for t in tangents if type(t) is not Zero]
    new_in = tuple(in_axes) + tuple(ax for ax, nz in zip(in_axes, nonzeros) if nz)
    new_out = tuple(out_axes) + tuple(ax for ax, nz in zip(out_axes, out_nz) if nz)
    outs = _bind_pmap([*primals, *tangents_nz], params, jaxpr=jvp_closed, in_axes=new_in,
                      out_axes=new_out)
    n = len(out_axes)
    it = iter(outs[n:])
    tangents_out = [next(it) if nz else Zero(a.to_tangent_aval())
                    for a, nz in zip(_pmap_abstract_eval(
                        *[get_aval(p) for p in primals], **params), out_nz)]
    return outs[:n], tangents_out


def _pmap_partial_eval(trace, args, **params):
    jaxpr, in_axes, out_axes = params["jaxpr"], params["in_axes"], params["out_axes"]
    unknowns = [trace.is_unknown(a) for a in args]
    with C.extend_axis_env(params["axis_name"], params["global_axis_size"]):
        known_closed, unknown_closed, out_uk, res_avals = pe.partial_eval_jaxpr(
            jaxpr, unknowns, instantiate=False)
    known_args = [a for a, uk in zip(args, unknowns) if not uk]
    known_in = tuple(ax for ax, uk in zip(in_axes, unknowns) if not uk)
    known_out = tuple(ax for ax, uk in zip(out_axes, out_uk) if not uk) + (0,) * len(res_avals)
    with core.set_current_trace(trace.parent):
        known_outs = _bind_pmap(known_args, params, jaxpr=known_closed, in_axes=known_in,
                                out_axes=known_out)
    n_known = len(known_outs) - len(res_avals)
    known_vals, residuals = known_outs[:n_known], known_outs[n_known:]
    if any(out_uk):
        unknown_args = [a for a, uk in zip(args, unknowns) if uk]
        unknown_in = (0,) * len(residuals) + tuple(ax for ax, uk in zip(in_axes, unknowns)
                                                   if uk)
        unknown_out = tuple(ax for ax, uk in zip(out_axes, out_uk) if uk)
        new = dict(params, jaxpr=unknown_closed, in_axes=unknown_in, out_axes=unknown_out,
                   donated_invars=(False,) * (len(residuals) + len(unknown_args)))
        unknown_outs = trace.default_process(xla_pmap_p, [*residuals, *unknown_args], new)
    else:
        unknown_outs = []
    known_it, unknown_it = iter(known_vals), iter(unknown_outs)
    return [next(unknown_it) if uk else next(known_it) for uk in out_uk]


xla_pmap_p.partial_eval = _pmap_partial_eval


@xla_pmap_p.def_transpose
def _pmap_transpose(cts, *args, **params):
    jaxpr, in_axes, out_axes = params["jaxpr"], params["in_axes"], params["out_axes"]
    axis_name, size = params["axis_name"], params["global_axis_size"]
    linear = [core.is_undefined_primal(a) for a in args]
    nonlin = [a for a, lin in zip(args, linear) if not lin]
    ct_nz = [type(c) is not Zero for c in cts]
    in_avals, out_avals = jaxpr.in_avals, jaxpr.out_avals
    nonlin_avals = [a for a, lin in zip(in_avals, linear) if not lin]
    ct_avals = [a.to_tangent_aval() for a, nz in zip(out_avals, ct_nz) if nz]

    def body(*vals):
        it_nonlin = iter(vals[:len(nonlin_avals)])
        it_ct = iter(vals[len(nonlin_avals):])
        primals = [UndefinedPrimal(a) if lin else next(it_nonlin)
                   for a, lin in zip(in_avals, linear)]
        cts_in = []
        for aval, ax, nz in zip(out_avals, out_axes, ct_nz):
            if not nz:
                cts_in.append(Zero(aval.to_tangent_aval()))
                continue
            ct = next(it_ct)
            if ax is None and dtypes.is_inexact(R.dtype_of(ct)):
                ct = R.div(ct, size)  # a replicated output: each replica owns 1/size of it
            cts_in.append(ct)
        outs = ad.backward_pass(jaxpr.jaxpr, jaxpr.consts, primals, cts_in)
        results = []
        for ct, aval, ax, lin in zip(outs, in_avals, in_axes, linear):
            if not lin:
                continue
            if ct is None or type(ct) is Zero:
                ct = R.zeros(aval.to_tangent_aval())
            if ax is None and dtypes.is_inexact(R.dtype_of(ct)):
                ct = C.psum_p.bind(ct, axes=(axis_name,), axis_index_groups=None)
            results.append(ct)
        return results

    with C.extend_axis_env(axis_name, size):
        t_jaxpr, consts, _ = pe.trace_to_jaxpr(body, nonlin_avals + ct_avals)
    t_closed = ClosedJaxpr(t_jaxpr, consts)
    new_in = tuple(ax for ax, lin in zip(in_axes, linear) if not lin) + tuple(
        ax for ax, nz in zip(out_axes, ct_nz) if nz)
    new_out = tuple(ax for ax, lin in zip(in_axes, linear) if lin)
    outs = _bind_pmap([*nonlin, *[c for c in cts if type(c) is not Zero]], params,
                      jaxpr=t_closed, in_axes=new_in, out_axes=new_out,
                      name=f"transpose({params['name']})")
    it = iter(outs)
    return [next(it) if lin else None for lin in linear]


@xla_pmap_p.def_batch
def _pmap_batch(args, dims, *, axis_data=None, **params):
    if C.skip_unbatched(xla_pmap_p, args, dims, axis_data, params):
        return xla_pmap_p.bind(*args, **params), [None] * len(params["out_axes"])
    name, size = C.axis_of(axis_data, args, dims)
    jaxpr, in_axes, out_axes = params["jaxpr"], params["in_axes"], params["out_axes"]
    new_args, new_in, in_batched = [], [], []
    for a, d, ax in zip(args, dims, in_axes):
        if d is None:
            new_args.append(a)
            new_in.append(ax)
            in_batched.append(False)
        else:  # the batch dim goes first; the mapped axis moves one to the right
            new_args.append(R.moveaxis(a, d, 0))
            new_in.append(None if ax is None else ax + 1)
            in_batched.append(True)
    with C.extend_axis_env(params["axis_name"], params["global_axis_size"]):
        b_closed, out_batched = batching.batch_jaxpr(jaxpr, size, in_batched,
                                                     instantiate=False, axis_name=name)
    new_out = tuple(ax + 1 if (b and ax is not None) else ax
                    for ax, b in zip(out_axes, out_batched))
    outs = _bind_pmap(new_args, params, jaxpr=b_closed, in_axes=tuple(new_in),
                      out_axes=new_out)
    return outs, [0 if b else None for b in out_batched]


# ---------------------------------------------------------------------------
# the user-facing wrapper


def _check_leaf(x, what):
    if isinstance(x, (Array, Tracer, np.ndarray, np.generic, bool, int, float, complex)):
        return x
    if hasattr(x, "__jax_array__"):
        return x.__jax_array__()
    raise TypeError(f"pmap: {what} {x!r} of type {type(x).__name__} is not a valid fx type; "
                    "expected arrays, scalars or pytrees of them (mark other arguments "
                    "static with static_broadcasted_argnums)")


def _leaf_value(x):
    if type(x) is Array:
        return x._value
    if isinstance(x, (bool, int, float, complex)):
        return np.asarray(x, dtype=dtypes.result_type(x))
    return np.asarray(x, dtype=dtypes.canonicalize_dtype(np.asarray(x).dtype))


def _flatten_axes(what, tree, axes):
    """Broadcast the prefix pytree ``axes`` to the leaves of ``tree``."""
    proxy = tree_util.tree_unflatten(tree, [object()] * tree.num_leaves)
    flat: list = []
    try:
        tree_util.tree_map(lambda ax, sub: flat.extend(
            [ax] * len(tree_util.tree_leaves(sub))), axes, proxy,
            is_leaf=lambda x: x is None)
    except ValueError as e:
        raise ValueError(f"pmap {what} specification must be a tree prefix of the "
                         f"corresponding value, got specification {axes} for value tree "
                         f"{tree}. {e}") from None
    for ax in flat:
        if ax is not None and (not isinstance(ax, (int, np.integer)) or isinstance(ax, bool)):
            raise TypeError(f"pmap {what} must be an int, None, or a (nested) container of "
                            f"them, got {ax!r}")
    return flat


def _nested() -> bool:
    return bool(C._axis_env.get()) or C.replica_context.get() is not None


class PmapWrapped:
    """A pmapped function (``fx.pmap(f)``): call it on arrays with a leading device axis."""

    def __init__(self, fun, axis_name, in_axes, out_axes, static_broadcasted_argnums,
                 devices, axis_size, donate_argnums, backend=None):
        if not callable(fun):
            raise TypeError(f"pmap requires a callable, got {type(fun).__name__}: {fun!r}")
        functools.update_wrapper(self, fun)
        self._fun = fun
        self._name = getattr(fun, "__name__", type(fun).__name__)
        self.axis_name = axis_name if axis_name is not None else object()
        self._user_axis_name = axis_name
        self.in_axes = tuple(in_axes) if isinstance(in_axes, list) else in_axes
        self.out_axes = out_axes
        nums = static_broadcasted_argnums
        self.static_argnums = tuple(sorted({nums} if isinstance(nums, int) else set(nums)))
        self.devices = None if devices is None else tuple(devices)
        if self.devices is not None and len(set(self.devices)) != len(self.devices):
            raise ValueError(f"pmap: devices {list(self.devices)} contains duplicates")
        self.axis_size = axis_size
        self.backend = backend
        self.donate_argnums = (donate_argnums,) if isinstance(donate_argnums, int) else \
            tuple(donate_argnums)
        self._cache: dict = {}

    def __repr__(self):
        return f"<fx.pmap of {self._name}>"

    def _resolve(self, args, kwargs):
        statics = tuple((i, args[i]) for i in self.static_argnums if i < len(args))
        for _, s in statics:
            try:
                hash(s)
            except TypeError:
                raise ValueError(f"pmap: static_broadcasted_argnums argument {s!r} of type "
                                 f"{type(s).__name__} is not hashable") from None
        dyn = tuple(a for i, a in enumerate(args) if i not in self.static_argnums)
        in_axes = self.in_axes
        if isinstance(in_axes, tuple) and statics and len(in_axes) == len(args):
            in_axes = tuple(ax for i, ax in enumerate(in_axes) if i not in self.static_argnums)
        if isinstance(in_axes, tuple) and len(in_axes) != len(dyn):
            raise ValueError(f"pmap in_axes must be an int, None, or a tuple of entries "
                             f"corresponding to the positional arguments passed to the "
                             f"function, but got len(in_axes)={len(in_axes)}, "
                             f"len(args)={len(dyn)}")
        flat, in_tree = tree_util.tree_flatten((dyn, kwargs))
        flat = [_check_leaf(x, "argument") for x in flat]
        flat_axes = _flatten_axes("in_axes", in_tree, (in_axes, 0))
        norm, sizes = [], {}
        for x, ax in zip(flat, flat_axes):
            if ax is None:
                norm.append(None)
                continue
            shape = get_aval(x).shape
            if not -len(shape) <= ax < len(shape):
                raise ValueError(f"pmap was requested to map its argument along axis {ax}, "
                                 f"which implies that its rank should be at least "
                                 f"{max(ax + 1, -ax)}, but is only {len(shape)} (its shape "
                                 f"is {shape})")
            ax %= len(shape)
            norm.append(ax)
            sizes.setdefault(shape[ax], []).append((shape, ax))
        if len(sizes) > 1:
            detail = "; ".join(f"axis {ax} of an argument of shape {s} has size {n}"
                               for n, entries in sizes.items() for s, ax in entries)
            raise ValueError(f"pmap got inconsistent sizes for array axes to be mapped: "
                             f"{detail}")
        if sizes:
            size = next(iter(sizes))
            if self.axis_size is not None and self.axis_size != size:
                raise ValueError(f"pmap got axis_size={self.axis_size} but the mapped inputs "
                                 f"have size {size}")
        elif self.axis_size is not None:
            size = int(self.axis_size)
        else:
            raise ValueError("pmap requires at least one argument with a mapped axis (an "
                             "in_axes entry that is not None), or axis_size")
        return statics, in_tree, flat, tuple(norm), size

    def _placement(self, size):
        """(global axis size, devices) after checking ``size`` against the devices."""
        D = importlib.import_module("fx.devices")
        if _nested():
            return size, None
        gpus = self.devices if _on_gpus(self.devices) else None
        if gpus is None and self.devices is None and _gpu_backend(self.backend):
            gpus = tuple(D.devices("gpu"))
            if size > len(gpus):
                raise ValueError(f"compiling computation that requires {size} logical "
                                 f"devices, but only {len(gpus)} GPUs are available "
                                 f"(num_replicas={size})")
            gpus = gpus[:size] if D.process_count() == 1 else gpus
        if gpus is not None:  # GPUs are numbered per process: all of these are local
            if size != len(gpus):
                raise ValueError(f"Leading axis size of input to pmapped function must equal "
                                 f"the number of local devices passed to pmap. Got axis_size="
                                 f"{size}, num_local_devices={len(gpus)}.")
            return size * D.process_count(), tuple(gpus)
        if self.devices is not None:
            local = [d for d in self.devices if d.process_index == D.process_index()]
            if size != len(local):
                raise ValueError(f"Leading axis size of input to pmapped function must equal "
                                 f"the number of local devices passed to pmap. Got axis_size="
                                 f"{size}, num_local_devices={len(local)}.")
            return len(self.devices), self.devices
        local = D.local_devices(backend="cpu")
        if D.process_count() > 1:
            if size != len(local):
                raise ValueError(f"pmap across {D.process_count()} processes maps over every "
                                 f"local device: the mapped axis has size {size}, but this "
                                 f"process has {len(local)} local devices")
            return size * D.process_count(), tuple(D.devices("cpu"))
        if size > len(local):
            raise ValueError(f"compiling computation that requires {size} logical devices, but "
                             f"only {len(local)} XLA devices are available (num_replicas="
                             f"{size}). Set FX_CPU_DEVICES (or fx.config.update("
                             f"'fx_cpu_devices', n) before first use) for more CPU devices.")
        return size, tuple(local[:size])

    def _trace(self, statics, in_tree, avals, size, global_size):
        store: dict[str, Any] = {}

        def flat_fun(*flat_args):
            dyn, kwargs = tree_util.tree_unflatten(in_tree, flat_args)
            args = list(dyn)
            for i, s in statics:
                args.insert(i, s)
            out = self._fun(*args, **kwargs)
            flat_out, store["tree"] = tree_util.tree_flatten(out)
            return [_check_leaf(o, "output") for o in flat_out]

        with C.extend_axis_env(self.axis_name, global_size):
            jaxpr, consts, _ = pe.trace_to_jaxpr(flat_fun, avals, debug_info=self._name)
        closed, hoisted = pe.hoist_tracer_consts(jaxpr, consts)
        out_tree = store["tree"]
        flat_out_axes = _flatten_axes("out_axes", out_tree, self.out_axes)
        norm = []
        for ax, aval in zip(flat_out_axes, closed.out_avals):
            if ax is not None:
                if not -(aval.ndim + 1) <= ax <= aval.ndim:
                    raise ValueError(f"pmap out_axes {ax} is out of bounds for an output of "
                                     f"rank {aval.ndim + 1}")
                ax %= aval.ndim + 1
            norm.append(ax)
        return closed, hoisted, out_tree, tuple(norm)

    def __call__(self, *args, **kwargs):
        statics, in_tree, flat, in_axes, size = self._resolve(args, kwargs)
        global_size, devices = self._placement(size)
        avals = [_unmapped_aval(get_aval(x), ax) for x, ax in zip(flat, in_axes)]
        key = (in_tree, tuple(avals), in_axes, statics, size, global_size, devices,
               config._state_key, C.axis_env_key())
        entry = self._cache.get(key)
        if entry is None:
            entry = self._trace(statics, in_tree, avals, size, global_size)
            if not entry[1]:
                self._cache[key] = entry
        closed, hoisted, out_tree, out_axes = entry
        params = dict(jaxpr=closed, name=self._name, axis_name=self.axis_name,
                      axis_size=size, global_axis_size=global_size, devices=devices,
                      in_axes=(None,) * len(hoisted) + in_axes, out_axes=out_axes,
                      donated_invars=(False,) * (len(hoisted) + len(flat)))
        eager = (core._current_trace.get() is core.eval_trace and not hoisted
                 and not any(isinstance(x, Tracer) for x in flat))
        if eager and _on_gpus(devices):
            outs = _call_on_gpus(closed, flat, size, global_size, in_axes, out_axes,
                                 devices, self.axis_name)
        elif eager:
            outs = run_replicas(closed, [_leaf_value(x) for x in flat], axis_name=self.axis_name,
                                axis_size=size, global_axis_size=global_size,
                                in_axes=in_axes, out_axes=out_axes)
            sharding = _sharding(devices, out_axes)
            outs = [Array(o, aval.weak_type, device=sharding(ax))
                    for o, aval, ax in zip(outs, closed.out_avals, out_axes)]
        else:
            flat = [x if isinstance(x, (Array, Tracer)) else Array(
                _leaf_value(x), dtypes.is_weak_scalar(x))
                for x in flat]
            outs = xla_pmap_p.bind(*hoisted, *flat, **params)
        return tree_util.tree_unflatten(out_tree, outs)

    def lower(self, *args, **kwargs):
        """The per-replica jaxpr for these arguments (``.as_text()`` prints it)."""
        statics, in_tree, flat, in_axes, size = self._resolve(args, kwargs)
        global_size, _ = self._placement(size)
        avals = [_unmapped_aval(get_aval(x), ax) for x, ax in zip(flat, in_axes)]
        closed = self._trace(statics, in_tree, avals, size, global_size)[0]
        return _Lowered(closed)


def _gpu_backend(backend) -> bool:
    """Whether a pmap without ``devices`` runs on GPUs: ``backend="gpu"``, or no backend
    named and the GPU is the default backend."""
    if backend is not None:
        return backend in ("gpu", "cuda")
    D = importlib.import_module("fx.devices")
    try:
        return D.default_backend() in ("gpu", "cuda")
    except Exception:  # noqa: BLE001 - no usable GPU backend
        return False


def _call_on_gpus(closed, flat, size, global_size, in_axes, out_axes, devices, axis_name):
    """An eager pmap on GPUs: the outputs are fx Arrays sharded over the devices (their
    buffers stay on the devices for later pmaps; the Array holds their host copy)."""
    from fx.sharding import PmapSharding
    from lowering.gpu import pmap as gpu_pmap
    runtimes, per_output = run_on_gpus(closed, flat, [_leaf_value(x) for x in flat],
                                       axis_name=axis_name, axis_size=size,
                                       global_axis_size=global_size, in_axes=in_axes,
                                       devices=devices)
    outs = []
    for bufs, aval, ax in zip(per_output, closed.out_avals, out_axes):
        out = Array(gpu_pmap.gather(runtimes, bufs, ax), aval.weak_type,
                    device=PmapSharding(devices, ax))
        gpu_pmap.remember(out, devices, ax, bufs)
        outs.append(out)
    return outs


class _Lowered:
    def __init__(self, closed):
        self.jaxpr = closed

    def as_text(self, dialect=None) -> str:
        return str(self.jaxpr)

    def compile(self):
        return self


def _sharding(devices, out_axes):
    from fx.sharding import PmapSharding

    def for_axis(ax):
        if devices is None:
            return None
        return PmapSharding(devices, ax)
    return for_axis


def pmap(fun: Callable | None = None, axis_name=None, *, in_axes=0, out_axes=0,
         static_broadcasted_argnums=(), devices=None, backend=None, axis_size=None,
         donate_argnums=(), global_arg_shapes=None):
    """Map ``fun`` over a leading axis of its arguments, one replica per device.

    The function is traced once per signature; each replica runs on its own device
    (CPU devices run concurrently in threads; ``FX_CPU_DEVICES=N`` makes N of them),
    and collectives such as ``fx.lax.psum(x, axis_name)`` communicate between replicas.
    Under ``fx.distributed.initialize()`` replicas span processes: each process feeds
    its local devices.

    Args:
      fun: the function to map (``pmap`` also works as a decorator with keywords).
      axis_name: name of the mapped axis, for collectives.
      in_axes: int, None, or a pytree prefix of the positional arguments: the axis of
        each argument to map over (None broadcasts the argument to every replica).
      out_axes: int, None, or a pytree prefix of the outputs: where the mapped axis goes.
      static_broadcasted_argnums: positional arguments that are compile-time constants.
      devices: the devices to run on (default: the first ``n`` local devices).
      axis_size: the mapped size when no argument is mapped.
      donate_argnums: accepted for compatibility (buffers are not reused on the CPU).

    Returns:
      The mapped function; its outputs have the mapped axis at ``out_axes``.

    Example:
      >>> f = fx.pmap(lambda x: x / fx.lax.psum(x, "i"), axis_name="i")
      >>> f(fx.numpy.arange(2.0) + 1)   # with FX_CPU_DEVICES=2
      Array([0.33333334, 0.6666667 ], dtype=float32)
    """
    if fun is None:
        return functools.partial(pmap, axis_name=axis_name, in_axes=in_axes,
                                 out_axes=out_axes,
                                 static_broadcasted_argnums=static_broadcasted_argnums,
                                 devices=devices, backend=backend, axis_size=axis_size,
                                 donate_argnums=donate_argnums)
    if backend not in (None, "cpu", "gpu", "cuda"):
        raise ValueError(f"pmap: unknown backend {backend!r}; fx provides 'cpu' and 'gpu'")
    return PmapWrapped(fun, axis_name, in_axes, out_axes, static_broadcasted_argnums,
                       devices, axis_size, donate_argnums, backend)


def _put_stacked(host_shards: list, devices, weak: bool = False) -> Array:
    """The shards stacked along a new leading axis as an Array sharded over ``devices``;
    on GPUs each shard is also put on its device (a pmap over them takes it there)."""
    from fx.sharding import PmapSharding
    out = Array(np.stack(host_shards), weak, device=PmapSharding(tuple(devices), 0))
    if _on_gpus(devices):
        from lowering.gpu import device as gpu_device
        from lowering.gpu import pmap as gpu_pmap
        bufs = [gpu_device.runtime_for(d).asarray(np.asarray(s, order="C"))
                for d, s in zip(devices, host_shards)]
        gpu_pmap.remember(out, tuple(devices), 0, bufs)
    return out


def device_put_sharded(shards: Sequence[Any], devices: Sequence[Any]):
    """Stack ``shards`` (pytrees of equal structure) along a new leading device axis,
    shard ``k`` on ``devices[k]``.

    Example:
      >>> fx.device_put_sharded([fx.numpy.ones(3), fx.numpy.zeros(3)], fx.devices()[:2])
    """
    if len(shards) != len(devices):
        raise ValueError(f"device_put_sharded: got {len(shards)} shards for "
                         f"{len(devices)} devices")
    return tree_util.tree_map(
        lambda *xs: _put_stacked([np.asarray(_leaf_value(x)) for x in xs], devices), *shards)


def device_put_replicated(x: Any, devices: Sequence[Any]):
    """``x`` stacked once per device along a new leading axis (for pmap's inputs)."""
    return tree_util.tree_map(
        lambda leaf: _put_stacked([np.asarray(_leaf_value(leaf))] * len(devices), devices), x)
