"""Flop counting: real arithmetic operations per event, by class.

add, sub, mul, div and neg count 1, fma 2, each sqrt/exp/log/trig/pow call 1; complex
operations count the real operations they stand for (a complex product is 4 mul + 2 add).
Only live per-event nodes count: per-call nodes run once per call, not once per event.
"""
from __future__ import annotations

from collections import Counter

from .graph import COMPARISONS, Graph, Op, T
from .ops import DEFS

CLASSES = ("add", "mul", "div", "fma", "sqrt", "special", "other")
WEIGHT = {"add": 1, "mul": 1, "div": 1, "fma": 2, "sqrt": 1, "special": 1, "other": 1}
# real operands: one operation of the op's cost class (none for the free ones)
_REAL = {op: {d.cost: 1} if d.cost else {} for op, d in DEFS.items()}
# complex operands: (op, number of complex operands) -> real operations
_COMPLEX = {
    (Op.ADD, 1): {"add": 1}, (Op.ADD, 2): {"add": 2},
    (Op.SUB, 1): {"add": 1}, (Op.SUB, 2): {"add": 2},
    (Op.NEG, 1): {"add": 2}, (Op.CONJ, 1): {"add": 1},
    (Op.MUL, 1): {"mul": 2}, (Op.MUL, 2): {"mul": 4, "add": 2},
    (Op.DIV, 1): {"div": 2},            # complex / real (real / complex counted below)
    (Op.DIV, 2): {"mul": 6, "add": 3, "div": 2},
    (Op.FMA, 1): {"mul": 2, "add": 2}, (Op.FMA, 2): {"mul": 4, "add": 4},
    (Op.FMA, 3): {"mul": 4, "add": 4},
    (Op.ABS, 1): {"mul": 2, "add": 1, "sqrt": 1},
    (Op.EQ, 1): {"other": 2}, (Op.EQ, 2): {"other": 2},
    (Op.NE, 1): {"other": 2}, (Op.NE, 2): {"other": 2},
}


def node_cost(g: Graph, i: int) -> dict:
    """Real operations of node i by class."""
    op = g.ops[i]
    if DEFS[op].cost is None or (op is Op.CONJ and g.types[g.args[i][0]] is not T.COMPLEX):
        return {}
    ncomplex = sum(g.types[a] is T.COMPLEX for a in g.args[i])
    if op is Op.CONTRACT:                  # one multiply-add per column
        return {"fma": len(g.args[i])}
    if ncomplex == 0:
        return _REAL[op]
    if op is Op.DIV and g.types[g.args[i][0]] is not T.COMPLEX:
        return {"mul": 4, "add": 1, "div": 2}
    if op is Op.POWI:
        return {"mul": 4 * max(abs(g.attrs[i]).bit_length(), 1), "add": 2}
    if op is Op.WHERE or op in COMPARISONS and (op, ncomplex) not in _COMPLEX:
        return {"other": 2}
    # complex sqrt/exp/log/trig: a handful of real calls and products
    return _COMPLEX.get((op, ncomplex), {"special": 3, "mul": 2})


def flops_by_class(g: Graph) -> dict:
    """Per-event real operations of the live graph, by class (``CLASSES``)."""
    live, var = g.live(), g.varying()
    # cost depends only on (op, operand types, attr): count the keys, price each once
    count: Counter = Counter()
    example: dict = {}
    ops, args, attrs, type_of = g.ops, g.args, g.attrs, g.types.__getitem__
    powi = Op.POWI
    for i in range(len(g)):
        if live[i] and var[i]:
            op = ops[i]
            key = (op, tuple(map(type_of, args[i])), attrs[i] if op is powi else None)
            count[key] += 1
            if key not in example:
                example[key] = i
    total = dict.fromkeys(CLASSES, 0)
    for key, times in count.items():
        for cls, n in node_cost(g, example[key]).items():
            total[cls] += n * times
    for routine, times in _calls(g, live, var).items():     # each call runs its body once
        for cls, n in flops_by_class(routine.graph).items():
            total[cls] += n * times
    return total


def _calls(g: Graph, live, var) -> Counter:
    """routine -> how many distinct per-event calls of it (one per argument tuple)."""
    made = {(g.attrs[i][0], g.args[i]) for i in range(len(g))
            if live[i] and var[i] and g.ops[i] is Op.CALL} if Op.CALL in g.ops else ()
    return Counter(routine for routine, _ in made)


def flops(g: Graph) -> int:
    return sum(WEIGHT[c] * n for c, n in flops_by_class(g).items())


def op_counts(g: Graph) -> dict:
    """op name -> number of live nodes (leaves included)."""
    live = g.live()
    counts = Counter(g.ops[i].name.lower() for i in range(len(g)) if live[i])
    return dict(sorted(counts.items()))


def live_nodes(g: Graph) -> int:
    return sum(g.live())
