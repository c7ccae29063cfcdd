"""``pg.jacobian`` and ``pg.grad``: derivatives of traced Python functions, while tracing.

The function is called on the traced values themselves, then differentiated on the graph
(``physgraph.autodiff``), so the derivative shares every node it can with the function's
value: an extended Kalman filter writes its propagation once and gets the transport
Jacobian from it.  Derivatives are taken with respect to the nodes of ``x`` (each element
an independent variable), holding every other traced value fixed.
"""
from __future__ import annotations

from numbers import Number
from typing import Callable

from .. import autodiff
from ..errors import TraceError
from ..graph import Graph
from .linalg import Mat, Vec
from .scalar import Scalar


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
    return 0 if n is None else Scalar(g, n)


def jacobian(f: Callable, x, mode: str = "auto"):
    """d f(x) / d x.  Shapes: vector -> vector gives a Mat (rows: outputs), scalar ->
    vector a Vec, vector -> scalar a Vec (the gradient), scalar -> scalar a scalar.

    ``mode``: "forward" (one walk per element of x), "reverse" (one walk per element of
    f(x)) or "auto" (the fewer walks).  Both give the same nodes up to summation order.
    """
    xs, x_vec = _elements(x)
    ys, y_vec = _elements(f(x))
    g = _graph(xs + ys)
    wrt = [_node(g, v) for v in xs]
    outs = [_node(g, v) for v in ys]
    if mode == "auto":
        mode = "forward" if len(xs) <= len(ys) else "reverse"
    if mode not in ("forward", "reverse"):
        raise ValueError(f"mode must be 'forward', 'reverse' or 'auto', got {mode!r}")
    one = g.const(1)
    rows = [[None] * len(xs) for _ in ys]
    live_outs = [(r, n) for r, n in enumerate(outs) if n is not None]
    live_wrt = [(c, n) for c, n in enumerate(wrt) if n is not None]
    if mode == "forward":
        for c, n in live_wrt:
            seeds = {m: None for _, m in live_wrt} | {n: one}     # the other x's are cuts
            column = autodiff.forward(g, seeds, [o for _, o in live_outs])
            for (r, _), d in zip(live_outs, column):
                rows[r][c] = d
    else:
        for r, o in live_outs:
            row = autodiff.reverse(g, {o: one}, [n for _, n in live_wrt])
            for (c, _), d in zip(live_wrt, row):
                rows[r][c] = d
    table = [[_scalar(g, d) for d in row] for row in rows]
    if x_vec and y_vec:
        return Mat(table)
    if x_vec:
        return Vec(table[0])
    if y_vec:
        return Vec([row[0] for row in table])
    return table[0][0]


def grad(f: Callable, x):
    """The gradient of a scalar function (reverse mode): a Vec for a vector x."""
    return jacobian(f, x, mode="reverse")
