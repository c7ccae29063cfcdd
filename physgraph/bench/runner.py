"""Runs a workload on every implementation: compile, check, then time.

For each implementation, in this order:
1. skipped (package missing, backend not there yet, dtype unsupported) -> a row that says why;
2. import and build, timed apart (``import_s``, ``build_s``); an exception -> failed;
3. one call on all events, checked against the float64 reference: a wrong result is WRONG,
   with its max relative error, and gets no speed;
4. the checked call was the warm-up; the median of ``repeat`` timed calls -> events/s, and
   from the workload's flops and bytes per event: GFLOP/s, GB/s, and the fraction of the nearer
   roofline limit (triad bandwidth or FMA peak) measured in the same run.

``compile_s`` is ``build_s`` plus what the first call took beyond a timed call, so a tool that
compiles lazily on first use (JAX) is charged for it like one that compiles up front.
"""
from __future__ import annotations

import gc
import importlib
import math
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from . import compare
from .impls import Implementation
from .limits import Limits
from .workloads import Arrays, Workload

Progress = Callable[[str, float], None]      # (what is happening, steps done since last call)


@dataclass
class Row:
    impl: str
    kind: str
    status: str                       # "ok", "WRONG", "failed" or "skipped"
    message: str = ""
    flops_per_event: int = 0          # the workload's, as written (before any passes)
    executed_flops_per_event: int | None = None   # what this implementation executes,
    #                                   where known (physgraph: its kernel after the passes)
    bytes_per_event: int = 0
    tolerance: float | None = None
    import_s: float | None = None
    build_s: float | None = None      # making the callable (physgraph: frontend to JIT)
    first_call_s: float | None = None
    compile_s: float | None = None    # build_s + what the first call cost beyond a timed one
    max_rel_err: float | None = None
    events_per_s: float | None = None
    time_s: float | None = None       # median seconds per call on all events
    times_s: list = field(default_factory=list)
    GBps: float | None = None
    GFLOPs: float | None = None
    limit_fraction: float | None = None
    bound: str | None = None          # the nearer limit: "memory" or "compute"
    info: dict = field(default_factory=dict)
    sweep: dict = field(default_factory=dict)     # batch size -> events/s

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sweep"] = {str(k): v for k, v in self.sweep.items()}
        return d


@dataclass
class Config:
    events: int
    dtype: str = "float64"
    repeat: int = 5
    sweep: bool = False               # also time a few smaller batches (for --plot)


def batch_sizes(events: int) -> list[int]:
    """A decade apart, from events/1000 (at least 100) up to events."""
    sizes = {events // 10**k for k in range(4) if events // 10**k >= 100}
    return sorted(sizes | {events})


def time_call(call: Callable[[], object], repeat: int, min_sample_s: float = 0.02,
              warm_up: bool = True) -> list[float]:
    """Seconds per call: a warm-up call (unless the caller just made one), then ``repeat``
    samples.  A sample loops over as many calls as it takes to last ``min_sample_s``, so tiny
    batches are not timer noise; with ``min_sample_s=0`` each sample is one call."""
    inner = 1
    if warm_up or min_sample_s > 0:
        start = time.perf_counter()
        call()
        first = time.perf_counter() - start
        inner = max(1, min(10_000, math.ceil(min_sample_s / max(first, 1e-9))))
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(inner):
            call()
        times.append((time.perf_counter() - start) / inner)
    return times


def roofline(row: Row, limits: Limits) -> None:
    """Fills GB/s, GFLOP/s and the fraction of the nearer limit from events/s.

    At this arithmetic intensity the binding roof is the one the kernel is closer to (in
    ratio), so the nearer limit is the larger of the two fractions.  GFLOP/s counts the
    flops the implementation executes where they are known: the workload's own count (g g
    -> t t~ g: 39801 before the passes, 18903 executed) would overstate how close a kernel
    is to the FMA peak.
    """
    rate = row.events_per_s
    row.GBps = rate * row.bytes_per_event / 1e9
    flops = row.executed_flops_per_event or row.flops_per_event
    row.GFLOPs = rate * flops / 1e9
    fractions = {}
    if limits.triad_GBps:
        fractions["memory"] = row.GBps / limits.triad_GBps
    if limits.fma_GFLOPs:
        fractions["compute"] = row.GFLOPs / limits.fma_GFLOPs
    if fractions:
        row.bound = max(fractions, key=fractions.get)
        row.limit_fraction = fractions[row.bound]


def _error(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}".strip()
    first = text.splitlines()[0] if text else type(err).__name__
    return first[:300]


def _import(impl: Implementation) -> float:
    start = time.perf_counter()
    for module in impl.requires:
        importlib.import_module(module)
    return time.perf_counter() - start


def run_one(impl: Implementation, workload: Workload, inputs: Arrays, ref: list[np.ndarray],
            limits: Limits, config: Config, progress: Progress) -> Row:
    bytes_ = workload.bytes_per_event(config.dtype)["total"]
    row = Row(impl.name, impl.kind, "skipped", flops_per_event=workload.flops_per_event,
              bytes_per_event=bytes_, tolerance=workload.tolerance[config.dtype])
    reason = impl.skip_reason(workload, config.dtype)
    if reason:
        row.message = reason
        return row
    stage = "import"
    try:
        row.import_s = _import(impl)
        stage = "compile"
        progress(f"{impl.name}: compiling", 0)
        start = time.perf_counter()
        prepared = impl.build(workload, config.dtype, config.events)
        row.build_s = row.compile_s = time.perf_counter() - start
        row.info.update(prepared.info)
        row.executed_flops_per_event = prepared.info.get("kernel_flops")
        if prepared.self_timed is not None:
            stage = "timing"
            progress(f"{impl.name}: running its own benchmark", 0)
            row.events_per_s, row.message = prepared.self_timed(config.events, config.repeat)
            row.time_s = config.events / row.events_per_s
            row.status = "ok"
            roofline(row, limits)
            return row
        stage = "check"
        progress(f"{impl.name}: checking against the reference", 0)
        n_run = min(prepared.subset or config.events, config.events)
        if n_run < config.events:           # a slow peer: its first n_run events, scaled
            inputs = {k: v[:n_run] for k, v in inputs.items()}
            ref = [r[:n_run] for r in ref]
            row.info["events_run"] = n_run
        call = prepared.bind(inputs)
        start = time.perf_counter()
        raw = call()
        row.first_call_s = time.perf_counter() - start
        result = compare.check(prepared.unpack(raw, n_run), ref, row.tolerance)
        del raw
        row.max_rel_err = result.max_rel_err
        if not result.ok:
            row.status, row.message = "WRONG", result.message
            return row
        stage = "timing"
        progress(f"{impl.name}: timing {config.repeat} calls", 0)
        # the checked call above was the warm-up: same inputs, same batch size
        row.times_s = time_call(call, config.repeat, min_sample_s=0.0, warm_up=False)
        row.time_s = float(np.median(row.times_s))
        row.events_per_s = n_run / row.time_s
        # a lazy JIT (JAX's, say) compiles in the first call: that part is compile time too
        row.compile_s = row.build_s + max(0.0, row.first_call_s - row.time_s)
        row.status = "ok"
        roofline(row, limits)
        del call
        if config.sweep:
            stage = "batch sweep"
            row.sweep = sweep(prepared, inputs, config, progress, impl.name)
    except Exception as err:                       # noqa: BLE001 - a peer must not kill the run
        row.status = "failed"
        row.message = f"{stage}: {_error(err)}"
        row.info["traceback"] = traceback.format_exc(limit=-3)
    finally:
        gc.collect()
    return row


def sweep(prepared, inputs: Arrays, config: Config, progress: Progress, name: str) -> dict:
    """events/s at each of ``batch_sizes``, on the first n events (views, not copies)."""
    rates = {}
    for n in batch_sizes(config.events):
        n = min(n, prepared.subset or n)
        progress(f"{name}: batch of {n:,} events", 0)
        call = prepared.bind({k: v[:n] for k, v in inputs.items()})
        rates[n] = n / float(np.median(time_call(call, max(3, config.repeat))))
        del call
    return rates


@dataclass
class Result:
    workload: Workload
    config: Config
    limits: Limits
    rows: list[Row]
    reference_s: float
    generate_s: float
    build_s: float
    load_before: float | None = None     # 1-min load average when the run began: was it quiet?


def run(workload: Workload, impls: list[Implementation], config: Config,
        limits: Callable[[], Limits] | Limits | None = None,
        progress: Progress = lambda text, advance: None) -> Result:
    """Measures ``impls`` on ``workload``; ``limits`` is measured first when it's a callable."""
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    progress(f"{workload.name}: building the SymPy form" if workload.has_symbolic else
             f"{workload.name}: counting its flops", 0)
    start = time.perf_counter()
    workload.flops_per_event      # noqa: B018 - cached for every row (builds the SymPy form)
    build_s = time.perf_counter() - start
    if callable(limits):
        progress("measuring the machine's limits (triad, FMA)", 0)
        limits = limits()
    limits = limits or Limits(error="not measured")
    progress("", 1)
    progress(f"{workload.name}: {config.events:,} events and their reference", 0)
    start = time.perf_counter()
    inputs = workload.inputs(config.events, config.dtype)
    generate_s = time.perf_counter() - start
    start = time.perf_counter()
    ref = workload.reference(inputs)
    reference_s = time.perf_counter() - start
    progress("", 1)
    rows = []
    for impl in impls:
        rows.append(run_one(impl, workload, inputs, ref, limits, config, progress))
        progress("", 1)
    return Result(workload, config, limits, rows, reference_s, generate_s, build_s, load_before)
