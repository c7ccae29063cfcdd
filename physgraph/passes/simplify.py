"""Bounded SymPy-assisted simplification of small rational subgraphs (off by default).

Each arithmetic region (the + - * / ** n nodes under a root that is not itself inside
a bigger one, at most ``MAX_REGION`` nodes; shared ones are read again, not cut off) goes
through ``sympy.cancel`` and ``sympy.factor``; the result replaces the region when SymPy
counts fewer operations.  Everything else in the graph is an
opaque symbol to SymPy, float constants included.  The pass stops trying when its time budget
(``simplify`` seconds) is spent.  cancel() removes removable singularities ((x*x - 1)/(x - 1)
becomes x + 1, also at x = 1), which is why this is an opt-in.
"""
from __future__ import annotations

import time

import sympy

from ..graph import Graph, Op, T
from ..symbolic import SympyReader, node_to_sympy
from .rewrite import Pass, Rewrite

_RATIONAL = frozenset({Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.NEG, Op.POWI})
MAX_REGION = 24        # nodes: SymPy's cancel and factor grow fast with the region


def _region(g: Graph, root: int, max_region: int) -> tuple[list[int], list[int]]:
    """(region nodes in creation order, leaf nodes) of the rational region under root."""
    region, leaves, stack = set(), set(), [root]
    while stack:
        n = stack.pop()
        inside = n == root or (g.ops[n] in _RATIONAL and g.types[n] is T.REAL and
                               len(region) < max_region)
        if not inside:
            leaves.add(n)
        elif n not in region:
            region.add(n)
            stack.extend(g.args[n])
    return sorted(region), sorted(leaves)


def _simplified(g: Graph, region: list[int], leaves: list[int]):
    """(symbols, simplified expression) if SymPy finds a cheaper form, else None."""
    value = {j: sympy.Symbol(f"v{j}", real=True) for j in leaves}
    for i in region:
        value[i] = node_to_sympy(g, i, [value[a] for a in g.args[i]])
    original = value[region[-1]]
    candidate = sympy.factor(sympy.cancel(original))
    if sympy.count_ops(candidate) < sympy.count_ops(original):
        return value, candidate
    return None


class _Budget:
    """Per run: the time left, and which rational nodes are roots of their region."""

    def __init__(self, rw: Rewrite):
        self.deadline = time.perf_counter() + rw.options["simplify"]
        ops, sole = rw.old.ops, rw.sole_user
        # used once, by a rational node (and not an output): inside its user's region
        self.absorbed = bytearray(u >= 0 and ops[u] in _RATIONAL for u in sole)


def _simplify(rw: Rewrite, i: int) -> int:
    g, budget = rw.old, rw.state
    node = rw.rebuild(i)
    if g.types[i] is not T.REAL or budget.absorbed[i] or time.perf_counter() >= budget.deadline:
        return node
    region, leaves = _region(g, i, MAX_REGION)
    if len(region) < 3:
        return node
    found = _simplified(g, region, leaves)
    if found is None:
        return node
    value, expr = found
    m = rw.mapping
    return SympyReader(rw.new, {value[j]: m[j] for j in leaves}).read(expr)


simplify = Pass("simplify", options={"simplify": 0.0, "unsafe": False}, start=_Budget,
                rules=dict.fromkeys(_RATIONAL, _simplify),
                applies=lambda g, options: options["simplify"] > 0)
