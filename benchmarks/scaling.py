"""Pipeline scaling: trace, optimize, print and JIT-compile functions of 10^3 .. 10^6 nodes.

    python benchmarks/scaling.py [--sizes 1000,10000,100000,1000000] [--jit-max N] [--json PATH]

Each size is a traced Python function, compiled with ``pg.compile`` as a user would (the
on-disk cache off): the kernel's own clock gives trace, passes and code generation.  With
--jit-max, kernels up to N nodes are also compiled by numba (the JIT, in stages of at most
``NumbaPrinter.part_size`` nodes).  Peak memory is the process's maximum resident set so
far; sizes run in increasing order, so each row's peak is its own.

The function is a random per-event expression over 8 inputs and 2 params: each new value
combines two recent ones (so the graph is deep as well as wide) with +, -, *, / or a
function call.  Nothing in physgraph may recurse on it: the point is time linear in size
and no RecursionError.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time

import numpy as np

os.environ["PHYSGRAPH_CACHE"] = "off"          # time the work, not a cache hit

import physgraph as pg                         # noqa: E402
from physgraph.backends.numba_ import NumbaPrinter   # noqa: E402

BINARY = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
          "/": lambda a, b: a / b}
CHOICES = ["+", "-", "*", "/", "+", "*", "sqrt", "exp"]


def random_function(n: int, seed: int = 0):
    """A traceable function of about ``1.2 n`` nodes (the calls add a scaling product)."""
    rng = np.random.default_rng(seed)
    names = [CHOICES[c] for c in rng.choice(len(CHOICES), n).tolist()]   # Python objects:
    back = rng.integers(1, 64, (n, 2)).tolist()       # numpy scalars would slow the trace

    def random_expression(x: pg.Vec[8], p0: pg.Param, p1: pg.Param):
        values = [x[k] for k in range(8)] + [p0, p1]
        for name, (i, j) in zip(names, back):
            a = values[-min(i, len(values))]
            if name == "sqrt":
                values.append(pg.sqrt(a * 0.001))
            elif name == "exp":
                values.append(pg.exp(a * 0.001))
            else:
                values.append(BINARY[name](a, values[-min(j, len(values))]))
        return tuple(values[-4:])
    return random_expression


def measure(n: int, jit: bool) -> dict:
    k = pg.compile(random_function(n), backend="numba")
    s = k.stats
    if jit:
        s = k.compile().stats
    return {"nodes": s["nodes_in"], "nodes_out": s["nodes_out"], "trace_s": s["frontend_s"],
            "passes_s": s["passes_s"], "codegen_s": s["codegen_s"], "jit_s": s["jit_s"],
            "stages": k.source.count("\ndef stage"), "part_size": NumbaPrinter.part_size,
            "source_lines": k.source.count("\n"),
            "total_s": s["frontend_s"] + s["passes_s"] + s["codegen_s"],
            "per_pass_s": s["pass_s"],
            "peak_rss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def machine() -> dict:
    cpu = platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000,1000000")
    ap.add_argument("--jit-max", type=int, default=0)
    ap.add_argument("--json")
    args = ap.parse_args()
    rows = []
    for n in map(int, args.sizes.split(",")):
        r = measure(n, n <= args.jit_max)
        rows.append(r)
        print(f"{r['nodes']:>9} nodes: trace {r['trace_s']:.2f} s, passes {r['passes_s']:.2f} s, "
              f"codegen {r['codegen_s']:.2f} s (total {r['total_s']:.1f} s), numba JIT "
              f"{'-' if r['jit_s'] is None else format(r['jit_s'], '.1f') + ' s'}, "
              f"peak RSS {r['peak_rss_MB']:.0f} MB", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "date": time.strftime("%Y-%m-%d"),
                       "command": "python benchmarks/scaling.py --sizes "
                                  f"{args.sizes} --jit-max {args.jit_max}",
                       "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
