"""Strength reduction: cheaper operations for the same value.

- x ** n (integer n) by square-and-multiply; the squares are hash-consed, so x**2, x**3 and
  x**6 in one graph share x*x; x ** -n -> 1 / x**n;
- x ** c for constant c: 1/2 -> sqrt, -1/2 -> rsqrt, integral c -> powi,
  k/2 -> x**((k-1)/2) * sqrt(x);
- division by a per-call value -> multiplication by its reciprocal, computed once per call;
- several divisions by one per-event denominator -> one reciprocal and multiplications;
- 1 / sqrt(x) -> rsqrt(x).
"""
from __future__ import annotations

from fractions import Fraction

from ..graph import Graph, Op, T
from .builder import Builder


def _powi(b: Builder, x: int, n: int) -> int:
    if n < 0:
        return b(Op.DIV, b.const(1), _powi(b, x, -n))
    result, base = None, x
    while n:
        if n & 1:
            result = base if result is None else b(Op.MUL, result, base)
        n >>= 1
        if n:
            base = b(Op.MUL, base, base)
    return b.const(1) if result is None else result


def _divisions_by(g: Graph, live) -> list[int]:
    count = [0] * len(g)
    for i in range(len(g)):
        if live[i] and g.ops[i] is Op.DIV and g.types[i] is T.REAL:
            count[g.args[i][1]] += 1
    return count


def strength(g: Graph, unsafe: bool = False, **_) -> Graph:
    live = g.live()
    shared_den = _divisions_by(g, live)
    new = g.empty_like()
    b = Builder(new, unsafe)
    m = [0] * len(g)
    for i in range(len(g)):
        if not live[i]:
            continue
        op, attr = g.ops[i], g.attrs[i]
        a = [m[x] for x in g.args[i]]
        real = g.types[i] is T.REAL
        if op is Op.POWI and real:
            m[i] = _powi(b, a[0], attr)
        elif op is Op.POW and real and new.ops[a[1]] is Op.CONST:
            m[i] = _const_power(b, a[0], a[1], new.attrs[a[1]])
        elif op is Op.DIV and real:
            m[i] = _divide(b, a[0], a[1], shared_den[g.args[i][1]] > 1)
        else:
            m[i] = b(op, *a, attr=attr)
    new.remap_outputs(g, m)
    return new


def _const_power(b: Builder, x: int, c_node: int, c) -> int:
    """x ** c for a real constant c that is an integer or half an integer; else pow."""
    if isinstance(c, complex) or not float(c) == float(c) or abs(c) > 32:
        return b(Op.POW, x, c_node)
    twice = Fraction(c) * 2         # floats convert exactly
    if twice.denominator != 1:
        return b(Op.POW, x, c_node)
    k = int(twice)
    if k % 2 == 0:
        return _powi(b, x, k // 2)
    if k == -1:
        return b(Op.RSQRT, x)
    # x ** (k/2) = x ** ((k-1)/2) * sqrt(x): one sqrt, and no rounding of sqrt(x)**2
    half = b(Op.MUL, _powi(b, x, (abs(k) - 1) // 2), b(Op.SQRT, x))
    return half if k > 0 else b(Op.DIV, b.const(1), half)


def _divide(b: Builder, x: int, d: int, shared: bool) -> int:
    """x / d, with a reciprocal where it is computed once per call or shared."""
    g = b.g
    if g.ops[x] is Op.CONST and g.attrs[x] == 1:
        return b(Op.RSQRT, g.args[d][0]) if g.ops[d] is Op.SQRT else b(Op.DIV, x, d)
    if (b.varying(x) and not b.varying(d)) or shared:
        return b(Op.MUL, x, b(Op.DIV, b.const(1), d))
    return b(Op.DIV, x, d)
