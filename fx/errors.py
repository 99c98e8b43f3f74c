"""fx's exception types, as ``jax.errors``.

Invariant: every message names what was wrong (the value, shape or dtype at
fault) and what to do instead.
"""
from __future__ import annotations


class FxTypeError(TypeError):
    """Base of the tracer errors (``jax.errors.JAXTypeError``)."""


class ConcretizationTypeError(FxTypeError):
    """A traced (abstract) value was used where a concrete one is needed."""

    def __init__(self, tracer, what: str = "a traced value", fix: str = ""):
        aval = getattr(tracer, "aval", None)
        shown = aval.str_short() if aval is not None else repr(tracer)
        super().__init__(
            f"Abstract tracer value encountered where a concrete value is expected: "
            f"{what} ({shown}). The value depends on a traced argument, so it is not "
            f"known while the function is traced. {fix}")


class TracerBoolConversionError(ConcretizationTypeError):
    pass


class TracerIntegerConversionError(ConcretizationTypeError):
    pass


class TracerArrayConversionError(ConcretizationTypeError):
    pass


class NonConcreteBooleanIndexError(IndexError):
    """A boolean mask whose value is traced was used as an index."""

    def __init__(self, tracer):
        super().__init__(
            f"Array boolean indices must be concrete; got a traced mask "
            f"{tracer.aval.str_short()}. Use `fx.numpy.where(mask, x, fill)` or "
            "functions with a static `size=` argument (nonzero, argwhere) instead.")


class UnexpectedTracerError(FxTypeError):
    """A tracer escaped the transformation that created it."""


class KeyReuseError(RuntimeError):
    pass


JAXTypeError = FxTypeError


class JAXIndexError(IndexError):
    """An index error raised by fx (``jax.errors.JAXIndexError``)."""


class InconclusiveDimensionOperation(Exception):
    """A dimension computation whose result cannot be decided (``jax.errors``'s name for
    symbolic-shape errors; fx's shapes are always concrete, so fx raises it only for
    dimension arithmetic on values that are not integers)."""


def __getattr__(name):
    # names defined elsewhere in fx, resolved lazily to keep this module import-free
    if name == "JaxprTypeError":
        from fx.core import JaxprTypeError
        return JaxprTypeError
    if name == "JaxRuntimeError":
        from primitives.callbacks import JaxRuntimeError
        return JaxRuntimeError
    raise AttributeError(f"module 'fx.errors' has no attribute {name!r}")
