"""``physgraph bench``: the workload registry, the reference check, skipped and failed
implementations, the roofline numbers, the JSON/CSV/PNG outputs and the command line.

Small batches and one repeat throughout: speed is never asserted here, only bookkeeping.
"""
from __future__ import annotations

import csv
import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from physgraph.bench import compare, kalman_update, runner, workloads
from physgraph.bench.impls import Implementation, Prepared, physgraph_impl, select
from physgraph.bench.limits import Limits
from physgraph.cli import main

ROOT = Path(__file__).resolve().parents[1]
SMALL = 64


def _config(**kw) -> runner.Config:
    return runner.Config(**{"events": SMALL, "repeat": 1, **kw})


def _handwritten_impl(fn, name: str = "test-impl") -> Implementation:
    """An implementation that runs ``fn(inputs) -> list of outputs``, no compile step."""
    def build(w, dtype, n):
        return Prepared(lambda inputs: (lambda: fn(inputs)), lambda raw, n: list(raw))
    return Implementation(name, "test", "peer", build)


def _run_one(impl: Implementation, workload=None, limits: Limits | None = None) -> runner.Row:
    w = workload or workloads.get("kalman-update")
    inputs = w.inputs(SMALL)
    return runner.run_one(impl, w, inputs, w.reference(inputs),
                          limits or Limits(triad_GBps=10.0, fma_GFLOPs=50.0), _config(),
                          lambda text, advance: None)


# ---- the registry ---------------------------------------------------------------------------
def test_registry_has_the_builtin_workloads():
    names = workloads.registry()
    assert {"kalman-update", "expr-large"} <= set(names)
    assert workloads.DEFAULT in names


def test_unknown_workload_names_the_known_ones():
    with pytest.raises(workloads.UnknownWorkloadError, match="kalman-update"):
        workloads.get("no-such-workload")


@pytest.mark.parametrize("name", sorted(workloads.registry()))
def test_workload_kernel_agrees_with_its_reference(name):
    """physgraph's kernel of the workload's SymPy form (numpy backend: no JIT wait) against
    the workload's independent reference, on a small batch."""
    w = workloads.get(name)
    row = _run_one(physgraph_impl("numpy"), w)
    assert row.status == "ok", row.message
    assert row.max_rel_err <= w.tolerance["float64"]
    assert row.flops_per_event > 0 and row.bytes_per_event > 0


def test_expr_large_is_about_ten_thousand_operations():
    assert 5_000 <= workloads.get("expr-large").flops_per_event <= 20_000


def test_inputs_come_from_a_fixed_seed():
    w = workloads.get("kalman-update")
    a, b = w.inputs(SMALL), w.inputs(SMALL)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    P = a["P"]
    np.testing.assert_array_equal(P, P.transpose(0, 2, 1))
    assert np.all(np.linalg.eigvalsh(P) > 0)          # a covariance


def test_kalman_bytes_per_event_count_inputs_and_outputs():
    w = workloads.get("kalman-update")
    assert w.bytes_per_event("float64") == {"in": (5 + 25 + 2 + 4) * 8, "out": (5 + 25) * 8,
                                            "total": 66 * 8}
    assert w.bytes_per_event("float32")["total"] == 66 * 4


def test_handwritten_kalman_agrees_with_reference():
    w = workloads.get("kalman-update")
    inputs = w.inputs(SMALL)
    check = compare.check(kalman_update.handwritten(inputs), w.reference(inputs), 1e-9)
    assert check.ok, check.message


# ---- the correctness check ------------------------------------------------------------------
def test_compare_measures_relative_error():
    ref = [np.linspace(1.0, 2.0, 100)]
    assert compare.max_rel_err([ref[0].copy()], ref)[0] == 0.0
    err, _ = compare.max_rel_err([ref[0] * (1 + 1e-6)], ref)
    assert err == pytest.approx(1e-6, rel=1e-3)


def test_compare_rejects_wrong_shapes_counts_and_nans():
    ref = [np.ones((10, 5))]
    assert compare.max_rel_err([np.ones((10, 5, 1))], ref)[0] == float("inf")
    assert compare.max_rel_err([], ref)[0] == float("inf")
    bad = np.ones((10, 5))
    bad[3, 2] = np.nan
    assert not compare.check([bad], ref, 1e-9).ok


def test_compare_floor_keeps_cancelled_entries_from_dominating():
    ref = [np.array([1.0, 1e-15])]
    got = [np.array([1.0, 2e-15])]       # off by 100% of a value that is ~0 on the output's scale
    assert compare.max_rel_err(got, ref)[0] < 1e-9


def test_wrong_implementation_is_flagged_and_gets_no_speed():
    def wrong(inputs):           # the sign of the gain flipped: a plausible bug
        x_new, P_new = kalman_update.handwritten(inputs)
        return [2 * inputs["x"] - x_new, P_new]
    row = _run_one(_handwritten_impl(wrong))
    assert row.status == "WRONG"
    assert row.max_rel_err > row.tolerance
    assert row.events_per_s is None and row.GBps is None and row.limit_fraction is None
    assert "max relative error" in row.message


def test_slightly_wrong_implementation_is_flagged():
    def off(inputs):
        x_new, P_new = kalman_update.handwritten(inputs)
        return [x_new, P_new * (1 + 1e-6)]
    assert _run_one(_handwritten_impl(off)).status == "WRONG"


def test_correct_implementation_gets_timed():
    row = _run_one(_handwritten_impl(kalman_update.handwritten))
    assert row.status == "ok", row.message
    assert row.events_per_s > 0 and len(row.times_s) == 1
    assert row.GBps == pytest.approx(row.events_per_s * 528 / 1e9)
    assert 0 < row.limit_fraction and row.bound in ("memory", "compute")


def test_failing_implementation_is_reported_not_raised():
    def boom(inputs):
        raise RuntimeError("the peer broke")
    row = _run_one(_handwritten_impl(boom))
    assert row.status == "failed"
    assert "the peer broke" in row.message and row.events_per_s is None


def test_roofline_fraction_is_the_nearer_limit():
    row = runner.Row("x", "peer", "ok", flops_per_event=100, bytes_per_event=100,
                     events_per_s=1e8)                 # 10 GB/s, 10 GFLOP/s
    runner.roofline(row, Limits(triad_GBps=20.0, fma_GFLOPs=100.0))
    assert (row.bound, row.limit_fraction) == ("memory", pytest.approx(0.5))
    runner.roofline(row, Limits(triad_GBps=100.0, fma_GFLOPs=20.0))
    assert (row.bound, row.limit_fraction) == ("compute", pytest.approx(0.5))


def test_roofline_counts_the_flops_a_kernel_executes():
    """The workload's count is kept; the compute fraction uses what the kernel executes."""
    row = runner.Row("x", "physgraph", "ok", flops_per_event=200, executed_flops_per_event=100,
                     bytes_per_event=1, events_per_s=1e8)
    runner.roofline(row, Limits(triad_GBps=100.0, fma_GFLOPs=20.0))
    assert (row.bound, row.limit_fraction) == ("compute", pytest.approx(0.5))
    assert row.GFLOPs == pytest.approx(10.0) and row.flops_per_event == 200


def test_batch_sizes_are_decades_up_to_events():
    assert runner.batch_sizes(1_000_000) == [1_000, 10_000, 100_000, 1_000_000]
    assert runner.batch_sizes(64) == [64]


# ---- skipped implementations ----------------------------------------------------------------
def test_peer_with_missing_package_is_skipped_with_reason():
    impl = Implementation("ghost", "ghost", "peer", lambda w, d, n: None,
                          requires=("no_such_module_for_physgraph",), install="ghost-tool")
    row = _run_one(impl)
    assert row.status == "skipped"
    assert "not installed" in row.message and "ghost-tool" in row.message


def test_workload_without_handwritten_version_skips_that_peer():
    (impl,) = select([], ["handwritten"])
    row = _run_one(impl, workloads.get("expr-large"))
    assert row.status == "skipped" and "hand-written" in row.message


def test_symengine_without_llvm_is_skipped_and_says_why(monkeypatch):
    """Both SymEngine rows (and its out= one) name the cause: SymForce's symengine module."""
    from physgraph.bench import peers
    monkeypatch.setattr(peers, "_symengine_has_llvm", lambda: False)
    impls = select([], ["symengine"], workloads.get("kalman-update"))
    assert [i.name for i in impls] == ["symengine-llvm", "symengine-llvm-out"]
    for impl in impls:
        reason = impl.skip_reason(workloads.get("kalman-update"), "float64")
        assert "no LLVM backend" in reason and "SymForce" in reason


def test_backend_not_in_physgraph_yet_is_skipped(monkeypatch):
    from physgraph import backends
    monkeypatch.delitem(backends.BACKENDS, "jax", raising=False)
    row = _run_one(physgraph_impl("jax"))
    assert row.status == "skipped" and "BACKENDS" in row.message


def test_unknown_peer_is_an_error():
    with pytest.raises(ValueError, match="known peers"):
        select(["numba"], ["lambdify", "matlab"])


# ---- the command line -----------------------------------------------------------------------
def test_list(capsys):
    assert main(["bench", "--list"]) == 0
    out = capsys.readouterr().out
    for word in ("kalman-update", "expr-large", "lambdify", "symengine", "pytensor",
                 "handwritten", "numba"):
        assert word in out


def test_cli_unknown_workload_exits_with_the_known_ones(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "nonsense"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "'nonsense'" in err and "kalman-update" in err


@pytest.mark.parametrize("args, word", [(["--peers", "matlab"], "known peers"),
                                        (["--backends", "fortran"], "known backends"),
                                        (["--events", "0"], "--events"),
                                        (["--repeat", "x"], "--repeat")])
def test_cli_bad_arguments_name_themselves(capsys, args, word):
    with pytest.raises(SystemExit):
        main(["bench", *args])
    assert word in capsys.readouterr().err


def test_cli_json_csv_plot(tmp_path, capsys, monkeypatch):
    """One small real run: the JSON schema, the CSV, the PNG, a skipped backend."""
    from physgraph import backends
    monkeypatch.delitem(backends.BACKENDS, "jax", raising=False)
    paths = {ext: tmp_path / f"out.{ext}" for ext in ("json", "csv", "png")}
    code = main(["bench", "kalman-update", "--events", str(SMALL), "--repeat", "1",
                 "--backends", "numpy,jax", "--peers", "lambdify,handwritten",
                 "--triad-mb", "8", "--json", str(paths["json"]), "--csv", str(paths["csv"]),
                 "--plot", str(paths["png"])])
    assert code == 0
    out = capsys.readouterr().out
    assert "physgraph-numpy" in out and "numpy-handwritten" in out

    text = paths["json"].read_text()
    doc = json.loads(text)
    assert doc["workload"]["name"] == "kalman-update" and doc["workload"]["events"] == SMALL
    lim = doc["limits"]
    assert isinstance(lim["triad_GBps"], float) and lim["triad_GBps"] > 0, lim
    assert isinstance(lim["fma_GFLOPs"], float) and lim["fma_GFLOPs"] > 0, lim
    m = doc["machine"]
    assert isinstance(m["cpu_model"], str) and isinstance(m["cores"], int)
    assert {"python", "numpy", "numba", "sympy", "jax"} <= set(m["versions"])
    host = socket.gethostname()
    assert len(host) < 6 or host not in text          # hostname-free
    rows = {r["impl"]: r for r in doc["results"]}
    # kalman-update is memory-bound: the host backend is also timed writing into out=
    assert set(rows) == {"physgraph-numpy", "physgraph-numpy-out", "physgraph-jax",
                         "sympy-lambdify", "numpy-handwritten"}
    types = {"impl": str, "events_per_s": float, "compile_s": float, "flops_per_event": int,
             "bytes_per_event": int, "max_rel_err": float, "limit_fraction": float}
    for name in ("physgraph-numpy", "physgraph-numpy-out", "sympy-lambdify",
                 "numpy-handwritten"):
        assert rows[name]["status"] == "ok", rows[name]
        for key, kind in types.items():
            assert isinstance(rows[name][key], kind), (name, key, rows[name][key])
    skipped = rows["physgraph-jax"]
    assert skipped["status"] == "skipped" and skipped["message"]
    assert skipped["events_per_s"] is None and skipped["limit_fraction"] is None

    with paths["csv"].open() as f:
        table = list(csv.DictReader(f))
    assert {r["impl"] for r in table} == set(rows)
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_benchmarks_readme_table_matches_committed_results():
    """benchmarks/README.md's table is generated from results/*.json: never edited by hand."""
    script = ROOT / "benchmarks" / "make_table.py"
    if not script.exists():
        pytest.skip("no benchmarks/make_table.py in this checkout")
    done = subprocess.run([sys.executable, str(script), "--check"], check=False,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
