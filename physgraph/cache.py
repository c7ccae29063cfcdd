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

An entry is code this process will run, so the cache trusts only what no one else can change,
as ssh does with its keys: the folder, an entry and everything in it must belong to the user
and be writable by no group or other user who can reach it.  Otherwise it warns once per
folder and compiles without the cache.  "Who can reach it" matters because numba writes its
machine code with the user's umask (group-writable under umask 0002), inside entry folders
made 0700 where no one else can get at them.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import stat
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


def _switched_on() -> bool:
    return os.environ.get("PHYSGRAPH_CACHE", "on").lower() not in ("off", "0", "no", "false")


def enabled() -> bool:
    """Whether the cache is on (``PHYSGRAPH_CACHE``) and its folder trusted (warns if not)."""
    return _switched_on() and _trusted_root() is not None


def why_off() -> str | None:
    """Why the cache is not used (None when it is)."""
    if not _switched_on():
        return "PHYSGRAPH_CACHE=off"
    if _trusted_root() is None:
        return "the folder could be changed by another user"
    return None


# (who, write bit, search bit) for the users besides the owner
_OTHERS = (("group", stat.S_IWGRP, stat.S_IXGRP), ("others", stat.S_IWOTH, stat.S_IXOTH))
_warned: set[str] = set()


def _distrust(st: os.stat_result, reach: tuple) -> tuple[str | None, tuple]:
    """Why another user could change the file or folder of ``st`` (None if no one can), and
    who of ``reach`` (those who can get to it) can get past it, if it is a folder."""
    if st.st_uid != os.getuid():
        return f"is owned by uid {st.st_uid}, not by you (uid {os.getuid()})", ()
    writers = [who for who, write, _ in reach if st.st_mode & write]
    if writers:
        return (f"is writable by {' and '.join(writers)} "
                f"(mode {stat.S_IMODE(st.st_mode):04o})"), ()
    return None, tuple(c for c in reach if st.st_mode & c[2])


def _refuse(what: str, folder: str, why: str) -> None:
    if folder not in _warned:
        _warned.add(folder)
        warnings.warn(f"physgraph: not using the {what} at {folder}: {why}; compiling "
                      "without the cache", RuntimeWarning, stacklevel=4)


def _trusted_root() -> tuple[str, tuple] | None:
    """The cache folder and who else can get into it, or None (with a warning) when someone
    else could change it; the folders above it are the system's and the user's business."""
    root = directory()
    why, reach = _distrust(os.stat(root), _OTHERS)
    if why is not None:
        _refuse("kernel cache", root, f"it {why}")
        return None
    return root, reach


def _untrusted_part(folder: str, reach: tuple) -> str | None:
    """Why someone else could change ``folder`` or anything in it (None if no one can)."""
    todo = [(folder, reach)]
    while todo:
        path, reach = todo.pop()
        try:
            st = os.stat(path)
            why, inner = _distrust(st, reach)
            if why is not None:
                return f"{path} {why}"
            if stat.S_ISDIR(st.st_mode):
                todo += [(os.path.join(path, name), inner) for name in os.listdir(path)]
        except FileNotFoundError:       # numba's temporary files come and go
            continue
    return None


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
    """The entry, or None when missing or not trusted (with a warning once); a damaged entry
    is removed with a warning."""
    trusted = _trusted_root()
    if trusted is None:
        return None
    root, reach = trusted
    folder = os.path.join(root, entry_key)
    if not os.path.isdir(folder):
        return None
    why = _untrusted_part(folder, reach)
    if why is not None:
        _refuse("kernel cache entry", folder, why)
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


def store(entry_key: str, suffix: str, source: str, meta: dict) -> Entry | None:
    """Writes the entry atomically; if another process got there first, uses theirs.  None
    when the entry in place cannot be used (``load`` said why): compile without it."""
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
    return load(entry_key, suffix)


def load_object(source_file: str, key: str) -> bytes | None:
    """Machine code stored beside a source by ``store_object``, if it was stored under the
    same ``key`` (what it was compiled from and for) and its bytes match their hash."""
    path = source_file + ".o"
    try:
        with open(path + ".json") as f:
            meta = json.load(f)
        with open(path, "rb") as f:
            data = f.read()
    except (OSError, ValueError):
        return None
    if meta.get("key") != key or meta.get("sha256") != hashlib.sha256(data).hexdigest():
        return None
    return data


def store_object(source_file: str, key: str, data: bytes) -> None:
    """Stores machine code beside its source (the bytes, then their hash: a reader that
    comes in between finds no match and compiles)."""
    path = source_file + ".o"
    for target, content in ((path, data), (path + ".json", json.dumps(
            {"key": key, "sha256": hashlib.sha256(data).hexdigest()}).encode())):
        fd, tmp = tempfile.mkstemp(prefix=".object.", dir=os.path.dirname(path))
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(tmp, target)


@functools.cache
def _scratch_root() -> tempfile.TemporaryDirectory:
    """This process's private folder for sources while the cache is off, removed at exit."""
    return tempfile.TemporaryDirectory(prefix="physgraph-")


def scratch_file(source: str, suffix: str) -> str:
    """A private file for the source when the cache is off (numba still needs a file): one
    folder per source (numba names the module after it) in ``_scratch_root()``."""
    folder = os.path.join(_scratch_root().name, hashlib.sha256(source.encode()).hexdigest()[:32])
    path = os.path.join(folder, f"kernel{suffix}")
    if not os.path.exists(path):
        os.makedirs(folder, exist_ok=True)
        with open(path, "w") as f:
            f.write(source)
    return path


# an entry's folder, or one being written (``store``); the cache folder may hold other things
# when $PHYSGRAPH_CACHE_DIR names a folder in use (clearing /tmp must not empty it)
_OURS = re.compile(r"\.?[0-9a-f]{32}(\..+)?")


def _own_names(root: str) -> list[str]:
    return [name for name in os.listdir(root) if _OURS.fullmatch(name)]


def info() -> dict:
    root = directory()
    names = _own_names(root)
    size = sum(os.path.getsize(os.path.join(dirpath, f)) for name in names
               for dirpath, _, files in os.walk(os.path.join(root, name)) for f in files)
    return {"path": root, "entries": len([n for n in names if not n.startswith(".")]),
            "bytes": size, "enabled": enabled(), "why_off": why_off()}


def clear() -> int:
    """Removes every entry (and nothing else); returns how many there were."""
    root = directory()
    names = _own_names(root)
    for name in names:
        shutil.rmtree(os.path.join(root, name), ignore_errors=True)
    return len([n for n in names if not n.startswith(".")])
