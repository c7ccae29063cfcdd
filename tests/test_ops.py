"""The op table: every op has every rule, and the ops added through it (erf, erfc, log1p,
expm1, hypot) agree with scipy/numpy on every backend, fold, differentiate and read from and
print to SymPy."""
from __future__ import annotations

import dataclasses
import math

import mpmath
import numpy as np
import pytest
import scipy.special
import sympy as sp
from sympy.codegen import cfunctions

import physgraph as pg
from physgraph import cost, ops
from physgraph.backends import printer_for
from physgraph.graph import Arg, Graph
from physgraph.ops import DEFS, BACKENDS, NotDifferentiable, Op
from physgraph.passes import lower_complex
from physgraph.symbolic import _TO_SYMPY
from test_cuda import run_host

# ops a backend never sees: leaves are read, not computed; contractions are expanded for
# the printers that run no matrix products, routine calls inlined for those that print no
# functions (the others print calls as calls); a real-only target gets complex values lowered
_NEVER_PRINTED = {Op.INPUT, Op.PARAM, Op.CONST, Op.CONTRACT, Op.CALL}
# ops whose value, and SymPy form, are those of the scalars they stand for (expanded or
# inlined first)
_STANDS_FOR_SCALARS = {Op.CONTRACT, Op.CALL}
_LOWERED_FOR_REAL_TARGETS = {Op.RE, Op.IM, Op.CONJ}


def missing_rules(defs: dict) -> list[str]:
    """'OP: rule' for every rule an entry of the op table lacks."""
    missing = []
    for op, d in defs.items():
        leaf = d.result == ops.LEAF
        if not leaf and op not in _STANDS_FOR_SCALARS and op is not Op.POWI and d.numeric is None:
            missing.append(f"{op.name}: numeric value (constant folding)")
        if d.partials is None and d.linear is None:
            missing.append(f"{op.name}: derivative (or NotDifferentiable)")
        if not leaf and op not in _TO_SYMPY and op not in (Op.POWI, *_STANDS_FOR_SCALARS):
            missing.append(f"{op.name}: SymPy counterpart")
        if d.cost not in (*cost.CLASSES, None):
            missing.append(f"{op.name}: cost class")
        if not d.real_only and d.result in (ops.NUMERIC, ops.REAL) and \
                op not in lower_complex._PAIR_RULES and op not in _COMPLEX_BY_STRUCTURE:
            missing.append(f"{op.name}: complex lowering")
        for backend in BACKENDS:
            printer = printer_for(backend)
            skip = _NEVER_PRINTED | (_LOWERED_FOR_REAL_TARGETS if printer.real_only else set())
            if op not in skip and d.spellings.get(backend) is None and \
                    not hasattr(printer, f"_print_{op.name}"):
                missing.append(f"{op.name}: {backend} spelling")
    return missing


# complex operands handled by lower_complex itself, not by a pair rule; and FMA, which the
# fma pass makes after lowering, of real products only
_COMPLEX_BY_STRUCTURE = {Op.POWI, Op.RE, Op.IM, Op.ABS, Op.CONTRACT, Op.FMA}


def test_every_op_has_every_rule():
    assert missing_rules(DEFS) == []


def test_the_table_test_fails_for_a_missing_rule():
    broken = dict(DEFS)
    broken[Op.ERF] = dataclasses.replace(DEFS[Op.ERF], partials=None,
                                         spellings={**DEFS[Op.ERF].spellings, "jax": None})
    assert missing_rules(broken) == ["ERF: derivative (or NotDifferentiable)",
                                     "ERF: jax spelling"]


def test_op_enum_follows_the_table():
    assert [op.name for op in Op] == [d.name for d in ops.TABLE]
    assert all(DEFS[op].partials is NotDifferentiable for op in (Op.LT, Op.AND, Op.NOT))


# ---- the ops added through the table -----------------------------------------------------
def _points(rng) -> dict:
    """Arguments over each function's full range, special values included."""
    wide = np.concatenate([np.linspace(-30, 30, 601), [0.0, -0.0, 1e-300, -1e-300, 1e-12,
                                                        np.inf, -np.inf, np.nan]])
    small = np.concatenate([rng.uniform(-1e-8, 1e-8, 50), 10.0 ** np.arange(-300, 1, 15)])
    log1p_x = np.concatenate([np.linspace(-0.999999, 50, 301), small, [1e300, -1.0, np.inf]])
    expm1_x = np.concatenate([np.linspace(-700, 700, 301), small, [-np.inf, np.inf, 710.0]])
    h = np.concatenate([rng.standard_normal(100), [1e300, 3e-310, 0.0, np.inf, np.nan, -1e200]])
    return {"erf": (wide,), "erfc": (wide,), "log1p": (log1p_x,), "expm1": (expm1_x,),
            "hypot": (h, h[::-1] * 1e3)}


def _exact(name: str):
    """The function to 30 digits (mpmath), rounded to float64; numpy/scipy at inf and NaN."""
    precise = np.frompyfunc(lambda *xs: float(getattr(mpmath, name)(*map(mpmath.mpf, xs))),
                            len(_points(np.random.default_rng(0))[name]), 1)
    fallback = {"erf": scipy.special.erf, "erfc": scipy.special.erfc}.get(name) or \
        getattr(np, name)

    def reference(*xs):
        xs = np.broadcast_arrays(*(np.asarray(x, np.float64) for x in xs))
        finite = np.all([np.isfinite(x) for x in xs], axis=0) & (xs[0] != -1 if name ==
                                                                 "log1p" else True)
        out = np.asarray(fallback(*xs), np.float64)
        with mpmath.workdps(30):
            out[finite] = precise(*(x[finite] for x in xs)).astype(np.float64)
        return out
    return reference


REFERENCE = {name: _exact(name) for name in ("erf", "erfc", "log1p", "expm1", "hypot")}
# measured limits of a backend's library, not of physgraph: (backend, dtype, op) -> the
# (relative, absolute) error allowed there
KNOWN_LIMITS = {
    ("jax", "float32", "erfc"): (2e-6, 1e-35),     # XLA's erfc gives 0 below ~1e-35
    ("jax", "float64", "erfc"): (1e-13, 0.0),      # XLA's erfc tail, x > 10: ~250 ulp
}


def _run(k, args):
    return run_host(k, list(args))[0] if k.options.backend == "cuda" else k(*args)


def _traced(name: str):
    """A traced function of the op's arity (the tracer reads named parameters)."""
    fn = getattr(pg, name)
    return (lambda x, y: fn(x, y)) if name == "hypot" else (lambda x: fn(x))


@pytest.mark.parametrize("dtype, rtol", [("float64", 4e-15), ("float32", 2e-6)])
@pytest.mark.parametrize("backend", ["numpy", "numba", "jax", "cuda", "llvm"])
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_new_ops_agree_with_scipy_on_every_backend(name, backend, dtype, rtol, rng):
    with np.errstate(over="ignore"):             # 1e300 is inf in float32, as meant
        args = [a.astype(dtype) for a in _points(rng)[name]]
    k = pg.compile(_traced(name), backend=backend, dtype=dtype, name=name)
    got = _run(k, args)
    with np.errstate(all="ignore"):
        want = REFERENCE[name](*args).astype(dtype)
    # XLA flushes subnormal results to zero: below the smallest normal number, absolute
    rtol, atol = KNOWN_LIMITS.get((backend, dtype, name), (rtol, 0.0))
    atol = max(atol, np.finfo(dtype).tiny)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_new_ops_fold_differentiate_and_round_trip_through_sympy(name):
    fn, ref = getattr(pg, name), REFERENCE[name]
    point = [0.37, -1.3] if name == "hypot" else [0.37]
    assert fn(*point) == pytest.approx(float(ref(*point)), rel=1e-15)
    folded = pg.compile(lambda x: x + fn(*point), backend="numpy")    # constants fold
    assert name not in folded.stats["ops"]
    assert folded(np.array([1.0]))[0] == pytest.approx(1 + float(ref(*point)), rel=1e-15)

    def gradient1(x: pg.Vec[1]):
        return pg.grad(lambda v: fn(*v), x)

    def gradient2(x: pg.Vec[2]):
        return pg.grad(lambda v: fn(*v), x)
    got = pg.compile(gradient2 if len(point) == 2 else gradient1,
                     backend="numpy")(np.array([point]))[0]
    for wrt, value in enumerate(got):
        up, down = list(point), list(point)
        up[wrt] += 1e-6
        down[wrt] -= 1e-6
        assert value == pytest.approx((ref(*up) - ref(*down)) / 2e-6, rel=1e-8)
    xs = sp.symbols(f"x0:{len(point)}", real=True)
    function = getattr(sp, name, None) or getattr(cfunctions, name)
    k = pg.compile(function(*xs) * 2, inputs=list(xs), backend="numba")
    assert k(*(np.array([p]) for p in point))[0] == pytest.approx(2 * float(ref(*point)),
                                                                   rel=1e-15)
    assert k.to_sympy().atoms(function) != set()


def test_new_ops_refuse_complex_operands():
    with pytest.raises(pg.UnsupportedError, match="erf of a complex value"):
        pg.compile(lambda x: pg.erf(x * pg.I), backend="numpy")


def test_odd_erf_folds_its_sign():
    g = Graph()
    g.add_arg(Arg("x", "x"))
    x = g.leaf(0)
    from physgraph.passes.fold import fold_rule
    node = fold_rule()(g, Op.ERF, (g.node(Op.NEG, (x,)),), None)
    assert g.ops[node] is Op.NEG and g.ops[g.args[node][0]] is Op.ERF


def test_numpy_source_imports_what_erf_needs():
    k = pg.compile(lambda x: pg.erf(x), backend="numpy")
    assert "import math" in k.source and "math.erf" in k.source
    assert math.isclose(k(np.array([0.5]))[0], math.erf(0.5), rel_tol=1e-15)
