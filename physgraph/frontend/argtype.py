"""Argument annotations of traced functions: ``pg.Vec[3]``, ``pg.Mat[2, 2]``, ``pg.Param``..."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArgType:
    """What one argument of a traced function is: its per-event shape and its role."""
    kind: str                       # "scalar", "vec4", "vec", "mat" or "seq"
    shape: tuple[int, ...] = ()
    role: str = "input"             # "input" (per event) or "param" (per call)
    symmetric: bool = False
    item: "ArgType | None" = None   # of a "seq": the per-layer type (shape[1:])


def _dims(item, count: int, what: str) -> tuple[int, ...]:
    dims = item if isinstance(item, tuple) else (item,)
    if len(dims) != count or not all(isinstance(d, int) and d > 0 for d in dims):
        raise TypeError(f"{what} takes {count} positive integer size(s), got {item!r}")
    return dims


class Param:
    """A per-call parameter: ``pg.Param`` (scalar), ``pg.Param[n]`` or ``pg.Param[r, c]``."""

    def __class_getitem__(cls, item):
        dims = item if isinstance(item, tuple) else (item,)
        dims = _dims(item, len(dims), "Param[...]")
        kind = "vec" if len(dims) == 1 else "mat"
        if len(dims) > 2:
            raise TypeError("Param[...] takes one or two sizes")
        return ArgType(kind, dims, role="param")
