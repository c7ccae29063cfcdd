"""Contractions in generated code: the rows of one param matrix applied to one vector of
per-event values are one matrix product over events.

The IR keeps a network layer as ``CONTRACT`` nodes, one per output row, all with the same
arguments (the layer's input vector) and attr ``(matrix param, row)``.  A printer groups
them back: one product ``X @ W[rows].T`` where X has one row per event and one column per
argument, and each node reads its column of the result.  numpy and jax print that product
with ``@`` (BLAS, XLA); numba blocks the event loop around it (``backends/blocked.py``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..graph import Graph, Op


@dataclass
class Group:
    """One matrix product: ``position`` is the matrix param, ``args`` its vector's nodes."""
    id: int
    position: int
    args: tuple
    rows: list = field(default_factory=list)      # rows of the matrix used, in column order

    def matrix(self, g: Graph, module: str = "np") -> str:
        """Source text of the (columns, rows) operand: W.T, or the rows used of W, .T."""
        w = g.signature[self.position].ident
        if self.rows == list(range(g.signature[self.position].shape[0])):
            return f"{w}.T"
        return f"{w}[{module}.array({self.rows})].T"

    def input_arg(self, g: Graph):
        """The input argument whose elements, in order, are exactly ``args`` (else None):
        then that argument's array is the product's left operand as it is."""
        first = self.args[0]
        if g.ops[first] is not Op.INPUT:
            return None
        pos = g.attrs[first][0]
        arg = g.signature[pos]
        if arg.shape != (len(self.args),):
            return None
        ok = all(g.ops[a] is Op.INPUT and g.attrs[a] == (pos, (k,)) for k, a in enumerate(self.args))
        return arg if ok else None


def groups(g: Graph, live: bytearray, var: bytearray) -> dict[int, tuple[Group, int]]:
    """node id -> (its group, its column in the group's product), for live per-event
    contractions; groups are numbered in order of first appearance."""
    by_key: dict[tuple, Group] = {}
    member: dict[int, tuple[Group, int]] = {}
    for i in range(len(g)):
        if live[i] and var[i] and g.ops[i] is Op.CONTRACT:
            pos, row = g.attrs[i]
            grp = by_key.get((pos, g.args[i]))
            if grp is None:
                grp = by_key[(pos, g.args[i])] = Group(len(by_key), pos, g.args[i])
            member[i] = (grp, len(grp.rows))
            grp.rows.append(row)
    return member


def array_product(g: Graph, names: list, grp: Group, module: str, cast: str = "") -> list[str]:
    """numpy / jax: the line computing ``pg_y<id>``, one column per row of the group.  The
    left operand is an input array as it is, or the arguments stacked as columns."""
    arg = grp.input_arg(g)
    if arg is not None:
        left = arg.ident
    else:
        cols = ", ".join(names[a] for a in grp.args)
        left = f"{module}.stack({module}.broadcast_arrays({cols}), axis=-1){cast}"
    return [f"# layer {len(grp.args)} -> {len(grp.rows)}: one matrix product over events",
            f"pg_y{grp.id} = {left} @ {grp.matrix(g, module)}"]
