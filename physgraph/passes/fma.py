"""FMA contraction, for backends with a fused multiply-add: a * b + c -> fma(a, b, c).

Only products nobody else uses are contracted (a shared product is computed once anyway).
The fma rounds once instead of twice, so results can differ from the unfused form in the
last bit; that is why it runs only where the backend asks for it.
"""
from __future__ import annotations

from ..graph import ADD, FMA, MUL, REAL
from .rewrite import Pass, Rewrite


def _fuse(rw: Rewrite, i: int):
    g = rw.old
    if g.types[i] is not REAL:
        return None
    ops, types, args, users, m = g.ops, g.types, g.args, rw.users, rw.mapping
    for x, y in (args[i], args[i][::-1]):
        if ops[x] is MUL and users[x] == 1 and types[x] is REAL:
            p, q = args[x]
            return rw.b(FMA, m[p], m[q], m[y])
    return None


fma = Pass("fma", options={"fma": False, "unsafe": False}, rules={ADD: _fuse},
           applies=lambda g, options: options["fma"])
