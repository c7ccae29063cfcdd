"""Kernels of a kernel's derivative graphs, for framework gradients (torch, JAX).

Both keep network layers matrix products: ``autodiff.jvp_graph`` applies the same layer to
the tangents (and the tangent matrix to the vector), ``vjp_graph`` the transposed layer
to the adjoints, reading the matrix transposed from an extra param, and leaves the
weights' gradients, sums over events of outer products, to its caller.
"""
from __future__ import annotations

from functools import partial

from ..kernel import Kernel


def derived(k: Kernel, transform, suffix: str) -> Kernel:
    """``transform`` (jvp_graph or vjp_graph, with or without params) of ``k``'s graph as a
    kernel with ``k``'s options, returning a flat tuple of its outputs; built once per
    kernel and ``suffix``."""
    cache = k.__dict__.setdefault("_derived", {})
    if suffix not in cache:
        graph = transform(k.input_graph)
        structure = tuple(range(len(graph.outputs)))
        cache[suffix] = Kernel(graph, structure, f"{k.name}_{suffix}", k.options)
    return cache[suffix]


def derivative(k: Kernel, transform, inputs: bool, params: bool) -> Kernel:
    """``transform`` (jvp_graph or vjp_graph) with respect to ``k``'s inputs, its params or
    both, as a kernel (``derived``): named ``jvp``/``vjp`` for the inputs alone, with
    ``_params`` for both and ``_of_params`` for the params alone."""
    kind = {(True, False): "", (True, True): "_params", (False, True): "_of_params"}
    return derived(k, partial(transform, inputs=inputs, params=params),
                   transform.__name__.removesuffix("_graph") + kind[inputs, params])


def flat_outputs(structure, result) -> list:
    """A kernel's result (in its structure) as the list of its outputs, in output order."""
    found: dict[int, object] = {}
    stack = [(structure, result)]
    while stack:
        s, r = stack.pop()
        if isinstance(s, int):
            found[s] = r
        elif isinstance(s, tuple):
            stack.extend(zip(s, r))
        else:
            stack.extend((s[key], r[key]) for key in s)
    return [found[k] for k in range(len(found))]
