"""The on-disk cache: hits, permissions, damaged entries, concurrent writers."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap

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
