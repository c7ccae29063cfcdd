"""Symbolic differentiation: pg.jacobian / pg.grad against finite differences and SymPy's
jacobian on random functions; the graph transforms jvp_graph / vjp_graph against finite
differences and against each other (<ct, J t> == <J^T ct, t>), with respect to inputs and
params (network layers' weights included); complex and selecting ops; a 10^5-node graph (no
recursion); no silent zeros."""
from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import physgraph as pg
from physgraph.autodiff import jvp_graph, vjp_graph
from physgraph.graph import Arg, Graph, Op, Output, arity
from physgraph.kernel import Kernel, Options

from helpers import assert_close
from test_passes import INPUTS, PARAMS, graphs

# ---- random functions, built in parallel as traced values and as SymPy ----------------------
UNARY = {
    "sin": (pg.sin, sympy.sin), "cos": (pg.cos, sympy.cos), "tanh": (pg.tanh, sympy.tanh),
    "atan": (pg.atan, sympy.atan), "asinh": (pg.asinh, sympy.asinh),
    "exp_tanh": (lambda v: pg.exp(pg.tanh(v)), lambda v: sympy.exp(sympy.tanh(v))),
    "sqrt1": (lambda v: pg.sqrt(v * v + 1), lambda v: sympy.sqrt(v * v + 1)),
    "log1": (lambda v: pg.log(v * v + 1), lambda v: sympy.log(v * v + 1)),
    "cube": (lambda v: v ** 3, lambda v: v ** 3), "neg": (lambda v: -v, lambda v: -v),
    "rsqrt": (lambda v: pg.rsqrt(v * v + 2), lambda v: 1 / sympy.sqrt(v * v + 2)),
}
BINARY = {
    "add": (lambda a, b: a + b,) * 2, "sub": (lambda a, b: a - b,) * 2,
    "mul": (lambda a, b: a * b,) * 2,
    "div": (lambda a, b: a / (1 + b * b),) * 2,
    "atan2": (lambda a, b: pg.atan2(a, b + 3), lambda a, b: sympy.atan2(a, b + 3)),
    "pow": (lambda a, b: (a * a + 1) ** pg.tanh(b),
            lambda a, b: (a * a + 1) ** sympy.tanh(b)),
}
N_IN = 3

step = st.one_of(
    st.tuples(st.just("u"), st.sampled_from(sorted(UNARY)), st.integers(0, 50)),
    st.tuples(st.just("b"), st.sampled_from(sorted(BINARY)), st.integers(0, 50),
              st.integers(0, 50)))
programs = st.lists(step, min_size=1, max_size=10)


def run_program(program, xs, which: int):
    """Values of the program on ``xs`` (traced: which=0, sympy: which=1); two outputs."""
    values = list(xs)
    for kind, name, *picks in program:
        operands = [values[p % len(values)] for p in picks]
        fn = (UNARY if kind == "u" else BINARY)[name][which]
        values.append(fn(*operands))
    return values[-1], values[-2] if len(values) > N_IN + 1 else values[0] * values[-1]


def traced_jacobians(program):
    def f(x: pg.Vec[N_IN]):
        fn = lambda v: pg.Vec(run_program(program, list(v), 0))  # noqa: E731
        return fn(x), pg.jacobian(fn, x, mode="forward"), pg.jacobian(fn, x, mode="reverse")
    return pg.compile(f, backend="numpy")


def points(rng, n=16):
    return rng.uniform(-1.5, 1.5, size=(n, N_IN))


@given(programs)
def test_jacobian_matches_sympy_and_finite_differences(program):
    rng = np.random.default_rng(len(program))
    x = points(rng)
    k = traced_jacobians(program)
    value, j_fwd, j_rev = k(x)
    assert j_fwd.shape == j_rev.shape == (len(x), 2, N_IN)
    # SymPy's own jacobian of the same program, evaluated by lambdify
    syms = sympy.symbols(f"x0:{N_IN}", real=True)
    exprs = sympy.Matrix(run_program(program, syms, 1))
    j_sym = sympy.lambdify(syms, exprs.jacobian(syms), "numpy")
    expected = np.stack([np.broadcast_to(np.asarray(j_sym(*row), float), (2, N_IN))
                         for row in x])
    assert_close(j_fwd, expected, rtol=1e-9, atol=1e-9)
    assert_close(j_rev, expected, rtol=1e-9, atol=1e-9)
    # central differences of the compiled value itself
    h = 1e-6
    fd = np.stack([(k(x + h * e)[0] - k(x - h * e)[0]) / (2 * h) for e in np.eye(N_IN)], -1)
    assert_close(j_fwd, fd, rtol=1e-5, atol=1e-5)


def test_jacobian_shapes_and_grad():
    @pg.compile(backend="numpy")
    def f(x: pg.Vec[2], s):
        scalar_of_vec = pg.grad(lambda v: v[0] * v[0] * v[1], x)
        vec_of_scalar = pg.jacobian(lambda t: pg.Vec(t * t, pg.sin(t)), s)
        scalar_of_scalar = pg.jacobian(lambda t: pg.exp(2 * t), s)
        constant = pg.jacobian(lambda v: pg.Vec(1.0, v[0]), x)
        return scalar_of_vec, vec_of_scalar, scalar_of_scalar, constant
    x, s = np.array([[1.5, -2.0], [0.3, 0.7]]), np.array([0.2, -1.1])
    g, d, e, c = f(x, s)
    assert_close(g, np.stack([2 * x[:, 0] * x[:, 1], x[:, 0] ** 2], 1))
    assert_close(d, np.stack([2 * s, np.cos(s)], 1))
    assert_close(e, 2 * np.exp(2 * s))
    assert_close(c, np.broadcast_to([[0.0, 0.0], [1.0, 0.0]], (2, 2, 2)))


def test_jacobian_elements_are_independent_variables():
    """x[1] computed from x[0]: d/dx[0] must not flow through x[1] (seeds are cuts)."""
    @pg.compile(backend="numpy")
    def f(a):
        x = pg.Vec(a, 2 * a)
        fn = lambda v: pg.Vec(v[0] * v[1], v[1])  # noqa: E731
        return pg.jacobian(fn, x, mode="forward"), pg.jacobian(fn, x, mode="reverse")
    a = np.array([0.5, 3.0])
    expected = np.stack([[[2 * a_, a_], [0.0, 1.0]] for a_ in a])
    for j in f(a):
        assert_close(j, expected)


def test_selecting_ops_differentiate_the_chosen_branch():
    @pg.compile(backend="numpy")
    def f(x: pg.Vec[2]):
        fn = lambda v: pg.Vec(pg.where(v[0] < v[1], v[0] * v[0], 3 * v[1]),  # noqa: E731
                              pg.minimum(v[0], v[1]), pg.maximum(v[0], 2 * v[1]),
                              pg.abs(v[0] - v[1]))
        return pg.jacobian(fn, x, mode="forward"), pg.jacobian(fn, x, mode="reverse")
    x = np.array([[0.5, 1.0], [2.0, -1.0], [-3.0, -1.0]])
    lt = x[:, 0] < x[:, 1]
    expected = np.zeros((3, 4, 2))
    expected[:, 0, 0] = np.where(lt, 2 * x[:, 0], 0)
    expected[:, 0, 1] = np.where(lt, 0, 3)
    expected[:, 1, 0], expected[:, 1, 1] = lt, ~lt
    bigger = x[:, 0] >= 2 * x[:, 1]
    expected[:, 2, 0], expected[:, 2, 1] = bigger, 2 * ~bigger
    sign = np.sign(x[:, 0] - x[:, 1])
    expected[:, 3, 0], expected[:, 3, 1] = sign, -sign
    for j in f(x):
        assert_close(j, expected)


def test_complex_intermediates():
    """|z^2 e^{i x}|, Re, Im and conj through complex values: real in, real out."""
    def fn(v):
        z = v[0] + pg.I * v[1]
        w = z * z * pg.exp(pg.I * v[0]) / (z + 3)
        return pg.Vec(pg.abs(w), pg.re(w * pg.conj(z)), pg.im(pg.sqrt(z + 2)))

    @pg.compile(backend="numpy")
    def f(x: pg.Vec[2]):
        return fn(x), pg.jacobian(fn, x, mode="forward"), pg.jacobian(fn, x, mode="reverse")
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, size=(10, 2))
    _, j_fwd, j_rev = f(x)
    h = 1e-6
    fd = np.stack([(f(x + h * e)[0] - f(x - h * e)[0]) / (2 * h) for e in np.eye(2)], -1)
    assert_close(j_fwd, fd, rtol=1e-6, atol=1e-7)
    assert_close(j_rev, fd, rtol=1e-6, atol=1e-7)


# ---- graph -> graph transforms --------------------------------------------------------------
def _kernel(g: Graph) -> Kernel:
    structure = 0 if len(g.outputs) == 1 else tuple(range(len(g.outputs)))
    return Kernel(g, structure, "k", Options(backend="numpy"))


@pg.compile(backend="numpy")
def model(x: pg.Vec[3], P: pg.Sym[2], s, scale: pg.Param = 1.5):
    z = x[0] + pg.I * x[1]
    return (pg.Vec(pg.sin(x[0]) * P[0, 1], x[2] * x[2] * s / P[1, 1]) * scale,
            pg.re(z * z * pg.exp(pg.I * s)) + P[0, 0] * x[2],
            x[0] < x[1])


def _model_inputs(rng, n=7):
    x = rng.uniform(-1, 1, (n, 3))
    P = rng.uniform(0.5, 1.5, (n, 2, 2))
    return x, P, rng.uniform(-1, 1, n)


def test_jvp_graph_signature_and_finite_differences(rng):
    g = model.input_graph
    jg = jvp_graph(g)
    names = [a.name for a in jg.signature]
    assert names == ["x", "P", "s", "scale", "d_x", "d_P", "d_s"]
    assert [a.shape for a in jg.signature[4:]] == [(3,), (2, 2), ()]
    assert jg.signature[5].symmetric
    assert [(o.name, o.shape) for o in jg.outputs] == [("d_out0", (2,)), ("d_out1", ()),
                                                       ("d_out2", ())]
    x, P, s = _model_inputs(rng)
    dx, dP, ds = _model_inputs(rng)
    got = _kernel(jg)(x, P, s, 1.5, dx, dP, ds)
    h = 1e-6
    plus = model(x + h * dx, P + h * dP, s + h * ds)
    minus = model(x - h * dx, P - h * dP, s - h * ds)
    for k in range(2):
        assert_close(got[k], (plus[k] - minus[k]) / (2 * h), rtol=1e-6, atol=1e-7)
    assert_close(got[2], np.zeros(len(x)))              # a boolean output has no derivative


def test_vjp_graph_is_the_transpose_of_jvp(rng):
    g = model.input_graph
    vg = vjp_graph(g)
    assert [a.name for a in vg.signature] == ["x", "P", "s", "scale", "ct_out0", "ct_out1",
                                              "ct_out2"]
    assert [(o.name, o.shape) for o in vg.outputs] == [("grad_x", (3,)), ("grad_P", (2, 2)),
                                                       ("grad_s", ())]
    x, P, s = _model_inputs(rng)
    tangents = _model_inputs(rng)
    ct = (rng.normal(size=(len(x), 2)), rng.normal(size=len(x)), rng.normal(size=len(x)))
    jv = _kernel(jvp_graph(g))(x, P, s, 1.5, *tangents)
    vj = _kernel(vg)(x, P, s, 1.5, *ct)
    lhs = (ct[0] * jv[0]).sum(1) + ct[1] * jv[1]
    rhs = sum((a * t).reshape(len(x), -1).sum(1) for a, t in zip(vj, tangents))
    assert_close(lhs, rhs, rtol=1e-10, atol=1e-12)
    assert np.all(vj[1][:, 1, 0] == 0)                   # below the diagonal: never read


def _chain(n_nodes: int) -> Graph:
    """out = v_{n/6}, v_{k+1} = 0.5 sin(v_k) + 0.49 v_k + 1e-6 k, v_0 = x: built directly."""
    g = Graph()
    g.add_arg(Arg("x", "x"))
    v = g.leaf(0)
    for k in range(n_nodes // 6):
        s = g.node(Op.MUL, (g.node(Op.SIN, (v,)), g.const(0.5)))
        v = g.node(Op.ADD, (g.node(Op.ADD, (s, g.node(Op.MUL, (v, g.const(0.49))))),
                            g.const(k * 1e-6)))
    g.outputs = [Output("out0", (), (v,))]
    return g


def test_large_graph_differentiates_without_recursion():
    g = _chain(100_200)
    assert len(g) >= 100_000
    jg, vg = jvp_graph(g), vjp_graph(g)
    # a scalar function: the tangent for d_x = 1 and the gradient are the same derivative
    out_j, out_v = jg.outputs[0].nodes[0], vg.outputs[0].nodes[0]
    assert jg.ops[out_j] is not Op.CONST and vg.ops[out_v] is not Op.CONST


def test_chain_derivative_value():
    g = _chain(600)
    x = np.array([0.3, -0.8])
    d_fwd = _kernel(jvp_graph(g))(x, np.ones(2))
    d_rev = _kernel(vjp_graph(g))(x, np.ones(2))
    v = x.copy()
    d = np.ones(2)
    for k in range(100):
        d = d * (0.5 * np.cos(v) + 0.49)
        v = np.sin(v) * 0.5 + v * 0.49 + k * 1e-6
    assert_close(d_fwd, d, rtol=1e-12)
    assert_close(d_rev, d, rtol=1e-12)


def test_jacobian_needs_traced_values():
    with pytest.raises(pg.TraceError):
        pg.jacobian(lambda v: v, pg.Vec(1.0, 2.0))


def test_every_differentiable_op_has_a_rule_matching_finite_differences():
    """One graph per op of the Op enum built directly (FMA, RSQRT, POWI included), its
    derivative through jvp_graph against central differences."""
    from physgraph.autodiff import LINEAR, NO_DERIVATIVE, PARTIALS
    structural = {Op.INPUT, Op.PARAM, Op.CONST}
    assert set(Op) == set(PARTIALS) | set(LINEAR) | NO_DERIVATIVE | structural
    x = np.array([0.31, 0.62, 0.45])                  # in every op's domain (acosh: 1 + x)
    # complex parts: test_complex_intermediates; contractions: test_contraction_rules
    for op in set(PARTIALS) | set(LINEAR) - {Op.COMPLEX, Op.RE, Op.IM, Op.CONJ,
                                             getattr(Op, "CONTRACT", None)}:
        g = Graph()
        g.add_arg(Arg("x", "x"))
        g.add_arg(Arg("y", "y"))
        a, b = g.leaf(0), g.leaf(1)
        if op is Op.ACOSH:
            a = g.node(Op.ADD, (a, g.const(1)))
        if op is Op.WHERE:
            node = g.node(op, (g.node(Op.LT, (a, b)), g.node(Op.MUL, (a, b)), a))
        elif op is Op.FMA:
            node = g.node(op, (a, b, g.node(Op.SIN, (a,))))
        elif op is Op.POWI:
            node = g.node(op, (a,), 3)
        else:
            node = g.node(op, (a, b)[:arity(op)])
        g.outputs = [Output("out0", (), (node,))]
        k, jk = _kernel(g), _kernel(jvp_graph(g))
        y, dx, dy, h = x[::-1] + 0.1, np.array([1.0, 0.3, -0.5]), np.array([0.2, -1, 0.7]), 1e-6
        fd = (k(x + h * dx, y + h * dy) - k(x - h * dx, y - h * dy)) / (2 * h)
        assert_close(jk(x, y, dx, dy), fd, rtol=1e-6, atol=1e-8), op


def _layer_graph() -> Graph:
    """y_r = sum_k W[r, k] sin(x_k), r = 0, 1: a layer built directly (no matrix leaves)."""
    g = Graph()
    g.add_arg(Arg("x", "x", (3,)))
    g.add_arg(Arg("W", "W", (2, 3), "param"))
    s = [g.node(Op.SIN, (g.leaf(0, (k,)),)) for k in range(3)]
    g.outputs = [Output("y", (2,), tuple(g.node(Op.CONTRACT, tuple(s), (1, r)) for r in range(2)))]
    return g


def test_contraction_rules(rng):
    """The tangent is the same layer applied to the tangents, plus the tangent matrix
    applied to the vector; the adjoint of x_k is the transposed layer (a param of the VJP
    graph) applied to the adjoints, and W's gradient is left as (adjoints, vector) pairs."""
    g = _layer_graph()
    jg = jvp_graph(g, params=True)
    assert [a.name for a in jg.signature] == ["x", "W", "d_x", "d_W"]
    for r, n in enumerate(jg.outputs[0].nodes):
        assert jg.ops[n] is Op.ADD
        layers = sorted(jg.attrs[a] for a in jg.args[n] if jg.ops[a] is Op.CONTRACT)
        assert layers == [(1, r), (3, r)]                       # W on d(sin x), d_W on sin x
    vg = vjp_graph(g, params=True)
    assert [(a.name, a.role, a.shape) for a in vg.signature[2:]] == [
        ("ct_y", "input", (2,)), ("layer0_T", "param", (3, 2))]
    assert [o.name for o in vg.outputs] == ["grad_x", "layer0_ct", "layer0_in"]
    live = vg.live()                                            # W read by no scalar
    assert not any(live[i] and vg.ops[i] is Op.PARAM and vg.attrs[i][0] == 1
                   for i in range(len(vg)))
    for n in vg.outputs[0].nodes:                                # cos(x_k) * (W^T ct)_k
        assert Op.CONTRACT in [vg.ops[a] for a in vg.args[n]]
    x, W, ct = rng.normal(size=(9, 3)), rng.normal(size=(2, 3)), rng.normal(size=(9, 2))
    dx, dW = rng.normal(size=(9, 3)), rng.normal(size=(2, 3))
    jv = _kernel(jg)(x, W, dx, dW)
    grad_x, ct_rows, vector = _kernel(vg)(x, W, ct, W.T)
    assert_close(jv, np.sin(x) @ dW.T + (np.cos(x) * dx) @ W.T)
    assert_close(grad_x, np.cos(x) * (ct @ W))
    assert_close(ct_rows.T @ vector, ct.T @ np.sin(x))          # dL/dW, summed over events


def test_params_are_differentiated_on_request(rng):
    """Without ``params`` only the inputs; with it, their tangents and gradients transpose
    each other, a param's gradient summed over events."""
    g = model.input_graph
    assert not any(o.name == "grad_scale" for o in vjp_graph(g).outputs)
    jg, vg = jvp_graph(g, params=True), vjp_graph(g, params=True)
    assert [a.name for a in jg.signature[4:]] == ["d_x", "d_P", "d_s", "d_scale"]
    assert jg.signature[7].role == "param"
    assert [o.name for o in vg.outputs] == ["grad_x", "grad_P", "grad_s", "grad_scale"]
    assert [a.name for a in jvp_graph(g, params=True, inputs=False).signature[4:]] == ["d_scale"]
    assert [o.name for o in vjp_graph(g, params=True, inputs=False).outputs] == ["grad_scale"]
    x, P, s = _model_inputs(rng)
    tangents = (*_model_inputs(rng), 0.7)
    ct = (rng.normal(size=(len(x), 2)), rng.normal(size=len(x)), rng.normal(size=len(x)))
    jv = _kernel(jg)(x, P, s, 1.5, *tangents)
    vj = _kernel(vg)(x, P, s, 1.5, *ct)
    lhs = ((ct[0] * jv[0]).sum(1) + ct[1] * jv[1]).sum()
    rhs = sum((a * t).sum() for a, t in zip(vj, tangents))
    assert_close(lhs, rhs, rtol=1e-12)
    h = 1e-6
    fd = [(a - b) / (2 * h) for a, b in zip(model(x, P, s, scale=1.5 + h)[:2],
                                               model(x, P, s, scale=1.5 - h)[:2])]
    only_scale = _kernel(jg)(x, P, s, 1.5, 0 * x, 0 * P, 0 * s, 1.0)
    for k in range(2):
        assert_close(only_scale[k], fd[k], rtol=1e-6, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(g=graphs(max_steps=25))
def test_param_derivatives_of_random_graphs(g):
    """The random graphs of test_passes (params g, h among the leaves): the tangent along
    the params against central differences, and the VJP's per-event param gradients
    against the JVP (<ct, J t> = <J^T ct, t>)."""
    inputs, params = INPUTS, list(PARAMS.values())
    n = len(inputs[0])
    jk, vk = _kernel(jvp_graph(g, params=True)), _kernel(vjp_graph(g, params=True))
    k = _kernel(g)
    t = [0.3, -0.8]
    zeros = [np.zeros(n)] * len(inputs)
    jv = np.reshape(jk(*inputs, *params, *zeros, *t), (len(g.outputs), n))
    h = 1e-6
    plus = np.reshape(k(*inputs, *(p + h * d for p, d in zip(params, t))), jv.shape)
    minus = np.reshape(k(*inputs, *(p - h * d for p, d in zip(params, t))), jv.shape)
    scale = np.abs(plus) + np.abs(minus) + np.abs(jv)
    assert np.all(np.abs(jv - (plus - minus) / (2 * h)) <= 1e-5 * scale + 1e-7)
    ct = [np.cos(np.arange(n) + k) for k in range(len(g.outputs))]
    grads = vk(*inputs, *params, *ct)
    grads = grads if isinstance(grads, tuple) else (grads,)
    found = {o.name: v for o, v in zip(vk.input_graph.outputs, grads)}
    rhs = sum(found.get(f"grad_{name}", 0) * d for name, d in zip(PARAMS, t))
    lhs = sum(c * np.real(v) for c, v in zip(ct, jv))
    assert_close(np.broadcast_to(rhs, (n,)), lhs, rtol=1e-9, atol=1e-9 * np.abs(jv).max())


def test_traced_derivatives_with_respect_to_params(rng):
    """pg.grad / pg.jacobian of params inside traced code: a scalar param, and the weights
    of a layer, as a matrix product and written out (same numbers)."""
    W = rng.normal(size=(4, 3))

    def make(contract: bool):
        @pg.compile(backend="numpy")
        def f(x: pg.Vec[3], m: pg.Param = 2.0, w: pg.Param[4, 3] = W):
            d_m = pg.grad(lambda v: pg.exp(-x[0] * v), m)
            def y(ws):
                layer = pg.nn.dense(x, pg.Mat([ws[3 * r:3 * r + 3] for r in range(4)]),
                                    contract=contract)
                return pg.nn.tanh(layer).dot(pg.Vec(1, 2, 3, 4))
            return d_m, pg.grad(y, pg.Vec(w.elements()))
        return f
    x = rng.normal(size=(6, 3))
    d_m, d_w = make(True)(x)
    assert_close(d_m, -x[:, 0] * np.exp(-2 * x[:, 0]))
    expected = (np.arange(1, 5) / np.cosh(x @ W.T) ** 2)[:, :, None] * x[:, None, :]
    assert_close(d_w, expected.reshape(6, 12))
    assert_close(make(False)(x)[1], d_w)

    @pg.compile(backend="numpy")
    def at_a_number(x, m: pg.Param = 2.0):         # 3.0 stands for itself: a placeholder
        return pg.grad(lambda v: v[0] * v[1] * x, pg.Vec(m, 3.0))
    assert_close(at_a_number(np.array([1.0, 2.0])), [[3.0, 2.0], [6.0, 4.0]])
    with pytest.raises(pg.UnsupportedError, match="boolean"):
        @pg.compile(backend="numpy")
        def g(x, m: pg.Param = 2.0):
            return pg.grad(lambda v: x < v, m)


def test_an_op_without_a_derivative_is_an_error_not_a_zero(monkeypatch):
    """A numeric op with no rule on the path of a derivative raises, naming it (both
    modes), where it used to give a silent zero."""
    from physgraph import autodiff
    monkeypatch.delitem(autodiff.PARTIALS, Op.SIN)
    g = _chain(60)
    for transform in (jvp_graph, vjp_graph):
        with pytest.raises(pg.UnsupportedError, match="sin has no derivative"):
            transform(g)
