"""The on-disk cache of generated kernels: source text and JSON metadata, never pickles.

An entry is a folder named by a hash of the canonical input graph, the kernel name, the
options and the versions of physgraph and its backends.  It holds ``kernel.py`` (or
``kernel.cu``) and ``meta.json`` with the source's sha256, so a damaged entry is noticed,
reported with a warning, and rebuilt.  Entries are written into a private temporary folder
and renamed into place, so a reader never sees half an entry and two processes compiling
the same kernel both succeed (the second rename loses and its copy is dropped).  Numba's own
machine-code cache lives in the entry's ``__pycache__``.

The folder is ``$PHYSGRAPH_CACHE_DIR`` or ``~/.cache/physgraph``, created with mode 0700;
``PHYSGRAPH_CACHE=off`` turns the cache off.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from importlib import metadata

_BACKEND_PACKAGES = ("numba", "llvmlite", "jax", "jaxlib", "cupy", "cupy-cuda12x", "numpy")


def directory() -> str:
    path = os.environ.get("PHYSGRAPH_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "physgraph")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def enabled() -> bool:
    return os.environ.get("PHYSGRAPH_CACHE", "on").lower() not in ("off", "0", "no", "false")


@functools.cache
def compiler_hash() -> str:
    """A hash of physgraph's own source: an edited pass or printer (same version number, as
    in a development checkout) must not be answered from entries the old code wrote."""
    root = os.path.dirname(os.path.abspath(__file__))
    h = hashlib.sha256()
    for folder, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(folder, name)
            h.update(os.path.relpath(path, root).encode())
            with open(path, "rb") as f:
                h.update(f.read())
    return h.hexdigest()[:16]


def versions() -> dict:
    from . import __version__
    found = {"physgraph": __version__, "physgraph-source": compiler_hash()}
    for name in _BACKEND_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def key(graph_key: str, name: str, options: dict) -> str:
    text = json.dumps({"graph": graph_key, "name": name, "options": options,
                       "versions": versions()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class Entry:
    path: str            # the entry folder
    source_file: str     # the generated source inside it
    source: str
    meta: dict


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def load(entry_key: str, suffix: str) -> Entry | None:
    """The entry, or None when missing; a damaged entry is removed with a warning."""
    folder = os.path.join(directory(), entry_key)
    if not os.path.isdir(folder):
        return None
    source_file = os.path.join(folder, f"kernel{suffix}")
    try:
        with open(os.path.join(folder, "meta.json")) as f:
            meta = json.load(f)
        with open(source_file) as f:
            source = f.read()
        if meta.get("source_sha256") != _sha(source):
            raise ValueError("the source does not match its recorded hash")
    except (OSError, ValueError) as err:
        warnings.warn(f"physgraph cache entry {entry_key} is damaged ({err}); rebuilding it",
                      RuntimeWarning, stacklevel=3)
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return Entry(folder, source_file, source, meta)


def store(entry_key: str, suffix: str, source: str, meta: dict) -> Entry:
    """Writes the entry atomically; if another process got there first, uses theirs."""
    root = directory()
    final = os.path.join(root, entry_key)
    meta = {**meta, "source_sha256": _sha(source), "versions": versions()}
    tmp = tempfile.mkdtemp(prefix=f".{entry_key}.", dir=root)
    try:
        with open(os.path.join(tmp, f"kernel{suffix}"), "w") as f:
            f.write(source)
        with open(os.path.join(tmp, "meta.json"), "w") as f:
            json.dump(meta, f, indent=1)
        os.chmod(tmp, 0o700)
        os.rename(tmp, final)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not os.path.isdir(final):
            raise
    found = load(entry_key, suffix)
    if found is None:             # someone's entry was damaged between rename and read
        raise RuntimeError(f"physgraph cache entry {entry_key} could not be written")
    return found


def scratch_file(source: str, suffix: str) -> str:
    """A private file for the source when the cache is off (numba still needs a file)."""
    folder = tempfile.mkdtemp(prefix="physgraph-")
    path = os.path.join(folder, f"kernel{suffix}")
    with open(path, "w") as f:
        f.write(source)
    return path


def info() -> dict:
    root = directory()
    entries = [e for e in os.listdir(root) if not e.startswith(".")]
    size = sum(os.path.getsize(os.path.join(dirpath, f))
               for dirpath, _, files in os.walk(root) for f in files)
    return {"path": root, "entries": len(entries), "bytes": size, "enabled": enabled()}


def clear() -> int:
    """Removes every entry; returns how many there were."""
    root = directory()
    names = os.listdir(root)
    for name in names:
        shutil.rmtree(os.path.join(root, name), ignore_errors=True)
    return len([n for n in names if not n.startswith(".")])
