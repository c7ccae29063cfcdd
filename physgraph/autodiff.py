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
an adjoint reaching a real node keeps its real part.

Subgradients, where a function is not differentiable: ``where(c, a, b)`` differentiates the
branch it selects and nothing flows through its condition (so a value that depends on x
only through a comparison, a step or a cut, has derivative 0: right almost everywhere, and
blind to the jump); min/max differentiate the argument they select (the first on a tie);
abs (and so relu, written as a where) has slope +1 at 0.  Comparisons and logic are boolean
and have no derivative at all: asking for the derivative of a boolean output is an error,
and so is reaching a numeric op that has no derivative rule (``UnsupportedError``).

Params are leaves like inputs: differentiating with respect to them is seeding their
leaves.  A network layer (``CONTRACT``) also reads the elements of its param matrix, named
in its attr rather than its arguments; the walks add that dependence themselves.

Graph to graph: ``jvp_graph`` and ``vjp_graph`` turn a kernel graph into the graph of its
Jacobian-vector or vector-Jacobian product, for framework gradients (``as_torch``,
``as_jax``), with respect to the per-event inputs and, on request, the params.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from .errors import UnsupportedError
from .graph import Arg, Graph, Op, Output, T, identifier
from .ops import DEFS, NotDifferentiable, evaluate
from .passes.builder import Builder as FoldingBuilder
from .passes.calls import inline


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


def _no_derivative(g: Graph, i: int) -> None:
    """A numeric node that a derivative must pass through and that has no rule: an error,
    never a silent zero.  (A boolean node is only ever a condition: nothing to pass on.)"""
    if g.types[i] is not T.BOOL:
        raise UnsupportedError(f"{g.ops[i].name.lower()} has no derivative (node "
                               f"{g.describe(i)}); it cannot be differentiated")


# ---- network layers: the matrix elements a contraction reads through its attr --------------
def _matrix_element(g: Graph, n: int) -> tuple | None:
    """(param position, row, column) when node n reads an element of a param matrix."""
    if g.ops[n] is not Op.PARAM:
        return None
    pos, index = g.attrs[n]
    # a placeholder (diff.py) carries an int there: it is no matrix element
    return (pos, *index) if isinstance(index, tuple) and len(index) == 2 else None


def _matrix_rows(g: Graph, nodes) -> set:
    """(param position, row) of the param-matrix elements among ``nodes``."""
    elements = (_matrix_element(g, n) for n in nodes)
    return {e[:2] for e in elements if e is not None}


def _first_use(g: Graph, rows: set, lo: int) -> int:
    """``lo``, or the first contraction before it that reads one of ``rows`` (a matrix's
    leaves may be made after the layers that read it)."""
    if rows:
        ops, attrs = g.ops, g.attrs
        for i in range(lo):
            if ops[i] is Op.CONTRACT and attrs[i] in rows:
                return i
    return lo


def _weight(g: Graph, i: int, k: int) -> int | None:
    """The leaf of the matrix element contraction ``i`` multiplies its argument k with."""
    pos, row = g.attrs[i]
    return g._index.get((Op.PARAM, (), (pos, (row, k))))


def _matrix_row(g: Graph, nodes: list) -> tuple | None:
    """(position, row) when ``nodes`` are exactly the leaves of one row of a param matrix,
    in column order, else None."""
    first = _matrix_element(g, nodes[0]) if nodes and nodes[0] is not None else None
    if first is None or any(x is None or _matrix_element(g, x) != (*first[:2], k)
                            for k, x in enumerate(nodes)):
        return None
    return first[:2]


def _weight_tangent(b: Builder, i: int, tangent: dict) -> int | None:
    """d contraction i along the tangents of its matrix elements: the same contraction of
    the tangent matrix's row when they are one (jvp_graph: still a matrix product), else
    written out as a sum."""
    g = b.g
    a = g.args[i]
    t = [tangent.get(_weight(g, i, k)) for k in range(len(a))]
    if all(b.is_zero(x) for x in t):
        return None
    row = _matrix_row(g, t)
    if row is not None:
        return b.op(Op.CONTRACT, *a, attr=row)
    d = None
    for x, tk in zip(a, t):
        d = b.add(d, b.mul(tk, x))
    return d


@dataclass(frozen=True)
class Layer:
    """The contractions of one param matrix with one vector: a network layer.  In reverse
    mode its vector's adjoint is the transposed layer applied to the rows' adjoints (one
    more matrix product), and its matrix's gradient, the sum over events of
    outer(the rows' adjoints, the vector), a matrix product over events."""
    position: int                  # of the matrix param
    rows: tuple[int, ...]          # its rows, in the order of the adjoints
    nodes: tuple[int, ...]         # the contractions
    vector: tuple[int, ...]        # their common arguments


def layers(g: Graph) -> list[Layer]:
    """The live network layers of ``g``, in order of first appearance."""
    live = g.live()
    found: dict[tuple, list[int]] = {}
    for i in range(len(g)):
        if live[i] and g.ops[i] is Op.CONTRACT:
            found.setdefault((g.attrs[i][0], g.args[i]), []).append(i)
    return [Layer(pos, tuple(g.attrs[i][1] for i in nodes), tuple(nodes), vector)
            for (pos, vector), nodes in found.items()]


# ---- forward mode --------------------------------------------------------------------------
def forward(g: Graph, seeds: dict[int, int], outputs: list[int]) -> list[int | None]:
    """Tangents of ``outputs`` given ``seeds`` (node -> its tangent node); None means zero.

    One walk in creation order over the nodes between the first seed (or the first layer
    reading a seeded matrix element) and the last output.
    """
    b = Builder(g)
    tangent: dict[int, int] = {n: t for n, t in seeds.items() if not b.is_zero(t)}
    if not seeds or not outputs:
        return [tangent.get(n) for n in outputs]
    rows = _matrix_rows(g, tangent)
    lo, hi = _first_use(g, rows, min(seeds)), max(outputs)
    ops, args, attrs = g.ops, g.args, g.attrs
    for i in range(lo, hi + 1):
        if i in seeds:
            continue
        a = args[i]
        op = ops[i]
        t = [tangent.get(x) for x in a]
        d = _weight_tangent(b, i, tangent) if rows and op is Op.CONTRACT and \
            attrs[i] in rows else None
        if d is None and all(x is None for x in t):
            continue
        if op in LINEAR:
            d = b.add(d, LINEAR[op][0](b, i, a, t))
        elif op in PARTIALS:
            for k, tk in enumerate(t):
                if tk is not None:
                    d = b.add(d, b.mul(PARTIALS[op](b, i, a, k), tk))
        else:
            _no_derivative(g, i)
            continue
        if d is not None:
            tangent[i] = d
    return [tangent.get(n) for n in outputs]


# ---- reverse mode --------------------------------------------------------------------------
def _active(g: Graph, wrt: list[int], lo: int, hi: int, rows: set) -> bytearray:
    """active[i - lo] == 1 when node i depends differentiably on a node of ``wrt``."""
    active = bytearray(hi - lo + 1)
    for n in wrt:
        active[n - lo] = 1
    ops, args, attrs = g.ops, g.args, g.attrs
    for i in range(lo, hi + 1):
        if active[i - lo]:
            continue
        if any(x >= lo and active[x - lo] for x in args[i]) or \
                (rows and ops[i] is Op.CONTRACT and attrs[i] in rows):
            if differentiable(g, i):
                active[i - lo] = 1
            else:
                _no_derivative(g, i)
    return active


def _transpose(b: Builder, layer: Layer, transposed: int, adjoint: dict, accumulate) -> None:
    """Pass a layer's adjoints on to its vector: the contraction of the rows' adjoints with
    ``transposed``, the param holding the rows of the layer's matrix transposed."""
    cts = [adjoint.get(n) for n in layer.nodes]
    if all(c is None for c in cts):
        return
    cts = [b.const(0) if c is None else c for c in cts]
    for k, x in enumerate(layer.vector):
        accumulate(x, partial(b.op, Op.CONTRACT, *cts, attr=(transposed, k)))


def reverse(g: Graph, cotangents: dict[int, int], wrt: list[int],
            layers: dict[Layer, int] | None = None) -> list[int | None]:
    """Adjoints of the nodes ``wrt`` given output ``cotangents`` (node -> adjoint node).

    One walk in reverse creation order from the last output to the first ``wrt`` node (or
    the first layer reading a ``wrt`` matrix element); only nodes that depend on ``wrt``
    receive adjoints, and a ``wrt`` node passes none on (a cut).

    ``layers`` (layer -> position of a param holding its matrix's rows transposed): those
    pass their adjoints on as a matrix product (``_transpose``), not element by element,
    and none to their matrix elements; the adjoints of their contractions follow those of
    ``wrt`` in the result, for the caller to form the matrices' gradients.
    """
    b = Builder(g)
    layers = layers or {}
    own = [n for layer in layers for n in layer.nodes]
    nothing = [None] * (len(wrt) + len(own))
    if not cotangents or not wrt:
        return nothing
    rows = _matrix_rows(g, wrt)
    lo, hi = _first_use(g, rows, min(wrt)), max(cotangents)
    if hi < lo:
        return nothing
    hi = max(hi, max(wrt))                  # matrix leaves may come after their layers
    active = _active(g, wrt, lo, hi, rows)
    cut, skip = set(wrt), set(own)
    # a layer's adjoints are all known once the walk reaches its first contraction
    first = {min(layer.nodes): layer for layer in layers}
    adjoint: dict[int, int] = {}

    def accumulate(n: int, contribution) -> None:
        """Add to n's adjoint (``contribution`` may be a function making the node, built
        only when n needs it)."""
        if n is None or not lo <= n <= hi or not active[n - lo]:
            return
        if callable(contribution):
            contribution = contribution()
        if b.is_zero(contribution):
            return
        if g.types[n] is not T.COMPLEX:
            contribution = b.re(contribution)
        adjoint[n] = b.add(adjoint.get(n), contribution)

    for n, ct in cotangents.items():
        accumulate(n, ct)
    ops, args, attrs = g.ops, g.args, g.attrs
    for i in range(hi, lo - 1, -1):
        if i in first:
            _transpose(b, first[i], layers[first[i]], adjoint, accumulate)
        ct = adjoint.get(i)
        if ct is None or i in cut or i in skip:
            continue
        a, op = args[i], ops[i]
        if op in LINEAR:
            for x, c in zip(a, LINEAR[op][1](b, i, a, ct)):
                accumulate(x, c)
        else:
            for k, x in enumerate(a):
                if x >= lo and active[x - lo]:
                    accumulate(x, b.mul(ct, b.conj(PARTIALS[op](b, i, a, k))))
        if rows and op is Op.CONTRACT and attrs[i] in rows:
            for k, x in enumerate(a):                    # d W[row, k] = ct * x_k
                accumulate(_weight(g, i, k), b.mul(ct, x))
    return [adjoint.get(n) for n in (*wrt, *own)]


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


def _new_arg(g: Graph, name: str, shape: tuple = (), role: str = "input",
             symmetric: bool = False) -> int:
    taken = {a.ident for a in g.signature}
    return g.add_arg(Arg(name, identifier(name, taken), tuple(shape), role, symmetric))


def _zero_if_none(g: Graph, nodes) -> tuple[int, ...]:
    return tuple(g.const(0) if n is None else n for n in nodes)


def _variables(g: Graph, inputs: bool, params: bool) -> list[tuple[int, Arg]]:
    """(position, arg) of what is differentiated: the per-event inputs, the params, or both."""
    return [(p, a) for p, a in enumerate(g.signature)
            if (inputs if a.role == "input" else params)]


def _elements(a: Arg) -> list[tuple]:
    """The indices of an argument's independent elements (a symmetric one's upper triangle)."""
    return [i for i in a.indices() if not (a.symmetric and i[0] > i[1])]


def jvp_graph(g: Graph, params: bool = False, inputs: bool = True) -> Graph:
    """The Jacobian-vector product of a kernel graph.

    Signature: g's args, then one tangent arg ``d_<name>`` per per-event input (same shape),
    unless ``inputs`` is false, and, with ``params``, one per param (a per-call param
    itself: the tangent of a per-call value is per call), in signature order.  Outputs:
    ``d_<name>`` for each output of g, its directional derivative along the tangents, in
    g's order and shapes.  Boolean outputs have none: 0.  Routine calls are inlined.
    """
    g = inline(g)
    h = _copy(g)
    seeds = {}
    for p, a in _variables(g, inputs, params):
        t = _new_arg(h, f"d_{a.name}", a.shape, a.role, a.symmetric)
        for index in _elements(a):
            seeds[h.leaf(p, index)] = h.leaf(t, index)
    outs = g.output_nodes()
    d = dict(zip(outs, forward(h, seeds, outs)))
    h.outputs = [Output(f"d_{o.name}", o.shape, _zero_if_none(h, (d[n] for n in o.nodes)))
                 for o in g.outputs]
    return h


def vjp_graph(g: Graph, params: bool = False, inputs: bool = True) -> Graph:
    """The vector-Jacobian product of a kernel graph.

    Signature: g's args, then one cotangent arg ``ct_<output name>`` per output of g (same
    shape), then per ``Layer`` k of g (``layers(g)``) a param ``layer<k>_T``: the rows of
    its matrix that it uses, transposed (the caller passes ``W[rows].T``).

    Outputs: ``grad_<name>`` for each per-event input of g (unless ``inputs`` is false)
    and, with ``params``, each param that has a gradient other than through layers, in
    signature order and each in its arg's shape: the sum over outputs of cotangent times
    derivative, per event (a param's gradient is their sum over events).  With ``params``,
    then per layer ``layer<k>_ct``, its rows' adjoints, and ``layer<k>_in``, its vector,
    per event: its matrix's gradient (at its rows) is the sum over events of their outer
    product.  A complex output's cotangent pairs with its real part; a symmetric input's
    grad is zero below the diagonal (those elements are never read).  Routine calls are
    inlined.
    """
    g = inline(g)
    h = _copy(g)
    b = Builder(h)
    cotangents: dict[int, int] = {}
    for o in g.outputs:
        pos = _new_arg(h, f"ct_{o.name}", o.shape)
        for index, n in zip(h.signature[pos].indices(), o.nodes):
            if g.types[n] is not T.BOOL:
                cotangents[n] = b.add(cotangents.get(n), h.leaf(pos, index))
    matrices = {layer: _new_arg(h, f"layer{k}_T", (len(layer.vector), len(layer.rows)),
                                "param") for k, layer in enumerate(layers(g))}
    variables = _variables(g, inputs, params)
    leaves = [h.leaf(p, index) for p, a in variables for index in _elements(a)]
    found = reverse(h, cotangents, leaves, matrices)
    grads = dict(zip(leaves, found))
    outputs = []
    for p, a in variables:
        nodes = [None if a.symmetric and index[0] > index[1] else grads[h.leaf(p, index)]
                 for index in a.indices()]
        if a.role == "input" or any(n is not None for n in nodes):
            outputs.append(Output(f"grad_{a.name}", a.shape, _zero_if_none(h, nodes)))
    adjoints = iter(found[len(leaves):])
    for k, layer in enumerate(matrices):
        ct = [next(adjoints) for _ in layer.nodes]
        if params:
            outputs.append(Output(f"layer{k}_ct", (len(ct),), _zero_if_none(h, ct)))
            outputs.append(Output(f"layer{k}_in", (len(layer.vector),), layer.vector))
    h.outputs = outputs
    return h
