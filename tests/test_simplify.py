"""SymPy-assisted simplification: off by default, bounded in time, value-preserving."""
import numpy as np
import sympy as sp
from hypothesis import given, settings

import physgraph as pg
from physgraph.passes.simplify import simplify
from test_passes import assert_close, evaluate, graphs

x, y = sp.symbols("x y")
EXPR = (x**2 - y**2) / (x - y) + (x**3 + 3 * x**2 * y + 3 * x * y**2 + y**3)


def test_cancel_and_factor_reduce_flops_when_asked():
    off = pg.compile([EXPR], inputs=[x, y], backend="numpy")
    on = pg.compile([EXPR], inputs=[x, y], backend="numpy", simplify=5.0)
    assert on.stats["flops_out"] < off.stats["flops_out"]
    assert sp.simplify(on.to_sympy()[0] - (x + y) * ((x + y)**2 + 1)) == 0
    a, b = np.array([2.0, -1.5, 3.0]), np.array([0.5, 0.25, -2.0])
    np.testing.assert_allclose(on(a, b)[0], (a + b) * ((a + b)**2 + 1), rtol=1e-14)


def test_budget_bounds_the_work():
    spent = pg.compile([EXPR], inputs=[x, y], backend="numpy", simplify=1e-9)
    off = pg.compile([EXPR], inputs=[x, y], backend="numpy")
    assert spent.stats["flops_out"] == off.stats["flops_out"]


@settings(max_examples=20, deadline=None)
@given(g=graphs(max_steps=15))
def test_simplify_preserves_values(g):
    assert_close(evaluate(g), evaluate(simplify(g, simplify=10.0)), rtol=1e-12)
