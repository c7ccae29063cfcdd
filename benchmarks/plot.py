"""Redraws the events/s-against-batch-size PNG of a committed result, without re-running.

    python benchmarks/plot.py results/kalman-update-NAME.json [OUT.png]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from physgraph.bench.report import write_plot


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__)
        return 2
    src = Path(argv[0])
    out = Path(argv[1]) if len(argv) == 2 else src.with_suffix(".png")
    write_plot(json.loads(src.read_text()), out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
