"""Turning what a frontend returns (scalars, vectors, matrices, tuples, dicts) into graph
outputs, and the kernel's results back into the same structure.

A structure is an ``int`` (index of a graph output), a ``tuple`` of structures or a ``dict``
of structures.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .errors import TraceError
from .graph import Graph, Output


def flatten(result, g: Graph, element: Callable, array: Callable) -> object:
    """Adds ``result`` to ``g.outputs`` and returns its structure.

    ``element(x)`` gives the node id of a scalar result (or None if ``x`` is not one);
    ``array(x)`` gives ``(shape, elements)`` of an array-like result (or None).
    This recurses only through the user's nesting of tuples and dicts, never through a graph.
    """
    def one(x):
        node = element(x)
        if node is not None:
            return _add(g, (), [node])
        shaped = array(x)
        if shaped is not None:
            shape, elements = shaped
            nodes = []
            for e in elements:
                n = element(e)
                if n is None:
                    raise TraceError(f"an element of a returned array is a {type(e).__name__}, "
                                     "not a number or traced value")
                nodes.append(n)
            return _add(g, tuple(shape), nodes)
        if isinstance(x, (tuple, list)):
            return tuple(one(v) for v in x)
        if isinstance(x, dict):
            return {k: one(v) for k, v in x.items()}
        raise TraceError(f"cannot return a value of type {type(x).__name__}: return traced "
                         "values, numbers, vectors, matrices, or tuples/dicts of them")
    return one(result)


def _add(g: Graph, shape: tuple, nodes: list) -> int:
    g.outputs.append(Output(f"out{len(g.outputs)}", shape, tuple(nodes)))
    return len(g.outputs) - 1


def unflatten(structure, arrays: list):
    """The kernel's output arrays in the structure the user returned."""
    if isinstance(structure, int):
        return arrays[structure]
    if isinstance(structure, tuple):
        return tuple(unflatten(s, arrays) for s in structure)
    return {k: unflatten(s, arrays) for k, s in structure.items()}


def numpy_array(x):
    """(shape, elements) of a numpy array, for ``flatten``."""
    if isinstance(x, np.ndarray):
        return x.shape, list(x.ravel())
    return None
