"""Pass ordering by opt level, and the per-pass cost table behind ``k.report()``."""
from __future__ import annotations

import time
from dataclasses import dataclass

from .. import cost
from ..graph import Graph
from .calls import has_calls, lower_call, optimize_routines, specialize_calls
from .contract import has_contractions, lower_contract
from .dce import dce
from .fma import fma
from .lower_complex import lower_complex
from .reassociate import reassociate
from .rewrite import fold
from .schedule import schedule
from .share import share
from .simplify import simplify
from .strength import strength

# opt level -> passes in order; each is graph -> graph and reads the pipeline's options it
# declares (unsafe: allow x - x -> 0 and x / x -> 1; fma: the backend has a fused
#  multiply-add; simplify: seconds of SymPy cancel/factor on small regions, 0 = off;
#  contracts: the backend runs network contractions as matrix products, else they are
#  expanded first; per-call ones are expanded first and again last, after folding;
#  calls: the backend prints routines as functions and keeps their calls, else they are
#  inlined first)
LEVELS = {
    0: [],
    1: [fold, dce],
    2: [lower_complex, fold, specialize_calls, simplify, reassociate, strength, share, fma,
        schedule],
    3: [lower_complex, fold, specialize_calls, simplify, reassociate, strength, reassociate,
        strength, share, fma, schedule],
}
# (schedule keeps only the nodes the outputs need: it is dead-code elimination as well)

# what optimize() accepts: every pass's options, and real_only, which the pipeline reads
# itself (the backend needs complex arithmetic lowered even at opt levels 0 and 1)
_PASSES = {lower_call, lower_complex, lower_contract,
           *(p for level in LEVELS.values() for p in level)}
OPTIONS = frozenset({"real_only"}).union(*(p.options for p in _PASSES))

# live nodes above which the rows between the first and the last count nodes but not flops
# (counting is a walk over the graph per pass: seconds on a graph of 10^6 nodes)
FLOPS_EVERY_PASS_UP_TO = 200_000


@dataclass(frozen=True)
class PassRow:
    name: str
    nodes: int
    flops: dict | None   # by class, see cost.CLASSES (None: not counted)
    seconds: float

    @property
    def total_flops(self) -> int | None:
        if self.flops is None:
            return None
        return sum(cost.WEIGHT[c] * n for c, n in self.flops.items())


def measure(name: str, g: Graph, seconds: float, flops: bool = True) -> PassRow:
    return PassRow(name, cost.live_nodes(g), cost.flops_by_class(g) if flops else None, seconds)


def optimize(g: Graph, opt_level: int = 2, **options) -> tuple[Graph, list[PassRow]]:
    """Run the passes of ``opt_level``; rows[0] describes the input graph."""
    if opt_level not in LEVELS:
        raise ValueError(f"opt_level must be one of {sorted(LEVELS)}, got {opt_level!r}")
    unknown = options.keys() - OPTIONS
    if unknown:
        raise TypeError(f"optimize() got unknown option(s) {', '.join(sorted(unknown))}; "
                        f"the known ones are {', '.join(sorted(OPTIONS))}")
    rows = [measure("input", g, 0.0)]
    passes = LEVELS[opt_level]
    if options.get("real_only") and lower_complex not in passes:
        passes = [lower_complex, *passes]       # the backend has no complex type
    if has_contractions(g):
        passes = [lower_contract, *passes, lower_contract]
    if has_calls(g):
        passes = [lower_call, *passes]
    every = rows[0].nodes <= FLOPS_EVERY_PASS_UP_TO
    for k, p in enumerate(passes):
        start = time.perf_counter()
        g = p.run(g, options)
        rows.append(measure(p.name, g, time.perf_counter() - start,
                            flops=every or k == len(passes) - 1))
    if has_calls(g):           # the routines kept as functions, each optimized once
        start = time.perf_counter()
        g = optimize_routines(g, lambda body: optimize(body, opt_level, **options)[0])
        rows.append(measure("routines", g, time.perf_counter() - start))
    return g, rows
