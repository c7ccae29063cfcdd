"""FMA contraction, for backends with a fused multiply-add: a * b + c -> fma(a, b, c).

Only products nobody else uses are contracted (a shared product is computed once anyway).
The fma rounds once instead of twice, so results can differ from the unfused form in the
last bit; that is why it runs only where the backend asks for it.
"""
from __future__ import annotations

from ..graph import Graph, Op, T
from .builder import Builder


def fma(g: Graph, fma: bool = False, unsafe: bool = False, **_) -> Graph:
    if not fma:
        return g
    users = g.users()
    new = g.empty_like()
    b = Builder(new, unsafe)
    m = [0] * len(g)
    live = g.live()
    for i in range(len(g)):
        if not live[i]:
            continue
        op, args = g.ops[i], g.args[i]
        m[i] = None
        if op is Op.ADD and g.types[i] is T.REAL:
            for x, y in (args, args[::-1]):
                if g.ops[x] is Op.MUL and users[x] == 1 and g.types[x] is T.REAL:
                    p, q = g.args[x]
                    m[i] = b(Op.FMA, m[p], m[q], m[y])
                    break
        if m[i] is None:
            m[i] = b(op, *(m[a] for a in args), attr=g.attrs[i])
    new.remap_outputs(g, m)
    return new
