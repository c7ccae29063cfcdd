"""The README as a user reads it: every ``pg.<name>`` it mentions exists, and its code
blocks run (with fewer events)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import physgraph as pg

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
BLOCKS = re.findall(r"^```python\n(.*?)^```", README, re.M | re.S)


def test_every_public_name_in_the_readme_exists():
    names = set(re.findall(r"\bpg\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)", README))
    missing = []
    for name in sorted(names):
        value = pg
        for part in name.split("."):
            if not hasattr(value, part):
                missing.append(name)
                break
            value = getattr(value, part)
    assert names and not missing, missing
    # the math functions listed in prose, written without the pg. prefix after the first
    listed = re.search(r"- Math: `pg\.(.*?)`", README, re.S).group(1)
    functions = [f.strip() for f in listed.replace("\n", " ").split(",")]
    assert [f for f in functions if not callable(getattr(pg, f, None))] == []


def test_the_readme_code_blocks_run(capsys):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    a_arr, b_arr, c_arr = (rng.random(1000) for _ in range(3))
    namespace = {"a_arr": a_arr, "b_arr": b_arr, "c_arr": c_arr, "torch": torch}
    first, sympy_block, network = BLOCKS[:3]
    exec(first.replace("1_000_000", "1000"), namespace)
    exec(sympy_block, namespace)
    u, v = namespace["u"], namespace["v"]
    np.testing.assert_allclose(u, np.hypot(a_arr, b_arr) * 0.3, rtol=1e-12)
    np.testing.assert_allclose(v, np.exp(-c_arr) * np.cos(a_arr), rtol=1e-12)
    p = namespace["p"]
    namespace.update(q=p[::-1].copy(), retrained=torch.nn.Sequential(
        torch.nn.Linear(4, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1)))
    exec(network, namespace)
    assert namespace["score"].shape == (1000,)
    assert "flops per event" in capsys.readouterr().out
