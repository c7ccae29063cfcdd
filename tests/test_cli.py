"""`physgraph show` and `physgraph cache`, run as a user would (through main)."""
from __future__ import annotations

import textwrap

import pytest

from physgraph import cache
from physgraph.cli import main

MODULE = textwrap.dedent("""
    import physgraph as pg

    def pair_mass(p: pg.Vec4, q: pg.Vec4):
        return (p + q).mass

    compiled = pg.compile(backend="numpy", dtype="float32")(pair_mass)
    not_a_function = 3
""")


@pytest.fixture
def module(tmp_path):
    path = tmp_path / "user_physics.py"
    path.write_text(MODULE)
    return str(path)


def test_show_traces_a_plain_function(module, capsys):
    assert main(["show", f"{module}:pair_mass"]) == 0
    out = capsys.readouterr().out
    assert "kernel 'pair_mass' (numba, float64" in out          # the report
    assert "def kernel(n, p, q, out0)" in out and "flops per event" in out   # the source


def test_show_a_compiled_kernel_for_another_backend(module, tmp_path, capsys):
    dot = tmp_path / "g.dot"
    assert main(["show", f"{module}:compiled", "--source", "--backend", "cuda",
                 "--graph", str(dot)]) == 0
    out = capsys.readouterr().out
    assert "__global__" in out and "cuda backend, float32" in out
    assert "pass" not in out.splitlines()[0]                     # no report asked for
    assert dot.read_text().startswith('digraph "pair_mass"')


def test_show_the_llvm_ir_of_a_kernel(module, capsys):
    assert main(["show", f"{module}:compiled", "--source", "--backend", "llvm"]) == 0
    out = capsys.readouterr().out
    assert "llvm backend, float32" in out and "define void @kernel(" in out


@pytest.mark.parametrize("target, message", [
    ("no_colon", "expected MODULE:FUNCTION"),
    ("no_such_module_xyz:f", "cannot import 'no_such_module_xyz'"),
    ("{module}:missing", "has no attribute 'missing'"),
])
def test_show_bad_targets_are_usage_errors(module, capsys, target, message):
    with pytest.raises(SystemExit) as exit_:
        main(["show", target.format(module=module)])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_cache_info_and_clear(module, capsys, monkeypatch, tmp_path):
    # a cache of its own: clearing the suite's shared one would pull files from under
    # kernels that other tests compile later
    monkeypatch.setenv("PHYSGRAPH_CACHE_DIR", str(tmp_path / "cache"))
    main(["show", f"{module}:compiled", "--report"])          # makes at least one entry
    capsys.readouterr()
    assert main(["cache", "info"]) == 0
    info = capsys.readouterr().out
    assert cache.directory() in info and "entries" in info
    assert cache.info()["entries"] >= 1
    assert main(["cache", "clear"]) == 0
    assert "removed" in capsys.readouterr().out
    assert cache.info()["entries"] == 0


def test_cache_info_says_why_a_folder_is_refused(capsys, monkeypatch, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("PHYSGRAPH_CACHE_DIR", str(shared))
    with pytest.warns(RuntimeWarning, match="writable by group and others"):
        assert main(["cache", "info"]) == 0
    assert "enabled  no (the folder could be changed by another user)" in capsys.readouterr().out
    monkeypatch.setenv("PHYSGRAPH_CACHE", "off")
    assert main(["cache", "info"]) == 0
    assert "enabled  no (PHYSGRAPH_CACHE=off)" in capsys.readouterr().out
