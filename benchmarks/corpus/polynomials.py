"""Polynomials (Horner and expanded) and rational functions."""
import sympy as sp

from physgraph.bench.corpus import Case, Entry

AS = "M. Abramowitz, I. A. Stegun, Handbook of Mathematical Functions (1964)"


def _horner(n: int) -> Case:
    x, a = sp.Symbol("x"), sp.symbols(f"a0:{n + 1}")
    p = a[n]
    for k in range(n - 1, -1, -1):
        p = a[k] + x * p
    return Case([p], [x, *a])


def _expanded(n: int) -> Case:
    x, a = sp.Symbol("x"), sp.symbols(f"a0:{n + 1}")
    return Case([sum(a[k] * x**k for k in range(n + 1))], [x, *a])


def _chebyshev() -> Case:
    x = sp.Symbol("x")
    return Case([sp.expand(sp.chebyshevt(8, x))], [x])


def _legendre() -> Case:
    x = sp.Symbol("x")
    return Case([sp.expand(sp.legendre(10, x))], [x])


def _repeated_powers() -> Case:
    x, y, a, b, c = sp.symbols("x y a b c")
    q = a * x**2 + b * x * y + c * y**2 + x - y + 1
    return Case([sum(q**k for k in range(1, 9)), (q**2 + 1)**3 * q - q**5], [x, y, a, b, c])


def _nasa7() -> Case:
    """cp/R, h/RT and s/R of one species from the seven NASA coefficients."""
    T, a = sp.Symbol("T"), sp.symbols("a1:8")
    cp = a[0] + a[1] * T + a[2] * T**2 + a[3] * T**3 + a[4] * T**4
    h = a[0] + a[1] * T / 2 + a[2] * T**2 / 3 + a[3] * T**3 / 4 + a[4] * T**4 / 5 + a[5] / T
    s = (a[0] * sp.log(T) + a[1] * T + a[2] * T**2 / 2 + a[3] * T**3 / 3 + a[4] * T**4 / 4
         + a[6])
    return Case([cp, h, s], [T, *a])


def _brown_conrady() -> Case:
    """Radial and tangential lens distortion of a normalized image point."""
    x, y, k1, k2, k3, p1, p2 = sp.symbols("x y k1 k2 k3 p1 p2")
    r2 = x**2 + y**2
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    return Case([x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x**2),
                 y * radial + p1 * (r2 + 2 * y**2) + 2 * p2 * x * y], [x, y, k1, k2, k3, p1, p2])


def _pade_exp() -> Case:
    x = sp.Symbol("x")
    return Case([(120 + 60 * x + 12 * x**2 + x**3) / (120 - 60 * x + 12 * x**2 - x**3)], [x])


def _sellmeier() -> Case:
    """Refractive index n(lambda) from three Sellmeier terms."""
    lam, B, C = sp.Symbol("lambda"), sp.symbols("B1:4"), sp.symbols("C1:4")
    n2 = 1 + sum(b * lam**2 / (lam**2 - c) for b, c in zip(B, C))
    return Case([sp.sqrt(n2)], [lam, *B, *C])


def _rational_fit() -> Case:
    """A [2/2] rational function in two variables with symbolic coefficients."""
    x, y = sp.symbols("x y")
    p, q = sp.symbols("p0:6"), sp.symbols("q0:5")
    num = p[0] + p[1] * x + p[2] * y + p[3] * x**2 + p[4] * x * y + p[5] * y**2
    den = 1 + q[0] * x + q[1] * y + q[2] * x**2 + q[3] * x * y + q[4] * y**2
    return Case([num / den], [x, y, *p, *q])


ENTRIES = [
    Entry("horner-8", "W. G. Horner, Phil. Trans. R. Soc. 109 (1819) 308; degree 8",
          lambda: _horner(8)),
    Entry("expanded-8", AS + ", sec. 3.6 (power series); degree 8, expanded",
          lambda: _expanded(8)),
    Entry("chebyshev-t8", AS + ", ch. 22 (Chebyshev T_8, explicit coefficients)", _chebyshev),
    Entry("legendre-p10", AS + ", ch. 22 (Legendre P_10, explicit coefficients)", _legendre),
    Entry("repeated-powers", "issue 3's repeated-powers case (a quadratic form raised to "
          "powers 1-8)", _repeated_powers),
    Entry("nasa7-thermo", "B. J. McBride, S. Gordon, M. A. Reno, NASA TM-4513 (1993), "
          "seven-coefficient polynomials", _nasa7),
    Entry("brown-conrady-distortion", "D. C. Brown, Photogramm. Eng. 32 (1966) 444",
          _brown_conrady),
    Entry("pade-exp-3-3", "G. A. Baker, P. Graves-Morris, Pade Approximants (1996), "
          "the [3/3] approximant of exp", _pade_exp),
    Entry("sellmeier-3", "W. Sellmeier, Ann. Phys. 219 (1871) 272; three-term dispersion",
          _sellmeier),
    Entry("rational-2-2", "a [2/2] rational fit in two variables (Chisholm approximants: "
          "J. S. R. Chisholm, Math. Comp. 27 (1973) 841)", _rational_fit),
]
