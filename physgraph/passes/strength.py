"""Strength reduction: cheaper operations for the same value.

- x ** n (integer n) by multiplications that share work between powers of one base
  (see ``Powers``); x ** -n -> 1 / x**n;
- x ** c for constant c: 1/2 -> sqrt, -1/2 -> rsqrt, integral c -> powi,
  k/2 -> x**((k-1)/2) * sqrt(x);
- division by a per-call value -> multiplication by its reciprocal, computed once per call;
- several divisions by one per-event denominator -> one reciprocal and multiplications
  (by a power y**n: the power of 1/y, which shares 1/y);
- 1 / sqrt(x) -> rsqrt(x).
"""
from __future__ import annotations

from collections import Counter
from fractions import Fraction

from ..graph import CONST, DIV, MUL, POW, POWI, REAL, Op
from .builder import Builder
from .rewrite import Pass, Rewrite


class Powers:
    """x ** n for the graph's integer powers, sharing work between powers of one base.

    Each new power takes one multiplication when it is the sum of two powers already built
    (x^10 = x^8 * x^2); otherwise it halves (x^6 = (x^3)^2, x^3 = x^2 * x).  So the even
    powers 2..16 of one base cost eight multiplications in all.
    """

    def __init__(self, b: Builder):
        self.b = b
        self.built: dict[int, dict[int, int]] = {}     # base -> {exponent: node}

    def __call__(self, x: int, n: int) -> int:
        b = self.b
        if n < 0:
            return b(DIV, b.const(1), self(x, -n))
        if n == 0:
            return b.const(1)
        table = self.built.setdefault(x, {1: x})
        chain = []
        m = n
        while m not in table:
            split = max((k for k in table if m - k in table), default=None)
            if split is not None:
                chain.append((m, split, m - split))
                break
            chain.append((m, m // 2, m // 2) if m % 2 == 0 else (m, m - 1, 1))
            m = chain[-1][1]
        for m, p, q in reversed(chain):
            table[m] = b(MUL, table[p], table[q])
        return table[n]


def _shared_denominators(rw: Rewrite) -> dict[int, bool]:
    """Old nodes that are the denominator of more than one live real division -> whether
    that is their only use."""
    g = rw.old
    ops, args, types, visit = g.ops, g.args, g.types, rw.visit
    divisions = Counter(args[i][1] for i in range(len(g))
                        if visit[i] and ops[i] is DIV and types[i] is REAL)
    return {d: n == rw.users[d] for d, n in divisions.items() if n > 1}


def _start(rw: Rewrite) -> tuple[Powers, dict[int, bool]]:
    return Powers(rw.b), _shared_denominators(rw)


def _integer_power(rw: Rewrite, i: int):
    if rw.old.types[i] is not REAL:
        return None
    power, _ = rw.state
    return power(rw.mapping[rw.old.args[i][0]], rw.old.attrs[i])


def _power(rw: Rewrite, i: int):
    x, c = rw.args(i)
    new = rw.new
    if rw.old.types[i] is not REAL or new.ops[c] is not CONST:
        return None
    power, _ = rw.state
    return _const_power(rw.b, power, x, c, new.attrs[c])


def _division(rw: Rewrite, i: int):
    if rw.old.types[i] is not REAL:
        return None
    power, shared = rw.state
    x, d = rw.args(i)
    old, d_old = rw.old, rw.old.args[i][1]
    if shared.get(d_old) and old.ops[d_old] is POWI and old.attrs[d_old] > 0:
        # x / y**n -> x * (1/y)**n when y**n has no other use: the reciprocal 1/y is then
        # shared with x / y
        y = rw.mapping[old.args[d_old][0]]
        return rw.b(MUL, x, power(rw.b(DIV, rw.b.const(1), y), old.attrs[d_old]))
    return _divide(rw.b, x, d, d_old in shared)


def _const_power(b: Builder, power: Powers, x: int, c_node: int, c) -> int:
    """x ** c for a real constant c that is an integer or half an integer; else pow."""
    if isinstance(c, complex) or not float(c) == float(c) or abs(c) > 32:
        return b(POW, x, c_node)
    twice = Fraction(c) * 2         # floats convert exactly
    if twice.denominator != 1:
        return b(POW, x, c_node)
    k = int(twice)
    if k % 2 == 0:
        return power(x, k // 2)
    if k == -1:
        return b(Op.RSQRT, x)
    # x ** (k/2) = x ** ((k-1)/2) * sqrt(x): one sqrt, and no rounding of sqrt(x)**2
    half = b(MUL, power(x, (abs(k) - 1) // 2), b(Op.SQRT, x))
    return half if k > 0 else b(DIV, b.const(1), half)


def _divide(b: Builder, x: int, d: int, shared: bool) -> int:
    """x / d, with a reciprocal where it is computed once per call or shared."""
    g = b.g
    if b.value(x) == 1:
        return b(Op.RSQRT, g.args[d][0]) if g.ops[d] is Op.SQRT else b(DIV, x, d)
    if (b.varying(x) and not b.varying(d)) or shared:
        return b(MUL, x, b(DIV, b.const(1), d))
    return b(DIV, x, d)


strength = Pass("strength", options={"unsafe": False}, start=_start,
                rules={POWI: _integer_power, POW: _power, DIV: _division})
