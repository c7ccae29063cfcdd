"""The on-disk cache: hits, permissions, damaged entries, concurrent writers."""
from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import physgraph as pg
from physgraph import cache


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("PHYSGRAPH_CACHE_DIR", str(path))
    return path


def make(backend="numpy"):
    @pg.compile(backend=backend)
    def energy(p: pg.Vec4, m: pg.Param = 0.5):
        return pg.sqrt(p.p2 + m * m)
    return energy


P = np.array([[0.0, 1.0, 2.0, 2.0], [0.0, 0.0, 0.0, 0.0]])
EXPECTED = np.sqrt([9.25, 0.25])


def test_second_kernel_hits_and_directory_is_private(cache_dir):
    first = make()
    assert first.stats["cache"] == "miss"
    assert stat.S_IMODE(os.stat(cache_dir).st_mode) == 0o700
    second = make()
    assert second.stats["cache"] == "hit" and second.source == first.source
    np.testing.assert_allclose(second(P), EXPECTED)
    assert second.stats["flops_out"] == first.stats["flops_out"]
    assert second.graph is not None                 # the passes rerun on demand
    entries = cache.info()
    assert entries["entries"] == 1 and entries["path"] == str(cache_dir)


def test_damaged_entry_is_reported_and_rebuilt(cache_dir):
    make()
    (entry,) = [d for d in cache_dir.iterdir() if not d.name.startswith(".")]
    source = entry / "kernel.py"
    source.write_text(source.read_text().replace("np.sqrt", "np.exp"))
    with pytest.warns(RuntimeWarning, match="damaged"):
        rebuilt = make()
    assert rebuilt.stats["cache"] == "miss"
    np.testing.assert_allclose(rebuilt(P), EXPECTED)
    assert make().stats["cache"] == "hit"


def test_unreadable_metadata_is_rebuilt(cache_dir):
    make()
    (entry,) = [d for d in cache_dir.iterdir() if not d.name.startswith(".")]
    (entry / "meta.json").write_text("{not json")
    with pytest.warns(RuntimeWarning, match="damaged"):
        assert make().stats["cache"] == "miss"


def test_cache_off(cache_dir, monkeypatch):
    monkeypatch.setenv("PHYSGRAPH_CACHE", "off")
    k = make("numba")
    assert k.stats["cache"] == "off"
    np.testing.assert_allclose(k(P), EXPECTED)


def test_concurrent_writers_both_succeed(cache_dir):
    script = textwrap.dedent("""
        import sys, numpy as np, physgraph as pg
        @pg.compile(backend="numba")
        def energy(p: pg.Vec4, m: pg.Param = 0.5):
            return pg.sqrt(p.p2 + m * m)
        p = np.array([[0.0, 1.0, 2.0, 2.0]])
        assert abs(energy(p)[0] - 9.25 ** 0.5) < 1e-12
        print(energy.stats["cache"])
    """)
    env = {**os.environ, "PHYSGRAPH_CACHE_DIR": str(cache_dir)}
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    assert cache.info()["entries"] == 1
    assert make("numba").stats["cache"] == "hit"
    assert not [d for d in cache_dir.iterdir() if d.name.startswith(".")]   # no temp leftovers


def test_clear(cache_dir):
    make()
    assert cache.clear() == 1
    assert cache.info()["entries"] == 0


def test_clear_removes_only_entries(cache_dir):
    """PHYSGRAPH_CACHE_DIR may name a folder in use (/tmp, a project folder)."""
    make()
    (cache_dir / "notes.txt").write_text("mine")
    (cache_dir / "results").mkdir()
    assert cache.info()["entries"] == 1
    assert cache.clear() == 1
    assert sorted(p.name for p in cache_dir.iterdir()) == ["notes.txt", "results"]


# ---- a cache that trusts only its owner ------------------------------------------------------
def plant_entry(monkeypatch, trusted, target, backend="numpy"):
    """Copies the entry make(backend) writes into the folder ``trusted`` to ``target``, with a
    source that raises when it runs and a hash that matches it, as an attacker would write it."""
    monkeypatch.setenv("PHYSGRAPH_CACHE_DIR", str(trusted))
    make(backend)
    (entry,) = [d for d in trusted.iterdir() if not d.name.startswith(".")]
    planted = target / entry.name
    planted.mkdir()
    source = 'raise RuntimeError("the planted entry ran")\n' + (entry / "kernel.py").read_text()
    (planted / "kernel.py").write_text(source)
    meta = json.loads((entry / "meta.json").read_text())
    meta["source_sha256"] = hashlib.sha256(source.encode()).hexdigest()
    (planted / "meta.json").write_text(json.dumps(meta))
    return planted


def cache_warnings(record):
    return [str(w.message) for w in record if "kernel cache" in str(w.message)]


def test_folder_writable_by_others_is_refused(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    plant_entry(monkeypatch, tmp_path / "mine", shared, "numba")
    monkeypatch.setenv("PHYSGRAPH_CACHE_DIR", str(shared))
    before = sorted(p.name for p in shared.rglob("*"))
    with pytest.warns(RuntimeWarning, match=f"not using the kernel cache at {shared}: "
                      "it is writable by group and others \\(mode 0777\\)"):
        k = make("numba")
    assert k.stats["cache"] == "off"
    np.testing.assert_allclose(k(P), EXPECTED)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        np.testing.assert_allclose(make()(P), EXPECTED)
    assert not cache_warnings(record)                     # once per folder
    assert sorted(p.name for p in shared.rglob("*")) == before


@pytest.mark.parametrize("loosened", ["kernel.py", "meta.json", "."])
def test_entry_writable_by_group_is_refused(tmp_path, monkeypatch, loosened):
    root = tmp_path / "cache"
    root.mkdir(mode=0o755)
    planted = plant_entry(monkeypatch, tmp_path / "mine", root)
    monkeypatch.setenv("PHYSGRAPH_CACHE_DIR", str(root))
    planted.chmod(0o755)
    for path in planted.iterdir():
        path.chmod(0o644)
    (planted / loosened).chmod(0o775 if loosened == "." else 0o664)
    with pytest.warns(RuntimeWarning, match=f"not using the kernel cache entry at {planted}: "
                      ".* is writable by group"):
        k = make()
    np.testing.assert_allclose(k(P), EXPECTED)
    assert k.stats["cache"] != "hit"


def test_group_bits_inside_a_private_folder_are_harmless(cache_dir):
    """numba writes its machine-code cache with the user's umask (0002 on many desktops); a
    group-writable file no one else can reach must not cost the cache."""
    make()
    (entry,) = [d for d in cache_dir.iterdir() if not d.name.startswith(".")]
    assert stat.S_IMODE(entry.stat().st_mode) == 0o700
    (entry / "kernel.py").chmod(0o666)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert make().stats["cache"] == "hit"


@pytest.mark.skipif(os.getuid() != 0, reason="giving a folder to another user needs root")
@pytest.mark.parametrize("given", ["root", "entry"])
def test_folder_of_another_user_is_refused(tmp_path, monkeypatch, given):
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    planted = plant_entry(monkeypatch, tmp_path / "mine", root)
    monkeypatch.setenv("PHYSGRAPH_CACHE_DIR", str(root))
    os.chown(root if given == "root" else planted, 65534, 65534)
    place = f"at {root}: it" if given == "root" else f"entry at {planted}: {planted}"
    with pytest.warns(RuntimeWarning, match=f"kernel cache {place} is owned by uid 65534"):
        k = make()
    np.testing.assert_allclose(k(P), EXPECTED)
    assert k.stats["cache"] != "hit"
