"""Graphviz text for a graph: every node for small graphs, clusters for large ones.

Large graphs are summarized by output cone: each live node belongs to the first output
that needs it, and each cone becomes one box labelled with its size and flops, with edges
weighted by how many values one cone takes from another.
"""
from __future__ import annotations

from . import cost
from .graph import Graph, Op

_STYLE = {"input": 'shape=box, style=filled, fillcolor="#dbe9f6"',
          "param": 'shape=box, style=filled, fillcolor="#fde9c9"',
          "const": 'shape=plaintext',
          "per_call": 'style=filled, fillcolor="#fff6d5"',
          "per_event": '',
          "output": 'shape=doubleoctagon, style=filled, fillcolor="#d9f2d9"'}


def to_dot(g: Graph, name: str = "kernel", max_nodes: int = 300) -> str:
    """Graphviz source; graphs with more than ``max_nodes`` live nodes are clustered."""
    live = g.live()
    if sum(live) <= max_nodes:
        return _full(g, name, live)
    return _clustered(g, name, live, max_clusters=40)


def _label(g: Graph, i: int) -> str:
    return g.describe(i).split("(")[0] if g.ops[i] not in (Op.CONST, Op.INPUT, Op.PARAM) \
        else g.describe(i)


def _full(g: Graph, name: str, live) -> str:
    var = g.varying()
    lines = [f'digraph "{name}" {{', "  rankdir=TB;", '  node [fontname="Helvetica"];']
    for i in range(len(g)):
        if not live[i]:
            continue
        op = g.ops[i]
        kind = {Op.INPUT: "input", Op.PARAM: "param", Op.CONST: "const"}.get(
            op, "per_event" if var[i] else "per_call")
        label = _label(g, i).replace('"', r'\"')
        lines.append(f'  n{i} [label="{label}", {_STYLE[kind]}];'.replace(", ];", "];"))
        lines += [f"  n{a} -> n{i};" for a in g.args[i]]
    for o in g.outputs:
        for k, n in enumerate(o.nodes):
            tag = f"{o.name}[{k}]" if o.shape else o.name
            lines.append(f'  "{tag}" [{_STYLE["output"]}];')
            lines.append(f'  n{n} -> "{tag}";')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _owners(g: Graph, live, max_clusters: int) -> list[int]:
    """Cluster of each node: the first output cone that reaches it (outputs are grouped
    into at most ``max_clusters`` ranges)."""
    per = max(1, -(-len(g.outputs) // max_clusters))
    big = len(g.outputs)
    owner = [big] * len(g)
    for k, o in enumerate(g.outputs):
        for n in o.nodes:
            owner[n] = min(owner[n], k // per)
    for i in range(len(g) - 1, -1, -1):
        if live[i]:
            for a in g.args[i]:
                owner[a] = min(owner[a], owner[i])
    return owner


def _clustered(g: Graph, name: str, live, max_clusters: int) -> str:
    owner = _owners(g, live, max_clusters)
    var = g.varying()
    size: dict[int, int] = {}
    flops: dict[int, int] = {}
    edges: dict[tuple, int] = {}
    for i in range(len(g)):
        if not live[i] or g.ops[i] in (Op.INPUT, Op.PARAM, Op.CONST):
            continue
        c = owner[i]
        size[c] = size.get(c, 0) + 1
        if var[i]:
            flops[c] = flops.get(c, 0) + sum(
                cost.WEIGHT[k] * n for k, n in cost.node_cost(g, i).items())
        for a in g.args[i]:
            src = _source(g, a, owner)
            if src is not None and src != f"c{c}":
                edges[(src, f"c{c}")] = edges.get((src, f"c{c}"), 0) + 1
    per = max(1, -(-len(g.outputs) // max_clusters))
    lines = [f'digraph "{name}" {{', "  rankdir=LR;", '  node [fontname="Helvetica"];',
             f'  label="{name}: {sum(live)} live nodes in {len(size)} output cones";']
    for k, a in enumerate(g.signature):
        shape = f" {a.shape}" if a.shape else ""
        lines.append(f'  a{k} [label="{a.name}{shape}", {_STYLE[a.role]}];')
    for c in sorted(size):
        first = g.outputs[min(c * per, len(g.outputs) - 1)].name
        last = g.outputs[min((c + 1) * per, len(g.outputs)) - 1].name
        outs = first if first == last else f"{first}..{last}"
        lines.append(f'  c{c} [shape=box3d, label="{outs}\\n{size[c]} nodes, '
                     f'{flops.get(c, 0)} flops/event"];')
    for (src, dst), n in sorted(edges.items()):
        lines.append(f'  {src} -> {dst} [label="{n}", penwidth={1 + min(n, 50) / 10:.1f}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _source(g: Graph, a: int, owner: list[int]):
    if g.ops[a] in (Op.INPUT, Op.PARAM):
        return f"a{g.attrs[a][0]}"
    if g.ops[a] is Op.CONST:
        return None
    return f"c{owner[a]}"
