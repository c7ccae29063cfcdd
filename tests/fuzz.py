"""The long fuzzing run: every hypothesis property, many more and deeper random graphs.

    python tests/fuzz.py [--minutes 60] [--json PATH]

Runs the property modules with ``HYPOTHESIS_PROFILE=long`` round after round (each round
draws new examples) until the time is up (a round still running then is cut off), and stops
at the first failure, whose minimal example hypothesis prints.  ``--json`` records rounds,
outcomes and time.
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
    while status == 0 and (left := args.minutes * 60 - (time.time() - start)) > 60:
        began = time.time()
        # -v prints each property's outcome as it finishes, so a round cut off by the
        # clock still says which properties ran through all their examples
        cmd = [sys.executable, "-m", "pytest", "-x", "-v", "-p", "no:cacheprovider",
               *(str(HERE / m) for m in MODULES)]
        try:
            done = subprocess.run(cmd, env=env, cwd=HERE.parent, capture_output=True,
                                  text=True, timeout=left)
            status, out = done.returncode, done.stdout + done.stderr
        except subprocess.TimeoutExpired as cut:
            status, out = 0, (cut.stdout or b"").decode() if isinstance(cut.stdout, bytes) \
                else (cut.stdout or "")
            out += "\n(cut off by the time limit)"
        passed = [line.split()[0] for line in out.splitlines() if " PASSED" in line]
        summary = (out.strip().splitlines() or ["(no output)"])[-1]
        rounds.append({"seconds": time.time() - began, "exit": status, "summary": summary,
                       "passed": passed})
        print(f"round {len(rounds)}: {summary} ({rounds[-1]['seconds']:.0f} s, "
              f"{len(passed)} properties through all their examples)", flush=True)
        if status != 0:
            rounds[-1]["failure"] = out[-8000:]      # the minimal example hypothesis printed
            print(out[-20000:])
    if args.json:
        Path(args.json).write_text(json.dumps({
            "date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
            "cores": os.cpu_count(), "profile": "long", "modules": MODULES,
            "minutes": (time.time() - start) / 60, "rounds": rounds}, indent=1))
    return status


if __name__ == "__main__":
    sys.exit(main())
