"""Shared fixtures and the hypothesis profiles.

HYPOTHESIS_PROFILE=ci (the default) keeps the suite to a few minutes on two cores;
HYPOTHESIS_PROFILE=long runs many more random graphs (numba compiles ~1 s per example).
"""
from __future__ import annotations

import os
import sys
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# the suite compiles into a cache of its own, never the user's ~/.cache/physgraph, removed
# when the run ends
_CACHE = tempfile.TemporaryDirectory(prefix="physgraph-test-cache-")
os.environ["PHYSGRAPH_CACHE_DIR"] = _CACHE.name

settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "long", max_examples=400, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261122)


@pytest.fixture
def default_recursion_limit():
    """Python's default recursion limit for the test: a library imported by an earlier test
    (PyTensor, torch's dynamo) may have raised it, and a graph deeper than the limit is
    the point of the test."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    yield 1000
    sys.setrecursionlimit(old)



def pytest_collection_modifyitems(config, items):
    """Checks marked slow (the 10^6-node graph, minutes on two cores) are deselected unless
    asked for with ``-m slow`` (or any -m expression) or PHYSGRAPH_SLOW=1."""
    if config.getoption("markexpr") or os.environ.get("PHYSGRAPH_SLOW"):
        return
    slow = [item for item in items if "slow" in item.keywords]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if "slow" not in item.keywords]
