"""Tests for fx.tree_util and fx.tree: round trips, structure, maps, key paths, registration,
errors; with jax installed, leaves, treedef strings and key paths are checked against
jax.tree_util as an oracle."""

import dataclasses
import functools
import pickle
from collections import OrderedDict, defaultdict, namedtuple
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx.tree
from fx import tree_util as tu
from fx.tree_util import DictKey, FlattenedIndexKey, GetAttrKey, SequenceKey

# ----------------------------------------------------------------------------- node types

Point = namedtuple("Point", "x y")


class Box:
    """A custom node with two children and a string of metadata."""

    def __init__(self, a, b, meta):
        self.a, self.b, self.meta = a, b, meta

    def __eq__(self, other):
        return (type(other) is Box and self.meta == other.meta
                and _same(self.a, other.a) and _same(self.b, other.b))

    def __repr__(self):
        return f"Box({self.a!r}, {self.b!r}, {self.meta!r})"


def _box_flatten(box):
    return (box.a, box.b), box.meta


def _box_unflatten(meta, children):
    return Box(*children, meta)


tu.register_pytree_node(Box, _box_flatten, _box_unflatten)


@dataclasses.dataclass
class Pair:
    """A dataclass node: two data fields and one static field."""

    left: Any
    right: Any
    tag: str = dataclasses.field(default="t", metadata=dict(static=True))


tu.register_dataclass(Pair)


def _same(a, b):
    """Exact equality: same types all the way down and, for OrderedDict, same key order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        if isinstance(a, OrderedDict) and list(a) != list(b):
            return False
        if isinstance(a, defaultdict) and a.default_factory is not b.default_factory:
            return False
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, Pair):
        return a.tag == b.tag and _same(a.left, b.left) and _same(a.right, b.right)
    return a == b


leaf_values = st.one_of(st.integers(-9, 9), st.floats(-4, 4, width=32), st.text("ab", max_size=2))
keys = st.text("abc", max_size=2)


def _containers(children):
    dicts = st.dictionaries(keys, children, max_size=3)
    return st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        dicts,
        dicts.map(OrderedDict),
        dicts.map(lambda d: defaultdict(list, d)),
        st.tuples(children, children).map(lambda t: Point(*t)),
        st.tuples(children, children, st.sampled_from("mn")).map(lambda t: Box(*t)),
        st.tuples(children, children, st.sampled_from("uv")).map(lambda t: Pair(*t)),
    )


trees = st.recursive(st.one_of(leaf_values, st.none()), _containers, max_leaves=10)


@pytest.fixture(scope="module")
def jtu(jax):
    """jax.tree_util with this module's node types registered (``jax`` skips without JAX)."""
    jax.tree_util.register_pytree_node(Box, _box_flatten, _box_unflatten)
    jax.tree_util.register_dataclass(Pair)
    return jax.tree_util


# ----------------------------------------------------------------------------- round trips

@settings(deadline=None)
@given(trees)
def test_flatten_unflatten_round_trip(tree):
    leaves, treedef = tu.tree_flatten(tree)
    assert treedef.num_leaves == len(leaves)
    for _ in range(3):  # first, second and compiled unflatten paths
        assert _same(tu.tree_unflatten(treedef, leaves), tree)
    assert tu.tree_leaves(tree) == leaves
    assert tu.tree_structure(tree) == treedef


@settings(deadline=None)
@given(trees)
def test_structure_equality_and_hash(tree):
    treedef = tu.tree_structure(tree)
    mapped = tu.tree_map(repr, tree)
    assert tu.tree_structure(mapped) == treedef
    assert hash(tu.tree_structure(mapped)) == hash(treedef)
    assert tu.tree_structure([tree]) != treedef
    assert pickle.loads(pickle.dumps(treedef)) == treedef


@settings(deadline=None)
@given(trees)
def test_children_and_node_data_rebuild_treedef(tree):
    treedef = tu.tree_structure(tree)
    rebuilt = tu.PyTreeDef.from_node_data_and_children(
        tu.default_registry, treedef.node_data(), treedef.children())
    assert rebuilt == treedef
    if treedef.node_data() is None:  # a leaf
        assert treedef.children() == [] and treedef.num_leaves == treedef.num_nodes == 1
        return
    assert sum(c.num_leaves for c in treedef.children()) == treedef.num_leaves
    assert 1 + sum(c.num_nodes for c in treedef.children()) == treedef.num_nodes


@settings(deadline=None)
@given(trees)
def test_paths_lead_to_leaves(tree):
    pairs, treedef = tu.tree_flatten_with_path(tree)
    assert [x for _, x in pairs] == tu.tree_leaves(tree)
    assert treedef == tu.tree_structure(tree)
    for path, leaf in pairs:
        node = tree
        for key in path:
            if isinstance(key, SequenceKey):
                node = node[key.idx]
            elif isinstance(key, DictKey):
                node = node[key.key]
            elif isinstance(key, GetAttrKey):
                node = getattr(node, key.name)
            else:
                node = tu.flatten_one_level(node)[0][key.key]
        assert node is leaf


# ----------------------------------------------------------------------------- JAX oracle

@pytest.mark.jax
@settings(deadline=None)
@given(trees)
def test_matches_jax(jtu, tree):
    leaves, treedef = tu.tree_flatten(tree)
    jleaves, jtreedef = jtu.tree_flatten(tree)
    assert leaves == jleaves
    assert str(treedef) == str(jtreedef)
    assert (treedef.num_leaves, treedef.num_nodes) == (jtreedef.num_leaves, jtreedef.num_nodes)
    assert [str(c) for c in treedef.children()] == [str(c) for c in jtreedef.children()]
    assert tu.treedef_is_leaf(treedef) == jtu.treedef_is_leaf(jtreedef)
    paths = [p for p, _ in tu.tree_leaves_with_path(tree)]
    jpaths = [p for p, _ in jtu.tree_leaves_with_path(tree)]
    assert [tu.keystr(p) for p in paths] == [jtu.keystr(p) for p in jpaths]
    assert ([tu.keystr(p, simple=True, separator="/") for p in paths]
            == [jtu.keystr(p, simple=True, separator="/") for p in jpaths])
    assert [repr(p) for p in paths] == [repr(p) for p in jpaths]
    assert _same(tu.tree_unflatten(treedef, leaves), jtu.tree_unflatten(jtreedef, jleaves))


@pytest.mark.jax
@settings(deadline=None)
@given(trees)
def test_is_leaf_matches_jax(jtu, tree):
    def is_leaf(x):
        return isinstance(x, (list, Point)) or x is None

    leaves, treedef = tu.tree_flatten(tree, is_leaf=is_leaf)
    jleaves, jtreedef = jtu.tree_flatten(tree, is_leaf=is_leaf)
    assert len(leaves) == len(jleaves) and all(a is b for a, b in zip(leaves, jleaves, strict=True))
    assert str(treedef) == str(jtreedef)


@pytest.mark.jax
def test_special_nodes_match_jax(jtu):
    cases = [None, (), [], {}, 5, {1: "a", 2: "b"}, Point(1, None),
             tu.Partial(max, 1, key=2), {"a": {}, "b": [None]}]
    for tree in cases:
        jtree = jtu.Partial(max, 1, key=2) if isinstance(tree, tu.Partial) else tree
        assert str(tu.tree_structure(tree)) == str(jtu.tree_structure(jtree))
        assert tu.tree_leaves(tree) == jtu.tree_leaves(jtree)
        fx_paths = [tu.keystr(p) for p, _ in tu.tree_leaves_with_path(tree)]
        assert fx_paths == [jtu.keystr(p) for p, _ in jtu.tree_leaves_with_path(jtree)]


@pytest.mark.jax
def test_key_entries_match_jax(jtu):
    for ours, theirs in [(DictKey("a"), jtu.DictKey("a")), (SequenceKey(2), jtu.SequenceKey(2)),
                         (GetAttrKey("x"), jtu.GetAttrKey("x")),
                         (FlattenedIndexKey(3), jtu.FlattenedIndexKey(3))]:
        assert (repr(ours), str(ours)) == (repr(theirs), str(theirs))


# ----------------------------------------------------------------------------- semantics

def test_none_is_an_empty_node():
    assert tu.tree_leaves([1, None, (None,)]) == [1]
    assert str(tu.tree_structure(None)) == "PyTreeDef(None)"
    assert tu.tree_structure(None).num_leaves == 0
    assert tu.tree_leaves([1, None], is_leaf=lambda x: x is None) == [1, None]
    assert tu.tree_map(lambda x: x + 1, (1, None)) == (2, None)


def test_dicts_flatten_sorted_and_ordered_dicts_in_insertion_order():
    leaves, treedef = tu.tree_flatten({"b": 1, "a": 2})
    assert leaves == [2, 1] and str(treedef) == "PyTreeDef({'a': *, 'b': *})"
    assert list(tu.tree_unflatten(treedef, [10, 20])) == ["a", "b"]
    ordered = OrderedDict(b=1, a=2)
    assert tu.tree_leaves(ordered) == [1, 2]
    assert list(tu.tree_map(lambda x: x, ordered)) == ["b", "a"]
    assert tu.tree_structure(OrderedDict(a=1, b=2)) != tu.tree_structure(ordered)
    assert tu.tree_structure({"a": 1}) != tu.tree_structure(OrderedDict(a=1))
    dd = tu.tree_map(lambda x: -x, defaultdict(list, {"b": 1, "a": 2}))
    assert type(dd) is defaultdict and dd.default_factory is list and dd == {"a": -2, "b": -1}
    with pytest.raises(ValueError, match="cannot be sorted"):
        tu.tree_flatten({"a": 1, 1: 2})


def test_namedtuples_are_nodes_with_attribute_keys():
    leaves, treedef = tu.tree_flatten(Point(1, (2, 3)))
    assert leaves == [1, 2, 3]
    assert str(treedef) == "PyTreeDef(CustomNode(namedtuple[Point], [*, (*, *)]))"
    assert treedef.node_data() == (Point, None)
    assert treedef != tu.tree_structure((1, (2, 3)))
    assert tu.tree_map(lambda x: x * 2, Point(1, 2)) == Point(2, 4)
    assert [tu.keystr(p) for p, _ in tu.tree_leaves_with_path(Point(1, 2))] == [".x", ".y"]


def test_treedef_repr_and_properties():
    treedef = tu.tree_structure((1, {"a": 2, "b": [3, None]}))
    assert repr(treedef) == "PyTreeDef((*, {'a': *, 'b': [*, None]}))"
    assert str(tu.tree_structure((1,))) == "PyTreeDef((*,))"
    assert str(tu.tree_structure(Box(1, 2, "m"))) == "PyTreeDef(CustomNode(Box[m], [*, *]))"
    assert treedef.num_leaves == 3 and treedef.num_nodes == 7
    assert [str(c) for c in treedef.children()] == [
        "PyTreeDef(*)", "PyTreeDef({'a': *, 'b': [*, None]})"]
    assert treedef.node_data() == (tuple, None)
    assert tu.tree_structure({"b": 1, "a": 2}).node_data() == (dict, ["a", "b"])
    assert tu.tree_structure(1).node_data() is None
    assert tu.treedef_children(treedef) == treedef.children()
    assert tu.treedef_is_leaf(tu.tree_structure(1)) and tu.treedef_is_leaf(tu.tree_structure(()))
    assert not tu.treedef_is_leaf(treedef)
    assert tu.treedef_tuple([tu.tree_structure(1), tu.tree_structure([1, 2])]) == \
        tu.tree_structure((0, [0, 0]))
    assert (treedef == 5) is False


def test_unflatten_leaf_count_errors():
    treedef = tu.tree_structure((1, 2))
    with pytest.raises(ValueError, match="Too few leaves .*expected 2, got 1"):
        tu.tree_unflatten(treedef, [1])
    with pytest.raises(ValueError, match="Too many leaves .*expected 2, got 3"):
        treedef.unflatten([1, 2, 3])
    assert treedef.unflatten(iter([5, 6])) == (5, 6)
    with pytest.raises(TypeError, match="PyTreeDef"):
        tu.tree_unflatten([1, 2], treedef)


def test_tree_map_multiple_trees_and_prefixes():
    assert tu.tree_map(lambda x, y: x + y, (1, {"a": 2}), (10, {"a": 20})) == (11, {"a": 22})
    assert tu.tree_map(lambda x, y: (x, y), (1, 2), ([3, 4], None)) == ((1, [3, 4]), (2, None))
    assert tu.tree_map(lambda *xs: sum(xs), [1], [2], [3]) == [6]
    assert tu.tree_map(lambda x: x, None) is None
    assert tu.tree_map(lambda x: x * 10, 3) == 30


@pytest.mark.parametrize("other, message", [
    ((1, 2, 3), r"at key path the root: expected a tuple of length 2 but got one of length 3"),
    ([1, 2], r"at key path the root: expected a tuple but got a list"),
    ((1, {"b": 1}), r"at key path \[1\]: expected a dict with keys \['a'\] but got one with"),
    ((1, {"a": [1]}), None),
    ((1, None), r"at key path \[1\]: expected a dict but got a NoneType"),
    (Point(1, 2), r"expected a tuple but got a Point"),
])
def test_tree_map_mismatch_names_the_key_path(other, message):
    tree = (1, {"a": 2})
    if message is None:  # a longer tree is fine: the first tree is a prefix
        assert tu.tree_map(lambda x, y: y, tree, other) == (1, {"a": [1]})
        return
    with pytest.raises(ValueError, match="argument 2") as info:
        tu.tree_map(lambda x, y: x, tree, other)
    assert info.match(message)


def test_mismatch_inside_custom_nodes_and_none():
    with pytest.raises(ValueError, match=r"key path \.y\[0\]: expected None but got 3"):
        tu.tree_map(lambda x, y: x, Point(1, [None]), Point(1, [3]))
    with pytest.raises(ValueError, match="metadata differs: expected 'm' but got 'n'"):
        tu.tree_map(lambda x, y: x, Box(1, 2, "m"), Box(1, 2, "n"))
    flat_index_error = r"key path \[<flat index 1>\]: expected a list but got a tuple"
    with pytest.raises(ValueError, match=flat_index_error):
        tu.tree_map(lambda x, y: x, Box(1, [2], "m"), Box(1, (2,), "m"))
    with pytest.raises(ValueError, match=r"key path \.left: expected a list"):
        tu.tree_map(lambda x, y: x, Pair([1], 2), Pair((1,), 2))


def test_flatten_up_to():
    treedef = tu.tree_structure((0, {"a": 0, "b": None}))
    assert treedef.flatten_up_to(([1, 2], {"a": (3,), "b": None})) == [[1, 2], (3,)]
    with pytest.raises(ValueError, match=r"key path \[1\]\['b'\]: expected None"):
        treedef.flatten_up_to((1, {"a": 2, "b": 3}))
    assert tu.tree_structure(1).flatten_up_to(None) == [None]


def test_is_leaf():
    tree = [1, (2, 3), {"a": (4,)}]
    is_tuple = lambda x: isinstance(x, tuple)  # noqa: E731
    assert tu.tree_leaves(tree, is_leaf=is_tuple) == [1, (2, 3), (4,)]
    assert str(tu.tree_structure(tree, is_leaf=is_tuple)) == "PyTreeDef([*, *, {'a': *}])"
    sizes = tu.tree_map(lambda x: len(x) if is_tuple(x) else x, tree, is_leaf=is_tuple)
    assert sizes == [1, 2, {"a": 1}]
    assert tu.tree_map(lambda x, y: (x, y), [1, (2, 3)], [4, 5], is_leaf=is_tuple) == [
        (1, 4), ((2, 3), 5)]
    assert tu.tree_leaves([tree], is_leaf=lambda x: x is tree) == [tree]


def test_key_paths_and_keystr():
    tree = {"foo": {"bar": {"baz": 1, "bat": [2, 3]}}, "p": Point(4, 5)}
    pairs = tu.tree_leaves_with_path(tree)
    assert [tu.keystr(p) for p, _ in pairs] == [
        "['foo']['bar']['bat'][0]", "['foo']['bar']['bat'][1]", "['foo']['bar']['baz']",
        "['p'].x", "['p'].y"]
    assert tu.keystr(pairs[0][0], simple=True, separator="/") == "foo/bar/bat/0"
    assert tu.keystr(()) == ""
    assert tu.keystr((DictKey(1), FlattenedIndexKey(2))) == "[1][<flat index 2>]"
    assert repr(pairs[0][0][0]) == "DictKey(key='foo')"
    assert DictKey("a") == DictKey("a") and hash(DictKey("a")) == hash(DictKey("a"))
    assert DictKey(1) != FlattenedIndexKey(1) and SequenceKey(0) != 0
    match SequenceKey(3):
        case SequenceKey(idx):
            assert idx == 3
    with pytest.raises(TypeError, match="SequenceKey expects a int"):
        SequenceKey("a")
    with pytest.raises(TypeError, match="GetAttrKey expects a str"):
        GetAttrKey(1)
    assert pickle.loads(pickle.dumps(GetAttrKey("x"))) == GetAttrKey("x")


def test_map_with_path_and_is_leaf_takes_path():
    out = tu.tree_map_with_path(lambda p, x, y: (tu.keystr(p), x + y), {"a": 1, "b": [2]},
                                {"a": 10, "b": [20]})
    assert out == {"a": ("['a']", 11), "b": [("['b'][0]", 22)]}
    pairs = tu.tree_leaves_with_path([1, (2, None)], is_leaf=lambda p, x: len(p) == 1,
                                     is_leaf_takes_path=True)
    assert pairs == [((SequenceKey(0),), 1), ((SequenceKey(1),), (2, None))]
    assert tu.tree_flatten_with_path(7) == ([((), 7)], tu.tree_structure(7))


def test_register_pytree_node_class_and_with_keys():
    @tu.register_pytree_node_class
    class Scaled:
        def __init__(self, value, scale):
            self.value, self.scale = value, scale

        def tree_flatten(self):
            return (self.value,), self.scale

        @classmethod
        def tree_unflatten(cls, scale, children):
            return cls(*children, scale)

    out = tu.tree_map(lambda x: x + 1, Scaled([1, 2], 3))
    assert (out.value, out.scale) == ([2, 3], 3)
    assert str(tu.tree_structure(Scaled(1, 3))) == "PyTreeDef(CustomNode(Scaled[3], [*]))"
    assert tu.keystr(tu.tree_leaves_with_path(Scaled(1, 3))[0][0]) == "[<flat index 0>]"

    @tu.register_pytree_with_keys_class
    class Named:
        def __init__(self, a, b):
            self.a, self.b = a, b

        def tree_flatten_with_keys(self):
            return ((GetAttrKey("a"), self.a), (GetAttrKey("b"), self.b)), None

        @classmethod
        def tree_unflatten(cls, aux, children):
            return cls(*children)

    assert [tu.keystr(p) for p, _ in tu.tree_leaves_with_path(Named(1, [2]))] == [".a", ".b[0]"]
    assert tu.tree_map(lambda x: x * 2, Named(1, [2])).b == [4]
    with pytest.raises(ValueError, match="Duplicate"):
        tu.register_pytree_node(Named, lambda x: ((), None), lambda a, c: Named(1, 2))
    with pytest.raises(ValueError, match="Duplicate"):
        tu.register_pytree_node(tuple, lambda x: (x, None), lambda a, c: tuple(c))


def test_bad_flatten_function_is_reported():
    class Bad:
        pass

    tu.register_pytree_node(Bad, lambda x: [1, 2, 3], lambda a, c: Bad())
    with pytest.raises(TypeError, match="must return a pair"):
        tu.tree_flatten(Bad())


def test_register_dataclass_forms():
    assert tu.tree_leaves(Pair(1, [2])) == [1, 2]
    treedef = tu.tree_structure(Pair(1, 2, "q"))
    assert str(treedef) == "PyTreeDef(CustomNode(Pair[('q',)], [*, *]))"
    assert treedef != tu.tree_structure(Pair(1, 2, "r"))
    assert tu.tree_unflatten(treedef, [7, 8]) == Pair(7, 8, "q")
    assert [tu.keystr(p) for p, _ in tu.tree_leaves_with_path(Pair(1, 2))] == [".left", ".right"]

    @dataclasses.dataclass
    class Explicit:
        x: Any
        y: Any
        name: str

    tu.register_dataclass(Explicit, data_fields=["y", "x"], meta_fields=["name"])
    assert tu.tree_leaves(Explicit(1, 2, "n")) == [2, 1]
    assert tu.tree_map(lambda v: -v, Explicit(1, 2, "n")) == Explicit(-1, -2, "n")

    class Plain:
        def __init__(self, x, y):
            self.x, self.y = x, y

    with pytest.raises(TypeError, match="required when nodetype is not a dataclass"):
        tu.register_dataclass(Plain)
    tu.register_dataclass(Plain, data_fields=["x"], meta_fields=["y"])
    assert str(tu.tree_structure(Plain(1, 2))) == "PyTreeDef(CustomNode(Plain[(2,)], [*]))"

    @dataclasses.dataclass
    class Partly:
        x: Any
        y: Any

    with pytest.raises(ValueError, match="Missing fields: {'y'}"):
        tu.register_dataclass(Partly, data_fields=["x"], meta_fields=[])
    with pytest.raises(TypeError, match="must both be given"):
        tu.register_dataclass(Partly, data_fields=["x", "y"])
    tu.register_dataclass(Partly, data_fields=["x"], meta_fields=[], drop_fields=["y"])

    @tu.register_dataclass
    @dataclasses.dataclass
    class WithStatic:
        w: Any
        kind: str = fx.tree.static(default="add")
        cache: Any = dataclasses.field(init=False, default=None)

    assert str(tu.tree_structure(WithStatic(1))) == \
        "PyTreeDef(CustomNode(WithStatic[('add',)], [*]))"


def test_register_static():
    @tu.register_static
    @dataclasses.dataclass(frozen=True)
    class Config:
        size: int

    tree = [Config(3), 1]
    assert tu.tree_leaves(tree) == [1]
    assert str(tu.tree_structure(tree)).startswith("PyTreeDef([CustomNode(Config[")
    assert tu.tree_structure(tree) != tu.tree_structure([Config(4), 1])
    assert tu.tree_map(lambda x: x + 1, tree) == [Config(3), 2]


def test_partial():
    add = tu.Partial(lambda a, b, c=0: a + b + c, 1, c=3)
    assert isinstance(add, functools.partial)
    leaves, treedef = tu.tree_flatten(add)
    assert leaves == [1, 3]
    assert tu.tree_map(lambda x: x * 10, add)(2) == 42
    assert tu.tree_structure(tu.Partial(max, 1)) == tu.tree_structure(tu.Partial(max, 2))
    assert tu.tree_structure(tu.Partial(max, 1)) != tu.tree_structure(tu.Partial(min, 1))
    assert str(tu.tree_structure(tu.Partial(max, 1))) == \
        "PyTreeDef(CustomNode(Partial[<built-in function max>], [(*,), {}]))"
    outer = tu.Partial(add, 5)  # the inner Partial's arguments stay static
    assert tu.tree_leaves(outer) == [5] and outer() == 9
    assert [tu.keystr(p) for p, _ in tu.tree_leaves_with_path(add)] == [
        "[<flat index 0>][0]", "[<flat index 1>]['c']"]


def test_tree_transpose():
    outer, inner = tu.tree_structure([0, 0]), tu.tree_structure((0, 0, 0))
    tree = [(1, 2, 3), (4, 5, 6)]
    assert tu.tree_transpose(outer, inner, tree) == ([1, 4], [2, 5], [3, 6])
    assert tu.tree_transpose(outer, None, tree) == ([1, 4], [2, 5], [3, 6])
    assert tu.tree_transpose(tu.tree_structure([]), inner, []) == ([], [], [])
    with pytest.raises(TypeError, match="composed"):
        tu.tree_transpose(outer, inner, [(1, 2, 3), (4, 5)])


def test_reductions_and_predicates():
    assert tu.tree_reduce(lambda a, b: a + b, [1, (2, 3)]) == 6
    assert tu.tree_reduce(lambda a, b: a + b, [1, (2, 3)], 10) == 16
    with pytest.raises(TypeError):
        tu.tree_reduce(lambda a, b: a + b, [])
    assert tu.tree_reduce_associative(lambda a, b: (a, b), [1, 2, 3, 4, 5]) == \
        ((1, 2), (3, (4, 5)))
    assert tu.tree_reduce_associative(lambda a, b: a + b, [], identity=0) == 0
    with pytest.raises(TypeError, match="identity"):
        tu.tree_reduce_associative(lambda a, b: a + b, [None])
    assert tu.tree_all([1, (True, [2])]) and not tu.tree_all([1, 0]) and tu.tree_all([])
    assert tu.all_leaves([1, "a"]) and not tu.all_leaves([1, None])
    assert not tu.all_leaves([1, (2,)])
    assert tu.all_leaves([(1,)], is_leaf=lambda x: isinstance(x, tuple))
    assert tu.is_tree_node(dict) and tu.is_tree_node(Point) and tu.is_tree_node(type(None))
    assert not tu.is_tree_node(int)


def test_broadcast_one_level_compose_walk():
    assert tu.tree_broadcast((1, {"a": 2}), ((3, 4), {"a": [5, 6]})) == \
        ((1, 1), {"a": [2, 2]})
    assert tu.tree_broadcast((1, [2]), (5, [6]), is_leaf=lambda x: isinstance(x, list)) == \
        (1, [[2]])
    with pytest.raises(ValueError, match="tree_broadcast"):
        tu.tree_broadcast((1, 2), (3,))
    assert tu.flatten_one_level({"b": 1, "a": [2]}) == (([2], 1), ("a", "b"))
    assert tu.flatten_one_level(None) == ((), None)
    assert tu.flatten_one_level((1, (2,))) == ((1, (2,)), None)
    assert tu.flatten_one_level_with_keys({"b": 1}) == (((DictKey("b"), 1),), ("b",))
    assert tu.flatten_one_level_with_keys(Point(1, 2)) == (
        [(GetAttrKey("x"), 1), (GetAttrKey("y"), 2)], None)
    with pytest.raises(ValueError, match="can't tree-flatten type"):
        tu.flatten_one_level(1)
    outer = tu.tree_structure((0, 0))
    assert outer.compose(tu.tree_structure([0, 0])) == tu.tree_structure(([0, 0], [0, 0]))
    walked = tu.tree_structure((1, {"a": 2, "b": None})).walk(
        lambda children, aux: (children, aux), lambda x: x * 10, [1, 2])
    assert walked == ((10, ((20, ((), None)), ["a", "b"])), None)
    assert tu.build_tree(tu.tree_structure((0, [0, 0])), [1, [2, 3]]) == (1, [2, 3])


def test_fx_tree_aliases():
    assert fx.tree.map is tu.tree_map and fx.tree.flatten is tu.tree_flatten
    assert fx.tree.leaves({"a": 1, "b": (2,)}) == [1, 2]
    leaves, treedef = fx.tree.flatten([1, 2])
    assert fx.tree.unflatten(treedef, leaves) == [1, 2]
    assert fx.tree.all([1, 1]) and fx.tree.reduce(max, [1, 3, 2]) == 3
    assert fx.tree.structure(Point(1, 2)).num_leaves == 2
    assert fx.tree.map_with_path(lambda p, x: tu.keystr(p), [0]) == ["[0]"]
    assert fx.tree.broadcast(1, [0, 0]) == [1, 1]
    field = fx.tree.static(default=1, metadata={"doc": "d"})
    assert field.metadata == {"doc": "d", "static": True} and field.default == 1


def test_default_registry():
    registry = tu.default_registry
    assert registry.flatten((1, 2))[0] == [1, 2]
    assert registry.is_node(list) and not registry.is_node(float)
    assert isinstance(registry, tu.PyTreeRegistry)
