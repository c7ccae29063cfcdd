"""Line shapes and energy loss: Bethe-Bloch, Breit-Wigner, (pseudo-)Voigt, turn-on curves."""
import sympy as sp

from physgraph.bench.corpus import Case, Entry

PDG_PASSAGE = "PDG, Review of Particle Physics (2024), ch. 34 Passage of particles through matter"
PDG_RES = "PDG, Review of Particle Physics (2024), ch. 50 Resonances"
ME = sp.Float(0.51099895)         # electron mass, MeV
K = sp.Float(0.307075)            # 4 pi N_A r_e^2 m_e c^2, MeV mol^-1 cm^2


def _bethe() -> Case:
    """Mean energy loss -dE/dx of a charge-z particle of mass M and momentum p (no density
    effect correction), with the maximum energy transfer W_max in one collision."""
    p, M, z, ZA, I = sp.symbols("p M z ZA I")
    bg2 = (p / M)**2
    g2 = 1 + bg2
    b2 = bg2 / g2
    wmax = 2 * ME * bg2 / (1 + 2 * sp.sqrt(g2) * ME / M + (ME / M)**2)
    dedx = K * z**2 * ZA / b2 * (sp.log(2 * ME * bg2 * wmax / I**2) / 2 - b2)
    return Case([dedx], [p, M, z, ZA, I])


def _bw_relativistic() -> Case:
    """Relativistic Breit-Wigner in s with its normalization."""
    s, M, G = sp.symbols("s M Gamma")
    g = sp.sqrt(M**2 * (M**2 + G**2))
    k = 2 * sp.sqrt(2) * M * G * g / (sp.pi * sp.sqrt(M**2 + g))
    return Case([k / ((s - M**2)**2 + M**2 * G**2)], [s, M, G])


def _bw_nonrelativistic() -> Case:
    E, M, G = sp.symbols("E M Gamma")
    return Case([G / (2 * sp.pi) / ((E - M)**2 + G**2 / 4)], [E, M, G])


def _breakup(m, m1, m2):
    return sp.sqrt((m**2 - (m1 + m2)**2) * (m**2 - (m1 - m2)**2)) / (2 * m)


def _bw_running_width() -> Case:
    """P-wave resonance with a mass-dependent width and Blatt-Weisskopf barrier factor,
    |amplitude|^2 of m0 Gamma(m) / (m0^2 - m^2 - i m0 Gamma(m))."""
    m, m0, G0, m1, m2, R = sp.symbols("m m0 Gamma0 m1 m2 R")
    q, q0 = _breakup(m, m1, m2), _breakup(m0, m1, m2)
    G = G0 * (q / q0)**3 * (m0 / m) * (1 + (q0 * R)**2) / (1 + (q * R)**2)
    return Case([(m0 * G)**2 / ((m0**2 - m**2)**2 + (m0 * G)**2)], [m, m0, G0, m1, m2, R])


def _pseudo_voigt() -> Case:
    """Voigt profile approximated by a weighted Gaussian + Lorentzian of a common width."""
    x, fG, fL = sp.symbols("x f_G f_L")
    f = (fG**5 + sp.Float(2.69269) * fG**4 * fL + sp.Float(2.42843) * fG**3 * fL**2
         + sp.Float(4.47163) * fG**2 * fL**3 + sp.Float(0.07842) * fG * fL**4
         + fL**5) ** sp.Rational(1, 5)
    r = fL / f
    eta = sp.Float(1.36603) * r - sp.Float(0.47719) * r**2 + sp.Float(0.11116) * r**3
    lorentz = f / (2 * sp.pi) / (x**2 + (f / 2)**2)
    gauss = sp.sqrt(4 * sp.log(2) / sp.pi) / f * sp.exp(-4 * sp.log(2) * x**2 / f**2)
    return Case([eta * lorentz + (1 - eta) * gauss], [x, fG, fL])


def _gauss_plus_bw() -> Case:
    """Signal (Gaussian) plus exponential background, the usual mass-peak fit model."""
    m, mu, sigma, ns, nb, lam = sp.symbols("m mu sigma n_s n_b lambda")
    gauss = sp.exp(-(m - mu)**2 / (2 * sigma**2)) / (sp.sqrt(2 * sp.pi) * sigma)
    return Case([ns * gauss + nb * lam * sp.exp(-lam * m)], [m, mu, sigma, ns, nb, lam])


def _turn_on() -> Case:
    """Trigger efficiency turn-on: a plateau times a Gaussian CDF."""
    x, eps, x0, sigma = sp.symbols("x epsilon x0 sigma")
    return Case([eps / 2 * (1 + sp.erf((x - x0) / (sp.sqrt(2) * sigma)))], [x, eps, x0, sigma])


ENTRIES = [
    Entry("bethe-bloch", PDG_PASSAGE + ", the Bethe equation and W_max", _bethe),
    Entry("breit-wigner-relativistic", PDG_RES + " (relativistic Breit-Wigner form)",
          _bw_relativistic),
    Entry("breit-wigner", PDG_RES + " (non-relativistic Breit-Wigner)", _bw_nonrelativistic),
    Entry("breit-wigner-running-width", "J. M. Blatt, V. F. Weisskopf, Theoretical Nuclear "
          "Physics (1952) (barrier factors); " + PDG_RES, _bw_running_width),
    Entry("pseudo-voigt", "P. Thompson, D. E. Cox, J. B. Hastings, J. Appl. Cryst. 20 (1987) "
          "79 (no complex erf in physgraph for the Faddeeva function)", _pseudo_voigt),
    Entry("gauss-plus-exponential", "PDG, Review of Particle Physics (2024), ch. 40 "
          "Statistics (extended maximum likelihood)", _gauss_plus_bw),
    Entry("trigger-turn-on", "the error-function efficiency parameterization, e.g. "
          "CMS, JINST 12 (2017) P01020", _turn_on),
]
