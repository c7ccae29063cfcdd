"""Kernels of a kernel's derivative graphs, for framework gradients (torch, JAX).

``autodiff.jvp_graph`` keeps a network layer a contraction (its tangent is the same layer
applied to the tangents: one more matrix product); ``vjp_graph`` writes the transposed
layer out as scalar multiply-adds with the weights, so a reverse-mode kernel is one fused
scalar loop (correct on every backend, not a matrix product).
"""
from __future__ import annotations

from ..kernel import Kernel


def derived(k: Kernel, transform, suffix: str) -> Kernel:
    """``transform`` (jvp_graph or vjp_graph) of ``k``'s graph as a kernel with ``k``'s
    options, returning a flat tuple of its outputs; built once per kernel."""
    cache = k.__dict__.setdefault("_derived", {})
    if suffix not in cache:
        graph = transform(k.input_graph)
        structure = tuple(range(len(graph.outputs)))
        cache[suffix] = Kernel(graph, structure, f"{k.name}_{suffix}", k.options)
    return cache[suffix]


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
