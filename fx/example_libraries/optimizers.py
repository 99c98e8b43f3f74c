"""First-order optimizers in the style of ``jax.example_libraries.optimizers``.

An optimizer is a triple of functions ``(init_fun, update_fun, get_params)``:
``init_fun(params) -> opt_state``, ``update_fun(step, grads, opt_state) -> opt_state``
and ``get_params(opt_state) -> params``. Each optimizer is written for a single
array and lifted to pytrees of parameters by the ``optimizer`` decorator; the
lifted state is an ``OptimizerState`` pytree, so it can pass through ``jit``,
``vmap`` and ``lax`` control flow.

Invariants: the per-array update formulas are JAX's, term for term, so a
training loop gives the same numbers under fx as under JAX; step sizes are
schedules ``step -> float`` (a constant is wrapped by ``make_schedule``).

Example:
  >>> opt_init, opt_update, get_params = optimizers.adam(1e-3)
  >>> state = opt_init({"w": fx.numpy.ones(3)})
  >>> state = opt_update(0, {"w": fx.numpy.ones(3)}, state)
  >>> get_params(state)["w"].shape
  (3,)
"""
from __future__ import annotations

import functools
from collections import namedtuple
from functools import partial  # noqa: F401  (part of JAX's module namespace)
from typing import Any, Callable, NamedTuple

import fx.numpy as fnp
from fx import tree_util

__all__ = [
    "Optimizer", "OptimizerState", "JoinPoint", "optimizer", "sgd", "momentum", "nesterov",
    "adagrad", "rmsprop", "rmsprop_momentum", "adam", "adamax", "sm3", "constant",
    "exponential_decay", "inverse_time_decay", "polynomial_decay", "piecewise_constant",
    "make_schedule", "l2_norm", "clip_grads", "pack_optimizer_state",
    "unpack_optimizer_state", "unzip2", "safe_map", "safe_zip",
]


def safe_map(f: Callable, *args) -> list:
    """``list(map(f, *args))``, requiring the sequences to have equal lengths."""
    args = [list(a) for a in args]
    n = len(args[0])
    for a in args[1:]:
        if len(a) != n:
            raise ValueError(f"safe_map: length mismatch: {[len(x) for x in args]}")
    return [f(*xs) for xs in builtin_zip(*args)]


def safe_zip(*args) -> list:
    """``list(zip(*args))``, requiring the sequences to have equal lengths."""
    args = [list(a) for a in args]
    n = len(args[0])
    for a in args[1:]:
        if len(a) != n:
            raise ValueError(f"safe_zip: length mismatch: {[len(x) for x in args]}")
    return list(builtin_zip(*args))


def unzip2(pairs) -> tuple[tuple, tuple]:
    """Split a sequence of pairs into two tuples."""
    firsts, seconds = [], []
    for a, b in pairs:
        firsts.append(a)
        seconds.append(b)
    return tuple(firsts), tuple(seconds)


builtin_map, builtin_zip = map, zip
map = safe_map  # noqa: A001  (as in JAX's module)
zip = safe_zip  # noqa: A001

OptimizerState = namedtuple("OptimizerState", ["packed_state", "tree_def", "subtree_defs"])
OptimizerState.__doc__ = (
    "The state of a pytree optimizer: the flat per-leaf states (``packed_state``, the "
    "only pytree child), the parameters' tree structure and each leaf state's structure.")
tree_util.register_pytree_node(
    OptimizerState,
    lambda state: ((state.packed_state,), (state.tree_def, state.subtree_defs)),
    lambda aux, children: OptimizerState(children[0], aux[0], aux[1]))

Array = Any
Params = Any  # a pytree of arrays
State = Any  # the per-array state of an optimizer
Updates = Params  # gradients have the structure of the parameters
InitFn = Callable[[Params], OptimizerState]
Step = int
UpdateFn = Callable[[Step, Updates, OptimizerState], OptimizerState]
ParamsFn = Callable[[OptimizerState], Params]
Schedule = Callable[[Step], float]


class Optimizer(NamedTuple):
    """The three functions of an optimizer over pytrees of parameters."""
    init_fn: InitFn
    update_fn: UpdateFn
    params_fn: ParamsFn


def optimizer(opt_maker: Callable[..., tuple[Callable, Callable, Callable]]
              ) -> Callable[..., Optimizer]:
    """Lift an optimizer for single arrays to pytrees of arrays.

    Args:
      opt_maker: returns ``(init, update, get_params)`` for one array:
        ``init(x0) -> state``, ``update(step, g, state) -> state`` and
        ``get_params(state) -> x``; a state may be any pytree.

    Returns:
      A function with ``opt_maker``'s arguments returning an ``Optimizer`` whose
      functions take pytrees of parameters and gradients.

    Example:
      >>> @optimizers.optimizer
      ... def plain_sgd(step_size):
      ...     return (lambda x: x, lambda i, g, x: x - step_size * g, lambda x: x)
    """
    @functools.wraps(opt_maker)
    def tree_opt_maker(*args, **kwargs):
        init, update, get_params = opt_maker(*args, **kwargs)

        @functools.wraps(init)
        def tree_init(x0_tree):
            x0_flat, tree = tree_util.tree_flatten(x0_tree)
            initial_states = [init(x0) for x0 in x0_flat]
            states_flat, subtrees = unzip2(safe_map(tree_util.tree_flatten, initial_states))
            return OptimizerState(states_flat, tree, subtrees)

        @functools.wraps(update)
        def tree_update(i, grad_tree, opt_state):
            states_flat, tree, subtrees = opt_state
            grad_flat, grad_tree_def = tree_util.tree_flatten(grad_tree)
            if grad_tree_def != tree:
                raise TypeError(
                    "optimizer update function was passed a gradient tree that did not match "
                    f"the parameter tree structure with which it was initialized: parameter "
                    f"tree {tree} and grad tree {grad_tree_def}.")
            states = safe_map(tree_util.tree_unflatten, subtrees, states_flat)
            new_states = safe_map(partial(update, i), grad_flat, states)
            new_flat, new_subtrees = unzip2(safe_map(tree_util.tree_flatten, new_states))
            for before, after in builtin_zip(subtrees, new_subtrees):
                if before != after:
                    raise TypeError(
                        "optimizer update function produced an output structure that did not "
                        f"match its input structure: input {before} and output {after}.")
            return OptimizerState(new_flat, tree, subtrees)

        @functools.wraps(get_params)
        def tree_get_params(opt_state):
            states_flat, tree, subtrees = opt_state
            states = safe_map(tree_util.tree_unflatten, subtrees, states_flat)
            return tree_util.tree_unflatten(tree, safe_map(get_params, states))

        return Optimizer(tree_init, tree_update, tree_get_params)

    return tree_opt_maker


# ---------------------------------------------------------------------------
# optimizers


@optimizer
def sgd(step_size):
    """Stochastic gradient descent: ``x <- x - step_size(i) * g``.

    Args:
      step_size: a number or a schedule ``step -> step size``.

    Returns:
      An ``Optimizer`` (init_fun, update_fun, get_params).
    """
    step_size = make_schedule(step_size)

    def init(x0):
        return x0

    def update(i, g, x):
        return x - step_size(i) * g

    def get_params(x):
        return x

    return Optimizer(init, update, get_params)


@optimizer
def momentum(step_size: Schedule, mass: float):
    """Gradient descent with momentum: ``v <- mass * v + g; x <- x - step_size(i) * v``.

    Args:
      step_size: a number or a schedule.
      mass: the momentum coefficient.

    Returns:
      An ``Optimizer``.
    """
    step_size = make_schedule(step_size)

    def init(x0):
        return x0, fnp.zeros_like(x0)

    def update(i, g, state):
        x, velocity = state
        velocity = mass * velocity + g
        return x - step_size(i) * velocity, velocity

    def get_params(state):
        return state[0]

    return init, update, get_params


@optimizer
def nesterov(step_size: Schedule, mass: float):
    """Nesterov's accelerated gradient: ``x <- x - step_size(i) * (mass * v + g)``.

    Args:
      step_size: a number or a schedule.
      mass: the momentum coefficient.

    Returns:
      An ``Optimizer``.
    """
    step_size = make_schedule(step_size)

    def init(x0):
        return x0, fnp.zeros_like(x0)

    def update(i, g, state):
        x, velocity = state
        velocity = mass * velocity + g
        return x - step_size(i) * (mass * velocity + g), velocity

    def get_params(state):
        return state[0]

    return init, update, get_params


@optimizer
def adagrad(step_size, momentum=0.9):
    """Adagrad with momentum: steps scaled by the root of the summed squared gradients.

    Args:
      step_size: a number or a schedule.
      momentum: the momentum coefficient.

    Returns:
      An ``Optimizer``.
    """
    step_size = make_schedule(step_size)

    def init(x0):
        return x0, fnp.zeros_like(x0), fnp.zeros_like(x0)

    def update(i, g, state):
        x, g_sq, m = state
        g_sq += fnp.square(g)
        g_sq_inv_sqrt = fnp.where(g_sq > 0, 1. / fnp.sqrt(g_sq), 0.0)
        m = (1. - momentum) * (g * g_sq_inv_sqrt) + momentum * m
        return x - step_size(i) * m, g_sq, m

    def get_params(state):
        return state[0]

    return init, update, get_params


@optimizer
def rmsprop(step_size, gamma=0.9, eps=1e-8):
    """RMSProp: steps scaled by a moving average of squared gradients.

    Args:
      step_size: a number or a schedule.
      gamma: the decay of the moving average.
      eps: added inside the square root.

    Returns:
      An ``Optimizer``.
    """
    step_size = make_schedule(step_size)

    def init(x0):
        return x0, fnp.zeros_like(x0)

    def update(i, g, state):
        x, avg_sq_grad = state
        avg_sq_grad = avg_sq_grad * gamma + fnp.square(g) * (1. - gamma)
        return x - step_size(i) * g / fnp.sqrt(avg_sq_grad + eps), avg_sq_grad

    def get_params(state):
        return state[0]

    return init, update, get_params


@optimizer
def rmsprop_momentum(step_size, gamma=0.9, eps=1e-8, momentum=0.9):
    """RMSProp with momentum.

    Args:
      step_size: a number or a schedule.
      gamma: the decay of the moving average of squared gradients.
      eps: added inside the square root.
      momentum: the momentum coefficient.

    Returns:
      An ``Optimizer``.
    """
    step_size = make_schedule(step_size)

    def init(x0):
        return x0, fnp.zeros_like(x0), fnp.zeros_like(x0)

    def update(i, g, state):
        x, avg_sq_grad, mom = state
        avg_sq_grad = avg_sq_grad * gamma + fnp.square(g) * (1. - gamma)
        mom = momentum * mom + step_size(i) * g / fnp.sqrt(avg_sq_grad + eps)
        return x - mom, avg_sq_grad, mom

    def get_params(state):
        return state[0]

    return init, update, get_params


@optimizer
def adam(step_size, b1=0.9, b2=0.999, eps=1e-8):
    """Adam (Kingma & Ba, 2015) with bias-corrected moment estimates.

    Args:
      step_size: a number or a schedule.
      b1, b2: decay rates of the first and second moment estimates.
      eps: added to the denominator.

    Returns:
      An ``Optimizer``.
    """
    step_size = make_schedule(step_size)

    def init(x0):
        return x0, fnp.zeros_like(x0), fnp.zeros_like(x0)

    def update(i, g, state):
        x, m, v = state
        m = (1 - b1) * g + b1 * m
        v = (1 - b2) * fnp.square(g) + b2 * v
        mhat = m / (1 - fnp.asarray(b1, m.dtype) ** (i + 1))
        vhat = v / (1 - fnp.asarray(b2, m.dtype) ** (i + 1))
        return x - step_size(i) * mhat / (fnp.sqrt(vhat) + eps), m, v

    def get_params(state):
        return state[0]

    return init, update, get_params


@optimizer
def adamax(step_size, b1=0.9, b2=0.999, eps=1e-8):
    """AdaMax: Adam with the infinity norm in place of the second moment.

    Args:
      step_size: a number or a schedule.
      b1, b2: decay rates of the first moment and of the infinity norm.
      eps: added to the denominator.

    Returns:
      An ``Optimizer``.
    """
    step_size = make_schedule(step_size)

    def init(x0):
        return x0, fnp.zeros_like(x0), fnp.zeros_like(x0)

    def update(i, g, state):
        x, m, u = state
        m = (1 - b1) * g + b1 * m
        u = fnp.maximum(b2 * u, fnp.abs(g))
        x = x - (step_size(i) / (1 - fnp.asarray(b1, m.dtype) ** (i + 1))) * m / (u + eps)
        return x, m, u

    def get_params(state):
        return state[0]

    return init, update, get_params


@optimizer
def sm3(step_size, momentum=0.9):
    """SM3 (Anil et al., 2019): memory-efficient adaptive steps with one accumulator per
    axis of each parameter.

    Args:
      step_size: a number or a schedule.
      momentum: the momentum coefficient.

    Returns:
      An ``Optimizer``.
    """
    step_size = make_schedule(step_size)

    def along(ndim, v, axis):
        # v indexed to broadcast along ``axis`` of a rank-``ndim`` gradient (a scalar
        # parameter's accumulator is used as is)
        index = [None] * ndim
        index[axis:axis + 1] = [slice(None)]
        return v[tuple(index)]

    def init(x0):
        x_shape = fnp.shape(x0)
        x0 = fnp.atleast_1d(x0)
        accumulators = [fnp.zeros(size, dtype=x0.dtype) for size in x0.shape]
        return x0, fnp.zeros_like(x0), accumulators, x_shape

    def update(i, g, state):
        x, m, accumulators, x_shape = state
        expanded = [along(g.ndim, v, axis) for axis, v in enumerate(accumulators)]
        accum = functools.reduce(fnp.minimum, expanded) + fnp.square(g)
        accum_inv_sqrt = fnp.where(accum > 0, 1. / fnp.sqrt(accum), 0)
        m = (1. - momentum) * (g * accum_inv_sqrt) + momentum * m
        x = x - step_size(i) * m
        accumulators = [fnp.max(accum, axis=tuple(a for a in range(x.ndim) if a != j))
                        for j in range(x.ndim)]
        return x, m, accumulators, x_shape

    def get_params(state):
        x, _, _, x_shape = state
        # atleast_1d changed only a scalar's shape; deciding by rank keeps this working
        # when x_shape's entries are traced (e.g. get_params under jit)
        return fnp.reshape(x, ()) if len(x_shape) == 0 else x

    return init, update, get_params


# ---------------------------------------------------------------------------
# schedules


def constant(step_size) -> Schedule:
    """The schedule ``i -> step_size``."""
    def schedule(i):
        return step_size
    return schedule


def exponential_decay(step_size, decay_steps, decay_rate):
    """The schedule ``i -> step_size * decay_rate ** (i / decay_steps)``."""
    def schedule(i):
        return step_size * decay_rate ** (i / decay_steps)
    return schedule


def inverse_time_decay(step_size, decay_steps, decay_rate, staircase=False):
    """The schedule ``i -> step_size / (1 + decay_rate * i / decay_steps)`` (with
    ``floor(i / decay_steps)`` when ``staircase``)."""
    if staircase:
        def schedule(i):
            return step_size / (1 + decay_rate * fnp.floor(i / decay_steps))
    else:
        def schedule(i):
            return step_size / (1 + decay_rate * i / decay_steps)
    return schedule


def polynomial_decay(step_size, decay_steps, final_step_size, power=1.0):
    """Decay from ``step_size`` to ``final_step_size`` over ``decay_steps`` steps as
    ``(1 - i / decay_steps) ** power``, then stay at ``final_step_size``."""
    def schedule(step_num):
        step_num = fnp.minimum(step_num, decay_steps)
        step_mult = (1 - step_num / decay_steps) ** power
        return step_mult * (step_size - final_step_size) + final_step_size
    return schedule


def piecewise_constant(boundaries: Any, values: Any):
    """``values[0]`` up to ``boundaries[0]``, ``values[1]`` up to ``boundaries[1]``, ...

    Args:
      boundaries: increasing steps, one fewer than ``values``.
      values: the step sizes.

    Returns:
      A schedule.
    """
    boundaries = fnp.array(boundaries)
    values = fnp.array(values)
    if not boundaries.ndim == values.ndim == 1:
        raise ValueError(f"boundaries and values must be sequences, got shapes "
                         f"{boundaries.shape} and {values.shape}")
    if not boundaries.shape[0] == values.shape[0] - 1:
        raise ValueError(f"boundaries length must be one shorter than values length, got "
                         f"{boundaries.shape[0]} and {values.shape[0]}")

    def schedule(i):
        return values[fnp.sum(i > boundaries)]
    return schedule


def make_schedule(scalar_or_schedule: float | Schedule) -> Schedule:
    """A schedule from a schedule (returned as is) or a scalar (made ``constant``)."""
    if callable(scalar_or_schedule):
        return scalar_or_schedule
    if fnp.ndim(scalar_or_schedule) == 0:
        return constant(scalar_or_schedule)
    raise TypeError(f"make_schedule expects a scalar or a callable, got "
                    f"{type(scalar_or_schedule).__name__} of shape "
                    f"{fnp.shape(scalar_or_schedule)}")


# ---------------------------------------------------------------------------
# utilities


def l2_norm(tree):
    """The Euclidean norm of all the leaves of ``tree`` together."""
    leaves = tree_util.tree_leaves(tree)
    return fnp.sqrt(sum(fnp.vdot(x, x) for x in leaves))


def clip_grads(grad_tree, max_norm):
    """Scale ``grad_tree`` down so that its ``l2_norm`` is at most ``max_norm``."""
    norm = l2_norm(grad_tree)

    def normalize(g):
        return fnp.where(norm < max_norm, g, g * (max_norm / norm))
    return tree_util.tree_map(normalize, grad_tree)


class JoinPoint:
    """Marks the boundary between the parameter tree and a leaf's state subtree in an
    unpacked optimizer state."""

    def __init__(self, subtree):
        self.subtree = subtree

    def __iter__(self):
        yield self.subtree

    def __repr__(self):
        return f"JoinPoint({self.subtree!r})"


def unpack_optimizer_state(opt_state):
    """An ``OptimizerState`` as a plain pytree (for pickling): the parameter tree with each
    leaf replaced by a ``JoinPoint`` holding that leaf's state."""
    states_flat, tree_def, subtree_defs = opt_state
    subtrees = safe_map(tree_util.tree_unflatten, subtree_defs, states_flat)
    return tree_util.tree_unflatten(tree_def, [JoinPoint(s) for s in subtrees])


def pack_optimizer_state(marked_pytree):
    """The inverse of ``unpack_optimizer_state``."""
    sentinels, tree_def = tree_util.tree_flatten(marked_pytree)
    if not all(isinstance(s, JoinPoint) for s in sentinels):
        raise TypeError("pack_optimizer_state expects a pytree whose leaves are JoinPoints, "
                        "as made by unpack_optimizer_state")
    subtrees = [s.subtree for s in sentinels]
    states_flat, subtree_defs = unzip2(safe_map(tree_util.tree_flatten, subtrees))
    return OptimizerState(states_flat, tree_def, subtree_defs)
