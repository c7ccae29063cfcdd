"""Tree-level matrix elements and one helicity amplitude, traced (complex intermediates).

The SymPy-based tools get them through ``k.to_sympy()`` of the unoptimized graph with the
complex values lowered to real pairs; the couplings are fixed at the processes' defaults so
that no tool has per-call work to hoist.
"""
import physgraph as pg
from physgraph.bench.corpus import Case, Entry
from physgraph.physics import processes
from physgraph.physics.helas import FFV1_0, FFV1P0_3, ixxxxx, oxxxxx

MG5 = "J. Alwall et al., JHEP 07 (2014) 079 (MadGraph5_aMC@NLO standalone output), " \
    "ported by hand in physgraph.physics.processes"
HELAS = "H. Murayama, I. Watanabe, K. Hagiwara, KEK-91-11 (1992) (HELAS)"


def _process(name: str) -> Case:
    fn = processes.build(name)

    def me(p1: pg.Vec4, p2: pg.Vec4, p3: pg.Vec4, p4: pg.Vec4):
        return fn(p1, p2, p3, p4)
    return Case(function=me)


def _amplitude() -> Case:
    """|M|^2 of e+ e- -> mu+ mu- for one helicity combination, any beam direction."""
    def amp2(p1: pg.Vec4, p2: pg.Vec4, p3: pg.Vec4, p4: pg.Vec4):
        coupling = -1j * 0.30795376724436879        # i e Q, Q = -1, alpha = 1/132.507
        w5 = FFV1P0_3(ixxxxx(p2, 0, -1, 1), oxxxxx(p1, 0, 1, -1), coupling, 0, 0)
        amp = FFV1_0(ixxxxx(p3, 0, 1, -1), oxxxxx(p4, 0, -1, 1), w5, coupling)
        return pg.re(amp) * pg.re(amp) + pg.im(amp) * pg.im(amp)
    return Case(function=amp2)


ENTRIES = [
    Entry("me-ee-mumu", MG5 + "; e+ e- -> mu+ mu-", lambda: _process("ee_mumu")),
    Entry("me-uu-mumu", MG5 + "; u u~ -> mu+ mu- (photon and Z')", lambda: _process("uu_mumu")),
    Entry("me-uu-aa", MG5 + "; u u~ -> a a", lambda: _process("uu_aa")),
    Entry("me-gg-tt", MG5 + "; g g -> t t~", lambda: _process("gg_tt")),
    Entry("helicity-amplitude-ee-mumu", HELAS + "; one helicity of e+ e- -> mu+ mu-",
          _amplitude),
]
