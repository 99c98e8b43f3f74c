"""Pytrees, mirroring ``jax.tree_util``: flatten nested containers to leaves and a PyTreeDef,
map over them, follow key paths, and register new node types.

None is an empty node (no leaves); tuples, lists, dicts (sorted keys), OrderedDict
(insertion order), defaultdict, namedtuples, Partial and registered classes are nodes;
everything else is a leaf. The token encoding and walkers live in ``fx._pytree``.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from ._pytree import (
    _LEAF,
    _NONE_KIND,
    DictKey,
    FlattenedIndexKey,
    GetAttrKey,
    KeyEntry,
    KeyPath,
    PyTreeDef,
    SequenceKey,
    _add_kind,
    _build,
    _flatten,
    _flatten_is_leaf,
    _flatten_up_to,
    _flatten_with_path,
    _kind_for_type,
    _NodeKind,
    _sorted_keys,
    keystr,
)

__all__ = [
    "DictKey", "FlattenedIndexKey", "GetAttrKey", "KeyEntry", "KeyPath", "Partial", "PyTreeDef",
    "PyTreeRegistry", "SequenceKey", "all_leaves", "build_tree", "default_registry",
    "flatten_one_level", "flatten_one_level_with_keys", "is_tree_node", "keystr",
    "register_dataclass", "register_pytree_node", "register_pytree_node_class",
    "register_pytree_with_keys", "register_pytree_with_keys_class", "register_static",
    "tree_all", "tree_broadcast", "tree_flatten", "tree_flatten_with_path", "tree_leaves",
    "tree_leaves_with_path", "tree_map", "tree_map_with_path", "tree_reduce",
    "tree_reduce_associative", "tree_structure", "tree_transpose", "tree_unflatten",
    "treedef_children", "treedef_is_leaf", "treedef_tuple",
]


# ----------------------------------------------------------------------------- registration

def register_pytree_node(nodetype: type, flatten_func: Callable, unflatten_func: Callable,
                         flatten_with_keys_func: Callable | None = None) -> None:
    """Register a type as a pytree node.

    Args:
      nodetype: the class to register (matched by exact type, not subclasses).
      flatten_func: ``x -> (children, aux_data)``; aux_data must be hashable.
      unflatten_func: ``(aux_data, children) -> x``.
      flatten_with_keys_func: optional ``x -> (((key, child), ...), aux_data)``.

    Example:
      >>> register_pytree_node(Box, lambda b: ((b.a,), None), lambda _, c: Box(*c))
    """
    _add_kind(_NodeKind(nodetype, flatten_func, unflatten_func, flatten_with_keys_func))


def register_pytree_with_keys(nodetype: type, flatten_with_keys: Callable,
                              unflatten_func: Callable, flatten_func: Callable | None = None):
    """Register a pytree node whose flatten function also names each child with a key.

    Args:
      nodetype: the class to register.
      flatten_with_keys: ``x -> (((key, child), ...), aux_data)``.
      unflatten_func: ``(aux_data, children) -> x``.
      flatten_func: optional faster ``x -> (children, aux_data)``; derived if omitted.

    Example:
      >>> register_pytree_with_keys(Box, lambda b: (((GetAttrKey('a'), b.a),), None),
      ...                           lambda _, c: Box(*c))
    """
    if flatten_func is None:
        def flatten_func(x):
            pairs, aux = flatten_with_keys(x)
            return [child for _, child in pairs], aux
    _add_kind(_NodeKind(nodetype, flatten_func, unflatten_func, flatten_with_keys))


def register_pytree_node_class(cls: type) -> type:
    """Class decorator: register ``cls`` using its ``tree_flatten`` method and
    ``tree_unflatten`` classmethod. Returns ``cls``.

    Example:
      >>> @register_pytree_node_class
      ... class Box:
      ...     def tree_flatten(self): return (self.a,), None
      ...     @classmethod
      ...     def tree_unflatten(cls, aux, children): return cls(*children)
    """
    register_pytree_node(cls, lambda x: x.tree_flatten(), cls.tree_unflatten)
    return cls


def register_pytree_with_keys_class(cls: type) -> type:
    """Class decorator: register ``cls`` using its ``tree_flatten_with_keys`` method,
    ``tree_unflatten`` classmethod and, if present, ``tree_flatten``. Returns ``cls``.

    Example:
      >>> @register_pytree_with_keys_class
      ... class Box: ...   # defines tree_flatten_with_keys and tree_unflatten
    """
    flatten = (lambda x: x.tree_flatten()) if hasattr(cls, "tree_flatten") else None
    register_pytree_with_keys(cls, lambda x: x.tree_flatten_with_keys(), cls.tree_unflatten,
                              flatten)
    return cls


def register_dataclass(nodetype: type, data_fields: Iterable[str] | None = None,
                       meta_fields: Iterable[str] | None = None,
                       drop_fields: Iterable[str] = ()) -> type:
    """Register a dataclass-like type whose data fields are children and meta fields aux data.

    Args:
      nodetype: the class; rebuilt by calling ``nodetype(**fields)``.
      data_fields: names of the fields that are pytree children. If both this and
        ``meta_fields`` are omitted, ``nodetype`` must be a dataclass: fields whose metadata
        has ``static=True`` (see ``fx.tree.static``) are meta, the other ``init`` fields data.
      meta_fields: names of the static fields, part of the treedef (must be hashable).
      drop_fields: dataclass fields deliberately left out of both lists.

    Returns:
      ``nodetype``, so this works as a decorator.

    Example:
      >>> @register_dataclass
      ... @dataclasses.dataclass
      ... class Params:
      ...     w: Any
      ...     name: str = dataclasses.field(default="p", metadata=dict(static=True))
    """
    if data_fields is None and meta_fields is None:
        if not dataclasses.is_dataclass(nodetype):
            raise TypeError("register_dataclass: data_fields and meta_fields are required when "
                            f"nodetype is not a dataclass. Got nodetype={nodetype!r}.")
        dropped = set(drop_fields)
        fields = [f for f in dataclasses.fields(nodetype) if f.init and f.name not in dropped]
        meta_fields = [f.name for f in fields if f.metadata.get("static", False)]
        data_fields = [f.name for f in fields if not f.metadata.get("static", False)]
    elif data_fields is None or meta_fields is None:
        raise TypeError("register_dataclass: data_fields and meta_fields must both be given "
                        f"when either is. Got data_fields={data_fields!r}, "
                        f"meta_fields={meta_fields!r}.")
    data_fields, meta_fields = tuple(data_fields), tuple(meta_fields)
    if dataclasses.is_dataclass(nodetype):
        init_fields = {f.name for f in dataclasses.fields(nodetype) if f.init}
        given = set(data_fields) | set(meta_fields)
        missing = init_fields - given - set(drop_fields)
        unexpected = given - init_fields
        if missing:
            raise ValueError("data_fields and meta_fields must include all dataclass fields "
                             f"with init=True. Missing fields: {missing}. Add them to "
                             "drop_fields to leave them out on purpose.")
        if unexpected:
            raise ValueError("data_fields and meta_fields must name only dataclass fields "
                             f"with init=True. Unexpected fields: {unexpected}.")

    def flatten(x):
        return ([getattr(x, n) for n in data_fields], tuple(getattr(x, n) for n in meta_fields))

    def flatten_with_keys(x):
        return ([(GetAttrKey(n), getattr(x, n)) for n in data_fields],
                tuple(getattr(x, n) for n in meta_fields))

    def unflatten(aux, children):
        return nodetype(**dict(zip(data_fields, children, strict=True)),
                        **dict(zip(meta_fields, aux, strict=True)))

    _add_kind(_NodeKind(nodetype, flatten, unflatten, flatten_with_keys), "dataclass ")
    return nodetype


def register_static(cls: type) -> type:
    """Register ``cls`` as a node with no children whose instances are themselves the aux data
    (so they live in the treedef and must be hashable). Returns ``cls``.

    Example:
      >>> register_static(MyConfig)
    """
    register_pytree_with_keys(cls, lambda x: ((), x), lambda aux, _: aux, lambda x: ((), x))
    return cls


def is_tree_node(typ: type) -> bool:
    """True if ``typ`` is a pytree node type (built in, registered, or a namedtuple).

    Example:
      >>> is_tree_node(dict), is_tree_node(int)
      (True, False)
    """
    return _kind_for_type(typ) is not _LEAF


# ----------------------------------------------------------------------------- public API

def tree_flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None
                 ) -> tuple[list, PyTreeDef]:
    """Flatten a pytree into its leaves and its structure.

    Args:
      tree: the pytree.
      is_leaf: optional predicate; a subtree for which it returns True is a leaf.

    Returns:
      ``(leaves, treedef)``; ``tree_unflatten(treedef, leaves)`` rebuilds ``tree``.

    Example:
      >>> tree_flatten((1, {'b': 2, 'a': None}))
      ([1, 2], PyTreeDef((*, {'a': None, 'b': *})))
    """
    leaves, tokens = [], []
    if is_leaf is None:
        _flatten(tree, leaves, tokens)
    else:
        _flatten_is_leaf(tree, is_leaf, leaves, tokens)
    return leaves, PyTreeDef(tuple(tokens), len(leaves))


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Any:
    """Rebuild a pytree from a treedef and its leaves (see ``PyTreeDef.unflatten``).

    Example:
      >>> tree_unflatten(tree_structure([0, 0]), [1, 2])
      [1, 2]
    """
    if type(treedef) is not PyTreeDef:
        raise TypeError(f"tree_unflatten expects a PyTreeDef, got {type(treedef).__name__}; "
                        "note the argument order is (treedef, leaves).")
    return treedef.unflatten(leaves)


def tree_leaves(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> list:
    """The leaves of a pytree, in flatten order.

    Example:
      >>> tree_leaves({'b': [1, 2], 'a': 3})
      [3, 1, 2]
    """
    leaves: list = []
    if is_leaf is None:
        _flatten(tree, leaves, [])
    else:
        _flatten_is_leaf(tree, is_leaf, leaves, [])
    return leaves


def tree_structure(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> PyTreeDef:
    """The PyTreeDef of a pytree.

    Example:
      >>> tree_structure((1, [2, None]))
      PyTreeDef((*, [*, None]))
    """
    return tree_flatten(tree, is_leaf)[1]


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any,
             is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Apply ``f`` to corresponding leaves of ``tree`` and ``rest``.

    Args:
      f: called as ``f(x, *ys)`` for each leaf ``x`` of ``tree``.
      tree: the pytree whose structure the result has.
      *rest: pytrees that have ``tree``'s structure, or have it as a prefix (then ``f`` gets
        the whole subtree found where ``tree`` has a leaf).
      is_leaf: optional predicate marking extra leaves of ``tree``.

    Returns:
      A pytree of ``tree``'s structure holding the results.

    Raises:
      ValueError: if a tree in ``rest`` does not match, naming the key path.

    Example:
      >>> tree_map(lambda x, y: x + y, (1, {'a': 2}), (10, {'a': 20}))
      (11, {'a': 22})
    """
    leaves, tokens = [], []
    if is_leaf is None:
        _flatten(tree, leaves, tokens)
    else:
        _flatten_is_leaf(tree, is_leaf, leaves, tokens)
    if rest:
        columns = [_flatten_up_to(tokens, other, f"tree_map: argument {i + 2} (rest[{i}]) "
                                  "does not have the structure of the first tree")
                   for i, other in enumerate(rest)]
        results = [f(*xs) for xs in zip(leaves, *columns, strict=True)]
    else:
        results = [f(x) for x in leaves]
    tok = iter(tokens).__next__
    tag = tok()
    return results[0] if tag is _LEAF else _build(tag, tok, iter(results).__next__)


def tree_flatten_with_path(tree: Any, is_leaf: Callable[..., bool] | None = None,
                           is_leaf_takes_path: bool = False
                           ) -> tuple[list[tuple[KeyPath, Any]], PyTreeDef]:
    """Like ``tree_flatten`` but each leaf comes with its key path.

    Args:
      tree: the pytree.
      is_leaf: optional predicate, called as ``is_leaf(x)`` or, with
        ``is_leaf_takes_path=True``, as ``is_leaf(path, x)``.
      is_leaf_takes_path: see ``is_leaf``.

    Returns:
      ``([(path, leaf), ...], treedef)``.

    Example:
      >>> tree_flatten_with_path({'a': [5]})[0]
      [((DictKey(key='a'), SequenceKey(idx=0)), 5)]
    """
    pairs, tokens = [], []
    _flatten_with_path(tree, (), is_leaf, is_leaf_takes_path, pairs, tokens)
    return pairs, PyTreeDef(tuple(tokens), len(pairs))


def tree_leaves_with_path(tree: Any, is_leaf: Callable[..., bool] | None = None,
                          is_leaf_takes_path: bool = False) -> list[tuple[KeyPath, Any]]:
    """``(path, leaf)`` pairs of a pytree (see ``tree_flatten_with_path``).

    Example:
      >>> [keystr(p) for p, _ in tree_leaves_with_path({'a': (1, 2)})]
      ["['a'][0]", "['a'][1]"]
    """
    return tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)[0]


def tree_map_with_path(f: Callable[..., Any], tree: Any, *rest: Any,
                       is_leaf: Callable[..., bool] | None = None,
                       is_leaf_takes_path: bool = False) -> Any:
    """Like ``tree_map`` but ``f`` is called as ``f(path, x, *ys)``.

    Example:
      >>> tree_map_with_path(lambda p, x: keystr(p), {'a': 1})
      {'a': "['a']"}
    """
    pairs, treedef = tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)
    columns = [_flatten_up_to(treedef._tokens, other, f"tree_map_with_path: argument {i + 2} "
                              f"(rest[{i}]) does not have the structure of the first tree")
               for i, other in enumerate(rest)]
    return treedef.unflatten([f(p, x, *ys) for (p, x), *ys in zip(pairs, *columns, strict=True)])


def treedef_children(treedef: PyTreeDef) -> list[PyTreeDef]:
    """The treedefs of the root's children. Example: ``treedef_children(tree_structure((1, [2])))``
    is ``[PyTreeDef(*), PyTreeDef([*])]``."""
    return treedef.children()


def treedef_is_leaf(treedef: PyTreeDef) -> bool:
    """True if the treedef has no children: a leaf, None, or an empty container."""
    return treedef.num_nodes == 1


def treedef_tuple(treedefs: Iterable[PyTreeDef]) -> PyTreeDef:
    """The treedef of a tuple whose children have ``treedefs``.

    Example:
      >>> treedef_tuple([tree_structure(1), tree_structure([1, 2])])
      PyTreeDef((*, [*, *]))
    """
    treedefs = list(treedefs)
    tokens = (tuple, len(treedefs)) + tuple(t for d in treedefs for t in d._tokens)
    return PyTreeDef(tokens, sum(d._num_leaves for d in treedefs))


def build_tree(treedef: PyTreeDef, xs: Any) -> Any:
    """Build a tree of ``treedef``'s structure from nested iterables of children (see
    ``PyTreeDef.from_iterable_tree``). Kept from older JAX releases."""
    return treedef.from_iterable_tree(xs)


def all_leaves(iterable: Iterable[Any], is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """True if every element of ``iterable`` is a leaf (None is not).

    Example:
      >>> all_leaves([1, 2.0]), all_leaves([1, (2,)])
      (True, False)
    """
    for x in iterable:
        if is_leaf is not None and is_leaf(x):
            continue
        if _kind_for_type(type(x)) is not _LEAF:
            return False
    return True


def tree_all(tree: Any, *, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """True if every leaf is truthy (``all(tree_leaves(tree))``)."""
    return all(tree_leaves(tree, is_leaf))


class _Unspecified:
    def __repr__(self) -> str:
        return "<unspecified>"


_UNSPECIFIED = _Unspecified()


def tree_reduce(function: Callable[[Any, Any], Any], tree: Any,
                initializer: Any = _UNSPECIFIED,
                is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """``functools.reduce`` over the leaves.

    Example:
      >>> tree_reduce(lambda a, b: a + b, [1, (2, 3)])
      6
    """
    leaves = tree_leaves(tree, is_leaf)
    if initializer is _UNSPECIFIED:
        return functools.reduce(function, leaves)
    return functools.reduce(function, leaves, initializer)


def tree_reduce_associative(operation: Callable[[Any, Any], Any], tree: Any, *,
                            identity: Any = _UNSPECIFIED,
                            is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Reduce the leaves with an associative ``operation`` as a balanced binary tree.

    Example:
      >>> tree_reduce_associative(lambda a, b: (a, b), [1, 2, 3, 4])
      ((1, 2), (3, 4))
    """
    leaves = tree_leaves(tree, is_leaf)
    if not leaves:
        if identity is _UNSPECIFIED:
            raise TypeError("tree_reduce_associative: the tree has no leaves; pass identity= "
                            "to reduce an empty tree.")
        return identity

    def reduce(lo, hi):
        if hi - lo == 1:
            return leaves[lo]
        mid = lo + (hi - lo) // 2
        return operation(reduce(lo, mid), reduce(mid, hi))

    return reduce(0, len(leaves))


def tree_transpose(outer_treedef: PyTreeDef, inner_treedef: PyTreeDef | None,
                   pytree_to_transpose: Any) -> Any:
    """Turn a tree of ``outer`` structure with ``inner``-structured subtrees inside out.

    Args:
      outer_treedef: structure of the outer tree.
      inner_treedef: structure of each subtree; inferred from the first one if None.
      pytree_to_transpose: the tree, of structure ``outer_treedef.compose(inner_treedef)``.

    Example:
      >>> tree_transpose(tree_structure([0, 0]), tree_structure((0, 0)), [(1, 2), (3, 4)])
      ([1, 3], [2, 4])
    """
    flat, treedef = tree_flatten(pytree_to_transpose)
    if inner_treedef is None:
        subtrees = outer_treedef.flatten_up_to(pytree_to_transpose)
        if not subtrees:
            raise ValueError("tree_transpose: cannot infer inner_treedef because "
                             f"{outer_treedef} has no leaves; pass inner_treedef.")
        inner_treedef = tree_structure(subtrees[0])
    expected = outer_treedef.compose(inner_treedef)
    if treedef != expected:
        raise TypeError(f"tree_transpose: the tree has structure {treedef}, but outer_treedef "
                        f"composed with inner_treedef is {expected}.")
    n_inner = inner_treedef.num_leaves
    columns = [outer_treedef.unflatten(flat[j::n_inner]) for j in range(n_inner)]
    return inner_treedef.unflatten(columns)


def tree_broadcast(prefix_tree: Any, full_tree: Any,
                   is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Repeat each leaf of ``prefix_tree`` over the matching subtree of ``full_tree``.

    Example:
      >>> tree_broadcast((1, 2), ((0, 0), 0))
      ((1, 1), 2)
    """
    leaves, tokens = [], []
    if is_leaf is None:
        _flatten(prefix_tree, leaves, tokens)
    else:
        _flatten_is_leaf(prefix_tree, is_leaf, leaves, tokens)
    subtrees = _flatten_up_to(tokens, full_tree, "tree_broadcast: full_tree does not "
                              "have prefix_tree's structure as a prefix")
    out = []
    for x, sub in zip(leaves, subtrees, strict=True):
        out += [x] * tree_structure(sub).num_leaves
    return tree_structure(full_tree).unflatten(out)


def flatten_one_level(tree: Any) -> tuple[Iterable[Any], Hashable]:
    """Flatten only the root node: ``(children, aux_data)``.

    Raises:
      ValueError: if ``tree`` is a leaf.

    Example:
      >>> flatten_one_level({'b': 1, 'a': [2]})
      (([2], 1), ('a', 'b'))
    """
    kind = _kind_for_type(type(tree))
    if kind is _LEAF:
        raise ValueError(f"can't tree-flatten type: {type(tree)} (it is a leaf).")
    if kind is _NONE_KIND:
        return (), None
    if kind is tuple or kind is list:
        return tree, None
    if kind is dict:
        keys = _sorted_keys(tree)
        return tuple(tree[k] for k in keys), keys
    return kind.split(tree)


def flatten_one_level_with_keys(tree: Any) -> tuple[Iterable[tuple[KeyEntry, Any]], Hashable]:
    """Flatten only the root node: ``(((key, child), ...), aux_data)``.

    Raises:
      ValueError: if ``tree`` is a leaf.

    Example:
      >>> flatten_one_level_with_keys([7])
      (((SequenceKey(idx=0), 7),), None)
    """
    kind = _kind_for_type(type(tree))
    if kind is _LEAF:
        raise ValueError(f"can't tree-flatten type: {type(tree)} (it is a leaf).")
    if kind is _NONE_KIND:
        return (), None
    if kind is tuple or kind is list:
        return tuple((SequenceKey(i), c) for i, c in enumerate(tree)), None
    if kind is dict:
        keys = _sorted_keys(tree)
        return tuple((DictKey(k), tree[k]) for k in keys), keys
    return kind.split_with_keys(tree)


# ----------------------------------------------------------------------------- built-in nodes

def _ordered_dict_keyed(x):
    keys = tuple(x)
    return [(DictKey(k), x[k]) for k in keys], keys


def _defaultdict_keyed(x):
    keys = _sorted_keys(x)
    return [(DictKey(k), x[k]) for k in keys], (x.default_factory, keys)


register_pytree_with_keys(
    collections.OrderedDict, _ordered_dict_keyed,
    lambda keys, values: collections.OrderedDict(zip(keys, values, strict=True)),
    lambda x: (list(x.values()), tuple(x)))
register_pytree_with_keys(
    collections.defaultdict, _defaultdict_keyed,
    lambda aux, values: collections.defaultdict(aux[0], zip(aux[1], values, strict=True)))


class _StaticCallable:
    """Holds a functools.partial given to Partial so its arguments stay static aux data."""

    __slots__ = ("fun",)

    def __init__(self, fun: Callable):
        self.fun = fun

    def __call__(self, *args, **kwargs):
        return self.fun(*args, **kwargs)

    def __eq__(self, other: object) -> bool:
        return self.fun == (other.fun if isinstance(other, _StaticCallable) else other)

    def __hash__(self) -> int:
        return hash(self.fun)

    def __repr__(self) -> str:
        return repr(self.fun)


class Partial(functools.partial):
    """A ``functools.partial`` that is a pytree: ``args`` and ``keywords`` are its children,
    ``func`` its static aux data. Lets partially-applied functions cross ``jit``/``vmap``.

    Example:
      >>> add = Partial(lambda x, y: x + y, 1)
      >>> tree_map(lambda v: v * 10, add)(2)
      12
    """

    def __new__(cls, func: Callable, *args: Any, **kwargs: Any):
        if isinstance(func, functools.partial):
            # functools.partial would merge an inner partial's arguments into this one.
            func = _StaticCallable(func)
        return super().__new__(cls, func, *args, **kwargs)


register_pytree_with_keys(
    Partial,
    lambda p: (((FlattenedIndexKey(0), p.args), (FlattenedIndexKey(1), p.keywords)), p.func),
    lambda func, children: Partial(func, *children[0], **children[1]),
    lambda p: ((p.args, p.keywords), p.func))


class PyTreeRegistry:
    """The (single) registry of pytree node types; ``default_registry`` is its instance."""

    def flatten(self, tree: Any, leaf_predicate: Callable | None = None):
        return tree_flatten(tree, leaf_predicate)

    def flatten_with_path(self, tree: Any, leaf_predicate: Callable | None = None):
        return tree_flatten_with_path(tree, leaf_predicate)

    def flatten_one_level(self, tree: Any):
        return flatten_one_level(tree)

    def flatten_one_level_with_keys(self, tree: Any):
        return flatten_one_level_with_keys(tree)

    def is_node(self, typ: type) -> bool:
        return is_tree_node(typ)

    def register_node(self, nodetype: type, to_iterable: Callable, from_iterable: Callable,
                      to_iterable_with_keys: Callable | None = None) -> None:
        register_pytree_node(nodetype, to_iterable, from_iterable, to_iterable_with_keys)

    def register_dataclass_node(self, nodetype: type, data_fields: Iterable[str],
                                meta_fields: Iterable[str]) -> None:
        register_dataclass(nodetype, data_fields, meta_fields)


default_registry = PyTreeRegistry()
