"""fx: a functional, JAX-style array library.

Import order matters once: the core, then the primitives (which register
themselves), then the interpreters and the user-facing API.
"""
from fx.config import config, enable_x64, debug_nans, debug_infs, disable_jit  # noqa: F401
from fx.config import enable_checks  # noqa: F401
from fx import errors, dtypes, core  # noqa: F401
from fx import array as _array  # noqa: F401
import primitives as _primitives  # noqa: F401
from fx import tree_util, interpreters  # noqa: F401
from fx.interpreters import ad as _ad, batching as _batching, partial_eval as _pe  # noqa: F401
from fx.interpreters.jit import jit  # noqa: F401
from fx import lax, numpy  # noqa: F401
from fx.api import (jvp, linearize, vjp, grad, value_and_grad, jacfwd, jacrev,  # noqa: F401
                    jacobian, hessian, linear_transpose, vmap, make_jaxpr, eval_shape)
from fx.array import Array  # noqa: F401
from fx.core import ShapeDtypeStruct  # noqa: F401
from fx.dtypes import float0  # noqa: F401
from fx.devices import (Device, devices, local_devices, device_count,  # noqa: F401
                        local_device_count, default_backend, process_index, process_count)
from fx import tree  # noqa: F401
from fx.custom_derivatives import (custom_jvp, custom_vjp, custom_gradient,  # noqa: F401
                                   closure_convert)
from fx.checkpoint import checkpoint, remat, checkpoint_policies  # noqa: F401
from fx import debug, ad_checkpoint, experimental  # noqa: F401
from fx._callback import pure_callback  # noqa: F401
from fx import random  # noqa: F401
from fx import nn, scipy, example_libraries  # noqa: F401
from fx.interpreters.pmap import pmap, device_put_sharded, device_put_replicated  # noqa: F401
from fx import distributed, sharding  # noqa: F401
from fx.experimental.shard_map import shard_map  # noqa: F401
from fx.devices import device_put, default_device  # noqa: F401
from fx.sharding import NamedSharding, PartitionSpec as P  # noqa: F401
from fx.sharding import reshard, set_mesh  # noqa: F401
from fx._api_extras import (clear_caches, check_tracer_leaks, checking_leaks,  # noqa: F401
                            log_compiles, explain_cache_misses, default_matmul_precision,
                            ensure_compile_time_eval, named_scope, named_call, typeof,
                            copy_to_host_async, effects_barrier, transfer_guard,
                            transfer_guard_host_to_device, transfer_guard_device_to_device,
                            transfer_guard_device_to_host, host_count, host_id, host_ids,
                            process_indices, make_mesh, print_environment_info)
from fx._api_extras import fwd_and_bwd  # noqa: F401
from fx import ref  # noqa: F401
from fx.ref import Ref, new_ref, empty_ref, freeze, free_ref, ds  # noqa: F401
from fx import ad, memory  # noqa: F401
from fx.sharding import Shard, smap  # noqa: F401
from fx._api_extras import _define as _define_option
from fx._user_context import make_user_context  # noqa: F401
from fx._api_extras import (numpy_rank_promotion, numpy_dtype_promotion,  # noqa: F401
                            default_prng_impl, enable_custom_prng, legacy_prng_key,
                            threefry_partitionable, debug_key_reuse, softmax_custom_jvp,
                            allow_f16_reductions, no_tracing, no_execution, thread_guard,
                            array_garbage_collection_guard,
                            jax2tf_associative_scan_reductions,
                            remove_size_one_mesh_axis_from_type, live_arrays,
                            make_array_from_callback, make_array_from_process_local_data,
                            make_array_from_single_device_arrays)

__version__ = "0.1.0"

auto_pcast = _define_option("jax_auto_pcast", True, True)
auto_pcast.__doc__ = ("Context manager for the `jax_auto_pcast` config option: insert "
                      "`pvary` automatically to match varying manual axes on simple ops "
                      "(fx's collectives accept mixed varying operands either way).")


def block_until_ready(x):
    """Wait for every array in pytree ``x``; returns ``x``."""
    for leaf in tree_util.tree_leaves(x):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
    return x


def device_get(x):
    """The leaves of ``x`` as NumPy arrays."""
    import numpy as _np
    return tree_util.tree_map(lambda leaf: _np.asarray(leaf) if isinstance(leaf, Array)
                              else leaf, x)
