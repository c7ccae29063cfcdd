"""The IR: hash-consing, canonical order of commutative arguments, constant keys, and graphs
far deeper than Python's recursion limit going through build, passes and printing."""
from __future__ import annotations

import math
import sys

import numpy as np
import pytest

import physgraph as pg
from physgraph.backends.numpy_ import NumpyPrinter
from physgraph.graph import Arg, Graph, Op, Output, T
from physgraph.passes import optimize


def two_inputs() -> tuple[Graph, int, int]:
    g = Graph()
    g.add_arg(Arg("x", "x"))
    g.add_arg(Arg("y", "y"))
    return g, g.leaf(0), g.leaf(1)


def test_same_node_twice_is_the_same_id():
    g, x, y = two_inputs()
    a = g.node(Op.MUL, (x, y))
    size = len(g)
    assert g.node(Op.MUL, (x, y)) == a
    assert g.node(Op.SQRT, (a,)) == g.node(Op.SQRT, (a,))
    assert g.node(Op.POWI, (x,), 3) == g.node(Op.POWI, (x,), 3)
    assert g.leaf(0) == x
    assert len(g) == size + 2            # one sqrt, one powi: nothing else was created


def test_attribute_is_part_of_the_key():
    g, x, _ = two_inputs()
    assert g.node(Op.POWI, (x,), 2) != g.node(Op.POWI, (x,), 3)


@pytest.mark.parametrize("op", [Op.ADD, Op.MUL, Op.MIN, Op.MAX, Op.EQ, Op.NE])
def test_commutative_arguments_are_canonical(op):
    g, x, y = two_inputs()
    assert g.node(op, (x, y)) == g.node(op, (y, x))


@pytest.mark.parametrize("op", [Op.SUB, Op.DIV, Op.POW, Op.LT, Op.LE, Op.ATAN2])
def test_non_commutative_arguments_keep_their_order(op):
    g, x, y = two_inputs()
    assert g.node(op, (x, y)) != g.node(op, (y, x))


def test_traced_a_plus_b_is_b_plus_a():
    @pg.compile(backend="numpy")
    def f(a, b):
        return a + b, b + a, a * b, b * a, a - b, b - a

    out = f.graph.outputs
    assert out[0].nodes == out[1].nodes and out[2].nodes == out[3].nodes
    assert out[4].nodes != out[5].nodes
    a, b = np.array([1.0, 2.0]), np.array([5.0, 7.0])
    r = f(a, b)
    np.testing.assert_array_equal(r[4], a - b)
    np.testing.assert_array_equal(r[5], b - a)


def test_constant_keys_tell_values_and_kinds_apart():
    g = Graph()
    assert g.const(1) != g.const(1.0)                  # exact integer vs float
    assert g.const(0.0) != g.const(-0.0)               # 1/x tells them apart
    assert g.const(1) != g.const(True)                 # bool is not a number here
    assert g.const(1.0) != g.const(1 + 0j)
    assert g.const(1) == g.const(np.int64(1))
    assert g.const(2.5) == g.const(np.float64(2.5))
    assert g.const(float("nan")) == g.const(float("nan"))
    assert g.const(complex(0.0, -0.0)) != g.const(complex(0.0, 0.0))
    assert g.types[g.const(True)] is T.BOOL
    assert g.types[g.const(1j)] is T.COMPLEX
    assert g.types[g.const(1)] is T.REAL


def test_signed_zero_constants_stay_distinct_in_a_kernel():
    f = pg.compile(lambda x: (x / -0.0, x / 0.0), backend="numpy")
    neg, pos = f(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(neg, [-np.inf, -np.inf])
    np.testing.assert_array_equal(pos, [np.inf, np.inf])


def test_type_rules():
    g, x, _ = two_inputs()
    z = g.node(Op.MUL, (x, g.const(1j)))
    cond = g.node(Op.LT, (x, g.const(0)))
    assert g.types[z] is T.COMPLEX
    assert g.types[g.node(Op.ABS, (z,))] is T.REAL
    assert g.types[g.node(Op.RE, (z,))] is T.REAL
    assert g.types[cond] is T.BOOL
    assert g.types[g.node(Op.WHERE, (cond, x, z))] is T.COMPLEX
    with pytest.raises(pg.UnsupportedError):
        g.node(Op.WHERE, (x, x, x))                  # the condition must be boolean
    with pytest.raises(pg.UnsupportedError):
        g.node(Op.LT, (z, x))                        # complex numbers have no order


def test_live_varying_and_users_by_hand():
    g = Graph()
    g.add_arg(Arg("x", "x"))
    g.add_arg(Arg("a", "a", role="param"))
    x, a = g.leaf(0), g.leaf(1)
    a2 = g.node(Op.MUL, (a, a))              # per call
    dead = g.node(Op.SIN, (x,))              # never used
    out = g.node(Op.ADD, (x, a2))
    g.outputs.append(Output("out0", (), (out,)))
    assert list(g.live()) == [1, 1, 1, 0, 1]
    assert list(g.varying()) == [1, 0, 0, 1, 1]
    assert g.users() == [1, 2, 1, 0, 1]         # x: by add only; the dead sin does not count
    assert dead == 3


def chain_graph(n: int) -> Graph:
    """t <- sin(t) * c + x, n times: a dependency chain n nodes deep that nothing folds."""
    g = Graph()
    g.add_arg(Arg("x", "x"))
    x, c = g.leaf(0), g.const(0.5)
    t = x
    for k in range(n):
        t = g.node((Op.SIN, Op.MUL, Op.ADD)[k % 3],
                   ((t,), (t, c), (t, x))[k % 3])
    g.outputs.append(Output("out0", (), (t,)))
    return g


def chain_reference(x: float, n: int) -> float:
    t = x
    for _ in range(n // 3):
        t = math.sin(t) * 0.5 + x
    return t


def check_deep_chain(n: int) -> None:
    assert n > 100 * sys.getrecursionlimit()
    g = chain_graph(n)
    assert len(g) == n + 2
    optimized, rows = optimize(g, 2)
    assert rows[0].nodes == rows[-1].nodes == n + 2        # nothing to fold in a chain
    sines = (n + 2) // 3
    assert rows[-1].flops["special"] == sines
    source = NumpyPrinter("float64").source(optimized, "chain")
    assert source.count("np.sin(") == sines
    assert f"# {n} flops per event" in source


def test_deep_chain_builds_optimizes_and_prints(default_recursion_limit):
    # 1.2 * 10^5 keeps the default suite quick (the opt_level 2 pipeline costs tens of
    # microseconds per node); the 10^6 case runs under the slow marker
    check_deep_chain(120_000)


@pytest.mark.slow
def test_million_node_chain_builds_optimizes_and_prints(default_recursion_limit):
    check_deep_chain(1_000_000)


def test_deep_chain_runs_correctly():
    """A chain 30 000 deep through the whole Kernel (numpy), against a plain Python loop."""
    from physgraph.kernel import Kernel, Options
    n = 30_000
    k = Kernel(chain_graph(n), 0, "chain", Options(backend="numpy"))
    x = np.array([-1.0, 0.25, 3.0])
    np.testing.assert_allclose(k(x), [chain_reference(v, n) for v in x], rtol=1e-12)


def test_huge_graphs_count_flops_only_before_and_after(monkeypatch):
    """Above FLOPS_EVERY_PASS_UP_TO nodes the rows between the first and the last pass
    count nodes only (a flop count is a walk over the graph); the report shows '-' there,
    and the counts before and after are those of a fully counted run."""
    from physgraph.passes import pipeline

    def f(x, y):
        return pg.sqrt(x * x + y * y) * 2.0 + (x * x + y * y) / 3.0
    full = pg.compile(f, backend="numpy").stats
    monkeypatch.setattr(pipeline, "FLOPS_EVERY_PASS_UP_TO", 0)
    monkeypatch.setenv("PHYSGRAPH_CACHE", "off")          # the passes run again
    k = pg.compile(f, backend="numpy")
    middle = [r for r in k.report().splitlines() if r.startswith(("fold", "reassociate"))]
    assert middle and all(" - " in r for r in middle)
    assert (k.stats["flops_in"], k.stats["flops_out"]) == (full["flops_in"], full["flops_out"])
