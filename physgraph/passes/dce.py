"""Dead-code elimination: keep only the nodes the outputs need (renumbered densely)."""
from ..graph import Graph


def dce(g: Graph, **_) -> Graph:
    live = g.live()
    return g.renumbered(i for i in range(len(g)) if live[i])
