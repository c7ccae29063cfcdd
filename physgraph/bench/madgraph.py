"""Workload ``madgraph:PATH``: a subprocess imported from a MadGraph5_aMC@NLO CUDACPP output
directory (``pg.madgraph``), against madgraph4gpu's own SIMD C++ for the same process.

PATH is the output directory (its first subprocess) or one ``SubProcesses/P*`` directory in
it.  Events are on-shell RAMBO points at 1.5 TeV with the beams along z (the energy of
madgraph4gpu's check program); physgraph runs the imported function for any beam direction,
as MadGraph's own code does.  The reference is the same traced function evaluated by the
numpy backend without passes (for a process looped over helicities, the same loop: its
rows are checked against MadGraph's own reference values by the importer's tests).

The peer ``madgraph4gpu`` runs the check program built in the subprocess directory (``make
BACKEND=cppauto FPTYPE=d`` there makes ``check_cpp.exe``): ``check_cpp.exe -p BLOCKS 256
ITERATIONS`` on about as many events, as many single-threaded copies at once as physgraph's
CPU backends use threads (``NUMBA_NUM_THREADS``, else one per core), and adds their
``EvtsPerSec[MatrixElems]``: the check program is built with OpenMP only with
``USEOPENMP=1``, and one process per core is how a production run uses a machine anyway.
It draws its own events and times itself, so its row is not checked against the reference
here: MadGraph's code is checked against its own reference dumps by the importer's tests.
"""
from __future__ import annotations

import os
import re
import subprocess
from functools import cache
from pathlib import Path

import numpy as np

from ..backends.llvm_run import threads as worker_threads
from .impls import Implementation, Prepared
from .mem import generate_events
from .workloads import Arrays, Workload

PREFIX = "madgraph:"
SQRT_S = 1500.0
THREADS = 256                       # the check program's events per "GPU block"
TOLERANCE = {"float64": 1e-9, "float32": 1e-2}


def split(path: str) -> tuple[Path, str | None]:
    """(output directory, subprocess directory name or None for the first one)."""
    p = Path(path).expanduser().resolve()
    if p.parent.name == "SubProcesses":
        return p.parent.parent, p.name
    return p, None


@cache
def _subprocess(path: str):
    from ..frontend import madgraph
    directory, name = split(path)
    subs = madgraph.load(directory).subprocesses
    if name is None:
        name = next(iter(subs))
    if name not in subs:
        raise madgraph.MissingFileError(f"{directory} has no subprocess {name!r}; it has "
                                        f"{', '.join(subs)}")
    return directory, subs[name]


def workload(path: str) -> Workload:
    """The workload of ``madgraph:PATH``."""
    directory, sub = _subprocess(path)
    peer = Implementation("madgraph4gpu-check", "madgraph4gpu", "peer", _build_check(path),
                          unsupported=lambda w, dtype: _check_missing(path, dtype))
    return Workload(
        name=PREFIX + path,
        description=f"{' | '.join(sub.processes)} |M|^2 imported from {directory.name} "
                    f"({sub.code.diagrams} diagrams, {len(sub.code.helicities)} helicities)",
        build=None, generate=generate_events(sub.masses[2:], SQRT_S), reference=_reference(path),
        kernel=_kernel(path), peers=(peer,), default_events=64 * THREADS, tolerance=TOLERANCE,
        note="peer madgraph4gpu: MadGraph's check_cpp.exe, if built in the subprocess folder")


def _reference(path: str):
    def reference(inputs: Arrays) -> list[np.ndarray]:
        _, sub = _subprocess(path)
        k = sub.kernel(backend="numpy", opt_level=0)
        return [k(*(a.astype(np.float64) for a in inputs.values()))]
    return reference


def _kernel(path: str):
    def make(backend: str, dtype: str):
        _, sub = _subprocess(path)
        k = sub.kernel(backend=backend, dtype=dtype)

        def run(*arrays):
            return k(*arrays)
        run.kernel = k
        return run
    return make


# ---- the peer: madgraph4gpu's check program -------------------------------------------------
def check_program(path: str) -> Path | None:
    """check_cpp.exe in the subprocess directory (or one of its build.* folders)."""
    directory, sub = _subprocess(path)
    folder = directory / "SubProcesses" / sub.name
    found = [folder / "check_cpp.exe", *sorted(folder.glob("build.*/check_cpp.exe"))]
    return next((p for p in found if p.is_file() and os.access(p, os.X_OK)), None)


def _check_missing(path: str, dtype: str) -> str | None:
    if check_program(path) is None:
        return ("no check_cpp.exe in the subprocess folder (copy the output somewhere "
                "writable; there: make BACKEND=cppauto FPTYPE=d)")
    return None


_RATE = re.compile(r"EvtsPerSec\[MatrixElems\] \(3\) = \( *([0-9.eE+-]+)")
_PRECISION = re.compile(r"FP precision += (\w+)")


def run_check(exe: Path, events: int, iterations: int, threads: int) -> tuple[float, str]:
    """(events/s of the matrix elements, precision): ``threads`` copies of the check program
    at once, one thread each, their ``events`` shared out and their rates added; so it uses
    as many cores as physgraph does whether or not it was built with OpenMP (a build
    without it runs one thread whatever OMP_NUM_THREADS says)."""
    blocks = max(1, -(-events // (THREADS * threads)))
    cmd = [str(exe), "-p", str(blocks), str(THREADS), str(iterations)]
    runs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             cwd=exe.parent, env={**os.environ, "OMP_NUM_THREADS": "1"})
            for _ in range(threads)]
    total, precision = 0.0, "unknown"
    outputs = [run.communicate() for run in runs]      # all of them, even after a failure
    for run, (stdout, stderr) in zip(runs, outputs):
        rate, found = _RATE.search(stdout), _PRECISION.search(stdout)
        if run.returncode != 0 or rate is None:
            tail = (stdout + stderr).strip().splitlines()[-3:]
            raise RuntimeError(f"{' '.join(cmd)} failed (exit {run.returncode}): "
                               f"{' | '.join(tail)}")
        total += float(rate.group(1))
        precision = found.group(1) if found else precision
    return total, precision


def _build_check(path: str):
    def build(w: Workload, dtype: str, n: int) -> Prepared:
        exe = check_program(path)
        threads = worker_threads()            # as many as physgraph's CPU backends use

        def self_timed(events: int, repeat: int) -> tuple[float, str]:
            rate, precision = run_check(exe, events, repeat, threads)
            wanted = {"float64": "DOUBLE", "float32": "FLOAT"}[dtype]
            if precision != wanted:
                raise RuntimeError(f"{exe} computes in {precision}, this run is {dtype} "
                                   f"(rebuild with FPTYPE={'d' if dtype == 'float64' else 'f'})")
            blocks = max(1, -(-events // (THREADS * threads)))
            return rate, (f"{threads} x {exe.name} -p {blocks} {THREADS} {repeat} at once, one "
                          "thread each, rates added: its own events and timer, not checked here")
        return Prepared(bind=None, unpack=None, self_timed=self_timed)
    return build
