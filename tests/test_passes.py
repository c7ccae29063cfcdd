"""Every pass preserves values: random well-conditioned graphs, evaluated before and after.

The generator keeps every real intermediate positive or sign-definite (no catastrophic
cancellation), and complex values are compared norm-wise, so a relative error of 1e-12 is a
fair bound for float64 rounding differences and anything larger is a broken rewrite.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from physgraph import cost, passes
from physgraph.backends.numpy_ import NumpyPrinter
from physgraph.graph import Arg, Graph, Op, Output
from physgraph.passes.pipeline import LEVELS
from physgraph.passes.reassociate import reassociate
from physgraph.passes.strength import strength

N_EVENTS = 64
RNG = np.random.default_rng(7)
INPUTS = [RNG.uniform(0.5, 2.0, N_EVENTS) for _ in range(4)]
PARAMS = {"g": 1.3, "h": 0.7}
ALL_PASSES = sorted({p for level in LEVELS.values() for p in level}, key=lambda p: p.__name__)


def evaluate(g: Graph) -> list[np.ndarray]:
    printer = NumpyPrinter()
    fn = printer.load(printer.source(g))
    outs = [np.empty((N_EVENTS, *o.shape), complex) for o in g.outputs]
    printer.run(fn, N_EVENTS, INPUTS + [PARAMS["g"], PARAMS["h"]], outs)
    return outs


@st.composite
def graphs(draw, max_steps: int = 40):
    """A random graph; values tagged P (positive real), R (nonzero real), C (complex)."""
    g = Graph()
    for k in range(4):
        g.add_arg(Arg(f"x{k}", f"x{k}"))
    for name in PARAMS:
        g.add_arg(Arg(name, name, role="param"))
    pool = {"P": [g.leaf(k) for k in range(6)], "R": [], "C": []}

    def pick(kind):
        return draw(st.sampled_from(pool[kind]))

    def add(kind, node):
        pool[kind].append(node)

    steps = draw(st.integers(3, max_steps))
    for _ in range(steps):
        choice = draw(st.integers(0, 21))
        n = g.node
        if choice == 0:
            add("P", n(Op.ADD, (pick("P"), pick("P"))))
        elif choice == 1:
            add("P", n(Op.MUL, (pick("P"), pick("P"))))
        elif choice == 2:
            add("P", n(Op.DIV, (pick("P"), pick("P"))))
        elif choice == 3:
            add("P", n(Op.SQRT, (pick("P"),)))
        elif choice == 4:
            p = pick("P")
            add("P", n(Op.EXP, (n(Op.DIV, (p, n(Op.ADD, (p, pick("P"))))),)))
        elif choice == 5:
            add("P", n(Op.LOG, (n(Op.ADD, (pick("P"), g.const(1))),)))
        elif choice == 6:
            add("P", n(Op.POWI, (pick("P"),), draw(st.integers(-3, 5))))
        elif choice == 7:
            a, b = pick("P"), pick("P")
            add("P", n(Op.WHERE, (n(Op.LT, (a, b)), a, b)))
        elif choice == 8:
            add("R", n(Op.NEG, (pick("P"),)))
        elif choice == 9 and pool["R"]:
            add("R", n(Op.MUL, (pick("R"), pick(draw(st.sampled_from("PR"))))))
        elif choice == 10 and pool["R"]:
            add("R", n(Op.SUB, (pick("R"), pick("P"))))       # negative minus positive
        elif choice == 11:
            im = pick("R") if pool["R"] else pick("P")
            add("C", n(Op.COMPLEX, (pick("P"), im)))
        elif choice == 12 and pool["C"]:
            add("C", n(Op.MUL, (pick("C"), pick(draw(st.sampled_from("PC"))))))
        elif choice == 13 and pool["C"]:
            add("C", n(Op.DIV, (pick("C"), pick(draw(st.sampled_from("PC"))))))
        elif choice == 14 and pool["C"]:
            add("C", n(Op.CONJ, (pick("C"),)))
        elif choice == 15 and pool["C"]:
            add("P", n(Op.ABS, (pick("C"),)))
        elif choice == 16:
            add("P", n(Op.POW, (pick("P"), g.const(draw(st.sampled_from([0.5, -0.5, 1.5, 2.0, 0.3]))))))
        elif choice == 17:
            add("P", n(Op.MUL, (g.const(draw(st.sampled_from([2, 0.5, 3]))), pick("P"))))
        elif choice == 18:
            add("P", n(draw(st.sampled_from([Op.ERFC, Op.LOG1P])), (pick("P"),)))
        elif choice == 19:
            add("P", n(Op.HYPOT, (pick("P"), pick("R") if pool["R"] else pick("P"))))
        elif choice == 20 and pool["R"]:
            add("R", n(Op.ERF, (pick("R"),)))
        elif choice == 21:
            p = pick("P")
            add("P", n(Op.EXPM1, (n(Op.DIV, (p, n(Op.ADD, (p, pick("P"))))),)))
    candidates = pool["P"][6:] + pool["R"] + pool["C"]
    if not candidates:
        candidates = [g.node(Op.ADD, (pool["P"][0], pool["P"][1]))]
    outs = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=4))
    g.outputs = [Output(f"out{k}", (), (o,)) for k, o in enumerate(outs)]
    return g


def assert_close(before, after, rtol=1e-12):
    for a, b in zip(before, after):
        scale = np.maximum(np.abs(a), np.abs(b))
        err = np.abs(a - b)
        assert np.all(err <= rtol * scale), f"max rel err {np.max(err / scale):.3g}"


@pytest.mark.parametrize("pass_", ALL_PASSES, ids=lambda p: p.__name__)
@settings(max_examples=60, deadline=None)
@given(g=graphs())
def test_each_pass_preserves_values(pass_, g):
    before = evaluate(g)
    after = pass_.run(g, {"unsafe": False, "fma": True})
    assert_close(before, evaluate(after))


@pytest.mark.parametrize("level", sorted(LEVELS))
@settings(max_examples=40, deadline=None)
@given(g=graphs())
def test_pipeline_preserves_values(level, g):
    before = evaluate(g)
    after, rows = passes.optimize(g, level, fma=True)
    assert_close(before, evaluate(after))
    assert len(rows) == len(LEVELS[level]) + 1


def test_unknown_option_is_an_error():
    g = _scalar_graph(lambda g, x: g.node(Op.MUL, (x, x)))
    with pytest.raises(TypeError, match=r"fusion.*known ones are calls, contracts, fma, real_only"):
        passes.optimize(g, 2, fusion=True)
    with pytest.raises(TypeError, match="pass strength got unknown option.* fma; it reads unsafe"):
        strength(g, fma=True)


def test_passes_get_only_the_options_they_read():
    g = _scalar_graph(lambda g, x: g.node(Op.ADD, (g.node(Op.MUL, (x, x)), x)))
    fused, _ = passes.optimize(g, 2, fma=True, unsafe=False, simplify=0.0, real_only=False,
                               contracts=True)
    assert Op.FMA in fused.ops


def test_uses_by_dead_nodes_do_not_count():
    """a + b used by a live sum and by a dead product is flattened into the sum all the
    same: (a + b) + a -> 2 a + b."""
    g = Graph()
    g.add_arg(Arg("a", "a"))
    g.add_arg(Arg("b", "b"))
    a, b = g.leaf(0), g.leaf(1)
    s = g.node(Op.ADD, (a, b))
    g.node(Op.MUL, (s, g.const(3)))                               # dead
    g.outputs = [Output("out0", (), (g.node(Op.ADD, (s, a)),))]
    opt = reassociate(g)
    assert sorted(op.name for op in opt.ops if op in (Op.ADD, Op.MUL)) == ["ADD", "MUL"]
    (mul,) = [i for i in range(len(opt)) if opt.ops[i] is Op.MUL]
    assert sorted(opt.describe(x) for x in opt.args[mul]) == ["Fraction(2, 1)", "a"]


def _scalar_graph(build):
    g = Graph()
    g.add_arg(Arg("x", "x"))
    x = g.leaf(0)
    g.outputs = [Output("out0", (), (build(g, x),))]
    return g


def _run(g, x):
    printer = NumpyPrinter()
    out = np.empty(len(x))
    printer.run(printer.load(printer.source(g)), len(x), [x], [out])
    return out


@pytest.mark.parametrize("build", [
    lambda g, x: g.node(Op.SUB, (x, x)),
    lambda g, x: g.node(Op.DIV, (x, x)),
], ids=["x-x", "x/x"])
def test_unsafe_rewrites_only_when_asked(build):
    g = _scalar_graph(build)
    x = np.array([1.5, np.inf, np.nan])
    safe, _ = passes.optimize(g, 3)
    assert np.isnan(_run(safe, x)[1:]).all(), "safe mode must keep inf/nan behaviour"
    unsafe, _ = passes.optimize(g, 3, unsafe=True)
    assert len(unsafe) == 1 and unsafe.ops[0] is Op.CONST


def test_structural_zero_kills_complex_terms():
    """(a + 0i)(b + 0i): the zero imaginary parts cost nothing after lowering."""
    g = Graph()
    g.add_arg(Arg("a", "a"))
    g.add_arg(Arg("b", "b"))
    a, b = g.leaf(0), g.leaf(1)
    za = g.node(Op.COMPLEX, (a, g.const(0)))
    zb = g.node(Op.COMPLEX, (b, g.const(0)))
    g.outputs = [Output("out0", (), (g.node(Op.RE, (g.node(Op.MUL, (za, zb)),)),))]
    opt, _ = passes.optimize(g, 2)
    assert [op.name for op in opt.ops if op not in (Op.INPUT, Op.CONST)] == ["MUL"]


def test_shared_subproducts_and_hoisting():
    """a*b*c and a*b*d share a*b; per-call factors are multiplied once per call."""
    g = Graph()
    for name in "abcd":
        g.add_arg(Arg(name, name))
    g.add_arg(Arg("p", "p", role="param"))
    g.add_arg(Arg("q", "q", role="param"))
    a, b, c, d, p, q = (g.leaf(k) for k in range(6))
    mul = lambda x, y: g.node(Op.MUL, (x, y))  # noqa: E731
    g.outputs = [Output("out0", (), (mul(mul(mul(a, p), b), mul(c, q)),)),
                 Output("out1", (), (mul(mul(a, b), d),))]
    opt, _ = passes.optimize(g, 2)
    var = opt.varying()
    per_event_muls = sum(1 for i in range(len(opt)) if opt.ops[i] is Op.MUL and var[i])
    per_call_muls = sum(1 for i in range(len(opt)) if opt.ops[i] is Op.MUL and not var[i])
    assert per_event_muls == 4      # a*b, (a*b)*c, (p*q)*(abc), (a*b)*d
    assert per_call_muls == 1       # p*q


def test_powers_share_squares():
    g = _scalar_graph(lambda g, x: g.node(Op.ADD, (g.node(Op.POWI, (x,), 6),
                                                  g.node(Op.POWI, (x,), 3))))
    opt, _ = passes.optimize(g, 2)
    assert sum(op is Op.MUL for op in opt.ops) == 3   # x2 = x*x, x3 = x2*x, x6 = x3*x3
    x = np.array([0.7, 1.3])
    np.testing.assert_allclose(_run(opt, x), x**6 + x**3, rtol=1e-14)



@settings(max_examples=60, deadline=None)
@given(coeffs=st.dictionaries(st.integers(0, 11), st.sampled_from([1, 1, 2, -1, 0.5, 3, -2.5]),
                              min_size=3, max_size=9),
       shift=st.sampled_from([0.0, 1.5]))
def test_polynomials_are_evaluated_by_estrin(coeffs, shift):
    """sum c_e x**e (plus an unrelated term) agrees with the sum as written, and costs at
    most two flops per degree (Estrin: one mul and one add per coefficient, log squarings)."""
    def build(g, x):
        y = g.node(Op.MUL, (x, g.const(0.25)))         # |y| < 1: well conditioned
        total = g.node(Op.SQRT, (x,)) if shift else g.const(0)
        for e, c in coeffs.items():
            term = g.node(Op.MUL, (g.const(c), g.node(Op.POWI, (y,), e) if e else g.const(1)))
            total = g.node(Op.ADD, (total, term))
        return total
    opt, _ = passes.optimize(_scalar_graph(build), 2)
    x = INPUTS[0]
    y = 0.25 * x
    extra = np.sqrt(x) if shift else 0.0
    expected = sum(c * y ** e for e, c in coeffs.items()) + extra
    scale = sum(abs(c) * np.abs(y) ** e for e, c in coeffs.items()) + np.abs(extra)
    assert np.all(np.abs(_run(opt, x) - expected) <= 1e-14 * scale)
    assert cost.flops(opt) <= 2 * max(coeffs) + 4


def test_geometric_sum_factorizes():
    """x + x**2 + ... + x**8 = x (1 + x) (1 + x**2) (1 + x**4): 8 flops, not 14."""
    def build(g, x):
        total = x
        for e in range(2, 9):
            total = g.node(Op.ADD, (total, g.node(Op.POWI, (x,), e)))
        return total
    opt, _ = passes.optimize(_scalar_graph(build), 2)
    assert cost.flops(opt) == 8
    x = INPUTS[0]
    np.testing.assert_allclose(_run(opt, x), sum(x ** e for e in range(1, 9)), rtol=1e-14)
