"""Complex lowering: every complex node becomes a (re, im) pair of real nodes.

Parts are built through the folding Builder, so a part known to be zero is the constant 0
and every product with it disappears: a purely real or purely imaginary factor costs two
real multiplications instead of six, and terms that vanish leave no trace.  This is what
makes helicity amplitudes cheap.  Outputs that were complex are reassembled with one
``complex(re, im)`` node each.
"""
from __future__ import annotations

import math

from ..graph import Op, T
from .builder import Builder
from .rewrite import Pass, Rewrite


def _mul(b: Builder, x, y):
    (a, c), (d, e) = x, y
    return b(Op.SUB, b(Op.MUL, a, d), b(Op.MUL, c, e)), b(Op.ADD, b(Op.MUL, a, e), b(Op.MUL, c, d))


def _div(b: Builder, x, y):
    (a, c), (d, e) = x, y
    if b.is_zero(e):
        return b(Op.DIV, a, d), b(Op.DIV, c, d)
    den = b(Op.ADD, b(Op.MUL, d, d), b(Op.MUL, e, e))
    re = b(Op.ADD, b(Op.MUL, a, d), b(Op.MUL, c, e))
    im = b(Op.SUB, b(Op.MUL, c, d), b(Op.MUL, a, e))
    return b(Op.DIV, re, den), b(Op.DIV, im, den)


def _add(b, x, y): return b(Op.ADD, x[0], y[0]), b(Op.ADD, x[1], y[1])
def _sub(b, x, y): return b(Op.SUB, x[0], y[0]), b(Op.SUB, x[1], y[1])
def _neg(b, x): return b(Op.NEG, x[0]), b(Op.NEG, x[1])
def _conj(b, x): return x[0], b(Op.NEG, x[1])


def _abs(b: Builder, x):
    if b.is_zero(x[1]):
        return b(Op.ABS, x[0])
    return b(Op.SQRT, b(Op.ADD, b(Op.MUL, x[0], x[0]), b(Op.MUL, x[1], x[1])))


def _exp(b: Builder, x):
    e = b(Op.EXP, x[0])
    return b(Op.MUL, e, b(Op.COS, x[1])), b(Op.MUL, e, b(Op.SIN, x[1]))


def _log(b: Builder, x):
    return b(Op.LOG, _abs(b, x)), b(Op.ATAN2, x[1], x[0])


def _sqrt(b: Builder, x):
    """Principal square root, in the form that avoids cancellation on either half-plane."""
    a, c = x
    zero, half = b.const(0), b.const(0.5)
    r = _abs(b, x)
    t_pos = b(Op.SQRT, b(Op.MUL, half, b(Op.ADD, r, a)))          # used where a >= 0
    t_neg = b(Op.SQRT, b(Op.MUL, half, b(Op.SUB, r, a)))          # used where a < 0
    right = b(Op.LE, zero, a)
    t = b(Op.WHERE, right, t_pos, t_neg)
    other = b(Op.WHERE, b(Op.EQ, t, zero), zero, b(Op.DIV, b(Op.MUL, half, c), t))
    re = b(Op.WHERE, right, t, b(Op.ABS, other))
    im_neg = b(Op.WHERE, b(Op.LT, c, zero), b(Op.NEG, t), t)
    return re, b(Op.WHERE, right, other, im_neg)


def _powi(b: Builder, x, n: int):
    """Square-and-multiply on pairs; the zero parts fold away as it goes."""
    if n < 0:
        return _div(b, (b.const(1), b.const(0)), _powi(b, x, -n))
    result, base = (b.const(1), b.const(0)), x
    while n:
        if n & 1:
            result = _mul(b, result, base)
        n >>= 1
        if n:
            base = _mul(b, base, base)
    return result


def _pow(b, x, y): return _exp(b, _mul(b, y, _log(b, x)))


def _sin(b, x):
    a, c = x
    return b(Op.MUL, b(Op.SIN, a), b(Op.COSH, c)), b(Op.MUL, b(Op.COS, a), b(Op.SINH, c))


def _cos(b, x):
    a, c = x
    return b(Op.MUL, b(Op.COS, a), b(Op.COSH, c)), b(Op.NEG, b(Op.MUL, b(Op.SIN, a), b(Op.SINH, c)))


def _sinh(b, x):
    a, c = x
    return b(Op.MUL, b(Op.SINH, a), b(Op.COS, c)), b(Op.MUL, b(Op.COSH, a), b(Op.SIN, c))


def _cosh(b, x):
    a, c = x
    return b(Op.MUL, b(Op.COSH, a), b(Op.COS, c)), b(Op.MUL, b(Op.SINH, a), b(Op.SIN, c))


def _times_i(b, x): return b(Op.NEG, x[1]), x[0]
def _c(b, value): return b.const(value.real), b.const(value.imag)


def _asinh(b, x):  # log(z + sqrt(z^2 + 1))
    return _log(b, _add(b, x, _sqrt(b, _add(b, _mul(b, x, x), _c(b, 1)))))


def _acosh(b, x):  # log(z + sqrt(z + 1) sqrt(z - 1))
    root = _mul(b, _sqrt(b, _add(b, x, _c(b, 1))), _sqrt(b, _sub(b, x, _c(b, 1))))
    return _log(b, _add(b, x, root))


def _atanh(b, x):  # (log(1 + z) - log(1 - z)) / 2
    diff = _sub(b, _log(b, _add(b, _c(b, 1), x)), _log(b, _sub(b, _c(b, 1), x)))
    return _mul(b, diff, _c(b, 0.5))


def _asin(b, x):  # -i asinh(i z)
    return _times_i(b, _neg(b, _asinh(b, _times_i(b, x))))


def _acos(b, x):  # pi/2 - asin(z)
    return _sub(b, _c(b, math.pi / 2), _asin(b, x))


def _atan(b, x):  # -i atanh(i z)
    return _times_i(b, _neg(b, _atanh(b, _times_i(b, x))))


def _tan(b, x): return _div(b, _sin(b, x), _cos(b, x))
def _tanh(b, x): return _div(b, _sinh(b, x), _cosh(b, x))
def _rsqrt(b, x): return _div(b, _c(b, 1), _sqrt(b, x))


def _where(b, cond, x, y):
    return b(Op.WHERE, cond, x[0], y[0]), b(Op.WHERE, cond, x[1], y[1])


_PAIR_RULES = {
    Op.ADD: _add, Op.SUB: _sub, Op.MUL: _mul, Op.DIV: _div, Op.NEG: _neg, Op.CONJ: _conj,
    Op.EXP: _exp, Op.LOG: _log, Op.SQRT: _sqrt, Op.RSQRT: _rsqrt, Op.POW: _pow,
    Op.SIN: _sin, Op.COS: _cos, Op.TAN: _tan, Op.SINH: _sinh, Op.COSH: _cosh,
    Op.TANH: _tanh, Op.ASIN: _asin, Op.ACOS: _acos, Op.ATAN: _atan, Op.ASINH: _asinh,
    Op.ACOSH: _acosh, Op.ATANH: _atanh,
}


def _real_result(b: Builder, op: Op, parts: list) -> int:
    """Real-valued nodes with complex operands: re, im, abs, ==, !=."""
    if op is Op.RE:
        return parts[0][0]
    if op is Op.IM:
        return parts[0][1]
    if op is Op.ABS:
        return _abs(b, parts[0])
    both = (b(Op.EQ, parts[0][0], parts[1][0]), b(Op.EQ, parts[0][1], parts[1][1]))
    equal = b(Op.AND, *both)
    return equal if op is Op.EQ else b(Op.NOT, equal)


def _lower(rw: Rewrite, i: int):
    """A complex node as its (re, im) pair; a real one with complex operands as a real node."""
    g, b, m = rw.old, rw.b, rw.mapping
    op, args, attr, types = g.ops[i], g.args[i], g.attrs[i], g.types
    if op is Op.CONST and types[i] is T.COMPLEX:
        return _c(b, attr)
    if types[i] is not T.COMPLEX and not any(types[a] is T.COMPLEX for a in args):
        return None
    zero = rw.state
    parts = [m[a] if types[a] is T.COMPLEX else (m[a], zero) for a in args]
    if op is Op.COMPLEX:
        return parts[0][0], parts[1][0]
    if op is Op.WHERE:
        return _where(b, parts[0][0], parts[1], parts[2])
    if op is Op.POWI:
        return _powi(b, parts[0], attr)
    if types[i] is not T.COMPLEX:
        return _real_result(b, op, parts)
    return _PAIR_RULES[op](b, *parts)


def _reassembled(rw: Rewrite, value) -> int:
    """An output's node: a complex one is built again from its parts."""
    return rw.b(Op.COMPLEX, *value) if isinstance(value, tuple) else value


lower_complex = Pass(
    "lower_complex", options={"unsafe": False}, rules=dict.fromkeys(Op, _lower),
    applies=lambda g, options: T.COMPLEX in g.types,
    start=lambda rw: rw.new.const(0), output=_reassembled)
