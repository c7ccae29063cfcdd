"""Helicity amplitudes in the HELAS/ALOHA conventions of MadGraph5_aMC@NLO, traced symbolically.

A process is ported from MadGraph's generated code line by line (or imported by
``pg.madgraph``, which translates the vertex routines and uses this module for the rest):
external wavefunctions (``ixxxxx``, ``oxxxxx``, ``vxxxxx``, ``sxxxxx``), off-shell currents (``FFV1_1``, ``FFV1_2``,
``FFV1P0_3``, ``VVV1P0_1``, ``VVVV1P0_1``...) and vertex amplitudes (``FFV1_0``,
``VVV1_0``, ``VVVV1_0``...).  Everything builds graph nodes; nothing is a number.  Helicities
are Python integers, so a helicity sum is unrolled at trace time; zero spinor components are
exact constants, so complex lowering and constant folding remove the helicity combinations
that vanish, and hash-consing shares every wavefunction and current between the helicities
and diagrams that use it.

Conventions (those of ALOHA's generated routines):

- Spinors are Dirac spinors in the chiral basis, gamma^0 = [[0, 1], [1, 0]],
  gamma^k = [[0, sigma^k], [-sigma^k, 0]]; ``oxxxxx`` returns the barred spinor (a row).
  Vector wavefunctions hold the contravariant polarization eps^mu.
- ``Wavefunction.p`` is the momentum flowing *out* through the wavefunction: the sum of the
  outgoing momenta of the external legs it contains (an incoming leg contributes -p).
- Vertices are -i * coupling * (Lorentz structure).  A current is the vertex with its
  off-shell leg removed, times the propagator 1 / (P^2 - M^2 + i M W); for a fermion the
  numerator is -(q-slash + M), q the momentum along the fermion flow.
- ``beam=+1`` / ``beam=-1`` declare an incoming massless momentum along +z / -z (like
  madgraph4gpu's ipzxxx/imzxxx): only its energy is read, and the wavefunction's zero and
  constant components become compile-time constants.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from numbers import Number

import numpy as np

from .. import notes
from ..frontend import scalar as sc
from ..graph import Graph, Op, Output
from ..passes.calls import inline
from ..passes.lower_complex import lower_complex
from .lorentz import Vec4

SQH = np.sqrt(0.5)


@dataclass(frozen=True)
class Wavefunction:
    """Four complex components (spinor or eps^mu) and the outgoing momentum (E, px, py, pz);
    ``external`` for the wavefunction of an external particle (not an off-shell current)."""
    w: tuple
    p: tuple
    external: bool = False


def _is_zero(x) -> bool:
    return isinstance(x, Number) and x == 0


def _momentum(p: Vec4, beam: int) -> tuple:
    if beam == 0:
        return tuple(p.elements())
    if beam not in (1, -1):
        raise ValueError(f"beam must be +1 (along +z), -1 (along -z) or 0, got {beam!r}")
    return (p.E, 0, 0, beam * p.E)


def _dot(a: Sequence, b: Sequence):
    """Minkowski product a^0 b^0 - a.b of two 4-sequences (no complex conjugation)."""
    return a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3]


def _scaled(s, p: Sequence) -> tuple:
    return tuple(s * x for x in p)


def _add(*ps: Sequence) -> tuple:
    return tuple(sum(xs[1:], xs[0]) for xs in zip(*ps))


# ---- external wavefunctions -----------------------------------------------------------------
class Deferred:
    """A helicity that is not a number while tracing (``physics.helicity_loop`` runs the
    helicity sum as a loop at run time): an external wavefunction routine given one as its
    helicity returns ``wavefunction(routine, p, mass, ns, beam)`` instead."""

    def wavefunction(self, routine: Callable, p: Vec4, mass, ns: int,
                     beam: int) -> "Wavefunction":
        raise NotImplementedError


def _check_helicity(nhel, allowed=(-1, 1)) -> None:
    if nhel not in allowed:
        raise ValueError(f"helicity {nhel!r} is not one of {allowed}")


def _massless_chi(p: tuple, nhel: int, nsf: int, beam: int, sign_p2: int) -> tuple:
    """(chi1, chi2) of a massless spinor; sign_p2 is +1 for ixxxxx, -1 for oxxxxx."""
    nh = nhel * nsf
    if beam == 1:
        return nsf * sc.sqrt(2 * p[0]), 0
    if beam == -1:
        return 0, -nhel * sc.sqrt(2 * p[0])
    sq = sc.sqrt(sc.maximum(p[0] + p[3], 0.0))
    along_minus_z = sq == 0           # the spinor's other branch (HELAS tests p1 = p2 = 0, p3 < 0)
    chi2 = sc.where(along_minus_z, -nhel * sc.sqrt(2 * p[0]),
                    (nh * p[1] + sign_p2 * 1j * p[2]) / (nsf * sq))
    return nsf * sq, chi2


def _massive_chi(p: tuple, mass, nhel: int, nsf: int, sign_p2: int):
    """(sfomega, chi, ip, im) of a massive spinor, for momenta not at rest."""
    nh = nhel * nsf
    pp = sc.minimum(p[0], sc.sqrt(p[1] * p[1] + p[2] * p[2] + p[3] * p[3]))
    sf = ((1 + nsf + (1 - nsf) * nh) // 2, (1 + nsf - (1 - nsf) * nh) // 2)
    omega0 = sc.sqrt(p[0] + pp)
    omega = (omega0, mass / omega0)
    ip, im = (1 + nh) // 2, (1 - nh) // 2
    sfomega = (sf[0] * omega[ip], sf[1] * omega[im])
    pp3 = sc.maximum(pp + p[3], 0.0)
    chi = (sc.sqrt(pp3 * 0.5 / pp),
           sc.where(pp3 == 0, float(-nh),
                    (nh * p[1] + sign_p2 * 1j * p[2]) / sc.sqrt(2 * pp * pp3)))
    return pp, sfomega, chi, ip, im


def _at_rest(pp, rest: tuple, moving: tuple) -> tuple:
    at_rest = pp == 0
    return tuple(sc.where(at_rest, r, m) for r, m in zip(rest, moving))


def ixxxxx(p: Vec4, mass, nhel: int, nsf: int, beam: int = 0) -> Wavefunction:
    """Flowing-in fermion |fi>: u(p) for an incoming particle (nsf=+1), v(p) for an outgoing
    antiparticle (nsf=-1).  ``mass`` 0 (the number) selects the massless form."""
    if isinstance(nhel, Deferred):
        return nhel.wavefunction(ixxxxx, p, mass, nsf, beam)
    _check_helicity(nhel)
    mom = _momentum(p, beam)
    out_p = _scaled(-nsf, mom)
    if _is_zero(mass):
        chi1, chi2 = _massless_chi(mom, nhel, nsf, beam, +1)
        w = (0, 0, chi1, chi2) if nhel * nsf == 1 else (chi2, chi1, 0, 0)
        return Wavefunction(w, out_p, True)
    if beam:
        raise ValueError("beam= is for massless incoming particles")
    pp, sfomega, chi, ip, im = _massive_chi(mom, mass, nhel, nsf, +1)
    moving = (sfomega[0] * chi[im], sfomega[0] * chi[ip], sfomega[1] * chi[im],
              sfomega[1] * chi[ip])
    sqm = sc.sqrt(mass)                                       # masses are positive here
    rest = (ip * sqm, im * nsf * sqm, ip * nsf * sqm, im * sqm)
    return Wavefunction(_at_rest(pp, rest, moving), out_p, True)


def oxxxxx(p: Vec4, mass, nhel: int, nsf: int, beam: int = 0) -> Wavefunction:
    """Flowing-out fermion <fo|: ubar(p) for an outgoing particle (nsf=+1), vbar(p) for an
    incoming antiparticle (nsf=-1)."""
    if isinstance(nhel, Deferred):
        return nhel.wavefunction(oxxxxx, p, mass, nsf, beam)
    _check_helicity(nhel)
    mom = _momentum(p, beam)
    out_p = _scaled(nsf, mom)
    if _is_zero(mass):
        chi1, chi2 = _massless_chi(mom, nhel, nsf, beam, -1)
        w = (chi1, chi2, 0, 0) if nhel * nsf == 1 else (0, 0, chi2, chi1)
        return Wavefunction(w, out_p, True)
    if beam:
        raise ValueError("beam= is for massless incoming particles")
    pp, sfomega, chi, ip, im = _massive_chi(mom, mass, nhel, nsf, -1)
    moving = (sfomega[1] * chi[im], sfomega[1] * chi[ip], sfomega[0] * chi[im],
              sfomega[0] * chi[ip])
    nh = nhel * nsf
    a, b = -((1 - nh) // 2) * nhel, (1 + nh) // 2 * nhel      # HELAS's ip, im at rest
    sqm = sc.sqrt(mass)
    rest = (b * sqm, a * nsf * sqm, b * nsf * sqm, a * sqm)
    return Wavefunction(_at_rest(pp, rest, moving), out_p, True)


def vxxxxx(p: Vec4, mass, nhel: int, nsv: int, beam: int = 0) -> Wavefunction:
    """Vector boson polarization eps^mu (helicity -1, 0, +1; 0 only when massive) for an
    incoming (nsv=-1) or outgoing (nsv=+1) boson; eps is conjugated for outgoing ones."""
    if isinstance(nhel, Deferred):
        return nhel.wavefunction(vxxxxx, p, mass, nsv, beam)
    massless = _is_zero(mass)
    _check_helicity(nhel, (-1, 1) if massless else (-1, 0, 1))
    mom = _momentum(p, beam)
    out_p = _scaled(nsv, mom)
    hel = nhel
    if beam:
        if not massless:
            raise ValueError("beam= is for massless incoming particles")
        return Wavefunction((0, -hel * SQH, 1j * nsv * beam * SQH, 0), out_p, True)
    p0, p1, p2, p3 = mom
    pt2 = p1 * p1 + p2 * p2
    sign_pz = sc.where(p3 < 0, -SQH, SQH)
    if massless:
        pt = sc.sqrt(pt2)
        on_axis = pt == 0
        pzpt = p3 / (p0 * pt) * (SQH * hel)
        eps1 = sc.where(on_axis, -hel * SQH, -p1 * pzpt - 1j * nsv * SQH * p2 / pt)
        eps2 = sc.where(on_axis, 1j * nsv * sign_pz, -p2 * pzpt + 1j * nsv * SQH * p1 / pt)
        return Wavefunction((0, eps1, eps2, hel * SQH * pt / p0), out_p, True)
    hel0 = 1 - abs(hel)
    nsvahl = nsv * abs(hel)
    pp = sc.minimum(p0, sc.sqrt(pt2 + p3 * p3))
    pt = sc.minimum(pp, sc.sqrt(pt2))
    emp = p0 / (mass * pp)
    on_axis = pt == 0
    pzpt = p3 / (pp * pt) * (SQH * hel)
    eps1 = sc.where(on_axis, -hel * SQH,
                    hel0 * p1 * emp - p1 * pzpt - 1j * nsvahl * SQH * p2 / pt)
    eps2 = sc.where(on_axis, 1j * nsvahl * sign_pz,
                    hel0 * p2 * emp - p2 * pzpt + 1j * nsvahl * SQH * p1 / pt)
    moving = (hel0 * pp / mass, eps1, eps2, hel0 * p3 * emp + hel * SQH * pt / pp)
    rest = (0, -hel * SQH, 1j * nsvahl * SQH, hel0)
    return Wavefunction(_at_rest(pp, rest, moving), out_p, True)


def sxxxxx(p: Vec4, nss: int, beam: int = 0) -> Wavefunction:
    """Scalar boson, incoming (nss=-1) or outgoing (nss=+1): the constant 1."""
    if nss not in (1, -1):
        raise ValueError(f"nss must be +1 (outgoing) or -1 (incoming), got {nss!r}")
    return Wavefunction((1,), _scaled(nss, _momentum(p, beam)), True)


def vlinear(p: Vec4, pol: str, nsv: int, beam: int = 0) -> Wavefunction:
    """Real linear polarization eps_pol (pol "x": in the plane of p and z, "y": normal to
    it) of a massless vector boson, incoming (nsv=-1) or outgoing (nsv=+1).  Summed over pol
    they give
    the same unpolarized |M|^2 as the helicity basis; being real, every product with them
    costs two real multiplications instead of a complex product's six operations."""
    _check_helicity(pol, ("x", "y"))
    mom = _momentum(p, beam)
    out_p = _scaled(nsv, mom)
    if beam:
        return Wavefunction((0, 1, 0, 0) if pol == "x" else (0, 0, 1, 0), out_p, True)
    p0, p1, p2, p3 = mom
    pt = sc.sqrt(p1 * p1 + p2 * p2)
    on_axis = pt == 0
    if pol == "x":
        w = (0, sc.where(on_axis, 1.0, p3 * p1 / (p0 * pt)),
             sc.where(on_axis, 0.0, p3 * p2 / (p0 * pt)), -pt / p0)
    else:
        w = (0, sc.where(on_axis, 0.0, -p2 / pt), sc.where(on_axis, 1.0, p1 / pt), 0)
    return Wavefunction(w, out_p, True)


# ---- Dirac algebra on 4-tuples --------------------------------------------------------------
def _slash(v: Sequence) -> tuple:
    """gamma^mu v_mu in the chiral basis, as rows; structural zeros stay Python zeros."""
    v0, v1, v2, v3 = v
    a, b = v0 - v3, v0 + v3
    c, d = v1 - 1j * v2, v1 + 1j * v2
    return ((0, 0, a, -c), (0, 0, -d, b), (b, c, 0, 0), (d, a, 0, 0))


def _terms(pairs) -> object:
    """sum of x * y over pairs, every product written out as ALOHA's routines compute it:
    structural zeros (a chirality the spinor lacks, gamma matrix blocks) become constant
    operands, and it is the compiler's folding that removes them, not the frontend."""
    total = 0
    for x, y in pairs:
        total = total + x * y
    return total


def _row_times(row: Sequence, m: tuple) -> tuple:
    return tuple(_terms((row[a], m[a][b]) for a in range(4)) for b in range(4))


def _times_col(m: tuple, col: Sequence) -> tuple:
    return tuple(_terms((m[a][b], col[b]) for b in range(4)) for a in range(4))


def _propagator(p: Sequence, mass, width):
    """1 / (P^2 - M^2 + i M W)."""
    den = _dot(p, p)
    if not _is_zero(mass):
        den = den - mass * mass
        if not _is_zero(width):
            den = den + 1j * mass * width
    return 1 / den


def _fermion_numerator(q: Sequence, mass) -> tuple:
    """q-slash + M as a 4x4 matrix."""
    m = [list(row) for row in _slash(q)]
    if not _is_zero(mass):
        for k in range(4):
            m[k][k] = mass
    return tuple(tuple(row) for row in m)


# ---- fermion-fermion-vector: Gamma(3,2,1) ---------------------------------------------------
def FFV1_0(F1: Wavefunction, F2: Wavefunction, V3: Wavefunction, coup) -> object:
    """Vertex amplitude -i coup <F2| gamma.V3 |F1> (F1 flowing in, F2 flowing out).

    Between two external spinors it is written as their current <F2| gamma^mu |F1>
    contracted with V3: a pair of external spinors meets many vector currents (every
    helicity of every boson attached elsewhere), and hash-consing computes the current once
    for all of them.  Otherwise the row <F2| gamma.V3 is formed first, as ALOHA does."""
    if F1.external and F2.external:
        return -1j * coup * _dot(_current(F2.w, F1.w), V3.w)
    return -1j * coup * _terms(zip(_row_times(F2.w, _slash(V3.w)), F1.w))


def FFV1_1(F2: Wavefunction, V3: Wavefunction, coup, M1, W1) -> Wavefunction:
    """Off-shell flowing-out fermion: <F2| gamma.V3 (q-slash + M) i coup / (q^2 - M^2 + iMW)."""
    p = _add(F2.p, V3.p)
    row = _row_times(_row_times(F2.w, _slash(V3.w)), _fermion_numerator(p, M1))
    f = 1j * coup * _propagator(p, M1, W1)
    return Wavefunction(tuple(f * x for x in row), p)


def FFV1_2(F1: Wavefunction, V3: Wavefunction, coup, M2, W2) -> Wavefunction:
    """Off-shell flowing-in fermion: (q-slash + M) gamma.V3 |F1> i coup / (q^2 - M^2 + iMW)."""
    p = _add(F1.p, V3.p)
    q = _scaled(-1, p)
    col = _times_col(_fermion_numerator(q, M2), _times_col(_slash(V3.w), F1.w))
    f = 1j * coup * _propagator(p, M2, W2)
    return Wavefunction(tuple(f * x for x in col), p)


def _current(fo: Sequence, fi: Sequence) -> tuple:
    """J^mu = <fo| gamma^mu |fi>."""
    return (_terms([(fo[0], fi[2]), (fo[1], fi[3]), (fo[2], fi[0]), (fo[3], fi[1])]),
            _terms([(fo[0], fi[3]), (fo[1], fi[2])]) - _terms([(fo[2], fi[1]), (fo[3], fi[0])]),
            1j * (_terms([(fo[2], fi[1]), (fo[1], fi[2])])
                  - _terms([(fo[0], fi[3]), (fo[3], fi[0])])),
            _terms([(fo[0], fi[2]), (fo[3], fi[1])]) - _terms([(fo[1], fi[3]), (fo[2], fi[0])]))


def _vector_current(J: Sequence, p: Sequence, coup, mass, width) -> tuple:
    """-i coup (J^mu - P^mu P.J / M^2) / (P^2 - M^2 + i M W); the P P term only if massive."""
    if not _is_zero(mass):
        pj = _dot(p, J) / (mass * mass)
        J = tuple(j - x * pj for j, x in zip(J, p))
    f = -1j * coup * _propagator(p, mass, width)
    return tuple(f * j for j in J)


def FFV1P0_3(F1: Wavefunction, F2: Wavefunction, coup, M3, W3) -> Wavefunction:
    """Off-shell vector from a fermion line: -i coup <F2| gamma^mu |F1> / (P^2 - M^2 + iMW)."""
    p = _add(F1.p, F2.p)
    return Wavefunction(_vector_current(_current(F2.w, F1.w), p, coup, M3, W3), p)


# ---- three-vector vertex: VVV1 --------------------------------------------------------------
def VVV1_0(V1: Wavefunction, V2: Wavefunction, V3: Wavefunction, coup) -> object:
    """-i coup [(V1.V2) V3.(P1-P2) + (V1.V3) V2.(P3-P1) + (V2.V3) V1.(P2-P3)], P outgoing."""
    p1, p2, p3 = V1.p, V2.p, V3.p
    return -1j * coup * (_dot(V1.w, V2.w) * (_dot(V3.w, p1) - _dot(V3.w, p2))
                         + _dot(V1.w, V3.w) * (_dot(V2.w, p3) - _dot(V2.w, p1))
                         + _dot(V2.w, V3.w) * (_dot(V1.w, p2) - _dot(V1.w, p3)))


def VVV1P0_1(V2: Wavefunction, V3: Wavefunction, coup, M1, W1) -> Wavefunction:
    """Off-shell vector from VVV1 with leg 1 removed (its momentum P1 = -(P2 + P3))."""
    p = _add(V2.p, V3.p)
    p1, p2, p3 = _scaled(-1, p), V2.p, V3.p
    v23 = _dot(V2.w, V3.w)
    a = _dot(V3.w, p1) - _dot(V3.w, p2)
    b = _dot(V2.w, p3) - _dot(V2.w, p1)
    J = tuple(v23 * (x2 - x3) + w2 * a + w3 * b
              for x2, x3, w2, w3 in zip(p2, p3, V2.w, V3.w))
    return Wavefunction(_vector_current(J, p, coup, M1, W1), p)


# ---- four-vector vertices: VVVV1, VVVV3, VVVV4 ----------------------------------------------
# Each is -i coup [(Va.Vb)(Vc.Vd) - (Ve.Vf)(Vg.Vh)]: the two products of metric tensors.
_VVVV = {1: (((1, 2), (0, 3)), ((0, 2), (1, 3))),     # (V2.V3)(V1.V4) - (V1.V3)(V2.V4)
         3: (((1, 2), (0, 3)), ((0, 1), (2, 3))),     # (V2.V3)(V1.V4) - (V1.V2)(V3.V4)
         4: (((0, 2), (1, 3)), ((0, 1), (2, 3)))}     # (V1.V3)(V2.V4) - (V1.V2)(V3.V4)


def _vvvv(kind: int, vs: Sequence) -> object:
    (a, b), (c, d) = _VVVV[kind]
    return (_dot(vs[a[0]], vs[a[1]]) * _dot(vs[b[0]], vs[b[1]])
            - _dot(vs[c[0]], vs[c[1]]) * _dot(vs[d[0]], vs[d[1]]))


def _vvvv_current(kind: int, V2, V3, V4, coup, M1, W1) -> Wavefunction:
    """The vertex with leg 1 removed: evaluated on the four unit vectors e_(mu), whose
    coefficients are the covariant components; raising the index gives the current."""
    p = _add(V2.p, V3.p, V4.p)
    units = [tuple(int(k == mu) for k in range(4)) for mu in range(4)]
    cov = [_vvvv(kind, (e, V2.w, V3.w, V4.w)) for e in units]
    J = (cov[0], -cov[1], -cov[2], -cov[3])
    return Wavefunction(_vector_current(J, p, coup, M1, W1), p)


def VVVV1_0(V1, V2, V3, V4, coup) -> object:
    """-i coup [(V2.V3)(V1.V4) - (V1.V3)(V2.V4)]."""
    return -1j * coup * _vvvv(1, (V1.w, V2.w, V3.w, V4.w))


def VVVV3_0(V1, V2, V3, V4, coup) -> object:
    """-i coup [(V2.V3)(V1.V4) - (V1.V2)(V3.V4)]."""
    return -1j * coup * _vvvv(3, (V1.w, V2.w, V3.w, V4.w))


def VVVV4_0(V1, V2, V3, V4, coup) -> object:
    """-i coup [(V1.V3)(V2.V4) - (V1.V2)(V3.V4)]."""
    return -1j * coup * _vvvv(4, (V1.w, V2.w, V3.w, V4.w))


def VVVV1P0_1(V2, V3, V4, coup, M1, W1) -> Wavefunction:
    return _vvvv_current(1, V2, V3, V4, coup, M1, W1)


def VVVV3P0_1(V2, V3, V4, coup, M1, W1) -> Wavefunction:
    return _vvvv_current(3, V2, V3, V4, coup, M1, W1)


def VVVV4P0_1(V2, V3, V4, coup, M1, W1) -> Wavefunction:
    return _vvvv_current(4, V2, V3, V4, coup, M1, W1)


# ---- helicity sums --------------------------------------------------------------------------
def sum_helicities(squared: Callable[[tuple], object], helicities: Sequence[Sequence[int]],
                   label: str = "helicities") -> object:
    """sum over every helicity combination h of ``squared(h)``, unrolled at trace time.

    Which combinations survive is decided by the compiler: complex lowering (which folds
    constants as it builds) runs over the graph, and a combination whose square folded to
    the constant 0 is dead.  The passes drop those again in the kernel itself; the list of
    survivors is attached as a note for ``Kernel.report()``.
    """
    return sum_combinations(squared, list(itertools.product(*helicities)), label)


# ``sum_combinations`` hands its sum to this function when one is set (the helicity loop
# traces its prologue and body through the process function that calls it)
HELICITY_SUM: ContextVar[Callable | None] = ContextVar("physgraph_helicity_sum", default=None)


def sum_combinations(squared: Callable[[tuple], object], combos: Sequence[Sequence[int]],
                     label: str = "helicities") -> object:
    """``sum_helicities`` over an explicit list of helicity combinations (MadGraph's
    helicity table, in its order)."""
    override = HELICITY_SUM.get()
    if override is not None:
        return override(squared, combos, label)
    return unrolled_sum(squared, combos, label)


def unrolled_sum(squared: Callable[[tuple], object], combos: Sequence[Sequence[int]],
                 label: str = "helicities") -> object:
    """The sum of ``squared(h)`` over ``combos``, every term traced."""
    terms = [squared(tuple(h)) for h in combos]
    alive = _surviving(terms)
    traced = [t for t in terms if isinstance(t, sc.Scalar)]
    if traced:
        shown = " ".join("".join(_SIGNS.get(x, str(x)) for x in h)
                         for h, keep in zip(combos, alive) if keep)
        notes.add(traced[0].g, f"{label}: {sum(alive)} of {len(combos)} combinations "
                               f"survive: {shown}")
    total = 0
    for t in terms:
        total = total + t
    return total


_SIGNS = {-1: "-", 0: "0", 1: "+"}


def _surviving(terms: list) -> list[bool]:
    """Whether each term is nonzero after complex lowering and constant folding."""
    traced = [(k, t) for k, t in enumerate(terms) if isinstance(t, sc.Scalar)]
    alive = [not _is_zero(t) if not isinstance(t, sc.Scalar) else True for t in terms]
    if not traced:
        return alive
    g = traced[0][1].g
    view = Graph(ops=g.ops, args=g.args, attrs=g.attrs, types=g.types, signature=g.signature,
                 outputs=[Output(f"h{k}", (), (t.i,)) for k, t in traced])
    lowered = lower_complex(inline(view))         # routines' bodies fold too
    for (k, _), out in zip(traced, lowered.outputs):
        node = out.nodes[0]
        alive[k] = not (lowered.ops[node] is Op.CONST and lowered.attrs[node] == 0)
    return alive


# ---- what MadGraph's generated code needs around the routines ------------------------------
def cxmake(re, im) -> object:
    """The complex number re + i im (MadGraph's cxmake)."""
    return re + 1j * im


def ternary(condition, if_true: Callable[[], object], if_false: Callable[[], object]) -> object:
    """C++'s ``condition ? a : b`` with both branches as thunks: decided now when the
    condition is a plain bool (a massless propagator's ``M3 != 0.``, where the untaken branch
    would divide by zero), selected per event with ``where`` when it is traced."""
    if isinstance(condition, sc.Scalar):
        return sc.where(condition, if_true(), if_false())
    return if_true() if condition else if_false()


def colour_sum(jamps: Sequence, matrix: Sequence[Sequence[int]],
               denominators: Sequence[int]) -> object:
    """sum_ij Re(conj(J_i) J_j) matrix[i][j] / denominators[i] of the colour-flow amplitudes
    J (MadGraph's JAMPs), the matrix real and symmetric as color_sum.cc gives it: each row's
    diagonal term plus twice the terms right of it, the way MadGraph sums it."""
    total = 0
    for i, (row, den) in enumerate(zip(matrix, denominators)):
        z = 0
        for j in range(i, len(jamps)):
            if row[j]:
                z = z + (row[j] if j == i else 2 * row[j]) / den * jamps[j]
        if not _is_zero(z):
            total = total + sc.re(jamps[i]) * sc.re(z) + sc.im(jamps[i]) * sc.im(z)
    return total


# ---- boosts ---------------------------------------------------------------------------------
def boost(p: Vec4, beta: Sequence) -> Vec4:
    """p seen from a frame moving with velocity -beta: the pure Lorentz boost that takes a
    particle at rest to velocity beta = (bx, by, bz) (traced or numbers, |beta| < 1)."""
    bx, by, bz = beta
    b2 = bx * bx + by * by + bz * bz
    gamma = 1 / sc.sqrt(1 - b2)
    bp = bx * p.px + by * p.py + bz * p.pz
    k = (gamma - 1) * bp / b2 + gamma * p.E
    return Vec4(gamma * (p.E + bp), p.px + k * bx, p.py + k * by, p.pz + k * bz)
