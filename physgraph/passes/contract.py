"""Contractions (network layers) written out as scalar sums, where a matrix product cannot run.

A ``CONTRACT`` node is row ``r`` of a param matrix ``W`` times a vector of per-event values.
Backends that run matrix products over blocks of events (numpy, numba, jax) keep it; the
others (cuda), per-call contractions and anything that reasons per scalar (autodiff, SymPy
export) see the same value as ``sum_k W[r, k] * x_k`` with ``W[r, k]`` read as a param
element, which every pass and printer already knows.
"""
from __future__ import annotations

from ..graph import Graph, Op
from .builder import Builder
from .rewrite import Pass, Rewrite


def expand(b: Builder, position: int, row: int, args: list) -> int:
    """The node of ``sum_k W[row, k] * args[k]`` (a balanced tree: short chains)."""
    terms = [b(Op.MUL, b.g.leaf(position, (row, k)), a) for k, a in enumerate(args)]
    return b.tree(Op.ADD, terms) if terms else b.const(0)


def has_contractions(g: Graph) -> bool:
    return Op.CONTRACT in g.ops


def _expand(rw: Rewrite, i: int):
    kept = rw.state
    if kept is not None and kept[i]:
        return None
    position, row = rw.old.attrs[i]
    return expand(rw.b, position, row, rw.args(i))


# Expands every contraction the backend cannot run as a matrix product: all of them when
# ``contracts`` is false, else those whose arguments are all per call (no events to batch
# over; they are computed once, before the event loop).  Nothing else changes: no folding.
lower_contract = Pass(
    "lower_contract", options={"contracts": True}, rules={Op.CONTRACT: _expand},
    applies=lambda g, options: has_contractions(g), folding=False,
    start=lambda rw: rw.old.varying() if rw.options["contracts"] else None)


def scalarize(g: Graph) -> Graph:
    """``g`` with all its contractions expanded."""
    return lower_contract(g, contracts=False)
