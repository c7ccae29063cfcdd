"""Tree-level matrix elements, ported by hand from the way MadGraph5_aMC@NLO writes them.

Each process is a traced function of the momenta of all its particles (``pg.Vec4``, incoming
first, MadGraph's particle order) and of its couplings and masses (``pg.Param`` with
defaults).  It returns |M|^2 in MadGraph standalone conventions: summed over final and
averaged over initial helicities and colours, with the identical-particle factor.

    from physgraph.physics import processes
    me = processes.gg_tt(p1, p2, p3, p4)          # compiled on first use (numba, float64)
    print(processes.gg_tt.report())                # passes, and the surviving helicities

``processes.build(name, beams="z")`` gives the traced function to compile with other
options.  ``beams="z"`` (the compiled default) takes the incoming momenta along +z (first)
and -z (second), as in a collider's lab or centre-of-mass frame: only their energies are
read and their wavefunctions become mostly constants.  ``beams="any"`` accepts any
direction (for checks under general Lorentz boosts).
"""
from __future__ import annotations

import math
from functools import lru_cache
from itertools import permutations

import numpy as np

import physgraph as pg

from .color import F_PHASE, ColourBasis, comm
from .helas import (FFV1_0, FFV1_1, FFV1_2, FFV1P0_3, VVV1P0_1, VVVV1P0_1, VVVV3P0_1, VVVV4P0_1,
                    ixxxxx, oxxxxx, sum_helicities, vlinear, vxxxxx)

ALPHA = 1 / 132.507
ALPHA_S = 0.118
M_TOP = 173.0
HEL = (-1, 1)
EYE = np.eye(3, dtype=np.int64)


def _e(alpha):
    return pg.sqrt(4 * math.pi * alpha)


def _vector(basis: str):
    """(wavefunction of a massless vector boson, its polarization labels) in ``basis``:
    "helicity" (MadGraph's vxxxxx) or "linear" (real vectors: same summed |M|^2, fewer
    operations)."""
    if basis == "helicity":
        return (lambda p, pol, nsv, beam=0: vxxxxx(p, 0, pol, nsv, beam)), HEL
    if basis == "linear":
        return vlinear, ("x", "y")
    raise ValueError(f"basis must be 'helicity' or 'linear', got {basis!r}")


def _beam(beams: str, k: int) -> int:
    """beam= of incoming particle k (0 or 1)."""
    if beams not in ("z", "any"):
        raise ValueError(f"beams must be 'z' or 'any', got {beams!r}")
    return (1, -1)[k] if beams == "z" else 0


def _label(basis: str) -> str:
    return "helicities" if basis == "helicity" else \
        "helicities (photons and gluons: linear polarizations x, y)"


# ---- colour bases (exact, computed once) ------------------------------------------------------
def quark_line() -> ColourBasis:
    """One open quark line, no gluons: delta_ij."""
    return ColourBasis([lambda: EYE], 0)


def two_gluons() -> ColourBasis:
    """(T^a T^b)_ij and (T^b T^a)_ij: gluon a is particle 1, b particle 2."""
    return ColourBasis([lambda a, b: a @ b, lambda a, b: b @ a], 2)


def three_gluons() -> ColourBasis:
    """(T^x T^y T^z)_ij for the six orders of the gluons (1, 2, 5)."""
    return ColourBasis([_string(order) for order in permutations(range(3))], 3)


def _string(order):
    return lambda *g: g[order[0]] @ g[order[1]] @ g[order[2]]


class Flows:
    """Colour-flow amplitudes (MadGraph's JAMPs) of one process from its diagrams, given as
    (amplitude, colour phase, colour structure) in a fixed order; each diagram's
    decomposition into the basis is computed once, at the first helicity traced."""

    def __init__(self, basis: ColourBasis):
        self.basis = basis
        self._coefficients: dict[int, list] = {}

    def jamps(self, diagrams: list) -> list:
        jamps = [0] * len(self.basis.flows)
        for d, (amp, phase, structure) in enumerate(diagrams):
            if d not in self._coefficients:
                self._coefficients[d] = self.basis.decompose(structure, phase)
            for x, c in enumerate(self._coefficients[d]):
                if c != 0:
                    jamps[x] = jamps[x] + c * amp
        return jamps

    def square(self, diagrams: list):
        """Colour-summed |M|^2 of one helicity combination."""
        return self.basis.square(self.jamps(diagrams))


# ---- e+ e- > mu+ mu- (photon exchange) ------------------------------------------------------
def make_ee_mumu(beams: str = "z"):
    b1, b2 = _beam(beams, 0), _beam(beams, 1)

    def ee_mumu(p1: pg.Vec4, p2: pg.Vec4, p3: pg.Vec4, p4: pg.Vec4,
                alpha: pg.Param = ALPHA):
        GC_3 = -1j * _e(alpha)                       # i e Q, Q = -1

        def squared(h):
            w1 = oxxxxx(p1, 0, h[0], -1, b1)         # e+
            w2 = ixxxxx(p2, 0, h[1], +1, b2)         # e-
            w3 = ixxxxx(p3, 0, h[2], -1)             # mu+
            w4 = oxxxxx(p4, 0, h[3], +1)             # mu-
            w5 = FFV1P0_3(w2, w1, GC_3, 0, 0)
            amp = FFV1_0(w3, w4, w5, GC_3)
            return pg.re(amp) * pg.re(amp) + pg.im(amp) * pg.im(amp)
        return sum_helicities(squared, [HEL] * 4) / 4
    return ee_mumu


# ---- u u~ > mu+ mu- through a photon and a Z' resonance (vector couplings) ------------------
def make_uu_mumu(beams: str = "z"):
    b1, b2 = _beam(beams, 0), _beam(beams, 1)

    def uu_mumu(p1: pg.Vec4, p2: pg.Vec4, p3: pg.Vec4, p4: pg.Vec4, alpha: pg.Param = ALPHA,
                m_zp: pg.Param = 500.0, w_zp: pg.Param = 15.0, g_zp: pg.Param = 0.3):
        e = _e(alpha)
        flows = Flows(quark_line())

        def squared(h):
            w1 = ixxxxx(p1, 0, h[0], +1, b1)         # u
            w2 = oxxxxx(p2, 0, h[1], -1, b2)         # u~
            w3 = ixxxxx(p3, 0, h[2], -1)             # mu+
            w4 = oxxxxx(p4, 0, h[3], +1)             # mu-
            photon = FFV1P0_3(w1, w2, 2j / 3 * e, 0, 0)
            zprime = FFV1P0_3(w1, w2, 1j * g_zp, m_zp, w_zp)
            diagrams = [(FFV1_0(w3, w4, photon, -1j * e), 1, lambda: EYE),
                        (FFV1_0(w3, w4, zprime, 1j * g_zp), 1, lambda: EYE)]
            return flows.square(diagrams)
        return sum_helicities(squared, [HEL] * 4) / (4 * 9)
    return uu_mumu


# ---- u u~ > a a, u u~ > a a a ---------------------------------------------------------------
def make_uu_aa(beams: str = "z", basis: str = "linear"):
    b1, b2 = _beam(beams, 0), _beam(beams, 1)
    vector, pols = _vector(basis)

    def uu_aa(p1: pg.Vec4, p2: pg.Vec4, p3: pg.Vec4, p4: pg.Vec4, alpha: pg.Param = ALPHA):
        GC_2 = 2j / 3 * _e(alpha)                    # i e Q, Q = 2/3
        flows = Flows(quark_line())

        def squared(h):
            w1 = ixxxxx(p1, 0, h[0], +1, b1)         # u
            w2 = oxxxxx(p2, 0, h[1], -1, b2)         # u~
            photons = [vector(p, hk, +1) for p, hk in zip((p3, p4), h[2:])]
            return flows.square(quark_photons_diagrams(w1, w2, photons, GC_2))
        return sum_helicities(squared, [HEL, HEL, pols, pols], _label(basis)) / (4 * 9 * 2)
    return uu_aa


def make_uu_aaa(beams: str = "z", basis: str = "linear"):
    b1, b2 = _beam(beams, 0), _beam(beams, 1)
    vector, pols = _vector(basis)

    def uu_aaa(p1: pg.Vec4, p2: pg.Vec4, p3: pg.Vec4, p4: pg.Vec4, p5: pg.Vec4,
               alpha: pg.Param = ALPHA):
        GC_2 = 2j / 3 * _e(alpha)
        flows = Flows(quark_line())

        def squared(h):
            w1 = ixxxxx(p1, 0, h[0], +1, b1)
            w2 = oxxxxx(p2, 0, h[1], -1, b2)
            photons = [vector(p, hk, +1) for p, hk in zip((p3, p4, p5), h[2:])]
            return flows.square(quark_photons_diagrams(w1, w2, photons, GC_2))
        return sum_helicities(squared, [HEL, HEL, pols, pols, pols], _label(basis)) / (4 * 9 * 6)
    return uu_aaa


def quark_photons_diagrams(w1, w2, photons: list, coup) -> list:
    """The n! diagrams of a massless quark line (w1 flowing in, w2 flowing out) emitting 2 or
    3 photons, as (amplitude, colour phase, colour structure delta_ij)."""
    amps = []
    for order in permutations(range(len(photons))):
        out = FFV1_1(w2, photons[order[0]], coup, 0, 0)       # next to the antiquark
        into = w1 if len(order) == 2 else FFV1_2(w1, photons[order[1]], coup, 0, 0)
        amps.append(FFV1_0(into, out, photons[order[-1]], coup))
    return [(a, 1, lambda: EYE) for a in amps]


# ---- g g > t t~ -----------------------------------------------------------------------------
def make_gg_tt(beams: str = "z", basis: str = "helicity"):      # here fewer flops than linear
    b1, b2 = _beam(beams, 0), _beam(beams, 1)
    vector, pols = _vector(basis)

    def gg_tt(p1: pg.Vec4, p2: pg.Vec4, p3: pg.Vec4, p4: pg.Vec4, alpha_s: pg.Param = ALPHA_S,
              m_t: pg.Param = M_TOP, w_t: pg.Param = 0.0):
        g_s = pg.sqrt(4 * math.pi * alpha_s)
        GC_10, GC_11 = -g_s, 1j * g_s
        flows = Flows(two_gluons())

        def squared(h):
            w1 = vector(p1, h[0], -1, b1)
            w2 = vector(p2, h[1], -1, b2)
            w3 = oxxxxx(p3, m_t, h[2], +1)           # t
            w4 = ixxxxx(p4, m_t, h[3], -1)           # t~
            return flows.square(gg_tt_diagrams(w1, w2, w3, w4, GC_10, GC_11, m_t, w_t))
        return sum_helicities(squared, [pols, pols, HEL, HEL], _label(basis)) / (4 * 64)
    return gg_tt


def gg_tt_diagrams(w1, w2, w3, w4, GC_10, GC_11, m_t, w_t) -> list:
    """The 3 diagrams of g g > t t~ as (amplitude, colour phase, colour structure)."""
    return [
        (FFV1_0(w4, w3, VVV1P0_1(w1, w2, GC_10, 0, 0), GC_11), F_PHASE, comm),
        (FFV1_0(w4, FFV1_1(w3, w1, GC_11, m_t, w_t), w2, GC_11), 1, lambda a, b: a @ b),
        (FFV1_0(FFV1_2(w4, w1, GC_11, m_t, w_t), w3, w2, GC_11), 1, lambda a, b: b @ a),
    ]


# ---- g g > t t~ g ---------------------------------------------------------------------------
def make_gg_ttg(beams: str = "z", basis: str = "linear"):
    b1, b2 = _beam(beams, 0), _beam(beams, 1)
    vector, pols = _vector(basis)

    def gg_ttg(p1: pg.Vec4, p2: pg.Vec4, p3: pg.Vec4, p4: pg.Vec4, p5: pg.Vec4,
               alpha_s: pg.Param = ALPHA_S, m_t: pg.Param = M_TOP, w_t: pg.Param = 0.0):
        g_s = pg.sqrt(4 * math.pi * alpha_s)
        GC_10, GC_11, GC_12 = -g_s, 1j * g_s, 1j * g_s * g_s
        flows = Flows(three_gluons())

        def squared(h):
            g = [vector(p1, h[0], -1, b1), vector(p2, h[1], -1, b2), vector(p5, h[4], +1)]
            t = oxxxxx(p3, m_t, h[2], +1)
            tb = ixxxxx(p4, m_t, h[3], -1)
            return flows.square(gg_ttg_diagrams(g, t, tb, GC_10, GC_11, GC_12, m_t, w_t))
        return sum_helicities(squared, [pols, pols, HEL, HEL, pols], _label(basis)) / (4 * 64)
    return gg_ttg


def gg_ttg_diagrams(g: list, t, tb, GC_10, GC_11, GC_12, m_t, w_t) -> list:
    """The 16 diagrams of g g > t t~ g as (amplitude, colour phase, colour structure); ``g``
    are the wavefunctions of gluons 1, 2 and 5, the colour structures take their matrices in
    that order, and a quark-line string reads from the top (row) to the antitop (column)."""
    def on_top(v):           # a gluon attached next to the top
        return FFV1_1(t, v, GC_11, m_t, w_t)

    def on_antitop(v):
        return FFV1_2(tb, v, GC_11, m_t, w_t)

    def pick(*ks):
        return lambda *mats: [mats[k] for k in ks]

    diagrams = []
    # three gluons on the quark line, x next to the top, z next to the antitop
    for x, y, z in permutations(range(3)):
        amp = FFV1_0(on_antitop(g[z]), on_top(g[x]), g[y], GC_11)
        diagrams.append((amp, 1, _chain(pick(x, y, z), lambda a, b, c: a @ b @ c)))
    # two gluons fuse (f^{xye} T^e = -i [T^x, T^y]), the third sits on the line
    for x, y, z in ((0, 1, 2), (0, 2, 1), (1, 2, 0)):
        fused = VVV1P0_1(g[x], g[y], GC_10, 0, 0)
        amp = FFV1_0(tb, on_top(g[z]), fused, GC_11)
        diagrams.append((amp, F_PHASE, _chain(pick(z, x, y), lambda c, a, b: c @ comm(a, b))))
        amp = FFV1_0(on_antitop(g[z]), t, fused, GC_11)
        diagrams.append((amp, F_PHASE, _chain(pick(x, y, z), lambda a, b, c: comm(a, b) @ c)))
        # all three fuse: -[[T^x, T^y], T^z]
        amp = FFV1_0(tb, t, VVV1P0_1(fused, g[z], GC_10, 0, 0), GC_11)
        diagrams.append((amp, -1, _chain(pick(x, y, z), lambda a, b, c: comm(comm(a, b), c))))
    # the four-gluon vertex: three colour structures, each with its own Lorentz structure
    a, b, c = g
    for current, structure in (
            (VVVV1P0_1, lambda a, b, c: comm(a, comm(b, c))),
            (VVVV3P0_1, lambda a, b, c: comm(b, comm(a, c))),
            (VVVV4P0_1, lambda a, b, c: comm(c, comm(a, b)))):
        amp = FFV1_0(tb, t, current(a, b, c, GC_12, 0, 0), GC_11)
        diagrams.append((amp, -1, structure))
    return diagrams


def _chain(select, structure):
    return lambda *mats: structure(*select(*mats))


# ---- the compiled processes -----------------------------------------------------------------
BUILDERS = {"ee_mumu": make_ee_mumu, "uu_mumu": make_uu_mumu, "uu_aa": make_uu_aa,
            "uu_aaa": make_uu_aaa, "gg_tt": make_gg_tt, "gg_ttg": make_gg_ttg}


def build(name: str, beams: str = "z", basis: str | None = None):
    """The traced function of process ``name``, to pass to ``pg.compile``; ``basis`` is the
    polarization basis of external photons and gluons ("helicity" or "linear"; None: the
    process's default, whichever needs fewer operations)."""
    return BUILDERS[name](beams) if basis is None else BUILDERS[name](beams, basis)


@lru_cache(maxsize=None)
def compiled(name: str, beams: str = "z", basis: str | None = None, **options) -> pg.Kernel:
    """Process ``name`` compiled with ``options`` (cached)."""
    return pg.compile(build(name, beams, basis), **options)


def __getattr__(name: str):
    if name in BUILDERS:
        return compiled(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
