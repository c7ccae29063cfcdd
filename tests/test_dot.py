"""Graphviz output: every node for small graphs, one box per output cone for large ones."""
import re

import physgraph as pg


def kernel():
    @pg.compile(backend="numpy")
    def f(p: pg.Vec4, q: pg.Vec4, g: pg.Param):
        return (p + q).m2 * g, p.pt
    return f


def test_small_graph_shows_every_live_node_and_output():
    k = kernel()
    text = k.to_dot()
    assert text.startswith('digraph "f"') and text.rstrip().endswith("}")
    nodes = set(re.findall(r"^\s+n(\d+) \[", text, re.M))
    assert len(nodes) == k.stats["nodes_out"]
    assert '"out0"' in text and '"out1"' in text
    assert 'label="sqrt"' in text


def test_large_graph_is_clustered_by_output_cone():
    k = kernel()
    text = k.to_dot(max_nodes=3)
    boxes = re.findall(r'c(\d+) \[shape=box3d, label="(out\d)\\n(\d+) nodes, (\d+) flops', text)
    assert [b[1] for b in boxes] == ["out0", "out1"]
    # the cones together hold every computed (non-leaf) live node
    leaves = sum(k.stats["ops"].get(op, 0) for op in ("input", "param", "const"))
    assert sum(int(b[2]) for b in boxes) == k.stats["nodes_out"] - leaves
    assert sum(int(b[3]) for b in boxes) == k.stats["flops_out"]
    assert "a1 -> c0" in text and "a1 -> c1" not in text   # q feeds only the mass
