"""Accuracy of the LLVM backend's math functions against numpy, over each function's range.

    python benchmarks/vecmath_accuracy.py [--points 1000000] [--json PATH]

Each function is compiled alone with ``backend="llvm"`` (float64 and float32) and run on
points spread over its whole domain: magnitudes uniform in log scale from the smallest
normal number to the largest whose result is finite, both signs where the domain has them,
plus a uniform sample of the central interval.  The error is in units in the last place of
the result numpy gives (numpy's own functions are within about 1 ulp of exact); the table
says where each function comes from: an LLVM intrinsic, glibc's libmvec at the vector
width, or libm called once per lane.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np

os.environ["PHYSGRAPH_CACHE"] = "off"

import physgraph as pg                        # noqa: E402

# name -> (numpy function, (low, high) of the domain, the central interval)
FUNCTIONS = {
    "sqrt": (np.sqrt, (0, np.inf), (0, 10)),
    "rsqrt": (lambda x: 1 / np.sqrt(x), (0, np.inf), (0.01, 10)),
    "exp": (np.exp, (-745, 709), (-10, 10)),
    "expm1": (np.expm1, (-745, 709), (-1, 1)),
    "log": (np.log, (0, np.inf), (0.5, 2)),
    "log1p": (np.log1p, (-1, np.inf), (-0.5, 1)),
    "sin": (np.sin, (-np.inf, np.inf), (-10, 10)),
    "cos": (np.cos, (-np.inf, np.inf), (-10, 10)),
    "tan": (np.tan, (-np.inf, np.inf), (-10, 10)),
    "asin": (np.arcsin, (-1, 1), (-1, 1)),
    "acos": (np.arccos, (-1, 1), (-1, 1)),
    "atan": (np.arctan, (-np.inf, np.inf), (-10, 10)),
    "sinh": (np.sinh, (-710, 710), (-5, 5)),
    "cosh": (np.cosh, (-710, 710), (-5, 5)),
    "tanh": (np.tanh, (-np.inf, np.inf), (-5, 5)),
    "asinh": (np.arcsinh, (-np.inf, np.inf), (-5, 5)),
    "acosh": (np.arccosh, (1, np.inf), (1, 5)),
    "atanh": (np.arctanh, (-1, 1), (-1, 1)),
    "erf": (None, (-np.inf, np.inf), (-5, 5)),
    "erfc": (None, (-np.inf, np.inf), (-5, 27)),
}
BINARY = {   # name -> (numpy function, traced form)
    "atan2": (np.arctan2, lambda y, x: pg.atan2(y, x)),
    "hypot": (np.hypot, lambda x, y: pg.hypot(x, y)),
    "pow": (np.power, lambda x, y: x ** y),
}


def points(low: float, high: float, central: tuple, n: int, dtype) -> np.ndarray:
    """Log-uniform magnitudes over the domain (both signs where it has them) and a
    uniform sample of the central interval, in ``dtype``."""
    info = np.finfo(dtype)
    rng = np.random.default_rng(7)
    top = np.log10(float(info.max)) - 0.01
    lo_exp, hi_exp = np.log10(float(info.tiny)), top
    mags = 10 ** rng.uniform(lo_exp, hi_exp, n // 2)
    signs = rng.choice([-1.0, 1.0], n // 2)
    x = np.concatenate([mags * signs, rng.uniform(*central, n - n // 2)])
    x = x[(x >= low) & (x <= high)]
    return x.astype(dtype)


def ulps(got: np.ndarray, want: np.ndarray, dtype) -> np.ndarray:
    ok = np.isfinite(want)
    spacing = np.spacing(np.abs(want[ok]).astype(dtype)).astype(np.float64)
    spacing = np.maximum(spacing, float(np.finfo(dtype).smallest_subnormal))
    err = np.abs(got[ok].astype(np.float64) - want[ok].astype(np.float64)) / spacing
    mismatch = ~np.isfinite(want) & (np.isfinite(got) | (np.isnan(got) != np.isnan(want)))
    return np.concatenate([err, np.full(mismatch.sum(), np.inf)])


def origin(source: str, name: str) -> str:
    if "_ZGV" in source:
        return "libmvec"
    if any(f"@llvm.{i}" in source for i in ("sqrt", "fabs")):
        return "LLVM intrinsic"
    return "libm per lane"


def reference(name: str, fn, x: np.ndarray) -> np.ndarray:
    if fn is not None:
        return fn(x.astype(np.float64))
    import math
    return np.vectorize(getattr(math, name), otypes=[np.float64])(x.astype(np.float64))


def measure(n: int) -> list[dict]:
    rows = []
    for dtype in ("float64", "float32"):
        for name, (fn, (low, high), central) in FUNCTIONS.items():
            k = pg.compile(lambda x: getattr(pg, name)(x), backend="llvm", dtype=dtype,
                           name=name)
            x = points(low, high, central, n, dtype)
            with np.errstate(all="ignore"):
                want = reference(name, fn, x).astype(dtype)
                err = ulps(k(x), want, dtype)
            rows.append({"function": name, "dtype": dtype, "from": origin(k.source, name),
                         "max_ulp": float(err.max()), "p99_ulp": float(np.quantile(err, 0.99)),
                         "points": int(x.size)})
        for name, (fn, traced) in BINARY.items():
            k = pg.compile(traced, backend="llvm", dtype=dtype, name=name)
            rng = np.random.default_rng(3)
            x = (10 ** rng.uniform(-3, 3, n) * rng.choice([-1, 1], n)).astype(dtype)
            y = (10 ** rng.uniform(-3, 3, n) * rng.choice([-1, 1], n)).astype(dtype)
            if name == "pow":
                x, y = np.abs(x), rng.uniform(-30, 30, n).astype(dtype)
            with np.errstate(all="ignore"):
                err = ulps(k(x, y), fn(x.astype(np.float64), y.astype(np.float64)).astype(dtype),
                           dtype)
            rows.append({"function": name, "dtype": dtype, "from": origin(k.source, name),
                         "max_ulp": float(err.max()), "p99_ulp": float(np.quantile(err, 0.99)),
                         "points": int(x.size)})
    return rows


def table(rows: list[dict]) -> str:
    by = {(r["function"], r["dtype"]): r for r in rows}
    names = list(dict.fromkeys(r["function"] for r in rows))
    lines = ["| function | from (AVX2) | float64 max ulp | float32 max ulp |",
             "|---|---|---|---|"]
    for name in names:
        d, f = by[(name, "float64")], by[(name, "float32")]
        source = d["from"] if d["from"] == f["from"] else f"{d['from']} / {f['from']}"
        lines.append(f"| {name} | {source} | {d['max_ulp']:.0f} | {f['max_ulp']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--json")
    args = ap.parse_args()
    rows = measure(args.points)
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": f"python benchmarks/vecmath_accuracy.py --points {args.points}",
                       "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
