"""Shared test configuration: checks on, hypothesis profiles, and the JAX oracle.

Invariants: ``FX_CHECKS=1`` is set before fx is first imported, so every jaxpr
a transformation produces is type-checked and every eager result is checked
against its primitive's abstract evaluation. Hypothesis runs the "ci" profile
(small, derandomized) unless ``HYPOTHESIS_PROFILE`` names another. Tests that
need JAX take the ``jax`` fixture (or call ``require_jax()``) and skip cleanly
without it. Test directories have no ``__init__.py``: basenames are unique.
"""
from __future__ import annotations

import os

os.environ["FX_CHECKS"] = "1"
os.environ.setdefault("JAX_PLATFORMS", "cpu")  # the oracle never probes for accelerators

import pytest  # noqa: E402

import fx  # noqa: E402

fx.config.update("jax_enable_checks", True)

try:
    from hypothesis import HealthCheck, settings  # noqa: E402
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    settings = None
else:
    settings.register_profile(
        "ci", max_examples=20, deadline=None, derandomize=True, print_blob=True,
        suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile(
        "dev", max_examples=200, deadline=None,
        suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def require_jax():
    """The ``jax`` module, or skip the calling test when JAX is not installed."""
    return pytest.importorskip("jax", reason="JAX (the test oracle) is not installed")


@pytest.fixture(scope="session")
def jax():
    """JAX as an oracle (float32 defaults, CPU); skips the test when JAX is missing."""
    return require_jax()


def pytest_collection_modifyitems(config, items):
    """Tests marked ``jax`` skip cleanly when JAX cannot be imported."""
    try:
        import jax as _jax  # noqa: F401
        return
    except ImportError:
        skip = pytest.mark.skip(reason="JAX (the test oracle) is not installed")
    for item in items:
        if "jax" in item.keywords:
            item.add_marker(skip)
