"""Derivatives with respect to params on the random SymPy expressions of test_differential.

z is compiled once as a per-event input and once as a per-call param.  The derivative
along z must be the same both ways at every point: through the param's tangent (a per-call
argument of the JVP graph), through the param's per-event gradient (the VJP graph, the sum
over outputs of cotangent times Re d out / dz), and through the input's tangent, which
test_autodiff checks against SymPy's own derivatives.  The two kernels go through the
passes differently (a param-only subexpression is computed once per call), so this also
checks that the derivative survives the optimizations params see.
"""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_differential import INPUTS, N_POINTS, expression_lists, points, x, y, z

import physgraph as pg
from physgraph.autodiff import jvp_graph, vjp_graph
from physgraph.kernel import Kernel, Options

RTOL = 1e-9


def _kernel(g) -> Kernel:
    return Kernel(g, tuple(range(len(g.outputs))), "d", Options("numpy"))


@settings(max_examples=max(settings().max_examples // 2, 3))
@given(exprs=expression_lists, seed=st.integers(0, 2 ** 32 - 1))
def test_param_derivative_equals_input_derivative(exprs, seed):
    xs, ys, zs = points(seed)
    z0 = float(zs[0])
    zeros, ones = np.zeros(N_POINTS), np.ones(N_POINTS)
    as_input = pg.compile(exprs, inputs=INPUTS, backend="numpy").input_graph
    as_param = pg.compile(exprs, inputs=[x, y], params=[z], backend="numpy").input_graph
    along_input = _kernel(jvp_graph(as_input))(xs, ys, z0 * ones, zeros, zeros, ones)
    along_param = _kernel(jvp_graph(as_param, params=True))(xs, ys, z0, zeros, zeros, 1.0)
    for a, b in zip(along_param, along_input):
        assert np.all(np.abs(a - b) <= RTOL * (np.abs(a) + np.abs(b)) + 1e-300), (exprs, a, b)
    weights = np.random.default_rng(seed).normal(size=len(exprs))
    vjp = _kernel(vjp_graph(as_param, params=True))
    found = dict(zip((o.name for o in vjp.input_graph.outputs),
                     vjp(xs, ys, z0, *(w * ones for w in weights))))
    expected = sum(w * np.real(d) for w, d in zip(weights, along_input))
    scale = sum(abs(w) * np.abs(d) for w, d in zip(weights, along_input))
    assert np.all(np.abs(found.get("grad_z", 0) - expected) <= RTOL * scale + 1e-300)
