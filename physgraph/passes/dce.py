"""Dead-code elimination: keep only the nodes the outputs need (renumbered densely)."""
from ..graph import Graph
from .rewrite import copy_rule, rebuild


def dce(g: Graph, **_) -> Graph:
    return rebuild(g, copy_rule)
