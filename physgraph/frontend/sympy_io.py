"""The SymPy frontend: SymPy expressions -> Graph (with the kernel's signature and output
structure).  The node-level conversion lives in ``physgraph.symbolic``; the way back, a
graph as SymPy, in ``physgraph.sympy_export``.
"""
from __future__ import annotations

import numpy as np
import sympy
from sympy.matrices.expressions.matexpr import MatrixElement

from .. import structure
from ..errors import UnsupportedError
from ..graph import Arg, Graph, identifier
from ..symbolic import SympyReader


def _arg_symbols(item):
    """(shape, symbols in row-major order, name) of one entry of inputs=[...] / params=[...]."""
    if isinstance(item, sympy.Symbol):
        return (), [item], item.name
    if isinstance(item, sympy.MatrixSymbol):
        r, c = map(int, item.shape)
        return (r, c), [item[i, j] for i in range(r) for j in range(c)], item.name
    if isinstance(item, sympy.MatrixBase):
        return tuple(item.shape), list(item), None
    if isinstance(item, (list, tuple)) and all(isinstance(s, sympy.Symbol) for s in item):
        return (len(item),), list(item), None
    raise UnsupportedError(f"inputs/params entries must be sympy Symbols, lists of Symbols, "
                           f"Matrices of Symbols or MatrixSymbols; got {item!r}")


def from_sympy(exprs, inputs, params=(), defaults: dict | None = None):
    """Graph, output structure and {arg position: symbols} of SymPy ``exprs``."""
    g = Graph()
    taken: set = set()
    leaves, symbols = {}, {}
    named = [(x, "input") for x in _entries(inputs)] + [(x, "param") for x in _entries(params)]
    for k, ((name, item), role) in enumerate(named):
        shape, syms, own_name = _arg_symbols(item)
        name = name or own_name or f"{role}{k}"
        if any(a.name == name for a in g.signature):     # a user error, not an IR invariant
            raise UnsupportedError(f"argument {name!r} appears twice in inputs/params")
        default = (defaults or {}).get(name)
        pos = g.add_arg(Arg(name, identifier(name, taken), shape, role, default=default))
        symbols[pos] = syms
        for sym, idx in zip(syms, np.ndindex(*shape) if shape else [()]):
            if not isinstance(sym, (sympy.Symbol, MatrixElement)):
                raise UnsupportedError(f"argument {name!r} must hold plain Symbols, got {sym}")
            if sym in leaves:
                raise UnsupportedError(f"symbol {sym} appears twice in inputs/params")
            leaves[sym] = g.leaf(pos, idx)
    reader = SympyReader(g, leaves)

    def element(x):
        if isinstance(x, (sympy.Basic, int, float, complex)) and not isinstance(x, sympy.MatrixBase):
            return reader.read(sympy.sympify(x))
        return None

    def array(x):
        if isinstance(x, sympy.MatrixBase):
            return tuple(x.shape), list(x)
        return structure.numpy_array(x)

    return g, structure.flatten(exprs, g, element, array), symbols


def _entries(items):
    """[(name or None, item)] from a list or a {name: item} dict."""
    if items is None:
        return []
    if isinstance(items, dict):
        return list(items.items())
    if isinstance(items, (sympy.Basic, sympy.MatrixBase)):
        items = [items]
    return [(None, x) for x in items]

