"""Cold against warm start: the same kernel compiled in two fresh processes.

    python benchmarks/warm_start.py [--process gg_tt,uu_aaa] [--backend numba] [--json PATH]

The first process starts from an empty cache folder (``PHYSGRAPH_CACHE_DIR``): it traces,
optimizes, prints and JIT-compiles.  The second, with the same folder, finds the generated
source in physgraph's cache and the machine code in numba's cache beside it: it only
traces and loads.  Each process times ``pg.compile(...)`` through the first call on one
event, and reports the kernel's own breakdown.  Numba's once-per-process setup (loading
the numba extensions of installed packages, ~1 s here) is triggered first and timed apart:
any numba user pays it, whatever the kernel.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

CHILD = """
import json, sys, time
start = time.perf_counter()
import numpy as np
import physgraph as pg
from physgraph.physics import processes
import numba
imported = time.perf_counter()
numba.njit(lambda x: x + 1.0)(1.0)       # numba's once-per-process setup (its extensions)
numba_ready = time.perf_counter()
k = pg.compile(processes.build({process!r}), backend={backend!r})
args = [np.full((1, 4), 1.0) if a.role == "input" else a.default for a in k.signature]
k(*args)
done = time.perf_counter()
s = k.stats
print(json.dumps({{"import_s": imported - start, "numba_setup_s": numba_ready - imported,
                  "compile_s": done - numba_ready,
                  "cache": s["cache"], "frontend_s": s["frontend_s"], "passes_s": s["passes_s"],
                  "codegen_s": s["codegen_s"], "jit_s": s["jit_s"], "nodes": s["nodes_in"]}}))
"""


def run_child(process: str, backend: str, cache_dir: str) -> dict:
    env = {**os.environ, "PHYSGRAPH_CACHE_DIR": cache_dir}
    code = CHILD.format(process=process, backend=backend)
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--process", default="gg_tt,uu_aaa", help="comma-separated")
    ap.add_argument("--backend", default="numba")
    ap.add_argument("--json")
    args = ap.parse_args()
    runs = []
    for process in args.process.split(","):
        with tempfile.TemporaryDirectory(prefix="physgraph-warm-") as cache_dir:
            cold = run_child(process, args.backend, cache_dir)
            warm = run_child(process, args.backend, cache_dir)
        ratio = warm["compile_s"] / cold["compile_s"]
        print(f"{process} ({cold['nodes']} nodes):")
        for label, r in (("cold", cold), ("warm", warm)):
            print(f"  {label}: {r['compile_s']:.2f} s (cache {r['cache']}; frontend "
                  f"{r['frontend_s']:.2f} s, passes {r['passes_s']:.2f} s, codegen "
                  f"{r['codegen_s']:.2f} s, backend {r['jit_s']:.2f} s; numba's own setup "
                  f"before it {r['numba_setup_s']:.2f} s)")
        print(f"  warm / cold = {ratio:.3f}", flush=True)
        runs.append({"process": process, "cold": cold, "warm": warm, "warm_over_cold": ratio})
    if args.json:
        from scaling import machine
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "date": time.strftime("%Y-%m-%d"),
                       "backend": args.backend, "runs": runs}, f, indent=1)


if __name__ == "__main__":
    main()
