"""Workloads ``mem-gg_tt``, ``mem-uu_aaa`` and ``mem-gg_ttg``: matrix elements of
``physgraph.physics.processes``.

physgraph runs the traced process itself (``Workload.kernel``).  The peers compile a SymPy
form: the traced graph after complex lowering only (real arithmetic, structural zeros
folded; no other pass), turned back into SymPy with the couplings and masses at their
defaults.  g g -> t t~ g has none: its graph has ~4*10^4 nodes before the passes, lambdify
already needs seconds for g g -> t t~'s 4*10^3, so its SymPy peers are left out (untried).
Events are flat phase-space points from the compiled RAMBO at a fixed centre-of-mass
energy, beams along z.  The references are independent: the analytic
formulas for g g -> t t~ (Combridge) and for q q~ -> 3 photons (Berends et al.), in NumPy.

g g -> t t~ g has no closed form: its reference is the process traced in MadGraph's helicity
basis for any frame (general wavefunctions) and evaluated by the numpy backend without
passes, a different path from the kernel's (linear polarizations, beam-axis wavefunctions,
all passes, numba).
"""
from __future__ import annotations

import math

import numpy as np
import sympy

from ..physics import processes
from .workloads import Arrays, Symbolic, Workload, register

SQRT_S = 1000.0
# float32 loses digits in the spinors themselves (sqrt(|p| + pz) of a particle going
# backwards, t = (p1 - p3)^2 near the forward peak): any tool evaluating the same expression
# in float32 is up to ~5% off on the worst of 2*10^5 events (SymPy's lambdify as well)
FLOAT32_TOLERANCE = {"float64": 1e-9, "float32": 0.1}


def _symbolic(name: str, n: int) -> Symbolic:
    from .. import compile as pg_compile
    from ..sympy_export import to_sympy
    from ..passes.lower_complex import lower_complex
    k = pg_compile(processes.build(name), backend="numpy", opt_level=0)
    # in real arithmetic (SymEngine's LLVM backend has no re/im); lowering folds as it goes
    expr = to_sympy(lower_complex(k.input_graph), k.structure)
    defaults = {a.name: a.default for a in k.signature if a.role == "param"}
    expr = expr.xreplace({s: sympy.Float(defaults[s.name]) for s in expr.free_symbols
                          if s.name in defaults})
    by_name = {s.name: s for s in expr.free_symbols}
    inputs = {f"p{j}": [by_name.get(f"p{j}_{mu}", sympy.Symbol(f"p{j}_{mu}", real=True))
                        for mu in range(4)] for j in range(1, n + 1)}
    return Symbolic(inputs=inputs, outputs={"me2": (expr, ())})


def _own_kernel(name: str):
    """Workload.kernel: the traced process compiled for a backend and dtype."""
    def make(backend: str, dtype: str):
        k = processes.compiled(name, backend=backend, dtype=dtype)

        def run(*arrays):
            return k(*arrays)
        run.kernel = k
        return run
    return make


def gg_ttg_reference(inputs: Arrays) -> list[np.ndarray]:
    from .. import compile as pg_compile
    k = pg_compile(processes.build("gg_ttg", beams="any", basis="helicity"),
                   backend="numpy", opt_level=0)
    return [k(*(inputs[f"p{j}"].astype(np.float64) for j in range(1, 6)))]


def generate_events(masses: tuple, sqrt_s: float = SQRT_S):
    """Workload.generate: flat phase-space points of final-state ``masses`` from the compiled
    RAMBO at ``sqrt_s``, the beams along +z and -z."""
    def generate(n: int, rng: np.random.Generator, dtype: str) -> Arrays:
        from .. import compile as pg_compile
        from ..physics.rambo import rambo_function
        k = pg_compile(rambo_function(masses), backend="numpy")
        final = k(rng.uniform(size=(n, 4 * len(masses))), sqrt_s=sqrt_s)[:-1]
        beams = [np.tile([sqrt_s / 2, 0, 0, sqrt_s / 2], (n, 1)),
                 np.tile([sqrt_s / 2, 0, 0, -sqrt_s / 2], (n, 1))]
        return {f"p{j + 1}": np.ascontiguousarray(p, dtype=dtype)
                for j, p in enumerate([*beams, *final])}
    return generate


def _mdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[:, 0] * b[:, 0] - (a[:, 1:] * b[:, 1:]).sum(axis=1)


def gg_tt_reference(inputs: Arrays) -> list[np.ndarray]:
    """Combridge's g g -> Q Q~, averaged:
    g^4 (1/(6 t1 t2) - 3/8)(t1^2 + t2^2 + r - r^2/(4 t1 t2))."""
    p1, p2, p3, p4 = (inputs[f"p{j}"].astype(np.float64) for j in range(1, 5))
    m, s = processes.M_TOP, _mdot(p1 + p2, p1 + p2)
    t1 = (m * m - _mdot(p1 - p3, p1 - p3)) / s
    t2 = (m * m - _mdot(p1 - p4, p1 - p4)) / s
    rho = 4 * m * m / s
    g4 = (4 * math.pi * processes.ALPHA_S) ** 2
    shape = t1 * t1 + t2 * t2 + rho - rho * rho / (4 * t1 * t2)
    return [g4 * (1 / (6 * t1 * t2) - 3 / 8) * shape]


def uu_aaa_reference(inputs: Arrays) -> list[np.ndarray]:
    """8 e^6 Q^6 N_c (p1.p2) sum_i (p1.k_i)(p2.k_i)((p1.k_i)^2 + (p2.k_i)^2)
    / prod_j (p1.k_j)(p2.k_j),
    averaged over 4 spins and 9 colours, over 3! for the identical photons."""
    p1, p2, *ks = (inputs[f"p{j}"].astype(np.float64) for j in range(1, 6))
    a = [_mdot(p1, k) for k in ks]
    b = [_mdot(p2, k) for k in ks]
    num = sum(x * y * (x * x + y * y) for x, y in zip(a, b))
    den = np.prod([x * y for x, y in zip(a, b)], axis=0)
    e2 = 4 * math.pi * processes.ALPHA
    return [8 * e2**3 * (2 / 3) ** 6 * 3 * _mdot(p1, p2) * num / den / (4 * 9 * 6)]


register(Workload(
    name="mem-gg_tt", description="g g -> t t~ |M|^2, 3 diagrams, 16 helicities (HELAS DSL)",
    build=lambda: _symbolic("gg_tt", 4), generate=generate_events((173.0, 173.0)),
    kernel=_own_kernel("gg_tt"),
    reference=gg_tt_reference, default_events=200_000, tolerance=FLOAT32_TOLERANCE,
    note="physgraph runs the traced process; the peers its SymPy form after complex lowering"))

register(Workload(
    name="mem-uu_aaa", description="u u~ -> 3 photons |M|^2, 6 diagrams, 32 helicities",
    build=lambda: _symbolic("uu_aaa", 5), generate=generate_events((0.0, 0.0, 0.0)),
    kernel=_own_kernel("uu_aaa"),
    reference=uu_aaa_reference, default_events=200_000, tolerance=FLOAT32_TOLERANCE,
    note="physgraph runs the traced process; numba takes about a minute to compile it"))

register(Workload(
    name="mem-gg_ttg", description="g g -> t t~ g |M|^2, 16 diagrams, 6 colour flows",
    build=None, generate=generate_events((173.0, 173.0, 0.0)), kernel=_own_kernel("gg_ttg"),
    reference=gg_ttg_reference, default_events=100_000, tolerance=FLOAT32_TOLERANCE,
    note="numba takes minutes to compile its 2*10^4-operation body; no SymPy peers"))
