#!/usr/bin/env bash
# The GPU check: one command to run whenever a machine with an NVIDIA GPU is at hand.
#
#   bash benchmarks/gpu_check.sh
#
# 1. Every CUDA test (tests/test_cuda.py and the tests marked gpu), once with the kernel
#    cache off and once on.  A skipped test fails the check: on a GPU nothing may be missing.
# 2. physgraph bench kalman-update and mem-gg_tt (float32 and float64) with the cuda backend
#    beside numba and jax, into benchmarks/results/<workload>[-<dtype>]-<gpu>.json, compiled
#    into a fresh kernel cache (cold compile times), and the README tables regenerated.
# 3. The same kernels in new processes on that cache, now warm: each must come from the
#    cache and still launch and agree (a CUDA kernel read back from the cache once failed).
#
# VENV names the virtual environment (default .venv; made and filled with
# pip install -e ".[test,bench,cuda]" when missing); NO_INSTALL=1 skips pip (a machine
# without network, its venv brought along); MACHINE names the result files (default: the GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

fail() { echo "gpu_check.sh: $*" >&2; exit 1; }
step() { printf '\n== %s (%d s in)\n' "$*" $((SECONDS - start)); }

command -v nvidia-smi >/dev/null ||
    fail "nvidia-smi is not on PATH: this check needs a machine with an NVIDIA GPU and its driver"
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader -i 0) || fail "nvidia-smi finds no GPU"
machine=${MACHINE:-$(printf %s "${gpu#NVIDIA }" | tr '[:upper:]' '[:lower:]' | tr -cs 'a-z0-9' '-')}
machine=${machine%-}
label="$gpu, $(nproc)-core host"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step "virtual environment ${VENV:-.venv} on $label"
venv=${VENV:-.venv}
[[ -x $venv/bin/python ]] || python3 -m venv "$venv"
# shellcheck source=/dev/null
. "$venv/bin/activate"
if [[ -z ${NO_INSTALL:-} ]]; then
    python -m pip install -q --upgrade pip
    python -m pip install -q -e ".[test,bench,cuda]"
fi

cupy_compiles() {
    python - 2>"$work/cupy.err" <<'EOF'
import cupy
source = 'extern "C" __global__ void one(float* x) { x[threadIdx.x] = 1.0f; }'
x = cupy.zeros(32, cupy.float32)
cupy.RawKernel(source, "one")((1,), (32,), (x,))
assert float(x.sum()) == 32.0
EOF
}
if ! cupy_compiles; then
    # cupy-cuda12x brings no CUDA compiler (NVRTC); its [ctk] extra fetches one from PyPI
    [[ -z ${NO_INSTALL:-} ]] || fail "CuPy cannot run a kernel: $(tail -n 1 "$work/cupy.err")"
    echo "CuPy cannot compile a kernel here; installing the CUDA components from PyPI"
    python -m pip install -q "cupy-cuda12x[ctk]"
    cupy_compiles || fail "CuPy cannot run a kernel: $(tail -n 1 "$work/cupy.err")"
fi

no_skips() {      # JUnit XML files of pytest runs
    python - "$@" <<'EOF'
import sys
import xml.etree.ElementTree as ET
skipped = [f"{case.get('classname')}.{case.get('name')}: {skip.get('message')}"
           for path in sys.argv[1:] for case in ET.parse(path).iter("testcase")
           for skip in case.iter("skipped")]
if skipped:
    sys.exit("gpu_check.sh: tests skipped on a machine with a GPU:\n  " + "\n  ".join(skipped))
EOF
}

cuda_tests() {    # PHYSGRAPH_CACHE for the run: off, or on (a fresh cache per run, conftest.py)
    PHYSGRAPH_CACHE=$1 python -m pytest -q tests/test_cuda.py --junitxml="$work/cuda-$1.xml"
    # the tests marked gpu in other files; pytest exits 5 when it selects none
    PHYSGRAPH_CACHE=$1 python -m pytest -q -m gpu tests --ignore=tests/test_cuda.py \
        --junitxml="$work/gpu-$1.xml" || [[ $? -eq 5 ]]
    no_skips "$work/cuda-$1.xml" "$work/gpu-$1.xml"
}

step "CUDA tests, kernel cache off"
cuda_tests off
step "CUDA tests, kernel cache on"
cuda_tests on

physgraph_rows() {   # "miss" or "hit", then bench JSON files: every physgraph row ran, agreed
    python - "$@" <<'EOF'
import json
import sys
expected, problems = sys.argv[1], []
for path in sys.argv[2:]:
    rows = [r for r in json.load(open(path))["results"] if r["kind"] == "physgraph"]
    if "physgraph-cuda" not in [r["impl"] for r in rows]:
        problems.append(f"{path}: no physgraph-cuda row")
    for r in rows:
        if r["status"] != "ok":
            problems.append(f"{path}: {r['impl']} {r['status']}: {r['message']}")
        elif r["info"].get("cache") != expected:
            problems.append(f"{path}: {r['impl']} cache {r['info'].get('cache')}, not {expected}")
if problems:
    sys.exit("gpu_check.sh: the benchmarks went wrong:\n  " + "\n  ".join(problems))
EOF
}

# the bench's machine limits are the CPU's (STREAM triad, FMA peak): a GPU row would read as a
# fraction of the wrong roof, hence --no-limits; PyTensor's minutes compiling mem-gg_tt are
# left out to stay within 8 minutes
export PHYSGRAPH_CACHE_DIR="$work/kernel-cache"
results=benchmarks/results
step "physgraph bench kalman-update"
physgraph bench kalman-update --backends numba,jax,cuda --peers all --no-limits \
    --machine "$label" --json "$results/kalman-update-$machine.json"
for dtype in float32 float64; do
    step "physgraph bench mem-gg_tt, $dtype"
    physgraph bench mem-gg_tt --dtype "$dtype" --backends numba,jax,cuda \
        --peers lambdify,jax,symengine --no-limits --machine "$label" \
        --json "$results/mem-gg_tt-$dtype-$machine.json"
done
physgraph_rows miss "$results/kalman-update-$machine.json" "$results"/mem-gg_tt-*-"$machine".json

step "the same kernels in new processes, from the warm cache"
physgraph bench kalman-update --events 100000 --backends cuda --peers none --no-limits \
    --repeat 1 --json "$work/warm-kalman-update.json"
for dtype in float32 float64; do
    physgraph bench mem-gg_tt --events 100000 --dtype "$dtype" --backends cuda --peers none \
        --no-limits --repeat 1 --json "$work/warm-mem-gg_tt-$dtype.json"
done
physgraph_rows hit "$work"/warm-*.json

python benchmarks/make_table.py
step "GPU check passed"
echo "to keep the results: git add $results/*-$machine.json benchmarks/README.md && git commit"
