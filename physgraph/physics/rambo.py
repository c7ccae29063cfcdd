"""RAMBO (Kleiss, Stirling, Ellis 1986): flat n-body phase space from 4n uniform numbers,
traced, so that one compiled kernel generates a whole batch of events.

Massless momenta are drawn isotropically with energies from q0 = -log(r3 r4), then boosted
and scaled to the centre-of-mass frame at energy sqrt(s).  Massive final states rescale the
three-momenta by xi, found with a fixed number of Newton steps (unrolled: the kernel stays
straight-line code), and correct the weight.  Weights include the (2 pi)^(4 - 3n) of
d^3p / ((2 pi)^3 2E) per particle and (2 pi)^4 delta^4, so that a 2-body weight is
beta / (8 pi).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from ..frontend import scalar as sc
from ..frontend.argtype import Param
from .linalg import Vec
from .lorentz import Vec4

NEWTON_STEPS = 10      # quadratic convergence from xi0: float64 precision well before this


def massless_weight(n: int, sqrt_s) -> object:
    """Phase-space volume of n massless particles at energy sqrt(s) (RAMBO's constant weight)."""
    s = sqrt_s * sqrt_s
    return ((math.pi / 2) ** (n - 1) * s ** (n - 2)
            / (math.factorial(n - 1) * math.factorial(n - 2)) * (2 * math.pi) ** (4 - 3 * n))


def rambo(r: Sequence, sqrt_s, masses: Sequence[float]) -> tuple[list[Vec4], object]:
    """(momenta, weight) of len(masses) particles from the 4 n uniform numbers ``r``."""
    n = len(masses)
    if len(r) != 4 * n:
        raise ValueError(f"rambo needs {4 * n} random numbers for {n} particles, got {len(r)}")
    q = []
    for k in range(n):
        r1, r2, r3, r4 = r[4 * k:4 * k + 4]
        c = 2 * r1 - 1
        sin_t = sc.sqrt(1 - c * c)
        phi = 2 * math.pi * r2
        e = -sc.log(r3 * r4)
        q.append((e, e * sin_t * sc.cos(phi), e * sin_t * sc.sin(phi), e * c))
    total = [sum(x[mu] for x in q[1:]) + q[0][mu] for mu in range(4)]
    mass = sc.sqrt(total[0] * total[0] - total[1] * total[1] - total[2] * total[2]
                   - total[3] * total[3])
    b = [-total[mu] / mass for mu in (1, 2, 3)]
    x = sqrt_s / mass
    gamma = total[0] / mass
    a = 1 / (1 + gamma)
    p = []
    for e, *qv in q:
        bq = b[0] * qv[0] + b[1] * qv[1] + b[2] * qv[2]
        p.append([x * (gamma * e + bq)] + [x * (qv[k] + b[k] * e + a * bq * b[k])
                                           for k in range(3)])
    weight = massless_weight(n, sqrt_s)
    if all(m == 0 for m in masses):
        return [Vec4(*v) for v in p], weight
    return _massive(p, sqrt_s, masses, weight)


def _massive(p: list, sqrt_s, masses: Sequence[float], weight) -> tuple[list[Vec4], object]:
    xi = sc.sqrt(1 - (sum(masses) / sqrt_s) ** 2)         # RAMBO's starting point
    e2 = [v[0] * v[0] for v in p]
    for _ in range(NEWTON_STEPS):
        energies = [sc.sqrt(m * m + xi * xi * e) for m, e in zip(masses, e2)]
        f = sum(energies[1:], energies[0]) - sqrt_s
        df = sum((xi * e / en for e, en in zip(e2[1:], energies[1:])), xi * e2[0] / energies[0])
        xi = xi - f / df
    momenta, k_sum, k2_over_e, ratio = [], 0, 0, 1
    for m, v in zip(masses, p):
        energy = sc.sqrt(m * m + xi * xi * v[0] * v[0])
        k = xi * v[0]                                     # |k| = xi |p| = xi p0 (massless p)
        momenta.append(Vec4(energy, xi * v[1], xi * v[2], xi * v[3]))
        k_sum = k_sum + k
        k2_over_e = k2_over_e + k * k / energy
        ratio = ratio * (k / energy)
    n = len(masses)
    factor = (k_sum / sqrt_s) ** (2 * n - 3) * ratio * sqrt_s / k2_over_e
    return momenta, weight * factor


def rambo_function(masses: Sequence[float]):
    """The traced function ``f(r, sqrt_s)`` -> (p_1, ..., p_n, weight) to pass to
    ``pg.compile``: r is an (N, 4 n) array of uniform numbers, sqrt_s a param."""
    def generate(r, sqrt_s):
        momenta, weight = rambo(list(r), sqrt_s, masses)
        return (*momenta, weight)
    generate.__annotations__ = {"r": Vec[4 * len(masses)], "sqrt_s": Param}
    return generate
