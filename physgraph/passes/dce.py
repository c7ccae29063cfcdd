"""Dead-code elimination: keep only the nodes the outputs need (renumbered densely)."""
from ..graph import Graph
from .rewrite import Pass


def live_nodes(g: Graph) -> list[int]:
    live = g.live()
    return [i for i in range(len(g)) if live[i]]


dce = Pass("dce", order=live_nodes)
