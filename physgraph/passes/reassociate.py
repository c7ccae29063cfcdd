"""Re-association of sums and products.

Chains of + - and of * / ** n are flattened (through nodes nobody else uses, so no shared
value is ever recomputed) into a linear combination of terms, or a product of factors with
integer exponents and one constant coefficient.  Then they are rebuilt in a normal form:

- like terms and repeated factors merge (x + x -> 2 x, x * x -> x ** 2); constants fold;
- terms that share a coefficient share one multiplication: 2 a + 2 b -> 2 (a + b);
- per-call factors and terms (params, constants) are grouped into one value, which the
  backends compute once per call instead of once per event: (x * g) * h -> x * (g * h),
  and x / g -> x * (1 / g);
- operands are sorted by id and combined as balanced trees, so a*b*c and a*b*d share a*b
  and long sums have short dependency chains (instruction-level parallelism);
- three or more constant multiples of powers of one value (a polynomial in it) are
  evaluated by Estrin's scheme: pairs c0 + c1 x, then pairs of those with x**2, x**4...
  It is about as cheap as Horner's rule with a log-depth dependency chain, and repeated
  coefficients collapse by hash-consing: x + x**2 + ... + x**8 -> x (1+x) (1+x**2) (1+x**4).

x - x and x / x cancel only with ``unsafe=True`` (they differ when x is inf or NaN).
"""
from __future__ import annotations

from fractions import Fraction

from ..graph import ADD, CONST, DIV, MUL, NEG, POWI, REAL, SUB, Graph, Op
from .rewrite import Pass, Rewrite

_ADDITIVE = frozenset({ADD, SUB})
_SUM = _ADDITIVE | {NEG}
_CONSTANT = -1     # key of a sum's constant term among its (term id -> coefficient) items
_MULTIPLICATIVE = frozenset({MUL, DIV, POWI})
_PRODUCT = _MULTIPLICATIVE | {NEG}


def _absorbed(rw: Rewrite) -> tuple[bytearray, bytearray]:
    """Nodes whose only use is a sum (resp. product): flattened into it, never built (the
    driver does not visit them).

    Walked from the last node back, so a node's single user is classified first; a NEG
    between the two decides by what it is absorbed into itself.
    """
    g, user, visit = rw.old, rw.sole_user, rw.visit
    ops, types = g.ops, g.types
    in_sum, in_product = bytearray(len(g)), bytearray(len(g))
    for i in range(len(g) - 1, -1, -1):
        u = user[i]
        if u < 0 or types[i] is not REAL or types[u] is not REAL:
            continue
        uop = ops[u]
        if ops[i] in _SUM and (uop in _ADDITIVE or uop is NEG and not in_product[u]):
            in_sum[i] = 1
            visit[i] = 0
        elif ops[i] in _PRODUCT and (uop in _MULTIPLICATIVE
                                     or uop is NEG and not in_sum[u]):
            in_product[i] = 1
            visit[i] = 0
    return in_sum, in_product


def _const_value(g: Graph, i: int):
    if g.ops[i] is CONST and g.types[i] is REAL:
        return g.attrs[i]
    return None


def _scaled(g: Graph, i: int):
    """(c, x) when node i is c * x with c a nonzero constant and x not one; else (None, i)."""
    if g.ops[i] is not MUL:
        return None, i
    for c, x in (g.args[i], g.args[i][::-1]):
        value = _const_value(g, c)
        if value is not None and value != 0 and _const_value(g, x) is None:
            return value, x
    return None, i


class Reassociator:
    """Per run: what is flattened where, and the sums built so far."""

    def __init__(self, rw: Rewrite):
        g = self.old = rw.old
        self.new, self.b, self.mapping = rw.new, rw.b, rw.mapping
        self.unsafe = rw.options["unsafe"]
        self.in_sum, self.in_product = _absorbed(rw)
        self.sole_user = rw.sole_user
        self.outputs = set(g.output_nodes())       # and the parts of complex outputs:
        self.outputs |= {a for n in list(self.outputs) if g.ops[n] is Op.COMPLEX for a in g.args[n]}
        # values some node reads other than as a term or factor (atan2, sqrt, ...): a sign
        # flipped there costs a negation, so their differences keep the sign they have
        self.sign_kept = set(self.outputs)
        ops, args, live = g.ops, g.args, rw.visit
        for i in range(len(g)):
            if live[i] and ops[i] not in _SUM and ops[i] not in _PRODUCT:
                self.sign_kept.update(args[i])
        self.sums_with: dict[int, list] = {}     # term -> [(terms of a built sum, node)]

    # ---- sums -----------------------------------------------------------------------------
    def sum(self, root: int) -> int:
        g = self.old
        coeffs: dict[int, object] = {}
        constant = 0          # coefficients are int, Fraction or float: ints are exact and
        stack = [(root, 1)]   # much cheaper than Fractions, and equal to them in every comparison
        while stack:
            n, k = stack.pop()
            op = g.ops[n]
            if n == root or self.in_sum[n]:
                a = g.args[n]
                if op is ADD:
                    stack += [(a[0], k), (a[1], k)]
                elif op is SUB:
                    stack += [(a[0], k), (a[1], -k)]
                else:
                    stack.append((a[0], -k))
                continue
            term, k = self._peel(self.mapping[n], k, self.sole_user[n] >= 0)
            c = _const_value(self.new, term)
            if c is not None:
                constant += c * k
            else:
                coeffs[term] = coeffs.get(term, 0) + k
        if constant != 0:
            coeffs[_CONSTANT] = constant
        if len(coeffs) > 2:   # (fewer terms: no smaller built sum, no three powers)
            coeffs = self._polynomial(self._reuse_sums(coeffs))
        registered = dict(coeffs)
        node = self._rebuild_sum(coeffs, coeffs.pop(_CONSTANT, 0), root not in self.sign_kept)
        if len(registered) > 1:
            for t in registered:
                self.sums_with.setdefault(t, []).append((registered, node))
        return node

    def _reuse_sums(self, coeffs: dict) -> dict:
        """Replace terms that form an already built sum (up to a common factor) by it:
        SymPy flattens q + q**2 into a + b + c + q**2 and loses the q it shares."""
        for _ in range(4):
            best = None
            for t in sorted(coeffs)[:4]:
                for terms, node in self.sums_with.get(t, ())[-32:]:
                    if len(terms) >= len(coeffs) or (best and len(terms) <= len(best[0])) \
                            or terms[t] == 0 or coeffs[t] == 0:
                        continue
                    ratio = Fraction(coeffs[t]) / terms[t] \
                        if isinstance(coeffs[t], int) else coeffs[t] / terms[t]
                    if all(coeffs.get(u) == ratio * k for u, k in terms.items()):
                        best = (terms, node, ratio)
            if best is None:
                return coeffs
            terms, node, ratio = best
            coeffs = {u: k for u, k in coeffs.items() if u not in terms}
            node, ratio = self._peel(node, ratio, False)
            coeffs[node] = coeffs.get(node, 0) + ratio
        return coeffs

    def _polynomial(self, coeffs: dict) -> dict:
        """Terms that are constant multiples of powers of one base (the base with most such
        terms, at least three, the constant term counted) become one Estrin evaluation."""
        new = self.new
        by_base: dict[int, dict] = {}
        for t, k in coeffs.items():
            if t == _CONSTANT or not isinstance(k, (int, Fraction, float)):
                continue
            base, e = (new.args[t][0], new.attrs[t]) if new.ops[t] is POWI else (t, 1)
            if e > 0:
                by_base.setdefault(base, {})[e] = t
        if not by_base:
            return coeffs
        base, powers = max(by_base.items(), key=lambda kv: (len(kv[1]), -kv[0]))
        poly = {e: coeffs[t] for e, t in powers.items()}
        if _CONSTANT in coeffs:
            poly[0] = coeffs[_CONSTANT]
        if len(poly) < 3 or max(poly) < 2:
            return coeffs
        rest = {t: k for t, k in coeffs.items() if t not in powers.values()}
        rest.pop(_CONSTANT, None)
        rest[self._estrin(base, poly)] = Fraction(1)
        return rest

    def _estrin(self, x: int, poly: dict) -> int:
        """sum c_e x**e by Estrin's scheme, the lowest power factored out."""
        b = self.b
        low = min(poly)
        level = [None] * (max(poly) - low + 1)           # None: a zero coefficient
        for e, c in poly.items():
            level[e - low] = b.const(c)
        power = x
        while len(level) > 1:
            pairs = []
            for j in range(0, len(level), 2):
                lo, hi = level[j], level[j + 1] if j + 1 < len(level) else None
                if hi is not None:
                    hi = b(MUL, power, hi)
                    lo = hi if lo is None else b(ADD, lo, hi)
                pairs.append(lo)
            level = pairs
            if len(level) > 1:
                power = b(MUL, power, power)
        result = level[0]
        if low:
            result = b(MUL, x if low == 1 else b(POWI, x, attr=low), result)
        return result

    def _peel(self, t: int, k, single_use: bool):
        """Move a constant factor of term t (new graph) into its coefficient."""
        new = self.new
        if new.ops[t] is NEG:
            return new.args[t][0], -k
        if single_use and new.ops[t] is MUL:
            x, y = new.args[t]
            for c, rest in ((x, y), (y, x)):
                v = _const_value(new, c)
                if v is not None:
                    return rest, k * v
        return t, k

    def _rebuild_sum(self, coeffs: dict, constant, canonical_sign: bool = False) -> int:
        """Terms sharing a coefficient magnitude share its multiplication.  A difference
        of two terms has a canonical sign, so b - a is built as -(a - b) and shares it (the
        sign is then free: products and sums take it into their coefficients; not so for an
        output or another op's operand, which keep their natural sign)."""
        b = self.b
        if canonical_sign and len(coeffs) == 2 and constant == 0 and coeffs[min(coeffs)] < 0 < coeffs[max(coeffs)]:
            flipped = {t: -k for t, k in coeffs.items()}
            return b(NEG, self._rebuild_sum(flipped, -constant))
        groups: dict = {}
        plus, minus = [], []
        for term, k in coeffs.items():
            if k == 0:   # x - x is NaN for infinite x: keep what cancels unless unsafe
                if not self.unsafe:
                    plus.append(b(SUB, term, term))
            else:
                groups.setdefault(abs(k), ([], []))[0 if k > 0 else 1].append(term)
        for mag, (pos, neg) in sorted(groups.items(), key=lambda kv: min(kv[1][0] + kv[1][1])):
            if pos:
                s = b.balanced(ADD, sorted(pos))
                if neg:
                    s = b(SUB, s, b.balanced(ADD, sorted(neg)))
                plus.append(s if mag == 1 else b(MUL, b.const(mag), s))
            else:
                s = b.balanced(ADD, sorted(neg))
                minus.append(s if mag == 1 else b(MUL, b.const(mag), s))
        if constant != 0:
            (plus if constant > 0 else minus).append(b.const(abs(constant)))
        if not plus and not minus:
            return b.const(0)
        if not minus:
            return b.balanced(ADD, plus)
        if not plus:
            return b(NEG, b.balanced(ADD, minus))
        return b(SUB, b.balanced(ADD, plus), b.balanced(ADD, minus))

    # ---- products -------------------------------------------------------------------------
    def product(self, root: int) -> int:
        g = self.old
        num: dict[int, int] = {}
        den: dict[int, int] = {}
        coeff = 1
        # the coefficient of a product whose only use is a sum costs nothing: the sum takes it
        free = self.sole_user[root] >= 0 and g.ops[self.sole_user[root]] in _SUM
        stack = [(root, 1)]
        while stack:
            n, e = stack.pop()
            op = g.ops[n]
            if n == root or self.in_product[n]:
                a = g.args[n]
                if op is MUL:
                    stack += [(a[0], e), (a[1], e)]
                elif op is DIV:
                    stack += [(a[0], e), (a[1], -e)]
                elif op is POWI:
                    stack.append((a[0], e * g.attrs[n]))
                else:
                    coeff = -coeff if e % 2 else coeff
                    stack.append((a[0], e))
                continue
            f = self.mapping[n]
            while True:
                if self.new.ops[f] is NEG:     # a sign costs nothing in the coefficient
                    f = self.new.args[f][0]
                    coeff = -coeff if e % 2 else coeff
                    continue
                scale, rest = _scaled(self.new, f) if free else (None, f)
                if scale is None or abs(e) > 64:
                    break
                # then nor does a constant factor of a shared value: 2 q * r -> 2 (q r),
                # and the q r of -2 q * r is the same value (the 2 q may go unused)
                coeff *= scale ** e if isinstance(scale, Fraction) else float(scale) ** e
                f = rest
            c = _const_value(self.new, f)
            if c is not None and (c != 0 or e > 0) and abs(e) <= 64:
                coeff *= c ** e if isinstance(c, Fraction) else float(c) ** e
            else:
                side = num if e > 0 else den
                side[f] = side.get(f, 0) + abs(e)
        if self.unsafe:
            for f in set(num) & set(den):
                common = min(num[f], den[f])
                num[f] -= common
                den[f] -= common
        return self._rebuild_product(num, den, coeff)

    def _rebuild_product(self, num: dict, den: dict, coeff) -> int:
        b = self.b
        if coeff == 0:
            return b.const(0)
        factors = lambda d: [f if e == 1 else b(POWI, f, attr=e)   # noqa: E731
                             for f, e in sorted(d.items()) if e]
        (var_top, uniform_top), (var_bottom, uniform_bottom) = map(b.by_varying,
                                                                   (factors(num), factors(den)))
        # one per-call factor: coefficient * params / params
        u = b.const(coeff)
        if uniform_top:
            u = b(MUL, u, b.balanced(MUL, uniform_top))
        if uniform_bottom:
            u = b(DIV, u, b.balanced(MUL, uniform_bottom))
        result = b.balanced(MUL, var_top) if var_top else None
        if var_bottom:
            result = b(DIV, result if result is not None else u, b.balanced(MUL, var_bottom))
            if not var_top:
                return result
        return u if result is None else b(MUL, u, result)


def _sum(rw: Rewrite, i: int):
    return rw.state.sum(i) if rw.old.types[i] is REAL else None


def _product(rw: Rewrite, i: int):
    return rw.state.product(i) if rw.old.types[i] is REAL else None


def _negation(rw: Rewrite, i: int):
    g = rw.old
    if g.types[i] is not REAL:
        return None
    return rw.state.sum(i) if g.ops[g.args[i][0]] in _SUM else rw.state.product(i)


reassociate = Pass("reassociate", options={"unsafe": False}, start=Reassociator,
                   rules={ADD: _sum, SUB: _sum, NEG: _negation,
                          MUL: _product, DIV: _product, POWI: _product})
