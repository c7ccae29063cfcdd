"""The matrix elements of examples/mem against independent physics: analytic |M|^2 where a
closed form exists, the Ward identity for every external photon and gluon, Lorentz
invariance, and agreement between backends.  Also the compiled RAMBO generator."""
from __future__ import annotations

import math

import numpy as np
import pytest

import physgraph as pg
from physgraph.physics import processes as P
from physgraph.physics.helas import Wavefunction, ixxxxx, oxxxxx, vxxxxx
from physgraph.physics.rambo import rambo_function

RNG = np.random.default_rng(11)
SQRT_S = 1000.0
E2 = 4 * math.pi * P.ALPHA
GS2 = 4 * math.pi * P.ALPHA_S


def mdot(a, b):
    return a[..., 0] * b[..., 0] - (a[..., 1:] * b[..., 1:]).sum(-1)


def beams(n: int, sqrt_s: float = SQRT_S):
    return (np.tile([sqrt_s / 2, 0, 0, sqrt_s / 2], (n, 1)),
            np.tile([sqrt_s / 2, 0, 0, -sqrt_s / 2], (n, 1)))


def final_state(n: int, masses: tuple, sqrt_s: float = SQRT_S) -> list[np.ndarray]:
    k = pg.compile(rambo_function(masses), backend="numpy")
    return list(k(RNG.uniform(size=(n, 4 * len(masses))), sqrt_s=sqrt_s)[:-1])


def events(n: int, masses: tuple) -> list[np.ndarray]:
    return [*beams(n), *final_state(n, masses)]


# ---- RAMBO ----------------------------------------------------------------------------------
@pytest.mark.parametrize("masses", [(0.0, 0.0, 0.0, 0.0), (173.0, 173.0), (173.0, 173.0, 0.0)])
def test_rambo_conserves_momentum_and_puts_particles_on_shell(masses):
    k = pg.compile(rambo_function(masses), backend="numpy")
    *ps, w = k(RNG.uniform(size=(1000, 4 * len(masses))), sqrt_s=SQRT_S)
    np.testing.assert_allclose(sum(ps), np.tile([SQRT_S, 0, 0, 0], (1000, 1)), atol=1e-8)
    for p, m in zip(ps, masses):
        np.testing.assert_allclose(mdot(p, p), m * m, atol=1e-6 * SQRT_S)
    assert np.all(w > 0)


def test_rambo_weights_are_the_phase_space_volume():
    (p, q, w) = pg.compile(rambo_function((173.0, 173.0)), backend="numpy")(
        RNG.uniform(size=(10, 8)), sqrt_s=SQRT_S)
    beta = math.sqrt(1 - 4 * 173.0**2 / SQRT_S**2)
    np.testing.assert_allclose(w, beta / (8 * math.pi), rtol=1e-12)      # two-body
    *_, w = pg.compile(rambo_function((0.0,) * 3), backend="numpy")(
        RNG.uniform(size=(10, 12)), sqrt_s=SQRT_S)
    # three massless particles: s / (2 (4 pi)^3)... = (pi/2)^2 s / 2 (2 pi)^-5
    np.testing.assert_allclose(w, SQRT_S**2 / (256 * math.pi**3), rtol=1e-12)


# ---- analytic |M|^2 -------------------------------------------------------------------------
def two_body(n: int, sqrt_s: float, m: float = 0.0):
    e = sqrt_s / 2
    p = math.sqrt(e * e - m * m)
    c = RNG.uniform(-1, 1, n)
    phi = RNG.uniform(0, 2 * math.pi, n)
    s = np.sqrt(1 - c * c)
    k = np.column_stack([np.full(n, e), p * s * np.cos(phi), p * s * np.sin(phi), p * c])
    return k, k * [1, -1, -1, -1], c


def test_ee_mumu_is_e4_one_plus_cos2():
    p3, p4, c = two_body(20, 91.0)
    me = P.compiled("ee_mumu", backend="numpy")(*beams(20, 91.0), p4, p3)   # mu+ , mu-
    np.testing.assert_allclose(me, E2**2 * (1 + c * c), rtol=1e-10)


def test_uu_aa_matches_qed_pair_annihilation():
    p3, p4, _ = two_body(20, SQRT_S)
    p1, p2 = beams(20)
    t, u = mdot(p1 - p3, p1 - p3), mdot(p1 - p4, p1 - p4)
    # sum over spins 8 e^4 Q^4 (u/t + t/u) N_c; average 1/(4*9); 1/2! for the photons
    expected = 8 * E2**2 * (2 / 3) ** 4 * 3 * (u / t + t / u) / (4 * 9 * 2)
    np.testing.assert_allclose(P.compiled("uu_aa", backend="numpy")(p1, p2, p3, p4), expected,
                               rtol=1e-10)


def test_uu_aaa_matches_berends_formula():
    p1, p2, *ks = events(20, (0.0, 0.0, 0.0))
    a, b = [mdot(p1, k) for k in ks], [mdot(p2, k) for k in ks]
    numerator = sum(x * y * (x * x + y * y) for x, y in zip(a, b))
    denominator = np.prod([x * y for x, y in zip(a, b)], axis=0)
    total = 8 * E2**3 * (2 / 3) ** 6 * 3 * mdot(p1, p2) * numerator / denominator
    np.testing.assert_allclose(P.compiled("uu_aaa", backend="numpy")(p1, p2, *ks),
                               total / (4 * 9 * 6), rtol=1e-10)


@pytest.mark.parametrize("sqrt_s", [400.0, 2000.0])
def test_gg_tt_matches_combridge(sqrt_s):
    m = P.M_TOP
    p1, p2 = beams(20, sqrt_s)
    p3, p4, _ = two_body(20, sqrt_s, m)
    s = sqrt_s**2
    t1 = (m * m - mdot(p1 - p3, p1 - p3)) / s
    t2 = (m * m - mdot(p1 - p4, p1 - p4)) / s
    rho = 4 * m * m / s
    expected = GS2**2 * (1 / (6 * t1 * t2) - 3 / 8) * (t1**2 + t2**2 + rho - rho**2 / (4 * t1 * t2))
    np.testing.assert_allclose(P.compiled("gg_tt", backend="numpy")(p1, p2, p3, p4), expected,
                               rtol=1e-10)


# ---- Ward identities ------------------------------------------------------------------------
def _ward_ratio(n_vectors: int, build, momenta: list, typical: float) -> float:
    """max |J(eps -> k)| / (E * typical amplitude) over the vector bosons and colour flows
    (a fixed scale: single helicity amplitudes may vanish themselves)."""
    worst = 0.0
    for replace in range(n_vectors):
        def traced(*ps, replace=replace):
            return build([pg.Vec4(*p) for p in ps], replace)
        jamps = pg.compile(_with_args(traced, len(momenta)), backend="numpy", opt_level=0)(*momenta)
        worst = max(worst, np.abs(np.array(jamps)).max() / (SQRT_S * typical))
    return worst


def _with_args(traced, n):
    """A function of n named Vec4 arguments (the tracer reads names and annotations)."""
    names = [f"q{j}" for j in range(n)]
    src = f"def f({', '.join(names)}):\n    return traced({', '.join(names)})\n"
    scope = {"traced": traced}
    exec(src, scope)
    scope["f"].__annotations__ = {a: pg.Vec4 for a in names}
    return scope["f"]


HELICITIES = [(1, -1, 1, 1, -1), (-1, -1, -1, 1, 1), (1, 1, -1, -1, 1)]


@pytest.mark.parametrize("h", HELICITIES)
def test_ward_identity_gg_ttg_every_gluon_every_colour_flow(h):
    momenta = events(2, (P.M_TOP, P.M_TOP, 0.0))

    def build(ps, replace):
        p1, p2, p3, p4, p5 = ps
        g = [vxxxxx(p1, 0, h[0], -1, 1), vxxxxx(p2, 0, h[1], -1, -1), vxxxxx(p5, 0, h[4], +1)]
        if replace is not None:                    # eps -> its boson's (outgoing) momentum
            g[replace] = Wavefunction(tuple(g[replace].p), g[replace].p)
        t, tb = oxxxxx(p3, P.M_TOP, h[2], +1), ixxxxx(p4, P.M_TOP, h[3], -1)
        gs = math.sqrt(GS2)
        return tuple(P.Flows(P.three_gluons()).jamps(
            P.gg_ttg_diagrams(g, t, tb, -gs, 1j * gs, 1j * gs * gs, P.M_TOP, 0.0)))
    assert _ward_ratio(3, build, momenta, GS2**1.5 / SQRT_S) < 1e-12


@pytest.mark.parametrize("h", HELICITIES)
def test_ward_identity_gg_tt(h):
    momenta = events(2, (P.M_TOP, P.M_TOP))

    def build(ps, replace):
        p1, p2, p3, p4 = ps
        g = [vxxxxx(p1, 0, h[0], -1, 1), vxxxxx(p2, 0, h[1], -1, -1)]
        if replace is not None:                    # eps -> its boson's (outgoing) momentum
            g[replace] = Wavefunction(tuple(g[replace].p), g[replace].p)
        t, tb = oxxxxx(p3, P.M_TOP, h[2], +1), ixxxxx(p4, P.M_TOP, h[3], -1)
        gs = math.sqrt(GS2)
        return tuple(P.Flows(P.two_gluons()).jamps(
            P.gg_tt_diagrams(*g, t, tb, -gs, 1j * gs, P.M_TOP, 0.0)))
    assert _ward_ratio(2, build, momenta, GS2) < 1e-12


@pytest.mark.parametrize("n_photons", [2, 3])
def test_ward_identity_photons(n_photons):
    h = (1, -1, 1, -1, 1)
    momenta = events(2, (0.0,) * n_photons)

    def build(ps, replace):
        w1, w2 = ixxxxx(ps[0], 0, h[0], +1, 1), oxxxxx(ps[1], 0, h[1], -1, -1)
        photons = [vxxxxx(p, 0, hk, +1) for p, hk in zip(ps[2:], h[2:])]
        if replace is not None:
            photons[replace] = Wavefunction(tuple(photons[replace].p), photons[replace].p)
        diagrams = P.quark_photons_diagrams(w1, w2, photons, 1j)
        return (sum(d[0] for d in diagrams),)
    assert _ward_ratio(n_photons, build, momenta, SQRT_S ** (2 - n_photons)) < 1e-12


# ---- Lorentz invariance and the beam-axis wavefunctions -------------------------------------
def _boost(ps: list[np.ndarray], beta: np.ndarray) -> list[np.ndarray]:
    b2 = beta @ beta
    g = 1 / math.sqrt(1 - b2)
    out = []
    for p in ps:
        bp = p[:, 1:] @ beta
        k = (g - 1) * bp / b2 + g * p[:, 0]
        out.append(np.column_stack([g * (p[:, 0] + bp), p[:, 1:] + k[:, None] * beta]))
    return out


MASSES = {"ee_mumu": (0.0, 0.0), "uu_mumu": (0.0, 0.0), "uu_aa": (0.0, 0.0), "uu_aaa": (0.0,) * 3,
          "gg_tt": (P.M_TOP,) * 2, "gg_ttg": (P.M_TOP, P.M_TOP, 0.0)}


@pytest.mark.parametrize("name", list(MASSES))
def test_lorentz_invariance_and_beam_axis_form(name):
    ps = events(4, MASSES[name])
    general = pg.compile(P.build(name, beams="any"), backend="numpy", opt_level=0)
    at_rest = general(*ps)
    on_axis = pg.compile(P.build(name), backend="numpy", opt_level=0)(*ps)
    np.testing.assert_allclose(on_axis, at_rest, rtol=1e-10)
    boosted = _boost(ps, np.array([0.3, -0.5, 0.6]))
    np.testing.assert_allclose(general(*boosted), at_rest, rtol=1e-9)
    # Bose symmetry: exchanging identical bosons (both gluons in, photons out) changes nothing
    for i, j in SWAPS.get(name, ()):
        swapped = list(ps)
        swapped[i], swapped[j] = ps[j], ps[i]
        np.testing.assert_allclose(general(*swapped), at_rest, rtol=1e-10)


SWAPS = {"gg_tt": [(0, 1)], "gg_ttg": [(0, 1)], "uu_aa": [(2, 3)], "uu_aaa": [(2, 3), (3, 4)]}


# ---- backends -------------------------------------------------------------------------------
def _numba_agrees(name: str, dtypes: tuple) -> None:
    ps = events(50, MASSES[name])
    ref = P.compiled(name, backend="numpy")(*ps)
    for dtype in dtypes:
        got = P.compiled(name, backend="numba", dtype=dtype)(*ps)
        np.testing.assert_allclose(got, ref, rtol=1e-10 if dtype == "float64" else 1e-3)


def test_numba_agrees_with_numpy():
    _numba_agrees("ee_mumu", ("float64", "float32"))


@pytest.mark.slow            # numba takes 10-60 s to compile each of these
@pytest.mark.parametrize("name", ["uu_aa", "gg_tt", "uu_aaa", "gg_ttg"])
def test_numba_agrees_with_numpy_large(name):
    _numba_agrees(name, ("float64", "float32"))


def test_uu_mumu_resonance_matches_the_vector_exchange_formula():
    p1, p2 = beams(20, 480.0)
    p3, p4, c = two_body(20, 480.0)
    m, w, g = 500.0, 15.0, 0.3
    s = 480.0**2
    chi = E2 * (2 / 3) * (-1) / s + g * g / (s - m * m + 1j * m * w)
    # (1/4) sum |M|^2 = s^2 |chi|^2 (1 + cos^2) per colour; 1/3 from the colour average
    expected = s * s * abs(chi) ** 2 * (1 + c * c) / 3
    got = P.compiled("uu_mumu", backend="numpy")(p1, p2, p4, p3, m_zp=m, w_zp=w, g_zp=g)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


@pytest.mark.parametrize("name", ["uu_aa", "uu_aaa", "gg_tt", "gg_ttg"])
def test_linear_and_helicity_polarization_bases_agree(name):
    ps = events(3, MASSES[name])
    by_helicity = pg.compile(P.build(name, basis="helicity"), backend="numpy", opt_level=0)(*ps)
    linear = pg.compile(P.build(name, basis="linear"), backend="numpy", opt_level=0)(*ps)
    np.testing.assert_allclose(linear, by_helicity, rtol=1e-12)


@pytest.mark.parametrize("name", ["ee_mumu", "uu_aa"])
def test_jax_agrees_with_numpy(name):
    jax = pytest.importorskip("jax")
    ps = events(20, MASSES[name])
    with jax.enable_x64(True):
        got = np.asarray(P.compiled(name, backend="jax")(*ps))
    np.testing.assert_allclose(got, P.compiled(name, backend="numpy")(*ps), rtol=1e-10)
