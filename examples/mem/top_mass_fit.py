"""Matrix Element Method: fit the top mass by gradient, with d|M|^2/dm_t from physgraph.

Toy: gluon-gluon collisions at a fixed partonic energy sqrt(s) = 400 GeV, in their
centre-of-mass frame, g g -> t t~ (physgraph.physics.processes.gg_tt, ported by hand from
MadGraph).  Events are made at m_t = 173 GeV: flat phase-space points from RAMBO
(physgraph.physics.rambo, compiled), unweighted by accept-reject on |M|^2.

What is measured: the top's direction (cos theta, phi).  Its energy is sqrt(s)/2 whatever
m_t is, and its momentum |p| = sqrt(s/4 - m_t^2) is left out on purpose: it would give
m_t by kinematics alone.  The direction carries m_t through the matrix element: the shape
of the angular distribution depends on the top velocity beta = sqrt(1 - 4 m_t^2 / s).

The likelihood of one event is

    P(Omega | m_t) = |M|^2(p(Omega; m_t); m_t) / sigma(m_t),   sigma(m_t) = int dOmega |M|^2

(the flux and the two-body phase-space factor beta / (8 pi) are the same for every
direction, so they cancel between the two).  The momenta are built from the direction
under the hypothesis m_t inside the compiled kernel, so d/dm_t sees the kinematics too.
sigma(m_t) is a vegas integral over cos theta (|M|^2 does not depend on phi when the
beams lie along z: a factor 2 pi), its grid adapted once at 173 GeV and then one fixed
sample of points, so that sigma and its derivative are sums over the same points for
every m_t and the likelihood is a smooth function of m_t.

    NLL(m_t) = -sum_i ln |M|^2_i(m_t) + N ln sigma(m_t)

is a JAX function of m_t through ``k.as_jax()``; ``jax.value_and_grad`` gives it with its
derivative (physgraph's compiled JVP kernel, transposed by JAX: the sum over events of the
per-event d|M|^2/dm_t), and BFGS minimizes it.  The error is the curvature's (the
derivative of that exact gradient), checked against a likelihood scan, and the whole
procedure against pseudo-experiments (their pulls should be a unit Gaussian).

    python examples/mem/top_mass_fit.py        # writes top_mass_fit.png beside this file
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
import vegas

import physgraph as pg
from physgraph.physics import processes
from physgraph.physics.rambo import rambo_function

jax.config.update("jax_enable_x64", True)

SQRT_S = 400.0
M_TRUE = 173.0
EVENTS = 20_000
TOYS = 100                # pseudo-experiments of EVENTS events each, for the pulls
NORM_POINTS = 20_000      # vegas points of the fixed sample for sigma(m_t)
CURVATURE_STEP = 0.05     # GeV: small against the error, large against rounding
SEED = 2026
GG_TT = processes.build("gg_tt")


# ---- the likelihood's kernel: |M|^2 of a measured direction, under hypothesis m_t --------------
def direction_me(cos_theta, phi, m_t: pg.Param = M_TRUE):
    """|M|^2 of the t t~ pair whose top flies along (cos theta, phi), for top mass m_t."""
    e = SQRT_S / 2
    p = pg.sqrt(e * e - m_t * m_t)
    sin_theta = pg.sqrt(1 - cos_theta * cos_theta)
    n = (sin_theta * pg.cos(phi), sin_theta * pg.sin(phi), cos_theta)
    top = pg.Vec4(e, p * n[0], p * n[1], p * n[2])
    antitop = pg.Vec4(e, -p * n[0], -p * n[1], -p * n[2])
    return GG_TT(pg.Vec4(e, 0, 0, e), pg.Vec4(e, 0, 0, -e), top, antitop, m_t=m_t)


# ---- truth: unweighted events from RAMBO and |M|^2 -------------------------------------------
def generate(n: int, rng: np.random.Generator, batch: int = 200_000) -> tuple:
    """(cos theta, phi) of the tops of n events at m_t = 173 GeV."""
    rambo = pg.compile(rambo_function([M_TRUE, M_TRUE]), backend="jax")
    me = processes.compiled("gg_tt", backend="jax")
    e = np.full(batch, SQRT_S / 2)
    zero = np.zeros_like(e)
    beams = np.stack([e, zero, zero, e], 1), np.stack([e, zero, zero, -e], 1)
    chosen, kept, w_max = [], 0, None
    while kept < n:
        top, antitop, _ = rambo(rng.uniform(size=(batch, 8)), sqrt_s=SQRT_S)
        w = me(*beams, top, antitop)                    # flat phase space: |M|^2 is the weight
        if w_max is None:
            w_max = 1.05 * w.max()
        assert w.max() < w_max, "the accept-reject bound was too low"
        chosen.append(top[rng.uniform(0, w_max, batch) < w])
        kept += len(chosen[-1])
    top = np.concatenate(chosen)[:n]
    return top[:, 3] / np.linalg.norm(top[:, 1:], axis=1), np.arctan2(top[:, 2], top[:, 1])


# ---- sigma(m_t): one fixed vegas sample ----------------------------------------------------------
def normalization_sample(me, rng: np.random.Generator) -> tuple:
    """(cos theta points, weights, vegas's own estimate at 173 GeV): sigma(m_t) is
    2 pi sum_j w_j |M|^2(c_j; m_t) for every m_t."""
    integ = vegas.Integrator([[-1, 1]], ran_array_generator=rng.random)

    @vegas.batchintegrand
    def f(c):
        return 2 * math.pi * np.asarray(me(c[:, 0], 0.0))
    integ(f, nitn=5, neval=4000)                        # adapt the grid at 173 GeV
    estimate = integ(f, nitn=5, neval=4000)
    integ.set(neval=NORM_POINTS)
    points, weights = zip(*((np.array(c[:, 0]), np.array(w)) for c, w in integ.random_batch()))
    return np.concatenate(points), np.concatenate(weights), estimate


# ---- the fit -----------------------------------------------------------------------------------
class Likelihood:
    """NLL(m_t) of a set of events and its derivative, through JAX (``jax.value_and_grad``:
    reverse mode).  The events and the normalization's points go through the kernel in
    one call: one copy of it for XLA to compile."""

    def __init__(self, me, norm_points: np.ndarray, norm_weights: np.ndarray):
        self.me, self.c_norm, self.w_norm = me, norm_points, norm_weights
        self.value_and_grad = jax.jit(jax.value_and_grad(self.nll))

    def curvature(self, m_t: np.float64, cos_theta, phi, h: float = CURVATURE_STEP) -> float:
        """d^2 NLL / dm_t^2: the exact gradient's change over +-h.  (jax.hessian of the
        likelihood works too, but XLA compiles it for minutes, and it runs far slower
        than the gradient.)"""
        up, down = (float(self.value_and_grad(m_t + d, cos_theta, phi)[1]) for d in (h, -h))
        return (up - down) / (2 * h)

    def sigma(self, m_t):
        """sigma(m_t) over 2 pi: the vegas sample's weighted sum (phi = 0: |M|^2 has no phi
        dependence)."""
        return jnp.sum(self.w_norm * self.me(self.c_norm, 0.0, m_t))

    def nll(self, m_t, cos_theta, phi):
        n = len(cos_theta)
        me = self.me(jnp.concatenate([cos_theta, self.c_norm]),
                     jnp.concatenate([phi, jnp.zeros(len(self.c_norm))]), m_t)
        return -jnp.sum(jnp.log(me[:n])) + n * jnp.log(jnp.sum(self.w_norm * me[n:]))

    def fit(self, cos_theta, phi, start: float) -> tuple[float, float, list]:
        """(m_t, its error from the curvature, the points BFGS visited)."""
        path = [start]

        def fun(m):
            value, grad = self.value_and_grad(m[0], cos_theta, phi)
            return float(value), np.array([float(grad)])
        result = scipy.optimize.minimize(fun, [start], jac=True, method="BFGS",
                                         callback=lambda m: path.append(float(m[0])),
                                         options={"gtol": 1e-4})
        m_hat = result.x[0]                             # a float64, as BFGS's own points
        return float(m_hat), 1 / math.sqrt(self.curvature(m_hat, cos_theta, phi)), path


def scan_interval(masses: np.ndarray, delta: np.ndarray) -> tuple[float, float]:
    """Where the scanned NLL - its minimum crosses 1/2, first and last (linear
    interpolation between scan points)."""
    crossings = []
    for i in range(len(masses) - 1):
        a, b = delta[i] - 0.5, delta[i + 1] - 0.5
        if a * b < 0:
            crossings.append(masses[i] + (masses[i + 1] - masses[i]) * a / (a - b))
    return crossings[0], crossings[-1]


def main() -> None:
    start = time.perf_counter()
    rng = np.random.default_rng(SEED)
    me = pg.compile(direction_me, backend="jax").as_jax()
    cos_theta, phi = generate(EVENTS * (1 + TOYS), rng)
    generated = time.perf_counter()
    c_norm, w_norm, estimate = normalization_sample(me, rng)
    nodes, weights = np.polynomial.legendre.leggauss(48)
    exact = 2 * math.pi * float(np.sum(weights * np.asarray(me(nodes, 0.0))))
    sigma_fixed = 2 * math.pi * float(np.sum(w_norm * np.asarray(me(c_norm, 0.0))))
    print(f"{EVENTS * (1 + TOYS)} events at m_t = {M_TRUE} GeV in {generated - start:.1f} s; "
          f"sigma(173): vegas {estimate}, fixed sample {sigma_fixed:.6g}, "
          f"Gauss-Legendre {exact:.6g}")

    likelihood = Likelihood(me, c_norm, w_norm)
    data = cos_theta[:EVENTS], phi[:EVENTS]
    m_hat, error, path = likelihood.fit(*data, start=165.0)
    fitted = time.perf_counter()
    print(f"fit: m_t = {m_hat:.2f} +- {error:.2f} GeV ({len(path) - 1} BFGS steps from "
          f"{path[0]} GeV; {fitted - generated:.1f} s with the compilation)")

    masses = np.linspace(m_hat - 3 * error, m_hat + 3 * error, 41)        # float64, as BFGS
    nll = np.array([float(likelihood.value_and_grad(m, *data)[0]) for m in masses])
    lo, hi = scan_interval(masses, nll - nll.min())
    print(f"scan: Delta NLL = 1/2 at {lo:.2f} and {hi:.2f} GeV "
          f"(-{m_hat - lo:.2f} +{hi - m_hat:.2f})")

    pulls = []
    for t in range(1, TOYS + 1):
        block = slice(t * EVENTS, (t + 1) * EVENTS)
        m_toy, e_toy, _ = likelihood.fit(cos_theta[block], phi[block], start=M_TRUE)
        pulls.append((m_toy - M_TRUE) / e_toy)
    pulls = np.array(pulls)
    print(f"{TOYS} pseudo-experiments: pull mean {pulls.mean():+.3f} +- "
          f"{pulls.std(ddof=1) / math.sqrt(TOYS):.3f}, width {pulls.std(ddof=1):.3f}")
    plot(likelihood, data, (m_hat, error, path), (masses, nll - nll.min()), pulls,
         Path(__file__).with_name("top_mass_fit.png"))
    print(f"done in {time.perf_counter() - start:.0f} s")


def plot(likelihood, data, fit, scan, pulls, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    m_hat, error, steps = fit
    masses, delta = scan
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4.4))
    left.plot(masses, delta, "o", ms=3, label="scan of NLL")
    left.plot(masses, 0.5 * ((masses - m_hat) / error) ** 2, lw=1.5,
              label=f"curvature: {m_hat:.2f} $\\pm$ {error:.2f} GeV")
    left.axhline(0.5, color="grey", lw=0.8)
    left.axvline(M_TRUE, color="k", ls=":", lw=1, label="truth 173 GeV")
    left.set_ylim(0, 7)
    left.set_xlabel("$m_t$ [GeV]")
    left.set_ylabel("NLL - min")
    left.legend(fontsize=8, loc="upper left")
    inset = left.inset_axes([0.62, 0.68, 0.35, 0.24])
    inset.plot(range(len(steps)), steps, "o-", ms=3)
    inset.set_title("BFGS steps", fontsize=7)
    inset.tick_params(labelsize=6)

    cos_theta, _ = data
    bins = np.linspace(-1, 1, 41)
    middle.hist(cos_theta, bins=bins, density=True, histtype="step", lw=1.5, color="k",
                label=f"{len(cos_theta)} events")
    c = np.linspace(-1, 1, 201)
    for m in (m_hat, 150.0, 190.0):
        density = np.asarray(likelihood.me(c, 0.0, m)) / float(likelihood.sigma(m))
        middle.plot(c, density, lw=1.2, label=f"P(cos $\\theta$ | $m_t$ = {m:.1f})")
    middle.set_xlabel("cos $\\theta$ of the top (centre-of-mass frame)")
    middle.set_ylabel("density")
    middle.legend(fontsize=8)

    right.hist(pulls, bins=np.linspace(-4, 4, 17), histtype="step", lw=1.5, color="k",
               label=f"{len(pulls)} pseudo-experiments")
    x = np.linspace(-4, 4, 200)
    right.plot(x, len(pulls) * 0.5 * np.exp(-x * x / 2) / math.sqrt(2 * math.pi), lw=1.2,
               label="unit Gaussian")
    right.set_xlabel("pull ($\\hat m_t$ - 173) / error")
    right.legend(fontsize=8)
    fig.suptitle(f"Top mass by gradient: g g -> t t~ at $\\sqrt{{s}}$ = {SQRT_S:.0f} GeV, "
                 "MEM likelihood of the top direction, d|M|$^2$/d$m_t$ from physgraph")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
