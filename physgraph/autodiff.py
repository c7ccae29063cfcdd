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

from fractions import Fraction

from .graph import Arg, Graph, Op, Output, T, identifier

NO_DERIVATIVE = frozenset({Op.LT, Op.LE, Op.EQ, Op.NE, Op.AND, Op.OR, Op.NOT})


class Builder:
    """Node construction that folds the zeros and ones derivatives are full of.

    ``None`` stands for an exact zero (no node at all), so an untouched tangent or adjoint
    costs nothing.
    """

    def __init__(self, g: Graph):
        self.g = g
        self.one = g.const(1)

    def const(self, value) -> int:
        return self.g.const(value)

    def _value(self, n) -> object:
        g = self.g
        if g.ops[n] is Op.CONST and not isinstance(g.attrs[n], bool):
            return g.attrs[n]
        return None

    def is_zero(self, n) -> bool:
        return n is None or self._value(n) == 0

    def _fold(self, fn, a, b):
        """fn on two known real constants as a new constant, else None."""
        va, vb = self._value(a), self._value(b)
        if va is None or vb is None or isinstance(va, complex) or isinstance(vb, complex):
            return None
        return self.const(fn(va, vb))

    def add(self, a, b):
        if self.is_zero(a):
            return b
        if self.is_zero(b):
            return a
        folded = self._fold(lambda x, y: x + y, a, b)
        return self.g.node(Op.ADD, (a, b)) if folded is None else folded

    def sub(self, a, b):
        if self.is_zero(b):
            return a
        if self.is_zero(a):
            return self.neg(b)
        return self.g.node(Op.SUB, (a, b))

    def neg(self, a):
        if self.is_zero(a):
            return None
        v = self._value(a)
        return self.g.node(Op.NEG, (a,)) if v is None else self.const(-v)

    def mul(self, a, b):
        if self.is_zero(a) or self.is_zero(b):
            return None
        for x, y in ((a, b), (b, a)):
            v = self._value(x)
            if v == 1:
                return y
            if v == -1:
                return self.neg(y)
        folded = self._fold(lambda x, y: x * y, a, b)
        return self.g.node(Op.MUL, (a, b)) if folded is None else folded

    def div(self, a, b):
        if self.is_zero(a):
            return None
        return a if self._value(b) == 1 else self.g.node(Op.DIV, (a, b))

    def op(self, op: Op, *args, attr=None) -> int:
        return self.g.node(op, tuple(args), attr)

    def conj(self, a):
        if a is None or self.g.types[a] is not T.COMPLEX:
            return a
        return self.g.node(Op.CONJ, (a,))

    def re(self, a):
        if a is None or self.g.types[a] is not T.COMPLEX:
            return a
        return self.g.node(Op.RE, (a,))

    def where(self, cond, a, b):
        if self.is_zero(a) and self.is_zero(b):
            return None
        zero = self.const(0)
        return self.g.node(Op.WHERE, (cond, zero if a is None else a, zero if b is None else b))


# ---- partial derivatives of the smooth ops: (builder, node, its args, arg index) -> node ----
def _sq(b: Builder, x: int) -> int:
    return b.mul(x, x)


def _d_powi(b: Builder, w: int, a: tuple, k: int):
    n = b.g.attrs[w]
    if n == 0:
        return None
    power = b.one if n == 1 else b.op(Op.POWI, a[0], attr=n - 1)
    return b.mul(b.const(n), power)


def _d_pow(b: Builder, w: int, a: tuple, k: int):
    x, y = a
    if k == 0:
        return b.mul(y, b.op(Op.POW, x, b.sub(y, b.one)))
    return b.mul(w, b.op(Op.LOG, x))


def _d_atan2(b: Builder, w: int, a: tuple, k: int):
    y, x = a
    r2 = b.add(_sq(b, x), _sq(b, y))
    return b.div(x, r2) if k == 0 else b.neg(b.div(y, r2))


PARTIALS = {
    Op.ADD: lambda b, w, a, k: b.one,
    Op.SUB: lambda b, w, a, k: b.one if k == 0 else b.const(-1),
    Op.MUL: lambda b, w, a, k: a[1 - k],
    Op.DIV: lambda b, w, a, k: b.div(b.one, a[1]) if k == 0 else b.neg(b.div(w, a[1])),
    Op.NEG: lambda b, w, a, k: b.const(-1),
    Op.FMA: lambda b, w, a, k: (a[1], a[0], b.one)[k],
    Op.POWI: _d_powi,
    Op.POW: _d_pow,
    Op.SQRT: lambda b, w, a, k: b.div(b.const(Fraction(1, 2)), w),
    Op.RSQRT: lambda b, w, a, k: b.mul(b.const(Fraction(-1, 2)), b.div(w, a[0])),
    Op.EXP: lambda b, w, a, k: w,
    Op.LOG: lambda b, w, a, k: b.div(b.one, a[0]),
    Op.SIN: lambda b, w, a, k: b.op(Op.COS, a[0]),
    Op.COS: lambda b, w, a, k: b.neg(b.op(Op.SIN, a[0])),
    Op.TAN: lambda b, w, a, k: b.add(b.one, _sq(b, w)),
    Op.ASIN: lambda b, w, a, k: b.op(Op.RSQRT, b.sub(b.one, _sq(b, a[0]))),
    Op.ACOS: lambda b, w, a, k: b.neg(b.op(Op.RSQRT, b.sub(b.one, _sq(b, a[0])))),
    Op.ATAN: lambda b, w, a, k: b.div(b.one, b.add(b.one, _sq(b, a[0]))),
    Op.ATAN2: _d_atan2,
    Op.SINH: lambda b, w, a, k: b.op(Op.COSH, a[0]),
    Op.COSH: lambda b, w, a, k: b.op(Op.SINH, a[0]),
    Op.TANH: lambda b, w, a, k: b.sub(b.one, _sq(b, w)),
    Op.ASINH: lambda b, w, a, k: b.op(Op.RSQRT, b.add(_sq(b, a[0]), b.one)),
    Op.ACOSH: lambda b, w, a, k: b.op(Op.RSQRT, b.sub(_sq(b, a[0]), b.one)),
    Op.ATANH: lambda b, w, a, k: b.div(b.one, b.sub(b.one, _sq(b, a[0]))),
}


# ---- the real-linear (non-holomorphic or selecting) ops: a forward and a reverse rule -------
def _select(b: Builder, w: int, a: tuple):
    """(condition, index of the arg chosen when it holds, the other) of where/min/max."""
    op = b.g.ops[w]
    if op is Op.WHERE:
        return a[0], 1, 2
    first, second = a
    cond = b.op(Op.LE, first, second) if op is Op.MIN else b.op(Op.LE, second, first)
    return cond, 0, 1


def _fwd_select(b, w, a, t):
    cond, yes, no = _select(b, w, a)
    return b.where(cond, t[yes], t[no])


def _rev_select(b, w, a, ct):
    cond, yes, no = _select(b, w, a)
    out = [None] * len(a)
    out[yes], out[no] = b.where(cond, ct, None), b.where(cond, None, ct)
    return out


def _abs_factor(b: Builder, w: int, x: int) -> int:
    """d|x| = Re(conj(f) dx) with f = x / |x| (complex) or sign(x) (real)."""
    if b.g.types[x] is T.COMPLEX:
        return b.div(x, w)
    return b.where(b.op(Op.LT, x, b.const(0)), b.const(-1), b.one)


LINEAR = {
    # op: (forward(builder, node, args, arg tangents), reverse(builder, node, args, adjoint))
    Op.WHERE: (_fwd_select, _rev_select),
    Op.MIN: (_fwd_select, _rev_select),
    Op.MAX: (_fwd_select, _rev_select),
    Op.RE: (lambda b, w, a, t: b.re(t[0]), lambda b, w, a, ct: [ct]),
    Op.IM: (lambda b, w, a, t: None if t[0] is None or b.g.types[t[0]] is not T.COMPLEX
            else b.op(Op.IM, t[0]),
            lambda b, w, a, ct: [b.mul(ct, b.const(1j))]),
    Op.CONJ: (lambda b, w, a, t: b.conj(t[0]), lambda b, w, a, ct: [b.conj(ct)]),
    Op.COMPLEX: (lambda b, w, a, t: None if t[0] is None and t[1] is None else
                 b.op(Op.COMPLEX, *(b.const(0) if x is None else x for x in t)),
                 lambda b, w, a, ct: [b.re(ct), None if b.g.types[ct] is not T.COMPLEX
                                      else b.op(Op.IM, ct)]),
    Op.ABS: (lambda b, w, a, t: b.re(b.mul(b.conj(_abs_factor(b, w, a[0])), t[0])),
             lambda b, w, a, ct: [b.mul(ct, _abs_factor(b, w, a[0]))]),
}


def _fwd_contract(b, w, a, t):
    zero = b.const(0)
    return b.op(Op.CONTRACT, *(zero if x is None else x for x in t), attr=b.g.attrs[w])


def _rev_contract(b, w, a, ct):
    """d out / d args[k] = W[row, k], an element of the param matrix."""
    pos, row = b.g.attrs[w]
    return [b.mul(ct, b.op(Op.PARAM, attr=(pos, (row, k)))) for k in range(len(a))]


# network layers: a contraction's tangent is the same contraction of the tangents (one more
# matrix product); only when the IR has the op
if hasattr(Op, "CONTRACT"):
    LINEAR[Op.CONTRACT] = (_fwd_contract, _rev_contract)


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
    from .passes.fold import evaluate     # the fold pass's arithmetic: same IEEE semantics
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
