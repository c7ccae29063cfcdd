"""Builder: how passes and autodiff make nodes.

It folds constants and applies the safe identities as it goes, so a rewrite that exposes a
zero or a one cleans up at once, and it knows which new nodes vary per event.
"""
from __future__ import annotations

from functools import partial

from ..graph import CONST, INPUT, Graph, Op
from .fold import fold_rule


class Builder:
    """Builds nodes into ``g`` with folding (or without, where a pass must keep every node
    as it is), and tracks which new nodes vary per event."""

    def __init__(self, g: Graph, unsafe: bool = False, folding: bool = True):
        self.g = g
        # build(op, args, attr): the per-node entry point, a partial so the driver's hot
        # loop pays one call per node
        self.build = partial(fold_rule(unsafe), g) if folding else g.node
        self._varying = bytearray()

    def __call__(self, op: Op, *args: int, attr=None) -> int:
        return self.build(op, args, attr)

    def const(self, value) -> int:
        return self.g.const(value)

    def value(self, i: int):
        """The value of node ``i`` if it is a numeric constant, else None."""
        g = self.g
        if g.ops[i] is CONST and not isinstance(g.attrs[i], bool):
            return g.attrs[i]
        return None

    def is_zero(self, i: int) -> bool:
        return self.value(i) == 0

    def varying(self, i: int) -> bool:
        var = self._varying
        if i >= len(var):                         # nodes built since the last question
            ops, args, put = self.g.ops, self.g.args, var.append
            for j in range(len(var), i + 1):
                v = ops[j] is INPUT
                if not v:
                    for a in args[j]:
                        if var[a]:
                            v = True
                            break
                put(v)
        return var[i] == 1

    def by_varying(self, nodes: list[int]) -> tuple[list[int], list[int]]:
        """(per-event nodes, per-call nodes), each in the order given."""
        varying, uniform = [], []
        for n in nodes:
            (varying if self.varying(n) else uniform).append(n)
        return varying, uniform

    def tree(self, op: Op, nodes: list[int]) -> int:
        """Nodes (at least one) combined pairwise, level by level: a balanced tree of an
        associative op, so the dependency chains are short."""
        level = nodes
        while len(level) > 1:
            nxt = [self(op, level[k], level[k + 1]) for k in range(0, len(level) - 1, 2)]
            level = nxt + ([level[-1]] if len(level) % 2 else [])
        return level[0]

    def balanced(self, op: Op, nodes: list[int]) -> int:
        """Combine nodes with an associative op: per-call ones first (one hoisted value),
        then the per-event ones as a balanced tree (short dependency chains)."""
        if len(nodes) <= 2:                       # (op is commutative: no order to keep)
            return nodes[0] if len(nodes) == 1 else self(op, nodes[0], nodes[1])
        varying, uniform = self.by_varying(nodes)
        per_event = self.tree(op, varying) if varying else None
        parts = []
        if uniform:
            acc = uniform[0]
            for u in uniform[1:]:
                acc = self(op, acc, u)
            parts.append(acc)
        if per_event is not None:
            parts.append(per_event)
        return parts[0] if len(parts) == 1 else self(op, parts[0], parts[1])
