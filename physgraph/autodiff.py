"""Symbolic differentiation on the graph: forward (tangent) and reverse (adjoint) mode.

Derivatives are ordinary nodes built into the same graph, so hash-consing shares them with
the primal computation (d sin x reuses cos x if the function already had it) and between
derivative columns.  Both modes walk node ids in creation order (or its reverse): nothing
recurses, so graphs of 10^5 nodes and more differentiate in one pass each.

A derivative "with respect to node n" holds every node that n does not feed fixed; seeds
are cuts: a seeded node keeps its seed even when it is computed from another seed, which is
what a Jacobian with respect to the elements of a vector means.

Complex values: holomorphic ops use their complex derivative.  In reverse mode the adjoint
of a complex node z is dL/dRe z + i dL/dIm z (L real), so a holomorphic partial p enters as
``adjoint * conj(p)``; re, im, conj, abs and complex() have their own real-linear rules, and
an adjoint reaching a real node keeps its real part.  Comparisons and logic have no
derivative; ``where`` differentiates the selected branch; min/max the selected argument.

Graph to graph: ``jvp_graph`` and ``vjp_graph`` turn a kernel graph into the graph of its
Jacobian-vector or vector-Jacobian product, for framework gradients (``as_torch``,
``as_jax``).
"""
from __future__ import annotations

from .graph import Arg, Graph, Op, Output, T, identifier
from .ops import DEFS, NotDifferentiable, evaluate
from .passes.builder import Builder as FoldingBuilder


class Builder(FoldingBuilder):
    """The passes' folding builder, with ``None`` standing for an exact zero (no node at
    all), so an untouched tangent or adjoint costs nothing.  Zeros, None or a zero node,
    are absorbed here before anything is built; every other simplification is the fold's.
    """

    def __init__(self, g: Graph):
        super().__init__(g)
        self.one = g.const(1)

    op = FoldingBuilder.__call__            # the name the derivative rules build with

    def is_zero(self, n) -> bool:
        return n is None or super().is_zero(n)

    def add(self, a, b):
        if self.is_zero(a):
            return b
        return a if self.is_zero(b) else self(Op.ADD, a, b)

    def sub(self, a, b):
        if self.is_zero(b):
            return a
        return self.neg(b) if self.is_zero(a) else self(Op.SUB, a, b)

    def neg(self, a):
        return None if self.is_zero(a) else self(Op.NEG, a)

    def mul(self, a, b):
        return None if self.is_zero(a) or self.is_zero(b) else self(Op.MUL, a, b)

    def div(self, a, b):
        return None if self.is_zero(a) else self(Op.DIV, a, b)

    # a real value is its own conjugate and real part: returned as it is, so an exact
    # constant stays exact (the fold would evaluate it in floating point)
    def conj(self, a):
        return a if a is None or self.g.types[a] is not T.COMPLEX else self(Op.CONJ, a)

    def re(self, a):
        return a if a is None or self.g.types[a] is not T.COMPLEX else self(Op.RE, a)

    def where(self, cond, a, b):
        if self.is_zero(a) and self.is_zero(b):
            return None
        zero = self.const(0)
        return self(Op.WHERE, cond, zero if a is None else a, zero if b is None else b)


# ---- the rules, from the op table ---------------------------------------------------------
# PARTIALS: op -> (builder, node, args, k) -> d node / d args[k] (holomorphic for complex);
# LINEAR: op -> (forward, reverse) rules of the selecting and real-linear ops
PARTIALS = {op: d.partials for op, d in DEFS.items()
            if d.partials is not None and d.partials is not NotDifferentiable}
LINEAR = {op: d.linear for op, d in DEFS.items() if d.linear is not None}
NO_DERIVATIVE = frozenset(op for op, d in DEFS.items() if d.partials is NotDifferentiable)


def differentiable(g: Graph, i: int) -> bool:
    op = g.ops[i]
    return op in PARTIALS or op in LINEAR


# ---- forward mode --------------------------------------------------------------------------
def forward(g: Graph, seeds: dict[int, int], outputs: list[int]) -> list[int | None]:
    """Tangents of ``outputs`` given ``seeds`` (node -> its tangent node); None means zero.

    One walk in creation order over the nodes between the first seed and the last output.
    """
    b = Builder(g)
    tangent: dict[int, int] = {n: t for n, t in seeds.items() if not b.is_zero(t)}
    if not seeds or not outputs:
        return [tangent.get(n) for n in outputs]
    lo, hi = min(seeds), max(outputs)
    ops, args = g.ops, g.args
    for i in range(lo, hi + 1):
        if i in seeds:
            continue
        a = args[i]
        t = [tangent.get(x) for x in a]
        if all(x is None for x in t):
            continue
        op = ops[i]
        if op in LINEAR:
            d = LINEAR[op][0](b, i, a, t)
        elif op in PARTIALS:
            d = None
            for k, tk in enumerate(t):
                if tk is not None:
                    d = b.add(d, b.mul(PARTIALS[op](b, i, a, k), tk))
        else:
            continue                               # comparisons, logic: no derivative
        if d is not None:
            tangent[i] = d
    return [tangent.get(n) for n in outputs]


# ---- reverse mode --------------------------------------------------------------------------
def _active(g: Graph, wrt: list[int], hi: int) -> bytearray:
    """active[i - lo] == 1 when node i depends differentiably on a node of ``wrt``."""
    lo = min(wrt)
    active = bytearray(hi - lo + 1)
    for n in wrt:
        if n <= hi:
            active[n - lo] = 1
    args = g.args
    for i in range(lo, hi + 1):
        if not active[i - lo] and differentiable(g, i) and \
                any(x >= lo and active[x - lo] for x in args[i]):
            active[i - lo] = 1
    return active


def reverse(g: Graph, cotangents: dict[int, int], wrt: list[int]) -> list[int | None]:
    """Adjoints of the nodes ``wrt`` given output ``cotangents`` (node -> adjoint node).

    One walk in reverse creation order from the last output to the first ``wrt`` node; only
    nodes that depend on ``wrt`` receive adjoints, and a ``wrt`` node passes none on (a cut).
    """
    b = Builder(g)
    if not cotangents or not wrt:
        return [None] * len(wrt)
    lo, hi = min(wrt), max(cotangents)
    if hi < lo:
        return [None] * len(wrt)
    active = _active(g, wrt, hi)
    cut = set(wrt)
    adjoint: dict[int, int] = {}

    def accumulate(n: int, contribution) -> None:
        if n < lo or not active[n - lo] or b.is_zero(contribution):
            return
        if g.types[n] is not T.COMPLEX:
            contribution = b.re(contribution)
        adjoint[n] = b.add(adjoint.get(n), contribution)

    for n, ct in cotangents.items():
        accumulate(n, ct)
    ops, args = g.ops, g.args
    for i in range(hi, lo - 1, -1):
        ct = adjoint.get(i)
        if ct is None or i in cut:
            continue
        a, op = args[i], ops[i]
        if op in LINEAR:
            for x, c in zip(a, LINEAR[op][1](b, i, a, ct)):
                accumulate(x, c)
        else:
            for k, x in enumerate(a):
                if x >= lo and active[x - lo]:
                    accumulate(x, b.mul(ct, b.conj(PARTIALS[op](b, i, a, k))))
    return [adjoint.get(n) for n in wrt]


# ---- evaluating at known values -----------------------------------------------------------
_FOLDING = {Op.ADD: Builder.add, Op.SUB: Builder.sub, Op.MUL: Builder.mul, Op.DIV: Builder.div}


def substitute(g: Graph, nodes: list[int], values: dict[int, object]) -> list[int]:
    """``nodes`` with the nodes in ``values`` replaced by those constants, folding whatever
    becomes constant (and x * 0, x * 1, x + 0) as it goes: one walk in creation order.

    Derivatives at a point the tracer knows (a state whose slope is still exactly zero)
    come back as numbers this way, so the matrices built from them keep known entries.
    """
    b = Builder(g)
    if not values or not nodes:
        return list(nodes)
    new: dict[int, int] = {n: g.const(v) for n, v in values.items()}
    ops, args, attrs = g.ops, g.args, g.attrs
    for i in range(min(values), max(nodes) + 1):
        a = args[i]
        if i in values or not any(x in new for x in a):
            continue
        a = [new.get(x, x) for x in a]
        op = ops[i]
        if all(ops[x] is Op.CONST for x in a):
            new[i] = g.const(evaluate(op, [attrs[x] for x in a], attrs[i]))
        elif op in _FOLDING:
            folded = _FOLDING[op](b, *a)
            new[i] = g.const(0) if folded is None else folded
        else:
            new[i] = g.node(op, tuple(a), attrs[i])
    return [new.get(n, n) for n in nodes]


def placeholder(g: Graph) -> int:
    """A fresh real leaf that stands for a known value while differentiating; it must be
    ``substitute``-d away before the graph is compiled (it reads no kernel argument)."""
    return g.node(Op.PARAM, (), ("placeholder", len(g)))


# ---- graph -> graph transforms -------------------------------------------------------------
def _copy(g: Graph) -> Graph:
    """A graph with g's nodes and signature (same ids) and no outputs, to build on."""
    return Graph(ops=list(g.ops), args=list(g.args), attrs=list(g.attrs), types=list(g.types),
                 signature=list(g.signature), outputs=[], _index=dict(g._index))


def _new_arg(g: Graph, name: str, shape: tuple, symmetric: bool = False) -> int:
    taken = {a.ident for a in g.signature}
    return g.add_arg(Arg(name, identifier(name, taken), tuple(shape), "input", symmetric))


def _zero_if_none(g: Graph, nodes) -> tuple[int, ...]:
    return tuple(g.const(0) if n is None else n for n in nodes)


def jvp_graph(g: Graph) -> Graph:
    """The Jacobian-vector product of a kernel graph.

    Signature: g's args, then one tangent arg ``d_<name>`` per per-event input (same shape;
    params are constants).  Outputs: ``d_<name>`` for each output of g, its directional
    derivative along the tangents, in g's order and shapes.  Boolean outputs have none: 0.
    """
    h = _copy(g)
    inputs = [(p, a) for p, a in enumerate(g.signature) if a.role == "input"]
    tangent_pos = {p: _new_arg(h, f"d_{a.name}", a.shape, a.symmetric) for p, a in inputs}
    seeds = {}
    for i in range(len(g)):
        if g.ops[i] is Op.INPUT:
            pos, index = g.attrs[i]
            seeds[i] = h.leaf(tangent_pos[pos], index)
    outs = g.output_nodes()
    d = dict(zip(outs, forward(h, seeds, outs)))
    h.outputs = [Output(f"d_{o.name}", o.shape, _zero_if_none(h, (d[n] for n in o.nodes)))
                 for o in g.outputs]
    return h


def vjp_graph(g: Graph) -> Graph:
    """The vector-Jacobian product of a kernel graph.

    Signature: g's args, then one cotangent arg ``ct_<output name>`` per output of g (same
    shape).  Outputs: ``grad_<name>`` for each per-event input of g (same shape), the sum over
    outputs of cotangent times derivative; params are not differentiated.  A complex output's
    cotangent pairs with its real part; a symmetric input's grad is zero below the diagonal
    (those elements are never read).
    """
    h = _copy(g)
    b = Builder(h)
    cotangents: dict[int, int] = {}
    for o in g.outputs:
        pos = _new_arg(h, f"ct_{o.name}", o.shape)
        for index, n in zip(h.signature[pos].indices(), o.nodes):
            if g.types[n] is not T.BOOL:
                cotangents[n] = b.add(cotangents.get(n), h.leaf(pos, index))
    leaves = [i for i in range(len(g)) if g.ops[i] is Op.INPUT]
    grads = dict(zip(leaves, reverse(h, cotangents, leaves)))
    outputs = []
    for p, a in enumerate(g.signature):
        if a.role != "input":
            continue
        nodes = []
        for index in a.indices():
            if a.symmetric and index[0] > index[1]:
                nodes.append(None)
                continue
            leaf = h._index.get((Op.INPUT, (), (p, tuple(index))))
            nodes.append(grads.get(leaf))
        outputs.append(Output(f"grad_{a.name}", a.shape, _zero_if_none(h, nodes)))
    h.outputs = outputs
    return h
