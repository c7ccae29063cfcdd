"""The bridge between graph nodes and SymPy, shared by the SymPy frontend and the passes.

``SympyReader`` turns SymPy expressions into nodes of a graph (one ``_read_<Class>`` method
per SymPy node type, as in SymPy's own printers, walking with an explicit stack so any depth
converts); ``node_to_sympy`` gives one node as SymPy from its operands.
"""
from __future__ import annotations

from fractions import Fraction

import sympy
# not re-exported by sympy.matrices.expressions in every SymPy version (1.14 drops it)
from sympy.codegen import cfunctions
from sympy.core.containers import Tuple
from sympy.functions.elementary.piecewise import ExprCondPair
from sympy.matrices.expressions.matexpr import MatrixElement

from .errors import UnsupportedError
from .graph import Graph, Op, T
from .ops import DEFS

# SymPy function classes read as one op each (those with a ``_read_<Name>`` method below
# have their own rule)
_FUNCTIONS = {d.sympy: op for op, d in DEFS.items() if d.sympy is not None}
_RELATIONS = {"StrictLessThan": (Op.LT, False), "LessThan": (Op.LE, False),
              "StrictGreaterThan": (Op.LT, True), "GreaterThan": (Op.LE, True),
              "Equality": (Op.EQ, False), "Unequality": (Op.NE, False)}
_RECIPROCAL = {"cot": Op.TAN, "sec": Op.COS, "csc": Op.SIN, "coth": Op.TANH,
               "sech": Op.COSH, "csch": Op.SINH}


class SympyReader:
    """Converts SymPy expressions into nodes of one graph."""

    def __init__(self, g: Graph, leaves: dict):
        self.g = g
        self.leaves = leaves          # Symbol / MatrixElement -> node id

    def node(self, op, *args, attr=None) -> int:
        return self.g.node(op, tuple(args), attr)

    def read(self, root) -> int:
        """Node id of ``root``: post-order over an explicit stack, memoized by object id."""
        done: dict[int, int] = {}
        stack = [(root, False)]
        while stack:
            e, expanded = stack.pop()
            if id(e) in done:
                continue
            leaf = self._leaf(e)
            if leaf is not None:
                done[id(e)] = leaf
                continue
            kids = self.children(e)
            if not expanded:
                stack.append((e, True))
                stack.extend((k, False) for k in kids if id(k) not in done)
                continue
            method = getattr(self, f"_read_{type(e).__name__}", None) or self._read_generic(e)
            done[id(e)] = method(e, [done[id(k)] for k in kids])
        return done[id(root)]

    def _leaf(self, e):
        if isinstance(e, (sympy.Symbol, MatrixElement)):
            if e not in self.leaves:
                raise UnsupportedError(f"symbol {e} is neither an input nor a param; "
                                       "list it in inputs=[...] or params=[...]")
            return self.leaves[e]
        if isinstance(e, sympy.Number) or e in (sympy.true, sympy.false):
            return self.g.const(_number(e))
        if isinstance(e, sympy.NumberSymbol) or e is sympy.I:
            return self.g.const(complex(e) if e is sympy.I else float(e))
        return None

    @staticmethod
    def children(e) -> tuple:
        if isinstance(e, sympy.Pow) and e.exp.is_Rational:
            return (e.base,)
        if isinstance(e, sympy.Mul):
            return tuple(f.base if _is_reciprocal(f) else f for f in e.args)
        if isinstance(e, sympy.Piecewise):
            return tuple(x for pair in e.args for x in pair)
        return e.args

    def _read_generic(self, e):
        name = type(e).__name__
        if name in _FUNCTIONS:
            return lambda e, a: self.node(_FUNCTIONS[name], *a)
        if name in _RELATIONS:
            op, swap = _RELATIONS[name]
            return lambda e, a: self.node(op, *(reversed(a) if swap else a))
        if name in _RECIPROCAL:
            return lambda e, a: self.node(Op.DIV, self.g.const(1), self.node(_RECIPROCAL[name], *a))
        raise UnsupportedError(
            f"SymPy node {name} (in {_short(e)}) is not supported; physgraph reads Add, Mul, "
            "Pow, numbers, exp, log, trig and hyperbolic functions, erf, erfc, log1p, expm1, "
            "hypot, Abs, re, im, conjugate, Min, Max, sign, Piecewise and relations")

    # -- one method per node type ----------------------------------------------------------
    def _read_Add(self, e, a):
        return self._chain(Op.ADD, a)

    def _read_Mul(self, e, a):
        """Factors with negative integer powers go to one denominator: x*y**-1 -> x / y."""
        num, den, negate = [], [], False
        for factor, node in zip(e.args, a):
            if _is_reciprocal(factor):
                den.append(self._powi(node, -int(factor.exp)))
            elif factor == -1:
                negate = not negate
            else:
                num.append(node)
        top = self._chain(Op.MUL, num) if num else self.g.const(1)
        if den:
            top = self.node(Op.DIV, top, self._chain(Op.MUL, den))
        return self.node(Op.NEG, top) if negate else top

    def _read_Pow(self, e, a):
        base, exp = a[0], e.exp
        if exp.is_Integer:
            n = int(exp)
            return self.node(Op.DIV, self.g.const(1), self._powi(base, -n)) if n < 0 \
                else self._powi(base, n)
        if exp == sympy.Rational(1, 2):
            return self.node(Op.SQRT, base)
        if exp == sympy.Rational(-1, 2):
            return self.node(Op.RSQRT, base)
        if exp.is_Rational:
            return self.node(Op.POW, base, self.g.const(Fraction(int(exp.p), int(exp.q))))
        return self.node(Op.POW, *a)

    def _powi(self, base: int, n: int) -> int:
        return base if n == 1 else self.node(Op.POWI, base, attr=n)

    def _read_log(self, e, a):
        if len(a) == 2:
            return self.node(Op.DIV, self.node(Op.LOG, a[0]), self.node(Op.LOG, a[1]))
        return self.node(Op.LOG, a[0])

    def _read_Min(self, e, a):
        return self._chain(Op.MIN, a)

    def _read_Max(self, e, a):
        return self._chain(Op.MAX, a)

    def _read_sign(self, e, a):
        x, zero = a[0], self.g.const(0)
        if self.g.types[x] is T.COMPLEX:
            raise UnsupportedError(f"sign of a complex value (in {_short(e)})")
        negative = self.node(Op.WHERE, self.node(Op.LT, x, zero), self.g.const(-1), zero)
        return self.node(Op.WHERE, self.node(Op.LT, zero, x), self.g.const(1), negative)

    def _read_And(self, e, a):
        return self._chain(Op.AND, a)

    def _read_Or(self, e, a):
        return self._chain(Op.OR, a)

    def _read_Not(self, e, a):
        return self.node(Op.NOT, a[0])

    def _read_Piecewise(self, e, a):
        """Piecewise((e1, c1), (e2, c2), ...): nested where; NaN where no condition holds."""
        pairs = list(zip(a[0::2], a[1::2]))
        result = self.g.const(float("nan"))
        for value, cond in reversed(pairs):
            result = self.node(Op.WHERE, cond, value, result)
        return result

    def _chain(self, op: Op, nodes: list) -> int:
        result = nodes[0]
        for n in nodes[1:]:
            result = self.node(op, result, n)
        return result


def _is_reciprocal(factor) -> bool:
    return isinstance(factor, sympy.Pow) and factor.exp.is_Integer and factor.exp < 0


def _number(e):
    if e in (sympy.true, sympy.false):
        return bool(e)
    if isinstance(e, sympy.Rational):
        return Fraction(int(e.p), int(e.q))
    return float(e)


def _short(e, limit: int = 80) -> str:
    text = str(e)
    return text if len(text) <= limit else text[:limit] + "..."


def _sympy_function(name: str):
    """SymPy's function of that name; C99's log1p, expm1 and hypot live in its codegen."""
    found = getattr(sympy, name, None)
    return found if found is not None else getattr(cfunctions, name)


# operators and the ops SymPy has no function for; every other op prints as its SymPy name
_TO_SYMPY = {
    Op.ADD: lambda a, b: a + b, Op.SUB: lambda a, b: a - b, Op.MUL: lambda a, b: a * b,
    Op.DIV: lambda a, b: a / b, Op.NEG: lambda a: -a, Op.FMA: lambda a, b, c: a * b + c,
    Op.RSQRT: lambda a: 1 / sympy.sqrt(a), Op.WHERE: lambda c, a, b: _piecewise(c, a, b),
    Op.COMPLEX: lambda a, b: a + sympy.I * b,
    **{op: _sympy_function(d.sympy) for op, d in DEFS.items() if d.sympy is not None},
}


def _piecewise(cond, a, b):
    """Piecewise((a, cond), (b, True)) assembled as is.  SymPy's constructor rewrites a
    condition that holds a Piecewise (complex sqrt lowers to nested ones) through its
    inequality solvers: minutes, or NoConvergence, for three nested complex square roots."""
    if cond in (sympy.true, sympy.false):
        return a if cond is sympy.true else b
    pairs = (Tuple.__new__(ExprCondPair, a, cond), Tuple.__new__(ExprCondPair, b, sympy.true))
    return sympy.Basic.__new__(sympy.Piecewise, *pairs)


def _const_to_sympy(v):
    if isinstance(v, bool):
        return sympy.true if v else sympy.false
    if isinstance(v, Fraction):
        return sympy.Rational(v.numerator, v.denominator)
    if isinstance(v, complex):
        return sympy.Float(v.real) + sympy.I * sympy.Float(v.imag)
    return sympy.Float(v)


def node_to_sympy(g: Graph, i: int, operands: list):
    """Node i of g as SymPy, given its operands already as SymPy (not for leaves)."""
    op = g.ops[i]
    if op is Op.CONST:
        return _const_to_sympy(g.attrs[i])
    if op is Op.POWI:
        return operands[0] ** g.attrs[i]
    return _TO_SYMPY[op](*operands)
