"""The registry of primitives: every primitive carries the rules it needs.

``test_every_primitive_has_its_rules`` walks ``primitives.registry`` and fails
listing each primitive without a rule it needs: abstract_eval and impl always,
jvp and batch for all, transpose for the linear ones (``LINEAR`` below; a name
not registered yet is skipped). ``test_api_coverage_report`` prints how much
of JAX's public API fx provides (run with ``-s`` to see it) and asserts only
that the name list parses.
"""
from __future__ import annotations

import importlib
import os
import re

import numpy as np
import pytest

import fx
import primitives

# Primitives that are linear in (some of) their operands, so reverse mode transposes
# them: they need a transpose rule. mul is linear in one operand, div in its numerator,
# select_n in its cases, the scatters and dynamic updates in operand and updates.
LINEAR = frozenset({
    # elementwise
    "neg", "add", "sub", "add_any", "mul", "div", "convert_element_type", "real", "imag",
    "conj", "complex", "copy", "reduce_precision", "select_n",
    # shapes and reductions
    "reduce_sum", "broadcast_in_dim", "reshape", "transpose", "squeeze", "expand_dims",
    # slicing, indexing, windows, scans
    "slice", "pad", "concatenate", "rev", "dynamic_slice", "dynamic_update_slice", "gather",
    "scatter-add", "cumsum", "reduce_window_sum", "select_and_gather_add",
    "select_and_scatter_add",
    # products, convolutions, solves, transforms
    "dot_general", "conv_general_dilated", "triangular_solve", "tridiagonal_solve", "custom_linear_solve", "fft",
    # higher-order primitives and collectives
    "jit", "cond", "scan", "psum", "all_gather", "ppermute", "all_to_all",
})

API_NAMES = "/work/shared/api/jax-0.10.2-public-names.tsv"


def _missing_rules(prim) -> list[str]:
    missing = []
    if prim.abstract_eval_rule is None:
        missing.append("abstract_eval")
    if prim.impl_rule is None:
        missing.append("impl")
    if prim.jvp is None:
        missing.append("jvp")
    if prim.batch is None:
        missing.append("batch")
    if prim.name in LINEAR and prim.transpose is None:
        missing.append("transpose")
    return missing


def test_registry_is_populated_and_consistent():
    registry = primitives.registry
    assert len(registry) > 50, "importing fx should register every primitive"
    for name, prim in registry.items():
        assert isinstance(prim, fx.core.Primitive), name
        assert prim.name == name, f"registered as {name!r} but named {prim.name!r}"
    assert [p.name for p in primitives.all_primitives()] == sorted(registry)


def test_every_primitive_has_its_rules():
    gaps = {name: _missing_rules(prim) for name, prim in sorted(primitives.registry.items())}
    gaps = {name: rules for name, rules in gaps.items() if rules}
    assert not gaps, "primitives missing rules they need:\n" + "\n".join(
        f"  {name}: {', '.join(rules)}" for name, rules in gaps.items())


def test_rules_are_callable():
    for name, prim in primitives.registry.items():
        for rule in ("abstract_eval_rule", "impl_rule", "jvp", "transpose", "batch"):
            value = getattr(prim, rule)
            assert value is None or callable(value), f"{name}.{rule} is not callable"


def test_a_missing_rule_is_reported_by_name():
    """Transformations name the primitive and the rule that is missing."""
    bare = fx.core.Primitive("test_registry_bare")
    bare.def_abstract_eval(lambda x: x)
    bare.def_impl(lambda x: np.asarray(x))
    x = np.ones(3, np.float32)
    with pytest.raises(NotImplementedError, match="test_registry_bare"):
        fx.jvp(bare.bind, (x,), (x,))
    with pytest.raises(NotImplementedError, match="test_registry_bare"):
        fx.vmap(bare.bind)(np.ones((2, 3), np.float32))


def _parse_api_names(path):
    """{module: [(name, kind)]} from the TSV: ``## module  (N names)`` headers, then
    ``module.name<TAB>kind`` lines; '#' lines are comments."""
    sections: dict[str, list[tuple[str, str]]] = {}
    declared: dict[str, int] = {}
    current = None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            header = re.match(r"^## (\S+)\s+\((\d+) names\)", line)
            if header:
                current = header.group(1)
                sections[current] = []
                declared[current] = int(header.group(2))
            elif line.startswith("#") or not line.strip():
                continue
            else:
                qualified, kind = line.split("\t")
                assert current is not None and qualified.startswith(current + "."), line
                sections[current].append((qualified[len(current) + 1:], kind))
    return sections, declared


def _resolve_module(dotted):
    try:
        return importlib.import_module(dotted)
    except ImportError:
        pass
    parent, _, attr = dotted.rpartition(".")  # e.g. fx.scipy.stats.norm may be an object
    try:
        return getattr(importlib.import_module(parent), attr)
    except (ImportError, AttributeError):
        return None


@pytest.mark.report
def test_api_coverage_report():
    """Prints, per module, how many of JAX 0.10.2's public names fx has (``-s`` shows it)."""
    if not os.path.exists(API_NAMES):
        pytest.skip(f"{API_NAMES} not found")
    sections, declared = _parse_api_names(API_NAMES)
    assert sections, "no sections parsed"
    for module, names in sections.items():
        assert len(names) == declared[module], (module, len(names), declared[module])
    rows, total_have, total_all = [], 0, 0
    for module, names in sections.items():
        obj = _resolve_module(module)
        have = sum(1 for name, _ in names if obj is not None and hasattr(obj, name))
        total_have += have
        total_all += len(names)
        rows.append((module, have, len(names)))
    print("\nJAX 0.10.2 public API covered by fx:")
    for module, have, n in rows:
        print(f"  {module:<40} {have:4d}/{n:<4d} {100 * have / n:6.1f}%")
    print(f"  {'total':<40} {total_have:4d}/{total_all:<4d} "
          f"{100 * total_have / total_all:6.1f}%")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_unary_impls_keep_the_dtype_abstract_eval_promises(dtype):
    """Every primitive that takes one floating operand (and no params) returns, eagerly,
    the dtype its type rule promises: SciPy's special functions widen small floats."""
    import numpy as np

    import primitives
    from fx import dtypes as fx_dtypes
    from fx.core import get_aval

    np_dtype = fx_dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)
    x = np.linspace(0.1, 0.9, 5).astype(np_dtype)
    wrong = []
    for name, prim in sorted(primitives.registry.items()):
        try:
            expected = prim.abstract_eval(get_aval(x))
        except Exception:  # noqa: BLE001  (needs params or other operand types)
            continue
        if prim.multiple_results:
            continue
        try:
            out = np.asarray(prim.impl(x))
        except TypeError:  # a param the type rule did not need (integer_pow's y)
            continue
        if out.dtype != expected.dtype or out.shape != expected.shape:
            wrong.append(f"{name}: {out.dtype}{list(out.shape)} != {expected.str_short()}")
    assert not wrong, "\n".join(wrong)
