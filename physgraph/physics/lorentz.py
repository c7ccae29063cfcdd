"""Four-vectors (E, px, py, pz) of traced scalars, metric (+, -, -, -)."""
from __future__ import annotations

from ..frontend import scalar as sc
from ..frontend.argtype import ArgType
from .linalg import Elementwise, _mul, _sum


class Vec4(Elementwise):
    """A four-momentum.  As an annotation, ``pg.Vec4`` is an (N, 4) input: E, px, py, pz."""
    shape = (4,)
    annotation = ArgType("vec4", (4,))

    def __init__(self, E, px, py, pz):
        self.E, self.px, self.py, self.pz = E, px, py, pz

    def elements(self): return [self.E, self.px, self.py, self.pz]
    def _new(self, e): return Vec4(*e)
    def __len__(self): return 4
    def __iter__(self): return iter(self.elements())
    def __getitem__(self, k): return self.elements()[k]
    def __repr__(self): return f"Vec4({self.E!r}, {self.px!r}, {self.py!r}, {self.pz!r})"

    def dot(self, q: "Vec4"):
        """Minkowski product E q.E - p . q."""
        spatial = _sum(_mul(a, b) for a, b in zip(self.elements()[1:], q.elements()[1:]))
        return _mul(self.E, q.E) - spatial

    @property
    def m2(self):
        """Invariant mass squared."""
        return self.dot(self)

    @property
    def mass(self):
        return sc.sqrt(self.m2)

    @property
    def pt2(self):
        return _sum([_mul(self.px, self.px), _mul(self.py, self.py)])

    @property
    def pt(self):
        """Transverse momentum."""
        return sc.sqrt(self.pt2)

    @property
    def p2(self):
        return _sum([self.pt2, _mul(self.pz, self.pz)])

    @property
    def p(self):
        """Magnitude of the three-momentum."""
        return sc.sqrt(self.p2)

    @property
    def eta(self):
        """Pseudorapidity asinh(pz / pt)."""
        return sc.asinh(self.pz / self.pt)

    @property
    def phi(self):
        """Azimuth atan2(py, px) in (-pi, pi]."""
        return sc.atan2(self.py, self.px)

    @property
    def rapidity(self):
        return 0.5 * sc.log((self.E + self.pz) / (self.E - self.pz))


def dot(p: Vec4, q: Vec4):
    return p.dot(q)


def m2(p: Vec4):
    return p.m2


def pt(p: Vec4):
    return p.pt


def eta(p: Vec4):
    return p.eta


def phi(p: Vec4):
    return p.phi
