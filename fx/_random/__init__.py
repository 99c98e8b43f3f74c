"""The implementation of ``fx.random`` (import ``fx.random``, not this package)."""
