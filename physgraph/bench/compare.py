"""The correctness check every implementation passes before it is timed."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# An element far smaller than its output's typical size (an off-diagonal covariance that
# cancels to ~0, say) is compared on that typical size instead of its own: otherwise the
# last bits of a correct float64 result read as a huge relative error.
FLOOR = 1e-3


@dataclass(frozen=True)
class Check:
    max_rel_err: float          # inf when shapes differ or a value is NaN/inf where it shouldn't be
    ok: bool
    message: str = ""


def max_rel_err(got: list, ref: list[np.ndarray]) -> tuple[float, str]:
    """Largest |got - ref| / max(|ref|, FLOOR * rms(ref)) over every element of every output,
    and a message when the outputs cannot be compared at all."""
    if len(got) != len(ref):
        return float("inf"), f"{len(got)} outputs, the reference has {len(ref)}"
    worst = 0.0
    for k, (g, r) in enumerate(zip(got, ref)):
        g = np.asarray(g)
        if g.shape != r.shape:
            return float("inf"), f"output {k} has shape {g.shape}, the reference {r.shape}"
        g = g.astype(np.float64)
        bad = ~np.isfinite(g) & np.isfinite(r)
        if bad.any():
            return float("inf"), f"output {k} has {int(bad.sum())} non-finite values"
        finite = r[np.isfinite(r)]
        rms = float(np.sqrt(np.mean(finite * finite))) if finite.size else 0.0
        scale = np.maximum(np.abs(r), FLOOR * rms)
        scale[scale == 0] = 1.0          # an all-zero output: compare absolutely
        with np.errstate(invalid="ignore"):
            diff = np.abs(g - r)
        diff[(g == r) | (np.isnan(g) & np.isnan(r))] = 0.0     # equal infs, NaN where ref is
        if r.size:
            worst = max(worst, float(np.max(diff / scale)))
    return worst, ""


def check(got: list, ref: list[np.ndarray], tolerance: float) -> Check:
    err, message = max_rel_err(got, ref)
    ok = err <= tolerance
    if not ok and not message:
        message = f"max relative error {err:.3g} > tolerance {tolerance:g}"
    return Check(err, ok, message)
