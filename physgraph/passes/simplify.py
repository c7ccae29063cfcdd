"""Bounded SymPy-assisted simplification of small rational subgraphs (off by default).

Each arithmetic region (the + - * / ** n nodes under a root that is not itself inside
a bigger one, at most ``max_region`` nodes; shared ones are read again, not cut off) goes through ``sympy.cancel`` and ``sympy.factor``; the result
replaces the region when SymPy counts fewer operations.  Everything else in the graph is an
opaque symbol to SymPy, float constants included.  The pass stops trying when its time budget
(``simplify`` seconds) is spent.  cancel() removes removable singularities ((x*x - 1)/(x - 1)
becomes x + 1, also at x = 1), which is why this is an opt-in.
"""
from __future__ import annotations

import time

import sympy

from ..graph import Graph, Op, T
from ..symbolic import SympyReader, node_to_sympy
from .builder import Builder

_RATIONAL = frozenset({Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.NEG, Op.POWI})


def _absorbed(g: Graph) -> bytearray:
    """Nodes used once, by a rational node, and not an output: inside their user's region."""
    count = [0] * len(g)
    by_rational = bytearray(len(g))
    for i in range(len(g)):
        for a in g.args[i]:
            count[a] += 1
            by_rational[a] = g.ops[i] in _RATIONAL
    for n in g.output_nodes():
        count[n] += 1
    return bytearray(c == 1 and r for c, r in zip(count, by_rational))


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


def simplify(g: Graph, simplify: float = 0.0, unsafe: bool = False, max_region: int = 24,
             **_) -> Graph:
    if simplify <= 0:
        return g
    deadline = time.perf_counter() + simplify
    single_use = _absorbed(g)
    new = g.empty_like()
    b = Builder(new, unsafe)
    m = [0] * len(g)
    live = g.live()
    for i in range(len(g)):
        if not live[i]:
            continue
        m[i] = b(g.ops[i], *(m[a] for a in g.args[i]), attr=g.attrs[i])
        root = g.ops[i] in _RATIONAL and g.types[i] is T.REAL and not single_use[i]
        if root and time.perf_counter() < deadline:
            region, leaves = _region(g, i, max_region)
            if len(region) >= 3:
                found = _simplified(g, region, leaves)
                if found is not None:
                    value, expr = found
                    reader = SympyReader(new, {value[j]: m[j] for j in leaves})
                    m[i] = reader.read(expr)
    new.remap_outputs(g, m)
    return new
