"""Showing and saving a benchmark: the terminal table and progress bar (rich), JSON, CSV, PNG.

The JSON document is the record: the CSV, the plot and ``benchmarks/make_table.py`` are all
made from it (``write_plot`` takes the JSON dict, not the live result), so a committed JSON
file can be re-plotted and re-tabulated without re-running anything.
"""
from __future__ import annotations

import csv
import datetime
import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import machine
from .runner import Progress, Result

SCHEMA = "physgraph-bench/1"
CSV_FIELDS = ("impl", "kind", "status", "events_per_s", "compile_s", "import_s",
              "flops_per_event", "executed_flops_per_event", "bytes_per_event", "GBps",
              "GFLOPs", "limit_fraction", "bound", "max_rel_err", "tolerance", "time_s",
              "message")


# ---- the record -----------------------------------------------------------------------------
def summary(rows: list[dict]) -> dict:
    """The fastest correct peer and each physgraph backend's speed-up over it."""
    peers = [r for r in rows if r["kind"] == "peer" and r["status"] == "ok"]
    if not peers:
        return {"fastest_peer": None, "speedup_vs_fastest_peer": {}}
    best = max(peers, key=lambda r: r["events_per_s"])
    return {"fastest_peer": best["impl"], "fastest_peer_events_per_s": best["events_per_s"],
            "speedup_vs_fastest_peer": {r["impl"]: r["events_per_s"] / best["events_per_s"]
                                        for r in rows
                                        if r["kind"] == "physgraph" and r["status"] == "ok"}}


def to_json(result: Result, machine_name: str | None = None, command: str = "") -> dict:
    w, cfg = result.workload, result.config
    rows = [r.to_dict() for r in result.rows]
    info = machine.describe(machine_name)
    # the run itself keeps both cores busy, so only the load before it says who else was there
    info["load_average_1min_before"] = \
        None if result.load_before is None else round(result.load_before, 2)
    return {
        "schema": SCHEMA,
        "date": datetime.date.today().isoformat(),
        "command": command,
        "workload": {
            "name": w.name, "description": w.description, "events": cfg.events,
            "dtype": cfg.dtype, "repeat": cfg.repeat, "seed": w.seed,
            "flops_per_event": w.flops_per_event,
            "bytes_per_event": w.bytes_per_event(cfg.dtype),
            "tolerance": w.tolerance[cfg.dtype],
            "build_s": result.build_s, "generate_s": result.generate_s,
            "reference_s": result.reference_s,
        },
        "machine": info,
        "limits": {"triad_GBps": result.limits.triad_GBps, "fma_GFLOPs": result.limits.fma_GFLOPs,
                   **result.limits.details, "error": result.limits.error},
        "results": rows,
        "summary": summary(rows),
    }


def write_json(doc: dict, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_plain(doc), indent=2, allow_nan=False) + "\n")


def _plain(x):
    """Plain JSON values: numpy scalars as Python numbers, inf and NaN as null (strict JSON
    has neither; the row's message says what happened)."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if hasattr(x, "item") and not isinstance(x, (str, bytes)):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def write_csv(doc: dict, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        out = csv.DictWriter(f, fieldnames=["workload", "dtype", "events", *CSV_FIELDS])
        out.writeheader()
        for r in doc["results"]:
            out.writerow({"workload": doc["workload"]["name"], "dtype": doc["workload"]["dtype"],
                          "events": doc["workload"]["events"],
                          **{k: r.get(k) for k in CSV_FIELDS}})


# ---- the plot -------------------------------------------------------------------------------
def write_plot(doc: dict, path: str | Path) -> None:
    """events/s against batch size, log-log, a line per implementation, and the rate at which
    the triad bandwidth would move the workload's bytes (its memory roof)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10.5, 5.5))
    sizes_seen: list[int] = []
    for r in doc["results"]:
        if r["status"] == "ok" and r.get("sweep"):
            sizes = sorted(int(n) for n in r["sweep"])
            sizes_seen += sizes
            style = "-" if r["kind"] == "physgraph" else "--"
            ax.plot(sizes, [r["sweep"][str(n)] for n in sizes], style, marker="o", label=r["impl"])
    triad = doc["limits"].get("triad_GBps")
    bytes_ = doc["workload"]["bytes_per_event"]["total"]
    if triad and sizes_seen:
        ax.axhline(triad * 1e9 / bytes_, color="grey", linestyle=":",
                   label=f"triad bandwidth / bytes per event ({triad:.1f} GB/s)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("events per call (batch size)")
    ax.set_ylabel("events / s")
    w = doc["workload"]
    ax.set_title(f"{w['name']} ({w['dtype']}) on {doc['machine']['name']}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if sizes_seen:      # beside the axes: inside, it hides the lines it names
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.text(0.5, 0.5, "no implementation with a batch sweep", ha="center",
                transform=ax.transAxes)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---- the terminal ---------------------------------------------------------------------------
def _num(x, fmt: str) -> str:
    return "" if x is None else format(x, fmt)


def table_rows(doc: dict) -> list[list[str]]:
    rows = []
    for r in doc["results"]:
        limit = "" if r["limit_fraction"] is None else \
            f"{100 * r['limit_fraction']:.0f}% {r['bound']}"
        err = "" if r["max_rel_err"] is None else f"{r['max_rel_err']:.1e}"
        rows.append([r["impl"], r["status"], _num(r["events_per_s"], ".3g"),
                     _num(r["compile_s"], ".2f"), _num(r["GFLOPs"], ".2f"),
                     _num(r["GBps"], ".2f"), limit, err])
    return rows


def notes(doc: dict) -> list[str]:
    """Why each row that is not ok is not, and what an ok row with a message (a self-timed
    peer) did, one line each (too long for a table cell)."""
    return [f"{r['impl']} {r['status']}: {r['message']}" for r in doc["results"]
            if r["message"]]


HEADER = ["implementation", "status", "events/s", "compile s", "GFLOP/s", "GB/s",
          "of limit", "max rel err"]
STYLE = {"ok": "green", "WRONG": "bold red", "failed": "red", "skipped": "yellow"}


def caption(doc: dict) -> str:
    w, lim = doc["workload"], doc["limits"]
    limits = (f"triad {lim['triad_GBps']:.1f} GB/s, FMA peak {lim['fma_GFLOPs']:.1f} GFLOP/s"
              if lim.get("triad_GBps") else f"limits not measured ({lim.get('error', '')})")
    text = (f"{w['name']}: {w['events']:,} events, {w['dtype']}, median of {w['repeat']}; "
            f"{w['flops_per_event']} flops and {w['bytes_per_event']['total']} bytes per event\n"
            f"{doc['machine']['name']}: {limits}")
    s = doc["summary"]
    for impl, ratio in s["speedup_vs_fastest_peer"].items():
        text += f"\n{impl}: {ratio:.2f}x the fastest peer ({s['fastest_peer']})"
    return text


def print_table(doc: dict) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        _print_plain(doc)
        return
    t = Table(title=f"physgraph bench {doc['workload']['name']}")
    for k, h in enumerate(HEADER):
        t.add_column(h, justify="left" if k < 2 else "right", no_wrap=True)
    for cells in table_rows(doc):
        t.add_row(*cells, style=STYLE.get(cells[1]))
    # a pipe or a file gets rich's 80 columns unless told otherwise: too narrow for the table
    console = Console() if sys.stdout.isatty() else Console(width=120)
    console.print(t)
    console.print(caption(doc), highlight=False)
    for line in notes(doc):
        console.print(line, style="dim", highlight=False, markup=False)


def _print_plain(doc: dict) -> None:
    rows = [HEADER] + table_rows(doc)
    widths = [max(len(r[k]) for r in rows) for k in range(len(HEADER))]
    for r in rows:
        print("  ".join(c.ljust(wd) for c, wd in zip(r, widths)))
    print(caption(doc))
    print("\n".join(notes(doc)))


@contextmanager
def progress_bar(total: int) -> Iterator[Progress]:
    """A progress bar on stderr (rich), yielding the runner's ``progress(text, advance)``."""
    try:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as RichProgress
    except ImportError:
        yield lambda text, advance: None
        return
    bar = RichProgress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                       MofNCompleteColumn(), TimeElapsedColumn(),
                       console=Console(stderr=True), transient=True)
    with bar:
        task = bar.add_task("starting", total=total)

        def update(text: str, advance: float) -> None:
            bar.update(task, advance=advance, **({"description": text} if text else {}))
        yield update
