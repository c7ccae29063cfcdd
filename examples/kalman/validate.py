"""Validation of the fit on simulated tracks: pulls per parameter at the first plane
(backward pass) and the last plane (forward pass), the chi2 and its probability; and the
flops per track and plane of the structured fit against the dense (structure-blind) one.

    python -m examples.kalman.validate [--tracks 100000] [--backend numba]

writes ``examples/kalman/validation.json`` and ``validation.png``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy import stats

import physgraph as pg
from physgraph.physics import kalman, telescope as tm

HERE = Path(__file__).resolve().parent
SEED = 20261123


def pulls(out: dict, truth: np.ndarray) -> dict:
    """{"first"/"last": (n, n_state) pulls (fitted - true) / sigma}."""
    result = {}
    for where, plane in (("first", 0), ("last", -1)):
        sigma = np.sqrt(np.diagonal(out["P_" + where], axis1=1, axis2=2))
        result[where] = (out["x_" + where] - truth[:, plane]) / sigma
    return result


def flops(tel: tm.Telescope) -> dict:
    """Flops per track and per plane after the passes, structured and dense, same backend."""
    structured = kalman.compile_fit(tel, backend="numpy")
    dense = pg.compile(kalman.make_fit(tel, dense=True), backend="numpy")
    per = {name: {"per_track": k.stats["flops_out"],
                  "per_track_plane": k.stats["flops_out"] / tel.layers,
                  "per_track_plane_pass": k.stats["flops_out"] / tel.layers / 3,
                  "before_passes_per_track": k.stats["flops_in"]}
           for name, k in (("structured", structured), ("dense", dense))}
    per["dense_over_structured"] = per["dense"]["per_track"] / per["structured"]["per_track"]
    return per


NAMES = ("x", "y", "tx", "ty", "q/p")


def plot(pull: dict, prob: np.ndarray, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ns = pull["first"].shape[1]
    fig, axes = plt.subplots(3, ns, figsize=(3.2 * ns, 8.4))
    grid = np.linspace(-5, 5, 101)
    for row, where in enumerate(("first", "last")):
        for j in range(ns):
            ax, p = axes[row, j], pull[where][:, j]
            ax.hist(p, bins=grid, density=True, histtype="step", color="C0")
            ax.plot(grid, stats.norm.pdf(grid), color="C3", lw=0.8)
            ax.set_title(f"{NAMES[j]} at {where} plane\nmean {p.mean():+.3f}, "
                         f"width {p.std():.3f}", fontsize=9)
    for j in range(ns):
        axes[2, j].axis("off")
    ax = axes[2, 0]
    ax.axis("on")
    ax.hist(prob, bins=50, range=(0, 1), density=True, histtype="step")
    ax.axhline(1.0, color="C3", lw=0.8)
    ax.set_title("chi2 probability (forward pass)", fontsize=9)
    fig.suptitle(f"{len(prob):,} simulated tracks: pulls (fitted - true) / sigma")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--backend", default="numba")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    tel = tm.Telescope()
    meas, truth = tm.generate(tel, args.tracks, np.random.default_rng(SEED))
    start = time.perf_counter()
    out = kalman.compile_fit(tel, backend=args.backend)(meas)
    fit_s = time.perf_counter() - start
    pull = pulls(out, truth)
    prob = stats.chi2.sf(out["chi2"], tel.ndf)
    record = {
        "tracks": args.tracks, "seed": SEED, "backend": args.backend, "fit_s": fit_s,
        "telescope": {k: getattr(tel, k) for k in tel.__dataclass_fields__},
        "ndf": tel.ndf, "chi2_over_ndf_mean": float(out["chi2"].mean() / tel.ndf),
        "chi2_prob_below_5pct": float(np.mean(prob < 0.05)),
        "pulls": {where: {name: {"mean": float(p[:, j].mean()), "width": float(p[:, j].std())}
                          for j, name in enumerate(NAMES[:tel.n_state])}
                  for where, p in pull.items()},
        "flops": flops(tel),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "validation.json").write_text(json.dumps(record, indent=2) + "\n")
    plot(pull, prob, args.out / "validation.png")
    print(json.dumps({k: record[k] for k in ("chi2_over_ndf_mean", "pulls", "flops")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
