"""The one mechanism every pass shares: rebuild a graph node by node through a rule.
"""
from __future__ import annotations

from typing import Callable

from ..graph import Graph, Op

# rule(new_graph, op, mapped_args, attr) -> id of the node in new_graph that replaces it
Rule = Callable[[Graph, Op, tuple, object], int]


def rebuild(g: Graph, rule: Rule, only_live: bool = True) -> Graph:
    """A new graph with every (live) node of ``g`` replaced by ``rule``'s node, in order."""
    new = g.empty_like()
    mapping = [0] * len(g)
    keep = g.live() if only_live else None
    ops, args, attrs, remap = g.ops, g.args, g.attrs, mapping.__getitem__
    for i in range(len(g)):
        if keep is not None and not keep[i]:
            continue
        mapping[i] = rule(new, ops[i], tuple(map(remap, args[i])), attrs[i])
    new.remap_outputs(g, mapping)
    return new
