"""Pass ordering by opt level, and the per-pass cost table behind ``k.report()``."""
from __future__ import annotations

import time
from dataclasses import dataclass

from .. import cost
from ..graph import Graph
from .contract import has_contractions, lower_contract
from .dce import dce
from .fma import fma
from .fold import fold
from .lower_complex import lower_complex
from .reassociate import reassociate
from .schedule import schedule
from .simplify import simplify
from .strength import strength

# opt level -> passes in order; each is graph -> graph and takes the pipeline's options
# (unsafe: allow x - x -> 0 and x / x -> 1; fma: the backend has a fused multiply-add;
#  simplify: seconds of SymPy cancel/factor on small regions, 0 = off;
#  real_only: the backend needs complex arithmetic lowered even at opt levels 0 and 1;
#  contracts: the backend runs network contractions as matrix products, else they are
#  expanded first; per-call ones are expanded first and again last, after folding)
LEVELS = {
    0: [],
    1: [fold, dce],
    2: [lower_complex, fold, simplify, reassociate, strength, dce, fma, schedule],
    3: [lower_complex, fold, simplify, reassociate, strength, reassociate, strength, dce, fma,
        schedule],
}


@dataclass(frozen=True)
class PassRow:
    name: str
    nodes: int
    flops: dict          # by class, see cost.CLASSES
    seconds: float

    @property
    def total_flops(self) -> int:
        return sum(cost.WEIGHT[c] * n for c, n in self.flops.items())


def measure(name: str, g: Graph, seconds: float) -> PassRow:
    return PassRow(name, cost.live_nodes(g), cost.flops_by_class(g), seconds)


def optimize(g: Graph, opt_level: int = 2, **options) -> tuple[Graph, list[PassRow]]:
    """Run the passes of ``opt_level``; rows[0] describes the input graph."""
    if opt_level not in LEVELS:
        raise ValueError(f"opt_level must be one of {sorted(LEVELS)}, got {opt_level!r}")
    rows = [measure("input", g, 0.0)]
    passes = LEVELS[opt_level]
    if options.get("real_only") and lower_complex not in passes:
        passes = [lower_complex, *passes]       # the backend has no complex type
    if has_contractions(g):
        passes = [lower_contract, *passes, lower_contract]
    for p in passes:
        start = time.perf_counter()
        g = p(g, **options)
        rows.append(measure(p.__name__, g, time.perf_counter() - start))
    return g, rows
