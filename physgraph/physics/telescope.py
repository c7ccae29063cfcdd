"""A toy telescope: planes along z, each a thin scatterer and a 2-D pixel measurement, in an
optional uniform magnetic field, and a NumPy track generator.

Units: mm, GeV, tesla.  The track state at a plane is (x, y, tx, ty) with slopes
t = dx/dz, dy/dz, plus q/p (1/GeV) when there is a field.  The field points along y, so
tracks bend in x-z.  Transport between planes is the second-order (parabolic) step

    x' = x + tx dz + q/p ax dz^2 / 2,   tx' = tx + q/p ax dz,   (same in y)
    ax = -kappa B N (1 + tx^2),  ay = -kappa B N tx ty,  N = sqrt(1 + tx^2 + ty^2)

which is exact in its own right (it *is* this detector's equation of motion), so the fit
and the generator share it; the scattering and the noise are where they differ: the
generator rotates the direction by random angles, the fit adds a covariance.

``propagate`` and ``scattering`` take their math functions as ``xp`` (default ``pg``, whose
functions work on NumPy arrays and on traced values), so the same code serves the generator,
the physgraph fit and the peers (``xp=jax.numpy`` for the JAX one).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import physgraph as pg

KAPPA = 0.299792458e-3        # GeV / (T mm): p_T [GeV] = KAPPA * B [T] * R [mm]
MUON_MASS = 0.1056583755      # GeV


@dataclass(frozen=True)
class Telescope:
    z: tuple = tuple(50.0 * k for k in range(10))   # plane positions (mm)
    x_over_x0: float = 0.01                         # material per plane at normal incidence
    sigma: float = 0.01                             # measurement resolution in x and y (mm)
    field: float = 1.0                              # B_y (T); 0 gives the straight-line state
    mass: float = MUON_MASS
    p_range: tuple = (1.0, 20.0)                    # generated momentum (GeV), uniform
    p_no_field: float = 3.0                         # momentum for scattering without field
    # the fit's prior: mean zero, these variances: wide next to the generated tracks (so the
    # data decide), narrow enough that float32 keeps the information the first planes add
    prior_var: tuple = (400.0, 400.0, 0.01, 0.01, 1.0)

    @property
    def layers(self) -> int:
        return len(self.z)

    @property
    def n_state(self) -> int:
        return 5 if self.field else 4

    @property
    def gaps(self) -> list[float]:
        """dz before each plane (0 before the first)."""
        return [0.0] + [b - a for a, b in zip(self.z, self.z[1:])]

    @property
    def ndf(self) -> int:
        return 2 * self.layers - self.n_state


def propagate(tel: Telescope, state, dz: float, xp=pg) -> list:
    """The state at z + dz (NumPy arrays, traced values, or ``xp``'s arrays)."""
    x, y, tx, ty = state[:4]
    if not tel.field:
        return [x + tx * dz, y + ty * dz, tx, ty]
    qop = state[4]
    n = xp.sqrt(1 + tx * tx + ty * ty)
    kb = -KAPPA * tel.field
    ax, ay = kb * n * (1 + tx * tx), kb * n * tx * ty
    bend_x, bend_y = qop * ax * dz, qop * ay * dz
    return [x + (tx + 0.5 * bend_x) * dz, y + (ty + 0.5 * bend_y) * dz,
            tx + bend_x, ty + bend_y, qop]


def highland(tel: Telescope, p, n, xp=pg):
    """theta_0 (rad) of the Highland formula, for momentum p and direction factor
    N = sqrt(1 + tx^2 + ty^2) (the path through the plane is N times its thickness)."""
    beta2 = p * p / (p * p + tel.mass * tel.mass)
    t = tel.x_over_x0 * n
    return 0.0136 / (xp.sqrt(beta2) * p) * xp.sqrt(t) * (1 + 0.038 * xp.log(t / beta2))


def scattering(tel: Telescope, tx, ty, p, xp=pg) -> tuple:
    """(var tx, cov tx ty, var ty) added by one plane: two independent angles of width
    theta_0 perpendicular to the direction, mapped onto the slopes."""
    n2 = 1 + tx * tx + ty * ty
    theta2 = highland(tel, p, xp.sqrt(n2), xp) ** 2 * n2
    return theta2 * (1 + tx * tx), theta2 * tx * ty, theta2 * (1 + ty * ty)


# ---- the generator ---------------------------------------------------------------------------
def _kick(tel: Telescope, state: np.ndarray, p: np.ndarray, rng) -> None:
    """Rotate each direction by two Gaussian angles of width theta_0 (in place)."""
    tx, ty = state[:, 2], state[:, 3]
    n = np.sqrt(1 + tx * tx + ty * ty)
    d = np.stack([tx, ty, np.ones_like(tx)], 1) / n[:, None]
    u = np.stack([np.ones_like(tx), np.zeros_like(tx), -tx], 1)
    u /= np.linalg.norm(u, axis=1)[:, None]
    v = np.cross(d, u)
    theta0 = highland(tel, p, n)
    a, b = (theta0 * rng.standard_normal(len(tx)) for _ in range(2))
    angle = np.hypot(a, b)
    safe = np.where(angle > 0, angle, 1.0)
    d_new = np.cos(angle)[:, None] * d + (np.sin(angle) / safe)[:, None] * \
        (a[:, None] * u + b[:, None] * v)
    state[:, 2], state[:, 3] = d_new[:, 0] / d_new[:, 2], d_new[:, 1] / d_new[:, 2]


def generate(tel: Telescope, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n tracks: measurements (n, L, 2) and true states at each plane (n, L, n_state), the
    slopes there being those arriving at the plane (before its scattering)."""
    state = np.empty((n, tel.n_state))
    state[:, 0:2] = rng.uniform(-20, 20, (n, 2))
    state[:, 2:4] = rng.uniform(-0.1, 0.1, (n, 2))
    if tel.field:
        p = rng.uniform(*tel.p_range, n)
        state[:, 4] = rng.choice([-1.0, 1.0], n) / p
    else:
        p = np.full(n, tel.p_no_field)
    truth = np.empty((n, tel.layers, tel.n_state))
    for k, dz in enumerate(tel.gaps):
        if k:
            state = np.stack(propagate(tel, state.T, dz), 1)
        truth[:, k] = state
        _kick(tel, state, p, rng)
    meas = truth[:, :, :2] + tel.sigma * rng.standard_normal((n, tel.layers, 2))
    return meas, truth
