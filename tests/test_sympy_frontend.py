"""The SymPy frontend: every supported node type against SymPy's own mpmath evaluation,
output structures, errors, k.to_sympy(), and expressions too large or deep to recurse on."""
from __future__ import annotations

import math
import sys

import mpmath
import numpy as np
import pytest
import sympy as sp

import physgraph as pg

from helpers import assert_close

x, y = sp.symbols("x y", real=True)
u = sp.Symbol("u", real=True)            # |u| < 1
z = sp.Symbol("z")                       # no assumptions: re(z), im(z), conjugate(z) stay put
I, E, pi, R = sp.I, sp.E, sp.pi, sp.Rational

# x in (0.2, 3), y in (-2, 2), u in (-0.9, 0.9), z in (-2, 2)
NODES = {
    "Add": x + y + 3,
    "Mul": 2 * x * y * z,
    "Mul by reciprocals": x * y / (z ** 2 + 1) / (x + 2),
    "Pow integer": x ** 3 - y ** 4 + x ** -2,
    "Pow negative odd": (y + 3) ** -3,
    "Pow rational": x ** R(3, 2) + x ** R(-1, 2) + x ** R(1, 3) + x ** R(-5, 3),
    "Pow half": sp.sqrt(x * y ** 2 + 1),
    "Pow symbolic": x ** y + (y ** 2 + 1) ** (x - 1),
    "Pow float": x ** 2.5 + x ** sp.Float(-0.75),
    "Integer": sp.Integer(7) * x - 11,
    "Rational": R(2, 3) * x + R(-1, 7),
    "Float": sp.Float("0.1") * x + sp.Float(1e-3) * y,
    "I": I * x + y,
    "I products": (x + I * y) ** 2 * (z - 2 * I),
    "I division": (x + I * y) / (1 + I * z),
    "E": E * x + E ** (y / 2),
    "pi": pi * x - pi ** 2,
    "sqrt": sp.sqrt(x) + sp.sqrt(2) * y,
    "exp": sp.exp(-x * y),
    "log": sp.log(x) + sp.log(y ** 2 + 1) + sp.log(x, 3),
    "sin cos tan": sp.sin(y) * sp.cos(x) + sp.tan(u),
    "inverse trig": sp.asin(u) + sp.acos(u) * sp.atan(y) + sp.atan2(y, x),
    "reciprocal trig": sp.cot(x) + sp.sec(y) + sp.csc(x),
    "hyperbolic": sp.sinh(y) + sp.cosh(y) * sp.tanh(x),
    "inverse hyperbolic": sp.asinh(y) + sp.acosh(x + 1) + sp.atanh(u),
    "reciprocal hyperbolic": sp.coth(x) + sp.sech(y) + sp.csch(x),
    "Abs": sp.Abs(y) + sp.Abs(z * (1 + I)),
    "re": sp.re(z * (1 + 2 * I)) + sp.re(sp.exp(I * z)),
    "im": sp.im(sp.exp(I * z) * (x + I)),
    "conjugate": sp.conjugate(z) * I + sp.conjugate(z * (x - I * y)),
    "Min": sp.Min(x, y, 1),
    "Max": sp.Max(x, y, z),
    "Piecewise": sp.Piecewise((x, y > 0), (y ** 2, x < 1), (0, True)),
    "Piecewise and/or": sp.Piecewise((x * y, sp.And(y > 0, x < 2)), (-x, sp.Or(y < -1, z >= 0)),
                                     (1, True)),
    "Piecewise no default": sp.Piecewise((x + 1, y > 0)),
    "sign": sp.sign(y) * x,
}
INPUTS = [x, y, u, z]


def points(rng, n: int = 25) -> list[np.ndarray]:
    return [rng.uniform(0.2, 3.0, n), rng.uniform(-2, 2, n), rng.uniform(-0.9, 0.9, n),
            rng.uniform(-2, 2, n)]


def mpmath_values(expr, symbols, arrays) -> np.ndarray:
    """SymPy's own evaluation, point by point in 30-digit mpmath; no physgraph code."""
    fn = sp.lambdify(symbols, expr, modules="mpmath")
    out = []
    with mpmath.workdps(30):
        for row in zip(*arrays):
            v = fn(*map(mpmath.mpf, row))
            out.append(complex(v) if v is not None else np.nan)   # Piecewise: no branch
    out = np.array(out)
    return out.real if np.all(out.imag == 0) else out


@pytest.fixture(scope="module")
def node_kernel():
    return pg.compile(list(NODES.values()), inputs=INPUTS, backend="numba")


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_every_node_type_matches_sympy(backend, node_kernel, rng):
    k = node_kernel.with_backend(backend)
    arrays = points(rng)
    got = k(*arrays)
    assert isinstance(got, tuple) and len(got) == len(NODES)
    for (name, expr), value in zip(NODES.items(), got):
        expected = mpmath_values(expr, INPUTS, arrays)
        assert value.shape == (25,), name
        assert np.iscomplexobj(value) == np.iscomplexobj(expected) or \
            np.all(np.imag(expected) == 0), name
        assert_close(value, expected, rtol=1e-12, atol=1e-12), name


@pytest.mark.parametrize("name", list(NODES))
def test_each_node_type_on_its_own(name, rng):
    """One kernel per node type (numpy backend): a wrong op shows up by name."""
    k = pg.compile(NODES[name], inputs=INPUTS, backend="numpy")
    arrays = points(rng, 12)
    assert_close(k(*arrays), mpmath_values(NODES[name], INPUTS, arrays), rtol=1e-12,
                 atol=1e-12)


def test_output_structures(rng):
    m = sp.Matrix([[x, y * 2], [x * y, 1], [sp.exp(x), I * y]])
    col = sp.Matrix([x, y])
    k = pg.compile([x + y, m, col, (x, 3)], inputs=[x, y], backend="numpy")
    a, b = rng.normal(size=6), rng.normal(size=6)
    s, mm, cc, (t1, t2) = k(a, b)
    assert s.shape == (6,) and mm.shape == (6, 3, 2) and cc.shape == (6, 2, 1)
    assert np.iscomplexobj(mm) and not np.iscomplexobj(cc)
    assert_close(s, a + b)
    assert_close(mm, np.stack([np.stack([a, 2 * b], -1), np.stack([a * b, np.ones(6)], -1),
                               np.stack([np.exp(a), 1j * b], -1)], 1))
    assert_close(cc, np.stack([a, b], -1)[:, :, None])
    assert_close(t1, a) and assert_close(t2, np.full(6, 3.0))
    single = pg.compile(x * y, inputs=[x, y], backend="numpy")(a, b)
    assert isinstance(single, np.ndarray) and single.shape == (6,)
    only_matrix = pg.compile(col, inputs=[x, y], backend="numpy")(a, b)
    assert only_matrix.shape == (6, 2, 1)


def test_params_and_matrix_symbol_inputs(rng):
    g, h = sp.symbols("g h", real=True)
    M = sp.MatrixSymbol("M", 2, 2)
    v = sp.symbols("v0:3", real=True)
    expr = g * x + h * M[0, 1] - M[1, 0] + v[2]
    k = pg.compile(expr, inputs=[x, M, list(v)], params=[g, h], backend="numpy")
    xs, ms, vs = rng.normal(size=5), rng.normal(size=(5, 2, 2)), rng.normal(size=(5, 3))
    expected = 0.5 * xs - 2.0 * ms[:, 0, 1] - ms[:, 1, 0] + vs[:, 2]
    assert_close(k(xs, ms, vs, g=0.5, h=-2.0), expected)
    assert_close(k(xs, ms, vs, 0.5, -2.0), expected)
    assert [a.name for a in k.signature] == ["x", "M", "input2", "g", "h"]


@pytest.mark.parametrize("expr, node", [
    (sp.gamma(x) + y, "gamma"),
    (sp.Heaviside(x) * y, "Heaviside"),
    (sp.Function("f")(x) + 1, "f"),
    (sp.floor(x) + y, "floor"),
    (sp.besselj(0, x), "besselj"),
    (sp.Sum(x ** sp.Symbol("k"), (sp.Symbol("k"), 0, 3)).doit(deep=False) * 0 + sp.erfi(y),
     "erfi"),
])
def test_unsupported_nodes_raise_naming_the_node(expr, node):
    with pytest.raises(pg.UnsupportedError, match=rf"\b{node}\b"):
        pg.compile(expr, inputs=[x, y], backend="numpy")


def test_symbol_missing_from_inputs_is_a_clear_error():
    with pytest.raises(pg.PhysgraphError, match=r"\by\b.*(input|param)"):
        pg.compile(x + y, inputs=[x], backend="numpy")
    with pytest.raises(TypeError, match="inputs"):
        pg.compile(x + y, backend="numpy")
    with pytest.raises(pg.UnsupportedError, match="twice"):
        pg.compile(x + y, inputs=[x, y], params=[x], backend="numpy")


@pytest.mark.parametrize("opt_level", [0, 2])
def test_to_sympy_round_trip(opt_level, rng):
    exprs = list(NODES.values())
    k = pg.compile(exprs, inputs=INPUTS, backend="numpy", opt_level=opt_level)
    back = k.to_sympy()
    assert isinstance(back, tuple) and len(back) == len(exprs)
    arrays = points(rng, 10)
    got = k(*arrays)
    for name, expr, value in zip(NODES, back, got):
        assert isinstance(expr, sp.Basic), name
        assert expr.free_symbols <= set(INPUTS), name
        # the exported expression, evaluated by SymPy, gives the kernel's numbers ...
        assert_close(mpmath_values(expr, INPUTS, arrays), value, rtol=1e-12, atol=1e-12), name
        # ... and the original expression's
        assert_close(mpmath_values(expr, INPUTS, arrays),
                     mpmath_values(NODES[name], INPUTS, arrays), rtol=1e-12, atol=1e-12), name


def test_to_sympy_of_a_traced_kernel_and_a_matrix(rng):
    @pg.compile(backend="numpy")
    def f(a, p: pg.Vec4, g: pg.Param):
        return a * p.m2 + g, (p * a)

    back = f.to_sympy()
    assert isinstance(back[1], sp.MatrixBase) and back[1].shape == (4, 1)
    syms = sorted(back[0].free_symbols | back[1].free_symbols, key=str)
    assert len(syms) == 6
    a, p = rng.normal(size=4), rng.normal(size=(4, 4))
    got = f(a, p, g=0.5)
    by_name = {s.name: s for s in syms}
    order = [by_name[n] for n in sorted(by_name)]
    values = {"a": a, "g": np.full(4, 0.5), **{f"p_{k}": p[:, k] for k in range(4)}}
    arrays = [values[s.name] for s in order]
    assert_close(mpmath_values(back[0], order, arrays), got[0])
    for k in range(4):
        assert_close(mpmath_values(back[1][k], order, arrays), got[1][:, k])


# ---- large and deep expressions ---------------------------------------------------------------
def count_operations(expr) -> int:
    """Arithmetic operations and function calls in ``expr``, counted with an explicit stack
    (SymPy's own count_ops takes ~10 s on 10^5 operations)."""
    ops, stack, seen = 0, [expr], set()
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, (sp.Add, sp.Mul)):
            ops += len(e.args) - 1
        elif isinstance(e, (sp.Pow, sp.Function)):
            ops += 1
        stack.extend(e.args)
    return ops


def test_hundred_thousand_operation_expression(rng):
    n_terms = 17_000            # each term c * x**j * sin(a * y + b) * z: 6 operations of its own
    coeffs = rng.uniform(-1, 1, n_terms)
    with sp.evaluate(False):    # SymPy's own simplification would take ~1 min to build it
        expr = sp.Add(*[sp.Float(coeffs[k]) * x ** (k % 5 + 1) * sp.sin((k % 97 + 1) * y + k)
                        * z for k in range(n_terms)])
    assert count_operations(expr) >= 100_000, "too small"
    k = pg.compile(expr, inputs=[x, y, z], backend="numpy")
    xs, ys, zs = rng.uniform(0.5, 1.5, 3), rng.normal(size=3), rng.normal(size=3)
    j = np.arange(n_terms)[:, None]
    expected = (coeffs[:, None] * xs ** (j % 5 + 1) * np.sin((j % 97 + 1) * ys + j) * zs).sum(0)
    assert_close(k(xs, ys, zs), expected, rtol=1e-9, atol=1e-9)


def test_expression_deeper_than_the_recursion_limit(rng, default_recursion_limit):
    depth = 3000
    assert depth > sys.getrecursionlimit()
    e = x
    for _ in range(depth):
        e = sp.sin(e) + y
    k = pg.compile([e, e * 2], inputs=[x, y], backend="numpy")
    xs, ys = rng.normal(size=3), rng.uniform(-0.5, 0.5, 3)

    def reference(a, b):
        t = a
        for _ in range(depth):
            t = math.sin(t) + b
        return t
    first, second = k(xs, ys)
    expected = np.array([reference(a, b) for a, b in zip(xs, ys)])
    assert_close(first, expected, rtol=1e-12, atol=1e-12)
    assert_close(second, 2 * expected, rtol=1e-12, atol=1e-12)
    back = k.to_sympy()                       # export walks the same depth
    sines, stack = 0, [back[0]]
    while stack:                              # SymPy's own .count() would recurse
        e = stack.pop()
        sines += isinstance(e, sp.sin)
        stack.extend(e.args)
    assert sines == depth


@pytest.mark.parametrize("backend", ["numpy", "numba", "cuda"])
def test_constant_complex_outputs(backend):
    """Outputs that fold to complex constants; CUDA (no GPU needed) runs as host C++."""
    k = pg.compile([sp.exp(I), x * 2, 2 + 3 * I, x + I], inputs=[x], backend=backend)
    xs = np.array([1.0, -2.0])
    if backend == "cuda":
        from physgraph.backends.cuda import host_function, launch
        arrays, n = k._convert(k._bind([xs], {}))
        got = k._allocate(n)
        launch(host_function(k.source, k.options.dtype), n, arrays, got)
    else:
        got = k(xs)
    expected = [np.full(2, np.exp(1j)), 2 * xs, np.full(2, 2 + 3j), xs + 1j]
    for a, e in zip(got, expected, strict=True):
        assert_close(a, e, rtol=1e-15, atol=0)
