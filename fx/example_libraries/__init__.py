"""``fx.example_libraries``: JAX's example libraries — ``stax`` (neural-network layers)
and ``optimizers`` (first-order optimizers)."""
from fx.example_libraries import optimizers, stax  # noqa: F401
