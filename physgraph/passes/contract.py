"""Contractions (network layers) written out as scalar sums, where a matrix product cannot run.

A ``CONTRACT`` node is row ``r`` of a param matrix ``W`` times a vector of per-event values.
Backends that run matrix products over blocks of events (numpy, numba, jax) keep it; the
others (cuda), per-call contractions and anything that reasons per scalar (autodiff, SymPy
export) see the same value as ``sum_k W[r, k] * x_k`` with ``W[r, k]`` read as a param
element, which every pass and printer already knows.
"""
from __future__ import annotations

from ..graph import Graph, Op


def expand(g: Graph, position: int, row: int, args: tuple) -> int:
    """The node of ``sum_k W[row, k] * args[k]`` in ``g`` (a balanced tree: short chains)."""
    terms = [g.node(Op.MUL, (g.leaf(position, (row, k)), a)) for k, a in enumerate(args)]
    while len(terms) > 1:
        pairs = [g.node(Op.ADD, (terms[k], terms[k + 1])) for k in range(0, len(terms) - 1, 2)]
        terms = pairs + ([terms[-1]] if len(terms) % 2 else [])
    return terms[0] if terms else g.const(0)


def has_contractions(g: Graph) -> bool:
    return Op.CONTRACT in g.ops


def scalarize(g: Graph, keep_varying: bool = False) -> Graph:
    """``g`` with its contractions expanded (with ``keep_varying``, only the per-call ones)."""
    if not has_contractions(g):
        return g
    keep = g.varying() if keep_varying else bytearray(len(g))
    new = g.empty_like()
    mapping = [0] * len(g)
    live = g.live()
    for i in range(len(g)):
        if not live[i]:
            continue
        op, args, attr = g.ops[i], tuple(mapping[a] for a in g.args[i]), g.attrs[i]
        if op is Op.CONTRACT and not keep[i]:
            mapping[i] = expand(new, attr[0], attr[1], args)
        else:
            mapping[i] = new.node(op, args, attr)
    new.remap_outputs(g, mapping)
    return new


def lower_contract(g: Graph, contracts: bool = True, **_) -> Graph:
    """Expand every contraction the backend cannot run as a matrix product: all of them
    when ``contracts`` is false, else those whose arguments are all per call (no events
    to batch over; they are computed once, before the event loop)."""
    return scalarize(g, keep_varying=contracts)
