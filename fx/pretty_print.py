"""Printing jaxprs in JAX 0.10's text form.

Invariants: a jaxpr is built into a document of texts, breaks, groups and
nests laid out as JAX's printer lays them out (a group prints flat when it fits
in the 80 columns left of where it starts, else its breaks become newlines).
Variables are named a, b, ..., z, ba, ... in order of first appearance from one
counter shared by the whole print; the binders of a ``jit``'s inner jaxpr take
the names of the call's operands and results; sub-jaxprs used more than once
(or longer than 10 equations) are printed first as ``let name = ... in``.
Outputs of the top-level jaxpr nobody reads print as ``_``.
"""
from __future__ import annotations

import collections

import numpy as np

from fx.core import ClosedJaxpr, DropVar, Jaxpr, JaxprEqn, Literal

_LINE_WIDTH = 80

# Primitives whose ``name`` param names their sub-jaxprs when those are printed first.
_NAMED_CALLS = frozenset({"jit", "xla_pmap"})
# Calls whose inner binders are named after the call's operands and results (as JAX's
# printer does for ``jit`` only).
_SAME_NAME_CALLS = frozenset({"jit"})


# ---------------------------------------------------------------------------
# Documents and their layout


class _Text:
    __slots__ = ("text", "width")

    def __init__(self, text: str, width: int | None = None):
        self.text = text
        self.width = len(text) if width is None else width


class _Brk:
    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


class _Concat:
    __slots__ = ("parts",)

    def __init__(self, parts):
        self.parts = parts


class _Group:
    __slots__ = ("child", "width")

    def __init__(self, child):
        self.child = child
        self.width = None  # the flat width, computed on first layout


class _Nest:
    __slots__ = ("indent", "child")

    def __init__(self, indent: int, child):
        self.indent = indent
        self.child = child


_NIL = _Concat(())


def _text(s: str) -> _Text:
    return _Text(s)


def _brk(s: str = " ") -> _Brk:
    return _Brk(s)


def _concat(*parts) -> _Concat:
    return _Concat(parts)


def _join(sep, docs) -> _Concat:
    out = [sep] * (2 * len(docs) - 1) if docs else []
    out[::2] = docs
    return _Concat(out)


def _flat_width(doc) -> int:
    t = type(doc)
    if t is _Text:
        return doc.width
    if t is _Brk:
        return len(doc.text)
    if t is _Concat:
        total = 0
        for p in doc.parts:
            tp = type(p)
            total += p.width if tp is _Text else len(p.text) if tp is _Brk else _flat_width(p)
        return total
    if t is _Nest:
        return _flat_width(doc.child)
    if doc.width is None:
        doc.width = _flat_width(doc.child)
    return doc.width


def _layout(doc, width: int = _LINE_WIDTH, column: int = 0) -> str:
    """Lay ``doc`` out starting at ``column``: a group prints flat (breaks as their text)
    when its flat width fits in what is left of the line, else its breaks are newlines
    indented by the enclosing nests."""
    out: list[str] = []
    k = column
    stack = [(column, False, doc)]
    while stack:
        indent, flat, d = stack.pop()
        t = type(d)
        if t is _Text:
            out.append(d.text)
            k += d.width
        elif t is _Brk:
            if flat:
                out.append(d.text)
                k += len(d.text)
            else:
                out.append("\n" + " " * indent)
                k = indent
        elif t is _Concat:
            stack.extend((indent, flat, p) for p in reversed(d.parts))
        elif t is _Nest:
            stack.append((indent + d.indent, flat, d.child))
        else:
            stack.append((indent, flat or _flat_width(d) <= width - k, d.child))
    return "".join(out)


# ---------------------------------------------------------------------------
# Naming


class Namer:
    """Names variables a, b, ..., z, ba, bb, ... in order of first appearance, skipping
    the names of jaxprs printed first (``let f = ... in``)."""

    def __init__(self):
        self.names: dict[int, str] = {}
        self.count = 0
        self.reserved: set[str] = set()
        self.shared: dict[int, str] = {}  # id(jaxpr) -> its name, for jaxprs printed first
        self.keep: list = []  # the named variables, so their ids stay theirs while printing

    def __call__(self, v) -> str:
        if isinstance(v, Literal):
            return pp_literal(v)
        if isinstance(v, DropVar):
            return "_"
        name = self.names.get(id(v))
        if name is None:
            name = self.names[id(v)] = self._fresh()
            self.keep.append(v)
        return name

    def _fresh(self) -> str:
        while True:
            name = _letters(self.count)
            self.count += 1
            if name not in self.reserved:
                return name

    def set_name(self, v, name: str) -> None:
        self.names[id(v)] = name
        self.keep.append(v)

    def suggest_same_names(self, for_vars, like_vars) -> None:
        """Name each of ``for_vars`` (not yet named) like the matching ``like_vars`` entry
        (a variable, each used once), as JAX's printer names a jit's inner binders."""
        if len(for_vars) != len(like_vars):
            return
        used: set[int] = set()
        for for_v, like_v in zip(for_vars, like_vars):
            if isinstance(like_v, Literal) or id(like_v) in used or isinstance(for_v, Literal) \
                    or id(for_v) in self.names:
                continue
            used.add(id(like_v))
            self.set_name(for_v, self(like_v))


def _letters(n: int) -> str:
    s = ""
    while True:
        s = chr(ord("a") + n % 26) + s
        n //= 26
        if n == 0:
            return s


# ---------------------------------------------------------------------------
# Literals and params


def pp_literal(lit: Literal) -> str:
    """A literal as JAX prints it: ``value:dtype[]``.

    JAX prints a literal's Python value: a strongly typed literal holds a NumPy value,
    printed exactly (``0.044714998453855515:f32[]`` for float32(0.044715)); a weakly typed
    one holds the Python scalar the program wrote (``0.044715:f32[]``). fx prints a
    literal's ``source`` (that Python scalar) when it is known; otherwise a weak literal
    prints as the shortest decimal that rounds to its value, which is the program's own
    literal whenever the dtype holds it.
    """
    val = lit.val
    if np.ndim(val) != 0:
        return f"[...]:{lit.aval.str_short()}"
    if lit.source is not None:  # the Python scalar the program wrote, as JAX holds it
        return f"{lit.source}:{lit.aval.str_short()}"
    typed = np.asarray(val, lit.aval.dtype)[()]
    kind = lit.aval.dtype.kind
    if lit.aval.weak_type and (kind in "fc" or kind == "V"):
        text = _shortest(typed)
    else:
        text = str(typed.item())
    return f"{text}:{lit.aval.str_short()}"


def _shortest(value) -> str:
    """The Python repr of the shortest decimal that rounds to the floating or complex
    NumPy scalar ``value`` in its own dtype (NumPy's ``str`` of a scalar is that decimal)."""
    try:
        if np.iscomplexobj(value):
            return repr(complex(str(value)))
        return repr(float(str(value)))
    except ValueError:  # a dtype whose str is not a plain decimal
        return str(value.item())


def _shown_params(eqn: JaxprEqn) -> list:
    """The (name, value) params an equation prints, in its primitive's order."""
    prim = eqn.primitive
    shown = prim.pp_params(eqn.params) if prim.pp_params is not None else eqn.params
    order = prim.param_order
    keys = [k for k in order if k in shown] + sorted(k for k in shown if k not in order)
    return [(k, shown[k]) for k in keys if k not in prim.hidden_params]


def _jaxprs_in(value) -> list:
    values = value if isinstance(value, tuple) else (value,)
    return [v.jaxpr if isinstance(v, ClosedJaxpr) else v for v in values
            if isinstance(v, (Jaxpr, ClosedJaxpr))]


def _pp_param_value(value, namer, ctx):
    if isinstance(value, (Jaxpr, ClosedJaxpr)):
        return _pp_jaxpr_doc(value.jaxpr if isinstance(value, ClosedJaxpr) else value,
                             namer, ctx)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        # a named tuple (custom_linear_solve's jaxprs) prints as its str, each jaxpr in it
        # printed on its own, as JAX's printer does
        return _text(str(value))
    if isinstance(value, tuple) and value and all(
            isinstance(v, (Jaxpr, ClosedJaxpr)) for v in value):
        inner = _join(_brk(), [_pp_param_value(v, namer, ctx) for v in value])
        return _Group(_concat(_Nest(2, _concat(_text("("), _brk(""), inner)), _brk(""),
                              _text(")")))
    if isinstance(value, np.dtype):
        return _text(value.name)
    if isinstance(value, type) and issubclass(value, np.generic):
        return _text(np.dtype(value).name)
    if callable(value) and hasattr(value, "__name__"):
        return _text(value.__name__)
    return _text(str(value))


# ---------------------------------------------------------------------------
# Equations and jaxprs


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


class _Context:
    __slots__ = ("source_info", "tokens")

    def __init__(self, source_info: bool, tokens: set):
        self.source_info = source_info
        self.tokens = tokens


def _pp_vars(vs, namer, ctx, *, separator: str = "", binders: bool = False):
    if binders:
        docs = [_Text(f"{namer(v)}:{_type_str(v, ctx.tokens)}") for v in vs]
    else:
        docs = [_Text(namer(v)) for v in vs]
    if len(docs) <= 1:  # no break to place: the text alone lays out the same
        return docs[0] if docs else _NIL
    return _Nest(2, _Group(_join(_concat(_text(separator), _Group(_brk())), docs)))


def _pp_eqn_doc(eqn: JaxprEqn, namer: Namer, ctx: _Context):
    params = _shown_params(eqn)
    if eqn.primitive.name in _SAME_NAME_CALLS:
        for _, value in params:
            for sub in _jaxprs_in(value):
                if id(sub) not in namer.shared:
                    namer.suggest_same_names(sub.invars, eqn.invars)
                    namer.suggest_same_names(sub.outvars, eqn.outvars)
    parts = []
    if eqn.outvars:
        parts += [_pp_vars(eqn.outvars, namer, ctx, binders=True), _text(" = ")]
    parts.append(_text(eqn.primitive.name))
    if params:
        pairs = [_concat(_text(f"{k}="), _pp_param_value(v, namer, ctx)) for k, v in params]
        parts.append(_Group(_concat(
            _Nest(2, _concat(_text("["), _brk(""), _join(_brk(), pairs))),
            _brk(""), _text("]"))))
    parts.append(_concat(_text(" "), _pp_vars(eqn.invars, namer, ctx)))
    if ctx.source_info and eqn.source_info:
        parts.append(_Text(f"  # {eqn.source_info}", 0))
    return _Concat(parts)


def _pp_skeleton(jaxpr: Jaxpr, namer: Namer, ctx: _Context):
    tokens = _token_vars(jaxpr)
    inner = _Context(ctx.source_info, tokens)
    consts = _pp_vars(jaxpr.constvars, namer, inner, binders=True)
    args = _pp_vars(jaxpr.invars, namer, inner, binders=True)
    eqns = _join(_brk("; "), [_pp_eqn_doc(e, namer, inner) for e in jaxpr.eqns])
    outs = _concat(_text("("), _pp_vars(jaxpr.outvars, namer, inner, separator=","),
                   _text(",)" if len(jaxpr.outvars) == 1 else ")"))
    body = _concat(_text("{ lambda "), consts, _text("; "), args, _text(". let"),
                   _Nest(2, _concat(_brk(), eqns)), _brk(), _text("in "), outs)
    return _Group(_concat(_Nest(2, body), _text(" }")))


def _pp_jaxpr_doc(jaxpr: Jaxpr, namer: Namer, ctx: _Context):
    name = namer.shared.get(id(jaxpr))
    if name is not None:
        return _text(name)
    return _pp_skeleton(jaxpr, namer, ctx)


def _shared_jaxprs(top: Jaxpr) -> list:
    """The sub-jaxprs JAX prints first, with their names: those met more than once in a
    breadth-first walk of the equations' params (or longer than 10 equations), named by
    the ``name`` param of a jit that calls them (else ``jaxpr``), made unique."""
    counts: collections.Counter = collections.Counter()
    names: dict[int, str] = {}
    objects: dict[int, Jaxpr] = {}
    queue = collections.deque([top])
    while queue:
        jaxpr = queue.popleft()
        counts[id(jaxpr)] += 1
        objects[id(jaxpr)] = jaxpr
        if jaxpr is not top and len(jaxpr.eqns) > 10:
            counts[id(jaxpr)] += 1
        for eqn in jaxpr.eqns:
            subs = [s for _, v in _shown_params(eqn) for s in _jaxprs_in(v)]
            call_name = eqn.params.get("name") if eqn.primitive.name in _NAMED_CALLS else None
            queue.extend(subs)
            if call_name is not None:
                for s in subs:
                    names.setdefault(id(s), str(call_name).strip("<>"))
    taken: collections.Counter = collections.Counter()
    shared = []
    for key, count in counts.items():
        if count == 1:
            continue
        name = names.get(key, "jaxpr")
        n = taken[name]
        taken[name] += 1
        if n:
            name += str(n)
            taken[name] += 1
        shared.append((name, objects[key]))
    return shared


def pp_eqn(eqn: JaxprEqn, namer: Namer, indent: int, source_info: bool = False,
           used: set | None = None, tokens: set | None = None) -> str:
    """One equation as JAX prints it, laid out from column ``indent``; outputs not in
    ``used`` (ids, when given) print as ``_``."""
    if used is not None:
        for v in eqn.outvars:
            if id(v) not in used and id(v) not in namer.names:
                namer.set_name(v, "_")
    doc = _pp_eqn_doc(eqn, namer, _Context(source_info, tokens or set()))
    return _layout(doc, _LINE_WIDTH, indent)


def pp_jaxpr(jaxpr: Jaxpr, namer: Namer, indent: int, source_info: bool = False) -> str:
    """``jaxpr`` as JAX prints it (``let`` bindings of shared sub-jaxprs first)."""
    # outputs of the top-level equations nobody reads are ``_``
    used = {id(v) for v in jaxpr.outvars}
    for eqn in reversed(jaxpr.eqns):
        for v in eqn.outvars:
            if id(v) not in used and id(v) not in namer.names:
                namer.set_name(v, "_")
        used.update(id(v) for v in eqn.invars)
    shared = _shared_jaxprs(jaxpr)
    for name, sub in shared:
        namer.reserved.add(name)
        namer.shared[id(sub)] = name
    ctx = _Context(source_info, set())
    docs = [_concat(_text(f"let {name} = "), _pp_skeleton(sub, namer, ctx), _text(" in"),
                    _brk()) for name, sub in shared]
    docs.append(_pp_skeleton(jaxpr, namer, ctx))
    return _layout(_Concat(docs), _LINE_WIDTH, indent)
