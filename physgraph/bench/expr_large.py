"""Workload ``expr-large``: a random expression of about 10^4 operations (fixed seed).

It measures what a large generated expression costs each tool to compile and to run.  Its
shape is that of an expanded matrix element: two outputs, each a long sum of products

    out_j = sum_t  c_t * g_a(t) * g_b(t) * x_i(t) / (1 + g_d(t)^2)

of the 8 inputs x and of "features" g = F(w1 x_p + w2 x_q + w3 x_r + w0), F in {sin, cos,
tanh, u -> u / (1 + u^2)}; features are shared between terms (CSE has something to find).
The expression stays shallow: generated deep nests of arithmetic make SymPy itself (its
automatic evaluation, its cse) take exponential time, so no peer could be measured on one.
Every feature is in [-1, 1] and the sums have random signs, so float32 and float64 results
can both be checked against the reference.

The reference evaluates the recorded program with NumPy: it never goes through SymPy, so a
SymPy printer and the reference cannot share a mistake.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy

from .workloads import Arrays, Symbolic, Workload, register

N_INPUTS = 8
N_OUTPUTS = 2
N_FEATURES = 300
N_TERMS = 1200            # with the features: about 10^4 operations in all
PROGRAM_SEED = 4
FUNCTIONS = ("sin", "cos", "tanh", "rational")


@dataclass(frozen=True)
class Feature:
    f: str
    inputs: tuple[int, int, int]
    weights: tuple[float, float, float, float]    # w1, w2, w3, w0


@dataclass(frozen=True)
class Term:
    output: int
    coefficient: float
    features: tuple[int, int]      # g_a, g_b
    input: int                     # x_i
    damping: int                   # g_d in 1 / (1 + g_d^2)


def _coefs(rng: np.random.Generator, n: int) -> tuple[float, ...]:
    # three decimals: the same number is exactly representable in every tool's source text
    return tuple(float(c) for c in np.round(rng.uniform(-1.0, 1.0, size=n), 3))


@lru_cache(maxsize=1)
def program() -> tuple[list[Feature], list[Term]]:
    rng = np.random.default_rng(PROGRAM_SEED)
    features = [Feature(str(rng.choice(FUNCTIONS)),
                        tuple(int(i) for i in rng.choice(N_INPUTS, size=3, replace=False)),
                        _coefs(rng, 4)) for _ in range(N_FEATURES)]
    terms = [Term(k % N_OUTPUTS, _coefs(rng, 1)[0],
                  tuple(int(i) for i in rng.choice(N_FEATURES, size=2, replace=False)),
                  int(rng.integers(N_INPUTS)), int(rng.integers(N_FEATURES)))
             for k in range(N_TERMS)]
    return features, terms


def _run(features: list[Feature], terms: list[Term], xs: list, f_table: dict, const,
         total) -> list:
    """Evaluates the program on sympy or numpy values (the same code for both)."""
    g = []
    for ft in features:
        w1, w2, w3, w0 = (const(w) for w in ft.weights)
        p, q, r = (xs[i] for i in ft.inputs)
        g.append(f_table[ft.f](w1 * p + w2 * q + w3 * r + w0))
    damping: dict = {}       # each 1 / (1 + g^2) made once and shared, as CSE'd code has it
    parts: list[list] = [[] for _ in range(N_OUTPUTS)]
    for t in terms:
        a, b = (g[i] for i in t.features)
        if t.damping not in damping:
            damping[t.damping] = 1 / (1 + g[t.damping] * g[t.damping])
        parts[t.output].append(const(t.coefficient) * a * b * xs[t.input] * damping[t.damping])
    return [total(p) for p in parts]


def build() -> Symbolic:
    xs = list(sympy.symbols(f"x0:{N_INPUTS}", real=True))
    table = {"sin": sympy.sin, "cos": sympy.cos, "tanh": sympy.tanh,
             "rational": lambda u: u / (1 + u**2)}
    # Unevaluated, as generated code is read (parse_expr(..., evaluate=False)): SymPy's
    # automatic evaluation would spend ~10 s here on assumption queries.  A tool that wants
    # evaluated expressions pays for it in its own compile time.
    with sympy.evaluate(False):
        outs = _run(*program(), xs, table, sympy.Float, lambda terms: sympy.Add(*terms))
    return Symbolic(inputs={f"x{i}": x for i, x in enumerate(xs)},
                    outputs={f"out{j}": (e, ()) for j, e in enumerate(outs)})


def generate(n: int, rng: np.random.Generator, dtype: str) -> Arrays:
    return {f"x{i}": rng.uniform(-1.0, 1.0, n).astype(dtype) for i in range(N_INPUTS)}


def reference(inputs: Arrays) -> list[np.ndarray]:
    table = {"sin": np.sin, "cos": np.cos, "tanh": np.tanh,
             "rational": lambda u: u / (1.0 + u * u)}
    xs = [inputs[f"x{i}"].astype(np.float64) for i in range(N_INPUTS)]
    return _run(*program(), xs, table, float, lambda terms: np.sum(terms, axis=0))


WORKLOAD = register(Workload(
    name="expr-large",
    description=f"random sum of products, ~10^4 operations (seed {PROGRAM_SEED})",
    build=build, generate=generate, reference=reference, handwritten=None,
    default_events=100_000,
    note="compile-heavy: PyTensor and JAX take minutes to compile it "
         "(--peers lambdify,symengine for a quick look)",
))
