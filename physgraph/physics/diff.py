"""``pg.jacobian`` and ``pg.grad``: derivatives of traced Python functions, while tracing.

The function is called on the traced values themselves, then differentiated on the graph
(``physgraph.autodiff``), so the derivative shares every node it can with the function's
value: an extended Kalman filter writes its propagation once and gets the transport
Jacobian from it.  Derivatives are taken with respect to the nodes of ``x`` (each element
an independent variable), holding every other traced value fixed.  ``x`` may hold params
(``pg.Param`` arguments, scalars or the elements of a matrix, network layers' weights
included) as well as per-event values.
"""
from __future__ import annotations

from numbers import Number
from typing import Callable

from .. import autodiff
from ..errors import TraceError, UnsupportedError
from ..frontend.routine import inlined
from ..frontend.scalar import Scalar
from ..graph import Graph, Op, T
from .linalg import Mat, Vec


def _elements(x) -> tuple[list, bool]:
    """(elements, is a vector) of a Scalar, number, Vec or sequence of them."""
    if isinstance(x, (Scalar, Number)):
        return [x], False
    if isinstance(x, Mat):
        raise TypeError("differentiate with respect to a Vec or a scalar; flatten a matrix "
                        "with Vec(m.elements())")
    return list(x), True


def _graph(values) -> Graph:
    for v in values:
        if isinstance(v, Scalar):
            return v.g
    raise TraceError("pg.jacobian / pg.grad need traced values (call them inside a function "
                     "compiled with pg.compile)")


def _node(g: Graph, v) -> int | None:
    if isinstance(v, Scalar):
        if v.g is not g:
            raise TraceError("a value from another traced function was used here")
        return v.i
    return None                        # a plain number: constant, no derivative


def _scalar(g: Graph, n: int | None):
    """A derivative element; a constant one comes back as a plain number, so linalg sees
    the Jacobian's known zeros, ones and constants and builds no node for them."""
    if n is None:
        return 0
    if g.ops[n] is Op.CONST:
        return g.attrs[n]
    return Scalar(g, n)


def jacobian(f: Callable, x, mode: str = "auto"):
    """d f(x) / d x.  Shapes: vector -> vector gives a Mat (rows: outputs), scalar ->
    vector a Vec, vector -> scalar a Vec (the gradient), scalar -> scalar a scalar.

    ``mode``: "forward" (one walk per element of x), "reverse" (one walk per element of
    f(x)) or "auto" (the fewer walks).  Both give the same nodes up to summation order.
    Elements of x that are plain numbers are differentiated at that value, and the
    derivatives that become known there come back as plain numbers.
    """
    if mode not in ("forward", "reverse", "auto"):
        raise ValueError(f"mode must be 'forward', 'reverse' or 'auto', got {mode!r}")
    xs, x_vec = _elements(x)
    g = _graph(xs if any(isinstance(v, Scalar) for v in xs) else _elements(f(x))[0])
    known = {}
    for k, v in enumerate(xs):
        if not isinstance(v, Scalar):
            known[k] = v
            xs[k] = Scalar(g, autodiff.placeholder(g))
    with inlined():               # the walks below differentiate node by node
        ys, y_vec = _elements(f(Vec(xs) if x_vec else xs[0]))
    wrt = [_node(g, v) for v in xs]
    outs = [_node(g, v) for v in ys]
    for n in outs:
        if n is not None and g.types[n] is T.BOOL:
            raise UnsupportedError(f"the derivative of a boolean value ({g.describe(n)}) "
                                   "does not exist; differentiate the numbers it selects")
    if mode == "auto":
        mode = "forward" if len(xs) <= len(ys) else "reverse"
    rows = _derivatives(g, wrt, outs, mode)
    if known:
        values = {wrt[k]: v for k, v in known.items()}
        flat = autodiff.substitute(g, [d for row in rows for d in row if d is not None],
                                   values)
        it = iter(flat)
        rows = [[None if d is None else next(it) for d in row] for row in rows]
    table = [[_scalar(g, d) for d in row] for row in rows]
    if x_vec and y_vec:
        return Mat(table)
    if x_vec:
        return Vec(table[0])
    if y_vec:
        return Vec([row[0] for row in table])
    return table[0][0]


def _derivatives(g: Graph, wrt: list, outs: list, mode: str) -> list[list]:
    """rows[r][c] = d outs[r] / d wrt[c] as a node, None for zero (a None in outs is a
    constant output)."""
    one = g.const(1)
    rows = [[None] * len(wrt) for _ in outs]
    live_outs = [(r, n) for r, n in enumerate(outs) if n is not None]
    if mode == "forward":
        for c, n in enumerate(wrt):
            seeds = {m: None for m in wrt} | {n: one}          # the other x's are cuts
            column = autodiff.forward(g, seeds, [o for _, o in live_outs])
            for (r, _), d in zip(live_outs, column):
                rows[r][c] = d
    else:
        for r, o in live_outs:
            for c, d in enumerate(autodiff.reverse(g, {o: one}, wrt)):
                rows[r][c] = d
    return rows


def grad(f: Callable, x):
    """The gradient of a scalar function (reverse mode): a Vec for a vector x."""
    return jacobian(f, x, mode="reverse")
