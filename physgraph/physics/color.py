"""Exact SU(3) colour algebra at trace time: colour matrices and colour-flow decompositions.

A colour structure is written the way it reads on paper, as a function of the gluons' colour
matrices: ``lambda a, b: a @ b`` is (T^a T^b)_ij on a quark line, ``comm(a, b)`` is
[T^a, T^b].  Structures are evaluated on integer matrices instead of the Gell-Mann ones: for
any orthonormal basis B_k of complex 3x3 matrices, sum_k B_k (x) conj(B_k) is the same, and
{sqrt(2) T^a} plus the identity over sqrt(3) is such a basis, as are the unit matrices E_mn.
So for every gluon

    sum_a conj(X(T^a)) Y(T^a) = 1/2 [ sum_mn conj(X(E_mn)) Y(E_mn) - 1/3 conj(X(1)) Y(1) ]

and colour sums become integer arithmetic plus a few Fractions: exact, and fast.  A diagram's
colour is a real structure times a phase (each f^abc = -2i tr([T^a, T^b] T^c) brings a
factor of -i once contracted, see ``f_contract``), which is how ``ColourBasis.decompose``
takes it.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from functools import cached_property
from itertools import product

import numpy as np

from ..frontend import scalar as sc

Structure = Callable[..., np.ndarray]     # k gluon matrices (n, 3, 3) -> (n, 3, 3)
N_C = 3


def comm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[a, b] = a b - b a (batched integer matrices)."""
    return a @ b - b @ a


# f^{abe} T^e = -i [T^a, T^b]: a structure written with comm() carries this phase per f
F_PHASE = -1j


def _gluon_matrices() -> tuple[np.ndarray, list[Fraction]]:
    """The 10 matrices a gluon runs over (9 unit matrices and the identity) with weights."""
    units = np.zeros((N_C * N_C, N_C, N_C), dtype=np.int64)
    for k in range(N_C * N_C):
        units[k, k // N_C, k % N_C] = 1
    mats = np.concatenate([units, np.eye(N_C, dtype=np.int64)[None]])
    weights = [Fraction(1, 2)] * (N_C * N_C) + [Fraction(-1, 2 * N_C)]
    return mats, weights


def _evaluate(structures: Sequence[Structure], gluons: int):
    """Every structure on every combination of gluon matrices: (values, weights)."""
    mats, weights = _gluon_matrices()
    combos = list(product(range(len(mats)), repeat=gluons))
    args = [mats[[c[k] for c in combos]] for k in range(gluons)]
    eye = np.broadcast_to(np.eye(N_C, dtype=np.int64), (len(combos), N_C, N_C))
    values = [np.asarray(s(*args)) if gluons else np.asarray(s()) for s in structures]
    values = [np.broadcast_to(v, eye.shape) if v.shape[-2:] == (N_C, N_C) else v
              for v in values]
    w = [np.prod([weights[k] for k in c], dtype=object) if gluons else Fraction(1)
         for c in combos]
    return values, w


def _inner(x: np.ndarray, y: np.ndarray, w: list) -> Fraction:
    """sum over colours of conj(x) y, both real integer structures evaluated by _evaluate."""
    per_combo = (x * y).reshape(len(w), -1).sum(axis=1)
    # group by weight: few distinct weights, so the Fraction sum stays short
    total: dict = {}
    for v, wt in zip(per_combo.tolist(), w):
        total[wt] = total.get(wt, 0) + v
    return sum((Fraction(wt) * v for wt, v in total.items()), Fraction(0))


class ColourBasis:
    """A basis of colour flows (real structures) and its exact colour matrix.

    ``flows`` are structures of ``gluons`` gluon matrices; ``matrix[x][y]`` is
    sum over colours of conj(flow_x) flow_y, as Fractions.
    """

    def __init__(self, flows: Sequence[Structure], gluons: int):
        self.flows = list(flows)
        self.gluons = gluons
        self._values, self._weights = _evaluate(self.flows, gluons)
        n = len(self.flows)
        self.matrix = [[_inner(self._values[x], self._values[y], self._weights)
                        for y in range(n)] for x in range(n)]

    def decompose(self, structure: Structure, phase: complex = 1) -> list:
        """Coefficients c_x with phase * structure = sum_x c_x flow_x, exactly (or ValueError).

        Coefficients are Fractions when the phase is real, complex numbers (exact small
        integers times 1j) otherwise."""
        (value,), _ = _evaluate([structure], self.gluons)
        rhs = [_inner(v, value, self._weights) for v in self._values]
        coeffs = _solve(self.matrix, rhs)
        # |structure - sum c flow|^2 over SU(3) colours must vanish
        n = len(coeffs)
        norm = _inner(value, value, self._weights) - 2 * sum(c * r for c, r in zip(coeffs, rhs)) \
            + sum(coeffs[x] * self.matrix[x][y] * coeffs[y] for x in range(n) for y in range(n))
        if norm != 0:
            raise ValueError("the colour structure is not a combination of the basis flows")
        return [_times_phase(c, phase) for c in coeffs]

    def square(self, jamps: Sequence) -> object:
        """sum_xy matrix[x][y] Re(conj(J_x) J_y) of traced complex flow amplitudes J.

        Written as sum_k D_k |J_k + sum_(y>k) U_ky J_y|^2 with the exact LDL^T factors of the
        colour matrix: fewer products than MadGraph's z = CF J, Re(conj(J) z), and the form
        is a sum of squares with rational coefficients."""
        total = 0
        for k, (d, row) in enumerate(self._ldl):
            s = jamps[k]
            for y in range(k + 1, len(jamps)):
                if row[y]:
                    s = s + row[y] * jamps[y]
            total = total + d * (sc.re(s) * sc.re(s) + sc.im(s) * sc.im(s))
        return total

    @cached_property
    def _ldl(self) -> list[tuple[Fraction, list[Fraction]]]:
        """(D_k, U_k) with matrix = sum_k D_k U_k U_k^T, U_k[k] = 1 and U_k[y < k] = 0."""
        a = [row[:] for row in self.matrix]
        n = len(a)
        factors = []
        for k in range(n):
            d = a[k][k]
            row = [Fraction(0)] * k + [a[k][y] / d for y in range(k, n)]
            for i in range(k + 1, n):
                for j in range(k + 1, n):
                    a[i][j] -= d * row[i] * row[j]
            factors.append((d, row))
        return factors


def _times_phase(c: Fraction, phase: complex):
    if phase == 1:
        return c
    if phase == -1:
        return -c
    return complex(phase) * float(c)


def _solve(a: list[list[Fraction]], b: list[Fraction]) -> list[Fraction]:
    """Gauss-Jordan elimination in Fractions (the colour matrix is small and invertible)."""
    n = len(b)
    m = [row[:] + [rhs] for row, rhs in zip(a, b)]
    for col in range(n):
        pivot = next(r for r in range(col, n) if m[r][col] != 0)
        m[col], m[pivot] = m[pivot], m[col]
        inv = 1 / m[col][col]
        m[col] = [v * inv for v in m[col]]
        for r in range(n):
            if r != col and m[r][col] != 0:
                f = m[r][col]
                m[r] = [v - f * p for v, p in zip(m[r], m[col])]
    return [m[r][n] for r in range(n)]
