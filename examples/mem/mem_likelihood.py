"""Matrix Element Method: which Z' mass do these dimuon events come from?

Toy collider at sqrt(S) = 2 TeV: u u~ -> mu+ mu- through a photon and a Z' (mass M, width
15 GeV, vector couplings), partons from a toy PDF.  The detector measures muon directions
exactly and muon energies with a 3% Gaussian resolution.  For every event and every mass
hypothesis the likelihood is

    L(obs | M) = 1/sigma(M) * integral dE3 J(E3) f(x1) f(x2) |M|^2(M) / s
                 * W(E3_obs | E3) W(E4_obs | E4)

over the unobserved true mu+ energy E3 (E4 follows from transverse-momentum balance, x1 and
x2 from the energy and longitudinal momentum of the pair, J = E3 is the phase-space density
at fixed directions).  Each integral is done by vegas in batch mode: the compiled matrix
element (physgraph.physics.processes, physgraph numba kernel) evaluates all points of a vegas
step in one call.  sigma(M) is a 3-dimensional vegas integral of the same matrix element.

    python examples/mem/mem_likelihood.py          # about a minute on 2 cores

writes mem_likelihood.png beside this file: the per-event log-likelihood ratio for events
generated with M = 500 and with M = 530 GeV, and the summed -2 ln(L500 / L530).
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import vegas

from physgraph.physics import processes

SQRT_S = 2000.0
MASSES = (500.0, 530.0)          # the two hypotheses
WIDTH = 15.0
RESOLUTION = 0.03                # sigma(E) / E of a muon energy
WINDOW = (400.0, 650.0)          # range of the true dimuon mass
EVENTS = 60                      # per hypothesis
SEED = 2026

ME = processes.compiled("uu_mumu", backend="numba")


def pdf(x: np.ndarray) -> np.ndarray:
    """Toy valence-like parton density (shape only: normalisations cancel)."""
    return np.where((x > 0) & (x < 1), x ** -0.5 * (1 - x) ** 3, 0.0)


def matrix_element(p1, p2, p3, p4, mass: float) -> np.ndarray:
    return ME(p1, p2, p3, p4, m_zp=mass, w_zp=WIDTH)


def beams(x1: np.ndarray, x2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    e1, e2 = x1 * SQRT_S / 2, x2 * SQRT_S / 2
    zero = np.zeros_like(e1)
    return np.column_stack([e1, zero, zero, e1]), np.column_stack([e2, zero, zero, -e2])


def massless(e: np.ndarray, n: np.ndarray) -> np.ndarray:
    return np.column_stack([e, e[:, None] * n])


# ---- truth: sigma(M) and unweighted events --------------------------------------------------
def truth_point(u: np.ndarray):
    """(x1, x2, mu+ and mu- momenta in the lab, Jacobian) from a point of the unit cube:
    u0 -> dimuon mass in the window, u1 -> rapidity, u2, u3 -> mu- direction in the pair frame."""
    m = WINDOW[0] + (WINDOW[1] - WINDOW[0]) * u[:, 0]
    tau = (m / SQRT_S) ** 2
    y_max = -0.5 * np.log(tau)
    y = y_max * (2 * u[:, 1] - 1)
    x1, x2 = np.sqrt(tau) * np.exp(y), np.sqrt(tau) * np.exp(-y)
    cos_t, phi = 2 * u[:, 2] - 1, 2 * math.pi * u[:, 3]
    sin_t = np.sqrt(1 - cos_t**2)
    n = np.column_stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t])
    e = m / 2
    gamma, beta_gamma = np.cosh(y), np.sinh(y)
    mu_minus = np.column_stack([gamma * e + beta_gamma * e * n[:, 2], e[:, None] * n[:, :2],
                                beta_gamma * e + gamma * e * n[:, 2]])
    mu_plus = np.column_stack([gamma * e - beta_gamma * e * n[:, 2], -e[:, None] * n[:, :2],
                               beta_gamma * e - gamma * e * n[:, 2]])
    # dx1 dx2 = (2 m / S) dm dy; dPhi2 = dcos dphi / (32 pi^2); flux 1 / (2 s)
    jacobian = (WINDOW[1] - WINDOW[0]) * 2 * y_max * 2 * 2 * math.pi * 2 * m / SQRT_S**2
    return x1, x2, mu_plus, mu_minus, jacobian / (32 * math.pi**2) / (2 * m * m)


def cross_section_integrand(mass: float):
    @vegas.batchintegrand
    def f(u):
        x1, x2, mu_plus, mu_minus, jac = truth_point(u)
        p1, p2 = beams(x1, x2)
        return pdf(x1) * pdf(x2) * matrix_element(p1, p2, mu_plus, mu_minus, mass) * jac
    return f


def sigma_and_events(mass: float, n_events: int, rng: np.random.Generator):
    integ = vegas.Integrator([[0, 1]] * 4)
    f = cross_section_integrand(mass)
    integ(f, nitn=6, neval=20_000)                      # adapt the grid
    sigma = integ(f, nitn=6, neval=20_000)
    points, weights = [], []
    for u, wgt in integ.random_batch():                 # unweight on the adapted grid
        points.append(np.array(u))
        weights.append(np.asarray(wgt) * f(np.array(u)))
    u, w = np.concatenate(points), np.concatenate(weights)
    keep = rng.uniform(0, w.max(), len(w)) < w
    chosen = u[keep][:n_events]
    _, _, mu_plus, mu_minus, _ = truth_point(chosen)
    return sigma, mu_plus, mu_minus


def smear(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Measured momentum: exact direction, energy with a Gaussian resolution."""
    e = p[:, 0] * (1 + RESOLUTION * rng.standard_normal(len(p)))
    return massless(e, p[:, 1:] / p[:, :1])


# ---- the MEM integral for one event ---------------------------------------------------------
def transfer(e_obs: float, e: np.ndarray) -> np.ndarray:
    s = RESOLUTION * e
    return np.exp(-0.5 * ((e_obs - e) / s) ** 2) / (math.sqrt(2 * math.pi) * s)


def event_likelihood(mu_plus: np.ndarray, mu_minus: np.ndarray, mass: float) -> float:
    """integral over the true mu+ energy of |M|^2 x PDFs x transfer functions (unnormalised)."""
    n3, n4 = mu_plus[1:] / mu_plus[0], mu_minus[1:] / mu_minus[0]
    s3, s4 = math.hypot(*n3[:2]), math.hypot(*n4[:2])
    lo, hi = mu_plus[0] / (1 + 6 * RESOLUTION), mu_plus[0] / (1 - 6 * RESOLUTION)

    @vegas.batchintegrand
    def f(u):
        e3 = lo + (hi - lo) * u[:, 0]
        e4 = e3 * s3 / s4                                # transverse momentum balance
        k3, k4 = massless(e3, np.tile(n3, (len(e3), 1))), massless(e4, np.tile(n4, (len(e3), 1)))
        total = k3 + k4
        x1, x2 = (total[:, 0] + total[:, 3]) / SQRT_S, (total[:, 0] - total[:, 3]) / SQRT_S
        m = np.sqrt(np.maximum(x1 * x2, 0)) * SQRT_S
        inside = (m > WINDOW[0]) & (m < WINDOW[1]) & (x1 < 1) & (x2 < 1)
        p1, p2 = beams(x1, x2)
        me = matrix_element(p1, p2, k3, k4, mass)
        density = e3 * pdf(x1) * pdf(x2) * me / (m * m)      # constants cancel in ratios
        return np.where(inside, density * transfer(mu_plus[0], e3)
                        * transfer(mu_minus[0], e4) * (hi - lo), 0.0)
    integ = vegas.Integrator([[0, 1]])
    integ(f, nitn=3, neval=500)
    return integ(f, nitn=4, neval=1000).mean


def log_likelihoods(mu_plus, mu_minus, sigmas: dict) -> np.ndarray:
    """ln L(obs | M) for every event (rows) and hypothesis (columns)."""
    out = np.empty((len(mu_plus), len(MASSES)))
    for i in range(len(mu_plus)):
        for j, mass in enumerate(MASSES):
            out[i, j] = math.log(event_likelihood(mu_plus[i], mu_minus[i], mass)) \
                - math.log(sigmas[mass])
    return out


def main() -> None:
    start = time.perf_counter()
    rng = np.random.default_rng(SEED)
    sigmas, samples = {}, {}
    for mass in MASSES:
        sigma, mu_plus, mu_minus = sigma_and_events(mass, EVENTS, rng)
        sigmas[mass] = sigma.mean
        samples[mass] = (smear(mu_plus, rng), smear(mu_minus, rng))
        print(f"M = {mass:.0f} GeV: sigma (toy units) = {sigma}, {len(mu_plus)} events")
    ratios = {}
    for truth, (mu_plus, mu_minus) in samples.items():
        ll = log_likelihoods(mu_plus, mu_minus, sigmas)
        ratios[truth] = ll[:, 0] - ll[:, 1]              # ln L(500) - ln L(530), per event
        print(f"events from M = {truth:.0f}: -2 ln(L{MASSES[0]:.0f}/L{MASSES[1]:.0f}) = "
              f"{-2 * ratios[truth].sum():+.1f} over {len(ll)} events")
    plot(ratios, Path(__file__).with_name("mem_likelihood.png"))
    print(f"done in {time.perf_counter() - start:.0f} s")


def plot(ratios: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    bins = np.linspace(min(r.min() for r in ratios.values()),
                       max(r.max() for r in ratios.values()), 25)
    for truth, r in ratios.items():
        left.hist(r, bins=bins, histtype="step", lw=2, label=f"events from M = {truth:.0f} GeV")
        right.plot(np.arange(1, len(r) + 1), -2 * np.cumsum(r), lw=2,
                   label=f"events from M = {truth:.0f} GeV")
    left.set_xlabel(f"per-event ln L(M={MASSES[0]:.0f}) - ln L(M={MASSES[1]:.0f})")
    left.set_ylabel("events")
    left.legend()
    right.axhline(0, color="grey", lw=0.8)
    right.set_xlabel("number of events")
    right.set_ylabel(f"-2 ln [L(M={MASSES[0]:.0f}) / L(M={MASSES[1]:.0f})]")
    right.legend()
    fig.suptitle("Matrix Element Method: u u~ -> Z'/photon -> mu+ mu-, 3% muon energy "
                 "resolution, vegas + physgraph")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
