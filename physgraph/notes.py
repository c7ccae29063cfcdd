"""Notes a frontend attaches to the graph it builds, printed under ``Kernel.report()``.

A frontend may know things about its graph that the passes' table cannot show (which
helicity combinations survived, say).  Notes live on the input graph, so every kernel made
from it (``with_backend``, a cache hit) reports them.
"""
from __future__ import annotations

from .graph import Graph


def add(g: Graph, text: str) -> None:
    """Attach a line of text to ``g``."""
    g.__dict__.setdefault("frontend_notes", []).append(text)


def of(g: Graph) -> list[str]:
    """The notes attached to ``g``, in the order they were added."""
    return list(g.__dict__.get("frontend_notes", ()))
