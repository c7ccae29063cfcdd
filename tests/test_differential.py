"""Differential properties: random expression graphs, compiled by physgraph, against SymPy's
own mpmath evaluation; numpy backend at every opt level and the numba backend must agree.

Expressions are drawn as SymPy trees over real inputs x in [0.5, 2], y, z in [-1, 1]. Every
operation is kept well conditioned by construction: divisions by b**2 + 1 or by values with
real part >= 1.5, sqrt/log/fractional powers of b**2 + 1 (or of 2 + squash(w) for complex
w), exp/sinh/cosh/tan/asin/acos/atanh of squash(b) (|squash(b)| <= 1/2), acosh(b**2 + 2).

Tolerance: float64 evaluation of a graph of bounded depth commits a few ulps per operation,
*relative to the operands*, and a difference a - b of nearly equal operands keeps that
absolute error while the result shrinks.  So the error is measured against the scale
S = |ref| + max |v| over every subexpression v at that point (evaluated by mpmath), and

    |physgraph - mpmath| <= 1e-12 * S

i.e. a relative error of 1e-12 (about 4500 ulps) wherever no cancellation happens; a wrong
operation, sign, constant or branch is off by O(S).  Comparisons are discontinuous, so points
where a compared difference is within 1e-9 * S of zero are left out of that example (rare:
the inputs are random reals).
"""
from __future__ import annotations

import os

import mpmath
import numpy as np
import pytest
import sympy as sp
from sympy.codegen import cfunctions
from hypothesis import given, reject, settings
from hypothesis import strategies as st

import physgraph as pg
from test_cuda import cache_in, from_cache, host_build_for_the_gpu

x = sp.Symbol("x", real=True)
y, z = sp.symbols("y z", real=True)
INPUTS = [x, y, z]
N_POINTS = 16
RTOL = 1e-12


def squash(v, cplx: bool):
    """v / (|v|^2 + 1): bounded by 1/2 in modulus, smooth, zero only at zero."""
    return v / (v * sp.conjugate(v) + 1) if cplx else v / (v ** 2 + 1)


def unsorted(cls, *args):
    """An unevaluated Min/Max: SymPy's own evaluate=False path still sorts the arguments,
    and its sort key evaluates numeric subterms, which recurses without end while
    evaluation is switched off (see ``expression``)."""
    return sp.Expr.__new__(cls, *args)


# ---- strategies ------------------------------------------------------------------------------
real_leaf = st.one_of(
    st.sampled_from([x, y, z, x, y, z, sp.E, sp.pi]),
    st.integers(-3, 3).map(sp.Integer),
    st.tuples(st.integers(-5, 5), st.integers(2, 7)).map(lambda pq: sp.Rational(*pq)),
    st.floats(-2.0, 2.0, allow_nan=False, width=64).map(sp.Float),
)
complex_leaf = st.one_of(
    st.just(sp.I),
    st.tuples(st.integers(-2, 2), st.integers(1, 3)).map(lambda ab: ab[0] + ab[1] * sp.I),
    st.sampled_from([x, y, z]).map(lambda s: s * sp.I + 1),
)


@st.composite
def condition(draw, depth: int):
    # no Piecewise inside a condition: SymPy rewrites such conditions through its set
    # machinery (ExprCondPair -> as_set -> simplify), which recurses without end here
    a, _ = draw(expression(depth, cplx=False, where=False))
    b, _ = draw(expression(max(depth - 1, 0), cplx=False, where=False))
    rel = draw(st.sampled_from([sp.StrictLessThan, sp.LessThan, sp.StrictGreaterThan,
                                sp.GreaterThan]))(a, b)
    combine = draw(st.sampled_from(["none", "none", "and", "or", "not"]))
    if combine == "none":
        return rel
    if combine == "not":
        return sp.Not(rel)
    c = draw(st.sampled_from([x > 1, y < 0, z >= y, x <= 1.5]))
    return sp.And(rel, c) if combine == "and" else sp.Or(rel, c)


def _real_ops(draw, depth, where):
    def a(): return draw(expression(depth - 1, cplx=False, where=where))[0]
    def w(): return draw(expression(depth - 1, cplx=True, where=where))[0]
    def pos(): return a() ** 2 + 1                 # >= 1
    def q(): return squash(a(), False)             # |q| <= 1/2
    table = {
        "add": lambda: a() + a(), "sub": lambda: a() - a(), "mul": lambda: a() * a(),
        "div": lambda: a() / pos(), "powi": lambda: a() ** draw(st.sampled_from([2, 3, 4])),
        "inv": lambda: pos() ** -draw(st.sampled_from([1, 2, 3])),
        "powq": lambda: pos() ** draw(st.sampled_from(
            [sp.Rational(1, 2), sp.Rational(-1, 2), sp.Rational(1, 3), sp.Rational(3, 2),
             sp.Rational(-2, 3), sp.Rational(5, 4)])),
        "powf": lambda: pos() ** sp.Float(draw(st.floats(-2.5, 2.5, allow_nan=False))),
        "pows": lambda: (x if draw(st.booleans()) else pos()) ** (2 * q()),
        "sqrt": lambda: sp.sqrt(pos()), "log": lambda: sp.log(pos()),
        "exp": lambda: sp.exp(4 * q()), "sin": lambda: sp.sin(a()), "cos": lambda: sp.cos(a()),
        "tan": lambda: sp.tan(2 * q()), "asin": lambda: sp.asin(q()),
        "acos": lambda: sp.acos(q()), "atan": lambda: sp.atan(a()),
        "atan2": lambda: sp.atan2(a(), pos()), "sinh": lambda: sp.sinh(4 * q()),
        "cosh": lambda: sp.cosh(4 * q()), "tanh": lambda: sp.tanh(a()),
        "asinh": lambda: sp.asinh(a()), "acosh": lambda: sp.acosh(a() ** 2 + 2),
        "atanh": lambda: sp.atanh(q()), "abs": lambda: sp.Abs(a()),
        "erf": lambda: sp.erf(a()), "erfc": lambda: sp.erfc(a()),
        "log1p": lambda: cfunctions.log1p(a() ** 2), "expm1": lambda: cfunctions.expm1(4 * q()),
        "hypot": lambda: cfunctions.hypot(a(), a()),
        "min": lambda: unsorted(sp.Min, a(), a()), "max": lambda: unsorted(sp.Max, a(), a()),
        "where": lambda: sp.Piecewise((a(), draw(condition(depth - 1))), (a(), True)),
        "re": lambda: sp.re(w()), "im": lambda: sp.im(w()), "cabs": lambda: sp.Abs(w()),
    }
    return table[draw(st.sampled_from(sorted(k for k in table if where or k != "where")))]()


def _complex_ops(draw, depth, where):
    def a(): return draw(expression(depth - 1, cplx=False, where=where))[0]
    def w(): return draw(expression(depth - 1, cplx=True, where=where))[0]
    def q(): return squash(w(), True)               # |q| <= 1/2
    def off_cut(): return 2 + q()                   # real part >= 1.5: off every branch cut
    table = {
        "add": lambda: w() + w(), "sub": lambda: w() - w(), "mul": lambda: w() * w(),
        "div": lambda: w() / (1 + q() * sp.conjugate(q())), "divr": lambda: w() / (a() ** 2 + 1),
        "rdiv": lambda: a() / off_cut(), "powi": lambda: w() ** draw(st.sampled_from([2, 3])),
        "inv": lambda: off_cut() ** -draw(st.sampled_from([1, 2])),
        "sqrt": lambda: sp.sqrt(off_cut()), "log": lambda: sp.log(off_cut()),
        "exp": lambda: sp.exp(4 * q()), "sin": lambda: sp.sin(2 * q()),
        "cos": lambda: sp.cos(2 * q()), "sinh": lambda: sp.sinh(2 * q()),
        "cosh": lambda: sp.cosh(2 * q()), "conj": lambda: sp.conjugate(w()),
        "make": lambda: a() + sp.I * a(), "phase": lambda: sp.exp(sp.I * a()),
        "scale": lambda: a() * w(),
        "where": lambda: sp.Piecewise((w(), draw(condition(depth - 1))), (w(), True)),
        "powq": lambda: off_cut() ** sp.Rational(draw(st.sampled_from([1, -1, 3])), 2),
    }
    return table[draw(st.sampled_from(sorted(k for k in table if where or k != "where")))]()


@st.composite
def expression(draw, depth: int, cplx: bool | None = None, where: bool = True):
    """(SymPy expression, is complex) of at most ``depth`` operation levels; ``where``:
    whether Piecewise may appear."""
    if cplx is None:
        cplx = draw(st.booleans())
    if depth == 0 or draw(st.integers(0, 4)) == 0:
        return draw(complex_leaf if cplx else real_leaf), cplx
    # unevaluated: SymPy's automatic simplification can recurse without end in its
    # assumption system on v * conjugate(v), and the literal tree exercises physgraph's folding
    with sp.evaluate(False):
        try:
            return (_complex_ops if cplx else _real_ops)(draw, depth, where), cplx
        except RecursionError:    # in SymPy itself, building a deep unevaluated product
            reject()              # (seen by the long profile at depth 4 and 5)


# the long profile (tests/fuzz.py) draws deeper expressions as well as more of them
DEPTH = 4 if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 3
expression_lists = st.lists(expression(DEPTH), min_size=2, max_size=5).map(
    lambda pairs: [e for e, _ in pairs])


# ---- the reference and the comparison --------------------------------------------------------
def points(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.5, 2.0, N_POINTS), rng.uniform(-1, 1, N_POINTS),
            rng.uniform(-1, 1, N_POINTS)]


def _subexpressions(e) -> tuple[list, list]:
    """(numeric subexpressions, lhs - rhs of every comparison), walked with a stack."""
    values, margins, stack, seen = [], [], [e], set()
    while stack:
        node = stack.pop()
        if node in seen:                  # squash() repeats its argument: walk the DAG
            continue
        seen.add(node)
        if isinstance(node, sp.Expr):
            values.append(node)
        elif isinstance(node, sp.core.relational.Relational):
            margins.append(node.lhs - node.rhs)
        stack.extend(a for a in node.args if isinstance(a, sp.Basic))
    return values, margins


def _literal_cse(exprs):
    """Common subexpressions as (replacements, reduced), like ``sympy.cse`` but rebuilding
    nothing with evaluation: SymPy re-simplifying these trees can recurse without end (its
    assumption system on v * conjugate(v)).  Only numeric nodes are named; conditions keep
    their structure, with named operands."""
    names: dict = {}
    replacements: list = []
    for e in exprs:
        stack = [(e, False)]
        while stack:
            node, expanded = stack.pop()
            if node in names or node.is_Atom:
                continue
            if not expanded:
                stack.append((node, True))
                stack.extend((a, False) for a in node.args)
                continue
            with sp.evaluate(False):
                rebuilt = node.func(*(names.get(a, a) for a in node.args))
            if isinstance(node, sp.Expr) and not isinstance(node, sp.core.relational.Relational):
                names[node] = sp.Symbol(f"_c{len(replacements)}")
                replacements.append((names[node], rebuilt))
            else:
                names[node] = rebuilt
    return replacements, [names.get(e, e) for e in exprs]


def mpmath_eval(exprs: list, arrays: list) -> list[np.ndarray]:
    """SymPy's lambdify to mpmath at 30 digits, point by point (with cse: squash repeats
    its argument, and the trees would otherwise be evaluated once per repetition)."""
    fn = sp.lambdify(INPUTS, exprs, modules="mpmath", cse=_literal_cse)
    with mpmath.workdps(30):
        rows = [[complex(v) for v in fn(*map(mpmath.mpf, p))] for p in zip(*arrays)]
    return [np.array(col) for col in zip(*rows)]


def reference(exprs: list, arrays: list):
    """mpmath values, the per-point scale S and the mask of points away from every branch;
    one lambdify for everything, so common subexpressions are evaluated once."""
    parts = [_subexpressions(e) for e in exprs]
    flat = list(exprs)
    for values, margins in parts:
        flat += values + margins
    results = iter(mpmath_eval(flat, arrays))
    expected = [next(results) for _ in exprs]
    scale = np.zeros((len(exprs), N_POINTS))
    keep = np.ones(N_POINTS, bool)
    for k, (values, margins) in enumerate(parts):
        mags = np.abs([next(results) for _ in values])
        scale[k] = np.abs(expected[k]) + mags.max(axis=0)
        for _ in margins:
            keep &= ~(np.abs(next(results)) < 1e-9 * scale[k])
    return expected, scale, keep


def assert_agrees(got, exprs, expected, scale, keep, label: str) -> None:
    assert isinstance(got, tuple) and len(got) == len(exprs)
    for k, (value, ref) in enumerate(zip(got, expected)):
        assert value.shape == (N_POINTS,)
        err = np.abs(value - ref)
        bad = keep & ~(err <= RTOL * scale[k])
        assert not bad.any(), (
            f"{label}: output {k} = {exprs[k]}\n at x, y, z = {np.flatnonzero(bad)}\n"
            f" got {value[bad]}\n want {ref[bad]}\n err/S {(err / scale[k])[bad]}")


def compile_all(exprs, **options) -> pg.Kernel:
    return pg.compile(exprs, inputs=INPUTS, **options)


# ---- the properties --------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["numba", "llvm"])
@given(exprs=expression_lists, seed=st.integers(0, 2 ** 32 - 1),
       opt_level=st.sampled_from([2, 0, 3, 1]))
def test_compiled_numpy_and_sympy_agree(backend, exprs, seed, opt_level):
    """Several random expressions per kernel: one numba compile (~1-3 s) per example."""
    arrays = points(seed)
    expected, scale, keep = reference(exprs, arrays)
    compiled = compile_all(exprs, backend=backend, opt_level=opt_level)
    numpy_k = compiled.with_backend("numpy")
    got, got_numpy = compiled(*arrays), numpy_k(*arrays)
    assert_agrees(got, exprs, expected, scale, keep, f"{backend} opt_level {opt_level}")
    assert_agrees(got_numpy, exprs, expected, scale, keep, f"numpy opt_level {opt_level}")
    assert_agrees(got, exprs, got_numpy, scale, keep, f"{backend} vs numpy")


@settings(max_examples=4 * settings().max_examples)
@given(exprs=expression_lists, seed=st.integers(0, 2 ** 32 - 1))
def test_every_opt_level_agrees_with_sympy(exprs, seed):
    """The numpy backend is cheap to compile: opt levels 0 to 3 on four times the examples."""
    arrays = points(seed)
    expected, scale, keep = reference(exprs, arrays)
    results = {}
    for level in (0, 1, 2, 3):
        results[level] = compile_all(exprs, backend="numpy", opt_level=level)(*arrays)
        assert_agrees(results[level], exprs, expected, scale, keep, f"numpy opt_level {level}")
    assert_agrees(results[2], exprs, results[0], scale, keep, "opt_level 2 vs 0")


@given(exprs=expression_lists, seed=st.integers(0, 2 ** 32 - 1))
@settings(max_examples=max(settings().max_examples // 5, 3))
def test_to_sympy_export_agrees(exprs, seed):
    """The optimized graph exported to SymPy evaluates (by mpmath) to the original values."""
    arrays = points(seed)
    expected, scale, keep = reference(exprs, arrays)
    # the CUDA kernel's graph has fma nodes too; exporting needs no GPU and no JIT
    back = compile_all(exprs, backend="cuda").to_sympy()
    assert_agrees(tuple(mpmath_eval(list(back), arrays)), exprs, expected, scale, keep,
                  "to_sympy")


@pytest.mark.parametrize("backend", ["numpy", "numba", "jax", "cuda", "llvm"])
@settings(max_examples=3)
@given(exprs=expression_lists, seed=st.integers(0, 2 ** 32 - 1))
def test_every_backend_agrees_through_a_warm_cache(backend, exprs, seed, tmp_path_factory):
    """A kernel made again from the on-disk cache (its source read back, not printed) and
    loaded afresh agrees with SymPy and with numpy; CUDA runs as its host build."""
    arrays = points(seed)
    expected, scale, keep = reference(exprs, arrays)
    with cache_in(tmp_path_factory.mktemp("cache")), host_build_for_the_gpu():
        got = from_cache(compile_all(exprs, backend=backend))(*arrays)
    assert_agrees(got, exprs, expected, scale, keep, f"{backend} from the cache")
    numpy_k = compile_all(exprs, backend="numpy")
    assert_agrees(got, exprs, numpy_k(*arrays), scale, keep, f"{backend} from the cache vs numpy")
