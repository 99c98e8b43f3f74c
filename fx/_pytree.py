"""Pytree machinery behind ``fx.tree_util``: key-path entries, node kinds, the flatten and
unflatten walkers, and ``PyTreeDef``. Users import these names from ``fx.tree_util``.

Invariants: a PyTreeDef is an immutable preorder tuple of *tokens* (see the flattening
section); two treedefs are equal exactly when their token tuples are, so equality and
hashing are one C-level tuple operation. ``_node_kinds`` maps a type to its node kind (or to
``_LEAF``) by exact type; registration overwrites the entry, so the cache is never stale.
None is an empty node, not a leaf; dicts flatten in sorted key order.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from itertools import islice
from typing import Any, TypeVar

KeyEntry = TypeVar("KeyEntry", bound=Any)
KeyPath = tuple[KeyEntry, ...]


# ----------------------------------------------------------------------------- key paths

class _KeyBase:
    """Shared equality, hashing and printing for the key-path entry classes."""

    __slots__ = ()
    _field = ""

    def _value(self) -> Any:
        return getattr(self, self._field)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._value() == other._value()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._value()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._field}={self._value()!r})"

    def _simple(self) -> str:
        return str(self._value())


def _check_key_type(cls_name: str, value: Any, wanted: type) -> None:
    if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
        raise TypeError(f"{cls_name} expects a {wanted.__name__}, got {value!r} "
                        f"of type {type(value).__name__}.")


class DictKey(_KeyBase):
    """Key-path entry for a mapping entry; ``str(DictKey('a')) == "['a']"``."""

    __slots__ = ("key",)
    __match_args__ = ("key",)
    _field = "key"

    def __init__(self, key: Hashable):
        self.key = key

    def __str__(self) -> str:
        return f"[{self.key!r}]"


class SequenceKey(_KeyBase):
    """Key-path entry for a tuple or list element; ``str(SequenceKey(0)) == "[0]"``."""

    __slots__ = ("idx",)
    __match_args__ = ("idx",)
    _field = "idx"

    def __init__(self, idx: int):
        _check_key_type("SequenceKey", idx, int)
        self.idx = idx

    def __str__(self) -> str:
        return f"[{self.idx!r}]"


class GetAttrKey(_KeyBase):
    """Key-path entry for an attribute (namedtuple or dataclass field); prints as ``.name``."""

    __slots__ = ("name",)
    __match_args__ = ("name",)
    _field = "name"

    def __init__(self, name: str):
        _check_key_type("GetAttrKey", name, str)
        self.name = name

    def __str__(self) -> str:
        return f".{self.name}"


class FlattenedIndexKey(_KeyBase):
    """Key-path entry for the i-th child of a custom node registered without keys."""

    __slots__ = ("key",)
    __match_args__ = ("key",)
    _field = "key"

    def __init__(self, key: int):
        _check_key_type("FlattenedIndexKey", key, int)
        self.key = key

    def __str__(self) -> str:
        return f"[<flat index {self.key}>]"


def keystr(keys: KeyPath, *, simple: bool = False, separator: str = "") -> str:
    """Pretty-print a key path.

    Args:
      keys: a tuple of key entries (or any objects, printed with ``str``).
      simple: print ``a/0`` style bare keys instead of ``['a'][0]``.
      separator: string put between the printed keys.

    Returns:
      The joined string.

    Example:
      >>> keystr((DictKey('a'), SequenceKey(0)))
      "['a'][0]"
    """
    if simple:
        return separator.join(k._simple() if isinstance(k, _KeyBase) else str(k) for k in keys)
    return separator.join(str(k) for k in keys)


# ----------------------------------------------------------------------------- node kinds

class _Sentinel:
    __slots__ = ("_name",)

    def __init__(self, name: str):
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def __reduce__(self) -> str:
        return self._name


_LEAF = _Sentinel("_LEAF")          # token of a leaf, and the kind of every leaf type
_NONE_KIND = _Sentinel("_NONE_KIND")  # kind of NoneType; its token is None itself


class _NodeKind:
    """How to flatten and rebuild one registered node type (everything but tuple/list/dict)."""

    __slots__ = ("flatten", "flatten_with_keys", "is_namedtuple", "nodetype", "unflatten")

    def __init__(self, nodetype, flatten, unflatten, flatten_with_keys=None, is_namedtuple=False):
        self.nodetype = nodetype
        self.flatten = flatten
        self.unflatten = unflatten
        self.flatten_with_keys = flatten_with_keys
        self.is_namedtuple = is_namedtuple

    def split(self, node: Any) -> tuple[Any, Any]:
        """Children (a list or tuple) and aux data of ``node``, with a clear error if malformed."""
        result = self.flatten(node)
        try:
            children, aux = result
        except (TypeError, ValueError):
            raise TypeError(f"The flatten function registered for {self.nodetype} must return a "
                            f"pair (children, aux_data); it returned {result!r:.200}.") from None
        if type(children) is not list and type(children) is not tuple:
            children = list(children)
        return children, aux

    def split_with_keys(self, node: Any) -> tuple[list, Any]:
        """(key, child) pairs and aux data of ``node``."""
        if self.flatten_with_keys is None:
            children, aux = self.split(node)
            return [(FlattenedIndexKey(i), c) for i, c in enumerate(children)], aux
        pairs, aux = self.flatten_with_keys(node)
        return list(pairs), aux

    def header(self, aux: Any) -> str:
        name = self.nodetype.__name__
        return f"namedtuple[{name}]" if self.is_namedtuple else f"{name}[{aux}]"

    def __repr__(self) -> str:
        return f"<pytree node kind {self.nodetype.__qualname__}>"

    def __reduce__(self):
        return (_kind_for_type, (self.nodetype,))


_node_kinds: dict[type, Any] = {tuple: tuple, list: list, dict: dict, type(None): _NONE_KIND}
_BUILTIN_NODES = frozenset(_node_kinds)
_registered: set[type] = set()


def _classify(nodetype: type) -> Any:
    """Kind of a type not yet in ``_node_kinds``: a namedtuple node or a leaf (then cached)."""
    if issubclass(nodetype, tuple) and hasattr(nodetype, "_fields"):
        fields = tuple(nodetype._fields)
        kind = _NodeKind(nodetype, lambda x: (tuple(x), None),
                         lambda aux, children: nodetype(*children),
                         lambda x: ([(GetAttrKey(f), v) for f, v in zip(fields, x, strict=True)],
                                    None),
                         is_namedtuple=True)
    else:
        kind = _LEAF
    _node_kinds[nodetype] = kind
    return kind


def _kind_for_type(nodetype: type) -> Any:
    return _node_kinds.get(nodetype) or _classify(nodetype)


def _add_kind(kind: _NodeKind, what: str = "") -> None:
    nodetype = kind.nodetype
    if not isinstance(nodetype, type):
        raise TypeError(f"Pytree node types must be classes, got {nodetype!r}.")
    if nodetype in _registered or nodetype in _BUILTIN_NODES:
        raise ValueError(f"Duplicate custom {what}PyTreeDef type registration for {nodetype}.")
    _registered.add(nodetype)
    _node_kinds[nodetype] = kind


# ----------------------------------------------------------------------------- flattening
#
# Tokens, in preorder: a leaf is _LEAF; None is None; a tuple or list is (tuple|list, n,
# *children); a dict is (dict, sorted_keys, *children); any other node is (kind, aux, n,
# *children). Header tags are identity-compared types/kinds, so equal token tuples mean
# equal structures.

def _sorted_keys(d: dict) -> tuple:
    try:
        return tuple(sorted(d))
    except TypeError as err:
        raise ValueError(f"Cannot flatten a dict whose keys cannot be sorted ({err}); "
                         f"keys: {list(d)!r:.200}. Use keys of one comparable type, or an "
                         "OrderedDict (flattened in insertion order).") from None


def _flatten(node, leaves, tokens):
    kind = _node_kinds.get(type(node)) or _classify(type(node))
    if kind is _LEAF:
        leaves.append(node)
        tokens.append(_LEAF)
        return
    if kind is tuple or kind is list:
        tokens.append(kind)
        tokens.append(len(node))
        children = node
    elif kind is dict:
        try:
            keys = tuple(sorted(node))
        except TypeError:
            keys = _sorted_keys(node)  # raises a clear error
        tokens.append(dict)
        tokens.append(keys)
        children = list(map(node.__getitem__, keys))
    elif kind is _NONE_KIND:
        tokens.append(None)
        return
    else:
        children, aux = kind.split(node)
        tokens += (kind, aux, len(children))
    get = _node_kinds.get
    for child in children:
        if get(type(child)) is _LEAF:
            leaves.append(child)
            tokens.append(_LEAF)
        else:
            _flatten(child, leaves, tokens)


def _flatten_is_leaf(node, is_leaf, leaves, tokens):
    if is_leaf(node):
        leaves.append(node)
        tokens.append(_LEAF)
        return
    kind = _node_kinds.get(type(node)) or _classify(type(node))
    if kind is _LEAF:
        leaves.append(node)
        tokens.append(_LEAF)
        return
    if kind is tuple or kind is list:
        tokens += (kind, len(node))
        children = node
    elif kind is dict:
        keys = _sorted_keys(node)
        tokens += (dict, keys)
        children = [node[k] for k in keys]
    elif kind is _NONE_KIND:
        tokens.append(None)
        return
    else:
        children, aux = kind.split(node)
        tokens += (kind, aux, len(children))
    for child in children:
        _flatten_is_leaf(child, is_leaf, leaves, tokens)


def _flatten_with_path(node, path, is_leaf, takes_path, pairs, tokens):
    if is_leaf is not None and (is_leaf(path, node) if takes_path else is_leaf(node)):
        pairs.append((path, node))
        tokens.append(_LEAF)
        return
    kind = _node_kinds.get(type(node)) or _classify(type(node))
    if kind is _LEAF:
        pairs.append((path, node))
        tokens.append(_LEAF)
        return
    if kind is tuple or kind is list:
        tokens += (kind, len(node))
        keyed = [(SequenceKey(i), c) for i, c in enumerate(node)]
    elif kind is dict:
        keys = _sorted_keys(node)
        tokens += (dict, keys)
        keyed = [(DictKey(k), node[k]) for k in keys]
    elif kind is _NONE_KIND:
        tokens.append(None)
        return
    else:
        keyed, aux = kind.split_with_keys(node)
        tokens += (kind, aux, len(keyed))
    for key, child in keyed:
        _flatten_with_path(child, (*path, key), is_leaf, takes_path, pairs, tokens)


def _build(tag, tok, leaf):
    """Rebuild the node whose header tag was just read; ``tok``/``leaf`` are __next__ methods."""
    if tag is tuple:
        return tuple([leaf() if (t := tok()) is _LEAF else _build(t, tok, leaf)
                      for _ in range(tok())])
    if tag is list:
        return [leaf() if (t := tok()) is _LEAF else _build(t, tok, leaf) for _ in range(tok())]
    if tag is dict:
        return {k: leaf() if (t := tok()) is _LEAF else _build(t, tok, leaf) for k in tok()}
    if tag is None:
        return None
    aux = tok()
    return tag.unflatten(aux, tuple([leaf() if (t := tok()) is _LEAF else _build(t, tok, leaf)
                                     for _ in range(tok())]))


_COMPILE_NEXT_TIME = _Sentinel("_COMPILE_NEXT_TIME")


def _compile(tag, tok):
    """A function ``leaves_iterator -> node`` for the node whose header tag was just read.

    Containers of leaves only become one C-level ``islice``; used for treedefs that are
    unflattened repeatedly (e.g. a jitted function's outputs).
    """
    if tag is _LEAF:
        return next
    if tag is None:
        return lambda it: None
    if tag is tuple or tag is list:
        n = tok()
    elif tag is dict:
        keys = tok()
        n = len(keys)
    else:
        aux, n, unflatten = tok(), tok(), tag.unflatten
    parts = [_compile(tok(), tok) for _ in range(n)]
    if all(p is next for p in parts):
        if tag is tuple:
            return lambda it: tuple(islice(it, n))
        if tag is list:
            return lambda it: list(islice(it, n))
        if tag is dict:
            return lambda it: dict(zip(keys, islice(it, n), strict=True))
        return lambda it: unflatten(aux, tuple(islice(it, n)))
    if tag is tuple:
        return lambda it: tuple([p(it) for p in parts])
    if tag is list:
        return lambda it: [p(it) for p in parts]
    if tag is dict:
        return lambda it: {k: p(it) for k, p in zip(keys, parts, strict=True)}
    return lambda it: unflatten(aux, tuple([p(it) for p in parts]))


def _header(tokens, pos):
    """(tag, aux, number of children, header length) of the node at ``tokens[pos]``."""
    tag = tokens[pos]
    if tag is _LEAF or tag is None:
        return tag, None, 0, 1
    if tag is tuple or tag is list:
        return tag, None, tokens[pos + 1], 2
    if tag is dict:
        return tag, tokens[pos + 1], len(tokens[pos + 1]), 2
    return tag, tokens[pos + 1], tokens[pos + 2], 3


def _child_spans(tokens, pos=0):
    """Header of the node at ``pos`` and the (start, end) token span of each of its children."""
    tag, aux, n, size = _header(tokens, pos)
    spans, start = [], pos + size
    for _ in range(n):
        end, pending = start, 1
        while pending:
            _, _, k, s = _header(tokens, end)
            end += s
            pending += k - 1
        spans.append((start, end))
        start = end
    return (tag, aux), spans


def _node_data(tag, aux):
    if tag is _LEAF:
        return None
    if tag is None:
        return (type(None), None)
    if tag is dict:
        return (dict, list(aux))
    if tag is tuple or tag is list:
        return (tag, None)
    return (tag.nodetype, aux)


class _StructureMismatch(Exception):
    """Raised inside ``_up_to``; collects the key path on the way out."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail
        self.path: list = []


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 120 else text[:117] + "..."


def _up_to(tag, tok, tree, out):
    """Append to ``out`` the subtrees of ``tree`` at the leaves of the node just read."""
    if tag is None:
        if tree is not None:
            raise _StructureMismatch(
                f"expected None but got {_short(tree)}. None is an empty pytree node, not a "
                "leaf; to treat None as a leaf, pass is_leaf=lambda x: x is None")
        return
    if tag is tuple or tag is list:
        n = tok()
        if type(tree) is not tag:
            raise _StructureMismatch(f"expected a {tag.__name__} but got a "
                                     f"{type(tree).__name__}: {_short(tree)}")
        if len(tree) != n:
            raise _StructureMismatch(f"expected a {tag.__name__} of length {n} but got one of "
                                     f"length {len(tree)}: {_short(tree)}")
        children, keys = tree, None
    elif tag is dict:
        keys = tok()
        if type(tree) is not dict:
            raise _StructureMismatch(f"expected a dict but got a {type(tree).__name__}: "
                                     f"{_short(tree)}")
        if len(tree) != len(keys) or not all(k in tree for k in keys):
            raise _StructureMismatch(f"expected a dict with keys {list(keys)!r} but got one "
                                     f"with keys {list(tree)!r}")
        children = [tree[k] for k in keys]
    else:
        aux, n = tok(), tok()
        if _kind_for_type(type(tree)) is not tag:
            raise _StructureMismatch(f"expected a {tag.nodetype.__name__} node but got a "
                                     f"{type(tree).__name__}: {_short(tree)}")
        children, tree_aux = tag.split(tree)
        if tree_aux != aux:
            raise _StructureMismatch(f"the {tag.nodetype.__name__} node's metadata differs: "
                                     f"expected {_short(aux)} but got {_short(tree_aux)}")
        if len(children) != n:
            raise _StructureMismatch(f"expected a {tag.nodetype.__name__} node with {n} "
                                     f"children but got {len(children)}")
        keys = tag
    for index, child in enumerate(children):
        t = tok()
        if t is _LEAF:
            out.append(child)
            continue
        try:
            _up_to(t, tok, child, out)
        except _StructureMismatch as err:
            # keys: None for a sequence, the sorted keys for a dict, else the node kind.
            if keys is None:
                err.path.append(SequenceKey(index))
            elif type(keys) is tuple:
                err.path.append(DictKey(keys[index]))
            else:
                err.path.append(keys.split_with_keys(tree)[0][index][0])
            raise


def _flatten_up_to(tokens, tree, what):
    """Subtrees of ``tree`` at the leaves of ``tokens``; ValueError naming any mismatch."""
    tok = iter(tokens).__next__
    tag = tok()
    if tag is _LEAF:
        return [tree]
    out = []
    try:
        _up_to(tag, tok, tree, out)
    except _StructureMismatch as err:
        where = keystr(tuple(reversed(err.path))) or "the root"
        raise ValueError(f"{what}: pytree structure mismatch at key path {where}: "
                         f"{err.detail}.") from None
    return out


# ----------------------------------------------------------------------------- PyTreeDef

class PyTreeDef:
    """The structure of a pytree: its node types, aux data and where the leaves go.

    Obtained from ``tree_flatten``/``tree_structure``; hashable and compared with ``==``.
    ``str`` gives JAX's format, e.g. ``PyTreeDef((*, {'a': *}))``.
    """

    __slots__ = ("_builder", "_hash", "_num_leaves", "_tokens")

    def __init__(self, tokens: tuple, num_leaves: int):
        self._tokens = tokens
        self._num_leaves = num_leaves
        self._hash = None
        self._builder = None

    @property
    def num_leaves(self) -> int:
        """Number of leaves."""
        return self._num_leaves

    @property
    def num_nodes(self) -> int:
        """Number of nodes, leaves and None nodes included."""
        tokens, pos, count = self._tokens, 0, 0
        while pos < len(tokens):
            pos += _header(tokens, pos)[3]
            count += 1
        return count

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if type(other) is not PyTreeDef:
            return NotImplemented
        if self._hash is not None and other._hash is not None and self._hash != other._hash:
            return False
        return self._num_leaves == other._num_leaves and self._tokens == other._tokens

    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            h = self._hash = hash(self._tokens)
        return h

    def __reduce__(self):
        return (PyTreeDef, (self._tokens, self._num_leaves))

    def __repr__(self) -> str:
        tok = iter(self._tokens).__next__

        def render(tag):
            if tag is _LEAF:
                return "*"
            if tag is None:
                return "None"
            if tag is tuple:
                n = tok()
                inner = ", ".join([render(tok()) for _ in range(n)])
                return f"({inner},)" if n == 1 else f"({inner})"
            if tag is list:
                return "[" + ", ".join([render(tok()) for _ in range(tok())]) + "]"
            if tag is dict:
                return "{" + ", ".join([f"{k!r}: {render(tok())}" for k in tok()]) + "}"
            aux = tok()
            inner = ", ".join([render(tok()) for _ in range(tok())])
            return f"CustomNode({tag.header(aux)}, [{inner}])"

        return f"PyTreeDef({render(tok())})"

    def unflatten(self, leaves: Iterable[Any]) -> Any:
        """Build the pytree with this structure from ``leaves`` (in flatten order).

        Example:
          >>> tree_structure((0, {'a': 0})).unflatten([1, 2])
          (1, {'a': 2})
        """
        if type(leaves) is not list and type(leaves) is not tuple:
            leaves = list(leaves)
        if len(leaves) != self._num_leaves:
            few = "few" if len(leaves) < self._num_leaves else "many"
            raise ValueError(f"Too {few} leaves for {self}: expected {self._num_leaves}, "
                             f"got {len(leaves)}.")
        builder = self._builder
        if builder is None:  # first use: rebuild directly, compile only if used again
            self._builder = _COMPILE_NEXT_TIME
            tok = iter(self._tokens).__next__
            tag = tok()
            return leaves[0] if tag is _LEAF else _build(tag, tok, iter(leaves).__next__)
        if builder is _COMPILE_NEXT_TIME:
            tok = iter(self._tokens).__next__
            builder = self._builder = _compile(tok(), tok)
        return builder(iter(leaves))

    def flatten_up_to(self, tree: Any) -> list:
        """The subtrees of ``tree`` found where this structure has leaves.

        Raises:
          ValueError: naming the key path where ``tree`` does not have this structure.

        Example:
          >>> tree_structure((0, 0)).flatten_up_to(([1, 2], 3))
          [[1, 2], 3]
        """
        return _flatten_up_to(self._tokens, tree, f"flatten_up_to({self})")

    def children(self) -> list[PyTreeDef]:
        """The treedefs of the root's children (empty for a leaf or None)."""
        tokens = self._tokens
        out = []
        for start, end in _child_spans(tokens)[1]:
            sub = tokens[start:end]
            out.append(PyTreeDef(sub, sum(1 for t in sub if t is _LEAF)))
        return out

    def node_data(self) -> tuple[type, Any] | None:
        """``(node type, aux data)`` of the root, or None for a leaf."""
        return _node_data(*_child_spans(self._tokens)[0])

    def walk(self, f_node: Callable, f_leaf: Callable | None, leaves: Iterable[Any]) -> Any:
        """Fold the tree: ``f_leaf(leaf)`` at leaves, ``f_node(children_results, aux)`` at
        nodes (aux as in ``node_data()``).

        Example:
          >>> tree_structure((0, 0)).walk(lambda xs, _: sum(xs), None, [1, 2])
          3
        """
        tok, next_leaf = iter(self._tokens).__next__, iter(leaves).__next__

        def node(tag):
            if tag is _LEAF:
                x = next_leaf()
                return x if f_leaf is None else f_leaf(x)
            if tag is None:
                return f_node((), None)
            if tag is tuple or tag is list:
                aux, n = None, tok()
            elif tag is dict:
                keys = tok()
                aux, n = list(keys), len(keys)
            else:
                aux, n = tok(), tok()
            return f_node(tuple([node(tok()) for _ in range(n)]), aux)

        return node(tok())

    def compose(self, inner: PyTreeDef) -> PyTreeDef:
        """The structure obtained by putting ``inner`` at every leaf of this structure."""
        tokens = []
        for t in self._tokens:
            if t is _LEAF:
                tokens += inner._tokens
            else:
                tokens.append(t)
        return PyTreeDef(tuple(tokens), self._num_leaves * inner._num_leaves)

    def from_iterable_tree(self, subtrees: Any) -> Any:
        """Build a tree of this structure from nested iterables holding each node's children
        in flatten order (leaves are taken as they are)."""
        tok = iter(self._tokens).__next__

        def build(tag, xs):
            if tag is _LEAF:
                return xs
            if tag is None:
                return None
            if tag is tuple or tag is list:
                aux, n = None, tok()
            elif tag is dict:
                aux = tok()
                n = len(aux)
            else:
                aux, n = tok(), tok()
            items = list(xs)
            if len(items) != n:
                raise ValueError(f"from_iterable_tree: expected {n} children, got {len(items)}: "
                                 f"{_short(items)}.")
            children = [build(tok(), x) for x in items]
            if tag is tuple or tag is list:
                return tag(children)
            if tag is dict:
                return dict(zip(aux, children, strict=True))
            return tag.unflatten(aux, tuple(children))

        return build(tok(), subtrees)

    @staticmethod
    def from_node_data_and_children(registry: Any, node_data: tuple | None,
                                    children: Iterable[PyTreeDef]) -> PyTreeDef:
        """Inverse of ``node_data()``/``children()``: a treedef from its root and children."""
        children = list(children)
        if node_data is None:
            if children:
                raise ValueError(f"A leaf (node_data None) has no children, got {children}.")
            return PyTreeDef((_LEAF,), 1)
        nodetype, aux = node_data
        if nodetype is tuple or nodetype is list:
            head = (nodetype, len(children))
        elif nodetype is dict:
            head = (dict, tuple(aux))
        elif nodetype is type(None):
            head = (None,)
        else:
            kind = _kind_for_type(nodetype)
            if kind is _LEAF:
                raise ValueError(f"{nodetype} is not a registered pytree node type.")
            head = (kind, aux, len(children))
        tokens = head + tuple(t for c in children for t in c._tokens)
        return PyTreeDef(tokens, sum(c._num_leaves for c in children))

