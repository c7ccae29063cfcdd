"""Sharing between sums and products: the operations that chains of + and * have in common.

A chain is a maximal tree of one associative op whose inner nodes nobody else uses: a sum
of signed terms (+, -, negation) or a product of factors (*).  Reassociation builds each
chain on its own; this pass looks across chains.

- Factoring: terms of one sum that are products with a common factor take it out once,
  a x + a y -> a (x + y): one multiplication fewer for each term after the first.  The
  factor found in most terms goes first, and the new inner sum is factored again.
- Common pairs: the pair of operands that most chains hold is built once and takes their
  place in each (greedy, as in Paar's algorithm for multiplier blocks): the rotation
  products w_x s r, w_y s r, w_z s r share s r, one multiplication per product fewer.
  Pairs of per-call operands are left alone (they cost nothing per event).
- A product reads one of a - b and b - a when the graph has both, and takes the sign: the
  two products become one and its negation, and the sum that reads it takes that sign.
- A factor rsqrt(q) becomes a division by sqrt(q) where the graph computes sqrt(q) anyway
  (in double precision an rsqrt is itself a square root and a division).

Pairing sees a shared product as one operand, or, in a second variant for graphs that are
not too large, the products that read it hold its factors instead
(``_open_shared_products``).  The pass keeps whichever counts fewer flops per event, or its
input where neither saves any.
"""
from __future__ import annotations

import heapq
from itertools import combinations

from .. import cost
from ..graph import ADD, MUL, NEG, REAL, SUB, Graph, Op
from .rewrite import Pass, Rewrite

_PRODUCT_CHAIN, _SUM_CHAIN = 1, 2
_KIND = {MUL: _PRODUCT_CHAIN, ADD: _SUM_CHAIN, SUB: _SUM_CHAIN, NEG: _SUM_CHAIN}
MAX_PAIRED = 24      # operands of a chain that takes part in pairing (pairs grow as n^2)


class Chains:
    """Every chain of the old graph as operands, then rewritten by factoring and pairing.

    A chain's operands are node ids: below ``len(old)`` nodes of the old graph, above it
    chains this pass makes.  Products hold a list of factors, sums a list of (term, sign).
    """

    def __init__(self, rw: Rewrite):
        g = self.old = rw.old
        self.rw = rw
        self.n = len(g)
        self.kind: dict[int, int] = {}
        self.items: dict[int, list] = {}
        self.users = rw.users
        self.varying = g.varying()
        sole = rw.sole_user
        kinds = [_KIND.get(op, 0) if t is REAL else 0 for op, t in zip(g.ops, g.types)]
        inner = bytearray(len(g))
        for i in range(len(g)):
            u = sole[i]
            if kinds[i] and u >= 0 and kinds[u] == kinds[i]:
                inner[i] = 1
                rw.visit[i] = 0
        self.sign: dict[int, int] = {}             # product -> -1 when it is negated
        self.opposite = self._opposites()
        for i in range(len(g)):
            if rw.visit[i] and kinds[i]:
                self.kind[i] = kinds[i]
                self.items[i] = self._flatten(i, inner)
        self.sqrt_of = {g.args[i][0]: i for i in range(len(g))
                        if rw.visit[i] and g.ops[i] is Op.SQRT and g.types[i] is REAL}
        self.built: dict[int, int] = {}
        if rw.options.get("open_shared"):
            self._open_shared_products()
        sums = [i for i, k in self.kind.items() if k == _SUM_CHAIN]
        for root in sums:
            self._signs_into_sum(root)
        for root in sums:
            self._factor(root)
        self._pair(_PRODUCT_CHAIN)
        self._pair(_SUM_CHAIN)

    def _opposites(self) -> dict[int, int]:
        """a - b -> b - a, for the differences whose opposite is in the graph too (a product
        reads the one with the lower id and takes the sign: the two products are then one
        value and its negation)."""
        g, live = self.old, self.rw.visit
        differences = {tuple(g.args[i]): i for i in range(len(g))
                       if live[i] and g.ops[i] is SUB and g.types[i] is REAL}
        return {i: differences[(b, a)] for (a, b), i in differences.items()
                if (b, a) in differences and differences[(b, a)] < i}

    def _flatten(self, root: int, inner: bytearray) -> list:
        g = self.old
        out, stack = [], [(root, 1)]
        while stack:
            n, s = stack.pop()
            if n != root and not inner[n]:
                if self.kind[root] == _SUM_CHAIN:
                    out.append((n, s))
                elif n in self.opposite:
                    out.append(self.opposite[n])
                    self.sign[root] = -self.sign.get(root, 1)
                else:
                    out.append(n)
                continue
            op, a = g.ops[n], g.args[n]
            if op is MUL or op is ADD:
                stack += [(a[1], s), (a[0], s)]
            elif op is SUB:
                stack += [(a[1], -s), (a[0], s)]
            else:
                stack.append((a[0], -s))
        return out

    def _open_shared_products(self) -> None:
        """A product that reads another product (one that others read too) holds that one's
        factors instead: v t9 w and t9 w are then chains over the same operands, and pairing
        finds what they share, where each alone would be built from its own shared parts."""
        for c in sorted(i for i, k in self.kind.items() if k == _PRODUCT_CHAIN):
            factors = self.items[c]
            opened = [x for f in factors for x in (
                self.items[f] if self.kind.get(f) == _PRODUCT_CHAIN and self.sign.get(f, 1) > 0
                else [f])]
            if len(opened) != len(factors) and len(opened) <= MAX_PAIRED:
                self.items[c] = opened

    def _signs_into_sum(self, root: int) -> None:
        """A negated product that only this sum reads gives its sign to its term: a
        subtraction instead of a negation."""
        self.items[root] = [(t, s * self.sign.pop(t, 1) if self._open_factors(t) else s)
                            for t, s in self.items[root]]

    def _new(self, kind: int, items: list) -> int:
        i = self.n + len(self.built)
        self.built[i] = -1
        self.kind[i], self.items[i] = kind, items
        return i

    def _operands(self, c: int) -> list:
        items = self.items[c]
        return items if self.kind[c] == _PRODUCT_CHAIN else [t for t, _ in items]

    def _varying_operand(self, i: int) -> bool:
        return i >= self.n or bool(self.varying[i])

    # ---- factoring ------------------------------------------------------------------------
    def _open_factors(self, t: int):
        """The factors of term t when it is a product only its sum uses, else None."""
        if self.kind.get(t) != _PRODUCT_CHAIN:
            return None
        if t < self.n and (self.users[t] != 1 or self.rw.sole_user[t] < 0):
            return None
        return self.items[t]

    def _open_products(self, root: int) -> None:
        """Open up the shared products that only this sum's product terms read: for
        a b x + a b y + a z, the a b of the first two terms, so that a comes out of all three."""
        reads: dict[int, int] = {}
        for t, _ in self.items[root]:
            for f in self._open_factors(t) or ():
                if f < self.n and self.kind.get(f) == _PRODUCT_CHAIN:
                    reads[f] = reads.get(f, 0) + 1
        whole = {f for f, k in reads.items() if k == self.users[f] and self.sign.get(f, 1) > 0}
        if not whole:
            return
        for t, _ in self.items[root]:
            factors = self._open_factors(t)
            if factors and whole.intersection(factors):
                self.items[t] = [x for f in factors for x in (self.items[f] if f in whole else [f])]
        for f in whole:
            self.rw.visit[f] = 0
            del self.kind[f], self.items[f]

    def _factor(self, root: int) -> None:
        """Common factors out of the sum ``root``, then out of each inner sum this makes."""
        self._open_products(root)
        work = [root]
        while work:
            s = work.pop()
            terms = self.items[s]
            groups = self._groups_by_factor(terms)
            taken = {k for _, members in groups for k in members}
            items = [term for k, term in enumerate(terms) if k not in taken]
            for f, members in groups:
                inner = []
                for k in members:
                    t, sign = terms[k]
                    rest = list(self.items[t])
                    rest.remove(f)
                    if t < self.n:
                        self.rw.visit[t] = 0           # its value is not needed any more
                        del self.kind[t], self.items[t]
                    inner.append((rest[0] if len(rest) == 1
                                  else self._new(_PRODUCT_CHAIN, rest), sign))
                inside = self._new(_SUM_CHAIN, inner)
                items.append((self._new(_PRODUCT_CHAIN, [f, inside]), 1))
                work.append(inside)
            self.items[s] = items

    def _groups_by_factor(self, terms: list) -> list:
        """(factor, positions of the terms it comes out of), most shared first: each product
        term goes to the group of its factor that most terms hold, if at least two do.  A
        per-call factor counts only in a term with no other one: the per-call part of a
        product is one value, computed once per call, and taking one of its factors out
        would move the others' multiplication into the events."""
        holders: dict[int, list] = {}
        counted = {}
        for k, (t, _) in enumerate(terms):
            factors = self._open_factors(t)
            if not factors:
                continue
            per_call = {f for f in factors if not self._varying_operand(f)}
            counted[k] = set(factors) - per_call if len(per_call) > 1 else set(factors)
            for f in counted[k]:
                holders.setdefault(f, []).append(k)
        count = {f: len(ks) for f, ks in holders.items()}
        heap = [(-n, f) for f, n in count.items() if n > 1]
        heapq.heapify(heap)
        taken: set[int] = set()
        groups = []
        while heap:
            n, f = heapq.heappop(heap)
            if -n != count[f]:           # some of its terms went to another factor's group
                if count[f] > 1:
                    heapq.heappush(heap, (-count[f], f))
                continue
            members = [k for k in holders[f] if k not in taken]
            groups.append((f, members))
            taken.update(members)
            for k in members:
                for other in counted[k]:
                    count[other] -= 1
        return groups

    # ---- common pairs ---------------------------------------------------------------------
    def _pair_keys(self, kind: int, items: list):
        """The key of each pair of distinct operands, not both per call; a sum's key holds
        the relative sign, so a - b and b - a are one pair."""
        if kind == _PRODUCT_CHAIN:
            for a, b in combinations(sorted(set(items)), 2):
                if self._varying_operand(a) or self._varying_operand(b):
                    yield a, b
        elif len(items) > 2 or min(items)[1] > 0:     # (-a + b as -(a - b) costs a negation)
            for (a, sa), (b, sb) in combinations(sorted(set(items)), 2):
                if a != b and (self._varying_operand(a) or self._varying_operand(b)):
                    yield a, b, sa * sb

    def _pair(self, kind: int) -> None:
        holders: dict[tuple, set] = {}
        for c, k in self.kind.items():
            if k == kind and len(self.items[c]) <= MAX_PAIRED:
                for key in self._pair_keys(kind, self.items[c]):
                    holders.setdefault(key, set()).add(c)
        heap = [(-len(cs), key) for key, cs in holders.items() if len(cs) > 1]
        heapq.heapify(heap)
        while heap:
            count, key = heapq.heappop(heap)
            chains = holders.get(key, ())
            if len(chains) != -count:
                if len(chains) > 1:
                    heapq.heappush(heap, (-len(chains), key))
                continue
            a, b = key[0], key[1]
            pair = self._new(kind, [a, b] if kind == _PRODUCT_CHAIN else [(a, 1), (b, key[2])])
            for c in sorted(chains):
                old = self.items[c]
                for old_key in self._pair_keys(kind, old):
                    holders[old_key].discard(c)
                new = list(old)
                if kind == _PRODUCT_CHAIN:
                    new.remove(a)
                    new.remove(b)
                    new.append(pair)
                else:
                    # (a may be there with both signs: x - x is kept where unsafe is off)
                    sign = next(s for t, s in old if t == a and (b, s * key[2]) in old)
                    new.remove((a, sign))
                    new.remove((b, sign * key[2]))
                    new.append((pair, sign))
                self.items[c] = new
                for new_key in self._pair_keys(kind, new):
                    holders.setdefault(new_key, set()).add(c)
                    n = len(holders[new_key])
                    if n > 1 and pair in new_key[:2]:
                        heapq.heappush(heap, (-n, new_key))

    # ---- building ------------------------------------------------------------------------
    def _node(self, x: int) -> int:
        """The new node of operand x (an old node the driver has mapped, or a built chain)."""
        return self.rw.mapping[x] if x < self.n else self.built[x]

    def _denominators(self, factors: list, root: int) -> dict:
        """Position -> sqrt(x) node (new) of each per-event factor rsqrt(x) whose sqrt(x) the
        graph computes anyway and the driver has built (it comes before ``root``): dividing
        by it saves the rsqrt (itself a sqrt and a division where the hardware has no
        reciprocal square root in this precision)."""
        g = self.old
        return {k: self._node(self.sqrt_of[g.args[f][0]]) for k, f in enumerate(factors)
                if f < self.n and g.ops[f] is Op.RSQRT and self.varying[f]
                and self.sqrt_of.get(g.args[f][0], root) < root}

    def _product(self, factors: list, denominators: dict) -> int:
        b = self.rw.b
        top = sorted(f for k, f in enumerate(factors) if k not in denominators)
        if not denominators:
            return b.balanced(MUL, top)
        bottom = b.balanced(MUL, sorted(denominators.values()))
        return b(Op.DIV, b.balanced(MUL, top) if top else b.const(1), bottom)

    def emit(self, root: int) -> int:
        """The new node of chain ``root``, building the chains it reads first."""
        b, built = self.rw.b, self.built
        stack = [root]
        while stack:
            c = stack[-1]
            if c >= self.n and built[c] >= 0:      # (read by two chains of this root)
                stack.pop()
                continue
            operands = self._operands(c)
            pending = [x for x in operands if x >= self.n and built[x] < 0]
            if pending:
                stack += pending
                continue
            stack.pop()
            if self.kind[c] == _PRODUCT_CHAIN:
                value = self._product([self._node(x) for x in operands],
                                      self._denominators(operands, root))
                if self.sign.get(c, 1) < 0:
                    value = b(NEG, value)
            else:
                plus = sorted(self._node(t) for t, s in self.items[c] if s > 0)
                minus = sorted(self._node(t) for t, s in self.items[c] if s < 0)
                value = b.balanced(ADD, plus) if plus else None
                if minus:
                    value = b(NEG, b.balanced(ADD, minus)) if value is None \
                        else b(SUB, value, b.balanced(ADD, minus))
            if c < self.n:
                return value
            built[c] = value
        return built[root]


def _chain(rw: Rewrite, i: int):
    chains = rw.state
    return chains.emit(i) if i in chains.kind else None


# the rules alone (tests check their values where the score would hide a wrong rewrite)
rules = dict.fromkeys(_KIND, _chain)
OPEN_SHARED_MAX = 20_000    # live nodes: the second variant builds the graph a second time


def _variants(g: Graph) -> tuple:
    """Opening shared products finds more pairs on some graphs (EKF Jacobians) and splits
    what was shared on others (a track transport Jacobian), so on graphs of up to
    OPEN_SHARED_MAX nodes both are built and the one with fewer flops kept.  Larger graphs
    (matrix elements, where opening found nothing) are built once, without."""
    closed = {"open_shared": False}
    return (closed, {"open_shared": True}) if cost.live_nodes(g) <= OPEN_SHARED_MAX else (closed,)


share = Pass("share", start=Chains, rules=rules, score=cost.flops, variants=_variants)
