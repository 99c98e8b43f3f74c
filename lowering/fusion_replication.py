"""How often a fused group's loop body evaluates each of its values per output element.

Inside one fused loop, a value read at the consumer's own index is computed once (the
emitter caches it per index), but a value read through index operations (slices, pads,
concatenations, reversals, gathers) is recomputed for every distinct index expression.
A chain of such reads (an odd-reflection pad concatenates chunks that each read the
previous chunk twice) doubles the code at every link, so a group whose body would
evaluate a value more than ``LIMIT`` times stores that value in a buffer instead.
"""
from __future__ import annotations

from fx.core import Var

#: evaluations of one value per output element above which it is stored
LIMIT = 8


def replicated_values(plan, members, roots, elementwise) -> set[int]:
    """ids of the outputs of ``members`` (equation indices of one group of ``plan`` whose
    stored outputs are ``roots``) to store because the group's body would evaluate them
    more than ``LIMIT`` times per output element.

    Multiplicities flow from consumers to producers: through an elementwise consumer a
    value is read at the consumer's index (the largest such multiplicity counts once);
    through any other consumer, each operand occurrence is a separate evaluation.

    Example:
      >>> replicated_values(plan, {0, 1, 2}, [v], ELEMENTWISE)   # set(): nothing repeats
    """
    root_ids = {id(v) for v in roots}
    same: dict[int, int] = {}
    shifted: dict[int, int] = {}
    out: set[int] = set()
    for k in sorted(members, reverse=True):
        eqn = plan.eqns[k]
        stored = any(id(o) in root_ids for o in eqn.outvars)
        mult = max(same.get(k, 0), int(stored)) + shifted.get(k, 0)
        if mult > LIMIT:
            out.update(id(o) for o in eqn.outvars)
            mult = 1  # its consumers read a buffer: computed once per element
        mult = max(mult, 1)
        for v in eqn.invars:
            j = plan.defined(v) if isinstance(v, Var) else None
            if j is None or j not in members or id(v) in plan.cut:
                continue
            if eqn.primitive.name in elementwise:
                same[j] = max(same.get(j, 0), mult)
            else:
                shifted[j] = shifted.get(j, 0) + mult
    return out
