"""jaxpr -> executable: passes, fusion, and the CPU and GPU code generators.

Invariant: this package sees only jaxprs, never a Python function.
"""
