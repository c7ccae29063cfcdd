"""The op table: every operation of the IR defined once, with its rules beside it.

One ``OpDef`` per op says everything the rest of the compiler needs to know about it: its
arity and type rule, its value on constants (exactly, on rationals, where that is possible),
its derivative, its SymPy counterpart, its cost class, its symmetry under x -> -x, the
traced function and numpy ufunc that make it, and how each backend spells it (with the
import that spelling needs).  The graph, constant folding, autodiff, the SymPy bridge, flop
counting, the tracer's math functions and the printers all read their facts from here, so
adding an op is one entry in ``TABLE`` plus its tests (``tests/test_ops.py`` walks the
table and fails for an entry that misses a rule).

``Op`` is the IntEnum of the table's names, in table order.  Rules written as lambdas refer
to ``Op`` by name; it is bound by the time any rule runs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum
from fractions import Fraction
from typing import Callable

import numpy as np

BACKENDS = ("numpy", "numba", "jax", "cuda", "llvm")

# type rules (``OpDef.result``): what a node's value type is, from its operands' types
LEAF = "leaf"            # no operands (inputs and params are real; constants say their type)
NUMERIC = "numeric"      # numeric operands; the widest of their types (real < complex)
REAL = "real"            # numeric operands; a real result (abs, re, im)
BOOL = "bool"            # a comparison of numeric operands
LOGIC = "logic"          # boolean operands, a boolean result
SELECT = "select"        # where(bool, a, b): the wider branch type
COMPLEX = "complex"      # complex(re, im) of real operands
CONTRACT = "contract"    # a row of a param matrix times real operands
CALL = "call"            # output k of a routine (``graph.Routine``) of real operands


class NotDifferentiable:
    """The ``partials`` of an op without a derivative (comparisons, logic, leaves)."""


@dataclass(frozen=True)
class Spelling:
    """How a backend writes an op: ``template.format(*operands)``, plus the import line the
    generated module needs for it (None: nothing beyond the backend's own imports)."""
    template: str
    imports: str | None = None


@dataclass(frozen=True)
class OpDef:
    name: str
    arity: int | None = 1                 # None: any number (a contraction's columns)
    result: str = NUMERIC
    commutative: bool = False             # binary and symmetric: arguments are sorted
    real_only: bool = False               # a complex operand is an error
    numeric: Callable | None = None       # value on numpy scalars: folding and reference
    exact: Callable | None = None         # value on Fractions, when it is a Fraction
    partials: object = None               # (b, node, args, k) -> d node / d args[k]
    linear: tuple | None = None           # (forward, reverse) rules of real-linear ops
    sympy: str | None = None              # SymPy function that reads and prints as this op
    cost: str | None = "special"          # flop class (cost.CLASSES); None: free
    parity: str | None = None             # "even": f(-x) = f(x); "odd": f(-x) = -f(x)
    function: str | None = None           # the traced function pg.<function>
    ufunc: str | None = None              # the numpy ufunc that maps to it on traced values
    spellings: dict = field(default_factory=dict)   # backend -> Spelling (None: printed
    #                                                 by the printer's _print_<NAME> method)


# ---- spellings ---------------------------------------------------------------------------
def _call(name: str, arity: int) -> str:
    return f"{name}({', '.join(['{}'] * arity)})"


def vector_call(name: str, arity: int = 1) -> Spelling:
    """LLVM IR: a call of the vector function ``@pg.<name>.{m}`` on ``{t}`` operands.  The
    llvm printer fills in the vector type ``{t}`` and its mangling ``{m}`` (``<4 x double>``,
    ``v4f64``), and defines the function (``backends/vecmath.py``, keyed by ``imports``)."""
    operands = ", ".join(["{t} {}"] * arity)
    return Spelling(f"call {{t}} @pg.{name}.{{m}}({operands})", name)


def calls(np_name: str | None, c_name: str | None, arity: int = 1) -> dict:
    """A function that numpy (and numba, on scalars), jax.numpy and C all have (LLVM calls
    its vector form of the C name)."""
    out = {}
    if np_name is not None:
        out |= {"numpy": Spelling(_call(f"np.{np_name}", arity)),
                "numba": Spelling(_call(f"np.{np_name}", arity)),
                "jax": Spelling(_call(f"jnp.{np_name}", arity))}
    if c_name is not None:
        out["cuda"] = Spelling(_call(c_name, arity))
        out["llvm"] = vector_call(c_name, arity)
    return out


def infix(template: str, llvm: str | None, **other: str) -> dict:
    """An operator every backend but LLVM writes the same way, except those given by name;
    ``llvm`` is its LLVM IR instruction (``{t}``: the operands' vector type, ``{b}``: the
    vector of booleans; None: no instruction, e.g. the complex parts, lowered for LLVM)."""
    return {b: Spelling(other.get(b, template)) for b in BACKENDS if b != "llvm"} | \
        {"llvm": llvm and Spelling(llvm)}


def _libm(name: str, arity: int = 1) -> dict:
    """A C99 libm function that numpy has no ufunc for: numpy per element through Python's
    ``math`` (the reference backend: exact, not fast), numba's ``math``, JAX's scipy."""
    call = _call(f"math.{name}", arity)
    return {"numpy": Spelling(f"np.vectorize(math.{name}, otypes=[np.float64])"
                              f"({', '.join(['{}'] * arity)})", "import math"),
            "numba": Spelling(call, "import math"),
            "jax": Spelling(_call(f"jax.scipy.special.{name}", arity), "import jax.scipy.special"),
            "cuda": Spelling(_call(name, arity)), "llvm": vector_call(name, arity)}


def _per_element(fn: Callable) -> Callable:
    """A Python float function applied to numbers and to arrays alike."""
    vectorized = np.vectorize(fn, otypes=[np.float64])
    return lambda x: vectorized(x)[()]


# ---- derivative rules: (builder, node, its args, arg index) -> partial, or a tangent ------
def _sq(b, x):
    return b.mul(x, x)


def _d_powi(b, w, a, k):
    n = b.g.attrs[w]
    if n == 0:
        return None
    power = b.one if n == 1 else b.op(Op.POWI, a[0], attr=n - 1)
    return b.mul(b.const(n), power)


def _d_pow(b, w, a, k):
    x, y = a
    if k == 0:
        return b.mul(y, b.op(Op.POW, x, b.sub(y, b.one)))
    return b.mul(w, b.op(Op.LOG, x))


def _d_atan2(b, w, a, k):
    y, x = a
    r2 = b.add(_sq(b, x), _sq(b, y))
    return b.div(x, r2) if k == 0 else b.neg(b.div(y, r2))


def _d_erf(b, w, a, k):
    """2 / sqrt(pi) exp(-x^2)."""
    return b.mul(b.const(2 / math.sqrt(math.pi)), b.op(Op.EXP, b.neg(_sq(b, a[0]))))


# the selecting and real-linear ops: a forward rule (builder, node, args, arg tangents) and a
# reverse rule (builder, node, args, adjoint) -> per-arg adjoints (see autodiff's docstring
# for the complex conventions)
def _select(b, w, a):
    """(condition, index of the arg chosen when it holds, the other) of where/min/max."""
    op = b.g.ops[w]
    if op is Op.WHERE:
        return a[0], 1, 2
    first, second = a
    cond = b.op(Op.LE, first, second) if op is Op.MIN else b.op(Op.LE, second, first)
    return cond, 0, 1


def _fwd_select(b, w, a, t):
    cond, yes, no = _select(b, w, a)
    return b.where(cond, t[yes], t[no])


def _rev_select(b, w, a, ct):
    cond, yes, no = _select(b, w, a)
    out = [None] * len(a)
    out[yes], out[no] = b.where(cond, ct, None), b.where(cond, None, ct)
    return out


def _abs_factor(b, w, x):
    """d|x| = Re(conj(f) dx) with f = x / |x| (complex) or sign(x) (real)."""
    if b.g.types[x] is T.COMPLEX:
        return b.div(x, w)
    return b.where(b.op(Op.LT, x, b.const(0)), b.const(-1), b.one)


def _complex_part(b, x):
    """Im of a tangent or adjoint (None when it is real: its imaginary part is zero)."""
    return None if x is None or b.g.types[x] is not T.COMPLEX else b.op(Op.IM, x)


def _fwd_contract(b, w, a, t):
    zero = b.const(0)
    return b.op(Op.CONTRACT, *(zero if x is None else x for x in t), attr=b.g.attrs[w])


def _rev_contract(b, w, a, ct):
    """d out / d args[k] = W[row, k], an element of the param matrix."""
    pos, row = b.g.attrs[w]
    return [b.mul(ct, b.op(Op.PARAM, attr=(pos, (row, k)))) for k in range(len(a))]


SELECTING = (_fwd_select, _rev_select)
NO = NotDifferentiable


def _where(c, a, b):
    return np.where(c, a, b)[()]          # a numpy scalar, not a 0-d array, on scalars


# ---- the table ---------------------------------------------------------------------------
TABLE = [
    OpDef("INPUT", 0, LEAF, partials=NO, cost=None),
    OpDef("PARAM", 0, LEAF, partials=NO, cost=None),
    OpDef("CONST", 0, LEAF, partials=NO, cost=None),
    OpDef("ADD", 2, commutative=True, numeric=np.add, exact=lambda a, b: a + b,
          partials=lambda b, w, a, k: b.one, cost="add",
          spellings=infix("{} + {}", "fadd {t} {}, {}")),
    OpDef("SUB", 2, numeric=np.subtract, exact=lambda a, b: a - b,
          partials=lambda b, w, a, k: b.one if k == 0 else b.const(-1), cost="add",
          spellings=infix("{} - {}", "fsub {t} {}, {}")),
    OpDef("MUL", 2, commutative=True, numeric=np.multiply, exact=lambda a, b: a * b,
          partials=lambda b, w, a, k: a[1 - k], cost="mul",
          spellings=infix("{} * {}", "fmul {t} {}, {}")),
    OpDef("DIV", 2, numeric=np.divide, exact=lambda a, b: a / b if b != 0 else None,
          partials=lambda b, w, a, k: b.div(b.one, a[1]) if k == 0 else b.neg(b.div(w, a[1])),
          cost="div", spellings=infix("{} / {}", "fdiv {t} {}, {}")),
    OpDef("NEG", numeric=np.negative, exact=lambda a: -a,
          partials=lambda b, w, a, k: b.const(-1), cost="add",
          spellings=infix("-{}", "fneg {t} {}", cuda="-({})")),
    # a * b + c: made by the fma pass for backends with a fused multiply-add
    OpDef("FMA", 3, numeric=lambda a, b, c: a * b + c, exact=lambda a, b, c: a * b + c,
          partials=lambda b, w, a, k: (a[1], a[0], b.one)[k], cost="fma",
          spellings=infix("{} * {} + {}", "call {t} @llvm.fma.{m}({t} {}, {t} {}, {t} {})",
                          cuda="fma({}, {}, {})")),
    # x ** n, n an int attribute (the printers spell it with the attribute)
    OpDef("POWI", numeric=None, partials=_d_powi,
          spellings=dict.fromkeys(BACKENDS)),
    OpDef("POW", 2, numeric=np.power, partials=_d_pow, sympy="Pow",
          spellings={**infix("{} ** {}", None, cuda="pow({}, {})"),
                     "llvm": vector_call("pow", 2)}),
    OpDef("SQRT", numeric=np.sqrt, partials=lambda b, w, a, k: b.div(b.const(Fraction(1, 2)), w),
          sympy="sqrt", cost="sqrt", function="sqrt", ufunc="sqrt",
          spellings=calls("sqrt", "sqrt")),
    # 1 / sqrt(x)
    OpDef("RSQRT", numeric=lambda x: 1.0 / np.sqrt(x),
          partials=lambda b, w, a, k: b.mul(b.const(Fraction(-1, 2)), b.div(w, a[0])),
          cost="sqrt", function="rsqrt",
          spellings={**dict.fromkeys(("numpy", "numba", "jax")), "cuda": Spelling("rsqrt({})"),
                     "llvm": vector_call("rsqrt")}),
    OpDef("EXP", numeric=np.exp, partials=lambda b, w, a, k: w, sympy="exp", function="exp",
          ufunc="exp", spellings=calls("exp", "exp")),
    OpDef("LOG", numeric=np.log, partials=lambda b, w, a, k: b.div(b.one, a[0]), sympy="log",
          function="log", ufunc="log", spellings=calls("log", "log")),
    OpDef("SIN", numeric=np.sin, partials=lambda b, w, a, k: b.op(Op.COS, a[0]), sympy="sin",
          parity="odd", function="sin", ufunc="sin", spellings=calls("sin", "sin")),
    OpDef("COS", numeric=np.cos, partials=lambda b, w, a, k: b.neg(b.op(Op.SIN, a[0])),
          sympy="cos", parity="even", function="cos", ufunc="cos", spellings=calls("cos", "cos")),
    OpDef("TAN", numeric=np.tan, partials=lambda b, w, a, k: b.add(b.one, _sq(b, w)),
          sympy="tan", parity="odd", function="tan", ufunc="tan", spellings=calls("tan", "tan")),
    OpDef("ASIN", numeric=np.arcsin,
          partials=lambda b, w, a, k: b.op(Op.RSQRT, b.sub(b.one, _sq(b, a[0]))), sympy="asin",
          parity="odd", function="asin", ufunc="arcsin", spellings=calls("arcsin", "asin")),
    OpDef("ACOS", numeric=np.arccos,
          partials=lambda b, w, a, k: b.neg(b.op(Op.RSQRT, b.sub(b.one, _sq(b, a[0])))),
          sympy="acos", function="acos", ufunc="arccos", spellings=calls("arccos", "acos")),
    OpDef("ATAN", numeric=np.arctan,
          partials=lambda b, w, a, k: b.div(b.one, b.add(b.one, _sq(b, a[0]))), sympy="atan",
          parity="odd", function="atan", ufunc="arctan", spellings=calls("arctan", "atan")),
    # atan2(y, x)
    OpDef("ATAN2", 2, real_only=True, numeric=np.arctan2, partials=_d_atan2, sympy="atan2",
          function="atan2", ufunc="arctan2", spellings=calls("arctan2", "atan2", 2)),
    OpDef("SINH", numeric=np.sinh, partials=lambda b, w, a, k: b.op(Op.COSH, a[0]), sympy="sinh",
          parity="odd", function="sinh", ufunc="sinh", spellings=calls("sinh", "sinh")),
    OpDef("COSH", numeric=np.cosh, partials=lambda b, w, a, k: b.op(Op.SINH, a[0]), sympy="cosh",
          parity="even", function="cosh", ufunc="cosh", spellings=calls("cosh", "cosh")),
    OpDef("TANH", numeric=np.tanh, partials=lambda b, w, a, k: b.sub(b.one, _sq(b, w)),
          sympy="tanh", parity="odd", function="tanh", ufunc="tanh",
          spellings=calls("tanh", "tanh")),
    OpDef("ASINH", numeric=np.arcsinh,
          partials=lambda b, w, a, k: b.op(Op.RSQRT, b.add(_sq(b, a[0]), b.one)), sympy="asinh",
          parity="odd", function="asinh", ufunc="arcsinh", spellings=calls("arcsinh", "asinh")),
    OpDef("ACOSH", numeric=np.arccosh,
          partials=lambda b, w, a, k: b.op(Op.RSQRT, b.sub(_sq(b, a[0]), b.one)), sympy="acosh",
          function="acosh", ufunc="arccosh", spellings=calls("arccosh", "acosh")),
    OpDef("ATANH", numeric=np.arctanh,
          partials=lambda b, w, a, k: b.div(b.one, b.sub(b.one, _sq(b, a[0]))), sympy="atanh",
          parity="odd", function="atanh", ufunc="arctanh", spellings=calls("arctanh", "atanh")),
    OpDef("ABS", result=REAL, numeric=np.abs, exact=abs,
          linear=(lambda b, w, a, t: b.re(b.mul(b.conj(_abs_factor(b, w, a[0])), t[0])),
                  lambda b, w, a, ct: [b.mul(ct, _abs_factor(b, w, a[0]))]),
          sympy="Abs", cost="other", function="abs", ufunc="absolute",
          spellings=calls("abs", "fabs")),
    OpDef("MIN", 2, commutative=True, real_only=True, numeric=np.minimum, exact=min,
          linear=SELECTING,
          sympy="Min", cost="other", function="minimum", ufunc="minimum",
          spellings=calls("minimum", "pg_min", 2)),
    OpDef("MAX", 2, commutative=True, real_only=True, numeric=np.maximum, exact=max,
          linear=SELECTING,
          sympy="Max", cost="other", function="maximum", ufunc="maximum",
          spellings=calls("maximum", "pg_max", 2)),
    OpDef("LT", 2, BOOL, real_only=True, numeric=np.less, partials=NO, sympy="StrictLessThan",
          cost="other", spellings=infix("{} < {}", "fcmp olt {t} {}, {}")),
    OpDef("LE", 2, BOOL, real_only=True, numeric=np.less_equal, partials=NO, sympy="LessThan",
          cost="other", spellings=infix("{} <= {}", "fcmp ole {t} {}, {}")),
    OpDef("EQ", 2, BOOL, commutative=True, numeric=np.equal, partials=NO, sympy="Eq",
          cost="other", spellings=infix("{} == {}", "fcmp oeq {t} {}, {}")),
    OpDef("NE", 2, BOOL, commutative=True, numeric=np.not_equal, partials=NO, sympy="Ne",
          cost="other", spellings=infix("{} != {}", "fcmp une {t} {}, {}")),
    OpDef("AND", 2, LOGIC, commutative=True, numeric=np.logical_and, partials=NO, sympy="And",
          cost="other", spellings={**calls("logical_and", None, 2),
                                   "numba": Spelling("{} and {}"), "cuda": Spelling("{} && {}"),
                                   "llvm": Spelling("and {b} {}, {}")}),
    OpDef("OR", 2, LOGIC, commutative=True, numeric=np.logical_or, partials=NO, sympy="Or",
          cost="other", spellings={**calls("logical_or", None, 2),
                                   "numba": Spelling("{} or {}"), "cuda": Spelling("{} || {}"),
                                   "llvm": Spelling("or {b} {}, {}")}),
    OpDef("NOT", 1, LOGIC, numeric=np.logical_not, partials=NO, sympy="Not", cost="other",
          spellings={**calls("logical_not", None), "numba": Spelling("not {}"),
                     "cuda": Spelling("!{}"), "llvm": Spelling("xor {b} {}, splat (i1 true)")}),
    # where(cond, a, b)
    OpDef("WHERE", 3, SELECT, numeric=_where, linear=SELECTING, cost="other", function="where",
          spellings={**calls("where", None, 3), "numba": Spelling("{1} if {0} else {2}"),
                     "cuda": Spelling("{} ? {} : {}"), "llvm": None}),
    OpDef("RE", result=REAL, numeric=np.real, exact=lambda a: a,
          linear=(lambda b, w, a, t: b.re(t[0]), lambda b, w, a, ct: [ct]),
          sympy="re", cost=None, function="re",
          spellings={**infix("{}.real", None), "cuda": None}),
    OpDef("IM", result=REAL, numeric=np.imag, exact=lambda a: Fraction(0),
          linear=(lambda b, w, a, t: _complex_part(b, t[0]),
                  lambda b, w, a, ct: [b.mul(ct, b.const(1j))]),
          sympy="im", cost=None, function="im",
          spellings={**infix("{}.imag", None), "cuda": None}),
    OpDef("CONJ", numeric=np.conj, exact=lambda a: a,
          linear=(lambda b, w, a, t: b.conj(t[0]), lambda b, w, a, ct: [b.conj(ct)]),
          sympy="conjugate", cost="add", function="conj", ufunc="conjugate",
          spellings={**calls("conj", None), "cuda": None}),
    # re + i * im
    OpDef("COMPLEX", 2, COMPLEX, real_only=True, numeric=lambda a, b: complex(a, b),
          linear=(lambda b, w, a, t: None if t[0] is None and t[1] is None else
                  b.op(Op.COMPLEX, *(b.const(0) if x is None else x for x in t)),
                  lambda b, w, a, ct: [b.re(ct), _complex_part(b, ct)]),
          cost=None, spellings=dict.fromkeys(BACKENDS)),
    # a row of a param matrix times a vector: sum_k W[row, k] * args[k]; attr (param
    # position, row).  The rows of one matrix with the same arguments are one matrix
    # product over a block of events (backends/contract.py); elsewhere a scalar like any other
    OpDef("CONTRACT", None, CONTRACT, linear=(_fwd_contract, _rev_contract), cost="fma"),
    # output k of a routine called on the arguments (attr: (routine, k)): the outputs of one
    # call share its arguments.  Backends that print functions (``Printer.calls``) call it
    # once per call; for the others, and for anything that reasons per scalar (autodiff,
    # SymPy export), the pipeline inlines its body first (passes/calls.py), so its value,
    # derivative and flops are those of the body.
    OpDef("CALL", None, CALL, partials=NO, cost=None),
    OpDef("ERF", real_only=True, numeric=_per_element(math.erf), partials=_d_erf, sympy="erf",
          parity="odd", function="erf", spellings=_libm("erf")),
    OpDef("ERFC", real_only=True, numeric=_per_element(math.erfc),
          partials=lambda b, w, a, k: b.neg(_d_erf(b, w, a, k)), sympy="erfc", function="erfc",
          spellings=_libm("erfc")),
    # log(1 + x) and exp(x) - 1, accurate for small x
    OpDef("LOG1P", real_only=True, numeric=np.log1p,
          partials=lambda b, w, a, k: b.div(b.one, b.add(b.one, a[0])), sympy="log1p",
          function="log1p", ufunc="log1p", spellings=calls("log1p", "log1p")),
    OpDef("EXPM1", real_only=True, numeric=np.expm1, partials=lambda b, w, a, k: b.add(w, b.one),
          sympy="expm1", function="expm1", ufunc="expm1",
          spellings=calls("expm1", "expm1")),
    # sqrt(x^2 + y^2) without overflow or underflow in between
    OpDef("HYPOT", 2, commutative=True, real_only=True, numeric=np.hypot,
          partials=lambda b, w, a, k: b.div(a[k], w), sympy="hypot", function="hypot",
          ufunc="hypot", spellings=calls("hypot", "hypot", 2)),
]

Op = IntEnum("Op", [d.name for d in TABLE], start=0)
Op.__doc__ = "The IR's operations, in the order of ``ops.TABLE``."
DEFS: dict = {Op[d.name]: d for d in TABLE}


class T(IntEnum):
    """Value type of a node; ordered so that ``max`` gives the type of mixed arithmetic."""
    BOOL = 0
    REAL = 1
    COMPLEX = 2


def spellings(backend: str) -> dict:
    """op -> Spelling for ``backend`` (ops printed by a ``_print_<NAME>`` method left out)."""
    return {op: d.spellings[backend] for op, d in DEFS.items()
            if d.spellings.get(backend) is not None}


# ---- values of ops on constants -------------------------------------------------------------
def evaluate(op: Op, values: list, attr=None):
    """Value of ``op`` on constant operands (Fraction, float, complex or bool): exact on
    Fractions where the op's ``exact`` rule gives a Fraction, else numpy's float64 /
    complex128 semantics, the IEEE rules the kernels follow at run time."""
    d = DEFS[op]
    if all(isinstance(v, Fraction) for v in values):
        if d.exact is not None:
            result = d.exact(*values)
            if result is not None:
                return result
        if op is Op.POWI and (values[0] != 0 or attr >= 0):
            return values[0] ** attr
    with np.errstate(all="ignore"):
        nums = [np.complex128(v) if isinstance(v, complex) else
                v if isinstance(v, bool) else np.float64(v) for v in values]
        result = nums[0] ** np.float64(attr) if op is Op.POWI else d.numeric(*nums)
    if isinstance(result, (bool, np.bool_)):
        return bool(result)
    if isinstance(result, (complex, np.complexfloating)):
        return complex(result)
    return float(result)
