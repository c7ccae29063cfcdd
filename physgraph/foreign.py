"""Arrays of other frameworks that a kernel takes, as the interop modules register them.

``Kernel.__call__`` asks here what to do with its arguments.  An array is recognised by the
top-level package that defines its class or a base class (vector's awkward records subclass
awkward's), so no framework is imported to check and each stays a lazy, optional import.
A registered framework either takes the whole call (awkward, Dask: ``call``) or has a
backend that runs on its arrays where they are (JAX, CuPy: ``backend``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Accepted:
    """What a kernel does with one framework's arrays: ``call(kernel, args, kwargs, out)``
    takes the call over, or the kernel runs on them with ``backend``."""
    call: Callable | None = None
    backend: str | None = None


_BY_PACKAGE: dict[str, Accepted] = {}


def register(packages: Iterable[str], *, call: Callable | None = None,
             backend: str | None = None) -> None:
    """Arrays whose class comes from one of ``packages`` (top-level module names) go to
    ``call`` or run on ``backend``; exactly one of the two."""
    if (call is None) == (backend is None):
        raise TypeError("register() takes exactly one of call= and backend=")
    for package in packages:
        _BY_PACKAGE[package] = Accepted(call, backend)


def accepted(value) -> Accepted | None:
    """The registration of ``value``'s framework; None for numpy arrays, numbers, lists."""
    for cls in type(value).__mro__:
        entry = _BY_PACKAGE.get(cls.__module__.partition(".")[0])
        if entry is not None:
            return entry
    return None


def call_for(values: Iterable) -> Callable | None:
    """The interop call that takes over a kernel call with these arguments (None: none)."""
    return _first(values, "call")


def backend_for(values: Iterable) -> str | None:
    """The backend that runs on the device arrays among ``values`` (None: none)."""
    return _first(values, "backend")


def _first(values: Iterable, way: str):
    """``way`` ("call" or "backend") of the first value whose framework registered one."""
    for v in values:
        found = getattr(accepted(v), way, None)
        if found is not None:
            return found
    return None
