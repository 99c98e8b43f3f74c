"""Source information: the user's frame that created an equation or tracer.

Invariant: a frame is the user's when its file lies outside fx's own packages (fx,
primitives, lowering) and is not contextlib's; the answer per file is cached.
``fx.core`` re-exports ``user_frame``.
"""
from __future__ import annotations

import os
import sys

_FX_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_INTERNAL_DIRS = tuple(os.path.join(_FX_ROOT, d) + os.sep
                       for d in ("fx", "primitives", "lowering"))


_internal_files: dict[str, bool] = {}  # file name -> whether it is fx's own (or contextlib's)


def _file_is_internal(filename: str) -> bool:
    if len(_internal_files) > 10000:
        _internal_files.clear()
    internal = filename.startswith(_INTERNAL_DIRS) or "contextlib" in filename
    _internal_files[filename] = internal
    return internal


def user_frame() -> str | None:
    """``file:line (function)`` of the innermost frame outside fx, or None."""
    frame = sys._getframe(1)
    known = _internal_files
    while frame is not None:
        code = frame.f_code
        filename = code.co_filename
        internal = known.get(filename)
        if internal is None:
            internal = _file_is_internal(filename)
        if not internal:
            return f"{filename}:{frame.f_lineno} ({code.co_name})"
        frame = frame.f_back
    return None
