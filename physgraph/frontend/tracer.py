"""The traced frontend: run a Python function on symbolic arguments and record a Graph."""
from __future__ import annotations

import inspect
from numbers import Number

import numpy as np

from .. import structure
from ..errors import TraceError, UnsupportedError
from ..graph import Arg, Graph, identifier
from ..physics.linalg import Mat, Sym, Vec
from ..physics.lorentz import Vec4
from ..physics.scan import Seq
from .argtype import ArgType, Param
from .scalar import Scalar

SCALAR = ArgType("scalar")
def annotation_type(name: str, annotation) -> ArgType:
    if annotation in (inspect.Parameter.empty, float, Scalar, "float"):
        return SCALAR
    if annotation is Param:
        return ArgType("scalar", role="param")
    if annotation is Vec4:
        return Vec4.annotation
    if isinstance(annotation, ArgType):
        return annotation
    raise UnsupportedError(
        f"argument {name!r} has annotation {annotation!r}; use nothing (a per-event scalar), "
        "pg.Vec4, pg.Vec[n], pg.Mat[r, c], pg.Sym[n], pg.Seq[L, ...], pg.Param, pg.Param[n] or "
        "pg.Param[r, c]")


def symbolic_value(g: Graph, position: int, t: ArgType, prefix: tuple = ()):
    """The traced value standing for argument ``position`` of type ``t`` (for a layer of a
    ``Seq`` argument, ``prefix`` is the layer index)."""
    if t.kind == "seq":
        return Seq([symbolic_value(g, position, t.item, prefix + (k,))
                    for k in range(t.shape[0])])

    def leaf(index: tuple) -> Scalar:
        return Scalar(g, g.leaf(position, prefix + index))
    if t.kind == "scalar":
        return leaf(())
    if t.symmetric:
        return Sym.build(t.shape[0], lambda i, j: leaf((i, j)))
    elems = [leaf(idx) for idx in np.ndindex(*t.shape)]
    if t.kind == "vec4":
        return Vec4(*elems)
    if t.kind == "vec":
        return Vec(elems)
    r, c = t.shape
    return Mat([elems[k * c:(k + 1) * c] for k in range(r)])


def _element(g: Graph):
    def element(x):
        if isinstance(x, Scalar):
            if x.g is not g:
                raise TraceError("returned a value traced in another function")
            return x.i
        if isinstance(x, (Number, np.number, np.bool_)):
            return g.const(x)
        return None
    return element


def _array(x):
    if isinstance(x, (Vec4, Vec, Mat, Seq)):
        return x.shape, x.elements()
    return structure.numpy_array(x)


def trace(fn) -> tuple[Graph, object]:
    """Trace ``fn`` on symbolic arguments: the graph and the structure of its results."""
    try:
        sig = inspect.signature(fn)
        hints = inspect.get_annotations(fn, eval_str=True)
    except (TypeError, ValueError, NameError) as err:
        raise UnsupportedError(f"cannot read the signature of {fn!r}: {err}") from err
    g = Graph()
    taken: set = set()
    values = []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise UnsupportedError(f"*{p.name} / **{p.name} arguments cannot be traced; "
                                   "declare each argument")
        t = annotation_type(p.name, hints.get(p.name, p.annotation))
        default = None if p.default is p.empty or t.role != "param" else p.default
        # a Seq of Sym reads its upper triangles itself: Arg.symmetric is for 2-D shapes
        pos = g.add_arg(Arg(p.name, identifier(p.name, taken), t.shape, t.role,
                            t.symmetric and t.kind != "seq", default))
        values.append(symbolic_value(g, pos, t))
    result = fn(*values)
    return g, structure.flatten(result, g, _element(g), _array)
