"""The CPU backend: fused kernels compiled to native code with llvmlite.

``compile(closed_jaxpr)`` returns an ``Executable`` (see ``lowering.cpu.compile``).
"""
from lowering.cpu.compile import Executable, clear_cache, compile  # noqa: F401

__all__ = ["compile", "Executable", "clear_cache"]
