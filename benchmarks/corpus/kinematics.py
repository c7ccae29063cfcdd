"""Relativistic kinematics: invariant masses, boosts, collider variables."""
import sympy as sp

from physgraph.bench.corpus import Case, Entry

PDG_KIN = "PDG, Review of Particle Physics (2024), ch. 49 Kinematics"


def _p4(name: str):
    return sp.symbols(f"{name}E {name}x {name}y {name}z")


def _dot(a, b):
    return a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3]


def _mass_2() -> Case:
    a, b = _p4("a"), _p4("b")
    s = [x + y for x, y in zip(a, b)]
    return Case([sp.sqrt(_dot(s, s))], [*a, *b])


def _mass_3() -> Case:
    a, b, c = _p4("a"), _p4("b"), _p4("c")
    s = [x + y + z for x, y, z in zip(a, b, c)]
    return Case([sp.sqrt(_dot(s, s))], [*a, *b, *c])


def _mass_pt_eta_phi() -> Case:
    """m^2 of two massive particles given as (pT, eta, phi, m)."""
    pt1, eta1, phi1, m1, pt2, eta2, phi2, m2 = sp.symbols("pt1 eta1 phi1 m1 pt2 eta2 phi2 m2")

    def four(pt, eta, phi, m):
        px, py, pz = pt * sp.cos(phi), pt * sp.sin(phi), pt * sp.sinh(eta)
        return (sp.sqrt(px**2 + py**2 + pz**2 + m**2), px, py, pz)
    a, b = four(pt1, eta1, phi1, m1), four(pt2, eta2, phi2, m2)
    s = [x + y for x, y in zip(a, b)]
    return Case([_dot(s, s)], [pt1, eta1, phi1, m1, pt2, eta2, phi2, m2])


def _boost() -> Case:
    """A four-vector boosted by a general velocity beta (Jackson eq. 11.19)."""
    E, px, py, pz = _p4("p")
    bx, by, bz = sp.symbols("bx by bz")
    b2 = bx**2 + by**2 + bz**2
    gamma = 1 / sp.sqrt(1 - b2)
    bp = bx * px + by * py + bz * pz
    k = (gamma - 1) * bp / b2 - gamma * E
    return Case([gamma * (E - bp), px + k * bx, py + k * by, pz + k * bz],
                [E, px, py, pz, bx, by, bz])


def _boost_to_cm() -> Case:
    """Particle a boosted into the rest frame of a + b."""
    a, b = _p4("a"), _p4("b")
    s = [x + y for x, y in zip(a, b)]
    beta = [-s[i] / s[0] for i in (1, 2, 3)]
    b2 = sum(x**2 for x in beta)
    gamma = 1 / sp.sqrt(1 - b2)
    bp = sum(beta[i] * a[i + 1] for i in range(3))
    k = (gamma - 1) * bp / b2 + gamma * a[0]
    return Case([gamma * (a[0] + bp)] + [a[i + 1] + k * beta[i] for i in range(3)], [*a, *b])


def _mt() -> Case:
    """Transverse mass of a lepton and missing momentum (W -> l nu)."""
    lx, ly, nx, ny = sp.symbols("lx ly nx ny")
    ptl, ptn = sp.sqrt(lx**2 + ly**2), sp.sqrt(nx**2 + ny**2)
    return Case([sp.sqrt(2 * (ptl * ptn - lx * nx - ly * ny))], [lx, ly, nx, ny])


def _mandelstam() -> Case:
    a, b, c = _p4("a"), _p4("b"), _p4("c")
    s = [x + y for x, y in zip(a, b)]
    t = [x - y for x, y in zip(a, c)]
    u = [x - y for x, y in zip(b, c)]
    return Case([_dot(s, s), _dot(t, t), _dot(u, u)], [*a, *b, *c])


def _delta_r() -> Case:
    """Angular distance Delta R between two momenta given as Cartesian components."""
    a, b = sp.symbols("ax ay az"), sp.symbols("bx by bz")

    def eta(p):
        pt = sp.sqrt(p[0]**2 + p[1]**2)
        return sp.asinh(p[2] / pt)
    dphi = sp.atan2(a[1], a[0]) - sp.atan2(b[1], b[0])
    return Case([sp.sqrt((eta(a) - eta(b))**2 + dphi**2)], [*a, *b])


ENTRIES = [
    Entry("invariant-mass-2", PDG_KIN + ", invariant mass", _mass_2),
    Entry("invariant-mass-3", PDG_KIN + ", invariant mass", _mass_3),
    Entry("mass2-pt-eta-phi", PDG_KIN + ", rapidity and pseudorapidity",
          _mass_pt_eta_phi),
    Entry("lorentz-boost", "J. D. Jackson, Classical Electrodynamics, 3rd ed. (1999), "
          "eq. 11.19", _boost),
    Entry("boost-to-cm", PDG_KIN + ", Lorentz transformations", _boost_to_cm),
    Entry("transverse-mass", PDG_KIN + ", transverse variables (massless limit)", _mt),
    Entry("mandelstam-stu", PDG_KIN + ", Mandelstam variables", _mandelstam),
    Entry("delta-r", "ATLAS, JINST 3 (2008) S08003, sec. 1.1.2 (coordinate system)",
          _delta_r),
]
