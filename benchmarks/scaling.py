"""Pipeline scaling: build, optimize and print graphs of 10^4 .. 10^6 nodes.

    python benchmarks/scaling.py [--sizes 10000,100000,1000000] [--jit-max N] [--json PATH]

With --jit-max, graphs up to N nodes are also compiled by numba (its time is the JIT).

The graph is a random per-event expression over 8 inputs and 2 params: each node combines
two recent nodes (so the graph is deep as well as wide) with +, -, *, / or a function call.
Nothing here may recurse: the point is to show time linear in size and no RecursionError.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import time

import numpy as np

from physgraph.backends.numba_ import NumbaPrinter
from physgraph.graph import Arg, Graph, Op, Output
from physgraph.passes import optimize

OPS = [Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.ADD, Op.MUL, Op.SQRT, Op.EXP]


def random_graph(n: int, seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)
    g = Graph()
    for k in range(8):
        g.add_arg(Arg(f"x{k}", f"x{k}"))
    for k in range(2):
        g.add_arg(Arg(f"p{k}", f"p{k}", role="param"))
    nodes = [g.leaf(k) for k in range(10)]
    ops = rng.choice(len(OPS), n)
    back = rng.integers(1, 64, (n, 2))
    for k in range(n):
        op = OPS[ops[k]]
        a = nodes[-min(back[k, 0], len(nodes))]
        if op in (Op.SQRT, Op.EXP):
            x = g.node(Op.MUL, (a, g.const(0.001)))
            nodes.append(g.node(op, (x,)))
        else:
            nodes.append(g.node(op, (a, nodes[-min(back[k, 1], len(nodes))])))
    g.outputs = [Output(f"out{k}", (), (nodes[-1 - k],)) for k in range(4)]
    return g


def measure(n: int, jit: bool) -> dict:
    start = time.perf_counter()
    g = random_graph(n)
    built = time.perf_counter()
    opt, rows = optimize(g, 2)
    optimized = time.perf_counter()
    source = NumbaPrinter().source(opt)
    printed = time.perf_counter()
    jit_s = None
    if jit:
        from physgraph.kernel import Kernel, Options
        k = Kernel(g, tuple(range(len(g.outputs))), f"scaling{n}", Options("numba"))
        jit_s = k.compile().stats["jit_s"]
    return {"nodes": len(g), "nodes_out": len(opt), "build_s": built - start, "jit_s": jit_s,
            "passes_s": optimized - built, "codegen_s": printed - optimized,
            "source_lines": source.count("\n"),
            "per_pass_s": {r.name: r.seconds for r in rows[1:]},
            "peak_rss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def machine() -> dict:
    cpu = platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import os
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--jit-max", type=int, default=0)
    ap.add_argument("--json")
    args = ap.parse_args()
    rows = []
    for n in map(int, args.sizes.split(",")):
        r = measure(n, n <= args.jit_max)
        rows.append(r)
        print(f"{r['nodes']:>9} nodes: build {r['build_s']:.2f} s, passes {r['passes_s']:.2f} s, "
              f"codegen {r['codegen_s']:.2f} s, numba JIT "
              f"{'-' if r['jit_s'] is None else format(r['jit_s'], '.1f') + ' s'}, "
              f"peak RSS {r['peak_rss_MB']:.0f} MB", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
