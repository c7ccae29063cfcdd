"""The expression corpus and ``physgraph bench corpus``: entries load with their sources, the
passes keep their values, and every peer counts operations by the same rules."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import sympy as sp

import physgraph as pg
from physgraph.bench import corpus
from physgraph.cli import main

ENTRIES = corpus.load()


def test_corpus_has_forty_cited_entries():
    assert len(ENTRIES) >= 40
    for e in ENTRIES:
        assert len(e.source) > 10, e.name
    groups = {e.group for e in ENTRIES}
    assert {"kalman", "kinematics", "shapes", "geometry", "polynomials", "networks",
            "processes"} <= groups


def test_load_refuses_a_module_without_entries(tmp_path):
    (tmp_path / "empty.py").write_text("X = 1\n")
    with pytest.raises(corpus.CorpusError, match="empty.py.*ENTRIES"):
        corpus.load(tmp_path)
    with pytest.raises(corpus.CorpusError, match="does not exist"):
        corpus.load(tmp_path / "missing")


def _inputs(case: corpus.Case, k: pg.Kernel, rng) -> list:
    """Values in [0.5, 1.5] for every argument of ``k`` (a symbol's column, or an array of
    the argument's per-event shape)."""
    n = 6
    return [rng.uniform(0.5, 1.5, (n, *arg.shape)) for arg in k.signature]


@pytest.mark.parametrize("level", [2, 3])
@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_passes_keep_the_values(entry, level):
    """-O2 and -O3 against the unoptimized graph (and against SymPy itself for SymPy
    entries)."""
    case = entry.build()
    rng = np.random.default_rng(19)
    k0 = corpus._physgraph(case, 0)
    k2 = corpus._physgraph(case, level)
    values = _inputs(case, k0, rng)
    want = k0(*values)
    got = k2(*values)
    want, got = (w if isinstance(w, tuple) else (w,) for w in (want, got))
    with np.errstate(all="ignore"):
        if case.function is None:
            f = sp.lambdify(case.inputs, case.outputs, modules=["scipy", "numpy"])
            exact = [np.broadcast_to(np.asarray(v, float), (6,)) for v in f(*values)]
            np.testing.assert_allclose(np.concatenate([np.ravel(w) for w in want]),
                                       np.concatenate(exact), rtol=1e-9, equal_nan=True)
    for w, g in zip(want, got):
        scale = np.max(np.abs(w), where=np.isfinite(w), initial=1.0)
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12 * scale, equal_nan=True)


def _installed(peer: str) -> bool:
    return importlib.util.find_spec(corpus.PEERS[peer][1]) is not None


@pytest.mark.parametrize("peer", list(corpus.PEERS))
def test_every_peer_counts_by_the_same_rules(peer):
    """w*sqrt(x) + x*y + z: 2 mul, 2 add, 1 sqrt whoever counts (no tool has a rewrite
    that saves one here)."""
    if not _installed(peer):
        pytest.skip(f"{corpus.PEERS[peer][1]} is not installed")
    x, y, z, w = sp.symbols("x y z w")
    outputs = [w * sp.sqrt(x) + x * y + z]
    k = pg.compile(outputs, inputs=[x, y, z, w], backend="numpy")
    assert k.stats["flops_out"] == 5
    assert corpus.PEERS[peer][2](outputs, [x, y, z, w]) == 5


@pytest.mark.parametrize("expr, count", [
    ("sqrt(x)", 1), ("sqrt(2)*x", 1), ("-x/y", 2), ("x - y", 1), ("-x - y", 2),
    ("x/(y*z)", 2), ("2*x/3", 1), ("x**3 + exp(y)", 3), ("1/sqrt(x)", 2), ("sin(pi/7)*x", 1),
])
def test_flops_count_as_printed_code(expr, count):
    """sqrt is one call and constants are free (``sympy.count_ops`` says 2 for sqrt(x))."""
    assert corpus.flops([sp.sympify(expr)]) == count


def test_traced_entries_reach_sympy_as_real_expressions():
    entry = next(e for e in ENTRIES if e.name == "helicity-amplitude-ee-mumu")
    outputs, inputs = corpus.sympy_form(entry.build())
    assert len(outputs) == 1 and len(inputs) == 16
    assert not outputs[0].has(sp.I)


def test_command_writes_json_and_readme(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n\nintro\n")
    out = tmp_path / "corpus.json"
    args = ["bench", "corpus", "--only", "quaternion-product,breit-wigner",
            "--peers", "sympy-cse,sympy-cse-basic", "--json", str(out), "--readme", str(readme)]
    assert main(args) == 0
    doc = json.loads(out.read_text())
    assert [r["name"] for r in doc["rows"]] == ["quaternion-product", "breit-wigner"]
    row = doc["rows"][0]
    assert row["flops"]["sympy-cse"] == 28 and row["flops"]["physgraph-O2"] == 28
    assert set(row["seconds"]) == {*(f"physgraph-O{n}" for n in corpus.OPT_LEVELS),
                                   "sympy-cse", "sympy-cse-basic"}
    first = readme.read_text()
    assert first.startswith("# Benchmarks\n\nintro\n") and first.count(corpus.BEGIN) == 1
    assert "| quaternion-product |" in first
    main(args)                      # a second run replaces the section, keeps the rest
    assert readme.read_text().count(corpus.BEGIN) == 1
    assert "quaternion-product" in capsys.readouterr().out


def test_command_names_an_unknown_entry_and_peer(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "corpus", "--only", "no-such-thing"])
    assert "no-such-thing" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "corpus", "--only", "breit-wigner", "--peers", "maple"])
    assert "maple" in capsys.readouterr().err


def _slow_peer(outputs, inputs) -> int:
    import time
    time.sleep(30)
    return 0


def test_a_slow_peer_is_given_up(monkeypatch):
    monkeypatch.setitem(corpus.PEERS, "slow", ("slow", "sympy", _slow_peer))
    entry = next(e for e in ENTRIES if e.name == "breit-wigner")
    row = corpus.measure(entry, ["slow", "sympy-cse"], timeout=0.5)
    assert row["flops"]["slow"] is None and "gave up after 0.5 s" in row["skipped"]["slow"]
    assert row["flops"]["sympy-cse"] == 8
