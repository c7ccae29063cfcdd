"""Pipeline scaling: trace, optimize, print and compile functions of 10^3 .. 10^6 nodes.

    python benchmarks/scaling.py [--sizes 1000,10000,100000,1000000] [--compile-max N|nvcc=N,...]
                                 [--backends numba,jax,nvcc] [--json PATH]

Each size is a traced Python function, compiled with ``pg.compile`` as a user would (the
on-disk cache off): the kernel's own clock gives trace, passes and code generation.  With
--compile-max, kernels up to N nodes (the size asked for; or N per backend, as
``numba=30000,nvcc=100000``) are also compiled to machine code by each backend:

- numba: ``k.compile()``, the JIT of the generated module (its body in stages of at most
  ``NumbaPrinter.part_size`` nodes);
- jax: the first call on 1024 events less the second: JAX tracing the generated jnp code
  plus XLA's compile;
- nvcc: ``nvcc -arch=sm_90 -cubin`` on the CUDA backend's source, front end through ptxas
  (what CuPy's NVRTC and the driver do on a GPU machine; no GPU needed);
- llvm: the traced graph to a first result with ``backend="llvm"``: its passes, printing,
  LLVM's optimization and code generation, one call (the trace is the row's).

Peak memory is the process's maximum resident set so far; sizes run in increasing order,
so each row's peak is its own.

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
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

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


def measure(n: int, backends: list) -> dict:
    fn = random_function(n)
    k = pg.compile(fn, backend="numba")
    s = k.stats
    return {"nodes": s["nodes_in"], "nodes_out": s["nodes_out"], "trace_s": s["frontend_s"],
            "passes_s": s["passes_s"], "codegen_s": s["codegen_s"],
            "stages": k.source.count("\ndef stage"), "part_size": NumbaPrinter.part_size,
            "source_lines": k.source.count("\n"),
            "total_s": s["frontend_s"] + s["passes_s"] + s["codegen_s"],
            "per_pass_s": s["pass_s"],
            "compile_s": {b: COMPILE[b](k, fn) for b in backends},
            "peak_rss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def numba_jit(k: pg.Kernel, fn) -> float:
    return k.compile().stats["jit_s"]


def jax_compile(k: pg.Kernel, fn) -> float:
    kj = k.with_backend("jax")
    rng = np.random.default_rng(1)
    args = (rng.uniform(1.0, 2.0, (1024, 8)), 1.5, 0.5)
    timed = []
    for _ in range(2):
        start = time.perf_counter()
        kj(*args)
        timed.append(time.perf_counter() - start)
    return timed[0] - timed[1]


def nvcc_compile(k: pg.Kernel, fn) -> float | None:
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        return None
    source = k.with_backend("cuda").source
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "k.cu").write_text(source)
        start = time.perf_counter()
        subprocess.run([nvcc, "-arch=sm_90", "-cubin", "k.cu", "-o", "k.cubin"], cwd=tmp,
                       check=True, capture_output=True)
        return time.perf_counter() - start


def llvm_first_result(k: pg.Kernel, fn) -> float:
    """The LLVM backend from the traced graph to a first result: its own passes (it takes
    fma and lowers complex, so the numba kernel's graph is not its graph), printing,
    LLVM's optimization and code generation, one call."""
    start = time.perf_counter()
    k.with_backend("llvm").compile()(np.ones((8, 8)), 1.5, 0.5)
    return time.perf_counter() - start


COMPILE = {"numba": numba_jit, "jax": jax_compile, "nvcc": nvcc_compile,
           "llvm": llvm_first_result}


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
    ap.add_argument("--compile-max", default="0",
                    help="compile to machine code the sizes up to N (or backend=N,...)")
    ap.add_argument("--backends", default="numba",
                    help=f"comma-separated, of {', '.join(COMPILE)} (with --compile-max)")
    ap.add_argument("--json")
    args = ap.parse_args()
    backends = args.backends.split(",")
    unknown = sorted(set(backends) - set(COMPILE))
    if unknown:
        ap.error(f"--backends: unknown {', '.join(unknown)}; choose from {', '.join(COMPILE)}")
    if "=" in args.compile_max:
        compile_max = {b: int(m) for b, m in (p.split("=") for p in args.compile_max.split(","))}
    else:
        compile_max = dict.fromkeys(backends, int(args.compile_max))
    rows = []
    for n in map(int, args.sizes.split(",")):
        r = measure(n, [b for b in backends if n <= compile_max.get(b, 0)])
        rows.append(r)
        compiled = ", ".join(f"{b} {'-' if t is None else format(t, '.1f') + ' s'}"
                             for b, t in r["compile_s"].items())
        print(f"{r['nodes']:>9} nodes: trace {r['trace_s']:.2f} s, passes {r['passes_s']:.2f} s, "
              f"codegen {r['codegen_s']:.2f} s (total {r['total_s']:.1f} s)"
              f"{', compile: ' + compiled if compiled else ''}, "
              f"peak RSS {r['peak_rss_MB']:.0f} MB", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "date": time.strftime("%Y-%m-%d"),
                       "command": "python benchmarks/scaling.py --sizes "
                                  f"{args.sizes} --compile-max {args.compile_max} "
                                  f"--backends {args.backends}",
                       "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
