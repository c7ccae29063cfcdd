"""The machine's limits, measured in the same run: memory bandwidth and FMA peak.

- STREAM triad ``a = b + s * c`` with numba ``prange`` on all cores, arrays several times the
  last-level cache; bandwidth counts 3 arrays x itemsize per element, STREAM's convention
  (write-allocate reads are not counted, as they are not in the kernels' bytes/event).
- Peak FMA: each thread keeps a block in L1 and applies a chain of fused multiply-adds to
  8 independent streams of it, so the FMA units, not the loads, are the limit.  LLVM prefers
  256-bit vectors on AVX-512 parts, so the kernel is compiled with the vector width forced
  to the widest the CPU has: the peak is the machine's, not that of numba's default.

The measurement runs in a child process (``python -m physgraph.bench.limits``): the forced
vector width is an LLVM-wide setting that must not leak into the kernels being measured, and
the triad's arrays are given back to the OS when it ends.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .machine import cpu_flags, last_level_cache_bytes, memory_bytes

CHAIN = 8          # dependent FMAs per element per pass
STREAMS = 8        # independent chains interleaved, to cover the FMA latency
L1_BLOCK_BYTES = 32 * 1024


@dataclass
class Limits:
    triad_GBps: float | None = None
    fma_GFLOPs: float | None = None
    details: dict = field(default_factory=dict)
    error: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def vector_bits() -> int:
    flags = cpu_flags()
    return 512 if "avx512f" in flags else 256 if "avx" in flags else 128


def _median_time(fn, repeat: int) -> tuple[float, float]:
    """(median, best) seconds of ``repeat`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), float(min(times))


# ---- kernels (compiled on first use, inside the child process) ------------------------------
def _kernels():
    import numba as nb

    @nb.njit(parallel=True, nogil=True)
    def fill(a, value):
        for i in nb.prange(a.shape[0]):
            a[i] = value

    @nb.njit(parallel=True, nogil=True)
    def triad(a, b, c, s):
        for i in nb.prange(a.shape[0]):
            a[i] = b[i] + s * c[i]

    # contract: let LLVM fuse y * b + c into one FMA instruction (nothing else is relaxed)
    @nb.njit(parallel=True, nogil=True, fastmath={"contract"})
    def fma(x, reps, b, c):
        q = x.shape[1] // 8
        for t in nb.prange(x.shape[0]):
            v = x[t]
            for _ in range(reps):
                for j in range(q):
                    y0, y1, y2, y3 = v[j], v[j + q], v[j + 2 * q], v[j + 3 * q]
                    y4, y5, y6, y7 = v[j + 4 * q], v[j + 5 * q], v[j + 6 * q], v[j + 7 * q]
                    for _k in range(8):
                        y0 = y0 * b + c
                        y1 = y1 * b + c
                        y2 = y2 * b + c
                        y3 = y3 * b + c
                        y4 = y4 * b + c
                        y5 = y5 * b + c
                        y6 = y6 * b + c
                        y7 = y7 * b + c
                    v[j], v[j + q], v[j + 2 * q], v[j + 3 * q] = y0, y1, y2, y3
                    v[j + 4 * q], v[j + 5 * q], v[j + 6 * q], v[j + 7 * q] = y4, y5, y6, y7
    return fill, triad, fma


def triad_elements(array_mb: float | None = None) -> int:
    """Elements per array: 4x the last-level cache (at least 64 MB), at most 1/8 of memory."""
    if array_mb is None:
        nbytes = max(4 * last_level_cache_bytes(), 64 << 20)
        nbytes = min(nbytes, memory_bytes() // 8 // 3 or nbytes)
    else:
        nbytes = int(array_mb * (1 << 20))
    return max(nbytes // 8, 1024)


def measure_triad(array_mb: float | None = None, repeat: int = 5) -> dict:
    fill, triad, _ = _kernels()
    n = triad_elements(array_mb)
    a, b, c = (np.empty(n) for _ in range(3))
    for x, v in ((a, 0.0), (b, 1.0), (c, 2.0)):
        fill(x, v)            # first touch on every core, as the kernels' threads will read
    median, best = _median_time(lambda: triad(a, b, c, 3.0), repeat)
    if not np.all(a[:: max(n // 1000, 1)] == 7.0):
        raise RuntimeError("triad computed a wrong result")
    nbytes = 3 * 8 * n
    return {"triad_GBps": nbytes / median / 1e9, "triad_best_GBps": nbytes / best / 1e9,
            "triad_array_MB": 8 * n / (1 << 20)}


def measure_fma(dtype: str = "float64", repeat: int = 5, sample_s: float = 0.2) -> dict:
    import numba as nb
    _, _, fma = _kernels()
    threads = nb.get_num_threads()
    itemsize = np.dtype(dtype).itemsize
    x = np.ones((threads, L1_BLOCK_BYTES // itemsize), dtype=dtype)
    b, c = x.dtype.type(0.999), x.dtype.type(0.001)      # fixed point 1: no overflow, no denormals
    fma(x, 1, b, c)
    start = time.perf_counter()
    fma(x, 20, b, c)
    reps = max(1, int(20 * sample_s / max(time.perf_counter() - start, 1e-9)))
    median, best = _median_time(lambda: fma(x, reps, b, c), repeat)
    flops = 2 * CHAIN * x.size * reps
    asm = _fma_asm(fma)
    return {"fma_GFLOPs": flops / median / 1e9, "fma_best_GFLOPs": flops / best / 1e9,
            "fma_dtype": dtype, "threads": threads, "fma_instructions": asm}


def _fma_asm(fn) -> dict:
    """How many vector FMA instructions of each width the kernel compiled to (x86 only):
    evidence that the peak was measured with FMAs, at the width claimed."""
    import re
    try:
        text = "".join(fn.inspect_asm().values())
    except Exception:                  # noqa: BLE001 - an inspection, never a failure
        return {}
    return {reg: len(re.findall(rf"vfmadd\w*\s+[^\n]*%{reg}", text))
            for reg in ("xmm", "ymm", "zmm")}


def force_vector_width(dtype: str) -> int:
    """Forces LLVM's loop vectorizer to the CPU's widest vectors; returns the width in bits."""
    bits = vector_bits()
    try:
        import llvmlite.binding as ll
        ll.set_option("", f"--force-vector-width={bits // 8 // np.dtype(dtype).itemsize}")
    except Exception:                  # noqa: BLE001 - fall back to numba's default width
        return 0
    return bits


def measure_here(dtype: str = "float64", triad_mb: float | None = None,
                 repeat: int = 5) -> Limits:
    """Both measurements in this process (the child's job; it changes LLVM's settings)."""
    bits = force_vector_width(dtype)
    details = {"fma_vector_bits": bits}
    triad = measure_triad(triad_mb, repeat)
    fma = measure_fma(dtype, repeat)
    details.update({k: v for k, v in {**triad, **fma}.items()
                    if k not in ("triad_GBps", "fma_GFLOPs")})
    return Limits(triad["triad_GBps"], fma["fma_GFLOPs"], details)


def measure(dtype: str = "float64", triad_mb: float | None = None, repeat: int = 5,
            timeout_s: float = 600) -> Limits:
    """Both limits, measured in a child process; failures come back as ``Limits.error``."""
    cmd = [sys.executable, "-m", "physgraph.bench.limits", "--dtype", dtype,
           "--repeat", str(repeat)] + ([] if triad_mb is None else ["--triad-mb", str(triad_mb)])
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return Limits(error=f"the limits measurement took more than {timeout_s:.0f} s")
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return Limits(error=f"the limits measurement failed: {' | '.join(tail)}")
    limits = Limits(**json.loads(done.stdout.strip().splitlines()[-1]))
    limits.details["wall_s"] = time.perf_counter() - start
    return limits


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m physgraph.bench.limits",
                                description="measure STREAM triad GB/s and FMA GFLOP/s")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    p.add_argument("--triad-mb", type=float, default=None, help="MB per triad array")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    print(json.dumps(measure_here(args.dtype, args.triad_mb, args.repeat).to_dict()))


if __name__ == "__main__":
    main()
