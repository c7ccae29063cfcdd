"""Constant folding and algebraic identities.

Integers and rationals fold exactly (Fractions); everything else folds with numpy's float64 /
complex128 semantics, the same IEEE rules the kernels follow at run time.

Safe identities: x + 0, x - 0, 0 - x, x * 1, x * -1, x / 1, --x, x ** 1, x ** 0, re/conj of a
real value, im of a real value, where() with a constant or repeated branch, and the
symmetries of even and odd functions (cos(-x) = cos x, sin(-x) = -sin x).  Multiplication
by an exact structural zero folds to zero (the convention of every amplitude generator: a
zero spinor component kills its term).  x - x -> 0 and x / x -> 1 change the result when x is
inf or NaN, so they run only with ``unsafe=True``.
"""
from __future__ import annotations

from ..graph import CONST, LEAVES, WHERE, Graph, Op, T
from ..ops import DEFS, evaluate


def _const(g: Graph, i: int):
    return g.attrs[i] if g.ops[i] is CONST else None


def _is(g: Graph, i: int, value) -> bool:
    c = _const(g, i)
    return c is not None and not isinstance(c, bool) and c == value


# ops (with a rule below) whose identities all need a constant operand, and those whose
# others need two equal operands
_NEEDS_A_CONSTANT = frozenset({Op.ADD, Op.MUL})
_SAME_ARGS = frozenset({Op.SUB, Op.DIV, Op.MIN, Op.MAX, Op.AND, Op.OR})
# a contraction reads a param matrix; a call's body is folded where it is inlined
_NEVER_FOLDED = LEAVES | {Op.CONTRACT, Op.CALL}


def fold_rule(unsafe: bool = False):
    def rule(g: Graph, op: Op, args: tuple, attr) -> int:
        if op in _NEVER_FOLDED:
            return g.node(op, args, attr)
        ops, nconst = g.ops, 0
        for a in args:
            if ops[a] is CONST:
                nconst += 1
        if nconst == len(args) and op is not WHERE:
            return g.const(evaluate(op, [g.attrs[a] for a in args], attr))
        identity = _IDENTITIES.get(op)
        if identity is None or nconst == 0 and (
                op in _NEEDS_A_CONSTANT or op in _SAME_ARGS and args[0] != args[1]):
            return g.node(op, args, attr)         # no identity applies: the common case
        simpler = identity(g, *args, attr=attr, unsafe=unsafe)
        return simpler if simpler is not None else g.node(op, args, attr)
    return rule


# One rule per op: a simpler equivalent node already in ``g`` (or made from its nodes), or
# None.  Ops without a rule have no identity.

def _add(g: Graph, a, b, **_):
    if _is(g, a, 0):
        return b
    if _is(g, b, 0):
        return a
    return None


def _sub(g: Graph, a, b, unsafe, **_):
    if _is(g, b, 0):
        return a
    if _is(g, a, 0):
        return g.node(Op.NEG, (b,))
    return g.const(0) if unsafe and a == b else None


def _mul(g: Graph, a, b, **_):
    for x, y in ((a, b), (b, a)):
        if _is(g, x, 1):
            return y
        if _is(g, x, 0):
            return g.const(0)
        if _is(g, x, -1):
            return g.node(Op.NEG, (y,))
    return None


def _div(g: Graph, a, b, unsafe, **_):
    if _is(g, b, 1):
        return a
    if _is(g, a, 0) and not _is(g, b, 0):
        return g.const(0)
    return g.const(1) if unsafe and a == b else None


def _powi(g: Graph, a, attr, **_):
    if attr == 1:
        return a
    if attr == 0:
        return g.const(1)  # IEEE pow(x, 0) is 1 for every x, inf and NaN included
    return None


def _involution(op: Op):
    """f(f(x)) = x."""
    return lambda g, a, **_: g.args[a][0] if g.ops[a] is op else None


def _re(g: Graph, a, **_):
    return a if g.types[a] is not T.COMPLEX else None


def _conj(g: Graph, a, **_):
    return _re(g, a) if g.ops[a] is not Op.CONJ else g.args[a][0]


def _im(g: Graph, a, **_):
    return g.const(0) if g.types[a] is not T.COMPLEX else None


def _where(g: Graph, cond, a, b, **_):
    c = _const(g, cond)
    if c is not None:
        return a if c else b
    return a if a == b else None


def _idempotent(g: Graph, a, b, **_):
    return a if a == b else None


def _even(op: Op):
    """f(-x) = f(x)."""
    def rule(g: Graph, a, **_):
        return g.node(op, (g.args[a][0],)) if g.ops[a] is Op.NEG else None
    return rule


def _odd(op: Op):
    """f(-x) = -f(x), exactly in IEEE."""
    def rule(g: Graph, a, **_):
        if g.ops[a] is Op.NEG:
            return g.node(Op.NEG, (g.node(op, (g.args[a][0],)),))
        return None
    return rule


def _abs(g: Graph, a, **_):
    if g.ops[a] is Op.NEG:
        return g.node(Op.ABS, (g.args[a][0],))
    if g.ops[a] in (Op.ABS, Op.SQRT, Op.EXP) and g.types[a] is T.REAL:
        return a
    return None


_IDENTITIES = {
    Op.ADD: _add, Op.SUB: _sub, Op.MUL: _mul, Op.DIV: _div, Op.POWI: _powi,
    Op.NEG: _involution(Op.NEG), Op.NOT: _involution(Op.NOT), Op.CONJ: _conj, Op.RE: _re,
    Op.IM: _im, Op.WHERE: _where,
    **{op: _idempotent for op in (Op.MIN, Op.MAX, Op.AND, Op.OR)},
    Op.ABS: _abs,
    **{op: _even(op) for op, d in DEFS.items() if d.parity == "even"},
    **{op: _odd(op) for op, d in DEFS.items() if d.parity == "odd"},
}
