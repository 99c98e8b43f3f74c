"""Printing jaxprs in JAX 0.10's text form.

Invariants: a jaxpr prints on one line when it fits in 80 columns, else one
equation per line; variables are named a, b, ..., z, ba, ... in order of first
appearance; outputs nobody reads print as ``_``.
"""
from __future__ import annotations

import numpy as np

from fx.core import ClosedJaxpr, DropVar, Jaxpr, JaxprEqn, Literal


_LINE_WIDTH = 80


class Namer:
    """Names variables a, b, ..., z, ba, bb, ... in order of first appearance."""

    def __init__(self):
        self.names: dict[int, str] = {}

    def __call__(self, v) -> str:
        if isinstance(v, Literal):
            return pp_literal(v)
        if isinstance(v, DropVar):
            return "_"
        name = self.names.get(id(v))
        if name is None:
            name = self.names[id(v)] = _letters(len(self.names))
        return name


def _letters(n: int) -> str:
    s = ""
    while True:
        s = chr(ord("a") + n % 26) + s
        n //= 26
        if n == 0:
            return s


def pp_literal(lit: Literal) -> str:
    val = lit.val
    if isinstance(val, (np.ndarray, np.generic)) and val.shape == ():
        val = val.item()
    if isinstance(val, float) and lit.aval.dtype.kind == "f" and lit.aval.dtype.itemsize < 8:
        val = float(np.format_float_positional(np.float32(val), unique=True, trim="0")) \
            if np.isfinite(val) else val
    if isinstance(val, bool):
        text = str(val)
    elif isinstance(val, float):
        text = repr(val)
    else:
        text = str(val)
    return f"{text}:{lit.aval.str_short()}"


def _pp_param(name, value, namer, indent) -> str:
    if isinstance(value, (Jaxpr, ClosedJaxpr)):
        jaxpr = value.jaxpr if isinstance(value, ClosedJaxpr) else value
        return f"{name}={pp_jaxpr(jaxpr, namer, indent + 2)}"
    if isinstance(value, tuple) and value and all(
            isinstance(v, (Jaxpr, ClosedJaxpr)) for v in value):
        inner = "\n".join(" " * (indent + 4) + pp_jaxpr(
            v.jaxpr if isinstance(v, ClosedJaxpr) else v, namer, indent + 4) for v in value)
        return f"{name}=(\n{inner}\n{' ' * (indent + 2)})"
    if isinstance(value, np.dtype):
        return f"{name}={value.name}"
    if isinstance(value, type) and issubclass(value, np.generic):
        return f"{name}={np.dtype(value).name}"
    if callable(value) and hasattr(value, "__name__"):
        return f"{name}={value.__name__}"
    return f"{name}={value}"


# fx has no token type: a token is a bool[0] array made by these primitives (and read by
# after_all); the printer names such variables' type ``Tok``, as JAX prints its tokens
_TOKEN_MAKERS = frozenset({"create_token", "after_all"})


def _token_vars(jaxpr: Jaxpr) -> set:
    """ids of the variables of ``jaxpr`` that are tokens (made or joined by the token
    primitives)."""
    tokens = set()
    for e in jaxpr.eqns:
        if e.primitive.name in _TOKEN_MAKERS:
            tokens.update(id(v) for v in e.outvars)
        if e.primitive.name == "after_all":
            tokens.update(id(v) for v in e.invars if not isinstance(v, Literal))
    return tokens


def _type_str(v, tokens) -> str:
    aval = v.aval
    if tokens and id(v) in tokens and aval.shape == (0,) and aval.dtype == np.bool_:
        return "Tok"
    return aval.str_short()


def pp_eqn(eqn: JaxprEqn, namer: Namer, indent: int, source_info: bool = False,
           used: set | None = None, tokens: set | None = None) -> str:
    ins = " ".join(namer(v) for v in eqn.invars)
    outs = " ".join(f"{namer(v) if used is None or id(v) in used else '_'}:"
                    f"{_type_str(v, tokens)}" for v in eqn.outvars)
    prim = eqn.primitive
    shown = prim.pp_params(eqn.params) if prim.pp_params is not None else eqn.params
    order = prim.param_order
    keys = [k for k in order if k in shown] + sorted(k for k in shown if k not in order)
    params = [(k, shown[k]) for k in keys if k not in prim.hidden_params]
    head = f"{outs} = {eqn.primitive.name}" if outs else eqn.primitive.name
    if params:
        rendered = [_pp_param(k, v, namer, indent) for k, v in params]
        one_line = f"{head}[{' '.join(rendered)}] {ins}"
        if "\n" in one_line or len(one_line) + indent > _LINE_WIDTH:
            pad = " " * (indent + 2)
            body = "\n".join(pad + r for r in rendered)
            text = f"{head}[\n{body}\n{' ' * indent}] {ins}"
        else:
            text = one_line
    else:
        text = f"{head} {ins}"
    if source_info and eqn.source_info:
        text += f"  # {eqn.source_info}"
    return text.rstrip() if not ins else text


def pp_jaxpr(jaxpr: Jaxpr, namer: Namer, indent: int, source_info: bool = False) -> str:
    tokens = _token_vars(jaxpr)
    consts = " ".join(f"{namer(v)}:{_type_str(v, tokens)}" for v in jaxpr.constvars)
    args = " ".join(f"{namer(v)}:{_type_str(v, tokens)}" for v in jaxpr.invars)
    used = {id(v) for e in jaxpr.eqns for v in e.invars}
    used.update(id(v) for v in jaxpr.outvars)
    eqns = [pp_eqn(e, namer, indent + 4, source_info, used, tokens) for e in jaxpr.eqns]
    outs = ", ".join(namer(v) for v in jaxpr.outvars)
    outs = f"({outs},)" if len(jaxpr.outvars) == 1 else f"({outs})"
    if consts:
        head = f"{{ lambda {consts}; {args}. let"
    else:
        head = f"{{ lambda ; {args}. let"
    one_line = f"{head} {'; '.join(eqns)} in {outs} }}" if eqns else f"{head}  in {outs} }}"
    if "\n" not in one_line and len(one_line) + indent <= _LINE_WIDTH:
        return one_line
    pad = " " * (indent + 4)
    body = "\n".join(pad + e for e in eqns)
    return f"{head}\n{body}\n{' ' * (indent + 2)}in {outs} }}"


