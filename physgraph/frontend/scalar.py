"""The traced scalar: a graph node id with Python's operators, and the math functions on it.

While a function is traced, every per-event value it touches is a ``Scalar`` that records
operations into the current graph.  Anything that would need the value itself (``if``,
``bool()``, ``float()``) raises ``TraceError``.
"""
from __future__ import annotations

from fractions import Fraction
from numbers import Number

import numpy as np

from ..errors import TraceError, UnsupportedError
from ..graph import Graph, Op
from ..ops import DEFS


def _number(x) -> bool:
    return isinstance(x, (Number, np.number, np.bool_, Fraction))


class Scalar:
    """A per-event (or per-call) scalar being traced: node ``i`` of graph ``g``."""
    __slots__ = ("g", "i")
    __array_priority__ = 1000
    __hash__ = None  # == builds a node, so Scalars cannot be dict keys

    def __init__(self, g: Graph, i: int):
        self.g = g
        self.i = i

    def __repr__(self) -> str:
        return f"<Scalar %{self.i} = {self.g.describe(self.i)}>"

    # -- lifting ---------------------------------------------------------------------------
    def _id(self, x) -> int:
        if isinstance(x, Scalar):
            if x.g is not self.g:
                raise TraceError("a value from another traced function was used here")
            return x.i
        if _number(x):
            return self.g.const(x)
        raise TraceError(f"cannot combine a traced value with {type(x).__name__} {x!r}")

    def _op(self, op: Op, *others, attr=None) -> "Scalar":
        return Scalar(self.g, self.g.node(op, (self.i, *map(self._id, others)), attr))

    def _rop(self, op: Op, other) -> "Scalar":
        return Scalar(self.g, self.g.node(op, (self._id(other), self.i)))

    # -- arithmetic ------------------------------------------------------------------------
    def __add__(self, o): return self._op(Op.ADD, o)
    def __radd__(self, o): return self._rop(Op.ADD, o)
    def __sub__(self, o): return self._op(Op.SUB, o)
    def __rsub__(self, o): return self._rop(Op.SUB, o)
    def __mul__(self, o): return self._op(Op.MUL, o)
    def __rmul__(self, o): return self._rop(Op.MUL, o)
    def __truediv__(self, o): return self._op(Op.DIV, o)
    def __rtruediv__(self, o): return self._rop(Op.DIV, o)
    def __neg__(self): return self._op(Op.NEG)
    def __pos__(self): return self
    def __abs__(self): return self._op(Op.ABS)

    def __pow__(self, o):
        if isinstance(o, (int, np.integer)) and not isinstance(o, bool):
            return self._op(Op.POWI, attr=int(o))
        if isinstance(o, (float, Fraction)) and float(o).is_integer() and abs(o) < 2**31:
            return self._op(Op.POWI, attr=int(o))
        return self._op(Op.POW, o)

    def __rpow__(self, o): return self._rop(Op.POW, o)

    def __floordiv__(self, o):
        raise UnsupportedError("// (floor division) on a traced value")

    __rfloordiv__ = __mod__ = __rmod__ = __floordiv__

    # -- comparisons and logic -------------------------------------------------------------
    def __lt__(self, o): return self._op(Op.LT, o)
    def __le__(self, o): return self._op(Op.LE, o)
    def __gt__(self, o): return self._rop(Op.LT, o)
    def __ge__(self, o): return self._rop(Op.LE, o)
    def __eq__(self, o): return self._op(Op.EQ, o)
    def __ne__(self, o): return self._op(Op.NE, o)
    def __and__(self, o): return self._op(Op.AND, o)
    def __rand__(self, o): return self._rop(Op.AND, o)
    def __or__(self, o): return self._op(Op.OR, o)
    def __ror__(self, o): return self._rop(Op.OR, o)
    def __invert__(self): return self._op(Op.NOT)

    def __bool__(self):
        raise TraceError(
            "Python control flow (if, while, and, or, bool()) on a traced value: its value is "
            "only known per event at run time. Use pg.where(cond, a, b) to select per event.")

    def _concrete(self, *_):
        raise TraceError("a traced value has no concrete value while tracing; "
                         "keep it symbolic (use pg.where instead of if, pg.* math functions)")

    __float__ = __int__ = __index__ = __complex__ = _concrete

    # -- complex parts ---------------------------------------------------------------------
    @property
    def real(self): return self._op(Op.RE)

    @property
    def imag(self): return self._op(Op.IM)

    def conjugate(self): return self._op(Op.CONJ)

    # -- numpy interop: np.sqrt(x) and friends on a traced value ---------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        fn = _UFUNCS.get(ufunc.__name__)
        if method != "__call__" or kwargs or fn is None or any(
                isinstance(x, np.ndarray) for x in inputs):
            return NotImplemented
        # np.float64(2) * x lands here; as a numpy scalar the operand would send a * b
        # straight back to this ufunc, so hand Python numbers to Scalar's own operators
        return fn(*(x.item() if isinstance(x, np.generic) else x for x in inputs))


def _graph_of(values):
    for v in values:
        if isinstance(v, Scalar):
            return v.g
    return None


def _apply(op: Op, numeric, *values):
    """``op`` on traced values, or ``numeric`` on plain numbers and arrays."""
    g = _graph_of(values)
    if g is None:
        return numeric(*values)
    lead = next(v for v in values if isinstance(v, Scalar))
    return Scalar(g, g.node(op, tuple(lead._id(v) for v in values)))


def _function(op: Op):
    """The traced function of ``op``: a node on traced values, numpy on numbers and arrays."""
    d = DEFS[op]

    def fn(*values):
        if len(values) != d.arity:
            raise TypeError(f"{d.function}() takes {d.arity} argument(s), got {len(values)}")
        return _apply(op, d.numeric, *values)
    fn.__name__ = fn.__qualname__ = d.function
    fn.__doc__ = f"{d.function}: per event on traced values (numpy's on numbers and arrays)."
    return fn


FUNCTIONS = {d.function: _function(op) for op, d in DEFS.items() if d.function is not None}
globals().update(FUNCTIONS)      # sqrt, exp, ..., erf, hypot: one per op of the table

_UFUNCS = {
    **{d.ufunc: FUNCTIONS[d.function] for d in DEFS.values() if d.ufunc is not None},
    "add": lambda a, b: a + b, "subtract": lambda a, b: a - b,
    "multiply": lambda a, b: a * b, "true_divide": lambda a, b: a / b,
    "divide": lambda a, b: a / b,        # numpy 2's name of true_divide
    "negative": lambda a: -a, "square": lambda a: a * a, "power": lambda a, b: a ** b,
    "reciprocal": lambda a: 1 / a,
}
