"""``@pg.routine``: a traced function called, not inlined, where the backend can.

A HELAS vertex is a few dozen operations that a matrix element calls thousands of times on
different wavefunctions.  Unrolled, every call is its own copy of the code; a looped matrix
element of g g -> t t~ g g g then runs through megabytes of straight-line code per vector of
events, from outside the instruction cache.  A routine is traced once per kind of call (which
arguments are traced, real or complex, and the values of the constant ones, which fold
into the body), and each call becomes ``CALL`` nodes of the caller's graph: one per real
result, all with the same arguments (``graph.Routine``).  Complex arguments and results
travel as their real and imaginary parts.

Arguments and results may be traced scalars, numbers, tuples, lists and dataclasses of
them (``helas.Wavefunction``); strings, booleans and None are part of the kind of call,
like a constant; anything else is refused.
Called on no traced value, or inside another routine's trace, the function simply runs.
"""
from __future__ import annotations

import dataclasses
import functools
import threading
from contextlib import contextmanager

from ..errors import TraceError, UnsupportedError
from ..graph import Arg, Graph, Op, Output, Routine, T, const_key, normalize_const
from .scalar import Scalar, _number

_LEAF = "leaf"
_tracing = threading.local()      # inside a routine's trace: nested routines run inline


def routine(fn=None, *, name: str | None = None):
    """Decorator: ``fn`` becomes a routine of the graphs that call it (see the module)."""
    if fn is None:
        return lambda f: routine(f, name=name)
    return _Routine(fn, name or fn.__name__)


class _Routine:
    def __init__(self, fn, name: str):
        self.fn, self.name = fn, name
        self._kinds: dict = {}
        self._lock = threading.Lock()
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<physgraph routine {self.name}>"

    def __call__(self, *args):
        leaves: list = []
        spec = _flatten(args, leaves)
        traced = [x for x in leaves if isinstance(x, Scalar)]
        if not traced or getattr(_tracing, "active", False):
            return self.fn(*args)
        g = traced[0].g
        for x in traced:
            if x.g is not g:
                raise TraceError(f"routine {self.name}: a value from another traced "
                                 "function was passed to it")
            if g.types[x.i] is T.BOOL:
                raise UnsupportedError(f"routine {self.name}: a boolean argument; pass "
                                       "where(cond, 1.0, 0.0)")
        kinds = tuple(_kind(g, x) for x in leaves)
        key = (spec, kinds)
        with self._lock:
            if key not in self._kinds:
                self._kinds[key] = self._trace(spec, leaves, kinds)
        callee, results = self._kinds[key]
        operands: list = []
        for x in traced:
            if g.types[x.i] is T.COMPLEX:
                operands += [g.node(Op.RE, (x.i,)), g.node(Op.IM, (x.i,))]
            else:
                operands.append(x.i)
        operands = tuple(operands)
        body = callee.graph

        def result(k: int) -> int:
            node = body.outputs[k].nodes[0]
            if body.ops[node] is Op.CONST:        # known here: it folds in the caller
                return g.const(body.attrs[node])
            if body.ops[node] is Op.INPUT:        # an argument passed through
                return operands[body.attrs[node][0]]
            return g.node(Op.CALL, operands, (callee, k))

        values, k = [], 0
        for kind in results[1]:
            if kind == "real":
                values.append(Scalar(g, result(k)))
                k += 1
            elif kind == "complex":
                values.append(Scalar(g, g.node(Op.COMPLEX, (result(k), result(k + 1)))))
                k += 2
            else:
                values.append(kind[1])
        return _unflatten(results[0], iter(values))

    def _trace(self, spec, leaves: list, kinds: tuple) -> tuple[Routine, tuple]:
        """The routine for one kind of call, and how its results are laid out."""
        body = Graph()
        values = []
        for x, kind in zip(leaves, kinds):
            if kind[0] == "const":
                values.append(x)
                continue
            parts = [body.leaf(body.add_arg(Arg(f"a{n}", f"a{n}")))
                     for n in range(len(body.signature), len(body.signature)
                                    + (2 if kind == "complex" else 1))]
            node = body.node(Op.COMPLEX, tuple(parts)) if kind == "complex" else parts[0]
            values.append(Scalar(body, node))
        with inlined():
            out = self.fn(*_unflatten(spec, iter(values)))
        found: list = []
        out_spec = _flatten(out, found)
        layout = []
        for x in found:
            if not isinstance(x, Scalar):
                layout.append(("const", x))
                continue
            if x.g is not body:
                raise TraceError(f"routine {self.name} returned a value traced outside it")
            if body.types[x.i] is T.BOOL:
                raise UnsupportedError(f"routine {self.name} returns a boolean value; return "
                                       "where(cond, 1.0, 0.0)")
            if body.types[x.i] is T.COMPLEX:
                nodes = [body.node(Op.RE, (x.i,)), body.node(Op.IM, (x.i,))]
                layout.append("complex")
            else:
                nodes = [x.i]
                layout.append("real")
            body.outputs += [Output(f"r{len(body.outputs)}", (), (n,)) for n in nodes]
        return Routine(self.name, body), (out_spec, tuple(layout))


@contextmanager
def inlined():
    """Within it, routines run inline (``pg.jacobian`` differentiates what they compute)."""
    before = getattr(_tracing, "active", False)
    _tracing.active = True
    try:
        yield
    finally:
        _tracing.active = before


def _kind(g: Graph, x) -> tuple | str:
    """What a call's leaf contributes to its kind: a traced value's type, a number's value."""
    if isinstance(x, Scalar):
        return "complex" if g.types[x.i] is T.COMPLEX else "real"
    return ("const", const_key(normalize_const(x)))


def _flatten(x, leaves: list):
    """The structure of ``x`` (hashable), its scalars and numbers appended to ``leaves``."""
    if isinstance(x, Scalar) or (_number(x) and not isinstance(x, bool)):
        leaves.append(x)
        return _LEAF
    if isinstance(x, (tuple, list)):
        return (type(x), tuple(_flatten(e, leaves) for e in x))
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (type(x), tuple((f.name, _flatten(getattr(x, f.name), leaves))
                               for f in dataclasses.fields(x)))
    if x is None or isinstance(x, (bool, str)):
        return ("static", x)
    raise UnsupportedError(f"a routine takes and returns traced scalars, numbers, strings, "
                           f"and tuples, lists and dataclasses of them, not "
                           f"{type(x).__name__} (pass its elements)")


def _unflatten(spec, values):
    if spec == _LEAF:
        return next(values)
    kind, parts = spec
    if kind == "static":
        return parts
    if kind in (tuple, list):
        return kind(_unflatten(p, values) for p in parts)
    return kind(**{name: _unflatten(p, values) for name, p in parts})
