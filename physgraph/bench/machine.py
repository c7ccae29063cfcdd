"""What a benchmark ran on: CPU, cores, memory, versions.  Never the hostname or user."""
from __future__ import annotations

import os
import platform
import re
from functools import lru_cache
from importlib import metadata
from pathlib import Path

PACKAGES = ("physgraph", "numpy", "numba", "llvmlite", "sympy", "jax", "jaxlib", "symengine",
            "pytensor", "sympytensor")


@lru_cache(maxsize=1)
def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_model() -> str:
    m = re.search(r"^model name\s*:\s*(.+)$", _cpuinfo(), re.MULTILINE)
    return (m.group(1).strip() if m else platform.processor()) or platform.machine()


def cpu_flags() -> set[str]:
    m = re.search(r"^flags\s*:\s*(.+)$", _cpuinfo(), re.MULTILINE)
    return set(m.group(1).split()) if m else set()


def cores() -> int:
    """CPUs this process may run on (what numba's prange gets), not the host's total."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def memory_bytes() -> int:
    try:
        m = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.MULTILINE)
        return int(m.group(1)) * 1024 if m else 0
    except OSError:
        return 0


def last_level_cache_bytes() -> int:
    """Size of the largest-level CPU cache of cpu0 (sysfs), 32 MB when unknown."""
    best_level, best_size = 0, 32 << 20
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            level = int((index / "level").read_text())
            text = (index / "size").read_text().strip()
        except (OSError, ValueError):
            continue
        m = re.fullmatch(r"(\d+)([KMG]?)", text)
        if m and level > best_level:
            best_level = level
            best_size = int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]
    return best_size


def versions() -> dict:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def describe(name: str | None = None) -> dict:
    """Machine facts for the JSON; ``name`` defaults to "<cpu model>, <n> cores"."""
    model, n = cpu_model(), cores()
    return {
        "name": name or f"{model}, {n} cores",
        "cpu_model": model,
        "cores": n,
        "memory_GB": round(memory_bytes() / 2**30, 1),
        "last_level_cache_MB": round(last_level_cache_bytes() / 2**20, 1),
        "vector_extensions": sorted(f for f in cpu_flags()
                                    if re.fullmatch(r"avx\w*|fma|sse4_2", f)),
        "os": f"{platform.system()} {platform.release()}",
        "versions": versions(),
    }
