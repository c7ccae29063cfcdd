"""Splitting a long straight-line body into parts of bounded size.

Compilers are not linear in the size of one function (Numba's type inference and LLVM's
passes on a 10^4-line body take minutes), so a long per-event body becomes a sequence of
part functions of at most ``size`` lines, and values that cross from one part to a later
one travel through a small per-event scratch array.  Total compile time then grows with
the number of parts, that is linearly.

Parts only start at a definition, never between a value and the output writes after it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_DEF = re.compile(r"^t(\d+) = ")
_USE = re.compile(r"\bt(\d+)\b")


@dataclass
class Part:
    lines: list[str]
    live_in: list[int] = field(default_factory=list)     # node ids read from scratch
    live_out: list[int] = field(default_factory=list)    # node ids stored to scratch


def split(body: list[str], size: int, outside: set[int]) -> list[Part]:
    """Parts of at most ``size`` lines; ``outside`` are values defined before the loop."""
    parts, current = [], []
    for line in body:
        if len(current) >= size and _DEF.match(line):
            parts.append(Part(current))
            current = []
        current.append(line)
    parts.append(Part(current))
    defined_in: dict[int, int] = {}
    for k, part in enumerate(parts):
        for line in part.lines:
            m = _DEF.match(line)
            if m:
                defined_in[int(m.group(1))] = k
    for k, part in enumerate(parts):
        seen: set[int] = set()
        for line in part.lines:
            m = _DEF.match(line)
            rhs = line[m.end():] if m else line.split(" = ", 1)[1]
            for t in map(int, _USE.findall(rhs)):
                home = defined_in.get(t)
                if home is not None and home < k and t not in seen:
                    seen.add(t)
                    part.live_in.append(t)
                    if t not in parts[home].live_out:
                        parts[home].live_out.append(t)
                elif home is None and t not in outside:
                    raise AssertionError(f"t{t} used before it is defined")
    return parts
