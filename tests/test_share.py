"""The share pass: common factors out of sums, operand pairs shared between chains, divisions
by a square root already computed, one product for a - b and b - a.  Values are checked
against SymPy, counts against the operations the rewritten code must still do."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import physgraph as pg
from physgraph import cost, passes
from physgraph.graph import Arg, Graph, Op, Output
from physgraph.passes.rewrite import Pass
from physgraph.passes.share import Chains, rules, share
from test_passes import PARAMS, evaluate

a, b, c, x, y, z, w, s, r, v_ = sp.symbols("a b c x y z w s r v")


def _flops_and_values(outputs, inputs, params=()) -> int:
    k = pg.compile(outputs, inputs=inputs, params=list(params), backend="numpy")
    rng = np.random.default_rng(5)
    values = [rng.uniform(0.5, 1.5, 8) for _ in inputs] + [rng.uniform(0.5, 1.5) for _ in params]
    got = k(*values)
    got = got if isinstance(got, tuple) else (got,)
    want = sp.lambdify([*inputs, *params], outputs)(*values)
    for have, exact in zip(got, want):
        np.testing.assert_allclose(have, exact, rtol=1e-13)
    return k.stats["flops_out"]


@pytest.mark.parametrize("outputs, inputs, flops", [
    # a x + a y -> a (x + y)
    ([a * x + a * y], [a, x, y], 2),
    # factored twice: a (b (x + y) + z)
    ([a * b * x + a * b * y + a * z], [a, b, x, y, z], 4),
    # the common factor of a difference: a (x - y) + b
    ([a * x - a * y + b], [a, b, x, y], 3),
], ids=["two-terms", "nested", "difference"])
def test_common_factors_come_out_of_sums(outputs, inputs, flops):
    assert _flops_and_values(outputs, inputs) == flops


def test_products_that_read_a_shared_product_pair_its_factors():
    """An EKF Jacobian's pattern (ekf-ctrv in the corpus): v a / w, a / w and v a / w**2 with
    v a shared.  Opened, the products pair v / w and a / w across all of them: 13 flops,
    16 with v a kept as one operand."""
    outputs = [v_ * a / w, a / w, b * v_ * c / w - v_ * a / w**2,
               v_ * s / w, s / w, b * v_ * x / w - v_ * s / w**2]
    assert _flops_and_values(outputs, [v_, a, w, b, c, s, x]) == 13


def test_per_call_coefficients_stay_per_call():
    """u v x + u w y with u, v, w params: each term's coefficient is one per-call value, so
    u does not come out (that would make v x + w y two per-event multiplications and u a
    third); a x + a y beside it still becomes a (x + y)."""
    outputs = [s * r * x + s * w * y, a * x + a * y]
    assert _flops_and_values(outputs, [x, y, a], params=[s, r, w]) == 5


def test_products_share_the_pair_they_have_in_common():
    """w_i s r for three w_i: s r once, then one multiplication per product."""
    outputs = [x * s * r, y * s * r, z * s * r]
    assert _flops_and_values(outputs, [x, y, z, s, r]) == 4


def test_division_by_the_square_root_already_computed():
    """sqrt(q) is an output, so x / sqrt(q) divides by it instead of taking rsqrt(q)."""
    q = a**2 + b**2
    outputs = [sp.sqrt(q), x / sp.sqrt(q), y / sp.sqrt(q)]
    assert _flops_and_values(outputs, [a, b, x, y]) == 6    # 2 squares, +, sqrt, 2 divisions


def test_divisions_by_a_square_share_the_reciprocal():
    """x / w, u / w, y / w**2, z / w**2: one division, 1/w squared, four products (strength
    reduction; w**2 has no other use, so 1/w**2 is (1/w)**2)."""
    outputs = [x / w, a / w, y / w**2, z / w**2]
    assert _flops_and_values(outputs, [x, y, z, a, w]) == 6


def test_opposite_differences_share_one_product():
    """atan2 reads a - b as it is; (b - a) c is then the negation of (a - b) c."""
    outputs = [sp.atan2(a - b, c), (b - a) * c, (a - b) * c]
    assert _flops_and_values(outputs, [a, b, c]) == 4        # a - b, atan2, product, negation


@st.composite
def sums_of_products(draw):
    """Outputs that are signed sums of products of a few shared atoms: the inputs, a
    per-call value, a difference and its opposite, square roots and their reciprocals."""
    g = Graph()
    for k in range(4):
        g.add_arg(Arg(f"x{k}", f"x{k}"))
    for name in PARAMS:
        g.add_arg(Arg(name, name, role="param"))
    leaves = [g.leaf(k) for k in range(6)]
    q, late = g.node(Op.ADD, (leaves[0], leaves[1])), g.node(Op.ADD, (leaves[1], leaves[2]))
    atoms = leaves + [g.node(Op.SUB, (leaves[2], leaves[3])), g.node(Op.SUB, (leaves[3], leaves[2])),
                      g.node(Op.SQRT, (q,)), g.node(Op.RSQRT, (q,)), g.node(Op.RSQRT, (late,))]
    outputs, terms = [], []
    for _ in range(draw(st.integers(1, 4))):
        total = None
        for _ in range(draw(st.integers(1, 4))):
            if terms and draw(st.booleans()):      # a term again: x - x stays (not unsafe)
                term = draw(st.sampled_from(terms))
            else:
                factors = draw(st.lists(st.sampled_from(atoms), min_size=1, max_size=3))
                term = factors[0]
                for f in factors[1:]:
                    term = g.node(Op.MUL, (term, f))
                terms.append(term)
            if total is None:
                total = term
            else:
                total = g.node(draw(st.sampled_from([Op.ADD, Op.SUB])), (total, term))
        outputs.append(total)
    if draw(st.booleans()):         # a square root made after the products that read its rsqrt
        outputs.append(g.node(Op.SQRT, (late,)))
    g.outputs = [Output(f"out{k}", (), (o,)) for k, o in enumerate(outputs)]
    return g


def _assert_same_values(before, after):
    # terms are products of values in [0.5, 2]: a sum that cancels to 0 is 0 within rounding
    # of terms of order one, whatever the order of its additions
    for want, got in zip(before, after):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


# every rewrite taken, whether or not it saves flops (share keeps its input when it does
# not, which would hide a wrong rewrite from a values check)
share_always = Pass("share-always", start=Chains, rules=rules, options={"open_shared": False})


@settings(max_examples=150, deadline=None)
@given(g=sums_of_products(), open_shared=st.booleans())
def test_share_keeps_values_and_never_adds_flops(g, open_shared):
    folded, _ = passes.optimize(g, 1)
    _assert_same_values(evaluate(g), evaluate(share_always(folded, open_shared=open_shared)))
    after = share(folded)
    assert cost.flops(after) <= cost.flops(folded)
    _assert_same_values(evaluate(g), evaluate(after))
    optimized, _ = passes.optimize(g, 2)
    _assert_same_values(evaluate(g), evaluate(optimized))
