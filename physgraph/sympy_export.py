"""A graph as SymPy expressions (``Kernel.to_sympy``, the benchmark's SymPy peers): the
inverse of the SymPy frontend, in the core because Kernel uses it and the core imports no
frontend.  One node's conversion is ``symbolic.node_to_sympy``.
"""
from __future__ import annotations

import sympy

from . import structure
from .graph import Graph, Op
from .symbolic import node_to_sympy


def to_sympy(g: Graph, structure_, symbols: dict | None = None):
    """The graph's outputs as SymPy expressions, in the kernel's output structure."""
    symbols = dict(symbols or {})
    for pos, arg in enumerate(g.signature):
        if pos not in symbols:
            names = [arg.ident + "".join(f"_{k}" for k in idx) for idx in arg.indices()]
            symbols[pos] = [sympy.Symbol(n, real=True) for n in names]
    live = g.live()
    values: list = [None] * len(g)
    # node for node, unevaluated: SymPy re-simplifying a Piecewise whose condition holds
    # another Piecewise (nested complex square roots lower to those) runs its inequality
    # solvers, for minutes or without end; the optimized graph needs no rewriting anyway
    with sympy.evaluate(False):
        for i in range(len(g)):
            if not live[i]:
                continue
            if g.ops[i] in (Op.INPUT, Op.PARAM):
                pos, idx = g.attrs[i]
                values[i] = symbols[pos][g.signature[pos].indices().index(idx)]
            else:
                values[i] = node_to_sympy(g, i, [values[a] for a in g.args[i]])
    outs = []
    for o in g.outputs:
        elems = [values[n] for n in o.nodes]
        if not o.shape:
            outs.append(elems[0])
        elif len(o.shape) == 1:
            outs.append(sympy.Matrix(elems))
        else:
            outs.append(sympy.Matrix(o.shape[0], o.shape[1], elems))
    return structure.unflatten(structure_, outs)
