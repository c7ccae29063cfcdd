"""Scheduling: order nodes so each value is computed close to where it is used.

Nodes are emitted in depth-first post-order from the outputs, in output order, so the
straight-line body finishes one output's cone before starting the next and temporaries
die young (fewer live registers).  The printers write each output right after its value.
"""
from __future__ import annotations

from ..graph import Graph
from .rewrite import Pass


def schedule_order(g: Graph) -> list[int]:
    """Depth-first post-order of the live nodes, outputs in order; iterative."""
    state = bytearray(len(g))      # 0 unvisited, 1 children pushed, 2 emitted
    order: list[int] = []
    args = g.args
    for root in g.output_nodes():
        stack = [root]
        while stack:
            n = stack[-1]
            if state[n] == 2:
                stack.pop()
            elif state[n] == 1:
                state[n] = 2
                order.append(n)
                stack.pop()
            else:
                state[n] = 1
                stack.extend(a for a in reversed(args[n]) if state[a] == 0)
    return order


schedule = Pass("schedule", order=schedule_order)
