"""``@pg.routine``: calls kept as calls (llvm, through the frame) or inlined (every other
backend, and llvm with calls=False) compute what the plain function computes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import physgraph as pg
from physgraph import autodiff, cost
from physgraph.backends import frame
from physgraph.graph import Op
from physgraph.kernel import CALLS_MIN_FLOPS

from test_differential import (assert_agrees, compile_all, expression_lists, points,
                               reference)
from test_cuda import cache_in, from_cache


@dataclass(frozen=True)
class Current:
    """A wavefunction-like argument: complex components and a real momentum."""
    w: tuple
    p: tuple


def vertex(a: Current, b: Current, coupling, mass):
    """A propagator-like current: products of components over a momentum-dependent
    denominator, the sum of the momenta passed on, and a result that is always zero."""
    p = tuple(x + y for x, y in zip(a.p, b.p))
    denominator = p[0] * p[0] - p[1] * p[1] - mass * mass + 1j
    w = tuple(coupling * (a.w[k] * b.w[1 - k] - a.w[1 - k]) / denominator for k in range(2))
    return Current(w, p), 0.0


routine_vertex = pg.routine(vertex)


def process(vertex_fn):
    def f(x, y, z, g: pg.Param = 0.7):
        a = Current((x + 1j * y, z), (x, y))
        b = Current((y - 1j * z, 1.0), (z, x * y))
        c, zero = vertex_fn(a, b, g, 1.5)
        d, _ = vertex_fn(c, a, g, 0.0)           # a routine's result is the next one's input
        e, _ = vertex_fn(a, b, g, 1.5)           # the same call again: one call
        return (d.w[0] * e.w[1]).real + d.p[1] + zero, (c.w[0] * d.w[1]).imag
    return f


def arrays(n=37, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.5, 2.0, n), rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)]


def plain(n=37):
    return pg.compile(backend="numpy")(process(vertex))(*arrays(n))


@pytest.mark.parametrize("backend, calls", [("numpy", "auto"), ("llvm", True),
                                            ("llvm", False), ("numba", True)])
@pytest.mark.parametrize("opt_level", [0, 2])
def test_a_routine_computes_what_the_plain_function_computes(backend, calls, opt_level):
    k = pg.compile(backend=backend, calls=calls, opt_level=opt_level)(process(routine_vertex))
    got, want = k(*arrays()), plain()
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    kept = Op.CALL in k.graph.ops
    assert kept == (backend == "llvm" and calls is True)
    assert ("call fastcc" in k.source) == kept


def test_calls_are_nodes_of_the_traced_graph_one_per_real_result():
    k = pg.compile(backend="llvm", calls=True)(process(routine_vertex))
    g = k.input_graph
    calls = {(g.attrs[i][0], g.args[i]) for i in range(len(g)) if g.ops[i] is Op.CALL}
    # c = vertex(a, b) and d = vertex(c, a) (the zero and e = c fold away or repeat)
    assert len(calls) == 2
    routine = next(iter(calls))[0]
    # results: w (2 complex), p (2 real); the zero is a constant of the caller
    assert len(routine.graph.outputs) == 6


def test_float32_and_a_warm_cache(tmp_path):
    f = process(routine_vertex)
    with cache_in(tmp_path):
        k = pg.compile(backend="llvm", calls=True, dtype="float32")(f)
        again = from_cache(k)
        x32 = [a.astype(np.float32) for a in arrays()]
        for a, b, c in zip(k(*x32), again(*x32), plain()):
            np.testing.assert_allclose(a, c, rtol=2e-4, atol=1e-5)
            np.testing.assert_array_equal(a, b)


def test_flops_count_each_call_once():
    @pg.routine
    def pair(a):
        return a * a * a + a, a * 0.5 - 1.0

    def f(x, y):
        u, v = pair(x)
        w, _ = pair(x)                 # the same call: counted once
        s, t = pair(y)
        return u * w + v + s * t

    k = pg.compile(backend="llvm", calls=True)(f)
    g = k.graph
    live, var = g.live(), g.varying()
    made = {(g.attrs[i][0], g.args[i]) for i in range(len(g)) if live[i] and g.ops[i] is Op.CALL}
    assert len(made) == 2              # pair(x), pair(y): two calls of two results each
    glue = sum(cost.WEIGHT[c] * n for i in range(len(g))
               if live[i] and var[i] and g.ops[i] is not Op.CALL
               for c, n in cost.node_cost(g, i).items())
    per_call = {cost.flops(r.graph) for r, _ in made}
    assert len(per_call) == 1 and per_call.pop() > 0
    assert k.stats["flops_out"] == glue + sum(cost.flops(r.graph) for r, _ in made)
    assert f"{k.stats['flops_out']} flops per event" in k.source


def test_constant_arguments_bind_into_a_copy_of_the_routine():
    @pg.routine
    def scale(a, b):
        return a * b + b

    def f(x, y):
        return scale(x, y * 0.0 + 2.0) + scale(x, y)

    k = pg.compile(backend="llvm", calls=True)(f)
    g = k.graph
    arities = sorted(len(g.args[i]) for i in range(len(g)) if g.ops[i] is Op.CALL)
    assert arities == [1, 2]
    x, y = arrays()[:2]
    np.testing.assert_allclose(k(x, y), 2 * x + 2 + x * y + y, rtol=1e-15)


def test_the_frame_reuses_the_slots_of_dead_values():
    @pg.routine
    def step(a, b):
        return a * b + 1.0, a - b

    def chain(x, y):
        for _ in range(200):
            x, y = step(x, y)
        return x + y

    k = pg.compile(backend="llvm", calls=True)(chain)
    plan = frame.plan(k.graph)
    assert len(plan.row) == 200 and plan.size <= 8
    x, y = np.array([0.3, -0.2, 0.9]), np.array([0.1, 0.5, -0.4])
    want = pg.compile(backend="numpy")(chain)(x, y)
    np.testing.assert_allclose(k(x, y), want, rtol=1e-12)


def test_derivatives_see_through_routines():
    @pg.routine
    def cube(a, b):
        return a * a * a * b

    def f(x, y):
        d = pg.grad(lambda v: cube(v[0], v[1]), pg.Vec([x, y]))
        return d[0] + cube(x, y)

    k = pg.compile(backend="llvm", calls=True)(f)
    x, y = arrays()[:2]
    np.testing.assert_allclose(k(x, y), 3 * x * x * y + x ** 3 * y, rtol=1e-14)
    # d f / d x along (1, 0), from the graph with its calls inlined
    jvp = autodiff.jvp_graph(k.input_graph)
    assert Op.CALL not in jvp.ops
    d = pg.Kernel(jvp, k.structure, "jvp", k.options.replace(backend="numpy"))
    np.testing.assert_allclose(d(x, y, np.ones_like(x), np.zeros_like(y)),
                               6 * x * y + 3 * x * x * y, rtol=1e-14)
    expr = k.to_sympy()
    at = {s: v for s in expr.free_symbols for v in [{"x": 0.7, "y": 1.3}[s.name]]}
    assert float(expr.subs(at)) == pytest.approx(3 * 0.49 * 1.3 + 0.343 * 1.3, rel=1e-14)


def test_auto_keeps_calls_past_the_threshold_only():
    @pg.routine
    def heavy(a, b):
        for _ in range(40):
            a = a * b + a
        return a

    def few(x, y):
        return heavy(x, y)

    def many(x, y):
        total = 0
        for k in range(CALLS_MIN_FLOPS // 80 + 1):
            total = total + heavy(x + k, y)
        return total

    assert Op.CALL not in pg.compile(backend="llvm")(few).graph.ops
    assert Op.CALL in pg.compile(backend="llvm")(many).graph.ops
    assert Op.CALL not in pg.compile(backend="llvm", calls=False)(many).graph.ops


def test_bad_calls_option_and_escaping_values_are_refused():
    with pytest.raises(ValueError, match="calls must be"):
        pg.compile(backend="llvm", calls="yes")
    outside = []

    @pg.routine
    def leaks(a):
        return outside[0]

    def f(x, y):
        outside.append(x * y)
        return leaks(x)

    with pytest.raises(pg.TraceError, match="returned a value traced outside it"):
        pg.compile(backend="llvm")(f)


# ---- random bodies: every op printed inside a routine ----------------------------------------
def _evaluate(g, args):
    """The outputs of graph ``g`` rebuilt on the traced ``args`` (its inputs, in order)."""
    h = args[0].g
    nodes = [0] * len(g)
    for i in range(len(g)):
        op = g.ops[i]
        if op is Op.INPUT:
            nodes[i] = args[g.attrs[i][0]].i
        else:
            nodes[i] = h.node(op, tuple(nodes[a] for a in g.args[i]), g.attrs[i])
    return tuple(pg.Scalar(h, nodes[o.nodes[0]]) for o in g.outputs)


@settings(max_examples=10)
@given(exprs=expression_lists, seed=st.integers(0, 2 ** 32 - 1),
       opt_level=st.sampled_from([2, 0, 3]))
def test_random_bodies_called_as_routines_agree_with_sympy(exprs, seed, opt_level):
    body = compile_all(exprs, backend="numpy", opt_level=0).input_graph
    random_body = pg.routine(lambda a, b, c: _evaluate(body, [a, b, c]), name="random")

    def f(x, y, z):
        return random_body(x, y, z)

    arrays_ = points(seed)
    expected, scale, keep = reference(exprs, arrays_)
    got = pg.compile(backend="llvm", calls=True, opt_level=opt_level)(f)(*arrays_)
    assert_agrees(got, exprs, expected, scale, keep, f"llvm calls, opt_level {opt_level}")


def test_routines_beside_network_layers_inline_unless_calls_are_forced():
    @pg.routine
    def activation(a):
        return a / (1.0 + a * a)

    def f(x: pg.Vec[3], w: pg.Param[4, 3]):
        return [activation(h) for h in pg.nn.dense(x, w, contract=True)]

    rng = np.random.default_rng(3)
    x, w = rng.normal(size=(9, 3)), rng.normal(size=(4, 3))
    k = pg.compile(backend="llvm")(f)
    assert Op.CALL not in k.graph.ops and "@pg.product0" in k.source
    h = x @ w.T
    np.testing.assert_allclose(np.stack(k(x, w=w)), (h / (1 + h * h)).T, rtol=1e-13)
    with pytest.raises(pg.UnsupportedError, match="calls=False"):
        pg.compile(backend="llvm", calls=True)(f)


def test_a_per_call_argument_keeps_its_slot_while_the_loop_reuses_others():
    # depth-first order puts c right after x's last read: c must not take x's slot, which
    # every vector of events writes again after the per-call values are stored
    @pg.routine
    def double(a):
        return 2.0 * a

    @pg.routine
    def plus(a, c):
        return a + c

    def f(x, c: pg.Param):
        return plus(double(x), c)

    k = pg.compile(backend="llvm", calls=True)(f)
    x = np.linspace(-1, 1, 13)
    np.testing.assert_allclose(k(x, c=0.25), 2 * x + 0.25, rtol=1e-15)


def test_arguments_a_routine_cannot_take_are_named():
    @pg.routine
    def first(v):
        return v[0]

    @pg.routine
    def positive(a):
        return a > 0

    def f(p: pg.Vec4):
        return first(p)

    with pytest.raises(pg.UnsupportedError, match="not Vec4 .pass its elements"):
        pg.compile(backend="llvm")(f)
    with pytest.raises(pg.UnsupportedError, match="returns a boolean value"):
        pg.compile(backend="llvm")(lambda x: pg.where(positive(x), 1.0, 0.0))
