"""The long fuzzing run: every hypothesis property, many more and deeper random graphs.

    python tests/fuzz.py [--minutes 60] [--json PATH]

Runs the property modules with ``HYPOTHESIS_PROFILE=long`` round after round (each round
draws new examples) until the time is up, and stops at the first failure, whose minimal
example hypothesis prints.  ``--json`` records rounds, outcomes and time.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULES = ["test_differential.py", "test_passes.py", "test_simplify.py", "test_autodiff.py",
           "test_jax.py", "test_cuda.py"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--json")
    args = ap.parse_args()
    env = {**os.environ, "HYPOTHESIS_PROFILE": "long"}
    start, rounds, status = time.time(), [], 0
    while time.time() - start < args.minutes * 60 and status == 0:
        began = time.time()
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               *(str(HERE / m) for m in MODULES)], env=env, cwd=HERE.parent,
                              capture_output=True, text=True)
        status = done.returncode
        summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
        rounds.append({"seconds": time.time() - began, "exit": status, "summary": summary})
        print(f"round {len(rounds)}: {summary} ({rounds[-1]['seconds']:.0f} s)", flush=True)
        if status != 0:
            print(done.stdout[-20000:], done.stderr[-5000:], sep="\n")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
            "cores": os.cpu_count(), "profile": "long", "modules": MODULES,
            "minutes": (time.time() - start) / 60, "rounds": rounds}, indent=1))
    return status


if __name__ == "__main__":
    sys.exit(main())
